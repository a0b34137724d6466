/*
 * follow_columns.h — what the two ways of following a table's columns share
 * (runner/follow: stream_ddl.c forward, stream_ddl_back.c on the way back
 * after the cutover): a table's columns as names and types, read from a
 * Relation message or from a downstream server, and the stream's view of a
 * table rebuilt from them.
 */
#ifndef PGR_FOLLOW_COLUMNS_H
#define PGR_FOLLOW_COLUMNS_H

#include "stream.h"

/* A table's columns: names and types (format_type), in attnum order. */
typedef struct colset {
	int			n;
	char	  **names;
	char	  **types;
} colset;

void follow_colset_free(colset *c);
/* The index of name among names[n], or -1. */
int follow_name_in(char *const *names, int n, const char *name);
/* The message's columns, with their types written by the upstream server src. */
bool follow_message_columns(pgr_conn *src, const pgo_msg *m, colset *out);
/* Downstream server s's columns of t, read in its open apply transaction. */
bool follow_down_columns(stream_reader *r, int s, const stream_table *t, colset *out);
/* The statements that add column `name` (quoted qc, of type) as the upstream
 * src has it: its missing value for the rows that exist, then its default;
 * *fill: the upstream's existing rows got values of their own (a volatile
 * default or an identity), which the WAL does not carry. */
bool follow_add_column(pgr_conn *src, const stream_table *t, const char *name, const char *qc,
					   const char *type, char ***stmts, int *n, bool *fill);
/* The stream's view of t already is / is made exactly these columns. */
bool follow_same_as_table(const stream_table *t, const colset *want);
void follow_rebuild_table(stream_reader *r, stream_table *t, const colset *want);

/* stream_ddl_back.c: the reverse stream's rules (stream_follow_columns
 * hands a reverse reader's Relation messages over) */
bool stream_follow_columns_back(stream_reader *r, stream_table *t, const pgo_msg *m);

#endif
