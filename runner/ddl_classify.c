/*
 * ddl_classify.c — what each statement of pg_dump's schema becomes on the
 * shards: kept in PRE, kept in POST, or dropped (the rules are in ddl.h).
 *
 * Decisions come from the parse tree only.  Where a statement must change,
 * the new text is cut from pg_dump's own text at places the tree and
 * libpg_query's scanner point to (token offsets), so names, quoting,
 * expressions and formatting stay exactly as pg_dump wrote them:
 *
 *   - CREATE SCHEMA / CREATE EXTENSION get "IF NOT EXISTS" after the SCHEMA
 *     or EXTENSION keyword;
 *   - CREATE TABLE is split into its elements at the commas of its column
 *     list (depth-0 ',' tokens, so commas in strings, comments, defaults or
 *     type modifiers never count); table constraints other than NOT NULL
 *     are cut out and become ALTER TABLE ... ADD <their own text>, and
 *     column constraints (CHECK, PRIMARY KEY, UNIQUE, REFERENCES) are cut out
 *     of their column and given the column's name (PRIMARY KEY (col),
 *     FOREIGN KEY (col) REFERENCES ...).  CHECK constraints are added
 *     without ONLY, as pg_dump does, so that they reach partitions and
 *     inheritance children as CREATE TABLE made them do; so are all the
 *     constraints of a partitioned table.
 *
 * Foreign keys go through ddl_decide_fk() (fk_same_shard()).  pg_dump's own
 * ALTER TABLE ... ADD FOREIGN KEY statements already come last in the dump;
 * those cut out of a CREATE TABLE are appended after all of POST, once every
 * key they may reference exists.
 *
 * Pass 1 (ddl_collect, at the end of this file) records what later
 * decisions need: relations, needed sequences, kept indexes, primary keys
 * and parents of moved tables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PGR_DDL_INTERNAL
#include <pg_query.h>

#include "ddl.h"
#include "fkrule.h"
#include "log.h"
#include "sqlname.h"
#include "strbuf.h"
#include "xalloc.h"

#define NODE(n, kind) ((n)->node_case == PG_QUERY__NODE__NODE_##kind)
#define TOK(t) PG_QUERY__TOKEN__##t
#define OBJ(o) PG_QUERY__OBJECT_TYPE__OBJECT_##o
#define AT(a) PG_QUERY__ALTER_TABLE_TYPE__AT_##a
#define CONSTR(k) PG_QUERY__CONSTR_TYPE__CONSTR_##k

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
static char *
insert_after_keyword(const ddl_parsed *p, PgQuery__Token kw, const char *ins)
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

/* ---- small helpers ---------------------------------------------------- */

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

/* "kind name on table" with the name quoted as SQL would need it. */
static char *
part_what(const char *kind, const char *name, const char *table)
{
	char	   *qname = sqlname_quote(name ? name : "");
	char	   *what = xasprintf("%s %s on %s", kind, qname, table);

	free(qname);
	return what;
}

/* ---- CREATE TABLE ----------------------------------------------------- */

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

static bool
keep_table(ddl_ctx *c, const ddl_parsed *p, const PgQuery__CreateStmt *cs)
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

/* ---- ALTER TABLE / ALTER INDEX ---------------------------------------- */

/* Column and table changes needed before the copy; the rest waits. */
static ddl_slot
cmd_slot(PgQuery__AlterTableType t)
{
	switch (t)
	{
		case AT(AddIdentity): case AT(SetIdentity): case AT(ColumnDefault):
		case AT(SetNotNull): case AT(SetStatistics): case AT(SetOptions):
		case AT(ResetOptions): case AT(SetStorage): case AT(SetCompression):
		case AT(SetRelOptions): case AT(ResetRelOptions):
		case AT(ReplaceRelOptions): case AT(SetLogged): case AT(SetUnLogged):
		case AT(AttachPartition): case AT(AddInherit): case AT(AddOf):
		case AT(GenericOptions): case AT(AlterColumnGenericOptions):
			return SLOT_PRE;
		default:
			return SLOT_POST;
	}
}

