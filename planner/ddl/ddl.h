/*
 * ddl.h — from the source's pg_dump --schema-only text to the two scripts
 * the shards need: PRE (before the copy) and POST (after it).
 *
 * ddl_build() splits the dump with libpg_query, classifies every statement
 * by its parse tree (never by matching SQL text) and keeps what the moved
 * tables need, in the dump's order (pg_dump already orders by dependency):
 *
 * PRE   session settings (SET, SELECT pg_catalog.set_config); schemas
 *       (IF NOT EXISTS, public skipped); extensions (IF NOT EXISTS); types,
 *       domains, functions, procedures, aggregates, operators, collations,
 *       casts, operator classes/families, text search objects; CREATE TABLE
 *       of moved tables with their columns, defaults, NOT NULL, identity and
 *       generated columns, but without any other constraint; the sequences
 *       moved tables own or use in nextval() defaults; ALTER TABLE ... ADD
 *       GENERATED AS IDENTITY, SET DEFAULT, SET STATISTICS/STORAGE/options,
 *       ATTACH PARTITION (both sides moved); COMMENT ON the tables, columns,
 *       sequences and kept objects.
 * POST  session settings again (POST may run in a new session); the CHECK,
 *       PRIMARY KEY, UNIQUE and EXCLUDE constraints (those pg_dump wrote
 *       inside CREATE TABLE become ALTER TABLE [ONLY] ... ADD CONSTRAINT,
 *       first in POST, a partition's or child's before its parent's);
 *       indexes; triggers; rules; policies; extended statistics; row level
 *       security, REPLICA IDENTITY, CLUSTER ON, trigger enable/disable;
 *       comments on those; foreign keys whose two ends land on one shard
 *       (fkrule.h), others listed in script->skipped.
 *
 * Statements keep pg_dump's text (no trailing ';'), and statements about a
 * moved table (its sequences, comments and constraints too) carry its index
 * in table_index.  Statements whose `what` starts with "setting " are
 * session state: run them again in every new session, do not record them
 * as done.
 *
 * Views and materialized views over moved tables (and kept views) are kept
 * too (ddl_view.c): CREATE VIEW in PRE, pg_dump's CREATE OR REPLACE VIEW
 * (the real body of a view it first wrote as a stub) in POST; a
 * materialized view is created WITH NO DATA in PRE, its indexes in POST.
 * On a shard a view answers from that shard's rows, and a materialized
 * view's data is that shard's.  Owners (ALTER ... OWNER TO) go last in POST,
 * grants and revokes (GRANT, REVOKE, ALTER DEFAULT PRIVILEGES) in POST, when
 * the dump has them (pg_dump runs without --no-owner --no-privileges unless
 * the plan says schema.skip_owners; ddl_access.c).
 *
 * Everything else is dropped: tables that are not moved and all that hangs
 * on them, foreign tables, event triggers, languages, servers, COMMENT ON
 * EXTENSION and ON SCHEMA public and its owner (the shard's own objects,
 * which the runner may not own).  A kept kind of object that references a
 * relation which is not moved (a view or SQL-body function reading an
 * unmoved table, a type using its row type, a policy with a subquery on it)
 * is dropped too, listed in script->dropped with the reason, because
 * creating it would fail: never half-created.  A moved table that needs an
 * unmoved relation (a partition of an unmoved parent, a column of its row
 * type) is an error.
 *
 * The implementation is runner/ddl*.c; ddl_internal.h says which file
 * holds what.
 */
#ifndef PGR_DDL_H
#define PGR_DDL_H

#include <stdbool.h>

/* A table the plan moves (strings are unquoted names). */
typedef struct ddl_table {
	const char *schema, *relname;
	bool		replicate;		/* copied whole to every shard */
	int			nkeys;			/* sharding key columns (0 when replicate) */
	const char *const *keys;
} ddl_table;

typedef enum ddl_phase {
	DDL_PRE = 0,
	DDL_POST
} ddl_phase;

typedef struct ddl_stmt {
	ddl_phase	phase;
	char	   *sql;			/* one statement, no trailing ';' */
	char	   *what;			/* "table app.users", "index app.x_idx" */
	int			table_index;	/* index into tables[], or -1 */
} ddl_stmt;

/* A foreign key of a moved table that is not created on the shards. */
typedef struct ddl_skipped_fk {
	char	   *name;			/* constraint name */
	char	   *table;			/* referencing table, display form */
	char	   *references;		/* "shop.customers (id)" */
	char	   *reason;			/* why it is not kept, in words */
} ddl_skipped_fk;

/* An object of the source's schema that is not created on the shards. */
typedef struct ddl_dropped {
	char	   *what;			/* "view public.staff_list" */
	char	   *reason;			/* "it needs public.staff, which is not moved" */
} ddl_dropped;

typedef struct ddl_script {
	int			n;
	ddl_stmt   *stmts;			/* PRE and POST, each in dump order */
	int			nskipped;
	ddl_skipped_fk *skipped;
	int			ndropped;
	ddl_dropped *dropped;		/* objects left out because of what they need */
} ddl_script;

/*
 * Build the script.  dump_sql is pg_dump's text (lines starting with a
 * backslash are ignored).  On failure (a statement that does not parse, a
 * moved table that cannot be created alone or is not in the dump) logs
 * "schema dump line N: ..." (or names the table) and returns false with *out
 * empty.
 */
bool ddl_build(const char *dump_sql, const ddl_table *tables, int ntables,
			   ddl_script *out);
/*
 * Same, leaving out the owners (OWNER TO) and grants (GRANT/REVOKE ... TO)
 * that name one of the nroles roles (missing on some shard), each reported
 * in out->dropped.
 */
bool ddl_build_ex(const char *dump_sql, const ddl_table *tables, int ntables,
				  const char *const *roles, int nroles, ddl_script *out);

void ddl_script_free(ddl_script *s);

#endif
