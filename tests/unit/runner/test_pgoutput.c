/*
 * test_pgoutput.c — the pgoutput decoder and the replication framing.
 *
 * Messages are built byte by byte, so each test says exactly what the server
 * sends, and checked through describe(), which renders every decoded field
 * in one line.  Every valid message is also decoded at every shorter length
 * (each prefix in a heap block of exactly that size, so AddressSanitizer sees
 * a read past it) and under seeded random mutations: decoding must fail
 * cleanly or return values inside the buffer.  The last test decodes real
 * output of PostgreSQL 15 (tests/data/pgoutput-*.bin, from
 * tests/integration/pgoutput_capture.c).
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

#include "pgoutput.h"
#include "strbuf.h"

/* ---- message builder ------------------------------------------------ */

typedef struct msgbuf {
	char		b[1024];
	size_t		len;
} msgbuf;

static void
put(msgbuf *m, const void *p, size_t n)
{
	assert_true(m->len + n <= sizeof(m->b));
	memcpy(m->b + m->len, p, n);
	m->len += n;
}

/* Big-endian integers: n bytes into m; 4 from p. */
static uint32_t be32(const char *p) { return (uint32_t) (unsigned char) p[0] << 24 | (uint32_t) (unsigned char) p[1] << 16 | (uint32_t) (unsigned char) p[2] << 8 | (unsigned char) p[3]; }
static void be(msgbuf *m, uint64_t v, int n) { while (n-- > 0) put(m, &(char) {(char) (v >> (8 * n))}, 1); }

#define u8(m, v) be(m, (uint64_t) (v), 1)
#define u16(m, v) be(m, (uint64_t) (v), 2)
#define u32(m, v) be(m, (uint64_t) (v), 4)
#define u64(m, v) be(m, (uint64_t) (v), 8)
static void str(msgbuf *m, const char *s) { put(m, s, strlen(s) + 1); }
static void text(msgbuf *m, const char *s) { u8(m, 't'), u32(m, strlen(s)), put(m, s, strlen(s)); }

/* Start a message of type; with_xid: add the xid sent inside a streamed block. */
static void start(msgbuf *m, char type, bool with_xid, uint32_t xid) { m->len = 0, u8(m, type); if (with_xid) u32(m, xid); }

#define LSN1	UINT64_C(0x16B374D848)
#define LSN2	UINT64_C(0x16B374D900)
#define TS1		INT64_C(749999999123456)
#define XID		900u
#define SUBXID	901u

/*
 * One builder per message; x (with_xid): the form sent inside a streamed
 * block, where change messages start with the (sub)transaction's xid.
 */
static void b_begin(msgbuf *m, bool x) { (void) x; start(m, 'B', false, 0); u64(m, LSN1); u64(m, TS1); u32(m, 777); }
static void b_commit(msgbuf *m, bool x) { (void) x; start(m, 'C', false, 0); u8(m, 0); u64(m, LSN1); u64(m, LSN2); u64(m, TS1); }
static void b_origin(msgbuf *m, bool x) { (void) x; start(m, 'O', false, 0); u64(m, LSN1); str(m, "node_a"); }
static void b_type(msgbuf *m, bool x) { start(m, 'Y', x, SUBXID); u32(m, 16500); str(m, ""); str(m, "mood"); }
static void b_stream_start(msgbuf *m, bool x) { (void) x; start(m, 'S', false, 0); u32(m, XID); u8(m, 1); }
static void b_stream_stop(msgbuf *m, bool x) { (void) x; start(m, 'E', false, 0); }
static void b_stream_abort(msgbuf *m, bool x) { (void) x; start(m, 'A', false, 0); u32(m, XID); u32(m, SUBXID); }
static void b_stream_commit(msgbuf *m, bool x) { (void) x; start(m, 'c', false, 0); u32(m, XID), u8(m, 0), u64(m, LSN1), u64(m, LSN2), u64(m, TS1); }

static void
b_relation(msgbuf *m, bool x)
{
	start(m, 'R', x, SUBXID);
	u32(m, 16384), str(m, "public"), str(m, "orders"), u8(m, 'd'), u16(m, 3);
	u8(m, 1), str(m, "id"), u32(m, 23), u32(m, 0xffffffff);
	u8(m, 0), str(m, "note"), u32(m, 25), u32(m, 0xffffffff);
	u8(m, 0), str(m, "amount"), u32(m, 1700), u32(m, 655366);
}

