/*
 * inspect_source.c — read a source database's catalog for `plan`.
 *
 * For each source (one, or several with source.shards) this reads the
 * server settings logical decoding depends on, the publication's
 * membership, and for every table in the plan its columns (domains resolved
 * to base types), primary key, replica identity, persistence, size and row
 * estimate.  Everything that is wrong with the plan becomes a finding at
 * the plan line that caused it.  Connections are read-only; nothing is
 * created.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "conn.h"
#include "inspect.h"
#include "log.h"
#include "sqlname.h"
#include "suggest.h"
#include "xalloc.h"

static const char *const SQL_SETTINGS =
	"SELECT split_part(current_setting('server_version'), ' ', 1), current_setting('server_version_num')::int, "
	"current_setting('wal_level'), current_setting('max_replication_slots')::int, "
	"(SELECT count(*) FROM pg_replication_slots)::int, "
	"current_setting('max_wal_senders')::int, "
	"EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = $1), "
	"(SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user), "
	"current_setting('server_encoding'), "
	"CASE WHEN has_function_privilege('pg_control_system()', 'EXECUTE') "
	"THEN (SELECT system_identifier FROM pg_control_system())::text END, "
	"current_database(), (SELECT oid FROM pg_database WHERE datname = current_database())::text, "
	"(SELECT count(*) FROM pg_stat_replication)::int, "
	"(SELECT setting::bigint FROM pg_settings WHERE name = 'max_slot_wal_keep_size')";

static const char *const SQL_TABLE =
	"SELECT c.oid, c.relkind, c.relpersistence, c.relreplident, c.reltuples, "
	"pg_table_size(c.oid), pg_total_relation_size(c.oid), c.relispartition, "
	"(SELECT format('%I.%I', rn.nspname, rc.relname) FROM pg_class rc "
	" JOIN pg_namespace rn ON rn.oid = rc.relnamespace WHERE rc.oid = pg_partition_root(c.oid)) "
	"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
	"WHERE n.nspname = $1 AND c.relname = $2";

/* Every partition of a partitioned table, at every level, parents first. */
static const char *const SQL_PARTITIONS =
	"SELECT n.nspname, c.relname, c.relkind, pg_table_size(c.oid), pg_total_relation_size(c.oid), "
	"c.reltuples FROM pg_partition_tree($1::oid) pt JOIN pg_class c ON c.oid = pt.relid "
	"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE pt.relid <> $1::oid "
	"ORDER BY pt.level, n.nspname, c.relname";

static const char *const SQL_COLUMNS =
	"SELECT a.attname, format_type(a.atttypid, a.atttypmod), "
	SQL_COLUMN_BASE_TYPE
	"a.attnotnull, a.attgenerated <> '', a.attidentity, pg_get_expr(d.adbin, d.adrelid), "
	SQL_COLUMN_BINARY_IO
	"0 "
	"FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped "
	"ORDER BY a.attnum";

static const char *const SQL_KEYS =
	"SELECT i.indisprimary, i.indisreplident, a.attname "
	"FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord) "
	"JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
	"WHERE i.indrelid = $1 AND (i.indisprimary OR i.indisreplident) "
	"ORDER BY i.indexrelid, k.ord";

static bool
read_settings(const plan *p, pgr_conn *c, server_info *s)
{
	char	   *slot = plan_slot_name(p);
	const char *params[1] = {slot};
	PGresult   *res = pgr_query(c, "reading server settings", SQL_SETTINGS, 1, params);

	free(slot);
	if (res == NULL)
		return false;
	s->version = xstrdup(PQgetvalue(res, 0, 0));
	s->version_num = atoi(PQgetvalue(res, 0, 1));
	s->wal_level = xstrdup(PQgetvalue(res, 0, 2));
	s->max_slots = atoi(PQgetvalue(res, 0, 3));
	s->used_slots = atoi(PQgetvalue(res, 0, 4));
	s->max_senders = atoi(PQgetvalue(res, 0, 5));
	s->has_slot = PQgetvalue(res, 0, 6)[0] == 't';
	s->can_replicate = PQgetvalue(res, 0, 7)[0] == 't';
	s->encoding = xstrdup(PQgetvalue(res, 0, 8));
	s->system_id = PQgetisnull(res, 0, 9) ? NULL : xstrdup(PQgetvalue(res, 0, 9));
	s->datname = xstrdup(PQgetvalue(res, 0, 10));
	s->db_oid = xstrdup(PQgetvalue(res, 0, 11));
	s->used_senders = atoi(PQgetvalue(res, 0, 12));
	s->max_slot_wal_keep_mb = PQgetisnull(res, 0, 13) ? -1 : atoll(PQgetvalue(res, 0, 13));
	PQclear(res);
	return true;
}

