/*
 * plan_shape.h — a plan file edited in the middle of a move must not be
 * applied as if nothing happened.
 *
 * The state keys everything by table position and shard number (chunk
 * plan, chunks done, DDL script, apply progress).  A plan whose tables were
 * reordered, removed, added or re-keyed, or whose sources or shards changed
 * in number, would resume against state that means something else: rows
 * routed by another rule, chunks credited to the wrong table.  So the first
 * apply records the plan's shape on shard 0, and every later apply compares
 * and refuses a different one, saying what changed and what to do.
 *
 * One change is taken: tables appended at the end of the plan's tables,
 * the others unchanged in order, key and routing.  Appended tables get
 * new positions after the recorded ones, so every existing state row keeps
 * its meaning; plan_append.h takes them into the move.
 */
#ifndef PGR_PLAN_SHAPE_H
#define PGR_PLAN_SHAPE_H

#include <stdbool.h>

#include "conn.h"
#include "plan.h"

/* Record the shape (first apply) or check it against the recorded one;
 * false (reported, every difference listed) when they differ.  c is shard
 * 0's state connection, holding the plan's lock.  *nrecorded: how many of
 * the plan's tables the move already has (p->ntables unless some were
 * appended; those are not recorded here). */
bool plan_shape_check(pgr_conn *c, const plan *p, int *nrecorded);

/* Record the plan's tables from position `from` on (in the caller's
 * transaction, when it has one). */
bool plan_shape_record(pgr_conn *c, const plan *p, int from);

#endif
