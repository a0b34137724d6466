/*
 * stream_partitions.c — partitions created or attached on the source during
 * the move (the monthly partition job) reach the shards before their rows.
 *
 * pgoutput announces a partition (Relation message) before the first change
 * through it in every session: with publish_via_partition_root off as the
 * relation of the changes, with it on right after the root's message.  An
 * announced partition of a moved table that the plan's catalog does not
 * know makes the stream read the source's partitions and create it (and its
 * missing parents) on every shard that has not applied the transaction yet,
 * in that shard's open apply transaction, ahead of the change (a separate
 * session would wait on the lock the apply transaction holds on the
 * parent).  Only that partition: one created later on the source must not
 * exist on the shards before the stream reaches that point (see
 * runner/engine/shard_partitions.c, which also explains why rows of the new
 * partition in the shard's DEFAULT partition are deleted first).
 *
 * Once the cutover has drained the stream to its fence, partitions made
 * during the move that never received a row are created too.  What
 * pgoutput does not say — the rows of a table attached as a partition, a
 * partition detached, a partition's own indexes — is stream_attach.c's.
 */
#include <stdlib.h>
#include <string.h>

#include "chunk_key.h"
#include "log.h"
#include "shard_partitions.h"
#include "sqlname.h"
#include "stream.h"
#include "xalloc.h"

/* The source's partitions now (a connection of their own). */
static bool
load(const plan *p, int source, const char *role, part_list *out)
{
	pgr_conn   *c = pgr_connect(p->source_dsns[source], role, PGR_CONN_READ_ONLY);
	bool		ok = c != NULL && partitions_read(c, p, out);

	pgr_disconnect(c);
	return ok;
}

/* Create partition d on shard s in its open apply transaction, if missing. */
static bool
create_in_txn(stream_reader *r, int s, const part_def *d)
{
	pgr_conn   *c = r->shards[s].conn;
	char	   *q = pgr_quote_qualified(c, d->schema, d->name), *disp = sqlname_quote_qualified(d->schema, d->name);
	pgo_value	v = {.kind = PGO_TEXT, .data = q, .len = (uint32_t) strlen(q)};
	PGresult   *res;
	bool		ok, missing;

	params_reset(&r->params);
	params_add(&r->params, &v);
	res = shard_query_now(r, s, "SELECT to_regclass($1) IS NULL", "looking for a partition");
	ok = res != NULL;
	missing = ok && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (missing)
	{
		char	   *clear = partition_clear_default_sql(c, d), *create = partition_create_sql(c, d);

		params_reset(&r->params);
		if (clear != NULL)
		{
			res = shard_query_now(r, s, clear, "clearing the DEFAULT partition for a new partition");
			ok = res != NULL;
			if (ok && atoll(PQcmdTuples(res)) > 0)
				log_info("%s: shard %d: %s row(s) of DEFAULT partition %s.%s belong to the new partition "
						 "%s: the transaction that made it moved them out of the source's DEFAULT (a "
						 "change pgoutput does not publish); removed there too", r->role, s,
						 PQcmdTuples(res), d->dflt_schema, d->dflt_name, disp);
			PQclear(res);
		}
		ok = ok && shard_send_sql(r, s, 'N', create);
		if (ok)
			log_info("%s: shard %d: partition %s created (made on the source during the move)", r->role, s, disp);
		free(clear);
		free(create);
	}
	free(q);
	free(disp);
	return ok;
}

/*
 * The source's partitions, read once per session (again when an announced
 * one is not among them), and which of them are known to be on every shard
 * (checked, or created, in this session).
 */
struct part_cache {
	part_list	l;
	bool	   *everywhere;		/* [l.n] */
};

/* Which partitions shard s lacks (one query, in its apply transaction):
 * everywhere[i] is cleared for those. */
