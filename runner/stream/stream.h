/*
 * stream.h — step 6: keep the shards equal to the source, exactly once.
 *
 * One reader per source decodes pgoutput from the plan's slot and applies
 * each change to the shard(s) it belongs on, over its own connection to
 * every shard.  Changes go to each shard as prepared statements in a libpq
 * pipeline (runs of same-kind changes to a table as one statement), in one
 * open transaction; at a source COMMIT the reader may
 * group-commit: every shard with work commits it together with its
 * pgreshard.apply_progress row (the source commit LSN), and only when all of
 * them have acknowledged is the slot confirmed up to that commit's end
 * (DESIGN.md invariant 3).  The shard sessions commit with
 * synchronous_commit = local, so an acknowledged COMMIT is on disk even on
 * a shard whose server runs with synchronous_commit = off.  On a rerun
 * each shard skips source transactions at or below its own progress, so a
 * crash between two shards' commits neither loses nor repeats a change.
 *
 * Transactions the server streams before they commit (protocol 2, big
 * transactions) are spilled to files and applied at Stream Commit, so
 * memory stays bounded by buffers, never by transaction size.
 */
#ifndef PGR_STREAM_H
#define PGR_STREAM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "apply.h"
#include "pghash.h"
#include "pgoutput.h"
#include "strbuf.h"

/* Statements prepared once per table on every shard connection: INSERT of
 * every column, UPDATE of every column by primary key, DELETE by primary key
 * (and, for runs of n rows, the same for n rows: stream_run.c). */
enum { STMT_INSERT, STMT_UPDATE, STMT_DELETE, STMT_KINDS };
#define STMT_NAMED (-2)			/* shard_send_stmt: run the statement named sql */

/* What the stream knows about a moved table (from the catalog at preflight). */
typedef struct stream_table {
	int			index;
	char	   *display;		/* schema.table */
	char	   *qname;			/* quoted for SQL */
	bool		replicate;
	int			ncols;			/* columns pgoutput sends: the non-generated ones */
	char	  **cols;			/* their names, in attnum order */
	char	  **qcols;			/* quoted */
	int			nkeys;
	int			key_col[32];	/* sharding key columns as indexes into cols */
	key_type	key_types[32];
	int			npk;
	int			pk_col[32];		/* primary key columns as indexes into cols */
	/* Lua routing: the columns the route hook reads (reads:, else all) */
	const plan_table *pt;
	bool		lua_route;
	int			nroute;
	int		   *route_col;		/* [nroute] indexes into cols */
	char	  **types;			/* [ncols] format_type() of each column */
	bool	   *always_ident;	/* [ncols] GENERATED ALWAYS AS IDENTITY: INSERTs say
								 * OVERRIDING SYSTEM VALUE, UPDATEs never assign it */
	bool		has_always_ident;
	int			nsettable;		/* columns an UPDATE may assign (not always_ident) */
	char	   *sql[STMT_KINDS];	/* the prepared statements' text (NULL: no primary key) */
	char		stmt_name[STMT_KINDS][24];
	int			generation;		/* columns changed this many times (stream_ddl.c): in the names */
	/* reverse stream (stream_dir.c): the row on the source belongs to the
	 * upstream shard only while its key hashes there; owner_rel is the empty
	 * hash-partitioned table on the source that satisfies_hash_partition()
	 * reads the key's layout from (NULL: no condition) */
	char	   *owner_rel;
	int			owner_mod, owner_rem;
	bool		upsert;			/* INSERT ... ON CONFLICT (primary key) DO UPDATE */
	/* reverse stream with several shards (stream_dir.c): the source's table
	 * of each key's latest applied commit time, "pgreshard.clock_PLAN_I";
	 * an INSERT applies only if its commit is not older (NULL: no clock) */
	char	   *clock_rel;
	/* invariant 4: chunks copied later than the slot, per shard (may be
	 * empty); which rows they hold is chunk_member.c's */
	int			nck;			/* chunk key columns (0: none known) */
	int			ck_col[32];		/* as indexes into cols (-1: no longer there) */
	int			ck_kind[32];	/* keycmp_kind of each (chunk_key.h) */
	char	   *ck_sql;			/* the source's membership test (keys the client cannot compare) */
	uint64_t	late_max;		/* the newest late chunk's snapshot LSN */
	int			nlate;
	struct late_chunk {
		int			source;
		int			chunk, last;	/* the chunks it stands for (merged neighbours) */
		bool		all_rows;	/* the whole table, or a block range: every row */
		char	  **lo, **hi;	/* [nck] bounds' text, NULL: unbounded */
		uint64_t   *lsn;		/* [nshards]: snapshot LSN on each shard, 0 = none */
		char	   *leaf_schema, *leaf_name;	/* the leaf partition it read, or NULL */
		char	   *leaf_cond;	/* that leaf's partition constraint */
		int			leaf_no;	/* index among the table's distinct late leaves */
	}		   *late;
	int			nleaves;		/* distinct leaves among late[] */
	char	   *leaf_sql;		/* the source's test of a key against their constraints */
} stream_table;

