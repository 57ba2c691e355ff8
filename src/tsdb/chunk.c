/*
 * chunk.c - head chunks: append-optimised compressed samples of one series.
 *
 * DESIGN: the head appends one sample at a time, so the encoding is a bit
 * stream that grows in place: a 3-byte header (encoding id, LE16 count)
 * then, per sample, a timestamp code and a value code (exact layout in
 * docs/internals/tsdb.md):
 *
 *   timestamp: sample 0 raw 64 bits; later samples the delta-of-delta in
 *              buckets '0' | '10'+7 | '110'+14 | '1110'+24 | '1111'+64 bits.
 *   value:     '0'     same bits as the previous value (constants: 1 bit)
 *              '10'    decimal: delta-of-delta of the mantissa at the
 *                      current exponent, in buckets of 4/6/8/11/14/20/32 bits
 *              '110'   XOR with the previous value inside the last window
 *              '1110'  XOR with a new window (6-bit lead, 6-bit length-1)
 *              '1111'  set decimal: 4-bit exponent, 6-bit length, zigzag m
 *
 * Most values in practice are integers or have 1-3 decimals; counters grow
 * by similar steps, so the mantissa's delta-of-delta is small where Gorilla's
 * XOR of two such floats still spans 30-40 bits. A value that is not an
 * exact short decimal (measured floats, NaN, stale markers, Inf, -0.0) goes
 * through the XOR path, which round-trips any bit pattern.
 *
 * The encoder keeps exactly the state a decoder has after the last sample
 * (struct dw_tsdb_chunk_iter), so the two cannot drift apart and a chunk
 * read back from disk becomes appendable by decoding it once.
 *
 * Timestamp and mantissa arithmetic wraps (uint64) so hostile or corrupt
 * inputs can never overflow a signed integer.
 *
 * Threads: none here; the head serialises access to each chunk.
 */
#include <math.h>
#include <stdlib.h>

#include "tsdb/tsdb.h"
#include "tsdb/tsdb_internal.h"

#define HDR_BYTES 3
#define HDR_BITS (HDR_BYTES * 8)

struct dw_tsdb_chunk {
    struct dw_tsdb_bw bw;          /* header + bit stream; heap */
    struct dw_tsdb_chunk_iter st;  /* decoder state after the last sample */
    int64_t min_t;
};

/*
 * Bucket tables: bucket k is announced by k ones and a zero (the last one
 * by ones only) and holds a two's complement number of widths[k] bits.
 * Timestamps use them after a '1' (dod != 0); mantissas after '10'. The
 * mantissa widths were tuned on the shared dataset (4 to 32 bits).
 */
static const unsigned t_widths[] = {7, 14, 24, 64};
static const unsigned m_widths[] = {4, 6, 8, 11, 14, 20, 32};

static bool fits_signed(int64_t v, unsigned bits)
{
    if (bits >= 64)
        return true;
    int64_t lim = INT64_C(1) << (bits - 1);
    return v >= -lim && v < lim;
}

/* ---- encoder ---- */

/* Index of the smallest bucket that holds v, or -1. */
static int bucket_of(int64_t v, const unsigned *widths, size_t nw)
{
    for (size_t k = 0; k < nw; k++)
        if (fits_signed(v, widths[k]))
            return (int)k;
    return -1;
}

/*
 * Writes v in bucket k: k ones then a zero (the last bucket has no zero),
 * then v's low widths[k] bits.
 */
static void put_bucket(struct dw_tsdb_bw *bw, int64_t v, int k, const unsigned *widths, size_t nw)
{
    bool last = (size_t)k + 1 == nw;
    uint64_t ones = (UINT64_C(1) << k) - 1;
    dw_tsdb_bw_write(bw, last ? ones : ones << 1, last ? (unsigned)k : (unsigned)k + 1);
    unsigned w = widths[k];
    uint64_t mask = w >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << w) - 1;
    dw_tsdb_bw_write(bw, (uint64_t)v & mask, w);
}

static void put_timestamp(struct dw_tsdb_chunk *c, int64_t t)
{
    struct dw_tsdb_chunk_iter *st = &c->st;
    if (st->i_ == 0) {
        dw_tsdb_bw_write(&c->bw, (uint64_t)t, 64);
        st->tdelta_ = 0;
    } else {
        uint64_t delta = (uint64_t)t - (uint64_t)st->t_;
        int64_t dod = (int64_t)(delta - st->tdelta_);
        if (dod == 0)
            dw_tsdb_bw_write(&c->bw, 0, 1);
        else {
            dw_tsdb_bw_write(&c->bw, 1, 1);
            put_bucket(&c->bw, dod, bucket_of(dod, t_widths, DW_ARRAY_LEN(t_widths)), t_widths,
                       DW_ARRAY_LEN(t_widths));
        }
        st->tdelta_ = delta;
    }
    st->t_ = t;
}

