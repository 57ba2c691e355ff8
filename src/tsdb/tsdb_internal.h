/*
 * tsdb_internal.h - helpers shared by the files of the tsdb module only.
 *
 * No other module includes this header. It holds the little-endian and
 * varint primitives, the MSB-first bit writer/reader used by both chunk
 * encodings, the exact decimal split of a float64 and CRC32C.
 *
 * Every reader here is bounds-checked: decoders run on bytes read back from
 * disk, which may be torn or corrupt, and must fail instead of reading past
 * the end.
 */
#ifndef DW_TSDB_INTERNAL_H
#define DW_TSDB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/core.h"
#include "tsdb/tsdb.h"

/* ---- float64 <-> bits, zigzag ---- */

static inline uint64_t dw_tsdb_f2u(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static inline double dw_tsdb_u2f(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static inline uint64_t dw_tsdb_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t dw_tsdb_unzigzag(uint64_t u)
{
    return (int64_t)((u >> 1) ^ (0 - (u & 1)));
}

/** Number of significant bits of u (0 for 0). */
static inline unsigned dw_tsdb_bitlen(uint64_t u)
{
    return u ? 64u - (unsigned)__builtin_clzll(u) : 0u;
}

/* ---- little-endian fixed width ---- */

static inline void dw_tsdb_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t dw_tsdb_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void dw_tsdb_put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t dw_tsdb_get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* ---- varints (LEB128, at most 10 bytes) ---- */

#define DW_TSDB_VARINT_MAX 10

/** Writes u at p (which has room for 10 bytes); returns the bytes used. */
static inline size_t dw_tsdb_put_uvarint(uint8_t *p, uint64_t u)
{
    size_t n = 0;
    while (u >= 0x80) {
        p[n++] = (uint8_t)(u | 0x80);
        u >>= 7;
    }
    p[n++] = (uint8_t)u;
    return n;
}

/** Appends a uvarint to b; returns -1 when b is at its maximum. */
static inline int dw_tsdb_buf_uvarint(struct dw_buf *b, uint64_t u)
{
    uint8_t tmp[DW_TSDB_VARINT_MAX];
    return dw_buf_append(b, tmp, dw_tsdb_put_uvarint(tmp, u));
}

static inline int dw_tsdb_buf_varint(struct dw_buf *b, int64_t v)
{
    return dw_tsdb_buf_uvarint(b, dw_tsdb_zigzag(v));
}

/* A bounds-checked cursor over bytes read from outside. */
struct dw_tsdb_rd {
    const uint8_t *p;
    const uint8_t *end;
    bool bad; /* set by any read past the end or malformed varint; sticky */
};

static inline void dw_tsdb_rd_init(struct dw_tsdb_rd *r, const void *data, size_t len)
{
    r->p = data;
    r->end = r->p + len;
    r->bad = false;
}

static inline size_t dw_tsdb_rd_left(const struct dw_tsdb_rd *r)
{
    return (size_t)(r->end - r->p);
}

static inline uint64_t dw_tsdb_rd_uvarint(struct dw_tsdb_rd *r)
{
    uint64_t u = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            break;
        uint8_t c = *r->p++;
        if (shift == 63 && c > 1)
            break; /* more than 64 bits */
        u |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return u;
    }
    r->bad = true;
    return 0;
}

static inline int64_t dw_tsdb_rd_varint(struct dw_tsdb_rd *r)
{
    return dw_tsdb_unzigzag(dw_tsdb_rd_uvarint(r));
}

static inline uint8_t dw_tsdb_rd_u8(struct dw_tsdb_rd *r)
{
    if (r->p >= r->end) {
        r->bad = true;
        return 0;
    }
    return *r->p++;
}

static inline uint64_t dw_tsdb_rd_le64(struct dw_tsdb_rd *r)
{
    if (dw_tsdb_rd_left(r) < 8) {
        r->bad = true;
        r->p = r->end;
        return 0;
    }
    uint64_t v = dw_tsdb_get_le64(r->p);
    r->p += 8;
    return v;
}

/** Returns a pointer to the next n bytes and skips them; NULL (and bad) when short. */
static inline const uint8_t *dw_tsdb_rd_bytes(struct dw_tsdb_rd *r, size_t n)
{
    if (dw_tsdb_rd_left(r) < n) {
        r->bad = true;
        r->p = r->end;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

/* ---- MSB-first bit streams ---- */

/*
 * The writer keeps at least 8 zeroed bytes of slack after the current byte
 * so a write is one big-endian 64-bit read-modify-write. Bits past the
 * written length are always zero, which is what lets the head chunk be
 * appended to in place.
 */
struct dw_tsdb_bw {
    uint8_t *data; /* heap, owned by whoever set the writer up */
    size_t cap;    /* bytes allocated */
    size_t nbits;  /* bits written */
};

static inline uint64_t dw_tsdb_load_be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline void dw_tsdb_store_be64(uint8_t *p, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, 8);
}

/** Makes room for `more` bits plus the 8-byte slack; new bytes are zero. */
static inline void dw_tsdb_bw_reserve(struct dw_tsdb_bw *w, size_t more)
{
    size_t need = (w->nbits + more + 7) / 8 + 8;
    if (need <= w->cap)
        return;
    size_t ncap = w->cap ? w->cap : 32;
    while (ncap < need)
        ncap *= 2;
    w->data = dw_realloc(w->data, ncap);
    memset(w->data + w->cap, 0, ncap - w->cap);
    w->cap = ncap;
}

/** Writes the low n bits of v (n <= 64; the rest of v must be zero). Room must be reserved. */
static inline void dw_tsdb_bw_write(struct dw_tsdb_bw *w, uint64_t v, unsigned n)
{
    if (n == 0)
        return;
    if (n > 32) {
        dw_tsdb_bw_write(w, v >> 32, n - 32);
        v &= 0xffffffffu;
        n = 32;
    }
    size_t byte = w->nbits >> 3;
    unsigned off = (unsigned)(w->nbits & 7);
    uint64_t word = dw_tsdb_load_be64(w->data + byte);
    word |= v << (64 - off - n);
    dw_tsdb_store_be64(w->data + byte, word);
    w->nbits += n;
}

/* Reader over bytes that may end anywhere: never touches data[len]. */
struct dw_tsdb_br {
    const uint8_t *data;
    size_t len;   /* bytes */
    size_t pos;   /* bit position */
    size_t limit; /* bits readable */
    bool bad;
};

static inline void dw_tsdb_br_init(struct dw_tsdb_br *r, const uint8_t *data, size_t len,
                                   size_t start_bit)
{
    r->data = data;
    r->len = len;
    r->pos = start_bit;
    r->limit = len * 8;
    r->bad = start_bit > r->limit;
}

/** Reads n bits (n <= 64) MSB first; 0 and sets bad when the stream is short. */
static inline uint64_t dw_tsdb_br_read(struct dw_tsdb_br *r, unsigned n)
{
    if (n == 0)
        return 0;
    if (r->bad || n > r->limit - r->pos) {
        r->bad = true;
        return 0;
    }
    if (n > 32) {
        uint64_t hi = dw_tsdb_br_read(r, n - 32);
        return hi << 32 | dw_tsdb_br_read(r, 32);
    }
    size_t byte = r->pos >> 3;
    unsigned off = (unsigned)(r->pos & 7);
    uint64_t word;
    if (byte + 8 <= r->len) {
        word = dw_tsdb_load_be64(r->data + byte);
    } else {
        word = 0;
        for (size_t i = 0; i < 8; i++)
            word = word << 8 | (byte + i < r->len ? r->data[byte + i] : 0);
    }
    r->pos += n;
    return (word << off) >> (64 - n);
}

/** Reads one bit. */
static inline unsigned dw_tsdb_br_bit(struct dw_tsdb_br *r)
{
    if (r->pos >= r->limit) {
        r->bad = true;
        return 0;
    }
    unsigned b = (r->data[r->pos >> 3] >> (7 - (r->pos & 7))) & 1u;
    r->pos++;
    return b;
}

/** Sign-extends the low n bits of u (1 <= n <= 64). */
static inline int64_t dw_tsdb_sext(uint64_t u, unsigned n)
{
    if (n >= 64)
        return (int64_t)u;
    uint64_t m = UINT64_C(1) << (n - 1);
    return (int64_t)((u ^ m) - m);
}

/* ---- exact decimals ---- */

/* Largest decimal exponent a chunk or WAL record may use (10^15 is exact). */
#define DW_TSDB_DEC_MAX_EXP 15

/** 10^e as a double, exact for 0 <= e <= DW_TSDB_DEC_MAX_EXP. */
double dw_tsdb_pow10(int e);

/**
 * Finds the smallest e in [0, DW_TSDB_DEC_MAX_EXP] and the integer m with
 * |m| < 2^50 such that (double)m / 10^e has exactly the bits of v. False
 * for NaN, +-Inf, -0.0 and values that are not short decimals.
 */
bool dw_tsdb_dec_split(double v, int64_t *m, int *e);

/** The inverse of dw_tsdb_dec_split: (double)m / 10^e, correctly rounded. */
static inline double dw_tsdb_dec_join(int64_t m, int e)
{
    return (double)m / dw_tsdb_pow10(e);
}

/* ---- CRC32C (Castagnoli), hardware-accelerated when the CPU has SSE4.2 ---- */

/** Continues crc over data; start with crc = 0. */
uint32_t dw_tsdb_crc32c(uint32_t crc, const void *data, size_t n);
/** The portable slice-by-8 path, exposed so tests can compare both. */
uint32_t dw_tsdb_crc32c_sw(uint32_t crc, const void *data, size_t n);

/* ---- WAL records (walrec.c) ---- */

/*
 * Frame: u32 LE payload length, u8 type, u32 LE CRC32C of the five bytes
 * before it followed by the payload, then the payload.
 */
#define DW_TSDB_WAL_HDR 9
enum { DW_TSDB_REC_SERIES = 1, DW_TSDB_REC_SAMPLES = 2 };
/* Large sample batches are split into records of at most this many samples. */
#define DW_TSDB_WAL_SAMPLES_PER_RECORD 8192

/**
 * Appends framed series records for s[0..n) to out (several when they do
 * not fit one record). On DW_TSDB_ELIMIT (one series alone is too large)
 * out is unchanged. *nrec (may be NULL) gets the number of records.
 */
int dw_tsdb_walrec_put_series(struct dw_buf *out, const struct dw_tsdb_wal_series *s, size_t n,
                              size_t *nrec);
/** Appends framed sample records for s[0..n) to out. */
int dw_tsdb_walrec_put_samples(struct dw_buf *out, const struct dw_tsdb_wal_sample *s, size_t n,
                               size_t *nrec);

/* Decoding scratch reused across records; zero-initialise, then _release. */
struct dw_tsdb_walrd {
    struct dw_tsdb_wal_series *series;
    size_t series_cap;
    struct dw_tsdb_label *labels;
    size_t labels_cap;
    char *strings;
    size_t strings_cap;
    struct dw_tsdb_wal_sample *samples;
    size_t samples_cap;
};

void dw_tsdb_walrd_release(struct dw_tsdb_walrd *rd);

/*
 * Decodes one record payload and hands it to h (callbacks may be NULL).
 * Returns 0, the callback's non-zero return, or DW_TSDB_ECORRUPT with
 * *malformed set when the payload does not decode. Unknown types are
 * skipped (newer writers may add some) and counted in *skipped.
 */
int dw_tsdb_walrd_dispatch(struct dw_tsdb_walrd *rd, uint8_t type, const uint8_t *p, size_t len,
                           const struct dw_tsdb_wal_handler *h,
                           struct dw_tsdb_wal_replay_stats *st, bool *malformed);

/* ---- WAL directory (walreplay.c) ---- */

/* What a WAL directory holds. */
struct dw_tsdb_waldir {
    uint32_t *segs; /* ascending */
    size_t nsegs;
    uint32_t ckpt;  /* newest checkpoint, 0 if none */
    uint32_t *ckpts; /* every checkpoint number found, unordered */
    size_t nckpts;
};

/** Lists dir; a missing dir is empty. 0 or DW_TSDB_EIO. */
int dw_tsdb_waldir_scan(const char *dir, struct dw_tsdb_waldir *d);
void dw_tsdb_waldir_release(struct dw_tsdb_waldir *d);
/** "dir/00000012" or "dir/checkpoint.00000012" (heap). */
char *dw_tsdb_wal_seg_path(const char *dir, uint32_t seg);
char *dw_tsdb_wal_ckpt_path(const char *dir, uint32_t n);
/** Removes a file and logs a failure other than ENOENT. */
void dw_tsdb_wal_unlink(const char *path);
/** fsync of a directory; 0 or DW_TSDB_EIO (logged). */
int dw_tsdb_wal_sync_dir(const char *dir);

#endif