static void
b_insert(msgbuf *m, bool x)
{
	start(m, 'I', x, SUBXID);
	u32(m, 16384), u8(m, 'N'), u16(m, 4), text(m, "42"), u8(m, 'n'), u8(m, 'u');
	u8(m, 'b'), u32(m, 3), put(m, "\0\1\2", 3);
}

/* The old tuple of an Update or Delete: 'K' key only, 'O' the whole row. */
static void
old_tuple(msgbuf *m, char old, const char *id)
{
	u8(m, old), u16(m, 3), text(m, id);
	if (old == 'K')
		u8(m, 'n'), u8(m, 'n');
	else
		text(m, "old"), text(m, "1.50");
}

static void
b_update_kind(msgbuf *m, bool x, char old)
{
	start(m, 'U', x, SUBXID), u32(m, 16384);
	if (old)
		old_tuple(m, old, "1");
	u8(m, 'N'), u16(m, 3), text(m, "2"), u8(m, 'u'), text(m, "3.50");
}

static void b_update(msgbuf *m, bool x) { b_update_kind(m, x, 0); }
static void b_update_k(msgbuf *m, bool x) { b_update_kind(m, x, 'K'); }
static void b_update_o(msgbuf *m, bool x) { b_update_kind(m, x, 'O'); }
static void b_delete_k(msgbuf *m, bool x) { start(m, 'D', x, SUBXID); u32(m, 16384); old_tuple(m, 'K', "7"); }
static void b_delete_o(msgbuf *m, bool x) { start(m, 'D', x, SUBXID); u32(m, 16384); old_tuple(m, 'O', "7"); }
static void b_truncate(msgbuf *m, bool x) { start(m, 'T', x, SUBXID); u32(m, 3), u8(m, 3), u32(m, 16384), u32(m, 16390), u32(m, 4000000000u); }
static void b_message(msgbuf *m, bool x) { start(m, 'M', x, SUBXID); u8(m, 1), u64(m, LSN1), str(m, "pfx"), u32(m, 5), put(m, "a\0b\0c", 5); }
static void b_message_nontx(msgbuf *m, bool x) { b_message(m, x); m->b[x ? 5 : 1] = 0; }

/* ---- decode helpers --------------------------------------------------- */

/* Decoding len bytes (copied to a block of exactly that size) must fail with want. */
static void
decode_err(pgo_decoder *d, const char *bytes, size_t len, const char *want)
{
	char	   *copy = malloc(len ? len : 1);
	char		err[256] = "";
	pgo_msg		msg;

	memcpy(copy, bytes, len);
	if (pgo_decode(d, copy, len, &msg, err, sizeof(err)))
		fail_msg("decoding %zu bytes should fail with \"%s\"", len, want);
	free(copy);
	if (strstr(err, want) == NULL)
		fail_msg("expected \"%s\" in \"%s\"", want, err);
}

/* Each test gets a fresh decoder, a message buffer and a decoded message. */
typedef struct fixture {
	pgo_decoder d;
	pgo_msg		msg;
	msgbuf		m;
} fixture;

static int fx_setup(void **state) { *state = calloc(1, sizeof(fixture)); return 0; }
static int fx_teardown(void **state) { pgo_decoder_free(&((fixture *) *state)->d); free(*state); return 0; }

/* Build a message and decode it: it must be valid. */
static const pgo_msg *
dec(fixture *f, void (*build) (msgbuf *m, bool with_xid), bool with_xid)
{
	char		err[256] = "";

	build(&f->m, with_xid);
	if (!pgo_decode(&f->d, f->m.b, f->m.len, &f->msg, err, sizeof(err)))
		fail_msg("decode failed: %s", err);
	return &f->msg;
}

/* The built message must fail with `want`. */
static void
dec_err(fixture *f, void (*build) (msgbuf *m, bool with_xid), const char *want)
{
	build(&f->m, false);
	decode_err(&f->d, f->m.b, f->m.len, want);
}

/* ---- describing a decoded message in one line -------------------------- */

/*
 * describe() renders every field of a message: verbose for hand-built ones
 * (oids, LSNs, xids, times); short for captures, whose oids and xids change
 * from run to run: relations by name, streamed changes marked ~ (top-level
 * xid) or ^ (a subtransaction's), rows of t_stream without their values.
 */
