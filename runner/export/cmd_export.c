/*
 * cmd_export.c — `pgreshard export pgdog|fdw PLAN.yaml`: the command.
 *
 * Loads the plan and hands it to the exporter (export.h).  The output is
 * built in memory and printed only when it is complete, so a failure never
 * leaves half a configuration on stdout for a pipeline to install.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "cli.h"
#include "export.h"
#include "log.h"
#include "plan.h"

static bool
run_export(const char *what, const plan *p, FILE *mem)
{
	catalog    *cat = NULL;
	bool		ok;

	if (strcmp(what, "fdw") == 0)
		return export_fdw(mem, p);
	/* pgdog needs the key columns' types: from the source's catalog, read only */
	ok = catalog_inspect(p, &cat) && export_pgdog(mem, p, cat);
	if (cat)
		catalog_free(cat);
	return ok;
}

int
cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {{NULL, 0, NULL, 0}};
	const char *what;
	plan	   *p;
	char	   *buf = NULL;
	size_t		len = 0;
	FILE	   *mem;
	int			c;
	bool		ok;

	while ((c = cli_getopt(argc, argv, "", opts, "export")) != -1)
		if (c == '?')
			return EXIT_USAGE;
	if (argc - optind != 2)
		return cli_usage_error("export", "expected pgdog|fdw and one PLAN.yaml argument");
	what = argv[optind];
	if (strcmp(what, "pgdog") != 0 && strcmp(what, "fdw") != 0)
		return cli_usage_error("export", "unknown format '%s' (pgdog or fdw)", what);
	if (!plan_load(argv[optind + 1], &p))
		return EXIT_ERROR;
	if ((mem = open_memstream(&buf, &len)) == NULL)
	{
		log_error("export %s: cannot allocate the output buffer", what);
		plan_free(p);
		return EXIT_ERROR;
	}
	ok = run_export(what, p, mem);
	ok = fclose(mem) == 0 && ok;
	if (ok && (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0))
	{
		log_error("export %s: cannot write the output", what);
		ok = false;
	}
	free(buf);
	plan_free(p);
	return ok ? EXIT_OK : EXIT_ERROR;
}
