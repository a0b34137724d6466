/*
 * cli.h — exit codes (CONTRACT.md) and the command handlers' signatures.
 *
 * A handler parses its own options, does its work, and returns an exit
 * code; only main() exits.
 */
#ifndef PGR_CLI_H
#define PGR_CLI_H

#include <stdbool.h>

enum {
	EXIT_OK = 0,
	EXIT_ERROR = 1,
	EXIT_USAGE = 2,
	EXIT_PLAN_CHANGES = 2,		/* plan --detailed-exitcode: there is something to apply */
	EXIT_STALE = 3,
	EXIT_DIFFERENCES = 4
};

#define PGRESHARD_VERSION "0.9.2"

typedef struct cli_command {
	const char *name;
	int			(*run) (int argc, char **argv);	/* argv[0] is the command name */
	const char *synopsis;
	const char *help;		/* the command's --help text (after the synopsis) */
} cli_command;

/* Parse a command's options with getopt_long; returns the option, -1 at the
 * end, or '?' after reporting a usage error. */
struct option;
int cli_getopt(int argc, char **argv, const char *shortopts,
			   const struct option *longopts, const char *cmd);
/* Report a usage error for cmd ("pgreshard: CMD: MSG; try ...") and return EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

int cmd_validate(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_shard_of(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_cleanup(int argc, char **argv);
int cmd_cutover(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_repair(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_finish(int argc, char **argv);

#endif
