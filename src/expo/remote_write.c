/*
 * remote_write.c - the Prometheus remote write 1.0 decoder: snappy block,
 * then a hand-written zero-copy reader of prometheus.WriteRequest.
 *
 * DESIGN
 * The messages it reads (field numbers from prompb/types.proto, remote.proto):
 *   WriteRequest { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2;
 *                  repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
 *   Label        { string name = 1; string value = 2; }
 *   Sample       { double value = 1; int64 timestamp = 2; }
 * Fields may come in any order and repeated fields interleaved; a repeated
 * scalar keeps its last value, a missing one is zero or empty (proto3).
 * Unknown fields are skipped by wire type (0 varint, 1 fixed64, 2 bytes, 5
 * fixed32); groups (3, 4) and wire types 6 and 7 are errors, and so is a known
 * field with the wrong wire type (Go's generated code does the same).
 * Exemplars, native histograms and metadata are skipped unread and counted.
 *
 * Memory: snappy's header gives the uncompressed length, which is checked
 * against max_decoded_len before the decoder's buffer is grown; the buffer,
 * the label and sample arrays are kept for the next request (the buffer is
 * shrunk after an outsized request). Nothing else is allocated.
 *
 * All or nothing: pass 1 walks the whole request and checks everything:
 * structure, every label rule and every limit. Only then does pass 2 walk it
 * again, decoding each series into the label and sample arrays and calling
 * the handler, so a rejected request has delivered nothing. Pass 2 repeats
 * the cheap structural reads but not the charset, UTF-8 and duplicate checks.
 * With opts.single_pass, pass 1 collects each series as it checks it and
 * hands it over at once: a third cheaper (the request is read once, while it
 * is in cache), for callers that can throw a batch away on error.
 *
 * NUL-terminated strings without copying: before a series is delivered, a
 * NUL is written just after each of its strings, into the decompressed
 * buffer. The byte after a string is a tag or length of a field that was
 * already read (a series is read whole before it is handed over), or, for the last string
 * of a series, the first byte of the next top-level field (saved and restored
 * after the callback) or the spare byte at the end of the buffer. Label
 * values holding a NUL byte are rejected so that C strings are not cut.
 *
 * Threads: a decoder is used by one thread at a time; no globals.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <snappy-c.h>

#include "core/core.h"
#include "expo_internal.h"

/* Keep at most this much buffer after a request that needed far less. */
#define RW_KEEP_BYTES (8u << 20)

/*
 * The series cache: the exact bytes of a series' labels as they sit in the
 * protobuf (the run of Label fields that opens a TimeSeries) mapped to a
 * reference the caller gave with dw_expo_rw_remember(). A series whose
 * label bytes are in the cache is neither checked again (the checks are a
 * function of those bytes and of the limits, which the cache records) nor
 * decoded: it is delivered with its ref instead. Entries are found by hash
 * and confirmed by comparing the bytes; a forgotten entry keeps its slot
 * with ref 0 (a tombstone). When the bytes would pass max_bytes, everything
 * is dropped and the cache refills from the next requests.
 */
struct rw_cache_ent {
    uint64_t hash;
    uint64_t ref; /* 0: forgotten */
    uint32_t off; /* in bytes */
    uint32_t len;
};

struct rw_cache {
    size_t max_bytes;          /* 0: no cache */
    struct rw_cache_ent *ents; /* open addressing, cap a power of two; heap */
    size_t cap, n;             /* slots, used slots (tombstones included) */
    uint8_t *bytes;            /* the label bytes of every entry, back to back; heap */
    size_t len, bytes_cap;
    size_t max_labels, max_name_len, max_value_len; /* the limits the entries passed */
    /* the series being delivered: its label bytes (copied before they are
       NUL-terminated in place) and their hash; len == SIZE_MAX when not cacheable */
    uint8_t *cur;
    size_t cur_len, cur_cap;
    const uint8_t *raw; /* the series' opening Label fields in the buffer, or NULL */
    size_t raw_len;
    uint64_t cur_hash;
    struct rw_cache_ent *hit; /* the entry of a series delivered by ref */
};

struct dw_expo_rw_decoder {
    char *buf;                    /* decompressed protobuf plus one spare byte for the last NUL */
    size_t cap;                   /* bytes allocated at buf */
    struct dw_expo_label *labels; /* the series being delivered (empty values left out) */
    size_t labels_cap;
    struct dw_expo_rw_sample *samples; /* the series being delivered */
    size_t samples_cap;
    struct dw_expo_str *names; /* pass 1: label names of an unsorted series */
    size_t names_cap;
    struct rw_cache cache; /* label bytes -> the caller's ref (single pass only) */
};

/* One decode over one buffer. */
struct rw {
    struct dw_expo_rw_opts o; /* limits with defaults filled in */
    struct dw_expo_rw_decoder *d;
    const uint8_t *base;            /* start of the protobuf, for offsets */
    bool deliver;                   /* pass 2 of two */
    size_t series;                  /* 1-based index of the current series, 0 outside one */
    size_t samples;                 /* samples counted so far */
    struct dw_expo_str last_metric; /* pass 1: the last metric name found valid */
    struct dw_expo_rw_stats *st;
    struct dw_expo_rw_error *err;
    /* the series cache (single pass): the next series, hashed ahead so that
       their cache slots and bytes are prefetched before they are needed */
    struct rw_ahead {
        const uint8_t *start; /* the TimeSeries' contents */
        size_t len;           /* of its opening label run */
        uint64_t hash;        /* of that run */
    } ahead[8];
    unsigned ahead_first, ahead_n;
    const uint8_t *ahead_pos; /* the next top-level field to look at; NULL: stopped */
};

/* ---- errors ---- */

static int fail(struct rw *r, enum dw_expo_rw_errcode code, const uint8_t *at, const char *fmt, ...)
    DW_PRINTF(4, 5);

static int fail(struct rw *r, enum dw_expo_rw_errcode code, const uint8_t *at, const char *fmt, ...)
{
    struct dw_expo_rw_error *e = r->err;
    e->code = code;
    e->offset = (size_t)(at - r->base);
    e->series = r->series;
    int n;
    if (r->series)
        n = snprintf(e->msg, sizeof e->msg, "series %zu (offset %zu): ", e->series, e->offset);
    else
        n = snprintf(e->msg, sizeof e->msg, "offset %zu: ", e->offset);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg + n, sizeof e->msg - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* Writes s as a quoted string for a message: at most 48 bytes, \xNN for non-printables. */
static const char *quote(char *out, size_t size, const char *s, size_t n)
{
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < n && o + 8 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == 48) {
            o += (size_t)snprintf(out + o, size - o, "...");
            break;
        }
        if (c == '"' || c == '\\')
            o += (size_t)snprintf(out + o, size - o, "\\%c", c);
        else if (c < 0x20 || c >= 0x7F)
            o += (size_t)snprintf(out + o, size - o, "\\x%02X", c);
        else
            out[o++] = (char)c;
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

#define QUOTE(buf, str) quote(buf, sizeof buf, (str).ptr, (str).len)

/* ---- protobuf wire format ---- */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_SGROUP = 3, WT_EGROUP = 4, WT_I32 = 5 };

