/*
 * step_stream.c — step 6: stream every source's changes to the shards.
 *
 * One reader thread per source (N->M has several); each owns its own
 * connections to every shard, so shards see each source's transactions in
 * commit order.  With `apply --until stream` (and before verify and
 * cutover) the step returns once every change committed on the sources
 * when it began has been applied.
 */
#include <pthread.h>
#include <stdlib.h>

#include "log.h"
#include "stream.h"
#include "xalloc.h"

typedef struct reader_job {
	apply_ctx  *ctx;
	int			source;
	bool		ok;
} reader_job;

static void *
reader_main(void *arg)
{
	reader_job *job = arg;

	job->ok = stream_run_source(job->ctx, job->source, true);
	return NULL;
}

bool
step_stream(apply_ctx *ctx)
{
	int			n = ctx->plan->nsources;
	pthread_t  *threads = xcalloc((size_t) n, sizeof(pthread_t));
	reader_job *jobs = xcalloc((size_t) n, sizeof(reader_job));
	bool	   *started = xcalloc((size_t) n, sizeof(bool));
	bool		ok = true;

	/* the copy's snapshots are no longer needed: free their slots' sessions */
	source_sessions_close(ctx);
	for (int i = 0; i < n; i++)
	{
		jobs[i] = (reader_job) {ctx, i, false};
		started[i] = n > 1 && pthread_create(&threads[i], NULL, reader_main, &jobs[i]) == 0;
		if (!started[i])
			reader_main(&jobs[i]);
	}
	for (int i = 0; i < n; i++)
	{
		if (started[i])
			pthread_join(threads[i], NULL);
		ok = ok && jobs[i].ok;
	}
	free(started);
	free(jobs);
	free(threads);
	return ok;
}
