/*
 * cdn.c - reading a response's cache headers for the http probe's CDN
 * checks: was it a cache hit, which header said so, how old, which edge.
 *
 * DESIGN
 * One definition of a hit for every header: the response was served from a
 * cache's store without the request going on to the origin. That is the
 * "hit" parameter of RFC 9211; a cache that revalidated with the origin
 * (Cache-Status fwd=stale with fwd-status=304, CF-Cache-Status REVALIDATED,
 * CloudFront RefreshHit, Squid TCP_REFRESH_*) is a miss, since the origin
 * was on the critical path. Stale content served without waiting for the
 * origin (CF STALE and UPDATING) is a hit.
 *
 * Headers, strongest first; a stronger header overrides a weaker one in
 * any order, and repeats of the same header are merged with "any hit wins":
 *   Cache-Status (RFC 9211): a Structured Fields list, one member per cache,
 *     the first closest to the origin and the last closest to the user. The
 *     response is a hit when any member has `hit`: if any cache in the chain
 *     served it, the origin did not. Otherwise a miss when any member has
 *     `fwd`. The edge name is the last member (the cache nearest us). A
 *     field that does not parse is ignored whole, as RFC 8941 asks.
 *   CF-Cache-Status: HIT, STALE, UPDATING are hits; MISS, EXPIRED,
 *     REVALIDATED, BYPASS, DYNAMIC are misses; NONE/UNKNOWN and anything
 *     else decide nothing.
 *   X-Cache: comma-separated words such as "HIT", "MISS", "TCP_HIT",
 *     "Hit from cloudfront", "HIT, MISS" (Fastly: shield, then edge). A word
 *     naming REFRESH is a miss, then HIT is a hit, MISS or PASS a miss;
 *     again any hit wins.
 *   Age: only in dw_cdn_finish, when nothing else decided: Age > 0 means the
 *     response sat in some cache, so a hit. Age 0 decides nothing.
 * The edge name comes from Cache-Status, else from Via: its last entry,
 * which is the hop nearest the client (each intermediary appends, so the
 * first entry is nearest the origin); the received-by part, e.g.
 * "abc.cloudfront.net" of "1.1 abc.cloudfront.net (CloudFront)". A Via after
 * a deciding Cache-Status does not replace its name.
 *
 * source stays NULL while no header decided. Lines without a colon (a status
 * line) are ignored; a trailing CR is tolerated. Pure functions, any thread.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "collect/probe_wire.h"
#include "core/core.h"

static const char SRC_AGE[] = "age";
static const char SRC_XCACHE[] = "x-cache";
static const char SRC_CF[] = "cf-cache-status";
static const char SRC_CACHE_STATUS[] = "cache-status";

/* Rank of the header that decided so far; 0 when none did. */
static int rank_of(const char *source)
{
    static const char *const order[] = {SRC_AGE, SRC_XCACHE, SRC_CF, SRC_CACHE_STATUS};
    for (size_t i = 0; source && i < DW_ARRAY_LEN(order); i++)
        if (source == order[i])
            return (int)i + 1;
    return 0;
}

/* Records what a header said: stronger headers replace, equal ones merge. */
static void decide(struct dw_cdn_info *info, const char *source, enum dw_cdn_cache said)
{
    if (said == DW_CDN_UNKNOWN)
        return;
    int have = rank_of(info->source), want = rank_of(source);
    if (want > have || (want == have && said == DW_CDN_HIT)) {
        info->cache = said;
        info->source = source;
    }
}

/* ---- small text helpers over (pointer, length) ---- */

struct span {
    const char *p;
    size_t n;
};

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static struct span trim(struct span s)
{
    while (s.n > 0 && is_ows(*s.p)) {
        s.p++;
        s.n--;
    }
    while (s.n > 0 && (is_ows(s.p[s.n - 1]) || s.p[s.n - 1] == '\r' || s.p[s.n - 1] == '\n'))
        s.n--;
    return s;
}

static bool span_is(struct span s, const char *lower)
{
    return strlen(lower) == s.n && strncasecmp(s.p, lower, s.n) == 0;
}

static void set_edge(struct dw_cdn_info *info, const char *p, size_t n)
{
    if (n >= sizeof info->edge)
        n = sizeof info->edge - 1;
    memcpy(info->edge, p, n);
    info->edge[n] = '\0';
}

/* ---- Cache-Status (RFC 9211 over RFC 8941 lists) ---- */

struct sf {
    struct span in;
    size_t pos;
};

