/*
 * sqlname.c — parse and display SQL identifiers the way SQL writes them.
 *
 * Users name tables and columns in plan files and on the command line as
 * they would in SQL: `public.orders`, `app."Order Items"`, `"a""b"`.  This
 * file turns such text into the exact catalog names (unquoted parts folded
 * to lower case, ASCII only, as PostgreSQL's downcase_identifier does for
 * UTF-8 databases; quoted parts taken verbatim with "" undone) and back into
 * a display form.  Nothing here talks to a server: names sent to PostgreSQL
 * are quoted by libpq.
 *
 * The grammar is deliberately strict, because a plan file that means
 * something other than what it says is worse than one that is refused:
 * exactly one dot between schema and table, no whitespace around parts,
 * unquoted parts made of letters, digits, `_`, `$` and non-ASCII bytes, not
 * starting with a digit or `$`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlname.h"

/* PostgreSQL's NAMEDATALEN - 1: longer names are truncated by the server. */
#define SQLNAME_MAX_BYTES 63

static bool
fail(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
	return false;
}

static bool
is_ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		c >= 0x80;
}

static bool
is_ident_char(unsigned char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

static bool
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
		c == '\v';
}

/* Copy a finished part out of the scratch buffer, checking its length. */
static bool
finish_part(const char *buf, size_t len, char **out, char *err, size_t errlen)
{
	char *copy;

	if (len > SQLNAME_MAX_BYTES)
	{
		char msg[128];

		snprintf(msg, sizeof(msg),
				 "name is %zu bytes long; PostgreSQL names are at most %d bytes",
				 len, SQLNAME_MAX_BYTES);
		return fail(err, errlen, msg);
	}
	copy = malloc(len + 1);
	if (copy == NULL)
		return fail(err, errlen, "out of memory");
	memcpy(copy, buf, len);
	copy[len] = '\0';
	*out = copy;
	return true;
}

/* A "quoted" part starting at *sp (which points at the opening quote). */
static bool
parse_quoted(const char **sp, char *buf, char **out, char *err, size_t errlen)
{
	const char *s = *sp + 1;
	size_t len = 0;

	for (;;)
	{
		if (*s == '\0')
			return fail(err, errlen, "unterminated quoted identifier");
		if (*s == '"')
		{
			if (s[1] != '"')
				break;
			s++;				/* "" stands for one quote */
		}
		buf[len++] = *s++;
	}
	if (len == 0)
		return fail(err, errlen, "empty quoted identifier \"\"");
	*sp = s + 1;
	return finish_part(buf, len, out, err, errlen);
}

/* An unquoted part: fold ASCII upper case, stop at '.' or the end. */
static bool
parse_unquoted(const char **sp, char *buf, char **out, char *err, size_t errlen)
{
	const unsigned char *s = (const unsigned char *) *sp;
	size_t len = 0;
	char msg[128];

	if (*s == '\0')
		return fail(err, errlen, "empty name");
	if (*s == '.')
		return fail(err, errlen, "missing name before '.'");
	if (is_space(*s))
		return fail(err, errlen, "unexpected whitespace before a name");
	if ((*s >= '0' && *s <= '9') || *s == '$')
	{
		snprintf(msg, sizeof(msg),
				 "unquoted name must not start with '%c'; quote it", *s);
		return fail(err, errlen, msg);
	}
	for (; *s != '\0' && *s != '.' && *s != '"'; s++)
	{
		if (is_space(*s))
			return fail(err, errlen,
						"unexpected whitespace; quote names that contain spaces");
		if (!is_ident_char(*s))
		{
			if (*s < 0x20 || *s == 0x7f)
				snprintf(msg, sizeof(msg),
						 "invalid control character 0x%02x in a name", *s);
			else
				snprintf(msg, sizeof(msg),
						 "invalid character '%c' in unquoted name; quote the name",
						 *s);
			return fail(err, errlen, msg);
		}
		buf[len++] = (*s >= 'A' && *s <= 'Z') ? (char) (*s - 'A' + 'a') : (char) *s;
	}
	if (*s == '"')
		return fail(err, errlen, "unexpected '\"' inside an unquoted name");
	*sp = (const char *) s;
	return finish_part(buf, len, out, err, errlen);
}

