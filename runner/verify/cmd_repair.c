/*
 * cmd_repair.c — `pgreshard repair PLAN [TABLE...]`: re-copy what verify
 * finds different, before the cutover, while the source keeps writing.
 *
 * Nobody should be stuck with "differences found" (a shard restored from an
 * older backup, rows written on a shard by hand, a bug): repair re-copies
 * from the source what differs, and the move continues.  A table the copy
 * split into key ranges that are the same for every source (one source, or
 * several whose chunk plans are source 0's: chunks_aligned) is repaired
 * chunk by chunk: only the chunks an exact verify found different are
 * re-copied, from every source, and only on the shards where they differ
 * (verify compares with the copy's own chunks, verify_chunks.h).  Any other
 * table, and a table named on the command line, is re-copied whole on every
 * shard.
 *
 * It reuses the copy and its rule for chunks copied later than the slot
 * (DESIGN.md invariant 4), so the stream applies nothing twice and loses
 * nothing:
 *   1. the journal's step `copy` goes back to running (a crash from here on
 *      leaves a copy that the next apply finishes before it streams);
 *   2. on every shard, one transaction deletes the table's rows and its
 *      chunks_done rows, or the differing chunks' rows (the chunk's key
 *      range) and their chunks_done rows (foreign keys and triggers do not
 *      fire: the same session_replication_role = replica an apply worker
 *      uses);
 *   3. the copy step runs: it finds those chunks missing and copies them
 *      under a fresh snapshot whose LSN each chunk records; the stream then
 *      skips, for the rows of those chunks, every change committed before it
 *      (the snapshot has them) and applies every later one;
 *   4. a flush barrier on every shard, `copy` done again, and the verify
 *      step pending with the tables' verify progress forgotten, so the next
 *      verify (or apply) compares them again.
 * It holds the plan's lock throughout (no apply streams meanwhile; the slot
 * keeps the source's changes).  Without TABLE arguments it first runs an
 * exact verify to find the differing tables.  After the cutover the shards
 * are the truth and repair refuses.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "durable.h"
#include "log.h"
#include "snapshot_keeper.h"
#include "sqlname.h"
#include "state.h"
#include "verify.h"
#include "verify_chunks.h"
#include "verify_resume.h"
#include "xalloc.h"

/* The plan's tables named on the command line, into want[]. */
static int
tables_from_args(const plan *p, int argc, char **argv, bool *want)
{
	for (int i = 0; i < argc; i++)
	{
		char	   *schema = NULL, *rel = NULL, err[256];
		const plan_table *t = NULL;

		if (!sqlname_parse_qualified(argv[i], &schema, &rel, err, sizeof(err)))
			return cli_usage_error("repair", "TABLE \"%s\": %s", argv[i], err);
		t = plan_find_table(p, schema, rel);
		free(schema);
		free(rel);
		if (t == NULL)
		{
			log_error("repair: table %s is not in plan %s", argv[i], p->path);
			return EXIT_ERROR;
		}
		want[t - p->tables] = true;
	}
	return EXIT_OK;
}

/* What to re-copy: whole tables, and chunks on the shards where they differ. */
typedef struct repair_set {
	bool	   *whole;			/* [ntables] */
	int			nwhole;
	verify_chunk_diff *chunks;
	int			nchunks;
	int			nchunk_tables;	/* tables repaired by chunk */
} repair_set;

/*
 * Whether chunk c of table t is the same key range for every source that
 * copies it (one source; a replicated table, copied from source 0 only; or
 * several sources whose chunk plans are source 0's, copy_chunks.c): then
 * the verify unit c is chunk c of each of them, and re-copying it from each
 * source fills exactly the rows removed.
 */
static bool
chunks_aligned(apply_ctx *ctx, int t, bool *aligned)
{
	const plan *p = ctx->plan;
	char		ti[16], ns[16];
	const char *params[3] = {p->name, ti, ns};
	PGresult   *res;

	snprintf(ti, sizeof(ti), "%d", t);
	snprintf(ns, sizeof(ns), "%d", p->tables[t].replicate ? 1 : p->nsources);
	res = pgr_query(ctx->state, "comparing the sources' chunk plans",
					"SELECT count(*) > 0 AND bool_and(n = $3::int) FROM (SELECT count(*) n FROM pgreshard.chunk_plan "
					"WHERE plan_name = $1 AND table_index = $2::int "
					"GROUP BY chunk, chunk_by, lo_key, hi_key, leaf_name) x", 3, params);
	if (res == NULL)
		return false;
	*aligned = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return true;
}

