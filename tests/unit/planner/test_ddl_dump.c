/*
 * test_ddl_dump.c — schema_dump(): running pg_dump for the schema steps.
 *
 * schema_dump() is checked against a fake pg_dump (a shell script named by
 * PGRESHARD_PG_DUMP) that reports its arguments, environment, descriptors
 * and stdin: no password on the command line, no leaked descriptor, no
 * zombie, stderr in the error, no deadlock on a chatty stderr.
 *
 * With PGR_TEST_DSN set, test_live_round_trip() also checks ddl_build() for
 * real: restore the dump into a fresh database, pg_dump it, apply PRE (one
 * transaction) and POST to another fresh database, and compare
 * pg_dump --schema-only -t of every moved table on both sides.
 *
 * ddl_build() on the canned dumps of tests/data/ is in test_ddl.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <libpq-fe.h>

#include "ddl.h"
#include "ddl_test_util.h"
#include "log.h"
#include "schema_dump.h"
#include "sqlname.h"
#include "strbuf.h"
#include "xalloc.h"

/* ---- schema_dump_strip_meta() ----------------------------------------- */

static void
test_strip_meta(void **state)
{
	char		text[] = "\\restrict abc\nSET a = 1;\n\\\nSELECT '\\x';\n\\unrestrict abc";

	(void) state;
	schema_dump_strip_meta(text);
	assert_string_equal(text, "\nSET a = 1;\n\nSELECT '\\x';\n");
}

/* ---- schema_dump() against a fake pg_dump ----------------------------- */

#define LEAK_FD 42
static const char fake_conninfo[] =
	"host=/nonexistent port=5999 dbname=shop user=u password='s3cr3t pass'";

/* Write an executable shell script; returns its path (malloc'd). */
static char *
fake_pg_dump(const char *dir, const char *name, const char *body)
{
	char	   *path = xasprintf("%s/%s", dir, name);
	FILE	   *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s", body);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
	return path;
}

