/*
 * stream_reader.c — one source's replication stream, from START_REPLICATION
 * to "caught up".
 *
 * The reader decodes pgoutput, applies each change through stream_apply.c,
 * and at source commits group-commits the shards (stream_batch.c) at most
 * every FLUSH_INTERVAL or when much is pending, without waiting for them;
 * as the shards acknowledge, the slot is confirmed up to the commit's end:
 * only what every shard holds durably is ever confirmed (the group commits
 * are synchronous on the shards: acknowledged means flushed).
 * Streamed (in-progress) transactions are spilled to files and replayed at
 * Stream Commit.  Keepalives are answered; a status update goes out at
 * least every STATUS_INTERVAL so the slot keeps moving.
 *
 * A lost connection (to the source or to a shard) rolls back what is not
 * committed, waits with exponential backoff, reconnects and restarts from
 * the slot: each shard skips what it already has, so nothing is applied
 * twice.  Any other error (a constraint violation, a table altered on the
 * source) stops the stream with the message of the server.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "spill.h"
#include "stream.h"
#include "xalloc.h"

#define FLUSH_INTERVAL_S 0.2
#define FLUSH_PENDING 20000
#define STATUS_INTERVAL_US (5 * 1000000LL)
#define PING_INTERVAL_US (10 * 1000LL)
#define RETRY_MAX_S 300

static bool
send_status(stream_reader *r, bool reply)
{
	char		buf[PGO_STANDBY_STATUS_LEN];
	size_t		n = pgo_build_standby_status(buf, r->confirmed, r->confirmed, r->confirmed,
											 pgo_now(), reply);

	r->last_status = pgo_now();
	if (PQputCopyData(r->repl->pg, buf, (int) n) != 1 || PQflush(r->repl->pg) != 0)
	{
		pgr_report_conn(r->repl, "sending a standby status update");
		return false;
	}
	return true;
}

static bool confirm_durable(stream_reader *r);

/*
 * Commit every shard's open work; the slot may move to `upto` once every
 * shard has acknowledged it (wait: now; otherwise as the results come in,
 * while the next changes are applied).
 */
static bool
group_commit(stream_reader *r, uint64_t upto, bool wait)
{
	if (!shards_commit(r, upto) || !shards_poll(r, wait))
		return false;
	r->last_flush = mono_seconds();
	return confirm_durable(r);
}

static long long
pending_changes(const stream_reader *r)
{
	long long	n = 0;

	for (int s = 0; s < r->dir->ndown; s++)
		n += r->shards[s].pending;
	return n;
}

/*
 * Between two transactions: follow what the source's catalog changed in the
 * partitions that pgoutput does not carry (stream_attach.c), and the
 * columns of tables not changed since (stream_columns.c), once every shard
 * has committed every transaction received so far.
 */
static bool
attach_point(stream_reader *r)
{
	int			due = r->in_txn ? 0 : stream_attach_due(r);

	if (due < 0 || (due > 0 && !(group_commit(r, r->received, true) && stream_attach_run(r))))
		return false;
	/* and the tables' columns changed with no change since (stream_columns.c):
	 * followed in the shards' transactions, committed at once */
	due = r->in_txn ? 0 : stream_columns_due(r);
	if (due <= 0)
		return due == 0;
	return group_commit(r, r->received, true) && stream_columns_run(r) && group_commit(r, r->received, true);
}

/* A source transaction ended (Commit or Stream Commit) at end_lsn. */
static bool
on_commit(stream_reader *r, uint64_t end_lsn)
{
	r->in_txn = false;
	r->received = end_lsn;
	r->txns++;
	if (mono_seconds() - r->last_flush >= FLUSH_INTERVAL_S || pending_changes(r) >= FLUSH_PENDING)
		return group_commit(r, end_lsn, false) && attach_point(r);
	return attach_point(r);
}

typedef struct replay_arg {
	stream_reader *r;
	pgo_decoder dec;
} replay_arg;

static bool
replay_one(void *arg, const char *msg, size_t len)
{
	replay_arg *ra = arg;
	pgo_msg		m;
	char		err[256];

	if (!pgo_decode(&ra->dec, msg, len, &m, err, sizeof(err)))
	{
		log_error("%s: spilled change: %s", ra->r->role, err);
		return false;
	}
	return stream_apply_change(ra->r, &m);
}