typedef struct describer {
	bool		verbose;
	uint32_t	stream_xid;		/* top-level xid of the current streamed block */
	uint32_t	relids[8];
	char		relnames[8][32];
} describer;

static void
describe_bytes(strbuf *sb, const char *p, uint32_t len)
{
	for (uint32_t i = 0; i < len && i < 8; i++)
		sb_append_char(sb, p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '.');
}

static void
describe_tuples(strbuf *sb, const pgo_msg *m)
{
	const pgo_tuple *tuples[2] = {&m->old_tuple, &m->new_tuple};

	if (m->old_kind)
		sb_printf(sb, " %c", m->old_kind);
	for (int t = 0; t < 2; t++)
		for (int i = 0; i < tuples[t]->ncols; i++)
		{
			const pgo_value *v = &tuples[t]->cols[i];

			sb_append(sb, i ? "," : t && m->old_kind ? " > " : " ");
			if (v->kind == PGO_TEXT)
				describe_bytes(sb, v->data, v->len);
			else if (v->kind == PGO_BINARY)
				for (uint32_t k = 0; k < v->len; k++)
					sb_printf(sb, k ? "%02x" : "b:%02x", (unsigned char) v->data[k]);
			else
				sb_append(sb, v->kind == PGO_NULL ? "NULL" : "TOAST");
		}
}

/* The relation: its oid when verbose, else its name from earlier Relation messages. */
static const char *
rel_name(describer *ds, const pgo_msg *m, char *buf, size_t buflen)
{
	int			r = 0;

	snprintf(buf, buflen, "%u", m->relid);
	if (ds->verbose)
		return buf;
	while (r < 7 && ds->relids[r] && ds->relids[r] != m->relid)
		r++;
	if (m->kind == PGO_RELATION)
		ds->relids[r] = m->relid, snprintf(ds->relnames[r], sizeof(ds->relnames[r]), "%s", m->relname);
	return ds->relnames[r];
}

static void
describe_relation(describer *ds, strbuf *sb, const pgo_msg *m, const char *rel)
{
	sb_printf(sb, "%s", rel);
	if (ds->verbose)
		sb_printf(sb, " %s.%s", m->nspname, m->relname);
	sb_printf(sb, " %c", m->replident);
	for (int i = 0; i < m->ncols; i++)
	{
		sb_printf(sb, " %s%s", m->columns[i].name, m->columns[i].flags & PGO_COLUMN_KEY ? "*" : "");
		if (ds->verbose)
			sb_printf(sb, ":%u:%d", m->columns[i].type_oid, m->columns[i].typmod);
	}
}

/* Fields that only the verbose form shows: xids, flags, LSNs, times, oids. */
static void
describe_ids(strbuf *sb, const pgo_msg *m)
{
	unsigned long long lsn = m->lsn, end = m->end_lsn;
	long long	ts = m->ts;

	switch (m->kind)
	{
		case PGO_BEGIN: sb_printf(sb, "%u %llX %lld", m->xid, lsn, ts); break;
		case PGO_COMMIT: sb_printf(sb, "%u %llX %llX %lld", m->flags, lsn, end, ts); break;
		case PGO_STREAM_COMMIT: sb_printf(sb, "%u %u %llX %llX %lld", m->xid, m->flags, lsn, end, ts); break;
		case PGO_STREAM_START: sb_printf(sb, "%u ", m->xid); break;
		case PGO_STREAM_ABORT: sb_printf(sb, "%u %u", m->xid, m->subxid); break;
		case PGO_ORIGIN: sb_printf(sb, "%llX ", lsn); break;
		case PGO_MESSAGE: sb_printf(sb, "%u %llX ", m->flags, lsn); break;
		case PGO_TYPE: sb_printf(sb, "%u %s.", m->type_oid, m->nspname); break;
		default: break;
	}
}

