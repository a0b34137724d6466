/*
 * schema_dump.c — run pg_dump --schema-only against the source.  See
 * schema_dump.h.
 *
 * The child is started with fork + execve, with everything it needs (argv,
 * environment, the program's absolute path) prepared before the fork, so
 * that the child only calls async-signal-safe functions (this process may
 * have threads).  Its stdin is /dev/null, its stdout and stderr are pipes
 * read together with poll() so neither can fill up and stall it, and every
 * other descriptor is closed before the exec.  pg_dump gets --no-password:
 * it must never sit waiting for a prompt.
 *
 * The conninfo is split with PQconninfoParse: the password goes into
 * PGPASSWORD in the child's environment (overriding one inherited from ours),
 * everything else is re-assembled into a keyword=value string passed as
 * --dbname.  Messages only ever show conninfo_redact()'s form.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "conn.h"
#include "log.h"
#include "schema_dump.h"
#include "strbuf.h"
#include "xalloc.h"

#define PG_DUMP_MAX_ARGS 64

extern char **environ;

/* What the child needs, all prepared before fork(). */
typedef struct dump_child {
	char	   *program;		/* absolute path, or NULL to report */
	const char *argv[PG_DUMP_MAX_ARGS];
	char	  **envp;			/* NULL-terminated, entries malloc'd */
	char	   *dbname_arg;		/* "--dbname=..." */
	char	   *password_env;	/* "PGPASSWORD=..." or NULL */
} dump_child;

/* The newest /usr/lib/postgresql/N/bin/pg_dump, or NULL. */
static char *
newest_packaged_pg_dump(void)
{
	DIR		   *dir = opendir("/usr/lib/postgresql");
	struct dirent *de;
	long		best = -1;
	char	   *best_path = NULL;

	if (dir == NULL)
		return NULL;
	while ((de = readdir(dir)) != NULL)
	{
		char	   *end;
		long		major = strtol(de->d_name, &end, 10);
		char	   *path;

		if (end == de->d_name || *end != '\0' || major <= best)
			continue;
		path = xasprintf("/usr/lib/postgresql/%s/bin/pg_dump", de->d_name);
		if (access(path, X_OK) == 0)
		{
			free(best_path);
			best_path = path;
			best = major;
		}
		else
			free(path);
	}
	closedir(dir);
	return best_path;
}

/* name resolved along $PATH (malloc'd), or NULL. */
static char *
find_on_path(const char *name)
{
	const char *path = getenv("PATH");
	const char *p = path ? path : "/usr/local/bin:/usr/bin:/bin";

	while (*p)
	{
		size_t		len = strcspn(p, ":");
		char	   *cand = xasprintf("%.*s/%s", (int) (len ? len : 1),
									 len ? p : ".", name);

		if (access(cand, X_OK) == 0)
			return cand;
		free(cand);
		p += len;
		if (*p == ':')
			p++;
	}
	return NULL;
}

char *
schema_dump_program(void)
{
	const char *env = getenv("PGRESHARD_PG_DUMP");
	char	   *found;

	if (env != NULL && *env != '\0')
		return xstrdup(env);
	if ((found = newest_packaged_pg_dump()) != NULL)
		return found;
	if ((found = find_on_path("pg_dump")) != NULL)
		return found;
	return xstrdup("pg_dump");
}

void
schema_dump_strip_meta(char *sql)
{
	char	   *out = sql;
	bool		line_start = true;
	bool		skipping = false;

	for (const char *in = sql; *in; in++)
	{
		if (line_start)
			skipping = (*in == '\\');
		line_start = (*in == '\n');
		if (!skipping || *in == '\n')
			*out++ = *in;
	}
	*out = '\0';
}

/* Append ' key='value' ' to sb, quoted as libpq's conninfo parser expects. */
static void
append_conninfo_pair(strbuf *sb, const char *key, const char *val)
{
	if (sb->len)
		sb_append_char(sb, ' ');
	sb_printf(sb, "%s='", key);
	for (const char *p = val; *p; p++)
	{
		if (*p == '\'' || *p == '\\')
			sb_append_char(sb, '\\');
		sb_append_char(sb, *p);
	}
	sb_append_char(sb, '\'');
}

/*
 * Split conninfo into "--dbname=<everything but secrets>" and the password.
 * Logs and returns false when it does not parse.
 */
