/*
 * test_fingerprint.c — fingerprint_diff(): every change between a saved
 * fingerprint and now, in words; and the plan's own progress not counted
 * as a change.
 *
 * The fingerprints are written by hand in the shape fingerprint.c builds
 * (see fingerprint.h); each test changes one thing in a copy of a base
 * document and checks the sentence.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fingerprint.h"

static const char *const BASE =
	"{\"plan\": {\"sha256\": \"aa\", \"name\": \"shop\", \"source.publication\": \"pub\","
	"   \"destination.shards\": 2, \"cutover\": {\"freeze\": \"lock\"},"
	"   \"tables\": {\"public.customers\": \"key id\", \"public.countries\": \"replicated\"}},"
	" \"hook_file\": {\"file\": \"hooks/shop.lua\", \"sha256\": \"h1\"},"
	" \"tables\": {\"public.customers\": {\"columns\": {"
	"     \"id\": {\"position\": 1, \"type\": \"bigint\", \"not_null\": true, \"default\": null},"
	"     \"name\": {\"position\": 2, \"type\": \"text\", \"not_null\": false, \"default\": null}},"
	"   \"primary_key\": \"id\", \"replica_identity\": \"default (id)\", \"persistence\": \"permanent\"}},"
	" \"publication\": {\"name\": \"pub\", \"exists\": true, \"created_by_pgreshard\": false,"
	"   \"tables\": [\"public.countries\", \"public.customers\"]},"
	" \"sequences\": {\"public.customers_id_seq\": {\"type\": \"bigint\", \"increment\": 1,"
	"   \"used_by\": \"public.customers.id\"}},"
	" \"sources\": [{\"role\": \"source\", \"system_identifier\": \"111\", \"database\": \"shop\","
	"   \"database_oid\": \"16384\", \"server_version_num\": 150010, \"wal_level\": \"logical\"}],"
	" \"shards\": ["
	"  {\"role\": \"shard 0\", \"system_identifier\": \"222\", \"database\": \"shop\", \"database_oid\": \"16384\","
	"   \"server_version_num\": 150010, \"state\": {\"run\": false, \"saved_plan_id\": null,"
	"   \"tables\": {\"public.customers\": \"absent\"}}},"
	"  {\"role\": \"shard 1\", \"system_identifier\": \"333\", \"database\": \"shop\", \"database_oid\": \"16384\","
	"   \"server_version_num\": 150010, \"state\": {\"run\": false, \"saved_plan_id\": null,"
	"   \"tables\": {\"public.customers\": \"absent\"}}}]}";

static json_t *
base(void)
{
	json_error_t err;
	json_t	   *doc = json_loads(BASE, 0, &err);

	if (doc == NULL)
		fail_msg("base fingerprint: %s at %d", err.text, err.line);
	return doc;
}

/* Set a value at a path of object keys ("tables", "public.customers", ...; NULL-terminated). */
static void
set_path(json_t *doc, json_t *value, ...)
{
	va_list		ap;
	const char *key, *next;
	json_t	   *o = doc;

	va_start(ap, value);
	key = va_arg(ap, const char *);
	while ((next = va_arg(ap, const char *)) != NULL)
	{
		json_t	   *child = json_object_get(o, key);

		o = child ? child : json_array_get(o, (size_t) atoi(key));
		key = next;
	}
	va_end(ap);
	if (json_is_array(o))
		json_array_set_new(o, (size_t) atoi(key), value);
	else if (value == NULL)
		json_object_del(o, key);
	else
		json_object_set_new(o, key, value);
}

/* The changes between base and now, compared with the expected sentences. */
static void
expect_changes(const json_t *saved, const json_t *now, const char *saved_id, int n, ...)
{
	json_t	   *changes = json_array();
	va_list		ap;

	fingerprint_diff(saved, now, saved_id, changes);
	if ((int) json_array_size(changes) != n)
	{
		char	   *d = json_dumps(changes, JSON_INDENT(1));

		fail_msg("expected %d change(s), got: %s", n, d);
	}
	va_start(ap, n);
	for (int i = 0; i < n; i++)
	{
		const char *want = va_arg(ap, const char *);

		assert_string_equal(json_string_value(json_array_get(changes, (size_t) i)), want);
	}
	va_end(ap);
	json_decref(changes);
}

