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
chunk_scattered_passes(long long nchunks, int jobs, bool shared)
{
	int			group = jobs < CHUNK_GROUP_MAX ? jobs : CHUNK_GROUP_MAX;

	if (!shared || group < 2)
		return nchunks;
	return (nchunks + group - 1) / group;
}
