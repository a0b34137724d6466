/*
 * ddl_test_util.h — what test_ddl.c and test_ddl_dump.c share: the moved
 * tables of tests/data/dump-shop.sql, the hand-written inline_sql, reading
 * a file of tests/data/ and a ddl_build() that must succeed.
 */
#ifndef PGR_DDL_TEST_UTIL_H
#define PGR_DDL_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "ddl.h"
#include "log.h"
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

/* The contents of tests/data/name (malloc'd). */
static inline char *
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

static inline void
build_ok(const char *sql, const ddl_table *tables, int n, ddl_script *s)
{
	if (!ddl_build(sql, tables, n, s))
	{
		char		err[512];

		log_last_error(err, sizeof(err));
		fail_msg("ddl_build failed: %s", err);
	}
}

#endif							/* PGR_DDL_TEST_UTIL_H */
