/*
 * export_pgdog.c — `pgreshard export pgdog PLAN`: PgDog's configuration for
 * the resharded cluster, in PgDog's pgdog.toml format (pgdog-config's
 * Database, ShardedTable and OmnishardedTables sections).
 *
 * PgDog's hash sharding is PostgreSQL's PARTITION BY HASH for one column, so
 * a table whose single key column has a type PgDog knows (bigint — which
 * PostgreSQL hashes like integer and smallint —, varchar for text and
 * varchar, uuid) is routed by PgDog exactly where pgreshard put its rows.
 * Anything else is left out, with the reason as a TOML comment and a
 * warning on stderr: multi-column keys (PgDog shards by one column),
 * character(n) keys (PostgreSQL's hash ignores trailing blanks), and every
 * table of a plan routed by Lua (PgDog cannot run the hook).
 *
 * The logical database name clients use is the source's database name, so
 * the application keeps its dbname and only changes host and port.  No
 * password is written: PgDog reads them from users.toml.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "export.h"
#include "log.h"
#include "sqlname.h"
#include "strbuf.h"
#include "xalloc.h"

const char *
pgdog_data_type(key_type t)
{
	switch (t)
	{
		case KEY_INT2:
		case KEY_INT4:
		case KEY_INT8:
			return "bigint";
		case KEY_TEXT:
			return "varchar";
		case KEY_UUID:
			return "uuid";
		default:
			return NULL;
	}
}

char *
toml_quote(const char *s)
{
	strbuf		sb;

	sb_init(&sb);
	sb_append_char(&sb, '"');
	for (const unsigned char *c = (const unsigned char *) s; *c; c++)
	{
		if (*c == '"' || *c == '\\')
		{
			sb_append_char(&sb, '\\');
			sb_append_char(&sb, (char) *c);
		}
		else if (*c == '\n')
			sb_append(&sb, "\\n");
		else if (*c == '\t')
			sb_append(&sb, "\\t");
		else if (*c < 0x20 || *c == 0x7f)
			sb_printf(&sb, "\\u%04X", *c);
		else
			sb_append_char(&sb, (char) *c);
	}
	sb_append_char(&sb, '"');
	return sb_steal(&sb);
}

/* A comment line: newlines in names must not end the comment. */
static void
comment(FILE *out, const char *text)
{
	fputs("# ", out);
	for (const char *c = text; *c; c++)
		fputc(*c == '\n' || *c == '\r' ? ' ' : *c, out);
	fputc('\n', out);
}

/* Why PgDog cannot route table i (malloc'd), or NULL when it can. */
static char *
unroutable_reason(const plan *p, const catalog *cat, int i)
{
	const plan_table *pt = &p->tables[i];
	const src_table *t = catalog_table(cat, i);

	if (p->sharding == SHARD_FN_LUA)
		return xstrdup("routed by a Lua hook (sharding.function: lua), which PgDog cannot run");
	if (pt->nkeys != 1)
		return xasprintf("its key has %d columns; PgDog shards a table by one column", pt->nkeys);
	if (t == NULL || !t->exists || t->key_types == NULL || t->key_cols == NULL || t->key_cols[0] < 0)
		return xstrdup("not found on the source (or its key column is missing), so its key's type is unknown");
	if (pgdog_data_type(t->key_types[0]) == NULL)
		return xasprintf("key column \"%s\" has type %s, which PgDog cannot hash as PostgreSQL does",
						 pt->keys[0], t->cols[t->key_cols[0]].type);
	return NULL;
}

static void
write_databases(FILE *out, const plan *p, const char *qdb)
{
	for (int s = 0; s < p->nshards; s++)
	{
		export_target t;
		char	   *v;

		fprintf(out, "\n[[databases]]\nname = %s\n", qdb);
		if (!export_target_parse(p->shard_dsns[s], &t))
		{
			fprintf(out, "shard = %d\n# shard %d: its conninfo does not parse; fill in host, port and database_name\n",
					s, s);
			continue;
		}
		v = toml_quote(t.host ? t.host : "localhost");
		fprintf(out, "host = %s%s\n", v, t.host ? "" : "  # not in the conninfo: libpq's default");
		free(v);
		fprintf(out, "port = %d\n", t.port ? atoi(t.port) : 5432);
		v = toml_quote(t.dbname ? t.dbname : t.user ? t.user : p->name);
		fprintf(out, "database_name = %s\n", v);
		free(v);
		if (t.user)
		{
			v = toml_quote(t.user);
			fprintf(out, "user = %s\n", v);
			free(v);
		}
		fprintf(out, "shard = %d\n", s);
		export_target_free(&t);
	}
}

