/*
 * sha1.h - SHA-1 (FIPS 180-4), only for the WebSocket handshake in ws.c,
 * where RFC 6455 fixes the hash. Not for anything that needs security.
 */
#ifndef DW_COLLECT_SHA1_H
#define DW_COLLECT_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define DW_SHA1_LEN 20

/** Streaming state; set up with dw_sha1_init, no heap memory. */
struct dw_sha1 {
    uint32_t h[5];
    uint64_t nbytes;   /* message length so far */
    uint8_t block[64]; /* the partial block */
    size_t fill;       /* bytes in block */
};

void dw_sha1_init(struct dw_sha1 *s);
void dw_sha1_update(struct dw_sha1 *s, const void *data, size_t n);
/** Writes the digest; s must be initialised again before reuse. */
void dw_sha1_final(struct dw_sha1 *s, uint8_t out[DW_SHA1_LEN]);
/** One-shot digest of data. */
void dw_sha1(const void *data, size_t n, uint8_t out[DW_SHA1_LEN]);

#endif