static void
check_source_settings(catalog *cat, const server_info *s)
{
	if (s->version_num < 120000)
		catalog_add_finding(cat, FINDING_ERROR, s->role, "upgrade the source to PostgreSQL 12 or later",
							"PostgreSQL %s is too old; pgreshard needs 12 or later", s->version);
	if (strcmp(s->wal_level, "logical") != 0)
		catalog_add_finding(cat, FINDING_ERROR, s->role,
							"ALTER SYSTEM SET wal_level = logical; then restart the server",
							"wal_level is '%s'; logical decoding needs wal_level = logical",
							s->wal_level);
	if (!s->can_replicate)
		catalog_add_finding(cat, FINDING_ERROR, s->role,
							"ALTER ROLE <user> REPLICATION (or connect as a role that has it)",
							"the connecting role lacks the REPLICATION attribute needed to create and read a slot");
	if (s->max_slots - s->used_slots < 1 && !s->has_slot)
		catalog_add_finding(cat, FINDING_ERROR, s->role,
							"raise max_replication_slots (ALTER SYSTEM SET max_replication_slots = ...; restart) or drop an unused slot",
							"no free replication slot: max_replication_slots = %d and %d in use",
							s->max_slots, s->used_slots);
	else if (s->max_slots - s->used_slots < (s->has_slot ? 1 : 2))
		catalog_add_finding(cat, FINDING_WARNING, s->role,
							"raise max_replication_slots by 2 (restart), or drop an unused slot",
							"only %d free replication slot(s) (max_replication_slots = %d, %d in use): verify and a "
							"rerun of the copy need a temporary slot besides the plan's own, and will fail",
							s->max_slots - s->used_slots, s->max_slots, s->used_slots);
	if (s->max_senders - s->used_senders < 1)
		catalog_add_finding(cat, FINDING_ERROR, s->role,
							"raise max_wal_senders (ALTER SYSTEM SET max_wal_senders = ...; restart)",
							"no free WAL sender: max_wal_senders = %d and %d in use; the slot and the stream need one",
							s->max_senders, s->used_senders);
	else if (s->max_senders - s->used_senders < 2)
		catalog_add_finding(cat, FINDING_WARNING, s->role,
							"raise max_wal_senders by 2 (restart)",
							"only 1 free WAL sender (max_wal_senders = %d, %d in use): verify during the stream "
							"and copy reruns open a second replication connection, and will fail",
							s->max_senders, s->used_senders);
}

