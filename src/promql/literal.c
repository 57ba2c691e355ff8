/*
 * literal.c - the values of number, duration and string tokens.
 *
 * DESIGN: the lexer only decides where a token ends; its value is read here
 * with the same rules Prometheus inherits from Go, because those rules are
 * visible to users: `0755` is octal (493), `0x1F` hex, `1e400` is an error
 * while `1e-400` is 0, durations take each unit once in the order
 * y w d h m s ms and overflow past ~292 years, and strings use Go's escapes.
 * Error texts copy Go's (strconv.ParseFloat: parsing "x": invalid syntax).
 * Pure functions, safe from any thread.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "promql/promql_internal.h"

/* strconv.ParseInt(s, 0, 64) for unsigned tokens: 0 ok, -1 syntax, -2 range. */
static int go_parse_int(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    unsigned base = 10;
    if (n > 1 && s[0] == '0') {
        if (s[1] == 'x' || s[1] == 'X') {
            base = 16;
            i = 2;
        } else if (s[1] == 'o' || s[1] == 'O') {
            base = 8;
            i = 2;
        } else if (s[1] == 'b' || s[1] == 'B') {
            base = 2;
            i = 2;
        } else {
            base = 8;
            i = 1;
        }
    }
    if (i >= n)
        return -1;
    uint64_t v = 0;
    bool range = false;
    for (; i < n; i++) {
        int d = dw_hex_digit(s[i]);
        if (d < 0 || d >= (int)base)
            return -1;
        if (v > (UINT64_MAX - (unsigned)d) / base)
            range = true;
        else
            v = v * base + (unsigned)d;
    }
    if (range || v > (uint64_t)INT64_MAX)
        return -2;
    *out = (int64_t)v;
    return 0;
}

static bool ieq(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    if (n != m)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lit[i])
            return false;
    }
    return true;
}

/* Go's decimal float syntax: digits, optional fraction, optional exponent. */
static bool decimal_float_syntax(const char *s, size_t n)
{
    size_t i = 0, digits = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        i++;
        digits++;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
            digits++;
        }
    }
    if (digits == 0)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t ed = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
            ed++;
        }
        if (ed == 0)
            return false;
    }
    return i == n;
}

/* strconv.ParseFloat(s, 64): 0 ok, -1 syntax, -2 out of range. */
static int go_parse_float(const char *s, size_t n, double *out)
{
    const char *p = s;
    size_t m = n;
    bool neg = false;
    if (m && (*p == '+' || *p == '-')) {
        neg = *p == '-';
        p++;
        m--;
    }
    if (ieq(p, m, "inf") || ieq(p, m, "infinity")) {
        *out = neg ? -INFINITY : INFINITY;
        return 0;
    }
    if (ieq(p, m, "nan") && p == s) {
        *out = NAN;
        return 0;
    }
    if (!decimal_float_syntax(s, n))
        return -1; /* also every hex token: Go wants a 'p' exponent there */
    char *tmp = dw_strndup(s, n);
    errno = 0;
    double v = strtod(tmp, NULL);
    int rc = (errno == ERANGE && isinf(v)) ? -2 : 0;
    free(tmp);
    *out = v;
    return rc;
}

int promql_parse_number(const char *s, size_t n, double *out, struct dw_buf *err)
{
    int64_t iv;
    if (go_parse_int(s, n, &iv) == 0) {
        *out = (double)iv;
        return 0;
    }
    int rc = go_parse_float(s, n, out);
    if (rc == 0)
        return 0;
    dw_buf_puts(err, "strconv.ParseFloat: parsing ");
    go_quote(err, s, n);
    dw_buf_puts(err, rc == -2 ? ": value out of range" : ": invalid syntax");
    return -1;
}

/* ---- durations ---- */

static const struct {
    const char *unit;
    int64_t ms;
} units[] = {
    {"y", 365LL * 24 * 3600 * 1000},
    {"w", 7LL * 24 * 3600 * 1000},
    {"d", 24LL * 3600 * 1000},
    {"h", 3600LL * 1000},
    {"m", 60LL * 1000},
    {"s", 1000},
    {"ms", 1},
};

static int duration_invalid(const char *s, size_t n, struct dw_buf *err)
{
    dw_buf_puts(err, "not a valid duration string: ");
    go_quote(err, s, n);
    return -1;
}

