/*
 * test_hash.c — unit tests for the routing function (common/pg/pghash.c).
 *
 * Everything expected here was read off a PostgreSQL 15 server, never
 * computed with our own code: the shard vectors in tests/data (one line per
 * key, the partition REMAINDER for several moduli), 64-bit hash values of
 * hashtextextended / hashint8extended / uuid_hash_extended, and a few
 * multi-column rows checked with satisfies_hash_partition.  The rest checks
 * the text input rules (what PostgreSQL's input functions accept or reject)
 * and the properties routing relies on: NULLs skipped, int2/int4/int8 agree,
 * uuid input forms agree, bpchar ignores trailing blanks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pghash.h"

#define VECTORS_FILE PGR_SOURCE_DIR "/tests/data/pg-hash-vectors.txt"
#define ALPHABET "abcdefghijklmnopqrstuvwxyz0123456789"

static const uint32_t vector_moduli[] = {2, 3, 4, 8, 12, 16};
#define NMODULI (sizeof vector_moduli / sizeof vector_moduli[0])

/* Shard of a single-column key, asserting the value parses. */
static uint32_t
shard1(key_type t, const char *val, uint32_t nshards)
{
	key_value v = {val, strlen(val), false};
	uint32_t shard = UINT32_MAX;
	char err[200] = "";

	if (!shard_of_values(&t, &v, 1, nshards, &shard, err, sizeof err))
		fail_msg("%s '%s' did not parse: %s", key_type_name(t), val, err);
	return shard;
}

/* Hash of one key value in text form, asserting it parses. */
static uint64_t
hash1(key_type t, const char *val)
{
	uint64_t h = 0;
	char err[200] = "";

	if (!pg_hash_key_text(t, val, strlen(val), &h, err, sizeof err))
		fail_msg("%s '%s' did not parse: %s", key_type_name(t), val, err);
	return h;
}

/* ---- the vectors file ------------------------------------------------ */

/*
 * Split "type value N2=a N3=b ..." into type, value (unquoted: 'x''y' is
 * x'y) and the expected shards.  False for a malformed line.
 */
static bool
parse_vector_line(char *line, key_type *t, char *val, size_t vallen,
				  uint32_t expect[NMODULI])
{
	char *p = strchr(line, ' '), *out = val;

	if (p == NULL)
		return false;
	*p++ = '\0';
	*t = key_type_from_name(line);
	if (*p == '\'')
	{
		for (p++; *p && !(p[0] == '\'' && p[1] != '\''); p++)
		{
			if (p[0] == '\'')
				p++;			/* a doubled quote */
			if ((size_t) (out - val) + 1 >= vallen)
				return false;
			*out++ = *p;
		}
		if (*p++ != '\'')
			return false;
	}
	else
		while (*p && *p != ' ' && (size_t) (out - val) + 1 < vallen)
			*out++ = *p++;
	*out = '\0';
	for (size_t i = 0; i < NMODULI; i++)
	{
		unsigned n, shard;
		int used = 0;

		if (sscanf(p, " N%u=%u%n", &n, &shard, &used) != 2 ||
			n != vector_moduli[i])
			return false;
		expect[i] = shard;
		p += used;
	}
	return *t != KEY_UNSUPPORTED;
}

static void
test_vectors_file(void **state)
{
	FILE *f = fopen(VECTORS_FILE, "r");
	char line[1024], val[512];
	int nvectors = 0, nmismatch = 0;

	(void) state;
	assert_non_null(f);
	while (fgets(line, sizeof line, f) != NULL)
	{
		key_type t = KEY_UNSUPPORTED;
		uint32_t expect[NMODULI];

		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (!parse_vector_line(line, &t, val, sizeof val, expect))
			fail_msg("malformed vector line: %s", line);
		for (size_t i = 0; i < NMODULI; i++)
		{
			uint32_t got = shard1(t, val, vector_moduli[i]);

			if (got != expect[i])
			{
				print_error("%s '%s' N%u: expected %u, got %u\n", key_type_name(t),
							val, vector_moduli[i], expect[i], got);
				nmismatch++;
			}
		}
		nvectors++;
	}
	fclose(f);
	print_message("checked %d vectors x %zu moduli\n", nvectors, NMODULI);
	assert_int_equal(nmismatch, 0);
	assert_true(nvectors >= 36);
}

