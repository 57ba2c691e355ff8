/*
 * probe_wire.h - protocol pieces the probes need that libcurl does not do
 * (internal to src/collect): DNS messages (RFC 1035), WebSocket handshake and
 * frames (RFC 6455), JSON path assertions over jansson, and reading CDN cache
 * headers (RFC 9211 Cache-Status, CF-Cache-Status, X-Cache, Age, Via).
 * Pure functions: no I/O, no allocation unless said.
 */
#ifndef DW_COLLECT_PROBE_WIRE_H
#define DW_COLLECT_PROBE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* ---- DNS ---- */

/** Query type from its name ("A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "SRV", "PTR"), -1 if
 * unknown. */
int dw_dns_type_parse(const char *name);
const char *dw_dns_type_name(int type);
/** Writes a standard recursive query (one question, class IN) for name/type with
 *  id into buf; returns its length, or -1 when the name is invalid or buf too small. */
int dw_dns_build_query(uint16_t id, const char *name, int type, uint8_t *buf, size_t cap);

struct dw_dns_answer {
    int type;
    uint32_t ttl;
    char data[256]; /* A/AAAA as text, names for CNAME/NS/PTR/MX ("10 mx.example."), TXT joined */
};
struct dw_dns_response {
    uint16_t id;
    int rcode; /* 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN ... */
    bool truncated;
    size_t nanswer, nauthority, nadditional;
    struct dw_dns_answer answers[16]; /* the first 16 answer records */
    size_t nanswers_kept;
};
/** Parses a response (bounds-checked, compression pointers with loop limits);
 *  0, or -1 with msg (>= 128 bytes) saying why. */
int dw_dns_parse_response(const uint8_t *buf, size_t len, struct dw_dns_response *out, char *msg,
                          size_t msgcap);
/** "NOERROR", "NXDOMAIN", ... ; -1 for unknown names. */
int dw_dns_rcode_parse(const char *name);
const char *dw_dns_rcode_name(int rcode);

/* ---- WebSocket ---- */

/** A fresh random Sec-WebSocket-Key (base64 of 16 bytes, 24 chars + NUL). */
void dw_ws_make_key(char key[25]);
/** The Sec-WebSocket-Accept value for a key (28 chars + NUL). */
void dw_ws_accept_for(const char *key, char accept[29]);
/** Writes the GET upgrade request for host/path (path includes the query). Returns its length or
 * -1. */
int dw_ws_build_handshake(const char *host, const char *path, const char *key,
                          const char *extra_headers /* "Name: v\r\n"..., may be NULL */, char *buf,
                          size_t cap);
/** Checks a complete response head (up to and incl. the blank line): status 101, Upgrade,
 *  Connection and the accept value. 0, or -1 with msg saying what is wrong. */
int dw_ws_check_handshake(const char *resp, size_t len, const char *key, char *msg, size_t msgcap);
/** Length of the response head incl. "\r\n\r\n" when buf holds it all, 0 when more is needed. */
size_t dw_ws_head_len(const char *buf, size_t len);

enum {
    DW_WS_CONT = 0,
    DW_WS_TEXT = 1,
    DW_WS_BINARY = 2,
    DW_WS_CLOSE = 8,
    DW_WS_PING = 9,
    DW_WS_PONG = 10
};
/** Encodes one client frame (FIN set, masked with a random key). Returns the length or -1. */
int dw_ws_encode(int opcode, const void *payload, size_t n, uint8_t *buf, size_t cap);
struct dw_ws_frame {
    int opcode;
    bool fin;
    const uint8_t *payload; /* into the input (server frames are unmasked) */
    size_t len;
};
/** Decodes one frame from buf: >0 bytes consumed, 0 need more, -1 protocol error
 *  (masked server frame, bad opcode, control frame > 125 bytes, payload over max_payload). */
int dw_ws_decode(const uint8_t *buf, size_t len, size_t max_payload, struct dw_ws_frame *f);

/* ---- JSON path assertions: `$.status == "ok"`, `$.items[0].n >= 3`, `$.db.up` ---- */

struct dw_jsonpath;
/** Compiles an assertion: a path ($, .key, ["key"], [index]), optionally followed by
 *  an operator (== != < <= > >= =~) and a JSON literal (string, number, true, false, null)
 *  or, for =~, a quoted regex. NULL with msg on a syntax error (column in msg). */
struct dw_jsonpath *dw_jsonpath_compile(const char *expr, char *msg, size_t msgcap);
void dw_jsonpath_free(struct dw_jsonpath **p);
/** True when the assertion holds; a bare path holds when it exists and is not
 *  false/null. On false, why (if not NULL) says: "$.status is \"degraded\", expected == \"ok\"". */
bool dw_jsonpath_check(const struct dw_jsonpath *p, const json_t *doc, char *why, size_t whycap);

/** True when the compiled text is a bare path (no operator), usable with dw_jsonpath_get. */
bool dw_jsonpath_is_path(const struct dw_jsonpath *p);
/** The value at the path as text (strings raw, numbers and booleans as JSON
 *  writes them, objects and arrays as compact JSON); NULL when missing or null.
 *  Heap, caller frees. The operator part of an assertion is ignored. */
char *dw_jsonpath_get(const struct dw_jsonpath *p, const json_t *doc);

/* ---- CDN cache headers ---- */

enum dw_cdn_cache { DW_CDN_UNKNOWN = 0, DW_CDN_HIT, DW_CDN_MISS };
struct dw_cdn_info {
    enum dw_cdn_cache cache;
    const char
        *source; /* which header decided: "cache-status", "cf-cache-status", "x-cache", "age" */
    double age_seconds; /* Age header, -1 when absent */
    char edge[64];      /* cache name from Cache-Status, or the first Via hop, or "" */
};
/** Feeds one response header line ("Name: value", no CRLF) into info; call for each
 *  header, after dw_cdn_info_init; later headers refine (Cache-Status wins over the rest). */
void dw_cdn_info_init(struct dw_cdn_info *info);
void dw_cdn_header(struct dw_cdn_info *info, const char *line, size_t len);
/** After all headers: applies fallbacks (Age > 0 alone means a hit). */
void dw_cdn_finish(struct dw_cdn_info *info);

#endif