static bool
split_conninfo(const char *conninfo, const char *role, const char *safe,
			   dump_child *ch)
{
	char	   *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
	strbuf		sb;

	if (opts == NULL)
	{
		char		line[512];

		pgr_one_line(line, sizeof(line), err ? err : "out of memory");
		log_error("%s (%s): cannot parse the connection string: %s",
				  role, safe, line);
		PQfreemem(err);
		return false;
	}
	sb_init(&sb);
	for (PQconninfoOption *o = opts; o->keyword; o++)
	{
		if (o->val == NULL)
			continue;
		if (strcmp(o->keyword, "password") == 0)
			ch->password_env = xasprintf("PGPASSWORD=%s", o->val);
		else if (strchr(o->dispchar, '*') != NULL)
			log_warn("%s (%s): pg_dump cannot be given %s without showing it; "
					 "it is left out", role, safe, o->keyword);
		else
			append_conninfo_pair(&sb, o->keyword, o->val);
	}
	PQconninfoFree(opts);
	ch->dbname_arg = xasprintf("--dbname=%s", sb.data ? sb.data : "");
	sb_free(&sb);
	return true;
}

/* Our environment, with PGPASSWORD replaced when we have one. */
static char **
child_environment(const char *password_env)
{
	size_t		n = 0, o = 0;
	char	  **envp;

	while (environ && environ[n])
		n++;
	envp = xcalloc(n + 2, sizeof(char *));
	for (size_t i = 0; i < n; i++)
	{
		if (password_env && strncmp(environ[i], "PGPASSWORD=", 11) == 0)
			continue;
		envp[o++] = xstrdup(environ[i]);
	}
	if (password_env)
		envp[o++] = xstrdup(password_env);
	envp[o] = NULL;
	return envp;
}

static bool
prepare_child(const char *conninfo, const char *role, const char *safe, bool owners,
			  const char *const *extra_args, dump_child *ch)
{
	static const char *const fixed[] = {
		"--schema-only", "--no-publications",
		"--no-subscriptions", "--no-security-labels", "--no-password", NULL
	};
	int			n = 0;

	memset(ch, 0, sizeof(*ch));
	if (!split_conninfo(conninfo, role, safe, ch))
		return false;
	ch->program = schema_dump_program();
	ch->argv[n++] = ch->program;
	for (int i = 0; fixed[i]; i++)
		ch->argv[n++] = fixed[i];
	if (!owners)
	{
		ch->argv[n++] = "--no-owner";
		ch->argv[n++] = "--no-privileges";
	}
	for (int i = 0; extra_args && extra_args[i]; i++)
	{
		if (n >= PG_DUMP_MAX_ARGS - 2)
		{
			log_error("%s (%s): too many pg_dump arguments", role, safe);
			return false;
		}
		ch->argv[n++] = extra_args[i];
	}
	ch->argv[n++] = ch->dbname_arg;
	ch->argv[n] = NULL;
	ch->envp = child_environment(ch->password_env);
	return true;
}

static void
free_child(dump_child *ch)
{
	for (size_t i = 0; ch->envp && ch->envp[i]; i++)
		free(ch->envp[i]);
	free(ch->envp);
	free(ch->program);
	free(ch->dbname_arg);
	if (ch->password_env)
	{
		memset(ch->password_env, 0, strlen(ch->password_env));
		free(ch->password_env);
	}
}

/* In the child: only async-signal-safe calls from here on. */
static void
exec_child(const dump_child *ch, int out_fd, int err_fd)
{
	static const char msg[] = "cannot execute ";
	int			null_fd;

	/* move the pipes clear of 0-2 first, in case ours were closed */
	out_fd = fcntl(out_fd, F_DUPFD, 3);
	err_fd = fcntl(err_fd, F_DUPFD, 3);
	null_fd = open("/dev/null", O_RDONLY);
	if (out_fd < 0 || err_fd < 0 || null_fd < 0 ||
		dup2(null_fd, STDIN_FILENO) < 0 ||
		dup2(out_fd, STDOUT_FILENO) < 0 || dup2(err_fd, STDERR_FILENO) < 0)
		_exit(126);
	if (close_range(3, ~0U, 0) != 0)	/* kernels before 5.9 */
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
	execve(ch->program, (char *const *) ch->argv, ch->envp);
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) >= 0 &&
		write(STDERR_FILENO, ch->program, strlen(ch->program)) >= 0)
		(void) write(STDERR_FILENO, "\n", 1);
	_exit(127);
}

