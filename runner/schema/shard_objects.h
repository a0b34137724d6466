/*
 * shard_objects.h — what pgreshard's schema sync created on a shard, so that
 * a cancelled move can be taken back (`cleanup --drop-data`).
 *
 * The schema sync may meet objects that exist already (the public schema, an
 * extension, a table the user created empty), and it never drops or changes
 * them.  So "what pgreshard created" is not the script but the difference:
 * the shard's schema objects now, minus those it had before the first DDL,
 * which schema-pre records in pgreshard.objects_before in the same
 * transaction as that DDL.
 */
#ifndef PGR_SHARD_OBJECTS_H
#define PGR_SHARD_OBJECTS_H

#include <stdbool.h>

#include "conn.h"
#include "plan.h"

/* Record the shard's schema objects (once per plan), inside the caller's
 * transaction, before its first DDL statement. */
bool shard_objects_record(pgr_conn *c, const plan *p);

/*
 * Drop every schema object created on this shard since the record (views,
 * tables, sequences, functions, types, collations, extensions, schemas, in
 * that order, each with CASCADE), and empty the moved tables that existed
 * before (their rows are pgreshard's copy).  *dropped counts the objects.
 * A shard whose schema sync ran without a record is refused with what to do.
 */
bool shard_objects_drop_created(pgr_conn *c, const plan *p, int *dropped);

#endif
