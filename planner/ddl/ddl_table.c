/*
 * ddl_table.c — CREATE TABLE of a moved table, rewritten for PRE without
 * the constraints that wait until after the copy, and the scanner-token
 * helpers the rewrite is cut with.
 *
 * The new text is cut from pg_dump's own text at places the parse tree and
 * libpg_query's scanner point to (token offsets), so names, quoting,
 * expressions and formatting stay exactly as pg_dump wrote them.  CREATE
 * TABLE is split into its elements at the commas of its column list
 * (depth-0 ',' tokens, so commas in strings, comments, defaults or type
 * modifiers never count); table constraints other than NOT NULL are cut out
 * and become ALTER TABLE ... ADD <their own text>, and column constraints
 * (CHECK, PRIMARY KEY, UNIQUE, REFERENCES) are cut out of their column and
 * given the column's name (PRIMARY KEY (col), FOREIGN KEY (col) REFERENCES
 * ...).  CHECK constraints are added without ONLY, as pg_dump does, so that
 * they reach partitions and inheritance children as CREATE TABLE made them
 * do; so are all the constraints of a partitioned table.
 *
 * The constraints cut out go to the CUT list (ddl.c adds them to children
 * before parents); the foreign keys cut out go through ddl_decide_fk()
 * (ddl_fk.c) to CUT_FK, after all of POST, once every key they may
 * reference exists.
 *
 * The same token helpers put "IF NOT EXISTS" into CREATE SCHEMA and CREATE
 * EXTENSION for ddl_classify.c (ddl_insert_after_keyword).
 */
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>

#include "ddl_internal.h"
#include "log.h"
#include "strbuf.h"
#include "xalloc.h"

/* ---- tokens ----------------------------------------------------------- */

static PgQuery__ScanResult *
scan_stmt(const ddl_parsed *p)
{
	PgQueryScanResult sr = pg_query_scan(p->sql);
	PgQuery__ScanResult *u = NULL;

	if (sr.error != NULL)
		log_error("schema dump line %d: cannot scan the statement: %s",
				  p->line, sr.error->message);
	else
		u = pg_query__scan_result__unpack(NULL, sr.pbuf.len,
										  (const uint8_t *) sr.pbuf.data);
	pg_query_free_scan_result(sr);
	return u;
}

static bool
is_comment(const PgQuery__ScanToken *t)
{
	return t->token == TOK(SQL_COMMENT) || t->token == TOK(C_COMMENT);
}

/* Index of the first real token starting at or after pos (n_tokens if none). */
static size_t
tok_at(const PgQuery__ScanResult *u, int pos)
{
	size_t		i = 0;

	while (i < u->n_tokens && (u->tokens[i]->start < pos || is_comment(u->tokens[i])))
		i++;
	return i;
}

/* End of the last real token that ends at or before pos (0 if none). */
static int
tok_end_before(const PgQuery__ScanResult *u, int pos)
{
	int			end = 0;

	for (size_t i = 0; i < u->n_tokens && u->tokens[i]->end <= pos; i++)
		if (!is_comment(u->tokens[i]))
			end = u->tokens[i]->end;
	return end;
}

/* Index of the first token of kind tok in [from, to) offsets, or n_tokens. */
static size_t
find_tok(const PgQuery__ScanResult *u, int from, int to, PgQuery__Token tok)
{
	for (size_t i = tok_at(u, from); i < u->n_tokens && u->tokens[i]->start < to; i++)
		if (u->tokens[i]->token == tok)
			return i;
	return u->n_tokens;
}

/* The text of the (maybe qualified) name whose first token starts at loc. */
static char *
name_text(const char *sql, const PgQuery__ScanResult *u, int loc)
{
	size_t		i = tok_at(u, loc);
	int			end;

	if (i >= u->n_tokens)
		return xstrdup("");
	end = u->tokens[i]->end;
	while (i + 2 < u->n_tokens && u->tokens[i + 1]->token == TOK(ASCII_46))
	{
		i += 2;
		end = u->tokens[i]->end;
	}
	return xstrndup(sql + loc, (size_t) (end - loc));
}

/* sql[0, at) + ins + sql[at, end) as a new string. */
static char *
splice(const char *sql, int at, const char *ins, int end)
{
	return xasprintf("%.*s%s%.*s", at, sql, ins, end - at, sql + at);
}

/* The statement with ins inserted after its first token of kind kw. */
char *
ddl_insert_after_keyword(const ddl_parsed *p, PgQuery__Token kw, const char *ins)
{
	PgQuery__ScanResult *u = scan_stmt(p);
	char	   *sql = NULL;
	size_t		i;

	if (u == NULL)
		return NULL;
	i = find_tok(u, 0, (int) strlen(p->sql), kw);
	if (i < u->n_tokens)
		sql = splice(p->sql, u->tokens[i]->end, ins, (int) strlen(p->sql));
	else
		log_error("schema dump line %d: unexpected statement form", p->line);
	pg_query__scan_result__free_unpacked(u, NULL);
	return sql;
}

