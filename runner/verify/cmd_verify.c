/*
 * cmd_verify.c — `pgreshard verify PLAN [--json]` and the apply step
 * `verify`: run verify.c's comparison, let the stream catch up between
 * rounds when differences may only be lag, keep the result in
 * pgreshard.verify_results, and report tables, shards and keys.
 * Exit 0 when source and shards match, 4 when they differ.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "sqlname.h"
#include "state.h"
#include "stream.h"
#include "verify.h"
#include "verify_resume.h"
#include "xalloc.h"

/* Between rounds when another apply streams: give it a moment. */
static bool
wait_a_little(apply_ctx *ctx)
{
	(void) ctx;
	sleep(2);
	return true;
}

/* The result per (table, shard), replacing the previous one, in one
 * transaction that also ends the verify: its progress is cleared. */
bool
verify_store_results(apply_ctx *ctx, const verify_result *r)
{
	bool		ok = pgr_exec(ctx->state, "recording the verify result", "BEGIN", 0, NULL) &&
		pgr_exec(ctx->state, "recording the verify result",
				 "DELETE FROM pgreshard.verify_results WHERE plan_name = $1", 1,
				 (const char *[]) {ctx->plan->name}) &&
		verify_progress_clear(ctx->state, ctx->plan, -1);

	for (int t = 0; ok && t < r->ntables; t++)
		for (int s = 0; ok && s < ctx->plan->nshards; s++)
		{
			char		ti[16], sh[16], sr[32], fr[32], d[16];
			const char *params[6] = {ctx->plan->name, ti, sh, sr, fr, d};

			snprintf(ti, sizeof(ti), "%d", t);
			snprintf(sh, sizeof(sh), "%d", s);
			snprintf(sr, sizeof(sr), "%lld", r->tables[t].shard_rows[s]);
			snprintf(fr, sizeof(fr), "%lld", r->tables[t].found_rows[s]);
			snprintf(d, sizeof(d), "%d", r->tables[t].shard_differences[s]);
			ok = pgr_exec(ctx->state, "recording the verify result",
						  "INSERT INTO pgreshard.verify_results (plan_name, table_index, shard, "
						  "source_rows, shard_rows, differences) VALUES ($1, $2, $3, $4, $5, $6)", 6, params);
		}
	return pgr_exec(ctx->state, "recording the verify result", ok ? "COMMIT" : "ROLLBACK", 0, NULL) && ok;
}

static void
print_text(const apply_ctx *ctx, const verify_result *r)
{
	const plan *p = ctx->plan;

	printf("verify: %d table(s), %d shard(s), %.2f s\n", r->ntables, p->nshards, r->seconds);
	printf("  %-32s %5s %12s %12s %6s\n", "TABLE", "SHARD", "SOURCE", "SHARD ROWS", "DIFFS");
	for (int t = 0; t < r->ntables; t++)
	{
		char	   *name = sqlname_quote_qualified(p->tables[t].schema, p->tables[t].relname);

		for (int s = 0; s < p->nshards; s++)
			printf("  %-32s %5d %12lld %12lld %6s\n", s == 0 ? name : "", s, r->tables[t].shard_rows[s],
				   r->tables[t].found_rows[s], r->tables[t].shard_differences[s] ? "yes" : "");
		free(name);
	}
	for (int i = 0; i < r->ndiffs; i++)
	{
		char	   *name = sqlname_quote_qualified(p->tables[r->diffs[i].table].schema,
												   p->tables[r->diffs[i].table].relname);

		char		where[64] = "";

		if (r->diffs[i].nchunks > 1)
			snprintf(where, sizeof(where), " (chunk %d of %d)", r->diffs[i].chunk + 1, r->diffs[i].nchunks);
		printf("  %s %s on shard %d%s: key %s\n", diff_kind_name(r->diffs[i].kind), name,
			   r->diffs[i].shard, where, r->diffs[i].key);
		free(name);
	}
	for (int i = 0; i < r->nchunk_diffs; i++)
	{
		const verify_chunk_diff *d = &r->chunk_diffs[i];
		char	   *name;

		if (r->nchunks[d->table] <= 1)
			continue;
		name = sqlname_quote_qualified(p->tables[d->table].schema, p->tables[d->table].relname);
		printf("  chunk %d of %d of %s differs on shard %d: %d row(s)\n", d->chunk + 1,
			   r->nchunks[d->table], name, d->shard, d->differences);
		free(name);
	}
	if (r->total_differences > r->ndiffs)
		printf("  ... and %d more\n", r->total_differences - r->ndiffs);
	printf(r->total_differences ? "verify: %d difference(s)\n" : "verify: source and shards match\n",
		   r->total_differences);
}

