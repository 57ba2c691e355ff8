/*
 * hash.c - SHA-256, constant-time comparison and randomness, from libsodium.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

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

void dw_hmac_sha256(const void *key, size_t klen, const void *msg, size_t n, uint8_t out[32])
{
    crypto_auth_hmacsha256_state st;
    ensure_sodium();
    crypto_auth_hmacsha256_init(&st, key, klen);
    crypto_auth_hmacsha256_update(&st, msg, n);
    crypto_auth_hmacsha256_final(&st, out);
}

/* RFC 2104 over SHA-1, for protocols that fix it (Twilio's request signature). */
void dw_hmac_sha1(const void *key, size_t klen, const void *msg, size_t n, uint8_t out[20])
{
    uint8_t k[64] = {0}, pad[64], inner[DW_SHA1_LEN];
    if (klen > sizeof k)
        dw_sha1(key, klen, k);
    else if (klen)
        memcpy(k, key, klen);
    struct dw_sha1 s;
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = k[i] ^ 0x36;
    dw_sha1_init(&s);
    dw_sha1_update(&s, pad, sizeof pad);
    dw_sha1_update(&s, msg, n);
    dw_sha1_final(&s, inner);
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = k[i] ^ 0x5c;
    dw_sha1_init(&s);
    dw_sha1_update(&s, pad, sizeof pad);
    dw_sha1_update(&s, inner, sizeof inner);
    dw_sha1_final(&s, out);
}

char *dw_base64(const void *data, size_t n, bool url)
{
    int variant = url ? sodium_base64_VARIANT_URLSAFE_NO_PADDING : sodium_base64_VARIANT_ORIGINAL;
    size_t cap = sodium_base64_ENCODED_LEN(n, variant);
    char *out = dw_malloc(cap);
    ensure_sodium();
    sodium_bin2base64(out, cap, data, n, variant);
    return out;
}

ssize_t dw_base64_decode(const char *s, bool url, void *out, size_t cap)
{
    int variant = url ? sodium_base64_VARIANT_URLSAFE_NO_PADDING : sodium_base64_VARIANT_ORIGINAL;
    size_t len = 0;
    ensure_sodium();
    if (sodium_base642bin(out, cap, s, strlen(s), NULL, &len, NULL, variant) != 0)
        return -1;
    return (ssize_t)len;
}
