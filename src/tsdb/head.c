/*
 * head.c - the in-memory series of the head: lookup by labels, appends into
 * compressed chunks, reading chunks back, truncation and garbage collection.
 *
 * DESIGN
 * A series is one allocation: header plus its labels as symbol pairs. It is
 * found by id through a segmented array (lock-free) and by label set
 * through 256 shards of open-addressing tables of ids (shard = top byte of
 * the label hash, each with its own rwlock), so concurrent lookups of
 * different series rarely touch the same lock.
 *
 * Samples go into the series' active head chunk (chunk.c, Gorilla-style
 * with an exact-decimal path). The append that fills it (120 samples)
 * re-encodes it as a block chunk (blockenc.c, about half the bytes), adds
 * that to the series' frozen area (one exact-size allocation holding every
 * full chunk) and frees the head chunk, so an idle series holds no
 * half-empty buffer. A series costs at most three heap blocks whatever its
 * age. The series lock is a spin bit in the series' flags: appends touch
 * the series' own cache line and no separate lock memory, which matters
 * because consecutive samples of a scrape belong to different series and
 * each one is a cache miss already. Critical sections are short (one
 * append, or one chunk decode of at most 120 samples).
 *
 * Reading decodes one chunk at a time into the cursor's arrays under the
 * series lock: the active chunk may be reallocated by the next append and
 * the frozen area by the next freeze or truncation, so nothing is read
 * outside the lock, and nothing but the one chunk being read is decoded.
 * Chunks are numbered (seq0 + position), so a cursor survives freezes and
 * truncations: a chunk that was active at the cursor's snapshot is read
 * from the frozen area if it was frozen since, limited to the samples the
 * snapshot saw.
 *
 * The appendable window (out-of-bounds rule, Prometheus' own): a sample is
 * accepted when t >= max(last truncation, newest sample - block_range/2)
 * and t <= now + max_future_ms. The block writer cuts [mint, mint + range)
 * once the head spans 1.5 ranges; from then on every accepted sample is at
 * or after mint + range, so nothing can arrive for a block being written.
 * WAL replay applies only the truncation floor (see `replaying`).
 *
 * A chunk never straddles a multiple of the block range (an append that
 * crosses one freezes the active chunk first, as Prometheus cuts its head
 * chunks), so truncating at a block boundary drops exactly the samples the
 * block holds and the WAL checkpoint carries none of them.
 *
 * Garbage collection (dw_head_truncate, with the db gate held for writing
 * so no commit runs) drops chunks wholly before t, unlinks series left
 * empty from the shards, the id table and the postings, and hands their
 * memory to the reclaimer: appenders and queriers that still hold pointers
 * keep them valid until they leave (index.c).
 */
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/head_internal.h"
#include "tsdb/tsdb.h"
#include "tsdb/tsdb_internal.h"

#define SERIES_SEED UINT64_C(0x6A09E667F3BCC909)

/* Frozen chunk kinds (low bit of the length field). */
enum { FROZEN_BLOCK = 0, FROZEN_HEAD = 1 };

/*
 * The active chunk pointer is atomic only so the commit loop may read it
 * without the lock to prefetch the chunk; every real use holds the lock.
 */
static struct dw_tsdb_chunk *active(const struct dw_series *s)
{
    return atomic_load_explicit(&s->head, memory_order_relaxed);
}

static void set_active(struct dw_series *s, struct dw_tsdb_chunk *c)
{
    atomic_store_explicit(&s->head, c, memory_order_relaxed);
}

static void free_active(struct dw_series *s)
{
    struct dw_tsdb_chunk *c = active(s);
    dw_tsdb_chunk_free(&c);
    set_active(s, NULL);
}

struct dw_head *dw_head_new(int64_t block_range_ms, int64_t max_future_ms)
{
    struct dw_head *h = dw_calloc(1, sizeof *h);
    dw_reclaim_init(&h->reclaim);
    dw_index_init(&h->ix, &h->reclaim);
    for (size_t i = 0; i < DW_HEAD_SHARDS; i++)
        pthread_rwlock_init(&h->shards[i].lock, NULL);
    h->block_range_ms = block_range_ms;
    h->max_future_ms = max_future_ms;
    atomic_init(&h->min_valid, INT64_MIN);
    atomic_init(&h->max_time, INT64_MIN);
    atomic_init(&h->min_time, INT64_MAX);
    atomic_init(&h->win_start, INT64_MAX);
    return h;
}

static void series_free(struct dw_series *s)
{
    if (!s)
        return;
    free_active(s);
    free(s->frozen);
    free(s);
}

void dw_head_free(struct dw_head **hp)
{
    if (!hp || !*hp)
        return;
    struct dw_head *h = *hp;
    /* Deferred frees first: symbol callbacks take the index lock. */
    dw_reclaim_release(&h->reclaim);
    for (uint32_t id = 1; id <= h->next_id; id++)
        series_free(dw_head_series(h, id));
    for (size_t i = 0; i < DW_HEAD_SHARDS; i++) {
        free(h->shards[i].slots);
        pthread_rwlock_destroy(&h->shards[i].lock);
    }
    dw_segarr_release(&h->series);
    dw_index_release(&h->ix);
    free(h);
    *hp = NULL;
}

