/*
 * verify_resume.c — pgreshard.verify_progress: the tables an unfinished
 * verify has compared.  See verify_resume.h.
 */
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "verify_resume.h"
#include "xalloc.h"

bool
verify_progress_load(apply_ctx *ctx, bool *done, verify_result *out)
{
	const plan *p = ctx->plan;
	const char *params[1] = {p->name};
	PGresult   *res = pgr_query(ctx->state, "reading an interrupted verify's progress",
								"SELECT table_index, shard, source_rows, shard_rows, differences, snapshot_lsn "
								"FROM pgreshard.verify_progress WHERE plan_name = $1 ORDER BY 1, 2",
								1, params);

	if (res == NULL)
		return false;
	for (int r = 0; r < PQntuples(res); r++)
	{
		int			t = atoi(PQgetvalue(res, r, 0)), s = atoi(PQgetvalue(res, r, 1));
		verify_table_result *tr;

		if (t < 0 || t >= p->ntables || s < 0 || s >= p->nshards)
			continue;
		tr = &out->tables[t];
		if (!done[t])
		{
			done[t] = true;
			tr->shard_rows = xcalloc((size_t) p->nshards, sizeof(long long));
			tr->found_rows = xcalloc((size_t) p->nshards, sizeof(long long));
			tr->shard_differences = xcalloc((size_t) p->nshards, sizeof(int));
			log_info("verify: table %s was compared by an interrupted verify (at %s): not again",
					 p->tables[t].spec, PQgetvalue(res, r, 5));
		}
		tr->shard_rows[s] = atoll(PQgetvalue(res, r, 2));
		tr->found_rows[s] = atoll(PQgetvalue(res, r, 3));
		tr->shard_differences[s] = atoi(PQgetvalue(res, r, 4));
		tr->differences += tr->shard_differences[s];
		out->total_differences += tr->shard_differences[s];
		if (!p->tables[t].replicate || s == 0)
			tr->source_rows += tr->shard_rows[s];
	}
	PQclear(res);
	return true;
}

bool
verify_progress_add(apply_ctx *ctx, int t, const verify_table_result *tr, uint64_t lsn)
{
	const plan *p = ctx->plan;
	bool		ok = pgr_exec(ctx->state, "recording verify progress", "BEGIN", 0, NULL);

	for (int s = 0; ok && s < p->nshards; s++)
	{
		char		ti[16], sh[16], sr[32], fr[32], d[16], l[32];
		const char *params[7] = {p->name, ti, sh, sr, fr, d, l};

		snprintf(ti, sizeof(ti), "%d", t);
		snprintf(sh, sizeof(sh), "%d", s);
		snprintf(sr, sizeof(sr), "%lld", tr->shard_rows[s]);
		snprintf(fr, sizeof(fr), "%lld", tr->found_rows[s]);
		snprintf(d, sizeof(d), "%d", tr->shard_differences[s]);
		lsn_format(lsn, l, sizeof(l));
		ok = pgr_exec(ctx->state, "recording verify progress",
					  "INSERT INTO pgreshard.verify_progress (plan_name, table_index, shard, source_rows, "
					  "shard_rows, differences, snapshot_lsn) VALUES ($1, $2, $3, $4, $5, $6, $7) "
					  "ON CONFLICT (plan_name, table_index, shard) DO UPDATE SET source_rows = "
					  "excluded.source_rows, shard_rows = excluded.shard_rows, differences = "
					  "excluded.differences, snapshot_lsn = excluded.snapshot_lsn, done_at = now()",
					  7, params);
	}
	return pgr_exec(ctx->state, "recording verify progress", ok ? "COMMIT" : "ROLLBACK", 0, NULL) && ok;
}

bool
verify_progress_clear(pgr_conn *state, const plan *p, int t)
{
	char		ti[16];
	const char *params[2] = {p->name, ti};

	snprintf(ti, sizeof(ti), "%d", t);
	return pgr_exec(state, "clearing verify progress",
					"DELETE FROM pgreshard.verify_progress WHERE plan_name = $1 "
					"AND ($2::int < 0 OR table_index = $2::int)", 2, params);
}