/*
 * The direction a reader streams (stream_dir.c).  Forward: from the plan's
 * slot on each source to every shard.  Reverse (after the cutover): from
 * the reverse slot on each shard back to every source.  The pipeline is the
 * same; only these names differ.
 */
typedef struct stream_dir {
	bool		reverse;
	int			nup, ndown;		/* upstream servers (with the slot), downstream ones */
	char	  **up_dsns, **down_dsns;	/* the plan's */
	char	  **up_roles, **down_roles;	/* "source 1", "shard 2" */
	char	   *slot;			/* the logical slot on every upstream */
	char	   *publication;	/* the publication on every upstream */
	char	   *progress;		/* the progress table on every downstream (SQL) */
	/* a reader that follows (stream_reverse_follow) ends, cleanly, at the
	 * first pause after this is set (NULL: never asked to) */
	const atomic_bool *stop;
} stream_dir;

void stream_dir_forward(const apply_ctx *ctx, stream_dir *d);
void stream_dir_reverse(const apply_ctx *ctx, stream_dir *d);
void stream_dir_free(stream_dir *d);
/* The reverse stream's names: slot and publication on the shards, and on
 * the sources the progress table and the owner table of table ti. */
char *reverse_slot_name(const plan *p);
char *reverse_owner_table(const plan *p, int ti);	/* unquoted name in schema pgreshard */
char *reverse_progress_table(const plan *p);		/* unquoted name in schema pgreshard */
char *reverse_clock_table(const plan *p, int ti);	/* unquoted name in schema pgreshard */
/* Make t, built for the forward stream, one of the reverse stream from
 * shard `shard`: hash routing over the sources, the owner condition, upsert. */
void stream_table_reverse(const apply_ctx *ctx, const stream_dir *dir, int shard, stream_table *t);
/* " AND satisfies_hash_partition(...)" on qual's key columns when t has an
 * owner condition (qual: the table's name or alias in the statement). */
void stream_owner_cond(strbuf *sb, const stream_table *t, const char *qual);
/* " ON CONFLICT (pk) DO UPDATE SET ..." when t->upsert. */
void stream_upsert_clause(strbuf *sb, const stream_table *t);
/* The reverse INSERT of n rows under the row clock (t->clock_rel): each row
 * is its columns' values, then its commit time (us since 2000-01-01). */
void stream_clock_insert(strbuf *sb, const stream_table *t, int n);

/* " OVERRIDING SYSTEM VALUE" when t has a GENERATED ALWAYS identity, else "". */
const char *stream_insert_overriding(const stream_table *t);
/* An UPDATE from ident to new_tup changes a GENERATED ALWAYS identity value
 * (known only when ident carries it): apply it as DELETE + INSERT. */
bool stream_identity_changed(const stream_table *t, const pgo_tuple *ident,
							 const pgo_tuple *new_tup);

/* A relation as the source announced it (Relation message). */
typedef struct stream_rel {
	uint32_t	relid;
	int			table;			/* index into the plan's tables, or -1 */
	char	   *name;			/* schema.table as announced */
	char	   *leaf_qname;		/* a partition of a moved partitioned table
								 * (publish_via_partition_root off): its
								 * quoted name, for TRUNCATE; else NULL */
	char	   *nspname, *relname;	/* as announced */
	int		   *order;			/* a partition whose columns are in another order
								 * than its table's: the message's column at each
								 * of the table's positions; NULL: the same order */
	char		replident;		/* 'd', 'f', 'i', 'n' */
	int			ncols;
	bool	   *ident;			/* [ncols]: column is part of the replica identity */
	uint64_t	colsig;			/* hash of the column names, types and typmods announced */
	bool		ignored;		/* not in the plan and no longer published: changes skipped */
} stream_rel;

