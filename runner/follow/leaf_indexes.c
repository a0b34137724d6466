/*
 * leaf_indexes.c — a partition's own indexes made the source's on a shard
 * (see leaf_indexes.h for what is followed and why).
 *
 * Both sides are read by the same query, with search_path empty so that
 * pg_get_indexdef qualifies every name: the definitions then compare as
 * text.  The index's name is cut off the definition (it may differ).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk_key.h"
#include "leaf_indexes.h"
#include "log.h"
#include "strbuf.h"
#include "xalloc.h"

/* Partitions larger than this (estimated rows) get their index CONCURRENTLY. */
#define CONCURRENT_ROWS 100000

static const char read_sql[] =
	"SELECT n.nspname, c.relname, ic.relname, "
	"  substr(pg_get_indexdef(i.indexrelid), length(format('CREATE %sINDEX %s ON ', "
	"    CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END, quote_ident(ic.relname))) + 1), "
	"  i.indisunique, (SELECT format('%I.%I', pn.nspname, pc.relname) FROM pg_inherits h "
	"    JOIN pg_class pc ON pc.oid = h.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace "
	"    WHERE h.inhrelid = i.indexrelid), "
	"  EXISTS (SELECT FROM pg_constraint co WHERE co.conrelid = c.oid AND co.conindid = i.indexrelid "
	"    AND co.contype IN ('p', 'u', 'x')), c.relkind = 'p', greatest(c.reltuples, 0), i.indisvalid "
	"FROM unnest($1::text[]) WITH ORDINALITY AS x(q, o) "
	"JOIN pg_class c ON c.oid = to_regclass(x.q) JOIN pg_namespace n ON n.oid = c.relnamespace "
	"JOIN pg_index i ON i.indrelid = c.oid JOIN pg_class ic ON ic.oid = i.indexrelid "
	"ORDER BY x.o, ic.relname";

static bool
same_table(const leaf_index *a, const leaf_index *b)
{
	return strcmp(a->schema, b->schema) == 0 && strcmp(a->table, b->table) == 0;
}

/* The shard's unmatched index for source index a: same partition and
 * definition (by_name: and name); -1 when none. */
static int
match(const leaf_index *a, const leaf_index_list *shard, const bool *taken, bool by_name)
{
	for (int j = 0; j < shard->n; j++)
	{
		const leaf_index *b = &shard->v[j];

		if (!taken[j] && !b->constraint && same_table(a, b) && strcmp(a->def, b->def) == 0 &&
			(!by_name || strcmp(a->name, b->name) == 0))
			return j;
	}
	return -1;
}

int
leaf_index_plan(const leaf_index_list *src, const leaf_index_list *shard, const bool *parent_there,
				leaf_index_action *out, int *waiting)
{
	bool	   *taken = xcalloc((size_t) shard->n + 1, sizeof(bool));
	int		   *of = xcalloc((size_t) src->n + 1, sizeof(int));
	int			n = 0;

	*waiting = 0;
	/* the same name first, then any name: one to one */
	for (int i = 0; i < src->n; i++)
		of[i] = -1;
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < src->n; i++)
			if (!src->v[i].constraint && of[i] < 0 && (of[i] = match(&src->v[i], shard, taken, pass == 0)) >= 0)
				taken[of[i]] = true;
	for (int i = 0; i < src->n; i++)
	{
		const leaf_index *a = &src->v[i];

		if (a->constraint)
			continue;
		if (of[i] >= 0)
		{
			if (a->parent && !shard->v[of[i]].parent && parent_there[i])
				out[n++] = (leaf_index_action) {LEAF_INDEX_ATTACH, i, of[i]};
			continue;
		}
		if (!a->valid && !a->partitioned)
			continue;			/* being built on the source: once it is there */
		if (a->parent && !parent_there[i])
		{
			(*waiting)++;		/* the parent index is the schema check's: it brings this one */
			continue;
		}
		out[n++] = (leaf_index_action) {LEAF_INDEX_CREATE, i, -1};
		if (a->parent)
			out[n++] = (leaf_index_action) {LEAF_INDEX_ATTACH, i, -1};
	}
	for (int j = 0; j < shard->n; j++)
		if (!taken[j] && !shard->v[j].constraint && !shard->v[j].parent)
			out[n++] = (leaf_index_action) {LEAF_INDEX_DROP, -1, j};
	free(of);
	free(taken);
	return n;
}

static char *
opt(const PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? NULL : xstrdup(PQgetvalue(res, r, c));
}

bool
leaf_indexes_read(pgr_conn *c, const part_list *parts, leaf_index_list *out)
{
	char	  **q = xcalloc((size_t) parts->n + 1, sizeof(char *));
	strbuf		names;
	const char *params[1];
	PGresult   *res;

	memset(out, 0, sizeof(*out));
	sb_init(&names);
	for (int i = 0; i < parts->n; i++)
		q[i] = pgr_quote_qualified(c, parts->v[i].schema, parts->v[i].name);
	pgarray_encode(&names, q, parts->n);
	params[0] = names.data;
	res = pgr_exec(c, "reading the partitions' indexes", "SELECT set_config('search_path', '', false)", 0, NULL) ?
		pgr_query(c, "reading the partitions' indexes", read_sql, 1, params) : NULL;
	for (int i = 0; i < parts->n; i++)
		free(q[i]);
	free(q);
	sb_free(&names);
	if (res == NULL)
		return false;
	out->v = xcalloc((size_t) PQntuples(res) + 1, sizeof(leaf_index));
	for (int r = 0; r < PQntuples(res); r++)
	{
		leaf_index *x = &out->v[out->n++];

		x->schema = opt(res, r, 0);
		x->table = opt(res, r, 1);
		x->name = opt(res, r, 2);
		x->def = opt(res, r, 3);
		x->unique = PQgetvalue(res, r, 4)[0] == 't';
		x->parent = opt(res, r, 5);
		x->constraint = PQgetvalue(res, r, 6)[0] == 't';
		x->partitioned = PQgetvalue(res, r, 7)[0] == 't';
		x->rows = atof(PQgetvalue(res, r, 8));
		x->valid = PQgetvalue(res, r, 9)[0] == 't';
	}
	PQclear(res);
	return true;
}

