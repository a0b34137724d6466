/*
 * verify_resume.c — pgreshard.verify_chunks: the chunks an unfinished
 * verify has compared.  See verify_resume.h.
 */
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "verify_resume.h"
#include "xalloc.h"

void
verify_chunk_diff_add(verify_result *out, int t, int c, int s, int n)
{
	out->chunk_diffs = xrealloc(out->chunk_diffs, sizeof(verify_chunk_diff) * (size_t) (out->nchunk_diffs + 1));
	out->chunk_diffs[out->nchunk_diffs++] = (verify_chunk_diff) {t, c, s, n};
}

/* Say which tables an interrupted verify compared, whole or in part. */
static void
log_resumed(const plan *p, const verify_chunks *vc, bool **done, char **at)
{
	for (int t = 0; t < p->ntables; t++)
	{
		int			n = 0;

		for (int c = 0; c < vc[t].n; c++)
			n += done[t][c];
		if (n == vc[t].n)
			log_info("verify: table %s was compared by an interrupted verify (at %s): not again",
					 p->tables[t].spec, at[t]);
		else if (n > 0)
			log_info("verify: table %s: %d of %d chunk(s) were compared by an interrupted verify "
					 "(at %s): not again", p->tables[t].spec, n, vc[t].n, at[t]);
	}
}

bool
verify_progress_load(apply_ctx *ctx, const verify_chunks *vc, bool **done, verify_result *out)
{
	const plan *p = ctx->plan;
	const char *params[1] = {p->name};
	char	  **at;
	PGresult   *res = pgr_query(ctx->state, "reading an interrupted verify's progress",
								"SELECT table_index, chunk, shard, source_rows, shard_rows, differences, "
								"snapshot_lsn FROM pgreshard.verify_chunks WHERE plan_name = $1 ORDER BY 1, 2, 3",
								1, params);

	if (res == NULL)
		return false;
	at = xcalloc((size_t) p->ntables + 1, sizeof(char *));
	for (int r = 0; r < PQntuples(res); r++)
	{
		int			t = atoi(PQgetvalue(res, r, 0)), c = atoi(PQgetvalue(res, r, 1));
		int			s = atoi(PQgetvalue(res, r, 2)), d = atoi(PQgetvalue(res, r, 5));
		verify_table_result *tr;
		long long	sr = atoll(PQgetvalue(res, r, 3));

		if (t < 0 || t >= p->ntables || c < 0 || c >= vc[t].n || s < 0 || s >= p->nshards)
			continue;
		tr = &out->tables[t];
		done[t][c] = true;
		at[t] = PQgetvalue(res, r, 6);
		tr->shard_rows[s] += sr;
		tr->found_rows[s] += atoll(PQgetvalue(res, r, 4));
		tr->shard_differences[s] += d;
		tr->differences += d;
		out->total_differences += d;
		if (!p->tables[t].replicate || s == 0)
			tr->source_rows += sr;
		if (d > 0)
			verify_chunk_diff_add(out, t, c, s, d);
	}
	log_resumed(p, vc, done, at);
	free(at);
	PQclear(res);
	return true;
}

bool
verify_progress_add(apply_ctx *ctx, int t, int c, const verify_table_result *cr, uint64_t lsn)
{
	const plan *p = ctx->plan;
	bool		ok = pgr_exec(ctx->state, "recording verify progress", "BEGIN", 0, NULL);

	for (int s = 0; ok && s < p->nshards; s++)
	{
		char		ti[16], ch[16], sh[16], sr[32], fr[32], d[16], l[32];
		const char *params[8] = {p->name, ti, ch, sh, sr, fr, d, l};

		snprintf(ti, sizeof(ti), "%d", t);
		snprintf(ch, sizeof(ch), "%d", c);
		snprintf(sh, sizeof(sh), "%d", s);
		snprintf(sr, sizeof(sr), "%lld", cr->shard_rows[s]);
		snprintf(fr, sizeof(fr), "%lld", cr->found_rows[s]);
		snprintf(d, sizeof(d), "%d", cr->shard_differences[s]);
		lsn_format(lsn, l, sizeof(l));
		ok = pgr_exec(ctx->state, "recording verify progress",
					  "INSERT INTO pgreshard.verify_chunks (plan_name, table_index, chunk, shard, source_rows, "
					  "shard_rows, differences, snapshot_lsn) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
					  "ON CONFLICT (plan_name, table_index, chunk, shard) DO UPDATE SET source_rows = "
					  "excluded.source_rows, shard_rows = excluded.shard_rows, differences = "
					  "excluded.differences, snapshot_lsn = excluded.snapshot_lsn, done_at = now()",
					  8, params);
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
					"DELETE FROM pgreshard.verify_chunks WHERE plan_name = $1 "
					"AND ($2::int < 0 OR table_index = $2::int)", 2, params) &&
		pgr_exec(state, "clearing verify progress",
				 "DELETE FROM pgreshard.verify_progress WHERE plan_name = $1 "
				 "AND ($2::int < 0 OR table_index = $2::int)", 2, params);
}
