/*
 * copy_plan.c — what the copy has to do: per-table column lists and key
 * positions, the chunk plan (fixed once in pgreshard.chunk_plan so every
 * rerun splits the same way), and the chunks still missing on some shard.
 *
 * Chunks are ranges of a single-column integer primary key, split evenly
 * between its minimum and maximum, with the first and last ranges open so
 * rows inserted later still belong to exactly one chunk.  A table without
 * such a key is one chunk.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copy.h"
#include "log.h"
#include "sqlname.h"
#include "xalloc.h"

static void
append_col(pgr_conn *c, strbuf *sb, const char *name)
{
	char	   *q = pgr_quote_ident(c, name);

	sb_printf(sb, "%s%s", sb->len ? ", " : "", q);
	free(q);
}

/* Columns: every non-generated column is read and written; generated key
 * columns (and, for a Lua route, generated columns it reads) are read after
 * them and not written. */
/* Generated columns are read (not written) when routing needs them. */
static bool
wanted_generated(const plan_table *pt, const src_table *st, int i, bool lua)
{
	if (lua)
		return src_table_route_reads(pt, st, i);
	for (int k = 0; k < pt->nkeys; k++)
		if (st->key_cols[k] == i)
			return true;
	return false;
}

static void
build_table(pgr_conn *c, const plan *p, const plan_table *pt, const src_table *st, copy_table *t)
{
	strbuf		sel, ins;
	int			field = 0, chunk;
	bool		lua = p->sharding == SHARD_FN_LUA && !pt->replicate;

	sb_init(&sel);
	sb_init(&ins);
	t->field_names = xcalloc((size_t) st->ncols + 1, sizeof(char *));
	t->route_field = xcalloc((size_t) st->ncols + 1, sizeof(bool));
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < st->ncols; i++)
		{
			if (pass == 0 ? st->cols[i].generated : !st->cols[i].generated ||
				!wanted_generated(pt, st, i, lua))
				continue;
			append_col(c, &sel, st->cols[i].name);
			if (pass == 0)
				append_col(c, &ins, st->cols[i].name);
			for (int k = 0; k < pt->nkeys; k++)
				if (st->key_cols[k] == i)
					t->key_field[k] = field;
			t->route_field[field] = lua && src_table_route_reads(pt, st, i);
			t->field_names[field++] = st->cols[i].name;
			if (pass == 0)
				t->nsend = field;
		}
	t->nselect = field;
	t->select_list = sb_steal(&sel);
	t->insert_list = sb_steal(&ins);
	t->nkeys = pt->nkeys;
	t->pt = pt;
	t->lua_route = lua;
	memcpy(t->key_types, st->key_types, sizeof(key_type) * (size_t) pt->nkeys);
	if ((chunk = src_table_chunk_col(st)) >= 0)
		t->chunk_col = pgr_quote_ident(c, st->cols[chunk].name);
}

bool
copy_tables_build(apply_ctx *ctx, copy_table **out)
{
	const plan *p = ctx->plan;
	copy_table *tables = xcalloc((size_t) p->ntables, sizeof(copy_table));

	for (int i = 0; i < p->ntables; i++)
	{
		const plan_table *pt = &p->tables[i];
		const src_table *st = catalog_table(ctx->cat, i);

		if (pt->nkeys > COPY_MAX_KEYS)
		{
			log_error("table %s: %d key columns; pgreshard supports up to %d", pt->spec,
					  pt->nkeys, COPY_MAX_KEYS);
			copy_tables_free(tables, i);
			return false;
		}
		tables[i].index = i;
		tables[i].display = sqlname_quote_qualified(pt->schema, pt->relname);
		tables[i].qname = pgr_quote_qualified(ctx->state, pt->schema, pt->relname);
		tables[i].only = st->partitioned ? "" : "ONLY ";
		tables[i].replicate = pt->replicate;
		tables[i].est_rows = st->rows;
		build_table(ctx->state, p, pt, st, &tables[i]);
	}
	*out = tables;
	return true;
}

