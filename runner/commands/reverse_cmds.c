/*
 * reverse_cmds.c — `pgreshard rollback` and `pgreshard finish`, after the
 * cutover, while the shards stream back to the sources (issue 14).
 *
 * Both first leave their request in pgreshard.runs.reverse_request, so that
 * an apply streaming back (its finish step, runner/cutover/reverse.c)
 * notices it within a second.  For finish that apply does the work: it
 * drops the reverse slots and publications and completes the finish step;
 * with no apply running, finish does it itself.  A rollback is done by the
 * rollback command itself, so that its outcome and its exit code are its
 * own: the apply hands the plan over (stops streaming, releases the plan's
 * lock, exits 0 with the step finish still pending) and the rollback takes
 * the lock, drains the reverse streams to their fences while the shards
 * are frozen (runner/cutover/rollback.c), and on success drops the reverse
 * slots.  On failure the request is cleared and the shards serve on: a
 * new apply resumes streaming back.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cutover.h"
#include "hooks.h"
#include "log.h"
#include "reverse_cmds.h"
#include "state.h"

#define HANDOVER_WAIT_S 60

/* The run's cutover step is done and reverse replication exists; else
 * says why not (false). */
static bool
reverse_ready(apply_ctx *ctx, const char *cmd, char *state, size_t statelen)
{
	const char *params[1] = {ctx->plan->name};
	PGresult   *res = pgr_query(ctx->state, "reading the plan's state",
								"SELECT EXISTS (SELECT FROM pgreshard.steps WHERE plan_name = $1 "
								"AND step = 'cutover' AND state = 'done') FROM pgreshard.runs "
								"WHERE plan_name = $1", 1, params);
	char		request[32];
	bool		cut = res != NULL && PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	bool		exists = false;

	if (res != NULL && PQntuples(res) == 0)
		log_error("%s: plan %s has not been applied", cmd, ctx->plan->name);
	else if (res != NULL && !cut)
		log_error("%s: plan %s has not been cut over: the source still serves; to cancel the move "
				  "run `pgreshard cleanup %s --drop-data`", cmd, ctx->plan->name, ctx->plan->path);
	PQclear(res);
	if (!cut || !reverse_read(ctx, request, sizeof(request), state, statelen) ||
		!reverse_exists(ctx, &exists))
		return false;
	if (!exists && strcmp(state, "rolled_back") != 0)
	{
		log_error("%s: plan %s has no reverse replication (%s): the way back is closed", cmd,
				  ctx->plan->name, strcmp(state, "finished") == 0 ? "finished" : "cutover.reverse: false");
		return false;
	}
	return true;
}

/* Take the plan's lock, waiting up to HANDOVER_WAIT_S for an apply to let go. */
static bool
take_plan(apply_ctx *ctx, const char *cmd, bool *got)
{
	*got = false;
	for (int i = 0; i < HANDOVER_WAIT_S * 4; i++)
	{
		if (!state_try_lock(ctx->state, ctx->plan, got))
			return false;
		if (*got)
			return true;
		if (i == 0)
			log_info("%s: an apply of plan %s is running; asking it to hand the plan over", cmd, ctx->plan->name);
		usleep(250 * 1000);
	}
	log_error("%s: the apply running plan %s did not let go of it within %d s; stop it, then run `pgreshard %s %s` "
			  "again", cmd, ctx->plan->name, HANDOVER_WAIT_S, cmd, ctx->plan->path);
	return true;
}

static int
rollback(apply_ctx *ctx)
{
	char		state[32];
	bool		got = false;

	if (!reverse_ready(ctx, "rollback", state, sizeof(state)))
		return EXIT_ERROR;
	if (strcmp(state, "rolled_back") != 0)
	{
		if (!reverse_set(ctx, "reverse_request", "rollback") || !take_plan(ctx, "rollback", &got))
			return EXIT_ERROR;
		if (!got || !hooks_open(ctx->plan, &ctx->hooks) || !catalog_inspect(ctx->plan, &ctx->cat) ||
			!rollback_run(ctx))
		{
			reverse_set(ctx, "reverse_request", NULL);
			return EXIT_ERROR;
		}
	}
	else
		log_info("rollback: plan %s was already rolled back", ctx->plan->name);
	if (!cleanup_reverse(ctx))
		return EXIT_ERROR;
	printf("rollback: plan %s: the source%s serve%s the moved tables again; the shards refuse writes to them\n",
		   ctx->plan->name, ctx->plan->nsources > 1 ? "s" : "", ctx->plan->nsources > 1 ? "" : "s");
	return EXIT_OK;
}

static int
finish(apply_ctx *ctx)
{
	char		state[32], request[32];
	bool		got = false;

	if (!reverse_ready(ctx, "finish", state, sizeof(state)))
		return EXIT_ERROR;
	if (strcmp(state, "rolled_back") == 0)
	{
		log_error("finish: plan %s was rolled back: the sources serve; nothing to finish", ctx->plan->name);
		return EXIT_ERROR;
	}
	if (strcmp(state, "finished") != 0)
	{
		if (!reverse_set(ctx, "reverse_request", "finish") || !state_try_lock(ctx->state, ctx->plan, &got))
			return EXIT_ERROR;
		if (got && !(cleanup_reverse(ctx) && reverse_set(ctx, "reverse_state", "finished") &&
					 reverse_set(ctx, "reverse_request", NULL)))
			return EXIT_ERROR;
		/* a running apply does it and completes its finish step */
		for (int i = 0; !got && i < HANDOVER_WAIT_S * 4 && strcmp(state, "finished") != 0; i++)
		{
			usleep(250 * 1000);
			if (!reverse_read(ctx, request, sizeof(request), state, sizeof(state)))
				return EXIT_ERROR;
		}
		if (!got && strcmp(state, "finished") != 0)
		{
			log_error("finish: requested, but the running apply has not finished within %d s; it will "
					  "when it gets to it (see `pgreshard status %s`)", HANDOVER_WAIT_S, ctx->plan->path);
			return EXIT_ERROR;
		}
	}
	printf("finish: plan %s: reverse replication ended; the reverse slots and publications on the shards "
		   "are dropped%s\n", ctx->plan->name,
		   got ? "; run `pgreshard apply` to complete the step finish" : "");
	return EXIT_OK;
}

static int
run_command(int argc, char **argv, const char *cmd, int (*fn) (apply_ctx *ctx))
{
	static const struct option opts[] = {{NULL, 0, NULL, 0}};
	apply_ctx	ctx;
	plan	   *p;
	int			c, rc;

	while ((c = cli_getopt(argc, argv, "", opts, cmd)) != -1)
		if (c == '?')
			return EXIT_USAGE;
	if (argc - optind != 1)
		return cli_usage_error(cmd, "expected one PLAN.yaml argument");
	if (!plan_load(argv[optind], &p))
		return EXIT_ERROR;
	apply_ctx_init(&ctx, p, STEP_FINISH);
	ctx.rollback = fn == rollback;
	ctx.state = pgr_connect(p->shard_dsns[0], "shard 0", 0);
	rc = ctx.state != NULL ? fn(&ctx) : EXIT_ERROR;
	apply_ctx_close(&ctx);
	plan_free(p);
	return rc;
}

int
cmd_rollback(int argc, char **argv)
{
	return run_command(argc, argv, "rollback", rollback);
}

int
cmd_finish(int argc, char **argv)
{
	return run_command(argc, argv, "finish", finish);
}
