/*
 * sandbox.h — a sandboxed Lua 5.4 state for user hooks.
 *
 * One state per thread (a state is never shared).  What a hook can reach:
 * the base library without dofile, loadfile, load, collectgarbage and warn
 * (print goes to pgreshard's log), and the string, table, math and utf8
 * libraries without string.dump; plus the `pgreshard` table (hash, log,
 * plan_name).  No io, os, require, package, debug or coroutine.
 *
 * Limits, so that a bad hook fails cleanly and the process stays healthy:
 *   - only text chunks are loaded (never bytecode);
 *   - every call has an instruction budget (a count hook): a runaway loop
 *     fails with the hook's name and line within about a second;
 *   - the state's memory is capped by its allocator;
 *   - string.find/match/gmatch/gsub refuse a pattern whose worst-case
 *     backtracking on the given subject would exceed a fixed budget (the
 *     count hook cannot interrupt a C function); plain finds are exempt;
 *   - metatables with __gc are refused (finalizers run with hooks off);
 *   - the string metatable is hidden (getmetatable("") is false);
 *   - error objects are never converted with __tostring (no Lua code runs
 *     inside the error handler); xpcall runs its handler after the error,
 *     not inside it (Lua would run it with hooks off); errors carry the
 *     Lua traceback.
 */
#ifndef PGR_SANDBOX_H
#define PGR_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

#include <lua.h>

#define SANDBOX_MEM_LIMIT		(64u << 20)	/* bytes per state */
#define SANDBOX_INSTR_BUDGET	50000000LL	/* VM instructions per call */
#define SANDBOX_PATTERN_BUDGET	100000000.0	/* estimated matcher steps per call */

typedef struct sandbox sandbox;

/*
 * A new state running `code` (the hooks file's text; `chunkname` names it
 * in messages, e.g. "@hooks/shop.lua").  NULL with a message in err when
 * the file does not compile or its top level fails.
 */
sandbox *sandbox_open(const char *chunkname, const char *code, size_t len,
					  const char *plan_name, char *err, size_t errlen);
void sandbox_close(sandbox *sb);

/* Same, reading the file at path (its name in messages is the path). */
sandbox *sandbox_open_file(const char *path, const char *plan_name, char *err, size_t errlen);

lua_State *sandbox_state(sandbox *sb);

/* Is `name` a global function of the hooks file? */
bool sandbox_has_function(sandbox *sb, const char *name);

/* Pushes a call's arguments onto L and returns how many. */
typedef int (*sandbox_push_fn) (lua_State *L, void *arg);

/*
 * Call the global function `fn` with the arguments `push` pushes (push may
 * be NULL: none), under the instruction budget.  Everything, pushing the
 * arguments included, runs protected: a state at its memory limit fails
 * the call, never the process.  On success the nresults results are on the
 * stack (the caller pops them; reading them must not allocate: no
 * lua_tostring on numbers).  On failure err says what failed, with the
 * traceback, and the stack is as before.
 */
bool sandbox_call(sandbox *sb, const char *fn, sandbox_push_fn push, void *arg, int nresults,
				  char *err, size_t errlen);

/* Lower the instruction budget per call (tests). */
void sandbox_set_budget(sandbox *sb, long long instructions);

/*
 * Worst-case matcher steps of Lua pattern pat (plen bytes) on a subject of
 * n bytes, as the pattern guard estimates them (gmatch: never anchored).
 */
double sandbox_pattern_cost(const char *pat, size_t plen, size_t n, bool gmatch);

/* Bytes the state has allocated now. */
size_t sandbox_memory(const sandbox *sb);

#endif
