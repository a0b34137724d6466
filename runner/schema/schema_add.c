/*
 * schema_add.c — the DDL of tables appended to a plan during its move
 * (plan_append.h): a supplement to the script schema-pre stored, for just
 * those tables, so that rerunning schema-pre and schema-post creates them on
 * the shards and touches nothing else.
 *
 * The script is built again from a fresh pg_dump for the plan as it is now
 * (the same code as the first one: schema_script.h), and of it are kept:
 *  - the statements of the appended tables and of their partitions
 *    (CREATE TABLE, sequences, comments, constraints, indexes, triggers...)
 *    but one whose very text is stored already (a sequence two tables use);
 *  - the statements of no table (types, functions, views, schemas, grants)
 *    that the stored script does not have yet, by their object and by their
 *    text, e.g. a type only the new table uses, or a view over it.  An object
 *    the stored script created already is not created again (a function
 *    redefined on the source since is the cutover's schema check's concern);
 *  - not the statements of tables already moved, even where the new script
 *    differs (a foreign key from a moved table to the new one, now both
 *    moved): the shards follow those tables through the stream and the
 *    cutover's schema check; such statements are listed as warnings.
 * Session settings are stored once already and run before every phase.
 *
 * The supplement gets statement numbers after the stored ones and is
 * written in the caller's transaction on shard 0, together with the new
 * tables' shape and the steps to run again, so a crash leaves either the
 * whole change recorded or none of it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "ddl.h"
#include "log.h"
#include "schema_script.h"
#include "xalloc.h"

/* The plan table a script statement belongs to: its table_index, or the
 * parent of a partition (partitions are numbered after the tables, in table
 * order: schema_script.c), or -1. */
static int
owner_table(const plan *p, const catalog *cat, int ti)
{
	int			n = p->ntables;

	if (ti < p->ntables)
		return ti;
	for (int i = 0; i < p->ntables; i++)
	{
		n += catalog_table(cat, i)->nparts;
		if (ti < n)
			return i;
	}
	return -1;
}

/* Is the statement's text (or, by_what, its object) already in the stored
 * script (res: what, sql)? */
static bool
stored(const PGresult *res, const ddl_stmt *st, bool by_what)
{
	for (int r = 0; r < PQntuples(res); r++)
		if ((by_what && strcmp(PQgetvalue(res, r, 0), st->what) == 0) ||
			strcmp(PQgetvalue(res, r, 1), st->sql) == 0)
			return true;
	return false;
}

static bool
store_stmt(apply_ctx *ctx, const ddl_stmt *st, int no)
{
	char		no_s[16], ti[16];
	const char *params[6] = {ctx->plan->name, no_s, st->phase == DDL_PRE ? "pre" : "post", ti,
	st->what, st->sql};

	snprintf(no_s, sizeof(no_s), "%d", no);
	snprintf(ti, sizeof(ti), "%d", st->table_index);
	return pgr_exec(ctx->state, "storing the added tables' DDL",
					"INSERT INTO pgreshard.ddl (plan_name, stmt, phase, table_index, what, sql) "
					"VALUES ($1, $2, $3, $4, $5, $6)", 6, params);
}

/* The supplement for the tables from first_new on, against the stored script (res). */
static bool
store_supplement(apply_ctx *ctx, int first_new, const PGresult *res, int next)
{
	const plan *p = ctx->plan;
	ddl_script	script = {0};
	int			added = 0;
	bool		ok = schema_script_build(p, ctx->cat, ctx->sources[0].role, &script);

	for (int i = 0; ok && i < script.n; i++)
	{
		const ddl_stmt *st = &script.stmts[i];
		int			owner = st->table_index < 0 ? -1 : owner_table(p, ctx->cat, st->table_index);

		if (strncmp(st->what, "setting ", 8) == 0)
			continue;
		if ((owner >= first_new && !stored(res, st, false)) || (owner < 0 && !stored(res, st, true)))
		{
			ok = store_stmt(ctx, st, next + added);
			added++;
		}
		else if (owner >= 0 && owner < first_new && !stored(res, st, true))
			log_warn("schema: %s (of table %s, already moved) is not in the script the move began "
					 "with and is not created on the shards now; the cutover's schema check lists it "
					 "if it is still missing then", st->what, p->tables[owner].spec);
	}
	for (int i = 0; ok && i < script.nskipped; i++)
		log_warn("foreign key %s on %s references %s and is not created on the shards: %s",
				 script.skipped[i].name, script.skipped[i].table, script.skipped[i].references,
				 script.skipped[i].reason);
	if (ok)
		log_info("schema: %d DDL statement(s) added to the script for the added table(s)", added);
	ddl_script_free(&script);
	return ok;
}

bool
schema_add_tables(apply_ctx *ctx, int first_new)
{
	const char *params[1] = {ctx->plan->name};
	PGresult   *res = pgr_query(ctx->state, "reading the DDL script",
								"SELECT what, sql, (SELECT coalesce(max(stmt), -1) + 1 FROM pgreshard.ddl "
								"WHERE plan_name = $1) FROM pgreshard.ddl WHERE plan_name = $1", 1, params);
	bool		ok = res != NULL;

	/* no script yet: schema-pre builds it whole, with the added tables */
	if (ok && PQntuples(res) > 0)
		ok = store_supplement(ctx, first_new, res, atoi(PQgetvalue(res, 0, 2)));
	PQclear(res);
	return ok;
}
