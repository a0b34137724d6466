/*
 * test_leaf_indexes.c — matching a partition's own indexes on the source
 * with a shard's (runner/follow/leaf_indexes.c, leaf_index_plan): matched by
 * partition and definition whatever their names; one the source alone has
 * is created, and attached when its parent index is on the shard, left to
 * the parent's creation when it is not; one attached on the source only is
 * attached; one the shard alone has is dropped unless attached to a parent
 * index or backing a constraint; indexes of constraints are never touched;
 * one still being built on the source (not valid) is not created yet.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <string.h>

#include "leaf_indexes.h"

static leaf_index
ix(char *table, char *name, char *def, char *parent, bool constraint)
{
	leaf_index x;

	memset(&x, 0, sizeof(x));
	x.schema = "ev";
	x.table = table;
	x.name = name;
	x.def = def;
	x.parent = parent;
	x.constraint = constraint;
	x.valid = true;
	return x;
}

static int	waiting;

static int
run_plan(leaf_index *src, int nsrc, leaf_index *shard, int nshard, const bool *there, leaf_index_action *out)
{
	leaf_index_list a = {nsrc, src}, b = {nshard, shard};

	return leaf_index_plan(&a, &b, there, out, &waiting);
}

static void
same_everywhere_does_nothing(void **state)
{
	leaf_index src[] = {
		ix("events_us", "events_us_pkey", "ev.events_us USING btree (region, tenant_id, id)", "ev.events_pkey", true),
		ix("events_us", "events_us_tenant_id_at_idx", "ev.events_us USING btree (tenant_id, at)", "ev.events_tenant_at", false),
		ix("events_us", "us_kind", "ev.events_us USING btree (kind)", NULL, false),
	};
	/* the shard named the parent's child index itself */
	leaf_index shard[] = {
		ix("events_us", "events_us_pkey", "ev.events_us USING btree (region, tenant_id, id)", "ev.events_pkey", true),
		ix("events_us", "events_us_tenant_id_at_idx1", "ev.events_us USING btree (tenant_id, at)", "ev.events_tenant_at", false),
		ix("events_us", "us_kind", "ev.events_us USING btree (kind)", NULL, false),
	};
	bool		there[] = {true, true, false};
	leaf_index_action out[16];

	(void) state;
	assert_int_equal(run_plan(src, 3, shard, 3, there, out), 0);
}

static void
new_index_is_created(void **state)
{
	leaf_index src[] = {
		ix("events_eu_0", "eu0_uq", "ev.events_eu_0 USING btree (id, tenant_id)", NULL, false),
		ix("events_fr", "fr_kind", "ev.events_fr USING btree (kind) WHERE (kind <> 'x'::text)", NULL, false),
	};
	leaf_index shard[] = {
		/* same definition on another partition: not a match */
		ix("events_eu_1", "eu1_uq", "ev.events_eu_1 USING btree (id, tenant_id)", NULL, false),
	};
	bool		there[] = {false, false};
	leaf_index_action out[16];
	int			n = run_plan(src, 2, shard, 1, there, out);

	(void) state;
	assert_int_equal(n, 3);
	assert_int_equal(out[0].op, LEAF_INDEX_CREATE);
	assert_int_equal(out[0].src, 0);
	assert_int_equal(out[1].op, LEAF_INDEX_CREATE);
	assert_int_equal(out[1].src, 1);
	assert_int_equal(out[2].op, LEAF_INDEX_DROP);
	assert_int_equal(out[2].shard, 0);
}