/* No TABLE given: what an exact verify finds different. */
static bool
tables_from_verify(apply_ctx *ctx, repair_set *rs)
{
	verify_result r;
	bool		ok = verify_run(ctx, true, 1, NULL, &r) && verify_store_results(ctx, &r);

	for (int t = 0; ok && t < r.ntables; t++)
	{
		bool		aligned = false;

		if (r.tables[t].differences == 0)
			continue;
		log_info("repair: verify found %d difference(s) in table %s", r.tables[t].differences,
				 ctx->plan->tables[t].spec);
		if (r.nchunks[t] > 1 && !(ok = chunks_aligned(ctx, t, &aligned)))
			break;
		if (r.nchunks[t] <= 1 || !aligned)
		{
			rs->whole[t] = true;
			rs->nwhole++;
			continue;
		}
		rs->nchunk_tables++;
		for (int i = 0; i < r.nchunk_diffs; i++)
			if (r.chunk_diffs[i].table == t)
			{
				rs->chunks = xrealloc(rs->chunks, sizeof(verify_chunk_diff) * (size_t) (rs->nchunks + 1));
				rs->chunks[rs->nchunks++] = r.chunk_diffs[i];
				log_info("repair: table %s, chunk %d of %d differs on shard %d: re-copying that chunk "
						 "there", ctx->plan->tables[t].spec, r.chunk_diffs[i].chunk + 1, r.nchunks[t],
						 r.chunk_diffs[i].shard);
			}
	}
	verify_result_free(&r);
	return ok;
}

/* Chunk d on shard s (connection c): its rows and its chunk record. */
static bool
clear_chunk(apply_ctx *ctx, pgr_conn *c, const verify_chunks *vc, const verify_chunk_diff *d)
{
	const plan *p = ctx->plan;
	char		ti[16], ch[16];
	const char *params[3] = {p->name, ti, ch};
	char	   *q = pgr_quote_qualified(c, p->tables[d->table].schema, p->tables[d->table].relname);
	char	   *sql;
	bool		ok;

	if (d->chunk >= vc[d->table].n || !vc[d->table].split)
	{
		log_error("repair: table %s: its chunk plan changed since verify; run repair again",
				  p->tables[d->table].spec);
		free(q);
		return false;
	}
	snprintf(ti, sizeof(ti), "%d", d->table);
	snprintf(ch, sizeof(ch), "%d", d->chunk);
	/* a partitioned table's rows are in its partitions */
	sql = xasprintf("DELETE FROM %s%s WHERE %s", catalog_table(ctx->cat, d->table)->partitioned ? "" : "ONLY ",
					q, vc[d->table].where[d->chunk]);
	ok = pgr_exec(c, "removing the chunk's rows to re-copy", sql, 0, NULL) &&
		pgr_exec(c, "forgetting the chunk",
				 "DELETE FROM pgreshard.chunks_done WHERE plan_name = $1 "
				 "AND table_index = $2::int AND chunk = $3::int", 3, params);
	free(sql);
	free(q);
	return ok;
}

/* Step 2 on shard s: the tables' rows and chunk records, in one transaction. */
static bool
clear_on_shard(apply_ctx *ctx, int s, const repair_set *rs, const verify_chunks *vc)
{
	const bool *want = rs->whole;
	const plan *p = ctx->plan;
	pgr_conn   *c = connect_shard(p, s);
	bool		ok = c != NULL &&
		pgr_exec(c, "repairing", "BEGIN; SET LOCAL session_replication_role = replica", 0, NULL);

	for (int t = 0; ok && t < p->ntables; t++)
	{
		char		ti[16];
		const char *params[2] = {p->name, ti};
		char	   *q, *sql;

		if (!want[t])
			continue;
		snprintf(ti, sizeof(ti), "%d", t);
		q = pgr_quote_qualified(c, p->tables[t].schema, p->tables[t].relname);
		sql = xasprintf("DELETE FROM ONLY %s", q);
		ok = pgr_exec(c, "removing the rows to re-copy", sql, 0, NULL) &&
			pgr_exec(c, "forgetting the table's chunks",
					 "DELETE FROM pgreshard.chunks_done WHERE plan_name = $1 AND table_index = $2::int",
					 2, params);
		free(sql);
		free(q);
	}
	for (int i = 0; ok && i < rs->nchunks; i++)
		if (rs->chunks[i].shard == s)
			ok = clear_chunk(ctx, c, vc, &rs->chunks[i]);
	ok = ok && pgr_exec(c, "repairing", "COMMIT", 0, NULL);
	pgr_disconnect(c);
	return ok;
}

