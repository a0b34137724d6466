/*
 * plan_append.c — take tables appended to a plan into its move under way
 * (see plan_append.h): one transaction on shard 0 records them, their DDL
 * and the steps to run again; the engine's usual steps do the rest.
 */

#include <stddef.h>

#include "log.h"
#include "plan_append.h"
#include "plan_shape.h"
#include "state.h"
#include "strbuf.h"

/* The steps that run again for the new tables (each does only what is missing). */
static const step_id again[] = {STEP_SCHEMA_PRE, STEP_COPY, STEP_SCHEMA_POST, STEP_VERIFY};

static bool
steps_again(apply_ctx *ctx)
{
	bool		ok = true;

	for (size_t i = 0; ok && i < sizeof(again) / sizeof(again[0]); i++)
	{
		const char *params[2] = {ctx->plan->name, step_name(again[i])};

		ok = pgr_exec(ctx->state, "asking for the steps again",
					  "UPDATE pgreshard.steps SET state = 'pending' WHERE plan_name = $1 AND step = $2",
					  2, params);
	}
	return ok;
}

bool
plan_append_tables(apply_ctx *ctx, int first_new)
{
	const plan *p = ctx->plan;
	step_state	cut = STEP_PENDING;
	strbuf		names;
	bool		ok;

	if (!state_step_get(ctx->state, p, STEP_CUTOVER, &cut))
		return false;
	sb_init(&names);
	for (int i = first_new; i < p->ntables; i++)
		sb_printf(&names, "%s%s", i > first_new ? ", " : "", p->tables[i].spec);
	if (cut == STEP_DONE)
	{
		log_error("plan %s: table(s) %s were added to the plan after its cutover: the shards serve "
				  "the moved tables now and nothing was done; fix: remove them from %s and move "
				  "them with a plan of their own", p->name, names.data, p->path);
		sb_free(&names);
		return false;
	}
	log_info("plan %s: table(s) %s added to the move under way: they are created on the shards and "
			 "copied in under a new snapshot; the %d other table(s) are not copied again",
			 p->name, names.data, first_new);
	ok = pgr_exec(ctx->state, "adding tables to the move", "BEGIN", 0, NULL);
	ok = ok && schema_add_tables(ctx, first_new) && plan_shape_record(ctx->state, p, first_new) &&
		steps_again(ctx);
	ok = pgr_exec(ctx->state, ok ? "adding tables to the move" : "abandoning the added tables",
				  ok ? "COMMIT" : "ROLLBACK", 0, NULL) && ok;
	sb_free(&names);
	return ok;
}
