/*
 * tz.c - IANA time zones read straight from TZif files, and civil-time
 * arithmetic, so time intervals ("09:00-17:00 on weekdays in Europe/Berlin")
 * are evaluated without touching the process's TZ or the C library's
 * localtime state.
 *
 * DESIGN
 * A TZif file (RFC 8536) holds transition times, the local time type each
 * one switches to (UTC offset, DST flag, abbreviation), and from version 2
 * on a second copy of the data with 64-bit times plus a footer: a POSIX TZ
 * string ("CET-1CEST,M3.5.0,M10.5.0/3") that gives the rule after the last
 * transition. Version 1 files are read from their 32-bit block; version 2+
 * from the 64-bit block. Before the first transition the first time type
 * applies; after the last, the footer's rule (when there is one).
 *
 * Zones are loaded once per name and kept for the life of the process (a
 * handful at most), so a configuration may hold plain pointers to them.
 * The directory is /usr/share/zoneinfo, or $TZDIR when set. Names are
 * checked so a configuration cannot read files outside that directory.
 *
 * Civil dates are core's (proleptic Gregorian, any year).
 *
 * Threads: dw_tz_get() takes a mutex; a loaded zone is immutable.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define TZIF_MAX_BYTES (1 << 20)

struct tz_type {
    int32_t off; /* seconds east of UTC */
    bool dst;
    char abbr[16];
};

/* The POSIX TZ footer rule. */
struct tz_rule {
    bool present;
    int32_t std_off, dst_off; /* east of UTC */
    char std_abbr[16], dst_abbr[16];
    bool has_dst;
    char start_kind, end_kind; /* 'J', 'N' (0-based day) or 'M' */
    int start_m, start_w, start_d, end_m, end_w, end_d;
    int32_t start_time, end_time; /* seconds after local midnight */
};

struct dw_tz {
    char *name;
    int64_t *trans;
    uint8_t *idx;
    size_t ntrans;
    struct tz_type *types;
    size_t ntypes;
    struct tz_rule rule;
};

/* ---- civil dates ---- */