/* A statement sent to a shard whose result is not read yet: what it was
 * for, so that a failure names the change that caused it. */
typedef struct sent_stmt {
	char		op;				/* 'I' insert, 'U' update, 'D' delete, 'T' truncate,
								 * 'P' prepare, 'B' begin, 'G' progress, 'C' commit,
								 * 'S' sync */
	int			table;			/* index into the plan's tables, or -1 */
	uint32_t	round;			/* 'C': the group commit it belongs to */
	uint64_t	lsn;			/* 'C': the source commit LSN it records */
	int			rows;			/* rows of a run statement (else 1) */
	char		key[48];		/* the row's key as text, maybe cut short */
} sent_stmt;

/* The values of one statement's parameters (text format), reused. */
typedef struct stmt_params {
	int			n, cap;
	const char **values;
	size_t	   *offs;			/* into text; SIZE_MAX for NULL */
	strbuf		text;			/* NUL-terminated copies of the values */
} stmt_params;

/* Consecutive same-kind changes to one table on one shard, not sent yet:
 * they go as one statement (stream_run.c). */
typedef struct change_run {
	int			table;			/* index into the plan's tables */
	int			kind;			/* STMT_INSERT, STMT_UPDATE or STMT_DELETE */
	int			rows;			/* 0: no run */
	int			width;			/* values per row */
	stmt_params vals;			/* rows * width values, row after row */
	stmt_params args;			/* the n-row statement's values */
	char		first[48], last[48];	/* keys of the first and last rows */
} change_run;

/* One shard as seen by one source's reader: a libpq pipeline. */
typedef struct shard_conn {
	pgr_conn   *conn;
	bool		in_txn;			/* BEGIN sent, COMMIT not yet */
	long long	pending;		/* changes sent since the last group commit */
	uint64_t	progress;		/* last source commit LSN applied here (durable) */
	uint64_t	txn_lsn;		/* commit LSN to record at the next group commit */
	int64_t		txn_ts;			/* and its source commit time (us since 2000) */
	bool	   *prepared;		/* [ntables * STMT_KINDS]: prepared on this connection */
	uint64_t   *run_prepared;	/* [ntables * STMT_KINDS]: bit n-1, the n-row statement */
	sent_stmt  *sent;			/* ring of statements in flight, oldest first */
	int			sent_head, sent_len;
	int			unsynced;		/* statements sent after the last Sync */
	bool		failed;			/* a statement failed (reported): the stream stops */
	bool		lost;			/* ... because the session ended, or it lost a
								 * deadlock or serialization conflict (with
								 * another reader applying into the same
								 * server): reconnect and resume from the slot */
	bool		conflict;		/* lost was such a conflict (nothing is wrong) */
	change_run	run;
} shard_conn;

/* Group commits sent whose COMMITs are not all acknowledged yet. */
typedef struct commit_round {
	uint32_t	id;
	int			waiting;		/* shards whose COMMIT result is not read yet */
	uint64_t	end_lsn;		/* the slot may move here once it is complete */
} commit_round;

