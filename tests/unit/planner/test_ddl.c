/*
 * test_ddl.c — the schema steps' SQL: ddl_build() on real pg_dump 15 output.
 *
 * tests/data/dump-shop.sql and dump-public.sql were written by pg_dump 15
 * (--schema-only --no-owner --no-privileges --no-publications
 * --no-subscriptions --no-security-labels) from throwaway databases with
 * quoted mixed-case names, enums, domains, ranges, identity, serial and
 * generated columns, partitions, CHECK/PK/UNIQUE/EXCLUDE constraints,
 * expression and partial indexes, triggers, rules, policies, views, and
 * tables that are not moved.  The tests check what is kept, in which
 * phase and order, what is cut out of CREATE TABLE, and which foreign keys
 * are skipped and why.
 *
 * schema_dump() itself, and the live round trip, are in test_ddl_dump.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddl.h"
#include "ddl_test_util.h"
#include "log.h"
#include "sqlname.h"
#include "strbuf.h"
#include "xalloc.h"

/* ---- helpers ---------------------------------------------------------- */

static void
build_file(const char *name, const ddl_table *tables, int n, ddl_script *s)
{
	char	   *sql = read_data(name);

	build_ok(sql, tables, n, s);
	free(sql);
}

/* Index of the statement whose `what` is exactly what, or -1. */
static int
find_what(const ddl_script *s, const char *what)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->stmts[i].what, what) == 0)
			return i;
	return -1;
}

/* Index of the first statement whose SQL starts with prefix, or -1. */
static int
find_sql(const ddl_script *s, const char *prefix)
{
	for (int i = 0; i < s->n; i++)
		if (strncmp(s->stmts[i].sql, prefix, strlen(prefix)) == 0)
			return i;
	return -1;
}

/* The statement `what` must exist, in this phase; returns its index. */
static int
must(const ddl_script *s, const char *what, ddl_phase phase)
{
	int			i = find_what(s, what);

	if (i < 0)
		fail_msg("missing: %s", what);
	if (s->stmts[i].phase != phase)
		fail_msg("%s: expected phase %s", what, phase == DDL_PRE ? "PRE" : "POST");
	return i;
}

static int
must_sql(const ddl_script *s, const char *prefix, ddl_phase phase)
{
	int			i = find_sql(s, prefix);

	if (i < 0)
		fail_msg("no statement starts with: %s", prefix);
	if (s->stmts[i].phase != phase)
		fail_msg("%s: expected phase %s", prefix, phase == DDL_PRE ? "PRE" : "POST");
	return i;
}

/* No statement may mention needle, in its SQL or its description. */
static void
must_not_mention(const ddl_script *s, const char *needle)
{
	for (int i = 0; i < s->n; i++)
		if (strstr(s->stmts[i].sql, needle) || strstr(s->stmts[i].what, needle))
			fail_msg("statement %d (%s) mentions %s:\n%s", i, s->stmts[i].what,
					 needle, s->stmts[i].sql);
}

static const ddl_skipped_fk *
find_skipped(const ddl_script *s, const char *name)
{
	for (int i = 0; i < s->nskipped; i++)
		if (strcmp(s->skipped[i].name, name) == 0)
			return &s->skipped[i];
	return NULL;
}

static void
expect_error(const char *sql, const ddl_table *tables, int n, const char *why)
{
	ddl_script	s;
	char		err[512];

	log_error("%s", "");		/* clear the last error */
	if (ddl_build(sql, tables, n, &s))
		fail_msg("ddl_build should fail with: %s", why);
	assert_int_equal(s.n, 0);
	assert_null(s.stmts);
	log_last_error(err, sizeof(err));
	if (strstr(err, why) == NULL)
		fail_msg("expected \"%s\" in \"%s\"", why, err);
}

/* ---- dump-shop.sql ---------------------------------------------------- */