static bool
print_json(const apply_ctx *ctx, const verify_result *r)
{
	const plan *p = ctx->plan;
	json_t	   *tables = json_array(), *diffs = json_array(), *doc;
	int			rc;

	for (int t = 0; t < r->ntables; t++)
	{
		char	   *name = sqlname_quote_qualified(p->tables[t].schema, p->tables[t].relname);
		json_t	   *shards = json_array();

		for (int s = 0; s < p->nshards; s++)
			json_array_append_new(shards, json_pack("{s:i, s:I, s:I}", "shard", s,
													"source_rows", (json_int_t) r->tables[t].shard_rows[s],
													"shard_rows", (json_int_t) r->tables[t].found_rows[s]));
		json_array_append_new(tables, json_pack("{s:s, s:I, s:i, s:o}", "table", name,
												"source_rows", (json_int_t) r->tables[t].source_rows,
												"differences", r->tables[t].differences, "shards", shards));
		free(name);
	}
	for (int i = 0; i < r->ndiffs; i++)
	{
		char	   *name = sqlname_quote_qualified(p->tables[r->diffs[i].table].schema,
												   p->tables[r->diffs[i].table].relname);

		json_array_append_new(diffs, json_pack("{s:s, s:i, s:s, s:s, s:i}", "table", name, "shard",
											   r->diffs[i].shard, "kind", diff_kind_name(r->diffs[i].kind),
											   "key", r->diffs[i].key, "chunk", r->diffs[i].chunk + 1));
		free(name);
	}
	doc = json_pack("{s:i, s:s, s:b, s:i, s:f, s:o, s:o}", "format_version", 1, "plan", p->name,
					"ok", r->total_differences == 0, "total_differences", r->total_differences,
					"seconds", r->seconds, "tables", tables, "differences", diffs);
	rc = doc ? json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : -1;
	printf("\n");
	json_decref(doc);
	return rc == 0;
}

void
verify_log_differences(const apply_ctx *ctx, const verify_result *r)
{
	for (int i = 0; i < r->ndiffs && i < 10; i++)
		log_error("verify: %s row on shard %d of %s (chunk %d of %d): key %s",
				  diff_kind_name(r->diffs[i].kind), r->diffs[i].shard,
				  ctx->plan->tables[r->diffs[i].table].spec, r->diffs[i].chunk + 1, r->diffs[i].nchunks,
				  r->diffs[i].key);
	log_error("verify: %d difference(s): the shards are inconsistent with the source; `pgreshard "
			  "verify %s` gives the full report and `pgreshard repair %s` re-copies the differing "
			  "chunks (before the cutover)", r->total_differences, ctx->plan->path, ctx->plan->path);
}

bool
step_verify(apply_ctx *ctx)
{
	verify_result r = {0};
	bool		ok = cutover_schema_check(ctx) && verify_run(ctx, true, 1, NULL, &r) &&
		verify_store_results(ctx, &r);

	if (ok && r.total_differences > 0)
	{
		verify_log_differences(ctx, &r);
		ok = false;
	}
	else if (ok)
		log_info("verify: source and shards match (%.2f s)", r.seconds);
	verify_result_free(&r);
	return ok;
}

/* A state schema made by an older pgreshard gets the tables it lacks
 * (verify_progress); none is created where no apply has run. */
static bool
state_schema_upgrade(pgr_conn *c)
{
	PGresult   *res = pgr_query(c, "looking for pgreshard state",
								"SELECT to_regclass('pgreshard.runs') IS NOT NULL", 0, NULL);
	bool		read = res != NULL, exists = read && PQgetvalue(res, 0, 0)[0] == 't';

	PQclear(res);
	return read && (!exists || state_init_schema(c));
}

int
cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	bool		json = false, locked = false;
	apply_ctx	ctx;
	verify_result r = {0};
	step_state	cut = STEP_PENDING;	/* after the cutover the source is frozen: no stream */
	plan	   *p;
	int			c, rc = EXIT_ERROR;

	while ((c = cli_getopt(argc, argv, "", opts, "verify")) != -1)
	{
		if (c == '?')
			return EXIT_USAGE;
		json = true;
	}
	if (argc - optind != 1)
		return cli_usage_error("verify", "expected one PLAN.yaml argument");
	if (!plan_load(argv[optind], &p))
		return EXIT_ERROR;
	apply_ctx_init(&ctx, p, STEP_VERIFY);
	ctx.state = pgr_connect(p->shard_dsns[0], "shard 0", 0);
	/* with the plan's lock the comparison is exact (snapshot + drain to it);
	 * without it an apply is running and streaming: look again a moment later */
	if (ctx.state && catalog_inspect(p, &ctx.cat) && state_try_lock(ctx.state, p, &locked) &&
		(!locked || state_schema_upgrade(ctx.state)) &&
		state_step_get(ctx.state, p, STEP_CUTOVER, &cut) &&
		verify_run(&ctx, locked && cut != STEP_DONE, 4, wait_a_little, &r))
	{
		if (json ? print_json(&ctx, &r) : (print_text(&ctx, &r), true))
			rc = r.total_differences ? EXIT_DIFFERENCES : EXIT_OK;
		if (locked)
			verify_store_results(&ctx, &r);
	}
	verify_result_free(&r);
	apply_ctx_close(&ctx);
	plan_free(p);
	return rc;
}
