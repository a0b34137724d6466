/*
 * chunking.h — how a table is cut into copy chunks, shared by the planner
 * (which warns when a copy would read a table too many times) and the runner
 * (which makes the chunk plan and reads it: runner/copy/copy_chunks.c,
 * copy_group.c).
 */
#ifndef PGR_CHUNKING_H
#define PGR_CHUNKING_H

#include <stdbool.h>

/*
 * The chunk key of table $1 (a regclass): the unique NOT NULL key without
 * expressions, predicate or generated columns -- the replica identity's
 * index first, else the primary key, else the one with the fewest columns.
 * A CTE "k" of one row (indkey, indnkeyatts), for a query to go on with.
 */
#define CHUNK_KEY_INDEX_CTE \
	"WITH k AS (SELECT i.indkey, i.indnkeyatts FROM pg_index i " \
	"  WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indisvalid " \
	"    AND i.indpred IS NULL AND i.indexprs IS NULL AND NOT EXISTS (" \
	"      SELECT FROM pg_attribute a WHERE a.attrelid = i.indrelid " \
	"        AND a.attnum = ANY (i.indkey[0:i.indnkeyatts - 1]) " \
	"        AND (NOT a.attnotnull OR a.attgenerated <> '')) " \
	"  ORDER BY i.indisreplident DESC, i.indisprimary DESC, i.indnkeyatts, i.indexrelid LIMIT 1) "

/* A key whose first column's |pg_stats.correlation| is below this is
 * scattered over the heap: its chunks are read by shared scans. */
#define CHUNK_SCATTERED_CORRELATION 0.5

/*
 * How many chunks a relation of est rows gets: about chunk_rows each; more
 * than jobs of them, a multiple of jobs, the nearest, so no worker idles
 * through a last round of one chunk, and a scattered key's shared scans
 * (jobs chunks a pass) read no extra pass over the whole table for it (9
 * chunks with 4 jobs were 3 passes; 8 are 2).  Chunks then stay within 0.67
 * and 1.5 times chunk_rows.
 */
long long	chunk_count(double est, long long chunk_rows, int jobs);

/* A shared scan's group holds at most this many chunks: what it keeps per
 * chunk (counts per worker and shard, bounds, progress arrays) stays small
 * whatever copy.chunk_rows is. */
#define CHUNK_GROUP_MAX 1024

/*
 * The chunks a shared scan reads in one pass over a table whose key is
 * scattered over its heap, nchunks of them in a row holding about bytes:
 * as many as keep the passes few -- each pass reads every block of the
 * table, whatever its chunks -- while a pass's chunks hold about pass_size
 * bytes at most (copy.scan_pass_size: over it by less than a chunk; 0: no
 * size, passes of jobs chunks within max_passes), but never more than
 * max_passes passes (copy.scan_passes), never more than CHUNK_GROUP_MAX
 * chunks (which may take more passes), and never fewer than jobs chunks
 * (one block range per worker).  The passes split the chunks evenly, to a
 * chunk.  Every chunk of a pass is recorded done together, once
 * all of its rounds are committed: a crash that ends the copy's snapshot
 * loses the passes in flight, so pass_size bounds what such a crash costs,
 * and max_passes what a huge table's reads cost.
 */
long long	chunk_group_size(long long nchunks, int jobs, long long max_passes, double bytes, long long pass_size);

/*
 * How many times the copy reads such a table: shared (shared scans: groups
 * of chunk_group_size chunks, one pass each), else each chunk read alone
 * visits nearly every block.
 */
long long	chunk_scattered_passes(long long nchunks, int jobs, long long max_passes, double bytes,
								   long long pass_size, bool shared);

/*
 * How many rounds a slice of a shared scan (a worker's range of
 * slice_blocks blocks of the table, for a group holding share of the
 * table's rows) reads, committing after each: a kill -9 loses the round in
 * flight of every slice, so a slice has CHUNK_SCAN_MIN_ROUNDS rounds at
 * least (a kill loses at most about 1/8 of a pass, whatever the workers)
 * where each round still sends CHUNK_SCAN_ROUND_MIN_BLOCKS (4 MiB) of rows
 * -- each round is a COPY on every shard, about 2 ms of a PostgreSQL 15
 * shard's CPU to start and end -- and rounds of CHUNK_SCAN_ROUND_BLOCKS (32
 * MiB) at most, so a huge table's kill loses 32 MiB per worker; never more
 * than CHUNK_SCAN_MAX_ROUNDS rounds.  per > 0: rounds of per blocks
 * instead.
 */
#define CHUNK_SCAN_ROUND_BLOCKS 4096
#define CHUNK_SCAN_ROUND_MIN_BLOCKS 512
#define CHUNK_SCAN_MIN_ROUNDS 8
#define CHUNK_SCAN_MAX_ROUNDS 1024
int			chunk_scan_rounds(long long slice_blocks, double share, long long per);

#endif
