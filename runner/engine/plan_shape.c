/*
 * plan_shape.c — record a move's plan shape, refuse a plan that changed it,
 * except for tables appended at the end (see plan_shape.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "plan_shape.h"
#include "strbuf.h"
#include "xalloc.h"

/* "(customer_id)", "(tenant_id, id)" or "replicated". */
static char *
key_text(const plan_table *t)
{
	strbuf		sb;

	if (t->replicate)
		return xstrdup("replicated");
	sb_init(&sb);
	sb_append(&sb, "(");
	for (int k = 0; k < t->nkeys; k++)
		sb_printf(&sb, "%s%s", k ? ", " : "", t->keys[k]);
	sb_append(&sb, ")");
	return sb_steal(&sb);
}

bool
plan_shape_record(pgr_conn *c, const plan *p, int from)
{
	bool		ok = true;

	for (int i = from; ok && i < p->ntables; i++)
	{
		char		idx[16], *name = table_display(&p->tables[i]), *key = key_text(&p->tables[i]);
		const char *params[4] = {p->name, idx, name, key};

		snprintf(idx, sizeof(idx), "%d", i);
		ok = pgr_exec(c, "recording the plan's tables",
					  "INSERT INTO pgreshard.plan_tables (plan_name, table_index, table_name, key) "
					  "VALUES ($1, $2, $3, $4)", 4, params);
		free(name);
		free(key);
	}
	return ok;
}

/* The differences between the recorded tables (res) and the plan's. */
static void
compare_tables(const PGresult *res, const plan *p, strbuf *diff)
{
	int			n = PQntuples(res);

	/* tables after the recorded ones are appended: the move takes them in (plan_append.h) */
	for (int i = 0; i < n; i++)
	{
		const char *was = PQgetvalue(res, i, 1), *was_key = PQgetvalue(res, i, 2);
		char	   *now = i < p->ntables ? table_display(&p->tables[i]) : NULL;
		char	   *now_key = i < p->ntables ? key_text(&p->tables[i]) : NULL;

		if (now == NULL)
			sb_printf(diff, "\n  table %d: %s was removed", i + 1, was);
		else if (strcmp(was, now) != 0)
			sb_printf(diff, "\n  table %d: was %s, is now %s (tables reordered or replaced)", i + 1, was, now);
		else if (strcmp(was_key, now_key) != 0)
			sb_printf(diff, "\n  table %d: %s: key was %s, is now %s", i + 1, now, was_key, now_key);
		free(now);
		free(now_key);
	}
}

bool
plan_shape_check(pgr_conn *c, const plan *p, int *nrecorded)
{
	const char *params[1] = {p->name};
	PGresult   *run = pgr_query(c, "reading the plan's shape",
								"SELECT nshards, nsources FROM pgreshard.runs WHERE plan_name = $1", 1, params);
	PGresult   *res = run ? pgr_query(c, "reading the plan's shape",
									  "SELECT table_index, table_name, key FROM pgreshard.plan_tables "
									  "WHERE plan_name = $1 ORDER BY table_index", 1, params) : NULL;
	strbuf		diff;
	bool		ok = res != NULL;

	sb_init(&diff);
	if (ok && PQntuples(run) == 1)
	{
		int			nshards = atoi(PQgetvalue(run, 0, 0)), nsources = atoi(PQgetvalue(run, 0, 1));

		if (nshards != p->nshards)
			sb_printf(&diff, "\n  destination shards: the move began with %d, the plan now has %d",
					  nshards, p->nshards);
		if (nsources != p->nsources)
			sb_printf(&diff, "\n  sources: the move began with %d, the plan now has %d", nsources, p->nsources);
	}
	*nrecorded = p->ntables;
	if (ok && PQntuples(res) == 0)
		ok = plan_shape_record(c, p, 0);
	else if (ok)
	{
		compare_tables(res, p, &diff);
		if (PQntuples(res) < p->ntables)
			*nrecorded = PQntuples(res);
	}
	if (ok && diff.len > 0)
	{
		log_error("plan %s: %s changed since its move began; the move's state (chunks, progress, "
				  "schema) belongs to the plan as it was, so nothing was done:%s\nfix: restore the plan "
				  "file as it was (e.g. from git) and rerun apply; to move the plan as it is now, cancel "
				  "this move first (`pgreshard cleanup --drop-data %s`, before the cutover); the one change "
				  "a move under way takes is tables appended at the end of tables:, the others unchanged",
				  p->name, p->path, diff.data, p->path);
		ok = false;
	}
	sb_free(&diff);
	PQclear(res);
	PQclear(run);
	return ok;
}
