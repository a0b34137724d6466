/*
 * pgoutput.c — decoding pgoutput's logical replication messages and the
 * replication stream's CopyData frames.  See pgoutput.h for the contract.
 *
 * Design: a message is read through a `reader`, a cursor over the buffer that
 * checks every read against what is left and, when one fails, writes the
 * error with its context (message name, tuple, column number, field) so that
 * no caller has to.  One function per message type; TupleData and the
 * Relation's column list have their own.  Counts sent by the server (columns,
 * relids) are checked against the bytes left before an array is grown, so a
 * malformed message cannot make the decoder allocate more than a small
 * multiple of its own size.  The decoder's only state is whether it is inside
 * a streamed block, which decides whether change messages start with an xid;
 * it is updated only when a message decodes successfully.
 *
 * The wire formats follow PostgreSQL's src/backend/replication/logical/proto.c
 * (documented in "Logical Replication Message Formats"); all integers are
 * big-endian.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgoutput.h"
#include "xalloc.h"

/* Seconds from the Unix epoch to PostgreSQL's, 2000-01-01. */
#define PG_EPOCH_OFFSET_S INT64_C(946684800)

/* Smallest encodings, used to bound counts before allocating. */
#define MIN_REL_COLUMN_BYTES 10	/* flags, "" name, type oid, typmod */
#define MIN_TUPLE_VALUE_BYTES 1

typedef struct reader {
	const char *p;
	size_t		left;
	const char *msg;			/* message name, first in every error */
	const char *scope;			/* "new tuple", "old tuple" or NULL */
	int			col;			/* column number (from 1) or 0 */
	char	   *err;
	size_t		errlen;
} reader;

/* ---- errors --------------------------------------------------------- */

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list		ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* "Insert: new tuple column 3: " + the detail; always returns false. */
static bool __attribute__((format(printf, 2, 3)))
rd_fail(reader *r, const char *fmt, ...)
{
	char		where[96] = "";
	char		detail[160];
	va_list		ap;

	if (r->scope && r->col)
		snprintf(where, sizeof(where), "%s column %d: ", r->scope, r->col);
	else if (r->scope)
		snprintf(where, sizeof(where), "%s: ", r->scope);
	else if (r->col)
		snprintf(where, sizeof(where), "column %d: ", r->col);
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	set_err(r->err, r->errlen, "%s: %s%s", r->msg, where, detail);
	return false;
}

/* A byte as 'x' when printable, else as 0xNN, into buf (>= 8 bytes). */
static const char *
byte_repr(unsigned char c, char *buf, size_t buflen)
{
	if (c >= 0x20 && c < 0x7f)
		snprintf(buf, buflen, "'%c'", c);
	else
		snprintf(buf, buflen, "0x%02x", c);
	return buf;
}

/* ---- bounds-checked reads ------------------------------------------ */

static uint64_t
load_be(const char *p, size_t n)
{
	uint64_t	v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | (unsigned char) p[i];
	return v;
}

/*
 * Read an n-byte big-endian integer into *v, an object of n bytes (1, 2, 4
 * or 8); use RD(), which takes n from v's type so the two cannot disagree.
 */
static bool
rd_int(reader *r, const char *field, size_t n, void *v)
{
	uint64_t	u;

	if (r->left < n)
		return r->left == 0 ? rd_fail(r, "%s: missing (message ends)", field) :
			rd_fail(r, "%s: truncated (needs %zu bytes, %zu left)", field, n, r->left);
	u = load_be(r->p, n);
	r->p += n;
	r->left -= n;
	/* signed and unsigned variants of a type may alias each other */
	switch (n)
	{
		case 1: *(uint8_t *) v = (uint8_t) u; break;
		case 2: *(uint16_t *) v = (uint16_t) u; break;
		case 4: *(uint32_t *) v = (uint32_t) u; break;
		default: *(uint64_t *) v = u; break;
	}
	return true;
}

#define RD(r, field, v) rd_int(r, field, sizeof(*(v)), v)

/* An Int16 count: negative values are refused. */
static bool
rd_count16(reader *r, const char *field, int *v)
{
	int16_t		n = 0;

	if (!RD(r, field, &n))
		return false;
	*v = n;
	if (n < 0)
		return rd_fail(r, "%s: negative (%d)", field, n);
	return true;
}

