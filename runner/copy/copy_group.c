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
 * group of G chunks costs one pass.  G is as large as keeps a pass's
 * chunks under copy.scan_pass_size, within copy.scan_passes passes, and at
 * least copy.jobs (chunking.h): every pass reads every block of the table,
 * so a table up to 8 GB is read once.  A slice reads its blocks in rounds
 * (at least 8 where each sends 4 MiB, of 32 MiB at most: scan_rounds), and writes into one
 * transaction per shard of its own,
 * committed after each round with its progress (copy_scan.c): the work a
 * kill -9 loses is a round per slice when the rerun reads under the same
 * snapshot (runner/prepare/snapshot_keeper.c), else the groups in flight.
 * Each shard takes a group on J sessions, whatever G.
 *
 * What a chunk holds does not change (DESIGN.md invariant 4): its rows are
 * the rows whose key satisfies the chunk's own bounds — the same literals,
 * the same operators in the column's type and collation, evaluated by the
 * same source — under the same snapshot (every slice imports it), and the
 * block ranges partition the rows visible under that snapshot.  Each chunk
 * is recorded on each shard with its own chunks_done row (its own rows and
 * bytes), in the transaction that commits the group's last rows there,
 * once every slice's rounds there are committed (copy_scan.c); rows of a
 * chunk already on a shard are not sent there again.
 */
#include <math.h>
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
 * =off turns shared scans off.  *nblocks: the table's heap blocks now;
 * *bytes: its size with TOAST (what a pass copies).
 */
static bool
wants_shared(pgr_conn *src, const copy_table *t, const copy_job *j, const char *mode, long long *nblocks,
			 double *bytes)
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
						"pg_relation_size($4::regclass) / current_setting('block_size')::bigint, "
						"pg_table_size($4::regclass)",
						5, params);
	}
	pgarray_free(cols, ncols);
	if (res == NULL)
		return false;
	yes = strcmp(PQgetvalue(res, 0, 0), "t") == 0 &&
		(strcmp(mode, "on") == 0 || strcmp(PQgetvalue(res, 0, 1), "t") == 0);
	*nblocks = atoll(PQgetvalue(res, 0, 2));
	*bytes = atof(PQgetvalue(res, 0, 3));
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

/* A slice's rounds (chunking.h) for a group of n chunks of table t (their
 * share of its rows: chunks are balanced, the same key ranges on every
 * source); PGRESHARD_SCAN_ROUND_BLOCKS sets the blocks of a round. */
static int
scan_rounds(const copy_run *run, const copy_table *t, int n, long long slice_blocks)
{
	const char *env = getenv("PGRESHARD_SCAN_ROUND_BLOCKS");
	double		all = fmax((double) t->chunks_total / run->ctx->plan->nsources, 1.0);

	return chunk_scan_rounds(slice_blocks, fmin(1.0, (double) n / all), env ? atoll(env) : 0);
}

/* A group of n chunks from jobs[first]; resumed (a group an earlier run
 * began under this snapshot) gives its geometry. */
