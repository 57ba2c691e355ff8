/*
 * dns.c - DNS messages (RFC 1035) for the dns probe: one query out, the
 * response read back into struct dw_dns_response.
 *
 * DESIGN
 * The response is untrusted input read straight off a UDP socket, so every
 * read goes through bounds checks against the message length, and names are
 * followed through compression pointers (section 4.1.4) with two limits that
 * together make every walk finite: at most MAX_POINTER_HOPS pointers per
 * name and at most 255 bytes of name on the wire (section 3.1). A pointer
 * loop, a pointer past the end or a name that never ends is an error with
 * the offset where it happened, never a hang.
 *
 * Parsed: the header, the question section (skipped, but bounds-checked),
 * every answer record (all of them are checked; the first 16 are kept with
 * their data in presentation form). Authority and additional records are
 * only counted from the header, and EDNS extended rcodes are not merged in.
 * A response with the TC bit set may have been cut short by the server, so
 * there a broken answer section ends the parse without an error: the caller
 * sees truncated and retries over TCP.
 *
 * Presentation form (RFC 1035 section 5.1): names end in "." and escape
 * ".", space and "\" inside a label with a backslash, other bytes outside
 * 0x20..0x7e as \DDD. TXT strings are joined without separators (the way
 * SPF reads them) with the same escapes, except that spaces stay. SOA and
 * SRV read like dig's output, and types we do not know are shown as RFC
 * 3597 "\# <len> <hex>". Data longer than the 255 characters of
 * dw_dns_answer.data is cut.
 *
 * Query names are taken as written, with or without the final dot ("." is
 * the root): labels of 1..63 bytes, 255 bytes on the wire, no escapes, so no
 * spaces, control bytes or backslashes. Any type 1..65535 may be asked for.
 *
 * The name tables answer "UNKNOWN" for codes they do not know and parse
 * names case-insensitively. Pure functions, any thread.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "collect/probe_wire.h"
#include "core/core.h"

#define HEADER_LEN 12
#define MAX_NAME_WIRE 255
#define MAX_LABEL 63
#define MAX_POINTER_HOPS 64
#define CLASS_IN 1
#define FLAG_QR 0x8000
#define FLAG_TC 0x0200
#define FLAG_RD 0x0100

enum {
    T_A = 1,
    T_NS = 2,
    T_CNAME = 5,
    T_SOA = 6,
    T_PTR = 12,
    T_MX = 15,
    T_TXT = 16,
    T_AAAA = 28,
    T_SRV = 33,
};

struct code_name {
    int code;
    const char *name;
};

static const struct code_name types[] = {
    {T_A, "A"},   {T_NS, "NS"},   {T_CNAME, "CNAME"}, {T_SOA, "SOA"}, {T_PTR, "PTR"},
    {T_MX, "MX"}, {T_TXT, "TXT"}, {T_AAAA, "AAAA"},   {T_SRV, "SRV"},
};

static const struct code_name rcodes[] = {
    {0, "NOERROR"}, {1, "FORMERR"}, {2, "SERVFAIL"}, {3, "NXDOMAIN"},
    {4, "NOTIMP"},  {5, "REFUSED"}, {6, "YXDOMAIN"}, {7, "YXRRSET"},
    {8, "NXRRSET"}, {9, "NOTAUTH"}, {10, "NOTZONE"},
};

static int code_parse(const struct code_name *t, size_t n, const char *name)
{
    for (size_t i = 0; name && i < n; i++)
        if (strcasecmp(t[i].name, name) == 0)
            return t[i].code;
    return -1;
}

static const char *code_name(const struct code_name *t, size_t n, int code)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].code == code)
            return t[i].name;
    return "UNKNOWN";
}

int dw_dns_type_parse(const char *name)
{
    return code_parse(types, DW_ARRAY_LEN(types), name);
}

const char *dw_dns_type_name(int type)
{
    return code_name(types, DW_ARRAY_LEN(types), type);
}

int dw_dns_rcode_parse(const char *name)
{
    return code_parse(rcodes, DW_ARRAY_LEN(rcodes), name);
}

const char *dw_dns_rcode_name(int rcode)
{
    return code_name(rcodes, DW_ARRAY_LEN(rcodes), rcode);
}

/* ---- the query ---- */

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Labels are taken as written: no escapes, no spaces or control bytes. */
static bool label_byte_ok(unsigned char c)
{
    return c > 0x20 && c != 0x7f && c != '\\';
}

