/*
 * relabel.c - DESIGN: Prometheus 2.42 target relabeling, written to give the
 * same label sets as Prometheus for the same configuration.
 *
 * Pieces, top to bottom: the label set (a small unsorted array: targets have
 * a dozen labels, so a linear search beats any index); UTF-8 and Unicode
 * helpers standing in for Go's utf8/unicode packages; MD5 for hashmod;
 * Go's Regexp.Expand / ReplaceAllString over PCRE2 match results; the
 * schema (decoders and the check that mirrors relabel.Config.Validate); the
 * actions; and the scrape-target rules around relabeling (PopulateLabels and
 * Target.URL).
 *
 * Regexes: Prometheus compiles ^(?:regex)$ with Go's RE2. PCRE2 gets the same
 * text with DOLLAR_ENDONLY (Go's $ never matches before a final newline),
 * UTF (a dot is a code point), MATCH_INVALID_UTF (bad bytes never match
 * instead of failing the match) and NEVER_BACKSLASH_C. Syntax only PCRE2
 * knows (lookaround, backreferences) is accepted; PCRE2's match limits
 * bound backtracking, and a match that hits them counts as no match.
 *
 * Threads: compiled rules are read-only; every apply allocates its own
 * match data. The C.UTF-8 locale (case mapping) and the Unicode letter class
 * (template names) are created once, on first use.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <locale.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wctype.h>

#include "collect/relabel.h"

#define NOT_FOUND SIZE_MAX
#define GROUP_NAME_MAX 128 /* PCRE2 names are at most 32 code units */
#define PARAM_PREFIX "__param_"
#define META_PREFIX "__meta_"

/* ---- label sets ---- */

void dw_lset_init(struct dw_lset *ls)
{
    ls->items = NULL;
    ls->n = ls->cap = 0;
}

void dw_lset_release(struct dw_lset *ls)
{
    for (size_t i = 0; i < ls->n; i++) {
        free(ls->items[i].name);
        free(ls->items[i].value);
    }
    free(ls->items);
    dw_lset_init(ls);
}

static size_t lset_find(const struct dw_lset *ls, const char *name)
{
    for (size_t i = 0; i < ls->n; i++)
        if (strcmp(ls->items[i].name, name) == 0)
            return i;
    return NOT_FOUND;
}

void dw_lset_set(struct dw_lset *ls, const char *name, const char *value)
{
    if (!value || !*value) {
        dw_lset_del(ls, name);
        return;
    }
    size_t i = lset_find(ls, name);
    if (i != NOT_FOUND) {
        char *v = dw_strdup(value); /* value may point into the old one */
        free(ls->items[i].value);
        ls->items[i].value = v;
        return;
    }
    ls->items = dw_grow(ls->items, &ls->cap, ls->n + 1, sizeof *ls->items);
    ls->items[ls->n++] = (struct dw_lpair){dw_strdup(name), dw_strdup(value)};
}

const char *dw_lset_get(const struct dw_lset *ls, const char *name)
{
    size_t i = lset_find(ls, name);
    return i == NOT_FOUND ? NULL : ls->items[i].value;
}

bool dw_lset_del(struct dw_lset *ls, const char *name)
{
    size_t i = lset_find(ls, name);
    if (i == NOT_FOUND)
        return false;
    free(ls->items[i].name);
    free(ls->items[i].value);
    memmove(&ls->items[i], &ls->items[i + 1], (ls->n - i - 1) * sizeof *ls->items);
    ls->n--;
    return true;
}

static int lpair_cmp(const void *a, const void *b)
{
    const struct dw_lpair *x = a, *y = b;
    return strcmp(x->name, y->name);
}

void dw_lset_sort(struct dw_lset *ls)
{
    if (ls->n > 1)
        qsort(ls->items, ls->n, sizeof *ls->items, lpair_cmp);
}

void dw_lset_copy(struct dw_lset *dst, const struct dw_lset *src)
{
    dw_lset_release(dst);
    if (!src->n)
        return;
    dst->items = dw_calloc(src->n, sizeof *dst->items);
    dst->cap = src->n;
    for (size_t i = 0; i < src->n; i++)
        dst->items[i] =
            (struct dw_lpair){dw_strdup(src->items[i].name), dw_strdup(src->items[i].value)};
    dst->n = src->n;
}

void dw_lset_format(const struct dw_lset *ls, struct dw_buf *out)
{
    struct dw_lset sorted;
    dw_lset_init(&sorted);
    dw_lset_copy(&sorted, ls);
    dw_lset_sort(&sorted);
    dw_buf_putc(out, '{');
    for (size_t i = 0; i < sorted.n; i++) {
        dw_buf_printf(out, "%s%s=\"", i ? ", " : "", sorted.items[i].name);
        dw_buf_put_label_value(out, sorted.items[i].value);
        dw_buf_putc(out, '"');
    }
    dw_buf_putc(out, '}');
    dw_lset_release(&sorted);
}

