/*
 * expo.h - the exposition-format parser: Prometheus text format 0.0.4 and
 * OpenMetrics 1.0 text. Shared by import (/api/v1/import/prometheus), push
 * (/api/v1/push) and the scraper.
 *
 * The caller hands over a whole request body and gets one callback per
 * sample and one per metadata line. Nothing is copied unless it must be:
 * names and label values without escapes point straight into the caller's
 * buffer, unescaped ones into the parser's scratch memory. Every string handed
 * to a callback is borrowed for the duration of that callback only.
 *
 * All or nothing: by default dw_expo_parse() validates the whole input first
 * (syntax, charsets, UTF-8, family rules and every limit) and only then
 * delivers, so a rejected input has invoked no callback at all. Callers that
 * collect into a batch they can throw away may ask for a single pass instead.
 */
#ifndef DW_EXPO_H
#define DW_EXPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dw_expo_format {
    DW_EXPO_AUTO = 0,    /* pick from dw_expo_opts.content_type */
    DW_EXPO_TEXT,        /* Prometheus text 0.0.4 */
    DW_EXPO_OPENMETRICS, /* OpenMetrics 1.0 text */
    DW_EXPO_UNSUPPORTED, /* a Content-Type this parser cannot read (protobuf) */
};

/* A metric family's type. UNTYPED is text's "untyped" and OpenMetrics' "unknown". */
enum dw_expo_type {
    DW_EXPO_UNTYPED = 0,
    DW_EXPO_COUNTER,
    DW_EXPO_GAUGE,
    DW_EXPO_HISTOGRAM,
    DW_EXPO_SUMMARY,
    DW_EXPO_GAUGEHISTOGRAM, /* OpenMetrics only */
    DW_EXPO_STATESET,       /* OpenMetrics only */
    DW_EXPO_INFO,           /* OpenMetrics only */
};

/* A borrowed byte string; NOT NUL-terminated. */
struct dw_expo_str {
    const char *ptr;
    size_t len;
};

struct dw_expo_label {
    struct dw_expo_str name;
    struct dw_expo_str value; /* unescaped, valid UTF-8, may be empty */
};

struct dw_expo_sample {
    struct dw_expo_str name;            /* as written: "rpc_seconds_bucket" */
    struct dw_expo_str family;          /* the family it belongs to: "rpc_seconds" */
    enum dw_expo_type type;             /* the family's type */
    const struct dw_expo_label *labels; /* input order, no duplicates, no __name__ */
    size_t nlabels;
    double value;
    bool has_timestamp;
    int64_t timestamp_ms; /* text: as written; OpenMetrics: seconds * 1000, truncated */
    bool created;         /* an OpenMetrics _created sample (only with keep_created) */
    size_t line;          /* 1-based input line */
};

enum dw_expo_meta_kind { DW_EXPO_META_HELP, DW_EXPO_META_TYPE, DW_EXPO_META_UNIT };

struct dw_expo_meta {
    enum dw_expo_meta_kind kind;
    struct dw_expo_str family;
    enum dw_expo_type type;  /* TYPE lines */
    struct dw_expo_str text; /* HELP: unescaped text; UNIT: the unit; TYPE: the type word */
    size_t line;
};

/*
 * Callbacks; either may be NULL. Returning non-zero stops the parse:
 * dw_expo_parse() then fails with DW_EXPO_EABORTED and keeps the value.
 */
struct dw_expo_handler {
    int (*sample)(void *ctx, const struct dw_expo_sample *s);
    int (*meta)(void *ctx, const struct dw_expo_meta *m);
    void *ctx;
};

/* Defaults used for limits left at 0 (see docs/internals/expo.md). */
#define DW_EXPO_DEFAULT_MAX_SAMPLES 10000000u
#define DW_EXPO_DEFAULT_MAX_LABELS 64u
#define DW_EXPO_DEFAULT_MAX_LABEL_NAME_LEN 256u
#define DW_EXPO_DEFAULT_MAX_LABEL_VALUE_LEN 4096u
#define DW_EXPO_DEFAULT_MAX_LINE_LEN (1u << 20)

