/*
 * ws.c - the client side of RFC 6455: handshake key and accept value, the
 * upgrade request, checking the server's answer, and frames.
 *
 * DESIGN
 * Everything here works on caller buffers; the probe owns the socket and
 * calls these as bytes arrive. The only state is the random source (core's
 * dw_random_bytes, libsodium) for the key and the masking keys, which RFC
 * 6455 section 10.3 wants unpredictable.
 *
 * The decoder is strict about what a server may send: no mask, no RSV bits
 * (we never offer extensions), known opcodes, control frames unfragmented and
 * at most 125 bytes, lengths in their shortest form, a close body of 0 or >= 2
 * bytes. The payload limit is checked as soon as the length is known, so a
 * frame announcing 2^62 bytes fails at once instead of waiting for more.
 * Fragment sequencing and UTF-8 of text frames are left to the caller, which
 * sees whole messages.
 *
 * The handshake check follows section 4.2.2 / 4.1: status 101, an Upgrade
 * header listing "websocket" and a Connection header listing "Upgrade"
 * (tokens compared case-insensitively, headers repeated or comma-joined), and
 * the exact accept value. Header lines may end in CRLF or LF.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "collect/probe_wire.h"
#include "core/core.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* ---- base64 (RFC 4648, with padding) ---- */

/* Writes 4 * ceil(n / 3) characters and a NUL into out. */
static void base64_encode(const uint8_t *in, size_t n, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        out[o++] = i + 1 < n ? abc[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? abc[v & 63] : '=';
    }
    out[o] = '\0';
}

/* ---- handshake ---- */

void dw_ws_make_key(char key[25])
{
    uint8_t nonce[16];
    dw_random_bytes(nonce, sizeof nonce);
    base64_encode(nonce, sizeof nonce, key);
}

void dw_ws_accept_for(const char *key, char accept[29])
{
    struct dw_sha1 s;
    uint8_t digest[DW_SHA1_LEN];
    dw_sha1_init(&s);
    dw_sha1_update(&s, key, strlen(key));
    dw_sha1_update(&s, WS_GUID, strlen(WS_GUID));
    dw_sha1_final(&s, digest);
    base64_encode(digest, sizeof digest, accept);
}

/* No controls, spaces or DEL: these would end or split the request line. */
static bool is_request_word(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* Extra headers must be whole "Name: value\r\n" lines and must not end the head early. */
static bool extra_headers_ok(const char *h)
{
    size_t n = strlen(h);
    if (n == 0)
        return true;
    if (n < 2 || h[n - 2] != '\r' || h[n - 1] != '\n' || h[0] == '\r' || strstr(h, "\r\n\r\n"))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (h[i] == '\n' && (i == 0 || h[i - 1] != '\r'))
            return false;
        if (h[i] == '\r' && h[i + 1] != '\n')
            return false;
    }
    return true;
}

int dw_ws_build_handshake(const char *host, const char *path, const char *key,
                          const char *extra_headers, char *buf, size_t cap)
{
    if (!path || !*path)
        path = "/";
    if (!extra_headers)
        extra_headers = "";
    if (!host || !*host || !key || !*key || path[0] != '/' || !is_request_word(host) ||
        !is_request_word(path) || !is_request_word(key) || !extra_headers_ok(extra_headers))
        return -1;
    int n = snprintf(buf, cap,
                     "GET %s HTTP/1.1\r\n"
                     "Host: %s\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "%s\r\n",
                     path, host, key, extra_headers);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    return n;
}

size_t dw_ws_head_len(const char *buf, size_t len)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    return end ? (size_t)(end - buf) + 4 : 0;
}