static void
test_shop_pre(void **state)
{
	ddl_script	s;
	int			i;

	(void) state;
	build_file("dump-shop.sql", shop_tables, N_SHOP, &s);
	/* session settings, schemas (IF NOT EXISTS), extension */
	must(&s, "setting search_path", DDL_PRE);
	assert_string_equal(s.stmts[must(&s, "setting statement_timeout", DDL_PRE)].sql,
						"SET statement_timeout = 0");
	i = must(&s, "schema \"Billing Dept\"", DDL_PRE);
	assert_string_equal(s.stmts[i].sql, "CREATE SCHEMA IF NOT EXISTS \"Billing Dept\"");
	must(&s, "schema app", DDL_PRE);
	assert_string_equal(s.stmts[must(&s, "extension citext", DDL_PRE)].sql,
						"CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public");
	/* types, domains with their CHECK, functions, aggregate, operator */
	must(&s, "type app.mood", DDL_PRE);
	must(&s, "type app.money_pair", DDL_PRE);
	must(&s, "type app.floatrange", DDL_PRE);
	must(&s, "collation app.ci", DDL_PRE);
	i = must(&s, "domain \"Billing Dept\".\"Currency Code\"", DDL_PRE);
	assert_non_null(strstr(s.stmts[i].sql, "CONSTRAINT \"Currency Code_check\" CHECK"));
	must(&s, "domain app.posint", DDL_PRE);
	i = must(&s, "function app.touch_updated_at", DDL_PRE);
	assert_non_null(strstr(s.stmts[i].sql, "-- keep; a comment with a ; inside\n"));
	must(&s, "function app.norm", DDL_PRE);
	must(&s, "aggregate app.textcat_all", DDL_PRE);
	must(&s, "operator app.=~=", DDL_PRE);
	must_sql(&s, "COMMENT ON TYPE app.mood IS", DDL_PRE);
	must_sql(&s, "COMMENT ON FUNCTION app.norm(t text)", DDL_PRE);
	must_sql(&s, "COMMENT ON SCHEMA app IS", DDL_PRE);
	/* every moved table, with table_index */
	for (int t = 0; t < N_SHOP; t++)
	{
		char	   *disp = sqlname_quote_qualified(shop_tables[t].schema,
												   shop_tables[t].relname);
		char	   *what = xasprintf("table %s", disp);

		assert_int_equal(s.stmts[must(&s, what, DDL_PRE)].table_index, t);
		free(what);
		free(disp);
	}
	ddl_script_free(&s);
}

/* Columns keep defaults, NOT NULL, identity, generated; CHECKs go to POST. */
static void
test_shop_create_table_rewrite(void **state)
{
	ddl_script	s;
	int			i;

	(void) state;
	build_file("dump-shop.sql", shop_tables, N_SHOP, &s);
	i = must(&s, "table app.\"Order Items\"", DDL_PRE);
	assert_string_equal(s.stmts[i].sql,
		"CREATE TABLE app.\"Order Items\" (\n"
		"    tenant_id integer NOT NULL,\n"
		"    id bigint NOT NULL,\n"
		"    order_id bigint,\n"
		"    customer_id bigint NOT NULL,\n"
		"    price numeric(14,4),\n"
		"    qty app.posint,\n"
		"    total numeric GENERATED ALWAYS AS ((price * (qty)::numeric)) STORED,\n"
		"    note text,\n"
		"    \"Line Note\" text COLLATE pg_catalog.\"C\",\n"
		"    attrs jsonb\n"
		")");
	i = must(&s, "check constraint \"Order Items qty sane\" on app.\"Order Items\"", DDL_POST);
	assert_string_equal(s.stmts[i].sql,
		"ALTER TABLE app.\"Order Items\" ADD CONSTRAINT \"Order Items qty sane\" "
		"CHECK (((qty)::integer < 1000000))");
	assert_int_equal(s.stmts[i].table_index, 4);
	must(&s, "check constraint \"Order Items_price_check\" on app.\"Order Items\"", DDL_POST);
	i = must(&s, "table shop.customers", DDL_PRE);
	assert_null(strstr(s.stmts[i].sql, "CHECK"));
	assert_non_null(strstr(s.stmts[i].sql, "    name text NOT NULL COLLATE app.ci,\n"));
	assert_non_null(strstr(s.stmts[i].sql, "prefs jsonb DEFAULT '{}'::jsonb NOT NULL,\n"));
	assert_non_null(strstr(s.stmts[i].sql, "    updated_at timestamp with time zone\n)"));
	i = must(&s, "table app.events", DDL_PRE);
	assert_non_null(strstr(s.stmts[i].sql, "    payload jsonb\n)\nPARTITION BY RANGE (at)"));
	must(&s, "check constraint customers_name_check on shop.customers", DDL_POST);
	/* identity and serial defaults come back before the copy */
	i = must(&s, "identity column id of app.\"Order Items\"", DDL_PRE);
	assert_non_null(strstr(s.stmts[i].sql, "SEQUENCE NAME app.\"Order Items_id_seq\""));
	must(&s, "default of column id of shop.orders", DDL_PRE);
	must(&s, "alter table app.\"Order Items\"", DDL_PRE);	/* SET STATISTICS */
	ddl_script_free(&s);
}

