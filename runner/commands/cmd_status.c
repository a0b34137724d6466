/*
 * cmd_status.c — `pgreshard status PLAN.yaml [--json|--prometheus]`: where an
 * apply is.
 *
 * Read-only (PGR_CONN_READ_ONLY everywhere) and it never takes the plan's
 * lock, so it is safe at any time, also while an apply runs.  It reads
 * shard 0 (the run, the lock in pg_locks, the journal, the chunk plan, the
 * last cutover and verify), every shard (chunk ledger, stream progress) and
 * every source (WAL position, slot) into a status_report (status.h says what
 * each number means); render_text(), render_json() and render_prometheus()
 * (status_prometheus.c) only print it.  Only shard 0 unreadable is an error
 * (exit 1): a shard or source that cannot be reached is shown in the report
 * with the connection error, which pgr_connect has logged once.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "cli.h"
#include "log.h"
#include "sqlname.h"
#include "state.h"
#include "status.h"
#include "units.h"
#include "xalloc.h"

/* timestamptz as ISO 8601 in UTC, to the second */
#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

const char *
status_cell(const PGresult *r, int row, int col)
{
	return (r == NULL || row < 0 || row >= PQntuples(r) || PQgetisnull(r, row, col)) ? NULL :
		PQgetvalue(r, row, col);
}

static const char *
nvl(const char *s, const char *otherwise)
{
	return s ? s : otherwise;
}

static bool
read_run(status_report *st)
{
	const char *params[1] = {st->p->name};
	PGresult   *res = pgr_query(st->state, "looking for the state schema",
								"SELECT to_regclass('pgreshard.runs') IS NOT NULL", 0, NULL);

	if (res == NULL)
		return false;
	st->applied = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (!st->applied)
		return true;
	/* a holding session newer than holder_since is not the recorded holder (status.h) */
	st->lock = pgr_query(st->state, "reading the plan's lock",
						 "SELECT r.holder_host, r.holder_pid, " ISO("r.holder_since") ", l.pid IS NOT NULL, "
						 "l.pid, coalesce(a.backend_start <= r.holder_since, true), "
						 "to_jsonb(r) ->> 'saved_plan_id' " SQL_RUN_WITH_LOCK, 1, params);
	if (st->lock == NULL)
		return false;
	st->applied = PQntuples(st->lock) == 1;
	return true;
}

static bool
read_journal(status_report *st)
{
	const char *params[1] = {st->p->name};

	/* most recent first: the first row with an error holds the last error */
	st->steps = pgr_query(st->state, "reading the step journal",
						  "SELECT step, state, " ISO("started_at") ", " ISO("finished_at") ", attempts, "
						  "last_error, round(extract(epoch FROM coalesce(finished_at, now()) - started_at), 1) "
						  "FROM pgreshard.steps WHERE plan_name = $1 "
						  "ORDER BY coalesce(finished_at, started_at) DESC NULLS LAST", 1, params);
	st->cutover = st->steps ? pgr_query(st->state, "reading the cutovers",
										"SELECT attempt, outcome, freeze_ms, fence_lsn, reason, "
										ISO("started_at") ", " ISO("finished_at") " FROM pgreshard.cutovers "
										"WHERE plan_name = $1 ORDER BY attempt DESC LIMIT 1", 1, params) : NULL;
	st->verify = st->cutover ? pgr_query(st->state, "reading the verify results",
										 "SELECT table_index, shard, source_rows, shard_rows, differences, "
										 ISO("verified_at") " FROM pgreshard.verify_results "
										 "WHERE plan_name = $1 ORDER BY table_index, shard", 1, params) : NULL;
	st->violations = st->verify ? pgr_query(st->state, "reading the validate hook's violations",
											"SELECT table_name, row_key, reason, step, " ISO("seen_at") ", "
											"count(*) OVER () FROM pgreshard.violations WHERE plan_name = $1 "
											"ORDER BY seen_at, table_name, row_key LIMIT 20", 1, params) : NULL;
	return st->violations != NULL;
}

static int
chunk_cmp(const void *a, const void *b)
{
	const chunk_key *x = a, *y = b;

	return x->source != y->source ? x->source - y->source :
		x->table != y->table ? x->table - y->table : x->chunk - y->chunk;
}

