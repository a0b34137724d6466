/*
 * copy_chunks.c — splitting one table of one source into chunks of about
 * copy.chunk_rows rows, whatever its key, and the WHERE clause of a chunk.
 *
 * A table is split into ranges of a unique NOT NULL key without expressions
 * or predicate ("key" chunks): the replica identity's index first (so an
 * UPDATE's or DELETE's old-key tuple carries the chunk key, which the stream
 * needs to place it, runner/stream/chunk_member.c), else the primary key,
 * else the one of fewest columns.  Keys
 * with a generated column are not used: pgoutput does not send those, and
 * the stream must place every change's row by its key.  The boundaries come from the data: quantiles of the key over a
 * sample (TABLESAMPLE BERNOULLI up to 10M estimated rows, SYSTEM above; the
 * whole key for small tables), sorted by the server in the key's own order,
 * so skewed or sparse keys split evenly.  Bounds are stored as text[] of the
 * key columns' text forms and compared by the server in the columns' own
 * types and collations, as a row comparison the key's btree index serves:
 * (k1, k2) >= ('lo1'::t1, 'lo2'::t2) AND (k1, k2) < ('hi1'::t1, 'hi2'::t2).
 * The first range has no lower bound and the last no upper bound, so every
 * row, including one inserted later, lies in exactly one chunk.
 *
 * A table with no such key is split into ranges of physical blocks ("ctid"
 * chunks, a TID range scan).  Those partition the rows only under one
 * snapshot, so copy_plan.c recopies such a table whole on a shard where it
 * is partly copied.  A table of one chunk is "whole".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk_key.h"
#include "chunking.h"
#include "copy.h"
#include "log.h"
#include "shard_partitions.h"
#include "xalloc.h"

/* What one run of chunks reads: the table, or one of its leaf partitions
 * (ONLY that leaf; its chunks carry the leaf's name and partition
 * constraint, for the stream's invariant 4). */
typedef struct chunk_rel {
	int			index;			/* the plan table */
	const char *only;			/* "ONLY " or "" before qname */
	const char *qname;			/* quoted relation read */
	const part_def *leaf;		/* the leaf partition, or NULL */
	int			first;			/* number of its first chunk */
	int		   *next_chunk;		/* the table's next chunk number, advanced */
} chunk_rel;

/* The chunk key of table qname on the source: PK, else unique NOT NULL. */
static const char key_sql[] =
	CHUNK_KEY_INDEX_CTE
	"SELECT a.attname, format_type(a.atttypid, a.atttypmod), cn.nspname, co.collname, "
	"  a.attcollation = 100 AND coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') = 'c' "
	"    AND d.datcollate IN ('C', 'POSIX'), "
	"  pg_encoding_to_char(d.encoding) = 'UTF8' AND a.atttypid IN ('text'::regtype, 'varchar'::regtype) "
	"    AND lower(CASE WHEN a.attcollation = 100 THEN CASE WHEN coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') = 'c' "
	"      THEN d.datcollate END WHEN co.collprovider = 'c' THEN co.collcollate END) IN ('c.utf-8', 'c.utf8') "
	"FROM k, generate_series(0, k.indnkeyatts - 1) p "
	"JOIN pg_attribute a ON a.attrelid = $1::regclass "
	"LEFT JOIN pg_collation co ON co.oid = a.attcollation "
	"LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace "
	"JOIN pg_database d ON d.datname = current_database() "
	"WHERE a.attnum = k.indkey[p] ORDER BY p";

void
chunk_key_free(chunk_key *k)
{
	for (int i = 0; i < k->n; i++)
	{
		free(k->cols[i]);
		free(k->types[i]);
		free(k->colls[i]);
	}
	free(k->cols);
	free(k->types);
	free(k->colls);
	memset(k, 0, sizeof(*k));
}

/*
 * Strings whose order tells a collation that orders as bytes (code point
 * order, for UTF-8) from one that does not: case and punctuation (any
 * linguistic collation puts 'a' before 'B' or ignores '-' at first), accents
 * and combining marks, and code points of every UTF-8 length -- among them
 * U+0378, unassigned, which the C.UTF-8 locales that Debian and Fedora
 * shipped before glibc 2.35 sort after every assigned character (their
 * collation listed assigned code points, UNDEFINED last).
 */
