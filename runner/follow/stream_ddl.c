/*
 * stream_ddl.c — a moved table's columns changed on the source during the
 * stream: follow the change on the shards (schema_changes: apply), or stop
 * with the statements to run there (schema_changes: stop).
 *
 * pgoutput sends a Relation message before the first change to a table
 * whose columns changed: names, type OIDs and typmods, in attnum order,
 * without generated columns.  That is the source's table as of the change
 * that follows.  Each shard that has not applied this transaction yet is
 * compared with it — its own columns, read in its open apply transaction —
 * which shows what to do there:
 *
 *   a name that is gone, and a new one at the same position: RENAME COLUMN
 *   (added columns only ever come last; see find_renames);
 *   other names gone: DROP COLUMN;  new names at the end: ADD COLUMN;
 *   the same name with another type: ALTER COLUMN ... TYPE.
 *
 * Comparing with the shard rather than with what the stream last saw makes
 * a rerun right whatever happened before it: statements an earlier run (or
 * an operator, in stop mode) already ran are not asked for again.  Types
 * are written by the source (format_type of the OID and typmod; a shard's
 * OIDs need not match).  An added column's value for the rows that existed
 * is the source's "missing value" (pg_attribute.attmissingval: a constant
 * default evaluated when the column was added), so the shards' old rows get
 * exactly the source's value; the default for new rows is then set to the
 * source's expression.  A volatile default (or an identity) makes
 * PostgreSQL rewrite the table instead, giving each row its own value, which
 * the WAL does not carry: a column added without a missing value but with a
 * default or an identity is filled from the source's rows by primary key
 * (stream_fill.c), in the same transaction, and so is a retyped column (the
 * source converted its rows with a USING expression the WAL does not carry;
 * rows the copy read after the ALTER went into the old type); without a
 * primary key, or in stop mode, the message names the repair that copies
 * the table again.
 *
 * The statements run inside the shard's open apply transaction, before the
 * transaction's first change to the table, so they commit together with
 * those changes and the shard's progress (DESIGN.md invariant 3).  The
 * stream's view of the table is then rebuilt from the message and its
 * statements are prepared again under new names.
 *
 * A change to a sharding key column (dropped, renamed or retyped) is never
 * followed: rows would be routed by another rule; the stream stops and says
 * what to do.
 *
 * The reverse stream (after the cutover, shards back to the sources) has
 * rules of its own: stream_ddl_back.c, which shares the helpers above
 * (follow_columns.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "follow_columns.h"
#include "log.h"
#include "stream.h"
#include "strbuf.h"
#include "xalloc.h"

void
follow_colset_free(colset *c)
{
	for (int i = 0; i < c->n; i++)
	{
		free(c->names[i]);
		free(c->types[i]);
	}
	free(c->names);
	free(c->types);
	memset(c, 0, sizeof(*c));
}

int
follow_name_in(char *const *names, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

/* The message's columns, with their types written by the source (one query). */
bool
follow_message_columns(pgr_conn *src, const pgo_msg *m, colset *out)
{
	strbuf		oids, mods;
	const char *params[2];
	PGresult   *res;
	bool		ok;
	int			got;

	sb_init(&oids);
	sb_init(&mods);
	for (int i = 0; i < m->ncols; i++)
	{
		sb_printf(&oids, "%s%u", i ? "," : "{", m->columns[i].type_oid);
		sb_printf(&mods, "%s%d", i ? "," : "{", m->columns[i].typmod);
	}
	sb_append(&oids, m->ncols ? "}" : "{}");
	sb_append(&mods, m->ncols ? "}" : "{}");
	params[0] = oids.data;
	params[1] = mods.data;
	res = pgr_query(src, "reading the columns' types",
					"SELECT format_type(o, t) FROM unnest($1::oid[], $2::int[]) WITH ORDINALITY AS c(o, t, n) "
					"ORDER BY n", 2, params);
	sb_free(&oids);
	sb_free(&mods);
	if (res == NULL)
		return false;
	got = PQntuples(res);
	ok = got == m->ncols;
	out->n = ok ? m->ncols : 0;
	out->names = xcalloc((size_t) m->ncols + 1, sizeof(char *));
	out->types = xcalloc((size_t) m->ncols + 1, sizeof(char *));
	for (int i = 0; i < out->n; i++)
	{
		out->names[i] = xstrdup(m->columns[i].name);
		out->types[i] = xstrdup(PQgetvalue(res, i, 0));
	}
	PQclear(res);
	if (!ok)
		log_error("reading the columns' types: %d type(s) for %d column(s)", got, m->ncols);
	return ok;
}

