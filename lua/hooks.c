/*
 * hooks.c — typed calls into the plan's Lua hooks.  See hooks.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "hooks.h"
#include "log.h"
#include "sandbox.h"
#include "xalloc.h"

#define EXEC_MAX_ROWS 10000
#define EXEC_MAX_PARAMS 64

struct hooks {
	sandbox    *sb;
	const plan *plan;
};

/* Every function the plan names must be a function of the file. */
static bool
check_functions(const plan *p, sandbox *sb)
{
	const struct
	{
		const char *field;
		const char *name;
	}			named[] = {
		{"hooks.route", p->sharding == SHARD_FN_LUA ? p->hooks.route : NULL},
		{"hooks.validate", p->hooks.validate},
		{"hooks.before_step", p->hooks.before_step},
		{"hooks.after_step", p->hooks.after_step},
		{"hooks.on_freeze", p->hooks.on_freeze},
		{"hooks.on_unfreeze", p->hooks.on_unfreeze},
		{"hooks.source_route", p->hooks.source_route},
		{"cutover.switch", p->cutover.switch_fn},
	};
	bool		ok = true;

	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		if (named[i].name && !sandbox_has_function(sb, named[i].name))
		{
			log_error("%s: %s names %s, which %s does not define as a function", p->path,
					  named[i].field, named[i].name, p->hooks.file);
			ok = false;
		}
	for (int i = 0; p->sharding == SHARD_FN_LUA && i < p->ntables; i++)
		if (p->tables[i].route && !sandbox_has_function(sb, p->tables[i].route))
		{
			log_error("%s: table %s: route names %s, which %s does not define as a function",
					  p->path, p->tables[i].spec, p->tables[i].route, p->hooks.file);
			ok = false;
		}
	return ok;
}

bool
hooks_open(const plan *p, hooks **out)
{
	char		err[HOOK_ERR_LEN];
	sandbox    *sb;

	*out = NULL;
	if (p->hooks.path == NULL)
		return true;
	if ((sb = sandbox_open_file(p->hooks.path, p->name, err, sizeof(err))) == NULL)
	{
		log_error("hooks.file %s: %s", p->hooks.file, err);
		return false;
	}
	if (!check_functions(p, sb))
	{
		sandbox_close(sb);
		return false;
	}
	*out = xcalloc(1, sizeof(hooks));
	(*out)->sb = sb;
	(*out)->plan = p;
	return true;
}

bool
hooks_check(const plan *p)
{
	hooks	   *h;

	if (!hooks_open(p, &h))
		return false;
	hooks_close(h);
	return true;
}

void
hooks_close(hooks *h)
{
	if (h == NULL)
		return;
	sandbox_close(h->sb);
	free(h);
}

const char *
hooks_route_fn(const plan *p, const plan_table *t)
{
	return t->route ? t->route : p->hooks.route;
}

static void
push_row(lua_State *L, const hook_row *row)
{
	lua_createtable(L, 0, row->ncols);
	for (int i = 0; i < row->ncols; i++)
	{
		if (row->vals[i].isnull)
			continue;
		lua_pushlstring(L, row->vals[i].text, row->vals[i].len);
		lua_setfield(L, -2, row->names[i]);
	}
}

/* Arguments of route(table, row, nshards) and validate(table, row). */
typedef struct row_args {
	const char *table;
	const hook_row *row;
	int			nshards;		/* 0: validate */
} row_args;

static int
push_row_args(lua_State *L, void *arg)
{
	const row_args *a = arg;

	lua_pushstring(L, a->table);
	push_row(L, a->row);
	if (a->nshards == 0)
		return 2;
	lua_pushinteger(L, a->nshards);
	return 3;
}

/* A short description of the Lua value at idx, for messages. */
static void
describe(lua_State *L, int idx, char *buf, size_t len)
{
	switch (lua_type(L, idx))
	{
		case LUA_TNUMBER:
			if (lua_isinteger(L, idx))
				snprintf(buf, len, "%lld", (long long) lua_tointeger(L, idx));
			else
				snprintf(buf, len, "%.17g", lua_tonumber(L, idx));
			break;
		case LUA_TSTRING:
			snprintf(buf, len, "the string \"%.60s\"", lua_tostring(L, idx));
			break;
		case LUA_TBOOLEAN:
			snprintf(buf, len, "%s", lua_toboolean(L, idx) ? "true" : "false");
			break;
		default:
			snprintf(buf, len, "%s", luaL_typename(L, idx));
	}
}

static bool route_with(hooks *h, const char *fn, const plan_table *t, const hook_row *row, int nshards,
					   int *shard, char *err, size_t errlen);

