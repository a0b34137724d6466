/*
 * stream_dir.c — which way a reader streams, and what the reverse way
 * changes in the statements.
 *
 * The stream pipeline (reader, apply, runs, group commit) does not know
 * sources from shards: it reads one "upstream" server's slot and applies to
 * every "downstream" server, recording its progress there.  Forward, the
 * upstreams are the sources (the plan's slot and publication) and the
 * downstreams the shards (pgreshard.apply_progress).  Reverse, after the
 * cutover, the upstreams are the shards (the reverse slot and publication
 * created inside the cutover's freeze, runner/cutover/reverse_setup.c) and
 * the downstreams the sources (pgreshard.progress_PLAN there, so each
 * source commits a shard's progress with that shard's changes: exactly
 * once, as forward).
 *
 * Routing back: with one source every row goes there.  With several, the
 * plan says how the sources were split: by default as pgreshard splits (the
 * built-in hash of each table's key over the sources, PostgreSQL's hash
 * partitioning); with hooks.source_route, by that Lua function(table, row,
 * nsources), which gets the row's key columns (every column of a table
 * without a key).  Replicated tables follow shard 0 and go to every source.
 *
 * Rows that changed shards.  The application moves a row from shard A to
 * shard B as a DELETE on A and an INSERT on B; their reverse streams are
 * independent, so the source may get B's INSERT before A's DELETE.  So the
 * reverse INSERT is an upsert, and an UPDATE or DELETE from shard A touches
 * the source's row only while that row's key hashes to A
 * (satisfies_hash_partition() against an empty table partitioned by hash on
 * the key's types, pgreshard.owner_PLAN_I on the source): B's newer version
 * is never overwritten or deleted by A's older changes, whatever the order.
 * With Lua routing that test cannot be written in SQL; the README says so.
 *
 * That alone loses a row moved there and back (A -> B -> A): if A's stream
 * applies its DELETE and its later INSERT first, B's older INSERT then
 * overwrites A's version, and B's DELETE removes it.  So with several shards
 * the source keeps a row clock per table, pgreshard.clock_PLAN_I (the
 * primary key's columns and the commit time of the INSERT last applied for
 * that key, us since 2000-01-01, from the shard's Begin message): a reverse
 * INSERT upserts the clock row only if its commit is not older, and writes
 * the table's row only if it did (one statement, stream_clock_insert()).
 * The clock row is locked by that upsert, so two shards' streams applying
 * the same key wait for each other and the later commit time wins in either
 * order.  UPDATEs and DELETEs need no clock: the row they act on exists on
 * their shard, so it was inserted there after every other shard's copy of
 * it, and the owner condition above already keeps them off a row that a
 * later INSERT gave to another shard.  Commit times come from different
 * servers: the order is right as long as their clocks differ by less than
 * the time between two moves of one row (NTP keeps them within
 * milliseconds; the README says so).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"
#include "xalloc.h"

/* "shard 0".. for the shards, the sources' own roles for the sources */
static char **
roles(const apply_ctx *ctx, bool shards)
{
	int			n = shards ? ctx->plan->nshards : ctx->plan->nsources;
	char	  **r = xcalloc((size_t) n + 1, sizeof(char *));

	for (int i = 0; i < n; i++)
		r[i] = shards ? xasprintf("shard %d", i) : xstrdup(ctx->sources[i].role);
	return r;
}

/* Upstream: the sources (forward) or the shards (reverse); downstream the others. */
static void
dir_fill(const apply_ctx *ctx, stream_dir *d, bool reverse)
{
	const plan *p = ctx->plan;

	memset(d, 0, sizeof(*d));
	d->reverse = reverse;
	d->nup = reverse ? p->nshards : p->nsources;
	d->up_dsns = reverse ? p->shard_dsns : p->source_dsns;
	d->up_roles = roles(ctx, reverse);
	d->ndown = reverse ? p->nsources : p->nshards;
	d->down_dsns = reverse ? p->source_dsns : p->shard_dsns;
	d->down_roles = roles(ctx, !reverse);
}

void
stream_dir_forward(const apply_ctx *ctx, stream_dir *d)
{
	dir_fill(ctx, d, false);
	d->slot = slot_name(ctx->plan);
	d->publication = xstrdup(ctx->plan->publication);
	d->progress = xstrdup("pgreshard.apply_progress");
}

void
stream_dir_reverse(const apply_ctx *ctx, stream_dir *d)
{
	char	   *progress = reverse_progress_table(ctx->plan);

	dir_fill(ctx, d, true);
	d->slot = reverse_slot_name(ctx->plan);
	d->publication = reverse_slot_name(ctx->plan);
	/* plan names are [a-z0-9_]: no quoting needed */
	d->progress = xasprintf("pgreshard.%s", progress);
	free(progress);
}

void
stream_dir_free(stream_dir *d)
{
	for (int i = 0; i < d->nup; i++)
		free(d->up_roles[i]);
	for (int i = 0; i < d->ndown; i++)
		free(d->down_roles[i]);
	free(d->up_roles);
	free(d->down_roles);
	free(d->slot);
	free(d->publication);
	free(d->progress);
	memset(d, 0, sizeof(*d));
}

char *
reverse_slot_name(const plan *p)
{
	return xasprintf("pgreshard_%s_back", p->name);
}

char *
reverse_owner_table(const plan *p, int ti)
{
	return xasprintf("owner_%s_%d", p->name, ti);
}

char *
reverse_clock_table(const plan *p, int ti)
{
	return xasprintf("clock_%s_%d", p->name, ti);
}

char *
reverse_progress_table(const plan *p)
{
	return xasprintf("progress_%s", p->name);
}