/* Tries '10': v at the current exponent with a mantissa dod that fits a bucket. */
static bool put_dec_dod(struct dw_tsdb_chunk *c, double v, uint64_t bits)
{
    struct dw_tsdb_chunk_iter *st = &c->st;
    if (!st->dec_)
        return false;
    double p = dw_tsdb_pow10(st->e_);
    double x = v * p;
    if (!(x > -1125899906842624.0 && x < 1125899906842624.0))
        return false;
    int64_t m = (int64_t)llrint(x);
    if (dw_tsdb_f2u((double)m / p) != bits)
        return false;
    /* Wrapping: a chunk loaded from disk may carry any mantissa. */
    int64_t dm = (int64_t)((uint64_t)m - (uint64_t)st->m_);
    int64_t dod = (int64_t)((uint64_t)dm - (uint64_t)st->dm_);
    int k = bucket_of(dod, m_widths, DW_ARRAY_LEN(m_widths));
    if (k < 0)
        return false;
    dw_tsdb_bw_write(&c->bw, 2, 2);
    put_bucket(&c->bw, dod, k, m_widths, DW_ARRAY_LEN(m_widths));
    st->m_ = m;
    st->dm_ = dm;
    return true;
}

static void put_xor(struct dw_tsdb_chunk *c, uint64_t bits)
{
    struct dw_tsdb_chunk_iter *st = &c->st;
    uint64_t x = bits ^ st->vbits_;
    unsigned lead = (unsigned)__builtin_clzll(x);
    unsigned trail = (unsigned)__builtin_ctzll(x);
    unsigned reuse_cost = ~0u;
    if (st->window_ && lead >= st->lead_ && trail >= st->trail_)
        reuse_cost = 3 + 64 - st->lead_ - st->trail_;
    unsigned new_cost = 4 + 12 + 64 - lead - trail;
    if (reuse_cost <= new_cost) {
        dw_tsdb_bw_write(&c->bw, 6, 3);
        dw_tsdb_bw_write(&c->bw, x >> st->trail_, 64 - st->lead_ - st->trail_);
    } else {
        unsigned len = 64 - lead - trail;
        dw_tsdb_bw_write(&c->bw, 14, 4);
        dw_tsdb_bw_write(&c->bw, lead, 6);
        dw_tsdb_bw_write(&c->bw, len - 1, 6);
        dw_tsdb_bw_write(&c->bw, x >> trail, len);
        st->lead_ = (uint8_t)lead;
        st->trail_ = (uint8_t)trail;
        st->window_ = true;
    }
    st->dec_ = false;
}

static void put_set_dec(struct dw_tsdb_chunk *c, int64_t m, int e)
{
    struct dw_tsdb_chunk_iter *st = &c->st;
    uint64_t z = dw_tsdb_zigzag(m);
    unsigned len = dw_tsdb_bitlen(z);
    dw_tsdb_bw_write(&c->bw, 15, 4);
    dw_tsdb_bw_write(&c->bw, (uint64_t)e, 4);
    dw_tsdb_bw_write(&c->bw, len, 6);
    dw_tsdb_bw_write(&c->bw, z, len);
    st->dec_ = true;
    st->e_ = (uint8_t)e;
    st->m_ = m;
    st->dm_ = 0;
}

static void put_value(struct dw_tsdb_chunk *c, double v)
{
    struct dw_tsdb_chunk_iter *st = &c->st;
    uint64_t bits = dw_tsdb_f2u(v);
    if (bits == st->vbits_) {
        dw_tsdb_bw_write(&c->bw, 0, 1);
        st->dm_ = 0;
        return;
    }
    if (!put_dec_dod(c, v, bits)) {
        int64_t m;
        int e;
        /*
         * A short decimal always switches to decimal mode, even when the
         * XOR would be a little shorter for this one sample: the samples
         * after it then cost a few bits each instead of another XOR.
         */
        if (dw_tsdb_dec_split(v, &m, &e))
            put_set_dec(c, m, e);
        else
            put_xor(c, bits);
    }
    st->vbits_ = bits;
}