/* ---- CREATE TABLE ----------------------------------------------------- */

static bool
moves_out_of_create(const PgQuery__Node *n)
{
	PgQuery__ConstrType t;

	if (!NODE(n, CONSTRAINT))
		return false;
	t = n->constraint->contype;
	return t == CONSTR(CHECK) || t == CONSTR(PRIMARY) || t == CONSTR(UNIQUE) ||
		t == CONSTR(EXCLUSION) || t == CONSTR(FOREIGN);
}

typedef struct span {
	int			start, end;		/* byte offsets into the statement */
} span;

typedef struct table_job {
	ddl_ctx    *c;
	const ddl_parsed *p;
	const PgQuery__CreateStmt *cs;
	PgQuery__ScanResult *u;
	int			ti;
	char	   *name_sql;		/* the table's name as pg_dump wrote it */
	char	   *disp;
} table_job;

static int
item_location(const PgQuery__Node *n)
{
	if (NODE(n, COLUMN_DEF))
		return n->column_def->location;
	if (NODE(n, CONSTRAINT))
		return n->constraint->location;
	if (NODE(n, COLLATE_CLAUSE))
		return n->collate_clause->location;
	if (NODE(n, TABLE_LIKE_CLAUSE) && n->table_like_clause->relation)
		return n->table_like_clause->relation->location;
	return -1;
}

/*
 * The element list: the '(' before the first element, then elements split at
 * depth-0 commas up to the matching ')'.  Fills spans[n_table_elts].
 */
static bool
element_spans(const table_job *j, span *spans, int *open_end, int *close_start)
{
	const PgQuery__ScanResult *u = j->u;
	int			first = item_location(j->cs->table_elts[0]);
	size_t		k = tok_at(u, first), e = 0;
	int			depth = 0, start = -1, last_end = -1;

	while (k > 0 && u->tokens[k - 1]->token != TOK(ASCII_40))
		k--;
	if (k == 0 || first < 0)
		return false;
	*open_end = u->tokens[k - 1]->end;
	for (; k < u->n_tokens; k++)
	{
		const PgQuery__ScanToken *t = u->tokens[k];

		if (is_comment(t))
			continue;
		if (depth == 0 && (t->token == TOK(ASCII_44) || t->token == TOK(ASCII_41)))
		{
			if (e >= j->cs->n_table_elts || start < 0)
				return false;
			spans[e++] = (span) {start, last_end};
			start = -1;
			if (t->token == TOK(ASCII_41))
			{
				*close_start = t->start;
				return e == j->cs->n_table_elts;
			}
			continue;
		}
		if (t->token == TOK(ASCII_40) || t->token == TOK(ASCII_91))
			depth++;
		else if (t->token == TOK(ASCII_41) || t->token == TOK(ASCII_93))
			depth--;
		if (start < 0)
			start = t->start;
		last_end = t->end;
	}
	return false;
}

/*
 * "ALTER TABLE [ONLY] name ADD body" for a constraint cut out.  Without ONLY
 * the constraint reaches partitions and inheritance children, as it did in
 * CREATE TABLE: always for CHECK (pg_dump does the same), and for every
 * constraint of a partitioned table.
 */
static void
place_constraint(table_job *j, const PgQuery__Constraint *con,
				 const char *colname, const char *body)
{
	bool		only = con->contype != CONSTR(CHECK) && j->cs->partspec == NULL;
	char	   *sql = xasprintf("ALTER TABLE %s%s ADD %s", only ? "ONLY " : "",
								j->name_sql, body);

	if (con->contype == CONSTR(FOREIGN))
		ddl_decide_fk(j->c, j->ti, con, colname, sql, SLOT_CUT_FK);
	else
		ddl_emit(j->c, SLOT_CUT, sql, ddl_constraint_what(con, j->disp), j->ti);
}

/*
 * Where a column constraint in [start, end) needs its column: after
 * PRIMARY KEY / UNIQUE [NULLS [NOT] DISTINCT], before REFERENCES.  Returns
 * an offset into the statement, or -1 (CHECK: nothing to add).
 */
static int
column_insert_point(const PgQuery__ScanResult *u, const PgQuery__Constraint *con,
					int start, int end)
{
	size_t		i = u->n_tokens;

	if (con->contype == CONSTR(PRIMARY))
		i = find_tok(u, start, end, TOK(KEY));
	else if (con->contype == CONSTR(FOREIGN))
		i = find_tok(u, start, end, TOK(REFERENCES));
	else if (con->contype == CONSTR(UNIQUE))
	{
		i = find_tok(u, start, end, TOK(UNIQUE));
		while (i + 1 < u->n_tokens && (u->tokens[i + 1]->token == TOK(NULLS_P) ||
									   u->tokens[i + 1]->token == TOK(NOT) ||
									   u->tokens[i + 1]->token == TOK(DISTINCT)))
			i++;
	}
	if (i >= u->n_tokens)
		return -1;
	return con->contype == CONSTR(FOREIGN) ? u->tokens[i]->start : u->tokens[i]->end;
}

