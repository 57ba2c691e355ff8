/*
 * expo_fuzz.c - libFuzzer driver for the exposition parser (src/expo).
 *
 * DESIGN
 * Every input goes through both formats, with the default limits and with
 * tiny ones, in the three ways the parser can run: validate only, two-phase
 * delivery and single pass. Besides the sanitizers, the driver aborts (a
 * crash for libFuzzer) when an invariant breaks:
 *   - the three runs agree on success and on the exact error message;
 *   - a rejected input delivered nothing in two-phase mode;
 *   - every delivered string is readable to its last byte (ASan checks the
 *     reads), names use their charsets, label values are valid UTF-8, no
 *     sample has duplicate label names or exceeds a limit.
 * Built with -DDW_FUZZ_REPLAY it is a plain program that replays files and
 * directories given on the command line (the seed corpus in CI).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "expo/expo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
    const struct dw_expo_opts *opts;
    size_t samples;
    size_t metas;
    unsigned sum; /* forces a read of every delivered byte */
};

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "expo_fuzz: invariant broken: %s\n", what);
        abort();
    }
}

static unsigned touch(struct dw_expo_str s)
{
    unsigned h = 0;
    for (size_t i = 0; i < s.len; i++)
        h = h * 31 + (unsigned char)s.ptr[i];
    return h;
}

static bool name_ok(struct dw_expo_str s, bool colon)
{
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        bool digit = c >= '0' && c <= '9';
        if (!(alpha || (colon && c == ':') || (i > 0 && digit)))
            return false;
    }
    return true;
}

/* An independent UTF-8 check: decode, then re-derive the shortest length. */
static bool utf8_ok(struct dw_expo_str s)
{
    const unsigned char *p = (const unsigned char *)s.ptr;
    size_t i = 0;
    while (i < s.len) {
        unsigned c = p[i];
        size_t n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 9;
        if (n == 9 || (n > 0 && i + n >= s.len))
            return false;
        unsigned cp = n ? c & (0x3F >> n) : c;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        size_t shortest = cp < 0x80 ? 0 : cp < 0x800 ? 1 : cp < 0x10000 ? 2 : 3;
        if (shortest != n || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000))
            return false;
        i += n + 1;
    }
    return true;
}

static int on_sample(void *ctx, const struct dw_expo_sample *s)
{
    struct seen *k = ctx;
    const struct dw_expo_opts *o = k->opts;
    k->samples++;
    k->sum += touch(s->name) + touch(s->family);
    check(name_ok(s->name, true), "metric name charset");
    check(s->name.len <= o->max_label_value_len, "metric name length limit");
    check(s->family.len <= s->name.len && memcmp(s->family.ptr, s->name.ptr, s->family.len) == 0,
          "family is a prefix of the sample name");
    check(s->nlabels + 1 <= o->max_labels, "labels per series limit");
    for (size_t i = 0; i < s->nlabels; i++) {
        const struct dw_expo_label *l = &s->labels[i];
        k->sum += touch(l->name) + touch(l->value);
        check(name_ok(l->name, false), "label name charset");
        check(l->name.len <= o->max_label_name_len, "label name length limit");
        check(l->value.len <= o->max_label_value_len, "label value length limit");
        check(utf8_ok(l->value), "label value is UTF-8");
        for (size_t j = 0; j < i; j++)
            check(l->name.len != s->labels[j].name.len ||
                      memcmp(l->name.ptr, s->labels[j].name.ptr, l->name.len) != 0,
                  "no duplicate label names");
    }
    return 0;
}

static int on_meta(void *ctx, const struct dw_expo_meta *m)
{
    struct seen *k = ctx;
    k->metas++;
    k->sum += touch(m->family) + touch(m->text);
    check(name_ok(m->family, true), "family name charset");
    return 0;
}

static void run(const char *data, size_t size, const struct dw_expo_opts *opts,
                struct dw_expo_parser *p)
{
    struct dw_expo_error e1, e2, e3;
    struct seen two = {.opts = opts}, one = {.opts = opts};
    struct dw_expo_handler h2 = {on_sample, on_meta, &two}, h1 = {on_sample, on_meta, &one};
    struct dw_expo_opts single = *opts;
    single.single_pass = true;

    int rc1 = dw_expo_parse(p, opts, data, size, NULL, &e1);
    int rc2 = dw_expo_parse(p, opts, data, size, &h2, &e2);
    int rc3 = dw_expo_parse(NULL, &single, data, size, &h1, &e3);
    check(rc1 == rc2 && rc2 == rc3, "validate, two-phase and single pass agree");
    check(strcmp(e1.msg, e2.msg) == 0 && strcmp(e2.msg, e3.msg) == 0, "same error message");
    check(rc1 == 0 || (e1.line > 0 && e1.msg[0] != '\0'), "errors carry a position");
    if (rc2 != 0)
        check(two.samples == 0 && two.metas == 0, "a rejected input delivers nothing");
    else
        check(two.samples == one.samples && two.metas == one.metas, "same deliveries");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct dw_expo_parser *p;
    if (!p)
        p = dw_expo_parser_new();
    struct dw_expo_opts wide, tiny;
    dw_expo_opts_init(&wide);
    dw_expo_opts_init(&tiny);
    tiny.max_samples = 3;
    tiny.max_labels = 3;
    tiny.max_label_name_len = 4;
    tiny.max_label_value_len = 8;
    tiny.max_line_len = 40;
    tiny.keep_created = true;
    const enum dw_expo_format formats[] = {DW_EXPO_TEXT, DW_EXPO_OPENMETRICS};
    for (size_t i = 0; i < DW_ARRAY_LEN(formats); i++) {
        wide.format = tiny.format = formats[i];
        run((const char *)data, size, &wide, p);
        run((const char *)data, size, &tiny, p);
    }
    return 0;
}

#ifdef DW_FUZZ_REPLAY
#include "replay.h"
#endif
