/*
 * test_planfile.c — loading plan files: the good ones in tests/plans/good
 * load with exactly the values they spell out (and the documented defaults),
 * and every file in the tests/plans/bad corpus is refused with the message
 * its first line promises ("# expect: LINE:COL: words"), as the only
 * message.  Also: several problems in one file are all reported, no message
 * ever shows a conninfo, and nothing leaks (run under ASan).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "plan.h"
#include "yaml_util.h"

#define GOOD_DIR PGR_SOURCE_DIR "/tests/plans/good"
#define BAD_DIR PGR_SOURCE_DIR "/tests/plans/bad"

/* ---- capturing what the logger writes to stderr ---- */

typedef struct capture {
	int saved_fd;
	FILE *tmp;
} capture;

static void
capture_start(capture *c)
{
	fflush(stderr);
	c->tmp = tmpfile();
	assert_non_null(c->tmp);
	c->saved_fd = dup(STDERR_FILENO);
	dup2(fileno(c->tmp), STDERR_FILENO);
}

/* Stop capturing; returns what was written (malloc'd). */
static char *
capture_end(capture *c)
{
	long size;
	char *text;

	fflush(stderr);
	dup2(c->saved_fd, STDERR_FILENO);
	close(c->saved_fd);
	size = ftell(c->tmp);
	rewind(c->tmp);
	text = calloc(1, (size_t) size + 1);
	assert_int_equal(fread(text, 1, (size_t) size, c->tmp), (size_t) size);
	fclose(c->tmp);
	return text;
}

static int
count_lines(const char *text, const char *prefix)
{
	int n = 0;

	for (const char *s = text; (s = strstr(s, prefix)) != NULL; s++)
		n++;
	return n;
}

/* Load plan text from memory, expecting failure; returns the messages. */
static char *
load_text_fails(const char *text)
{
	capture c;
	plan *p = NULL;
	bool ok;

	capture_start(&c);
	ok = plan_load_text("mem/plan.yaml", text, strlen(text), &p);
	char *out = capture_end(&c);

	if (ok)
		fail_msg("plan should not load:\n%s", text);
	assert_null(p);
	return out;
}

static char *
read_whole(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long size;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t) size + 1);
	assert_int_equal(fread(buf, 1, (size_t) size, f), (size_t) size);
	fclose(f);
	return buf;
}

static plan *
load_good(const char *name)
{
	char path[1024];
	plan *p = NULL;

	snprintf(path, sizeof(path), "%s/%s", GOOD_DIR, name);
	if (!plan_load(path, &p))
	{
		char err[1024];

		log_last_error(err, sizeof(err));
		fail_msg("%s should load: %s", name, err);
	}
	assert_non_null(p);
	assert_string_equal(p->path, path);
	assert_string_equal(p->dir, GOOD_DIR);
	{
		char *bytes = read_whole(path);

		assert_int_equal(p->text_len, strlen(bytes));
		assert_memory_equal(p->text, bytes, p->text_len);
		assert_int_equal(p->text[p->text_len], '\0');
		free(bytes);
	}
	return p;
}

static void
assert_pos(plan_pos pos, int line, int col)
{
	if (pos.line != line || pos.col != col)
		fail_msg("position %d:%d, expected %d:%d", pos.line, pos.col, line, col);
}

/* ---- good plans ---- */

static void
test_minimal(void **state)
{
	plan *p = load_good("minimal.yaml");
	const plan_table *t;

	(void) state;
	assert_int_equal(p->version, 1);
	assert_string_equal(p->name, "shop_1to2");
	assert_int_equal(p->nsources, 1);
	assert_false(p->source_sharded);
	assert_string_equal(p->source_dsns[0], "host=db1 dbname=shop");
	assert_pos(p->source_pos[0], 5, 8);
	assert_string_equal(p->publication, "shop_pub");
	assert_pos(p->publication_pos, 6, 16);
	assert_false(p->create_publication);
	assert_int_equal(p->nshards, 2);
	assert_string_equal(p->shard_dsns[0], "host=db2 dbname=shop");
	assert_string_equal(p->shard_dsns[1], "host=db3 dbname=shop");
	assert_pos(p->shard_pos[1], 10, 7);
	assert_int_equal(p->ntables, 2);
	t = &p->tables[0];
	assert_string_equal(t->spec, "public.customers");
	assert_string_equal(t->schema, "public");
	assert_string_equal(t->relname, "customers");
	assert_pos(t->pos, 12, 3);
	assert_false(t->replicate);
	assert_int_equal(t->nkeys, 1);
	assert_string_equal(t->keys[0], "id");
	assert_pos(t->key_pos, 12, 28);
	assert_null(t->route);
	assert_int_equal(t->nreads, 0);
	t = &p->tables[1];
	assert_string_equal(t->spec, "countries");
	assert_string_equal(t->schema, "public");
	assert_string_equal(t->relname, "countries");
	assert_true(t->replicate);
	assert_int_equal(t->nkeys, 0);
	plan_free(p);
}

