/*
 * render_markdown.c — the step plan for a pull request comment
 * (`plan --markdown`): what a reviewer needs on one screen, the way CI
 * posts a Terraform plan.
 *
 * One summary line first (tables, sources and shards, errors and warnings,
 * whether `apply` would do anything), then Markdown tables: the steps, the
 * tables with keys and sizes, the estimated rows per shard, and the
 * findings with severity and fix.  It shows the same catalog the text and
 * JSON renderers show; every cell taken from a name or a message is
 * escaped, so a table called "a|b" or "<script>" cannot break the layout or
 * inject markup into the comment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlname.h"
#include "stepplan.h"
#include "xalloc.h"

/* Write s as the text of a table cell: Markdown punctuation escaped, one line. */
void
markdown_cell(FILE *out, const char *s)
{
	for (const char *c = s ? s : ""; *c; c++)
	{
		if (*c == '\n' || *c == '\r')
			fputc(' ', out);
		else
		{
			if (strchr("\\`*_[]<>|~#&!", *c) != NULL)
				fputc('\\', out);
			fputc(*c, out);
		}
	}
}

static void
summary(FILE *out, const plan *p, const catalog *cat)
{
	int			errors = 0, warnings = 0, todo = 0;

	for (int i = 0; i < cat->nfindings; i++)
	{
		errors += cat->findings[i].level == FINDING_ERROR;
		warnings += cat->findings[i].level == FINDING_WARNING;
	}
	for (int s = 0; s < STEP_COUNT; s++)
		todo += !cat->step_done[s];
	fprintf(out, "### pgreshard plan `");
	markdown_cell(out, p->name);
	fprintf(out, "`\n\n**%s**: %d table%s, %d source%s \u2192 %d shard%s; %d error%s, %d warning%s; ",
			errors ? "Plan refused" : "Plan OK", p->ntables, p->ntables == 1 ? "" : "s",
			p->nsources, p->nsources == 1 ? "" : "s", p->nshards, p->nshards == 1 ? "" : "s",
			errors, errors == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s");
	if (errors)
		fprintf(out, "`apply` would refuse it.\n");
	else if (todo == 0)
		fprintf(out, "already applied: `apply` has nothing to do.\n");
	else
		fprintf(out, "`apply` would run %d of %d steps.\n", todo, STEP_COUNT);
}

static void
steps(FILE *out, const plan *p, const catalog *cat)
{
	fprintf(out, "\n#### Steps\n\n| # | step | state | what it does |\n|---:|---|---|---|\n");
	for (int s = 0; s < STEP_COUNT; s++)
	{
		char	   *d = step_describe(p, cat, (step_id) s);

		fprintf(out, "| %d | %s | %s | ", s + 1, step_name((step_id) s), cat->step_done[s] ? "done" : "to do");
		markdown_cell(out, d);
		fprintf(out, " |\n");
		free(d);
	}
}

static void
tables(FILE *out, const plan *p, const catalog *cat)
{
	char		b[32];

	fprintf(out, "\n#### Tables\n\n| table | key | rows (estimate) | size |\n|---|---|---:|---:|\n");
	for (int i = 0; i < p->ntables; i++)
	{
		const src_table *t = catalog_table(cat, i);
		char	   *n = sqlname_quote_qualified(p->tables[i].schema, p->tables[i].relname);
		char	   *k = table_key_display(&p->tables[i], t);

		fprintf(out, "| ");
		markdown_cell(out, n);
		fprintf(out, " | ");
		markdown_cell(out, k);
		fprintf(out, " | %.0f | %s |\n", t->rows, format_bytes((double) t->total_bytes, b, sizeof(b)));
		free(n);
		free(k);
	}
}

static void
distribution(FILE *out, const plan *p, const catalog *cat)
{
	double	   *total = xcalloc((size_t) p->nshards, sizeof(double));

	fprintf(out, "\n#### Estimated rows per shard\n\n| table |");
	for (int s = 0; s < p->nshards; s++)
		fprintf(out, " shard %d |", s);
	fprintf(out, "\n|---|");
	for (int s = 0; s < p->nshards; s++)
		fprintf(out, "---:|");
	fputc('\n', out);
	for (int i = 0; i < p->ntables; i++)
	{
		const src_table *t = catalog_table(cat, i);
		char	   *n = sqlname_quote_qualified(p->tables[i].schema, p->tables[i].relname);

		fprintf(out, "| ");
		markdown_cell(out, n);
		fprintf(out, "%s |", p->tables[i].replicate ? " (replicated)" : t->sampled ? "" : " (uniform)");
		for (int s = 0; s < p->nshards; s++)
		{
			double		r = t->shard_rows ? t->shard_rows[s] : 0;

			total[s] += r;
			fprintf(out, " %.0f |", r);
		}
		fputc('\n', out);
		free(n);
	}
	fprintf(out, "| **total** |");
	for (int s = 0; s < p->nshards; s++)
		fprintf(out, " **%.0f** |", total[s]);
	fputc('\n', out);
	free(total);
}

static void
findings(FILE *out, const catalog *cat)
{
	static const char *const level[] = {"note", "warning", "**error**"};

	if (cat->nfindings == 0)
	{
		fprintf(out, "\n#### Findings\n\nNone.\n");
		return;
	}
	fprintf(out, "\n#### Findings\n\n| severity | where | finding | fix |\n|---|---|---|---|\n");
	for (int i = 0; i < cat->nfindings; i++)
	{
		const finding *f = &cat->findings[i];

		fprintf(out, "| %s | ", level[f->level]);
		markdown_cell(out, f->where);
		fprintf(out, " | ");
		markdown_cell(out, f->message);
		fprintf(out, " | ");
		markdown_cell(out, f->fix ? f->fix : "");
		fprintf(out, " |\n");
	}
}

void
render_plan_markdown(FILE *out, const plan *p, const catalog *cat)
{
	summary(out, p, cat);
	steps(out, p, cat);
	tables(out, p, cat);
	distribution(out, p, cat);
	findings(out, cat);
}
