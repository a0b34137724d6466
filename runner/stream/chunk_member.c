/*
 * chunk_member.c — DESIGN.md invariant 4 for chunks of any key: does a
 * chunk that a rerun copied on shard s under a snapshot newer than the slot
 * already hold the change the stream is about to apply there?
 *
 * A change committed before such a chunk's snapshot LSN is in the chunk's
 * copy when its row lies in the chunk, and is skipped on that shard;
 * otherwise it is applied.  Where the row lies:
 *
 *  - key chunks (ranges of the primary or unique NOT NULL key): the row's
 *    key against the chunk's bounds, in the key's own order.  The client
 *    compares integers, uuids and text under the C collation itself
 *    (chunk_key.h: exact for those); for any other key (text under a
 *    linguistic collation, numeric, timestamps, ...) the source itself
 *    compares, over its own connection, with the columns' types and
 *    collations: one query per change, and only for changes older than the
 *    table's newest late chunk, i.e. only while the stream catches up after
 *    a rerun.
 *  - block (ctid) ranges, a whole-table chunk: every row.  Safe because a
 *    table split into block ranges is never partly copied on a shard under
 *    two snapshots (the copy recopies it whole there, runner/copy/
 *    copy_plan.c), so on that shard every chunk of the table is late with
 *    the same LSN, as with PostgreSQL's own table synchronisation.
 *  - key chunks, but the change does not carry the key: an UPDATE's or
 *    DELETE's old-key tuple holds only the replica identity's columns, and
 *    the identity is not the chunk key (the copy chunks by the identity's
 *    index when there is one, copy_chunks.c, but the identity may change
 *    during the move), or the key is an unchanged TOASTed value.  Taking
 *    such a change as "in the later chunk" loses it on a shard that holds
 *    the row in an earlier chunk; taking it as "not" replays it over a later
 *    chunk's newer row.  So the shard is asked (late_lookup): does it hold a
 *    row matching the change's values outside the later chunks?  Its rows
 *    outside them are exactly the source's as of just before this change
 *    (copied at or before it, every change since applied in order), and the
 *    identity is unique, so the row is there if and only if the change is
 *    that shard's to apply.  One query per such change, only while the
 *    stream catches up over a later chunk's snapshot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk_key.h"
#include "log.h"
#include "stream.h"
#include "xalloc.h"

/* The source's comparison of a key ($1..$n) with bounds ($n+1: text[], n
 * values per bound; $n+2 bounds): 't' or 'f' per bound, key >= bound. */
static char *
member_sql(char **types, char **colls, int n)
{
	strbuf		sb;

	sb_init(&sb);
	sb_append(&sb, "SELECT string_agg(CASE WHEN (");
	for (int i = 0; i < n; i++)
		sb_printf(&sb, "%s($%d::%s)%s%s", i ? ", " : "", i + 1, types[i], colls[i] ? " COLLATE " : "",
				  colls[i] ? colls[i] : "");
	sb_append(&sb, ") >= (");
	for (int i = 0; i < n; i++)
		sb_printf(&sb, "%s(b[i * %d + %d])::%s", i ? ", " : "", n, i + 1, types[i]);
	sb_printf(&sb, ") THEN 't' ELSE 'f' END, '' ORDER BY i) FROM (SELECT $%d::text[] AS b) x, "
			  "generate_series(0, $%d::int - 1) i", n + 1, n + 2);
	return sb_steal(&sb);
}

/* Set the table's chunk key from a "key" row of the chunk plan (once). */
static bool
set_key(stream_table *t, const PGresult *res, int r)
{
	char	  **cols = NULL, **types = NULL, **colls = NULL;
	int			n = 0, nt = 0, nc = 0;
	bool		ok;

	if (t->nck > 0)
		return true;
	ok = pgarray_decode(PQgetvalue(res, r, 3), &cols, &n) &&
		pgarray_decode(PQgetvalue(res, r, 4), &types, &nt) &&
		pgarray_decode(PQgetvalue(res, r, 5), &colls, &nc) && n == nt && n == nc && n <= 32;
	for (int i = 0; ok && i < n; i++)
	{
		t->ck_col[i] = stream_col_index(t, cols[i]);
		t->ck_kind[i] = (int) keycmp_of(types[i], colls[i]);
		ok = t->ck_col[i] >= 0;
	}
	if (ok)
	{
		keycmp_kind kinds[32];

		t->nck = n;
		for (int i = 0; i < n; i++)
			kinds[i] = (keycmp_kind) t->ck_kind[i];
		if (!keycmp_client(kinds, n))
			t->ck_sql = member_sql(types, colls, n);
	}
	else
		log_warn("table %s: the chunk plan's key is not among the streamed columns; changes "
				 "older than a late chunk are taken as in it", t->display);
	pgarray_free(cols, n);
	pgarray_free(types, nt);
	pgarray_free(colls, nc);
	return true;
}

