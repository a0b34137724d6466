/*
 * stream.h — step 6: keep the shards equal to the source, exactly once.
 *
 * One reader per source decodes pgoutput from the plan's slot and applies
 * each change to the shard(s) it belongs on, over its own connection to
 * every shard.  Changes are batched per shard as SQL in one open
 * transaction; at a source COMMIT the reader may flush: every shard with
 * work commits it together with its pgreshard.apply_progress row (the
 * source commit LSN), and only when all of them have committed is the slot
 * confirmed up to that commit's end (DESIGN.md invariant 3).  On a rerun
 * each shard skips source transactions at or below its own progress, so a
 * crash between two shards' commits neither loses nor repeats a change.
 *
 * Transactions the server streams before they commit (protocol 2, big
 * transactions) are spilled to files and applied at Stream Commit, so
 * memory stays bounded by buffers, never by transaction size.
 */
#ifndef PGR_STREAM_H
#define PGR_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "apply.h"
#include "pghash.h"
#include "pgoutput.h"
#include "strbuf.h"

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
	/* invariant 4: chunks copied later than the slot, per shard (may be empty) */
	int			chunk_col;		/* index into cols of the chunking column, or -1 */
	int			nlate;
	struct late_chunk {
		int			source;
		bool		has_lo, has_hi;
		long long	lo, hi;
		uint64_t   *lsn;		/* [nshards]: snapshot LSN on each shard, 0 = none */
	}		   *late;
} stream_table;

/* A relation as the source announced it (Relation message). */
typedef struct stream_rel {
	uint32_t	relid;
	int			table;			/* index into the plan's tables, or -1 */
	char	   *name;			/* schema.table as announced */
	char		replident;		/* 'd', 'f', 'i', 'n' */
	int			ncols;
	bool	   *ident;			/* [ncols]: column is part of the replica identity */
} stream_rel;

/* One shard as seen by one source's reader. */
typedef struct shard_conn {
	pgr_conn   *conn;
	strbuf		batch;			/* SQL waiting to be sent */
	bool		in_txn;			/* BEGIN sent */
	int			open_insert;	/* table of the INSERT being extended, or -1 */
	long long	pending;		/* statements in the batch */
	bool		busy;			/* a batch was sent; its results are not read yet */
	uint64_t	progress;		/* last source commit LSN applied here (durable) */
	uint64_t	txn_lsn;		/* commit LSN to record at the next flush */
	int64_t		txn_ts;			/* and its source commit time (us since 2000) */
} shard_conn;

typedef struct stream_reader {
	apply_ctx  *ctx;
	int			source;
	const char *role;
	stream_table *tables;		/* [plan->ntables] */
	shard_conn *shards;			/* [plan->nshards] */
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
	/* positions */
	uint64_t	confirmed;		/* slot confirmed up to here (every shard durable) */
	uint64_t	received;		/* end of the last complete transaction seen */
	uint64_t	wal_end;		/* server's WAL end from the last keepalive */
	uint64_t	target;			/* --until stream: stop once caught up to this */
	double		deadline;		/* monotonic seconds; 0 = none (cutover's freeze) */
	bool		exact;			/* stop right before the first commit at or past target */
	bool		reached;		/* exact: a transaction committing at/after target arrived */
	bool		refused;		/* the server refused START_REPLICATION: do not retry */
	int64_t		last_status;	/* pgo_now() of the last standby status */
	double		last_flush;		/* seconds, monotonic */
	long long	changes;		/* applied since the stream began */
	struct hooks *hooks;		/* this reader's Lua state, or NULL */
	pgr_conn   *vstate;			/* shard 0, for validate violations (report mode) */
	long long	violations;
	long long	txns;
} stream_reader;


/* stream_batch.c: per-shard batches and group commit */
bool shard_begin(stream_reader *r, int s);
bool shard_append(stream_reader *r, int s, const char *sql);
bool shard_insert_row(stream_reader *r, int s, const stream_table *t, const pgo_tuple *tup,
					  const pgo_tuple *fill);
void shard_append_literal(stream_reader *r, int s, strbuf *sb, const pgo_value *v);
bool shard_flush(stream_reader *r, int s);
bool shards_commit(stream_reader *r);
void shards_rollback(stream_reader *r);
PGresult *shard_query_now(stream_reader *r, int s, const char *sql, const char *what);

/* stream_apply.c: one decoded change */
bool stream_apply_change(stream_reader *r, const pgo_msg *m);
bool stream_tables_build(apply_ctx *ctx, int source, stream_table **out);
void stream_tables_free(stream_table *t, int n, int nshards);

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
/* Drain to an explicit target (the cutover's fence) before a deadline
 * (monotonic seconds); no reconnecting: a lost connection fails. */
bool stream_drain(apply_ctx *ctx, int source, uint64_t target, double deadline);
/* A flushed WAL position past every commit so far on the source (c). */
bool stream_flush_point(pgr_conn *c, uint64_t *lsn);
/* Apply exactly the transactions committed before target, none after
 * (verify compares the shards with a source snapshot taken at target). */
bool stream_drain_exact(apply_ctx *ctx, int source, uint64_t target);
/* Monotonic clock in seconds. */
double stream_clock(void);

#endif
