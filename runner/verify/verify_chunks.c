/*
 * verify_chunks.c — read the copy's chunk plan back as verify's units.
 * See verify_chunks.h.
 */
#include <stdlib.h>
#include <string.h>

#include "chunk_key.h"
#include "copy.h"
#include "log.h"
#include "verify_chunks.h"
#include "xalloc.h"

/* Condition of chunk plan row r (a "key" chunk), or false when malformed. */
static bool
row_where(pgr_conn *c, const PGresult *res, int r, char **where)
{
	chunk_key	k = {0};
	char	  **lo = NULL, **hi = NULL;
	int			ntypes = 0, nlo = 0, nhi = 0;
	bool		ok = !PQgetisnull(res, r, 3) && !PQgetisnull(res, r, 4) &&
		pgarray_decode(PQgetvalue(res, r, 3), &k.cols, &k.n) &&
		pgarray_decode(PQgetvalue(res, r, 4), &k.types, &ntypes) &&
		(PQgetisnull(res, r, 5) || pgarray_decode(PQgetvalue(res, r, 5), &lo, &nlo)) &&
		(PQgetisnull(res, r, 6) || pgarray_decode(PQgetvalue(res, r, 6), &hi, &nhi)) &&
		ntypes == k.n && k.n > 0 && (lo == NULL || nlo == k.n) && (hi == NULL || nhi == k.n);

	if (ok)
		*where = copy_chunk_where(c, "key", &k, lo, hi);
	pgarray_free(k.cols, k.n);
	pgarray_free(k.types, ntypes);
	pgarray_free(lo, nlo);
	pgarray_free(hi, nhi);
	return ok;
}

/* Rows [first, end) of res are table t's chunks, in order: split it when
 * they are key ranges numbered 0..n-1. */
static bool
table_units(apply_ctx *ctx, pgr_conn *c, const PGresult *res, int first, int end, verify_chunks *vc)
{
	int			n = end - first;
	bool		keyed = n > 1;

	for (int r = first; keyed && r < end; r++)
		keyed = !PQgetisnull(res, r, 2) && strcmp(PQgetvalue(res, r, 2), "key") == 0 &&
			atoi(PQgetvalue(res, r, 1)) == r - first;
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
								"SELECT table_index, chunk, chunk_by, key_cols, key_types, lo_key, hi_key "
								"FROM pgreshard.chunk_plan WHERE plan_name = $1 AND source = 0 "
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
