/*
 * sandbox.c — the sandboxed Lua state behind every user hook.  See sandbox.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "log.h"
#include "pghash.h"
#include "readfile.h"
#include "sandbox.h"
#include "xalloc.h"

#define COUNT_STEP 1000			/* the count hook runs every this many instructions */
#define HASH_MAX_COLS 32

struct sandbox {
	lua_State  *L;
	size_t		used;			/* bytes allocated */
	size_t		limit;
	long long	budget;			/* instructions per call */
	long long	ticks;			/* count-hook runs in the current call */
	double		pattern_spent;	/* estimated matcher steps in the current call */
	const char *current;		/* the hook being called (for messages) */
	char	   *chunkname;
};

/* The sandbox of a state: kept in the allocator's userdata. */
static sandbox *
sb_of(lua_State *L)
{
	void	   *ud;

	(void) lua_getallocf(L, &ud);
	return ud;
}

static void *
capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	sandbox    *sb = ud;
	size_t		old = ptr ? osize : 0;
	void	   *p;

	if (nsize == 0)
	{
		free(ptr);
		sb->used -= old;
		return NULL;
	}
	if (nsize > old && nsize - old > sb->limit - sb->used)
		return NULL;			/* Lua raises "not enough memory" */
	p = realloc(ptr, nsize);
	if (p != NULL)
		sb->used = sb->used - old + nsize;
	return p;
}

/* ---- instruction budget ---- */

static void
count_hook(lua_State *L, lua_Debug *ar)
{
	sandbox    *sb = sb_of(L);

	char		msg[512];

	if (++sb->ticks * COUNT_STEP <= sb->budget)
		return;
	/* from now on every instruction fails: a pcall in a loop catches the
	 * error, but the loop's own next instruction raises it again */
	lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
	lua_getinfo(L, "Sl", ar);
	snprintf(msg, sizeof(msg), "%s:%d: hook %s ran past its budget of %lld instructions "
			 "(a loop that does not end?)", ar->short_src, ar->currentline,
			 sb->current ? sb->current : "(top level)", sb->budget);
	luaL_error(L, "%s", msg);
}

/* ---- pattern guard ---- */

/* Worst-case matcher steps of Lua pattern pat on a subject of n bytes: the
 * ways n bytes can be split among its k repetition items, times 2 per
 * optional item, times the items, at every start position. */
double
sandbox_pattern_cost(const char *pat, size_t plen, size_t n, bool gmatch)
{
	bool		anchored = !gmatch && plen > 0 && pat[0] == '^';
	int			k = 0, opt = 0, items = 0;
	double		ways = 1;

	for (size_t i = anchored ? 1 : 0; i < plen;)
	{
		char		c = pat[i];

		if (c == '(' || c == ')')
		{
			i++;
			continue;
		}
		items++;
		if (c == '%' && i + 1 < plen && pat[i + 1] == 'b')
		{
			i += 4;
			k++;				/* %bxy scans ahead like a repetition */
			continue;
		}
		if (c == '%' && i + 1 < plen && pat[i + 1] == 'f')
			i += 2, c = pat[i];	/* a frontier takes a set next */
		if (c == '%')
			i += 2;
		else if (c == '[')
		{
			i++;
			if (i < plen && pat[i] == '^')
				i++;
			do
			{
				if (i < plen && pat[i] == '%')
					i++;
				i++;
			} while (i < plen && pat[i] != ']');
			i++;
		}
		else
			i++;
		if (i < plen && (pat[i] == '*' || pat[i] == '+' || pat[i] == '-'))
			k++, i++;
		else if (i < plen && pat[i] == '?')
			opt++, i++;
	}
	for (int j = 1; j <= k && ways < 1e300; j++)
		ways = ways * (double) (n + (size_t) j) / j;
	return ways * pow(2, opt) * (items + 1) * (anchored ? 1 : (double) n + 1);
}

static bool
has_specials(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (strchr("^$*+?.([%-", p[i]) != NULL)
			return true;
	return false;
}

/* string.find/match/gmatch/gsub: the original function is upvalue 1;
 * upvalue 2 says whether it is gmatch, upvalue 3 whether it is find. */