/* ---- 64-bit hashes read off PostgreSQL 15 ---------------------------- */

/* hashtextextended(left(ALPHABET, len), seed) for seed 0 and the partition seed. */
static const struct
{
	size_t len;
	int64_t seed0;
	int64_t partition_seed;
} text_hashes[] = {
	{0, INT64_C(-6939563903564495251), INT64_C(-5700645584453517373)},
	{1, INT64_C(3591986179850072241), INT64_C(-6705225459120232837)},
	{2, INT64_C(2833316173711343549), INT64_C(596009030900183869)},
	{3, INT64_C(-6747756470228489321), INT64_C(3628778498291917250)},
	{4, INT64_C(-1038429303365892052), INT64_C(4029384952263848046)},
	{5, INT64_C(3076356108696143428), INT64_C(4809259092934399961)},
	{6, INT64_C(290958262752763840), INT64_C(-658605897836517514)},
	{7, INT64_C(-6158032784613548338), INT64_C(-1516236981150442578)},
	{8, INT64_C(-8882191227074733005), INT64_C(-7754745184861941070)},
	{9, INT64_C(-3278210106038014113), INT64_C(-7860738947571725408)},
	{10, INT64_C(-3183301415634409076), INT64_C(-8306284229451770207)},
	{11, INT64_C(3112909444737856467), INT64_C(-2046435308545367432)},
	{12, INT64_C(-7556637188122330412), INT64_C(-7876791541613377658)},
	{13, INT64_C(8871624171452417744), INT64_C(-6785754114725280077)},
	{14, INT64_C(4973135103275945525), INT64_C(-5209977316171801933)},
	{15, INT64_C(9043359162837317271), INT64_C(3744103518171237272)},
	{16, INT64_C(878954068520307163), INT64_C(-2963246452690924729)},
	{17, INT64_C(981995727863167554), INT64_C(-4290088002765369671)},
	{18, INT64_C(484589330715449564), INT64_C(-3976194482402635722)},
	{19, INT64_C(-232611774418841497), INT64_C(6411573653485454739)},
	{20, INT64_C(772495730612720881), INT64_C(-3730286019426601237)},
	{21, INT64_C(7996419909667933074), INT64_C(-9009476528635760866)},
	{22, INT64_C(5065299895581918398), INT64_C(1804191968730614896)},
	{23, INT64_C(-1198571854151947912), INT64_C(-7324642668702903167)},
	{24, INT64_C(-1933194731779935345), INT64_C(-10959101940276370)},
	{25, INT64_C(5649064133428767341), INT64_C(1383018584709609407)},
	{26, INT64_C(-6612928417832572997), INT64_C(-7171292135076916904)},
};

static void
test_text_hashes(void **state)
{
	const unsigned char *abc = (const unsigned char *) ALPHABET;

	(void) state;
	for (size_t i = 0; i < sizeof text_hashes / sizeof text_hashes[0]; i++)
	{
		size_t len = text_hashes[i].len;

		assert_int_equal(pg_hash_bytes_extended(abc, len, 0),
						 (uint64_t) text_hashes[i].seed0);
		assert_int_equal(pg_hash_bytes_extended(abc, len, PG_HASH_PARTITION_SEED),
						 (uint64_t) text_hashes[i].partition_seed);
		/* Unaligned start: the bytes, not the address, decide. */
		{
			char buf[64];

			memcpy(buf + 1, ALPHABET, len);
			assert_int_equal(pg_hash_bytes_extended((unsigned char *) buf + 1, len,
													PG_HASH_PARTITION_SEED),
							 (uint64_t) text_hashes[i].partition_seed);
		}
	}
}

