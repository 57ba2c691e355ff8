/*
 * walrec.c - WAL record framing and payloads (series definitions, samples).
 *
 * DESIGN: a record is self-checking: its 9-byte header holds the payload
 * length, the type and a CRC32C over length, type and payload, so replay
 * recognises a torn or corrupt record without trusting anything in it.
 * Payloads are compact varint encodings (formats in docs/internals/tsdb.md):
 *   SERIES   count, then per series: ref, label count, (name, value) pairs
 *            as length-prefixed bytes;
 *   SAMPLES  count, base timestamp, then per sample: ref delta, timestamp
 *            delta from the base, and the value as zigzag(mantissa) << 4 |
 *            exponent when it is a short decimal (1-4 bytes for typical
 *            counters) or the tag 15 and 8 raw bytes.
 * Decoding is bounds-checked and allocation is bounded by the record length,
 * itself bounded by DW_TSDB_WAL_RECORD_MAX.
 *
 * Threads: pure functions; a decoding scratch (struct dw_tsdb_walrd)
 * belongs to one thread.
 */
#include <stdlib.h>

#include "tsdb/tsdb.h"
#include "tsdb/tsdb_internal.h"

#define VALUE_RAW 15

/* Reserves the header, returns its offset; the payload follows. */
static size_t frame_begin(struct dw_buf *out)
{
    uint8_t hdr[DW_TSDB_WAL_HDR] = {0};
    size_t off = out->len;
    dw_buf_append(out, hdr, sizeof hdr);
    return off;
}

static void frame_end(struct dw_buf *out, size_t off, uint8_t type)
{
    uint8_t *h = (uint8_t *)out->data + off;
    size_t len = out->len - off - DW_TSDB_WAL_HDR;
    dw_tsdb_put_le32(h, (uint32_t)len);
    h[4] = type;
    uint32_t crc = dw_tsdb_crc32c(0, h, 5);
    crc = dw_tsdb_crc32c(crc, h + DW_TSDB_WAL_HDR, len);
    dw_tsdb_put_le32(h + 5, crc);
}

static void put_str(struct dw_buf *b, const char *s)
{
    size_t n = strlen(s);
    dw_tsdb_buf_uvarint(b, n);
    dw_buf_append(b, s, n);
}

static void put_one_series(struct dw_buf *b, const struct dw_tsdb_wal_series *s)
{
    dw_tsdb_buf_uvarint(b, s->ref);
    dw_tsdb_buf_uvarint(b, s->nlabels);
    for (size_t i = 0; i < s->nlabels; i++) {
        put_str(b, s->labels[i].name);
        put_str(b, s->labels[i].value);
    }
}

/*
 * Series are encoded one by one into `one`, then moved into the current
 * record; a record is closed when the next series would overflow it.
 */
int dw_tsdb_walrec_put_series(struct dw_buf *out, const struct dw_tsdb_wal_series *s, size_t n,
                              size_t *nrec)
{
    size_t start = out->len, records = 0;
    struct dw_buf one, body;
    dw_buf_init(&one, 0);
    dw_buf_init(&body, 0);
    size_t count = 0;
    int rc = 0;
    for (size_t i = 0; i <= n; i++) {
        one.len = 0;
        if (i < n)
            put_one_series(&one, &s[i]);
        bool flush = i == n ? count > 0
                            : body.len + one.len + DW_TSDB_VARINT_MAX > DW_TSDB_WAL_RECORD_MAX;
        if (flush && count > 0) {
            size_t off = frame_begin(out);
            dw_tsdb_buf_uvarint(out, count);
            dw_buf_append(out, body.data, body.len);
            frame_end(out, off, DW_TSDB_REC_SERIES);
            records++;
            body.len = 0;
            count = 0;
        }
        if (i == n)
            break;
        if (one.len + DW_TSDB_VARINT_MAX > DW_TSDB_WAL_RECORD_MAX) {
            rc = DW_TSDB_ELIMIT;
            break;
        }
        dw_buf_append(&body, one.data, one.len);
        count++;
    }
    dw_buf_release(&one);
    dw_buf_release(&body);
    if (rc == 0 && out->overflow)
        rc = DW_TSDB_ELIMIT;
    if (rc) {
        out->len = start;
        return rc;
    }
    if (nrec)
        *nrec = records;
    return 0;
}

