/*
 * ddl_walk.c — reading libpg_query's parse tree, for the other ddl*.c files.
 *
 * Small readers take names out of nodes: String lists, RangeVars, the other
 * table of ATTACH PARTITION or INHERIT, the owner in ALTER SEQUENCE ... OWNED
 * BY.
 *
 * ddl_walk() visits every node of any protobuf-c message.  It is driven by
 * the message descriptors, so it reaches every node of every statement kind
 * without a case per node type.  On it are built the search for references
 * to relations that are not moved (RangeVars, row types and %TYPE,
 * 'name'::regclass and nextval('name') literals), which would make a kept
 * statement fail on the shards, and the marking of the sequences moved
 * tables use in their defaults.
 */
#include <stdlib.h>
#include <string.h>

#include "ddl_internal.h"
#include "sqlname.h"

/* ---- names read from the tree ----------------------------------------- */

const char *
ddl_str(const PgQuery__Node *n)
{
	if (n != NULL && n->node_case == PG_QUERY__NODE__NODE_STRING &&
		n->string->sval != NULL)
		return n->string->sval;
	return "";
}

void
ddl_names_split(PgQuery__Node **items, size_t n, const char **schema,
				const char **name)
{
	*name = n >= 1 ? ddl_str(items[n - 1]) : "";
	*schema = n >= 2 ? ddl_str(items[n - 2]) : "";
}

const char *
ddl_rv_schema(const PgQuery__RangeVar *rv)
{
	/* pg_dump qualifies every name (search_path is ''), so this is rare */
	return rv->schemaname && *rv->schemaname ? rv->schemaname : "public";
}

/* A map entry keyed by the relation a RangeVar names (ddl_book.c's maps). */
const ddl_map_entry *
ddl_map_get_rv(const ddl_map *m, const PgQuery__RangeVar *rv)
{
	if (rv == NULL || rv->relname == NULL)
		return NULL;
	return ddl_map_get_rel(m, ddl_rv_schema(rv), rv->relname);
}

int
ddl_moved_index(const ddl_ctx *c, const PgQuery__RangeVar *rv)
{
	const ddl_map_entry *e = ddl_map_get_rv(&c->moved, rv);

	return e ? e->ival : -1;
}

/* The other table an ATTACH PARTITION or INHERIT names. */
const PgQuery__RangeVar *
ddl_other_table(const PgQuery__AlterTableCmd *cmd)
{
	if (cmd->subtype == AT(AttachPartition) && cmd->def &&
		NODE(cmd->def, PARTITION_CMD))
		return cmd->def->partition_cmd->name;
	if (cmd->subtype == AT(AddInherit) && cmd->def && NODE(cmd->def, RANGE_VAR))
		return cmd->def->range_var;
	return NULL;
}

/* The column list of ALTER SEQUENCE ... OWNED BY schema.table.col, if any. */
const PgQuery__List *
ddl_owned_by(const PgQuery__AlterSeqStmt *as)
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
int
ddl_owner_moved(const ddl_ctx *c, const PgQuery__List *owner)
{
	const ddl_map_entry *e = NULL;

	if (owner != NULL && owner->n_items >= 3)	/* not OWNED BY NONE */
		e = ddl_map_get_rel(&c->moved, ddl_str(owner->items[owner->n_items - 3]),
							ddl_str(owner->items[owner->n_items - 2]));
	return e ? e->ival : -1;
}

/* ---- tree walking ----------------------------------------------------- */

void
ddl_walk(const ProtobufCMessage *msg, ddl_visit_fn fn, void *arg)
{
	const char *base = (const char *) msg;

	if (msg == NULL)
		return;
	fn(msg, arg);
	for (unsigned i = 0; i < msg->descriptor->n_fields; i++)
	{
		const ProtobufCFieldDescriptor *f = &msg->descriptor->fields[i];

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED)
		{
			size_t		n = *(const size_t *) (base + f->quantifier_offset);
			ProtobufCMessage *const *items =
				*(ProtobufCMessage *const *const *) (base + f->offset);

			for (size_t j = 0; j < n; j++)
				ddl_walk(items[j], fn, arg);
			continue;
		}
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
			*(const uint32_t *) (base + f->quantifier_offset) != f->id)
			continue;
		ddl_walk(*(ProtobufCMessage *const *) (base + f->offset), fn, arg);
	}
}

