/*
 * core.h - the leaf module every other dojowatch module builds on.
 *
 * What lives here: allocation that aborts on out-of-memory, bounded growable
 * buffers, structured (logfmt) logging, the one injectable clock, parsing and
 * formatting of durations, byte sizes and RFC 3339 times, diagnostics with
 * file:line:col, and the registry of the daemon's own metrics.
 *
 * Nothing here depends on any other dojowatch module.
 */
#ifndef DW_CORE_H
#define DW_CORE_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DW_VERSION "0.1.0"

#if defined(__GNUC__)
#define DW_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define DW_NORETURN __attribute__((noreturn))
#define DW_SENTINEL __attribute__((sentinel))
#else
#define DW_PRINTF(a, b)
#define DW_NORETURN
#define DW_SENTINEL
#endif

#define DW_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- allocation: every wrapper aborts with a log line on out-of-memory ---- */

void *dw_malloc(size_t n);
void *dw_calloc(size_t count, size_t size);
void *dw_realloc(void *p, size_t n);
/** Grows an array to hold at least `need` items of `size`; doubles capacity. */
void *dw_grow(void *p, size_t *cap, size_t need, size_t size);
char *dw_strdup(const char *s);
char *dw_strndup(const char *s, size_t n);
/** printf into a fresh heap string. */
char *dw_asprintf(const char *fmt, ...) DW_PRINTF(1, 2);
char *dw_vasprintf(const char *fmt, va_list ap) DW_PRINTF(1, 0);
/** Sets *err (freeing what it held) to the formatted message; err NULL: nothing. */
void dw_set_err(char **err, const char *fmt, ...) DW_PRINTF(2, 3);
DW_NORETURN void dw_oom(size_t n);

/** Copies at most size-1 bytes and always terminates; returns strlen(src). */
size_t dw_strlcpy(char *dst, const char *src, size_t size);
bool dw_str_has_prefix(const char *s, const char *prefix);
bool dw_str_has_suffix(const char *s, const char *suffix);
/**
 * "Did you mean": the first of the n candidates closest to word within an
 * edit distance of 2 and shorter than the word itself (so "a" does not
 * suggest "b"), or NULL. Words of 64 bytes or more never match.
 */
const char *dw_suggest(const char *word, const char *const *cands, size_t n);

/* ---- growable buffer with a maximum size ---- */

struct dw_buf {
    char *data; /* heap, always NUL-terminated when len > 0 or after append */
    size_t len;
    size_t cap;
    size_t max; /* appends that would exceed max fail with -1 and set overflow */
    bool overflow;
};

/** Sets up caller-owned memory; max 0 means SIZE_MAX. */
void dw_buf_init(struct dw_buf *b, size_t max);
/** Frees what the buffer holds and re-initialises it with the same max. */
void dw_buf_clear(struct dw_buf *b);
void dw_buf_release(struct dw_buf *b);
int dw_buf_append(struct dw_buf *b, const void *data, size_t n);
int dw_buf_puts(struct dw_buf *b, const char *s);
int dw_buf_putc(struct dw_buf *b, char c);
int dw_buf_printf(struct dw_buf *b, const char *fmt, ...) DW_PRINTF(2, 3);
int dw_buf_vprintf(struct dw_buf *b, const char *fmt, va_list ap) DW_PRINTF(2, 0);
/** Appends v escaped as a Prometheus label value (\\, \", \n), without quotes. */
void dw_buf_put_label_value(struct dw_buf *b, const char *v);
/** Hands the heap string to the caller (never NULL) and re-initialises b. */
char *dw_buf_steal(struct dw_buf *b);
/** Appends s with & < > " ' as XML / HTML character references (TwiML, HTML mail, pages). */
void dw_buf_xml_escape(struct dw_buf *b, const char *s);
/** The same for n bytes (NUL bytes kept); -1 when the buffer's maximum was reached. */
int dw_buf_xml_escape_n(struct dw_buf *b, const char *s, size_t n);
/** Appends s percent-encoded for a URL or a form (A-Z a-z 0-9 - . _ ~ as they are). */
void dw_buf_url_encode(struct dw_buf *b, const char *s);

/* ---- logging (logfmt to stderr) ---- */

enum dw_log_level { DW_LOG_DEBUG, DW_LOG_INFO, DW_LOG_WARN, DW_LOG_ERROR };

