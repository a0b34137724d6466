/*
 * snapshot_keeper.c — the copy's snapshot kept by a process of its own, so
 * a rerun after a crash of the runner reads under it again (see
 * snapshot_keeper.h for why and for how long).
 *
 * Starting one: the lease row is written first (DESIGN.md invariant 8:
 * what pgreshard leaves running is on record before it exists); then
 * `pgreshard __keep-snapshot` is spawned with its parameters on a pipe
 * (conninfos hold passwords: never on a command line), forks once more and
 * detaches (its own session: a Ctrl-C of the apply does not reach it, and
 * the runner reaps the first process at once), imports the snapshot,
 * exports it again and answers "ok NAME PID" on the other pipe.  From then
 * on it only checks, every second, that the source session is alive and
 * that its lease (shard 0, matched by a random token) is still there and
 * not past; otherwise it ends the transaction and exits.  `cleanup`, which
 * drops the state schema, ends it the same way.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "log.h"
#include "snapshot_keeper.h"
#include "xalloc.h"

extern char **environ;

#define KEEPER_ANSWER_TIMEOUT_MS 30000
#define KEEPER_RENEW_S 5.0

static void
source_str(int i, char *buf, size_t len)
{
	snprintf(buf, len, "%d", i);
}

bool
keeper_adopt(apply_ctx *ctx, int i)
{
	source_session *ss = &ctx->sources[i];
	char		src_s[16];
	const char *params[2] = {ctx->plan->name, src_s};
	PGresult   *res, *r2;
	pgr_conn   *c;
	char	   *lit, *sql;
	uint64_t	lsn;

	if (ss->snapshot != NULL || ctx->plan->copy_keep_snapshot_s == 0)
		return true;
	source_str(i, src_s, sizeof(src_s));
	res = pgr_query(ctx->state, "looking for a kept snapshot",
					"SELECT snapshot, snapshot_lsn, snapshot_xids FROM pgreshard.snapshot_keepers "
					"WHERE plan_name = $1 AND source = $2 AND snapshot IS NOT NULL AND wanted_until > now()", 2,
					params);
	if (res == NULL)
		return false;
	if (PQntuples(res) != 1 || !lsn_parse(PQgetvalue(res, 0, 1), &lsn))
	{
		PQclear(res);
		return true;
	}
	if ((c = pgr_connect(ctx->plan->source_dsns[i], ss->role, PGR_CONN_READ_ONLY)) == NULL)
	{
		PQclear(res);
		return false;
	}
	lit = pgr_quote_literal(c, PQgetvalue(res, 0, 0));
	/* the same snapshot, not another one under a name a restarted source gave again */
	sql = xasprintf("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT %s; "
					"SELECT pg_current_snapshot()::text", lit);
	r2 = PQexec(c->pg, sql);
	if (PQresultStatus(r2) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r2, 0, 0), PQgetvalue(res, 0, 2)) != 0)
	{
		log_info("%s: the snapshot the last run kept is gone (its name now names another); copying under a "
				 "new one", ss->role);
		pgr_exec(ctx->state, "ending a lost snapshot's lease",
				 "DELETE FROM pgreshard.snapshot_keepers WHERE plan_name = $1 AND source = $2", 2, params);
	}
	else if (PQresultStatus(r2) == PGRES_TUPLES_OK)
	{
		ss->snapshot = xstrdup(PQgetvalue(res, 0, 0));
		ss->snapshot_lsn = lsn;
		ss->kept = true;
		log_info("%s: copying on under the snapshot the last run copied under (consistent point %s), which "
				 "its keeper process still holds", ss->role, PQgetvalue(res, 0, 1));
	}
	else
	{
		const char *why = PQresultErrorField(r2, PG_DIAG_MESSAGE_PRIMARY);

		log_info("%s: the snapshot the last run kept is gone (%s); copying under a new one", ss->role,
				 why ? why : PQerrorMessage(c->pg));
		PQclear(r2);
		r2 = NULL;
		pgr_exec(ctx->state, "ending a lost snapshot's lease",
				 "DELETE FROM pgreshard.snapshot_keepers WHERE plan_name = $1 AND source = $2", 2, params);
	}
	PQclear(r2);
	PQclear(res);
	free(sql);
	free(lit);
	pgr_disconnect(c);
	if (ss->kept)
		keeper_renew(ctx);
	return true;
}

