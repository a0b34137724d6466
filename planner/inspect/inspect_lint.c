/*
 * inspect_lint.c — the source checks that look past one table at a time.
 *
 *   foreign keys   a key whose child and parent rows may land on different
 *                  shards cannot be created there (fkrule.h); one between a
 *                  moved table and one that stays on the source is lost too;
 *   large objects  logical decoding carries no large objects, so oid / lo
 *                  columns would point at nothing on the shards;
 *   sequences      the sequences moved tables draw from (column defaults and
 *                  identity columns) are read into the catalog — the saved
 *                  plan's fingerprint compares them — and one shared between
 *                  tables is a warning;
 *   WAL headroom   the slot keeps the source's WAL from its creation until
 *                  the stream has caught up.  PostgreSQL cannot tell free
 *                  disk space, so the WAL written during the copy is
 *                  estimated (the source's average WAL rate from pg_stat_wal
 *                  times the copy's expected duration) and compared with
 *                  max_slot_wal_keep_size when that is set.
 *
 * Read-only like the rest of the inspection; findings carry their fix.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fkrule.h"
#include "inspect.h"
#include "sqlname.h"
#include "units.h"
#include "xalloc.h"

/* Copy throughput assumed for the WAL estimate: bench/copy does ~60 MB/s on 2 cores. */
#define COPY_BYTES_PER_SECOND (32.0 * 1024 * 1024)

/* One row per column pair of every foreign key, in key order.  A partition
 * stands for its root partitioned table (the table the plan lists), and the
 * copies PostgreSQL makes of a partitioned table's key on its partitions
 * (conparentid set) are left out: the root's own key says it all. */
static const char *const SQL_FKEYS =
	"SELECT con.oid, con.conname, cn.nspname, cc.relname, pn.nspname, pc.relname, ca.attname, pa.attname "
	"FROM pg_constraint con "
	"JOIN pg_class cc ON cc.oid = coalesce(pg_partition_root(con.conrelid), con.conrelid) "
	"JOIN pg_namespace cn ON cn.oid = cc.relnamespace "
	"JOIN pg_class pc ON pc.oid = coalesce(pg_partition_root(con.confrelid), con.confrelid) "
	"JOIN pg_namespace pn ON pn.oid = pc.relnamespace "
	"CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY k(ckey, pkey, ord) "
	"JOIN pg_attribute ca ON ca.attrelid = con.conrelid AND ca.attnum = k.ckey "
	"JOIN pg_attribute pa ON pa.attrelid = con.confrelid AND pa.attnum = k.pkey "
	"WHERE con.contype = 'f' AND con.conparentid = 0 AND cn.nspname NOT IN ('pg_catalog', 'information_schema') "
	"ORDER BY con.oid, k.ord";

/* Sequences feeding a column: through its default (serial, nextval) or as its
 * identity.  A partition's copy of its parent's default counts as the root
 * partitioned table's (the table the plan lists), once. */
static const char *const SQL_SEQUENCES =
	"WITH uses AS ("
	"  SELECT d.refobjid AS seq, ad.adrelid AS rel, ad.adnum AS col FROM pg_attrdef ad"
	"  JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid"
	"   AND d.refclassid = 'pg_class'::regclass"
	"  UNION SELECT d.objid, d.refobjid, d.refobjsubid FROM pg_depend d"
	"  WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'i') "
	"SELECT DISTINCT sn.nspname, s.relname, format_type(q.seqtypid, NULL), q.seqincrement, tn.nspname, t.relname, a.attname "
	"FROM uses u JOIN pg_class s ON s.oid = u.seq AND s.relkind = 'S' "
	"JOIN pg_namespace sn ON sn.oid = s.relnamespace JOIN pg_sequence q ON q.seqrelid = s.oid "
	"JOIN pg_class t ON t.oid = coalesce(pg_partition_root(u.rel), u.rel) JOIN pg_namespace tn ON tn.oid = t.relnamespace "
	"JOIN pg_attribute a ON a.attrelid = u.rel AND a.attnum = u.col "
	"ORDER BY 1, 2, 5, 6, 7";

static fk_side
side_of(const plan_table *pt)
{
	fk_side		s = {pt->replicate, pt->nkeys, (const char *const *) pt->keys};

	return s;
}

