/*
 * stepplan.h — the step plan: what `apply` will do, in order, in words.
 *
 * Built from the plan file and the catalog, rendered as text for people
 * (render_text.c), as Markdown for a pull request (render_markdown.c) or as
 * a versioned JSON document for CI (render_json.c).
 */
#ifndef PGR_STEPPLAN_H
#define PGR_STEPPLAN_H

#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>

#include "catalog.h"
#include "plan.h"
#include "steps.h"
#include "units.h"

#define PLAN_JSON_FORMAT_VERSION 1

/* What step id will do, one sentence (malloc'd). */
char *step_describe(const plan *p, const catalog *cat, step_id id);

/* The key of a table for display: "id (bigint)", "(tenant_id, id)", "replicated". */
char *table_key_display(const plan_table *pt, const src_table *t);

/* Parts of the JSON document, also kept in a saved plan (new references). */
json_t *plan_steps_json(const plan *p, const catalog *cat);
json_t *plan_tables_json(const plan *p, const catalog *cat);
json_t *plan_findings_json(const catalog *cat);

void render_plan_text(FILE *out, const plan *p, const catalog *cat, bool tty);
/* For a pull request comment (render_markdown.c). */
void render_plan_markdown(FILE *out, const plan *p, const catalog *cat);
/* s as Markdown table cell text: punctuation escaped, newlines as spaces. */
void markdown_cell(FILE *out, const char *s);
/* Returns false when the JSON document could not be written. */
bool render_plan_json(FILE *out, const plan *p, const catalog *cat);

#endif
