/*
 * stream_fill.c — a column added or retyped on the source with per-row
 * values that the WAL does not carry: fill it on a shard from the source's
 * rows.
 *
 * `ALTER TABLE ... ADD COLUMN c ... DEFAULT random()` (any volatile default,
 * or an identity column) makes PostgreSQL rewrite the table, each existing
 * row getting its own value; logical decoding never sees a rewrite, so the
 * stream learns of the column (its Relation message) but not of the values.
 * Once stream_ddl.c has added the column on shard s, inside the shard's open
 * apply transaction before the first change after the ALTER (at commit LSN
 * T), this copies the column's values by primary key, in batches of
 * FILL_BATCH rows read from the source in key order (once, for every shard
 * that added the column) and written on each as one UPDATE ... FROM
 * unnest(...), in that same transaction: a crash rolls back the column and
 * its values together, and the rerun does both again.
 *
 * The source is read now, later than T.  That is exact once the stream has
 * caught up, without skipping anything: a row not changed since T still has
 * its value from the rewrite; a row changed since T is changed again by the
 * stream, which replays every change after T in order and each of them
 * carries the column (or leaves an unchanged TOASTed value, already the
 * source's); a row deleted since is deleted by the stream; a row inserted
 * since is not on the shard yet and arrives with its value.  Rows of other
 * shards match nothing there.  Memory is bounded by the batch.
 *
 * A column retyped on the source (ALTER COLUMN ... TYPE) is the same case:
 * PostgreSQL rewrote every row with its USING expression (any expression,
 * not only the cast the shard's own ALTER uses), and rows the copy read
 * after the ALTER went into the shards' old type (copy_rewrite.c: a smaller
 * scale or length loses digits).  Once the shard's column has the new
 * type, the same fill makes each value the source's; only the rows whose
 * value differs are written (compared as text, both sides printed by the
 * shard's session, so a type without an equality operator works too).
 *
 * The column is read as the source has it now: when the source changed it
 * again since (a stream far behind), the fill waits for that change's
 * announcement, which fills again (a rename does not: the warning names
 * the repair).  A retyped primary key column is not filled (its values are
 * what rows are matched by): stream_ddl.c names the repair.  A
 * partitioned table is read and written through its partitions.
 *
 * A table without a primary key has nothing to match rows by: the stream
 * says so and names the repair that copies the table again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "chunk_key.h"
#include "log.h"
#include "stream.h"
#include "xalloc.h"

#define FILL_BATCH 5000

/* SELECT s.pk..., s.col FROM [ONLY] t s [WHERE (s.pk...) > ($1...)] ORDER BY s.pk... LIMIT n
 * (ONLY: a table's inheritance children are not its rows; a partitioned
 * table's partitions are, and ONLY reads none of them) */
static char *
source_sql(const stream_table *t, const char *qcol, bool after, const char *only)
{
	strbuf		sb, keys;

	/* qualified: ORDER BY a bare name would take the text output column */
	sb_init(&sb);
	sb_init(&keys);
	for (int k = 0; k < t->npk; k++)
		sb_printf(&keys, "%ss.%s", k ? ", " : "", t->qcols[t->pk_col[k]]);
	sb_append(&sb, "SELECT ");
	for (int k = 0; k < t->npk; k++)
		sb_printf(&sb, "s.%s::text, ", t->qcols[t->pk_col[k]]);
	sb_printf(&sb, "s.%s::text FROM %s%s AS s", qcol, only, t->qname);
	if (after)
	{
		sb_printf(&sb, " WHERE (%s) > (", keys.data);
		for (int k = 0; k < t->npk; k++)
			sb_printf(&sb, "%s$%d::%s", k ? ", " : "", k + 1, t->types[t->pk_col[k]]);
		sb_append(&sb, ")");
	}
	sb_printf(&sb, " ORDER BY %s LIMIT %d", keys.data, FILL_BATCH);
	sb_free(&keys);
	return sb_steal(&sb);
}

/* UPDATE ONLY t SET col = v.c::type FROM unnest($1::text[], ...) v WHERE t.pk = v.k::type ...
 * [AND the value differs] */
static char *
shard_sql(const stream_table *t, const char *qcol, const char *type, bool differing, const char *only)
{
	strbuf		sb;

	sb_init(&sb);
	sb_printf(&sb, "UPDATE %s%s AS t SET %s = v.c::%s FROM unnest(", only, t->qname, qcol, type);
	for (int k = 0; k <= t->npk; k++)
		sb_printf(&sb, "%s$%d::text[]", k ? ", " : "", k + 1);
	sb_append(&sb, ") AS v(");
	for (int k = 0; k < t->npk; k++)
		sb_printf(&sb, "k%d, ", k);
	sb_append(&sb, "c) WHERE ");
	for (int k = 0; k < t->npk; k++)
		sb_printf(&sb, "%st.%s = v.k%d::%s", k ? " AND " : "", t->qcols[t->pk_col[k]], k,
				  t->types[t->pk_col[k]]);
	if (differing)
		sb_printf(&sb, " AND t.%s::text IS DISTINCT FROM (v.c::%s)::text", qcol, type);
	return sb_steal(&sb);
}