/* A varint at p; NULL when it is cut off or longer than 10 bytes. */
static inline const uint8_t *get_varint(const uint8_t *p, const uint8_t *end, uint64_t *out)
{
    if (p < end && *p < 0x80) {
        *out = *p;
        return p + 1;
    }
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (p >= end)
            return NULL;
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7F) << shift; /* bits past 64 fall off, as in Go */
        if (b < 0x80) {
            *out = v;
            return p;
        }
    }
    return NULL;
}

static int varint_fail(struct rw *r, const uint8_t *p, const uint8_t *end, const char *what)
{
    /* get_varint gives up after 10 bytes with the continuation bit, or at the end. */
    if ((size_t)(end - p) < 10)
        return fail(r, DW_EXPO_RW_EPROTO, p, "truncated varint in %s", what);
    return fail(r, DW_EXPO_RW_EPROTO, p, "varint in %s is longer than 10 bytes", what);
}

/* Reads a field tag. msg names the enclosing message for errors. */
static inline int get_tag(struct rw *r, const uint8_t **pp, const uint8_t *end, uint32_t *field,
                          unsigned *wt, const char *msg)
{
    const uint8_t *p = *pp;
    uint64_t t;
    if (p < end && *p < 0x80) { /* fields 1-15: one byte */
        t = *p++;
    } else if (!(p = get_varint(p, end, &t))) {
        return varint_fail(r, *pp, end, msg);
    }
    if ((t >> 3) == 0 || (t >> 3) > 0x1FFFFFFF)
        return fail(r, DW_EXPO_RW_EPROTO, *pp, "invalid field number %llu in %s",
                    (unsigned long long)(t >> 3), msg);
    *field = (uint32_t)(t >> 3);
    *wt = (unsigned)(t & 7);
    *pp = p;
    return 0;
}

/* Reads the length of a length-delimited field; *sub_end is where its bytes end. */
static inline int get_len(struct rw *r, const uint8_t **pp, const uint8_t *end,
                          const uint8_t **sub_end, const char *what)
{
    const uint8_t *p = *pp;
    uint64_t n;
    if (p < end && *p < 0x80) {
        n = *p++;
    } else if (!(p = get_varint(p, end, &n))) {
        return varint_fail(r, *pp, end, what);
    }
    if (n > (uint64_t)(end - p))
        return fail(r, DW_EXPO_RW_EPROTO, *pp,
                    "length %llu of %s runs past the end of its message (%zu bytes left)",
                    (unsigned long long)n, what, (size_t)(end - p));
    *pp = p;
    *sub_end = p + n;
    return 0;
}

static int wire_type_fail(struct rw *r, const uint8_t *at, const char *what, unsigned wt,
                          unsigned want)
{
    return fail(r, DW_EXPO_RW_EPROTO, at, "%s has wire type %u, expected %u", what, wt, want);
}

/* Reads the length of a field that must be length-delimited. */
static inline int get_sub(struct rw *r, const uint8_t *at, const uint8_t **pp, const uint8_t *end,
                          unsigned wt, const uint8_t **sub_end, const char *what)
{
    if (wt != WT_LEN)
        return wire_type_fail(r, at, what, wt, WT_LEN);
    return get_len(r, pp, end, sub_end, what);
}

/* Skips an unknown field's value. */
static int skip_field(struct rw *r, const uint8_t *at, const uint8_t **pp, const uint8_t *end,
                      uint32_t field, unsigned wt, const char *msg)
{
    const uint8_t *p = *pp, *sub_end = NULL;
    uint64_t v;
    size_t need;
    switch (wt) {
    case WT_VARINT:
        if (!(p = get_varint(p, end, &v)))
            return varint_fail(r, *pp, end, msg);
        *pp = p;
        return 0;
    case WT_LEN:
        if (get_len(r, pp, end, &sub_end, msg) != 0)
            return -1;
        *pp = sub_end;
        return 0;
    case WT_I64: need = 8; break;
    case WT_I32: need = 4; break;
    case WT_SGROUP:
    case WT_EGROUP:
        return fail(r, DW_EXPO_RW_EPROTO, at,
                    "field %u of %s is a group (wire type %u), which is not supported", field, msg,
                    wt);
    default:
        return fail(r, DW_EXPO_RW_EPROTO, at, "field %u of %s has invalid wire type %u", field, msg,
                    wt);
    }
    if ((size_t)(end - p) < need)
        return fail(r, DW_EXPO_RW_EPROTO, at, "truncated %zu-byte field %u in %s", need, field,
                    msg);
    *pp = p + need;
    return 0;
}

static inline uint64_t load_le64(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
           (uint64_t)p[7] << 56;
}

/* ---- messages ---- */

static const struct dw_expo_str empty_str = {"", 0};

/* Label { string name = 1; string value = 2; } in [p, end), any encoding. */
static int read_label_slow(struct rw *r, const uint8_t *p, const uint8_t *end,
                           struct dw_expo_label *l)
{
    l->name = l->value = empty_str;
    while (p < end) {
        const uint8_t *at = p, *sub_end = NULL;
        uint32_t field = 0;
        unsigned wt = 0;
        if (get_tag(r, &p, end, &field, &wt, "Label") != 0)
            return -1;
        if (field == 1 || field == 2) {
            if (get_sub(r, at, &p, end, wt, &sub_end, field == 1 ? "Label.name" : "Label.value"))
                return -1;
            struct dw_expo_str s = {(const char *)p, (size_t)(sub_end - p)};
            if (field == 1)
                l->name = s;
            else
                l->value = s;
            p = sub_end;
        } else if (skip_field(r, at, &p, end, field, wt, "Label") != 0) {
            return -1;
        }
    }
    return 0;
}

/*
 * A Label as every known sender writes it: name then value, both under 128
 * bytes, nothing else. Anything different takes the general path.
 */
static inline int read_label(struct rw *r, const uint8_t *p, const uint8_t *end,
                             struct dw_expo_label *l)
{
    size_t n = (size_t)(end - p);
    if (n >= 4 && p[0] == 0x0A && p[1] < 0x80) {
        size_t nlen = p[1];
        if (nlen + 4 <= n && p[nlen + 2] == 0x12 && p[nlen + 3] < 0x80 &&
            nlen + 4 + p[nlen + 3] == n) {
            l->name = (struct dw_expo_str){(const char *)p + 2, nlen};
            l->value = (struct dw_expo_str){(const char *)p + nlen + 4, p[nlen + 3]};
            return 0;
        }
    }
    return read_label_slow(r, p, end, l);
}

