/*
 * reverse.c — reverse replication after the cutover (issue 14): the shards'
 * changes stream back to the sources until `pgreshard finish` or
 * `pgreshard rollback`.
 *
 * Set-up, before the cutover's freeze: on every shard a publication of the
 * moved tables (published via their partitioned roots, and publishing the
 * operations the source's publication publishes: with an insert-only one, a
 * table without a replica identity took UPDATE and DELETE on the source, and
 * must on the shards too), on every source a
 * progress table (pgreshard.progress_PLAN) that the reverse stream commits
 * with each shard's changes and the empty hash-partitioned tables that say
 * which shard owns a row (runner/stream/stream_dir.c); all in the ledger
 * first.  Inside the freeze, after the drain and before the switch, a
 * logical slot (pgoutput) on every shard, in parallel.  Created while
 * nothing but pgreshard writes to the shards, its consistent point comes
 * before the application's first write there and after the forward stream's
 * last one: every change the application makes on the shards is in it, none
 * of pgreshard's own forward changes is.  An earlier attempt's slot is
 * dropped and made again for the same reason.
 *
 * Streaming back: the finish step calls reverse_stream_until_request(); it
 * runs the stream pipeline in the reverse direction (stream_dir.c), every
 * shard's reader in a thread of its own following its slot on one set of
 * connections, until a request arrives in pgreshard.runs.reverse_request,
 * or a reverse slot holds more WAL than cutover.reverse_max_retained (then
 * it finishes, with a warning).  The rollback's catch-up and its drain to
 * the fences run the readers to a target instead (reverse_drain_all).  The
 * sources' write guard does not stop it: its sessions apply with
 * session_replication_role = replica, under which the guard's triggers do
 * not fire (runner/engine/apply_session.c), exactly as the forward apply
 * passes user triggers on the shards.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "cutover.h"
#include "log.h"
#include "state.h"
#include "stream.h"
#include "strbuf.h"
#include "xalloc.h"

#define SQL_PROGRESS_COLUMNS \
	"(plan_name text NOT NULL, source int NOT NULL, lsn pg_lsn NOT NULL, commit_ts timestamptz, " \
	"updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (plan_name, source))"

/* The operations the plan's publication publishes on source 0, as CREATE
 * PUBLICATION's publish option lists them (malloc'd), or NULL on error. */
static char *
source_publish(apply_ctx *ctx)
{
	const plan *p = ctx->plan;
	const char *params[1] = {p->publication};
	pgr_conn   *c = pgr_connect(p->source_dsns[0], ctx->sources[0].role, 0);
	PGresult   *res;
	char	   *ops;

	if (c == NULL)
		return NULL;
	res = pgr_query(c, "reading what the publication publishes",
					"SELECT concat_ws(', ', CASE WHEN pubinsert THEN 'insert' END, CASE WHEN pubupdate THEN 'update' END, "
					"CASE WHEN pubdelete THEN 'delete' END, CASE WHEN pubtruncate THEN 'truncate' END) "
					"FROM pg_publication WHERE pubname = $1", 1, params);
	ops = res == NULL ? NULL : xstrdup(PQntuples(res) ? PQgetvalue(res, 0, 0) : "insert, update, delete, truncate");
	PQclear(res);
	pgr_disconnect(c);
	return ops;
}

/* The publication on shard s, publishing ops; the slot is only ledgered
 * (made in the freeze). */
