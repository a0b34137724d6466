/*
 * stream_tables.c — what the stream needs to know about each moved table:
 * the columns pgoutput sends (the non-generated ones, in attnum order), the
 * sharding key and primary key positions among them, and (through
 * chunk_member.c) the chunks that a rerun copied under a snapshot newer
 * than the slot (DESIGN.md invariant 4).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sqlname.h"
#include "state.h"
#include "stream.h"
#include "xalloc.h"

int
stream_col_index(const stream_table *t, const char *name)
{
	for (int i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i], name) == 0)
			return i;
	return -1;
}

const char *
stream_insert_overriding(const stream_table *t)
{
	return t->has_always_ident ? " OVERRIDING SYSTEM VALUE" : "";
}

bool
stream_identity_changed(const stream_table *t, const pgo_tuple *ident, const pgo_tuple *new_tup)
{
	if (!t->has_always_ident || ident == new_tup)
		return false;
	for (int i = 0; i < t->ncols && i < ident->ncols && i < new_tup->ncols; i++)
	{
		const pgo_value *a = &ident->cols[i], *b = &new_tup->cols[i];

		if (t->always_ident[i] && a->kind == PGO_TEXT && b->kind == PGO_TEXT &&
			(a->len != b->len || memcmp(a->data, b->data, a->len) != 0))
			return true;
	}
	return false;
}

/*
 * The text of the statements prepared on every shard connection (see
 * stream_sql.c): values are parameters, $1.. in column order, then the
 * primary key's columns for the UPDATE's WHERE.
 *
 * A GENERATED ALWAYS identity column cannot be assigned by UPDATE (SQLSTATE
 * 428C9), so the UPDATE leaves it out; its parameter is still referenced,
 * typed, in a condition that is always true, so the statement keeps one
 * parameter per column.  A changed identity value never reaches this
 * statement: stream_identity_changed() sends it as DELETE + INSERT.
 */
void
stream_table_statements(stream_table *t)
{
	strbuf		sb;
	bool		pk_ok = t->npk > 0;
	int			set = 0;

	for (int kind = 0; kind < STMT_KINDS; kind++)
	{
		free(t->sql[kind]);
		t->sql[kind] = NULL;
	}

	for (int k = 0; k < t->npk; k++)
		pk_ok = pk_ok && t->pk_col[k] >= 0;
	sb_init(&sb);
	if (t->clock_rel != NULL)
		stream_clock_insert(&sb, t, 1);
	else
	{
		sb_printf(&sb, "INSERT INTO %s (", t->qname);
		for (int i = 0; i < t->ncols; i++)
			sb_printf(&sb, "%s%s", i ? ", " : "", t->qcols[i]);
		sb_printf(&sb, ")%s VALUES (", stream_insert_overriding(t));
		for (int i = 0; i < t->ncols; i++)
			sb_printf(&sb, "%s$%d", i ? ", " : "", i + 1);
		sb_append(&sb, ")");
		stream_upsert_clause(&sb, t);
	}
	t->sql[STMT_INSERT] = sb_steal(&sb);
	if (pk_ok && t->nsettable > 0)
	{
		sb_init(&sb);
		sb_printf(&sb, "UPDATE %s SET ", t->qname);
		for (int i = 0; i < t->ncols; i++)
			if (!t->always_ident[i])
				sb_printf(&sb, "%s%s = $%d", set++ ? ", " : "", t->qcols[i], i + 1);
		sb_append(&sb, " WHERE ");
		for (int k = 0; k < t->npk; k++)
			sb_printf(&sb, "%s%s = $%d", k ? " AND " : "", t->qcols[t->pk_col[k]], t->ncols + k + 1);
		for (int i = 0; i < t->ncols; i++)
			if (t->always_ident[i])
				sb_printf(&sb, " AND ($%d::%s IS NULL OR true)", i + 1, t->types[i]);
		stream_owner_cond(&sb, t, t->qname);
		t->sql[STMT_UPDATE] = sb_steal(&sb);
		sb_init(&sb);
		sb_printf(&sb, "DELETE FROM %s WHERE ", t->qname);
		for (int k = 0; k < t->npk; k++)
			sb_printf(&sb, "%s%s = $%d", k ? " AND " : "", t->qcols[t->pk_col[k]], k + 1);
		stream_owner_cond(&sb, t, t->qname);
		t->sql[STMT_DELETE] = sb_steal(&sb);
	}
	for (int kind = 0; kind < STMT_KINDS; kind++)
		snprintf(t->stmt_name[kind], sizeof(t->stmt_name[kind]), "pgr_%c%d_g%d", "iud"[kind], t->index,
				 t->generation);
}

