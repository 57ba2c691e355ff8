/*
 * tsdb.h - dojowatch's embedded time-series engine (public interface).
 *
 * Data model: a series is a metric name plus labels; a sample is an int64
 * millisecond timestamp and a float64 value. Every float64 bit pattern is
 * stored and returned exactly, including NaN payloads: the Prometheus
 * staleness marker (bits 0x7ff0000000000002) comes back with its exact bits.
 *
 * This header currently holds the building blocks the head, index, blocks
 * and compaction are built on:
 *   - head chunks: append-optimised, Gorilla-style compressed samples of one
 *     series with an exact-decimal fast path (chunk.c);
 *   - block chunks and pages: a denser encoding for immutable blocks, with
 *     many chunks per zstd-compressed page (blockenc.c);
 *   - the write-ahead log: segmented, CRC32C-framed records of series
 *     definitions and sample batches, group commit, three fsync policies,
 *     replay that repairs a torn or corrupt tail, checkpoints (wal.c).
 * Byte-by-byte formats and the durability contract: docs/internals/tsdb.md.
 *
 * Errors are negative enum dw_tsdb_err values; dw_tsdb_strerror() names them.
 */
#ifndef DW_TSDB_H
#define DW_TSDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

enum dw_tsdb_err {
    DW_TSDB_OK = 0,
    DW_TSDB_EFULL = -1,    /* the chunk already holds its maximum number of samples */
    DW_TSDB_EORDER = -2,   /* timestamp not strictly after the previous one */
    DW_TSDB_ECORRUPT = -3, /* bytes read back do not decode */
    DW_TSDB_EIO = -4,      /* a system call failed (errno is logged) */
    DW_TSDB_ELIMIT = -5,   /* input exceeds a documented limit */
    DW_TSDB_EINVAL = -6,   /* bad argument */
    DW_TSDB_ECLOSED = -7,  /* the WAL is in a failed state after an I/O error */
    DW_TSDB_ELOADING = -8, /* the database is still loading (dw_tsdb_load not done) */
};

/** Short static description of an error code. */
const char *dw_tsdb_strerror(int err);

/* ---- samples ---- */

/* The Prometheus staleness marker: a NaN with this exact bit pattern. */
#define DW_TSDB_STALE_BITS UINT64_C(0x7ff0000000000002)

/** The staleness marker as a double. */
double dw_tsdb_stale_nan(void);
/** True only for the exact staleness bit pattern (not for other NaNs). */
bool dw_tsdb_is_stale(double v);

/* ---- head chunks ---- */

/*
 * A head chunk holds up to DW_TSDB_CHUNK_MAX_SAMPLES samples of one series
 * with strictly increasing timestamps. Timestamps are coded as
 * delta-of-delta in variable-width buckets (a regular interval costs one
 * bit); values as "same as before" (one bit), as the delta-of-delta of an
 * exact decimal mantissa when the value is a short decimal, or as the
 * Gorilla XOR with the previous value. 120 samples (30 min at 15 s) is where
 * Prometheus found the per-chunk overhead amortised; a longer chunk would
 * only make every seek decode more.
 *
 * Threads: a chunk is not synchronised. One writer at a time; readers must
 * not run concurrently with an append (the buffer may move). The head
 * serialises per series.
 */
#define DW_TSDB_CHUNK_MAX_SAMPLES 120
/* First byte of every head chunk: the encoding and its version. */
#define DW_TSDB_CHUNK_ENC_HEAD 0x01

struct dw_tsdb_chunk;

/** A new, empty head chunk. */
struct dw_tsdb_chunk *dw_tsdb_chunk_new(void);
/** Frees the chunk and sets *c to NULL; no-op when c or *c is NULL. */
void dw_tsdb_chunk_free(struct dw_tsdb_chunk **c);
/**
 * Appends one sample. Returns 0, DW_TSDB_EFULL when the chunk is full (cut
 * a new one) or DW_TSDB_EORDER when t is not after the last timestamp; the
 * chunk is unchanged on error.
 */
int dw_tsdb_chunk_append(struct dw_tsdb_chunk *c, int64_t t, double v);
/** Number of samples. */
size_t dw_tsdb_chunk_count(const struct dw_tsdb_chunk *c);
/**
 * The last sample; false when the chunk is empty. The head compares a
 * rejected append (DW_TSDB_EORDER) with it: same timestamp and same bits is
 * a harmless duplicate, anything else is counted as out of order.
 */
bool dw_tsdb_chunk_last(const struct dw_tsdb_chunk *c, int64_t *t, double *v);
/** First and last timestamp; false when the chunk is empty. */
bool dw_tsdb_chunk_range(const struct dw_tsdb_chunk *c, int64_t *min_t, int64_t *max_t);
/**
 * The encoded bytes (valid until the next append or free). They are a
 * complete chunk: persist them as they are and read them with an iterator.
 */
const uint8_t *dw_tsdb_chunk_bytes(const struct dw_tsdb_chunk *c, size_t *len);
/**
 * Rebuilds an appendable chunk from bytes (e.g. a head chunk read back from
 * disk). The bytes are copied and fully decoded to validate them.
 * Returns 0 or DW_TSDB_ECORRUPT.
 */
int dw_tsdb_chunk_load(const uint8_t *data, size_t len, struct dw_tsdb_chunk **out);

/*
 * Iterator over the bytes of a head chunk, decoding in place (no copy).
 * The struct is public so iterators can live on the stack; its fields are
 * private. The bytes must stay valid and unchanged while iterating.
 */
struct dw_tsdb_chunk_iter {
    const uint8_t *data_;
    size_t len_;
    size_t pos_; /* bit position of the next sample */
    uint16_t n_; /* samples in the chunk */
    uint16_t i_; /* samples decoded so far */
    int err_;
    int64_t t_;       /* current sample */
    uint64_t vbits_;  /* current value bits */
    uint64_t tdelta_; /* last timestamp delta (wrapping) */
    int64_t m_;       /* decimal mantissa of the current value */
    int64_t dm_;      /* last mantissa delta */
    uint8_t e_;       /* decimal exponent */
    uint8_t lead_;    /* XOR window */
    uint8_t trail_;
    bool window_;
    bool dec_;
};