/* A NUL-terminated string, which must end inside the message. */
static bool
rd_str(reader *r, const char *field, const char **s)
{
	const char *nul = r->left ? memchr(r->p, '\0', r->left) : NULL;
	size_t		n;

	if (nul == NULL)
	{
		if (r->left == 0)
			return rd_fail(r, "%s: missing (message ends)", field);
		return rd_fail(r, "%s: string not terminated within the message (%zu bytes left)",
					   field, r->left);
	}
	n = (size_t) (nul - r->p) + 1;
	*s = r->p;
	r->p += n;
	r->left -= n;
	return true;
}

/* n bytes of content whose length came from the message. */
static bool
rd_bytes(reader *r, const char *field, uint32_t n, const char **data)
{
	if (n > r->left)
		return rd_fail(r, "%s %u exceeds message (%zu bytes left)", field, n, r->left);
	*data = r->p;
	r->p += n;
	r->left -= n;
	return true;
}

/* ---- decoder-owned arrays ------------------------------------------ */

static void *
grow(void *arr, int *cap, int need, size_t elsize)
{
	int			newcap;

	if (need <= *cap)
		return arr;
	newcap = *cap < 16 ? 16 : *cap;
	while (newcap < need)
		newcap *= 2;
	*cap = newcap;
	return xrealloc(arr, (size_t) newcap * elsize);
}

void
pgo_decoder_init(pgo_decoder *d)
{
	memset(d, 0, sizeof(*d));
}

void
pgo_decoder_free(pgo_decoder *d)
{
	free(d->columns);
	free(d->old_cols);
	free(d->new_cols);
	free(d->relids);
	memset(d, 0, sizeof(*d));
}

/* ---- message parts --------------------------------------------------- */

/* In a streamed block, change messages start with their (sub)xact's xid. */
static bool
rd_stream_xid(const pgo_decoder *d, reader *r, pgo_msg *m)
{
	if (!d->in_stream)
		return true;
	m->has_xid = true;
	return RD(r, "xid", &m->xid);
}

static bool
rd_namespace(reader *r, const char *field, const char **nspname)
{
	if (!rd_str(r, field, nspname))
		return false;
	if (**nspname == '\0')
		*nspname = "pg_catalog";
	return true;
}

static bool
rd_value(reader *r, pgo_value *v)
{
	uint8_t		kind = 0;
	uint32_t	len = 0;
	char		repr[8];

	if (!RD(r, "kind", &kind))
		return false;
	v->kind = (char) kind;
	v->data = NULL;
	v->len = 0;
	switch (kind)
	{
		case PGO_NULL:
		case PGO_UNCHANGED:
			return true;
		case PGO_TEXT:
		case PGO_BINARY:
			if (!RD(r, "length", &len))
				return false;
			v->len = len;
			return rd_bytes(r, "length", len, &v->data);
		default:
			return rd_fail(r, "unknown value kind %s", byte_repr(kind, repr, sizeof(repr)));
	}
}

/* TupleData into one of the decoder's value arrays. */
static bool
rd_tuple(reader *r, const char *scope, pgo_tuple *t, pgo_value **arr, int *cap)
{
	int			n;

	r->scope = scope;
	if (!rd_count16(r, "column count", &n))
		return false;
	if ((size_t) n * MIN_TUPLE_VALUE_BYTES > r->left)
		return rd_fail(r, "%d columns cannot fit in the %zu bytes left", n, r->left);
	*arr = grow(*arr, cap, n, sizeof(pgo_value));
	t->cols = *arr;
	t->ncols = n;
	for (int i = 0; i < n; i++)
	{
		r->col = i + 1;
		if (!rd_value(r, &t->cols[i]))
			return false;
	}
	r->col = 0;
	r->scope = NULL;
	return true;
}

static bool
rd_relation_columns(pgo_decoder *d, reader *r, pgo_msg *m)
{
	if (!rd_count16(r, "column count", &m->ncols))
		return false;
	if ((size_t) m->ncols * MIN_REL_COLUMN_BYTES > r->left)
		return rd_fail(r, "%d columns cannot fit in the %zu bytes left", m->ncols, r->left);
	d->columns = grow(d->columns, &d->columns_cap, m->ncols, sizeof(pgo_column));
	m->columns = d->columns;
	for (int i = 0; i < m->ncols; i++)
	{
		pgo_column *c = &m->columns[i];

		r->col = i + 1;
		if (!RD(r, "flags", &c->flags) ||
			!rd_str(r, "name", &c->name) ||
			!RD(r, "type oid", &c->type_oid) ||
			!RD(r, "typmod", &c->typmod))
			return false;
	}
	r->col = 0;
	return true;
}