void dw_series_lock(struct dw_series *s)
{
    for (unsigned spins = 0;
         atomic_fetch_or_explicit(&s->flags, DW_SERIES_LOCK, memory_order_acquire) &
         DW_SERIES_LOCK;) {
        /* Wait for the bit to clear without hammering the line with RMWs. */
        while (atomic_load_explicit(&s->flags, memory_order_relaxed) & DW_SERIES_LOCK) {
            if (++spins < 128) {
#if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
#endif
            } else {
                sched_yield();
            }
        }
    }
}

/* ---- lookup by labels ---- */

uint64_t dw_head_labels_hash(const struct dw_label *l, const uint32_t *lens, size_t n)
{
    /* Each string's length is mixed in, so boundaries cannot shift. */
    uint64_t h = SERIES_SEED;
    for (size_t i = 0; i < n; i++) {
        h = dw_index_hash_mix(l[i].name, lens ? lens[2 * i] : strlen(l[i].name), h);
        h = dw_index_hash_mix(l[i].value, lens ? lens[2 * i + 1] : strlen(l[i].value), h);
    }
    return dw_index_hash_final(h);
}

static struct dw_head_shard *shard_of(struct dw_head *h, uint64_t hash)
{
    return &h->shards[hash >> 56];
}

static bool same_str(const struct dw_sym *y, const char *s, const uint32_t *len)
{
    if (!y)
        return false;
    if (len)
        return y->len == *len && memcmp(y->s, s, *len) == 0;
    return strcmp(y->s, s) == 0;
}

static bool same_labels(struct dw_head *h, const struct dw_series *s, const struct dw_label *l,
                        const uint32_t *lens, size_t n)
{
    if (s->nlabels != n)
        return false;
    const uint8_t *p = s->labels;
    for (size_t i = 0; i < n; i++) {
        uint32_t ns, vs;
        p = dw_series_syms_next(dw_series_syms_next(p, &ns), &vs);
        if (!same_str(dw_index_sym(&h->ix, ns), l[i].name, lens ? &lens[2 * i] : NULL) ||
            !same_str(dw_index_sym(&h->ix, vs), l[i].value, lens ? &lens[2 * i + 1] : NULL))
            return false;
    }
    return true;
}

void dw_series_syms(const struct dw_series *s, uint32_t *out)
{
    const uint8_t *p = s->labels;
    for (size_t i = 0; i < 2 * (size_t)s->nlabels; i++)
        p = dw_series_syms_next(p, &out[i]);
}

uint64_t dw_head_series_hash(struct dw_head *h, const struct dw_series *s)
{
    struct dw_label *l = dw_malloc((s->nlabels ? s->nlabels : 1) * sizeof *l);
    dw_head_series_labels(h, s, l);
    uint64_t hash = dw_head_labels_hash(l, NULL, s->nlabels);
    free(l);
    return hash;
}

/*
 * A slot keeps 32 bits of the hash (bits 24-55: neither the shard's bits
 * nor the slot index's) next to the id, so probing past other series
 * costs no cache miss on them: only a tag match loads the series.
 */
static uint64_t slot_tag(uint64_t hash)
{
    return (hash >> 24) & 0xffffffffu;
}

static uint32_t slot_id(uint64_t slot)
{
    return (uint32_t)slot;
}

/* Slot holding the series with these labels, or the empty slot (shard lock held). */
static size_t shard_find(struct dw_head *h, const struct dw_head_shard *sh,
                         const struct dw_label *l, const uint32_t *lens, size_t n, uint64_t hash)
{
    uint32_t mask = sh->cap - 1;
    uint64_t tag = slot_tag(hash);
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        uint64_t e = sh->slots[i];
        if (!e)
            return i;
        if (e >> 32 != tag)
            continue;
        const struct dw_series *s = dw_head_series(h, slot_id(e));
        if (same_labels(h, s, l, lens, n))
            return i;
    }
}

struct dw_series *dw_head_find(struct dw_head *h, const struct dw_label *l, const uint32_t *lens,
                               size_t n, uint64_t hash)
{
    struct dw_head_shard *sh = shard_of(h, hash);
    struct dw_series *s = NULL;
    pthread_rwlock_rdlock(&sh->lock);
    if (sh->cap) {
        uint64_t e = sh->slots[shard_find(h, sh, l, lens, n, hash)];
        s = e ? dw_head_series(h, slot_id(e)) : NULL;
    }
    pthread_rwlock_unlock(&sh->lock);
    return s;
}