static bool
on_stream_commit(stream_reader *r, const pgo_msg *m)
{
	replay_arg	ra;
	bool		ok;

	if (r->exact && m->lsn >= r->target)
	{
		r->reached = true;
		return true;
	}
	r->txn_commit_lsn = m->lsn;
	r->txn_commit_ts = m->ts;
	ra.r = r;
	pgo_decoder_init(&ra.dec);
	ra.dec.in_stream = true;
	ok = spill_replay(r->spill, m->xid, replay_one, &ra);
	pgo_decoder_free(&ra.dec);
	return ok && on_commit(r, m->end_lsn);
}

static bool
on_message(stream_reader *r, const char *payload, size_t len)
{
	pgo_msg		m;
	char		err[256];

	if (!pgo_decode(&r->dec, payload, len, &m, err, sizeof(err)))
	{
		log_error("%s: cannot decode the replication stream: %s", r->role, err);
		return false;
	}
	if (r->reached)
		return true;			/* exact drain: nothing past the target is applied */
	switch (m.kind)
	{
		case PGO_BEGIN:
			if (r->exact && m.lsn >= r->target)
			{
				r->reached = true;	/* not this one: it is after the snapshot */
				return true;
			}
			r->in_txn = true;
			r->txn_commit_lsn = m.lsn;
			r->txn_commit_ts = m.ts;
			return true;
		case PGO_COMMIT:
			log_debug("%s: commit %X/%X end %X/%X", r->role, (unsigned int) (m.lsn >> 32),
					  (unsigned int) m.lsn, (unsigned int) (m.end_lsn >> 32), (unsigned int) m.end_lsn);
			r->txn_commit_lsn = m.lsn;
			return on_commit(r, m.end_lsn);
		case PGO_STREAM_START:
			r->stream_xid = m.xid;
			return true;
		case PGO_STREAM_STOP:
			return true;
		case PGO_STREAM_COMMIT:
			return on_stream_commit(r, &m);
		case PGO_STREAM_ABORT:
			return spill_abort(r->spill, m.xid, m.subxid);
		default:
			break;
	}
	/* not committed yet: keep it on disk until it is; a Relation message too,
	 * as PostgreSQL's own apply does: it may announce a partition that the
	 * transaction itself creates, or columns it changes, which the shards
	 * must follow at the transaction's place in the source's history */
	if (r->dec.in_stream)
		return spill_append(r->spill, r->stream_xid, m.xid, payload, len);
	return stream_apply_change(r, &m);
}

/*
 * --until stream (and the cutover's drain): every change committed before
 * `target` is applied.  Targets are WAL *insert* positions (with async commit
 * the write position can lag behind a commit that already happened).  An
 * insert position just past a page header is where the previous record's
 * end reads as the page boundary, so that counts as reached too (default 8 kB
 * pages and 16 MB segments: short header 24 bytes, long header 40).
 */
bool
stream_received_past(const stream_reader *r, uint64_t lsn)
{
	if (lsn % (16 * 1024 * 1024) == 40)
		lsn -= 40;
	else if (lsn % 8192 == 24)
		lsn -= 24;
	return !r->in_txn && r->received >= lsn;
}

static bool
target_reached(const stream_reader *r)
{
	if (r->exact && r->reached)
		return true;
	return r->target != 0 && stream_received_past(r, r->target);
}

/* ... and every shard has committed it (the slot is confirmed there). */
static bool
caught_up(const stream_reader *r)
{
	return target_reached(r) && !shards_busy(r) &&
		((r->exact && r->reached) || r->confirmed >= r->received);
}

static bool
on_copydata(stream_reader *r, const char *buf, int len)
{
	pgo_frame	f;
	char		err[256];

	if (!pgo_parse_frame(buf, (size_t) len, &f, err, sizeof(err)))
	{
		log_error("%s: malformed replication message: %s", r->role, err);
		return false;
	}
	if (f.kind == 'k')
	{
		log_debug("%s: keepalive %X/%X%s", r->role, (unsigned int) (f.wal_end >> 32),
				  (unsigned int) f.wal_end, r->in_txn ? " (in a transaction)" : "");
		/* idle and past everything sent: all earlier commits have arrived */
		if (!r->in_txn && f.wal_end > r->received)
			r->received = r->exact && f.wal_end > r->target ? r->target : f.wal_end;
		return !f.reply_requested || send_status(r, false);
	}
	return on_message(r, f.data, f.len);
}

