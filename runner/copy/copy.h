/*
 * copy.h — the resharding copy: chunks, workers, the row router, progress.
 *
 * Every table is split into chunks, fixed once per plan and source in
 * pgreshard.chunk_plan: ranges of its primary or unique NOT NULL key with
 * boundaries sampled from the data, block (ctid) ranges when it has no
 * key, one chunk when it is small (copy_chunks.c).  A worker copies one chunk at a time: it reads the
 * chunk from the source with COPY ... TO STDOUT under the slot's snapshot,
 * routes each row to its shard (replicated tables: every shard), streams it
 * into COPY ... FROM STDIN on that shard, and commits each shard's part with
 * that shard's pgreshard.chunks_done row (DESIGN.md invariant 2).  Chunks of
 * a key scattered over the heap are read by shared scans instead: all the
 * workers on a group of neighbouring chunks, each a range of blocks read in
 * rounds committed with their progress, every chunk still recorded with its
 * own chunks_done row (copy_group.c, copy_scan.c).  A chunk
 * done on some shards but not others is redone only where it is missing.
 * Memory is bounded by libpq's buffers: no chunk is ever held in memory.
 */
#ifndef PGR_COPY_H
#define PGR_COPY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "apply.h"
#include "hooks.h"
#include "pghash.h"
#include "shard_partitions.h"
#include "strbuf.h"

#define COPY_MAX_KEYS 32

/* How to read, route and write one table. */
typedef struct copy_table {
	int			index;			/* in plan->tables */
	char	   *display;		/* schema.table for messages */
	char	   *qname;			/* quoted for SQL */
	const char *only;			/* "ONLY " before qname when reading it; "" for a
								 * partitioned table (its rows are in its partitions) */
	char	   *select_list;	/* columns read from the source */
	char	   *insert_list;	/* columns written to the shards */
	int			nselect;		/* fields read */
	int			nsend;			/* fields written (a prefix of those read) */
	bool		replicate;
	int			nkeys;
	int			key_field[COPY_MAX_KEYS];	/* field numbers of the key columns */
	key_type	key_types[COPY_MAX_KEYS];
	char	   *chunk_col;		/* quoted integer PK column, or NULL (chunk plans
								 * written before key chunks: bigint lo/hi) */
	const plan_table *pt;
	bool		lua_route;		/* routed by the plan's Lua hook */
	bool		binary;			/* copied in COPY's binary format (copy_binary.c) */
	const char **field_names;	/* [nselect] column names (the catalog's) */
	bool	   *route_field;	/* [nselect]: the Lua route reads this field */
	/* progress */
	double		est_rows;
	atomic_llong rows_done;
	atomic_llong bytes_done;
	atomic_int	chunks_done;
	int			chunks_total;
	atomic_bool rewritten;		/* rewritten on the source after the snapshot (copy_rewrite.c) */
} copy_table;

/* One chunk to copy, with the shards it is still missing on. */
typedef struct copy_job {
	int			source;
	int			table;
	int			chunk;
	char	   *where;			/* the chunk's condition, or NULL: the whole table */
	char	   *leaf;			/* the leaf partition it reads (quoted), or NULL */
	bool		ctid;			/* a block range (copy_chunks.c), or any chunk of a
								 * keyless partitioned table: recopied whole */
	bool	   *need;			/* [nshards]: not yet done on this shard */
	bool		clear;			/* a leaf's key range: the shard's rows of it are
								 * deleted first, in the chunk's transaction (none on a
								 * first copy; on a later one, what the stream applied
								 * there: copy_late.c) */
	/* a key chunk's bounds as the chunk plan holds them (text[] literals, or
	 * NULL), for reading it in a shared scan (copy_group.c) */
	char	   *key_cols, *key_types, *key_colls, *lo_key, *hi_key;
	struct scan_group *group;	/* the shared scan that reads it, or NULL */
} copy_job;

/*
 * A shared scan (copy_group.c): neighbouring key chunks of one table read
 * together by every worker, each worker one slice of the table's blocks (a
 * TID range scan) in `rounds` rounds.  A slice writes into a transaction of
 * its own on each shard that misses the group, and commits it after each
 * round with its scan_progress row there (copy_scan.c); the slice that
 * commits the last round on a shard records the group's chunks there.  A
 * rerun under the same snapshot continues each slice after the rounds it
 * committed on each shard (from_round).
 */
