/*
 * copy_late.c — partitions attached to a moved table on the source during
 * the move (ALTER TABLE ... ATTACH PARTITION of a table that already holds
 * rows, or a partitioned table with its own leaves) are copied in as late
 * chunks.
 *
 * The rows a partition held before it was attached never reach the WAL as
 * changes of the published parent, so the stream cannot bring them.  The
 * stream calls this between two transactions, once it has applied every
 * transaction up to a point where the source's catalog (`allowed`, read
 * before that point) already had the partition, and once it has created
 * the partition on every shard (runner/follow/stream_attach.c).  Then:
 *
 *  1. the leaves of `allowed` that the chunk plan of this source does not
 *     name are planned (one transaction on shard 0, numbered after the
 *     table's chunks, split by the table's key like any leaf) under a new
 *     snapshot, from a temporary slot: its consistent point is the chunks'
 *     snapshot LSN;
 *  2. every leaf chunk of this source not yet done on some shard — these,
 *     or those an earlier run planned and was killed while copying — is
 *     copied there under that snapshot by the usual workers, each after
 *     deleting the rows of its range from the shard's partition in the same
 *     transaction: rows the stream applied there since the ATTACH, all of
 *     them committed before the snapshot, so in the copy;
 *  3. the stream then skips each change to those rows committed before the
 *     snapshot LSN (DESIGN.md invariant 4, runner/stream/chunk_member.c) and
 *     applies every later one.
 *
 * A kill anywhere leaves either nothing planned (the next stream session
 * finds the leaf again) or planned chunks done on some shards (their rows
 * and ledger rows together, invariant 2) and not on others, where the next
 * run copies them under its own snapshot: the stream keeps each shard's own
 * snapshot LSN per chunk.  A table without a key to place rows by (keyless:
 * its leaves are copied whole, and a change could not be placed in one) is
 * left out with a warning naming `pgreshard repair`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copy.h"
#include "log.h"
#include "xalloc.h"

/* What the chunk plan of one source says per table: its last chunk
 * number, whether it has a key, and the leaves it names. */
typedef struct planned {
	int			last;			/* -1: no chunk */
	bool		keyed;
	part_list	leaves;			/* schema and name only */
} planned;

static void
planned_free(planned *pl, int n)
{
	for (int i = 0; i < n; i++)
	{
		for (int k = 0; k < pl[i].leaves.n; k++)
		{
			free(pl[i].leaves.v[k].schema);
			free(pl[i].leaves.v[k].name);
		}
		free(pl[i].leaves.v);
	}
	free(pl);
}

static planned *
read_planned(pgr_conn *state, const plan *p, int source)
{
	char		src[16];
	const char *params[2] = {p->name, src};
	PGresult   *res;
	planned    *pl = xcalloc((size_t) p->ntables + 1, sizeof(planned));

	for (int i = 0; i < p->ntables; i++)
		pl[i].last = -1;
	snprintf(src, sizeof(src), "%d", source);
	res = pgr_query(state, "reading the chunk plan's partitions",
					"SELECT table_index, max(chunk) OVER (PARTITION BY table_index), "
					"bool_or(key_cols IS NOT NULL) OVER (PARTITION BY table_index), leaf_schema, leaf_name "
					"FROM (SELECT DISTINCT table_index, chunk, key_cols, leaf_schema, leaf_name "
					"FROM pgreshard.chunk_plan WHERE plan_name = $1 AND source = $2) c", 2, params);
	for (int r = 0; res && r < PQntuples(res); r++)
	{
		int			ti = atoi(PQgetvalue(res, r, 0));
		part_list  *l;

		if (ti < 0 || ti >= p->ntables)
			continue;
		pl[ti].last = atoi(PQgetvalue(res, r, 1));
		pl[ti].keyed = PQgetvalue(res, r, 2)[0] == 't';
		if (PQgetisnull(res, r, 4))
			continue;
		l = &pl[ti].leaves;
		if (partitions_find(l, PQgetvalue(res, r, 3), PQgetvalue(res, r, 4)) >= 0)
			continue;
		l->v = xrealloc(l->v, sizeof(part_def) * (size_t) (l->n + 1));
		memset(&l->v[l->n], 0, sizeof(part_def));
		l->v[l->n].schema = xstrdup(PQgetvalue(res, r, 3));
		l->v[l->n].name = xstrdup(PQgetvalue(res, r, 4));
		l->n++;
	}
	if (res == NULL)
	{
		planned_free(pl, p->ntables);
		return NULL;
	}
	PQclear(res);
	return pl;
}

