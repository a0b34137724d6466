/*
 * test_sandbox.c — the Lua sandbox holds: every escape attempt we could
 * think of fails cleanly, runaway hooks stop within seconds, and after
 * each failure the same state still runs a healthy hook.
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

#include <lua.h>

#include "clock.h"
#include "pghash.h"
#include "sandbox.h"

/* Functions every test file defines; `healthy` proves the state still works. */
static const char prelude[] =
	"function healthy() return 41 + 1 end\n"
	"function value(code) return code end\n";

static sandbox *
open_code(const char *code)
{
	char		buf[8192], err[2048];
	sandbox    *sb;

	snprintf(buf, sizeof(buf), "%s%s", prelude, code);
	sb = sandbox_open("=test", buf, strlen(buf), "plan_x", err, sizeof(err));
	if (sb == NULL)
		fail_msg("sandbox_open: %s", err);
	return sb;
}

static void
assert_healthy(sandbox *sb)
{
	char		err[2048];
	lua_State  *L = sandbox_state(sb);

	if (!sandbox_call(sb, "healthy", NULL, NULL, 1, err, sizeof(err)))
		fail_msg("healthy() failed: %s", err);
	assert_int_equal(lua_tointeger(L, -1), 42);
	lua_pop(L, 1);
	assert_int_equal(lua_gettop(L), 0);
}

/* Call fn (no arguments); it must fail with `want` in the message, within
 * max_s seconds, and leave the state healthy. */
static void
expect_failure(sandbox *sb, const char *fn, const char *want, double max_s)
{
	char		err[2048];
	double		t0 = mono_seconds();

	if (getenv("TRACE")) fprintf(stderr, "calling %s\n", fn);
	if (sandbox_call(sb, fn, NULL, NULL, 0, err, sizeof(err)))
		fail_msg("%s() should have failed", fn);
	if (getenv("TRACE")) fprintf(stderr, "%s: %.2f s\n", fn, mono_seconds() - t0);
	if (strstr(err, want) == NULL)
		fail_msg("%s(): expected \"%s\" in: %s", fn, want, err);
	if (mono_seconds() - t0 > max_s)
		fail_msg("%s() took %.2f s to fail (limit %.1f s)", fn, mono_seconds() - t0, max_s);
	assert_healthy(sb);
}

/* Call fn; it must succeed and return true. */
static void
expect_true(sandbox *sb, const char *fn)
{
	char		err[2048];
	lua_State  *L = sandbox_state(sb);

	if (!sandbox_call(sb, fn, NULL, NULL, 1, err, sizeof(err)))
		fail_msg("%s() failed: %s", fn, err);
	if (!lua_toboolean(L, -1))
		fail_msg("%s() returned false", fn);
	lua_pop(L, 1);
}

static void
test_no_dangerous_globals(void **state)
{
	sandbox    *sb = open_code(
		"function gone()\n"
		"  for _, n in ipairs({'os', 'io', 'require', 'package', 'debug', 'load', 'loadstring',\n"
		"                      'dofile', 'loadfile', 'collectgarbage', 'coroutine', 'warn'}) do\n"
		"    if _G[n] ~= nil then return false end\n"
		"  end\n"
		"  return string.dump == nil and math.sin ~= nil and utf8.char ~= nil and table.concat ~= nil\n"
		"end\n"
		"function use_os() return os.execute('true') end\n"
		"function use_io() return io.open('/etc/passwd') end\n"
		"function use_require() return require('os') end\n"
		"function dump() return string.dump(healthy) end\n");

	(void) state;
	expect_true(sb, "gone");
	expect_failure(sb, "use_os", "attempt to index a nil value (global 'os')", 2);
	expect_failure(sb, "use_io", "global 'io'", 2);
	expect_failure(sb, "use_require", "global 'require'", 2);
	expect_failure(sb, "dump", "field 'dump'", 2);
	sandbox_close(sb);
}

static void
test_bytecode_refused(void **state)
{
	static const char chunk[] = "\x1bLua\x54\x00garbage";
	char		err[2048];
	sandbox    *sb;

	(void) state;
	sb = sandbox_open("=bytecode", chunk, sizeof(chunk) - 1, "p", err, sizeof(err));
	assert_null(sb);
	if (strstr(err, "binary chunk") == NULL)
		fail_msg("unexpected message: %s", err);
}

static void
test_metatables_hidden(void **state)
{
	sandbox    *sb = open_code(
		"function strmeta() return getmetatable('') == false end\n"
		"function poke() getmetatable('').__index = {} end\n"
		"function gc() return setmetatable({}, {__gc = function() while true do end end}) end\n"
		"function plain_meta() return getmetatable(setmetatable({}, {__index = {a = 1}})) ~= nil end\n"
		"function methods_still_work() return ('abc'):upper() == 'ABC' end\n");

	(void) state;
	expect_true(sb, "strmeta");
	expect_failure(sb, "poke", "attempt to index a boolean value", 2);
	expect_failure(sb, "gc", "__gc metamethods are not allowed", 2);
	expect_true(sb, "plain_meta");
	expect_true(sb, "methods_still_work");
	sandbox_close(sb);
}