static bool
check_publication(const plan *p, pgr_conn *c, server_info *s, catalog *cat)
{
	const char *params[1] = {p->publication};
	/* a partition counts as its root (publish_via_partition_root off lists the leaves) */
	PGresult   *res = pgr_query(c, "reading the publication",
								"SELECT pt.schemaname, pt.tablename, rn.nspname, rc.relname "
								"FROM pg_publication_tables pt JOIN pg_namespace n ON n.nspname = pt.schemaname "
								"JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename "
								"JOIN pg_class rc ON rc.oid = coalesce(pg_partition_root(c.oid), c.oid) "
								"JOIN pg_namespace rn ON rn.oid = rc.relnamespace "
								"WHERE pt.pubname = $1 ORDER BY 1, 2", 1, params);
	PGresult   *exists;
	char	   *where = plan_where(p, p->publication_pos);

	if (res == NULL)
		goto fail;
	exists = pgr_query(c, "reading the publication",
					   "SELECT pubupdate OR pubdelete, pubviaroot FROM pg_publication WHERE pubname = $1", 1, params);
	if (exists == NULL)
	{
		PQclear(res);
		goto fail;
	}
	cat->publication_exists = PQntuples(exists) > 0;
	cat->pub_updates_deletes = !cat->publication_exists || PQgetvalue(exists, 0, 0)[0] == 't';
	cat->pub_via_root = cat->publication_exists && PQgetvalue(exists, 0, 1)[0] == 't';
	PQclear(exists);
	if (!cat->publication_exists && !p->create_publication)
		catalog_add_finding(cat, FINDING_ERROR, where,
							"create it (CREATE PUBLICATION ... FOR TABLE ...) or set source.create_publication: true",
							"%s: publication \"%s\" does not exist", s->role, p->publication);
	for (int i = 0; i < PQntuples(res); i++)
	{
		const char *schema = PQgetvalue(res, i, 2), *rel = PQgetvalue(res, i, 3);

		if (s == &cat->sources[0])
		{
			cat->pub_tables = xrealloc(cat->pub_tables, sizeof(char *) * (size_t) (cat->npub_tables + 1));
			cat->pub_tables[cat->npub_tables++] =
				sqlname_quote_qualified(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
		}
		if (i > 0 && strcmp(schema, PQgetvalue(res, i - 1, 2)) == 0 &&
			strcmp(rel, PQgetvalue(res, i - 1, 3)) == 0)
			continue;			/* another partition of the same root */
		if (plan_find_table(p, schema, rel) == NULL)
		{
			char	   *name = sqlname_quote_qualified(schema, rel);
			char	   *fix = xasprintf("add '%s: { key: COLUMN }' or '%s: { replicate: true }' under tables: "
										"(during a move, at the end of tables: the move copies it in without "
										"redoing the others), or remove it from the publication with ALTER "
										"PUBLICATION ... DROP TABLE", name, name);

			catalog_add_finding(cat, FINDING_ERROR, where, fix,
								"publication \"%s\" on %s has table %s, which the plan does not list",
								p->publication, s->role, name);
			free(fix);
			free(name);
		}
	}
	for (int t = 0; t < p->ntables && cat->publication_exists; t++)
	{
		bool		found = false;

		for (int i = 0; i < PQntuples(res) && !found; i++)
			found = strcmp(PQgetvalue(res, i, 2), p->tables[t].schema) == 0 &&
				strcmp(PQgetvalue(res, i, 3), p->tables[t].relname) == 0;
		if (!found)
		{
			char	   *tw = plan_where(p, p->tables[t].pos);
			char	   *name = table_display(&p->tables[t]);

			catalog_add_finding(cat, FINDING_ERROR, tw,
								"add it to the publication (ALTER PUBLICATION ... ADD TABLE ...) or remove it from the plan",
								"table %s is not in publication \"%s\" on %s", name,
								p->publication, s->role);
			free(name);
			free(tw);
		}
	}
	PQclear(res);
	free(where);
	return true;
fail:
	free(where);
	return false;
}

static bool
read_columns(pgr_conn *c, const char *oid, src_table *t)
{
	const char *params[1] = {oid};
	PGresult   *res = pgr_query(c, "reading columns", SQL_COLUMNS, 1, params);

	if (res == NULL)
		return false;
	t->ncols = PQntuples(res);
	t->cols = xcalloc((size_t) t->ncols, sizeof(src_column));
	for (int i = 0; i < t->ncols; i++)
	{
		src_column *col = &t->cols[i];

		col->name = xstrdup(PQgetvalue(res, i, 0));
		col->type = xstrdup(PQgetvalue(res, i, 1));
		col->base_oid = (unsigned int) strtoul(PQgetvalue(res, i, 2), NULL, 10);
		col->notnull = PQgetvalue(res, i, 3)[0] == 't';
		col->generated = PQgetvalue(res, i, 4)[0] == 't';
		col->identity = PQgetvalue(res, i, 5)[0];
		col->default_expr = PQgetisnull(res, i, 6) ? NULL : xstrdup(PQgetvalue(res, i, 6));
		col->binary_io = PQgetvalue(res, i, 7)[0] == 't';
	}
	PQclear(res);
	return true;
}

static bool
read_keys(pgr_conn *c, const char *oid, src_table *t)
{
	const char *params[1] = {oid};
	PGresult   *res = pgr_query(c, "reading the primary key and replica identity",
								SQL_KEYS, 1, params);

	if (res == NULL)
		return false;
	for (int i = 0; i < PQntuples(res); i++)
	{
		const char *col = PQgetvalue(res, i, 2);

		if (PQgetvalue(res, i, 0)[0] == 't')
		{
			t->pk = xrealloc(t->pk, sizeof(char *) * (size_t) (t->npk + 1));
			t->pk[t->npk++] = xstrdup(col);
		}
		if (PQgetvalue(res, i, 1)[0] == 't' && t->replident == 'i')
		{
			t->ident = xrealloc(t->ident, sizeof(char *) * (size_t) (t->nident + 1));
			t->ident[t->nident++] = xstrdup(col);
		}
	}
	PQclear(res);
	if (t->replident == 'd')
		for (int i = 0; i < t->npk; i++)
		{
			t->ident = xrealloc(t->ident, sizeof(char *) * (size_t) (t->nident + 1));
			t->ident[t->nident++] = xstrdup(t->pk[i]);
		}
	return true;
}

static int
find_column(const src_table *t, const char *name)
{
	for (int i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i].name, name) == 0)
			return i;
	return -1;
}

