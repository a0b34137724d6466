/*
 * verify.c — compare source and shards inside the servers.  See verify.h.
 *
 * Per table, every side runs one aggregate query: rows grouped by the shard
 * PostgreSQL's hash partitioning assigns them (satisfies_hash_partition on
 * a temporary hash-partitioned parent with the key's types) and by a bucket
 * of the key's hash, with count(*) and sum(hashtextextended(row)).  The
 * queries go to all servers at once, so the time is that of the slowest
 * scan.  Differing buckets can be re-checked after the stream caught up,
 * then are drilled into row by row.  An exact verify goes chunk by chunk
 * (the copy's key ranges, verify_chunks.h: one aggregate query per chunk,
 * which the key's index serves) and records each chunk as it finishes it
 * (verify_resume.h), so a killed one resumes at the next chunk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "copy.h"
#include "hooks.h"
#include "log.h"
#include "sqlname.h"
#include "strbuf.h"
#include "stream.h"
#include "verify_int.h"
#include "verify_resume.h"
#include "xalloc.h"

/* " WHERE (cond)" / " AND (cond)" for the current chunk, or "". */
static char *
chunk_cond(const vstate *v, const char *word)
{
	return v->where ? xasprintf(" %s (%s)", word, v->where) : xstrdup("");
}


const char *
diff_kind_name(diff_kind k)
{
	static const char *const names[] = {"missing", "extra", "different", "misplaced"};

	return names[k];
}

