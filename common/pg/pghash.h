/*
 * pghash.h — the routing function: PostgreSQL-compatible hash partitioning.
 *
 * pgreshard places a row on shard  row_hash % nshards  where row_hash is
 * computed exactly as PostgreSQL computes it for a table
 * PARTITION BY HASH (key columns) with MODULUS nshards: for each non-NULL key
 * column, the type's extended hash support function is called with the seed
 * HASH_PARTITION_SEED, and the results are folded with hash_combine64
 * starting from 0; NULL columns are skipped.  So every placement can be
 * checked on a server with satisfies_hash_partition(), and a partitioned
 * parent or another PostgreSQL-compatible router agrees with us.
 *
 * Copy, stream, verify and `shard-of` all route through shard_of_values();
 * nothing else decides where a row goes (DESIGN.md invariant 5).
 */
#ifndef PGR_PGHASH_H
#define PGR_PGHASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PG_HASH_PARTITION_SEED UINT64_C(0x7A5B22367996DCFD)

/* Key column types the built-in function can hash. */
typedef enum key_type {
	KEY_UNSUPPORTED = 0,
	KEY_INT2,		/* smallint */
	KEY_INT4,		/* integer */
	KEY_INT8,		/* bigint */
	KEY_TEXT,		/* text, varchar, name-less character varying */
	KEY_BPCHAR,		/* character(n): trailing blanks do not count */
	KEY_UUID
} key_type;

/* Type from a pg_type OID (base type: domains must be resolved first). */
key_type key_type_from_oid(unsigned int type_oid);
/* Type from a SQL type name: "bigint", "int8", "integer", "text", "uuid"... */
key_type key_type_from_name(const char *name);
/* The canonical SQL name ("bigint", "text", ...). */
const char *key_type_name(key_type t);

/* The primitives, as in PostgreSQL's src/common/hashfn.c (lookup3). */
uint64_t pg_hash_bytes_extended(const unsigned char *k, size_t len, uint64_t seed);
uint64_t pg_hash_uint32_extended(uint32_t k, uint64_t seed);
uint64_t pg_hash_combine64(uint64_t a, uint64_t b);

/* Per-type extended hashes (hashint8extended, hashtextextended, ...). */
uint64_t pg_hash_int8(int64_t v, uint64_t seed);
uint64_t pg_hash_int4(int32_t v, uint64_t seed);

/*
 * Hash one key value given in PostgreSQL's text output form (what COPY TEXT,
 * pgoutput text columns and `shard-of` arguments carry) with the partition
 * seed.  Returns false and writes a message to err when the text is not a
 * valid value of the type (e.g. "12x" for bigint, out of range for smallint,
 * a malformed uuid).
 */
bool pg_hash_key_text(key_type t, const char *val, size_t len, uint64_t *hash,
					  char *err, size_t errlen);

/*
 * The same for a value in the type's binary form (its send function, what
 * COPY BINARY carries): big-endian integers, a uuid's 16 bytes, a string's
 * bytes.  False with err when the length does not fit the type.
 */
bool pg_hash_key_binary(key_type t, const unsigned char *val, size_t len, uint64_t *hash,
						char *err, size_t errlen);

/* One key column's value in text (or binary) form; isnull for SQL NULL. */
typedef struct key_value {
	const char *text;
	size_t len;
	bool isnull;
} key_value;

/*
 * The shard of a row whose key columns (types[i], vals[i]), i < ncols, are
 * given in text form, for nshards shards.  False with err filled when a
 * value does not parse as its type.
 */
bool shard_of_values(const key_type *types, const key_value *vals, int ncols,
					 uint32_t nshards, uint32_t *shard, char *err, size_t errlen);
/* The same with the values in binary form (pg_hash_key_binary). */
bool shard_of_binary_values(const key_type *types, const key_value *vals, int ncols,
							uint32_t nshards, uint32_t *shard, char *err, size_t errlen);

#endif