/* A table's columns ($1, a regclass) as a Relation message holds them. */
#define TABLE_COLUMNS_SQL \
	"SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute " \
	"WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped " \
	"AND attgenerated = '' ORDER BY attnum"

/* *out from res (TABLE_COLUMNS_SQL's), which it clears; false when NULL. */
static bool
colset_from(PGresult *res, colset *out)
{
	if (res == NULL)
		return false;
	out->n = PQntuples(res);
	out->names = xcalloc((size_t) out->n + 1, sizeof(char *));
	out->types = xcalloc((size_t) out->n + 1, sizeof(char *));
	for (int i = 0; i < out->n; i++)
	{
		out->names[i] = xstrdup(PQgetvalue(res, i, 0));
		out->types[i] = xstrdup(PQgetvalue(res, i, 1));
	}
	PQclear(res);
	return true;
}

/* Shard s's columns of t, read in its open apply transaction. */
bool
follow_down_columns(stream_reader *r, int s, const stream_table *t, colset *out)
{
	pgo_value	v = {.kind = PGO_TEXT, .data = t->qname, .len = (uint32_t) strlen(t->qname)};

	params_reset(&r->params);
	params_add(&r->params, &v);
	return colset_from(shard_query_now(r, s, TABLE_COLUMNS_SQL, "reading the shard's columns"), out);
}

/* How the shard's columns (have) map onto the message's (want). */
typedef struct col_map {
	int		   *old_of;			/* [want.n] index in have, or -1: added */
	bool	   *renamed;		/* [want.n] */
	bool	   *kept;			/* [have.n] */
} col_map;

static void
map_columns(const colset *have, const colset *want, col_map *cm)
{
	cm->old_of = xcalloc((size_t) want->n + 1, sizeof(int));
	cm->renamed = xcalloc((size_t) want->n + 1, sizeof(bool));
	cm->kept = xcalloc((size_t) have->n + 1, sizeof(bool));
	for (int i = 0; i < want->n; i++)
	{
		cm->old_of[i] = follow_name_in(have->names, have->n, want->names[i]);
		if (cm->old_of[i] >= 0)
			cm->kept[cm->old_of[i]] = true;
	}
}

/*
 * A new name where an old one vanished, at the same position, is a rename
 * — unless the old column was dropped and the new one added (added columns
 * come last: only when the old one was the last).  The source tells them
 * apart: a dropped attribute between the new column and the one before it
 * means drop + add.  (A column dropped there long before the move makes a
 * rename look like drop + add: the old rows then lack the values, and
 * verify reports them for `pgreshard repair`.)
 */
static bool
find_renames(pgr_conn *src, const stream_table *t, const colset *have, const colset *want, col_map *cm)
{
	for (int i = 0; i < want->n && i < have->n; i++)
	{
		const char *params[3] = {t->qname, i > 0 ? want->names[i - 1] : "", want->names[i]};
		PGresult   *res;

		if (cm->old_of[i] >= 0 || cm->kept[i] || follow_name_in(want->names, want->n, have->names[i]) >= 0)
			continue;
		res = pgr_query(src, "telling a renamed column from a new one",
						"SELECT NOT EXISTS (SELECT FROM pg_attribute d WHERE d.attrelid = $1::regclass "
						"AND d.attisdropped AND d.attnum > coalesce((SELECT attnum FROM pg_attribute "
						"WHERE attrelid = $1::regclass AND attname = $2), 0) AND d.attnum < (SELECT attnum "
						"FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $3))", 3, params);
		if (res == NULL)
			return false;
		if (PQgetvalue(res, 0, 0)[0] == 't')
		{
			cm->old_of[i] = i;
			cm->renamed[i] = true;
			cm->kept[i] = true;
		}
		PQclear(res);
	}
	return true;
}

static void
col_map_free(col_map *cm)
{
	free(cm->old_of);
	free(cm->renamed);
	free(cm->kept);
}