static void
attached_on_source(void **state)
{
	leaf_index src[] = {
		/* made on the shard already, attached on the source since */
		ix("events_other", "other_kind", "ev.events_other USING btree (kind)", "ev.events_kind_p", false),
		/* missing on the shard; its parent index is there */
		ix("events_fr", "fr_kind", "ev.events_fr USING btree (kind)", "ev.events_kind_p", false),
		/* missing, and so is its parent index: the parent's creation brings it */
		ix("events_us", "us_at", "ev.events_us USING btree (at)", "ev.events_at_p", false),
	};
	leaf_index shard[] = {
		ix("events_other", "other_kind", "ev.events_other USING btree (kind)", NULL, false),
	};
	bool		there[] = {true, true, false};
	leaf_index_action out[16];
	int			n = run_plan(src, 3, shard, 1, there, out);

	(void) state;
	assert_int_equal(n, 3);
	assert_int_equal(out[0].op, LEAF_INDEX_ATTACH);
	assert_int_equal(out[0].src, 0);
	assert_int_equal(out[0].shard, 0);
	assert_int_equal(out[1].op, LEAF_INDEX_CREATE);
	assert_int_equal(out[1].src, 1);
	assert_int_equal(out[2].op, LEAF_INDEX_ATTACH);
	assert_int_equal(out[2].src, 1);
	assert_int_equal(out[2].shard, -1);
	assert_int_equal(waiting, 1);		/* us_at: compared again once its parent is there */
}

static void
dropped_on_source(void **state)
{
	leaf_index shard[] = {
		ix("events_eu_1", "eu1_kind", "ev.events_eu_1 USING btree (kind)", NULL, false),
		/* a parent index's child, or a constraint's: not this file's to drop */
		ix("events_eu_1", "eu1_at", "ev.events_eu_1 USING btree (at)", "ev.events_at_p", false),
		ix("events_eu_1", "eu1_pkey", "ev.events_eu_1 USING btree (region, tenant_id, id)", NULL, true),
	};
	leaf_index_action out[16];
	int			n = run_plan(NULL, 0, shard, 3, NULL, out);

	(void) state;
	assert_int_equal(n, 1);
	assert_int_equal(waiting, 0);
	assert_int_equal(out[0].op, LEAF_INDEX_DROP);
	assert_int_equal(out[0].shard, 0);
}

static void
duplicates_match_one_to_one(void **state)
{
	/* two indexes of the same definition on the source, one on the shard
	 * under the second one's name: that one matches, the other is created */
	leaf_index src[] = {
		ix("events_us", "a", "ev.events_us USING btree (kind)", NULL, false),
		ix("events_us", "b", "ev.events_us USING btree (kind)", NULL, false),
		ix("events_us", "c_pkey", "ev.events_us USING btree (id)", NULL, true),
	};
	leaf_index shard[] = {
		ix("events_us", "b", "ev.events_us USING btree (kind)", NULL, false),
	};
	bool		there[] = {false, false, false};
	leaf_index_action out[16];
	int			n = run_plan(src, 3, shard, 1, there, out);

	(void) state;
	assert_int_equal(n, 1);
	assert_int_equal(out[0].op, LEAF_INDEX_CREATE);
	assert_int_equal(out[0].src, 0);
}

static void
invalid_index_waits(void **state)
{
	/* CREATE INDEX CONCURRENTLY still running on the source (or failed):
	 * not created on the shard, and the shard's own is kept */
	leaf_index src[] = {
		ix("events_us", "us_kind", "ev.events_us USING btree (kind)", NULL, false),
		ix("events_us", "us_at", "ev.events_us USING btree (at)", NULL, false),
	};
	leaf_index shard[] = {
		ix("events_us", "us_at", "ev.events_us USING btree (at)", NULL, false),
	};
	bool		there[] = {false, false};
	leaf_index_action out[16];

	(void) state;
	src[0].valid = src[1].valid = false;
	assert_int_equal(run_plan(src, 2, shard, 1, there, out), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(same_everywhere_does_nothing),
		cmocka_unit_test(new_index_is_created),
		cmocka_unit_test(attached_on_source),
		cmocka_unit_test(dropped_on_source),
		cmocka_unit_test(duplicates_match_one_to_one),
		cmocka_unit_test(invalid_index_waits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