static void
assert_no_children(void)
{
	errno = 0;
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static void
test_schema_dump_child(void **state)
{
	char		dir[] = "/tmp/pgr-test-ddl.XXXXXX";
	char	   *prog, *sql = NULL;
	const char *head = "\nSELECT 1;\n-- arg: --schema-only\n";
	int			leak = open("/dev/null", O_RDONLY);

	(void) state;
	assert_non_null(mkdtemp(dir));
	assert_true(leak >= 0 && dup2(leak, LEAK_FD) == LEAK_FD);
	prog = fake_pg_dump(dir, "pg_dump",
		"printf '\\\\restrict K\\nSELECT 1;\\n'\n"
		"for a in \"$@\"; do echo \"-- arg: $a\"; done\n"
		"echo \"-- password: ${PGPASSWORD:-none}\"\n"
		"[ -e /proc/$$/fd/42 ] && echo '-- leaked fd'\n"
		"read x && echo '-- stdin had data'\n"
		"printf '\\\\unrestrict K\\n'\n");
	setenv("PGRESHARD_PG_DUMP", prog, 1);
	if (!schema_dump(fake_conninfo, "source", &sql))
		fail_msg("schema_dump failed");
	/* the \restrict line is blanked, not removed: line numbers hold */
	assert_int_equal(strncmp(sql, head, strlen(head)), 0);
	for (const char *opt = "--no-owner\0--no-privileges\0--no-publications\0"
		 "--no-subscriptions\0--no-security-labels\0--no-password\0"; *opt;
		 opt += strlen(opt) + 1)
		assert_non_null(strstr(sql, opt));
	assert_non_null(strstr(sql, "-- arg: --dbname="));
	assert_non_null(strstr(sql, "host='/nonexistent'"));
	assert_non_null(strstr(sql, "dbname='shop'"));
	/* the password reaches pg_dump in its environment, never in argv */
	assert_non_null(strstr(sql, "-- password: s3cr3t pass\n"));
	*strstr(sql, "-- password") = '\0';
	assert_null(strstr(sql, "s3cr3t"));
	assert_null(strstr(sql, "leaked fd"));
	assert_null(strstr(sql, "stdin had data"));
	assert_null(strstr(sql, "restrict"));
	assert_no_children();
	free(sql);
	close(LEAK_FD);
	close(leak);
	unlink(prog);
	free(prog);
	rmdir(dir);
	unsetenv("PGRESHARD_PG_DUMP");
}

static void
test_schema_dump_failures(void **state)
{
	char		dir[] = "/tmp/pgr-test-ddl.XXXXXX";
	char	   *prog, *sql = NULL, err[1024];

	(void) state;
	log_set_level(LOG_QUIET);
	assert_non_null(mkdtemp(dir));
	prog = fake_pg_dump(dir, "pg_dump",
		"echo 'SELECT 1;'\necho 'pg_dump: error: boom' >&2\necho 'second line' >&2\nexit 3\n");
	setenv("PGRESHARD_PG_DUMP", prog, 1);
	assert_false(schema_dump(fake_conninfo, "source", &sql));
	assert_null(sql);
	log_last_error(err, sizeof(err));
	assert_int_equal(strncmp(err, "source (", 8), 0);
	assert_non_null(strstr(err, "host=/nonexistent"));
	assert_non_null(strstr(err, "): pg_dump failed: pg_dump: error: boom; second line"));
	assert_null(strstr(err, "s3cr3t"));
	assert_no_children();
	unlink(prog);
	free(prog);

	/* a program that is not there */
	setenv("PGRESHARD_PG_DUMP", "/nonexistent/pg_dump", 1);
	assert_false(schema_dump(fake_conninfo, "source 1", &sql));
	log_last_error(err, sizeof(err));
	assert_non_null(strstr(err, "source 1 ("));
	assert_non_null(strstr(err, "pg_dump failed: cannot execute /nonexistent/pg_dump"));
	assert_no_children();

	/* a conninfo that does not parse never reaches pg_dump */
	assert_false(schema_dump("host='unterminated password=x", "source", &sql));
	log_last_error(err, sizeof(err));
	assert_non_null(strstr(err, "cannot parse the connection string"));
	rmdir(dir);
	unsetenv("PGRESHARD_PG_DUMP");
	log_set_level(LOG_WARN);
}

/* Lots of stderr before any stdout must not deadlock. */
static void
test_schema_dump_chatty(void **state)
{
	char		dir[] = "/tmp/pgr-test-ddl.XXXXXX";
	char	   *prog, *sql = NULL;

	(void) state;
	log_set_level(LOG_ERROR);
	assert_non_null(mkdtemp(dir));
	prog = fake_pg_dump(dir, "pg_dump",
		"yes 'warning: something' | head -c 300000 >&2\n"
		"yes 'SELECT 1;' | head -n 50000\n");
	setenv("PGRESHARD_PG_DUMP", prog, 1);
	assert_true(schema_dump(fake_conninfo, "source", &sql));
	assert_int_equal(strlen(sql), 50000 * 10);
	assert_no_children();
	free(sql);
	unlink(prog);
	free(prog);
	rmdir(dir);
	unsetenv("PGRESHARD_PG_DUMP");
	log_set_level(LOG_WARN);
}

static void
test_schema_dump_program(void **state)
{
	char	   *prog;

	(void) state;
	unsetenv("PGRESHARD_PG_DUMP");
	prog = schema_dump_program();
	assert_non_null(strstr(prog, "pg_dump"));
	if (strchr(prog, '/') != NULL)
		assert_int_equal(access(prog, X_OK), 0);
	free(prog);
	setenv("PGRESHARD_PG_DUMP", "/opt/pg/bin/pg_dump", 1);
	prog = schema_dump_program();
	assert_string_equal(prog, "/opt/pg/bin/pg_dump");
	free(prog);
	unsetenv("PGRESHARD_PG_DUMP");
}

/* ---- live round trip (PGR_TEST_DSN) ----------------------------------- */

typedef struct live {
	PGconn	   *admin;
	char		src_db[64], dst_db[64];
	char	   *src_dsn, *dst_dsn;
} live;

/* base with dbname replaced by db (keyword='value' form). */
static char *
dsn_with_db(const char *base, const char *db)
{
	PQconninfoOption *opts = PQconninfoParse(base, NULL);
	strbuf		sb;

	assert_non_null(opts);
	sb_init(&sb);
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (o->val && strcmp(o->keyword, "dbname") != 0)
			sb_printf(&sb, "%s='%s' ", o->keyword, o->val);
	sb_printf(&sb, "dbname='%s'", db);
	PQconninfoFree(opts);
	return sb_steal(&sb);
}

static void
exec_ok(PGconn *conn, const char *sql, const char *what)
{
	PGresult   *r = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("%s: %s\n%s", what, PQerrorMessage(conn), sql);
	PQclear(r);
}

static PGconn *
connect_ok(const char *dsn)
{
	PGconn	   *conn = PQconnectdb(dsn);

	if (PQstatus(conn) != CONNECTION_OK)
		fail_msg("cannot connect: %s", PQerrorMessage(conn));
	exec_ok(conn, "SET client_min_messages = warning", "quiet");
	return conn;
}

static void
recreate_db(live *l, const char *db)
{
	char	   *sql = xasprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", db);

	exec_ok(l->admin, sql, "drop database");
	free(sql);
	sql = xasprintf("CREATE DATABASE %s", db);
	exec_ok(l->admin, sql, "create database");
	free(sql);
}

/* Every statement of one phase, in one transaction. */
static void
apply_phase(PGconn *conn, const ddl_script *s, ddl_phase phase)
{
	exec_ok(conn, "BEGIN", "begin");
	for (int i = 0; i < s->n; i++)
		if (s->stmts[i].phase == phase)
			exec_ok(conn, s->stmts[i].sql, s->stmts[i].what);
	exec_ok(conn, "COMMIT", "commit");
}

/* pg_dump -t of one table, without comments, blank lines, skipped FKs. */
static char *
table_dump(const char *dsn, const ddl_table *t, const ddl_script *s)
{
	char	   *pattern = xasprintf("\"%s\".\"%s\"", t->schema, t->relname);
	const char *args[] = {"-t", pattern, NULL};
	char	   *raw, *line, *save = NULL;
	strbuf		out;
	size_t		prev = 0;

	if (!schema_dump_args(dsn, "test", args, &raw))
		fail_msg("pg_dump -t %s failed", pattern);
	sb_init(&out);
	for (line = strtok_r(raw, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
	{
		bool		skipped = false;

		for (int i = 0; i < s->nskipped && !skipped; i++)
		{
			char	   *q = sqlname_quote(s->skipped[i].name);
			char	   *needle = xasprintf("ADD CONSTRAINT %s FOREIGN KEY", q);

			skipped = strstr(line, needle) != NULL;
			free(needle);
			free(q);
		}
		if (skipped)			/* and its "ALTER TABLE ONLY x" line */
			out.len = prev, out.data[prev] = '\0';
		else if (strncmp(line, "--", 2) != 0)
		{
			prev = out.len;
			sb_printf(&out, "%s\n", line);
		}
	}
	free(raw);
	free(pattern);
	return sb_steal(&out);
}

static void
round_trip(live *l, const char *source_sql, bool via_pg_dump,
		   const ddl_table *tables, int n, int nskipped)
{
	PGconn	   *src, *dst;
	char	   *dump = NULL;
	ddl_script	s;

	recreate_db(l, l->src_db);
	recreate_db(l, l->dst_db);
	src = connect_ok(l->src_dsn);
	exec_ok(src, source_sql, "loading the source schema");
	PQfinish(src);
	if (via_pg_dump && !schema_dump(l->src_dsn, "source", &dump))
		fail_msg("schema_dump of the source failed");
	build_ok(via_pg_dump ? dump : source_sql, tables, n, &s);
	assert_int_equal(s.nskipped, nskipped);
	dst = connect_ok(l->dst_dsn);
	apply_phase(dst, &s, DDL_PRE);
	apply_phase(dst, &s, DDL_POST);
	PQfinish(dst);
	for (int i = 0; i < n; i++)
	{
		char	   *a = table_dump(l->src_dsn, &tables[i], &s);
		char	   *b = table_dump(l->dst_dsn, &tables[i], &s);

		if (strcmp(a, b) != 0)
			fail_msg("%s.%s differs.\nsource:\n%s\nshard:\n%s",
					 tables[i].schema, tables[i].relname, a, b);
		free(a);
		free(b);
	}
	ddl_script_free(&s);
	free(dump);
}

static void
test_live_round_trip(void **state)
{
	static const char *const K_USERCOL[] = {"user"};
	static const ddl_table public_tables[] = {
		{"public", "user", false, 1, K_ID},
		{"public", "order", false, 1, K_USERCOL},
	};
	const char *base = getenv("PGR_TEST_DSN");
	live		l;
	char	   *shop, *pub;

	(void) state;
	if (base == NULL || *base == '\0')
		skip();
	memset(&l, 0, sizeof(l));
	snprintf(l.src_db, sizeof(l.src_db), "pgr_ddl_src_%d", (int) getpid());
	snprintf(l.dst_db, sizeof(l.dst_db), "pgr_ddl_dst_%d", (int) getpid());
	l.admin = connect_ok(base);
	l.src_dsn = dsn_with_db(base, l.src_db);
	l.dst_dsn = dsn_with_db(base, l.dst_db);
	shop = read_data("dump-shop.sql");
	pub = read_data("dump-public.sql");
	schema_dump_strip_meta(shop);
	schema_dump_strip_meta(pub);
	round_trip(&l, shop, true, shop_tables, N_SHOP, 3);
	round_trip(&l, pub, true, public_tables, 2, 0);
	round_trip(&l, inline_sql, false, inline_tables, 2, 0);
	exec_ok(l.admin, "SELECT 1", "still connected");
	{
		char	   *drop = xasprintf("DROP DATABASE %s WITH (FORCE)", l.src_db);

		exec_ok(l.admin, drop, "drop source");
		free(drop);
		drop = xasprintf("DROP DATABASE %s WITH (FORCE)", l.dst_db);
		exec_ok(l.admin, drop, "drop shard");
		free(drop);
	}
	PQfinish(l.admin);
	free(l.src_dsn);
	free(l.dst_dsn);
	free(shop);
	free(pub);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strip_meta),
		cmocka_unit_test(test_schema_dump_child),
		cmocka_unit_test(test_schema_dump_failures),
		cmocka_unit_test(test_schema_dump_chatty),
		cmocka_unit_test(test_schema_dump_program),
		cmocka_unit_test(test_live_round_trip),
	};

	log_set_level(LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