static sum_t
parse_sum(const char *s)
{
	sum_t		v = 0;
	bool		neg = *s == '-';

	for (s += neg; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (*s - '0');
	return neg ? -v : v;
}

static char *
quoted_list(pgr_conn *c, const char *prefix, char **names, int n)
{
	strbuf		sb;

	sb_init(&sb);
	for (int i = 0; i < n; i++)
	{
		char	   *q = pgr_quote_ident(c, names[i]);

		sb_printf(&sb, "%s%s%s", i ? ", " : "", prefix, q);
		free(q);
	}
	return sb_steal(&sb);
}

/* The columns a Lua route reads (src_table_route_reads), as the copy passes them. */
static void
build_lua_route(pgr_conn *c, const plan_table *pt, const src_table *st, table_sql *ts)
{
	strbuf		sb;

	ts->lua = true;
	ts->route_names = xcalloc((size_t) st->ncols + 1, sizeof(char *));
	sb_init(&sb);
	for (int i = 0; i < st->ncols; i++)
	{
		char	   *q;

		if (!src_table_route_reads(pt, st, i))
			continue;
		q = pgr_quote_ident(c, st->cols[i].name);
		sb_printf(&sb, "%st.%s::text", sb.len ? ", " : "", q);
		free(q);
		ts->route_names[ts->nroute++] = st->cols[i].name;
	}
	ts->route_list = sb_steal(&sb);
}

void
verify_build_table_sql(vstate *v, int ti, table_sql *ts)
{
	const plan_table *pt = &v->ctx->plan->tables[ti];
	const src_table *st = catalog_table(v->ctx->cat, ti);
	pgr_conn   *c = v->ctx->state;
	strbuf		sb;
	char	   *keys, *pk;

	ts->qname = pgr_quote_qualified(c, pt->schema, pt->relname);
	ts->only = st->partitioned ? "" : "ONLY ";
	pk = st->npk > 0 ? quoted_list(c, "t.", st->pk, st->npk) : NULL;
	ts->ident_expr = pk ? xasprintf("row(%s)::text", pk) : xstrdup("t::text");
	if (pt->replicate)
	{
		ts->shard_expr = xstrdup("0");
		ts->bucket_expr = xasprintf("(hashtextextended(%s, 0) & %d)", ts->ident_expr, VERIFY_BUCKETS - 1);
		free(pk);
		return;
	}
	keys = quoted_list(c, "t.", pt->keys, pt->nkeys);
	ts->bucket_expr = xasprintf("(hashtextextended(row(%s)::text, 0) & %d)", keys, VERIFY_BUCKETS - 1);
	if (v->ctx->plan->sharding == SHARD_FN_LUA)
	{
		build_lua_route(c, pt, st, ts);
		free(keys);
		free(pk);
		return;
	}
	sb_init(&sb);
	sb_printf(&sb, "CREATE TEMP TABLE IF NOT EXISTS pgr_hp_%d (", ti);
	for (int k = 0; k < pt->nkeys; k++)
		sb_printf(&sb, "%sk%d %s", k ? ", " : "", k, st->cols[st->key_cols[k]].type);
	sb_append(&sb, ") PARTITION BY HASH (");
	for (int k = 0; k < pt->nkeys; k++)
		sb_printf(&sb, "%sk%d", k ? ", " : "", k);
	sb_append(&sb, ")");
	ts->hp_ddl = sb_steal(&sb);
	sb_init(&sb);
	sb_append(&sb, "CASE");
	for (int s = 0; s < v->nshards - 1; s++)
		sb_printf(&sb, " WHEN satisfies_hash_partition('pg_temp.pgr_hp_%d'::regclass, %d, %d, %s) THEN %d",
				  ti, v->nshards, s, keys, s);
	sb_printf(&sb, " ELSE %d END", v->nshards - 1);
	ts->shard_expr = sb_steal(&sb);
	free(keys);
	free(pk);
}

/* Connect every side; each session gets the temporary partitioned parents. */
bool
verify_connect_all(vstate *v)
{
	const plan *p = v->ctx->plan;
	strbuf		setup;
	bool		ok = true;

	sb_init(&setup);
	/* the settings in a query of their own: they apply to the transactions after it
	 * (the source may be read-only during a read_only freeze) */
	sb_append(&setup, "SELECT 1");
	for (int t = 0; t < p->ntables; t++)
		if (v->sql[t].hp_ddl)
			sb_printf(&setup, "; %s", v->sql[t].hp_ddl);
	for (int i = 0; ok && i < p->nsources; i++)
	{
		const char *snap = v->ctx->sources[i].snapshot;

		ok = (v->src[i] = pgr_connect(p->source_dsns[i], v->ctx->sources[i].role, 0)) != NULL &&
			pgr_exec(v->src[i], "preparing to verify", VERIFY_SESSION, 0, NULL) &&
			pgr_exec(v->src[i], "preparing to verify", setup.data, 0, NULL);
		if (ok && v->exact)
		{
			char	   *lit = PQescapeLiteral(v->src[i]->pg, snap, strlen(snap));
			char	   *sql = xasprintf("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
										"SET TRANSACTION SNAPSHOT %s", lit);

			ok = pgr_exec(v->src[i], "reading under the verify snapshot", sql, 0, NULL);
			free(sql);
			PQfreemem(lit);
		}
	}
	for (int s = 0; ok && s < p->nshards; s++)
		ok = (v->dst[s] = connect_shard(p, s)) != NULL &&
			pgr_exec(v->dst[s], "preparing to verify", VERIFY_SESSION, 0, NULL) &&
			pgr_exec(v->dst[s], "preparing to verify", setup.data, 0, NULL);
	sb_free(&setup);
	return ok;
}

static bool
send_on(pgr_conn *c, const char *sql)
{
	if (PQsendQuery(c->pg, sql))
		return true;
	pgr_report_conn(c, "verifying");
	return false;
}

/* Collect one aggregate result into the table's arrays. */
static bool
collect(vstate *v, pgr_conn *c, int ti, int dst_shard)
{
	PGresult   *res, *last = NULL;
	bool		ok = true;

	while ((res = PQgetResult(c->pg)) != NULL)
	{
		PQclear(last);
		last = res;
	}
	if (last == NULL || PQresultStatus(last) != PGRES_TUPLES_OK)
	{
		pgr_report_result(c, "verifying", last);
		PQclear(last);
		return false;
	}
	for (int r = 0; r < PQntuples(last); r++)
	{
		int			shard = atoi(PQgetvalue(last, r, 0)), b = atoi(PQgetvalue(last, r, 1));
		long long	n = atoll(PQgetvalue(last, r, 2));
		sum_t		sum = parse_sum(PQgetvalue(last, r, 3));
		agg		   *a;

		if (shard < 0 || shard >= v->nshards || b < 0 || b >= VERIFY_BUCKETS)
			continue;
		if (dst_shard < 0)
			a = AGG_AT(v->src_agg, v, ti, shard, b);
		else if (shard == dst_shard || v->ctx->plan->tables[ti].replicate)
			a = AGG_AT(v->dst_agg, v, ti, dst_shard, b);
		else
		{
			*AGG_AT(v->misplaced, v, ti, dst_shard, b) += n;
			continue;
		}
		a->count += n;
		a->sum += sum;
	}
	PQclear(last);
	return ok;
}

static void
reset_table(vstate *v, int ti)
{
	size_t		n = (size_t) v->nshards * VERIFY_BUCKETS;

	memset(AGG_AT(v->src_agg, v, ti, 0, 0), 0, n * sizeof(agg));
	memset(AGG_AT(v->dst_agg, v, ti, 0, 0), 0, n * sizeof(agg));
	memset(AGG_AT(v->misplaced, v, ti, 0, 0), 0, n * sizeof(long long));
}

/* Route one row of a Lua-routed table (fields: the route's columns). */
static bool
lua_shard(vstate *v, int ti, key_value *fields, int *shard)
{
	const table_sql *ts = &v->sql[ti];
	hook_row	row = {ts->nroute, ts->route_names, fields};
	char		err[HOOK_ERR_LEN];

	if (hooks_route(v->hooks, &v->ctx->plan->tables[ti], &row, v->nshards, shard, err, sizeof(err)))
		return true;
	log_error("verify: table %s: cannot route a row: %s", ts->qname, err);
	return false;
}

/* Split a COPY TEXT row into n decoded fields (scratch holds decoded ones). */
static bool
split_copy_row(char *row, int len, int n, key_value *f, strbuf *scratch)
{
	char	   *p = row, *end = row + len;

	if (len > 0 && end[-1] == '\n')
		end--;
	for (int i = 0; i < n; i++)
	{
		char	   *tab = memchr(p, '\t', (size_t) (end - p));
		char	   *stop = tab ? tab : end;

		if (!copy_field_decode(p, (size_t) (stop - p), &scratch[i], &f[i].isnull))
			return false;
		f[i].text = scratch[i].data;
		f[i].len = scratch[i].len;
		if (tab == NULL && i < n - 1)
			return false;
		p = tab ? tab + 1 : end;
	}
	return true;
}

/* Read one side's rows of a Lua-routed table and aggregate them here. */
static bool
collect_lua(vstate *v, pgr_conn *c, int ti, int dst_shard)
{
	const table_sql *ts = &v->sql[ti];
	int			n = ts->nroute + 2;
	key_value  *f = xcalloc((size_t) n, sizeof(key_value));
	strbuf	   *scratch = xcalloc((size_t) n, sizeof(strbuf));
	PGresult   *res = PQgetResult(c->pg);
	char	   *row;
	int			len = 0, shard;
	bool		ok = PQresultStatus(res) == PGRES_COPY_OUT;

	if (!ok)
		pgr_report_result(c, "verifying", res);
	PQclear(res);
	for (int i = 0; i < n; i++)
		sb_init(&scratch[i]);
	while (ok && (len = PQgetCopyData(c->pg, &row, 0)) > 0)
	{
		ok = split_copy_row(row, len, n, f, scratch);
		if (!ok)
			log_error("verify: table %s: a malformed row from the server", ts->qname);
		else if ((ok = lua_shard(v, ti, f, &shard)))
		{
			int			b = atoi(f[n - 2].text) & (VERIFY_BUCKETS - 1);
			agg		   *a;

			if (dst_shard < 0)
				a = AGG_AT(v->src_agg, v, ti, shard, b);
			else if (shard == dst_shard)
				a = AGG_AT(v->dst_agg, v, ti, dst_shard, b);
			else
				a = NULL, (*AGG_AT(v->misplaced, v, ti, dst_shard, b))++;
			if (a)
				a->count++, a->sum += parse_sum(f[n - 1].text);
		}
		PQfreemem(row);
	}
	if (ok && len == -2)
		ok = (pgr_report_conn(c, "verifying"), false);
	while ((res = PQgetResult(c->pg)) != NULL)
	{
		if (ok && PQresultStatus(res) != PGRES_COMMAND_OK)
			ok = (pgr_report_result(c, "verifying", res), false);
		PQclear(res);
	}
	for (int i = 0; i < n; i++)
		sb_free(&scratch[i]);
	free(scratch);
	free(f);
	return ok;
}

/* One scan of the table on every side, all at once. */
bool
verify_aggregate_table(vstate *v, int ti)
{
	const plan *p = v->ctx->plan;
	const table_sql *ts = &v->sql[ti];
	int			nsrc = p->tables[ti].replicate ? 1 : p->nsources;
	char	   *cond = chunk_cond(v, "WHERE");
	char	   *sql = ts->lua ?
		xasprintf("COPY (SELECT %s, %s, hashtextextended(t::text, 0) FROM %s%s t%s) TO STDOUT",
				  ts->route_list, ts->bucket_expr, ts->only, ts->qname, cond) :
		xasprintf("SELECT %s, %s, count(*), sum(hashtextextended(t::text, 0)) FROM %s%s t%s "
				  "GROUP BY 1, 2", ts->shard_expr, ts->bucket_expr, ts->only, ts->qname, cond);
	bool		ok = true;

	free(cond);

	reset_table(v, ti);
	for (int i = 0; ok && i < nsrc; i++)
		ok = send_on(v->src[i], sql);
	for (int s = 0; ok && s < p->nshards; s++)
		ok = send_on(v->dst[s], sql);
	free(sql);
	for (int i = 0; ok && i < nsrc; i++)
		ok = ts->lua ? collect_lua(v, v->src[i], ti, -1) : collect(v, v->src[i], ti, -1);
	for (int s = 0; ok && s < p->nshards; s++)
		ok = ts->lua ? collect_lua(v, v->dst[s], ti, s) : collect(v, v->dst[s], ti, s);
	return ok;
}

/* Does bucket b of table ti on shard s differ? */
static bool
bucket_differs(const vstate *v, int ti, int s, int b)
{
	bool		repl = v->ctx->plan->tables[ti].replicate;
	const agg  *src = AGG_AT(v->src_agg, v, ti, repl ? 0 : s, b);
	const agg  *dst = AGG_AT(v->dst_agg, v, ti, s, b);

	return src->count != dst->count || src->sum != dst->sum ||
		*AGG_AT(v->misplaced, v, ti, s, b) != 0;
}

static bool
table_differs(const vstate *v, int ti)
{
	for (int s = 0; s < v->nshards; s++)
		for (int b = 0; b < VERIFY_BUCKETS; b++)
			if (bucket_differs(v, ti, s, b))
				return true;
	return false;
}

typedef struct keyrow {
	char	   *key;
	char	   *hash;
	int			shard;			/* where it belongs (shard side) */
} keyrow;

static int
keyrow_cmp(const void *a, const void *b)
{
	return strcmp(((const keyrow *) a)->key, ((const keyrow *) b)->key);
}

static void
add_diff(vstate *v, verify_result *out, int ti, int s, diff_kind kind, const char *key)
{
	out->total_differences++;
	out->tables[ti].differences++;
	out->tables[ti].shard_differences[s]++;
	v->unit_diffs[s]++;
	if (out->ndiffs >= VERIFY_MAX_KEYS)
		return;
	out->diffs = xrealloc(out->diffs, sizeof(verify_diff) * (size_t) (out->ndiffs + 1));
	out->diffs[out->ndiffs++] = (verify_diff) {ti, s, kind, xstrdup(key), v->chunk, v->nchunks};
}

/* Rows of one bucket: from the sources (belonging to shard s) or from shard s. */
static bool
fetch_rows(vstate *v, int ti, int s, int b, bool source_side, keyrow **rows, int *n)
{
	const table_sql *ts = &v->sql[ti];
	bool		repl = v->ctx->plan->tables[ti].replicate;
	int			nconn = source_side ? (repl ? 1 : v->ctx->plan->nsources) : 1;
	char	   *cond = chunk_cond(v, "AND");
	char	   *sql = ts->lua ?
		xasprintf("SELECT %s, hashtextextended(t::text, 0), %s FROM %s%s t WHERE %s = %d%s",
				  ts->ident_expr, ts->route_list, ts->only, ts->qname, ts->bucket_expr, b, cond) :
		source_side && !repl ?
		xasprintf("SELECT %s, hashtextextended(t::text, 0), %s FROM %s%s t WHERE %s = %d AND %s = %d%s",
				  ts->ident_expr, ts->shard_expr, ts->only, ts->qname, ts->shard_expr, s, ts->bucket_expr, b,
				  cond) :
		xasprintf("SELECT %s, hashtextextended(t::text, 0), %s FROM %s%s t WHERE %s = %d%s",
				  ts->ident_expr, ts->shard_expr, ts->only, ts->qname, ts->bucket_expr, b, cond);
	bool		ok = true;

	free(cond);

	*rows = NULL;
	*n = 0;
	for (int i = 0; ok && i < nconn; i++)
	{
		pgr_conn   *c = source_side ? v->src[i] : v->dst[s];
		PGresult   *res = pgr_query(c, "verifying rows", sql, 0, NULL);

		ok = res != NULL;
		for (int r = 0; ok && r < PQntuples(res); r++)
		{
			int			shard = repl ? s : 0;

			if (ts->lua)
			{
				key_value  *f = xcalloc((size_t) ts->nroute + 1, sizeof(key_value));

				for (int k = 0; k < ts->nroute; k++)
					f[k] = (key_value) {PQgetvalue(res, r, k + 2), (size_t) PQgetlength(res, r, k + 2),
						PQgetisnull(res, r, k + 2)};
				ok = lua_shard(v, ti, f, &shard);
				free(f);
				if (!ok || (source_side && shard != s))
					continue;	/* belongs to another shard's subset */
			}
			else if (!repl)
				shard = atoi(PQgetvalue(res, r, 2));
			*rows = xrealloc(*rows, sizeof(keyrow) * (size_t) (*n + 1));
			(*rows)[*n] = (keyrow) {xstrdup(PQgetvalue(res, r, 0)), xstrdup(PQgetvalue(res, r, 1)), shard};
			(*n)++;
		}
		PQclear(res);
	}
	free(sql);
	if (ok && *n > 1)			/* no rows: *rows is NULL, which qsort must not get */
		qsort(*rows, (size_t) *n, sizeof(keyrow), keyrow_cmp);
	return ok;
}

static void
free_rows(keyrow *rows, int n)
{
	for (int i = 0; i < n; i++)
	{
		free(rows[i].key);
		free(rows[i].hash);
	}
	free(rows);
}

/* Name the keys that differ in bucket b of table ti on shard s. */
static bool
drill(vstate *v, int ti, int s, int b, verify_result *out)
{
	keyrow	   *src, *dst;
	int			ns, nd, i = 0, j = 0;

	if (!fetch_rows(v, ti, s, b, true, &src, &ns))
		return false;
	if (!fetch_rows(v, ti, s, b, false, &dst, &nd))
	{
		free_rows(src, ns);
		return false;
	}
	while (i < ns || j < nd)
	{
		int			c;

		if (j < nd && dst[j].shard != s)
		{
			add_diff(v, out, ti, s, DIFF_MISPLACED, dst[j++].key);	/* belongs elsewhere */
			continue;
		}
		c = i >= ns ? 1 : j >= nd ? -1 : strcmp(src[i].key, dst[j].key);
		if (c < 0)
			add_diff(v, out, ti, s, DIFF_MISSING, src[i++].key);
		else if (c > 0)
			add_diff(v, out, ti, s, DIFF_EXTRA, dst[j++].key);
		else
		{
			if (strcmp(src[i].hash, dst[j].hash) != 0)
				add_diff(v, out, ti, s, DIFF_DIFFERENT, src[i].key);
			i++, j++;
		}
	}
	free_rows(src, ns);
	free_rows(dst, nd);
	return true;
}

/* Add the counts of the table (or chunk) just aggregated to tr. */
static void
fill_counts(const vstate *v, int ti, verify_table_result *tr)
{
	bool		repl = v->ctx->plan->tables[ti].replicate;

	for (int s = 0; s < v->nshards; s++)
		for (int b = 0; b < VERIFY_BUCKETS; b++)
		{
			long long	src = AGG_AT(v->src_agg, v, ti, repl ? 0 : s, b)->count;

			tr->shard_rows[s] += src;
			if (!repl || s == 0)
				tr->source_rows += src;
			tr->found_rows[s] += AGG_AT(v->dst_agg, v, ti, s, b)->count +
				*AGG_AT(v->misplaced, v, ti, s, b);
		}
}

void
verify_vstate_free(vstate *v)
{
	const plan *p = v->ctx->plan;

	for (int i = 0; v->src && i < p->nsources; i++)
		pgr_disconnect(v->src[i]);
	for (int s = 0; v->dst && s < p->nshards; s++)
		pgr_disconnect(v->dst[s]);
	for (int t = 0; v->sql && t < p->ntables; t++)
	{
		free(v->sql[t].qname);
		free(v->sql[t].hp_ddl);
		free(v->sql[t].shard_expr);
		free(v->sql[t].bucket_expr);
		free(v->sql[t].ident_expr);
		free(v->sql[t].route_names);
		free(v->sql[t].route_list);
	}
	hooks_close(v->hooks);
	free(v->src);
	free(v->dst);
	free(v->sql);
	free(v->src_agg);
	free(v->dst_agg);
	free(v->misplaced);
}

/* Re-scan the tables that differ, after letting the shards catch up. */
bool
verify_recheck(vstate *v, int rounds, bool (*between)(apply_ctx *ctx))
{
	for (int round = 1; round < rounds && between != NULL; round++)
	{
		bool		any = false, ok = true;

		for (int t = 0; t < v->ctx->plan->ntables; t++)
			any = any || table_differs(v, t);
		if (!any)
			return true;
		log_info("verify: differences found; letting the shards catch up and checking again (round %d)",
				 round + 1);
		if (!between(v->ctx))
			return false;
		for (int t = 0; ok && t < v->ctx->plan->ntables; t++)
			if (table_differs(v, t))
				ok = verify_aggregate_table(v, t);
		if (!ok)
			return false;
	}
	return true;
}

/* The counts of the unit just aggregated (table t or one of its chunks)
 * into cr (arrays of nshards, zeroed here; cr->shard_differences is
 * v->unit_diffs) and the keys of its differing buckets into out. */
bool
verify_compare_unit(vstate *v, int t, verify_table_result *cr, verify_result *out)
{
	verify_table_result *tr = &out->tables[t];
	bool		ok = true;

	cr->source_rows = 0;
	memset(cr->shard_rows, 0, sizeof(long long) * (size_t) v->nshards);
	memset(cr->found_rows, 0, sizeof(long long) * (size_t) v->nshards);
	memset(v->unit_diffs, 0, sizeof(int) * (size_t) v->nshards);
	cr->shard_differences = v->unit_diffs;
	fill_counts(v, t, cr);
	tr->source_rows += cr->source_rows;
	for (int s = 0; s < v->nshards; s++)
	{
		tr->shard_rows[s] += cr->shard_rows[s];
		tr->found_rows[s] += cr->found_rows[s];
	}
	for (int s = 0; ok && s < v->nshards; s++)
		for (int b = 0; ok && b < VERIFY_BUCKETS; b++)
			if (bucket_differs(v, t, s, b))
				ok = drill(v, t, s, b, out);
	for (int s = 0; ok && s < v->nshards; s++)
		if (v->unit_diffs[s] > 0)
			verify_chunk_diff_add(out, t, v->chunk, s, v->unit_diffs[s]);
	return ok;
}

