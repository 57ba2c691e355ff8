/*
 * eval_value.c - the evaluator's memory, label sets, hash index and series.
 *
 * DESIGN: one query owns three kinds of memory, all released when it ends,
 * also on error paths (operators just return -1 and leave cleanup here):
 *   - tracked blocks (ev_alloc): a doubly linked list, so an operator can
 *     free an intermediate result as soon as it is consumed and the peak
 *     stays small; blocks of sample values carry their count, which is what
 *     max_samples limits (Prometheus's "too many samples" check);
 *   - the arena: label sets and their strings, bump-allocated, never freed
 *     one by one (label sets are shared freely between series);
 *   - one scratch buffer of grid size reused by leaf loops.
 * Label sets are immutable, sorted by name, without empty values, with a
 * precomputed hash; equality is always checked in full after a hash match.
 * Runs on the query's thread only.
 */
#include <stdio.h>
#include <stdlib.h>

#include "promql/eval_internal.h"
#include "promql/promql_internal.h"

/* ---- errors and limits ---- */

int ev_fail(struct evq *q, int code, const char *fmt, ...)
{
    if (q->err_code)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    q->err_msg = dw_vasprintf(fmt, ap);
    va_end(ap);
    q->err_code = code;
    return -1;
}

int ev_check(struct evq *q)
{
    if (q->err_code)
        return -1;
    if (q->cancel && atomic_load(q->cancel))
        return ev_fail(q, DW_PROMQL_ECANCELED, "query was canceled in expression evaluation");
    if (q->deadline_ns && dw_mono_ns() > q->deadline_ns)
        return ev_fail(q, DW_PROMQL_ETIMEOUT, "query timed out in expression evaluation");
    return 0;
}

void ev_warn(struct evq *q, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = dw_vasprintf(fmt, ap);
    va_end(ap);
    for (size_t i = 0; i < q->nwarnings; i++) {
        if (strcmp(q->warnings[i], msg) == 0) {
            free(msg);
            return;
        }
    }
    q->warnings = dw_realloc(q->warnings, (q->nwarnings + 1) * sizeof *q->warnings);
    q->warnings[q->nwarnings++] = msg;
}

/* ---- tracked blocks ---- */

struct pblock {
    struct pblock *prev, *next;
    size_t slots; /* samples counted against max_samples */
    size_t pad;   /* keeps the payload 16-byte aligned */
};

static void *track(struct evq *q, struct pblock *b, size_t slots)
{
    b->prev = NULL;
    b->next = q->blocks;
    if (q->blocks)
        q->blocks->prev = b;
    q->blocks = b;
    b->slots = slots;
    return b + 1;
}

static void untrack(struct evq *q, struct pblock *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        q->blocks = b->next;
    if (b->next)
        b->next->prev = b->prev;
}

void *ev_alloc(struct evq *q, size_t bytes)
{
    return track(q, dw_malloc(sizeof(struct pblock) + bytes), 0);
}

void *ev_zalloc(struct evq *q, size_t bytes)
{
    return track(q, dw_calloc(1, sizeof(struct pblock) + bytes), 0);
}

void *ev_realloc(struct evq *q, void *p, size_t bytes)
{
    if (!p)
        return ev_alloc(q, bytes);
    struct pblock *b = (struct pblock *)p - 1;
    size_t slots = b->slots;
    untrack(q, b);
    b = dw_realloc(b, sizeof(struct pblock) + bytes);
    return track(q, b, slots);
}

void ev_free(struct evq *q, void *p)
{
    if (!p)
        return;
    struct pblock *b = (struct pblock *)p - 1;
    untrack(q, b);
    ev_uncount(q, b->slots);
    free(b);
}

int ev_count(struct evq *q, size_t n)
{
    if (n > q->max_samples || q->cur_samples > q->max_samples - n)
        return ev_fail(q, DW_PROMQL_ETOOMANY,
                       "query processing would load too many samples into memory in query "
                       "execution");
    q->cur_samples += n;
    if (q->cur_samples > q->peak_samples)
        q->peak_samples = q->cur_samples;
    return 0;
}

void ev_uncount(struct evq *q, size_t n)
{
    q->cur_samples = n > q->cur_samples ? 0 : q->cur_samples - n;
}

double *ev_samples(struct evq *q, size_t n)
{
    if (ev_count(q, n) < 0)
        return NULL;
    struct pblock *b = dw_malloc(sizeof(struct pblock) + (n ? n : 1) * sizeof(double));
    return track(q, b, n);
}

