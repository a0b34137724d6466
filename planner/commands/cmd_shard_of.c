/*
 * cmd_shard_of.c — `pgreshard shard-of PLAN TABLE VALUE...`: where a key goes.
 *
 * Uses the same routing function as copy, stream and verify.  The key
 * columns' types come from the source catalog (read-only), or from --type
 * so that the command also works offline.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "cli.h"
#include "conn.h"
#include "hooks.h"
#include "log.h"
#include "pghash.h"
#include "plan.h"
#include "sqlname.h"
#include "xalloc.h"

static const char *const SQL_KEY_TYPE =
	"SELECT " SQL_COLUMN_BASE_TYPE
	"format_type(a.atttypid, a.atttypmod) "
	"FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
	"JOIN pg_namespace n ON n.oid = c.relnamespace "
	"WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = $3 AND NOT a.attisdropped";

/* Key types from the --type list "bigint,uuid". */
static bool
types_from_option(const char *list, const plan_table *t, key_type *types)
{
	char	   *copy = xstrdup(list), *save = NULL;
	int			n = 0;
	bool		ok = true;

	for (char *tok = strtok_r(copy, ",", &save); tok && ok; tok = strtok_r(NULL, ",", &save))
	{
		if (n >= t->nkeys)
			ok = false;
		else if ((types[n++] = key_type_from_name(tok)) == KEY_UNSUPPORTED)
		{
			log_error("shard-of: --type: cannot hash type \"%s\"; supported: smallint, integer, "
					  "bigint, text, varchar, char, uuid", tok);
			free(copy);
			return false;
		}
	}
	free(copy);
	if (!ok || n != t->nkeys)
	{
		log_error("shard-of: --type gives %s types than the key's %d column(s)",
				  n > t->nkeys || !ok ? "more" : "fewer", t->nkeys);
		return false;
	}
	return true;
}

/* Key types from the source's catalog. */
static bool
types_from_source(const plan *p, const plan_table *t, key_type *types)
{
	pgr_conn   *c = pgr_connect(p->source_dsns[0], p->nsources > 1 ? "source 0" : "source",
								PGR_CONN_READ_ONLY);
	bool		ok = c != NULL;

	for (int k = 0; ok && k < t->nkeys; k++)
	{
		const char *params[3] = {t->schema, t->relname, t->keys[k]};
		PGresult   *res = pgr_query(c, "reading the key column's type", SQL_KEY_TYPE, 3, params);
		char	   *name = sqlname_quote_qualified(t->schema, t->relname);

		ok = res != NULL;
		if (ok && PQntuples(res) == 0)
		{
			log_error("%s: table %s has no column \"%s\" on the source", p->path, name, t->keys[k]);
			ok = false;
		}
		else if (ok && (types[k] = key_type_from_oid((unsigned) atol(PQgetvalue(res, 0, 0)))) == KEY_UNSUPPORTED)
		{
			log_error("table %s: key column \"%s\" has type %s, which the built-in hash cannot hash",
					  name, t->keys[k], PQgetvalue(res, 0, 1));
			ok = false;
		}
		free(name);
		PQclear(res);
	}
	pgr_disconnect(c);
	return ok;
}

static int
print_shard(const plan_table *t, const key_type *types, char **values, int nshards)
{
	key_value  *vals = xcalloc((size_t) t->nkeys, sizeof(key_value));
	uint32_t	shard;
	char		err[256];
	int			rc = EXIT_OK;

	for (int k = 0; k < t->nkeys; k++)
	{
		vals[k].isnull = strcmp(values[k], "\\N") == 0;
		vals[k].text = values[k];
		vals[k].len = strlen(values[k]);
	}
	if (shard_of_values(types, vals, t->nkeys, (uint32_t) nshards, &shard, err, sizeof(err)))
		printf("%u\n", shard);
	else
	{
		log_error("shard-of: %s", err);
		rc = EXIT_ERROR;
	}
	free(vals);
	return rc;
}

/* With sharding.function: lua the values are the table's `reads:` columns
 * (else its key columns), passed to the route hook as the row. */
