/*
 * step_slot.c — step 2: the one logical replication slot per source, and
 * the snapshot the copy reads under (DESIGN.md invariant 1).
 *
 * The slot is written to the ledger on shard 0 before it is created.  It is
 * created on a replication connection with an exported snapshot; that
 * connection is kept open and idle for the copy, because the snapshot lives
 * only as long as it does.  Nothing committed after the slot's consistent
 * point can be missed: the stream starts there.
 *
 * When a later run needs a snapshot again (the first one died with its
 * process), source_snapshot() creates a TEMPORARY slot just to export a new
 * snapshot with a known consistent point; the chunks copied under it record
 * that LSN so the stream does not replay older changes over them
 * (invariant 4).  The temporary slot disappears with its connection.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "log.h"
#include "state.h"
#include "strbuf.h"
#include "xalloc.h"

char *
slot_name(const plan *p)
{
	return plan_slot_name(p);
}

/* CREATE_REPLICATION_SLOT on a new replication connection; keeps it in ss. */
static bool
create_slot(apply_ctx *ctx, source_session *ss, const char *name, bool temporary)
{
	pgr_conn   *c = pgr_connect(ctx->plan->source_dsns[ss->index], ss->role, PGR_CONN_REPLICATION);
	char	   *qname, *cmd;
	PGresult   *res;

	if (c == NULL)
		return false;
	qname = pgr_quote_ident(c, name);
	cmd = xasprintf("CREATE_REPLICATION_SLOT %s %sLOGICAL pgoutput (SNAPSHOT 'export')",
					qname, temporary ? "TEMPORARY " : "");
	res = pgr_query(c, temporary ? "creating a temporary slot for a new snapshot"
					: "creating the replication slot", cmd, 0, NULL);
	free(cmd);
	free(qname);
	if (res == NULL || !lsn_parse(PQgetvalue(res, 0, 1), &ss->snapshot_lsn))
	{
		if (res)
			log_error("%s: unexpected CREATE_REPLICATION_SLOT answer", ss->role);
		PQclear(res);
		pgr_disconnect(c);
		return false;
	}
	if (!temporary && !state_slot_lsn_set(ctx->state, ctx->plan, name, ss->role, PQgetvalue(res, 0, 1)))
	{
		PQclear(res);
		pgr_disconnect(c);
		return false;
	}
	ss->snapshot = xstrdup(PQgetvalue(res, 0, 2));
	ss->repl = c;
	ss->temp_slot = temporary;
	log_info("%s: slot %s created at %s, snapshot %s", ss->role, name, PQgetvalue(res, 0, 1),
			 ss->snapshot);
	PQclear(res);
	return true;
}

static bool
ensure_publication(apply_ctx *ctx, source_session *ss, pgr_conn *c)
{
	const plan *p = ctx->plan;
	const char *params[1] = {p->publication};
	PGresult   *res = pgr_query(c, "looking for the publication",
								"SELECT 1 FROM pg_publication WHERE pubname = $1", 1, params);
	strbuf		sql;
	bool		exists, ok;

	if (res == NULL)
		return false;
	exists = PQntuples(res) > 0;
	PQclear(res);
	if (exists || !p->create_publication)
		return true;
	if (!state_ledger_add(ctx->state, p, "publication", p->publication, ss->role))
		return false;
	sb_init(&sql);
	{
		char	   *q = pgr_quote_ident(c, p->publication);

		sb_printf(&sql, "CREATE PUBLICATION %s FOR TABLE ", q);
		free(q);
	}
	for (int i = 0; i < p->ntables; i++)
	{
		char	   *q = pgr_quote_qualified(c, p->tables[i].schema, p->tables[i].relname);

		sb_printf(&sql, "%s%s", i ? ", " : "", q);
		free(q);
	}
	ok = pgr_exec(c, "creating the publication", sql.data, 0, NULL);
	sb_free(&sql);
	if (ok)
		log_info("%s: publication %s created", ss->role, p->publication);
	return ok;
}

static bool
slot_for_source(apply_ctx *ctx, source_session *ss, const char *name)
{
	const plan *p = ctx->plan;
	pgr_conn   *c = pgr_connect(p->source_dsns[ss->index], ss->role, 0);
	const char *params[1] = {name};
	PGresult   *res;
	bool		exists, ours = false, ok;

	if (c == NULL)
		return false;
	ok = ensure_publication(ctx, ss, c);
	res = ok ? pgr_query(c, "looking for the replication slot",
						 "SELECT plugin, confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1",
						 1, params) : NULL;
	pgr_disconnect(c);
	if (res == NULL)
		return false;
	exists = PQntuples(res) > 0;
	if (exists)
	{
		/* a run killed right after creating the slot: its confirmed position
		 * is still the consistent point (nothing was streamed yet) */
		if (!state_ledger_has(ctx->state, p, "slot", name, ss->role, &ours) ||
			(ours && !state_slot_lsn_set(ctx->state, p, name, ss->role, PQgetvalue(res, 0, 1))))
		{
			PQclear(res);
			return false;
		}
		PQclear(res);
		if (!ours)
		{
			log_error("%s: replication slot %s exists but was not created by plan %s; drop it "
					  "(SELECT pg_drop_replication_slot('%s')) or rename the plan", ss->role,
					  name, p->name, name);
			return false;
		}
		log_info("%s: slot %s already exists (created by an earlier run)", ss->role, name);
		return true;
	}
	PQclear(res);
	return state_ledger_add(ctx->state, p, "slot", name, ss->role) &&
		create_slot(ctx, ss, name, false);
}

bool
step_slot(apply_ctx *ctx)
{
	char	   *name = slot_name(ctx->plan);
	bool		ok = true;

	for (int i = 0; ok && i < ctx->plan->nsources; i++)
		ok = slot_for_source(ctx, &ctx->sources[i], name);
	free(name);
	return ok;
}

/* How many temporary slots this process made (their names, source_snapshot). */
static atomic_uint snap_seq;

bool
source_snapshot(apply_ctx *ctx, int i)
{
	source_session *ss = &ctx->sources[i];
	char	   *name;
	unsigned int seq;
	bool		ok;

	if (ss->snapshot != NULL)
		return true;
	/*
	 * A name of its own per slot, not per process: a temporary slot is
	 * dropped by its backend as that exits, after our PQfinish returned, so
	 * the next snapshot of this process (the verify's, right after a late
	 * copy's) could find the old one still there ("already exists").  The
	 * PID times 64 plus a wrapping count, in hex, keeps the name within 63
	 * bytes for a 40-character plan name; a name comes back only 64 slots
	 * later, long after its backend is gone.
	 */
	seq = atomic_fetch_add(&snap_seq, 1u) % 64u;
	name = xasprintf("pgreshard_%s_snap_%x", ctx->plan->name, (unsigned int) getpid() * 64u + seq);
	ok = create_slot(ctx, ss, name, true);
	free(name);
	return ok;
}

void
source_sessions_close(apply_ctx *ctx)
{
	for (int i = 0; ctx->sources && i < ctx->plan->nsources; i++)
	{
		pgr_disconnect(ctx->sources[i].repl);
		ctx->sources[i].repl = NULL;
		free(ctx->sources[i].snapshot);
		ctx->sources[i].snapshot = NULL;
	}
}
