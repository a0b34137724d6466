/*
 * inspect_dest.c — read a destination shard for `plan`.
 *
 * A destination must be reachable, run PostgreSQL 12 or later, and hold no
 * rows in the tables pgreshard will fill — unless they are pgreshard's own
 * from an earlier run of this same plan (its state says so), in which case
 * `apply` resumes, taking in tables appended to the plan since.  Read-only;
 * creates nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect.h"
#include "log.h"
#include "xalloc.h"

static bool read_run(const plan *p, pgr_conn *c, server_info *s);

static bool
read_dest_settings(const plan *p, pgr_conn *c, server_info *s)
{
	PGresult   *res = pgr_query(c, "reading server settings",
								"SELECT split_part(current_setting('server_version'), ' ', 1), "
								"current_setting('server_version_num')::int, "
								"to_regclass('pgreshard.runs') IS NOT NULL, current_setting('server_encoding'), "
								"CASE WHEN has_function_privilege('pg_control_system()', 'EXECUTE') "
								"THEN (SELECT system_identifier FROM pg_control_system())::text END, "
								"current_database(), "
								"(SELECT oid FROM pg_database WHERE datname = current_database())::text", 0, NULL);
	bool		state_table;

	if (res == NULL)
		return false;
	s->version = xstrdup(PQgetvalue(res, 0, 0));
	s->version_num = atoi(PQgetvalue(res, 0, 1));
	s->wal_level = xstrdup("");
	s->encoding = xstrdup(PQgetvalue(res, 0, 3));
	s->system_id = PQgetisnull(res, 0, 4) ? NULL : xstrdup(PQgetvalue(res, 0, 4));
	s->datname = xstrdup(PQgetvalue(res, 0, 5));
	s->db_oid = xstrdup(PQgetvalue(res, 0, 6));
	state_table = PQgetvalue(res, 0, 2)[0] == 't';
	PQclear(res);
	return !state_table || read_run(p, c, s);
}

/* This plan's run on the shard, and which saved plan started it. */
static bool
read_run(const plan *p, pgr_conn *c, server_info *s)
{
	const char *params[1] = {p->name};
	/* saved_plan_id came with 0.3.0: a state schema made before has no such column */
	PGresult   *res = pgr_query(c, "reading pgreshard state",
								"SELECT to_jsonb(r) ->> 'saved_plan_id' FROM pgreshard.runs r "
								"WHERE plan_name = $1", 1, params);

	if (res == NULL)
		return false;
	s->has_state = PQntuples(res) > 0;
	if (s->has_state && !PQgetisnull(res, 0, 0))
		s->saved_plan_id = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return true;
}

/* Which steps the journal (shard 0) shows as done. */
static bool
read_journal(const plan *p, pgr_conn *c, catalog *cat)
{
	const char *params[1] = {p->name};
	PGresult   *res = pgr_query(c, "reading the step journal",
								"SELECT step FROM pgreshard.steps WHERE plan_name = $1 AND state = 'done'",
								1, params);

	if (res == NULL)
		return false;
	for (int r = 0; r < PQntuples(res); r++)
	{
		int			id = step_from_name(PQgetvalue(res, r, 0));

		if (id >= 0)
			cat->step_done[id] = true;
	}
	PQclear(res);
	return true;
}

/* The table on this shard: absent, empty, with rows; false on error. */
static bool
table_state(pgr_conn *c, const plan_table *pt, dest_table_state *st)
{
	const char *params[2] = {pt->schema, pt->relname};
	PGresult   *res = pgr_query(c, "looking for a table",
								"SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
								"WHERE n.nspname = $1 AND c.relname = $2", 2, params);
	char	   *qname, *sql;
	int			found;

	if (res == NULL)
		return false;
	found = PQntuples(res);
	PQclear(res);
	*st = DEST_ABSENT;
	if (found == 0)
		return true;
	qname = pgr_quote_qualified(c, pt->schema, pt->relname);
	sql = xasprintf("SELECT EXISTS (SELECT FROM %s)", qname);
	res = pgr_query(c, "checking that a table is empty", sql, 0, NULL);
	if (res != NULL)
		*st = PQgetvalue(res, 0, 0)[0] == 't' ? DEST_ROWS : DEST_EMPTY;
	PQclear(res);
	free(sql);
	free(qname);
	return res != NULL;
}

/*
 * Tables appended to the plan since its move began (their positions after
 * those pgreshard.plan_tables recorded, the others unchanged by name): apply
 * takes them in (runner/engine/plan_append.h), so the plan says so, and the
 * steps that run again for them are not shown as done.  Any other change
 * of the tables is apply's to refuse, with every difference listed.
 */
static bool
read_added_tables(const plan *p, pgr_conn *c, catalog *cat)
{
	static const step_id again[] = {STEP_SCHEMA_PRE, STEP_COPY, STEP_SCHEMA_POST, STEP_VERIFY};
	const char *params[1] = {p->name};
	/* a state schema older than pgreshard.plan_tables has none to read */
	PGresult   *res = pgr_query(c, "reading the plan's shape",
								"SELECT table_name FROM pgreshard.plan_tables WHERE plan_name = $1 "
								"AND to_regclass('pgreshard.plan_tables') IS NOT NULL ORDER BY table_index",
								1, params);
	int			n = res ? PQntuples(res) : 0;
	bool		prefix = n > 0 && n < p->ntables;

	for (int i = 0; prefix && i < n; i++)
	{
		char	   *name = table_display(&p->tables[i]);

		prefix = strcmp(name, PQgetvalue(res, i, 0)) == 0;
		free(name);
	}
	for (int i = n; prefix && i < p->ntables; i++)
	{
		char	   *where = plan_where(p, p->tables[i].pos), *name = table_display(&p->tables[i]);

		catalog_add_finding(cat, FINDING_INFO, where, NULL,
							"table %s is added to the move under way: apply creates it on the shards and "
							"copies it in under a new snapshot while the stream keeps its changes; the %d "
							"other table(s) are not copied again", name, n);
		free(where);
		free(name);
	}
	for (size_t k = 0; prefix && k < sizeof(again) / sizeof(again[0]); k++)
		cat->step_done[again[k]] = false;
	PQclear(res);
	return res != NULL;
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
	if (ok && shard == 0 && s->has_state)
		ok = read_journal(p, c, cat) && read_added_tables(p, c, cat);
	if (ok)
		ok = inspect_schema_destination(p, c, cat, s->role);
	s->table_state = xcalloc((size_t) p->ntables + 1, sizeof(dest_table_state));
	for (int ti = 0; ok && ti < p->ntables; ti++)
	{
		ok = table_state(c, &p->tables[ti], &s->table_state[ti]);
		if (ok && s->table_state[ti] == DEST_ROWS && !s->has_state)
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