typedef struct scan_group {
	copy_job  **jobs;			/* [n], in key order */
	int			n;
	char	   *where;			/* key >= first chunk's lo AND key < last chunk's hi */
	char	   *bucket;			/* CASE giving the chunk 0..n-1 of a row, NULL when n is 1
								 * or bk places the rows */
	struct copy_bucketer *bk;	/* the runner places each row in its chunk itself
								 * (copy_bucket.c), or NULL */
	long long	nblocks;		/* the table's blocks when the scan was planned */
	int			nslices;
	int			rounds;			/* per slice */
	bool	   *need;			/* [nshards]: some chunk of the group still missing there */
	int		   *from_round;		/* [nslices * nshards]: rounds of slice i committed on
								 * shard s at i * nshards + s (a rerun), else 0 */
	long long  *rows, *bytes;	/* [nslices * nshards * n]: what they hold of each chunk */
	bool		resumed;		/* some slice continues where a run stopped */
	atomic_int	slices_done;
} scan_group;

/* A scan_progress row read back from a shard (copy_scan.c). */
typedef struct scan_mark {
	int			shard, source, table, first, slice, nchunks, nslices, rounds, rounds_done;
	long long	nblocks;
	uint64_t	lsn;
	long long  *rows, *bytes;	/* [nchunks] */
	bool		used;			/* continued by a group of this run */
} scan_mark;

/* What a worker takes next: a chunk, or one slice of a shared scan. */
typedef struct copy_work {
	copy_job   *job;
	scan_group *group;
	int			slice;
} copy_work;

/* Shared by the workers. */
typedef struct copy_run {
	apply_ctx  *ctx;
	copy_table *tables;			/* [plan->ntables] */
	copy_job   *jobs;
	int			njobs;
	copy_work  *work;			/* the chunks and shared-scan slices, in order */
	int			nwork;
	int			next_work;		/* under lock */
	scan_group **groups;
	int			ngroups;
	scan_mark  *marks;			/* the shards' scan_progress rows (copy_scan.c) */
	int			nmarks;
	pthread_mutex_t lock;
	atomic_bool abort;
	int			chunk_delay_ms;	/* testing knob: PGRESHARD_TEST_CHUNK_DELAY_MS */
	atomic_llong violations;	/* rows the validate hook rejected (report mode) */
	atomic_llong rows_read;		/* rows read from the sources by this run */
	bool		reload;			/* the chunks to copy changed while the groups were made
								 * (copy_scan_clear_unused): read them again */
	atomic_bool rewritten;		/* a table was rewritten since the snapshot: a new one, again */
} copy_run;

/*
 * Routes COPY TEXT rows by their key fields, or through the plan's Lua
 * route hook, and runs the validate hook on them.  One per worker thread
 * and table (hooks: the worker's own Lua state, or NULL).
 */
typedef struct row_router {
	const copy_table *t;
	hooks	   *hooks;
	int			nkeys;
	const int  *key_field;
	const key_type *key_types;
	uint32_t	nshards;
	strbuf		scratch[COPY_MAX_KEYS];
	/* fields of the current row, decoded on demand (Lua hooks) */
	key_value  *fields;			/* [nselect] */
	key_value  *hook_vals;		/* [nselect]: what the route hook is given */
	strbuf	   *fscratch;		/* [nselect] */
	bool		all_decoded;	/* every field of the current row is in fields[] */
	bool		validates;		/* the validate hook runs on every row */
} row_router;

void row_router_init(row_router *r, const copy_table *t, uint32_t nshards, hooks *h, bool validate);
/* A new row: forget what was decoded of the last one. */
void row_router_next(row_router *r);
void row_router_free(row_router *r);
/*
 * The shard of one COPY TEXT row (len bytes, ending in '\n').  False with a
 * message in err when the row is malformed, a key does not parse or the
 * Lua route hook fails or returns something else than a shard.
 */
bool route_copy_row(row_router *r, const char *row, size_t len, uint32_t *shard,
					char *err, size_t errlen);
/*
 * The plan's validate hook on the row (all sent columns).  *valid false
 * with reason when the hook said no; false with err when it failed.
 */
bool validate_copy_row(row_router *r, const char *row, size_t len, bool *valid,
					   char *reason, size_t reasonlen, char *err, size_t errlen);
/* The row's key as "(col, ...)=(value, ...)" for messages. */
void copy_row_key(row_router *r, const char *row, size_t len, strbuf *out);
/* Decode one COPY TEXT field (escapes) into out; *isnull for \N. */
bool copy_field_decode(const char *f, size_t len, strbuf *out, bool *isnull);
/* Offset of the end of field n (0-based) in row, i.e. of its '\t' or '\n'. */
long copy_field_end(const char *row, size_t len, int n);

/* COPY BINARY (copy_binary.c): the file header every shard's COPY starts
 * with, the trailer it ends with. */
