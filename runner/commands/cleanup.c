/*
 * cleanup.c — the `finish` step and `pgreshard cleanup`.
 *
 * Both work from the ledger (DESIGN.md invariant 8): only objects it says
 * pgreshard created for this plan are dropped, so user data and objects are
 * never touched.  finish drops the replication slots and a publication
 * pgreshard created, keeping the state as the record of the run.  cleanup
 * also removes the write guard on the sources and this plan's state on the
 * shards (and the pgreshard schema when no plan is left in it); it works
 * after a crash at any point and is safe to run twice.  Tables copied to
 * the shards are the user's data and stay — unless --drop-data cancels a
 * move before its cutover: then what the schema sync created on the shards
 * goes too, and the tables a shard had before are emptied
 * (shard_objects.h), so that a fresh apply can start over on them.  After a
 * cutover, or while one is unfinished, the shards are the truth and
 * --drop-data is refused.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "cli.h"
#include "cutover.h"
#include "log.h"
#include "shard_objects.h"
#include "reverse_cmds.h"
#include "state.h"
#include "xalloc.h"

static bool
mark_dropped(apply_ctx *ctx, const char *kind, const char *name, const char *server)
{
	const char *params[4] = {ctx->plan->name, kind, name, server};

	return pgr_exec(ctx->state, "updating the ledger",
					"UPDATE pgreshard.ledger SET dropped_at = now() WHERE plan_name = $1 AND kind = $2 "
					"AND name = $3 AND server = $4 AND dropped_at IS NULL", 4, params);
}

/* Drop one ledgered object on a source. */
static bool
drop_object(apply_ctx *ctx, pgr_conn *c, const char *kind, const char *name)
{
	const char *params[1] = {name};

	if (strcmp(kind, "slot") == 0)
		return pgr_exec(c, "ending the slot's reader",
						"SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
						"WHERE slot_name = $1 AND active_pid IS NOT NULL", 1, params) &&
			pgr_exec(c, "dropping the replication slot",
					 "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
					 "WHERE slot_name = $1", 1, params);
	if (strcmp(kind, "publication") == 0 || strcmp(kind, "table") == 0)
	{
		/* a publication, or a table pgreshard made in its schema on a source */
		bool		pub = kind[0] == 'p';
		char	   *q = pgr_quote_ident(c, name);
		char	   *sql = xasprintf("DROP %s IF EXISTS %s%s", pub ? "PUBLICATION" : "TABLE",
									pub ? "" : "pgreshard.", q);
		bool		ok = pgr_exec(c, pub ? "dropping the publication" : "dropping a table pgreshard made",
								  sql, 0, NULL);

		free(sql);
		free(q);
		return ok;
	}
	if (strcmp(kind, "trigger") == 0)
		return freeze_remove_guard(ctx, c, false);
	if (strcmp(kind, "function") == 0)
		return pgr_exec(c, "dropping the write guard", "DROP FUNCTION IF EXISTS pgreshard.refuse_writes()", 0, NULL);
	if (strcmp(kind, "schema") == 0)
		return pgr_exec(c, "dropping the pgreshard schema on the source",
						"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
						"WHERE n.nspname = 'pgreshard') AND NOT EXISTS (SELECT FROM pg_proc p JOIN pg_namespace n "
						"ON n.oid = p.pronamespace WHERE n.nspname = 'pgreshard') THEN DROP SCHEMA IF EXISTS pgreshard; "
						"END IF; END $$", 0, NULL);
	return true;
}

/* Drop, on every source (or every shard: the reverse slots and
 * publications, a rollback's write guard), the ledgered objects of the
 * given kinds. */