/* ---- one function per message type --------------------------------- */

static bool
dec_begin(pgo_decoder *d, reader *r, pgo_msg *m)
{
	(void) d;
	m->has_xid = true;
	return RD(r, "final LSN", &m->lsn) &&
		RD(r, "commit time", &m->ts) &&
		RD(r, "xid", &m->xid);
}

static bool
dec_commit(pgo_decoder *d, reader *r, pgo_msg *m)
{
	(void) d;
	return RD(r, "flags", &m->flags) &&
		RD(r, "commit LSN", &m->lsn) &&
		RD(r, "end LSN", &m->end_lsn) &&
		RD(r, "commit time", &m->ts);
}

static bool
dec_origin(pgo_decoder *d, reader *r, pgo_msg *m)
{
	(void) d;
	return RD(r, "commit LSN", &m->lsn) &&
		rd_str(r, "name", &m->origin_name);
}

static bool
dec_relation(pgo_decoder *d, reader *r, pgo_msg *m)
{
	uint8_t		replident = 0;
	char		repr[8];

	if (!rd_stream_xid(d, r, m) ||
		!RD(r, "relation oid", &m->relid) ||
		!rd_namespace(r, "namespace", &m->nspname) ||
		!rd_str(r, "relation name", &m->relname) ||
		!RD(r, "replica identity", &replident))
		return false;
	if (strchr("dnfi", replident) == NULL || replident == 0)
		return rd_fail(r, "unknown replica identity %s", byte_repr(replident, repr, sizeof(repr)));
	m->replident = (char) replident;
	return rd_relation_columns(d, r, m);
}

static bool
dec_type(pgo_decoder *d, reader *r, pgo_msg *m)
{
	return rd_stream_xid(d, r, m) &&
		RD(r, "type oid", &m->type_oid) &&
		rd_namespace(r, "namespace", &m->nspname) &&
		rd_str(r, "type name", &m->type_name);
}

/* The byte that introduces a tuple: one of `allowed`. */
static bool
rd_tuple_tag(reader *r, const char *allowed, const char *expected, char *tag)
{
	uint8_t		c = 0;
	char		repr[8];

	if (!RD(r, "tuple tag", &c))
		return false;
	if (c == 0 || strchr(allowed, c) == NULL)
		return rd_fail(r, "tuple tag: expected %s, got %s", expected, byte_repr(c, repr, sizeof(repr)));
	*tag = (char) c;
	return true;
}

static bool
dec_insert(pgo_decoder *d, reader *r, pgo_msg *m)
{
	char		tag;

	return rd_stream_xid(d, r, m) &&
		RD(r, "relation oid", &m->relid) &&
		rd_tuple_tag(r, "N", "'N'", &tag) &&
		rd_tuple(r, "new tuple", &m->new_tuple, &d->new_cols, &d->new_cap);
}

static bool
dec_update(pgo_decoder *d, reader *r, pgo_msg *m)
{
	char		tag;

	if (!rd_stream_xid(d, r, m) ||
		!RD(r, "relation oid", &m->relid) ||
		!rd_tuple_tag(r, "KON", "'K', 'O' or 'N'", &tag))
		return false;
	if (tag != 'N')
	{
		m->old_kind = tag;
		if (!rd_tuple(r, "old tuple", &m->old_tuple, &d->old_cols, &d->old_cap) ||
			!rd_tuple_tag(r, "N", "'N'", &tag))
			return false;
	}
	return rd_tuple(r, "new tuple", &m->new_tuple, &d->new_cols, &d->new_cap);
}

static bool
dec_delete(pgo_decoder *d, reader *r, pgo_msg *m)
{
	return rd_stream_xid(d, r, m) &&
		RD(r, "relation oid", &m->relid) &&
		rd_tuple_tag(r, "KO", "'K' or 'O'", &m->old_kind) &&
		rd_tuple(r, "old tuple", &m->old_tuple, &d->old_cols, &d->old_cap);
}

