/*
 * hash_live.c — shard_of_values() against a live PostgreSQL server.
 *
 * The unit test checks the routing function against vectors read off
 * PostgreSQL once; this one asks a running server about thousands of fresh
 * random keys.  For each key type (and two multi-column keys) it creates, in
 * a throwaway schema, a parent table PARTITION BY HASH over those columns and
 * a plain table holding the keys, loads the keys with COPY, and for moduli
 * 2, 3, 4, 7 and 16 asks which remainder satisfies_hash_partition() holds.
 * Our shard must equal it for both text forms of every key: the one we sent
 * (signs, blanks, upper-case and brace uuids...) and the one the server
 * sends back (what COPY and pgoutput carry in production).
 *
 * Keys include NULLs, negatives and extremes, empty strings, non-ASCII UTF-8,
 * COPY's special characters, and long text of every length 12..47 so that
 * every tail length 0..11 of the lookup3 loop is covered.
 *
 * Needs PGR_TEST_DSN (a libpq conninfo); skips without it.  PGR_TEST_SEED
 * replays a run (the seed is printed).  Values never go into SQL text: keys
 * travel as COPY data, everything else as query parameters or quoted
 * identifiers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <libpq-fe.h>

#include "pghash.h"

#define NROWS 4000
#define VAL_CAP 256
#define MAX_COLS 2
#define MAX_MISMATCH_SHOWN 10

static const uint32_t moduli[] = {2, 3, 4, 7, 16};
#define NMODULI (sizeof moduli / sizeof moduli[0])

typedef struct live_state
{
	PGconn *conn;				/* NULL: no PGR_TEST_DSN, tests skip */
	char schema[64];			/* unquoted schema name */
	bool utf8;					/* server encoding is UTF8 */
	uint64_t rng;				/* xorshift64* state */
	long checked_keys;
} live_state;

/* One key value as generated: its text input form, or NULL. */
typedef struct gen_value
{
	int len;					/* -1 for NULL */
	char text[VAL_CAP];
} gen_value;

typedef void (*gen_fn) (live_state *st, int row, gen_value *out);

typedef struct key_table
{
	const char *name;			/* table name suffix */
	int ncols;
	const char *sql_types[MAX_COLS];
	key_type types[MAX_COLS];
	gen_fn gens[MAX_COLS];
} key_table;

/* ---- random values --------------------------------------------------- */

static uint64_t
rnd(live_state *st)
{
	st->rng ^= st->rng >> 12;
	st->rng ^= st->rng << 25;
	st->rng ^= st->rng >> 27;
	return st->rng * UINT64_C(2685821657736338717);
}

static void
set_value(gen_value *out, const char *s)
{
	out->len = (int) strlen(s);
	memcpy(out->text, s, (size_t) out->len + 1);
}

/* Pick special[row] for the first rows, NULL now and then; true if done. */
static bool
special_or_null(live_state *st, int row, const char *const *special,
				int nspecial, gen_value *out)
{
	if (row < nspecial)
	{
		if (special[row] == NULL)
			out->len = -1;
		else
			set_value(out, special[row]);
		return true;
	}
	if (rnd(st) % 25 == 0)
	{
		out->len = -1;
		return true;
	}
	return false;
}

/*
 * A random integer in [min, max], usually small, sometimes anywhere, and
 * sometimes in a form int input accepts but never outputs: blanks around,
 * an explicit '+', leading zeros.
 */
static void
gen_int_in(live_state *st, int64_t min, int64_t max, gen_value *out)
{
	static const char *const blanks[] = {"", "", "", " ", "\t", "\n "};
	uint64_t span = (uint64_t) max - (uint64_t) min;
	uint64_t decor = rnd(st);
	int64_t v;
	uint64_t mag;

	if (rnd(st) % 3 == 0)
		v = (int64_t) (rnd(st) % 2001) - 1000;
	else
		v = (int64_t) ((uint64_t) min + rnd(st) % (span + (span < UINT64_MAX)));
	mag = v < 0 ? 0 - (uint64_t) v : (uint64_t) v;
	snprintf(out->text, VAL_CAP, "%s%s%s%llu%s", blanks[decor % 6],
			 v < 0 ? "-" : (decor >> 8) % 6 == 0 ? "+" : "",
			 (decor >> 16) % 6 == 0 ? "000" : "", (unsigned long long) mag,
			 blanks[(decor >> 24) % 6]);
	out->len = (int) strlen(out->text);
}