static bool
drop_on(apply_ctx *ctx, bool shards, const char *const *kinds, int nkinds)
{
	const char *params[1] = {ctx->plan->name};
	PGresult   *res = pgr_query(ctx->state, "reading the ledger",
								"SELECT kind, name, server FROM pgreshard.ledger WHERE plan_name = $1 "
								"AND dropped_at IS NULL ORDER BY created_at DESC", 1, params);
	bool		ok = res != NULL;
	int			n = shards ? ctx->plan->nshards : ctx->plan->nsources;

	for (int i = 0; ok && i < n; i++)
	{
		char	   *role = shards ? xasprintf("shard %d", i) : xstrdup(ctx->sources[i].role);
		pgr_conn   *c = NULL;

		for (int k = 0; ok && k < nkinds; k++)
			for (int r = 0; ok && r < PQntuples(res); r++)
			{
				const char *kind = PQgetvalue(res, r, 0), *name = PQgetvalue(res, r, 1);

				if (strcmp(kind, kinds[k]) != 0 || strcmp(PQgetvalue(res, r, 2), role) != 0)
					continue;
				if (c == NULL && (c = pgr_connect(shards ? ctx->plan->shard_dsns[i] : ctx->plan->source_dsns[i],
												  role, 0)) == NULL)
					ok = false;
				ok = ok && pgr_exec(c, "dropping", "SET default_transaction_read_only = off", 0, NULL) &&
					drop_object(ctx, c, kind, name) && mark_dropped(ctx, kind, name, role);
				if (ok)
					log_info("%s: %s %s dropped", role, kind, name);
			}
		pgr_disconnect(c);
		free(role);
	}
	PQclear(res);
	return ok;
}

bool
cleanup_reverse(apply_ctx *ctx)
{
	static const char *const shard_kinds[] = {"slot", "publication"};
	static const char *const source_kinds[] = {"table"};

	return drop_on(ctx, true, shard_kinds, 2) && drop_on(ctx, false, source_kinds, 1);
}

/*
 * After the cutover, with cutover.reverse: the forward slots are read no
 * more (they would only hold the sources' WAL), and the shards' changes
 * stream back until `pgreshard finish` (or cutover.reverse_max_retained)
 * or `pgreshard rollback`, which takes the plan over (ctx->handed_over).
 */
static bool
finish_reverse(apply_ctx *ctx)
{
	static const char *const forward_slot[] = {"slot"};
	char		request[32], state[32], outcome = 'f';
	bool		exists = false;

	if (!reverse_exists(ctx, &exists) || !reverse_read(ctx, request, sizeof(request), state, sizeof(state)))
		return false;
	if (!exists || strcmp(state, "rolled_back") == 0 || strcmp(state, "finished") == 0)
		return true;
	if (!drop_on(ctx, false, forward_slot, 1) || !reverse_set(ctx, "reverse_state", "streaming") ||
		!reverse_stream_until_request(ctx, &outcome))
		return false;
	if (outcome == 'r')
	{
		log_info("reverse: a rollback was requested: this apply stops streaming back and hands the plan "
				 "over to `pgreshard rollback`");
		ctx->handed_over = true;
		return true;
	}
	log_info("finish: ending reverse replication for good");
	return cleanup_reverse(ctx) && reverse_set(ctx, "reverse_state", "finished") &&
		reverse_set(ctx, "reverse_request", NULL);
}

bool
step_finish(apply_ctx *ctx)
{
	static const char *const kinds[] = {"slot", "publication", "table"};

	source_sessions_close(ctx);
	if (!finish_reverse(ctx))
		return false;
	if (ctx->handed_over)
		return true;
	return cleanup_reverse(ctx) && drop_on(ctx, false, kinds, 3);
}

