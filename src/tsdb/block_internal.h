/*
 * block_internal.h - persisted blocks inside the tsdb module: the block
 * writer, the mmap reader with its index, the directory of blocks with
 * compaction, retention and downsampling.
 *
 * No other module includes this header (the importer the CLI needs is in
 * tsdb.h, section "blocks"). Byte-by-byte format and rules:
 * docs/internals/tsdb-blocks.md.
 *
 * A block is an immutable directory DIR/<id>/ holding meta.json, index and
 * chunks, covering the half-open time range [mint, maxt). It is written
 * into DIR/<id>.tmp and renamed into place, so a crash never leaves half a
 * block visible.
 *
 * Threads: a writer belongs to one thread. An opened block is immutable and
 * reference-counted; any number of threads may read it through their own
 * cursors (its page cache has a lock). A block directory serialises its
 * maintenance (compaction, downsampling, retention) and hands out
 * referenced snapshots of its blocks to readers.
 */
#ifndef DW_TSDB_BLOCK_INTERNAL_H
#define DW_TSDB_BLOCK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tsdb/tsdb.h"

/* ULID-like: 48-bit ms time + 80 random bits, Crockford base32, monotonic per process */
#define DW_TSDB_BLOCK_ID_LEN 26

/* Limits on what a block may hold; checked by the writer and the reader. */
#define DW_TSDB_BLOCK_MAX_LABELS 256         /* labels per series, __name__ included */
#define DW_TSDB_BLOCK_MAX_STRING (64u << 10) /* bytes of one label name or value */
#define DW_TSDB_BLOCK_MAX_CHUNK 16384        /* samples per chunk (then split) */
#define DW_TSDB_BLOCK_META_MAX (16u << 20)   /* bytes of meta.json */
#define DW_TSDB_BLOCK_MAX_SOURCES 1000000    /* source ids in meta.json */

/* Default compaction ranges: raw 2h -> 6h -> 24h; downsampled 24h -> 7d. */
#define DW_TSDB_BLOCK_RANGE_DEFAULT (2 * 3600 * 1000LL)
#define DW_TSDB_DS_RANGE_DEFAULT (24 * 3600 * 1000LL)

/* ---- meta.json ---- */

typedef char dw_tsdb_block_id[DW_TSDB_BLOCK_ID_LEN + 1];

struct dw_tsdb_block_meta {
    dw_tsdb_block_id id;
    int64_t mint, maxt;    /* [mint, maxt): every sample is inside */
    int64_t resolution_ms; /* 0 raw, DW_TSDB_RES_5M, DW_TSDB_RES_1H */
    uint32_t level;        /* 1 for a written block, max(sources) + 1 after compaction */
    uint64_t nseries, nsamples, nchunks, npages;
    uint64_t index_bytes, chunk_bytes; /* file sizes */
    dw_tsdb_block_id *sources;         /* heap; sorted, unique: the level-1 blocks merged in */
    size_t nsources;
};

/** Frees the sources and zeroes the struct. */
void dw_tsdb_block_meta_release(struct dw_tsdb_block_meta *m);
/** Deep copy into dst (which is overwritten, not released). */
void dw_tsdb_block_meta_copy(struct dw_tsdb_block_meta *dst, const struct dw_tsdb_block_meta *src);
/** Reads DIR/<id>/meta.json. 0, DW_TSDB_EIO (missing) or DW_TSDB_ECORRUPT with *err. */
int dw_tsdb_block_meta_read(const char *path, struct dw_tsdb_block_meta *m, char **err);
/** meta.json text of m (heap). */
char *dw_tsdb_block_meta_json(const struct dw_tsdb_block_meta *m);
/** A new id from dw_now_ms() and 80 random bits. */
void dw_tsdb_block_new_id(dw_tsdb_block_id out);
/** True when s is exactly DW_TSDB_BLOCK_ID_LEN Crockford base32 characters. */
bool dw_tsdb_block_id_valid(const char *s);

/* ---- writer ---- */

