/*
 * cmd_plan.c — `pgreshard validate` and `pgreshard plan`.
 *
 * validate loads the plan file and runs every offline check; it never opens
 * a connection.  plan adds what the databases say (catalog_inspect, read
 * only) and prints the step plan as text, Markdown (a pull request comment)
 * or JSON.  A plan with errors is still printed, so the reviewer sees every
 * finding at once, and exits 1.
 */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "catalog.h"
#include "cli.h"
#include "hooks.h"
#include "log.h"
#include "plan.h"
#include "saved_plan.h"
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

/* --detailed-exitcode: 0 nothing to do, 2 something to do, 1 errors. */
static int
plan_exit_code(const catalog *cat, bool detailed)
{
	if (catalog_has_errors(cat))
		return EXIT_ERROR;
	if (!detailed)
		return EXIT_OK;
	return catalog_fully_applied(cat) ? EXIT_OK : EXIT_PLAN_CHANGES;
}

int
cmd_plan(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"markdown", no_argument, NULL, 'm'},
		{"output", required_argument, NULL, 'o'},
		{"detailed-exitcode", no_argument, NULL, 'd'},
		{NULL, 0, NULL, 0}
	};
	bool		json = false, markdown = false, detailed = false;
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
		else if (c == 'm')
			markdown = true;
		else if (c == 'd')
			detailed = true;
		else if (c == 'o')
			save = optarg;
	}
	if (argc - optind != 1)
		return cli_usage_error("plan", "expected one PLAN.yaml argument");
	if (json && markdown)
		return cli_usage_error("plan", "--json and --markdown cannot be combined");
	if (!plan_load(argv[optind], &p))
		return EXIT_ERROR;
	if (save != NULL && !saved_plan_check_secrets(p))
	{
		plan_free(p);
		return EXIT_ERROR;
	}
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
	else if (markdown)
		render_plan_markdown(stdout, p, cat);
	else
		render_plan_text(stdout, p, cat, isatty(fileno(stdout)));
	fflush(stdout);
	if (rc == EXIT_OK && catalog_has_errors(cat))
		log_error("%s: the plan has errors (listed under Findings); apply would refuse it%s", p->path,
				  save ? ", so it was not saved" : "");
	else if (rc == EXIT_OK && save != NULL && !saved_plan_write(save, p, cat))
		rc = EXIT_ERROR;
	if (rc == EXIT_OK)
		rc = plan_exit_code(cat, detailed);
	catalog_free(cat);
	plan_free(p);
	return rc;
}