static const char *const byte_order_probe =
	"{a,B,b,A,_,-,\" \",\"a b\",ab,a-b,a_b,Z,z,0,9,~,1,a1,a10,a2,e,f,ss,st,"
	"\xc3\xa9,\xc3\x89,e\xcc\x81,\xc3\x9f,\xcd\xb8,\xce\x84,\xce\xa9,\xd7\x90,"
	"\xe0\xa4\x85,\xe4\xb8\x80,\xee\x80\x80,\xef\xbf\xbd,\xf0\x90\x80\x80,"
	"\xf0\x9f\x98\x80,\xf3\xa0\x82\x80,\xf4\x8f\xbf\xbd}";

/*
 * Does collation coll (SQL-quoted; a libc C.UTF-8 locale in a UTF-8
 * database) order text exactly as bytes on this source?  glibc 2.35 and
 * later compare under C.UTF-8 with strcmp (its "codepoint_collation"); older
 * C.UTF-8 locales differ for unassigned code points, which the probe holds.
 * A key compared so is recorded under "C": the client then places rows and
 * changes in chunks itself, and the source compares bounds with memcmp
 * instead of strcoll.  The chunks' own reads keep the column's collation
 * (its index serves them), which orders the same.
 */
static bool
orders_as_bytes(pgr_conn *src, const char *coll, bool *yes)
{
	const char *params[1] = {byte_order_probe};
	char	   *sql = xasprintf("SELECT coalesce(array_agg(s ORDER BY s COLLATE %s) = "
								"array_agg(s ORDER BY s COLLATE \"C\"), false) FROM unnest($1::text[]) s",
								coll);
	PGresult   *res = pgr_query(src, "checking whether the key's collation orders as bytes", sql, 1, params);

	free(sql);
	if (res == NULL)
		return false;
	*yes = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return true;
}

static bool
find_key(pgr_conn *src, const copy_table *t, chunk_key *k)
{
	const char *params[1] = {t->qname};
	PGresult   *res = pgr_query(src, "finding the table's key to split it into chunks", key_sql, 1, params);
	bool		ok = true;

	memset(k, 0, sizeof(*k));
	if (res == NULL)
		return false;
	k->n = PQntuples(res);
	k->cols = xcalloc((size_t) k->n + 1, sizeof(char *));
	k->types = xcalloc((size_t) k->n + 1, sizeof(char *));
	k->colls = xcalloc((size_t) k->n + 1, sizeof(char *));
	for (int i = 0; i < k->n; i++)
	{
		k->cols[i] = xstrdup(PQgetvalue(res, i, 0));
		k->types[i] = xstrdup(PQgetvalue(res, i, 1));
		if (strcmp(PQgetvalue(res, i, 4), "t") == 0)
			k->colls[i] = xstrdup("\"pg_catalog\".\"C\"");
		else if (!PQgetisnull(res, i, 3))
			k->colls[i] = pgr_quote_qualified(src, PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));
	}
	for (int i = 0; ok && i < k->n; i++)
		if (strcmp(PQgetvalue(res, i, 5), "t") == 0 && k->colls[i] != NULL)
		{
			bool		bytes = false;

			ok = orders_as_bytes(src, k->colls[i], &bytes);
			if (ok && bytes)
			{
				log_info("copy: table %s: key column %s is compared as under collation \"C\": "
						 "its collation %s orders as bytes on the source (a C.UTF-8 locale of glibc 2.35 or later)",
						 t->display, k->cols[i], k->colls[i]);
				free(k->colls[i]);
				k->colls[i] = xstrdup("\"pg_catalog\".\"C\"");
			}
		}
	PQclear(res);
	if (!ok)
		chunk_key_free(k);
	return ok;
}

/* "k1, k2" (cast ::text when as_text) of the key's quoted columns. */
static char *
key_list(pgr_conn *c, const chunk_key *k, bool as_text)
{
	strbuf		sb;

	sb_init(&sb);
	for (int i = 0; i < k->n; i++)
	{
		char	   *q = pgr_quote_ident(c, k->cols[i]);

		sb_printf(&sb, "%s%s%s", i ? ", " : "", q, as_text ? "::text" : "");
		free(q);
	}
	return sb_steal(&sb);
}

