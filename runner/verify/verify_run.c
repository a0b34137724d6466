/*
 * verify_run.c — one verify run: the snapshot (exact mode), the units to
 * compare (the copy's chunks, verify_chunks.h), what an interrupted verify
 * already did (verify_resume.h), and the comparison chunk by chunk (exact)
 * or table by table in rounds (while an apply streams).  The comparison
 * itself is verify.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "copy.h"
#include "log.h"
#include "stream.h"
#include "verify_chunks.h"
#include "verify_int.h"
#include "verify_resume.h"
#include "xalloc.h"

/* Testing knob: PGRESHARD_TEST_VERIFY_DELAY_MS after each chunk (each table
 * not split), so that a test can kill a verify halfway. */
static bool
test_pause(void)
{
	const char *ms = getenv("PGRESHARD_TEST_VERIFY_DELAY_MS");

	if (ms != NULL && atoi(ms) > 0)
	{
		struct timespec ts = {atoi(ms) / 1000, (atoi(ms) % 1000) * 1000000L};

		nanosleep(&ts, NULL);
	}
	return true;
}

/* Exact mode: a snapshot per source, and every shard brought exactly to it. */
static bool
snapshot_and_drain(apply_ctx *ctx)
{
	bool		partitioned = false;

	/* the exact drain stops at the snapshot; what pgoutput does not carry of
	 * a partitioned table (a partition attached with its rows, one detached)
	 * is followed by a stream run past the source's catalog
	 * (runner/follow/stream_attach.c): one first, then the snapshot */
	for (int t = 0; t < ctx->plan->ntables && !partitioned; t++)
		partitioned = catalog_table(ctx->cat, t)->partitioned;
	for (int i = 0; partitioned && i < ctx->plan->nsources; i++)
		if (!stream_run_source(ctx, i, true))
			return false;
	for (int i = 0; i < ctx->plan->nsources; i++)
		if (!source_snapshot(ctx, i))
			return false;
	for (int i = 0; i < ctx->plan->nsources; i++)
		if (!stream_drain_exact(ctx, i, ctx->sources[i].snapshot_lsn))
			return false;
	return true;
}

/*
 * After a unit of table t was read under the snapshot: was the table
 * rewritten or truncated on a source since (its file number under the
 * snapshot is not the current one)?  Then the snapshot sees it empty
 * (TRUNCATE and rewriting ALTER TABLE are not MVCC-safe), and comparing
 * would report every row missing: the verify stops and says to run it
 * again, which resumes after the units already compared, under a new
 * snapshot (runner/copy/copy_rewrite.c has the same check for the copy).
 */
static bool
sources_unchanged(vstate *v, int t)
{
	const plan *p = v->ctx->plan;
	bool		ok = true;

	for (int i = 0; ok && i < (p->tables[t].replicate ? 1 : p->nsources); i++)
	{
		char	   *q = pgr_quote_qualified(v->src[i], p->tables[t].schema, p->tables[t].relname);
		bool		rewritten = false;

		ok = copy_rel_rewritten(v->src[i], q, &rewritten) && !rewritten;
		if (rewritten)
			log_error("verify: table %s was rewritten or truncated on %s after the verify's snapshot "
					  "(ALTER TABLE ... TYPE, TRUNCATE, VACUUM FULL, ...): the snapshot no longer sees its "
					  "rows; run verify again (it resumes after the chunks already compared)",
					  p->tables[t].spec, v->ctx->sources[i].role);
		free(q);
	}
	return ok;
}

/* Exact mode: chunk by chunk, each recorded once compared (a rerun resumes
 * at the first chunk not recorded); lsn: the comparison's snapshot. */
static bool
compare_exact(vstate *v, const verify_chunks *vc, bool **done, uint64_t lsn, verify_result *out)
{
	const plan *p = v->ctx->plan;
	verify_table_result cr = {0};
	bool		ok = true;

	cr.shard_rows = xcalloc((size_t) p->nshards, sizeof(long long));
	cr.found_rows = xcalloc((size_t) p->nshards, sizeof(long long));
	for (int t = 0; ok && t < p->ntables; t++)
	{
		int			now = 0;

		for (int c = 0; ok && c < vc[t].n; c++)
		{
			if (done[t][c])
				continue;
			v->where = vc[t].where ? vc[t].where[c] : NULL;
			v->chunk = c;
			v->nchunks = vc[t].n;
			ok = verify_aggregate_table(v, t) && sources_unchanged(v, t) && verify_compare_unit(v, t, &cr, out) &&
				verify_progress_add(v->ctx, t, c, &cr, lsn) && test_pause();
			now += ok;
		}
		if (ok && vc[t].split && now > 0)
			log_info("verify: table %s: %d of %d chunk(s) compared", p->tables[t].spec, now, vc[t].n);
	}
	v->where = NULL;
	free(cr.shard_rows);
	free(cr.found_rows);
	return ok;
}

