/*
 * router.c - matches a request's method and decoded path segments against
 * the route table.
 *
 * Patterns are literal segments or "{name}" segments that capture exactly
 * one non-empty segment. The table is short (tens of routes), so a linear
 * scan in table order is both the simplest and fast enough; the first match
 * wins, which lets a literal route shadow a pattern if listed before it.
 * HEAD is served by the GET route (libmicrohttpd drops the body).
 *
 * Threads: the table is read-only; any polling thread may call in.
 */
#include <string.h>

#include "http_internal.h"

const char *dw_http_role_name(enum dw_role role)
{
    switch (role) {
    case DW_ROLE_VIEWER: return "viewer";
    case DW_ROLE_RESPONDER: return "responder";
    case DW_ROLE_ADMIN: return "admin";
    case DW_ROLE_NONE: break;
    }
    return "none";
}

/* Matches one route's path; captures go to params only on a full match. */
static bool path_matches(const char *pattern, char *const *segs, size_t nsegs,
                         struct dw_http_kvs *params)
{
    struct dw_http_kvs got = {0};
    const char *p = pattern[0] == '/' ? pattern + 1 : pattern;
    size_t i = 0;
    if (pattern[0] == '/' && pattern[1] == '\0')
        p = NULL;
    for (; p; i++) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (i >= nsegs)
            goto mismatch;
        if (len > 2 && p[0] == '{' && p[len - 1] == '}') {
            if (segs[i][0] == '\0')
                goto mismatch;
            dw_http_kvs_take(&got, dw_strndup(p + 1, len - 2), dw_strdup(segs[i]));
        } else if (strlen(segs[i]) != len || memcmp(segs[i], p, len) != 0) {
            goto mismatch;
        }
        p = slash ? slash + 1 : NULL;
    }
    if (i != nsegs)
        goto mismatch;
    if (params) {
        for (size_t k = 0; k < got.n; k++)
            dw_http_kvs_take(params, got.items[k].name, got.items[k].value);
        free(got.items);
    } else {
        dw_http_kvs_release(&got);
    }
    return true;
mismatch:
    dw_http_kvs_release(&got);
    return false;
}

static bool method_matches(const char *route_method, const char *method)
{
    return strcmp(route_method, method) == 0 ||
           (strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0);
}

const struct dw_http_route *dw_http_route_find(const struct dw_http_route *routes, size_t n,
                                               const char *method, char *const *segments,
                                               size_t nsegments, bool test_routes,
                                               struct dw_http_kvs *params, struct dw_buf *allow)
{
    for (size_t i = 0; i < n; i++) {
        const struct dw_http_route *r = &routes[i];
        if (r->test_only && !test_routes)
            continue;
        if (method_matches(r->method, method) && path_matches(r->path, segments, nsegments, params))
            return r;
    }
    /* No route for this method: collect the methods the path does have. */
    for (size_t i = 0; allow && i < n; i++) {
        const struct dw_http_route *r = &routes[i];
        if ((r->test_only && !test_routes) || !path_matches(r->path, segments, nsegments, NULL))
            continue;
        if (allow->len && strstr(allow->data, r->method))
            continue;
        dw_buf_printf(allow, "%s%s", allow->len ? ", " : "", r->method);
    }
    return NULL;
}
