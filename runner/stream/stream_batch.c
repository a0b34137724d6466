/*
 * stream_batch.c — per-shard pipelines and the group commit.
 *
 * Each shard connection runs in libpq pipeline mode: a change (or a run of
 * same-kind changes, stream_run.c) is one Bind/Execute of a statement
 * prepared once per table (stream_sql.c builds it), its values sent as
 * parameters, and the reader goes on without waiting for the result.  A Sync every SYNC_EVERY statements makes the shard send
 * its results back; they are read as they come (without blocking) and, when
 * INFLIGHT_MAX statements are unanswered, by waiting for that shard.  So the
 * shards apply in parallel with each other and with the decoding, and the
 * memory in flight is bounded by statement counts, never by a transaction's
 * size.
 *
 * Every statement in flight has a sent_stmt in a ring, in the order sent:
 * the results come back in that order, so a failed result is matched to the
 * change that caused it and reported with its shard, table and key (a
 * refused run is replayed row by row first: stream_run.c).  After a
 * failure the shard's pipeline is aborted up to the next Sync and its
 * transaction is dead: the error is reported once and the stream stops.
 *
 * Group commit: every shard with work gets its pgreshard.apply_progress row
 * and COMMIT in its pipeline, and the commit is one "round".  Rounds are
 * acknowledged as the COMMIT results arrive (synchronous commits: see
 * connect_shards in stream_reader.c); once every shard of a round
 * (and of every round before it) has committed, everything up to the
 * round's end LSN is durable on every shard and the slot may be confirmed
 * there (r->durable, DESIGN.md invariant 3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "stream.h"
#include "xalloc.h"

#define SYNC_EVERY 1024			/* statements between Syncs */
#define INFLIGHT_MAX 4096		/* ring size: statements whose results are unread */
#define ROUNDS_MAX 64			/* group commits not yet acknowledged */

static bool read_results(stream_reader *r, int s, int keep, bool block);

bool
shard_pipeline_open(stream_reader *r, int s)
{
	shard_conn *sc = &r->shards[s];
	size_t		nprep = (size_t) r->ctx->plan->ntables * STMT_KINDS;

	if (sc->sent == NULL)
		sc->sent = xcalloc(INFLIGHT_MAX, sizeof(sent_stmt));
	if (sc->prepared == NULL)
		sc->prepared = xcalloc(nprep + 1, sizeof(bool));
	memset(sc->prepared, 0, nprep * sizeof(bool));
	if (sc->run_prepared == NULL)
		sc->run_prepared = xcalloc(nprep + 1, sizeof(uint64_t));
	memset(sc->run_prepared, 0, nprep * sizeof(uint64_t));
	sc->sent_head = sc->sent_len = sc->unsynced = 0;
	sc->in_txn = sc->failed = sc->lost = sc->conflict = false;
	sc->pending = 0;
	run_reset(&sc->run);
	if (r->rounds == NULL)
		r->rounds = xcalloc(ROUNDS_MAX, sizeof(commit_round));
	if (!PQenterPipelineMode(sc->conn->pg))
	{
		pgr_report_conn(sc->conn, "entering pipeline mode");
		return false;
	}
	return true;
}

/* ---- the ring of statements in flight -------------------------------- */

static sent_stmt *
ring_push(shard_conn *sc, char op, int table)
{
	sent_stmt  *st = &sc->sent[(sc->sent_head + sc->sent_len++) % INFLIGHT_MAX];

	st->op = op;
	st->table = table;
	st->rows = 1;
	st->key[0] = '\0';
	return st;
}

static void
ring_pop(shard_conn *sc)
{
	sc->sent_head = (sc->sent_head + 1) % INFLIGHT_MAX;
	sc->sent_len--;
}

/* Ask the shard for the results so far (a Sync also flushes our output). */
static bool
send_sync(stream_reader *r, int s)
{
	shard_conn *sc = &r->shards[s];

	if (!PQpipelineSync(sc->conn->pg))
	{
		pgr_report_conn(sc->conn, "sending changes");
		sc->failed = true;
		return false;
	}
	ring_push(sc, 'S', -1);
	sc->unsynced = 0;
	return true;
}

