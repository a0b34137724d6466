/*
 * step_copy.c — step 4: copy every table under the snapshot, routing rows.
 *
 * Builds the per-table copy descriptions, loads the chunk plan and what is
 * already done, makes sure each source has a snapshot (the slot's, or a new
 * one from a temporary slot on a rerun), and runs copy.jobs workers until
 * every chunk is on every shard.  A table rewritten on the source after the
 * snapshot stops the workers (copy_rewrite.c): the chunks still missing are
 * then copied under a new snapshot, as a rerun would.  See copy.h for the
 * chunk protocol.
 */
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "copy.h"
#include "state.h"
#include "log.h"
#include "snapshot_keeper.h"
#include "wal_guard.h"
#include "xalloc.h"

/*
 * Wait for the workers, checking every WAL_GUARD_INTERVAL_S that no source's
 * slot holds more WAL than it may (wal_guard.h); when one does, the workers
 * stop after their current chunk and the copy fails with the guard's
 * message.  Chunks already done stay done.
 */
static bool
watch_workers(copy_run *run, pthread_t *threads, int n)
{
	const plan *p = run->ctx->plan;
	bool		ok = true, guard_ok = true;
	int			left = n;
	bool	   *joined = xcalloc((size_t) n + 1, sizeof(bool));
	double		next_check = mono_seconds() + WAL_GUARD_INTERVAL_S;

	while (left > 0)
	{
		for (int i = 0; i < n; i++)
		{
			void	   *rv = NULL;

			if (!joined[i] && pthread_tryjoin_np(threads[i], &rv) == 0)
			{
				joined[i] = true;
				left--;
				ok = ok && rv == NULL;
			}
		}
		if (left > 0 && guard_ok && mono_seconds() >= next_check)
		{
			for (int s = 0; guard_ok && s < p->nsources; s++)
				guard_ok = wal_guard_check(run->ctx, s);
			if (!guard_ok)
				atomic_store(&run->abort, true);
			next_check = mono_seconds() + WAL_GUARD_INTERVAL_S;
		}
		if (left > 0)
			keeper_renew(run->ctx);
		if (left > 0)
			mono_sleep(0.05);
	}
	free(joined);
	return ok && guard_ok;
}

bool
copy_run_workers(copy_run *run)
{
	int			n = run->ctx->plan->copy_jobs;
	pthread_t  *threads;
	progress   *pr;
	bool		ok = true;

	if (n > run->nwork)
		n = run->nwork;
	threads = xcalloc((size_t) n, sizeof(pthread_t));
	pr = progress_start(run);
	for (int i = 0; i < n; i++)
		if (pthread_create(&threads[i], NULL, copy_worker_main, run) != 0)
		{
			log_error("copy: cannot start worker thread %d", i);
			atomic_store(&run->abort, true);
			n = i;
			ok = false;
		}
	ok = watch_workers(run, threads, n) && ok;
	progress_stop(pr);
	free(threads);
	return ok;
}

static void
log_summary(const copy_run *run)
{
	long long	rows = 0, bytes = 0;

	for (int i = 0; i < run->ctx->plan->ntables; i++)
	{
		rows += run->tables[i].rows_done;
		bytes += run->tables[i].bytes_done;
	}
	log_info("copy: %lld rows (%lld bytes) copied to %d shard(s); %lld of the rows read from the source by this run",
			 rows, bytes, run->ctx->plan->nshards, (long long) run->rows_read);
	if (run->violations > 0)
		log_warn("copy: the validate hook rejected %lld row(s); with validate_mode: report they "
				 "were copied anyway; the first %d are kept in pgreshard.violations (see "
				 "`pgreshard status`)", (long long) run->violations, VIOLATIONS_KEPT);
}

/* One pass over the chunks still missing.  text[t]: table t goes in text
 * format (rewritten in an earlier pass); *again: the pass stopped because a
 * table was rewritten since the snapshot (set in text[]). */
