/*
 * plan_load.c — read a plan file (version 1) into the plan model.
 *
 * The file is parsed whole with libyaml's document API, so every node keeps
 * its line and column, and then walked section by section.  Each section
 * checks its own keys (unknown ones get a "did you mean" hint, duplicates
 * point at the first occurrence), types and ranges, and fills its part of the
 * model.  A problem is reported where it is and the walk goes on, so one run
 * lists everything that is wrong; checks that relate several sections run
 * afterwards in plan_check.c.  When anything was reported the half-built
 * model is freed and the caller gets nothing: bad input never half-acts
 * (DESIGN.md invariant 10).
 *
 * Conninfo strings may carry passwords, so no message ever quotes one; they
 * are named by their field ("destination.shards[2]") instead.
 */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "plan.h"
#include "readfile.h"
#include "sqlname.h"
#include "xalloc.h"
#include "yaml_util.h"

#define MAX_DEST_SHARDS 256

typedef struct loader {
	ydoc d;
	plan *p;
	plan_marks m;
} loader;

static const char *const root_keys[] = {
	"version", "name", "source", "destination", "tables", "sharding",
	"hooks", "copy", "cutover", "schema_changes", "schema", NULL
};
static const char *const source_keys[] = {
	"dsn", "shards", "publication", "create_publication", "max_retained_wal", NULL
};
static const char *const destination_keys[] = {"shards", NULL};
static const char *const sharding_keys[] = {"function", NULL};
static const char *const hooks_keys[] = {
	"file", "route", "validate", "validate_mode", "before_step",
	"after_step", "on_freeze", "on_unfreeze", "source_route", NULL
};
static const char *const copy_keys[] = {"jobs", "chunk_rows", "scan_passes", "scan_pass_size", "keep_snapshot_s",
	NULL};
static const char *const schema_keys[] = {"skip_owners", "matviews", NULL};
static const char *const cutover_keys[] = {
	"mode", "freeze", "max_lag_bytes", "timeout_s", "switch",
	"switch_command", "verify", "leave_source_writable", "sequence_gap", "reverse",
	"reverse_max_retained", NULL
};

/* A key the section cannot do without; reported at the section's position. */
static yaml_node_t *
required(loader *ld, yaml_node_t *map, const char *key, const char *where,
		 plan_pos parent, plan_pos *keypos)
{
	yaml_node_t *value = ymap_get(&ld->d, map, key, keypos);

	if (value == NULL)
		yerr(&ld->d, parent, "missing required key '%s' %s", key, where);
	return value;
}

static void
opt_int(loader *ld, yaml_node_t *map, const char *key, const char *field,
		long long min, long long max, long long *out)
{
	yaml_node_t *value = ymap_get(&ld->d, map, key, NULL);

	if (value != NULL)
		yget_int(&ld->d, value, field, min, max, out);
}

static void
opt_bool(loader *ld, yaml_node_t *map, const char *key, const char *field,
		 bool *out)
{
	yaml_node_t *value = ymap_get(&ld->d, map, key, NULL);

	if (value != NULL)
		yget_bool(&ld->d, value, field, out);
}

/* An optional enum; *mark gets the value's position when given. */
static void
opt_enum(loader *ld, yaml_node_t *map, const char *key, const char *field,
		 const char *const *names, int *out, plan_pos *mark)
{
	yaml_node_t *value = ymap_get(&ld->d, map, key, NULL);

	if (value == NULL)
		return;
	if (mark != NULL)
		*mark = ynode_pos(value);
	yget_enum(&ld->d, value, field, names, out);
}

static void
load_version(loader *ld, yaml_node_t *value)
{
	long long version;

	if (!yget_int(&ld->d, value, "version", LLONG_MIN, LLONG_MAX, &version))
		return;
	if (version != 1)
		yerr(&ld->d, ynode_pos(value),
			 "unsupported plan version %lld; this pgreshard reads version 1",
			 version);
	else
		ld->p->version = 1;
}

static void
load_name(loader *ld, yaml_node_t *value)
{
	char *name;
	size_t len;

	if (!yget_string(&ld->d, value, "name", &name))
		return;
	len = strlen(name);
	if (len > 40 || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != len)
	{
		yerr(&ld->d, ynode_pos(value),
			 "name '%.60s' must be 1 to 40 characters of a-z, 0-9 and _ "
			 "(it names the replication slot and origin)", yraw(value));
		free(name);
		return;
	}
	ld->p->name = name;
}