/* [a-zA-Z_] */
static bool is_name_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* Go's \w: ASCII only. */
static bool is_word_byte(unsigned char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

bool dw_label_name_valid(const char *name)
{
    if (!name || !is_name_start((unsigned char)name[0]))
        return false;
    for (const char *p = name + 1; *p; p++)
        if (!is_word_byte((unsigned char)*p))
            return false;
    return true;
}

/* ---- UTF-8 and Unicode, as Go's utf8 and unicode packages see them ---- */

#define RUNE_ERROR 0xFFFDu

/* One code point like utf8.DecodeRune: an invalid, overlong, surrogate or
 * short sequence gives U+FFFD with width 1. n >= 1. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t w;
    uint32_t v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        w = 2, v = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        w = 3, v = c & 0x0Fu;
        lo = c == 0xE0 ? 0xA0 : lo;
        hi = c == 0xED ? 0x9F : hi;
    } else if (c >= 0xF0 && c <= 0xF4) {
        w = 4, v = c & 0x07u;
        lo = c == 0xF0 ? 0x90 : lo;
        hi = c == 0xF4 ? 0x8F : hi;
    } else {
        goto bad;
    }
    if (n < w || s[1] < lo || s[1] > hi)
        goto bad;
    for (size_t i = 1; i < w; i++) {
        if (i > 1 && (s[i] < 0x80 || s[i] > 0xBF))
            goto bad;
        v = v << 6 | (s[i] & 0x3Fu);
    }
    *cp = v;
    return w;
bad:
    *cp = RUNE_ERROR;
    return 1;
}

static size_t utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    while (n) {
        uint32_t cp;
        size_t w = utf8_decode(p, n, &cp);
        if (cp == RUNE_ERROR && w == 1)
            return false;
        p += w, n -= w;
    }
    return true;
}

static pthread_once_t unicode_once = PTHREAD_ONCE_INIT;
static locale_t utf8_locale;        /* (locale_t)0 when C.UTF-8 is missing: ASCII only */
static pcre2_code *letter_or_digit; /* [\p{L}\p{Nd}]: Go's unicode.IsLetter || IsDigit */

static void unicode_init(void)
{
    int ec;
    PCRE2_SIZE off;
    utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    letter_or_digit = pcre2_compile((PCRE2_SPTR) "[\\p{L}\\p{Nd}]", PCRE2_ZERO_TERMINATED,
                                    PCRE2_UTF | PCRE2_ANCHORED, &ec, &off, NULL);
}

/* Whether the encoded code point s[0..w) is a Unicode letter or decimal digit. */
static bool rune_is_letter_or_digit(const char *s, size_t w)
{
    pthread_once(&unicode_once, unicode_init);
    if (!letter_or_digit)
        return false;
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md)
        dw_oom(sizeof(PCRE2_SIZE) * 2);
    int rc = pcre2_match(letter_or_digit, (PCRE2_SPTR)s, w, 0, 0, md, NULL);
    pcre2_match_data_free(md);
    return rc > 0;
}

static uint32_t map_case(uint32_t cp, bool upper)
{
    if (cp < 0x80) {
        if (upper && cp >= 'a' && cp <= 'z')
            return cp - 32;
        if (!upper && cp >= 'A' && cp <= 'Z')
            return cp + 32;
        return cp;
    }
    if (!utf8_locale)
        return cp;
    return (uint32_t)(upper ? towupper_l((wint_t)cp, utf8_locale)
                            : towlower_l((wint_t)cp, utf8_locale));
}

/* strings.ToLower / ToUpper: simple Unicode case mapping per code point;
 * in a string that is not pure ASCII, invalid bytes become U+FFFD. */
static void case_map(const char *s, bool upper, struct dw_buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    dw_buf_puts(out, "");
    pthread_once(&unicode_once, unicode_init);
    while (n) {
        uint32_t cp;
        size_t w = utf8_decode(p, n, &cp);
        char enc[4];
        dw_buf_append(out, enc, utf8_encode(map_case(cp, upper), enc));
        p += w, n -= w;
    }
}

/* ---- MD5 (RFC 1321), for hashmod ---- */

static const uint32_t md5_k[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

/* Per-round rotations: four per round, repeated four times. */
static const unsigned char md5_rot[4][4] = {
    {7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};

static uint32_t rotl32(uint32_t x, unsigned n)
{
    return x << n | x >> (32 - n);
}

static void md5_block(uint32_t st[4], const unsigned char *p)
{
    uint32_t m[16], a = st[0], b = st[1], c = st[2], d = st[3];
    for (int i = 0; i < 16; i++)
        m[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
               (uint32_t)p[4 * i + 3] << 24;
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g, round = i / 16;
        if (round == 0)
            f = (b & c) | (~b & d), g = i;
        else if (round == 1)
            f = (d & b) | (~d & c), g = (5 * i + 1) % 16;
        else if (round == 2)
            f = b ^ c ^ d, g = (3 * i + 5) % 16;
        else
            f = c ^ (b | ~d), g = (7 * i) % 16;
        uint32_t t = d;
        d = c;
        c = b;
        b += rotl32(a + f + md5_k[i] + m[g], md5_rot[round][i % 4]);
        a = t;
    }
    st[0] += a, st[1] += b, st[2] += c, st[3] += d;
}

void dw_md5(const void *data, size_t n, unsigned char out[16])
{
    uint32_t st[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
    const unsigned char *p = data;
    unsigned char tail[128] = {0};
    size_t full = n / 64 * 64, rest = n - full;
    for (size_t off = 0; off < full; off += 64)
        md5_block(st, p + off);
    if (rest)
        memcpy(tail, p + full, rest);
    tail[rest] = 0x80;
    size_t tlen = rest < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)n * 8;
    for (int i = 0; i < 8; i++)
        tail[tlen - 8 + i] = (unsigned char)(bits >> (8 * i));
    for (size_t off = 0; off < tlen; off += 64)
        md5_block(st, tail + off);
    for (int i = 0; i < 16; i++)
        out[i] = (unsigned char)(st[i / 4] >> (8 * (i % 4)));
}

/* ---- regexes and Go's template expansion ---- */

#define REGEX_OPTIONS                                                                              \
    (PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_BACKSLASH_C)

/* Compiles ^(?:src)$; NULL with the reason appended to why. */
static pcre2_code *regex_compile(const char *src, struct dw_buf *why)
{
    char *wrapped = dw_asprintf("^(?:%s)$", src);
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    if (!cc)
        dw_oom(sizeof(void *));
    pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
    int ec;
    PCRE2_SIZE off;
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)wrapped, PCRE2_ZERO_TERMINATED, REGEX_OPTIONS, &ec, &off, cc);
    if (!code) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(ec, msg, sizeof msg) < 0)
            dw_strlcpy((char *)msg, "unknown error", sizeof msg);
        size_t len = strlen(src), at = off > 4 ? off - 4 : 0;
        dw_buf_printf(why, "%s at offset %zu", (const char *)msg, at < len ? at : len);
    }
    pcre2_compile_context_free(cc);
    free(wrapped);
    return code;
}

