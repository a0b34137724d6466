/*
 * clock.c — see clock.h.
 */
#include <errno.h>
#include <time.h>

#include "clock.h"

double
mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

void
mono_sleep(double seconds)
{
	struct timespec ts = {(time_t) seconds, (long) ((seconds - (double) (time_t) seconds) * 1e9)};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}