/* Writes the value code at p (room for 10 bytes); returns the bytes used. */
static size_t put_value(uint8_t *p, double v)
{
    int64_t m;
    int e;
    if (dw_tsdb_dec_split(v, &m, &e) && e < VALUE_RAW)
        return dw_tsdb_put_uvarint(p, dw_tsdb_zigzag(m) << 4 | (uint64_t)e);
    p[0] = VALUE_RAW;
    dw_tsdb_put_le64(p + 1, dw_tsdb_f2u(v));
    return 9;
}

int dw_tsdb_walrec_put_samples(struct dw_buf *out, const struct dw_tsdb_wal_sample *s, size_t n,
                               size_t *nrec)
{
    size_t start = out->len, records = 0;
    for (size_t i = 0; i < n; i += DW_TSDB_WAL_SAMPLES_PER_RECORD) {
        size_t cnt = n - i < DW_TSDB_WAL_SAMPLES_PER_RECORD ? n - i : DW_TSDB_WAL_SAMPLES_PER_RECORD;
        size_t off = frame_begin(out);
        int64_t tbase = s[i].t;
        uint64_t prev_ref = 0;
        dw_tsdb_buf_uvarint(out, cnt);
        dw_tsdb_buf_varint(out, tbase);
        for (size_t j = i; j < i + cnt; j++) {
            uint8_t tmp[3 * DW_TSDB_VARINT_MAX]; /* one append per sample */
            size_t k = dw_tsdb_put_uvarint(tmp, dw_tsdb_zigzag((int64_t)(s[j].ref - prev_ref)));
            k += dw_tsdb_put_uvarint(
                tmp + k, dw_tsdb_zigzag((int64_t)((uint64_t)s[j].t - (uint64_t)tbase)));
            k += put_value(tmp + k, s[j].v);
            dw_buf_append(out, tmp, k);
            prev_ref = s[j].ref;
        }
        frame_end(out, off, DW_TSDB_REC_SAMPLES);
        records++;
    }
    if (out->overflow) {
        out->len = start;
        return DW_TSDB_ELIMIT;
    }
    if (nrec)
        *nrec = records;
    return 0;
}

/* ---- decoding ---- */

void dw_tsdb_walrd_release(struct dw_tsdb_walrd *rd)
{
    free(rd->series);
    free(rd->labels);
    free(rd->strings);
    free(rd->samples);
    memset(rd, 0, sizeof *rd);
}

/* Copies a length-prefixed string into the strings area; NULL when malformed. */
static const char *get_str(struct dw_tsdb_rd *r, char *strings, size_t *used)
{
    uint64_t n = dw_tsdb_rd_uvarint(r);
    const uint8_t *p = r->bad ? NULL : dw_tsdb_rd_bytes(r, (size_t)n);
    if (!p || memchr(p, '\0', (size_t)n))
        return NULL;
    char *dst = strings + *used;
    memcpy(dst, p, (size_t)n);
    dst[n] = '\0';
    *used += (size_t)n + 1;
    return dst;
}

/*
 * Every label takes at least 2 payload bytes and every series 2, so the
 * arrays sized from the payload length always suffice; the strings need at
 * most the payload plus one NUL per string.
 */
