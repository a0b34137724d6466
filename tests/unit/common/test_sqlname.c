/*
 * test_sqlname.c — SQL names as users write them: folding, quoting, doubled
 * quotes, non-ASCII, dots inside quotes, and every way to get one wrong.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlname.h"

/* Parse s as schema.table and compare both parts. */
static void
expect_qualified(const char *s, const char *schema, const char *rel)
{
	char *got_schema = NULL, *got_rel = NULL;
	char err[200] = "";

	if (!sqlname_parse_qualified(s, &got_schema, &got_rel, err, sizeof(err)))
		fail_msg("'%s' should parse, got: %s", s, err);
	assert_string_equal(got_schema, schema);
	assert_string_equal(got_rel, rel);
	free(got_schema);
	free(got_rel);
}

/* Parsing s must fail, with `why` in the message and the outputs untouched. */
static void
expect_qualified_error(const char *s, const char *why)
{
	char *schema = (char *) "untouched", *rel = (char *) "untouched";
	char err[200] = "";

	if (sqlname_parse_qualified(s, &schema, &rel, err, sizeof(err)))
		fail_msg("'%s' should not parse (got %s.%s)", s, schema, rel);
	if (strstr(err, why) == NULL)
		fail_msg("'%s': expected \"%s\" in \"%s\"", s, why, err);
	assert_string_equal(schema, "untouched");
	assert_string_equal(rel, "untouched");
}

static void
expect_ident(const char *s, const char *ident)
{
	char *got = NULL;
	char err[200] = "";

	if (!sqlname_parse_ident(s, &got, err, sizeof(err)))
		fail_msg("'%s' should parse, got: %s", s, err);
	assert_string_equal(got, ident);
	free(got);
}

static void
expect_ident_error(const char *s, const char *why)
{
	char *got = (char *) "untouched";
	char err[200] = "";

	if (sqlname_parse_ident(s, &got, err, sizeof(err)))
		fail_msg("'%s' should not parse (got %s)", s, got);
	if (strstr(err, why) == NULL)
		fail_msg("'%s': expected \"%s\" in \"%s\"", s, why, err);
	assert_string_equal(got, "untouched");
}

static void
test_folding(void **state)
{
	(void) state;
	expect_qualified("orders", "public", "orders");
	expect_qualified("Orders", "public", "orders");
	expect_qualified("public.orders", "public", "orders");
	expect_qualified("App.ORDERS", "app", "orders");
	expect_qualified("_x.y_1$z", "_x", "y_1$z");
	expect_ident("Customer_ID", "customer_id");
	expect_ident("id", "id");
}

static void
test_quoting(void **state)
{
	(void) state;
	expect_qualified("app.\"Order Items\"", "app", "Order Items");
	expect_qualified("\"App\".orders", "App", "orders");
	expect_qualified("\"Orders\"", "public", "Orders");
	expect_qualified("\"a\"\"b\"", "public", "a\"b");
	expect_qualified("\"\"\"\"", "public", "\"");
	expect_qualified("\"1st\".\"$x\"", "1st", "$x");
	expect_qualified("\"select\"", "public", "select");
	expect_ident("\"Id\"", "Id");
	expect_ident("\"a\"\"b\"\"\"", "a\"b\"");
	expect_ident("\"tenant id\"", "tenant id");
}

static void
test_dots_inside_quotes(void **state)
{
	(void) state;
	expect_qualified("\"my.schema\".\"t.x\"", "my.schema", "t.x");
	expect_qualified("\"a.b\"", "public", "a.b");
	expect_qualified("s.\"a.b.c\"", "s", "a.b.c");
	expect_ident("\"a.b\"", "a.b");
}

static void
test_non_ascii(void **state)
{
	(void) state;
	/* Only ASCII letters fold: Ü is kept as written, BER becomes ber. */
	expect_qualified("\xc3\x9c" "BER.Stra\xc3\x9f" "E", "\xc3\x9c" "ber",
					 "stra\xc3\x9f" "e");
	expect_qualified("\"Gr\xc3\xb6\xc3\x9f" "e\"", "public",
					 "Gr\xc3\xb6\xc3\x9f" "e");
	expect_ident("\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9");
}

static void
test_qualified_errors(void **state)
{
	(void) state;
	expect_qualified_error("", "empty name");
	expect_qualified_error(".orders", "missing name before '.'");
	expect_qualified_error("public.", "missing table name after '.'");
	expect_qualified_error("a.b.c", "too many dots");
	expect_qualified_error("a..b", "missing name before '.'");
	expect_qualified_error("\"abc", "unterminated quoted identifier");
	expect_qualified_error("app.\"Order Items", "unterminated quoted identifier");
	expect_qualified_error("\"\"", "empty quoted identifier");
	expect_qualified_error("app.\"\"", "empty quoted identifier");
	expect_qualified_error("\"a\"b", "unexpected 'b' after quoted identifier");
	expect_qualified_error("a\"b\"", "unexpected '\"' inside an unquoted name");
	expect_qualified_error("1orders", "must not start with '1'");
	expect_qualified_error("$orders", "must not start with '$'");
	expect_qualified_error("public.9x", "must not start with '9'");
	expect_qualified_error("order-items", "invalid character '-'");
	expect_qualified_error("a;drop", "invalid character ';'");
	expect_qualified_error("a\tb", "unexpected whitespace");
	expect_qualified_error("a\x01", "invalid control character 0x01");
}