/* Room for n statements and a Sync: wait for the oldest results if needed. */
static bool
make_room(stream_reader *r, int s, int n)
{
	shard_conn *sc = &r->shards[s];

	if (sc->failed)
		return false;
	return sc->sent_len + n + 1 < INFLIGHT_MAX || read_results(r, s, INFLIGHT_MAX / 2, true);
}

/* ---- results ---------------------------------------------------------- */

/* "INSERT into public.items, key (5)" and the like, for messages. */
static void
describe(const stream_reader *r, const sent_stmt *st, char *out, size_t len)
{
	const char *table = st->table >= 0 ? r->tables[st->table].display : "";

	switch (st->op)
	{
		case 'I':
			snprintf(out, len, "applying changes from %s: INSERT into %s, key %s%s", r->role, table,
					 st->rows > 1 ? "one of " : "", st->key);
			break;
		case 'U':
			snprintf(out, len, "applying changes from %s: UPDATE of %s, key %s%s", r->role, table,
					 st->rows > 1 ? "one of " : "", st->key);
			break;
		case 'D':
			snprintf(out, len, "applying changes from %s: DELETE from %s, key %s%s", r->role, table,
					 st->rows > 1 ? "one of " : "", st->key);
			break;
		case 'T':
			snprintf(out, len, "applying changes from %s: TRUNCATE", r->role);
			break;
		case 'P':
			snprintf(out, len, "applying changes from %s: preparing the statements for %s", r->role, table);
			break;
		case 'C':
			snprintf(out, len, "applying changes from %s: committing up to source LSN %X/%X", r->role,
					 (unsigned int) (st->lsn >> 32), (unsigned int) st->lsn);
			break;
		default:
			snprintf(out, len, "applying changes from %s", r->role);
			break;
	}
}

/* Every round up to the oldest one still waiting is durable on every shard. */
static void
rounds_advance(stream_reader *r)
{
	while (r->rounds_len > 0 && r->rounds[r->rounds_head].waiting == 0)
	{
		if (r->rounds[r->rounds_head].end_lsn > r->durable)
			r->durable = r->rounds[r->rounds_head].end_lsn;
		r->rounds_head = (r->rounds_head + 1) % ROUNDS_MAX;
		r->rounds_len--;
	}
}

static void
commit_done(stream_reader *r, int s, const sent_stmt *st)
{
	uint32_t	i = st->round - r->rounds[r->rounds_head].id;

	r->shards[s].progress = st->lsn;
	if (r->rounds_len > 0 && i < (uint32_t) r->rounds_len)
		r->rounds[(r->rounds_head + (int) i) % ROUNDS_MAX].waiting--;
	rounds_advance(r);
}

/*
 * The failure ended the session (the shard shut down or restarted, the
 * connection broke): worth reconnecting.  libpq may not have seen the
 * connection close yet when the server's last message is read, hence the
 * SQLSTATE classes 08 (connection exception) and 57P (operator intervention).
 */
static bool
session_ended(pgr_conn *c, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return PQstatus(c->pg) != CONNECTION_OK || state == NULL ||
		strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0;
}

/*
 * The failure is a conflict with another session that a retry resolves: a
 * deadlock (40P01) or a serialization failure (40001).  Several readers
 * apply into one server — the reverse streams of every shard into a source,
 * or the forward streams of N sources into a shard — and a row the
 * application moved between them (deleted on one, inserted on the other)
 * is touched by two of them at once.  The group is rolled back whole and
 * replayed from the slot (the progress rows make that exactly once).
 */
static bool
conflict_lost(const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return state != NULL && (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0);
}

/* Report a statement's failure on shard s: a conflict as a warning (it is
 * retried), anything else as the error that stops the stream. */
static void
report_failure(stream_reader *r, int s, const char *what, const PGresult *res)
{
	shard_conn *sc = &r->shards[s];

	sc->conflict = conflict_lost(res);
	if (sc->conflict)
		log_warn("%s: %s: %s (SQLSTATE %s): another stream applying into the same server touched the "
				 "same rows; retrying from the last committed group", sc->conn->role, what,
				 PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY), PQresultErrorField(res, PG_DIAG_SQLSTATE));
	else
		pgr_report_result(sc->conn, what, res);
	sc->lost = sc->conflict || session_ended(sc->conn, res);
}

