/*
 * test_chunk_count.c — how many chunks a table gets (common/pg/chunking.c
 * chunk_count, used by the copy's chunk plan and by plan's read estimate): about copy.chunk_rows rows each; with more chunks than
 * copy.jobs, a multiple of copy.jobs (the nearest), so no worker idles through
 * a last round and a scattered key's shared scans read no extra pass; chunks
 * stay within 0.67 and 1.5 times chunk_rows.  Randomized: the seed is printed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "chunking.h"

static void
test_examples(void **state)
{
	(void) state;
	/* one chunk, and fewer chunks than workers, as estimated */
	assert_int_equal(chunk_count(0, 1000000, 4), 0);
	assert_int_equal(chunk_count(10, 1000000, 4), 1);
	assert_int_equal(chunk_count(2000000, 1000000, 4), 2);
	assert_int_equal(chunk_count(4000000, 1000000, 4), 4);
	/* 2,000,100 rows in chunks of 250,000: 9 chunks were 3 passes, now 8 */
	assert_int_equal(chunk_count(2000100, 250000, 4), 8);
	assert_int_equal(chunk_count(2000000, 250000, 4), 8);
	assert_int_equal(chunk_count(2000000, 50000, 4), 40);
	/* 5 -> 4 (1.25x), 6 -> 8 (0.75x), 7 -> 8 */
	assert_int_equal(chunk_count(5, 1, 4), 4);
	assert_int_equal(chunk_count(6, 1, 4), 8);
	assert_int_equal(chunk_count(7, 1, 4), 8);
	/* one worker: as estimated */
	assert_int_equal(chunk_count(9, 1, 1), 9);
}

/* A scattered key's groups without a pass size (copy.scan_pass_size 0):
 * copy.jobs chunks a pass, more when that would take more than
 * copy.scan_passes passes. */
static void
test_groups(void **state)
{
	(void) state;
	assert_int_equal(chunk_group_size(8, 4, 4, 1e9, 0), 4);		/* 2 passes */
	assert_int_equal(chunk_group_size(16, 4, 4, 1e9, 0), 4);	/* 4 passes */
	assert_int_equal(chunk_group_size(40, 4, 4, 1e9, 0), 10);	/* 10 passes -> 4 */
	assert_int_equal(chunk_group_size(9, 3, 2, 1e9, 0), 5);		/* 5 + 4 */
	assert_int_equal(chunk_group_size(4000, 4, 4, 1e9, 0), 1000);
	assert_int_equal(chunk_group_size(5000, 4, 4, 1e9, 0), CHUNK_GROUP_MAX);	/* 1250 capped */
	assert_int_equal(chunk_group_size(5000, 4, 1, 1e9, 0), CHUNK_GROUP_MAX);	/* capped: 5 passes */
	assert_int_equal(chunk_scattered_passes(5000, 4, 1, 1e9, 0, true), 5);
	assert_int_equal(chunk_group_size(3, 4, 4, 1e9, 0), 4);		/* fewer chunks than workers */
	assert_int_equal(chunk_scattered_passes(40, 4, 4, 1e9, 0, true), 4);
	assert_int_equal(chunk_scattered_passes(40, 4, 10, 1e9, 0, true), 10);
	assert_int_equal(chunk_scattered_passes(41, 4, 4, 1e9, 0, true), 4);
	assert_int_equal(chunk_scattered_passes(4000, 4, 4, 1e9, 0, true), 4);
	assert_int_equal(chunk_scattered_passes(5000, 4, 4, 1e9, 0, true), 5);	/* groups of 1024 at most */
	/* read alone: a pass per chunk */
	assert_int_equal(chunk_scattered_passes(40, 4, 4, 1e9, 0, false), 40);
	assert_int_equal(chunk_scattered_passes(40, 1, 4, 1e9, 0, true), 40);
	for (long long n = 1; n <= 3000; n++)
		for (int jobs = 2; jobs <= 16; jobs++)
			for (long long passes = 1; passes <= 12; passes++)
			{
				long long	g = chunk_group_size(n, jobs, passes, 1e12, 0);
				long long	p = chunk_scattered_passes(n, jobs, passes, 1e12, 0, true);

				assert_true(g >= jobs);
				assert_true(p <= passes || g == jobs || g == CHUNK_GROUP_MAX);	/* at most scan_passes, or groups of jobs */
				assert_true(g <= CHUNK_GROUP_MAX || g == jobs);
				assert_true(p == (n + g - 1) / g);
			}
}