/* *is: the source's t still has column col, of that type. */
static bool
source_column_is(pgr_conn *src, const stream_table *t, const char *col, const char *type, bool *is)
{
	const char *params[3] = {t->qname, col, type};
	PGresult   *res = pgr_query(src, "checking the column on the source",
								"SELECT EXISTS (SELECT FROM pg_attribute WHERE attrelid = $1::regclass "
								"AND attname = $2 AND NOT attisdropped AND format_type(atttypid, atttypmod) = $3)",
								3, params);

	if (res == NULL)
		return false;
	*is = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return true;
}

/* One batch read from the source (res) written on shard s; *written: the
 * rows it changed there. */
static bool
write_batch(stream_reader *r, int s, const stream_table *t, const char *sql, const PGresult *res,
			long long *written)
{
	int			n = PQntuples(res);
	char	  **vals = xcalloc((size_t) n + 1, sizeof(char *));
	strbuf		arr;
	PGresult   *up;

	params_reset(&r->params);
	sb_init(&arr);
	for (int c = 0; c <= t->npk; c++)
	{
		pgo_value	v = {.kind = PGO_TEXT};

		for (int i = 0; i < n; i++)
			vals[i] = PQgetisnull(res, i, c) ? NULL : PQgetvalue(res, i, c);
		sb_reset(&arr);
		pgarray_encode(&arr, vals, n);
		v.data = arr.data;
		v.len = (uint32_t) arr.len;
		params_add(&r->params, &v);
	}
	up = shard_query_now(r, s, sql, "filling a column with the source's values");
	if (up)
		*written += atoll(PQcmdTuples(up));
	PQclear(up);
	sb_free(&arr);
	free(vals);
	return up != NULL;
}

bool
stream_fill_column(stream_reader *r, pgr_conn *src, const stream_table *t, const char *col,
				   const char *type, const bool *shards, bool retyped)
{
	const char *only = catalog_table(r->ctx->cat, t->index)->partitioned ? "" : "ONLY ";
	char	   *qcol, *first, *next, *up;
	char	  **last;
	long long	rows = 0, written = 0;
	bool		ok = true, more = true, still;

	/* the source changed the column again since (the stream is behind):
	 * that change's announcement follows, with a fill of its own */
	if (!source_column_is(src, t, col, type, &still))
		return false;
	if (!still)
	{
		log_warn("%s: table %s: column \"%s\" changed again on the source since it became %s: its values "
				 "are not filled now; the stream follows that change when it reaches it (if it was a "
				 "rename, run `pgreshard repair %s %s` once the stream has caught up)", r->role, t->display,
				 col, type, r->ctx->plan->path, t->display);
		return true;
	}
	qcol = pgr_quote_ident(src, col);
	last = xcalloc((size_t) t->npk + 1, sizeof(char *));
	first = source_sql(t, qcol, false, only);
	next = source_sql(t, qcol, true, only);
	up = shard_sql(t, qcol, type, retyped, only);
	while (ok && more)
	{
		PGresult   *res = pgr_query(src, "reading a column's values to fill it on the shards", rows ? next : first,
									rows ? t->npk : 0, (const char *const *) last);
		int			n = res ? PQntuples(res) : 0;

		ok = res != NULL;
		for (int s = 0; ok && n > 0 && s < r->dir->ndown; s++)
			ok = !shards[s] || write_batch(r, s, t, up, res, &written);
		for (int k = 0; ok && n > 0 && k < t->npk; k++)
		{
			free(last[k]);
			last[k] = xstrdup(PQgetvalue(res, n - 1, k));
		}
		rows += n;
		more = n == FILL_BATCH;
		PQclear(res);
	}
	if (ok && retyped)
		log_info("%s: table %s: column %s retyped on the shards and made the source's, row by row (%lld "
				 "row(s) read once, %lld changed on the shards): the source converted its rows with its "
				 "own USING, and rows copied after the ALTER went into the old type", r->role, t->display,
				 qcol, rows, written);
	else if (ok)
		log_info("%s: table %s: column %s filled on the shards with the source's values (%lld row(s) "
				 "read once): the source rewrote them and the WAL does not carry them", r->role,
				 t->display, qcol, rows);
	for (int k = 0; k < t->npk; k++)
		free(last[k]);
	free(last);
	free(first);
	free(next);
	free(up);
	free(qcol);
	return ok;
}

bool
stream_fill_possible(const stream_table *t)
{
	bool		ok = t->npk > 0;

	for (int k = 0; k < t->npk; k++)
		ok = ok && t->pk_col[k] >= 0;
	return ok;
}