/* What a plan that says nothing more gets, as documented in plan.h. */
static void
test_defaults(void **state)
{
	plan *p = load_good("minimal.yaml");

	(void) state;
	assert_int_equal(p->sharding, SHARD_FN_HASH);
	assert_null(p->hooks.file);
	assert_null(p->hooks.path);
	assert_null(p->hooks.route);
	assert_null(p->hooks.validate);
	assert_int_equal(p->hooks.validate_mode, VALIDATE_STOP);
	assert_null(p->hooks.on_freeze);
	assert_int_equal(p->copy_jobs, 4);
	assert_int_equal(p->copy_chunk_rows, 1000000);
	assert_int_equal(p->copy_scan_passes, 4);
	assert_int_equal(p->copy_scan_pass_size, 8LL << 30);
	assert_int_equal(p->copy_keep_snapshot_s, 600);
	assert_int_equal(p->cutover.mode, CUTOVER_AUTO);
	assert_int_equal(p->cutover.freeze, FREEZE_LOCK);
	assert_int_equal(p->cutover.max_lag_bytes, 1048576);
	assert_int_equal(p->cutover.timeout_s, 30);
	assert_null(p->cutover.switch_fn);
	assert_null(p->cutover.switch_command);
	assert_false(p->cutover.verify);
	assert_false(p->cutover.leave_source_writable);
	assert_int_equal(p->cutover.sequence_gap, 1000);
	plan_free(p);
}

static void
test_n_to_m_quoted_names(void **state)
{
	plan *p = load_good("n_to_m.yaml");
	const plan_table *t;

	(void) state;
	assert_string_equal(p->name, "orders_2to3");
	assert_true(p->source_sharded);
	assert_int_equal(p->nsources, 2);
	assert_string_equal(p->source_dsns[1], "host=old1 dbname=app");
	assert_pos(p->source_pos[0], 7, 7);
	assert_string_equal(p->publication, "Move Me");
	assert_true(p->create_publication);
	assert_int_equal(p->nshards, 3);
	assert_string_equal(p->shard_dsns[2], "host=new2 dbname=app");
	assert_pos(p->shard_pos[0], 12, 12);
	assert_int_equal(p->ntables, 4);

	t = &p->tables[0];
	assert_string_equal(t->spec, "app.\"Order Items\"");
	assert_string_equal(t->schema, "app");
	assert_string_equal(t->relname, "Order Items");
	assert_pos(t->pos, 14, 3);
	assert_int_equal(t->nkeys, 2);
	assert_string_equal(t->keys[0], "tenant_id");
	assert_string_equal(t->keys[1], "id");
	assert_pos(t->key_pos, 14, 31);

	t = &p->tables[1];
	assert_string_equal(t->schema, "app");
	assert_string_equal(t->relname, "orders");
	assert_int_equal(t->nkeys, 2);
	assert_string_equal(t->keys[0], "tenant_id");
	assert_string_equal(t->keys[1], "Order Id");
	assert_pos(t->key_pos, 16, 10);

	t = &p->tables[2];
	assert_string_equal(t->schema, "Weird.Schema");
	assert_string_equal(t->relname, "a\"b");
	assert_false(t->replicate);
	assert_int_equal(t->nkeys, 1);
	assert_string_equal(t->keys[0], "X");
	assert_true(p->tables[3].replicate);
	plan_free(p);
}