static void shard_grow(struct dw_head *h, struct dw_head_shard *sh)
{
    uint32_t ncap = sh->cap ? sh->cap * 2 : 64;
    uint64_t *slots = dw_calloc(ncap, sizeof *slots);
    for (uint32_t i = 0; i < sh->cap; i++) {
        uint64_t e = sh->slots[i];
        if (!e)
            continue;
        size_t j = dw_head_series_hash(h, dw_head_series(h, slot_id(e))) & (ncap - 1);
        while (slots[j])
            j = (j + 1) & (ncap - 1);
        slots[j] = e;
    }
    free(sh->slots);
    sh->slots = slots;
    sh->cap = ncap;
}

/*
 * Removes id, whose label hash is `hash`, from its shard (backward-shift
 * deletion; shard write lock held). Entries that might move have their
 * hash recomputed: series do not store it, deletions are rare.
 */
static void shard_delete(struct dw_head *h, struct dw_head_shard *sh, uint32_t id, uint64_t hash)
{
    uint32_t mask = sh->cap - 1;
    size_t i = hash & mask;
    while (slot_id(sh->slots[i]) != id)
        i = (i + 1) & mask;
    for (;;) {
        sh->slots[i] = 0;
        size_t j = i;
        for (;;) {
            j = (j + 1) & mask;
            if (!sh->slots[j]) {
                sh->n--;
                return;
            }
            size_t k = dw_head_series_hash(h, dw_head_series(h, slot_id(sh->slots[j]))) & mask;
            bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
            if (!stays) {
                sh->slots[i] = sh->slots[j];
                i = j;
                break;
            }
        }
    }
}

/* Interns the labels into syms (2n) and builds the series around them. */
static struct dw_series *series_new(struct dw_head *h, const struct dw_label *l, size_t n,
                                    uint32_t id, uint32_t *syms)
{
    uint8_t *enc = dw_malloc(2 * n * 5 + 1), *p = enc;
    for (size_t i = 0; i < 2 * n; i++) {
        syms[i] = dw_index_intern(&h->ix, i % 2 ? l[i / 2].value : l[i / 2].name);
        for (uint32_t v = syms[i];; v >>= 7) {
            *p++ = (uint8_t)(v & 0x7f) | (v >= 0x80 ? 0x80 : 0);
            if (v < 0x80)
                break;
        }
    }
    size_t len = (size_t)(p - enc);
    struct dw_series *s = dw_calloc(1, offsetof(struct dw_series, labels) + len);
    memcpy(s->labels, enc, len);
    free(enc);
    atomic_init(&s->max_t, INT64_MIN);
    s->id = id;
    s->nlabels = (uint16_t)n;
    atomic_init(&s->flags, 0);
    return s;
}

struct dw_series *dw_head_get_or_create(struct dw_head *h, const struct dw_label *l, size_t n,
                                        uint64_t hash, uint32_t id, bool *created)
{
    *created = false;
    struct dw_head_shard *sh = shard_of(h, hash);
    pthread_rwlock_wrlock(&sh->lock);
    if ((sh->n + 1) * 10 > sh->cap * 7)
        shard_grow(h, sh);
    size_t slot = shard_find(h, sh, l, NULL, n, hash);
    struct dw_series *s = NULL;
    if (sh->slots[slot]) {
        s = dw_head_series(h, slot_id(sh->slots[slot]));
        goto out;
    }
    /* A replayed id already taken by other labels (damaged log): take a fresh one. */
    if (id == 0 || dw_head_series(h, id) != NULL)
        id = h->next_id + 1;
    if (id == 0 || id == UINT32_MAX)
        goto out; /* id space exhausted; the caller reports a limit */
    if (id > h->next_id)
        h->next_id = id;
    uint32_t *syms = dw_malloc((2 * n + 1) * sizeof *syms);
    s = series_new(h, l, n, id, syms);
    sh->slots[slot] = slot_tag(hash) << 32 | id;
    sh->n++;
    dw_segarr_set(&h->series, id, s);
    dw_index_add_series(&h->ix, id, syms, n);
    free(syms);
    atomic_fetch_add_explicit(&h->created, 1, memory_order_relaxed);
    *created = true;
out:
    pthread_rwlock_unlock(&sh->lock);
    return s;
}

void dw_head_series_labels(struct dw_head *h, const struct dw_series *s, struct dw_label *out)
{
    const uint8_t *p = s->labels;
    for (size_t i = 0; i < s->nlabels; i++) {
        uint32_t ns, vs;
        p = dw_series_syms_next(dw_series_syms_next(p, &ns), &vs);
        out[i].name = dw_index_str(&h->ix, ns);
        out[i].value = dw_index_str(&h->ix, vs);
    }
}

const char *dw_head_series_name(struct dw_head *h, const struct dw_series *s)
{
    const uint8_t *p = s->labels;
    for (size_t i = 0; i < s->nlabels; i++) {
        uint32_t ns, vs;
        p = dw_series_syms_next(dw_series_syms_next(p, &ns), &vs);
        const char *name = dw_index_str(&h->ix, ns);
        if (strcmp(name, DW_TSDB_METRIC_NAME) == 0)
            return dw_index_str(&h->ix, vs);
    }
    return "";
}

