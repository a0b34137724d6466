/*
 * ddl.c — split pg_dump's schema into the PRE and POST scripts for the moved
 * tables.  What is kept and why is in ddl.h; which file does what is in
 * ddl_internal.h.  This file holds the driver; the bookkeeping every pass
 * shares is in ddl_book.c.
 *
 * The driver:
 *   1. blanks psql meta-command lines, splits the dump with
 *      pg_query_split_with_parser and parses each statement on its own into
 *      libpg_query's protobuf tree (so node locations are offsets into that
 *      statement's text, which the CREATE TABLE rewrite relies on);
 *   2. pass 1 (ddl_collect, ddl_collect.c) learns what the whole dump
 *      defines: every relation, the sequences moved tables need, the
 *      indexes, primary keys and parents (INHERITS, ATTACH PARTITION) of
 *      moved tables;
 *   3. pass 2 (ddl_classify, ddl_classify.c and ddl_table.c) puts each
 *      statement in one of four lists, or drops it.  The script is the lists
 *      in this order:
 *        PRE       dump order (pg_dump orders by dependency);
 *        CUT       constraints cut out of CREATE TABLE, children before
 *                  parents: a parent's CHECK recurses into its partitions
 *                  and inheritance children, and only merges with a child's
 *                  copy that already exists (adding the child's own copy
 *                  after the parent's fails with "already exists");
 *        POST      dump order;
 *        CUT_FK    foreign keys cut out of CREATE TABLE, after every key
 *                  they may reference exists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>

#include "ddl_internal.h"
#include "log.h"
#include "schema_dump.h"
#include "sqlname.h"
#include "xalloc.h"

#define MAX_INHERITANCE_DEPTH 64

/* How many INHERITS / PARTITION OF levels are above moved table ti. */
static int
table_depth(const ddl_ctx *c, int ti)
{
	const ddl_map_entry *e =
		ddl_map_get_rel(&c->parents, c->tables[ti].schema, c->tables[ti].relname);
	int			depth = 0;

	while (e != NULL && depth < MAX_INHERITANCE_DEPTH)
	{
		e = ddl_map_get_rv(&c->parents, e->pval);
		depth++;
	}
	return depth;
}

/* The lists, in order, into out->stmts; CUT deepest tables first. */
static void
finish_script(ddl_ctx *c)
{
	ddl_script *s = c->out;
	ddl_list   *cut = &c->lists[SLOT_CUT];
	int			total = 0, maxdepth = 0;
	int		   *depth = xcalloc((size_t) cut->n + 1, sizeof(int));

	for (int i = 0; i < SLOT_COUNT; i++)
		total += c->lists[i].n;
	for (int i = 0; i < cut->n; i++)
		if ((depth[i] = table_depth(c, cut->stmts[i].table_index)) > maxdepth)
			maxdepth = depth[i];
	s->stmts = xcalloc((size_t) total + 1, sizeof(ddl_stmt));
	for (int slot = 0; slot < SLOT_COUNT; slot++)
	{
		ddl_list   *l = &c->lists[slot];

		for (int d = maxdepth; d >= 0; d--)
			for (int i = 0; i < l->n; i++)
				if (slot != SLOT_CUT ? d == 0 : depth[i] == d)
					s->stmts[s->n++] = l->stmts[i];
		free(l->stmts);
		memset(l, 0, sizeof(*l));
	}
	free(depth);
}

/* ---- splitting and parsing -------------------------------------------- */

/* Line of byte offset pos, counting on from a previous (pos, line) pair. */
static int
line_at(const char *text, int pos, int *last_pos, int *last_line)
{
	for (; *last_pos < pos && text[*last_pos]; (*last_pos)++)
		if (text[*last_pos] == '\n')
			(*last_line)++;
	return *last_line;
}

/* Offset of the first token of sql that is not a comment, or -1. */
static int
first_token(const char *sql)
{
	PgQueryScanResult sr = pg_query_scan(sql);
	PgQuery__ScanResult *u = NULL;
	int			start = -1;

	/* text the scanner refuses is kept whole, for the parser to report */
	if (sr.error != NULL)
		start = 0;
	else
		u = pg_query__scan_result__unpack(NULL, sr.pbuf.len,
										  (const uint8_t *) sr.pbuf.data);
	for (size_t i = 0; u && i < u->n_tokens && start < 0; i++)
		if (u->tokens[i]->token != PG_QUERY__TOKEN__SQL_COMMENT &&
			u->tokens[i]->token != PG_QUERY__TOKEN__C_COMMENT)
			start = u->tokens[i]->start;
	if (u)
		pg_query__scan_result__free_unpacked(u, NULL);
	pg_query_free_scan_result(sr);
	return start;
}

/* Parse one statement; false (logged) when libpg_query refuses it. */
static bool
parse_one(ddl_parsed *p)
{
	PgQueryProtobufParseResult r = pg_query_parse_protobuf(p->sql);
	bool		ok = false;

	if (r.error != NULL)
	{
		int			line = p->line;

		for (int i = 0; i < r.error->cursorpos - 1 && p->sql[i]; i++)
			line += p->sql[i] == '\n';
		log_error("schema dump line %d: cannot parse the statement: %s",
				  line, r.error->message);
	}
	else if ((p->tree = pg_query__parse_result__unpack(
				  NULL, r.parse_tree.len,
				  (const uint8_t *) r.parse_tree.data)) == NULL ||
			 p->tree->n_stmts != 1 || p->tree->stmts[0]->stmt == NULL)
		log_error("schema dump line %d: expected one statement", p->line);
	else
	{
		p->node = p->tree->stmts[0]->stmt;
		ok = true;
	}
	pg_query_free_protobuf_parse_result(r);
	return ok;
}

