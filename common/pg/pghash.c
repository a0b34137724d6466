/*
 * pghash.c — PostgreSQL-compatible hash partitioning (see pghash.h).
 *
 * A row's shard must be exactly the REMAINDER of the partition PostgreSQL 15
 * would put it in for PARTITION BY HASH with MODULUS nshards, so this file
 * reproduces, bit for bit:
 *
 *   - hash_bytes_extended / hash_bytes_uint32_extended (Bob Jenkins' lookup3
 *     as PostgreSQL's src/common/hashfn.c has it: the length is folded into
 *     the initial state only, and a non-zero seed is mixed in first);
 *   - the per-type extended hash support functions of the default hash
 *     operator classes: hashint2/4/8extended (all agree for equal values),
 *     hashtextextended (deterministic collation: the bytes), the bpchar one
 *     (trailing blanks do not count) and uuid_hash_extended (16 bytes);
 *   - compute_partition_hash_value: seed HASH_PARTITION_SEED, NULL columns
 *     skipped, hash_combine64 folding from 0, then row_hash % modulus.
 *
 * PostgreSQL reads the key bytes in host order; every server we can meet is
 * little-endian, so we assemble words little-endian whatever our own host
 * is.  Values arrive in text output form and are parsed here without any
 * allocation (this runs once per row in the copy and the stream), with the
 * same acceptance rules as PostgreSQL's input functions: int2in/int4in/int8in
 * (whitespace around, optional sign, decimal digits, range checked) and
 * uuid_in (optional braces, optional hyphen after any group of four digits).
 */
#include <stdio.h>

#include "pghash.h"

/* ---- lookup3, as in PostgreSQL's hashfn.c ---------------------------- */

#define ROT32(x, k) (((x) << (k)) | ((x) >> (32 - (k))))

#define LOOKUP3_MIX(a, b, c) \
	do { \
		a -= c; a ^= ROT32(c, 4); c += b; \
		b -= a; b ^= ROT32(a, 6); a += c; \
		c -= b; c ^= ROT32(b, 8); b += a; \
		a -= c; a ^= ROT32(c, 16); c += b; \
		b -= a; b ^= ROT32(a, 19); a += c; \
		c -= b; c ^= ROT32(b, 4); b += a; \
	} while (0)

#define LOOKUP3_FINAL(a, b, c) \
	do { \
		c ^= b; c -= ROT32(b, 14); \
		a ^= c; a -= ROT32(c, 11); \
		b ^= a; b -= ROT32(a, 25); \
		c ^= b; c -= ROT32(b, 16); \
		a ^= c; a -= ROT32(c, 4); \
		b ^= a; b -= ROT32(a, 14); \
		c ^= b; c -= ROT32(b, 24); \
	} while (0)

#define LOOKUP3_INIT UINT32_C(0x9e3779b9)
#define LOOKUP3_LEN_SALT UINT32_C(3923095)

/* A little-endian word of n (< 4 or == 4) bytes, missing high bytes zero. */
static inline uint32_t
load_le(const unsigned char *p, size_t n)
{
	uint32_t w = 0;

	switch (n)
	{
		case 4: w |= (uint32_t) p[3] << 24;	/* fall through */
		case 3: w |= (uint32_t) p[2] << 16;	/* fall through */
		case 2: w |= (uint32_t) p[1] << 8;	/* fall through */
		case 1: w |= (uint32_t) p[0];		/* fall through */
		default: break;
	}
	return w;
}

static inline void
lookup3_seed(uint32_t *a, uint32_t *b, uint32_t *c, uint64_t seed)
{
	if (seed != 0)
	{
		*a += (uint32_t) (seed >> 32);
		*b += (uint32_t) seed;
		LOOKUP3_MIX(*a, *b, *c);
	}
}

uint64_t
pg_hash_bytes_extended(const unsigned char *k, size_t len, uint64_t seed)
{
	/* PostgreSQL takes the length as an int; key values are far below 2^31. */
	uint32_t a, b, c;
	size_t rest = len;

	a = b = c = LOOKUP3_INIT + (uint32_t) len + LOOKUP3_LEN_SALT;
	lookup3_seed(&a, &b, &c, seed);

	while (rest >= 12)
	{
		a += load_le(k, 4);
		b += load_le(k + 4, 4);
		c += load_le(k + 8, 4);
		LOOKUP3_MIX(a, b, c);
		k += 12;
		rest -= 12;
	}
	/* The last 0..11 bytes; c's lowest byte stays free, as in lookup3. */
	if (rest > 8)
		c += load_le(k + 8, rest - 8) << 8;
	if (rest > 4)
		b += load_le(k + 4, rest >= 8 ? 4 : rest - 4);
	if (rest > 0)
		a += load_le(k, rest >= 4 ? 4 : rest);

	LOOKUP3_FINAL(a, b, c);
	return ((uint64_t) b << 32) | c;
}