/* The late chunk's bounds from chunk plan row r. */
static bool
set_bounds(apply_ctx *ctx, stream_table *t, const PGresult *res, int r,
		   struct late_chunk *lc)
{
	const char *by = PQgetisnull(res, r, 2) ? NULL : PQgetvalue(res, r, 2);
	int			n;

	lc->all_rows = true;
	if (by == NULL && !(PQgetisnull(res, r, 8) && PQgetisnull(res, r, 9)))
	{
		/* written before key chunks: bigint bounds of the integer primary key */
		const src_table *st = catalog_table(ctx->cat, t->index);
		int			pk = src_table_chunk_col(st);
		int			col = pk < 0 ? -1 : stream_col_index(t, st->cols[pk].name);

		if (col < 0)
			return true;		/* taken as every row */
		t->nck = 1;
		t->ck_col[0] = col;
		t->ck_kind[0] = KEYCMP_INT;
		for (int b = 0; b < 2; b++)
			if (!PQgetisnull(res, r, 8 + b))
			{
				char	  **v = xcalloc(1, sizeof(char *));

				v[0] = xstrdup(PQgetvalue(res, r, 8 + b));
				*(b == 0 ? &lc->lo : &lc->hi) = v;
			}
		lc->all_rows = false;
		return true;
	}
	if (!PQgetisnull(res, r, 11))
	{
		lc->leaf_schema = xstrdup(PQgetvalue(res, r, 10));
		lc->leaf_name = xstrdup(PQgetvalue(res, r, 11));
		lc->leaf_cond = xstrdup(PQgetisnull(res, r, 12) ? "true" : PQgetvalue(res, r, 12));
	}
	/* a leaf's chunk without bounds: the rows of that leaf */
	if (by == NULL || strcmp(by, "key") != 0 ||
		(PQgetisnull(res, r, 6) && PQgetisnull(res, r, 7) && lc->leaf_name == NULL))
		return true;
	if (!set_key(t, res, r) || t->nck == 0)
		return true;
	for (int b = 0; b < 2; b++)
		if (!PQgetisnull(res, r, 6 + b) &&
			(!pgarray_decode(PQgetvalue(res, r, 6 + b), b == 0 ? &lc->lo : &lc->hi, &n) || n != t->nck))
		{
			log_error("table %s, chunk %d: the chunk plan's bounds are malformed", t->display, lc->chunk + 1);
			return false;
		}
	lc->all_rows = false;
	return true;
}

static struct late_chunk *
late_find(apply_ctx *ctx, stream_table *t, int source, int chunk, const PGresult *plan_rows,
		  bool *ok)
{
	struct late_chunk *lc;

	for (int l = 0; l < t->nlate; l++)
		if (t->late[l].chunk == chunk && t->late[l].source == source)
			return &t->late[l];
	t->late = xrealloc(t->late, sizeof(*t->late) * (size_t) (t->nlate + 1));
	lc = &t->late[t->nlate++];
	memset(lc, 0, sizeof(*lc));
	lc->source = source;
	lc->chunk = chunk;
	lc->all_rows = true;
	lc->lsn = xcalloc((size_t) ctx->plan->nshards, sizeof(uint64_t));
	for (int r = 0; r < PQntuples(plan_rows); r++)
		if (atoi(PQgetvalue(plan_rows, r, 0)) == t->index && atoi(PQgetvalue(plan_rows, r, 1)) == chunk)
		{
			*ok = set_bounds(ctx, t, plan_rows, r, lc);
			break;
		}
	return lc;
}

