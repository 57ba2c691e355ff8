/*
 * sha1.c - SHA-1 (FIPS 180-4) for the WebSocket handshake.
 *
 * DESIGN
 * RFC 6455 derives Sec-WebSocket-Accept from SHA-1, and libsodium (our crypto
 * library) has no SHA-1, so this is a small portable version: big-endian
 * words, an 80-word schedule per 64-byte block, no tables. Speed does not
 * matter (one 60-byte hash per probe). Pure functions, any thread.
 */
#include <string.h>

#include "core/core.h"

static uint32_t rol(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

static uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* f and K of rounds t..t+19 (FIPS 180-4 section 4.1.1 and 4.2.1). */
static uint32_t round_f(unsigned t, uint32_t b, uint32_t c, uint32_t d, uint32_t *k)
{
    if (t < 20) {
        *k = 0x5A827999;
        return (b & c) | (~b & d);
    }
    if (t < 40) {
        *k = 0x6ED9EBA1;
        return b ^ c ^ d;
    }
    if (t < 60) {
        *k = 0x8F1BBCDC;
        return (b & c) | (b & d) | (c & d);
    }
    *k = 0xCA62C1D6;
    return b ^ c ^ d;
}

static void compress(uint32_t h[5], const uint8_t block[64])
{
    uint32_t w[80];
    for (unsigned t = 0; t < 16; t++)
        w[t] = load_be32(block + 4 * t);
    for (unsigned t = 16; t < 80; t++)
        w[t] = rol(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (unsigned t = 0; t < 80; t++) {
        uint32_t k;
        uint32_t f = round_f(t, b, c, d, &k);
        uint32_t tmp = rol(a, 5) + f + e + k + w[t];
        e = d;
        d = c;
        c = rol(b, 30);
        b = a;
        a = tmp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void dw_sha1_init(struct dw_sha1 *s)
{
    static const uint32_t iv[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    memcpy(s->h, iv, sizeof iv);
    s->nbytes = 0;
    s->fill = 0;
}

void dw_sha1_update(struct dw_sha1 *s, const void *data, size_t n)
{
    const uint8_t *p = data;
    s->nbytes += n;
    while (n > 0) {
        size_t take = sizeof s->block - s->fill;
        if (take > n)
            take = n;
        memcpy(s->block + s->fill, p, take);
        s->fill += take;
        p += take;
        n -= take;
        if (s->fill == sizeof s->block) {
            compress(s->h, s->block);
            s->fill = 0;
        }
    }
}

void dw_sha1_final(struct dw_sha1 *s, uint8_t out[DW_SHA1_LEN])
{
    uint64_t bits = s->nbytes * 8;
    uint8_t pad[72] = {0x80};
    /* 0x80, zeros up to 56 mod 64, then the 64-bit length. */
    size_t npad = (s->fill < 56 ? 56 : 120) - s->fill;
    for (unsigned i = 0; i < 8; i++)
        pad[npad + i] = (uint8_t)(bits >> (56 - 8 * i));
    dw_sha1_update(s, pad, npad + 8);
    for (unsigned i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

void dw_sha1(const void *data, size_t n, uint8_t out[DW_SHA1_LEN])
{
    struct dw_sha1 s;
    dw_sha1_init(&s);
    dw_sha1_update(&s, data, n);
    dw_sha1_final(&s, out);
}