uint64_t
pg_hash_uint32_extended(uint32_t k, uint64_t seed)
{
	uint32_t a, b, c;

	a = b = c = LOOKUP3_INIT + (uint32_t) sizeof(uint32_t) + LOOKUP3_LEN_SALT;
	lookup3_seed(&a, &b, &c, seed);
	a += k;
	LOOKUP3_FINAL(a, b, c);
	return ((uint64_t) b << 32) | c;
}

uint64_t
pg_hash_combine64(uint64_t a, uint64_t b)
{
	a ^= b + UINT64_C(0x49a0f4dd15e5a8e3) + (a << 54) + (a >> 7);
	return a;
}

/* ---- per-type extended hashes ---------------------------------------- */

/* hashint8extended: fold the high half in so that int8 agrees with int4. */
uint64_t
pg_hash_int8(int64_t v, uint64_t seed)
{
	uint32_t lohalf = (uint32_t) (uint64_t) v;
	uint32_t hihalf = (uint32_t) ((uint64_t) v >> 32);

	lohalf ^= (v >= 0) ? hihalf : ~hihalf;
	return pg_hash_uint32_extended(lohalf, seed);
}

/* hashint4extended (and hashint2extended, after widening to int32). */
uint64_t
pg_hash_int4(int32_t v, uint64_t seed)
{
	return pg_hash_uint32_extended((uint32_t) v, seed);
}

/* The bpchar hash: bcTruelen drops trailing ' ' before hashing. */
static uint64_t
hash_bpchar(const char *val, size_t len, uint64_t seed)
{
	while (len > 0 && val[len - 1] == ' ')
		len--;
	return pg_hash_bytes_extended((const unsigned char *) val, len, seed);
}

/* ---- parsing text output forms --------------------------------------- */

/*
 * Write PostgreSQL's message for a bad value into err (which may be NULL or
 * empty), showing at most 64 bytes of the value.
 */
static void
set_value_err(char *err, size_t errlen, bool out_of_range, const char *tname,
			  const char *val, size_t len)
{
	int shown = (int) (len > 64 ? 64 : len);
	const char *more = len > 64 ? "..." : "";

	if (err == NULL || errlen == 0)
		return;
	if (out_of_range)
		snprintf(err, errlen, "value \"%.*s%s\" is out of range for type %s",
				 shown, val, more, tname);
	else
		snprintf(err, errlen, "invalid input syntax for type %s: \"%.*s%s\"",
				 tname, shown, val, more);
}

/* isspace() in the C locale, which is what PostgreSQL's int input uses. */
static inline bool
is_c_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
		ch == '\v' || ch == '\f';
}

typedef enum int_parse_result { INT_OK, INT_SYNTAX, INT_RANGE } int_parse_result;

/*
 * Parse [spaces][+|-]digits[spaces] into *out, within [-max - 1, max].  The
 * magnitude is accumulated unsigned so that the most negative value parses
 * without overflowing.
 */
static int_parse_result
parse_int(const char *s, size_t len, int64_t max, int64_t *out)
{
	size_t i = 0;
	bool neg = false;
	uint64_t mag = 0, limit, limit_div10;
	unsigned limit_mod10;
	bool range_err = false;
	size_t ndigits = 0;

	while (i < len && is_c_space(s[i]))
		i++;
	if (i < len && (s[i] == '-' || s[i] == '+'))
		neg = (s[i++] == '-');
	limit = (uint64_t) max + neg;
	limit_div10 = limit / 10;
	limit_mod10 = (unsigned) (limit % 10);
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, ndigits++)
	{
		unsigned d = (unsigned) (s[i] - '0');

		if (mag > limit_div10 || (mag == limit_div10 && d > limit_mod10))
			range_err = true;
		else
			mag = mag * 10 + d;
	}
	while (i < len && is_c_space(s[i]))
		i++;
	if (ndigits == 0 || i != len)
		return INT_SYNTAX;
	if (range_err)
		return INT_RANGE;
	/* -mag via unsigned arithmetic: exact for mag == 2^63 too. */
	*out = neg ? (int64_t) (0 - mag) : (int64_t) mag;
	return INT_OK;
}

