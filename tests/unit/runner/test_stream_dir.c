/*
 * test_stream_dir.c — what the reverse stream changes in the statements
 * (runner/stream/stream_dir.c): an INSERT back into a source is an upsert on
 * the primary key that never assigns a GENERATED ALWAYS identity, UPDATEs and
 * DELETEs from shard A carry the condition that the source's row hashes to
 * A (satisfies_hash_partition on the sharding key, qualified as asked), an
 * INSERT under the row clock writes the row only if its clock upsert won,
 * with one commit time parameter per row after its columns, and the forward
 * statements carry none of these.
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

static void
test_clock_insert(void **state)
{
	stream_table t = orders();
	char	   *types[] = {"bigint", "bigint", "text"};
	bool		ident[3] = {true, false, false};
	strbuf		sb;

	(void) state;
	t.types = types;
	t.upsert = true;
	t.clock_rel = "pgreshard.clock_p_1";
	sb_init(&sb);
	stream_clock_insert(&sb, &t, 2);
	assert_string_equal(sb.data,
						"WITH v (c1, c2, c3, ts) AS (VALUES ($1::bigint, $2::bigint, $3::text, $4::bigint), "
						"($5::bigint, $6::bigint, $7::text, $8::bigint)), "
						"won AS (INSERT INTO pgreshard.clock_p_1 AS k (\"id\", pgreshard_commit_us) "
						"SELECT v.c1, v.ts FROM v ON CONFLICT (\"id\") DO UPDATE SET "
						"pgreshard_commit_us = excluded.pgreshard_commit_us "
						"WHERE k.pgreshard_commit_us <= excluded.pgreshard_commit_us RETURNING k.\"id\") "
						"INSERT INTO public.orders (\"id\", \"customer_id\", \"note\") "
						"SELECT v.c1, v.c2, v.c3 FROM v JOIN won ON v.c1 = won.\"id\" "
						"ON CONFLICT (\"id\") DO UPDATE SET \"id\" = excluded.\"id\", "
						"\"customer_id\" = excluded.\"customer_id\", \"note\" = excluded.\"note\"");
	/* a GENERATED ALWAYS identity: OVERRIDING SYSTEM VALUE, never assigned */
	sb_reset(&sb);
	t.always_ident = ident;
	t.has_always_ident = true;
	t.pk_col[0] = 1;
	stream_clock_insert(&sb, &t, 1);
	assert_non_null(strstr(sb.data, "AS k (\"customer_id\", pgreshard_commit_us) SELECT v.c2, v.ts FROM v"));
	assert_non_null(strstr(sb.data, ") OVERRIDING SYSTEM VALUE SELECT v.c1, v.c2, v.c3 FROM v JOIN won ON v.c2 = won.\"customer_id\" "));
	assert_null(strstr(sb.data, "\"id\" = excluded"));
	sb_free(&sb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forward_has_neither),
		cmocka_unit_test(test_owner_condition),
		cmocka_unit_test(test_upsert),
		cmocka_unit_test(test_clock_insert),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
