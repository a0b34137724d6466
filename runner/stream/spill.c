/*
 * spill.c — spill files for streamed transactions.  See spill.h.
 *
 * Layout: one file per top-level transaction, named after its xid, in the
 * store's private directory.  A record is a 4-byte length in host byte order
 * (the file never leaves this process) followed by the message bytes.
 *
 * Each transaction is a `spill_xact` in a small array, found by linear search
 * with a one-entry cache: changes arrive in runs of one transaction, and
 * few large transactions are in flight at once.  Its `size` counts every
 * byte written, buffered or not, so it is the offset of the next record.
 * Its subtransactions are a list of (subxid, offset of first change), in the
 * order first seen; lookups scan from the end, where the current ones are.
 *
 * Open files are bounded: each xact holds a FILE* in append mode or NULL,
 * with a use stamp; opening one more than SPILL_MAX_OPEN closes the least
 * recently used (a linear scan, only when the limit is hit).  Truncation
 * flushes the FILE first and cuts the file under it; append mode makes the
 * next write land at the new end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "spill.h"
#include "spill_dir.h"
#include "xalloc.h"

typedef struct spill_sub {
	uint32_t	subxid;
	uint64_t	offset;			/* where its first change starts */
} spill_sub;

typedef struct spill_xact {
	uint32_t	xid;
	FILE	   *fp;				/* open for append, or NULL */
	uint64_t	size;			/* bytes written, buffered ones included */
	uint64_t	last_use;		/* LRU stamp */
	spill_sub  *subs;
	int			nsubs;
	int			subs_cap;
} spill_xact;

struct spill_store {
	char	   *dir;
	int			lock_fd;		/* holds the directory's lock (spill_dir.c) */
	spill_xact *xacts;
	int			nxacts;
	int			xacts_cap;
	int			cached;			/* index of the last xact used, or -1 */
	int			nopen;			/* files open */
	uint64_t	clock;			/* LRU clock */
	char	   *buf;			/* replay buffer */
	size_t		bufcap;
};

/* ---- the store -------------------------------------------------------- */

spill_store *
spill_open(const char *parent_dir)
{
	spill_store *s;
	char	   *path;
	int			lock_fd;

	if (parent_dir == NULL)
	{
		parent_dir = getenv("TMPDIR");
		if (parent_dir == NULL || parent_dir[0] == '\0')
			parent_dir = "/tmp";
	}
	spill_dir_sweep(parent_dir);
	if ((path = spill_dir_make(parent_dir, &lock_fd)) == NULL)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->dir = path;
	s->lock_fd = lock_fd;
	s->cached = -1;
	s->bufcap = SPILL_INITIAL_BUFFER;
	s->buf = xmalloc(s->bufcap);
	return s;
}

const char *
spill_dir(const spill_store *s)
{
	return s->dir;
}

static void
xact_path(const spill_store *s, uint32_t xid, char *buf, size_t buflen)
{
	snprintf(buf, buflen, "%s/xact-%u.spill", s->dir, xid);
}

/* Log an I/O error on xid's file with errno's text; returns false. */
static bool
io_fail(const spill_store *s, uint32_t xid, const char *what)
{
	int			saved = errno;
	char		path[4096];

	xact_path(s, xid, path, sizeof(path));
	log_error("spill file %s: %s: %s", path, what, strerror(saved));
	return false;
}

static int
find_xact(spill_store *s, uint32_t xid)
{
	if (s->cached >= 0 && s->xacts[s->cached].xid == xid)
		return s->cached;
	for (int i = 0; i < s->nxacts; i++)
		if (s->xacts[i].xid == xid)
			return s->cached = i;
	return -1;
}

static int
add_xact(spill_store *s, uint32_t xid)
{
	if (s->nxacts == s->xacts_cap)
	{
		s->xacts_cap = s->xacts_cap ? s->xacts_cap * 2 : 16;
		s->xacts = xrealloc(s->xacts, (size_t) s->xacts_cap * sizeof(spill_xact));
	}
	memset(&s->xacts[s->nxacts], 0, sizeof(spill_xact));
	s->xacts[s->nxacts].xid = xid;
	return s->cached = s->nxacts++;
}