/* Sample { double value = 1; int64 timestamp = 2; } in [p, end), any encoding. */
static int read_sample_slow(struct rw *r, const uint8_t *p, const uint8_t *end,
                            struct dw_expo_rw_sample *s)
{
    uint64_t bits = 0, ts = 0;
    while (p < end) {
        const uint8_t *at = p;
        uint32_t field = 0;
        unsigned wt = 0;
        if (get_tag(r, &p, end, &field, &wt, "Sample") != 0)
            return -1;
        if (field == 1) {
            if (wt != WT_I64)
                return wire_type_fail(r, at, "Sample.value", wt, WT_I64);
            if ((size_t)(end - p) < 8)
                return fail(r, DW_EXPO_RW_EPROTO, at, "truncated Sample.value");
            bits = load_le64(p);
            p += 8;
        } else if (field == 2) {
            if (wt != WT_VARINT)
                return wire_type_fail(r, at, "Sample.timestamp", wt, WT_VARINT);
            const uint8_t *q = get_varint(p, end, &ts);
            if (!q)
                return varint_fail(r, p, end, "Sample.timestamp");
            p = q;
        } else if (skip_field(r, at, &p, end, field, wt, "Sample") != 0) {
            return -1;
        }
    }
    memcpy(&s->value, &bits, sizeof bits); /* bit-exact: NaN payloads survive */
    s->timestamp_ms = (int64_t)ts;         /* two's complement, as protobuf's int64 */
    return 0;
}

/* The common encoding: the value, then the timestamp ending the message. */
static inline int read_sample(struct rw *r, const uint8_t *p, const uint8_t *end,
                              struct dw_expo_rw_sample *s)
{
    uint64_t ts = 0;
    if (end - p >= 11 && p[0] == 0x09 && p[9] == 0x10 && get_varint(p + 10, end, &ts) == end) {
        uint64_t bits = load_le64(p + 1);
        memcpy(&s->value, &bits, sizeof bits);
        s->timestamp_ms = (int64_t)ts;
        return 0;
    }
    return read_sample_slow(r, p, end, s);
}

/* ---- pass 1: the label rules ---- */

/* Character classes of names: a bit for first and later characters of each kind. */
enum { LABEL_FIRST = 1, LABEL_REST = 2, METRIC_FIRST = 4, METRIC_REST = 8 };

/* clang-format off */
static const uint8_t name_chars[256] = {
    ['a'] = 15, ['b'] = 15, ['c'] = 15, ['d'] = 15, ['e'] = 15, ['f'] = 15, ['g'] = 15, ['h'] = 15,
    ['i'] = 15, ['j'] = 15, ['k'] = 15, ['l'] = 15, ['m'] = 15, ['n'] = 15, ['o'] = 15, ['p'] = 15,
    ['q'] = 15, ['r'] = 15, ['s'] = 15, ['t'] = 15, ['u'] = 15, ['v'] = 15, ['w'] = 15, ['x'] = 15,
    ['y'] = 15, ['z'] = 15, ['A'] = 15, ['B'] = 15, ['C'] = 15, ['D'] = 15, ['E'] = 15, ['F'] = 15,
    ['G'] = 15, ['H'] = 15, ['I'] = 15, ['J'] = 15, ['K'] = 15, ['L'] = 15, ['M'] = 15, ['N'] = 15,
    ['O'] = 15, ['P'] = 15, ['Q'] = 15, ['R'] = 15, ['S'] = 15, ['T'] = 15, ['U'] = 15, ['V'] = 15,
    ['W'] = 15, ['X'] = 15, ['Y'] = 15, ['Z'] = 15, ['_'] = 15, ['0'] = 10, ['1'] = 10, ['2'] = 10,
    ['3'] = 10, ['4'] = 10, ['5'] = 10, ['6'] = 10, ['7'] = 10, ['8'] = 10, ['9'] = 10, [':'] = 12,
};
/* clang-format on */

/* [a-zA-Z_][a-zA-Z0-9_]* for labels, [a-zA-Z_:][a-zA-Z0-9_:]* for metric names. */
static bool name_valid(struct dw_expo_str s, bool metric)
{
    const unsigned char *p = (const unsigned char *)s.ptr;
    unsigned first = metric ? METRIC_FIRST : LABEL_FIRST, rest = metric ? METRIC_REST : LABEL_REST;
    if (s.len == 0 || !(name_chars[p[0]] & first))
        return false;
    for (size_t i = 1; i < s.len; i++)
        if (!(name_chars[p[i]] & rest))
            return false;
    return true;
}

enum { VALUE_OK, VALUE_NUL, VALUE_UTF8 };

/* Non-zero when some byte of w is 0 or >= 0x80 (no borrow crosses bytes otherwise). */
static inline uint64_t word_special(uint64_t w)
{
    return ((w - 0x0101010101010101ull) | w) & 0x8080808080808080ull;
}

/* True when [p, p+n) is ASCII without NUL; whole words, the last one overlapping. */
static inline bool plain_ascii(const unsigned char *p, size_t n)
{
    uint64_t w;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&w, p + i, 8);
            if (word_special(w))
                return false;
        }
        memcpy(&w, p + n - 8, 8);
        return !word_special(w);
    }
    if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        return !word_special((uint64_t)a << 32 | b);
    }
    for (size_t i = 0; i < n; i++)
        if (p[i] == 0 || p[i] >= 0x80)
            return false;
    return true;
}

/* UTF-8 without NUL bytes. */
static int value_check(struct dw_expo_str s)
{
    const unsigned char *p = (const unsigned char *)s.ptr;
    if (plain_ascii(p, s.len))
        return VALUE_OK;
    if (memchr(p, 0, s.len))
        return VALUE_NUL;
    return expo_utf8_valid(s.ptr, s.len) ? VALUE_OK : VALUE_UTF8;
}

static inline int str_cmp(struct dw_expo_str a, struct dw_expo_str b)
{
    /* Neighbouring label names nearly always differ in their first byte. */
    if (a.len && b.len && a.ptr[0] != b.ptr[0])
        return (unsigned char)a.ptr[0] < (unsigned char)b.ptr[0] ? -1 : 1;
    int c = memcmp(a.ptr, b.ptr, a.len < b.len ? a.len : b.len);
    return c ? c : (a.len > b.len) - (a.len < b.len);
}

static bool is_metric_name_label(struct dw_expo_str name)
{
    return name.len == 8 && memcmp(name.ptr, "__name__", 8) == 0;
}

/* State of the series being checked. */
struct check {
    size_t nlabels;
    bool sorted;
    bool has_name;
    struct dw_expo_str prev; /* previous label name */
};

