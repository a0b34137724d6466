/*
 * status.h — what `pgreshard status` reports (runner/commands/cmd_status.c).
 *
 * status_gather() reads the model below, read-only, from the state schema on
 * shard 0, every shard's ledgers and every source; the text and JSON
 * renderers only print it.  The definitions users see:
 *
 *   copy progress, per table: a chunk is done when every shard has its
 *     chunks_done row; rows copied are summed over the shards; the estimate is
 *     the chunk plan's, times the number of shards for a replicated table, so
 *     that both count rows written;
 *   stream lag, per source: bytes = the source's pg_current_wal_lsn() minus
 *     the slot's confirmed_flush_lsn; seconds = the source's clock minus the
 *     commit time of the newest source transaction applied on any shard, 0
 *     when the lag in bytes is 0, unknown when nothing was applied yet.  The
 *     newest, not the oldest: a group commit writes apply_progress only on the
 *     shards that had changes, so a shard that got none keeps an old commit
 *     time without lagging behind;
 *   the lock: held when pg_locks on shard 0 shows the plan's advisory lock
 *     granted now; runs.holder_* name the last apply that took it, which may
 *     be gone, or may not be the holder now (verify and cleanup take the lock
 *     without recording themselves: their session started after holder_since);
 *   the last error: the most recent non-null last_error in the step journal;
 *   copy bytes: COPY bytes written (chunks_done.bytes) against the tables'
 *     size on the sources (pg_table_size; COPY text is usually smaller);
 *   retained WAL, per source: the slot's restart_lsn behind the current LSN.
 */
#ifndef PGR_STATUS_H
#define PGR_STATUS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "conn.h"
#include "plan.h"
#include "strbuf.h"

#define STATUS_JSON_FORMAT_VERSION 1

typedef struct copy_prog {
	int			chunks_done, chunks_total;
	long long	rows_copied, rows_estimated;
	long long	bytes_copied;		/* COPY bytes written, summed over the shards */
	long long	bytes_estimated;	/* pg_table_size on the sources (times the shards
									 * for a replicated table) */
} copy_prog;

typedef struct source_lag {
	char	   *error;			/* why the lag is unknown, or NULL */
	char		current[24], confirmed[24];	/* LSNs, "" when unknown */
	long long	lag_bytes;		/* -1: unknown */
	char		lag_pretty[32];	/* the same, pg_size_pretty'd */
	double		lag_seconds;	/* < 0: unknown */
	uint64_t	applied;		/* newest apply_progress LSN over the shards, 0: none */
	double		applied_epoch;	/* its source commit time (epoch seconds), < 0: none */
	char		applied_at[32];	/* the same in ISO 8601 */
	long long	retained_bytes;	/* WAL the slot holds back: current LSN minus
								 * restart_lsn; -1: unknown */
	char		retained_pretty[32];	/* the same, pg_size_pretty'd */
	char		wal_status[16];	/* pg_replication_slots.wal_status, "" unknown */
	long long	safe_wal_bytes;	/* WAL the slot may still hold before max_slot_wal_keep_size
								 * invalidates it; -1: no limit or unknown */
	bool		reachable;		/* the source answered (its slot may still be gone) */
} source_lag;

/* Reverse replication after the cutover, per shard (status_reverse.c):
 * bytes = the shard's pg_current_wal_lsn() minus the reverse slot's
 * confirmed_flush_lsn (every source applied); retained = minus restart_lsn. */
typedef struct reverse_lag {
	bool		reachable;
	bool		has_slot;
	long long	lag_bytes;		/* -1: unknown */
	long long	retained_bytes;	/* -1: unknown */
	char		lag_pretty[32], retained_pretty[32];
} reverse_lag;

/* A chunk of the chunk plan, and on how many shards it is done. */
typedef struct chunk_key {
	int			source, table, chunk, nshards;
} chunk_key;

typedef struct status_report {
	const plan *p;
	pgr_conn   *state;			/* shard 0 */
	bool		applied;		/* a run of this plan exists */
	PGresult   *lock;			/* last holder host, pid, since; held now (t/f); the
								 * holding backend's pid; whether the holder is the
								 * recorded one (t/f); the saved plan's id that
								 * started the run, or NULL */
	PGresult   *steps;			/* step, state, started, finished, attempts, last_error,
								 * seconds; most recent first */
	PGresult   *cutover;		/* the last attempt: attempt, outcome, freeze_ms,
								 * fence_lsn, reason, started, finished */
	PGresult   *verify;			/* table_index, shard, source_rows, shard_rows,
								 * differences, verified_at */
	PGresult   *violations;		/* table, key, reason, step, seen_at, total count;
								 * the first 20 rows the validate hook rejected */
	PGresult   *keepers;		/* source, keeper_pid, host, snapshot_lsn, seconds left:
								 * the copy's snapshots kept for a rerun, or NULL */
	chunk_key  *chunks;			/* the chunk plan, sorted */
	int			nchunks;
	copy_prog  *copy;			/* [ntables] */
	source_lag *lag;			/* [nsources] */
	char		reverse_state[16];	/* runs.reverse_state ("" when NULL) */
	char		reverse_request[16];	/* runs.reverse_request ("" when NULL) */
	reverse_lag *rev;			/* [nshards], or NULL before the cutover or without reverse */
	PGresult   *rollback;		/* the last rollback attempt: attempt, outcome, freeze_ms,
								 * fence_lsn, reason, started, finished */
	json_t	   *errors;			/* strings: shards that could not be read */
	bool		sizes_unknown;	/* a source's table sizes could not be read */
} status_report;

/* Fill the report (cmd_status.c); false only when shard 0 (the state) cannot be read. */
bool status_gather(status_report *st);
void status_free(status_report *st);
/* A cell as a C string, NULL for SQL NULL (or no such row). */
const char *status_cell(const PGresult *r, int row, int col);
/* The journal row (st->steps) of a step, or -1 (pending, never started). */
int status_step_row(const PGresult *steps, const char *name);

/* status_reverse.c: reverse replication's state, lag and retained WAL per
 * shard, and the last rollback; gather never fails the report (what it
 * cannot read stays unknown). */
void status_reverse_gather(status_report *st);
void status_reverse_text(FILE *out, const status_report *st);
json_t *status_reverse_json(const status_report *st);
void status_reverse_free(status_report *st);

/* The report in Prometheus' text exposition format (status_prometheus.c). */
bool render_prometheus(FILE *out, const status_report *st);
/* Append v as an exposition-format label value (\\, \" and \n escaped) to sb. */
void prom_label_value(strbuf *sb, const char *v);

#endif