static void
test_copy_and_cutover_settings(void **state)
{
	plan *p = load_good("n_to_m.yaml");

	(void) state;
	assert_int_equal(p->copy_jobs, 64);
	assert_int_equal(p->copy_chunk_rows, 1000);
	assert_int_equal(p->copy_scan_passes, 6);
	assert_int_equal(p->copy_scan_pass_size, 512LL << 20);
	assert_int_equal(p->copy_keep_snapshot_s, 0);
	assert_int_equal(p->cutover.mode, CUTOVER_MANUAL);
	assert_int_equal(p->cutover.freeze, FREEZE_READ_ONLY);
	assert_int_equal(p->cutover.max_lag_bytes, 0);
	assert_int_equal(p->cutover.timeout_s, 3600);
	assert_string_equal(p->cutover.switch_command, "systemctl reload pgbouncer");
	assert_true(p->cutover.verify);
	assert_true(p->cutover.leave_source_writable);
	assert_int_equal(p->cutover.sequence_gap, 0);
	plan_free(p);
}

static void
test_lua_hooks(void **state)
{
	plan *p = load_good("lua_hooks.yaml");
	const plan_table *t;

	(void) state;
	assert_int_equal(p->sharding, SHARD_FN_LUA);
	assert_string_equal(p->hooks.file, "hooks/route.lua");
	assert_string_equal(p->hooks.path, GOOD_DIR "/hooks/route.lua");
	assert_pos(p->hooks.file_pos, 18, 9);
	assert_string_equal(p->hooks.route, "route_row");
	assert_pos(p->hooks.route_pos, 19, 10);
	assert_string_equal(p->hooks.validate, "check_row");
	assert_int_equal(p->hooks.validate_mode, VALIDATE_REPORT);
	assert_string_equal(p->hooks.before_step, "before_step");
	assert_string_equal(p->hooks.after_step, "after_step");
	assert_string_equal(p->hooks.on_freeze, "freeze_writes");
	assert_int_equal(p->copy_jobs, 1);
	assert_int_equal(p->cutover.freeze, FREEZE_HOOK);
	assert_string_equal(p->cutover.switch_fn, "switch_traffic");
	assert_int_equal(p->cutover.max_lag_bytes, 9223372036854775807LL);

	assert_null(p->tables[0].route);
	t = &p->tables[1];
	assert_string_equal(t->route, "route_order");
	assert_pos(t->route_pos, 13, 45);
	assert_int_equal(t->nreads, 2);
	assert_string_equal(t->reads[0], "customer_id");
	assert_string_equal(t->reads[1], "Region");
	plan_free(p);
}

static void
test_env_expansion(void **state)
{
	plan *p;

	(void) state;
	setenv("PGR_TEST_SOURCE_DSN", "host=src password=s3cret", 1);
	setenv("PGR_TEST_HOST", "db2.internal", 1);
	setenv("PGR_TEST_PORT", "6432", 1);
	setenv("PGR_TEST_EMPTY", "", 1);
	setenv("PGR_TEST_JOBS", "8", 1);
	p = load_good("env.yaml");
	assert_string_equal(p->source_dsns[0], "host=src password=s3cret");
	assert_string_equal(p->shard_dsns[0], "host=db2.internal port=6432 dbname=shop");
	assert_string_equal(p->shard_dsns[1], "host=db3 password=pa$word dbname=shop");
	assert_string_equal(p->shard_dsns[2], "host=db4 password=$x$ dbname=");
	assert_int_equal(p->copy_jobs, 8);
	/* p->text keeps the file as written, variables unexpanded. */
	assert_non_null(strstr(p->text, "${PGR_TEST_SOURCE_DSN}"));
	plan_free(p);
	unsetenv("PGR_TEST_SOURCE_DSN");
	unsetenv("PGR_TEST_HOST");
	unsetenv("PGR_TEST_PORT");
	unsetenv("PGR_TEST_EMPTY");
	unsetenv("PGR_TEST_JOBS");
}