double *ev_scratch(struct evq *q, int32_t n)
{
    if (n > q->scratch_n) {
        if (ev_count(q, (size_t)(n - q->scratch_n)) < 0)
            return NULL;
        q->scratch = ev_realloc(q, q->scratch, (size_t)n * sizeof(double));
        q->scratch_n = n;
    }
    return q->scratch;
}

/* ---- arena ---- */

struct achunk {
    struct achunk *next;
    size_t used, size;
    max_align_t data[];
};

#define ARENA_CHUNK (64u * 1024u)

void *ev_arena(struct evq *q, size_t bytes)
{
    bytes = (bytes + 15) & ~(size_t)15;
    struct achunk *c = q->chunks;
    if (!c || c->size - c->used < bytes) {
        size_t size = bytes > ARENA_CHUNK / 4 ? bytes : ARENA_CHUNK;
        c = dw_malloc(sizeof *c + size);
        c->used = 0;
        c->size = size;
        /* A big block goes behind the current chunk so its free space stays usable. */
        if (size != ARENA_CHUNK && q->chunks) {
            c->next = q->chunks->next;
            q->chunks->next = c;
        } else {
            c->next = q->chunks;
            q->chunks = c;
        }
        q->arena_bytes += size;
    }
    void *p = (char *)c->data + c->used;
    c->used += bytes;
    return p;
}

char *ev_strndup(struct evq *q, const char *s, size_t n)
{
    char *p = ev_arena(q, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void ev_memory_release(struct evq *q)
{
    for (struct pblock *b = q->blocks, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    q->blocks = NULL;
    for (struct achunk *c = q->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    q->chunks = NULL;
    q->scratch = NULL;
    q->scratch_n = 0;
}

/* ---- hashing ---- */

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h;
}

static uint64_t hash_str(uint64_t h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= UINT64_C(0x100000001b3);
    }
    h ^= 0xff; /* a separator no label string contains */
    h *= UINT64_C(0x100000001b3);
    return h;
}

#define HASH_SEED UINT64_C(0xcbf29ce484222325)

static uint64_t hash_labels(const struct dw_label *l, size_t n)
{
    uint64_t h = HASH_SEED;
    for (size_t i = 0; i < n; i++)
        h = hash_str(hash_str(h, l[i].name), l[i].value);
    return mix(h);
}

/* ---- label sets ---- */

static int label_cmp(const void *a, const void *b)
{
    return strcmp(((const struct dw_label *)a)->name, ((const struct dw_label *)b)->name);
}

static const struct lset *lset_new(struct evq *q, const struct dw_label *l, size_t n)
{
    struct lset *ls = ev_arena(q, sizeof *ls + n * sizeof ls->l[0]);
    ls->n = (uint32_t)n;
    if (n)
        memcpy(ls->l, l, n * sizeof *l);
    ls->hash = hash_labels(ls->l, n);
    return ls;
}

const struct lset *ls_empty(struct evq *q)
{
    return lset_new(q, NULL, 0);
}

/* Sorts by name (insertion sort: label sets are short and usually sorted). */
static void sort_labels(struct dw_label *l, size_t n)
{
    if (n > 32) {
        qsort(l, n, sizeof *l, label_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        struct dw_label x = l[i];
        size_t j = i;
        while (j > 0 && strcmp(l[j - 1].name, x.name) > 0) {
            l[j] = l[j - 1];
            j--;
        }
        l[j] = x;
    }
}

const struct lset *ls_copy(struct evq *q, const struct dw_label *l, size_t n)
{
    /* One arena block for the array and the strings. */
    size_t bytes = n * sizeof(struct dw_label), k = 0;
    for (size_t i = 0; i < n; i++)
        if (l[i].value && l[i].value[0])
            bytes += strlen(l[i].name) + strlen(l[i].value) + 2;
    struct dw_label *tmp = ev_arena(q, bytes ? bytes : 1);
    char *p = (char *)(tmp + n);
    for (size_t i = 0; i < n; i++) {
        if (!l[i].value || !l[i].value[0])
            continue;
        size_t a = strlen(l[i].name) + 1, b = strlen(l[i].value) + 1;
        tmp[k].name = memcpy(p, l[i].name, a);
        tmp[k].value = memcpy(p + a, l[i].value, b);
        p += a + b;
        k++;
    }
    sort_labels(tmp, k);
    return lset_new(q, tmp, k);
}

const char *ls_get(const struct lset *ls, const char *name)
{
    for (uint32_t i = 0; i < ls->n; i++)
        if (strcmp(ls->l[i].name, name) == 0)
            return ls->l[i].value;
    return NULL;
}

bool ls_eq(const struct lset *a, const struct lset *b)
{
    if (a == b)
        return true;
    if (a->hash != b->hash || a->n != b->n)
        return false;
    for (uint32_t i = 0; i < a->n; i++)
        if (strcmp(a->l[i].name, b->l[i].name) || strcmp(a->l[i].value, b->l[i].value))
            return false;
    return true;
}

int ls_cmp(const struct lset *a, const struct lset *b)
{
    uint32_t n = a->n < b->n ? a->n : b->n;
    for (uint32_t i = 0; i < n; i++) {
        int c = strcmp(a->l[i].name, b->l[i].name);
        if (c)
            return c;
        c = strcmp(a->l[i].value, b->l[i].value);
        if (c)
            return c;
    }
    return a->n < b->n ? -1 : a->n > b->n;
}

const struct lset *ls_drop_name(struct evq *q, const struct lset *ls)
{
    for (uint32_t i = 0; i < ls->n; i++) {
        if (strcmp(ls->l[i].name, DW_TSDB_METRIC_NAME) != 0)
            continue;
        struct dw_label *tmp = ev_arena(q, ls->n * sizeof *tmp);
        memcpy(tmp, ls->l, i * sizeof *tmp);
        memcpy(tmp + i, ls->l + i + 1, (ls->n - i - 1) * sizeof *tmp);
        return lset_new(q, tmp, ls->n - 1);
    }
    return ls;
}

void ls_format(const struct lset *ls, struct dw_buf *out)
{
    dw_buf_putc(out, '{');
    for (uint32_t i = 0; i < ls->n; i++) {
        if (i)
            dw_buf_puts(out, ", ");
        dw_buf_puts(out, ls->l[i].name);
        dw_buf_putc(out, '=');
        go_quote(out, ls->l[i].value, strlen(ls->l[i].value));
    }
    dw_buf_putc(out, '}');
}

/* ---- builders ---- */

void lb_init(struct lbuild *b, const struct lset *from)
{
    b->n = from ? from->n : 0;
    b->cap = b->n + 4;
    b->l = dw_malloc(b->cap * sizeof *b->l);
    if (b->n)
        memcpy(b->l, from->l, b->n * sizeof *b->l);
}

void lb_release(struct lbuild *b)
{
    free(b->l);
    b->l = NULL;
    b->n = b->cap = 0;
}

void lb_del(struct lbuild *b, const char *name)
{
    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(b->l[i].name, name) == 0) {
            memmove(b->l + i, b->l + i + 1, (b->n - i - 1) * sizeof *b->l);
            b->n--;
            return;
        }
    }
}

void lb_set(struct lbuild *b, const char *name, const char *value)
{
    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(b->l[i].name, name) == 0) {
            b->l[i].value = value;
            return;
        }
    }
    b->l = dw_grow(b->l, &b->cap, b->n + 1, sizeof *b->l);
    b->l[b->n].name = name;
    b->l[b->n].value = value;
    b->n++;
}