static void
test_runaway_loops(void **state)
{
	sandbox    *sb = open_code(
		"function spin()\n"
		"  local n = 0\n"
		"  while true do n = n + 1 end\n"
		"end\n"
		"function spin_in_pcall()\n"
		"  while true do pcall(function() while true do end end) end\n"
		"end\n"
		"function recurse() return recurse() + 1 end\n"
		"function sort_forever()\n"
		"  local t = {} for i = 1, 100 do t[i] = i end\n"
		"  table.sort(t, function(a, b) while true do end end)\n"
		"end\n");

	(void) state;
	expect_failure(sb, "spin", "hook spin ran past its budget", 3);
	expect_failure(sb, "spin", "test:5:", 3);	/* names the line */
	expect_failure(sb, "spin_in_pcall", "ran past its budget", 3);
	expect_failure(sb, "recurse", "recurse", 3);	/* stack overflow or out of memory */
	expect_failure(sb, "sort_forever", "ran past its budget", 3);
	sandbox_close(sb);
}

static void
test_memory_bombs(void **state)
{
	sandbox    *sb = open_code(
		"function grow() local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(100) .. i end end\n"
		"function rep() return ('x'):rep(1 << 40) end\n"
		"function concat() local s = 'x' while true do s = s .. s end end\n"
		"function hoard() big = {} for i = 1, 1e9 do big[i] = i end end\n");

	(void) state;
	expect_failure(sb, "grow", "out of memory", 10);
	expect_failure(sb, "rep", "", 10);
	expect_failure(sb, "concat", "", 10);
	expect_failure(sb, "hoard", "out of memory", 10);
	assert_true(sandbox_memory(sb) <= SANDBOX_MEM_LIMIT);
	sandbox_close(sb);
}

static void
test_pattern_bombs(void **state)
{
	sandbox    *sb = open_code(
		"function bomb() return (('a'):rep(40)):match(('a*'):rep(40) .. 'b') end\n"
		"function bomb_find() return (('a'):rep(5000)):find('.-.-.-.-b') end\n"
		"function bomb_gsub() return (('a'):rep(3000)):gsub('a*a*a*a*b', '') end\n"
		"function bomb_gmatch() for x in (('a'):rep(3000)):gmatch('(a-)(a-)(a-)b') do end end\n"
		"function many_small()\n"
		"  local s = ('a'):rep(300)\n"
		"  for i = 1, 1e6 do s:match('a*a*a*b') end\n"
		"end\n"
		"function email()\n"
		"  return ('someone.else+tag@example.co.uk'):match('^[%w._%%+-]+@[%w.-]+%.%a+$') ~= nil\n"
		"     and ('not an email'):match('^[%w._%%+-]+@[%w.-]+%.%a+$') == nil\n"
		"end\n"
		"function plain_find_big()\n"
		"  return (('ab'):rep(1e6) .. 'needle'):find('needle', 1, true) == 2e6 + 1\n"
		"end\n"
		"function near_budget() return (('a'):rep(470)):match('^a*a*a*b') == nil end\n"
		"function trim() return ('  hello  '):match('^%s*(.-)%s*$') == 'hello' end\n");

	(void) state;
	expect_failure(sb, "bomb", "could backtrack for too long", 2);
	expect_failure(sb, "bomb_find", "could backtrack for too long", 2);
	expect_failure(sb, "bomb_gsub", "could backtrack for too long", 2);
	expect_failure(sb, "bomb_gmatch", "could backtrack for too long", 2);
	expect_failure(sb, "many_small", "could backtrack for too long", 3);
	expect_true(sb, "email");
	expect_true(sb, "plain_find_big");
	expect_true(sb, "trim");
	{
		double		t0 = mono_seconds();

		expect_true(sb, "near_budget");	/* allowed, and still quick */
		assert_true(mono_seconds() - t0 < 2);
	}
	sandbox_close(sb);
}

static void
test_pattern_cost(void **state)
{
	(void) state;
	/* literal, anchored: about the pattern's length */
	assert_true(sandbox_pattern_cost("^abc", 4, 1000, false) < 10);
	/* one repetition unanchored: quadratic */
	assert_true(sandbox_pattern_cost(".*x", 3, 1000, false) > 1e6);
	/* escapes and sets are single items: %* is not a repetition */
	assert_true(sandbox_pattern_cost("^%*[*+-]%-", 10, 1000, false) < 10);
	/* gmatch is never anchored */
	assert_true(sandbox_pattern_cost("^a*", 3, 1000, true) > sandbox_pattern_cost("^a*", 3, 1000, false));
	/* exponential in the number of repetitions */
	assert_true(sandbox_pattern_cost("a*a*a*a*a*a*a*a*a*a*b", 21, 40, false) > 1e10);
}

