/*
 * chunk_key.h — the pure pieces of key-range chunks, shared by the copy
 * (which writes and reads the chunk plan) and the stream (which must know
 * whether a change's row lies in a chunk copied under a newer snapshot,
 * DESIGN.md invariant 4).
 *
 * A chunk of a keyed table is a range of its chunk key (primary key, else a
 * unique NOT NULL key), bounds kept in pgreshard.chunk_plan as text[] of the
 * key columns' text forms, compared by the server in the columns' own types
 * and collations.  The client compares a row's key with a bound itself only
 * where that is exactly the server's order: integers, uuids (their text is
 * fixed-width lowercase hex, so byte order is uuid order), and text or
 * varchar under the C (or POSIX) collation -- which the chunk plan also
 * records for a C.UTF-8 collation the source was found to order as bytes
 * (copy_chunks.c, orders_as_bytes).  Anything else is "server":
 * the stream asks the source (chunk_member.c in runner/stream).
 */
#ifndef PGR_CHUNK_KEY_H
#define PGR_CHUNK_KEY_H

#include <stdbool.h>
#include <stddef.h>

#include "strbuf.h"

typedef enum keycmp_kind {
	KEYCMP_SERVER = 0,			/* only the server can compare */
	KEYCMP_INT,					/* smallint, integer, bigint: as numbers */
	KEYCMP_BYTES				/* uuid; text/varchar under C: as bytes, shorter first */
} keycmp_kind;

/*
 * How the client may compare values of a column of type `type` (as
 * format_type prints it) under collation `coll` (SQL-quoted
 * "schema"."name", or NULL when the type has none).
 */
keycmp_kind keycmp_of(const char *type, const char *coll);

/* Compare two values' text forms (a: alen bytes; b: NUL-terminated) in the
 * order of kind (not KEYCMP_SERVER): <0, 0, >0.  An integer that does not
 * parse compares as its text. */
int			keycmp_value(keycmp_kind kind, const char *a, size_t alen, const char *b);

/* Compare two byte strings as PostgreSQL compares uuids and strings under
 * C: memcmp over the shorter length, then the shorter first. */
int			keycmp_bytes(const char *a, size_t alen, const char *b, size_t blen);

/* Compare key row a (n values, alen[i] bytes each) with bound row b
 * lexicographically, as PostgreSQL's row comparison does. */
int			keycmp_row(const keycmp_kind *kinds, int n, const char *const *a, const size_t *alen,
					   char *const *b);

/* Is every kind client-comparable? */
bool		keycmp_client(const keycmp_kind *kinds, int n);

/*
 * PostgreSQL array literals of text, for text[] parameters and results:
 * encode n values (NULL elements allowed) as {"a","b",NULL}; decode a
 * one-dimensional literal into *vals (xalloc'd, each element too; NULL
 * elements are NULL), *n elements.  Decode fails on a malformed literal.
 */
void		pgarray_encode(strbuf *out, char *const *vals, int n);
bool		pgarray_decode(const char *lit, char ***vals, int *n);
void		pgarray_free(char **vals, int n);

#endif
