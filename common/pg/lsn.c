/*
 * lsn.c — parse and format WAL positions (see lsn.h).
 */
#include <stdio.h>

#include "lsn.h"

bool
lsn_parse(const char *s, uint64_t *lsn)
{
	unsigned int hi, lo;
	char		extra;

	if (s == NULL || sscanf(s, "%X/%X%c", &hi, &lo, &extra) != 2)
		return false;
	*lsn = ((uint64_t) hi << 32) | lo;
	return true;
}

const char *
lsn_format(uint64_t lsn, char *buf, size_t buflen)
{
	snprintf(buf, buflen, "%X/%X", (unsigned int) (lsn >> 32), (unsigned int) lsn);
	return buf;
}
