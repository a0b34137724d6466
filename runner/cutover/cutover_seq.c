/*
 * cutover_seq.c — sequences move ahead on the shards during the freeze.
 *
 * Every sequence a moved table owns (serial, identity) or uses in a column
 * default is read on each source (the value furthest along over the
 * sources) and moved past that value plus cutover.sequence_gap on every
 * shard, so ids the shards hand out never collide with ids the source gave.
 *
 * The shards must not collide with each other either: with N shards and the
 * source's increment inc, shard s restarts at base + (s + 1) * inc and
 * counts by N * inc, so it hands out base + (s + 1 + k * N) * inc — each
 * shard its own residue, every value past base (base = the source's value
 * plus the gap, in the increment's direction).  A sequence the source never
 * used counts as being at its start minus one increment.  The increment is
 * always read on the source, so a cutover tried again after a failure sets
 * the same layout from a newer base.
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
	long long	last;			/* furthest value handed out on any source */
	long long	increment;		/* the source's INCREMENT BY */
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
			  "SELECT n.nspname, c.relname, "
			  "coalesce(pg_sequence_last_value(c.oid), q.seqstart - q.seqincrement), q.seqincrement "
			  "FROM seqs JOIN pg_class c ON c.oid = seqs.oid AND c.relkind = 'S' "
			  "JOIN pg_sequence q ON q.seqrelid = c.oid "
			  "JOIN pg_namespace n ON n.oid = c.relnamespace");
	return sb_steal(&sb);
}

static void
merge(seq_value **vals, int *n, const char *schema, const char *name, long long last,
	  long long increment)
{
	for (int i = 0; i < *n; i++)
		if (strcmp((*vals)[i].schema, schema) == 0 && strcmp((*vals)[i].name, name) == 0)
		{
			if (increment > 0 ? last > (*vals)[i].last : last < (*vals)[i].last)
				(*vals)[i].last = last;
			return;
		}
	*vals = xrealloc(*vals, sizeof(seq_value) * (size_t) (*n + 1));
	(*vals)[(*n)++] = (seq_value) {xstrdup(schema), xstrdup(name), last, increment};
}

/*
 * Shard s of nshards: where the sequence restarts and what it counts by.
 * False when that leaves the bigint range (the caller says which sequence).
 */
bool
cutover_sequence_layout(long long last, long long increment, long long gap, int s, int nshards,
						long long *restart, long long *step)
{
	long long	base, offset;

	if (increment == 0 || nshards <= 0 || s < 0 || s >= nshards || gap < 0)
		return false;
	if (__builtin_mul_overflow(increment, (long long) nshards, step) ||
		__builtin_mul_overflow(increment, (long long) (s + 1), &offset) ||
		__builtin_add_overflow(last, increment > 0 ? gap : -gap, &base) ||
		__builtin_add_overflow(base, offset, restart))
		return false;
	return true;
}

/* ALTER SEQUENCE on one shard: its own residue, past the source's value. */
static bool
set_one(pgr_conn *c, const seq_value *v, long long gap, int s, int nshards)
{
	long long	restart, step;
	char	   *qname, *sql;
	bool		ok;

	if (!cutover_sequence_layout(v->last, v->increment, gap, s, nshards, &restart, &step))
	{
		log_error("%s: sequence %s.%s: its value %lld plus the gap %lld, counted by %d shard(s), "
				  "leaves the bigint range; fix: lower cutover.sequence_gap or widen the sequence",
				  c->role, v->schema, v->name, v->last, gap, nshards);
		return false;
	}
	qname = pgr_quote_qualified(c, v->schema, v->name);
	/* bounds are the sequence's own; setting them wider is the user's choice */
	sql = xasprintf("ALTER SEQUENCE %s INCREMENT BY %lld RESTART WITH %lld", qname, step, restart);
	ok = pgr_exec(c, "moving a sequence ahead", sql, 0, NULL);
	free(qname);
	free(sql);
	return ok;
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
			ok = set_one(c, &vals[i], p->cutover.sequence_gap, s, p->nshards);
		pgr_disconnect(c);
	}
	return ok;
}