static void
describe(describer *ds, strbuf *sb, const pgo_msg *m)
{
	char		buf[16];
	const char *rel = rel_name(ds, m, buf, sizeof(buf));
	size_t		open;

	if (m->kind >= PGO_RELATION && m->kind <= PGO_MESSAGE && m->has_xid)	/* streamed change */
		ds->verbose ? sb_printf(sb, "[%u] ", m->xid) : sb_append_char(sb, m->xid == ds->stream_xid ? '~' : '^');
	sb_printf(sb, "%s(", pgo_kind_name(m->kind));
	open = sb->len;
	if (ds->verbose)
		describe_ids(sb, m);
	if (m->kind == PGO_RELATION)
		describe_relation(ds, sb, m, rel);
	else if (m->kind == PGO_TYPE)
		sb_append(sb, m->type_name);
	else if (m->kind == PGO_ORIGIN)
		sb_append(sb, m->origin_name);
	else if (m->kind == PGO_TRUNCATE)
		for (int i = -1; i < m->nrelids && (ds->verbose || i < 0); i++)
			i < 0 ? sb_printf(sb, "%d %u:", m->nrelids, m->truncate_options) : sb_printf(sb, " %u", m->relids[i]);
	else if (m->kind == PGO_MESSAGE)
		sb_printf(sb, "%s %s ", m->transactional ? "tx" : "non-tx", m->prefix),
			describe_bytes(sb, m->content, m->content_len);
	else if (m->kind == PGO_STREAM_START && m->first_segment)
		sb_append(sb, "first");
	else if (m->kind == PGO_STREAM_ABORT && !ds->verbose)
		sb_append(sb, m->subxid == m->xid ? "all" : "subxact");
	else if (m->kind >= PGO_INSERT && m->kind <= PGO_DELETE)
	{
		sb_append(sb, rel);
		if (ds->verbose || strcmp(rel, "t_stream") != 0)
			describe_tuples(sb, m);
	}
	if (sb->len == open)
		sb->data[--sb->len] = '\0';	/* nothing inside: no parentheses */
	else
		sb_append_char(sb, ')');
}

/* ---- each message type ------------------------------------------------ */

/* Every hand-built message, outside and inside a streamed block, as describe() shows it. */
static const struct golden {
	void		(*build) (msgbuf *m, bool with_xid);
	bool		in_stream;
	const char *want;
} golden[] = {
	{b_begin, false, "Begin(777 16B374D848 749999999123456)"},
	{b_commit, false, "Commit(0 16B374D848 16B374D900 749999999123456)"},
	{b_origin, false, "Origin(16B374D848 node_a)"},
	{b_origin, true, "Origin(16B374D848 node_a)"},
	{b_relation, false, "Relation(16384 public.orders d id*:23:-1 note:25:-1 amount:1700:655366)"},
	{b_relation, true, "[901] Relation(16384 public.orders d id*:23:-1 note:25:-1 amount:1700:655366)"},
	{b_type, false, "Type(16500 pg_catalog.mood)"},	/* namespace sent as "" */
	{b_type, true, "[901] Type(16500 pg_catalog.mood)"},
	{b_insert, false, "Insert(16384 42,NULL,TOAST,b:000102)"},
	{b_insert, true, "[901] Insert(16384 42,NULL,TOAST,b:000102)"},
	{b_update, false, "Update(16384 2,TOAST,3.50)"},
	{b_update_k, false, "Update(16384 K 1,NULL,NULL > 2,TOAST,3.50)"},
	{b_update_o, true, "[901] Update(16384 O 1,old,1.50 > 2,TOAST,3.50)"},
	{b_delete_k, false, "Delete(16384 K 7,NULL,NULL)"},
	{b_delete_o, true, "[901] Delete(16384 O 7,old,1.50)"},
	{b_truncate, false, "Truncate(3 3: 16384 16390 4000000000)"},
	{b_truncate, true, "[901] Truncate(3 3: 16384 16390 4000000000)"},
	{b_message, false, "Message(1 16B374D848 tx pfx a.b.c)"},
	{b_message, true, "[901] Message(1 16B374D848 tx pfx a.b.c)"},
	{b_message_nontx, false, "Message(0 16B374D848 non-tx pfx a.b.c)"},
	{b_stream_start, false, "Stream Start(900 first)"},
	{b_stream_stop, true, "Stream Stop"},
	{b_stream_commit, false, "Stream Commit(900 0 16B374D848 16B374D900 749999999123456)"},
	{b_stream_abort, false, "Stream Abort(900 901)"},
};
#define NGOLDEN (sizeof(golden) / sizeof(golden[0]))