static bool
cache_check_shard(stream_reader *r, int s)
{
	struct part_cache *pc = r->parts;
	char	  **q = xcalloc((size_t) pc->l.n + 1, sizeof(char *));
	strbuf		names;
	pgo_value	v;
	PGresult   *res;

	sb_init(&names);
	for (int i = 0; i < pc->l.n; i++)
		q[i] = pgr_quote_qualified(r->shards[s].conn, pc->l.v[i].schema, pc->l.v[i].name);
	pgarray_encode(&names, q, pc->l.n);
	v = (pgo_value) {.kind = PGO_TEXT, .data = names.data, .len = (uint32_t) names.len};
	params_reset(&r->params);
	params_add(&r->params, &v);
	res = shard_query_now(r, s, "SELECT to_regclass(n) IS NULL FROM unnest($1::text[]) WITH ORDINALITY "
						  "AS x(n, i) ORDER BY i", "looking for the partitions");
	for (int i = 0; res && i < pc->l.n && i < PQntuples(res); i++)
		if (PQgetvalue(res, i, 0)[0] == 't')
			pc->everywhere[i] = false;
	PQclear(res);
	sb_free(&names);
	for (int i = 0; i < pc->l.n; i++)
		free(q[i]);
	free(q);
	return res != NULL;
}

static bool
cache_load(stream_reader *r)
{
	struct part_cache *pc = r->parts;

	if (pc == NULL)
		pc = r->parts = xcalloc(1, sizeof(*pc));
	partitions_free(&pc->l);
	free(pc->everywhere);
	pc->everywhere = NULL;
	if (!load(r->ctx->plan, r->source, r->role, &pc->l))
		return false;
	pc->everywhere = xcalloc((size_t) pc->l.n + 1, sizeof(bool));
	for (int i = 0; i < pc->l.n; i++)
		pc->everywhere[i] = true;
	/* a shard that has applied this transaction has every partition it needs */
	for (int s = 0; s < r->dir->ndown; s++)
		if (r->txn_commit_lsn > r->shards[s].progress && !cache_check_shard(r, s))
			return false;
	return true;
}

void
stream_partitions_forget(stream_reader *r)
{
	if (r->parts == NULL)
		return;
	partitions_free(&r->parts->l);
	free(r->parts->everywhere);
	free(r->parts);
	r->parts = NULL;
}

int
stream_partition_announced(stream_reader *r, const char *schema, const char *name)
{
	struct part_cache *pc = r->parts;
	int			i = pc ? partitions_find(&pc->l, schema, name) : -1;
	int			chain[64], nchain = 0;
	bool		any = false;

	/* streaming back, the shards' publication publishes via the root: a
	 * partition's changes arrive as its root's; a leaf announced is only
	 * named for what it is */
	if (r->dir->reverse)
		return catalog_partition_table(r->ctx->cat, schema, name);
	for (int t = 0; t < r->ctx->plan->ntables; t++)
		any = any || catalog_table(r->ctx->cat, t)->partitioned;
	if (!any)
		return -1;
	if (i < 0 && !cache_load(r))
		return -2;
	pc = r->parts;
	if (i < 0 && (i = partitions_find(&pc->l, schema, name)) < 0)
		return -1;
	if (pc->everywhere[i])
		return pc->l.v[i].table;
	/* the partition and its parents up to the root, created parents first */
	for (int k = i; k >= 0 && nchain < 64; k = partitions_find(&pc->l, pc->l.v[k].parent_schema,
															   pc->l.v[k].parent_name))
		chain[nchain++] = k;
	for (int s = 0; s < r->dir->ndown; s++)
	{
		if (r->txn_commit_lsn <= r->shards[s].progress)
			continue;			/* it has this transaction, so the partition too */
		for (int k = nchain - 1; k >= 0; k--)
			if (!pc->everywhere[chain[k]] && !create_in_txn(r, s, &pc->l.v[chain[k]]))
				return -2;
	}
	for (int k = 0; k < nchain; k++)
		pc->everywhere[chain[k]] = true;
	stream_attach_soon(r);		/* attached with rows?  (stream_attach.c) */
	return pc->l.v[i].table;
}

bool
stream_partitions_at_fence(apply_ctx *ctx, int source)
{
	bool		any = false;

	for (int t = 0; t < ctx->plan->ntables && !any; t++)
		any = catalog_table(ctx->cat, t)->partitioned;
	/* partitions, their attached rows and their indexes: stream_attach.c */
	return !any || stream_attach_at_fence(ctx, source);
}