/* CONTRACT.md's example loads; its unused hooks.route is only warned about. */
static void
test_contract_example(void **state)
{
	static const char per_table[] =
		"version: 1\nname: t\nsource: {dsn: a, publication: p}\n"
		"destination: {shards: [b]}\ntables: {t: {key: id, route: r}}\n"
		"hooks: {file: " GOOD_DIR "/hooks/route.lua}\n";
	capture c;
	plan *p;
	char *out;

	(void) state;
	log_set_level(LOG_WARN);
	capture_start(&c);
	p = load_good("contract_example.yaml");
	out = capture_end(&c);
	assert_non_null(strstr(out, "contract_example.yaml:21:10: hooks.route is not "
						   "used: sharding.function is hash;"));
	assert_int_equal(count_lines(out, "pgreshard: "), 1);
	assert_string_equal(p->name, "shop_1to4");
	assert_int_equal(p->ntables, 3);
	assert_string_equal(p->hooks.route, "route_row");
	assert_string_equal(p->cutover.switch_fn, "switch_traffic");
	plan_free(p);
	free(out);

	capture_start(&c);
	assert_true(plan_load_text("mem/plan.yaml", per_table, strlen(per_table), &p));
	out = capture_end(&c);
	log_set_level(LOG_ERROR);
	assert_non_null(strstr(out, "mem/plan.yaml:5:30: table 't': route is not used"));
	assert_string_equal(p->hooks.path, GOOD_DIR "/hooks/route.lua");
	plan_free(p);
	free(out);
}

static void
test_find_table(void **state)
{
	plan *p = load_good("n_to_m.yaml");

	(void) state;
	assert_int_equal(plan_table_index(p, "app", "Order Items"), 0);
	assert_int_equal(plan_table_index(p, "app", "orders"), 1);
	assert_int_equal(plan_table_index(p, "Weird.Schema", "a\"b"), 2);
	assert_int_equal(plan_table_index(p, "app", "Orders"), -1);
	assert_int_equal(plan_table_index(p, "public", "currencies"), -1);
	assert_ptr_equal(plan_find_table(p, "app", "currencies"), &p->tables[3]);
	assert_null(plan_find_table(p, "app", "order items"));
	plan_free(p);
}

/* ---- the bad corpus ---- */

/* The "# expect: ..." text on a bad file's first line, or NULL. */
static char *
expected_message(const char *text)
{
	const char *tag = "# expect: ";
	const char *end;
	char *expect;

	if (strncmp(text, tag, strlen(tag)) != 0)
		return NULL;
	text += strlen(tag);
	end = strchr(text, '\n');
	if (end == NULL)
		end = text + strlen(text);
	expect = strndup(text, (size_t) (end - text));
	return expect;
}

/* "12:3: ..." — the expectation pins a position. */
static bool
has_position(const char *expect)
{
	const char *s = expect;

	if (!isdigit((unsigned char) *s))
		return false;
	while (isdigit((unsigned char) *s))
		s++;
	if (*s++ != ':' || !isdigit((unsigned char) *s))
		return false;
	while (isdigit((unsigned char) *s))
		s++;
	return s[0] == ':' && s[1] == ' ' && s[2] != '\0';
}

