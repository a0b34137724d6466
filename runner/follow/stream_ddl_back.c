/*
 * stream_ddl_back.c — the reverse stream (after the cutover, the shards'
 * changes back to the sources) meets a moved table whose columns changed
 * on a shard: the application's migrations now run on the new cluster.
 *
 * The forward rule (make the downstream's columns the upstream's,
 * stream_ddl.c) is wrong this way round: several shards stream into one
 * source, each announcing its own table, and a migration reaches the shards
 * one at a time.  Shard 0's reader would add a column on the source, and
 * shard 1's, still without it, would drop it again with the values shard 0
 * sent.  So the way back follows only what keeps every row, comparing the
 * shard's announcement (pgoutput's Relation message) with the source's
 * table, read in the source's open apply transaction (so a rerun is right
 * whatever an earlier run or an operator did):
 *
 *   a column the source lacks (added on the shard): with schema_changes:
 *     apply, ADD COLUMN on the source as the shard has it (its missing
 *     value for the rows that exist — PostgreSQL gave the shard's existing
 *     rows the same — then its default), in the apply transaction, before
 *     the first change that carries it; every shard's values then stream
 *     back with its changes.  Not when the shard's existing rows got values
 *     of their own (a volatile default or an identity: the table was
 *     rewritten, and the WAL does not carry them): the stream stops.
 *   a column the shard does not send (dropped there, or not added there
 *     yet): the source keeps it; that shard's INSERTs leave it at its
 *     default and its UPDATEs leave it alone.  Unless it is NOT NULL
 *     without a default there: the shard's new rows could not be written,
 *     so the stream stops.
 *   a column of another type on the shard: a warning with the statement
 *     that makes the source's type the same (whatever schema_changes says:
 *     nothing is run on the source);
 *     the values go in through the source's type, as PostgreSQL's own
 *     subscriptions do (a shard's changes from before its migration carry
 *     the old type, from after it the new one: the source cannot follow
 *     both, so it is not changed behind the operator's back).
 *   a new name where an old one is gone: a column renamed on the shard
 *     (or dropped and added) is, for the source, one it keeps and one it
 *     gains: no value is lost, and a shard not renamed yet (or its changes
 *     from before the rename) still finds the old name; the warning says
 *     how to merge the two after a rollback.
 *   with schema_changes: stop, a column added stops the stream before
 *     the first change that needs it, naming the shard, the table and the
 *     statement to run on the source.
 * A stop loses nothing: the shard's reverse slot keeps every change from
 * there, and a rerun of apply continues once the source's table takes them.
 *
 * DDL that pgoutput does not announce (indexes, constraints, triggers, new
 * tables) is not streamed back at all; the README says so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "follow_columns.h"
#include "log.h"
#include "strbuf.h"
#include "xalloc.h"

/* Column `col` of t on downstream s is NOT NULL without a default (nor an
 * identity or a generated value): a row that lacks it cannot be inserted. */
static bool
needs_value(stream_reader *r, int s, const stream_table *t, const char *col, bool *needs)
{
	pgo_value	v[2] = {{.kind = PGO_TEXT, .data = t->qname, .len = (uint32_t) strlen(t->qname)},
	{.kind = PGO_TEXT, .data = col, .len = (uint32_t) strlen(col)}};
	PGresult   *res;

	params_reset(&r->params);
	params_add(&r->params, &v[0]);
	params_add(&r->params, &v[1]);
	res = shard_query_now(r, s, "SELECT attnotnull AND NOT atthasdef AND attidentity = '' AND attgenerated = '' "
						  "FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2 AND NOT attisdropped",
						  "reading a column the shard does not send");
	if (res == NULL)
		return false;
	*needs = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return true;
}

/* The columns downstream s has and the shard does not send (have - want):
 * kept there, or (NOT NULL without a default) a reason to stop (todo). */
