/*
 * blockenc.c - block chunks: the dense encoding of immutable blocks.
 *
 * DESIGN: a block is written once (by compaction) and read many times, so
 * the encoder may look at all samples of a series before choosing how to
 * code them; this is where the bytes per sample on disk are won.
 *
 *   timestamps  "regular" (start + one step) when every step is equal, which
 *               is the common case for scraped data: zero bytes per sample;
 *               otherwise the first delta and the packed delta-of-deltas.
 *   values      constant: 8 bytes for the whole chunk;
 *               decimal: every value as an integer mantissa over one common
 *               exponent; the deltas (gauges) or delta-of-deltas (counters),
 *               whichever packs smaller, divided by their GCD (memory in
 *               4 KiB pages, prices in cents...), bit-packed; values that are
 *               not exact decimals (stale markers, NaN, Inf, -0.0) ride as
 *               exceptions with their raw bits;
 *               float: the deltas or delta-of-deltas of an order-preserving
 *               integer image of the bits (nearby floats -> small integers).
 *   packing     each integer stream in the smaller of two codings: "patched
 *               frame of reference" (a base, a bit width and exceptions for
 *               the few outliers, such as counter resets, that would widen
 *               every slot), or Rice codes around the median of every 64
 *               values, close to the entropy of bell-shaped residuals and
 *               adapting to a rate that changes over the chunk.
 *
 * Many chunks are then stored together in zstd-compressed pages (page.c).
 *
 * Decoding unpacks the integers in bulk (timestamps straight into the
 * caller's array, value deltas through a small stack buffer), keeping the bit
 * position in registers; the checked one-at-a-time reader takes over near the
 * end of a stream and wherever a code is unusual. Every count, width and
 * offset read back is checked against the bytes present.
 *
 * Threads: an encoder context belongs to one thread; decoding is reentrant.
 */
#include <math.h>
#include <stdlib.h>

#include "tsdb/tsdb.h"
#include "tsdb/tsdb_internal.h"

enum { TS_REGULAR = 0, TS_PACKED = 1 };
enum { V_CONST = 0, V_DECIMAL = 1, V_FLOAT = 2 };
enum { PRED_DELTA = 0, PRED_DOD = 1 };

/* At most this many outliers per packed stream are worth a search. */
#define MAX_PACK_EXC 8

struct rice_part {
    int64_t centre;
    unsigned k;
};

struct dw_tsdb_blockenc {
    int64_t *a; /* scratch streams, cap entries each */
    int64_t *b;
    int64_t *m; /* mantissas */
    int64_t *s; /* sorting and selection scratch */
    struct rice_part *parts;
    uint8_t *exc; /* 1 where a value is a decimal exception */
    size_t cap;
    struct dw_tsdb_bw bw; /* packing scratch */
    struct dw_buf alt;    /* the alternative value encoding being compared */
};

struct dw_tsdb_blockenc *dw_tsdb_blockenc_new(void)
{
    struct dw_tsdb_blockenc *enc = dw_calloc(1, sizeof *enc);
    dw_buf_init(&enc->alt, 0);
    return enc;
}

void dw_tsdb_blockenc_free(struct dw_tsdb_blockenc **enc)
{
    if (!enc || !*enc)
        return;
    struct dw_tsdb_blockenc *e = *enc;
    free(e->a);
    free(e->b);
    free(e->m);
    free(e->s);
    free(e->parts);
    free(e->exc);
    free(e->bw.data);
    dw_buf_release(&e->alt);
    free(e);
    *enc = NULL;
}

static void enc_reserve(struct dw_tsdb_blockenc *enc, size_t n)
{
    if (n <= enc->cap)
        return;
    enc->a = dw_realloc(enc->a, n * sizeof *enc->a);
    enc->b = dw_realloc(enc->b, n * sizeof *enc->b);
    enc->m = dw_realloc(enc->m, n * sizeof *enc->m);
    enc->s = dw_realloc(enc->s, n * sizeof *enc->s);
    enc->parts = dw_realloc(enc->parts, (n / 64 + 1) * sizeof *enc->parts);
    enc->exc = dw_realloc(enc->exc, n);
    enc->cap = n;
}

/* ---- packed integer streams ---- */

/*
 * A stream of n integers is coded one of two ways, whichever is smaller:
 *
 *   FOR   mode byte = bit width w (0..64); varint base; uvarint #exceptions;
 *         n slots of w bits holding x - base (0 for an exception); then per
 *         exception a uvarint position delta and a varint x - base.
 *         Fast to decode; good when values are spread evenly.
 *   RICE  mode byte 0x80; uvarint length of the bit stream; per partition
 *         of RICE_PART values a varint centre (the partition's median) and a
 *         u8 Rice parameter k; then per value u = zigzag(x - centre) as
 *         q = u >> k in unary (q ones, a zero) and the low k bits; q >=
 *         RICE_QMAX is escaped as RICE_QMAX ones, a 7-bit length and u.
 *         Near the entropy of the bell-shaped residuals real counters and
 *         gauges produce, and adapts to a rate that changes over the chunk.
 */
#define RICE_MODE 0x80
#define RICE_PART 64
#define RICE_QMAX 24

