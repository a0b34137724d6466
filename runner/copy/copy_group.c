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
 * range, each row placed in its chunk (by pgreshard, or by the source).  A
 * group of G chunks costs one pass; the work in flight is that group.  G is
 * copy.jobs, or more when the table's chunks would otherwise take more than
 * copy.scan_passes passes (chunking.h): with many chunks, a pass per
 * copy.jobs of them read a large table hundreds of times.  A group's rows go
 * into copy.jobs lanes per shard (or G, when fewer): a lane is one
 * transaction holding every copy.jobs-th chunk of the group, its COPY fed by
 * every worker, so each shard takes the group on copy.jobs sessions at once
 * and the sessions do not grow with G.
 *
 * What a chunk holds does not change (DESIGN.md invariant 4): its rows are
 * the rows whose key satisfies the chunk's own bounds — the same literals,
 * the same operators in the column's type and collation, evaluated by the
 * same source — under the same snapshot (every slice imports it), and the
 * block ranges partition the rows visible under that snapshot.  Each chunk
 * is recorded on each shard with its own chunks_done row (its own rows and
 * bytes), in the transaction that holds its rows, as a chunk read alone
 * is; rows of a chunk already on a shard are not sent there again.
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

/*
 * The source's CASE naming the chunk (lo..hi) of a row: a binary search
 * over the chunks' own upper bounds (a row is in chunk mid or before when
 * its key is below chunk mid's upper bound), log2 of the group's chunks
 * comparisons per row however many chunks it has.
 */
static bool
bucket_case(pgr_conn *c, const scan_group *g, int lo, int hi, strbuf *sb)
{
	const copy_job *a = g->jobs[0];
	int			mid = lo + (hi - lo) / 2;
	char	   *below = NULL;
	bool		ok;

	if (lo == hi)
	{
		sb_printf(sb, "%d", lo);
		return true;
	}
	/* the chunk's own upper bound, as its WHERE compares it */
	ok = copy_chunk_where_text(c, "key", a->key_cols, a->key_types, a->key_colls, NULL, g->jobs[mid]->hi_key,
							   &below);
	if (ok)
	{
		sb_printf(sb, "CASE WHEN %s THEN ", below);
		ok = bucket_case(c, g, lo, mid, sb);
		sb_append(sb, " ELSE ");
		ok = ok && bucket_case(c, g, mid + 1, hi, sb);
		sb_append(sb, " END");
	}
	free(below);
	return ok;
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
	ok = bucket_case(c, g, 0, g->n - 1, &sb);
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
		j->sink_rows = xcalloc((size_t) p->nshards, sizeof(long long));
		j->sink_bytes = xcalloc((size_t) p->nshards, sizeof(long long));
	}
	g->nlanes = n < p->copy_jobs ? n : p->copy_jobs;
	g->nsinks = p->nshards * g->nlanes;
	g->need = xcalloc((size_t) g->nsinks, sizeof(bool));
	g->sink = xcalloc((size_t) g->nsinks, sizeof(pgr_conn *));
	g->sink_lock = xcalloc((size_t) g->nsinks, sizeof(pthread_mutex_t));
	for (int q = 0; q < g->nsinks; q++)
	{
		pthread_mutex_init(&g->sink_lock[q], NULL);
		for (int i = q % g->nlanes; i < n; i += g->nlanes)
			g->need[q] = g->need[q] || g->jobs[i]->need[q / g->nlanes];
	}
	return g;
}

/* The chunks of the table of jobs[r] a shared scan may read: the
 * shareable ones of its source, from r on. */
static long long
table_chunks(const copy_run *run, int r)
{
	long long	n = 0;

	for (int i = r; i < run->njobs; i++)
		if (run->jobs[i].table == run->jobs[r].table && run->jobs[i].source == run->jobs[r].source &&
			shareable(run, &run->jobs[i]))
			n++;
	return n;
}

/* Group the shareable run of chunks that starts at jobs[r], max of them at
 * most; returns the jobs consumed. */
