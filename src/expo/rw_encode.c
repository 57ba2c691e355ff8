/*
 * rw_encode.c - the remote write 1.0 encoder: series to a protobuf
 * WriteRequest, then to a snappy block.
 *
 * DESIGN
 * Used by tests, the benchmark and (later) a remote-write sender. Two steps
 * over the input: the sizes first (every nested message is preceded by its
 * length), then one exact-size allocation written front to back. Fields with
 * their proto3 default are left out like Go's encoder does (empty strings,
 * zero timestamps), except that a value is written whenever its bits are not
 * all zero, so -0.0 survives where gogo-protobuf would drop its sign. Nothing
 * is validated: tests build invalid requests with it on purpose.
 *
 * Threads: no state; safe from any thread.
 */
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>

#include "core/core.h"
#include "expo_internal.h"

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* A length-delimited field of n bytes with a one-byte tag. */
static size_t field_len(size_t n)
{
    return 1 + varint_len(n) + n;
}

static uint64_t value_bits(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return bits;
}

static size_t label_len(const struct dw_expo_label *l)
{
    return (l->name.len ? field_len(l->name.len) : 0) +
           (l->value.len ? field_len(l->value.len) : 0);
}

static size_t sample_len(const struct dw_expo_rw_sample *s)
{
    return (value_bits(s->value) ? 9 : 0) +
           (s->timestamp_ms ? 1 + varint_len((uint64_t)s->timestamp_ms) : 0);
}

static size_t series_len(const struct dw_expo_rw_series *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nlabels; i++)
        n += field_len(label_len(&s->labels[i]));
    for (size_t i = 0; i < s->nsamples; i++)
        n += field_len(sample_len(&s->samples[i]));
    return n;
}

static uint8_t *put_bytes(uint8_t *p, uint8_t tag, const char *s, size_t n)
{
    *p++ = tag;
    p = put_varint(p, n);
    if (n)
        memcpy(p, s, n);
    return p + n;
}

static uint8_t *put_label(uint8_t *p, const struct dw_expo_label *l)
{
    *p++ = 0x0A; /* TimeSeries.labels = 1, length-delimited */
    p = put_varint(p, label_len(l));
    if (l->name.len)
        p = put_bytes(p, 0x0A, l->name.ptr, l->name.len); /* Label.name = 1 */
    if (l->value.len)
        p = put_bytes(p, 0x12, l->value.ptr, l->value.len); /* Label.value = 2 */
    return p;
}

static uint8_t *put_sample(uint8_t *p, const struct dw_expo_rw_sample *s)
{
    *p++ = 0x12; /* TimeSeries.samples = 2, length-delimited */
    p = put_varint(p, sample_len(s));
    uint64_t bits = value_bits(s->value);
    if (bits) {
        *p++ = 0x09; /* Sample.value = 1, fixed64, little-endian */
        for (int i = 0; i < 8; i++)
            *p++ = (uint8_t)(bits >> (8 * i));
    }
    if (s->timestamp_ms) {
        *p++ = 0x10; /* Sample.timestamp = 2, varint (negative: ten bytes) */
        p = put_varint(p, (uint64_t)s->timestamp_ms);
    }
    return p;
}

/* The protobuf WriteRequest in a fresh heap buffer of *len bytes. */
static uint8_t *encode(const struct dw_expo_rw_series *series, size_t n, size_t *len)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += field_len(series_len(&series[i]));
    uint8_t *buf = dw_malloc(total ? total : 1), *p = buf;
    for (size_t i = 0; i < n; i++) {
        const struct dw_expo_rw_series *s = &series[i];
        *p++ = 0x0A; /* WriteRequest.timeseries = 1 */
        p = put_varint(p, series_len(s));
        for (size_t k = 0; k < s->nlabels; k++)
            p = put_label(p, &s->labels[k]);
        for (size_t k = 0; k < s->nsamples; k++)
            p = put_sample(p, &s->samples[k]);
    }
    *len = total;
    return buf;
}

int dw_expo_rw_encode_raw(const struct dw_expo_rw_series *series, size_t n, struct dw_buf *out)
{
    size_t len;
    uint8_t *pb = encode(series, n, &len);
    int rc = dw_buf_append(out, pb, len);
    free(pb);
    return rc;
}

int dw_expo_rw_encode(const struct dw_expo_rw_series *series, size_t n, struct dw_buf *out)
{
    size_t len;
    uint8_t *pb = encode(series, n, &len);
    size_t clen = snappy_max_compressed_length(len);
    char *c = dw_malloc(clen);
    int rc = -1;
    if (snappy_compress((const char *)pb, len, c, &clen) == SNAPPY_OK)
        rc = dw_buf_append(out, c, clen);
    free(c);
    free(pb);
    return rc;
}