static char *
alter_what(const PgQuery__AlterTableCmd *cmd, const char *t)
{
	const char *col = cmd->name ? cmd->name : "";

	switch (cmd->subtype)
	{
		case AT(AddConstraint):
			if (cmd->def && NODE(cmd->def, CONSTRAINT))
				return ddl_constraint_what(cmd->def->constraint, t);
			break;
		case AT(AddIdentity): case AT(SetIdentity):
			return xasprintf("identity column %s of %s", col, t);
		case AT(ColumnDefault):
			return xasprintf("default of column %s of %s", col, t);
		case AT(ReplicaIdentity):
			return xasprintf("replica identity of %s", t);
		case AT(ClusterOn):
			return xasprintf("cluster index of %s", t);
		case AT(EnableRowSecurity): case AT(ForceRowSecurity):
			return xasprintf("row level security of %s", t);
		case AT(AttachPartition):
			return xasprintf("partition of %s", t);
		default:
			break;
	}
	return xasprintf("alter table %s", t);
}

/* The other table an ATTACH PARTITION or INHERIT names. */
static const PgQuery__RangeVar *
other_table(const PgQuery__AlterTableCmd *cmd)
{
	if (cmd->subtype == AT(AttachPartition) && cmd->def &&
		NODE(cmd->def, PARTITION_CMD))
		return cmd->def->partition_cmd->name;
	if (cmd->subtype == AT(AddInherit) && cmd->def && NODE(cmd->def, RANGE_VAR))
		return cmd->def->range_var;
	return NULL;
}

static bool
is_foreign_key(const PgQuery__AlterTableCmd *cmd)
{
	return cmd->subtype == AT(AddConstraint) && cmd->def &&
		NODE(cmd->def, CONSTRAINT) &&
		cmd->def->constraint->contype == CONSTR(FOREIGN);
}

static bool
keep_alter_moved_table(ddl_ctx *c, const ddl_parsed *p,
					   const PgQuery__AlterTableStmt *at, int ti)
{
	const PgQuery__AlterTableCmd *first = at->cmds[0]->alter_table_cmd;
	ddl_slot	slot = SLOT_PRE;
	bool		other_unmoved = false;
	char	   *disp = ddl_table_display(c, ti), *dep = NULL;

	for (size_t i = 0; i < at->n_cmds; i++)
	{
		const PgQuery__AlterTableCmd *cmd = at->cmds[i]->alter_table_cmd;

		if (is_foreign_key(cmd) && at->n_cmds > 1)
		{
			log_error("schema dump line %d: ALTER TABLE %s adds a foreign key "
					  "together with other changes; split it", p->line, disp);
			free(disp);
			return false;
		}
		if (other_table(cmd) && ddl_moved_index(c, other_table(cmd)) < 0)
			other_unmoved = true;
		if (cmd->subtype == AT(ChangeOwner))	/* roles differ on the shards */
		{
			free(disp);
			return true;
		}
		if (cmd_slot(cmd->subtype) == SLOT_POST)
			slot = SLOT_POST;
	}
	if (is_foreign_key(first))
		ddl_decide_fk(c, ti, first->def->constraint, NULL, xstrdup(p->sql), SLOT_POST);
	else if (other_unmoved)
		log_warn("schema dump line %d: not changing %s: the other table of "
				 "this ALTER TABLE is not moved", p->line, disp);
	else if ((dep = ddl_unmoved_reference(c, at)) != NULL)
		log_warn("schema dump line %d: not changing %s: it needs %s, which is "
				 "not moved", p->line, disp, dep);
	else
		ddl_emit(c, slot, xstrdup(p->sql), alter_what(first, disp), ti);
	free(dep);
	free(disp);
	return true;
}

/* The moved table a kept index (or constraint index) belongs to, or -1. */
static int
index_table(const ddl_ctx *c, const PgQuery__RangeVar *rv)
{
	const ddl_map_entry *e = ddl_map_get_rv(&c->kept_indexes, rv);

	return e ? e->ival : -1;
}

