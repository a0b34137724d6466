/*
 * step_schema.c — steps 3 and 5: the moved tables' schema on every shard.
 *
 * schema-pre takes the source's schema with pg_dump, keeps what the moved
 * tables need (runner/schema/ddl.c) and stores the resulting statements in
 * pgreshard.ddl on shard 0, once, so that every later run and schema-post
 * use the very same script.  It then applies the "pre" statements (schemas,
 * types, functions, sequences, tables without indexes or constraints) on
 * each shard in one transaction with their ddl_done rows.  A table that
 * already existed on a shard before pgreshard touched it (created by the
 * user, empty: preflight checked) keeps its own definition.  The same
 * transaction first records the schema objects the shard had
 * (shard_objects.h), so `cleanup --drop-data` can take back exactly what
 * pgreshard created.
 *
 * schema-post applies the "post" statements (primary keys, indexes, unique
 * and check constraints, same-shard foreign keys, triggers) after the copy,
 * each in its own transaction with its ddl_done row, one thread per shard,
 * so an interrupted index build is simply redone.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "ddl.h"
#include "log.h"
#include "schema_dump.h"
#include "schema_script.h"
#include "shard_objects.h"
#include "xalloc.h"

typedef struct stored_stmt {
	int			no;
	int			table_index;
	char	   *what;
	char	   *sql;
} stored_stmt;

static bool
store_script(apply_ctx *ctx, const ddl_script *script)
{
	pgr_conn   *c = ctx->state;
	bool		ok = pgr_exec(c, "storing the DDL script", "BEGIN", 0, NULL);

	for (int i = 0; ok && i < script->n; i++)
	{
		char		no[16], ti[16];
		const char *params[6] = {ctx->plan->name, no, script->stmts[i].phase == DDL_PRE ? "pre" : "post",
		ti, script->stmts[i].what, script->stmts[i].sql};

		snprintf(no, sizeof(no), "%d", i);
		snprintf(ti, sizeof(ti), "%d", script->stmts[i].table_index);
		ok = pgr_exec(c, "storing the DDL script",
					  "INSERT INTO pgreshard.ddl (plan_name, stmt, phase, table_index, what, sql) "
					  "VALUES ($1, $2, $3, $4, $5, $6)", 6, params);
	}
	return pgr_exec(c, ok ? "storing the DDL script" : "rolling back", ok ? "COMMIT" : "ROLLBACK",
					0, NULL) && ok;
}

/* Dump the source's schema and store the script, unless an earlier run did. */
static bool
ensure_script(apply_ctx *ctx)
{
	const plan *p = ctx->plan;
	const char *params[1] = {p->name};
	PGresult   *res = pgr_query(ctx->state, "reading the DDL script",
								"SELECT 1 FROM pgreshard.ddl WHERE plan_name = $1 LIMIT 1", 1, params);
	ddl_script	script = {0};
	bool		ok, exists;

	if (res == NULL)
		return false;
	exists = PQntuples(res) > 0;
	PQclear(res);
	if (exists)
		return true;
	ok = schema_script_build(p, ctx->cat, ctx->sources[0].role, &script);
	for (int i = 0; ok && i < script.nskipped; i++)
		log_warn("foreign key %s on %s references %s and is not created on the shards: %s",
				 script.skipped[i].name, script.skipped[i].table, script.skipped[i].references,
				 script.skipped[i].reason);
	ok = ok && store_script(ctx, &script);
	if (ok)
		log_info("schema: %d DDL statement(s) taken from the source", script.n);
	ddl_script_free(&script);
	return ok;
}

/* The stored statements of a phase ("pre" or "post"), from shard 0. */
static bool
load_script(apply_ctx *ctx, const char *phase, stored_stmt **out, int *n)
{
	const char *params[2] = {ctx->plan->name, phase};
	PGresult   *res = pgr_query(ctx->state, "reading the DDL script",
								"SELECT stmt, table_index, what, sql FROM pgreshard.ddl "
								"WHERE plan_name = $1 AND phase = $2 ORDER BY stmt", 2, params);

	if (res == NULL)
		return false;
	*n = PQntuples(res);
	*out = xcalloc((size_t) *n + 1, sizeof(stored_stmt));
	for (int r = 0; r < *n; r++)
	{
		(*out)[r].no = atoi(PQgetvalue(res, r, 0));
		(*out)[r].table_index = atoi(PQgetvalue(res, r, 1));
		(*out)[r].what = xstrdup(PQgetvalue(res, r, 2));
		(*out)[r].sql = xstrdup(PQgetvalue(res, r, 3));
	}
	PQclear(res);
	return true;
}

