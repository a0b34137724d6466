/*
 * sample.c — the distribution preview: how many rows each shard will get.
 *
 * For each sharded table, a bounded sample of its key values is read from
 * the source (TABLESAMPLE SYSTEM for big tables, the whole key column for
 * small ones, under a statement timeout) and routed with the same function
 * the copy uses.  The shares seen in the sample, times the row estimate,
 * give the rows per shard.  Replicated tables go whole to every shard.
 * With sharding.function: lua the sample holds the columns the route hook
 * reads (`reads:`, else every stored column) and the hook routes it.
 * When sampling is not possible (a timeout, a hook that fails) the
 * estimate is uniform and says so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hooks.h"
#include "inspect.h"
#include "log.h"
#include "strbuf.h"
#include "xalloc.h"

#define SAMPLE_TARGET_ROWS 20000.0
#define SAMPLE_TIMEOUT "5s"

/* The sampled columns: the key, or what a Lua route reads. */
static int
sample_columns(const plan *p, const plan_table *pt, const src_table *t, const char **names)
{
	int			n = 0;

	if (p->sharding != SHARD_FN_LUA)
		for (int k = 0; k < pt->nkeys; k++)
			names[n++] = pt->keys[k];
	else
		for (int i = 0; i < t->ncols; i++)
			if (src_table_route_reads(pt, t, i))
				names[n++] = t->cols[i].name;
	return n;
}

static char *
sample_sql(pgr_conn *c, const plan_table *pt, const char **names, int ncols, double rows)
{
	strbuf		sb;
	char	   *qname = pgr_quote_qualified(c, pt->schema, pt->relname);

	sb_init(&sb);
	sb_append(&sb, "SELECT ");
	for (int k = 0; k < ncols; k++)
	{
		char	   *col = pgr_quote_ident(c, names[k]);

		sb_printf(&sb, "%s%s::text", k ? ", " : "", col);
		free(col);
	}
	sb_printf(&sb, " FROM %s", qname);
	if (rows > SAMPLE_TARGET_ROWS * 2)
		sb_printf(&sb, " TABLESAMPLE SYSTEM (%.6f) REPEATABLE (42)",
				  100.0 * SAMPLE_TARGET_ROWS / rows);
	sb_printf(&sb, " LIMIT %d", (int) (SAMPLE_TARGET_ROWS * 4));
	free(qname);
	return sb_steal(&sb);
}

/* Route the sampled keys; counts[] gets per-shard hits.  Returns rows seen. */
static int
route_sample(const PGresult *res, const src_table *t, int nkeys, uint32_t nshards,
			 double *counts)
{
	key_value	vals[32];
	int			seen = 0;

	for (int r = 0; r < PQntuples(res); r++)
	{
		uint32_t	shard;
		char		err[128];

		for (int k = 0; k < nkeys && k < 32; k++)
		{
			vals[k].isnull = PQgetisnull(res, r, k);
			vals[k].text = PQgetvalue(res, r, k);
			vals[k].len = (size_t) PQgetlength(res, r, k);
		}
		if (shard_of_values(t->key_types, vals, nkeys, nshards, &shard, err, sizeof(err)))
		{
			counts[shard] += 1;
			seen++;
		}
	}
	return seen;
}

/* Route the sampled rows with the Lua hook; a failing hook ends the sample. */
static int
route_sample_lua(const plan *p, hooks *h, const plan_table *pt, const PGresult *res,
				 const char **names, int ncols, double *counts, catalog *cat)
{
	key_value  *vals = xcalloc((size_t) ncols + 1, sizeof(key_value));
	hook_row	row = {ncols, names, vals};
	char		err[HOOK_ERR_LEN];
	int			seen = 0, shard;

	for (int r = 0; r < PQntuples(res); r++)
	{
		for (int k = 0; k < ncols; k++)
			vals[k] = (key_value) {PQgetvalue(res, r, k), (size_t) PQgetlength(res, r, k),
				PQgetisnull(res, r, k)};
		if (!hooks_route(h, pt, &row, p->nshards, &shard, err, sizeof(err)))
		{
			char	   *name = table_display(pt);

			catalog_add_finding(cat, FINDING_WARNING, name, "fix the route hook",
								"the route hook failed on a sampled row: %.1500s", err);
			free(name);
			seen = 0;
			break;
		}
		counts[shard] += 1;
		seen++;
	}
	free(vals);
	return seen;
}

