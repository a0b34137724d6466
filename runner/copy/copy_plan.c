/*
 * copy_plan.c — what the copy has to do: per-table column lists and key
 * positions, the chunk plan (fixed once in pgreshard.chunk_plan so every
 * rerun splits the same way), and the chunks still missing on some shard.
 *
 * How tables are split is copy_chunks.c's; here the plan is read back as
 * each chunk's WHERE condition, and a table split into block ranges that
 * is partly copied on a shard is reset there (recopy_partial_ctid).
 */
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
	copy_binary_choose(c, p, st, t);
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

/* Make the chunk plan for one source if it does not exist yet (one
 * transaction: a plan is never half written).  A table with no chunks in
 * an existing plan was appended to the plan during the move
 * (runner/engine/plan_append.h): its chunks are planned now, the others'
 * stay as they are. */
static bool
ensure_chunk_plan(copy_run *run, int source)
{
	apply_ctx  *ctx = run->ctx;
	char		src_s[16];
	const char *params[2] = {ctx->plan->name, src_s};
	PGresult   *res;
	pgr_conn   *src;
	part_list	parts = {0};
	bool		ok;
	bool	   *planned = xcalloc((size_t) ctx->plan->ntables + 1, sizeof(bool));
	int			missing = ctx->plan->ntables;

	snprintf(src_s, sizeof(src_s), "%d", source);
	res = pgr_query(ctx->state, "reading the chunk plan",
					"SELECT DISTINCT table_index FROM pgreshard.chunk_plan WHERE plan_name = $1 AND source = $2",
					2, params);
	for (int r = 0; res && r < PQntuples(res); r++)
	{
		int			ti = atoi(PQgetvalue(res, r, 0));

		if (ti >= 0 && ti < ctx->plan->ntables && !planned[ti])
		{
			planned[ti] = true;
			missing--;
		}
	}
	/* a replicated table has chunks for source 0 only: nothing to plan for the others */
	for (int ti = 0; res && source > 0 && ti < ctx->plan->ntables; ti++)
		if (!planned[ti] && run->tables[ti].replicate)
		{
			planned[ti] = true;
			missing--;
		}
	/* under the copy's snapshot: the leaf partitions whose rows it reads */
	if (res == NULL || missing == 0 || !source_snapshot(ctx, source) ||
		(src = pgr_connect(ctx->plan->source_dsns[source], ctx->sources[source].role,
						   PGR_CONN_READ_ONLY)) == NULL)
	{
		ok = res != NULL && missing == 0;
		PQclear(res);
		free(planned);
		return ok;
	}
	PQclear(res);
	ok = copy_snapshot_begin(src, ctx->sources[source].snapshot) && partitions_read(src, ctx->plan, &parts) &&
		pgr_exec(ctx->state, "writing the chunk plan", "BEGIN", 0, NULL);
	for (int ti = 0; ok && ti < ctx->plan->ntables; ti++)
		ok = planned[ti] || copy_plan_table_chunks(src, ctx->state, ctx->plan, source, &run->tables[ti], &parts);
	partitions_free(&parts);
	pgr_disconnect(src);
	free(planned);
	if (ok)
		return pgr_exec(ctx->state, "writing the chunk plan", "COMMIT", 0, NULL);
	pgr_exec(ctx->state, "abandoning the chunk plan", "ROLLBACK", 0, NULL);
	return false;
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

/*
 * The condition of chunk row r of the chunk plan.  Rows written before key
 * chunks existed (chunk_by NULL) hold bigint bounds of the integer primary
 * key column; they still read.
 */
static bool
job_where(copy_run *run, const PGresult *res, int r, copy_job *j)
{
	pgr_conn   *c = run->ctx->state;
	const copy_table *t = &run->tables[j->table];
	const char *by = PQgetisnull(res, r, 5) ? NULL : PQgetvalue(res, r, 5);

	if (by == NULL)
	{
		/* legacy: integer bounds of the single-column integer primary key */
		if (PQgetisnull(res, r, 3) && PQgetisnull(res, r, 4))
			return true;
		if (t->chunk_col == NULL)
		{
			log_error("copy: table %s: the chunk plan has integer bounds but the table has no "
					  "integer primary key any more", t->display);
			return false;
		}
		if (PQgetisnull(res, r, 3))
			j->where = xasprintf("%s < %lld", t->chunk_col, atoll(PQgetvalue(res, r, 4)));
		else if (PQgetisnull(res, r, 4))
			j->where = xasprintf("%s >= %lld", t->chunk_col, atoll(PQgetvalue(res, r, 3)));
		else
			j->where = xasprintf("%s >= %lld AND %s < %lld", t->chunk_col, atoll(PQgetvalue(res, r, 3)),
								 t->chunk_col, atoll(PQgetvalue(res, r, 4)));
		return true;
	}
	j->ctid = strcmp(by, "ctid") == 0;
	if (!PQgetisnull(res, r, 11))
	{
		j->leaf = pgr_quote_qualified(c, PQgetvalue(res, r, 10), PQgetvalue(res, r, 11));
		/* a keyless partitioned table: its leaves' chunks, like block ranges,
		 * are recopied whole on a shard where some are missing */
		j->ctid = j->ctid || PQgetisnull(res, r, 6);
	}
	if (strcmp(by, "key") == 0 && !PQgetisnull(res, r, 6) && !PQgetisnull(res, r, 7))
	{
		j->key_cols = xstrdup(PQgetvalue(res, r, 6));
		j->key_types = xstrdup(PQgetvalue(res, r, 7));
		j->lo_key = PQgetisnull(res, r, 8) ? NULL : xstrdup(PQgetvalue(res, r, 8));
		j->hi_key = PQgetisnull(res, r, 9) ? NULL : xstrdup(PQgetvalue(res, r, 9));
		j->key_colls = PQgetisnull(res, r, 12) ? NULL : xstrdup(PQgetvalue(res, r, 12));
	}
	if (!copy_chunk_where_text(c, by, PQgetisnull(res, r, 6) ? NULL : PQgetvalue(res, r, 6),
							   PQgetisnull(res, r, 7) ? NULL : PQgetvalue(res, r, 7), NULL,
							   PQgetisnull(res, r, 8) ? NULL : PQgetvalue(res, r, 8),
							   PQgetisnull(res, r, 9) ? NULL : PQgetvalue(res, r, 9), &j->where))
	{
		log_error("copy: table %s, chunk %d: the chunk plan's bounds are malformed", t->display,
				  j->chunk + 1);
		return false;
	}
	return true;
}

bool
copy_empty_on_shard(copy_run *run, int ti, int s, long long *deleted)
{
	const plan *p = run->ctx->plan;
	const copy_table *t = &run->tables[ti];
	pgr_conn   *c = connect_shard(p, s);
	char		ti_s[16];
	const char *params[2] = {p->name, ti_s};
	char	   *sql = xasprintf("DELETE FROM %s%s", t->only, t->qname);
	PGresult   *res = NULL;
	bool		ok;

	snprintf(ti_s, sizeof(ti_s), "%d", ti);
	ok = c != NULL &&
		pgr_exec(c, "emptying a partly copied table", "BEGIN; SET LOCAL session_replication_role = replica", 0,
				 NULL) &&
		(res = pgr_query(c, "emptying a partly copied table", sql, 0, NULL)) != NULL &&
		pgr_exec(c, "emptying a partly copied table",
				 "DELETE FROM pgreshard.chunks_done WHERE plan_name = $1 AND table_index = $2::int", 2, params) &&
		pgr_exec(c, "emptying a partly copied table",
				 "DELETE FROM pgreshard.scan_progress WHERE plan_name = $1 AND table_index = $2::int", 2, params) &&
		pgr_exec(c, "emptying a partly copied table", "COMMIT", 0, NULL);
	if (ok && deleted)
		*deleted = atoll(PQcmdTuples(res));
	PQclear(res);
	free(sql);
	pgr_disconnect(c);
	return ok;
}

/*
 * Block ranges partition a table's rows only under one snapshot (an UPDATE
 * moves a row to another block), and the WAL carries no ctid for the stream
 * to place a change in a range.  So on a shard where a table split into
 * block ranges is partly copied, it is emptied (with its ledger rows, in one
 * transaction) and copied again whole under this run's snapshot; the stream
 * then skips that shard's changes to it up to the snapshot (invariant 4).
 */
static bool
recopy_partial_ctid(copy_run *run, int ti)
{
	const plan *p = run->ctx->plan;
	copy_table *t = &run->tables[ti];

	for (int s = 0; s < p->nshards; s++)
	{
		bool		done = false, missing = false, ctid = false;

		for (int j = 0; j < run->njobs; j++)
			if (run->jobs[j].table == ti)
			{
				ctid = ctid || run->jobs[j].ctid;
				done = done || !run->jobs[j].need[s];
				missing = missing || run->jobs[j].need[s];
			}
		if (!ctid || !done || !missing)
			continue;
		log_info("copy: table %s is partly copied on shard %d and has no key to resume by: "
				 "copying it again whole there", t->display, s);
		if (!copy_empty_on_shard(run, ti, s, NULL))
			return false;
		for (int j = 0; j < run->njobs; j++)
			if (run->jobs[j].table == ti)
				run->jobs[j].need[s] = true;
		t->rows_done = t->bytes_done = 0;
	}
	return true;
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
					"SELECT source, table_index, chunk, lo, hi, chunk_by, key_cols, key_types, "
					"lo_key, hi_key, leaf_schema, leaf_name, key_colls FROM pgreshard.chunk_plan "
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
		j->need = xcalloc((size_t) p->nshards, sizeof(bool));
		for (int s = 0; s < p->nshards; s++)
			j->need[s] = true;
		run->tables[j->table].chunks_total++;
		if (!job_where(run, res, r, j))
		{
			run->njobs = r + 1;
			PQclear(res);
			return false;
		}
	}
	PQclear(res);
	/* a leaf's key range is cleared on the shard first: empty on a first
	 * copy; on a later one (a partition attached during the move, copy_late.c,
	 * or a rerun after the stream began) it holds what the stream applied
	 * there, all of it in the copy */
	for (int r = 0; r < n; r++)
		run->jobs[r].clear = run->jobs[r].leaf != NULL && !run->jobs[r].ctid;
	for (int s = 0; s < p->nshards; s++)
		if (!load_done(run, s))
			return false;
	for (int ti = 0; ti < p->ntables; ti++)
		if (!recopy_partial_ctid(run, ti))
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
			copy_job_free(&run->jobs[r]);
		}
	}
	run->njobs = pending;
	return true;
}

void
copy_job_free(copy_job *j)
{
	free(j->need);
	free(j->where);
	free(j->leaf);
	free(j->key_cols);
	free(j->key_types);
	free(j->key_colls);
	free(j->lo_key);
	free(j->hi_key);
}
