/*
 * units.h — quantities for people: byte counts
 * ("12.3 MB") in plan, progress and lint text.
 */
#ifndef PGR_UNITS_H
#define PGR_UNITS_H

#include <stddef.h>

/* Human-readable byte count ("12.3 MB") into buf; returns buf. */
const char *format_bytes(double bytes, char *buf, size_t buflen);

#endif
