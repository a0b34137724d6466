/*
 * stream_apply.c — apply one decoded change to the shard(s) it belongs on.
 *
 * INSERT goes to the shard of its key (replicated tables: every shard).
 * DELETE goes to the shard of its old key, or to every shard when the WAL
 * record does not carry the key (key outside the replica identity).  An
 * UPDATE that keeps the row on its shard is an UPDATE there; one that moves
 * it is a DELETE on the old shard and an INSERT of the complete row on the
 * new one, with unchanged TOASTed values ('u') taken from the deleted row
 * (DELETE ... RETURNING) — never written as NULL (invariant 6).  When the
 * old key is unknown, the new shard is tried first (UPDATE, rows affected)
 * and the row is otherwise fetched from whichever shard holds it.
 *
 * A shard skips source transactions at or below its recorded progress
 * (invariant 3) and changes older than a chunk it copied under a newer
 * snapshot (invariant 4).  Rows are identified by the primary key when the
 * change carries it, else by the replica identity columns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sqlname.h"
#include "stream.h"
#include "xalloc.h"

static stream_rel *
rel_find(stream_reader *r, uint32_t relid)
{
	for (int i = 0; i < r->nrels; i++)
		if (r->rels[i].relid == relid)
			return &r->rels[i];
	return NULL;
}

/* A hash of the announced columns (FNV-1a): names, type OIDs, typmods. */
static uint64_t
column_signature(const pgo_msg *m)
{
	uint64_t	h = UINT64_C(14695981039346656037);

	for (int i = 0; i < m->ncols; i++)
	{
		uint32_t	nums[2] = {m->columns[i].type_oid, (uint32_t) m->columns[i].typmod};
		const unsigned char *p = (const unsigned char *) m->columns[i].name;

		for (; *p; p++)
			h = (h ^ *p) * UINT64_C(1099511628211);
		h = (h ^ 0xff) * UINT64_C(1099511628211);
		for (size_t b = 0; b < sizeof(nums); b++)
			h = (h ^ ((const unsigned char *) nums)[b]) * UINT64_C(1099511628211);
	}
	return h;
}

static bool
on_relation(stream_reader *r, const pgo_msg *m)
{
	stream_rel *rel = rel_find(r, m->relid);
	int			ti = plan_table_index(r->ctx->plan, m->nspname, m->relname);
	uint64_t	sig = column_signature(m);
	bool		check = rel == NULL || rel->colsig != sig;
	bool		leaf = false, ok;
	pgo_msg		pm;
	pgo_column *cols = NULL;

	/* a partition's changes are its parent's: applied through the parent on
	 * the shards, which routes them to the same partition there; it is
	 * created there first when it is missing (made during the move) */
	if (ti < 0 && (ti = stream_partition_announced(r, m->nspname, m->relname)) >= 0)
		leaf = true;
	else if (ti == -2)
		return false;
	ti = ti < 0 ? -1 : ti;

	if (rel == NULL)
	{
		r->rels = xrealloc(r->rels, sizeof(stream_rel) * (size_t) (r->nrels + 1));
		rel = &r->rels[r->nrels++];
		memset(rel, 0, sizeof(*rel));
		rel->relid = m->relid;
	}
	free(rel->name);
	free(rel->ident);
	free(rel->leaf_qname);
	free(rel->nspname);
	free(rel->relname);
	free(rel->order);
	/* a partition's columns are mapped onto its table's by name */
	rel->order = leaf ? stream_leaf_order(&r->tables[ti], m) : NULL;
	if (rel->order)
	{
		pm = *m;
		pm.columns = cols = xcalloc((size_t) m->ncols + 1, sizeof(pgo_column));
		stream_columns_permuted(m, rel->order, cols);
		m = &pm;
	}
	rel->nspname = xstrdup(m->nspname);
	rel->relname = xstrdup(m->relname);
	rel->name = sqlname_quote_qualified(m->nspname, m->relname);
	rel->leaf_qname = leaf ? pgr_quote_qualified(r->repl, m->nspname, m->relname) : NULL;
	rel->table = ti;
	rel->replident = m->replident;
	rel->ncols = m->ncols;
	rel->ident = xcalloc((size_t) m->ncols + 1, sizeof(bool));
	for (int i = 0; i < m->ncols; i++)
		rel->ident[i] = (m->columns[i].flags & PGO_COLUMN_KEY) != 0;
	rel->colsig = sig;
	/* the first announcement of a table in this session, or columns that
	 * changed: the shards must have the columns the changes will carry */
	ok = ti < 0 || !check || stream_follow_columns(r, &r->tables[ti], m);
	free(cols);
	return ok;
}

