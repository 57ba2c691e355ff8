/*
 * head_internal.h - what index.c, head.c, db.c, querier.c, sources.c and
 * maintain.c share: the head, the database object, and the "series source"
 * interface a block reader implements so the querier can merge blocks with
 * the head.
 *
 * No other module includes this header. Design and locking rules:
 * docs/internals/tsdb-head.md.
 *
 * Lock order (never take an earlier one while holding a later one):
 *   maintenance mutex (maint_mu) -> truncation mutex (trunc_mu)
 *   -> db gate (rwlock: commits read, truncation and the cut's barrier write)
 *   -> index lock (rwlock)
 *   -> series hash shard lock (rwlock)
 *   -> series lock (a spin bit in the series' flags)
 *   -> reclaim mutex
 * The source registry mutex (src_mu) is a leaf: nothing is taken under it.
 */
#ifndef DW_TSDB_HEAD_INTERNAL_H
#define DW_TSDB_HEAD_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tsdb/tsdb.h"

/* ---- segmented arrays: slots that never move, lock-free reads ---- */

/*
 * Maps a uint32 id to a pointer through three levels (a fixed top array,
 * middle blocks of DW_SEG_MID pages, pages of DW_SEG_PAGE slots), each
 * allocated on first use and never moved, so a reader needs no lock: it
 * follows the pointers with acquire loads. Writers are serialised by the
 * owner's lock. Memory grows with the ids in use, not with the id space.
 * A page whose slots are all empty again (series ids are never reused) is
 * detached and handed to the reclaimer by its owner.
 */
#define DW_SEG_PAGE_BITS 12
#define DW_SEG_MID_BITS 10
#define DW_SEG_PAGE (1u << DW_SEG_PAGE_BITS)
#define DW_SEG_MID (1u << DW_SEG_MID_BITS)
#define DW_SEG_TOP (1u << (32 - DW_SEG_PAGE_BITS - DW_SEG_MID_BITS))

struct dw_segpage {
    uint32_t live; /* non-NULL slots (owner's lock) */
    _Atomic(void *) slot[DW_SEG_PAGE];
};

struct dw_segmid {
    _Atomic(struct dw_segpage *) page[DW_SEG_MID];
};

struct dw_segarr {
    _Atomic(struct dw_segmid *) top[DW_SEG_TOP];
};

/** Frees the pages (not what the slots point to). */
void dw_segarr_release(struct dw_segarr *a);
/** Stores p in slot i (caller holds the owner's write lock). Returns the page's live count. */
uint32_t dw_segarr_set(struct dw_segarr *a, uint32_t i, void *p);
/** Detaches the page holding id i and returns it (the caller frees it later). */
void *dw_segarr_take_page(struct dw_segarr *a, uint32_t i);

static inline void *dw_segarr_get(const struct dw_segarr *a, uint32_t i)
{
    struct dw_segmid *mid = atomic_load_explicit(&a->top[i >> (DW_SEG_PAGE_BITS + DW_SEG_MID_BITS)],
                                                 memory_order_acquire);
    if (!mid)
        return NULL;
    struct dw_segpage *pg = atomic_load_explicit(
        &mid->page[(i >> DW_SEG_PAGE_BITS) & (DW_SEG_MID - 1)], memory_order_acquire);
    return pg ? atomic_load_explicit(&pg->slot[i & (DW_SEG_PAGE - 1)], memory_order_acquire) : NULL;
}

/* ---- deferred reclamation (epochs) ---- */

/*
 * Memory that lock-free readers may still hold (series, symbol strings,
 * pages) is not freed when it is unlinked: it is deferred with the current
 * epoch and freed once every holder that entered at or before that epoch
 * has left. Appenders (from their first add to commit) and queriers (from
 * creation to free) are holders.
 */
struct dw_holder {
    uint64_t epoch;
    struct dw_holder *prev, *next;
    bool active;
};

struct dw_grave {
    uint64_t tag;
    void (*fn)(void *ctx, void *p);
    void *ctx;
    void *p;
};

struct dw_reclaim {
    pthread_mutex_t mu;
    uint64_t epoch;
    struct dw_holder head; /* sentinel of the holder list */
    struct dw_grave *items;
    size_t n, cap;
};

