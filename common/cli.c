/*
 * cli.c — option parsing and usage errors shared by the command handlers.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>

#include "cli.h"
#include "log.h"

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
	char		msg[512];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cmd)
		log_error("%s: %s; try 'pgreshard %s --help'", cmd, msg, cmd);
	else
		log_error("%s; try 'pgreshard --help'", msg);
	return EXIT_USAGE;
}

int
cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
		   const char *cmd)
{
	int			c;

	opterr = 0;
	c = getopt_long(argc, argv, shortopts, longopts, NULL);
	if (c == '?')
	{
		if (optopt)
			cli_usage_error(cmd, "unknown option or missing argument for '-%c'", optopt);
		else
			cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
	}
	else if (c == ':')
	{
		cli_usage_error(cmd, "option '%s' needs an argument", argv[optind - 1]);
		c = '?';
	}
	return c;
}

