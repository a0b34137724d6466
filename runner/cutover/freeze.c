/*
 * freeze.c — stopping writes on a source for the cutover, and leaving it
 * read-only afterwards (DESIGN.md invariant 9).
 *
 * lock:      one transaction per source takes EXCLUSIVE locks on the moved
 *            tables (reads go on, writes wait); it is held until the end.
 * read_only: the database's default_transaction_read_only is turned on and
 *            every other client session of the database (but pgreshard's own: a
 *            rollback freezes shard 0, where the state is) is ended, so no
 *            session that began read-write can write after the fence.
 * hook:      the plan's hooks.on_freeze(ctx) does it, once for every source
 *            (its connections stay open until the freeze ends); when the
 *            cutover aborts, hooks.on_unfreeze(ctx) undoes it.
 * After a successful cutover, unless cutover.leave_source_writable, each
 * moved table gets a statement trigger that refuses writes — created inside
 * the freeze, so a write that waited behind the locks fails when they are
 * released instead of landing after the fence.  The trigger function lives
 * in a `pgreshard` schema on the source; both are in the ledger first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "cutover.h"
#include "log.h"
#include "state.h"
#include "stream.h"
#include "strbuf.h"
#include "xalloc.h"

static char *
table_list(pgr_conn *c, const plan *p)
{
	strbuf		sb;

	sb_init(&sb);
	for (int i = 0; i < p->ntables; i++)
	{
		char	   *q = pgr_quote_qualified(c, p->tables[i].schema, p->tables[i].relname);

		sb_printf(&sb, "%s%s", i ? ", " : "", q);
		free(q);
	}
	return sb_steal(&sb);
}

/*
 * Take the locks; an application transaction that writes two moved tables
 * in the other order can deadlock with LOCK TABLE, and the server may pick
 * the freeze as the victim: then roll back and try again (the writer got
 * through) until cutover.timeout_s.
 */
static bool
freeze_lock(apply_ctx *ctx, freeze_session *fs, int timeout_s)
{
	char	   *tables = table_list(fs->conn, ctx->plan);
	char	   *sql = xasprintf("LOCK TABLE %s IN EXCLUSIVE MODE", tables);
	char	   *setup = xasprintf("SET lock_timeout = '%ds'", timeout_s);
	double		deadline = mono_seconds() + timeout_s;
	bool		ok = pgr_exec(fs->conn, "preparing the freeze", setup, 0, NULL);

	for (int attempt = 1; ok; attempt++)
	{
		PGresult   *res;
		const char *code;

		if (!(ok = pgr_exec(fs->conn, "freezing writes", "BEGIN", 0, NULL)))
			break;
		res = PQexec(fs->conn->pg, sql);
		code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (PQresultStatus(res) == PGRES_COMMAND_OK)
		{
			PQclear(res);
			break;
		}
		if (code == NULL || strcmp(code, "40P01") != 0 || mono_seconds() > deadline)
		{
			pgr_report_result(fs->conn, "freezing writes (LOCK TABLE ... IN EXCLUSIVE MODE)", res);
			PQclear(res);
			ok = false;
			break;
		}
		PQclear(res);
		log_warn("%s: freezing writes: a deadlock with an application transaction (attempt %d); "
				 "trying again", fs->conn->role, attempt);
		ok = pgr_exec(fs->conn, "freezing writes", "ROLLBACK", 0, NULL);
	}
	free(setup);
	free(sql);
	free(tables);
	return ok;
}

static bool
freeze_read_only(apply_ctx *ctx, freeze_session *fs)
{
	(void) ctx;
	/* the session setting first, in a transaction of its own: a transaction
	 * that began read-only (the database left read-only by a killed run)
	 * stays so whatever it sets */
	return pgr_exec(fs->conn, "freezing writes (read-only database)",
					"SET default_transaction_read_only = off", 0, NULL) &&
		pgr_exec(fs->conn, "freezing writes (read-only database)",
					"DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET default_transaction_read_only = on', "
					"current_database()); END $$; "
					"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
					"WHERE datname = current_database() AND pid <> pg_backend_pid() "
					"AND backend_type = 'client backend' AND application_name IS DISTINCT FROM 'pgreshard'",
					0, NULL);
}

bool
freeze_source(apply_ctx *ctx, freeze_session *fs, int source)
{
	return freeze_server(ctx, fs, source, ctx->plan->source_dsns[source], ctx->sources[source].role);
}

