/*
 * copy_worker.c — one copy worker: takes chunks off the shared list and
 * copies each under its source's snapshot to the shards that miss it.
 *
 * A worker owns one connection per source and per shard (opened on first
 * use).  For a chunk, every shard that needs it gets a transaction with a
 * COPY FROM STDIN; the source's COPY TO STDOUT is read row by row and each
 * row is routed and forwarded at once; then each shard's transaction is
 * committed together with its chunks_done row.  On any error the worker
 * drops its connections (the servers roll back) and tells the others to
 * stop: nothing is left half-written, and a rerun redoes the chunk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "copy.h"
#include "log.h"
#include "state.h"
#include "xalloc.h"

typedef struct worker {
	copy_run   *run;
	int			id;
	pgr_conn  **src;			/* [nsources] */
	pgr_conn  **dst;			/* [nshards] */
	long long  *rows;			/* per shard, current chunk */
	long long  *bytes;
	hooks	   *hooks;			/* this thread's Lua state, or NULL */
	pgr_conn   *state;			/* shard 0, for validate violations (report mode) */
} worker;

static pgr_conn *
worker_conn(worker *w, bool source, int i)
{
	const plan *p = w->run->ctx->plan;
	pgr_conn  **slot = source ? &w->src[i] : &w->dst[i];
	char	   *role;

	if (*slot != NULL)
		return *slot;
	role = source ? xstrdup(w->run->ctx->sources[i].role) : xasprintf("shard %d", i);
	*slot = pgr_connect(source ? p->source_dsns[i] : p->shard_dsns[i], role, 0);
	free(role);
	/* Rows travel in the servers' own encoding (preflight checked they agree), so
	 * keys are hashed on the bytes PostgreSQL stores; async commit on shards
	 * (a lost commit loses the chunk and its ledger row together).  On the
	 * source, no prefetch advice: a chunk of a key in random heap order (uuid,
	 * text) is read by a bitmap heap scan that visits most of the table's
	 * blocks, and one posix_fadvise per block nearly doubled its time on
	 * cached data (README, "Chunks of any key"). */
	if (*slot != NULL &&
		(!pgr_exec(*slot, "setting session options", source ?
				  "SELECT set_config('client_encoding', current_setting('server_encoding'), false), "
				  "set_config('effective_io_concurrency', '0', false)" :
				  "SELECT set_config('client_encoding', current_setting('server_encoding'), false), "
				  "set_config('synchronous_commit', 'off', false)", 0, NULL) ||
		 (!source && !apply_session_replica(*slot))))
	{
		pgr_disconnect(*slot);
		*slot = NULL;
	}
	return *slot;
}

static void
worker_drop_connections(worker *w)
{
	const plan *p = w->run->ctx->plan;

	for (int i = 0; i < p->nsources; i++)
	{
		pgr_disconnect(w->src[i]);
		w->src[i] = NULL;
	}
	for (int s = 0; s < p->nshards; s++)
	{
		pgr_disconnect(w->dst[s]);
		w->dst[s] = NULL;
	}
}

/* The chunk's rows: of the table, or of one leaf partition (written into
 * the table on the shards, where they land in the same partition). */
static char *
chunk_query(const copy_table *t, const copy_job *j)
{
	const char *only = j->leaf ? "ONLY " : t->only, *rel = j->leaf ? j->leaf : t->qname;

	if (j->where == NULL)
		return xasprintf("COPY (SELECT %s FROM %s%s) TO STDOUT", t->select_list, only, rel);
	return xasprintf("COPY (SELECT %s FROM %s%s WHERE %s) TO STDOUT", t->select_list, only, rel, j->where);
}

/* A late leaf chunk: the rows of it that the stream applied on this shard
 * before its snapshot are in the copy, so they go first (same transaction). */
static bool
clear_late_rows(pgr_conn *d, const copy_job *j)
{
	char	   *sql = j->where ? xasprintf("DELETE FROM ONLY %s WHERE %s", j->leaf, j->where)
		: xasprintf("DELETE FROM ONLY %s", j->leaf);
	bool		ok = pgr_exec(d, "clearing a partition's rows before its late copy", sql, 0, NULL);

	free(sql);
	return ok;
}