/* hashint8extended(v, seed) for seed 0 and the partition seed. */
static const struct
{
	int64_t v;
	int64_t seed0;
	int64_t partition_seed;
} int8_hashes[] = {
	{0, INT64_C(4154612158245552303), INT64_C(-4403592609991167795)},
	{1, INT64_C(-3670598878359251130), INT64_C(5968994663651403477)},
	{-1, INT64_C(-1888257769727981238), INT64_C(-5017072347659237694)},
	{42, INT64_C(8010225493015854792), INT64_C(7363975540656877951)},
	{INT32_MIN, INT64_C(1977219185673256887), INT64_C(4938542303000433043)},
	{INT32_MAX, INT64_C(-9109110466470504941), INT64_C(-6050265599104649060)},
};

static void
test_int_and_uuid_hashes(void **state)
{
	static const unsigned char uuid[16] = {
		0x55, 0x0e, 0x84, 0x00, 0xe2, 0x9b, 0x41, 0xd4,
		0xa7, 0x16, 0x44, 0x66, 0x55, 0x44, 0x00, 0x00};

	(void) state;
	for (size_t i = 0; i < sizeof int8_hashes / sizeof int8_hashes[0]; i++)
	{
		assert_int_equal(pg_hash_int8(int8_hashes[i].v, 0),
						 (uint64_t) int8_hashes[i].seed0);
		assert_int_equal(pg_hash_int8(int8_hashes[i].v, PG_HASH_PARTITION_SEED),
						 (uint64_t) int8_hashes[i].partition_seed);
	}
	/* hashint8extended of INT64_MIN / INT64_MAX / +-2^32 with the seed. */
	assert_int_equal(pg_hash_int8(INT64_MIN, PG_HASH_PARTITION_SEED),
					 (uint64_t) INT64_C(-6050265599104649060));
	assert_int_equal(pg_hash_int8(INT64_MAX, PG_HASH_PARTITION_SEED),
					 (uint64_t) INT64_C(4938542303000433043));
	assert_int_equal(pg_hash_int8(INT64_C(4294967296), PG_HASH_PARTITION_SEED),
					 (uint64_t) INT64_C(5968994663651403477));
	assert_int_equal(pg_hash_int8(INT64_C(-4294967297), PG_HASH_PARTITION_SEED),
					 (uint64_t) INT64_C(2147707635919668551));
	/* uuid_hash_extended('550e8400-e29b-41d4-a716-446655440000', seed) */
	assert_int_equal(pg_hash_bytes_extended(uuid, 16, PG_HASH_PARTITION_SEED),
					 (uint64_t) INT64_C(-3467891652331307802));
	assert_int_equal(pg_hash_bytes_extended(uuid, 16, 0),
					 (uint64_t) INT64_C(-2609285026036278665));
	assert_int_equal(hash1(KEY_UUID, "550e8400-e29b-41d4-a716-446655440000"),
					 (uint64_t) INT64_C(-3467891652331307802));
}

/* ---- multi-column keys and NULLs ------------------------------------- */

