/*
 * plan_names.c — names derived from a loaded plan: where in the plan file a
 * finding points, how a table is shown, what the plan's slot is called.
 * Every part of pgreshard that talks about the plan uses these, so a table
 * or a position reads the same in plan, apply, status and verify.
 */
#include "plan.h"
#include "sqlname.h"
#include "xalloc.h"

char *
plan_where(const plan *p, plan_pos pos)
{
	if (pos.line <= 0)
		return xstrdup(p->path);
	return xasprintf("%s:%d:%d", p->path, pos.line, pos.col);
}

char *
table_display(const plan_table *t)
{
	return sqlname_quote_qualified(t->schema, t->relname);
}

char *
plan_slot_name(const plan *p)
{
	return xasprintf("pgreshard_%s", p->name);
}
