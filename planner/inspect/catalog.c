/*
 * catalog.c — the catalog model's bookkeeping: findings, lookup, freeing.
 * The inspection itself (talking to servers) is in inspect_source.c and
 * inspect_dest.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "strbuf.h"
#include "xalloc.h"

void
catalog_add_finding(catalog *cat, finding_level level, const char *where,
					const char *fix, const char *fmt, ...)
{
	va_list		ap;
	strbuf		sb;
	finding    *f;

	cat->findings = xrealloc(cat->findings, sizeof(finding) * (size_t) (cat->nfindings + 1));
	f = &cat->findings[cat->nfindings++];
	sb_init(&sb);
	va_start(ap, fmt);
	sb_vprintf(&sb, fmt, ap);
	va_end(ap);
	f->level = level;
	f->where = xstrdup(where ? where : "");
	f->message = sb_steal(&sb);
	f->fix = fix ? xstrdup(fix) : NULL;
}

int
src_table_chunk_col(const src_table *t)
{
	if (t->npk != 1)
		return -1;
	for (int i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i].name, t->pk[0]) == 0)
			return (t->cols[i].base_oid == 20 || t->cols[i].base_oid == 21 ||
					t->cols[i].base_oid == 23) ? i : -1;
	return -1;
}

bool
src_table_route_reads(const plan_table *pt, const src_table *t, int i)
{
	if (pt->nreads > 0)
	{
		for (int k = 0; k < pt->nreads; k++)
			if (strcmp(pt->reads[k], t->cols[i].name) == 0)
				return true;
		return false;
	}
	if (!t->cols[i].generated)
		return true;
	for (int k = 0; k < pt->nkeys; k++)
		if (t->key_cols[k] == i)
			return true;
	return false;
}

bool
catalog_has_errors(const catalog *cat)
{
	for (int i = 0; i < cat->nfindings; i++)
		if (cat->findings[i].level == FINDING_ERROR)
			return true;
	return false;
}

bool
catalog_fully_applied(const catalog *cat)
{
	for (int s = 0; s < STEP_COUNT; s++)
		if (!cat->step_done[s])
			return false;
	return true;
}

int
catalog_partition_table(const catalog *cat, const char *schema, const char *name)
{
	for (int i = 0; i < cat->ntables; i++)
		for (int k = 0; k < cat->tables[i].nparts; k++)
			if (strcmp(cat->tables[i].part_schema[k], schema) == 0 &&
				strcmp(cat->tables[i].part_name[k], name) == 0)
				return i;
	return -1;
}

const src_table *
catalog_table(const catalog *cat, int plan_index)
{
	if (plan_index < 0 || plan_index >= cat->ntables)
		return NULL;
	return &cat->tables[plan_index];
}

static void
free_strings(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
free_server(server_info *s)
{
	free(s->role);
	free(s->safe_dsn);
	free(s->version);
	free(s->wal_level);
	free(s->encoding);
	free(s->system_id);
	free(s->datname);
	free(s->db_oid);
	free(s->saved_plan_id);
	free(s->table_state);
}

void
free_src_table_contents(src_table *t)
{
	for (int i = 0; i < t->ncols; i++)
	{
		free(t->cols[i].name);
		free(t->cols[i].type);
		free(t->cols[i].default_expr);
	}
	free(t->cols);
	free(t->key_cols);
	free(t->key_types);
	free_strings(t->pk, t->npk);
	free_strings(t->ident, t->nident);
	free(t->shard_rows);
	free_strings(t->part_schema, t->nparts);
	free_strings(t->part_name, t->nparts);
}

void
catalog_free(catalog *cat)
{
	if (cat == NULL)
		return;
	for (int i = 0; i < cat->nsources; i++)
		free_server(&cat->sources[i]);
	for (int i = 0; i < cat->nshards; i++)
		free_server(&cat->shards[i]);
	for (int i = 0; i < cat->ntables; i++)
		free_src_table_contents(&cat->tables[i]);
	for (int i = 0; i < cat->nfindings; i++)
	{
		free(cat->findings[i].where);
		free(cat->findings[i].message);
		free(cat->findings[i].fix);
	}
	free_strings(cat->pub_tables, cat->npub_tables);
	for (int i = 0; i < cat->nobjects; i++)
	{
		free(cat->objects[i].what);
		free(cat->objects[i].reason);
	}
	free(cat->objects);
	free_strings(cat->needs.triggers, cat->needs.ntriggers);
	free_strings(cat->needs.extensions, cat->needs.nextensions);
	free_strings(cat->needs.owner_roles, cat->needs.nowner_roles);
	free_strings(cat->needs.policy_roles, cat->needs.npolicy_roles);
	free_strings(cat->needs.missing_roles, cat->needs.nmissing_roles);
	free_strings(cat->needs.rls_tables, cat->needs.nrls_tables);
	for (int i = 0; i < cat->nsequences; i++)
	{
		free(cat->sequences[i].name);
		free(cat->sequences[i].type);
		free_strings(cat->sequences[i].used_by, cat->sequences[i].nusers);
		free(cat->sequences[i].user_moved);
	}
	free(cat->sequences);
	free(cat->sources);
	free(cat->shards);
	free(cat->tables);
	free(cat->findings);
	free(cat);
}