/** Starts an iteration over a chunk's bytes; a bad header makes every step fail. */
void dw_tsdb_chunk_iter_init(struct dw_tsdb_chunk_iter *it, const uint8_t *data, size_t len);
/** Decodes the next sample into *t, *v; false at the end or on corrupt bytes (see _err). */
bool dw_tsdb_chunk_iter_next(struct dw_tsdb_chunk_iter *it, int64_t *t, double *v);
/**
 * Moves to the first sample with timestamp >= t, never backwards: when the
 * current sample (the last one returned) is already >= t it is returned
 * again. False when no such sample is left. Re-init to go back.
 */
bool dw_tsdb_chunk_iter_seek(struct dw_tsdb_chunk_iter *it, int64_t t, int64_t *ts, double *v);
/** 0, or DW_TSDB_ECORRUPT when the bytes did not decode. */
int dw_tsdb_chunk_iter_err(const struct dw_tsdb_chunk_iter *it);

/* ---- block chunks and pages (immutable blocks) ---- */

/*
 * A block chunk encodes any number (up to DW_TSDB_BLOCK_MAX_SAMPLES) of
 * samples of one series, byte-aligned: timestamps as "regular" (start and
 * step) or packed delta-of-delta; values as a constant, as integers over a
 * common decimal exponent (delta or delta-of-delta divided by their GCD,
 * bit-packed with exceptions), or as the packed deltas of the order-
 * preserving integer image of the float64 bits. Samples that are not exact
 * decimals (NaN, stale markers, Inf, -0.0) ride along as exceptions, so
 * the round trip is bit-exact.
 *
 * A page concatenates many block chunks (typically several series of one
 * block) and is zstd-compressed when that makes it smaller.
 */
#define DW_TSDB_BLOCK_MAX_SAMPLES 65536
#define DW_TSDB_PAGE_MAX_RAW (16u << 20) /* decoded page payload limit */
#define DW_TSDB_PAGE_TARGET (64u << 10)  /* suggested raw size before finishing a page */

/* Scratch memory for encoding, reused across chunks. One per thread. */
struct dw_tsdb_blockenc;

struct dw_tsdb_blockenc *dw_tsdb_blockenc_new(void);
void dw_tsdb_blockenc_free(struct dw_tsdb_blockenc **enc);
/**
 * Appends the block chunk for n samples (1 <= n <= DW_TSDB_BLOCK_MAX_SAMPLES,
 * strictly increasing timestamps) to out. Returns 0, DW_TSDB_EINVAL,
 * DW_TSDB_EORDER or DW_TSDB_ELIMIT (out reached its maximum).
 */
int dw_tsdb_blockenc_encode(struct dw_tsdb_blockenc *enc, const int64_t *t, const double *v,
                            size_t n, struct dw_buf *out);
/** Reads the sample count of a block chunk (to size the arrays for decode). */
int dw_tsdb_blockchunk_count(const uint8_t *data, size_t len, size_t *n);
/**
 * Decodes a block chunk into t[] and v[] (cap entries each). Returns 0 with
 * *n set, DW_TSDB_ELIMIT when cap is too small or DW_TSDB_ECORRUPT.
 */
int dw_tsdb_blockchunk_decode(const uint8_t *data, size_t len, int64_t *t, double *v, size_t cap,
                              size_t *n);

/* Builds one page at a time from encoded block chunks. */
struct dw_tsdb_page_writer;

/** zstd_level 0 stores pages uncompressed; 1..19 as in zstd (3 is zstd's default). */
struct dw_tsdb_page_writer *dw_tsdb_page_writer_new(int zstd_level);
void dw_tsdb_page_writer_free(struct dw_tsdb_page_writer **pw);
/** Adds one encoded chunk; returns its index within the page, or -1 past the limits. */
long dw_tsdb_page_writer_add(struct dw_tsdb_page_writer *pw, const uint8_t *chunk, size_t len);
/** Bytes of the page payload so far (before compression). */
size_t dw_tsdb_page_writer_raw_size(const struct dw_tsdb_page_writer *pw);
/** Number of chunks added since the last finish. */
size_t dw_tsdb_page_writer_count(const struct dw_tsdb_page_writer *pw);
/** Appends the finished page to out and starts an empty one. 0 or DW_TSDB_ELIMIT. */
int dw_tsdb_page_writer_finish(struct dw_tsdb_page_writer *pw, struct dw_buf *out);

/* A decoded page: the chunk table, over a decompressed copy or the caller's bytes. */
struct dw_tsdb_page;

/**
 * Opens a page. An uncompressed page refers to `data`, which must outlive
 * the page; a compressed one is decompressed into memory the page owns.
 * Returns 0, DW_TSDB_ECORRUPT or DW_TSDB_ELIMIT.
 */
int dw_tsdb_page_open(const uint8_t *data, size_t len, struct dw_tsdb_page **out);
void dw_tsdb_page_free(struct dw_tsdb_page **p);
size_t dw_tsdb_page_count(const struct dw_tsdb_page *p);
/** The bytes of chunk i (valid while the page lives); DW_TSDB_EINVAL when out of range. */
int dw_tsdb_page_chunk(const struct dw_tsdb_page *p, size_t i, const uint8_t **data, size_t *len);

/* ---- write-ahead log ---- */

/*
 * The WAL is a directory of segment files 00000001, 00000002, ... of at most
 * segment_max_bytes each, plus at most one checkpoint.NNNNNNNN file that
 * replaces every segment up to NNNNNNNN. Each record carries a CRC32C.
 *
 * Durability of a write acknowledged by dw_tsdb_wal_log_*() (returned 0):
 *   ALWAYS:   written and fdatasync'ed before the call returns; survives a
 *             process crash and a power loss. Concurrent appenders share
 *             one fsync (group commit).
 *   INTERVAL: (default) buffered; written to the kernel when the buffer
 *             fills and written + fdatasync'ed by a background thread every
 *             fsync_interval_ms (1 s). A crash of the process or of the
 *             machine loses at most the writes acknowledged in the last
 *             interval (plus the time of one fsync).
 *   NEVER:    buffered; written to the kernel when the buffer fills and every
 *             interval, not fsync'ed: a process crash loses at most the
 *             last interval, a power loss whatever the kernel had not
 *             written back (up to the whole current segment).
 * Under every policy a finished segment is fsync'ed when the next one is
 * started, and dw_tsdb_wal_sync() forces both steps now.
 */
