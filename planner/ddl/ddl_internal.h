/*
 * ddl_internal.h — what the files behind ddl_build() share with each other.
 * The rest of pgreshard uses ddl.h only.
 *
 * ddl_build() is spread over nine files, one job each:
 *
 *   ddl.c           the driver: splits and parses the dump, runs the two
 *                   passes, puts the output lists together into the script;
 *   ddl_book.c      the bookkeeping the others use: string map, name keys,
 *                   dropped objects, display names, ddl_emit(); it calls
 *                   none of the other files (no cycle);
 *   ddl_walk.c      reading the parse tree: names out of nodes, a walker over
 *                   every node, the search for references to relations that
 *                   are not moved, the sequences defaults use;
 *   ddl_collect.c   pass 1: what the whole dump defines;
 *   ddl_classify.c  pass 2: what each statement becomes (kept in PRE, kept
 *                   in POST, or dropped), CREATE TABLE aside;
 *   ddl_table.c     CREATE TABLE of a moved table, rewritten without its
 *                   constraints, and the scanner-token helpers it is cut with;
 *   ddl_fk.c        whether a foreign key is kept (fkrule.h) or skipped;
 *   ddl_view.c      views and materialized views;
 *   ddl_access.c    owners (ALTER ... OWNER TO) and privileges (GRANT, REVOKE).
 */
#ifndef PGR_DDL_INTERNAL_H
#define PGR_DDL_INTERNAL_H

#include <stdint.h>
#include <pg_query/pg_query.pb-c.h>

#include "ddl.h"

/* Short names for libpg_query's enum constants. */
#define NODE(n, kind) ((n)->node_case == PG_QUERY__NODE__NODE_##kind)
#define STMT(kind) PG_QUERY__NODE__NODE_##kind
#define TOK(t) PG_QUERY__TOKEN__##t
#define OBJ(o) PG_QUERY__OBJECT_TYPE__OBJECT_##o
#define AT(a) PG_QUERY__ALTER_TABLE_TYPE__AT_##a
#define CONSTR(k) PG_QUERY__CONSTR_TYPE__CONSTR_##k

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
	SLOT_OWNERS,				/* ALTER ... OWNER TO: last, once nothing else
								 * needs the runner to own the objects */
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
	ddl_map		owned_seqs;		/* sequences OWNED BY a column of any table */
	ddl_map		kept_indexes;	/* index rel key -> its moved table's index */
	ddl_map		pkeys;			/* moved table -> its PK Constraint/ColumnDef */
	ddl_map		parents;		/* moved table -> parent RangeVar (inherits,
								 * partition of) */
	ddl_map		dropped;		/* ddl_objkey() of objects not created */
	ddl_map		kept_views;		/* views and materialized views kept */
	ddl_map		view_defs;		/* view -> its CREATE OR REPLACE VIEW node */
	bool	   *created;		/* [ntables]: its CREATE TABLE was seen */
	const char *const *skip_roles;	/* owners and grantees left out */
	int			nskip_roles;
	const ddl_parsed *cur;		/* statement being classified */
	ddl_list	lists[SLOT_COUNT];
	ddl_script *out;
	int			cap_skipped;
} ddl_ctx;

/* ddl_book.c: maps ("rel" keys are schema and name) */
void ddl_map_put(ddl_map *m, const char *key, int ival, const void *pval);
void ddl_map_free(ddl_map *m);
const ddl_map_entry *ddl_map_get(const ddl_map *m, const char *key);
void ddl_map_put_rel(ddl_map *m, const char *schema, const char *name,
					 int ival, const void *pval);
const ddl_map_entry *ddl_map_get_rel(const ddl_map *m, const char *schema,
									 const char *name);
char *ddl_objkey(const char *kind, const char *schema, const char *name);
/* The name part of a key for a trigger, rule, policy, constraint of a table */
char *ddl_partname(const char *table, const char *name);
void ddl_remember_dropped(ddl_ctx *c, const char *kind, const char *schema,
						  const char *name);
bool ddl_was_dropped(const ddl_ctx *c, const char *kind, const char *schema,
					 const char *name);

/* ddl_book.c: an object not created on the shards, for the plan (what and
 * reason are taken over; logged once here) */
void ddl_report_dropped(ddl_ctx *c, char *what, char *reason);

/* ddl_book.c: display names (malloc'd) */
char *ddl_display(const char *schema, const char *name);
char *ddl_table_display(const ddl_ctx *c, int ti);
char *ddl_constraint_what(const PgQuery__Constraint *con, const char *table);

