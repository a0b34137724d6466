/*
 * catalog.h — what `plan` learns by looking at the databases.
 *
 * catalog_inspect() connects read-only to every source and destination,
 * reads the publication's tables, their columns, types, keys, replica
 * identity, sizes and row estimates, the destinations' versions and whether
 * the moved tables already exist there with rows, and checks them against
 * the plan.  It creates nothing anywhere.  Findings (errors and warnings,
 * each with a fix) are collected, not printed: the renderers show them.
 */
#ifndef PGR_CATALOG_H
#define PGR_CATALOG_H

#include <stdbool.h>

#include "pghash.h"
#include "plan.h"
#include "steps.h"

typedef struct src_column {
	char	   *name;
	char	   *type;			/* format_type() */
	unsigned int base_oid;		/* type OID with domains resolved */
	bool		notnull;
	bool		binary_io;		/* COPY BINARY carries it between databases as is
								 * (SQL_COLUMN_BINARY_IO) */
	bool		generated;		/* GENERATED ALWAYS AS (...) STORED */
	char		identity;		/* 'a', 'd' or '\0' */
	char	   *default_expr;	/* pg_get_expr of the default, or NULL */
} src_column;

typedef struct src_table {
	const plan_table *pt;		/* the plan's entry */
	int			ncols;
	src_column *cols;
	int		   *key_cols;		/* pt->nkeys indexes into cols */
	key_type   *key_types;
	int			npk;
	char	  **pk;				/* primary key column names */
	char		replident;		/* 'd' default, 'f' full, 'i' index, 'n' nothing */
	int			nident;
	char	  **ident;			/* replica identity columns */
	char		persistence;	/* 'p' permanent, 'u' unlogged */
	double		rows;			/* estimate, summed over sources */
	long long	bytes;			/* pg_table_size, summed over sources */
	long long	total_bytes;	/* with indexes and TOAST */
	double	   *shard_rows;		/* estimated rows per destination shard */
	bool		sampled;		/* shard_rows from a sample (else uniform) */
	bool		exists;			/* found on source 0 as a plain table */
	bool		partitioned;	/* a partitioned table (relkind 'p') */
	int			nparts;			/* its partitions at every level (source 0) */
	char	  **part_schema;	/* [nparts] unquoted */
	char	  **part_name;
} src_table;

/* What a destination holds of a moved table. */
typedef enum dest_table_state {
	DEST_ABSENT = 0,
	DEST_EMPTY,
	DEST_ROWS
} dest_table_state;

/* A sequence a moved table draws values from (column default or identity). */
typedef struct src_sequence {
	char	   *name;			/* schema.sequence, SQL-quoted */
	char	   *type;			/* bigint, integer, ... */
	long long	increment;
	int			nusers;
	char	  **used_by;		/* "schema.table.column" of every user, moved or not */
	bool	   *user_moved;		/* [nusers]: that user is a table of the plan */
} src_sequence;

typedef struct server_info {
	char	   *role;			/* "source", "source 1", "shard 0", ... */
	char	   *safe_dsn;		/* conninfo without password */
	int			version_num;
	char	   *version;		/* "15.18" */
	char	   *wal_level;
	int			max_slots;
	int			used_slots;
	int			max_senders;
	bool		has_state;		/* pgreshard state for this plan exists (dest) */
	bool		has_slot;		/* the plan's slot exists (source) */
	bool		can_replicate;	/* the user has REPLICATION or is superuser (source) */
	char	   *encoding;		/* server_encoding */
	char	   *system_id;		/* pg_control_system().system_identifier, or NULL */
	char	   *datname;		/* current_database() */
	char	   *db_oid;			/* its OID (a recreated database gets a new one) */
	int			used_senders;	/* WAL senders in use (source) */
	long long	max_slot_wal_keep_mb; /* max_slot_wal_keep_size in MB, -1 unlimited (source) */
	double		wal_rate;		/* average WAL bytes/s (pg_stat_wal), -1 unknown (source) */
	char	   *saved_plan_id;	/* runs.saved_plan_id of this plan's run, or NULL (dest) */
	dest_table_state *table_state; /* [ntables] (dest) */
} server_info;

typedef enum finding_level {
	FINDING_INFO = 0,
	FINDING_WARNING,
	FINDING_ERROR
} finding_level;

typedef struct finding {
	finding_level level;
	char	   *where;			/* "plan.yaml:12:5", "public.orders", "shard 2" */
	char	   *message;
	char	   *fix;			/* what to do, or NULL */
} finding;

/* What the shards need besides the tables (inspect_schema.c), from source 0. */
typedef struct schema_needs {
	int			ntriggers;
	char	  **triggers;		/* "trigger t on s.x", "foreign key f on s.x (ON DELETE)" of moved tables */
	int			nextensions;
	char	  **extensions;		/* installed on the source (plpgsql aside) */
	int			nowner_roles;
	char	  **owner_roles;	/* owners and grantees of the schema's objects */
	int			npolicy_roles;
	char	  **policy_roles;	/* roles policies name */
	int			nrls_tables;
	char	  **rls_tables;		/* moved tables with row-level security enabled */
	int			nmissing_roles;
	char	  **missing_roles;	/* owner_roles missing on some shard: their owners
								 * and grants are left out */
} schema_needs;