/* Hex digit values plus one (0: not a hex digit), indexed by byte. */
static const unsigned char hex_plus1[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5,
	['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
	['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
	['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

static inline int
hex_value(char ch)
{
	return (int) hex_plus1[(unsigned char) ch] - 1;
}

/*
 * uuid_in's rules: an optional '{' ... '}', 32 hex digits, and a '-'
 * allowed after every 4th digit but the last; nothing else, no blanks.
 */
static bool
parse_uuid(const char *s, size_t len, unsigned char out[16])
{
	size_t i = 0;
	bool braces = false;

	if (len > 0 && s[0] == '{')
	{
		braces = true;
		i++;
	}
	for (int byte = 0; byte < 16; byte++)
	{
		int hi, lo;

		if (len - i < 2 || (hi = hex_value(s[i])) < 0 ||
			(lo = hex_value(s[i + 1])) < 0)
			return false;
		out[byte] = (unsigned char) (hi << 4 | lo);
		i += 2;
		if (i < len && s[i] == '-' && byte % 2 == 1 && byte < 15)
			i++;
	}
	if (braces)
	{
		if (i >= len || s[i] != '}')
			return false;
		i++;
	}
	return i == len;
}

/* Parse an integer key of type t and hash it; false with err on bad input. */
static bool
hash_int_text(key_type t, const char *val, size_t len, uint64_t *hash,
			  char *err, size_t errlen)
{
	int64_t v = 0, max;
	int_parse_result r;

	max = t == KEY_INT2 ? INT16_MAX : t == KEY_INT4 ? INT32_MAX : INT64_MAX;
	r = parse_int(val, len, max, &v);
	if (r != INT_OK)
	{
		set_value_err(err, errlen, r == INT_RANGE, key_type_name(t), val, len);
		return false;
	}
	/* int2/int4 hash the int32; int8 folds, giving the same for those. */
	*hash = t == KEY_INT8 ? pg_hash_int8(v, PG_HASH_PARTITION_SEED)
		: pg_hash_int4((int32_t) v, PG_HASH_PARTITION_SEED);
	return true;
}

bool
pg_hash_key_text(key_type t, const char *val, size_t len, uint64_t *hash,
				 char *err, size_t errlen)
{
	unsigned char uuid[16];

	switch (t)
	{
		case KEY_INT2:
		case KEY_INT4:
		case KEY_INT8:
			return hash_int_text(t, val, len, hash, err, errlen);
		case KEY_TEXT:
			*hash = pg_hash_bytes_extended((const unsigned char *) val, len,
										   PG_HASH_PARTITION_SEED);
			return true;
		case KEY_BPCHAR:
			*hash = hash_bpchar(val, len, PG_HASH_PARTITION_SEED);
			return true;
		case KEY_UUID:
			if (!parse_uuid(val, len, uuid))
			{
				set_value_err(err, errlen, false, "uuid", val, len);
				return false;
			}
			*hash = pg_hash_bytes_extended(uuid, sizeof uuid,
										   PG_HASH_PARTITION_SEED);
			return true;
		case KEY_UNSUPPORTED:
			break;
	}
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "key type is not supported for hashing");
	return false;
}

/* Big-endian integer of n bytes (COPY BINARY, the types' send functions). */
static uint64_t
load_be(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

bool
pg_hash_key_binary(key_type t, const unsigned char *val, size_t len, uint64_t *hash,
				   char *err, size_t errlen)
{
	size_t want = t == KEY_INT2 ? 2 : t == KEY_INT4 ? 4 : t == KEY_INT8 ? 8 : t == KEY_UUID ? 16 : 0;

	if (want != 0 && len != want)
	{
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "binary %s value of %zu bytes (expected %zu)", key_type_name(t), len, want);
		return false;
	}
	switch (t)
	{
		case KEY_INT2:
			*hash = pg_hash_int4((int32_t) (int16_t) (uint16_t) load_be(val, 2), PG_HASH_PARTITION_SEED);
			return true;
		case KEY_INT4:
			*hash = pg_hash_int4((int32_t) (uint32_t) load_be(val, 4), PG_HASH_PARTITION_SEED);
			return true;
		case KEY_INT8:
			*hash = pg_hash_int8((int64_t) load_be(val, 8), PG_HASH_PARTITION_SEED);
			return true;
		case KEY_TEXT:
		case KEY_UUID:
			/* text: the bytes (no terminator); uuid: its 16 bytes */
			*hash = pg_hash_bytes_extended(val, len, PG_HASH_PARTITION_SEED);
			return true;
		case KEY_BPCHAR:
			*hash = hash_bpchar((const char *) val, len, PG_HASH_PARTITION_SEED);
			return true;
		case KEY_UNSUPPORTED:
			break;
	}
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "key type is not supported for hashing");
	return false;
}

static bool
shard_of(const key_type *types, const key_value *vals, int ncols, bool binary,
		 uint32_t nshards, uint32_t *shard, char *err, size_t errlen)
{
	uint64_t row_hash = 0;

	if (nshards == 0 || ncols <= 0)
	{
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, nshards == 0 ? "number of shards is 0"
					 : "no key columns");
		return false;
	}
	for (int i = 0; i < ncols; i++)
	{
		uint64_t col_hash;

		if (vals[i].isnull)
			continue;
		if (!(binary ? pg_hash_key_binary(types[i], (const unsigned char *) vals[i].text, vals[i].len,
										  &col_hash, err, errlen)
			  : pg_hash_key_text(types[i], vals[i].text, vals[i].len, &col_hash, err, errlen)))
			return false;
		row_hash = pg_hash_combine64(row_hash, col_hash);
	}
	*shard = (uint32_t) (row_hash % nshards);
	return true;
}

bool
shard_of_values(const key_type *types, const key_value *vals, int ncols,
				uint32_t nshards, uint32_t *shard, char *err, size_t errlen)
{
	return shard_of(types, vals, ncols, false, nshards, shard, err, errlen);
}

bool
shard_of_binary_values(const key_type *types, const key_value *vals, int ncols,
					   uint32_t nshards, uint32_t *shard, char *err, size_t errlen)
{
	return shard_of(types, vals, ncols, true, nshards, shard, err, errlen);
}

/* ---- type names ------------------------------------------------------ */

key_type
key_type_from_oid(unsigned int type_oid)
{
	switch (type_oid)
	{
		case 21: return KEY_INT2;
		case 23: return KEY_INT4;
		case 20: return KEY_INT8;
		case 25: return KEY_TEXT;
		case 1043: return KEY_TEXT;		/* varchar */
		case 1042: return KEY_BPCHAR;
		case 2950: return KEY_UUID;
		default: return KEY_UNSUPPORTED;
	}
}

const char *
key_type_name(key_type t)
{
	switch (t)
	{
		case KEY_INT2: return "smallint";
		case KEY_INT4: return "integer";
		case KEY_INT8: return "bigint";
		case KEY_TEXT: return "text";
		case KEY_BPCHAR: return "character";
		case KEY_UUID: return "uuid";
		case KEY_UNSUPPORTED: break;
	}
	return "unsupported";
}

/* SQL names and aliases; `typmod` says whether "(n)" may follow. */
static const struct
{
	const char *name;
	key_type type;
	bool typmod;
} type_names[] = {
	{"smallint", KEY_INT2, false}, {"int2", KEY_INT2, false},
	{"integer", KEY_INT4, false}, {"int", KEY_INT4, false},
	{"int4", KEY_INT4, false},
	{"bigint", KEY_INT8, false}, {"int8", KEY_INT8, false},
	{"text", KEY_TEXT, false},
	{"varchar", KEY_TEXT, true}, {"character varying", KEY_TEXT, true},
	{"char", KEY_BPCHAR, true}, {"character", KEY_BPCHAR, true},
	{"bpchar", KEY_BPCHAR, true},
	{"uuid", KEY_UUID, false},
};

static inline char
ascii_lower(char ch)
{
	return (ch >= 'A' && ch <= 'Z') ? (char) (ch - 'A' + 'a') : ch;
}

/*
 * Does s start with the type name `name`, case-insensitively, where a blank
 * in `name` matches one or more blanks in s?  Returns the length matched in
 * s, or 0.
 */
static size_t
match_type_word(const char *s, const char *name)
{
	size_t i = 0;

	for (; *name; name++)
	{
		if (*name == ' ')
		{
			if (!is_c_space(s[i]))
				return 0;
			while (is_c_space(s[i]))
				i++;
		}
		else if (ascii_lower(s[i++]) != *name)
			return 0;
	}
	return i;
}

/* Accept what may follow a type name: nothing, or "(digits)", blanks around. */
static bool
rest_is_typmod(const char *s, bool typmod_allowed)
{
	while (is_c_space(*s))
		s++;
	if (*s == '(' && typmod_allowed)
	{
		const char *digits;

		for (s++; is_c_space(*s); s++)
			;
		for (digits = s; *s >= '0' && *s <= '9'; s++)
			;
		if (s == digits)
			return false;
		while (is_c_space(*s))
			s++;
		if (*s++ != ')')
			return false;
		while (is_c_space(*s))
			s++;
	}
	return *s == '\0';
}

key_type
key_type_from_name(const char *name)
{
	if (name == NULL)
		return KEY_UNSUPPORTED;
	while (is_c_space(*name))
		name++;
	name += match_type_word(name, "pg_catalog.");
	/* A name that is only a prefix of the text ("char" in "character
	 * varying(20)") fails the check of what follows, so order is free. */
	for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
	{
		size_t n = match_type_word(name, type_names[i].name);

		if (n > 0 && rest_is_typmod(name + n, type_names[i].typmod))
			return type_names[i].type;
	}
	return KEY_UNSUPPORTED;
}