/* The copy's snapshots a keeper holds for a rerun (runner/prepare/snapshot_keeper.c);
 * none on a state schema older than keepers. */
static void
read_keepers(status_report *st)
{
	const char *params[1] = {st->p->name};
	PGresult   *r = PQexecParams(st->state->pg,
								 "SELECT source, keeper_pid, host, snapshot_lsn, "
								 "greatest(0, extract(epoch FROM wanted_until - now()))::int "
								 "FROM pgreshard.snapshot_keepers WHERE plan_name = $1 AND snapshot IS NOT NULL "
								 "AND wanted_until > now() ORDER BY source", 1, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		st->keepers = r;
	else
		PQclear(r);
}

static bool
read_chunk_plan(status_report *st)
{
	const plan *p = st->p;
	const char *params[1] = {p->name};
	PGresult   *res = pgr_query(st->state, "reading the chunk plan",
								"SELECT source, table_index, chunk, est_rows FROM pgreshard.chunk_plan "
								"WHERE plan_name = $1 ORDER BY source, table_index, chunk", 1, params);

	if (res == NULL)
		return false;
	st->chunks = xcalloc((size_t) PQntuples(res) + 1, sizeof(chunk_key));
	for (int r = 0; r < PQntuples(res); r++)
	{
		int			ti = atoi(PQgetvalue(res, r, 1));

		if (ti < 0 || ti >= p->ntables)
			continue;			/* the plan file changed since; not ours to show */
		st->chunks[st->nchunks++] = (chunk_key) {atoi(PQgetvalue(res, r, 0)), ti,
			atoi(PQgetvalue(res, r, 2)), 0};
		st->copy[ti].chunks_total++;
		st->copy[ti].rows_estimated += atoll(PQgetvalue(res, r, 3)) *
			(p->tables[ti].replicate ? p->nshards : 1);
	}
	PQclear(res);
	return true;
}

static bool
read_chunks_done(status_report *st, pgr_conn *c)
{
	const char *params[1] = {st->p->name};
	PGresult   *res = pgr_query(c, "reading the chunk ledger",
								"SELECT source, table_index, chunk, rows, bytes FROM pgreshard.chunks_done "
								"WHERE plan_name = $1", 1, params);

	if (res == NULL)
		return false;
	for (int r = 0; r < PQntuples(res); r++)
	{
		chunk_key	k = {atoi(PQgetvalue(res, r, 0)), atoi(PQgetvalue(res, r, 1)),
		atoi(PQgetvalue(res, r, 2)), 0};
		chunk_key  *found = bsearch(&k, st->chunks, (size_t) st->nchunks, sizeof(k), chunk_cmp);

		if (found == NULL)
			continue;
		if (++found->nshards == st->p->nshards)
			st->copy[k.table].chunks_done++;
		st->copy[k.table].rows_copied += atoll(PQgetvalue(res, r, 3));
		st->copy[k.table].bytes_copied += atoll(PQgetvalue(res, r, 4));
	}
	PQclear(res);
	return true;
}

static bool
read_progress(status_report *st, pgr_conn *c)
{
	const char *params[1] = {st->p->name};
	PGresult   *res = pgr_query(c, "reading the stream progress",
								"SELECT source, lsn, extract(epoch FROM commit_ts), " ISO("commit_ts")
								" FROM pgreshard.apply_progress WHERE plan_name = $1", 1, params);

	if (res == NULL)
		return false;
	for (int r = 0; r < PQntuples(res); r++)
	{
		int			src = atoi(PQgetvalue(res, r, 0));
		uint64_t	lsn = 0;
		source_lag *l = src >= 0 && src < st->p->nsources ? &st->lag[src] : NULL;

		if (l == NULL || !lsn_parse(PQgetvalue(res, r, 1), &lsn))
			continue;
		l->applied = lsn > l->applied ? lsn : l->applied;
		if (status_cell(res, r, 2) && atof(status_cell(res, r, 2)) > l->applied_epoch)
		{
			l->applied_epoch = atof(status_cell(res, r, 2));
			snprintf(l->applied_at, sizeof(l->applied_at), "%s", status_cell(res, r, 3));
		}
	}
	PQclear(res);
	return true;
}

/* One shard's ledger and progress; for shards but 0, a failure goes in st->errors. */
static bool
read_shard(status_report *st, int s)
{
	char	   *role = xasprintf("shard %d", s);
	pgr_conn   *c = s == 0 ? st->state : pgr_connect_ex(st->p->shard_dsns[s], role, PGR_CONN_READ_ONLY, "UTF8");
	bool		ok = c != NULL && read_chunks_done(st, c) && read_progress(st, c);
	char		error[4096];

	log_last_error(error, sizeof(error));
	if (!ok && s > 0)
		json_array_append_new(st->errors, json_string(error));
	if (c != st->state)
		pgr_disconnect(c);
	free(role);
	return ok;
}

/* The moved tables' size on source i (a replicated table counted on source 0 only). */
static bool
read_table_sizes(status_report *st, pgr_conn *c, int i)
{
	const plan *p = st->p;
	bool		ok = true;

	for (int ti = 0; ok && ti < p->ntables; ti++)
	{
		const char *params[2] = {p->tables[ti].schema, p->tables[ti].relname};
		PGresult   *res;

		if (i > 0 && p->tables[ti].replicate)
			continue;
		res = pgr_query(c, "reading a moved table's size",
						"SELECT coalesce(sum(pg_table_size(c.oid)), 0) FROM pg_class c "
						"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
						2, params);
		ok = res != NULL;
		if (ok)
			st->copy[ti].bytes_estimated += atoll(PQgetvalue(res, 0, 0)) *
				(p->tables[ti].replicate ? p->nshards : 1);
		PQclear(res);
	}
	return ok;
}

static void
read_source(status_report *st, int i)
{
	const plan *p = st->p;
	source_lag *l = &st->lag[i];
	char	   *role = p->nsources > 1 ? xasprintf("source %d", i) : xstrdup("source");
	char	   *slot = plan_slot_name(p), epoch[32], error[4096];
	const char *params[2] = {slot, l->applied_epoch >= 0 ? epoch : NULL};
	pgr_conn   *c = pgr_connect(p->source_dsns[i], role, PGR_CONN_READ_ONLY);
	PGresult   *res = NULL;

	snprintf(epoch, sizeof(epoch), "%.6f", l->applied_epoch);
	if (c != NULL)
		res = pgr_query(c, "reading the stream lag",
						"SELECT pg_current_wal_lsn(), s.confirmed_flush_lsn, "
						"greatest(pg_current_wal_lsn() - s.confirmed_flush_lsn, 0), "
						"pg_size_pretty(greatest(pg_current_wal_lsn() - s.confirmed_flush_lsn, 0)), "
						"CASE WHEN $2::float8 IS NOT NULL "
						"THEN greatest(extract(epoch FROM clock_timestamp()) - $2::float8, 0) END, "
						"greatest(pg_current_wal_lsn() - s.restart_lsn, 0), s.wal_status, s.safe_wal_size, "
						"pg_size_pretty(greatest(pg_current_wal_lsn() - s.restart_lsn, 0)) "
						"FROM (SELECT 1) one LEFT JOIN pg_replication_slots s ON s.slot_name = $1", 2, params);
	log_last_error(error, sizeof(error));
	l->reachable = res != NULL;
	if (res == NULL)
		l->error = xstrdup(error);
	else if (status_cell(res, 0, 1) == NULL)
		l->error = xasprintf("%s: replication slot %s does not exist (not created yet, or dropped)",
							 role, slot);
	else
	{
		snprintf(l->current, sizeof(l->current), "%s", PQgetvalue(res, 0, 0));
		snprintf(l->confirmed, sizeof(l->confirmed), "%s", PQgetvalue(res, 0, 1));
		snprintf(l->lag_pretty, sizeof(l->lag_pretty), "%s", PQgetvalue(res, 0, 3));
		l->lag_bytes = atoll(PQgetvalue(res, 0, 2));
		l->lag_seconds = l->lag_bytes == 0 ? 0 : status_cell(res, 0, 4) ? atof(status_cell(res, 0, 4)) : -1;
		l->retained_bytes = status_cell(res, 0, 5) ? atoll(status_cell(res, 0, 5)) : -1;
		snprintf(l->wal_status, sizeof(l->wal_status), "%s", status_cell(res, 0, 6) ? status_cell(res, 0, 6) : "");
		l->safe_wal_bytes = status_cell(res, 0, 7) ? atoll(status_cell(res, 0, 7)) : -1;
		snprintf(l->retained_pretty, sizeof(l->retained_pretty), "%s",
				 status_cell(res, 0, 8) ? status_cell(res, 0, 8) : "?");
	}
	PQclear(res);
	if (res == NULL || !read_table_sizes(st, c, i))
		st->sizes_unknown = true;
	pgr_disconnect(c);
	free(slot);
	free(role);
}

bool
status_gather(status_report *st)
{
	const plan *p = st->p;

	st->errors = json_array();
	if ((st->state = pgr_connect_ex(p->shard_dsns[0], "shard 0", PGR_CONN_READ_ONLY, "UTF8")) == NULL ||
		!read_run(st))
		return false;
	if (!st->applied)
		return true;
	st->copy = xcalloc((size_t) p->ntables + 1, sizeof(copy_prog));
	st->lag = xcalloc((size_t) p->nsources, sizeof(source_lag));
	for (int i = 0; i < p->nsources; i++)
		st->lag[i] = (source_lag) {.lag_bytes = -1, .lag_seconds = -1, .applied_epoch = -1,
		.retained_bytes = -1, .safe_wal_bytes = -1};
	if (!read_journal(st) || !read_chunk_plan(st) || !read_shard(st, 0))
		return false;
	read_keepers(st);
	for (int s = 1; s < p->nshards; s++)
		(void) read_shard(st, s);
	for (int i = 0; i < p->nsources; i++)
		read_source(st, i);
	status_reverse_gather(st);
	return true;
}

int
status_step_row(const PGresult *steps, const char *name)
{
	for (int r = 0; r < PQntuples(steps); r++)
		if (strcmp(PQgetvalue(steps, r, 0), name) == 0)
			return r;
	return -1;
}

/* The most recent step error (the journal is ordered most recent first), or -1. */
static int
last_error_row(const PGresult *steps)
{
	for (int r = 0; r < PQntuples(steps); r++)
		if (!PQgetisnull(steps, r, 5))
			return r;
	return -1;
}

static void
text_steps_copy(FILE *out, const status_report *st)
{
	fprintf(out, "\nSteps:\n  %-12s %-8s %8s  %-20s  %-20s  %s\n", "step", "state", "attempts", "started",
			"finished", "took");
	for (int s = 0; s < STEP_COUNT; s++)
	{
		int			r = status_step_row(st->steps, step_name((step_id) s));
		const char *state = r >= 0 ? PQgetvalue(st->steps, r, 1) : "pending";

		fprintf(out, "  %-12s %-8s %8s  %-20s  %-20s", step_name((step_id) s), state,
				r >= 0 ? PQgetvalue(st->steps, r, 4) : "0", nvl(status_cell(st->steps, r, 2), "-"),
				nvl(status_cell(st->steps, r, 3), "-"));
		if (status_cell(st->steps, r, 6))
			fprintf(out, "  %s s%s", status_cell(st->steps, r, 6), strcmp(state, "running") == 0 ? " so far" : "");
		fputc('\n', out);
	}
	fprintf(out, "\nCopy:\n");
	for (int ti = 0; ti < st->p->ntables; ti++)
	{
		const copy_prog *c = &st->copy[ti];
		char	   *name = table_display(&st->p->tables[ti]);

		if (c->chunks_total == 0)
			fprintf(out, "  %-30s  not started\n", name);
		else
			fprintf(out, "  %-30s  %5.1f%%  %d/%d chunks  %lld rows of ~%lld%s\n", name,
					100.0 * c->chunks_done / c->chunks_total, c->chunks_done, c->chunks_total,
					c->rows_copied, c->rows_estimated,
					st->p->tables[ti].replicate ? " (replicated: counted on every shard)" : "");
		free(name);
	}
	for (int r = 0; st->keepers && r < PQntuples(st->keepers); r++)
		fprintf(out, "  the snapshot of source %s (consistent point %s) is kept by process %s on %s for "
				"another %s s: a rerun goes on under it\n", PQgetvalue(st->keepers, r, 0),
				PQgetvalue(st->keepers, r, 3), PQgetvalue(st->keepers, r, 1), PQgetvalue(st->keepers, r, 2),
				PQgetvalue(st->keepers, r, 4));
	for (size_t i = 0; i < json_array_size(st->errors); i++)
		fprintf(out, "  (incomplete: %s)\n", json_string_value(json_array_get(st->errors, i)));
}

static void
text_stream(FILE *out, const status_report *st)
{
	fprintf(out, "\nStream lag:\n");
	for (int i = 0; i < st->p->nsources; i++)
	{
		const source_lag *l = &st->lag[i];
		char		role[32], secs[32] = "? s (nothing applied yet)", limit[32];

		snprintf(role, sizeof(role), st->p->nsources > 1 ? "source %d" : "source", i);
		if (l->lag_seconds >= 0)
			snprintf(secs, sizeof(secs), "%.1f s", l->lag_seconds);
		if (l->lag_bytes < 0)
			fprintf(out, "  %-10s unknown: %s\n", role, nvl(l->error, "?"));
		else
		{
			fprintf(out, "  %-10s %s, %s  (slot confirmed %s, source at %s%s%s)\n", role, l->lag_pretty, secs,
					l->confirmed, l->current, l->applied_at[0] ? "; last applied commit " : "", l->applied_at);
			fprintf(out, "  %-10s the slot holds %s of WAL (wal_status %s%s%s)\n", "", l->retained_pretty,
					l->wal_status[0] ? l->wal_status : "?", st->p->max_retained_wal > 0 ? "; limit " : "",
					st->p->max_retained_wal > 0 ? format_bytes((double) st->p->max_retained_wal, limit,
															   sizeof(limit)) : "");
		}
	}
}

/* The lock and the last error. */
static void
text_lock_error(FILE *out, const status_report *st)
{
	const PGresult *l = st->lock;
	bool		held = PQgetvalue(l, 0, 3)[0] == 't';
	int			r = last_error_row(st->steps);

	if (held && PQgetvalue(l, 0, 5)[0] == 'f')
		fprintf(out, "\nLock: held by another pgreshard command (backend pid %s on shard 0); the last apply "
				"was host %s, pid %s\n", PQgetvalue(l, 0, 4), nvl(status_cell(l, 0, 0), "?"), nvl(status_cell(l, 0, 1), "?"));
	else if (held || status_cell(l, 0, 1))
		fprintf(out, "\nLock: %s host %s, pid %s, since %s%s\n",
				held ? "held by" : "not held; the last holder,", nvl(status_cell(l, 0, 0), "?"),
				nvl(status_cell(l, 0, 1), "?"), nvl(status_cell(l, 0, 2), "?"), held ? "" : ", is gone");
	else
		fprintf(out, "\nLock: not held\n");
	if (r < 0)
		fprintf(out, "Last error: none\n");
	else
		fprintf(out, "Last error: step %s (%s now), at %s: %s\n", PQgetvalue(st->steps, r, 0),
				PQgetvalue(st->steps, r, 1), nvl(status_cell(st->steps, r, 3), "?"), PQgetvalue(st->steps, r, 5));
}

/* The last cutover attempt and the last verify. */
static void
text_cutover_verify(FILE *out, const status_report *st)
{
	const PGresult *c = st->cutover, *v = st->verify;
	long long	diffs = 0;

	if (PQntuples(c) == 0)
		fprintf(out, "Cutover: not yet\n");
	else
		fprintf(out, "Cutover: attempt %s %s (started %s), writes held %s ms, fence %s%s%s\n",
				PQgetvalue(c, 0, 0), PQgetvalue(c, 0, 1), PQgetvalue(c, 0, 5), nvl(status_cell(c, 0, 2), "?"),
				nvl(status_cell(c, 0, 3), "-"), status_cell(c, 0, 4) ? ": " : "", nvl(status_cell(c, 0, 4), ""));
	for (int i = 0; i < PQntuples(v); i++)
		diffs += atoll(PQgetvalue(v, i, 4));
	if (PQntuples(v) == 0)
		fprintf(out, "Verify: not run yet\n");
	else
		fprintf(out, "Verify: at %s, %d table/shard pair%s compared, %lld difference%s%s\n",
				PQgetvalue(v, 0, 5), PQntuples(v), PQntuples(v) == 1 ? "" : "s", diffs,
				diffs == 1 ? "" : "s", diffs ? " (details: status --json, or verify)" : "");
}

/* Rows the validate hook rejected in report mode. */
static void
text_violations(FILE *out, const status_report *st)
{
	int			n = st->violations ? PQntuples(st->violations) : 0;

	if (n == 0)
		return;
	fprintf(out, "\nValidation: %s row(s) rejected by hooks.validate (report mode; the first %d are kept)\n",
			status_cell(st->violations, 0, 5), VIOLATIONS_KEPT);
	for (int r = 0; r < n; r++)
		fprintf(out, "  %-6s %s %s: %s\n", status_cell(st->violations, r, 3), status_cell(st->violations, r, 0),
				status_cell(st->violations, r, 1), status_cell(st->violations, r, 2));
	if (atoll(status_cell(st->violations, 0, 5)) > n)
		fprintf(out, "  ... (SELECT * FROM pgreshard.violations on shard 0 lists them all)\n");
}

static json_t *
json_violations(const status_report *st)
{
	int			n = st->violations ? PQntuples(st->violations) : 0;
	json_t	   *rows = json_array();

	for (int r = 0; r < n; r++)
		json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:s, s:s}",
											  "table", status_cell(st->violations, r, 0),
											  "key", status_cell(st->violations, r, 1),
											  "reason", status_cell(st->violations, r, 2),
											  "step", status_cell(st->violations, r, 3),
											  "seen_at", status_cell(st->violations, r, 4)));
	return json_pack("{s:I, s:i, s:o}", "count", (json_int_t) (n ? atoll(status_cell(st->violations, 0, 5)) : 0),
					 "kept_limit", VIOLATIONS_KEPT, "rows", rows);
}

