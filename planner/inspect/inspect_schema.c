/*
 * inspect_schema.c — what the shards need, beyond the moved tables, for the
 * schema to arrive whole and for changes to be applied only once:
 *
 *   the applying role   copy and stream run with session_replication_role =
 *                       replica (runner/apply_session.c), so user triggers
 *                       and foreign-key actions fire on the source only.  A
 *                       shard whose role may not set it (not superuser, and
 *                       on PostgreSQL 15 no SET ON PARAMETER grant) is an
 *                       error when moved tables have triggers that would fire
 *                       a second time there or foreign keys with ON
 *                       DELETE/UPDATE actions; a warning otherwise;
 *   row-level security  a shard role that is neither superuser nor BYPASSRLS
 *                       would have the policies of moved tables applied to
 *                       the rows it writes (and reads back): an error;
 *   extensions          each is created on every shard: one a shard cannot
 *                       install (pg_available_extensions) is an error there;
 *   roles               owners and grantees of the schema's objects should
 *                       exist on every shard: one that is missing somewhere
 *                       is a warning, and the owners and grants naming it are
 *                       left out (cat->needs.missing_roles; the plan lists
 *                       them); schema.skip_owners leaves out all of them.  A
 *                       role a policy names must exist: an error.
 *
 * The source side is read once (source 0) into cat->needs; each destination
 * is then checked against it.  Read-only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect.h"
#include "xalloc.h"

#define USER_SCHEMA(nsp) \
	"(" nsp " NOT IN ('pg_catalog', 'information_schema') AND " nsp " NOT LIKE 'pg\\_toast%')"

/* Triggers that fire in origin mode only (ENABLE; ALWAYS ones fire on the
 * shards in either mode, REPLICA ones never in origin mode), and foreign-key
 * actions, of every table.  The first two columns name the table the plan
 * lists: a partition's root (a trigger made on one partition fires for the
 * rows routed there); the copies PostgreSQL makes of a partitioned table's
 * triggers and keys on its partitions are left out (the root's own count). */
static const char *const SQL_TRIGGERS =
	"SELECT rn.nspname, r.relname, format('trigger %I on %I.%I', t.tgname, n.nspname, c.relname) "
	"FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
	"JOIN pg_class r ON r.oid = coalesce(pg_partition_root(c.oid), c.oid) JOIN pg_namespace rn ON rn.oid = r.relnamespace "
	"WHERE NOT t.tgisinternal AND t.tgenabled = 'O' AND " USER_SCHEMA("n.nspname") " "
	"AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_trigger'::regclass AND d.objid = t.oid "
	"AND d.deptype = 'P') "
	"UNION ALL "
	"SELECT rn.nspname, r.relname, format('foreign key %I on %I.%I (ON %s)', con.conname, n.nspname, c.relname, "
	"concat_ws(', ', CASE WHEN con.confdeltype NOT IN ('a', 'r') THEN 'DELETE' END, "
	"CASE WHEN con.confupdtype NOT IN ('a', 'r') THEN 'UPDATE' END)) "
	"FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
	"JOIN pg_class r ON r.oid = coalesce(pg_partition_root(c.oid), c.oid) JOIN pg_namespace rn ON rn.oid = r.relnamespace "
	"WHERE con.contype = 'f' AND con.conparentid = 0 "
	"AND (con.confdeltype NOT IN ('a', 'r') OR con.confupdtype NOT IN ('a', 'r')) "
	"ORDER BY 3";

static const char *const SQL_RLS_TABLES =
	"SELECT n.nspname, c.relname, format('%I.%I', n.nspname, c.relname) FROM pg_class c "
	"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relrowsecurity ORDER BY 3";

static const char *const SQL_EXTENSIONS =
	"SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1";

