/*
 * test_leaf_cols.c — a partition's columns mapped onto its table's by name
 * (runner/follow/stream_leaf_cols.c): the same order maps to nothing; an
 * attached partition's own order is put back in the table's; a name the
 * table does not know takes the place of one the partition lacks (a rename
 * on the source) or goes last (an added column); tuples follow the map.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"

static char *table_cols[] = {"tenant_id", "id", "region", "kind", "at"};

static stream_table
table(void)
{
	stream_table t;

	memset(&t, 0, sizeof(t));
	t.ncols = 5;
	t.cols = table_cols;
	return t;
}

/* A Relation message with these column names. */
static pgo_msg
message(pgo_column *cols, const char *const *names, int n)
{
	pgo_msg		m;

	memset(&m, 0, sizeof(m));
	for (int i = 0; i < n; i++)
		cols[i] = (pgo_column) {.name = names[i], .type_oid = (uint32_t) (100 + i)};
	m.ncols = n;
	m.columns = cols;
	return m;
}

static void
same_order_maps_to_nothing(void **state)
{
	stream_table t = table();
	const char *names[] = {"tenant_id", "id", "region", "kind", "at"};
	pgo_column	cols[5];
	pgo_msg		m = message(cols, names, 5);

	(void) state;
	assert_null(stream_leaf_order(&t, &m));
}

static void
attached_order_put_back(void **state)
{
	stream_table t = table();
	const char *names[] = {"at", "kind", "id", "region", "tenant_id"};
	pgo_column	cols[5], out[5];
	pgo_msg		m = message(cols, names, 5);
	int		   *order = stream_leaf_order(&t, &m);
	pgo_value	in_vals[5], vals[5];
	pgo_tuple	in = {5, in_vals}, tup;

	(void) state;
	assert_non_null(order);
	stream_columns_permuted(&m, order, out);
	for (int k = 0; k < 5; k++)
		assert_string_equal(out[k].name, table_cols[k]);
	/* the tuple's values follow their names, types with them */
	for (int i = 0; i < 5; i++)
		in_vals[i] = (pgo_value) {PGO_TEXT, names[i], (uint32_t) strlen(names[i])};
	stream_tuple_permuted(&in, order, 5, &tup, vals);
	assert_int_equal(tup.ncols, 5);
	for (int k = 0; k < 5; k++)
	{
		assert_string_equal(tup.cols[k].data, table_cols[k]);
		assert_int_equal(out[k].type_oid, 100 + (order[k]));
	}
	free(order);
}

static void
renamed_and_added_columns(void **state)
{
	stream_table t = table();
	/* "kind" renamed to "sort", a column "extra" added; the partition's own order */
	const char *names[] = {"at", "sort", "id", "region", "tenant_id", "extra"};
	const char *want[] = {"tenant_id", "id", "region", "sort", "at", "extra"};
	pgo_column	cols[6], out[6];
	pgo_msg		m = message(cols, names, 6);
	int		   *order = stream_leaf_order(&t, &m);

	(void) state;
	assert_non_null(order);
	stream_columns_permuted(&m, order, out);
	for (int k = 0; k < 6; k++)
		assert_string_equal(out[k].name, want[k]);
	free(order);
}

static void
dropped_column_left_out(void **state)
{
	stream_table t = table();
	/* "kind" dropped on the source; the rest in the partition's own order */
	const char *names[] = {"region", "tenant_id", "id", "at"};
	const char *want[] = {"tenant_id", "id", "region", "at"};
	pgo_column	cols[4], out[4];
	pgo_msg		m = message(cols, names, 4);
	int		   *order = stream_leaf_order(&t, &m);

	(void) state;
	assert_non_null(order);
	stream_columns_permuted(&m, order, out);
	for (int k = 0; k < 4; k++)
		assert_string_equal(out[k].name, want[k]);
	free(order);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(same_order_maps_to_nothing),
		cmocka_unit_test(attached_order_put_back),
		cmocka_unit_test(renamed_and_added_columns),
		cmocka_unit_test(dropped_column_left_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
