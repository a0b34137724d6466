/*
 * clock.h — the one monotonic clock for durations, deadlines and timers.
 */
#ifndef PGR_CLOCK_H
#define PGR_CLOCK_H

/* Seconds on CLOCK_MONOTONIC (only differences mean anything). */
double mono_seconds(void);
/* Sleep this many seconds (fractions allowed; an interrupted sleep is resumed). */
void mono_sleep(double seconds);

#endif