/* A sharding key column dropped, renamed or retyped: refuse (reported). */
static bool
check_keys(stream_reader *r, const stream_table *t, const colset *have, const colset *want,
		   const col_map *cm)
{
	for (int k = 0; k < t->pt->nkeys; k++)
	{
		int			j = follow_name_in(have->names, have->n, t->pt->keys[k]);
		const char *what = NULL;

		if (j < 0)
			continue;			/* not there to begin with: the plan check's business */
		if (!cm->kept[j])
			what = "dropped";
		for (int i = 0; i < want->n && what == NULL; i++)
			if (cm->old_of[i] == j && cm->renamed[i])
				what = "renamed";
			else if (cm->old_of[i] == j && strcmp(want->types[i], have->types[j]) != 0)
				what = "retyped";
		if (what)
		{
			log_error("%s: table %s: its sharding key column \"%s\" was %s on the source during the "
					  "move; rows would be routed by another rule, so pgreshard does not follow it; fix: "
					  "undo the change on the source, or cancel the move (`pgreshard cleanup --drop-data`) "
					  "and plan it again", r->role, t->display, t->pt->keys[k], what);
			return false;
		}
	}
	return true;
}

/* The source's missing value (text) and default expression of a column;
 * *rewritten: its existing rows got values of their own (no missing value,
 * but a default or an identity: the table was rewritten, or the default set
 * after the column was added — the rows' values are the source's either way). */
static bool
source_column(pgr_conn *src, const stream_table *t, const char *col, char **missing, char **dflt,
			  bool *rewritten)
{
	const char *params[2] = {t->qname, col};
	PGresult   *res = pgr_query(src, "reading an added column",
								"SELECT CASE WHEN a.atthasmissing THEN (a.attmissingval::text::text[])[1] END, "
								"pg_get_expr(d.adbin, d.adrelid), NOT a.atthasmissing AND "
								"(d.adbin IS NOT NULL OR a.attidentity <> '') FROM pg_attribute a "
								"LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
								"WHERE a.attrelid = $1::regclass AND a.attname = $2 AND NOT a.attisdropped",
								2, params);

	*missing = *dflt = NULL;
	*rewritten = false;
	if (res == NULL)
		return false;
	if (PQntuples(res) == 1)
	{
		*missing = PQgetisnull(res, 0, 0) ? NULL : xstrdup(PQgetvalue(res, 0, 0));
		*dflt = PQgetisnull(res, 0, 1) ? NULL : xstrdup(PQgetvalue(res, 0, 1));
		*rewritten = PQgetvalue(res, 0, 2)[0] == 't';
	}
	PQclear(res);
	return true;
}

static void
add_stmt(char ***stmts, int *n, char *sql)
{
	*stmts = xrealloc(*stmts, sizeof(char *) * (size_t) (*n + 1));
	(*stmts)[(*n)++] = sql;
}

/* An added column: with the source's value for existing rows, then its
 * default; *fill: the existing rows' values are to be copied (stream_fill.c). */
bool
follow_add_column(pgr_conn *src, const stream_table *t, const char *name, const char *qc, const char *type,
		   char ***stmts, int *n, bool *fill)
{
	char	   *missing, *dflt;

	if (!source_column(src, t, name, &missing, &dflt, fill))
		return false;
	if (missing)
	{
		char	   *lit = PQescapeLiteral(src->pg, missing, strlen(missing));

		add_stmt(stmts, n, xasprintf("ALTER TABLE %s ADD COLUMN %s %s DEFAULT %s::%s", t->qname, qc, type,
									 lit, type));
		PQfreemem(lit);
	}
	else
		add_stmt(stmts, n, xasprintf("ALTER TABLE %s ADD COLUMN %s %s", t->qname, qc, type));
	if (dflt || missing)			/* the missing value was only for the rows that existed */
		add_stmt(stmts, n, dflt ? xasprintf("ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s", t->qname, qc, dflt)
				 : xasprintf("ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT", t->qname, qc));
	free(missing);
	free(dflt);
	return true;
}

/* The statements that turn the shard's columns (have) into the source's
 * (want); fill[i]: column i was added and its values are to be filled;
 * retyped[i]: its type changed (its values are to be made the source's). */