static int sf_peek(const struct sf *s)
{
    return s->pos < s->in.n ? (unsigned char)s->in.p[s->pos] : -1;
}

static void sf_skip_ows(struct sf *s)
{
    while (s->pos < s->in.n && is_ows(s->in.p[s->pos]))
        s->pos++;
}

/* A quoted string into out (cut to cap - 1); -1 when malformed. */
static int sf_string(struct sf *s, char *out, size_t cap)
{
    size_t o = 0;
    for (s->pos++; s->pos < s->in.n; s->pos++) {
        char c = s->in.p[s->pos];
        if (c == '"') {
            s->pos++;
            if (cap > 0)
                out[o] = '\0';
            return 0;
        }
        if (c == '\\') {
            if (++s->pos >= s->in.n || (s->in.p[s->pos] != '"' && s->in.p[s->pos] != '\\'))
                return -1;
            c = s->in.p[s->pos];
        } else if ((unsigned char)c < 0x20 || (unsigned char)c > 0x7e) {
            return -1;
        }
        if (o + 1 < cap)
            out[o++] = c;
    }
    return -1;
}

static bool is_tchar(int c)
{
    return c > 0x20 && c < 0x7f && !strchr("\"(),;<=>?@[\\]{}", c);
}

/* A token, integer, decimal or boolean: the raw text into out (cut). */
static int sf_bare(struct sf *s, char *out, size_t cap)
{
    int c = sf_peek(s);
    if (c == '"')
        return sf_string(s, out, cap);
    size_t start = s->pos;
    if (c == '?') {
        s->pos++;
        c = sf_peek(s);
        if (c != '0' && c != '1')
            return -1;
        s->pos++;
    } else {
        while (sf_peek(s) >= 0 && (is_tchar(sf_peek(s)) || sf_peek(s) == ':' || sf_peek(s) == '/'))
            s->pos++;
    }
    if (s->pos == start)
        return -1;
    size_t n = s->pos - start < cap ? s->pos - start : cap - 1;
    memcpy(out, s->in.p + start, n);
    out[n] = '\0';
    return 0;
}

/* What one list member (one cache) said. */
struct cs_member {
    char name[64];
    bool hit;
    bool fwd;
};

static int sf_param(struct sf *s, struct cs_member *m)
{
    char key[32], value[64] = "?1";
    size_t start = s->pos;
    while (sf_peek(s) >= 0 && (is_tchar(sf_peek(s)) && sf_peek(s) != ':' && sf_peek(s) != '/'))
        s->pos++;
    if (s->pos == start)
        return -1;
    size_t n = s->pos - start < sizeof key ? s->pos - start : sizeof key - 1;
    memcpy(key, s->in.p + start, n);
    key[n] = '\0';
    if (sf_peek(s) == '=') {
        s->pos++;
        if (sf_bare(s, value, sizeof value) != 0)
            return -1;
    }
    if (strcasecmp(key, "hit") == 0)
        m->hit = strcmp(value, "?0") != 0;
    else if (strcasecmp(key, "fwd") == 0)
        m->fwd = true;
    return 0;
}

static int sf_member(struct sf *s, struct cs_member *m)
{
    memset(m, 0, sizeof *m);
    sf_skip_ows(s);
    if (sf_bare(s, m->name, sizeof m->name) != 0)
        return -1;
    for (;;) {
        sf_skip_ows(s);
        if (sf_peek(s) != ';')
            return 0;
        s->pos++;
        sf_skip_ows(s);
        if (sf_param(s, m) != 0)
            return -1;
    }
}

static void on_cache_status(struct dw_cdn_info *info, struct span v)
{
    struct sf s = {.in = v};
    struct cs_member m, last = {.hit = false};
    bool any_hit = false, any_fwd = false;
    if (v.n == 0)
        return;
    for (;;) {
        if (sf_member(&s, &m) != 0)
            return;
        any_hit = any_hit || m.hit;
        any_fwd = any_fwd || m.fwd;
        last = m;
        sf_skip_ows(&s);
        if (sf_peek(&s) < 0)
            break;
        if (sf_peek(&s) != ',')
            return;
        s.pos++;
    }
    set_edge(info, last.name, strlen(last.name));
    decide(info, SRC_CACHE_STATUS, any_hit ? DW_CDN_HIT : any_fwd ? DW_CDN_MISS : DW_CDN_UNKNOWN);
}

/* ---- vendor headers ---- */