/* Check one bad file; returns false (after saying why) when it misbehaves. */
static bool
check_bad_file(const char *name)
{
	char path[1024], want[2048], last[1024];
	char *text, *expect, *out;
	plan *p = NULL;
	capture c;
	bool loaded, ok = true;

	snprintf(path, sizeof(path), "%s/%s", BAD_DIR, name);
	text = read_whole(path);
	expect = expected_message(text);
	free(text);
	if (expect == NULL || !has_position(expect))
	{
		print_error("%s: first line must be '# expect: LINE:COL: words'\n", name);
		free(expect);
		return false;
	}
	capture_start(&c);
	loaded = plan_load(path, &p);
	out = capture_end(&c);
	log_last_error(last, sizeof(last));
	snprintf(want, sizeof(want), "%s:%s", path, expect);
	if (loaded)
	{
		print_error("%s: loaded, but should fail with '%s'\n", name, expect);
		plan_free(p);
		ok = false;
	}
	else if (strstr(out, want) == NULL)
	{
		print_error("%s: expected '%s', got:\n%s", name, expect, out);
		ok = false;
	}
	else if (count_lines(out, "pgreshard: ") != 1 || strstr(last, want) == NULL)
	{
		print_error("%s: expected exactly one problem, got:\n%s", name, out);
		ok = false;
	}
	free(out);
	free(expect);
	return ok;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static void
test_bad_corpus(void **state)
{
	DIR *dir = opendir(BAD_DIR);
	struct dirent *de;
	char *names[512];
	int n = 0, failed = 0;

	(void) state;
	assert_non_null(dir);
	unsetenv("PGR_TEST_SURELY_UNSET");
	while ((de = readdir(dir)) != NULL && n < 512)
	{
		size_t len = strlen(de->d_name);

		if (len > 5 && strcmp(de->d_name + len - 5, ".yaml") == 0)
			names[n++] = strdup(de->d_name);
	}
	closedir(dir);
	qsort(names, (size_t) n, sizeof(char *), cmp_names);
	for (int i = 0; i < n; i++)
	{
		failed += !check_bad_file(names[i]);
		free(names[i]);
	}
	print_message("%d bad plan files, %d misbehaved\n", n, failed);
	assert_true(n >= 40);
	assert_int_equal(failed, 0);
}

/* ---- reporting ---- */

static const char *const many_problems =
	"version: 2\n"
	"name: Bad-Name\n"
	"source:\n"
	"  dsn: \"host=x password=hunter2\"\n"
	"  publicaton: shop_pub\n"
	"destination:\n"
	"  shards: []\n"
	"tables:\n"
	"  public.x: { key: [id, id] }\n"
	"  x: { replicate: true }\n"
	"copy: { jobs: 0, chunk_rows: 10, scan_passes: 0, keep_snapshot_s: 5, scan_pass_size: 8 GiB }\n"
	"cutover: { freeze: hook, verify: yes }\n";

static void
test_every_problem_reported(void **state)
{
	char *out = load_text_fails(many_problems);
	static const char *const expected[] = {
		"mem/plan.yaml:1:10: unsupported plan version 2",
		"mem/plan.yaml:2:7: name 'Bad-Name' must be",
		"mem/plan.yaml:5:3: unknown key 'publicaton' in source; did you mean 'publication'?",
		"mem/plan.yaml:3:1: missing required key 'publication' in source",
		"mem/plan.yaml:7:11: destination.shards is an empty list",
		"mem/plan.yaml:9:25: table 'public.x': key: column 'id' is listed twice",
		"mem/plan.yaml:11:15: copy.jobs must be between 1 and 64, found 0",
		"mem/plan.yaml:11:30: copy.chunk_rows must be at least 1000, found 10",
		"mem/plan.yaml:11:47: copy.scan_passes must be between 1 and 1000000, found 0",
		"mem/plan.yaml:11:67: copy.keep_snapshot_s must be 0 (no keeper) or at least 30, found 5",
		"mem/plan.yaml:11:86: copy.scan_pass_size must be a size such as 200GB",
		"mem/plan.yaml:12:34: cutover.verify must be true or false, found 'yes'",
		"mem/plan.yaml:12:20: cutover.freeze: hook needs hooks.on_freeze",
	};
	int n = (int) (sizeof(expected) / sizeof(expected[0]));

	(void) state;
	for (int i = 0; i < n; i++)
		if (strstr(out, expected[i]) == NULL)
			fail_msg("missing '%s' in:\n%s", expected[i], out);
	/* public.x failed, so x is not also reported as a duplicate of it. */
	assert_int_equal(count_lines(out, "pgreshard: "), n);
	assert_null(strstr(out, "hunter2"));
	free(out);
}

static void
test_no_conninfo_in_messages(void **state)
{
	static const char *const plans[] = {
		"version: 1\nname: a\nsource: \"host=x password=hunter2\"\n",
		"version: 1\nname: a\nsource: { dsn: [\"password=hunter2\"] }\n",
		"version: 1\nname: a\nsource: { dsn: x, shards: [\"password=hunter2\"] }\n",
		"version: 1\nname: a\ndestination: { shards: [{password: hunter2}] }\n",
		"version: 1\nname: a\ndestination: { shards: \"password=hunter2\" }\n",
		"version: 1\nname: a\nsource: { dsn: \"password=hunter2 ${PGR_TEST_SURELY_UNSET}\" }\n",
		"version: 1\nname: a\nsource: { dsn: \"password=hunter2\" }\ndsn: \"password=hunter2\"\n",
		"version: 1\nname: a\nsource: { dsn: \"password=hunter2\"\n",
	};

	(void) state;
	unsetenv("PGR_TEST_SURELY_UNSET");
	for (size_t i = 0; i < sizeof(plans) / sizeof(plans[0]); i++)
	{
		char *out = load_text_fails(plans[i]);

		if (strstr(out, "hunter2") != NULL)
			fail_msg("a conninfo leaked into a message:\n%s", out);
		free(out);
	}
}

static void
test_unreadable_file(void **state)
{
	capture c;
	plan *p = NULL;
	char *out;

	(void) state;
	capture_start(&c);
	assert_false(plan_load(BAD_DIR "/no-such-plan.yaml", &p));
	assert_false(plan_load(BAD_DIR, &p));
	out = capture_end(&c);
	assert_null(p);
	assert_non_null(strstr(out, "no-such-plan.yaml: cannot open the plan file: No such file"));
	assert_non_null(strstr(out, "bad: cannot read the plan file: Is a directory"));
	free(out);
}

static void
test_dir_and_text(void **state)
{
	static const char text[] =
		"version: 1\nname: t\nsource: {dsn: a, publication: p}\n"
		"destination: {shards: [b]}\ntables: {t: {key: id}}\n";
	plan *p = NULL;

	(void) state;
	assert_true(plan_load_text("plan.yaml", text, strlen(text), &p));
	assert_string_equal(p->dir, ".");
	assert_int_equal(p->text_len, strlen(text));
	assert_string_equal(p->text, text);
	plan_free(p);
	assert_true(plan_load_text("/etc/x/plan.yaml", text, strlen(text), &p));
	assert_string_equal(p->dir, "/etc/x");
	plan_free(p);
	plan_free(NULL);
}

/* ---- helpers in yaml_util.c ---- */

static void
test_suggestions(void **state)
{
	static const char *const keys[] = {"version", "name", "source", "hooks", NULL};

	(void) state;
	assert_string_equal(ysuggest("verison", keys), "version");
	assert_string_equal(ysuggest("VERSION", keys), "version");
	assert_string_equal(ysuggest("hook", keys), "hooks");
	assert_string_equal(ysuggest("sourec", keys), "source");
	assert_null(ysuggest("tables", keys));
	assert_null(ysuggest("x", keys));
}

static void
expect_expand(const char *in, const char *want)
{
	char *out = NULL;
	char err[200] = "";

	if (!yexpand_env(in, &out, err, sizeof(err)))
		fail_msg("'%s' should expand: %s", in, err);
	assert_string_equal(out, want);
	free(out);
}

static void
expect_expand_error(const char *in, const char *why)
{
	char *out = NULL;
	char err[200] = "";

	assert_false(yexpand_env(in, &out, err, sizeof(err)));
	assert_null(out);
	if (strstr(err, why) == NULL)
		fail_msg("'%s': expected '%s' in '%s'", in, why, err);
}

static void
test_env_helper(void **state)
{
	(void) state;
	setenv("PGR_T1", "one", 1);
	setenv("PGR_T2", "", 1);
	unsetenv("PGR_TEST_SURELY_UNSET");
	expect_expand("", "");
	expect_expand("plain", "plain");
	expect_expand("${PGR_T1}", "one");
	expect_expand("a${PGR_T1}b${PGR_T2}c${PGR_T1}", "aonebcone");
	expect_expand("$$", "$");
	expect_expand("$${PGR_T1}", "${PGR_T1}");
	expect_expand("$$$${PGR_T1}", "$${PGR_T1}");
	expect_expand("$$${PGR_T1}", "$one");
	expect_expand("$x $", "$x $");
	expect_expand("cost$", "cost$");
	expect_expand_error("${PGR_TEST_SURELY_UNSET}", "environment variable PGR_TEST_SURELY_UNSET is not set");
	expect_expand_error("a ${PGR_T1", "unterminated ${");
	expect_expand_error("${}", "invalid variable name");
	expect_expand_error("${1X}", "invalid variable name");
	expect_expand_error("${A-B}", "invalid variable name");
	unsetenv("PGR_T1");
	unsetenv("PGR_T2");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_n_to_m_quoted_names),
		cmocka_unit_test(test_copy_and_cutover_settings),
		cmocka_unit_test(test_lua_hooks),
		cmocka_unit_test(test_env_expansion),
		cmocka_unit_test(test_contract_example),
		cmocka_unit_test(test_find_table),
		cmocka_unit_test(test_bad_corpus),
		cmocka_unit_test(test_every_problem_reported),
		cmocka_unit_test(test_no_conninfo_in_messages),
		cmocka_unit_test(test_unreadable_file),
		cmocka_unit_test(test_dir_and_text),
		cmocka_unit_test(test_suggestions),
		cmocka_unit_test(test_env_helper),
	};

	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
