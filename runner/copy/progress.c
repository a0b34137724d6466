/*
 * progress.c — copy progress: per-table rows, bytes, rate and ETA.
 *
 * On a terminal a block of lines is redrawn every second; otherwise a plain
 * log line per unfinished table is written every 10 seconds, so CI logs
 * stay readable.  Counters are atomics updated by the workers.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "copy.h"
#include "log.h"
#include "units.h"
#include "xalloc.h"

struct progress {
	copy_run   *run;
	pthread_t	thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool		stop;
	bool		tty;
	int			drawn;			/* lines drawn last time (tty) */
	double		start;
};

static void
format_eta(double s, char *buf, size_t len)
{
	if (s < 0 || s > 360000)
		snprintf(buf, len, "--:--");
	else
		snprintf(buf, len, "%d:%02d:%02d", (int) s / 3600, ((int) s / 60) % 60, (int) s % 60);
}

static void
draw(struct progress *pr)
{
	copy_run   *run = pr->run;
	double		elapsed = mono_seconds() - pr->start;

	if (pr->tty && pr->drawn > 0)
		fprintf(stderr, "\033[%dA", pr->drawn);
	pr->drawn = 0;
	for (int i = 0; i < run->ctx->plan->ntables; i++)
	{
		copy_table *t = &run->tables[i];
		long long	rows = atomic_load(&t->rows_done), bytes = atomic_load(&t->bytes_done);
		double		frac = t->est_rows > 0 ? rows / t->est_rows : 1;
		double		rate = elapsed > 0 ? bytes / elapsed : 0;
		char		b[32], r[32], eta[32];

		if (frac > 1)
			frac = 1;
		if (!pr->tty && atomic_load(&t->chunks_done) == t->chunks_total)
			continue;
		format_eta(frac > 0 && frac < 1 ? elapsed * (1 - frac) / frac : (frac >= 1 ? 0 : -1), eta, sizeof(eta));
		format_bytes((double) bytes, b, sizeof(b));
		format_bytes(rate, r, sizeof(r));
		if (pr->tty)
			fprintf(stderr, "\033[2K  %-32.32s %3.0f%%  %12lld rows  %10s  %10s/s  ETA %s  chunks %d/%d\n",
					t->display, 100 * frac, rows, b, r, eta, atomic_load(&t->chunks_done), t->chunks_total);
		else
			log_info("copy: %s: %.0f%%, %lld rows, %s, %s/s, ETA %s, chunks %d/%d", t->display,
					 100 * frac, rows, b, r, eta, atomic_load(&t->chunks_done), t->chunks_total);
		pr->drawn++;
	}
	fflush(stderr);
}

static void *
progress_main(void *arg)
{
	struct progress *pr = arg;
	int			period = pr->tty ? 1 : 10;

	pthread_mutex_lock(&pr->lock);
	while (!pr->stop)
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += period;
		pthread_cond_timedwait(&pr->cond, &pr->lock, &ts);
		if (!pr->stop)
			draw(pr);
	}
	pthread_mutex_unlock(&pr->lock);
	return NULL;
}

progress *
progress_start(copy_run *run)
{
	struct progress *pr = xcalloc(1, sizeof(*pr));

	pr->run = run;
	pr->tty = run->ctx->tty && log_get_level() <= LOG_INFO;
	pr->start = mono_seconds();
	pthread_mutex_init(&pr->lock, NULL);
	pthread_cond_init(&pr->cond, NULL);
	if (pthread_create(&pr->thread, NULL, progress_main, pr) != 0)
	{
		pthread_mutex_destroy(&pr->lock);
		pthread_cond_destroy(&pr->cond);
		free(pr);
		return NULL;			/* no progress display; the copy goes on */
	}
	return pr;
}

void
progress_stop(progress *pr)
{
	if (pr == NULL)
		return;
	pthread_mutex_lock(&pr->lock);
	pr->stop = true;
	pthread_cond_signal(&pr->cond);
	pthread_mutex_unlock(&pr->lock);
	pthread_join(pr->thread, NULL);
	if (pr->tty)
		draw(pr);
	pthread_mutex_destroy(&pr->lock);
	pthread_cond_destroy(&pr->cond);
	free(pr);
}