void
stream_table_reverse(const apply_ctx *ctx, const stream_dir *dir, int shard, stream_table *t)
{
	const plan *p = ctx->plan;

	(void) dir;
	/* back to the sources: the built-in hash, or hooks.source_route (see above) */
	t->lua_route = p->nsources > 1 && p->hooks.source_route != NULL && !t->replicate;
	if (t->lua_route)
	{
		/* the route gets the key's columns (every column of a table without one) */
		free(t->route_col);
		t->route_col = xcalloc((size_t) t->ncols + 1, sizeof(int));
		t->nroute = 0;
		for (int k = 0; k < t->nkeys; k++)
			t->route_col[t->nroute++] = t->key_col[k];
		for (int i = 0; t->nkeys == 0 && i < t->ncols; i++)
			t->route_col[t->nroute++] = i;
	}
	t->nlate = 0;
	t->upsert = t->npk > 0 && !t->replicate;
	if (t->upsert && p->nshards > 1)
	{
		char	   *name = reverse_clock_table(p, t->index);

		free(t->clock_rel);
		/* plan names are [a-z0-9_]: no quoting needed */
		t->clock_rel = xasprintf("pgreshard.%s", name);
		free(name);
	}
	if (!t->replicate && p->nshards > 1 && p->sharding == SHARD_FN_HASH && t->nkeys > 0)
	{
		char	   *name = reverse_owner_table(p, t->index);

		t->owner_rel = xasprintf("'pgreshard.%s'::regclass", name);
		t->owner_mod = p->nshards;
		t->owner_rem = shard;
		free(name);
	}
	stream_table_statements(t);
}

void
stream_owner_cond(strbuf *sb, const stream_table *t, const char *qual)
{
	if (t->owner_rel == NULL)
		return;
	sb_printf(sb, " AND satisfies_hash_partition(%s, %d, %d", t->owner_rel, t->owner_mod, t->owner_rem);
	for (int k = 0; k < t->nkeys; k++)
		sb_printf(sb, ", %s.%s", qual, t->qcols[t->key_col[k]]);
	sb_append(sb, ")");
}

void
stream_upsert_clause(strbuf *sb, const stream_table *t)
{
	int			set = 0;

	if (!t->upsert)
		return;
	sb_append(sb, " ON CONFLICT (");
	for (int k = 0; k < t->npk; k++)
		sb_printf(sb, "%s%s", k ? ", " : "", t->qcols[t->pk_col[k]]);
	sb_append(sb, ") DO ");
	for (int i = 0; i < t->ncols; i++)
		if (!t->always_ident[i])
			sb_printf(sb, "%s%s = excluded.%s", set++ ? ", " : "UPDATE SET ", t->qcols[i], t->qcols[i]);
	if (set == 0)
		sb_append(sb, "NOTHING");
}

/*
 * WITH v (c1.., ts) AS (VALUES ($1::type, .., $k::bigint), ..),
 *   won AS (INSERT INTO clock AS k (pk.., pgreshard_commit_us) SELECT .. FROM v
 *           ON CONFLICT (pk..) DO UPDATE SET pgreshard_commit_us = excluded...
 *           WHERE k.pgreshard_commit_us <= excluded.pgreshard_commit_us
 *           RETURNING k.pk..)
 * INSERT INTO t (cols) SELECT v.c.. FROM v JOIN won ON (pk) ON CONFLICT ...
 */
void
stream_clock_insert(strbuf *sb, const stream_table *t, int n)
{
	int			w = t->ncols + 1;

	sb_append(sb, "WITH v (");
	for (int i = 0; i < t->ncols; i++)
		sb_printf(sb, "c%d, ", i + 1);
	sb_append(sb, "ts) AS (VALUES ");
	for (int row = 0; row < n; row++)
	{
		sb_append(sb, row ? ", (" : "(");
		for (int i = 0; i < t->ncols; i++)
			sb_printf(sb, "$%d::%s, ", row * w + i + 1, t->types[i]);
		sb_printf(sb, "$%d::bigint)", row * w + w);
	}
	sb_printf(sb, "), won AS (INSERT INTO %s AS k (", t->clock_rel);
	for (int k = 0; k < t->npk; k++)
		sb_printf(sb, "%s, ", t->qcols[t->pk_col[k]]);
	sb_append(sb, "pgreshard_commit_us) SELECT ");
	for (int k = 0; k < t->npk; k++)
		sb_printf(sb, "v.c%d, ", t->pk_col[k] + 1);
	sb_append(sb, "v.ts FROM v ON CONFLICT (");
	for (int k = 0; k < t->npk; k++)
		sb_printf(sb, "%s%s", k ? ", " : "", t->qcols[t->pk_col[k]]);
	sb_append(sb, ") DO UPDATE SET pgreshard_commit_us = excluded.pgreshard_commit_us "
			  "WHERE k.pgreshard_commit_us <= excluded.pgreshard_commit_us RETURNING ");
	for (int k = 0; k < t->npk; k++)
		sb_printf(sb, "%sk.%s", k ? ", " : "", t->qcols[t->pk_col[k]]);
	sb_printf(sb, ") INSERT INTO %s (", t->qname);
	for (int i = 0; i < t->ncols; i++)
		sb_printf(sb, "%s%s", i ? ", " : "", t->qcols[i]);
	sb_printf(sb, ")%s SELECT ", stream_insert_overriding(t));
	for (int i = 0; i < t->ncols; i++)
		sb_printf(sb, "%sv.c%d", i ? ", " : "", i + 1);
	sb_append(sb, " FROM v JOIN won ON ");
	for (int k = 0; k < t->npk; k++)
		sb_printf(sb, "%sv.c%d = won.%s", k ? " AND " : "", t->pk_col[k] + 1, t->qcols[t->pk_col[k]]);
	stream_upsert_clause(sb, t);
}