static int check_value(struct rw *r, const uint8_t *at, const struct dw_expo_label *l)
{
    char q[160];
    if (l->value.len > r->o.max_label_value_len)
        return fail(r, DW_EXPO_RW_ELIMIT, at,
                    "value of label %s is %zu bytes, over the limit max_label_value_len=%zu",
                    QUOTE(q, l->name), l->value.len, r->o.max_label_value_len);
    int rc = value_check(l->value);
    if (rc == VALUE_NUL)
        return fail(r, DW_EXPO_RW_EINVALID, at, "value of label %s contains a NUL byte",
                    QUOTE(q, l->name));
    if (rc == VALUE_UTF8)
        return fail(r, DW_EXPO_RW_EINVALID, at, "value of label %s is not valid UTF-8",
                    QUOTE(q, l->name));
    return 0;
}

static int check_metric_name(struct rw *r, const uint8_t *at, struct check *c,
                             const struct dw_expo_label *l)
{
    char q[160];
    if (l->value.len == 0)
        return 0; /* empty means absent; "no __name__" below unless another one follows */
    if (l->value.len > r->o.max_label_value_len)
        return fail(r, DW_EXPO_RW_ELIMIT, at,
                    "metric name is %zu bytes, over the limit max_label_value_len=%zu",
                    l->value.len, r->o.max_label_value_len);
    /* Senders group series by metric: the previous name is often this one. */
    struct dw_expo_str *last = &r->last_metric;
    bool known = last->len == l->value.len && memcmp(last->ptr, l->value.ptr, last->len) == 0;
    if (!known && !name_valid(l->value, true))
        return fail(r, DW_EXPO_RW_EINVALID, at, "invalid metric name %s", QUOTE(q, l->value));
    *last = l->value;
    c->has_name = true;
    return 0;
}

static int check_label(struct rw *r, const uint8_t *at, struct check *c,
                       const struct dw_expo_label *l)
{
    char q[160];
    if (++c->nlabels > r->o.max_labels)
        return fail(r, DW_EXPO_RW_ELIMIT, at, "more than %zu labels, over the limit max_labels=%zu",
                    r->o.max_labels, r->o.max_labels);
    if (l->name.len > r->o.max_label_name_len)
        return fail(r, DW_EXPO_RW_ELIMIT, at,
                    "label name %s is %zu bytes, over the limit max_label_name_len=%zu",
                    QUOTE(q, l->name), l->name.len, r->o.max_label_name_len);
    if (l->name.len == 0)
        return fail(r, DW_EXPO_RW_EINVALID, at, "empty label name");
    bool metric = is_metric_name_label(l->name);
    if (!metric && !name_valid(l->name, false))
        return fail(r, DW_EXPO_RW_EINVALID, at, "invalid label name %s", QUOTE(q, l->name));
    int rc = metric ? check_metric_name(r, at, c, l) : check_value(r, at, l);
    if (rc != 0)
        return rc;
    /* Senders must sort; while they do, comparing neighbours finds duplicates. */
    if (c->sorted && c->nlabels > 1) {
        int cmp = str_cmp(c->prev, l->name);
        if (cmp == 0)
            return fail(r, DW_EXPO_RW_EINVALID, at, "duplicate label name %s", QUOTE(q, l->name));
        c->sorted = cmp < 0;
    }
    c->prev = l->name;
    struct dw_expo_rw_decoder *d = r->d;
    if (c->nlabels > d->names_cap)
        d->names = dw_grow(d->names, &d->names_cap, c->nlabels, sizeof *d->names);
    d->names[c->nlabels - 1] = l->name;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return str_cmp(*(const struct dw_expo_str *)a, *(const struct dw_expo_str *)b);
}

/* An unsorted series: sort a copy of its names to find duplicates. */
static int check_duplicates(struct rw *r, const uint8_t *at, size_t n)
{
    struct dw_expo_str *names = r->d->names;
    char q[160];
    qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 1; i < n; i++)
        if (str_cmp(names[i - 1], names[i]) == 0)
            return fail(r, DW_EXPO_RW_EINVALID, at, "duplicate label name %s", QUOTE(q, names[i]));
    return 0;
}

static int count_sample(struct rw *r, const uint8_t *at)
{
    if (++r->samples > r->o.max_samples)
        return fail(r, DW_EXPO_RW_ELIMIT, at,
                    "more than %zu samples, over the limit max_samples=%zu", r->o.max_samples,
                    r->o.max_samples);
    return 0;
}

/* ---- collecting a series for delivery ---- */

/* The series being collected in the decoder's label and sample arrays. */
struct collect {
    size_t nl, ns;
    bool sorted;             /* labels so far are in name order */
    struct dw_expo_str name; /* the value of __name__ */
};

static inline void collect_label(struct dw_expo_rw_decoder *d, struct collect *k,
                                 const struct dw_expo_label *l)
{
    if (l->value.len == 0)
        return; /* empty means absent */
    if (k->nl == d->labels_cap)
        d->labels = dw_grow(d->labels, &d->labels_cap, k->nl + 1, sizeof *d->labels);
    if (k->nl > 0 && str_cmp(d->labels[k->nl - 1].name, l->name) > 0)
        k->sorted = false;
    if (is_metric_name_label(l->name))
        k->name = l->value;
    d->labels[k->nl++] = *l;
}

static inline struct dw_expo_rw_sample *next_sample(struct dw_expo_rw_decoder *d, struct collect *k)
{
    if (k->ns == d->samples_cap)
        d->samples = dw_grow(d->samples, &d->samples_cap, k->ns + 1, sizeof *d->samples);
    return &d->samples[k->ns++];
}

static int cmp_labels(const void *a, const void *b)
{
    return str_cmp(((const struct dw_expo_label *)a)->name,
                   ((const struct dw_expo_label *)b)->name);
}

static void terminate(struct dw_expo_str s)
{
    ((char *)s.ptr)[s.len] = '\0'; /* points into the decoder's own (writable) buffer */
}

/* Calls the handler with the collected series, which ends at end. */
static int hand_over(struct rw *r, const uint8_t *end, struct collect *k,
                     const struct dw_expo_rw_handler *h)
{
    struct dw_expo_rw_decoder *d = r->d;
    if (k->ns == 0)
        return 0;
    if (!k->sorted)
        qsort(d->labels, k->nl, sizeof *d->labels, cmp_labels);
    struct rw_cache *c = &d->cache;
    if (c->max_bytes) { /* keep the label bytes as they are for dw_expo_rw_remember() */
        c->cur_len = SIZE_MAX;
        if (c->raw) {
            if (c->raw_len > c->cur_cap)
                c->cur = dw_grow(c->cur, &c->cur_cap, c->raw_len, 1);
            memcpy(c->cur, c->raw, c->raw_len);
            c->cur_len = c->raw_len;
        }
    }
    uint8_t saved = *end; /* the next field's tag, or the spare byte */
    for (size_t i = 0; i < k->nl; i++) {
        terminate(d->labels[i].name);
        terminate(d->labels[i].value);
    }
    struct dw_expo_rw_series s = {.labels = d->labels,
                                  .nlabels = k->nl,
                                  .samples = d->samples,
                                  .nsamples = k->ns,
                                  .name = k->name,
                                  .index = r->series - 1};
    int rc = h->series(h->ctx, &s);
    *(uint8_t *)end = saved;
    if (rc != 0) {
        fail(r, DW_EXPO_RW_EABORTED, end, "stopped by the receiver (code %d)", rc);
        r->err->handler_rc = rc;
        return -1;
    }
    return 0;
}