static int
print_lua_shard(const plan *p, const plan_table *t, char **values, int nvalues)
{
	int			ncols = t->nreads > 0 ? t->nreads : t->nkeys;
	char	  **names = t->nreads > 0 ? t->reads : t->keys;
	key_value  *vals;
	hook_row	row;
	hooks	   *h;
	char		err[HOOK_ERR_LEN];
	int			shard, rc = EXIT_ERROR;

	if (nvalues != ncols)
		return cli_usage_error("shard-of", "table %s: the route hook reads %d column(s) (%s), "
							   "but %d value(s) were given", t->spec, ncols,
							   t->nreads > 0 ? "its reads: list" : "its key", nvalues);
	if (!hooks_open(p, &h))
		return EXIT_ERROR;
	vals = xcalloc((size_t) ncols, sizeof(key_value));
	for (int k = 0; k < ncols; k++)
	{
		vals[k].isnull = strcmp(values[k], "\\N") == 0;
		vals[k].text = values[k];
		vals[k].len = strlen(values[k]);
	}
	row = (hook_row) {ncols, (const char *const *) names, vals};
	if (hooks_route(h, t, &row, p->nshards, &shard, err, sizeof(err)))
	{
		printf("%d\n", shard);
		rc = EXIT_OK;
	}
	else
		log_error("shard-of: table %s: %s", t->spec, err);
	free(vals);
	hooks_close(h);
	return rc;
}

/*
 * Arguments: values may be negative numbers, so only --type/-t (and "--")
 * are options; everything else is positional.  Fills pos[] and *types.
 */
static int
parse_args(int argc, char **argv, char **pos, int *npos, const char **types)
{
	bool		only_pos = false;

	*npos = 0;
	for (int i = 1; i < argc; i++)
	{
		const char *a = argv[i];

		if (!only_pos && strcmp(a, "--") == 0)
			only_pos = true;
		else if (!only_pos && (strcmp(a, "--type") == 0 || strcmp(a, "-t") == 0))
		{
			if (++i >= argc)
				return cli_usage_error("shard-of", "option '%s' needs an argument", a);
			*types = argv[i];
		}
		else if (!only_pos && strncmp(a, "--type=", 7) == 0)
			*types = a + 7;
		else if (!only_pos && strncmp(a, "--", 2) == 0)
			return cli_usage_error("shard-of", "unknown option '%s'", a);
		else
			pos[(*npos)++] = argv[i];
	}
	return EXIT_OK;
}

int
cmd_shard_of(int argc, char **argv)
{
	const char *type_list = NULL;
	char	   *schema = NULL, *rel = NULL, err[256];
	char	  **pos = xcalloc((size_t) argc + 1, sizeof(char *));
	const plan_table *t;
	key_type   *types = NULL;
	plan	   *p = NULL;
	int			npos, rc;

	if ((rc = parse_args(argc, argv, pos, &npos, &type_list)) != EXIT_OK)
		goto done;
	rc = EXIT_ERROR;
	if (npos < 3)
		rc = cli_usage_error("shard-of", "expected PLAN.yaml TABLE VALUE...");
	else if (!sqlname_parse_qualified(pos[1], &schema, &rel, err, sizeof(err)))
		rc = cli_usage_error("shard-of", "TABLE \"%s\": %s", pos[1], err);
	else if (!plan_load(pos[0], &p))
		goto done;
	else if ((t = plan_find_table(p, schema, rel)) == NULL)
		log_error("shard-of: table %s is not in plan %s", pos[1], p->path);
	else if (t->replicate)
	{
		printf("all\n");
		rc = EXIT_OK;
	}
	else if (p->sharding == SHARD_FN_LUA)
		rc = print_lua_shard(p, t, pos + 2, npos - 2);
	else if (npos - 2 != t->nkeys)
		rc = cli_usage_error("shard-of", "table %s has %d key column(s) but %d value(s) were given",
							 pos[1], t->nkeys, npos - 2);
	else
	{
		types = xcalloc((size_t) t->nkeys, sizeof(key_type));
		if (type_list ? types_from_option(type_list, t, types) : types_from_source(p, t, types))
			rc = print_shard(t, types, pos + 2, p->nshards);
	}
done:
	free(types);
	plan_free(p);
	free(schema);
	free(rel);
	free(pos);
	return rc;
}
