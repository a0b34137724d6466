/*
 * render_text.c — the step plan for people: source, destinations, tables
 * with keys and sizes, estimated rows per shard (with a bar chart on a
 * terminal), the steps in order, and the lint findings with their fixes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlname.h"
#include "stepplan.h"
#include "xalloc.h"

static void
render_servers(FILE *out, const plan *p, const catalog *cat)
{
	fprintf(out, "Source%s (publication %s%s):\n", cat->nsources > 1 ? "s" : "",
			p->publication, cat->publication_exists ? "" : ", to be created");
	for (int i = 0; i < cat->nsources; i++)
		fprintf(out, "  %-9s %s  (PostgreSQL %s)\n", cat->sources[i].role,
				cat->sources[i].safe_dsn, cat->sources[i].version);
	fprintf(out, "Destination: %d shard%s\n", cat->nshards, cat->nshards == 1 ? "" : "s");
	for (int i = 0; i < cat->nshards; i++)
		fprintf(out, "  %-9s %s  (PostgreSQL %s%s)\n", cat->shards[i].role,
				cat->shards[i].safe_dsn, cat->shards[i].version,
				cat->shards[i].has_state ? ", holds an earlier run of this plan" : "");
}

static int
name_width(const plan *p)
{
	int			w = 5;

	for (int i = 0; i < p->ntables; i++)
	{
		char	   *n = sqlname_quote_qualified(p->tables[i].schema, p->tables[i].relname);
		int			l = (int) strlen(n);

		free(n);
		if (l > w)
			w = l;
	}
	return w > 60 ? 60 : w;
}

static void
render_tables(FILE *out, const plan *p, const catalog *cat)
{
	int			w = name_width(p);
	char		b[32];

	fprintf(out, "\nTables:\n  %-*s  %-28s %12s %10s\n", w, "TABLE", "KEY", "ROWS", "SIZE");
	for (int i = 0; i < p->ntables; i++)
	{
		const src_table *t = &cat->tables[i];
		char	   *n = sqlname_quote_qualified(p->tables[i].schema, p->tables[i].relname);
		char	   *k = table_key_display(&p->tables[i], t);

		fprintf(out, "  %-*s  %-28s %12.0f %10s\n", w, n, k, t->rows,
				format_bytes((double) t->total_bytes, b, sizeof(b)));
		if (t->partitioned)
			fprintf(out, "  %-*s  partitioned: %d partition(s) move with it\n", w, "", t->nparts);
		free(n);
		free(k);
	}
}

static void
render_distribution(FILE *out, const plan *p, const catalog *cat, bool tty)
{
	double	   *per = xcalloc((size_t) p->nshards, sizeof(double));
	double		total = 0, max = 0;

	for (int i = 0; i < cat->ntables; i++)
		for (int s = 0; s < p->nshards && cat->tables[i].shard_rows; s++)
			per[s] += cat->tables[i].shard_rows[s];
	for (int s = 0; s < p->nshards; s++)
	{
		total += per[s];
		if (per[s] > max)
			max = per[s];
	}
	fprintf(out, "\nEstimated rows per shard (sharded tables sampled, replicated tables counted on every shard):\n");
	for (int s = 0; s < p->nshards; s++)
	{
		fprintf(out, "  shard %-3d %12.0f  %5.1f%%", s, per[s], total > 0 ? 100.0 * per[s] / total : 0);
		if (tty && max > 0)
		{
			int			bars = (int) (30.0 * per[s] / max + 0.5);

			fputs("  ", out);
			for (int j = 0; j < bars; j++)
				fputs("\u2588", out);
		}
		fputc('\n', out);
	}
	free(per);
}

static void
render_objects(FILE *out, const catalog *cat)
{
	if (cat->nobjects == 0)
		return;
	fprintf(out, "\nSchema objects besides the tables:\n");
	for (int i = 0; i < cat->nobjects; i++)
	{
		const schema_object *o = &cat->objects[i];

		if (o->created)
			fprintf(out, "  + %s: created on every shard (%s)%s%s\n", o->what,
					o->post ? "schema-post" : "schema-pre", o->reason ? "; " : "",
					o->reason ? o->reason : "");
		else
			fprintf(out, "  - %s: not created: %s\n", o->what, o->reason);
	}
}

static void
render_findings(FILE *out, const catalog *cat)
{
	static const char *const level[] = {"note", "warning", "ERROR"};

	if (cat->nfindings == 0)
		return;
	fprintf(out, "\nFindings:\n");
	for (int i = 0; i < cat->nfindings; i++)
	{
		const finding *f = &cat->findings[i];

		fprintf(out, "  %-7s %s: %s\n", level[f->level], f->where, f->message);
		if (f->fix)
			fprintf(out, "          fix: %s\n", f->fix);
	}
}

void
render_plan_text(FILE *out, const plan *p, const catalog *cat, bool tty)
{
	int			errors = 0, warnings = 0;

	fprintf(out, "Plan %s (%s)\n\n", p->name, p->path);
	render_servers(out, p, cat);
	render_tables(out, p, cat);
	render_distribution(out, p, cat, tty);
	fprintf(out, "\nSteps:\n");
	for (int s = 0; s < STEP_COUNT; s++)
	{
		char	   *d = step_describe(p, cat, (step_id) s);

		fprintf(out, "  %d. %-12s %s%s\n", s + 1, step_name((step_id) s),
				cat->step_done[s] ? "(done) " : "", d);
		free(d);
	}
	render_objects(out, cat);
	render_findings(out, cat);
	for (int i = 0; i < cat->nfindings; i++)
	{
		errors += cat->findings[i].level == FINDING_ERROR;
		warnings += cat->findings[i].level == FINDING_WARNING;
	}
	fprintf(out, "\n%s: %d error%s, %d warning%s%s.\n",
			errors ? "Plan refused" : "Plan OK", errors, errors == 1 ? "" : "s",
			warnings, warnings == 1 ? "" : "s",
			catalog_fully_applied(cat) ? "; already applied, nothing to do" : "");
}
