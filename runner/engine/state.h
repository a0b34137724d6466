/*
 * state.h — pgreshard's state in PostgreSQL (DESIGN.md invariant 7).
 *
 * The step journal, the object ledger, the chunk plan and the DDL script
 * live in the `pgreshard` schema on shard 0; each shard also keeps its own
 * chunk ledger and DDL markers, committed with the work they record.  A
 * rerun from any machine with the same plan file resumes from here.
 *
 * The plan's lock is a session-level advisory lock on shard 0, so a dead
 * holder's lock goes away with its session and is taken over safely.
 */
#ifndef PGR_STATE_H
#define PGR_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "conn.h"
#include "plan.h"
#include "steps.h"

typedef enum step_state {
	STEP_PENDING = 0,
	STEP_RUNNING,
	STEP_DONE,
	STEP_FAILED
} step_state;

/* Create the state schema on this connection's database if missing. */
bool state_init_schema(pgr_conn *c);

/* Record on a shard that this plan's run owns its tables (before any data). */
bool state_register_run(pgr_conn *c, const plan *p);

/* Register the run (shard 0) and take the plan's lock; false if held. */
bool state_begin_run(pgr_conn *c, const plan *p);

/* Take the plan's lock if it is free (*got says); no message when held. */
bool state_try_lock(pgr_conn *c, const plan *p, bool *got);

/*
 * "FROM pgreshard.runs r" joined with the session holding the plan's lock
 * (l: its pg_locks row, a: its pg_stat_activity row; NULL when not held), for
 * plan $1.  The key of pg_try_advisory_lock(bigint) is classid (its high 32
 * bits) and objid (the low ones).
 */
#define SQL_RUN_WITH_LOCK \
	"FROM pgreshard.runs r " \
	"LEFT JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted AND l.objsubid = 1" \
	" AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())" \
	" AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtext('pgreshard plan ' || $1)::bigint " \
	"LEFT JOIN pg_stat_activity a ON a.pid = l.pid WHERE r.plan_name = $1"

/* Journal. */
bool state_step_get(pgr_conn *c, const plan *p, step_id s, step_state *st);
bool state_step_start(pgr_conn *c, const plan *p, step_id s);
bool state_step_finish(pgr_conn *c, const plan *p, step_id s, bool ok, const char *error);

/* Ledger: record an object before creating it (idempotent). */
bool state_ledger_add(pgr_conn *c, const plan *p, const char *kind, const char *name,
					  const char *server);
/* Whether the ledger holds this object (and it was not dropped). */
bool state_ledger_has(pgr_conn *c, const plan *p, const char *kind, const char *name,
					  const char *server, bool *has);

/* A slot's consistent point, recorded once after it is created. */
bool state_slot_lsn_set(pgr_conn *c, const plan *p, const char *name, const char *server,
						const char *lsn);
/* The recorded consistent point (0 when none). */
bool state_slot_lsn_get(pgr_conn *c, const plan *p, const char *name, const char *server,
						uint64_t *lsn);

/* Rows rejected by the validate hook in report mode: the first ones are kept. */
#define VIOLATIONS_KEPT 1000
bool state_violation_add(pgr_conn *c, const plan *p, const char *table, const char *key,
						 const char *reason, const char *step);

#endif
