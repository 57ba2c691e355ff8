/*
 * buf.c - growable byte buffer with a hard maximum.
 *
 * Every buffer fed from outside is created with a maximum so that a hostile
 * peer cannot make the daemon grow without bound; an append past the maximum
 * fails (-1) and leaves the buffer as it was, with `overflow` set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

void dw_buf_init(struct dw_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max ? max : SIZE_MAX;
    b->overflow = false;
}

void dw_buf_release(struct dw_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void dw_buf_clear(struct dw_buf *b)
{
    size_t max = b->max;
    dw_buf_release(b);
    dw_buf_init(b, max);
}

static int reserve(struct dw_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra) {
        b->overflow = true;
        return -1;
    }
    size_t need = b->len + extra + 1;
    if (need > b->cap) {
        size_t ncap = b->cap ? b->cap : 64;
        while (ncap < need)
            ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
        b->data = dw_realloc(b->data, ncap);
        b->cap = ncap;
    }
    return 0;
}

int dw_buf_append(struct dw_buf *b, const void *data, size_t n)
{
    if (reserve(b, n) < 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int dw_buf_puts(struct dw_buf *b, const char *s)
{
    return dw_buf_append(b, s, strlen(s));
}

int dw_buf_putc(struct dw_buf *b, char c)
{
    return dw_buf_append(b, &c, 1);
}

int dw_buf_vprintf(struct dw_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || reserve(b, (size_t)n) < 0)
        return -1;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int dw_buf_printf(struct dw_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = dw_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void dw_buf_put_label_value(struct dw_buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            dw_buf_puts(b, "\\\\");
        else if (*v == '"')
            dw_buf_puts(b, "\\\"");
        else if (*v == '\n')
            dw_buf_puts(b, "\\n");
        else
            dw_buf_putc(b, *v);
    }
}

char *dw_buf_steal(struct dw_buf *b)
{
    char *s = b->data ? b->data : dw_strdup("");
    size_t max = b->max;
    dw_buf_init(b, max);
    return s;
}

int dw_buf_xml_escape_n(struct dw_buf *b, const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep;
        switch (s[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: continue;
        }
        if (dw_buf_append(b, s + run, i - run) < 0 || dw_buf_puts(b, rep) < 0)
            return -1;
        run = i + 1;
    }
    return dw_buf_append(b, s + run, n - run);
}

void dw_buf_xml_escape(struct dw_buf *b, const char *s)
{
    if (s)
        dw_buf_xml_escape_n(b, s, strlen(s));
}

void dw_buf_url_encode(struct dw_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            dw_buf_putc(b, (char)*p);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            dw_buf_append(b, e, 3);
        }
    }
}