typedef struct stream_reader {
	apply_ctx  *ctx;
	const stream_dir *dir;		/* forward or reverse: the servers' names */
	int			source;			/* the upstream server read (dir->up_*) */
	const char *role;
	stream_table *tables;		/* [plan->ntables] */
	shard_conn *shards;			/* [dir->ndown]: the downstream servers */
	stream_rel *rels;
	int			nrels;
	pgr_conn   *repl;			/* replication connection */
	pgo_decoder dec;
	struct spill_store *spill;
	/* the transaction being received */
	uint64_t	txn_commit_lsn;	/* Begin's final LSN / Commit's LSN */
	int64_t		txn_commit_ts;	/* its commit time, us since 2000-01-01 */
	bool		in_txn;
	uint32_t	stream_xid;		/* the streamed transaction being received */
	/* statements to the shards */
	stmt_params params;
	bool		batch;			/* send runs of changes as one statement */
	bool		replay;			/* a run failed: replay row by row to name the row */
	commit_round *rounds;		/* ring, oldest first */
	int			rounds_head, rounds_len;
	uint32_t	next_round;
	uint64_t	durable;		/* every shard committed every change before this */
	/* positions */
	uint64_t	confirmed;		/* slot confirmed up to here (every shard durable) */
	uint64_t	received;		/* end of the last complete transaction seen */
	uint64_t	target;			/* --until stream: stop once caught up to this */
	double		deadline;		/* monotonic seconds; 0 = none (cutover's freeze) */
	bool		exact;			/* stop right before the first commit at or past target */
	bool		reached;		/* exact: a transaction committing at/after target arrived */
	bool		refused;		/* the server refused START_REPLICATION: do not retry */
	bool		conflict;		/* the last session ended on a conflict (shard_conn) */
	bool		connected;		/* a session started streaming since the last failure */
	int64_t		last_status;	/* pgo_now() of the last standby status */
	double		last_flush;		/* seconds, monotonic */
	long long	changes;		/* applied since the stream began */
	struct hooks *hooks;		/* this reader's Lua state, or NULL */
	key_value  *hook_vals;		/* a row for the hooks, [hook_cap] */
	int			hook_cap;
	pgr_conn   *vstate;			/* shard 0, for validate violations (report mode) */
	pgr_conn   *member;			/* the source, to place keys in late chunks (chunk_member.c) */
	const stream_rel *cur_rel;	/* the relation of the change being applied */
	struct part_cache *parts;	/* the source's partitions (stream_partitions.c) */
	struct attach_watch *attach;	/* the source's catalog, polled (stream_attach.c) */
	struct column_watch *columns;	/* the moved tables' columns, polled (stream_columns.c) */
	bool		member_failed;	/* that failed (reported): the change fails */
	long long	violations;
	long long	txns;
} stream_reader;


/* stream_partitions.c: partitions made on the source during the move */
/* Drained to the fence: create on every shard the partitions of moved tables
 * it lacks (made during the move, never written to); false after reporting. */
bool stream_partitions_at_fence(apply_ctx *ctx, int source);
/* schema.name was announced and is not a moved table: when it is a partition
 * of one, create it (and its missing parents) on every shard that lacks it,
 * in the open apply transactions, and return that table's index; -1 when it
 * is not one; -2 after an error (reported). */
int stream_partition_announced(stream_reader *r, const char *schema, const char *name);
/* Drop the session's knowledge of the partitions (a new session checks again). */
void stream_partitions_forget(stream_reader *r);

/* stream_attach.c: the partitions' changes pgoutput does not carry —
 * attached rows, detached partitions, a partition's own indexes */
/* Between two transactions: 1 when the reader is to commit everything on
 * every shard and call stream_attach_run now; 0 not now; -1 after an error
 * (reported).  Polls the source's catalog when it is time. */
int stream_attach_due(stream_reader *r);
bool stream_attach_run(stream_reader *r);
/* A new partition was announced: poll at the next transaction boundary. */
void stream_attach_soon(stream_reader *r);
void stream_attach_forget(stream_reader *r);
/* The same at the fence, strictly (stream_partitions_at_fence). */
bool stream_attach_at_fence(apply_ctx *ctx, int source);

/* stream_reader.c: every transaction before lsn has been received (a
 * position just past a WAL page header counts as the page's start) */
bool stream_received_past(const stream_reader *r, uint64_t lsn);

/* stream_batch.c: per-shard pipelines and the group commit */
bool shard_pipeline_open(stream_reader *r, int s);
bool shard_begin(stream_reader *r, int s);
bool shard_send_change(stream_reader *r, int s, char op, const stream_table *t, int kind,
					   const char *sql, const char *key);
bool shard_send_stmt(stream_reader *r, int s, char op, const stream_table *t, int kind,
					 const char *sql, const char *key, int rows, stmt_params *p);
