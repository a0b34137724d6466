/*
 * test_export.c — the pure pieces of `export`, `plan --markdown` and
 * `status --prometheus`: a conninfo split into host, port, database and user
 * with the password dropped; PgDog's data types for key types; TOML string
 * quoting; exposition-format label escaping; Markdown table cell escaping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "status.h"
#include "stepplan.h"

static void
expect_target(const char *conninfo, const char *host, const char *port, const char *dbname,
			  const char *user)
{
	export_target t;

	if (!export_target_parse(conninfo, &t))
		fail_msg("'%s' should parse", conninfo);
#define CHECK(field) do { \
		if (field == NULL) assert_null(t.field); \
		else { assert_non_null(t.field); assert_string_equal(t.field, field); } } while (0)
	CHECK(host);
	CHECK(port);
	CHECK(dbname);
	CHECK(user);
#undef CHECK
	export_target_free(&t);
}

static void
test_target(void **state)
{
	export_target t;

	(void) state;
	expect_target("host=db2 port=6432 dbname=shop user=app password=s3cret", "db2", "6432", "shop", "app");
	expect_target("postgresql://app:s3cret@db3:5433/shop?sslmode=require", "db3", "5433", "shop", "app");
	expect_target("hostaddr=10.0.0.7 dbname='my db'", "10.0.0.7", NULL, "my db", NULL);
	expect_target("host=/run/pg hostaddr=10.0.0.7 dbname=x", "/run/pg", NULL, "x", NULL);
	expect_target("dbname=only", NULL, NULL, "only", NULL);
	expect_target("", NULL, NULL, NULL, NULL);
	assert_false(export_target_parse("host='unterminated", &t));
	assert_null(t.host);
	assert_false(export_target_parse("nosuchkey=1", &t));
}

static void
test_pgdog_types(void **state)
{
	(void) state;
	assert_string_equal(pgdog_data_type(KEY_INT2), "bigint");
	assert_string_equal(pgdog_data_type(KEY_INT4), "bigint");
	assert_string_equal(pgdog_data_type(KEY_INT8), "bigint");
	assert_string_equal(pgdog_data_type(KEY_TEXT), "varchar");
	assert_string_equal(pgdog_data_type(KEY_UUID), "uuid");
	assert_null(pgdog_data_type(KEY_BPCHAR));
	assert_null(pgdog_data_type(KEY_UNSUPPORTED));
}

static void
expect_toml(const char *in, const char *want)
{
	char	   *got = toml_quote(in);

	assert_string_equal(got, want);
	free(got);
}

static void
test_toml(void **state)
{
	(void) state;
	expect_toml("users", "\"users\"");
	expect_toml("Order \"Items\"", "\"Order \\\"Items\\\"\"");
	expect_toml("a\\b", "\"a\\\\b\"");
	expect_toml("line\nnext\ttab\x01", "\"line\\nnext\\ttab\\u0001\"");
	expect_toml("Café", "\"Café\"");
	expect_toml("", "\"\"");
}

static void
expect_label(const char *in, const char *want)
{
	strbuf		sb;

	sb_init(&sb);
	prom_label_value(&sb, in);
	assert_string_equal(sb.data, want);
	sb_free(&sb);
}

static void
test_prom_labels(void **state)
{
	(void) state;
	expect_label("public.users", "public.users");
	expect_label("app.\"Order Items\"", "app.\\\"Order Items\\\"");
	expect_label("back\\slash", "back\\\\slash");
	expect_label("two\nlines", "two\\nlines");
	expect_label("Prices|EUR {x}", "Prices|EUR {x}");
	expect_label(NULL, "");
}

static void
expect_cell(const char *in, const char *want)
{
	char	   *buf = NULL;
	size_t		len = 0;
	FILE	   *f = open_memstream(&buf, &len);

	markdown_cell(f, in);
	fclose(f);
	assert_string_equal(buf, want);
	free(buf);
}

static void
test_markdown_cell(void **state)
{
	(void) state;
	expect_cell("public.users", "public.users");
	expect_cell("public.\"Prices|EUR\"", "public.\"Prices\\|EUR\"");
	expect_cell("<script>*x*</script>", "\\<script\\>\\*x\\*\\</script\\>");
	expect_cell("two\nlines", "two lines");
	expect_cell("wal_level `x` [a](b)", "wal\\_level \\`x\\` \\[a\\](b)");
	expect_cell(NULL, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_target),
		cmocka_unit_test(test_pgdog_types),
		cmocka_unit_test(test_toml),
		cmocka_unit_test(test_prom_labels),
		cmocka_unit_test(test_markdown_cell),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