static bool
dec_truncate(pgo_decoder *d, reader *r, pgo_msg *m)
{
	uint32_t	n = 0;

	if (!rd_stream_xid(d, r, m) ||
		!RD(r, "relation count", &n) ||
		!RD(r, "options", &m->truncate_options))
		return false;
	if (n > r->left / 4)
		return rd_fail(r, "%u relations cannot fit in the %zu bytes left", n, r->left);
	m->nrelids = (int) n;
	d->relids = grow(d->relids, &d->relids_cap, m->nrelids, sizeof(uint32_t));
	m->relids = d->relids;
	for (int i = 0; i < m->nrelids; i++)
		if (!RD(r, "relation oid", &m->relids[i]))
			return false;
	return true;
}

static bool
dec_message(pgo_decoder *d, reader *r, pgo_msg *m)
{
	if (!rd_stream_xid(d, r, m) ||
		!RD(r, "flags", &m->flags) ||
		!RD(r, "LSN", &m->lsn) ||
		!rd_str(r, "prefix", &m->prefix) ||
		!RD(r, "content length", &m->content_len))
		return false;
	m->transactional = (m->flags & 1) != 0;
	return rd_bytes(r, "content length", m->content_len, &m->content);
}

static bool
dec_stream_start(pgo_decoder *d, reader *r, pgo_msg *m)
{
	uint8_t		first = 0;

	(void) d;
	m->has_xid = true;
	if (!RD(r, "xid", &m->xid) || !RD(r, "first segment", &first))
		return false;
	m->first_segment = first != 0;
	return true;
}

static bool
dec_stream_commit(pgo_decoder *d, reader *r, pgo_msg *m)
{
	(void) d;
	m->has_xid = true;
	return RD(r, "xid", &m->xid) &&
		RD(r, "flags", &m->flags) &&
		RD(r, "commit LSN", &m->lsn) &&
		RD(r, "end LSN", &m->end_lsn) &&
		RD(r, "commit time", &m->ts);
}

static bool
dec_stream_abort(pgo_decoder *d, reader *r, pgo_msg *m)
{
	(void) d;
	m->has_xid = true;
	return RD(r, "xid", &m->xid) &&
		RD(r, "subxid", &m->subxid);
}

static bool
dec_stream_stop(pgo_decoder *d, reader *r, pgo_msg *m)
{
	(void) d, (void) r, (void) m;
	return true;
}

/* ---- dispatch ------------------------------------------------------- */

/* Where a message may appear relative to a streamed block. */
enum { ANYWHERE, OUTSIDE, INSIDE };

typedef bool (*decode_fn) (pgo_decoder *d, reader *r, pgo_msg *m);

static const struct msg_type {
	char		type;
	pgo_kind	kind;
	const char *name;
	int			where;
	decode_fn	decode;
} msg_types[] = {
	{'B', PGO_BEGIN, "Begin", OUTSIDE, dec_begin},
	{'C', PGO_COMMIT, "Commit", OUTSIDE, dec_commit},
	{'O', PGO_ORIGIN, "Origin", ANYWHERE, dec_origin},
	{'R', PGO_RELATION, "Relation", ANYWHERE, dec_relation},
	{'Y', PGO_TYPE, "Type", ANYWHERE, dec_type},
	{'I', PGO_INSERT, "Insert", ANYWHERE, dec_insert},
	{'U', PGO_UPDATE, "Update", ANYWHERE, dec_update},
	{'D', PGO_DELETE, "Delete", ANYWHERE, dec_delete},
	{'T', PGO_TRUNCATE, "Truncate", ANYWHERE, dec_truncate},
	{'M', PGO_MESSAGE, "Message", ANYWHERE, dec_message},
	{'S', PGO_STREAM_START, "Stream Start", OUTSIDE, dec_stream_start},
	{'E', PGO_STREAM_STOP, "Stream Stop", INSIDE, dec_stream_stop},
	{'c', PGO_STREAM_COMMIT, "Stream Commit", OUTSIDE, dec_stream_commit},
	{'A', PGO_STREAM_ABORT, "Stream Abort", OUTSIDE, dec_stream_abort},
};
#define N_MSG_TYPES (int) (sizeof(msg_types) / sizeof(msg_types[0]))

/* Two-phase messages (protocol 3 with two_phase on), which we never enable. */
static const struct {
	char		type;
	const char *name;
} two_phase_types[] = {
	{'b', "Begin Prepare"}, {'P', "Prepare"}, {'K', "Commit Prepared"},
	{'r', "Rollback Prepared"}, {'p', "Stream Prepare"},
};