static int
late_by_chunk(const void *a, const void *b)
{
	const struct late_chunk *x = a, *y = b;

	return x->chunk < y->chunk ? -1 : x->chunk > y->chunk;
}

/* Chunks of the same leaf partition (or both of the whole table)? */
static bool
same_leaf(const struct late_chunk *a, const struct late_chunk *b)
{
	if (a->leaf_name == NULL || b->leaf_name == NULL)
		return a->leaf_name == b->leaf_name;
	return strcmp(a->leaf_schema, b->leaf_schema) == 0 && strcmp(a->leaf_name, b->leaf_name) == 0;
}

static void
late_leaf_free(struct late_chunk *lc)
{
	free(lc->leaf_schema);
	free(lc->leaf_name);
	free(lc->leaf_cond);
	lc->leaf_schema = lc->leaf_name = lc->leaf_cond = NULL;
}

/*
 * Number the distinct leaves of the late chunks and write the source's test
 * that places a row's key among them (used when the change does not say
 * its partition: publish_via_partition_root on): one 't'/'f' per leaf, its
 * partition constraint evaluated on the key's values.  The constraint names
 * partition key columns only, and a primary or unique key of a partitioned
 * table always holds them all.
 */
static void
number_leaves(stream_table *t)
{
	strbuf		sb;

	for (int l = 0; l < t->nlate; l++)
	{
		struct late_chunk *lc = &t->late[l];

		lc->leaf_no = -1;
		for (int m = 0; lc->leaf_name && m < l && lc->leaf_no < 0; m++)
			if (same_leaf(lc, &t->late[m]))
				lc->leaf_no = t->late[m].leaf_no;
		if (lc->leaf_name && lc->leaf_no < 0)
			lc->leaf_no = t->nleaves++;
	}
	for (int i = 0; i < t->nck; i++)
		if (t->ck_col[i] < 0)
			return;				/* a key column gone: rows are taken as in every leaf */
	if (t->nleaves == 0 || t->nck == 0)
		return;
	sb_init(&sb);
	sb_append(&sb, "SELECT concat(");
	for (int n = 0; n < t->nleaves; n++)
		for (int l = 0; l < t->nlate; l++)
			if (t->late[l].leaf_no == n)
			{
				sb_printf(&sb, "%sCASE WHEN (%s) THEN 't' ELSE 'f' END", n ? ", " : "", t->late[l].leaf_cond);
				break;
			}
	sb_append(&sb, ") FROM (SELECT ");
	for (int i = 0; i < t->nck; i++)
		sb_printf(&sb, "%s$%d::%s AS %s", i ? ", " : "", i + 1, t->types[t->ck_col[i]], t->qcols[t->ck_col[i]]);
	sb_append(&sb, ") pgreshard_row");
	t->leaf_sql = sb_steal(&sb);
}

/*
 * A rerun copies its chunks under one snapshot, so neighbouring late chunks
 * (chunks are numbered in key order) usually share their snapshot LSNs on
 * every shard: one key range [first lo, last hi) then stands for them all,
 * and each change is placed against a few ranges, not thousands of chunks.
 */
static void
merge_late(stream_table *t, int nshards)
{
	int			n = 0;

	qsort(t->late, (size_t) t->nlate, sizeof(*t->late), late_by_chunk);
	for (int l = 0; l < t->nlate; l++)
	{
		struct late_chunk *cur = n > 0 ? &t->late[n - 1] : NULL, *next = &t->late[l];

		if (cur != NULL && !cur->all_rows && !next->all_rows && next->chunk == cur->last + 1 &&
			memcmp(cur->lsn, next->lsn, sizeof(uint64_t) * (size_t) nshards) == 0 &&
			same_leaf(cur, next))
		{
			pgarray_free(cur->hi, cur->hi ? t->nck : 0);
			pgarray_free(next->lo, next->lo ? t->nck : 0);
			cur->hi = next->hi;
			cur->last = next->chunk;
			free(next->lsn);
			late_leaf_free(next);
			continue;
		}
		next->last = next->chunk;
		t->late[n++] = *next;
	}
	t->nlate = n;
}

