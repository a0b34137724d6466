/*
 * engine.c — `pgreshard apply`: run the steps in order, each once.
 *
 * The preflight always runs (it is read-only and gives the other steps the
 * catalog); it must pass before anything is created anywhere.  Then the
 * state schema is ensured on every shard, the plan's lock is taken on
 * shard 0, and every step up to --until that the journal does not show as
 * done is run and journaled.  Tables appended to the plan during its move
 * are taken in first (plan_append.h).  A step is journaled as done only after a
 * flush barrier on every shard (durable.h), so "done" never gets ahead of
 * what the shards hold on disk.  A step that fails leaves its error in the
 * journal; the next apply retries it.
 *
 * `apply SAVED` runs the plan file text kept in a saved plan (saved_plan.h)
 * after comparing the saved fingerprint with a fresh inspection: any change
 * refuses it with exit 3, before anything is created.  The run is recorded
 * with the saved plan's id, so that its own progress is not a change when
 * the same saved plan is applied again after a failure.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "apply.h"
#include "cli.h"
#include "durable.h"
#include "hooks.h"
#include "log.h"
#include "plan_append.h"
#include "plan_shape.h"
#include "saved_plan.h"
#include "state.h"
#include "xalloc.h"

typedef bool (*step_fn) (apply_ctx *ctx);

static const step_fn step_functions[STEP_COUNT] = {
	[STEP_PREFLIGHT] = step_preflight,
	[STEP_SLOT] = step_slot,
	[STEP_SCHEMA_PRE] = step_schema_pre,
	[STEP_COPY] = step_copy,
	[STEP_SCHEMA_POST] = step_schema_post,
	[STEP_STREAM] = step_stream,
	[STEP_VERIFY] = step_verify,
	[STEP_CUTOVER] = step_cutover,
	[STEP_FINISH] = step_finish,
};

static bool
confirm(const plan *p, bool yes)
{
	char		answer[16] = "";

	if (yes)
		return true;
	if (!isatty(STDIN_FILENO))
	{
		log_error("apply: not run from a terminal: pass --yes to confirm applying plan %s", p->name);
		return false;
	}
	fprintf(stderr, "Apply plan %s: %d table(s) from %d source(s) onto %d shard(s)? [y/N] ",
			p->name, p->ntables, p->nsources, p->nshards);
	if (fgets(answer, sizeof(answer), stdin) == NULL || (answer[0] != 'y' && answer[0] != 'Y'))
	{
		log_error("apply: not confirmed; nothing was done");
		return false;
	}
	return true;
}

/* Ensure the state schema on every shard; take the lock on shard 0. */
static bool
open_state(apply_ctx *ctx)
{
	const plan *p = ctx->plan;
	int			nrecorded = 0;

	for (int s = 1; s < p->nshards; s++)
	{
		pgr_conn   *c = connect_shard(p, s);
		bool		ok = c != NULL && state_init_schema(c) && state_register_run(c, p);

		pgr_disconnect(c);
		if (!ok)
			return false;
	}
	ctx->state = pgr_connect(p->shard_dsns[0], "shard 0", 0);
	return ctx->state != NULL && state_init_schema(ctx->state) &&
		state_begin_run(ctx->state, p) && plan_shape_check(ctx->state, p, &nrecorded) &&
		(nrecorded == p->ntables || plan_append_tables(ctx, nrecorded));
}

/* before_step(step) / after_step(step, result), when the plan has them. */
static bool
step_hook(apply_ctx *ctx, step_id s, bool after, bool ok, double seconds, const char *error)
{
	const plan *p = ctx->plan;
	const char *fn = after ? p->hooks.after_step : p->hooks.before_step;
	char		err[HOOK_ERR_LEN];

	if (fn == NULL || ctx->hooks == NULL)
		return true;
	if (after ? hooks_after_step(ctx->hooks, step_name(s), ok, seconds, error, err, sizeof(err)) :
		hooks_before_step(ctx->hooks, step_name(s), err, sizeof(err)))
		return true;
	log_error("step %s: the %s hook %s failed: %s", step_name(s), after ? "after_step" : "before_step",
			  fn, err);
	return false;
}