/*
 * A table that is not in the plan: its changes are skipped when it is no
 * longer in the publication (it was added by mistake and taken out again:
 * the changes made meanwhile still arrive); while it is, the stream stops
 * and says what to do: it confirms nothing from this change on, so once
 * the table is appended to the plan (runner/engine/plan_append.h) a rerun
 * streams the change again, against the table's late copy.
 */
static bool
unplanned_table(stream_reader *r, stream_rel *rel)
{
	const char *params[2] = {r->dir->publication, rel->name};
	pgr_conn   *c = pgr_connect(r->dir->up_dsns[r->source], r->role, 0);
	PGresult   *res = c ? pgr_query(c, "looking the table up in the publication",
									"SELECT EXISTS (SELECT FROM pg_publication_tables WHERE pubname = $1 "
									"AND format('%I.%I', schemaname, tablename)::regclass = to_regclass($2))",
									2, params) : NULL;
	bool		ok = res != NULL;

	if (ok && PQgetvalue(res, 0, 0)[0] == 't')
	{
		log_error("%s: table %s was added to the publication during the move but is not in the "
				  "plan; the stream stops before its first change (nothing is lost); fix: add it at the "
				  "end of the plan's tables: (e.g. '%s: { key: COLUMN }' or '{ replicate: true }') and "
				  "rerun apply: it is created on the shards and copied in, the other tables are not "
				  "copied again; or remove it from the publication (ALTER PUBLICATION ... DROP TABLE) "
				  "and rerun apply to leave it out", r->role, rel->name, rel->name);
		ok = false;
	}
	else if (ok)
	{
		log_info("%s: changes to %s skipped: it is not in the plan and no longer in the publication",
				 r->role, rel->name);
		rel->ignored = true;
	}
	PQclear(res);
	pgr_disconnect(c);
	return ok;
}

/* The table a change is for; NULL (after an error) when unknown.  A table
 * whose changes are skipped comes back with table < 0. */
static const stream_rel *
change_rel(stream_reader *r, uint32_t relid)
{
	stream_rel *rel = rel_find(r, relid);

	if (rel == NULL)
		log_error("%s: a change for relation %u arrived before its Relation message", r->role, relid);
	else if (rel->table < 0 && !rel->ignored && !unplanned_table(r, rel))
		return NULL;
	return rel;
}

/* Does shard s still need the current transaction's change to this row? */
static bool
shard_wants(stream_reader *r, const stream_table *t, const pgo_tuple *tup, int s)
{
	if (r->txn_commit_lsn <= r->shards[s].progress)
	{
		log_debug("%s: shard %d already has transaction %X/%X (progress %X/%X)", r->role, s,
				  (unsigned int) (r->txn_commit_lsn >> 32), (unsigned int) r->txn_commit_lsn,
				  (unsigned int) (r->shards[s].progress >> 32), (unsigned int) r->shards[s].progress);
		return false;			/* applied there before a crash */
	}
	return !stream_late_has(r, t, tup, s);	/* else the chunk's copy already has it */
}

/*
 * The shard of a tuple's key: 1 known, 0 unknown (not in the tuple), -1 error.
 * In an old tuple of kind 'K' only the replica identity columns are real:
 * the others arrive as nulls, so a key outside the identity is unknown.
 */
static int
route_tuple(stream_reader *r, const stream_table *t, const stream_rel *rel,
			const pgo_tuple *tup, char kind, int *shard)
{
	key_value	vals[32];
	uint32_t	sh;
	char		err[256];

	if (t->lua_route)
		return stream_route_lua(r, t, rel, tup, kind, shard);
	for (int k = 0; k < t->nkeys; k++)
	{
		int			c = t->key_col[k];

		if (c < 0 || c >= tup->ncols || tup->cols[c].kind == 'u')
			return 0;
		if (kind == 'K' && (c >= rel->ncols || !rel->ident[c]))
			return 0;
		vals[k].isnull = tup->cols[c].kind == 'n';
		vals[k].text = tup->cols[c].data;
		vals[k].len = tup->cols[c].len;
	}
	if (!shard_of_values(t->key_types, vals, t->nkeys, (uint32_t) r->dir->ndown, &sh,
						 err, sizeof(err)))
	{
		log_error("%s: table %s: cannot route a change: %s", r->role, t->display, err);
		return -1;
	}
	*shard = (int) sh;
	return 1;
}

