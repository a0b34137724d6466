/*
 * schema_dump.h — the source's schema as PostgreSQL's own pg_dump writes it.
 *
 * The schema steps (DESIGN.md, steps 3 and 5) do not re-implement pg_dump's
 * catalog knowledge: they run pg_dump --schema-only against the source and
 * hand its text to ddl_build() (ddl.h), which keeps what the moved tables
 * need.  The password never reaches pg_dump's command line (where `ps` shows
 * it): it travels in PGPASSWORD, in the child's environment only.
 */
#ifndef PGR_SCHEMA_DUMP_H
#define PGR_SCHEMA_DUMP_H

#include <stdbool.h>

/*
 * Run pg_dump --schema-only --no-owner --no-privileges --no-publications
 * --no-subscriptions --no-security-labels against conninfo and return its
 * output (malloc'd, NUL-terminated) in *sql_out, psql meta-command lines
 * blanked (see schema_dump_strip_meta).  On failure logs
 * "ROLE (CONNINFO): pg_dump failed: ITS STDERR" and returns false.
 *
 * pg_dump is $PGRESHARD_PG_DUMP when set, else the newest
 * /usr/lib/postgresql/N/bin/pg_dump, else pg_dump from PATH.
 */
bool schema_dump(const char *conninfo, const char *role, char **sql_out);

/*
 * Same, with more pg_dump arguments (NULL-terminated list, or NULL), e.g.
 * {"-t", "\"app\".\"Order Items\"", NULL}.  Used by tests to compare tables.
 */
bool schema_dump_args(const char *conninfo, const char *role,
					  const char *const *extra_args, char **sql_out);

/* Same, with owners and privileges (no --no-owner --no-privileges) when owners. */
bool schema_dump_owners(const char *conninfo, const char *role, bool owners,
						char **sql_out);

/* The pg_dump program schema_dump() runs (malloc'd). */
char *schema_dump_program(void);

/*
 * Blank, in place, every line that starts with a backslash (psql
 * meta-commands such as pg_dump 15.14+'s \restrict and \unrestrict, which
 * are not SQL).  The newline stays, so line numbers keep matching the dump.
 */
void schema_dump_strip_meta(char *sql);

#endif
