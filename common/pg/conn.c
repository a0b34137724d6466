/*
 * conn.c — libpq connections and queries with one error idiom.  See conn.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "strbuf.h"
#include "xalloc.h"

void
pgr_one_line(char *dst, size_t dstlen, const char *msg)
{
	size_t		o = 0;

	if (dstlen == 0)
		return;
	for (const char *p = msg ? msg : ""; *p && o + 3 < dstlen; p++)
	{
		if (*p == '\n')
		{
			if (p[1] == '\0')
				break;
			dst[o++] = ';';
			dst[o++] = ' ';
			while (p[1] == ' ' || p[1] == '\t')
				p++;
		}
		else
			dst[o++] = *p;
	}
	while (o > 0 && (dst[o - 1] == ' ' || dst[o - 1] == ';'))
		o--;
	dst[o] = '\0';
}

static bool
needs_quotes(const char *v)
{
	if (*v == '\0')
		return true;
	for (; *v; v++)
		if (*v == ' ' || *v == '\'' || *v == '\\' || *v == '=')
			return true;
	return false;
}

char *
conninfo_redact(const char *conninfo)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	strbuf		sb;

	if (opts == NULL)
		return xstrdup("(unparsable conninfo)");
	sb_init(&sb);
	for (PQconninfoOption *o = opts; o->keyword; o++)
	{
		if (o->val == NULL || strcmp(o->keyword, "password") == 0 ||
			strchr(o->dispchar, '*') != NULL)
			continue;
		if (sb.len)
			sb_append_char(&sb, ' ');
		sb_printf(&sb, "%s=", o->keyword);
		if (!needs_quotes(o->val))
			sb_append(&sb, o->val);
		else
		{
			sb_append_char(&sb, '\'');
			for (const char *p = o->val; *p; p++)
			{
				if (*p == '\'' || *p == '\\')
					sb_append_char(&sb, '\\');
				sb_append_char(&sb, *p);
			}
			sb_append_char(&sb, '\'');
		}
	}
	PQconninfoFree(opts);
	return sb_steal(&sb);
}

static bool
looks_like_uri_password(const char *raw)
{
	const char *scheme = strstr(raw, "://");
	const char *at, *colon, *slash;

	if (scheme == NULL)
		return false;
	scheme += 3;
	at = strchr(scheme, '@');
	colon = strchr(scheme, ':');
	slash = strchr(scheme, '/');
	return at != NULL && colon != NULL && colon < at && (slash == NULL || slash > at) &&
		strncmp(colon + 1, "${", 2) != 0;
}

bool
conninfo_has_literal_password(const char *raw)
{
	PQconninfoOption *opts = PQconninfoParse(raw, NULL);
	bool		found = false;

	if (opts == NULL)
		return strcasestr(raw, "password") != NULL || looks_like_uri_password(raw);
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL && o->val[0] != '\0' &&
			strstr(o->val, "${") == NULL)
			found = true;
	PQconninfoFree(opts);
	return found;
}

/* Server notices (e.g. "already exists, skipping") are debug output. */
static void
notice_to_log(void *arg, const char *message)
{
	char		line[1024];

	pgr_one_line(line, sizeof(line), message);
	log_debug("%s: %s", ((pgr_conn *) arg)->role, line);
}

pgr_conn *
pgr_connect(const char *conninfo, const char *role, int flags)
{
	return pgr_connect_ex(conninfo, role, flags, NULL);
}