static bool
keep_alter_table(ddl_ctx *c, const ddl_parsed *p, const PgQuery__AlterTableStmt *at)
{
	const PgQuery__AlterTableCmd *cmd;
	int			ti;

	if (at->n_cmds == 0)
		return true;
	cmd = at->cmds[0]->alter_table_cmd;
	if (at->objtype == OBJ(TABLE) && (ti = ddl_moved_index(c, at->relation)) >= 0)
		return keep_alter_moved_table(c, p, at, ti);
	/* ALTER INDEX ... ATTACH PARTITION / SET STATISTICS of kept indexes */
	if (at->objtype == OBJ(INDEX) && (ti = index_table(c, at->relation)) >= 0 &&
		(cmd->subtype != AT(AttachPartition) ||
		 index_table(c, other_table(cmd)) >= 0))
	{
		char	   *disp = ddl_display(ddl_rv_schema(at->relation),
									   at->relation->relname);

		ddl_emit(c, SLOT_POST, xstrdup(p->sql), xasprintf("alter index %s", disp), ti);
		free(disp);
	}
	return true;
}

/* ---- objects hanging on a table --------------------------------------- */

/* Index, trigger, rule, policy or statistics of a moved table: POST. */
static void
keep_table_object(ddl_ctx *c, const ddl_parsed *p, const PgQuery__RangeVar *rv,
				  const char *kind, const char *name)
{
	int			ti = ddl_moved_index(c, rv);
	char	   *disp, *dep, *what;

	if (ti < 0)
		return;
	disp = ddl_table_display(c, ti);
	if (strcmp(kind, "index") == 0)
	{
		char	   *qname = ddl_display(c->tables[ti].schema, name);

		what = xasprintf("index %s", qname);
		free(qname);
	}
	else
		what = part_what(kind, name, disp);
	if ((dep = ddl_unmoved_reference(c, p->node)) != NULL)
	{
		char	   *part = ddl_partname(c->tables[ti].relname, name);

		log_warn("schema dump line %d: not creating %s: it needs %s, which "
				 "is not moved", p->line, what, dep);
		ddl_remember_dropped(c, kind, c->tables[ti].schema, part);
		free(part);
		free(what);
	}
	else
		ddl_emit(c, SLOT_POST, xstrdup(p->sql), what, ti);
	free(dep);
	free(disp);
}

/* ---- sequences -------------------------------------------------------- */

/* The column list of ALTER SEQUENCE ... OWNED BY schema.table.col, if any. */
static const PgQuery__List *
owned_by(const PgQuery__AlterSeqStmt *as)
{
	for (size_t i = 0; i < as->n_options; i++)
	{
		const PgQuery__Node *o = as->options[i];

		if (NODE(o, DEF_ELEM) && o->def_elem->defname &&
			strcmp(o->def_elem->defname, "owned_by") == 0 &&
			o->def_elem->arg && NODE(o->def_elem->arg, LIST))
			return o->def_elem->arg->list;
	}
	return NULL;
}

/* Index of the moved table of OWNED BY schema.table.col, or -1. */
static int
owner_moved(const ddl_ctx *c, const PgQuery__List *owner)
{
	const ddl_map_entry *e = NULL;

	if (owner != NULL && owner->n_items >= 3)	/* not OWNED BY NONE */
		e = ddl_map_get_rel(&c->moved, ddl_str(owner->items[owner->n_items - 3]),
							ddl_str(owner->items[owner->n_items - 2]));
	return e ? e->ival : -1;
}

/*
 * CREATE SEQUENCE, or ALTER SEQUENCE (alter set), of a needed sequence; its
 * table_index is the moved table that owns or uses it.
 */
static void
keep_sequence(ddl_ctx *c, const ddl_parsed *p, const PgQuery__RangeVar *rv,
			  const PgQuery__AlterSeqStmt *alter)
{
	const ddl_map_entry *e = ddl_map_get_rv(&c->needed_seqs, rv);
	char	   *disp;

	if (e == NULL ||
		(alter && owned_by(alter) && owner_moved(c, owned_by(alter)) < 0))
		return;
	disp = ddl_display(ddl_rv_schema(rv), rv->relname);
	ddl_emit(c, SLOT_PRE, xstrdup(p->sql),
			 xasprintf("%s %s", alter ? "options of sequence" : "sequence", disp),
			 e->ival);
	free(disp);
}