static void
render_text(FILE *out, const status_report *st)
{
	const plan *p = st->p;

	fprintf(out, "Plan %s: %d source%s, %d shard%s; state on shard 0 (%s)\n", p->name,
			p->nsources, p->nsources == 1 ? "" : "s", p->nshards, p->nshards == 1 ? "" : "s",
			st->state->safe_dsn);
	if (!st->applied)
	{
		fprintf(out, "The plan has not been applied yet: no state for it on shard 0.\n");
		return;
	}
	if (status_cell(st->lock, 0, 6))
		fprintf(out, "Started from saved plan %.12s\n", status_cell(st->lock, 0, 6));
	text_steps_copy(out, st);
	text_stream(out, st);
	text_lock_error(out, st);
	text_cutover_verify(out, st);
	status_reverse_text(out, st);
	text_violations(out, st);
}

static json_t *
json_int_cell(const PGresult *r, int row, int col)
{
	return status_cell(r, row, col) ? json_integer(atoll(status_cell(r, row, col))) : json_null();
}

/* A number, or null when negative (unknown). */
static json_t *
json_known(double v, bool integer)
{
	return v < 0 ? json_null() : integer ? json_integer((json_int_t) v) : json_real(v);
}

static void
json_steps_copy(json_t *doc, const status_report *st)
{
	const PGresult *j = st->steps;
	json_t	   *steps = json_array(), *tables = json_array(), *keepers = json_array();

	for (int s = 0; s < STEP_COUNT; s++)
	{
		int			r = status_step_row(j, step_name((step_id) s));

		json_array_append_new(steps, json_pack("{s:s, s:s, s:s?, s:s?, s:o, s:s?, s:o}",
											   "name", step_name((step_id) s),
											   "state", r >= 0 ? PQgetvalue(j, r, 1) : "pending",
											   "started_at", status_cell(j, r, 2), "finished_at", status_cell(j, r, 3),
											   "attempts", r >= 0 ? json_int_cell(j, r, 4) : json_integer(0),
											   "last_error", status_cell(j, r, 5),
											   "seconds", json_known(status_cell(j, r, 6) ? atof(status_cell(j, r, 6)) : -1, false)));
	}
	for (int ti = 0; ti < st->p->ntables; ti++)
	{
		const copy_prog *c = &st->copy[ti];
		char	   *name = table_display(&st->p->tables[ti]);

		json_array_append_new(tables, json_pack("{s:s, s:b, s:i, s:i, s:I, s:I, s:I, s:o}", "table", name,
												"replicate", st->p->tables[ti].replicate,
												"chunks_done", c->chunks_done, "chunks_total", c->chunks_total,
												"rows_copied", (json_int_t) c->rows_copied,
												"rows_estimated", (json_int_t) c->rows_estimated,
												"bytes_copied", (json_int_t) c->bytes_copied,
												"bytes_estimated", st->sizes_unknown ? json_null() :
												json_integer((json_int_t) c->bytes_estimated)));
		free(name);
	}
	json_object_set_new(doc, "steps", steps);
	for (int r = 0; st->keepers && r < PQntuples(st->keepers); r++)
		json_array_append_new(keepers, json_pack("{s:i, s:o, s:s, s:s, s:i}", "source",
												 atoi(PQgetvalue(st->keepers, r, 0)), "pid",
												 json_int_cell(st->keepers, r, 1), "host",
												 PQgetvalue(st->keepers, r, 2), "snapshot_lsn",
												 PQgetvalue(st->keepers, r, 3), "seconds_left",
												 atoi(PQgetvalue(st->keepers, r, 4))));
	json_object_set_new(doc, "copy", json_pack("{s:o, s:b, s:o}", "tables", tables,
											   "complete", json_array_size(st->errors) == 0,
											   "snapshot_keepers", keepers));
}