enum dw_tsdb_fsync {
    DW_TSDB_FSYNC_INTERVAL = 0,
    DW_TSDB_FSYNC_NEVER = 1,
    DW_TSDB_FSYNC_ALWAYS = 2,
};

#define DW_TSDB_WAL_SEGMENT_DEFAULT (128u << 20)
#define DW_TSDB_WAL_SEGMENT_MIN (64u << 10)
#define DW_TSDB_WAL_RECORD_MAX (8u << 20) /* payload limit, checked on write and replay */

struct dw_tsdb_wal_opts {
    enum dw_tsdb_fsync fsync;
    int64_t fsync_interval_ms;  /* INTERVAL and NEVER: background flush period; default 1000 */
    uint64_t segment_max_bytes; /* default DW_TSDB_WAL_SEGMENT_DEFAULT, at least _MIN */
    size_t buffer_bytes;        /* write to the kernel once this much is buffered; default 64 KiB */
    bool no_thread;             /* tests: no background thread; call _flush/_sync yourself */
    /*
     * INTERVAL and NEVER: hand each batch to the kernel (one grouped write())
     * before the log call returns, so an acknowledged write survives the
     * process being killed (kill -9) and only fsync waits for the interval.
     * Default true; false keeps bytes in the buffer until it fills or the
     * interval ticks (cheaper, but a process crash loses up to an interval).
     */
    bool write_before_ack;
};

/** Fills o with the defaults. */
void dw_tsdb_wal_opts_init(struct dw_tsdb_wal_opts *o);
/** Parses "never" | "interval" | "always"; -1 when unknown. */
int dw_tsdb_fsync_parse(const char *s);

struct dw_tsdb_label {
    const char *name;
    const char *value;
};

/* One series definition: the head's series reference and its labels. */
struct dw_tsdb_wal_series {
    uint64_t ref;
    const struct dw_tsdb_label *labels;
    size_t nlabels;
};

struct dw_tsdb_wal_sample {
    uint64_t ref;
    int64_t t;
    double v;
};

/*
 * Replay callbacks, called in log order. Pointers passed in are valid only
 * during the call. A non-zero return stops the replay and is returned.
 */
struct dw_tsdb_wal_handler {
    int (*series)(void *ctx, const struct dw_tsdb_wal_series *s, size_t n);
    int (*samples)(void *ctx, const struct dw_tsdb_wal_sample *s, size_t n);
    void *ctx;
};

struct dw_tsdb_wal_replay_stats {
    uint32_t checkpoint;    /* checkpoint replayed first (0: none) */
    uint32_t segments;      /* segments read */
    uint32_t first_segment; /* 0 when there were none */
    uint32_t last_segment;
    uint64_t records;
    uint64_t series;
    uint64_t samples;
    uint64_t bytes_cut;        /* bytes removed from the damaged segment */
    uint32_t segments_dropped; /* whole segments deleted after the damage */
    bool damaged;
};

/**
 * Replays the WAL in dir (a missing directory is an empty WAL). When a
 * record is torn or corrupt, the segment is truncated to the last good
 * record, every later segment is deleted, one warning is logged
 * (segment, offset, reason) and replay ends with 0: what was before the
 * damage is kept. Returns 0, DW_TSDB_EIO or the callback's non-zero return.
 * h may have NULL callbacks; st may be NULL.
 */
int dw_tsdb_wal_replay(const char *dir, const struct dw_tsdb_wal_handler *h,
                       struct dw_tsdb_wal_replay_stats *st);

struct dw_tsdb_wal;

/**
 * Creates dir if needed, replays it into h (may be NULL; see _replay),
 * removes leftovers of an interrupted checkpoint and opens a new segment
 * after the last one for writing. o may be NULL for the defaults.
 */
int dw_tsdb_wal_open(const char *dir, const struct dw_tsdb_wal_opts *o,
                     const struct dw_tsdb_wal_handler *h, struct dw_tsdb_wal_replay_stats *st,
                     struct dw_tsdb_wal **out);
/** Flushes, syncs (unless NEVER), stops the thread, frees, sets *w NULL. Returns the first error.
 */
int dw_tsdb_wal_close(struct dw_tsdb_wal **w);

/**
 * Logs series definitions (one record). Thread-safe. Label names and values
 * are NUL-terminated strings. Returns 0 once the policy's guarantee holds,
 * DW_TSDB_ELIMIT when one series would exceed DW_TSDB_WAL_RECORD_MAX,
 * DW_TSDB_EIO when the write or fsync of this call failed, or
 * DW_TSDB_ECLOSED after an earlier I/O error (the writer stays failed).
 */
int dw_tsdb_wal_log_series(struct dw_tsdb_wal *w, const struct dw_tsdb_wal_series *s, size_t n);
/** Logs a batch of samples (split into several records when large). Thread-safe. */
int dw_tsdb_wal_log_samples(struct dw_tsdb_wal *w, const struct dw_tsdb_wal_sample *s, size_t n);
/** Writes buffered records to the kernel (no fsync). */
int dw_tsdb_wal_flush(struct dw_tsdb_wal *w);
/** Writes buffered records and fdatasyncs the segment. */
int dw_tsdb_wal_sync(struct dw_tsdb_wal *w);
/**
 * Closes the current segment and starts the next one; *segno (may be NULL)
 * receives the new segment's number. Everything logged before the call is
 * in segments < *segno.
 */
int dw_tsdb_wal_cut(struct dw_tsdb_wal *w, uint32_t *segno);
/**
 * Deletes every segment numbered below `before` (never the current one).
 * Only safe when the head no longer needs anything in them, including the
 * series definitions: normally use a checkpoint instead.
 */
int dw_tsdb_wal_truncate(struct dw_tsdb_wal *w, uint32_t before);

/*
 * Checkpoint: after persisting a block, the head calls dw_tsdb_wal_cut(),
 * writes the series (and samples) it still needs into a checkpoint, and
 * commits it. The commit atomically replaces segments < `before` with the
 * checkpoint, which replay reads first.
 */
struct dw_tsdb_wal_ckpt;