bool
freeze_server(apply_ctx *ctx, freeze_session *fs, int source, const char *dsn, const char *role)
{
	const plan *p = ctx->plan;
	pgr_conn   *fence_conn;
	char		lsn[32];
	bool		ok;

	fs->source = source;
	fs->dsn = dsn;
	fs->role = role;
	fs->conn = pgr_connect(dsn, role, 0);
	if (fs->conn == NULL)
		return false;
	switch (p->cutover.freeze)
	{
		case FREEZE_LOCK:
			if (!freeze_lock(ctx, fs, p->cutover.timeout_s))
				return false;
			break;
		case FREEZE_READ_ONLY:
			if (!freeze_read_only(ctx, fs))
				return false;
			break;
		case FREEZE_HOOK:
			if (source == 0 && !run_ctx_hook(ctx, &fs->hook, p->hooks.on_freeze, "on_freeze", 0))
			{
				fs->frozen = true;	/* it may have done part of it: unfreeze */
				return false;
			}
			break;
	}
	fs->frozen = true;
	/* the fence: past every commit before the freeze, flushed (see stream_flush_point) */
	if ((fence_conn = pgr_connect(dsn, role, 0)) == NULL)
		return false;
	ok = stream_flush_point(fence_conn, &fs->fence);
	pgr_disconnect(fence_conn);
	if (!ok)
		return false;
	lsn_format(fs->fence, lsn, sizeof(lsn));
	log_info("%s: writes frozen; fence at %s", role, lsn);
	return true;
}

/* The statement triggers that refuse writes to the moved tables, created
 * over `via` (the session that holds the freeze's locks) or fs->conn. */
bool
freeze_install_guard(apply_ctx *ctx, freeze_session *fs, int source, pgr_conn *via)
{
	const plan *p = ctx->plan;
	pgr_conn   *c = via ? via : fs->conn;
	const char *role = fs->role ? fs->role : ctx->sources[source].role;
	char	   *trig = xasprintf("pgreshard_moved_%s", p->name);
	char	   *qtrig = pgr_quote_ident(c, trig);
	char	   *msg = xasprintf("table %%s.%%s was moved to shards by pgreshard plan %s: write to the shards", p->name);
	char	   *lmsg = PQescapeLiteral(c->pg, msg, strlen(msg));
	char	   *fn;
	bool		ok = state_ledger_add(ctx->state, p, "schema", "pgreshard", role) &&
		state_ledger_add(ctx->state, p, "function", "pgreshard.refuse_writes", role) &&
		state_ledger_add(ctx->state, p, "trigger", trig, role);

	fn = xasprintf("CREATE SCHEMA IF NOT EXISTS pgreshard; "
				   "CREATE OR REPLACE FUNCTION pgreshard.refuse_writes() RETURNS trigger LANGUAGE plpgsql AS "
				   "$pgr$ BEGIN RAISE EXCEPTION USING ERRCODE = 'read_only_sql_transaction', MESSAGE = "
				   "format(%s, TG_TABLE_SCHEMA, TG_TABLE_NAME); END $pgr$", lmsg);
	ok = ok && pgr_exec(c, "creating the write guard", fn, 0, NULL);
	for (int i = 0; ok && i < p->ntables; i++)
	{
		char	   *q = pgr_quote_qualified(c, p->tables[i].schema, p->tables[i].relname);
		/* an earlier attempt may have left it (killed after its freeze ended) */
		char	   *sql = xasprintf("DROP TRIGGER IF EXISTS %s ON %s; "
									"CREATE TRIGGER %s BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s "
									"FOR EACH STATEMENT EXECUTE FUNCTION pgreshard.refuse_writes()",
									qtrig, q, qtrig, q);

		ok = pgr_exec(c, "guarding a moved table against writes", sql, 0, NULL);
		free(sql);
		free(q);
	}
	PQfreemem(lmsg);
	free(msg);
	free(fn);
	free(qtrig);
	free(trig);
	return ok;
}

#define UNFREEZE_RETRY_S 120
#define SQL_RESET_READ_ONLY \
	"DO $$ BEGIN EXECUTE format('ALTER DATABASE %I RESET default_transaction_read_only', " \
	"current_database()); END $$"

/*
 * Reset the database's default_transaction_read_only.  Unlike a lock, this
 * outlives a crash of the source: when the session is gone (the source
 * restarted), reconnect with backoff and try again for UNFREEZE_RETRY_S.
 */
static bool
unfreeze_read_only(apply_ctx *ctx, freeze_session *fs)
{
	const char *sql = SQL_RESET_READ_ONLY;
	double		until = mono_seconds() + UNFREEZE_RETRY_S;
	unsigned int delay = 1;

	(void) ctx;

	for (;;)
	{
		if (fs->conn != NULL && pgr_exec(fs->conn, "making the source writable again", sql, 0, NULL))
			return true;
		if ((fs->conn != NULL && PQstatus(fs->conn->pg) == CONNECTION_OK) || mono_seconds() > until)
			break;
		log_warn("%s: the session is gone; making the database writable again in %u s", fs->role, delay);
		sleep(delay);
		delay = delay * 2 > 10 ? 10 : delay * 2;
		pgr_disconnect(fs->conn);
		fs->conn = pgr_connect(fs->dsn, fs->role, 0);
	}
	log_error("cutover: the source is still read-only (ALTER DATABASE ... SET "
			  "default_transaction_read_only = on); run ALTER DATABASE ... RESET "
			  "default_transaction_read_only on it, or rerun apply");
	return false;
}

/*
 * A cutover attempt still "running" in pgreshard.cutovers was interrupted
 * during its freeze (the runner killed, shard 0 lost).  A lock freeze ended
 * with its session; a read-only freeze outlives it: make the sources
 * writable again before the stream catches up for the next attempt.
 */
