/*
 * family.c - metric families of one input and the per-type suffix rules.
 *
 * DESIGN
 * The parser needs to remember every family it has seen in an input: text
 * allows one TYPE per name and only before that name's samples, OpenMetrics
 * forbids a family from coming back once another has started. Names are
 * borrowed from the input (it outlives the parse), so an entry is 24 bytes
 * plus two 4-byte index slots (load at most 1/2); the memory is kept across inputs and reset, never
 * freed, between them. It grows with the number of distinct names, which the sample limit and the
 * input size bound. Samples of the current family never reach this table (see parse.c), so lookups
 * happen once per family, not per sample. Single-threaded: each parser owns its table.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "expo_internal.h"

static const struct {
    const char *text;
    size_t len;
} suffixes[EXPO_SFX_COUNT_OF_KINDS] = {
    [EXPO_SFX_NONE] = {"", 0},
    [EXPO_SFX_TOTAL] = {"_total", 6},
    [EXPO_SFX_CREATED] = {"_created", 8},
    [EXPO_SFX_BUCKET] = {"_bucket", 7},
    [EXPO_SFX_COUNT] = {"_count", 6},
    [EXPO_SFX_SUM] = {"_sum", 4},
    [EXPO_SFX_GCOUNT] = {"_gcount", 7},
    [EXPO_SFX_GSUM] = {"_gsum", 5},
    [EXPO_SFX_INFO] = {"_info", 5},
};

#define BIT(s) (1u << (s))

/* Allowed suffixes per type; text 0.0.4 has no _created, _total is part of a counter's name. */
static unsigned allowed_mask(enum dw_expo_type type, bool om)
{
    switch (type) {
    case DW_EXPO_COUNTER:
        return om ? BIT(EXPO_SFX_TOTAL) | BIT(EXPO_SFX_CREATED) : BIT(EXPO_SFX_NONE);
    case DW_EXPO_HISTOGRAM:
        return BIT(EXPO_SFX_BUCKET) | BIT(EXPO_SFX_COUNT) | BIT(EXPO_SFX_SUM) |
               (om ? BIT(EXPO_SFX_CREATED) : 0);
    case DW_EXPO_SUMMARY:
        return BIT(EXPO_SFX_NONE) | BIT(EXPO_SFX_COUNT) | BIT(EXPO_SFX_SUM) |
               (om ? BIT(EXPO_SFX_CREATED) : 0);
    case DW_EXPO_GAUGEHISTOGRAM:
        return BIT(EXPO_SFX_BUCKET) | BIT(EXPO_SFX_GCOUNT) | BIT(EXPO_SFX_GSUM);
    case DW_EXPO_INFO:
        return BIT(EXPO_SFX_INFO);
    case DW_EXPO_UNTYPED:
    case DW_EXPO_GAUGE:
    case DW_EXPO_STATESET:
        break;
    }
    return BIT(EXPO_SFX_NONE);
}

bool expo_suffix_allowed(enum dw_expo_type type, int sfx, bool om)
{
    return sfx >= 0 && (allowed_mask(type, om) & BIT(sfx)) != 0;
}

const char *expo_suffix_text(int sfx)
{
    return sfx >= 0 && sfx < EXPO_SFX_COUNT_OF_KINDS ? suffixes[sfx].text : "?";
}

const char *expo_suffixes_expected(enum dw_expo_type type, bool om)
{
    switch (type) {
    case DW_EXPO_COUNTER:
        return om ? "_total or _created" : "none";
    case DW_EXPO_HISTOGRAM:
        return om ? "_bucket, _count, _sum or _created" : "_bucket, _count or _sum";
    case DW_EXPO_SUMMARY:
        return om ? "none, _count, _sum or _created" : "none, _count or _sum";
    case DW_EXPO_GAUGEHISTOGRAM:
        return "_bucket, _gcount or _gsum";
    case DW_EXPO_INFO:
        return "_info";
    case DW_EXPO_UNTYPED:
    case DW_EXPO_GAUGE:
    case DW_EXPO_STATESET:
        break;
    }
    return "none";
}

