/*
 * stream_partitions.c — partitions created or attached on the source during
 * the move (the monthly partition job) reach the shards before their rows.
 *
 * The schema steps created every partition that existed then.  Later ones:
 *
 *   - when the stream starts (every apply, every reconnect) it reads the
 *     partitions of the moved partitioned tables from the source and creates
 *     on each shard those it lacks (CREATE TABLE ... PARTITION OF ... FOR
 *     VALUES ..., with PARTITION BY for a sub-partitioned one; the parent's
 *     partitioned indexes and constraints follow by themselves);
 *   - with publish_via_partition_root off, pgoutput announces a partition
 *     before its first change (Relation message): an unknown relation whose
 *     root is a moved table makes the stream read the partitions again and
 *     create the missing ones on every shard, in the shard's open apply
 *     transaction, ahead of the rows (a separate session would wait on the
 *     lock the apply transaction holds on the parent).
 *
 * With publish_via_partition_root on, rows of a partition the shards lack
 * arrive as the parent's: the shard refuses them ("no partition of relation
 * found"), the stream stops, and the next apply creates the partition when
 * the stream starts, then goes on.  A partition detached on the source stays
 * on the shards.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "stream.h"
#include "xalloc.h"

/* Partitions (every level, parents first) of the moved partitioned tables. */
static const char *const SQL_PARTITIONS =
	"SELECT n.nspname, c.relname, pn.nspname, pc.relname, pg_get_expr(c.relpartbound, c.oid), "
	"CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END, r.nspname, r.relname "
	"FROM (SELECT rc.oid, rn.nspname, rc.relname FROM pg_class rc JOIN pg_namespace rn ON rn.oid = rc.relnamespace "
	"      WHERE rc.relkind = 'p' AND NOT rc.relispartition) r "
	"CROSS JOIN LATERAL pg_partition_tree(r.oid) pt "
	"JOIN pg_class c ON c.oid = pt.relid JOIN pg_namespace n ON n.oid = c.relnamespace "
	"JOIN pg_inherits i ON i.inhrelid = c.oid JOIN pg_class pc ON pc.oid = i.inhparent "
	"JOIN pg_namespace pn ON pn.oid = pc.relnamespace "
	"WHERE pt.relid <> r.oid ORDER BY r.oid, pt.level, c.oid";

/* The partitions' CREATE statements and names, from the source. */
static bool
load(stream_reader *r, PGresult **out)
{
	const plan *p = r->ctx->plan;
	pgr_conn   *c = pgr_connect(r->dir->up_dsns[r->source], r->role, PGR_CONN_READ_ONLY);
	bool		any = false;

	*out = NULL;
	for (int i = 0; i < p->ntables; i++)
		any = any || catalog_table(r->ctx->cat, i)->partitioned;
	if (!any)
	{
		pgr_disconnect(c);
		return c != NULL;
	}
	if (c == NULL || (*out = pgr_query(c, "reading the partitions of the moved tables",
									   SQL_PARTITIONS, 0, NULL)) == NULL)
	{
		pgr_disconnect(c);
		return false;
	}
	pgr_disconnect(c);
	return true;
}

/* Row `row` of the partitions as CREATE TABLE on c's server (malloc'd). */
static char *
create_sql(pgr_conn *c, const PGresult *res, int row)
{
	char	   *child = pgr_quote_qualified(c, PQgetvalue(res, row, 0), PQgetvalue(res, row, 1));
	char	   *parent = pgr_quote_qualified(c, PQgetvalue(res, row, 2), PQgetvalue(res, row, 3));
	char	   *sql = xasprintf("CREATE TABLE IF NOT EXISTS %s PARTITION OF %s %s%s%s", child, parent,
								PQgetvalue(res, row, 4), PQgetisnull(res, row, 5) ? "" : " PARTITION BY ",
								PQgetisnull(res, row, 5) ? "" : PQgetvalue(res, row, 5));

	free(child);
	free(parent);
	return sql;
}

/* The row is a partition of a moved table. */
static bool
moved(const stream_reader *r, const PGresult *res, int row)
{
	return plan_table_index(r->ctx->plan, PQgetvalue(res, row, 6), PQgetvalue(res, row, 7)) >= 0;
}

bool
stream_partitions_sync(stream_reader *r)
{
	PGresult   *res;
	bool		ok;

	if (!load(r, &res))
		return false;
	ok = true;
	for (int s = 0; ok && res && s < r->dir->ndown; s++)
		for (int row = 0; ok && row < PQntuples(res); row++)
		{
			pgr_conn   *c = r->shards[s].conn;
			char	   *q = pgr_quote_qualified(c, PQgetvalue(res, row, 0), PQgetvalue(res, row, 1));
			const char *params[1] = {q};
			PGresult   *there;

			if (!moved(r, res, row))
			{
				free(q);
				continue;
			}
			there = pgr_query(c, "looking for a partition", "SELECT to_regclass($1) IS NOT NULL", 1, params);
			ok = there != NULL;
			if (ok && PQgetvalue(there, 0, 0)[0] == 'f')
			{
				char	   *sql = create_sql(c, res, row);

				ok = pgr_exec(c, "creating a partition made on the source during the move", sql, 0, NULL);
				if (ok)
					log_info("shard %d: partition %s created (made on the source during the move)", s, q);
				free(sql);
			}
			PQclear(there);
			free(q);
		}
	PQclear(res);
	return ok;
}

int
stream_partition_added(stream_reader *r, const char *schema, const char *name)
{
	PGresult   *res;
	int			ti = -1;

	if (r->dir->reverse)
		return -1;				/* the reverse publication publishes via the root */
	if (!load(r, &res))
		return -2;
	for (int row = 0; res && row < PQntuples(res) && ti < 0; row++)
		if (strcmp(PQgetvalue(res, row, 0), schema) == 0 && strcmp(PQgetvalue(res, row, 1), name) == 0 &&
			moved(r, res, row))
			ti = plan_table_index(r->ctx->plan, PQgetvalue(res, row, 6), PQgetvalue(res, row, 7));
	/* every partition of every moved table, parents first: IF NOT EXISTS keeps it cheap */
	for (int s = 0; ti >= 0 && s < r->dir->ndown; s++)
		for (int row = 0; row < PQntuples(res); row++)
		{
			char	   *sql;
			bool		ok;

			if (!moved(r, res, row))
				continue;
			sql = create_sql(r->shards[s].conn, res, row);
			ok = shard_send_sql(r, s, 'N', sql);
			free(sql);
			if (!ok)
			{
				PQclear(res);
				return -2;
			}
		}
	if (ti >= 0)
		log_info("%s: partition %s.%s made on the source during the move: created on every shard",
				 r->role, schema, name);
	PQclear(res);
	return ti;
}
