/*
 * stream_hooks.c — the plan's Lua hooks in the stream: routing changes
 * with the route hook and checking inserted and updated rows with the
 * validate hook.  Each reader thread has its own Lua state.
 *
 * A change carries text values ('t'), NULLs ('n') and, in an UPDATE,
 * unchanged TOASTed values ('u') that are not sent.  The route hook gets
 * the columns it reads (`reads:`, else every column); when one of them is
 * not in the change the route is unknown here and the caller finds the row
 * on the shards.  The validate hook gets every column the change carries;
 * unchanged TOASTed values are absent (nil).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hooks.h"
#include "log.h"
#include "state.h"
#include "stream.h"
#include "xalloc.h"

bool
stream_hooks_open(stream_reader *r)
{
	const plan *p = r->ctx->plan;

	/* the reverse stream routes by the built-in hash and validates nothing:
	 * what the shards hold was valid when it got there */
	if (r->hooks != NULL || (r->dir->reverse && (p->nsources < 2 || p->hooks.source_route == NULL)) ||
		(!r->dir->reverse && p->sharding != SHARD_FN_LUA && p->hooks.validate == NULL))
		return true;
	return hooks_open(p, &r->hooks);
}

void
stream_hooks_close(stream_reader *r)
{
	hooks_close(r->hooks);
	r->hooks = NULL;
	free(r->hook_vals);
	r->hook_vals = NULL;
	r->hook_cap = 0;
	pgr_disconnect(r->vstate);
	r->vstate = NULL;
	if (r->violations > 0)
		log_warn("%s: stream: the validate hook rejected %lld row(s); with validate_mode: report "
				 "they were applied anyway; the first %d are kept in pgreshard.violations",
				 r->role, r->violations, VIOLATIONS_KEPT);
}

/* The reader's row for hooks, every column absent (nil); grown, never
 * allocated per change. */
static key_value *
hook_values(stream_reader *r, const stream_table *t)
{
	if (t->ncols > r->hook_cap)
	{
		r->hook_vals = xrealloc(r->hook_vals, sizeof(key_value) * (size_t) t->ncols);
		r->hook_cap = t->ncols;
	}
	for (int i = 0; i < t->ncols; i++)
		r->hook_vals[i] = (key_value) {NULL, 0, true};
	return r->hook_vals;
}

/* Column c of the tuple into vals[c] when the tuple carries its value. */
static void
take_value(key_value *vals, const pgo_tuple *tup, int c)
{
	if (c < tup->ncols && tup->cols[c].kind == 't')
		vals[c] = (key_value) {tup->cols[c].data, tup->cols[c].len, false};
}

/* The row's key as "(col, ...)=(value, ...)" for messages. */
static void
tuple_key(const stream_table *t, const pgo_tuple *tup, strbuf *out)
{
	const int  *cols = t->npk > 0 ? t->pk_col : t->key_col;
	int			n = t->npk > 0 ? t->npk : t->nkeys;

	if (n == 0)
	{
		sb_append(out, "(a row without a key)");
		return;
	}
	sb_append(out, "(");
	for (int k = 0; k < n; k++)
		sb_printf(out, "%s%s", k ? ", " : "", cols[k] >= 0 ? t->cols[cols[k]] : "?");
	sb_append(out, ")=(");
	for (int k = 0; k < n; k++)
	{
		const pgo_value *v = cols[k] >= 0 && cols[k] < tup->ncols ? &tup->cols[cols[k]] : NULL;

		if (v == NULL || v->kind == 'u')
			sb_printf(out, "%s?", k ? ", " : "");
		else if (v->kind == 'n')
			sb_printf(out, "%sNULL", k ? ", " : "");
		else
			sb_printf(out, "%s%.*s", k ? ", " : "", (int) (v->len > 100 ? 100 : v->len), v->data);
	}
	sb_append(out, ")");
}

int
stream_route_lua(stream_reader *r, const stream_table *t, const stream_rel *rel,
				 const pgo_tuple *tup, char kind, int *shard)
{
	char		err[HOOK_ERR_LEN];
	key_value  *vals = hook_values(r, t);
	hook_row	row = {t->ncols, (const char *const *) t->cols, vals};

	for (int k = 0; k < t->nroute; k++)
	{
		int			c = t->route_col[k];

		if (c >= tup->ncols || tup->cols[c].kind == 'u')
			return 0;
		/* in an old tuple of kind 'K' only the replica identity columns are real */
		if (kind == 'K' && (rel == NULL || c >= rel->ncols || !rel->ident[c]))
			return 0;
		take_value(vals, tup, c);
	}
	if (r->dir->reverse ? hooks_source_route(r->hooks, t->pt, &row, r->dir->ndown, shard, err, sizeof(err)) :
		hooks_route(r->hooks, t->pt, &row, r->dir->ndown, shard, err, sizeof(err)))
		return 1;
	{
		strbuf		key;

		sb_init(&key);
		tuple_key(t, tup, &key);
		log_error("%s: table %s, key %s: cannot route a change: %s", r->role, t->display, key.data, err);
		sb_free(&key);
	}
	return -1;
}

bool
stream_validate(stream_reader *r, const stream_table *t, const pgo_tuple *tup)
{
	const plan *p = r->ctx->plan;
	char		reason[512], err[HOOK_ERR_LEN];
	key_value  *vals;
	hook_row	row;
	bool		valid, ok;
	strbuf		key;

	if (r->hooks == NULL || p->hooks.validate == NULL || r->dir->reverse)
		return true;
	vals = hook_values(r, t);
	for (int c = 0; c < t->ncols; c++)
		take_value(vals, tup, c);
	row = (hook_row) {t->ncols, (const char *const *) t->cols, vals};
	ok = hooks_validate(r->hooks, t->pt, &row, &valid, reason, sizeof(reason), err, sizeof(err));
	if (ok && valid)
		return true;
	if (ok && p->hooks.validate_mode == VALIDATE_REPORT && r->violations++ >= VIOLATIONS_KEPT)
		return true;			/* counted; only the first ones are kept */
	sb_init(&key);
	tuple_key(t, tup, &key);
	if (!ok)
		log_error("%s: table %s, key %s: validate hook %s failed: %s", r->role, t->display, key.data,
				  p->hooks.validate, err);
	else if (p->hooks.validate_mode == VALIDATE_STOP)
	{
		log_error("%s: stream: table %s, key %s: rejected by validate hook %s: %s; fix the row or "
				  "the hook (or set hooks.validate_mode: report), then rerun apply", r->role,
				  t->display, key.data, p->hooks.validate, reason[0] ? reason : "(no reason given)");
		ok = false;
	}
	else
	{
		if (r->vstate == NULL)
			r->vstate = connect_shard(p, 0);
		ok = r->vstate != NULL &&
			state_violation_add(r->vstate, p, t->display, key.data,
								reason[0] ? reason : "(no reason given)", "stream");
	}
	sb_free(&key);
	return ok;
}