/* Wait up to `seconds` for the replication socket (the shards' answers are
 * read at the next pause or group commit: waking for them costs more). */
static void
wait_socket(stream_reader *r, double seconds)
{
	fd_set		rfds;
	struct timeval tv = {(time_t) seconds, (suseconds_t) ((seconds - (long) seconds) * 1e6)};
	int			fd = PQsocket(r->repl->pg);

	if (fd < 0)
		return;
	FD_ZERO(&rfds);
	FD_SET(fd, &rfds);
	(void) select(fd + 1, &rfds, NULL, NULL, &tv);
}

/* A follower asked to stop (stream_dir.stop). */
static bool
stop_asked(const stream_reader *r)
{
	return r->dir->stop != NULL && atomic_load(r->dir->stop);
}

/* Shards acknowledged more: confirm it to the source. */
static bool
confirm_durable(stream_reader *r)
{
	if (r->durable <= r->confirmed)
		return true;
	r->confirmed = r->durable;
	return send_status(r, false);
}

/* Receive and apply until caught up (when asked) or an error. */
static bool
stream_loop(stream_reader *r)
{
	for (;;)
	{
		char	   *buf = NULL;
		int			len = PQgetCopyData(r->repl->pg, &buf, 1);

		if (len > 0)
		{
			bool		ok = on_copydata(r, buf, len);

			PQfreemem(buf);
			if (!ok)
				return false;
			continue;
		}
		if (len == -2 || (len == 0 && !PQconsumeInput(r->repl->pg)))
		{
			pgr_report_conn(r->repl, "reading the replication stream");
			return false;
		}
		if (len == -1)
		{
			PGresult   *res = PQgetResult(r->repl->pg);

			pgr_report_result(r->repl, "the replication stream ended", res);
			PQclear(res);
			return false;
		}
		/*
		 * Nothing to read now.  Read what the shards answered; commit what is
		 * open at the flush interval, and once at the target wait for every
		 * shard to commit it.  The shards keep applying meanwhile.
		 */
		if (!shards_poll(r, false) || !confirm_durable(r))
			return false;
		if (!r->in_txn && (shards_busy(r) || r->received > r->confirmed))
		{
			bool		finish = target_reached(r);

			if ((finish || mono_seconds() - r->last_flush >= FLUSH_INTERVAL_S) &&
				!group_commit(r, r->received, finish))
				return false;
		}
		/* asked to stop (between transactions): commit what was received, wait
		 * for the shards, confirm it; an open transaction is left to the slot */
		if (stop_asked(r) && !r->in_txn)
			return (!(shards_busy(r) || r->received > r->confirmed) || group_commit(r, r->received, true));
		if (!attach_point(r))
			return false;
		if (caught_up(r))
		{
			log_debug("%s: caught up: received %X/%X, target %X/%X", r->role,
					  (unsigned int) (r->received >> 32), (unsigned int) r->received,
					  (unsigned int) (r->target >> 32), (unsigned int) r->target);
			return true;
		}
		if (r->deadline > 0 && mono_seconds() > r->deadline)
		{
			log_error("%s: the stream did not reach %X/%X before the cutover's timeout", r->role,
					  (unsigned int) (r->target >> 32), (unsigned int) r->target);
			return false;
		}
		/* heading for a target: ask the server where its WAL ends (its answer
		 * says when everything before the target has arrived), but not at
		 * every pause of a busy stream: the walsender would spend on it */
		if (pgo_now() - r->last_status >= (r->target != 0 ? PING_INTERVAL_US : STATUS_INTERVAL_US))
			if (!send_status(r, r->target != 0))
				return false;
		if (!shards_sync(r))
			return false;
		wait_socket(r, r->target != 0 ? PING_INTERVAL_US / 1e6 : shards_busy(r) ? FLUSH_INTERVAL_S : 1.0);
	}
}