/* [[sharded_tables]] for the tables PgDog can route; the others as comments.
 * Returns how many were left out. */
static int
write_sharded(FILE *out, const plan *p, const catalog *cat, const char *qdb)
{
	int			skipped = 0;

	for (int i = 0; i < p->ntables; i++)
	{
		const plan_table *pt = &p->tables[i];
		char	   *name = sqlname_quote_qualified(pt->schema, pt->relname);
		char	   *why = pt->replicate ? NULL : unroutable_reason(p, cat, i);

		if (pt->replicate)
			;
		else if (why != NULL)
		{
			char	   *line = xasprintf("%s is not in [[sharded_tables]]: %s", name, why);

			fputc('\n', out);
			comment(out, line);
			log_warn("export pgdog: table %s left out: %s", name, why);
			free(line);
			skipped++;
		}
		else
		{
			char	   *qs = toml_quote(pt->schema), *qn = toml_quote(pt->relname),
					   *qc = toml_quote(pt->keys[0]);

			fprintf(out, "\n[[sharded_tables]]\ndatabase = %s\nschema = %s\nname = %s\ncolumn = %s\n"
					"data_type = \"%s\"\n", qdb, qs, qn, qc,
					pgdog_data_type(catalog_table(cat, i)->key_types[0]));
			free(qs);
			free(qn);
			free(qc);
		}
		free(why);
		free(name);
	}
	return skipped;
}

static void
write_omnisharded(FILE *out, const plan *p, const char *qdb)
{
	int			n = 0;

	for (int i = 0; i < p->ntables; i++)
		n += p->tables[i].replicate;
	if (n == 0)
		return;
	fprintf(out, "\n# Tables with the same rows on every shard (replicate: true): writes go to\n"
			"# every shard, reads to any one.\n[[omnisharded_tables]]\ndatabase = %s\ntables = [\n", qdb);
	for (int i = 0; i < p->ntables; i++)
	{
		char	   *q, *name;

		if (!p->tables[i].replicate)
			continue;
		q = toml_quote(p->tables[i].relname);
		name = sqlname_quote_qualified(p->tables[i].schema, p->tables[i].relname);
		fprintf(out, "    %s,  ", q);
		comment(out, name);
		free(q);
		free(name);
	}
	fprintf(out, "]\n");
}

bool
export_pgdog(FILE *out, const plan *p, const catalog *cat)
{
	export_target src;
	char	   *db, *qdb, *line;
	int			skipped;

	db = export_target_parse(p->source_dsns[0], &src) && (src.dbname || src.user) ?
		xstrdup(src.dbname ? src.dbname : src.user) : xstrdup(p->name);
	export_target_free(&src);
	qdb = toml_quote(db);
	line = xasprintf("PgDog configuration (pgdog.toml) for the cluster of pgreshard plan %s (%s),", p->name,
					 p->path);
	comment(out, line);
	fprintf(out, "# written by pgreshard %s (export pgdog).  %d shard%s; rows are placed as\n"
			"# PostgreSQL's PARTITION BY HASH places them, which is how PgDog hashes.\n"
			"# Clients connect to database %s as before.  No password is written here:\n"
			"# give the users and passwords in users.toml.\n", PGRESHARD_VERSION,
			p->nshards, p->nshards == 1 ? "" : "s", qdb);
	write_databases(out, p, qdb);
	skipped = write_sharded(out, p, cat, qdb);
	write_omnisharded(out, p, qdb);
	if (skipped > 0)
		log_warn("export pgdog: %d table%s cannot be routed by PgDog and %s left out (see the comments)",
				 skipped, skipped == 1 ? "" : "s", skipped == 1 ? "is" : "are");
	free(line);
	free(qdb);
	free(db);
	return fflush(out) == 0 && !ferror(out);
}
