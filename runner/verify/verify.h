/*
 * verify.h — shard-aware comparison of the source and the shards.
 *
 * For every moved table, each side computes inside the server, in one scan,
 * a count and a sum of row hashes per (destination shard, bucket), where the
 * shard is computed with PostgreSQL's own satisfies_hash_partition() (the
 * same placement pgreshard uses) and the bucket is a hash of the row's key.
 * Each shard is compared only with its own subset of the source; rows a
 * shard holds that belong elsewhere are counted as misplaced.  Buckets that
 * differ are drilled into, row by row, to name the keys that are missing,
 * extra, different or on the wrong shard (up to a limit).
 */
#ifndef PGR_VERIFY_H
#define PGR_VERIFY_H

#include <stdbool.h>
#include <stdio.h>

#include "apply.h"

#define VERIFY_BUCKETS 64
#define VERIFY_MAX_KEYS 100

typedef enum diff_kind {
	DIFF_MISSING = 0,			/* on the source, not on its shard */
	DIFF_EXTRA,					/* on the shard, not on the source */
	DIFF_DIFFERENT,				/* on both, with different contents */
	DIFF_MISPLACED				/* on a shard it does not belong to */
} diff_kind;

typedef struct verify_diff {
	int			table;
	int			shard;
	diff_kind	kind;
	char	   *key;			/* the row's key (or the row) as text */
	int			chunk;			/* its chunk (verify_chunks.h), 0 when not split */
	int			nchunks;		/* the table's chunks; 1: not split */
} verify_diff;

/* A chunk that differs on a shard (exact verify): what repair re-copies. */
typedef struct verify_chunk_diff {
	int			table;
	int			chunk;
	int			shard;
	int			differences;
} verify_chunk_diff;

typedef struct verify_table_result {
	long long	source_rows;
	long long  *shard_rows;		/* [nshards] rows the shard should have (source subset) */
	long long  *found_rows;		/* [nshards] rows the shard has */
	int			differences;	/* differing rows found (may exceed the keys kept) */
	int		   *shard_differences;	/* [nshards]: the same, per shard */
} verify_table_result;

typedef struct verify_result {
	int			ntables;
	verify_table_result *tables;
	int			ndiffs;			/* keys kept (<= VERIFY_MAX_KEYS) */
	verify_diff *diffs;
	int			total_differences;
	double		seconds;
	int			nchunk_diffs;	/* differing (table, chunk, shard), every one */
	verify_chunk_diff *chunk_diffs;
	int		   *nchunks;		/* [ntables] units compared (1: the whole table) */
} verify_result;

/*
 * Compare every moved table.
 *
 * exact (the caller holds the plan's lock, so no other apply streams): each
 * source's side is read under a snapshot exported by a temporary slot at LSN
 * L, and the shards are first brought to exactly L (every transaction
 * committed before L applied, none after), so the comparison is exact while
 * the application keeps writing.
 * Exact, a table the copy split into key ranges is compared chunk by chunk,
 * each recorded as done (verify_resume.h) and differences named by chunk.
 * Otherwise, between rounds `between` (may be NULL) is called to let the
 * shards catch up, and differing tables are re-checked up to `rounds` times.
 * False only when the comparison itself failed (reported).
 */
bool verify_run(apply_ctx *ctx, bool exact, int rounds, bool (*between)(apply_ctx *ctx),
				verify_result *out);
void verify_result_free(verify_result *r);
const char *diff_kind_name(diff_kind k);
/* Keep the result in pgreshard.verify_results (replacing the last one) and
 * end an interrupted verify's progress, in one transaction (cmd_verify.c). */
bool verify_store_results(apply_ctx *ctx, const verify_result *r);
/* Log the first differences and their count as errors. */
void verify_log_differences(const apply_ctx *ctx, const verify_result *r);

#endif
