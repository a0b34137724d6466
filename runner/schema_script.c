/*
 * schema_script.c — the source's schema, split for the plan's tables: what
 * schema-pre stores and applies, and what `plan` lists (the objects besides
 * the tables, created on every shard or left out and why).  One function, so
 * the plan shows exactly what the apply will do.
 *
 * Owners and privileges are in the dump unless schema.skip_owners.
 */
#include <stdlib.h>

#include "ddl.h"
#include "schema_dump.h"
#include "schema_script.h"
#include "xalloc.h"

bool
schema_script_build(const plan *p, const char *role, ddl_script *out)
{
	ddl_table  *tables = xcalloc((size_t) p->ntables + 1, sizeof(ddl_table));
	char	   *dump = NULL;
	bool		ok;

	for (int i = 0; i < p->ntables; i++)
	{
		tables[i].schema = p->tables[i].schema;
		tables[i].relname = p->tables[i].relname;
		tables[i].replicate = p->tables[i].replicate;
		tables[i].nkeys = p->tables[i].nkeys;
		tables[i].keys = (const char *const *) p->tables[i].keys;
	}
	ok = schema_dump_owners(p->source_dsns[0], role, !p->schema.skip_owners, &dump) &&
		ddl_build(dump, tables, p->ntables, out);
	free(dump);
	free(tables);
	return ok;
}
