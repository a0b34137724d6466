/*
 * ddl_classify.c — pass 2: what each statement of pg_dump's schema becomes
 * on the shards: kept in PRE, kept in POST, or dropped (the rules are in
 * ddl.h).  ddl_classify(), at the end of this file, dispatches on the kind
 * of statement.  CREATE TABLE, the one statement rewritten beyond a
 * keyword, is in ddl_table.c; what pass 1 learnt first is in ddl_collect.c.
 *
 * Decisions come from the parse tree only.  Kept statements keep pg_dump's
 * text, except that CREATE SCHEMA and CREATE EXTENSION get "IF NOT EXISTS"
 * after the SCHEMA or EXTENSION keyword.
 *
 * Foreign keys go through ddl_decide_fk() (ddl_fk.c).  pg_dump's own ALTER
 * TABLE ... ADD FOREIGN KEY statements already come last in the dump, so
 * they stay in POST in dump order.
 */
#include <stdlib.h>
#include <string.h>

#include "ddl_internal.h"
#include "log.h"
#include "sqlname.h"
#include "strbuf.h"
#include "xalloc.h"

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
		if (ddl_other_table(cmd) && ddl_moved_index(c, ddl_other_table(cmd)) < 0)
			other_unmoved = true;
		if (cmd_slot(cmd->subtype) == SLOT_POST)
			slot = SLOT_POST;
	}
	if (is_foreign_key(first))
		ddl_decide_fk(c, ti, first->def->constraint, NULL, xstrdup(p->sql), SLOT_POST);
	else if (other_unmoved)
		ddl_report_dropped(c, alter_what(first, disp),
						   xstrdup("the other table of this ALTER TABLE is not moved"));
	else if ((dep = ddl_unmoved_reference(c, at)) != NULL)
		ddl_report_dropped(c, alter_what(first, disp),
						   xasprintf("it needs %s, which is not moved", dep));
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

	if (at->n_cmds == 0 || ddl_keep_relation_owner(c, p, at))
		return true;
	cmd = at->cmds[0]->alter_table_cmd;
	if (at->objtype == OBJ(TABLE) && (ti = ddl_moved_index(c, at->relation)) >= 0)
		return keep_alter_moved_table(c, p, at, ti);
	/* ALTER INDEX ... ATTACH PARTITION / SET STATISTICS of kept indexes */
	if (at->objtype == OBJ(INDEX) && (ti = index_table(c, at->relation)) >= 0 &&
		(cmd->subtype != AT(AttachPartition) ||
		 index_table(c, ddl_other_table(cmd)) >= 0))
	{
		char	   *disp = ddl_display(ddl_rv_schema(at->relation),
									   at->relation->relname);

		ddl_emit(c, SLOT_POST, xstrdup(p->sql), xasprintf("alter index %s", disp), ti);
		free(disp);
	}
	return true;
}

/* ---- objects hanging on a table --------------------------------------- */

/* "kind name on table" with the name quoted as SQL would need it. */
static char *
part_what(const char *kind, const char *name, const char *table)
{
	char	   *qname = sqlname_quote(name ? name : "");
	char	   *what = xasprintf("%s %s on %s", kind, qname, table);

	free(qname);
	return what;
}

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

		ddl_remember_dropped(c, kind, c->tables[ti].schema, part);
		ddl_report_dropped(c, what, xasprintf("it needs %s, which is not moved", dep));
		free(part);
	}
	else
		ddl_emit(c, SLOT_POST, xstrdup(p->sql), what, ti);
	free(dep);
	free(disp);
}

/* A trigger of a moved table, unless its function was left out. */
static void
keep_trigger(ddl_ctx *c, const ddl_parsed *p, const PgQuery__CreateTrigStmt *ct)
{
	const char *schema, *fn;
	int			ti = ddl_moved_index(c, ct->relation);

	ddl_names_split(ct->funcname, ct->n_funcname, &schema, &fn);
	if (ti >= 0 && ddl_was_dropped(c, "function", schema, fn))
	{
		char	   *disp = ddl_table_display(c, ti), *f = ddl_display(schema, fn);
		char	   *part = ddl_partname(c->tables[ti].relname, ct->trigname);

		ddl_remember_dropped(c, "trigger", c->tables[ti].schema, part);
		ddl_report_dropped(c, part_what("trigger", ct->trigname, disp),
						   xasprintf("its function %s is not created on the shards", f));
		free(part);
		free(f);
		free(disp);
		return;
	}
	keep_table_object(c, p, ct->relation, "trigger", ct->trigname);
}

/* ---- sequences -------------------------------------------------------- */

