/*
 * verify_resume.h — a verify killed halfway continues where it stopped.
 *
 * An exact verify (verify.h) records each table as soon as it is compared,
 * in pgreshard.verify_progress on shard 0 (see state.sql for why a table
 * compared at LSN L stays valid when the next tables are compared at a newer
 * L').  The next exact verify skips the tables found there and reports their
 * recorded counts; a verify that finishes replaces verify_results with the
 * whole result and clears the progress in the same transaction.
 */
#ifndef PGR_VERIFY_RESUME_H
#define PGR_VERIFY_RESUME_H

#include <stdbool.h>
#include <stdint.h>

#include "verify.h"

/* Tables an interrupted verify finished: done[t] set and out->tables[t]
 * filled from the record (out->tables already allocated). */
bool verify_progress_load(apply_ctx *ctx, bool *done, verify_result *out);
/* Record table t as compared at lsn, with its result. */
bool verify_progress_add(apply_ctx *ctx, int t, const verify_table_result *tr, uint64_t lsn);
/* Forget what an interrupted verify finished: table t, or every table (t < 0). */
bool verify_progress_clear(pgr_conn *state, const plan *p, int t);

#endif