static bool
build_ddl(pgr_conn *src, const stream_table *t, const colset *have, const colset *want,
		  const col_map *cm, char ***stmts, int *n, bool *fill, bool *retyped)
{
	bool		ok = true;

	for (int j = 0; j < have->n; j++)
		if (!cm->kept[j])
		{
			char	   *qc = pgr_quote_ident(src, have->names[j]);

			add_stmt(stmts, n, xasprintf("ALTER TABLE %s DROP COLUMN %s", t->qname, qc));
			free(qc);
		}
	for (int i = 0; ok && i < want->n; i++)
	{
		char	   *qc = pgr_quote_ident(src, want->names[i]);
		int			j = cm->old_of[i];

		if (j >= 0 && cm->renamed[i])
		{
			char	   *qo = pgr_quote_ident(src, have->names[j]);

			add_stmt(stmts, n, xasprintf("ALTER TABLE %s RENAME COLUMN %s TO %s", t->qname, qo, qc));
			free(qo);
		}
		if (j >= 0 && strcmp(want->types[i], have->types[j]) != 0)
		{
			add_stmt(stmts, n, xasprintf("ALTER TABLE %s ALTER COLUMN %s TYPE %s USING %s::%s", t->qname, qc,
										 want->types[i], qc, want->types[i]));
			retyped[i] = true;
		}
		else if (j < 0)
			ok = follow_add_column(src, t, want->names[i], qc, want->types[i], stmts, n, &fill[i]);
		free(qc);
	}
	return ok;
}

/* Rebuild the stream's view of t from the source's columns (want). */
void
follow_rebuild_table(stream_reader *r, stream_table *t, const colset *want)
{
	pgr_conn   *q = r->shards[0].conn;	/* quoting only */
	char	  **pks = xcalloc((size_t) t->npk + 1, sizeof(char *));
	char	   *chunk[32];

	for (int k = 0; k < t->nck; k++)
		chunk[k] = t->ck_col[k] >= 0 ? xstrdup(t->cols[t->ck_col[k]]) : NULL;

	for (int k = 0; k < t->npk; k++)
		pks[k] = t->pk_col[k] >= 0 ? xstrdup(t->cols[t->pk_col[k]]) : NULL;
	/* a GENERATED ALWAYS identity stays one by name, wherever it now is; a
	 * column added since is plain on the shards (until the cutover's schema
	 * check), so assigned like one */
	bool	   *always = xcalloc((size_t) want->n + 1, sizeof(bool));

	for (int c = 0; c < t->ncols; c++)
	{
		int			w = follow_name_in(want->names, want->n, t->cols[c]);

		if (w >= 0)
			always[w] = t->always_ident[c];
		free(t->cols[c]);
		free(t->qcols[c]);
		free(t->types[c]);
	}
	free(t->cols);
	free(t->qcols);
	free(t->types);
	free(t->always_ident);
	t->always_ident = always;
	t->has_always_ident = false;
	t->nsettable = 0;
	t->ncols = want->n;
	t->cols = xcalloc((size_t) want->n + 1, sizeof(char *));
	t->qcols = xcalloc((size_t) want->n + 1, sizeof(char *));
	t->types = xcalloc((size_t) want->n + 1, sizeof(char *));
	for (int i = 0; i < want->n; i++)
	{
		t->cols[i] = xstrdup(want->names[i]);
		t->qcols[i] = pgr_quote_ident(q, want->names[i]);
		t->types[i] = xstrdup(want->types[i]);
		t->has_always_ident = t->has_always_ident || always[i];
		t->nsettable += !always[i];
	}
	for (int k = 0; k < t->nkeys; k++)
		t->key_col[k] = follow_name_in(t->cols, t->ncols, t->pt->keys[k]);
	/* a primary key column renamed is no longer found: the table then
	 * goes without prepared UPDATE/DELETE, as one without a primary key */
	for (int k = 0; k < t->npk; k++)
	{
		t->pk_col[k] = pks[k] ? follow_name_in(t->cols, t->ncols, pks[k]) : -1;
		free(pks[k]);
	}
	free(pks);
	/* a chunk key column renamed or dropped: its rows' chunks are unknown, and
	 * changes older than a late chunk are then taken as in it */
	for (int k = 0; k < t->nck; k++)
	{
		t->ck_col[k] = chunk[k] ? follow_name_in(t->cols, t->ncols, chunk[k]) : -1;
		free(chunk[k]);
	}
	if (t->lua_route)
	{
		free(t->route_col);
		t->route_col = xcalloc((size_t) t->ncols + 1, sizeof(int));
		t->nroute = 0;
		for (int i = 0; i < t->ncols; i++)
			if (t->pt->nreads == 0 || follow_name_in(t->pt->reads, t->pt->nreads, t->cols[i]) >= 0)
				t->route_col[t->nroute++] = i;
	}
	t->generation++;
	stream_table_statements(t);
	/* the old statements stay prepared under their old names: new names now */
	for (int s = 0; s < r->dir->ndown; s++)
		for (int k = 0; k < STMT_KINDS; k++)
		{
			r->shards[s].prepared[t->index * STMT_KINDS + k] = false;
			r->shards[s].run_prepared[t->index * STMT_KINDS + k] = 0;
		}
}

