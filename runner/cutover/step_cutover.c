/*
 * step_cutover.c — step 8: the fenced cutover (the finish step, which drops
 * what the ledger lists, is in runner/commands/cleanup.c).
 *
 * cutover: (manual mode: wait for `pgreshard cutover`) refuse shards whose
 * moved tables' schema differs from the source's (schema_check.c); catch the stream up
 * until the lag is at most cutover.max_lag_bytes; freeze writes on every
 * source; read each fence LSN after the freeze; drain every stream exactly
 * to its fence; move the sequences ahead on the shards; verify if asked;
 * (cutover.reverse) create the reverse slots on the shards (reverse.c);
 * run the switch command; leave the sources refusing writes to the moved
 * tables; release.  Anything failing, or the freeze outliving
 * cutover.timeout_s, unfreezes, records why, and fails the step: the slot
 * is untouched, so the stream continues and a later apply tries again.
 * The freeze's duration is kept in pgreshard.cutovers.freeze_ms.
 *
 * finish: drop the slots (and a publication pgreshard created), marking
 * them dropped in the ledger; the state stays as the record of the run.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "cutover.h"
#include "durable.h"
#include "log.h"
#include "state.h"
#include "stream.h"
#include "verify.h"
#include "xalloc.h"

static bool
catch_up_all(apply_ctx *ctx)
{
	for (int i = 0; i < ctx->plan->nsources; i++)
		if (!stream_run_source(ctx, i, true))
			return false;
	return true;
}

static bool
cutover_requested(apply_ctx *ctx, bool *req)
{
	const char *params[1] = {ctx->plan->name};
	PGresult   *res = pgr_query(ctx->state, "reading the cutover request",
								"SELECT cutover_requested FROM pgreshard.runs WHERE plan_name = $1", 1, params);

	if (res == NULL)
		return false;
	*req = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return true;
}

/* One source's stream followed while a manual cutover waits. */
typedef struct follower {
	apply_ctx  *ctx;
	int			source;
	const atomic_bool *stop;
	atomic_bool ended;
	bool		ok;
} follower;

static void *
follower_main(void *arg)
{
	follower   *f = arg;

	f->ok = stream_follow_source(f->ctx, f->source, f->stop);
	atomic_store(&f->ended, true);
	return NULL;
}

/*
 * Manual mode: keep the shards current until someone asks for the cutover.
 * One reader per source follows its stream on one session the whole time
 * (a wait of days costs one replication connection per source, not one a
 * second); the request is read every second.  A reader that ends on its
 * own failed (it reconnects by itself first): the others are stopped.
 */
static bool
wait_for_request(apply_ctx *ctx)
{
	int			n = ctx->plan->nsources;
	atomic_bool stop = false;
	follower   *fs;
	pthread_t  *threads;
	bool	   *started;
	bool		req = false, ok = true, ended = false;

	if (ctx->plan->cutover.mode != CUTOVER_MANUAL)
		return true;
	if (!cutover_requested(ctx, &req))
		return false;
	if (req)
		return true;
	log_info("cutover: manual mode: streaming until `pgreshard cutover %s` is run", ctx->plan->path);
	fs = xcalloc((size_t) n, sizeof(follower));
	threads = xcalloc((size_t) n, sizeof(pthread_t));
	started = xcalloc((size_t) n, sizeof(bool));
	for (int i = 0; i < n && ok; i++)
	{
		fs[i].ctx = ctx;
		fs[i].source = i;
		fs[i].stop = &stop;
		atomic_init(&fs[i].ended, false);
		started[i] = ok = pthread_create(&threads[i], NULL, follower_main, &fs[i]) == 0;
		if (!ok)
			log_error("cutover: cannot start the stream of %s", ctx->sources[i].role);
	}
	while (ok && !req && !ended)
	{
		sleep(1);
		for (int i = 0; i < n; i++)
			ended = ended || atomic_load(&fs[i].ended);
		if (!ended)
			ok = cutover_requested(ctx, &req);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < n; i++)
		if (started[i])
		{
			pthread_join(threads[i], NULL);
			ok = ok && fs[i].ok;
		}
	if (ok && !req)
		log_error("cutover: a source's stream ended while waiting for `pgreshard cutover`");
	free(started);
	free(threads);
	free(fs);
	return ok && req;
}

/* Bytes the slowest source's slot is behind its WAL. */
static bool
source_lag(apply_ctx *ctx, long long *lag)
{
	char	   *slot = slot_name(ctx->plan);
	bool		ok = true;

	*lag = 0;
	for (int i = 0; ok && i < ctx->plan->nsources; i++)
	{
		pgr_conn   *c = pgr_connect(ctx->plan->source_dsns[i], ctx->sources[i].role, 0);
		const char *params[1] = {slot};
		PGresult   *res = c ? pgr_query(c, "measuring the lag",
										"SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), confirmed_flush_lsn)::bigint "
										"FROM pg_replication_slots WHERE slot_name = $1", 1, params) : NULL;

		ok = res != NULL && PQntuples(res) == 1;
		if (res != NULL && PQntuples(res) != 1)
			log_error("%s: replication slot %s does not exist", ctx->sources[i].role, slot);
		if (ok && atoll(PQgetvalue(res, 0, 0)) > *lag)
			*lag = atoll(PQgetvalue(res, 0, 0));
		PQclear(res);
		pgr_disconnect(c);
	}
	free(slot);
	return ok;
}