int dw_head_series_cmp(struct dw_head *h, const struct dw_series *a, const struct dw_series *b)
{
    size_t n = a->nlabels < b->nlabels ? a->nlabels : b->nlabels;
    const uint8_t *pa = a->labels, *pb = b->labels;
    for (size_t i = 0; i < 2 * n; i++) {
        uint32_t x, y;
        pa = dw_series_syms_next(pa, &x);
        pb = dw_series_syms_next(pb, &y);
        if (x == y)
            continue; /* interned: same symbol, same string */
        return strcmp(dw_index_str(&h->ix, x), dw_index_str(&h->ix, y));
    }
    return a->nlabels < b->nlabels ? -1 : a->nlabels > b->nlabels;
}

static int cmp_series_ids(const void *a, const void *b, void *ctx)
{
    struct dw_head *h = ctx;
    return dw_head_series_cmp(h, dw_head_series(h, *(const uint32_t *)a),
                              dw_head_series(h, *(const uint32_t *)b));
}

void dw_head_sort_by_labels(struct dw_head *h, uint32_t *ids, size_t n)
{
    if (n > 1)
        qsort_r(ids, n, sizeof *ids, cmp_series_ids, h);
}

void dw_head_all_ids(struct dw_head *h, struct dw_idlist *out)
{
    pthread_rwlock_rdlock(&h->ix.lock);
    out->n = 0;
    if (h->ix.all.n > out->cap)
        out->ids = dw_grow(out->ids, &out->cap, h->ix.all.n, sizeof *out->ids);
    if (h->ix.all.n)
        memcpy(out->ids, h->ix.all.ids, h->ix.all.n * sizeof *out->ids);
    out->n = h->ix.all.n;
    pthread_rwlock_unlock(&h->ix.lock);
}

/* ---- appending ---- */

int64_t dw_head_min_valid(struct dw_head *h)
{
    int64_t mv = atomic_load_explicit(&h->min_valid, memory_order_acquire);
    int64_t mx = atomic_load_explicit(&h->max_time, memory_order_relaxed);
    if (!h->replaying && mx != INT64_MIN && mx - h->block_range_ms / 2 > mv)
        mv = mx - h->block_range_ms / 2;
    return mv;
}

/* now_ms: the clock read once per batch (a system call per sample cost 7% of ingestion). */
static bool out_of_bounds(struct dw_head *h, int64_t t, int64_t now_ms)
{
    if (t < dw_head_min_valid(h))
        return true;
    return h->max_future_ms >= 0 && t > now_ms + h->max_future_ms;
}

static enum dw_append_status rejected(const struct dw_series *s, int64_t t, double v);

enum dw_append_status dw_head_precheck(struct dw_head *h, struct dw_series *s, int64_t t, double v,
                                       int64_t now_ms)
{
    if (out_of_bounds(h, t, now_ms))
        return DW_APPEND_OOB;
    if (t < atomic_load_explicit(&s->max_t, memory_order_relaxed)) {
        dw_series_lock(s);
        enum dw_append_status st = rejected(s, t, v);
        dw_series_unlock(s);
        return st;
    }
    return DW_APPEND_OK;
}

/* Header of a frozen chunk: uvarint len << 1 | kind, varint min_t, uvarint max_t - min_t. */
struct frozen_hdr {
    size_t len;
    int kind;
    int64_t mint, maxt;
    const uint8_t *data;
};

static bool frozen_parse(struct dw_tsdb_rd *r, struct frozen_hdr *f)
{
    uint64_t lk = dw_tsdb_rd_uvarint(r);
    f->kind = (int)(lk & 1);
    f->len = (size_t)(lk >> 1);
    f->mint = dw_tsdb_rd_varint(r);
    f->maxt = (int64_t)((uint64_t)f->mint + dw_tsdb_rd_uvarint(r));
    f->data = dw_tsdb_rd_bytes(r, f->len);
    return !r->bad;
}

/* Decodes a frozen chunk into t/v (capacity DW_TSDB_CHUNK_MAX_SAMPLES). */
static int frozen_decode(const struct frozen_hdr *f, int64_t *t, double *v, size_t *n)
{
    if (f->kind == FROZEN_BLOCK)
        return dw_tsdb_blockchunk_decode(f->data, f->len, t, v, DW_TSDB_CHUNK_MAX_SAMPLES, n);
    struct dw_tsdb_chunk_iter it;
    dw_tsdb_chunk_iter_init(&it, f->data, f->len);
    size_t k = 0;
    while (k < DW_TSDB_CHUNK_MAX_SAMPLES && dw_tsdb_chunk_iter_next(&it, &t[k], &v[k]))
        k++;
    *n = k;
    return dw_tsdb_chunk_iter_err(&it);
}

