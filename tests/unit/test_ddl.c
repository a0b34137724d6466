/*
 * test_ddl.c — the schema steps' SQL: ddl_build() on real pg_dump 15 output
 * and schema_dump() running pg_dump.
 *
 * tests/data/dump-shop.sql and dump-public.sql were written by pg_dump 15
 * (--schema-only --no-owner --no-privileges --no-publications
 * --no-subscriptions --no-security-labels) from throwaway databases with
 * quoted mixed-case names, enums, domains, ranges, identity, serial and
 * generated columns, partitions, CHECK/PK/UNIQUE/EXCLUDE constraints,
 * expression and partial indexes, triggers, rules, policies, views, and
 * tables that are not moved.  The unit tests check what is kept, in which
 * phase and order, what is cut out of CREATE TABLE, and which foreign keys
 * are skipped and why.
 *
 * schema_dump() is checked against a fake pg_dump (a shell script named by
 * PGRESHARD_PG_DUMP) that reports its arguments, environment, descriptors
 * and stdin: no password on the command line, no leaked descriptor, no
 * zombie, stderr in the error, no deadlock on a chatty stderr.
 *
 * With PGR_TEST_DSN set, test_live_round_trip() also does it for real:
 * restore the dump into a fresh database, pg_dump it, apply PRE (one
 * transaction) and POST to another fresh database, and compare
 * pg_dump --schema-only -t of every moved table on both sides.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <libpq-fe.h>

#include "ddl.h"
#include "log.h"
#include "schema_dump.h"
#include "sqlname.h"
#include "strbuf.h"
#include "xalloc.h"

static const char *const K_ID[] = {"id"};
static const char *const K_CUSTOMER[] = {"customer_id"};
static const char *const K_INVOICE[] = {"InvoiceId"};
static const char *const K_PRODUCT[] = {"product_id"};
static const char *const K_USER[] = {"user_id"};

/* The moved tables of dump-shop.sql. */
static const ddl_table shop_tables[] = {
	{"shop", "customers", false, 1, K_ID},
	{"shop", "orders", false, 1, K_CUSTOMER},
	{"shop", "regions", true, 0, NULL},
	{"shop", "order_notes", true, 0, NULL},
	{"app", "Order Items", false, 1, K_CUSTOMER},
	{"Billing Dept", "Invoices", false, 1, K_INVOICE},
	{"app", "reviews", false, 1, K_PRODUCT},
	{"app", "events", false, 1, K_USER},
	{"app", "events_2024", false, 1, K_USER},
	{"app", "events_2025", false, 1, K_USER},
};
#define N_SHOP ((int) (sizeof(shop_tables) / sizeof(shop_tables[0])))

/* ---- helpers ---------------------------------------------------------- */

static char *
read_data(const char *name)
{
	char	   *path = xasprintf("%s/tests/data/%s", PGR_SOURCE_DIR, name);
	FILE	   *f = fopen(path, "rb");
	strbuf		sb;
	char		buf[8192];
	size_t		got;

	if (f == NULL)
		fail_msg("cannot open %s", path);
	sb_init(&sb);
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
		sb_append_len(&sb, buf, got);
	fclose(f);
	free(path);
	return sb_steal(&sb);
}

static void
build_ok(const char *sql, const ddl_table *tables, int n, ddl_script *s)
{
	if (!ddl_build(sql, tables, n, s))
	{
		char		err[512];

		log_last_error(err, sizeof(err));
		fail_msg("ddl_build failed: %s", err);
	}
}

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
	must_not_mention(&s, "customer_totals");
	must_not_mention(&s, "monthly");
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
	must_not_mention(&s, "user_orders");
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

/* Column constraints, commas in strings and arrays, quoted names. */
static const char inline_sql[] =
	"CREATE SCHEMA s;\n"
	"CREATE TABLE s.parent (id integer PRIMARY KEY, CHECK (id > 0));\n"
	"CREATE TABLE s.\"T, 1\" (\n"
	"    id integer CONSTRAINT \"t pk\" PRIMARY KEY,\n"
	"    code text DEFAULT 'a,b (c' NOT NULL UNIQUE NULLS NOT DISTINCT,\n"
	"    parent integer REFERENCES s.parent (id) DEFERRABLE INITIALLY DEFERRED,\n"
	"    qty integer CHECK (qty > 0) NOT NULL,\n"
	"    arr integer[] DEFAULT ARRAY[1, 2], -- a comma, in a comment\n"
	"    CONSTRAINT \"pair, check\" CHECK (qty < 10 OR code <> ',')\n"
	");\n";

