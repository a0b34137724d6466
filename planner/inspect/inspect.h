/*
 * inspect.h — internals shared by the catalog inspection files.
 */
#ifndef PGR_INSPECT_H
#define PGR_INSPECT_H

#include "catalog.h"
#include "conn.h"
#include "plan.h"

/* Read source number src_index into cat (tables are merged over sources). */
bool inspect_source(const plan *p, int src_index, catalog *cat);
/* Read destination shard number shard into cat. */
bool inspect_destination(const plan *p, int shard, catalog *cat);
/* Estimate each sharded table's rows per shard from a sample (source conn). */
bool sample_distribution(const plan *p, pgr_conn *c, int src_index, catalog *cat);

/*
 * The source checks that need more than one table at a time (inspect_lint.c):
 * foreign keys across shards, large objects, sequences (read into the
 * catalog for the saved plan's fingerprint), WAL retained during the copy.
 */
bool lint_source(const plan *p, pgr_conn *c, int src_index, catalog *cat);
/*
 * What the shards need besides the tables (inspect_schema.c): read on source
 * 0 into cat->needs, then checked on each destination (the role's right to
 * set session_replication_role, extensions, roles).
 */
bool inspect_schema_source(const plan *p, pgr_conn *c, catalog *cat);
bool inspect_schema_destination(const plan *p, pgr_conn *c, catalog *cat, const char *role);
/* The schema objects besides the tables and what happens to each (source 0). */
bool inspect_schema_objects(const plan *p, catalog *cat);
/* The reads of the source a copy of a scattered key would cost (lint_copy.c,
 * source 0, after its tables are read): a warning when a table would be
 * read more than 4 times, with the copy.chunk_rows that reads it twice. */
bool lint_copy_reads(const plan *p, pgr_conn *c, const server_info *s, catalog *cat);
/* After every source is inspected: the WAL each slot will hold during the copy. */
void lint_wal_headroom(const plan *p, catalog *cat);

#endif