/* Mark in done[] (parallel to stmts) what this shard has applied already. */
static bool
load_done(apply_ctx *ctx, pgr_conn *c, const stored_stmt *stmts, int n, bool *done)
{
	const char *params[1] = {ctx->plan->name};
	PGresult   *res = pgr_query(c, "reading the DDL markers",
								"SELECT stmt FROM pgreshard.ddl_done WHERE plan_name = $1", 1, params);

	if (res == NULL)
		return false;
	for (int i = 0; i < n; i++)
	{
		done[i] = false;
		for (int d = 0; d < PQntuples(res) && !done[i]; d++)
			done[i] = atoi(PQgetvalue(res, d, 0)) == stmts[i].no;
	}
	PQclear(res);
	return true;
}

static void
free_stmts(stored_stmt *s, int n)
{
	for (int i = 0; i < n; i++)
	{
		free(s[i].what);
		free(s[i].sql);
	}
	free(s);
}

/* A session setting (SET ...): run in every session, never recorded as done. */
static bool
is_setting(const stored_stmt *st)
{
	return strncmp(st->what, "setting ", 8) == 0;
}

/* Run one statement and record it, inside the caller's transaction. */
static bool
apply_stmt(apply_ctx *ctx, pgr_conn *c, const stored_stmt *st)
{
	char		no[16], what[512];
	const char *params[2] = {ctx->plan->name, no};

	snprintf(no, sizeof(no), "%d", st->no);
	snprintf(what, sizeof(what), "%s %s", is_setting(st) ? "applying" : "creating", st->what);
	if (is_setting(st))
		return pgr_exec(c, what, st->sql, 0, NULL);
	return pgr_exec(c, what, st->sql, 0, NULL) &&
		pgr_exec(c, "recording the DDL statement",
				 "INSERT INTO pgreshard.ddl_done (plan_name, stmt) VALUES ($1, $2)", 2, params);
}

/* Whether the moved table exists on this shard. */
static bool
table_exists(pgr_conn *c, const plan_table *t, bool *exists)
{
	const char *params[2] = {t->schema, t->relname};
	PGresult   *res = pgr_query(c, "looking for a table",
								"SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
								"WHERE n.nspname = $1 AND c.relname = $2", 2, params);

	if (res == NULL)
		return false;
	*exists = PQntuples(res) > 0;
	PQclear(res);
	return true;
}

/* Mark every statement of a user-created table done: its definition is the user's. */
static bool
adopt_table(apply_ctx *ctx, pgr_conn *c, int ti)
{
	char		tis[16];
	const char *params[2] = {ctx->plan->name, tis};
	PGresult   *res;
	bool		ok = true;

	snprintf(tis, sizeof(tis), "%d", ti);
	res = pgr_query(ctx->state, "reading the DDL script",
					"SELECT stmt FROM pgreshard.ddl WHERE plan_name = $1 AND table_index = $2", 2, params);
	for (int r = 0; res && ok && r < PQntuples(res); r++)
	{
		const char *p2[2] = {ctx->plan->name, PQgetvalue(res, r, 0)};

		ok = pgr_exec(c, "recording the DDL statement",
					  "INSERT INTO pgreshard.ddl_done (plan_name, stmt) VALUES ($1, $2) "
					  "ON CONFLICT DO NOTHING", 2, p2);
	}
	PQclear(res);
	return res != NULL && ok;
}