/* Text of one split statement from its first token, trailing blanks cut. */
static char *
statement_text(const char *text, const PgQuerySplitStmt *st, int *offset)
{
	char	   *piece = xstrndup(text + st->stmt_location, (size_t) st->stmt_len);
	int			start = first_token(piece);
	char	   *sql;
	size_t		len;

	if (start < 0)
	{
		free(piece);
		return NULL;
	}
	sql = xstrdup(piece + start);
	free(piece);
	len = strlen(sql);
	while (len > 0 && strchr(" \t\r\n", sql[len - 1]) != NULL)
		sql[--len] = '\0';
	*offset = st->stmt_location + start;
	return sql;
}

static bool
parse_dump(const char *dump, ddl_parsed **out, int *nout)
{
	char	   *text = xstrdup(dump);
	PgQuerySplitResult split;
	int			pos = 0, line = 1, n = 0;
	bool		ok = true;

	schema_dump_strip_meta(text);
	split = pg_query_split_with_parser(text);
	if (split.error != NULL)
	{
		log_error("schema dump line %d: cannot parse the statement: %s",
				  line_at(text, split.error->cursorpos - 1, &pos, &line),
				  split.error->message);
		ok = false;
	}
	*out = xcalloc((size_t) (ok && split.n_stmts > 0 ? split.n_stmts : 1),
				   sizeof(ddl_parsed));
	for (int i = 0; ok && i < split.n_stmts; i++)
	{
		ddl_parsed *p = &(*out)[n];
		int			offset;

		if ((p->sql = statement_text(text, split.stmts[i], &offset)) == NULL)
			continue;
		p->line = line_at(text, offset, &pos, &line);
		n++;
		ok = parse_one(p);
	}
	pg_query_free_split_result(split);
	free(text);
	*nout = n;
	return ok;
}

static void
free_parsed(ddl_parsed *parsed, int n)
{
	for (int i = 0; i < n; i++)
	{
		free(parsed[i].sql);
		if (parsed[i].tree)
			pg_query__parse_result__free_unpacked(parsed[i].tree, NULL);
	}
	free(parsed);
}

/* ---- the build -------------------------------------------------------- */

static void
ctx_free(ddl_ctx *c)
{
	ddl_map    *maps[] = {&c->moved, &c->relations, &c->needed_seqs,
		&c->kept_indexes, &c->pkeys, &c->parents, &c->dropped, &c->kept_views,
		&c->view_defs, &c->owned_seqs};

	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		ddl_map_free(maps[i]);
	free(c->created);
	for (int slot = 0; slot < SLOT_COUNT; slot++)
	{
		for (int i = 0; i < c->lists[slot].n; i++)
		{
			free(c->lists[slot].stmts[i].sql);
			free(c->lists[slot].stmts[i].what);
		}
		free(c->lists[slot].stmts);
	}
}

bool
ddl_build(const char *dump_sql, const ddl_table *tables, int ntables,
		  ddl_script *out)
{
	return ddl_build_ex(dump_sql, tables, ntables, NULL, 0, out);
}

bool
ddl_build_ex(const char *dump_sql, const ddl_table *tables, int ntables,
			 const char *const *roles, int nroles, ddl_script *out)
{
	ddl_ctx		c;
	ddl_parsed *parsed = NULL;
	int			nparsed = 0;
	bool		ok;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.tables = tables;
	c.ntables = ntables;
	c.out = out;
	c.created = xcalloc((size_t) ntables + 1, sizeof(bool));
	c.skip_roles = roles;
	c.nskip_roles = nroles;
	for (int i = ntables - 1; i >= 0; i--)	/* first one wins */
		ddl_map_put_rel(&c.moved, tables[i].schema, tables[i].relname, i, NULL);
	ok = parse_dump(dump_sql, &parsed, &nparsed);
	for (int i = 0; ok && i < nparsed; i++)
	{
		c.cur = &parsed[i];
		ddl_collect(&c, &parsed[i]);
	}
	for (int i = 0; ok && i < nparsed; i++)
	{
		c.cur = &parsed[i];
		ok = ddl_classify(&c, &parsed[i]);
	}
	for (int i = 0; ok && i < ntables; i++)
		if (!c.created[i])
		{
			log_error("the source schema has no table %s.%s", tables[i].schema,
					  tables[i].relname);
			ok = false;
		}
	if (ok)
		finish_script(&c);
	ctx_free(&c);
	free_parsed(parsed, nparsed);
	if (!ok)
		ddl_script_free(out);
	return ok;
}

void
ddl_script_free(ddl_script *s)
{
	for (int i = 0; i < s->n; i++)
	{
		free(s->stmts[i].sql);
		free(s->stmts[i].what);
	}
	for (int i = 0; i < s->nskipped; i++)
	{
		free(s->skipped[i].name);
		free(s->skipped[i].table);
		free(s->skipped[i].references);
		free(s->skipped[i].reason);
	}
	for (int i = 0; i < s->ndropped; i++)
	{
		free(s->dropped[i].what);
		free(s->dropped[i].reason);
	}
	free(s->stmts);
	free(s->skipped);
	free(s->dropped);
	memset(s, 0, sizeof(*s));
}
