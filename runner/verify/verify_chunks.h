/*
 * verify_chunks.h — the units verify compares and repair re-copies: the
 * copy's own key-range chunks (issue 16).
 *
 * A table the copy split into key ranges (pgreshard.chunk_plan, chunk_by
 * 'key') is compared chunk by chunk with source 0's bounds: the ranges
 * partition the key space, so they split every side's rows (every source's,
 * every shard's, including rows a shard holds by mistake) the same way, and
 * a chunk of a single-source plan is exactly one chunk of the copy, which
 * repair can re-copy alone.  Any other table (one chunk, block ranges, no
 * chunk plan yet) is one unit, "chunk 0", the whole table.
 */
#ifndef PGR_VERIFY_CHUNKS_H
#define PGR_VERIFY_CHUNKS_H

#include <stdbool.h>

#include "apply.h"

typedef struct verify_chunks {
	int			n;				/* units; 1: the whole table */
	bool		split;			/* key ranges of the copy's chunk plan */
	char	  **where;			/* [n] the chunk's condition (NULL: every row) */
} verify_chunks;

/* The units of every table of the plan, out[ntables]; conditions quoted
 * for c (any server of the plan: they speak the same SQL). */
bool verify_chunks_load(apply_ctx *ctx, pgr_conn *c, verify_chunks **out);
void verify_chunks_free(verify_chunks *vc, int ntables);

#endif
