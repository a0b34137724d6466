/*
 * copy_bucket.c — a shared scan's rows placed in their chunks by pgreshard
 * itself, where it compares the key exactly as the server does.
 *
 * A shared scan (copy_group.c) reads a group of neighbouring key chunks
 * together; each row must go into the chunk whose bounds hold it.  The
 * source can say which (a CASE over the chunks' upper bounds, sent as one
 * more column), but that CASE cost 0.12-0.15 s of the source's CPU per pass
 * over a 2M-row uuid table (about two uuid comparisons per row, each through
 * the function manager): on a CPU-bound copy, most of what a scattered key
 * costs beyond a dense one.
 *
 * So where the table travels in COPY's binary format and every column of
 * its chunk key is of a kind the client orders exactly as the server
 * (chunk_key.h, keycmp_of: smallint, integer and bigint as numbers; uuid,
 * and text or varchar under the C or POSIX collation -- or a C.UTF-8 one
 * recorded as C --, as bytes, shorter first), the runner compares each row's key fields with the group's upper
 * bounds itself: the row's chunk is the first whose upper bound its key is
 * below (the last chunk has none) — the same bounds, compared in the same
 * order, as the CASE, found by a binary search.  The group's own range
 * (first lower bound, last upper bound) is still the server's WHERE.  Any
 * other key keeps the CASE.
 *
 * Binary forms (PostgreSQL's send functions): int2/int4/int8 big-endian
 * two's complement of 2, 4 or 8 bytes; uuid its 16 bytes, whose byte order
 * is uuid order; text and varchar the string's bytes.  The bounds are the
 * chunk plan's text forms: integers parsed, uuids read from their hex
 * digits, strings as they are.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chunk_key.h"
#include "copy.h"
#include "xalloc.h"

typedef enum bucket_kind {
	BK_INT,						/* 2, 4 or 8 bytes, signed big-endian */
	BK_UUID,					/* 16 bytes */
	BK_BYTES					/* any length */
} bucket_kind;

/* One key column of one bound. */
typedef struct bucket_val {
	long long	i;
	char	   *b;				/* BK_UUID, BK_BYTES */
	size_t		blen;
} bucket_val;

struct copy_bucketer {
	int			ncols;
	int			field[COPY_MAX_KEYS];	/* the column's field in a tuple */
	bucket_kind kind[COPY_MAX_KEYS];
	int			nfields;		/* fields to walk: the last key field + 1 */
	int			nbounds;		/* the group's chunks - 1 */
	bucket_val *bound;			/* [nbounds * ncols], bound b column c at b * ncols + c */
};

/* A uuid's text form (32 hex digits, dashes between) into 16 bytes. */
static bool
uuid_bytes(const char *s, char *out)
{
	int			n = 0;

	for (; *s && n < 32; s++)
	{
		int			h;

		if (*s == '-')
			continue;
		if ((h = copy_hexval(*s)) < 0)
			return false;
		if (n % 2 == 0)
			out[n / 2] = (char) (h << 4);
		else
			out[n / 2] = (char) (out[n / 2] | h);
		n++;
	}
	return n == 32 && *s == '\0';
}

/* A bound's column from its text form; false when it does not parse. */
static bool
bound_value(bucket_kind kind, const char *text, bucket_val *v)
{
	char	   *end;

	memset(v, 0, sizeof(*v));
	switch (kind)
	{
		case BK_INT:
			v->i = strtoll(text, &end, 10);
			return end != text && *end == '\0';
		case BK_UUID:
			v->b = xmalloc(16);
			v->blen = 16;
			return uuid_bytes(text, v->b);
		case BK_BYTES:
			v->blen = strlen(text);
			v->b = xmalloc(v->blen + 1);
			memcpy(v->b, text, v->blen + 1);
			return true;
	}
	return false;
}

static bool
kind_of(const char *type, const char *coll, bucket_kind *kind)
{
	switch (keycmp_of(type, coll))
	{
		case KEYCMP_INT:
			*kind = BK_INT;
			return true;
		case KEYCMP_BYTES:
			*kind = strcmp(type, "uuid") == 0 ? BK_UUID : BK_BYTES;
			return true;
		case KEYCMP_SERVER:
			break;
	}
	return false;
}