static bool
connect_shards(stream_reader *r)
{
	const stream_dir *d = r->dir;
	char		src[16];
	const char *params[2] = {r->ctx->plan->name, src};
	char	   *sql = xasprintf("SELECT lsn FROM %s WHERE plan_name = $1 AND source = $2", d->progress);

	snprintf(src, sizeof(src), "%d", r->source);
	for (int s = 0; s < d->ndown; s++)
	{
		shard_conn *sc = &r->shards[s];
		PGresult   *res;

		sc->conn = pgr_connect(d->down_dsns[s], d->down_roles[s], 0);
		sc->progress = 0;
		res = sc->conn ? pgr_query(sc->conn, "reading the stream progress", sql, 2, params) : NULL;
		if (res == NULL)
		{
			free(sql);
			return false;
		}
		if (PQntuples(res) == 1)
			lsn_parse(PQgetvalue(res, 0, 0), &sc->progress);
		PQclear(res);
		/*
		 * The source's encoding (preflight checked the shards share it).  And
		 * every group commit is synchronous on the shard, whatever its server,
		 * database or role say: its COMMIT is acknowledged only once flushed,
		 * so the slot is never confirmed past a change a crash of the shard
		 * could lose (DESIGN.md invariant 3).  One fsync per shard per group
		 * commit, off the reader's path (the pipeline does not wait for it).
		 * A source left read-only by a cutover (freeze: read_only) takes the
		 * reverse stream's writes: the session setting overrides the
		 * database's, and session_replication_role = replica passes the
		 * write guard's triggers (DESIGN.md invariant 11).
		 */
		if (!pgr_exec(sc->conn, "setting the session options",
					  "SELECT set_config('client_encoding', current_setting('server_encoding'), false), "
					  "set_config('synchronous_commit', 'local', false), "
					  "set_config('default_transaction_read_only', 'off', false)",
					  0, NULL) || !apply_session_replica(sc->conn))
		{
			free(sql);
			return false;
		}
	}
	free(sql);
	for (int s = 0; s < d->ndown; s++)
		if (!shard_pipeline_open(r, s))
			return false;
	return true;
}

static bool
start_replication(stream_reader *r)
{
	const stream_dir *d = r->dir;
	const char *slot = d->slot;
	/* values arrive in the source's own encoding, the bytes the hash expects
	 * (the shards share it: preflight) */
	pgr_conn   *c = pgr_connect_ex(d->up_dsns[r->source], r->role, PGR_CONN_REPLICATION,
								   r->ctx->cat->sources[d->reverse ? 0 : r->source].encoding);
	char	   *qslot, *qpub, *lpub, *cmd;
	PGresult   *res;
	bool		ok;

	if (c == NULL)
		return false;
	qslot = pgr_quote_ident(c, slot);
	qpub = pgr_quote_ident(c, d->publication);
	lpub = PQescapeLiteral(c->pg, qpub, strlen(qpub));
	cmd = xasprintf("START_REPLICATION SLOT %s LOGICAL 0/0 (proto_version '%s', %spublication_names %s)",
					qslot, c->server_version >= 140000 ? "2" : "1",
					c->server_version >= 140000 ? "streaming 'on', " : "", lpub);
	res = PQexec(c->pg, cmd);
	ok = PQresultStatus(res) == PGRES_COPY_BOTH;
	r->refused = !ok && PQstatus(c->pg) == CONNECTION_OK;
	if (!ok)
	{
		if (PQresultErrorField(res, PG_DIAG_SQLSTATE) &&
			strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE), "42704") == 0)
			log_error("%s: replication slot %s does not exist (dropped by someone else?); "
					  "run `pgreshard cleanup` and start the plan again", r->role, slot);
		else
			pgr_report_result(c, "starting replication", res);
		pgr_disconnect(c);
	}
	else
		r->repl = c;
	PQclear(res);
	PQfreemem(lpub);
	free(qpub);
	free(qslot);
	free(cmd);
	return ok;
}

static void
disconnect_all(stream_reader *r)
{
	shards_reset(r);
	for (int s = 0; s < r->dir->ndown; s++)
	{
		pgr_disconnect(r->shards[s].conn);
		r->shards[s].conn = NULL;
	}
	pgr_disconnect(r->repl);
	r->repl = NULL;
	r->in_txn = false;
}

/* After a failure: was it a lost connection (worth retrying)? */
static bool
connection_lost(const stream_reader *r)
{
	if (r->refused)
		return false;
	if (r->repl == NULL || PQstatus(r->repl->pg) != CONNECTION_OK)
		return true;
	for (int s = 0; s < r->dir->ndown; s++)
		if (r->shards[s].conn == NULL || PQstatus(r->shards[s].conn->pg) != CONNECTION_OK ||
			r->shards[s].lost)
			return true;
	return false;
}

