/*
 * lint_copy.c — what the copy will read from the source.
 *
 * A table whose chunk key is scattered over its heap (uuid, hashes, slugs:
 * |pg_stats.correlation| below 0.5) has rows of every key range on nearly
 * every block, so reading one chunk means reading the whole table.  The
 * copy reads such a table by shared scans (runner/copy/copy_group.c): a
 * group of chunks per pass over all of its blocks: as few passes as keep
 * each pass's chunks under copy.scan_pass_size (default 8 GiB), at most
 * copy.scan_passes (default 4).  A plan that lets it take more (a larger
 * copy.scan_passes with a smaller copy.scan_pass_size), or reads each
 * chunk alone (copy.jobs 1: no shared scans; a replicated table; a source
 * before PostgreSQL 14), reads a table of many chunks many times over -- a
 * 100 GB uuid-keyed table in chunks of 1M rows read alone, ~1000 times.
 * plan says so, with the setting that bounds it, when a table would be read
 * more than MAX_PASSES times.
 */
#include <math.h>
#include <stdlib.h>

#include "chunking.h"
#include "inspect.h"
#include "units.h"
#include "xalloc.h"

#define MAX_PASSES 4

static const char sql_key_order[] =
	CHUNK_KEY_INDEX_CTE
	"SELECT a.attname, s.correlation FROM k "
	"JOIN pg_attribute a ON a.attrelid = $1::regclass AND a.attnum = k.indkey[0] "
	"LEFT JOIN pg_stats s ON s.schemaname = $2 AND s.tablename = $3 AND s.attname = a.attname "
	"  AND NOT s.inherited";

/*
 * What bounds a shared scan's passes over a table of bytes and rows in n
 * chunks: copy.scan_passes, or a copy.scan_pass_size of a quarter of the
 * table (a whole number of MB or GB, rounded up, as the plan file takes
 * it) -- or, when a pass holds CHUNK_GROUP_MAX chunks before either binds,
 * larger chunks.
 */
static char *
pass_fix(const plan *p, double bytes, double rows, long long n)
{
	double		quarter = ceil(bytes / MAX_PASSES);
	char		size[32];

	if (chunk_scattered_passes(n, p->copy_jobs, MAX_PASSES, bytes, 0, true) > MAX_PASSES)
		return xasprintf("set copy.chunk_rows to about %.0f or more (a pass reads %d chunks at most)",
						 ceil(rows / (MAX_PASSES * (double) CHUNK_GROUP_MAX)), CHUNK_GROUP_MAX);
	if (quarter >= 1024.0 * 1024 * 1024)
		snprintf(size, sizeof(size), "%.0fGB", ceil(quarter / (1024.0 * 1024 * 1024)));
	else
		snprintf(size, sizeof(size), "%.0fMB", fmax(1.0, ceil(quarter / (1024.0 * 1024))));
	return xasprintf("set copy.scan_passes to %d or less, or copy.scan_pass_size to %s or more (a pass's "
					 "chunks are recorded done together: a crash that ends the copy's snapshot, a restart "
					 "of the source, loses up to a pass)", MAX_PASSES, size);
}

static bool
lint_table_reads(const plan *p, pgr_conn *c, const server_info *s, int ti, catalog *cat)
{
	const plan_table *pt = &p->tables[ti];
	const src_table *t = &cat->tables[ti];
	int			nsrc = pt->replicate ? 1 : p->nsources;
	double		rows = t->rows / nsrc;
	long long	n = chunk_count(rows, p->copy_chunk_rows, p->copy_jobs);
	char	   *q;
	const char *params[3];
	PGresult   *res;

	if (!t->exists || t->partitioned || n <= 1)
		return true;
	q = pgr_quote_qualified(c, pt->schema, pt->relname);
	params[0] = q;
	params[1] = pt->schema;
	params[2] = pt->relname;
	res = pgr_query(c, "reading the order of the table's chunk key", sql_key_order, 3, params);
	free(q);
	if (res == NULL)
		return false;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 1) &&
		fabs(atof(PQgetvalue(res, 0, 1))) < CHUNK_SCATTERED_CORRELATION)
	{
		bool		shared = s->version_num >= 140000 && !pt->replicate && p->copy_jobs > 1;
		long long	passes = chunk_scattered_passes(n, p->copy_jobs, p->copy_scan_passes,
													   (double) t->bytes / nsrc, p->copy_scan_pass_size, shared);

		if (passes > MAX_PASSES)
		{
			char	   *name = table_display(pt);
			char		b1[32], b2[32];
			char	   *fix = !shared ? NULL : pass_fix(p, (double) t->bytes / nsrc, rows, n);

			if (fix == NULL)
				fix = xasprintf("%s; or set copy.chunk_rows to about %.0f: 2 chunks, each read alone",
								pt->replicate ? "a replicated table's chunks are always read alone"
								: s->version_num < 140000 ? "shared scans need PostgreSQL 14 on the source"
								: "set copy.jobs to 2 or more: its chunks are then read by shared scans, "
								"copy.scan_passes passes at most", ceil(rows / 2.0));

			catalog_add_finding(cat, FINDING_WARNING, name, fix,
								"its chunk key (%s) is scattered over the table (pg_stats.correlation %.2f), so "
								"every pass reads all of its blocks: %lld chunks of copy.chunk_rows %lld, %s, are "
								"%lld passes over its %s%s -- %s read from %s",
								PQgetvalue(res, 0, 0), atof(PQgetvalue(res, 0, 1)), n, (long long) p->copy_chunk_rows,
								shared ? "read by shared scans" : "each read alone",
								passes, format_bytes((double) t->bytes / nsrc, b1, sizeof(b1)),
								nsrc > 1 ? " per source" : "",
								format_bytes((double) passes * (double) t->bytes / nsrc, b2, sizeof(b2)),
								nsrc > 1 ? "each source" : "the source");
			free(fix);
			free(name);
		}
	}
	PQclear(res);
	return true;
}

bool
lint_copy_reads(const plan *p, pgr_conn *c, const server_info *s, catalog *cat)
{
	bool		ok = true;

	for (int ti = 0; ok && ti < p->ntables; ti++)
		ok = lint_table_reads(p, c, s, ti, cat);
	return ok;
}
