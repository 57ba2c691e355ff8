/*
 * hash.c - SHA-256, constant-time comparison and randomness, from libsodium.
 */
#include <sodium.h>
#include <stdlib.h>

#include "core.h"

static void ensure_sodium(void)
{
    if (sodium_init() < 0) {
        dw_log(DW_LOG_ERROR, "core", "libsodium failed to initialise");
        abort();
    }
}

void dw_sha256_hex(const void *data, size_t n, char out[65])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    ensure_sodium();
    crypto_hash_sha256(digest, data, n);
    sodium_bin2hex(out, 65, digest, sizeof digest);
}

bool dw_ct_equal(const void *a, const void *b, size_t n)
{
    return sodium_memcmp(a, b, n) == 0;
}

void dw_random_bytes(void *buf, size_t n)
{
    ensure_sodium();
    randombytes_buf(buf, n);
}
