/*
 * fingerprint.c — build the fingerprint of a plan from the plan model and a
 * fresh catalog inspection.  What each component holds, and why, is in
 * fingerprint.h; the comparison is fingerprint_diff.c.
 *
 * Only what a change to would make the reviewed plan wrong goes in: no row
 * counts, sizes, LSNs or slot usage, which move all the time.  Nothing here
 * is secret: conninfo strings are not part of it (the servers' identities
 * are), and the plan file's text is hashed, not copied (the saved plan
 * carries the text itself, checked for passwords by saved_plan.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "fingerprint.h"
#include "log.h"
#include "sqlname.h"
#include "stepplan.h"
#include "xalloc.h"

static const char *const freeze_names[] = {"lock", "read_only", "hook"};
static const char *const dest_state_names[] = {"absent", "empty", "rows"};

static json_t *
string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* "key id", "key (tenant_id, id)", "replicated" */
static char *
placement(const plan_table *pt)
{
	char	   *k = table_key_display(pt, NULL);
	char	   *r = pt->replicate ? k : xasprintf("key %s", k);

	if (r != k)
		free(k);
	return r;
}

json_t *
fingerprint_plan(const plan *p)
{
	char		sha[SHA256_HEX_LEN + 1];
	json_t	   *tables = json_object();
	json_t	   *fp;

	sha256_hex(p->text, p->text_len, sha);
	for (int i = 0; i < p->ntables; i++)
	{
		char	   *name = sqlname_quote_qualified(p->tables[i].schema, p->tables[i].relname);
		char	   *where = placement(&p->tables[i]);

		json_object_set_new(tables, name, json_string(where));
		free(where);
		free(name);
	}
	fp = json_pack("{s:s, s:s, s:s, s:b, s:i, s:i, s:s, s:o, s:i, s:I}",
				   "sha256", sha, "name", p->name, "source.publication", p->publication,
				   "source.create_publication", p->create_publication,
				   "sources", p->nsources, "destination.shards", p->nshards,
				   "sharding.function", p->sharding == SHARD_FN_HASH ? "hash" : "lua",
				   "hooks.file", string_or_null(p->hooks.file),
				   "copy.jobs", p->copy_jobs, "copy.chunk_rows", (json_int_t) p->copy_chunk_rows);
	json_object_set_new(fp, "cutover", json_pack("{s:s, s:s, s:I, s:i, s:o, s:o, s:b, s:b, s:I}",
												 "mode", p->cutover.mode == CUTOVER_MANUAL ? "manual" : "auto",
												 "freeze", freeze_names[p->cutover.freeze],
												 "max_lag_bytes", (json_int_t) p->cutover.max_lag_bytes,
												 "timeout_s", p->cutover.timeout_s,
												 "switch", string_or_null(p->cutover.switch_fn),
												 "switch_command", string_or_null(p->cutover.switch_command),
												 "verify", p->cutover.verify,
												 "leave_source_writable", p->cutover.leave_source_writable,
												 "sequence_gap", (json_int_t) p->cutover.sequence_gap));
	json_object_set_new(fp, "tables", tables);
	return fp;
}

static bool
hook_json(const plan *p, json_t **out)
{
	char		sha[SHA256_HEX_LEN + 1];

	*out = json_null();
	if (p->hooks.path == NULL)
		return true;
	if (!sha256_file_hex(p->hooks.path, sha))
	{
		log_error("%s: cannot read hooks.file %s: %s", p->path, p->hooks.path, strerror(errno));
		return false;
	}
	*out = json_pack("{s:s, s:s}", "file", p->hooks.file, "sha256", sha);
	return true;
}

static json_t *
column_json(const src_column *c, int position)
{
	char		identity[2] = {c->identity, '\0'};

	return json_pack("{s:i, s:s, s:b, s:o, s:b, s:s}", "position", position, "type", c->type,
					 "not_null", c->notnull, "default", string_or_null(c->default_expr),
					 "generated", c->generated,
					 "identity", identity[0] == 'a' ? "always" : identity[0] == 'd' ? "by default" : "no");
}

static char *
join_names(char **names, int n)
{
	size_t		len = 1;
	char	   *out;

	for (int i = 0; i < n; i++)
		len += strlen(names[i]) + 2;
	out = xcalloc(1, len);
	for (int i = 0; i < n; i++)
	{
		if (i)
			strcat(out, ", ");
		strcat(out, names[i]);
	}
	return out;
}

static const char *
replident_name(char r)
{
	return r == 'd' ? "default" : r == 'f' ? "full" : r == 'i' ? "index" : r == 'n' ? "nothing" : "?";
}

