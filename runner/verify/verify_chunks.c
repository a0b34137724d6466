/*
 * verify_chunks.c — read the copy's chunk plan back as verify's units.
 * See verify_chunks.h.
 */
#include <stdlib.h>
#include <string.h>

#include "copy.h"
#include "log.h"
#include "verify_chunks.h"
#include "xalloc.h"

/* Condition of chunk plan row r (a "key" chunk), or false when malformed. */
static bool
row_where(pgr_conn *c, const PGresult *res, int r, char **where)
{
	return !PQgetisnull(res, r, 3) && !PQgetisnull(res, r, 4) &&
		copy_chunk_where_text(c, "key", PQgetvalue(res, r, 3), PQgetvalue(res, r, 4), NULL,
							  PQgetisnull(res, r, 5) ? NULL : PQgetvalue(res, r, 5),
							  PQgetisnull(res, r, 6) ? NULL : PQgetvalue(res, r, 6), where) &&
		*where != NULL;
}

/* Rows [first, end) of res are table t's chunks, in order: split it when
 * they are key ranges numbered 0..n-1 over the whole table (a partitioned
 * table's leaf chunks — ranges within one partition — are compared as one
 * table). */
static bool
table_units(apply_ctx *ctx, pgr_conn *c, const PGresult *res, int first, int end, verify_chunks *vc)
{
	int			n = end - first;
	bool		keyed = n > 1;

	for (int r = first; keyed && r < end; r++)
		keyed = !PQgetisnull(res, r, 2) && strcmp(PQgetvalue(res, r, 2), "key") == 0 &&
			atoi(PQgetvalue(res, r, 1)) == r - first && PQgetisnull(res, r, 7);
	if (!keyed)
		return true;
	vc->where = xcalloc((size_t) n, sizeof(char *));
	vc->n = n;
	vc->split = true;
	for (int r = first; r < end; r++)
		if (!row_where(c, res, r, &vc->where[r - first]))
		{
			log_error("verify: table %s, chunk %d: the chunk plan's bounds are malformed",
					  ctx->plan->tables[atoi(PQgetvalue(res, r, 0))].spec, r - first + 1);
			return false;
		}
	return true;
}

bool
verify_chunks_load(apply_ctx *ctx, pgr_conn *c, verify_chunks **out)
{
	const plan *p = ctx->plan;
	verify_chunks *vc = xcalloc((size_t) p->ntables + 1, sizeof(verify_chunks));
	PGresult   *res = pgr_query(ctx->state, "reading the chunk plan",
								"SELECT table_index, chunk, chunk_by, key_cols, key_types, lo_key, hi_key, "
								"leaf_name FROM pgreshard.chunk_plan WHERE plan_name = $1 AND source = 0 "
								"ORDER BY table_index, chunk", 1, (const char *[]) {p->name});
	bool		ok = res != NULL;
	int			r = 0;

	for (int t = 0; t < p->ntables; t++)
		vc[t].n = 1;
	while (ok && r < PQntuples(res))
	{
		int			t = atoi(PQgetvalue(res, r, 0)), end = r;

		while (end < PQntuples(res) && atoi(PQgetvalue(res, end, 0)) == t)
			end++;
		if (t >= 0 && t < p->ntables)
			ok = table_units(ctx, c, res, r, end, &vc[t]);
		r = end;
	}
	PQclear(res);
	if (!ok)
	{
		verify_chunks_free(vc, p->ntables);
		vc = NULL;
	}
	*out = vc;
	return ok;
}

void
verify_chunks_free(verify_chunks *vc, int ntables)
{
	for (int t = 0; vc && t < ntables; t++)
	{
		for (int i = 0; vc[t].where && i < vc[t].n; i++)
			free(vc[t].where[i]);
		free(vc[t].where);
	}
	free(vc);
}
