/*
 * test_wal_headroom.c — lint_wal_headroom(): a plan whose copy would make
 * the slot hold more WAL than max_slot_wal_keep_size or the plan's
 * source.max_retained_wal cannot fit and is an error; otherwise the
 * estimate is a note; without a WAL rate there is nothing to say.
 *
 * The estimate is the source's WAL rate times the copy's expected duration
 * (the tables' bytes at the assumed copy rate, plus 60 s): empty tables and
 * 1 MB/s make 60 MB.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "inspect.h"
#include "xalloc.h"

/* One source writing rate bytes/s, keep_mb its max_slot_wal_keep_size; the
 * findings lint_wal_headroom adds for a plan with max_retained_wal limit. */
static catalog *
lint(double rate, long long keep_mb, long long limit)
{
	catalog    *cat = xcalloc(1, sizeof(catalog));
	plan		p;

	memset(&p, 0, sizeof(p));
	p.max_retained_wal = limit;
	cat->nsources = 1;
	cat->sources = xcalloc(1, sizeof(server_info));
	cat->sources[0].role = xstrdup("source");
	cat->sources[0].wal_rate = rate;
	cat->sources[0].max_slot_wal_keep_mb = keep_mb;
	lint_wal_headroom(&p, cat);
	return cat;
}

static void
expect_one(catalog *cat, finding_level level, const char *words)
{
	assert_int_equal(cat->nfindings, 1);
	assert_int_equal(cat->findings[0].level, level);
	if (strstr(cat->findings[0].message, words) == NULL)
		fail_msg("expected \"%s\" in \"%s\"", words, cat->findings[0].message);
	catalog_free(cat);
}

static void
test_over_the_plan_limit(void **state)
{
	(void) state;
	expect_one(lint(1024 * 1024, -1, 10 * 1024 * 1024), FINDING_ERROR,
			   "more than source.max_retained_wal (10.0 MB)");
}

static void
test_over_max_slot_wal_keep_size(void **state)
{
	(void) state;
	expect_one(lint(1024 * 1024, 16, 0), FINDING_ERROR, "max_slot_wal_keep_size is 16.0 MB");
}

static void
test_fits(void **state)
{
	(void) state;
	expect_one(lint(1024 * 1024, 1024, 200LL * 1024 * 1024), FINDING_INFO,
			   "the slot will hold about 60.0 MB of WAL during the copy");
	expect_one(lint(1024 * 1024, -1, 0), FINDING_INFO, "about 60.0 MB");
}

static void
test_no_rate_no_finding(void **state)
{
	catalog    *cat = lint(-1, 16, 1);

	(void) state;
	assert_int_equal(cat->nfindings, 0);
	catalog_free(cat);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_over_the_plan_limit),
		cmocka_unit_test(test_over_max_slot_wal_keep_size),
		cmocka_unit_test(test_fits),
		cmocka_unit_test(test_no_rate_no_finding),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
