/*
 * index.c - the head's inverted index: interned label strings, postings per
 * label pair, and matcher evaluation by postings intersection.
 *
 * DESIGN
 * Every distinct label name or value is interned once as a symbol (uint32
 * id); series store their labels as symbol pairs. Strings are read through
 * a segmented array without any lock, so appenders compare label sets and
 * queriers hand out label strings without touching the index lock. A
 * symbol is reference-counted by the series using it; when the last one is
 * garbage-collected its string is unlinked from the lookup map at once and
 * freed (and its id reused) only after every reader that might still hold
 * it has left (dw_reclaim, below).
 *
 * Postings: for each label name a hash table of its values, each with the
 * sorted array of series ids having that pair, plus the list of all series.
 * Series ids grow monotonically, so creating a series appends to each of
 * its postings (an id logged out of order by a concurrent commit and
 * replayed from the WAL is inserted in place). Removal filters each
 * affected list once per garbage collection, not once per series.
 *
 * Selection follows Prometheus: a matcher that accepts "" also accepts
 * series without the label, so it is evaluated as "all series minus those
 * whose value it rejects"; the others as the union of the postings of the
 * values it accepts. Literal values (=, and regexes the matcher recognises
 * as alternations of literals) are looked up directly; other regexes run
 * once per distinct value of the label, or once per candidate series when
 * the literal matchers already narrowed the candidates below the number of
 * values. Intersections start from the smallest list and gallop through
 * the larger ones.
 *
 * Threads: the caller holds ix->lock (read for lookups and selection, write
 * for interning, adding and removing series). dw_index_str() needs no lock.
 */
#include <stdlib.h>
#include <string.h>

#include "tsdb/head_internal.h"
#include "tsdb/tsdb.h"

#define SYM_SEED UINT64_C(0x2545F4914F6CDD1D)
#define K1 UINT64_C(0x9E3779B97F4A7C15)
#define K2 UINT64_C(0xC2B2AE3D27D4EB4F)

/* ---- segmented arrays ---- */

void dw_segarr_release(struct dw_segarr *a)
{
    for (uint32_t i = 0; i < DW_SEG_TOP; i++) {
        struct dw_segmid *mid = atomic_load_explicit(&a->top[i], memory_order_relaxed);
        if (!mid)
            continue;
        for (uint32_t j = 0; j < DW_SEG_MID; j++)
            free(atomic_load_explicit(&mid->page[j], memory_order_relaxed));
        free(mid);
        atomic_store_explicit(&a->top[i], NULL, memory_order_relaxed);
    }
}

uint32_t dw_segarr_set(struct dw_segarr *a, uint32_t i, void *p)
{
    _Atomic(struct dw_segmid *) *tp = &a->top[i >> (DW_SEG_PAGE_BITS + DW_SEG_MID_BITS)];
    struct dw_segmid *mid = atomic_load_explicit(tp, memory_order_relaxed);
    if (!mid) {
        mid = dw_calloc(1, sizeof *mid);
        atomic_store_explicit(tp, mid, memory_order_release);
    }
    _Atomic(struct dw_segpage *) *pp = &mid->page[(i >> DW_SEG_PAGE_BITS) & (DW_SEG_MID - 1)];
    struct dw_segpage *pg = atomic_load_explicit(pp, memory_order_relaxed);
    if (!pg) {
        pg = dw_calloc(1, sizeof *pg);
        atomic_store_explicit(pp, pg, memory_order_release);
    }
    _Atomic(void *) *slot = &pg->slot[i & (DW_SEG_PAGE - 1)];
    bool was = atomic_load_explicit(slot, memory_order_relaxed) != NULL;
    atomic_store_explicit(slot, p, memory_order_release);
    if (was && !p)
        pg->live--;
    else if (!was && p)
        pg->live++;
    return pg->live;
}

