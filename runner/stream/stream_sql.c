/*
 * stream_sql.c — the statements that apply one row change on a shard.
 *
 * Values travel as parameters, never inside the SQL text, so the common
 * shapes are prepared once per table and shard connection (stream_tables.c
 * writes their text): INSERT of every column, UPDATE of every column by
 * primary key, DELETE by primary key.  The shard then neither parses nor
 * plans per row.  The rarer shapes are written per change, still with
 * parameters: an UPDATE that leaves unchanged TOASTed columns ('u') alone,
 * and rows identified without a primary key (by every replica identity
 * column's text form, one row only).
 *
 * Each statement carries the row's key as text (cut short) for the message
 * should the shard refuse it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "stream.h"
#include "xalloc.h"

/* ---- helpers ------------------------------------------------------------ */

/* The tuple carries a value for each of these columns. */
static bool
has_values(const pgo_tuple *tup, const int *cols, int n)
{
	for (int i = 0; i < n; i++)
		if (cols[i] < 0 || cols[i] >= tup->ncols || tup->cols[cols[i]].kind != PGO_TEXT)
			return false;
	return n > 0;
}

bool
tuple_has_unchanged(const pgo_tuple *tup)
{
	for (int i = 0; i < tup->ncols; i++)
		if (tup->cols[i].kind == PGO_UNCHANGED)
			return true;
	return false;
}

/* The UPDATE keeps the primary key: only then may it join a run (a run
 * finds its rows by key before changing any of them). */
static bool
same_pk(const stream_table *t, const pgo_tuple *ident, const pgo_tuple *new_tup)
{
	for (int k = 0; k < t->npk; k++)
	{
		const pgo_value *a = &ident->cols[t->pk_col[k]], *b = &new_tup->cols[t->pk_col[k]];

		if (a->kind != b->kind || a->len != b->len || memcmp(a->data, b->data, a->len) != 0)
			return false;
	}
	return true;
}

/* Append n bytes at *at within out[len - 1], cutting short with "...". */
static void
put(char *out, size_t len, size_t *at, const char *src, size_t n)
{
	if (*at + n + 1 > len)
	{
		n = *at + 4 < len ? len - 4 - *at : 0;
		memcpy(out + *at, src, n);
		*at += n;
		memcpy(out + *at, "...", len - 1 - *at);
		*at = len - 1;
		return;
	}
	memcpy(out + *at, src, n);
	*at += n;
}

/* "(v1, v2)": the primary key's values, else the sharding key's, for messages
 * (no printf: this runs for every change). */
static void
key_text(const stream_table *t, const pgo_tuple *tup, char *out, size_t len)
{
	const int  *cols = t->pk_col;
	int			n = t->npk;
	size_t		at = 0;

	if (!has_values(tup, cols, n))
		cols = t->key_col, n = t->nkeys;
	if (!has_values(tup, cols, n))
	{
		snprintf(out, len, "(none: identified by its replica identity)");
		return;
	}
	put(out, len, &at, "(", 1);
	for (int k = 0; k < n; k++)
	{
		if (k)
			put(out, len, &at, ", ", 2);
		put(out, len, &at, tup->cols[cols[k]].data, tup->cols[cols[k]].len);
	}
	put(out, len, &at, ")", 1);
	out[at] = '\0';
}

/* Value i of tup, or of fill where tup has it unchanged ('u'). */
static const pgo_value *
value_of(const pgo_tuple *tup, const pgo_tuple *fill, int i)
{
	if (tup->cols[i].kind == PGO_UNCHANGED && fill != NULL && i < fill->ncols)
		return &fill->cols[i];
	return &tup->cols[i];
}

/*
 * " WHERE ..." identifying the row described by tup, its values added to p.
 * By primary key when the tuple carries it; otherwise every replica identity
 * column by its text form (types without equality work too), one row only.
 */
static void
append_where(const stream_table *t, const stream_rel *rel, const pgo_tuple *tup, strbuf *sb,
			 stmt_params *p)
{
	int			matched = 0;

	if (has_values(tup, t->pk_col, t->npk))
	{
		sb_append(sb, " WHERE ");
		for (int k = 0; k < t->npk; k++)
		{
			params_add(p, &tup->cols[t->pk_col[k]]);
			sb_printf(sb, "%s%s = $%d", k ? " AND " : "", t->qcols[t->pk_col[k]], p->n);
		}
		stream_owner_cond(sb, t, t->qname);
		return;
	}
	sb_printf(sb, " WHERE ctid = (SELECT ctid FROM %s WHERE ", t->qname);
	for (int i = 0; i < rel->ncols && i < tup->ncols && i < t->ncols; i++)
	{
		const pgo_value *v = &tup->cols[i];

		if ((!rel->ident[i] && rel->replident != 'f') || v->kind == PGO_UNCHANGED)
			continue;
		if (matched++)
			sb_append(sb, " AND ");
		if (v->kind == PGO_NULL)
			sb_printf(sb, "%s IS NULL", t->qcols[i]);
		else
		{
			params_add(p, v);
			sb_printf(sb, "%s::text = $%d", t->qcols[i], p->n);
		}
	}
	if (matched == 0)
		sb_append(sb, "false");
	sb_append(sb, " LIMIT 1)");
	stream_owner_cond(sb, t, t->qname);
}

