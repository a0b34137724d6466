/*
 * durable.c — the flush barrier on the shards.  See durable.h for why.
 *
 * One statement string, so one round trip: BEGIN, SET LOCAL (overrides a
 * server, database or role setting of synchronous_commit for this
 * transaction only; "local": a synchronous standby of the shard is not our
 * business), a temporary table created and dropped at commit, COMMIT.  The
 * transaction must write WAL of its own: PostgreSQL skips the flush at the
 * commit of one that wrote none, even with a transaction id (a first
 * version with pg_current_xact_id() flushed nothing: test_durable.sh).  The
 * temporary table's catalog rows are WAL-logged and leave nothing behind.
 */
#include "apply.h"
#include "durable.h"
#include "log.h"

#define FLUSH_SQL "BEGIN; SET LOCAL synchronous_commit = local; " \
	"CREATE TEMPORARY TABLE pgreshard_flush () ON COMMIT DROP; COMMIT"

bool
durable_flush(pgr_conn *c)
{
	return pgr_exec(c, "flushing the shard's WAL to disk", FLUSH_SQL, 0, NULL);
}

bool
durable_flush_shards(const plan *p)
{
	for (int s = 0; s < p->nshards; s++)
	{
		pgr_conn   *c = connect_shard(p, s);
		bool		ok = c != NULL && durable_flush(c);

		pgr_disconnect(c);
		if (!ok)
			return false;
	}
	log_debug("every shard's WAL is flushed");
	return true;
}