bool
hooks_route(hooks *h, const plan_table *t, const hook_row *row, int nshards, int *shard,
			char *err, size_t errlen)
{
	return route_with(h, hooks_route_fn(h->plan, t), t, row, nshards, shard, err, errlen);
}

bool
hooks_source_route(hooks *h, const plan_table *t, const hook_row *row, int nsources, int *source,
				   char *err, size_t errlen)
{
	return route_with(h, h->plan->hooks.source_route, t, row, nsources, source, err, errlen);
}

static bool
route_with(hooks *h, const char *fn, const plan_table *t, const hook_row *row, int nshards, int *shard,
		   char *err, size_t errlen)
{
	lua_State  *L = sandbox_state(h->sb);
	lua_Integer v = 0;
	int			isint = 0;

	row_args	a = {t->spec, row, nshards};

	if (!sandbox_call(h->sb, fn, push_row_args, &a, 1, err, errlen))
		return false;
	if (lua_type(L, -1) == LUA_TNUMBER)
		v = lua_tointegerx(L, -1, &isint);
	if (!isint || v < 0 || v >= nshards)
	{
		char		what[96];

		describe(L, -1, what, sizeof(what));
		snprintf(err, errlen, "route hook %s returned %s; it must return an integer shard number "
				 "from 0 to %d", fn, what, nshards - 1);
		lua_pop(L, 1);
		return false;
	}
	*shard = (int) v;
	lua_pop(L, 1);
	return true;
}

bool
hooks_validate(hooks *h, const plan_table *t, const hook_row *row, bool *valid,
			   char *reason, size_t reasonlen, char *err, size_t errlen)
{
	lua_State  *L = sandbox_state(h->sb);
	row_args	a = {t->spec, row, 0};

	if (!sandbox_call(h->sb, h->plan->hooks.validate, push_row_args, &a, 2, err, errlen))
		return false;
	*valid = lua_toboolean(L, -2);
	reason[0] = '\0';
	if (!*valid && lua_type(L, -1) == LUA_TSTRING)
		snprintf(reason, reasonlen, "%s", lua_tostring(L, -1));
	else if (!*valid && !lua_isnil(L, -1))
		describe(L, -1, reason, reasonlen);
	lua_pop(L, 2);
	return true;
}

/* Arguments of before_step(step) and after_step(step, result). */
typedef struct step_args {
	const char *step;
	bool		after;
	bool		ok;
	double		seconds;
	const char *error;
} step_args;

static int
push_step_args(lua_State *L, void *arg)
{
	const step_args *a = arg;

	lua_pushstring(L, a->step);
	if (!a->after)
		return 1;
	lua_createtable(L, 0, 3);
	lua_pushboolean(L, a->ok);
	lua_setfield(L, -2, "ok");
	lua_pushnumber(L, a->seconds);
	lua_setfield(L, -2, "seconds");
	if (a->error && *a->error)
	{
		lua_pushstring(L, a->error);
		lua_setfield(L, -2, "error");
	}
	return 2;
}

bool
hooks_before_step(hooks *h, const char *step, char *err, size_t errlen)
{
	step_args	a = {step, false, true, 0, NULL};

	return h->plan->hooks.before_step == NULL ||
		sandbox_call(h->sb, h->plan->hooks.before_step, push_step_args, &a, 0, err, errlen);
}

bool
hooks_after_step(hooks *h, const char *step, bool ok, double seconds, const char *error,
				 char *err, size_t errlen)
{
	step_args	a = {step, true, ok, seconds, error};

	return h->plan->hooks.after_step == NULL ||
		sandbox_call(h->sb, h->plan->hooks.after_step, push_step_args, &a, 0, err, errlen);
}

/* ---- the cutover context ---- */

/* The result as Lua values; run protected (the PGresult must be freed
 * even when building the tables runs out of memory). */
static int
result_to_lua(lua_State *L)
{
	const PGresult *res = lua_touserdata(L, 1);

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		const char *n = PQcmdTuples((PGresult *) res);

		lua_pushinteger(L, n && *n ? atoll(n) : 0);
		return 1;
	}
	if (PQntuples(res) > EXEC_MAX_ROWS)
		return luaL_error(L, "the query returned more than %d rows; hooks get at most that many",
						  EXEC_MAX_ROWS);
	lua_createtable(L, PQntuples(res), 0);
	for (int r = 0; r < PQntuples(res); r++)
	{
		lua_createtable(L, 0, PQnfields(res));
		for (int c = 0; c < PQnfields(res); c++)
		{
			if (PQgetisnull(res, r, c))
				continue;
			lua_pushlstring(L, PQgetvalue(res, r, c), (size_t) PQgetlength(res, r, c));
			lua_setfield(L, -2, PQfname(res, c));
		}
		lua_rawseti(L, -2, r + 1);
	}
	return 1;
}