/* "UPDATE t SET (the columns new_tup carries) WHERE (ident)". */
static void
build_update(const stream_table *t, const stream_rel *rel, const pgo_tuple *ident,
			 const pgo_tuple *new_tup, strbuf *sql, stmt_params *p)
{
	int			set = 0;

	sb_printf(sql, "UPDATE %s SET ", t->qname);
	for (int i = 0; i < t->ncols && i < new_tup->ncols; i++)
	{
		if (new_tup->cols[i].kind == PGO_UNCHANGED || t->always_ident[i])
			continue;			/* unchanged TOAST: keep what the shard has;
								 * an ALWAYS identity cannot be assigned */
		params_add(p, &new_tup->cols[i]);
		sb_printf(sql, "%s%s = $%d", set++ ? ", " : "", t->qcols[i], p->n);
	}
	for (int i = 0; set == 0 && i < t->ncols; i++)
		if (!t->always_ident[i])
			sb_printf(sql, "%s = %s", t->qcols[i], t->qcols[i]), set++;
	append_where(t, rel, ident, sql, p);
}

/* ---- the changes ---------------------------------------------------------- */

bool
shard_insert_row(stream_reader *r, int s, const stream_table *t, const pgo_tuple *tup,
				 const pgo_tuple *fill)
{
	char		key[48];

	params_reset(&r->params);
	for (int i = 0; i < t->ncols; i++)
	{
		const pgo_value *v = i < tup->ncols ? value_of(tup, fill, i) : &(pgo_value) {PGO_NULL, NULL, 0};

		if (v->kind == PGO_UNCHANGED)
		{
			log_error("%s: shard %d: table %s: column \"%s\" is an unchanged TOAST value that could "
					  "not be fetched; refusing to write it as NULL", r->role, s, t->display, t->cols[i]);
			return false;
		}
		params_add(&r->params, v);
	}
	if (t->clock_rel != NULL)	/* the row clock's commit time (stream_dir.c) */
	{
		char		ts[24];
		int			n = snprintf(ts, sizeof(ts), "%lld", (long long) r->txn_commit_ts);

		params_add(&r->params, &(pgo_value) {PGO_TEXT, ts, (uint32_t) n});
	}
	key_text(t, tup, key, sizeof(key));
	if (fill == NULL)			/* no unchanged value then: it would have failed above */
		return run_add(r, s, t, STMT_INSERT, key);
	return shard_send_change(r, s, 'I', t, STMT_INSERT, NULL, key);
}

bool
shard_update_row(stream_reader *r, int s, const stream_table *t, const stream_rel *rel,
				 const pgo_tuple *ident, const pgo_tuple *new_tup)
{
	char		key[48];
	strbuf		sql;
	bool		ok;

	params_reset(&r->params);
	key_text(t, ident, key, sizeof(key));
	if (t->nsettable == 0)
		return true;			/* only ALWAYS identity columns, unchanged */
	if (t->sql[STMT_UPDATE] && new_tup->ncols == t->ncols && !tuple_has_unchanged(new_tup) &&
		has_values(ident, t->pk_col, t->npk))
	{
		for (int i = 0; i < t->ncols; i++)
			params_add(&r->params, &new_tup->cols[i]);
		for (int k = 0; k < t->npk; k++)
			params_add(&r->params, &ident->cols[t->pk_col[k]]);
		if (same_pk(t, ident, new_tup))
			return run_add(r, s, t, STMT_UPDATE, key);
		return shard_send_change(r, s, 'U', t, STMT_UPDATE, NULL, key);
	}
	sb_init(&sql);
	build_update(t, rel, ident, new_tup, &sql, &r->params);
	ok = shard_send_change(r, s, 'U', t, -1, sql.data, key);
	sb_free(&sql);
	return ok;
}

bool
shard_delete_row(stream_reader *r, int s, const stream_table *t, const stream_rel *rel,
				 const pgo_tuple *ident)
{
	char		key[48];
	strbuf		sql;
	bool		ok;

	params_reset(&r->params);
	key_text(t, ident, key, sizeof(key));
	if (t->sql[STMT_DELETE] && has_values(ident, t->pk_col, t->npk))
	{
		for (int k = 0; k < t->npk; k++)
			params_add(&r->params, &ident->cols[t->pk_col[k]]);
		return run_add(r, s, t, STMT_DELETE, key);
	}
	sb_init(&sql);
	sb_printf(&sql, "DELETE FROM %s", t->qname);
	append_where(t, rel, ident, &sql, &r->params);
	ok = shard_send_change(r, s, 'D', t, -1, sql.data, key);
	sb_free(&sql);
	return ok;
}

/* DELETE ... RETURNING every column as text, on shard s now (0 or 1 rows). */
PGresult *
shard_delete_returning(stream_reader *r, int s, const stream_table *t, const stream_rel *rel,
					   const pgo_tuple *ident)
{
	strbuf		sql;
	PGresult   *res;

	params_reset(&r->params);
	sb_init(&sql);
	sb_printf(&sql, "DELETE FROM %s", t->qname);
	append_where(t, rel, ident, &sql, &r->params);
	sb_append(&sql, " RETURNING ");
	for (int i = 0; i < t->ncols; i++)
		sb_printf(&sql, "%s%s::text", i ? ", " : "", t->qcols[i]);
	res = shard_query_now(r, s, sql.data, "moving a row whose key changed");
	sb_free(&sql);
	return res;
}

/* UPDATE on shard s now; the caller reads the rows affected. */
PGresult *
shard_update_now(stream_reader *r, int s, const stream_table *t, const stream_rel *rel,
				 const pgo_tuple *ident, const pgo_tuple *new_tup)
{
	strbuf		sql;
	PGresult   *res;

	params_reset(&r->params);
	sb_init(&sql);
	build_update(t, rel, ident, new_tup, &sql, &r->params);
	res = shard_query_now(r, s, sql.data, "applying an UPDATE");
	sb_free(&sql);
	return res;
}
