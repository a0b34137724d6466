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
 * an open file description, whichever namespace its process is in.  The lock
 * file is made and locked under another name and only then renamed to
 * .lock, so a sweep never finds a .lock that its owner has not locked yet;
 * a directory is removed .lock last, so one a sweep could not empty is
 * tried again by the next.  A directory without a .lock (made by a version
 * before 0.9.1, maybe still running) is left alone.
 *
 * That holds on a local file system.  On NFS, CIFS and the like flock is a
 * POSIX lock, owned by the whole process (the stream's reader threads would
 * take each other's) and not seen from other machines: no sweep runs there
 * ($TMPDIR should be local anyway), and the lock file names its process, so
 * no sweep ever takes a directory of its own process.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
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
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0 || dprintf(fd, "%ld\n", (long) getpid()) < 0 ||
		rename(tmp, lock) != 0)
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

/* Remove the files of directory dfd (an orphan's spill files), its lock
 * last, then the directory.  0 when it is gone, else the errno of what
 * failed; ENOENT when another sweep removed it first. */
static int
remove_orphan(int parent_fd, const char *name, int dfd)
{
	DIR		   *d = fdopendir(dfd);
	struct dirent *e;
	int			err = 0;

	if (d == NULL)
	{
		err = errno;
		close(dfd);
		return err;
	}
	while ((e = readdir(d)) != NULL)
	{
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || strcmp(e->d_name, LOCK_NAME) == 0)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) != 0 && err == 0)
			err = errno;
	}
	if (err == 0 && unlinkat(dirfd(d), LOCK_NAME, 0) != 0 && errno != ENOENT)
		err = errno;
	closedir(d);
	if (err == 0 && unlinkat(parent_fd, name, AT_REMOVEDIR) != 0)
		err = errno;
	return err;
}

/* The pid a lock file names (0 when it names none). */
static long
lock_pid(int lock_fd)
{
	char		buf[32];
	ssize_t		n = pread(lock_fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/* Whether parent/name is an orphan of this user: a private directory of
 * its own whose .lock (a regular file) nobody holds and that no thread of
 * this process made.  *dfd, *lock_fd: the directory and its lock, open
 * (and locked) when it is. */
static bool
orphan(int parent_fd, const char *name, int *dfd, int *lock_fd)
{
	struct stat st;

	*dfd = *lock_fd = -1;
	if ((*dfd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return false;
	if (fstat(*dfd, &st) == 0 && st.st_uid == geteuid() && (st.st_mode & 077) == 0 &&
		(*lock_fd = openat(*dfd, LOCK_NAME, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) >= 0 &&
		fstat(*lock_fd, &st) == 0 && S_ISREG(st.st_mode) && flock(*lock_fd, LOCK_EX | LOCK_NB) == 0 &&
		lock_pid(*lock_fd) != (long) getpid())
		return true;
	if (*lock_fd >= 0)
		close(*lock_fd);
	close(*dfd);
	*dfd = *lock_fd = -1;
	return false;
}

/* Whether fd is on a file system where flock(2) is the local kernel's own
 * lock, per open file (not NFS, CIFS/SMB, FUSE, 9P, Ceph, ...). */
static bool
local_fs(int fd, struct statfs *fs)
{
	static const unsigned long remote[] = {
		0x6969,					/* NFS */
		0x517B,					/* SMB */
		0xFF534D42,				/* CIFS */
		0xFE534D42,				/* SMB2 */
		0x65735546,				/* FUSE */
		0x01021997,				/* 9P */
		0x00C36400,				/* Ceph */
		0x6B414653,				/* AFS */
		0x47504653,				/* GPFS */
		0x0BD00BD0,				/* Lustre */
	};

	memset(fs, 0, sizeof(*fs));
	if (fstatfs(fd, fs) != 0)
		return false;
	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++)
		if ((unsigned long) fs->f_type == remote[i])
			return false;
	return true;
}

int
spill_dir_sweep(const char *parent)
{
	DIR		   *d = opendir(parent);
	struct dirent *e;
	struct statfs fs;
	int			removed = 0;

	if (d == NULL)
		return 0;				/* spill_dir_make reports what is wrong with it */
	if (!local_fs(dirfd(d), &fs))
	{
		log_debug("stream: %s is not on a local file system (type 0x%lx): spill directories left by "
				  "killed processes are not removed there", parent, (unsigned long) fs.f_type);
		closedir(d);
		return 0;
	}
	while ((e = readdir(d)) != NULL)
	{
		int			dfd, lock_fd, err;

		if (strncmp(e->d_name, SPILL_PREFIX, strlen(SPILL_PREFIX)) != 0 ||
			!orphan(dirfd(d), e->d_name, &dfd, &lock_fd))
			continue;
		if ((err = remove_orphan(dirfd(d), e->d_name, dfd)) == 0)
			removed++;
		else if (err != ENOENT)
			log_warn("spill directory %s/%s, left by a pgreshard process that ended: cannot remove "
					 "all of it: %s", parent, e->d_name, strerror(err));
		close(lock_fd);
	}
	closedir(d);
	if (removed > 0)
		log_info("stream: removed %d spill director%s left in %s by pgreshard processes that ended "
				 "without removing them (killed, or the machine stopped)",
				 removed, removed == 1 ? "y" : "ies", parent);
	return removed;
}