/* ctx.exec_source(i, sql, ...) / ctx.exec_shard(i, sql, ...): upvalue 1 is
 * the hook_ctx, upvalue 2 whether it runs on a shard. */
static int
ctx_exec(lua_State *L)
{
	const hook_ctx *const *box = lua_touserdata(L, lua_upvalueindex(1));
	const hook_ctx *ctx = *box;
	bool		shard = lua_toboolean(L, lua_upvalueindex(2));
	lua_Integer idx = luaL_checkinteger(L, 1);
	const char *sql = luaL_checkstring(L, 2);
	int			nparams = lua_gettop(L) - 2, limit;
	const char *params[EXEC_MAX_PARAMS];
	char		err[1024];
	PGresult   *res;
	int			status;

	if (ctx == NULL)
		return luaL_error(L, "ctx.%s can only be used during the hook call that received ctx",
						  shard ? "exec_shard" : "exec_source");
	limit = shard ? ctx->plan->nshards : ctx->plan->nsources;

	if (idx < 0 || idx >= limit)
		return luaL_error(L, "%s %d does not exist (there are %d, numbered from 0)",
						  shard ? "shard" : "source", (int) idx, limit);
	if (nparams > EXEC_MAX_PARAMS)
		return luaL_error(L, "at most %d parameters", EXEC_MAX_PARAMS);
	for (int i = 0; i < nparams; i++)
		params[i] = lua_isnil(L, i + 3) ? NULL : luaL_checkstring(L, i + 3);
	res = ctx->run(ctx->arg, shard, (int) idx, sql, nparams, params, err, sizeof(err));
	if (res == NULL)
		return luaL_error(L, "%s", err);
	lua_pushcfunction(L, result_to_lua);
	lua_pushlightuserdata(L, res);
	status = lua_pcall(L, 1, 1, 0);
	PQclear(res);
	return status == LUA_OK ? 1 : lua_error(L);
}

/* The context table; its exec functions reach the hook_ctx through a box
 * that is emptied when the call returns (a hook may keep the functions).
 * The registry holds the box until then, so it cannot be collected early. */
typedef struct ctx_call {
	const hook_ctx *ctx;
	int			box_ref;		/* LUA_NOREF until pushed */
} ctx_call;

static int
push_ctx(lua_State *L, void *arg)
{
	ctx_call   *cc = arg;
	const hook_ctx *ctx = cc->ctx;
	const plan *p = ctx->plan;
	const hook_ctx **box = lua_newuserdatauv(L, sizeof(*box), 0);

	*box = ctx;
	lua_pushvalue(L, -1);
	cc->box_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_createtable(L, 0, 7);
	lua_pushstring(L, p->name);
	lua_setfield(L, -2, "plan_name");
	lua_pushinteger(L, p->nsources);
	lua_setfield(L, -2, "nsources");
	lua_pushinteger(L, p->nshards);
	lua_setfield(L, -2, "nshards");
	if (ctx->fence_lsn)
	{
		lua_pushstring(L, ctx->fence_lsn);
		lua_setfield(L, -2, "fence_lsn");
	}
	lua_pushstring(L, ctx->direction ? ctx->direction : "forward");
	lua_setfield(L, -2, "direction");
	lua_createtable(L, p->ntables, 0);
	for (int i = 0; i < p->ntables; i++)
	{
		lua_pushstring(L, p->tables[i].spec);
		lua_rawseti(L, -2, i + 1);
	}
	lua_setfield(L, -2, "tables");
	for (int shard = 0; shard < 2; shard++)
	{
		lua_pushvalue(L, -2);	/* the box */
		lua_pushboolean(L, shard);
		lua_pushcclosure(L, ctx_exec, 2);
		lua_setfield(L, -2, shard ? "exec_shard" : "exec_source");
	}
	lua_remove(L, -2);			/* the box */
	return 1;
}

bool
hooks_call_ctx(hooks *h, const char *fn, const hook_ctx *ctx, char *err, size_t errlen)
{
	lua_State  *L = sandbox_state(h->sb);
	ctx_call	cc = {ctx, LUA_NOREF};
	bool		ok = sandbox_call(h->sb, fn, push_ctx, &cc, 0, err, errlen);

	if (cc.box_ref != LUA_NOREF && cc.box_ref != LUA_REFNIL)
	{
		lua_rawgeti(L, LUA_REGISTRYINDEX, cc.box_ref);
		*(const hook_ctx **) lua_touserdata(L, -1) = NULL;
		lua_pop(L, 1);
		luaL_unref(L, LUA_REGISTRYINDEX, cc.box_ref);
	}
	return ok;
}
