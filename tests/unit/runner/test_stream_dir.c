/*
 * test_stream_dir.c — what the reverse stream changes in the statements
 * (runner/stream/stream_dir.c): an INSERT back into a source is an upsert on
 * the primary key that never assigns a GENERATED ALWAYS identity, UPDATEs and
 * DELETEs from shard A carry the condition that the source's row hashes to
 * A (satisfies_hash_partition on the sharding key, qualified as asked), and
 * the forward statements carry neither.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"

static char *cols[] = {"\"id\"", "\"customer_id\"", "\"note\""};
static bool no_ident[3];

static stream_table
orders(void)
{
	stream_table t;

	memset(&t, 0, sizeof(t));
	t.index = 1;
	t.qname = "public.orders";
	t.ncols = 3;
	t.qcols = cols;
	t.always_ident = no_ident;
	t.npk = 1;
	t.pk_col[0] = 0;
	t.nkeys = 1;
	t.key_col[0] = 1;
	return t;
}

static void
test_forward_has_neither(void **state)
{
	stream_table t = orders();
	strbuf		sb;

	(void) state;
	sb_init(&sb);
	stream_owner_cond(&sb, &t, "d");
	stream_upsert_clause(&sb, &t);
	assert_string_equal(sb.data ? sb.data : "", "");
	sb_free(&sb);
}

static void
test_owner_condition(void **state)
{
	stream_table t = orders();
	strbuf		sb;

	(void) state;
	t.owner_rel = "'pgreshard.owner_p_1'::regclass";
	t.owner_mod = 3;
	t.owner_rem = 2;
	sb_init(&sb);
	stream_owner_cond(&sb, &t, "d");
	assert_string_equal(sb.data, " AND satisfies_hash_partition('pgreshard.owner_p_1'::regclass, 3, 2, d.\"customer_id\")");
	sb_free(&sb);
}

static void
test_upsert(void **state)
{
	stream_table t = orders();
	bool		ident[3] = {true, false, false};
	strbuf		sb;

	(void) state;
	t.upsert = true;
	sb_init(&sb);
	stream_upsert_clause(&sb, &t);
	assert_string_equal(sb.data, " ON CONFLICT (\"id\") DO UPDATE SET \"id\" = excluded.\"id\", "
						"\"customer_id\" = excluded.\"customer_id\", \"note\" = excluded.\"note\"");
	sb_reset(&sb);
	t.always_ident = ident;		/* GENERATED ALWAYS: never assigned */
	stream_upsert_clause(&sb, &t);
	assert_string_equal(sb.data, " ON CONFLICT (\"id\") DO UPDATE SET \"customer_id\" = excluded.\"customer_id\", "
						"\"note\" = excluded.\"note\"");
	sb_free(&sb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forward_has_neither),
		cmocka_unit_test(test_owner_condition),
		cmocka_unit_test(test_upsert),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