/* How the writer orders chunks into pages (zstd compresses a page as a whole). */
enum dw_tsdb_grouping {
    DW_TSDB_GROUP_FAMILY = 0, /* default: per window, by metric family (a histogram's
                                 _bucket/_sum/_count together) and then the other labels */
    DW_TSDB_GROUP_LABELS = 1, /* per window, in series label order */
    DW_TSDB_GROUP_NONE = 2,   /* per window, in the order series were added */
};

struct dw_tsdb_block_wopts {
    int64_t mint, maxt;     /* the block's range [mint, maxt) */
    int64_t resolution_ms;  /* 0 = raw */
    int64_t chunk_range_ms; /* a chunk holds one aligned window; 0: 2h raw, 24h at 5m, 7d at 1h */
    uint32_t level;         /* 0 = 1 */
    dw_tsdb_block_id *sources; /* NULL: the block itself (a level-1 block); copied */
    size_t nsources;
    int zstd_level;     /* 0 = 3; < 0 stores pages uncompressed */
    size_t page_target; /* raw bytes before a page is finished; 0 = DW_TSDB_PAGE_TARGET */
    size_t flush_bytes; /* encoded chunks buffered before pages are written; 0 = 32 MiB */
    enum dw_tsdb_grouping grouping;
};

/** Defaults for a raw block over [mint, maxt). */
void dw_tsdb_block_wopts_init(struct dw_tsdb_block_wopts *o, int64_t mint, int64_t maxt);

struct dw_tsdb_block_writer;

/**
 * Starts a block in dir/<new id>.tmp (dir is created if needed). NULL with
 * *err (caller frees) when the directory cannot be written or the options
 * are invalid.
 */
struct dw_tsdb_block_writer *
dw_tsdb_block_writer_new(const char *dir, const struct dw_tsdb_block_wopts *o, char **err);
/**
 * Adds one series: labels sorted by name with unique names and non-empty
 * values, n samples with strictly increasing timestamps inside [mint, maxt).
 * Series may come in any order (the index sorts them); n == 0 is ignored.
 * Returns 0, DW_TSDB_EINVAL (bad labels, a series added twice, a timestamp
 * outside the range), DW_TSDB_EORDER, DW_TSDB_ELIMIT (over a block limit)
 * or DW_TSDB_EIO. After an error other than EINVAL/EORDER/ELIMIT the writer
 * is failed and only _abort is useful.
 */
int dw_tsdb_block_writer_add(struct dw_tsdb_block_writer *w, const struct dw_label *labels,
                             size_t nlabels, const int64_t *t, const double *v, size_t n);
/** Series added so far. */
size_t dw_tsdb_block_writer_series(const struct dw_tsdb_block_writer *w);
/**
 * Writes the index and meta.json, fsyncs everything, renames the directory
 * into place and fsyncs dir. Fills *meta (may be NULL; release it). A block
 * without series is not written: 0 with meta->id empty. Frees the writer
 * and sets *w NULL in every case; on error the temporary directory is gone.
 */
int dw_tsdb_block_writer_commit(struct dw_tsdb_block_writer **w, struct dw_tsdb_block_meta *meta,
                                char **err);
/** Discards the block and its temporary directory; no-op on NULL. */
void dw_tsdb_block_writer_abort(struct dw_tsdb_block_writer **w);

/* A series source for dw_tsdb_block_write(): pull one series at a time. */
struct dw_tsdb_block_series {
    const struct dw_label *labels;
    size_t nlabels;
    const int64_t *t;
    const double *v;
    size_t n;
};

struct dw_tsdb_block_source {
    /** 1 with *s filled (valid until the next call), 0 at the end, < 0 an error to return. */
    int (*next)(void *ctx, struct dw_tsdb_block_series *s);
    void *ctx;
};

/** Writes a whole block from a source: _new, _add per series, _commit. */
int dw_tsdb_block_write(const char *dir, const struct dw_tsdb_block_wopts *o,
                        const struct dw_tsdb_block_source *src, struct dw_tsdb_block_meta *meta,
                        char **err);
/**
 * Persists the head's samples in [mint, maxt) as a raw level-1 block in dir
 * through dw_tsdb_head_cut() (blockcut.c). *meta (may be NULL) as for
 * commit (an empty id when the head had nothing in the range). The caller
 * then adds the block to its directory and truncates the head.
 */
