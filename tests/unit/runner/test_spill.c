/*
 * test_spill.c — spill files for streamed transactions: order, subtransaction
 * and whole aborts, more transactions than open files, records larger than
 * the replay buffer, a callback that stops, damaged files, I/O errors naming
 * the file, and a store that leaves nothing behind.
 *
 * Records carry their own identity (xid, sequence number, length) so that a
 * replay can check each one it gets and that none is missing.  The last test
 * feeds a real streamed transaction, captured from PostgreSQL 15
 * (tests/data/pgoutput-v2-stream.bin), through a store.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "pgoutput.h"
#include "spill.h"
#include "spill_dir.h"

/* ---- records that say who they are ------------------------------------- */

/* Record `seq` of xid: "xid:seq:" then filler up to len bytes (len >= 24). */
static size_t
make_record(char *buf, uint32_t xid, int seq, size_t len)
{
	int			n = snprintf(buf, len, "%u:%d:", xid, seq);

	for (size_t i = (size_t) n; i < len; i++)
		buf[i] = (char) ('a' + (i * 7 + (size_t) seq) % 26);
	return len;
}

static size_t
record_len(int seq)
{
	return 24 + (size_t) (seq * 37) % 300;
}

static void
append(spill_store *s, uint32_t xid, uint32_t subxid, int seq)
{
	char		buf[400];
	size_t		len = make_record(buf, xid, seq, record_len(seq));

	assert_true(spill_append(s, xid, subxid, buf, len));
}

/* What a replay collects: the sequence numbers, checked against their bytes. */
typedef struct seen {
	uint32_t	xid;
	int			seqs[4096];
	int			n;
	int			stop_after;		/* return false after this many (0: never) */
	size_t		largest;
} seen;

static bool
collect(void *arg, const char *msg, size_t len)
{
	seen	   *sn = arg;
	char		expect[400];
	unsigned	xid;
	int			seq;

	if (len == 0)
	{
		sn->seqs[sn->n++] = -2;
		return true;
	}
	if (len > sizeof(expect))
	{
		sn->largest = len;		/* a large record: its bytes are checked by the test */
		sn->seqs[sn->n++] = -1;
		return true;
	}
	assert_int_equal(sscanf(msg, "%u:%d:", &xid, &seq), 2);
	assert_int_equal(xid, sn->xid);
	assert_int_equal(len, record_len(seq));
	make_record(expect, xid, seq, len);
	assert_memory_equal(msg, expect, len);
	assert_true(sn->n < 4096);
	sn->seqs[sn->n++] = seq;
	return sn->stop_after == 0 || sn->n < sn->stop_after;
}

static void
replay_expect(spill_store *s, uint32_t xid, const int *seqs, int n)
{
	seen	   *sn = calloc(1, sizeof(seen));

	sn->xid = xid;
	assert_true(spill_replay(s, xid, collect, sn));
	assert_int_equal(sn->n, n);
	for (int i = 0; i < n; i++)
		if (sn->seqs[i] != seqs[i])
			fail_msg("xid %u: record %d is seq %d, expected %d", xid, i, sn->seqs[i], seqs[i]);
	free(sn);
}