/* With a pass size (copy.scan_pass_size, default 8 GiB): as few passes as
 * keep each pass's chunks under it, never more than copy.scan_passes. */
static void
test_pass_size(void **state)
{
	const long long GiB = 1LL << 30;

	(void) state;
	/* a 240 MB table of 8 chunks: one pass of all 8, not 2 of 4 */
	assert_int_equal(chunk_group_size(8, 4, 4, 240e6, 8 * GiB), 8);
	assert_int_equal(chunk_scattered_passes(8, 4, 4, 240e6, 8 * GiB, true), 1);
	/* 20 GiB in 40 chunks: 3 passes of 14, 14 and 12 chunks (under 8 GiB each) */
	assert_int_equal(chunk_group_size(40, 4, 4, 20.0 * GiB, 8 * GiB), 14);
	assert_int_equal(chunk_scattered_passes(40, 4, 4, 20.0 * GiB, 8 * GiB, true), 3);
	/* exactly two pass sizes: two passes */
	assert_int_equal(chunk_scattered_passes(16, 4, 4, 16.0 * GiB, 8 * GiB, true), 2);
	/* 500 GiB: the pass size would need 63 passes; copy.scan_passes caps it at 4 */
	assert_int_equal(chunk_group_size(2000, 4, 4, 500.0 * GiB, 8 * GiB), 500);
	assert_int_equal(chunk_scattered_passes(2000, 4, 4, 500.0 * GiB, 8 * GiB, true), 4);
	/* never fewer chunks than workers in a pass */
	assert_int_equal(chunk_group_size(40, 4, 40, 40.0 * GiB, 1 * GiB), 4);
	/* 200,000 small chunks of one 8 GiB table: groups of CHUNK_GROUP_MAX, not
	 * one group of all (its counts per worker and shard would be ~50 MB) */
	assert_int_equal(chunk_group_size(200000, 4, 4, 8.0 * GiB, 8 * GiB), CHUNK_GROUP_MAX);
	/* an empty table (no bytes yet): one pass */
	assert_int_equal(chunk_scattered_passes(8, 4, 4, 0, 8 * GiB, true), 1);
	for (long long n = 1; n <= 500; n++)
		for (int jobs = 2; jobs <= 8; jobs++)
			for (long long passes = 1; passes <= 6; passes++)
				for (double gib = 0.5; gib <= 64; gib *= 2)
				{
					long long	g = chunk_group_size(n, jobs, passes, gib * GiB, 8 * GiB);
					long long	p = chunk_scattered_passes(n, jobs, passes, gib * GiB, 8 * GiB, true);

					assert_true(g >= jobs);
					assert_true(p <= passes || g == jobs);
					/* a pass over 8 GiB (by more than its last chunk) only where
					 * copy.scan_passes (or jobs) forces it */
					assert_true(gib * (double) (g - 1) / (double) n <= 8.0 + 1e-9 ||
								(long long) ceil(gib / 8.0) > passes || g == jobs);
					/* and no more passes than the pass size needs */
					assert_true(p <= (long long) ceil(gib / 8.0) || g == jobs);
				}
}

/* A shared scan's rounds per slice: what a kill -9 loses is the round in
 * flight of each slice. */