/* Remember the first conninfo whose text in the file carries a password. */
static void
note_password(loader *ld, yaml_node_t *node, const char *field)
{
	plan_pos pos = ynode_pos(node);

	if (ld->p->password_at == NULL && conninfo_has_literal_password(yraw(node)))
		ld->p->password_at = xasprintf("%s at %s:%d:%d", field, ld->d.path, pos.line, pos.col);
}

/* A non-empty list of conninfo strings (never quoted in messages). */
static void
load_dsn_list(loader *ld, yaml_node_t *list, const char *field, int max,
			  int *n, char ***dsns, plan_pos **pos)
{
	int len;

	if (!ykind(&ld->d, list, YAML_SEQUENCE_NODE, field))
		return;
	len = ylist_len(list);
	if (len == 0)
	{
		yerr(&ld->d, ynode_pos(list),
			 "%s is an empty list; give at least one conninfo string", field);
		return;
	}
	if (max > 0 && len > max)
	{
		yerr(&ld->d, ynode_pos(list), "%s lists %d databases; at most %d",
			 field, len, max);
		return;
	}
	*dsns = xcalloc(1, sizeof(char *) * len);
	*pos = xcalloc(1, sizeof(plan_pos) * len);
	for (int i = 0; i < len; i++)
	{
		yaml_node_t *item = ylist_item(&ld->d, list, i);
		char itemfield[128];

		snprintf(itemfield, sizeof(itemfield), "%s[%d]", field, i);
		if (yget_string(&ld->d, item, itemfield, &(*dsns)[*n]))
		{
			note_password(ld, item, itemfield);
			(*pos)[(*n)++] = ynode_pos(item);
		}
	}
}

static void
load_publication(loader *ld, yaml_node_t *value)
{
	char *text;
	char err[200];

	if (!yget_string(&ld->d, value, "source.publication", &text))
		return;
	if (!sqlname_parse_ident(text, &ld->p->publication, err, sizeof(err)))
		yerr(&ld->d, ynode_pos(value),
			 "source.publication '%.80s' is not a valid name: %s",
			 yraw(value), err);
	else
		ld->p->publication_pos = ynode_pos(value);
	free(text);
}

static void
load_source(loader *ld, yaml_node_t *map, plan_pos keypos)
{
	plan *p = ld->p;
	plan_pos dsn_pos, shards_pos;
	yaml_node_t *dsn, *shards, *publication, *value;

	if (!ykind(&ld->d, map, YAML_MAPPING_NODE, "source"))
		return;
	ymap_check(&ld->d, map, "in source", source_keys);
	dsn = ymap_get(&ld->d, map, "dsn", &dsn_pos);
	shards = ymap_get(&ld->d, map, "shards", &shards_pos);
	if (dsn != NULL && shards != NULL)
	{
		bool shards_later = shards_pos.line > dsn_pos.line ||
			(shards_pos.line == dsn_pos.line && shards_pos.col > dsn_pos.col);

		yerr(&ld->d, shards_later ? shards_pos : dsn_pos,
			 "source has both dsn and shards; give dsn for one source "
			 "database or shards for several, not both");
	}
	else if (dsn != NULL)
	{
		p->source_dsns = xcalloc(1, sizeof(char *));
		p->source_pos = xcalloc(1, sizeof(plan_pos));
		if (yget_string(&ld->d, dsn, "source.dsn", &p->source_dsns[0]))
		{
			note_password(ld, dsn, "source.dsn");
			p->source_pos[0] = ynode_pos(dsn);
			p->nsources = 1;
		}
	}
	else if (shards != NULL)
	{
		p->source_sharded = true;
		load_dsn_list(ld, shards, "source.shards", 0, &p->nsources,
					  &p->source_dsns, &p->source_pos);
	}
	else
		yerr(&ld->d, keypos,
			 "source needs dsn (one database) or shards (a list of databases)");

	publication = required(ld, map, "publication", "in source", keypos, NULL);
	if (publication != NULL)
		load_publication(ld, publication);
	opt_bool(ld, map, "create_publication", "source.create_publication",
			 &p->create_publication);
	if ((value = ymap_get(&ld->d, map, "max_retained_wal", NULL)) != NULL)
		yget_size(&ld->d, value, "source.max_retained_wal", &p->max_retained_wal);
}

