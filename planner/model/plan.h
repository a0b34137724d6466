/*
 * plan.h — the plan model: what a plan file (version 1) says, after loading
 * and offline validation.  See CONTRACT.md "The plan file".
 *
 * plan_load() is the only way to get one.  It reads the file with libyaml's
 * document API and checks everything that needs no database; each problem is
 * reported as "FILE:LINE:COL: message" at the offending key or value.  A plan
 * that fails to load has touched nothing.
 */
#ifndef PGR_PLAN_H
#define PGR_PLAN_H

#include <stdbool.h>
#include <stddef.h>

/* A position in the plan file, 1-based (0 when not from the file). */
typedef struct plan_pos {
	int line;
	int col;
} plan_pos;

typedef struct plan_table {
	char *spec;				/* the table as written in the plan file */
	char *schema;			/* parsed SQL name parts, unquoted */
	char *relname;
	plan_pos pos;			/* position of the table's key in `tables:` */
	bool replicate;			/* copied whole to every shard */
	int nkeys;				/* sharding key columns (0 when replicate) */
	char **keys;			/* parsed column names, unquoted */
	plan_pos key_pos;		/* position of the `key:` value */
	char *route;			/* per-table Lua route function, or NULL */
	plan_pos route_pos;
	int nreads;				/* columns the route hook reads (`reads:`), 0 = all */
	char **reads;
} plan_table;

typedef enum shard_fn {
	SHARD_FN_HASH = 0,
	SHARD_FN_LUA
} shard_fn;

typedef enum freeze_mode {
	FREEZE_LOCK = 0,
	FREEZE_READ_ONLY,
	FREEZE_HOOK
} freeze_mode;

/* schema_changes: what a schema change on the source during the move does. */
typedef enum schema_change_mode {
	SCHEMA_CHANGES_APPLY = 0,	/* followed on every shard (default) */
	SCHEMA_CHANGES_STOP			/* stop with the change and the statement to run */
} schema_change_mode;

typedef enum cutover_mode {
	CUTOVER_AUTO = 0,
	CUTOVER_MANUAL
} cutover_mode;

typedef enum validate_mode {
	VALIDATE_STOP = 0,
	VALIDATE_REPORT
} validate_mode;

typedef struct plan_hooks {
	char *file;				/* as written (relative to the plan file) */
	char *path;				/* resolved path, or NULL when no hooks */
	plan_pos file_pos;
	char *route;
	plan_pos route_pos;
	char *validate;
	validate_mode validate_mode;
	char *before_step;
	char *after_step;
	char *on_freeze;		/* cutover.freeze: hook: stops writes */
	char *on_unfreeze;		/* undoes on_freeze when a cutover aborts */
	char *source_route;		/* reverse replication to several sources: function(table, row,
							 * nsources) -> the source a row goes back to (else the built-in hash) */
} plan_hooks;

typedef struct plan_cutover {
	cutover_mode mode;			/* auto (default) | manual */
	freeze_mode freeze;			/* lock (default) | read_only | hook */
	long long max_lag_bytes;	/* default 1048576 */
	int timeout_s;				/* default 30 */
	char *switch_fn;			/* Lua function, or NULL */
	char *switch_command;		/* shell command, or NULL */
	bool verify;				/* default false */
	bool leave_source_writable; /* default false */
	long long sequence_gap;		/* default 1000 */
	bool reverse;				/* default true: stream the shards back until finish/rollback */
	long long reverse_max_retained; /* bytes a reverse slot may hold on a shard; 0 = no limit */
} plan_cutover;

/* What a materialized view holds on the shards (schema.matviews). */
typedef enum matviews_mode {
	MATVIEWS_NO_DATA = 0,		/* created WITH NO DATA; the user refreshes */
	MATVIEWS_REFRESH			/* refreshed on every shard at the cutover */
} matviews_mode;

typedef struct plan_schema {
	bool skip_owners;			/* no OWNER TO, GRANT or REVOKE on the shards */
	matviews_mode matviews;		/* default no_data */
} plan_schema;

typedef struct plan {
	char *path;				/* plan file path as given */
	char *dir;				/* directory of the plan file */
	char *text;				/* the file's bytes, NUL-terminated */
	size_t text_len;

	int version;
	char *name;

	/* source: `dsn:` gives one source, `shards:` several (N->M) */
	int nsources;
	char **source_dsns;		/* ${VAR} already expanded */
	plan_pos *source_pos;
	bool source_sharded;	/* true when written as source.shards */
	char *publication;
	plan_pos publication_pos;
	bool create_publication;
	long long max_retained_wal;	/* source.max_retained_wal in bytes; 0 = no limit */

	int nshards;
	char **shard_dsns;		/* ${VAR} already expanded */
	plan_pos *shard_pos;

	int ntables;
	plan_table *tables;		/* in file order */

	shard_fn sharding;
	plan_hooks hooks;

	int copy_jobs;			/* default 4 */
	long long copy_chunk_rows; /* rows per copy chunk, default 1000000 */
	long long copy_scan_passes; /* passes over a scattered key's table at most, default 4
								 * (runner/copy/copy_group.c) */
	long long copy_scan_pass_size; /* bytes of such a table one pass copies at most
									* (fewer passes where they fit), default 8 GiB;
									* 0: copy.jobs chunks a pass within copy.scan_passes
									* (common/pg/chunking.h) */
	long long copy_keep_snapshot_s; /* how long the copy's snapshot outlives a runner
									 * that died, default 600; 0: not kept
									 * (runner/prepare/snapshot_keeper.c) */

	plan_cutover cutover;
	schema_change_mode schema_changes;
	plan_schema schema;

	/* "source.dsn at FILE:LINE:COL" when a conninfo in the file itself (not
	 * through ${VAR}) holds a password: such a plan cannot be saved (-o) */
	char *password_at;
	/* the saved plan's id when this plan came from one (apply SAVED), else NULL */
	char *saved_id;
} plan;

/*
 * Load and validate a plan file.  On failure every problem found has been
 * reported (FILE:LINE:COL: ...) and false is returned with *out untouched.
 */
bool plan_load(const char *path, plan **out);

/* Same, from bytes in memory; path is used for messages and for `dir`. */
bool plan_load_text(const char *path, const char *text, size_t len, plan **out);

void plan_free(plan *p);

/* The table with this (unquoted) schema and name, or NULL. */
const plan_table *plan_find_table(const plan *p, const char *schema,
								  const char *relname);

/* Index of that table in p->tables, or -1. */
int plan_table_index(const plan *p, const char *schema, const char *relname);

/* Names derived from the plan (plan_names.c), all malloc'd: */
/* "FILE:LINE:COL" of a plan position (the file alone when it has none). */
char *plan_where(const plan *p, plan_pos pos);
/* "schema.table" for display, quoted where SQL needs it. */
char *table_display(const plan_table *t);
/* The logical replication slot's name for this plan: pgreshard_NAME. */
char *plan_slot_name(const plan *p);

#endif
