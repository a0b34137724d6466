/*
 * ddl_book.c — the bookkeeping every pass of ddl_build() shares (see
 * ddl_internal.h): a small string map, name keys ("schema\037name": the
 * unit separator does not occur in real names), the objects not created (so
 * that what hangs on them is dropped too), display names for `what`, and
 * the output lists.  It calls nothing else of the DDL code, so the passes
 * and the driver can all lean on it without a cycle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>

#include "ddl_internal.h"
#include "log.h"
#include "sqlname.h"
#include "xalloc.h"

/* ---- string map ------------------------------------------------------- */

static size_t
map_hash(const char *s)
{
	size_t		h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 1099511628211ULL;
	return h;
}

static ddl_map_entry *
map_slot(const ddl_map *m, const char *key)
{
	size_t		i = map_hash(key) & (m->cap - 1);

	while (m->slots[i].key != NULL && strcmp(m->slots[i].key, key) != 0)
		i = (i + 1) & (m->cap - 1);
	return &m->slots[i];
}

static void
map_grow(ddl_map *m)
{
	ddl_map		bigger = {m->cap ? m->cap * 2 : 64, 0, NULL};

	bigger.slots = xcalloc(bigger.cap, sizeof(ddl_map_entry));
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key != NULL)
		{
			*map_slot(&bigger, m->slots[i].key) = m->slots[i];
			bigger.n++;
		}
	free(m->slots);
	*m = bigger;
}

void
ddl_map_put(ddl_map *m, const char *key, int ival, const void *pval)
{
	ddl_map_entry *e;

	if ((m->n + 1) * 2 > m->cap)
		map_grow(m);
	e = map_slot(m, key);
	if (e->key == NULL)
	{
		e->key = xstrdup(key);
		m->n++;
	}
	e->ival = ival;
	e->pval = pval;
}

const ddl_map_entry *
ddl_map_get(const ddl_map *m, const char *key)
{
	const ddl_map_entry *e;

	if (m->cap == 0)
		return NULL;
	e = map_slot(m, key);
	return e->key ? e : NULL;
}

void
ddl_map_put_rel(ddl_map *m, const char *schema, const char *name, int ival,
				const void *pval)
{
	char	   *key = xasprintf("%s\037%s", schema, name);

	ddl_map_put(m, key, ival, pval);
	free(key);
}

const ddl_map_entry *
ddl_map_get_rel(const ddl_map *m, const char *schema, const char *name)
{
	char	   *key = xasprintf("%s\037%s", schema, name);
	const ddl_map_entry *e = ddl_map_get(m, key);

	free(key);
	return e;
}

void
ddl_map_free(ddl_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

char *
ddl_objkey(const char *kind, const char *schema, const char *name)
{
	return xasprintf("%s\037%s\037%s", kind, schema, name);
}

char *
ddl_partname(const char *table, const char *name)
{
	return xasprintf("%s\037%s", table, name);
}

void
ddl_remember_dropped(ddl_ctx *c, const char *kind, const char *schema,
					 const char *name)
{
	char	   *key = ddl_objkey(kind, schema, name);

	ddl_map_put(&c->dropped, key, 0, NULL);
	free(key);
}

bool
ddl_was_dropped(const ddl_ctx *c, const char *kind, const char *schema,
				const char *name)
{
	char	   *key = ddl_objkey(kind, schema, name);
	bool		found = ddl_map_get(&c->dropped, key) != NULL;

	free(key);
	return found;
}

void
ddl_report_dropped(ddl_ctx *c, char *what, char *reason)
{
	ddl_script *s = c->out;

	log_warn("schema dump line %d: not creating %s: %s", c->cur ? c->cur->line : 0,
			 what, reason);
	s->dropped = xrealloc(s->dropped, sizeof(ddl_dropped) * (size_t) (s->ndropped + 1));
	s->dropped[s->ndropped++] = (ddl_dropped) {what, reason};
}

/* ---- display names ---------------------------------------------------- */

char *
ddl_display(const char *schema, const char *name)
{
	if (schema == NULL || *schema == '\0')
		return sqlname_quote(name);
	return sqlname_quote_qualified(schema, name);
}

char *
ddl_table_display(const ddl_ctx *c, int ti)
{
	return ddl_display(c->tables[ti].schema, c->tables[ti].relname);
}

char *
ddl_constraint_what(const PgQuery__Constraint *con, const char *table)
{
	const char *kind = "constraint";
	char	   *name, *what;

	switch (con->contype)
	{
		case PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY: kind = "primary key"; break;
		case PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE: kind = "unique constraint"; break;
		case PG_QUERY__CONSTR_TYPE__CONSTR_EXCLUSION: kind = "exclusion constraint"; break;
		case PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN: kind = "foreign key"; break;
		case PG_QUERY__CONSTR_TYPE__CONSTR_CHECK: kind = "check constraint"; break;
		default: break;
	}
	if (con->conname == NULL || *con->conname == '\0')
		return xasprintf("%s on %s", kind, table);
	name = sqlname_quote(con->conname);
	what = xasprintf("%s %s on %s", kind, name, table);
	free(name);
	return what;
}

/* ---- output ----------------------------------------------------------- */

void
ddl_emit(ddl_ctx *c, ddl_slot slot, char *sql, char *what, int table_index)
{
	ddl_list   *l = &c->lists[slot];
	ddl_phase	phase = slot == SLOT_PRE ? DDL_PRE : DDL_POST;

	log_debug("schema dump line %d: %s: %s", c->cur ? c->cur->line : 0,
			  phase == DDL_PRE ? "pre" : "post", what);
	if (l->n == l->cap)
	{
		l->cap = l->cap ? l->cap * 2 : 32;
		l->stmts = xrealloc(l->stmts, (size_t) l->cap * sizeof(ddl_stmt));
	}
	l->stmts[l->n++] = (ddl_stmt) {phase, sql, what, table_index};
}
