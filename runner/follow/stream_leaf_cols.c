/*
 * stream_leaf_cols.c — a partition whose columns are in another order than
 * its parent's.
 *
 * A table created on its own and then attached (or a partition made after
 * a DROP COLUMN on its parent, or a parent altered after it was attached)
 * keeps its own column order; PostgreSQL matches a partition's columns to
 * its parent's by name.  With publish_via_partition_root off, pgoutput
 * sends such a partition's Relation message and tuples in the partition's
 * order (and with it on, the partition's Relation message too, after the
 * root's).  The stream knows one order per moved table, the parent's, and
 * applies every change through the parent; so the partition's columns are
 * mapped onto the table's by name, and each of its tuples is put in the
 * table's order before it is applied.  A name the table does not know (a
 * column renamed or added on the source) takes the place of a name the
 * message lacks, in order, then goes last, as a column added to the parent
 * does: the schema-change follower then sees the parent's own change.
 */
#include <stdlib.h>
#include <string.h>

#include "stream.h"
#include "xalloc.h"

int *
stream_leaf_order(const stream_table *t, const pgo_msg *m)
{
	int		   *order = xcalloc((size_t) m->ncols + 1, sizeof(int));
	bool	   *used = xcalloc((size_t) m->ncols + 1, sizeof(bool));
	int			n = 0, u = 0;
	bool		identity = true;

	for (int j = 0; j < t->ncols; j++)
	{
		int			found = -1;

		for (int i = 0; i < m->ncols && found < 0; i++)
			if (!used[i] && strcmp(m->columns[i].name, t->cols[j]) == 0)
				found = i;
		if (found < 0)
		{
			/* a name gone from the table's: the next unknown name takes its place */
			for (; u < m->ncols && found < 0; u++)
				if (!used[u] && stream_col_index(t, m->columns[u].name) < 0)
					found = u;
		}
		if (found >= 0)
		{
			used[found] = true;
			order[n++] = found;
		}
	}
	for (int i = 0; i < m->ncols; i++)	/* unknown names left: last, in their order */
		if (!used[i])
			order[n++] = i;
	for (int k = 0; k < n; k++)
		identity = identity && order[k] == k;
	free(used);
	if (identity)
	{
		free(order);
		return NULL;
	}
	return order;
}

void
stream_columns_permuted(const pgo_msg *m, const int *order, pgo_column *out)
{
	for (int k = 0; k < m->ncols; k++)
		out[k] = m->columns[order[k]];
}

void
stream_tuple_permuted(const pgo_tuple *in, const int *order, int n, pgo_tuple *out, pgo_value *vals)
{
	out->ncols = 0;
	out->cols = vals;
	for (int k = 0; k < n; k++)
	{
		vals[k] = order[k] < in->ncols ? in->cols[order[k]] : (pgo_value) {.kind = PGO_UNCHANGED};
		out->ncols++;
	}
}