#define COPY_BINARY_HEADER_LEN 19
extern const char copy_binary_header[COPY_BINARY_HEADER_LEN];
extern const char copy_binary_trailer[2];
/* Where the rows start in the source's first message (past its file
 * header), -1 when it has none; is this message the trailer? */
long copy_binary_header_end(const char *buf, size_t len);
bool copy_binary_is_trailer(const char *buf, size_t len);
/* The shard of one binary tuple by the table's key fields (t->binary). */
bool route_binary_row(const copy_table *t, uint32_t nshards, const char *tup, size_t len, uint32_t *shard,
					  char *err, size_t errlen);
/* The tuple's key as "(col, ...)=(value, ...)" for messages. */
void copy_binary_row_key(const copy_table *t, const char *tup, size_t len, strbuf *out);
/* Walk the fields of a binary tuple; at[f] (f < n) gets each field's offset
 * (of its length word).  Returns the number of fields, -1 when malformed. */
int copy_binary_walk(const char *tup, size_t len, size_t *at, int n);
/* Keep the first n fields of a tuple (in place); false when malformed. */
bool copy_binary_keep_fields(char *tup, size_t *len, int n);
/* A shared scan's tuple: its first field (the chunk, int4) in *bucket; the
 * rest made a tuple of its own in place, starting at the offset returned
 * (-1: malformed). */
long copy_binary_take_bucket(char *tup, size_t len, int *bucket);
/* Whether rel (quoted) was rewritten or truncated since the snapshot of
 * src's open transaction (copy_rewrite.c); false after an error. */
bool copy_rel_rewritten(pgr_conn *src, const char *rel, bool *rewritten);
/* After a chunk's COPY out of rel (quoted) on src, in its transaction: true
 * when the table was not rewritten or truncated since the snapshot; else
 * false, with t->rewritten and run->rewritten set and the workers stopped
 * (copy_rewrite.c; step_copy.c goes on under a new snapshot). */
bool copy_source_unchanged(copy_run *run, copy_table *t, pgr_conn *src, const char *rel);
/* Warn when the source's column types of a table rewritten during the copy
 * now differ from shard 0's (copy_rewrite.c). */
void copy_rewrite_check_types(apply_ctx *ctx, const char *display, const char *qname);
/* The value of a hex digit, -1 for another character (copy_row.c). */
int copy_hexval(char c);
/* copy_bucket.c: the rows of a binary shared scan placed in their chunks by
 * the runner, for keys it compares exactly as the server (integers, uuid,
 * text/varchar under C).  copy_bucket_new: NULL where the source's CASE
 * must do it.  copy_bucket_of: the chunk (0..n-1) of a tuple, -1 when it is
 * malformed or its key NULL. */
typedef struct copy_bucketer copy_bucketer;
copy_bucketer *copy_bucket_new(const copy_table *t, const scan_group *g);
int copy_bucket_of(const copy_bucketer *bk, const char *tup, size_t len);
void copy_bucket_free(copy_bucketer *bk);
/* Set t->binary: whether table t is copied in binary (see copy_binary.c). */
void copy_binary_choose(pgr_conn *shard0, const plan *p, const src_table *st, copy_table *t);

/* Chunk plan and pending work (copy_plan.c). */
bool copy_tables_build(apply_ctx *ctx, copy_table **out);
void copy_tables_free(copy_table *tables, int n);
bool copy_jobs_load(copy_run *run);
/* Empty table ti on shard s with every source's chunks_done and scan_progress
 * rows for it, in one transaction, as an apply worker writes (no trigger or
 * foreign-key action); *deleted (may be NULL): the rows removed. */
bool copy_empty_on_shard(copy_run *run, int ti, int s, long long *deleted);
void copy_job_free(copy_job *j);

/* A table's chunk key as the chunk plan records it. */
typedef struct chunk_key {
	int			n;
	char	  **cols;			/* column names (unquoted) */
	char	  **types;			/* format_type of each */
	char	  **colls;			/* collation, SQL-quoted, or NULL */
} chunk_key;

/* Split table t of one source into chunks and write them to the chunk plan
 * over state (copy_chunks.c); src is a connection to that source.  A
 * partitioned table with leaves in parts is split leaf by leaf. */
bool copy_plan_table_chunks(pgr_conn *src, pgr_conn *state, const plan *p, int source,
							const copy_table *t, const part_list *parts);
/* The same for the leaves in `leaves` only (partitions attached during the
 * move, copy_late.c), their chunks numbered from first. */
bool copy_plan_leaf_chunks(pgr_conn *src, pgr_conn *state, const plan *p, int source,
						   const copy_table *t, const part_list *leaves, int first);