/* Non-exact mode: every table whole, re-checked between rounds. */
static bool
compare_rounds(vstate *v, int rounds, bool (*between)(apply_ctx *ctx), verify_result *out)
{
	const plan *p = v->ctx->plan;
	verify_table_result cr = {0};
	bool		ok = true;

	for (int t = 0; ok && t < p->ntables; t++)
		ok = verify_aggregate_table(v, t);
	ok = ok && verify_recheck(v, rounds, between);
	cr.shard_rows = xcalloc((size_t) p->nshards, sizeof(long long));
	cr.found_rows = xcalloc((size_t) p->nshards, sizeof(long long));
	for (int t = 0; ok && t < p->ntables; t++)
		ok = verify_compare_unit(v, t, &cr, out);
	free(cr.shard_rows);
	free(cr.found_rows);
	return ok;
}

/* The result's arrays, every table's zeroed. */
static void
result_init(const plan *p, verify_result *out)
{
	memset(out, 0, sizeof(*out));
	out->ntables = p->ntables;
	out->tables = xcalloc((size_t) p->ntables + 1, sizeof(verify_table_result));
	out->nchunks = xcalloc((size_t) p->ntables + 1, sizeof(int));
	for (int t = 0; t < p->ntables; t++)
	{
		out->tables[t].shard_rows = xcalloc((size_t) p->nshards, sizeof(long long));
		out->tables[t].found_rows = xcalloc((size_t) p->nshards, sizeof(long long));
		out->tables[t].shard_differences = xcalloc((size_t) p->nshards, sizeof(int));
		out->nchunks[t] = 1;
	}
}

bool
verify_run(apply_ctx *ctx, bool exact, int rounds, bool (*between)(apply_ctx *ctx),
		   verify_result *out)
{
	const plan *p = ctx->plan;
	vstate		v = {0};
	size_t		cells = (size_t) p->ntables * (size_t) p->nshards * VERIFY_BUCKETS;
	double		start = mono_seconds();
	verify_chunks *vc = NULL;
	bool		ok, **done = xcalloc((size_t) p->ntables + 1, sizeof(bool *));
	int			todo = 0;
	uint64_t	lsn = 0;

	result_init(p, out);
	v.ctx = ctx;
	v.nshards = p->nshards;
	v.nchunks = 1;
	v.unit_diffs = xcalloc((size_t) p->nshards, sizeof(int));
	v.src = xcalloc((size_t) p->nsources, sizeof(pgr_conn *));
	v.dst = xcalloc((size_t) p->nshards, sizeof(pgr_conn *));
	v.sql = xcalloc((size_t) p->ntables, sizeof(table_sql));
	v.src_agg = xcalloc(cells, sizeof(agg));
	v.dst_agg = xcalloc(cells, sizeof(agg));
	v.misplaced = xcalloc(cells, sizeof(long long));
	for (int t = 0; t < p->ntables; t++)
		verify_build_table_sql(&v, t, &v.sql[t]);
	v.exact = exact;
	ok = (p->sharding != SHARD_FN_LUA || hooks_open(p, &v.hooks)) &&
		(!exact || verify_chunks_load(ctx, ctx->state, &vc));
	for (int t = 0; ok && t < p->ntables; t++)
	{
		done[t] = xcalloc((size_t) (vc ? vc[t].n : 1), sizeof(bool));
		out->nchunks[t] = vc ? vc[t].n : 1;
	}
	ok = ok && (!exact || verify_progress_load(ctx, vc, done, out));
	for (int t = 0; ok && t < p->ntables; t++)
		for (int c = 0; c < out->nchunks[t]; c++)
			todo += !done[t][c];
	ok = ok && (todo == 0 || ((!exact || snapshot_and_drain(ctx)) && verify_connect_all(&v)));
	for (int i = 0; ok && exact && i < p->nsources; i++)
		lsn = ctx->sources[i].snapshot_lsn > lsn ? ctx->sources[i].snapshot_lsn : lsn;
	if (ok)
		ok = exact ? compare_exact(&v, vc, done, lsn, out) : compare_rounds(&v, rounds, between, out);
	for (int t = 0; t < p->ntables; t++)
		free(done[t]);
	free(done);
	verify_chunks_free(vc, p->ntables);
	free(v.unit_diffs);
	out->seconds = mono_seconds() - start;
	verify_vstate_free(&v);
	if (exact)
		source_sessions_close(ctx);	/* drops the temporary slots */
	return ok;
}

void
verify_result_free(verify_result *r)
{
	for (int t = 0; r->tables && t < r->ntables; t++)
	{
		free(r->tables[t].shard_rows);
		free(r->tables[t].found_rows);
		free(r->tables[t].shard_differences);
	}
	for (int i = 0; i < r->ndiffs; i++)
		free(r->diffs[i].key);
	free(r->tables);
	free(r->diffs);
	free(r->chunk_diffs);
	free(r->nchunks);
	memset(r, 0, sizeof(*r));
}