/* Read both pipes to EOF (closing them), poll()ing so neither blocks. */
static bool
drain_pipes(int out_fd, int err_fd, strbuf *out, strbuf *err)
{
	struct pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
	strbuf	   *bufs[2] = {out, err};
	int			open_fds = 2;
	bool		ok = true;

	while (open_fds > 0)
	{
		if (poll(fds, 2, -1) < 0)
		{
			if (errno == EINTR)
				continue;
			ok = false;
			break;
		}
		for (int i = 0; i < 2; i++)
		{
			ssize_t		got;

			if (fds[i].fd < 0 || fds[i].revents == 0)
				continue;
			got = read(fds[i].fd, sb_reserve(bufs[i], 65536), 65536);
			if (got > 0)
			{
				bufs[i]->len += (size_t) got;
				bufs[i]->data[bufs[i]->len] = '\0';
			}
			else if (got == 0 || errno != EINTR)
			{
				ok = ok && got == 0;
				close(fds[i].fd);
				fds[i].fd = -1;
				open_fds--;
			}
		}
	}
	for (int i = 0; i < 2; i++)
		if (fds[i].fd >= 0)
			close(fds[i].fd);
	return ok;
}

/* Wait for the child; its exit status, or -1 when it did not exit 0. */
static int
reap(pid_t pid, char *why, size_t whylen)
{
	int			status;

	while (waitpid(pid, &status, 0) < 0)
	{
		if (errno != EINTR)
		{
			snprintf(why, whylen, "waitpid: %s", strerror(errno));
			return -1;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		snprintf(why, whylen, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(why, whylen, "exited with status %d", WEXITSTATUS(status));
	return -1;
}

/* Fork, exec and collect.  Returns false with a one-line reason in why. */
static bool
run_child(const dump_child *ch, strbuf *out, strbuf *err,
		  char *why, size_t whylen)
{
	int			out_pipe[2], err_pipe[2];
	pid_t		pid;
	bool		drained;

	if (pipe2(out_pipe, O_CLOEXEC) < 0)
	{
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		return false;
	}
	if (pipe2(err_pipe, O_CLOEXEC) < 0)
	{
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		close(out_pipe[0]);
		close(out_pipe[1]);
		return false;
	}
	pid = fork();
	if (pid == 0)
		exec_child(ch, out_pipe[1], err_pipe[1]);
	close(out_pipe[1]);
	close(err_pipe[1]);
	if (pid < 0)
	{
		snprintf(why, whylen, "fork: %s", strerror(errno));
		close(out_pipe[0]);
		close(err_pipe[0]);
		return false;
	}
	drained = drain_pipes(out_pipe[0], err_pipe[0], out, err);
	if (!drained)
		kill(pid, SIGTERM);
	if (reap(pid, why, whylen) < 0)
		return false;
	if (!drained)
		snprintf(why, whylen, "reading its output: %s", strerror(errno));
	return drained;
}

static bool
dump_run(const char *conninfo, const char *role, bool owners,
		 const char *const *extra_args, char **sql_out)
{
	char	   *safe = conninfo_redact(conninfo);
	dump_child	ch;
	strbuf		out, err;
	char		why[256] = "";
	char		line[1024];
	bool		ok = false;

	sb_init(&out);
	sb_init(&err);
	if (prepare_child(conninfo, role, safe, owners, extra_args, &ch))
	{
		ok = run_child(&ch, &out, &err, why, sizeof(why));
		pgr_one_line(line, sizeof(line), err.data);
		if (!ok)
			log_error("%s (%s): pg_dump failed: %s", role, safe,
					  line[0] ? line : why);
		else if (line[0])
			log_warn("%s (%s): pg_dump: %s", role, safe, line);
	}
	free_child(&ch);
	free(safe);
	sb_free(&err);
	if (!ok)
	{
		sb_free(&out);
		return false;
	}
	schema_dump_strip_meta(out.data);
	out.len = strlen(out.data);
	*sql_out = sb_steal(&out);
	return true;
}

bool
schema_dump_args(const char *conninfo, const char *role,
				 const char *const *extra_args, char **sql_out)
{
	return dump_run(conninfo, role, false, extra_args, sql_out);
}

bool
schema_dump(const char *conninfo, const char *role, char **sql_out)
{
	return dump_run(conninfo, role, false, NULL, sql_out);
}

bool
schema_dump_owners(const char *conninfo, const char *role, bool owners, char **sql_out)
{
	return dump_run(conninfo, role, owners, NULL, sql_out);
}
