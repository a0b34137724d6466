/*
 * status_prometheus.c — `pgreshard status PLAN --prometheus`: the status
 * report in Prometheus' text exposition format (version 0.0.4), e.g. for
 * node_exporter's textfile collector run from cron or a systemd timer.
 *
 * It prints the very numbers `status --json` prints, from the same
 * status_report (status.h says what each means): every metric family gets
 * one # HELP and one # TYPE line, names start with pgreshard_, base units
 * (bytes, seconds), and every series carries the plan's name in `plan` plus
 * `table`, `source`, `shard` or `step` where it is about one.  A number
 * status could not learn (a source down, nothing applied yet) is left out
 * rather than written as a guess; pgreshard_source_up and
 * pgreshard_slot_exists say why it is missing.  Label values are escaped as the format asks (backslash, double
 * quote, newline), so quoted table names such as app."Order Items" pass.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "status.h"
#include "steps.h"
#include "sqlname.h"
#include "xalloc.h"

static const char *const STEP_STATES[] = {"pending", "running", "done", "failed"};

typedef struct prom {
	FILE	   *out;
	const char *plan;
	strbuf		sb;
} prom;

void
prom_label_value(strbuf *sb, const char *v)
{
	for (const char *c = v ? v : ""; *c; c++)
	{
		if (*c == '\\')
			sb_append(sb, "\\\\");
		else if (*c == '"')
			sb_append(sb, "\\\"");
		else if (*c == '\n')
			sb_append(sb, "\\n");
		else
			sb_append_char(sb, *c);
	}
}

static void
family(prom *m, const char *name, const char *type, const char *help)
{
	fprintf(m->out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample: name{plan="...",k1="v1",...} value; the labels are (key, value)
 * pairs ending with NULL. */
static void
sample(prom *m, const char *name, const char *value, ...)
{
	va_list		ap;
	const char *k;

	sb_reset(&m->sb);
	sb_printf(&m->sb, "%s{plan=\"", name);
	prom_label_value(&m->sb, m->plan);
	sb_append_char(&m->sb, '"');
	va_start(ap, value);
	while ((k = va_arg(ap, const char *)) != NULL)
	{
		sb_printf(&m->sb, ",%s=\"", k);
		prom_label_value(&m->sb, va_arg(ap, const char *));
		sb_append_char(&m->sb, '"');
	}
	va_end(ap);
	fprintf(m->out, "%s} %s\n", m->sb.data, value);
}

static const char *
num(char *buf, size_t len, long long v)
{
	snprintf(buf, len, "%lld", v);
	return buf;
}

static const char *
real(char *buf, size_t len, double v)
{
	snprintf(buf, len, "%.6g", v);
	return buf;
}

static void
steps(prom *m, const status_report *st)
{
	char		v[32];

	family(m, "pgreshard_step_state", "gauge",
		   "1 for the state each step of the plan is in (pending, running, done, failed), else 0.");
	for (int s = 0; s < STEP_COUNT; s++)
	{
		int			r = status_step_row(st->steps, step_name((step_id) s));
		const char *state = r >= 0 ? PQgetvalue(st->steps, r, 1) : "pending";

		for (int k = 0; k < 4; k++)
			sample(m, "pgreshard_step_state", strcmp(state, STEP_STATES[k]) == 0 ? "1" : "0",
				   "step", step_name((step_id) s), "state", STEP_STATES[k], NULL);
	}
	family(m, "pgreshard_step_attempts", "gauge", "Times apply started the step.");
	for (int s = 0; s < STEP_COUNT; s++)
	{
		int			r = status_step_row(st->steps, step_name((step_id) s));

		sample(m, "pgreshard_step_attempts", r >= 0 ? PQgetvalue(st->steps, r, 4) : "0",
			   "step", step_name((step_id) s), NULL);
	}
	family(m, "pgreshard_step_duration_seconds", "gauge",
		   "How long the step ran (so far, while it runs), from its last start.");
	for (int s = 0; s < STEP_COUNT; s++)
	{
		int			r = status_step_row(st->steps, step_name((step_id) s));

		if (status_cell(st->steps, r, 6))
			sample(m, "pgreshard_step_duration_seconds", real(v, sizeof(v), atof(status_cell(st->steps, r, 6))),
				   "step", step_name((step_id) s), NULL);
	}
}