int dw_tsdb_block_write_head(struct dw_tsdb *db, const char *dir, int64_t mint, int64_t maxt,
                             int zstd_level, struct dw_tsdb_block_meta *meta, char **err);

/* ---- reader ---- */

struct dw_tsdb_block;

struct dw_tsdb_block_ropts {
    bool verify_chunks; /* check every page's CRC at open (otherwise on first read) */
    size_t cache_pages; /* decoded pages kept per block; 0 = 16 */
};

/**
 * Opens DIR/<id> (path) with mmap and validates meta.json, the index
 * (structure and every section's CRC32C) and the page table against the
 * chunks file. 0, DW_TSDB_EIO or DW_TSDB_ECORRUPT with *err (caller frees).
 * The block starts with one reference. o may be NULL.
 */
int dw_tsdb_block_open(const char *path, const struct dw_tsdb_block_ropts *o,
                       struct dw_tsdb_block **out, char **err);
void dw_tsdb_block_ref(struct dw_tsdb_block *b);
/** Drops a reference; the last one unmaps and frees. Sets *b NULL; no-op on NULL. */
void dw_tsdb_block_unref(struct dw_tsdb_block **b);
const struct dw_tsdb_block_meta *dw_tsdb_block_meta_of(const struct dw_tsdb_block *b);
/** DIR/<id> as opened. */
const char *dw_tsdb_block_path(const struct dw_tsdb_block *b);
/**
 * Marks the block corrupt: the first call logs one error line and moves the
 * directory to DIR/quarantine/<id>; readers keep their mapping. Called by the
 * reader itself when a page or series does not decode.
 */
void dw_tsdb_block_set_corrupt(struct dw_tsdb_block *b, const char *reason);
bool dw_tsdb_block_is_corrupt(const struct dw_tsdb_block *b);
/**
 * Moves dir/<id> to dir/quarantine/<id> (a numbered suffix when taken) with
 * one error log line naming the reason. 0 or DW_TSDB_EIO.
 */
int dw_tsdb_block_quarantine(const char *dir, const char *id, const char *reason);

/**
 * Series ordinals matching every matcher (Prometheus semantics: an absent
 * label matches like ""; no matchers selects all), ascending. *ids is heap
 * (caller frees). 0 or DW_TSDB_ECORRUPT (the block is then marked corrupt).
 */
int dw_tsdb_block_postings(struct dw_tsdb_block *b, struct dw_tsdb_matcher *const *ms, size_t n,
                           uint32_t **ids, size_t *count);
/**
 * Label names of the series matching the matchers (all names when n == 0),
 * or with name != NULL the values of that label, sorted and unique. *out is
 * a heap array (caller frees) of strings owned by the block (valid while a
 * reference is held).
 */
int dw_tsdb_block_label_strings(struct dw_tsdb_block *b, const char *name,
                                struct dw_tsdb_matcher *const *ms, size_t n, const char ***out,
                                size_t *count);

/*
 * A cursor over the series a select matched, in label order, and over the
 * samples of the current series in [mint, maxt] (inclusive). Chunks are
 * decoded one at a time when reached; seeks skip chunks by their time range
 * without decoding them; label strings point into the mapped index. The
 * cursor holds a reference on the block.
 */
struct dw_tsdb_block_cursor;

/** Never NULL; a failure shows in _err and an empty cursor. mint/maxt inclusive. */
struct dw_tsdb_block_cursor *dw_tsdb_block_select(struct dw_tsdb_block *b,
                                                  struct dw_tsdb_matcher *const *ms, size_t n,
                                                  int64_t mint, int64_t maxt);
/** Next series with at least one chunk overlapping the range; false at the end. */
bool dw_tsdb_block_cursor_next(struct dw_tsdb_block_cursor *c);
/** Labels of the current series (sorted by name; valid while the cursor lives). */
const struct dw_label *dw_tsdb_block_cursor_labels(struct dw_tsdb_block_cursor *c, size_t *n);
/** Next sample of the current series; false at its end or on error. */
bool dw_tsdb_block_cursor_sample(struct dw_tsdb_block_cursor *c, int64_t *t, double *v);
/**
 * Moves to the first sample with timestamp >= t, never backwards (the
 * current sample is returned again when it is already >= t).
 */