/* The source's WAL insert position: past every commit it had made when a
 * query before this one on c ran (a catalog read, stream_attach.c and
 * stream_columns.c). */
bool
stream_insert_point(pgr_conn *c, uint64_t *lsn)
{
	PGresult   *res = pgr_query(c, "reading the WAL position", "SELECT pg_current_wal_insert_lsn()", 0, NULL);
	bool		ok = res != NULL && lsn_parse(PQgetvalue(res, 0, 0), lsn);

	PQclear(res);
	return ok;
}

/*
 * A WAL position past every commit made so far on the source, flushed so the
 * walsender can decode up to it.  A tiny transaction committed synchronously
 * flushes the WAL up to itself, so commits made with synchronous_commit off
 * (visible, but not yet on disk) are included.  It must write WAL of its own
 * (a transaction that wrote none skips the flush at commit): creating a
 * temporary table writes catalog WAL and leaves nothing behind.  Two queries:
 * one query string is one transaction, committed at its end.
 */
bool
stream_flush_point(pgr_conn *c, uint64_t *lsn)
{
	PGresult   *res;
	bool		ok;

	/* settings first: they apply to the transactions that follow */
	if (!pgr_exec(c, "placing a WAL mark",
				  "SET synchronous_commit = on; SET default_transaction_read_only = off", 0, NULL) ||
		!pgr_exec(c, "placing a WAL mark", "CREATE TEMPORARY TABLE IF NOT EXISTS pgreshard_mark ()",
				  0, NULL))
		return false;
	res = pgr_query(c, "reading the WAL position", "SELECT pg_current_wal_flush_lsn()", 0, NULL);
	ok = res != NULL && lsn_parse(PQgetvalue(res, 0, 0), lsn);
	PQclear(res);
	return ok;
}

/* Everything committed on the source when the catch-up begins. */
static bool
read_target(stream_reader *r)
{
	pgr_conn   *c = pgr_connect(r->dir->up_dsns[r->source], r->role, 0);
	bool		ok = c != NULL && stream_flush_point(c, &r->target);

	pgr_disconnect(c);
	return ok;
}

/* One connected session: connect, stream, and say whether to retry. */
static bool
stream_session(stream_reader *r, bool *retry)
{
	bool		ok;

	*retry = false;
	r->spill = spill_open(NULL);
	ok = r->spill != NULL && connect_shards(r) && start_replication(r);
	r->connected = r->connected || ok;
	if (ok)
	{
		pgo_decoder_init(&r->dec);
		r->last_flush = mono_seconds();
		r->confirmed = r->received = r->durable = 0;
		r->reached = false;
		ok = stream_loop(r);
		pgo_decoder_free(&r->dec);
		if (ok)
			ok = send_status(r, false);
	}
	r->conflict = false;
	for (int s = 0; !ok && s < r->dir->ndown; s++)
		r->conflict = r->conflict || r->shards[s].conflict;
	if (!ok)
		*retry = connection_lost(r);
	disconnect_all(r);
	stream_partitions_forget(r);	/* a rolled back creation is not there */
	if (r->spill)
		spill_close(r->spill);
	r->spill = NULL;
	return ok;
}

static bool run_reader(apply_ctx *ctx, const stream_dir *dir, int source, bool until_caught_up,
					   uint64_t target, double deadline, bool exact);

/* The forward direction's names for one run of a reader. */
static bool
run_forward(apply_ctx *ctx, int source, bool until_caught_up, uint64_t target, double deadline,
			bool exact)
{
	stream_dir	d;
	bool		ok;

	stream_dir_forward(ctx, &d);
	ok = run_reader(ctx, &d, source, until_caught_up, target, deadline, exact);
	stream_dir_free(&d);
	return ok;
}

bool
stream_run_source(apply_ctx *ctx, int source, bool until_caught_up)
{
	return run_forward(ctx, source, until_caught_up, 0, 0, false);
}

bool
stream_follow_source(apply_ctx *ctx, int source, const atomic_bool *stop)
{
	stream_dir	d;
	bool		ok;

	stream_dir_forward(ctx, &d);
	d.stop = stop;
	ok = run_reader(ctx, &d, source, false, 0, 0, false);
	stream_dir_free(&d);
	return ok;
}

bool
stream_drain_exact(apply_ctx *ctx, int source, uint64_t target)
{
	return run_forward(ctx, source, true, target, 0, true);
}

