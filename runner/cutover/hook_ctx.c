/*
 * hook_ctx.c — the context the cutover's Lua hooks get (on_freeze,
 * on_unfreeze, switch): the plan's name and shape, the fence, and
 * exec_source / exec_shard, which run one SQL statement with parameters on
 * a source or a shard.  Connections are opened on first use, with
 * statement_timeout set to the cutover's timeout, and kept until
 * hook_conns_close so that a freeze hook may hold a transaction (and its
 * locks) for the whole freeze; closing them ends it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutover.h"
#include "hooks.h"
#include "log.h"
#include "xalloc.h"

struct hook_conns {
	apply_ctx  *ctx;
	pgr_conn  **src;			/* [nsources] */
	pgr_conn  **dst;			/* [nshards] */
};

static pgr_conn *
hook_conn(hook_conns *hc, bool shard, int i, char *err, size_t errlen)
{
	const plan *p = hc->ctx->plan;
	pgr_conn  **slot = shard ? &hc->dst[i] : &hc->src[i];
	char		timeout[64];

	if (*slot != NULL)
		return *slot;
	*slot = shard ? connect_shard(p, i) : pgr_connect(p->source_dsns[i], hc->ctx->sources[i].role, 0);
	if (*slot == NULL)
	{
		snprintf(err, errlen, "cannot connect to %s %d (see the error above)", shard ? "shard" : "source", i);
		return NULL;
	}
	snprintf(timeout, sizeof(timeout), "SET statement_timeout = '%ds'", p->cutover.timeout_s);
	if (!pgr_exec(*slot, "preparing a hook's connection", timeout, 0, NULL))
	{
		pgr_disconnect(*slot);
		*slot = NULL;
		snprintf(err, errlen, "cannot prepare the connection to %s %d (see the error above)",
				 shard ? "shard" : "source", i);
	}
	return *slot;
}

/* hook_ctx.run: one statement; on failure the server's message, not logged
 * here (the hook's error carries it). */
static PGresult *
hook_run(void *arg, bool shard, int index, const char *sql, int nparams,
		 const char *const *params, char *err, size_t errlen)
{
	hook_conns *hc = arg;
	pgr_conn   *c = hook_conn(hc, shard, index, err, errlen);
	PGresult   *res;
	ExecStatusType st;

	if (c == NULL)
		return NULL;
	res = PQexecParams(c->pg, sql, nparams, NULL, params, NULL, NULL, 0);
	st = PQresultStatus(res);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return res;
	if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT)
		snprintf(err, errlen, "%s %d: COPY is not available to hooks", shard ? "shard" : "source", index);
	else
	{
		const char *code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

		snprintf(err, errlen, "%s %d: %s%s%s%s", shard ? "shard" : "source", index,
				 msg ? msg : PQerrorMessage(c->pg), code ? " (SQLSTATE " : "", code ? code : "",
				 code ? ")" : "");
	}
	PQclear(res);
	return NULL;
}

pgr_conn *
hook_conns_open_txn(hook_conns *hc, int source)
{
	pgr_conn   *c = hc ? hc->src[source] : NULL;

	return c != NULL && PQtransactionStatus(c->pg) == PQTRANS_INTRANS ? c : NULL;
}

pgr_conn *
hook_conns_open_shard_txn(hook_conns *hc, int shard)
{
	pgr_conn   *c = hc ? hc->dst[shard] : NULL;

	return c != NULL && PQtransactionStatus(c->pg) == PQTRANS_INTRANS ? c : NULL;
}

bool
hook_conns_commit(hook_conns *hc)
{
	bool		ok = true;

	for (int pass = 0; hc && pass < 2; pass++)
		for (int i = 0; i < (pass ? hc->ctx->plan->nshards : hc->ctx->plan->nsources); i++)
		{
			pgr_conn   *c = pass ? hc->dst[i] : hc->src[i];

			if (c != NULL && PQtransactionStatus(c->pg) == PQTRANS_INTRANS)
				ok = pgr_exec(c, "committing the freeze hook's transaction", "COMMIT", 0, NULL) && ok;
		}
	return ok;
}

void
hook_conns_close(hook_conns *hc)
{
	if (hc == NULL)
		return;
	for (int i = 0; i < hc->ctx->plan->nsources; i++)
		pgr_disconnect(hc->src[i]);
	for (int s = 0; s < hc->ctx->plan->nshards; s++)
		pgr_disconnect(hc->dst[s]);
	free(hc->src);
	free(hc->dst);
	free(hc);
}

bool
run_ctx_hook(apply_ctx *ctx, hook_conns **conns, const char *fn, const char *what, uint64_t fence)
{
	char		lsn[32], err[HOOK_ERR_LEN];
	hook_ctx	hctx;

	if (ctx->hooks == NULL)
	{
		log_error("cutover: %s: the plan has no hooks.file", what);
		return false;
	}
	if (*conns == NULL)
	{
		*conns = xcalloc(1, sizeof(hook_conns));
		(*conns)->ctx = ctx;
		(*conns)->src = xcalloc((size_t) ctx->plan->nsources, sizeof(pgr_conn *));
		(*conns)->dst = xcalloc((size_t) ctx->plan->nshards, sizeof(pgr_conn *));
	}
	lsn_format(fence, lsn, sizeof(lsn));
	hctx = (hook_ctx) {ctx->plan, fence ? lsn : NULL, *conns, hook_run,
	ctx->rollback ? "rollback" : "forward"};
	log_info("%s: calling the %s hook %s", ctx->rollback ? "rollback" : "cutover", what, fn);
	if (hooks_call_ctx(ctx->hooks, fn, &hctx, err, sizeof(err)))
		return true;
	log_error("%s: the %s hook %s failed: %s", ctx->rollback ? "rollback" : "cutover", what, fn, err);
	return false;
}
