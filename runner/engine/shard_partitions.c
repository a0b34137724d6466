/*
 * shard_partitions.c — partitions of the moved partitioned tables: read from
 * the source, created on the shards that lack them.
 *
 * When a partition is created on a shard matters, because of DEFAULT
 * partitions.  A row goes to the DEFAULT partition exactly while no other
 * partition takes it, so a shard must get a partition at the point of the
 * source's history where the source got it — never later (rows of it would
 * sit in the shard's DEFAULT, and PostgreSQL then refuses to create it
 * there), and never earlier (older rows that the source kept in its DEFAULT
 * would go to the new partition on the shard).  The three moments:
 *
 *   - the copy: before any row is copied, the partitions that existed at the
 *     copy's snapshot (read under that snapshot: plain catalog queries are
 *     MVCC), so every copied row lands in its own partition;
 *   - the stream: pgoutput announces a partition (Relation message) before
 *     the first change through it in every session, with
 *     publish_via_partition_root off and on alike (with it on, the root's
 *     message comes first, then the partition's); the stream creates it
 *     then, in the shard's open apply transaction, ahead of the change;
 *   - the cutover: once the stream is drained to the fence, the shards are
 *     the source, and partitions made during the move that never received a
 *     row are created, so the application finds them after the switch.
 *
 * Before creating a partition whose parent has a DEFAULT partition, the
 * rows of that DEFAULT that belong to the new partition are deleted on the
 * shard.  PostgreSQL refuses to create a partition while the DEFAULT holds
 * rows of it, so the source's DEFAULT had none when the partition was made;
 * the shard's DEFAULT holds some only when the source moved them out without
 * a change pgoutput publishes: DETACH the DEFAULT, CREATE the partition,
 * INSERT its rows (published: they reach the new partition as changes),
 * DELETE them from the detached DEFAULT (not published: it is no longer a
 * partition), ATTACH it again.  Deleting them is what that transaction did.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk_key.h"
#include "log.h"
#include "shard_partitions.h"
#include "sqlname.h"
#include "strbuf.h"
#include "xalloc.h"

/*
 * Every partition of every partitioned root, at every level, parents
 * first, from the catalog tables themselves (MVCC: under a snapshot, as of
 * it) rather than pg_partition_tree (the latest catalog).  Left out: those
 * dropped since.
 */
static const char SQL_TREE[] =
	"WITH RECURSIVE tree AS ("
	"  SELECT c.oid AS root, c.oid AS relid, 0 AS level FROM pg_class c "
	"  WHERE c.relkind = 'p' AND NOT c.relispartition "
	"  UNION ALL SELECT t.root, i.inhrelid, t.level + 1 FROM tree t JOIN pg_inherits i ON i.inhparent = t.relid) "
	"SELECT n.nspname, c.relname, pn.nspname, pc.relname, pg_get_expr(c.relpartbound, c.oid), "
	"  CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END, rn.nspname, rc.relname, "
	"  pg_get_partition_constraintdef(c.oid), dn.nspname, d.relname "
	"FROM tree t JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace "
	"JOIN pg_inherits i ON i.inhrelid = c.oid JOIN pg_class pc ON pc.oid = i.inhparent "
	"JOIN pg_namespace pn ON pn.oid = pc.relnamespace "
	"JOIN pg_class rc ON rc.oid = t.root JOIN pg_namespace rn ON rn.oid = rc.relnamespace "
	"LEFT JOIN LATERAL (SELECT dc.relname, dc.relnamespace FROM pg_inherits di "
	"  JOIN pg_class dc ON dc.oid = di.inhrelid WHERE di.inhparent = pc.oid AND dc.oid <> c.oid "
	"  AND pg_get_expr(dc.relpartbound, dc.oid) = 'DEFAULT' LIMIT 1) d ON true "
	"LEFT JOIN pg_namespace dn ON dn.oid = d.relnamespace "
	"WHERE t.level > 0 AND to_regclass(format('%I.%I', n.nspname, c.relname)) = c.oid "
	"ORDER BY t.root, t.level, c.oid";

static char *
opt(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : xstrdup(PQgetvalue(res, row, col));
}

bool
partitions_read(pgr_conn *src, const plan *p, part_list *out)
{
	PGresult   *res = pgr_query(src, "reading the partitions of the moved tables", SQL_TREE, 0, NULL);

	memset(out, 0, sizeof(*out));
	if (res == NULL)
		return false;
	out->v = xcalloc((size_t) PQntuples(res) + 1, sizeof(part_def));
	for (int row = 0; row < PQntuples(res); row++)
	{
		int			ti = plan_table_index(p, PQgetvalue(res, row, 6), PQgetvalue(res, row, 7));
		part_def   *d = &out->v[out->n];

		if (ti < 0)
			continue;
		out->n++;
		d->table = ti;
		d->schema = opt(res, row, 0);
		d->name = opt(res, row, 1);
		d->parent_schema = opt(res, row, 2);
		d->parent_name = opt(res, row, 3);
		d->bound = opt(res, row, 4);
		d->partkey = opt(res, row, 5);
		d->leaf = d->partkey == NULL;
		d->constraint = opt(res, row, 8);
		d->dflt_schema = opt(res, row, 9);
		d->dflt_name = opt(res, row, 10);
	}
	PQclear(res);
	return true;
}