static bool
apply_insert(stream_reader *r, const stream_table *t, const pgo_msg *m)
{
	int			n = r->dir->ndown, shard = 0, known;

	if (!stream_validate(r, t, &m->new_tuple))
		return false;
	if (t->replicate)
	{
		for (int s = 0; s < n; s++)
			if (shard_wants(r, t, &m->new_tuple, s) && !shard_insert_row(r, s, t, &m->new_tuple, NULL))
				return false;
		return true;
	}
	if ((known = route_tuple(r, t, NULL, &m->new_tuple, 'N', &shard)) <= 0)
	{
		if (known == 0)
			log_error("%s: table %s: an INSERT without its key columns", r->role, t->display);
		return false;
	}
	return !shard_wants(r, t, &m->new_tuple, shard) ||
		shard_insert_row(r, shard, t, &m->new_tuple, NULL);
}

static bool
delete_on(stream_reader *r, int s, const stream_table *t, const stream_rel *rel,
		  const pgo_tuple *old)
{
	return !shard_wants(r, t, old, s) || shard_delete_row(r, s, t, rel, old);
}

static bool
apply_delete(stream_reader *r, const stream_table *t, const stream_rel *rel, const pgo_msg *m)
{
	int			n = r->dir->ndown, shard = 0;
	int			known = t->replicate ? 0 : route_tuple(r, t, rel, &m->old_tuple, m->old_kind, &shard);

	if (known < 0)
		return false;
	if (known == 1)
		return delete_on(r, shard, t, rel, &m->old_tuple);
	for (int s = 0; s < n; s++)		/* replicated, or the key is not in the record */
		if (!delete_on(r, s, t, rel, &m->old_tuple))
			return false;
	return true;
}

static bool move_row(stream_reader *r, int from, int to, const stream_table *t,
					 const stream_rel *rel, const pgo_tuple *ident, const pgo_tuple *new_tup);

/*
 * UPDATE of a row that stays on shard s, batched.  With chunks copied under
 * a newer snapshot (invariant 4) the old and the new version may fall in
 * chunks copied at different points: the old version must go if its chunk
 * predates the change, the new one must come if its chunk does.
 */
static bool
update_on(stream_reader *r, int s, const stream_table *t, const stream_rel *rel,
		  const pgo_tuple *ident, const pgo_tuple *new_tup)
{
	bool		want_old = shard_wants(r, t, ident, s), want_new = shard_wants(r, t, new_tup, s);

	if (!want_old && !want_new)
		return true;
	if (!want_new)
		return delete_on(r, s, t, rel, ident);	/* the new version came with a later chunk */
	if (!want_old)
	{
		/* the old version left with a later chunk's copy, the new one is in none */
		if (tuple_has_unchanged(new_tup))
		{
			log_error("%s: shard %d: table %s: an UPDATE needs unchanged TOAST values of a row "
					  "that no copy holds: the shards are inconsistent with the source; run `pgreshard "
					  "repair %s %s`, then apply again", r->role, s, t->display, r->ctx->plan->path,
					  t->display);
			return false;
		}
		return shard_insert_row(r, s, t, new_tup, NULL);
	}
	if (stream_identity_changed(t, ident, new_tup))
		return move_row(r, s, s, t, rel, ident, new_tup);	/* 428C9 otherwise */
	return shard_update_row(r, s, t, rel, ident, new_tup);
}

/* The row in res (one tuple) as a pgo_tuple; values point into res. */
static void
tuple_from_result(const PGresult *res, pgo_tuple *tup, pgo_value *vals)
{
	tup->ncols = PQnfields(res);
	tup->cols = vals;
	for (int i = 0; i < tup->ncols; i++)
	{
		vals[i].kind = PQgetisnull(res, 0, i) ? 'n' : 't';
		vals[i].data = PQgetvalue(res, 0, i);
		vals[i].len = (uint32_t) PQgetlength(res, 0, i);
	}
}

