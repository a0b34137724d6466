/*
 * status_reverse.c — what `pgreshard status` says about reverse replication
 * after the cutover (runner/cutover/reverse.c): its state (streaming,
 * finished, rolled back) and any pending request, the lag of each shard's
 * reverse slot (WAL the sources have not applied yet) and the WAL it holds
 * back on the shard, and the last rollback attempt.  Read-only, like the
 * rest of status; a shard that cannot be read leaves its numbers unknown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "status.h"
#include "units.h"
#include "xalloc.h"

#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static void
read_reverse_shard(status_report *st, int s, const char *slot)
{
	reverse_lag *l = &st->rev[s];
	char		role[32];
	const char *params[1] = {slot};
	pgr_conn   *c;
	PGresult   *res = NULL;

	snprintf(role, sizeof(role), "shard %d", s);
	l->lag_bytes = l->retained_bytes = -1;
	if ((c = pgr_connect(st->p->shard_dsns[s], role, PGR_CONN_READ_ONLY)) != NULL)
		res = pgr_query(c, "reading the reverse lag",
						"SELECT greatest(pg_current_wal_lsn() - confirmed_flush_lsn, 0)::bigint, "
						"greatest(pg_current_wal_lsn() - restart_lsn, 0)::bigint, "
						"pg_size_pretty(greatest(pg_current_wal_lsn() - confirmed_flush_lsn, 0)), "
						"pg_size_pretty(greatest(pg_current_wal_lsn() - restart_lsn, 0)) "
						"FROM pg_replication_slots WHERE slot_name = $1", 1, params);
	l->reachable = res != NULL;
	l->has_slot = res != NULL && PQntuples(res) == 1;
	if (l->has_slot)
	{
		l->lag_bytes = atoll(PQgetvalue(res, 0, 0));
		l->retained_bytes = atoll(PQgetvalue(res, 0, 1));
		snprintf(l->lag_pretty, sizeof(l->lag_pretty), "%s", PQgetvalue(res, 0, 2));
		snprintf(l->retained_pretty, sizeof(l->retained_pretty), "%s", PQgetvalue(res, 0, 3));
	}
	PQclear(res);
	pgr_disconnect(c);
}

void
status_reverse_gather(status_report *st)
{
	const char *params[1] = {st->p->name};
	PGresult   *res = pgr_query(st->state, "reading the reverse replication's state",
								"SELECT coalesce(to_jsonb(r) ->> 'reverse_state', ''), "
								"coalesce(to_jsonb(r) ->> 'reverse_request', ''), "
								"EXISTS (SELECT FROM pgreshard.ledger WHERE plan_name = $1 AND kind = 'slot' "
								"AND server = 'shard 0' AND dropped_at IS NULL) AND EXISTS (SELECT FROM "
								"pgreshard.steps WHERE plan_name = $1 AND step = 'cutover' AND state = 'done') "
								"FROM pgreshard.runs r WHERE plan_name = $1", 1, params);
	char	   *slot = xasprintf("pgreshard_%s_back", st->p->name);

	if (res != NULL && PQntuples(res) == 1)
	{
		snprintf(st->reverse_state, sizeof(st->reverse_state), "%s", PQgetvalue(res, 0, 0));
		snprintf(st->reverse_request, sizeof(st->reverse_request), "%s", PQgetvalue(res, 0, 1));
		if (PQgetvalue(res, 0, 2)[0] == 't')
		{
			st->rev = xcalloc((size_t) st->p->nshards, sizeof(reverse_lag));
			for (int s = 0; s < st->p->nshards; s++)
				read_reverse_shard(st, s, slot);
		}
	}
	PQclear(res);
	free(slot);
	/* the table is there once an apply of this version ran */
	res = pgr_query(st->state, "looking for rollbacks", "SELECT to_regclass('pgreshard.rollbacks') IS NOT NULL",
					0, NULL);
	if (res != NULL && PQgetvalue(res, 0, 0)[0] == 't')
		st->rollback = pgr_query(st->state, "reading the last rollback",
								 "SELECT attempt, outcome, freeze_ms, fence_lsn, reason, " ISO("started_at") ", "
								 ISO("finished_at") " FROM pgreshard.rollbacks WHERE plan_name = $1 "
								 "ORDER BY attempt DESC LIMIT 1", 1, params);
	PQclear(res);
}

