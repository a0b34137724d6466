/*
 * fkrule.c — the same-shard rule for foreign keys.  See fkrule.h for the
 * rule and why it is right.
 */
#include <stddef.h>
#include <string.h>

#include "fkrule.h"

/* Index of col in cols[0..n), or -1. */
static int
find_col(int n, const char *const *cols, const char *col)
{
	for (int i = 0; i < n; i++)
		if (cols[i] != NULL && strcmp(cols[i], col) == 0)
			return i;
	return -1;
}

/* Both sides sharded: the FK must pair key column i with key column i. */
static bool
keys_pair_up(const fk_side *child, const fk_side *parent, int ncols,
			 const char *const *child_cols, const char *const *parent_cols,
			 const char **why)
{
	if (child->nkeys <= 0 || child->keys == NULL ||
		parent->nkeys <= 0 || parent->keys == NULL)
	{
		*why = "a sharded table has no sharding key";
		return false;
	}
	if (child->nkeys != parent->nkeys)
	{
		*why = "the two tables' sharding keys have different numbers of "
			"columns, so equal rows can hash to different shards";
		return false;
	}
	for (int k = 0; k < child->nkeys; k++)
	{
		int			pos = find_col(ncols, child_cols, child->keys[k]);

		if (pos < 0)
		{
			*why = "the referencing table's sharding key is not part of the "
				"foreign key, so a row and the row it references can be on "
				"different shards";
			return false;
		}
		if (parent_cols[pos] == NULL ||
			strcmp(parent_cols[pos], parent->keys[k]) != 0)
		{
			*why = "the foreign key does not pair the referencing table's "
				"sharding key with the referenced table's sharding key (column "
				"by column, in key order), so a row and the row it references "
				"can be on different shards";
			return false;
		}
	}
	return true;
}

bool
fk_same_shard(const fk_side *child, const fk_side *parent, int ncols,
			  const char *const *child_cols, const char *const *parent_cols,
			  const char **reason)
{
	const char *why = NULL;
	bool		ok;

	if (parent->replicate)
		ok = true;
	else if (child->replicate)
	{
		why = "the referencing table is replicated to every shard but the "
			"referenced table is sharded, so most shards lack the referenced "
			"rows";
		ok = false;
	}
	else if (ncols <= 0 || child_cols == NULL || parent_cols == NULL)
	{
		why = "the foreign key has no columns";
		ok = false;
	}
	else
		ok = keys_pair_up(child, parent, ncols, child_cols, parent_cols, &why);
	if (reason != NULL)
		*reason = ok ? NULL : why;
	return ok;
}