/* Take the row off shard s (DELETE ... RETURNING): 1 with *res and *old
 * (old->cols to free) when it was there, 0 when not, -1 after an error. */
static int
take_row(stream_reader *r, int s, const stream_table *t, const stream_rel *rel,
		 const pgo_tuple *ident, PGresult **res, pgo_tuple *old)
{
	/* DELETE ... RETURNING on shard s now; *res holds the row (0 or 1 tuples) */
	if ((*res = shard_delete_returning(r, s, t, rel, ident)) == NULL)
		return -1;
	if (PQntuples(*res) == 0)
	{
		PQclear(*res);
		return 0;
	}
	tuple_from_result(*res, old, xcalloc((size_t) PQnfields(*res) + 1, sizeof(pgo_value)));
	return 1;
}

/* The row moves to shard `to` from shard `from` (-1: wherever it is). */
static bool
move_row(stream_reader *r, int from, int to, const stream_table *t, const stream_rel *rel,
		 const pgo_tuple *ident, const pgo_tuple *new_tup)
{
	int			n = r->dir->ndown;
	bool		need_old = tuple_has_unchanged(new_tup);

	if (from >= 0 && !need_old)
		return delete_on(r, from, t, rel, ident) &&
			(!shard_wants(r, t, new_tup, to) || shard_insert_row(r, to, t, new_tup, NULL));
	for (int s = (from >= 0 ? from : 0); s < (from >= 0 ? from + 1 : n); s++)
	{
		PGresult   *res;
		pgo_tuple	old;
		int			found;
		bool		ok;

		if ((from < 0 && s == to) || !shard_wants(r, t, ident, s))
			continue;
		if ((found = take_row(r, s, t, rel, ident, &res, &old)) <= 0)
		{
			if (found < 0)
				return false;
			continue;
		}
		ok = !shard_wants(r, t, new_tup, to) || shard_insert_row(r, to, t, new_tup, &old);
		free(old.cols);
		PQclear(res);
		return ok;
	}
	if (need_old)
	{
		log_error("%s: table %s: an UPDATE moved a row to shard %d but no shard holds the old row "
				  "to take its unchanged TOAST values from: the shards are inconsistent with the source; "
				  "run `pgreshard repair %s %s`, then apply again", r->role, t->display, to,
				  r->ctx->plan->path, t->display);
		return false;
	}
	return !shard_wants(r, t, new_tup, to) || shard_insert_row(r, to, t, new_tup, NULL);
}

/* Old key unknown: try the new shard; if the row is not there, it moves. */
static bool
update_unknown_origin(stream_reader *r, int to, const stream_table *t, const stream_rel *rel,
					  const pgo_tuple *ident, const pgo_tuple *new_tup)
{
	PGresult   *res;
	bool		here;

	if (!shard_wants(r, t, new_tup, to))
	{
		/* the new version is in a later chunk copy on `to`; the old one may still
		 * be on a shard whose copy predates the change */
		for (int s = 0; s < r->dir->ndown; s++)
			if (s != to && !delete_on(r, s, t, rel, ident))
				return false;
		return true;
	}
	res = shard_update_now(r, to, t, rel, ident, new_tup);
	if (res == NULL)
		return false;
	here = atoi(PQcmdTuples(res)) > 0;
	PQclear(res);
	return here || move_row(r, -1, to, t, rel, ident, new_tup);
}

/* Are the columns that place the row (the key, or what the Lua route
 * reads) all in the replica identity? */
static bool
key_in_identity(const stream_table *t, const stream_rel *rel)
{
	const int  *cols = t->lua_route ? t->route_col : t->key_col;
	int			n = t->lua_route ? t->nroute : t->nkeys;

	for (int k = 0; k < n; k++)
		if (cols[k] < 0 || cols[k] >= rel->ncols || !rel->ident[cols[k]])
			return false;
	return true;
}

/*
 * A Lua route reads a column whose value the UPDATE did not send (unchanged
 * TOAST): take the row from the shard that holds it, complete the new
 * version with its old values, route that and put it there.
 */