void
partitions_free(part_list *l)
{
	for (int i = 0; l->v && i < l->n; i++)
	{
		part_def   *d = &l->v[i];

		free(d->schema);
		free(d->name);
		free(d->parent_schema);
		free(d->parent_name);
		free(d->bound);
		free(d->partkey);
		free(d->constraint);
		free(d->dflt_schema);
		free(d->dflt_name);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int
partitions_find(const part_list *l, const char *schema, const char *name)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->v[i].schema, schema) == 0 && strcmp(l->v[i].name, name) == 0)
			return i;
	return -1;
}

char *
partition_create_sql(pgr_conn *q, const part_def *d)
{
	char	   *child = pgr_quote_qualified(q, d->schema, d->name);
	char	   *parent = pgr_quote_qualified(q, d->parent_schema, d->parent_name);
	char	   *sql = xasprintf("CREATE TABLE IF NOT EXISTS %s PARTITION OF %s %s%s%s", child, parent,
								d->bound ? d->bound : "DEFAULT", d->partkey ? " PARTITION BY " : "",
								d->partkey ? d->partkey : "");

	free(child);
	free(parent);
	return sql;
}

char *
partition_clear_default_sql(pgr_conn *q, const part_def *d)
{
	char	   *dflt, *sql;

	if (d->dflt_name == NULL || d->constraint == NULL || d->bound == NULL ||
		strcmp(d->bound, "DEFAULT") == 0)
		return NULL;
	dflt = pgr_quote_qualified(q, d->dflt_schema, d->dflt_name);
	sql = xasprintf("DELETE FROM %s WHERE %s", dflt, d->constraint);
	free(dflt);
	return sql;
}

/* Create partition d on c (it is not there); false after reporting. */
static bool
create_one(pgr_conn *c, int s, const part_def *d)
{
	char	   *clear = partition_clear_default_sql(c, d), *create = partition_create_sql(c, d);
	char	   *disp = sqlname_quote_qualified(d->schema, d->name);
	PGresult   *del = clear ? pgr_query(c, "clearing the DEFAULT partition for a new partition", clear,
										0, NULL) : NULL;
	bool		ok = clear == NULL || del != NULL;

	if (del != NULL && atoll(PQcmdTuples(del)) > 0)
		log_info("shard %d: %s row(s) of DEFAULT partition %s.%s belong to partition %s, which the "
				 "source made during the move and moved them out of its DEFAULT (a change "
				 "pgoutput does not publish): removed there too", s, PQcmdTuples(del),
				 d->dflt_schema, d->dflt_name, disp);
	ok = ok && pgr_exec(c, "creating a partition made on the source", create, 0, NULL);
	if (ok)
		log_info("shard %d: partition %s created (it is on the source)", s, disp);
	free(disp);
	PQclear(del);
	free(clear);
	free(create);
	return ok;
}

/* missing[i]: partition i of l (of table, or all) is not on c; one query. */
static bool
find_missing(pgr_conn *c, const part_list *l, int table, bool *missing)
{
	strbuf		names;
	const char *params[1];
	PGresult   *res;
	char	  **q = xcalloc((size_t) l->n + 1, sizeof(char *));

	sb_init(&names);
	for (int i = 0; i < l->n; i++)
		q[i] = pgr_quote_qualified(c, l->v[i].schema, l->v[i].name);
	pgarray_encode(&names, q, l->n);
	params[0] = names.data;
	res = pgr_query(c, "looking for the partitions", "SELECT to_regclass(n) IS NULL "
					"FROM unnest($1::text[]) WITH ORDINALITY AS x(n, i) ORDER BY i", 1, params);
	for (int i = 0; res && i < l->n && i < PQntuples(res); i++)
		missing[i] = (table < 0 || l->v[i].table == table) && PQgetvalue(res, i, 0)[0] == 't';
	PQclear(res);
	sb_free(&names);
	for (int i = 0; i < l->n; i++)
		free(q[i]);
	free(q);
	return res != NULL;
}

bool
partitions_create_missing(pgr_conn *c, int s, const part_list *l, int table)
{
	bool	   *missing, ok, any = false;

	if (l->n == 0)
		return true;
	missing = xcalloc((size_t) l->n, sizeof(bool));
	ok = pgr_exec(c, "creating partitions", "BEGIN", 0, NULL) && find_missing(c, l, table, missing);
	for (int i = 0; ok && i < l->n; i++)
		if (missing[i])
		{
			ok = create_one(c, s, &l->v[i]);
			any = true;
		}
	free(missing);
	if (ok)
		return pgr_exec(c, any ? "creating partitions" : "ending the transaction", "COMMIT", 0, NULL);
	pgr_exec(c, "rolling back", "ROLLBACK", 0, NULL);
	return false;
}