/* A successful match: the subject and its groups, for expansion. */
struct rx_match {
    const pcre2_code *code;
    const char *subj;
    const PCRE2_SIZE *ov;
    uint32_t npairs; /* pairs the match set (pcre2_match's rc); later ones are unset */
};

static pcre2_match_data *match_data_new(const struct dw_relabel_regex *re)
{
    if (!re->code)
        return NULL;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re->code, NULL);
    if (!md)
        dw_oom(sizeof(void *));
    return md;
}

/* Searches s from byte `from` (like Go's FindStringSubmatchIndex at a position). */
static bool regex_exec_at(const struct dw_relabel_regex *re, const char *s, size_t len, size_t from,
                          pcre2_match_data *md, struct rx_match *m)
{
    if (!re->code || !md)
        return false;
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, from, 0, md, NULL);
    if (rc <= 0)
        return false; /* no match, or a match limit: Go's RE2 never fails, so "no match" */
    *m = (struct rx_match){re->code, s, pcre2_get_ovector_pointer(md), (uint32_t)rc};
    return true;
}

static bool regex_exec(const struct dw_relabel_regex *re, const char *s, pcre2_match_data *md,
                       struct rx_match *m)
{
    return regex_exec_at(re, s, strlen(s), 0, md, m);
}

static bool regex_matches(const struct dw_relabel_regex *re, const char *s)
{
    pcre2_match_data *md = match_data_new(re);
    struct rx_match m;
    bool ok = regex_exec(re, s, md, &m);
    pcre2_match_data_free(md);
    return ok;
}

/* Length of a template name at s: Go's extract() takes letters, digits and
 * '_', Unicode ones included. */
static size_t name_len(const char *s)
{
    size_t i = 0, n = strlen(s);
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            if (!is_word_byte(c))
                break;
            i++;
            continue;
        }
        uint32_t cp;
        size_t w = utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (w == 1 || !rune_is_letter_or_digit(s + i, w))
            break;
        i += w;
    }
    return i;
}

/* Go: a name of digits is a group number unless it has a leading zero or
 * reaches 1e8; -1 means "look it up as a name". */
static long group_number(const char *s, size_t len)
{
    long num = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || num >= 100000000)
            return -1;
        num = num * 10 + (s[i] - '0');
    }
    return s[0] == '0' && len > 1 ? -1 : num;
}

static void append_group(struct dw_buf *out, const struct rx_match *m, const char *name, size_t len)
{
    long num = group_number(name, len);
    if (num < 0 && len < GROUP_NAME_MAX) {
        char buf[GROUP_NAME_MAX];
        memcpy(buf, name, len);
        buf[len] = '\0';
        int rc = pcre2_substring_number_from_name(m->code, (PCRE2_SPTR)buf);
        num = rc >= 0 ? rc : -1;
    }
    if (num < 0 || (uint32_t)num >= m->npairs || m->ov[2 * num] == PCRE2_UNSET)
        return; /* unknown or unset groups expand to nothing */
    dw_buf_append(out, m->subj + m->ov[2 * num], m->ov[2 * num + 1] - m->ov[2 * num]);
}

/* One reference after a '$': name or {name}. Returns the bytes it used, 0
 * when malformed (the '$' is then literal text). */
static size_t expand_ref(struct dw_buf *out, const char *p, const struct rx_match *m)
{
    size_t brace = *p == '{';
    const char *name = p + brace;
    size_t len = name_len(name);
    if (len == 0 || (brace && name[len] != '}'))
        return 0;
    append_group(out, m, name, len);
    return brace + len + brace;
}

