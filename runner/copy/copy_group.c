/*
 * copy_group.c — shared scans: neighbouring key chunks of a table whose key
 * is scattered over the heap (uuid, hashes, slugs), read together by every
 * worker, each worker one range of the table's blocks.
 *
 * Why: a key range of a random key has rows in nearly every block, so its
 * bitmap heap scan visits the whole table; with each worker reading its own
 * chunk, a table of k chunks costs k passes over its blocks, and the J
 * chunks in flight are all lost by a kill -9.  Here the J workers read one
 * group of chunks at a time, each a TID range scan of 1/J of the blocks
 * (`ctid >= '(a,0)' AND ctid < '(b,0)'`) restricted to the group's key
 * range, the server telling which chunk each row is in.  A group of G
 * chunks costs one pass; the work in flight is that group.
 *
 * What a chunk holds does not change (DESIGN.md invariant 4): its rows are
 * the rows whose key satisfies the chunk's own bounds — the same literals,
 * the same operators in the column's type and collation, evaluated by the
 * same source — under the same snapshot (every slice imports it), and the
 * block ranges partition the rows visible under that snapshot.  Each chunk
 * commits on each shard with its own chunks_done row, as a chunk read alone
 * does; rows of a chunk already on a shard are not sent there again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chunk_key.h"
#include "chunking.h"
#include "copy.h"
#include "log.h"
#include "xalloc.h"

/* Whether job j can be read by a shared scan at all. */
static bool
shareable(const copy_run *run, const copy_job *j)
{
	const copy_table *t = &run->tables[j->table];

	return j->key_cols && (j->lo_key || j->hi_key) && j->leaf == NULL && !j->ctid &&
		!t->replicate && strcmp(t->only, "ONLY ") == 0;
}

/* Whether the next chunk continues the group: same table, the next key range. */
static bool
continues(const copy_job *a, const copy_job *b)
{
	return a->source == b->source && a->table == b->table && b->chunk == a->chunk + 1 &&
		a->hi_key && b->lo_key && strcmp(a->hi_key, b->lo_key) == 0;
}

/*
 * Whether source conn should read table t by shared scans: PostgreSQL 14+
 * (TID range scans), and the key's first column scattered over the heap
 * (|pg_stats.correlation| < 0.5; tables without statistics keep their
 * index scans).  PGRESHARD_COPY_SHARED_SCAN=on skips the statistics,
 * =off turns shared scans off.  *nblocks: the table's blocks now.
 */
static bool
wants_shared(pgr_conn *src, const copy_table *t, const copy_job *j, const char *mode, long long *nblocks)
{
	char	  **cols = NULL;
	int			ncols = 0;
	PGresult   *res;
	bool		yes;

	if (!pgarray_decode(j->key_cols, &cols, &ncols) || ncols < 1)
	{
		pgarray_free(cols, ncols);
		return false;
	}
	{
		char		thr[32];
		const char *params[5] = {t->pt->schema, t->pt->relname, cols[0], t->qname, thr};

		snprintf(thr, sizeof(thr), "%g", CHUNK_SCATTERED_CORRELATION);

		res = pgr_query(src, "looking at the key's order in the table",
						"SELECT current_setting('server_version_num')::int >= 140000, "
						"(SELECT abs(correlation) < $5::float8 FROM pg_stats WHERE schemaname = $1 AND tablename = $2 "
						"  AND attname = $3 LIMIT 1), "
						"pg_relation_size($4::regclass) / current_setting('block_size')::bigint",
						5, params);
	}
	pgarray_free(cols, ncols);
	if (res == NULL)
		return false;
	yes = strcmp(PQgetvalue(res, 0, 0), "t") == 0 &&
		(strcmp(mode, "on") == 0 || strcmp(PQgetvalue(res, 0, 1), "t") == 0);
	*nblocks = atoll(PQgetvalue(res, 0, 2));
	PQclear(res);
	return yes;
}

/* The group's key range and, with several chunks, how a row's chunk is
 * told: by the runner (copy_bucket.c) where it can, else the source's CASE. */
static bool
group_conditions(const copy_table *t, pgr_conn *c, scan_group *g)
{
	const copy_job *a = g->jobs[0], *z = g->jobs[g->n - 1];
	strbuf		sb;
	bool		ok = copy_chunk_where_text(c, "key", a->key_cols, a->key_types, a->key_colls, a->lo_key, z->hi_key,
										&g->where);

	if (!ok || g->n == 1 || (g->bk = copy_bucket_new(t, g)) != NULL)
		return ok;
	sb_init(&sb);
	sb_append(&sb, "CASE");
	for (int i = 0; ok && i < g->n - 1; i++)
	{
		char	   *below = NULL;

		/* the chunk's own upper bound, as its WHERE compares it */
		ok = copy_chunk_where_text(c, "key", a->key_cols, a->key_types, a->key_colls, NULL, g->jobs[i]->hi_key,
								   &below);
		if (ok)
			sb_printf(&sb, " WHEN %s THEN %d", below, i);
		free(below);
	}
	sb_printf(&sb, " ELSE %d END", g->n - 1);
	g->bucket = sb_steal(&sb);
	return ok;
}

