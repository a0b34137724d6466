/*
 * inspect.c — catalog_inspect(): look at every source and destination.
 *
 * Sources are read first (the publication, the tables, the distribution
 * sample), then every destination.  A database that cannot be reached stops
 * the inspection with its error; problems with the plan are findings.
 */
#include <stdio.h>
#include <stdlib.h>

#include "inspect.h"
#include "xalloc.h"

bool
catalog_inspect(const plan *p, catalog **out)
{
	catalog    *cat = xcalloc(1, sizeof(catalog));
	bool		ok = true;

	cat->nsources = p->nsources;
	cat->sources = xcalloc((size_t) p->nsources, sizeof(server_info));
	for (int i = 0; i < p->nsources; i++)
		cat->sources[i].wal_rate = -1;	/* until lint_source reads it */
	cat->nshards = p->nshards;
	cat->shards = xcalloc((size_t) p->nshards, sizeof(server_info));
	cat->ntables = p->ntables;
	cat->tables = xcalloc((size_t) p->ntables, sizeof(src_table));
	for (int i = 0; i < p->ntables; i++)
		cat->tables[i].pt = &p->tables[i];

	for (int i = 0; ok && i < p->nsources; i++)
		ok = inspect_source(p, i, cat);
	if (ok)
		lint_wal_headroom(p, cat);
	for (int i = 0; ok && i < p->nshards; i++)
		ok = inspect_destination(p, i, cat);
	if (ok)						/* after the shards: it leaves out roles they lack */
		ok = inspect_schema_objects(p, cat);
	if (!ok)
	{
		catalog_free(cat);
		return false;
	}
	*out = cat;
	return true;
}