void dw_reclaim_init(struct dw_reclaim *r);
/** Frees everything still deferred (no holder may be left). */
void dw_reclaim_release(struct dw_reclaim *r);
void dw_reclaim_enter(struct dw_reclaim *r, struct dw_holder *h);
/** Leaves; frees what no remaining holder can see. No-op when h is not active. */
void dw_reclaim_exit(struct dw_reclaim *r, struct dw_holder *h);
/** Defers fn(ctx, p) until every current holder has left. Call after unlinking p. */
void dw_reclaim_defer(struct dw_reclaim *r, void (*fn)(void *ctx, void *p), void *ctx, void *p);
/** Runs what has become free (the caller holds no lock a callback takes). */
void dw_reclaim_collect(struct dw_reclaim *r);

/* ---- sorted id lists ---- */

struct dw_idlist {
    uint32_t *ids; /* heap */
    size_t n, cap;
};

void dw_idlist_release(struct dw_idlist *l);
void dw_idlist_push(struct dw_idlist *l, uint32_t id);
/** Sorts ascending (radix sort for long lists). */
void dw_idlist_sort(struct dw_idlist *l);
/** a := a ∩ b (both sorted); galloping search when the sizes differ a lot. */
void dw_idlist_intersect(struct dw_idlist *a, const uint32_t *b, size_t nb);
/** a := a \ b (both sorted). */
void dw_idlist_subtract(struct dw_idlist *a, const uint32_t *b, size_t nb);

/* ---- the inverted index (index.c) ---- */

/* An interned string. The index keeps one per distinct label name or value. */
struct dw_sym {
    uint64_t hash;
    uint32_t refs; /* label pairs of live series using it (index lock) */
    uint32_t len;
    char s[];
};

struct dw_postings {
    uint32_t *ids; /* sorted series ids; heap */
    uint32_t n, cap;
};

struct dw_lval {
    uint32_t sym; /* 0: empty slot */
    struct dw_postings p;
};

struct dw_lname {
    uint32_t sym;
    uint32_t n, cap;      /* values, slots (power of two) */
    struct dw_lval *vals; /* open addressing by value symbol */
};

/*
 * Symbols, postings per label pair and the list of all series. Readers of
 * postings and writers (series creation and removal) take `lock`; symbol
 * strings are read without it through dw_index_str().
 */
struct dw_index {
    pthread_rwlock_t lock;
    struct dw_segarr syms; /* id -> struct dw_sym * */
    uint32_t *symmap;      /* open addressing by string hash -> id */
    uint32_t symmap_cap, nsyms;
    uint32_t next_sym;
    uint32_t *free_syms; /* ids whose string has been reclaimed */
    size_t nfree, free_cap;
    struct dw_lname **names; /* open addressing by name symbol */
    uint32_t names_cap, nnames;
    struct dw_postings all;
    struct dw_reclaim *reclaim; /* borrowed from the head */
};

void dw_index_init(struct dw_index *ix, struct dw_reclaim *r);
void dw_index_release(struct dw_index *ix);
/** 64-bit hash of a string. */
uint64_t dw_index_hash_str(const char *s, size_t len, uint64_t seed);
/** The same in steps: mix strings into a running state, finalise once (label sets). */
uint64_t dw_index_hash_mix(const char *s, size_t len, uint64_t seed);
uint64_t dw_index_hash_final(uint64_t h);

static inline const char *dw_index_str(const struct dw_index *ix, uint32_t sym)
{
    struct dw_sym *s = dw_segarr_get(&ix->syms, sym);
    return s ? s->s : "";
}

/** The interned string with its length (NULL for an unused id); no lock needed. */
static inline const struct dw_sym *dw_index_sym(const struct dw_index *ix, uint32_t sym)
{
    return dw_segarr_get(&ix->syms, sym);
}

/** Interns s and takes a reference (write lock held). */
uint32_t dw_index_intern(struct dw_index *ix, const char *s);
/** Symbol of s or 0 (read or write lock held). */
uint32_t dw_index_lookup(const struct dw_index *ix, const char *s);
/** Adds a series' label pairs to the postings (write lock held). */
void dw_index_add_series(struct dw_index *ix, uint32_t id, const uint32_t *labels, size_t n);
/**
 * Removes the series `dead` (sorted ids) from the postings and drops the
 * symbol references of their label pairs (`pairs`: npairs name/value symbol
 * pairs, the concatenated labels of the dead series). Write lock held.
 */
void dw_index_remove_series(struct dw_index *ix, const uint32_t *dead, size_t ndead,
                            const uint32_t *pairs, size_t npairs);