/* Remove this plan's state on one shard; the schema goes when no plan is left. */
static bool
drop_state(apply_ctx *ctx, int s)
{
	pgr_conn   *c = connect_shard(ctx->plan, s);
	const char *params[1] = {ctx->plan->name};
	bool		ok = c != NULL;
	PGresult   *res;

	res = ok ? pgr_query(c, "looking for pgreshard state",
						 "SELECT to_regclass('pgreshard.runs') IS NOT NULL", 0, NULL) : NULL;
	if (res && PQgetvalue(res, 0, 0)[0] == 't')
		ok = pgr_exec(c, "removing the plan's state", "SELECT set_config('pgreshard.plan', $1, false)",
					  1, params) &&
			pgr_exec(c, "removing the plan's state",
					  "DO $$ DECLARE t text; BEGIN FOREACH t IN ARRAY ARRAY['steps', 'ledger', 'chunk_plan', "
					  "'chunks_done', 'ddl', 'ddl_done', 'apply_progress', 'cutovers', 'verify_results', 'objects_before', "
					  "'plan_tables', 'verify_progress', 'verify_chunks', 'rollbacks', 'scan_progress', "
					  "'snapshot_keepers', 'runs'] "
					  "LOOP IF to_regclass('pgreshard.' || t) IS NOT NULL THEN EXECUTE format("
					  "'DELETE FROM pgreshard.%I WHERE plan_name = %L', t, current_setting('pgreshard.plan')); "
					  "END IF; END LOOP; IF NOT EXISTS (SELECT FROM pgreshard.runs) THEN "
					  "DROP SCHEMA pgreshard CASCADE; END IF; END $$", 0, NULL);
	else
		ok = ok && res != NULL;
	PQclear(res);
	pgr_disconnect(c);
	return ok;
}

static bool
state_exists(pgr_conn *c, const plan *p, bool *exists)
{
	const char *params[1] = {p->name};
	PGresult   *res = pgr_query(c, "looking for pgreshard state",
								"SELECT to_regclass('pgreshard.runs') IS NOT NULL", 0, NULL);

	if (res == NULL)
		return false;
	*exists = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (!*exists)
		return true;
	res = pgr_query(c, "looking for pgreshard state", "SELECT 1 FROM pgreshard.runs WHERE plan_name = $1",
					1, params);
	if (res == NULL)
		return false;
	*exists = PQntuples(res) > 0;
	PQclear(res);
	return true;
}

/* --drop-data: only while the source is still the truth (no cutover done or under way). */
static bool
refuse_after_cutover(apply_ctx *ctx)
{
	const char *params[1] = {ctx->plan->name};
	PGresult   *res = pgr_query(ctx->state, "looking for a cutover",
								"SELECT EXISTS (SELECT FROM pgreshard.steps WHERE plan_name = $1 "
								"AND step IN ('cutover', 'finish') AND state = 'done'), "
								"EXISTS (SELECT FROM pgreshard.cutovers WHERE plan_name = $1 "
								"AND outcome IN ('done', 'running'))", 1, params);
	bool		refused;

	if (res == NULL)
		return true;
	refused = PQgetvalue(res, 0, 0)[0] == 't' || PQgetvalue(res, 0, 1)[0] == 't';
	if (refused)
		log_error("cleanup: plan %s has %s: the shards serve the data now and --drop-data would "
				  "delete it; fix: run `pgreshard cleanup %s` without --drop-data (the shards' "
				  "tables stay)", ctx->plan->name,
				  PQgetvalue(res, 0, 0)[0] == 't' ? "been cut over" : "a cutover under way",
				  ctx->plan->path);
	PQclear(res);
	return refused;
}

/* --drop-data: what the schema sync created on every shard. */
static bool
drop_data(apply_ctx *ctx)
{
	bool		ok = true;

	for (int s = 0; ok && s < ctx->plan->nshards; s++)
	{
		pgr_conn   *c = connect_shard(ctx->plan, s);
		int			dropped = 0;

		ok = c != NULL && shard_objects_drop_created(c, ctx->plan, &dropped);
		if (ok)
			log_info("shard %d: %d object(s) the schema sync created dropped", s, dropped);
		pgr_disconnect(c);
	}
	return ok;
}

