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

int
chunk_scan_rounds(long long slice_blocks, double share, long long per)
{
	long long	r, least;

	if (per > 0)
		r = (slice_blocks + per - 1) / per;
	else
	{
		/* rounds of 32 MiB at most; and 8 of them where each still sends
		 * 4 MiB of rows */
		r = (slice_blocks + CHUNK_SCAN_ROUND_BLOCKS - 1) / CHUNK_SCAN_ROUND_BLOCKS;
		least = (long long) ((double) slice_blocks * (share > 0 && share < 1 ? share : 1.0)
							 / CHUNK_SCAN_ROUND_MIN_BLOCKS);
		least = least < CHUNK_SCAN_MIN_ROUNDS ? least : CHUNK_SCAN_MIN_ROUNDS;
		r = r > least ? r : least;
	}
	return r < 1 ? 1 : r > CHUNK_SCAN_MAX_ROUNDS ? CHUNK_SCAN_MAX_ROUNDS : (int) r;
}
