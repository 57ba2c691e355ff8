/*
 * quote.c - Go's formatting rules, re-implemented where PromQL exposes them.
 *
 * DESIGN: Prometheus builds its error messages and its canonical query text
 * with Go's fmt verbs (%q for strings and runes, %#U, %v and %f for floats).
 * To give the same text, the rules are written out here: UTF-8 decoding that
 * turns each invalid byte into U+FFFD, strconv.Quote's escapes, and the
 * shortest-round-trip float formatting of fmt.Sprint. Pure functions, no
 * state, safe from any thread.
 *
 * Where Go's unicode.IsPrint needs the full Unicode tables, go_is_print()
 * approximates: ASCII is exact, and outside ASCII the control, format,
 * separator and private-use ranges are treated as not printable. That only
 * decides whether a character is escaped, never what it means.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/promql_internal.h"

static const char lowerhex[] = "0123456789abcdef";

uint32_t utf8_decode(const char *str, size_t n, size_t *width)
{
    const unsigned char *s = (const unsigned char *)str;
    *width = 1;
    if (n == 0)
        return 0xFFFD;
    unsigned b0 = s[0];
    if (b0 < 0x80)
        return b0;
    unsigned need, lo = 0x80, hi = 0xBF;
    uint32_t r;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1;
        r = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2;
        r = b0 & 0x0F;
        if (b0 == 0xE0)
            lo = 0xA0;
        else if (b0 == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3;
        r = b0 & 0x07;
        if (b0 == 0xF0)
            lo = 0x90;
        else if (b0 == 0xF4)
            hi = 0x8F;
    } else {
        return 0xFFFD;
    }
    if (n < need + 1)
        return 0xFFFD;
    for (unsigned i = 1; i <= need; i++) {
        unsigned b = s[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF))
            return 0xFFFD;
        r = (r << 6) | (b & 0x3F);
    }
    *width = need + 1;
    return r;
}

static void put_utf8(struct dw_buf *b, uint32_t r)
{
    char s[4];
    size_t n;
    if (r < 0x80) {
        s[0] = (char)r;
        n = 1;
    } else if (r < 0x800) {
        s[0] = (char)(0xC0 | (r >> 6));
        s[1] = (char)(0x80 | (r & 0x3F));
        n = 2;
    } else if (r < 0x10000) {
        s[0] = (char)(0xE0 | (r >> 12));
        s[1] = (char)(0x80 | ((r >> 6) & 0x3F));
        s[2] = (char)(0x80 | (r & 0x3F));
        n = 3;
    } else {
        s[0] = (char)(0xF0 | (r >> 18));
        s[1] = (char)(0x80 | ((r >> 12) & 0x3F));
        s[2] = (char)(0x80 | ((r >> 6) & 0x3F));
        s[3] = (char)(0x80 | (r & 0x3F));
        n = 4;
    }
    dw_buf_append(b, s, n);
}

bool go_is_print(uint32_t r)
{
    if (r < 0x20 || r == 0x7F)
        return false;
    if (r < 0x7F)
        return true;
    if (r <= 0xA0 || r == 0xAD || r == 0x061C || r == 0x1680 || r == 0x180E)
        return false;
    if ((r >= 0x2000 && r <= 0x200F) || (r >= 0x2028 && r <= 0x202F) ||
        (r >= 0x205F && r <= 0x206F) || r == 0x3000)
        return false;
    if (r >= 0xD800 && r <= 0xF8FF) /* surrogates and private use */
        return false;
    if (r == 0xFEFF || (r >= 0xFFF9 && r <= 0xFFFB) || r == 0xFFFE || r == 0xFFFF)
        return false;
    if (r >= 0xF0000 || r > 0x10FFFF)
        return false;
    return true;
}

static void put_escaped_rune(struct dw_buf *b, uint32_t r, char quote)
{
    static const char simple[] = "\a\b\f\n\r\t\v";
    static const char letters[] = "abfnrtv";
    if (r == (uint32_t)(unsigned char)quote || r == '\\') {
        dw_buf_putc(b, '\\');
        dw_buf_putc(b, (char)r);
        return;
    }
    if (go_is_print(r)) {
        put_utf8(b, r);
        return;
    }
    const char *esc = r && r < 0x80 ? strchr(simple, (int)r) : NULL;
    if (esc) {
        dw_buf_putc(b, '\\');
        dw_buf_putc(b, letters[esc - simple]);
    } else if (r < ' ' || r == 0x7F) {
        dw_buf_printf(b, "\\x%c%c", lowerhex[r >> 4], lowerhex[r & 0xF]);
    } else if (r < 0x10000) {
        dw_buf_printf(b, "\\u%04x", (unsigned)r);
    } else {
        dw_buf_printf(b, "\\U%08x", (unsigned)r);
    }
}

