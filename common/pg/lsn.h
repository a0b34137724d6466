/*
 * lsn.h — WAL positions (LSNs) as PostgreSQL writes them: "16/B374D848".
 *
 * The state tables, the replication protocol and pg_current_wal_*_lsn() all
 * speak this text form; everything inside pgreshard holds a uint64_t.
 */
#ifndef PGR_LSN_H
#define PGR_LSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parse "16/B374D848" into a 64-bit LSN; false when malformed. */
bool lsn_parse(const char *s, uint64_t *lsn);
/* Format an LSN as PostgreSQL does into buf (>= 20 bytes). */
const char *lsn_format(uint64_t lsn, char *buf, size_t buflen);

#endif