static void
gen_int2(live_state *st, int row, gen_value *out)
{
	static const char *const special[] = {
		"-32768", "32767", "0", "-1", "1", NULL, " 42 ", "+7", "-0", "0000"};

	if (!special_or_null(st, row, special, 10, out))
		gen_int_in(st, INT16_MIN, INT16_MAX, out);
}

static void
gen_int4(live_state *st, int row, gen_value *out)
{
	static const char *const special[] = {
		"-2147483648", "2147483647", "0", "-1", "1", NULL, "-32768", "32768",
		"\t123\n", "+2147483647"};

	if (!special_or_null(st, row, special, 10, out))
		gen_int_in(st, INT32_MIN, INT32_MAX, out);
}

static void
gen_int8(live_state *st, int row, gen_value *out)
{
	static const char *const special[] = {
		"-9223372036854775808", "9223372036854775807", "0", "-1", "1", NULL,
		"4294967296", "-4294967297", "2147483648", "-2147483649",
		"  -9223372036854775807  "};

	if (!special_or_null(st, row, special, 11, out))
	{
		if (rnd(st) % 2)
			gen_int_in(st, INT32_MIN, INT32_MAX, out);
		else
			gen_int_in(st, INT64_MIN, INT64_MAX, out);
	}
}

/* Append code point cp as UTF-8; returns the bytes written. */
static int
put_utf8(char *p, uint32_t cp)
{
	if (cp < 0x80)
		return p[0] = (char) cp, 1;
	if (cp < 0x800)
		return p[0] = (char) (0xC0 | cp >> 6), p[1] = (char) (0x80 | (cp & 0x3F)), 2;
	if (cp < 0x10000)
	{
		p[0] = (char) (0xE0 | cp >> 12);
		p[1] = (char) (0x80 | (cp >> 6 & 0x3F));
		p[2] = (char) (0x80 | (cp & 0x3F));
		return 3;
	}
	p[0] = (char) (0xF0 | cp >> 18);
	p[1] = (char) (0x80 | (cp >> 12 & 0x3F));
	p[2] = (char) (0x80 | (cp >> 6 & 0x3F));
	p[3] = (char) (0x80 | (cp & 0x3F));
	return 4;
}

/* A random character: mostly printable ASCII, some COPY specials, some
 * non-ASCII of every UTF-8 length (surrogates excluded). */
static uint32_t
random_char(live_state *st)
{
	static const char specials[] = "\t\n\r\\\x01\x1f\x7f '\"";
	uint64_t pick = rnd(st) % 100;
	uint32_t cp;

	if (pick >= 60 && pick < 70)
		return (unsigned char) specials[rnd(st) % (sizeof specials - 1)];
	if (pick < 60 || !st->utf8)
		return 0x20 + (uint32_t) (rnd(st) % 95);
	if (pick < 80)
		return 0x80 + (uint32_t) (rnd(st) % (0x800 - 0x80));
	if (pick < 90)
	{
		cp = 0x800 + (uint32_t) (rnd(st) % (0x10000 - 0x800));
		return (cp >= 0xD800 && cp <= 0xDFFF) ? 0xE9 : cp;
	}
	return 0x10000 + (uint32_t) (rnd(st) % (0x110000 - 0x10000));
}

/* nchars random characters (each at most 4 bytes; VAL_CAP bounds nchars). */
static void
random_chars(live_state *st, int nchars, gen_value *out)
{
	int len = 0;

	for (int i = 0; i < nchars; i++)
		len += put_utf8(out->text + len, random_char(st));
	out->text[len] = '\0';
	out->len = len;
}

