/*
 * clock.c — see clock.h.
 */
#include <time.h>

#include "clock.h"

double
mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}