/* The stream already knows exactly these columns. */
bool
follow_same_as_table(const stream_table *t, const colset *want)
{
	if (t->ncols != want->n)
		return false;
	for (int i = 0; i < want->n; i++)
		if (strcmp(t->cols[i], want->names[i]) != 0 || strcmp(t->types[i], want->types[i]) != 0)
			return false;
	return true;
}

/* Added columns whose existing rows have values of their own on the source
 * (fill[s * want->n + i]: column i was added on shard s), and retyped
 * columns (retyped[...]: the source converted its rows with a USING the WAL
 * does not carry): fill them, reading the source once per column, or say
 * how to get them there. */
static bool
fill_or_say(stream_reader *r, pgr_conn *src, const stream_table *t, const colset *want, const bool *fill,
			const bool *retyped, strbuf *todo)
{
	int			nshards = r->dir->ndown;
	bool	   *shards = xcalloc((size_t) nshards, sizeof(bool));
	bool		stop = r->ctx->plan->schema_changes == SCHEMA_CHANGES_STOP, ok = true;

	for (int i = 0; ok && i < want->n; i++)
	{
		bool		any = false, retype = false;
		const char *why;

		for (int s = 0; s < nshards; s++)
		{
			retype = retype || retyped[s * want->n + i];
			shards[s] = fill[s * want->n + i] || retyped[s * want->n + i];
			any = shards[s] || any;
		}
		if (!any)
			continue;
		why = retype ? "was retyped on the source, which converted its existing rows with its own USING "
			"(and rows copied after the ALTER went into the old type)"
			: "has values of its own in the source's existing rows (a volatile default or an identity)";
		for (int k = 0; retype && k < t->npk; k++)
			if (t->pk_col[k] >= 0 && strcmp(t->cols[t->pk_col[k]], want->names[i]) == 0)
				why = NULL;		/* rows are matched by it: not filled */
		if (why == NULL)
		{
			log_warn("%s: table %s: primary key column \"%s\" was retyped on the source: its values are not "
					 "filled from the source's rows (they are what rows are matched by); if the source's ALTER "
					 "had a USING other than the cast, run `pgreshard repair %s %s` once the stream has caught "
					 "up (verify reports the rows meanwhile)", r->role, t->display, want->names[i],
					 r->ctx->plan->path, t->display);
			continue;
		}
		if (!stop && stream_fill_possible(t))
			ok = stream_fill_column(r, src, t, want->names[i], want->types[i], shards, retype);
		else if (stop && strstr(todo->data, "`pgreshard repair") == NULL)	/* once for the table */
			sb_printf(todo, "\n  and afterwards, once the stream has caught up (apply --until stream), "
					  "`pgreshard repair %s %s`: column \"%s\" %s, which the WAL does not carry",
					  r->ctx->plan->path, t->display, want->names[i], why);
		else if (!stop)
			log_warn("%s: table %s: column \"%s\" %s, which the WAL does not carry, and the table "
					 "has no primary key to match them by; fix: once the stream has caught up (apply "
					 "--until stream), run `pgreshard repair %s %s` (verify reports the rows meanwhile)",
					 r->role, t->display, want->names[i], why, r->ctx->plan->path, t->display);
	}
	free(shards);
	return ok;
}

/* Follow (or, in stop mode, list) on shard s; *stmts collects what it needs;
 * fill[i], retyped[i]: as build_ddl's. */