pgr_conn *
pgr_connect_ex(const char *conninfo, const char *role, int flags, const char *client_encoding)
{
	const char *keys[7];
	const char *vals[7];
	int			n = 0;
	pgr_conn   *c = xcalloc(1, sizeof(*c));

	keys[n] = "connect_timeout"; vals[n++] = "10";
	keys[n] = "application_name"; vals[n++] = "pgreshard";
	keys[n] = "dbname"; vals[n++] = conninfo;
	if (flags & PGR_CONN_REPLICATION)
	{
		keys[n] = "replication"; vals[n++] = "database";
	}
	if (client_encoding)
	{
		keys[n] = "client_encoding"; vals[n++] = client_encoding;
	}
	keys[n] = NULL; vals[n] = NULL;

	c->role = xstrdup(role);
	c->safe_dsn = conninfo_redact(conninfo);
	c->pg = PQconnectdbParams(keys, vals, 1);
	if (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK)
	{
		pgr_report_conn(c, "cannot connect");
		pgr_disconnect(c);
		return NULL;
	}
	c->server_version = PQserverVersion(c->pg);
	PQsetNoticeProcessor(c->pg, notice_to_log, c);
	if ((flags & PGR_CONN_READ_ONLY) &&
		!pgr_exec(c, "making the session read-only",
				  "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", 0, NULL))
	{
		pgr_disconnect(c);
		return NULL;
	}
	return c;
}

void
pgr_disconnect(pgr_conn *c)
{
	if (c == NULL)
		return;
	if (c->pg)
		PQfinish(c->pg);
	free(c->role);
	free(c->safe_dsn);
	free(c);
}

void
pgr_report_conn(pgr_conn *c, const char *what)
{
	char		msg[1024];

	pgr_one_line(msg, sizeof(msg), c->pg ? PQerrorMessage(c->pg) : "out of memory");
	log_error("%s (%s): %s: %s", c->role, c->safe_dsn, what, msg);
}

void
pgr_report_result(pgr_conn *c, const char *what, const PGresult *res)
{
	char		msg[1024];
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;

	if (primary == NULL)
	{
		pgr_report_conn(c, what);
		return;
	}
	pgr_one_line(msg, sizeof(msg), primary);
	if (detail)
	{
		char		d[512];

		pgr_one_line(d, sizeof(d), detail);
		log_error("%s (%s): %s: %s (SQLSTATE %s) DETAIL: %s", c->role, c->safe_dsn,
				  what, msg, state ? state : "?", d);
	}
	else
		log_error("%s (%s): %s: %s (SQLSTATE %s)", c->role, c->safe_dsn, what,
				  msg, state ? state : "?");
}

PGresult *
pgr_query(pgr_conn *c, const char *what, const char *sql, int nparams,
		  const char *const *params)
{
	/* without parameters, PQexec: it also runs multi-statement scripts */
	PGresult   *res = nparams == 0 ? PQexec(c->pg, sql) :
		PQexecParams(c->pg, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return res;
	pgr_report_result(c, what, res);
	PQclear(res);
	return NULL;
}

bool
pgr_exec(pgr_conn *c, const char *what, const char *sql, int nparams,
		 const char *const *params)
{
	PGresult   *res = pgr_query(c, what, sql, nparams, params);

	if (res == NULL)
		return false;
	PQclear(res);
	return true;
}

char *
pgr_quote_ident(pgr_conn *c, const char *ident)
{
	char	   *q = PQescapeIdentifier(c->pg, ident, strlen(ident));
	char	   *r;

	if (q == NULL)
	{
		fprintf(stderr, "pgreshard: cannot quote identifier: %s", PQerrorMessage(c->pg));
		abort();
	}
	r = xstrdup(q);
	PQfreemem(q);
	return r;
}

char *
pgr_quote_literal(pgr_conn *c, const char *value)
{
	char	   *q = PQescapeLiteral(c->pg, value, strlen(value));
	char	   *r;

	if (q == NULL)
	{
		fprintf(stderr, "pgreshard: cannot quote a literal: %s", PQerrorMessage(c->pg));
		abort();
	}
	r = xstrdup(q);
	PQfreemem(q);
	return r;
}

char *
pgr_quote_qualified(pgr_conn *c, const char *schema, const char *rel)
{
	char	   *s = pgr_quote_ident(c, schema);
	char	   *r = pgr_quote_ident(c, rel);
	char	   *q = xasprintf("%s.%s", s, r);

	free(s);
	free(r);
	return q;
}