static bool
wait_for_lag(apply_ctx *ctx)
{
	long long	lag = 0;

	for (int round = 0; round < 30; round++)
	{
		if (!catch_up_all(ctx) || !source_lag(ctx, &lag))
			return false;
		if (lag <= ctx->plan->cutover.max_lag_bytes)
			return true;
		log_info("cutover: lag %lld bytes > max_lag_bytes %lld; catching up", lag,
				 ctx->plan->cutover.max_lag_bytes);
	}
	log_error("cutover: the lag stays above cutover.max_lag_bytes (%lld > %lld); the source writes "
			  "faster than the shards apply", lag, ctx->plan->cutover.max_lag_bytes);
	return false;
}

/* A new attempt in table (pgreshard.cutovers or pgreshard.rollbacks); -1 after an error. */
int
freeze_attempt_begin(apply_ctx *ctx, const char *table)
{
	const char *params[1] = {ctx->plan->name};
	char	   *sql = xasprintf("INSERT INTO %s (plan_name, attempt) SELECT $1, coalesce(max(attempt), 0) + 1 "
								"FROM %s WHERE plan_name = $1 RETURNING attempt", table, table);
	PGresult   *res = pgr_query(ctx->state, "recording the attempt", sql, 1, params);
	int			attempt = res ? atoi(PQgetvalue(res, 0, 0)) : -1;

	PQclear(res);
	free(sql);
	return attempt;
}

bool
freeze_attempt_end(apply_ctx *ctx, const char *table, int attempt, bool ok, long long freeze_ms,
				   uint64_t fence, const char *reason)
{
	char		a[16], ms[32], lsn[32];
	const char *params[6] = {ctx->plan->name, a, ok ? "done" : "aborted", ms,
	fence ? lsn : NULL, ok ? NULL : reason};
	char	   *sql = xasprintf("UPDATE %s SET finished_at = now(), outcome = $3, freeze_ms = $4, "
								"fence_lsn = $5, reason = $6 WHERE plan_name = $1 AND attempt = $2", table);
	bool		done;

	snprintf(a, sizeof(a), "%d", attempt);
	snprintf(ms, sizeof(ms), "%lld", freeze_ms);
	lsn_format(fence, lsn, sizeof(lsn));
	done = pgr_exec(ctx->state, "recording the attempt", sql, 6, params);
	free(sql);
	return done;
}

