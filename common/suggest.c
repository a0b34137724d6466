/*
 * suggest.c — nearest-name suggestions.  See suggest.h.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "suggest.h"
#include "xalloc.h"

size_t
edit_distance(const char *a, const char *b)
{
	size_t		la = strlen(a), lb = strlen(b);
	size_t	   *row = xmalloc((lb + 1) * sizeof(size_t));
	size_t		result;

	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++)
	{
		size_t		diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++)
		{
			size_t		up = row[j];
			size_t		best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	result = row[lb];
	free(row);
	return result;
}

const char *
suggest_closest(const char *word, const char *const *candidates, int n)
{
	const char *best = NULL;
	size_t		best_d = (size_t) -1;
	size_t		len = strlen(word);

	for (int i = 0; i < n; i++)
	{
		size_t		d;

		if (strcasecmp(word, candidates[i]) == 0)
			return candidates[i];
		d = edit_distance(word, candidates[i]);
		if (d < best_d)
		{
			best_d = d;
			best = candidates[i];
		}
	}
	if (best != NULL && best_d <= 2 && best_d * 2 < len + 1)
		return best;
	return NULL;
}
