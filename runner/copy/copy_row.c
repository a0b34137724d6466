/*
 * copy_row.c — find a COPY TEXT row's shard without parsing the whole row.
 *
 * In COPY's text format fields are separated by a tab, rows end with a
 * newline, and tabs, newlines and backslashes inside values are escaped,
 * so a raw tab is always a separator.  Only the key fields are decoded
 * (most need no decoding: they are used in place); `\N` is NULL.  The
 * decoded text is exactly PostgreSQL's output form, which the hash expects.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copy.h"
#include "xalloc.h"

int
copy_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode one escape at f[*i] (just after the backslash) into out. */
static void
decode_escape(const char *f, size_t len, size_t *i, strbuf *out)
{
	char		c = f[*i];
	int			v = 0, n = 0;

	switch (c)
	{
		case 'b': sb_append_char(out, '\b'); break;
		case 'f': sb_append_char(out, '\f'); break;
		case 'n': sb_append_char(out, '\n'); break;
		case 'r': sb_append_char(out, '\r'); break;
		case 't': sb_append_char(out, '\t'); break;
		case 'v': sb_append_char(out, '\v'); break;
		case 'x':
			while (n < 2 && *i + 1 < len && copy_hexval(f[*i + 1]) >= 0)
				v = v * 16 + copy_hexval(f[++*i]), n++;
			if (n == 0)
				sb_append_char(out, 'x');
			else
				sb_append_char(out, (char) v);
			break;
		default:
			if (c >= '0' && c <= '7')
			{
				v = c - '0';
				while (++n < 3 && *i + 1 < len && f[*i + 1] >= '0' && f[*i + 1] <= '7')
					v = v * 8 + (f[++*i] - '0');
				sb_append_char(out, (char) v);
			}
			else
				sb_append_char(out, c);
	}
	++*i;
}

bool
copy_field_decode(const char *f, size_t len, strbuf *out, bool *isnull)
{
	sb_reset(out);
	*isnull = len == 2 && f[0] == '\\' && f[1] == 'N';
	if (*isnull)
		return true;
	for (size_t i = 0; i < len;)
	{
		if (f[i] != '\\')
		{
			const char *bs = memchr(f + i, '\\', len - i);
			size_t		run = bs ? (size_t) (bs - (f + i)) : len - i;

			sb_append_len(out, f + i, run);
			i += run;
			continue;
		}
		if (++i >= len)
			return false;		/* a lone trailing backslash */
		decode_escape(f, len, &i, out);
	}
	return true;
}

long
copy_field_end(const char *row, size_t len, int n)
{
	const char *p = row, *end = row + len;

	for (int f = 0; p < end; f++)
	{
		const char *tab = memchr(p, '\t', (size_t) (end - p));
		const char *stop = tab ? tab : (end[-1] == '\n' ? end - 1 : end);

		if (f == n)
			return (long) (stop - row);
		if (tab == NULL)
			break;
		p = tab + 1;
	}
	return -1;
}

void
row_router_init(row_router *r, const copy_table *t, uint32_t nshards, hooks *h, bool validate)
{
	memset(r, 0, sizeof(*r));
	r->t = t;
	r->hooks = h;
	r->validates = h != NULL && validate;
	r->nkeys = t->nkeys;
	r->key_field = t->key_field;
	r->key_types = t->key_types;
	r->nshards = nshards;
	for (int k = 0; k < COPY_MAX_KEYS; k++)
		sb_init(&r->scratch[k]);
	if (h != NULL)
	{
		r->fields = xcalloc((size_t) t->nselect + 1, sizeof(key_value));
		r->hook_vals = xcalloc((size_t) t->nselect + 1, sizeof(key_value));
		r->fscratch = xcalloc((size_t) t->nselect + 1, sizeof(strbuf));
		for (int f = 0; f < t->nselect; f++)
			sb_init(&r->fscratch[f]);
	}
}

void
row_router_next(row_router *r)
{
	r->all_decoded = false;
}

void
row_router_free(row_router *r)
{
	for (int k = 0; k < COPY_MAX_KEYS; k++)
		sb_free(&r->scratch[k]);
	for (int f = 0; r->fscratch && f < r->t->nselect; f++)
		sb_free(&r->fscratch[f]);
	free(r->fscratch);
	free(r->fields);
	free(r->hook_vals);
}

/* Split the row into r->fields; decode the fields in `want` (NULL: all). */
static bool
split_fields(row_router *r, const char *row, size_t len, const bool *want, char *err, size_t errlen)
{
	const char *p = row, *end = row + len;
	int			n = r->t->nselect, f;

	if (len > 0 && end[-1] == '\n')
		end--;
	for (f = 0; f < n; f++)
	{
		const char *tab = memchr(p, '\t', (size_t) (end - p));
		const char *stop = tab ? tab : end;
		key_value  *v = &r->fields[f];

		v->text = p;
		v->len = (size_t) (stop - p);
		v->isnull = v->len == 2 && p[0] == '\\' && p[1] == 'N';
		if ((want == NULL || want[f]) && !v->isnull && memchr(p, '\\', v->len) != NULL)
		{
			if (!copy_field_decode(p, v->len, &r->fscratch[f], &v->isnull))
			{
				snprintf(err, errlen, "malformed escape in field %d", f + 1);
				return false;
			}
			v->text = r->fscratch[f].data;
			v->len = r->fscratch[f].len;
		}
		if (tab == NULL)
			break;
		p = tab + 1;
	}
	if (f < n - 1)
	{
		snprintf(err, errlen, "row has %d field(s), expected %d", f + 1, n);
		return false;
	}
	r->all_decoded = want == NULL;
	return true;
}