/*
 * Options. A zeroed struct is valid: AUTO with no Content-Type (text) and the
 * default limits. Every limit counts bytes (names and values) or items; an
 * input over any of them is rejected whole with DW_EXPO_ELIMIT.
 */
struct dw_expo_opts {
    enum dw_expo_format format;
    const char *content_type; /* read when format is AUTO; NULL or "" means text */
    size_t max_samples;       /* samples delivered per input */
    size_t max_labels;        /* per series, counting __name__ like Prometheus' label_limit */
    size_t max_label_name_len;
    size_t max_label_value_len; /* also bounds the metric name, __name__'s value */
    size_t max_line_len;        /* bytes, without the newline */
    bool keep_created;          /* deliver OpenMetrics _created samples (default: drop) */
    bool single_pass;           /* deliver while parsing; callbacks may run before an error */
};

enum dw_expo_errcode {
    DW_EXPO_OK = 0,
    DW_EXPO_ESYNTAX,  /* malformed input or a broken family rule */
    DW_EXPO_ELIMIT,   /* input over one of the limits */
    DW_EXPO_EFORMAT,  /* unsupported Content-Type */
    DW_EXPO_EABORTED, /* a callback returned non-zero */
};

/* Caller-owned error; needs no release. */
struct dw_expo_error {
    enum dw_expo_errcode code;
    size_t line;    /* 1-based; 0 when the error has no position */
    size_t col;     /* 1-based byte column */
    int handler_rc; /* DW_EXPO_EABORTED: what the callback returned */
    char msg[320];  /* "line 12 col 20: expected '=' after label name \"code\"" */
};

/* Reusable parser state (scratch buffers, family table); one per thread. */
struct dw_expo_parser;

/** A parser to reuse across inputs so its scratch memory is kept warm. */
struct dw_expo_parser *dw_expo_parser_new(void);
/** Frees the parser and nulls *p; NULL or *p == NULL is a no-op. */
void dw_expo_parser_free(struct dw_expo_parser **p);

/** Fills opts with AUTO format, no Content-Type and the default limits. */
void dw_expo_opts_init(struct dw_expo_opts *opts);

/**
 * The format a Content-Type names: text/plain (any version) -> TEXT,
 * application/openmetrics-text -> OPENMETRICS, the protobuf types ->
 * UNSUPPORTED, NULL/empty/anything else -> TEXT (Prometheus' fallback).
 * Never returns AUTO.
 */
enum dw_expo_format dw_expo_format_detect(const char *content_type);

/**
 * Parses data[0..len) (need not be NUL-terminated). p may be NULL for a
 * one-off temporary parser, h may be NULL to validate only. Returns 0, or -1
 * with *err filled (err may not be NULL). Unless opts->single_pass, no
 * callback has run when it fails with anything but DW_EXPO_EABORTED.
 */
int dw_expo_parse(struct dw_expo_parser *p, const struct dw_expo_opts *opts, const char *data,
                  size_t len, const struct dw_expo_handler *h, struct dw_expo_error *err);

/** "counter", "gauge", ... ("untyped" for DW_EXPO_UNTYPED). */
const char *dw_expo_type_name(enum dw_expo_type type);

/* ==== remote write ====
 *
 * Prometheus remote write 1.0 (POST /api/v1/write): a snappy *block*
 * (not framed) compressed protobuf prometheus.WriteRequest, sent with
 * Content-Encoding: snappy, Content-Type: application/x-protobuf and
 * X-Prometheus-Remote-Write-Version: 0.1.0. See docs/internals/remote-write.md.
 *
 * The decoder is hand-written and zero-copy: the body is decompressed once
 * into the decoder's buffer and every label string handed out points into
 * it. All or nothing like dw_expo_parse(): pass 1 checks the whole request
 * (protobuf structure, label rules, every limit) and pass 2 delivers one
 * callback per series, so a rejected request has invoked no callback at all.
 * Callers that collect into a batch they can throw away (the tsdb appender)
 * may ask for a single pass instead, which is cheaper.
 * Exemplars, native histograms and metadata are skipped (and counted);
 * unknown fields are skipped by protobuf rules.
 */

struct dw_buf; /* core/core.h */

