/*
 * labels.c - owned label sets, Alertmanager fingerprints, validation, JSON
 * and the time format of the Alertmanager API.
 *
 * DESIGN
 * An alert's identity is the fingerprint of its label set, computed exactly
 * like Prometheus' model.LabelSet.Fingerprint() (FNV-1a 64 over the pairs
 * sorted by name, each name and value followed by a 0xff byte), so the
 * fingerprints dojowatch shows are those Alertmanager would show for the
 * same labels. Sets are kept sorted so equality, formatting and hashing
 * need no extra work.
 */
#include <stdlib.h>
#include <string.h>

#include "alert/alert_internal.h"

#define FNV_OFFSET 14695981039346656037ULL
#define FNV_PRIME 1099511628211ULL

void lset_release(struct lset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free((char *)s->l[i].name);
        free((char *)s->l[i].value);
    }
    free(s->l);
    s->l = NULL;
    s->n = 0;
}

static int pair_cmp(const void *a, const void *b)
{
    const struct dw_label *x = a, *y = b;
    return strcmp(x->name, y->name);
}

void lset_from(struct lset *dst, const struct dw_label *l, size_t n)
{
    dst->l = dw_calloc(n ? n : 1, sizeof *dst->l);
    dst->n = 0;
    for (size_t i = 0; i < n; i++) {
        if (!l[i].name || !l[i].value || !l[i].value[0])
            continue;
        lset_set(dst, l[i].name, l[i].value);
    }
}

void lset_copy(struct lset *dst, const struct lset *src)
{
    dst->l = dw_calloc(src->n ? src->n : 1, sizeof *dst->l);
    dst->n = src->n;
    for (size_t i = 0; i < src->n; i++) {
        dst->l[i].name = dw_strdup(src->l[i].name);
        dst->l[i].value = dw_strdup(src->l[i].value);
    }
}

const char *lset_get(const struct lset *s, const char *name)
{
    struct dw_label key = {.name = name};
    const struct dw_label *hit = s->n ? bsearch(&key, s->l, s->n, sizeof *s->l, pair_cmp) : NULL;
    return hit ? hit->value : NULL;
}

void lset_set(struct lset *s, const char *name, const char *value)
{
    size_t i = 0;
    while (i < s->n && strcmp(s->l[i].name, name) < 0)
        i++;
    if (i < s->n && strcmp(s->l[i].name, name) == 0) {
        free((char *)s->l[i].value);
        s->l[i].value = dw_strdup(value);
        return;
    }
    s->l = dw_realloc(s->l, (s->n + 1) * sizeof *s->l);
    memmove(&s->l[i + 1], &s->l[i], (s->n - i) * sizeof *s->l);
    s->l[i].name = dw_strdup(name);
    s->l[i].value = dw_strdup(value);
    s->n++;
}

bool lset_equal(const struct lset *a, const struct lset *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->l[i].name, b->l[i].name) || strcmp(a->l[i].value, b->l[i].value))
            return false;
    return true;
}

/* Go's %q for the values Alertmanager prints (ASCII escapes; UTF-8 kept). */
void quote_value(struct dw_buf *out, const char *v)
{
    dw_buf_putc(out, '"');
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        switch (*p) {
        case '"': dw_buf_puts(out, "\\\""); break;
        case '\\': dw_buf_puts(out, "\\\\"); break;
        case '\n': dw_buf_puts(out, "\\n"); break;
        case '\t': dw_buf_puts(out, "\\t"); break;
        case '\r': dw_buf_puts(out, "\\r"); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                dw_buf_printf(out, "\\x%02x", *p);
            else
                dw_buf_putc(out, (char)*p);
        }
    }
    dw_buf_putc(out, '"');
}

void lset_format(const struct lset *s, struct dw_buf *out)
{
    dw_buf_putc(out, '{');
    for (size_t i = 0; i < s->n; i++) {
        if (i)
            dw_buf_puts(out, ", ");
        dw_buf_puts(out, s->l[i].name);
        dw_buf_putc(out, '=');
        quote_value(out, s->l[i].value);
    }
    dw_buf_putc(out, '}');
}

json_t *lset_json(const struct lset *s)
{
    json_t *o = json_object();
    for (size_t i = 0; i < s->n; i++)
        json_object_set_new(o, s->l[i].name, json_string(s->l[i].value));
    return o;
}

