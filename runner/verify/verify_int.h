/*
 * verify_int.h — verify's internals shared by verify.c (the per-table and
 * per-chunk comparison) and verify_run.c (the run: snapshot, units,
 * progress).  Not for other folders.
 */
#ifndef PGR_VERIFY_INT_H
#define PGR_VERIFY_INT_H

#include "hooks.h"
#include "verify.h"

typedef __int128 sum_t;

#define VERIFY_SESSION "SET default_transaction_read_only = off; SET work_mem = '64MB'"

typedef struct agg {
	long long	count;
	sum_t		sum;
} agg;

typedef struct table_sql {
	char	   *qname;
	const char *only;			/* "ONLY ", or "" for a partitioned table */
	char	   *hp_ddl;			/* temporary hash-partitioned parent, or NULL */
	char	   *shard_expr;		/* the shard a row belongs on */
	char	   *bucket_expr;
	char	   *ident_expr;		/* the row's key as text (primary key, else the row) */
	/* Lua routing: the shard is computed here from the columns the route reads */
	bool		lua;
	int			nroute;
	const char **route_names;	/* [nroute] */
	char	   *route_list;		/* "t.col::text, ..." */
} table_sql;

typedef struct vstate {
	apply_ctx  *ctx;
	int			nshards;
	pgr_conn  **src;			/* [nsources] */
	pgr_conn  **dst;			/* [nshards] */
	table_sql  *sql;			/* [ntables] */
	agg		   *src_agg;		/* [ntables][nshards][BUCKETS] */
	agg		   *dst_agg;		/* [ntables][nshards][BUCKETS]: rows the shard holds that belong there */
	long long  *misplaced;		/* [ntables][nshards][BUCKETS] */
	bool		exact;			/* sources read under snapshots, shards drained to them */
	hooks	   *hooks;			/* Lua routing, or NULL */
	/* the unit being compared: a chunk of the table, or all of it */
	const char *where;			/* the chunk's condition, or NULL */
	int			chunk, nchunks;
	int		   *unit_diffs;		/* [nshards] differences found in it */
} vstate;

#define AGG_AT(a, st, t, s, b) (&(a)[(((size_t) (t) * (st)->nshards) + (size_t) (s)) * VERIFY_BUCKETS + (size_t) (b)])

void verify_build_table_sql(vstate *v, int ti, table_sql *ts);
/* Connect every side; each session gets the temporary partitioned parents. */
bool verify_connect_all(vstate *v);
/* One scan of table ti (of v->where's rows) on every side, all at once. */
bool verify_aggregate_table(vstate *v, int ti);
/* Re-scan the tables that differ, after letting the shards catch up. */
bool verify_recheck(vstate *v, int rounds, bool (*between)(apply_ctx *ctx));
/* The counts of the unit just aggregated into cr, its differing keys into out. */
bool verify_compare_unit(vstate *v, int t, verify_table_result *cr, verify_result *out);
void verify_vstate_free(vstate *v);

#endif
