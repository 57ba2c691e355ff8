/*
 * csamples.c - the list of samples a scrape-free check (a probe) produces:
 * heap copies of names and extra labels, handed to the scheduler, which adds
 * the target's labels and appends them to the tsdb.
 */
#include <stdarg.h>
#include <stdlib.h>

#include "collect/collect_internal.h"

void dw_csamples_init(struct dw_csamples *s)
{
    *s = (struct dw_csamples){0};
}

void dw_csamples_clear(struct dw_csamples *s)
{
    for (size_t i = 0; i < s->n; i++) {
        struct dw_csample *c = &s->items[i];
        for (size_t j = 0; j < c->nlabels; j++) {
            free(c->label_names[j]);
            free(c->label_values[j]);
        }
        free(c->label_names);
        free(c->label_values);
        free(c->name);
    }
    free(s->items);
    dw_csamples_init(s);
}

void dw_csamples_add(struct dw_csamples *s, const char *name, double value, ...)
{
    s->items = dw_grow(s->items, &s->cap, s->n + 1, sizeof *s->items);
    struct dw_csample *c = &s->items[s->n++];
    *c = (struct dw_csample){.name = dw_strdup(name), .value = value};
    va_list ap;
    va_start(ap, value);
    size_t cap = 0, vcap = 0;
    const char *ln;
    while ((ln = va_arg(ap, const char *))) {
        const char *lv = va_arg(ap, const char *);
        c->label_names = dw_grow(c->label_names, &cap, c->nlabels + 1, sizeof *c->label_names);
        c->label_values = dw_grow(c->label_values, &vcap, c->nlabels + 1, sizeof *c->label_values);
        c->label_names[c->nlabels] = dw_strdup(ln);
        c->label_values[c->nlabels++] = dw_strdup(lv ? lv : "");
    }
    va_end(ap);
}
