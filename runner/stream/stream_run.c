/*
 * stream_run.c — runs of same-kind changes to one table, sent as one statement.
 *
 * A shard's executor start-up and shut-down per statement is a good part of
 * its work when every change is its own statement.  So consecutive INSERTs,
 * UPDATEs by primary key or DELETEs by primary key of one table on one shard
 * are held back as a "run" (at most RUN_MAX rows) and sent as one statement
 * of n rows, prepared on the connection the first time a run of n rows comes:
 *
 *   INSERT INTO t (c..) VALUES ($1, ..), ($k, ..), ...
 *   UPDATE t AS d SET c = v.c1, ... FROM (VALUES ($1::type, ..), ...) AS v(c1, ..)
 *     WHERE d.pk = v.ck
 *   DELETE FROM t WHERE pk IN ($1, $2, ...)   (a composite key: USING (VALUES ...))
 *
 * Any other statement for that shard (another table or kind, a TRUNCATE, a
 * query whose answer is needed now, the group commit, a Sync before idling)
 * sends the run first, so the shard applies changes in source order.  An
 * UPDATE joins a run only if it keeps its primary key and no row of the run
 * has that key: then the set-based statement does exactly what the row by
 * row ones would.  A run of one row uses the one-row statement.
 *
 * A run that the shard refuses is not reported as such: the reader replays
 * from the slot with runs off (r->batch), so the message names the row.
 *
 * This file and stream_batch.c call each other, on purpose: a run is a
 * write-combining buffer in front of the shard's pipeline.  A run is sent
 * through the pipeline (shard_send_stmt), and the pipeline must send the
 * pending run before anything else enters it (run_flush), or a shard would
 * apply changes out of source order.  They are one mechanism kept in two
 * files for size; the statements' values live apart (stream_params.c) and
 * the statements themselves above both (stream_sql.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "stream.h"
#include "xalloc.h"

#define RUN_MAX 64				/* rows per statement (bits of run_prepared) */
#define MAX_PARAMS 65535		/* the protocol's limit per statement */

/* "($1::type, ...), (...)": n rows of the given columns, typed or not. */
static void
values_rows(strbuf *sb, const stream_table *t, const int *cols, int ncols, int n, bool typed)
{
	for (int row = 0; row < n; row++)
	{
		sb_append(sb, row ? ", (" : "(");
		for (int i = 0; i < ncols; i++)
		{
			sb_printf(sb, "%s$%d", i ? ", " : "", row * ncols + i + 1);
			if (typed)
				sb_printf(sb, "::%s", t->types[cols[i]]);
		}
		sb_append(sb, ")");
	}
}

/* The text of table t's statement of `kind` for n rows. */
static char *
run_sql(const stream_table *t, int kind, int n)
{
	strbuf		sb;
	int		   *all = xcalloc((size_t) t->ncols + 1, sizeof(int));

	for (int i = 0; i < t->ncols; i++)
		all[i] = i;
	sb_init(&sb);
	if (kind == STMT_INSERT && t->clock_rel != NULL)
		stream_clock_insert(&sb, t, n);
	else if (kind == STMT_INSERT)
	{
		sb_printf(&sb, "INSERT INTO %s (", t->qname);
		for (int i = 0; i < t->ncols; i++)
			sb_printf(&sb, "%s%s", i ? ", " : "", t->qcols[i]);
		sb_printf(&sb, ")%s VALUES ", stream_insert_overriding(t));
		values_rows(&sb, t, all, t->ncols, n, false);
		stream_upsert_clause(&sb, t);
	}
	else if (kind == STMT_UPDATE)
	{
		sb_printf(&sb, "UPDATE %s AS d SET ", t->qname);
		for (int i = 0, set = 0; i < t->ncols; i++)
			if (!t->always_ident[i])	/* never assigned: see stream_tables.c */
				sb_printf(&sb, "%s%s = v.c%d", set++ ? ", " : "", t->qcols[i], i + 1);
		sb_append(&sb, " FROM (VALUES ");
		values_rows(&sb, t, all, t->ncols, n, true);
		sb_append(&sb, ") AS v(");
		for (int i = 0; i < t->ncols; i++)
			sb_printf(&sb, "%sc%d", i ? ", " : "", i + 1);
		sb_append(&sb, ") WHERE ");
		for (int k = 0; k < t->npk; k++)
			sb_printf(&sb, "%sd.%s = v.c%d", k ? " AND " : "", t->qcols[t->pk_col[k]], t->pk_col[k] + 1);
		stream_owner_cond(&sb, t, "d");
	}
	else if (t->npk == 1)
	{
		sb_printf(&sb, "DELETE FROM %s WHERE %s IN (", t->qname, t->qcols[t->pk_col[0]]);
		for (int row = 0; row < n; row++)
			sb_printf(&sb, "%s$%d", row ? ", " : "", row + 1);
		sb_append(&sb, ")");
		stream_owner_cond(&sb, t, t->qname);
	}
	else
	{
		sb_printf(&sb, "DELETE FROM %s AS d USING (VALUES ", t->qname);
		values_rows(&sb, t, t->pk_col, t->npk, n, true);
		sb_append(&sb, ") AS v(");
		for (int k = 0; k < t->npk; k++)
			sb_printf(&sb, "%sc%d", k ? ", " : "", k + 1);
		sb_append(&sb, ") WHERE ");
		for (int k = 0; k < t->npk; k++)
			sb_printf(&sb, "%sd.%s = v.c%d", k ? " AND " : "", t->qcols[t->pk_col[k]], k + 1);
		stream_owner_cond(&sb, t, "d");
	}
	free(all);
	return sb_steal(&sb);
}