struct frame {
    int64_t base;
    unsigned w;
    uint64_t cost; /* bits */
};

static unsigned uvarint_len(uint64_t u)
{
    unsigned n = 1;
    while (u >= 0x80) {
        u >>= 7;
        n++;
    }
    return n;
}

static bool in_frame(int64_t x, int64_t base, unsigned w)
{
    uint64_t d = (uint64_t)x - (uint64_t)base;
    return w >= 64 || d < (UINT64_C(1) << w);
}

static uint64_t frame_cost(const int64_t *x, size_t n, int64_t base, unsigned w)
{
    uint64_t bytes = 1 + uvarint_len(dw_tsdb_zigzag(base)) + ((uint64_t)n * w + 7) / 8;
    size_t nexc = 0, last = 0;
    for (size_t i = 0; i < n; i++) {
        if (in_frame(x[i], base, w))
            continue;
        bytes += uvarint_len(i - last) +
                 uvarint_len(dw_tsdb_zigzag((int64_t)((uint64_t)x[i] - (uint64_t)base)));
        nexc++;
        last = i;
    }
    return 8 * (bytes + uvarint_len(nexc));
}

/*
 * Picks base and width for FOR, leaving up to MAX_PACK_EXC outliers from
 * either end as exceptions when that is cheaper (a counter reset, a first
 * big step).
 */
static struct frame choose_frame(struct dw_tsdb_blockenc *enc, const int64_t *x, size_t n)
{
    int64_t lo = x[0], hi = x[0];
    for (size_t i = 1; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    struct frame f = {lo, dw_tsdb_bitlen((uint64_t)hi - (uint64_t)lo), 0};
    f.cost = frame_cost(x, n, f.base, f.w);
    if (n < 16 || f.w < 6)
        return f;
    /* The MAX_PACK_EXC + 1 smallest (ascending) and largest (descending) values. */
    int64_t lo_k[MAX_PACK_EXC + 1], hi_k[MAX_PACK_EXC + 1];
    size_t nk = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t v = x[i];
        if (nk < MAX_PACK_EXC + 1) {
            size_t j = nk++;
            for (; j > 0 && lo_k[j - 1] > v; j--)
                lo_k[j] = lo_k[j - 1];
            lo_k[j] = v;
            for (j = nk - 1; j > 0 && hi_k[j - 1] < v; j--)
                hi_k[j] = hi_k[j - 1];
            hi_k[j] = v;
            continue;
        }
        if (v < lo_k[MAX_PACK_EXC]) {
            size_t j = MAX_PACK_EXC;
            for (; j > 0 && lo_k[j - 1] > v; j--)
                lo_k[j] = lo_k[j - 1];
            lo_k[j] = v;
        }
        if (v > hi_k[MAX_PACK_EXC]) {
            size_t j = MAX_PACK_EXC;
            for (; j > 0 && hi_k[j - 1] < v; j--)
                hi_k[j] = hi_k[j - 1];
            hi_k[j] = v;
        }
    }
    /* n >= 16 (k + 1) keeps the two ends from overlapping. */
    size_t kmax = n / 16 < MAX_PACK_EXC ? n / 16 : MAX_PACK_EXC;
    unsigned best_w = f.w;
    int64_t best_base = f.base;
    uint64_t est_exc = 8 + 8 * (uint64_t)uvarint_len((uint64_t)hi - (uint64_t)lo);
    uint64_t best_est = (uint64_t)n * f.w;
    for (size_t k = 1; k <= kmax; k++) {
        for (size_t j = 0; j <= k; j++) {
            unsigned w = dw_tsdb_bitlen((uint64_t)hi_k[k - j] - (uint64_t)lo_k[j]);
            uint64_t est = (uint64_t)n * w + k * est_exc;
            if (est < best_est) {
                best_est = est;
                best_base = lo_k[j];
                best_w = w;
            }
        }
    }
    if (best_w != f.w) {
        uint64_t c = frame_cost(x, n, best_base, best_w);
        if (c < f.cost)
            f = (struct frame){best_base, best_w, c};
    }
    return f;
}

