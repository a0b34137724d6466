/*
 * schema_script.c — the source's schema, split for the plan's tables: what
 * schema-pre stores and applies, and what `plan` lists (the objects besides
 * the tables, created on every shard or left out and why).  One function, so
 * the plan shows exactly what the apply will do.
 *
 * Owners and privileges are in the dump unless schema.skip_owners.  A
 * partitioned table brings all its partitions (every level, default ones
 * too): they are moved with it, under its sharding key.
 */
#include <stdlib.h>

#include "ddl.h"
#include "schema_dump.h"
#include "schema_script.h"
#include "xalloc.h"

static void
add_table(ddl_table *t, const plan_table *pt, const char *schema, const char *relname)
{
	t->schema = schema;
	t->relname = relname;
	t->replicate = pt->replicate;
	t->nkeys = pt->nkeys;
	t->keys = (const char *const *) pt->keys;
}

bool
schema_script_build(const plan *p, const catalog *cat, const char *role, ddl_script *out)
{
	int			n = p->ntables, all = p->ntables;
	ddl_table  *tables;
	char	   *dump = NULL;
	bool		ok;

	for (int i = 0; i < p->ntables; i++)
		all += catalog_table(cat, i)->nparts;
	tables = xcalloc((size_t) all + 1, sizeof(ddl_table));
	for (int i = 0; i < p->ntables; i++)
		add_table(&tables[i], &p->tables[i], p->tables[i].schema, p->tables[i].relname);
	for (int i = 0; i < p->ntables; i++)
	{
		const src_table *st = catalog_table(cat, i);

		for (int k = 0; k < st->nparts; k++)
			add_table(&tables[n++], &p->tables[i], st->part_schema[k], st->part_name[k]);
	}
	ok = schema_dump_owners(p->source_dsns[0], role, !p->schema.skip_owners, &dump) &&
		ddl_build_ex(dump, tables, n, (const char *const *) cat->needs.missing_roles,
					 cat->needs.nmissing_roles, out);
	free(dump);
	free(tables);
	return ok;
}