/* The late chunks of this source's tables (only >= 0: of that table only). */
static bool
late_load(apply_ctx *ctx, pgr_conn *state, int source, uint64_t slot_lsn, stream_table *tables, int only)
{
	const plan *p = ctx->plan;
	char		src[16];
	const char *params[2] = {p->name, src};
	PGresult   *plan_rows;
	bool		ok = true;

	snprintf(src, sizeof(src), "%d", source);
	plan_rows = pgr_query(state, "reading the chunk plan",
						  "SELECT table_index, chunk, chunk_by, key_cols, key_types, key_colls, lo_key, "
						  "hi_key, lo, hi, leaf_schema, leaf_name, leaf_cond FROM pgreshard.chunk_plan "
						  "WHERE plan_name = $1 AND source = $2",
						  2, params);
	if (plan_rows == NULL)
		return false;
	for (int s = 0; ok && s < p->nshards; s++)
	{
		pgr_conn   *c = s == 0 ? state : connect_shard(p, s);	/* state is shard 0 */
		PGresult   *res = NULL;

		if (c)
			res = pgr_query(c, "reading chunk snapshots",
							"SELECT table_index, chunk, snapshot_lsn FROM pgreshard.chunks_done "
							"WHERE plan_name = $1 AND source = $2", 2, params);
		ok = res != NULL;
		for (int r = 0; ok && r < PQntuples(res); r++)
		{
			uint64_t	lsn = 0;
			int			ti = atoi(PQgetvalue(res, r, 0)), chunk = atoi(PQgetvalue(res, r, 1));
			struct late_chunk *lc;

			if (ti < 0 || ti >= p->ntables || (only >= 0 && ti != only) ||
				!lsn_parse(PQgetvalue(res, r, 2), &lsn) || lsn <= slot_lsn)
				continue;
			lc = late_find(ctx, &tables[ti], source, chunk, plan_rows, &ok);
			lc->lsn[s] = lsn;
			if (lsn > tables[ti].late_max)
				tables[ti].late_max = lsn;
		}
		PQclear(res);
		if (c != state)
			pgr_disconnect(c);
	}
	PQclear(plan_rows);
	for (int ti = 0; ok && ti < p->ntables; ti++)
		if (tables[ti].nlate > 0 && (only < 0 || ti == only))
		{
			stream_table *t = &tables[ti];
			int			nchunks = t->nlate;
			bool		whole = t->nck == 0 || t->late[0].all_rows;

			merge_late(t, p->nshards);
			number_leaves(t);
			log_info("%s: table %s: %d chunk(s) copied after the slot's snapshot; older changes to "
					 "their rows are skipped, rows placed %s%s", ctx->sources[source].role, t->display,
					 nchunks, whole ? "in the whole table" : t->ck_sql ? "by the source's comparison" :
					 "by the key", whole ? "" : nchunks == t->nlate ? "" : " (neighbours merged)");
		}
	return ok;
}

bool
stream_late_load(apply_ctx *ctx, pgr_conn *state, int source, uint64_t slot_lsn, stream_table *tables)
{
	return late_load(ctx, state, source, slot_lsn, tables, -1);
}

bool
stream_late_reload(apply_ctx *ctx, pgr_conn *state, int source, uint64_t slot_lsn, stream_table *tables,
				   int ti)
{
	stream_table *t = &tables[ti];

	stream_late_free(t);
	t->late = NULL;
	t->nlate = t->nleaves = t->nck = 0;
	t->late_max = 0;
	t->ck_sql = t->leaf_sql = NULL;
	return late_load(ctx, state, source, slot_lsn, tables, ti);
}

void
stream_late_free(stream_table *t)
{
	for (int l = 0; l < t->nlate; l++)
	{
		pgarray_free(t->late[l].lo, t->late[l].lo ? t->nck : 0);
		pgarray_free(t->late[l].hi, t->late[l].hi ? t->nck : 0);
		free(t->late[l].lsn);
		late_leaf_free(&t->late[l]);
	}
	free(t->late);
	free(t->ck_sql);
	free(t->leaf_sql);
}

/* Is late chunk l one shard s must not apply the current transaction over? */
static bool
late_here(const stream_reader *r, const struct late_chunk *lc, int s)
{
	return lc->lsn[s] != 0 && r->txn_commit_lsn < lc->lsn[s];
}

/* The source's answer, key >= each bound of the late chunks that matter on s:
 * ge[2l] for late[l].lo, ge[2l+1] for its hi. */
