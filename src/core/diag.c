/*
 * diag.c - lists of errors and warnings with file, line, column and key.
 *
 * Config loaders and parsers collect every problem they find instead of
 * stopping at the first, so a person fixes a file in one pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

void dw_diags_init(struct dw_diags *d)
{
    memset(d, 0, sizeof *d);
}

void dw_diags_release(struct dw_diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].file);
        free(d->items[i].key);
        free(d->items[i].msg);
    }
    free(d->items);
    dw_diags_init(d);
}

void dw_diags_add(struct dw_diags *d, const char *file, int line, int col, const char *key,
                  const char *fmt, ...)
{
    d->items = dw_grow(d->items, &d->cap, d->n + 1, sizeof *d->items);
    struct dw_diag *g = &d->items[d->n++];
    va_list ap;
    va_start(ap, fmt);
    g->msg = dw_vasprintf(fmt, ap);
    va_end(ap);
    g->file = file ? dw_strdup(file) : NULL;
    g->line = line;
    g->col = col;
    g->key = key && *key ? dw_strdup(key) : NULL;
    if (dw_str_has_prefix(g->msg, "warning: "))
        d->warnings++;
}

size_t dw_diags_errors(const struct dw_diags *d)
{
    return d->n - d->warnings;
}

char *dw_diags_text(const struct dw_diags *d, size_t max, const char *sep, const char *empty)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    size_t shown = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (dw_str_has_prefix(d->items[i].msg, "warning: "))
            continue;
        if (max && shown == max) {
            dw_buf_printf(&b, "%s... and %zu more", sep, dw_diags_errors(d) - max);
            break;
        }
        if (shown++)
            dw_buf_puts(&b, sep);
        dw_diag_format(&d->items[i], &b);
    }
    if (!b.len)
        dw_buf_puts(&b, empty);
    return dw_buf_steal(&b);
}

void dw_diag_format(const struct dw_diag *g, struct dw_buf *out)
{
    if (g->file)
        dw_buf_printf(out, "%s:", g->file);
    if (g->line > 0)
        dw_buf_printf(out, "%d:%d:", g->line, g->col > 0 ? g->col : 1);
    if (out->len)
        dw_buf_putc(out, ' ');
    if (g->key)
        dw_buf_printf(out, "%s: ", g->key);
    dw_buf_puts(out, g->msg);
}