/* ---- session settings, schemas, extensions ---------------------------- */

/* "search_path" for SELECT pg_catalog.set_config('search_path', ...), or NULL. */
static const char *
set_config_name(const PgQuery__SelectStmt *s)
{
	const PgQuery__Node *val, *arg;
	const char *schema, *fn;

	if (s->n_target_list != 1 || s->n_from_clause != 0 || s->where_clause ||
		!NODE(s->target_list[0], RES_TARGET))
		return NULL;
	val = s->target_list[0]->res_target->val;
	if (val == NULL || !NODE(val, FUNC_CALL) || val->func_call->n_args != 3)
		return NULL;
	ddl_names_split(val->func_call->funcname, val->func_call->n_funcname,
					&schema, &fn);
	if (strcmp(fn, "set_config") != 0 || (*schema && strcmp(schema, "pg_catalog") != 0))
		return NULL;
	arg = val->func_call->args[0];
	if (NODE(arg, A_CONST) && arg->a_const->val_case == PG_QUERY__A__CONST__VAL_SVAL)
		return arg->a_const->sval->sval;
	return "";
}

/* Session settings go into both phases: POST may run in another session. */
static void
keep_session(ddl_ctx *c, const ddl_parsed *p, const char *name)
{
	ddl_emit(c, SLOT_PRE, xstrdup(p->sql), xasprintf("setting %s", name ? name : ""), -1);
	ddl_emit(c, SLOT_POST, xstrdup(p->sql), xasprintf("setting %s", name ? name : ""), -1);
}

static bool
keep_schema(ddl_ctx *c, const ddl_parsed *p, const PgQuery__CreateSchemaStmt *cs)
{
	char	   *sql, *disp;

	if (cs->schemaname == NULL || strcmp(cs->schemaname, "public") == 0)
		return true;
	sql = cs->if_not_exists ? xstrdup(p->sql) :
		insert_after_keyword(p, TOK(SCHEMA), " IF NOT EXISTS");
	if (sql == NULL)
		return false;
	disp = sqlname_quote(cs->schemaname);
	ddl_emit(c, SLOT_PRE, sql, xasprintf("schema %s", disp), -1);
	free(disp);
	return true;
}

static bool
keep_extension(ddl_ctx *c, const ddl_parsed *p, const PgQuery__CreateExtensionStmt *ce)
{
	char	   *sql = ce->if_not_exists ? xstrdup(p->sql) :
		insert_after_keyword(p, TOK(EXTENSION), " IF NOT EXISTS");

	if (sql == NULL)
		return false;
	ddl_emit(c, SLOT_PRE, sql, xasprintf("extension %s", ce->extname), -1);
	return true;
}

/* ---- types, functions and the other objects kept whole in PRE --------- */

typedef struct obj_name {
	const char *kind, *schema, *name;
} obj_name;

/* Kind word of an object type, as used in `what` and in dropped keys. */
static const char *
objtype_kind(PgQuery__ObjectType t)
{
	switch (t)
	{
		case OBJ(TYPE): return "type";
		case OBJ(DOMAIN): case OBJ(DOMCONSTRAINT): return "domain";
		case OBJ(FUNCTION): return "function";
		case OBJ(PROCEDURE): return "procedure";
		case OBJ(AGGREGATE): return "aggregate";
		case OBJ(OPERATOR): return "operator";
		case OBJ(COLLATION): return "collation";
		case OBJ(CONVERSION): return "conversion";
		case OBJ(OPCLASS): return "operator class";
		case OBJ(OPFAMILY): return "operator family";
		case OBJ(TSCONFIGURATION): return "text search configuration";
		case OBJ(TSDICTIONARY): return "text search dictionary";
		case OBJ(TSPARSER): return "text search parser";
		case OBJ(TSTEMPLATE): return "text search template";
		default: return NULL;
	}
}