bool shard_prepare(stream_reader *r, int s, const stream_table *t, const char *name, const char *sql);
bool shard_send_sql(stream_reader *r, int s, char op, const char *sql);
PGresult *shard_query_now(stream_reader *r, int s, const char *sql, const char *what);
bool shards_commit(stream_reader *r, uint64_t upto);
bool shards_poll(stream_reader *r, bool wait);
bool shards_sync(stream_reader *r);
bool shards_busy(const stream_reader *r);
void shards_reset(stream_reader *r);
void shards_free(stream_reader *r);

/* stream_sql.c: the statements of a change, with their values as parameters */
bool shard_insert_row(stream_reader *r, int s, const stream_table *t, const pgo_tuple *tup,
					  const pgo_tuple *fill);
bool shard_update_row(stream_reader *r, int s, const stream_table *t, const stream_rel *rel,
					  const pgo_tuple *ident, const pgo_tuple *new_tup);
bool shard_delete_row(stream_reader *r, int s, const stream_table *t, const stream_rel *rel,
					  const pgo_tuple *ident);
PGresult *shard_delete_returning(stream_reader *r, int s, const stream_table *t,
								 const stream_rel *rel, const pgo_tuple *ident);
PGresult *shard_update_now(stream_reader *r, int s, const stream_table *t, const stream_rel *rel,
						   const pgo_tuple *ident, const pgo_tuple *new_tup);
bool tuple_has_unchanged(const pgo_tuple *tup);

/* stream_params.c: a statement's parameter values, buffers reused */
void params_reset(stmt_params *p);
/* Add a value: its text is copied; a NULL value is a NULL parameter. */
void params_add(stmt_params *p, const pgo_value *v);
/* Add every value of src after those of dst. */
void params_append(stmt_params *dst, const stmt_params *src);
/* Add value i of src. */
void params_copy(stmt_params *dst, const stmt_params *src, int i);
/* The values as libpq takes them (valid until the next params_add). */
const char *const *params_values(stmt_params *p);
void params_free(stmt_params *p);

/* stream_run.c: runs of same-kind changes to one table, one statement each */
bool run_add(stream_reader *r, int s, const stream_table *t, int kind, const char *key);
bool run_flush(stream_reader *r, int s);
void run_reset(change_run *run);
void run_free(change_run *run);

/* stream_tables.c: (re)write t's statements' text and names from its columns */
void stream_table_statements(stream_table *t);

/* stream_ddl.c: the columns of t changed on the source (a Relation message
 * that differs): follow on the shards or stop, per schema_changes */
bool stream_follow_columns(stream_reader *r, stream_table *t, const pgo_msg *m);

/* stream_ddl.c: t's columns changed in the source's catalog (read by src)
 * with no change to t since, so no Relation message: follow them on every
 * shard, between two transactions (stream_columns.c) */
bool stream_follow_catalog(stream_reader *r, stream_table *t, pgr_conn *src);
/* stream_columns.c: the moved tables' columns in the source's catalog,
 * polled, for a change pgoutput has not announced (no change to the table
 * since): 1 when one is due (the stream has received every transaction
 * before the poll): commit on every shard and call stream_columns_run now;
 * 0 not now; -1 after an error */
int stream_columns_due(stream_reader *r);
bool stream_columns_run(stream_reader *r);
void stream_columns_forget(stream_reader *r);

/* stream_fill.c: column `col` (type) of t, just added (or, retyped, just
 * altered to the source's type) in the open transaction of each shard s
 * with shards[s], filled with the source's values by primary key (a rewrite
 * by a volatile default or a USING put them there, not the WAL; retyped:
 * only the rows whose value differs are written); possible only when t has
 * a primary key among its streamed columns */
bool stream_fill_column(stream_reader *r, pgr_conn *src, const stream_table *t, const char *col,
						const char *type, const bool *shards, bool retyped);
bool stream_fill_possible(const stream_table *t);
/* stream_leaf_cols.c: a partition's columns in another order than its table's */
/* The partition's message columns in t's order (malloc'd, m->ncols), or NULL
 * when it is t's order already. */
