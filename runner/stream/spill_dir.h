/*
 * spill_dir.h — the directory of a spill store (spill.h): made with a lock
 * its owner holds while it lives, removed, and orphans (their process
 * killed) swept.  See spill_dir.c.
 */
#ifndef PGR_SPILL_DIR_H
#define PGR_SPILL_DIR_H

#include <stdbool.h>

/* Make parent/pgreshard-spill.XXXXXX (mode 0700) holding its locked .lock;
 * *lock_fd keeps the lock.  NULL (logged) on failure. */
char	   *spill_dir_make(const char *parent, int *lock_fd);

/* Remove an empty store directory and its lock; false (logged) on failure.
 * Closes lock_fd either way. */
bool		spill_dir_remove(const char *dir, int lock_fd);

/* Remove every pgreshard-spill.* directory of this user in parent whose
 * lock nobody holds, with its files; returns how many (and logs them). */
int			spill_dir_sweep(const char *parent);

#endif