static void
test_error_objects(void **state)
{
	sandbox    *sb = open_code(
		"function table_error() error(setmetatable({}, {__tostring = function() error('again') end})) end\n"
		"function handler_loops() return xpcall(error, function() while true do end end) end\n"
		"function xpcall_works()\n"
		"  local ok, m = xpcall(function(a) error(a .. '!', 0) end, function(e) return 'handled ' .. e end, 'x')\n"
		"  local ok2, v = xpcall(function(a, b) return a + b end, print, 1, 2)\n"
		"  return not ok and m == 'handled x!' and ok2 and v == 3\n"
		"end\n"
		"function nested_error() error('outer: ' .. tostring(select(2, pcall(error, 'inner')))) end\n"
		"function plain_error() local x = nil; return x.field end\n");

	(void) state;
	expect_failure(sb, "table_error", "(error object is a table value)", 2);
	expect_failure(sb, "handler_loops", "ran past its budget", 3);
	expect_true(sb, "xpcall_works");
	expect_failure(sb, "nested_error", "outer: inner", 2);
	expect_failure(sb, "plain_error", "stack traceback", 2);
	expect_failure(sb, "plain_error", "in function 'plain_error'", 2);
	sandbox_close(sb);
}

static void
test_top_level_runaway(void **state)
{
	char		err[2048];
	const char *code = "local x = 0\nwhile true do x = x + 1 end\n";
	double		t0 = mono_seconds();

	(void) state;
	assert_null(sandbox_open("=loop.lua", code, strlen(code), "p", err, sizeof(err)));
	assert_true(strstr(err, "ran past its budget") != NULL);
	assert_true(strstr(err, "loop.lua:2:") != NULL);
	assert_true(mono_seconds() - t0 < 3);
	assert_null(sandbox_open("=syntax.lua", "function (", 10, "p", err, sizeof(err)));
	assert_true(strstr(err, "syntax.lua:1:") != NULL);
}

static int
push_int_and_type(lua_State *L, void *arg)
{
	(void) arg;
	lua_pushinteger(L, 42);
	lua_pushliteral(L, "bigint");
	lua_pushinteger(L, 4);
	return 3;
}

static void
test_api(void **state)
{
	sandbox    *sb = open_code(
		"function h(v, t, n) return pgreshard.hash(v, t, n) end\n"
		"function multi() return pgreshard.hash({7, 'x'}, {'integer', 'text'}, 3) end\n"
		"function name() return pgreshard.plan_name end\n"
		"function bad_type() return pgreshard.hash(1, 'jsonb', 2) end\n"
		"function log() pgreshard.log('from a hook', 1, nil) print('printed') return true end\n");
	lua_State  *L = sandbox_state(sb);
	char		err[2048];
	key_type	types[2] = {KEY_INT8, KEY_TEXT};
	key_value	vals[2] = {{"42", 2, false}, {"x", 1, false}};
	uint32_t	want;

	(void) state;
	assert_true(shard_of_values(types, vals, 1, 4, &want, err, sizeof(err)));
	assert_true(sandbox_call(sb, "h", push_int_and_type, NULL, 1, err, sizeof(err)));
	assert_int_equal(lua_tointeger(L, -1), want);
	lua_pop(L, 1);

	types[0] = KEY_INT4;
	vals[0] = (key_value) {"7", 1, false};
	assert_true(shard_of_values(types, vals, 2, 3, &want, err, sizeof(err)));
	assert_true(sandbox_call(sb, "multi", NULL, NULL, 1, err, sizeof(err)));
	assert_int_equal(lua_tointeger(L, -1), want);
	lua_pop(L, 1);

	assert_true(sandbox_call(sb, "name", NULL, NULL, 1, err, sizeof(err)));
	assert_string_equal(lua_tostring(L, -1), "plan_x");
	lua_pop(L, 1);
	expect_failure(sb, "bad_type", "unsupported type 'jsonb'", 2);
	expect_true(sb, "log");
	assert_true(sandbox_has_function(sb, "healthy"));
	assert_false(sandbox_has_function(sb, "nope"));
	assert_false(sandbox_has_function(sb, "prelude"));
	expect_failure(sb, "nope", "hook nope is not a function", 2);
	sandbox_close(sb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_dangerous_globals),
		cmocka_unit_test(test_bytecode_refused),
		cmocka_unit_test(test_metatables_hidden),
		cmocka_unit_test(test_runaway_loops),
		cmocka_unit_test(test_memory_bombs),
		cmocka_unit_test(test_pattern_bombs),
		cmocka_unit_test(test_pattern_cost),
		cmocka_unit_test(test_error_objects),
		cmocka_unit_test(test_top_level_runaway),
		cmocka_unit_test(test_api),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