/* The WHERE condition of a chunk (by: "key", "ctid" or "whole"; lo, hi:
 * NULL when unbounded), quoted for c; NULL for the whole table. */
char *copy_chunk_where(pgr_conn *c, const char *by, const chunk_key *k, char *const *lo,
					   char *const *hi);
/* The same from a chunk plan row's text[] literals (key_cols, key_types,
 * lo_key, hi_key; NULL for SQL NULL) into *where; false when malformed.
 * colls (key_colls, or NULL): each bound compared under its recorded
 * collation, for a read no index serves (shared scans): the same order as
 * the column's own, cheaper where it was recorded as "C" (copy_chunks.c,
 * orders_as_bytes).  NULL keeps the column's collation, which its index
 * serves. */
bool copy_chunk_where_text(pgr_conn *c, const char *by, const char *cols, const char *types,
						   const char *colls, const char *lo, const char *hi, char **where);
void chunk_key_free(chunk_key *k);

/* copy_partitions.c: begin a read-only transaction on src under snapshot. */
bool copy_snapshot_begin(pgr_conn *src, const char *snapshot);
/* Create on every shard the partitions of the moved tables that existed at
 * the copy's snapshots, before any row is copied. */
bool copy_partitions_sync(apply_ctx *ctx);

/* Run the plan's copy.jobs workers over run's jobs until done (step_copy.c). */
bool copy_run_workers(copy_run *run);
/*
 * copy_late.c: the leaves among `allowed` (partitions of the moved tables as
 * the source had them at a point the stream has applied) that the chunk plan
 * of this source does not have yet — partitions attached (or created) on the
 * source during the move — are planned and copied under a new snapshot of
 * their own, with late leaf chunks left unfinished by an earlier run;
 * touched[ti] (plan->ntables, may be NULL) is set for each table copied.
 * Runs on connections of its own (any thread).  False after reporting.
 */
bool copy_late_leaves(apply_ctx *ctx, int source, const part_list *allowed, bool *touched);
/* Shared scans (copy_group.c): group the pending key chunks of tables
 * whose key is scattered over the heap and make the work list; free them.
 * resume: under the sources' snapshots now set, continue the groups an
 * earlier run left part-way under the same snapshot, and remove from the
 * shards the rows of any other (copy_scan.c); false for the late leaves. */
bool copy_groups_build(copy_run *run, bool resume);
void copy_groups_free(copy_run *run);
/* The SELECT of round k of slice i of a shared scan (the chunk number first
 * when the group has several chunks). */
char *copy_group_round_query(const copy_table *t, const scan_group *g, int slice, int round);

/* copy_scan.c: shared scans' progress on the shards. */
/* Read every shard's scan_progress rows into run->marks. */
bool copy_scan_marks_load(copy_run *run);
/* The geometry of the group an earlier run began at chunk first of table
 * (source) under the snapshot this run copies under, or NULL. */
const scan_mark *copy_scan_mark_find(const copy_run *run, int source, int table, int first);
/* Fill g->from_round, rows and bytes from its marks (and mark them used). */
void copy_scan_resume(copy_run *run, scan_group *g);
/* On each shard, delete the rows of every group whose marks no group of
 * this run continues (another snapshot, another grouping), with the marks;
 * *reload: a table of several sources was emptied on a shard instead, and
 * the jobs must be read again. */
bool copy_scan_clear_unused(copy_run *run, bool *reload);
void copy_scan_marks_free(copy_run *run);
/* Send, without waiting, on shard session d: slice's scan_progress row
 * after `done` rounds, with its chunks' rows and bytes (counts[b] for
 * chunk b), and COMMIT; after the last round, the group's chunks recorded
 * in chunks_done when every slice is through, in the same transaction. */
bool copy_scan_send_round(apply_ctx *ctx, const scan_group *g, pgr_conn *d, int shard, int slice, int done,
						  const long long *rows, const long long *bytes);
/* Open a shard session with the copy's settings (copy_worker.c). */
pgr_conn   *copy_shard_session(apply_ctx *ctx, int s);
/* End the COPY on shard session d (binary trailer first); take every result
 * of what was sent last on d: true when all succeeded (the first failure is
 * reported, "while <what>"). */
bool copy_end_on(const copy_table *t, pgr_conn *d);
bool copy_results_ok(pgr_conn *d, const char *what);

/* One worker thread's body (copy_worker.c); returns (void *) 1 on failure. */
void *copy_worker_main(void *arg);

/* Progress display (progress.c). */
typedef struct progress progress;
progress *progress_start(copy_run *run);
void progress_stop(progress *pr);

#endif
