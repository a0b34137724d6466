/*
 * export.h — `pgreshard export pgdog|fdw PLAN`: the new cluster handed to
 * the user's stack, so that the application finds each row's shard without
 * new code of its own.
 *
 * pgreshard places rows exactly where PostgreSQL's PARTITION BY HASH puts
 * them (pghash.h), which is also how PgDog hashes a sharding key and how a
 * partitioned parent with foreign partitions prunes: both routers agree with
 * the placement by construction, for the key types they share with us.
 *
 *   export_pgdog.c  PgDog's pgdog.toml sections ([[databases]],
 *                   [[sharded_tables]], [[omnisharded_tables]])
 *   export_fdw.c    an SQL script (psql) for an empty database: postgres_fdw
 *                   servers and a hash-partitioned parent per sharded table
 *   export_target.c a shard's host, port, database and user from its
 *                   conninfo, never its password
 *
 * Everything is printed on stdout; tables a router cannot serve are left
 * out with a comment in the output and a warning on stderr.
 */
#ifndef PGR_EXPORT_H
#define PGR_EXPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "catalog.h"
#include "pghash.h"
#include "plan.h"

/* Where a conninfo points: every field malloc'd, NULL when not given. */
typedef struct export_target {
	char	   *host;			/* host, else hostaddr */
	char	   *port;
	char	   *dbname;
	char	   *user;
} export_target;

/*
 * Split a conninfo (key=value or URI) into its target; the password and
 * every other option are dropped.  False (with *out zeroed) when it does not
 * parse.
 */
bool export_target_parse(const char *conninfo, export_target *out);
void export_target_free(export_target *t);

/* PgDog's data_type for a key column type, or NULL when PgDog has none. */
const char *pgdog_data_type(key_type t);

/* s as a TOML basic string: "..." with escapes (malloc'd). */
char *toml_quote(const char *s);

/* Print the PgDog configuration; false when nothing could be written. */
bool export_pgdog(FILE *out, const plan *p, const catalog *cat);

/* Print the postgres_fdw script (reads shard 0); false (reported) when the
 * plan cannot have one. */
bool export_fdw(FILE *out, const plan *p);

#endif
