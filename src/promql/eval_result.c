/*
 * eval_result.c - numbers and results in Prometheus's wire formats: Go's
 * strconv.FormatFloat(v, 'f' or 'e', -1, 64), the API's value and
 * timestamp encodings, and the "data" object of query responses.
 *
 * DESIGN: Go prints the shortest decimal that reads back as the same
 * double, the closest one when several are as short. For values in
 * [1e-6, 1e21), what query results mostly hold, this is computed exactly
 * with 128-bit integers: the interval of decimals that round to v (ends
 * included when the mantissa is even, as the parser rounds half to even) is
 * scaled to 18-19 digit integers, the largest power of ten with a multiple
 * in it gives the digits, and the multiple nearest to v is taken. Other
 * values use snprintf/strtod: the 15-digit rounding of a normal double is its
 * shortest decimal padded with zeros whenever 15 or fewer digits suffice, so
 * at most three rounds are needed; subnormals try every length.
 * JSON strings are escaped like Go's encoding/json (HTML characters,
 * U+2028/U+2029, invalid UTF-8 as U+FFFD). Pure functions, any thread.
 */
#include <stdio.h>
#include <stdlib.h>

#include "promql/eval_internal.h"
#include "promql/promql_internal.h"

__extension__ typedef unsigned __int128 u128;

static const uint64_t pow10_tab[20] = {1u,
                                       10u,
                                       100u,
                                       1000u,
                                       10000u,
                                       100000u,
                                       1000000u,
                                       10000000u,
                                       100000000u,
                                       1000000000u,
                                       10000000000u,
                                       100000000000u,
                                       1000000000000u,
                                       10000000000000u,
                                       100000000000000u,
                                       1000000000000000u,
                                       10000000000000000u,
                                       100000000000000000u,
                                       1000000000000000000u,
                                       10000000000000000000u};

/* 5^k for k <= 27 (5^27 < 2^64). */
static uint64_t pow5(int k)
{
    static const uint64_t tab[28] = {UINT64_C(1),
                                     UINT64_C(5),
                                     UINT64_C(25),
                                     UINT64_C(125),
                                     UINT64_C(625),
                                     UINT64_C(3125),
                                     UINT64_C(15625),
                                     UINT64_C(78125),
                                     UINT64_C(390625),
                                     UINT64_C(1953125),
                                     UINT64_C(9765625),
                                     UINT64_C(48828125),
                                     UINT64_C(244140625),
                                     UINT64_C(1220703125),
                                     UINT64_C(6103515625),
                                     UINT64_C(30517578125),
                                     UINT64_C(152587890625),
                                     UINT64_C(762939453125),
                                     UINT64_C(3814697265625),
                                     UINT64_C(19073486328125),
                                     UINT64_C(95367431640625),
                                     UINT64_C(476837158203125),
                                     UINT64_C(2384185791015625),
                                     UINT64_C(11920928955078125),
                                     UINT64_C(59604644775390625),
                                     UINT64_C(298023223876953125),
                                     UINT64_C(1490116119384765625),
                                     UINT64_C(7450580596923828125)};
    return tab[k];
}

/* Number of decimal digits of n (1 for 0). */
static int digit_count(uint64_t n)
{
    int d = 1;
    while (d < 20 && n >= pow10_tab[d])
        d++;
    return d;
}

/* floor(x / (d5 * 2^sh)) and whether the division is exact (d5 odd). */
static u128 div_floor(u128 x, int sh, uint64_t d5, bool *exact)
{
    u128 y = d5 == 1 ? x : x / d5; /* d5 is 1 but for values >= 1e17 */
    *exact = (d5 == 1 || y * d5 == x) && (y & (((u128)1 << sh) - 1)) == 0;
    return y >> sh;
}

/* A multiple of p (a power of ten, lo < 1e19) in [lo, hi]? */
static bool has_multiple(uint64_t lo, uint64_t hi, uint64_t p)
{
    uint64_t r = lo % p;
    return (r ? lo - r + p : lo) <= hi;
}