static void
test_scan_rounds(void **state)
{
	(void) state;
	/* the bench's 2M-row uuid table (29,200 blocks), 4 workers: 8 rounds of
	 * 912 blocks, not 2 of 4,096 (a kill lost up to a quarter of the table) */
	assert_int_equal(chunk_scan_rounds(7300, 1.0, 0), 8);
	/* small slices: rounds of 512 blocks (4 MiB), fewer than 8 */
	assert_int_equal(chunk_scan_rounds(1, 1.0, 0), 1);
	assert_int_equal(chunk_scan_rounds(512, 1.0, 0), 1);
	assert_int_equal(chunk_scan_rounds(1023, 1.0, 0), 1);
	assert_int_equal(chunk_scan_rounds(1024, 1.0, 0), 2);
	assert_int_equal(chunk_scan_rounds(2000, 1.0, 0), 3);
	/* from 32,768 blocks: rounds of 4,096 (32 MiB) */
	assert_int_equal(chunk_scan_rounds(32768, 1.0, 0), 8);
	assert_int_equal(chunk_scan_rounds(40000, 1.0, 0), 10);
	/* an empty slice: one round; a huge one: CHUNK_SCAN_MAX_ROUNDS */
	assert_int_equal(chunk_scan_rounds(0, 1.0, 0), 1);
	assert_int_equal(chunk_scan_rounds(4096LL * 5000, 1.0, 0), CHUNK_SCAN_MAX_ROUNDS);
	/* PGRESHARD_SCAN_ROUND_BLOCKS */
	assert_int_equal(chunk_scan_rounds(7300, 1.0, 4096), 2);
	assert_int_equal(chunk_scan_rounds(100, 1.0, 8), 13);
	/* a group of a quarter of the table's chunks (4 passes): its rows in
	 * 7,300 blocks are those of 1,825; rounds that still send 4 MiB */
	assert_int_equal(chunk_scan_rounds(7300, 0.25, 0), 3);
	assert_int_equal(chunk_scan_rounds(16384, 0.25, 0), 8);
	/* a share out of range counts as the whole table */
	assert_int_equal(chunk_scan_rounds(7300, 0, 0), 8);
	assert_int_equal(chunk_scan_rounds(7300, 2, 0), 8);
	for (double share = 0.125; share <= 1.0; share *= 2)
		for (long long b = 1; b <= 200000; b += 1 + b / 50)
		{
			int			r = chunk_scan_rounds(b, share, 0);
			double		sent = (double) b * share / r;

			assert_true(r >= 1 && r <= CHUNK_SCAN_MAX_ROUNDS);
			/* rounds (the slice split evenly) of 32 MiB at most that send
			 * 4 MiB at least; a slice with less: one round */
			assert_true((b + r - 1) / r <= CHUNK_SCAN_ROUND_BLOCKS);
			assert_true(sent >= CHUNK_SCAN_ROUND_MIN_BLOCKS || r == 1 || r == (b + CHUNK_SCAN_ROUND_BLOCKS - 1) / CHUNK_SCAN_ROUND_BLOCKS);
			/* at least 8 rounds wherever rounds of 4 MiB allow it */
			assert_true(r >= CHUNK_SCAN_MIN_ROUNDS || (double) b * share < CHUNK_SCAN_MIN_ROUNDS * CHUNK_SCAN_ROUND_MIN_BLOCKS);
		}
}

static void
test_random(void **state)
{
	unsigned	seed = (unsigned) time(NULL);
	const char *env = getenv("PGR_TEST_SEED");

	(void) state;
	if (env)
		seed = (unsigned) strtoul(env, NULL, 10);
	printf("test_chunk_count: seed %u (PGR_TEST_SEED=%u replays it)\n", seed, seed);
	srand(seed);
	for (int i = 0; i < 100000; i++)
	{
		long long	rows = 1 + rand() % 5000;
		int			jobs = 1 + rand() % 16;
		double		est = (double) (rand() % 2000000);
		long long	plain = (long long) ((est + (double) rows - 1) / (double) rows);
		long long	n = chunk_count(est, rows, jobs);

		if (jobs == 1 || plain <= jobs)
		{
			assert_true(n == plain || n == plain + 1);	/* ceil, whatever the rounding of est */
			continue;
		}
		assert_int_equal(n % jobs, 0);
		assert_true(n >= jobs);
		/* the nearest multiple: within half a round of the plain count */
		assert_true(2 * llabs(n - plain) <= jobs);
		/* chunk sizes stay within 0.67 and 1.5 times the asked size */
		assert_true(est / (double) n <= 1.5 * (double) rows + 1e-9);
		assert_true(est / (double) n >= 0.66 * (double) rows * ((double) plain - 1) / (double) plain - 1e-9);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_examples),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_pass_size),
		cmocka_unit_test(test_scan_rounds),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