/* Only the sequences moved tables own or use are created. */
static void
test_shop_sequences(void **state)
{
	ddl_script	s;
	int			seq, owned, table, dflt;

	(void) state;
	build_file("dump-shop.sql", shop_tables, N_SHOP, &s);
	must(&s, "sequence shop.invoice_no_seq", DDL_PRE);	/* a nextval() default */
	seq = must(&s, "sequence shop.orders_id_seq", DDL_PRE);	/* serial */
	owned = must(&s, "options of sequence shop.orders_id_seq", DDL_PRE);
	assert_string_equal(s.stmts[owned].sql,
						"ALTER SEQUENCE shop.orders_id_seq OWNED BY shop.orders.id");
	table = must(&s, "table shop.orders", DDL_PRE);
	dflt = must(&s, "default of column id of shop.orders", DDL_PRE);
	assert_true(table < seq && seq < owned && owned < dflt);
	/* a sequence belongs to the table that owns or uses it */
	assert_int_equal(s.stmts[seq].table_index, 1);
	assert_int_equal(s.stmts[owned].table_index, 1);
	assert_int_equal(s.stmts[must(&s, "sequence shop.invoice_no_seq", DDL_PRE)].table_index, 5);
	must_not_mention(&s, "unused_seq");
	must_not_mention(&s, "old_orders_id_seq");
	must_not_mention(&s, "audit_log_id_seq");
	ddl_script_free(&s);
}

static void
test_shop_post(void **state)
{
	ddl_script	s;

	(void) state;
	build_file("dump-shop.sql", shop_tables, N_SHOP, &s);
	must(&s, "primary key customers_pkey on shop.customers", DDL_POST);
	must(&s, "primary key \"Order Items_pkey\" on app.\"Order Items\"", DDL_POST);
	must(&s, "unique constraint customers_email_key on shop.customers", DDL_POST);
	must(&s, "unique constraint \"Invoices_number_currency_key\" on \"Billing Dept\".\"Invoices\"", DDL_POST);
	must(&s, "exclusion constraint \"Invoices_period_excl\" on \"Billing Dept\".\"Invoices\"", DDL_POST);
	must(&s, "index shop.customers_lower_name_idx", DDL_POST);	/* expression */
	must(&s, "index shop.orders_open_idx", DDL_POST);	/* partial */
	must(&s, "index app.order_items_attrs_sku", DDL_POST);
	must(&s, "index app.\"Order Items note idx\"", DDL_POST);
	must(&s, "trigger customers_touch on shop.customers", DDL_POST);
	must(&s, "rule regions_no_delete on shop.regions", DDL_POST);
	must(&s, "policy \"own invoices\" on \"Billing Dept\".\"Invoices\"", DDL_POST);
	must(&s, "row level security of \"Billing Dept\".\"Invoices\"", DDL_POST);
	must(&s, "replica identity of shop.orders", DDL_POST);
	must(&s, "replica identity of \"Billing Dept\".\"Invoices\"", DDL_POST);
	must(&s, "cluster index of shop.customers", DDL_POST);
	must(&s, "statistics orders_stats on shop.orders", DDL_POST);
	must(&s, "alter index app.events_pkey", DDL_POST);
	must_sql(&s, "COMMENT ON CONSTRAINT customers_name_check ON shop.customers", DDL_POST);
	must(&s, "comment on constraint shop.customers.customers_name_check", DDL_POST);
	must(&s, "comment on column app.\"Order Items\".\"Line Note\"", DDL_PRE);
	must(&s, "comment on function app.norm", DDL_PRE);
	must_sql(&s, "COMMENT ON INDEX shop.customers_lower_name_idx", DDL_POST);
	must_sql(&s, "COMMENT ON TABLE shop.customers", DDL_PRE);
	must_sql(&s, "COMMENT ON COLUMN app.\"Order Items\".\"Line Note\"", DDL_PRE);
	ddl_script_free(&s);
}