/* How the index asks the head for the value of one label of a series (post-filtering). */
struct dw_index_series_labels {
    /** The value of label symbol `name` in series id, "" when absent. */
    const char *(*value)(void *ctx, uint32_t id, uint32_t name);
    void *ctx;
};

/**
 * Ids of the series matching every matcher, ascending (read lock held).
 * Prometheus semantics: a missing label matches like the empty value.
 */
void dw_index_select(struct dw_index *ix, struct dw_tsdb_matcher *const *ms, size_t n,
                     const struct dw_index_series_labels *sl, struct dw_idlist *out);
/** Every label name symbol with at least one series (read lock held). */
void dw_index_names(struct dw_index *ix, struct dw_idlist *out);
/** Every value symbol of a name symbol (read lock held). */
void dw_index_values(struct dw_index *ix, uint32_t name, struct dw_idlist *out);
/** Postings of a (name, value) pair, or NULL (read lock held). */
const struct dw_postings *dw_index_postings(struct dw_index *ix, uint32_t name, uint32_t value);

/* ---- series and the head (head.c) ---- */

enum {
    DW_SERIES_LOGGED = 1,   /* its definition is in the WAL */
    DW_SERIES_DEAD = 2,     /* garbage-collected: unlinked, awaiting reclamation */
    DW_SERIES_LOCK = 4,     /* the series lock */
    DW_SERIES_WCHECKED = 8, /* the commit watch's filter has judged its name */
    DW_SERIES_WATCHED = 16, /* ... and wants to hear of its samples */
};

/*
 * One series. Chunk fields are guarded by the series lock, a bit in flags
 * (in the series' own cache line: appends touch no other lock memory);
 * max_t is also read without it (atomic) for the commit's pre-check.
 * head is NULL when the series is empty or its last chunk just filled up
 * and was frozen.
 * Frozen chunks: the full chunks, re-encoded as block chunks and stored
 * back to back in one allocation, each as uvarint len, varint min_t,
 * uvarint (max_t - min_t), then len bytes. Chunks are numbered: the first
 * frozen chunk held is number seq0, the active chunk seq0 + nfrozen.
 */
struct dw_series {
    _Atomic int64_t max_t;                /* last sample's timestamp; INT64_MIN when empty */
    _Atomic(struct dw_tsdb_chunk *) head; /* active chunk (see head.c); may be NULL */
    uint8_t *frozen;                      /* heap, exact size */
    uint32_t frozen_len;
    uint32_t seq0;
    uint32_t id;
    uint16_t nfrozen;
    uint16_t nlabels;
    _Atomic uint8_t flags;
    /* nlabels (name, value) symbol pairs sorted by name, as uvarints: with
       interned symbols mostly below 2^14 a label costs 2-4 bytes, not 8 */
    uint8_t labels[];
};

/* Walks a series' label symbols: dw_series_syms_next() twice per label. */
static inline const uint8_t *dw_series_syms_next(const uint8_t *p, uint32_t *sym)
{
    uint32_t v = 0;
    for (unsigned shift = 0;; shift += 7) {
        uint8_t c = *p++;
        v |= (uint32_t)(c & 0x7f) << shift;
        if (!(c & 0x80) || shift >= 28)
            break;
    }
    *sym = v;
    return p;
}

/** Decodes every symbol of a series into out (2 * nlabels entries). */
void dw_series_syms(const struct dw_series *s, uint32_t *out);

#define DW_HEAD_SHARDS 256

/** Takes the series lock (spins, then yields: holders never block). */
void dw_series_lock(struct dw_series *s);

static inline void dw_series_unlock(struct dw_series *s)
{
    atomic_fetch_and_explicit(&s->flags, (uint8_t)~DW_SERIES_LOCK, memory_order_release);
}

struct dw_head_shard {
    pthread_rwlock_t lock;
    uint64_t *slots; /* open addressing by hash: hash tag << 32 | series id; 0 empty */
    uint32_t cap, n;
    char pad[64 - sizeof(uint64_t *) - 2 * sizeof(uint32_t)];
};

/* Why an append did not store a sample. */
enum dw_append_status {
    DW_APPEND_OK = 0,
    DW_APPEND_REDUNDANT, /* same timestamp and same value bits as the last sample */
    DW_APPEND_DUPLICATE, /* same timestamp, other value */
    DW_APPEND_OOO,       /* older than the last sample */
    DW_APPEND_OOB,       /* outside the head's appendable window */
};