static void
gen_text(live_state *st, int row, gen_value *out)
{
	static const char *const special[] = {
		"", NULL, " ", "a", "\\", "\\N", "NULL", "\t", "tab\there",
		"new\nline\r\n", "quote'\"", "trailing  ",
		"hello world, this is a longer key",
		/* non-ASCII last: left out when the server is not UTF8 */
		"\xc3\xbcn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9",
		"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "\xf0\x9f\x98\x80 emoji"};
	int n = (int) (sizeof special / sizeof special[0]);

	if (special_or_null(st, row, special, st->utf8 ? n : n - 3, out))
		return;
	switch (row % 4)
	{
		case 0:					/* ASCII of every byte length 12..47 */
			out->len = 12 + (row / 4) % 36;
			for (int i = 0; i < out->len; i++)
				out->text[i] = (char) ('!' + rnd(st) % 94);
			out->text[out->len] = '\0';
			break;
		case 1:
			random_chars(st, (int) (rnd(st) % 21), out);
			break;
		case 2:
			random_chars(st, 13 + (int) (rnd(st) % 28), out);
			break;
		default:
			snprintf(out->text, VAL_CAP, "tenant_%llu",
					 (unsigned long long) (rnd(st) % 100000));
			out->len = (int) strlen(out->text);
	}
}

/* character(10): at most 10 characters, sometimes blank-padded. */
static void
gen_bpchar10(live_state *st, int row, gen_value *out)
{
	static const char *const special[] = {
		"", NULL, " ", "abc", "abc       ", "abc            ", "  lead",
		"0123456789", "tab\t", "\xc3\xbcn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 "};
	int nchars, npad;

	if (special_or_null(st, row, special, st->utf8 ? 10 : 9, out))
		return;
	nchars = (int) (rnd(st) % 11);
	npad = rnd(st) % 2 ? 0 : (int) (rnd(st) % (11 - (uint64_t) nchars));
	random_chars(st, nchars, out);
	memset(out->text + out->len, ' ', (size_t) npad);
	out->len += npad;
	out->text[out->len] = '\0';
}

/* Format 16 bytes as a uuid in one of PostgreSQL's accepted input forms. */
static void
format_uuid(const unsigned char b[16], int form, gen_value *out)
{
	const char *digits = form == 1 ? "0123456789ABCDEF" : "0123456789abcdef";
	int len = 0;

	if (form == 3)
		out->text[len++] = '{';
	for (int i = 0; i < 16; i++)
	{
		out->text[len++] = digits[b[i] >> 4];
		out->text[len++] = digits[b[i] & 15];
		if ((form == 4 && i % 2 == 1 && i < 15) ||
			(form != 2 && form != 4 && (i == 3 || i == 5 || i == 7 || i == 9)))
			out->text[len++] = '-';
	}
	if (form == 3)
		out->text[len++] = '}';
	out->text[len] = '\0';
	out->len = len;
}

static void
gen_uuid(live_state *st, int row, gen_value *out)
{
	static const char *const special[] = {
		"00000000-0000-0000-0000-000000000000", NULL,
		"FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
		"{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
		"550e8400e29b41d4a716446655440000"};
	unsigned char b[16];

	if (special_or_null(st, row, special, 5, out))
		return;
	for (int i = 0; i < 16; i++)
		b[i] = (unsigned char) rnd(st);
	format_uuid(b, (int) (rnd(st) % 5), out);
}

/* ---- talking to the server ------------------------------------------- */

static bool
run_sql(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType status = PQresultStatus(res);
	bool ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;

	if (!ok)
		print_error("hash_live: %s  in: %s\n", PQerrorMessage(conn), sql);
	PQclear(res);
	return ok;
}

/* Quoted "schema"."rel" (rel = prefix_suffix) into buf. */
static bool
qualified_name(live_state *st, const char *prefix, const char *suffix,
			   char *buf, size_t cap)
{
	char rel[64];
	char *qschema, *qrel;
	bool ok;

	snprintf(rel, sizeof rel, "%s_%s", prefix, suffix);
	qschema = PQescapeIdentifier(st->conn, st->schema, strlen(st->schema));
	qrel = PQescapeIdentifier(st->conn, rel, strlen(rel));
	ok = qschema != NULL && qrel != NULL &&
		(size_t) snprintf(buf, cap, "%s.%s", qschema, qrel) < cap;
	PQfreemem(qschema);
	PQfreemem(qrel);
	return ok;
}

/* The parent PARTITION BY HASH over the key columns, and the data table. */
static bool
create_tables(live_state *st, const key_table *kt, const char *parent,
			  const char *data)
{
	char cols[256] = "", keys[64] = "", sql[2048];
	size_t cl = 0, kl = 0;

	for (int c = 0; c < kt->ncols; c++)
	{
		cl += (size_t) snprintf(cols + cl, sizeof cols - cl, "%sk%d %s",
								c ? ", " : "", c + 1, kt->sql_types[c]);
		kl += (size_t) snprintf(keys + kl, sizeof keys - kl, "%sk%d",
								c ? ", " : "", c + 1);
	}
	if ((size_t) snprintf(sql, sizeof sql,
						  "CREATE TABLE %s (%s) PARTITION BY HASH (%s);"
						  "CREATE TABLE %s (id integer PRIMARY KEY, %s)",
						  parent, cols, keys, data, cols) >= sizeof sql)
		return false;
	return run_sql(st->conn, sql);
}

/* A value in COPY text format: \N for NULL, backslash escapes. */
static size_t
copy_escape(char *dst, const gen_value *v)
{
	size_t n = 0;

	if (v->len < 0)
		return memcpy(dst, "\\N", 2), 2;
	for (int i = 0; i < v->len; i++)
	{
		char ch = v->text[i];
		char esc = ch == '\\' ? '\\' : ch == '\t' ? 't' : ch == '\n' ? 'n'
			: ch == '\r' ? 'r' : 0;

		if (esc)
			dst[n++] = '\\', dst[n++] = esc;
		else
			dst[n++] = ch;
	}
	return n;
}

static bool
copy_end(PGconn *conn)
{
	PGresult *res;
	bool ok = PQputCopyEnd(conn, NULL) == 1;

	while ((res = PQgetResult(conn)) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			ok = false;
		PQclear(res);
	}
	if (!ok)
		print_error("hash_live: COPY failed: %s", PQerrorMessage(conn));
	return ok;
}

static bool
copy_rows(live_state *st, const key_table *kt, const char *data,
		  gen_value (*rows)[MAX_COLS])
{
	char sql[512], line[32 + MAX_COLS * (2 * VAL_CAP + 1)];
	PGresult *res;
	bool ok = true;

	snprintf(sql, sizeof sql, "COPY %s (id, k1%s) FROM STDIN", data,
			 kt->ncols > 1 ? ", k2" : "");
	res = PQexec(st->conn, sql);
	if (PQresultStatus(res) != PGRES_COPY_IN)
	{
		print_error("hash_live: %s", PQerrorMessage(st->conn));
		PQclear(res);
		return false;
	}
	PQclear(res);
	for (int r = 0; r < NROWS && ok; r++)
	{
		size_t len = (size_t) snprintf(line, sizeof line, "%d", r);

		for (int c = 0; c < kt->ncols; c++)
		{
			line[len++] = '\t';
			len += copy_escape(line + len, &rows[r][c]);
		}
		line[len++] = '\n';
		ok = PQputCopyData(st->conn, line, (int) len) == 1;
	}
	return copy_end(st->conn) && ok;
}

/*
 * One row per key: id, the key columns as the server outputs them, and for
 * each modulus the remainder satisfies_hash_partition() accepts.
 */
static PGresult *
query_remainders(live_state *st, const key_table *kt, const char *parent,
				 const char *data)
{
	const char *keys = kt->ncols > 1 ? "d.k1, d.k2" : "d.k1";
	const char *params[1 + NMODULI];
	char sql[4096], modtext[NMODULI][16];
	size_t len;
	PGresult *res;

	len = (size_t) snprintf(sql, sizeof sql, "SELECT d.id, %s", keys);
	for (size_t m = 0; m < NMODULI; m++)
	{
		len += (size_t) snprintf(sql + len, sizeof sql - len,
								 ", (SELECT r FROM generate_series(0, $%zu::integer - 1) AS r"
								 " WHERE satisfies_hash_partition($1::regclass, $%zu::integer, r, %s))",
								 m + 2, m + 2, keys);
		snprintf(modtext[m], sizeof modtext[m], "%u", moduli[m]);
		params[m + 1] = modtext[m];
	}
	snprintf(sql + len, sizeof sql - len, " FROM %s AS d ORDER BY d.id", data);
	params[0] = parent;
	res = PQexecParams(st->conn, sql, 1 + NMODULI, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != NROWS)
	{
		print_error("hash_live: %s", PQerrorMessage(st->conn));
		PQclear(res);
		return NULL;
	}
	return res;
}

/* ---- comparing ------------------------------------------------------- */

/* A value for a message: C escapes for control bytes, at most 80 bytes. */
static const char *
show(const key_value *v, char *buf, size_t cap)
{
	size_t n = 0;

	if (v->isnull)
		return "NULL";
	buf[n++] = '\'';
	for (size_t i = 0; i < v->len && i < 80 && n + 6 < cap; i++)
	{
		unsigned char ch = (unsigned char) v->text[i];

		if (ch < 0x20 || ch == 0x7f)
			n += (size_t) snprintf(buf + n, cap - n, "\\x%02x", ch);
		else
			buf[n++] = (char) ch;
	}
	buf[n++] = '\'';
	buf[n] = '\0';
	return buf;
}

/* Our shard, or -1 (with a message) when a value does not parse. */
static long
our_shard(const key_table *kt, const key_value *vals, uint32_t modulus)
{
	uint32_t shard;
	char err[256];

	if (!shard_of_values(kt->types, vals, kt->ncols, modulus, &shard, err, sizeof err))
	{
		print_error("hash_live: %s\n", err);
		return -1;
	}
	return shard;
}

static void
report_mismatch(const key_table *kt, int row, uint32_t modulus, long server,
				long ours_sent, long ours_output, const key_value *output)
{
	char a[512], b[512];

	print_error("hash_live: %s row %d (%s%s%s) modulus %u: server %ld, "
				"ours from the value sent %ld, from the server's output %ld\n",
				kt->name, row, show(&output[0], a, sizeof a),
				kt->ncols > 1 ? ", " : "",
				kt->ncols > 1 ? show(&output[1], b, sizeof b) : "",
				modulus, server, ours_sent, ours_output);
}

/* Compare one row for every modulus; returns the number of mismatches. */
static int
compare_row(const key_table *kt, const gen_value *sent, PGresult *res,
			int row, int shown)
{
	key_value in[MAX_COLS], out[MAX_COLS];
	int mismatches = 0;

	for (int c = 0; c < kt->ncols; c++)
	{
		in[c] = (key_value) {sent[c].text, (size_t) (sent[c].len < 0 ? 0 : sent[c].len),
			sent[c].len < 0};
		out[c] = (key_value) {PQgetvalue(res, row, 1 + c),
			(size_t) PQgetlength(res, row, 1 + c), PQgetisnull(res, row, 1 + c) != 0};
	}
	for (size_t m = 0; m < NMODULI; m++)
	{
		int col = 1 + kt->ncols + (int) m;
		long server = PQgetisnull(res, row, col) ? -1 : atol(PQgetvalue(res, row, col));
		long ours_in = our_shard(kt, in, moduli[m]);
		long ours_out = our_shard(kt, out, moduli[m]);

		if (server == ours_in && server == ours_out && server >= 0)
			continue;
		if (shown + mismatches < MAX_MISMATCH_SHOWN)
			report_mismatch(kt, row, moduli[m], server, ours_in, ours_out, out);
		mismatches++;
	}
	return mismatches;
}

/* ---- the tests ------------------------------------------------------- */

static const key_table key_tables[] = {
	{"int2", 1, {"smallint"}, {KEY_INT2}, {gen_int2}},
	{"int4", 1, {"integer"}, {KEY_INT4}, {gen_int4}},
	{"int8", 1, {"bigint"}, {KEY_INT8}, {gen_int8}},
	{"text", 1, {"text"}, {KEY_TEXT}, {gen_text}},
	{"varchar", 1, {"character varying(100)"}, {KEY_TEXT}, {gen_text}},
	{"uuid", 1, {"uuid"}, {KEY_UUID}, {gen_uuid}},
	{"bpchar", 1, {"character(10)"}, {KEY_BPCHAR}, {gen_bpchar10}},
	{"int8_text", 2, {"bigint", "text"}, {KEY_INT8, KEY_TEXT}, {gen_int8, gen_text}},
	{"uuid_int4", 2, {"uuid", "integer"}, {KEY_UUID, KEY_INT4}, {gen_uuid, gen_int4}},
};

/* Load NROWS generated keys into kt's tables and return the server's answers. */
static PGresult *
load_and_query(live_state *st, const key_table *kt, gen_value (*rows)[MAX_COLS])
{
	char parent[200], data[200];

	for (int c = 0; c < kt->ncols; c++)
	{
		assert_int_equal(key_type_from_name(kt->sql_types[c]), kt->types[c]);
		for (int r = 0; r < NROWS; r++)
			kt->gens[c](st, r, &rows[r][c]);
	}
	if (!qualified_name(st, "p", kt->name, parent, sizeof parent) ||
		!qualified_name(st, "d", kt->name, data, sizeof data) ||
		!create_tables(st, kt, parent, data) || !copy_rows(st, kt, data, rows))
		return NULL;
	return query_remainders(st, kt, parent, data);
}

static void
check_key_table(void **state, const key_table *kt)
{
	live_state *st = *state;
	gen_value (*rows)[MAX_COLS];
	PGresult *res;
	int mismatches = 0;

	if (st->conn == NULL)
		skip();
	rows = calloc(NROWS, sizeof *rows);
	assert_non_null(rows);
	res = load_and_query(st, kt, rows);
	if (res == NULL)
	{
		free(rows);
		fail_msg("could not load or query %s keys", kt->name);
	}
	for (int r = 0; r < NROWS; r++)
	{
		assert_int_equal(atoi(PQgetvalue(res, r, 0)), r);
		mismatches += compare_row(kt, rows[r], res, r, mismatches);
	}
	PQclear(res);
	free(rows);
	st->checked_keys += NROWS;
	print_message("hash_live: %-9s %d keys x %zu moduli x 2 text forms: %d mismatches\n",
				  kt->name, NROWS, NMODULI, mismatches);
	assert_int_equal(mismatches, 0);
}

#define LIVE_TEST(fn, i) \
	static void fn(void **state) { check_key_table(state, &key_tables[i]); }
LIVE_TEST(test_live_int2, 0)
LIVE_TEST(test_live_int4, 1)
LIVE_TEST(test_live_int8, 2)
LIVE_TEST(test_live_text, 3)
LIVE_TEST(test_live_varchar, 4)
LIVE_TEST(test_live_uuid, 5)
LIVE_TEST(test_live_bpchar, 6)
LIVE_TEST(test_live_int8_text, 7)
LIVE_TEST(test_live_uuid_int4, 8)

/* ---- setup ----------------------------------------------------------- */

static bool
connect_and_create_schema(live_state *st, const char *dsn)
{
	char sql[256];
	char *qschema;
	bool ok;

	st->conn = PQconnectdb(dsn);
	if (PQstatus(st->conn) != CONNECTION_OK || PQsetClientEncoding(st->conn, "UTF8") != 0)
	{
		print_error("hash_live: cannot connect: %s", PQerrorMessage(st->conn));
		return false;
	}
	st->utf8 = strcmp(PQparameterStatus(st->conn, "server_encoding"), "UTF8") == 0;
	if (!st->utf8)
		print_message("hash_live: server encoding is not UTF8; ASCII keys only\n");
	snprintf(st->schema, sizeof st->schema, "pgr_hash_live_%ld", (long) getpid());
	qschema = PQescapeIdentifier(st->conn, st->schema, strlen(st->schema));
	if (qschema == NULL)
		return false;
	snprintf(sql, sizeof sql, "SET client_min_messages = warning;"
			 "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", qschema, qschema);
	PQfreemem(qschema);
	ok = run_sql(st->conn, sql);
	print_message("hash_live: server %d, schema %s\n", PQserverVersion(st->conn), st->schema);
	return ok;
}

static int
group_setup(void **state)
{
	static live_state st;
	const char *dsn = getenv("PGR_TEST_DSN");
	const char *seed = getenv("PGR_TEST_SEED");

	st.rng = seed ? strtoull(seed, NULL, 10) : (uint64_t) time(NULL) ^ (uint64_t) getpid() << 32;
	if (st.rng == 0)
		st.rng = 1;
	*state = &st;
	if (dsn == NULL || dsn[0] == '\0')
	{
		print_message("hash_live: PGR_TEST_DSN is not set; skipping the live hash checks\n");
		return 0;
	}
	print_message("hash_live: seed %llu (PGR_TEST_SEED replays it)\n",
				  (unsigned long long) st.rng);
	return connect_and_create_schema(&st, dsn) ? 0 : -1;
}

static int
group_teardown(void **state)
{
	live_state *st = *state;
	char sql[128];
	char *qschema;

	if (st->conn == NULL)
		return 0;
	qschema = PQescapeIdentifier(st->conn, st->schema, strlen(st->schema));
	if (qschema != NULL)
	{
		snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", qschema);
		run_sql(st->conn, sql);
		PQfreemem(qschema);
	}
	print_message("hash_live: checked %ld keys against satisfies_hash_partition()\n",
				  st->checked_keys);
	PQfinish(st->conn);
	st->conn = NULL;
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_int2),
		cmocka_unit_test(test_live_int4),
		cmocka_unit_test(test_live_int8),
		cmocka_unit_test(test_live_text),
		cmocka_unit_test(test_live_varchar),
		cmocka_unit_test(test_live_uuid),
		cmocka_unit_test(test_live_bpchar),
		cmocka_unit_test(test_live_int8_text),
		cmocka_unit_test(test_live_uuid_int4),
	};

	return cmocka_run_group_tests_name("hash_live", tests, group_setup, group_teardown);
}