/* One part, quoted or not; *sp is advanced past it. */
static bool
parse_part(const char **sp, char **out, char *err, size_t errlen)
{
	char *buf = malloc(strlen(*sp) + 1);
	bool ok;

	if (buf == NULL)
		return fail(err, errlen, "out of memory");
	if (**sp == '"')
		ok = parse_quoted(sp, buf, out, err, errlen);
	else
		ok = parse_unquoted(sp, buf, out, err, errlen);
	free(buf);
	return ok;
}

/* What may follow a part: the end, a dot, or (wrongly) something else. */
static bool
check_after_part(const char *s, char *err, size_t errlen)
{
	char msg[128];

	if (*s == '\0' || *s == '.')
		return true;
	if (is_space((unsigned char) *s))
		return fail(err, errlen, "unexpected whitespace after a name");
	snprintf(msg, sizeof(msg),
			 "unexpected '%c' after quoted identifier", *s);
	return fail(err, errlen, msg);
}

bool
sqlname_parse_ident(const char *s, char **ident, char *err, size_t errlen)
{
	char *part = NULL;

	if (!parse_part(&s, &part, err, errlen))
		return false;
	if (!check_after_part(s, err, errlen))
	{
		free(part);
		return false;
	}
	if (*s == '.')
	{
		free(part);
		return fail(err, errlen,
					"unexpected '.' in a column name; quote names that contain dots");
	}
	*ident = part;
	return true;
}

bool
sqlname_parse_qualified(const char *s, char **schema, char **rel,
						char *err, size_t errlen)
{
	char *first = NULL;
	char *second = NULL;

	if (!parse_part(&s, &first, err, errlen))
		return false;
	if (!check_after_part(s, err, errlen))
		goto fail;
	if (*s == '\0')
	{
		second = first;
		first = strdup("public");
		if (first == NULL)
		{
			fail(err, errlen, "out of memory");
			goto fail;
		}
	}
	else
	{
		s++;					/* the dot */
		if (*s == '\0')
		{
			fail(err, errlen, "missing table name after '.'");
			goto fail;
		}
		if (!parse_part(&s, &second, err, errlen))
			goto fail;
		if (!check_after_part(s, err, errlen))
			goto fail;
		if (*s == '.')
		{
			fail(err, errlen,
				 "too many dots: write schema.table, and quote names that contain dots");
			goto fail;
		}
	}
	*schema = first;
	*rel = second;
	return true;

fail:
	free(first);
	free(second);
	return false;
}

/* True when the name displays without quotes: [a-z_][a-z0-9_$]*. */
static bool
is_bare(const char *ident)
{
	const char *s = ident;

	if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s != '\0'; s++)
	{
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
			  *s == '_' || *s == '$'))
			return false;
	}
	return true;
}

char *
sqlname_quote(const char *ident)
{
	size_t quotes = 0;
	char *out;
	char *o;

	if (is_bare(ident))
		return strdup(ident);
	for (const char *s = ident; *s != '\0'; s++)
		quotes += (*s == '"');
	out = malloc(strlen(ident) + quotes + 3);
	if (out == NULL)
		return NULL;
	o = out;
	*o++ = '"';
	for (const char *s = ident; *s != '\0'; s++)
	{
		if (*s == '"')
			*o++ = '"';
		*o++ = *s;
	}
	*o++ = '"';
	*o = '\0';
	return out;
}

char *
sqlname_quote_qualified(const char *schema, const char *rel)
{
	char *qs = sqlname_quote(schema);
	char *qr = sqlname_quote(rel);
	char *out = NULL;

	if (qs != NULL && qr != NULL)
	{
		size_t len = strlen(qs) + strlen(qr) + 2;

		out = malloc(len);
		if (out != NULL)
			snprintf(out, len, "%s.%s", qs, qr);
	}
	free(qs);
	free(qr);
	return out;
}