void dw_civil_of_days(int64_t days, struct dw_civil *c)
{
    int64_t y;
    dw_civil_from_days(days, &y, &c->month, &c->day);
    c->year = (int)y;
    int64_t wd = (days + 4) % 7; /* 1970-01-01 was a Thursday */
    c->weekday = (int)(wd < 0 ? wd + 7 : wd);
    c->yday = (int)(days - dw_days_from_civil(c->year, 1, 1));
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

void dw_civil_at(const struct dw_tz *z, int64_t ms, struct dw_civil *c)
{
    int64_t secs = floor_div(ms, 1000);
    if (z)
        secs += dw_tz_offset(z, secs);
    int64_t days = floor_div(secs, 86400), rem = secs - days * 86400;
    dw_civil_of_days(days, c);
    c->hour = (int)(rem / 3600);
    c->minute = (int)(rem / 60 % 60);
    c->second = (int)(rem % 60);
}

/* ---- the POSIX TZ footer ---- */

static const char *parse_abbr(const char *p, char *out, size_t size)
{
    size_t n = 0;
    if (*p == '<') {
        for (p++; *p && *p != '>'; p++)
            if (n + 1 < size)
                out[n++] = *p;
        if (*p != '>')
            return NULL;
        p++;
    } else {
        for (; (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'); p++)
            if (n + 1 < size)
                out[n++] = *p;
    }
    out[n] = '\0';
    return n >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] into seconds (sign as written). */
static const char *parse_hms(const char *p, int32_t *out)
{
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    int32_t parts[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if (i && *p != ':')
            break;
        if (i)
            p++;
        if (*p < '0' || *p > '9')
            return NULL;
        int v = 0;
        while (*p >= '0' && *p <= '9')
            v = v * 10 + (*p++ - '0');
        if (v > 167)
            return NULL;
        parts[i] = v;
    }
    *out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
    return p;
}

static int read_num(const char **p)
{
    int v = 0;
    if (**p < '0' || **p > '9')
        return -1;
    while (**p >= '0' && **p <= '9')
        v = v * 10 + (*(*p)++ - '0');
    return v;
}

/* One ",date[/time]" of the rule. */
static const char *parse_date(const char *p, char *kind, int *m, int *w, int *d, int32_t *time)
{
    if (*p != ',')
        return NULL;
    p++;
    if (*p == 'M') {
        p++;
        *kind = 'M';
        *m = read_num(&p);
        if (*p++ != '.')
            return NULL;
        *w = read_num(&p);
        if (*p++ != '.')
            return NULL;
        *d = read_num(&p);
        if (*m < 1 || *m > 12 || *w < 1 || *w > 5 || *d < 0 || *d > 6)
            return NULL;
    } else {
        *kind = *p == 'J' ? 'J' : 'N';
        if (*p == 'J')
            p++;
        *d = read_num(&p);
        if (*d < 0 || *d > 365 || (*kind == 'J' && *d == 0))
            return NULL;
    }
    *time = 7200;
    if (*p == '/')
        p = parse_hms(p + 1, time);
    return p;
}

static int parse_rule(const char *s, struct tz_rule *r)
{
    memset(r, 0, sizeof *r);
    int32_t v;
    const char *p = parse_abbr(s, r->std_abbr, sizeof r->std_abbr);
    if (!p || !(p = parse_hms(p, &v)))
        return -1;
    r->std_off = -v;
    r->present = true;
    if (!*p)
        return 0;
    if (!(p = parse_abbr(p, r->dst_abbr, sizeof r->dst_abbr)))
        return -1;
    r->has_dst = true;
    r->dst_off = r->std_off + 3600;
    if (*p && *p != ',') {
        if (!(p = parse_hms(p, &v)))
            return -1;
        r->dst_off = -v;
    }
    if (!*p) { /* no rule: POSIX default M3.2.0,M11.1.0 */
        *r = (struct tz_rule){.present = true,
                              .std_off = r->std_off,
                              .dst_off = r->dst_off,
                              .has_dst = true,
                              .start_kind = 'M',
                              .start_m = 3,
                              .start_w = 2,
                              .end_kind = 'M',
                              .end_m = 11,
                              .end_w = 1,
                              .start_time = 7200,
                              .end_time = 7200};
        return 0;
    }
    p = parse_date(p, &r->start_kind, &r->start_m, &r->start_w, &r->start_d, &r->start_time);
    if (!p)
        return -1;
    p = parse_date(p, &r->end_kind, &r->end_m, &r->end_w, &r->end_d, &r->end_time);
    return p && !*p ? 0 : -1;
}

/* Day number (since the epoch) a rule date falls on in year y. */
static int64_t rule_day(int64_t y, char kind, int m, int w, int d)
{
    if (kind == 'J')
        return dw_days_from_civil(y, 1, 1) + d - 1 + (dw_is_leap_year(y) && d >= 60);
    if (kind == 'N')
        return dw_days_from_civil(y, 1, 1) + d;
    int64_t first = dw_days_from_civil(y, m, 1);
    struct dw_civil c;
    dw_civil_of_days(first, &c);
    int day = 1 + (d - c.weekday + 7) % 7 + (w - 1) * 7;
    if (day > dw_days_in_month(y, m))
        day -= 7;
    return first + day - 1;
}

static bool rule_is_dst(const struct tz_rule *r, int64_t t)
{
    struct dw_civil c;
    dw_civil_of_days(floor_div(t + r->std_off, 86400), &c);
    int64_t start = rule_day(c.year, r->start_kind, r->start_m, r->start_w, r->start_d) * 86400 +
                    r->start_time - r->std_off;
    int64_t end = rule_day(c.year, r->end_kind, r->end_m, r->end_w, r->end_d) * 86400 +
                  r->end_time - r->dst_off;
    if (start < end)
        return t >= start && t < end;
    return !(t >= end && t < start); /* southern hemisphere: DST spans the new year */
}

/* ---- TZif ---- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_header {
    char version;
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static int read_header(const uint8_t *p, size_t len, struct tzif_header *h)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return -1;
    h->version = (char)p[4];
    h->isutcnt = be32(p + 20);
    h->isstdcnt = be32(p + 24);
    h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32);
    h->typecnt = be32(p + 36);
    h->charcnt = be32(p + 40);
    if (h->typecnt == 0 || h->typecnt > 256 || h->charcnt == 0 || h->timecnt > 100000 ||
        h->leapcnt > 10000 || h->charcnt > 65536 || (h->isutcnt && h->isutcnt != h->typecnt) ||
        (h->isstdcnt && h->isstdcnt != h->typecnt))
        return -1;
    return 0;
}

static size_t block_size(const struct tzif_header *h, int tsize)
{
    return h->timecnt * (size_t)tsize + h->timecnt + h->typecnt * 6 + h->charcnt +
           h->leapcnt * (size_t)(tsize + 4) + h->isstdcnt + h->isutcnt;
}

/* Reads the data block at p (header h, times of tsize bytes) into z. */
static int read_block(const uint8_t *p, const struct tzif_header *h, int tsize, struct dw_tz *z)
{
    z->ntrans = h->timecnt;
    z->trans = dw_calloc(z->ntrans ? z->ntrans : 1, sizeof *z->trans);
    z->idx = dw_calloc(z->ntrans ? z->ntrans : 1, 1);
    for (size_t i = 0; i < z->ntrans; i++) {
        z->trans[i] = tsize == 8 ? be64(p + i * 8) : (int32_t)be32(p + i * 4);
        if (i && z->trans[i] <= z->trans[i - 1])
            return -1;
    }
    p += z->ntrans * (size_t)tsize;
    memcpy(z->idx, p, z->ntrans);
    p += z->ntrans;
    z->ntypes = h->typecnt;
    z->types = dw_calloc(z->ntypes, sizeof *z->types);
    const char *chars = (const char *)p + h->typecnt * 6;
    for (size_t i = 0; i < z->ntypes; i++) {
        const uint8_t *t = p + i * 6;
        z->types[i].off = (int32_t)be32(t);
        z->types[i].dst = t[4] != 0;
        if (t[5] >= h->charcnt)
            return -1;
        snprintf(z->types[i].abbr, sizeof z->types[i].abbr, "%.*s",
                 (int)strnlen(chars + t[5], h->charcnt - t[5]), chars + t[5]);
    }
    for (size_t i = 0; i < z->ntrans; i++)
        if (z->idx[i] >= z->ntypes)
            return -1;
    return 0;
}

static int parse_tzif(const uint8_t *buf, size_t len, struct dw_tz *z)
{
    struct tzif_header h;
    if (read_header(buf, len, &h) < 0)
        return -1;
    size_t v1 = block_size(&h, 4);
    if (44 + v1 > len)
        return -1;
    if (h.version < '2')
        return read_block(buf + 44, &h, 4, z);
    const uint8_t *p2 = buf + 44 + v1;
    struct tzif_header h2;
    if (read_header(p2, len - 44 - v1, &h2) < 0)
        return -1;
    size_t v2 = block_size(&h2, 8);
    if (44 + v1 + 44 + v2 > len || read_block(p2 + 44, &h2, 8, z) < 0)
        return -1;
    const char *foot = (const char *)p2 + 44 + v2, *end = (const char *)buf + len;
    if (foot < end && *foot == '\n') {
        const char *nl = memchr(foot + 1, '\n', (size_t)(end - foot - 1));
        if (nl && nl > foot + 1) {
            char *s = dw_strndup(foot + 1, (size_t)(nl - foot - 1));
            int rc = parse_rule(s, &z->rule);
            free(s);
            if (rc < 0)
                return -1;
        }
    }
    return 0;
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uint8_t *buf = dw_malloc(TZIF_MAX_BYTES);
    size_t n = fread(buf, 1, TZIF_MAX_BYTES, f);
    bool too_big = n == TZIF_MAX_BYTES;
    fclose(f);
    if (too_big) {
        free(buf);
        errno = EFBIG;
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

void dw_tz_free(struct dw_tz **pz)
{
    struct dw_tz *z = pz ? *pz : NULL;
    if (!z)
        return;
    free(z->name);
    free(z->trans);
    free(z->idx);
    free(z->types);
    free(z);
    *pz = NULL;
}

struct dw_tz *dw_tz_load_file(const char *path, const char *name, char **err)
{
    uint8_t *buf;
    size_t len;
    if (read_file(path, &buf, &len) < 0) {
        *err = dw_asprintf("unknown time zone \"%s\" (%s: %s)", name, path, strerror(errno));
        return NULL;
    }
    struct dw_tz *z = dw_calloc(1, sizeof *z);
    z->name = dw_strdup(name);
    if (parse_tzif(buf, len, z) < 0) {
        *err = dw_asprintf("time zone \"%s\": %s is not a valid TZif file", name, path);
        dw_tz_free(&z);
    }
    free(buf);
    return z;
}

const char *dw_tz_name(const struct dw_tz *z)
{
    return z->name;
}

/* Index of the type in effect at t, or -1 when the footer rule applies. */
static int type_at(const struct dw_tz *z, int64_t t)
{
    if (z->ntrans == 0)
        return z->rule.present ? -1 : 0;
    if (t < z->trans[0])
        return 0; /* RFC 8536: the first time type */
    if (t >= z->trans[z->ntrans - 1] && z->rule.present)
        return -1;
    size_t lo = 0, hi = z->ntrans; /* last transition <= t */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (z->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return z->idx[lo];
}

int32_t dw_tz_offset(const struct dw_tz *z, int64_t unix_s)
{
    int i = type_at(z, unix_s);
    if (i >= 0)
        return z->types[i].off;
    return z->rule.has_dst && rule_is_dst(&z->rule, unix_s) ? z->rule.dst_off : z->rule.std_off;
}

const char *dw_tz_abbrev(const struct dw_tz *z, int64_t unix_s)
{
    int i = type_at(z, unix_s);
    if (i >= 0)
        return z->types[i].abbr;
    return z->rule.has_dst && rule_is_dst(&z->rule, unix_s) ? z->rule.dst_abbr : z->rule.std_abbr;
}

/* ---- the process-wide cache ---- */

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dw_tz **cache;
static size_t ncache;

static bool name_safe(const char *name)
{
    if (!*name || name[0] == '/' || strlen(name) > 255)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              strchr("/_-+", *p)))
            return false;
    return strstr(name, "..") == NULL;
}

static struct dw_tz *utc_zone(void)
{
    struct dw_tz *z = dw_calloc(1, sizeof *z);
    z->name = dw_strdup("UTC");
    z->ntypes = 1;
    z->types = dw_calloc(1, sizeof *z->types);
    dw_strlcpy(z->types[0].abbr, "UTC", sizeof z->types[0].abbr);
    return z;
}

static struct dw_tz *load_named(const char *name, char **err)
{
    if (strcmp(name, "Local") == 0)
        return dw_tz_load_file("/etc/localtime", name, err);
    if (!name_safe(name)) {
        *err = dw_asprintf("invalid time zone name \"%s\" (an IANA name like Europe/Berlin)", name);
        return NULL;
    }
    const char *dir = getenv("TZDIR");
    char *path = dw_asprintf("%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
    struct dw_tz *z = dw_tz_load_file(path, name, err);
    free(path);
    if (!z && strcmp(name, "UTC") == 0) { /* no tzdata installed: UTC needs no file */
        free(*err);
        *err = NULL;
        z = utc_zone();
    }
    return z;
}

const struct dw_tz *dw_tz_get(const char *name, char **err)
{
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < ncache; i++)
        if (strcmp(cache[i]->name, name) == 0) {
            pthread_mutex_unlock(&cache_lock);
            return cache[i];
        }
    struct dw_tz *z = load_named(name, err);
    if (z) {
        cache = dw_realloc(cache, (ncache + 1) * sizeof *cache);
        cache[ncache++] = z;
    }
    pthread_mutex_unlock(&cache_lock);
    return z;
}
