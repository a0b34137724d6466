/*
 * readfile.c — see readfile.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "readfile.h"
#include "xalloc.h"

bool
read_whole_file(const char *path, const char *what, size_t max, char **text, size_t *len,
				char *err, size_t errlen)
{
	FILE	   *f = fopen(path, "rb");
	size_t		cap = 8192, used = 0, got;
	char	   *buf;

	if (f == NULL)
	{
		snprintf(err, errlen, "cannot open %s: %s", what, strerror(errno));
		return false;
	}
	buf = xmalloc(cap + 1);
	while ((got = fread(buf + used, 1, cap - used, f)) > 0 && used + got <= max)
	{
		used += got;
		if (used == cap)
			buf = xrealloc(buf, (cap *= 2) + 1);
	}
	if (ferror(f) || used + got > max)
	{
		snprintf(err, errlen, "cannot read %s: %s", what,
				 ferror(f) ? strerror(errno) : "the file is too large");
		fclose(f);
		free(buf);
		return false;
	}
	fclose(f);
	buf[used] = '\0';
	*text = buf;
	*len = used;
	return true;
}