/* Writes name in wire form at buf; returns its length or -1. */
static int put_name(const char *name, uint8_t *buf, size_t cap)
{
    size_t o = 0;
    if (strcmp(name, ".") == 0)
        name = "";
    while (*name) {
        size_t n = strcspn(name, ".");
        if (n == 0 || n > MAX_LABEL || o + 1 + n + 1 > cap || o + 1 + n + 1 > MAX_NAME_WIRE)
            return -1;
        buf[o++] = (uint8_t)n;
        for (size_t i = 0; i < n; i++) {
            if (!label_byte_ok((unsigned char)name[i]))
                return -1;
            buf[o++] = (uint8_t)name[i];
        }
        name += n;
        if (*name == '.')
            name++;
    }
    if (o + 1 > cap)
        return -1;
    buf[o++] = 0;
    return (int)o;
}

int dw_dns_build_query(uint16_t id, const char *name, int type, uint8_t *buf, size_t cap)
{
    if (!name || !*name || type < 1 || type > 0xFFFF || cap < HEADER_LEN + 4)
        return -1;
    memset(buf, 0, HEADER_LEN);
    put16(buf, id);
    put16(buf + 2, FLAG_RD);
    put16(buf + 4, 1);
    int n = put_name(name, buf + HEADER_LEN, cap - HEADER_LEN - 4);
    if (n < 0)
        return -1;
    size_t o = HEADER_LEN + (size_t)n;
    put16(buf + o, (unsigned)type);
    put16(buf + o + 2, CLASS_IN);
    return (int)(o + 4);
}

/* ---- presentation text, cut silently at its capacity ---- */

struct text {
    char *p; /* NULL to discard */
    size_t cap;
    size_t len;
};

static void text_init(struct text *t, char *p, size_t cap)
{
    t->p = p;
    t->cap = cap;
    t->len = 0;
    if (p && cap > 0)
        p[0] = '\0';
}

static void text_putc(struct text *t, char c)
{
    if (t->p && t->len + 1 < t->cap) {
        t->p[t->len] = c;
        t->p[t->len + 1] = '\0';
    }
    t->len++;
}

static void text_puts(struct text *t, const char *s)
{
    while (*s)
        text_putc(t, *s++);
}

static void text_printf(struct text *t, const char *fmt, ...) DW_PRINTF(2, 3);
static void text_printf(struct text *t, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    text_puts(t, tmp);
}

/* One byte of a label or character-string; "special" bytes get a backslash. */
static void text_put_escaped(struct text *t, unsigned char c, const char *special)
{
    if (c < 0x20 || c > 0x7e) {
        text_printf(t, "\\%03u", c);
        return;
    }
    if (strchr(special, c))
        text_putc(t, '\\');
    text_putc(t, (char)c);
}

/* ---- reading the response ---- */

struct msg {
    const uint8_t *buf;
    size_t len;
    const char *why; /* set by fail() */
    size_t at;       /* offset of the problem */
};

static int fail(struct msg *m, size_t at, const char *why)
{
    m->why = why;
    m->at = at;
    return -1;
}

static unsigned get16(const struct msg *m, size_t off)
{
    return (unsigned)m->buf[off] << 8 | m->buf[off + 1];
}

static uint32_t get32(const struct msg *m, size_t off)
{
    return (uint32_t)get16(m, off) << 16 | get16(m, off + 2);
}

/*
 * Reads the (possibly compressed) name at *off into t. *off moves past the
 * name as stored there: its labels up to the root or up to and including
 * the first pointer.
 */