/* The median of s[0..n) (reorders s): quickselect, no allocation. */
static int64_t median(int64_t *s, size_t n)
{
    size_t lo = 0, hi = n - 1, want = n / 2;
    while (lo < hi) {
        int64_t pivot = s[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (s[i] < pivot)
                i++;
            while (s[j] > pivot)
                j--;
            if (i <= j) {
                int64_t tmp = s[i];
                s[i] = s[j];
                s[j] = tmp;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (want <= j)
            hi = j;
        else if (want >= i)
            lo = i;
        else
            break;
    }
    return s[want];
}

static uint64_t rice_len(uint64_t u, unsigned k)
{
    uint64_t q = u >> k;
    return q < RICE_QMAX ? q + 1 + k : RICE_QMAX + 7 + dw_tsdb_bitlen(u);
}

/* Chooses the centre and k of every partition; returns the total cost in bits. */
static uint64_t rice_plan(struct dw_tsdb_blockenc *enc, const int64_t *x, size_t n)
{
    uint64_t total = 8 + 8 * 3; /* mode byte and (typically) the length */
    size_t np = (n + RICE_PART - 1) / RICE_PART;
    for (size_t p = 0; p < np; p++) {
        const int64_t *px = x + p * RICE_PART;
        size_t len = n - p * RICE_PART < RICE_PART ? n - p * RICE_PART : RICE_PART;
        memcpy(enc->s, px, len * sizeof *px);
        int64_t c = median(enc->s, len);
        double sum = 0;
        for (size_t i = 0; i < len; i++)
            sum += (double)dw_tsdb_zigzag((int64_t)((uint64_t)px[i] - (uint64_t)c));
        /* Near-optimal k for geometric-like data is about log2(mean); try around it. */
        double mean = sum / (double)len;
        unsigned k0 = mean >= 2 ? (unsigned)ilogb(mean) : 0;
        uint64_t best = UINT64_MAX;
        unsigned best_k = 0;
        for (unsigned k = k0 ? k0 - 1 : 0; k <= k0 + 1 && k < 64; k++) {
            uint64_t cost = 0;
            for (size_t i = 0; i < len; i++)
                cost += rice_len(dw_tsdb_zigzag((int64_t)((uint64_t)px[i] - (uint64_t)c)), k);
            if (cost < best) {
                best = cost;
                best_k = k;
            }
        }
        enc->parts[p] = (struct rice_part){c, best_k};
        total += best + 8 * (uvarint_len(dw_tsdb_zigzag(c)) + 1);
    }
    return total;
}

static void put_rice(struct dw_tsdb_blockenc *enc, struct dw_buf *out, const int64_t *x, size_t n)
{
    size_t np = (n + RICE_PART - 1) / RICE_PART;
    struct dw_tsdb_bw *bw = &enc->bw;
    bw->nbits = 0;
    if (bw->data)
        memset(bw->data, 0, bw->cap);
    for (size_t i = 0; i < n; i++) {
        const struct rice_part *rp = &enc->parts[i / RICE_PART];
        uint64_t u = dw_tsdb_zigzag((int64_t)((uint64_t)x[i] - (uint64_t)rp->centre));
        uint64_t q = u >> rp->k;
        dw_tsdb_bw_reserve(bw, RICE_QMAX + 7 + 64 + 64);
        if (q < RICE_QMAX) {
            dw_tsdb_bw_write(bw, ((UINT64_C(1) << q) - 1) << 1, (unsigned)q + 1);
            dw_tsdb_bw_write(bw, rp->k ? u & (~UINT64_C(0) >> (64 - rp->k)) : 0, rp->k);
        } else {
            dw_tsdb_bw_write(bw, (UINT64_C(1) << RICE_QMAX) - 1, RICE_QMAX);
            unsigned len = dw_tsdb_bitlen(u);
            dw_tsdb_bw_write(bw, len, 7);
            dw_tsdb_bw_write(bw, u, len);
        }
    }
    size_t bytes = (bw->nbits + 7) / 8;
    uint8_t mode = RICE_MODE;
    dw_buf_append(out, &mode, 1);
    dw_tsdb_buf_uvarint(out, bytes);
    for (size_t p = 0; p < np; p++) {
        dw_tsdb_buf_varint(out, enc->parts[p].centre);
        uint8_t k = (uint8_t)enc->parts[p].k;
        dw_buf_append(out, &k, 1);
    }
    dw_buf_append(out, bw->data, bytes);
}

static void put_for(struct dw_tsdb_blockenc *enc, struct dw_buf *out, const int64_t *x, size_t n,
                    const struct frame *f)
{
    size_t nexc = 0;
    for (size_t i = 0; i < n; i++)
        nexc += !in_frame(x[i], f->base, f->w);
    uint8_t wb = (uint8_t)f->w;
    dw_buf_append(out, &wb, 1);
    dw_tsdb_buf_varint(out, f->base);
    dw_tsdb_buf_uvarint(out, nexc);

    size_t bytes = ((size_t)n * f->w + 7) / 8;
    enc->bw.nbits = 0;
    dw_tsdb_bw_reserve(&enc->bw, (size_t)n * f->w);
    memset(enc->bw.data, 0, bytes + 8);
    for (size_t i = 0; i < n; i++) {
        bool in = in_frame(x[i], f->base, f->w);
        dw_tsdb_bw_write(&enc->bw, in ? (uint64_t)x[i] - (uint64_t)f->base : 0, f->w);
    }
    dw_buf_append(out, enc->bw.data, bytes);

    size_t last = 0;
    for (size_t i = 0; i < n; i++) {
        if (in_frame(x[i], f->base, f->w))
            continue;
        dw_tsdb_buf_uvarint(out, i - last);
        dw_tsdb_buf_varint(out, (int64_t)((uint64_t)x[i] - (uint64_t)f->base));
        last = i;
    }
}

/* Appends n integers in the cheaper of the two codings. */
static void put_ints(struct dw_tsdb_blockenc *enc, struct dw_buf *out, const int64_t *x, size_t n)
{
    if (n == 0)
        return;
    struct frame f = choose_frame(enc, x, n);
    if (n >= 8 && f.w >= 3 && rice_plan(enc, x, n) < f.cost)
        put_rice(enc, out, x, n);
    else
        put_for(enc, out, x, n, &f);
}

/* Streaming reader of a put_ints stream. */
struct ints_rd {
    struct dw_tsdb_br bits;
    struct dw_tsdb_rd side; /* FOR: the exception list; RICE: the partition headers */
    int64_t base;           /* FOR base or current RICE centre */
    unsigned w;             /* FOR width or current RICE k */
    bool rice;
    size_t n, i;
    size_t nexc;     /* FOR exceptions not yet reached */
    size_t next_exc; /* position of the next one */
    bool bad;
};

/* Reads the position delta of the next FOR exception; false when malformed. */
static bool ints_next_exc(struct ints_rd *ir, size_t from, bool first)
{
    uint64_t delta = dw_tsdb_rd_uvarint(&ir->side);
    if (ir->side.bad || (!first && delta == 0) || delta >= ir->n - from)
        return false;
    ir->next_exc = from + (size_t)delta;
    return true;
}

static bool for_open(struct ints_rd *ir, struct dw_tsdb_rd *r, size_t n)
{
    ir->base = dw_tsdb_rd_varint(r);
    uint64_t nexc = dw_tsdb_rd_uvarint(r);
    if (r->bad || ir->w > 64 || nexc > n)
        return false;
    size_t bytes = (n * ir->w + 7) / 8;
    const uint8_t *p = dw_tsdb_rd_bytes(r, bytes);
    if (!p)
        return false;
    dw_tsdb_br_init(&ir->bits, p, bytes, 0);
    ir->side = *r;
    ir->nexc = (size_t)nexc;
    /* Walk the exceptions once so r ends after them and they are known to be sane. */
    size_t pos = 0;
    for (size_t k = 0; k < ir->nexc; k++) {
        uint64_t delta = dw_tsdb_rd_uvarint(r);
        dw_tsdb_rd_uvarint(r);
        if (r->bad || (k > 0 && delta == 0) || delta >= n - pos)
            return false;
        pos += (size_t)delta;
    }
    return ir->nexc == 0 || ints_next_exc(ir, 0, true);
}

static bool rice_open(struct ints_rd *ir, struct dw_tsdb_rd *r, size_t n)
{
    uint64_t bytes = dw_tsdb_rd_uvarint(r);
    if (r->bad || bytes > dw_tsdb_rd_left(r))
        return false;
    ir->rice = true;
    ir->side = *r;
    for (size_t p = 0; p < (n + RICE_PART - 1) / RICE_PART; p++) {
        dw_tsdb_rd_varint(r);
        if (dw_tsdb_rd_u8(r) > 63)
            return false;
    }
    const uint8_t *bits = dw_tsdb_rd_bytes(r, (size_t)bytes);
    if (!bits)
        return false;
    dw_tsdb_br_init(&ir->bits, bits, (size_t)bytes, 0);
    return true;
}

static bool ints_open(struct ints_rd *ir, struct dw_tsdb_rd *r, size_t n)
{
    memset(ir, 0, sizeof *ir);
    ir->n = n;
    ir->next_exc = SIZE_MAX;
    if (n == 0)
        return true;
    uint8_t mode = dw_tsdb_rd_u8(r);
    if (r->bad)
        return false;
    if (mode == RICE_MODE)
        return rice_open(ir, r, n);
    ir->w = mode;
    return for_open(ir, r, n);
}

static uint64_t rice_next(struct ints_rd *ir)
{
    if (ir->i % RICE_PART == 0) {
        ir->base = dw_tsdb_rd_varint(&ir->side);
        ir->w = dw_tsdb_rd_u8(&ir->side);
    }
    uint64_t q = 0;
    while (q < RICE_QMAX && dw_tsdb_br_bit(&ir->bits))
        q++;
    uint64_t u;
    if (q < RICE_QMAX) {
        u = q << ir->w | dw_tsdb_br_read(&ir->bits, ir->w);
    } else {
        unsigned len = (unsigned)dw_tsdb_br_read(&ir->bits, 7);
        if (len > 64)
            ir->bad = true;
        u = dw_tsdb_br_read(&ir->bits, len > 64 ? 0 : len);
    }
    return (uint64_t)dw_tsdb_unzigzag(u);
}

static int64_t ints_next(struct ints_rd *ir)
{
    uint64_t d;
    if (ir->rice) {
        d = rice_next(ir);
    } else {
        d = dw_tsdb_br_read(&ir->bits, ir->w);
        if (ir->i == ir->next_exc) {
            d = (uint64_t)dw_tsdb_rd_varint(&ir->side);
            if (--ir->nexc == 0)
                ir->next_exc = SIZE_MAX;
            else if (!ints_next_exc(ir, ir->i, false))
                ir->bad = true;
        }
    }
    ir->i++;
    if (ir->bits.bad || ir->side.bad)
        ir->bad = true;
    return (int64_t)((uint64_t)ir->base + d);
}

/*
 * Bulk decoding: the same streams as ints_next(), many values per call with
 * the bit position kept in a register. FOR runs between exceptions unpack
 * with one 64-bit load per value while 8 bytes are left in the stream; Rice
 * codes find their unary part with one count of leading ones. Anything near
 * the end of the stream, wide or malformed takes ints_next()'s checked path,
 * so the result and the errors are the same.
 */
static void rice_bulk(struct ints_rd *ir, int64_t *out, size_t n)
{
    struct dw_tsdb_br *b = &ir->bits;
    size_t k = 0;
    while (k < n) {
        if (ir->i % RICE_PART == 0 || b->bad || ir->side.bad) {
            out[k++] = ints_next(ir); /* reads the partition header */
            continue;
        }
        /* The rest of this partition with the reader's state in registers. */
        size_t run = RICE_PART - ir->i % RICE_PART;
        if (run > n - k)
            run = n - k;
        const uint8_t *data = b->data;
        size_t pos = b->pos, len = b->len, limit = b->limit, j = 0;
        unsigned w = ir->w;
        uint64_t base = (uint64_t)ir->base;
        for (; j < run; j++) {
            if ((pos >> 3) + 8 > len)
                break;
            uint64_t pk = dw_tsdb_load_be64(data + (pos >> 3)) << (pos & 7);
            unsigned q = ~pk ? (unsigned)__builtin_clzll(~pk) : 64;
            unsigned used = q + 1 + w;
            if (q >= RICE_QMAX || used > 57 || used > limit - pos)
                break;
            /* the w bits after the terminating zero; none when w == 0 */
            uint64_t low = ((pk << q << 1) >> (63 - w)) >> 1;
            pos += used;
            out[k + j] = (int64_t)(base + (uint64_t)dw_tsdb_unzigzag((uint64_t)q << w | low));
        }
        b->pos = pos;
        ir->i += j;
        k += j;
        if (j < run)
            out[k++] = ints_next(ir); /* the checked path for this one */
    }
}

static void for_bulk(struct ints_rd *ir, int64_t *out, size_t n)
{
    struct dw_tsdb_br *b = &ir->bits;
    size_t k = 0;
    unsigned w = ir->w;
    while (k < n) {
        size_t run = n - k;
        if (ir->next_exc != SIZE_MAX && ir->next_exc - ir->i < run)
            run = ir->next_exc - ir->i;
        size_t fast = 0;
        if (!b->bad && !ir->side.bad && w <= 56) {
            if (w == 0) {
                fast = run;
            } else if (b->len * 8 >= b->pos + 64) {
                fast = (b->len * 8 - 64 - b->pos) / w;
                if (fast > run)
                    fast = run;
            }
        }
        uint64_t base = (uint64_t)ir->base;
        if (w == 0) {
            for (size_t j = 0; j < fast; j++)
                out[k + j] = (int64_t)base;
        } else {
            const uint8_t *data = b->data;
            size_t pos = b->pos;
            unsigned sh = 64 - w;
            for (size_t j = 0; j < fast; j++, pos += w) {
                uint64_t word = dw_tsdb_load_be64(data + (pos >> 3));
                out[k + j] = (int64_t)(base + ((word << (pos & 7)) >> sh));
            }
            b->pos = pos;
        }
        ir->i += fast;
        k += fast;
        if (k < n && (fast < run || ir->i == ir->next_exc))
            out[k++] = ints_next(ir);
    }
}

static void ints_bulk(struct ints_rd *ir, int64_t *out, size_t n)
{
    if (ir->rice)
        rice_bulk(ir, out, n);
    else
        for_bulk(ir, out, n);
    if (ir->bits.bad || ir->side.bad)
        ir->bad = true;
}

/* ---- predictors ---- */

/*
 * An estimate of the bits a stream needs: per partition, the log of the
 * mean absolute deviation from the partition's mean (what Rice pays for)
 * and the range (what FOR pays for), whichever is smaller.
 */
static double spread(const int64_t *x, size_t n)
{
    double total = 0;
    for (size_t p = 0; p < n; p += RICE_PART) {
        size_t len = n - p < RICE_PART ? n - p : RICE_PART;
        double mean = 0, mad = 0;
        for (size_t i = p; i < p + len; i++)
            mean += (double)x[i];
        mean /= (double)len;
        for (size_t i = p; i < p + len; i++)
            mad += fabs((double)x[i] - mean);
        total += (double)len * log2(1 + mad / (double)len);
    }
    return total;
}

/*
 * enc->a holds n deltas. Writes the predictor byte and the stream of either
 * the deltas or their differences (first element unchanged), whichever
 * looks cheaper.
 */
static void put_predicted(struct dw_tsdb_blockenc *enc, struct dw_buf *out, size_t n)
{
    int64_t *d = enc->a, *dd = enc->b;
    for (size_t i = 0; i < n; i++)
        dd[i] = (int64_t)((uint64_t)d[i] - (i ? (uint64_t)d[i - 1] : 0));
    /* Counters usually win with dod, gauges with delta; an estimate decides. */
    uint8_t pred = spread(dd, n) < spread(d, n) ? PRED_DOD : PRED_DELTA;
    dw_buf_append(out, &pred, 1);
    put_ints(enc, out, pred == PRED_DOD ? dd : d, n);
}

/* ---- timestamps ---- */

static void put_timestamps(struct dw_tsdb_blockenc *enc, const int64_t *t, size_t n,
                           struct dw_buf *out)
{
    bool regular = true;
    uint64_t step = n > 1 ? (uint64_t)t[1] - (uint64_t)t[0] : 0;
    for (size_t i = 2; i < n && regular; i++)
        regular = (uint64_t)t[i] - (uint64_t)t[i - 1] == step;
    uint8_t mode = regular ? TS_REGULAR : TS_PACKED;
    dw_buf_append(out, &mode, 1);
    dw_tsdb_buf_varint(out, t[0]);
    if (n == 1)
        return;
    dw_tsdb_buf_uvarint(out, step);
    if (regular)
        return;
    for (size_t i = 2; i < n; i++) {
        uint64_t d = (uint64_t)t[i] - (uint64_t)t[i - 1];
        uint64_t dp = (uint64_t)t[i - 1] - (uint64_t)t[i - 2];
        enc->a[i - 2] = (int64_t)(d - dp);
    }
    put_ints(enc, out, enc->a, n - 2);
}

/* ---- values ---- */

static const int64_t ipow10[DW_TSDB_DEC_MAX_EXP + 1] = {
    1,
    10,
    100,
    1000,
    10000,
    100000,
    1000000,
    10000000,
    100000000,
    1000000000,
    10000000000,
    100000000000,
    1000000000000,
    10000000000000,
    100000000000000,
    1000000000000000,
};

#define MANT_LIMIT (INT64_C(1) << 53)

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t r = a % b;
        a = b;
        b = r;
    }
    return a;
}

