/*
 * stream_params.c — the parameter values of one statement to a shard.
 *
 * A stmt_params keeps NUL-terminated copies of the values (libpq's text
 * format) in one growing buffer, with offsets rather than pointers so the
 * buffer may move as it grows; params_values() hands libpq the pointers
 * right before a send.  Runs of rows (stream_run.c) append one row's
 * values after another.  The buffers are reused, never freed per change.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"
#include "xalloc.h"

void
params_reset(stmt_params *p)
{
	p->n = 0;
	sb_reset(&p->text);
}

static void
params_grow(stmt_params *p, int more)
{
	if (p->n + more <= p->cap)
		return;
	while (p->n + more > p->cap)
		p->cap = p->cap ? p->cap * 2 : 64;
	p->values = xrealloc(p->values, sizeof(*p->values) * (size_t) p->cap);
	p->offs = xrealloc(p->offs, sizeof(*p->offs) * (size_t) p->cap);
}

/* Add a value: text is copied (NUL-terminated, as libpq wants), 'n' is NULL. */
void
params_add(stmt_params *p, const pgo_value *v)
{
	params_grow(p, 1);
	if (v->kind == PGO_NULL)
		p->offs[p->n++] = SIZE_MAX;
	else
	{
		p->offs[p->n++] = p->text.len;
		sb_append_len(&p->text, v->data, v->len);
		sb_append_char(&p->text, '\0');
	}
}

/* Add every value of src after those of dst. */
void
params_append(stmt_params *dst, const stmt_params *src)
{
	size_t		base = dst->text.len;

	params_grow(dst, src->n);
	sb_append_len(&dst->text, src->text.data, src->text.len);
	for (int i = 0; i < src->n; i++)
		dst->offs[dst->n++] = src->offs[i] == SIZE_MAX ? SIZE_MAX : base + src->offs[i];
}

/* Add value i of src. */
void
params_copy(stmt_params *dst, const stmt_params *src, int i)
{
	params_grow(dst, 1);
	if (src->offs[i] == SIZE_MAX)
		dst->offs[dst->n++] = SIZE_MAX;
	else
	{
		const char *v = src->text.data + src->offs[i];

		dst->offs[dst->n++] = dst->text.len;
		sb_append_len(&dst->text, v, strlen(v) + 1);
	}
}

/* The values as libpq takes them (valid until the next params_add). */
const char *const *
params_values(stmt_params *p)
{
	for (int i = 0; i < p->n; i++)
		p->values[i] = p->offs[i] == SIZE_MAX ? NULL : p->text.data + p->offs[i];
	return p->values;
}

void
params_free(stmt_params *p)
{
	free(p->values);
	free(p->offs);
	sb_free(&p->text);
	memset(p, 0, sizeof(*p));
}