/* Writes n in decimal, two digits at a time; returns the length. */
static size_t u64_digits(uint64_t n, char *out)
{
    static const char pairs[] =
        "00010203040506070809101112131415161718192021222324252627282930313233"
        "34353637383940414243444546474849505152535455565758596061626364656667"
        "6869707172737475767778798081828384858687888990919293949596979899";
    size_t k = (size_t)digit_count(n), i = k;
    while (n >= 100) {
        unsigned r = (unsigned)(n % 100);
        n /= 100;
        out[--i] = pairs[2 * r + 1];
        out[--i] = pairs[2 * r];
    }
    if (n >= 10) {
        out[--i] = pairs[2 * n + 1];
        out[--i] = pairs[2 * n];
    } else {
        out[--i] = (char)('0' + n);
    }
    out[k] = '\0';
    return k;
}

/* The exact shortest digits for 1e-6 <= v < 1e21; false outside or when a
 * bound would not fit (never expected; the caller then takes the slow path). */
static bool shortest_fast(double v, char *digs, size_t *nd, int *exp10)
{
    if (!(v >= 1e-6 && v < 1e21))
        return false;
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int e = (int)(bits >> 52) & 0x7ff;
    uint64_t m = (bits & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1) << 52);
    int E = e - 1075; /* v = m * 2^E */
    bool inclusive = (m & 1) == 0;
    /* The interval's ends and v in units of 2^(E-2); below a power of two the
     * lower neighbour is half as far. */
    uint64_t xm = m << 2, xh = xm + 2, xl = m == (UINT64_C(1) << 52) ? xm - 1 : xm - 2;
    /* Scale by 10^-q so that v becomes an 18 or 19 digit integer: floor(log10(v))
     * is the binary exponent's estimate or one more. */
    int q = (int)floor((double)(e - 1023) * 0.30102999566398114) - 17;
    int a = E - 2 - q, b = -q;
    u128 mul = b > 0 ? pow5(b) : 1;
    if (a > 0)
        mul <<= a;
    int sh = a < 0 ? -a : 0;
    uint64_t d5 = b < 0 ? pow5(-b) : 1;
    if (sh > 60)
        return false;
    bool ex;
    u128 lo = div_floor((u128)xl * mul, sh, d5, &ex);
    if (!inclusive || !ex)
        lo += 1; /* strictly above, or the next integer */
    u128 hi = div_floor((u128)xh * mul, sh, d5, &ex);
    if (!inclusive && ex)
        hi -= 1;
    if (hi >> 64 || lo > hi)
        return false;
    uint64_t L = (uint64_t)lo, H = (uint64_t)hi;
    /* The most trailing zeros a decimal in [L, H] can have. */
    int j = H == L ? 0 : digit_count(H - L);
    if (j > 19)
        j = 19;
    if (j > 0 && has_multiple(L, H, pow10_tab[j])) {
        while (j < 19 && has_multiple(L, H, pow10_tab[j + 1]))
            j++;
    } else if (j > 0) {
        j--;
    }
    uint64_t p = pow10_tab[j];
    /* The multiple of p nearest to v inside [L, H]; ties to an even digit. */
    u128 nm = (u128)xm * mul, den = (u128)d5 << sh;
    uint64_t fl = (uint64_t)div_floor(nm, sh, d5, &ex);
    u128 c1 = fl - fl % p, c2 = c1 + p;
    bool ok1 = c1 >= L, ok2 = c2 <= H;
    u128 c = ok1 ? c1 : c2;
    if (ok1 && ok2) {
        u128 d1 = nm - c1 * den, d2 = c2 * den - nm;
        if (d2 < d1 || (d2 == d1 && (uint64_t)(c2 / p) % 2 == 0))
            c = c2;
    }
    *nd = u64_digits((uint64_t)(c / p), digs);
    while (*nd > 1 && digs[*nd - 1] == '0') { /* defensive: j is maximal */
        digs[--*nd] = '\0';
        j++;
    }
    *exp10 = (int)*nd - 1 + j + q;
    return true;
}