/* Open the source transaction under the snapshot and each needed shard's COPY. */
static bool
chunk_begin(worker *w, const copy_job *j, const copy_table *t)
{
	apply_ctx  *ctx = w->run->ctx;
	pgr_conn   *src = worker_conn(w, true, j->source);
	char	   *lit, *sql, *copy_in;
	bool		ok;

	if (src == NULL)
		return false;
	lit = PQescapeLiteral(src->pg, ctx->sources[j->source].snapshot,
						  strlen(ctx->sources[j->source].snapshot));
	sql = xasprintf("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT %s", lit);
	PQfreemem(lit);
	ok = pgr_exec(src, "starting the copy transaction under the slot's snapshot", sql, 0, NULL);
	free(sql);
	copy_in = xasprintf("COPY %s (%s) FROM STDIN", t->qname, t->insert_list);
	for (int s = 0; ok && s < ctx->plan->nshards; s++)
	{
		pgr_conn   *d;
		PGresult   *res;

		w->rows[s] = w->bytes[s] = 0;
		if (!j->need[s])
			continue;
		if ((d = worker_conn(w, false, s)) == NULL || !pgr_exec(d, "starting a chunk", "BEGIN", 0, NULL) ||
			(j->clear && !clear_late_rows(d, j)))
		{
			ok = false;
			break;
		}
		res = PQexec(d->pg, copy_in);
		if (PQresultStatus(res) != PGRES_COPY_IN)
		{
			pgr_report_result(d, "starting COPY into the shard", res);
			ok = false;
		}
		PQclear(res);
	}
	free(copy_in);
	return ok;
}

/* The validate hook on one row: stop, or record it (report mode). */
static bool
validate_row(worker *w, const copy_table *t, const copy_job *j, row_router *router,
			 const char *row, int len)
{
	const plan *p = w->run->ctx->plan;
	char		reason[512], err[HOOK_ERR_LEN];
	bool		valid, ok;
	strbuf		key;

	if (!validate_copy_row(router, row, (size_t) len, &valid, reason, sizeof(reason), err, sizeof(err)))
	{
		sb_init(&key);
		copy_row_key(router, row, (size_t) len, &key);
		log_error("copy: table %s, chunk %d, key %s: validate hook %s failed: %s", t->display,
				  j->chunk + 1, key.data, p->hooks.validate, err);
		sb_free(&key);
		return false;
	}
	if (valid)
		return true;
	if (p->hooks.validate_mode == VALIDATE_REPORT &&
		atomic_fetch_add(&w->run->violations, 1) >= VIOLATIONS_KEPT)
		return true;			/* counted; only the first ones are kept */
	sb_init(&key);
	copy_row_key(router, row, (size_t) len, &key);
	if (p->hooks.validate_mode == VALIDATE_STOP)
	{
		log_error("copy: table %s, key %s: rejected by validate hook %s: %s; fix the row or the "
				  "hook (or set hooks.validate_mode: report), then rerun apply", t->display,
				  key.data, p->hooks.validate, reason[0] ? reason : "(no reason given)");
		ok = false;
	}
	else
	{
		if (w->state == NULL)
			w->state = connect_shard(p, 0);
		ok = w->state != NULL &&
			state_violation_add(w->state, p, t->display, key.data, reason[0] ? reason : "(no reason given)", "copy");
	}
	sb_free(&key);
	return ok;
}

static bool
forward_row(worker *w, const copy_table *t, const copy_job *j, char *row, int len,
			row_router *router)
{
	const plan *p = w->run->ctx->plan;
	uint32_t	shard = 0;
	char		err[HOOK_ERR_LEN];
	long		cut;

	row_router_next(router);
	if (!t->replicate && !route_copy_row(router, row, (size_t) len, &shard, err, sizeof(err)))
	{
		strbuf		key;

		sb_init(&key);
		copy_row_key(router, row, (size_t) len, &key);
		log_error("copy: table %s, chunk %d, key %s: cannot route the row: %s", t->display,
				  j->chunk + 1, key.data, err);
		sb_free(&key);
		return false;
	}
	if (w->hooks && p->hooks.validate && !validate_row(w, t, j, router, row, len))
		return false;
	if (t->nselect > t->nsend && (cut = copy_field_end(row, (size_t) len, t->nsend - 1)) >= 0 &&
		row[cut] == '\t')
	{
		row[cut] = '\n';		/* drop generated columns read only for routing */
		len = (int) cut + 1;
	}
	for (int s = t->replicate ? 0 : (int) shard; s < p->nshards; s++)
	{
		if (j->need[s])
		{
			if (PQputCopyData(w->dst[s]->pg, row, len) != 1)
			{
				pgr_report_conn(w->dst[s], "sending rows");
				return false;
			}
			w->rows[s]++;
			w->bytes[s] += len;
		}
		if (!t->replicate)
			break;
	}
	return true;
}

/* Read the source's COPY and forward every row. */
static bool
chunk_stream(worker *w, const copy_job *j, copy_table *t)
{
	pgr_conn   *src = w->src[j->source];
	char	   *sql = chunk_query(t, j);
	PGresult   *res = PQexec(src->pg, sql);
	row_router	router;
	char	   *row;
	int			len;
	bool		ok = PQresultStatus(res) == PGRES_COPY_OUT;

	free(sql);
	if (!ok)
		pgr_report_result(src, "reading the chunk", res);
	PQclear(res);
	row_router_init(&router, t, (uint32_t) w->run->ctx->plan->nshards, w->hooks,
					w->run->ctx->plan->hooks.validate != NULL);
	while (ok && (len = PQgetCopyData(src->pg, &row, 0)) > 0)
	{
		ok = forward_row(w, t, j, row, len, &router);
		t->rows_done++;
		t->bytes_done += len;
		PQfreemem(row);
		if (atomic_load(&w->run->abort))
			ok = false;
	}
	row_router_free(&router);
	if (ok && len == -2)
	{
		pgr_report_conn(src, "reading the chunk");
		ok = false;
	}
	if (ok)
	{
		res = PQgetResult(src->pg);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			pgr_report_result(src, "reading the chunk", res);
			ok = false;
		}
		PQclear(res);
		while ((res = PQgetResult(src->pg)) != NULL)
			PQclear(res);
	}
	return ok;
}

