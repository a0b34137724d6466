/*
 * strbuf.c — growable string buffer.  See strbuf.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "xalloc.h"

void
sb_init(strbuf *sb)
{
	sb->cap = 64;
	sb->len = 0;
	sb->data = xmalloc(sb->cap);
	sb->data[0] = '\0';
}

void
sb_free(strbuf *sb)
{
	free(sb->data);
	sb->data = NULL;
	sb->len = sb->cap = 0;
}

void
sb_reset(strbuf *sb)
{
	sb->len = 0;
	if (sb->data)
		sb->data[0] = '\0';
}

char *
sb_reserve(strbuf *sb, size_t n)
{
	if (sb->len + n + 1 > sb->cap)
	{
		size_t		cap = sb->cap ? sb->cap : 64;

		while (sb->len + n + 1 > cap)
			cap *= 2;
		sb->data = xrealloc(sb->data, cap);
		sb->cap = cap;
	}
	return sb->data + sb->len;
}

void
sb_append_len(strbuf *sb, const char *s, size_t len)
{
	char	   *dst = sb_reserve(sb, len);

	memcpy(dst, s, len);
	sb->len += len;
	sb->data[sb->len] = '\0';
}

void
sb_append(strbuf *sb, const char *s)
{
	sb_append_len(sb, s, strlen(s));
}

void
sb_append_char(strbuf *sb, char c)
{
	sb_append_len(sb, &c, 1);
}

void
sb_vprintf(strbuf *sb, const char *fmt, va_list ap)
{
	va_list		ap2;
	int			n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	sb_reserve(sb, (size_t) n);
	vsnprintf(sb->data + sb->len, (size_t) n + 1, fmt, ap);
	sb->len += (size_t) n;
}

void
sb_printf(strbuf *sb, const char *fmt, ...)
{
	va_list		ap;

	va_start(ap, fmt);
	sb_vprintf(sb, fmt, ap);
	va_end(ap);
}

char *
sb_steal(strbuf *sb)
{
	char	   *d = sb->data;

	sb->data = NULL;
	sb->len = sb->cap = 0;
	return d;
}