static size_t frozen_count(const struct frozen_hdr *f)
{
    size_t n = 0;
    if (f->kind == FROZEN_BLOCK)
        dw_tsdb_blockchunk_count(f->data, f->len, &n);
    else if (f->len >= 3)
        n = (size_t)f->data[1] | (size_t)f->data[2] << 8;
    return n;
}

/*
 * Moves the full active chunk to the frozen area, re-encoded as a block
 * chunk (kept as head-chunk bytes if that ever fails). Series lock held.
 */
static void freeze(struct dw_series *s, struct dw_tsdb_blockenc *enc, struct dw_buf *scratch,
                   struct dw_append_acc *acc)
{
    size_t len;
    const uint8_t *bytes = dw_tsdb_chunk_bytes(active(s), &len);
    int64_t t[DW_TSDB_CHUNK_MAX_SAMPLES];
    double v[DW_TSDB_CHUNK_MAX_SAMPLES];
    size_t n = 0;
    struct dw_tsdb_chunk_iter it;
    dw_tsdb_chunk_iter_init(&it, bytes, len);
    while (n < DW_TSDB_CHUNK_MAX_SAMPLES && dw_tsdb_chunk_iter_next(&it, &t[n], &v[n]))
        n++;
    scratch->len = 0;
    int kind = FROZEN_BLOCK;
    if (!enc || dw_tsdb_blockenc_encode(enc, t, v, n, scratch) != 0) {
        scratch->len = 0;
        dw_buf_append(scratch, bytes, len);
        kind = FROZEN_HEAD;
    }
    uint8_t hdr[3 * DW_TSDB_VARINT_MAX];
    size_t hl = dw_tsdb_put_uvarint(hdr, (uint64_t)scratch->len << 1 | (uint64_t)kind);
    hl += dw_tsdb_put_uvarint(hdr + hl, dw_tsdb_zigzag(t[0]));
    hl += dw_tsdb_put_uvarint(hdr + hl, (uint64_t)t[n - 1] - (uint64_t)t[0]);
    size_t add = hl + scratch->len;
    s->frozen = dw_realloc(s->frozen, s->frozen_len + add);
    memcpy(s->frozen + s->frozen_len, hdr, hl);
    memcpy(s->frozen + s->frozen_len + hl, scratch->data, scratch->len);
    s->frozen_len += (uint32_t)add;
    s->nfrozen++;
    acc->bytes += (int64_t)add - (int64_t)len;
    free_active(s);
}

/* floor(t / r) * r, the start of the block range holding t (also before 1970). */
static int64_t window_of(int64_t t, int64_t r)
{
    int64_t q = t / r - (t % r < 0), w;
    return __builtin_mul_overflow(q, r, &w) ? INT64_MIN : w;
}

/*
 * Whether t (> prev) lies in another block range than prev. The fast path
 * compares with one recently seen range start (any aligned value is right,
 * so a stale one only costs the divisions).
 */
static bool crosses_window(struct dw_head *h, int64_t prev, int64_t t)
{
    int64_t r = h->block_range_ms;
    int64_t ws = atomic_load_explicit(&h->win_start, memory_order_relaxed);
    if (prev >= ws && (uint64_t)t - (uint64_t)ws < (uint64_t)r)
        return false;
    int64_t w = window_of(t, r);
    if (ws == INT64_MAX || w > ws)
        atomic_store_explicit(&h->win_start, w, memory_order_relaxed);
    return window_of(prev, r) != w;
}

/* The last sample of a series (series lock held); false when empty. */
static bool last_sample(const struct dw_series *s, int64_t *t, double *v)
{
    if (active(s))
        return dw_tsdb_chunk_last(active(s), t, v);
    if (!s->nfrozen)
        return false;
    /* The last chunk was frozen: decode it (rejections only, so rare). */
    struct dw_tsdb_rd r;
    struct frozen_hdr f;
    dw_tsdb_rd_init(&r, s->frozen, s->frozen_len);
    for (uint32_t i = 0; i < s->nfrozen; i++)
        if (!frozen_parse(&r, &f))
            return false;
    int64_t ts[DW_TSDB_CHUNK_MAX_SAMPLES];
    double vs[DW_TSDB_CHUNK_MAX_SAMPLES];
    size_t n;
    if (frozen_decode(&f, ts, vs, &n) != 0 || n == 0)
        return false;
    *t = ts[n - 1];
    *v = vs[n - 1];
    return true;
}

/* Why a sample not after the last one is refused (series lock held). */
/*
 * Whether the head holds exactly (t, v) for s (series lock held). A client
 * that retries a batch after a timeout resends samples that were stored:
 * those are redundant, not out of order, so at-least-once senders are not
 * refused for their retries.
 */
