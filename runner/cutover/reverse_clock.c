/*
 * reverse_clock.c — the row clocks on the sources that order the shards'
 * streams back (why and how they are used: runner/stream/stream_dir.c).
 *
 * One table per moved table with a primary key, when there are several
 * shards: pgreshard.clock_PLAN_I, the primary key's columns (made by CREATE
 * TABLE AS from the table itself, so their types, typmods and collations are
 * the table's own and equality is the primary key's) and
 * pgreshard_commit_us, the commit time of the INSERT last applied for that
 * key.  Ledgered first, so cleanup drops them; made where missing each time
 * the reverse streams start (the cutover's set-up, the apply streaming back,
 * a rollback), so a plan cut over by an older pgreshard gets them too.
 *
 * They grow by one row per key inserted on the shards after the cutover, so
 * the apply streaming back prunes them every few minutes: a clock row only
 * ever refuses an INSERT older than itself, and every shard's stream applies
 * commits in commit order, so once each shard's stream has applied a commit
 * later than the clock row (pgreshard.progress_PLAN.commit_ts on the source,
 * one row per shard) nothing can arrive that it would refuse.  Commit times
 * within one server are taken just before the commit record is written, so
 * two concurrent commits can be out of order by a little: the prune keeps a
 * minute more.  A shard that has applied nothing to a source yet (no
 * progress row) keeps that source's clocks whole.  Cleanup drops them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutover.h"
#include "log.h"
#include "state.h"
#include "stream.h"
#include "strbuf.h"
#include "xalloc.h"

/* CREATE TABLE pgreshard.clock_PLAN_I AS SELECT pk.. FROM t WITH NO DATA; + its key */
static char *
clock_sql(apply_ctx *ctx, pgr_conn *c, int ti, const char *name)
{
	const plan_table *pt = &ctx->plan->tables[ti];
	const src_table *st = catalog_table(ctx->cat, ti);
	char	   *table = pgr_quote_qualified(c, pt->schema, pt->relname);
	strbuf		cols, sb;

	sb_init(&cols);
	for (int k = 0; k < st->npk; k++)
	{
		char	   *q = pgr_quote_ident(c, st->pk[k]);

		sb_printf(&cols, "%s%s", k ? ", " : "", q);
		free(q);
	}
	sb_init(&sb);
	sb_printf(&sb, "BEGIN; CREATE TABLE pgreshard.%s AS SELECT %s FROM %s WITH NO DATA; "
			  "ALTER TABLE pgreshard.%s ADD COLUMN pgreshard_commit_us bigint NOT NULL, "
			  "ADD PRIMARY KEY (%s); COMMIT", name, cols.data, table, name, cols.data);
	sb_free(&cols);
	free(table);
	return sb_steal(&sb);
}

/* Moved table ti has a row clock: several shards, a primary key, not replicated. */
static bool
has_clock(const apply_ctx *ctx, int ti)
{
	return ctx->plan->nshards > 1 && !ctx->plan->tables[ti].replicate && catalog_table(ctx->cat, ti)->npk > 0;
}

/* A session on source i that may write pgreshard's own tables there (its
 * write guard may make it read-only), with the given extra settings. */
static pgr_conn *
clock_session(apply_ctx *ctx, int i, const char *settings)
{
	pgr_conn   *c = pgr_connect(ctx->plan->source_dsns[i], ctx->sources[i].role, 0);
	char	   *sql = xasprintf("SET default_transaction_read_only = off%s", settings);

	if (c != NULL && !pgr_exec(c, "allowing pgreshard's own tables to be written", sql, 0, NULL))
	{
		pgr_disconnect(c);
		c = NULL;
	}
	free(sql);
	return c;
}

static bool
ensure_on_source(apply_ctx *ctx, int i)
{
	const plan *p = ctx->plan;
	const char *role = ctx->sources[i].role;
	pgr_conn   *c = NULL;
	bool		ok = true;

	for (int ti = 0; ok && ti < p->ntables; ti++)
	{
		char	   *name, *qualified;
		const char *params[1];
		PGresult   *res;

		if (!has_clock(ctx, ti))
			continue;
		name = reverse_clock_table(p, ti);
		qualified = xasprintf("pgreshard.%s", name);
		params[0] = qualified;
		ok = state_ledger_add(ctx->state, p, "table", name, role) &&
			(c != NULL || (c = clock_session(ctx, i, "")) != NULL);
		res = ok ? pgr_query(c, "looking for a row clock table", "SELECT to_regclass($1) IS NULL", 1, params) : NULL;
		ok = res != NULL;
		if (ok && strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		{
			char	   *sql = clock_sql(ctx, c, ti, name);

			ok = pgr_exec(c, "creating the row clock table of the streams back", sql, 0, NULL);
			free(sql);
		}
		PQclear(res);
		free(qualified);
		free(name);
	}
	pgr_disconnect(c);
	return ok;
}

/*
 * One clock table's DELETE.  The readers upsert clock rows meanwhile: a
 * deadlock or a lock wait past lock_timeout is not an error but a prune
 * deferred (a warning; the caller tries again soon).
 */
static bool
prune_one(pgr_conn *c, const char *sql, const char *const *params)
{
	PGresult   *res = PQexecParams(c->pg, sql, 2, NULL, params, NULL, NULL, 0);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok && state &&
		(strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0 || strcmp(state, "55P03") == 0))
		log_warn("%s: pruning a row clock table of the streams back: deferred (SQLSTATE %s, the "
				 "streams hold its rows)", c->role, state);
	else if (!ok)
		pgr_report_result(c, "pruning a row clock table of the streams back", res);
	PQclear(res);
	return ok;
}

/* Forget the clock rows that no shard's stream can contradict any more. */
static bool
prune_on_source(apply_ctx *ctx, int i)
{
	const plan *p = ctx->plan;
	char	   *progress = reverse_progress_table(p), nshards[16];
	const char *params[2] = {p->name, nshards};
	pgr_conn   *c = NULL;
	bool		ok = true;

	snprintf(nshards, sizeof(nshards), "%d", p->nshards);
	for (int ti = 0; ok && ti < p->ntables; ti++)
	{
		char	   *name, *sql;

		if (!has_clock(ctx, ti))
			continue;
		if (c == NULL && (c = clock_session(ctx, i, "; SET lock_timeout = '2s'")) == NULL)
		{
			ok = false;
			break;
		}
		name = reverse_clock_table(p, ti);
		/* plan names are [a-z0-9_]: no quoting needed */
		sql = xasprintf("DELETE FROM pgreshard.%s WHERE pgreshard_commit_us < ("
						"SELECT CASE WHEN count(commit_ts) = $2::int THEN (extract(epoch FROM min(commit_ts) - "
						"timestamptz '2000-01-01 00:00:00+00') * 1000000)::bigint - 60000000 END "
						"FROM pgreshard.%s WHERE plan_name = $1)", name, progress);
		ok = ok && prune_one(c, sql, params);
		free(sql);
		free(name);
	}
	pgr_disconnect(c);
	free(progress);
	return ok;
}

bool
reverse_clocks_prune(apply_ctx *ctx)
{
	bool		ok = true;

	for (int i = 0; ok && i < ctx->plan->nsources; i++)
		ok = prune_on_source(ctx, i);
	return ok;
}

bool
reverse_clocks_ensure(apply_ctx *ctx)
{
	bool		ok = true;

	for (int i = 0; ok && i < ctx->plan->nsources; i++)
		ok = ensure_on_source(ctx, i);
	return ok;
}