static bool
route_lua(row_router *r, const char *row, size_t len, uint32_t *shard, char *err, size_t errlen)
{
	const bool *want = r->t->route_field;
	hook_row	hr = {r->t->nselect, r->t->field_names, r->hook_vals};
	int			sh;

	/* with a validate hook the whole row is needed next: decode it once */
	if (!split_fields(r, row, len, r->validates ? NULL : want, err, errlen))
		return false;
	/* the route gets the columns it reads; the others are absent (nil) */
	for (int f = 0; f < r->t->nselect; f++)
		r->hook_vals[f] = want[f] ? r->fields[f] : (key_value) {NULL, 0, true};
	if (!hooks_route(r->hooks, r->t->pt, &hr, (int) r->nshards, &sh, err, errlen))
		return false;
	*shard = (uint32_t) sh;
	return true;
}

bool
validate_copy_row(row_router *r, const char *row, size_t len, bool *valid, char *reason,
				  size_t reasonlen, char *err, size_t errlen)
{
	/* the columns the shards get: generated ones read for routing are not shown */
	hook_row	hr = {r->t->nsend, r->t->field_names, r->fields};

	return (r->all_decoded || split_fields(r, row, len, NULL, err, errlen)) &&
		hooks_validate(r->hooks, r->t->pt, &hr, valid, reason, reasonlen, err, errlen);
}

void
copy_row_key(row_router *r, const char *row, size_t len, strbuf *out)
{
	char		err[128];
	int			n = r->t->replicate || r->nkeys == 0 ? 0 : r->nkeys;

	if (r->t->binary)
	{
		copy_binary_row_key(r->t, row, len, out);
		return;
	}
	if (r->fields == NULL || (!r->all_decoded && !split_fields(r, row, len, NULL, err, sizeof(err))))
	{
		sb_printf(out, "(row) %.*s", (int) (len > 200 ? 200 : len), row);
		return;
	}
	if (n == 0)
	{
		sb_printf(out, "(row starting) %.*s", (int) (len > 200 ? 200 : len), row);
		return;
	}
	sb_append(out, "(");
	for (int k = 0; k < n; k++)
		sb_printf(out, "%s%s", k ? ", " : "", r->t->field_names[r->key_field[k]]);
	sb_append(out, ")=(");
	for (int k = 0; k < n; k++)
	{
		const key_value *v = &r->fields[r->key_field[k]];

		if (v->isnull)
			sb_printf(out, "%sNULL", k ? ", " : "");
		else
			sb_printf(out, "%s%.*s", k ? ", " : "", (int) (v->len > 100 ? 100 : v->len), v->text);
	}
	sb_append(out, ")");
}

bool
route_copy_row(row_router *r, const char *row, size_t len, uint32_t *shard,
			   char *err, size_t errlen)
{
	key_value	vals[COPY_MAX_KEYS];
	const char *p = row, *end = row + len;
	int			found = 0;

	if (r->t->lua_route)
		return route_lua(r, row, len, shard, err, errlen);
	if (r->t->binary)
		return route_binary_row(r->t, r->nshards, row, len, shard, err, errlen);
	if (len > 0 && end[-1] == '\n')
		end--;
	for (int f = 0; found < r->nkeys; f++)
	{
		const char *tab = memchr(p, '\t', (size_t) (end - p));
		const char *stop = tab ? tab : end;

		for (int k = 0; k < r->nkeys; k++)
		{
			if (r->key_field[k] != f)
				continue;
			found++;
			vals[k].text = p;
			vals[k].len = (size_t) (stop - p);
			vals[k].isnull = false;
			if (memchr(p, '\\', vals[k].len) != NULL)
			{
				if (!copy_field_decode(p, vals[k].len, &r->scratch[k], &vals[k].isnull))
				{
					snprintf(err, errlen, "malformed escape in field %d", f + 1);
					return false;
				}
				vals[k].text = r->scratch[k].data;
				vals[k].len = r->scratch[k].len;
			}
		}
		if (tab == NULL && found < r->nkeys)
		{
			snprintf(err, errlen, "row has %d field(s), the key needs field %d", f + 1,
					 r->key_field[r->nkeys - 1] + 1);
			return false;
		}
		p = tab ? tab + 1 : end;
	}
	return shard_of_values(r->key_types, vals, r->nkeys, r->nshards, shard, err, errlen);
}
