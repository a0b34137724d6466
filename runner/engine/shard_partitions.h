/*
 * shard_partitions.h — the partitions of the moved partitioned tables, as
 * the source has them, and creating on a shard the ones it lacks.
 *
 * Shared by the copy (partitions that existed at the copy's snapshot are
 * created before any of their rows is copied), the stream (a partition made
 * on the source during the move is created when the stream meets it) and
 * the cutover's drain (partitions still missing at the fence).  Why each of
 * those moments and no earlier: see shard_partitions.c.
 */
#ifndef PGR_SHARD_PARTITIONS_H
#define PGR_SHARD_PARTITIONS_H

#include <stdbool.h>

#include "conn.h"
#include "plan.h"

/* One partition (any level) of a moved partitioned table. */
typedef struct part_def {
	char	   *schema, *name;	/* the partition */
	char	   *parent_schema, *parent_name;
	char	   *bound;			/* FOR VALUES ... or DEFAULT */
	char	   *partkey;		/* sub-partitioned: its PARTITION BY, else NULL */
	char	   *constraint;		/* its partition constraint (SQL over column names), or NULL */
	char	   *dflt_schema, *dflt_name;	/* its parent's DEFAULT partition (not itself), or NULL */
	int			table;			/* the plan table it belongs to (its root) */
	bool		leaf;			/* holds rows (not partitioned itself) */
} part_def;

typedef struct part_list {
	int			n;
	part_def   *v;				/* parents before their partitions */
} part_list;

/*
 * Read the partitions of the plan's partitioned tables over src, in src's
 * current transaction: under an imported snapshot, as they were at that
 * snapshot (partitions dropped since are left out).  False after reporting.
 */
bool partitions_read(pgr_conn *src, const plan *p, part_list *out);
void partitions_free(part_list *l);
/* The index of partition schema.name in l, or -1. */
int partitions_find(const part_list *l, const char *schema, const char *name);

/* CREATE TABLE ... PARTITION OF ... for d, quoted for q (malloc'd). */
char *partition_create_sql(pgr_conn *q, const part_def *d);
/*
 * The DELETE that clears d's rows out of its parent's DEFAULT partition
 * before d is created there (malloc'd), or NULL when there is nothing to
 * clear (no DEFAULT beside it, or d is the DEFAULT).
 */
char *partition_clear_default_sql(pgr_conn *q, const part_def *d);

/*
 * Create on shard c (number s, for messages) every partition of l that it
 * lacks (table >= 0: only that table's), parents first, in one transaction
 * of its own.  False after reporting.
 */
bool partitions_create_missing(pgr_conn *c, int s, const part_list *l, int table);

#endif
