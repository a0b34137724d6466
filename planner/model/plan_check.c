/*
 * plan_check.c — the parts of a plan that mean something beyond YAML: the
 * `tables:` section (SQL table and column names, one placement per table,
 * each table once), Lua function names, and the rules that tie sections
 * together (Lua hooks need a hooks file that exists, `function: lua` needs a
 * route for every sharded table, `freeze: hook` needs `hooks.on_freeze`, ...).
 *
 * Cross-section rules look at where keys were written (plan_marks) rather
 * than at the values that made it into the model, so a key whose value was
 * already refused does not also trigger "X needs Y" — one mistake, one
 * message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "plan.h"
#include "sqlname.h"
#include "xalloc.h"
#include "yaml_util.h"

static const char *const table_keys[] = {"key", "replicate", "route", "reads", NULL};

/* One column name as SQL writes it; *out gets the catalog name. */
static bool
load_column(ydoc *d, yaml_node_t *node, const char *field, char **out)
{
	char *text;
	char err[200];
	bool ok;

	if (!yget_string(d, node, field, &text))
		return false;
	ok = sqlname_parse_ident(text, out, err, sizeof(err));
	if (!ok)
		yerr(d, ynode_pos(node), "%s: invalid column name '%.80s': %s",
			 field, yraw(node), err);
	free(text);
	return ok;
}

/*
 * A column name or a non-empty list of distinct ones.  *cols is allocated
 * even on a problem (the caller's table is freed then), with *n entries.
 */
static void
load_columns(ydoc *d, yaml_node_t *node, const char *field,
			 int *n, char ***cols)
{
	int len, got = 0;
	char **names;

	if (node->type == YAML_MAPPING_NODE)
	{
		yerr(d, ynode_pos(node), "%s must be a column name or a "
			 "list of column names, found a mapping", field);
		return;
	}
	if (node->type == YAML_SCALAR_NODE)
	{
		*cols = xcalloc(1, sizeof(char *));
		if (load_column(d, node, field, &(*cols)[0]))
			*n = 1;
		return;
	}
	len = ylist_len(node);
	if (len == 0)
	{
		yerr(d, ynode_pos(node), "%s is an empty list", field);
		return;
	}
	names = xcalloc(1, sizeof(char *) * len);
	for (int i = 0; i < len; i++)
	{
		yaml_node_t *item = ylist_item(d, node, i);
		char itemfield[300];

		snprintf(itemfield, sizeof(itemfield), "%s[%d]", field, i);
		if (!load_column(d, item, itemfield, &names[got]))
			continue;
		for (int j = 0; j < got; j++)
			if (strcmp(names[j], names[got]) == 0)
			{
				yerr(d, ynode_pos(item), "%s: column '%.80s' is listed twice",
					 field, yraw(item));
				break;
			}
		got++;
	}
	*cols = names;
	*n = got;
}

void
plan_table_clear(plan_table *t)
{
	free(t->spec);
	free(t->schema);
	free(t->relname);
	for (int i = 0; i < t->nkeys; i++)
		free(t->keys[i]);
	free(t->keys);
	free(t->route);
	for (int i = 0; i < t->nreads; i++)
		free(t->reads[i]);
	free(t->reads);
	memset(t, 0, sizeof(*t));
}

/* key / replicate: exactly one way to place the table's rows. */
static void
load_placement(ydoc *d, yaml_node_t *map, plan_table *t, const char *what)
{
	plan_pos key_pos, rep_pos;
	yaml_node_t *key = ymap_get(d, map, "key", &key_pos);
	yaml_node_t *rep = ymap_get(d, map, "replicate", &rep_pos);
	char field[256];
	bool replicate = false;

	snprintf(field, sizeof(field), "%s: replicate", what);
	if (rep != NULL && !yget_bool(d, rep, field, &replicate))
		return;
	if (key != NULL && replicate)
		yerr(d, rep_pos, "%s has both key and replicate: true; "
			 "give key to shard it or replicate: true to copy it whole", what);
	else if (key != NULL)
	{
		snprintf(field, sizeof(field), "%s: key", what);
		t->key_pos = ynode_pos(key);
		load_columns(d, key, field, &t->nkeys, &t->keys);
	}
	else if (replicate)
		t->replicate = true;
	else
		yerr(d, t->pos, "%s needs key: COLUMN (to shard it) or "
			 "replicate: true (to copy it to every shard)", what);
}

