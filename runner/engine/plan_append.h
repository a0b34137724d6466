/*
 * plan_append.h — tables appended to a plan while its move is under way.
 *
 * A deploy may add a table to the publication during a move; the stream
 * then stops at the table's first change and says to add the table to the
 * plan (runner/stream/stream_apply.c).  The operator appends it at the end
 * of the plan's tables and reruns apply; plan_shape.h accepts exactly that
 * change, and this takes the tables in without redoing anything else:
 *
 *  1. one transaction on shard 0 records the new tables' shape
 *     (pgreshard.plan_tables, at positions after the recorded ones, so every
 *     state row keyed by table position keeps its meaning), stores their DDL
 *     as a supplement to the schema script (schema_add_tables), and puts the
 *     steps schema-pre, copy, schema-post and verify back to pending;
 *  2. the engine then runs those steps as usual: schema-pre and schema-post
 *     apply only the statements not done on a shard (the supplement), the
 *     copy plans chunks for the tables that have none and copies only chunks
 *     not done (the new tables'), under a fresh snapshot;
 *  3. those chunks record that snapshot's LSN, newer than the slot's: the
 *     stream skips each change to their rows committed before it (the copy
 *     has it) and applies every later one (DESIGN.md invariant 4,
 *     runner/stream/chunk_member.c), as for a repair.
 *
 * Nothing the stream skipped is lost: it stopped at the new table's first
 * change without confirming it, so every change to the table from there on
 * is streamed again and either is in the copy or is applied after it; and
 * what the table held before (its rows from before it was published, or
 * changes skipped while it was out of the publication) is in the copy,
 * whose snapshot is taken after all of it.  A crash anywhere leaves either
 * nothing recorded (the next apply starts over) or the steps pending (the
 * next apply finishes them).  After the cutover a table can no longer join.
 */
#ifndef PGR_PLAN_APPEND_H
#define PGR_PLAN_APPEND_H

#include <stdbool.h>

#include "apply.h"

/* Take the plan's tables from position first_new on into the move (1.
 * above); ctx holds the plan's lock and the preflight's catalog. */
bool plan_append_tables(apply_ctx *ctx, int first_new);

#endif