struct dw_head {
    struct dw_index ix;
    struct dw_reclaim reclaim;
    struct dw_head_shard shards[DW_HEAD_SHARDS];
    struct dw_segarr series; /* id -> struct dw_series * */
    uint32_t next_id;        /* index write lock */
    int64_t block_range_ms;
    int64_t max_future_ms; /* < 0: no limit */
    /* WAL replay (set while nothing else appends): only min_valid bounds samples.
       The checkpoint lists samples series by series, not in time order, so the
       window (newest - block_range/2) would drop the older part of the head. */
    bool replaying;
    _Atomic int64_t min_valid; /* samples before it are out of bounds (last truncation) */
    _Atomic int64_t max_time;  /* newest sample accepted */
    _Atomic int64_t min_time;  /* oldest sample held (approximate after truncation) */
    _Atomic int64_t win_start; /* a recent block range start (INT64_MAX: none yet) */
    _Atomic uint64_t nseries;  /* live series plus reservations of running commits */
    _Atomic uint64_t nchunks, nsamples, chunk_bytes;
    _Atomic uint64_t appended, out_of_order, duplicate, out_of_bounds, redundant;
    _Atomic uint64_t created, removed;
};

struct dw_head *dw_head_new(int64_t block_range_ms, int64_t max_future_ms);
void dw_head_free(struct dw_head **h);

static inline struct dw_series *dw_head_series(struct dw_head *h, uint32_t id)
{
    return dw_segarr_get(&h->series, id);
}

/*
 * Label sets passed to the head are sorted by name without empty values.
 * `lens`, when not NULL, holds each name's and value's length (2 per
 * label) so hashing and comparing need no strlen.
 */

/** Label-set hash used by the series map. */
uint64_t dw_head_labels_hash(const struct dw_label *l, const uint32_t *lens, size_t n);
/** The label-set hash of an existing series (recomputed from its strings). */
uint64_t dw_head_series_hash(struct dw_head *h, const struct dw_series *s);
/** Finds a series by labels and their hash; NULL when absent. Holders only. */
struct dw_series *dw_head_find(struct dw_head *h, const struct dw_label *l, const uint32_t *lens,
                               size_t n, uint64_t hash);
/**
 * Finds or creates a series (index write lock held). id 0 allocates the
 * next id; otherwise the series gets that id (WAL replay) unless the labels
 * already exist. *created tells whether it is new.
 */
struct dw_series *dw_head_get_or_create(struct dw_head *h, const struct dw_label *l, size_t n,
                                        uint64_t hash, uint32_t id, bool *created);
/** Fills out (2 * nlabels entries) with the series' labels as strings. */
void dw_head_series_labels(struct dw_head *h, const struct dw_series *s, struct dw_label *out);
/** The metric name of a series (interned, stable while the head lives), or "". */
const char *dw_head_series_name(struct dw_head *h, const struct dw_series *s);
/** Smallest timestamp still appendable. */
int64_t dw_head_min_valid(struct dw_head *h);
/** Status a sample will get, decided before logging it: lock-free unless the sample is older than
 * the series' last one (then the stored sample decides between redundant and out of order). */
enum dw_append_status dw_head_precheck(struct dw_head *h, struct dw_series *s, int64_t t, double v,
                                       int64_t now_ms);
/*
 * What a batch of appends changed, added to the head's shared counters once
 * per commit (dw_head_acc_publish) instead of once per sample: per-sample
 * atomics on shared cache lines would serialise parallel appenders.
 */
struct dw_append_acc {
    uint64_t samples; /* stored */
    int64_t bytes;    /* change of encoded chunk bytes */
    int64_t chunks;   /* change of the chunk count */
    int64_t mint, maxt;
    uint64_t status[5]; /* per enum dw_append_status */
    int64_t now_ms;     /* the clock for the max_future_ms bound, read once by _init */
};

void dw_append_acc_init(struct dw_append_acc *acc);
void dw_head_acc_publish(struct dw_head *h, const struct dw_append_acc *acc);
/**
 * Appends one sample under the series' lock with the head's rules and
 * records the outcome in acc. enc is the calling thread's block encoder
 * (freezing full chunks; NULL keeps them as head chunks), scratch a
 * reusable buffer.
 */
enum dw_append_status dw_head_append(struct dw_head *h, struct dw_series *s, int64_t t, double v,
                                     struct dw_tsdb_blockenc *enc, struct dw_buf *scratch,
                                     struct dw_append_acc *acc);