void dw_log_set_level(enum dw_log_level level);
/** Parses "debug" | "info" | "warn" | "error"; -1 when unknown. */
int dw_log_parse_level(const char *s);
/** Redirects log output (default stderr); NULL restores stderr. Used by tests. */
void dw_log_set_stream(void *file);
/**
 * One log line: ts=... level=... component=... msg="..." then key/value pairs
 * given as NULL-terminated (const char *key, const char *value) pairs. Values
 * are quoted and escaped when needed; NULL values print as empty.
 */
void dw_log_kv(enum dw_log_level level, const char *component, const char *msg, ...) DW_SENTINEL;
/** printf-style message with no extra fields. */
void dw_log(enum dw_log_level level, const char *component, const char *fmt, ...) DW_PRINTF(3, 4);
/** Appends value to b quoted for logfmt if it needs quoting. */
void dw_logfmt_value(struct dw_buf *b, const char *value);

/* ---- the clock: every module reads time through these ---- */

/** Wall-clock time in milliseconds since the Unix epoch (real or test). */
int64_t dw_now_ms(void);
/** Monotonic nanoseconds for measuring durations (never the test clock). */
int64_t dw_mono_ns(void);
/** Switches to a manual test clock frozen at start_ms. */
void dw_clock_set_manual(int64_t start_ms);
/** Back to the real clock. */
void dw_clock_set_real(void);
bool dw_clock_is_manual(void);
/** Advances the manual clock (no-op on the real clock) and wakes sleepers. */
void dw_clock_advance(int64_t delta_ms);
/**
 * Sleeps until dw_now_ms() >= deadline_ms, *stop becomes true, or
 * dw_clock_kick() is called. Returns true when the deadline was reached.
 * On the manual clock, only dw_clock_advance() moves time forward.
 */
bool dw_clock_sleep_until(int64_t deadline_ms, const atomic_bool *stop);
/** Wakes every sleeper so it re-checks its stop flag. */
void dw_clock_kick(void);

/* ---- diagnostics: errors with position, owned by the caller ---- */

struct dw_diag {
    char *file; /* may be NULL */
    int line;   /* 1-based; 0 when unknown */
    int col;    /* 1-based; 0 when unknown */
    char *key;  /* dotted path of the key, may be NULL */
    char *msg;
};

struct dw_diags {
    struct dw_diag *items;
    size_t n;
    size_t cap;
    size_t warnings; /* items whose msg starts with "warning: " */
};

void dw_diags_init(struct dw_diags *d);
void dw_diags_release(struct dw_diags *d);
void dw_diags_add(struct dw_diags *d, const char *file, int line, int col, const char *key,
                  const char *fmt, ...) DW_PRINTF(6, 7);
/** Number of errors (items that are not warnings). */
size_t dw_diags_errors(const struct dw_diags *d);
/** Formats one diagnostic as "file:line:col: key: msg". */
void dw_diag_format(const struct dw_diag *diag, struct dw_buf *out);
/**
 * The errors (not the warnings) formatted and joined by sep, at most max of
 * them (0: all) and then "<sep>... and N more"; `empty` when there is no
 * error. Heap, caller frees.
 */
char *dw_diags_text(const struct dw_diags *d, size_t max, const char *sep, const char *empty);

/* ---- parsing and formatting of values ---- */

/** Strict decimal integer: whole string, no overflow. 0 on success, -1 on error. */
int dw_parse_int64(const char *s, int64_t *out);
/** Strict float (also Inf, NaN). */
int dw_parse_double(const char *s, double *out);
/**
 * Prometheus durations: "1y2w3d4h5m6s7ms" units in that order, each once,
 * also "0". Result in milliseconds. -1 on error.
 */
int dw_parse_duration(const char *s, int64_t *out_ms);
/** Formats ms as the shortest Prometheus duration ("1h30m", "0s"). */
void dw_format_duration(int64_t ms, char *out, size_t size);
/** Byte sizes: "512", "64KiB", "32MiB", "1GiB", "10KB" (1000-based), "1MB". */
int dw_parse_bytes(const char *s, uint64_t *out);
/** RFC 3339 with optional fraction and Z or +hh:mm offset. */
int dw_parse_rfc3339(const char *s, int64_t *out_ms);
/** UTC "2006-01-02T15:04:05Z" or with .000 when ms != 0. size >= 32. */
void dw_format_rfc3339(int64_t ms, char *out, size_t size);