static int get_series(struct dw_tsdb_walrd *rd, const uint8_t *p, size_t len,
                      const struct dw_tsdb_wal_handler *h, struct dw_tsdb_wal_replay_stats *st,
                      bool *malformed)
{
    struct dw_tsdb_rd r;
    dw_tsdb_rd_init(&r, p, len);
    uint64_t n = dw_tsdb_rd_uvarint(&r);
    if (r.bad || n > len / 2)
        goto bad;
    rd->series = dw_grow(rd->series, &rd->series_cap, (size_t)n + 1, sizeof *rd->series);
    rd->labels = dw_grow(rd->labels, &rd->labels_cap, len / 2 + 1, sizeof *rd->labels);
    rd->strings = dw_grow(rd->strings, &rd->strings_cap, 2 * len + 1, 1);
    size_t nl = 0, used = 0;
    for (size_t i = 0; i < n; i++) {
        struct dw_tsdb_wal_series *s = &rd->series[i];
        s->ref = dw_tsdb_rd_uvarint(&r);
        uint64_t cnt = dw_tsdb_rd_uvarint(&r);
        if (r.bad || cnt > dw_tsdb_rd_left(&r) / 2)
            goto bad;
        s->labels = rd->labels + nl;
        s->nlabels = (size_t)cnt;
        for (size_t j = 0; j < cnt; j++, nl++) {
            rd->labels[nl].name = get_str(&r, rd->strings, &used);
            rd->labels[nl].value = get_str(&r, rd->strings, &used);
            if (!rd->labels[nl].name || !rd->labels[nl].value)
                goto bad;
        }
    }
    if (dw_tsdb_rd_left(&r))
        goto bad;
    if (st)
        st->series += n;
    return h && h->series ? h->series(h->ctx, rd->series, (size_t)n) : 0;
bad:
    *malformed = true;
    return DW_TSDB_ECORRUPT;
}

static int get_samples(struct dw_tsdb_walrd *rd, const uint8_t *p, size_t len,
                       const struct dw_tsdb_wal_handler *h, struct dw_tsdb_wal_replay_stats *st,
                       bool *malformed)
{
    struct dw_tsdb_rd r;
    dw_tsdb_rd_init(&r, p, len);
    uint64_t n = dw_tsdb_rd_uvarint(&r);
    int64_t tbase = dw_tsdb_rd_varint(&r);
    if (r.bad || n > len / 3) /* each sample takes at least 3 bytes */
        goto bad;
    rd->samples = dw_grow(rd->samples, &rd->samples_cap, (size_t)n + 1, sizeof *rd->samples);
    uint64_t ref = 0;
    for (size_t i = 0; i < n; i++) {
        struct dw_tsdb_wal_sample *s = &rd->samples[i];
        ref += (uint64_t)dw_tsdb_rd_varint(&r);
        s->ref = ref;
        s->t = (int64_t)((uint64_t)tbase + (uint64_t)dw_tsdb_rd_varint(&r));
        uint64_t code = dw_tsdb_rd_uvarint(&r);
        unsigned e = (unsigned)(code & 15);
        if (e == VALUE_RAW) {
            if (code != VALUE_RAW)
                goto bad;
            s->v = dw_tsdb_u2f(dw_tsdb_rd_le64(&r));
        } else {
            s->v = dw_tsdb_dec_join(dw_tsdb_unzigzag(code >> 4), (int)e);
        }
        if (r.bad)
            goto bad;
    }
    if (dw_tsdb_rd_left(&r))
        goto bad;
    if (st)
        st->samples += n;
    return h && h->samples ? h->samples(h->ctx, rd->samples, (size_t)n) : 0;
bad:
    *malformed = true;
    return DW_TSDB_ECORRUPT;
}

int dw_tsdb_walrd_dispatch(struct dw_tsdb_walrd *rd, uint8_t type, const uint8_t *p, size_t len,
                           const struct dw_tsdb_wal_handler *h,
                           struct dw_tsdb_wal_replay_stats *st, bool *malformed)
{
    *malformed = false;
    switch (type) {
    case DW_TSDB_REC_SERIES: return get_series(rd, p, len, h, st, malformed);
    case DW_TSDB_REC_SAMPLES: return get_samples(rd, p, len, h, st, malformed);
    default: return 0;
    }
}