static void
build_one(apply_ctx *ctx, pgr_conn *c, int ti, stream_table *t)
{
	const plan_table *pt = &ctx->plan->tables[ti];
	const src_table *st = catalog_table(ctx->cat, ti);

	t->index = ti;
	t->display = sqlname_quote_qualified(pt->schema, pt->relname);
	t->qname = pgr_quote_qualified(c, pt->schema, pt->relname);
	t->replicate = pt->replicate;
	t->cols = xcalloc((size_t) st->ncols + 1, sizeof(char *));
	t->qcols = xcalloc((size_t) st->ncols + 1, sizeof(char *));
	t->types = xcalloc((size_t) st->ncols + 1, sizeof(char *));
	t->always_ident = xcalloc((size_t) st->ncols + 1, sizeof(bool));
	for (int i = 0; i < st->ncols; i++)
		if (!st->cols[i].generated)
		{
			t->always_ident[t->ncols] = st->cols[i].identity == 'a';
			t->has_always_ident = t->has_always_ident || st->cols[i].identity == 'a';
			t->nsettable += st->cols[i].identity != 'a';
			t->types[t->ncols] = xstrdup(st->cols[i].type);
			t->cols[t->ncols] = xstrdup(st->cols[i].name);
			t->qcols[t->ncols++] = pgr_quote_ident(c, st->cols[i].name);
		}
	t->nkeys = pt->nkeys;
	for (int k = 0; k < pt->nkeys && k < 32; k++)
	{
		t->key_col[k] = stream_col_index(t, pt->keys[k]);
		t->key_types[k] = st->key_types[k];
	}
	t->npk = st->npk < 32 ? st->npk : 32;
	for (int k = 0; k < t->npk; k++)
		t->pk_col[k] = stream_col_index(t, st->pk[k]);
	t->pt = pt;
	t->lua_route = ctx->plan->sharding == SHARD_FN_LUA && !pt->replicate;
	if (t->lua_route)
	{
		/* pgoutput sends the stored columns: t->cols are those, in order */
		t->route_col = xcalloc((size_t) t->ncols + 1, sizeof(int));
		for (int i = 0, c = 0; i < st->ncols; i++)
			if (!st->cols[i].generated)
			{
				if (src_table_route_reads(pt, st, i))
					t->route_col[t->nroute++] = c;
				c++;
			}
	}
	stream_table_statements(t);
}

/*
 * Readers run in parallel (one per source), so each reads the state over its
 * own connection to shard 0: a libpq connection is never shared by threads.
 */
bool
stream_tables_build(apply_ctx *ctx, const stream_dir *dir, int source, stream_table **out)
{
	stream_table *tables = xcalloc((size_t) ctx->plan->ntables, sizeof(stream_table));
	char	   *slot;
	pgr_conn   *state = connect_shard(ctx->plan, 0);
	uint64_t	slot_lsn = 0;
	bool		ok = state != NULL;

	for (int i = 0; ok && i < ctx->plan->ntables; i++)
		build_one(ctx, state, i, &tables[i]);
	if (dir->reverse)
	{
		/* no chunk was copied later than the reverse slot: it begins at the cutover */
		for (int i = 0; ok && i < ctx->plan->ntables; i++)
			stream_table_reverse(ctx, dir, source, &tables[i]);
		pgr_disconnect(state);
		if (ok)
			*out = tables;
		else
			stream_tables_free(tables, ctx->plan->ntables, 0);
		return ok;
	}
	slot = slot_name(ctx->plan);
	ok = ok && state_slot_lsn_get(state, ctx->plan, slot, ctx->sources[source].role, &slot_lsn);
	free(slot);
	if (ok && slot_lsn == 0)
	{
		log_error("%s: the slot's consistent point is not recorded in the ledger", ctx->sources[source].role);
		ok = false;
	}
	if (!ok || !stream_late_load(ctx, state, source, slot_lsn, tables))
	{
		pgr_disconnect(state);
		stream_tables_free(tables, ctx->plan->ntables, ctx->plan->nshards);
		return false;
	}
	pgr_disconnect(state);
	*out = tables;
	return true;
}

void
stream_tables_free(stream_table *tables, int n, int nshards)
{
	(void) nshards;
	for (int i = 0; tables && i < n; i++)
	{
		stream_table *t = &tables[i];

		for (int c = 0; c < t->ncols; c++)
		{
			free(t->cols[c]);
			free(t->qcols[c]);
			free(t->types[c]);
		}
		stream_late_free(t);
		for (int k = 0; k < STMT_KINDS; k++)
			free(t->sql[k]);
		free(t->cols);
		free(t->qcols);
		free(t->types);
		free(t->always_ident);
		free(t->route_col);
		free(t->display);
		free(t->qname);
		free(t->owner_rel);
		free(t->clock_rel);
	}
	free(tables);
}