/**
 * Starts a checkpoint that will replace segments < before (2 <= before <=
 * current segment, and newer than the last checkpoint). One at a time.
 */
int dw_tsdb_wal_checkpoint_begin(struct dw_tsdb_wal *w, uint32_t before,
                                 struct dw_tsdb_wal_ckpt **out);
int dw_tsdb_wal_ckpt_log_series(struct dw_tsdb_wal_ckpt *ck, const struct dw_tsdb_wal_series *s,
                                size_t n);
int dw_tsdb_wal_ckpt_log_samples(struct dw_tsdb_wal_ckpt *ck, const struct dw_tsdb_wal_sample *s,
                                 size_t n);
/**
 * Writes and fsyncs the checkpoint, renames it into place, then deletes the
 * segments it replaces and older checkpoints. Frees *ck and sets it NULL.
 */
int dw_tsdb_wal_checkpoint_commit(struct dw_tsdb_wal_ckpt **ck);
/** Discards an unfinished checkpoint; no-op on NULL. */
void dw_tsdb_wal_checkpoint_abort(struct dw_tsdb_wal_ckpt **ck);

struct dw_tsdb_wal_stats {
    uint32_t segment;       /* segment receiving new records */
    uint32_t first_segment; /* oldest segment on disk */
    uint64_t records;       /* records logged since open */
    uint64_t bytes_logged;  /* bytes of those records */
    uint64_t bytes_written; /* bytes handed to write() */
    uint64_t bytes_synced;  /* bytes known to be on disk */
    uint64_t writes;        /* write rounds */
    uint64_t fsyncs;
    int error; /* sticky error, 0 when healthy */
};

/** A consistent snapshot of the writer's counters. */
void dw_tsdb_wal_get_stats(struct dw_tsdb_wal *w, struct dw_tsdb_wal_stats *st);

/* ---- labels and matchers (labels.c, matcher.c) ----
 *
 * A series is identified by its label set: name/value pairs with unique
 * names, sorted by name, the metric name under "__name__". Empty values mean
 * "label absent" (Prometheus drops labels with empty values).
 */

#define DW_TSDB_METRIC_NAME "__name__"

struct dw_label {
    const char *name;  /* borrowed */
    const char *value; /* borrowed */
};

/** Sorts labels by name (stable, in place). */
void dw_tsdb_labels_sort(struct dw_label *labels, size_t n);
/** strcmp-like order of two sorted label sets (the order series are listed in). */
int dw_tsdb_labels_cmp(const struct dw_label *a, size_t na, const struct dw_label *b, size_t nb);
/** Value of a label in a set, or NULL. */
const char *dw_tsdb_labels_get(const struct dw_label *labels, size_t n, const char *name);
/** 64-bit hash of a sorted label set (stable across runs). */
uint64_t dw_tsdb_labels_hash(const struct dw_label *labels, size_t n);
/** A copy of a label set in one heap allocation (free() it); never NULL. */
struct dw_label *dw_tsdb_labels_dup(const struct dw_label *labels, size_t n);
/** Appends {a="b", c="d"} with Prometheus quoting (metric name first, outside braces). */
void dw_tsdb_labels_format(const struct dw_label *labels, size_t n, struct dw_buf *out);
/** Prometheus' label name rule: [a-zA-Z_][a-zA-Z0-9_]*. */
bool dw_tsdb_label_name_valid(const char *name);
/** Prometheus' metric name rule: [a-zA-Z_:][a-zA-Z0-9_:]*. */
bool dw_tsdb_metric_name_valid(const char *name);

/*
 * A set of label sets, for writers that must know which series they wrote
 * last time (staleness markers for what disappeared: scrapes, probes, rule
 * groups). Each member is copied into one allocation. A zeroed struct is an
 * empty set; not thread-safe.
 */
struct dw_lsset {
    struct dw_lsset_entry *e; /* open addressing; hash 0 = empty slot */
    size_t n, cap;
};
struct dw_lsset_iter {
    size_t i;
};
/** Adds a sorted label set (a copy) unless present. */
void dw_lsset_add(struct dw_lsset *s, const struct dw_label *labels, size_t n);
bool dw_lsset_has(const struct dw_lsset *s, const struct dw_label *labels, size_t n);
/** Next member (sorted labels, *n of them) or NULL; start with a zeroed iterator. */
const struct dw_label *dw_lsset_next(const struct dw_lsset *s, struct dw_lsset_iter *it, size_t *n);
/** Frees every member and empties the set. */
void dw_lsset_release(struct dw_lsset *s);

enum dw_match_op { DW_MATCH_EQ, DW_MATCH_NEQ, DW_MATCH_RE, DW_MATCH_NRE };

/*
 * A compiled label matcher. Regular expressions are fully anchored like
 * Prometheus' ("^(?:re)$", PCRE2 with JIT when available). Literal
 * patterns, alternations of literals ("a|b|c") and literal prefixes
 * ("foo.*") are recognised and matched without the regex engine; the index
 * uses dw_tsdb_matcher_literals() to look postings up directly.
 *
 * Threads: a compiled matcher is immutable and may be shared between
 * threads (match data is per thread).
 */
struct dw_tsdb_matcher;

/** Compiles a matcher; NULL with *err (caller frees) for a bad regex. */
struct dw_tsdb_matcher *dw_tsdb_matcher_new(enum dw_match_op op, const char *name,
                                            const char *value, char **err);
void dw_tsdb_matcher_free(struct dw_tsdb_matcher **m);
enum dw_match_op dw_tsdb_matcher_op(const struct dw_tsdb_matcher *m);
const char *dw_tsdb_matcher_name(const struct dw_tsdb_matcher *m);
const char *dw_tsdb_matcher_value(const struct dw_tsdb_matcher *m);
/** Whether a label value matches (pass "" for an absent label). */
bool dw_tsdb_matcher_matches(const struct dw_tsdb_matcher *m, const char *value);
/**
 * When the set of values the matcher accepts (for EQ/RE) or rejects (for
 * NEQ/NRE) is a finite list of literals, returns it (borrowed) and its
 * length; otherwise NULL. "" may be among them.
 */