int promql_parse_duration(const char *s, size_t n, int64_t *out_ms, struct dw_buf *err)
{
    if (n == 1 && s[0] == '0') {
        *out_ms = 0;
        dw_buf_puts(err, "duration must be greater than 0");
        return -1;
    }
    if (n == 0) {
        dw_buf_puts(err, "empty duration string");
        return -1;
    }
    /* Like model.ParseDuration, sum in nanoseconds: time.Duration's range. */
    const int64_t ns_per_ms = 1000000;
    int64_t total_ns = 0;
    bool overflow = false;
    size_t next = 0, i = 0;
    while (i < n) {
        if (s[i] < '0' || s[i] > '9')
            return duration_invalid(s, n, err);
        uint64_t v = 0;
        bool big = false;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (v > (UINT64_MAX - 9) / 10)
                big = true;
            else
                v = v * 10 + (unsigned)(s[i] - '0');
            i++;
        }
        size_t ulen = (i + 1 < n && s[i] == 'm' && s[i + 1] == 's') ? 2 : 1;
        if (i >= n)
            return duration_invalid(s, n, err);
        size_t u;
        for (u = next; u < DW_ARRAY_LEN(units); u++)
            if (strlen(units[u].unit) == ulen && memcmp(s + i, units[u].unit, ulen) == 0)
                break;
        if (u == DW_ARRAY_LEN(units))
            return duration_invalid(s, n, err);
        next = u + 1;
        i += ulen;
        int64_t limit = INT64_MAX / (units[u].ms * ns_per_ms);
        if (big || v > (uint64_t)limit) {
            overflow = true;
            continue;
        }
        int64_t add = (int64_t)v * units[u].ms * ns_per_ms;
        if (total_ns > INT64_MAX - add)
            overflow = true;
        else
            total_ns += add;
    }
    if (overflow) {
        dw_buf_puts(err, "duration out of range");
        return -1;
    }
    *out_ms = total_ns / ns_per_ms;
    if (*out_ms == 0) {
        dw_buf_puts(err, "duration must be greater than 0");
        return -1;
    }
    return 0;
}

/* ---- strings ---- */

static void put_rune_utf8(struct dw_buf *b, uint32_t r)
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

/* One escape after the backslash at s[*i]; Go's strconv.UnquoteChar. */
static int unquote_escape(const char *s, size_t n, size_t *i, char quote, struct dw_buf *out)
{
    static const char letters[] = "abfnrtv";
    static const char values[] = "\a\b\f\n\r\t\v";
    size_t j = *i + 1;
    if (j >= n)
        return -1;
    char c = s[j++];
    const char *l = strchr(letters, c);
    if (c && l) {
        dw_buf_putc(out, values[l - letters]);
    } else if (c == '\\' || c == quote) {
        dw_buf_putc(out, c);
    } else if (c == 'x' || c == 'u' || c == 'U' || (c >= '0' && c <= '7')) {
        unsigned digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 3;
        unsigned base = (c >= '0' && c <= '7') ? 8 : 16;
        uint32_t v = 0;
        if (base == 8)
            j--; /* the first octal digit is c itself */
        for (unsigned k = 0; k < digits; k++, j++) {
            int d = j < n ? dw_hex_digit(s[j]) : -1;
            if (d < 0 || d >= (int)base)
                return -1;
            v = v * base + (uint32_t)d;
        }
        if (c == 'x' || base == 8) {
            if (v > 255)
                return -1;
            dw_buf_putc(out, (char)v); /* a byte, not a rune, like Go */
        } else {
            if (v > 0x10FFFF || (v >= 0xD800 && v < 0xE000))
                return -1;
            put_rune_utf8(out, v);
        }
    } else {
        return -1;
    }
    *i = j;
    return 0;
}

int promql_unquote(const char *s, size_t n, struct dw_buf *out)
{
    if (n < 2 || s[0] != s[n - 1])
        return -1;
    char quote = s[0];
    const char *body = s + 1;
    size_t bn = n - 2;
    if (quote == '`') {
        if (memchr(body, '`', bn))
            return -1;
        dw_buf_append(out, body, bn);
        return 0;
    }
    if (quote != '"' && quote != '\'')
        return -1;
    if (memchr(body, '\n', bn))
        return -1;
    size_t i = 0;
    while (i < bn) {
        char c = body[i];
        if (c == quote)
            return -1;
        if (c == '\\') {
            if (unquote_escape(body, bn, &i, quote, out) < 0)
                return -1;
            continue;
        }
        dw_buf_putc(out, c);
        i++;
    }
    return 0;
}

bool promql_label_name_valid(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alpha = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alpha && (i == 0 || c < '0' || c > '9'))
            return false;
    }
    return true;
}
