/*
 * rollback.c — `pgreshard rollback`: the cutover's fence in the other
 * direction (DESIGN.md invariant 9).
 *
 * Catch every reverse stream up (outside the freeze, so the drain inside it
 * is short); then freeze writes on every shard (the plan's freeze mode: the
 * same lock, read_only or hook, the hook's ctx.direction being "rollback");
 * read each shard's fence; drain every reverse stream exactly to its shard's fence;
 * verify while frozen if cutover.verify; move the sources' sequences past
 * every value any shard handed out; run the switch (PGRESHARD_DIRECTION=
 * rollback); put the write guard on the shards' moved tables; take it off
 * the sources; release.  A read_only freeze is always lifted at the end:
 * shard 0 holds the state, so the guard's triggers alone refuse writes.
 *
 * Anything failing, or the freeze outliving cutover.timeout_s, unfreezes
 * the shards (their guard removed, the sources' put back if it was being
 * lifted), records why in pgreshard.rollbacks and fails: reverse
 * replication goes on with the next apply.  Killed half-way, the next
 * rollback undoes the interrupted attempt's freeze (a read_only one
 * outlives the process) and runs again from the start: every part is
 * idempotent (the drain has nothing left to apply twice — the sources
 * record each shard's progress with its changes — the guards are dropped
 * and created with IF EXISTS, the sequences only move forward); only the
 * switch command runs again and must be idempotent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cutover.h"
#include "log.h"
#include "stream.h"
#include "xalloc.h"

static char *
shard_role(int s)
{
	return xasprintf("shard %d", s);
}

/*
 * After an attempt that aborted or was interrupted: the shards serve, so
 * their write guard goes (a read_only freeze creates it outside the
 * freeze's transaction), and the sources refuse writes again (`sources`:
 * their guard may have been lifted already).
 */
static bool
restore_guards(apply_ctx *ctx, bool sources)
{
	const plan *p = ctx->plan;
	bool		ok = true;

	for (int s = 0; s < p->nshards; s++)
	{
		pgr_conn   *c = connect_shard(p, s);

		ok = c != NULL && pgr_exec(c, "taking the write guard off the shard",
								   "SET default_transaction_read_only = off", 0, NULL) &&
			freeze_remove_guard(ctx, c, false) && ok;
		pgr_disconnect(c);
	}
	for (int i = 0; sources && !p->cutover.leave_source_writable && i < p->nsources; i++)
	{
		freeze_session fs = {.source = i, .dsn = p->source_dsns[i], .role = ctx->sources[i].role};

		fs.conn = pgr_connect(fs.dsn, fs.role, 0);
		ok = fs.conn != NULL && pgr_exec(fs.conn, "guarding the source again",
										 "SET default_transaction_read_only = off", 0, NULL) &&
			freeze_install_guard(ctx, &fs, i, NULL) && ok;
		pgr_disconnect(fs.conn);
	}
	return ok;
}

/* An attempt killed during its freeze: undo it on the shards. */
static bool
recover(apply_ctx *ctx)
{
	const plan *p = ctx->plan;
	const char *params[1] = {p->name};
	PGresult   *res = pgr_query(ctx->state, "looking for an interrupted rollback",
								"SELECT 1 FROM pgreshard.rollbacks WHERE plan_name = $1 AND outcome = 'running'",
								1, params);
	bool		ok = res != NULL, any = ok && PQntuples(res) > 0;

	PQclear(res);
	if (!any)
		return ok;
	for (int s = 0; ok && s < p->nshards && p->cutover.freeze != FREEZE_LOCK; s++)
	{
		char	   *role = shard_role(s);
		freeze_session fs = {.source = s, .frozen = true, .dsn = p->shard_dsns[s], .role = role};

		/* the hook's undo runs once, as its freeze did */
		if (p->cutover.freeze == FREEZE_READ_ONLY || s == 0)
		{
			fs.conn = pgr_connect(fs.dsn, role, 0);
			ok = fs.conn != NULL && pgr_exec(fs.conn, "unfreezing", "SET default_transaction_read_only = off",
											 0, NULL) && freeze_end(ctx, &fs, false);
			pgr_disconnect(fs.conn);
		}
		free(role);
	}
	ok = ok && restore_guards(ctx, true);
	if (ok)
		log_warn("rollback: an earlier attempt was interrupted during its freeze; the shards are "
				 "writable again; trying again");
	return ok && pgr_exec(ctx->state, "recording the interrupted rollback",
						  "UPDATE pgreshard.rollbacks SET finished_at = now(), outcome = 'aborted', "
						  "reason = coalesce(reason, 'interrupted during the freeze') "
						  "WHERE plan_name = $1 AND outcome = 'running'", 1, params);
}

