/*
 * stream_batch.c — per-shard SQL batches and the group commit.
 *
 * Changes for a shard accumulate as SQL text in one open transaction and
 * are sent in one round trip when the batch grows or at a flush; runs of
 * INSERTs into the same table become one multi-row INSERT.  Values are
 * quoted by libpq (PQescapeStringConn).  At a group commit every shard with
 * work gets its pgreshard.apply_progress row and COMMIT in the same round
 * trip, sent to all shards at once and awaited together.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "stream.h"
#include "xalloc.h"

#define BATCH_SEND_BYTES (1 << 20)

static bool shard_send(stream_reader *r, int s, bool wait);

bool
shard_begin(stream_reader *r, int s)
{
	shard_conn *sc = &r->shards[s];

	if (!sc->in_txn)
	{
		sb_append(&sc->batch, "BEGIN;\n");
		sc->in_txn = true;
	}
	sc->txn_lsn = r->txn_commit_lsn;
	sc->txn_ts = r->txn_commit_ts;
	return true;
}

static void
close_insert(shard_conn *sc)
{
	if (sc->open_insert >= 0)
	{
		sb_append(&sc->batch, ";\n");
		sc->open_insert = -1;
	}
}

bool
shard_append(stream_reader *r, int s, const char *sql)
{
	shard_conn *sc = &r->shards[s];

	shard_begin(r, s);
	close_insert(sc);
	sb_append(&sc->batch, sql);
	sb_append(&sc->batch, ";\n");
	sc->pending++;
	return sc->batch.len < BATCH_SEND_BYTES || shard_send(r, s, false);
}

void
shard_append_literal(stream_reader *r, int s, strbuf *sb, const pgo_value *v)
{
	char	   *dst;
	int			err = 0;
	size_t		n;

	if (v->kind == 'n')
	{
		sb_append(sb, "NULL");
		return;
	}
	sb_append_char(sb, '\'');
	dst = sb_reserve(sb, (size_t) v->len * 2 + 1);
	n = PQescapeStringConn(r->shards[s].conn->pg, dst, v->data, v->len, &err);
	sb->len += n;
	sb->data[sb->len] = '\0';
	sb_append_char(sb, '\'');
}

/* Value i of tup, or of fill where tup has it unchanged ('u'). */
static const pgo_value *
value_of(const pgo_tuple *tup, const pgo_tuple *fill, int i)
{
	if (tup->cols[i].kind == 'u' && fill != NULL && i < fill->ncols)
		return &fill->cols[i];
	return &tup->cols[i];
}

bool
shard_insert_row(stream_reader *r, int s, const stream_table *t, const pgo_tuple *tup,
				 const pgo_tuple *fill)
{
	shard_conn *sc = &r->shards[s];

	shard_begin(r, s);
	if (sc->open_insert != t->index)
	{
		close_insert(sc);
		sb_printf(&sc->batch, "INSERT INTO %s (", t->qname);
		for (int i = 0; i < t->ncols; i++)
			sb_printf(&sc->batch, "%s%s", i ? ", " : "", t->qcols[i]);
		sb_append(&sc->batch, ") VALUES\n(");
		sc->open_insert = t->index;
	}
	else
		sb_append(&sc->batch, ",\n(");
	for (int i = 0; i < t->ncols; i++)
	{
		const pgo_value *v = value_of(tup, fill, i);

		if (v->kind == 'u')
		{
			log_error("%s: shard %d: table %s: column \"%s\" is an unchanged TOAST value that could "
					  "not be fetched; refusing to write it as NULL", r->role, s, t->display, t->cols[i]);
			return false;
		}
		if (i)
			sb_append(&sc->batch, ", ");
		shard_append_literal(r, s, &sc->batch, v);
	}
	sb_append_char(&sc->batch, ')');
	sc->pending++;
	return sc->batch.len < BATCH_SEND_BYTES || shard_send(r, s, false);
}

/* Read the results of the batch in flight on shard s, if any. */
static bool
shard_collect(stream_reader *r, int s)
{
	shard_conn *sc = &r->shards[s];
	PGresult   *res;
	bool		ok = true;

	if (!sc->busy)
		return true;
	sc->busy = false;
	while ((res = PQgetResult(sc->conn->pg)) != NULL)
	{
		if (ok && PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			char		what[256];

			snprintf(what, sizeof(what), "applying changes from %s", r->role);
			pgr_report_result(sc->conn, what, res);
			ok = false;
		}
		PQclear(res);
	}
	return ok;
}