static bool
run_step(apply_ctx *ctx, step_id s)
{
	char		err[4100] = "";
	double		start = mono_seconds();
	bool		ok;

	if (!state_step_start(ctx->state, ctx->plan, s))
		return false;
	log_info("step %s: starting", step_name(s));
	log_mark();
	ok = step_hook(ctx, s, false, true, 0, NULL) && step_functions[s] (ctx);
	if (ok && ctx->handed_over)
	{
		/* another command (rollback) takes the plan over: not done, not failed */
		log_info("step %s: handed over after %.2f s; not done", step_name(s), mono_seconds() - start);
		return pgr_exec(ctx->state, "journaling the step", "UPDATE pgreshard.steps SET state = 'pending' "
						"WHERE plan_name = $1 AND step = $2", 2,
						(const char *[]) {ctx->plan->name, step_name(s)});
	}
	/* "done" in the journal only once the step's work is on disk on every
	 * shard, whatever synchronous_commit they run with (durable.h) */
	ok = ok && durable_flush_shards(ctx->plan);
	if (!ok)
	{
		char		first[2000], last[2000];

		/* the cause, and the step's own summary when it differs */
		log_first_error(first, sizeof(first));
		log_last_error(last, sizeof(last));
		snprintf(err, sizeof(err), "%s%s%s", first, strcmp(first, last) ? " — " : "",
				 strcmp(first, last) ? last : "");
	}
	if (ok && !step_hook(ctx, s, true, ok, mono_seconds() - start, NULL))
	{
		ok = false;
		log_last_error(err, sizeof(err));
	}
	else if (!ok)
		step_hook(ctx, s, true, ok, mono_seconds() - start, err);
	if (!state_step_finish(ctx->state, ctx->plan, s, ok, ok ? NULL : err))
		return false;
	if (ok)
		log_info("step %s: done in %.2f s", step_name(s), mono_seconds() - start);
	return ok;
}

static bool
run_steps(apply_ctx *ctx)
{
	int			ran = 0;
	step_state	cutover_state = STEP_PENDING;

	if (!state_step_get(ctx->state, ctx->plan, STEP_CUTOVER, &cutover_state))
		return false;

	for (int s = STEP_SLOT; s <= (int) ctx->until; s++)
	{
		step_state st;

		if (step_functions[s] == NULL)
		{
			log_error("step %s is not available in this version of pgreshard yet; "
					  "run `apply --until %s`", step_name((step_id) s), step_name((step_id) (s - 1)));
			return false;
		}
		if (!state_step_get(ctx->state, ctx->plan, (step_id) s, &st))
			return false;
		/* the stream is never finished before the cutover: every apply catches up */
		if (st == STEP_DONE && (s != STEP_STREAM || cutover_state == STEP_DONE))
		{
			log_debug("step %s: already done", step_name((step_id) s));
			continue;
		}
		if (!run_step(ctx, (step_id) s))
			return false;
		if (ctx->handed_over)
			return true;
		ran++;
	}
	if (ran == 0)
		log_info("plan %s: every step up to %s is already done; nothing to do",
				 ctx->plan->name, step_name(ctx->until));
	return true;
}

pgr_conn *
connect_shard(const plan *p, int s)
{
	char		role[32];

	snprintf(role, sizeof(role), "shard %d", s);
	return pgr_connect(p->shard_dsns[s], role, 0);
}

void
apply_ctx_init(apply_ctx *ctx, plan *p, step_id until)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->plan = p;
	ctx->until = until;
	ctx->tty = isatty(STDERR_FILENO);
	ctx->sources = xcalloc((size_t) p->nsources, sizeof(source_session));
	for (int i = 0; i < p->nsources; i++)
	{
		ctx->sources[i].index = i;
		ctx->sources[i].role = p->nsources > 1 ? xasprintf("source %d", i) : xstrdup("source");
	}
}

void
apply_ctx_close(apply_ctx *ctx)
{
	source_sessions_close(ctx);
	for (int i = 0; i < ctx->plan->nsources; i++)
	{
		free(ctx->sources[i].role);
		free(ctx->sources[i].partitions_followed);
	}
	free(ctx->sources);
	pgr_disconnect(ctx->state);
	catalog_free(ctx->cat);
	hooks_close(ctx->hooks);
	ctx->hooks = NULL;
	ctx->sources = NULL;
	ctx->state = NULL;
	ctx->cat = NULL;
}