bool dw_tsdb_block_cursor_seek(struct dw_tsdb_block_cursor *c, int64_t t, int64_t *ts, double *v);
/**
 * Batch access: the next decoded chunk of the current series holding samples
 * >= min_t, trimmed to [max(min_t, mint), maxt]. Arrays are valid until the
 * next call. Do not mix with _sample/_seek on the same series.
 */
bool dw_tsdb_block_cursor_batch(struct dw_tsdb_block_cursor *c, int64_t min_t, const int64_t **t,
                                const double **v, size_t *n);
/** 0 or the error that ended the cursor (DW_TSDB_ECORRUPT). */
int dw_tsdb_block_cursor_err(const struct dw_tsdb_block_cursor *c);
void dw_tsdb_block_cursor_free(struct dw_tsdb_block_cursor **c);

/* ---- the directory of blocks ---- */

struct dw_tsdb_blockdir_opts {
    int64_t block_range_ms;  /* raw block range (head cut); 0 = 2h. Compaction: x3, x12 */
    int64_t retention_ms;    /* raw blocks; 0 = 90 d */
    int64_t ds_retention_ms; /* downsampled blocks; 0 = 1 y */
    bool no_downsample;      /* maintenance does not downsample */
    int zstd_level;          /* for blocks written by maintenance; 0 = 3 */
    bool verify_chunks;      /* check every page CRC when opening */
};

struct dw_tsdb_blockdir;

/**
 * Opens (creating) a directory of blocks: deletes leftover *.tmp directories
 * (one info line each), opens every block, quarantines corrupt ones and
 * deletes blocks whose sources a newer compacted block already holds (a
 * crash between writing a compaction and deleting its inputs). NULL with
 * *err when the directory cannot be used. o may be NULL.
 */
struct dw_tsdb_blockdir *dw_tsdb_blockdir_open(const char *dir,
                                               const struct dw_tsdb_blockdir_opts *o, char **err);
/** Releases the directory's references; blocks die with their last reader. No-op on NULL. */
void dw_tsdb_blockdir_free(struct dw_tsdb_blockdir **d);
const char *dw_tsdb_blockdir_path(const struct dw_tsdb_blockdir *d);
/**
 * Opens the committed block dir/<id> and adds it (after a writer commit).
 * 0 or the open error (the block is quarantined when corrupt).
 */
int dw_tsdb_blockdir_add(struct dw_tsdb_blockdir *d, const char *id, char **err);
/**
 * A snapshot: referenced blocks sorted by (resolution, mint, id), corrupt
 * ones left out (and dropped from the directory). Release with
 * dw_tsdb_blocks_release. resolution < 0 means every resolution.
 */
size_t dw_tsdb_blockdir_blocks(struct dw_tsdb_blockdir *d, int64_t resolution,
                               struct dw_tsdb_block ***out);
/** Drops the references of a snapshot and frees the array. */
void dw_tsdb_blocks_release(struct dw_tsdb_block **blocks, size_t n);
/** maxt of the newest raw block; false when there is none (for the head's truncation). */
bool dw_tsdb_blockdir_max_time(struct dw_tsdb_blockdir *d, int64_t *maxt);

/* Compaction planning, a pure function (exposed for tests). */
struct dw_tsdb_compact_plan {
    size_t *idx; /* heap: indexes into the metas given, ascending */
    size_t n;
};

/**
 * Picks the next group of blocks of one resolution to merge (metas sorted
 * by mint): first any set of overlapping blocks, else for each range in
 * ranges[1..] the blocks inside one aligned window of that range when there
 * are at least two and the window is complete (a block reaches its end or a
 * later block exists). False when there is nothing to do.
 */
bool dw_tsdb_compact_plan(const struct dw_tsdb_block_meta *const *metas, size_t n,
                          const int64_t *ranges, size_t nranges, struct dw_tsdb_compact_plan *plan);
/**
 * Merges blocks (same resolution, any ranges, overlapping or not) into one
 * new block in dir: series merged by labels, samples by timestamp; of two
 * samples with one timestamp the newest block's (greatest id) stays. Level
 * max + 1, sources the union. Does not delete the inputs. *meta (may be
 * NULL) as for commit.
 */
