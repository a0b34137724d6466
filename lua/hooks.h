/*
 * hooks.h — the plan's Lua hooks, called with typed arguments.
 *
 * A `hooks` is one sandboxed state (lua/sandbox.h) running the plan's
 * hooks.file; every thread that calls hooks opens its own.  The functions
 * here push the arguments CONTRACT.md promises, call the hook and check
 * what it returned.  They never log: on failure err says what the hook did
 * (with the Lua traceback) and the caller reports it once, with the table,
 * the key or the step it was working on.
 */
#ifndef PGR_HOOKS_H
#define PGR_HOOKS_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "pghash.h"
#include "plan.h"

typedef struct hooks hooks;

/* Messages from hooks: err buffers should be this large (tracebacks). */
#define HOOK_ERR_LEN 2048

/*
 * Open the plan's hooks file in a new sandbox and check that it defines
 * every function the plan names.  *out is NULL (and true is returned) when
 * the plan has no hooks file.  On failure the error is logged, naming the
 * file.
 */
bool hooks_open(const plan *p, hooks **out);
void hooks_close(hooks *h);

/* The hooks file loads and defines every function the plan names. */
bool hooks_check(const plan *p);

/* A row as hooks see it: column name -> text value (isnull: nil). */
typedef struct hook_row {
	int			ncols;
	const char *const *names;
	const key_value *vals;
} hook_row;

/* The route function for table t (its own `route:`, else hooks.route). */
const char *hooks_route_fn(const plan *p, const plan_table *t);

/*
 * route(table, row, nshards): the shard, an integer in [0, nshards).
 * False with err when the hook fails or returns anything else.
 */
/* hooks.source_route(table, row, nsources): the source a row goes back to
 * in reverse replication (several sources). */
bool hooks_source_route(hooks *h, const plan_table *t, const hook_row *row, int nsources, int *source,
						char *err, size_t errlen);
bool hooks_route(hooks *h, const plan_table *t, const hook_row *row, int nshards,
				 int *shard, char *err, size_t errlen);

/*
 * validate(table, row): *valid is false when the hook returned false (or
 * nil); reason gets its second result ("" when none).  False with err when
 * the hook itself failed.
 */
bool hooks_validate(hooks *h, const plan_table *t, const hook_row *row, bool *valid,
					char *reason, size_t reasonlen, char *err, size_t errlen);

/* before_step(step) / after_step(step, {ok=, seconds=, error=}), when defined. */
bool hooks_before_step(hooks *h, const char *step, char *err, size_t errlen);
bool hooks_after_step(hooks *h, const char *step, bool ok, double seconds,
					  const char *error, char *err, size_t errlen);

/*
 * The cutover's hooks get a context table: plan_name, nsources, nshards,
 * tables (as written in the plan), fence_lsn (when known), and
 * exec_source(i, sql, ...) / exec_shard(i, sql, ...), which run one SQL
 * statement with the extra arguments as parameters ($1, ...) and return
 * its rows (tables of column -> text) or, for a command, the rows it
 * affected.  `run` does the work; on failure it returns NULL with err set
 * (and does not log).
 */
typedef struct hook_ctx {
	const plan *plan;
	const char *fence_lsn;		/* or NULL */
	void	   *arg;
	PGresult   *(*run) (void *arg, bool shard, int index, const char *sql, int nparams,
						const char *const *params, char *err, size_t errlen);
	const char *direction;		/* "forward" (cutover) or "rollback"; NULL: forward */
} hook_ctx;

bool hooks_call_ctx(hooks *h, const char *fn, const hook_ctx *ctx, char *err, size_t errlen);

#endif