/* PRE before POST; dump order inside; a child's CHECK before its parent's. */
static void
test_shop_order(void **state)
{
	ddl_script	s;
	int			first_post = -1, settings_post = 0;

	(void) state;
	build_file("dump-shop.sql", shop_tables, N_SHOP, &s);
	for (int i = 0; i < s.n; i++)
	{
		if (s.stmts[i].phase == DDL_POST && first_post < 0)
			first_post = i;
		if (first_post >= 0 && s.stmts[i].phase == DDL_PRE)
			fail_msg("PRE statement %d after POST statement %d", i, first_post);
		if (s.stmts[i].phase == DDL_POST && strncmp(s.stmts[i].what, "setting ", 8) == 0)
			settings_post++;
	}
	assert_int_equal(settings_post, 12);	/* POST may run in a new session */
	assert_true(must(&s, "type app.mood", DDL_PRE) < must(&s, "table shop.customers", DDL_PRE));
	assert_true(must(&s, "sequence shop.invoice_no_seq", DDL_PRE) <
				must(&s, "table \"Billing Dept\".\"Invoices\"", DDL_PRE));
	assert_true(must(&s, "table app.events_2025", DDL_PRE) <
				find_sql(&s, "ALTER TABLE ONLY app.events ATTACH PARTITION app.events_2025"));
	assert_true(find_sql(&s, "ALTER TABLE app.events_2024 ADD CONSTRAINT events_kind_check") <
				find_sql(&s, "ALTER TABLE app.events ADD CONSTRAINT events_kind_check"));
	assert_true(must(&s, "check constraint customers_name_check on shop.customers", DDL_POST) <
				must_sql(&s, "COMMENT ON CONSTRAINT customers_name_check", DDL_POST));
	assert_true(must(&s, "index \"Billing Dept\".invoices_number_key", DDL_POST) <
				must(&s, "replica identity of \"Billing Dept\".\"Invoices\"", DDL_POST));
	assert_true(must(&s, "primary key orders_pkey on shop.orders", DDL_POST) <
				must(&s, "foreign key \"Order Items order fk\" on app.\"Order Items\"", DDL_POST));
	ddl_script_free(&s);
}

static void
test_shop_foreign_keys(void **state)
{
	ddl_script	s;
	const ddl_skipped_fk *fk;

	(void) state;
	build_file("dump-shop.sql", shop_tables, N_SHOP, &s);
	/* same shard: keys pair up; or the parent is replicated */
	must(&s, "foreign key orders_customer_id_fkey on shop.orders", DDL_POST);
	must(&s, "foreign key \"Order Items order fk\" on app.\"Order Items\"", DDL_POST);
	must(&s, "foreign key events_user_id_fkey on app.events", DDL_POST);
	must(&s, "foreign key orders_region_fk on shop.orders", DDL_POST);
	must(&s, "foreign key \"Invoices_region_fkey\" on \"Billing Dept\".\"Invoices\"", DDL_POST);
	assert_int_equal(s.nskipped, 3);
	fk = find_skipped(&s, "Invoices_CustomerRef_fkey");
	assert_non_null(fk);
	assert_string_equal(fk->table, "\"Billing Dept\".\"Invoices\"");
	assert_string_equal(fk->references, "shop.customers (id)");
	assert_non_null(strstr(fk->reason, "sharding key is not part of the foreign key"));
	assert_non_null(strstr(fk->reason, "is sharded by (InvoiceId)"));
	fk = find_skipped(&s, "reviews_customer_id_fkey");
	assert_non_null(fk);
	assert_string_equal(fk->table, "app.reviews");
	fk = find_skipped(&s, "order_notes_customer_id_order_id_fkey");
	assert_non_null(fk);
	assert_string_equal(fk->references, "shop.orders (customer_id, id)");
	assert_non_null(strstr(fk->reason, "referencing table is replicated"));
	must_not_mention(&s, "Invoices_CustomerRef_fkey");
	must_not_mention(&s, "reviews_customer_id_fkey");
	must_not_mention(&s, "order_notes_customer_id_order_id_fkey");
	ddl_script_free(&s);
}