int lset_from_json(struct lset *dst, json_t *obj, const char *what, char **err)
{
    dst->l = NULL;
    dst->n = 0;
    if (obj && !json_is_object(obj)) {
        *err = dw_asprintf("%s: expected an object of strings", what);
        return -1;
    }
    size_t n = obj ? json_object_size(obj) : 0;
    struct dw_label *tmp = dw_calloc(n ? n : 1, sizeof *tmp);
    size_t k = 0;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (!json_is_string(v)) {
            *err = dw_asprintf("%s.%s: expected a string", what, key);
            free(tmp);
            return -1;
        }
        tmp[k++] = (struct dw_label){key, json_string_value(v)};
    }
    lset_from(dst, tmp, k);
    free(tmp);
    return 0;
}

bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 0 : (*p >> 5) == 6 ? 1 : (*p >> 4) == 14 ? 2 : (*p >> 3) == 30 ? 3 : -1;
        if (n < 0 || (n == 1 && *p < 0xc2))
            return false;
        uint32_t cp = n == 0 ? *p : *p & (0x3f >> n);
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        p += n + 1;
    }
    return true;
}

char *lset_validate(const struct lset *s, const char *what)
{
    for (size_t i = 0; i < s->n; i++) {
        if (!dw_tsdb_label_name_valid(s->l[i].name))
            return dw_asprintf("invalid %s: invalid name \"%s\"", what, s->l[i].name);
        if (!utf8_valid(s->l[i].value))
            return dw_asprintf("invalid %s: invalid value for \"%s\" (not UTF-8)", what,
                               s->l[i].name);
    }
    return NULL;
}

static uint64_t fnv_add(uint64_t h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= FNV_PRIME;
    }
    return h;
}

static uint64_t fnv_byte(uint64_t h, unsigned char b)
{
    h ^= b;
    return h * FNV_PRIME;
}

uint64_t lset_fingerprint(const struct lset *s)
{
    uint64_t h = FNV_OFFSET;
    for (size_t i = 0; i < s->n; i++) {
        h = fnv_byte(fnv_add(h, s->l[i].name), 0xff);
        h = fnv_byte(fnv_add(h, s->l[i].value), 0xff);
    }
    return h;
}

uint64_t dw_alert_fingerprint(const struct dw_label *labels, size_t n)
{
    struct lset s;
    lset_from(&s, labels, n);
    uint64_t fp = lset_fingerprint(&s);
    lset_release(&s);
    return fp;
}

uint64_t str_hash(const char *s)
{
    return fnv_add(FNV_OFFSET, s);
}

void fp_hex(uint64_t fp, char out[17])
{
    snprintf(out, 17, "%016llx", (unsigned long long)fp);
}

int fp_parse(const char *s, uint64_t *fp)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 16)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        int d = dw_hex_digit(s[i]);
        if (d < 0)
            return -1;
        v = v << 4 | (uint64_t)d;
    }
    *fp = v;
    return 0;
}

/* ---- times as the Alertmanager API writes and reads them ---- */

#define GO_ZERO_TIME "0001-01-01T00:00:00Z"
/* Anything before 1000-01-01 is taken as Go's zero time (unset). */
#define EARLIEST_MS (-30610224000000LL)

void fmt_time(int64_t ms, char out[40])
{
    if (ms == 0) {
        dw_strlcpy(out, GO_ZERO_TIME, 40);
        return;
    }
    int64_t secs = ms / 1000, frac = ms % 1000;
    if (frac < 0) {
        frac += 1000;
        secs--;
    }
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    struct dw_civil c;
    dw_civil_of_days(days, &c);
    snprintf(out, 40, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", c.year, c.month, c.day,
             (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), (int)frac);
}

json_t *time_json(int64_t ms)
{
    char buf[40];
    fmt_time(ms, buf);
    return json_string(buf);
}

int parse_time(const char *s, int64_t *ms)
{
    if (!s || !*s) {
        *ms = 0;
        return 0;
    }
    if (dw_parse_rfc3339(s, ms) < 0)
        return -1;
    if (*ms < EARLIEST_MS)
        *ms = 0;
    return 0;
}

const char *dw_alert_default_priority(const char *severity)
{
    static const char *const table[][2] = {{"critical", "P0"}, {"warning", "P1"}, {"info", "P2"}};
    for (size_t i = 0; severity && i < DW_ARRAY_LEN(table); i++)
        if (strcmp(severity, table[i][0]) == 0)
            return table[i][1];
    return NULL;
}