/*
 * Send the batch; the transaction stays open.  The shard works on it while
 * the reader goes on: its results are read before the next thing sent to
 * that shard (or with wait, now), so shards apply in parallel.
 */
static bool
shard_send(stream_reader *r, int s, bool wait)
{
	shard_conn *sc = &r->shards[s];

	close_insert(sc);
	if (!shard_collect(r, s))
		return false;
	if (sc->batch.len > 0)
	{
		if (!PQsendQuery(sc->conn->pg, sc->batch.data))
		{
			pgr_report_conn(sc->conn, "sending changes");
			return false;
		}
		sc->busy = true;
		sb_reset(&sc->batch);
		sc->pending = 0;
	}
	return !wait || shard_collect(r, s);
}

bool
shard_flush(stream_reader *r, int s)
{
	return shard_send(r, s, true);
}

PGresult *
shard_query_now(stream_reader *r, int s, const char *sql, const char *what)
{
	if (!shard_begin(r, s) || !shard_flush(r, s))
		return NULL;
	return pgr_query(r->shards[s].conn, what, sql, 0, NULL);
}

/* Append progress + COMMIT to every shard in a transaction; send all; await all. */
bool
shards_commit(stream_reader *r)
{
	int			n = r->ctx->plan->nshards;
	bool		ok = true;
	char		lsn[32];

	for (int s = 0; s < n && ok; s++)
	{
		shard_conn *sc = &r->shards[s];

		if (!sc->in_txn)
			continue;
		close_insert(sc);
		if (!shard_collect(r, s))
		{
			ok = false;
			break;
		}
		lsn_format(sc->txn_lsn, lsn, sizeof(lsn));
		sb_printf(&sc->batch, "INSERT INTO pgreshard.apply_progress (plan_name, source, lsn, commit_ts) VALUES (");
		shard_append_literal(r, s, &sc->batch, &(pgo_value) {'t', r->ctx->plan->name,
							 (uint32_t) strlen(r->ctx->plan->name)});
		/* commit time: microseconds since 2000-01-01 UTC, PostgreSQL's epoch */
		sb_printf(&sc->batch, ", %d, '%s', timestamptz '2000-01-01 00:00:00+00' + %lld * interval '1 microsecond') "
				  "ON CONFLICT (plan_name, source) DO UPDATE SET lsn = excluded.lsn, "
				  "commit_ts = excluded.commit_ts, updated_at = now();\nCOMMIT;", r->source, lsn,
				  (long long) sc->txn_ts);
		if (!PQsendQuery(sc->conn->pg, sc->batch.data))
		{
			pgr_report_conn(sc->conn, "committing changes");
			ok = false;
		}
	}
	for (int s = 0; s < n; s++)
	{
		shard_conn *sc = &r->shards[s];
		PGresult   *res;
		bool		shard_ok = true;

		if (!sc->in_txn)
			continue;
		while ((res = PQgetResult(sc->conn->pg)) != NULL)
		{
			if (shard_ok && PQresultStatus(res) != PGRES_COMMAND_OK)
			{
				pgr_report_result(sc->conn, "applying changes", res);
				shard_ok = false;
			}
			PQclear(res);
		}
		if (shard_ok && ok)
			sc->progress = sc->txn_lsn;
		ok = ok && shard_ok;
		sb_reset(&sc->batch);
		sc->pending = 0;
		sc->in_txn = false;
	}
	return ok;
}

void
shards_rollback(stream_reader *r)
{
	for (int s = 0; s < r->ctx->plan->nshards; s++)
	{
		shard_conn *sc = &r->shards[s];

		sb_reset(&sc->batch);
		sc->open_insert = -1;
		sc->pending = 0;
		if (sc->busy && sc->conn)
		{
			PGresult   *res;

			while ((res = PQgetResult(sc->conn->pg)) != NULL)
				PQclear(res);
		}
		sc->busy = false;
		if (sc->in_txn && sc->conn && PQstatus(sc->conn->pg) == CONNECTION_OK)
		{
			PGresult   *res = PQexec(sc->conn->pg, "ROLLBACK");

			PQclear(res);
		}
		sc->in_txn = false;
	}
}
