/*
 * expo_internal.h - shared by the files of the expo module only.
 *
 * parse.c  the line state machine for both formats and the two-phase driver
 * number.c numbers, timestamps and UTF-8 (the leaf helpers of the hot path)
 * family.c the table of metric families and the per-type suffix rules
 * detect.c Content-Type detection, option defaults, type names
 */
#ifndef DW_EXPO_INTERNAL_H
#define DW_EXPO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "expo.h"

/* ---- numbers (number.c) ---- */

/**
 * A float the way Go's strconv.ParseFloat reads one (decimal, hex with a p
 * exponent, [+-]Inf/Infinity, NaN; no underscores) spanning exactly [s, e).
 * Returns 0, -1 when malformed, -2 when finite but out of float64 range.
 * numbuf is heap scratch for the strtod fallback (grown as needed).
 */
int expo_parse_float(const char *s, const char *e, double *out, char **numbuf, size_t *numcap);
/** Decimal int64 with optional sign spanning exactly [s, e). 0 or -1. */
int expo_parse_int64(const char *s, const char *e, int64_t *out);
/**
 * OpenMetrics timestamp (float seconds) to milliseconds, truncated toward
 * zero. Plain decimals convert exactly; 0, -1 malformed, -2 out of range.
 */
int expo_parse_om_timestamp(const char *s, const char *e, int64_t *out_ms, char **numbuf,
                            size_t *numcap);
/** True when [s, s+n) is well-formed UTF-8 (no overlongs, no surrogates). */
bool expo_utf8_valid(const char *s, size_t n);

/* ---- families (family.c) ---- */

enum expo_suffix {
    EXPO_SFX_NONE = 0, /* the sample name is the family name */
    EXPO_SFX_TOTAL,
    EXPO_SFX_CREATED,
    EXPO_SFX_BUCKET,
    EXPO_SFX_COUNT,
    EXPO_SFX_SUM,
    EXPO_SFX_GCOUNT,
    EXPO_SFX_GSUM,
    EXPO_SFX_INFO,
    EXPO_SFX_COUNT_OF_KINDS,
};

enum {
    EXPO_FAM_HELP = 1,
    EXPO_FAM_TYPE = 2,
    EXPO_FAM_UNIT = 4,
    EXPO_FAM_SAMPLES = 8,
};

struct expo_family {
    const char *name; /* borrowed from the input being parsed */
    uint32_t len;
    uint32_t hash;
    uint8_t type; /* enum dw_expo_type */
    uint8_t flags;
};

/* Families seen in one input: a dense array plus an open-addressing index. */
struct expo_families {
    struct expo_family *items; /* stable indexes; the array may move */
    size_t n, cap;
    uint32_t *slots; /* 0 = empty, else index + 1 */
    size_t nslots;   /* power of two, at least twice n */
};

void expo_families_init(struct expo_families *t);
void expo_families_release(struct expo_families *t);
/** Forgets every family, keeping the memory. */
void expo_families_reset(struct expo_families *t);
/** Index of the family called name, or -1. */
long expo_families_find(const struct expo_families *t, const char *name, size_t len);
/** Adds a family (the caller checked it is new) and returns its index. */
size_t expo_families_add(struct expo_families *t, const char *name, size_t len,
                         enum dw_expo_type type);

/**
 * Which suffix turns family name fam into sample name name: EXPO_SFX_NONE
 * when equal, -1 when name is not fam plus one of the known suffixes.
 */
int expo_suffix_of(const char *name, size_t len, const char *fam, size_t famlen);
/** The known suffix name ends with (none is a tail of another), or -1; *stem = length before it. */
int expo_suffix_split(const char *name, size_t len, size_t *stem);
/** True when a family of this type may have samples with that suffix. */
bool expo_suffix_allowed(enum dw_expo_type type, int sfx, bool om);
/** "_bucket", "" ... for messages. */
const char *expo_suffix_text(int sfx);
/** "_total or _created" ... the suffixes a type allows, for messages. */
const char *expo_suffixes_expected(enum dw_expo_type type, bool om);
/** Type keyword to enum; -1 when not a type of that format. */
int expo_type_parse(const char *s, size_t n, bool om);

#endif