static json_t *
json_stream(const status_report *st)
{
	json_t	   *arr = json_array();
	long long	max = 0;
	char		applied[24];

	for (int i = 0; i < st->p->nsources; i++)
	{
		const source_lag *l = &st->lag[i];

		max = (max < 0 || l->lag_bytes < 0) ? -1 : (l->lag_bytes > max ? l->lag_bytes : max);
		lsn_format(l->applied, applied, sizeof(applied));
		json_array_append_new(arr, json_pack("{s:i, s:o, s:o, s:o, s:s?, s:o, s:s?, s:s?, s:s?, s:s?, s:s?}",
											 "source", i,
											 "lag_bytes", json_known((double) l->lag_bytes, true),
											 "lag_seconds", json_known(l->lag_seconds, false),
											 "retained_wal_bytes", json_known((double) l->retained_bytes, true),
											 "wal_status", l->wal_status[0] ? l->wal_status : NULL,
											 "safe_wal_bytes", json_known((double) l->safe_wal_bytes, true),
											 "confirmed_lsn", l->confirmed[0] ? l->confirmed : NULL,
											 "current_lsn", l->current[0] ? l->current : NULL,
											 "applied_lsn", l->applied ? applied : NULL,
											 "applied_commit_at", l->applied_at[0] ? l->applied_at : NULL,
											 "error", l->error));
	}
	return json_pack("{s:o, s:o}", "sources", arr, "lag_bytes", json_known((double) max, true));
}

