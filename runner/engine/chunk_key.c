/*
 * chunk_key.c — comparing chunk keys on the client where that is exact, and
 * text[] literals for chunk bounds (see chunk_key.h for why these types and
 * only these).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chunk_key.h"
#include "xalloc.h"

static bool
is_c_collation(const char *coll)
{
	return coll != NULL && (strcmp(coll, "\"pg_catalog\".\"C\"") == 0 ||
							strcmp(coll, "\"pg_catalog\".\"POSIX\"") == 0);
}

keycmp_kind
keycmp_of(const char *type, const char *coll)
{
	if (type == NULL)
		return KEYCMP_SERVER;
	if (strcmp(type, "smallint") == 0 || strcmp(type, "integer") == 0 || strcmp(type, "bigint") == 0)
		return KEYCMP_INT;
	if (strcmp(type, "uuid") == 0)
		return KEYCMP_BYTES;
	/* text and varchar compare by bytes under C; char(n) pads, so never */
	if ((strcmp(type, "text") == 0 || strncmp(type, "character varying", 17) == 0) &&
		is_c_collation(coll))
		return KEYCMP_BYTES;
	return KEYCMP_SERVER;
}

int
keycmp_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
	int			c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c < 0 ? -1 : 1;
	return alen < blen ? -1 : alen > blen;
}

static bool
parse_int(const char *s, size_t len, long long *v)
{
	char		buf[32], *end;

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	*v = strtoll(buf, &end, 10);
	return errno == 0 && *end == '\0';
}

int
keycmp_value(keycmp_kind kind, const char *a, size_t alen, const char *b)
{
	size_t		blen = strlen(b);

	if (kind == KEYCMP_INT)
	{
		long long	x, y;

		if (parse_int(a, alen, &x) && parse_int(b, blen, &y))
			return x < y ? -1 : x > y;
	}
	return keycmp_bytes(a, alen, b, blen);
}

int
keycmp_row(const keycmp_kind *kinds, int n, const char *const *a, const size_t *alen,
		   char *const *b)
{
	for (int i = 0; i < n; i++)
	{
		int			c = keycmp_value(kinds[i], a[i], alen[i], b[i]);

		if (c != 0)
			return c;
	}
	return 0;
}

bool
keycmp_client(const keycmp_kind *kinds, int n)
{
	for (int i = 0; i < n; i++)
		if (kinds[i] == KEYCMP_SERVER)
			return false;
	return n > 0;
}

void
pgarray_encode(strbuf *out, char *const *vals, int n)
{
	sb_append_char(out, '{');
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			sb_append_char(out, ',');
		if (vals[i] == NULL)
		{
			sb_append(out, "NULL");
			continue;
		}
		sb_append_char(out, '"');
		for (const char *p = vals[i]; *p; p++)
		{
			if (*p == '"' || *p == '\\')
				sb_append_char(out, '\\');
			sb_append_char(out, *p);
		}
		sb_append_char(out, '"');
	}
	sb_append_char(out, '}');
}

static bool
is_array_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* One element at *pp (after leading blanks); *pp left on ',' or '}'.
 * Unquoted elements are as PostgreSQL prints them: no blanks, and NULL
 * (any case) is the null element. */
static bool
decode_element(const char **pp, strbuf *sb, bool *isnull)
{
	const char *p = *pp;
	bool		quoted = *p == '"', escaped = false;

	*isnull = false;
	if (quoted)
	{
		for (p++; *p != '"'; p++)
		{
			if (*p == '\\')
				p++;
			if (*p == '\0')
				return false;
			sb_append_char(sb, *p);
		}
		p++;
	}
	else
		for (; *p && *p != ',' && *p != '}'; p++)
		{
			if (*p == '"' || *p == '{')
				return false;
			if (*p == '\\')
				escaped = *++p != '\0';
			if (*p == '\0')
				return false;
			sb_append_char(sb, *p);
		}
	if (!quoted && !escaped && sb->len == 4 && strncasecmp(sb->data, "NULL", 4) == 0)
		*isnull = true;
	while (is_array_space(*p))
		p++;
	*pp = p;
	return *p == ',' || *p == '}';
}

/* Only blanks after the closing brace at p. */
static bool
at_end(const char *p)
{
	while (is_array_space(*p))
		p++;
	return *p == '\0';
}

bool
pgarray_decode(const char *lit, char ***vals, int *n)
{
	const char *p = lit;
	int			cap = 4;

	*n = 0;
	*vals = xcalloc((size_t) cap, sizeof(char *));
	while (is_array_space(*p))
		p++;
	if (*p++ != '{')
		goto bad;
	while (is_array_space(*p))
		p++;
	if (*p == '}')
	{
		if (at_end(p + 1))
			return true;
		goto bad;
	}
	for (;;)
	{
		strbuf		sb;
		bool		isnull;

		while (is_array_space(*p))
			p++;
		sb_init(&sb);
		if (!decode_element(&p, &sb, &isnull))
		{
			sb_free(&sb);
			goto bad;
		}
		if (*n == cap)
		{
			cap *= 2;
			*vals = xrealloc(*vals, sizeof(char *) * (size_t) cap);
		}
		if (isnull)
			sb_free(&sb);
		(*vals)[(*n)++] = isnull ? NULL : sb_steal(&sb);
		if (*p++ == '}')
		{
			if (at_end(p))
				return true;
			goto bad;
		}
	}
bad:
	pgarray_free(*vals, *n);
	*vals = NULL;
	*n = 0;
	return false;
}

void
pgarray_free(char **vals, int n)
{
	for (int i = 0; vals && i < n; i++)
		free(vals[i]);
	free(vals);
}