void lb_keep_sel(struct lbuild *b, const struct lsel *sel)
{
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++)
        if (lsel_has(sel, b->l[i].name))
            b->l[k++] = b->l[i];
    b->n = k;
}

const struct lset *lb_finish(struct evq *q, struct lbuild *b)
{
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->l[i].value && b->l[i].value[0])
            b->l[k++] = b->l[i];
    sort_labels(b->l, k);
    return lset_new(q, b->l, k);
}

/* ---- signatures over a selection of labels ---- */

bool lsel_has(const struct lsel *sel, const char *name)
{
    bool listed = false;
    for (size_t i = 0; i < sel->n && !listed; i++)
        listed = strcmp(sel->names[i], name) == 0;
    if (sel->on)
        return listed;
    return !listed && strcmp(name, DW_TSDB_METRIC_NAME) != 0;
}

uint64_t ls_hash_sel(const struct lset *ls, const struct lsel *sel)
{
    uint64_t h = HASH_SEED;
    for (uint32_t i = 0; i < ls->n; i++)
        if (lsel_has(sel, ls->l[i].name))
            h = hash_str(hash_str(h, ls->l[i].name), ls->l[i].value);
    return mix(h);
}

bool ls_eq_sel(const struct lset *a, const struct lset *b, const struct lsel *sel)
{
    uint32_t i = 0, j = 0;
    for (;;) {
        while (i < a->n && !lsel_has(sel, a->l[i].name))
            i++;
        while (j < b->n && !lsel_has(sel, b->l[j].name))
            j++;
        if (i == a->n || j == b->n)
            return i == a->n && j == b->n;
        if (strcmp(a->l[i].name, b->l[j].name) || strcmp(a->l[i].value, b->l[j].value))
            return false;
        i++;
        j++;
    }
}