/* End each shard's COPY, record the chunk, commit. */
static bool
chunk_commit(worker *w, const copy_job *j)
{
	apply_ctx  *ctx = w->run->ctx;
	char		lsn[32], src_s[16], ti_s[16], chunk_s[16], rows_s[32], bytes_s[32];
	const char *params[7] = {ctx->plan->name, src_s, ti_s, chunk_s, rows_s, bytes_s, lsn};

	lsn_format(ctx->sources[j->source].snapshot_lsn, lsn, sizeof(lsn));
	snprintf(src_s, sizeof(src_s), "%d", j->source);
	snprintf(ti_s, sizeof(ti_s), "%d", j->table);
	snprintf(chunk_s, sizeof(chunk_s), "%d", j->chunk);
	for (int s = 0; s < ctx->plan->nshards; s++)
	{
		pgr_conn   *d = w->dst[s];
		PGresult   *res;
		bool		ok;

		if (!j->need[s])
			continue;
		if (PQputCopyEnd(d->pg, NULL) != 1)
		{
			pgr_report_conn(d, "finishing COPY");
			return false;
		}
		res = PQgetResult(d->pg);
		ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		if (!ok)
			pgr_report_result(d, "writing rows", res);
		PQclear(res);
		while ((res = PQgetResult(d->pg)) != NULL)
			PQclear(res);
		snprintf(rows_s, sizeof(rows_s), "%lld", w->rows[s]);
		snprintf(bytes_s, sizeof(bytes_s), "%lld", w->bytes[s]);
		if (!ok || !pgr_exec(d, "recording the chunk",
							 "INSERT INTO pgreshard.chunks_done (plan_name, source, table_index, chunk, "
							 "rows, bytes, snapshot_lsn) VALUES ($1, $2, $3, $4, $5, $6, $7)", 7, params) ||
			!pgr_exec(d, "committing the chunk", "COMMIT", 0, NULL))
			return false;
	}
	return pgr_exec(w->src[j->source], "ending the source transaction", "COMMIT", 0, NULL);
}

static bool
copy_chunk(worker *w, const copy_job *j)
{
	copy_table *t = &w->run->tables[j->table];
	bool		ok = chunk_begin(w, j, t) && chunk_stream(w, j, t) && chunk_commit(w, j);

	if (!ok)
	{
		log_error("copy: table %s, chunk %d of %d failed; a rerun of apply redoes it", t->display,
				  j->chunk + 1, t->chunks_total);
		worker_drop_connections(w);
		return false;
	}
	t->chunks_done++;
	log_debug("copy: table %s, chunk %d of %d done", t->display, j->chunk + 1, t->chunks_total);
	if (w->run->chunk_delay_ms > 0)
	{
		struct timespec ts = {w->run->chunk_delay_ms / 1000, (w->run->chunk_delay_ms % 1000) * 1000000L};

		nanosleep(&ts, NULL);
	}
	return true;
}

static copy_job *
next_job(copy_run *run)
{
	copy_job   *j = NULL;

	pthread_mutex_lock(&run->lock);
	if (run->next_job < run->njobs && !atomic_load(&run->abort))
		j = &run->jobs[run->next_job++];
	pthread_mutex_unlock(&run->lock);
	return j;
}

void *
copy_worker_main(void *arg)
{
	worker		w = {0};
	const plan *p;
	copy_job   *j;
	bool		ok = true;

	w.run = arg;
	p = w.run->ctx->plan;
	w.src = xcalloc((size_t) p->nsources, sizeof(pgr_conn *));
	w.dst = xcalloc((size_t) p->nshards, sizeof(pgr_conn *));
	w.rows = xcalloc((size_t) p->nshards, sizeof(long long));
	w.bytes = xcalloc((size_t) p->nshards, sizeof(long long));
	if ((p->sharding == SHARD_FN_LUA || p->hooks.validate) && !hooks_open(p, &w.hooks))
	{
		ok = false;
		atomic_store(&w.run->abort, true);
	}
	while (ok && (j = next_job(w.run)) != NULL)
		if (!(ok = copy_chunk(&w, j)))
			atomic_store(&w.run->abort, true);
	worker_drop_connections(&w);
	pgr_disconnect(w.state);
	hooks_close(w.hooks);
	free(w.src);
	free(w.dst);
	free(w.rows);
	free(w.bytes);
	return ok ? NULL : (void *) 1;
}
