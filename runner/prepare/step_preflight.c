/*
 * step_preflight.c — step 1: check everything before touching anything.
 *
 * The same inspection as `pgreshard plan` (planner/inspect/catalog.h): source
 * settings (wal_level, free slots unless ours exists, WAL senders, the
 * REPLICATION attribute, version), the publication and its tables, key
 * columns and types, and destinations reachable, of the same encoding, with
 * the moved tables absent or empty — or holding this plan's earlier run.
 * Any error stops the apply before a single object is created.
 */
#include "apply.h"
#include "log.h"

bool
step_preflight(apply_ctx *ctx)
{
	int			errors = 0;

	log_info("step preflight: checking %d source(s) and %d shard(s)",
			 ctx->plan->nsources, ctx->plan->nshards);
	/* apply SAVED has inspected already, to compare with the saved plan */
	if (ctx->cat == NULL && !catalog_inspect(ctx->plan, &ctx->cat))
		return false;
	for (int i = 0; i < ctx->cat->nfindings; i++)
	{
		const finding *f = &ctx->cat->findings[i];

		if (f->level == FINDING_ERROR)
		{
			log_error("preflight: %s: %s%s%s", f->where, f->message, f->fix ? "; fix: " : "",
					  f->fix ? f->fix : "");
			errors++;
		}
		else if (f->level == FINDING_WARNING)
			log_warn("%s: %s", f->where, f->message);
	}
	if (errors > 0)
	{
		log_error("preflight: %d problem(s) found; nothing was changed", errors);
		return false;
	}
	return true;
}