static bool holds_sample(const struct dw_series *s, int64_t t, double v)
{
    int64_t ct;
    double cv;
    if (active(s)) {
        int64_t mint, maxt;
        if (dw_tsdb_chunk_range(active(s), &mint, &maxt) && t >= mint) {
            size_t len;
            const uint8_t *b = dw_tsdb_chunk_bytes(active(s), &len);
            struct dw_tsdb_chunk_iter it;
            dw_tsdb_chunk_iter_init(&it, b, len);
            return dw_tsdb_chunk_iter_seek(&it, t, &ct, &cv) && ct == t &&
                   dw_tsdb_f2u(cv) == dw_tsdb_f2u(v);
        }
    }
    struct dw_tsdb_rd r;
    struct frozen_hdr f;
    dw_tsdb_rd_init(&r, s->frozen, s->frozen_len);
    for (uint32_t i = 0; i < s->nfrozen; i++) {
        if (!frozen_parse(&r, &f))
            return false;
        if (t < f.mint || t > f.maxt)
            continue;
        int64_t ts[DW_TSDB_CHUNK_MAX_SAMPLES];
        double vs[DW_TSDB_CHUNK_MAX_SAMPLES];
        size_t n;
        if (frozen_decode(&f, ts, vs, &n) != 0)
            return false;
        for (size_t k = 0; k < n; k++)
            if (ts[k] == t)
                return dw_tsdb_f2u(vs[k]) == dw_tsdb_f2u(v);
        return false;
    }
    return false;
}

static enum dw_append_status rejected(const struct dw_series *s, int64_t t, double v)
{
    int64_t lt;
    double lv;
    if (!last_sample(s, &lt, &lv))
        return DW_APPEND_OOO;
    if (t < lt)
        return holds_sample(s, t, v) ? DW_APPEND_REDUNDANT : DW_APPEND_OOO;
    return dw_tsdb_f2u(lv) == dw_tsdb_f2u(v) ? DW_APPEND_REDUNDANT : DW_APPEND_DUPLICATE;
}

enum dw_append_status dw_head_append(struct dw_head *h, struct dw_series *s, int64_t t, double v,
                                     struct dw_tsdb_blockenc *enc, struct dw_buf *scratch,
                                     struct dw_append_acc *acc)
{
    if (out_of_bounds(h, t, acc->now_ms)) {
        acc->status[DW_APPEND_OOB]++;
        return DW_APPEND_OOB;
    }
    dw_series_lock(s);
    if (t <= atomic_load_explicit(&s->max_t, memory_order_relaxed)) {
        enum dw_append_status st = rejected(s, t, v);
        dw_series_unlock(s);
        acc->status[st]++;
        return st;
    }
    if (active(s) && crosses_window(h, atomic_load_explicit(&s->max_t, memory_order_relaxed), t))
        freeze(s, enc, scratch, acc); /* chunks stay inside one block range */
    size_t before = 0, after;
    if (!active(s)) {
        set_active(s, dw_tsdb_chunk_new());
        acc->chunks++;
    } else {
        dw_tsdb_chunk_bytes(active(s), &before);
    }
    /* Cannot fail: t is after the last sample and a full chunk is never kept. */
    dw_tsdb_chunk_append(active(s), t, v);
    dw_tsdb_chunk_bytes(active(s), &after);
    acc->bytes += (int64_t)after - (int64_t)before;
    atomic_store_explicit(&s->max_t, t, memory_order_relaxed);
    if (dw_tsdb_chunk_count(active(s)) >= DW_TSDB_CHUNK_MAX_SAMPLES)
        freeze(s, enc, scratch, acc);
    dw_series_unlock(s);
    acc->samples++;
    if (t < acc->mint)
        acc->mint = t;
    if (t > acc->maxt)
        acc->maxt = t;
    acc->status[DW_APPEND_OK]++;
    return DW_APPEND_OK;
}

void dw_append_acc_init(struct dw_append_acc *acc)
{
    memset(acc, 0, sizeof *acc);
    acc->mint = INT64_MAX;
    acc->maxt = INT64_MIN;
    acc->now_ms = dw_now_ms();
}

static void atomic_max(_Atomic int64_t *a, int64_t v)
{
    int64_t cur = atomic_load_explicit(a, memory_order_relaxed);
    while (v > cur && !atomic_compare_exchange_weak(a, &cur, v))
        ;
}

static void atomic_min(_Atomic int64_t *a, int64_t v)
{
    int64_t cur = atomic_load_explicit(a, memory_order_relaxed);
    while (v < cur && !atomic_compare_exchange_weak(a, &cur, v))
        ;
}

void dw_head_acc_publish(struct dw_head *h, const struct dw_append_acc *acc)
{
    if (acc->samples) {
        atomic_max(&h->max_time, acc->maxt);
        atomic_min(&h->min_time, acc->mint);
        atomic_fetch_add_explicit(&h->nsamples, acc->samples, memory_order_relaxed);
    }
    if (acc->chunks)
        atomic_fetch_add_explicit(&h->nchunks, (uint64_t)acc->chunks, memory_order_relaxed);
    if (acc->bytes)
        atomic_fetch_add_explicit(&h->chunk_bytes, (uint64_t)acc->bytes, memory_order_relaxed);
    _Atomic uint64_t *ctr[] = {&h->appended, &h->redundant, &h->duplicate, &h->out_of_order,
                               &h->out_of_bounds};
    for (size_t i = 0; i < DW_ARRAY_LEN(ctr); i++)
        if (acc->status[i])
            atomic_fetch_add_explicit(ctr[i], acc->status[i], memory_order_relaxed);
}

