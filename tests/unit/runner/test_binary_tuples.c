/*
 * test_binary_tuples.c — COPY BINARY tuples read without decoding
 * (runner/copy/copy_binary.c) and keys hashed in binary form
 * (common/pg/pghash.c, pg_hash_key_binary).
 *
 * The binary form of a key must land on the same shard as its text form
 * (the copy of one table in binary and its stream in text must agree), for
 * every key type: randomized values, both forms built here from the same
 * number or bytes (the seed is printed).  Tuples are walked by their length
 * words: the key fields found at any position, NULLs, trailing generated
 * columns dropped, a shared scan's chunk number taken off the front; every
 * malformed tuple (short, lengths past the end, extra bytes) is refused.
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

#include "copy.h"

static unsigned int seed;

/* A tuple under construction. */
typedef struct tup {
	char		b[4096];
	size_t		len;
} tup;

static void
t_begin(tup *t, int nfields)
{
	t->b[0] = (char) ((nfields >> 8) & 0xff);
	t->b[1] = (char) (nfields & 0xff);
	t->len = 2;
}

static void
t_field(tup *t, const void *data, int len)
{
	uint32_t	l = (uint32_t) len;

	t->b[t->len++] = (char) (l >> 24);
	t->b[t->len++] = (char) (l >> 16);
	t->b[t->len++] = (char) (l >> 8);
	t->b[t->len++] = (char) l;
	if (len > 0)
	{
		memcpy(t->b + t->len, data, (size_t) len);
		t->len += (size_t) len;
	}
}

static void
be(unsigned char *out, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		out[i] = (unsigned char) (v & 0xff);
}

static uint32_t
shard_text(key_type k, const char *s, uint32_t n)
{
	key_value	v = {s, strlen(s), false};
	uint32_t	sh = 99;
	char		err[128];

	assert_true(shard_of_values(&k, &v, 1, n, &sh, err, sizeof(err)));
	return sh;
}

static uint32_t
shard_bin(key_type k, const void *b, size_t len, uint32_t n)
{
	key_value	v = {b, len, false};
	uint32_t	sh = 77;
	char		err[128];

	assert_true(shard_of_binary_values(&k, &v, 1, n, &sh, err, sizeof(err)));
	return sh;
}