static bool
member_ask(stream_reader *r, const stream_table *t, const char **key, int s, char *ge)
{
	strbuf		bounds;
	const char *params[34];
	char		nb_s[16];
	int			nb = 0;
	char	  **flat = xcalloc((size_t) (2 * t->nlate * t->nck) + 1, sizeof(char *));
	int			nflat = 0;
	PGresult   *res;
	bool		ok;

	for (int l = 0; l < t->nlate; l++)
		for (int b = 0; b < 2; b++)
		{
			char	  **v = b == 0 ? t->late[l].lo : t->late[l].hi;

			if (v == NULL || t->late[l].all_rows || !late_here(r, &t->late[l], s))
				continue;
			for (int i = 0; i < t->nck; i++)
				flat[nflat++] = v[i];
			nb++;
		}
	if (nb == 0)
	{
		free(flat);
		return true;
	}
	if (r->member == NULL &&
		(r->member = pgr_connect(r->dir->up_dsns[r->source], r->role, PGR_CONN_READ_ONLY)) == NULL)
	{
		free(flat);
		return false;
	}
	sb_init(&bounds);
	pgarray_encode(&bounds, flat, nflat);
	snprintf(nb_s, sizeof(nb_s), "%d", nb);
	for (int i = 0; i < t->nck; i++)
		params[i] = key[i];
	params[t->nck] = bounds.data;
	params[t->nck + 1] = nb_s;
	res = pgr_query(r->member, "placing a change's key among the late chunks' bounds", t->ck_sql,
					t->nck + 2, params);
	ok = res != NULL && !PQgetisnull(res, 0, 0) && PQgetlength(res, 0, 0) == nb;
	if (res != NULL && !ok)
		log_error("%s: table %s: the source's comparison with the chunk bounds came back malformed",
				  r->role, t->display);
	if (ok)
	{
		const char *v = PQgetvalue(res, 0, 0);

		nb = 0;
		for (int l = 0; l < t->nlate; l++)
			for (int b = 0; b < 2; b++)
			{
				char	  **bv = b == 0 ? t->late[l].lo : t->late[l].hi;

				if (bv == NULL || t->late[l].all_rows || !late_here(r, &t->late[l], s))
					continue;
				ge[2 * l + b] = v[nb++] == 't';
			}
	}
	PQclear(res);
	sb_free(&bounds);
	free(flat);
	return ok;
}

/* Append "(range) OR (range) ..." of the key-range late chunks that hold
 * the current transaction on shard s, values quoted for its connection;
 * false when one of them is every row. */
static bool late_ranges(stream_reader *r, const stream_table *t, int s, strbuf *sb);

static bool
is_pk(const stream_table *t, int col)
{
	for (int k = 0; k < t->npk; k++)
		if (t->pk_col[k] == col)
			return true;
	return false;
}

/*
 * The change's key is not in tup (see the header): *has when shard s holds
 * no row matching tup outside the late chunks (the later copy holds the
 * change).  Matched by the primary key when tup carries it (an UPDATE's new
 * values of other columns are not yet on the shard), else by every value
 * the tuple carries ('t'), compared as text: an old-key tuple's other
 * columns are placeholders.
 */
static bool
late_lookup(stream_reader *r, const stream_table *t, const pgo_tuple *tup, int s, bool *has)
{
	strbuf		sql;
	PGresult   *res;
	int			matched = 0;
	bool		by_pk = t->npk > 0;

	*has = true;
	sb_init(&sql);
	sb_printf(&sql, "SELECT 1 FROM %s WHERE NOT (", t->qname);
	if (!late_ranges(r, t, s, &sql))
	{
		sb_free(&sql);
		return true;			/* a late chunk there is every row */
	}
	sb_append(&sql, ")");
	params_reset(&r->params);
	for (int k = 0; tup != NULL && k < t->npk; k++)
		by_pk = by_pk && t->pk_col[k] < tup->ncols && tup->cols[t->pk_col[k]].kind == 't';
	for (int i = 0; tup != NULL && i < tup->ncols && i < t->ncols; i++)
		if (tup->cols[i].kind == 't' && (!by_pk || is_pk(t, i)))
		{
			params_add(&r->params, &tup->cols[i]);
			sb_printf(&sql, " AND %s::text = $%d", t->qcols[i], r->params.n);
			matched++;
		}
	sb_append(&sql, " LIMIT 1");
	if (matched == 0)
	{
		sb_free(&sql);
		return true;			/* nothing to find it by: as before, the later chunk */
	}
	res = shard_query_now(r, s, sql.data, "looking for a change's row outside the chunks copied later");
	sb_free(&sql);
	if (res == NULL)
		return false;
	*has = PQntuples(res) == 0;
	PQclear(res);
	return true;
}