/* Shortest round-trip digits of v > 0 (finite): digits without a dot in
 * digs, return value the decimal exponent of the first digit. */
static int shortest_digits(double v, char *digs, size_t *nd)
{
    int exp10;
    if (shortest_fast(v, digs, nd, &exp10))
        return exp10;
    char tmp[48];
    int from = v < 2.2250738585072014e-308 ? 1 : 15;
    for (int prec = from; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        if (prec == 17 || strtod(tmp, NULL) == v)
            break;
    }
    size_t n = 0;
    const char *p = tmp;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digs[n++] = *p;
    while (n > 1 && digs[n - 1] == '0')
        n--;
    digs[n] = '\0';
    *nd = n;
    return (int)strtol(p + 1, NULL, 10);
}

static bool special(double v, struct dw_buf *out)
{
    if (isnan(v))
        dw_buf_puts(out, "NaN");
    else if (isinf(v))
        dw_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
    else
        return false;
    return true;
}

/* Writes v >= 0 (finite) in Go's 'f' or 'e' form into buf (at least 400 bytes:
 * 'f' of 1.8e308 has 309 digits); returns the length. */
static size_t format_abs(double v, char fmt, char *buf)
{
    size_t k = 0;
    if (v == 0) {
        memcpy(buf, fmt == 'e' ? "0e+00" : "0", fmt == 'e' ? 5 : 1);
        return fmt == 'e' ? 5 : 1;
    }
    char digs[32];
    size_t nd;
    int exp = shortest_digits(v, digs, &nd);
    if (fmt == 'e') {
        buf[k++] = digs[0];
        if (nd > 1) {
            buf[k++] = '.';
            memcpy(buf + k, digs + 1, nd - 1);
            k += nd - 1;
        }
        int x = exp < 0 ? -exp : exp;
        buf[k++] = 'e';
        buf[k++] = exp < 0 ? '-' : '+';
        if (x >= 100)
            buf[k++] = (char)('0' + x / 100);
        buf[k++] = (char)('0' + x / 10 % 10);
        buf[k++] = (char)('0' + x % 10);
        return k;
    }
    if (exp < 0) {
        buf[k++] = '0';
        buf[k++] = '.';
        for (int i = 0; i < -exp - 1; i++)
            buf[k++] = '0';
        memcpy(buf + k, digs, nd);
        return k + nd;
    }
    for (int i = 0; i <= exp; i++)
        buf[k++] = (size_t)i < nd ? digs[i] : '0';
    if ((size_t)exp + 1 < nd) {
        buf[k++] = '.';
        memcpy(buf + k, digs + exp + 1, nd - (size_t)exp - 1);
        k += nd - (size_t)exp - 1;
    }
    return k;
}

static void format(double v, char fmt, struct dw_buf *out)
{
    if (special(v, out))
        return;
    char buf[400];
    size_t k = 0;
    if (signbit(v)) {
        buf[k++] = '-';
        v = -v;
    }
    k += format_abs(v, fmt, buf + k);
    dw_buf_append(out, buf, k);
}

void ev_format_f(double v, struct dw_buf *out)
{
    format(v, 'f', out);
}

void dw_promql_format_float_f(double v, struct dw_buf *out)
{
    format(v, 'f', out);
}

void dw_promql_format_value(double v, struct dw_buf *out)
{
    double a = fabs(v);
    format(v, a != 0 && (a < 1e-6 || a >= 1e21) ? 'e' : 'f', out);
}

void dw_promql_format_time(int64_t ms, struct dw_buf *out)
{
    uint64_t u = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
    char buf[32];
    size_t k = 0;
    if (ms < 0)
        buf[k++] = '-';
    k += u64_digits(u / 1000, buf + k);
    unsigned frac = (unsigned)(u % 1000);
    if (frac) {
        buf[k++] = '.';
        buf[k++] = (char)('0' + frac / 100);
        buf[k++] = (char)('0' + frac / 10 % 10);
        buf[k++] = (char)('0' + frac % 10);
    }
    dw_buf_append(out, buf, k);
}