/*
 * Boundaries of nchunks key ranges: the first key of each quantile of a
 * sample (or of the whole key), in the key's order.  res: one row per
 * boundary, k->n text columns.
 */
static PGresult *
key_boundaries(pgr_conn *src, const chunk_rel *t, const chunk_key *k, double est, long long nchunks)
{
	char	   *cols = key_list(src, k, false), *texts = key_list(src, k, true);
	double		want = fmin(fmax(64.0 * (double) nchunks, 20000.0), 2e6);
	double		pct = 100.0 * want / fmax(est, 1.0);
	char		sample[96] = "";
	char	   *sql;
	PGresult   *res;

	if (pct < 50)
		snprintf(sample, sizeof(sample), " TABLESAMPLE %s (%.6f)", est <= 1e7 ? "BERNOULLI" : "SYSTEM", pct);
	sql = xasprintf("SELECT %s FROM (SELECT %s, row_number() OVER (ORDER BY %s) AS pgreshard_rn__, "
					"count(*) OVER () AS pgreshard_n__ FROM %s%s%s) s "
					"WHERE pgreshard_rn__ > 1 AND ((pgreshard_rn__ - 1) * %lld) / pgreshard_n__ > "
					"((pgreshard_rn__ - 2) * %lld) / pgreshard_n__ ORDER BY pgreshard_rn__",
					texts, cols, cols, t->only, t->qname, sample, nchunks, nchunks);
	res = pgr_query(src, "sampling the key to split the table into chunks", sql, 0, NULL);
	free(sql);
	free(cols);
	free(texts);
	return res;
}

/* Append one chunk_plan row's parameters and insert it (leaf: the
 * partition it reads, or NULL). */
static bool
insert_chunk(pgr_conn *state, const char *plan_name, int source, int ti, long long chunk,
			 const char *by, const chunk_key *k, char *const *lo, char *const *hi, int nb, double est,
			 const part_def *leaf)
{
	char		src_s[16], ti_s[16], chunk_s[24], est_s[32];
	strbuf		a[5];
	const char *params[14];
	bool		ok;

	snprintf(src_s, sizeof(src_s), "%d", source);
	snprintf(ti_s, sizeof(ti_s), "%d", ti);
	snprintf(chunk_s, sizeof(chunk_s), "%lld", chunk);
	snprintf(est_s, sizeof(est_s), "%.0f", est);
	for (int i = 0; i < 5; i++)
		sb_init(&a[i]);
	pgarray_encode(&a[0], k->cols, k->n);
	pgarray_encode(&a[1], k->types, k->n);
	pgarray_encode(&a[2], k->colls, k->n);
	if (lo)
		pgarray_encode(&a[3], lo, nb);
	if (hi)
		pgarray_encode(&a[4], hi, nb);
	params[0] = plan_name;
	params[1] = src_s;
	params[2] = ti_s;
	params[3] = chunk_s;
	params[4] = by;
	params[5] = k->n ? a[0].data : NULL;
	params[6] = k->n ? a[1].data : NULL;
	params[7] = k->n ? a[2].data : NULL;
	params[8] = lo ? a[3].data : NULL;
	params[9] = hi ? a[4].data : NULL;
	params[10] = est_s;
	params[11] = leaf ? leaf->schema : NULL;
	params[12] = leaf ? leaf->name : NULL;
	params[13] = leaf ? (leaf->constraint ? leaf->constraint : "true") : NULL;
	ok = pgr_exec(state, "writing the chunk plan",
				  "INSERT INTO pgreshard.chunk_plan (plan_name, source, table_index, chunk, chunk_by, "
				  "key_cols, key_types, key_colls, lo_key, hi_key, est_rows, leaf_schema, leaf_name, "
				  "leaf_cond) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
				  14, params);
	for (int i = 0; i < 5; i++)
		sb_free(&a[i]);
	return ok;
}

/*
 * With several sources, a table (not a leaf) of a later source takes source
 * 0's key ranges when source 0 split it by the same key: every source's
 * chunk c is then the same key range, so a verify unit (source 0's bounds,
 * runner/verify/verify_chunks.h) is one chunk of every source, and repair
 * re-copies it alone, from each source, on the shard where it differs.  The
 * sources of an N->M move hold subsets of one key space (split by a hash or
 * a rule on the key), so source 0's quantiles split the others about as
 * evenly.  Only with the same key columns, types and collations as
 * recorded for this source (a collation recorded as "C" on one source and
 * not on another compares the same bounds in another order).  1: taken (*n
 * chunks), 0: not available, -1: error (reported).
 */