/* Go's Regexp.ExpandString: $1 ${1} $name ${name}, $$ for a '$'. */
static void expand(struct dw_buf *out, const char *tmpl, const struct rx_match *m)
{
    const char *p = tmpl ? tmpl : "", *d;
    dw_buf_puts(out, "");
    while ((d = strchr(p, '$'))) {
        dw_buf_append(out, p, (size_t)(d - p));
        p = d + 1;
        if (*p == '$') {
            dw_buf_putc(out, '$');
            p++;
            continue;
        }
        size_t used = expand_ref(out, p, m);
        if (!used)
            dw_buf_putc(out, '$');
        p += used;
    }
    dw_buf_puts(out, p);
}

/* Go's Regexp.ReplaceAllString (what labelmap uses). */
static void replace_all(struct dw_buf *out, const struct dw_relabel_regex *re, pcre2_match_data *md,
                        const char *src, const char *tmpl)
{
    size_t len = strlen(src), last_end = 0, pos = 0;
    struct rx_match m;
    dw_buf_puts(out, "");
    while (pos <= len && regex_exec_at(re, src, len, pos, md, &m)) {
        size_t ms = m.ov[0], me = m.ov[1];
        dw_buf_append(out, src + last_end, ms - last_end);
        if (me > last_end || ms == 0) { /* not an empty match right after another */
            struct dw_buf part;
            dw_buf_init(&part, 0);
            expand(&part, tmpl, &m);
            dw_buf_append(out, part.data, part.len);
            dw_buf_release(&part);
        }
        last_end = me;
        uint32_t cp;
        size_t width =
            pos < len ? utf8_decode((const unsigned char *)src + pos, len - pos, &cp) : 0;
        if (pos + width > me)
            pos += width;
        else if (pos + 1 > me)
            pos++;
        else
            pos = me;
    }
    dw_buf_append(out, src + last_end, len - last_end);
}

/* Prometheus' relabelTarget: ^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$, that
 * is a label name in which $ref / ${ref} may stand anywhere but the first
 * character must not be a digit. */
static bool relabel_target_ok(const char *s)
{
    if (!*s)
        return false;
    for (bool first = true; *s; first = false) {
        unsigned char c = (unsigned char)*s;
        if (c == '$') {
            size_t brace = s[1] == '{', k = 1 + brace;
            while (is_word_byte((unsigned char)s[k]))
                k++;
            if (k == 1 + brace || (brace && s[k] != '}'))
                return false;
            s += k + brace;
        } else if (is_name_start(c) || (!first && is_word_byte(c))) {
            s++;
        } else {
            return false;
        }
    }
    return true;
}

/* ---- the schema ---- */

static const char *const action_names[] = {
    "replace",  "keep",      "drop",      "keepequal", "dropequal", "hashmod",
    "labelmap", "labeldrop", "labelkeep", "lowercase", "uppercase", NULL,
};

#define ACT(a) (1u << DW_RELABEL_##a)
#define NEEDS_TARGET                                                                               \
    (ACT(REPLACE) | ACT(HASHMOD) | ACT(LOWERCASE) | ACT(UPPERCASE) | ACT(KEEPEQUAL) |              \
     ACT(DROPEQUAL))
#define TEMPLATE_TARGET                                                                            \
    (ACT(REPLACE) | ACT(LOWERCASE) | ACT(UPPERCASE) | ACT(KEEPEQUAL) | ACT(DROPEQUAL))
#define NO_REPLACEMENT (ACT(LOWERCASE) | ACT(UPPERCASE) | ACT(KEEPEQUAL) | ACT(DROPEQUAL))

static bool decode_action(struct dw_schema_ctx *ctx, const char *value, void *dst)
{
    (void)ctx;
    int *out = dst;
    for (int i = 0; action_names[i]; i++) {
        if (strcasecmp(action_names[i], value) == 0) {
            *out = i;
            return true;
        }
    }
    *out = -1; /* the check skips a rule whose action is unknown */
    return false;
}

