/*
 * test_ddl_objects.c — the DDL split (ddl.h) for the schema objects besides
 * the tables: views (pg_dump's stub + CREATE OR REPLACE VIEW), materialized
 * views and their indexes, owners, grants and default privileges, and the
 * objects a real schema carries with its tables (extensions, collations,
 * enum/composite/range/domain types, aggregates, functions returning a
 * moved table's row type, row-level security, exclusion and deferrable
 * constraints, identity and generated columns, extended statistics).  An
 * object that needs something not moved is left out and reported, never
 * half-created.
 */
#include <string.h>

#include "ddl_test_util.h"

static const char *const K_TENANT[] = {"tenant_id"};

static const ddl_table tables[] = {
	{"app", "accounts", false, 1, K_TENANT},
	{"app", "users", false, 1, K_TENANT},
	{"app", "plans", true, 0, NULL},
};

/* Written the way pg_dump 15 writes it (owners and privileges on). */
static const char dump[] =
	"SET statement_timeout = 0;\n"
	"SELECT pg_catalog.set_config('search_path', '', false);\n"
	"CREATE SCHEMA app;\n"
	"ALTER SCHEMA app OWNER TO app_owner;\n"
	"ALTER SCHEMA public OWNER TO pg_database_owner;\n"
	"CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public;\n"
	"COMMENT ON EXTENSION citext IS 'ci text';\n"
	"CREATE COLLATION app.ci (provider = icu, deterministic = false, locale = 'und-u-ks-level2');\n"
	"ALTER COLLATION app.ci OWNER TO app_owner;\n"
	"CREATE TYPE app.status AS ENUM ('active', 'closed');\n"
	"ALTER TYPE app.status OWNER TO app_owner;\n"
	"CREATE TYPE app.money_range AS RANGE (subtype = numeric);\n"
	"CREATE TYPE app.addr AS (street text, city text);\n"
	"CREATE DOMAIN app.email AS public.citext CONSTRAINT email_check CHECK ((VALUE OPERATOR(public.~) '@'::public.citext));\n"
	"CREATE VIEW app.account_users AS\nSELECT\n    NULL::integer AS tenant_id,\n    NULL::bigint AS n;\n"
	"ALTER TABLE app.account_users OWNER TO app_owner;\n"
	"CREATE FUNCTION app.users_of(t integer) RETURNS SETOF app.users LANGUAGE sql AS $$SELECT * FROM app.users WHERE tenant_id = t$$;\n"
	"ALTER FUNCTION app.users_of(t integer) OWNER TO app_owner;\n"
	"CREATE FUNCTION app.log_count() RETURNS bigint LANGUAGE sql\n    BEGIN ATOMIC\n SELECT count(*) FROM app.log;\nEND;\n"
	"CREATE FUNCTION app.log_touch() RETURNS trigger LANGUAGE sql\n    BEGIN ATOMIC\n INSERT INTO app.log (id) VALUES (1);\nEND;\n"
	"CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.updated_at = now(); RETURN NEW; END$$;\n"
	"CREATE AGGREGATE app.concat_all(text) (SFUNC = textcat, STYPE = text, INITCOND = '');\n"
	"CREATE TABLE app.accounts (\n    tenant_id integer NOT NULL,\n    name text COLLATE app.ci,\n"
	"    status app.status,\n    during tstzrange,\n    spend app.money_range,\n    home app.addr,\n"
	"    upper_name text GENERATED ALWAYS AS (upper(name)) STORED\n);\n"
	"ALTER TABLE app.accounts OWNER TO app_owner;\n"
	"CREATE TABLE app.users (\n    tenant_id integer NOT NULL,\n    id bigint NOT NULL,\n    email app.email,\n"
	"    updated_at timestamp with time zone\n);\n"
	"ALTER TABLE app.users OWNER TO app_owner;\n"
	"ALTER TABLE app.users ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (\n    SEQUENCE NAME app.users_id_seq\n    START WITH 1\n);\n"
	"CREATE TABLE app.plans (id integer NOT NULL, code text);\n"
	"CREATE TABLE app.log (id integer);\n"
	"ALTER TABLE app.log OWNER TO app_owner;\n"
	"CREATE VIEW app.log_view AS\n SELECT log.id\n   FROM app.log;\n"
	"CREATE VIEW app.counted AS\n SELECT app.log_count() AS n;\n"
	"CREATE MATERIALIZED VIEW app.tenant_totals AS\n SELECT users.tenant_id,\n    count(*) AS n\n   FROM app.users\n  GROUP BY users.tenant_id\n  WITH NO DATA;\n"
	"ALTER TABLE app.tenant_totals OWNER TO app_owner;\n"
	"CREATE MATERIALIZED VIEW app.log_totals AS\n SELECT count(*) AS n\n   FROM app.log\n  WITH NO DATA;\n"
	"COMMENT ON VIEW app.account_users IS 'per tenant';\n"
	"COMMENT ON COLUMN app.account_users.n IS 'users';\n"
	"COMMENT ON VIEW app.log_view IS 'gone';\n"
	"ALTER TABLE ONLY app.accounts ADD CONSTRAINT accounts_pkey PRIMARY KEY (tenant_id);\n"
	"ALTER TABLE ONLY app.accounts ADD CONSTRAINT no_overlap EXCLUDE USING gist (during WITH &&);\n"
	"ALTER TABLE ONLY app.users ADD CONSTRAINT users_pkey PRIMARY KEY (tenant_id, id);\n"
	"ALTER TABLE ONLY app.users ADD CONSTRAINT users_email_key UNIQUE (tenant_id, email) DEFERRABLE INITIALLY DEFERRED;\n"
	"CREATE INDEX tenant_totals_idx ON app.tenant_totals USING btree (tenant_id);\n"
	"CREATE INDEX log_totals_idx ON app.log_totals USING btree (n);\n"
	"CREATE STATISTICS app.users_stats (dependencies) ON tenant_id, email FROM app.users;\n"
	"CREATE OR REPLACE VIEW app.account_users AS\n SELECT a.tenant_id,\n    count(u.id) AS n\n"
	"   FROM (app.accounts a\n     JOIN app.users u ON ((u.tenant_id = a.tenant_id)))\n  GROUP BY a.tenant_id;\n"
	"CREATE TRIGGER users_touch BEFORE UPDATE ON app.users FOR EACH ROW EXECUTE FUNCTION app.touch();\n"
	"ALTER TABLE app.users ENABLE ALWAYS TRIGGER users_touch;\n"
	"CREATE TRIGGER users_log AFTER INSERT ON app.users FOR EACH ROW EXECUTE FUNCTION app.log_touch();\n"
	"ALTER TABLE app.users ENABLE ROW LEVEL SECURITY;\n"
	"ALTER TABLE app.users FORCE ROW LEVEL SECURITY;\n"
	"CREATE POLICY tenant_isolation ON app.users TO app_user USING ((tenant_id = (current_setting('app.tenant'::text))::integer));\n"
	"ALTER TABLE ONLY app.users ADD CONSTRAINT users_account_fkey FOREIGN KEY (tenant_id) REFERENCES app.accounts(tenant_id) ON DELETE CASCADE;\n"
	"REVOKE ALL ON SCHEMA public FROM PUBLIC;\n"
	"GRANT USAGE ON SCHEMA app TO app_user;\n"
	"GRANT ALL ON FUNCTION app.users_of(t integer) TO app_user;\n"
	"GRANT ALL ON FUNCTION app.log_count() TO app_user;\n"
	"GRANT SELECT,INSERT ON TABLE app.users TO app_user;\n"
	"GRANT SELECT(name) ON TABLE app.accounts TO app_user;\n"
	"GRANT SELECT ON TABLE app.log TO app_user;\n"
	"GRANT SELECT ON TABLE app.account_users TO app_user;\n"
	"GRANT SELECT ON TABLE app.log_view TO app_user;\n"
	"ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA app GRANT SELECT ON TABLES TO app_user;\n";