void go_quote(struct dw_buf *b, const char *s, size_t n)
{
    dw_buf_putc(b, '"');
    size_t i = 0;
    while (i < n) {
        size_t w;
        uint32_t r = utf8_decode(s + i, n - i, &w);
        if (r == 0xFFFD && w == 1) {
            unsigned char c = (unsigned char)s[i];
            dw_buf_printf(b, "\\x%c%c", lowerhex[c >> 4], lowerhex[c & 0xF]);
        } else if (r == 0xFFFD) {
            /* Go prints a real U+FFFD raw, but the lexer rejects it inside
             * strings; escaping keeps printed queries parseable. */
            dw_buf_puts(b, "\\ufffd");
        } else {
            put_escaped_rune(b, r, '"');
        }
        i += w;
    }
    dw_buf_putc(b, '"');
}

void go_quote_prefix(struct dw_buf *b, const char *s, size_t n, size_t runes)
{
    size_t i = 0;
    while (i < n && runes > 0) {
        size_t w;
        utf8_decode(s + i, n - i, &w);
        i += w;
        runes--;
    }
    go_quote(b, s, i);
}

void go_quote_rune(struct dw_buf *b, uint32_t r)
{
    dw_buf_putc(b, '\'');
    put_escaped_rune(b, r, '\'');
    dw_buf_putc(b, '\'');
}

void go_unicode(struct dw_buf *b, uint32_t r)
{
    dw_buf_printf(b, "U+%04X", (unsigned)r);
    if (go_is_print(r)) {
        dw_buf_puts(b, " '");
        put_utf8(b, r);
        dw_buf_putc(b, '\'');
    }
}

/*
 * Shortest decimal digits that read back as v: tries 1..17 significant
 * digits. Writes the digits (no dot) to digs and returns the decimal
 * exponent of the first digit (v = 0.d1d2... * 10^(exp+1)).
 */
static int shortest_digits(double v, char *digs, size_t size, size_t *nd)
{
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        if (strtod(tmp, NULL) == v || prec == 17)
            break;
    }
    /* tmp is "d.ddde+XX" (v is positive here) */
    size_t n = 0;
    const char *p = tmp;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && n + 1 < size)
            digs[n++] = *p;
    while (n > 1 && digs[n - 1] == '0')
        n--;
    digs[n] = '\0';
    *nd = n;
    return *p == 'e' ? (int)strtol(p + 1, NULL, 10) : 0;
}

void go_format_float(struct dw_buf *b, double v)
{
    if (isnan(v)) {
        dw_buf_puts(b, "NaN");
        return;
    }
    if (isinf(v)) {
        dw_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (signbit(v)) {
        dw_buf_putc(b, '-');
        v = -v;
    }
    if (v == 0) {
        dw_buf_putc(b, '0');
        return;
    }
    char digs[32];
    size_t nd;
    int exp = shortest_digits(v, digs, sizeof digs, &nd);
    if (exp < -4 || exp >= 6) {
        dw_buf_putc(b, digs[0]);
        if (nd > 1) {
            dw_buf_putc(b, '.');
            dw_buf_append(b, digs + 1, nd - 1);
        }
        dw_buf_printf(b, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
        return;
    }
    int dp = exp + 1; /* digits before the decimal point */
    if (dp <= 0) {
        dw_buf_puts(b, "0.");
        for (int i = 0; i < -dp; i++)
            dw_buf_putc(b, '0');
        dw_buf_append(b, digs, nd);
        return;
    }
    for (int i = 0; i < dp; i++)
        dw_buf_putc(b, (size_t)i < nd ? digs[i] : '0');
    if ((size_t)dp < nd) {
        dw_buf_putc(b, '.');
        dw_buf_append(b, digs + dp, nd - (size_t)dp);
    }
}

void go_format_fixed6(struct dw_buf *b, double v)
{
    if (isnan(v))
        dw_buf_puts(b, "NaN");
    else if (isinf(v))
        dw_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
    else
        dw_buf_printf(b, "%f", v);
}
