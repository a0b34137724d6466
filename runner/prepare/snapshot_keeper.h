/*
 * snapshot_keeper.h — the copy's snapshot kept alive across a crash of the
 * runner, so that a rerun continues under it.
 *
 * An exported snapshot lives only as long as the transaction (or the
 * replication connection) that exported it: a kill -9 of the runner ends
 * it, and the rerun must copy under a new one — every chunk in flight is
 * copied again, and a shared scan's rounds committed under the old one are
 * void (runner/copy/copy_scan.c).  A keeper is a process of its own
 * (`pgreshard __keep-snapshot`, detached from the runner): it imports the
 * copy's snapshot into a REPEATABLE READ transaction on the source, exports
 * it again under a name of its own and stays idle in that transaction while
 * a lease in pgreshard.snapshot_keepers on shard 0 lasts.  The apply renews
 * the lease while the copy runs and ends it when the copy is done; a rerun
 * imports the kept snapshot (same consistent point: the chunks it copies
 * record the same LSN) and renews the lease in turn.  When the runner died
 * for good, the keeper ends its transaction once the lease has passed
 * (copy.keep_snapshot_s, default 600 s): what it holds on the source — the
 * xmin horizon of one idle transaction — is bounded by that.  A crash of
 * the source ends it too; the rerun then takes a new snapshot.
 */
#ifndef PGR_SNAPSHOT_KEEPER_H
#define PGR_SNAPSHOT_KEEPER_H

#include <stdbool.h>

#include "apply.h"

/* Before source i takes a snapshot: when a keeper still holds the one an
 * earlier run copied under, copy under it (ctx->sources[i].snapshot set). */
bool keeper_adopt(apply_ctx *ctx, int i);
/* Have source i's snapshot kept by a keeper (its lease written first); a
 * keeper that cannot start is a warning, not a failure. */
bool keeper_start(apply_ctx *ctx, int i);
/* Renew the leases of this plan's keepers (at most every few seconds). */
void keeper_renew(apply_ctx *ctx);
/* End this plan's keepers (the copy is done, or needs a new snapshot). */
bool keeper_release(apply_ctx *ctx);
/* `pgreshard __keep-snapshot`: the keeper process (its parameters on stdin). */
int cmd_keep_snapshot(int argc, char **argv);

#endif
