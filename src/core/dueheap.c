/*
 * dueheap.c - a binary min-heap of (time, item) for schedulers: the
 * collector's checks and the rule evaluator's groups both take the earliest
 * due item, run it and put it back with its next time.
 */
#include <stdlib.h>

#include "core/core.h"

static void swap(struct dw_due *a, struct dw_due *b)
{
    struct dw_due t = *a;
    *a = *b;
    *b = t;
}

static void sift_down(struct dw_dueheap *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < h->n && h->v[l].at < h->v[m].at)
            m = l;
        if (l + 1 < h->n && h->v[l + 1].at < h->v[m].at)
            m = l + 1;
        if (m == i)
            return;
        swap(&h->v[i], &h->v[m]);
        i = m;
    }
}

void dw_dueheap_push(struct dw_dueheap *h, int64_t at, void *item)
{
    h->v = dw_grow(h->v, &h->cap, h->n + 1, sizeof *h->v);
    size_t i = h->n++;
    h->v[i] = (struct dw_due){at, item};
    while (i && h->v[(i - 1) / 2].at > h->v[i].at) {
        swap(&h->v[i], &h->v[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
}

const struct dw_due *dw_dueheap_top(const struct dw_dueheap *h)
{
    return h->n ? &h->v[0] : NULL;
}

void dw_dueheap_retime_top(struct dw_dueheap *h, int64_t at)
{
    if (!h->n)
        return;
    h->v[0].at = at;
    sift_down(h, 0);
}

void dw_dueheap_clear(struct dw_dueheap *h)
{
    h->n = 0;
}

void dw_dueheap_release(struct dw_dueheap *h)
{
    free(h->v);
    *h = (struct dw_dueheap){0};
}
