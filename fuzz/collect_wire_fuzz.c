/*
 * collect_wire_fuzz.c - libFuzzer driver for the probes' protocol helpers
 * (src/collect/probe_wire.h): DNS responses, WebSocket frames and handshake
 * heads, JSON path assertions and CDN header lines.
 *
 * DESIGN
 * Every input goes to every parser, read the way that parser sees bytes:
 *   - as a DNS response; on success the kept answers are at most 16 and at
 *     most the header's count, each data string ends inside its field; on
 *     failure the message is not empty. The input's first line is also used
 *     as a query name: a built query, with the QR bit set, must parse back
 *     with no answers;
 *   - as a stream of server frames with three payload limits; a decoded frame
 *     lies inside the input and respects the limit and the control frame
 *     rules. The input is also encoded as a client frame, which the decoder
 *     must reject while masked and return byte for byte once unmasked;
 *   - as a handshake response head (checked against a fixed key);
 *   - as a JSON path (up to the first NUL); a compiled path is checked
 *     against a fixed document and against the input read as JSON, and an
 *     error always names a column;
 *   - as header lines for the CDN reader; the result stays within its enum,
 *     its source names and its edge buffer.
 * Any broken invariant aborts (a crash for libFuzzer). Built with
 * -DDW_FUZZ_REPLAY it is a plain program that replays files and directories
 * given on the command line (the seed corpus in CI).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect/probe_wire.h"
#include "core/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "collect_wire_fuzz: invariant broken: %s\n", what);
        abort();
    }
}

static void fuzz_dns_response(const uint8_t *data, size_t size)
{
    struct dw_dns_response r;
    char msg[256] = "";
    if (dw_dns_parse_response(data, size, &r, msg, sizeof msg) != 0) {
        check(msg[0] != '\0', "a DNS error has a message");
        return;
    }
    check(r.nanswers_kept <= DW_ARRAY_LEN(r.answers), "at most 16 answers kept");
    check(r.nanswers_kept <= r.nanswer, "kept answers within the count");
    for (size_t i = 0; i < r.nanswers_kept; i++)
        check(memchr(r.answers[i].data, '\0', sizeof r.answers[i].data) != NULL,
              "answer data is terminated");
}

static void fuzz_dns_query(const uint8_t *data, size_t size)
{
    char name[300];
    size_t n = 0;
    while (n < size && n < sizeof name - 1 && data[n] != '\n' && data[n] != '\0')
        n++;
    memcpy(name, data, n);
    name[n] = '\0';
    uint8_t q[512];
    int len = dw_dns_build_query(0x4242, name, 16, q, sizeof q);
    if (len < 0)
        return;
    check(len >= 17 && len <= 12 + 255 + 4, "query length");
    q[2] |= 0x80;
    struct dw_dns_response r;
    char msg[256];
    check(dw_dns_parse_response(q, (size_t)len, &r, msg, sizeof msg) == 0, "own query parses");
    check(r.id == 0x4242 && r.nanswer == 0, "own query reads back");
}

static void fuzz_ws_frames(const uint8_t *data, size_t size, size_t max)
{
    size_t off = 0;
    while (off < size) {
        struct dw_ws_frame f;
        int rc = dw_ws_decode(data + off, size - off, max, &f);
        if (rc <= 0)
            return;
        check((size_t)rc <= size - off, "a frame lies inside the input");
        check(f.payload >= data + off && f.payload + f.len == data + off + (size_t)rc,
              "the payload ends the frame");
        check(f.len <= max, "payload limit");
        check(f.opcode < DW_WS_CLOSE || (f.fin && f.len <= 125), "control frame rules");
        off += (size_t)rc;
    }
}

static void fuzz_ws_roundtrip(const uint8_t *data, size_t size)
{
    size_t cap = size + 14;
    uint8_t *buf = dw_malloc(cap);
    int len = dw_ws_encode(DW_WS_BINARY, data, size, buf, cap);
    check(len > 0 && (size_t)len == size + 6 +
                                        (size < 126       ? 0
                                         : size <= 0xFFFF ? 2
                                                          : 8),
          "encoded length");
    struct dw_ws_frame f;
    check(dw_ws_decode(buf, (size_t)len, SIZE_MAX, &f) == -1, "a masked frame is rejected");
    size_t head = (size_t)len - size - 4;
    uint8_t mask[4];
    memcpy(mask, buf + head, 4);
    buf[1] &= 0x7F;
    for (size_t i = 0; i < size; i++)
        buf[head + 4 + i] ^= mask[i & 3];
    memmove(buf + head, buf + head + 4, size);
    check(dw_ws_decode(buf, (size_t)len - 4, SIZE_MAX, &f) == len - 4, "unmasked frame decodes");
    check(f.len == size && (size == 0 || memcmp(f.payload, data, size) == 0), "same payload");
    free(buf);
}

static void fuzz_ws_head(const uint8_t *data, size_t size)
{
    char msg[256] = "";
    size_t head = dw_ws_head_len((const char *)data, size);
    check(head <= size, "head within the input");
    int rc = dw_ws_check_handshake((const char *)data, size, "dGhlIHNhbXBsZSBub25jZQ==", msg,
                                   sizeof msg);
    check(rc == 0 || msg[0] != '\0', "a handshake error has a message");
}

static void fuzz_jsonpath(const uint8_t *data, size_t size)
{
    char *expr = dw_strndup((const char *)data, size);
    char msg[256] = "", why[256];
    struct dw_jsonpath *p = dw_jsonpath_compile(expr, msg, sizeof msg);
    if (!p) {
        check(strncmp(msg, "column ", 7) == 0, "a syntax error names its column");
        free(expr);
        return;
    }
    json_t *fixed = json_loads("{\"a\":[1,\"x\",{\"b\":null}],\"s\":\"ok\",\"n\":2.5}", 0, NULL);
    json_t *own = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    const json_t *docs[] = {fixed, own};
    for (size_t i = 0; i < DW_ARRAY_LEN(docs); i++) {
        why[0] = '\0';
        if (!dw_jsonpath_check(p, docs[i], why, sizeof why))
            check(why[0] != '\0', "a failed check says why");
    }
    json_decref(fixed);
    json_decref(own);
    dw_jsonpath_free(&p);
    check(p == NULL, "free clears the pointer");
    free(expr);
}

static void fuzz_cdn(const uint8_t *data, size_t size)
{
    struct dw_cdn_info info;
    dw_cdn_info_init(&info);
    size_t start = 0;
    for (size_t i = 0; i <= size; i++)
        if (i == size || data[i] == '\n') {
            dw_cdn_header(&info, (const char *)data + start, i - start);
            start = i + 1;
        }
    dw_cdn_finish(&info);
    check(info.cache == DW_CDN_UNKNOWN || info.cache == DW_CDN_HIT || info.cache == DW_CDN_MISS,
          "cache state in its enum");
    check((info.cache == DW_CDN_UNKNOWN) == (info.source == NULL), "source iff decided");
    static const char *const sources[] = {"cache-status", "cf-cache-status", "x-cache", "age"};
    bool known = info.source == NULL;
    for (size_t i = 0; i < DW_ARRAY_LEN(sources); i++)
        known = known || (info.source && strcmp(info.source, sources[i]) == 0);
    check(known, "source is one of the header names");
    check(memchr(info.edge, '\0', sizeof info.edge) != NULL, "edge is terminated");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_dns_response(data, size);
    fuzz_dns_query(data, size);
    fuzz_ws_frames(data, size, SIZE_MAX);
    fuzz_ws_frames(data, size, 125);
    fuzz_ws_frames(data, size, 0);
    if (size <= 1 << 17)
        fuzz_ws_roundtrip(data, size);
    fuzz_ws_head(data, size);
    fuzz_jsonpath(data, size);
    fuzz_cdn(data, size);
    return 0;
}

#ifdef DW_FUZZ_REPLAY
#include "replay.h"
#endif