/* Owners and grantees of the objects pg_dump writes (user schemas). */
static const char *const SQL_OWNER_ROLES =
	"WITH objs(owner, acl) AS ("
	" SELECT c.relowner, c.relacl FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	"  WHERE " USER_SCHEMA("n.nspname") " AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')"
	" UNION ALL SELECT p.proowner, p.proacl FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
	"  WHERE " USER_SCHEMA("n.nspname")
	" UNION ALL SELECT t.typowner, t.typacl FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
	"  WHERE " USER_SCHEMA("n.nspname")
	" UNION ALL SELECT n.nspowner, n.nspacl FROM pg_namespace n"
	"  WHERE " USER_SCHEMA("n.nspname") " AND n.nspname <> 'public') "
	"SELECT r.rolname FROM pg_roles r WHERE r.rolname NOT LIKE 'pg\\_%' AND r.oid IN ("
	" SELECT owner FROM objs UNION SELECT (aclexplode(acl)).grantee FROM objs WHERE acl IS NOT NULL) "
	"ORDER BY 1";

static const char *const SQL_POLICY_ROLES =
	"SELECT DISTINCT r.rolname FROM pg_policy p CROSS JOIN LATERAL unnest(p.polroles) pr(oid) "
	"JOIN pg_roles r ON r.oid = pr.oid ORDER BY 1";

static void
add_string(int *n, char ***v, const char *s)
{
	*v = xrealloc(*v, sizeof(char *) * (size_t) (*n + 1));
	(*v)[(*n)++] = xstrdup(s);
}

/* Column `col` of every row of sql into (*n, *v); rows filtered by moved tables when filter. */
static bool
read_list(const plan *p, pgr_conn *c, const char *what, const char *sql, int col, bool filter,
		  int *n, char ***v)
{
	PGresult   *res = pgr_query(c, what, sql, 0, NULL);

	if (res == NULL)
		return false;
	for (int r = 0; r < PQntuples(res); r++)
		if (!filter || plan_find_table(p, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1)) != NULL)
			add_string(n, v, PQgetvalue(res, r, col));
	PQclear(res);
	return true;
}

bool
inspect_schema_source(const plan *p, pgr_conn *c, catalog *cat)
{
	schema_needs *nd = &cat->needs;

	return read_list(p, c, "reading triggers", SQL_TRIGGERS, 2, true, &nd->ntriggers, &nd->triggers) &&
		read_list(p, c, "reading row-level security", SQL_RLS_TABLES, 2, true, &nd->nrls_tables,
				  &nd->rls_tables) &&
		read_list(p, c, "reading extensions", SQL_EXTENSIONS, 0, false, &nd->nextensions, &nd->extensions) &&
		read_list(p, c, "reading the roles that own objects", SQL_OWNER_ROLES, 0, false,
				  &nd->nowner_roles, &nd->owner_roles) &&
		read_list(p, c, "reading the roles of policies", SQL_POLICY_ROLES, 0, false,
				  &nd->npolicy_roles, &nd->policy_roles);
}

/* Add role to the missing roles, once. */
static void
remember_missing(schema_needs *nd, const char *role)
{
	for (int i = 0; i < nd->nmissing_roles; i++)
		if (strcmp(nd->missing_roles[i], role) == 0)
			return;
	add_string(&nd->nmissing_roles, &nd->missing_roles, role);
}

/* Which of names (n) the shard lacks, as "a, b" (malloc'd), or NULL; false on
 * error.  Those lacking are also added to collect's missing roles (when given). */
static bool
missing(pgr_conn *c, const char *what, const char *sql, char **names, int n, char **out,
		schema_needs *collect)
{
	size_t		len = 0;

	*out = NULL;
	for (int i = 0; i < n; i++)
	{
		const char *params[1] = {names[i]};
		PGresult   *res = pgr_query(c, what, sql, 1, params);

		if (res == NULL)
		{
			free(*out);
			*out = NULL;
			return false;
		}
		if (PQgetvalue(res, 0, 0)[0] == 't')
		{
			if (collect)
				remember_missing(collect, names[i]);
			char	   *more = xasprintf("%s%s%s", *out ? *out : "", len ? ", " : "", names[i]);

			free(*out);
			*out = more;
			len = strlen(more);
		}
		PQclear(res);
	}
	return true;
}