static void
test_binary_hash_agrees_with_text(void **state)
{
	(void) state;
	for (int i = 0; i < 5000; i++)
	{
		/* every bit pattern: negative values included (top bits set) */
		uint64_t	u = ((uint64_t) rand() << 33) ^ ((uint64_t) rand() << 2) ^ (uint64_t) rand();
		int64_t		v = i % 3 == 0 ? (int64_t) (u >> (i % 50)) : (int64_t) u;
		int32_t		v4 = (int32_t) (uint32_t) u;
		int16_t		v2 = (int16_t) (uint16_t) (u >> 7);
		unsigned char b[16];
		char		txt[64];
		uint32_t	n = 2 + (uint32_t) (rand() % 15);

		snprintf(txt, sizeof(txt), "%lld", (long long) v);
		be(b, (uint64_t) v, 8);
		assert_int_equal(shard_bin(KEY_INT8, b, 8, n), shard_text(KEY_INT8, txt, n));
		snprintf(txt, sizeof(txt), "%d", v4);
		be(b, (uint32_t) v4, 4);
		assert_int_equal(shard_bin(KEY_INT4, b, 4, n), shard_text(KEY_INT4, txt, n));
		snprintf(txt, sizeof(txt), "%d", v2);
		be(b, (uint16_t) v2, 2);
		assert_int_equal(shard_bin(KEY_INT2, b, 2, n), shard_text(KEY_INT2, txt, n));

		for (int k = 0; k < 16; k++)
			b[k] = (unsigned char) rand();
		snprintf(txt, sizeof(txt), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
				 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
		assert_int_equal(shard_bin(KEY_UUID, b, 16, n), shard_text(KEY_UUID, txt, n));

		/* text and bpchar: the bytes (UTF-8 included), trailing blanks for bpchar */
		snprintf(txt, sizeof(txt), "slug-%d-\xc3\xbc%s", rand(), i % 2 ? "   " : "");
		assert_int_equal(shard_bin(KEY_TEXT, txt, strlen(txt), n), shard_text(KEY_TEXT, txt, n));
		assert_int_equal(shard_bin(KEY_BPCHAR, txt, strlen(txt), n), shard_text(KEY_BPCHAR, txt, n));
	}
}

static void
test_binary_hash_wrong_width(void **state)
{
	unsigned char b[16] = {0};
	key_type	k = KEY_INT4;
	key_value	v = {(const char *) b, 8, false};
	uint32_t	sh;
	char		err[128];

	(void) state;
	assert_false(shard_of_binary_values(&k, &v, 1, 4, &sh, err, sizeof(err)));
	assert_non_null(strstr(err, "8 bytes"));
	k = KEY_UUID;
	v.len = 15;
	assert_false(shard_of_binary_values(&k, &v, 1, 4, &sh, err, sizeof(err)));
	k = KEY_UNSUPPORTED;
	v.len = 4;
	assert_false(shard_of_binary_values(&k, &v, 1, 4, &sh, err, sizeof(err)));
}

/* A table of nf fields whose key is fields kf[0..nk-1] of types kt. */
static copy_table
table(int nf, int nk, const int *kf, const key_type *kt)
{
	static const char *names[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
	copy_table	t;

	memset(&t, 0, sizeof(t));
	t.nselect = t.nsend = nf;
	t.nkeys = nk;
	t.binary = true;
	t.field_names = names;
	for (int k = 0; k < nk; k++)
	{
		t.key_field[k] = kf[k];
		t.key_types[k] = kt[k];
	}
	return t;
}

static void
test_route_tuple(void **state)
{
	int			kf[2] = {2, 0};
	key_type	kt[2] = {KEY_TEXT, KEY_INT8};
	copy_table	t = table(4, 2, kf, kt);
	unsigned char id[8];
	tup			x;
	uint32_t	got, want;
	key_value	v[2];
	char		err[128];
	strbuf		sb;

	(void) state;
	be(id, 123456789, 8);
	t_begin(&x, 4);
	t_field(&x, id, 8);
	t_field(&x, NULL, -1);		/* NULL, not a key */
	t_field(&x, "acme", 4);
	t_field(&x, "payload \t\n\\ with bytes COPY TEXT would escape", 40);
	v[0] = (key_value) {"acme", 4, false};
	v[1] = (key_value) {"123456789", 9, false};
	assert_true(shard_of_values(kt, v, 2, 7, &want, err, sizeof(err)));
	assert_true(route_binary_row(&t, 7, x.b, x.len, &got, err, sizeof(err)));
	assert_int_equal(got, want);

	sb_init(&sb);
	copy_binary_row_key(&t, x.b, x.len, &sb);
	assert_string_equal(sb.data, "(c, a)=(acme, 123456789)");
	sb_free(&sb);

	/* a NULL key column is skipped, as PostgreSQL's hash partitioning does */
	t_begin(&x, 4);
	t_field(&x, id, 8);
	t_field(&x, "x", 1);
	t_field(&x, NULL, -1);
	t_field(&x, "", 0);
	v[0].isnull = true;
	assert_true(shard_of_values(kt, v, 2, 7, &want, err, sizeof(err)));
	assert_true(route_binary_row(&t, 7, x.b, x.len, &got, err, sizeof(err)));
	assert_int_equal(got, want);
}

static void
test_malformed_tuples(void **state)
{
	int			kf[1] = {1};
	key_type	kt[1] = {KEY_INT4};
	copy_table	t = table(2, 1, kf, kt);
	unsigned char v[4] = {0, 0, 0, 42};
	tup			x;
	uint32_t	sh;
	char		err[128];

	(void) state;
	t_begin(&x, 2);
	t_field(&x, "z", 1);
	t_field(&x, v, 4);
	assert_true(route_binary_row(&t, 4, x.b, x.len, &sh, err, sizeof(err)));
	/* every truncation is refused */
	for (size_t l = 0; l < x.len; l++)
		assert_false(route_binary_row(&t, 4, x.b, l, &sh, err, sizeof(err)));
	/* a byte too many */
	x.b[x.len] = 0;
	assert_false(route_binary_row(&t, 4, x.b, x.len + 1, &sh, err, sizeof(err)));
	/* too few fields for the key */
	t_begin(&x, 1);
	t_field(&x, v, 4);
	assert_false(route_binary_row(&t, 4, x.b, x.len, &sh, err, sizeof(err)));
	assert_non_null(strstr(err, "malformed binary tuple"));
	/* a length word below -1 */
	t_begin(&x, 2);
	t_field(&x, "z", 1);
	t_field(&x, NULL, -1);
	x.b[x.len - 1] = (char) 0xfe;
	assert_false(route_binary_row(&t, 4, x.b, x.len, &sh, err, sizeof(err)));
}

static void
test_header_and_trailer(void **state)
{
	char		msg[64];
	tup			x;

	(void) state;
	memcpy(msg, copy_binary_header, COPY_BINARY_HEADER_LEN);
	t_begin(&x, 1);
	t_field(&x, "r", 1);
	memcpy(msg + COPY_BINARY_HEADER_LEN, x.b, x.len);
	assert_int_equal(copy_binary_header_end(msg, COPY_BINARY_HEADER_LEN + x.len), COPY_BINARY_HEADER_LEN);
	/* a header extension of 3 bytes is skipped */
	msg[18] = 3;
	assert_int_equal(copy_binary_header_end(msg, COPY_BINARY_HEADER_LEN + x.len), COPY_BINARY_HEADER_LEN + 3);
	assert_int_equal(copy_binary_header_end(msg, COPY_BINARY_HEADER_LEN + 2), -1);
	msg[18] = 0;
	msg[0] = 'X';
	assert_int_equal(copy_binary_header_end(msg, COPY_BINARY_HEADER_LEN + x.len), -1);
	assert_int_equal(copy_binary_header_end(msg, 10), -1);
	assert_true(copy_binary_is_trailer(copy_binary_trailer, 2));
	assert_false(copy_binary_is_trailer(x.b, 2));
	assert_false(copy_binary_is_trailer(copy_binary_trailer, 1));
}

static void
test_keep_fields_and_bucket(void **state)
{
	unsigned char b4[4] = {0, 0, 0, 2}, g8[8];
	tup			x, want;
	size_t		len;
	long		at;
	int			bucket = -1;

	(void) state;
	be(g8, 77, 8);
	/* chunk number 2, then id, a NULL, then a generated key read only for routing */
	t_begin(&x, 4);
	t_field(&x, b4, 4);
	t_field(&x, "id1", 3);
	t_field(&x, NULL, -1);
	t_field(&x, g8, 8);
	at = copy_binary_take_bucket(x.b, x.len, &bucket);
	assert_int_equal(at, 8);
	assert_int_equal(bucket, 2);
	len = x.len - (size_t) at;
	assert_true(copy_binary_keep_fields(x.b + at, &len, 2));
	t_begin(&want, 2);
	t_field(&want, "id1", 3);
	t_field(&want, NULL, -1);
	assert_int_equal(len, want.len);
	assert_memory_equal(x.b + at, want.b, want.len);
	/* nothing to drop: unchanged */
	assert_true(copy_binary_keep_fields(want.b, &len, 2));
	assert_int_equal(len, want.len);
	/* fewer fields than kept: malformed */
	assert_false(copy_binary_keep_fields(want.b, &len, 3));
	/* a bucket that is not an int4 */
	t_begin(&x, 1);
	t_field(&x, "ab", 2);
	assert_int_equal(copy_binary_take_bucket(x.b, x.len, &bucket), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_binary_hash_agrees_with_text),
		cmocka_unit_test(test_binary_hash_wrong_width),
		cmocka_unit_test(test_route_tuple),
		cmocka_unit_test(test_malformed_tuples),
		cmocka_unit_test(test_header_and_trailer),
		cmocka_unit_test(test_keep_fields_and_bucket),
	};
	const char *env = getenv("PGR_TEST_SEED");

	seed = env ? (unsigned int) strtoul(env, NULL, 10) : (unsigned int) time(NULL);
	printf("test_binary_tuples: seed %u (PGR_TEST_SEED=%u replays it)\n", seed, seed);
	srand(seed);
	return cmocka_run_group_tests_name("binary_tuples", tests, NULL, NULL);
}