/* Each decodes to what it should, and every shorter prefix of it fails. */
static void
test_every_message_type(void **state)
{
	fixture    *f = *state;
	describer	ds = {.verbose = true};
	const pgo_value *first;
	strbuf		sb;

	sb_init(&sb);
	for (size_t i = 0; i < NGOLDEN; i++)
	{
		f->d.in_stream = golden[i].in_stream;
		sb_reset(&sb);
		describe(&ds, &sb, dec(f, golden[i].build, golden[i].in_stream));
		assert_string_equal(sb.data, golden[i].want);
		for (size_t len = 0; len < f->m.len; len++)
			decode_err(&f->d, f->m.b, len, len ? pgo_kind_name(f->msg.kind) : "empty");
	}
	sb_free(&sb);
	/* values point into the buffer; in steady state the arrays are reused */
	first = dec(f, b_insert, false)->new_tuple.cols;
	assert_ptr_equal(first[0].data, f->m.b + 1 + 4 + 1 + 2 + 1 + 4);
	assert_ptr_equal(dec(f, b_insert, false)->new_tuple.cols, first);
	dec(f, b_message, false);
	assert_ptr_equal(f->msg.content, f->m.b + f->m.len - 5);
}

/* Inside a streamed block every change message carries its (sub)xact's xid. */
static void
test_streaming(void **state)
{
	fixture    *f = *state;
	const pgo_msg *m = dec(f, b_stream_start, false);

	assert_int_equal(m->kind, PGO_STREAM_START);
	assert_true(m->has_xid && m->xid == XID && m->first_segment && f->d.in_stream);
	assert_true(dec(f, b_insert, true)->xid == SUBXID);
	assert_false(dec(f, b_origin, false)->has_xid);	/* Origin: no xid, even here */

	/* out of step: these are refused, and the state does not change */
	dec_err(f, b_stream_start, "Stream Start: inside a streamed block (missing Stream Stop)");
	dec_err(f, b_begin, "Begin: inside a streamed block");
	dec_err(f, b_commit, "Commit: inside a streamed block");
	dec_err(f, b_stream_commit, "Stream Commit: inside a streamed block");
	dec_err(f, b_stream_abort, "Stream Abort: inside a streamed block");
	dec_err(f, b_insert, "Insert:");	/* without the xid it is misread: caught */
	assert_true(f->d.in_stream);

	assert_int_equal(dec(f, b_stream_stop, false)->kind, PGO_STREAM_STOP);
	assert_false(f->d.in_stream);
	dec_err(f, b_stream_stop, "Stream Stop: not inside a streamed block (missing Stream Start)");
	assert_true(dec(f, b_stream_abort, false)->subxid == SUBXID);
	assert_true(dec(f, b_stream_commit, false)->end_lsn == LSN2);
	assert_false(dec(f, b_insert, false)->has_xid);

	/* a truncated Stream Start leaves the decoder outside */
	b_stream_start(&f->m, false);
	decode_err(&f->d, f->m.b, f->m.len - 1, "Stream Start: first segment: missing");
	assert_false(f->d.in_stream);
}

/* ---- malformed input -------------------------------------------------- */

/* Decoding m must fail with want. */
#define FAILS(m, want) decode_err(&f->d, (m)->b, (m)->len, want)