static bool
publication_on_shard(apply_ctx *ctx, int s, const char *name, const char *ops)
{
	const plan *p = ctx->plan;
	char		role[32];
	pgr_conn   *c;
	char	   *qpub, *qops, *tables, *sql;
	strbuf		sb;
	bool		ok;

	snprintf(role, sizeof(role), "shard %d", s);
	if (!state_ledger_add(ctx->state, p, "publication", name, role) ||
		!state_ledger_add(ctx->state, p, "slot", name, role) || (c = connect_shard(p, s)) == NULL)
		return false;
	qpub = pgr_quote_ident(c, name);
	qops = pgr_quote_literal(c, ops);
	sb_init(&sb);
	for (int i = 0; i < p->ntables; i++)
	{
		char	   *q = pgr_quote_qualified(c, p->tables[i].schema, p->tables[i].relname);

		sb_printf(&sb, "%s%s", i ? ", " : "", q);
		free(q);
	}
	tables = sb_steal(&sb);
	sql = xasprintf("DROP PUBLICATION IF EXISTS %s; CREATE PUBLICATION %s FOR TABLE %s "
					"WITH (publish_via_partition_root = true, publish = %s)", qpub, qpub, tables, qops);
	ok = pgr_exec(c, "creating the reverse publication", sql, 0, NULL);
	free(sql);
	free(tables);
	free(qops);
	free(qpub);
	pgr_disconnect(c);
	return ok;
}

/*
 * The slot on every shard, all at once (creating a logical slot waits for a
 * snapshot of the running transactions: in parallel the freeze pays it once).
 * An earlier attempt's slot is dropped first: the forward stream wrote to
 * the shards after it began.
 */
bool
reverse_slots(apply_ctx *ctx)
{
	const plan *p = ctx->plan;
	char	   *name = reverse_slot_name(p);
	const char *params[1] = {name};
	pgr_conn  **c = xcalloc((size_t) p->nshards, sizeof(pgr_conn *));
	bool		ok = true;

	for (int s = 0; ok && s < p->nshards; s++)
	{
		ok = (c[s] = connect_shard(p, s)) != NULL &&
			pgr_exec(c[s], "dropping an earlier attempt's reverse slot",
					 "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1",
					 1, params);
		if (ok && !PQsendQueryParams(c[s]->pg, "SELECT lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')",
									 1, NULL, params, NULL, NULL, 0))
		{
			pgr_report_conn(c[s], "creating the reverse replication slot");
			ok = false;
		}
	}
	for (int s = 0; s < p->nshards && c[s] != NULL; s++)
	{
		PGresult   *res = PQgetResult(c[s]->pg);

		if (ok && PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			pgr_report_result(c[s], "creating the reverse replication slot", res);
			ok = false;
		}
		else if (ok)
		{
			ok = state_slot_lsn_set(ctx->state, p, name, c[s]->role, PQgetvalue(res, 0, 0));
			log_info("%s: reverse slot %s created at %s", c[s]->role, name, PQgetvalue(res, 0, 0));
		}
		PQclear(res);
		while ((res = PQgetResult(c[s]->pg)) != NULL)
			PQclear(res);
	}
	for (int s = 0; s < p->nshards; s++)
		pgr_disconnect(c[s]);
	free(c);
	free(name);
	return ok;
}

/* CREATE TABLE pgreshard.owner_PLAN_I (k1 type, ...) PARTITION BY HASH (k1, ...). */
static char *
owner_sql(apply_ctx *ctx, pgr_conn *c, int ti)
{
	const plan_table *pt = &ctx->plan->tables[ti];
	const src_table *st = catalog_table(ctx->cat, ti);
	char	   *name = reverse_owner_table(ctx->plan, ti);
	char	   *q = pgr_quote_ident(c, name);
	strbuf		sb;

	sb_init(&sb);
	sb_printf(&sb, "CREATE TABLE IF NOT EXISTS pgreshard.%s (", q);
	for (int k = 0; k < pt->nkeys; k++)
		for (int i = 0; i < st->ncols; i++)
			if (strcmp(st->cols[i].name, pt->keys[k]) == 0)
				sb_printf(&sb, "%sk%d %s", k ? ", " : "", k + 1, st->cols[i].type);
	sb_append(&sb, ") PARTITION BY HASH (");
	for (int k = 0; k < pt->nkeys; k++)
		sb_printf(&sb, "%sk%d", k ? ", " : "", k + 1);
	sb_append(&sb, ")");
	free(q);
	free(name);
	return sb_steal(&sb);
}

