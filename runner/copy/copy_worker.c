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
 *
 * A worker may instead take one slice of a shared scan (copy_group.c): a
 * range of the table's blocks within a group of chunks, read in rounds,
 * each row buffered per shard and handed to the slice's own COPY there,
 * committed after each round with the slice's progress (copy_scan.c).
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

/* A session to source or shard i with the copy's settings. */
static pgr_conn *
open_session(apply_ctx *ctx, bool source, int i)
{
	const plan *p = ctx->plan;
	char	   *role = source ? xstrdup(ctx->sources[i].role) : xasprintf("shard %d", i);
	pgr_conn   *c = pgr_connect(source ? p->source_dsns[i] : p->shard_dsns[i], role, 0);

	free(role);
	/* Rows travel in the servers' own encoding (preflight checked they agree), so
	 * keys are hashed on the bytes PostgreSQL stores; async commit on shards
	 * (a lost commit loses the chunk and its ledger row together).  On the
	 * source, no prefetch advice: a chunk of a key in random heap order (uuid,
	 * text) read by a bitmap heap scan visits most of the table's blocks, and
	 * one posix_fadvise per block nearly doubled its time on cached data
	 * (README, "Chunks of any key"). */
	if (c != NULL &&
		(!pgr_exec(c, "setting session options", source ?
				  "SELECT set_config('client_encoding', current_setting('server_encoding'), false), "
				  "set_config('effective_io_concurrency', '0', false)" :
				  "SELECT set_config('client_encoding', current_setting('server_encoding'), false), "
				  "set_config('synchronous_commit', 'off', false)", 0, NULL) ||
		 (!source && !apply_session_replica(c))))
	{
		pgr_disconnect(c);
		c = NULL;
	}
	return c;
}

pgr_conn *
copy_shard_session(apply_ctx *ctx, int s)
{
	return open_session(ctx, false, s);
}