static int
take_source0_bounds(pgr_conn *state, const char *plan_name, int source, const chunk_rel *t,
					const chunk_key *k, int *n)
{
	char		src_s[16], ti_s[16];
	strbuf		cols, types, colls;
	const char *params[6];
	PGresult   *res;

	if (source == 0 || t->leaf != NULL || t->first != 0)
		return 0;
	snprintf(src_s, sizeof(src_s), "%d", source);
	snprintf(ti_s, sizeof(ti_s), "%d", t->index);
	sb_init(&cols);
	sb_init(&types);
	sb_init(&colls);
	pgarray_encode(&cols, k->cols, k->n);
	pgarray_encode(&types, k->types, k->n);
	pgarray_encode(&colls, k->colls, k->n);
	params[0] = plan_name;
	params[1] = src_s;
	params[2] = ti_s;
	params[3] = cols.data;
	params[4] = types.data;
	params[5] = colls.data;
	res = pgr_query(state, "taking source 0's chunk bounds",
					"INSERT INTO pgreshard.chunk_plan (plan_name, source, table_index, chunk, chunk_by, key_cols, "
					"key_types, key_colls, lo_key, hi_key, est_rows) "
					"SELECT plan_name, $2::int, table_index, chunk, chunk_by, key_cols, key_types, key_colls, "
					"lo_key, hi_key, est_rows FROM pgreshard.chunk_plan c WHERE plan_name = $1 AND source = 0 "
					"AND table_index = $3::int AND leaf_name IS NULL AND chunk_by = 'key' "
					"AND key_cols = $4::text[] AND key_types = $5::text[] AND key_colls IS NOT DISTINCT FROM $6::text[] "
					"AND (SELECT count(*) "
					"FROM pgreshard.chunk_plan o WHERE o.plan_name = $1 AND o.source = 0 AND o.table_index = $3::int) > 1 "
					"AND NOT EXISTS (SELECT FROM pgreshard.chunk_plan o WHERE o.plan_name = $1 AND o.source = 0 "
					"AND o.table_index = $3::int AND (o.chunk_by IS DISTINCT FROM 'key' OR o.leaf_name IS NOT NULL)) "
					"RETURNING chunk", 6, params);
	sb_free(&cols);
	sb_free(&types);
	sb_free(&colls);
	if (res == NULL)
		return -1;
	*n = PQntuples(res);
	PQclear(res);
	return *n > 0 ? 1 : 0;
}

static bool
plan_key_chunks(pgr_conn *src, pgr_conn *state, const char *plan_name, int source,
				const chunk_rel *t, const chunk_key *k, double est, long long nchunks)
{
	PGresult   *res;
	int			n, taken = take_source0_bounds(state, plan_name, source, t, k, &n);
	bool		ok = true;

	if (taken != 0)
	{
		if (taken > 0)
			t->next_chunk[0] += n;
		return taken > 0;
	}
	res = key_boundaries(src, t, k, est, nchunks);
	if (res == NULL)
		return false;
	n = PQntuples(res) + 1;
	t->next_chunk[0] += n;
	for (int c = 0; ok && c < n; c++)
	{
		char	  **lo = NULL, **hi = NULL;

		if (c > 0)
		{
			lo = xcalloc((size_t) k->n, sizeof(char *));
			for (int i = 0; i < k->n; i++)
				lo[i] = PQgetvalue(res, c - 1, i);
		}
		if (c < n - 1)
		{
			hi = xcalloc((size_t) k->n, sizeof(char *));
			for (int i = 0; i < k->n; i++)
				hi[i] = PQgetvalue(res, c, i);
		}
		ok = insert_chunk(state, plan_name, source, t->index, t->first + c, "key", k, lo, hi, k->n,
						  est / n, t->leaf);
		free(lo);
		free(hi);
	}
	PQclear(res);
	return ok;
}

