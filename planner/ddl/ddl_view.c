/*
 * ddl_view.c — views and materialized views on the shards (see ddl.h).
 *
 * A view is kept when everything it reads is on the shards: moved tables,
 * sequences they need, views kept before it, and functions that were not
 * left out.  On a shard it answers from that shard's rows only — the
 * application asks each shard, as it does for the tables.
 *
 * pg_dump writes a view whose body needs something created after the data
 * (a GROUP BY relying on a primary key) twice: a stub CREATE VIEW with the
 * right columns before the tables, and CREATE OR REPLACE VIEW with the body
 * near the end.  The stub is kept (PRE) when the real body would be, which
 * pass 1 finds out (ddl_collect_view), and the body follows in POST; a view
 * is never half-created.
 *
 * A materialized view is created as the dump writes it (WITH NO DATA) in
 * PRE, its indexes in POST; its data is per shard: the cutover refreshes it
 * when the plan says schema.matviews: refresh, else it stays unpopulated
 * until the user refreshes it.
 */
#include <stdlib.h>
#include <string.h>

#include "ddl_internal.h"
#include "xalloc.h"

void
ddl_collect_view(ddl_ctx *c, const PgQuery__ViewStmt *vs)
{
	if (vs->replace && vs->view && vs->view->relname)
		ddl_map_put_rel(&c->view_defs, ddl_rv_schema(vs->view), vs->view->relname, 0, vs);
}

bool
ddl_is_kept_view(const ddl_ctx *c, const PgQuery__RangeVar *rv)
{
	return ddl_map_get_rv(&c->kept_views, rv) != NULL;
}

typedef struct fn_search {
	const ddl_ctx *c;
	char	   *found;			/* display name of a function left out */
} fn_search;

static void
visit_function(const ProtobufCMessage *msg, void *arg)
{
	fn_search  *fs = arg;
	const PgQuery__FuncCall *fc;
	const char *schema, *name;

	if (fs->found || msg->descriptor != &pg_query__func_call__descriptor)
		return;
	fc = (const PgQuery__FuncCall *) msg;
	ddl_names_split(fc->funcname, fc->n_funcname, &schema, &name);
	if (ddl_was_dropped(fs->c, "function", schema, name) ||
		ddl_was_dropped(fs->c, "aggregate", schema, name))
		fs->found = ddl_display(schema, name);
}

/* Why the view (root) cannot be created on the shards (malloc'd), or NULL. */
static char *
view_blocker(const ddl_ctx *c, const void *root)
{
	char	   *dep = ddl_unmoved_reference(c, root);
	fn_search	fs = {c, NULL};
	char	   *why;

	if (dep != NULL)
	{
		why = xasprintf("it needs %s, which is not moved", dep);
		free(dep);
		return why;
	}
	ddl_walk(root, visit_function, &fs);
	if (fs.found == NULL)
		return NULL;
	why = xasprintf("it calls %s, which is not created on the shards", fs.found);
	free(fs.found);
	return why;
}

/* Keep (PRE) or leave out the relation `kind` rv defined by root. */
static void
keep_relation(ddl_ctx *c, const ddl_parsed *p, const PgQuery__RangeVar *rv,
			  const char *kind, const void *root)
{
	const char *schema = ddl_rv_schema(rv);
	char	   *disp = ddl_display(schema, rv->relname);
	char	   *why = view_blocker(c, root);

	if (why != NULL)
	{
		ddl_remember_dropped(c, kind, schema, rv->relname);
		ddl_report_dropped(c, xasprintf("%s %s", kind, disp), why);
	}
	else
	{
		ddl_map_put_rel(&c->kept_views, schema, rv->relname, 0, NULL);
		ddl_emit(c, SLOT_PRE, xstrdup(p->sql), xasprintf("%s %s", kind, disp), -1);
	}
	free(disp);
}

void
ddl_keep_view(ddl_ctx *c, const ddl_parsed *p, const PgQuery__ViewStmt *vs)
{
	const ddl_map_entry *body;

	if (vs->view == NULL || vs->view->relname == NULL)
		return;
	if (vs->replace)
	{
		/* the body of a stub written earlier: kept with it */
		if (ddl_is_kept_view(c, vs->view))
		{
			char	   *disp = ddl_display(ddl_rv_schema(vs->view), vs->view->relname);

			ddl_emit(c, SLOT_POST, xstrdup(p->sql), xasprintf("body of view %s", disp), -1);
			free(disp);
		}
		return;
	}
	body = ddl_map_get_rv(&c->view_defs, vs->view);
	keep_relation(c, p, vs->view, "view",
				  body ? ((const PgQuery__ViewStmt *) body->pval)->query : vs->query);
}

void
ddl_keep_matview(ddl_ctx *c, const ddl_parsed *p, const PgQuery__CreateTableAsStmt *ct)
{
	if (ct->into && ct->into->rel && ct->into->rel->relname)
		keep_relation(c, p, ct->into->rel, "materialized view", ct->query);
}

bool
ddl_keep_view_index(ddl_ctx *c, const ddl_parsed *p, const PgQuery__IndexStmt *is)
{
	char	   *disp, *idx;

	if (is->relation == NULL || !ddl_is_kept_view(c, is->relation))
		return ddl_map_get_rv(&c->relations, is->relation) != NULL &&
			ddl_map_get_rv(&c->relations, is->relation)->ival == 'm';
	disp = ddl_display(ddl_rv_schema(is->relation), is->relation->relname);
	idx = ddl_display(ddl_rv_schema(is->relation), is->idxname ? is->idxname : "");
	ddl_emit(c, SLOT_POST, xstrdup(p->sql), xasprintf("index %s on materialized view %s", idx, disp), -1);
	free(idx);
	free(disp);
	return true;
}
