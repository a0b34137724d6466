/*
 * state.c — the journal, ledger and lock in the `pgreshard` schema.
 * See state.h; the schema itself is runner/engine/sql/state.sql.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <signal.h>
#include <sys/types.h>
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
	/*
	 * The session's commits are synchronous, whatever the shard's settings:
	 * the ledger is written before what it records is created (invariant 8)
	 * and the journal says what is done; a crash of the shard must not lose
	 * them once acknowledged (a slot whose ledger row was lost would be
	 * refused as someone else's forever).  Serialize concurrent first runs:
	 * CREATE ... IF NOT EXISTS can race.
	 */
	return pgr_exec(c, "setting up the state session", "SET synchronous_commit = local", 0, NULL) &&
		pgr_exec(c, "locking the state schema", "SELECT pg_advisory_lock(7340912)", 0, NULL) &&
		pgr_exec(c, "creating the pgreshard state schema", sql_state, 0, NULL) &&
		pgr_exec(c, "unlocking the state schema", "SELECT pg_advisory_unlock(7340912)", 0, NULL);
}

bool
state_register_run(pgr_conn *c, const plan *p)
{
	char		nshards[16], nsources[16];
	const char *params[4] = {p->name, nshards, nsources, p->saved_id};

	snprintf(nshards, sizeof(nshards), "%d", p->nshards);
	snprintf(nsources, sizeof(nsources), "%d", p->nsources);
	return pgr_exec(c, "registering the run",
					"INSERT INTO pgreshard.runs (plan_name, nshards, nsources, saved_plan_id) "
					"VALUES ($1, $2, $3, $4) ON CONFLICT (plan_name) DO UPDATE "
					"SET saved_plan_id = coalesce($4, pgreshard.runs.saved_plan_id)", 4, params);
}

/* pg_locks row of the plan's advisory lock (the key of pg_try_advisory_lock(bigint)). */
#define SQL_LOCK_HOLDER \
	"SELECT r.holder_host, r.holder_pid, r.holder_since, l.pid, " \
	"coalesce(a.backend_start <= r.holder_since, false) " SQL_RUN_WITH_LOCK

/* Seconds to let the server notice a dead holder's session before ending it. */
#define DEAD_HOLDER_GRACE_S 3

/*
 * The recorded holder is a process of this host that no longer exists, and
 * the session holding the lock is that holder's (it started before the
 * holder recorded itself): its client died and the server has not noticed.
 * A session that started later belongs to another command (verify,
 * cleanup), never ended here.
 */
static bool
holder_is_dead(const PGresult *res, const char *host)
{
	pid_t		pid;

	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 1) || PQgetisnull(res, 0, 3) ||
		strcmp(PQgetvalue(res, 0, 0), host) != 0 || PQgetvalue(res, 0, 4)[0] != 't')
		return false;
	pid = (pid_t) atoi(PQgetvalue(res, 0, 1));
	return pid > 0 && pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH;
}

/* Take over the lock of a dead holder on this host; *got says whether it worked. */
static bool
take_over(pgr_conn *c, const plan *p, const PGresult *holder, bool *got)
{
	const char *params[1] = {PQgetvalue(holder, 0, 3)};

	log_warn("plan %s: its lock is held for pid %s on this host, which no longer exists; "
			 "waiting %d s for shard 0 to end that session", p->name, PQgetvalue(holder, 0, 1),
			 DEAD_HOLDER_GRACE_S);
	for (int i = 0; i < DEAD_HOLDER_GRACE_S * 4; i++)
	{
		usleep(250 * 1000);
		if (!state_try_lock(c, p, got))
			return false;
		if (*got)
			return true;
	}
	log_warn("plan %s: ending the dead holder's session (backend pid %s on shard 0)", p->name, params[0]);
	if (!pgr_exec(c, "ending the dead lock holder's session", "SELECT pg_terminate_backend($1::int)",
				  1, params))
		return false;
	for (int i = 0; i < 20 && !*got; i++)
	{
		usleep(250 * 1000);
		if (!state_try_lock(c, p, got))
			return false;
	}
	return true;
}

/* The lock is held: take it over from a dead holder, or say who holds it. */
static bool
lock_held(pgr_conn *c, const plan *p, const char *host)
{
	const char *params[1] = {p->name};
	PGresult   *res = pgr_query(c, "reading the plan's lock holder", SQL_LOCK_HOLDER, 1, params);
	bool		got = false;

	if (res == NULL)
		return false;
	if (holder_is_dead(res, host) && take_over(c, p, res, &got) && got)
	{
		PQclear(res);
		return true;
	}
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 1) && PQgetvalue(res, 0, 4)[0] == 't')
		log_error("plan %s is being applied by another pgreshard (host %s, pid %s, since %s); "
				  "wait for it to finish or stop it", p->name, PQgetvalue(res, 0, 0),
				  PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
	else
		log_error("plan %s is being applied by another pgreshard command (backend pid %s on shard 0); "
				  "wait for it to finish or stop it", p->name,
				  PQntuples(res) == 1 && !PQgetisnull(res, 0, 3) ? PQgetvalue(res, 0, 3) : "?");
	PQclear(res);
	return false;
}

bool
state_begin_run(pgr_conn *c, const plan *p)
{
	char		host[256] = "?", pid[32], nshards[16], nsources[16];
	const char *params[6] = {p->name, nshards, nsources, host, pid, p->saved_id};
	bool		got;

	gethostname(host, sizeof(host) - 1);
	if (!state_try_lock(c, p, &got))
		return false;
	if (!got && !lock_held(c, p, host))
		return false;
	snprintf(pid, sizeof(pid), "%d", (int) getpid());
	snprintf(nshards, sizeof(nshards), "%d", p->nshards);
	snprintf(nsources, sizeof(nsources), "%d", p->nsources);
	return pgr_exec(c, "registering the run",
					"INSERT INTO pgreshard.runs (plan_name, nshards, nsources, holder_host, holder_pid, holder_since, "
					"saved_plan_id) VALUES ($1, $2, $3, $4, $5, now(), $6) ON CONFLICT (plan_name) DO UPDATE "
					"SET holder_host = $4, holder_pid = $5, holder_since = now(), updated_at = now(), "
					"saved_plan_id = coalesce($6, pgreshard.runs.saved_plan_id)", 6, params);
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
