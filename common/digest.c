/*
 * digest.c — SHA-256 as hex, of memory or of a file.  See digest.h.
 */
#include <errno.h>
#include <stdio.h>
#include <openssl/evp.h>

#include "digest.h"

static void
to_hex(const unsigned char *md, unsigned int n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (unsigned int i = 0; i < n; i++)
	{
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[2 * n] = '\0';
}

void
sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	to_hex(md, n, out);
}

bool
sha256_file_hex(const char *path, char out[SHA256_HEX_LEN + 1])
{
	FILE	   *f = fopen(path, "rb");
	EVP_MD_CTX *ctx;
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	size_t		got;
	bool		ok;

	if (f == NULL)
		return false;
	ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
		EVP_DigestUpdate(ctx, buf, got);
	ok = !ferror(f);
	if (!ok && errno == 0)
		errno = EIO;
	fclose(f);
	EVP_DigestFinal_ex(ctx, md, &n);
	EVP_MD_CTX_free(ctx);
	to_hex(md, n, out);
	return ok;
}