/* One per-table copy family; which: 0 chunks done, 1 chunks total, 2 rows
 * done, 3 rows expected, 4 bytes done, 5 bytes expected. */
static void
copy_family(prom *m, const status_report *st, int which, const char *name, const char *help)
{
	char		v[32];

	if (which == 5 && st->sizes_unknown)
		return;
	family(m, name, "gauge", help);
	for (int ti = 0; ti < st->p->ntables; ti++)
	{
		const copy_prog *c = &st->copy[ti];
		long long	vals[6] = {c->chunks_done, c->chunks_total, c->rows_copied, c->rows_estimated,
		c->bytes_copied, c->bytes_estimated};
		char	   *t = sqlname_quote_qualified(st->p->tables[ti].schema, st->p->tables[ti].relname);

		sample(m, name, num(v, sizeof(v), vals[which]), "table", t, NULL);
		free(t);
	}
}

static void
copy(prom *m, const status_report *st)
{
	copy_family(m, st, 0, "pgreshard_copy_chunks_done", "Copy chunks of the table committed on every shard.");
	copy_family(m, st, 1, "pgreshard_copy_chunks", "Copy chunks of the table in the chunk plan.");
	copy_family(m, st, 2, "pgreshard_copy_rows_done",
				"Rows the copy wrote, summed over the shards (a replicated table counts on every shard).");
	copy_family(m, st, 3, "pgreshard_copy_rows_expected",
				"Rows the copy is expected to write: the chunk plan's estimate (times the shards for a replicated table).");
	copy_family(m, st, 4, "pgreshard_copy_bytes_done", "COPY bytes the copy wrote, summed over the shards.");
	copy_family(m, st, 5, "pgreshard_copy_bytes_expected",
				"The table's size on the sources (pg_table_size, times the shards for a replicated table); COPY text is usually smaller.");
	if (st->keepers && PQntuples(st->keepers) > 0)
	{
		family(m, "pgreshard_copy_snapshot_kept_seconds", "gauge",
			   "Seconds left of the lease of a process keeping the copy's snapshot for a rerun, per source.");
		for (int r = 0; r < PQntuples(st->keepers); r++)
			sample(m, "pgreshard_copy_snapshot_kept_seconds", PQgetvalue(st->keepers, r, 4), "source",
				   PQgetvalue(st->keepers, r, 0), NULL);
	}
}

static void
stream(prom *m, const status_report *st)
{
	char		v[32], src[16];
	char	   *slot = plan_slot_name(st->p);

	family(m, "pgreshard_source_up", "gauge", "1 when status could query the source, else 0.");
	for (int i = 0; i < st->p->nsources; i++)
		sample(m, "pgreshard_source_up", st->lag[i].reachable ? "1" : "0", "source", num(src, sizeof(src), i), NULL);
	family(m, "pgreshard_slot_exists", "gauge",
		   "1 when the plan's replication slot exists on the source (from the slot step until finish), else 0.");
	for (int i = 0; i < st->p->nsources; i++)
		if (st->lag[i].reachable)
			sample(m, "pgreshard_slot_exists", st->lag[i].error ? "0" : "1", "source", num(src, sizeof(src), i),
				   "slot", slot, NULL);
	family(m, "pgreshard_stream_lag_bytes", "gauge",
		   "WAL between the source's current position and what the slot confirmed (every shard applied); direction reverse: a shard's, every source applied.");
	for (int i = 0; i < st->p->nsources; i++)
		if (st->lag[i].lag_bytes >= 0)
			sample(m, "pgreshard_stream_lag_bytes", num(v, sizeof(v), st->lag[i].lag_bytes),
				   "source", num(src, sizeof(src), i), "direction", "forward", NULL);
	for (int s = 0; st->rev && s < st->p->nshards; s++)
		if (st->rev[s].lag_bytes >= 0)
			sample(m, "pgreshard_stream_lag_bytes", num(v, sizeof(v), st->rev[s].lag_bytes),
				   "shard", num(src, sizeof(src), s), "direction", "reverse", NULL);
	family(m, "pgreshard_stream_lag_seconds", "gauge",
		   "Source clock minus the commit time of the newest source transaction applied on a shard (0 without lag).");
	for (int i = 0; i < st->p->nsources; i++)
		if (st->lag[i].lag_seconds >= 0)
			sample(m, "pgreshard_stream_lag_seconds", real(v, sizeof(v), st->lag[i].lag_seconds),
				   "source", num(src, sizeof(src), i), "direction", "forward", NULL);
	family(m, "pgreshard_slot_retained_wal_bytes", "gauge",
		   "WAL the plan's replication slot holds back on the source, or after the cutover a reverse slot on a shard (current LSN minus restart_lsn).");
	for (int i = 0; i < st->p->nsources; i++)
		if (st->lag[i].retained_bytes >= 0)
			sample(m, "pgreshard_slot_retained_wal_bytes", num(v, sizeof(v), st->lag[i].retained_bytes),
				   "source", num(src, sizeof(src), i), "slot", slot, NULL);
	free(slot);
	slot = xasprintf("pgreshard_%s_back", st->p->name);
	for (int s = 0; st->rev && s < st->p->nshards; s++)
		if (st->rev[s].retained_bytes >= 0)
			sample(m, "pgreshard_slot_retained_wal_bytes", num(v, sizeof(v), st->rev[s].retained_bytes),
				   "shard", num(src, sizeof(src), s), "slot", slot, NULL);
	free(slot);
}