static void
test_whitespace_errors(void **state)
{
	(void) state;
	expect_qualified_error(" orders", "unexpected whitespace before a name");
	expect_qualified_error("orders ", "unexpected whitespace");
	expect_qualified_error("order items", "quote names that contain spaces");
	expect_qualified_error("public. orders", "unexpected whitespace before a name");
	expect_qualified_error("public .orders", "unexpected whitespace");
	expect_qualified_error("\"a\" .b", "unexpected whitespace after a name");
	expect_qualified_error("\"a\" ", "unexpected whitespace after a name");
	expect_ident_error(" id", "unexpected whitespace before a name");
	expect_ident_error("id ", "unexpected whitespace");
}

static void
test_ident_errors(void **state)
{
	(void) state;
	expect_ident_error("", "empty name");
	expect_ident_error("a.b", "unexpected '.' in a column name");
	expect_ident_error("\"a\".b", "unexpected '.' in a column name");
	expect_ident_error("\"id", "unterminated quoted identifier");
	expect_ident_error("\"\"", "empty quoted identifier");
	expect_ident_error("2x", "must not start with '2'");
	expect_ident_error("a+b", "invalid character '+'");
	expect_ident_error("\"a\"\"", "unterminated quoted identifier");
}

static void
test_length_limit(void **state)
{
	char name[80];
	char quoted[90];

	(void) state;
	memset(name, 'a', 63);
	name[63] = '\0';
	expect_ident(name, name);
	name[63] = 'a';
	name[64] = '\0';
	expect_ident_error(name, "at most 63 bytes");
	snprintf(quoted, sizeof(quoted), "\"%s\"", name);
	expect_ident_error(quoted, "at most 63 bytes");
	/* 63 bytes after undoing "": allowed. */
	memset(quoted, 'b', sizeof(quoted));
	quoted[0] = '"';
	quoted[1] = '"';
	quoted[2] = '"';
	quoted[65] = '"';
	quoted[66] = '\0';
	{
		char *got = NULL;
		char err[100];

		assert_true(sqlname_parse_ident(quoted, &got, err, sizeof(err)));
		assert_int_equal(strlen(got), 63);
		assert_int_equal(got[0], '"');
		free(got);
	}
}

static void
test_error_buffer(void **state)
{
	char *schema, *rel;
	char tiny[8];

	(void) state;
	/* Messages are truncated to the buffer, and a NULL buffer is allowed. */
	assert_false(sqlname_parse_qualified("\"abc", &schema, &rel, tiny, sizeof(tiny)));
	assert_string_equal(tiny, "untermi");
	assert_false(sqlname_parse_qualified("a.b.c", &schema, &rel, NULL, 0));
	assert_false(sqlname_parse_ident("", &schema, NULL, 0));
}

static void
expect_quote(const char *ident, const char *display)
{
	char *got = sqlname_quote(ident);
	char *back = NULL;
	char err[100];

	assert_non_null(got);
	assert_string_equal(got, display);
	/* What we display parses back to the same name. */
	if (ident[0] != '\0')
	{
		assert_true(sqlname_parse_ident(got, &back, err, sizeof(err)));
		assert_string_equal(back, ident);
		free(back);
	}
	free(got);
}

static void
test_quote(void **state)
{
	(void) state;
	expect_quote("orders", "orders");
	expect_quote("_x", "_x");
	expect_quote("a$1", "a$1");
	expect_quote("order_items2", "order_items2");
	expect_quote("Orders", "\"Orders\"");
	expect_quote("Order Items", "\"Order Items\"");
	expect_quote("a\"b", "\"a\"\"b\"");
	expect_quote("1x", "\"1x\"");
	expect_quote("$x", "\"$x\"");
	expect_quote("a.b", "\"a.b\"");
	expect_quote("a-b", "\"a-b\"");
	expect_quote("\xc3\xa9t\xc3\xa9", "\"\xc3\xa9t\xc3\xa9\"");
	expect_quote("", "\"\"");
}

static void
test_quote_qualified(void **state)
{
	char *s;

	(void) state;
	s = sqlname_quote_qualified("public", "orders");
	assert_string_equal(s, "public.orders");
	free(s);
	s = sqlname_quote_qualified("app", "Order Items");
	assert_string_equal(s, "app.\"Order Items\"");
	free(s);
	s = sqlname_quote_qualified("my.schema", "a\"b");
	assert_string_equal(s, "\"my.schema\".\"a\"\"b\"");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_folding),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_dots_inside_quotes),
		cmocka_unit_test(test_non_ascii),
		cmocka_unit_test(test_qualified_errors),
		cmocka_unit_test(test_whitespace_errors),
		cmocka_unit_test(test_ident_errors),
		cmocka_unit_test(test_length_limit),
		cmocka_unit_test(test_error_buffer),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_quote_qualified),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