/* The relation a 'name'::regclass literal or nextval('name') names. */
static bool
regclass_literal(const ProtobufCMessage *msg, char **schema, char **rel)
{
	const PgQuery__Node *arg = NULL;
	const char *s, *name;
	char		err[128];

	if (msg->descriptor == &pg_query__type_cast__descriptor)
	{
		const PgQuery__TypeCast *tc = (const PgQuery__TypeCast *) msg;

		if (tc->type_name == NULL)
			return false;
		ddl_names_split(tc->type_name->names, tc->type_name->n_names, &s, &name);
		if (strcmp(name, "regclass") == 0)
			arg = tc->arg;
	}
	else if (msg->descriptor == &pg_query__func_call__descriptor)
	{
		const PgQuery__FuncCall *fc = (const PgQuery__FuncCall *) msg;

		ddl_names_split(fc->funcname, fc->n_funcname, &s, &name);
		if (fc->n_args >= 1 && (strcmp(name, "nextval") == 0 ||
								strcmp(name, "currval") == 0 ||
								strcmp(name, "setval") == 0))
			arg = fc->args[0];
	}
	if (arg == NULL || arg->node_case != PG_QUERY__NODE__NODE_A_CONST ||
		arg->a_const->val_case != PG_QUERY__A__CONST__VAL_SVAL)
		return false;
	return sqlname_parse_qualified(arg->a_const->sval->sval, schema, rel,
								   err, sizeof(err));
}

typedef struct ref_search {
	const ddl_ctx *c;
	char	   *found;			/* display name of the first unmoved relation */
} ref_search;

static void
check_relation(ref_search *rs, const char *schema, const char *rel)
{
	if (rs->found == NULL &&
		ddl_map_get_rel(&rs->c->relations, schema, rel) &&
		!ddl_map_get_rel(&rs->c->moved, schema, rel) &&
		!ddl_map_get_rel(&rs->c->needed_seqs, schema, rel) &&
		!ddl_map_get_rel(&rs->c->kept_views, schema, rel))
		rs->found = ddl_display(schema, rel);
}

/* RangeVars, type names (row types, %TYPE) and regclass literals. */
static void
visit_reference(const ProtobufCMessage *msg, void *arg)
{
	ref_search *rs = arg;
	char	   *schema, *rel;

	if (msg->descriptor == &pg_query__range_var__descriptor)
	{
		const PgQuery__RangeVar *rv = (const PgQuery__RangeVar *) msg;

		/* unqualified names in pg_dump output are CTE or alias names */
		if (rv->schemaname && *rv->schemaname && rv->relname)
			check_relation(rs, rv->schemaname, rv->relname);
	}
	else if (msg->descriptor == &pg_query__type_name__descriptor)
	{
		const PgQuery__TypeName *tn = (const PgQuery__TypeName *) msg;
		size_t		n = tn->n_names - (tn->pct_type ? 1 : 0);

		if (tn->n_names >= (tn->pct_type ? 3u : 2u))
			check_relation(rs, ddl_str(tn->names[n - 2]),
						   ddl_str(tn->names[n - 1]));
	}
	else if (regclass_literal(msg, &schema, &rel))
	{
		check_relation(rs, schema, rel);
		free(schema);
		free(rel);
	}
}

char *
ddl_unmoved_reference(const ddl_ctx *c, const void *root)
{
	ref_search	rs = {c, NULL};

	ddl_walk(root, visit_reference, &rs);
	return rs.found;
}

typedef struct seq_use {
	ddl_ctx    *c;
	int			ti;
} seq_use;

static void
visit_sequence_use(const ProtobufCMessage *msg, void *arg)
{
	seq_use    *su = arg;
	char	   *schema, *rel;

	if (!regclass_literal(msg, &schema, &rel))
		return;
	if (!ddl_map_get_rel(&su->c->needed_seqs, schema, rel))
		ddl_map_put_rel(&su->c->needed_seqs, schema, rel, su->ti, NULL);
	free(schema);
	free(rel);
}

void
ddl_mark_needed_sequences(ddl_ctx *c, const void *root, int ti)
{
	seq_use		su = {c, ti};

	ddl_walk(root, visit_sequence_use, &su);
}
