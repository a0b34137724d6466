/*
 * durable.h — "on disk on every shard" before anything is recorded as done
 * (DESIGN.md invariant 3).
 *
 * Shards may run with synchronous_commit = off (server, database or role
 * setting): a commit is then acknowledged before its WAL is flushed, and a
 * crash of the shard loses it.  The copy commits its chunks that way on
 * purpose (a lost chunk loses its chunks_done row with it, so a rerun copies
 * it again), but the journal on shard 0 must never say "copy done" while a
 * chunk is still only in a shard's memory, and the slot must never be
 * confirmed past a change a shard could still lose.
 *
 * The barrier: one tiny transaction that writes WAL (so its COMMIT is
 * flushed) committed with synchronous_commit = local.
 * Its commit flushes the shard's WAL up to its own commit record, and so
 * every commit acknowledged on that server before it began, whichever
 * session made it: WAL is flushed in order.
 */
#ifndef PGR_DURABLE_H
#define PGR_DURABLE_H

#include <stdbool.h>

#include "conn.h"
#include "plan.h"

/* Flush the WAL of the server behind c (no transaction open on c). */
bool durable_flush(pgr_conn *c);

/* The same on every shard of the plan, over new connections. */
bool durable_flush_shards(const plan *p);

#endif