/* Proleptic Gregorian calendar dates; day 0 is 1970-01-01, months are 1..12. */

/** The day number of a date (negative before 1970). */
int64_t dw_days_from_civil(int64_t y, int m, int d);
/** The date of a day number: the inverse of dw_days_from_civil(). */
void dw_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
bool dw_is_leap_year(int64_t y);
/** 28 to 31. */
int dw_days_in_month(int64_t y, int m);

/* ---- hashing ---- */

/** Lower-case hex SHA-256 of data into out[65]. */
void dw_sha256_hex(const void *data, size_t n, char out[65]);
/** HMAC-SHA-256 of msg under key. */
void dw_hmac_sha256(const void *key, size_t klen, const void *msg, size_t n, uint8_t out[32]);
/** HMAC-SHA-1 (RFC 2104), for protocols that fix it (Twilio signatures). */
void dw_hmac_sha1(const void *key, size_t klen, const void *msg, size_t n, uint8_t out[20]);
/** Base64 of data (url: RFC 4648 URL-safe alphabet, no padding). Caller frees. */
char *dw_base64(const void *data, size_t n, bool url);
/** Decodes base64 into out (at most cap bytes): the length, or -1 when malformed or too long. */
ssize_t dw_base64_decode(const char *s, bool url, void *out, size_t cap);
/** Constant-time comparison of equal-length buffers. */
bool dw_ct_equal(const void *a, const void *b, size_t n);
/** Fills buf with cryptographically random bytes. */
void dw_random_bytes(void *buf, size_t n);

/* ---- filesystem ---- */

/** mkdir -p with mode 0755; 0, or -1 with errno. */
int dw_mkdir_p(const char *path);
/**
 * Reads a whole file into a heap string (NUL-terminated; *len excludes the
 * NUL). More than max bytes is an error rather than a silent cut. NULL after
 * adding "cannot open: REASON", "file is larger than N MiB" or "cannot read:
 * REASON" for path (no position) to diags.
 */
char *dw_read_file(const char *path, size_t max, size_t *len, struct dw_diags *diags);
/**
 * A secret given inline or in a file (read now, at most 64 KiB, surrounding
 * white space trimmed): a heap copy of inline_value when it is set, else the
 * file's content; NULL without *err when neither is given, NULL with *err
 * ("path: cannot open: ...") when the file cannot be read.
 */
char *dw_secret_get(const char *inline_value, const char *file, char **err);

#define DW_PIDLOCK_BUSY 1
/**
 * Takes an exclusive flock on path (created if needed) and writes our pid
 * into it. 0 with *fd set; DW_PIDLOCK_BUSY when another process holds it
 * (its pid, as written in the file, copied into holder, "" if unknown); -1
 * with errno when the file cannot be opened or locked.
 */
int dw_pidlock_acquire(const char *path, int *fd, char *holder, size_t holder_len);
/** Releases a lock taken by dw_pidlock_acquire and sets *fd to -1; no-op when *fd < 0. */
void dw_pidlock_release(int *fd);

/** Value of a hexadecimal digit (0-9, a-f, A-F), or -1. */
int dw_hex_digit(int c);
/**
 * Length of the valid UTF-8 sequence at s (n bytes left, n >= 1) and its code
 * point in *cp; 0 when the bytes there are not valid UTF-8 (overlong forms,
 * surrogates and values over U+10FFFF included). cp may be NULL.
 */
size_t dw_utf8_seq(const unsigned char *s, size_t n, uint32_t *cp);

/* ---- a min-heap of due times, for schedulers (dueheap.c) ---- */

struct dw_due {
    int64_t at;
    void *item;
};
/** A zeroed struct is an empty heap. */
struct dw_dueheap {
    struct dw_due *v;
    size_t n, cap;
};
void dw_dueheap_push(struct dw_dueheap *h, int64_t at, void *item);
/** The earliest entry, or NULL when empty (valid until the next change). */
const struct dw_due *dw_dueheap_top(const struct dw_dueheap *h);
/** Gives the earliest entry a new time (after running it) and restores the order. */
void dw_dueheap_retime_top(struct dw_dueheap *h, int64_t at);
/** Empties the heap, keeping its memory. */
void dw_dueheap_clear(struct dw_dueheap *h);
void dw_dueheap_release(struct dw_dueheap *h);

