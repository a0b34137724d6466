/*
 * stepplan.c — describe each apply step for this plan, in words.
 *
 * The descriptions are what a reviewer reads in a pull request before
 * approving an apply, so they name the concrete objects: the slot, the
 * publication, the number of tables and shards, the cutover settings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlname.h"
#include "stepplan.h"
#include "strbuf.h"
#include "xalloc.h"

char *
table_key_display(const plan_table *pt, const src_table *t)
{
	strbuf		sb;

	if (pt->replicate)
		return xstrdup("replicated");
	sb_init(&sb);
	if (pt->nkeys > 1)
		sb_append_char(&sb, '(');
	for (int k = 0; k < pt->nkeys; k++)
	{
		char	   *q = sqlname_quote(pt->keys[k]);

		sb_printf(&sb, "%s%s", k ? ", " : "", q);
		free(q);
		if (pt->nkeys == 1 && t && t->key_cols && t->key_cols[0] >= 0)
			sb_printf(&sb, " (%s)", t->cols[t->key_cols[0]].type);
	}
	if (pt->nkeys > 1)
		sb_append_char(&sb, ')');
	return sb_steal(&sb);
}

static int
count_tables(const plan *p, bool replicated)
{
	int			n = 0;

	for (int i = 0; i < p->ntables; i++)
		n += p->tables[i].replicate == replicated;
	return n;
}

static const char *
freeze_name(freeze_mode f)
{
	return f == FREEZE_LOCK ? "lock" : f == FREEZE_READ_ONLY ? "read_only" : "hook";
}

char *
step_describe(const plan *p, const catalog *cat, step_id id)
{
	int			nsharded = count_tables(p, false), nrepl = count_tables(p, true);
	double		rows = 0, bytes = 0;
	char		b[32];

	for (int i = 0; cat && i < cat->ntables; i++)
	{
		rows += cat->tables[i].rows;
		bytes += (double) cat->tables[i].bytes;
	}
	switch (id)
	{
		case STEP_PREFLIGHT:
			return xasprintf("check wal_level, free replication slots and WAL senders, the replication "
							 "privilege and versions on %d source(s); check that %d shard(s) are reachable "
							 "and their tables absent or empty", p->nsources, p->nshards);
		case STEP_SLOT:
			return xasprintf("%screate logical replication slot \"pgreshard_%s\" (pgoutput) on each of %d "
							 "source(s) and keep its exported snapshot for the copy",
							 p->create_publication ? "create publication if missing, then " : "",
							 p->name, p->nsources);
		case STEP_SCHEMA_PRE:
			return xasprintf("pg_dump --schema-only the %d table(s) and what they need (schemas, types, "
							 "sequences, functions); create them on %d shard(s) without indexes, "
							 "constraints or triggers", p->ntables, p->nshards);
		case STEP_COPY:
			return xasprintf("copy ~%.0f rows (%s) under the snapshot with %d job(s): %d sharded table(s) "
							 "routed row by row with %s, %d replicated table(s) to every shard; "
							 "each chunk committed with its ledger row",
							 rows, format_bytes(bytes, b, sizeof(b)), p->copy_jobs, nsharded,
							 p->sharding == SHARD_FN_HASH ? "PostgreSQL-compatible hash" : "the Lua route hook",
							 nrepl);
		case STEP_SCHEMA_POST:
			return xasprintf("create primary keys, indexes, unique and check constraints, same-shard "
							 "foreign keys and triggers on %d shard(s), in parallel", p->nshards);
		case STEP_STREAM:
			return xasprintf("stream changes from the slot (pgoutput) and apply them to the right shard, "
							 "exactly once (source LSN committed with each change)");
		case STEP_VERIFY:
			return xasprintf("compare row counts and checksums per table and shard, source subset vs shard");
		case STEP_CUTOVER:
			return xasprintf("%s: wait for lag <= %lld bytes, freeze writes (%s), drain to the fence LSN, "
							 "set sequences to source + %lld%s, switch; abort and unfreeze after %d s; "
							 "source left %s",
							 p->cutover.mode == CUTOVER_MANUAL ? "on `pgreshard cutover`" : "automatic",
							 p->cutover.max_lag_bytes, freeze_name(p->cutover.freeze),
							 p->cutover.sequence_gap, p->cutover.verify ? ", verify while frozen" : "",
							 p->cutover.timeout_s,
							 p->cutover.leave_source_writable ? "writable" : "read-only for the moved tables");
		case STEP_FINISH:
			if (p->cutover.reverse)
				return xasprintf("stream the shards' changes back to the source%s until `pgreshard finish` "
								 "(or `pgreshard rollback`); then drop the reverse slots and publications on "
								 "the shards and the replication slot%s; keep the pgreshard state schema as the record",
								 p->nsources > 1 ? "s" : "",
								 p->create_publication ? " and the publication pgreshard created" : "");
			return xasprintf("drop the replication slot%s; keep the pgreshard state schema as the record",
							 p->create_publication ? " and the publication pgreshard created" : "");
		default:
			return xstrdup("?");
	}
}
