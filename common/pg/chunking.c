/*
 * chunking.c — chunk counts and the passes a scattered key costs (see
 * chunking.h).
 */
#include <math.h>

#include "chunking.h"

long long
chunk_count(double est, long long chunk_rows, int jobs)
{
	long long	n = (long long) ceil(est / (double) (chunk_rows > 0 ? chunk_rows : 1));

	if (jobs > 1 && n > jobs)
		n = llround((double) n / jobs) * jobs;
	return n;
}

long long
chunk_group_size(long long nchunks, int jobs, long long max_passes)
{
	long long	g = jobs;

	if (max_passes < 1)
		max_passes = 1;
	if ((nchunks + g - 1) / g > max_passes)
		g = (nchunks + max_passes - 1) / max_passes;
	return g;
}

long long
chunk_scattered_passes(long long nchunks, int jobs, long long max_passes, bool shared)
{
	long long	g;

	if (!shared || jobs < 2)
		return nchunks;
	g = chunk_group_size(nchunks, jobs, max_passes);
	return (nchunks + g - 1) / g;
}
