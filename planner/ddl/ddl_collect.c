/*
 * ddl_collect.c — pass 1 over the dump: learn what the whole dump defines
 * before pass 2 decides anything, because a decision can depend on
 * statements further down (CREATE SEQUENCE is kept because of a later
 * ALTER SEQUENCE ... OWNED BY, or a DEFAULT nextval(...), of a moved table).
 *
 * Recorded in the context, for pass 2 (ddl_classify.c, ddl_table.c) and the
 * foreign key decision (ddl_fk.c):
 *   relations     every relation the dump creates: only those count as
 *                 references to relations that are not moved;
 *   needed_seqs   the sequences moved tables own or use in defaults;
 *   owned_seqs    the sequences OWNED BY a column of any table (serial):
 *                 one neither needed nor owned is reported as left out;
 *   kept_indexes  the indexes of moved tables, their own and those behind
 *                 PRIMARY KEY, UNIQUE and EXCLUDE constraints (for ALTER
 *                 INDEX and COMMENT ON INDEX);
 *   pkeys         the primary key of each moved table (what REFERENCES
 *                 without a column list means);
 *   parents       the parent of each moved table (INHERITS, PARTITION OF,
 *                 ATTACH PARTITION, INHERIT), so that the constraints cut
 *                 out of CREATE TABLE are added to children first.
 */
#include <stddef.h>

#include "ddl_internal.h"

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
			add_parent(c, ddl_other_table(cmd), at->relation);
		else if (cmd->subtype == AT(AddInherit))
			add_parent(c, at->relation, ddl_other_table(cmd));
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
			add_relation(c, n->view_stmt->view, 'v');
			ddl_collect_view(c, n->view_stmt);
			break;
		case STMT(CREATE_TABLE_AS_STMT):
			if (n->create_table_as_stmt->into)
				add_relation(c, n->create_table_as_stmt->into->rel, 'm');
			break;
		case STMT(INDEX_STMT):
			add_index(c, n->index_stmt->relation, n->index_stmt->idxname); break;
		case STMT(ALTER_TABLE_STMT):
			collect_alter(c, n->alter_table_stmt); break;
		case STMT(ALTER_SEQ_STMT):
			if (ddl_owned_by(n->alter_seq_stmt) && ddl_owned_by(n->alter_seq_stmt)->n_items >= 3)
				ddl_map_put_rel(&c->owned_seqs, ddl_rv_schema(n->alter_seq_stmt->sequence),
								n->alter_seq_stmt->sequence->relname, 0, NULL);
			if (ddl_owner_moved(c, ddl_owned_by(n->alter_seq_stmt)) >= 0)
				ddl_map_put_rel(&c->needed_seqs,
								ddl_rv_schema(n->alter_seq_stmt->sequence),
								n->alter_seq_stmt->sequence->relname,
								ddl_owner_moved(c, ddl_owned_by(n->alter_seq_stmt)),
								NULL);
			break;
		default:
			break;
	}
}