/* The progress table and the owner tables on source i (ledgered first). */
static bool
setup_source(apply_ctx *ctx, int i)
{
	const plan *p = ctx->plan;
	const char *role = ctx->sources[i].role;
	char	   *progress = reverse_progress_table(p);
	pgr_conn   *c;
	char	   *q, *sql;
	bool		ok = state_ledger_add(ctx->state, p, "schema", "pgreshard", role) &&
		state_ledger_add(ctx->state, p, "table", progress, role);
	bool		owners = p->nshards > 1 && p->sharding == SHARD_FN_HASH;

	for (int t = 0; ok && owners && t < p->ntables; t++)
		if (!p->tables[t].replicate)
		{
			char	   *name = reverse_owner_table(p, t);

			ok = state_ledger_add(ctx->state, p, "table", name, role);
			free(name);
		}
	if (!ok || (c = pgr_connect(p->source_dsns[i], role, 0)) == NULL)
	{
		free(progress);
		return false;
	}
	q = pgr_quote_ident(c, progress);
	sql = xasprintf("SET default_transaction_read_only = off; CREATE SCHEMA IF NOT EXISTS pgreshard; "
					"CREATE TABLE IF NOT EXISTS pgreshard.%s " SQL_PROGRESS_COLUMNS, q);
	ok = pgr_exec(c, "creating the reverse stream's progress table", sql, 0, NULL);
	for (int t = 0; ok && owners && t < p->ntables; t++)
		if (!p->tables[t].replicate)
		{
			char	   *o = owner_sql(ctx, c, t);

			ok = pgr_exec(c, "creating the table that says which shard owns a row", o, 0, NULL);
			free(o);
		}
	free(sql);
	free(q);
	free(progress);
	pgr_disconnect(c);
	return ok;
}

bool
reverse_prepare(apply_ctx *ctx)
{
	char	   *name = reverse_slot_name(ctx->plan);
	char	   *ops = NULL;
	bool		ok = true;

	for (int i = 0; ok && i < ctx->plan->nsources; i++)
		ok = setup_source(ctx, i);
	ok = ok && reverse_clocks_ensure(ctx) && (ops = source_publish(ctx)) != NULL;
	for (int s = 0; ok && s < ctx->plan->nshards; s++)
		ok = publication_on_shard(ctx, s, name, ops);
	free(ops);
	free(name);
	return ok;
}