/* ddl_book.c: output (sql and what are taken over) */
void ddl_emit(ddl_ctx *c, ddl_slot slot, char *sql, char *what,
			  int table_index);

/* ddl_walk.c: names read from the tree */
const char *ddl_str(const PgQuery__Node *n);
void ddl_names_split(PgQuery__Node **items, size_t n, const char **schema,
					 const char **name);
const char *ddl_rv_schema(const PgQuery__RangeVar *rv);
/* A map entry keyed by the relation rv names (NULL rv gives NULL). */
const ddl_map_entry *ddl_map_get_rv(const ddl_map *m,
									const PgQuery__RangeVar *rv);
int ddl_moved_index(const ddl_ctx *c, const PgQuery__RangeVar *rv);
/* The other table an ATTACH PARTITION or INHERIT names, or NULL. */
const PgQuery__RangeVar *ddl_other_table(const PgQuery__AlterTableCmd *cmd);
/* The column list of ALTER SEQUENCE ... OWNED BY schema.table.col, or NULL. */
const PgQuery__List *ddl_owned_by(const PgQuery__AlterSeqStmt *as);
/* Index of the moved table of OWNED BY schema.table.col, or -1. */
int ddl_owner_moved(const ddl_ctx *c, const PgQuery__List *owner);

/* ddl_walk.c: tree walking */
typedef void (*ddl_visit_fn) (const ProtobufCMessage *msg, void *arg);
void ddl_walk(const ProtobufCMessage *msg, ddl_visit_fn fn, void *arg);
char *ddl_unmoved_reference(const ddl_ctx *c, const void *root);
/* Sequences named by regclass literals under root: needed by table ti. */
void ddl_mark_needed_sequences(ddl_ctx *c, const void *root, int ti);

/* ddl_collect.c: pass 1 */
void ddl_collect(ddl_ctx *c, const ddl_parsed *p);

/* ddl_classify.c: pass 2 */
bool ddl_classify(ddl_ctx *c, const ddl_parsed *p);

/* ddl_table.c */
/*
 * The statement with ins inserted after its first token of kind kw, or NULL
 * (logged) when it cannot be scanned or has no such token.
 */
char *ddl_insert_after_keyword(const ddl_parsed *p, PgQuery__Token kw,
							   const char *ins);
bool ddl_keep_table(ddl_ctx *c, const ddl_parsed *p,
					const PgQuery__CreateStmt *cs);

/* ddl_classify.c: the name list an object is named with (COMMENT ON,
 * ALTER ... OWNER TO, GRANT), or NULL for a plain String */
PgQuery__Node **ddl_object_names(const PgQuery__Node *obj, size_t *n);
/* ddl_classify.c: kind word of an object type ("function", "type"), or NULL */
const char *ddl_objtype_kind(PgQuery__ObjectType t);

/* ddl_view.c: views and materialized views */
void ddl_collect_view(ddl_ctx *c, const PgQuery__ViewStmt *vs);
bool ddl_is_kept_view(const ddl_ctx *c, const PgQuery__RangeVar *rv);
void ddl_keep_view(ddl_ctx *c, const ddl_parsed *p, const PgQuery__ViewStmt *vs);
void ddl_keep_matview(ddl_ctx *c, const ddl_parsed *p,
					  const PgQuery__CreateTableAsStmt *ct);
/* CREATE INDEX on a kept materialized view: POST.  False when not one. */
bool ddl_keep_view_index(ddl_ctx *c, const ddl_parsed *p, const PgQuery__IndexStmt *is);

/* ddl_access.c: owners and privileges */
/* role (a RoleSpec) is one whose owners and grants are left out */
bool ddl_role_skipped(const ddl_ctx *c, const PgQuery__RoleSpec *role);
/* ALTER TABLE/VIEW/SEQUENCE ... OWNER TO of a kept relation; false when the
 * statement is not only an owner change */
bool ddl_keep_relation_owner(ddl_ctx *c, const ddl_parsed *p,
							 const PgQuery__AlterTableStmt *at);
void ddl_keep_owner(ddl_ctx *c, const ddl_parsed *p, const PgQuery__AlterOwnerStmt *ao);
void ddl_keep_grant(ddl_ctx *c, const ddl_parsed *p, const PgQuery__GrantStmt *gs);
/* The relation is created on the shards: moved, a needed sequence, a kept view. */
bool ddl_relation_kept(const ddl_ctx *c, const char *schema, const char *name);

/* ddl_fk.c */
void ddl_decide_fk(ddl_ctx *c, int ti, const PgQuery__Constraint *con,
				   const char *colname, char *sql, ddl_slot slot);

#endif