/* One result of the oldest statement in flight; false after reporting a failure. */
static bool
check_result(stream_reader *r, int s, const sent_stmt *st, const PGresult *res)
{
	shard_conn *sc = &r->shards[s];
	ExecStatusType rs = PQresultStatus(res);
	char		what[512];

	if (rs == PGRES_COMMAND_OK || rs == PGRES_TUPLES_OK)
	{
		if (st->op == 'C')
			commit_done(r, s, st);
		return true;
	}
	if (!sc->failed && st->rows > 1 && r->deadline == 0 && !session_ended(sc->conn, res) &&
		!conflict_lost(res))
	{
		/* a run refused: the rerun sends it row by row and names the row */
		log_info("%s: shard %d refused a statement of %d rows; replaying them one by one to find "
				 "the row", r->role, s, st->rows);
		r->replay = true;
	}
	else if (!sc->failed)		/* the first failure only: what follows was aborted */
	{
		describe(r, st, what, sizeof(what));
		report_failure(r, s, what, res);
	}
	sc->failed = true;
	return false;
}

/*
 * Read results until at most `keep` statements are in flight on shard s.
 * block: wait for them (a Sync is sent first, so the shard answers);
 * otherwise read only what has arrived.
 */
static bool
read_results(stream_reader *r, int s, int keep, bool block)
{
	shard_conn *sc = &r->shards[s];
	PGconn	   *pg = sc->conn->pg;

	if (sc->failed)
		return false;
	if (block && sc->unsynced > 0 && !send_sync(r, s))
		return false;
	if (!block && !PQconsumeInput(pg))
	{
		pgr_report_conn(sc->conn, "reading results of changes");
		sc->failed = true;
		return false;
	}
	while (sc->sent_len > keep)
	{
		sent_stmt  *st = &sc->sent[sc->sent_head];
		PGresult   *res;
		bool		ok = true;

		if (!block && PQisBusy(pg))
			return true;
		res = PQgetResult(pg);
		if (st->op == 'S')
		{
			/* anything but the Sync here: the connection broke */
			ok = res != NULL && PQresultStatus(res) == PGRES_PIPELINE_SYNC;
			if (!ok)
			{
				pgr_report_result(sc->conn, "reading results of changes", res);
				sc->failed = true;
			}
			PQclear(res);
			if (!ok)
				return false;
			ring_pop(sc);
			continue;
		}
		if (res == NULL)		/* the end of this statement's results */
		{
			ring_pop(sc);
			continue;
		}
		ok = check_result(r, s, st, res);
		PQclear(res);
		if (!ok)
			return false;
	}
	return true;
}

/* ---- sending ---------------------------------------------------------- */

bool
shard_begin(stream_reader *r, int s)
{
	shard_conn *sc = &r->shards[s];

	if (!sc->in_txn)
	{
		if (!make_room(r, s, 2))
			return false;
		if (!PQsendQueryParams(sc->conn->pg, "BEGIN", 0, NULL, NULL, NULL, NULL, 0))
		{
			pgr_report_conn(sc->conn, "sending changes");
			sc->failed = true;
			return false;
		}
		ring_push(sc, 'B', -1);
		sc->unsynced++;
		sc->in_txn = true;
	}
	sc->txn_lsn = r->txn_commit_lsn;
	sc->txn_ts = r->txn_commit_ts;
	return true;
}

/* A statement was sent: every SYNC_EVERY, ask for results and read what came. */
static bool
sent_one(stream_reader *r, int s)
{
	shard_conn *sc = &r->shards[s];

	sc->pending++;
	if (++sc->unsynced < SYNC_EVERY)
		return true;
	return send_sync(r, s) && read_results(r, s, 0, false);
}

/*
 * Send one change to shard s, in its open transaction, with r->params as
 * its values: kind >= 0 runs table t's prepared statement of that kind
 * (prepared on this connection the first time), kind < 0 runs sql.  A run
 * of changes not sent yet goes first.
 */
bool
shard_send_change(stream_reader *r, int s, char op, const stream_table *t, int kind,
				  const char *sql, const char *key)
{
	return run_flush(r, s) && shard_send_stmt(r, s, op, t, kind, sql, key, 1, &r->params);
}

