/*
 * stream_attach.c — what the source's catalog changes in the moved tables'
 * partitions during the move, beyond what pgoutput says, followed by the
 * stream between two transactions.
 *
 * pgoutput announces a partition before the first change through it
 * (stream_partitions.c creates it on the shards then), but three things
 * never reach the WAL as changes:
 *
 *  - the rows a table held before `ALTER TABLE parent ATTACH PARTITION`
 *    made it a partition: copied in late (runner/copy/copy_late.c);
 *  - a partition detached (or dropped): its rows leave the parent on the
 *    source without a change; the shards detach (or drop) it too;
 *  - an index made or dropped on one partition, or attached to its
 *    parent's index: followed on every shard (leaf_indexes.h).
 *
 * So the reader polls the source's catalog (the partitions of the moved
 * tables and their own indexes) every POLL_INTERVAL_S, at once after a new
 * partition was announced, and at the start of each of its runs (the first
 * run of an apply process follows whatever it finds; a later run of the
 * same process only what changed since the last one followed: the apply
 * context keeps that, per source).  A poll
 * records the source's WAL insert position after reading the catalog: any
 * ATTACH, DETACH or index it saw committed before that point.  When the
 * catalog differs from the last poll (or in a run's first poll), the reader
 * keeps streaming until it has received every transaction before that
 * point, commits all of it on every shard, and only then follows: the
 * shards are then at or past the source's catalog change, as when the
 * stream creates a partition at its place in the source's history
 * (runner/engine/shard_partitions.c explains why that matters for DEFAULT
 * partitions).  With a target (`apply --until stream`, the cutover's
 * catch-up) the target moves up to that point so that the run does not end
 * before it.  The late copy's chunks then join the stream's late chunks,
 * so changes committed before their snapshot are skipped for their rows
 * (DESIGN.md invariant 4).
 *
 * When the cutover has drained the stream to its fence the same is done
 * once more (stream_partitions_at_fence), strictly: the source is frozen,
 * and an index that cannot be followed there refuses the cutover.
 *
 * A detached partition stays on each shard as a table of its own with the
 * rows it held there, as on the source (no longer followed).  Rows written
 * into its range between the DETACH and the poll that notices it (only a
 * DEFAULT partition takes them on the source) land in the shards' still
 * attached partition and leave with it: verify reports them, `pgreshard
 * repair` fixes them.  Re-attaching a partition detached during the same
 * move is not followed either (same fix).
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "copy.h"
#include "leaf_indexes.h"
#include "log.h"
#include "shard_partitions.h"
#include "sqlname.h"
#include "state.h"
#include "stream.h"
#include "xalloc.h"

#define POLL_INTERVAL_S 5.0

struct attach_watch {
	double		next_poll;		/* monotonic seconds */
	bool		followed;		/* followed once in this run of the reader */
	bool		pending;		/* a poll found changes: follow once past lsn */
	uint64_t	lsn;			/* the source's WAL insert position after the poll */
	part_list	parts;			/* the source's partitions at the poll */
	leaf_index_list idx;		/* and their own indexes */
	char	   *sig;			/* what the poll saw, as text */
	pgr_conn   *src;			/* the source, read only */
};

/* The catalog's picture as text: partitions (with bounds) and indexes. */
static char *
signature(const part_list *parts, const leaf_index_list *idx)
{
	strbuf		sb;
	char	   *isig = leaf_indexes_signature(idx);

	sb_init(&sb);
	for (int i = 0; i < parts->n; i++)
		sb_printf(&sb, "%s.%s < %s.%s %s\n", parts->v[i].schema, parts->v[i].name, parts->v[i].parent_schema,
				  parts->v[i].parent_name, parts->v[i].bound ? parts->v[i].bound : "");
	sb_append(&sb, isig);
	free(isig);
	return sb_steal(&sb);
}

/* Read the source's partitions and their indexes, then the WAL position. */
static bool
read_source(pgr_conn *c, const plan *p, part_list *parts, leaf_index_list *idx, uint64_t *lsn)
{
	memset(idx, 0, sizeof(*idx));
	/* every name qualified, in the partitions' bounds and in the indexes */
	if (!pgr_exec(c, "reading the partitions", "SELECT set_config('search_path', '', false)", 0, NULL) ||
		!partitions_read(c, p, parts))
		return false;
	if (leaf_indexes_read(c, parts, idx) && stream_insert_point(c, lsn))
		return true;
	partitions_free(parts);
	leaf_indexes_free(idx);
	return false;
}

