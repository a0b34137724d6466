/*
 * shard_objects.c — record a shard's schema objects before the schema sync,
 * and drop what the sync created (see shard_objects.h).
 *
 * Objects are named the way PostgreSQL names them itself:
 * pg_identify_object() gives each a type ("table", "function", ...) and an
 * identity that is already quoted SQL ("app.\"Order Items\"",
 * "public.total(integer)").  The drop statement is "DROP <type> IF EXISTS
 * <identity> CASCADE" for the types listed below, so a function is dropped
 * with its argument types and a name needing quotes stays quoted.  Objects
 * that belong to an extension, and those internal to another (an identity's
 * sequence, a table's row type, a range's multirange), go with their owner.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "shard_objects.h"
#include "xalloc.h"

/* Every schema object of the database, outside the system and pgreshard's schemas. */
#define USER_NS \
	"(SELECT oid FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' " \
	"AND nspname NOT IN ('information_schema', 'pgreshard'))"
static const char objects_sql[] =
	"SELECT o.catalog::text, i.type, i.identity FROM ("
	"SELECT 'pg_namespace'::regclass AS catalog, oid AS objid FROM pg_namespace "
	"  WHERE oid IN " USER_NS
	" UNION ALL SELECT 'pg_extension'::regclass, oid FROM pg_extension WHERE extname <> 'plpgsql'"
	" UNION ALL SELECT 'pg_class'::regclass, oid FROM pg_class "
	"  WHERE relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND relnamespace IN " USER_NS
	" UNION ALL SELECT 'pg_type'::regclass, t.oid FROM pg_type t "
	"  WHERE t.typtype IN ('e', 'd', 'r', 'c') AND t.typnamespace IN " USER_NS
	"  AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')"
	" UNION ALL SELECT 'pg_proc'::regclass, oid FROM pg_proc WHERE pronamespace IN " USER_NS
	" UNION ALL SELECT 'pg_collation'::regclass, oid FROM pg_collation WHERE collnamespace IN " USER_NS
	") o, LATERAL pg_identify_object(o.catalog, o.objid, 0) i "
	"WHERE NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = o.catalog AND d.objid = o.objid "
	"AND d.deptype IN ('e', 'i'))";

/* The types dropped, in the order that leaves the fewest dependencies to cascade. */
static const struct {
	const char *type;
	const char *drop;
}			drop_order[] = {
	{"materialized view", "MATERIALIZED VIEW"},
	{"view", "VIEW"},
	{"foreign table", "FOREIGN TABLE"},
	{"table", "TABLE"},
	{"sequence", "SEQUENCE"},
	{"aggregate", "AGGREGATE"},
	{"procedure", "PROCEDURE"},
	{"function", "FUNCTION"},
	{"domain", "DOMAIN"},
	{"type", "TYPE"},
	{"composite type", "TYPE"},
	{"collation", "COLLATION"},
	{"extension", "EXTENSION"},
	{"schema", "SCHEMA"},
};
#define NDROP ((int) (sizeof(drop_order) / sizeof(drop_order[0])))

bool
shard_objects_record(pgr_conn *c, const plan *p)
{
	const char *params[1] = {p->name};
	char	   *sql = xasprintf("INSERT INTO pgreshard.objects_before (plan_name, catalog, kind, identity) "
								"SELECT $1, o.* FROM (%s) o "
								"WHERE NOT EXISTS (SELECT FROM pgreshard.objects_before WHERE plan_name = $1) "
								"ON CONFLICT DO NOTHING", objects_sql);
	bool		ok = pgr_exec(c, "recording the schema objects the shard had", sql, 1, params);

	free(sql);
	return ok;
}

/* Whether the record exists, and whether any DDL of this plan ran here. */
static bool
record_state(pgr_conn *c, const plan *p, bool *recorded, bool *ddl_ran)
{
	const char *params[1] = {p->name};
	PGresult   *res = pgr_query(c, "reading the schema record",
								"SELECT EXISTS (SELECT FROM pgreshard.objects_before WHERE plan_name = $1), "
								"EXISTS (SELECT FROM pgreshard.ddl_done WHERE plan_name = $1)", 1, params);

	if (res == NULL)
		return false;
	*recorded = PQgetvalue(res, 0, 0)[0] == 't';
	*ddl_ran = PQgetvalue(res, 0, 1)[0] == 't';
	PQclear(res);
	return true;
}