/* Files in the store's directory (-1 when the directory is gone). */
static int
count_files(const char *dir)
{
	DIR		   *d = opendir(dir);
	struct dirent *e;
	int			n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static int
count_open_fds(void)
{
	return count_files("/proc/self/fd");
}

static spill_store *
open_store(void)
{
	spill_store *s = spill_open(NULL);

	assert_non_null(s);
	return s;
}

static void
expect_last_error(const char *want)
{
	char		err[4096];

	log_last_error(err, sizeof(err));
	if (strstr(err, want) == NULL)
		fail_msg("expected \"%s\" in the last error \"%s\"", want, err);
}

/* ---- tests --------------------------------------------------------------- */

static void
test_append_replay_order(void **state)
{
	spill_store *s = open_store();
	static int	seqs[1000];
	seen		sn = {.xid = 100};

	(void) state;
	for (int i = 0; i < 1000; i++)
	{
		append(s, 100, 100, i);
		seqs[i] = i;
	}
	assert_int_equal(spill_count(s), 1);
	assert_true(spill_bytes(s, 100) > 1000 * 24);
	assert_int_equal(count_files(spill_dir(s)), 1);
	replay_expect(s, 100, seqs, 1000);
	assert_int_equal(spill_count(s), 0);
	assert_int_equal(spill_bytes(s, 100), 0);
	assert_int_equal(count_files(spill_dir(s)), 0);
	/* replayed means gone: a second replay is an empty success */
	assert_true(spill_replay(s, 100, collect, &sn));
	assert_int_equal(sn.n, 0);
	spill_close(s);
}

static void
test_replay_unknown_xid(void **state)
{
	spill_store *s = open_store();
	seen		sn = {.xid = 5};

	(void) state;
	assert_true(spill_replay(s, 5, collect, &sn));
	assert_int_equal(sn.n, 0);
	assert_true(spill_abort(s, 5, 5));
	assert_true(spill_abort(s, 5, 6));
	assert_int_equal(count_files(spill_dir(s)), 0);
	spill_close(s);
}

/*
 * Top-level 10 with nested subtransactions:
 *   0 (10)  1,2 (11, released)  3 (10)  4 (12)  5 (13 inside 12)  -- abort 12
 *   6 (14)  7 (10)  -- abort 12 again (a no-op), abort 14
 *   8 (15)  -- abort 99 (wrote nothing), abort 13 (already forgotten)
 */
static void
test_subxact_abort(void **state)
{
	spill_store *s = open_store();
	static const int expected[] = {0, 1, 2, 3, 8};
	uint64_t	before_12;

	(void) state;
	append(s, 10, 10, 0);
	append(s, 10, 11, 1);
	append(s, 10, 11, 2);
	append(s, 10, 10, 3);
	before_12 = spill_bytes(s, 10);
	append(s, 10, 12, 4);
	append(s, 10, 13, 5);
	assert_true(spill_abort(s, 10, 12));
	assert_true(spill_bytes(s, 10) == before_12);
	append(s, 10, 14, 6);
	append(s, 10, 10, 7);
	assert_true(spill_abort(s, 10, 12));	/* forgotten with its abort: nothing to do */
	assert_true(spill_bytes(s, 10) > before_12);
	assert_true(spill_abort(s, 10, 14));
	assert_true(spill_bytes(s, 10) == before_12);
	append(s, 10, 15, 8);
	assert_true(spill_abort(s, 10, 99));
	assert_true(spill_abort(s, 10, 13));
	assert_true(spill_abort(s, 11, 12));	/* another transaction: untouched */
	replay_expect(s, 10, expected, 5);
	spill_close(s);
}

/* A subtransaction whose first change was the transaction's first record. */
static void
test_subxact_abort_to_empty(void **state)
{
	spill_store *s = open_store();
	static const int expected[] = {3};

	(void) state;
	append(s, 30, 31, 1);
	append(s, 30, 31, 2);
	assert_true(spill_abort(s, 30, 31));
	assert_true(spill_bytes(s, 30) == 0);
	append(s, 30, 30, 3);
	replay_expect(s, 30, expected, 1);
	spill_close(s);
}

static void
test_whole_abort(void **state)
{
	spill_store *s = open_store();
	static const int expected[] = {0, 1};
	seen		sn = {.xid = 20};

	(void) state;
	for (int i = 0; i < 50; i++)
		append(s, 20, i % 2 ? 20 : 21, i);
	append(s, 22, 22, 0);
	append(s, 22, 23, 1);
	assert_int_equal(count_files(spill_dir(s)), 2);
	assert_true(spill_abort(s, 20, 20));
	assert_int_equal(count_files(spill_dir(s)), 1);
	assert_int_equal(spill_count(s), 1);
	assert_true(spill_replay(s, 20, collect, &sn));
	assert_int_equal(sn.n, 0);
	replay_expect(s, 22, expected, 2);
	spill_close(s);
}

/* More transactions than open files: LRU closing and reopening in append mode. */
static void
test_many_xids(void **state)
{
	enum { NX = 3 * SPILL_MAX_OPEN + 7, PER = 20 };
	spill_store *s = open_store();
	int			fds_before = count_open_fds();
	int			expected[PER];

	(void) state;
	for (int k = 0; k < PER; k++)
		for (uint32_t x = 1000; x < 1000 + NX; x++)
		{
			/* in xids divisible by 5, records 10..14 belong to a subxact */
			append(s, x, (x % 5 == 0 && k >= 10 && k < 15) ? x + 100000 : x, k);
			assert_true(count_open_fds() - fds_before <= SPILL_MAX_OPEN);
		}
	assert_int_equal(spill_count(s), NX);
	assert_int_equal(count_files(spill_dir(s)), NX);
	/* aborts on files closed by the LRU: truncation by path */
	for (uint32_t x = 1000; x < 1000 + NX; x += 5)
		assert_true(spill_abort(s, x, x + 100000));
	for (uint32_t x = 1000; x < 1000 + NX; x++)
	{
		int			n = 0;

		for (int k = 0; k < PER; k++)
			if (x % 5 != 0 || k < 10)
				expected[n++] = k;
		replay_expect(s, x, expected, n);
	}
	assert_int_equal(count_files(spill_dir(s)), 0);
	assert_true(count_open_fds() <= fds_before);
	spill_close(s);
}

static void
test_large_record(void **state)
{
	enum { BIG = 3 * 1024 * 1024 + 17 };
	spill_store *s = open_store();
	char	   *big = malloc(BIG);
	seen	   *sn = calloc(1, sizeof(seen));

	(void) state;
	for (size_t i = 0; i < BIG; i++)
		big[i] = (char) (i * 31 + 7);
	append(s, 40, 40, 1);
	assert_true(spill_append(s, 40, 40, big, BIG));
	assert_true(spill_append(s, 40, 40, "", 0));	/* empty records are kept too */
	append(s, 40, 40, 2);
	sn->xid = 40;
	assert_true(BIG > SPILL_INITIAL_BUFFER);
	assert_true(spill_replay(s, 40, collect, sn));
	assert_int_equal(sn->n, 4);
	assert_int_equal(sn->seqs[0], 1);
	assert_int_equal(sn->seqs[1], -1);
	assert_int_equal(sn->largest, BIG);
	assert_int_equal(sn->seqs[2], -2);
	assert_int_equal(sn->seqs[3], 2);
	free(sn);
	free(big);
	spill_close(s);
}

/* The large record's bytes arrive intact (checked apart from `collect`). */
static bool
check_big(void *arg, const char *msg, size_t len)
{
	size_t	   *calls = arg;

	for (size_t i = 0; i < len; i++)
		if (msg[i] != (char) (i * 13))
			return false;
	(*calls)++;
	return true;
}

static void
test_large_record_bytes(void **state)
{
	enum { BIG = 200000 };
	spill_store *s = open_store();
	char	   *big = malloc(BIG);
	size_t		calls = 0;

	(void) state;
	for (size_t i = 0; i < BIG; i++)
		big[i] = (char) (i * 13);
	for (int i = 0; i < 3; i++)
		assert_true(spill_append(s, 41, 41, big, BIG - (size_t) i * 1000));
	assert_true(spill_replay(s, 41, check_big, &calls));
	assert_int_equal(calls, 3);
	free(big);
	spill_close(s);
}

static void
test_callback_stops(void **state)
{
	spill_store *s = open_store();
	seen		sn = {.xid = 50, .stop_after = 3};

	(void) state;
	for (int i = 0; i < 10; i++)
		append(s, 50, 50, i);
	assert_false(spill_replay(s, 50, collect, &sn));
	assert_int_equal(sn.n, 3);
	/* consumed whatever the outcome */
	assert_int_equal(count_files(spill_dir(s)), 0);
	assert_int_equal(spill_count(s), 0);
	spill_close(s);
}

/* The path of the only file in the store's directory. */
static void
only_file(spill_store *s, char *path, size_t pathlen)
{
	DIR		   *d = opendir(spill_dir(s));
	struct dirent *e;

	assert_non_null(d);
	path[0] = '\0';
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			snprintf(path, pathlen, "%s/%s", spill_dir(s), e->d_name);
	closedir(d);
	assert_true(path[0] != '\0');
}

/* Two records on disk (a subxact abort flushes), then the file is damaged. */
static void
damaged_store(spill_store **s, char *path, size_t pathlen)
{
	*s = open_store();
	append(*s, 60, 60, 0);
	append(*s, 60, 60, 1);
	append(*s, 60, 61, 2);
	assert_true(spill_abort(*s, 60, 61));
	only_file(*s, path, pathlen);
}

static void
test_damaged_files(void **state)
{
	spill_store *s;
	char		path[4096];
	seen		sn = {.xid = 60};
	FILE	   *f;

	(void) state;
	log_set_level(LOG_QUIET);
	damaged_store(&s, path, sizeof(path));
	/* the second record's header is whole, its bytes are not */
	assert_int_equal(truncate(path, (off_t) (4 + record_len(0) + 4 + 10)), 0);
	assert_false(spill_replay(s, 60, collect, &sn));
	assert_int_equal(sn.n, 1);
	expect_last_error(path);
	expect_last_error("truncated record");
	assert_int_equal(count_files(spill_dir(s)), 0);
	spill_close(s);

	damaged_store(&s, path, sizeof(path));
	assert_int_equal(truncate(path, (off_t) (4 + record_len(0) + 2)), 0);	/* half a header */
	sn.n = 0;
	assert_false(spill_replay(s, 60, collect, &sn));
	expect_last_error("truncated record");
	spill_close(s);

	/* cut at a record boundary: a clean end of file, but records are missing */
	damaged_store(&s, path, sizeof(path));
	assert_int_equal(truncate(path, (off_t) (4 + record_len(0))), 0);
	sn.n = 0;
	assert_false(spill_replay(s, 60, collect, &sn));
	expect_last_error("bytes read, ");
	spill_close(s);

	damaged_store(&s, path, sizeof(path));
	f = fopen(path, "ab");
	assert_non_null(f);
	fputs("junk after the records", f);
	fclose(f);
	sn.n = 0;
	assert_false(spill_replay(s, 60, collect, &sn));
	assert_int_equal(sn.n, 2);
	expect_last_error("corrupt record length");
	spill_close(s);
	log_set_level(LOG_INFO);
}

/* I/O errors are logged with the file's name and errno's text. */
static void
test_io_errors(void **state)
{
	spill_store *s = open_store();
	char		dir[4096];

	(void) state;
	log_set_level(LOG_QUIET);
	assert_null(spill_open("/nonexistent-pgreshard-dir"));
	expect_last_error("cannot create a spill directory in /nonexistent-pgreshard-dir: "
					  "No such file or directory");

	snprintf(dir, sizeof(dir), "%s", spill_dir(s));
	{
		char		lock[4200];

		snprintf(lock, sizeof(lock), "%s/.lock", dir);
		assert_int_equal(unlink(lock), 0);
	}
	assert_int_equal(rmdir(dir), 0);
	assert_false(spill_append(s, 70, 70, "x", 1));
	expect_last_error(dir);
	expect_last_error("/xact-70.spill: cannot open: No such file or directory");
	spill_close(s);				/* logs that the directory is gone, frees all */
	log_set_level(LOG_INFO);
}

static void
test_cleanup(void **state)
{
	char		parent[] = "/tmp/pgreshard-test-spill.XXXXXX";
	char		dir[4096];
	struct stat st;
	spill_store *s;

	(void) state;
	assert_non_null(mkdtemp(parent));
	s = spill_open(parent);
	assert_non_null(s);
	snprintf(dir, sizeof(dir), "%s", spill_dir(s));
	assert_int_equal(strncmp(dir, parent, strlen(parent)), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	for (uint32_t x = 1; x <= SPILL_MAX_OPEN + 10; x++)	/* some open, some closed */
		append(s, x, x, (int) x);
	append(s, 1, 2, 0);
	assert_int_equal(count_files(dir), SPILL_MAX_OPEN + 10);
	spill_close(s);
	assert_int_equal(stat(dir, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(count_files(parent), 0);
	assert_int_equal(rmdir(parent), 0);
	spill_close(NULL);
}

/*
 * Fork a process that opens a store in parent, writes its directory's path
 * to *path, and then either kills itself -9 (hold false: its directory is
 * left behind) or waits until *release is closed, then closes the store.
 */
static pid_t
child_store(const char *parent, bool hold, char *path, size_t pathlen, int *release)
{
	int			out[2], in[2];
	pid_t		pid;
	ssize_t		n;

	assert_int_equal(pipe(out), 0);
	assert_int_equal(pipe(in), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
	{
		spill_store *c = spill_open(parent);
		char		b;

		close(out[0]);
		close(in[1]);
		if (c == NULL)
			_exit(2);
		for (uint32_t x = 1; x <= 3; x++)
			if (!spill_append(c, x, x, "change", 6))
				_exit(3);
		if (write(out[1], spill_dir(c), strlen(spill_dir(c))) < 0)
			_exit(4);
		close(out[1]);
		if (!hold)
			kill(getpid(), SIGKILL);	/* no spill_close */
		while (read(in[0], &b, 1) > 0)
			;
		spill_close(c);
		_exit(0);
	}
	close(out[1]);
	close(in[0]);
	n = read(out[0], path, pathlen - 1);
	close(out[0]);
	assert_true(n > 0);
	path[n] = '\0';
	*release = in[1];
	return pid;
}

/*
 * A store whose process was killed -9 leaves its directory; the next
 * spill_open in the same parent removes it, files and all.  The directory of
 * a store that another live process holds, a directory without a lock (an
 * older version's), one a sweep cannot empty (until it can), and a file of
 * the same name pattern stay; no descriptor is left open by a sweep.
 */
static void
test_orphans_swept(void **state)
{
	char		parent[] = "/tmp/pgreshard-test-spill.XXXXXX";
	char		orphan[4096], held[4096], old[4200], plain[4200], oldfile[4300], stuck[4200], sub[4300];
	int			release, dead_release, status, fds;
	pid_t		dead, holder;
	struct stat st;
	spill_store *mine;
	FILE	   *f;

	(void) state;
	assert_non_null(mkdtemp(parent));
	/* (the holder first: opening a store sweeps) */
	holder = child_store(parent, true, held, sizeof(held), &release);
	dead = child_store(parent, false, orphan, sizeof(orphan), &dead_release);
	assert_int_equal(waitpid(dead, &status, 0), dead);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(dead_release);
	assert_int_equal(count_files(orphan), 3);	/* left behind with its spill files */

	snprintf(old, sizeof(old), "%s/pgreshard-spill.0ld0ne", parent);
	assert_int_equal(mkdir(old, 0700), 0);
	snprintf(oldfile, sizeof(oldfile), "%s/xact-9.spill", old);
	assert_non_null(f = fopen(oldfile, "w"));
	fclose(f);
	snprintf(plain, sizeof(plain), "%s/pgreshard-spill.plain", parent);
	assert_non_null(f = fopen(plain, "w"));
	fclose(f);

	fds = count_open_fds();
	assert_int_equal(spill_dir_sweep(parent), 1);
	assert_int_equal(count_open_fds(), fds);
	assert_int_equal(stat(orphan, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(count_files(held), 3);	/* its process holds the lock */
	assert_int_equal(stat(old, &st), 0);
	assert_int_equal(stat(oldfile, &st), 0);
	assert_int_equal(stat(plain, &st), 0);

	/* this process's own store is never taken, locked or not */
	mine = spill_open(parent);
	assert_non_null(mine);
	assert_int_equal(spill_dir_sweep(parent), 0);
	assert_int_equal(stat(spill_dir(mine), &st), 0);

	/* the holder killed -9 too: a directory with something a sweep cannot
	 * remove (a subdirectory) keeps its lock and is taken once it can be */
	kill(holder, SIGKILL);
	assert_int_equal(waitpid(holder, &status, 0), holder);
	close(release);
	snprintf(stuck, sizeof(stuck), "%s", held);
	snprintf(sub, sizeof(sub), "%s/sub", stuck);
	assert_int_equal(mkdir(sub, 0700), 0);
	log_set_level(LOG_QUIET);
	assert_int_equal(spill_dir_sweep(parent), 0);	/* warns that it cannot */
	log_set_level(LOG_INFO);
	assert_int_equal(stat(stuck, &st), 0);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(spill_dir_sweep(parent), 1);
	assert_int_equal(stat(stuck, &st), -1);

	spill_close(mine);
	assert_int_equal(unlink(oldfile), 0);
	assert_int_equal(rmdir(old), 0);
	assert_int_equal(unlink(plain), 0);
	assert_int_equal(count_files(parent), 0);
	assert_int_equal(rmdir(parent), 0);
}

/* ---- a real stream ------------------------------------------------------ */

/* The rows of t_stream applied so far, and the decoder for replayed changes. */
typedef struct applied {
	pgo_decoder replay;
	uint32_t	relid;			/* t_stream's, from its Relation message */
	uint32_t	stream_xid;		/* top-level xid of the current streamed block */
	unsigned char ids[3000];
	int			rows;
} applied;

static void
apply_change(applied *a, const pgo_msg *m)
{
	int			id = 0;

	if (m->kind == PGO_RELATION && strcmp(m->relname, "t_stream") == 0)
		a->relid = m->relid;
	if (m->kind != PGO_INSERT || m->relid != a->relid)
		return;
	for (uint32_t i = 0; i < m->new_tuple.cols[0].len; i++)
		id = id * 10 + (m->new_tuple.cols[0].data[i] - '0');
	assert_in_range(id, 1, 2999);
	assert_int_equal(a->ids[id], 0);
	a->ids[id] = 1;
	a->rows++;
}

static bool
replay_change(void *arg, const char *msg, size_t len)
{
	applied    *a = arg;
	pgo_msg		m;
	char		err[256];

	if (!pgo_decode(&a->replay, msg, len, &m, err, sizeof(err)))
		fail_msg("replayed change: %s", err);
	apply_change(a, &m);
	return true;
}

/* One message as the stream step sees it: streamed changes are spilled. */
static void
receive(spill_store *s, pgo_decoder *d, applied *a, const char *msg, size_t len)
{
	pgo_msg		m;
	char		err[256];

	if (!pgo_decode(d, msg, len, &m, err, sizeof(err)))
		fail_msg("%s", err);
	if (m.kind == PGO_STREAM_START)
		a->stream_xid = m.xid;
	else if (m.kind == PGO_STREAM_ABORT)
		assert_true(spill_abort(s, m.xid, m.subxid));
	else if (m.kind == PGO_STREAM_COMMIT)
		assert_true(spill_replay(s, m.xid, replay_change, a));
	else if (d->in_stream && m.kind != PGO_STREAM_STOP)
		assert_true(spill_append(s, a->stream_xid, m.xid, msg, len));
	else
		apply_change(a, &m);
}

/*
 * The captured transaction inserts rows 1..1000 with a savepoint around
 * 501..1000 that is rolled back, then 1001..1050, and commits; a second one
 * streams rows from 2001 and aborts.  Exactly 1..500 and 1001..1050 remain.
 */
static void
test_real_stream(void **state)
{
	static char buf[1 << 20];
	FILE	   *f = fopen(PGR_SOURCE_DIR "/tests/data/pgoutput-v2-stream.bin", "rb");
	spill_store *s = open_store();
	applied    *a = calloc(1, sizeof(applied));
	pgo_decoder d;
	size_t		len, pos;

	(void) state;
	assert_non_null(f);
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	pgo_decoder_init(&d);
	pgo_decoder_init(&a->replay);
	a->replay.in_stream = true;	/* spilled changes carry their xid */
	for (pos = 0; pos + 4 <= len;)
	{
		const unsigned char *h = (const unsigned char *) buf + pos;
		size_t		n = (size_t) h[0] << 24 | (size_t) h[1] << 16 | (size_t) h[2] << 8 | h[3];

		assert_true(pos + 4 + n <= len);
		receive(s, &d, a, buf + pos + 4, n);
		pos += 4 + n;
	}
	assert_true(len > 0 && pos == len);
	assert_int_equal(a->rows, 550);
	for (int id = 1; id < 3000; id++)
		assert_int_equal(a->ids[id], id <= 500 || (id > 1000 && id <= 1050));
	assert_int_equal(spill_count(s), 0);	/* committed and aborted: nothing left */
	assert_int_equal(count_files(spill_dir(s)), 0);
	pgo_decoder_free(&a->replay);
	pgo_decoder_free(&d);
	free(a);
	spill_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_replay_order),
		cmocka_unit_test(test_replay_unknown_xid),
		cmocka_unit_test(test_subxact_abort),
		cmocka_unit_test(test_subxact_abort_to_empty),
		cmocka_unit_test(test_whole_abort),
		cmocka_unit_test(test_many_xids),
		cmocka_unit_test(test_large_record),
		cmocka_unit_test(test_large_record_bytes),
		cmocka_unit_test(test_callback_stops),
		cmocka_unit_test(test_damaged_files),
		cmocka_unit_test(test_io_errors),
		cmocka_unit_test(test_cleanup),
		cmocka_unit_test(test_orphans_swept),
		cmocka_unit_test(test_real_stream),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