/* What the header lines said. */
struct ws_head {
    bool upgrade;    /* an Upgrade header lists "websocket" */
    bool connection; /* a Connection header lists "upgrade" */
    bool has_accept;
    char accept[64];
};

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Trims optional whitespace (and a CR) from both ends of [*s, *s + *n). */
static void trim(const char **s, size_t *n)
{
    while (*n > 0 && is_ows(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && (is_ows((*s)[*n - 1]) || (*s)[*n - 1] == '\r'))
        (*n)--;
}

/* Whether a comma-separated header value lists token (case-insensitive). */
static bool lists_token(const char *v, size_t n, const char *token)
{
    size_t tlen = strlen(token);
    while (n > 0) {
        const char *comma = memchr(v, ',', n);
        size_t item = comma ? (size_t)(comma - v) : n;
        const char *s = v;
        size_t len = item;
        trim(&s, &len);
        if (len == tlen && strncasecmp(s, token, tlen) == 0)
            return true;
        if (!comma)
            break;
        v = comma + 1;
        n -= item + 1;
    }
    return false;
}

static bool name_is(const char *name, size_t n, const char *want)
{
    return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

/* One header line (no line ending); -1 when it has no colon. */
static int head_line(struct ws_head *h, const char *line, size_t n)
{
    const char *colon = memchr(line, ':', n);
    if (!colon || colon == line)
        return -1;
    size_t nlen = (size_t)(colon - line);
    const char *v = colon + 1;
    size_t vlen = n - nlen - 1;
    trim(&v, &vlen);
    if (name_is(line, nlen, "upgrade"))
        h->upgrade = h->upgrade || lists_token(v, vlen, "websocket");
    else if (name_is(line, nlen, "connection"))
        h->connection = h->connection || lists_token(v, vlen, "upgrade");
    else if (name_is(line, nlen, "sec-websocket-accept")) {
        h->has_accept = true;
        size_t keep = vlen < sizeof h->accept - 1 ? vlen : sizeof h->accept - 1;
        memcpy(h->accept, v, keep);
        h->accept[keep] = '\0';
    }
    return 0;
}

/* "HTTP/1.1 101 Switching Protocols": the status code, or -1. */
static int status_code(const char *line, size_t n)
{
    if (n < 12 || memcmp(line, "HTTP/1.", 7) != 0 || line[7] < '0' || line[7] > '9' ||
        line[8] != ' ')
        return -1;
    int code = 0;
    for (size_t i = 9; i < 12; i++) {
        if (line[i] < '0' || line[i] > '9')
            return -1;
        code = code * 10 + (line[i] - '0');
    }
    if (n > 12 && line[12] != ' ' && line[12] != '\r')
        return -1;
    return code;
}

static int check_head_fields(const struct ws_head *h, const char *key, char *msg, size_t msgcap)
{
    char want[29];
    if (!h->upgrade) {
        snprintf(msg, msgcap, "handshake: no \"Upgrade: websocket\" header");
        return -1;
    }
    if (!h->connection) {
        snprintf(msg, msgcap, "handshake: no \"Connection: Upgrade\" header");
        return -1;
    }
    if (!h->has_accept) {
        snprintf(msg, msgcap, "handshake: no Sec-WebSocket-Accept header");
        return -1;
    }
    dw_ws_accept_for(key, want);
    if (strcmp(h->accept, want) != 0) {
        snprintf(msg, msgcap, "handshake: Sec-WebSocket-Accept is \"%.40s\", expected \"%s\"",
                 h->accept, want);
        return -1;
    }
    return 0;
}

/* The status line must say 101; *next is set to the first header line. */
static int check_status_line(const char *resp, size_t len, const char **next, char *msg,
                             size_t msgcap)
{
    const char *nl = memchr(resp, '\n', len);
    if (!nl) {
        snprintf(msg, msgcap, "handshake: incomplete status line");
        return -1;
    }
    size_t n = (size_t)(nl - resp);
    int code = status_code(resp, n);
    if (code < 0) {
        if (n > 0 && resp[n - 1] == '\r')
            n--;
        snprintf(msg, msgcap, "handshake: malformed status line \"%.*s\"", (int)(n < 40 ? n : 40),
                 resp);
        return -1;
    }
    if (code != 101) {
        snprintf(msg, msgcap, "handshake: status %d, expected 101 Switching Protocols", code);
        return -1;
    }
    *next = nl + 1;
    return 0;
}

int dw_ws_check_handshake(const char *resp, size_t len, const char *key, char *msg, size_t msgcap)
{
    struct ws_head h = {0};
    const char *p, *nl, *end = resp + len;
    if (check_status_line(resp, len, &p, msg, msgcap) != 0)
        return -1;
    for (; p < end; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (n == 0)
            return check_head_fields(&h, key, msg, msgcap);
        if (head_line(&h, p, n) != 0) {
            snprintf(msg, msgcap, "handshake: malformed header line \"%.*s\"",
                     (int)(n < 40 ? n : 40), p);
            return -1;
        }
        if (!nl)
            break;
    }
    snprintf(msg, msgcap, "handshake: response head does not end with a blank line");
    return -1;
}

/* ---- frames ---- */

static bool opcode_known(int op)
{
    return op == DW_WS_CONT || op == DW_WS_TEXT || op == DW_WS_BINARY || op == DW_WS_CLOSE ||
           op == DW_WS_PING || op == DW_WS_PONG;
}

static bool opcode_is_control(int op)
{
    return op >= DW_WS_CLOSE;
}

/* Writes the length field after the first byte; returns its size (1, 3 or 9). */
static size_t put_length(uint8_t *p, uint8_t maskbit, size_t n)
{
    if (n < 126) {
        p[0] = maskbit | (uint8_t)n;
        return 1;
    }
    if (n <= 0xFFFF) {
        p[0] = maskbit | 126;
        p[1] = (uint8_t)(n >> 8);
        p[2] = (uint8_t)n;
        return 3;
    }
    p[0] = maskbit | 127;
    for (unsigned i = 0; i < 8; i++)
        p[1 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
    return 9;
}

int dw_ws_encode(int opcode, const void *payload, size_t n, uint8_t *buf, size_t cap)
{
    if (!opcode_known(opcode) || (opcode_is_control(opcode) && n > 125))
        return -1;
    size_t head = 2 + (n < 126 ? 0 : n <= 0xFFFF ? 2 : 8) + 4;
    if (n > (size_t)INT_MAX - head || head + n > cap)
        return -1;
    buf[0] = 0x80 | (uint8_t)opcode;
    size_t o = 1 + put_length(buf + 1, 0x80, n);
    uint8_t *mask = buf + o;
    dw_random_bytes(mask, 4);
    o += 4;
    const uint8_t *in = payload;
    for (size_t i = 0; i < n; i++)
        buf[o + i] = in[i] ^ mask[i & 3];
    return (int)(o + n);
}

/* Reads the payload length; bytes of header so far in *head. 0 need more, -1 bad. */
static int read_length(const uint8_t *buf, size_t len, size_t *head, uint64_t *n)
{
    unsigned len7 = buf[1] & 0x7F;
    size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    if (len < 2 + ext)
        return 0;
    *n = len7;
    if (ext > 0) {
        *n = 0;
        for (size_t i = 0; i < ext; i++)
            *n = *n << 8 | buf[2 + i];
        /* Shortest form only, and the 64-bit form has its top bit clear. */
        if ((ext == 2 && *n < 126) || (ext == 8 && (*n <= 0xFFFF || *n >> 63)))
            return -1;
    }
    *head = 2 + ext;
    return 1;
}

int dw_ws_decode(const uint8_t *buf, size_t len, size_t max_payload, struct dw_ws_frame *f)
{
    if (len < 2)
        return 0;
    bool fin = buf[0] & 0x80;
    int op = buf[0] & 0x0F;
    if ((buf[0] & 0x70) || !opcode_known(op) || (buf[1] & 0x80))
        return -1;
    size_t head;
    uint64_t n;
    int rc = read_length(buf, len, &head, &n);
    if (rc <= 0)
        return rc;
    if (opcode_is_control(op) && (!fin || n > 125))
        return -1;
    if ((op == DW_WS_CLOSE && n == 1) || n > max_payload || n > (uint64_t)INT_MAX - head)
        return -1;
    if (len - head < n)
        return 0;
    f->opcode = op;
    f->fin = fin;
    f->payload = buf + head;
    f->len = (size_t)n;
    return (int)(head + n);
}