static bool
update_lua_unsent(stream_reader *r, int from, const stream_table *t, const stream_rel *rel,
				  const pgo_tuple *ident, const pgo_tuple *new_tup)
{
	int			n = r->dir->ndown;
	bool		wanted = false;

	for (int s = (from >= 0 ? from : 0); s < (from >= 0 ? from + 1 : n); s++)
	{
		PGresult   *res;
		pgo_value  *merged_vals;
		pgo_tuple	old, merged;
		int			to = 0, known, found;
		bool		ok;

		if (!shard_wants(r, t, ident, s))
			continue;
		wanted = true;
		if ((found = take_row(r, s, t, rel, ident, &res, &old)) <= 0)
		{
			if (found < 0)
				return false;
			continue;
		}
		merged_vals = xcalloc((size_t) new_tup->ncols + 1, sizeof(pgo_value));
		for (int i = 0; i < new_tup->ncols; i++)
			merged_vals[i] = new_tup->cols[i].kind == 'u' && i < old.ncols ? old.cols[i] : new_tup->cols[i];
		merged = (pgo_tuple) {new_tup->ncols, merged_vals};
		known = route_tuple(r, t, rel, &merged, 'N', &to);
		if (known == 0)
			log_error("%s: table %s: cannot route an UPDATE: a column the route reads is missing "
					  "even from the stored row", r->role, t->display);
		ok = known == 1 && (!shard_wants(r, t, &merged, to) || shard_insert_row(r, to, t, &merged, NULL));
		free(merged_vals);
		free(old.cols);
		PQclear(res);
		return ok;
	}
	if (wanted)
	{
		log_error("%s: table %s: an UPDATE whose route needs unchanged TOAST values found its row "
				  "on no shard: the shards are inconsistent with the source; run `pgreshard repair %s %s`, "
				  "then apply again", r->role, t->display, r->ctx->plan->path, t->display);
		return false;
	}
	return true;				/* the row came with a chunk copied after this change */
}

static bool
apply_update(stream_reader *r, const stream_table *t, const stream_rel *rel, const pgo_msg *m)
{
	const pgo_tuple *ident = m->old_kind ? &m->old_tuple : &m->new_tuple;
	int			n = r->dir->ndown, to = 0, from = 0, to_known, from_known;

	if (!stream_validate(r, t, &m->new_tuple))
		return false;
	if (t->replicate)
	{
		for (int s = 0; s < n; s++)
			if (!update_on(r, s, t, rel, ident, &m->new_tuple))
				return false;
		return true;
	}
	to_known = route_tuple(r, t, rel, &m->new_tuple, 'N', &to);
	if (m->old_kind)
		from_known = route_tuple(r, t, rel, &m->old_tuple, m->old_kind, &from);
	else if (key_in_identity(t, rel) && to_known == 1)
		from_known = 1, from = to;	/* identity unchanged, so the key is too */
	else
		from_known = 0;
	if (to_known < 0 || from_known < 0)
		return false;
	if (to_known == 0 && t->lua_route)
		return update_lua_unsent(r, from_known == 1 ? from : -1, t, rel, ident, &m->new_tuple);
	if (to_known == 0)
	{
		/* key unchanged but TOASTed ('u'): it stays where it is */
		if (from_known == 1)
			return update_on(r, from, t, rel, ident, &m->new_tuple);
		for (int s = 0; s < n; s++)
			if (!update_on(r, s, t, rel, ident, &m->new_tuple))
				return false;
		return true;
	}
	if (from_known == 1 && from == to)
		return update_on(r, to, t, rel, ident, &m->new_tuple);
	if (from_known == 1)
		return move_row(r, from, to, t, rel, ident, &m->new_tuple);
	return update_unknown_origin(r, to, t, rel, ident, &m->new_tuple);
}

/*
 * TRUNCATE on each shard that has not applied the transaction yet.  A table
 * with chunks copied on that shard after the TRUNCATE (invariant 4) keeps
 * their rows: it is left alone when all of it was copied later, else only
 * the rows outside those chunks are deleted.
 */