int dw_tsdb_blocks_merge(const char *dir, struct dw_tsdb_block *const *blocks, size_t n,
                         int zstd_level, struct dw_tsdb_block_meta *meta, char **err);
/**
 * Runs compaction until nothing is left to merge: writes each merged block,
 * adds it, then deletes its inputs. *done (may be NULL) counts merges.
 */
int dw_tsdb_blockdir_compact(struct dw_tsdb_blockdir *d, size_t *done, char **err);
/**
 * Deletes raw blocks with maxt <= now - retention and downsampled ones with
 * maxt <= now - downsampled retention. Returns the number deleted.
 */
size_t dw_tsdb_blockdir_retention(struct dw_tsdb_blockdir *d, int64_t now);

/* Used by compact.c, downsample.c and retention.c. */
const struct dw_tsdb_blockdir_opts *dw_tsdb_blockdir_opts_of(const struct dw_tsdb_blockdir *d);
/** Removes the block from the directory and deletes it (readers keep their mapping). */
int dw_tsdb_blockdir_delete(struct dw_tsdb_blockdir *d, const char *id, const char *why);
/** Compaction ranges for a resolution (ranges[0] is the level-1 range); returns how many. */
size_t dw_tsdb_compact_ranges(const struct dw_tsdb_blockdir *d, int64_t resolution,
                              int64_t ranges[3]);
/** Maintenance lock (serialises compaction, downsampling and retention). */
void dw_tsdb_blockdir_lock(struct dw_tsdb_blockdir *d);
void dw_tsdb_blockdir_unlock(struct dw_tsdb_blockdir *d);
/** Compaction of one resolution until done; the maintenance lock is held. */
int dw_tsdb_blockdir_compact_res(struct dw_tsdb_blockdir *d, int64_t res, size_t *done, char **err);
/** dw_tsdb_blockdir_downsample / _retention with the maintenance lock held. */
int dw_tsdb_blockdir_downsample_locked(struct dw_tsdb_blockdir *d, int64_t now, size_t *done,
                                       char **err);
size_t dw_tsdb_blockdir_retention_locked(struct dw_tsdb_blockdir *d, int64_t now);

/* ---- downsampling ---- */

/* One aggregate per resolution window of every raw series. */
enum dw_tsdb_rollup {
    DW_TSDB_ROLLUP_MIN,
    DW_TSDB_ROLLUP_MAX,
    DW_TSDB_ROLLUP_SUM,
    DW_TSDB_ROLLUP_COUNT,
    DW_TSDB_ROLLUP_LAST,
    DW_TSDB_ROLLUP_N
};

/** "min", "max", "sum", "count", "last". */
const char *dw_tsdb_rollup_name(enum dw_tsdb_rollup r);

/**
 * Writes the downsampled blocks (resolutions res[0..nres), each a multiple
 * of the previous) of one raw block into dir; metas[i] (may be NULL) gets
 * each block's meta (empty id when the raw block had nothing to aggregate).
 */
int dw_tsdb_block_downsample(const char *dir, struct dw_tsdb_block *raw, const int64_t *res,
                             size_t nres, int zstd_level, struct dw_tsdb_block_meta *metas,
                             char **err);
/**
 * Downsamples every raw block that is due (not overlapping another raw
 * block, not yet downsampled, and either compacted to the largest range or
 * ended more than two largest ranges before now) to 5m and 1h, adds the
 * results. *done (may be NULL) counts raw blocks processed.
 */
int dw_tsdb_blockdir_downsample(struct dw_tsdb_blockdir *d, int64_t now, size_t *done, char **err);
/**
 * What a query of [mint, maxt] at `step` should read: 0 (raw),
 * DW_TSDB_RES_5M or DW_TSDB_RES_1H, by dw_tsdb_resolution_choose() over the
 * directory's coverage. head_mint: oldest sample in the head (raw) or
 * INT64_MAX when there is no head.
 */
int64_t dw_tsdb_blockdir_pick_resolution(struct dw_tsdb_blockdir *d, int64_t head_mint,
                                         int64_t mint, int64_t maxt, int64_t step);