void
copy_tables_free(copy_table *tables, int n)
{
	for (int i = 0; tables && i < n; i++)
	{
		free(tables[i].display);
		free(tables[i].qname);
		free(tables[i].select_list);
		free(tables[i].insert_list);
		free(tables[i].chunk_col);
		free(tables[i].field_names);
		free(tables[i].route_field);
	}
	free(tables);
}

/* Split one table of one source into chunks; append INSERT rows to sql. */
static bool
plan_table_chunks(copy_run *run, pgr_conn *src, int source, int ti, strbuf *values)
{
	const copy_table *t = &run->tables[ti];
	const plan *p = run->ctx->plan;
	double		est = t->est_rows / p->nsources;
	long long	nchunks;
	long long	lo = 0, hi = 0;

	if (t->replicate && source > 0)
		return true;			/* every source holds the same copy: take source 0's */
	if (t->replicate)
		est = t->est_rows;
	nchunks = (long long) ceil(est / (double) p->copy_chunk_rows);
	if (t->chunk_col != NULL && nchunks > 1)
	{
		char	   *sql = xasprintf("SELECT min(%s), max(%s) FROM %s", t->chunk_col, t->chunk_col, t->qname);
		PGresult   *res = pgr_query(src, "finding the key range to split into chunks", sql, 0, NULL);

		free(sql);
		if (res == NULL)
			return false;
		if (PQgetisnull(res, 0, 0))
			nchunks = 1;
		lo = atoll(PQgetvalue(res, 0, 0));
		hi = atoll(PQgetvalue(res, 0, 1));
		PQclear(res);
	}
	if (t->chunk_col == NULL || nchunks < 1 || hi <= lo)
		nchunks = 1;
	for (long long c = 0; c < nchunks; c++)
	{
		/* bounds computed in long double to avoid overflow on extreme keys */
		long double span = (long double) hi - (long double) lo + 1;
		long long	b_lo = lo + (long long) (span * c / nchunks);
		long long	b_hi = lo + (long long) (span * (c + 1) / nchunks);

		sb_printf(values, "%s(%d, %d, %lld, ", values->len ? "," : "", source, ti, c);
		if (c == 0)
			sb_append(values, "NULL::bigint, ");
		else
			sb_printf(values, "%lld, ", b_lo);
		if (c == nchunks - 1)
			sb_printf(values, "NULL::bigint, %.0f)", est / nchunks);
		else
			sb_printf(values, "%lld, %.0f)", b_hi, est / nchunks);
	}
	return true;
}

/* Make the chunk plan for one source if it does not exist yet. */
static bool
ensure_chunk_plan(copy_run *run, int source)
{
	apply_ctx  *ctx = run->ctx;
	char		src_s[16];
	const char *params[2] = {ctx->plan->name, src_s};
	PGresult   *res;
	pgr_conn   *src;
	strbuf		values;
	bool		ok = true, exists;

	snprintf(src_s, sizeof(src_s), "%d", source);
	res = pgr_query(ctx->state, "reading the chunk plan",
					"SELECT 1 FROM pgreshard.chunk_plan WHERE plan_name = $1 AND source = $2 LIMIT 1",
					2, params);
	if (res == NULL)
		return false;
	exists = PQntuples(res) > 0;
	PQclear(res);
	if (exists)
		return true;
	if ((src = pgr_connect(ctx->plan->source_dsns[source], ctx->sources[source].role,
						   PGR_CONN_READ_ONLY)) == NULL)
		return false;
	sb_init(&values);
	for (int ti = 0; ok && ti < ctx->plan->ntables; ti++)
		ok = plan_table_chunks(run, src, source, ti, &values);
	pgr_disconnect(src);
	if (ok && values.len > 0)
	{
		char	   *sql = xasprintf("INSERT INTO pgreshard.chunk_plan (plan_name, source, table_index, "
									"chunk, lo, hi, est_rows) SELECT $1, v.* FROM (VALUES %s) "
									"v(s, t, c, lo, hi, e) WHERE $2::int = v.s", values.data);

		ok = pgr_exec(ctx->state, "writing the chunk plan", sql, 2, params);
		free(sql);
	}
	sb_free(&values);
	return ok;
}