static scan_group *
group_new(copy_run *run, int first, int n, long long nblocks, const scan_mark *resumed)
{
	const plan *p = run->ctx->plan;
	scan_group *g = xcalloc(1, sizeof(scan_group));
	size_t		nslots;

	g->jobs = xcalloc((size_t) n, sizeof(copy_job *));
	g->n = n;
	g->nblocks = resumed ? resumed->nblocks : nblocks;
	g->nslices = resumed ? resumed->nslices : g->nblocks < p->copy_jobs ? 1 : p->copy_jobs;
	g->rounds = resumed ? resumed->rounds
		: scan_rounds(run, &run->tables[run->jobs[first].table], n, g->nblocks / g->nslices);
	g->need = xcalloc((size_t) p->nshards, sizeof(bool));
	for (int i = 0; i < n; i++)
	{
		copy_job   *j = &run->jobs[first + i];

		g->jobs[i] = j;
		j->group = g;
		for (int s = 0; s < p->nshards; s++)
			g->need[s] = g->need[s] || j->need[s];
	}
	nslots = (size_t) g->nslices * (size_t) p->nshards;
	g->from_round = xcalloc(nslots, sizeof(int));
	g->rows = xcalloc(nslots * (size_t) n, sizeof(long long));
	g->bytes = xcalloc(nslots * (size_t) n, sizeof(long long));
	if (resumed)
		copy_scan_resume(run, g);
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

/* Whether jobs[r] begins a group an earlier run left part-way under this
 * run's snapshot: its first mark, or NULL. */
static const scan_mark *
resumable(const copy_run *run, int r)
{
	const copy_job *j = &run->jobs[r];

	return run->nmarks ? copy_scan_mark_find(run, j->source, j->table, j->chunk) : NULL;
}

/* Group the shareable run of chunks that starts at jobs[r], max of them at
 * most (or the group an earlier run began there); a group never reaches
 * into one an earlier run began.  Returns the jobs consumed. */
static int
group_run(copy_run *run, pgr_conn *src, int r, long long nblocks, long long max, bool *ok)
{
	const scan_mark *m = resumable(run, r);
	int			n = 1;
	scan_group *g;

	if (m)
		max = m->nchunks;
	while (n < max && r + n < run->njobs && shareable(run, &run->jobs[r + n]) &&
		   continues(&run->jobs[r + n - 1], &run->jobs[r + n]) && (m || !resumable(run, r + n)))
		n++;
	if (m && n != m->nchunks)
		m = NULL;				/* not the chunks it had: copied again (copy_scan_clear_unused) */
	g = group_new(run, r, n, nblocks, m);
	run->groups = xrealloc(run->groups, sizeof(scan_group *) * (size_t) (run->ngroups + 1));
	run->groups[run->ngroups++] = g;
	*ok = group_conditions(&run->tables[g->jobs[0]->table], src, g);
	if (g->resumed)
		log_info("copy: table %s, chunks %d to %d: continuing the shared scan an earlier run began under "
				 "the same snapshot, after the rounds it committed", run->tables[g->jobs[0]->table].display,
				 g->jobs[0]->chunk + 1, g->jobs[g->n - 1]->chunk + 1);
	return n;
}

/* The work list: each chunk, and each slice of each group at its first chunk. */
static void
make_work(copy_run *run)
{
	int			n = 0;
	size_t		cap = (size_t) run->njobs + 1;

	/* a group continued from an earlier run keeps its slices, however many */
	for (int i = 0; i < run->ngroups; i++)
		cap += (size_t) run->groups[i]->nslices;
	run->work = xcalloc(cap, sizeof(copy_work));
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

/* Whether an earlier run left a group of table (source) part-way under
 * this run's snapshot. */
static bool
table_resumable(const copy_run *run, int source, int table)
{
	for (int i = 0; i < run->nmarks; i++)
		if (run->marks[i].source == source && run->marks[i].table == table &&
			run->marks[i].lsn == run->ctx->sources[source].snapshot_lsn)
			return true;
	return false;
}

bool
copy_groups_build(copy_run *run, bool resume)
{
	const plan *p = run->ctx->plan;
	const char *env = getenv("PGRESHARD_COPY_SHARED_SCAN");
	const char *mode = env && (strcmp(env, "on") == 0 || strcmp(env, "off") == 0) ? env : "auto";
	pgr_conn  **src = xcalloc((size_t) p->nsources, sizeof(pgr_conn *));
	bool		ok = !resume || copy_scan_marks_load(run);
	int			last_table = -1, last_source = -1;
	bool		table_shared = false, announce = false;
	long long	nblocks = 0, nchunks = 0, group = 1;
	double		bytes = 0;

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
			/* a table an earlier run began to read by shared scans goes on so */
			table_shared = announce = wants_shared(src[j->source], &run->tables[j->table], j,
												   table_resumable(run, j->source, j->table) ? "on" : mode,
												   &nblocks, &bytes);
		}
		if (!table_shared)
		{
			r++;
			continue;
		}
		if (announce)
		{
			const copy_table *t = &run->tables[j->table];
			/* the chunks left are this share of the table's bytes (the same
			 * key ranges on every source; a replicated table is never shared) */
			double		all = (double) t->chunks_total / p->nsources;

			nchunks = table_chunks(run, r);
			group = chunk_group_size(nchunks, p->copy_jobs, p->copy_scan_passes,
									 bytes * fmin(1.0, (double) nchunks / fmax(all, 1.0)), p->copy_scan_pass_size);
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
	/* what no group goes on with is removed before any worker starts */
	ok = ok && copy_scan_clear_unused(run, &run->reload);
	make_work(run);
	return ok;
}

char *
copy_group_round_query(const copy_table *t, const scan_group *g, int slice, int round)
{
	long long	a = g->nblocks * slice / g->nslices, b = g->nblocks * (slice + 1) / g->nslices;
	long long	lo = a + (b - a) * round / g->rounds, hi = a + (b - a) * (round + 1) / g->rounds;
	strbuf		w;
	char	   *sql;

	sb_init(&w);
	/* the first round of all from the table's start, the last one to its end
	 * (rows in blocks added after the scan was planned) */
	if (lo > 0)
		sb_printf(&w, "ctid >= '(%lld,0)'::tid", lo);
	if (slice < g->nslices - 1 || round < g->rounds - 1)
		sb_printf(&w, "%sctid < '(%lld,0)'::tid", w.len ? " AND " : "", hi);
	if (g->where)
		sb_printf(&w, "%s%s", w.len ? " AND " : "", g->where);
	sql = xasprintf("COPY (SELECT %s%s%s FROM ONLY %s%s%s) TO STDOUT%s", g->bucket ? g->bucket : "",
					g->bucket ? ", " : "", t->select_list, t->qname, w.len ? " WHERE " : "", w.len ? w.data : "",
					t->binary ? " (FORMAT binary)" : "");
	sb_free(&w);
	return sql;
}

void
copy_groups_free(copy_run *run)
{
	for (int i = 0; i < run->ngroups; i++)
	{
		scan_group *g = run->groups[i];

		free(g->need);
		free(g->from_round);
		free(g->rows);
		free(g->bytes);
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
	copy_scan_marks_free(run);
}
