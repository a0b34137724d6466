/*
 * export_fdw.c — `pgreshard export fdw PLAN`: an SQL script (for psql) that
 * makes an empty PostgreSQL database one entry point to the new cluster.
 *
 * postgres_fdw gives one server and user mapping per shard; each sharded
 * table becomes a parent PARTITION BY HASH (its key columns) whose
 * partitions are foreign tables on the shards, FOR VALUES WITH (MODULUS n,
 * REMAINDER k) on shard k.  That is exact, not an approximation: pgreshard
 * placed every row where PostgreSQL's own hash partitioning puts it, so the
 * planner prunes a key lookup to the one shard that holds the row.
 * Replicated tables are foreign tables on shard 0.  A trigger refuses
 * UPDATEs that change a sharding key (key_change_function says why).
 *
 * Everything comes from shard 0, after `apply` ran schema-pre: the moved
 * tables' types, domains, schemas and extensions from the DDL script
 * pgreshard stored there (pgreshard.ddl, taken from the source with
 * pg_dump), and each table's columns from the shard's catalog, read with an
 * empty search_path so that every type name is schema-qualified.  Every
 * identifier and literal in the script is quoted by libpq on that
 * connection.  Credentials are psql variables (shardN_user,
 * shardN_password): the script never holds a password.
 *
 * A plan routed by Lua is refused: a hash partition bound cannot express the
 * hook's rule, and the parent would route rows to the wrong shard.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "conn.h"
#include "export.h"
#include "log.h"
#include "strbuf.h"
#include "xalloc.h"

/* Kinds of the stored PRE statements the entry database needs (ddl.h). */
static const char *const KEPT_KINDS[] = {"setting ", "schema ", "extension ", "type ", "domain ",
"collation ", NULL};

static const char *const SQL_COLUMNS =
	"SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, "
	"CASE WHEN a.attgenerated = 's' THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END "
	"FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
	"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
	"LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
	"WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped "
	"ORDER BY a.attnum";

typedef struct fdw_ctx {
	FILE	   *out;
	const plan *p;
	pgr_conn   *c;				/* shard 0, search_path '' */
	char	  **servers;		/* quoted server name per shard */
} fdw_ctx;

/* A value for psql's \set, in single quotes ('' and \\ doubled). */
static void
psql_set(FILE *out, const char *var, const char *val)
{
	fprintf(out, "\\if :{?%s}\n\\else\n\\set %s '", var, var);
	for (const char *c = val; *c; c++)
	{
		if (*c == '\'' || *c == '\\')
			fputc(*c, out);
		fputc(*c == '\n' ? ' ' : *c, out);
	}
	fprintf(out, "'\n\\endif\n");
}

static void
header(fdw_ctx *x)
{
	const plan *p = x->p;

	fprintf(x->out, "-- postgres_fdw entry point to the cluster of pgreshard plan %s, written by\n"
			"-- pgreshard %s (export fdw).  Run it in an empty database:\n"
			"--   psql -v shard0_password=... -d ENTRY_DB -f THIS_FILE\n"
			"-- Each shard's credentials are the psql variables shardN_user (default: the\n"
			"-- user of the plan's conninfo) and shardN_password (optional): no password is\n"
			"-- written in this file.  Sharded tables are hash-partitioned parents whose\n"
			"-- partitions are the shards, exactly as pgreshard placed the rows.\n"
			"\\set ON_ERROR_STOP on\n\\encoding UTF8\n", p->name, PGRESHARD_VERSION);
	for (int s = 0; s < p->nshards; s++)
	{
		export_target t;
		char		var[32];

		snprintf(var, sizeof(var), "shard%d_user", s);
		if (export_target_parse(p->shard_dsns[s], &t) && t.user)
			psql_set(x->out, var, t.user);
		else
			fprintf(x->out, "\\if :{?%s}\n\\else\n\\set %s :USER\n\\endif\n", var, var);
		export_target_free(&t);
	}
}

static bool
servers(fdw_ctx *x)
{
	const plan *p = x->p;

	fprintf(x->out, "\nBEGIN;\nCREATE EXTENSION IF NOT EXISTS postgres_fdw;\n");
	x->servers = xcalloc((size_t) p->nshards, sizeof(char *));
	for (int s = 0; s < p->nshards; s++)
	{
		export_target t;
		char	   *name = xasprintf("pgreshard_%s_shard_%d", p->name, s);
		const char *keys[3] = {"host", "port", "dbname"};
		bool		first = true;

		x->servers[s] = pgr_quote_ident(x->c, name);
		free(name);
		if (!export_target_parse(p->shard_dsns[s], &t))
		{
			log_error("export fdw: shard %d: its conninfo does not parse", s);
			return false;
		}
		fprintf(x->out, "\n-- shard %d\nCREATE SERVER %s FOREIGN DATA WRAPPER postgres_fdw", s, x->servers[s]);
		for (int k = 0; k < 3; k++)
		{
			const char *v = k == 0 ? t.host : k == 1 ? t.port : t.dbname;
			char	   *q;

			if (v == NULL)
				continue;
			q = pgr_quote_literal(x->c, v);
			fprintf(x->out, "%s%s %s", first ? " OPTIONS (" : ", ", keys[k], q);
			first = false;
			free(q);
		}
		fprintf(x->out, "%s;\n", first ? "" : ")");
		fprintf(x->out, "\\if :{?shard%d_password}\n"
				"CREATE USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (user :'shard%d_user', password :'shard%d_password');\n"
				"\\else\n"
				"CREATE USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (user :'shard%d_user');\n"
				"\\endif\n", s, x->servers[s], s, s, x->servers[s], s);
		export_target_free(&t);
	}
	return true;
}