/** First and last timestamp of a series (takes its lock); false when empty. */
bool dw_head_series_range(struct dw_head *h, struct dw_series *s, int64_t *mint, int64_t *maxt);

/*
 * Reading one series: a cursor over its chunks, decoded one at a time into
 * arrays under the series lock (never more than one chunk). The snapshot
 * taken by _begin makes later appends invisible to this cursor.
 */
struct dw_head_chunk_cursor {
    struct dw_head *head;
    struct dw_series *s;
    uint32_t next_seq; /* next chunk to read */
    uint32_t last_seq; /* the active chunk at the snapshot */
    uint32_t last_n;   /* its samples at the snapshot */
    int64_t maxt;      /* chunks starting after it are not read */
    int err;
    int64_t t[DW_TSDB_CHUNK_MAX_SAMPLES];
    double v[DW_TSDB_CHUNK_MAX_SAMPLES];
};

void dw_head_cursor_begin(struct dw_head_chunk_cursor *c, struct dw_head *h, struct dw_series *s,
                          int64_t maxt);
/** Next chunk holding samples >= min_t; false at the end (or on error, see err). */
bool dw_head_cursor_next(struct dw_head_chunk_cursor *c, int64_t min_t, size_t *n);

/**
 * Drops every chunk whose samples are all < t, removes series left empty
 * (the caller holds the db gate for writing) and raises min_valid to t.
 * Returns the number of series removed.
 */
size_t dw_head_truncate(struct dw_head *h, int64_t t);

/** Live series ids (ascending), e.g. for a checkpoint or a cut (takes the index lock). */
void dw_head_all_ids(struct dw_head *h, struct dw_idlist *out);
/** Sorts ids by their series' labels. */
void dw_head_sort_by_labels(struct dw_head *h, uint32_t *ids, size_t n);
/** strcmp-like order of two series by labels. */
int dw_head_series_cmp(struct dw_head *h, const struct dw_series *a, const struct dw_series *b);

/* ---- series sources: how the querier merges blocks with the head ---- */

/*
 * A source of series other than the head (a persisted block). The querier
 * opens a view per source whose time range overlaps its own, selects from
 * every view with the same matchers and merges the cursors by labels;
 * series with equal labels are merged sample by sample, the earlier source
 * winning on equal timestamps (the head is always first).
 *
 * Cursor contract: series in dw_tsdb_labels_cmp order, each listed once;
 * a series' samples come as batches of strictly increasing timestamps, each
 * batch after the previous one. Arrays and labels returned stay valid until
 * the next call on the same cursor. Errors: a cursor or chunk call that
 * fails stores an error returned by err().
 */
struct dw_tsdb_source_ops {
    /** Time range the source covers, inclusive; the querier skips it outside. */
    void (*bounds)(void *src, int64_t *mint, int64_t *maxt);
    /** A view for [mint, maxt]: keeps the source's data alive until close. */
    void *(*open)(void *src, int64_t mint, int64_t maxt);
    void (*close)(void *view);
    /** Series matching every matcher (Prometheus semantics); NULL on error. */
    void *(*select)(void *view, struct dw_tsdb_matcher *const *ms, size_t n);
    bool (*next)(void *cur);
    const struct dw_label *(*labels)(void *cur, size_t *n);
    /** Next batch of the current series with samples >= min_t (skip earlier ones). */
    bool (*chunk)(void *cur, int64_t min_t, const int64_t **t, const double **v, size_t *n);
    int (*err)(void *cur);
    void (*cursor_free)(void *cur);
    /** Adds label names (or the values of `name` when not NULL) seen in the view to out. */
    int (*label_strings)(void *view, const char *name, struct dw_tsdb_matcher *const *ms, size_t n,
                         void (*add)(void *out, const char *s), void *out);
};

/**
 * Registers a source with the database (the caller keeps it alive until it
 * is removed); queriers created afterwards read it, after the blocks the db
 * registered itself. Returns 0.
 */
int dw_tsdb_source_add(struct dw_tsdb *db, const struct dw_tsdb_source_ops *ops, void *src);
/** Unregisters a source; open views stay valid until their querier is freed. */
void dw_tsdb_source_remove(struct dw_tsdb *db, void *src);

/* A view a querier opened on a source. */
struct dw_tsdb_view {
    const struct dw_tsdb_source_ops *ops;
    void *v;
};

/*
 * What a querier reads besides the head: the views it opened at creation
 * and the generation of the source registry it saw. The db does not
 * truncate the head past a block registered after the oldest open
 * generation (the querier would miss the data: not in its views, no longer
 * in the head).
 */
