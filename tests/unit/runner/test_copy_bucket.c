/*
 * test_copy_bucket.c — a shared scan's binary rows placed in their chunks by
 * pgreshard (runner/copy/copy_bucket.c): for random groups of chunks over
 * bigint (negative values too), smallint, uuid, text under "C" and a
 * (integer, text under "C") key, every random row — and every bound itself —
 * lands in the chunk whose bounds hold it, the bounds compared here by a
 * plain linear scan in each type's own order (numbers as numbers, uuids and
 * C strings as bytes, shorter first).  Keys the client cannot order as the
 * server (text under another collation, numeric, plans without collations,
 * text-format tables) get no bucketer; NULL keys and malformed tuples are
 * refused.  Randomized: the seed is printed (PGR_TEST_SEED replays it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "copy.h"
#include "strbuf.h"

#define NCHUNKS_MAX 16

enum kind { K_INT8, K_INT2, K_UUID, K_TEXT };

/* One key value: an integer, or bytes. */
typedef struct val {
	long long	i;
	unsigned char b[24];
	size_t		blen;
} val;

static const char *fields[] = {"n", "id", "other", "name"};

static int
cmp_val(enum kind k, const val *a, const val *b)
{
	int			c;

	if (k == K_INT8 || k == K_INT2)
		return a->i < b->i ? -1 : a->i > b->i;
	c = memcmp(a->b, b->b, a->blen < b->blen ? a->blen : b->blen);
	if (c != 0)
		return c < 0 ? -1 : 1;
	return a->blen < b->blen ? -1 : a->blen > b->blen;
}

static void
rand_val(enum kind k, val *v)
{
	memset(v, 0, sizeof(*v));
	switch (k)
	{
		case K_INT8:
			/* small ranges too, so keys equal to bounds happen */
			v->i = rand() % 2 ? (long long) (rand() % 200) - 100
				: (long long) (((uint64_t) rand() << 33) ^ ((uint64_t) rand() << 2) ^ (uint64_t) rand());
			break;
		case K_INT2:
			v->i = (long long) (rand() % 65536) - 32768;
			break;
		case K_UUID:
			v->blen = 16;
			for (int i = 0; i < 16; i++)
				v->b[i] = (unsigned char) (rand() % 2 ? rand() % 256 : rand() % 3);
			break;
		case K_TEXT:
			v->blen = (size_t) (rand() % 6);
			for (size_t i = 0; i < v->blen; i++)	/* ASCII, and UTF-8 lead and continuation bytes */
				v->b[i] = (unsigned char) ("aAzZ\xc3\xa9\xe2\x82\xac" "0"[rand() % 10]);
			break;
	}
}

/* The text form of a value, as the chunk plan keeps it. */
static void
text_of(enum kind k, const val *v, strbuf *out)
{
	if (k == K_INT8 || k == K_INT2)
		sb_printf(out, "%lld", v->i);
	else if (k == K_UUID)
		for (int i = 0; i < 16; i++)
			sb_printf(out, "%s%02x", i == 4 || i == 6 || i == 8 || i == 10 ? "-" : "", v->b[i]);
	else
		sb_append_len(out, (const char *) v->b, v->blen);
}

/* A text[] literal element: quoted, backslashes and quotes escaped. */
static void
literal_elem(strbuf *out, const char *s, size_t len)
{
	sb_append(out, "\"");
	for (size_t i = 0; i < len; i++)
	{
		if (s[i] == '"' || s[i] == '\\')
			sb_append(out, "\\");
		sb_append_len(out, s + i, 1);
	}
	sb_append(out, "\"");
}

static void
put32(strbuf *sb, int32_t v)
{
	char		b[4] = {(char) ((uint32_t) v >> 24), (char) ((uint32_t) v >> 16), (char) ((uint32_t) v >> 8),
	(char) v};

	sb_append_len(sb, b, 4);
}

/* A binary tuple: fields n (int4), id (first key column), other (text),
 * name (second key column, or NULL when there is none). */
static void
tuple(strbuf *sb, const enum kind *kinds, int ncols, const val *key, bool null_key)
{
	char		cnt[2] = {0, 4};

	sb_reset(sb);
	sb_append_len(sb, cnt, 2);
	put32(sb, 4);
	put32(sb, 7);
	for (int c = 0; c < 2; c++)
	{
		if (c == 1)
		{
			put32(sb, 3);
			sb_append(sb, "xyz");
		}
		if (c >= ncols || null_key)
		{
			put32(sb, -1);
			continue;
		}
		if (kinds[c] == K_INT8 || kinds[c] == K_INT2)
		{
			int			w = kinds[c] == K_INT8 ? 8 : 2;

			put32(sb, w);
			for (int i = w - 1; i >= 0; i--)
			{
				char		byte = (char) ((uint64_t) key[c].i >> (8 * i));

				sb_append_len(sb, &byte, 1);
			}
		}
		else
		{
			put32(sb, (int32_t) key[c].blen);
			sb_append_len(sb, (const char *) key[c].b, key[c].blen);
		}
	}
}

