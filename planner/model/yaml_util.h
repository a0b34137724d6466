/*
 * yaml_util.h — the plan loader's internals, shared by plan_load.c (walks the
 * libyaml document into the model), plan_check.c (the tables section, Lua
 * names, checks between fields) and yaml_util.c (the YAML-level helpers).
 *
 * Everything reports problems the same way: yerr() logs
 * "FILE:LINE:COL: message" and counts it, and the caller carries on so that
 * one run shows every problem in the file.  Getters return false when the
 * value was unusable (already reported) and leave *out alone.
 *
 * Scalar values are the text as written with ${VAR} taken from the
 * environment ($$ is a literal $).  Messages quote values as written in the
 * file, never expanded, and never quote a conninfo at all.
 */
#ifndef PGR_YAML_UTIL_H
#define PGR_YAML_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "plan.h"

/* The document being read, and how many problems it had so far. */
typedef struct ydoc {
	const char *path;			/* for messages */
	yaml_document_t *doc;
	int nerrors;
} ydoc;

/* Positions and messages. */
plan_pos ynode_pos(const yaml_node_t *node);
void yerr(ydoc *d, plan_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const char *ynode_kind(const yaml_node_t *node);	/* "a list", ... */
const char *yraw(const yaml_node_t *node);		/* scalar text as written */
bool yis_null(const yaml_node_t *node);			/* empty, ~ or null */

/* Text helpers. */
const char *ysuggest(const char *word, const char *const *choices);
bool yexpand_env(const char *in, char **out, char *err, size_t errlen);

/* Mappings and lists. */
yaml_node_t *ynode(ydoc *d, int index);
bool ykind(ydoc *d, yaml_node_t *node, yaml_node_type_t type,
		   const char *field);
void ymap_check(ydoc *d, yaml_node_t *map, const char *where,
				const char *const *allowed);
yaml_node_t *ymap_earlier_key(ydoc *d, yaml_node_t *map,
							  yaml_node_pair_t *pair);
yaml_node_t *ymap_get(ydoc *d, yaml_node_t *map, const char *key,
					  plan_pos *keypos);
int ylist_len(const yaml_node_t *list);
yaml_node_t *ylist_item(ydoc *d, yaml_node_t *list, int i);

/* Parse exactly one non-empty document; problems are reported here. */
bool yparse_document(const char *path, const char *text, size_t len,
					 yaml_document_t *doc);

/* Scalar values; `field` names the value in messages ("copy.jobs"). */
bool yget_string(ydoc *d, yaml_node_t *node, const char *field, char **out);
bool yget_bool(ydoc *d, yaml_node_t *node, const char *field, bool *out);
/* A size: "200GB", "512 MB", "1048576" (bytes); units B kB MB GB TB, 1024-based. */
bool parse_size(const char *text, long long *bytes);
bool yget_size(ydoc *d, yaml_node_t *node, const char *field, long long *out);
bool yget_int(ydoc *d, yaml_node_t *node, const char *field,
			  long long min, long long max, long long *out);
bool yget_enum(ydoc *d, yaml_node_t *node, const char *field,
			   const char *const *names, int *out);

/*
 * Where optional keys that other fields depend on were written (line 0 when
 * absent), so plan_check() can point at them even when their value was bad
 * and so avoid a second, derived complaint.
 */
enum
{
	HOOK_ROUTE, HOOK_VALIDATE, HOOK_BEFORE_STEP, HOOK_AFTER_STEP,
	HOOK_ON_FREEZE, HOOK_ON_UNFREEZE, HOOK_SOURCE_ROUTE, HOOK_NFUNCS
};

typedef struct plan_marks {
	plan_pos sharding_fn;		/* sharding.function value */
	bool sharding_bad;			/* the sharding section had a problem */
	plan_pos hooks_file;		/* hooks.file value */
	plan_pos hook_fn[HOOK_NFUNCS];	/* hooks.route ... hooks.on_freeze */
	plan_pos freeze;			/* cutover.freeze value */
	plan_pos switch_fn;			/* cutover.switch value */
} plan_marks;

extern const char *const hook_fn_keys[HOOK_NFUNCS];

/* plan_check.c: the tables section, checks between fields, Lua names. */
void plan_load_tables(ydoc *d, plan *p, yaml_node_t *map);
void plan_table_clear(plan_table *t);
void plan_check(ydoc *d, plan *p, const plan_marks *m);
bool ylua_ident(const char *s, char *err, size_t errlen);
bool yget_lua_name(ydoc *d, yaml_node_t *node, const char *field, char **out);

#endif