/* A schema object besides the tables, for the plan (inspect_objects.c). */
typedef struct schema_object {
	char	   *what;			/* "view public.film_list" */
	bool		created;		/* created on every shard */
	bool		post;			/* in schema-post (else schema-pre) */
	char	   *reason;			/* why not created, or a note; NULL */
} schema_object;

typedef struct catalog {
	int			nsources;
	server_info *sources;
	int			nshards;
	server_info *shards;
	bool		publication_exists;
	bool		pub_via_root;	/* publish_via_partition_root */
	bool		pub_updates_deletes;	/* it publishes UPDATE or DELETE (or is yet to be created) */
	int			npub_tables;
	char	  **pub_tables;		/* the publication's tables on source 0, SQL-quoted, sorted */
	int			nsequences;
	src_sequence *sequences;	/* used by moved tables (source 0) */
	bool		step_done[STEP_COUNT];	/* the journal on shard 0 says done */
	int			ntables;
	src_table  *tables;			/* same order as plan->tables */
	int			nfindings;
	finding    *findings;
	schema_needs needs;
	int			nobjects;
	schema_object *objects;		/* the schema besides the tables */
} catalog;

/*
 * Inspect the databases named by the plan.  Returns false only when a
 * database could not be read at all (the error has been reported);
 * problems with the plan itself become findings (see catalog_has_errors).
 */
bool catalog_inspect(const plan *p, catalog **out);
bool catalog_has_errors(const catalog *cat);
void catalog_free(catalog *cat);
/* Free what a src_table points to (not the struct itself). */
void free_src_table_contents(src_table *t);

void catalog_add_finding(catalog *cat, finding_level level, const char *where,
						 const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/*
 * SQL for the base type OID of column `a` (pg_attribute), domains resolved,
 * followed by ", ": the type whose hash function routes the column.
 */
#define SQL_COLUMN_BASE_TYPE \
	"(WITH RECURSIVE d(oid, base, typtype) AS (" \
	"   SELECT t.oid, t.typbasetype, t.typtype FROM pg_type t WHERE t.oid = a.atttypid" \
	"   UNION ALL SELECT t.oid, t.typbasetype, t.typtype FROM pg_type t JOIN d ON t.oid = d.base" \
	"   WHERE d.typtype = 'd') SELECT oid FROM d WHERE typtype <> 'd' LIMIT 1), "

/*
 * Whether a column's values travel in COPY BINARY from one database to
 * another unchanged: its type, domains resolved, is a built-in type with
 * binary I/O (or an enum: sent as its label) whose element type, if any, is
 * built-in too.  Not the reg* types (their binary form is an OID that
 * differs between databases; their text form is a name), nor types of
 * extensions (their binary form may change between versions), nor arrays,
 * composites or ranges of user types (their binary form carries the
 * element types' OIDs).  One boolean column.
 */
#define SQL_COLUMN_BINARY_IO \
	"(WITH RECURSIVE d(oid, base, typtype) AS (" \
	"   SELECT t.oid, t.typbasetype, t.typtype FROM pg_type t WHERE t.oid = a.atttypid" \
	"   UNION ALL SELECT t.oid, t.typbasetype, t.typtype FROM pg_type t JOIN d ON t.oid = d.base" \
	"   WHERE d.typtype = 'd') SELECT coalesce(bool_and(" \
	"     (b.oid < 16384 OR (b.typtype = 'e' AND b.typelem = 0)) AND b.typsend <> 0 AND b.typreceive <> 0" \
	"     AND b.typname !~ '^_?reg' AND (b.typelem = 0 OR EXISTS (SELECT 1 FROM pg_type e WHERE e.oid = b.typelem" \
	"       AND e.oid < 16384 AND e.typsend <> 0 AND e.typreceive <> 0 AND e.typname !~ '^reg'))), false)" \
	"   FROM d JOIN pg_type b ON b.oid = d.oid WHERE d.typtype <> 'd'), "

/*
 * The column copy chunks are ranges of (index into t->cols): the primary key
 * when it is one integer column, else -1 (one chunk).  Copy and stream must
 * agree on it (invariant 4), so both ask here.
 */
int src_table_chunk_col(const src_table *t);

/*
 * Does a Lua route hook read column i of the table?  Its `reads:` columns,
 * else every stored column plus the key columns (also when generated).  The
 * one rule that copy, stream, verify and the plan's preview share, so that
 * they all give the hook the same row.
 */
bool src_table_route_reads(const plan_table *pt, const src_table *t, int i);

/* Every step of the plan is done (the journal on shard 0): nothing left to apply. */
bool catalog_fully_applied(const catalog *cat);

/* The plan table (partitioned) that partition schema.name belongs to, or -1. */
int catalog_partition_table(const catalog *cat, const char *schema, const char *name);

/* The source's description of a plan table (same index as plan->tables). */
const src_table *catalog_table(const catalog *cat, int plan_index);

#endif