/* The lock, the last error, the last cutover attempt, the last verify. */
static void
json_summary(json_t *doc, const status_report *st)
{
	const PGresult *c = st->cutover, *v = st->verify, *l = st->lock;
	int			r = last_error_row(st->steps);
	json_t	   *results = json_array();
	json_int_t	diffs = 0;

	json_object_set_new(doc, "lock", json_pack("{s:b, s:s?, s:o, s:s?, s:b, s:o}",
											   "held", PQgetvalue(l, 0, 3)[0] == 't', "host", status_cell(l, 0, 0),
											   "pid", json_int_cell(l, 0, 1), "since", status_cell(l, 0, 2),
											   "holder_current", PQgetvalue(l, 0, 3)[0] == 't' &&
											   PQgetvalue(l, 0, 5)[0] == 't',
											   "backend_pid", json_int_cell(l, 0, 4)));
	json_object_set_new(doc, "last_error", r < 0 ? json_null() :
						json_pack("{s:s, s:s, s:s?, s:s}", "step", PQgetvalue(st->steps, r, 0),
								  "step_state", PQgetvalue(st->steps, r, 1), "at", status_cell(st->steps, r, 3),
								  "message", PQgetvalue(st->steps, r, 5)));
	json_object_set_new(doc, "cutover", PQntuples(c) == 0 ? json_null() :
						json_pack("{s:o, s:s, s:o, s:s?, s:s?, s:s?, s:s?}", "attempt", json_int_cell(c, 0, 0),
								  "outcome", PQgetvalue(c, 0, 1), "freeze_ms", json_int_cell(c, 0, 2),
								  "fence_lsn", status_cell(c, 0, 3), "reason", status_cell(c, 0, 4),
								  "started_at", status_cell(c, 0, 5), "finished_at", status_cell(c, 0, 6)));
	for (int i = 0; i < PQntuples(v); i++)
	{
		int			ti = atoi(PQgetvalue(v, i, 0));
		char	   *name = ti >= 0 && ti < st->p->ntables ? table_display(&st->p->tables[ti]) : NULL;

		diffs += atoll(PQgetvalue(v, i, 4));
		json_array_append_new(results, json_pack("{s:s?, s:o, s:o, s:o, s:o, s:s?}", "table", name,
												 "shard", json_int_cell(v, i, 1),
												 "source_rows", json_int_cell(v, i, 2),
												 "shard_rows", json_int_cell(v, i, 3),
												 "differences", json_int_cell(v, i, 4),
												 "verified_at", status_cell(v, i, 5)));
		free(name);
	}
	json_object_set_new(doc, "verify", PQntuples(v) == 0 ? json_null() :
						json_pack("{s:s, s:I, s:O}", "verified_at", PQgetvalue(v, 0, 5),
								  "differences", diffs, "results", results));
	json_decref(results);
}