static void
load_destination(loader *ld, yaml_node_t *map, plan_pos keypos)
{
	yaml_node_t *shards;

	if (!ykind(&ld->d, map, YAML_MAPPING_NODE, "destination"))
		return;
	ymap_check(&ld->d, map, "in destination", destination_keys);
	shards = required(ld, map, "shards", "in destination", keypos, NULL);
	if (shards != NULL)
		load_dsn_list(ld, shards, "destination.shards", MAX_DEST_SHARDS,
					  &ld->p->nshards, &ld->p->shard_dsns, &ld->p->shard_pos);
}


static void
load_sharding(loader *ld, yaml_node_t *map)
{
	static const char *const functions[] = {"hash", "lua", NULL};
	int fn = SHARD_FN_HASH;
	int errors = ld->d.nerrors;

	if (ykind(&ld->d, map, YAML_MAPPING_NODE, "sharding"))
	{
		ymap_check(&ld->d, map, "in sharding", sharding_keys);
		opt_enum(ld, map, "function", "sharding.function", functions, &fn,
				 &ld->m.sharding_fn);
		ld->p->sharding = (shard_fn) fn;
	}
	ld->m.sharding_bad = ld->d.nerrors != errors;
}

static void
load_hooks(loader *ld, yaml_node_t *map)
{
	static const char *const modes[] = {"stop", "report", NULL};
	plan_hooks *h = &ld->p->hooks;
	char **fns[HOOK_NFUNCS] = {
		&h->route, &h->validate, &h->before_step, &h->after_step, &h->on_freeze,
		&h->on_unfreeze, &h->source_route
	};
	yaml_node_t *file;
	int mode = VALIDATE_STOP;

	if (!ykind(&ld->d, map, YAML_MAPPING_NODE, "hooks"))
		return;
	ymap_check(&ld->d, map, "in hooks", hooks_keys);
	file = ymap_get(&ld->d, map, "file", NULL);
	if (file != NULL)
	{
		ld->m.hooks_file = ynode_pos(file);
		if (yget_string(&ld->d, file, "hooks.file", &h->file))
			h->file_pos = ynode_pos(file);
	}
	for (int i = 0; i < HOOK_NFUNCS; i++)
	{
		yaml_node_t *fn = ymap_get(&ld->d, map, hook_fn_keys[i], NULL);
		char field[64];

		if (fn == NULL)
			continue;
		ld->m.hook_fn[i] = ynode_pos(fn);
		snprintf(field, sizeof(field), "hooks.%s", hook_fn_keys[i]);
		yget_lua_name(&ld->d, fn, field, fns[i]);
	}
	h->route_pos = ld->m.hook_fn[HOOK_ROUTE];
	opt_enum(ld, map, "validate_mode", "hooks.validate_mode", modes, &mode, NULL);
	h->validate_mode = (validate_mode) mode;
}

static void
load_copy(loader *ld, yaml_node_t *map)
{
	long long jobs = ld->p->copy_jobs;
	yaml_node_t *v;

	if (!ykind(&ld->d, map, YAML_MAPPING_NODE, "copy"))
		return;
	ymap_check(&ld->d, map, "in copy", copy_keys);
	opt_int(ld, map, "jobs", "copy.jobs", 1, 64, &jobs);
	ld->p->copy_jobs = (int) jobs;
	opt_int(ld, map, "chunk_rows", "copy.chunk_rows", 1000, LLONG_MAX,
			&ld->p->copy_chunk_rows);
	opt_int(ld, map, "scan_passes", "copy.scan_passes", 1, 1000000, &ld->p->copy_scan_passes);
	if ((v = ymap_get(&ld->d, map, "scan_pass_size", NULL)) != NULL)
		yget_size(&ld->d, v, "copy.scan_pass_size", &ld->p->copy_scan_pass_size);
	opt_int(ld, map, "keep_snapshot_s", "copy.keep_snapshot_s", 0, 86400, &ld->p->copy_keep_snapshot_s);
	/* the apply renews the lease every few seconds, and may be busy longer
	 * (removing an interrupted scan's rows) before its workers start */
	if (ld->p->copy_keep_snapshot_s > 0 && ld->p->copy_keep_snapshot_s < 30)
	{
		v = ymap_get(&ld->d, map, "keep_snapshot_s", NULL);
		yerr(&ld->d, ynode_pos(v), "copy.keep_snapshot_s must be 0 (no keeper) or at least 30, found %lld",
			 ld->p->copy_keep_snapshot_s);
	}
}