static bool
columns_not_sent(stream_reader *r, int s, const stream_table *t, const colset *have, const colset *want,
				 strbuf *todo)
{
	const char *down = r->dir->down_roles[s];
	bool		ok = true;

	for (int j = 0; ok && j < have->n; j++)
	{
		bool		needs = false;

		if (follow_name_in(want->names, want->n, have->names[j]) >= 0)
			continue;
		ok = needs_value(r, s, t, have->names[j], &needs);
		if (ok && needs)
		{
			char	   *qc = pgr_quote_ident(r->shards[s].conn, have->names[j]);

			sb_printf(todo, "\n  %s sends no column \"%s\" (dropped there after the cutover, or not added "
					  "there yet), and on %s it is NOT NULL without a default: the shard's new rows could not "
					  "be written there. Run on %s: ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL; (or SET "
					  "DEFAULT ...; or DROP COLUMN %s once every shard dropped it)", r->role, have->names[j],
					  down, down, t->qname, qc, qc);
			free(qc);
		}
		else if (ok)
			log_warn("%s: table %s: the shard sends no column \"%s\" (dropped there after the cutover, or not "
					 "added there yet); %s keeps it: the shard's new rows get its default there, its updates "
					 "leave it as it is", r->role, t->display, have->names[j], down);
	}
	return ok;
}

/* Compare the shard's columns (want) with downstream s's; what to run
 * there goes to stmts (followed) or todo (the stream stops). */
static bool
compare_back(stream_reader *r, int s, pgr_conn *src, const stream_table *t, const colset *want,
			 strbuf *todo, char ***stmts, int *n)
{
	const char *down = r->dir->down_roles[s];
	bool		stop = r->ctx->plan->schema_changes == SCHEMA_CHANGES_STOP;
	colset		have = {0};
	strbuf		added;
	int			nadded = 0, ngone = 0;
	bool		ok = follow_down_columns(r, s, t, &have);

	sb_init(&added);
	for (int j = 0; ok && j < have.n; j++)
		ngone += follow_name_in(want->names, want->n, have.names[j]) < 0;
	for (int i = 0; ok && i < want->n; i++)
	{
		int			j = follow_name_in(have.names, have.n, want->names[i]);
		char	   *qc = pgr_quote_ident(src, want->names[i]);

		if (j >= 0 && strcmp(have.types[j], want->types[i]) != 0)
			log_warn("%s: table %s: column \"%s\" is %s on the shard and %s on %s: its values go in through "
					 "%s's type (a value it cannot take stops the stream, naming the row; one it takes "
					 "with less precision is rounded); to keep them exact run the same change on %s: "
					 "ALTER TABLE %s ALTER COLUMN %s TYPE %s", r->role, t->display, want->names[i],
					 want->types[i], have.types[j], down, down, down, t->qname, qc, want->types[i]);
		else if (j < 0)
		{
			char	  **add = NULL;
			int			nadd = 0;
			bool		fill = false;

			ok = follow_add_column(src, t, want->names[i], qc, want->types[i], &add, &nadd, &fill);
			sb_printf(&added, "%s\"%s\"", nadded++ ? ", " : "", want->names[i]);
			if (ok && fill)
				sb_printf(todo, "\n  column \"%s\" is new to %s, and on %s the rows it had hold values of "
						  "their own in it (a volatile default or an identity, or the column was renamed there "
						  "and the source has them under the old name), which the WAL does not carry. Run on "
						  "%s: ALTER TABLE %s ADD COLUMN %s %s; (its existing rows there keep %s's own values)",
						  want->names[i], down, r->role, down, t->qname, qc, want->types[i], down);
			for (int k = 0; k < nadd; k++)
			{
				if (ok && !fill && stop)
					sb_printf(todo, "\n  on %s: %s;", down, add[k]);
				else if (ok && !fill)
				{
					*stmts = xrealloc(*stmts, sizeof(char *) * (size_t) (*n + 1));
					(*stmts)[(*n)++] = add[k];
					continue;
				}
				free(add[k]);
			}
			free(add);
		}
		free(qc);
	}
	if (ok && nadded > 0 && ngone > 0 && !stop)
		log_warn("%s: table %s: the shard sends column(s) %s that %s lacks, and not %d column(s) it has; "
				 "if a column was renamed on the shards, %s now keeps the values written before the "
				 "rename (or by shards not renamed yet) under the old name and those written after it "
				 "under the new one: merge them there after a rollback (UPDATE ... SET new = coalesce(new, "
				 "old)) or rename before the cutover or after `pgreshard finish`", r->role, t->display,
				 added.data, down, ngone, down);
	ok = ok && columns_not_sent(r, s, t, &have, want, todo);
	sb_free(&added);
	follow_colset_free(&have);
	return ok;
}