const char *const *dw_tsdb_matcher_literals(const struct dw_tsdb_matcher *m, size_t *n);
/** Literal prefix every accepted value starts with ("" when none). */
const char *dw_tsdb_matcher_prefix(const struct dw_tsdb_matcher *m);

/* ==== the database: series index, head, appenders, queriers ====
 * (index.c, head.c, db.c, querier.c; design: docs/internals/tsdb-head.md)
 *
 * The head keeps recent samples in memory: per series one active head
 * chunk plus full chunks re-encoded as block chunks, an inverted index of
 * label pairs, and the WAL that rebuilds it all after a restart. Blocks
 * (older data on disk) plug into queries through the series-source
 * interface in head_internal.h.
 *
 * Threads: every function below is thread-safe except that one appender,
 * querier, series set or iterator must be used by one thread at a time.
 */

struct dw_tsdb_options {
    const char *dir;                 /* data directory (created); the WAL is dir/wal, the
                                        blocks dir/blocks */
    int64_t block_range_ms;          /* span of a block; 0 = 2 h */
    int64_t retention_ms;            /* raw data kept on disk (blocks); 0 = 90 d */
    int64_t downsample_retention_ms; /* downsampled data (blocks); 0 = 1 y */
    int64_t max_future_ms;           /* samples ahead of the clock by more are out of
                                        bounds; 0 = 10 min, < 0 = no limit */
    struct dw_tsdb_wal_opts wal;     /* fsync policy etc.; default: group fsync every 1 s */
    size_t max_series;               /* series in the head; 0 = 1,000,000 */
    size_t max_labels;               /* labels per series incl. __name__; 0 = 64 */
    size_t max_label_name_len;       /* bytes; 0 = 256 */
    size_t max_label_value_len;      /* bytes; 0 = 4096 */
    size_t max_samples_per_commit;   /* 0 = 1,000,000 */
    /*
     * dw_tsdb_open only creates and locks the directory; dw_tsdb_load() then
     * opens the blocks and replays the WAL (the daemon serves HTTP meanwhile).
     * Until it has, commits and selects fail with DW_TSDB_ELOADING.
     */
    bool defer_load;
    bool no_downsample;        /* maintenance does not downsample */
    int64_t maint_interval_ms; /* compaction, downsampling and retention run after a cut
                                  and otherwise at most this often; 0 = 5 min */
};

struct dw_tsdb;

/** Fills o with the defaults (dir NULL: the caller must set it). */
void dw_tsdb_options_init(struct dw_tsdb_options *o);
/**
 * Opens (creating if needed) the database in o->dir: locks the directory,
 * then (unless o->defer_load) does what dw_tsdb_load() does. NULL with *err
 * (caller frees) when the directory, the blocks or the WAL cannot be used.
 */
struct dw_tsdb *dw_tsdb_open(const struct dw_tsdb_options *o, char **err);
/**
 * Opens the directory of blocks (dir/blocks: leftovers of a crash removed,
 * corrupt blocks quarantined), registers its blocks with the queriers and
 * replays the WAL into the head, skipping the samples the blocks already
 * hold (a crash between writing a block and truncating the WAL replays only
 * the remainder). Logs blocks, series, samples and samples/s at info level.
 * Idempotent: 0 when already loaded; otherwise 0 or an error with *err
 * (caller frees; may be NULL). Not concurrent with itself.
 */
int dw_tsdb_load(struct dw_tsdb *db, char **err);
/** True once dw_tsdb_load() (or a non-deferred open) has finished. */
bool dw_tsdb_is_loaded(struct dw_tsdb *db);
/**
 * Flushes and syncs the WAL (unless the policy is "never") and frees
 * everything; no appender or querier may be left, and no maintenance call
 * may be running. Returns the WAL's first error; no-op (0) when db or *db is
 * NULL. The head is not persisted as a block: the WAL keeps it.
 */
int dw_tsdb_close(struct dw_tsdb **db);
/** Writes and fsyncs the WAL now, whatever the policy (0 before the load). */
int dw_tsdb_sync(struct dw_tsdb *db);

/* ---- appending ---- */

/*
 * An appender collects samples of one request (a scrape, a remote-write
 * batch) and applies them at commit. It is not shared between threads; use
 * one per thread and reuse it (commit and rollback leave it empty).
 *
 * Validation happens in _add: an invalid or over-limit sample poisons the
 * appender; the next commit then rejects the whole request, applies nothing
 * and returns the first error with its reason.
 */
struct dw_tsdb_appender;

struct dw_tsdb_commit_result {
    size_t appended;      /* samples stored */
    size_t redundant;     /* same timestamp and same value as the stored sample: accepted,
                             nothing stored (Prometheus' silent duplicate) */
    size_t out_of_order;  /* older than the series' last sample */
    size_t duplicate;     /* same timestamp as the last sample, another value */
    size_t out_of_bounds; /* older than the head's appendable window (newest sample minus
                             half a block range, or the last persisted block), or more
                             than max_future_ms ahead of the clock */
    size_t new_series;    /* series this commit created */
};

struct dw_tsdb_appender *dw_tsdb_appender_new(struct dw_tsdb *db);
/**
 * Adds a sample of the series with these labels (any order, sorted is
 * fastest; labels with an empty value are dropped like Prometheus does; the
 * strings are copied when needed). *ref (may be NULL) receives the series'
 * reference for dw_tsdb_appender_add_ref(). For a series that does not exist
 * yet (it is created at commit) it is a provisional reference, valid with
 * this appender until its next commit or rollback: use it for the series'
 * further samples in the same request, not across requests.
 * Returns 0, DW_TSDB_EINVAL (no or invalid __name__, invalid label name or
 * UTF-8 value, duplicate label name) or DW_TSDB_ELIMIT (labels per series,
 * name or value length, samples per commit); both poison the appender.
 */
int dw_tsdb_appender_add(struct dw_tsdb_appender *a, const struct dw_label *labels, size_t n,
                         int64_t t, double v, uint64_t *ref);
/**
 * Adds a sample by series reference (the fast path of scrapers and caches).
 * Returns 0, DW_TSDB_EINVAL when the reference is unknown (the series was
 * garbage-collected, or a provisional reference outlived its request: add
 * by labels) without poisoning the appender, or DW_TSDB_ELIMIT (samples per
 * commit), which poisons it.
 */