static bool
poll_source(stream_reader *r, struct attach_watch *aw)
{
	part_list	parts;
	leaf_index_list idx;
	uint64_t	lsn = 0;
	char	   *sig;
	const char *memo = r->ctx->sources[r->source].partitions_followed;

	/* the connection kept from an earlier poll may have died with a restart
	 * of the source: then once more on a new one */
	for (int attempt = 0;; attempt++)
	{
		bool		kept = aw->src != NULL;

		if (aw->src == NULL &&
			(aw->src = pgr_connect(r->dir->up_dsns[r->source], r->role, PGR_CONN_READ_ONLY)) == NULL)
			return false;
		if (read_source(aw->src, r->ctx->plan, &parts, &idx, &lsn))
			break;
		kept = kept && PQstatus(aw->src->pg) != CONNECTION_OK;
		pgr_disconnect(aw->src);
		aw->src = NULL;
		if (!kept || attempt > 0)
			return false;
	}
	sig = signature(&parts, &idx);
	/* an earlier run of this apply followed exactly this already ('='), or
	 * all of it but indexes it could not follow ('!': compared again at the
	 * fence only); not when some index waited for its parent's ('?') */
	if (!aw->followed && memo && memo[0] != '?' && strcmp(sig, memo + 1) == 0)
	{
		free(aw->sig);
		aw->sig = xstrdup(sig);
		aw->followed = true;
	}
	if (aw->followed && aw->sig && strcmp(sig, aw->sig) == 0)
	{
		free(sig);
		partitions_free(&parts);
		leaf_indexes_free(&idx);
		return true;
	}
	partitions_free(&aw->parts);
	leaf_indexes_free(&aw->idx);
	free(aw->sig);
	aw->parts = parts;
	aw->idx = idx;
	aw->sig = sig;
	aw->lsn = lsn;
	aw->pending = true;
	return true;
}

/* Partitions on shard c that the source no longer has (neither at the poll,
 * parts, nor now, src): detached there too, or dropped when the source
 * dropped them.  Only the topmost of a detached subtree. */
static bool
detach_gone(pgr_conn *c, int s, const plan *p, pgr_conn *src, const part_list *parts)
{
	part_list	have, now;
	bool		ok = partitions_read(c, p, &have);

	if (!ok)
		return false;
	if (!partitions_read(src, p, &now))
	{
		partitions_free(&have);
		return false;
	}
	for (int i = 0; ok && i < have.n; i++)
	{
		const part_def *d = &have.v[i];
		int			up = partitions_find(&have, d->parent_schema, d->parent_name);
		char	   *q, *qp, *sql, *disp;
		const char *params[1];
		PGresult   *res;
		bool		exists;

		if (partitions_find(parts, d->schema, d->name) >= 0 || partitions_find(&now, d->schema, d->name) >= 0 ||
			(up >= 0 && partitions_find(&now, have.v[up].schema, have.v[up].name) < 0))
			continue;
		q = pgr_quote_qualified(c, d->schema, d->name);
		params[0] = q;
		res = pgr_query(src, "looking for a detached partition", "SELECT to_regclass($1) IS NOT NULL", 1, params);
		if ((ok = res != NULL))
		{
			exists = PQgetvalue(res, 0, 0)[0] == 't';
			qp = pgr_quote_qualified(c, d->parent_schema, d->parent_name);
			sql = exists ? xasprintf("ALTER TABLE %s DETACH PARTITION %s", qp, q) : xasprintf("DROP TABLE %s", q);
			disp = sqlname_quote_qualified(d->schema, d->name);
			ok = pgr_exec(c, "following a partition detached on the source", sql, 0, NULL);
			if (ok)
				log_info("shard %d: partition %s was %s on the source during the move: %s here too; its "
						 "rows are no longer part of %s.%s%s", s, disp, exists ? "detached" : "dropped",
						 exists ? "detached" : "dropped", d->parent_schema, d->parent_name,
						 exists ? " (the table stays, as on the source, no longer followed)" : "");
			free(disp);
			free(sql);
			free(qp);
		}
		PQclear(res);
		free(q);
	}
	partitions_free(&now);
	partitions_free(&have);
	return ok;
}

/*
 * Make every shard follow the source's partitions (parts) and their indexes
 * (idx), read at a point every shard has applied: detached ones, missing
 * ones, attached rows (touched[ti]: a late copy of table ti), indexes.
 * strict: an index that cannot be followed fails (else: warned, retried).
 */