const char *
pgo_kind_name(pgo_kind kind)
{
	for (int i = 0; i < N_MSG_TYPES; i++)
		if (msg_types[i].kind == kind)
			return msg_types[i].name;
	return "unknown";
}

/* The message type of byte c; NULL with err set when unsupported. */
static const struct msg_type *
lookup_type(unsigned char c, char *err, size_t errlen)
{
	char		repr[8];

	for (int i = 0; i < N_MSG_TYPES; i++)
		if ((unsigned char) msg_types[i].type == c)
			return &msg_types[i];
	for (size_t i = 0; i < sizeof(two_phase_types) / sizeof(two_phase_types[0]); i++)
		if ((unsigned char) two_phase_types[i].type == c)
		{
			set_err(err, errlen, "two-phase message %s (%s) is not supported: "
					"the stream must be started without two_phase",
					byte_repr(c, repr, sizeof(repr)), two_phase_types[i].name);
			return NULL;
		}
	set_err(err, errlen, "unknown pgoutput message type %s", byte_repr(c, repr, sizeof(repr)));
	return NULL;
}

bool
pgo_decode(pgo_decoder *d, const char *buf, size_t len, pgo_msg *out,
		   char *err, size_t errlen)
{
	reader		r = {.p = buf + 1, .left = len ? len - 1 : 0, .err = err, .errlen = errlen};
	const struct msg_type *t;

	memset(out, 0, sizeof(*out));
	if (len == 0)
	{
		set_err(err, errlen, "empty pgoutput message");
		return false;
	}
	if ((t = lookup_type((unsigned char) buf[0], err, errlen)) == NULL)
		return false;
	out->kind = t->kind;
	r.msg = t->name;
	if (t->where == OUTSIDE && d->in_stream)
		return rd_fail(&r, "inside a streamed block (missing Stream Stop)");
	if (t->where == INSIDE && !d->in_stream)
		return rd_fail(&r, "not inside a streamed block (missing Stream Start)");
	if (!t->decode(d, &r, out))
		return false;
	r.scope = NULL;
	r.col = 0;
	if (r.left != 0)
		return rd_fail(&r, "%zu unexpected bytes after the message", r.left);
	if (out->kind == PGO_STREAM_START)
		d->in_stream = true;
	else if (out->kind == PGO_STREAM_STOP)
		d->in_stream = false;
	return true;
}

/* ---- replication framing ------------------------------------------- */

bool
pgo_parse_frame(const char *buf, size_t len, pgo_frame *out, char *err, size_t errlen)
{
	char		repr[8];

	memset(out, 0, sizeof(*out));
	if (len == 0)
	{
		set_err(err, errlen, "empty replication message");
		return false;
	}
	out->kind = buf[0];
	if (buf[0] == 'w')
	{
		if (len < 25)
		{
			set_err(err, errlen, "XLogData: header truncated (%zu of 25 bytes)", len);
			return false;
		}
		out->wal_start = load_be(buf + 1, 8);
		out->wal_end = load_be(buf + 9, 8);
		out->send_time = (int64_t) load_be(buf + 17, 8);
		out->data = buf + 25;
		out->len = len - 25;
		return true;
	}
	if (buf[0] == 'k')
	{
		if (len != 18)
		{
			set_err(err, errlen, "primary keepalive: %zu bytes, expected 18", len);
			return false;
		}
		out->wal_end = load_be(buf + 1, 8);
		out->send_time = (int64_t) load_be(buf + 9, 8);
		out->reply_requested = buf[17] != 0;
		return true;
	}
	set_err(err, errlen, "unknown replication message type %s",
			byte_repr((unsigned char) buf[0], repr, sizeof(repr)));
	return false;
}

static char *
store_be64(char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--)
	{
		p[i] = (char) (v & 0xff);
		v >>= 8;
	}
	return p + 8;
}

size_t
pgo_build_standby_status(char *out, uint64_t write_lsn, uint64_t flush_lsn,
						 uint64_t apply_lsn, int64_t now, bool reply)
{
	char	   *p = out;

	*p++ = 'r';
	p = store_be64(p, write_lsn);
	p = store_be64(p, flush_lsn);
	p = store_be64(p, apply_lsn);
	p = store_be64(p, (uint64_t) now);
	*p++ = reply ? 1 : 0;
	return (size_t) (p - out);
}

int64_t
pgo_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t) ts.tv_sec - PG_EPOCH_OFFSET_S) * 1000000 + ts.tv_nsec / 1000;
}
