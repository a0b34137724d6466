/*
 * inspect_dest.c — read a destination shard for `plan`.
 *
 * A destination must be reachable, run PostgreSQL 12 or later, and hold no
 * rows in the tables pgreshard will fill — unless they are pgreshard's own
 * from an earlier run of this same plan (its state says so), in which case
 * `apply` resumes.  Read-only; creates nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect.h"
#include "log.h"
#include "xalloc.h"

static bool
read_dest_settings(const plan *p, pgr_conn *c, server_info *s)
{
	const char *params[1] = {p->name};
	PGresult   *res = pgr_query(c, "reading server settings",
								"SELECT split_part(current_setting('server_version'), ' ', 1), "
								"current_setting('server_version_num')::int, "
								"to_regclass('pgreshard.runs') IS NOT NULL, current_setting('server_encoding')", 0, NULL);
	bool		state_table;

	if (res == NULL)
		return false;
	s->version = xstrdup(PQgetvalue(res, 0, 0));
	s->version_num = atoi(PQgetvalue(res, 0, 1));
	s->wal_level = xstrdup("");
	s->encoding = xstrdup(PQgetvalue(res, 0, 3));
	state_table = PQgetvalue(res, 0, 2)[0] == 't';
	PQclear(res);
	if (!state_table)
		return true;
	res = pgr_query(c, "reading pgreshard state",
					"SELECT 1 FROM pgreshard.runs WHERE plan_name = $1", 1, params);
	if (res == NULL)
		return false;
	s->has_state = PQntuples(res) > 0;
	PQclear(res);
	return true;
}

/* 1 when the table exists with rows, 0 when absent or empty, -1 on error. */
static int
table_has_rows(pgr_conn *c, const plan_table *pt)
{
	const char *params[2] = {pt->schema, pt->relname};
	PGresult   *res = pgr_query(c, "looking for a table",
								"SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
								"WHERE n.nspname = $1 AND c.relname = $2", 2, params);
	char	   *qname, *sql;
	int			found;

	if (res == NULL)
		return -1;
	found = PQntuples(res);
	PQclear(res);
	if (found == 0)
		return 0;
	qname = pgr_quote_qualified(c, pt->schema, pt->relname);
	sql = xasprintf("SELECT EXISTS (SELECT FROM %s)", qname);
	res = pgr_query(c, "checking that a table is empty", sql, 0, NULL);
	found = res == NULL ? -1 : PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	free(sql);
	free(qname);
	return found;
}

bool
inspect_destination(const plan *p, int shard, catalog *cat)
{
	server_info *s = &cat->shards[shard];
	pgr_conn   *c;
	bool		ok;

	s->role = xasprintf("shard %d", shard);
	s->safe_dsn = conninfo_redact(p->shard_dsns[shard]);
	c = pgr_connect(p->shard_dsns[shard], s->role, PGR_CONN_READ_ONLY);
	if (c == NULL)
		return false;
	ok = read_dest_settings(p, c, s);
	if (ok && s->version_num < 120000)
		catalog_add_finding(cat, FINDING_ERROR, s->role, "use PostgreSQL 12 or later on every shard",
							"PostgreSQL %s is too old; pgreshard needs 12 or later", s->version);
	if (ok && cat->sources[0].encoding && strcmp(s->encoding, cat->sources[0].encoding) != 0)
		catalog_add_finding(cat, FINDING_ERROR, s->role, "create the destination database with the source's encoding",
							"database encoding %s differs from the source's %s", s->encoding,
							cat->sources[0].encoding);
	for (int ti = 0; ok && ti < p->ntables; ti++)
	{
		int			rows = table_has_rows(c, &p->tables[ti]);

		ok = rows >= 0;
		if (rows == 1 && !s->has_state)
		{
			char	   *name = table_display(&p->tables[ti]);

			catalog_add_finding(cat, FINDING_ERROR, s->role,
								"empty it (TRUNCATE) or point destination.shards at empty databases",
								"table %s already has rows; pgreshard fills only empty tables", name);
			free(name);
		}
	}
	pgr_disconnect(c);
	return ok;
}