static bool
follow_all(apply_ctx *ctx, int source, const char *role, pgr_conn *src, const part_list *parts,
		   const leaf_index_list *idx, bool strict, bool *touched, char *left)
{
	const plan *p = ctx->plan;
	bool		ok = true, idx_ok = true, waiting = false;

	for (int s = 0; ok && s < p->nshards; s++)
	{
		pgr_conn   *c = connect_shard(p, s);

		ok = c != NULL && apply_session_replica(c) && detach_gone(c, s, p, src, parts) &&
			partitions_create_missing(c, s, parts, -1);
		pgr_disconnect(c);
	}
	ok = ok && copy_late_leaves(ctx, source, parts, touched);
	for (int s = 0; ok && s < p->nshards; s++)
	{
		pgr_conn   *c = connect_shard(p, s);

		ok = c != NULL;
		idx_ok = ok && leaf_indexes_follow(c, s, idx, parts, &waiting) && idx_ok;
		pgr_disconnect(c);
	}
	*left = !idx_ok ? '!' : waiting ? '?' : 0;
	if (ok && !idx_ok && !strict)
		log_warn("%s: the stream goes on; the partitions' indexes are compared again at its next run "
				 "and at the cutover, which waits for them", role);
	return ok && (idx_ok || !strict);
}

int
stream_attach_due(stream_reader *r)
{
	struct attach_watch *aw = r->attach;
	bool		any = false;

	if (r->dir->reverse || r->exact || r->deadline > 0)
		return 0;
	for (int t = 0; t < r->ctx->plan->ntables && !any; t++)
		any = catalog_table(r->ctx->cat, t)->partitioned;
	if (!any)
		return 0;
	if (aw == NULL)
		aw = r->attach = xcalloc(1, sizeof(*aw));
	if (!aw->pending)
	{
		if (mono_seconds() < aw->next_poll)
			return 0;
		if (!poll_source(r, aw))
			return -1;
		aw->next_poll = mono_seconds() + POLL_INTERVAL_S;
		if (!aw->pending)
			return 0;
		/* a run heading for a target ends past the point to follow at */
		if (r->target != 0 && r->target < aw->lsn)
			r->target = aw->lsn;
	}
	return stream_received_past(r, aw->lsn) ? 1 : 0;
}

bool
stream_attach_run(stream_reader *r)
{
	struct attach_watch *aw = r->attach;
	const plan *p = r->ctx->plan;
	bool	   *touched = xcalloc((size_t) p->ntables + 1, sizeof(bool));
	bool		ok, any = false;
	char		left = 0;

	aw->pending = false;
	ok = follow_all(r->ctx, r->source, r->role, aw->src, &aw->parts, &aw->idx, false, touched, &left);
	for (int ti = 0; ti < p->ntables; ti++)
		any = any || touched[ti];
	if (ok && any)
	{
		/* the late copy's chunks join the stream's (invariant 4) */
		pgr_conn   *state = connect_shard(p, 0);
		char	   *slot = slot_name(p);
		uint64_t	slot_lsn = 0;

		ok = state != NULL && state_slot_lsn_get(state, p, slot, r->role, &slot_lsn);
		for (int ti = 0; ok && ti < p->ntables; ti++)
			if (touched[ti])
				ok = stream_late_reload(r->ctx, state, r->source, slot_lsn, r->tables, ti);
		free(slot);
		pgr_disconnect(state);
	}
	aw->followed = ok;
	if (ok)
	{
		/* the next run of this apply need not follow it again (one reader per source) */
		free(r->ctx->sources[r->source].partitions_followed);
		r->ctx->sources[r->source].partitions_followed = xasprintf("%c%s", left ? left : '=', aw->sig);
	}
	stream_partitions_forget(r);	/* what is on the shards changed */
	free(touched);
	return ok;
}

void
stream_attach_soon(stream_reader *r)
{
	if (r->attach != NULL)
		r->attach->next_poll = 0;
}

void
stream_attach_forget(stream_reader *r)
{
	struct attach_watch *aw = r->attach;

	if (aw == NULL)
		return;
	partitions_free(&aw->parts);
	leaf_indexes_free(&aw->idx);
	free(aw->sig);
	pgr_disconnect(aw->src);
	free(aw);
	r->attach = NULL;
}

bool
stream_attach_at_fence(apply_ctx *ctx, int source)
{
	const char *role = ctx->sources[source].role;
	pgr_conn   *src = pgr_connect(ctx->plan->source_dsns[source], role, PGR_CONN_READ_ONLY);
	part_list	parts;
	leaf_index_list idx;
	uint64_t	lsn;
	bool		ok = src != NULL && read_source(src, ctx->plan, &parts, &idx, &lsn);
	char		left;

	if (ok)
	{
		char	   *sig = signature(&parts, &idx);
		const char *memo = ctx->sources[source].partitions_followed;

		/* the freeze is on: nothing to do when the stream followed this very
		 * catalog whole (its partitions, rows and indexes) already */
		if (memo == NULL || memo[0] != '=' || strcmp(memo + 1, sig) != 0)
			ok = follow_all(ctx, source, role, src, &parts, &idx, true, NULL, &left);
		free(sig);
		partitions_free(&parts);
		leaf_indexes_free(&idx);
	}
	pgr_disconnect(src);
	return ok;
}