static void on_cf_cache_status(struct dw_cdn_info *info, struct span v)
{
    static const char *const hits[] = {"hit", "stale", "updating"};
    static const char *const misses[] = {"miss", "expired", "revalidated", "bypass", "dynamic"};
    for (size_t i = 0; i < DW_ARRAY_LEN(hits); i++)
        if (span_is(v, hits[i]))
            decide(info, SRC_CF, DW_CDN_HIT);
    for (size_t i = 0; i < DW_ARRAY_LEN(misses); i++)
        if (span_is(v, misses[i]))
            decide(info, SRC_CF, DW_CDN_MISS);
}

static bool span_contains(struct span s, const char *upper)
{
    size_t n = strlen(upper);
    for (size_t i = 0; i + n <= s.n; i++)
        if (strncasecmp(s.p + i, upper, n) == 0)
            return true;
    return false;
}

/* The first word of one X-Cache item: "TCP_HIT" of "TCP_HIT from a1.example". */
static enum dw_cdn_cache xcache_word(struct span item)
{
    struct span w = trim(item);
    for (size_t i = 0; i < w.n; i++)
        if (is_ows(w.p[i]))
            w.n = i;
    if (span_contains(w, "REFRESH"))
        return DW_CDN_MISS;
    if (span_contains(w, "HIT"))
        return DW_CDN_HIT;
    if (span_contains(w, "MISS") || span_contains(w, "PASS"))
        return DW_CDN_MISS;
    return DW_CDN_UNKNOWN;
}

static void on_x_cache(struct dw_cdn_info *info, struct span v)
{
    enum dw_cdn_cache all = DW_CDN_UNKNOWN;
    while (v.n > 0) {
        const char *comma = memchr(v.p, ',', v.n);
        size_t n = comma ? (size_t)(comma - v.p) : v.n;
        enum dw_cdn_cache one = xcache_word((struct span){v.p, n});
        if (one == DW_CDN_HIT || (one == DW_CDN_MISS && all == DW_CDN_UNKNOWN))
            all = one;
        v.p += n;
        v.n -= n;
        if (comma) {
            v.p++;
            v.n--;
        }
    }
    decide(info, SRC_XCACHE, all);
}

/* Age: delta-seconds; a list ("5, 5") counts by its first value. */
static void on_age(struct dw_cdn_info *info, struct span v)
{
    double age = 0;
    size_t i = 0;
    for (; i < v.n && v.p[i] >= '0' && v.p[i] <= '9'; i++)
        age = age * 10 + (v.p[i] - '0');
    if (i == 0 || (i < v.n && v.p[i] != ',' && !is_ows(v.p[i])))
        return;
    info->age_seconds = age;
}

/* Via: the received-by of the last entry; commas inside comments do not split. */
static void on_via(struct dw_cdn_info *info, struct span v)
{
    size_t start = 0;
    int depth = 0;
    for (size_t i = 0; i < v.n; i++) {
        if (v.p[i] == '(')
            depth++;
        else if (v.p[i] == ')' && depth > 0)
            depth--;
        else if (v.p[i] == ',' && depth == 0)
            start = i + 1;
    }
    struct span e = trim((struct span){v.p + start, v.n - start});
    size_t proto = 0;
    while (proto < e.n && !is_ows(e.p[proto]))
        proto++;
    struct span by = trim((struct span){e.p + proto, e.n - proto});
    size_t n = 0;
    while (n < by.n && !is_ows(by.p[n]) && by.p[n] != '(')
        n++;
    if (n > 0 && info->source != SRC_CACHE_STATUS)
        set_edge(info, by.p, n);
}

/* ---- entry points ---- */

void dw_cdn_info_init(struct dw_cdn_info *info)
{
    memset(info, 0, sizeof *info);
    info->cache = DW_CDN_UNKNOWN;
    info->source = NULL;
    info->age_seconds = -1;
}

void dw_cdn_header(struct dw_cdn_info *info, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    if (!colon)
        return;
    struct span name = trim((struct span){line, (size_t)(colon - line)});
    struct span v = trim((struct span){colon + 1, len - (size_t)(colon - line) - 1});
    if (span_is(name, "cache-status"))
        on_cache_status(info, v);
    else if (span_is(name, "cf-cache-status"))
        on_cf_cache_status(info, v);
    else if (span_is(name, "x-cache"))
        on_x_cache(info, v);
    else if (span_is(name, "age"))
        on_age(info, v);
    else if (span_is(name, "via"))
        on_via(info, v);
}

void dw_cdn_finish(struct dw_cdn_info *info)
{
    if (info->cache == DW_CDN_UNKNOWN && info->age_seconds > 0)
        decide(info, SRC_AGE, DW_CDN_HIT);
}