static int
find(const ddl_script *s, const char *what)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->stmts[i].what, what) == 0)
			return i;
	return -1;
}

/* Statement `what` is in the script, in `phase`; its index. */
static int
in(const ddl_script *s, const char *what, ddl_phase phase)
{
	int			i = find(s, what);

	if (i < 0)
	{
		for (int k = 0; k < s->n; k++)
			print_message("  have: %s\n", s->stmts[k].what);
		fail_msg("no statement \"%s\"", what);
	}
	if (s->stmts[i].phase != phase)
		fail_msg("\"%s\" is in %s", what, s->stmts[i].phase == DDL_PRE ? "PRE" : "POST");
	return i;
}

static void
absent(const ddl_script *s, const char *needle)
{
	for (int i = 0; i < s->n; i++)
		if (strstr(s->stmts[i].sql, needle) != NULL)
			fail_msg("statement %d (%s) mentions %s:\n%s", i, s->stmts[i].what, needle,
					 s->stmts[i].sql);
}

static const ddl_dropped *
dropped(const ddl_script *s, const char *what)
{
	for (int i = 0; i < s->ndropped; i++)
		if (strcmp(s->dropped[i].what, what) == 0)
			return &s->dropped[i];
	return NULL;
}

static void
build(ddl_script *s)
{
	log_set_level(LOG_ERROR);
	build_ok(dump, tables, 3, s);
	log_set_level(LOG_WARN);
}