static void
load_cutover(loader *ld, yaml_node_t *map)
{
	static const char *const modes[] = {"auto", "manual", NULL};
	static const char *const freezes[] = {"lock", "read_only", "hook", NULL};
	plan_cutover *c = &ld->p->cutover;
	int mode = CUTOVER_AUTO, freeze = FREEZE_LOCK;
	long long timeout = c->timeout_s;
	yaml_node_t *node;

	if (!ykind(&ld->d, map, YAML_MAPPING_NODE, "cutover"))
		return;
	ymap_check(&ld->d, map, "in cutover", cutover_keys);
	opt_enum(ld, map, "mode", "cutover.mode", modes, &mode, NULL);
	opt_enum(ld, map, "freeze", "cutover.freeze", freezes, &freeze, &ld->m.freeze);
	c->mode = (cutover_mode) mode;
	c->freeze = (freeze_mode) freeze;
	opt_int(ld, map, "max_lag_bytes", "cutover.max_lag_bytes", 0, LLONG_MAX,
			&c->max_lag_bytes);
	opt_int(ld, map, "timeout_s", "cutover.timeout_s", 1, 3600, &timeout);
	c->timeout_s = (int) timeout;
	if ((node = ymap_get(&ld->d, map, "switch", NULL)) != NULL)
	{
		ld->m.switch_fn = ynode_pos(node);
		yget_lua_name(&ld->d, node, "cutover.switch", &c->switch_fn);
	}
	if ((node = ymap_get(&ld->d, map, "switch_command", NULL)) != NULL)
		yget_string(&ld->d, node, "cutover.switch_command", &c->switch_command);
	opt_bool(ld, map, "verify", "cutover.verify", &c->verify);
	opt_bool(ld, map, "leave_source_writable", "cutover.leave_source_writable",
			 &c->leave_source_writable);
	opt_int(ld, map, "sequence_gap", "cutover.sequence_gap", 0, LLONG_MAX,
			&c->sequence_gap);
	opt_bool(ld, map, "reverse", "cutover.reverse", &c->reverse);
	if ((node = ymap_get(&ld->d, map, "reverse_max_retained", NULL)) != NULL)
		yget_size(&ld->d, node, "cutover.reverse_max_retained", &c->reverse_max_retained);
}

static void
load_schema(loader *ld, yaml_node_t *map)
{
	static const char *const matviews[] = {"no_data", "refresh", NULL};
	int mv = MATVIEWS_NO_DATA;

	if (!ykind(&ld->d, map, YAML_MAPPING_NODE, "schema"))
		return;
	ymap_check(&ld->d, map, "in schema", schema_keys);
	opt_bool(ld, map, "skip_owners", "schema.skip_owners", &ld->p->schema.skip_owners);
	opt_enum(ld, map, "matviews", "schema.matviews", matviews, &mv, NULL);
	ld->p->schema.matviews = (matviews_mode) mv;
}

static void
set_defaults(plan *p)
{
	p->sharding = SHARD_FN_HASH;
	p->copy_jobs = 4;
	p->copy_chunk_rows = 1000000;
	p->copy_scan_passes = 4;
	p->copy_scan_pass_size = 8LL << 30;
	p->copy_keep_snapshot_s = 600;
	p->cutover.mode = CUTOVER_AUTO;
	p->cutover.freeze = FREEZE_LOCK;
	p->cutover.max_lag_bytes = 1048576;
	p->cutover.timeout_s = 30;
	p->cutover.sequence_gap = 1000;
	p->cutover.reverse = true;
}

/* The top-level mapping: required sections first, then the optional ones. */
static void
load_root(loader *ld, yaml_node_t *root)
{
	static const char *const schema_change_modes[] = {"apply", "stop", NULL};
	const char *where = "at the top level";
	plan_pos pos = ynode_pos(root);
	plan_pos keypos;
	yaml_node_t *n;
	int mode = SCHEMA_CHANGES_APPLY;

	if (root->type != YAML_MAPPING_NODE)
	{
		yerr(&ld->d, pos, "a plan must be a mapping (version: 1, name: ..., "
			 "source: ...), found %s", ynode_kind(root));
		return;
	}
	ymap_check(&ld->d, root, where, root_keys);
	if ((n = required(ld, root, "version", where, pos, NULL)) != NULL)
		load_version(ld, n);
	if ((n = required(ld, root, "name", where, pos, NULL)) != NULL)
		load_name(ld, n);
	if ((n = required(ld, root, "source", where, pos, &keypos)) != NULL)
		load_source(ld, n, keypos);
	if ((n = required(ld, root, "destination", where, pos, &keypos)) != NULL)
		load_destination(ld, n, keypos);
	if ((n = required(ld, root, "tables", where, pos, NULL)) != NULL)
		plan_load_tables(&ld->d, ld->p, n);
	if ((n = ymap_get(&ld->d, root, "sharding", NULL)) != NULL)
		load_sharding(ld, n);
	if ((n = ymap_get(&ld->d, root, "hooks", NULL)) != NULL)
		load_hooks(ld, n);
	if ((n = ymap_get(&ld->d, root, "copy", NULL)) != NULL)
		load_copy(ld, n);
	if ((n = ymap_get(&ld->d, root, "cutover", NULL)) != NULL)
		load_cutover(ld, n);
	if ((n = ymap_get(&ld->d, root, "schema", NULL)) != NULL)
		load_schema(ld, n);
	opt_enum(ld, root, "schema_changes", "schema_changes", schema_change_modes, &mode, NULL);
	ld->p->schema_changes = (schema_change_mode) mode;
}

