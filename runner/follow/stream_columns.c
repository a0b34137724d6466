/*
 * stream_columns.c — a moved table's columns changed on the source with no
 * change to the table since: followed from the source's catalog.
 *
 * pgoutput announces a table's columns (a Relation message) only before the
 * next change to it, and stream_ddl.c follows them then.  A table altered
 * and not written again — a retype, an added or dropped column on a table
 * of settings, or one the application stopped writing — would keep its old
 * columns on the shards: verify then reports every row (a value's text
 * changes with its type, a row's with its columns), repair copies them into
 * the old columns again, and the apply never reaches its cutover.
 *
 * So the reader polls the moved tables' columns in the source's catalog
 * (names and format_type, in attnum order, without generated columns: what
 * a Relation message holds) every POLL_INTERVAL_S, and at the start of each
 * of its runs, as stream_attach.c polls the partitions.  A poll records the
 * source's WAL insert position after reading the catalog: any ALTER it saw
 * committed before that point.  The first poll of a run compares every
 * table with the shards; a later one the tables whose columns changed since
 * the last poll.  The reader keeps streaming until it has received every
 * transaction before that point (a run heading for a target moves it
 * there), commits all of it on every shard, and only then, between two
 * transactions, compares those tables on every shard — one query per shard
 * for all of them — and follows each that differs with the rules of a
 * Relation message (stream_follow_catalog: the statements, and the fill of
 * a retyped or volatile column from the source's rows), in the shard's
 * transaction, committed with the stream's progress.
 *
 * Exact for the same reason as stream_fill.c: every change before the ALTER
 * is applied already, and no change to the table after it has been (its
 * Relation message would have come first, and stream_ddl.c followed it);
 * the source is read later, and the changes after the ALTER still to come
 * carry the new columns (their Relation message then finds the shards
 * already like the source).  A shard that differs for another reason (its
 * columns in another order after an earlier follow) gets no statement:
 * stream_ddl.c compares names and types.  Not in the reverse stream, nor in
 * the cutover's drain (the schema check before the freeze compares every
 * column), nor with several sources: a source altered before the others
 * would have the shards follow each in turn.
 */
#include <stdlib.h>
#include <string.h>

#include "chunk_key.h"
#include "clock.h"
#include "log.h"
#include "stream.h"
#include "xalloc.h"

#define POLL_INTERVAL_S 5.0

/* Each table's columns as one text, NULL when the table is not there. */
#define COLUMNS_SQL \
	"SELECT (SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), " \
	"  ', ' ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = to_regclass(u.n) " \
	"  AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '') " \
	"FROM unnest($1::text[]) WITH ORDINALITY AS u(n, i) ORDER BY u.i"

struct column_watch {
	double		next_poll;		/* monotonic seconds */
	bool		polled;			/* this run polled once */
	bool		pending;		/* a poll found tables to compare: once past lsn */
	uint64_t	lsn;			/* the source's WAL insert position after the poll */
	int			n;				/* the plan's tables */
	char	  **sig;			/* [n] their columns at the last poll (NULL: not there) */
	bool	   *check;			/* [n] to compare with the shards */
	pgr_conn   *src;			/* the source, read only */
};

/* The tables' names, as a text[] literal. */
static char *
names_array(const stream_reader *r, int n)
{
	char	  **names = xcalloc((size_t) n + 1, sizeof(char *));
	strbuf		sb;

	for (int i = 0; i < n; i++)
		names[i] = r->tables[i].qname;
	sb_init(&sb);
	pgarray_encode(&sb, names, n);
	free(names);
	return sb_steal(&sb);
}

/* The source's columns of every table (*sigs, [n]), then its WAL position. */
static bool
read_source(stream_reader *r, struct column_watch *cw, char ***sigs, uint64_t *lsn)
{
	char	   *arr = names_array(r, cw->n);
	const char *params[1] = {arr};
	PGresult   *res = pgr_query(cw->src, "reading the moved tables' columns", COLUMNS_SQL, 1, params);
	bool		ok = res != NULL && PQntuples(res) == cw->n;

	free(arr);
	*sigs = xcalloc((size_t) cw->n + 1, sizeof(char *));
	for (int i = 0; ok && i < cw->n; i++)
		(*sigs)[i] = PQgetisnull(res, i, 0) ? NULL : xstrdup(PQgetvalue(res, i, 0));
	PQclear(res);
	ok = ok && stream_insert_point(cw->src, lsn);
	if (!ok)
	{
		for (int i = 0; i < cw->n; i++)
			free((*sigs)[i]);
		free(*sigs);
		*sigs = NULL;
	}
	return ok;
}

static bool
same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool
poll_source(stream_reader *r, struct column_watch *cw)
{
	char	  **sigs = NULL;
	uint64_t	lsn = 0;
	bool		any = false;

	/* the connection kept from an earlier poll may have died with a restart
	 * of the source: then once more on a new one */
	for (int attempt = 0;; attempt++)
	{
		bool		kept = cw->src != NULL;

		if (cw->src == NULL &&
			(cw->src = pgr_connect(r->dir->up_dsns[r->source], r->role, PGR_CONN_READ_ONLY)) == NULL)
			return false;
		if (read_source(r, cw, &sigs, &lsn))
			break;
		kept = kept && PQstatus(cw->src->pg) != CONNECTION_OK;
		pgr_disconnect(cw->src);
		cw->src = NULL;
		if (!kept || attempt > 0)
			return false;
	}
	for (int i = 0; i < cw->n; i++)
	{
		/* a run's first poll compares every table with the shards */
		cw->check[i] = cw->check[i] || (sigs[i] && (!cw->polled || !same(sigs[i], cw->sig[i])));
		any = any || cw->check[i];
		free(cw->sig[i]);
		cw->sig[i] = sigs[i];
	}
	free(sigs);
	cw->polled = true;
	if (any)
	{
		cw->pending = true;
		cw->lsn = lsn;
	}
	return true;
}