/* Steps 1 to 4 for the tables and chunks of rs. */
static bool
repair_tables(apply_ctx *ctx, const repair_set *rs)
{
	const plan *p = ctx->plan;
	const bool *want = rs->whole;
	verify_chunks *vc = NULL;
	bool		ok = verify_chunks_load(ctx, ctx->state, &vc) && state_step_start(ctx->state, p, STEP_COPY);

	for (int s = 0; ok && s < p->nshards; s++)
		ok = clear_on_shard(ctx, s, rs, vc);
	verify_chunks_free(vc, p->ntables);
	if (ok)
		log_info("repair: the rows to repair are removed from the shards; copying them again "
				 "under a fresh snapshot");
	/* a fresh snapshot, never one a keeper holds from an interrupted copy: the
	 * rows just removed would count as copied by that copy's committed rounds;
	 * under the fresh one those rounds are removed too (copy_scan.c) */
	ok = ok && keeper_release(ctx) && step_copy(ctx) && durable_flush_shards(p);
	if (!state_step_finish(ctx->state, p, STEP_COPY, ok, ok ? NULL : "repair: the re-copy failed; "
						   "run `pgreshard apply` (it finishes the copy) or repair again"))
		return false;
	for (int t = 0; ok && t < p->ntables; t++)
		if (want[t])
			ok = verify_progress_clear(ctx->state, p, t);
	for (int i = 0; ok && i < rs->nchunks; i++)
		ok = verify_progress_clear(ctx->state, p, rs->chunks[i].table);
	return ok && pgr_exec(ctx->state, "asking for a new verify",
						  "UPDATE pgreshard.steps SET state = 'pending' WHERE plan_name = $1 "
						  "AND step = 'verify'", 1, (const char *[]) {p->name});
}

/* The plan's lock, a finished copy and no cutover yet; false says why. */
static bool
may_repair(apply_ctx *ctx)
{
	const plan *p = ctx->plan;
	step_state	copy = STEP_PENDING, cut = STEP_PENDING;
	bool		locked = false;

	if (!state_try_lock(ctx->state, p, &locked) || !state_step_get(ctx->state, p, STEP_COPY, &copy) ||
		!state_step_get(ctx->state, p, STEP_CUTOVER, &cut))
		return false;
	if (!locked)
		log_error("repair: plan %s is being applied by another process (its lock on shard 0 is held); "
				  "stop it or let it finish, then run repair again", p->name);
	else if (cut == STEP_DONE)
		log_error("repair: the cutover of plan %s is done: the shards are the truth now and repair "
				  "refuses to overwrite them", p->name);
	else if (copy != STEP_DONE && copy != STEP_RUNNING && copy != STEP_FAILED)
		log_error("repair: plan %s has not copied anything yet; run `pgreshard apply %s`", p->name,
				  p->path);
	else
		return true;
	return false;
}

int
cmd_repair(int argc, char **argv)
{
	apply_ctx	ctx;
	plan	   *p;
	repair_set	rs = {0};
	int			rc = EXIT_ERROR;

	if (cli_getopt(argc, argv, "", NULL, "repair") != -1)
		return EXIT_USAGE;
	if (argc - optind < 1)
		return cli_usage_error("repair", "expected PLAN.yaml [TABLE...]");
	if (!plan_load(argv[optind], &p))
		return EXIT_ERROR;
	rs.whole = xcalloc((size_t) p->ntables + 1, sizeof(bool));
	rc = tables_from_args(p, argc - optind - 1, argv + optind + 1, rs.whole);
	for (int t = 0; t < p->ntables; t++)
		rs.nwhole += rs.whole[t];
	apply_ctx_init(&ctx, p, STEP_COPY);
	if (rc == EXIT_OK)
	{
		rc = EXIT_ERROR;
		ctx.state = pgr_connect(p->shard_dsns[0], "shard 0", 0);
		if (ctx.state && state_init_schema(ctx.state) && catalog_inspect(p, &ctx.cat) &&
			may_repair(&ctx) && (rs.nwhole > 0 || tables_from_verify(&ctx, &rs)))
		{
			if (rs.nwhole == 0 && rs.nchunks == 0)
			{
				printf("repair: source and shards match; nothing to repair\n");
				rc = EXIT_OK;
			}
			else if (repair_tables(&ctx, &rs))
			{
				if (rs.nchunks > 0)
					printf("repair: %d chunk(s) of %d table(s) copied again\n", rs.nchunks, rs.nchunk_tables);
				if (rs.nwhole > 0)
					printf("repair: %d table(s) copied again\n", rs.nwhole);
				printf("repair: `pgreshard verify %s` checks them, `pgreshard apply %s` continues the move\n",
					   p->path, p->path);
				rc = EXIT_OK;
			}
		}
	}
	apply_ctx_close(&ctx);
	free(rs.whole);
	free(rs.chunks);
	plan_free(p);
	return rc;
}