/* The moved tables' schemas, extensions and types, from the stored script. */
static bool
types(fdw_ctx *x)
{
	const char *params[1] = {x->p->name};
	PGresult   *res = pgr_query(x->c, "looking for the state schema",
								"SELECT to_regclass('pgreshard.ddl') IS NOT NULL", 0, NULL);
	bool		exists = res != NULL && PQgetvalue(res, 0, 0)[0] == 't';

	if (res == NULL)
		return false;
	PQclear(res);
	res = !exists ? NULL : pgr_query(x->c, "reading the DDL script (pgreshard.ddl)",
									 "SELECT what, sql FROM pgreshard.ddl WHERE plan_name = $1 AND phase = 'pre' "
									 "ORDER BY stmt", 1, params);
	if (exists && res == NULL)
		return false;
	if (!exists || PQntuples(res) == 0)
	{
		log_error("export fdw: shard 0 has no schema script for plan %s: the moved tables are not on the "
				  "shards yet; run `pgreshard apply` (at least --until schema-pre) first", x->p->name);
		PQclear(res);
		return false;
	}
	fprintf(x->out, "\n-- the moved tables' schemas, extensions and types (from the source, via shard 0)\n");
	for (int r = 0; r < PQntuples(res); r++)
		for (int k = 0; KEPT_KINDS[k]; k++)
			if (strncmp(PQgetvalue(res, r, 0), KEPT_KINDS[k], strlen(KEPT_KINDS[k])) == 0)
			{
				fprintf(x->out, "%s;\n", PQgetvalue(res, r, 1));
				break;
			}
	PQclear(res);
	return true;
}

/* "(col type NOT NULL, ...)" of a table on shard 0, into sb. */
static bool
columns(fdw_ctx *x, const plan_table *pt, strbuf *sb)
{
	const char *params[2] = {pt->schema, pt->relname};
	PGresult   *res = pgr_query(x->c, "reading a moved table's columns", SQL_COLUMNS, 2, params);

	if (res == NULL)
		return false;
	if (PQntuples(res) == 0)
	{
		log_error("export fdw: table %s is not on shard 0; run `pgreshard apply` first", pt->spec);
		PQclear(res);
		return false;
	}
	sb_append(sb, " (");
	for (int r = 0; r < PQntuples(res); r++)
	{
		char	   *col = pgr_quote_ident(x->c, PQgetvalue(res, r, 0));

		sb_printf(sb, "%s\n    %s %s%s", r ? "," : "", col, PQgetvalue(res, r, 1),
				  PQgetvalue(res, r, 2)[0] == 't' ? " NOT NULL" : "");
		if (!PQgetisnull(res, r, 3))
			sb_printf(sb, " GENERATED ALWAYS AS (%s) STORED", PQgetvalue(res, r, 3));
		free(col);
	}
	sb_append(sb, "\n)");
	PQclear(res);
	return true;
}

/* OPTIONS (schema_name '...', table_name '...') of a moved table. */
static char *
remote_options(fdw_ctx *x, const plan_table *pt)
{
	char	   *s = pgr_quote_literal(x->c, pt->schema), *t = pgr_quote_literal(x->c, pt->relname);
	char	   *r = xasprintf("OPTIONS (schema_name %s, table_name %s)", s, t);

	free(s);
	free(t);
	return r;
}

/* relname_shard_K within PostgreSQL's 63-byte identifiers, cut on a UTF-8 boundary. */
static char *
partition_name(const char *relname, int shard)
{
	char		suffix[24];
	size_t		keep = strlen(relname);

	snprintf(suffix, sizeof(suffix), "_shard_%d", shard);
	if (keep + strlen(suffix) > 63)
	{
		keep = 63 - strlen(suffix);
		while (keep > 0 && (relname[keep] & 0xC0) == 0x80)
			keep--;
	}
	return xasprintf("%.*s%s", (int) keep, relname, suffix);
}

/* "-- TEXT: WHAT" with newlines in TEXT (a quoted name may hold them) made
 * spaces, so that no name can end the comment and become SQL. */
static void
comment(FILE *out, const char *text, const char *what)
{
	fputs("\n-- ", out);
	for (const char *c = text; *c; c++)
		fputc(*c == '\n' || *c == '\r' ? ' ' : *c, out);
	fprintf(out, ": %s\n", what);
}

/* postgres_fdw pushes an UPDATE down to the shard that holds the row, where
 * nothing checks the partition bound: a changed key would leave the row on
 * its old shard, invisible to lookups by the new key.  So key changes are
 * refused by a trigger (which also keeps postgres_fdw from pushing the
 * UPDATE down). */
