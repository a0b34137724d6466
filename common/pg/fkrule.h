/*
 * fkrule.h — can a foreign key survive resharding?
 *
 * After resharding, each shard holds a subset of every sharded table and all
 * of every replicated table.  A foreign key can be created on the shards only
 * when, for every child row, the parent row it references is guaranteed to
 * live on the same shard.  That holds in exactly two cases:
 *
 *   - the parent is replicated (every shard has every parent row), whatever
 *     the child is;
 *   - both tables are sharded, and the foreign key pairs the child's sharding
 *     key columns, in key order, with the parent's sharding key columns, in
 *     key order (same arity).  Equal key values then route to the same shard,
 *     because routing is one function of the key values (DESIGN.md,
 *     invariant 5).
 *
 * A replicated child referencing a sharded parent never qualifies: each
 * shard has every child row but only some parent rows.
 *
 * This is a pure rule with no database or runner dependency: the planner
 * uses it to warn at plan time and the runner's schema step uses it to decide
 * which foreign keys to create.  It assumes routing depends only on the key
 * values (hash sharding, or a Lua route that treats both tables alike); the
 * caller knows whether that is so.
 */
#ifndef PGR_FKRULE_H
#define PGR_FKRULE_H

#include <stdbool.h>

/* One side of a foreign key, as the plan places it. */
typedef struct fk_side {
	bool		replicate;		/* copied whole to every shard */
	int			nkeys;			/* sharding key columns (0 when replicated) */
	const char *const *keys;	/* unquoted column names, in key order */
} fk_side;

/*
 * True when every child row's referenced parent row lands on the child's
 * shard.  child_cols[i] references parent_cols[i], i < ncols (unquoted
 * names, compared exactly).  When false, *reason (if reason is not NULL)
 * points to a static sentence saying why; when true it is set to NULL.
 */
bool fk_same_shard(const fk_side *child, const fk_side *parent, int ncols,
				   const char *const *child_cols,
				   const char *const *parent_cols, const char **reason);

#endif