/*
 * Fills enc->m with mantissas at one common exponent and enc->exc with the
 * samples that are not exact decimals at it. Returns the number of
 * exceptions (n when there is no decimal at all); *exp gets the exponent.
 */
static size_t split_decimals(struct dw_tsdb_blockenc *enc, const double *v, size_t n, int *exp)
{
    int64_t *m = enc->m;
    int emax = 0;
    size_t nexc = 0;
    /* First pass: each value's own exponent, kept in b to avoid another array. */
    for (size_t i = 0; i < n; i++) {
        int e;
        enc->exc[i] = !dw_tsdb_dec_split(v[i], &m[i], &e);
        enc->b[i] = enc->exc[i] ? 0 : e;
        if (!enc->exc[i] && e > emax)
            emax = e;
    }
    int64_t fill = 0;
    bool have_fill = false;
    for (size_t i = 0; i < n; i++) {
        if (!enc->exc[i]) {
            int64_t scale = ipow10[emax - enc->b[i]];
            if (m[i] > MANT_LIMIT / scale || m[i] < -(MANT_LIMIT / scale)) {
                enc->exc[i] = 1;
            } else {
                m[i] *= scale;
                if (dw_tsdb_f2u(dw_tsdb_dec_join(m[i], emax)) != dw_tsdb_f2u(v[i]))
                    enc->exc[i] = 1;
            }
        }
        if (!enc->exc[i] && !have_fill) {
            fill = m[i];
            have_fill = true;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (enc->exc[i]) {
            nexc++;
            m[i] = i ? m[i - 1] : fill; /* repeat the neighbour: a zero delta */
        }
    }
    *exp = emax;
    return have_fill ? nexc : n;
}

static void put_decimal(struct dw_tsdb_blockenc *enc, const double *v, size_t n, int e, size_t nexc,
                        struct dw_buf *out)
{
    const int64_t *m = enc->m;
    uint8_t hdr[2] = {V_DECIMAL, (uint8_t)e};
    dw_buf_append(out, hdr, 2);
    dw_tsdb_buf_varint(out, m[0]);
    uint64_t g = 0;
    for (size_t i = 1; i < n; i++) {
        int64_t d = m[i] - m[i - 1];
        g = gcd_u64(g, d < 0 ? (uint64_t)0 - (uint64_t)d : (uint64_t)d);
    }
    if (g == 0)
        g = 1;
    dw_tsdb_buf_uvarint(out, g);
    for (size_t i = 1; i < n; i++)
        enc->a[i - 1] = (m[i] - m[i - 1]) / (int64_t)g;
    if (n > 1)
        put_predicted(enc, out, n - 1);
    dw_tsdb_buf_uvarint(out, nexc);
    size_t last = 0;
    for (size_t i = 0; i < n; i++) {
        if (!enc->exc[i])
            continue;
        uint8_t raw[8];
        dw_tsdb_put_le64(raw, dw_tsdb_f2u(v[i]));
        dw_tsdb_buf_uvarint(out, i - last);
        dw_buf_append(out, raw, 8);
        last = i;
    }
}

/* An order-preserving bijection between float64 bits and int64 (its own inverse). */
static int64_t ordered(uint64_t bits)
{
    return (int64_t)(bits ^ ((uint64_t)((int64_t)bits >> 63) >> 1));
}

static void put_float(struct dw_tsdb_blockenc *enc, const double *v, size_t n, struct dw_buf *out)
{
    uint8_t mode = V_FLOAT;
    dw_buf_append(out, &mode, 1);
    uint8_t raw[8];
    dw_tsdb_put_le64(raw, dw_tsdb_f2u(v[0]));
    dw_buf_append(out, raw, 8);
    for (size_t i = 1; i < n; i++)
        enc->a[i - 1] = (int64_t)((uint64_t)ordered(dw_tsdb_f2u(v[i])) -
                                  (uint64_t)ordered(dw_tsdb_f2u(v[i - 1])));
    if (n > 1)
        put_predicted(enc, out, n - 1);
}

static void put_values(struct dw_tsdb_blockenc *enc, const double *v, size_t n, struct dw_buf *out)
{
    uint64_t first = dw_tsdb_f2u(v[0]);
    size_t i = 1;
    while (i < n && dw_tsdb_f2u(v[i]) == first)
        i++;
    if (i == n) {
        uint8_t b[9] = {V_CONST};
        dw_tsdb_put_le64(b + 1, first);
        dw_buf_append(out, b, 9);
        return;
    }
    int e;
    size_t nexc = split_decimals(enc, v, n, &e);
    if (nexc == 0) {
        put_decimal(enc, v, n, e, 0, out);
        return;
    }
    if (nexc > n / 4) {
        put_float(enc, v, n, out);
        return;
    }
    /* A few exceptions: keep whichever of the two is smaller. */
    size_t start = out->len;
    put_decimal(enc, v, n, e, nexc, out);
    enc->alt.len = 0;
    put_float(enc, v, n, &enc->alt);
    if (enc->alt.len < out->len - start) {
        out->len = start;
        dw_buf_append(out, enc->alt.data, enc->alt.len);
    }
}

int dw_tsdb_blockenc_encode(struct dw_tsdb_blockenc *enc, const int64_t *t, const double *v,
                            size_t n, struct dw_buf *out)
{
    if (n == 0 || n > DW_TSDB_BLOCK_MAX_SAMPLES)
        return DW_TSDB_EINVAL;
    for (size_t i = 1; i < n; i++)
        if (t[i] <= t[i - 1])
            return DW_TSDB_EORDER;
    enc_reserve(enc, n);
    size_t start = out->len;
    bool overflow = out->overflow;
    out->overflow = false;
    dw_tsdb_buf_uvarint(out, n);
    put_timestamps(enc, t, n, out);
    put_values(enc, v, n, out);
    if (out->overflow) {
        out->len = start;
        return DW_TSDB_ELIMIT;
    }
    out->overflow = overflow;
    return 0;
}

/* ---- decoding ---- */

int dw_tsdb_blockchunk_count(const uint8_t *data, size_t len, size_t *n)
{
    struct dw_tsdb_rd r;
    dw_tsdb_rd_init(&r, data, len);
    uint64_t cnt = dw_tsdb_rd_uvarint(&r);
    if (r.bad || cnt == 0 || cnt > DW_TSDB_BLOCK_MAX_SAMPLES)
        return DW_TSDB_ECORRUPT;
    *n = (size_t)cnt;
    return 0;
}

static int get_timestamps(struct dw_tsdb_rd *r, int64_t *t, size_t n)
{
    uint8_t mode = dw_tsdb_rd_u8(r);
    t[0] = dw_tsdb_rd_varint(r);
    if (n == 1)
        return r->bad || mode > TS_PACKED ? DW_TSDB_ECORRUPT : 0;
    uint64_t step = dw_tsdb_rd_uvarint(r);
    if (r->bad || mode > TS_PACKED)
        return DW_TSDB_ECORRUPT;
    t[1] = (int64_t)((uint64_t)t[0] + step);
    if (mode == TS_REGULAR) {
        for (size_t i = 2; i < n; i++)
            t[i] = (int64_t)((uint64_t)t[i - 1] + step);
    } else {
        struct ints_rd ir;
        if (!ints_open(&ir, r, n - 2))
            return DW_TSDB_ECORRUPT;
        ints_bulk(&ir, t + 2, n - 2);
        for (size_t i = 2; i < n; i++) {
            step += (uint64_t)t[i];
            t[i] = (int64_t)((uint64_t)t[i - 1] + step);
        }
        if (ir.bad)
            return DW_TSDB_ECORRUPT;
    }
    for (size_t i = 1; i < n; i++)
        if (t[i] <= t[i - 1])
            return DW_TSDB_ECORRUPT;
    return 0;
}

/* Decodes the n-1 deltas of a predicted stream one at a time. */
struct pred_rd {
    struct ints_rd ir;
    uint8_t pred;
    int64_t d;
};

static bool pred_open(struct pred_rd *pr, struct dw_tsdb_rd *r, size_t n)
{
    pr->d = 0;
    pr->pred = dw_tsdb_rd_u8(r);
    return !r->bad && pr->pred <= PRED_DOD && ints_open(&pr->ir, r, n);
}

#define PRED_BATCH 256

/* The next n deltas of a predicted stream into out. */
static void pred_bulk(struct pred_rd *pr, int64_t *out, size_t n)
{
    ints_bulk(&pr->ir, out, n);
    if (pr->pred == PRED_DELTA) {
        if (n)
            pr->d = out[n - 1];
        return;
    }
    uint64_t d = (uint64_t)pr->d;
    for (size_t i = 0; i < n; i++) {
        d += (uint64_t)out[i];
        out[i] = (int64_t)d;
    }
    pr->d = (int64_t)d;
}

static int get_decimal(struct dw_tsdb_rd *r, double *v, size_t n)
{
    uint8_t e = dw_tsdb_rd_u8(r);
    int64_t m = dw_tsdb_rd_varint(r);
    uint64_t g = dw_tsdb_rd_uvarint(r);
    if (r->bad || e > DW_TSDB_DEC_MAX_EXP)
        return DW_TSDB_ECORRUPT;
    struct pred_rd pr = {0};
    if (n > 1 && !pred_open(&pr, r, n - 1))
        return DW_TSDB_ECORRUPT;
    uint64_t nexc = dw_tsdb_rd_uvarint(r);
    if (r->bad || nexc > n)
        return DW_TSDB_ECORRUPT;
    size_t next = SIZE_MAX;
    if (nexc) {
        uint64_t p = dw_tsdb_rd_uvarint(r);
        if (r->bad || p >= n)
            return DW_TSDB_ECORRUPT;
        next = (size_t)p;
    }
    double p10 = dw_tsdb_pow10(e);
    int64_t buf[PRED_BATCH];
    size_t bi = 0, bn = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            if (bi == bn) {
                bn = n - i < PRED_BATCH ? n - i : PRED_BATCH;
                pred_bulk(&pr, buf, bn);
                bi = 0;
            }
            m = (int64_t)((uint64_t)m + (uint64_t)buf[bi++] * g);
        }
        if (next == SIZE_MAX) {
            /* no exception left: the rest of this batch in one tight loop */
            v[i] = (double)m / p10;
            if (e == 0) { /* integers: dividing by 1 changes nothing */
                while (bi < bn) {
                    m = (int64_t)((uint64_t)m + (uint64_t)buf[bi++] * g);
                    v[++i] = (double)m;
                }
            }
            while (bi < bn) {
                m = (int64_t)((uint64_t)m + (uint64_t)buf[bi++] * g);
                v[++i] = (double)m / p10;
            }
            continue;
        }
        if (i != next) {
            v[i] = (double)m / p10;
            continue;
        }
        v[i] = dw_tsdb_u2f(dw_tsdb_rd_le64(r));
        if (--nexc == 0) {
            next = SIZE_MAX;
            continue;
        }
        uint64_t delta = dw_tsdb_rd_uvarint(r);
        if (r->bad || delta == 0 || delta >= n - i)
            return DW_TSDB_ECORRUPT;
        next = i + (size_t)delta;
    }
    return r->bad || pr.ir.bad || nexc ? DW_TSDB_ECORRUPT : 0;
}