int
stream_columns_due(stream_reader *r)
{
	struct column_watch *cw = r->columns;

	/* several sources: one altered before the others is no catalog to
	 * follow yet (each source's announcements are, stream_ddl.c) */
	if (r->dir->reverse || r->exact || r->deadline > 0 || r->tables == NULL || r->ctx->plan->nsources > 1)
		return 0;
	if (cw == NULL)
	{
		cw = r->columns = xcalloc(1, sizeof(*cw));
		cw->n = r->ctx->plan->ntables;
		cw->sig = xcalloc((size_t) cw->n + 1, sizeof(char *));
		cw->check = xcalloc((size_t) cw->n + 1, sizeof(bool));
	}
	if (!cw->pending)
	{
		if (mono_seconds() < cw->next_poll)
			return 0;
		if (!poll_source(r, cw))
			return -1;
		cw->next_poll = mono_seconds() + POLL_INTERVAL_S;
		if (!cw->pending)
			return 0;
		/* a run heading for a target ends past the point to follow at */
		if (r->target != 0 && r->target < cw->lsn)
			r->target = cw->lsn;
	}
	return stream_received_past(r, cw->lsn) ? 1 : 0;
}

/*
 * Follow the tables that differ (differ[i]) under one snapshot of the
 * source: their columns read again must be those the poll saw before its
 * WAL position (else a later ALTER is in the stream's future: poll again
 * with a new position), and the fills read their values under it too.
 */
static bool
follow_differing(stream_reader *r, struct column_watch *cw, const bool *differ)
{
	char	  **now = NULL;
	bool	   *later = xcalloc((size_t) cw->n + 1, sizeof(bool));
	uint64_t	lsn;
	bool		ok, again = false;

	ok = pgr_exec(cw->src, "reading the source's columns", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0,
				  NULL) && read_source(r, cw, &now, &lsn);
	for (int i = 0; ok && i < cw->n; i++)
	{
		if (!differ[i])
			continue;
		later[i] = !same(now[i], cw->sig[i]);
		again = again || later[i];
		if (!later[i])
			ok = stream_follow_catalog(r, &r->tables[i], cw->src);
	}
	ok = ok && pgr_exec(cw->src, "reading the source's columns", "COMMIT", 0, NULL);
	for (int i = 0; now && i < cw->n; i++)
		free(now[i]);
	free(now);
	if (ok)
	{
		/* the tables followed are done; the others are compared after a
		 * new poll, at once */
		memcpy(cw->check, later, sizeof(bool) * (size_t) cw->n);
		if (again)
			cw->next_poll = 0;
	}
	else
	{
		/* a new session for the next poll, out of the failed transaction;
		 * the tables are compared again after it */
		pgr_disconnect(cw->src);
		cw->src = NULL;
	}
	free(later);
	return ok;
}

bool
stream_columns_run(stream_reader *r)
{
	struct column_watch *cw = r->columns;
	bool	   *differ = xcalloc((size_t) cw->n + 1, sizeof(bool));
	char	   *arr = names_array(r, cw->n);
	bool		ok = true, any = false;

	cw->pending = false;
	for (int s = 0; ok && s < r->dir->ndown; s++)
	{
		pgo_value	v = {.kind = PGO_TEXT, .data = arr, .len = (uint32_t) strlen(arr)};
		PGresult   *res;

		params_reset(&r->params);
		params_add(&r->params, &v);
		res = shard_query_now(r, s, COLUMNS_SQL, "reading the shard's columns of the moved tables");
		ok = res != NULL && PQntuples(res) == cw->n;
		for (int i = 0; ok && i < cw->n; i++)
			differ[i] = differ[i] || (cw->check[i] && cw->sig[i] && !PQgetisnull(res, i, 0) &&
									  strcmp(cw->sig[i], PQgetvalue(res, i, 0)) != 0);
		PQclear(res);
	}
	for (int i = 0; ok && i < cw->n; i++)
		any = any || differ[i];
	if (ok && any)
		ok = follow_differing(r, cw, differ);
	else if (ok)
		memset(cw->check, 0, sizeof(bool) * (size_t) cw->n);
	/* (after a failure the next poll finds them to compare again) the
	 * shards' transactions opened here commit at their own progress,
	 * not at the last transaction this session received (none, perhaps) */
	for (int s = 0; s < r->dir->ndown; s++)
		if (r->shards[s].txn_lsn < r->shards[s].progress)
			r->shards[s].txn_lsn = r->shards[s].progress;
	free(arr);
	free(differ);
	return ok;
}

void
stream_columns_forget(stream_reader *r)
{
	struct column_watch *cw = r->columns;

	if (cw == NULL)
		return;
	for (int i = 0; i < cw->n; i++)
		free(cw->sig[i]);
	free(cw->sig);
	free(cw->check);
	pgr_disconnect(cw->src);
	free(cw);
	r->columns = NULL;
}