/* Tables not moved, views, their indexes, FKs, sequences: all absent. */
static void
test_shop_dropped(void **state)
{
	ddl_script	s;

	(void) state;
	build_file("dump-shop.sql", shop_tables, N_SHOP, &s);
	must_not_mention(&s, "old_orders");
	must_not_mention(&s, "audit_log");
	must_not_mention(&s, "audit_touch");
	/* a view over moved tables is kept (with its comment); a materialized
	 * view over an unmoved table is left out and reported */
	must(&s, "view shop.customer_totals", DDL_PRE);
	must(&s, "comment on view shop.customer_totals", DDL_PRE);
	must_not_mention(&s, "monthly");
	{
		bool		reported = false;

		for (int i = 0; i < s.ndropped; i++)
			reported = reported || (strcmp(s.dropped[i].what, "materialized view archive.monthly") == 0 &&
									strstr(s.dropped[i].reason, "archive.old_orders") != NULL);
		assert_true(reported);
	}
	/* a sequence no table owns and no moved table uses is reported; an
	 * unmoved table's serial goes unmentioned like its table */
	{
		bool		unused = false, other = false;

		for (int i = 0; i < s.ndropped; i++)
		{
			unused = unused || (strcmp(s.dropped[i].what, "sequence shop.unused_seq") == 0 &&
								strstr(s.dropped[i].reason, "no moved table owns it") != NULL);
			other = other || strstr(s.dropped[i].what, "old_orders_id_seq") != NULL ||
				strstr(s.dropped[i].what, "invoice_no_seq") != NULL;
		}
		assert_true(unused);
		assert_false(other);
	}
	must_not_mention(&s, "unused_seq");
	/* SQL-body function reading an unmoved table; SETOF an unmoved row type */
	must_not_mention(&s, "count_old");
	must_not_mention(&s, "archive.recent");
	must_not_mention(&s, "COMMENT ON EXTENSION");
	must_not_mention(&s, "\\restrict");
	for (int i = 0; i < s.n; i++)
	{
		if (strstr(s.stmts[i].sql, "archive") &&
			strcmp(s.stmts[i].sql, "CREATE SCHEMA IF NOT EXISTS archive") != 0)
			fail_msg("mentions archive: %s", s.stmts[i].sql);
		if (s.stmts[i].sql[strlen(s.stmts[i].sql) - 1] == ';')
			fail_msg("statement keeps its ';': %s", s.stmts[i].sql);
	}
	ddl_script_free(&s);
}

/* Moving fewer tables drops their objects and turns FKs into skips. */
static void
test_shop_subset(void **state)
{
	static const ddl_table only_orders[] = {{"shop", "orders", false, 1, K_CUSTOMER}};
	ddl_script	s;
	const ddl_skipped_fk *fk;

	(void) state;
	build_file("dump-shop.sql", only_orders, 1, &s);
	must(&s, "table shop.orders", DDL_PRE);
	assert_int_equal(find_what(&s, "table shop.customers"), -1);
	must_not_mention(&s, "customers_touch");
	must_not_mention(&s, "invoice_no_seq");
	fk = find_skipped(&s, "orders_customer_id_fkey");
	assert_non_null(fk);
	assert_string_equal(fk->reason, "the referenced table shop.customers is not moved");
	assert_non_null(find_skipped(&s, "orders_region_fk"));
	assert_int_equal(s.nskipped, 2);
	/* the types the table needs are still there */
	must(&s, "type app.mood", DDL_PRE);
	ddl_script_free(&s);
}

/* ---- dump-public.sql -------------------------------------------------- */