uint64_t
spill_bytes(const spill_store *s, uint32_t xid)
{
	for (int i = 0; i < s->nxacts; i++)
		if (s->xacts[i].xid == xid)
			return s->xacts[i].size;
	return 0;
}

int
spill_count(const spill_store *s)
{
	return s->nxacts;
}

/* ---- files ------------------------------------------------------------ */

/* Flush and close x's file; false (logged) when a buffered write failed. */
static bool
close_file(spill_store *s, spill_xact *x)
{
	bool		ok = true;

	if (x->fp == NULL)
		return true;
	if (fclose(x->fp) != 0)
		ok = io_fail(s, x->xid, "cannot write");
	x->fp = NULL;
	s->nopen--;
	return ok;
}

static bool
close_lru(spill_store *s)
{
	spill_xact *lru = NULL;

	for (int i = 0; i < s->nxacts; i++)
	{
		spill_xact *x = &s->xacts[i];

		if (x->fp && (lru == NULL || x->last_use < lru->last_use))
			lru = x;
	}
	return lru == NULL || close_file(s, lru);
}

static bool
ensure_open(spill_store *s, spill_xact *x)
{
	char		path[4096];
	int			fd;

	x->last_use = ++s->clock;
	if (x->fp)
		return true;
	if (s->nopen >= SPILL_MAX_OPEN && !close_lru(s))
		return false;
	xact_path(s, x->xid, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || (x->fp = fdopen(fd, "a")) == NULL)
	{
		io_fail(s, x->xid, "cannot open");
		if (fd >= 0)
			close(fd);
		return false;
	}
	s->nopen++;
	return true;
}

/* Close, delete and forget the transaction at index i. */
static bool
drop_xact(spill_store *s, int i)
{
	spill_xact *x = &s->xacts[i];
	char		path[4096];
	bool		ok = true;

	if (x->fp)
	{
		fclose(x->fp);			/* discarded: a failed flush does not matter */
		s->nopen--;
	}
	xact_path(s, x->xid, path, sizeof(path));
	if (unlink(path) != 0 && errno != ENOENT)
		ok = io_fail(s, x->xid, "cannot remove");
	free(x->subs);
	s->xacts[i] = s->xacts[--s->nxacts];
	s->cached = -1;
	return ok;
}

/* ---- append and abort ------------------------------------------------ */

static int
find_sub(const spill_xact *x, uint32_t subxid)
{
	for (int i = x->nsubs - 1; i >= 0; i--)
		if (x->subs[i].subxid == subxid)
			return i;
	return -1;
}

static void
note_sub(spill_xact *x, uint32_t subxid)
{
	if (subxid == x->xid || find_sub(x, subxid) >= 0)
		return;
	if (x->nsubs == x->subs_cap)
	{
		x->subs_cap = x->subs_cap ? x->subs_cap * 2 : 8;
		x->subs = xrealloc(x->subs, (size_t) x->subs_cap * sizeof(spill_sub));
	}
	x->subs[x->nsubs].subxid = subxid;
	x->subs[x->nsubs].offset = x->size;
	x->nsubs++;
}

bool
spill_append(spill_store *s, uint32_t xid, uint32_t subxid, const char *msg, size_t len)
{
	int			i = find_xact(s, xid);
	spill_xact *x;
	uint32_t	len32 = (uint32_t) len;

	if (len > UINT32_MAX)
	{
		errno = EFBIG;
		return io_fail(s, xid, "change too large to spill");
	}
	if (i < 0)
		i = add_xact(s, xid);
	x = &s->xacts[i];
	if (x->nsubs == 0 || x->subs[x->nsubs - 1].subxid != subxid)
		note_sub(x, subxid);
	if (!ensure_open(s, x))
		return false;
	if (fwrite(&len32, sizeof(len32), 1, x->fp) != 1 ||
		(len > 0 && fwrite(msg, len, 1, x->fp) != 1))
		return io_fail(s, xid, "cannot write");
	x->size += sizeof(len32) + len;
	return true;
}