bool
freeze_recover(apply_ctx *ctx)
{
	const plan *p = ctx->plan;
	const char *params[1] = {p->name};
	PGresult   *res = pgr_query(ctx->state, "looking for an interrupted cutover",
								"SELECT attempt FROM pgreshard.cutovers WHERE plan_name = $1 "
								"AND outcome = 'running'", 1, params);
	bool		ok = res != NULL, any = res != NULL && PQntuples(res) > 0;

	PQclear(res);
	if (!any)
		return ok;
	for (int i = 0; ok && i < p->nsources && p->cutover.freeze == FREEZE_READ_ONLY; i++)
	{
		freeze_session fs = {.source = i, .frozen = true, .dsn = p->source_dsns[i],
		.role = ctx->sources[i].role};

		fs.conn = pgr_connect(fs.dsn, fs.role, 0);
		ok = fs.conn != NULL && pgr_exec(fs.conn, "unfreezing", "SET default_transaction_read_only = off",
										 0, NULL) && unfreeze_read_only(ctx, &fs);
		pgr_disconnect(fs.conn);
	}
	if (ok && p->cutover.freeze == FREEZE_HOOK)
		log_warn("cutover: an earlier attempt was interrupted during its freeze; check that what "
				 "hooks.%s did on the source is undone", p->hooks.on_freeze);
	else if (ok)
		log_warn("cutover: an earlier attempt was interrupted during its freeze; the source%s "
				 "writable again", p->nsources > 1 ? "s are" : " is");
	return ok && pgr_exec(ctx->state, "recording the interrupted cutover",
						  "UPDATE pgreshard.cutovers SET finished_at = now(), outcome = 'aborted', "
						  "reason = coalesce(reason, 'interrupted during the freeze') "
						  "WHERE plan_name = $1 AND outcome = 'running'", 1, params);
}

/* End the freeze: keep what was done (success) or undo it (abort). */
bool
freeze_end(apply_ctx *ctx, freeze_session *fs, bool success)
{
	bool		ok = true;

	if (fs->hook != NULL || (fs->frozen && ctx->plan->cutover.freeze == FREEZE_HOOK))
	{
		const char *undo = ctx->plan->hooks.on_unfreeze;

		if (success)
			ok = hook_conns_commit(fs->hook);
		else if (fs->frozen && undo != NULL)
			ok = run_ctx_hook(ctx, &fs->hook, undo, "on_unfreeze", 0);
		else if (fs->frozen && fs->hook != NULL)
			log_warn("cutover: the plan has no hooks.on_unfreeze: undo what %s did on the source "
					 "by hand (closing its connections ended any transaction it held)",
					 ctx->plan->hooks.on_freeze);
		hook_conns_close(fs->hook);
		fs->hook = NULL;
	}
	if (fs->conn == NULL)
		return ok;
	if (fs->frozen && ctx->plan->cutover.freeze == FREEZE_LOCK)
		ok = pgr_exec(fs->conn, success ? "releasing the freeze" : "unfreezing",
					  success ? "COMMIT" : "ROLLBACK", 0, NULL);
	else if (fs->frozen && ctx->plan->cutover.freeze == FREEZE_READ_ONLY &&
			 (!success || ctx->plan->cutover.leave_source_writable || ctx->rollback))
		ok = unfreeze_read_only(ctx, fs);
	fs->frozen = false;
	pgr_disconnect(fs->conn);
	fs->conn = NULL;
	return ok;
}

/*
 * Take the write guard off the moved tables on c's database (a rollback
 * makes the source serve again; cleanup): the triggers, and the read-only
 * default a cutover with freeze: read_only left.  Tables gone meanwhile are
 * skipped.
 */
bool
freeze_remove_guard(apply_ctx *ctx, pgr_conn *c, bool read_only_too)
{
	const plan *p = ctx->plan;
	char	   *trig = xasprintf("pgreshard_moved_%s", p->name);
	char	   *qt = pgr_quote_ident(c, trig);
	bool		ok = true;

	for (int i = 0; ok && i < p->ntables; i++)
	{
		const plan_table *t = &p->tables[i];
		const char *p2[2] = {t->schema, t->relname};
		PGresult   *res = pgr_query(c, "looking for a guarded table",
									"SELECT to_regclass(format('%I.%I', $1::text, $2::text)) IS NOT NULL",
									2, p2);
		char	   *qn, *sql;

		if ((ok = res != NULL) && PQgetvalue(res, 0, 0)[0] == 't')
		{
			qn = pgr_quote_qualified(c, t->schema, t->relname);
			sql = xasprintf("DROP TRIGGER IF EXISTS %s ON %s", qt, qn);
			ok = pgr_exec(c, "dropping the write guard", sql, 0, NULL);
			free(sql);
			free(qn);
		}
		PQclear(res);
	}
	if (ok && read_only_too && p->cutover.freeze == FREEZE_READ_ONLY)
		ok = pgr_exec(c, "making the source writable again", SQL_RESET_READ_ONLY, 0, NULL);
	free(qt);
	free(trig);
	return ok;
}
