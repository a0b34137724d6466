/*
 * test_chunk_key.c — the pure pieces of key-range chunks (runner/engine/
 * chunk_key.c): which keys the client may compare itself, that its order is
 * the server's for those (integers as numbers, uuids and C-collated text as
 * bytes), row comparison, and text[] literals for bounds, round trips
 * included (randomized; the seed is printed).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chunk_key.h"

static unsigned int seed;

static int
sign(int v)
{
	return v < 0 ? -1 : v > 0;
}

static int
cmp(keycmp_kind k, const char *a, const char *b)
{
	return sign(keycmp_value(k, a, strlen(a), b));
}

static void
test_kinds(void **state)
{
	(void) state;
	assert_int_equal(keycmp_of("bigint", NULL), KEYCMP_INT);
	assert_int_equal(keycmp_of("integer", NULL), KEYCMP_INT);
	assert_int_equal(keycmp_of("smallint", NULL), KEYCMP_INT);
	assert_int_equal(keycmp_of("uuid", NULL), KEYCMP_BYTES);
	assert_int_equal(keycmp_of("text", "\"pg_catalog\".\"C\""), KEYCMP_BYTES);
	assert_int_equal(keycmp_of("text", "\"pg_catalog\".\"POSIX\""), KEYCMP_BYTES);
	assert_int_equal(keycmp_of("character varying(64)", "\"pg_catalog\".\"C\""), KEYCMP_BYTES);
	/* linguistic collations, the database default, padded char(n), others: the server */
	assert_int_equal(keycmp_of("text", "\"pg_catalog\".\"default\""), KEYCMP_SERVER);
	assert_int_equal(keycmp_of("text", "\"pg_catalog\".\"en-US-x-icu\""), KEYCMP_SERVER);
	assert_int_equal(keycmp_of("text", "\"pg_catalog\".\"C.utf8\""), KEYCMP_SERVER);
	assert_int_equal(keycmp_of("text", "\"public\".\"C\""), KEYCMP_SERVER);
	assert_int_equal(keycmp_of("text", NULL), KEYCMP_SERVER);
	assert_int_equal(keycmp_of("character(8)", "\"pg_catalog\".\"C\""), KEYCMP_SERVER);
	assert_int_equal(keycmp_of("numeric", NULL), KEYCMP_SERVER);
	assert_int_equal(keycmp_of("timestamp with time zone", NULL), KEYCMP_SERVER);
	assert_int_equal(keycmp_of(NULL, NULL), KEYCMP_SERVER);
}

static void
test_integers(void **state)
{
	(void) state;
	assert_int_equal(cmp(KEYCMP_INT, "9", "10"), -1);	/* not as text */
	assert_int_equal(cmp(KEYCMP_INT, "-10", "-9"), -1);
	assert_int_equal(cmp(KEYCMP_INT, "-1", "0"), -1);
	assert_int_equal(cmp(KEYCMP_INT, "42", "42"), 0);
	assert_int_equal(cmp(KEYCMP_INT, "9223372036854775807", "-9223372036854775808"), 1);
	assert_int_equal(cmp(KEYCMP_INT, "1000000000000000000", "999999999999999999"), 1);
	/* the value may not be NUL-terminated: only alen bytes count */
	assert_int_equal(sign(keycmp_value(KEYCMP_INT, "123456", 2, "13")), -1);
}

static void
test_bytes(void **state)
{
	(void) state;
	assert_int_equal(cmp(KEYCMP_BYTES, "B", "a"), -1);		/* C: capitals first */
	assert_int_equal(cmp(KEYCMP_BYTES, "ab", "abc"), -1);	/* a prefix first */
	assert_int_equal(cmp(KEYCMP_BYTES, "z", "\xc3\xa9"), -1);	/* é after z, as UTF-8 bytes */
	assert_int_equal(cmp(KEYCMP_BYTES, "", "a"), -1);
	assert_int_equal(cmp(KEYCMP_BYTES, "same", "same"), 0);
	assert_int_equal(cmp(KEYCMP_BYTES, "00000000-0000-0000-0000-00000000000a",
						 "00000000-0000-0000-0000-000000000009"), 1);
}

/* uuid order is the order of its 16 bytes; its text (lowercase hex) keeps it. */
static void
test_uuid_order_random(void **state)
{
	(void) state;
	srand(seed);
	for (int n = 0; n < 20000; n++)
	{
		unsigned char a[16], b[16];
		char		ta[37], tb[37];
		int			want;

		for (int i = 0; i < 16; i++)
		{
			a[i] = (unsigned char) rand();
			b[i] = (unsigned char) (n % 3 == 0 && i < 12 ? a[i] : rand());
		}
		for (int side = 0; side < 2; side++)
		{
			unsigned char *u = side ? b : a;

			snprintf(side ? tb : ta, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
					 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
					 u[12], u[13], u[14], u[15]);
		}
		want = sign(memcmp(a, b, 16));
		if (cmp(KEYCMP_BYTES, ta, tb) != want)
			fail_msg("seed %u: %s vs %s: expected %d", seed, ta, tb, want);
	}
}

