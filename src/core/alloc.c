/*
 * alloc.c - allocation wrappers and small string helpers.
 *
 * Out-of-memory is not a recoverable condition for a monitoring daemon: the
 * wrappers log once and abort, so call sites never check for NULL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

void dw_oom(size_t n)
{
    fprintf(stderr, "level=error component=core msg=\"out of memory\" bytes=%zu\n", n);
    abort();
}

void *dw_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        dw_oom(n);
    return p;
}

void *dw_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        dw_oom(count * size);
    return p;
}

void *dw_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        dw_oom(n);
    return q;
}

void *dw_grow(void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return p;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / size)
            dw_oom(SIZE_MAX);
        ncap *= 2;
    }
    *cap = ncap;
    return dw_realloc(p, ncap * size);
}

char *dw_strdup(const char *s)
{
    return dw_strndup(s, strlen(s));
}

char *dw_strndup(const char *s, size_t n)
{
    char *p = dw_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *dw_vasprintf(const char *fmt, va_list ap)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_vprintf(&b, fmt, ap);
    return dw_buf_steal(&b);
}

char *dw_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = dw_vasprintf(fmt, ap);
    va_end(ap);
    return s;
}

void dw_set_err(char **err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *s = dw_vasprintf(fmt, ap);
    va_end(ap);
    free(*err);
    *err = s;
}

size_t dw_strlcpy(char *dst, const char *src, size_t size)
{
    size_t len = strlen(src);
    if (size) {
        size_t n = len < size - 1 ? len : size - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return len;
}

bool dw_str_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool dw_str_has_suffix(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lf = strlen(suffix);
    return ls >= lf && memcmp(s + ls - lf, suffix, lf) == 0;
}
