/*
 * copy_scan.c — a shared scan's progress on the shards: each slice commits
 * its rows round by round, so a kill -9 loses a round, not a pass.
 *
 * A slice of a shared scan reads its range of the table's blocks in rounds
 * (copy_group.c); after each round it commits, on every shard that misses
 * the group, the round's rows with its pgreshard.scan_progress row: the
 * rounds it has done there and what it holds of each chunk.  Under the
 * same snapshot, a row's block does not change, so a rerun that reads
 * under that snapshot again (kept by a keeper process after the runner
 * died, runner/prepare/snapshot_keeper.c) can continue each slice on each
 * shard after the rounds it committed there: the rows already there are
 * exactly those of the rounds done.  Under any other snapshot the blocks
 * are not the same rows (an UPDATE moves a row), so the marks are void: a
 * rerun deletes the group's rows from the shard (each chunk's own key
 * range, chunks already done there excepted) with the marks, in one
 * transaction, before any worker starts, and copies the group again.
 *
 * A chunk is recorded done on a shard (chunks_done, DESIGN.md invariant 2)
 * when every slice of its group has committed every round there: the slice
 * that commits the last round takes a lock on the group (an advisory lock
 * for the transaction), then, seeing the other slices' rows committed, sums
 * their counts into the group's chunks_done rows and deletes the marks, in
 * the transaction of its last round.  Two slices ending together take the
 * lock in turn, and the second sees the first's row: one of them records.
 * The shard transactions run READ COMMITTED (shard_copy_begin), which that
 * relies on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk_key.h"
#include "copy.h"
#include "log.h"
#include "xalloc.h"

static bool
parse_counts(const char *lit, long long *out, int n)
{
	char	  **v = NULL;
	int			nv = 0;
	bool		ok = pgarray_decode(lit, &v, &nv) && nv == n;

	for (int i = 0; ok && i < n; i++)
		out[i] = v[i] ? atoll(v[i]) : 0;
	pgarray_free(v, nv);
	return ok;
}

bool
copy_scan_marks_load(copy_run *run)
{
	const plan *p = run->ctx->plan;
	const char *params[1] = {p->name};
	bool		ok = true;

	for (int s = 0; ok && s < p->nshards; s++)
	{
		pgr_conn   *c = connect_shard(p, s);
		PGresult   *res = c ? pgr_query(c, "reading the shared scans' progress",
										"SELECT source, table_index, first_chunk, slice, nchunks, nslices, nblocks, "
										"rounds, snapshot_lsn, rounds_done, rows, bytes "
										"FROM pgreshard.scan_progress WHERE plan_name = $1", 1, params) : NULL;

		ok = res != NULL;
		for (int r = 0; ok && r < PQntuples(res); r++)
		{
			scan_mark  *m;

			run->marks = xrealloc(run->marks, sizeof(scan_mark) * (size_t) (run->nmarks + 1));
			m = &run->marks[run->nmarks++];
			memset(m, 0, sizeof(*m));
			m->shard = s;
			m->source = atoi(PQgetvalue(res, r, 0));
			m->table = atoi(PQgetvalue(res, r, 1));
			m->first = atoi(PQgetvalue(res, r, 2));
			m->slice = atoi(PQgetvalue(res, r, 3));
			m->nchunks = atoi(PQgetvalue(res, r, 4));
			m->nslices = atoi(PQgetvalue(res, r, 5));
			m->nblocks = atoll(PQgetvalue(res, r, 6));
			m->rounds = atoi(PQgetvalue(res, r, 7));
			m->rounds_done = atoi(PQgetvalue(res, r, 9));
			m->rows = xcalloc((size_t) m->nchunks + 1, sizeof(long long));
			m->bytes = xcalloc((size_t) m->nchunks + 1, sizeof(long long));
			if (m->nchunks < 1 || m->nslices < 1 || m->rounds < 1 || m->slice < 0 || m->slice >= m->nslices ||
				m->table < 0 || m->table >= p->ntables || m->source < 0 || m->source >= p->nsources ||
				!lsn_parse(PQgetvalue(res, r, 8), &m->lsn) ||
				!parse_counts(PQgetvalue(res, r, 10), m->rows, m->nchunks) ||
				!parse_counts(PQgetvalue(res, r, 11), m->bytes, m->nchunks))
			{
				log_error("shard %d: pgreshard.scan_progress holds a malformed row (table %d, chunk %d, slice %d); "
						  "run `pgreshard cleanup` and apply again", s, m->table, m->first + 1, m->slice);
				ok = false;
			}
		}
		PQclear(res);
		pgr_disconnect(c);
	}
	return ok;
}

const scan_mark *
copy_scan_mark_find(const copy_run *run, int source, int table, int first)
{
	for (int i = 0; i < run->nmarks; i++)
	{
		const scan_mark *m = &run->marks[i];

		if (m->source == source && m->table == table && m->first == first &&
			m->lsn == run->ctx->sources[source].snapshot_lsn)
			return m;
	}
	return NULL;
}

void
copy_scan_resume(copy_run *run, scan_group *g)
{
	const copy_job *j0 = g->jobs[0];
	int			nshards = run->ctx->plan->nshards;

	for (int i = 0; i < run->nmarks; i++)
	{
		scan_mark  *m = &run->marks[i];
		size_t		at = ((size_t) m->slice * (size_t) nshards + (size_t) m->shard);

		if (m->source != j0->source || m->table != j0->table || m->first != j0->chunk ||
			m->lsn != run->ctx->sources[j0->source].snapshot_lsn || m->nchunks != g->n ||
			m->nslices != g->nslices || m->rounds != g->rounds || m->nblocks != g->nblocks ||
			m->rounds_done > g->rounds || !g->need[m->shard])
			continue;
		m->used = true;
		g->resumed = true;
		g->from_round[at] = m->rounds_done;
		for (int b = 0; b < g->n; b++)
		{
			g->rows[at * (size_t) g->n + (size_t) b] = m->rows[b];
			g->bytes[at * (size_t) g->n + (size_t) b] = m->bytes[b];
		}
	}
}

/* The job of chunk c of table (source), or NULL (done on every shard). */
static const copy_job *
job_of(const copy_run *run, int source, int table, int c)
{
	for (int r = 0; r < run->njobs; r++)
		if (run->jobs[r].source == source && run->jobs[r].table == table && run->jobs[r].chunk == c)
			return &run->jobs[r];
	return NULL;
}