/* ---- the series cache ---- */

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* A fast 64-bit hash of n bytes: two multiply-xorshift lanes, 16 bytes a round. */
static uint64_t bytes_hash(const uint8_t *p, size_t n)
{
    const uint64_t k1 = 0x9E3779B97F4A7C15ull, k2 = 0xC2B2AE3D27D4EB4Full;
    uint64_t a = (uint64_t)n * k1, b = k2;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a = (a ^ load64(p + i)) * k1;
        a ^= a >> 29;
        b = (b ^ load64(p + i + 8)) * k2;
        b ^= b >> 31;
    }
    if (n - i >= 8) {
        a = (a ^ load64(p + i)) * k1;
        a ^= a >> 29;
        i += 8;
    }
    if (i < n) {
        uint64_t w = 0;
        if (n >= 8) {
            w = load64(p + n - 8); /* overlaps bytes already mixed: still deterministic */
        } else {
            for (size_t k = i; k < n; k++)
                w = w << 8 | p[k];
        }
        b = (b ^ w) * k2;
        b ^= b >> 31;
    }
    uint64_t h = a ^ (b * k1);
    h ^= h >> 33; /* murmur3's finaliser: the table uses the low bits */
    h *= 0xFF51AFD7ED558CCDull;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ull;
    return h ^ (h >> 33);
}

static void cache_empty(struct rw_cache *c)
{
    if (c->n)
        memset(c->ents, 0, c->cap * sizeof *c->ents);
    c->n = 0;
    c->len = 0;
}

static void cache_release(struct rw_cache *c)
{
    free(c->ents);
    free(c->bytes);
    free(c->cur);
    memset(c, 0, sizeof *c);
}

static struct rw_cache_ent *cache_find(const struct rw_cache *c, const uint8_t *p, size_t n,
                                       uint64_t hash)
{
    if (!c->cap)
        return NULL;
    size_t mask = c->cap - 1;
    for (size_t j = hash & mask;; j = (j + 1) & mask) {
        struct rw_cache_ent *e = &c->ents[j];
        if (!e->len)
            return NULL;
        if (e->hash == hash && e->ref && e->len == n && memcmp(c->bytes + e->off, p, n) == 0)
            return e;
    }
}

/* Room for one more entry: rebuilds the table (and the bytes) without the tombstones. */
static void cache_grow(struct rw_cache *c)
{
    size_t live = 0, bytes = 0;
    for (size_t j = 0; j < c->cap; j++)
        if (c->ents[j].ref) {
            live++;
            bytes += c->ents[j].len;
        }
    size_t cap = 1024;
    while (cap < (live + 1) * 4)
        cap *= 2;
    struct rw_cache_ent *ents = dw_calloc(cap, sizeof *ents);
    uint8_t *nb = bytes ? dw_malloc(bytes) : NULL;
    size_t off = 0;
    for (size_t j = 0; j < c->cap; j++) {
        const struct rw_cache_ent *e = &c->ents[j];
        if (!e->ref)
            continue;
        size_t k = e->hash & (cap - 1);
        while (ents[k].len)
            k = (k + 1) & (cap - 1);
        ents[k] = *e;
        ents[k].off = (uint32_t)off;
        memcpy(nb + off, c->bytes + e->off, e->len);
        off += e->len;
    }
    free(c->ents);
    free(c->bytes);
    c->ents = ents;
    c->cap = cap;
    c->n = live;
    c->bytes = nb;
    c->len = c->bytes_cap = bytes;
}

static void cache_insert(struct rw_cache *c, const uint8_t *p, size_t n, uint64_t hash,
                         uint64_t ref)
{
    if (n > c->max_bytes)
        return;
    if (c->len + n > c->max_bytes)
        cache_empty(c); /* full: start over rather than track ages */
    if ((c->n + 1) * 2 > c->cap)
        cache_grow(c);
    if (c->len + n > c->bytes_cap) {
        size_t want = c->bytes_cap ? c->bytes_cap * 2 : 64 * 1024;
        while (want < c->len + n)
            want *= 2;
        c->bytes_cap = want < c->max_bytes ? want : c->max_bytes;
        c->bytes = dw_realloc(c->bytes, c->bytes_cap);
    }
    size_t j = hash & (c->cap - 1);
    while (c->ents[j].len)
        j = (j + 1) & (c->cap - 1);
    c->ents[j] = (struct rw_cache_ent){hash, ref, (uint32_t)c->len, (uint32_t)n};
    memcpy(c->bytes + c->len, p, n);
    c->len += n;
    c->n++;
}

/* Empties the cache when the label limits are not those its entries passed. */
static void cache_check_limits(struct rw_cache *c, const struct dw_expo_rw_opts *o)
{
    if (c->max_labels == o->max_labels && c->max_name_len == o->max_label_name_len &&
        c->max_value_len == o->max_label_value_len)
        return;
    cache_empty(c);
    c->max_labels = o->max_labels;
    c->max_name_len = o->max_label_name_len;
    c->max_value_len = o->max_label_value_len;
}

void dw_expo_rw_decoder_cache(struct dw_expo_rw_decoder *d, size_t max_bytes)
{
    cache_release(&d->cache);
    d->cache.max_bytes = max_bytes < UINT32_MAX ? max_bytes : UINT32_MAX;
}

void dw_expo_rw_remember(struct dw_expo_rw_decoder *d, uint64_t ref)
{
    struct rw_cache *c = &d->cache;
    if (!c->max_bytes || !ref)
        return;
    if (c->hit)
        c->hit->ref = ref;
    else if (c->cur_len != SIZE_MAX)
        cache_insert(c, c->cur, c->cur_len, c->cur_hash, ref);
}

/* End of the opening run of Label fields in [p, end): labels of under 128 bytes with a
   one-byte length, as every sender writes them. */
static inline const uint8_t *label_run(const uint8_t *p, const uint8_t *end)
{
    while (end - p >= 2 && p[0] == 0x0A && p[1] < 0x80 && p[1] <= end - p - 2)
        p += 2 + p[1];
    return p;
}

/*
 * Called before the series whose contents start at p: hashes up to four
 * series ahead (without checking anything: a peek) and prefetches their
 * cache slots, and the bytes in the slot of the series two ahead, so that
 * the lookups, each a cache miss otherwise, find them in the CPU cache.
 */
