/*
 * assets.c - the browser assets built into the binary (scripts, styles, images
 * of web/) and GET /assets/{name}, which serves them.
 *
 * DESIGN
 * scripts/web-build.sh bundles web/ with esbuild at build time and
 * scripts/embed-assets.py turns the result into assets_data.c: a table of
 * const byte arrays sorted by hashed name ("console.3f2a9c1b.js", the first
 * 8 hex digits of the SHA-256 of the bytes), each with its Content-Type,
 * ETag and, when smaller, a gzip variant compressed once at build time. This
 * file only looks names up and answers. Pages never spell a hashed name: they
 * ask dw_http_asset_url("console.js"), so a changed asset gets a new URL and
 * every URL can be cached for a year as immutable. Every answer carries the
 * console's security headers (dw_http_resp_console_headers: CSP without
 * inline scripts, Referrer-Policy, no framing).
 *
 * Threads: the table is constant; every function here is safe on any thread.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_internal.h"

static int cmp_hashed(const void *key, const void *elem)
{
    const struct dw_http_asset *a = elem;
    return strcmp(key, a->hashed);
}

const struct dw_http_asset *dw_http_asset_find(const char *hashed_name)
{
    if (!hashed_name || dw_http_assets_count == 0)
        return NULL;
    return bsearch(hashed_name, dw_http_assets_table, dw_http_assets_count,
                   sizeof dw_http_assets_table[0], cmp_hashed);
}

const char *dw_http_asset_url(const char *logical)
{
    for (size_t i = 0; logical && i < dw_http_assets_count; i++)
        if (strcmp(dw_http_assets_table[i].logical, logical) == 0)
            return dw_http_assets_table[i].url;
    return NULL;
}

/* Skips spaces and tabs. */
static const char *skip_ows(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/*
 * True when the parameters of one Accept-Encoding element, from p to its
 * end (',' or NUL), say q=0 (q=0, q=0.0, q=0.000): "not acceptable".
 */
static bool q_is_zero(const char *p)
{
    while (*p && *p != ',') {
        p = skip_ows(p + (*p == ';'));
        if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            p += 2;
            if (*p++ != '0')
                return false;
            if (*p == '.')
                for (p++; *p == '0'; p++)
                    ;
            p = skip_ows(p);
            return *p == '\0' || *p == ',' || *p == ';';
        }
        while (*p && *p != ',' && *p != ';')
            p++;
    }
    return false;
}

bool dw_http_accepts_gzip(const char *accept_encoding)
{
    const char *p = accept_encoding;
    while (p && *p) {
        p = skip_ows(p);
        size_t n = strcspn(p, " \t;,");
        bool coding = (n == 4 && strncasecmp(p, "gzip", 4) == 0) ||
                      (n == 6 && strncasecmp(p, "x-gzip", 6) == 0) || (n == 1 && *p == '*');
        if (coding && !q_is_zero(p + n))
            return true;
        p = strchr(p, ',');
        if (p)
            p++;
    }
    return false;
}

/*
 * True when an If-None-Match value names etag (weak comparison: a W/ prefix
 * is ignored) or is "*".
 */
static bool etag_matches(const char *if_none_match, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = if_none_match;
    while (p && *p) {
        p = skip_ows(p);
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        size_t n = strcspn(p, " \t,");
        if (n == elen && memcmp(p, etag, n) == 0)
            return true;
        p = strchr(p, ',');
        if (p)
            p++;
    }
    return false;
}

void dw_api_asset_get(struct dw_http_request *req, struct dw_http_response *resp,
                      const struct dw_http_app *app)
{
    const struct dw_http_asset *a = dw_http_asset_find(dw_http_req_param(req, "name"));
    dw_http_resp_console_headers(resp); /* CSP and friends: the console's files */
    if (!a) {
        dw_http_resp_text(resp, 404, "no such asset (asset URLs change with every build)\n");
        return;
    }
    bool gz = a->gzip && dw_http_accepts_gzip(dw_http_req_header(req, "Accept-Encoding"));
    const char *etag = gz ? a->etag_gzip : a->etag;
    dw_http_resp_header(resp, "Cache-Control", "public, max-age=31536000, immutable");
    dw_http_resp_header(resp, "ETag", etag);
    if (a->gzip)
        dw_http_resp_header(resp, "Vary", "Accept-Encoding");
    if (etag_matches(dw_http_req_header(req, "If-None-Match"), etag)) {
        dw_http_resp_status(resp, 304);
        return;
    }
    if (gz)
        dw_http_resp_header(resp, "Content-Encoding", "gzip");
    /* The server frees response bodies, so the constant bytes are copied. */
    size_t len = gz ? a->gzip_len : a->len;
    char *body = dw_malloc(len ? len : 1);
    memcpy(body, gz ? a->gzip : a->data, len);
    dw_http_resp_body(resp, 200, a->content_type, body, len);
}