/* Prepare statement `name` (for table t) on shard s, in its pipeline. */
bool
shard_prepare(stream_reader *r, int s, const stream_table *t, const char *name, const char *sql)
{
	shard_conn *sc = &r->shards[s];

	if (!make_room(r, s, 2))
		return false;
	if (!PQsendPrepare(sc->conn->pg, name, sql, 0, NULL))
	{
		pgr_report_conn(sc->conn, "sending changes");
		sc->failed = true;
		return false;
	}
	ring_push(sc, 'P', t->index);
	sc->unsynced++;
	return true;
}

/*
 * The same for `rows` changes in one statement with values p, no run
 * flushed; kind STMT_NAMED: sql is the name of a statement prepared with
 * shard_prepare.
 */
bool
shard_send_stmt(stream_reader *r, int s, char op, const stream_table *t, int kind,
				const char *sql, const char *key, int rows, stmt_params *p)
{
	shard_conn *sc = &r->shards[s];
	const char *const *values = params_values(p);
	const char *name = kind == STMT_NAMED ? sql : NULL;
	sent_stmt  *st;
	int			ok;

	if (!shard_begin(r, s) || !make_room(r, s, 2))
		return false;
	if (kind >= 0)
	{
		name = t->stmt_name[kind];
		if (!sc->prepared[t->index * STMT_KINDS + kind] && !shard_prepare(r, s, t, name, t->sql[kind]))
			return false;
		sc->prepared[t->index * STMT_KINDS + kind] = true;
	}
	if (name)
		ok = PQsendQueryPrepared(sc->conn->pg, name, p->n, values, NULL, NULL, 0);
	else
		ok = PQsendQueryParams(sc->conn->pg, sql, p->n, NULL, values, NULL, NULL, 0);
	if (!ok)
	{
		pgr_report_conn(sc->conn, "sending changes");
		sc->failed = true;
		return false;
	}
	st = ring_push(sc, op, t ? t->index : -1);
	st->rows = rows;
	sc->pending += rows - 1;
	strncpy(st->key, key, sizeof(st->key) - 1);
	st->key[sizeof(st->key) - 1] = '\0';
	return sent_one(r, s);
}

/* A statement without values (TRUNCATE) in the open transaction. */
bool
shard_send_sql(stream_reader *r, int s, char op, const char *sql)
{
	params_reset(&r->params);
	return shard_send_change(r, s, op, NULL, -1, sql, "");
}

/*
 * Run sql (values: r->params) on shard s now, in its open transaction, after
 * everything sent before it; NULL after an error (reported, as `what`).
 */
PGresult *
shard_query_now(stream_reader *r, int s, const char *sql, const char *what)
{
	shard_conn *sc = &r->shards[s];
	const char *const *values;
	PGresult   *res, *extra;
	ExecStatusType rs;

	if (!run_flush(r, s) || !shard_begin(r, s) || !read_results(r, s, 0, true))
		return NULL;
	values = params_values(&r->params);
	if (!PQsendQueryParams(sc->conn->pg, sql, r->params.n, NULL, values, NULL, NULL, 0) ||
		!PQpipelineSync(sc->conn->pg))
	{
		pgr_report_conn(sc->conn, what);
		sc->failed = true;
		return NULL;
	}
	res = PQgetResult(sc->conn->pg);
	rs = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	while ((extra = PQgetResult(sc->conn->pg)) != NULL)	/* the statement's end */
		PQclear(extra);
	extra = PQgetResult(sc->conn->pg);	/* the Sync */
	if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK)
	{
		report_failure(r, s, what, res);
		PQclear(res);
		res = NULL;
		sc->failed = true;
	}
	else if (extra == NULL || PQresultStatus(extra) != PGRES_PIPELINE_SYNC)
	{
		pgr_report_conn(sc->conn, what);
		PQclear(res);
		res = NULL;
		sc->failed = true;
	}
	PQclear(extra);
	return res;
}

/* ---- group commit ------------------------------------------------------ */