static scan_group *
group_new(copy_run *run, int first, int n, long long nblocks)
{
	const plan *p = run->ctx->plan;
	scan_group *g = xcalloc(1, sizeof(scan_group));

	g->jobs = xcalloc((size_t) n, sizeof(copy_job *));
	g->n = n;
	g->nblocks = nblocks;
	g->nslices = nblocks < p->copy_jobs ? 1 : p->copy_jobs;
	pthread_mutex_init(&g->lock, NULL);
	for (int i = 0; i < n; i++)
	{
		copy_job   *j = &run->jobs[first + i];

		g->jobs[i] = j;
		j->group = g;
		j->sink = xcalloc((size_t) p->nshards, sizeof(pgr_conn *));
		j->sink_rows = xcalloc((size_t) p->nshards, sizeof(long long));
		j->sink_bytes = xcalloc((size_t) p->nshards, sizeof(long long));
		pthread_mutex_init(&j->sink_lock, NULL);
	}
	return g;
}

/* Group the shareable runs of chunks that start at jobs[r]; returns the
 * jobs consumed. */
static int
group_run(copy_run *run, pgr_conn *src, int r, long long nblocks, bool *ok)
{
	int			max = run->ctx->plan->copy_jobs < CHUNK_GROUP_MAX ? run->ctx->plan->copy_jobs : CHUNK_GROUP_MAX;
	int			n = 1;
	scan_group *g;

	while (n < max && r + n < run->njobs && shareable(run, &run->jobs[r + n]) &&
		   continues(&run->jobs[r + n - 1], &run->jobs[r + n]))
		n++;
	g = group_new(run, r, n, nblocks);
	run->groups = xrealloc(run->groups, sizeof(scan_group *) * (size_t) (run->ngroups + 1));
	run->groups[run->ngroups++] = g;
	*ok = group_conditions(&run->tables[g->jobs[0]->table], src, g);
	return n;
}

/* The work list: each chunk, and each slice of each group at its first chunk. */
static void
make_work(copy_run *run)
{
	int			n = 0;

	run->work = xcalloc((size_t) run->njobs * (size_t) run->ctx->plan->copy_jobs + 1, sizeof(copy_work));
	for (int r = 0; r < run->njobs; r++)
	{
		copy_job   *j = &run->jobs[r];

		if (j->group == NULL)
			run->work[n++] = (copy_work) {j, NULL, 0};
		else if (j->group->jobs[0] == j)
			for (int s = 0; s < j->group->nslices; s++)
				run->work[n++] = (copy_work) {j, j->group, s};
	}
	run->nwork = n;
}

bool
copy_groups_build(copy_run *run)
{
	const plan *p = run->ctx->plan;
	const char *env = getenv("PGRESHARD_COPY_SHARED_SCAN");
	const char *mode = env && (strcmp(env, "on") == 0 || strcmp(env, "off") == 0) ? env : "auto";
	pgr_conn  **src = xcalloc((size_t) p->nsources, sizeof(pgr_conn *));
	bool		ok = true;
	int			last_table = -1, last_source = -1;
	bool		table_shared = false, announce = false;
	long long	nblocks = 0;

	for (int r = 0; ok && p->copy_jobs > 1 && strcmp(mode, "off") != 0 && r < run->njobs;)
	{
		copy_job   *j = &run->jobs[r];

		if (!shareable(run, j))
		{
			r++;
			continue;
		}
		if (j->table != last_table || j->source != last_source)
		{
			if (src[j->source] == NULL &&
				(src[j->source] = pgr_connect(p->source_dsns[j->source], run->ctx->sources[j->source].role,
											  PGR_CONN_READ_ONLY)) == NULL)
			{
				ok = false;
				break;
			}
			last_table = j->table;
			last_source = j->source;
			table_shared = announce = wants_shared(src[j->source], &run->tables[j->table], j, mode, &nblocks);
		}
		if (!table_shared)
		{
			r++;
			continue;
		}
		r += group_run(run, src[j->source], r, nblocks, &ok);
		if (announce)
			log_info("copy: table %s: its key is scattered over the table; %d workers read %d "
					 "neighbouring chunks at a time together, each a range of its blocks; %s",
					 run->tables[j->table].display, p->copy_jobs,
					 p->copy_jobs < CHUNK_GROUP_MAX ? p->copy_jobs : CHUNK_GROUP_MAX,
					 run->groups[run->ngroups - 1]->bk ? "pgreshard places each row in its chunk by its key"
					 : "the source names each row's chunk");
		announce = false;
	}
	for (int i = 0; i < p->nsources; i++)
		pgr_disconnect(src[i]);
	free(src);
	make_work(run);
	/* a group's sessions serve the next group: two groups' worth at most */
	if (run->ngroups > 0)
	{
		run->pool_cap = 2 * CHUNK_GROUP_MAX;
		run->pool = xcalloc((size_t) p->nshards, sizeof(pgr_conn **));
		run->npool = xcalloc((size_t) p->nshards, sizeof(int));
		for (int s = 0; s < p->nshards; s++)
			run->pool[s] = xcalloc((size_t) run->pool_cap, sizeof(pgr_conn *));
	}
	return ok;
}