/* The sources serve again: their write guard goes (and a read-only default). */
static bool
lift_source_guards(apply_ctx *ctx)
{
	bool		ok = true;

	for (int i = 0; ok && i < ctx->plan->nsources; i++)
	{
		pgr_conn   *c = pgr_connect(ctx->plan->source_dsns[i], ctx->sources[i].role, 0);

		ok = c != NULL && pgr_exec(c, "lifting the write guard", "SET default_transaction_read_only = off",
								   0, NULL) && freeze_remove_guard(ctx, c, true);
		if (ok)
			log_info("%s: the write guard is lifted: the source serves the moved tables again",
					 ctx->sources[i].role);
		pgr_disconnect(c);
	}
	return ok;
}

/*
 * Between freezing the shards and releasing them; true when switched back.
 * The shards' guard comes before the sources' is lifted (a lock or hook
 * freeze creates it in its transaction: an abort takes it back); lifting
 * the sources' guard is the point of no return (*lifted: begun).
 */
static bool
frozen_part(apply_ctx *ctx, freeze_session *fs, char **roles, double deadline, uint64_t *fence,
			bool *lifted)
{
	const plan *p = ctx->plan;
	stream_dir	dir;
	bool		ok = true;

	for (int s = 0; ok && s < p->nshards; s++)
		ok = freeze_server(ctx, &fs[s], s, p->shard_dsns[s], roles[s]);
	stream_dir_reverse(ctx, &dir);
	if (ok)
	{
		uint64_t   *fences = xcalloc((size_t) p->nshards, sizeof(uint64_t));

		for (int s = 0; s < p->nshards; s++)
			fences[s] = fs[s].fence;
		ok = freeze_within(ctx, deadline, "draining the reverse streams") &&
			reverse_drain_all(ctx, &dir, fences, deadline);
		free(fences);
	}
	stream_dir_free(&dir);
	ok = ok && freeze_verify(ctx, deadline);
	ok = ok && freeze_within(ctx, deadline, "moving the sequences") && rollback_sequences(ctx, fs);
	for (int s = 0; s < p->nshards; s++)
		*fence = fs[s].fence > *fence ? fs[s].fence : *fence;
	ok = ok && freeze_within(ctx, deadline, "the switch") && cutover_run_switch(ctx, *fence);
	/* the shards refuse writes to the moved tables from now on (a freeze
	 * hook's transaction there holds their locks: in it, as forward) */
	for (int s = 0; ok && s < p->nshards; s++)
		ok = freeze_install_guard(ctx, &fs[s], s, hook_conns_open_shard_txn(fs[0].hook, s));
	ok = ok && freeze_within(ctx, deadline, "lifting the sources' write guard");
	*lifted = ok;
	return ok && lift_source_guards(ctx);
}

bool
rollback_run(apply_ctx *ctx)
{
	const plan *p = ctx->plan;
	freeze_session *fs;
	char	  **roles;
	char		reason[1024] = "";
	uint64_t	fence = 0;
	double		start;
	long long	ms;
	int			attempt;
	bool		ok, lifted = false;
	stream_dir	dir;

	/* catch up before freezing, so that the drain inside the freeze is short */
	stream_dir_reverse(ctx, &dir);
	ok = recover(ctx) && reverse_clocks_ensure(ctx) && reverse_drain_all(ctx, &dir, NULL, 0);
	stream_dir_free(&dir);
	if (!ok || (attempt = freeze_attempt_begin(ctx, "pgreshard.rollbacks")) < 0)
		return false;
	fs = xcalloc((size_t) p->nshards, sizeof(freeze_session));
	roles = xcalloc((size_t) p->nshards, sizeof(char *));
	for (int s = 0; s < p->nshards; s++)
		roles[s] = shard_role(s);
	start = mono_seconds();
	ok = frozen_part(ctx, fs, roles, start + p->cutover.timeout_s, &fence, &lifted);
	if (!ok)
		log_last_error(reason, sizeof(reason));
	for (int s = 0; s < p->nshards; s++)
		ok = freeze_end(ctx, &fs[s], ok) && ok;
	ms = (long long) ((mono_seconds() - start) * 1000);
	if (!ok && !restore_guards(ctx, lifted))
		log_error("rollback: could not put the write guards back as they were (see above): check "
				  "that the shards take writes and the source%s refuse%s them", p->nsources > 1 ? "s" : "",
				  p->nsources > 1 ? "" : "s");
	for (int s = 0; s < p->nshards; s++)
		free(roles[s]);
	free(roles);
	free(fs);
	if (!ok)
	{
		freeze_attempt_end(ctx, "pgreshard.rollbacks", attempt, false, ms, fence, reason);
		log_error("rollback: aborted after %lld ms of freeze; the shards are writable again and still "
				  "serve; rerun `pgreshard apply %s` to keep streaming back, or `pgreshard rollback %s` "
				  "to try again", ms, p->path, p->path);
		return false;
	}
	log_info("rollback: done; writes were held on the shards for %lld ms; the source%s serve%s again "
			 "and the shards refuse writes to the moved tables", ms, p->nsources > 1 ? "s" : "",
			 p->nsources > 1 ? "" : "s");
	return freeze_attempt_end(ctx, "pgreshard.rollbacks", attempt, true, ms, fence, NULL) &&
		reverse_set(ctx, "reverse_state", "rolled_back") && reverse_set(ctx, "reverse_request", NULL);
}