/* First sample time of a series (series lock held); false when empty. */
static bool series_mint(const struct dw_series *s, int64_t *mint)
{
    if (s->nfrozen) {
        struct dw_tsdb_rd r;
        struct frozen_hdr f;
        dw_tsdb_rd_init(&r, s->frozen, s->frozen_len);
        if (frozen_parse(&r, &f)) {
            *mint = f.mint;
            return true;
        }
    }
    int64_t maxt;
    return active(s) && dw_tsdb_chunk_range(active(s), mint, &maxt);
}

bool dw_head_series_range(struct dw_head *h, struct dw_series *s, int64_t *mint, int64_t *maxt)
{
    (void)h;
    dw_series_lock(s);
    bool ok = series_mint(s, mint);
    *maxt = atomic_load_explicit(&s->max_t, memory_order_relaxed);
    dw_series_unlock(s);
    return ok;
}

/* ---- reading ---- */

void dw_head_cursor_begin(struct dw_head_chunk_cursor *c, struct dw_head *h, struct dw_series *s,
                          int64_t maxt)
{
    c->head = h;
    c->s = s;
    c->err = 0;
    c->maxt = maxt;
    dw_series_lock(s);
    c->next_seq = s->seq0;
    c->last_seq = s->seq0 + s->nfrozen;
    c->last_n = active(s) ? (uint32_t)dw_tsdb_chunk_count(active(s)) : 0;
    dw_series_unlock(s);
}

/* Decodes the first `limit` samples of the active chunk (series lock held). */
static size_t decode_active(struct dw_head_chunk_cursor *c, size_t limit)
{
    size_t len, n = 0;
    const uint8_t *b = dw_tsdb_chunk_bytes(active(c->s), &len);
    struct dw_tsdb_chunk_iter it;
    dw_tsdb_chunk_iter_init(&it, b, len);
    while (n < limit && dw_tsdb_chunk_iter_next(&it, &c->t[n], &c->v[n]))
        n++;
    c->err = dw_tsdb_chunk_iter_err(&it);
    return n;
}

/* Reads chunk c->next_seq if it may hold samples in [min_t, c->maxt] (series lock held). */
static int read_chunk(struct dw_head_chunk_cursor *c, int64_t min_t, size_t *n)
{
    struct dw_series *s = c->s;
    uint32_t k = c->next_seq - s->seq0;
    bool snap_last = c->next_seq == c->last_seq;
    size_t limit = snap_last ? c->last_n : DW_TSDB_CHUNK_MAX_SAMPLES;
    *n = 0;
    if (k < s->nfrozen) {
        struct dw_tsdb_rd r;
        struct frozen_hdr f;
        dw_tsdb_rd_init(&r, s->frozen, s->frozen_len);
        for (uint32_t i = 0; i <= k; i++)
            if (!frozen_parse(&r, &f))
                return DW_TSDB_ECORRUPT;
        if (f.mint > c->maxt)
            return 1; /* this and every later chunk is past the range */
        if (f.maxt < min_t)
            return 0;
        size_t got;
        int rc = frozen_decode(&f, c->t, c->v, &got);
        if (rc)
            return rc;
        *n = got < limit ? got : limit;
        return 0;
    }
    if (k != s->nfrozen || !snap_last || !active(s))
        return 1;
    int64_t mint, maxt;
    dw_tsdb_chunk_range(active(s), &mint, &maxt);
    if (mint > c->maxt)
        return 1;
    if (maxt >= min_t)
        *n = decode_active(c, limit);
    return c->err;
}

bool dw_head_cursor_next(struct dw_head_chunk_cursor *c, int64_t min_t, size_t *n)
{
    bool found = false;
    dw_series_lock(c->s);
    while (!found && !c->err && c->next_seq <= c->last_seq) {
        if (c->next_seq < c->s->seq0)
            c->next_seq = c->s->seq0; /* truncated meanwhile: the block has it */
        if (c->next_seq > c->last_seq)
            break;
        int rc = read_chunk(c, min_t, n);
        if (rc < 0)
            c->err = rc;
        if (rc == 1)
            c->next_seq = c->last_seq + 1;
        else
            c->next_seq++;
        found = rc == 0 && *n > 0;
    }
    dw_series_unlock(c->s);
    return found;
}

/* ---- truncation and garbage collection ---- */