int dw_tsdb_appender_add_ref(struct dw_tsdb_appender *a, uint64_t ref, int64_t t, double v);
/**
 * Whether a reference from dw_tsdb_appender_add() names a series that
 * exists (it stays valid across requests until the series is
 * garbage-collected: then add_ref answers DW_TSDB_EINVAL), as opposed to a
 * provisional one, valid only until the appender's next commit or rollback.
 */
static inline bool dw_tsdb_ref_is_lasting(uint64_t ref)
{
    return ref != 0 && !(ref >> 63);
}
/**
 * Applies the collected samples. First the limits: when the request was
 * poisoned or its new series would exceed max_series, nothing is applied
 * and *err (caller frees; err may be NULL) names the limit and the numbers.
 * Then: creates new series, logs their definitions and the samples to the
 * WAL, waits for the fsync when the policy is "always", and stores the
 * samples, filling res (may be NULL) with what happened to each.
 * Returns 0, DW_TSDB_ELIMIT, DW_TSDB_EINVAL, DW_TSDB_ELOADING (before the
 * load; nothing is applied), or the WAL's DW_TSDB_EIO / DW_TSDB_ECLOSED
 * (the samples are then not acknowledged and not stored).
 * The appender is empty afterwards in every case.
 */
int dw_tsdb_appender_commit(struct dw_tsdb_appender *a, struct dw_tsdb_commit_result *res,
                            char **err);
/*
 * The commit watch: after each successful commit, fn gets the distinct
 * metric names (at most 64 per call) of the committed samples whose name
 * filter accepts. The filter runs once per series and its answer is cached
 * in the series until dw_tsdb_watch_reset(). Both run on the committing
 * thread inside the commit, so they must be quick and must not commit.
 * Setting it (NULL fn: no watch) waits for commits in progress.
 */
typedef bool (*dw_tsdb_watch_filter)(void *ctx, const char *name);
typedef void (*dw_tsdb_watch_fn)(void *ctx, const char *const *names, size_t n);
void dw_tsdb_set_watch(struct dw_tsdb *db, dw_tsdb_watch_filter filter, dw_tsdb_watch_fn fn,
                       void *ctx);
/** Forgets the filter's cached answers (its criteria changed). */
void dw_tsdb_watch_reset(struct dw_tsdb *db);

/** Discards the collected samples; the appender stays usable. */
void dw_tsdb_appender_rollback(struct dw_tsdb_appender *a);
/** Rolls back anything uncommitted and frees; no-op on NULL. */
void dw_tsdb_appender_free(struct dw_tsdb_appender **a);

/* ---- querying ---- */

/*
 * A querier reads the series and samples in [mint, maxt] (inclusive) of the
 * head and the blocks. It sees the series that existed when it was created
 * and the blocks registered then; each series is read as the stable prefix
 * of samples it had when the series set reached it, so an iteration never
 * sees a half-written chunk. Memory it reads (labels, chunks, blocks) stays
 * valid until dw_tsdb_querier_free, even if the head is truncated or blocks
 * are compacted or deleted meanwhile; a head range persisted as a block is
 * not truncated while a querier from before the block exists.
 */
struct dw_tsdb_querier;
struct dw_tsdb_series_set;
struct dw_tsdb_iter;

/** A raw querier (head and raw blocks). */
struct dw_tsdb_querier *dw_tsdb_querier_new(struct dw_tsdb *db, int64_t mint, int64_t maxt);

/* What a querier reads. */
struct dw_tsdb_read_opts {
    /*
     * 0: raw data only. DW_TSDB_RES_5M or DW_TSDB_RES_1H: before the oldest
     * raw sample (raw blocks and head, when the querier is created) the
     * rollups of the downsampled blocks of that resolution, then the raw
     * data: one series per raw series, the __rollup__ label removed.
     */
    int64_t resolution_ms;
    /* which rollup: "min", "max", "sum", "count" or "last"; NULL = "last" */
    const char *rollup;
};

/**
 * A querier reading as o says (NULL: raw). An unknown resolution or rollup
 * makes every select fail with DW_TSDB_EINVAL.
 */
struct dw_tsdb_querier *dw_tsdb_querier_new_opts(struct dw_tsdb *db, int64_t mint, int64_t maxt,
                                                 const struct dw_tsdb_read_opts *o);

struct dw_tsdb_coverage;
/**
 * The oldest timestamp each resolution holds now (raw: raw blocks and the
 * head; INT64_MAX: none), for dw_tsdb_resolution_choose().
 */
void dw_tsdb_get_coverage(struct dw_tsdb *db, struct dw_tsdb_coverage *c);
/** Frees the querier; every series set from it must be freed first. No-op on NULL. */
void dw_tsdb_querier_free(struct dw_tsdb_querier **q);
/**
 * The series matching every matcher (Prometheus semantics: an absent label
 * matches like ""; no matchers selects everything) that have samples in the
 * querier's range, sorted by labels, head and blocks merged. The matchers
 * must outlive the set. Never NULL; see dw_tsdb_series_set_err().
 */
struct dw_tsdb_series_set *dw_tsdb_select(struct dw_tsdb_querier *q,
                                          struct dw_tsdb_matcher *const *ms, size_t n);
/** Moves to the next series; false at the end. */
bool dw_tsdb_series_set_next(struct dw_tsdb_series_set *s);
/**
 * The current series' labels, sorted by name. The strings stay valid until
 * the querier is freed, but the array is reused by the next
 * dw_tsdb_series_set_next(): copy it to keep it.
 */
const struct dw_label *dw_tsdb_series_labels(struct dw_tsdb_series_set *s, size_t *n);
/**
 * Iterator over the current series' samples in [mint, maxt], owned by the
 * set and reset by each dw_tsdb_series_set_next(). Chunks are decoded one at
 * a time as the iterator reaches them; seeks skip whole chunks undecoded.
 */
struct dw_tsdb_iter *dw_tsdb_series_iter(struct dw_tsdb_series_set *s);
/**
 * 0, or the first error of a block source (DW_TSDB_ECORRUPT, DW_TSDB_EIO),
 * DW_TSDB_ELOADING before the database is loaded (the set is then empty) or
 * DW_TSDB_EINVAL for bad read options.
 */