static void
key_change_function(FILE *out)
{
	fprintf(out, "\n-- sharding keys cannot change through this entry point (see the key triggers)\n"
			"CREATE SCHEMA IF NOT EXISTS pgreshard_fdw;\n"
			"CREATE FUNCTION pgreshard_fdw.refuse_key_change() RETURNS trigger LANGUAGE plpgsql AS $pgreshard$\n"
			"BEGIN\n"
			"    RAISE EXCEPTION 'pgreshard: %%: the sharding key cannot change through the postgres_fdw entry point', "
			"TG_ARGV[0]\n"
			"        USING HINT = 'the row would stay on its old shard; delete it and insert it with the new key';\n"
			"END\n$pgreshard$;\n");
}

static void
key_trigger(fdw_ctx *x, const plan_table *pt, const char *qname)
{
	strbuf		cols, cond;
	char	   *name;

	sb_init(&cols);
	sb_init(&cond);
	for (int k = 0; k < pt->nkeys; k++)
	{
		char	   *q = pgr_quote_ident(x->c, pt->keys[k]);

		sb_printf(&cols, "%s%s", k ? ", " : "", q);
		sb_printf(&cond, "%sOLD.%s IS DISTINCT FROM NEW.%s", k ? " OR " : "", q, q);
		free(q);
	}
	name = pgr_quote_literal(x->c, pt->spec);
	fprintf(x->out, "CREATE TRIGGER pgreshard_key_change BEFORE UPDATE OF %s ON %s FOR EACH ROW\n"
			"    WHEN (%s) EXECUTE FUNCTION pgreshard_fdw.refuse_key_change(%s);\n", cols.data, qname, cond.data,
			name);
	free(name);
	sb_free(&cols);
	sb_free(&cond);
}

static bool
table(fdw_ctx *x, const plan_table *pt)
{
	strbuf		cols;
	char	   *qname = pgr_quote_qualified(x->c, pt->schema, pt->relname);
	char	   *opts = remote_options(x, pt);
	bool		ok;

	sb_init(&cols);
	ok = columns(x, pt, &cols);
	if (ok && pt->replicate)
	{
		comment(x->out, qname, "replicated (the same rows on every shard): read from shard 0");
		fprintf(x->out, "CREATE FOREIGN TABLE %s%s\n    SERVER %s %s;\n", qname, cols.data, x->servers[0], opts);
	}
	else if (ok)
	{
		comment(x->out, qname, "sharded; a key lookup is pruned to its shard");
		fprintf(x->out, "CREATE TABLE %s%s\nPARTITION BY HASH (", qname, cols.data);
		for (int k = 0; k < pt->nkeys; k++)
		{
			char	   *q = pgr_quote_ident(x->c, pt->keys[k]);

			fprintf(x->out, "%s%s", k ? ", " : "", q);
			free(q);
		}
		fprintf(x->out, ");\n");
		for (int s = 0; s < x->p->nshards; s++)
		{
			char	   *part = partition_name(pt->relname, s);
			char	   *qpart = pgr_quote_qualified(x->c, pt->schema, part);

			fprintf(x->out, "CREATE FOREIGN TABLE %s PARTITION OF %s\n    FOR VALUES WITH (MODULUS %d, REMAINDER %d)\n"
					"    SERVER %s %s;\n", qpart, qname, x->p->nshards, s, x->servers[s], opts);
			free(qpart);
			free(part);
		}
		key_trigger(x, pt, qname);
	}
	sb_free(&cols);
	free(opts);
	free(qname);
	return ok;
}

bool
export_fdw(FILE *out, const plan *p)
{
	fdw_ctx		x = {out, p, NULL, NULL};
	bool		ok;

	if (p->sharding == SHARD_FN_LUA)
	{
		log_error("export fdw: plan %s routes rows with a Lua hook (sharding.function: lua); a hash-partitioned "
				  "parent would send rows and lookups to other shards than the hook chose, so no fdw "
				  "script is written (export pgdog has the same limit)", p->name);
		return false;
	}
	/* UTF8: the script is UTF-8 (\encoding), as plan files and catalogs read through it are */
	x.c = pgr_connect_ex(p->shard_dsns[0], "shard 0", PGR_CONN_READ_ONLY, "UTF8");
	ok = x.c != NULL && pgr_exec(x.c, "clearing the search path (type names come qualified)",
								 "SELECT pg_catalog.set_config('search_path', '', false)", 0, NULL);
	if (ok)
		header(&x);
	ok = ok && servers(&x) && types(&x);
	if (ok)
		key_change_function(out);
	for (int i = 0; ok && i < p->ntables; i++)
		ok = table(&x, &p->tables[i]);
	if (ok)
		fprintf(out, "\nCOMMIT;\n");
	for (int s = 0; x.servers && s < p->nshards; s++)
		free(x.servers[s]);
	free(x.servers);
	pgr_disconnect(x.c);
	return ok && fflush(out) == 0 && !ferror(out);
}
