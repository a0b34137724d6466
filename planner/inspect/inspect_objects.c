/*
 * inspect_objects.c — for `plan`: the schema objects besides the tables and
 * what happens to each on the shards.  The source's schema is split exactly
 * as schema-pre will split it (runner/schema_script.c, pg_dump is
 * read-only), so the list is what the apply does: created on every shard,
 * or left out and why (it needs a table that is not moved, a foreign key
 * that crosses shards is a finding of its own).
 *
 * A plan that already has errors (a table missing, a partition listed on its
 * own) gets no list: the split would fail on the same problem.
 *
 * Statements that belong to one table (its columns, keys, indexes,
 * constraints) are shown with the table, not here; its triggers, policies,
 * rules, statistics and row-level security are listed, as they change what
 * the application sees.
 */
#include <stdlib.h>
#include <string.h>

#include "inspect.h"
#include "schema_script.h"
#include "xalloc.h"

static bool
listed(const plan *p, const ddl_stmt *st)
{
	static const char *const table_parts[] = {
		"trigger ", "policy ", "rule ", "statistics ", "row level security", "comment on table",
		NULL
	};

	if (strncmp(st->what, "setting ", 8) == 0)
		return false;
	if (st->table_index < 0)
		return true;
	if (st->table_index >= p->ntables && strncmp(st->what, "table ", 6) == 0)
		return true;			/* a partition of a moved table */
	for (int i = 0; table_parts[i]; i++)
		if (strncmp(st->what, table_parts[i], strlen(table_parts[i])) == 0)
			return true;
	return false;
}

static void
add_object(catalog *cat, char *what, bool created, bool post, char *reason)
{
	cat->objects = xrealloc(cat->objects, sizeof(schema_object) * (size_t) (cat->nobjects + 1));
	cat->objects[cat->nobjects++] = (schema_object) {what, created, post, reason};
}

bool
inspect_schema_objects(const plan *p, catalog *cat)
{
	ddl_script	s;

	if (catalog_has_errors(cat))
		return true;			/* the schema would not be split for such a plan */
	if (!schema_script_build(p, cat, cat->sources[0].role, &s))
	{
		catalog_add_finding(cat, FINDING_ERROR, cat->sources[0].role,
							"see the message above; the schema steps would fail the same way",
							"the source's schema cannot be split for the shards");
		return true;
	}
	for (int i = 0; i < s.n; i++)
		if (listed(p, &s.stmts[i]))
		{
			const char *w = s.stmts[i].what;
			char	   *note = NULL;

			if (s.stmts[i].table_index >= p->ntables)
				note = xstrdup("a partition, moved with its parent under the parent's key");
			else if (strncmp(w, "materialized view ", 18) == 0)
				note = xstrdup(p->schema.matviews == MATVIEWS_REFRESH ?
							   "its data is per shard: refreshed on every shard at the cutover" :
							   "its data is per shard: created WITH NO DATA (schema.matviews: refresh "
							   "refreshes it at the cutover)");
			add_object(cat, xstrdup(w), true, s.stmts[i].phase == DDL_POST, note);
		}
	for (int i = 0; i < s.ndropped; i++)
	{
		add_object(cat, s.dropped[i].what, false, false, s.dropped[i].reason);
		s.dropped[i].what = s.dropped[i].reason = NULL;
	}
	ddl_script_free(&s);
	return true;
}