/* Ranges of physical blocks: '(b,0)' .. '(b2,0)'. */
static bool
plan_ctid_chunks(pgr_conn *src, pgr_conn *state, const char *plan_name, int source,
				 const chunk_rel *t, double est, long long nchunks)
{
	const char *params[1] = {t->qname};
	PGresult   *res = pgr_query(src, "measuring the table to split it into block ranges",
								"SELECT pg_relation_size($1::regclass) / current_setting('block_size')::bigint",
								1, params);
	chunk_key	none = {0};
	long long	nblocks;
	bool		ok = true;

	if (res == NULL)
		return false;
	nblocks = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (t->only[0] == '\0')
		nblocks = 1;			/* partitioned, no leaves: one chunk */
	if (nchunks > nblocks)
		nchunks = nblocks > 1 ? nblocks : 1;
	t->next_chunk[0] += (int) nchunks;
	for (long long c = 0; ok && c < nchunks; c++)
	{
		char		lo_s[48], hi_s[48];
		char	   *lo[1] = {lo_s}, *hi[1] = {hi_s};

		snprintf(lo_s, sizeof(lo_s), "(%lld,0)", nblocks * c / nchunks);
		snprintf(hi_s, sizeof(hi_s), "(%lld,0)", nblocks * (c + 1) / nchunks);
		ok = insert_chunk(state, plan_name, source, t->index, t->first + c, nchunks > 1 ? "ctid" : "whole",
						  &none, c > 0 ? lo : NULL, c < nchunks - 1 ? hi : NULL, 1, est / (double) nchunks,
						  t->leaf);
	}
	return ok;
}

/* The chunks of one relation: the table, or one leaf partition of it. */
static bool
plan_rel_chunks(pgr_conn *src, pgr_conn *state, const plan *p, int source, const chunk_rel *r,
				const chunk_key *k, double est)
{
	long long	nchunks = chunk_count(est, p->copy_chunk_rows, p->copy_jobs);

	if (nchunks <= 1)
	{
		/* a leaf of a keyed table is a key chunk without bounds: rows of that leaf */
		bool		ok = insert_chunk(state, p->name, source, r->index, r->first,
									  r->leaf && k->n > 0 ? "key" : "whole", k, NULL, NULL, k->n, est, r->leaf);

		r->next_chunk[0]++;
		return ok;
	}
	if (k->n > 0)
		return plan_key_chunks(src, state, p->name, source, r, k, est, nchunks);
	return plan_ctid_chunks(src, state, p->name, source, r, est, nchunks);
}

/* A leaf partition's estimated rows (from its size when never analyzed). */
static double
leaf_rows(pgr_conn *src, const char *qleaf)
{
	const char *params[1] = {qleaf};
	PGresult   *res = pgr_query(src, "estimating a partition's rows",
								"SELECT CASE WHEN reltuples >= 0 THEN reltuples ELSE pg_relation_size(oid) / 64 END "
								"FROM pg_class WHERE oid = $1::regclass", 1, params);
	double		n = res && PQntuples(res) == 1 ? atof(PQgetvalue(res, 0, 0)) : -1;

	PQclear(res);
	return n;
}

/* The chunks of table t, numbered from first: leaf by leaf when parts holds
 * leaves of it, else (unless leaves_only) the table as one relation. */
static bool
plan_chunks(pgr_conn *src, pgr_conn *state, const plan *p, int source, const copy_table *t,
			const part_list *parts, int first, bool leaves_only)
{
	double		est = t->replicate ? t->est_rows : t->est_rows / p->nsources;
	int			next = first;
	chunk_rel	r = {t->index, t->only, t->qname, NULL, first, &next};
	chunk_key	k;
	bool		ok = true, any_leaf = false;

	if (t->replicate && source > 0)
		return true;			/* every source holds the same copy: take source 0's */
	if (!find_key(src, t, &k))
		return false;
	/* a partitioned table: each leaf partition is read on its own, in chunks */
	for (int i = 0; ok && parts && i < parts->n; i++)
		if (parts->v[i].table == t->index && parts->v[i].leaf)
		{
			const part_def *d = &parts->v[i];
			char	   *q = pgr_quote_qualified(src, d->schema, d->name);
			double		n = leaf_rows(src, q);

			r = (chunk_rel) {t->index, "ONLY ", q, d, next, &next};
			ok = n >= 0 && plan_rel_chunks(src, state, p, source, &r, &k, t->replicate ? n : n / p->nsources);
			any_leaf = true;
			free(q);
		}
	if (!any_leaf && !leaves_only)
		ok = plan_rel_chunks(src, state, p, source, &r, &k, est);
	chunk_key_free(&k);
	return ok;
}

