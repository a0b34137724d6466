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
 */
#ifndef PGR_PLAN_SHAPE_H
#define PGR_PLAN_SHAPE_H

#include <stdbool.h>

#include "conn.h"
#include "plan.h"

/* Record the shape (first apply) or check it against the recorded one;
 * false (reported, every difference listed) when they differ.  c is shard
 * 0's state connection, holding the plan's lock. */
bool plan_shape_check(pgr_conn *c, const plan *p);

#endif