/* Refuse a saved plan when the world changed since `plan -o` (exit 3). */
static int
check_saved(apply_ctx *ctx, const saved_plan *sp)
{
	json_t	   *changes = json_array();
	size_t		i;
	json_t	   *v;
	int			rc = EXIT_OK;

	if (!catalog_inspect(ctx->plan, &ctx->cat) || !saved_plan_changes(sp, ctx->plan, ctx->cat, changes))
		rc = EXIT_ERROR;
	else if (json_array_size(changes) > 0)
	{
		log_error("%s: the saved plan is stale: %zu change(s) since it was made (%s); nothing was done:",
				  sp->file, json_array_size(changes), sp->created_at ? sp->created_at : "?");
		json_array_foreach(changes, i, v)
			log_error("  %s", json_string_value(v));
		log_error("make a new saved plan (pgreshard plan -o), review it, and apply that one");
		rc = EXIT_STALE;
	}
	else
		log_info("%s: saved plan %.12s still matches the databases", sp->file, sp->id);
	json_decref(changes);
	return rc;
}

static int
apply_plan(plan *p, step_id until, const saved_plan *sp)
{
	apply_ctx	ctx;
	bool		ok;
	int			rc = EXIT_OK;

	apply_ctx_init(&ctx, p, until);
	if (sp != NULL)
		rc = check_saved(&ctx, sp);
	ok = rc == EXIT_OK && hooks_open(p, &ctx.hooks) && step_hook(&ctx, STEP_PREFLIGHT, false, true, 0, NULL);
	if (ok)
	{
		double		start = mono_seconds();

		ok = step_preflight(&ctx);
		ok = step_hook(&ctx, STEP_PREFLIGHT, true, ok, mono_seconds() - start, NULL) && ok;
	}
	ok = ok && open_state(&ctx);
	if (ok)
		ok = state_step_start(ctx.state, p, STEP_PREFLIGHT) &&
			state_step_finish(ctx.state, p, STEP_PREFLIGHT, true, NULL) &&
			run_steps(&ctx);
	if (ok && ctx.handed_over)
		log_info("plan %s: handed over to `pgreshard rollback`", p->name);
	else if (ok)
		log_info("plan %s: applied up to step %s", p->name, step_name(until));
	apply_ctx_close(&ctx);
	return ok ? EXIT_OK : rc != EXIT_OK ? rc : EXIT_ERROR;
}

/* The plan to apply: a plan file, or the plan inside a saved plan (*sp). */
static bool
load_plan_or_saved(const char *path, plan **p, saved_plan **sp)
{
	int			kind = saved_plan_read(path, sp);

	if (kind < 0)
		return false;
	if (kind == 0)
	{
		*sp = NULL;
		return plan_load(path, p);
	}
	if (!saved_plan_plan(*sp, p))
	{
		saved_plan_free(*sp);
		return false;
	}
	return true;
}

int
cmd_apply(int argc, char **argv)
{
	static const struct option opts[] = {
		{"until", required_argument, NULL, 'u'},
		{"yes", no_argument, NULL, 'y'},
		{NULL, 0, NULL, 0}
	};
	step_id		until = STEP_FINISH;
	bool		yes = false;
	plan	   *p;
	saved_plan *sp;
	int			c, rc;

	while ((c = cli_getopt(argc, argv, ":u:y", opts, "apply")) != -1)
	{
		if (c == '?')
			return EXIT_USAGE;
		if (c == 'y')
			yes = true;
		else if ((int) (until = (step_id) step_from_name(optarg)) < 0)
			return cli_usage_error("apply", "unknown step '%s' (steps: preflight slot schema-pre "
								   "copy schema-post stream verify cutover finish)", optarg);
	}
	if (argc - optind != 1)
		return cli_usage_error("apply", "expected one PLAN.yaml or saved plan argument");
	if (!load_plan_or_saved(argv[optind], &p, &sp))
		return EXIT_ERROR;
	rc = confirm(p, yes) ? apply_plan(p, until, sp) : EXIT_ERROR;
	saved_plan_free(sp);
	plan_free(p);
	return rc;
}