static pgr_conn *
worker_conn(worker *w, bool source, int i)
{
	pgr_conn  **slot = source ? &w->src[i] : &w->dst[i];

	if (*slot == NULL)
		*slot = open_session(w->run->ctx, source, i);
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
		return xasprintf("COPY (SELECT %s FROM %s%s) TO STDOUT%s", t->select_list, only, rel,
						 t->binary ? " (FORMAT binary)" : "");
	return xasprintf("COPY (SELECT %s FROM %s%s WHERE %s) TO STDOUT%s", t->select_list, only, rel, j->where,
					 t->binary ? " (FORMAT binary)" : "");
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

/* The source's transaction under the copy's snapshot. */
static bool
source_begin(worker *w, int source)
{
	apply_ctx  *ctx = w->run->ctx;
	pgr_conn   *src = worker_conn(w, true, source);
	char	   *lit, *sql;
	bool		ok;

	if (src == NULL)
		return false;
	lit = PQescapeLiteral(src->pg, ctx->sources[source].snapshot, strlen(ctx->sources[source].snapshot));
	sql = xasprintf("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT %s", lit);
	PQfreemem(lit);
	ok = pgr_exec(src, "starting the copy transaction under the slot's snapshot", sql, 0, NULL);
	free(sql);
	return ok;
}

/* BEGIN (and job j's clearing, j->clear) and COPY FROM STDIN on shard connection d. */
static bool
shard_copy_begin(pgr_conn *d, const copy_table *t, const copy_job *j)
{
	char	   *copy_in = xasprintf("COPY %s (%s) FROM STDIN%s", t->qname, t->insert_list,
									t->binary ? " (FORMAT binary)" : "");
	PGresult   *res;
	bool		ok = pgr_exec(d, "starting a chunk", "BEGIN ISOLATION LEVEL READ COMMITTED", 0, NULL) &&
		(!j->clear || clear_late_rows(d, j));

	if (ok)
	{
		res = PQexec(d->pg, copy_in);
		if (PQresultStatus(res) != PGRES_COPY_IN)
		{
			pgr_report_result(d, "starting COPY into the shard", res);
			ok = false;
		}
		else if (t->binary && PQputCopyData(d->pg, copy_binary_header, COPY_BINARY_HEADER_LEN) != 1)
		{
			pgr_report_conn(d, "sending rows");
			ok = false;
		}
		PQclear(res);
	}
	free(copy_in);
	return ok;
}

/* Open the source transaction under the snapshot and each needed shard's COPY. */
static bool
chunk_begin(worker *w, const copy_job *j, const copy_table *t)
{
	apply_ctx  *ctx = w->run->ctx;
	bool		ok = source_begin(w, j->source);

	for (int s = 0; ok && s < ctx->plan->nshards; s++)
	{
		pgr_conn   *d;

		w->rows[s] = w->bytes[s] = 0;
		if (j->need[s])
			ok = (d = worker_conn(w, false, s)) != NULL && shard_copy_begin(d, t, j);
	}
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

/* Route and check one row: its shard (0 for a replicated table), and *len
 * shortened to drop generated columns read only for routing. */
static bool
prepare_row(worker *w, const copy_table *t, const copy_job *j, char *row, int *len,
			row_router *router, uint32_t *shard)
{
	const plan *p = w->run->ctx->plan;
	char		err[HOOK_ERR_LEN];
	long		cut;

	*shard = 0;
	row_router_next(router);
	if (!t->replicate && !route_copy_row(router, row, (size_t) *len, shard, err, sizeof(err)))
	{
		strbuf		key;

		sb_init(&key);
		copy_row_key(router, row, (size_t) *len, &key);
		log_error("copy: table %s, chunk %d, key %s: cannot route the row: %s", t->display,
				  j->chunk + 1, key.data, err);
		sb_free(&key);
		return false;
	}
	if (w->hooks && p->hooks.validate && !validate_row(w, t, j, router, row, *len))
		return false;
	if (t->nselect > t->nsend && t->binary)
	{
		size_t		l = (size_t) *len;

		if (!copy_binary_keep_fields(row, &l, t->nsend))
		{
			log_error("copy: table %s, chunk %d: a malformed binary row from the source", t->display, j->chunk + 1);
			return false;
		}
		*len = (int) l;			/* drop generated columns read only for routing */
	}
	else if (t->nselect > t->nsend && (cut = copy_field_end(row, (size_t) *len, t->nsend - 1)) >= 0 &&
		row[cut] == '\t')
	{
		row[cut] = '\n';		/* drop generated columns read only for routing */
		*len = (int) cut + 1;
	}
	return true;
}

static bool
forward_row(worker *w, const copy_table *t, const copy_job *j, char *row, int len,
			row_router *router)
{
	const plan *p = w->run->ctx->plan;
	uint32_t	shard;

	if (!prepare_row(w, t, j, row, &len, router, &shard))
		return false;
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

/*
 * A shared-scan slice's rows on their way: one buffer per shard, handed to
 * the slice's own COPY there when full, and how many rows and bytes of
 * each chunk its committed rounds and the round in flight hold there.
 */
typedef struct slice_bufs {
	scan_group *g;
	int			nshards;
	strbuf	   *buf;			/* [nshards] */
	bool	   *active;			/* [nshards]: this round goes to that shard */
	long long  *nrows, *nbytes;	/* [nshards * g->n]: shard s, chunk b at s * g->n + b */
	size_t		flush_at;
} slice_bufs;

static bool
slice_flush(worker *w, slice_bufs *sb, int s)
{
	bool		ok = true;

	if (sb->buf[s].len > 0 && PQputCopyData(w->dst[s]->pg, sb->buf[s].data, (int) sb->buf[s].len) != 1)
	{
		pgr_report_conn(w->dst[s], "sending rows");
		ok = false;
	}
	sb_reset(&sb->buf[s]);
	return ok;
}

/* One row of a slice: its chunk placed by the runner (g->bk), or given by
 * the source in front of it ("chunk\t", or an int4 field in binary) when
 * the group has several. */
static bool
slice_row(worker *w, copy_table *t, slice_bufs *sb, char *row, int len, row_router *router)
{
	scan_group *g = sb->g;
	const copy_job *j;
	int			b = 0, off = 0, i;
	uint32_t	shard;

	if (g->bk)
	{
		if ((b = copy_bucket_of(g->bk, row, (size_t) len)) < 0)
		{
			log_error("copy: table %s: a shared scan returned a malformed row (its key could not be read)",
					  t->display);
			return false;
		}
	}
	else if (g->n > 1 && t->binary)
	{
		long		at = copy_binary_take_bucket(row, (size_t) len, &b);

		if (at < 0 || b < 0 || b >= g->n)
		{
			log_error("copy: table %s: a shared scan returned a row without its chunk", t->display);
			return false;
		}
		off = (int) at;
	}
	else if (g->n > 1)
	{
		while (off < len && row[off] >= '0' && row[off] <= '9')
			b = b * 10 + (row[off++] - '0');
		if (off == 0 || off >= len || row[off] != '\t' || b >= g->n)
		{
			log_error("copy: table %s: a shared scan returned a row without its chunk", t->display);
			return false;
		}
		off++;
	}
	j = g->jobs[b];
	row += off;
	len -= off;
	t->bytes_done += len;
	if (!prepare_row(w, t, j, row, &len, router, &shard))
		return false;
	if (!j->need[shard])
		return true;			/* that chunk is already on that shard */
	if (!sb->active[shard])
		return true;			/* that round is already on that shard */
	i = (int) shard * g->n + b;
	sb_append_len(&sb->buf[shard], row, (size_t) len);
	sb->nrows[i]++;
	sb->nbytes[i] += len;
	return sb->buf[shard].len < sb->flush_at || slice_flush(w, sb, (int) shard);
}

/* Read the source's COPY (sql) and forward every row: to the chunk's own
 * shard COPYs (sb NULL), or into a shared scan's buffers. */
static bool
chunk_stream(worker *w, const copy_job *j, copy_table *t, const char *sql, slice_bufs *sb)
{
	pgr_conn   *src = w->src[j->source];
	PGresult   *res = PQexec(src->pg, sql);
	row_router	router;
	char	   *buf, *row;
	int			len;
	bool		ok = PQresultStatus(res) == PGRES_COPY_OUT, header_done = !t->binary;

	if (!ok)
		pgr_report_result(src, "reading the chunk", res);
	PQclear(res);
	row_router_init(&router, t, (uint32_t) w->run->ctx->plan->nshards, w->hooks,
					w->run->ctx->plan->hooks.validate != NULL);
	while (ok && (len = PQgetCopyData(src->pg, &buf, 0)) > 0)
	{
		row = buf;
		if (!header_done)
		{
			long		at = copy_binary_header_end(row, (size_t) len);

			if (at < 0)
			{
				log_error("copy: table %s, chunk %d: the source's binary COPY has no header", t->display,
						  j->chunk + 1);
				ok = false;
				PQfreemem(buf);
				break;
			}
			header_done = true;
			row += at;
			len -= (int) at;
		}
		if (t->binary && (len == 0 || copy_binary_is_trailer(row, (size_t) len)))
		{
			PQfreemem(buf);
			continue;
		}
		t->rows_done++;
		w->run->rows_read++;
		if (sb)
			ok = slice_row(w, t, sb, row, len, &router);
		else
		{
			t->bytes_done += len;
			ok = forward_row(w, t, j, row, len, &router);
		}
		PQfreemem(buf);
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
	ok = ok && copy_source_unchanged(w->run, t, src, j->leaf ? j->leaf : t->qname);
	for (int s = 0; ok && sb && s < sb->nshards; s++)
		ok = !sb->active[s] || slice_flush(w, sb, s);
	return ok;
}

bool
copy_end_on(const copy_table *t, pgr_conn *d)
{
	if ((t->binary && PQputCopyData(d->pg, copy_binary_trailer, sizeof(copy_binary_trailer)) != 1) ||
		PQputCopyEnd(d->pg, NULL) != 1)
	{
		pgr_report_conn(d, "finishing COPY");
		return false;
	}
	return true;
}

bool
copy_results_ok(pgr_conn *d, const char *what)
{
	PGresult   *res;
	bool		ok = true;

	while ((res = PQgetResult(d->pg)) != NULL)
	{
		if (ok && PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			pgr_report_result(d, what, res);
			ok = false;
		}
		PQclear(res);
	}
	return ok;
}

/*
 * End chunk j's COPY on each of its shards (w->dst), then take each result,
 * record the chunk there with its chunks_done row and commit; then end the
 * source's transaction.  Every COPY is ended before any result is awaited,
 * so the shards finish the rows they still have in parallel.
 */
static bool
chunk_commit(worker *w, const copy_job *j)
{
	apply_ctx  *ctx = w->run->ctx;
	const copy_table *t = &w->run->tables[j->table];
	char		lsn[32], src_s[16], ti_s[16], chunk_s[16], rows_s[32], bytes_s[32];
	const char *params[7] = {ctx->plan->name, src_s, ti_s, chunk_s, rows_s, bytes_s, lsn};

	for (int s = 0; s < ctx->plan->nshards; s++)
		if (j->need[s] && !copy_end_on(t, w->dst[s]))
			return false;
	lsn_format(ctx->sources[j->source].snapshot_lsn, lsn, sizeof(lsn));
	snprintf(src_s, sizeof(src_s), "%d", j->source);
	snprintf(ti_s, sizeof(ti_s), "%d", j->table);
	snprintf(chunk_s, sizeof(chunk_s), "%d", j->chunk);
	for (int s = 0; s < ctx->plan->nshards; s++)
	{
		pgr_conn   *d = w->dst[s];

		if (!j->need[s])
			continue;
		snprintf(rows_s, sizeof(rows_s), "%lld", w->rows[s]);
		snprintf(bytes_s, sizeof(bytes_s), "%lld", w->bytes[s]);
		if (!copy_results_ok(d, "writing rows") ||
			!pgr_exec(d, "recording the chunk",
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
	char	   *sql = chunk_query(t, j);
	bool		ok = chunk_begin(w, j, t) && chunk_stream(w, j, t, sql, NULL) && chunk_commit(w, j);

	free(sql);

	if (!ok)
	{
		if (!atomic_load(&w->run->rewritten))
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

/*
 * Round k of a slice: the slice's own transaction on each shard that still
 * misses the round (a COPY), the round's blocks read and routed, then on
 * each of those shards the COPY ended, the round recorded with the
 * slice's counts and committed, all shards before any answer is awaited.
 */
static bool
slice_round(worker *w, scan_group *g, int slice, int k, slice_bufs *sb)
{
	copy_run   *run = w->run;
	const copy_job *j0 = g->jobs[0];
	copy_table *t = &run->tables[j0->table];
	int			nshards = sb->nshards;
	bool		ok = true, any = false;
	char	   *sql;

	for (int s = 0; s < nshards; s++)
	{
		sb->active[s] = g->need[s] && g->from_round[slice * nshards + s] <= k;
		any = any || sb->active[s];
	}
	if (!any)
		return true;
	for (int s = 0; ok && s < nshards; s++)
		if (sb->active[s])
			ok = worker_conn(w, false, s) != NULL && shard_copy_begin(w->dst[s], t, j0);
	sql = copy_group_round_query(t, g, slice, k);
	ok = ok && chunk_stream(w, j0, t, sql, sb);
	free(sql);
	for (int s = 0; ok && s < nshards; s++)
		if (sb->active[s])
			ok = copy_end_on(t, w->dst[s]);
	for (int s = 0; ok && s < nshards; s++)
		if (sb->active[s])
			ok = copy_results_ok(w->dst[s], "writing rows") &&
				copy_scan_send_round(run->ctx, g, w->dst[s], s, slice, k + 1, &sb->nrows[s * g->n],
									 &sb->nbytes[s * g->n]);
	for (int s = 0; ok && s < nshards; s++)
		if (sb->active[s])
			ok = copy_results_ok(w->dst[s], "recording a round of a shared scan");
	if (ok && run->chunk_delay_ms > 0)
	{
		struct timespec ts = {run->chunk_delay_ms / 1000, (run->chunk_delay_ms % 1000) * 1000000L};

		nanosleep(&ts, NULL);
	}
	return ok;
}

/*
 * One slice of a shared scan: the group's key range in one range of the
 * table's blocks, under the copy's snapshot, round by round (copy_group.c),
 * from the first round some shard still misses.
 */
static bool
group_slice(worker *w, scan_group *g, int slice)
{
	copy_run   *run = w->run;
	const copy_job *j0 = g->jobs[0];
	copy_table *t = &run->tables[j0->table];
	int			nshards = run->ctx->plan->nshards;
	size_t		ncounts = (size_t) g->n * (size_t) nshards;
	slice_bufs	sb = {g, nshards, xcalloc((size_t) nshards, sizeof(strbuf)), xcalloc((size_t) nshards, sizeof(bool)),
		xcalloc(ncounts, sizeof(long long)), xcalloc(ncounts, sizeof(long long)), 0};
	int			first = g->rounds;
	bool		ok;

	/* at most ~2 MiB buffered per worker, whatever the shards */
	sb.flush_at = (size_t) (2 << 20) / (size_t) nshards;
	sb.flush_at = sb.flush_at < 4096 ? 4096 : sb.flush_at > 65536 ? 65536 : sb.flush_at;
	for (int s = 0; s < nshards; s++)
	{
		size_t		at = (size_t) slice * (size_t) nshards + (size_t) s;

		sb_init(&sb.buf[s]);
		memcpy(&sb.nrows[(size_t) s * (size_t) g->n], &g->rows[at * (size_t) g->n], sizeof(long long) * (size_t) g->n);
		memcpy(&sb.nbytes[(size_t) s * (size_t) g->n], &g->bytes[at * (size_t) g->n], sizeof(long long) * (size_t) g->n);
		if (g->need[s] && g->from_round[at] < first)
			first = g->from_round[at];
	}
	/*
	 * The slice's block range: a TID range scan, never the key's index.  And
	 * no JIT in this transaction: with those scans off, any other plan in it
	 * (the rewrite check's catalog lookup after the COPY) costs 10^10, which
	 * JIT-compiled it with inlining and optimization, 120-300 ms of the
	 * source's CPU for each slice: more than a pass over a 2M-row table.
	 */
	ok = first >= g->rounds ||
		(source_begin(w, j0->source) &&
		 pgr_exec(w->src[j0->source], "reading a block range",
				  "SELECT set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true), "
				  "set_config('enable_indexscan', 'off', true), set_config('enable_indexonlyscan', 'off', true), "
				  "set_config('jit', 'off', true)",
				  0, NULL));
	for (int k = first; ok && k < g->rounds; k++)
		ok = slice_round(w, g, slice, k, &sb);
	ok = ok && (first >= g->rounds || pgr_exec(w->src[j0->source], "ending the source transaction", "COMMIT", 0, NULL));
	for (int s = 0; s < nshards; s++)
		sb_free(&sb.buf[s]);
	free(sb.buf);
	free(sb.active);
	free(sb.nrows);
	free(sb.nbytes);
	if (ok && atomic_fetch_add(&g->slices_done, 1) + 1 == g->nslices)
	{
		t->chunks_done += g->n;
		log_debug("copy: table %s, chunks %d to %d done", t->display, j0->chunk + 1, g->jobs[g->n - 1]->chunk + 1);
	}
	if (!ok)
	{
		if (!atomic_load(&run->rewritten))
			log_error("copy: table %s, chunks %d to %d (read together), slice %d of %d failed; a rerun of apply "
					  "continues after its last committed round under the same snapshot, else redoes them",
					  t->display, j0->chunk + 1, g->jobs[g->n - 1]->chunk + 1, slice + 1, g->nslices);
		worker_drop_connections(w);
	}
	return ok;
}

static bool
next_work(copy_run *run, copy_work *out)
{
	bool		got = false;

	pthread_mutex_lock(&run->lock);
	if (run->next_work < run->nwork && !atomic_load(&run->abort))
	{
		*out = run->work[run->next_work++];
		got = true;
	}
	pthread_mutex_unlock(&run->lock);
	return got;
}

void *
copy_worker_main(void *arg)
{
	worker		w = {0};
	const plan *p;
	copy_work	work;
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
	while (ok && next_work(w.run, &work))
		if (!(ok = work.group ? group_slice(&w, work.group, work.slice) : copy_chunk(&w, work.job)))
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