void
leaf_indexes_free(leaf_index_list *l)
{
	for (int i = 0; i < l->n; i++)
	{
		free(l->v[i].schema);
		free(l->v[i].table);
		free(l->v[i].name);
		free(l->v[i].def);
		free(l->v[i].parent);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

char *
leaf_indexes_signature(const leaf_index_list *l)
{
	strbuf		sb;

	sb_init(&sb);
	for (int i = 0; i < l->n; i++)
		sb_printf(&sb, "%s.%s %s %s %s%s\n", l->v[i].schema, l->v[i].name, l->v[i].def,
				  l->v[i].parent ? l->v[i].parent : "-", l->v[i].constraint ? "c" : "",
				  l->v[i].valid ? "" : " invalid");
	return sb_steal(&sb);
}

/* The statement of action a on shard connection c (malloc'd). */
static char *
statement(pgr_conn *c, const leaf_index_list *src, const leaf_index_list *shard, const leaf_index_action *a)
{
	const leaf_index *x = a->src >= 0 ? &src->v[a->src] : NULL;
	const leaf_index *y = a->shard >= 0 ? &shard->v[a->shard] : NULL;
	char	   *qi, *sql;

	switch (a->op)
	{
		case LEAF_INDEX_CREATE:
			qi = pgr_quote_ident(c, x->name);
			/* a sub-partitioned partition's index: without ONLY, so that its
			 * partitions' indexes are built or attached with it */
			sql = xasprintf("CREATE %sINDEX %s%s ON %s", x->unique ? "UNIQUE " : "",
							!x->partitioned && x->rows > CONCURRENT_ROWS ? "CONCURRENTLY " : "", qi,
							x->partitioned && strncmp(x->def, "ONLY ", 5) == 0 ? x->def + 5 : x->def);
			free(qi);
			return sql;
		case LEAF_INDEX_ATTACH:
			qi = pgr_quote_qualified(c, y ? y->schema : x->schema, y ? y->name : x->name);
			sql = xasprintf("ALTER INDEX %s ATTACH PARTITION %s", x->parent, qi);
			free(qi);
			return sql;
		case LEAF_INDEX_DROP:
			qi = pgr_quote_qualified(c, y->schema, y->name);
			sql = xasprintf("DROP INDEX %s", qi);
			free(qi);
			return sql;
	}
	return NULL;
}

/* parent_there[i]: source index i's parent index exists on c. */
static bool
parents_there(pgr_conn *c, const leaf_index_list *src, bool *there)
{
	char	  **names = xcalloc((size_t) src->n + 1, sizeof(char *));
	strbuf		arr;
	const char *params[1];
	PGresult   *res;

	sb_init(&arr);
	for (int i = 0; i < src->n; i++)
		names[i] = src->v[i].parent ? src->v[i].parent : (char *) "";
	pgarray_encode(&arr, names, src->n);
	params[0] = arr.data;
	res = pgr_query(c, "looking for the parent indexes",
					"SELECT n <> '' AND to_regclass(n) IS NOT NULL FROM unnest($1::text[]) WITH ORDINALITY "
					"AS x(n, o) ORDER BY o", 1, params);
	for (int i = 0; res && i < src->n && i < PQntuples(res); i++)
		there[i] = PQgetvalue(res, i, 0)[0] == 't';
	PQclear(res);
	sb_free(&arr);
	free(names);
	return res != NULL;
}

bool
leaf_indexes_follow(pgr_conn *c, int s, const leaf_index_list *src, const part_list *parts, bool *waiting)
{
	leaf_index_list shard = {0};
	bool	   *there = xcalloc((size_t) src->n + 1, sizeof(bool));
	leaf_index_action *acts;
	int			n, wait = 0;
	bool		ok = leaf_indexes_read(c, parts, &shard) && parents_there(c, src, there);

	if (!ok)
	{
		free(there);
		leaf_indexes_free(&shard);
		return false;
	}
	acts = xcalloc((size_t) (2 * src->n + shard.n) + 1, sizeof(leaf_index_action));
	n = leaf_index_plan(src, &shard, there, acts, &wait);
	*waiting = *waiting || wait > 0;
	for (int i = 0; i < n; i++)
	{
		char	   *sql = statement(c, src, &shard, &acts[i]);

		if (pgr_exec(c, "following an index of a partition", sql, 0, NULL))
			log_info("shard %d: an index of a partition changed on the source during the move; "
					 "followed: %s", s, sql);
		else
		{
			log_error("shard %d: the source's index of a partition cannot be followed there; fix: "
					  "make `%s` succeed on shard %d (or undo the index change on the source), then "
					  "rerun apply; the cutover waits for it", s, sql, s);
			ok = false;
		}
		free(sql);
	}
	free(acts);
	free(there);
	leaf_indexes_free(&shard);
	return ok;
}
