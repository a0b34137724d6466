/*
 * copy_partitions.c — the partitions the copy writes into exist on every
 * shard before the first row is copied.
 *
 * The schema steps created the partitions the plan's catalog knew.  One made
 * on the source after that catalog was read but before the copy's snapshot
 * (between preflight and the slot, say) has rows the copy reads; without it
 * on a shard they would land in the shard's DEFAULT partition (and the
 * partition could never be created there afterwards) or be refused.  So the
 * partitions are read under the copy's own snapshot — the catalog tables are
 * MVCC, so this is exactly the set whose rows the copy sees — and those a
 * shard lacks are created there.  Partitions made after the snapshot are the
 * stream's (runner/follow/stream_partitions.c): creating them now would put
 * their older rows, still in the source's DEFAULT then, in the wrong place.
 */
#include <stdlib.h>
#include <string.h>

#include "copy.h"
#include "xalloc.h"

bool
copy_snapshot_begin(pgr_conn *src, const char *snapshot)
{
	char	   *lit = pgr_quote_literal(src, snapshot);
	char	   *sql = xasprintf("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT %s", lit);
	bool		ok = pgr_exec(src, "starting a transaction under the slot's snapshot", sql, 0, NULL);

	free(sql);
	free(lit);
	return ok;
}

/* Any moved table partitioned? */
static bool
any_partitioned(const apply_ctx *ctx)
{
	for (int i = 0; i < ctx->plan->ntables; i++)
		if (catalog_table(ctx->cat, i)->partitioned)
			return true;
	return false;
}

bool
copy_partitions_sync(apply_ctx *ctx)
{
	const plan *p = ctx->plan;
	bool		ok = true;

	if (!any_partitioned(ctx))
		return true;
	for (int i = 0; ok && i < p->nsources; i++)
	{
		pgr_conn   *src = pgr_connect(p->source_dsns[i], ctx->sources[i].role, PGR_CONN_READ_ONLY);
		part_list	l = {0};

		ok = src != NULL && copy_snapshot_begin(src, ctx->sources[i].snapshot) && partitions_read(src, p, &l) &&
			pgr_exec(src, "ending the snapshot transaction", "COMMIT", 0, NULL);
		pgr_disconnect(src);
		for (int s = 0; ok && s < p->nshards; s++)
		{
			pgr_conn   *c = connect_shard(p, s);

			ok = c != NULL && apply_session_replica(c) && partitions_create_missing(c, s, &l, -1);
			pgr_disconnect(c);
		}
		partitions_free(&l);
	}
	return ok;
}