static int read_name(struct msg *m, size_t *off, struct text *t)
{
    size_t pos = *off, wire = 0;
    unsigned hops = 0;
    bool jumped = false;
    for (;;) {
        if (pos >= m->len)
            return fail(m, pos, "name runs past the end of the message");
        uint8_t c = m->buf[pos];
        if ((c & 0xC0) == 0xC0) {
            if (pos + 1 >= m->len)
                return fail(m, pos, "compression pointer cut short");
            if (++hops > MAX_POINTER_HOPS)
                return fail(m, pos, "compression pointer loop");
            if (!jumped)
                *off = pos + 2;
            jumped = true;
            pos = (size_t)(c & 0x3F) << 8 | m->buf[pos + 1];
            continue;
        }
        if (c & 0xC0)
            return fail(m, pos, "unsupported label type");
        wire += (size_t)c + 1;
        if (wire > MAX_NAME_WIRE)
            return fail(m, pos, "name longer than 255 bytes");
        if (c == 0)
            break;
        if (pos + 1 + c > m->len)
            return fail(m, pos, "label runs past the end of the message");
        for (size_t i = 0; i < c; i++)
            text_put_escaped(t, m->buf[pos + 1 + i], ". \\");
        text_putc(t, '.');
        pos += 1 + (size_t)c;
    }
    if (wire == 1)
        text_putc(t, '.');
    if (!jumped)
        *off = pos + 1;
    return 0;
}

/* A name that must fill the rest of the record data exactly. */
static int read_last_name(struct msg *m, size_t off, size_t end, struct text *t)
{
    if (read_name(m, &off, t) != 0)
        return -1;
    return off == end ? 0 : fail(m, off, "record data length does not match its contents");
}

static int rdata_address(struct msg *m, int family, size_t off, size_t n, struct text *t)
{
    char tmp[INET6_ADDRSTRLEN];
    if (n != (family == AF_INET ? 4u : 16u))
        return fail(m, off,
                    family == AF_INET ? "A record data is not 4 bytes"
                                      : "AAAA record data is not 16 bytes");
    inet_ntop(family, m->buf + off, tmp, sizeof tmp);
    text_puts(t, tmp);
    return 0;
}

static int rdata_txt(struct msg *m, size_t off, size_t end, struct text *t)
{
    if (off == end)
        return fail(m, off, "TXT record without a string");
    while (off < end) {
        size_t n = m->buf[off++];
        if (n > end - off)
            return fail(m, off - 1, "TXT string runs past the record data");
        for (size_t i = 0; i < n; i++)
            text_put_escaped(t, m->buf[off + i], "\\");
        off += n;
    }
    return 0;
}

/* MX "10 mx.example." and SRV "10 5 5060 sip.example.": numbers, then a name. */
static int rdata_numbers_name(struct msg *m, size_t off, size_t end, size_t nnum, struct text *t)
{
    if (end - off < 2 * nnum + 1)
        return fail(m, off, "record data too short");
    for (size_t i = 0; i < nnum; i++, off += 2)
        text_printf(t, "%u ", get16(m, off));
    return read_last_name(m, off, end, t);
}

/* "ns.example. admin.example. serial refresh retry expire minimum" */
static int rdata_soa(struct msg *m, size_t off, size_t end, struct text *t)
{
    for (int i = 0; i < 2; i++) {
        if (read_name(m, &off, t) != 0)
            return -1;
        text_putc(t, ' ');
    }
    if (off > end || end - off != 20)
        return fail(m, off, "record data length does not match its contents");
    for (size_t i = 0; i < 5; i++)
        text_printf(t, i ? " %u" : "%u", (unsigned)get32(m, off + 4 * i));
    return 0;
}

static int rdata_unknown(const struct msg *m, size_t off, size_t n, struct text *t)
{
    text_printf(t, "\\# %zu", n);
    if (n > 0)
        text_putc(t, ' ');
    for (size_t i = 0; i < n; i++)
        text_printf(t, "%02x", m->buf[off + i]);
    return 0;
}