/**
 * Compaction, downsampling (unless disabled), compaction of the downsampled
 * blocks, then retention, all at dw_now_ms(). Serialised with other
 * maintenance calls.
 */
int dw_tsdb_blockdir_maintain(struct dw_tsdb_blockdir *d, char **err);

/* What one maintenance round did. */
struct dw_tsdb_blockdir_maint_stats {
    size_t compactions; /* merges, every resolution */
    size_t downsampled; /* raw blocks downsampled */
    size_t deleted;     /* blocks deleted by retention */
};

/** dw_tsdb_blockdir_maintain at `now` (retention and downsampling), counting in *st (may be NULL).
 */
int dw_tsdb_blockdir_maintain_at(struct dw_tsdb_blockdir *d, int64_t now,
                                 struct dw_tsdb_blockdir_maint_stats *st, char **err);

/* ---- the source interface (head_internal.h) ---- */

struct dw_tsdb_source_ops;

/**
 * The series-source operations of a block, to register it with
 * dw_tsdb_source_add(db, dw_tsdb_block_source_ops(), block). The db must
 * hold a block reference while the source is registered.
 */
const struct dw_tsdb_source_ops *dw_tsdb_block_source_ops(void);
/**
 * A view of a downsampled block reading rollup r over [mint, maxt]
 * (inclusive): the series carrying __rollup__=<r>, listed without that label
 * so they merge with the raw series they summarise (a matcher on __rollup__
 * sees it as absent). Holds a block reference; use it and close it with the
 * operations of dw_tsdb_block_rollup_ops().
 */
void *dw_tsdb_block_rollup_open(struct dw_tsdb_block *b, enum dw_tsdb_rollup r, int64_t mint,
                                int64_t maxt);
const struct dw_tsdb_source_ops *dw_tsdb_block_rollup_ops(void);
/** The rollup named s ("min", "max", "sum", "count", "last"); DW_TSDB_ROLLUP_N otherwise. */
enum dw_tsdb_rollup dw_tsdb_rollup_parse(const char *s);

/* ---- the index file (blockindex.c) ---- */

enum {
    DW_TSDB_IX_SYMBOLS,
    DW_TSDB_IX_SERIES,
    DW_TSDB_IX_SERIES_OFFSETS,
    DW_TSDB_IX_POSTINGS,
    DW_TSDB_IX_LABELS,
    DW_TSDB_IX_PAGES,
    DW_TSDB_IX_NSEC
};

/* The chunks file starts with "DWCK", a version byte and 3 zero bytes. */
#define DW_TSDB_CHUNKS_HEADER 8

/* Builds an index in memory while a block is written. */
struct dw_tsdb_ixb;

struct dw_tsdb_ixb *dw_tsdb_ixb_new(void);
void dw_tsdb_ixb_free(struct dw_tsdb_ixb **b);
/** Interns a series' labels; *sid is its builder id. DW_TSDB_EINVAL when added before. */
int dw_tsdb_ixb_add_series(struct dw_tsdb_ixb *b, const struct dw_label *l, size_t n,
                           uint32_t *sid);
/** Adds a chunk of series sid (a series' chunks in time order, right after the series). */
int dw_tsdb_ixb_add_chunk(struct dw_tsdb_ixb *b, uint32_t sid, int64_t mint, int64_t maxt,
                          uint32_t *handle);
/** Records where a chunk landed: page number and slot within the page. */
void dw_tsdb_ixb_place_chunk(struct dw_tsdb_ixb *b, uint32_t handle, uint32_t page, uint32_t slot);
/** Records a page of the chunks file; returns its number. */
uint32_t dw_tsdb_ixb_add_page(struct dw_tsdb_ixb *b, uint64_t off, uint32_t len, uint32_t crc);
size_t dw_tsdb_ixb_series_count(const struct dw_tsdb_ixb *b);
/** A series' labels as interned strings (out has room for its labels). */
void dw_tsdb_ixb_series_labels(const struct dw_tsdb_ixb *b, uint32_t sid, struct dw_label *out,
                               size_t *n);
/**
 * Sorts symbols and series, writes the whole index to fd (at its position)
 * and sets *bytes. base_t is the time chunk refs are coded against.
 */