static bool decode_modulus(struct dw_schema_ctx *ctx, const char *value, void *dst)
{
    (void)ctx;
    uint64_t v = 0;
    if (!*value)
        return false;
    for (const char *p = value; *p; p++) {
        uint64_t digit = (uint64_t)(*p - '0');
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    memcpy(dst, &v, sizeof v);
    return true;
}

static void release_regex(void *dst)
{
    struct dw_relabel_regex *re = dst;
    free(re->src);
    pcre2_code_free(re->code);
    re->src = NULL;
    re->code = NULL;
}

static bool decode_regex(struct dw_schema_ctx *ctx, const char *value, void *dst)
{
    struct dw_relabel_regex *re = dst;
    struct dw_buf why;
    dw_buf_init(&why, 0);
    release_regex(re);
    re->code = regex_compile(value, &why);
    if (re->code)
        re->src = dw_strdup(value);
    else
        dw_schema_error(ctx, "invalid regex \"%.80s\": %s", value, why.data);
    dw_buf_release(&why);
    return re->code != NULL;
}

/* A string the walker refused (e.g. "${1}" read as an environment reference). */
static bool string_failed(struct dw_schema_ctx *ctx, char *const *field)
{
    return !*field && dw_schema_seen(ctx, field);
}

/* Adds a hint where the walker refused a template; true when any string
 * field was refused (the rule is then not validated further). */
static bool env_hints(struct dw_schema_ctx *ctx, struct dw_relabel_rule *r)
{
    static const char hint[] = "warning: in relabel rules write a capture group as $1, $${1} or "
                               "$${name}: ${...} is an environment variable reference";
    bool failed = string_failed(ctx, &r->separator);
    char **templates[] = {&r->replacement, &r->target_label};
    for (size_t i = 0; i < DW_ARRAY_LEN(templates); i++) {
        if (string_failed(ctx, templates[i])) {
            dw_schema_error_at(ctx, templates[i], "%s", hint);
            failed = true;
        }
    }
    return failed;
}

static void check_source_labels(struct dw_schema_ctx *ctx, struct dw_relabel_rule *r)
{
    for (size_t i = 0; i < r->nsource_labels; i++)
        if (r->source_labels[i] && !dw_label_name_valid(r->source_labels[i]))
            dw_schema_error_at(ctx, &r->source_labels[i], "\"%s\" is not a valid label name",
                               r->source_labels[i]);
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* keepequal/dropequal and labeldrop/labelkeep take only some fields; the
 * first one set otherwise is reported. Like Prometheus, an explicit regex
 * counts as set even when it equals the default. */
static void check_only_fields(struct dw_schema_ctx *ctx, struct dw_relabel_rule *r)
{
    const char *act = action_names[r->action];
    const void *bad = NULL;
    bool sep = strcmp(or_empty(r->separator), ";") != 0;
    bool repl = strcmp(or_empty(r->replacement), "$1") != 0;
    if (r->action == DW_RELABEL_KEEPEQUAL || r->action == DW_RELABEL_DROPEQUAL) {
        bad = dw_schema_seen(ctx, &r->regex) ? (const void *)&r->regex
              : r->modulus                   ? (const void *)&r->modulus
              : sep                          ? (const void *)&r->separator
              : repl                         ? (const void *)&r->replacement
                                             : NULL;
        if (bad)
            dw_schema_error_at(ctx, bad,
                               "%s action requires only 'source_labels' and `target_label`, and "
                               "no other fields",
                               act);
    } else if (r->action == DW_RELABEL_LABELDROP || r->action == DW_RELABEL_LABELKEEP) {
        bad = dw_schema_seen(ctx, &r->source_labels) ? (const void *)&r->source_labels
              : *or_empty(r->target_label)           ? (const void *)&r->target_label
              : r->modulus                           ? (const void *)&r->modulus
              : sep                                  ? (const void *)&r->separator
              : repl                                 ? (const void *)&r->replacement
                                                     : NULL;
        if (bad)
            dw_schema_error_at(ctx, bad, "%s action requires only 'regex', and no other fields",
                               act);
    }
}

/* relabel.Config.Validate of Prometheus 2.42: the first problem only. */
static void validate_rule(struct dw_schema_ctx *ctx, struct dw_relabel_rule *r)
{
    const char *act = action_names[r->action];
    const char *target = or_empty(r->target_label), *repl = or_empty(r->replacement);
    unsigned bit = 1u << r->action;
    if (r->action == DW_RELABEL_HASHMOD && r->modulus == 0)
        dw_schema_error_at(ctx, &r->modulus,
                           "relabel configuration for hashmod requires non-zero modulus");
    else if ((bit & NEEDS_TARGET) && !*target)
        dw_schema_error_at(ctx, &r->target_label,
                           "relabel configuration for %s action requires 'target_label' value",
                           act);
    else if ((bit & TEMPLATE_TARGET) && !relabel_target_ok(target))
        dw_schema_error_at(ctx, &r->target_label, "\"%s\" is invalid 'target_label' for %s action",
                           target, act);
    else if ((bit & NO_REPLACEMENT) && strcmp(repl, "$1") != 0)
        dw_schema_error_at(ctx, &r->replacement, "'replacement' can not be set for %s action", act);
    else if (r->action == DW_RELABEL_LABELMAP && !relabel_target_ok(repl))
        dw_schema_error_at(ctx, &r->replacement, "\"%s\" is invalid 'replacement' for %s action",
                           repl, act);
    else if (r->action == DW_RELABEL_HASHMOD && !dw_label_name_valid(target))
        dw_schema_error_at(ctx, &r->target_label, "\"%s\" is invalid 'target_label' for %s action",
                           target, act);
    else
        check_only_fields(ctx, r);
}

static void relabel_check(struct dw_schema_ctx *ctx, void *obj)
{
    struct dw_relabel_rule *r = obj;
    check_source_labels(ctx, r);
    if (env_hints(ctx, r) || r->action < 0 || !r->regex.code)
        return; /* already reported; validating half a rule would only add noise */
    validate_rule(ctx, r);
}

/* clang-format off */
static const struct dw_schema_field relabel_fields[] = {
    {.name = "source_labels", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct dw_relabel_rule, source_labels, nsource_labels)},
    {.name = "separator", .type = DW_SCHEMA_STRING, .def = ";",
     DW_SCHEMA_AT(struct dw_relabel_rule, separator)},
    {.name = "target_label", .type = DW_SCHEMA_STRING,
     DW_SCHEMA_AT(struct dw_relabel_rule, target_label)},
    {.name = "regex", .type = DW_SCHEMA_CUSTOM, .def = "(.*)", .decode = decode_regex,
     .release = release_regex, .expect = "a regular expression",
     DW_SCHEMA_AT(struct dw_relabel_rule, regex)},
    {.name = "modulus", .type = DW_SCHEMA_CUSTOM, .decode = decode_modulus,
     .expect = "an unsigned integer", DW_SCHEMA_AT(struct dw_relabel_rule, modulus)},
    {.name = "replacement", .type = DW_SCHEMA_STRING, .def = "$1",
     DW_SCHEMA_AT(struct dw_relabel_rule, replacement)},
    {.name = "action", .type = DW_SCHEMA_CUSTOM, .def = "replace", .decode = decode_action,
     .expect = "one of replace, keep, drop, keepequal, dropequal, hashmod, labelmap, labeldrop, "
               "labelkeep, lowercase, uppercase",
     DW_SCHEMA_AT(struct dw_relabel_rule, action)},
};
/* clang-format on */

const struct dw_schema dw_relabel_schema = {
    relabel_fields,
    DW_ARRAY_LEN(relabel_fields),
    false,
    relabel_check,
};

void dw_relabel_rules_release(struct dw_relabel_rule *rules, size_t n)
{
    for (size_t i = 0; rules && i < n; i++)
        dw_schema_free(&dw_relabel_schema, &rules[i]);
}

/* ---- the actions ---- */

static void apply_replace(const struct dw_relabel_rule *r, struct dw_lset *ls, const char *val)
{
    pcre2_match_data *md = match_data_new(&r->regex);
    struct rx_match m;
    if (regex_exec(&r->regex, val, md, &m)) {
        struct dw_buf target, res;
        dw_buf_init(&target, 0);
        dw_buf_init(&res, 0);
        expand(&target, r->target_label, &m);
        if (dw_label_name_valid(target.data)) { /* an invalid expanded name skips the rule */
            expand(&res, r->replacement, &m);
            dw_lset_set(ls, target.data, res.data); /* empty: delete */
        }
        dw_buf_release(&target);
        dw_buf_release(&res);
    }
    pcre2_match_data_free(md);
}

static void apply_hashmod(const struct dw_relabel_rule *r, struct dw_lset *ls, const char *val)
{
    unsigned char sum[16];
    uint64_t h = 0;
    char num[24];
    if (!r->modulus)
        return;
    dw_md5(val, strlen(val), sum);
    for (int i = 8; i < 16; i++) /* the last 8 bytes, big-endian, as Prometheus */
        h = h << 8 | sum[i];
    snprintf(num, sizeof num, "%llu", (unsigned long long)(h % r->modulus));
    dw_lset_set(ls, or_empty(r->target_label), num);
}

/* The rule sees the labels as they were before it, in name order (Prometheus
 * iterates a sorted snapshot while the builder changes). */
static void snapshot(const struct dw_lset *ls, struct dw_lset *snap)
{
    dw_lset_init(snap);
    dw_lset_copy(snap, ls);
    dw_lset_sort(snap);
}

static void apply_labelmap(const struct dw_relabel_rule *r, struct dw_lset *ls)
{
    struct dw_lset snap;
    pcre2_match_data *md = match_data_new(&r->regex);
    snapshot(ls, &snap);
    for (size_t i = 0; i < snap.n; i++) {
        struct rx_match m;
        if (!regex_exec(&r->regex, snap.items[i].name, md, &m))
            continue;
        struct dw_buf name;
        dw_buf_init(&name, 0);
        replace_all(&name, &r->regex, md, snap.items[i].name, r->replacement);
        dw_lset_set(ls, name.data, snap.items[i].value);
        dw_buf_release(&name);
    }
    dw_lset_release(&snap);
    pcre2_match_data_free(md);
}

static void apply_labelfilter(const struct dw_relabel_rule *r, struct dw_lset *ls, bool keep)
{
    struct dw_lset snap;
    snapshot(ls, &snap);
    for (size_t i = 0; i < snap.n; i++)
        if (regex_matches(&r->regex, snap.items[i].name) != keep)
            dw_lset_del(ls, snap.items[i].name);
    dw_lset_release(&snap);
}

/* Source values joined by the separator; absent labels count as "". */
static void join_sources(const struct dw_relabel_rule *r, const struct dw_lset *ls,
                         struct dw_buf *val)
{
    dw_buf_puts(val, "");
    for (size_t i = 0; i < r->nsource_labels; i++) {
        if (i)
            dw_buf_puts(val, or_empty(r->separator));
        const char *name = r->source_labels[i];
        dw_buf_puts(val, name ? or_empty(dw_lset_get(ls, name)) : "");
    }
}

static bool apply_one(const struct dw_relabel_rule *r, struct dw_lset *ls)
{
    struct dw_buf val, mapped;
    bool keep = true;
    const char *target = or_empty(r->target_label);
    dw_buf_init(&val, 0);
    join_sources(r, ls, &val);
    switch (r->action) {
    case DW_RELABEL_KEEP: keep = regex_matches(&r->regex, val.data); break;
    case DW_RELABEL_DROP: keep = !regex_matches(&r->regex, val.data); break;
    case DW_RELABEL_KEEPEQUAL:
        keep = strcmp(or_empty(dw_lset_get(ls, target)), val.data) == 0;
        break;
    case DW_RELABEL_DROPEQUAL:
        keep = strcmp(or_empty(dw_lset_get(ls, target)), val.data) != 0;
        break;
    case DW_RELABEL_REPLACE: apply_replace(r, ls, val.data); break;
    case DW_RELABEL_HASHMOD: apply_hashmod(r, ls, val.data); break;
    case DW_RELABEL_LABELMAP: apply_labelmap(r, ls); break;
    case DW_RELABEL_LABELDROP: apply_labelfilter(r, ls, false); break;
    case DW_RELABEL_LABELKEEP: apply_labelfilter(r, ls, true); break;
    case DW_RELABEL_LOWERCASE:
    case DW_RELABEL_UPPERCASE:
        dw_buf_init(&mapped, 0);
        case_map(val.data, r->action == DW_RELABEL_UPPERCASE, &mapped);
        dw_lset_set(ls, target, mapped.data);
        dw_buf_release(&mapped);
        break;
    default: break; /* a rule that failed validation is never applied */
    }
    dw_buf_release(&val);
    return keep;
}

bool dw_relabel_apply(const struct dw_relabel_rule *rules, size_t n, struct dw_lset *ls)
{
    for (size_t i = 0; i < n; i++)
        if (!apply_one(&rules[i], ls))
            return false;
    return true;
}

/* ---- target labels around relabeling ---- */

static void set_default(struct dw_lset *ls, const char *name, const char *value)
{
    if (!dw_lset_get(ls, name))
        dw_lset_set(ls, name, value);
}

void dw_target_populate(struct dw_lset *ls, const char *job, const char *scheme,
                        const char *metrics_path, int64_t scrape_interval_ms,
                        int64_t scrape_timeout_ms, const struct dw_schema_pair *params,
                        size_t nparams)
{
    char interval[32], timeout[32];
    dw_format_duration(scrape_interval_ms, interval, sizeof interval);
    dw_format_duration(scrape_timeout_ms, timeout, sizeof timeout);
    set_default(ls, "job", job);
    set_default(ls, "__scrape_interval__", interval);
    set_default(ls, "__scrape_timeout__", timeout);
    set_default(ls, "__metrics_path__", metrics_path);
    set_default(ls, "__scheme__", scheme);
    for (size_t i = 0; i < nparams; i++) {
        if (!params[i].key)
            continue;
        char *name = dw_asprintf(PARAM_PREFIX "%s", params[i].key);
        dw_lset_set(ls, name, params[i].value);
        free(name);
    }
}

/* Go's net.SplitHostPort succeeding. */
static bool has_host_port(const char *s)
{
    const char *colon = strrchr(s, ':');
    size_t i, j = 0, k = 0;
    if (!colon)
        return false; /* missing port */
    i = (size_t)(colon - s);
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || (size_t)(end - s) + 1 != i)
            return false; /* missing ']', missing port, or too many colons */
        j = 1;
        k = i;
    } else if (memchr(s, ':', i)) {
        return false; /* too many colons */
    }
    return !strchr(s + j, '[') && !strchr(s + k, ']');
}

