/*
 * readfile.h — a whole (small) file in memory.
 */
#ifndef PGR_READFILE_H
#define PGR_READFILE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Read the file at path into *text (NUL-terminated, *len bytes before the
 * NUL; free() it).  Files larger than max bytes are refused.  False with
 * the reason in err, naming the file as `what` ("cannot open the plan
 * file: No such file or directory"; the caller adds the path).
 */
bool read_whole_file(const char *path, const char *what, size_t max, char **text, size_t *len,
					 char *err, size_t errlen);

#endif