int dw_tsdb_ixb_write(struct dw_tsdb_ixb *b, int fd, int64_t base_t, uint64_t *bytes, char **err);

struct dw_tsdb_ixr_name {
    uint32_t sym;
    uint32_t nvalues;
    const uint8_t *entries; /* nvalues x (u32 value symbol, u32 postings offset) */
};

/* A read-only view of a mapped index; fields are private to blockindex.c. */
struct dw_tsdb_ixr {
    const uint8_t *data;
    size_t len;
    int64_t base_t;
    const uint8_t *sec[DW_TSDB_IX_NSEC];
    size_t seclen[DW_TSDB_IX_NSEC];
    uint32_t nsyms, nseries, npages;
    struct dw_tsdb_ixr_name *names; /* heap, by name symbol */
    size_t nnames;
};

struct dw_tsdb_ixr_chunk {
    int64_t mint, maxt; /* first and last sample */
    uint32_t page, slot;
};

/* One decoded series record; reuse across calls, then _release. */
struct dw_tsdb_ixr_series {
    struct dw_label *labels; /* strings point into the index */
    size_t nlabels, lcap;
    struct dw_tsdb_ixr_chunk *chunks;
    size_t nchunks, ccap;
};

/** Validates and opens an index mapped at data. 0 or DW_TSDB_ECORRUPT with *err. */
int dw_tsdb_ixr_open(struct dw_tsdb_ixr *r, const uint8_t *data, size_t len, uint64_t chunks_size,
                     char **err);
void dw_tsdb_ixr_release(struct dw_tsdb_ixr *r);
/** Symbol id (< nsyms) to its string. */
const char *dw_tsdb_ixr_sym(const struct dw_tsdb_ixr *r, uint32_t id);
bool dw_tsdb_ixr_sym_find(const struct dw_tsdb_ixr *r, const char *s, uint32_t *id);
/** Page i (< npages): offset and length in the chunks file, CRC32C. */
void dw_tsdb_ixr_page(const struct dw_tsdb_ixr *r, uint32_t i, uint64_t *off, uint32_t *len,
                      uint32_t *crc);
/** Decodes series `ord`; DW_TSDB_EINVAL out of range, DW_TSDB_ECORRUPT. */
int dw_tsdb_ixr_series(const struct dw_tsdb_ixr *r, uint32_t ord, struct dw_tsdb_ixr_series *s);
void dw_tsdb_ixr_series_release(struct dw_tsdb_ixr_series *s);
/** Ordinals matching the matchers (heap, ascending). 0 or DW_TSDB_ECORRUPT. */
int dw_tsdb_ixr_select(const struct dw_tsdb_ixr *r, struct dw_tsdb_matcher *const *ms, size_t n,
                       uint32_t **ids, size_t *count);
/** Label names (name NULL) or values of name, of the matching series; sorted, unique. */
int dw_tsdb_ixr_strings(const struct dw_tsdb_ixr *r, const char *name,
                        struct dw_tsdb_matcher *const *ms, size_t n, const char ***out,
                        size_t *count);

/* ---- reader internals shared by block.c and blockquery.c ---- */

/* A decoded page borrowed from the block's cache. */
struct dw_tsdb_block_page {
    struct dw_tsdb_page *pg;
    int slot; /* cache slot, -1 when the page was not cached (freed on put) */
};

const struct dw_tsdb_ixr *dw_tsdb_block_index(const struct dw_tsdb_block *b);
/**
 * Borrows page i: from the cache, or read, CRC-checked and decoded. A page
 * that fails marks the block corrupt. 0 or DW_TSDB_ECORRUPT.
 */
int dw_tsdb_block_page_get(struct dw_tsdb_block *b, uint32_t i, struct dw_tsdb_block_page *out);
void dw_tsdb_block_page_put(struct dw_tsdb_block *b, struct dw_tsdb_block_page *p);

/* ---- filesystem helpers (block.c) ---- */

/** Removes a directory tree (depth-limited); 0 or -1 (errno logged). */
int dw_tsdb_rm_rf(const char *path);
/** fsync of a directory or file by path; 0 or DW_TSDB_EIO (logged). */
int dw_tsdb_fsync_path(const char *path);

#endif