/* The source's answer: which of t's late leaves the key's row lies in
 * (one 't'/'f' per leaf, into in_leaf); false after reporting. */
static bool
member_leaf(stream_reader *r, const stream_table *t, const char **key, char *in_leaf)
{
	PGresult   *res;
	bool		ok;

	if (r->member == NULL &&
		(r->member = pgr_connect(r->dir->up_dsns[r->source], r->role, PGR_CONN_READ_ONLY)) == NULL)
		return false;
	res = pgr_query(r->member, "placing a change's row among the partitions copied later", t->leaf_sql,
					t->nck, key);
	ok = res != NULL && !PQgetisnull(res, 0, 0) && PQgetlength(res, 0, 0) == t->nleaves;
	if (res != NULL && !ok)
		log_error("%s: table %s: the source's test of the partitions came back malformed", r->role, t->display);
	if (ok)
		memcpy(in_leaf, PQgetvalue(res, 0, 0), (size_t) t->nleaves);
	PQclear(res);
	return ok;
}

/*
 * Is the row in late chunk lc's leaf partition?  The change's own relation
 * says (publish_via_partition_root off: a change arrives through its leaf;
 * a row moved to another partition arrives as a DELETE through the old leaf
 * and an INSERT through the new one), else the source's test (in_leaf), else
 * it is taken as in it.
 */
static bool
in_leaf_of(const stream_reader *r, const struct late_chunk *lc, const char *in_leaf)
{
	const stream_rel *rel = r->cur_rel;

	if (lc->leaf_name == NULL)
		return true;
	if (rel != NULL && rel->leaf_qname != NULL)
		return strcmp(rel->nspname, lc->leaf_schema) == 0 && strcmp(rel->relname, lc->leaf_name) == 0;
	return in_leaf == NULL || in_leaf[lc->leaf_no] == 't';
}

bool
stream_late_has(stream_reader *r, const stream_table *t, const pgo_tuple *tup, int s)
{
	const char *key[32];
	size_t		len[32];
	keycmp_kind kinds[32];
	char	   *ge = NULL, *in_leaf = NULL;
	bool		known = t->nck > 0 && tup != NULL, has = false;

	if (t->nlate == 0 || r->txn_commit_lsn >= t->late_max)
		return false;
	for (int i = 0; known && i < t->nck; i++)
	{
		int			c = t->ck_col[i];

		known = c >= 0 && c < tup->ncols && tup->cols[c].kind == 't';
		if (known)
		{
			key[i] = tup->cols[c].data;
			len[i] = tup->cols[c].len;
			kinds[i] = (keycmp_kind) t->ck_kind[i];
		}
	}
	if (known && (t->ck_sql != NULL ||
				  (t->leaf_sql != NULL && (r->cur_rel == NULL || r->cur_rel->leaf_qname == NULL))))
	{
		/* the source compares: its parameters are NUL-terminated copies */
		char	  **copies = xcalloc((size_t) t->nck, sizeof(char *));

		for (int i = 0; i < t->nck; i++)
			copies[i] = xstrndup(key[i], len[i]);
		ge = t->ck_sql ? xcalloc((size_t) (2 * t->nlate) + 1, 1) : NULL;
		in_leaf = t->leaf_sql && (r->cur_rel == NULL || r->cur_rel->leaf_qname == NULL) ?
			xcalloc((size_t) t->nleaves + 1, 1) : NULL;
		if ((ge && !member_ask(r, t, (const char **) copies, s, ge)) ||
			(in_leaf && !member_leaf(r, t, (const char **) copies, in_leaf)))
		{
			log_error("%s: shard %d: table %s: cannot tell whether a change is in a chunk copied "
					  "later; the stream stops (a rerun resumes)", r->role, s, t->display);
			r->member_failed = true;
			has = true;
		}
		for (int i = 0; i < t->nck; i++)
			free(copies[i]);
		free(copies);
	}
	for (int l = 0; !has && l < t->nlate; l++)
	{
		const struct late_chunk *lc = &t->late[l];
		bool		in_lo, in_hi;

		if (!late_here(r, lc, s))
			continue;
		if (lc->all_rows)
			has = true;
		else if (!known)
		{
			if (!late_lookup(r, t, tup, s, &has))
			{
				log_error("%s: shard %d: table %s: cannot tell whether a change is in a chunk copied "
						  "later; the stream stops (a rerun resumes)", r->role, s, t->display);
				r->member_failed = true;
				has = true;
			}
			break;				/* the shard's answer covers every late chunk */
		}
		else if (!in_leaf_of(r, lc, in_leaf))
			continue;
		else if (ge != NULL)
			has = (lc->lo == NULL || ge[2 * l]) && (lc->hi == NULL || !ge[2 * l + 1]);
		else
		{
			in_lo = lc->lo == NULL || keycmp_row(kinds, t->nck, key, len, lc->lo) >= 0;
			in_hi = lc->hi == NULL || keycmp_row(kinds, t->nck, key, len, lc->hi) < 0;
			has = in_lo && in_hi;
		}
	}
	free(ge);
	free(in_leaf);
	return has;
}