void
status_reverse_text(FILE *out, const status_report *st)
{
	const PGresult *r = st->rollback;

	if (st->rev == NULL && st->reverse_state[0] == '\0')
		return;
	fprintf(out, "\nReverse replication (shards -> source): %s%s%s%s\n",
			st->reverse_state[0] ? st->reverse_state : "set up, not streaming yet",
			st->reverse_request[0] ? "; " : "", st->reverse_request,
			st->reverse_request[0] ? " requested" : "");
	for (int s = 0; st->rev && s < st->p->nshards; s++)
	{
		const reverse_lag *l = &st->rev[s];

		if (!l->reachable)
			fprintf(out, "  shard %-4d unknown: cannot connect\n", s);
		else if (!l->has_slot)
			fprintf(out, "  shard %-4d no reverse slot (dropped)\n", s);
		else
			fprintf(out, "  shard %-4d lag %s; the reverse slot holds %s of WAL on the shard\n", s,
					l->lag_pretty, l->retained_pretty);
	}
	if (st->rev != NULL)
	{
		char		limit[32];

		if (st->p->cutover.reverse_max_retained > 0)
			format_bytes((double) st->p->cutover.reverse_max_retained, limit, sizeof(limit));
		fprintf(out, "  warning: the reverse slots hold the shards' WAL until `pgreshard finish` or `pgreshard "
				"rollback`; %s%s%s\n", st->p->cutover.reverse_max_retained > 0 ? "cutover.reverse_max_retained "
				"finishes reverse replication past " : "no cutover.reverse_max_retained bounds it",
				st->p->cutover.reverse_max_retained > 0 ? limit : "",
				st->p->cutover.reverse_max_retained > 0 ? " on a shard" : "");
	}
	if (r != NULL && PQntuples(r) == 1)
		fprintf(out, "  last rollback: attempt %s, %s%s%s ms of freeze%s%s\n", PQgetvalue(r, 0, 0),
				PQgetvalue(r, 0, 1), PQgetisnull(r, 0, 2) ? "" : ", ", PQgetisnull(r, 0, 2) ? "?" : PQgetvalue(r, 0, 2),
				PQgetisnull(r, 0, 4) ? "" : ": ", PQgetisnull(r, 0, 4) ? "" : PQgetvalue(r, 0, 4));
}

static json_t *
known(long long v)
{
	return v < 0 ? json_null() : json_integer(v);
}

json_t *
status_reverse_json(const status_report *st)
{
	const PGresult *r = st->rollback;
	json_t	   *shards = json_array();

	if (st->rev == NULL && st->reverse_state[0] == '\0')
	{
		json_decref(shards);
		return json_null();
	}
	for (int s = 0; st->rev && s < st->p->nshards; s++)
		json_array_append_new(shards, json_pack("{s:i, s:b, s:b, s:o, s:o}", "shard", s,
												"reachable", st->rev[s].reachable, "slot_exists", st->rev[s].has_slot,
												"lag_bytes", known(st->rev[s].lag_bytes),
												"retained_wal_bytes", known(st->rev[s].retained_bytes)));
	return json_pack("{s:s?, s:s?, s:o, s:o, s:o}", "state", st->reverse_state[0] ? st->reverse_state : NULL,
					 "request", st->reverse_request[0] ? st->reverse_request : NULL,
					 "max_retained_bytes", st->p->cutover.reverse_max_retained > 0 ?
					 json_integer(st->p->cutover.reverse_max_retained) : json_null(), "shards", shards,
					 "last_rollback", r == NULL || PQntuples(r) == 0 ? json_null() :
					 json_pack("{s:i, s:s, s:o, s:s?, s:s?, s:s?, s:s?}", "attempt", atoi(PQgetvalue(r, 0, 0)),
							   "outcome", PQgetvalue(r, 0, 1),
							   "freeze_ms", PQgetisnull(r, 0, 2) ? json_null() : json_integer(atoll(PQgetvalue(r, 0, 2))),
							   "fence_lsn", PQgetisnull(r, 0, 3) ? NULL : PQgetvalue(r, 0, 3),
							   "reason", PQgetisnull(r, 0, 4) ? NULL : PQgetvalue(r, 0, 4),
							   "started_at", PQgetisnull(r, 0, 5) ? NULL : PQgetvalue(r, 0, 5),
							   "finished_at", PQgetisnull(r, 0, 6) ? NULL : PQgetvalue(r, 0, 6)));
}

void
status_reverse_free(status_report *st)
{
	free(st->rev);
	st->rev = NULL;
	PQclear(st->rollback);
	st->rollback = NULL;
}