static void
resolve_keys(const plan *p, const plan_table *pt, src_table *t, catalog *cat)
{
	char	   *where = plan_where(p, pt->key_pos);
	char	   *name = table_display(pt);

	t->key_cols = xcalloc((size_t) pt->nkeys + 1, sizeof(int));
	t->key_types = xcalloc((size_t) pt->nkeys + 1, sizeof(key_type));
	for (int k = 0; k < pt->nkeys; k++)
	{
		int			ci = find_column(t, pt->keys[k]);

		t->key_cols[k] = ci;
		if (ci < 0)
		{
			const char **names = xcalloc((size_t) t->ncols + 1, sizeof(char *));
			const char *close;
			char	   *fix = NULL;

			for (int i = 0; i < t->ncols; i++)
				names[i] = t->cols[i].name;
			close = suggest_closest(pt->keys[k], names, t->ncols);
			if (close)
				fix = xasprintf("did you mean \"%s\"?", close);
			catalog_add_finding(cat, FINDING_ERROR, where, fix,
								"table %s has no column \"%s\"", name, pt->keys[k]);
			free(fix);
			free(names);
			continue;
		}
		t->key_types[k] = key_type_from_oid(t->cols[ci].base_oid);
		if (t->key_types[k] == KEY_UNSUPPORTED && p->sharding == SHARD_FN_HASH)
			catalog_add_finding(cat, FINDING_ERROR, where,
								"use a key column of type smallint, integer, bigint, text, varchar, char or uuid, or sharding.function: lua",
								"table %s: key column \"%s\" has type %s, which the built-in hash cannot hash",
								name, t->cols[ci].name, t->cols[ci].type);
	}
	free(name);
	free(where);
}

/* The table is in the publication already (read by check_publication). */
static bool
in_publication(const catalog *cat, const plan_table *pt)
{
	char	   *q = sqlname_quote_qualified(pt->schema, pt->relname);
	bool		found = false;

	for (int i = 0; i < cat->npub_tables && !found; i++)
		found = strcmp(cat->pub_tables[i], q) == 0;
	free(q);
	return found && cat->publication_exists;
}