/* The foreign key in rows [from, to) of res. */
static void
lint_one_fk(const plan *p, const PGresult *res, int from, int to, catalog *cat)
{
	const plan_table *child = plan_find_table(p, PQgetvalue(res, from, 2), PQgetvalue(res, from, 3));
	const plan_table *parent = plan_find_table(p, PQgetvalue(res, from, 4), PQgetvalue(res, from, 5));
	char	   *cname = sqlname_quote_qualified(PQgetvalue(res, from, 2), PQgetvalue(res, from, 3));
	char	   *pname = sqlname_quote_qualified(PQgetvalue(res, from, 4), PQgetvalue(res, from, 5));
	const char *conname = PQgetvalue(res, from, 1);
	const char **ccols = xcalloc((size_t) (to - from), sizeof(char *));
	const char **pcols = xcalloc((size_t) (to - from), sizeof(char *));
	const char *reason = NULL;

	for (int r = from; r < to; r++)
	{
		ccols[r - from] = PQgetvalue(res, r, 6);
		pcols[r - from] = PQgetvalue(res, r, 7);
	}
	if (child != NULL && parent != NULL)
	{
		fk_side		cs = side_of(child), ps = side_of(parent);

		if (!fk_same_shard(&cs, &ps, to - from, ccols, pcols, &reason))
			catalog_add_finding(cat, FINDING_WARNING, cname,
								"shard both tables by the foreign key's columns (the same key), or replicate the parent table",
								"foreign key \"%s\" to %s crosses shards (%s): it is not created on the shards, "
								"so nothing checks it there", conname, pname, reason);
	}
	else if (child != NULL)
		catalog_add_finding(cat, FINDING_WARNING, cname,
							"add the parent table to the publication and the plan (replicate: true), or drop the foreign key",
							"foreign key \"%s\" references %s, which the plan does not move: the shards will not "
							"have it, so the foreign key is not created there", conname, pname);
	else if (parent != NULL)
		catalog_add_finding(cat, FINDING_WARNING, pname,
							"move the referencing table too, or drop the foreign key before the cutover",
							"%s (not moved) references it through foreign key \"%s\": after the cutover its rows "
							"stay on the source while the rows they reference live on the shards", cname, conname);
	free(ccols);
	free(pcols);
	free(cname);
	free(pname);
}

static bool
lint_foreign_keys(const plan *p, pgr_conn *c, catalog *cat)
{
	PGresult   *res = pgr_query(c, "reading foreign keys", SQL_FKEYS, 0, NULL);
	int			from = 0, n;

	if (res == NULL)
		return false;
	n = PQntuples(res);
	for (int r = 1; r <= n; r++)
		if (r == n || strcmp(PQgetvalue(res, r, 0), PQgetvalue(res, from, 0)) != 0)
		{
			lint_one_fk(p, res, from, r, cat);
			from = r;
		}
	PQclear(res);
	return true;
}

static bool
lint_large_objects(const plan *p, pgr_conn *c, catalog *cat)
{
	PGresult   *res = pgr_query(c, "counting large objects",
								"SELECT count(*) FROM pg_largeobject_metadata", 0, NULL);
	bool		columns = false;
	long long	nlo;

	if (res == NULL)
		return false;
	nlo = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	for (int ti = 0; ti < p->ntables; ti++)
	{
		const src_table *t = &cat->tables[ti];

		for (int i = 0; i < t->ncols; i++)
			if (t->cols[i].base_oid == 26 || strcmp(t->cols[i].type, "lo") == 0)
			{
				char	   *name = table_display(&p->tables[ti]);

				catalog_add_finding(cat, FINDING_WARNING, name,
									"store the data in a bytea column, or move the large objects yourself "
									"(pg_dump --large-objects) and keep the OIDs",
									"column \"%s\" (%s) refers to large objects, which neither the copy nor "
									"logical decoding moves: on the shards it would point at nothing",
									t->cols[i].name, t->cols[i].type);
				free(name);
				columns = true;
			}
	}
	if (nlo > 0 && !columns)
		catalog_add_finding(cat, FINDING_INFO, cat->sources[0].role, NULL,
							"the database has %lld large object(s); pgreshard does not move large objects "
							"(no moved table has an oid or lo column)", nlo);
	return true;
}