struct dw_tsdb_chunk *dw_tsdb_chunk_new(void)
{
    struct dw_tsdb_chunk *c = dw_calloc(1, sizeof *c);
    dw_tsdb_bw_reserve(&c->bw, HDR_BITS);
    c->bw.data[0] = DW_TSDB_CHUNK_ENC_HEAD;
    c->bw.nbits = HDR_BITS;
    c->st.data_ = c->bw.data;
    return c;
}

void dw_tsdb_chunk_free(struct dw_tsdb_chunk **c)
{
    if (!c || !*c)
        return;
    free((*c)->bw.data);
    free(*c);
    *c = NULL;
}

/* Worst case per sample: 4+64 timestamp bits and 4+6+6+64 value bits. */
#define SAMPLE_MAX_BITS 160

int dw_tsdb_chunk_append(struct dw_tsdb_chunk *c, int64_t t, double v)
{
    struct dw_tsdb_chunk_iter *st = &c->st;
    if (st->i_ >= DW_TSDB_CHUNK_MAX_SAMPLES)
        return DW_TSDB_EFULL;
    if (st->i_ > 0 && t <= st->t_)
        return DW_TSDB_EORDER;
    dw_tsdb_bw_reserve(&c->bw, SAMPLE_MAX_BITS);
    if (st->i_ == 0)
        c->min_t = t;
    put_timestamp(c, t);
    put_value(c, v);
    st->i_++;
    st->n_ = st->i_;
    c->bw.data[1] = (uint8_t)st->n_;
    c->bw.data[2] = (uint8_t)(st->n_ >> 8);
    st->data_ = c->bw.data;
    st->pos_ = c->bw.nbits;
    st->len_ = (c->bw.nbits + 7) / 8;
    return 0;
}

size_t dw_tsdb_chunk_count(const struct dw_tsdb_chunk *c)
{
    return c->st.i_;
}

bool dw_tsdb_chunk_last(const struct dw_tsdb_chunk *c, int64_t *t, double *v)
{
    if (c->st.i_ == 0)
        return false;
    *t = c->st.t_;
    *v = dw_tsdb_u2f(c->st.vbits_);
    return true;
}

bool dw_tsdb_chunk_range(const struct dw_tsdb_chunk *c, int64_t *min_t, int64_t *max_t)
{
    if (c->st.i_ == 0)
        return false;
    *min_t = c->min_t;
    *max_t = c->st.t_;
    return true;
}

const uint8_t *dw_tsdb_chunk_bytes(const struct dw_tsdb_chunk *c, size_t *len)
{
    *len = (c->bw.nbits + 7) / 8;
    return c->bw.data;
}

/* ---- decoder ---- */

/* Reads a bucket prefix and the value it announces. */
static int64_t get_bucket(struct dw_tsdb_br *br, const unsigned *widths, size_t nw)
{
    size_t k = 0;
    while (k + 1 < nw && dw_tsdb_br_bit(br))
        k++;
    return dw_tsdb_sext(dw_tsdb_br_read(br, widths[k]), widths[k]);
}

static void get_timestamp(struct dw_tsdb_chunk_iter *it, struct dw_tsdb_br *br)
{
    if (it->i_ == 0) {
        it->t_ = (int64_t)dw_tsdb_br_read(br, 64);
        it->tdelta_ = 0;
        return;
    }
    if (dw_tsdb_br_bit(br))
        it->tdelta_ += (uint64_t)get_bucket(br, t_widths, DW_ARRAY_LEN(t_widths));
    it->t_ = (int64_t)((uint64_t)it->t_ + it->tdelta_);
}

static bool get_xor(struct dw_tsdb_chunk_iter *it, struct dw_tsdb_br *br, bool reuse)
{
    if (!reuse) {
        unsigned lead = (unsigned)dw_tsdb_br_read(br, 6);
        unsigned len = (unsigned)dw_tsdb_br_read(br, 6) + 1;
        if (lead + len > 64)
            return false;
        it->lead_ = (uint8_t)lead;
        it->trail_ = (uint8_t)(64 - lead - len);
        it->window_ = true;
    } else if (!it->window_) {
        return false;
    }
    unsigned len = 64u - it->lead_ - it->trail_;
    it->vbits_ ^= dw_tsdb_br_read(br, len) << it->trail_;
    it->dec_ = false;
    return true;
}

