/*
 * xalloc.h — allocation that aborts on out-of-memory.
 *
 * pgreshard's memory is bounded by its buffers; running out means the system
 * is in trouble, and a clean abort (every step being idempotent and
 * checkpointed) is the safe answer.  The message names the size requested.
 */
#ifndef PGR_XALLOC_H
#define PGR_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