static bool
copy_missing(apply_ctx *ctx, bool *text, bool *again, bool *reload)
{
	copy_run	run = {0};
	const char *delay = getenv("PGRESHARD_TEST_CHUNK_DELAY_MS");
	bool		ok;

	*again = *reload = false;
	run.ctx = ctx;
	run.chunk_delay_ms = delay ? atoi(delay) : 0;
	pthread_mutex_init(&run.lock, NULL);
	ok = copy_tables_build(ctx, &run.tables);
	/* before the chunks and their shared scans are planned: a scan of a
	 * binary table may place its rows itself (copy_bucket.c) */
	for (int i = 0; ok && i < ctx->plan->ntables; i++)
		run.tables[i].binary = run.tables[i].binary && !text[i];
	ok = ok && copy_jobs_load(&run);
	if (ok && run.njobs == 0)
		log_info("copy: every chunk is already on every shard");
	/* a run that finds nothing left ends the keepers an earlier one left */
	if (ok && run.njobs == 0)
		ok = keeper_release(ctx);
	else if (ok)
	{
		int			nbin = 0;

		for (int i = 0; i < ctx->plan->ntables; i++)
			nbin += run.tables[i].binary;
		log_info("copy: %d chunk(s) to copy with %d job(s); %d of %d table(s) in binary format",
				 run.njobs, ctx->plan->copy_jobs, nbin, ctx->plan->ntables);
		/* the snapshot a keeper still holds for this copy, else the slot's or a new one */
		for (int s = 0; ok && s < ctx->plan->nsources; s++)
			ok = keeper_adopt(ctx, s) && source_snapshot(ctx, s);
		/* tables whose key is scattered over the heap: shared scans, continued
		 * where a run under the same snapshot stopped */
		ok = ok && copy_groups_build(&run, true);
		*reload = ok && run.reload;
		for (int s = 0; ok && !*reload && s < ctx->plan->nsources; s++)
		{
			bool		scans = false;

			for (int g = 0; g < run.ngroups; g++)
				scans = scans || run.groups[g]->jobs[0]->source == s;
			ok = !scans || keeper_start(ctx, s);
		}
		ok = ok && (*reload || (copy_partitions_sync(ctx) && copy_run_workers(&run)));
		if (ok && !*reload)
			log_summary(&run);
		*again = !ok && atomic_load(&run.rewritten);
		for (int i = 0; i < ctx->plan->ntables; i++)
			if (atomic_load(&run.tables[i].rewritten))
			{
				if (!text[i])
					copy_rewrite_check_types(ctx, run.tables[i].display, run.tables[i].qname);
				text[i] = true;
			}
	}
	copy_groups_free(&run);
	for (int j = 0; j < run.njobs; j++)
		copy_job_free(&run.jobs[j]);
	free(run.jobs);
	copy_tables_free(run.tables, ctx->plan->ntables);
	pthread_mutex_destroy(&run.lock);
	return ok;
}

/*
 * A table rewritten on the source after the snapshot stops the pass
 * (copy_rewrite.c); the chunks committed so far stay, and the others are
 * copied under a new snapshot, as a rerun would.  A table rewritten over
 * and over (a migration in a loop) fails after COPY_REWRITE_TRIES.
 */
#define COPY_REWRITE_TRIES 5

bool
step_copy(apply_ctx *ctx)
{
	bool	   *text = xcalloc((size_t) ctx->plan->ntables + 1, sizeof(bool));
	bool		ok = false, again = true, reload = false;

	for (int attempt = 1; again && attempt <= COPY_REWRITE_TRIES; attempt++)
	{
		if (attempt > 1)
		{
			log_info("copy: taking a new snapshot (attempt %d of %d)", attempt, COPY_REWRITE_TRIES);
			if (!keeper_release(ctx))
			{
				again = false;	/* reported: not a rewrite */
				break;
			}
			source_sessions_close(ctx);
		}
		/* a table of several sources emptied on a shard: its chunks read again (once) */
		ok = copy_missing(ctx, text, &again, &reload) && (!reload || copy_missing(ctx, text, &again, &reload));
	}
	/* done: the snapshot is not needed any more (a failed copy keeps it for the rerun) */
	if (ok)
		ok = keeper_release(ctx);
	if (!ok && again)
		log_error("copy: tables were rewritten on the source during each of %d snapshots; run apply "
				  "again once the schema change is done", COPY_REWRITE_TRIES);
	free(text);
	return ok;
}