static void
test_error_messages(void **state)
{
	fixture    *f = *state;
	msgbuf	   *m = &f->m;

	start(m, 'I', false, 0), u32(m, 16384), u8(m, 'N'), u16(m, 3), u8(m, 'n'), u8(m, 'u');
	u8(m, 't'), u32(m, 4000), put(m, "twelve bytes", 12);
	FAILS(m, "Insert: new tuple column 3: length 4000 exceeds message (12 bytes left)");
	m->len -= 14;
	FAILS(m, "Insert: new tuple column 3: length: truncated (needs 4 bytes, 2 left)");
	m->len -= 3;
	FAILS(m, "Insert: new tuple: 3 columns cannot fit in the 2 bytes left");
	start(m, 'I', false, 0), u32(m, 1), u8(m, 'N'), u16(m, 2), text(m, "abc");
	FAILS(m, "Insert: new tuple column 2: kind: missing (message ends)");
	start(m, 'I', false, 0), u32(m, 1), u8(m, 'N'), u16(m, 2), u8(m, 'n'), u8(m, 'x');
	FAILS(m, "Insert: new tuple column 2: unknown value kind 'x'");
	start(m, 'I', false, 0), u32(m, 1), u8(m, 'N'), u16(m, 0xffff);
	FAILS(m, "Insert: new tuple: column count: negative (-1)");
	start(m, 'I', false, 0), u32(m, 1), u8(m, 'N'), u16(m, 30000), u8(m, 'n');
	FAILS(m, "Insert: new tuple: 30000 columns cannot fit in the 1 bytes left");
	start(m, 'I', false, 0), u32(m, 1), u8(m, 'K');
	FAILS(m, "Insert: tuple tag: expected 'N', got 'K'");
	start(m, 'U', false, 0), u32(m, 1), u8(m, 0);
	FAILS(m, "Update: tuple tag: expected 'K', 'O' or 'N', got 0x00");
	start(m, 'D', false, 0), u32(m, 1), u8(m, 'N');
	FAILS(m, "Delete: tuple tag: expected 'K' or 'O', got 'N'");
	start(m, 'R', false, 0), u32(m, 1), put(m, "public", 6);
	FAILS(m, "Relation: namespace: string not terminated within the message (6 bytes left)");
	start(m, 'R', false, 0), u32(m, 1), str(m, "s"), str(m, "t"), u8(m, 'q');
	FAILS(m, "Relation: unknown replica identity 'q'");
	start(m, 'R', false, 0), u32(m, 1), str(m, "s"), str(m, "t"), u8(m, 'f'), u16(m, 1);
	u8(m, 0), str(m, "long_name"), u32(m, 23);
	FAILS(m, "Relation: column 1: typmod: missing (message ends)");
	start(m, 'T', false, 0), u32(m, 0x7fffffff), u8(m, 0), u32(m, 1);
	FAILS(m, "Truncate: 2147483647 relations cannot fit in the 4 bytes left");
	start(m, 'M', false, 0), u8(m, 0), u64(m, 1), str(m, "p"), u32(m, 9), put(m, "abc", 3);
	FAILS(m, "Message: content length 9 exceeds message (3 bytes left)");
	b_begin(m, false), u8(m, 0);
	FAILS(m, "Begin: 1 unexpected bytes after the message");
	decode_err(&f->d, m->b, 5, "Begin: final LSN: truncated (needs 8 bytes, 4 left)");
}

/* Every byte that is not a message type we decode is refused, clearly. */
static void
test_garbage_types(void **state)
{
	fixture    *f = *state;
	char		b[64] = {0};

	decode_err(&f->d, b, 0, "empty pgoutput message");
	for (int c = 0; c < 256; c++)
	{
		b[0] = (char) c;
		if (c == 0 || strchr("BCORYIUDTMSEcA", c) == NULL)
			decode_err(&f->d, b, sizeof(b), c && strchr("bPKrp", c) ? "is not supported" :
					   "unknown pgoutput message type");
	}
	b[0] = 'P';
	decode_err(&f->d, b, 1, "two-phase message 'P' (Prepare) is not supported");
	b[0] = (char) 0xfe;
	decode_err(&f->d, b, 1, "unknown pgoutput message type 0xfe");
}

static uint64_t rnd(uint64_t *s) { *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17; return *s; }

/* A decoded message's pointers must all lie inside [buf, buf+len). */
#define INSIDE(p, n) assert_true((p) == NULL || ((p) >= buf && (p) + (n) <= buf + len))

static void
check_inside(const pgo_msg *m, const char *buf, size_t len)
{
	for (int i = 0; i < m->old_tuple.ncols; i++)
		INSIDE(m->old_tuple.cols[i].data, m->old_tuple.cols[i].len);
	for (int i = 0; i < m->new_tuple.ncols; i++)
		INSIDE(m->new_tuple.cols[i].data, m->new_tuple.cols[i].len);
	for (int i = 0; i < m->ncols; i++)
		INSIDE(m->columns[i].name, strlen(m->columns[i].name) + 1);
	INSIDE(m->content, m->content_len);
}

/* Seeded random mutations of valid messages: fail cleanly or stay inside. */
static void
test_mutations(void **state)
{
	fixture    *f = *state;
	msgbuf		m;
	uint64_t	seed = 0x9E3779B97F4A7C15u;
	int			accepted = 0;

	for (int iter = 0; iter < 60000; iter++)
	{
		const struct golden *g = &golden[rnd(&seed) % NGOLDEN];
		size_t		len;
		char	   *copy, err[256];
		pgo_msg		msg;

		g->build(&m, g->in_stream);
		for (int k = 1 + (int) (rnd(&seed) % 3); k > 0; k--)
			m.b[rnd(&seed) % m.len] = (char) rnd(&seed);
		len = rnd(&seed) % 4 ? m.len : rnd(&seed) % (m.len + 8);
		if (len > m.len)
			memset(m.b + m.len, (int) (rnd(&seed) & 0xff), len - m.len);
		copy = malloc(len ? len : 1);
		memcpy(copy, m.b, len);
		f->d.in_stream = g->in_stream;
		if (pgo_decode(&f->d, copy, len, &msg, err, sizeof(err)))
			check_inside(&msg, copy, len), accepted++;
		else
			assert_true(err[0] != '\0');
		free(copy);
	}
	assert_true(accepted > 0);
}