char *
copy_group_slice_query(const copy_table *t, const scan_group *g, int slice)
{
	strbuf		w;
	char	   *sql;

	sb_init(&w);
	if (slice > 0)
		sb_printf(&w, "ctid >= '(%lld,0)'::tid", g->nblocks * slice / g->nslices);
	if (slice < g->nslices - 1)
		sb_printf(&w, "%sctid < '(%lld,0)'::tid", w.len ? " AND " : "", g->nblocks * (slice + 1) / g->nslices);
	if (g->where)
		sb_printf(&w, "%s%s", w.len ? " AND " : "", g->where);
	sql = xasprintf("COPY (SELECT %s%s%s FROM ONLY %s%s%s) TO STDOUT%s", g->bucket ? g->bucket : "",
					g->bucket ? ", " : "", t->select_list, t->qname, w.len ? " WHERE " : "", w.len ? w.data : "",
					t->binary ? " (FORMAT binary)" : "");
	sb_free(&w);
	return sql;
}

bool
copy_group_commit(copy_run *run, scan_group *g)
{
	apply_ctx  *ctx = run->ctx;
	copy_table *t = &run->tables[g->jobs[0]->table];

	/*
	 * Every chunk's COPY ended on every shard first: each shard finishes the
	 * rows it still has of all of them at once, where ending them one after
	 * the other waited for each in turn while the next group's rows were
	 * already arriving (a kill -9 then lost both groups).
	 */
	for (int i = 0; i < g->n; i++)
	{
		copy_job   *j = g->jobs[i];
		bool		ok = true;

		/* a chunk with no row for some shard still records itself there */
		for (int s = 0; ok && s < ctx->plan->nshards; s++)
			if (j->need[s] && j->sink[s] == NULL)
				ok = copy_sink_put(run, j, s, "", 0, 0);
		if (!ok || !copy_end_chunk_on_shards(t, j, j->sink, ctx->plan->nshards))
			return false;
	}
	for (int i = 0; i < g->n; i++)
	{
		copy_job   *j = g->jobs[i];

		if (!copy_record_chunk_on_shards(ctx, j, j->sink, j->sink_rows, j->sink_bytes))
			return false;
		for (int s = 0; s < ctx->plan->nshards; s++)
		{
			copy_pool_give(run, s, j->sink[s]);
			j->sink[s] = NULL;
		}
		t->chunks_done++;
		log_debug("copy: table %s, chunk %d of %d done", t->display, j->chunk + 1, t->chunks_total);
		if (run->chunk_delay_ms > 0)
		{
			struct timespec ts = {run->chunk_delay_ms / 1000, (run->chunk_delay_ms % 1000) * 1000000L};

			nanosleep(&ts, NULL);
		}
	}
	return true;
}

pgr_conn *
copy_pool_take(copy_run *run, int s)
{
	pgr_conn   *c = NULL;

	pthread_mutex_lock(&run->lock);
	if (run->npool && run->npool[s] > 0)
		c = run->pool[s][--run->npool[s]];
	pthread_mutex_unlock(&run->lock);
	return c ? c : copy_shard_session(run->ctx, s);
}

void
copy_pool_give(copy_run *run, int s, pgr_conn *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&run->lock);
	if (run->npool && run->npool[s] < run->pool_cap)
	{
		run->pool[s][run->npool[s]++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&run->lock);
	pgr_disconnect(c);
}

void
copy_groups_free(copy_run *run)
{
	for (int s = 0; run->pool && s < run->ctx->plan->nshards; s++)
	{
		for (int i = 0; i < run->npool[s]; i++)
			pgr_disconnect(run->pool[s][i]);
		free(run->pool[s]);
	}
	free(run->pool);
	free(run->npool);
	run->pool = NULL;
	run->npool = NULL;
	for (int i = 0; i < run->ngroups; i++)
	{
		scan_group *g = run->groups[i];

		for (int k = 0; k < g->n; k++)
		{
			copy_job   *j = g->jobs[k];

			for (int s = 0; j->sink && s < run->ctx->plan->nshards; s++)
				pgr_disconnect(j->sink[s]);	/* unfinished: rolled back */
			free(j->sink);
			free(j->sink_rows);
			free(j->sink_bytes);
			pthread_mutex_destroy(&j->sink_lock);
		}
		pthread_mutex_destroy(&g->lock);
		free(g->jobs);
		free(g->where);
		free(g->bucket);
		copy_bucket_free(g->bk);
		free(g);
	}
	free(run->groups);
	free(run->work);
	run->groups = NULL;
	run->work = NULL;
	run->ngroups = run->nwork = 0;
}