/* Cut x's file to offset, flushing its buffer first. */
static bool
truncate_xact(spill_store *s, spill_xact *x, uint64_t offset)
{
	char		path[4096];
	int			rc;

	xact_path(s, x->xid, path, sizeof(path));
	if (x->fp && fflush(x->fp) != 0)
		return io_fail(s, x->xid, "cannot write");
	rc = x->fp ? ftruncate(fileno(x->fp), (off_t) offset) : truncate(path, (off_t) offset);
	if (rc != 0)
		return io_fail(s, x->xid, "cannot truncate");
	x->size = offset;
	return true;
}

bool
spill_abort(spill_store *s, uint32_t xid, uint32_t subxid)
{
	int			i = find_xact(s, xid);
	spill_xact *x;
	int			k;

	if (i < 0)
		return true;
	if (subxid == xid)
		return drop_xact(s, i);
	x = &s->xacts[i];
	k = find_sub(x, subxid);
	if (k < 0)
		return true;			/* it wrote nothing */
	if (!truncate_xact(s, x, x->subs[k].offset))
		return false;
	x->nsubs = k;
	return true;
}

/* ---- replay ------------------------------------------------------------ */

/*
 * Read one record into s->buf; *eof at a clean end of file.  `left` is what
 * the file should still hold: a length beyond it is corruption, and must
 * not make us allocate.
 */
static bool
read_record(spill_store *s, FILE *fp, const char *path, uint64_t left,
			size_t *len, bool *eof)
{
	uint32_t	len32;
	size_t		got = fread(&len32, 1, sizeof(len32), fp);

	*eof = false;
	if (got == 0 && feof(fp))
	{
		*eof = true;
		return true;
	}
	if (got == sizeof(len32) && (left < sizeof(len32) || len32 > left - sizeof(len32)))
	{
		log_error("spill file %s: corrupt record length %u (%llu bytes should remain)",
				  path, len32, (unsigned long long) left);
		return false;
	}
	if (got == sizeof(len32) && len32 > s->bufcap)
	{
		while (s->bufcap < len32)
			s->bufcap *= 2;
		free(s->buf);
		s->buf = xmalloc(s->bufcap);
	}
	if (got == sizeof(len32) && fread(s->buf, 1, len32, fp) == len32)
	{
		*len = len32;
		return true;
	}
	if (ferror(fp))
		log_error("spill file %s: cannot read: %s", path, strerror(errno));
	else
		log_error("spill file %s: truncated record", path);
	return false;
}

static bool
replay_file(spill_store *s, spill_xact *x, spill_replay_fn fn, void *arg)
{
	char		path[4096];
	FILE	   *fp;
	uint64_t	done = 0;
	size_t		len;
	bool		eof = false;
	bool		ok = true;

	xact_path(s, x->xid, path, sizeof(path));
	if ((fp = fopen(path, "rbe")) == NULL)
		return io_fail(s, x->xid, "cannot open");
	while (ok && (ok = read_record(s, fp, path, x->size - done, &len, &eof)) && !eof)
	{
		done += sizeof(uint32_t) + len;
		ok = fn(arg, s->buf, len);
	}
	if (ok && done != x->size)
	{
		log_error("spill file %s: %llu bytes read, %llu written", path,
				  (unsigned long long) done, (unsigned long long) x->size);
		ok = false;
	}
	fclose(fp);
	return ok;
}

bool
spill_replay(spill_store *s, uint32_t xid, spill_replay_fn fn, void *arg)
{
	int			i = find_xact(s, xid);
	bool		ok;

	if (i < 0)
		return true;
	ok = close_file(s, &s->xacts[i]) && replay_file(s, &s->xacts[i], fn, arg);
	return drop_xact(s, i) && ok;
}

/* ---- cleanup ------------------------------------------------------------ */

void
spill_close(spill_store *s)
{
	if (s == NULL)
		return;
	while (s->nxacts > 0)
		drop_xact(s, s->nxacts - 1);
	spill_dir_remove(s->dir, s->lock_fd);
	free(s->xacts);
	free(s->buf);
	free(s->dir);
	free(s);
}