/* pgreshard.runs.reverse_request ('finish', 'rollback' or "") and _state. */
bool
reverse_read(apply_ctx *ctx, char *request, size_t reqlen, char *state, size_t statelen)
{
	const char *params[1] = {ctx->plan->name};
	PGresult   *res = pgr_query(ctx->state, "reading the reverse replication's state",
								"SELECT coalesce(reverse_request, ''), coalesce(reverse_state, '') "
								"FROM pgreshard.runs WHERE plan_name = $1", 1, params);

	if (res == NULL)
		return false;
	snprintf(request, reqlen, "%s", PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
	snprintf(state, statelen, "%s", PQntuples(res) ? PQgetvalue(res, 0, 1) : "");
	PQclear(res);
	return true;
}

bool
reverse_set(apply_ctx *ctx, const char *column, const char *value)
{
	const char *params[2] = {ctx->plan->name, value};
	char	   *sql = xasprintf("UPDATE pgreshard.runs SET %s = $2 WHERE plan_name = $1", column);
	bool		ok = pgr_exec(ctx->state, "recording the reverse replication's state", sql, 2, params);

	free(sql);
	return ok;
}

/* Is reverse replication set up (its slot in the ledger, not dropped)? */
bool
reverse_exists(apply_ctx *ctx, bool *exists)
{
	char	   *name = reverse_slot_name(ctx->plan);
	bool		ok = state_ledger_has(ctx->state, ctx->plan, "slot", name, "shard 0", exists);

	free(name);
	return ok;
}

/*
 * The largest WAL a reverse slot holds back on any shard (bytes), over the
 * connections in conns[] (opened on first use, kept; one that fails is
 * closed and opened again at the next measure: the readers decide whether a
 * shard's loss stops the stream).
 */
static void
most_retained(apply_ctx *ctx, pgr_conn **conns, long long *bytes, int *shard)
{
	char	   *name = reverse_slot_name(ctx->plan);
	const char *params[1] = {name};

	*bytes = 0;
	*shard = 0;
	for (int s = 0; s < ctx->plan->nshards; s++)
	{
		PGresult   *res;

		if (conns[s] == NULL && (conns[s] = connect_shard(ctx->plan, s)) == NULL)
			continue;
		res = pgr_query(conns[s], "measuring the WAL the reverse slot holds",
						"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint "
						"FROM pg_replication_slots WHERE slot_name = $1", 1, params);
		if (res == NULL)
		{
			pgr_disconnect(conns[s]);
			conns[s] = NULL;
		}
		else if (PQntuples(res) == 1 && atoll(PQgetvalue(res, 0, 0)) > *bytes)
		{
			*bytes = atoll(PQgetvalue(res, 0, 0));
			*shard = s;
		}
		PQclear(res);
	}
	free(name);
}

typedef struct drain_job {
	apply_ctx  *ctx;
	const stream_dir *dir;
	int			shard;
	uint64_t	target;
	double		deadline;
	bool		ok;
} drain_job;

static void *
drain_main(void *arg)
{
	drain_job  *job = arg;

	job->ok = stream_reverse_run(job->ctx, job->dir, job->shard, job->target, job->deadline);
	return NULL;
}

/*
 * Every shard's reverse stream at once, one thread each (each reader has its
 * own connections, as the forward readers of N sources do): caught up
 * (fences NULL) or drained to fences[s] before the deadline.
 */
bool
reverse_drain_all(apply_ctx *ctx, const stream_dir *dir, const uint64_t *fences, double deadline)
{
	int			n = ctx->plan->nshards;
	pthread_t  *threads = xcalloc((size_t) n, sizeof(pthread_t));
	drain_job  *jobs = xcalloc((size_t) n, sizeof(drain_job));
	bool	   *started = xcalloc((size_t) n, sizeof(bool));
	bool		ok = true;

	for (int s = 0; s < n; s++)
	{
		jobs[s] = (drain_job) {ctx, dir, s, fences ? fences[s] : 0, deadline, false};
		started[s] = n > 1 && pthread_create(&threads[s], NULL, drain_main, &jobs[s]) == 0;
		if (!started[s])
			drain_main(&jobs[s]);
	}
	for (int s = 0; s < n; s++)
	{
		if (started[s])
			pthread_join(threads[s], NULL);
		ok = ok && jobs[s].ok;
	}
	free(started);
	free(jobs);
	free(threads);
	return ok;
}

typedef struct follow_job {
	apply_ctx  *ctx;
	const stream_dir *dir;
	int			shard;
	bool		ok;
	atomic_bool ended;
} follow_job;

static void *
follow_main(void *arg)
{
	follow_job *job = arg;

	job->ok = stream_reverse_follow(job->ctx, job->dir, job->shard);
	atomic_store(&job->ended, true);
	return NULL;
}

/*
 * Streaming back until a request: every shard's reader follows its slot in
 * a thread of its own, on one set of connections for as long as it runs
 * (they were opened anew for every catch-up before, about four per shard
 * every half second).  Meanwhile this thread reads the request every
 * REQUEST_POLL_US on the state's connection and the reverse slots'
 * retained WAL every RETAINED_POLL polls on connections it keeps; then it
 * stops the readers (each commits what it received and confirms it).  A
 * reader that ends by itself failed (reported): the others are stopped and
 * the step fails; a rerun resumes from the slots.
 */
#define REQUEST_POLL_US (250 * 1000)
#define RETAINED_POLL 8

bool
reverse_stream_until_request(apply_ctx *ctx, char *outcome)
{
	const plan *p = ctx->plan;
	int			n = p->nshards;
	stream_dir	dir;
	atomic_bool stop;
	follow_job *jobs;
	pthread_t  *threads;
	pgr_conn  **conns;
	char		request[32], state[32];
	bool		ok = true, failed = false;
	double		next_prune = 0;	/* the row clocks (reverse_clock.c): now, then every 5 min */

	*outcome = '\0';
	if (!reverse_read(ctx, request, sizeof(request), state, sizeof(state)) || !reverse_clocks_ensure(ctx))
		return false;
	if (strcmp(request, "finish") == 0 || strcmp(request, "rollback") == 0)
	{
		*outcome = request[0];
		return true;
	}
	log_info("reverse: streaming the shards' changes back to the source%s until `pgreshard finish %s` "
			 "or `pgreshard rollback %s`", p->nsources > 1 ? "s" : "", p->path, p->path);
	atomic_init(&stop, false);
	stream_dir_reverse(ctx, &dir);
	dir.stop = &stop;
	jobs = xcalloc((size_t) n, sizeof(follow_job));
	threads = xcalloc((size_t) n, sizeof(pthread_t));
	conns = xcalloc((size_t) n, sizeof(pgr_conn *));
	for (int s = 0; s < n; s++)
	{
		jobs[s] = (follow_job) {.ctx = ctx, .dir = &dir, .shard = s};
		atomic_init(&jobs[s].ended, false);
		if (pthread_create(&threads[s], NULL, follow_main, &jobs[s]) != 0)
		{
			log_error("reverse: cannot start the reader of shard %d", s);
			atomic_store(&stop, true);
			for (int i = 0; i < s; i++)
				pthread_join(threads[i], NULL);
			n = 0;
			ok = false;
		}
	}
	for (int tick = 0; ok && n > 0 && *outcome == '\0'; tick++)
	{
		long long	retained = 0;
		int			worst = 0;

		for (int s = 0; s < n; s++)
			failed = failed || atomic_load(&jobs[s].ended);
		if (failed || !(ok = reverse_read(ctx, request, sizeof(request), state, sizeof(state))))
			break;
		if (strcmp(request, "finish") == 0 || strcmp(request, "rollback") == 0)
			*outcome = request[0];
		else if (mono_seconds() >= next_prune)
		{
			/* the readers apply meanwhile: a prune that loses a lock conflict
			 * with one of them is only tried again sooner */
			next_prune = mono_seconds() + (reverse_clocks_prune(ctx) ? 300 : 30);
		}
		if (*outcome == '\0' && p->cutover.reverse_max_retained > 0 && tick % RETAINED_POLL == 0)
		{
			most_retained(ctx, conns, &retained, &worst);
			if (retained > p->cutover.reverse_max_retained)
			{
				log_warn("reverse: shard %d's reverse slot holds %lld bytes of WAL, more than "
						 "cutover.reverse_max_retained (%lld): finishing reverse replication now; "
						 "a rollback is no longer possible", worst, retained, p->cutover.reverse_max_retained);
				*outcome = 'f';
			}
		}
		if (*outcome == '\0')
			usleep(REQUEST_POLL_US);
	}
	atomic_store(&stop, true);
	for (int s = 0; s < n; s++)
	{
		pthread_join(threads[s], NULL);
		ok = ok && jobs[s].ok;
	}
	if (ok && failed)
	{
		log_error("reverse: a reader stopped streaming back without a request; rerun `pgreshard apply %s` "
				  "to resume from the reverse slots", p->path);
		ok = false;
	}
	for (int s = 0; s < p->nshards; s++)
		pgr_disconnect(conns[s]);
	free(conns);
	free(threads);
	free(jobs);
	stream_dir_free(&dir);
	return ok;
}
