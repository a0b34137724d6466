/*
 * cutover_seq.c — sequences move ahead on the shards during the freeze.
 *
 * Every sequence a moved table owns (serial, identity) or uses in a column
 * default is read on each source (the largest value over the sources) and
 * set on every shard to that value plus cutover.sequence_gap, so ids the
 * shards hand out never collide with ids the source already gave.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutover.h"
#include "log.h"
#include "strbuf.h"
#include "xalloc.h"

typedef struct seq_value {
	char	   *schema;
	char	   *name;
	long long	last;
} seq_value;

static char *
sequences_sql(pgr_conn *c, const plan *p)
{
	strbuf		sb;

	sb_init(&sb);
	sb_append(&sb, "WITH moved AS (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
			  "WHERE (n.nspname, c.relname) IN (VALUES ");
	for (int i = 0; i < p->ntables; i++)
	{
		char	   *s = PQescapeLiteral(c->pg, p->tables[i].schema, strlen(p->tables[i].schema));
		char	   *t = PQescapeLiteral(c->pg, p->tables[i].relname, strlen(p->tables[i].relname));

		sb_printf(&sb, "%s(%s, %s)", i ? ", " : "", s, t);
		PQfreemem(s);
		PQfreemem(t);
	}
	sb_append(&sb, ")), seqs AS ("
			  "SELECT d.objid AS oid FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
			  "AND d.refclassid = 'pg_class'::regclass AND d.refobjid IN (SELECT oid FROM moved) "
			  "AND d.deptype IN ('a', 'i') "
			  "UNION SELECT d.refobjid FROM pg_attrdef ad JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass "
			  "AND d.objid = ad.oid AND d.refclassid = 'pg_class'::regclass WHERE ad.adrelid IN (SELECT oid FROM moved)) "
			  "SELECT n.nspname, c.relname, pg_sequence_last_value(c.oid) FROM seqs "
			  "JOIN pg_class c ON c.oid = seqs.oid AND c.relkind = 'S' "
			  "JOIN pg_namespace n ON n.oid = c.relnamespace");
	return sb_steal(&sb);
}

static void
merge(seq_value **vals, int *n, const char *schema, const char *name, long long last)
{
	for (int i = 0; i < *n; i++)
		if (strcmp((*vals)[i].schema, schema) == 0 && strcmp((*vals)[i].name, name) == 0)
		{
			if (last > (*vals)[i].last)
				(*vals)[i].last = last;
			return;
		}
	*vals = xrealloc(*vals, sizeof(seq_value) * (size_t) (*n + 1));
	(*vals)[(*n)++] = (seq_value) {xstrdup(schema), xstrdup(name), last};
}

static bool
set_on_shards(apply_ctx *ctx, const seq_value *vals, int n)
{
	const plan *p = ctx->plan;
	bool		ok = true;

	for (int s = 0; ok && s < p->nshards; s++)
	{
		pgr_conn   *c = connect_shard(p, s);

		ok = c != NULL;
		for (int i = 0; ok && i < n; i++)
		{
			char		v[32];
			const char *params[3] = {vals[i].schema, vals[i].name, v};

			snprintf(v, sizeof(v), "%lld", vals[i].last + p->cutover.sequence_gap);
			ok = pgr_exec(c, "moving a sequence ahead",
						  "SELECT setval(format('%I.%I', $1::text, $2::text)::regclass, $3::bigint, true)",
						  3, params);
		}
		pgr_disconnect(c);
	}
	return ok;
}

bool
cutover_sequences(apply_ctx *ctx, freeze_session *fs)
{
	seq_value  *vals = NULL;
	int			n = 0;
	bool		ok = true;

	for (int i = 0; ok && i < ctx->plan->nsources; i++)
	{
		char	   *sql = sequences_sql(fs[i].conn, ctx->plan);
		PGresult   *res = pgr_query(fs[i].conn, "reading the sequences", sql, 0, NULL);

		free(sql);
		ok = res != NULL;
		for (int r = 0; ok && r < PQntuples(res); r++)
			if (!PQgetisnull(res, r, 2))
				merge(&vals, &n, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1), atoll(PQgetvalue(res, r, 2)));
		PQclear(res);
	}
	if (ok && n > 0)
		ok = set_on_shards(ctx, vals, n);
	if (ok)
		log_info("cutover: %d sequence(s) set ahead by %lld on every shard", n,
				 ctx->plan->cutover.sequence_gap);
	for (int i = 0; i < n; i++)
	{
		free(vals[i].schema);
		free(vals[i].name);
	}
	free(vals);
	return ok;
}