int expo_suffix_of(const char *name, size_t len, const char *fam, size_t famlen)
{
    if (len < famlen || memcmp(name, fam, famlen) != 0)
        return -1;
    size_t rest = len - famlen;
    if (rest == 0)
        return EXPO_SFX_NONE;
    for (int s = EXPO_SFX_NONE + 1; s < EXPO_SFX_COUNT_OF_KINDS; s++)
        if (suffixes[s].len == rest && memcmp(name + famlen, suffixes[s].text, rest) == 0)
            return s;
    return -1;
}

int expo_suffix_split(const char *name, size_t len, size_t *stem)
{
    for (int s = EXPO_SFX_NONE + 1; s < EXPO_SFX_COUNT_OF_KINDS; s++) {
        size_t n = suffixes[s].len;
        if (len > n && memcmp(name + len - n, suffixes[s].text, n) == 0) {
            *stem = len - n;
            return s;
        }
    }
    return -1;
}

int expo_type_parse(const char *s, size_t n, bool om)
{
    static const struct {
        const char *word;
        enum dw_expo_type type;
        bool text, om;
    } types[] = {
        {"counter", DW_EXPO_COUNTER, true, true},
        {"gauge", DW_EXPO_GAUGE, true, true},
        {"histogram", DW_EXPO_HISTOGRAM, true, true},
        {"summary", DW_EXPO_SUMMARY, true, true},
        {"untyped", DW_EXPO_UNTYPED, true, false},
        {"unknown", DW_EXPO_UNTYPED, false, true},
        {"gaugehistogram", DW_EXPO_GAUGEHISTOGRAM, false, true},
        {"stateset", DW_EXPO_STATESET, false, true},
        {"info", DW_EXPO_INFO, false, true},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(types); i++)
        if (strlen(types[i].word) == n && memcmp(types[i].word, s, n) == 0 &&
            (om ? types[i].om : types[i].text))
            return (int)types[i].type;
    return -1;
}

/* ---- the table ---- */

static uint32_t name_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

void expo_families_init(struct expo_families *t)
{
    memset(t, 0, sizeof *t);
}

void expo_families_release(struct expo_families *t)
{
    free(t->items);
    free(t->slots);
    expo_families_init(t);
}

void expo_families_reset(struct expo_families *t)
{
    t->n = 0;
    if (t->slots)
        memset(t->slots, 0, t->nslots * sizeof *t->slots);
}

long expo_families_find(const struct expo_families *t, const char *name, size_t len)
{
    if (!t->nslots)
        return -1;
    uint32_t h = name_hash(name, len);
    size_t mask = t->nslots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t slot = t->slots[i];
        if (!slot)
            return -1;
        const struct expo_family *f = &t->items[slot - 1];
        if (f->hash == h && f->len == len && memcmp(f->name, name, len) == 0)
            return (long)(slot - 1);
    }
}

static void place(struct expo_families *t, size_t idx)
{
    size_t mask = t->nslots - 1;
    size_t i = t->items[idx].hash & mask;
    while (t->slots[i])
        i = (i + 1) & mask;
    t->slots[i] = (uint32_t)(idx + 1);
}

static void rehash(struct expo_families *t, size_t nslots)
{
    free(t->slots);
    t->slots = dw_calloc(nslots, sizeof *t->slots);
    t->nslots = nslots;
    for (size_t i = 0; i < t->n; i++)
        place(t, i);
}

size_t expo_families_add(struct expo_families *t, const char *name, size_t len,
                         enum dw_expo_type type)
{
    if ((t->n + 1) * 2 > t->nslots)
        rehash(t, t->nslots ? t->nslots * 2 : 64);
    t->items = dw_grow(t->items, &t->cap, t->n + 1, sizeof *t->items);
    size_t idx = t->n++;
    t->items[idx] = (struct expo_family){
        .name = name,
        .len = (uint32_t)len,
        .hash = name_hash(name, len),
        .type = (uint8_t)type,
    };
    place(t, idx);
    return idx;
}