static int get_float(struct dw_tsdb_rd *r, double *v, size_t n)
{
    uint64_t bits = dw_tsdb_rd_le64(r);
    struct pred_rd pr = {0};
    if (r->bad || (n > 1 && !pred_open(&pr, r, n - 1)))
        return DW_TSDB_ECORRUPT;
    int64_t o = ordered(bits);
    v[0] = dw_tsdb_u2f(bits);
    int64_t buf[PRED_BATCH];
    for (size_t i = 1; i < n;) {
        size_t bn = n - i < PRED_BATCH ? n - i : PRED_BATCH;
        pred_bulk(&pr, buf, bn);
        for (size_t j = 0; j < bn; j++, i++) {
            o = (int64_t)((uint64_t)o + (uint64_t)buf[j]);
            v[i] = dw_tsdb_u2f((uint64_t)ordered((uint64_t)o));
        }
    }
    return pr.ir.bad ? DW_TSDB_ECORRUPT : 0;
}

static int get_values(struct dw_tsdb_rd *r, double *v, size_t n)
{
    switch (dw_tsdb_rd_u8(r)) {
    case V_CONST: {
        uint64_t bits = dw_tsdb_rd_le64(r);
        for (size_t i = 0; i < n; i++)
            v[i] = dw_tsdb_u2f(bits);
        return r->bad ? DW_TSDB_ECORRUPT : 0;
    }
    case V_DECIMAL: return get_decimal(r, v, n);
    case V_FLOAT: return get_float(r, v, n);
    default: return DW_TSDB_ECORRUPT;
    }
}

int dw_tsdb_blockchunk_decode(const uint8_t *data, size_t len, int64_t *t, double *v, size_t cap,
                              size_t *n)
{
    struct dw_tsdb_rd r;
    dw_tsdb_rd_init(&r, data, len);
    uint64_t cnt = dw_tsdb_rd_uvarint(&r);
    if (r.bad || cnt == 0 || cnt > DW_TSDB_BLOCK_MAX_SAMPLES)
        return DW_TSDB_ECORRUPT;
    if (cnt > cap)
        return DW_TSDB_ELIMIT;
    int rc = get_timestamps(&r, t, (size_t)cnt);
    if (rc == 0)
        rc = get_values(&r, v, (size_t)cnt);
    if (rc == 0 && dw_tsdb_rd_left(&r) != 0)
        rc = DW_TSDB_ECORRUPT; /* trailing garbage: the length in the page is wrong */
    if (rc == 0)
        *n = (size_t)cnt;
    return rc;
}
