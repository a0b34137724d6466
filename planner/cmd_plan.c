/*
 * cmd_plan.c — `pgreshard validate` and `pgreshard plan`.
 *
 * validate loads the plan file and runs every offline check; it never opens
 * a connection.  plan adds what the databases say (catalog_inspect, read
 * only) and prints the step plan as text or JSON.  A plan with errors is
 * still printed, so the reviewer sees every finding at once, and exits 1.
 */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "catalog.h"
#include "cli.h"
#include "hooks.h"
#include "log.h"
#include "plan.h"
#include "stepplan.h"

int
cmd_validate(int argc, char **argv)
{
	static const struct option opts[] = {{NULL, 0, NULL, 0}};
	plan	   *p;
	int			c;

	while ((c = cli_getopt(argc, argv, "", opts, "validate")) != -1)
		if (c == '?')
			return EXIT_USAGE;
	if (argc - optind != 1)
		return cli_usage_error("validate", "expected one PLAN.yaml argument");
	if (!plan_load(argv[optind], &p))
		return EXIT_ERROR;
	if (!hooks_check(p))
	{
		plan_free(p);
		return EXIT_ERROR;
	}
	printf("%s: valid: plan %s, %d table%s, %d source%s, %d shard%s\n", p->path, p->name,
		   p->ntables, p->ntables == 1 ? "" : "s", p->nsources, p->nsources == 1 ? "" : "s",
		   p->nshards, p->nshards == 1 ? "" : "s");
	plan_free(p);
	return EXIT_OK;
}

int
cmd_plan(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"output", required_argument, NULL, 'o'},
		{NULL, 0, NULL, 0}
	};
	bool		json = false;
	const char *save = NULL;
	plan	   *p;
	catalog    *cat;
	int			c, rc;

	while ((c = cli_getopt(argc, argv, ":o:", opts, "plan")) != -1)
	{
		if (c == '?')
			return EXIT_USAGE;
		if (c == 'j')
			json = true;
		else if (c == 'o')
			save = optarg;
	}
	if (argc - optind != 1)
		return cli_usage_error("plan", "expected one PLAN.yaml argument");
	if (save != NULL)
	{
		log_error("plan: saving plans (-o) is not available in this version yet");
		return EXIT_ERROR;
	}
	if (!plan_load(argv[optind], &p))
		return EXIT_ERROR;
	if (!hooks_check(p) || !catalog_inspect(p, &cat))
	{
		plan_free(p);
		return EXIT_ERROR;
	}
	rc = EXIT_OK;
	if (json)
	{
		if (!render_plan_json(stdout, p, cat))
		{
			log_error("plan: cannot write the JSON document");
			rc = EXIT_ERROR;
		}
	}
	else
		render_plan_text(stdout, p, cat, isatty(fileno(stdout)));
	fflush(stdout);
	if (rc == EXIT_OK && catalog_has_errors(cat))
	{
		log_error("%s: the plan has errors (listed under Findings); apply would refuse it", p->path);
		rc = EXIT_ERROR;
	}
	catalog_free(cat);
	plan_free(p);
	return rc;
}