/*
 * Delete on shard s the rows of the group of mark m (chunks done there
 * excepted) and its marks there, in one transaction, as an apply worker
 * writes (session_replication_role = replica: no trigger or foreign-key
 * action fires).  With several sources a chunk's key range is the same
 * range of every source, and a shard's rows do not say which source they
 * came from: the table is then emptied on that shard with every source's
 * chunks_done and scan_progress rows, and copied again whole there, as a
 * keyless table partly copied is (*whole set: the jobs must be read
 * again).
 */
static bool
clear_group(copy_run *run, const scan_mark *m, bool *whole)
{
	const plan *p = run->ctx->plan;
	const copy_table *t = &run->tables[m->table];
	pgr_conn   *c;
	long long	deleted = 0;
	char		src_s[16], ti_s[16], first_s[16];
	const char *params[4] = {p->name, ti_s, src_s, first_s};
	bool		ok;

	if (p->nsources > 1)
	{
		ok = copy_empty_on_shard(run, m->table, m->shard, &deleted);
		if (ok)
			log_info("copy: table %s: shard %d held rows of a shared scan interrupted under another snapshot; "
					 "several sources share its key ranges, so its %lld row(s) there were removed and it is "
					 "copied there again whole", t->display, m->shard, deleted);
		*whole = *whole || ok;
		return ok;
	}
	c = connect_shard(p, m->shard);
	ok = c != NULL &&
		pgr_exec(c, "clearing an interrupted shared scan", "BEGIN; SET LOCAL session_replication_role = replica",
				 0, NULL);
	for (int k = 0; ok && k < m->nchunks; k++)
	{
		const copy_job *j = job_of(run, m->source, m->table, m->first + k);
		char	   *sql;
		PGresult   *res;

		if (j == NULL || !j->need[m->shard])
			continue;			/* done there: its rows stay */
		sql = j->where ? xasprintf("DELETE FROM ONLY %s WHERE %s", t->qname, j->where)
			: xasprintf("DELETE FROM ONLY %s", t->qname);
		res = pgr_query(c, "clearing an interrupted shared scan's rows", sql, 0, NULL);
		free(sql);
		ok = res != NULL;
		if (ok)
			deleted += atoll(PQcmdTuples(res));
		PQclear(res);
	}
	snprintf(src_s, sizeof(src_s), "%d", m->source);
	snprintf(ti_s, sizeof(ti_s), "%d", m->table);
	snprintf(first_s, sizeof(first_s), "%d", m->first);
	ok = ok && pgr_exec(c, "clearing an interrupted shared scan",
						"DELETE FROM pgreshard.scan_progress WHERE plan_name = $1 AND table_index = $2::int "
						"AND source = $3::int AND first_chunk = $4::int", 4, params) &&
		pgr_exec(c, "clearing an interrupted shared scan", "COMMIT", 0, NULL);
	if (ok)
		log_info("copy: table %s, chunks %d to %d: shard %d held %lld row(s) of a shared scan interrupted under "
				 "another snapshot; removed, the chunks are copied again", t->display, m->first + 1,
				 m->first + m->nchunks, m->shard, deleted);
	pgr_disconnect(c);
	return ok;
}

bool
copy_scan_clear_unused(copy_run *run, bool *reload)
{
	bool		ok = true, several = run->ctx->plan->nsources > 1;

	*reload = false;
	for (int i = 0; ok && i < run->nmarks; i++)
	{
		scan_mark  *m = &run->marks[i];
		bool		seen = false;

		if (m->used)
			continue;
		/* once per group and shard; with several sources, once per table and shard */
		for (int k = 0; k < i && !seen; k++)
			seen = !run->marks[k].used && run->marks[k].shard == m->shard && run->marks[k].table == m->table &&
				(several || (run->marks[k].source == m->source && run->marks[k].first == m->first));
		if (!seen)
			ok = clear_group(run, m, reload);
	}
	return ok;
}