static bool
pre_on_shard(apply_ctx *ctx, int s, const stored_stmt *stmts, int n)
{
	pgr_conn   *c = connect_shard(ctx->plan, s);
	bool	   *adopted = xcalloc((size_t) ctx->plan->ntables, sizeof(bool));
	bool	   *checked = xcalloc((size_t) ctx->plan->ntables, sizeof(bool));
	bool	   *done = xcalloc((size_t) n + 1, sizeof(bool));
	bool		ok = c != NULL && load_done(ctx, c, stmts, n, done);
	int			todo = 0;

	for (int i = 0; ok && i < n; i++)
		todo += !done[i] && !is_setting(&stmts[i]);
	if (ok && todo > 0)
	{
		ok = pgr_exec(c, "starting the schema transaction", "BEGIN", 0, NULL) &&
			shard_objects_record(c, ctx->plan);
		for (int i = 0; ok && i < n; i++)
		{
			int			ti = stmts[i].table_index;
			bool		exists = false;

			if (done[i])
				continue;
			/* look once, before this run's first statement for the table */
			if (ti >= 0 && ti < ctx->plan->ntables && !checked[ti] &&
				(checked[ti] = true) &&
				(ok = table_exists(c, &ctx->plan->tables[ti], &exists)) && exists)
			{
				log_info("shard %d: table %s exists already; keeping its definition", s,
						 ctx->plan->tables[ti].spec);
				adopted[ti] = true;
				ok = adopt_table(ctx, c, ti);
			}
			if (ok && !(ti >= 0 && ti < ctx->plan->ntables && adopted[ti]))
				ok = apply_stmt(ctx, c, &stmts[i]);
		}
		ok = ok && pgr_exec(c, "committing the schema", "COMMIT", 0, NULL);
		if (ok)
			log_info("shard %d: schema created (%d statement(s))", s, todo);
	}
	free(done);
	free(checked);
	free(adopted);
	pgr_disconnect(c);
	return ok;
}

bool
step_schema_pre(apply_ctx *ctx)
{
	stored_stmt *stmts = NULL;
	int			n = 0;
	bool		ok = ensure_script(ctx) && load_script(ctx, "pre", &stmts, &n);

	for (int s = 0; ok && s < ctx->plan->nshards; s++)
		ok = pre_on_shard(ctx, s, stmts, n);
	free_stmts(stmts, n);
	return ok;
}

typedef struct post_job {
	apply_ctx  *ctx;
	int			shard;
	const stored_stmt *stmts;
	int			n;
	bool		started;
	bool		ok;
} post_job;

static void *
post_on_shard(void *arg)
{
	post_job   *job = arg;
	apply_ctx  *ctx = job->ctx;
	pgr_conn   *c = connect_shard(ctx->plan, job->shard);
	bool	   *done = xcalloc((size_t) job->n + 1, sizeof(bool));
	bool		ok = c != NULL && load_done(ctx, c, job->stmts, job->n, done);
	int			applied = 0;

	ok = ok && pgr_exec(c, "raising maintenance_work_mem for index builds",
						"SET maintenance_work_mem = '256MB'", 0, NULL);
	for (int i = 0; ok && i < job->n; i++)
	{
		if (done[i])
			continue;
		if (is_setting(&job->stmts[i]))
		{
			ok = apply_stmt(ctx, c, &job->stmts[i]);
			continue;
		}
		ok = pgr_exec(c, "starting a DDL transaction", "BEGIN", 0, NULL) &&
			apply_stmt(ctx, c, &job->stmts[i]) &&
			pgr_exec(c, "committing DDL", "COMMIT", 0, NULL);
		applied++;
	}
	if (ok && applied > 0)
		log_info("shard %d: %d index(es), constraint(s) and trigger(s) created", job->shard, applied);
	free(done);
	pgr_disconnect(c);
	job->ok = ok;
	return NULL;
}

bool
step_schema_post(apply_ctx *ctx)
{
	int			n = ctx->plan->nshards, nstmts = 0;
	stored_stmt *stmts = NULL;
	pthread_t  *threads = xcalloc((size_t) n, sizeof(pthread_t));
	post_job   *jobs = xcalloc((size_t) n, sizeof(post_job));
	bool		ok = load_script(ctx, "post", &stmts, &nstmts);

	for (int s = 0; ok && s < n; s++)
	{
		jobs[s] = (post_job) {ctx, s, stmts, nstmts, false, false};
		jobs[s].started = pthread_create(&threads[s], NULL, post_on_shard, &jobs[s]) == 0;
		if (!jobs[s].started)
			post_on_shard(&jobs[s]);	/* no thread to be had: do it here */
	}
	for (int s = 0; s < n; s++)
	{
		if (jobs[s].started)
			pthread_join(threads[s], NULL);
		ok = ok && jobs[s].ok;
	}
	free_stmts(stmts, nstmts);
	free(threads);
	free(jobs);
	return ok;
}
