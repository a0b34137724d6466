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
 * Everything else is dropped: tables that are not moved and all that hangs
 * on them, views and materialized views (even a view over moved tables only:
 * the shards hold subsets, so a view there would silently answer from one
 * shard's rows), foreign tables, event triggers, languages, servers,
 * ownership, COMMENT ON EXTENSION and ON SCHEMA public (the shard's own
 * objects, which the runner may not own).  A kept
 * kind of object that references a relation which is not moved (a SQL-body
 * function reading an unmoved table, a type using its row type, a policy
 * with a subquery on it) is dropped too, with a notice, because creating it
 * would fail.  A moved table that needs an unmoved relation (a partition of
 * an unmoved parent, a column of its row type) is an error.
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

typedef struct ddl_script {
	int			n;
	ddl_stmt   *stmts;			/* PRE and POST, each in dump order */
	int			nskipped;
	ddl_skipped_fk *skipped;
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

void ddl_script_free(ddl_script *s);

#ifdef PGR_DDL_INTERNAL
/*
 * Shared by runner/ddl.c (driver, maps, tree walking, foreign keys, output)
 * and runner/ddl_classify.c (what each kind of statement becomes).
 */
#include <stdint.h>
#include <pg_query/pg_query.pb-c.h>

/* A string-keyed map (open addressing); keys are copied. */
typedef struct ddl_map_entry {
	char	   *key;
	int			ival;
	const void *pval;
} ddl_map_entry;

typedef struct ddl_map {
	size_t		cap, n;
	ddl_map_entry *slots;
} ddl_map;

/* One statement of the dump, parsed. */
typedef struct ddl_parsed {
	char	   *sql;			/* from its first token, no trailing ';' */
	int			line;			/* 1-based line in the dump */
	PgQuery__ParseResult *tree;
	PgQuery__Node *node;		/* the statement; locations index sql */
} ddl_parsed;

/* Where an output statement goes; the script is these lists in order. */
typedef enum ddl_slot {
	SLOT_PRE = 0,				/* PRE, dump order */
	SLOT_CUT,					/* constraints cut from CREATE TABLE */
	SLOT_POST,					/* POST, dump order */
	SLOT_CUT_FK,				/* foreign keys cut from CREATE TABLE */
	SLOT_COUNT
} ddl_slot;

typedef struct ddl_list {
	int			n, cap;
	ddl_stmt   *stmts;
} ddl_list;

typedef struct ddl_ctx {
	const ddl_table *tables;
	int			ntables;
	ddl_map		moved;			/* rel key -> table index */
	ddl_map		relations;		/* every relation the dump creates */
	ddl_map		needed_seqs;	/* sequences moved tables need -> table index */
	ddl_map		kept_indexes;	/* index rel key -> its moved table's index */
	ddl_map		pkeys;			/* moved table -> its PK Constraint/ColumnDef */
	ddl_map		parents;		/* moved table -> parent RangeVar (inherits,
								 * partition of) */
	ddl_map		dropped;		/* ddl_objkey() of objects not created */
	bool	   *created;		/* [ntables]: its CREATE TABLE was seen */
	const ddl_parsed *cur;		/* statement being classified */
	ddl_list	lists[SLOT_COUNT];
	ddl_script *out;
	int			cap_skipped;
} ddl_ctx;

/* ddl.c: maps ("rel" keys are schema and name; NULL rv gives NULL) */
void ddl_map_put(ddl_map *m, const char *key, int ival, const void *pval);
const ddl_map_entry *ddl_map_get(const ddl_map *m, const char *key);
void ddl_map_put_rel(ddl_map *m, const char *schema, const char *name,
					 int ival, const void *pval);
const ddl_map_entry *ddl_map_get_rel(const ddl_map *m, const char *schema,
									 const char *name);
const ddl_map_entry *ddl_map_get_rv(const ddl_map *m,
									const PgQuery__RangeVar *rv);
char *ddl_objkey(const char *kind, const char *schema, const char *name);
/* The name part of a key for a trigger, rule, policy, constraint of a table */
char *ddl_partname(const char *table, const char *name);

/* ddl.c: names */
char *ddl_display(const char *schema, const char *name);
char *ddl_table_display(const ddl_ctx *c, int ti);
const char *ddl_str(const PgQuery__Node *n);
void ddl_names_split(PgQuery__Node **items, size_t n, const char **schema,
					 const char **name);
const char *ddl_rv_schema(const PgQuery__RangeVar *rv);
int ddl_moved_index(const ddl_ctx *c, const PgQuery__RangeVar *rv);

/* ddl.c: tree walking */
typedef void (*ddl_visit_fn) (const ProtobufCMessage *msg, void *arg);
void ddl_walk(const ProtobufCMessage *msg, ddl_visit_fn fn, void *arg);
char *ddl_unmoved_reference(const ddl_ctx *c, const void *root);
/* Sequences named by regclass literals under root: needed by table ti. */
void ddl_mark_needed_sequences(ddl_ctx *c, const void *root, int ti);

/* ddl.c: output (sql and what are taken over) and foreign keys */
void ddl_emit(ddl_ctx *c, ddl_slot slot, char *sql, char *what,
			  int table_index);
void ddl_remember_dropped(ddl_ctx *c, const char *kind, const char *schema,
						  const char *name);
bool ddl_was_dropped(const ddl_ctx *c, const char *kind, const char *schema,
					 const char *name);
char *ddl_constraint_what(const PgQuery__Constraint *con, const char *table);
void ddl_decide_fk(ddl_ctx *c, int ti, const PgQuery__Constraint *con,
				   const char *colname, char *sql, ddl_slot slot);

/* ddl_classify.c */
void ddl_collect(ddl_ctx *c, const ddl_parsed *p);
bool ddl_classify(ddl_ctx *c, const ddl_parsed *p);
#endif							/* PGR_DDL_INTERNAL */

#endif
