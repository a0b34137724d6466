/*
 * strbuf.h — a growable, always NUL-terminated byte buffer.
 *
 * Used to build SQL text, messages and rendered output.  Allocation failure
 * aborts the process (see xalloc.h): pgreshard does not try to run on after
 * the system refused it memory.
 */
#ifndef PGR_STRBUF_H
#define PGR_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct strbuf {
	char *data;
	size_t len;
	size_t cap;
} strbuf;

void sb_init(strbuf *sb);
void sb_free(strbuf *sb);
void sb_reset(strbuf *sb);
void sb_append(strbuf *sb, const char *s);
void sb_append_len(strbuf *sb, const char *s, size_t len);
void sb_append_char(strbuf *sb, char c);
void sb_printf(strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vprintf(strbuf *sb, const char *fmt, va_list ap);
/* Make room for n more bytes; returns where they go (len is not changed). */
char *sb_reserve(strbuf *sb, size_t n);
/* Take ownership of the data; the strbuf is left empty (sb_init to reuse). */
char *sb_steal(strbuf *sb);

#endif