static void look_ahead(struct rw *r, const uint8_t *p, const uint8_t *end)
{
    const struct rw_cache *c = &r->d->cache;
    while (r->ahead_n && r->ahead[r->ahead_first].start < p) {
        r->ahead_first = (r->ahead_first + 1) & 7;
        r->ahead_n--;
    }
    while (r->ahead_n < 5 && r->ahead_pos && r->ahead_pos < end) {
        const uint8_t *q = r->ahead_pos, *s;
        uint64_t n;
        if ((q[0] != 0x0A && q[0] != 0x1A) || !(s = get_varint(q + 1, end, &n)) ||
            n > (uint64_t)(end - s)) {
            r->ahead_pos = NULL; /* something else: the lookups hash for themselves */
            break;
        }
        r->ahead_pos = s + n;
        if (q[0] == 0x1A) /* metadata */
            continue;
        struct rw_ahead *a = &r->ahead[(r->ahead_first + r->ahead_n++) & 7];
        a->start = s;
        a->len = (size_t)(label_run(s, s + n) - s);
        a->hash = a->len ? bytes_hash(s, a->len) : 0;
        if (a->len && c->cap)
            __builtin_prefetch(&c->ents[a->hash & (c->cap - 1)]);
    }
    if (r->ahead_n >= 3 && c->cap) {
        const struct rw_ahead *a = &r->ahead[(r->ahead_first + 2) & 7];
        const struct rw_cache_ent *e = &c->ents[a->hash & (c->cap - 1)];
        if (a->len && e->len) {
            const uint8_t *b = c->bytes + e->off;
            for (size_t i = 0; i < e->len; i += 64)
                __builtin_prefetch(b + i);
            __builtin_prefetch(b + e->len - 1);
        }
    }
}

/*
 * Single pass with the cache: a series whose opening Label fields are bytes
 * the cache knows skips the label checks and is delivered by ref. Returns 0
 * (delivered or empty), -1 (error), or 1: the caller checks and decodes the
 * series, which it may cache when c->raw is still set after that.
 */
static int cached_series(struct rw *r, const uint8_t *p, const uint8_t *end,
                         const struct dw_expo_rw_handler *h)
{
    struct rw_cache *c = &r->d->cache;
    const struct rw_ahead *a = &r->ahead[r->ahead_first];
    bool hashed = r->ahead_n && a->start == p;
    const uint8_t *q = hashed ? p + a->len : label_run(p, end);
    if (q == p)
        return 1;
    c->raw = p;
    c->raw_len = (size_t)(q - p);
    c->cur_hash = hashed ? a->hash : bytes_hash(p, c->raw_len);
    struct rw_cache_ent *e = cache_find(c, p, c->raw_len, c->cur_hash);
    if (!e)
        return 1;
    size_t samples_before = r->samples, ex = r->st->exemplars, hi = r->st->histograms;
    struct collect k = {.sorted = true};
    while (q < end) {
        const uint8_t *at = q, *sub_end = NULL;
        uint32_t field = 0;
        unsigned wt = 0;
        if (get_tag(r, &q, end, &field, &wt, "TimeSeries") != 0)
            return -1;
        switch (field) {
        case 1: /* a label after other fields: not the cached label set */
            r->samples = samples_before;
            r->st->exemplars = ex;
            r->st->histograms = hi;
            c->raw = NULL;
            return 1;
        case 2:
            if (get_sub(r, at, &q, end, wt, &sub_end, "TimeSeries.samples") ||
                read_sample(r, q, sub_end, next_sample(r->d, &k)) || count_sample(r, at))
                return -1;
            break;
        case 3:
            if (get_sub(r, at, &q, end, wt, &sub_end, "TimeSeries.exemplars"))
                return -1;
            r->st->exemplars++;
            break;
        case 4:
            if (get_sub(r, at, &q, end, wt, &sub_end, "TimeSeries.histograms"))
                return -1;
            r->st->histograms++;
            break;
        default:
            if (skip_field(r, at, &q, end, field, wt, "TimeSeries") != 0)
                return -1;
            continue;
        }
        q = sub_end;
    }
    if (k.ns == 0) {
        r->st->empty_series++;
        return 0;
    }
    struct dw_expo_rw_series s = {.samples = r->d->samples,
                                  .nsamples = k.ns,
                                  .name = empty_str,
                                  .index = r->series - 1,
                                  .ref = e->ref};
    c->hit = e;
    int rc = h->series(h->ctx, &s);
    c->hit = NULL;
    if (rc == DW_EXPO_RW_STALE) { /* forget it; the caller decodes the labels */
        e->ref = 0;
        r->samples = samples_before;
        r->st->exemplars = ex;
        r->st->histograms = hi;
        return 1;
    }
    if (rc != 0) {
        fail(r, DW_EXPO_RW_EABORTED, end, "stopped by the receiver (code %d)", rc);
        r->err->handler_rc = rc;
        return -1;
    }
    return 0;
}

/* ---- pass 1: checking ---- */

/*
 * One TimeSeries in [p, end). With a handler (single pass) the series is
 * also collected and handed over once it has passed every check.
 */
static int check_series(struct rw *r, const uint8_t *p, const uint8_t *end,
                        const struct dw_expo_rw_handler *h)
{
    const uint8_t *start = p;
    struct check c = {.sorted = true};
    struct collect k = {.sorted = true};
    struct dw_expo_rw_sample ignored;
    struct rw_cache *cache = &r->d->cache;
    cache->raw = NULL;
    if (h && cache->max_bytes) {
        int rc = cached_series(r, p, end, h);
        if (rc <= 0)
            return rc;
    }
    size_t samples_before = r->samples;
    while (p < end) {
        const uint8_t *at = p, *sub_end = NULL;
        uint32_t field = 0;
        unsigned wt = 0;
        struct dw_expo_label l;
        if (get_tag(r, &p, end, &field, &wt, "TimeSeries") != 0)
            return -1;
        switch (field) {
        case 1:
            if (get_sub(r, at, &p, end, wt, &sub_end, "TimeSeries.labels") ||
                read_label(r, p, sub_end, &l) || check_label(r, at, &c, &l))
                return -1;
            if (cache->raw && at >= cache->raw + cache->raw_len)
                cache->raw = NULL; /* labels beyond the opening run: not cacheable */
            if (h)
                collect_label(r->d, &k, &l);
            break;
        case 2:
            if (get_sub(r, at, &p, end, wt, &sub_end, "TimeSeries.samples") ||
                read_sample(r, p, sub_end, h ? next_sample(r->d, &k) : &ignored) ||
                count_sample(r, at))
                return -1;
            break;
        case 3:
            if (get_sub(r, at, &p, end, wt, &sub_end, "TimeSeries.exemplars"))
                return -1;
            r->st->exemplars++;
            break;
        case 4:
            if (get_sub(r, at, &p, end, wt, &sub_end, "TimeSeries.histograms"))
                return -1;
            r->st->histograms++;
            break;
        default:
            if (skip_field(r, at, &p, end, field, wt, "TimeSeries") != 0)
                return -1;
            continue;
        }
        p = sub_end;
    }
    if (!c.sorted && check_duplicates(r, start, c.nlabels) != 0)
        return -1;
    if (!c.has_name)
        return fail(r, DW_EXPO_RW_EINVALID, start, "series has no __name__ label");
    if (r->samples == samples_before)
        r->st->empty_series++;
    return h ? hand_over(r, end, &k, h) : 0;
}