static void
add_sequence_user(catalog *cat, const plan *p, const PGresult *res, int r)
{
	char	   *name = sqlname_quote_qualified(PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
	char	   *table = sqlname_quote_qualified(PQgetvalue(res, r, 4), PQgetvalue(res, r, 5));
	char	   *col = sqlname_quote(PQgetvalue(res, r, 6));
	src_sequence *s = cat->nsequences ? &cat->sequences[cat->nsequences - 1] : NULL;

	if (s == NULL || strcmp(s->name, name) != 0)
	{
		cat->sequences = xrealloc(cat->sequences, sizeof(src_sequence) * (size_t) (cat->nsequences + 1));
		s = &cat->sequences[cat->nsequences++];
		memset(s, 0, sizeof(*s));
		s->name = name;
		s->type = xstrdup(PQgetvalue(res, r, 2));
		s->increment = atoll(PQgetvalue(res, r, 3));
	}
	else
		free(name);
	s->used_by = xrealloc(s->used_by, sizeof(char *) * (size_t) (s->nusers + 1));
	s->user_moved = xrealloc(s->user_moved, sizeof(bool) * (size_t) (s->nusers + 1));
	s->user_moved[s->nusers] = plan_find_table(p, PQgetvalue(res, r, 4), PQgetvalue(res, r, 5)) != NULL;
	s->used_by[s->nusers++] = xasprintf("%s.%s", table, col);
	free(table);
	free(col);
}

static void
lint_shared_sequence(const src_sequence *s, catalog *cat)
{
	int			stay = -1, moved = 0;

	for (int u = 0; u < s->nusers; u++)
	{
		moved += s->user_moved[u];
		if (!s->user_moved[u] && stay < 0)
			stay = u;
	}
	if (stay >= 0)
		catalog_add_finding(cat, FINDING_WARNING, s->name,
							"give the moved tables their own sequence (or identity column), or use IDs both "
							"sides can share (UUIDs, a central sequence)",
							"sequence shared with %s, which stays on the source: after the cutover the source "
							"and the shards draw from separate copies of it, so new values can collide",
							s->used_by[stay]);
	else if (moved > 1)
		catalog_add_finding(cat, FINDING_WARNING, s->name,
							"give each table its own sequence or identity column, or use UUIDs",
							"sequence shared by %d moved columns (%s, %s%s): every shard gets its own copy, "
							"moved past the source's value at the cutover, so values stay unique per shard only",
							moved, s->used_by[0], s->used_by[1], moved > 2 ? ", ..." : "");
}

static bool
read_sequences(const plan *p, pgr_conn *c, catalog *cat)
{
	PGresult   *res = pgr_query(c, "reading sequences", SQL_SEQUENCES, 0, NULL);
	int			start = 0;

	if (res == NULL)
		return false;
	for (int r = 0; r < PQntuples(res); r++)
		add_sequence_user(cat, p, res, r);
	PQclear(res);
	/* keep the sequences that a moved table uses */
	for (int i = 0; i < cat->nsequences; i++)
	{
		src_sequence *s = &cat->sequences[i];
		bool		used = false;

		for (int u = 0; u < s->nusers; u++)
			used = used || s->user_moved[u];
		if (!used)
		{
			free(s->name);
			free(s->type);
			for (int u = 0; u < s->nusers; u++)
				free(s->used_by[u]);
			free(s->used_by);
			free(s->user_moved);
			continue;
		}
		cat->sequences[start++] = *s;
		if (s->nusers > 1)
			lint_shared_sequence(s, cat);
	}
	cat->nsequences = start;
	return true;
}

/* The WAL the slot will hold while the copy runs, against max_slot_wal_keep_size. */
/* The source's average WAL rate (pg_stat_wal, 14+), for lint_wal_headroom;
 * -1 when there is no basis (old server, statistics just reset). */
static bool
read_wal_rate(pgr_conn *c, server_info *s)
{
	PGresult   *res;

	s->wal_rate = -1;
	if (s->version_num < 140000)
		return true;
	res = pgr_query(c, "reading the WAL rate",
					"SELECT wal_bytes, extract(epoch FROM now() - stats_reset) FROM pg_stat_wal", 0, NULL);
	if (res == NULL)
		return false;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 1) && atof(PQgetvalue(res, 0, 1)) > 60)
		s->wal_rate = atof(PQgetvalue(res, 0, 0)) / atof(PQgetvalue(res, 0, 1));
	PQclear(res);
	return true;
}

