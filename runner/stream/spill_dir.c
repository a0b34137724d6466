/*
 * spill_dir.c — the spill store's directory: made, owned, removed, and the
 * directories of stores whose process died swept away.
 *
 * A stream killed -9 (or on a machine that lost power) cannot remove its
 * directory, and its spill files can hold gigabytes of a large transaction.
 * Before 0.9.1 those stayed in $TMPDIR for good; a test suite that kills
 * applies left a thousand behind.  Now each directory holds a lock file,
 * ".lock", on which its owner keeps an exclusive flock(2) for as long as it
 * lives: the kernel drops the lock when the process ends, however it ends.
 * spill_open sweeps first: every pgreshard-spill.* directory of this user
 * whose .lock it can lock is an orphan, and goes, with its files.
 *
 * Why a lock and not a pid in the name: a pid is reused, and is not unique
 * across the pid namespaces of containers that share /tmp; a flock is held by
 * an open file, wherever its process runs.  The lock file is made and locked
 * under another name and only then renamed to .lock, so a sweep never finds
 * a .lock that its owner has not locked yet.  A directory without a .lock
 * (made by a version before 0.9.1, maybe still running) is left alone.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "spill_dir.h"
#include "xalloc.h"

#define SPILL_PREFIX "pgreshard-spill."
#define LOCK_NAME ".lock"
#define LOCK_TMP ".lock.new"

char *
spill_dir_make(const char *parent, int *lock_fd)
{
	char	   *path = xasprintf("%s/" SPILL_PREFIX "XXXXXX", parent);
	char	   *tmp, *lock;
	int			fd;

	*lock_fd = -1;
	if (mkdtemp(path) == NULL)
	{
		log_error("cannot create a spill directory in %s: %s", parent, strerror(errno));
		free(path);
		return NULL;
	}
	tmp = xasprintf("%s/" LOCK_TMP, path);
	lock = xasprintf("%s/" LOCK_NAME, path);
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0 || rename(tmp, lock) != 0)
	{
		log_error("spill directory %s: cannot make its lock file: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		rmdir(path);
		free(tmp);
		free(lock);
		free(path);
		return NULL;
	}
	free(tmp);
	free(lock);
	*lock_fd = fd;
	return path;
}

bool
spill_dir_remove(const char *dir, int lock_fd)
{
	char	   *lock = xasprintf("%s/" LOCK_NAME, dir);
	bool		ok = true;

	if (unlink(lock) != 0 && errno != ENOENT)
		ok = false;
	else if (rmdir(dir) != 0)
		ok = false;
	if (!ok)
		log_error("spill directory %s: cannot remove: %s", dir, strerror(errno));
	if (lock_fd >= 0)
		close(lock_fd);			/* unlocks; after the unlink, so no sweep sees it free */
	free(lock);
	return ok;
}

/* Remove the regular files of directory fd dfd (an orphan's spill files and
 * its lock), then the directory; false when something stayed. */
static bool
remove_orphan(int parent_fd, const char *name, int dfd)
{
	DIR		   *d = fdopendir(dfd);
	struct dirent *e;
	bool		ok = true;

	if (d == NULL)
	{
		close(dfd);
		return false;
	}
	while ((e = readdir(d)) != NULL)
	{
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) != 0)
			ok = false;
	}
	closedir(d);
	/* ENOENT: another stream's sweep took it between our lock and this */
	return ok && (unlinkat(parent_fd, name, AT_REMOVEDIR) == 0 || errno == ENOENT);
}

/* Whether parent/name is an orphan of this user: a directory whose .lock
 * nobody holds.  *dfd: the directory, open, when it is. */
static bool
orphan(int parent_fd, const char *name, int *dfd, int *lock_fd)
{
	struct stat st;

	*dfd = *lock_fd = -1;
	if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode) ||
		st.st_uid != geteuid())
		return false;
	if ((*dfd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return false;
	if ((*lock_fd = openat(*dfd, LOCK_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) >= 0 &&
		flock(*lock_fd, LOCK_EX | LOCK_NB) == 0)
		return true;
	if (*lock_fd >= 0)
		close(*lock_fd);
	close(*dfd);
	*dfd = *lock_fd = -1;
	return false;
}

int
spill_dir_sweep(const char *parent)
{
	DIR		   *d = opendir(parent);
	struct dirent *e;
	int			removed = 0;

	if (d == NULL)
		return 0;				/* spill_dir_make reports what is wrong with it */
	while ((e = readdir(d)) != NULL)
	{
		int			dfd, lock_fd;

		if (strncmp(e->d_name, SPILL_PREFIX, strlen(SPILL_PREFIX)) != 0 ||
			!orphan(dirfd(d), e->d_name, &dfd, &lock_fd))
			continue;
		if (remove_orphan(dirfd(d), e->d_name, dfd))
			removed++;
		else
			log_warn("spill directory %s/%s, left by a pgreshard process that ended: cannot remove "
						"all of it: %s", parent, e->d_name, strerror(errno));
		close(lock_fd);
	}
	closedir(d);
	if (removed > 0)
		log_info("stream: removed %d spill director%s left in %s by pgreshard processes that ended "
				 "without removing them (killed, or the machine stopped)",
				 removed, removed == 1 ? "y" : "ies", parent);
	return removed;
}