/* ---- pass 2: delivery ---- */

/* Decodes one TimeSeries in [p, end) that pass 1 checked and hands it over. */
static int deliver_series(struct rw *r, const uint8_t *p, const uint8_t *end,
                          const struct dw_expo_rw_handler *h)
{
    struct collect k = {.sorted = true};
    while (p < end) {
        const uint8_t *at = p, *sub_end = NULL;
        uint32_t field = 0;
        unsigned wt = 0;
        struct dw_expo_label l;
        if (get_tag(r, &p, end, &field, &wt, "TimeSeries") != 0)
            return -1;
        if (field == 1 || field == 2) {
            if (get_sub(r, at, &p, end, wt, &sub_end, "TimeSeries field"))
                return -1;
            if (field == 1) {
                if (read_label(r, p, sub_end, &l) != 0)
                    return -1;
                collect_label(r->d, &k, &l);
            } else if (read_sample(r, p, sub_end, next_sample(r->d, &k)) != 0) {
                return -1;
            }
            p = sub_end;
        } else if (skip_field(r, at, &p, end, field, wt, "TimeSeries") != 0) {
            return -1;
        }
    }
    return hand_over(r, end, &k, h);
}

/* ---- the request ---- */

/* WriteRequest in [p, end): checks (pass 1) or delivers (pass 2) every series. */
static int walk(struct rw *r, const uint8_t *p, const uint8_t *end,
                const struct dw_expo_rw_handler *h)
{
    while (p < end) {
        const uint8_t *at = p, *sub_end = NULL;
        uint32_t field = 0;
        unsigned wt = 0;
        r->series = 0;
        if (get_tag(r, &p, end, &field, &wt, "WriteRequest") != 0)
            return -1;
        if (field == 1) {
            if (get_sub(r, at, &p, end, wt, &sub_end, "WriteRequest.timeseries"))
                return -1;
            r->series = ++r->st->series;
            if (r->series > r->o.max_series)
                return fail(r, DW_EXPO_RW_ELIMIT, at,
                            "more than %zu series, over the limit max_series=%zu", r->o.max_series,
                            r->o.max_series);
            if (h && !r->deliver && r->d->cache.max_bytes)
                look_ahead(r, p, end);
            int rc = r->deliver ? deliver_series(r, p, sub_end, h) : check_series(r, p, sub_end, h);
            if (rc != 0)
                return -1;
            p = sub_end;
        } else if (field == 3) {
            if (get_sub(r, at, &p, end, wt, &sub_end, "WriteRequest.metadata"))
                return -1;
            r->st->metadata++;
            p = sub_end;
        } else if (skip_field(r, at, &p, end, field, wt, "WriteRequest") != 0) {
            return -1;
        }
    }
    r->series = 0;
    return 0;
}

static size_t or_default(size_t v, size_t def)
{
    return v ? v : def;
}

static void resolve_opts(struct dw_expo_rw_opts *o, const struct dw_expo_rw_opts *in)
{
    struct dw_expo_rw_opts z = {0};
    if (!in)
        in = &z;
    o->max_decoded_len = or_default(in->max_decoded_len, DW_EXPO_RW_DEFAULT_MAX_DECODED_LEN);
    o->max_series = or_default(in->max_series, DW_EXPO_RW_DEFAULT_MAX_SERIES);
    o->max_samples = or_default(in->max_samples, DW_EXPO_RW_DEFAULT_MAX_SAMPLES);
    o->max_labels = or_default(in->max_labels, DW_EXPO_DEFAULT_MAX_LABELS);
    o->max_label_name_len = or_default(in->max_label_name_len, DW_EXPO_DEFAULT_MAX_LABEL_NAME_LEN);
    o->max_label_value_len =
        or_default(in->max_label_value_len, DW_EXPO_DEFAULT_MAX_LABEL_VALUE_LEN);
    o->single_pass = in->single_pass;
}

/* Both passes over the len protobuf bytes at d->buf (which has a spare byte after them). */
static int run(struct dw_expo_rw_decoder *d, const struct dw_expo_rw_opts *opts, size_t len,
               const struct dw_expo_rw_handler *h, struct dw_expo_rw_stats *st,
               struct dw_expo_rw_error *err)
{
    struct rw r = {.d = d, .base = (const uint8_t *)d->buf, .st = st, .err = err};
    resolve_opts(&r.o, opts);
    d->cache.raw = NULL;
    d->cache.cur_len = SIZE_MAX;
    if (d->cache.max_bytes)
        cache_check_limits(&d->cache, &r.o);
    st->decoded_len = len;
    const uint8_t *p = r.base, *end = r.base + len;
    r.ahead_pos = p;
    bool deliver = h && h->series;
    int rc = walk(&r, p, end, deliver && r.o.single_pass ? h : NULL);
    st->samples = r.samples;
    if (rc != 0)
        return -1;
    if (!deliver || r.o.single_pass)
        return 0;
    struct dw_expo_rw_stats again = {0};
    r.deliver = true;
    r.st = &again;
    r.samples = 0;
    return walk(&r, p, end, h);
}

/* Makes room for n bytes plus the spare one; the old contents are not kept. */
static void reserve(struct dw_expo_rw_decoder *d, size_t n)
{
    size_t need = n + 1;
    bool oversized = d->cap > RW_KEEP_BYTES && need < d->cap / 8;
    if (need <= d->cap && !oversized)
        return;
    free(d->buf);
    d->cap = need < 4096 ? 4096 : need;
    d->buf = dw_malloc(d->cap);
}

static void decoder_release(struct dw_expo_rw_decoder *d)
{
    cache_release(&d->cache);
    free(d->buf);
    free(d->labels);
    free(d->samples);
    free(d->names);
}

struct dw_expo_rw_decoder *dw_expo_rw_decoder_new(void)
{
    return dw_calloc(1, sizeof(struct dw_expo_rw_decoder));
}

void dw_expo_rw_decoder_free(struct dw_expo_rw_decoder **d)
{
    if (!d || !*d)
        return;
    decoder_release(*d);
    free(*d);
    *d = NULL;
}

void dw_expo_rw_opts_init(struct dw_expo_rw_opts *opts)
{
    resolve_opts(opts, NULL);
}

