/*
 * cutover.h — the fenced cutover (DESIGN.md invariant 9): freeze writes on
 * every source, read the fence LSN, drain the stream exactly to it, move the
 * sequences ahead, optionally verify, switch, and leave the sources
 * read-only — or, on any failure or timeout, unfreeze and say why.
 */
#ifndef PGR_CUTOVER_H
#define PGR_CUTOVER_H

#include <stdbool.h>
#include <stdint.h>

#include "apply.h"

/*
 * Run the cutover hook fn (on_freeze, on_unfreeze, switch) with its context;
 * exec_source/exec_shard use the connections in *conns (opened on demand,
 * kept until hook_conns_close, so a hook may hold a transaction open across
 * the freeze).  False after reporting the hook's error.
 */
typedef struct hook_conns hook_conns;
bool run_ctx_hook(apply_ctx *ctx, hook_conns **conns, const char *fn, const char *what,
				  uint64_t fence);
void hook_conns_close(hook_conns *conns);
/* The hook's connection to a source when it has a transaction open, else NULL. */
pgr_conn *hook_conns_open_txn(hook_conns *conns, int source);
/* The same on a shard (a rollback's freeze hook stops writes there). */
pgr_conn *hook_conns_open_shard_txn(hook_conns *conns, int shard);
/* Commit the transactions the hook left open (a successful freeze ends). */
bool hook_conns_commit(hook_conns *conns);

typedef struct freeze_session {
	int			source;			/* the source (or, in a rollback, the shard) it freezes */
	const char *dsn;			/* that server's */
	const char *role;
	pgr_conn   *conn;			/* holds the locks (freeze: lock) */
	bool		frozen;
	uint64_t	fence;			/* WAL position read after the freeze */
	hook_conns *hook;			/* freeze: hook: the on_freeze hook's connections (source 0) */
} freeze_session;

bool freeze_source(apply_ctx *ctx, freeze_session *fs, int source);
/* The same for any server: the sources at the cutover, the shards at a
 * rollback (first: the hook freeze runs on_freeze once, for the first). */
bool freeze_server(apply_ctx *ctx, freeze_session *fs, int index, const char *dsn,
				   const char *role);
bool freeze_install_guard(apply_ctx *ctx, freeze_session *fs, int source, pgr_conn *via);
bool freeze_end(apply_ctx *ctx, freeze_session *fs, bool success);
/* Drop the write guard's triggers on the moved tables of c's database
 * (and, read_only_too, the read-only default freeze: read_only left). */
bool freeze_remove_guard(apply_ctx *ctx, pgr_conn *c, bool read_only_too);
/* Undo the freeze of an attempt interrupted by a crash (read-only outlives it). */
bool freeze_recover(apply_ctx *ctx);

/* Move every moved sequence on every shard past the source's value + gap,
 * each shard on values no other shard hands out (cutover_seq.c). */
bool cutover_sequences(apply_ctx *ctx, freeze_session *fs);
/* Shard s of nshards restarts at *restart and counts by *step: it hands out
 * last + gap + (s + 1 + k * nshards) * increment (gap taken in the
 * increment's direction).  False when that leaves the bigint range. */
bool cutover_sequence_layout(long long last, long long increment, long long gap, int s,
							 int nshards, long long *restart, long long *step);

/* An attempt recorded in table (pgreshard.cutovers, pgreshard.rollbacks):
 * begin returns its number (-1 after an error), end records the outcome. */
int freeze_attempt_begin(apply_ctx *ctx, const char *table);
bool freeze_attempt_end(apply_ctx *ctx, const char *table, int attempt, bool ok, long long freeze_ms,
						uint64_t fence, const char *reason);
/* Still before the freeze's deadline?  Else says what it passed (false). */
bool freeze_within(apply_ctx *ctx, double deadline, const char *what);
/* cutover.verify: compare while frozen; false (reported) on a difference. */
bool freeze_verify(apply_ctx *ctx, double deadline);

/* cutover.switch (Lua) and cutover.switch_command, run while frozen after
 * the drain; PGRESHARD_DIRECTION=forward|rollback (step_cutover.c). */
bool cutover_run_switch(apply_ctx *ctx, uint64_t fence);

/* reverse.c: reverse replication after the cutover */
/* Before the cutover's freeze: the reverse publication on every shard, the
 * progress and owner tables on every source.  Inside it: the reverse slot on
 * every shard. */
bool reverse_prepare(apply_ctx *ctx);
bool reverse_slots(apply_ctx *ctx);
/* Is it set up (the reverse slot in the ledger, not dropped)? */
bool reverse_exists(apply_ctx *ctx, bool *exists);
/* pgreshard.runs.reverse_request and reverse_state ("" when NULL). */
bool reverse_read(apply_ctx *ctx, char *request, size_t reqlen, char *state, size_t statelen);
/* Set one of those columns (value NULL: clear it). */
bool reverse_set(apply_ctx *ctx, const char *column, const char *value);
/* Every shard's reverse stream at once: caught up (fences NULL) or drained
 * to fences[s] before the deadline (a rollback). */
struct stream_dir;
bool reverse_drain_all(apply_ctx *ctx, const struct stream_dir *dir, const uint64_t *fences,
					   double deadline);
/* Stream the shards back until a request: *outcome 'f' (finish: requested,
 * or cutover.reverse_max_retained passed) or 'r' (rollback requested). */
bool reverse_stream_until_request(apply_ctx *ctx, char *outcome);
/* reverse_clock.c: the row clock tables on every source, made where missing
 * (called wherever the reverse streams start). */
bool reverse_clocks_ensure(apply_ctx *ctx);
/* Delete the clock rows older than every shard's applied commits (less a
 * minute): they can no longer refuse anything. */
bool reverse_clocks_prune(apply_ctx *ctx);

/* rollback.c: the fenced switch back to the sources; true when the sources
 * serve again (reverse_state 'rolled_back'), false after reporting why (the
 * shards unfrozen).  Needs the plan's lock, ctx->cat and ctx->state. */
bool rollback_run(apply_ctx *ctx);

/* cutover_seq.c: move every moved sequence on the sources past the furthest
 * value any shard handed out, plus the gap (a rollback, shards frozen). */
bool rollback_sequences(apply_ctx *ctx, freeze_session *shard_fs);

#endif
