/*
 * test_sequences.c — cutover_sequence_layout(): after the cutover no two
 * shards hand out the same value of a sequence, and none hands out a value
 * the source gave (or one within the gap after it).
 *
 * For random sequences (ascending and descending, increments of any size,
 * never-used ones) and shard counts, the first values each shard hands out
 * are generated from the layout and checked: all distinct across shards,
 * all strictly past the source's value plus the gap.  The seed is printed;
 * PGR_TEST_SEED replays a run.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cutover.h"

#define VALUES_PER_SHARD 64

static int
cmp_ll(const void *a, const void *b)
{
	long long	x = *(const long long *) a, y = *(const long long *) b;

	return (x > y) - (x < y);
}

/* The values shard s hands out first, as PostgreSQL's nextval would. */
static void
check_layout(long long last, long long inc, long long gap, int nshards)
{
	long long  *all = malloc(sizeof(long long) * (size_t) nshards * VALUES_PER_SHARD);
	int			n = 0;

	assert_non_null(all);
	for (int s = 0; s < nshards; s++)
	{
		long long	restart, step, v;

		assert_true(cutover_sequence_layout(last, inc, gap, s, nshards, &restart, &step));
		assert_true(step == inc * nshards);
		v = restart;
		for (int k = 0; k < VALUES_PER_SHARD; k++, v += step)
		{
			if (inc > 0 ? v <= last + gap : v >= last - gap)
				fail_msg("shard %d hands out %lld, not past %lld %c gap %lld (inc %lld)",
						 s, v, last, inc > 0 ? '+' : '-', gap, inc);
			all[n++] = v;
		}
	}
	qsort(all, (size_t) n, sizeof(long long), cmp_ll);
	for (int i = 1; i < n; i++)
		if (all[i] == all[i - 1])
			fail_msg("value %lld handed out twice (last %lld, inc %lld, gap %lld, %d shards)",
					 all[i], last, inc, gap, nshards);
	free(all);
}

static void
test_examples(void **state)
{
	long long	restart, step;

	(void) state;
	/* orders_id_seq at 5000, gap 1000, 4 shards: 6001, 6002, 6003, 6004 by 4 */
	for (int s = 0; s < 4; s++)
	{
		assert_true(cutover_sequence_layout(5000, 1, 1000, s, 4, &restart, &step));
		assert_int_equal(restart, 6001 + s);
		assert_int_equal(step, 4);
	}
	/* descending by 10 */
	assert_true(cutover_sequence_layout(-500, -10, 100, 2, 3, &restart, &step));
	assert_int_equal(restart, -630);
	assert_int_equal(step, -30);
	/* one shard keeps its increment */
	assert_true(cutover_sequence_layout(7, 1, 0, 0, 1, &restart, &step));
	assert_int_equal(restart, 8);
	assert_int_equal(step, 1);
}

static void
test_random(void **state)
{
	const char *env = getenv("PGR_TEST_SEED");
	unsigned	seed = env ? (unsigned) strtoul(env, NULL, 10) : (unsigned) time(NULL);

	(void) state;
	printf("test_sequences: seed %u (PGR_TEST_SEED=%u replays it)\n", seed, seed);
	srand(seed);
	for (int i = 0; i < 2000; i++)
	{
		long long	inc = (rand() % 2 ? 1 : -1) * (1 + rand() % (i % 3 == 0 ? 1 : 1000));
		long long	last = (long long) (rand() % 2000001) - 1000000;
		long long	gap = rand() % 3 == 0 ? 0 : rand() % 100000;
		int			nshards = 1 + rand() % 16;

		check_layout(last, inc, gap, nshards);
	}
}

static void
test_overflow_refused(void **state)
{
	long long	restart, step;

	(void) state;
	assert_false(cutover_sequence_layout(INT64_MAX - 10, 1, 1000, 0, 4, &restart, &step));
	assert_false(cutover_sequence_layout(INT64_MIN + 10, -1, 1000, 0, 4, &restart, &step));
	assert_false(cutover_sequence_layout(0, INT64_MAX / 2, 0, 0, 4, &restart, &step));
	assert_false(cutover_sequence_layout(0, 0, 0, 0, 4, &restart, &step));
	assert_false(cutover_sequence_layout(0, 1, 0, 4, 4, &restart, &step));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_examples),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_overflow_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