/* A column constraint in [start, end) made into a table constraint. */
static void
place_column_constraint(table_job *j, const PgQuery__Constraint *con,
						const char *colname, const char *colsql,
						int start, int end)
{
	const char *sql = j->p->sql;
	int			at = column_insert_point(j->u, con, start, end);
	char	   *ins = xasprintf(con->contype == CONSTR(FOREIGN) ?
								"FOREIGN KEY (%s) " : " (%s)", colsql);
	char	   *body = at >= 0 ? splice(sql + start, at - start, ins, end - start) :
		xstrndup(sql + start, (size_t) (end - start));

	place_constraint(j, con, colname, body);
	free(body);
	free(ins);
}

/* Append the column's text without the constraints that move to POST. */
static void
column_text(table_job *j, const PgQuery__ColumnDef *cd, span sp, strbuf *out)
{
	const char *sql = j->p->sql;
	const PgQuery__ScanToken *name = j->u->tokens[tok_at(j->u, cd->location)];
	char	   *colsql = xstrndup(sql + name->start, (size_t) (name->end - name->start));
	int			copied = sp.start;

	for (size_t k = 0; k < cd->n_constraints; k++)
	{
		size_t		m = k + 1;
		int			start, end;

		if (!moves_out_of_create(cd->constraints[k]))
			continue;
		/* DEFERRABLE and friends are separate list items that belong to it */
		while (m < cd->n_constraints && NODE(cd->constraints[m], CONSTRAINT) &&
			   cd->constraints[m]->constraint->contype >= CONSTR(ATTR_DEFERRABLE))
			m++;
		start = item_location(cd->constraints[k]);
		end = m < cd->n_constraints ?
			tok_end_before(j->u, item_location(cd->constraints[m])) : sp.end;
		sb_append_len(out, sql + copied, (size_t) (tok_end_before(j->u, start) - copied));
		copied = end;
		place_column_constraint(j, cd->constraints[k]->constraint, cd->colname,
								colsql, start, end);
		k = m - 1;
	}
	sb_append_len(out, sql + copied, (size_t) (sp.end - copied));
	free(colsql);
}

/* Rebuild CREATE TABLE without the constraints, emitting those for POST. */
static bool
rewrite_create_table(table_job *j)
{
	const PgQuery__CreateStmt *cs = j->cs;
	span	   *spans = xcalloc(cs->n_table_elts, sizeof(span));
	int			open_end = 0, close_start = 0, kept = 0;
	strbuf		sb;

	if (!element_spans(j, spans, &open_end, &close_start))
	{
		log_error("schema dump line %d: cannot find the columns of table %s",
				  j->p->line, j->disp);
		free(spans);
		return false;
	}
	sb_init(&sb);
	sb_append_len(&sb, j->p->sql, (size_t) open_end);
	for (size_t i = 0; i < cs->n_table_elts; i++)
	{
		const PgQuery__Node *el = cs->table_elts[i];
		char	   *text = xstrndup(j->p->sql + spans[i].start,
									(size_t) (spans[i].end - spans[i].start));

		if (moves_out_of_create(el))
			place_constraint(j, el->constraint, NULL, text);
		else
		{
			sb_append(&sb, kept++ ? ",\n    " : "\n    ");
			if (NODE(el, COLUMN_DEF))
				column_text(j, el->column_def, spans[i], &sb);
			else
				sb_append(&sb, text);
		}
		free(text);
	}
	sb_printf(&sb, "\n%s", j->p->sql + close_start);
	ddl_emit(j->c, SLOT_PRE, sb_steal(&sb), xasprintf("table %s", j->disp), j->ti);
	free(spans);
	return true;
}

bool
ddl_keep_table(ddl_ctx *c, const ddl_parsed *p, const PgQuery__CreateStmt *cs)
{
	table_job	j = {c, p, cs, NULL, ddl_moved_index(c, cs->relation), NULL, NULL};
	char	   *dep;
	bool		ok = false;

	if (j.ti < 0)
		return true;
	c->created[j.ti] = true;
	j.disp = ddl_table_display(c, j.ti);
	if ((dep = ddl_unmoved_reference(c, cs)) != NULL)
		log_error("schema dump line %d: table %s is moved but needs %s, which "
				  "the plan does not move", p->line, j.disp, dep);
	else if (cs->n_table_elts == 0)
	{
		ddl_emit(c, SLOT_PRE, xstrdup(p->sql), xasprintf("table %s", j.disp), j.ti);
		ok = true;
	}
	else if ((j.u = scan_stmt(p)) != NULL)
	{
		j.name_sql = name_text(p->sql, j.u, cs->relation->location);
		ok = rewrite_create_table(&j);
		pg_query__scan_result__free_unpacked(j.u, NULL);
	}
	free(dep);
	free(j.disp);
	free(j.name_sql);
	return ok;
}
