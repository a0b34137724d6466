/*
 * wal_guard.h — pgreshard's slot never fills the source's disk (DESIGN.md
 * invariant 13).
 *
 * From its creation the slot holds back every WAL segment the stream has
 * not consumed, and during a long copy that is all the WAL the source
 * writes.  The guard reads the slot's retained WAL and wal_status and says
 * stop — keeping the state, so a rerun continues — before the slot passes
 * the plan's source.max_retained_wal, or comes within a tenth of
 * max_slot_wal_keep_size (PostgreSQL would invalidate it, and the move
 * would have to start over), or once the server has marked it unreserved
 * or lost.
 */
#ifndef PGR_WAL_GUARD_H
#define PGR_WAL_GUARD_H

#include <stdbool.h>

#include "apply.h"

/* Seconds between two checks during the copy. */
#define WAL_GUARD_INTERVAL_S 2.0

/*
 * Check the plan's slot on source i.  False (reported, with what to do)
 * when the work must stop; true when the slot may keep holding WAL, or
 * does not exist.
 */
bool wal_guard_check(apply_ctx *ctx, int source);

#endif