static char *
dir_of(const char *path)
{
	char *copy = xstrdup(path);
	char *dir = xstrdup(dirname(copy));

	free(copy);
	return dir;
}

bool
plan_load_text(const char *path, const char *text, size_t len, plan **out)
{
	loader ld;
	yaml_document_t doc;
	plan *p = xcalloc(1, sizeof(plan));

	p->path = xstrdup(path);
	p->dir = dir_of(path);
	p->text = xcalloc(1, len + 1);
	memcpy(p->text, text, len);
	p->text_len = len;
	set_defaults(p);
	if (!yparse_document(path, p->text, len, &doc))
	{
		plan_free(p);
		return false;
	}
	memset(&ld, 0, sizeof(ld));
	ld.d.path = path;
	ld.d.doc = &doc;
	ld.p = p;
	load_root(&ld, yaml_document_get_root_node(&doc));
	plan_check(&ld.d, p, &ld.m);
	yaml_document_delete(&doc);
	if (ld.d.nerrors > 0)
	{
		plan_free(p);
		return false;
	}
	*out = p;
	return true;
}

/* The whole file; works for pipes and /dev/stdin too. */
static bool
read_file(const char *path, char **text, size_t *len)
{
	char		err[600];

	if (read_whole_file(path, "the plan file", (size_t) 64 << 20, text, len, err, sizeof(err)))
		return true;
	log_error("%s: %s", path, err);
	return false;
}

bool
plan_load(const char *path, plan **out)
{
	char *text;
	size_t len;
	bool ok;

	if (!read_file(path, &text, &len))
		return false;
	ok = plan_load_text(path, text, len, out);
	explicit_bzero(text, len);
	free(text);
	return ok;
}

/* Free a list of strings, wiping them first when they may hold secrets. */
static void
free_strings(char **list, int n, bool wipe)
{
	for (int i = 0; i < n; i++)
	{
		if (wipe)
			explicit_bzero(list[i], strlen(list[i]));
		free(list[i]);
	}
	free(list);
}

void
plan_free(plan *p)
{
	if (p == NULL)
		return;
	free(p->path);
	free(p->dir);
	explicit_bzero(p->text, p->text_len);
	free(p->text);
	free(p->name);
	free_strings(p->source_dsns, p->nsources, true);
	free(p->source_pos);
	free(p->publication);
	free_strings(p->shard_dsns, p->nshards, true);
	free(p->shard_pos);
	for (int i = 0; i < p->ntables; i++)
		plan_table_clear(&p->tables[i]);
	free(p->tables);
	free(p->hooks.file);
	free(p->hooks.path);
	free(p->hooks.route);
	free(p->hooks.validate);
	free(p->hooks.before_step);
	free(p->hooks.after_step);
	free(p->hooks.on_freeze);
	free(p->hooks.on_unfreeze);
	free(p->hooks.source_route);
	free(p->cutover.switch_fn);
	free(p->cutover.switch_command);
	free(p->password_at);
	free(p->saved_id);
	free(p);
}

int
plan_table_index(const plan *p, const char *schema, const char *relname)
{
	for (int i = 0; i < p->ntables; i++)
		if (strcmp(p->tables[i].schema, schema) == 0 &&
			strcmp(p->tables[i].relname, relname) == 0)
			return i;
	return -1;
}

const plan_table *
plan_find_table(const plan *p, const char *schema, const char *relname)
{
	int i = plan_table_index(p, schema, relname);

	return i < 0 ? NULL : &p->tables[i];
}