static int
guarded_pattern(lua_State *L)
{
	sandbox    *sb = sb_of(L);
	size_t		n, plen;
	const char *pat;
	bool		gmatch = lua_toboolean(L, lua_upvalueindex(2));
	bool		find = lua_toboolean(L, lua_upvalueindex(3));
	int			nargs = lua_gettop(L);

	luaL_checklstring(L, 1, &n);
	pat = luaL_checklstring(L, 2, &plen);
	if (!(find && (lua_toboolean(L, 4) || !has_specials(pat, plen))))
	{
		double		cost = sandbox_pattern_cost(pat, plen, n, gmatch);

		if (cost > SANDBOX_PATTERN_BUDGET - sb->pattern_spent)
		{
			char		msg[512];

			snprintf(msg, sizeof(msg), "pattern '%.100s' on a subject of %zu bytes could backtrack for "
					 "too long (worst case %.3g steps; the budget per hook call is %.3g): use a "
					 "simpler pattern, a plain find, or check the subject's length first",
					 pat, n, cost, SANDBOX_PATTERN_BUDGET - sb->pattern_spent);
			return luaL_error(L, "%s", msg);
		}
		sb->pattern_spent += cost;
	}
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, nargs, LUA_MULTRET);
	return lua_gettop(L);
}

static void
guard_string_functions(lua_State *L)
{
	static const char *const names[] = {"find", "match", "gmatch", "gsub"};

	lua_getglobal(L, "string");
	for (int i = 0; i < 4; i++)
	{
		lua_getfield(L, -1, names[i]);
		lua_pushboolean(L, i == 2);
		lua_pushboolean(L, i == 0);
		lua_pushcclosure(L, guarded_pattern, 3);
		lua_setfield(L, -2, names[i]);
	}
	lua_pushnil(L);
	lua_setfield(L, -2, "dump");
	lua_pop(L, 1);
	/* hide the string metatable: getmetatable("") returns false */
	lua_pushliteral(L, "");
	lua_getmetatable(L, -1);
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 2);
}

/* ---- base library changes ---- */

/* setmetatable that refuses finalizers: __gc runs with hooks off, so a
 * runaway finalizer could not be stopped. */