/*
 * CREATE SEQUENCE, or ALTER SEQUENCE (alter set), of a needed sequence; its
 * table_index is the moved table that owns or uses it.  A sequence no table
 * owns and no moved table draws from in a default (a counter functions use)
 * is not created, and said so: a copy on every shard would hand out the same
 * values there.  The serial sequences of tables that stay go unmentioned,
 * like their tables.
 */
static void
keep_sequence(ddl_ctx *c, const ddl_parsed *p, const PgQuery__RangeVar *rv,
			  const PgQuery__AlterSeqStmt *alter)
{
	const ddl_map_entry *e = ddl_map_get_rv(&c->needed_seqs, rv);
	char	   *disp;

	if (e == NULL && alter == NULL && !ddl_map_get_rv(&c->owned_seqs, rv))
	{
		disp = ddl_display(ddl_rv_schema(rv), rv->relname);
		ddl_report_dropped(c, xasprintf("sequence %s", disp),
						   xstrdup("no moved table owns it or draws from it in a default, and a copy on every "
								   "shard would hand out the same values there; create it on the shards "
								   "yourself if functions there need it"));
		free(disp);
	}
	if (e == NULL ||
		(alter && ddl_owned_by(alter) &&
		 ddl_owner_moved(c, ddl_owned_by(alter)) < 0))
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
		ddl_insert_after_keyword(p, TOK(SCHEMA), " IF NOT EXISTS");
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
		ddl_insert_after_keyword(p, TOK(EXTENSION), " IF NOT EXISTS");

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
const char *
ddl_objtype_kind(PgQuery__ObjectType t)
{
	switch (t)
	{
		case OBJ(VIEW): return "view";
		case OBJ(MATVIEW): return "materialized view";
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
			NAMES(ddl_objtype_kind(n->define_stmt->kind), define_stmt, defnames);
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
		ddl_remember_dropped(c, o->kind, o->schema, o->name);
		ddl_report_dropped(c, what, xasprintf("it needs %s, which is not moved", dep));
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
	if (e == NULL && t == OBJ(COLUMN) && ddl_map_get_rel(&c->kept_views, schema, name))
		return SLOT_PRE;		/* a column of a kept view */
	return e == NULL ? -1 : t == OBJ(INDEX) ? SLOT_POST : SLOT_PRE;
}

/* The name list a COMMENT ON names its object with (none for a String). */
PgQuery__Node **
ddl_object_names(const PgQuery__Node *obj, size_t *n)
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
	PgQuery__Node **items = ddl_object_names(cm->object, &n);
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
			if (ddl_objtype_kind(cm->objtype) == NULL || n == 0)
				return -1;
			ddl_names_split(items, n, &schema, &name);
			return ddl_was_dropped(c, ddl_objtype_kind(cm->objtype), schema, name) ?
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
	const char *word = ddl_objtype_kind(cm->objtype);
	size_t		n;
	PgQuery__Node **items = ddl_object_names(cm->object, &n);
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

/* ---- statistics, and the dispatch ------------------------------------- */

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
			return ddl_keep_table(c, p, n->create_stmt);
		case STMT(ALTER_TABLE_STMT):
			return keep_alter_table(c, p, n->alter_table_stmt);
		case STMT(CREATE_SEQ_STMT):
			keep_sequence(c, p, n->create_seq_stmt->sequence, NULL); break;
		case STMT(ALTER_SEQ_STMT):
			keep_sequence(c, p, n->alter_seq_stmt->sequence, n->alter_seq_stmt); break;
		case STMT(INDEX_STMT):
			if (!ddl_keep_view_index(c, p, n->index_stmt))
				keep_table_object(c, p, n->index_stmt->relation, "index",
								  n->index_stmt->idxname);
			break;
		case STMT(VIEW_STMT):
			ddl_keep_view(c, p, n->view_stmt); break;
		case STMT(CREATE_TABLE_AS_STMT):
			if (n->create_table_as_stmt->objtype == OBJ(MATVIEW))
				ddl_keep_matview(c, p, n->create_table_as_stmt);
			break;
		case STMT(ALTER_OWNER_STMT):
			ddl_keep_owner(c, p, n->alter_owner_stmt); break;
		case STMT(GRANT_STMT):
			ddl_keep_grant(c, p, n->grant_stmt); break;
		case STMT(ALTER_DEFAULT_PRIVILEGES_STMT):
			ddl_emit(c, SLOT_POST, xstrdup(p->sql), xstrdup("default privileges"), -1);
			break;
		case STMT(CREATE_TRIG_STMT):
			keep_trigger(c, p, n->create_trig_stmt);
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
