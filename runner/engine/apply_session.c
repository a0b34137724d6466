/*
 * apply_session.c — the session setting of every connection that writes
 * moved rows on a shard (copy workers, stream appliers): changes are applied
 * the way PostgreSQL's own subscriptions apply them (DESIGN.md invariant 11).
 *
 * With session_replication_role = replica, ordinary user triggers (ENABLE,
 * i.e. "origin") and the foreign-key triggers (checks and ON DELETE/UPDATE
 * actions) do not fire: the source already ran them, and their effects (an
 * audit row, a cascaded delete, a last_update stamp) arrive as changes of
 * their own.  Triggers marked ENABLE ALWAYS fire anyway and ENABLE REPLICA
 * fire only here, as PostgreSQL defines.  The application's own sessions
 * after the cutover keep the default role (origin): triggers work normally.
 *
 * The setting needs superuser, or on PostgreSQL 15 a role granted
 * SET ON PARAMETER session_replication_role.  Preflight reports a shard
 * whose role may not set it (planner/inspect_schema.c): an error when moved
 * tables have triggers or foreign-key actions that would then fire a second
 * time, a warning otherwise.  Here the setting is made when it is allowed,
 * in the same statement that asks, so a session never fails on it.
 */
#include "apply.h"
#include "log.h"

bool
apply_session_replica(pgr_conn *c)
{
	const char *sql = c->server_version >= 150000 ?
		"SELECT CASE WHEN has_parameter_privilege('session_replication_role', 'SET') "
		"THEN set_config('session_replication_role', 'replica', false) "
		"ELSE current_setting('session_replication_role') END" :
		"SELECT CASE WHEN (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) "
		"THEN set_config('session_replication_role', 'replica', false) "
		"ELSE current_setting('session_replication_role') END";
	PGresult   *res = pgr_query(c, "setting session_replication_role", sql, 0, NULL);

	if (res == NULL)
		return false;
	log_debug("%s: session_replication_role = %s", c->role, PQgetvalue(res, 0, 0));
	PQclear(res);
	return true;
}
