/*
 * labels.c - label sets: ordering, hashing, lookup, formatting, name rules.
 */
#include <stdlib.h>
#include <string.h>

#include "tsdb/tsdb.h"

static int label_cmp(const void *a, const void *b)
{
    const struct dw_label *x = a, *y = b;
    return strcmp(x->name, y->name);
}

void dw_tsdb_labels_sort(struct dw_label *labels, size_t n)
{
    /* Insertion sort: label sets are small and usually nearly sorted. */
    for (size_t i = 1; i < n; i++) {
        struct dw_label cur = labels[i];
        size_t j = i;
        while (j > 0 && label_cmp(&labels[j - 1], &cur) > 0) {
            labels[j] = labels[j - 1];
            j--;
        }
        labels[j] = cur;
    }
}

int dw_tsdb_labels_cmp(const struct dw_label *a, size_t na, const struct dw_label *b, size_t nb)
{
    size_t n = na < nb ? na : nb;
    for (size_t i = 0; i < n; i++) {
        int c = strcmp(a[i].name, b[i].name);
        if (c)
            return c;
        c = strcmp(a[i].value, b[i].value);
        if (c)
            return c;
    }
    return na < nb ? -1 : na > nb ? 1 : 0;
}

const char *dw_tsdb_labels_get(const struct dw_label *labels, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(labels[i].name, name) == 0)
            return labels[i].value;
    return NULL;
}

/* FNV-1a over name\xffvalue\xff...: stable, cheap, good enough to bucket series. */
uint64_t dw_tsdb_labels_hash(const struct dw_label *labels, size_t n)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)labels[i].name; *p; p++)
            h = (h ^ *p) * UINT64_C(0x100000001b3);
        h = (h ^ 0xff) * UINT64_C(0x100000001b3);
        for (const unsigned char *p = (const unsigned char *)labels[i].value; *p; p++)
            h = (h ^ *p) * UINT64_C(0x100000001b3);
        h = (h ^ 0xfe) * UINT64_C(0x100000001b3);
    }
    return h;
}

static void quote_value(const char *v, struct dw_buf *out)
{
    dw_buf_putc(out, '"');
    dw_buf_put_label_value(out, v);
    dw_buf_putc(out, '"');
}

void dw_tsdb_labels_format(const struct dw_label *labels, size_t n, struct dw_buf *out)
{
    const char *name = dw_tsdb_labels_get(labels, n, DW_TSDB_METRIC_NAME);
    if (name)
        dw_buf_puts(out, name);
    dw_buf_putc(out, '{');
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(labels[i].name, DW_TSDB_METRIC_NAME) == 0)
            continue;
        if (!first)
            dw_buf_puts(out, ", ");
        first = false;
        dw_buf_printf(out, "%s=", labels[i].name);
        quote_value(labels[i].value, out);
    }
    dw_buf_putc(out, '}');
}

static bool name_chars_valid(const char *s, bool colon)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (colon && c == ':') || (p != s && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

bool dw_tsdb_label_name_valid(const char *name)
{
    return name_chars_valid(name, false);
}

bool dw_tsdb_metric_name_valid(const char *name)
{
    return name_chars_valid(name, true);
}

/* ---- sets of label sets ---- */

struct dw_lsset_entry {
    uint64_t hash;
    struct dw_label *labels; /* one allocation with the strings */
    size_t n;
};

static uint64_t lsset_hash(const struct dw_label *l, size_t n)
{
    uint64_t h = dw_tsdb_labels_hash(l, n);
    return h ? h : 1;
}

static struct dw_lsset_entry *lsset_slot(const struct dw_lsset *s, uint64_t h,
                                         const struct dw_label *l, size_t n)
{
    size_t mask = s->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct dw_lsset_entry *e = &s->e[i];
        if (!e->hash || (e->hash == h && dw_tsdb_labels_cmp(e->labels, e->n, l, n) == 0))
            return e;
    }
}

static void lsset_grow(struct dw_lsset *s)
{
    struct dw_lsset old = *s;
    s->cap = old.cap ? old.cap * 2 : 64;
    s->e = dw_calloc(s->cap, sizeof *s->e);
    for (size_t i = 0; i < old.cap; i++)
        if (old.e[i].hash)
            *lsset_slot(s, old.e[i].hash, old.e[i].labels, old.e[i].n) = old.e[i];
    free(old.e);
}

/* Copies labels into one allocation: the array, then the strings. */
struct dw_label *dw_tsdb_labels_dup(const struct dw_label *l, size_t n)
{
    size_t bytes = n * sizeof *l;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(l[i].name) + strlen(l[i].value) + 2;
    struct dw_label *c = dw_malloc(bytes ? bytes : 1);
    char *p = (char *)(c + n);
    for (size_t i = 0; i < n; i++) {
        size_t a = strlen(l[i].name) + 1, b = strlen(l[i].value) + 1;
        memcpy(p, l[i].name, a);
        memcpy(p + a, l[i].value, b);
        c[i] = (struct dw_label){p, p + a};
        p += a + b;
    }
    return c;
}

void dw_lsset_add(struct dw_lsset *s, const struct dw_label *labels, size_t n)
{
    if ((s->n + 1) * 4 > s->cap * 3)
        lsset_grow(s);
    uint64_t h = lsset_hash(labels, n);
    struct dw_lsset_entry *e = lsset_slot(s, h, labels, n);
    if (e->hash)
        return;
    *e = (struct dw_lsset_entry){h, dw_tsdb_labels_dup(labels, n), n};
    s->n++;
}

bool dw_lsset_has(const struct dw_lsset *s, const struct dw_label *labels, size_t n)
{
    return s->cap && lsset_slot(s, lsset_hash(labels, n), labels, n)->hash != 0;
}

const struct dw_label *dw_lsset_next(const struct dw_lsset *s, struct dw_lsset_iter *it, size_t *n)
{
    for (; it->i < s->cap; it->i++)
        if (s->e[it->i].hash) {
            *n = s->e[it->i].n;
            return s->e[it->i++].labels;
        }
    return NULL;
}

void dw_lsset_release(struct dw_lsset *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->e[i].labels);
    free(s->e);
    *s = (struct dw_lsset){0};
}