/* One sample; the value is bit-exact (stale markers 0x7ff0000000000002 survive). */
struct dw_expo_rw_sample {
    double value;
    int64_t timestamp_ms;
};

/*
 * One series. Delivered by the decoder: labels sorted by name (bytewise),
 * unique, without empty values (an empty value means "absent"), __name__
 * included; each name and value is NUL-terminated (ptr[len] == '\0') for the
 * duration of the callback, so ptr can be used as a C string. Given to the
 * encoder: labels and samples are written in the order given (empty values
 * and zero fields omitted as proto3 does); name and index are ignored.
 */
struct dw_expo_rw_series {
    const struct dw_expo_label *labels;
    size_t nlabels;
    const struct dw_expo_rw_sample *samples; /* request order (senders send them in time order) */
    size_t nsamples;                         /* >= 1 when delivered */
    struct dw_expo_str name;                 /* the value of __name__ */
    size_t index;                            /* 0-based position among the request's series */
    uint64_t ref; /* non-zero: delivered from the series cache (see dw_expo_rw_decoder_cache):
                     labels NULL, nlabels 0, name empty; ref is what the callback remembered */
};

/*
 * Callback per series with at least one sample; may be NULL. Returning
 * non-zero stops the decode: it then fails with DW_EXPO_RW_EABORTED, except
 * DW_EXPO_RW_STALE for a series delivered by ref (s->ref != 0), which means
 * "that ref is no longer valid, nothing of this series was used": the cache
 * entry is forgotten and the series is checked, decoded and delivered again
 * with its labels.
 */
#define DW_EXPO_RW_STALE 0x57A1E
struct dw_expo_rw_handler {
    int (*series)(void *ctx, const struct dw_expo_rw_series *s);
    void *ctx;
};

#define DW_EXPO_RW_DEFAULT_MAX_DECODED_LEN (64u << 20)
#define DW_EXPO_RW_DEFAULT_MAX_SERIES 1000000u
#define DW_EXPO_RW_DEFAULT_MAX_SAMPLES 10000000u

/*
 * Limits; a zeroed struct (or dw_expo_rw_opts_init()) gives the defaults.
 * Going over any of them rejects the whole request with DW_EXPO_RW_ELIMIT.
 */
struct dw_expo_rw_opts {
    size_t max_decoded_len;     /* protobuf bytes after snappy, checked before allocating */
    size_t max_series;          /* TimeSeries per request, with or without samples */
    size_t max_samples;         /* samples per request */
    size_t max_labels;          /* labels per series as sent, __name__ and empty values included */
    size_t max_label_name_len;  /* bytes */
    size_t max_label_value_len; /* bytes; also bounds the metric name */
    bool single_pass;           /* check and deliver each series in one pass: callbacks
                                   may run before an error (the caller rolls back) */
};

enum dw_expo_rw_errcode {
    DW_EXPO_RW_OK = 0,
    DW_EXPO_RW_ESNAPPY,  /* the body is not a snappy block */
    DW_EXPO_RW_EPROTO,   /* malformed protobuf (truncated, bad length, wrong wire type) */
    DW_EXPO_RW_EINVALID, /* well-formed, but a series breaks a label rule */
    DW_EXPO_RW_ELIMIT,   /* over one of the limits */
    DW_EXPO_RW_EABORTED, /* a callback returned non-zero */
};

/* Caller-owned error; needs no release. Every code but EABORTED means HTTP 400. */
struct dw_expo_rw_error {
    enum dw_expo_rw_errcode code;
    size_t offset;  /* byte offset in the decompressed protobuf; 0 for snappy errors */
    size_t series;  /* 1-based series at fault; 0 when none */
    int handler_rc; /* DW_EXPO_RW_EABORTED: what the callback returned */
    char msg[320];  /* "series 3 (offset 412): duplicate label name \"job\"" */
};

/* What a request held; filled on success (on failure: counted up to the error). */
struct dw_expo_rw_stats {
    size_t decoded_len;  /* protobuf bytes */
    size_t series;       /* TimeSeries, with or without samples */
    size_t samples;      /* delivered */
    size_t empty_series; /* series without samples: validated, not delivered */
    size_t exemplars;    /* skipped */
    size_t histograms;   /* skipped (native histograms) */
    size_t metadata;     /* skipped (WriteRequest.metadata) */
};

