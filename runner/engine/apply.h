/*
 * apply.h — the step engine's context, shared by the step files.
 *
 * `apply` runs the steps of CONTRACT.md in order.  Each step is a function
 * that is idempotent on its own: it looks at the state in PostgreSQL
 * (runner/engine/state.c) and does only what is missing, so a rerun after any
 * failure continues where the last one stopped.  The engine records each
 * step's start, end, attempts and last error in the journal on shard 0.
 *
 * One apply_ctx lives for the whole run.  Source sessions keep the
 * replication connection that created the slot open across steps, because
 * its exported snapshot is valid only while that connection is idle.
 */
#ifndef PGR_APPLY_H
#define PGR_APPLY_H

#include <stdbool.h>
#include <stdint.h>

#include "catalog.h"
#include "conn.h"
#include "lsn.h"
#include "plan.h"
#include "steps.h"

typedef struct source_session {
	int			index;			/* source number */
	char	   *role;			/* "source" or "source N" */
	pgr_conn   *repl;			/* replication connection holding the snapshot, or NULL */
	char	   *snapshot;		/* exported snapshot name, or NULL */
	uint64_t	snapshot_lsn;	/* the snapshot's consistent point */
	bool		temp_slot;		/* snapshot comes from a temporary slot (rerun) */
	bool		kept;			/* a keeper process holds the snapshot too, or only it
								 * (runner/prepare/snapshot_keeper.c) */
	char	   *partitions_followed;	/* the source's partitions and their indexes as the
										 * stream last followed them on the shards, after
										 * a character saying how completely, or NULL
										 * (runner/follow/stream_attach.c) */
} source_session;

typedef struct apply_ctx {
	plan	   *plan;
	catalog    *cat;			/* from preflight */
	pgr_conn   *state;			/* shard 0: journal, ledger, lock */
	source_session *sources;	/* plan->nsources entries */
	step_id		until;			/* last step to run */
	bool		tty;			/* stderr is a terminal: progress bars */
	struct hooks *hooks;		/* the main thread's Lua state (step and cutover hooks), or NULL */
	bool		rollback;		/* `pgreshard rollback`: the freeze and switch go the other way */
	bool		handed_over;	/* a step stopped for another command (rollback): not done, not failed */
} apply_ctx;

/* The slot's name for this plan. */
char *slot_name(const plan *p);

/* The steps.  Each returns false after reporting its error. */
bool step_preflight(apply_ctx *ctx);
bool step_slot(apply_ctx *ctx);
bool step_schema_pre(apply_ctx *ctx);
bool step_copy(apply_ctx *ctx);
bool step_schema_post(apply_ctx *ctx);
bool step_stream(apply_ctx *ctx);
bool step_verify(apply_ctx *ctx);
bool step_cutover(apply_ctx *ctx);
bool step_finish(apply_ctx *ctx);

/* A connection to destination shard s (role "shard S" in messages). */
pgr_conn *connect_shard(const plan *p, int s);
/*
 * Make c, a connection that writes moved rows on a shard, apply them the way
 * subscriptions do: session_replication_role = replica when the role may set
 * it (apply_session.c).  False after reporting an error.
 */
bool apply_session_replica(pgr_conn *c);
/* Every shard's moved tables have the source's schema (columns, indexes,
 * constraints, triggers, policies), followed there with schema_changes:
 * apply; false lists every difference (runner/cutover/schema_check.c).
 * Run before verify (rows are compared only once the tables agree: a
 * generated column added on the source is not in the WAL) and before the
 * cutover's freeze. */
bool cutover_schema_check(apply_ctx *ctx);
/* schema.matviews: refresh: refresh the materialized views on every shard
 * after a successful cutover (cutover_matviews.c); failures are warnings. */
void cutover_refresh_matviews(apply_ctx *ctx);

/* Set up / tear down a context (sources' roles, no connections yet). */
void apply_ctx_init(apply_ctx *ctx, plan *p, step_id until);
void apply_ctx_close(apply_ctx *ctx);

/* Store in pgreshard.ddl (in the caller's transaction on ctx->state) the
 * DDL of the tables appended to the plan from position first_new on, that
 * the stored script lacks (runner/schema/schema_add.c; plan_append.h). */
bool schema_add_tables(apply_ctx *ctx, int first_new);

/* Make sure a snapshot is available for source i (reuse or temporary slot). */
bool source_snapshot(apply_ctx *ctx, int i);
void source_sessions_close(apply_ctx *ctx);

#endif