static void
test_public_schema_and_keywords(void **state)
{
	static const char *const K_USERCOL[] = {"user"};
	static const ddl_table tables[] = {
		{"public", "user", false, 1, K_ID},
		{"public", "order", false, 1, K_USERCOL},
	};
	ddl_script	s;
	int			i;

	(void) state;
	build_file("dump-public.sql", tables, 2, &s);
	must_not_mention(&s, "CREATE SCHEMA");
	must_not_mention(&s, "COMMENT ON SCHEMA public");
	must_not_mention(&s, "logs");
	must(&s, "view public.user_orders", DDL_PRE);
	i = must_sql(&s, "ALTER TABLE public.\"order\" ADD CONSTRAINT order_from_check", DDL_POST);
	assert_string_equal(s.stmts[i].sql, "ALTER TABLE public.\"order\" ADD CONSTRAINT "
						"order_from_check CHECK ((\"from\" <> 'nowhere'::text))");
	assert_int_equal(s.stmts[i].table_index, 1);
	must_sql(&s, "CREATE SEQUENCE public.user_id_seq", DDL_PRE);
	must_sql(&s, "ALTER SEQUENCE public.user_id_seq OWNED BY public.\"user\".id", DDL_PRE);
	/* "order".user -> "user".id: keys pair up */
	must_sql(&s, "ALTER TABLE ONLY public.\"order\"\n    ADD CONSTRAINT order_user_fkey", DDL_POST);
	assert_int_equal(s.nskipped, 0);
	ddl_script_free(&s);
}

/* ---- hand-written SQL: what pg_dump does not write, but may ----------- */

/* inline_sql and inline_tables are in ddl_test_util.h. */

static void
test_inline_constraints(void **state)
{
	ddl_script	s;
	int			i = 0;
	static const char *const expected[] = {
		"CREATE SCHEMA IF NOT EXISTS s",
		"CREATE TABLE s.parent (\n    id integer\n)",
		"CREATE TABLE s.\"T, 1\" (\n"
		"    id integer,\n"
		"    code text DEFAULT 'a,b (c' NOT NULL,\n"
		"    parent integer,\n"
		"    qty integer NOT NULL,\n"
		"    arr integer[] DEFAULT ARRAY[1, 2]\n"
		")",
		"ALTER TABLE ONLY s.parent ADD PRIMARY KEY (id)",
		"ALTER TABLE s.parent ADD CHECK (id > 0)",
		"ALTER TABLE ONLY s.\"T, 1\" ADD CONSTRAINT \"t pk\" PRIMARY KEY (id)",
		"ALTER TABLE ONLY s.\"T, 1\" ADD UNIQUE NULLS NOT DISTINCT (code)",
		"ALTER TABLE s.\"T, 1\" ADD CHECK (qty > 0)",
		"ALTER TABLE s.\"T, 1\" ADD CONSTRAINT \"pair, check\" CHECK (qty < 10 OR code <> ',')",
		"ALTER TABLE ONLY s.\"T, 1\" ADD FOREIGN KEY (parent) REFERENCES s.parent (id) "
		"DEFERRABLE INITIALLY DEFERRED",
	};

	(void) state;
	build_ok(inline_sql, inline_tables, 2, &s);
	assert_int_equal(s.n, (int) (sizeof(expected) / sizeof(expected[0])));
	for (i = 0; i < s.n; i++)
		if (strcmp(s.stmts[i].sql, expected[i]) != 0)
			fail_msg("statement %d:\n%s\nexpected:\n%s", i, s.stmts[i].sql, expected[i]);
	assert_string_equal(s.stmts[5].what, "primary key \"t pk\" on s.\"T, 1\"");
	assert_string_equal(s.stmts[6].what, "unique constraint on s.\"T, 1\"");
	assert_string_equal(s.stmts[9].what, "foreign key on s.\"T, 1\"");
	assert_int_equal(s.stmts[9].phase, DDL_POST);
	assert_int_equal(s.stmts[9].table_index, 0);
	ddl_script_free(&s);
}