/* Append "(k1, k2) OP ('v1'::t1, 'v2'::t2)" (bare for one column), values
 * quoted for shard s's connection. */
static void
bound_cond(stream_reader *r, const stream_table *t, int s, strbuf *sb, const char *op, char **vals)
{
	for (int pass = 0; pass < 2; pass++)
	{
		sb_append(sb, "(");
		for (int i = 0; i < t->nck; i++)
		{
			int			c = t->ck_col[i];
			char	   *q = pass ? pgr_quote_literal(r->shards[s].conn, vals[i]) : NULL;

			if (pass)
				sb_printf(sb, "%s%s::%s", i ? ", " : "", q, t->types[c]);
			else
				sb_printf(sb, "%s%s", i ? ", " : "", t->qcols[c]);
			free(q);
		}
		sb_append(sb, ")");
		if (pass == 0)
			sb_printf(sb, " %s ", op);
	}
}

static bool
late_ranges(stream_reader *r, const stream_table *t, int s, strbuf *sb)
{
	int			n = 0;

	for (int l = 0; l < t->nlate; l++)
	{
		const struct late_chunk *lc = &t->late[l];

		if (!late_here(r, lc, s))
			continue;
		if (lc->all_rows || t->nck == 0)
			return false;
		sb_append(sb, n++ ? " OR (" : "(");
		if (lc->leaf_name)
		{
			pgr_conn   *c = r->shards[s].conn;
			char	   *q = pgr_quote_qualified(c, lc->leaf_schema, lc->leaf_name);
			char	   *lit = pgr_quote_literal(c, q);

			sb_printf(sb, "tableoid = %s::regclass AND ", lit);
			free(lit);
			free(q);
		}
		if (lc->lo)
			bound_cond(r, t, s, sb, ">=", lc->lo);
		if (lc->lo && lc->hi)
			sb_append(sb, " AND ");
		if (lc->hi)
			bound_cond(r, t, s, sb, "<", lc->hi);
		if (!lc->lo && !lc->hi)
			sb_append(sb, "true");
		sb_append(sb, ")");
	}
	if (n == 0)
		sb_append(sb, "false");
	return true;
}

int
stream_late_truncate(stream_reader *r, const stream_table *t, const char *target, int s, strbuf *del)
{
	bool		any = false;

	for (int l = 0; l < t->nlate; l++)
		any = any || late_here(r, &t->late[l], s);
	if (!any)
		return 0;
	/* a partitioned table's rows are in its leaves: no ONLY, each leaf's
	 * chunks by tableoid */
	sb_printf(del, "DELETE FROM %s%s WHERE NOT (", t->nleaves > 0 ? "" : "ONLY ", target);
	if (!late_ranges(r, t, s, del))
		return 1;
	sb_append(del, ")");
	return 2;
}
