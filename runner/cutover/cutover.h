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
/* Commit the transactions the hook left open (a successful freeze ends). */
bool hook_conns_commit(hook_conns *conns);

typedef struct freeze_session {
	int			source;			/* the source it freezes */
	pgr_conn   *conn;			/* holds the locks (freeze: lock) */
	bool		frozen;
	uint64_t	fence;			/* WAL position read after the freeze */
	hook_conns *hook;			/* freeze: hook: the on_freeze hook's connections (source 0) */
} freeze_session;

bool freeze_source(apply_ctx *ctx, freeze_session *fs, int source);
bool freeze_install_guard(apply_ctx *ctx, freeze_session *fs, int source, pgr_conn *via);
bool freeze_end(apply_ctx *ctx, freeze_session *fs, bool success);
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

#endif
