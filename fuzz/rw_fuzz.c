/*
 * rw_fuzz.c - libFuzzer driver for the remote write decoder (src/expo).
 *
 * DESIGN
 * Every input is read as an uncompressed WriteRequest with the default
 * limits and with tiny ones, validate-only, two-phase and single pass; then
 * as a snappy body; then compressed with snappy and decoded again. Besides
 * the sanitizers, the driver aborts (a crash for libFuzzer) when an invariant
 * breaks:
 *   - validate-only, two-phase and single pass agree on success and on the
 *     exact message, and deliver the same series when they succeed;
 *   - the snappy-compressed input decodes exactly like the raw input;
 *   - a rejected input delivered nothing (unless the callback aborted);
 *   - every delivered series keeps the contract: labels sorted by name,
 *     unique, non-empty, NUL-terminated, valid names and UTF-8 values, within
 *     the limits, __name__ present and equal to s->name, at least one sample;
 *   - re-encoding what was delivered and decoding that gives the same series
 *     bit for bit (values and timestamps included).
 * Built with -DDW_FUZZ_REPLAY it is a plain program that replays files and
 * directories given on the command line (the seed corpus in CI).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>

#include "core/core.h"
#include "expo/expo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
    const struct dw_expo_rw_opts *opts;
    size_t series, samples;
    struct dw_buf text;  /* rendering of every delivered series */
    struct dw_buf reenc; /* the delivered series encoded again */
};

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "rw_fuzz: invariant broken: %s\n", what);
        abort();
    }
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

static int str_cmp(struct dw_expo_str a, struct dw_expo_str b)
{
    int c = memcmp(a.ptr, b.ptr, a.len < b.len ? a.len : b.len);
    return c ? c : (a.len > b.len) - (a.len < b.len);
}

static void check_label(const struct dw_expo_rw_opts *o, const struct dw_expo_label *l)
{
    bool metric = l->name.len == 8 && memcmp(l->name.ptr, "__name__", 8) == 0;
    check(name_ok(l->name, false), "label name charset");
    check(l->name.len <= o->max_label_name_len, "label name length limit");
    check(l->value.len > 0, "no empty values");
    check(l->value.len <= o->max_label_value_len, "label value length limit");
    check(l->name.ptr[l->name.len] == '\0' && l->value.ptr[l->value.len] == '\0',
          "strings are NUL-terminated");
    check(memchr(l->value.ptr, 0, l->value.len) == NULL, "no NUL inside values");
    check(metric ? name_ok(l->value, true) : utf8_ok(l->value), "metric name charset, UTF-8");
}

static int on_series(void *ctx, const struct dw_expo_rw_series *s)
{
    struct seen *k = ctx;
    const struct dw_expo_rw_opts *o = k->opts;
    k->series++;
    k->samples += s->nsamples;
    check(s->nsamples > 0, "delivered series have samples");
    check(s->nlabels <= o->max_labels && s->nlabels > 0, "labels per series limit");
    bool has_name = false;
    for (size_t i = 0; i < s->nlabels; i++) {
        const struct dw_expo_label *l = &s->labels[i];
        check_label(o, l);
        check(i == 0 || str_cmp(s->labels[i - 1].name, l->name) < 0, "sorted and unique");
        if (strcmp(l->name.ptr, "__name__") == 0)
            has_name = l->value.ptr == s->name.ptr && l->value.len == s->name.len;
        dw_buf_printf(&k->text, "%zu:%s=%zu:%s,", l->name.len, l->name.ptr, l->value.len,
                      l->value.ptr);
    }
    check(has_name, "__name__ is delivered and is s->name");
    for (size_t i = 0; i < s->nsamples; i++) {
        uint64_t bits;
        memcpy(&bits, &s->samples[i].value, sizeof bits);
        dw_buf_printf(&k->text, " %016" PRIx64 "@%" PRId64, bits, s->samples[i].timestamp_ms);
    }
    dw_buf_putc(&k->text, '\n');
    /* Concatenated WriteRequests are one WriteRequest (repeated field 1). */
    check(dw_expo_rw_encode_raw(s, 1, &k->reenc) == 0, "re-encode");
    return 0;
}

static void seen_init(struct seen *k, const struct dw_expo_rw_opts *o)
{
    memset(k, 0, sizeof *k);
    k->opts = o;
    dw_buf_init(&k->text, 0);
    dw_buf_init(&k->reenc, 0);
    dw_buf_puts(&k->text, "");
}

