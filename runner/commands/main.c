/*
 * main.c — the pgreshard command line: global options and dispatch.
 *
 * Each command is a handler that returns an exit code (CONTRACT.md);
 * main() is the only place the process exits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "snapshot_keeper.h"

static const cli_command commands[] = {
	{"validate", cmd_validate, "validate PLAN.yaml",
	 "Parse and lint the plan file offline; touches no database.\n"
	 "Exit 0 when the plan is valid, 1 with FILE:LINE:COL messages when not.\n"},
	{"plan", cmd_plan, "plan PLAN.yaml [-o FILE] [--json|--markdown] [--detailed-exitcode]",
	 "Inspect the source(s) and destinations read-only and print the step plan:\n"
	 "tables, keys, sizes, estimated rows per shard, the steps, and lint findings.\n"
	 "Creates nothing anywhere.  Exit 1 when the plan has errors.\n\n"
	 "  --json               print a versioned JSON document instead of text\n"
	 "  --markdown           print Markdown for a pull request comment: a summary\n"
	 "                       line, the steps, tables, estimates and findings\n"
	 "  -o FILE              save the plan (JSON, with a fingerprint of everything it\n"
	 "                       depends on) for `apply FILE`; refused for a plan with\n"
	 "                       errors or a password written in the plan file\n"
	 "  --detailed-exitcode  exit 0 when every step is already done, 2 when apply\n"
	 "                       would do something, 1 on errors\n"},
	{"apply", cmd_apply, "apply PLAN.yaml|SAVED [--until STEP] [--yes]",
	 "Run the steps in order: preflight slot schema-pre copy schema-post stream\n"
	 "verify cutover finish.  Each step is checkpointed in the pgreshard schema on\n"
	 "shard 0; a rerun after any failure continues where the last run stopped, and\n"
	 "a rerun after success does nothing.  Two applies of one plan never run at once.\n"
	 "With a saved plan (plan -o), the databases are inspected again first: when\n"
	 "anything the plan depends on changed, exit 3 with the list and nothing done.\n\n"
	 "  --until STEP  stop after STEP\n"
	 "  --yes         do not ask for confirmation (required when stdin is not a terminal)\n"},
	{"status", cmd_status, "status PLAN.yaml [--json|--prometheus]",
	 "Show where the plan's apply is, read-only (never takes the plan's lock):\n"
	 "each step's state, attempts and times; copy progress per table (chunks done\n"
	 "on every shard, rows copied); stream lag per source in bytes and seconds;\n"
	 "whether the plan's lock is held now and by whom; the last error; the last\n"
	 "cutover (writes held, fence) and verify.  A plan never applied says so.\n"
	 "Exit 1 only when the state on shard 0 cannot be read; an unreachable source\n"
	 "or shard is shown in the report.\n\n"
	 "  --json        a versioned JSON document (format_version 1)\n"
	 "  --prometheus  the same numbers in Prometheus' text exposition format\n"
	 "                (pgreshard_* metrics labelled by plan, table, source, shard),\n"
	 "                e.g. for node_exporter's textfile collector\n"},
	{"verify", cmd_verify, "verify PLAN.yaml [--json]",
	 "Compare source and shards now, inside the servers: per table, a count and a\n"
	 "sum of row hashes per destination shard and key bucket on every side, each\n"
	 "shard against its own subset of the source; differing buckets are re-checked\n"
	 "after the stream catches up, then the differing keys are named (missing,\n"
	 "extra, different, misplaced; the first 100).\n"
	 "Exit 0 when they match, 4 when they differ.\n\n"
	 "  --json        a versioned JSON report\n"},
	{"repair", cmd_repair, "repair PLAN.yaml [TABLE...]",
	 "Before the cutover, copy again what verify finds different: the tables named,\n"
	 "or (none named) every table an exact verify finds different.  On every shard\n"
	 "the table's rows are removed and copied again from the source under a fresh\n"
	 "snapshot, while the source keeps writing; the stream skips, for those rows,\n"
	 "the changes the snapshot already has.  Then run verify (or apply) again.\n"
	 "Takes the plan's lock (refused while an apply runs).  Refused after the\n"
	 "cutover: the shards are the truth then.\n"},
	{"cutover", cmd_cutover, "cutover PLAN.yaml",
	 "Ask for the cutover of a plan in cutover.mode: manual: a running apply that\n"
	 "waits for it cuts over now; if none runs, the next apply does.\n"},
	{"cleanup", cmd_cleanup, "cleanup PLAN.yaml [--drop-data]",
	 "Drop everything pgreshard created for this plan, from its ledger: the slots,\n"
	 "a publication it created, the write guard on the sources, and the plan's\n"
	 "state on the shards.  Without --drop-data the copied tables stay.\n"
	 "Works after a crash at any point; safe to run twice.\n\n"
	 "  --drop-data   cancel a move before its cutover: also drop the tables and\n"
	 "                objects the schema sync created on the shards, and empty the\n"
	 "                moved tables a shard had before, so a fresh apply can start\n"
	 "                over.  Refused once a cutover is done or under way.\n"},
	{"rollback", cmd_rollback, "rollback PLAN.yaml",
	 "After the cutover, while the shards stream their changes back (cutover.reverse):\n"
	 "switch back to the source(s), fenced.  A running apply hands the plan over.\n"
	 "Freeze writes on the shards (cutover.freeze), drain every reverse stream to its\n"
	 "shard's fence, verify if cutover.verify, move the sources' sequences past every\n"
	 "shard's, run the switch (PGRESHARD_DIRECTION=rollback), lift the sources' write\n"
	 "guard and leave the shards refusing writes to the moved tables.  A failure or\n"
	 "cutover.timeout_s unfreezes the shards (exit 1); a rerun after a kill finishes it.\n"
	 "Exit 0 when the source serves again.\n"},
	{"finish", cmd_finish, "finish PLAN.yaml",
	 "After the cutover: end reverse replication for good (no rollback after this):\n"
	 "drop the reverse slots and publications on the shards.  A running apply does it\n"
	 "and completes its step finish; with none running, finish does it itself.\n"},
	{"export", cmd_export, "export pgdog|fdw PLAN.yaml",
	 "Print a configuration that routes the application to the new cluster:\n\n"
	 "  pgdog  PgDog's pgdog.toml sections: [[databases]] per shard (host, port,\n"
	 "         database, shard; never a password), [[sharded_tables]] with the key\n"
	 "         column and its data_type (read from the source), and the replicated\n"
	 "         tables as [[omnisharded_tables]].  Tables PgDog cannot route\n"
	 "         (multi-column keys, other key types, Lua routing) are left out with a\n"
	 "         comment and a warning.\n"
	 "  fdw    an SQL script for psql that makes an empty database an entry point\n"
	 "         with postgres_fdw: a server per shard (credentials: psql variables\n"
	 "         shardN_user, shardN_password), each sharded table a parent\n"
	 "         PARTITION BY HASH whose partitions are foreign tables on the shards,\n"
	 "         replicated tables read from shard 0.  Needs the tables on the shards\n"
	 "         (after apply); refused for plans routed by Lua.\n"},
	{"shard-of", cmd_shard_of, "shard-of PLAN.yaml TABLE VALUE... [--type TYPE,...]",
	 "Print the shard number a key goes to.  One VALUE per key column, in text\n"
	 "form; \\N is SQL NULL.  The key's types are read from the source, unless\n"
	 "given with --type (e.g. --type bigint or --type uuid,integer), which works\n"
	 "offline.\n"},
};
#define NCOMMANDS ((int) (sizeof(commands) / sizeof(commands[0])))

static void
print_usage(FILE *out)
{
	fprintf(out, "pgreshard %s — online resharding of PostgreSQL\n\nUsage:\n", PGRESHARD_VERSION);
	for (int i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  pgreshard %s\n", commands[i].synopsis);
	fprintf(out, "  pgreshard --version | --help | COMMAND --help\n\n"
			"Global options: -v/--verbose (debug messages), -q/--quiet (errors only)\n"
			"Exit codes: 0 success, 1 error, 2 usage, 3 saved plan stale, 4 verify found differences\n");
}

static int
print_command_help(const char *cmd)
{
	for (int i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, cmd) == 0)
			printf("Usage: pgreshard %s\n\n%s", commands[i].synopsis, commands[i].help);
	return EXIT_OK;
}

int
main(int argc, char **argv)
{
	int			i = 1;
	const char *level = getenv("PGRESHARD_LOG_LEVEL");

	if (level && strcmp(level, "debug") == 0)
		log_set_level(LOG_DEBUG);

	for (; i < argc && argv[i][0] == '-'; i++)
	{
		if (strcmp(argv[i], "--version") == 0)
		{
			printf("pgreshard %s\n", PGRESHARD_VERSION);
			return EXIT_OK;
		}
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
		{
			print_usage(stdout);
			return EXIT_OK;
		}
		else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0)
			log_set_level(LOG_DEBUG);
		else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0)
			log_set_level(LOG_ERROR);
		else
			return cli_usage_error(NULL, "unknown option '%s'", argv[i]);
	}
	if (i >= argc)
	{
		print_usage(stderr);
		return EXIT_USAGE;
	}
	/* internal: the process that keeps the copy's snapshot (not in --help) */
	if (strcmp(argv[i], "__keep-snapshot") == 0)
		return cmd_keep_snapshot(argc - i, argv + i);
	for (int c = 0; c < NCOMMANDS; c++)
		if (strcmp(commands[c].name, argv[i]) == 0)
		{
			for (int j = i + 1; j < argc && strcmp(argv[j], "--") != 0; j++)
				if (strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0)
					return print_command_help(argv[i]);
			optind = 1;
			return commands[c].run(argc - i, argv + i);
		}
	return cli_usage_error(NULL, "unknown command '%s'", argv[i]);
}