void
copy_scan_marks_free(copy_run *run)
{
	for (int i = 0; i < run->nmarks; i++)
	{
		free(run->marks[i].rows);
		free(run->marks[i].bytes);
	}
	free(run->marks);
	run->marks = NULL;
	run->nmarks = 0;
}

/* "{a,b,...}" of n counts */
static void
counts_literal(strbuf *sb, const long long *v, int n)
{
	sb_append(sb, "{");
	for (int i = 0; i < n; i++)
		sb_printf(sb, "%s%lld", i ? "," : "", v[i]);
	sb_append(sb, "}");
}

bool
copy_scan_send_round(apply_ctx *ctx, const scan_group *g, pgr_conn *d, int shard, int slice, int done,
					 const long long *rows, const long long *bytes)
{
	const copy_job *j0 = g->jobs[0];
	bool		last = done == g->rounds;
	char		lsn[32];
	strbuf		sql, rl, bl, need, grp, lock;
	char	   *name, *lsn_lit, *key, *key_lit;
	bool		ok;

	lsn_format(ctx->sources[j0->source].snapshot_lsn, lsn, sizeof(lsn));
	name = pgr_quote_literal(d, ctx->plan->name);
	lsn_lit = pgr_quote_literal(d, lsn);
	key = xasprintf("pgreshard scan %s/%d/%d", ctx->plan->name, j0->source, j0->table);
	key_lit = pgr_quote_literal(d, key);
	sb_init(&sql);
	sb_init(&rl);
	sb_init(&bl);
	sb_init(&need);
	sb_init(&grp);
	sb_init(&lock);
	counts_literal(&rl, rows, g->n);
	counts_literal(&bl, bytes, g->n);
	sb_printf(&grp, "plan_name = %s::text AND source = %d AND table_index = %d AND first_chunk = %d", name,
			  j0->source, j0->table, j0->chunk);
	/* the last round: the group locked by the upsert (a FROM item), so the
	 * statements after it see every slice that committed before */
	if (last)
		sb_printf(&lock, " FROM (SELECT pg_advisory_xact_lock(hashtext(%s), %d)) AS l", key_lit, j0->chunk);
	sb_printf(&sql,
			  "INSERT INTO pgreshard.scan_progress (plan_name, source, table_index, first_chunk, slice, nchunks, "
			  "nslices, nblocks, rounds, snapshot_lsn, rounds_done, rows, bytes) "
			  "SELECT %s::text, %d, %d, %d, %d, %d, %d, %lld, %d, %s::pg_lsn, %d, '%s'::bigint[], '%s'::bigint[]%s "
			  "ON CONFLICT (plan_name, source, table_index, first_chunk, slice) DO UPDATE SET "
			  "rounds_done = excluded.rounds_done, rows = excluded.rows, bytes = excluded.bytes",
			  name, j0->source, j0->table, j0->chunk, slice, g->n, g->nslices, g->nblocks, g->rounds, lsn_lit, done,
			  rl.data, bl.data, lock.data);
	if (last)
	{
		strbuf		all;

		sb_init(&all);
		for (int b = 0; b < g->n; b++)
			if (g->jobs[b]->need[shard])
				sb_printf(&need, "%s%d", need.len ? "," : "", b + 1);
		sb_printf(&all, "(SELECT count(*) FROM pgreshard.scan_progress WHERE %s AND rounds_done = %d) = %d",
				  grp.data, g->rounds, g->nslices);
		sb_printf(&sql,
				  "; INSERT INTO pgreshard.chunks_done (plan_name, source, table_index, chunk, rows, bytes, snapshot_lsn) "
				  "SELECT %s::text, %d, %d, %d + u.i - 1, u.r, u.b, %s::pg_lsn FROM "
				  "(SELECT i, sum(p.rows[i]) AS r, sum(p.bytes[i]) AS b FROM pgreshard.scan_progress p, "
				  "generate_subscripts(p.rows, 1) AS i WHERE %s GROUP BY i) AS u "
				  "WHERE u.i = ANY('{%s}'::int[]) AND %s"
				  "; DELETE FROM pgreshard.scan_progress WHERE %s AND %s",
				  name, j0->source, j0->table, j0->chunk, lsn_lit, grp.data, need.data, all.data, grp.data, all.data);
		sb_free(&all);
	}
	sb_append(&sql, "; COMMIT");
	ok = PQsendQuery(d->pg, sql.data) == 1;
	if (!ok)
		pgr_report_conn(d, "recording a shared scan's round");
	free(name);
	free(lsn_lit);
	free(key);
	free(key_lit);
	sb_free(&sql);
	sb_free(&rl);
	sb_free(&bl);
	sb_free(&need);
	sb_free(&grp);
	sb_free(&lock);
	return ok;
}