/* Prometheus 2.42 appends the scheme's default port when the address has
 * none and adding one makes it valid. */
static int finish_address(struct dw_lset *ls, char **addr, char **err)
{
    const char *a = dw_lset_get(ls, "__address__");
    if (!a) {
        *err = dw_strdup("no address");
        return -1;
    }
    char *probe = dw_asprintf("%s:1234", a);
    bool add = !has_host_port(a) && has_host_port(probe);
    free(probe);
    if (add) {
        const char *scheme = or_empty(dw_lset_get(ls, "__scheme__"));
        const char *port = !*scheme || strcmp(scheme, "http") == 0 ? "80"
                           : strcmp(scheme, "https") == 0          ? "443"
                                                                   : NULL;
        if (!port) {
            *err = dw_asprintf("invalid scheme: \"%s\"", scheme);
            return -1;
        }
        *addr = dw_asprintf("%s:%s", a, port);
        dw_lset_set(ls, "__address__", *addr);
    } else {
        *addr = dw_strdup(a);
    }
    if (strchr(*addr, '/')) {
        *err = dw_asprintf("\"%s\" is not a valid hostname", *addr);
        return -1;
    }
    return 0;
}

static int label_duration(const struct dw_lset *ls, const char *name, const char *what, int64_t *ms,
                          char **err)
{
    const char *v = or_empty(dw_lset_get(ls, name));
    if (dw_parse_duration(v, ms) != 0) {
        *err = dw_asprintf("error parsing scrape %s: not a valid duration string: \"%s\"", what, v);
        return -1;
    }
    if (*ms == 0) {
        *err = dw_asprintf("scrape %s cannot be 0", what);
        return -1;
    }
    return 0;
}