static void
lint_table(const plan *p, const plan_table *pt, src_table *t, catalog *cat)
{
	char	   *name = table_display(pt);

	if (t->persistence == 'u')
		catalog_add_finding(cat, FINDING_ERROR, name,
							"ALTER TABLE ... SET LOGGED, or leave the table out of the publication and the plan",
							"unlogged table: its changes are not in the WAL, so the stream cannot follow them");
	if (t->npk == 0)
		catalog_add_finding(cat, FINDING_WARNING, name,
							"add a primary key; without one, updates and deletes match rows by every column (REPLICA IDENTITY FULL)",
							"no primary key");
	if ((t->replident == 'n' || (t->replident == 'd' && t->npk == 0)) && !cat->pub_updates_deletes)
		catalog_add_finding(cat, FINDING_WARNING, name,
							"nothing to do for an insert-only table; else ALTER TABLE ... REPLICA IDENTITY FULL (or add a primary key)",
							"no replica identity: fine while publication \"%s\" publishes no UPDATE or DELETE "
							"(the source refuses neither; they are not streamed)", p->publication);
	else if ((t->replident == 'n' || (t->replident == 'd' && t->npk == 0)) && in_publication(cat, pt))
		catalog_add_finding(cat, FINDING_WARNING, name,
							"nothing to do for an insert-only table; else ALTER TABLE ... REPLICA IDENTITY FULL (or add a primary key)",
							"no replica identity: the table is already published, so the source already refuses "
							"UPDATE and DELETE on it; its inserts are moved");
	else if (t->replident == 'n' || (t->replident == 'd' && t->npk == 0))
		catalog_add_finding(cat, FINDING_ERROR, name,
							"ALTER TABLE ... REPLICA IDENTITY FULL (or add a primary key)",
							"no replica identity: once published, the source refuses UPDATE and DELETE on it");
	else if (!pt->replicate && t->replident != 'f')
	{
		for (int k = 0; k < pt->nkeys; k++)
		{
			bool		in = false;

			for (int i = 0; i < t->nident; i++)
				in = in || strcmp(t->ident[i], pt->keys[k]) == 0;
			if (!in)
			{
				catalog_add_finding(cat, FINDING_WARNING, name,
									"include the key in the replica identity (or REPLICA IDENTITY FULL) to make key changes cheap",
									"sharding key column \"%s\" is outside the replica identity, so the WAL does not "
									"carry a deleted or updated row's old key: during the stream every DELETE, and every "
									"UPDATE that changes the key, is sent to every shard (one statement per shard "
									"instead of one)", pt->keys[k]);
				break;
			}
		}
	}
	free(name);
}

static double
row_estimate(pgr_conn *c, const plan_table *pt, double reltuples, long long bytes)
{
	char	   *qname, *sql;
	PGresult   *res;
	double		rows;

	if (reltuples >= 0)
		return reltuples;
	if (bytes > 256LL * 1024 * 1024)
		return (double) bytes / 100.0;	/* never analyzed and big: a rough guess */
	qname = pgr_quote_qualified(c, pt->schema, pt->relname);
	sql = xasprintf("SELECT count(*) FROM %s", qname);
	res = pgr_query(c, "counting rows of a table never analyzed", sql, 0, NULL);
	rows = res ? strtod(PQgetvalue(res, 0, 0), NULL) : 0;
	PQclear(res);
	free(sql);
	free(qname);
	return rows;
}

static bool
same_columns(const src_table *a, const src_table *b)
{
	if (a->ncols != b->ncols)
		return false;
	for (int i = 0; i < a->ncols; i++)
		if (strcmp(a->cols[i].name, b->cols[i].name) != 0 ||
			strcmp(a->cols[i].type, b->cols[i].type) != 0)
			return false;
	return true;
}

/*
 * The partitions of a partitioned table into t (every level: the shards get
 * them all); *bytes and *tuples become the sums over the leaves (-1 tuples
 * when a leaf was never analyzed).
 */
static bool
read_partitions(pgr_conn *c, const char *oid, src_table *t, long long *bytes, double *tuples)
{
	const char *params[1] = {oid};
	PGresult   *res = pgr_query(c, "reading partitions", SQL_PARTITIONS, 1, params);

	if (res == NULL)
		return false;
	*bytes = 0;
	*tuples = 0;
	t->nparts = PQntuples(res);
	t->part_schema = xcalloc((size_t) t->nparts + 1, sizeof(char *));
	t->part_name = xcalloc((size_t) t->nparts + 1, sizeof(char *));
	for (int r = 0; r < t->nparts; r++)
	{
		double		n = strtod(PQgetvalue(res, r, 5), NULL);

		t->part_schema[r] = xstrdup(PQgetvalue(res, r, 0));
		t->part_name[r] = xstrdup(PQgetvalue(res, r, 1));
		if (PQgetvalue(res, r, 2)[0] == 'p')
			continue;
		*bytes += atoll(PQgetvalue(res, r, 3));
		*tuples = (n < 0 || *tuples < 0) ? -1 : *tuples + n;
	}
	PQclear(res);
	return true;
}