bool
stream_drain(apply_ctx *ctx, int source, uint64_t target, double deadline)
{
	/* at the fence the shards are the source: its partitions never written to too */
	return run_forward(ctx, source, true, target, deadline, false) && stream_partitions_at_fence(ctx, source);
}

bool
stream_reverse_run(apply_ctx *ctx, const stream_dir *dir, int shard, uint64_t target, double deadline)
{
	return run_reader(ctx, dir, shard, true, target, deadline, false);
}

bool
stream_reverse_follow(apply_ctx *ctx, const stream_dir *dir, int shard)
{
	return run_reader(ctx, dir, shard, false, 0, 0, false);
}

static bool
run_reader(apply_ctx *ctx, const stream_dir *dir, int source, bool until_caught_up, uint64_t target,
		   double deadline, bool exact)
{
	stream_reader r = {0};
	double		started = mono_seconds();
	int			delay = 1;
	bool		ok = false, retry = true;

	r.ctx = ctx;
	r.dir = dir;
	r.source = source;
	r.role = dir->up_roles[source];
	r.shards = xcalloc((size_t) dir->ndown, sizeof(shard_conn));
	r.target = target;
	r.deadline = deadline;
	r.exact = exact;
	r.batch = deadline == 0;	/* the cutover's drain cannot replay a refused run */
	if (until_caught_up && target == 0 && !read_target(&r))
		retry = false;
	if (retry && !stream_hooks_open(&r))
		retry = false;
	while (retry)
	{
		/* the table descriptions read the shards too: a shard restarting right
		 * now is a lost connection like any other */
		if (r.member_failed)
		{
			/* placing keys among late chunks failed: a new session, a new connection */
			pgr_disconnect(r.member);
			r.member = NULL;
			r.member_failed = false;
		}
		if (r.tables == NULL && !stream_tables_build(ctx, dir, source, &r.tables))
			ok = false, retry = true;
		else
			ok = stream_session(&r, &retry);
		if (!ok && r.replay)
		{
			/* a shard refused a run of changes: replay them one by one (the
			 * rollback left nothing of them) so that the error names the row */
			r.replay = false;
			r.batch = false;	/* for the rest of this run */
			retry = true;
			continue;
		}
		/* a drain (deadline) retries only a conflict, at once, while it has time */
		if (ok || !retry || (deadline > 0 && (!r.conflict || mono_seconds() > deadline)))
			break;
		if (r.connected)
		{
			/* it streamed before losing the connection: RETRY_MAX_S from now
			 * (a follower runs for days) */
			started = mono_seconds();
			delay = 1;
			r.connected = false;
		}
		if (stop_asked(&r))
		{
			ok = true;			/* nothing is lost: the slot keeps the rest */
			break;
		}
		if (mono_seconds() - started > RETRY_MAX_S)
		{
			log_error("%s: stream: giving up after %d s of reconnecting", r.role, RETRY_MAX_S);
			break;
		}
		if (r.conflict)
		{
			usleep(10000 * (useconds_t) delay);	/* let the other stream commit */
			delay = delay * 2 > 64 ? 64 : delay * 2;
			continue;
		}
		log_warn("%s: stream: connection lost; reconnecting in %d s and resuming from the slot",
				 r.role, delay);
		for (int i = 0; i < delay * 4 && !stop_asked(&r); i++)
			usleep(250 * 1000);
		delay = delay * 2 > 30 ? 30 : delay * 2;
	}
	if (ok && (r.txns > 0 || !dir->reverse))
		log_info("%s: %sstream caught up: %lld transaction(s), %lld change(s) applied", r.role,
				 dir->reverse ? "reverse " : "", r.txns, r.changes);
	stream_attach_forget(&r);
	stream_columns_forget(&r);
	stream_hooks_close(&r);
	shards_free(&r);
	pgr_disconnect(r.member);
	for (int i = 0; i < r.nrels; i++)
	{
		free(r.rels[i].name);
		free(r.rels[i].leaf_qname);
		free(r.rels[i].ident);
		free(r.rels[i].nspname);
		free(r.rels[i].relname);
		free(r.rels[i].order);
	}
	free(r.rels);
	free(r.shards);
	stream_tables_free(r.tables, ctx->plan->ntables, ctx->plan->nshards);
	return ok;
}