/* The leaves of allowed that table ti's chunk plan lacks, still leaves of
 * it at the snapshot (at_snap), by value (their strings are at_snap's). */
static int
new_leaves(const part_list *allowed, const part_list *at_snap, const planned *pl, int ti, part_def *out)
{
	int			n = 0;

	for (int i = 0; i < allowed->n; i++)
	{
		const part_def *d = &allowed->v[i];
		int			k;

		if (d->table != ti || !d->leaf || partitions_find(&pl[ti].leaves, d->schema, d->name) >= 0)
			continue;
		k = partitions_find(at_snap, d->schema, d->name);
		if (k >= 0 && at_snap->v[k].leaf && at_snap->v[k].table == ti)
			out[n++] = at_snap->v[k];
	}
	return n;
}

/* Plan the new leaves' chunks under the snapshot (step 1); *any: some. */
static bool
plan_new(copy_run *run, int source, const part_list *allowed, const planned *pl, bool *any)
{
	apply_ctx  *ctx = run->ctx;
	const plan *p = ctx->plan;
	pgr_conn   *src;
	part_list	at_snap = {0};
	part_def   *sel = xcalloc((size_t) allowed->n + 1, sizeof(part_def));
	bool		ok;

	*any = false;
	if (!source_snapshot(ctx, source) ||
		(src = pgr_connect(p->source_dsns[source], ctx->sources[source].role, PGR_CONN_READ_ONLY)) == NULL)
	{
		free(sel);
		return false;
	}
	ok = copy_snapshot_begin(src, ctx->sources[source].snapshot) && partitions_read(src, p, &at_snap) &&
		pgr_exec(ctx->state, "planning the chunks of attached partitions", "BEGIN", 0, NULL);
	for (int ti = 0; ok && ti < p->ntables; ti++)
	{
		part_list	leaves = {new_leaves(allowed, &at_snap, pl, ti, sel), sel};

		if (leaves.n == 0)
			continue;
		*any = true;
		for (int i = 0; i < leaves.n; i++)
			log_info("%s: table %s: partition %s.%s was attached during the move: its rows are copied "
					 "in under a new snapshot (%s)", ctx->sources[source].role, run->tables[ti].display,
					 leaves.v[i].schema, leaves.v[i].name, ctx->sources[source].snapshot);
		ok = copy_plan_leaf_chunks(src, ctx->state, p, source, &run->tables[ti], &leaves, pl[ti].last + 1);
	}
	ok = pgr_exec(ctx->state, "planning the chunks of attached partitions", ok ? "COMMIT" : "ROLLBACK",
				  0, NULL) && ok;
	partitions_free(&at_snap);
	pgr_disconnect(src);
	free(sel);
	return ok;
}

/* Which tables may take late leaves: partitioned, keyed, this source's. */
static bool
wanted_tables(const copy_run *run, int source, const part_list *allowed, const planned *pl, bool *want)
{
	bool		any = false;

	for (int ti = 0; ti < run->ctx->plan->ntables; ti++)
	{
		bool		fresh = false;

		for (int i = 0; i < allowed->n && !fresh; i++)
			fresh = allowed->v[i].table == ti && allowed->v[i].leaf &&
				partitions_find(&pl[ti].leaves, allowed->v[i].schema, allowed->v[i].name) < 0;
		want[ti] = pl[ti].last >= 0 && !(run->tables[ti].replicate && source > 0);
		if (fresh && want[ti] && !pl[ti].keyed)
		{
			log_warn("%s: table %s: a partition was attached during the move, but the table has no "
					 "key to place its rows by, so its rows are not copied in; fix: once the stream has "
					 "caught up, run `pgreshard repair %s %s`", run->ctx->sources[source].role,
					 run->tables[ti].display, run->ctx->plan->path, run->tables[ti].display);
			want[ti] = false;
		}
		any = any || (fresh && want[ti]);
	}
	return any;
}