int
cmd_cleanup(int argc, char **argv)
{
	static const char *const kinds[] = {"trigger", "function", "table", "schema", "slot", "publication"};
	static const char *const shard_kinds[] = {"trigger", "function", "slot", "publication"};
	static const struct option opts[] = {{"drop-data", no_argument, NULL, 'D'}, {NULL, 0, NULL, 0}};
	apply_ctx	ctx;
	plan	   *p;
	bool		ok, exists = false, locked = false, with_data = false;
	int			c;

	while ((c = cli_getopt(argc, argv, "", opts, "cleanup")) != -1)
		if (c == '?')
			return EXIT_USAGE;
		else if (c == 'D')
			with_data = true;
	if (argc - optind != 1)
		return cli_usage_error("cleanup", "expected one PLAN.yaml argument");
	if (!plan_load(argv[optind], &p))
		return EXIT_ERROR;
	apply_ctx_init(&ctx, p, STEP_FINISH);
	ctx.state = pgr_connect(p->shard_dsns[0], "shard 0", 0);
	ok = ctx.state != NULL && state_exists(ctx.state, p, &exists);
	if (ok && exists && (ok = state_try_lock(ctx.state, p, &locked)) && !locked)
	{
		log_error("cleanup: plan %s is being applied right now; stop that apply first", p->name);
		ok = false;
	}
	if (ok && exists && with_data && refuse_after_cutover(&ctx))
		ok = false;
	if (ok && exists)
		ok = drop_on(&ctx, false, kinds, 6) && drop_on(&ctx, true, shard_kinds, 4);
	if (ok && exists && with_data)
		ok = drop_data(&ctx);
	for (int s = p->nshards - 1; ok && exists && s >= 0; s--)
		ok = drop_state(&ctx, s);
	if (ok && !exists)
		printf("cleanup: plan %s: nothing to clean up\n", p->name);
	else if (ok && with_data)
		printf("cleanup: plan %s: slots, publication, write guard and state removed; the tables and "
			   "objects pgreshard created on the shards dropped, tables they had before emptied\n", p->name);
	else if (ok)
		printf("cleanup: plan %s: slots, publication, write guard and state removed; "
			   "the shards' tables are untouched\n", p->name);
	apply_ctx_close(&ctx);
	plan_free(p);
	return ok ? EXIT_OK : EXIT_ERROR;
}

int
cmd_cutover(int argc, char **argv)
{
	static const struct option opts[] = {{NULL, 0, NULL, 0}};
	const char *params[1];
	pgr_conn   *c;
	PGresult   *res;
	plan	   *p;
	int			opt, rc = EXIT_ERROR;

	while ((opt = cli_getopt(argc, argv, "", opts, "cutover")) != -1)
		if (opt == '?')
			return EXIT_USAGE;
	if (argc - optind != 1)
		return cli_usage_error("cutover", "expected one PLAN.yaml argument");
	if (!plan_load(argv[optind], &p))
		return EXIT_ERROR;
	params[0] = p->name;
	c = pgr_connect(p->shard_dsns[0], "shard 0", 0);
	res = c ? pgr_query(c, "requesting the cutover",
						"UPDATE pgreshard.runs SET cutover_requested = true WHERE plan_name = $1 "
						"RETURNING holder_host, holder_pid, pg_try_advisory_lock(hashtext('pgreshard plan ' || $1))",
						1, params) : NULL;
	if (res != NULL && PQntuples(res) == 0)
		log_error("cutover: plan %s has not been applied yet; run `pgreshard apply` first", p->name);
	else if (res != NULL)
	{
		if (PQgetvalue(res, 0, 2)[0] == 'f')
			printf("cutover: requested; the running apply (host %s, pid %s) cuts over now\n",
				   PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
		else
			printf("cutover: requested; no apply is running: the next `pgreshard apply %s` cuts over\n",
				   p->path);
		rc = EXIT_OK;
	}
	PQclear(res);
	pgr_disconnect(c);
	plan_free(p);
	return rc;
}