const struct lset *ls_project(struct evq *q, const struct lset *ls, const struct lsel *sel)
{
    struct dw_label *tmp = ev_arena(q, (ls->n ? ls->n : 1) * sizeof *tmp);
    size_t k = 0;
    for (uint32_t i = 0; i < ls->n; i++)
        if (lsel_has(sel, ls->l[i].name))
            tmp[k++] = ls->l[i];
    return lset_new(q, tmp, k);
}

/* ---- hash index ---- */

#define HX_EMPTY UINT32_MAX

void hx_init(struct evq *q, struct hindex *x, size_t expect)
{
    size_t cap = 16;
    while (cap < expect * 2)
        cap *= 2;
    x->cap = cap;
    x->n = 0;
    x->h = ev_alloc(q, cap * sizeof *x->h);
    x->item = ev_alloc(q, cap * sizeof *x->item);
    memset(x->item, 0xff, cap * sizeof *x->item);
}

void hx_release(struct evq *q, struct hindex *x)
{
    ev_free(q, x->h);
    ev_free(q, x->item);
    x->h = NULL;
    x->item = NULL;
    x->cap = x->n = 0;
}

uint32_t hx_find(const struct hindex *x, uint64_t h, bool (*eq)(void *ctx, uint32_t item),
                 void *ctx)
{
    size_t mask = x->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        if (x->item[i] == HX_EMPTY)
            return HX_EMPTY;
        if (x->h[i] == h && eq(ctx, x->item[i]))
            return x->item[i];
    }
}

static void hx_put(struct hindex *x, uint64_t h, uint32_t item)
{
    size_t mask = x->cap - 1;
    size_t i = (size_t)h & mask;
    while (x->item[i] != HX_EMPTY)
        i = (i + 1) & mask;
    x->h[i] = h;
    x->item[i] = item;
    x->n++;
}

void hx_insert(struct evq *q, struct hindex *x, uint64_t h, uint32_t item)
{
    if ((x->n + 1) * 2 > x->cap) {
        struct hindex old = *x;
        hx_init(q, x, old.cap);
        for (size_t i = 0; i < old.cap; i++)
            if (old.item[i] != HX_EMPTY)
                hx_put(x, old.h[i], old.item[i]);
        hx_release(q, &old);
    }
    hx_put(x, h, item);
}

/* ---- series ---- */

int ser_alloc(struct evq *q, struct ser *s, int32_t lo, int32_t hi)
{
    s->lo = lo;
    s->hi = hi;
    s->v = NULL;
    if (hi <= lo) {
        s->lo = s->hi = 0;
        return 0;
    }
    s->v = ev_samples(q, (size_t)(hi - lo));
    if (!s->v)
        return -1;
    double a = ev_absent();
    for (int32_t i = 0; i < hi - lo; i++)
        s->v[i] = a;
    return 0;
}

int ser_from_dense(struct evq *q, struct ser *s, const double *dense, int32_t n)
{
    int32_t lo = 0, hi = n;
    while (lo < hi && ev_is_absent(dense[lo]))
        lo++;
    while (hi > lo && ev_is_absent(dense[hi - 1]))
        hi--;
    s->v = NULL;
    s->lo = s->hi = 0;
    if (lo == hi)
        return 0;
    s->v = ev_samples(q, (size_t)(hi - lo));
    if (!s->v)
        return -1;
    memcpy(s->v, dense + lo, (size_t)(hi - lo) * sizeof(double));
    s->lo = lo;
    s->hi = hi;
    return 0;
}

int ser_widen(struct evq *q, struct ser *s, int32_t lo, int32_t hi)
{
    if (!s->v)
        return ser_alloc(q, s, lo, hi);
    if (lo >= s->lo && hi <= s->hi)
        return 0;
    struct ser n = *s;
    if (ser_alloc(q, &n, lo < s->lo ? lo : s->lo, hi > s->hi ? hi : s->hi) < 0)
        return -1;
    memcpy(n.v + (s->lo - n.lo), s->v, (size_t)(s->hi - s->lo) * sizeof(double));
    ev_free(q, s->v);
    *s = n;
    return 0;
}