int *stream_leaf_order(const stream_table *t, const pgo_msg *m);
/* m's columns in that order, into out[m->ncols]. */
void stream_columns_permuted(const pgo_msg *m, const int *order, pgo_column *out);
/* A tuple of the partition in t's order (n values, into vals). */
void stream_tuple_permuted(const pgo_tuple *in, const int *order, int n, pgo_tuple *out, pgo_value *vals);

/* stream_apply.c: one decoded change */
bool stream_apply_change(stream_reader *r, const pgo_msg *m);
bool stream_tables_build(apply_ctx *ctx, const stream_dir *dir, int source, stream_table **out);
/* The index in t->cols of column `name`, or -1. */
int stream_col_index(const stream_table *t, const char *name);
void stream_tables_free(stream_table *t, int n, int nshards);

/* chunk_member.c: invariant 4 for chunks of any key */
/* Load the chunks of this source copied on some shard after the slot's
 * consistent point slot_lsn (state: shard 0). */
bool stream_late_load(apply_ctx *ctx, pgr_conn *state, int source, uint64_t slot_lsn,
					  stream_table *tables);
/* The same again for table ti alone, after more of its chunks were copied
 * late (partitions attached during the move: runner/copy/copy_late.c). */
bool stream_late_reload(apply_ctx *ctx, pgr_conn *state, int source, uint64_t slot_lsn,
						stream_table *tables, int ti);
/* Does a late chunk on shard s already hold the current transaction's change
 * to row tup?  On a failure to tell, reports it, sets r->member_failed and
 * says yes (the change then fails). */
bool stream_late_has(stream_reader *r, const stream_table *t, const pgo_tuple *tup, int s);
void stream_late_free(stream_table *t);
/* A TRUNCATE of t (target: the table or the partition truncated, quoted) in
 * the current transaction, on shard s: 0 truncate as usual; 1 leave it alone
 * (all of t was copied later); 2 delete only the rows outside the later
 * chunks, with the statement in del. */
int stream_late_truncate(stream_reader *r, const stream_table *t, const char *target, int s,
						 strbuf *del);

/* stream_hooks.c: Lua routing and validation of changes */
/* The shard of a tuple by the Lua route: 1 known, 0 a column it reads is
 * not in the tuple, -1 error (reported). */
int stream_route_lua(stream_reader *r, const stream_table *t, const stream_rel *rel,
					 const pgo_tuple *tup, char kind, int *shard);
/* The validate hook on an inserted or updated row; false (reported) stops. */
bool stream_validate(stream_reader *r, const stream_table *t, const pgo_tuple *tup);
/* Open / close the reader's hooks when the plan uses them. */
bool stream_hooks_open(stream_reader *r);
void stream_hooks_close(stream_reader *r);

/* stream_reader.c */
bool stream_run_source(apply_ctx *ctx, int source, bool until_caught_up);
/* Follow source's stream on one session (reconnecting as needed) until
 * *stop is set, then commit what was received and return true (a manual
 * cutover's wait); false after an error. */
bool stream_follow_source(apply_ctx *ctx, int source, const atomic_bool *stop);
/* Drain to an explicit target (the cutover's fence) before a deadline
 * (monotonic seconds); no reconnecting: a lost connection fails. */
bool stream_drain(apply_ctx *ctx, int source, uint64_t target, double deadline);
/* A flushed WAL position past every commit so far on the source (c). */
bool stream_flush_point(pgr_conn *c, uint64_t *lsn);
/* The source's WAL insert position now (after what c read before). */
bool stream_insert_point(pgr_conn *c, uint64_t *lsn);
/* Apply exactly the transactions committed before target, none after
 * (verify compares the shards with a source snapshot taken at target). */
bool stream_drain_exact(apply_ctx *ctx, int source, uint64_t target);
/* The reverse stream from shard s: catch up (target 0: to where the shard's
 * WAL is now) or drain to a fence before a deadline (rollback). */
bool stream_reverse_run(apply_ctx *ctx, const stream_dir *dir, int shard, uint64_t target,
						double deadline);
/* The reverse stream from shard s, followed on one set of connections (no
 * catch-up target) until *dir->stop is set: then what was received is
 * committed on the sources and confirmed, and it returns true.  A lost
 * connection is retried with backoff, as ever; false after an error. */
bool stream_reverse_follow(apply_ctx *ctx, const stream_dir *dir, int shard);

#endif