static const ddl_table inline_tables[] = {
	{"s", "T, 1", false, 1, K_ID},
	{"s", "parent", true, 0, NULL},
};

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
		"CREATE VIEW s.v AS SELECT id FROM s.a;\n";
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
	must_not_mention(&s, "s.v");
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

static void
test_strip_meta(void **state)
{
	char		text[] = "\\restrict abc\nSET a = 1;\n\\\nSELECT '\\x';\n\\unrestrict abc";

	(void) state;
	schema_dump_strip_meta(text);
	assert_string_equal(text, "\nSET a = 1;\n\nSELECT '\\x';\n");
}

/* ---- schema_dump() against a fake pg_dump ----------------------------- */

#define LEAK_FD 42
static const char fake_conninfo[] =
	"host=/nonexistent port=5999 dbname=shop user=u password='s3cr3t pass'";

/* Write an executable shell script; returns its path (malloc'd). */
static char *
fake_pg_dump(const char *dir, const char *name, const char *body)
{
	char	   *path = xasprintf("%s/%s", dir, name);
	FILE	   *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s", body);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
	return path;
}

static void
assert_no_children(void)
{
	errno = 0;
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static void
test_schema_dump_child(void **state)
{
	char		dir[] = "/tmp/pgr-test-ddl.XXXXXX";
	char	   *prog, *sql = NULL;
	const char *head = "\nSELECT 1;\n-- arg: --schema-only\n";
	int			leak = open("/dev/null", O_RDONLY);

	(void) state;
	assert_non_null(mkdtemp(dir));
	assert_true(leak >= 0 && dup2(leak, LEAK_FD) == LEAK_FD);
	prog = fake_pg_dump(dir, "pg_dump",
		"printf '\\\\restrict K\\nSELECT 1;\\n'\n"
		"for a in \"$@\"; do echo \"-- arg: $a\"; done\n"
		"echo \"-- password: ${PGPASSWORD:-none}\"\n"
		"[ -e /proc/$$/fd/42 ] && echo '-- leaked fd'\n"
		"read x && echo '-- stdin had data'\n"
		"printf '\\\\unrestrict K\\n'\n");
	setenv("PGRESHARD_PG_DUMP", prog, 1);
	if (!schema_dump(fake_conninfo, "source", &sql))
		fail_msg("schema_dump failed");
	/* the \restrict line is blanked, not removed: line numbers hold */
	assert_int_equal(strncmp(sql, head, strlen(head)), 0);
	for (const char *opt = "--no-owner\0--no-privileges\0--no-publications\0"
		 "--no-subscriptions\0--no-security-labels\0--no-password\0"; *opt;
		 opt += strlen(opt) + 1)
		assert_non_null(strstr(sql, opt));
	assert_non_null(strstr(sql, "-- arg: --dbname="));
	assert_non_null(strstr(sql, "host='/nonexistent'"));
	assert_non_null(strstr(sql, "dbname='shop'"));
	/* the password reaches pg_dump in its environment, never in argv */
	assert_non_null(strstr(sql, "-- password: s3cr3t pass\n"));
	*strstr(sql, "-- password") = '\0';
	assert_null(strstr(sql, "s3cr3t"));
	assert_null(strstr(sql, "leaked fd"));
	assert_null(strstr(sql, "stdin had data"));
	assert_null(strstr(sql, "restrict"));
	assert_no_children();
	free(sql);
	close(LEAK_FD);
	close(leak);
	unlink(prog);
	free(prog);
	rmdir(dir);
	unsetenv("PGRESHARD_PG_DUMP");
}

static void
test_schema_dump_failures(void **state)
{
	char		dir[] = "/tmp/pgr-test-ddl.XXXXXX";
	char	   *prog, *sql = NULL, err[1024];

	(void) state;
	log_set_level(LOG_QUIET);
	assert_non_null(mkdtemp(dir));
	prog = fake_pg_dump(dir, "pg_dump",
		"echo 'SELECT 1;'\necho 'pg_dump: error: boom' >&2\necho 'second line' >&2\nexit 3\n");
	setenv("PGRESHARD_PG_DUMP", prog, 1);
	assert_false(schema_dump(fake_conninfo, "source", &sql));
	assert_null(sql);
	log_last_error(err, sizeof(err));
	assert_int_equal(strncmp(err, "source (", 8), 0);
	assert_non_null(strstr(err, "host=/nonexistent"));
	assert_non_null(strstr(err, "): pg_dump failed: pg_dump: error: boom; second line"));
	assert_null(strstr(err, "s3cr3t"));
	assert_no_children();
	unlink(prog);
	free(prog);

	/* a program that is not there */
	setenv("PGRESHARD_PG_DUMP", "/nonexistent/pg_dump", 1);
	assert_false(schema_dump(fake_conninfo, "source 1", &sql));
	log_last_error(err, sizeof(err));
	assert_non_null(strstr(err, "source 1 ("));
	assert_non_null(strstr(err, "pg_dump failed: cannot execute /nonexistent/pg_dump"));
	assert_no_children();

	/* a conninfo that does not parse never reaches pg_dump */
	assert_false(schema_dump("host='unterminated password=x", "source", &sql));
	log_last_error(err, sizeof(err));
	assert_non_null(strstr(err, "cannot parse the connection string"));
	rmdir(dir);
	unsetenv("PGRESHARD_PG_DUMP");
	log_set_level(LOG_WARN);
}

/* Lots of stderr before any stdout must not deadlock. */
static void
test_schema_dump_chatty(void **state)
{
	char		dir[] = "/tmp/pgr-test-ddl.XXXXXX";
	char	   *prog, *sql = NULL;

	(void) state;
	log_set_level(LOG_ERROR);
	assert_non_null(mkdtemp(dir));
	prog = fake_pg_dump(dir, "pg_dump",
		"yes 'warning: something' | head -c 300000 >&2\n"
		"yes 'SELECT 1;' | head -n 50000\n");
	setenv("PGRESHARD_PG_DUMP", prog, 1);
	assert_true(schema_dump(fake_conninfo, "source", &sql));
	assert_int_equal(strlen(sql), 50000 * 10);
	assert_no_children();
	free(sql);
	unlink(prog);
	free(prog);
	rmdir(dir);
	unsetenv("PGRESHARD_PG_DUMP");
	log_set_level(LOG_WARN);
}

static void
test_schema_dump_program(void **state)
{
	char	   *prog;

	(void) state;
	unsetenv("PGRESHARD_PG_DUMP");
	prog = schema_dump_program();
	assert_non_null(strstr(prog, "pg_dump"));
	if (strchr(prog, '/') != NULL)
		assert_int_equal(access(prog, X_OK), 0);
	free(prog);
	setenv("PGRESHARD_PG_DUMP", "/opt/pg/bin/pg_dump", 1);
	prog = schema_dump_program();
	assert_string_equal(prog, "/opt/pg/bin/pg_dump");
	free(prog);
	unsetenv("PGRESHARD_PG_DUMP");
}

/* ---- live round trip (PGR_TEST_DSN) ----------------------------------- */

typedef struct live {
	PGconn	   *admin;
	char		src_db[64], dst_db[64];
	char	   *src_dsn, *dst_dsn;
} live;

/* base with dbname replaced by db (keyword='value' form). */
static char *
dsn_with_db(const char *base, const char *db)
{
	PQconninfoOption *opts = PQconninfoParse(base, NULL);
	strbuf		sb;

	assert_non_null(opts);
	sb_init(&sb);
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (o->val && strcmp(o->keyword, "dbname") != 0)
			sb_printf(&sb, "%s='%s' ", o->keyword, o->val);
	sb_printf(&sb, "dbname='%s'", db);
	PQconninfoFree(opts);
	return sb_steal(&sb);
}

static void
exec_ok(PGconn *conn, const char *sql, const char *what)
{
	PGresult   *r = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("%s: %s\n%s", what, PQerrorMessage(conn), sql);
	PQclear(r);
}

static PGconn *
connect_ok(const char *dsn)
{
	PGconn	   *conn = PQconnectdb(dsn);

	if (PQstatus(conn) != CONNECTION_OK)
		fail_msg("cannot connect: %s", PQerrorMessage(conn));
	exec_ok(conn, "SET client_min_messages = warning", "quiet");
	return conn;
}

static void
recreate_db(live *l, const char *db)
{
	char	   *sql = xasprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", db);

	exec_ok(l->admin, sql, "drop database");
	free(sql);
	sql = xasprintf("CREATE DATABASE %s", db);
	exec_ok(l->admin, sql, "create database");
	free(sql);
}

/* Every statement of one phase, in one transaction. */
static void
apply_phase(PGconn *conn, const ddl_script *s, ddl_phase phase)
{
	exec_ok(conn, "BEGIN", "begin");
	for (int i = 0; i < s->n; i++)
		if (s->stmts[i].phase == phase)
			exec_ok(conn, s->stmts[i].sql, s->stmts[i].what);
	exec_ok(conn, "COMMIT", "commit");
}

/* pg_dump -t of one table, without comments, blank lines, skipped FKs. */
static char *
table_dump(const char *dsn, const ddl_table *t, const ddl_script *s)
{
	char	   *pattern = xasprintf("\"%s\".\"%s\"", t->schema, t->relname);
	const char *args[] = {"-t", pattern, NULL};
	char	   *raw, *line, *save = NULL;
	strbuf		out;
	size_t		prev = 0;

	if (!schema_dump_args(dsn, "test", args, &raw))
		fail_msg("pg_dump -t %s failed", pattern);
	sb_init(&out);
	for (line = strtok_r(raw, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
	{
		bool		skipped = false;

		for (int i = 0; i < s->nskipped && !skipped; i++)
		{
			char	   *q = sqlname_quote(s->skipped[i].name);
			char	   *needle = xasprintf("ADD CONSTRAINT %s FOREIGN KEY", q);

			skipped = strstr(line, needle) != NULL;
			free(needle);
			free(q);
		}
		if (skipped)			/* and its "ALTER TABLE ONLY x" line */
			out.len = prev, out.data[prev] = '\0';
		else if (strncmp(line, "--", 2) != 0)
		{
			prev = out.len;
			sb_printf(&out, "%s\n", line);
		}
	}
	free(raw);
	free(pattern);
	return sb_steal(&out);
}

static void
round_trip(live *l, const char *source_sql, bool via_pg_dump,
		   const ddl_table *tables, int n, int nskipped)
{
	PGconn	   *src, *dst;
	char	   *dump = NULL;
	ddl_script	s;

	recreate_db(l, l->src_db);
	recreate_db(l, l->dst_db);
	src = connect_ok(l->src_dsn);
	exec_ok(src, source_sql, "loading the source schema");
	PQfinish(src);
	if (via_pg_dump && !schema_dump(l->src_dsn, "source", &dump))
		fail_msg("schema_dump of the source failed");
	build_ok(via_pg_dump ? dump : source_sql, tables, n, &s);
	assert_int_equal(s.nskipped, nskipped);
	dst = connect_ok(l->dst_dsn);
	apply_phase(dst, &s, DDL_PRE);
	apply_phase(dst, &s, DDL_POST);
	PQfinish(dst);
	for (int i = 0; i < n; i++)
	{
		char	   *a = table_dump(l->src_dsn, &tables[i], &s);
		char	   *b = table_dump(l->dst_dsn, &tables[i], &s);

		if (strcmp(a, b) != 0)
			fail_msg("%s.%s differs.\nsource:\n%s\nshard:\n%s",
					 tables[i].schema, tables[i].relname, a, b);
		free(a);
		free(b);
	}
	ddl_script_free(&s);
	free(dump);
}

static void
test_live_round_trip(void **state)
{
	static const char *const K_USERCOL[] = {"user"};
	static const ddl_table public_tables[] = {
		{"public", "user", false, 1, K_ID},
		{"public", "order", false, 1, K_USERCOL},
	};
	const char *base = getenv("PGR_TEST_DSN");
	live		l;
	char	   *shop, *pub;

	(void) state;
	if (base == NULL || *base == '\0')
		skip();
	memset(&l, 0, sizeof(l));
	snprintf(l.src_db, sizeof(l.src_db), "pgr_ddl_src_%d", (int) getpid());
	snprintf(l.dst_db, sizeof(l.dst_db), "pgr_ddl_dst_%d", (int) getpid());
	l.admin = connect_ok(base);
	l.src_dsn = dsn_with_db(base, l.src_db);
	l.dst_dsn = dsn_with_db(base, l.dst_db);
	shop = read_data("dump-shop.sql");
	pub = read_data("dump-public.sql");
	schema_dump_strip_meta(shop);
	schema_dump_strip_meta(pub);
	round_trip(&l, shop, true, shop_tables, N_SHOP, 3);
	round_trip(&l, pub, true, public_tables, 2, 0);
	round_trip(&l, inline_sql, false, inline_tables, 2, 0);
	exec_ok(l.admin, "SELECT 1", "still connected");
	{
		char	   *drop = xasprintf("DROP DATABASE %s WITH (FORCE)", l.src_db);

		exec_ok(l.admin, drop, "drop source");
		free(drop);
		drop = xasprintf("DROP DATABASE %s WITH (FORCE)", l.dst_db);
		exec_ok(l.admin, drop, "drop shard");
		free(drop);
	}
	PQfinish(l.admin);
	free(l.src_dsn);
	free(l.dst_dsn);
	free(shop);
	free(pub);
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
		cmocka_unit_test(test_strip_meta),
		cmocka_unit_test(test_schema_dump_child),
		cmocka_unit_test(test_schema_dump_failures),
		cmocka_unit_test(test_schema_dump_chatty),
		cmocka_unit_test(test_schema_dump_program),
		cmocka_unit_test(test_live_round_trip),
	};

	log_set_level(LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