/* The key columns' fields, kinds and the group's upper bounds into bk. */
static bool
fill(copy_bucketer *bk, const copy_table *t, const scan_group *g)
{
	const copy_job *j0 = g->jobs[0];
	char	  **cols = NULL, **types = NULL, **colls = NULL;
	int			ncols = 0, ntypes = 0, ncolls = 0;
	bool		ok = j0->key_cols && j0->key_types && j0->key_colls &&
		pgarray_decode(j0->key_cols, &cols, &ncols) && pgarray_decode(j0->key_types, &types, &ntypes) &&
		pgarray_decode(j0->key_colls, &colls, &ncolls) && ncols == ntypes && ncols == ncolls &&
		ncols >= 1 && ncols <= COPY_MAX_KEYS;

	bk->ncols = ok ? ncols : 0;
	for (int c = 0; ok && c < ncols; c++)
	{
		bk->field[c] = -1;
		for (int f = 0; f < t->nselect; f++)
			if (strcmp(t->field_names[f], cols[c]) == 0)
				bk->field[c] = f;
		ok = bk->field[c] >= 0 && kind_of(types[c], colls[c], &bk->kind[c]);
		if (ok && bk->field[c] + 1 > bk->nfields)
			bk->nfields = bk->field[c] + 1;
	}
	bk->nbounds = ok ? g->n - 1 : 0;
	bk->bound = xcalloc((size_t) bk->nbounds * (size_t) bk->ncols + 1, sizeof(bucket_val));
	for (int b = 0; ok && b < bk->nbounds; b++)
	{
		char	  **vals = NULL;
		int			nvals = 0;

		ok = g->jobs[b]->hi_key && pgarray_decode(g->jobs[b]->hi_key, &vals, &nvals) && nvals == ncols;
		for (int c = 0; ok && c < ncols; c++)
			ok = vals[c] != NULL && bound_value(bk->kind[c], vals[c], &bk->bound[b * ncols + c]);
		pgarray_free(vals, nvals);
	}
	pgarray_free(cols, ncols);
	pgarray_free(types, ntypes);
	pgarray_free(colls, ncolls);
	return ok;
}

copy_bucketer *
copy_bucket_new(const copy_table *t, const scan_group *g)
{
	copy_bucketer *bk;

	if (!t->binary || g->n < 2 || getenv("PGRESHARD_COPY_SERVER_BUCKETS") != NULL)
		return NULL;
	bk = xcalloc(1, sizeof(copy_bucketer));
	if (fill(bk, t, g))
		return bk;
	copy_bucket_free(bk);
	return NULL;
}

void
copy_bucket_free(copy_bucketer *bk)
{
	if (bk == NULL)
		return;
	for (int i = 0; i < bk->nbounds * bk->ncols; i++)
		free(bk->bound[i].b);
	free(bk->bound);
	free(bk);
}

static long long
get_int(const unsigned char *p, size_t len)
{
	uint64_t	u = 0;

	for (size_t i = 0; i < len; i++)
		u = (u << 8) | p[i];
	if (len < 8 && (u >> (8 * len - 1)) & 1)
		u |= ~(uint64_t) 0 << (8 * len);	/* sign-extend */
	return (long long) u;
}

/* Key (its fields' values) against bound b, as a row comparison. */
static int
key_cmp(const copy_bucketer *bk, const char *const *val, const size_t *len, const long long *ival, int b)
{
	for (int c = 0; c < bk->ncols; c++)
	{
		const bucket_val *v = &bk->bound[b * bk->ncols + c];
		int			r = bk->kind[c] == BK_INT ? (ival[c] < v->i ? -1 : ival[c] > v->i)
			: keycmp_bytes(val[c], len[c], v->b, v->blen);

		if (r != 0)
			return r;
	}
	return 0;
}

int
copy_bucket_of(const copy_bucketer *bk, const char *tup, size_t len)
{
	size_t		at[COPY_MAX_KEYS * 4], *offs = at;
	const char *val[COPY_MAX_KEYS];
	size_t		vlen[COPY_MAX_KEYS];
	long long	ival[COPY_MAX_KEYS];
	int			lo = 0, hi = bk->nbounds, nf;

	if (bk->nfields > (int) (sizeof(at) / sizeof(at[0])))
		offs = xcalloc((size_t) bk->nfields, sizeof(size_t));
	nf = copy_binary_walk(tup, len, offs, bk->nfields);
	for (int c = 0; nf >= bk->nfields && c < bk->ncols; c++)
	{
		const unsigned char *f = (const unsigned char *) tup + offs[bk->field[c]];
		int32_t		flen = (int32_t) (((uint32_t) f[0] << 24) | ((uint32_t) f[1] << 16) |
									  ((uint32_t) f[2] << 8) | f[3]);

		val[c] = (const char *) f + 4;
		vlen[c] = flen < 0 ? 0 : (size_t) flen;
		if (flen < 0 || (bk->kind[c] == BK_INT && flen != 2 && flen != 4 && flen != 8) ||
			(bk->kind[c] == BK_UUID && flen != 16))
			nf = -1;			/* NULL or not that type's form */
		else if (bk->kind[c] == BK_INT)
			ival[c] = get_int(f + 4, (size_t) flen);
	}
	if (offs != at)
		free(offs);
	if (nf < bk->nfields)
		return -1;
	/* the first bound the key is below; none: the last chunk */
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (key_cmp(bk, val, vlen, ival, mid) < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}