static const char *
type_name(enum kind k)
{
	return k == K_INT8 ? "bigint" : k == K_INT2 ? "smallint" : k == K_UUID ? "uuid" : "text";
}

/* A group of n chunks over key columns kinds[ncols] (id, then name) with
 * sorted distinct upper bounds bound[n - 1][ncols]. */
typedef struct fixture {
	copy_table	t;
	scan_group	g;
	copy_job	jobs[NCHUNKS_MAX];
	copy_job   *pj[NCHUNKS_MAX];
	char	   *cols, *types, *colls;
} fixture;

static int	row_kinds_n;
static const enum kind *row_kinds;

static int
cmp_row(const void *a, const void *b)
{
	for (int c = 0; c < row_kinds_n; c++)
	{
		int			r = cmp_val(row_kinds[c], (const val *) a + c, (const val *) b + c);

		if (r)
			return r;
	}
	return 0;
}

static void
fixture_make(fixture *f, const enum kind *kinds, int ncols, val (*bound)[2], int n, const char *coll)
{
	strbuf		sb;

	memset(f, 0, sizeof(*f));
	f->t.binary = true;
	f->t.nselect = 4;
	f->t.field_names = fields;
	sb_init(&sb);
	sb_append(&sb, ncols == 2 ? "{id,name}" : "{id}");
	f->cols = sb_steal(&sb);
	sb_init(&sb);
	sb_printf(&sb, "{%s%s%s}", type_name(kinds[0]), ncols == 2 ? "," : "", ncols == 2 ? type_name(kinds[1]) : "");
	f->types = sb_steal(&sb);
	sb_init(&sb);
	sb_append(&sb, "{");
	for (int c = 0; c < ncols; c++)
	{
		sb_append(&sb, c ? "," : "");
		if (kinds[c] == K_TEXT)
			literal_elem(&sb, coll, strlen(coll));
		else
			sb_append(&sb, "NULL");
	}
	sb_append(&sb, "}");
	f->colls = sb_steal(&sb);
	for (int i = 0; i < n; i++)
	{
		copy_job   *j = &f->jobs[i];

		j->key_cols = f->cols;
		j->key_types = f->types;
		j->key_colls = f->colls;
		if (i < n - 1)
		{
			strbuf		lit;

			sb_init(&lit);
			sb_append(&lit, "{");
			for (int c = 0; c < ncols; c++)
			{
				strbuf		txt;

				sb_init(&txt);
				text_of(kinds[c], &bound[i][c], &txt);
				sb_append(&lit, c ? "," : "");
				literal_elem(&lit, txt.data ? txt.data : "", txt.len);
				sb_free(&txt);
			}
			sb_append(&lit, "}");
			j->hi_key = sb_steal(&lit);
		}
		f->pj[i] = j;
	}
	f->g.jobs = f->pj;
	f->g.n = n;
}

static void
fixture_free(fixture *f)
{
	for (int i = 0; i < f->g.n; i++)
		free(f->jobs[i].hi_key);
	free(f->cols);
	free(f->types);
	free(f->colls);
}