void ser_trim(struct evq *q, struct ser *s)
{
    if (!s->v)
        return;
    int32_t lo = s->lo, hi = s->hi;
    while (lo < hi && ev_is_absent(s->v[lo - s->lo]))
        lo++;
    while (hi > lo && ev_is_absent(s->v[hi - 1 - s->lo]))
        hi--;
    if (lo == s->lo && hi == s->hi)
        return;
    if (lo == hi) {
        ser_release(q, s);
        return;
    }
    /* Shrinking in place keeps the sample count honest without a copy. */
    memmove(s->v, s->v + (lo - s->lo), (size_t)(hi - lo) * sizeof(double));
    struct pblock *b = (struct pblock *)s->v - 1;
    size_t keep = (size_t)(hi - lo);
    ev_uncount(q, b->slots - keep);
    b->slots = keep;
    s->lo = lo;
    s->hi = hi;
}

void ser_release(struct evq *q, struct ser *s)
{
    ev_free(q, s->v);
    s->v = NULL;
    s->lo = s->hi = 0;
}

struct ser *vec_push(struct evq *q, struct vec *v)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 8;
        v->s = ev_realloc(q, v->s, v->cap * sizeof *v->s);
    }
    struct ser *s = &v->s[v->n++];
    memset(s, 0, sizeof *s);
    return s;
}

void vec_release(struct evq *q, struct vec *v)
{
    for (size_t i = 0; i < v->n; i++)
        ev_free(q, v->s[i].v);
    ev_free(q, v->s);
    v->s = NULL;
    v->n = v->cap = 0;
}

void vec_drop_empty(struct evq *q, struct vec *v)
{
    size_t k = 0;
    for (size_t i = 0; i < v->n; i++) {
        ser_trim(q, &v->s[i]);
        if (v->s[i].v)
            v->s[k++] = v->s[i];
    }
    v->n = k;
}

struct uniq_ctx {
    const struct vec *v;
    const struct lset *ls;
};

static bool uniq_eq(void *ctx, uint32_t item)
{
    struct uniq_ctx *u = ctx;
    return ls_eq(u->v->s[item].ls, u->ls);
}

/* Moves the values of src into dst; -1 when both hold a value at one step. */
static int merge_into(struct evq *q, struct ser *dst, struct ser *src)
{
    int32_t lo = src->lo > dst->lo ? src->lo : dst->lo;
    int32_t hi = src->hi < dst->hi ? src->hi : dst->hi;
    for (int32_t i = lo; i < hi; i++)
        if (!ev_is_absent(src->v[i - src->lo]) && !ev_is_absent(dst->v[i - dst->lo]))
            return ev_fail(q, DW_PROMQL_EEXEC,
                           "vector cannot contain metrics with the same labelset");
    if (ser_widen(q, dst, src->lo, src->hi) < 0)
        return -1;
    for (int32_t i = src->lo; i < src->hi; i++)
        if (!ev_is_absent(src->v[i - src->lo]))
            dst->v[i - dst->lo] = src->v[i - src->lo];
    ser_release(q, src);
    return 0;
}

int vec_unique(struct evq *q, struct vec *v, bool strict)
{
    vec_drop_empty(q, v);
    if (v->n < 2)
        return 0;
    struct hindex x;
    hx_init(q, &x, v->n);
    struct uniq_ctx u = {v, NULL};
    size_t k = 0;
    int rc = 0;
    for (size_t i = 0; i < v->n && rc == 0; i++) {
        u.ls = v->s[i].ls;
        uint32_t j = hx_find(&x, u.ls->hash, uniq_eq, &u);
        if (j == HX_EMPTY) {
            v->s[k] = v->s[i];
            hx_insert(q, &x, u.ls->hash, (uint32_t)k);
            k++;
        } else if (strict) {
            rc =
                ev_fail(q, DW_PROMQL_EEXEC, "vector cannot contain metrics with the same labelset");
        } else {
            rc = merge_into(q, &v->s[j], &v->s[i]);
        }
    }
    /* On error too: s[0..k) never share a buffer with what follows. */
    v->n = k;
    hx_release(q, &x);
    return rc;
}

void val_release(struct evq *q, struct val *v)
{
    ev_free(q, v->sc);
    v->sc = NULL;
    vec_release(q, &v->vec);
}

double *val_scalar(struct evq *q, struct val *out, int32_t n)
{
    memset(out, 0, sizeof *out);
    out->type = DW_PROMQL_TYPE_SCALAR;
    out->sc = ev_samples(q, (size_t)(n > 0 ? n : 0));
    return out->sc;
}