static void
test_unchanged(void **state)
{
	json_t	   *a = base(), *b = base();

	(void) state;
	expect_changes(a, b, "id1", 0);
	json_decref(a);
	json_decref(b);
}

static void
test_columns(void **state)
{
	json_t	   *a = base(), *b = base();

	(void) state;
	set_path(b, json_pack("{s:i, s:s, s:b, s:n}", "position", 3, "type", "text", "not_null", 0, "default"),
			 "tables", "public.customers", "columns", "nickname", NULL);
	set_path(b, json_string("integer"), "tables", "public.customers", "columns", "id", "type", NULL);
	set_path(b, NULL, "tables", "public.customers", "columns", "name", NULL);
	expect_changes(a, b, NULL, 3, "public.customers: column id: type changed (bigint -> integer)",
				   "public.customers: column name removed", "public.customers: column nickname added");
	json_decref(a);
	json_decref(b);
}

static void
test_keys_and_identity(void **state)
{
	json_t	   *a = base(), *b = base();

	(void) state;
	set_path(b, json_string("id, name"), "tables", "public.customers", "primary_key", NULL);
	set_path(b, json_string("full"), "tables", "public.customers", "replica_identity", NULL);
	set_path(b, json_string("unlogged"), "tables", "public.customers", "persistence", NULL);
	expect_changes(a, b, NULL, 3, "public.customers: primary key changed (id -> id, name)",
				   "public.customers: replica identity changed (default (id) -> full)",
				   "public.customers: persistence changed (permanent -> unlogged)");
	json_decref(a);
	json_decref(b);
}

static void
test_table_gone(void **state)
{
	json_t	   *a = base(), *b = base();

	(void) state;
	set_path(b, NULL, "tables", "public.customers", NULL);
	expect_changes(a, b, NULL, 1, "public.customers: table no longer exists on the source");
	json_decref(a);
	json_decref(b);
}

static void
test_plan_file(void **state)
{
	json_t	   *a = base(), *b = base();

	(void) state;
	set_path(b, json_string("bb"), "plan", "sha256", NULL);
	expect_changes(a, b, NULL, 1, "plan file changed: its text (comments, formatting or connection strings)");
	set_path(b, json_string("shop2"), "plan", "name", NULL);
	set_path(b, json_string("read_only"), "plan", "cutover", "freeze", NULL);
	set_path(b, json_string("key region"), "plan", "tables", "public.countries", NULL);
	set_path(b, json_string("key id"), "plan", "tables", "public.orders", NULL);
	expect_changes(a, b, NULL, 4, "plan file changed: name changed (shop -> shop2)",
				   "plan file changed: cutover.freeze changed (lock -> read_only)",
				   "plan file changed: table public.countries changed (replicated -> key region)",
				   "plan file changed: table public.orders added");
	json_decref(a);
	json_decref(b);
}

static void
test_hook_publication_sequences(void **state)
{
	json_t	   *a = base(), *b = base();

	(void) state;
	set_path(b, json_string("h2"), "hook_file", "sha256", NULL);
	json_array_append_new(json_object_get(json_object_get(b, "publication"), "tables"), json_string("public.x"));
	json_array_remove(json_object_get(json_object_get(b, "publication"), "tables"), 0);
	set_path(b, json_integer(2), "sequences", "public.customers_id_seq", "increment", NULL);
	set_path(b, json_pack("{s:s}", "type", "integer"), "sequences", "public.other_seq", NULL);
	expect_changes(a, b, NULL, 5, "hook file changed (hooks/shop.lua)",
				   "publication pub: table public.countries removed", "publication pub: table public.x added",
				   "sequence public.customers_id_seq: increment changed (1 -> 2)",
				   "sequence public.other_seq added");
	set_path(a, json_null(), "hook_file", NULL);
	set_path(b, json_false(), "publication", "exists", NULL);
	json_object_set(b, "sequences", json_object_get(a, "sequences"));	/* as before */
	expect_changes(a, b, NULL, 2, "hook file added (hooks/shop.lua)", "publication pub no longer exists");
	json_decref(a);
	json_decref(b);
}