/* Merge into *vals the moved sequences' values as c's database has them. */
static bool
read_values(pgr_conn *c, const plan *p, seq_value **vals, int *n)
{
	char	   *sql = sequences_sql(c, p);
	PGresult   *res = pgr_query(c, "reading the sequences", sql, 0, NULL);
	bool		ok = res != NULL;

	free(sql);
	for (int r = 0; ok && r < PQntuples(res); r++)
		if (!PQgetisnull(res, r, 2))
			merge(vals, n, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1),
				  atoll(PQgetvalue(res, r, 2)), atoll(PQgetvalue(res, r, 3)));
	PQclear(res);
	return ok;
}

static void
free_values(seq_value *vals, int n)
{
	for (int i = 0; i < n; i++)
	{
		free(vals[i].schema);
		free(vals[i].name);
	}
	free(vals);
}

bool
cutover_sequences(apply_ctx *ctx, freeze_session *fs)
{
	seq_value  *vals = NULL;
	int			n = 0;
	bool		ok = true;

	for (int i = 0; ok && i < ctx->plan->nsources; i++)
		ok = read_values(fs[i].conn, ctx->plan, &vals, &n);
	if (ok && n > 0)
		ok = set_on_shards(ctx, vals, n);
	if (ok)
		log_info("cutover: %d sequence(s) set ahead by %lld on every shard, each shard counting by "
				 "%d on its own residue", n, ctx->plan->cutover.sequence_gap, ctx->plan->nshards);
	free_values(vals, n);
	return ok;
}

/* ALTER SEQUENCE on a source: past the furthest value, its own increment kept. */
static bool
restart_on_source(pgr_conn *c, const seq_value *v, long long gap)
{
	long long	inc, base, restart;
	char	   *qname, *sql;
	PGresult   *res;
	bool		ok;

	qname = pgr_quote_qualified(c, v->schema, v->name);
	res = pgr_query(c, "reading a sequence's increment",
					"SELECT seqincrement FROM pg_sequence WHERE seqrelid = $1::regclass", 1,
					(const char *[]) {qname});
	ok = res != NULL && PQntuples(res) == 1;
	inc = ok ? atoll(PQgetvalue(res, 0, 0)) : 0;
	PQclear(res);
	if (ok && (inc == 0 || __builtin_add_overflow(v->last, inc > 0 ? gap : -gap, &base) ||
			   __builtin_add_overflow(base, inc, &restart)))
	{
		log_error("%s: sequence %s.%s: its value %lld plus the gap %lld leaves the bigint range; "
				  "fix: lower cutover.sequence_gap", c->role, v->schema, v->name, v->last, gap);
		ok = false;
	}
	if (ok)
	{
		sql = xasprintf("ALTER SEQUENCE %s RESTART WITH %lld", qname, restart);
		ok = pgr_exec(c, "moving a sequence ahead", sql, 0, NULL);
		free(sql);
	}
	free(qname);
	return ok;
}

bool
rollback_sequences(apply_ctx *ctx, freeze_session *shard_fs)
{
	const plan *p = ctx->plan;
	seq_value  *vals = NULL;
	int			n = 0;
	bool		ok = true;

	for (int s = 0; ok && s < p->nshards; s++)
		ok = read_values(shard_fs[s].conn, p, &vals, &n);
	/* every source's own values first, then each source past all of them */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; ok && i < p->nsources; i++)
		{
			pgr_conn   *c = pgr_connect(p->source_dsns[i], ctx->sources[i].role, 0);

			ok = c != NULL && pgr_exec(c, "moving the sequences", "SET default_transaction_read_only = off",
									   0, NULL);
			if (ok && pass == 0)
				ok = read_values(c, p, &vals, &n);
			for (int k = 0; ok && pass == 1 && k < n; k++)
				ok = restart_on_source(c, &vals[k], p->cutover.sequence_gap);
			pgr_disconnect(c);
		}
	if (ok)
		log_info("rollback: %d sequence(s) on the source%s set past every shard's value by %lld", n,
				 p->nsources > 1 ? "s" : "", p->cutover.sequence_gap);
	free_values(vals, n);
	return ok;
}