static void seen_release(struct seen *k)
{
    dw_buf_release(&k->text);
    dw_buf_release(&k->reenc);
}

static bool same_text(const struct seen *a, const struct seen *b)
{
    return a->text.len == b->text.len && memcmp(a->text.data, b->text.data, a->text.len) == 0;
}

/* Decodes what was delivered, encoded again: it must come back the same. */
static void check_reencoded(const struct seen *first, struct dw_expo_rw_decoder *d)
{
    struct seen again;
    seen_init(&again, first->opts);
    struct dw_expo_rw_handler h = {on_series, &again};
    struct dw_expo_rw_error e;
    int rc =
        dw_expo_rw_decode_raw(d, first->opts, first->reenc.data, first->reenc.len, &h, NULL, &e);
    check(rc == 0, "re-encoded series decode");
    check(again.series == first->series && same_text(first, &again), "round trip is exact");
    seen_release(&again);
}

static void run(const uint8_t *data, size_t size, const struct dw_expo_rw_opts *o,
                struct dw_expo_rw_decoder *d)
{
    struct dw_expo_rw_error e1, e2, e3;
    struct dw_expo_rw_stats s1, s2;
    struct seen got, zipped;
    seen_init(&got, o);
    seen_init(&zipped, o);
    struct dw_expo_rw_handler h = {on_series, &got}, hz = {on_series, &zipped};

    int rc1 = dw_expo_rw_decode_raw(d, o, data, size, NULL, &s1, &e1);
    int rc2 = dw_expo_rw_decode_raw(NULL, o, data, size, &h, &s2, &e2);
    check(rc1 == rc2 && strcmp(e1.msg, e2.msg) == 0, "validate-only and delivery agree");
    check(rc1 == 0 || (e1.msg[0] != '\0' && e1.code != DW_EXPO_RW_OK), "errors carry a message");
    struct dw_expo_rw_opts single_opts = *o;
    single_opts.single_pass = true;
    struct seen single;
    seen_init(&single, o);
    struct dw_expo_rw_handler hs = {on_series, &single};
    struct dw_expo_rw_error es;
    int rcs = dw_expo_rw_decode_raw(d, &single_opts, data, size, &hs, NULL, &es);
    check(rcs == rc1 && strcmp(es.msg, e1.msg) == 0, "single pass fails the same way");
    check(rcs != 0 || same_text(&got, &single), "single pass delivers the same");
    seen_release(&single);
    if (rc2 != 0) {
        check(got.series == 0, "a rejected input delivers nothing");
    } else {
        check(s1.samples == got.samples && s2.samples == got.samples, "stats count deliveries");
        check(s1.series == got.series + s1.empty_series, "series = delivered + empty");
        check_reencoded(&got, d);
    }

    /* The same bytes as a snappy block decode the same way. */
    size_t clen = snappy_max_compressed_length(size);
    char *c = dw_malloc(clen);
    check(snappy_compress((const char *)data, size, c, &clen) == SNAPPY_OK, "compress");
    int rc3 = dw_expo_rw_decode(d, o, c, clen, &hz, NULL, &e3);
    if (size <= o->max_decoded_len)
        check(rc3 == rc2 && strcmp(e2.msg, e3.msg) == 0 && same_text(&got, &zipped),
              "snappy body decodes like the raw one");
    free(c);
    seen_release(&got);
    seen_release(&zipped);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct dw_expo_rw_decoder *d;
    if (!d)
        d = dw_expo_rw_decoder_new();
    struct dw_expo_rw_opts wide, tiny;
    dw_expo_rw_opts_init(&wide);
    dw_expo_rw_opts_init(&tiny);
    tiny.max_decoded_len = 512;
    tiny.max_series = 3;
    tiny.max_samples = 4;
    tiny.max_labels = 3;
    tiny.max_label_name_len = 4;
    tiny.max_label_value_len = 8;
    run(data, size, &wide, d);
    run(data, size, &tiny, d);

    /* The input as a snappy body itself: anything but a crash is fine. */
    struct dw_expo_rw_error e;
    struct seen any;
    seen_init(&any, &wide);
    struct dw_expo_rw_handler h = {on_series, &any};
    dw_expo_rw_decode(d, &tiny, data, size, &h, NULL, &e);
    seen_release(&any);
    return 0;
}

#ifdef DW_FUZZ_REPLAY
#include "replay.h"
#endif
