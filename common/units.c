/*
 * units.c — quantities for people (see units.h).
 */
#include <stdio.h>

#include "units.h"

const char *
format_bytes(double bytes, char *buf, size_t buflen)
{
	const char *units[] = {"B", "kB", "MB", "GB", "TB"};
	int			u = 0;

	while (bytes >= 1024 && u < 4)
	{
		bytes /= 1024;
		u++;
	}
	snprintf(buf, buflen, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
	return buf;
}
