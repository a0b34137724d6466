/*
 * state.c — the journal, ledger and lock in the `pgreshard` schema.
 * See state.h; the schema itself is runner/sql/state.sql.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "log.h"
#include "state.h"
#include "xalloc.h"

extern const char sql_state[];

static const char *const step_state_names[] = {"pending", "running", "done", "failed"};

bool
state_init_schema(pgr_conn *c)
{
	/* Serialize concurrent first runs: CREATE ... IF NOT EXISTS can race. */
	return pgr_exec(c, "locking the state schema", "SELECT pg_advisory_lock(7340912)", 0, NULL) &&
		pgr_exec(c, "creating the pgreshard state schema", sql_state, 0, NULL) &&
		pgr_exec(c, "unlocking the state schema", "SELECT pg_advisory_unlock(7340912)", 0, NULL);
}

bool
state_register_run(pgr_conn *c, const plan *p)
{
	char		nshards[16], nsources[16];
	const char *params[3] = {p->name, nshards, nsources};

	snprintf(nshards, sizeof(nshards), "%d", p->nshards);
	snprintf(nsources, sizeof(nsources), "%d", p->nsources);
	return pgr_exec(c, "registering the run",
					"INSERT INTO pgreshard.runs (plan_name, nshards, nsources) VALUES ($1, $2, $3) "
					"ON CONFLICT (plan_name) DO NOTHING", 3, params);
}

static bool
report_holder(pgr_conn *c, const plan *p)
{
	const char *params[1] = {p->name};
	PGresult   *res = pgr_query(c, "reading the plan's lock holder",
								"SELECT holder_host, holder_pid, holder_since FROM pgreshard.runs "
								"WHERE plan_name = $1", 1, params);

	if (res == NULL)
		return false;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 1))
		log_error("plan %s is being applied by another pgreshard (host %s, pid %s, since %s); "
				  "wait for it to finish or stop it", p->name, PQgetvalue(res, 0, 0),
				  PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
	else
		log_error("plan %s is being applied by another pgreshard", p->name);
	PQclear(res);
	return false;
}

bool
state_begin_run(pgr_conn *c, const plan *p)
{
	char		host[256] = "?", pid[32], nshards[16], nsources[16];
	const char *lock_params[1] = {p->name};
	const char *params[5] = {p->name, nshards, nsources, host, pid};
	PGresult   *res;
	bool		got;

	res = pgr_query(c, "taking the plan's lock",
					"SELECT pg_try_advisory_lock(hashtext('pgreshard plan ' || $1))", 1, lock_params);
	if (res == NULL)
		return false;
	got = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (!got)
		return report_holder(c, p);
	gethostname(host, sizeof(host) - 1);
	snprintf(pid, sizeof(pid), "%d", (int) getpid());
	snprintf(nshards, sizeof(nshards), "%d", p->nshards);
	snprintf(nsources, sizeof(nsources), "%d", p->nsources);
	return pgr_exec(c, "registering the run",
					"INSERT INTO pgreshard.runs (plan_name, nshards, nsources, holder_host, holder_pid, holder_since) "
					"VALUES ($1, $2, $3, $4, $5, now()) ON CONFLICT (plan_name) DO UPDATE "
					"SET holder_host = $4, holder_pid = $5, holder_since = now(), updated_at = now()",
					5, params);
}

bool
state_step_get(pgr_conn *c, const plan *p, step_id s, step_state *st)
{
	const char *params[2] = {p->name, step_name(s)};
	PGresult   *res = pgr_query(c, "reading the step journal",
								"SELECT state FROM pgreshard.steps WHERE plan_name = $1 AND step = $2",
								2, params);

	if (res == NULL)
		return false;
	*st = STEP_PENDING;
	for (int i = 0; PQntuples(res) == 1 && i < 4; i++)
		if (strcmp(PQgetvalue(res, 0, 0), step_state_names[i]) == 0)
			*st = (step_state) i;
	PQclear(res);
	return true;
}