/* Run the statements that follow the shard's change on downstream s. */
static bool
run_back(stream_reader *r, int s, const stream_table *t, char **stmts, int n)
{
	bool		ok = true;

	for (int i = 0; ok && i < n; i++)
	{
		PGresult   *res;

		log_info("%s: table %s changed on the shard after the cutover; following it on %s: %s", r->role,
				 t->display, r->dir->down_roles[s], stmts[i]);
		params_reset(&r->params);
		res = shard_query_now(r, s, stmts[i], "following a shard's schema change on the way back");
		ok = res != NULL;
		PQclear(res);
	}
	return ok;
}

/* A reverse route (hooks.source_route) gets the key's columns (every column
 * of a table without one), by their positions after a rebuild. */
static void
route_columns_back(stream_table *t)
{
	if (!t->lua_route)
		return;
	t->nroute = 0;
	for (int k = 0; k < t->nkeys; k++)
		if (t->key_col[k] >= 0)
			t->route_col[t->nroute++] = t->key_col[k];
	for (int i = 0; t->nkeys == 0 && i < t->ncols; i++)
		t->route_col[t->nroute++] = i;
}

bool
stream_follow_columns_back(stream_reader *r, stream_table *t, const pgo_msg *m)
{
	colset		want = {0};
	strbuf		todo;
	pgr_conn   *src = pgr_connect(r->dir->up_dsns[r->source], r->role, 0);
	bool		ok = src != NULL && follow_message_columns(src, m, &want);

	sb_init(&todo);
	for (int s = 0; ok && s < r->dir->ndown; s++)
	{
		char	  **stmts = NULL;
		int			n = 0;
		size_t		before = todo.len;

		if (r->txn_commit_lsn <= r->shards[s].progress)
			continue;			/* it has this transaction */
		ok = compare_back(r, s, src, t, &want, &todo, &stmts, &n);
		ok = ok && (todo.len > before || run_back(r, s, t, stmts, n));
		for (int i = 0; i < n; i++)
			free(stmts[i]);
		free(stmts);
	}
	pgr_disconnect(src);
	for (int k = 0; ok && k < t->nkeys; k++)
		if (follow_name_in(want.names, want.n, t->pt->keys[k]) < 0)
			sb_printf(&todo, "\n  the shard no longer sends the sharding key column \"%s\": undo that on the "
					  "shard (rows could not be sent back to their source)", t->pt->keys[k]);
	if (ok && todo.len > 0)
	{
		log_error("%s: table %s changed on the shard after the cutover in a way the stream back does not "
				  "follow; it stops before the first change that needs it (nothing is lost: the shard's "
				  "reverse slot keeps every change from here).%s\nthen rerun `pgreshard apply %s`; it "
				  "continues from here", r->role, t->display, todo.data, r->ctx->plan->path);
		ok = false;
	}
	if (ok && !follow_same_as_table(t, &want))
	{
		follow_rebuild_table(r, t, &want);
		route_columns_back(t);
	}
	sb_free(&todo);
	follow_colset_free(&want);
	return ok;
}