/* Reusable decoder state (decompression buffer, label and sample arrays); one per thread. */
struct dw_expo_rw_decoder;

/** A decoder to reuse across requests so its buffers stay allocated. */
struct dw_expo_rw_decoder *dw_expo_rw_decoder_new(void);
/** Frees the decoder and nulls *d; NULL or *d == NULL is a no-op. */
void dw_expo_rw_decoder_free(struct dw_expo_rw_decoder **d);

/** Fills opts with the default limits. */
void dw_expo_rw_opts_init(struct dw_expo_rw_opts *opts);

/**
 * The series cache, for single-pass decoding: a series' label bytes as they
 * sit in the protobuf (its opening run of Label fields) mapped to a
 * reference the callback gave with dw_expo_rw_remember(). When a series'
 * label bytes are found (by hash, confirmed by comparing the bytes) it is
 * not checked or decoded again but delivered with s->ref: the label rules
 * and limits are functions of those bytes, and the cache is emptied when
 * the limits change. Samples, max_series and max_samples are checked as
 * always. At most max_bytes of label bytes are kept (all is dropped when
 * full); 0 turns the cache off. Either way the cache starts empty.
 */
void dw_expo_rw_decoder_cache(struct dw_expo_rw_decoder *d, size_t max_bytes);

/**
 * From inside the series callback: remembers ref (non-zero) for the label
 * bytes of the series being delivered, so that the next series with the same
 * bytes comes by ref. A no-op without a cache, in two-pass mode or when the
 * series' labels are not one opening run of fields.
 */
void dw_expo_rw_remember(struct dw_expo_rw_decoder *d, uint64_t ref);

/**
 * Checks a request's Content-Type and Content-Encoding like Prometheus'
 * receiver: either may be NULL or empty (then protobuf and snappy are
 * assumed); the type must be application/x-protobuf, with proto= absent or
 * prometheus.WriteRequest; the encoding snappy (any case). Returns 0, or -1
 * with a reason in msg (the HTTP layer answers 415).
 */
int dw_expo_rw_check_headers(const char *content_type, const char *content_encoding, char *msg,
                             size_t msgsize);

/**
 * Decodes a snappy-compressed WriteRequest body. d may be NULL for a one-off
 * decoder, h NULL to validate only, stats NULL. The uncompressed length in
 * the snappy header is checked against max_decoded_len before anything is
 * allocated. Returns 0, or -1 with *err filled (err may not be NULL); unless
 * the code is EABORTED or opts->single_pass is set, no callback has run.
 * Strings handed to the callback live in d's buffer until it returns.
 */
int dw_expo_rw_decode(struct dw_expo_rw_decoder *d, const struct dw_expo_rw_opts *opts,
                      const void *body, size_t len, const struct dw_expo_rw_handler *h,
                      struct dw_expo_rw_stats *stats, struct dw_expo_rw_error *err);

/** Like dw_expo_rw_decode() for an uncompressed protobuf WriteRequest (copied first). */
int dw_expo_rw_decode_raw(struct dw_expo_rw_decoder *d, const struct dw_expo_rw_opts *opts,
                          const void *pb, size_t len, const struct dw_expo_rw_handler *h,
                          struct dw_expo_rw_stats *stats, struct dw_expo_rw_error *err);

/**
 * Appends a WriteRequest with these series to out as a snappy block, ready
 * to POST. Nothing is validated (tests build invalid requests with it).
 * Returns 0, or -1 when out's maximum would be exceeded (out unchanged).
 */
int dw_expo_rw_encode(const struct dw_expo_rw_series *series, size_t n, struct dw_buf *out);
/** Same as dw_expo_rw_encode(), uncompressed protobuf. */
int dw_expo_rw_encode_raw(const struct dw_expo_rw_series *series, size_t n, struct dw_buf *out);

/** "snappy", "protobuf", "invalid", "limit", "aborted" ("ok" for DW_EXPO_RW_OK). */
const char *dw_expo_rw_errcode_name(enum dw_expo_rw_errcode code);

#endif
