/*
 * schema_script.h — pg_dump of source 0 split for a plan's tables (ddl.h),
 * shared by schema-pre and `plan`.
 */
#ifndef PGR_SCHEMA_SCRIPT_H
#define PGR_SCHEMA_SCRIPT_H

#include <stdbool.h>

#include "catalog.h"
#include "ddl.h"
#include "plan.h"

/*
 * Dump source 0 (role names it in messages) and split it for the plan's
 * tables and their partitions (cat); false after logging.  Statements of a
 * partition carry a table_index >= p->ntables.
 */
bool schema_script_build(const plan *p, const catalog *cat, const char *role, ddl_script *out);

#endif