/* Rows checked with satisfies_hash_partition on PostgreSQL 15 (NULL = NULL). */
static const struct
{
	key_type t[2];
	const char *v[2];
	uint32_t expect[NMODULI];
} multi_rows[] = {
	{{KEY_INT8, KEY_TEXT}, {"1", "a"}, {1, 1, 1, 5, 1, 5}},
	{{KEY_INT8, KEY_TEXT}, {"-5", ""}, {0, 0, 2, 6, 6, 14}},
	{{KEY_INT8, KEY_TEXT}, {"9223372036854775807", "tenant_42"}, {0, 1, 2, 6, 10, 6}},
	{{KEY_INT8, KEY_TEXT}, {"0", "hello world, this is a longer key"}, {1, 2, 3, 3, 11, 3}},
	{{KEY_INT8, KEY_TEXT}, {"42", "\xc3\xbcn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9"}, {0, 2, 0, 4, 8, 12}},
	{{KEY_INT8, KEY_TEXT}, {NULL, "abc"}, {1, 1, 1, 5, 1, 5}},
	{{KEY_INT8, KEY_TEXT}, {"7", NULL}, {1, 1, 3, 7, 7, 7}},
	{{KEY_INT8, KEY_TEXT}, {NULL, NULL}, {0, 0, 0, 0, 0, 0}},
	{{KEY_UUID, KEY_INT4}, {"550e8400-e29b-41d4-a716-446655440000", "1"}, {0, 2, 2, 2, 2, 10}},
	{{KEY_UUID, KEY_INT4}, {"00000000-0000-0000-0000-000000000000", "-2147483648"}, {0, 0, 0, 0, 0, 8}},
	{{KEY_UUID, KEY_INT4}, {"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "2147483647"}, {0, 1, 2, 2, 10, 10}},
	{{KEY_BPCHAR, KEY_INT2}, {"ab      ", "3"}, {1, 1, 1, 1, 1, 1}},
	{{KEY_BPCHAR, KEY_INT2}, {"        ", "-32768"}, {0, 0, 0, 0, 0, 8}},
	{{KEY_BPCHAR, KEY_INT2}, {"x y     ", "32767"}, {0, 1, 0, 0, 4, 0}},
};

static void
test_multi_column(void **state)
{
	(void) state;
	for (size_t r = 0; r < sizeof multi_rows / sizeof multi_rows[0]; r++)
	{
		key_value vals[2];

		for (int c = 0; c < 2; c++)
		{
			const char *v = multi_rows[r].v[c];

			vals[c] = (key_value) {v, v ? strlen(v) : 0, v == NULL};
		}
		for (size_t i = 0; i < NMODULI; i++)
		{
			uint32_t shard = UINT32_MAX;

			assert_true(shard_of_values(multi_rows[r].t, vals, 2, vector_moduli[i],
										&shard, NULL, 0));
			if (shard != multi_rows[r].expect[i])
				fail_msg("row %zu N%u: expected %u, got %u", r, vector_moduli[i],
						 multi_rows[r].expect[i], shard);
		}
	}
}

static void
test_nulls(void **state)
{
	key_type types[3] = {KEY_INT8, KEY_TEXT, KEY_UUID};
	key_value all_null[3] = {{NULL, 0, true}, {NULL, 0, true}, {NULL, 0, true}};
	/* A NULL column's text is never looked at. */
	key_value mixed[3] = {{"garbage", 7, true}, {"tenant_1", 8, false}, {NULL, 0, true}};
	uint32_t shard;

	(void) state;
	for (uint32_t n = 1; n <= 64; n++)
	{
		shard = UINT32_MAX;
		assert_true(shard_of_values(types, all_null, 3, n, &shard, NULL, 0));
		assert_int_equal(shard, 0);
		assert_true(shard_of_values(types, mixed, 3, n, &shard, NULL, 0));
		/* (NULL, x, NULL) folds like (x) alone: hash_combine64(0, h(x)). */
		assert_int_equal(shard, shard1(KEY_TEXT, "tenant_1", n));
		assert_int_equal(pg_hash_combine64(0, hash1(KEY_TEXT, "tenant_1")) % n,
						 shard);
	}
}

/* ---- text input rules ------------------------------------------------ */

/* Assert that val is rejected for type t with a message naming the type. */
static void
assert_rejected(key_type t, const char *val)
{
	uint64_t h = 0;
	char err[200] = "";
	key_value v = {val, strlen(val), false};
	uint32_t shard = 0;

	if (pg_hash_key_text(t, val, strlen(val), &h, err, sizeof err))
		fail_msg("%s accepted '%s'", key_type_name(t), val);
	if (strstr(err, key_type_name(t)) == NULL)
		fail_msg("message for %s '%s' does not name the type: %s",
				 key_type_name(t), val, err);
	assert_false(shard_of_values(&t, &v, 1, 4, &shard, err, sizeof err));
	/* A tiny or absent error buffer is fine too. */
	assert_false(pg_hash_key_text(t, val, strlen(val), &h, err, 1));
	assert_int_equal(err[0], '\0');
	assert_false(pg_hash_key_text(t, val, strlen(val), &h, NULL, 0));
}

static void
test_int_parse_errors(void **state)
{
	static const char *garbage[] = {
		"", " ", "+", "-", "- 1", "12x", "x12", "1 2", "0x10", "1.0", "1e3",
		"1_000", "++1", "--1", "\xc2\xa0\x31", "1\xc2\xa0"};

	(void) state;
	for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++)
	{
		assert_rejected(KEY_INT2, garbage[i]);
		assert_rejected(KEY_INT4, garbage[i]);
		assert_rejected(KEY_INT8, garbage[i]);
	}
	assert_rejected(KEY_INT2, "32768");
	assert_rejected(KEY_INT2, "-32769");
	assert_rejected(KEY_INT2, "2147483647");
	assert_rejected(KEY_INT4, "2147483648");
	assert_rejected(KEY_INT4, "-2147483649");
	assert_rejected(KEY_INT4, "99999999999999999999999");
	assert_rejected(KEY_INT8, "9223372036854775808");
	assert_rejected(KEY_INT8, "-9223372036854775809");
	assert_rejected(KEY_INT8, "18446744073709551616");
	assert_rejected(KEY_INT8, "100000000000000000000");
	/* The length, not a NUL, ends the value. */
	{
		uint64_t h;

		assert_false(pg_hash_key_text(KEY_INT4, "12\0" "3", 4, &h, NULL, 0));
		assert_true(pg_hash_key_text(KEY_INT4, "123", 2, &h, NULL, 0));
		assert_int_equal(h, hash1(KEY_INT4, "12"));
	}
}

static void
test_int_accepted_forms(void **state)
{
	(void) state;
	assert_int_equal(hash1(KEY_INT4, " 42 "), hash1(KEY_INT4, "42"));
	assert_int_equal(hash1(KEY_INT4, "+42"), hash1(KEY_INT4, "42"));
	assert_int_equal(hash1(KEY_INT4, "\t\n\v\f\r 0042\r\n"), hash1(KEY_INT4, "42"));
	assert_int_equal(hash1(KEY_INT8, "-0"), hash1(KEY_INT8, "0"));
	assert_int_equal(hash1(KEY_INT2, "-32768"), pg_hash_int4(-32768, PG_HASH_PARTITION_SEED));
	assert_int_equal(hash1(KEY_INT2, "32767"), pg_hash_int4(32767, PG_HASH_PARTITION_SEED));
	assert_int_equal(hash1(KEY_INT4, "-2147483648"), pg_hash_int4(INT32_MIN, PG_HASH_PARTITION_SEED));
	assert_int_equal(hash1(KEY_INT8, "-9223372036854775808"),
					 pg_hash_int8(INT64_MIN, PG_HASH_PARTITION_SEED));
	assert_int_equal(hash1(KEY_INT8, "9223372036854775807"),
					 pg_hash_int8(INT64_MAX, PG_HASH_PARTITION_SEED));
	assert_int_equal(hash1(KEY_INT8, "-4294967297"),
					 (uint64_t) INT64_C(2147707635919668551));
	assert_int_not_equal(hash1(KEY_INT8, "1"), hash1(KEY_INT8, "-1"));
}

/* PostgreSQL designed hashint2/4/8 to agree on equal values; so do we. */
static void
test_int_widths_agree(void **state)
{
	char buf[32];

	(void) state;
	for (int32_t v = INT16_MIN; v <= INT16_MAX; v += 7)
	{
		snprintf(buf, sizeof buf, "%d", (int) v);
		assert_int_equal(hash1(KEY_INT2, buf), hash1(KEY_INT4, buf));
		assert_int_equal(hash1(KEY_INT2, buf), hash1(KEY_INT8, buf));
	}
	for (int64_t v = INT32_MIN; v <= INT32_MAX; v += 65521 * 7)
	{
		snprintf(buf, sizeof buf, "%lld", (long long) v);
		assert_int_equal(hash1(KEY_INT4, buf), hash1(KEY_INT8, buf));
		assert_int_equal(pg_hash_int4((int32_t) v, 1234), pg_hash_int8(v, 1234));
	}
	assert_int_equal(hash1(KEY_INT2, "-32768"), hash1(KEY_INT8, "-32768"));
	assert_int_equal(hash1(KEY_INT4, "2147483647"), hash1(KEY_INT8, "2147483647"));
	assert_int_equal(hash1(KEY_INT4, "-2147483648"), hash1(KEY_INT8, "-2147483648"));
}

static void
test_uuid_forms(void **state)
{
	static const char *same[] = {
		"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
		"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
		"{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
		"a0eebc999c0b4ef8bb6d6bb9bd380a11",
		"a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
		"{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}",
		"a0eeBC99-9c0b-4EF8-bb6d-6bb9bd380a11"};
	static const char *bad[] = {
		"", "{}", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
		"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111",
		"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g",
		"a0eebc999-c0b-4ef8-bb6d-6bb9bd380a11",
		"a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11",
		"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-",
		"-a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
		"{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
		"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
		" a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
		"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11 ",
		"{{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}}"};
	uint64_t canonical = hash1(KEY_UUID, same[0]);

	(void) state;
	for (size_t i = 1; i < sizeof same / sizeof same[0]; i++)
		assert_int_equal(hash1(KEY_UUID, same[i]), canonical);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_rejected(KEY_UUID, bad[i]);
	/* The vectors file's shard for this uuid, through an alternative form. */
	assert_int_equal(shard1(KEY_UUID, "{A0EEBC999C0B4EF8BB6D6BB9BD380A11}", 12), 4);
}

static void
test_bpchar(void **state)
{
	(void) state;
	/* char(n) output is blank-padded; the hash ignores the padding. */
	assert_int_equal(hash1(KEY_BPCHAR, "abc       "), hash1(KEY_BPCHAR, "abc"));
	assert_int_equal(hash1(KEY_BPCHAR, "abc"), hash1(KEY_TEXT, "abc"));
	assert_int_equal(hash1(KEY_BPCHAR, "          "), hash1(KEY_TEXT, ""));
	assert_int_equal(hash1(KEY_BPCHAR, ""), hash1(KEY_TEXT, ""));
	/* Leading blanks and other trailing white space do count. */
	assert_int_equal(hash1(KEY_BPCHAR, "  abc  "), hash1(KEY_TEXT, "  abc"));
	assert_int_equal(hash1(KEY_BPCHAR, "abc\t "), hash1(KEY_TEXT, "abc\t"));
	assert_int_not_equal(hash1(KEY_BPCHAR, "abc\t"), hash1(KEY_BPCHAR, "abc"));
	/* For text, trailing blanks are part of the value. */
	assert_int_not_equal(hash1(KEY_TEXT, "abc "), hash1(KEY_TEXT, "abc"));
	/* The vectors file's shards for text 'tenant_1', padded as char(12). */
	assert_int_equal(shard1(KEY_BPCHAR, "tenant_1    ", 12), 9);
	assert_int_equal(shard1(KEY_BPCHAR, "tenant_1    ", 16), 5);
}

/* ---- misuse and type names ------------------------------------------- */

static void
test_bad_calls(void **state)
{
	key_type t = KEY_INT8, unsupported = KEY_UNSUPPORTED;
	key_value v = {"1", 1, false};
	uint32_t shard = 77;
	uint64_t h;
	char err[200] = "";

	(void) state;
	assert_false(shard_of_values(&t, &v, 1, 0, &shard, err, sizeof err));
	assert_true(err[0] != '\0');
	assert_false(shard_of_values(&t, &v, 0, 4, &shard, err, sizeof err));
	assert_false(shard_of_values(&unsupported, &v, 1, 4, &shard, err, sizeof err));
	assert_false(pg_hash_key_text(KEY_UNSUPPORTED, "1", 1, &h, NULL, 0));
	assert_int_equal(shard, 77);
	assert_true(shard_of_values(&t, &v, 1, 1, &shard, err, sizeof err));
	assert_int_equal(shard, 0);
}

static void
test_type_names(void **state)
{
	static const struct { const char *name; key_type t; } names[] = {
		{"smallint", KEY_INT2}, {"INT2", KEY_INT2}, {"integer", KEY_INT4},
		{"Int", KEY_INT4}, {"int4", KEY_INT4}, {"bigint", KEY_INT8},
		{"int8", KEY_INT8}, {"BIGINT", KEY_INT8}, {"text", KEY_TEXT},
		{"varchar", KEY_TEXT}, {"VarChar(255)", KEY_TEXT},
		{"character varying", KEY_TEXT}, {"character varying(20)", KEY_TEXT},
		{"Character  Varying ( 20 )", KEY_TEXT}, {"char", KEY_BPCHAR},
		{"char(10)", KEY_BPCHAR}, {"character", KEY_BPCHAR},
		{"character(10)", KEY_BPCHAR}, {"bpchar", KEY_BPCHAR},
		{"uuid", KEY_UUID}, {"UUID", KEY_UUID}, {" uuid ", KEY_UUID},
		{"pg_catalog.int8", KEY_INT8},
		{"numeric", KEY_UNSUPPORTED}, {"int(5)", KEY_UNSUPPORTED},
		{"text(5)", KEY_UNSUPPORTED}, {"uuid(1)", KEY_UNSUPPORTED},
		{"\"char\"", KEY_UNSUPPORTED}, {"integer[]", KEY_UNSUPPORTED},
		{"varchar(", KEY_UNSUPPORTED}, {"varchar(x)", KEY_UNSUPPORTED},
		{"varchar()", KEY_UNSUPPORTED}, {"characters", KEY_UNSUPPORTED},
		{"character varyingx", KEY_UNSUPPORTED}, {"int 4", KEY_UNSUPPORTED},
		{"", KEY_UNSUPPORTED}, {"timestamp", KEY_UNSUPPORTED}, {"int16", KEY_UNSUPPORTED}};

	(void) state;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (key_type_from_name(names[i].name) != names[i].t)
			fail_msg("key_type_from_name(\"%s\") != %s", names[i].name,
					 key_type_name(names[i].t));
	assert_int_equal(key_type_from_name(NULL), KEY_UNSUPPORTED);
	assert_int_equal(key_type_from_oid(21), KEY_INT2);
	assert_int_equal(key_type_from_oid(23), KEY_INT4);
	assert_int_equal(key_type_from_oid(20), KEY_INT8);
	assert_int_equal(key_type_from_oid(25), KEY_TEXT);
	assert_int_equal(key_type_from_oid(1043), KEY_TEXT);
	assert_int_equal(key_type_from_oid(1042), KEY_BPCHAR);
	assert_int_equal(key_type_from_oid(2950), KEY_UUID);
	assert_int_equal(key_type_from_oid(18), KEY_UNSUPPORTED);	/* "char" */
	assert_int_equal(key_type_from_oid(1700), KEY_UNSUPPORTED);	/* numeric */
	/* Every name round-trips. */
	for (key_type t = KEY_INT2; t <= KEY_UUID; t++)
		assert_int_equal(key_type_from_name(key_type_name(t)), t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_file),
		cmocka_unit_test(test_text_hashes),
		cmocka_unit_test(test_int_and_uuid_hashes),
		cmocka_unit_test(test_multi_column),
		cmocka_unit_test(test_nulls),
		cmocka_unit_test(test_int_parse_errors),
		cmocka_unit_test(test_int_accepted_forms),
		cmocka_unit_test(test_int_widths_agree),
		cmocka_unit_test(test_uuid_forms),
		cmocka_unit_test(test_bpchar),
		cmocka_unit_test(test_bad_calls),
		cmocka_unit_test(test_type_names),
	};

	return cmocka_run_group_tests_name("pghash", tests, NULL, NULL);
}