static json_t *
table_json(const plan_table *pt, const src_table *t)
{
	json_t	   *cols = json_object();
	char	   *pk = join_names(t->pk, t->npk);
	char	   *ident = join_names(t->ident, t->nident);
	char	   *ri = t->replident == 'f' || t->replident == 'n' ? xstrdup(replident_name(t->replident)) :
		xasprintf("%s (%s)", replident_name(t->replident), t->nident ? ident : "no primary key");
	char	   *key = table_key_display(pt, t);
	json_t	   *o;

	for (int i = 0; i < t->ncols; i++)
		json_object_set_new(cols, t->cols[i].name, column_json(&t->cols[i], i + 1));
	o = json_pack("{s:o, s:s, s:s, s:s, s:s}", "columns", cols, "primary_key", t->npk ? pk : "none",
				  "replica_identity", ri, "persistence", t->persistence == 'u' ? "unlogged" : "permanent",
				  "sharding_key", key);
	free(pk);
	free(ident);
	free(ri);
	free(key);
	return o;
}

static json_t *
tables_json(const plan *p, const catalog *cat)
{
	json_t	   *o = json_object();

	for (int i = 0; i < p->ntables; i++)
	{
		char	   *name = sqlname_quote_qualified(p->tables[i].schema, p->tables[i].relname);

		if (cat->tables[i].exists)
			json_object_set_new(o, name, table_json(&p->tables[i], &cat->tables[i]));
		free(name);
	}
	return o;
}

static json_t *
publication_json(const plan *p, const catalog *cat)
{
	json_t	   *tables = json_array();

	for (int i = 0; i < cat->npub_tables; i++)
		json_array_append_new(tables, json_string(cat->pub_tables[i]));
	return json_pack("{s:s, s:b, s:b, s:o}", "name", p->publication, "exists", cat->publication_exists,
					 "created_by_pgreshard", p->create_publication, "tables", tables);
}

static json_t *
sequences_json(const catalog *cat)
{
	json_t	   *o = json_object();

	for (int i = 0; i < cat->nsequences; i++)
	{
		const src_sequence *s = &cat->sequences[i];
		char	   *users = join_names(s->used_by, s->nusers);

		json_object_set_new(o, s->name, json_pack("{s:s, s:I, s:s}", "type", s->type,
												  "increment", (json_int_t) s->increment, "used_by", users));
		free(users);
	}
	return o;
}

static json_t *
server_json(const server_info *s, bool source)
{
	json_t	   *o = json_pack("{s:s, s:o, s:s, s:s, s:i, s:s}", "role", s->role,
							  "system_identifier", string_or_null(s->system_id),
							  "database", s->datname ? s->datname : "", "database_oid", s->db_oid ? s->db_oid : "",
							  "server_version_num", s->version_num, "server_encoding", s->encoding ? s->encoding : "");

	if (source)
	{
		json_object_set_new(o, "wal_level", json_string(s->wal_level ? s->wal_level : ""));
		json_object_set_new(o, "max_replication_slots", json_integer(s->max_slots));
		json_object_set_new(o, "max_wal_senders", json_integer(s->max_senders));
	}
	return o;
}

static json_t *
shard_json(const plan *p, const server_info *s)
{
	json_t	   *o = server_json(s, false);
	json_t	   *tables = json_object();

	for (int i = 0; i < p->ntables && s->table_state; i++)
	{
		char	   *name = sqlname_quote_qualified(p->tables[i].schema, p->tables[i].relname);

		json_object_set_new(tables, name, json_string(dest_state_names[s->table_state[i]]));
		free(name);
	}
	json_object_set_new(o, "state", json_pack("{s:b, s:o, s:o}", "run", s->has_state,
											  "saved_plan_id", string_or_null(s->saved_plan_id),
											  "tables", tables));
	return o;
}

bool
fingerprint_build(const plan *p, const catalog *cat, json_t **out)
{
	json_t	   *hook, *sources = json_array(), *shards = json_array();

	if (!hook_json(p, &hook))
	{
		json_decref(sources);
		json_decref(shards);
		return false;
	}
	for (int i = 0; i < cat->nsources; i++)
		json_array_append_new(sources, server_json(&cat->sources[i], true));
	for (int i = 0; i < cat->nshards; i++)
		json_array_append_new(shards, shard_json(p, &cat->shards[i]));
	*out = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "plan", fingerprint_plan(p),
					 "hook_file", hook, "tables", tables_json(p, cat),
					 "publication", publication_json(p, cat), "sequences", sequences_json(cat),
					 "sources", sources, "shards", shards);
	return *out != NULL;
}
