/*
 * wal_guard.c — stop before pgreshard's slot risks the source's disk (see
 * wal_guard.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "units.h"
#include "wal_guard.h"
#include "xalloc.h"

bool
wal_guard_check(apply_ctx *ctx, int source)
{
	const plan *p = ctx->plan;
	const char *role = ctx->sources[source].role;
	char	   *slot = slot_name(p);
	const char *params[1] = {slot};
	pgr_conn   *c = pgr_connect(p->source_dsns[source], role, 0);
	PGresult   *res = c ? pgr_query(c, "reading the slot's retained WAL",
									"SELECT wal_status, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint, "
									"safe_wal_size FROM pg_replication_slots WHERE slot_name = $1", 1, params) : NULL;
	bool		ok = res != NULL;
	char		b1[32], b2[32];

	if (ok && PQntuples(res) == 1 && !PQgetisnull(res, 0, 1))
	{
		const char *status = PQgetvalue(res, 0, 0);
		long long	retained = atoll(PQgetvalue(res, 0, 1));
		bool		has_safe = !PQgetisnull(res, 0, 2);
		long long	safe = has_safe ? atoll(PQgetvalue(res, 0, 2)) : 0;

		format_bytes((double) retained, b1, sizeof(b1));
		if (strcmp(status, "lost") == 0 || strcmp(status, "unreserved") == 0)
		{
			log_error("%s: slot %s is %s: the server %s WAL it needs (max_slot_wal_keep_size); the "
					  "move cannot continue from this slot; fix: raise max_slot_wal_keep_size, then "
					  "`pgreshard cleanup --drop-data %s` and apply again", role, slot, status,
					  strcmp(status, "lost") == 0 ? "removed" : "is about to remove", p->path);
			ok = false;
		}
		else if (has_safe && safe < (retained + safe) / 10)
		{
			log_error("%s: slot %s holds %s of WAL and only %s more is allowed by "
					  "max_slot_wal_keep_size: stopped before the server invalidates it; the state is "
					  "kept; fix: raise max_slot_wal_keep_size (or let the stream catch up), then rerun "
					  "apply", role, slot, b1, format_bytes((double) safe, b2, sizeof(b2)));
			ok = false;
		}
		else if (p->max_retained_wal > 0 && retained > p->max_retained_wal)
		{
			log_error("%s: slot %s holds %s of WAL, more than source.max_retained_wal (%s): stopped "
					  "before the source's disk is at risk; the state is kept; fix: free space on the "
					  "source's pg_wal volume and raise source.max_retained_wal, or rerun apply when the "
					  "source writes less (the stream consumes the WAL once the copy is done)", role, slot,
					  b1, format_bytes((double) p->max_retained_wal, b2, sizeof(b2)));
			ok = false;
		}
		else
			log_debug("%s: slot %s holds %s of WAL (%s)", role, slot, b1, status);
	}
	PQclear(res);
	pgr_disconnect(c);
	free(slot);
	return ok;
}