static void
run_kinds(const enum kind *kinds, int ncols, int rounds)
{
	strbuf		tup;

	sb_init(&tup);
	for (int r = 0; r < rounds; r++)
	{
		int			n = 2 + rand() % (NCHUNKS_MAX - 1), nb = 0;
		val			cand[64][2], bound[NCHUNKS_MAX][2];
		fixture		f;
		copy_bucketer *bk;

		/* distinct sorted bounds from random candidates */
		for (int i = 0; i < 64; i++)
			for (int c = 0; c < ncols; c++)
				rand_val(kinds[c], &cand[i][c]);
		row_kinds = kinds;
		row_kinds_n = ncols;
		qsort(cand, 64, sizeof(cand[0]), cmp_row);
		for (int i = 0; i < 64 && nb < n - 1; i++)
			if (i == 0 || cmp_row(cand[i], cand[i - 1]) != 0)
				memcpy(bound[nb++], cand[i], sizeof(cand[i]));
		n = nb + 1;
		fixture_make(&f, kinds, ncols, bound, n, "\"pg_catalog\".\"C\"");
		bk = copy_bucket_new(&f.t, &f.g);
		assert_non_null(bk);
		for (int i = 0; i < 400; i++)
		{
			val			key[2];
			int			want = n - 1, got;

			if (i < nb)			/* every bound itself: the chunk it starts */
				memcpy(key, bound[i], sizeof(key));
			else
				for (int c = 0; c < ncols; c++)
					rand_val(kinds[c], &key[c]);
			for (int b = 0; b < nb; b++)
				if (cmp_row(key, bound[b]) < 0)
				{
					want = b;
					break;
				}
			tuple(&tup, kinds, ncols, key, false);
			got = copy_bucket_of(bk, tup.data, tup.len);
			if (got != want)
				fail_msg("%s%s%s key, %d chunks: row %d got chunk %d, want %d", type_name(kinds[0]),
						 ncols == 2 ? "+" : "", ncols == 2 ? type_name(kinds[1]) : "", n, i, got, want);
		}
		/* a NULL key, a cut tuple, a byte too many */
		tuple(&tup, kinds, ncols, bound[0], true);
		assert_int_equal(copy_bucket_of(bk, tup.data, tup.len), -1);
		tuple(&tup, kinds, ncols, bound[0], false);
		assert_int_equal(copy_bucket_of(bk, tup.data, tup.len - 1), -1);
		sb_append_len(&tup, "x", 1);
		assert_int_equal(copy_bucket_of(bk, tup.data, tup.len), -1);
		copy_bucket_free(bk);
		fixture_free(&f);
	}
	sb_free(&tup);
}

static void
test_random_groups(void **state)
{
	static const enum kind int8[] = {K_INT8}, int2[] = {K_INT2}, uuid[] = {K_UUID}, text[] = {K_TEXT},
				comp[] = {K_INT8, K_TEXT}, comp2[] = {K_UUID, K_INT2};
	unsigned	seed = (unsigned) time(NULL);
	const char *env = getenv("PGR_TEST_SEED");

	(void) state;
	if (env)
		seed = (unsigned) strtoul(env, NULL, 10);
	printf("test_copy_bucket: seed %u (PGR_TEST_SEED=%u replays it)\n", seed, seed);
	srand(seed);
	run_kinds(int8, 1, 200);
	run_kinds(int2, 1, 100);
	run_kinds(uuid, 1, 200);
	run_kinds(text, 1, 200);
	run_kinds(comp, 2, 200);
	run_kinds(comp2, 2, 100);
}

/* Keys only the server can order, and tables not in binary: no bucketer. */
static void
test_server_keys(void **state)
{
	static const enum kind text[] = {K_TEXT}, int8[] = {K_INT8};
	val			bound[NCHUNKS_MAX][2];
	fixture		f;

	(void) state;
	memset(bound, 0, sizeof(bound));
	bound[0][0].blen = 1;
	bound[0][0].b[0] = 'm';
	fixture_make(&f, text, 1, bound, 2, "\"pg_catalog\".\"en-US-x-icu\"");
	assert_null(copy_bucket_new(&f.t, &f.g));
	fixture_free(&f);
	fixture_make(&f, text, 1, bound, 2, "\"pg_catalog\".\"C\"");
	f.t.binary = false;
	assert_null(copy_bucket_new(&f.t, &f.g));	/* text format: the CASE */
	f.t.binary = true;
	f.g.n = 1;
	assert_null(copy_bucket_new(&f.t, &f.g));	/* one chunk: nothing to place */
	f.g.n = 2;
	for (int i = 0; i < 2; i++)
		f.jobs[i].key_colls = NULL;				/* a plan from before collations were kept */
	assert_null(copy_bucket_new(&f.t, &f.g));
	fixture_free(&f);
	/* numeric: only the server */
	fixture_make(&f, int8, 1, bound, 2, "");
	free(f.types);
	f.types = strdup("{numeric}");
	for (int i = 0; i < 2; i++)
		f.jobs[i].key_types = f.types;
	assert_null(copy_bucket_new(&f.t, &f.g));
	/* a bound that is not an integer */
	free(f.types);
	f.types = strdup("{bigint}");
	for (int i = 0; i < 2; i++)
		f.jobs[i].key_types = f.types;
	free(f.jobs[0].hi_key);
	f.jobs[0].hi_key = strdup("{12x}");
	assert_null(copy_bucket_new(&f.t, &f.g));
	/* a key column the tuple does not carry */
	free(f.jobs[0].hi_key);
	f.jobs[0].hi_key = strdup("{12}");
	free(f.cols);
	f.cols = strdup("{missing}");
	for (int i = 0; i < 2; i++)
		f.jobs[i].key_cols = f.cols;
	assert_null(copy_bucket_new(&f.t, &f.g));
	fixture_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_groups),
		cmocka_unit_test(test_server_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
