/*
 * ddl_fk.c — the foreign keys of moved tables: kept when a row and the row
 * it references always land on one shard (fk_same_shard(), fkrule.h),
 * otherwise left out and listed in script->skipped with the reason in words.
 *
 * Both kinds of foreign key come here: pg_dump's own ALTER TABLE ... ADD
 * FOREIGN KEY (ddl_classify.c) and those cut out of CREATE TABLE
 * (ddl_table.c).  A REFERENCES without a column list means the referenced
 * table's primary key, which pass 1 recorded.  A skipped foreign key is
 * remembered as dropped, so that a comment on it is dropped too.
 */
#include <stdlib.h>

#include "ddl_internal.h"
#include "fkrule.h"
#include "strbuf.h"
#include "xalloc.h"

/* Column names from String nodes, or (n == 0) the parent's primary key. */
static int
fk_columns(const ddl_ctx *c, PgQuery__Node **items, size_t n,
		   const PgQuery__RangeVar *pk_table, const char ***cols)
{
	const ddl_map_entry *pk = n == 0 ? ddl_map_get_rv(&c->pkeys, pk_table) : NULL;

	if (pk != NULL && ((const ProtobufCMessage *) pk->pval)->descriptor ==
		&pg_query__column_def__descriptor)
	{
		*cols = xcalloc(1, sizeof(char *));
		(*cols)[0] = ((const PgQuery__ColumnDef *) pk->pval)->colname;
		return 1;
	}
	if (pk != NULL)
	{
		items = ((const PgQuery__Constraint *) pk->pval)->keys;
		n = ((const PgQuery__Constraint *) pk->pval)->n_keys;
	}
	*cols = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		(*cols)[i] = ddl_str(items[i]);
	return (int) n;
}

static char *
placement(const ddl_table *t)
{
	strbuf		sb;

	if (t->replicate)
		return xstrdup("replicated");
	sb_init(&sb);
	sb_append(&sb, "sharded by (");
	for (int i = 0; i < t->nkeys; i++)
		sb_printf(&sb, "%s%s", i ? ", " : "", t->keys[i]);
	sb_append(&sb, ")");
	return sb_steal(&sb);
}

/* NULL when the foreign key stays on one shard, else why not (malloc'd). */
static char *
fk_reason(const ddl_ctx *c, int ti, int pi, int n, const char **ccols,
		  const char **pcols, const char *pdisp)
{
	const ddl_table *ct = &c->tables[ti], *pt;
	fk_side		child, parent;
	const char *why;
	char	   *cdisp, *cplace, *pplace, *reason;

	if (pi < 0)
		return xasprintf("the referenced table %s is not moved", pdisp);
	if (n == 0)
		return xasprintf("cannot tell which columns of %s it references", pdisp);
	pt = &c->tables[pi];
	child = (fk_side) {ct->replicate, ct->nkeys, ct->keys};
	parent = (fk_side) {pt->replicate, pt->nkeys, pt->keys};
	if (fk_same_shard(&child, &parent, n, ccols, pcols, &why))
		return NULL;
	cdisp = ddl_table_display(c, ti);
	cplace = placement(ct);
	pplace = placement(pt);
	reason = xasprintf("%s (%s is %s, %s is %s)", why, cdisp, cplace, pdisp,
					   pplace);
	free(cdisp);
	free(cplace);
	free(pplace);
	return reason;
}

static void
skip_fk(ddl_ctx *c, int ti, const char *name, const char *pdisp, int np,
		const char **pcols, char *reason)
{
	ddl_script *s = c->out;
	strbuf		refs;

	sb_init(&refs);
	sb_append(&refs, pdisp);
	for (int i = 0; i < np; i++)
		sb_printf(&refs, "%s%s", i ? ", " : " (", pcols[i]);
	sb_append(&refs, np ? ")" : "");
	if (s->nskipped == c->cap_skipped)
	{
		c->cap_skipped = c->cap_skipped ? c->cap_skipped * 2 : 8;
		s->skipped = xrealloc(s->skipped,
							  (size_t) c->cap_skipped * sizeof(ddl_skipped_fk));
	}
	/* not logged: the caller reports script->skipped as it sees fit */
	s->skipped[s->nskipped++] = (ddl_skipped_fk) {
		xstrdup(name), ddl_table_display(c, ti), sb_steal(&refs), reason
	};
}

/*
 * Keep (into slot) or skip a foreign key of moved table ti; colname is set
 * for a column-level REFERENCES.  Takes sql.
 */
void
ddl_decide_fk(ddl_ctx *c, int ti, const PgQuery__Constraint *con,
			  const char *colname, char *sql, ddl_slot slot)
{
	const PgQuery__RangeVar *prv = con->pktable;
	const char *name = con->conname && *con->conname ? con->conname : "(unnamed)";
	const char **ccols = NULL, **pcols = NULL;
	char	   *pdisp = ddl_display(ddl_rv_schema(prv), prv->relname);
	char	   *reason;
	int			nc = 1, np;

	if (colname != NULL)
	{
		ccols = xcalloc(1, sizeof(char *));
		ccols[0] = colname;
	}
	else
		nc = fk_columns(c, con->fk_attrs, con->n_fk_attrs, NULL, &ccols);
	np = fk_columns(c, con->pk_attrs, con->n_pk_attrs, prv, &pcols);
	reason = fk_reason(c, ti, ddl_moved_index(c, prv), nc == np ? nc : 0,
					   ccols, pcols, pdisp);
	if (reason == NULL)
	{
		char	   *cdisp = ddl_table_display(c, ti);

		ddl_emit(c, slot, sql, ddl_constraint_what(con, cdisp), ti);
		free(cdisp);
	}
	else
	{
		char	   *part = ddl_partname(c->tables[ti].relname, name);

		skip_fk(c, ti, name, pdisp, np, pcols, reason);
		ddl_remember_dropped(c, "constraint", c->tables[ti].schema, part);
		free(part);
		free(sql);
	}
	free(ccols);
	free(pcols);
	free(pdisp);
}