int dw_tsdb_series_set_err(const struct dw_tsdb_series_set *s);
void dw_tsdb_series_set_free(struct dw_tsdb_series_set **s);

/** Next sample; false at the end of the series (or on error, see _err). */
bool dw_tsdb_iter_next(struct dw_tsdb_iter *it, int64_t *t, double *v);
/**
 * Moves to the first sample with timestamp >= t, never backwards: when the
 * current sample is already >= t it is returned again. False when none is
 * left.
 */
bool dw_tsdb_iter_seek(struct dw_tsdb_iter *it, int64_t t, int64_t *ts, double *v);
/** 0 or the error that ended the iteration. */
int dw_tsdb_iter_err(const struct dw_tsdb_iter *it);

/**
 * Label names of the series that match every matcher (n may be 0) and have
 * samples in the querier's range, sorted, without duplicates. Returns an
 * array the caller frees with free(); the strings belong to the querier.
 */
const char **dw_tsdb_label_names(struct dw_tsdb_querier *q, struct dw_tsdb_matcher *const *ms,
                                 size_t n, size_t *count);
/** Values of label `name` in the same way (never ""). */
const char **dw_tsdb_label_values(struct dw_tsdb_querier *q, const char *name,
                                  struct dw_tsdb_matcher *const *ms, size_t n, size_t *count);

/* ---- statistics (for /metrics) ---- */

struct dw_tsdb_stats {
    uint64_t series;      /* in the head now */
    uint64_t chunks;      /* head chunks, active and full */
    uint64_t samples;     /* samples held by the head */
    uint64_t chunk_bytes; /* encoded bytes of those chunks */
    int64_t min_time;     /* oldest and newest sample in the head (0, 0 when empty) */
    int64_t max_time;
    /* counters since open (including the WAL replay) */
    uint64_t samples_appended;
    uint64_t samples_redundant;
    uint64_t samples_out_of_order;
    uint64_t samples_duplicate;
    uint64_t samples_out_of_bounds;
    uint64_t series_created;
    uint64_t series_removed;
    uint64_t commits;
    uint64_t commits_rejected; /* limit or invalid input */
    uint64_t truncations;
    struct dw_tsdb_wal_stats wal; /* zero before the load */
    /* blocks now (zero before the load) */
    uint64_t blocks_raw, blocks_5m, blocks_1h;
    uint64_t block_bytes;    /* index + chunks files of every block */
    uint64_t block_samples;  /* samples in raw blocks */
    int64_t persisted_until; /* raw data before it is in blocks (0: no block) */
    /* maintenance since open; times from dw_now_ms(), 0 when it never happened */
    int64_t last_cut_ms;         /* the last head range written as a block */
    int64_t last_block_maint_ms; /* the last compaction/downsampling/retention round */
    uint64_t blocks_cut;         /* head ranges written as blocks */
    uint64_t compactions;        /* merges */
    uint64_t blocks_downsampled; /* raw blocks downsampled */
    uint64_t blocks_deleted;     /* by retention */
    uint64_t maint_errors;       /* maintenance calls that failed */
};

void dw_tsdb_get_stats(struct dw_tsdb *db, struct dw_tsdb_stats *st);
/** Series in the head now. */
size_t dw_tsdb_num_series(struct dw_tsdb *db);

/* ---- persistence: cutting the head into blocks, block maintenance ----
 *
 * The head keeps the newest samples in memory (and the WAL); older ranges
 * are written to blocks in dir/blocks by dw_tsdb_maintain(), which the
 * daemon calls periodically (docs/internals/tsdb-blocks.md, "Wiring into the
 * database"). One maintenance call at a time (they are serialised); appends
 * and queries run in parallel with it.
 */

struct dw_tsdb_maint_result {
    size_t blocks_cut;         /* head ranges written as blocks */
    uint64_t samples_cut;      /* samples in them */
    bool head_truncated;       /* the head and the WAL were truncated */
    bool truncation_deferred;  /* a truncation waits for queriers from before a cut */
    bool blocks_maintained;    /* compaction, downsampling and retention ran */
    size_t compactions;        /* merges done */
    size_t blocks_downsampled; /* raw blocks downsampled */
    size_t blocks_deleted;     /* blocks deleted by retention */
};

/**
 * Does what is due at now_ms (the caller passes dw_now_ms()):
 *   1. cut: while the head spans 1.5 block ranges beyond what is persisted,
 *      writes its oldest block range [mint, mint + range) (aligned) as a
 *      block, adds it to the directory and registers it with the queriers;
 *   2. truncates the head and the WAL (checkpoint) up to the newest block,
 *      unless a querier created before that block still runs: then the
 *      truncation waits for a later call (truncation_deferred);
 *   3. after a cut, or when the last round is maint_interval_ms old:
 *      compaction, downsampling (5 m, 1 h) and retention (whole blocks,
 *      retention_ms / downsample_retention_ms before now_ms), then the
 *      queriers' block list follows the directory.
 * res (may be NULL) says what happened. Returns 0 or the first error with
 * *err (caller frees; may be NULL); DW_TSDB_ELOADING before the load.
 */
int dw_tsdb_maintain(struct dw_tsdb *db, int64_t now_ms, struct dw_tsdb_maint_result *res,
                     char **err);
/**
 * Persists everything the head holds now: the complete block ranges, then
 * the newest partial range up to the newest sample (a block ending one
 * millisecond after it), and truncates the head and the WAL as in
 * dw_tsdb_maintain. Samples older than the newest persisted one are out of
 * bounds afterwards, so this is for tests and explicit snapshots: the
 * daemon does not call it at shutdown (the WAL keeps the head).
 */
int dw_tsdb_flush_head(struct dw_tsdb *db, struct dw_tsdb_maint_result *res, char **err);