/* WAL each source's slot holds while the copy of all the tables runs: a plan
 * whose estimate passes max_slot_wal_keep_size or source.max_retained_wal
 * cannot fit, and is refused. */
void
lint_wal_headroom(const plan *p, catalog *cat)
{
	double		bytes = 0, seconds;

	for (int i = 0; i < cat->ntables; i++)
		bytes += (double) cat->tables[i].total_bytes;	/* every source's, once all are read */
	seconds = bytes / COPY_BYTES_PER_SECOND + 60;	/* + schema steps and catch-up */
	for (int i = 0; i < cat->nsources; i++)
	{
		const server_info *s = &cat->sources[i];
		double		retained = s->wal_rate * seconds;
		double		keep = (double) s->max_slot_wal_keep_mb * 1024 * 1024;
		char		b1[32], b2[32], b3[32];

		if (s->wal_rate < 0)
			continue;
		format_bytes(retained, b1, sizeof(b1));
		format_bytes(s->wal_rate, b2, sizeof(b2));
		if (s->max_slot_wal_keep_mb >= 0 && retained > keep)
			catalog_add_finding(cat, FINDING_ERROR, s->role,
								"raise max_slot_wal_keep_size (or set it to -1) for the duration of the move, or "
								"run it when the source writes less",
								"the slot would be invalidated during the copy: about %s of WAL expected (the "
								"source writes %s/s on average, the copy takes ~%.0f s) but max_slot_wal_keep_size "
								"is %s", b1, b2, seconds, format_bytes(keep, b3, sizeof(b3)));
		else if (p->max_retained_wal > 0 && retained > (double) p->max_retained_wal)
			catalog_add_finding(cat, FINDING_ERROR, s->role,
								"raise source.max_retained_wal if the source's pg_wal volume has the room, or run "
								"the move when the source writes less",
								"the slot would hold about %s of WAL during the copy (the source writes %s/s on "
								"average, the copy takes ~%.0f s), more than source.max_retained_wal (%s)",
								b1, b2, seconds, format_bytes((double) p->max_retained_wal, b3, sizeof(b3)));
		else
			catalog_add_finding(cat, FINDING_INFO, s->role,
								"check that the source's pg_wal volume has that much free space (PostgreSQL cannot report it)",
								"the slot will hold about %s of WAL during the copy (the source writes %s/s on "
								"average, the copy takes ~%.0f s)", b1, b2, seconds);
	}
}

/* cutover.reverse: a slot on every shard from the cutover to finish or
 * rollback, holding the shards' WAL meanwhile. */
static void
lint_reverse(const plan *p, catalog *cat)
{
	char		b[32];

	if (!p->cutover.reverse)
		return;
	if (p->nsources > 1 && p->sharding == SHARD_FN_LUA && p->hooks.source_route == NULL)
		catalog_add_finding(cat, FINDING_ERROR, "cutover.reverse",
							"name a Lua function(table, row, nsources) in hooks.source_route that says which "
							"source a row came from, or set cutover.reverse: false",
							"reverse replication to %d sources routes rows by the built-in hash over the sources "
							"unless hooks.source_route says otherwise; this plan routes with Lua", p->nsources);
	if (p->cutover.reverse_max_retained > 0)
		format_bytes((double) p->cutover.reverse_max_retained, b, sizeof(b));
	catalog_add_finding(cat, FINDING_WARNING, "cutover.reverse",
						"run `pgreshard finish` once the shards are trusted, or set cutover.reverse_max_retained",
						"after the cutover a reverse replication slot on each shard holds back the shards' WAL "
						"until `pgreshard finish` or `pgreshard rollback`%s%s%s",
						p->cutover.reverse_max_retained > 0 ? " (finished automatically past " : "",
						p->cutover.reverse_max_retained > 0 ? b : "",
						p->cutover.reverse_max_retained > 0 ? " per shard)" : "");
}

bool
lint_source(const plan *p, pgr_conn *c, int src_index, catalog *cat)
{
	if (src_index > 0)
		return read_wal_rate(c, &cat->sources[src_index]);
	lint_reverse(p, cat);
	return lint_foreign_keys(p, c, cat) && lint_large_objects(p, c, cat) &&
		read_sequences(p, c, cat) && read_wal_rate(c, &cat->sources[0]) &&
		lint_copy_reads(p, c, &cat->sources[0], cat) && inspect_schema_source(p, c, cat);
}