/* route / reads: only for a sharded table. */
static void
load_route(ydoc *d, yaml_node_t *map, plan_table *t, const char *what)
{
	plan_pos route_key, reads_key;
	yaml_node_t *route = ymap_get(d, map, "route", &route_key);
	yaml_node_t *reads = ymap_get(d, map, "reads", &reads_key);
	char field[256];

	if (route != NULL)
	{
		t->route_pos = ynode_pos(route);
		snprintf(field, sizeof(field), "%s: route", what);
		if (t->replicate)
			yerr(d, route_key, "%s is replicated to every shard; "
				 "route applies only to a table with a key", what);
		else
			yget_lua_name(d, route, field, &t->route);
	}
	if (reads != NULL)
	{
		snprintf(field, sizeof(field), "%s: reads", what);
		if (t->replicate)
			yerr(d, reads_key, "%s is replicated to every shard; "
				 "reads applies only to a table with a key", what);
		else if (ykind(d, reads, YAML_SEQUENCE_NODE, field))
			load_columns(d, reads, field, &t->nreads, &t->reads);
	}
}

/* One `tables:` entry; false (and *t cleared) when it had a problem. */
static bool
load_table(ydoc *d, yaml_node_t *key, yaml_node_t *value, plan_table *t)
{
	int errors = d->nerrors;
	char err[200];
	char what[160];

	memset(t, 0, sizeof(*t));
	t->pos = ynode_pos(key);
	snprintf(what, sizeof(what), "table '%.80s'", yraw(key));
	if (!sqlname_parse_qualified(yraw(key), &t->schema, &t->relname,
								 err, sizeof(err)))
	{
		yerr(d, t->pos, "invalid table name '%.80s': %s", yraw(key), err);
		return false;
	}
	t->spec = xstrdup(yraw(key));
	if (value->type != YAML_MAPPING_NODE)
	{
		yerr(d, yis_null(value) ? t->pos : ynode_pos(value),
			 "%s must be a mapping such as { key: id } or { replicate: true }, "
			 "found %s", what, ynode_kind(value));
		plan_table_clear(t);
		return false;
	}
	snprintf(err, sizeof(err), "in %s", what);
	ymap_check(d, value, err, table_keys);
	load_placement(d, value, t, what);
	load_route(d, value, t, what);
	if (d->nerrors != errors)
	{
		plan_table_clear(t);
		return false;
	}
	return true;
}

/* Two entries naming one table ("x" and public.x) are an error. */
static bool
check_table_unique(ydoc *d, const plan *p, const plan_table *t)
{
	for (int i = 0; i < p->ntables; i++)
	{
		const plan_table *other = &p->tables[i];
		char *display;

		if (strcmp(other->schema, t->schema) != 0 ||
			strcmp(other->relname, t->relname) != 0)
			continue;
		display = sqlname_quote_qualified(t->schema, t->relname);
		yerr(d, t->pos, "table '%.80s' is %s, already listed as '%.80s' "
			 "at line %d", t->spec, display ? display : "the same table",
			 other->spec, other->pos.line);
		free(display);
		return false;
	}
	return true;
}