struct dw_tsdb_sources {
    struct dw_tsdb_view *views; /* heap */
    size_t n;
    uint64_t gen;
    int err; /* DW_TSDB_ELOADING, DW_TSDB_EINVAL (bad read options) or 0 */
};

/**
 * Opens views of the registered sources overlapping [mint, maxt] and, when
 * o asks for a resolution, views of that resolution's downsampled blocks
 * (reading one rollup) limited to before the oldest raw sample. Atomic with
 * respect to registration; records the querier in its generation.
 */
void dw_tsdb_sources_open(struct dw_tsdb *db, int64_t mint, int64_t maxt,
                          const struct dw_tsdb_read_opts *o, struct dw_tsdb_sources *out);
/** Closes the views and releases the generation; *s is emptied. */
void dw_tsdb_sources_close(struct dw_tsdb *db, struct dw_tsdb_sources *s);

/** The db's head (for the block writer and tests). */
struct dw_head *dw_tsdb_head_of(struct dw_tsdb *db);

/* ---- the database object (db.c, sources.c, maintain.c) ---- */

struct dw_tsdb_blockdir;
struct dw_tsdb_block;

/* A registered source. Blocks the db registered itself carry its reference. */
struct dw_source_reg {
    const struct dw_tsdb_source_ops *ops;
    void *src;
    struct dw_tsdb_block *block; /* NULL: registered by dw_tsdb_source_add */
};

/* Queriers open that were created in one generation of the registry. */
struct dw_reader_gen {
    uint64_t gen;
    size_t n;
};

struct dw_tsdb {
    struct dw_tsdb_options o; /* defaults resolved; dir points at dir_ */
    char *dir_;
    char *wal_dir;
    char *blocks_dir;
    int lock_fd;
    struct dw_head *head;
    struct dw_tsdb_wal *wal;         /* NULL until loaded */
    struct dw_tsdb_blockdir *blocks; /* NULL until loaded */
    _Atomic bool loaded;             /* set (release) once wal and blocks are usable */
    pthread_rwlock_t gate;           /* commits read, truncation writes */
    pthread_mutex_t trunc_mu;
    _Atomic uint64_t commits, rejected, truncations;
    /* The commit watch (dw_tsdb_set_watch): set before commits start. */
    dw_tsdb_watch_filter wfilter;
    dw_tsdb_watch_fn wfn;
    void *wctx;

    /* The source registry (sources.c), guarded by src_mu. */
    pthread_mutex_t src_mu;
    struct dw_source_reg *sources; /* the db's blocks newest first, then external ones */
    size_t nsources, srccap;
    struct dw_tsdb_block **ds; /* downsampled blocks, one reference each */
    size_t nds, dscap;
    uint64_t gen; /* bumped by every change of the registered sources */
    struct dw_reader_gen *readers;
    size_t nreaders, readcap;

    /* Maintenance (maintain.c), guarded by maint_mu. */
    pthread_mutex_t maint_mu;
    int64_t persisted;  /* raw data before it is in blocks; INT64_MIN: no block */
    int64_t truncated;  /* the head was truncated up to here; INT64_MIN: never */
    uint64_t trunc_gen; /* the generation in which the block ending at persisted appeared */
    int64_t last_maint; /* of the last block maintenance round; INT64_MIN: never */
    bool deferred_logged;
    _Atomic int64_t last_cut_ms, last_block_maint_ms;
    _Atomic uint64_t cuts, compactions, downsampled, deleted, maint_errors;
};

/**
 * Makes the registry follow the directory of blocks: raw blocks registered
 * newest first (so on equal timestamps the querier agrees with compaction,
 * where the newest block wins), removed ones unregistered, the downsampled
 * list replaced. Bumps the generation when anything changed.
 */
void dw_tsdb_sources_sync(struct dw_tsdb *db);
/** The registry's generation now. */
uint64_t dw_tsdb_sources_gen(struct dw_tsdb *db);
/** The oldest generation an open querier was created in; UINT64_MAX when none is open. */
uint64_t dw_tsdb_sources_oldest_reader(struct dw_tsdb *db);
/** Block counts, bytes and raw samples of the registry (fills the block fields of st). */
void dw_tsdb_sources_stats(struct dw_tsdb *db, struct dw_tsdb_stats *st);
/** Drops every registration and reference (close). */
void dw_tsdb_sources_release(struct dw_tsdb *db);

#endif