#define STMT(kind) PG_QUERY__NODE__NODE_##kind
#define NAMES(k, stmt, field) \
	(o->kind = (k), names = n->stmt->field, nnames = n->stmt->n_##field)

static bool
kept_object(const PgQuery__Node *n, obj_name *o)
{
	PgQuery__Node **names = NULL;
	size_t		nnames = 0;

	switch (n->node_case)
	{
		case STMT(CREATE_ENUM_STMT): NAMES("type", create_enum_stmt, type_name); break;
		case STMT(CREATE_RANGE_STMT): NAMES("type", create_range_stmt, type_name); break;
		case STMT(CREATE_DOMAIN_STMT): NAMES("domain", create_domain_stmt, domainname); break;
		case STMT(ALTER_DOMAIN_STMT): NAMES("domain", alter_domain_stmt, type_name); break;
		case STMT(DEFINE_STMT):
			NAMES(objtype_kind(n->define_stmt->kind), define_stmt, defnames);
			break;
		case STMT(CREATE_FUNCTION_STMT):
			NAMES(n->create_function_stmt->is_procedure ? "procedure" : "function",
				  create_function_stmt, funcname);
			break;
		case STMT(CREATE_OP_CLASS_STMT):
			NAMES("operator class", create_op_class_stmt, opclassname); break;
		case STMT(CREATE_OP_FAMILY_STMT):
			NAMES("operator family", create_op_family_stmt, opfamilyname); break;
		case STMT(ALTER_OP_FAMILY_STMT):
			NAMES("operator family", alter_op_family_stmt, opfamilyname); break;
		case STMT(ALTER_TSCONFIGURATION_STMT):
			NAMES("text search configuration", alter_tsconfiguration_stmt, cfgname);
			break;
		case STMT(CREATE_CONVERSION_STMT):
			NAMES("conversion", create_conversion_stmt, conversion_name); break;
		case STMT(CREATE_CAST_STMT):
			o->kind = "cast"; break;
		case STMT(COMPOSITE_TYPE_STMT):
			o->kind = "type";
			o->schema = ddl_rv_schema(n->composite_type_stmt->typevar);
			o->name = n->composite_type_stmt->typevar->relname;
			return true;
		default:
			return false;
	}
	ddl_names_split(names, nnames, &o->schema, &o->name);
	return o->kind != NULL;
}

static void
keep_object(ddl_ctx *c, const ddl_parsed *p, const obj_name *o)
{
	char	   *disp = strcmp(o->kind, "operator") == 0 ?
		xasprintf("%s%s%s", o->schema, *o->schema ? "." : "", o->name) :
		*o->name ? ddl_display(o->schema, o->name) : xstrdup("");
	char	   *what = xasprintf("%s%s%s", o->kind, *disp ? " " : "", disp);
	char	   *dep = ddl_unmoved_reference(c, p->node);

	if (dep != NULL)
	{
		log_info("schema dump line %d: not creating %s: it needs %s, which is "
				 "not moved", p->line, what, dep);
		ddl_remember_dropped(c, o->kind, o->schema, o->name);
		free(what);
	}
	else
		ddl_emit(c, SLOT_PRE, xstrdup(p->sql), what, -1);
	free(dep);
	free(disp);
}

/* ---- comments --------------------------------------------------------- */

/* Slot of a comment on a constraint, trigger, policy or rule, or -1. */
static int
comment_on_table_part(const ddl_ctx *c, PgQuery__ObjectType t,
					  PgQuery__Node **items, size_t n, int *ti)
{
	const char *kind = t == OBJ(TABCONSTRAINT) ? "constraint" :
		t == OBJ(TRIGGER) ? "trigger" : t == OBJ(POLICY) ? "policy" : "rule";
	const ddl_map_entry *e;
	char	   *part;
	bool		dropped;

	if (n < 3 || (e = ddl_map_get_rel(&c->moved, ddl_str(items[n - 3]),
									  ddl_str(items[n - 2]))) == NULL)
		return -1;
	*ti = e->ival;
	part = ddl_partname(ddl_str(items[n - 2]), ddl_str(items[n - 1]));
	dropped = ddl_was_dropped(c, kind, ddl_str(items[n - 3]), part);
	free(part);
	return dropped ? -1 : SLOT_POST;
}

/* Slot of a comment on a table, column, sequence or index, or -1. */
static int
comment_on_relation(const ddl_ctx *c, PgQuery__ObjectType t,
					PgQuery__Node **items, size_t n, int *ti)
{
	const char *schema, *name;
	const ddl_map_entry *e;

	if (t == OBJ(COLUMN))
		n--;
	if (n < 2 || n > 3)
		return -1;
	ddl_names_split(items, n, &schema, &name);
	e = ddl_map_get_rel(t == OBJ(INDEX) ? &c->kept_indexes :
						t == OBJ(SEQUENCE) ? &c->needed_seqs : &c->moved,
						schema, name);
	*ti = e ? e->ival : -1;
	return e == NULL ? -1 : t == OBJ(INDEX) ? SLOT_POST : SLOT_PRE;
}

/* The name list a COMMENT ON names its object with (none for a String). */
static PgQuery__Node **
comment_names(const PgQuery__Node *obj, size_t *n)
{
	*n = 0;
	if (obj == NULL)
		return NULL;
	if (NODE(obj, LIST) && obj->list->n_items == 2 &&
		NODE(obj->list->items[0], TYPE_NAME))	/* domain constraint */
		obj = obj->list->items[0];
	if (NODE(obj, LIST))
		return (*n = obj->list->n_items), obj->list->items;
	if (NODE(obj, TYPE_NAME))
		return (*n = obj->type_name->n_names), obj->type_name->names;
	if (NODE(obj, OBJECT_WITH_ARGS))
		return (*n = obj->object_with_args->n_objname), obj->object_with_args->objname;
	return NULL;
}

/* Slot for COMMENT ON a kept object, or -1 to drop it. */
static int
comment_slot(const ddl_ctx *c, const PgQuery__CommentStmt *cm, int *ti)
{
	size_t		n;
	PgQuery__Node **items = comment_names(cm->object, &n);
	const char *schema, *name;

	*ti = -1;
	switch (cm->objtype)
	{
		case OBJ(TABLE): case OBJ(COLUMN): case OBJ(SEQUENCE): case OBJ(INDEX):
			return comment_on_relation(c, cm->objtype, items, n, ti);
		case OBJ(TABCONSTRAINT): case OBJ(TRIGGER): case OBJ(POLICY): case OBJ(RULE):
			return comment_on_table_part(c, cm->objtype, items, n, ti);
		case OBJ(SCHEMA):		/* public exists, and we may not own it */
			return strcmp(ddl_str(cm->object), "public") != 0 ? SLOT_PRE : -1;
		default:				/* views, extensions, servers, ...: dropped */
			if (objtype_kind(cm->objtype) == NULL || n == 0)
				return -1;
			ddl_names_split(items, n, &schema, &name);
			return ddl_was_dropped(c, objtype_kind(cm->objtype), schema, name) ?
				-1 : SLOT_PRE;
	}
}

static void
keep_comment(ddl_ctx *c, const ddl_parsed *p, const PgQuery__CommentStmt *cm)
{
	static const char *const words[] = {
		[OBJ(TABLE)] = "table", [OBJ(COLUMN)] = "column",
		[OBJ(SEQUENCE)] = "sequence", [OBJ(INDEX)] = "index",
		[OBJ(TABCONSTRAINT)] = "constraint", [OBJ(TRIGGER)] = "trigger",
		[OBJ(POLICY)] = "policy", [OBJ(RULE)] = "rule", [OBJ(SCHEMA)] = "schema",
	};
	int			ti, slot = comment_slot(c, cm, &ti);
	const char *word = objtype_kind(cm->objtype);
	size_t		n;
	PgQuery__Node **items = comment_names(cm->object, &n);
	strbuf		what;

	if (slot < 0)
		return;
	if ((size_t) cm->objtype < sizeof(words) / sizeof(words[0]) && words[cm->objtype])
		word = words[cm->objtype];
	sb_init(&what);
	sb_printf(&what, "comment on %s ", word ? word : "object");
	if (items == NULL)
		sb_append(&what, ddl_str(cm->object));
	for (size_t i = 0; i < n; i++)
	{
		char	   *q = sqlname_quote(ddl_str(items[i]));

		sb_printf(&what, "%s%s", i ? "." : "", q);
		free(q);
	}
	ddl_emit(c, (ddl_slot) slot, xstrdup(p->sql), sb_steal(&what), ti);
}

/* ---- pass 1: what the dump defines ------------------------------------ */

static void
add_relation(ddl_ctx *c, const PgQuery__RangeVar *rv, char kind)
{
	if (rv != NULL && rv->relname != NULL)
		ddl_map_put_rel(&c->relations, ddl_rv_schema(rv), rv->relname, kind, NULL);
}

static void
add_index(ddl_ctx *c, const PgQuery__RangeVar *table, const char *name)
{
	int			ti = ddl_moved_index(c, table);

	if (ti >= 0 && name != NULL && *name != '\0')
		ddl_map_put_rel(&c->kept_indexes, ddl_rv_schema(table), name, ti, NULL);
}

/* pk_node: the Constraint, or the ColumnDef of a column-level PRIMARY KEY. */
static void
collect_constraint(ddl_ctx *c, const PgQuery__RangeVar *table,
				   const PgQuery__Constraint *con, const void *pk_node)
{
	if (con->contype == CONSTR(PRIMARY) || con->contype == CONSTR(UNIQUE) ||
		con->contype == CONSTR(EXCLUSION))
		add_index(c, table, con->indexname && *con->indexname ?
				  con->indexname : con->conname);
	if (con->contype == CONSTR(PRIMARY) && ddl_moved_index(c, table) >= 0)
		ddl_map_put_rel(&c->pkeys, ddl_rv_schema(table), table->relname, 0, pk_node);
}

static void
add_parent(ddl_ctx *c, const PgQuery__RangeVar *child,
		   const PgQuery__RangeVar *parent)
{
	if (ddl_moved_index(c, child) >= 0 && parent != NULL)
		ddl_map_put_rel(&c->parents, ddl_rv_schema(child), child->relname, 0, parent);
}

static void
collect_table(ddl_ctx *c, const PgQuery__CreateStmt *cs)
{
	add_relation(c, cs->relation, 'r');
	if (ddl_moved_index(c, cs->relation) < 0)
		return;
	ddl_mark_needed_sequences(c, cs, ddl_moved_index(c, cs->relation));
	for (size_t i = 0; i < cs->n_inh_relations; i++)
		if (NODE(cs->inh_relations[i], RANGE_VAR))
			add_parent(c, cs->relation, cs->inh_relations[i]->range_var);
	for (size_t i = 0; i < cs->n_table_elts; i++)
	{
		const PgQuery__Node *el = cs->table_elts[i];

		if (NODE(el, CONSTRAINT))
			collect_constraint(c, cs->relation, el->constraint, el->constraint);
		else if (NODE(el, COLUMN_DEF))
			for (size_t k = 0; k < el->column_def->n_constraints; k++)
				if (NODE(el->column_def->constraints[k], CONSTRAINT))
					collect_constraint(c, cs->relation,
									   el->column_def->constraints[k]->constraint,
									   el->column_def);
	}
}

static void
collect_alter(ddl_ctx *c, const PgQuery__AlterTableStmt *at)
{
	if (at->objtype != OBJ(TABLE) || ddl_moved_index(c, at->relation) < 0)
		return;
	for (size_t i = 0; i < at->n_cmds; i++)
	{
		const PgQuery__AlterTableCmd *cmd = at->cmds[i]->alter_table_cmd;

		if (cmd->subtype == AT(ColumnDefault))
			ddl_mark_needed_sequences(c, cmd, ddl_moved_index(c, at->relation));
		else if (cmd->subtype == AT(AddConstraint) && cmd->def &&
				 NODE(cmd->def, CONSTRAINT))
			collect_constraint(c, at->relation, cmd->def->constraint,
							   cmd->def->constraint);
		else if (cmd->subtype == AT(AttachPartition))
			add_parent(c, other_table(cmd), at->relation);
		else if (cmd->subtype == AT(AddInherit))
			add_parent(c, at->relation, other_table(cmd));
	}
}

void
ddl_collect(ddl_ctx *c, const ddl_parsed *p)
{
	const PgQuery__Node *n = p->node;

	switch (n->node_case)
	{
		case STMT(CREATE_STMT):
			collect_table(c, n->create_stmt); break;
		case STMT(CREATE_FOREIGN_TABLE_STMT):
			add_relation(c, n->create_foreign_table_stmt->base_stmt->relation, 'f'); break;
		case STMT(CREATE_SEQ_STMT):
			add_relation(c, n->create_seq_stmt->sequence, 'S'); break;
		case STMT(VIEW_STMT):
			add_relation(c, n->view_stmt->view, 'v'); break;
		case STMT(CREATE_TABLE_AS_STMT):
			if (n->create_table_as_stmt->into)
				add_relation(c, n->create_table_as_stmt->into->rel, 'm');
			break;
		case STMT(INDEX_STMT):
			add_index(c, n->index_stmt->relation, n->index_stmt->idxname); break;
		case STMT(ALTER_TABLE_STMT):
			collect_alter(c, n->alter_table_stmt); break;
		case STMT(ALTER_SEQ_STMT):
			if (owner_moved(c, owned_by(n->alter_seq_stmt)) >= 0)
				ddl_map_put_rel(&c->needed_seqs,
								ddl_rv_schema(n->alter_seq_stmt->sequence),
								n->alter_seq_stmt->sequence->relname,
								owner_moved(c, owned_by(n->alter_seq_stmt)), NULL);
			break;
		default:
			break;
	}
}

/* ---- pass 2 ----------------------------------------------------------- */

static void
keep_statistics(ddl_ctx *c, const ddl_parsed *p, const PgQuery__CreateStatsStmt *st)
{
	const char *schema, *name;

	ddl_names_split(st->defnames, st->n_defnames, &schema, &name);
	if (st->n_relations >= 1 && NODE(st->relations[0], RANGE_VAR))
		keep_table_object(c, p, st->relations[0]->range_var, "statistics", name);
}

bool
ddl_classify(ddl_ctx *c, const ddl_parsed *p)
{
	const PgQuery__Node *n = p->node;
	obj_name	o = {NULL, "", ""};
	const char *name;

	switch (n->node_case)
	{
		case STMT(VARIABLE_SET_STMT):
			keep_session(c, p, n->variable_set_stmt->name); break;
		case STMT(SELECT_STMT):
			if ((name = set_config_name(n->select_stmt)) != NULL)
				keep_session(c, p, name);
			break;
		case STMT(CREATE_SCHEMA_STMT):
			return keep_schema(c, p, n->create_schema_stmt);
		case STMT(CREATE_EXTENSION_STMT):
			return keep_extension(c, p, n->create_extension_stmt);
		case STMT(CREATE_STMT):
			return keep_table(c, p, n->create_stmt);
		case STMT(ALTER_TABLE_STMT):
			return keep_alter_table(c, p, n->alter_table_stmt);
		case STMT(CREATE_SEQ_STMT):
			keep_sequence(c, p, n->create_seq_stmt->sequence, NULL); break;
		case STMT(ALTER_SEQ_STMT):
			keep_sequence(c, p, n->alter_seq_stmt->sequence, n->alter_seq_stmt); break;
		case STMT(INDEX_STMT):
			keep_table_object(c, p, n->index_stmt->relation, "index",
							  n->index_stmt->idxname);
			break;
		case STMT(CREATE_TRIG_STMT):
			keep_table_object(c, p, n->create_trig_stmt->relation, "trigger",
							  n->create_trig_stmt->trigname);
			break;
		case STMT(RULE_STMT):
			keep_table_object(c, p, n->rule_stmt->relation, "rule",
							  n->rule_stmt->rulename);
			break;
		case STMT(CREATE_POLICY_STMT):
			keep_table_object(c, p, n->create_policy_stmt->table, "policy",
							  n->create_policy_stmt->policy_name);
			break;
		case STMT(CREATE_STATS_STMT):
			keep_statistics(c, p, n->create_stats_stmt); break;
		case STMT(COMMENT_STMT):
			keep_comment(c, p, n->comment_stmt); break;
		default:
			if (kept_object(n, &o))
				keep_object(c, p, &o);
			else
				log_debug("schema dump line %d: not needed on the shards", p->line);
			break;
	}
	return true;
}