/* cutover.switch (Lua) and cutover.switch_command, run while frozen, after the drain. */
bool
cutover_run_switch(apply_ctx *ctx, uint64_t fence)
{
	const plan *p = ctx->plan;
	pid_t		pid;
	int			status = 0;

	if (p->cutover.switch_fn != NULL)
	{
		hook_conns *hc = NULL;
		bool		ok = run_ctx_hook(ctx, &hc, p->cutover.switch_fn, "switch", fence);

		hook_conns_close(hc);
		if (!ok)
			return false;
	}
	if (p->cutover.switch_command == NULL)
		return true;
	log_info("%s: running the switch command", ctx->rollback ? "rollback" : "cutover");
	fflush(NULL);
	if ((pid = fork()) == 0)
	{
		setenv("PGRESHARD_PLAN", p->name, 1);
		setenv("PGRESHARD_DIRECTION", ctx->rollback ? "rollback" : "forward", 1);
		execl("/bin/sh", "sh", "-c", p->cutover.switch_command, (char *) NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
	{
		log_error("%s: the switch command failed (exit status %d)", ctx->rollback ? "rollback" : "cutover",
				  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return false;
	}
	return true;
}

bool
freeze_within(apply_ctx *ctx, double deadline, const char *what)
{
	if (mono_seconds() <= deadline)
		return true;
	log_error("%s: the freeze passed cutover.timeout_s before %s", ctx->rollback ? "rollback" : "cutover", what);
	return false;
}

bool
freeze_verify(apply_ctx *ctx, double deadline)
{
	verify_result r = {0};
	bool		ok;

	if (!ctx->plan->cutover.verify)
		return true;
	ok = freeze_within(ctx, deadline, "verifying") && verify_run(ctx, false, 1, NULL, &r);
	if (ok && r.total_differences > 0)
	{
		verify_log_differences(ctx, &r);
		log_error("%s: verify found %d difference(s) while frozen", ctx->rollback ? "rollback" : "cutover",
				  r.total_differences);
		ok = false;
	}
	verify_result_free(&r);
	return ok;
}

/* Everything between freezing and releasing; true when the switch happened. */
static bool
frozen_part(apply_ctx *ctx, freeze_session *fs, double deadline)
{
	const plan *p = ctx->plan;
	bool		ok = true;
	uint64_t	fence = 0;

	for (int i = 0; ok && i < p->nsources; i++)
		ok = freeze_source(ctx, &fs[i], i);
	for (int i = 0; ok && i < p->nsources; i++)
		ok = freeze_within(ctx, deadline, "draining the stream") && stream_drain(ctx, i, fs[i].fence, deadline);
	ok = ok && freeze_within(ctx, deadline, "moving the sequences") && cutover_sequences(ctx, fs);
	ok = ok && freeze_verify(ctx, deadline);
	for (int i = 0; i < p->nsources; i++)
		fence = fs[i].fence > fence ? fs[i].fence : fence;
	/* the drained changes and the sequences on disk before anyone writes there */
	ok = ok && freeze_within(ctx, deadline, "flushing the shards") && durable_flush_shards(p);
	/* before anyone writes to the shards: the reverse slots' start */
	ok = ok && (!p->cutover.reverse || (freeze_within(ctx, deadline, "setting up reverse replication") &&
										 reverse_slots(ctx)));
	ok = ok && freeze_within(ctx, deadline, "the switch") && cutover_run_switch(ctx, fence);
	for (int i = 0; ok && i < p->nsources && !p->cutover.leave_source_writable; i++)
		ok = freeze_install_guard(ctx, &fs[i], i, hook_conns_open_txn(fs[0].hook, i));
	return ok && freeze_within(ctx, deadline, "releasing");
}

static bool
clear_request(apply_ctx *ctx)
{
	return pgr_exec(ctx->state, "clearing the cutover request",
					"UPDATE pgreshard.runs SET cutover_requested = false WHERE plan_name = $1", 1,
					(const char *[]) {ctx->plan->name});
}

/*
 * An earlier run finished the cutover (its attempt is recorded done) but
 * died before the journal said so: the switch happened, the source refuses
 * writes; doing it again would wait for a new request (manual mode) or
 * freeze a source nobody writes to.  Only the request is left to clear.
 */
static bool
already_cut_over(apply_ctx *ctx, bool *done)
{
	const char *params[1] = {ctx->plan->name};
	PGresult   *res = pgr_query(ctx->state, "looking for a finished cutover",
								"SELECT attempt FROM pgreshard.cutovers WHERE plan_name = $1 "
								"AND outcome = 'done' ORDER BY attempt DESC LIMIT 1", 1, params);

	if (res == NULL)
		return false;
	*done = PQntuples(res) == 1;
	if (*done)
		log_info("cutover: already done by an earlier run (attempt %s)", PQgetvalue(res, 0, 0));
	PQclear(res);
	return true;
}

bool
step_cutover(apply_ctx *ctx)
{
	const plan *p = ctx->plan;
	freeze_session *fs;
	double		start;
	uint64_t	fence = 0;
	long long	ms;
	int			attempt;
	bool		ok;
	char		reason[1024] = "";

	if (!already_cut_over(ctx, &ok))
		return false;
	if (ok)
		return clear_request(ctx);
	if (!freeze_recover(ctx) || !wait_for_request(ctx) || !cutover_schema_check(ctx) ||
		(p->cutover.reverse && !reverse_prepare(ctx)) || !wait_for_lag(ctx) ||
		(attempt = freeze_attempt_begin(ctx, "pgreshard.cutovers")) < 0)
		return false;
	fs = xcalloc((size_t) p->nsources, sizeof(freeze_session));
	start = mono_seconds();
	ok = frozen_part(ctx, fs, start + p->cutover.timeout_s);
	if (!ok)
		log_last_error(reason, sizeof(reason));
	for (int i = 0; i < p->nsources; i++)
	{
		if (fs[i].fence > fence)
			fence = fs[i].fence;
		ok = freeze_end(ctx, &fs[i], ok) && ok;
	}
	ms = (long long) ((mono_seconds() - start) * 1000);
	free(fs);
	if (!ok)
	{
		freeze_attempt_end(ctx, "pgreshard.cutovers", attempt, false, ms, fence, reason);
		log_error("cutover: aborted after %lld ms of freeze; the source is writable again and the stream "
				  "can continue; rerun apply to try again", ms);
		return false;
	}
	log_info("cutover: done; writes were held for %lld ms; the source %s", ms,
			 p->cutover.leave_source_writable ? "stays writable" : "now refuses writes to the moved tables");
	cutover_refresh_matviews(ctx);
	return freeze_attempt_end(ctx, "pgreshard.cutovers", attempt, true, ms, fence, NULL) && clear_request(ctx);
}