static int finish_durations(const struct dw_lset *ls, struct dw_target_info *out, char **err)
{
    if (label_duration(ls, "__scrape_interval__", "interval", &out->interval_ms, err) ||
        label_duration(ls, "__scrape_timeout__", "timeout", &out->timeout_ms, err))
        return -1;
    if (out->timeout_ms > out->interval_ms) {
        *err = dw_asprintf(
            "scrape timeout cannot be greater than scrape interval (\"%s\" > \"%s\")",
            dw_lset_get(ls, "__scrape_timeout__"), dw_lset_get(ls, "__scrape_interval__"));
        return -1;
    }
    return 0;
}

static void drop_prefixed(struct dw_lset *ls, const char *prefix)
{
    for (size_t i = ls->n; i-- > 0;)
        if (dw_str_has_prefix(ls->items[i].name, prefix))
            dw_lset_del(ls, ls->items[i].name);
}

/* ---- the scrape URL, escaped like Go's net/url ---- */

enum url_part { URL_HOST, URL_PATH, URL_QUERY };

/* Go's shouldEscape for the three parts we write. */
static bool should_escape(unsigned char c, enum url_part part)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return false;
    if (part == URL_HOST && c && strchr("!$&'()*+,;=:[]<>\"", c))
        return false;
    if (c == '-' || c == '_' || c == '.' || c == '~')
        return false;
    if (c && strchr("$&+,/:;=?@", c)) {
        if (part == URL_PATH)
            return c == '?';
        return true; /* query components escape every reserved character */
    }
    return true;
}