static bool
check_bypass_rls(pgr_conn *c, catalog *cat, const char *role)
{
	const schema_needs *nd = &cat->needs;
	PGresult   *res;

	if (nd->nrls_tables == 0)
		return true;
	res = pgr_query(c, "checking whether row-level security applies to the role",
					"SELECT rolsuper OR rolbypassrls, rolname FROM pg_roles WHERE rolname = current_user",
					0, NULL);
	if (res == NULL)
		return false;
	if (PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] != 't')
		catalog_add_finding(cat, FINDING_ERROR, role,
							"connect to the shards as a superuser, or ALTER ROLE ... BYPASSRLS",
							"role \"%s\" is subject to row-level security, which %d moved table(s) use "
							"(%s%s): the copy and the stream would write through their policies",
							PQgetvalue(res, 0, 1), nd->nrls_tables, nd->rls_tables[0],
							nd->nrls_tables > 1 ? ", ..." : "");
	PQclear(res);
	return true;
}

static bool
check_replica_role(const plan *p, pgr_conn *c, catalog *cat, const char *role)
{
	const schema_needs *nd = &cat->needs;
	PGresult   *res = pgr_query(c, "checking whether session_replication_role may be set",
								c->server_version >= 150000 ?
								"SELECT has_parameter_privilege('session_replication_role', 'SET'), current_user" :
								"SELECT rolsuper, current_user FROM pg_roles WHERE rolname = current_user",
								0, NULL);
	const char *fix = c->server_version >= 150000 ?
		"connect to the shards as a superuser, or GRANT SET ON PARAMETER session_replication_role TO the role" :
		"connect to the shards as a superuser";

	if (res == NULL)
		return false;
	if (PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] != 't')
	{
		if (nd->ntriggers > 0)
			catalog_add_finding(cat, FINDING_ERROR, role, fix,
								"role \"%s\" may not set session_replication_role, so the copy and the stream "
								"would fire %d trigger(s) and foreign-key action(s) of moved tables a second "
								"time on the shards (%s%s)", PQgetvalue(res, 0, 1), nd->ntriggers,
								nd->triggers[0], nd->ntriggers > 1 ? ", ..." : "");
		else
			catalog_add_finding(cat, FINDING_WARNING, role, fix,
								"role \"%s\" may not set session_replication_role: changes are applied in "
								"origin mode (no moved table has triggers or foreign-key actions now; one "
								"added during the move would fire again on the shards)", PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	(void) p;
	return true;
}

bool
inspect_schema_destination(const plan *p, pgr_conn *c, catalog *cat, const char *role)
{
	schema_needs *nd = &cat->needs;
	char	   *ext = NULL, *owners = NULL, *policy = NULL;
	bool		ok;

	ok = check_replica_role(p, c, cat, role) && check_bypass_rls(c, cat, role) &&
		missing(c, "checking extensions", "SELECT NOT EXISTS (SELECT FROM pg_available_extensions WHERE name = $1)",
				nd->extensions, nd->nextensions, &ext, NULL) &&
		(p->schema.skip_owners ||
		 missing(c, "checking roles", "SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)",
				 nd->owner_roles, nd->nowner_roles, &owners, nd)) &&
		missing(c, "checking roles", "SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)",
				nd->policy_roles, nd->npolicy_roles, &policy, NULL);
	if (ext)
		catalog_add_finding(cat, FINDING_ERROR, role,
							"install the extension's package on the shard's server (it is created on every shard)",
							"extension(s) %s cannot be installed here (not in pg_available_extensions)", ext);
	if (owners)
	{
		catalog_add_finding(cat, FINDING_WARNING, role,
							"CREATE ROLE them on the shard before the apply to keep them, or set schema.skip_owners: true",
							"role(s) %s own or are granted objects on the source but do not exist here: "
							"those owners and grants are left out on the shards", owners);
	}
	if (policy)
		catalog_add_finding(cat, FINDING_ERROR, role, "CREATE ROLE them on the shard",
							"role(s) %s, named by row-level security policies, do not exist here", policy);
	free(ext);
	free(owners);
	free(policy);
	return ok;
}
