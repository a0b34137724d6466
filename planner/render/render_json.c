/*
 * render_json.c — the step plan as a versioned JSON document for CI
 * (format_version), built with jansson.  Conninfo is shown without
 * passwords, as everywhere.
 */
#include <jansson.h>
#include <stdlib.h>

#include "sqlname.h"
#include "stepplan.h"

static json_t *
servers_json(const server_info *s, int n)
{
	json_t	   *arr = json_array();

	for (int i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "role", s[i].role,
											 "dsn", s[i].safe_dsn,
											 "version", s[i].version ? s[i].version : ""));
	return arr;
}

json_t *
plan_tables_json(const plan *p, const catalog *cat)
{
	json_t	   *arr = json_array();

	for (int i = 0; i < p->ntables; i++)
	{
		const plan_table *pt = &p->tables[i];
		const src_table *t = &cat->tables[i];
		json_t	   *keys = json_array(), *shards = json_array();
		char	   *name = sqlname_quote_qualified(pt->schema, pt->relname);

		for (int k = 0; k < pt->nkeys; k++)
			json_array_append_new(keys, json_string(pt->keys[k]));
		for (int s = 0; s < p->nshards && t->shard_rows; s++)
			json_array_append_new(shards, json_pack("{s:i, s:f}", "shard", s,
													"rows", t->shard_rows[s]));
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:b, s:o, s:f, s:I, s:I, s:b, s:o, s:i}",
											 "name", name, "schema", pt->schema,
											 "table", pt->relname, "replicate", pt->replicate,
											 "key", keys, "rows", t->rows,
											 "bytes", (json_int_t) t->bytes,
											 "total_bytes", (json_int_t) t->total_bytes,
											 "sampled", t->sampled, "shards", shards,
											 "partitions", t->nparts));
		free(name);
	}
	return arr;
}

json_t *
plan_steps_json(const plan *p, const catalog *cat)
{
	json_t	   *arr = json_array();

	for (int s = 0; s < STEP_COUNT; s++)
	{
		char	   *d = step_describe(p, cat, (step_id) s);
		json_t	   *tables = json_array();

		if (s == STEP_SCHEMA_PRE || s == STEP_COPY || s == STEP_SCHEMA_POST ||
			s == STEP_STREAM || s == STEP_VERIFY)
			for (int i = 0; i < p->ntables; i++)
			{
				char	   *n = sqlname_quote_qualified(p->tables[i].schema, p->tables[i].relname);

				json_array_append_new(tables, json_string(n));
				free(n);
			}
		json_array_append_new(arr, json_pack("{s:i, s:s, s:s, s:s, s:o}", "number", s + 1,
											 "name", step_name((step_id) s),
											 "state", cat->step_done[s] ? "done" : "pending",
											 "description", d, "tables", tables));
		free(d);
	}
	return arr;
}

json_t *
plan_findings_json(const catalog *cat)
{
	static const char *const level[] = {"info", "warning", "error"};
	json_t	   *arr = json_array();

	for (int i = 0; i < cat->nfindings; i++)
	{
		const finding *f = &cat->findings[i];

		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s?}", "severity", level[f->level],
											 "where", f->where, "message", f->message,
											 "fix", f->fix));
	}
	return arr;
}

static json_t *
schema_objects_json(const catalog *cat)
{
	json_t	   *arr = json_array();

	for (int i = 0; i < cat->nobjects; i++)
	{
		const schema_object *o = &cat->objects[i];

		json_array_append_new(arr, json_pack("{s:s, s:b, s:s?, s:s?}", "object", o->what,
											 "created", o->created,
											 "step", o->created ? (o->post ? "schema-post" : "schema-pre") : NULL,
											 o->created ? "note" : "reason", o->reason));
	}
	return arr;
}

bool
render_plan_json(FILE *out, const plan *p, const catalog *cat)
{
	json_t	   *doc = json_pack("{s:i, s:s, s:s, s:s, s:b, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:b}",
								"format_version", PLAN_JSON_FORMAT_VERSION,
								"name", p->name, "plan_file", p->path,
								"publication", p->publication,
								"publication_exists", cat->publication_exists,
								"sources", servers_json(cat->sources, cat->nsources),
								"shards", servers_json(cat->shards, cat->nshards),
								"tables", plan_tables_json(p, cat),
								"steps", plan_steps_json(p, cat),
								"findings", plan_findings_json(cat),
								"schema_objects", schema_objects_json(cat),
								"ok", !catalog_has_errors(cat),
								"applied", catalog_fully_applied(cat));
	int			rc;

	if (doc == NULL)
		return false;
	rc = json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', out);
	json_decref(doc);
	return rc == 0;
}
