/*
 * export_target.c — a shard's host, port, database and user, from its
 * conninfo, for the configurations `export` writes.
 *
 * libpq parses the conninfo (key=value or URI, PQconninfoParse: no
 * connection is made).  Only the four fields a router needs to reach the
 * shard are kept; the password, and everything else, is dropped here so
 * that no caller can print it by mistake.
 */
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

#include "export.h"
#include "xalloc.h"

static void
keep(char **dst, const char *val)
{
	if (val != NULL && *val != '\0' && *dst == NULL)
		*dst = xstrdup(val);
}

bool
export_target_parse(const char *conninfo, export_target *out)
{
	char	   *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &err);

	memset(out, 0, sizeof(*out));
	if (opts == NULL)
	{
		PQfreemem(err);
		return false;
	}
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
	{
		if (strcmp(o->keyword, "host") == 0)
			keep(&out->host, o->val);
		else if (strcmp(o->keyword, "port") == 0)
			keep(&out->port, o->val);
		else if (strcmp(o->keyword, "dbname") == 0)
			keep(&out->dbname, o->val);
		else if (strcmp(o->keyword, "user") == 0)
			keep(&out->user, o->val);
	}
	/* hostaddr only when no host name was given */
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "hostaddr") == 0)
			keep(&out->host, o->val);
	PQconninfoFree(opts);
	return true;
}

void
export_target_free(export_target *t)
{
	free(t->host);
	free(t->port);
	free(t->dbname);
	free(t->user);
	memset(t, 0, sizeof(*t));
}
