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
chunk_group_size(long long nchunks, int jobs, long long max_passes, double bytes, long long pass_size)
{
	long long	passes = max_passes < 1 ? 1 : max_passes;
	long long	g;

	if (pass_size > 0)
	{
		double		fit = fmax(ceil(bytes / (double) pass_size), 1.0);

		if (fit < (double) passes)
			passes = (long long) fit;
	}
	g = (nchunks + passes - 1) / passes;
	if (g > CHUNK_GROUP_MAX)
		g = CHUNK_GROUP_MAX;
	return g > jobs ? g : jobs;
}

long long
chunk_scattered_passes(long long nchunks, int jobs, long long max_passes, double bytes, long long pass_size,
					   bool shared)
{
	long long	g;

	if (!shared || jobs < 2)
		return nchunks;
	g = chunk_group_size(nchunks, jobs, max_passes, bytes, pass_size);
	return (nchunks + g - 1) / g;
}