/* pg_dump's stub view in PRE, its real body in POST; both only when kept. */
static void
test_views(void **state)
{
	ddl_script	s;
	int			stub, body;

	(void) state;
	build(&s);
	stub = in(&s, "view app.account_users", DDL_PRE);
	body = in(&s, "body of view app.account_users", DDL_POST);
	assert_true(strncmp(s.stmts[body].sql, "CREATE OR REPLACE VIEW", 22) == 0);
	assert_true(stub < body);
	/* the body comes after the primary key its GROUP BY relies on */
	assert_true(in(&s, "primary key accounts_pkey on app.accounts", DDL_POST) < body);
	in(&s, "comment on view app.account_users", DDL_PRE);
	in(&s, "comment on column app.account_users.n", DDL_PRE);
	/* over a table that stays; calling a function left out */
	absent(&s, "log_view");
	absent(&s, "app.counted");
	assert_non_null(dropped(&s, "view app.log_view"));
	assert_non_null(strstr(dropped(&s, "view app.log_view")->reason, "app.log, which is not moved"));
	assert_non_null(dropped(&s, "view app.counted"));
	assert_non_null(strstr(dropped(&s, "view app.counted")->reason, "app.log_count"));
	assert_non_null(dropped(&s, "function app.log_count"));
	ddl_script_free(&s);
}

static void
test_matviews(void **state)
{
	ddl_script	s;
	int			mv;

	(void) state;
	build(&s);
	mv = in(&s, "materialized view app.tenant_totals", DDL_PRE);
	assert_non_null(strstr(s.stmts[mv].sql, "WITH NO DATA"));
	in(&s, "index app.tenant_totals_idx on materialized view app.tenant_totals", DDL_POST);
	absent(&s, "log_totals");
	assert_non_null(dropped(&s, "materialized view app.log_totals"));
	ddl_script_free(&s);
}