/* Send progress + COMMIT to every shard in a transaction, as one round. */
bool
shards_commit(stream_reader *r, uint64_t upto)
{
	int			n = r->dir->ndown;
	commit_round *round;
	char		src[16], lsn[32], ts[32];
	const char *values[4] = {r->ctx->plan->name, src, lsn, ts};
	char	   *sql;
	bool		ok = true;

	for (int s = 0; s < n; s++)
		if (!run_flush(r, s))
			return false;
	if (r->rounds_len == ROUNDS_MAX && !shards_poll(r, true))
		return false;
	round = &r->rounds[(r->rounds_head + r->rounds_len++) % ROUNDS_MAX];
	round->id = r->next_round++;
	round->end_lsn = upto;
	round->waiting = 0;
	for (int s = 0; s < n; s++)
		round->waiting += r->shards[s].in_txn;
	snprintf(src, sizeof(src), "%d", r->source);
	/* commit time: microseconds since 2000-01-01 UTC, PostgreSQL's epoch */
	/* never back: a commit between two transactions (stream_columns.c)
	 * carries the last one's LSN, perhaps none yet in this session */
	sql = xasprintf("INSERT INTO %s AS p (plan_name, source, lsn, commit_ts) "
					"VALUES ($1, $2, $3, timestamptz '2000-01-01 00:00:00+00' + "
					"$4::bigint * interval '1 microsecond') "
					"ON CONFLICT (plan_name, source) DO UPDATE SET lsn = greatest(p.lsn, excluded.lsn), "
					"commit_ts = CASE WHEN excluded.lsn > p.lsn THEN excluded.commit_ts ELSE p.commit_ts END, "
					"updated_at = now()", r->dir->progress);
	for (int s = 0; ok && s < n; s++)
	{
		shard_conn *sc = &r->shards[s];
		PGconn	   *pg = sc->conn->pg;
		sent_stmt  *st;

		if (!sc->in_txn)
			continue;
		if (!(ok = make_room(r, s, 3)))
			break;
		lsn_format(sc->txn_lsn, lsn, sizeof(lsn));
		snprintf(ts, sizeof(ts), "%lld", (long long) sc->txn_ts);
		if (!PQsendQueryParams(pg, sql, 4, NULL, values, NULL, NULL, 0) ||
			!PQsendQueryParams(pg, "COMMIT", 0, NULL, NULL, NULL, NULL, 0))
		{
			pgr_report_conn(sc->conn, "committing changes");
			sc->failed = true;
			ok = false;
			break;
		}
		ring_push(sc, 'G', -1);
		st = ring_push(sc, 'C', -1);
		st->round = round->id;
		st->lsn = sc->txn_lsn;
		sc->in_txn = false;
		sc->pending = 0;
		ok = send_sync(r, s);
	}
	free(sql);
	if (ok)
		rounds_advance(r);
	return ok;
}

/* Read the shards' results: what has arrived, or (wait) all of them. */
bool
shards_poll(stream_reader *r, bool wait)
{
	for (int s = 0; s < r->dir->ndown; s++)
		if (r->shards[s].sent_len > 0 && !read_results(r, s, 0, wait))
			return false;
	return true;
}

/* Make every shard answer (and send) everything so far: before idling.  A
 * run not sent yet stays: it is sent with the next different statement or
 * at the group commit, at the latest after the flush interval, and a pause
 * of the source (the walsender decodes slower than this applies) does not
 * cut it short. */
bool
shards_sync(stream_reader *r)
{
	for (int s = 0; s < r->dir->ndown; s++)
		if (r->shards[s].unsynced > 0 && !send_sync(r, s))
			return false;
	return true;
}

/* Some shard has work that is not committed, or a commit not acknowledged. */
bool
shards_busy(const stream_reader *r)
{
	for (int s = 0; s < r->dir->ndown; s++)
		if (r->shards[s].in_txn)
			return true;
	return r->rounds_len > 0;
}

/* After a failure, before disconnecting: forget what was in flight (the
 * server rolls back what a lost session had not committed). */
void
shards_reset(stream_reader *r)
{
	for (int s = 0; s < r->dir->ndown; s++)
	{
		shard_conn *sc = &r->shards[s];

		sc->sent_head = sc->sent_len = sc->unsynced = 0;
		sc->in_txn = sc->failed = sc->lost = sc->conflict = false;
		sc->pending = 0;
		run_reset(&sc->run);
	}
	r->rounds_head = r->rounds_len = 0;
}

void
shards_free(stream_reader *r)
{
	for (int s = 0; s < r->dir->ndown; s++)
	{
		free(r->shards[s].sent);
		free(r->shards[s].prepared);
		free(r->shards[s].run_prepared);
		run_free(&r->shards[s].run);
	}
	free(r->rounds);
	params_free(&r->params);
}