bool
copy_plan_table_chunks(pgr_conn *src, pgr_conn *state, const plan *p, int source, const copy_table *t,
					   const part_list *parts)
{
	return plan_chunks(src, state, p, source, t, parts, 0, false);
}

bool
copy_plan_leaf_chunks(pgr_conn *src, pgr_conn *state, const plan *p, int source, const copy_table *t,
					  const part_list *leaves, int first)
{
	return plan_chunks(src, state, p, source, t, leaves, first, true);
}

/* " AND " between conditions. */
static void
sep_and(strbuf *sb)
{
	sb_append(sb, sb->len ? " AND " : "");
}

/* (k1, k2) OP ('v1'::t1, 'v2'::t2), or k1 OP 'v1'::t1 for one column. */
static void
row_cond(pgr_conn *c, strbuf *sb, const chunk_key *k, const char *op, char *const *vals)
{
	sep_and(sb);
	for (int pass = 0; pass < 2; pass++)
	{
		sb_append(sb, k->n > 1 ? "(" : "");
		for (int i = 0; i < k->n; i++)
		{
			char	   *q = pass == 0 ? pgr_quote_ident(c, k->cols[i]) : pgr_quote_literal(c, vals[i]);

			sb_printf(sb, "%s%s%s%s", i ? ", " : "", q, pass ? "::" : "", pass ? k->types[i] : "");
			if (pass && k->colls && k->colls[i])
				sb_printf(sb, " COLLATE %s", k->colls[i]);
			free(q);
		}
		sb_append(sb, k->n > 1 ? ")" : "");
		if (pass == 0)
			sb_printf(sb, " %s ", op);
	}
}

char *
copy_chunk_where(pgr_conn *c, const char *by, const chunk_key *k, char *const *lo, char *const *hi)
{
	strbuf		sb;

	if (strcmp(by, "whole") == 0 || (lo == NULL && hi == NULL))
		return NULL;
	sb_init(&sb);
	if (strcmp(by, "ctid") == 0)
		for (int b = 0; b < 2; b++)
		{
			char	   *v = b == 0 ? (lo ? lo[0] : NULL) : (hi ? hi[0] : NULL);
			char	   *q;

			if (v == NULL)
				continue;
			q = pgr_quote_literal(c, v);
			sep_and(&sb);
			sb_printf(&sb, "ctid %s %s::tid", b == 0 ? ">=" : "<", q);
			free(q);
		}
	else
	{
		if (lo)
			row_cond(c, &sb, k, ">=", lo);
		if (hi)
			row_cond(c, &sb, k, "<", hi);
	}
	return sb_steal(&sb);
}

bool
copy_chunk_where_text(pgr_conn *c, const char *by, const char *cols, const char *types,
					  const char *colls, const char *lo, const char *hi, char **where)
{
	chunk_key	k = {0};
	char	  **lov = NULL, **hiv = NULL;
	int			ntypes = 0, ncolls = 0, nlo = 0, nhi = 0, nb;
	bool		ok = (cols == NULL || pgarray_decode(cols, &k.cols, &k.n)) &&
		(types == NULL || pgarray_decode(types, &k.types, &ntypes)) &&
		(colls == NULL || pgarray_decode(colls, &k.colls, &ncolls)) &&
		(lo == NULL || pgarray_decode(lo, &lov, &nlo)) &&
		(hi == NULL || pgarray_decode(hi, &hiv, &nhi));

	nb = strcmp(by, "ctid") == 0 ? 1 : k.n;
	ok = ok && ntypes == k.n && (colls == NULL || ncolls == k.n) && (lov == NULL || nlo == nb) &&
		(hiv == NULL || nhi == nb);
	*where = ok ? copy_chunk_where(c, by, &k, lov, hiv) : NULL;
	pgarray_free(k.cols, k.n);
	pgarray_free(k.types, ntypes);
	pgarray_free(k.colls, ncolls);
	pgarray_free(lov, nlo);
	pgarray_free(hiv, nhi);
	return ok;
}