/* ---- head maintenance: the steps dw_tsdb_maintain() takes ----
 *
 * Persisting the head's oldest block range [mint, maxt), the sequence is:
 *   1. dw_tsdb_head_bounds(): cut when head max - max(head min, persisted)
 *      >= 1.5 block ranges (then no sample can still arrive below maxt, see
 *      the out-of-bounds rule), for mint aligned down to the block range;
 *   2. dw_tsdb_head_cut(db, mint, maxt, ...): every series with samples in
 *      the range, in label order; write, fsync and rename the block;
 *   3. register the block as a source (head_internal.h) so queries see it;
 *   4. dw_tsdb_head_truncate(db, maxt): drops head chunks wholly before
 *      maxt and series left empty, makes samples < maxt out of bounds, and
 *      checkpoints the WAL (cut, checkpoint of the series and samples the
 *      head still holds, deletion of the old segments).
 * Head chunks never straddle a multiple of the block range, so the
 * truncation at an aligned maxt is exact. A crash between 2 and 4 leaves the
 * old samples in the WAL; dw_tsdb_load() skips them (they are older than
 * the newest block).
 */

/** Oldest and newest sample timestamp in the head; false when it is empty. */
bool dw_tsdb_head_bounds(struct dw_tsdb *db, int64_t *mint, int64_t *maxt);

/**
 * Visits the head's series with samples in [mint, maxt) in label order:
 * fn gets the labels and an iterator over exactly those samples. A non-zero
 * return of fn stops the cut and is returned. Appends may run meanwhile;
 * each series is read as of when the cut reaches it.
 */
int dw_tsdb_head_cut(struct dw_tsdb *db, int64_t mint, int64_t maxt,
                     int (*fn)(void *ctx, const struct dw_label *labels, size_t n,
                               struct dw_tsdb_iter *it),
                     void *ctx);
/**
 * Drops head data older than t (whole chunks; a chunk straddling t stays
 * until the next truncation), removes series left without samples, makes
 * samples < t out of bounds and checkpoints the WAL. Waits for running
 * commits. Returns 0 or a WAL error with *err (caller frees; may be NULL).
 */
int dw_tsdb_head_truncate(struct dw_tsdb *db, int64_t t, char **err);

/* ==== blocks: persisted data, downsampling, offline import ====
 * (block*.c, compact.c, downsample.c, retention.c; the on-disk format and
 * the rules: docs/internals/tsdb-blocks.md)
 *
 * Older data lives in immutable blocks of [mint, maxt) in a directory of
 * their own. Downsampled blocks hold, per raw series and per window of
 * their resolution, five series that carry the extra label
 * __rollup__="min" | "max" | "sum" | "count" | "last" (timestamp: the last
 * raw sample of the window; stale markers are left out).
 */

#define DW_TSDB_RES_RAW 0
#define DW_TSDB_RES_5M 300000  /* ms */
#define DW_TSDB_RES_1H 3600000 /* ms */
#define DW_TSDB_ROLLUP_LABEL "__rollup__"

/* The oldest timestamp each resolution can answer from (INT64_MAX: no data). */
struct dw_tsdb_coverage {
    int64_t raw_mint; /* raw blocks or the head */
    int64_t res5m_mint;
    int64_t res1h_mint;
};

/**
 * The resolution a query of [mint, maxt] at `step` ms should read:
 *   1. raw when step < 5m or raw data reaches back to mint;
 *   2. else the finest of 5m, 1h with resolution <= step whose data reaches
 *      back to mint;
 *   3. else, among raw and the resolutions <= step, the one whose data
 *      starts earliest (ties: the finer).
 * Returns DW_TSDB_RES_RAW, DW_TSDB_RES_5M or DW_TSDB_RES_1H.
 */
int64_t dw_tsdb_resolution_choose(const struct dw_tsdb_coverage *c, int64_t mint, int64_t maxt,
                                  int64_t step);

/*
 * Offline backfill (`dojowatch import`): samples of any series in any order
 * in, blocks out. Samples are buffered per series up to a memory bound;
 * each flush writes one block per block range window it touched (a window
 * flushed twice yields two overlapping blocks, merged by the compaction
 * that finish runs). Duplicate timestamps in a series keep the last value
 * added.
 */
struct dw_tsdb_import_opts {
    const char *dir;             /* directory of blocks (created) */
    int64_t block_range_ms;      /* 0 = 2 h */
    int64_t retention_ms;        /* samples older than now - retention are dropped and counted;
                                    0 = 90 d, < 0 = keep everything */
    size_t max_buffered_samples; /* flush beyond this; 0 = 4,000,000 (about 100 MiB) */
    size_t max_series;           /* distinct series per import; 0 = 10,000,000 */
    bool no_compact;             /* finish without compacting */
};

struct dw_tsdb_import_stats {
    uint64_t samples;     /* written to blocks (before compaction; see duplicates) */
    uint64_t series;      /* distinct series seen */
    uint64_t too_old;     /* dropped by retention */
    uint64_t duplicates;  /* replaced within one flush by a later sample with the same
                             timestamp (across flushes compaction keeps the newer block's) */
    uint64_t blocks;      /* blocks written before compaction */
    uint64_t compactions; /* merges done by finish */
    int64_t mint, maxt;   /* oldest and newest sample written (0, 0 when none) */
};

struct dw_tsdb_importer;

/** Fills o with the defaults (dir NULL: the caller sets it). */
void dw_tsdb_import_opts_init(struct dw_tsdb_import_opts *o);
/** NULL with *err (caller frees) when the directory cannot be used. */
struct dw_tsdb_importer *dw_tsdb_importer_new(const struct dw_tsdb_import_opts *o, char **err);
/**
 * Adds one sample (labels in any order; empty values are dropped).
 * Returns 0, DW_TSDB_EINVAL (no or invalid __name__, invalid or duplicate
 * label name), DW_TSDB_ELIMIT (labels per series, name or value length,
 * series per import) or DW_TSDB_EIO (a flush failed; the importer is then
 * failed). A sample older than the retention returns 0 and is counted.
 */
int dw_tsdb_importer_add(struct dw_tsdb_importer *im, const struct dw_label *labels, size_t n,
                         int64_t t, double v);
/**
 * Flushes what is buffered, compacts the directory (unless no_compact) and
 * frees the importer (*im set NULL). st (may be NULL) gets the totals.
 * Returns 0 or an error with *err (caller frees).
 */
int dw_tsdb_importer_finish(struct dw_tsdb_importer **im, struct dw_tsdb_import_stats *st,
                            char **err);
/** Discards what is buffered (blocks already flushed stay); no-op on NULL. */
void dw_tsdb_importer_abort(struct dw_tsdb_importer **im);

#endif