/* Mark in jobs[] what shard s has already done. */
static bool
load_done(copy_run *run, int s)
{
	apply_ctx  *ctx = run->ctx;
	pgr_conn   *c = connect_shard(ctx->plan, s);
	const char *params[1] = {ctx->plan->name};
	PGresult   *res = NULL;

	if (c != NULL)
		res = pgr_query(c, "reading the chunk ledger",
						"SELECT source, table_index, chunk, rows, bytes FROM pgreshard.chunks_done "
						"WHERE plan_name = $1", 1, params);
	for (int r = 0; res && r < PQntuples(res); r++)
	{
		int			src = atoi(PQgetvalue(res, r, 0)), ti = atoi(PQgetvalue(res, r, 1));
		int			chunk = atoi(PQgetvalue(res, r, 2));

		for (int j = 0; j < run->njobs; j++)
			if (run->jobs[j].source == src && run->jobs[j].table == ti && run->jobs[j].chunk == chunk)
			{
				run->jobs[j].need[s] = false;
				run->tables[ti].rows_done += atoll(PQgetvalue(res, r, 3));
				run->tables[ti].bytes_done += atoll(PQgetvalue(res, r, 4));
			}
	}
	PQclear(res);
	pgr_disconnect(c);
	return res != NULL;
}

bool
copy_jobs_load(copy_run *run)
{
	apply_ctx  *ctx = run->ctx;
	const plan *p = ctx->plan;
	const char *params[1] = {p->name};
	PGresult   *res;
	int			n, pending = 0;

	for (int s = 0; s < p->nsources; s++)
		if (!ensure_chunk_plan(run, s))
			return false;
	res = pgr_query(ctx->state, "reading the chunk plan",
					"SELECT source, table_index, chunk, lo, hi FROM pgreshard.chunk_plan "
					"WHERE plan_name = $1 ORDER BY est_rows DESC, source, table_index, chunk", 1, params);
	if (res == NULL)
		return false;
	n = PQntuples(res);
	run->jobs = xcalloc((size_t) n + 1, sizeof(copy_job));
	run->njobs = n;
	for (int r = 0; r < n; r++)
	{
		copy_job   *j = &run->jobs[r];

		j->source = atoi(PQgetvalue(res, r, 0));
		j->table = atoi(PQgetvalue(res, r, 1));
		j->chunk = atoi(PQgetvalue(res, r, 2));
		j->has_lo = !PQgetisnull(res, r, 3);
		j->lo = atoll(PQgetvalue(res, r, 3));
		j->has_hi = !PQgetisnull(res, r, 4);
		j->hi = atoll(PQgetvalue(res, r, 4));
		j->need = xcalloc((size_t) p->nshards, sizeof(bool));
		for (int s = 0; s < p->nshards; s++)
			j->need[s] = true;
		run->tables[j->table].chunks_total++;
	}
	PQclear(res);
	for (int s = 0; s < p->nshards; s++)
		if (!load_done(run, s))
			return false;
	/* keep only chunks missing somewhere, biggest first (already ordered) */
	for (int r = 0; r < n; r++)
	{
		bool		missing = false;

		for (int s = 0; s < p->nshards; s++)
			missing = missing || run->jobs[r].need[s];
		if (missing)
			run->jobs[pending++] = run->jobs[r];
		else
		{
			run->tables[run->jobs[r].table].chunks_done++;
			free(run->jobs[r].need);
		}
	}
	run->njobs = pending;
	return true;
}