bool
state_step_start(pgr_conn *c, const plan *p, step_id s)
{
	const char *params[2] = {p->name, step_name(s)};

	return pgr_exec(c, "writing the step journal",
					"INSERT INTO pgreshard.steps (plan_name, step, state, started_at, attempts) "
					"VALUES ($1, $2, 'running', now(), 1) ON CONFLICT (plan_name, step) DO UPDATE "
					"SET state = 'running', started_at = now(), finished_at = NULL, "
					"attempts = pgreshard.steps.attempts + 1", 2, params);
}

bool
state_step_finish(pgr_conn *c, const plan *p, step_id s, bool ok, const char *error)
{
	const char *params[4] = {p->name, step_name(s), ok ? "done" : "failed", ok ? NULL : error};

	return pgr_exec(c, "writing the step journal",
					"UPDATE pgreshard.steps SET state = $3, finished_at = now(), "
					"last_error = coalesce($4, last_error) WHERE plan_name = $1 AND step = $2",
					4, params);
}

bool
state_ledger_add(pgr_conn *c, const plan *p, const char *kind, const char *name,
				 const char *server)
{
	const char *params[4] = {p->name, kind, name, server};

	return pgr_exec(c, "writing the object ledger",
					"INSERT INTO pgreshard.ledger (plan_name, kind, name, server) VALUES ($1, $2, $3, $4) "
					"ON CONFLICT (plan_name, kind, name, server) DO UPDATE SET dropped_at = NULL",
					4, params);
}

bool
state_violation_add(pgr_conn *c, const plan *p, const char *table, const char *key,
					const char *reason, const char *step)
{
	char		limit[16];
	const char *params[6] = {p->name, table, key, reason, step, limit};

	snprintf(limit, sizeof(limit), "%d", VIOLATIONS_KEPT);
	return pgr_exec(c, "recording a row the validate hook rejected",
					"INSERT INTO pgreshard.violations (plan_name, table_name, row_key, reason, step) "
					"SELECT $1, $2, $3, $4, $5 WHERE (SELECT count(*) FROM pgreshard.violations "
					"WHERE plan_name = $1) < $6::int ON CONFLICT DO NOTHING", 6, params);
}

bool
state_ledger_has(pgr_conn *c, const plan *p, const char *kind, const char *name,
				 const char *server, bool *has)
{
	const char *params[4] = {p->name, kind, name, server};
	PGresult   *res = pgr_query(c, "reading the object ledger",
								"SELECT 1 FROM pgreshard.ledger WHERE plan_name = $1 AND kind = $2 "
								"AND name = $3 AND server = $4 AND dropped_at IS NULL", 4, params);

	if (res == NULL)
		return false;
	*has = PQntuples(res) > 0;
	PQclear(res);
	return true;
}

bool
state_slot_lsn_set(pgr_conn *c, const plan *p, const char *name, const char *server,
				   const char *lsn)
{
	const char *params[4] = {p->name, name, server, lsn};

	return pgr_exec(c, "recording the slot's consistent point",
					"UPDATE pgreshard.ledger SET lsn = $4 WHERE plan_name = $1 AND kind = 'slot' "
					"AND name = $2 AND server = $3 AND lsn IS NULL", 4, params);
}

bool
state_slot_lsn_get(pgr_conn *c, const plan *p, const char *name, const char *server,
				   uint64_t *lsn)
{
	const char *params[3] = {p->name, name, server};
	PGresult   *res = pgr_query(c, "reading the slot's consistent point",
								"SELECT lsn FROM pgreshard.ledger WHERE plan_name = $1 AND kind = 'slot' "
								"AND name = $2 AND server = $3", 3, params);

	if (res == NULL)
		return false;
	*lsn = 0;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		lsn_parse(PQgetvalue(res, 0, 0), lsn);
	PQclear(res);
	return true;
}

bool
state_try_lock(pgr_conn *c, const plan *p, bool *got)
{
	const char *params[1] = {p->name};
	PGresult   *res = pgr_query(c, "taking the plan's lock",
								"SELECT pg_try_advisory_lock(hashtext('pgreshard plan ' || $1))", 1, params);

	if (res == NULL)
		return false;
	*got = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return true;
}
