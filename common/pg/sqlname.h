/*
 * sqlname.h — SQL identifiers as users write them in plan files and on the
 * command line.
 *
 * A table is written "schema.table" as SQL writes it: unquoted parts are
 * folded to lower case (ASCII letters only, as PostgreSQL does), quoted parts
 * ("Order Items", "a""b") are taken verbatim with doubled quotes undone, and
 * non-ASCII characters are allowed in both.  An unqualified name means the
 * "public" schema.  Names sent to a server are always quoted by libpq; the
 * helpers here only parse and display.
 */
#ifndef PGR_SQLNAME_H
#define PGR_SQLNAME_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Parse "schema.table" (or "table").  On success *schema and *rel are
 * malloc'd; on failure returns false with a message in err, nothing
 * allocated.
 */
bool sqlname_parse_qualified(const char *s, char **schema, char **rel,
							 char *err, size_t errlen);

/* Parse one identifier (a column name): same folding and quoting rules. */
bool sqlname_parse_ident(const char *s, char **ident, char *err, size_t errlen);

/*
 * Display form of an identifier: bare when it is a plain lower-case name
 * that needs no quotes, else double-quoted with quotes doubled (like
 * quote_ident; keywords are not detected).  Returns malloc'd text.
 */
char *sqlname_quote(const char *ident);

/* Display form of schema.rel, each part as sqlname_quote.  malloc'd. */
char *sqlname_quote_qualified(const char *schema, const char *rel);

#endif