static bool
render_json(FILE *out, const status_report *st)
{
	json_t	   *doc = json_pack("{s:i, s:s, s:b}", "format_version", STATUS_JSON_FORMAT_VERSION,
								"plan", st->p->name, "applied", st->applied);

	if (st->applied)
		json_object_set_new(doc, "saved_plan_id", status_cell(st->lock, 0, 6) ? json_string(status_cell(st->lock, 0, 6)) :
							json_null());
	int			rc;

	if (st->applied)
	{
		json_steps_copy(doc, st);
		json_object_set_new(doc, "stream", json_stream(st));
		json_object_set_new(doc, "violations", json_violations(st));
		json_summary(doc, st);
		json_object_set_new(doc, "reverse", status_reverse_json(st));
		json_object_set(doc, "errors", st->errors);
	}
	rc = json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	fputc('\n', out);
	json_decref(doc);
	return rc == 0;
}

void
status_free(status_report *st)
{
	PQclear(st->lock);
	PQclear(st->steps);
	PQclear(st->cutover);
	PQclear(st->verify);
	PQclear(st->violations);
	PQclear(st->keepers);
	free(st->chunks);
	free(st->copy);
	for (int i = 0; st->lag && i < st->p->nsources; i++)
		free(st->lag[i].error);
	free(st->lag);
	status_reverse_free(st);
	json_decref(st->errors);
	pgr_disconnect(st->state);
}