static bool
shard_follow(stream_reader *r, int s, pgr_conn *src, const stream_table *t, const colset *want,
			 strbuf *todo, bool *fill, bool *retyped)
{
	colset		have = {0};
	col_map		cm = {0};
	char	  **stmts = NULL;
	int			n = 0;
	bool		ok = follow_down_columns(r, s, t, &have);

	if (ok)
	{
		map_columns(&have, want, &cm);
		ok = find_renames(src, t, &have, want, &cm) && check_keys(r, t, &have, want, &cm) &&
			build_ddl(src, t, &have, want, &cm, &stmts, &n, fill, retyped);
	}
	for (int i = 0; ok && i < n; i++)
	{
		if (r->ctx->plan->schema_changes == SCHEMA_CHANGES_STOP)
			sb_printf(todo, "\n  on shard %d: %s;", s, stmts[i]);
		else
		{
			PGresult   *res;

			log_info("%s: shard %d: table %s changed on the source; following it: %s", r->role, s,
					 t->display, stmts[i]);
			params_reset(&r->params);
			res = shard_query_now(r, s, stmts[i], "following a schema change of the source");
			ok = res != NULL;
			PQclear(res);
		}
	}
	for (int i = 0; i < n; i++)
		free(stmts[i]);
	free(stmts);
	col_map_free(&cm);
	follow_colset_free(&have);
	return ok;
}

/*
 * Make the shards' t the upstream's columns (want), written by src: every
 * shard that has not applied the transaction being received (all: every
 * shard, between two transactions), compared with its own columns.
 */
static bool
follow_want(stream_reader *r, pgr_conn *src, stream_table *t, const colset *want, bool all)
{
	strbuf		todo;
	bool		ok = true;
	bool	   *fill = xcalloc((size_t) (r->dir->ndown * want->n) + 1, sizeof(bool));
	bool	   *retyped = xcalloc((size_t) (r->dir->ndown * want->n) + 1, sizeof(bool));

	bool	   *seen = xcalloc((size_t) want->n + 1, sizeof(bool));

	/* with several sources another source's stream may have altered the
	 * shards already: a type that changed from what this stream knew is
	 * filled with this source's rows all the same */
	for (int i = 0; r->ctx->plan->nsources > 1 && i < want->n; i++)
	{
		int			j = follow_name_in(t->cols, t->ncols, want->names[i]);

		seen[i] = j >= 0 && strcmp(t->types[j], want->types[i]) != 0;
	}
	sb_init(&todo);
	for (int s = 0; ok && s < r->dir->ndown; s++)
		if (all || r->txn_commit_lsn > r->shards[s].progress)	/* else it has this transaction */
			ok = shard_follow(r, s, src, t, want, &todo, fill + s * want->n, retyped + s * want->n);
	for (int i = 0; i < want->n; i++)
		for (int s = 0; seen[i] && s < r->dir->ndown; s++)
			retyped[s * want->n + i] = true;
	/* the stream's view first: the fill matches rows by the key's new
	 * names and types */
	if (ok && todo.len == 0 && !follow_same_as_table(t, want))
		follow_rebuild_table(r, t, want);
	ok = ok && fill_or_say(r, src, t, want, fill, retyped, &todo);
	free(fill);
	free(retyped);
	free(seen);
	if (ok && todo.len > 0)
	{
		log_error("%s: table %s was altered on the source during the move and schema_changes is stop: "
				  "the stream stops %s.  Run:%s\nthen rerun apply; it continues from here", r->role,
				  t->display, all ? "here" : "before the first change after it", todo.data);
		ok = false;
	}
	sb_free(&todo);
	return ok;
}

bool
stream_follow_columns(stream_reader *r, stream_table *t, const pgo_msg *m)
{
	if (r->dir->reverse)
		return stream_follow_columns_back(r, t, m);
	colset		want = {0};
	pgr_conn   *src = pgr_connect(r->dir->up_dsns[r->source], r->role, 0);
	bool		ok = src != NULL && follow_message_columns(src, m, &want) && follow_want(r, src, t, &want, false);

	pgr_disconnect(src);
	follow_colset_free(&want);
	return ok;
}

bool
stream_follow_catalog(stream_reader *r, stream_table *t, pgr_conn *src)
{
	const char *params[1] = {t->qname};
	colset		want = {0};
	bool		ok;

	if (!colset_from(pgr_query(src, "reading the source's columns", TABLE_COLUMNS_SQL, 1, params), &want))
		return false;
	log_debug("%s: table %s: its columns differ on a shard and no change to it has come since "
			  "(pgoutput announces a table's columns only before its next change): following the "
			  "source's catalog", r->role, t->display);
	ok = follow_want(r, src, t, &want, true);
	follow_colset_free(&want);
	return ok;
}