static void
test_created_publication_is_progress(void **state)
{
	json_t	   *a = base(), *b = base();

	(void) state;
	set_path(a, json_false(), "publication", "exists", NULL);
	set_path(a, json_true(), "publication", "created_by_pgreshard", NULL);
	set_path(a, json_array(), "publication", "tables", NULL);
	expect_changes(a, b, NULL, 0);
	json_decref(a);
	json_decref(b);
}

static void
test_servers(void **state)
{
	json_t	   *a = base(), *b = base();

	(void) state;
	set_path(b, json_string("999"), "shards", "1", "system_identifier", NULL);
	set_path(b, json_string("16400"), "shards", "0", "database_oid", NULL);
	set_path(b, json_string("replica"), "sources", "0", "wal_level", NULL);
	set_path(b, json_integer(160000), "sources", "0", "server_version_num", NULL);
	expect_changes(a, b, NULL, 4, "source: server_version_num changed (150010 -> 160000)",
				   "source: wal_level changed (logical -> replica)",
				   "shard 0: different database (shop, oid 16384 -> shop, oid 16400)",
				   "shard 1: different server (system identifier 333 -> 999)");
	json_array_remove(json_object_get(b, "shards"), 1);
	set_path(b, json_string("logical"), "sources", "0", "wal_level", NULL);
	set_path(b, json_integer(150010), "sources", "0", "server_version_num", NULL);
	expect_changes(a, b, NULL, 1, "destination: 2 -> 1 databases");
	json_decref(a);
	json_decref(b);
}

static void
test_shard_state(void **state)
{
	json_t	   *a = base(), *b = base();

	(void) state;
	/* before any apply: a destination table filled by someone else */
	set_path(b, json_string("rows"), "shards", "1", "state", "tables", "public.customers", NULL);
	expect_changes(a, b, "id1", 1, "shard 1: table public.customers was absent, now has rows");
	/* this saved plan's run: its own progress */
	set_path(b, json_true(), "shards", "1", "state", "run", NULL);
	set_path(b, json_string("id1"), "shards", "1", "state", "saved_plan_id", NULL);
	expect_changes(a, b, "id1", 0);
	/* another saved plan's run, or a plain apply's */
	expect_changes(a, b, "id2", 1, "shard 1: this plan was applied since it was saved, not from this saved plan");
	set_path(b, json_null(), "shards", "1", "state", "saved_plan_id", NULL);
	expect_changes(a, b, "id1", 1, "shard 1: this plan was applied since it was saved, not from this saved plan");
	/* saved while a run existed: progress either way; the run gone is a change */
	set_path(a, json_true(), "shards", "1", "state", "run", NULL);
	expect_changes(a, b, "id1", 0);
	set_path(b, json_false(), "shards", "1", "state", "run", NULL);
	expect_changes(a, b, "id1", 1,
				   "shard 1: the state of this plan's run is gone since the plan was saved (cleanup?)");
	json_decref(a);
	json_decref(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unchanged),
		cmocka_unit_test(test_columns),
		cmocka_unit_test(test_keys_and_identity),
		cmocka_unit_test(test_table_gone),
		cmocka_unit_test(test_plan_file),
		cmocka_unit_test(test_hook_publication_sequences),
		cmocka_unit_test(test_created_publication_is_progress),
		cmocka_unit_test(test_servers),
		cmocka_unit_test(test_shard_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