int
cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
	{"prometheus", no_argument, NULL, 'p'}, {NULL, 0, NULL, 0}};
	bool		json = false, prometheus = false;
	status_report st = {0};
	plan	   *p;
	int			c, rc = EXIT_OK;

	while ((c = cli_getopt(argc, argv, "", opts, "status")) == 'j' || c == 'p')
		*(c == 'j' ? &json : &prometheus) = true;
	if (c == '?')
		return EXIT_USAGE;
	if (argc - optind != 1)
		return cli_usage_error("status", "expected one PLAN.yaml argument");
	if (json && prometheus)
		return cli_usage_error("status", "--json and --prometheus cannot be combined");
	if (!plan_load(argv[optind], &p))
		return EXIT_ERROR;
	st.p = p;
	if (!status_gather(&st))
		rc = EXIT_ERROR;
	else if (prometheus)
	{
		if (!render_prometheus(stdout, &st))
		{
			log_error("status: cannot write the metrics");
			rc = EXIT_ERROR;
		}
	}
	else if (!json)
		render_text(stdout, &st);
	else if (!render_json(stdout, &st))
	{
		log_error("status: cannot write the JSON document");
		rc = EXIT_ERROR;
	}
	fflush(stdout);
	status_free(&st);
	plan_free(p);
	return rc;
}