static int
group_run(copy_run *run, pgr_conn *src, int r, long long nblocks, long long max, bool *ok)
{
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
	long long	nblocks = 0, nchunks = 0, group = 1;

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
		if (announce)
		{
			nchunks = table_chunks(run, r);
			group = chunk_group_size(nchunks, p->copy_jobs, p->copy_scan_passes);
		}
		r += group_run(run, src[j->source], r, nblocks, group, &ok);
		if (announce)
			log_info("copy: table %s: its key is scattered over the table; %d workers read up to %lld "
					 "neighbouring chunks at a time together, each a range of its blocks (%lld chunk(s) to "
					 "copy: %lld pass(es) over the table); %s",
					 run->tables[j->table].display, p->copy_jobs, group, nchunks, (nchunks + group - 1) / group,
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
		run->pool_cap = 2 * p->copy_jobs;
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

/*
 * Send, without waiting, the INSERT recording every chunk of sink q's lane
 * that its shard still missed, in the transaction that holds their rows
 * (one chunks_done row each), and the COMMIT: one round trip.  A
 * multi-statement string has no parameters, so the values are literals
 * quoted by libpq (the arrays hold numbers only).  commit false: the
 * INSERT alone (the testing delay commits one sink at a time).
 */
static bool
send_record(apply_ctx *ctx, const scan_group *g, int q, bool commit)
{
	int			s = q / g->nlanes;
	const copy_job *j0 = g->jobs[0];
	pgr_conn   *d = g->sink[q];
	char		lsn[32];
	strbuf		chunks, rows, bytes;
	char	   *name, *lsn_lit, *sql;
	bool		ok;

	lsn_format(ctx->sources[j0->source].snapshot_lsn, lsn, sizeof(lsn));
	sb_init(&chunks);
	sb_init(&rows);
	sb_init(&bytes);
	for (int i = q % g->nlanes; i < g->n; i += g->nlanes)
		if (g->jobs[i]->need[s])
		{
			const char *sep = chunks.len ? "," : "{";

			sb_printf(&chunks, "%s%d", sep, g->jobs[i]->chunk);
			sb_printf(&rows, "%s%lld", sep, g->jobs[i]->sink_rows[s]);
			sb_printf(&bytes, "%s%lld", sep, g->jobs[i]->sink_bytes[s]);
		}
	sb_append(&chunks, "}");
	sb_append(&rows, "}");
	sb_append(&bytes, "}");
	name = pgr_quote_literal(d, ctx->plan->name);
	lsn_lit = pgr_quote_literal(d, lsn);
	sql = xasprintf("INSERT INTO pgreshard.chunks_done (plan_name, source, table_index, chunk, rows, bytes, "
					"snapshot_lsn) SELECT %s::text, %d, %d, u.c, u.r, u.b, %s::pg_lsn "
					"FROM unnest('%s'::int[], '%s'::bigint[], '%s'::bigint[]) AS u(c, r, b)%s",
					name, j0->source, j0->table, lsn_lit, chunks.data, rows.data, bytes.data,
					commit ? "; COMMIT" : "");
	ok = PQsendQuery(d->pg, sql) == 1;
	if (!ok)
		pgr_report_conn(d, "recording the chunks");
	free(sql);
	free(name);
	free(lsn_lit);
	sb_free(&chunks);
	sb_free(&rows);
	sb_free(&bytes);
	return ok;
}

/* Sink q committed: its session back to the pool. */
static void
sink_done(copy_run *run, scan_group *g, int q)
{
	const copy_table *t = &run->tables[g->jobs[0]->table];

	copy_pool_give(run, q / g->nlanes, g->sink[q]);
	g->sink[q] = NULL;
	log_debug("copy: table %s, chunks %d to %d (lane %d of %d) done on shard %d", t->display,
			  g->jobs[0]->chunk + 1, g->jobs[g->n - 1]->chunk + 1, q % g->nlanes + 1, g->nlanes, q / g->nlanes);
}

bool
copy_group_commit(copy_run *run, scan_group *g)
{
	copy_table *t = &run->tables[g->jobs[0]->table];
	bool		delay = run->chunk_delay_ms > 0;

	/*
	 * Every sink's COPY ended first; then, as each one's rows are in, its
	 * chunks recorded and committed in one round trip, sent before the next
	 * sink is awaited; then the answers.  The shards finish the rows they
	 * still have, and commit, in parallel: the time in which a kill -9 finds
	 * the group committed on some sessions and not on others is one commit,
	 * not one per sink.  A sink with no row still records its chunks.  (With
	 * the testing delay, the sinks commit one after the other, a pause after
	 * each.)
	 */
	for (int q = 0; q < g->nsinks; q++)
		if (g->need[q] && ((g->sink[q] == NULL && !copy_sink_open(run, g, q)) || !copy_end_on(t, g->sink[q])))
			return false;
	for (int q = 0; q < g->nsinks; q++)
		if (g->need[q] && (!copy_results_ok(g->sink[q], "writing rows") || !send_record(run->ctx, g, q, !delay)))
			return false;
	for (int q = 0; q < g->nsinks; q++)
	{
		if (!g->need[q])
			continue;
		if (!copy_results_ok(g->sink[q], "recording and committing the chunks"))
			return false;
		if (delay)
		{
			struct timespec ts = {run->chunk_delay_ms / 1000, (run->chunk_delay_ms % 1000) * 1000000L};

			if (!pgr_exec(g->sink[q], "committing the chunks", "COMMIT", 0, NULL))
				return false;
			nanosleep(&ts, NULL);
		}
		sink_done(run, g, q);
	}
	t->chunks_done += g->n;
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
			free(g->jobs[k]->sink_rows);
			free(g->jobs[k]->sink_bytes);
		}
		for (int q = 0; q < g->nsinks; q++)
		{
			pgr_disconnect(g->sink[q]);	/* unfinished: rolled back */
			pthread_mutex_destroy(&g->sink_lock[q]);
		}
		free(g->sink);
		free(g->need);
		free(g->sink_lock);
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
