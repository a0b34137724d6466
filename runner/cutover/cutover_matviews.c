/*
 * cutover_matviews.c — schema.matviews: refresh.  The materialized views
 * schema-pre created (WITH NO DATA, as pg_dump writes them) are refreshed
 * on every shard once the cutover has succeeded: from then on the shards
 * hold the data, and each one's materialized view holds that shard's part.
 *
 * The cutover has happened by then, so a refresh that fails is a warning
 * naming the view (REFRESH MATERIALIZED VIEW on that shard redoes it), not
 * a failed step that would try the cutover again.
 */
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "log.h"
#include "sqlname.h"
#include "xalloc.h"

#define PREFIX "materialized view "

static void
refresh_on_shard(apply_ctx *ctx, int s, const PGresult *views)
{
	pgr_conn   *c = connect_shard(ctx->plan, s);

	for (int r = 0; c != NULL && r < PQntuples(views); r++)
	{
		const char *name = PQgetvalue(views, r, 0) + strlen(PREFIX);
		char	   *schema = NULL, *rel = NULL, err[128];

		if (sqlname_parse_qualified(name, &schema, &rel, err, sizeof(err)))
		{
			char	   *q = pgr_quote_qualified(c, schema, rel);
			char	   *sql = xasprintf("REFRESH MATERIALIZED VIEW %s", q);

			if (pgr_exec(c, "refreshing a materialized view", sql, 0, NULL))
				log_info("shard %d: materialized view %s refreshed", s, name);
			else
				log_warn("shard %d: materialized view %s is not refreshed; run REFRESH MATERIALIZED "
						 "VIEW there", s, name);
			free(sql);
			free(q);
		}
		free(schema);
		free(rel);
	}
	pgr_disconnect(c);
}

void
cutover_refresh_matviews(apply_ctx *ctx)
{
	const char *params[1] = {ctx->plan->name};
	PGresult   *views;

	if (ctx->plan->schema.matviews != MATVIEWS_REFRESH)
		return;
	views = pgr_query(ctx->state, "reading the materialized views",
					  "SELECT what FROM pgreshard.ddl WHERE plan_name = $1 AND phase = 'pre' "
					  "AND what LIKE '" PREFIX "%' ORDER BY stmt", 1, params);
	if (views == NULL)
	{
		log_warn("cutover: materialized views not refreshed; run REFRESH MATERIALIZED VIEW on the shards");
		return;
	}
	for (int s = 0; s < ctx->plan->nshards; s++)
		refresh_on_shard(ctx, s, views);
	PQclear(views);
}
