/*
 * ddl_access.c — owners and privileges on the shards (see ddl.h).
 *
 * pg_dump writes them unless the plan says schema.skip_owners (then it runs
 * with --no-owner --no-privileges and there is nothing here to keep).
 * Preflight checked that every role they name exists on every shard.
 *
 * ALTER ... OWNER TO of an object created on the shards goes to the very end
 * of the script (SLOT_OWNERS): until then the runner's own role creates and
 * alters everything, also when it is not a member of the owning roles.
 * GRANT, REVOKE and ALTER DEFAULT PRIVILEGES go to POST in dump order.  An
 * owner or grant of an object that is not created (a table that stays, a
 * view left out, the owner of schema public, which belongs to the shard)
 * is left out; grants on schema public follow the source's.
 */
#include <stdlib.h>
#include <string.h>

#include "ddl_internal.h"
#include "log.h"
#include "xalloc.h"

bool
ddl_role_skipped(const ddl_ctx *c, const PgQuery__RoleSpec *role)
{
	for (int i = 0; role && role->rolename && i < c->nskip_roles; i++)
		if (strcmp(role->rolename, c->skip_roles[i]) == 0)
			return true;
	return false;
}

/* Leave out a statement naming a role missing on some shard; true when it did. */
static bool
skip_for_role(ddl_ctx *c, const PgQuery__RoleSpec *role, const char *what, const char *disp)
{
	if (!ddl_role_skipped(c, role))
		return false;
	ddl_report_dropped(c, xasprintf("%s %s", what, disp ? disp : ""),
					   xasprintf("role %s does not exist on every shard", role->rolename));
	return true;
}

bool
ddl_relation_kept(const ddl_ctx *c, const char *schema, const char *name)
{
	return ddl_map_get_rel(&c->moved, schema, name) ||
		ddl_map_get_rel(&c->needed_seqs, schema, name) ||
		ddl_map_get_rel(&c->kept_views, schema, name);
}

bool
ddl_keep_relation_owner(ddl_ctx *c, const ddl_parsed *p, const PgQuery__AlterTableStmt *at)
{
	const char *schema = ddl_rv_schema(at->relation);
	char	   *disp;

	for (size_t i = 0; i < at->n_cmds; i++)
		if (at->cmds[i]->alter_table_cmd->subtype != AT(ChangeOwner))
			return false;
	if (!ddl_relation_kept(c, schema, at->relation->relname))
		return true;
	disp = ddl_display(schema, at->relation->relname);
	if (!skip_for_role(c, at->cmds[0]->alter_table_cmd->newowner, "owner of", disp))
		ddl_emit(c, SLOT_OWNERS, xstrdup(p->sql), xasprintf("owner of %s", disp), -1);
	free(disp);
	return true;
}

/* Is the object (kind, its name list) created on the shards?  *disp gets its name. */
static bool
object_kept(const ddl_ctx *c, PgQuery__ObjectType t, const PgQuery__Node *obj, char **disp)
{
	const char *kind = ddl_objtype_kind(t), *schema, *name;
	size_t		n;
	PgQuery__Node **items;

	*disp = NULL;
	if (t == OBJ(SCHEMA))
	{
		*disp = ddl_display("", ddl_str(obj));
		return true;
	}
	if (t == OBJ(ROUTINE))
		kind = "function";
	if (kind == NULL || (items = ddl_object_names(obj, &n)) == NULL || n == 0)
		return false;			/* languages, servers, ...: the shard's own */
	ddl_names_split(items, n, &schema, &name);
	*disp = ddl_display(schema, name);
	if (t == OBJ(VIEW) || t == OBJ(MATVIEW))
		return ddl_relation_kept(c, schema, name);
	return !ddl_was_dropped(c, kind, schema, name) &&
		!(t == OBJ(ROUTINE) && ddl_was_dropped(c, "procedure", schema, name));
}

void
ddl_keep_owner(ddl_ctx *c, const ddl_parsed *p, const PgQuery__AlterOwnerStmt *ao)
{
	char	   *disp = NULL;

	if (ao->object != NULL &&
		!(ao->object_type == OBJ(SCHEMA) && strcmp(ddl_str(ao->object), "public") == 0) &&
		object_kept(c, ao->object_type, ao->object, &disp) &&
		!skip_for_role(c, ao->newowner, "owner of", disp))
		ddl_emit(c, SLOT_OWNERS, xstrdup(p->sql), xasprintf("owner of %s", disp), -1);
	else
		log_debug("schema dump line %d: owner of an object not on the shards", p->line);
	free(disp);
}

/* Every object of the GRANT is created on the shards; *first names one. */
static bool
grant_objects_kept(const ddl_ctx *c, const PgQuery__GrantStmt *gs, char **first)
{
	*first = NULL;
	if (gs->targtype != PG_QUERY__GRANT_TARGET_TYPE__ACL_TARGET_OBJECT || gs->n_objects == 0)
		return false;
	for (size_t i = 0; i < gs->n_objects; i++)
	{
		const PgQuery__Node *o = gs->objects[i];
		char	   *disp = NULL;
		bool		kept;

		if (NODE(o, RANGE_VAR))
		{
			kept = ddl_relation_kept(c, ddl_rv_schema(o->range_var), o->range_var->relname);
			disp = ddl_display(ddl_rv_schema(o->range_var), o->range_var->relname);
		}
		else
			kept = object_kept(c, gs->objtype, o, &disp);
		if (*first == NULL)
			*first = disp;
		else
			free(disp);
		if (!kept)
			return false;
	}
	return true;
}

void
ddl_keep_grant(ddl_ctx *c, const ddl_parsed *p, const PgQuery__GrantStmt *gs)
{
	char	   *first;
	bool		kept = grant_objects_kept(c, gs, &first), missing = false;

	for (size_t i = 0; kept && !missing && i < gs->n_grantees; i++)
		if (NODE(gs->grantees[i], ROLE_SPEC))
			missing = skip_for_role(c, gs->grantees[i]->role_spec,
									gs->is_grant ? "grant on" : "revoke on", first);
	if (kept && !missing)
		ddl_emit(c, SLOT_POST, xstrdup(p->sql),
				 xasprintf("%s on %s", gs->is_grant ? "grant" : "revoke", first), -1);
	else if (!kept)
		log_debug("schema dump line %d: privileges of an object not on the shards", p->line);
	free(first);
}
