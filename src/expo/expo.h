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

#endif
