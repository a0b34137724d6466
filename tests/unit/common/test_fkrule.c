/*
 * test_fkrule.c — fk_same_shard(): when a foreign key can live on the shards.
 *
 * Replicated parents always qualify; a replicated child of a sharded parent
 * never does; two sharded tables qualify only when the foreign key pairs the
 * child's key columns with the parent's, column by column, in key order.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <string.h>

#include "fkrule.h"

#define N(a) ((int) (sizeof(a) / sizeof((a)[0])))

static const fk_side replicated = {true, 0, NULL};

/* Expect fk_same_shard to say no, with `why` somewhere in its reason. */
static void
expect_no(const fk_side *child, const fk_side *parent, int n,
		  const char *const *ccols, const char *const *pcols, const char *why)
{
	const char *reason = "untouched";

	if (fk_same_shard(child, parent, n, ccols, pcols, &reason))
		fail_msg("expected a cross-shard foreign key");
	assert_non_null(reason);
	if (strstr(reason, why) == NULL)
		fail_msg("expected \"%s\" in \"%s\"", why, reason);
}

static void
expect_yes(const fk_side *child, const fk_side *parent, int n,
		   const char *const *ccols, const char *const *pcols)
{
	const char *reason = "untouched";

	if (!fk_same_shard(child, parent, n, ccols, pcols, &reason))
		fail_msg("expected a same-shard foreign key, got: %s", reason);
	assert_null(reason);
}

static void
test_replicated_parent(void **state)
{
	static const char *const key[] = {"customer_id"};
	static const char *const cc[] = {"region"}, *const pc[] = {"code"};
	fk_side		sharded = {false, 1, key};

	(void) state;
	expect_yes(&sharded, &replicated, 1, cc, pc);
	expect_yes(&replicated, &replicated, 1, cc, pc);
	/* the reason pointer is optional */
	assert_true(fk_same_shard(&sharded, &replicated, 1, cc, pc, NULL));
}

static void
test_replicated_child_sharded_parent(void **state)
{
	static const char *const key[] = {"id"};
	static const char *const cc[] = {"customer_id"}, *const pc[] = {"id"};
	fk_side		parent = {false, 1, key};

	(void) state;
	expect_no(&replicated, &parent, 1, cc, pc, "referencing table is replicated");
	assert_false(fk_same_shard(&replicated, &parent, 1, cc, pc, NULL));
}

static void
test_single_key(void **state)
{
	static const char *const ckey[] = {"customer_id"}, *const pkey[] = {"id"};
	static const char *const cc[] = {"customer_id"}, *const pc[] = {"id"};
	static const char *const other_cc[] = {"buyer_id"};
	static const char *const wrong_pc[] = {"legacy_id"};
	fk_side		child = {false, 1, ckey}, parent = {false, 1, pkey};

	(void) state;
	expect_yes(&child, &parent, 1, cc, pc);
	/* the child's key is not in the foreign key */
	expect_no(&child, &parent, 1, other_cc, pc, "not part of the foreign key");
	/* the key column points at a column that is not the parent's key */
	expect_no(&child, &parent, 1, cc, wrong_pc, "does not pair");
	/* names are compared exactly (they are unquoted SQL names) */
	{
		static const char *const upper_pc[] = {"ID"};

		expect_no(&child, &parent, 1, cc, upper_pc, "does not pair");
	}
}

static void
test_multi_column_keys(void **state)
{
	static const char *const ckey[] = {"tenant_id", "customer_id"};
	static const char *const pkey[] = {"tenant_id", "id"};
	static const char *const cc[] = {"customer_id", "tenant_id", "order_id"};
	static const char *const pc[] = {"id", "tenant_id", "order_no"};
	static const char *const swapped_pc[] = {"tenant_id", "id", "order_no"};
	fk_side		child = {false, 2, ckey}, parent = {false, 2, pkey};

	(void) state;
	/* FK order differs from key order: mapping is by column, that is fine */
	expect_yes(&child, &parent, N(cc), cc, pc);
	/* customer_id -> tenant_id, tenant_id -> id: keys in the wrong order */
	expect_no(&child, &parent, N(cc), cc, swapped_pc, "does not pair");
}

static void
test_key_arity(void **state)
{
	static const char *const ckey[] = {"tenant_id"};
	static const char *const pkey[] = {"tenant_id", "id"};
	static const char *const cc[] = {"tenant_id", "order_id"};
	static const char *const pc[] = {"tenant_id", "id"};
	fk_side		child = {false, 1, ckey}, parent = {false, 2, pkey};
	fk_side		parent1 = {false, 1, ckey};

	(void) state;
	expect_no(&child, &parent, 2, cc, pc, "different numbers of columns");
	/* a foreign key wider than the keys is fine when the keys pair up */
	expect_yes(&child, &parent1, 2, cc, pc);
}

static void
test_degenerate_input(void **state)
{
	static const char *const key[] = {"id"};
	static const char *const cc[] = {"id"};
	fk_side		child = {false, 1, key}, parent = {false, 1, key};
	fk_side		keyless = {false, 0, NULL};

	(void) state;
	expect_no(&child, &parent, 0, cc, cc, "no columns");
	expect_no(&child, &parent, 1, NULL, cc, "no columns");
	expect_no(&keyless, &parent, 1, cc, cc, "no sharding key");
	expect_no(&child, &keyless, 1, cc, cc, "no sharding key");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replicated_parent),
		cmocka_unit_test(test_replicated_child_sharded_parent),
		cmocka_unit_test(test_single_key),
		cmocka_unit_test(test_multi_column_keys),
		cmocka_unit_test(test_key_arity),
		cmocka_unit_test(test_degenerate_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