static bool
keys_hashable(const plan *p, const plan_table *pt, const src_table *t)
{
	if (p->sharding == SHARD_FN_LUA)
		return !pt->replicate && t->cols != NULL;
	if (pt->replicate || t->key_cols == NULL || pt->nkeys > 32 || t->cols == NULL)
		return false;
	for (int k = 0; k < pt->nkeys; k++)
		if (t->key_cols[k] < 0 || t->key_types[k] == KEY_UNSUPPORTED)
			return false;
	return true;
}

static void
sample_table(const plan *p, hooks *h, pgr_conn *c, const plan_table *pt, src_table *t,
			 double src_rows, catalog *cat)
{
	double	   *counts = xcalloc((size_t) p->nshards, sizeof(double));
	const char **names = xcalloc((size_t) t->ncols + (size_t) pt->nkeys + (size_t) pt->nreads + 1,
								 sizeof(char *));
	int			ncols = sample_columns(p, pt, t, names);
	char	   *sql = sample_sql(c, pt, names, ncols, src_rows);
	PGresult   *res = PQexec(c->pg, sql);
	int			seen = 0;

	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		seen = p->sharding == SHARD_FN_LUA ?
			route_sample_lua(p, h, pt, res, names, ncols, counts, cat) :
			route_sample(res, t, pt->nkeys, (uint32_t) p->nshards, counts);
	else
	{
		char	   *name = table_display(pt);
		char		msg[256];

		pgr_one_line(msg, sizeof(msg), PQresultErrorMessage(res));
		catalog_add_finding(cat, FINDING_INFO, name, NULL,
							"could not sample keys on %s (%s); rows per shard assumed uniform",
							c->role, msg);
		free(name);
	}
	for (int s = 0; s < p->nshards; s++)
		t->shard_rows[s] += seen > 0 ? src_rows * counts[s] / seen : src_rows / p->nshards;
	t->sampled = t->sampled || seen > 0;
	PQclear(res);
	free(sql);
	free(names);
	free(counts);
}

static void
check_skew(const plan *p, const plan_table *pt, const src_table *t, catalog *cat)
{
	double		mean = t->rows / p->nshards, max = 0;
	int			maxs = 0;

	for (int s = 0; s < p->nshards; s++)
		if (t->shard_rows[s] > max)
		{
			max = t->shard_rows[s];
			maxs = s;
		}
	if (t->sampled && t->rows >= 1000 && p->nshards > 1 && max > 1.5 * mean)
	{
		char	   *name = table_display(pt);

		catalog_add_finding(cat, FINDING_WARNING, name,
							"choose a key with more distinct values, or route with a Lua hook",
							"skewed: shard %d gets about %.0f%% of the rows (an even share is %.0f%%)",
							maxs, 100.0 * max / t->rows, 100.0 / p->nshards);
		free(name);
	}
}

bool
sample_distribution(const plan *p, pgr_conn *c, int src_index, catalog *cat)
{
	hooks	   *h = NULL;		/* the route hook, for sharding.function: lua */

	if (!pgr_exec(c, "setting a timeout for sampling",
				  "SET statement_timeout = '" SAMPLE_TIMEOUT "'", 0, NULL) ||
		(p->sharding == SHARD_FN_LUA && !hooks_open(p, &h)))
		return false;
	for (int ti = 0; ti < p->ntables; ti++)
	{
		const plan_table *pt = &p->tables[ti];
		src_table  *t = &cat->tables[ti];
		double		before = 0, src_rows;

		if (t->shard_rows == NULL)
			t->shard_rows = xcalloc((size_t) p->nshards, sizeof(double));
		for (int s = 0; s < p->nshards; s++)
			before += pt->replicate ? 0 : t->shard_rows[s];
		src_rows = t->rows - before;
		if (pt->replicate)
			for (int s = 0; s < p->nshards; s++)
				t->shard_rows[s] = t->rows;
		else if (keys_hashable(p, pt, t) && src_rows > 0)
			sample_table(p, h, c, pt, t, src_rows, cat);
		else
			for (int s = 0; s < p->nshards; s++)
				t->shard_rows[s] += src_rows / p->nshards;
		if (src_index == p->nsources - 1 && !pt->replicate)
			check_skew(p, pt, t, cat);
	}
	hooks_close(h);
	return pgr_exec(c, "resetting the timeout", "RESET statement_timeout", 0, NULL);
}
