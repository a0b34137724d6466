/*
 * digest.h — SHA-256 for fingerprints (saved plans): of the plan file, of the
 * hook file, of a saved plan's content.  OpenSSL's libcrypto does the work
 * (libpq-dev already depends on it).
 */
#ifndef PGR_DIGEST_H
#define PGR_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#define SHA256_HEX_LEN 64

/* The SHA-256 of data as 64 lower-case hex digits and a NUL (out: 65 bytes). */
void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1]);

/* The same of a whole file; false (with errno set) when it cannot be read. */
bool sha256_file_hex(const char *path, char out[SHA256_HEX_LEN + 1]);

#endif