static void put_escaped(struct dw_buf *b, const char *s, enum url_part part)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == ' ' && part == URL_QUERY)
            dw_buf_putc(b, '+');
        else if (!should_escape(*p, part))
            dw_buf_putc(b, (char)*p);
        else
            dw_buf_printf(b, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
    }
}

struct qparam {
    const char *key, *value;
};

static int qparam_cmp(const void *a, const void *b)
{
    const struct qparam *x = a, *y = b;
    return strcmp(x->key, y->key);
}

static void qparam_put(struct qparam *q, size_t *n, const char *key, const char *value, bool over)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(q[i].key, key) == 0) {
            if (over)
                q[i].value = value;
            return;
        }
    }
    q[(*n)++] = (struct qparam){key, value};
}

/* Target.URL(): the configured params, each first value replaced by its
 * __param_ label, plus params only labels name; url.Values.Encode order. */
static void put_query(struct dw_buf *b, const struct dw_lset *ls,
                      const struct dw_schema_pair *params, size_t nparams)
{
    struct qparam *q = dw_calloc(nparams + ls->n + 1, sizeof *q);
    size_t n = 0;
    for (size_t i = 0; i < nparams; i++)
        if (params[i].key)
            qparam_put(q, &n, params[i].key, or_empty(params[i].value), false);
    for (size_t i = 0; i < ls->n; i++)
        if (dw_str_has_prefix(ls->items[i].name, PARAM_PREFIX))
            qparam_put(q, &n, ls->items[i].name + strlen(PARAM_PREFIX), ls->items[i].value, true);
    qsort(q, n, sizeof *q, qparam_cmp);
    for (size_t i = 0; i < n; i++) {
        dw_buf_putc(b, i ? '&' : '?');
        put_escaped(b, q[i].key, URL_QUERY);
        dw_buf_putc(b, '=');
        put_escaped(b, q[i].value, URL_QUERY);
    }
    free(q);
}

static char *build_url(const struct dw_lset *ls, const struct dw_schema_pair *params,
                       size_t nparams)
{
    const char *scheme = or_empty(dw_lset_get(ls, "__scheme__"));
    const char *host = or_empty(dw_lset_get(ls, "__address__"));
    const char *path = or_empty(dw_lset_get(ls, "__metrics_path__"));
    struct dw_buf b;
    dw_buf_init(&b, 0);
    if (*scheme)
        dw_buf_printf(&b, "%s:", scheme);
    dw_buf_puts(&b, "//");
    put_escaped(&b, host, URL_HOST);
    if (*path && *path != '/')
        dw_buf_putc(&b, '/');
    if (strcmp(path, "*") == 0)
        dw_buf_putc(&b, '*');
    else
        put_escaped(&b, path, URL_PATH);
    put_query(&b, ls, params, nparams);
    return dw_buf_steal(&b);
}

static int check_values(const struct dw_lset *ls, char **err)
{
    for (size_t i = 0; i < ls->n; i++) {
        if (!utf8_valid(ls->items[i].value)) {
            *err = dw_asprintf("invalid label value for \"%s\": \"%s\"", ls->items[i].name,
                               ls->items[i].value);
            return -1;
        }
    }
    return 0;
}

static int check_names(const struct dw_lset *ls, char **err)
{
    for (size_t i = 0; i < ls->n; i++) {
        if (!dw_label_name_valid(ls->items[i].name)) {
            *err = dw_asprintf("\"%s\" is not a valid label name", ls->items[i].name);
            return -1;
        }
    }
    return 0;
}

int dw_target_finish(struct dw_lset *ls, const struct dw_schema_pair *params, size_t nparams,
                     struct dw_target_info *out, char **err)
{
    char *addr = NULL;
    memset(out, 0, sizeof *out);
    *err = NULL;
    int rc = finish_address(ls, &addr, err);
    if (rc == 0)
        rc = finish_durations(ls, out, err);
    if (rc == 0) {
        drop_prefixed(ls, META_PREFIX);
        set_default(ls, "instance", addr);
        rc = check_values(ls, err);
    }
    if (rc == 0) {
        out->url = build_url(ls, params, nparams);
        drop_prefixed(ls, "__");
        rc = check_names(ls, err);
    }
    if (rc == 0)
        dw_lset_sort(ls);
    else
        dw_target_info_release(out);
    free(addr);
    return rc;
}

void dw_target_info_release(struct dw_target_info *out)
{
    free(out->url);
    memset(out, 0, sizeof *out);
}