void *dw_segarr_take_page(struct dw_segarr *a, uint32_t i)
{
    struct dw_segmid *mid = atomic_load_explicit(&a->top[i >> (DW_SEG_PAGE_BITS + DW_SEG_MID_BITS)],
                                                 memory_order_relaxed);
    if (!mid)
        return NULL;
    _Atomic(struct dw_segpage *) *pp = &mid->page[(i >> DW_SEG_PAGE_BITS) & (DW_SEG_MID - 1)];
    struct dw_segpage *pg = atomic_load_explicit(pp, memory_order_relaxed);
    atomic_store_explicit(pp, NULL, memory_order_release);
    return pg;
}

/* ---- deferred reclamation ---- */

void dw_reclaim_init(struct dw_reclaim *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->head.next = r->head.prev = &r->head;
    r->epoch = 1;
}

void dw_reclaim_release(struct dw_reclaim *r)
{
    for (size_t i = 0; i < r->n; i++)
        r->items[i].fn(r->items[i].ctx, r->items[i].p);
    free(r->items);
    pthread_mutex_destroy(&r->mu);
    memset(r, 0, sizeof *r);
}

void dw_reclaim_enter(struct dw_reclaim *r, struct dw_holder *h)
{
    pthread_mutex_lock(&r->mu);
    h->epoch = r->epoch;
    h->next = &r->head;
    h->prev = r->head.prev;
    r->head.prev->next = h;
    r->head.prev = h;
    h->active = true;
    pthread_mutex_unlock(&r->mu);
}

/*
 * Moves the items every current holder has outgrown to `out` (the list is
 * in tag order because tags only grow). Called with r->mu held.
 */
static size_t take_free(struct dw_reclaim *r, struct dw_grave **out)
{
    uint64_t min = UINT64_MAX;
    for (struct dw_holder *h = r->head.next; h != &r->head; h = h->next)
        if (h->epoch < min)
            min = h->epoch;
    size_t k = 0;
    while (k < r->n && r->items[k].tag < min)
        k++;
    if (k == 0)
        return 0;
    *out = dw_malloc(k * sizeof **out);
    memcpy(*out, r->items, k * sizeof **out);
    memmove(r->items, r->items + k, (r->n - k) * sizeof *r->items);
    r->n -= k;
    return k;
}

static void run_free(struct dw_grave *g, size_t k)
{
    for (size_t i = 0; i < k; i++)
        g[i].fn(g[i].ctx, g[i].p);
    free(g);
}

void dw_reclaim_exit(struct dw_reclaim *r, struct dw_holder *h)
{
    if (!h->active)
        return;
    struct dw_grave *g = NULL;
    pthread_mutex_lock(&r->mu);
    h->prev->next = h->next;
    h->next->prev = h->prev;
    h->active = false;
    size_t k = r->n ? take_free(r, &g) : 0;
    pthread_mutex_unlock(&r->mu);
    run_free(g, k);
}

void dw_reclaim_defer(struct dw_reclaim *r, void (*fn)(void *ctx, void *p), void *ctx, void *p)
{
    pthread_mutex_lock(&r->mu);
    r->items = dw_grow(r->items, &r->cap, r->n + 1, sizeof *r->items);
    /* Holders that entered before this point have epoch <= tag; later ones
       cannot reach p, which the caller unlinked already. */
    r->items[r->n++] = (struct dw_grave){r->epoch, fn, ctx, p};
    pthread_mutex_unlock(&r->mu);
}

void dw_reclaim_collect(struct dw_reclaim *r)
{
    struct dw_grave *g = NULL;
    pthread_mutex_lock(&r->mu);
    r->epoch++;
    size_t k = r->n ? take_free(r, &g) : 0;
    pthread_mutex_unlock(&r->mu);
    run_free(g, k);
}

/* ---- sorted id lists ---- */

void dw_idlist_release(struct dw_idlist *l)
{
    free(l->ids);
    memset(l, 0, sizeof *l);
}

void dw_idlist_push(struct dw_idlist *l, uint32_t id)
{
    if (l->n == l->cap)
        l->ids = dw_grow(l->ids, &l->cap, l->n + 1, sizeof *l->ids);
    l->ids[l->n++] = id;
}

