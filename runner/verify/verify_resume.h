/*
 * verify_resume.h — a verify killed halfway continues where it stopped.
 *
 * An exact verify (verify.h) records each chunk of each table (a table not
 * split into key ranges is one chunk, verify_chunks.h) as soon as it is
 * compared, in pgreshard.verify_chunks on shard 0 (see state.sql for why a
 * chunk compared at LSN L stays valid when the next ones are compared at a
 * newer L').  The next exact verify skips the chunks found there and reports
 * their recorded counts; a verify that finishes replaces verify_results with
 * the whole result and clears the progress in the same transaction.
 */
#ifndef PGR_VERIFY_RESUME_H
#define PGR_VERIFY_RESUME_H

#include <stdbool.h>
#include <stdint.h>

#include "verify.h"
#include "verify_chunks.h"

/* Chunks an interrupted verify finished: done[t][c] set (done[t] has
 * vc[t].n entries), their counts added to out->tables[t] (its arrays
 * allocated) and their differences to out->chunk_diffs. */
bool verify_progress_load(apply_ctx *ctx, const verify_chunks *vc, bool **done, verify_result *out);
/* Record chunk c of table t as compared at lsn, with its counts cr. */
bool verify_progress_add(apply_ctx *ctx, int t, int c, const verify_table_result *cr, uint64_t lsn);
/* Forget what an interrupted verify finished: table t, or every table (t < 0). */
bool verify_progress_clear(pgr_conn *state, const plan *p, int t);
/* Note n differences of chunk c of table t on shard s in out->chunk_diffs. */
void verify_chunk_diff_add(verify_result *out, int t, int c, int s, int n);

#endif