static void start(struct dw_expo_rw_stats **st, struct dw_expo_rw_stats *local,
                  struct dw_expo_rw_error *err)
{
    memset(err, 0, sizeof *err);
    if (!*st)
        *st = local;
    memset(*st, 0, sizeof **st);
}

static int fail_plain(struct dw_expo_rw_error *err, enum dw_expo_rw_errcode code, const char *fmt,
                      ...) DW_PRINTF(3, 4);

/* An error about the body as a whole (no offset, no series). */
static int fail_plain(struct dw_expo_rw_error *err, enum dw_expo_rw_errcode code, const char *fmt,
                      ...)
{
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

/* The snappy framing format's stream identifier chunk. */
static bool is_framed(const char *body, size_t len)
{
    return len >= 10 && memcmp(body, "\xff\x06\x00\x00sNaPpY", 10) == 0;
}

static int decompress(struct dw_expo_rw_decoder *d, const struct dw_expo_rw_opts *opts,
                      const char *body, size_t len, size_t *out_len, struct dw_expo_rw_error *err)
{
    size_t n = 0, max = opts && opts->max_decoded_len ? opts->max_decoded_len
                                                      : DW_EXPO_RW_DEFAULT_MAX_DECODED_LEN;
    if (is_framed(body, len))
        return fail_plain(err, DW_EXPO_RW_ESNAPPY,
                          "body uses the snappy framing format; remote write needs the block "
                          "format");
    if (snappy_uncompressed_length(body, len, &n) != SNAPPY_OK)
        return fail_plain(err, DW_EXPO_RW_ESNAPPY,
                          "body is not snappy-compressed: bad length header (%zu bytes)", len);
    if (n > max)
        return fail_plain(err, DW_EXPO_RW_ELIMIT,
                          "body decompresses to %zu bytes, over the limit max_decoded_len=%zu", n,
                          max);
    reserve(d, n);
    size_t got = d->cap;
    if (snappy_uncompress(body, len, d->buf, &got) != SNAPPY_OK || got != n)
        return fail_plain(err, DW_EXPO_RW_ESNAPPY,
                          "body is not a valid snappy block (%zu bytes, announcing %zu)", len, n);
    *out_len = n;
    return 0;
}

int dw_expo_rw_decode(struct dw_expo_rw_decoder *d, const struct dw_expo_rw_opts *opts,
                      const void *body, size_t len, const struct dw_expo_rw_handler *h,
                      struct dw_expo_rw_stats *stats, struct dw_expo_rw_error *err)
{
    struct dw_expo_rw_stats local;
    struct dw_expo_rw_decoder tmp = {0};
    start(&stats, &local, err);
    struct dw_expo_rw_decoder *use = d ? d : &tmp;
    size_t n = 0;
    int rc = decompress(use, opts, body ? body : "", len, &n, err);
    if (rc == 0)
        rc = run(use, opts, n, h, stats, err);
    if (!d)
        decoder_release(&tmp);
    return rc;
}

int dw_expo_rw_decode_raw(struct dw_expo_rw_decoder *d, const struct dw_expo_rw_opts *opts,
                          const void *pb, size_t len, const struct dw_expo_rw_handler *h,
                          struct dw_expo_rw_stats *stats, struct dw_expo_rw_error *err)
{
    struct dw_expo_rw_stats local;
    struct dw_expo_rw_decoder tmp = {0};
    start(&stats, &local, err);
    size_t max =
        opts && opts->max_decoded_len ? opts->max_decoded_len : DW_EXPO_RW_DEFAULT_MAX_DECODED_LEN;
    if (len > max)
        return fail_plain(err, DW_EXPO_RW_ELIMIT,
                          "body is %zu bytes, over the limit max_decoded_len=%zu", len, max);
    struct dw_expo_rw_decoder *use = d ? d : &tmp;
    reserve(use, len);
    if (len)
        memcpy(use->buf, pb, len);
    int rc = run(use, opts, len, h, stats, err);
    if (!d)
        decoder_release(&tmp);
    return rc;
}

/* ---- headers ---- */

static void trim(const char **s, const char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t'))
        (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

static bool span_eq(const char *s, const char *e, const char *word, bool nocase)
{
    size_t n = strlen(word);
    if ((size_t)(e - s) != n)
        return false;
    return nocase ? strncasecmp(s, word, n) == 0 : memcmp(s, word, n) == 0;
}

/* One "key=value" parameter of the Content-Type in [s, e). */
static int check_param(const char *s, const char *e, char *msg, size_t msgsize)
{
    const char *eq = memchr(s, '=', (size_t)(e - s));
    if (!eq) {
        snprintf(msg, msgsize, "Content-Type parameter \"%.*s\" is not key=value", (int)(e - s), s);
        return -1;
    }
    const char *ks = s, *ke = eq, *vs = eq + 1, *ve = e;
    trim(&ks, &ke);
    trim(&vs, &ve);
    if (!span_eq(ks, ke, "proto", true) || span_eq(vs, ve, "prometheus.WriteRequest", false))
        return 0;
    snprintf(
        msg, msgsize,
        "protobuf message %.*s is not accepted; only prometheus.WriteRequest (remote write 1.0)",
        (int)(ve - vs), vs);
    return -1;
}

int dw_expo_rw_check_headers(const char *content_type, const char *content_encoding, char *msg,
                             size_t msgsize)
{
    if (content_encoding && *content_encoding) {
        const char *s = content_encoding, *e = s + strlen(s);
        trim(&s, &e);
        if (!span_eq(s, e, "snappy", true)) {
            snprintf(msg, msgsize, "Content-Encoding \"%s\" is not accepted; only snappy",
                     content_encoding);
            return -1;
        }
    }
    if (!content_type || !*content_type)
        return 0; /* Prometheus assumes a 1.0 message */
    const char *s = content_type, *end = s + strlen(s);
    const char *e = memchr(s, ';', (size_t)(end - s));
    e = e ? e : end;
    const char *ms = s, *me = e;
    trim(&ms, &me);
    if (!span_eq(ms, me, "application/x-protobuf", true)) {
        snprintf(msg, msgsize,
                 "Content-Type \"%s\" is not accepted; expected application/x-protobuf",
                 content_type);
        return -1;
    }
    while (e < end) {
        s = e + 1;
        e = memchr(s, ';', (size_t)(end - s));
        e = e ? e : end;
        if (check_param(s, e, msg, msgsize) != 0)
            return -1;
    }
    return 0;
}

const char *dw_expo_rw_errcode_name(enum dw_expo_rw_errcode code)
{
    switch (code) {
    case DW_EXPO_RW_OK: return "ok";
    case DW_EXPO_RW_ESNAPPY: return "snappy";
    case DW_EXPO_RW_EPROTO: return "protobuf";
    case DW_EXPO_RW_EINVALID: return "invalid";
    case DW_EXPO_RW_ELIMIT: return "limit";
    case DW_EXPO_RW_EABORTED: return "aborted";
    }
    return "unknown";
}