/* Value i of row `row` of the run, as text (never NULL for a key). */
static const char *
run_value(const change_run *run, int row, int i)
{
	size_t		off = run->vals.offs[row * run->width + i];

	return off == SIZE_MAX ? NULL : run->vals.text.data + off;
}

/* An UPDATE run already has a row with the primary key in p (the one-row
 * statement's values: the columns, then the key). */
static bool
run_has_key(const change_run *run, const stream_table *t, const stmt_params *p)
{
	for (int row = 0; row < run->rows; row++)
	{
		bool		same = true;

		for (int k = 0; k < t->npk && same; k++)
		{
			const char *a = run_value(run, row, t->ncols + k);
			size_t		off = p->offs[t->ncols + k];

			same = a != NULL && off != SIZE_MAX && strcmp(a, p->text.data + off) == 0;
		}
		if (same)
			return true;
	}
	return false;
}

/*
 * Add the change whose one-row statement of `kind` has r->params as values
 * to shard s's run (sending the run before it first when it cannot join).
 */
bool
run_add(stream_reader *r, int s, const stream_table *t, int kind, const char *key)
{
	change_run *run = &r->shards[s].run;

	if (!r->batch)
		return shard_send_change(r, s, "IUD"[kind], t, kind, NULL, key);
	if (run->rows > 0 &&
		(run->table != t->index || run->kind != kind || run->rows == RUN_MAX ||
		 (run->rows + 1) * run->width > MAX_PARAMS ||
		 (kind == STMT_UPDATE && run_has_key(run, t, &r->params))) &&
		!run_flush(r, s))
		return false;
	if (!shard_begin(r, s))
		return false;
	if (run->rows == 0)
	{
		run->table = t->index;
		run->kind = kind;
		run->width = r->params.n;
		snprintf(run->first, sizeof(run->first), "%s", key);
	}
	snprintf(run->last, sizeof(run->last), "%s", key);
	params_append(&run->vals, &r->params);
	run->rows++;
	return true;
}

/* Send shard s's run, if any. */
bool
run_flush(stream_reader *r, int s)
{
	shard_conn *sc = &r->shards[s];
	change_run *run = &sc->run;
	const stream_table *t;
	uint64_t   *prepared;
	char		op, keys[100], name[32];
	stmt_params *args = &run->vals;
	int			rows = run->rows;
	bool		ok;

	if (rows == 0)
		return true;
	t = &r->tables[run->table];
	op = "IUD"[run->kind];
	run->rows = 0;				/* sent or failed: either way gone */
	if (rows == 1)
		ok = shard_send_stmt(r, s, op, t, run->kind, NULL, run->first, 1, &run->vals);
	else
	{
		/* an UPDATE row carries its key again after the columns: not needed */
		if (run->kind == STMT_UPDATE)
		{
			args = &run->args;
			params_reset(args);
			for (int row = 0; row < rows; row++)
				for (int i = 0; i < t->ncols; i++)
					params_copy(args, &run->vals, row * run->width + i);
		}
		snprintf(name, sizeof(name), "pgr_%c%d_g%d_%d", "iud"[run->kind], t->index, t->generation, rows);
		prepared = &sc->run_prepared[t->index * STMT_KINDS + run->kind];
		ok = true;
		if (!(*prepared & (UINT64_C(1) << (rows - 1))))
		{
			char	   *sql = run_sql(t, run->kind, rows);

			ok = shard_begin(r, s) && shard_prepare(r, s, t, name, sql);
			free(sql);
			*prepared |= UINT64_C(1) << (rows - 1);
		}
		snprintf(keys, sizeof(keys), "%s .. %s", run->first, run->last);
		ok = ok && shard_send_stmt(r, s, op, t, STMT_NAMED, name, keys, rows, args);
	}
	params_reset(&run->vals);
	return ok;
}

void
run_reset(change_run *run)
{
	run->rows = 0;
	params_reset(&run->vals);
}

void
run_free(change_run *run)
{
	params_free(&run->vals);
	params_free(&run->args);
}
