/*
 * leaf_indexes.h — indexes made on one partition of a moved table during the
 * move (CREATE [UNIQUE] INDEX ON one_leaf, DROP INDEX, ALTER INDEX
 * parent_idx ATTACH PARTITION leaf_idx), followed on every shard.
 *
 * pgoutput carries no DDL, and the cutover's schema check compares the moved
 * tables themselves (an index on a partitioned table is created on the
 * shards' table, which builds or attaches its partitions' indexes); an index
 * of one partition only is neither.  So the stream compares the partitions'
 * own indexes on the source with each shard's (stream_attach.c: between two
 * transactions, when the source's list changed, and at the fence) and makes
 * the shard's the source's:
 *
 *  - indexes are matched by partition and definition, not by name (a
 *    partition created by PostgreSQL under an index of its parent names its
 *    index itself, and may name it differently on a shard);
 *  - one on the source alone is created with the source's name — unless it
 *    is a partition of an index of the parent that the shard lacks: the
 *    cutover's schema check creates that one on the shard's table, which
 *    builds or attaches the partitions' indexes itself;
 *  - one attached to a parent index on the source and not on the shard is
 *    attached there (ALTER INDEX ... ATTACH PARTITION);
 *  - one on the shard alone, attached to nothing, is dropped;
 *  - indexes that back a constraint (a partition's share of its table's
 *    primary key or unique constraint) are the table's business: left out;
 *  - one not valid on the source (CREATE INDEX CONCURRENTLY under way, or
 *    failed) is not created elsewhere until it is.
 *
 * leaf_index_plan is the pure matching; the rest talks to the servers.
 */
#ifndef PGR_LEAF_INDEXES_H
#define PGR_LEAF_INDEXES_H

#include <stdbool.h>

#include "conn.h"
#include "shard_partitions.h"

typedef struct leaf_index {
	char	   *schema, *table;	/* the partition (the index's schema too) */
	char	   *name;			/* the index */
	char	   *def;			/* pg_get_indexdef after "ON " (names qualified) */
	bool		unique;
	char	   *parent;			/* the parent index it is attached to (quoted,
								 * qualified), or NULL */
	bool		constraint;		/* backs a constraint */
	bool		partitioned;	/* an index of a sub-partitioned partition */
	bool		valid;			/* not valid: being built CONCURRENTLY (or such a
								 * build failed): not created elsewhere until it is */
	double		rows;			/* the partition's estimated rows */
} leaf_index;

typedef struct leaf_index_list {
	int			n;
	leaf_index *v;
} leaf_index_list;

typedef enum {
	LEAF_INDEX_CREATE,			/* source index src, missing on the shard */
	LEAF_INDEX_ATTACH,			/* shard index shard to source index src's parent */
	LEAF_INDEX_DROP				/* shard index shard, not on the source */
} leaf_index_op;

typedef struct leaf_index_action {
	leaf_index_op op;
	int			src;			/* index into the source's list, or -1 */
	int			shard;			/* index into the shard's list, or -1 */
} leaf_index_action;

/*
 * What makes the shard's partition indexes (shard) the source's (src):
 * parent_there[i] says whether source index i's parent index exists on the
 * shard.  Writes at most 2 * src->n + shard->n actions into out (create
 * and attach of one index are two); returns how many.  *waiting: source
 * indexes left for their parent index to bring (not on the shard yet).  Pure.
 */
int			leaf_index_plan(const leaf_index_list *src, const leaf_index_list *shard,
							const bool *parent_there, leaf_index_action *out, int *waiting);

/* The indexes of the partitions in parts that exist on c (one query). */
bool		leaf_indexes_read(pgr_conn *c, const part_list *parts, leaf_index_list *out);
void		leaf_indexes_free(leaf_index_list *l);
/* A text that changes when the list does (names and definitions). */
char	   *leaf_indexes_signature(const leaf_index_list *l);

/*
 * Make shard s's partition indexes the source's (src, read at a point the
 * shard has applied).  Each statement runs on its own; one that fails is
 * reported with the statement to run, and the others still run.  False
 * when one failed; *waiting: some wait for the shard to get their parent
 * index (the cutover's schema check makes it): to be compared again.
 */
bool		leaf_indexes_follow(pgr_conn *c, int s, const leaf_index_list *src, const part_list *parts,
								bool *waiting);

#endif