static bool
inspect_table(const plan *p, pgr_conn *c, int ti, int src_index, catalog *cat)
{
	const plan_table *pt = &p->tables[ti];
	src_table  *t = &cat->tables[ti];
	src_table	other = {0};
	const char *params[2] = {pt->schema, pt->relname};
	PGresult   *res = pgr_query(c, "reading a table", SQL_TABLE, 2, params);
	char	   *name = table_display(pt);
	bool		ok = res != NULL;

	if (ok && PQntuples(res) == 0)
	{
		char	   *where = plan_where(p, pt->pos);

		catalog_add_finding(cat, FINDING_ERROR, where, "create it on the source or remove it from the plan",
							"table %s does not exist on %s", name, c->role);
		free(where);
	}
	else if (ok && PQgetvalue(res, 0, 7)[0] == 't')
	{
		char	   *fix = xasprintf("list its parent %s in the plan instead: every shard gets the parent "
									"and all its partitions", PQgetvalue(res, 0, 8));

		catalog_add_finding(cat, FINDING_ERROR, name, fix, "%s is a partition of %s", name,
							PQgetvalue(res, 0, 8));
		free(fix);
	}
	else if (ok && PQgetvalue(res, 0, 1)[0] != 'r' && PQgetvalue(res, 0, 1)[0] != 'p')
		catalog_add_finding(cat, FINDING_ERROR, name, "list tables only",
							"%s is not a table (relkind '%s')", name, PQgetvalue(res, 0, 1));
	else if (ok)
	{
		src_table  *dst = src_index == 0 ? t : &other;
		long long	bytes = atoll(PQgetvalue(res, 0, 5));
		double		tuples = strtod(PQgetvalue(res, 0, 4), NULL);

		dst->exists = true;
		dst->partitioned = PQgetvalue(res, 0, 1)[0] == 'p';
		if (dst->partitioned && !read_partitions(c, PQgetvalue(res, 0, 0), dst, &bytes, &tuples))
		{
			PQclear(res);
			free(name);
			return false;
		}
		dst->persistence = PQgetvalue(res, 0, 2)[0];
		dst->replident = PQgetvalue(res, 0, 3)[0];
		if (src_index == 0 || !pt->replicate)
		{
			/* a replicated table is the same on every source: count it once */
			t->bytes += bytes;
			t->total_bytes += dst->partitioned ? bytes : atoll(PQgetvalue(res, 0, 6));
			t->rows += row_estimate(c, pt, tuples, bytes);
		}
		ok = read_columns(c, PQgetvalue(res, 0, 0), dst) &&
			read_keys(c, PQgetvalue(res, 0, 0), dst);
		if (ok && src_index == 0)
		{
			resolve_keys(p, pt, t, cat);
			lint_table(p, pt, t, cat);
		}
		else if (ok && !same_columns(t, &other))
			catalog_add_finding(cat, FINDING_ERROR, name, "make the table's columns identical on every source",
								"table %s has different columns on %s than on source 0", name, c->role);
		free_src_table_contents(&other);
	}
	PQclear(res);
	free(name);
	return ok;
}

bool
inspect_source(const plan *p, int src_index, catalog *cat)
{
	server_info *s = &cat->sources[src_index];
	pgr_conn   *c;
	bool		ok;

	s->role = p->nsources > 1 ? xasprintf("source %d", src_index) : xstrdup("source");
	s->safe_dsn = conninfo_redact(p->source_dsns[src_index]);
	c = pgr_connect(p->source_dsns[src_index], s->role, PGR_CONN_READ_ONLY);
	if (c == NULL)
		return false;
	ok = read_settings(p, c, s);
	if (ok)
	{
		check_source_settings(cat, s);
		ok = check_publication(p, c, s, cat);
	}
	for (int ti = 0; ok && ti < p->ntables; ti++)
		ok = inspect_table(p, c, ti, src_index, cat);
	if (ok)
		ok = sample_distribution(p, c, src_index, cat);
	if (ok)
		ok = lint_source(p, c, src_index, cat);
	pgr_disconnect(c);
	return ok;
}