/* ---- replication framing ---------------------------------------------- */

static uint64_t load_be64(const char *p) { return (uint64_t) be32(p) << 32 | be32(p + 4); }

#define PARSES(m, len) assert_true(pgo_parse_frame((m).b, len, &f, err, sizeof(err)))
#define REFUSED(m, len, want) \
	assert_false(pgo_parse_frame((m).b, len, &f, err, sizeof(err))), assert_non_null(strstr(err, want))

static void
test_frames(void **state)
{
	msgbuf		m = {.len = 0};
	pgo_frame	f;
	char		err[256];

	(void) state;
	u8(&m, 'w'), u64(&m, LSN1), u64(&m, LSN2), u64(&m, TS1), put(&m, "E", 1);
	PARSES(m, m.len);
	assert_true(f.kind == 'w' && f.wal_start == LSN1 && f.wal_end == LSN2 && f.send_time == TS1);
	assert_true(f.data == m.b + 25 && f.len == 1);
	for (size_t len = 0; len < 25; len++)
		assert_false(pgo_parse_frame(m.b, len, &f, err, sizeof(err)));
	REFUSED(m, 24, "XLogData: header truncated (24 of 25 bytes)");

	m.len = 0;
	u8(&m, 'k'), u64(&m, LSN2), u64(&m, TS1), u8(&m, 1);
	PARSES(m, m.len);
	assert_true(f.kind == 'k' && f.wal_end == LSN2 && f.send_time == TS1 && f.reply_requested && !f.data);
	m.b[17] = 0;
	PARSES(m, m.len);
	assert_false(f.reply_requested);
	REFUSED(m, 17, "primary keepalive: 17 bytes, expected 18");
	REFUSED(m, 0, "empty replication message");
	m.b[0] = 'x';
	REFUSED(m, m.len, "unknown replication message type 'x'");
}

static void
test_standby_status(void **state)
{
	char		out[PGO_STANDBY_STATUS_LEN + 8];
	int64_t		now = pgo_now();
	int64_t		unix_now = (int64_t) time(NULL);

	(void) state;
	/* pgo_now is PostgreSQL's clock: microseconds since 2000-01-01 */
	assert_in_range(now / 1000000, unix_now - 946684800 - 2, unix_now - 946684800 + 2);

	memset(out, 0x55, sizeof(out));
	assert_int_equal(pgo_build_standby_status(out, LSN1, LSN2, 7, now, true), 34);
	assert_true(out[0] == 'r' && load_be64(out + 1) == LSN1 && load_be64(out + 9) == LSN2);
	assert_true(load_be64(out + 17) == 7 && (int64_t) load_be64(out + 25) == now && out[33] == 1);
	assert_int_equal((unsigned char) out[34], 0x55);	/* nothing written past it */
	pgo_build_standby_status(out, 0, 0, 0, -1, false);
	assert_true(out[33] == 0 && load_be64(out + 25) == UINT64_MAX);
}

/* ---- real pgoutput output, captured from PostgreSQL 15 ----------------- */

/*
 * Describe a capture file (records: 4-byte big-endian length, one message),
 * "; "-separated, runs of equal descriptions as "x*N".  Every message is also
 * cut at every length, which must fail.
 */
