/*
 * reverse_cmds.h — after the cutover: `pgreshard rollback` and
 * `pgreshard finish` (reverse_cmds.c), and the ledger's reverse objects
 * dropped by both and by the finish step (cleanup.c).
 */
#ifndef PGR_REVERSE_CMDS_H
#define PGR_REVERSE_CMDS_H

#include <stdbool.h>

#include "apply.h"

/* Drop the reverse slots and publications on the shards and the reverse
 * stream's tables on the sources (ledgered, idempotent). */
bool cleanup_reverse(apply_ctx *ctx);

#endif