static void append_ids(struct dw_idlist *l, const uint32_t *ids, size_t n)
{
    if (n == 0)
        return; /* ids may be NULL (an empty list) */
    if (l->n + n > l->cap)
        l->ids = dw_grow(l->ids, &l->cap, l->n + n, sizeof *l->ids);
    memcpy(l->ids + l->n, ids, n * sizeof *ids);
    l->n += n;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* LSD radix sort, one byte per pass, skipping passes where all bytes agree. */
static void radix_sort(uint32_t *a, size_t n)
{
    uint32_t *tmp = dw_malloc(n * sizeof *tmp);
    uint32_t *src = a, *dst = tmp;
    for (unsigned shift = 0; shift < 32; shift += 8) {
        size_t count[256] = {0};
        for (size_t i = 0; i < n; i++)
            count[(src[i] >> shift) & 0xff]++;
        if (count[(src[0] >> shift) & 0xff] == n)
            continue;
        size_t pos = 0;
        for (size_t b = 0; b < 256; b++) {
            size_t c = count[b];
            count[b] = pos;
            pos += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[(src[i] >> shift) & 0xff]++] = src[i];
        uint32_t *sw = src;
        src = dst;
        dst = sw;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
    free(tmp);
}

void dw_idlist_sort(struct dw_idlist *l)
{
    if (l->n < 2)
        return;
    if (l->n < 256)
        qsort(l->ids, l->n, sizeof *l->ids, cmp_u32);
    else
        radix_sort(l->ids, l->n);
}

/* First index >= from in b[0..nb) with b[i] >= x, by galloping then bisecting. */
static size_t gallop(const uint32_t *b, size_t nb, size_t from, uint32_t x)
{
    if (from >= nb || b[from] >= x)
        return from;
    size_t lo = from, step = 1, hi = from + 1;
    while (hi < nb && b[hi] < x) {
        lo = hi;
        step *= 2;
        hi = lo + step;
    }
    if (hi > nb)
        hi = nb;
    lo++; /* b[lo - 1] < x */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void dw_idlist_intersect(struct dw_idlist *a, const uint32_t *b, size_t nb)
{
    size_t out = 0, j = 0;
    for (size_t i = 0; i < a->n; i++) {
        uint32_t x = a->ids[i];
        j = gallop(b, nb, j, x);
        if (j == nb)
            break;
        if (b[j] == x)
            a->ids[out++] = x;
    }
    a->n = out;
}

void dw_idlist_subtract(struct dw_idlist *a, const uint32_t *b, size_t nb)
{
    size_t out = 0, j = 0;
    for (size_t i = 0; i < a->n; i++) {
        uint32_t x = a->ids[i];
        j = gallop(b, nb, j, x);
        if (j < nb && b[j] == x)
            continue;
        a->ids[out++] = x;
    }
    a->n = out;
}

/* ---- hashing ---- */

static inline uint64_t rotl64(uint64_t x, unsigned r)
{
    return (x << r) | (x >> (64 - r));
}

/*
 * Word-at-a-time multiply-rotate hash with a murmur finaliser: about four
 * cycles per 8 bytes, where byte-wise FNV costs 8 multiplies. Quality is
 * what a hash table needs, not cryptographic.
 */
uint64_t dw_index_hash_mix(const char *s, size_t len, uint64_t seed)
{
    uint64_t h = seed ^ (len * K1);
    size_t left = len;
    while (left >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = rotl64(h ^ (w * K2), 29) * K1;
        s += 8;
        left -= 8;
    }
    if (left) {
        /* The tail: the last 8 bytes again when the string is that long
           (overlapping, no variable-length copy), else byte by byte. */
        uint64_t w = 0;
        if (len >= 8)
            memcpy(&w, s + left - 8, 8);
        else
            for (size_t i = 0; i < left; i++)
                w |= (uint64_t)(unsigned char)s[i] << (8 * i);
        h = rotl64(h ^ (w * K2), 29) * K1;
    }
    return h;
}

uint64_t dw_index_hash_final(uint64_t h)
{
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h;
}

uint64_t dw_index_hash_str(const char *s, size_t len, uint64_t seed)
{
    return dw_index_hash_final(dw_index_hash_mix(s, len, seed));
}

static inline uint64_t hash_u32(uint32_t x)
{
    uint64_t h = (uint64_t)x * K1;
    return h ^ (h >> 31);
}

/* ---- symbols ---- */

static struct dw_sym *sym_get(const struct dw_index *ix, uint32_t id)
{
    return dw_segarr_get(&ix->syms, id);
}

static void symmap_insert(uint32_t *map, uint32_t cap, uint64_t hash, uint32_t id)
{
    size_t i = hash & (cap - 1);
    while (map[i])
        i = (i + 1) & (cap - 1);
    map[i] = id;
}

static void symmap_grow(struct dw_index *ix)
{
    uint32_t ncap = ix->symmap_cap ? ix->symmap_cap * 2 : 1024;
    uint32_t *map = dw_calloc(ncap, sizeof *map);
    for (uint32_t i = 0; i < ix->symmap_cap; i++)
        if (ix->symmap[i])
            symmap_insert(map, ncap, sym_get(ix, ix->symmap[i])->hash, ix->symmap[i]);
    free(ix->symmap);
    ix->symmap = map;
    ix->symmap_cap = ncap;
}

/* Slot of the symbol with this string, or the empty slot where it would go. */
static size_t symmap_find(const struct dw_index *ix, const char *s, size_t len, uint64_t h)
{
    uint32_t mask = ix->symmap_cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t id = ix->symmap[i];
        if (!id)
            return i;
        const struct dw_sym *y = sym_get(ix, id);
        if (y->hash == h && y->len == len && memcmp(y->s, s, len) == 0)
            return i;
    }
}

uint32_t dw_index_lookup(const struct dw_index *ix, const char *s)
{
    if (!ix->symmap_cap)
        return 0;
    size_t len = strlen(s);
    return ix->symmap[symmap_find(ix, s, len, dw_index_hash_str(s, len, SYM_SEED))];
}

uint32_t dw_index_intern(struct dw_index *ix, const char *s)
{
    if ((ix->nsyms + 1) * 10 > ix->symmap_cap * 7)
        symmap_grow(ix);
    size_t len = strlen(s);
    uint64_t h = dw_index_hash_str(s, len, SYM_SEED);
    size_t slot = symmap_find(ix, s, len, h);
    if (ix->symmap[slot]) {
        sym_get(ix, ix->symmap[slot])->refs++;
        return ix->symmap[slot];
    }
    struct dw_sym *y = dw_malloc(sizeof *y + len + 1);
    y->hash = h;
    y->refs = 1;
    y->len = (uint32_t)len;
    memcpy(y->s, s, len + 1);
    uint32_t id = ix->nfree ? ix->free_syms[--ix->nfree] : ++ix->next_sym;
    if (id == 0)
        dw_oom(0); /* 2^32 distinct strings: nothing sane to do */
    dw_segarr_set(&ix->syms, id, y);
    ix->symmap[slot] = id;
    ix->nsyms++;
    return id;
}

/* Removes the map entry at slot i (backward-shift deletion, no tombstones). */
static void symmap_delete(struct dw_index *ix, size_t i)
{
    uint32_t mask = ix->symmap_cap - 1;
    for (;;) {
        ix->symmap[i] = 0;
        size_t j = i;
        for (;;) {
            j = (j + 1) & mask;
            if (!ix->symmap[j])
                return;
            size_t k = sym_get(ix, ix->symmap[j])->hash & mask;
            bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
            if (!stays) {
                ix->symmap[i] = ix->symmap[j];
                i = j;
                break;
            }
        }
    }
}

struct sym_grave {
    struct dw_index *ix;
    uint32_t id;
};

/* Reclaimer callback: nobody can hold the string any more. */
static void sym_free(void *ctx, void *p)
{
    struct dw_index *ix = ctx;
    struct dw_sym *y = p;
    pthread_rwlock_wrlock(&ix->lock);
    /* The id was stashed in refs when the symbol died. */
    uint32_t id = y->refs;
    dw_segarr_set(&ix->syms, id, NULL);
    ix->free_syms = dw_grow(ix->free_syms, &ix->free_cap, ix->nfree + 1, sizeof *ix->free_syms);
    ix->free_syms[ix->nfree++] = id;
    pthread_rwlock_unlock(&ix->lock);
    free(y);
}

/* Drops one reference (write lock held); the last one unlinks the string. */
static void sym_unref(struct dw_index *ix, uint32_t id)
{
    struct dw_sym *y = sym_get(ix, id);
    if (--y->refs > 0)
        return;
    size_t slot = symmap_find(ix, y->s, y->len, y->hash);
    symmap_delete(ix, slot);
    ix->nsyms--;
    y->refs = id;
    dw_reclaim_defer(ix->reclaim, sym_free, ix, y);
}

/* ---- label names and their values ---- */

static struct dw_lname *name_get(const struct dw_index *ix, uint32_t sym)
{
    if (!ix->names_cap)
        return NULL;
    uint32_t mask = ix->names_cap - 1;
    for (size_t i = hash_u32(sym) & mask;; i = (i + 1) & mask) {
        struct dw_lname *ln = ix->names[i];
        if (!ln || ln->sym == sym)
            return ln;
    }
}

static void names_insert(struct dw_lname **tab, uint32_t cap, struct dw_lname *ln)
{
    size_t i = hash_u32(ln->sym) & (cap - 1);
    while (tab[i])
        i = (i + 1) & (cap - 1);
    tab[i] = ln;
}

static struct dw_lname *name_add(struct dw_index *ix, uint32_t sym)
{
    struct dw_lname *ln = name_get(ix, sym);
    if (ln)
        return ln;
    if ((ix->nnames + 1) * 2 > ix->names_cap) {
        uint32_t ncap = ix->names_cap ? ix->names_cap * 2 : 64;
        struct dw_lname **tab = dw_calloc(ncap, sizeof *tab);
        for (uint32_t i = 0; i < ix->names_cap; i++)
            if (ix->names[i])
                names_insert(tab, ncap, ix->names[i]);
        free(ix->names);
        ix->names = tab;
        ix->names_cap = ncap;
    }
    ln = dw_calloc(1, sizeof *ln);
    ln->sym = sym;
    names_insert(ix->names, ix->names_cap, ln);
    ix->nnames++;
    return ln;
}

static void name_delete(struct dw_index *ix, struct dw_lname *ln)
{
    uint32_t mask = ix->names_cap - 1;
    size_t i = hash_u32(ln->sym) & mask;
    while (ix->names[i] != ln)
        i = (i + 1) & mask;
    for (;;) {
        ix->names[i] = NULL;
        size_t j = i;
        for (;;) {
            j = (j + 1) & mask;
            if (!ix->names[j])
                goto done;
            size_t k = hash_u32(ix->names[j]->sym) & mask;
            bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
            if (!stays) {
                ix->names[i] = ix->names[j];
                i = j;
                break;
            }
        }
    }
done:
    ix->nnames--;
    free(ln->vals);
    free(ln);
}

static struct dw_lval *val_get(const struct dw_lname *ln, uint32_t sym)
{
    if (!ln->cap)
        return NULL;
    uint32_t mask = ln->cap - 1;
    for (size_t i = hash_u32(sym) & mask;; i = (i + 1) & mask) {
        struct dw_lval *lv = &ln->vals[i];
        if (!lv->sym)
            return NULL;
        if (lv->sym == sym)
            return lv;
    }
}

static struct dw_lval *val_slot(struct dw_lval *tab, uint32_t cap, uint32_t sym)
{
    size_t i = hash_u32(sym) & (cap - 1);
    while (tab[i].sym && tab[i].sym != sym)
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

static struct dw_lval *val_add(struct dw_lname *ln, uint32_t sym)
{
    struct dw_lval *lv = val_get(ln, sym);
    if (lv)
        return lv;
    if ((ln->n + 1) * 4 > ln->cap * 3) {
        uint32_t ncap = ln->cap ? ln->cap * 2 : 4;
        struct dw_lval *tab = dw_calloc(ncap, sizeof *tab);
        for (uint32_t i = 0; i < ln->cap; i++)
            if (ln->vals[i].sym)
                *val_slot(tab, ncap, ln->vals[i].sym) = ln->vals[i];
        free(ln->vals);
        ln->vals = tab;
        ln->cap = ncap;
    }
    lv = val_slot(ln->vals, ln->cap, sym);
    lv->sym = sym;
    ln->n++;
    return lv;
}

static void val_delete(struct dw_lname *ln, struct dw_lval *lv)
{
    uint32_t mask = ln->cap - 1;
    size_t i = (size_t)(lv - ln->vals);
    free(lv->p.ids);
    for (;;) {
        memset(&ln->vals[i], 0, sizeof ln->vals[i]);
        size_t j = i;
        for (;;) {
            j = (j + 1) & mask;
            if (!ln->vals[j].sym)
                goto done;
            size_t k = hash_u32(ln->vals[j].sym) & mask;
            bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
            if (!stays) {
                ln->vals[i] = ln->vals[j];
                i = j;
                break;
            }
        }
    }
done:
    ln->n--;
}

/* ---- postings ---- */

static void postings_add(struct dw_postings *p, uint32_t id)
{
    if (p->n == p->cap) {
        /* 1, 2, 4, then x1.5: most pairs (an instance, a pod) have few series. */
        uint32_t ncap = p->cap < 4 ? (p->cap ? p->cap * 2 : 1) : p->cap + p->cap / 2;
        p->ids = dw_realloc(p->ids, (size_t)ncap * sizeof *p->ids);
        p->cap = ncap;
    }
    if (p->n == 0 || p->ids[p->n - 1] < id) {
        p->ids[p->n++] = id;
        return;
    }
    size_t at = gallop(p->ids, p->n, 0, id); /* replayed out of order: rare */
    if (at < p->n && p->ids[at] == id)
        return;
    memmove(p->ids + at + 1, p->ids + at, (p->n - at) * sizeof *p->ids);
    p->ids[at] = id;
    p->n++;
}

/* Removes the ids listed in dead (sorted) from p and shrinks it when sparse. */
static void postings_filter(struct dw_postings *p, const uint32_t *dead, size_t ndead)
{
    struct dw_idlist l = {p->ids, p->n, p->cap};
    dw_idlist_subtract(&l, dead, ndead);
    p->n = (uint32_t)l.n;
    if (p->n && p->n * 2 < p->cap) {
        p->ids = dw_realloc(p->ids, (size_t)p->n * sizeof *p->ids);
        p->cap = p->n;
    }
}

void dw_index_init(struct dw_index *ix, struct dw_reclaim *r)
{
    memset(ix, 0, sizeof *ix);
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    /* Series creation must not starve behind a stream of selects. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&ix->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    ix->reclaim = r;
}

void dw_index_release(struct dw_index *ix)
{
    for (uint32_t i = 0; i < ix->names_cap; i++) {
        struct dw_lname *ln = ix->names[i];
        if (!ln)
            continue;
        for (uint32_t j = 0; j < ln->cap; j++)
            free(ln->vals[j].p.ids);
        free(ln->vals);
        free(ln);
    }
    free(ix->names);
    for (uint32_t i = 0; i < ix->symmap_cap; i++)
        if (ix->symmap[i])
            free(sym_get(ix, ix->symmap[i]));
    free(ix->symmap);
    free(ix->free_syms);
    free(ix->all.ids);
    dw_segarr_release(&ix->syms);
    pthread_rwlock_destroy(&ix->lock);
}

void dw_index_add_series(struct dw_index *ix, uint32_t id, const uint32_t *labels, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct dw_lname *ln = name_add(ix, labels[2 * i]);
        postings_add(&val_add(ln, labels[2 * i + 1])->p, id);
    }
    postings_add(&ix->all, id);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void dw_index_remove_series(struct dw_index *ix, const uint32_t *dead, size_t ndead,
                            const uint32_t *pairs, size_t npairs)
{
    /* Visit every affected list once, whatever the number of dead series in it. */
    uint64_t *keys = dw_malloc((npairs ? npairs : 1) * sizeof *keys);
    for (size_t i = 0; i < npairs; i++)
        keys[i] = (uint64_t)pairs[2 * i] << 32 | pairs[2 * i + 1];
    qsort(keys, npairs, sizeof *keys, cmp_u64);
    for (size_t i = 0; i < npairs; i++) {
        if (i > 0 && keys[i] == keys[i - 1])
            continue;
        struct dw_lname *ln = name_get(ix, (uint32_t)(keys[i] >> 32));
        struct dw_lval *lv = ln ? val_get(ln, (uint32_t)keys[i]) : NULL;
        if (!lv)
            continue;
        postings_filter(&lv->p, dead, ndead);
        if (lv->p.n == 0) {
            val_delete(ln, lv);
            if (ln->n == 0)
                name_delete(ix, ln);
        }
    }
    free(keys);
    postings_filter(&ix->all, dead, ndead);
    for (size_t i = 0; i < npairs; i++) {
        sym_unref(ix, pairs[2 * i]);
        sym_unref(ix, pairs[2 * i + 1]);
    }
}

const struct dw_postings *dw_index_postings(struct dw_index *ix, uint32_t name, uint32_t value)
{
    struct dw_lname *ln = name_get(ix, name);
    struct dw_lval *lv = ln ? val_get(ln, value) : NULL;
    return lv ? &lv->p : NULL;
}

void dw_index_names(struct dw_index *ix, struct dw_idlist *out)
{
    for (uint32_t i = 0; i < ix->names_cap; i++)
        if (ix->names[i])
            dw_idlist_push(out, ix->names[i]->sym);
}

void dw_index_values(struct dw_index *ix, uint32_t name, struct dw_idlist *out)
{
    struct dw_lname *ln = name_get(ix, name);
    for (uint32_t i = 0; ln && i < ln->cap; i++)
        if (ln->vals[i].sym)
            dw_idlist_push(out, ln->vals[i].sym);
}

/* ---- selection ---- */

/* One matcher, classified. */
struct plan {
    struct dw_tsdb_matcher *m;
    struct dw_lname *ln; /* NULL: no series has the label */
    bool matches_empty;  /* also accepts series without the label */
    bool literal;        /* the postings to combine are found by direct lookups */
    const char *const *lits;
    size_t nlits;
    size_t cost; /* values to test when not literal */
};

static void plan_one(struct dw_index *ix, struct dw_tsdb_matcher *m, struct plan *p)
{
    memset(p, 0, sizeof *p);
    p->m = m;
    uint32_t sym = dw_index_lookup(ix, dw_tsdb_matcher_name(m));
    p->ln = sym ? name_get(ix, sym) : NULL;
    p->matches_empty = dw_tsdb_matcher_matches(m, "");
    p->lits = dw_tsdb_matcher_literals(m, &p->nlits);
    enum dw_match_op op = dw_tsdb_matcher_op(m);
    bool accepts_lits = op == DW_MATCH_EQ || op == DW_MATCH_RE;
    /*
     * Direct lookups work when the values to collect are exactly the
     * literals: the accepted ones of a positive matcher, the rejected ones
     * of a negative matcher that accepts "".
     */
    p->literal = p->lits && accepts_lits != p->matches_empty;
    p->cost = p->ln ? p->ln->n : 0;
}

/* Union of the postings of values v (of p's label) with matches(v) != want_reject. */
static void collect(struct dw_index *ix, const struct plan *p, bool rejected, struct dw_idlist *out)
{
    size_t lists = 0;
    if (p->literal) {
        for (size_t i = 0; i < p->nlits; i++) {
            uint32_t vs = p->lits[i][0] ? dw_index_lookup(ix, p->lits[i]) : 0;
            struct dw_lval *lv = vs ? val_get(p->ln, vs) : NULL;
            if (lv) {
                append_ids(out, lv->p.ids, lv->p.n);
                lists++;
            }
        }
    } else {
        for (uint32_t i = 0; i < p->ln->cap; i++) {
            struct dw_lval *lv = &p->ln->vals[i];
            if (!lv->sym)
                continue;
            bool ok = dw_tsdb_matcher_matches(p->m, dw_index_str(ix, lv->sym));
            if (ok != rejected) {
                append_ids(out, lv->p.ids, lv->p.n);
                lists++;
            }
        }
    }
    /* A series has one value per label name: the lists are disjoint. */
    if (lists > 1)
        dw_idlist_sort(out);
}

static void post_filter(struct dw_index *ix, const struct plan *p,
                        const struct dw_index_series_labels *sl, struct dw_idlist *cand)
{
    size_t out = 0;
    for (size_t i = 0; i < cand->n; i++) {
        const char *v = sl->value(sl->ctx, cand->ids[i], p->ln->sym);
        if (dw_tsdb_matcher_matches(p->m, v))
            cand->ids[out++] = cand->ids[i];
    }
    cand->n = out;
}

static int cmp_plan(const void *a, const void *b)
{
    const struct plan *x = a, *y = b;
    /* Literal positives first (cheap and usually selective), then by cost. */
    if (x->literal != y->literal)
        return x->literal ? -1 : 1;
    return x->cost < y->cost ? -1 : x->cost > y->cost;
}

/* Applies one matcher to the candidates (has = whether there are any yet). */
static void apply_plan(struct dw_index *ix, const struct plan *p,
                       const struct dw_index_series_labels *sl, struct dw_idlist *cand, bool *has)
{
    if (!p->ln) /* nobody has the label: all-or-nothing */
        return;
    if (*has && !p->literal && sl && cand->n < p->cost) {
        post_filter(ix, p, sl, cand);
        return;
    }
    struct dw_idlist set = {0};
    collect(ix, p, p->matches_empty, &set);
    if (p->matches_empty) {
        if (!*has) {
            append_ids(cand, ix->all.ids, ix->all.n);
            *has = true;
        }
        dw_idlist_subtract(cand, set.ids, set.n);
    } else if (!*has) {
        dw_idlist_release(cand);
        *cand = set;
        *has = true;
        return;
    } else {
        dw_idlist_intersect(cand, set.ids, set.n);
    }
    dw_idlist_release(&set);
}

void dw_index_select(struct dw_index *ix, struct dw_tsdb_matcher *const *ms, size_t n,
                     const struct dw_index_series_labels *sl, struct dw_idlist *out)
{
    out->n = 0;
    struct plan *plans = dw_malloc((n ? n : 1) * sizeof *plans);
    for (size_t i = 0; i < n; i++) {
        plan_one(ix, ms[i], &plans[i]);
        if (!plans[i].ln && !plans[i].matches_empty)
            goto done; /* needs a label nobody has */
    }
    qsort(plans, n, sizeof *plans, cmp_plan);
    /* Positive matchers before negative ones: they shrink, the others subtract. */
    bool has = false;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            if (plans[i].matches_empty != (pass == 1))
                continue;
            apply_plan(ix, &plans[i], sl, out, &has);
            if (has && out->n == 0)
                goto done;
        }
    }
    if (!has)
        append_ids(out, ix->all.ids, ix->all.n);
done:
    free(plans);
}