/* A random token naming one keeper's lease. */
static void
make_token(char *out, size_t len)
{
	unsigned char b[12] = {0};
	int			fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	struct timespec ts;

	if (fd < 0 || read(fd, b, sizeof(b)) != (ssize_t) sizeof(b))
	{
		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf((char *) b, sizeof(b), "%x%lx", (unsigned) getpid(), (unsigned long) ts.tv_nsec);
	}
	if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < sizeof(b) && 2 * i + 2 < len; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* Spawn the keeper, hand it its parameters and read its answer (a line). */
static bool
spawn_keeper(const char *params, char *answer, size_t len)
{
	int			in[2], out[2];
	posix_spawn_file_actions_t fa;
	char	   *argv[] = {"pgreshard", "__keep-snapshot", NULL};
	pid_t		pid;
	int			rc, status;
	size_t		got = 0;
	bool		ok;

	answer[0] = '\0';
	if (pipe2(in, O_CLOEXEC) != 0)
	{
		snprintf(answer, len, "error cannot make a pipe: %s", strerror(errno));
		return false;
	}
	if (pipe2(out, O_CLOEXEC) != 0)
	{
		snprintf(answer, len, "error cannot make a pipe: %s", strerror(errno));
		close(in[0]);
		close(in[1]);
		return false;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	ok = rc == 0;
	if (!ok)
		snprintf(answer, len, "error cannot start /proc/self/exe __keep-snapshot: %s", strerror(rc));
	if (ok)
	{
		size_t		n = strlen(params), off = 0;

		while (ok && off < n)
		{
			ssize_t		w = write(in[1], params + off, n - off);

			ok = w > 0 || (w < 0 && errno == EINTR);
			off += w > 0 ? (size_t) w : 0;
		}
	}
	close(in[1]);
	if (rc == 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	while (ok && got + 1 < len && strchr(answer, '\n') == NULL)
	{
		struct pollfd pfd = {out[0], POLLIN, 0};
		ssize_t		r;

		if (poll(&pfd, 1, KEEPER_ANSWER_TIMEOUT_MS) <= 0)
			break;
		if ((r = read(out[0], answer + got, len - got - 1)) <= 0)
			break;
		got += (size_t) r;
		answer[got] = '\0';
	}
	close(out[0]);
	return ok && strchr(answer, '\n') != NULL;
}

bool
keeper_start(apply_ctx *ctx, int i)
{
	source_session *ss = &ctx->sources[i];
	const plan *p = ctx->plan;
	char		token[32], src_s[16], keep_s[32], lsn[32], host[256] = "";
	char		answer[1024], name[256] = "", xids[640] = "";
	int			pid = 0;
	char	   *params;
	bool		started;

	if (p->copy_keep_snapshot_s == 0 || ss->kept || ss->snapshot == NULL)
		return true;
	make_token(token, sizeof(token));
	source_str(i, src_s, sizeof(src_s));
	snprintf(keep_s, sizeof(keep_s), "%lld", p->copy_keep_snapshot_s);
	lsn_format(ss->snapshot_lsn, lsn, sizeof(lsn));
	gethostname(host, sizeof(host) - 1);
	{
		const char *q[6] = {p->name, src_s, token, lsn, host, keep_s};

		if (!pgr_exec(ctx->state, "recording the snapshot keeper",
					  "INSERT INTO pgreshard.snapshot_keepers (plan_name, source, token, snapshot_lsn, host, "
					  "wanted_until) VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6::float8)) "
					  "ON CONFLICT (plan_name, source) DO UPDATE SET token = excluded.token, snapshot = NULL, "
					  "snapshot_lsn = excluded.snapshot_lsn, keeper_pid = NULL, host = excluded.host, "
					  "wanted_until = excluded.wanted_until", 6, q))
			return false;
	}
	params = xasprintf("%s\n%s\n%s\n%d\n%s\n%s\n%s\n", p->source_dsns[i], p->shard_dsns[0], p->name, i, token,
					   ss->snapshot, keep_s);
	started = spawn_keeper(params, answer, sizeof(answer)) &&
		sscanf(answer, "ok %255s %639s %d", name, xids, &pid) == 3;
	/* the parameters hold passwords: not left in freed memory */
	explicit_bzero(params, strlen(params));
	free(params);
	if (started)
	{
		char		pid_s[16];
		const char *q[6] = {p->name, src_s, token, name, pid_s, xids};

		snprintf(pid_s, sizeof(pid_s), "%d", pid);
		ss->kept = pgr_exec(ctx->state, "recording the snapshot keeper",
							"UPDATE pgreshard.snapshot_keepers SET snapshot = $4, keeper_pid = $5, "
							"snapshot_xids = $6 WHERE plan_name = $1 AND source = $2 AND token = $3", 6, q);
		if (ss->kept)
			log_info("%s: the copy's snapshot is kept by process %d for %lld s after this run ends, so that a "
					 "rerun after a crash goes on under it (copy.keep_snapshot_s)", ss->role, pid,
					 p->copy_keep_snapshot_s);
		return ss->kept;
	}
	{
		char	   *nl = strchr(answer, '\n');
		const char *q[3] = {p->name, src_s, token};

		if (nl)
			*nl = '\0';
		log_warn("%s: cannot keep the copy's snapshot for a rerun (%s); a rerun after a crash copies the "
				 "shared scans in flight again", ss->role,
				 strncmp(answer, "error ", 6) == 0 ? answer + 6 : "the keeper process did not answer");
		return pgr_exec(ctx->state, "ending the snapshot keeper's lease",
						"DELETE FROM pgreshard.snapshot_keepers WHERE plan_name = $1 AND source = $2 "
						"AND token = $3", 3, q);
	}
}

void
keeper_renew(apply_ctx *ctx)
{
	static double next;
	char		keep_s[32];
	const char *q[2] = {ctx->plan->name, keep_s};
	bool		any = false;

	for (int i = 0; i < ctx->plan->nsources; i++)
		any = any || ctx->sources[i].kept;
	if (!any || mono_seconds() < next)
		return;
	next = mono_seconds() + KEEPER_RENEW_S;
	snprintf(keep_s, sizeof(keep_s), "%lld", ctx->plan->copy_keep_snapshot_s);
	pgr_exec(ctx->state, "renewing the snapshot keeper's lease",
			 "UPDATE pgreshard.snapshot_keepers SET wanted_until = now() + make_interval(secs => $2::float8) "
			 "WHERE plan_name = $1", 2, q);
}

bool
keeper_release(apply_ctx *ctx)
{
	const char *q[1] = {ctx->plan->name};

	for (int i = 0; i < ctx->plan->nsources; i++)
	{
		source_session *ss = &ctx->sources[i];

		/* a snapshot only the keeper held is gone with it */
		if (ss->kept && ss->repl == NULL)
		{
			free(ss->snapshot);
			ss->snapshot = NULL;
		}
		ss->kept = false;
	}
	return pgr_exec(ctx->state, "ending the snapshot keepers' leases",
					"DELETE FROM pgreshard.snapshot_keepers WHERE plan_name = $1", 1, q);
}

/* ---- the keeper process ---- */

/* One line of stdin (without its newline), malloc'd; NULL at EOF. */
static char *
read_line(void)
{
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		n = getline(&line, &cap, stdin);

	if (n <= 0)
	{
		free(line);
		return NULL;
	}
	if (line[n - 1] == '\n')
		line[n - 1] = '\0';
	return line;
}

/* Import snapshot on src, export it again: "NAME XIDS" (the exported name
 * and pg_current_snapshot() under it), or NULL with why. */
static char *
keep_on(PGconn *src, const char *snapshot, char *why, size_t len)
{
	char	   *lit = PQescapeLiteral(src, snapshot, strlen(snapshot));
	char	   *sql = lit ? xasprintf("SET idle_in_transaction_session_timeout = 0; SET statement_timeout = 0; "
									  "SET application_name = 'pgreshard snapshot keeper'; "
									  "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT %s", lit)
		: NULL;
	PGresult   *res = sql ? PQexec(src, sql) : NULL;
	char	   *name = NULL;

	if (PQresultStatus(res) == PGRES_COMMAND_OK)
	{
		PQclear(res);
		res = PQexec(src, "SELECT pg_export_snapshot() || ' ' || pg_current_snapshot()::text");
		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
			name = xstrdup(PQgetvalue(res, 0, 0));
	}
	if (name == NULL)
		snprintf(why, len, "%s", PQerrorMessage(src));
	PQclear(res);
	free(sql);
	PQfreemem(lit);
	return name;
}

/* Seconds the lease has left: > 0 while it lasts, 0 when it is gone or past,
 * -1 when shard 0 cannot tell now. */
static double
lease_left(PGconn *state, const char *plan_name, const char *source, const char *token)
{
	const char *q[3] = {plan_name, source, token};
	PGresult   *res = PQexecParams(state, "SELECT extract(epoch FROM wanted_until - now()) FROM "
									"pgreshard.snapshot_keepers WHERE plan_name = $1 AND source = $2 AND token = $3",
									3, NULL, q, NULL, NULL, 0);
	double		left = -1;

	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		left = PQntuples(res) == 1 ? atof(PQgetvalue(res, 0, 0)) : 0;
	else
	{
		const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		/* the state schema dropped (cleanup): nothing to keep for */
		if (st && (strcmp(st, "42P01") == 0 || strcmp(st, "3F000") == 0))
			left = 0;
	}
	PQclear(res);
	return left > 0 ? left : left < 0 ? -1 : 0;
}

/* The keeper's life after its answer: until the lease ends or the source
 * session does. */
static void
keep(PGconn *src, const char *state_dsn, const char *plan_name, const char *source, const char *token,
	 double keep_s)
{
	PGconn	   *state = PQconnectdb(state_dsn);
	double		deadline = mono_seconds() + keep_s;

	for (;;)
	{
		double		left;

		mono_sleep(1.0);
		if (PQconsumeInput(src) == 0 || PQstatus(src) != CONNECTION_OK)
			break;
		if (PQstatus(state) != CONNECTION_OK)
			PQreset(state);
		left = PQstatus(state) == CONNECTION_OK ? lease_left(state, plan_name, source, token) : -1;
		if (left == 0)
			break;
		if (left > 0)
			deadline = mono_seconds() + left;
		else if (mono_seconds() > deadline)
			break;
	}
	if (PQstatus(state) == CONNECTION_OK)
	{
		const char *q[3] = {plan_name, source, token};

		PQclear(PQexecParams(state, "DELETE FROM pgreshard.snapshot_keepers WHERE plan_name = $1 AND source = $2 "
							 "AND token = $3", 3, NULL, q, NULL, NULL, 0));
	}
	PQfinish(state);
}

int
cmd_keep_snapshot(int argc, char **argv)
{
	char	   *v[7] = {0};
	int			n = 0, rc = EXIT_OK;
	pid_t		pid;

	(void) argc;
	(void) argv;
	while (n < 7 && (v[n] = read_line()) != NULL)
		n++;
	if (n < 7)
	{
		printf("error the keeper was not given its parameters\n");
		rc = EXIT_ERROR;
	}
	else if ((pid = fork()) < 0)
	{
		printf("error cannot fork: %s\n", strerror(errno));
		rc = EXIT_ERROR;
	}
	else if (pid == 0)
	{
		PGconn	   *src;
		char		why[512] = "", *name = NULL;

		setsid();
		src = PQconnectdb(v[0]);
		if (PQstatus(src) != CONNECTION_OK)
			snprintf(why, sizeof(why), "%s", PQerrorMessage(src));
		else
			name = keep_on(src, v[5], why, sizeof(why));
		for (char *c = why; *c; c++)
			if (*c == '\n')
				*c = ' ';
		if (name)
			printf("ok %s %d\n", name, (int) getpid());
		else
			printf("error %s\n", why);
		fflush(stdout);
		if (freopen("/dev/null", "w", stdout) == NULL)
			close(1);
		if (name)
			keep(src, v[1], v[2], v[3], v[4], atof(v[6]));
		PQfinish(src);
		free(name);
	}
	for (int i = 0; i < n; i++)
	{
		if (i < 2)
			explicit_bzero(v[i], strlen(v[i]));
		free(v[i]);
	}
	return rc;
}