/* Empty the moved tables the shard had before: the user's, with pgreshard's rows. */
static bool
truncate_adopted(pgr_conn *c, const plan *p)
{
	bool		ok = true;

	for (int i = 0; ok && i < p->ntables; i++)
	{
		const plan_table *t = &p->tables[i];
		const char *params[3] = {p->name, t->schema, t->relname};
		PGresult   *res = pgr_query(c, "looking for a table the shard had",
									"SELECT 1 FROM pgreshard.objects_before WHERE plan_name = $1 "
									"AND catalog = 'pg_class' AND identity = quote_ident($2) || '.' || quote_ident($3)",
									3, params);
		char	   *qn, *sql;

		ok = res != NULL;
		if (ok && PQntuples(res) > 0)
		{
			qn = pgr_quote_qualified(c, t->schema, t->relname);
			sql = xasprintf("TRUNCATE %s", qn);
			ok = pgr_exec(c, "emptying a table the shard had before", sql, 0, NULL);
			if (ok)
				log_info("%s: table %s existed before pgreshard: emptied, kept", c->role, t->spec);
			free(sql);
			free(qn);
		}
		PQclear(res);
	}
	return ok;
}

bool
shard_objects_drop_created(pgr_conn *c, const plan *p, int *dropped)
{
	const char *params[1] = {p->name};
	bool		recorded, ddl_ran, ok;
	char	   *sql;
	PGresult   *res;

	*dropped = 0;
	if (!record_state(c, p, &recorded, &ddl_ran))
		return false;
	if (!recorded)
	{
		if (!ddl_ran)
			return true;		/* the schema sync never ran here: nothing was created */
		log_error("%s: the schema sync of plan %s ran here without a record of what the shard had "
				  "before (a run started by pgreshard 0.4 or older), so pgreshard cannot tell its "
				  "objects from yours; fix: drop the moved tables and the objects the schema sync "
				  "created by hand, then run `pgreshard cleanup` without --drop-data", c->role, p->name);
		return false;
	}
	sql = xasprintf("SELECT o.kind, o.identity FROM (%s) o (catalog, kind, identity) "
					"WHERE NOT EXISTS (SELECT FROM pgreshard.objects_before b WHERE b.plan_name = $1 "
					"AND b.catalog = o.catalog AND b.identity = o.identity)", objects_sql);
	res = pgr_query(c, "listing the objects the schema sync created", sql, 1, params);
	free(sql);
	if (res == NULL)
		return false;
	ok = pgr_exec(c, "starting the drop", "BEGIN", 0, NULL);
	for (int k = 0; ok && k < NDROP; k++)
		for (int r = 0; ok && r < PQntuples(res); r++)
		{
			const char *identity = PQgetvalue(res, r, 1);

			if (strcmp(PQgetvalue(res, r, 0), drop_order[k].type) != 0)
				continue;
			/* identity is PostgreSQL's own quoted name of the object */
			sql = xasprintf("DROP %s IF EXISTS %s CASCADE", drop_order[k].drop, identity);
			ok = pgr_exec(c, "dropping an object the schema sync created", sql, 0, NULL);
			free(sql);
			if (ok)
			{
				log_info("%s: %s %s dropped", c->role, PQgetvalue(res, r, 0), identity);
				(*dropped)++;
			}
		}
	for (int r = 0; ok && r < PQntuples(res); r++)
	{
		bool		known = false;

		for (int k = 0; k < NDROP && !known; k++)
			known = strcmp(PQgetvalue(res, r, 0), drop_order[k].type) == 0;
		if (!known)
			log_warn("%s: %s %s was created during the move but is not a kind pgreshard drops; "
					 "it stays", c->role, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
	}
	ok = ok && truncate_adopted(c, p);
	ok = pgr_exec(c, ok ? "committing the drop" : "rolling back the drop", ok ? "COMMIT" : "ROLLBACK",
				  0, NULL) && ok;
	PQclear(res);
	return ok;
}
