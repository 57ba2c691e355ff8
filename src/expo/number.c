/*
 * number.c - numbers, timestamps and UTF-8 for the exposition parser.
 *
 * DESIGN
 * Sample values are on the ingest hot path, so plain decimals ("15",
 * "0.25", "1.5e-3") are converted without strtod: a mantissa of at most
 * 2^53 scaled by an exact power of ten up to 1e22 is one correctly rounded
 * IEEE operation (Clinger's fast path), so the result equals strtod's.
 * Everything else (17-digit mantissas, hex floats, Inf, NaN) is checked
 * against Go's strconv.ParseFloat grammar here, then handed to strtod on a
 * NUL-terminated copy. The spans come from the caller's buffer, which is not
 * NUL-terminated. Pure functions: no state, any thread.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "expo_internal.h"

static const double pow10_exact[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

#define MANTISSA_EXACT (UINT64_C(1) << 53)

static inline bool is_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

static bool is_hex_digit(char c)
{
    return is_digit(c) || (unsigned char)((c | 0x20) - 'a') < 6;
}

/* Case-insensitive match of [s, e) against a lower-case word. */
static bool word_is(const char *s, const char *e, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(e - s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((s[i] | 0x20) != word[i])
            return false;
    return true;
}

/* Skips 1+ digits of the given kind; returns how many. */
static size_t skip_digits(const char **c, const char *e, bool hex)
{
    const char *start = *c;
    while (*c < e && (hex ? is_hex_digit(**c) : is_digit(**c)))
        (*c)++;
    return (size_t)(*c - start);
}

/* Go's grammar for a finite decimal or hex float (after the sign). */
static bool finite_syntax_ok(const char *c, const char *e)
{
    bool hex = e - c > 2 && c[0] == '0' && (c[1] | 0x20) == 'x';
    if (hex)
        c += 2;
    size_t mant = skip_digits(&c, e, hex);
    if (c < e && *c == '.') {
        c++;
        mant += skip_digits(&c, e, hex);
    }
    if (mant == 0)
        return false;
    char expo = hex ? 'p' : 'e';
    if (c == e)
        return !hex; /* Go insists on the p exponent of a hex mantissa */
    if ((*c | 0x20) != expo)
        return false;
    c++;
    if (c < e && (*c == '+' || *c == '-'))
        c++;
    return skip_digits(&c, e, false) > 0 && c == e;
}

static int parse_float_slow(const char *s, const char *e, double *out, char **numbuf,
                            size_t *numcap)
{
    const char *c = s;
    bool neg = false;
    if (c < e && (*c == '+' || *c == '-')) {
        neg = *c == '-';
        c++;
    }
    if (word_is(c, e, "inf") || word_is(c, e, "infinity")) {
        *out = neg ? -INFINITY : INFINITY;
        return 0;
    }
    if (c == s && word_is(c, e, "nan")) {
        *out = NAN;
        return 0;
    }
    if (!finite_syntax_ok(c, e))
        return -1;
    size_t n = (size_t)(e - s);
    if (*numcap < n + 1)
        *numbuf = dw_grow(*numbuf, numcap, n + 1, 1);
    memcpy(*numbuf, s, n);
    (*numbuf)[n] = '\0';
    char *end;
    errno = 0;
    double v = strtod(*numbuf, &end);
    if (end != *numbuf + n)
        return -1;
    /* Like Go: overflow is an error, underflow to zero or a denormal is not. */
    if (isinf(v))
        return -2;
    *out = v;
    return 0;
}

int expo_parse_float(const char *s, const char *e, double *out, char **numbuf, size_t *numcap)
{
    const char *c = s;
    bool neg = false;
    if (c < e && (*c == '+' || *c == '-')) {
        neg = *c == '-';
        c++;
    }
    uint64_t m = 0;
    int exp10 = 0;
    size_t ndigits = 0;
    for (; c < e && is_digit(*c); c++, ndigits++) {
        if (m >= MANTISSA_EXACT)
            goto slow;
        m = m * 10 + (uint64_t)(*c - '0');
    }
    if (c < e && *c == '.') {
        for (c++; c < e && is_digit(*c); c++, ndigits++, exp10--) {
            if (m >= MANTISSA_EXACT)
                goto slow;
            m = m * 10 + (uint64_t)(*c - '0');
        }
    }
    if (ndigits == 0)
        goto slow; /* Inf, NaN, hex, or junk */
    if (c < e && (*c | 0x20) == 'e') {
        c++;
        bool eneg = false;
        if (c < e && (*c == '+' || *c == '-')) {
            eneg = *c == '-';
            c++;
        }
        int x = 0;
        const char *d = c;
        for (; c < e && is_digit(*c); c++)
            if (x < 10000)
                x = x * 10 + (*c - '0');
        if (c == d)
            return -1;
        exp10 += eneg ? -x : x;
    }
    if (c != e || m > MANTISSA_EXACT)
        goto slow;
    if (m == 0) {
        *out = neg ? -0.0 : 0.0;
        return 0;
    }
    if (exp10 < -22 || exp10 > 22)
        goto slow;
    double v = (double)m;
    v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
    *out = neg ? -v : v;
    return 0;
slow:
    return parse_float_slow(s, e, out, numbuf, numcap);
}

int expo_parse_int64(const char *s, const char *e, int64_t *out)
{
    const char *c = s;
    bool neg = false;
    if (c < e && (*c == '+' || *c == '-')) {
        neg = *c == '-';
        c++;
    }
    if (c == e)
        return -1;
    if (e - c <= 18) { /* cannot overflow: the common case, millisecond timestamps */
        uint64_t u = 0;
        for (; c < e; c++) {
            if (!is_digit(*c))
                return -1;
            u = u * 10 + (uint64_t)(*c - '0');
        }
        *out = neg ? -(int64_t)u : (int64_t)u;
        return 0;
    }
    /* Accumulate as a negative number: its range is one larger. */
    int64_t v = 0;
    for (; c < e; c++) {
        if (!is_digit(*c))
            return -1;
        int d = *c - '0';
        if (v < (INT64_MIN + d) / 10)
            return -1;
        v = v * 10 - d;
    }
    if (!neg) {
        if (v == INT64_MIN)
            return -1;
        v = -v;
    }
    *out = v;
    return 0;
}

/* [sign] digits [. digits] exactly: whole ms plus truncated fraction. */
static int om_timestamp_exact(const char *s, const char *e, int64_t *out_ms)
{
    const char *c = s;
    bool neg = false;
    if (c < e && (*c == '+' || *c == '-')) {
        neg = *c == '-';
        c++;
    }
    const char *d = c;
    int64_t secs = 0;
    for (; c < e && is_digit(*c); c++) {
        /* Keeps secs * 1000 + 999 within int64. */
        if (secs > (INT64_MAX / 1000 - 10) / 10)
            return -2;
        secs = secs * 10 + (*c - '0');
    }
    size_t nint = (size_t)(c - d);
    int64_t frac = 0;
    int nfrac = 0;
    if (c < e && *c == '.') {
        for (c++; c < e && is_digit(*c); c++, nfrac++)
            if (nfrac < 3)
                frac = frac * 10 + (*c - '0');
    }
    if (c != e || nint + (size_t)nfrac == 0)
        return -1;
    for (int i = nfrac; i < 3; i++)
        frac *= 10;
    int64_t ms = secs * 1000 + frac;
    *out_ms = neg ? -ms : ms;
    return 0;
}

int expo_parse_om_timestamp(const char *s, const char *e, int64_t *out_ms, char **numbuf,
                            size_t *numcap)
{
    int rc = om_timestamp_exact(s, e, out_ms);
    if (rc != -1)
        return rc;
    double v;
    rc = expo_parse_float(s, e, &v, numbuf, numcap);
    if (rc)
        return rc;
    if (isnan(v))
        return -1;
    double ms = v * 1000.0;
    /* 2^63 is exact as a double; anything at or past it does not fit. */
    if (!(ms < 9223372036854775808.0 && ms > -9223372036854775808.0))
        return -2;
    *out_ms = (int64_t)ms;
    return 0;
}

bool expo_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str, *e = s + n;
    while (s < e) {
        unsigned char c = *s;
        if (c < 0x80) {
            s++;
            continue;
        }
        size_t need;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1, cp = c & 0x1F, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2, cp = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false; /* continuation byte, overlong lead, or > U+10FFFF */
        }
        if ((size_t)(e - s) <= need)
            return false;
        for (size_t i = 1; i <= need; i++) {
            if ((s[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        s += need + 1;
    }
    return true;
}
