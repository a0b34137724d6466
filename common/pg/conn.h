/*
 * conn.h — libpq connections and queries with pgreshard's error idiom.
 *
 * Every connection carries a role ("source", "source 1", "shard 2") used in
 * messages, and its conninfo with the password removed: passwords never
 * reach output, logs, saved plans or state rows.  Query helpers report a
 * failure once, here, as
 *     ROLE (CONNINFO): WHAT: primary message (SQLSTATE xxxxx)
 * and return NULL / false; callers just propagate.
 *
 * Values are always sent as parameters and identifiers quoted with
 * PQescapeIdentifier (see pgr_quote_ident).
 */
#ifndef PGR_CONN_H
#define PGR_CONN_H

#include <stdbool.h>
#include <libpq-fe.h>

typedef struct pgr_conn {
	PGconn	   *pg;
	char	   *role;		/* "source", "shard 2", ... */
	char	   *safe_dsn;	/* conninfo without password, for messages */
	int			server_version;	/* e.g. 150018 */
} pgr_conn;

/* Connection flavours. */
#define PGR_CONN_READ_ONLY   0x1	/* every transaction read-only */
#define PGR_CONN_REPLICATION 0x2	/* replication=database (walsender) */

/*
 * Connect.  On failure logs "ROLE (SAFE_DSN): cannot connect: REASON" and
 * returns NULL.  connect_timeout defaults to 10 s unless the conninfo says.
 */
pgr_conn *pgr_connect(const char *conninfo, const char *role, int flags);
/* Same, with the session's client_encoding set at connection time. */
pgr_conn *pgr_connect_ex(const char *conninfo, const char *role, int flags,
						 const char *client_encoding);
void pgr_disconnect(pgr_conn *c);

/*
 * The conninfo with any password removed, as "key=value ..." (malloc'd).
 * A conninfo that does not parse gives "(unparsable conninfo)".
 */
char *conninfo_redact(const char *conninfo);

/*
 * Whether conninfo text as written (before ${VAR} expansion) holds a
 * password itself: a password option or URI password that is not a ${VAR}
 * reference.  Text that does not parse is judged by its look ("password",
 * "://user:secret@").
 */
bool conninfo_has_literal_password(const char *raw);

/*
 * Run a statement; parameters are text (NULL entries are SQL NULL).
 * Returns the result (PGRES_TUPLES_OK or PGRES_COMMAND_OK) or logs
 * "ROLE (DSN): WHAT: MESSAGE (SQLSTATE x)" and returns NULL.
 */
PGresult *pgr_query(pgr_conn *c, const char *what, const char *sql,
					int nparams, const char *const *params);
/* Same, discarding the result. */
bool pgr_exec(pgr_conn *c, const char *what, const char *sql,
			  int nparams, const char *const *params);

/* Log a failed result (used by code that drives libpq directly). */
void pgr_report_result(pgr_conn *c, const char *what, const PGresult *res);
/* Log a connection-level failure (PQerrorMessage), one line. */
void pgr_report_conn(pgr_conn *c, const char *what);

/* "ident" quoted for SQL by libpq (malloc'd, abort on OOM). */
char *pgr_quote_ident(pgr_conn *c, const char *ident);
/* 'literal' quoted for SQL by libpq (malloc'd, abort on OOM), for SQL text
 * that is written out rather than sent (export fdw). */
char *pgr_quote_literal(pgr_conn *c, const char *value);
/* "schema"."rel" quoted for SQL by libpq (malloc'd). */
char *pgr_quote_qualified(pgr_conn *c, const char *schema, const char *rel);

/* Copy libpq's message into one line (newlines become "; "), trimmed. */
void pgr_one_line(char *dst, size_t dstlen, const char *msg);

#endif