void
plan_load_tables(ydoc *d, plan *p, yaml_node_t *map)
{
	int npairs;

	if (!ykind(d, map, YAML_MAPPING_NODE, "tables"))
		return;
	ymap_check(d, map, "in tables", NULL);
	npairs = (int) (map->data.mapping.pairs.top - map->data.mapping.pairs.start);
	if (npairs == 0)
	{
		yerr(d, ynode_pos(map), "tables is empty; list every table of "
			 "the publication");
		return;
	}
	p->tables = xcalloc(1, sizeof(plan_table) * npairs);
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
		 pair < map->data.mapping.pairs.top; pair++)
	{
		yaml_node_t *key = ynode(d, pair->key);
		plan_table *t = &p->tables[p->ntables];

		if (key->type != YAML_SCALAR_NODE ||
			ymap_earlier_key(d, map, pair) != NULL)
			continue;			/* reported by ymap_check */
		if (!load_table(d, key, ynode(d, pair->value), t))
			continue;
		if (!check_table_unique(d, p, t))
			plan_table_clear(t);
		else
			p->ntables++;
	}
}
/* Resolve hooks.file against the plan's directory; it must be readable. */
static void
check_hooks_file(ydoc *d, plan *p)
{
	plan_hooks *h = &p->hooks;
	struct stat st;

	if (h->file == NULL)
		return;
	if (h->file[0] == '/')
		h->path = xstrdup(h->file);
	else
	{
		size_t len = strlen(p->dir) + strlen(h->file) + 2;

		h->path = xcalloc(1, len);
		snprintf(h->path, len, "%s/%s", p->dir, h->file);
	}
	if (stat(h->path, &st) != 0)
		yerr(d, h->file_pos, "hooks.file '%.200s' cannot be opened: %.300s: %s",
			 h->file, h->path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		yerr(d, h->file_pos, "hooks.file '%.200s' is not a regular file (%.300s)",
			 h->file, h->path);
	else if (access(h->path, R_OK) != 0)
		yerr(d, h->file_pos, "hooks.file '%.200s' cannot be read: %.300s: %s",
			 h->file, h->path, strerror(errno));
}

/* Every Lua function named anywhere needs the file that defines it. */
static void
check_lua_needs_file(ydoc *d, const plan *p, const plan_marks *m)
{
	static const char *const why =
		"names a Lua function, but hooks.file (the Lua file that defines it) "
		"is not set";

	if (m->hooks_file.line != 0)
		return;
	for (int i = 0; i < HOOK_NFUNCS; i++)
		if (m->hook_fn[i].line != 0)
			yerr(d, m->hook_fn[i], "hooks.%s %s", hook_fn_keys[i], why);
	for (int i = 0; i < p->ntables; i++)
		if (p->tables[i].route_pos.line != 0)
			yerr(d, p->tables[i].route_pos, "table '%.80s': route %s",
				 p->tables[i].spec, why);
	if (m->switch_fn.line != 0)
		yerr(d, m->switch_fn, "cutover.switch %s", why);
}

/*
 * Route functions are used with sharding.function: lua.  With hash they are
 * only warned about: CONTRACT.md's own example names hooks.route next to
 * function: hash, so refusing that plan would break copied examples.
 */
static void
warn_unused_routes(ydoc *d, const plan *p, const plan_marks *m)
{
	if (m->hook_fn[HOOK_ROUTE].line != 0)
		log_warn("%s:%d:%d: hooks.route is not used: sharding.function is "
				 "hash%s; set sharding.function: lua to route rows with Lua",
				 d->path, m->hook_fn[HOOK_ROUTE].line, m->hook_fn[HOOK_ROUTE].col,
				 m->sharding_fn.line != 0 ? "" : " (the default)");
	for (int i = 0; i < p->ntables; i++)
		if (p->tables[i].route_pos.line != 0)
			log_warn("%s:%d:%d: table '%.80s': route is not used: "
					 "sharding.function is hash; set sharding.function: lua "
					 "to route rows with Lua", d->path,
					 p->tables[i].route_pos.line, p->tables[i].route_pos.col,
					 p->tables[i].spec);
}

/* With sharding.function: lua, every sharded table needs a route function. */
static void
check_routing(ydoc *d, const plan *p, const plan_marks *m)
{
	bool global = m->hook_fn[HOOK_ROUTE].line != 0;
	bool any = global;

	if (m->sharding_bad)
		return;
	if (p->sharding == SHARD_FN_HASH)
	{
		warn_unused_routes(d, p, m);
		return;
	}
	for (int i = 0; i < p->ntables; i++)
		any |= p->tables[i].route_pos.line != 0;
	if (!any && m->hooks_file.line == 0)
	{
		yerr(d, m->sharding_fn, "sharding.function: lua needs hooks.file (the "
			 "Lua file) and hooks.route (the function that picks each row's "
			 "shard)");
		return;
	}
	for (int i = 0; i < p->ntables && !global; i++)
	{
		const plan_table *t = &p->tables[i];

		if (!t->replicate && t->route_pos.line == 0)
			yerr(d, t->pos, "table '%.80s' has no route function, and "
				 "sharding.function is lua (line %d); set hooks.route or give "
				 "the table route: FUNCTION", t->spec, m->sharding_fn.line);
	}
}

void
plan_check(ydoc *d, plan *p, const plan_marks *m)
{
	check_hooks_file(d, p);
	check_lua_needs_file(d, p, m);
	check_routing(d, p, m);
	if (p->cutover.freeze == FREEZE_HOOK && m->hook_fn[HOOK_ON_FREEZE].line == 0)
		yerr(d, m->freeze, "cutover.freeze: hook needs hooks.on_freeze (the "
			 "Lua function that stops writes on the source)");
}

/* ---- Lua function names ---- */

bool
ylua_ident(const char *s, char *err, size_t errlen)
{
	static const char *const keywords[] = {
		"and", "break", "do", "else", "elseif", "end", "false", "for",
		"function", "goto", "if", "in", "local", "nil", "not", "or",
		"repeat", "return", "then", "true", "until", "while", NULL
	};

	if (s[0] == '\0')
	{
		snprintf(err, errlen, "a Lua function name must not be empty");
		return false;
	}
	for (int i = 0; keywords[i] != NULL; i++)
		if (strcmp(s, keywords[i]) == 0)
		{
			snprintf(err, errlen, "'%s' is a Lua keyword, not a function name", s);
			return false;
		}
	for (const char *c = s; *c != '\0'; c++)
	{
		bool alpha = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			*c == '_';

		if (!alpha && !(c != s && *c >= '0' && *c <= '9'))
		{
			snprintf(err, errlen,
					 "'%.60s' is not a Lua function name "
					 "(letters, digits and _, not starting with a digit)", s);
			return false;
		}
	}
	return true;
}

bool
yget_lua_name(ydoc *d, yaml_node_t *node, const char *field, char **out)
{
	char err[200];
	char *text;

	if (!yget_string(d, node, field, &text))
		return false;
	if (!ylua_ident(text, err, sizeof(err)))
	{
		yerr(d, ynode_pos(node), "%s: %s", field, err);
		free(text);
		return false;
	}
	*out = text;
	return true;
}
