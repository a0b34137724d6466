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

/* Set every moved sequence on every shard to the source's value + gap. */
bool cutover_sequences(apply_ctx *ctx, freeze_session *fs);

#endif