/* Owners last; grants in POST; public's owner and objects left out. */
static void
test_owners_and_grants(void **state)
{
	ddl_script	s;
	int			owner;

	(void) state;
	build(&s);
	owner = in(&s, "owner of app.users", DDL_POST);
	for (int i = owner; i < s.n; i++)
		if (strncmp(s.stmts[i].what, "owner of ", 9) != 0)
			fail_msg("\"%s\" comes after the owners", s.stmts[i].what);
	in(&s, "owner of app.accounts", DDL_POST);
	in(&s, "owner of app.account_users", DDL_POST);
	in(&s, "owner of app.tenant_totals", DDL_POST);
	in(&s, "owner of app", DDL_POST);
	in(&s, "owner of app.status", DDL_POST);
	in(&s, "owner of app.ci", DDL_POST);
	in(&s, "owner of app.users_of", DDL_POST);
	absent(&s, "pg_database_owner");
	absent(&s, "ALTER TABLE app.log OWNER");
	in(&s, "grant on app", DDL_POST);
	in(&s, "revoke on public", DDL_POST);
	in(&s, "grant on app.users", DDL_POST);
	in(&s, "grant on app.accounts", DDL_POST);
	in(&s, "grant on app.users_of", DDL_POST);
	in(&s, "grant on app.account_users", DDL_POST);
	in(&s, "default privileges", DDL_POST);
	absent(&s, "GRANT SELECT ON TABLE app.log ");
	absent(&s, "GRANT SELECT ON TABLE app.log_view");
	absent(&s, "GRANT ALL ON FUNCTION app.log_count");
	ddl_script_free(&s);
}

/* Roles missing on a shard: the owners and grants naming them are left out. */
static void
test_missing_roles(void **state)
{
	static const char *const missing[] = {"app_user"};
	ddl_script	s;
	const ddl_dropped *d;

	(void) state;
	log_set_level(LOG_ERROR);
	if (!ddl_build_ex(dump, tables, 3, missing, 1, &s))
		fail_msg("ddl_build_ex failed");
	log_set_level(LOG_WARN);
	in(&s, "owner of app.users", DDL_POST);
	in(&s, "revoke on public", DDL_POST);
	assert_int_equal(find(&s, "grant on app.users"), -1);
	assert_int_equal(find(&s, "grant on app"), -1);
	d = dropped(&s, "grant on app.users");
	assert_non_null(d);
	assert_string_equal(d->reason, "role app_user does not exist on every shard");
	/* a policy's role is not left out: preflight refuses the shard instead */
	in(&s, "policy tenant_isolation on app.users", DDL_POST);
	ddl_script_free(&s);
}

/* What a real schema carries along with its tables. */
static void
test_schema_objects(void **state)
{
	ddl_script	s;

	(void) state;
	build(&s);
	in(&s, "extension citext", DDL_PRE);
	absent(&s, "COMMENT ON EXTENSION");
	in(&s, "collation app.ci", DDL_PRE);
	in(&s, "type app.status", DDL_PRE);
	in(&s, "type app.money_range", DDL_PRE);
	in(&s, "type app.addr", DDL_PRE);
	in(&s, "domain app.email", DDL_PRE);
	in(&s, "function app.users_of", DDL_PRE);	/* returns a moved table's row type */
	in(&s, "aggregate app.concat_all", DDL_PRE);
	assert_non_null(strstr(s.stmts[in(&s, "table app.accounts", DDL_PRE)].sql, "GENERATED ALWAYS AS (upper(name)) STORED"));
	in(&s, "identity column id of app.users", DDL_PRE);
	in(&s, "exclusion constraint no_overlap on app.accounts", DDL_POST);
	assert_non_null(strstr(s.stmts[in(&s, "unique constraint users_email_key on app.users", DDL_POST)].sql,
						   "DEFERRABLE INITIALLY DEFERRED"));
	in(&s, "statistics users_stats on app.users", DDL_POST);
	in(&s, "trigger users_touch on app.users", DDL_POST);
	/* a trigger whose function needs a table that stays is left out with it */
	absent(&s, "users_log");
	assert_non_null(dropped(&s, "trigger users_log on app.users"));
	assert_non_null(strstr(dropped(&s, "trigger users_log on app.users")->reason, "app.log_touch"));
	in(&s, "policy tenant_isolation on app.users", DDL_POST);
	assert_true(find(&s, "row level security of app.users") >= 0);
	absent(&s, "CREATE TABLE app.log");
	ddl_script_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_views),
		cmocka_unit_test(test_matviews),
		cmocka_unit_test(test_owners_and_grants),
		cmocka_unit_test(test_missing_roles),
		cmocka_unit_test(test_schema_objects),
	};

	log_set_level(LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