/* ---- per-key rate limits for what comes from outside (ratelimit.c) ---- */

/*
 * A token bucket per key (a client address, a user name) in a table of
 * fixed size: memory is bounded whatever the number of keys. Keys share
 * 4-way sets by hash; a new key takes the set's least recently used slot,
 * so under a flood of distinct keys a forgotten key starts again with a
 * full bucket - a limiter that errs toward admitting, never toward
 * refusing someone it has not seen. Thread-safe (one mutex).
 */
struct dw_ratelimit;
/** rate tokens per second (> 0), burst tokens at most (>= 1), room for about `keys` keys. */
struct dw_ratelimit *dw_ratelimit_new(double rate, double burst, size_t keys);
/** Frees; sets *rl to NULL. NULL is a no-op. */
void dw_ratelimit_free(struct dw_ratelimit **rl);
/** Changes rate and burst for later takes (buckets keep their tokens, capped). */
void dw_ratelimit_set(struct dw_ratelimit *rl, double rate, double burst);
/**
 * Takes one token for key at now_ms. True when allowed; false when the
 * bucket is empty, with *retry_ms (may be NULL) the wait until a token.
 */
bool dw_ratelimit_take(struct dw_ratelimit *rl, const char *key, int64_t now_ms, int64_t *retry_ms);

/* ---- the daemon's own metrics (Prometheus text format) ---- */

struct dw_metric;

/**
 * Registers a metric family in the process-wide registry (idempotent by
 * name: registering the same name again returns the existing family).
 * label_names is a comma-separated list ("route,code") or NULL.
 */
struct dw_metric *dw_metric_counter(const char *name, const char *help, const char *label_names);
struct dw_metric *dw_metric_gauge(const char *name, const char *help, const char *label_names);
/** Histogram with the given upper bounds (ascending, +Inf added). */
struct dw_metric *dw_metric_histogram(const char *name, const char *help, const char *label_names,
                                      const double *bounds, size_t nbounds);
/** label_values has one entry per label name (NULL when the family has none). */
void dw_metric_add(struct dw_metric *m, const char *const *label_values, double delta);
void dw_metric_set(struct dw_metric *m, const char *const *label_values, double value);
void dw_metric_observe(struct dw_metric *m, const char *const *label_values, double value);
/** Removes every labelled child (e.g. before re-setting a one-hot gauge). */
void dw_metric_reset(struct dw_metric *m);
/** Appends the whole registry in Prometheus text format 0.0.4. */
void dw_metrics_write(struct dw_buf *out);
/** Frees the registry (at exit, for leak checkers). */
void dw_metrics_shutdown(void);

#include "banned.h"

/* ---- IANA time zones and civil time (tz.c) ---- */

struct dw_tz;

/**
 * The zone named like "Europe/Berlin", "UTC" or "Local" (/etc/localtime),
 * read once from /usr/share/zoneinfo (TZDIR overrides) and kept for the life
 * of the process. NULL with *err.
 */
const struct dw_tz *dw_tz_get(const char *name, char **err);
/** Loads a TZif file (tests); freed with tz_free. */
struct dw_tz *dw_tz_load_file(const char *path, const char *name, char **err);
void dw_tz_free(struct dw_tz **z);
const char *dw_tz_name(const struct dw_tz *z);
/** Offset east of UTC in seconds at the instant unix_s. */
int32_t dw_tz_offset(const struct dw_tz *z, int64_t unix_s);
/** Abbreviation in effect at unix_s ("CET", "EDT"). */
const char *dw_tz_abbrev(const struct dw_tz *z, int64_t unix_s);

struct dw_civil {
    int year, month, day; /* month 1..12, day 1..31 */
    int hour, minute, second;
    int weekday; /* 0 = Sunday */
    int yday;    /* 0-based day of the year */
};

/** The date of a day number (dw_civil_from_days) with weekday and yday. */
void dw_civil_of_days(int64_t days, struct dw_civil *c);
/** Broken-down local time of ms in zone z (UTC when z is NULL). */
void dw_civil_at(const struct dw_tz *z, int64_t ms, struct dw_civil *c);

/* ---- SHA-1 (sha1.c): for protocols that fix it (WebSocket handshake,
 * Twilio request signatures); not for anything new that needs security ---- */

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