static void
test_rows(void **state)
{
	keycmp_kind kinds[2] = {KEYCMP_INT, KEYCMP_BYTES};
	const char *a[2] = {"7", "b"};
	size_t		alen[2] = {1, 1};
	char	   *lo[2] = {"7", "a"}, *hi[2] = {"7", "c"}, *next[2] = {"8", ""}, *prev[2] = {"10", "a"};

	(void) state;
	assert_true(keycmp_row(kinds, 2, a, alen, lo) > 0);
	assert_true(keycmp_row(kinds, 2, a, alen, hi) < 0);
	assert_true(keycmp_row(kinds, 2, a, alen, next) < 0);	/* the first column decides */
	assert_true(keycmp_row(kinds, 2, a, alen, prev) < 0);	/* 7 < 10 as numbers */
	assert_int_equal(keycmp_row(kinds, 1, a, alen, lo), 0);
	assert_true(keycmp_client(kinds, 2));
	kinds[1] = KEYCMP_SERVER;
	assert_false(keycmp_client(kinds, 2));
	assert_false(keycmp_client(kinds, 0));
}

static void
expect_roundtrip(char **vals, int n)
{
	strbuf		sb;
	char	  **got = NULL;
	int			ngot = -1;

	sb_init(&sb);
	pgarray_encode(&sb, vals, n);
	if (!pgarray_decode(sb.data, &got, &ngot))
		fail_msg("seed %u: %s does not decode", seed, sb.data);
	assert_int_equal(ngot, n);
	for (int i = 0; i < n; i++)
	{
		if (vals[i] == NULL)
		{
			if (got[i] != NULL)
				fail_msg("element %d of %s: expected NULL", i, sb.data);
			continue;
		}
		if (got[i] == NULL || strcmp(got[i], vals[i]) != 0)
			fail_msg("seed %u: element %d of %s: expected [%s], got [%s]", seed, i, sb.data,
					 vals[i], got[i] ? got[i] : "NULL");
	}
	pgarray_free(got, ngot);
	sb_free(&sb);
}

static void
test_array_literals(void **state)
{
	char	   *vals[] = {"plain", "with space", "a,b", "{x}", "q\"uote", "back\\slash", NULL, "",
						  "NULL", "null", "\xc3\xa9t\xc3\xa9", "(12,0)", " lead", "trail "};
	strbuf		sb;
	char	  **got;
	int			n;

	(void) state;
	expect_roundtrip(vals, (int) (sizeof(vals) / sizeof(vals[0])));
	expect_roundtrip(vals, 0);
	sb_init(&sb);
	pgarray_encode(&sb, vals + 4, 3);
	assert_string_equal(sb.data, "{\"q\\\"uote\",\"back\\\\slash\",NULL}");
	sb_free(&sb);
	/* as PostgreSQL prints them */
	assert_true(pgarray_decode("{abc,\"a b\",NULL,\"\",\"NULL\"}", &got, &n));
	assert_int_equal(n, 5);
	assert_string_equal(got[0], "abc");
	assert_string_equal(got[1], "a b");
	assert_null(got[2]);
	assert_string_equal(got[3], "");
	assert_string_equal(got[4], "NULL");
	pgarray_free(got, n);
	assert_true(pgarray_decode("{}", &got, &n));
	assert_int_equal(n, 0);
	pgarray_free(got, n);
	assert_true(pgarray_decode("{\"\\\"pg_catalog\\\".\\\"C\\\"\"}", &got, &n));
	assert_string_equal(got[0], "\"pg_catalog\".\"C\"");
	pgarray_free(got, n);
	/* malformed: refused, nothing returned */
	const char *bad[] = {"", "abc", "{abc", "{\"abc}", "{a\"b}", "{{1}}", "{a}x", "{\"a\"b}", "{a\\"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		got = (char **) 1;
		n = 7;
		if (pgarray_decode(bad[i], &got, &n))
			fail_msg("[%s] should not decode", bad[i]);
		assert_null(got);
		assert_int_equal(n, 0);
	}
}

static void
test_array_random(void **state)
{
	const char	alphabet[] = "ab ,{}\"\\NUL\t\xc3\xa9()";

	(void) state;
	srand(seed + 1);
	for (int round = 0; round < 2000; round++)
	{
		char	   *vals[8];
		int			n = rand() % 8;

		for (int i = 0; i < n; i++)
		{
			int			len = rand() % 10;

			if (rand() % 7 == 0)
			{
				vals[i] = NULL;
				continue;
			}
			vals[i] = calloc((size_t) len + 1, 1);
			for (int c = 0; c < len; c++)
				vals[i][c] = alphabet[rand() % (int) (sizeof(alphabet) - 1)];
		}
		expect_roundtrip(vals, n);
		for (int i = 0; i < n; i++)
			free(vals[i]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_uuid_order_random),
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_array_literals),
		cmocka_unit_test(test_array_random),
	};
	const char *s = getenv("PGR_TEST_SEED");

	seed = s ? (unsigned int) strtoul(s, NULL, 10) : (unsigned int) time(NULL);
	printf("test_chunk_key: seed %u (PGR_TEST_SEED to repeat)\n", seed);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