/* Drops the chunks of s wholly before t (series lock held); returns samples dropped. */
static size_t drop_chunks(struct dw_series *s, int64_t t, struct dw_append_acc *acc)
{
    size_t samples = 0, off = 0;
    uint32_t dropped = 0;
    struct dw_tsdb_rd r;
    dw_tsdb_rd_init(&r, s->frozen, s->frozen_len);
    while (dropped < s->nfrozen) {
        struct frozen_hdr f;
        if (!frozen_parse(&r, &f) || f.maxt >= t)
            break;
        samples += frozen_count(&f);
        dropped++;
        off = (size_t)(r.p - s->frozen);
    }
    if (dropped) {
        size_t left = s->frozen_len - off;
        uint8_t *nf = left ? dw_malloc(left) : NULL;
        if (left)
            memcpy(nf, s->frozen + off, left);
        free(s->frozen);
        s->frozen = nf;
        s->frozen_len = (uint32_t)left;
        s->nfrozen -= (uint16_t)dropped;
        s->seq0 += dropped;
        acc->bytes -= (int64_t)off;
        acc->chunks -= dropped;
    }
    int64_t mint, maxt;
    if (s->nfrozen == 0 && active(s) && dw_tsdb_chunk_range(active(s), &mint, &maxt) && maxt < t) {
        size_t len;
        dw_tsdb_chunk_bytes(active(s), &len);
        samples += dw_tsdb_chunk_count(active(s));
        free_active(s);
        s->seq0++;
        acc->bytes -= (int64_t)len;
        acc->chunks--;
    }
    return samples;
}

static void free_series_cb(void *ctx, void *p)
{
    (void)ctx;
    series_free(p);
}

static void free_page_cb(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

/* Unlinks the dead series everywhere (index write lock held). */
static void unlink_dead(struct dw_head *h, const uint32_t *dead, size_t ndead)
{
    size_t npairs = 0;
    for (size_t i = 0; i < ndead; i++)
        npairs += dw_head_series(h, dead[i])->nlabels;
    uint32_t *pairs = dw_malloc((npairs ? npairs : 1) * 2 * sizeof *pairs);
    size_t k = 0;
    for (size_t i = 0; i < ndead; i++) {
        struct dw_series *s = dw_head_series(h, dead[i]);
        dw_series_syms(s, pairs + 2 * k);
        k += s->nlabels;
        uint64_t hash = dw_head_series_hash(h, s);
        struct dw_head_shard *sh = shard_of(h, hash);
        pthread_rwlock_wrlock(&sh->lock);
        shard_delete(h, sh, s->id, hash);
        pthread_rwlock_unlock(&sh->lock);
    }
    dw_index_remove_series(&h->ix, dead, ndead, pairs, npairs);
    free(pairs);
    uint32_t cur_page = h->next_id >> DW_SEG_PAGE_BITS;
    for (size_t i = 0; i < ndead; i++) {
        struct dw_series *s = dw_head_series(h, dead[i]);
        uint32_t live = dw_segarr_set(&h->series, dead[i], NULL);
        dw_reclaim_defer(&h->reclaim, free_series_cb, NULL, s);
        /* New ids still land in the current page; older empty pages go. */
        if (live == 0 && dead[i] >> DW_SEG_PAGE_BITS != cur_page)
            dw_reclaim_defer(&h->reclaim, free_page_cb, NULL,
                             dw_segarr_take_page(&h->series, dead[i]));
    }
}

size_t dw_head_truncate(struct dw_head *h, int64_t t)
{
    atomic_max(&h->min_valid, t);
    struct dw_idlist ids = {0}, dead = {0};
    dw_head_all_ids(h, &ids);
    struct dw_append_acc acc;
    dw_append_acc_init(&acc);
    size_t samples = 0;
    int64_t new_min = INT64_MAX;
    for (size_t i = 0; i < ids.n; i++) {
        struct dw_series *s = dw_head_series(h, ids.ids[i]);
        dw_series_lock(s);
        samples += drop_chunks(s, t, &acc);
        int64_t m;
        if (!active(s) && !s->nfrozen) {
            atomic_fetch_or(&s->flags, DW_SERIES_DEAD);
            dw_idlist_push(&dead, s->id);
        } else if (series_mint(s, &m) && m < new_min) {
            new_min = m;
        }
        dw_series_unlock(s);
    }
    if (dead.n) {
        pthread_rwlock_wrlock(&h->ix.lock);
        unlink_dead(h, dead.ids, dead.n);
        pthread_rwlock_unlock(&h->ix.lock);
    }
    atomic_store(&h->min_time, new_min);
    atomic_fetch_sub(&h->nsamples, samples);
    atomic_fetch_add(&h->nchunks, (uint64_t)acc.chunks);
    atomic_fetch_add(&h->chunk_bytes, (uint64_t)acc.bytes);
    atomic_fetch_sub(&h->nseries, dead.n);
    atomic_fetch_add(&h->removed, dead.n);
    size_t removed = dead.n;
    dw_idlist_release(&ids);
    dw_idlist_release(&dead);
    dw_reclaim_collect(&h->reclaim);
    return removed;
}