static int read_rdata(struct msg *m, int type, size_t off, size_t n, struct text *t)
{
    size_t end = off + n;
    switch (type) {
    case T_A: return rdata_address(m, AF_INET, off, n, t);
    case T_AAAA: return rdata_address(m, AF_INET6, off, n, t);
    case T_CNAME:
    case T_NS:
    case T_PTR: return read_last_name(m, off, end, t);
    case T_MX: return rdata_numbers_name(m, off, end, 1, t);
    case T_SRV: return rdata_numbers_name(m, off, end, 3, t);
    case T_TXT: return rdata_txt(m, off, end, t);
    case T_SOA: return rdata_soa(m, off, end, t);
    default: return rdata_unknown(m, off, n, t);
    }
}

/* One resource record at *off; its type, TTL and data go to a (always written). */
static int read_record(struct msg *m, size_t *off, struct dw_dns_answer *a)
{
    struct text t;
    text_init(&t, NULL, 0);
    if (read_name(m, off, &t) != 0)
        return -1;
    if (m->len - *off < 10)
        return fail(m, *off, "record header runs past the end of the message");
    a->type = (int)get16(m, *off);
    a->ttl = get32(m, *off + 4);
    if (a->ttl > INT32_MAX) /* RFC 2181 section 8 */
        a->ttl = 0;
    size_t n = get16(m, *off + 8);
    *off += 10;
    if (n > m->len - *off)
        return fail(m, *off, "record data runs past the end of the message");
    text_init(&t, a->data, sizeof a->data);
    if (read_rdata(m, a->type, *off, n, &t) != 0)
        return -1;
    *off += n;
    return 0;
}

static int skip_questions(struct msg *m, size_t *off, unsigned count)
{
    struct text t;
    text_init(&t, NULL, 0);
    for (unsigned i = 0; i < count; i++) {
        if (read_name(m, off, &t) != 0)
            return -1;
        if (m->len - *off < 4)
            return fail(m, *off, "question runs past the end of the message");
        *off += 4;
    }
    return 0;
}

static int read_header(struct msg *m, struct dw_dns_response *out)
{
    if (m->len < HEADER_LEN)
        return fail(m, 0, "message shorter than the 12-byte header");
    unsigned flags = get16(m, 2);
    if (!(flags & FLAG_QR))
        return fail(m, 2, "not a response (QR bit clear)");
    out->id = (uint16_t)get16(m, 0);
    out->truncated = flags & FLAG_TC;
    out->rcode = (int)(flags & 0x0F);
    out->nanswer = get16(m, 6);
    out->nauthority = get16(m, 8);
    out->nadditional = get16(m, 10);
    return 0;
}

static int read_answers(struct msg *m, size_t off, struct dw_dns_response *out, size_t *failed)
{
    for (size_t i = 0; i < out->nanswer; i++) {
        struct dw_dns_answer a;
        if (read_record(m, &off, &a) != 0) {
            *failed = i;
            return -1;
        }
        if (out->nanswers_kept < DW_ARRAY_LEN(out->answers))
            out->answers[out->nanswers_kept++] = a;
    }
    return 0;
}

int dw_dns_parse_response(const uint8_t *buf, size_t len, struct dw_dns_response *out, char *msg,
                          size_t msgcap)
{
    struct msg m = {.buf = buf, .len = len};
    size_t off = HEADER_LEN, failed = 0;
    memset(out, 0, sizeof *out);
    if (read_header(&m, out) != 0) {
        snprintf(msg, msgcap, "header: %s (%zu bytes)", m.why, len);
        return -1;
    }
    if (skip_questions(&m, &off, get16(&m, 4)) != 0) {
        snprintf(msg, msgcap, "question: %s at offset %zu", m.why, m.at);
        return -1;
    }
    if (read_answers(&m, off, out, &failed) != 0 && !out->truncated) {
        snprintf(msg, msgcap, "answer %zu: %s at offset %zu", failed + 1, m.why, m.at);
        return -1;
    }
    return 0;
}