/* ---- JSON ---- */

static void json_string(struct dw_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(s);
    dw_buf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            if (c == '"' || c == '\\') {
                dw_buf_putc(b, '\\');
                dw_buf_putc(b, (char)c);
            } else if (c == '\n') {
                dw_buf_puts(b, "\\n");
            } else if (c == '\r') {
                dw_buf_puts(b, "\\r");
            } else if (c == '\t') {
                dw_buf_puts(b, "\\t");
            } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
                char e[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
                dw_buf_puts(b, e);
            } else {
                dw_buf_putc(b, (char)c);
            }
            i++;
            continue;
        }
        size_t w;
        uint32_t r = utf8_decode(s + i, n - i, &w);
        if (r == 0xFFFD && w == 1)
            dw_buf_puts(b, "\\ufffd");
        else if (r == 0x2028 || r == 0x2029)
            dw_buf_printf(b, "\\u%04x", (unsigned)r);
        else
            dw_buf_append(b, s + i, w);
        i += w;
    }
    dw_buf_putc(b, '"');
}

static void json_point(struct dw_buf *b, int64_t t, double v)
{
    dw_buf_putc(b, '[');
    dw_promql_format_time(t, b);
    dw_buf_puts(b, ",\"");
    dw_promql_format_value(v, b);
    dw_buf_puts(b, "\"]");
}

static void json_metric(struct dw_buf *b, const struct dw_promql_series *s)
{
    dw_buf_puts(b, "{\"metric\":{");
    for (size_t i = 0; i < s->nlabels; i++) {
        if (i)
            dw_buf_putc(b, ',');
        json_string(b, s->labels[i].name);
        dw_buf_putc(b, ':');
        json_string(b, s->labels[i].value);
    }
    dw_buf_putc(b, '}');
}

void dw_promql_result_json(const struct dw_promql_result *r, struct dw_buf *out)
{
    dw_buf_puts(out, "{\"resultType\":");
    switch (r->type) {
    case DW_PROMQL_TYPE_SCALAR:
        /* Prometheus marshals scalars and strings with encoding/json, so
           their time is Go's float64 t/1000 ("1.5"), not the fixed three
           decimals of vector and matrix points ("1.500"), and a scalar's
           value is FormatFloat(v, 'f', -1) ("0.0000001", never "1e-07"). */
        dw_buf_puts(out, "\"scalar\",\"result\":[");
        dw_promql_format_value((double)r->scalar.t / 1000.0, out);
        dw_buf_puts(out, ",\"");
        dw_promql_format_float_f(r->scalar.v, out); /* strconv 'f', -1: never an exponent */
        dw_buf_puts(out, "\"]");
        break;
    case DW_PROMQL_TYPE_STRING:
        dw_buf_puts(out, "\"string\",\"result\":[");
        dw_promql_format_value((double)r->string_t / 1000.0, out);
        dw_buf_putc(out, ',');
        json_string(out, r->string ? r->string : "");
        dw_buf_putc(out, ']');
        break;
    default: {
        bool vector = r->type == DW_PROMQL_TYPE_VECTOR;
        dw_buf_puts(out, vector ? "\"vector\",\"result\":[" : "\"matrix\",\"result\":[");
        for (size_t i = 0; i < r->nseries; i++) {
            const struct dw_promql_series *s = &r->series[i];
            if (i)
                dw_buf_putc(out, ',');
            json_metric(out, s);
            if (vector && s->npoints) {
                dw_buf_puts(out, ",\"value\":");
                json_point(out, s->points[0].t, s->points[0].v);
            } else {
                dw_buf_puts(out, ",\"values\":[");
                for (size_t k = 0; k < s->npoints; k++) {
                    if (k)
                        dw_buf_putc(out, ',');
                    json_point(out, s->points[k].t, s->points[k].v);
                }
                dw_buf_putc(out, ']');
            }
            dw_buf_putc(out, '}');
        }
        dw_buf_putc(out, ']');
    }
    }
    dw_buf_putc(out, '}');
}