/* Is the leaf a job reads (quoted) among the leaves of allowed? */
static bool
allowed_leaf(pgr_conn *q, const part_list *allowed, const char *leaf)
{
	bool		found = false;

	for (int i = 0; i < allowed->n && !found; i++)
		if (allowed->v[i].leaf)
		{
			char	   *name = pgr_quote_qualified(q, allowed->v[i].schema, allowed->v[i].name);

			found = strcmp(name, leaf) == 0;
			free(name);
		}
	return found;
}

/* Keep the jobs of late leaf chunks of this source (step 2), of leaves
 * still attached (one planned, then detached before its copy, is not). */
static void
keep_late_jobs(copy_run *run, int source, const bool *want, const part_list *allowed)
{
	int			n = 0;

	for (int j = 0; j < run->njobs; j++)
	{
		copy_job   *job = &run->jobs[j];

		if (job->source == source && job->leaf != NULL && want[job->table] && !job->ctid &&
			allowed_leaf(run->ctx->state, allowed, job->leaf))
		{
			job->clear = true;
			run->jobs[n++] = *job;
			continue;
		}
		copy_job_free(job);
	}
	run->njobs = n;
}

bool
copy_late_leaves(apply_ctx *ctx, int source, const part_list *allowed, bool *touched)
{
	const plan *p = ctx->plan;
	apply_ctx	lctx = *ctx;
	copy_run	run = {0};
	planned    *pl = NULL;
	bool	   *want = xcalloc((size_t) p->ntables + 1, sizeof(bool));
	bool		ok, fresh = false;
	const char *delay = getenv("PGRESHARD_TEST_CHUNK_DELAY_MS");

	/* a context of its own: its snapshot, its shard 0 connection, no bars */
	lctx.sources = xcalloc((size_t) p->nsources, sizeof(source_session));
	for (int i = 0; i < p->nsources; i++)
	{
		lctx.sources[i].index = i;
		lctx.sources[i].role = ctx->sources[i].role;
	}
	lctx.tty = false;
	lctx.state = connect_shard(p, 0);
	run.ctx = &lctx;
	run.chunk_delay_ms = delay ? atoi(delay) : 0;
	pthread_mutex_init(&run.lock, NULL);
	ok = lctx.state != NULL && copy_tables_build(&lctx, &run.tables) &&
		(pl = read_planned(lctx.state, p, source)) != NULL;
	/* in text: the source's column types may have changed since the catalog
	 * this apply read (a change the stream follows), text converts */
	for (int i = 0; ok && i < p->ntables; i++)
		run.tables[i].binary = false;
	if (ok)
		fresh = wanted_tables(&run, source, allowed, pl, want);
	if (ok && fresh)
		ok = plan_new(&run, source, allowed, pl, &fresh);
	ok = ok && copy_jobs_load(&run);
	/* the work list points into the jobs: made again for the late ones (leaf
	 * chunks: never in a shared scan) */
	copy_groups_free(&run);
	if (ok)
	{
		keep_late_jobs(&run, source, want, allowed);
		ok = copy_groups_build(&run, false);
	}
	if (ok && run.njobs > 0)
	{
		log_info("%s: copy: %d chunk(s) of partitions attached during the move to copy",
				 ctx->sources[source].role, run.njobs);
		ok = source_snapshot(&lctx, source) && copy_run_workers(&run);
		for (int j = 0; ok && touched && j < run.njobs; j++)
			touched[run.jobs[j].table] = true;
	}
	copy_groups_free(&run);
	for (int j = 0; j < run.njobs; j++)
		copy_job_free(&run.jobs[j]);
	free(run.jobs);
	if (run.tables)
		copy_tables_free(run.tables, p->ntables);
	pthread_mutex_destroy(&run.lock);
	if (pl)
		planned_free(pl, p->ntables);
	free(want);
	source_sessions_close(&lctx);	/* drops the temporary slot */
	free(lctx.sources);
	pgr_disconnect(lctx.state);
	return ok;
}