static bool
apply_truncate(stream_reader *r, const pgo_msg *m)
{
	bool		ok = true;

	for (int s = 0; ok && s < r->dir->ndown; s++)
	{
		strbuf		sql, del;
		int			listed = 0;

		if (r->txn_commit_lsn <= r->shards[s].progress)
			continue;
		sb_init(&sql);
		sb_append(&sql, "TRUNCATE ");
		for (int i = 0; ok && i < m->nrelids; i++)
		{
			const stream_rel *rel = change_rel(r, m->relids[i]);
			const stream_table *t;
			const char *target;
			int			late;

			if (rel == NULL)
			{
				ok = false;
				break;
			}
			if (rel->table < 0)
				continue;		/* not moved */
			t = &r->tables[rel->table];
			if (t->replicate && r->source > 0)
				continue;		/* replicated tables follow source 0 only */
			target = rel->leaf_qname ? rel->leaf_qname : t->qname;
			sb_init(&del);
			if (r->dir->reverse && !t->replicate && r->ctx->plan->nshards > 1)
			{
				/* one shard's TRUNCATE empties its part of the source, not the table */
				if (t->owner_rel == NULL)
				{
					log_error("%s: table %s was truncated on the shard; with Lua routing the rows it "
							  "held cannot be told apart on the source: delete them there by hand, then "
							  "run `pgreshard finish`", r->role, t->display);
					ok = false;
				}
				else
				{
					sb_printf(&del, "DELETE FROM %s WHERE true", t->qname);
					stream_owner_cond(&del, t, t->qname);
					ok = shard_send_sql(r, s, 'T', del.data);
				}
				sb_free(&del);
				continue;
			}
			late = stream_late_truncate(r, t, target, s, &del);
			if (late == 0)
				sb_printf(&sql, "%s%s", listed++ ? ", " : "", target);
			else if (late == 2)
				ok = shard_send_sql(r, s, 'T', del.data);
			sb_free(&del);
		}
		if (m->truncate_options & PGO_TRUNCATE_RESTART_IDENTITY)
			sb_append(&sql, " RESTART IDENTITY");
		if (m->truncate_options & PGO_TRUNCATE_CASCADE)
			sb_append(&sql, " CASCADE");
		if (ok && listed > 0)
			ok = shard_send_sql(r, s, 'T', sql.data);
		sb_free(&sql);
	}
	return ok;
}

bool
stream_apply_change(stream_reader *r, const pgo_msg *m)
{
	const stream_rel *rel;
	const stream_table *t;
	pgo_msg		pm;
	pgo_value  *vals = NULL;
	bool		ok;

	if (m->kind == PGO_RELATION)
		return on_relation(r, m);
	if (m->kind == PGO_TRUNCATE)
		return apply_truncate(r, m);
	if (m->kind != PGO_INSERT && m->kind != PGO_UPDATE && m->kind != PGO_DELETE)
		return true;			/* Type, Origin, Message: nothing to apply */
	if ((rel = change_rel(r, m->relid)) == NULL)
		return false;
	if (rel->table < 0)
		return true;			/* not moved */
	t = &r->tables[rel->table];
	if (t->replicate && r->source > 0)
		return true;			/* every source holds the same copy: follow source 0 */
	log_debug("%s: %s on %s in transaction %X/%X", r->role, pgo_kind_name(m->kind), t->display,
			  (unsigned int) (r->txn_commit_lsn >> 32), (unsigned int) r->txn_commit_lsn);
	r->changes++;
	if (rel->order)
	{
		/* a partition with its own column order: its tuples in the table's */
		vals = xcalloc((size_t) (2 * rel->ncols) + 1, sizeof(pgo_value));
		pm = *m;
		stream_tuple_permuted(&m->new_tuple, rel->order, rel->ncols, &pm.new_tuple, vals);
		stream_tuple_permuted(&m->old_tuple, rel->order, rel->ncols, &pm.old_tuple, vals + rel->ncols);
		m = &pm;
	}
	r->cur_rel = rel;			/* its partition, for invariant 4 (chunk_member.c) */
	if (m->kind == PGO_INSERT)
		ok = apply_insert(r, t, m);
	else if (m->kind == PGO_UPDATE)
		ok = apply_update(r, t, rel, m);
	else
		ok = apply_delete(r, t, rel, m);
	r->cur_rel = NULL;
	free(vals);
	return ok && !r->member_failed;
}