static int
safe_setmetatable(lua_State *L)
{
	if (lua_type(L, 2) == LUA_TTABLE)
	{
		lua_pushliteral(L, "__gc");
		if (lua_rawget(L, 2) != LUA_TNIL)
			return luaL_error(L, "__gc metamethods are not allowed in hooks");
		lua_pop(L, 1);
	}
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

/*
 * xpcall without a message handler running inside the error: Lua calls a
 * handler at the point of the error, and an error raised by the count hook
 * is raised while hooks are off, so a handler that loops could never be
 * stopped.  Here the handler runs after the protected call returned, with
 * hooks on; an error in the handler propagates.  (Hooks have no debug
 * library, so a handler cannot tell the difference.)
 */
static int
safe_xpcall(lua_State *L)
{
	int			n = lua_gettop(L);

	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_pushvalue(L, 1);
	for (int i = 3; i <= n; i++)
		lua_pushvalue(L, i);
	if (lua_pcall(L, n - 2, LUA_MULTRET, 0) == LUA_OK)
	{
		lua_pushboolean(L, 1);
		lua_insert(L, n + 1);
		return lua_gettop(L) - n;
	}
	lua_pushvalue(L, 2);
	lua_insert(L, -2);
	lua_call(L, 1, 1);
	lua_pushboolean(L, 0);
	lua_insert(L, -2);
	return 2;
}

/* pgreshard.log(...) and print(...): the values, tab-separated, into the log. */
static int
api_log(lua_State *L)
{
	sandbox    *sb = sb_of(L);
	int			n = lua_gettop(L);
	luaL_Buffer b;

	luaL_buffinit(L, &b);
	for (int i = 1; i <= n; i++)
	{
		if (i > 1)
			luaL_addchar(&b, '\t');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	log_info("hook %s: %s", sb->current ? sb->current : "(top level)", lua_tostring(L, -1));
	return 0;
}

/* One value for pgreshard.hash: a string, a number (its text), nil = NULL. */
static void
hash_arg(lua_State *L, int idx, key_value *v)
{
	size_t		len = 0;

	v->isnull = lua_isnil(L, idx);
	v->text = "";
	v->len = 0;
	if (v->isnull)
		return;
	if (lua_type(L, idx) == LUA_TNUMBER && !lua_isinteger(L, idx))
		luaL_error(L, "pgreshard.hash: %f is not an integer or a string", lua_tonumber(L, idx));
	if (lua_type(L, idx) != LUA_TSTRING && lua_type(L, idx) != LUA_TNUMBER)
		luaL_error(L, "pgreshard.hash: cannot hash a %s value", luaL_typename(L, idx));
	v->text = lua_tolstring(L, idx, &len);	/* numbers are converted in place */
	v->len = len;
}

static key_type
hash_type(lua_State *L, int idx)
{
	const char *name = luaL_checkstring(L, idx);
	key_type	t = key_type_from_name(name);

	if (t == KEY_UNSUPPORTED)
		luaL_error(L, "pgreshard.hash: unsupported type '%s' (smallint, integer, bigint, text, "
				   "varchar, char or uuid)", name);
	return t;
}

/* pgreshard.hash(value, type, nshards) or ({values}, {types}, nshards):
 * the shard PostgreSQL's hash partitioning gives the key. */
static int
api_hash(lua_State *L)
{
	key_value	vals[HASH_MAX_COLS];
	key_type	types[HASH_MAX_COLS];
	lua_Integer nshards = luaL_checkinteger(L, 3);
	int			n = 1;
	uint32_t	shard;
	char		err[256];

	if (nshards < 1 || nshards > 100000)
		return luaL_error(L, "pgreshard.hash: nshards must be between 1 and 100000, not %d", (int) nshards);
	if (lua_type(L, 1) == LUA_TTABLE)
	{
		luaL_checktype(L, 2, LUA_TTABLE);
		n = (int) luaL_len(L, 2);
		if (n < 1 || n > HASH_MAX_COLS || luaL_len(L, 1) > n)
			return luaL_error(L, "pgreshard.hash: give 1 to %d types, one per value", HASH_MAX_COLS);
		luaL_checkstack(L, 2 * n, "pgreshard.hash");
		for (int i = 0; i < n; i++)
		{
			/* both stay on the stack until the hash is done: a number's text
			 * exists only in its stack slot */
			lua_geti(L, 2, i + 1);
			types[i] = hash_type(L, -1);
			lua_geti(L, 1, i + 1);
			hash_arg(L, -1, &vals[i]);
		}
	}
	else
	{
		types[0] = hash_type(L, 2);
		hash_arg(L, 1, &vals[0]);
	}
	if (!shard_of_values(types, vals, n, (uint32_t) nshards, &shard, err, sizeof(err)))
		return luaL_error(L, "pgreshard.hash: %s", err);
	lua_pushinteger(L, (lua_Integer) shard);
	return 1;
}

static void
open_libs(lua_State *L, const char *plan_name)
{
	static const char *const removed[] = {
		"dofile", "loadfile", "load", "collectgarbage", "warn", "require", NULL
	};
	static const luaL_Reg libs[] = {
		{LUA_GNAME, luaopen_base}, {LUA_STRLIBNAME, luaopen_string},
		{LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
		{LUA_UTF8LIBNAME, luaopen_utf8}, {NULL, NULL}
	};

	for (const luaL_Reg *l = libs; l->name; l++)
	{
		luaL_requiref(L, l->name, l->func, 1);
		lua_pop(L, 1);
	}
	for (int i = 0; removed[i]; i++)
	{
		lua_pushnil(L);
		lua_setglobal(L, removed[i]);
	}
	lua_pushcfunction(L, api_log);
	lua_setglobal(L, "print");
	lua_getglobal(L, "setmetatable");
	lua_pushcclosure(L, safe_setmetatable, 1);
	lua_setglobal(L, "setmetatable");
	lua_pushcfunction(L, safe_xpcall);
	lua_setglobal(L, "xpcall");
	guard_string_functions(L);

	lua_createtable(L, 0, 3);
	lua_pushcfunction(L, api_hash);
	lua_setfield(L, -2, "hash");
	lua_pushcfunction(L, api_log);
	lua_setfield(L, -2, "log");
	lua_pushstring(L, plan_name);
	lua_setfield(L, -2, "plan_name");
	lua_setglobal(L, "pgreshard");
}

/* Message handler: the message (never converted by Lua code) and a traceback. */
static int
traceback(lua_State *L)
{
	const char *msg = NULL;

	if (lua_type(L, 1) == LUA_TSTRING || lua_type(L, 1) == LUA_TNUMBER)
		msg = lua_tostring(L, 1);
	else
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	luaL_traceback(L, L, msg, 1);
	return 1;
}

/* Run the function below nargs arguments on the stack, protected. */
static bool
protected_call(sandbox *sb, int nargs, int nresults, char *err, size_t errlen)
{
	lua_State  *L = sb->L;
	int			base = lua_gettop(L) - nargs;	/* the function's slot */
	int			status;

	lua_pushcfunction(L, traceback);
	lua_insert(L, base);
	sb->ticks = 0;
	sb->pattern_spent = 0;
	lua_sethook(L, count_hook, LUA_MASKCOUNT, COUNT_STEP);
	status = lua_pcall(L, nargs, nresults, base);
	lua_sethook(L, NULL, 0, 0);
	if (status == LUA_OK)
	{
		lua_remove(L, base);
		return true;
	}
	if (status == LUA_ERRMEM)
		snprintf(err, errlen, "%s ran out of memory (the limit is %zu MiB per hook state)",
				 sb->current ? sb->current : sb->chunkname + 1, sb->limit >> 20);
	else if (status == LUA_ERRERR)
		snprintf(err, errlen, "%s failed, and so did its error handler (error in error handling)",
				 sb->current ? sb->current : sb->chunkname + 1);
	else
		snprintf(err, errlen, "%s", lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "unknown error");
	lua_settop(L, base - 1);
	return false;
}

/* What sandbox_call runs inside the protected call: everything that may
 * allocate (the function's name, the arguments) happens in here, so that
 * a state at its memory limit raises an error instead of panicking. */
typedef struct call_req {
	sandbox    *sb;
	const char *fn;
	sandbox_push_fn push;
	void	   *arg;
	int			nresults;
} call_req;

static int
trampoline(lua_State *L)
{
	call_req   *rq = lua_touserdata(L, 1);
	int			type, n;

	lua_settop(L, 0);
	type = lua_getglobal(L, rq->fn);
	if (type != LUA_TFUNCTION)
		return luaL_error(L, "hook %s is not a function in %s (it is %s)", rq->fn,
						  rq->sb->chunkname + 1, lua_typename(L, type));
	n = rq->push ? rq->push(L, rq->arg) : 0;
	lua_call(L, n, rq->nresults);
	return rq->nresults;
}

static int
is_function(lua_State *L)
{
	const char *name = lua_touserdata(L, 1);

	lua_pushboolean(L, lua_getglobal(L, name) == LUA_TFUNCTION);
	return 1;
}

sandbox *
sandbox_open(const char *chunkname, const char *code, size_t len, const char *plan_name,
			 char *err, size_t errlen)
{
	sandbox    *sb = xcalloc(1, sizeof(sandbox));
	int			status;

	sb->limit = SANDBOX_MEM_LIMIT;
	sb->budget = SANDBOX_INSTR_BUDGET;
	sb->chunkname = xstrdup(chunkname);
	sb->L = lua_newstate(capped_alloc, sb);
	if (sb->L == NULL)
	{
		snprintf(err, errlen, "cannot create a Lua state: out of memory");
		free(sb->chunkname);
		free(sb);
		return NULL;
	}
	open_libs(sb->L, plan_name ? plan_name : "");
	status = luaL_loadbufferx(sb->L, code, len, chunkname, "t");
	if (status != LUA_OK)
	{
		snprintf(err, errlen, "%s", lua_tostring(sb->L, -1));
		sandbox_close(sb);
		return NULL;
	}
	if (!protected_call(sb, 0, 0, err, errlen))
	{
		sandbox_close(sb);
		return NULL;
	}
	return sb;
}

sandbox *
sandbox_open_file(const char *path, const char *plan_name, char *err, size_t errlen)
{
	char	   *code, *name;
	size_t		len;
	sandbox    *sb;

	if (!read_whole_file(path, "the hooks file", SANDBOX_MEM_LIMIT, &code, &len, err, errlen))
		return NULL;
	name = xasprintf("@%s", path);
	sb = sandbox_open(name, code, len, plan_name, err, errlen);
	free(name);
	free(code);
	return sb;
}

void
sandbox_close(sandbox *sb)
{
	if (sb == NULL)
		return;
	if (sb->L)
		lua_close(sb->L);
	free(sb->chunkname);
	free(sb);
}

lua_State *
sandbox_state(sandbox *sb)
{
	return sb->L;
}

bool
sandbox_has_function(sandbox *sb, const char *name)
{
	char		err[256];
	bool		yes;

	lua_pushcfunction(sb->L, is_function);
	lua_pushlightuserdata(sb->L, (void *) name);
	if (!protected_call(sb, 1, 1, err, sizeof(err)))
		return false;
	yes = lua_toboolean(sb->L, -1);
	lua_pop(sb->L, 1);
	return yes;
}

bool
sandbox_call(sandbox *sb, const char *fn, sandbox_push_fn push, void *arg, int nresults,
			 char *err, size_t errlen)
{
	call_req	rq = {sb, fn, push, arg, nresults};
	bool		ok;

	lua_pushcfunction(sb->L, trampoline);
	lua_pushlightuserdata(sb->L, &rq);
	sb->current = fn;
	ok = protected_call(sb, 1, nresults, err, errlen);
	sb->current = NULL;
	return ok;
}

void
sandbox_set_budget(sandbox *sb, long long instructions)
{
	sb->budget = instructions;
}

size_t
sandbox_memory(const sandbox *sb)
{
	return sb->used;
}