static bool get_value(struct dw_tsdb_chunk_iter *it, struct dw_tsdb_br *br)
{
    if (!dw_tsdb_br_bit(br)) {
        it->dm_ = 0;
        return true;
    }
    if (!dw_tsdb_br_bit(br)) {
        if (!it->dec_)
            return false;
        int64_t dod = get_bucket(br, m_widths, DW_ARRAY_LEN(m_widths));
        it->dm_ = (int64_t)((uint64_t)it->dm_ + (uint64_t)dod);
        it->m_ = (int64_t)((uint64_t)it->m_ + (uint64_t)it->dm_);
        it->vbits_ = dw_tsdb_f2u(dw_tsdb_dec_join(it->m_, it->e_));
        return true;
    }
    if (!dw_tsdb_br_bit(br))
        return get_xor(it, br, true);
    if (!dw_tsdb_br_bit(br))
        return get_xor(it, br, false);
    it->e_ = (uint8_t)dw_tsdb_br_read(br, 4);
    unsigned len = (unsigned)dw_tsdb_br_read(br, 6);
    it->m_ = dw_tsdb_unzigzag(dw_tsdb_br_read(br, len));
    it->dm_ = 0;
    it->dec_ = true;
    it->vbits_ = dw_tsdb_f2u(dw_tsdb_dec_join(it->m_, it->e_));
    return true;
}

void dw_tsdb_chunk_iter_init(struct dw_tsdb_chunk_iter *it, const uint8_t *data, size_t len)
{
    memset(it, 0, sizeof *it);
    it->data_ = data;
    it->len_ = len;
    it->pos_ = HDR_BITS;
    if (len < HDR_BYTES || data[0] != DW_TSDB_CHUNK_ENC_HEAD) {
        it->err_ = DW_TSDB_ECORRUPT;
        return;
    }
    it->n_ = (uint16_t)(data[1] | data[2] << 8);
    if (it->n_ > DW_TSDB_CHUNK_MAX_SAMPLES)
        it->err_ = DW_TSDB_ECORRUPT;
}

bool dw_tsdb_chunk_iter_next(struct dw_tsdb_chunk_iter *it, int64_t *t, double *v)
{
    if (it->err_ || it->i_ >= it->n_)
        return false;
    struct dw_tsdb_br br;
    dw_tsdb_br_init(&br, it->data_, it->len_, it->pos_);
    int64_t prev_t = it->t_;
    get_timestamp(it, &br);
    bool ok = get_value(it, &br);
    /* Timestamps always increase in a valid chunk; anything else is damage. */
    if (!ok || br.bad || (it->i_ > 0 && it->t_ <= prev_t)) {
        it->err_ = DW_TSDB_ECORRUPT;
        return false;
    }
    it->pos_ = br.pos;
    it->i_++;
    *t = it->t_;
    *v = dw_tsdb_u2f(it->vbits_);
    return true;
}

bool dw_tsdb_chunk_iter_seek(struct dw_tsdb_chunk_iter *it, int64_t t, int64_t *ts, double *v)
{
    if (it->err_)
        return false;
    if (it->i_ > 0 && it->t_ >= t) {
        *ts = it->t_;
        *v = dw_tsdb_u2f(it->vbits_);
        return true;
    }
    while (dw_tsdb_chunk_iter_next(it, ts, v))
        if (*ts >= t)
            return true;
    return false;
}

int dw_tsdb_chunk_iter_err(const struct dw_tsdb_chunk_iter *it)
{
    return it->err_;
}

int dw_tsdb_chunk_load(const uint8_t *data, size_t len, struct dw_tsdb_chunk **out)
{
    *out = NULL;
    struct dw_tsdb_chunk_iter it;
    dw_tsdb_chunk_iter_init(&it, data, len);
    int64_t t, min_t = 0;
    double v;
    while (dw_tsdb_chunk_iter_next(&it, &t, &v))
        if (it.i_ == 1)
            min_t = t;
    if (it.err_ || it.i_ != it.n_)
        return DW_TSDB_ECORRUPT;
    struct dw_tsdb_chunk *c = dw_calloc(1, sizeof *c);
    dw_tsdb_bw_reserve(&c->bw, it.pos_);
    size_t used = (it.pos_ + 7) / 8;
    memcpy(c->bw.data, data, used);
    /* The writer ORs into zero bits: clear the padding after the last sample. */
    if (it.pos_ & 7)
        c->bw.data[used - 1] &= (uint8_t)(0xff00u >> (it.pos_ & 7));
    c->bw.nbits = it.pos_;
    c->st = it;
    c->st.data_ = c->bw.data;
    c->st.len_ = used;
    c->min_t = min_t;
    *out = c;
    return 0;
}