static void
summary(prom *m, const status_report *st)
{
	const PGresult *c = st->cutover, *v = st->verify;
	char		buf[32], shard[16];

	family(m, "pgreshard_lock_held", "gauge", "1 while a pgreshard command holds the plan's lock on shard 0.");
	sample(m, "pgreshard_lock_held", PQgetvalue(st->lock, 0, 3)[0] == 't' ? "1" : "0", NULL);
	family(m, "pgreshard_cutover_attempts", "gauge", "Cutover attempts so far.");
	sample(m, "pgreshard_cutover_attempts", PQntuples(c) ? PQgetvalue(c, 0, 0) : "0", NULL);
	if (PQntuples(c) && status_cell(c, 0, 2))
	{
		family(m, "pgreshard_cutover_last_freeze_seconds", "gauge",
			   "How long the last cutover attempt held writes on the source.");
		sample(m, "pgreshard_cutover_last_freeze_seconds", real(buf, sizeof(buf), atof(status_cell(c, 0, 2)) / 1000.0),
			   "outcome", PQgetvalue(c, 0, 1), NULL);
	}
	if (PQntuples(v))
	{
		family(m, "pgreshard_verify_differences", "gauge",
			   "Differences the last verify found between the table on the shard and its part of the source.");
		for (int i = 0; i < PQntuples(v); i++)
		{
			int			ti = atoi(PQgetvalue(v, i, 0));
			char	   *t;

			if (ti < 0 || ti >= st->p->ntables)
				continue;
			t = sqlname_quote_qualified(st->p->tables[ti].schema, st->p->tables[ti].relname);
			sample(m, "pgreshard_verify_differences", PQgetvalue(v, i, 4), "table", t,
				   "shard", PQgetvalue(v, i, 1), NULL);
			free(t);
		}
	}
	family(m, "pgreshard_validate_violations", "gauge", "Rows the validate hook refused in report mode.");
	sample(m, "pgreshard_validate_violations",
		   st->violations && PQntuples(st->violations) ? status_cell(st->violations, 0, 5) : "0", NULL);
	family(m, "pgreshard_status_unreadable_shards", "gauge",
		   "Shards status could not read (their copy progress is missing from the sums).");
	sample(m, "pgreshard_status_unreadable_shards", num(shard, sizeof(shard), (long long) json_array_size(st->errors)),
		   NULL);
}

bool
render_prometheus(FILE *out, const status_report *st)
{
	prom		m = {out, st->p->name, {0}};

	sb_init(&m.sb);
	family(&m, "pgreshard_applied", "gauge", "1 when a run of the plan exists (its state is on shard 0), else 0.");
	sample(&m, "pgreshard_applied", st->applied ? "1" : "0", NULL);
	if (st->applied)
	{
		steps(&m, st);
		copy(&m, st);
		stream(&m, st);
		summary(&m, st);
	}
	sb_free(&m.sb);
	return fflush(out) == 0 && !ferror(out);
}