static void
describe_capture(const char *name, strbuf *out)
{
	char		path[1024], err[256];
	char	   *buf = malloc(1 << 20);
	FILE	   *file;
	size_t		len, pos = 0;
	describer	ds = {.verbose = false};
	pgo_decoder d;
	strbuf		cur, prev;
	int			run = 0;

	snprintf(path, sizeof(path), "%s/tests/data/%s", PGR_SOURCE_DIR, name);
	if ((file = fopen(path, "rb")) == NULL)
		fail_msg("cannot open %s", path);
	len = fread(buf, 1, 1 << 20, file);
	fclose(file);
	pgo_decoder_init(&d);
	sb_init(&cur), sb_init(&prev);
	for (size_t n; pos + 4 <= len; pos += 4 + n)
	{
		pgo_msg		m;

		n = be32(buf + pos);
		assert_true(pos + 4 + n <= len);
		if (!pgo_decode(&d, buf + pos + 4, n, &m, err, sizeof(err)))
			fail_msg("%s at byte %zu: %s", name, pos, err);
		ds.stream_xid = m.kind == PGO_STREAM_START ? m.xid : ds.stream_xid;
		sb_reset(&cur);
		describe(&ds, &cur, &m);
		for (size_t k = 1; k < n; k++)	/* after describe(): m's arrays are reused */
			decode_err(&d, buf + pos + 4, k, pgo_kind_name(m.kind));
		if (run > 0 && strcmp(cur.data, prev.data) != 0)
			sb_printf(out, run > 1 ? "%s*%d; " : "%s; ", prev.data, run), run = 0;
		sb_reset(&prev), sb_append(&prev, cur.data), run++;
	}
	sb_printf(out, run > 1 ? "%s*%d; " : "%s; ", prev.data, run);
	assert_true(len > 0 && pos == len);
	sb_free(&cur), sb_free(&prev);
	pgo_decoder_free(&d);
	free(buf);
}

/* What the workload of tests/integration/pgoutput_capture.c sends before the big transactions. */
static const char captured_common[] =
	"Begin; Relation(t_default d id* k note); Insert(t_default 1,10,one); "
	"Insert(t_default 2,20,NULL); Commit; "
	"Begin; Update(t_default 1,10,uno); Commit; "
	"Begin; Update(t_default K 2,NULL,NULL > 3,20,NULL); Commit; "
	"Begin; Delete(t_default K 1,NULL,NULL); Commit; "
	"Begin; Relation(t_full f id* note*); Insert(t_full 1,a); Commit; "
	"Begin; Update(t_full O 1,a > 1,b); Commit; "
	"Begin; Delete(t_full O 1,b); Commit; "
	"Begin; Relation(t_toast d id* big small); Insert(t_toast 1,c4ca4238,1); Commit; "
	"Begin; Update(t_toast 1,TOAST,2); Commit; "
	"Begin; Type(mood); Relation(t_enum d id* m); Insert(t_enum 1,sad); Commit; "
	"Begin; Message(tx pgr_test hello); Commit; "
	"Begin; Relation(t_default d id* k note); Relation(t_full f id* note*); Truncate(2 3:); Commit; ";

/* The capture must decode to captured_common, then tail. */
static void
expect_capture(const char *name, const char *tail)
{
	strbuf		got, want;

	sb_init(&got), sb_init(&want);
	describe_capture(name, &got);
	sb_printf(&want, "%s%s", captured_common, tail);
	assert_string_equal(got.data, want.data);
	sb_free(&got), sb_free(&want);
}

/*
 * Protocol 1: the big transaction arrives whole at commit, the aborted one
 * never.  Protocol 2, streaming: rows 1..500 at top level (~), the
 * savepoint's rows in a subxact (^) then its abort; rows 1001..1050 in a new
 * subxact after ROLLBACK TO; the second transaction streams, then aborts.
 */
static void
test_captured(void **state)
{
	(void) state;
	expect_capture("pgoutput-v1.bin",
				   "Begin; Relation(t_stream d id* pad); Insert(t_stream)*550; Commit; "
				   "Message(non-tx pgr_capture_end end); ");
	expect_capture("pgoutput-v2-stream.bin",
				   "Stream Start(first); ~Relation(t_stream d id* pad); ~Insert(t_stream)*469; "
				   "Stream Stop; Stream Start; ~Insert(t_stream)*31; ^Insert(t_stream)*435; "
				   "Stream Stop; Stream Abort(subxact); "
				   "Stream Start; ^Relation(t_stream d id* pad); ^Insert(t_stream)*50; "
				   "Stream Stop; Stream Commit; "
				   "Stream Start(first); ~Relation(t_stream d id* pad); ~Insert(t_stream)*462; "
				   "Stream Stop; Stream Abort(all); Message(non-tx pgr_capture_end end); ");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_message_type, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_streaming, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_error_messages, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_garbage_types, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_mutations, fx_setup, fx_teardown),
		cmocka_unit_test(test_frames),
		cmocka_unit_test(test_standby_status),
		cmocka_unit_test(test_captured),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