/* Objects that would need a relation that is not moved are not created. */
static void
test_unmoved_dependencies(void **state)
{
	static const ddl_table tables[] = {
		{"s", "a", true, 0, NULL},
		{"s", "c", false, 1, K_ID},
	};
	static const char sql[] =
		"CREATE TABLE s.a (id integer);\n"
		"CREATE TABLE s.b (id integer);\n"
		"CREATE SEQUENCE s.seq;\n"
		"CREATE TABLE s.c (id integer DEFAULT nextval('s.seq'::regclass));\n"
		"CREATE POLICY p ON s.a USING (id IN (SELECT id FROM s.b));\n"
		"COMMENT ON POLICY p ON s.a IS 'gone with it';\n"
		"CREATE POLICY q ON s.a USING (id > 0);\n"
		"COMMENT ON POLICY q ON s.a IS 'kept';\n"
		"CREATE RULE r AS ON INSERT TO s.a DO ALSO INSERT INTO s.b VALUES (NEW.id);\n"
		"CREATE TYPE s.t AS (x s.b);\n"
		"COMMENT ON TYPE s.t IS 'gone too';\n"
		"CREATE FUNCTION s.f(x s.b.id%TYPE) RETURNS integer LANGUAGE sql AS 'SELECT 1';\n"
		"CREATE FUNCTION s.g() RETURNS integer LANGUAGE sql AS 'SELECT count(*) FROM s.b';\n"
		"CREATE VIEW s.v AS SELECT id FROM s.a;\n"
		"CREATE VIEW s.w AS SELECT id FROM s.b;\n";
	ddl_script	s;

	(void) state;
	log_set_level(LOG_ERROR);
	build_ok(sql, tables, 2, &s);
	log_set_level(LOG_WARN);
	must(&s, "table s.a", DDL_PRE);
	must(&s, "policy q on s.a", DDL_POST);
	must_sql(&s, "COMMENT ON POLICY q ON s.a", DDL_POST);
	assert_int_equal(s.stmts[must(&s, "sequence s.seq", DDL_PRE)].table_index, 1);
	/* a string body is not checked by PostgreSQL either: s.g stays */
	must(&s, "function s.g", DDL_PRE);
	assert_int_equal(find_what(&s, "policy p on s.a"), -1);
	must_not_mention(&s, "gone");
	must_not_mention(&s, "CREATE RULE");
	must_not_mention(&s, "s.t");
	must_not_mention(&s, "s.f");
	must_not_mention(&s, "s.b ");
	/* a view over a moved table is kept; one over an unmoved table is not */
	must(&s, "view s.v", DDL_PRE);
	must_not_mention(&s, "s.w");
	ddl_script_free(&s);
}

static void
test_errors(void **state)
{
	static const ddl_table child[] = {{"s", "c", false, 1, K_ID}};

	(void) state;
	log_set_level(LOG_QUIET);
	expect_error("SET a = 1;\n\nCREATE TABLE s.t (\n  id int,,\n  x int\n);\n",
				 child, 1, "schema dump line 4: cannot parse");
	expect_error("CREATE TABLE s.p (id int) PARTITION BY RANGE (id);\n"
				 "CREATE TABLE s.c (id int) INHERITS (s.p);\n",
				 child, 1, "schema dump line 2: table s.c is moved but needs s.p");
	expect_error("CREATE TABLE s.other (id int);\n", child, 1,
				 "the source schema has no table s.c");
	expect_error("CREATE TABLE s.c (id int);\n"
				 "ALTER TABLE s.c ADD FOREIGN KEY (id) REFERENCES s.c (id), ADD UNIQUE (id);\n",
				 child, 1, "schema dump line 2: ALTER TABLE s.c adds a foreign key");
	log_set_level(LOG_WARN);
}

/* An empty plan still gets settings and types; nothing else. */
static void
test_no_tables(void **state)
{
	ddl_script	s;

	(void) state;
	build_file("dump-shop.sql", NULL, 0, &s);
	must(&s, "type app.mood", DDL_PRE);
	for (int i = 0; i < s.n; i++)
		assert_int_equal(s.stmts[i].table_index, -1);
	must_not_mention(&s, "CREATE TABLE");
	must_not_mention(&s, "CREATE INDEX");
	assert_int_equal(s.nskipped, 0);
	ddl_script_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shop_pre),
		cmocka_unit_test(test_shop_create_table_rewrite),
		cmocka_unit_test(test_shop_sequences),
		cmocka_unit_test(test_shop_post),
		cmocka_unit_test(test_shop_order),
		cmocka_unit_test(test_shop_foreign_keys),
		cmocka_unit_test(test_shop_dropped),
		cmocka_unit_test(test_shop_subset),
		cmocka_unit_test(test_public_schema_and_keywords),
		cmocka_unit_test(test_inline_constraints),
		cmocka_unit_test(test_unmoved_dependencies),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_no_tables),
	};

	log_set_level(LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
