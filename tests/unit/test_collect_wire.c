/*
 * Unit tests of the probes' protocol helpers (src/collect/probe_wire.h):
 * DNS queries byte for byte and responses built by hand (compression,
 * pointer loops, truncation, every record type), SHA-1 vectors, the RFC 6455
 * handshake and frames of every length class, JSON path assertions with
 * their messages and syntax errors, and CDN cache header combinations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect/probe_wire.h"
#include "core/core.h"
#include "harness.h"

/* ---- DNS: a tiny message builder ---- */

struct pkt {
    uint8_t b[2048];
    size_t n;
};

static void p8(struct pkt *p, unsigned v)
{
    p->b[p->n++] = (uint8_t)v;
}

static void p16(struct pkt *p, unsigned v)
{
    p8(p, v >> 8);
    p8(p, v & 0xFF);
}

static void p32(struct pkt *p, uint32_t v)
{
    p16(p, v >> 16);
    p16(p, v & 0xFFFF);
}

static void pbytes(struct pkt *p, const void *d, size_t n)
{
    memcpy(p->b + p->n, d, n);
    p->n += n;
}

/* Uncompressed name "a.b" -> 1 a 1 b 0; "" is the root. */
static void pname(struct pkt *p, const char *name)
{
    while (*name) {
        size_t n = strcspn(name, ".");
        p8(p, (unsigned)n);
        pbytes(p, name, n);
        name += n;
        if (*name == '.')
            name++;
    }
    p8(p, 0);
}

static void pptr(struct pkt *p, unsigned off)
{
    p16(p, 0xC000 | off);
}

static void pheader(struct pkt *p, unsigned id, unsigned flags, unsigned qd, unsigned an)
{
    p->n = 0;
    p16(p, id);
    p16(p, flags);
    p16(p, qd);
    p16(p, an);
    p16(p, 0);
    p16(p, 0);
}

/* Header plus the question www.example.com/A (its name is at offset 12). */
static void presponse(struct pkt *p, unsigned flags, unsigned an)
{
    pheader(p, 0xBEEF, flags, 1, an);
    pname(p, "www.example.com");
    p16(p, 1);
    p16(p, 1);
}

/* Record header with the owner name compressed to the question's name. */
static void prr(struct pkt *p, unsigned type, uint32_t ttl, unsigned rdlen)
{
    pptr(p, 12);
    p16(p, type);
    p16(p, 1);
    p32(p, ttl);
    p16(p, rdlen);
}

static int parse(const struct pkt *p, struct dw_dns_response *r, char *msg)
{
    return dw_dns_parse_response(p->b, p->n, r, msg, 256);
}

TEST(dns_type_and_rcode_names)
{
    const char *names[] = {"A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "SRV", "PTR"};
    const int codes[] = {1, 28, 5, 15, 16, 2, 6, 33, 12};
    for (size_t i = 0; i < DW_ARRAY_LEN(names); i++) {
        ASSERT_EQ_INT(dw_dns_type_parse(names[i]), codes[i]);
        ASSERT_EQ_STR(dw_dns_type_name(codes[i]), names[i]);
    }
    ASSERT_EQ_INT(dw_dns_type_parse("aaaa"), 28);
    ASSERT_EQ_INT(dw_dns_type_parse("AXFR"), -1);
    ASSERT_EQ_INT(dw_dns_type_parse(""), -1);
    ASSERT_EQ_INT(dw_dns_type_parse(NULL), -1);
    ASSERT_EQ_STR(dw_dns_type_name(99), "UNKNOWN");
    ASSERT_EQ_INT(dw_dns_rcode_parse("NOERROR"), 0);
    ASSERT_EQ_INT(dw_dns_rcode_parse("servfail"), 2);
    ASSERT_EQ_INT(dw_dns_rcode_parse("NXDOMAIN"), 3);
    ASSERT_EQ_INT(dw_dns_rcode_parse("REFUSED"), 5);
    ASSERT_EQ_INT(dw_dns_rcode_parse("BOGUS"), -1);
    ASSERT_EQ_STR(dw_dns_rcode_name(3), "NXDOMAIN");
    ASSERT_EQ_STR(dw_dns_rcode_name(0), "NOERROR");
    ASSERT_EQ_STR(dw_dns_rcode_name(15), "UNKNOWN");
}

TEST(dns_build_query_exact_bytes)
{
    static const uint8_t want[] = {
        0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* header, RD */
        3,    'w',  'w',  'w',  7,    'e',  'x',  'a',  'm',  'p',  'l',  'e',
        3,    'c',  'o',  'm',  0,    0x00, 0x1C, 0x00, 0x01, /* AAAA, IN */
    };
    uint8_t buf[512];
    ASSERT_EQ_INT(dw_dns_build_query(0x1234, "www.example.com", 28, buf, sizeof buf), sizeof want);
    ASSERT_TRUE(memcmp(buf, want, sizeof want) == 0);
    /* The trailing dot of an absolute name changes nothing. */
    uint8_t buf2[512];
    ASSERT_EQ_INT(dw_dns_build_query(0x1234, "www.example.com.", 28, buf2, sizeof buf2),
                  sizeof want);
    ASSERT_TRUE(memcmp(buf2, want, sizeof want) == 0);
    /* Exactly the needed capacity works, one byte less does not. */
    ASSERT_EQ_INT(dw_dns_build_query(0x1234, "www.example.com", 28, buf, sizeof want), sizeof want);
    for (size_t cap = 0; cap < sizeof want; cap++)
        ASSERT_EQ_INT(dw_dns_build_query(0x1234, "www.example.com", 28, buf, cap), -1);
}

TEST(dns_build_query_root_srv_and_invalid_names)
{
    uint8_t buf[600];
    ASSERT_EQ_INT(dw_dns_build_query(1, ".", 2, buf, sizeof buf), 17);
    ASSERT_EQ_INT(buf[12], 0);
    ASSERT_EQ_INT(buf[14], 2);
    int n = dw_dns_build_query(7, "_sip._tcp.example.com", 33, buf, sizeof buf);
    ASSERT_EQ_INT(n, 12 + 23 + 4);
    ASSERT_TRUE(memcmp(buf + 12, "\4_sip\4_tcp\7example\3com", 23) == 0);

    char label63[64], label64[65], longname[300];
    memset(label63, 'a', 63);
    label63[63] = '\0';
    memset(label64, 'a', 64);
    label64[64] = '\0';
    ASSERT_TRUE(dw_dns_build_query(1, label63, 1, buf, sizeof buf) > 0);
    ASSERT_EQ_INT(dw_dns_build_query(1, label64, 1, buf, sizeof buf), -1);
    /* 4 labels of 63 = 4 * 64 + 1 = 257 wire bytes: too long; 3 labels + 61 fits 255. */
    snprintf(longname, sizeof longname, "%s.%s.%s.%s", label63, label63, label63, label63);
    ASSERT_EQ_INT(dw_dns_build_query(1, longname, 1, buf, sizeof buf), -1);
    snprintf(longname, sizeof longname, "%s.%s.%s.%.61s", label63, label63, label63, label63);
    ASSERT_EQ_INT(dw_dns_build_query(1, longname, 1, buf, sizeof buf), 12 + 255 + 4);
    const char *bad[] = {"", "a..b", ".a", "a b.com", "tab\t.com", "back\\slash.com", ".."};
    for (size_t i = 0; i < DW_ARRAY_LEN(bad); i++)
        ASSERT_EQ_INT(dw_dns_build_query(1, bad[i], 1, buf, sizeof buf), -1);
    ASSERT_EQ_INT(dw_dns_build_query(1, NULL, 1, buf, sizeof buf), -1);
    ASSERT_EQ_INT(dw_dns_build_query(1, "a.com", 0, buf, sizeof buf), -1);
    ASSERT_EQ_INT(dw_dns_build_query(1, "a.com", 65536, buf, sizeof buf), -1);
}

TEST(dns_parse_a_with_compressed_owner)
{
    struct pkt p;
    struct dw_dns_response r;
    char msg[256] = "";
    presponse(&p, 0x8180, 2);
    prr(&p, 1, 300, 4);
    pbytes(&p, "\x5d\xb8\xd8\x22", 4);
    prr(&p, 1, 60, 4);
    pbytes(&p, "\x0a\x00\x00\x01", 4);
    ASSERT_EQ_INT(parse(&p, &r, msg), 0);
    ASSERT_EQ_INT(r.id, 0xBEEF);
    ASSERT_EQ_INT(r.rcode, 0);
    ASSERT_FALSE(r.truncated);
    ASSERT_EQ_UINT(r.nanswer, 2);
    ASSERT_EQ_UINT(r.nanswers_kept, 2);
    ASSERT_EQ_INT(r.answers[0].type, 1);
    ASSERT_EQ_UINT(r.answers[0].ttl, 300);
    ASSERT_EQ_STR(r.answers[0].data, "93.184.216.34");
    ASSERT_EQ_STR(r.answers[1].data, "10.0.0.1");
    ASSERT_EQ_UINT(r.answers[1].ttl, 60);
}

/* A response with one record of each type; names inside the data are compressed too. */
static void build_every_type(struct pkt *p)
{
    presponse(p, 0x8180, 10);
    /* CNAME: "cdn" + pointer to example.com (offset 16). */
    prr(p, 5, 10, 6);
    p8(p, 3);
    pbytes(p, "cdn", 3);
    pptr(p, 16);
    prr(p, 2, 20, 2); /* NS -> www.example.com */
    pptr(p, 12);
    prr(p, 12, 30, 14); /* PTR, uncompressed host.example. */
    pname(p, "host.example");
    prr(p, 15, 40, 7); /* MX 10 mx.example.com */
    p16(p, 10);
    p8(p, 2);
    pbytes(p, "mx", 2);
    pptr(p, 16);
    prr(p, 16, 50, 4 + 1 + 7); /* TXT "v=s" "pf1 -all" split in two strings */
    p8(p, 3);
    pbytes(p, "v=s", 3);
    p8(p, 7);
    pbytes(p, "pf1 all", 7);
    prr(p, 6, 60, 2 + 2 + 20); /* SOA ns: www.example.com, rname: example.com */
    pptr(p, 12);
    pptr(p, 16);
    p32(p, 2024010101);
    p32(p, 7200);
    p32(p, 3600);
    p32(p, 1209600);
    p32(p, 300);
    prr(p, 33, 70, 6 + 2); /* SRV 10 5 5060 example.com */
    p16(p, 10);
    p16(p, 5);
    p16(p, 5060);
    pptr(p, 16);
    prr(p, 28, 80, 16); /* AAAA 2001:db8::1 */
    pbytes(p, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    prr(p, 99, 90, 3); /* unknown type, RFC 3597 form */
    pbytes(p, "\xab\xcd\xef", 3);
    prr(p, 10, 100, 0); /* NULL record, empty */
}

TEST(dns_parse_every_record_type)
{
    struct pkt p;
    struct dw_dns_response r;
    char msg[256] = "";
    build_every_type(&p);
    ASSERT_EQ_INT(parse(&p, &r, msg), 0);
    ASSERT_EQ_UINT(r.nanswers_kept, 10);
    const int types[] = {5, 2, 12, 15, 16, 6, 33, 28, 99, 10};
    const char *data[] = {
        "cdn.example.com.",
        "www.example.com.",
        "host.example.",
        "10 mx.example.com.",
        "v=spf1 all",
        "www.example.com. example.com. 2024010101 7200 3600 1209600 300",
        "10 5 5060 example.com.",
        "2001:db8::1",
        "\\# 3 abcdef",
        "\\# 0",
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(types); i++) {
        ASSERT_EQ_INT(r.answers[i].type, types[i]);
        ASSERT_EQ_UINT(r.answers[i].ttl, 10 * (i + 1));
        ASSERT_EQ_STR(r.answers[i].data, data[i]);
    }
}

TEST(dns_parse_pointer_loops_fail)
{
    struct pkt p;
    struct dw_dns_response r;
    char msg[256] = "";
    /* The answer's owner name points at itself. */
    presponse(&p, 0x8180, 1);
    size_t self = p.n;
    pptr(&p, (unsigned)self);
    p16(&p, 1);
    p16(&p, 1);
    p32(&p, 1);
    p16(&p, 4);
    pbytes(&p, "\1\2\3\4", 4);
    ASSERT_EQ_INT(parse(&p, &r, msg), -1);
    ASSERT_CONTAINS(msg, "answer 1: compression pointer loop");

    /* Two pointers pointing at each other, through a label: in the question. */
    pheader(&p, 1, 0x8180, 1, 0);
    p8(&p, 1);
    p8(&p, 'a');
    pptr(&p, 16); /* offset 14 -> 16 */
    pptr(&p, 12); /* offset 16 -> 12 */
    ASSERT_EQ_INT(parse(&p, &r, msg), -1);
    ASSERT_CONTAINS(msg, "question:");

    /* A pointer past the end of the message. */
    presponse(&p, 0x8180, 1);
    pptr(&p, 0x3FFF);
    ASSERT_EQ_INT(parse(&p, &r, msg), -1);
    ASSERT_CONTAINS(msg, "name runs past the end of the message");

    /* A loop inside record data (CNAME target). */
    presponse(&p, 0x8180, 1);
    prr(&p, 5, 1, 2);
    pptr(&p, (unsigned)p.n);
    ASSERT_EQ_INT(parse(&p, &r, msg), -1);
    ASSERT_CONTAINS(msg, "compression pointer loop");
}

TEST(dns_parse_every_truncation_fails_cleanly)
{
    struct pkt p;
    struct dw_dns_response r;
    char msg[256];
    build_every_type(&p);
    for (size_t n = 0; n < p.n; n++) {
        msg[0] = '\0';
        int rc = dw_dns_parse_response(p.b, n, &r, msg, sizeof msg);
        if (rc != -1)
            DW_FAIL_("prefix of %zu bytes parsed", n);
        ASSERT_TRUE(msg[0] != '\0');
    }
    ASSERT_EQ_INT(dw_dns_parse_response(p.b, 5, &r, msg, sizeof msg), -1);
    ASSERT_CONTAINS(msg, "header: message shorter than the 12-byte header");
}

TEST(dns_parse_rcode_and_truncated_flag)
{
    struct pkt p;
    struct dw_dns_response r;
    char msg[256] = "";
    presponse(&p, 0x8183, 0); /* NXDOMAIN */
    p.b[9] = 1;               /* one authority record, not walked */
    ASSERT_EQ_INT(parse(&p, &r, msg), 0);
    ASSERT_EQ_INT(r.rcode, 3);
    ASSERT_EQ_STR(dw_dns_rcode_name(r.rcode), "NXDOMAIN");
    ASSERT_EQ_UINT(r.nanswer, 0);
    ASSERT_EQ_UINT(r.nauthority, 1);

    /* TC set and the answers cut short: what was read is kept, no error. */
    presponse(&p, 0x8380, 3);
    prr(&p, 1, 5, 4);
    pbytes(&p, "\1\2\3\4", 4);
    prr(&p, 1, 5, 4);
    pbytes(&p, "\5", 1);
    ASSERT_EQ_INT(parse(&p, &r, msg), 0);
    ASSERT_TRUE(r.truncated);
    ASSERT_EQ_UINT(r.nanswer, 3);
    ASSERT_EQ_UINT(r.nanswers_kept, 1);
    ASSERT_EQ_STR(r.answers[0].data, "1.2.3.4");
    /* The same without TC is an error. */
    p.b[2] = 0x81;
    ASSERT_EQ_INT(parse(&p, &r, msg), -1);
    ASSERT_CONTAINS(msg, "answer 2: record data runs past the end of the message");
}

TEST(dns_parse_malformed_messages)
{
    struct pkt p;
    struct dw_dns_response r;
    char msg[256] = "";
    presponse(&p, 0x0100, 0); /* a query, not a response */
    ASSERT_EQ_INT(parse(&p, &r, msg), -1);
    ASSERT_CONTAINS(msg, "not a response (QR bit clear)");

    presponse(&p, 0x8180, 1);
    p8(&p, 0x40); /* label type 01 (extended labels) */
    p8(&p, 0);
    ASSERT_EQ_INT(parse(&p, &r, msg), -1);
    ASSERT_CONTAINS(msg, "unsupported label type");

    presponse(&p, 0x8180, 1);
    prr(&p, 1, 1, 5);
    pbytes(&p, "\1\2\3\4\5", 5);
    ASSERT_EQ_INT(parse(&p, &r, msg), -1);
    ASSERT_CONTAINS(msg, "answer 1: A record data is not 4 bytes");

    presponse(&p, 0x8180, 1);
    prr(&p, 28, 1, 4);
    pbytes(&p, "\1\2\3\4", 4);
    ASSERT_EQ_INT(parse(&p, &r, msg), -1);
    ASSERT_CONTAINS(msg, "AAAA record data is not 16 bytes");

    presponse(&p, 0x8180, 1); /* CNAME with a byte left over after the name */
    prr(&p, 5, 1, 3);
    pptr(&p, 12);
    p8(&p, 0);
    ASSERT_EQ_INT(parse(&p, &r, msg), -1);
    ASSERT_CONTAINS(msg, "record data length does not match its contents");

    presponse(&p, 0x8180, 1); /* TXT string longer than the record */
    prr(&p, 16, 1, 3);
    p8(&p, 5);
    pbytes(&p, "ab", 2);
    ASSERT_EQ_INT(parse(&p, &r, msg), -1);
    ASSERT_CONTAINS(msg, "TXT string runs past the record data");

    presponse(&p, 0x8180, 1); /* MX too short */
    prr(&p, 15, 1, 2);
    p16(&p, 10);
    ASSERT_EQ_INT(parse(&p, &r, msg), -1);
    ASSERT_CONTAINS(msg, "record data too short");

    presponse(&p, 0x8180, 1); /* SOA missing its numbers */
    prr(&p, 6, 1, 4);
    pptr(&p, 12);
    pptr(&p, 12);
    ASSERT_EQ_INT(parse(&p, &r, msg), -1);
    ASSERT_CONTAINS(msg, "record data length does not match");

    /* A name of 5 labels of 63 bytes (> 255 on the wire). */
    presponse(&p, 0x8180, 1);
    for (int i = 0; i < 5; i++) {
        p8(&p, 63);
        memset(p.b + p.n, 'x', 63);
        p.n += 63;
    }
    p8(&p, 0);
    ASSERT_EQ_INT(parse(&p, &r, msg), -1);
    ASSERT_CONTAINS(msg, "name longer than 255 bytes");
}

TEST(dns_parse_keeps_first_16_and_checks_the_rest)
{
    struct pkt p;
    struct dw_dns_response r;
    char msg[256] = "";
    presponse(&p, 0x8180, 20);
    for (unsigned i = 0; i < 20; i++) {
        prr(&p, 1, i, 4);
        p32(&p, 0x0A000000u + i);
    }
    ASSERT_EQ_INT(parse(&p, &r, msg), 0);
    ASSERT_EQ_UINT(r.nanswer, 20);
    ASSERT_EQ_UINT(r.nanswers_kept, 16);
    ASSERT_EQ_STR(r.answers[15].data, "10.0.0.15");
    /* Break record 19: still rejected although it is not kept. */
    p.n -= 1;
    ASSERT_EQ_INT(parse(&p, &r, msg), -1);
    ASSERT_CONTAINS(msg, "answer 20:");
}

TEST(dns_names_and_txt_are_escaped)
{
    struct pkt p;
    struct dw_dns_response r;
    char msg[256] = "";
    presponse(&p, 0x8180, 2);
    prr(&p, 12, 0x80000000u, 10); /* TTL with the top bit set reads as 0 */
    pbytes(&p, "\5a.b c\2\1\\\0", 10);
    prr(&p, 16, 1, 7);
    pbytes(&p, "\6q\"\\ \x7f\xff", 7);
    ASSERT_EQ_INT(parse(&p, &r, msg), 0);
    ASSERT_EQ_UINT(r.answers[0].ttl, 0);
    ASSERT_EQ_STR(r.answers[0].data, "a\\.b\\ c.\\001\\\\.");
    ASSERT_EQ_STR(r.answers[1].data, "q\"\\\\ \\127\\255");
    /* The root name. */
    presponse(&p, 0x8180, 1);
    prr(&p, 2, 1, 1);
    p8(&p, 0);
    ASSERT_EQ_INT(parse(&p, &r, msg), 0);
    ASSERT_EQ_STR(r.answers[0].data, ".");
}

TEST(dns_long_txt_is_cut_to_the_data_field)
{
    struct pkt p;
    struct dw_dns_response r;
    char msg[256] = "";
    presponse(&p, 0x8180, 1);
    prr(&p, 16, 1, 2 * 201);
    for (int s = 0; s < 2; s++) {
        p8(&p, 200);
        memset(p.b + p.n, 'a' + s, 200);
        p.n += 200;
    }
    ASSERT_EQ_INT(parse(&p, &r, msg), 0);
    ASSERT_EQ_UINT(strlen(r.answers[0].data), 255);
    ASSERT_EQ_INT(r.answers[0].data[199], 'a');
    ASSERT_EQ_INT(r.answers[0].data[200], 'b');
}

/* ---- SHA-1 and the WebSocket handshake ---- */

static void sha1_hex(const void *d, size_t n, char out[41])
{
    uint8_t dig[DW_SHA1_LEN];
    dw_sha1(d, n, dig);
    for (int i = 0; i < DW_SHA1_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", dig[i]);
}

TEST(sha1_test_vectors)
{
    char hex[41];
    sha1_hex("", 0, hex);
    ASSERT_EQ_STR(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    sha1_hex("abc", 3, hex);
    ASSERT_EQ_STR(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    const char *v448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha1_hex(v448, strlen(v448), hex);
    ASSERT_EQ_STR(hex, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    /* Lengths around the padding boundaries (56 and 64 bytes). */
    static const struct {
        size_t n;
        const char *hex;
    } as[] = {
        {55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"},
        {56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"},
        {63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5"},
        {64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"},
        {65, "11655326c708d70319be2610e8a57d9a5b959d3b"},
        {119, "ee971065aaa017e0632a8ca6c77bb3bf8b1dfc56"},
        {120, "f34c1488385346a55709ba056ddd08280dd4c6d6"},
    };
    char a[128];
    memset(a, 'a', sizeof a);
    for (size_t i = 0; i < DW_ARRAY_LEN(as); i++) {
        sha1_hex(a, as[i].n, hex);
        ASSERT_EQ_STR(hex, as[i].hex);
    }
}

TEST(sha1_streaming_million_a)
{
    struct dw_sha1 s;
    uint8_t dig[DW_SHA1_LEN];
    char chunk[1000], hex[41];
    memset(chunk, 'a', sizeof chunk);
    dw_sha1_init(&s);
    /* Uneven pieces cross block boundaries at every offset. */
    size_t done = 0, piece = 1;
    while (done < 1000000) {
        size_t n = piece < 1000000 - done ? piece : 1000000 - done;
        dw_sha1_update(&s, chunk, n);
        done += n;
        piece = piece % 997 + 1;
    }
    dw_sha1_final(&s, dig);
    for (int i = 0; i < DW_SHA1_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", dig[i]);
    ASSERT_EQ_STR(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST(ws_accept_rfc6455_example)
{
    char accept[29];
    /* RFC 6455 sections 1.2 and 1.3. */
    dw_ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", accept);
    ASSERT_EQ_STR(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    dw_ws_accept_for("", accept);
    ASSERT_EQ_STR(accept, "Kfh9QIsMVZcl6xEPYxPHzW8SZ8w=");
}

TEST(ws_make_key_is_random_base64_of_16_bytes)
{
    char k1[25], k2[25];
    dw_ws_make_key(k1);
    dw_ws_make_key(k2);
    ASSERT_EQ_UINT(strlen(k1), 24);
    ASSERT_TRUE(k1[22] == '=' && k1[23] == '=');
    ASSERT_TRUE(strspn(k1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") ==
                22);
    ASSERT_TRUE(strcmp(k1, k2) != 0);
}

TEST(ws_build_handshake)
{
    char buf[512];
    int n = dw_ws_build_handshake("example.com:8080", "/chat?room=1",
                                  "dGhlIHNhbXBsZSBub25jZQ==", NULL, buf, sizeof buf);
    const char *want = "GET /chat?room=1 HTTP/1.1\r\n"
                       "Host: example.com:8080\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n"
                       "\r\n";
    ASSERT_EQ_INT(n, strlen(want));
    ASSERT_EQ_STR(buf, want);
    ASSERT_EQ_UINT(dw_ws_head_len(buf, (size_t)n), (size_t)n);

    n = dw_ws_build_handshake("h", "", "k", "Origin: http://h\r\nX-A: b\r\n", buf, sizeof buf);
    ASSERT_TRUE(n > 0);
    ASSERT_TRUE(dw_str_has_prefix(buf, "GET / HTTP/1.1\r\n"));
    ASSERT_TRUE(dw_str_has_suffix(buf, "Version: 13\r\nOrigin: http://h\r\nX-A: b\r\n\r\n"));
    /* Exact fit and one byte short (the NUL needs room too). */
    int exact = dw_ws_build_handshake("h", "/", "k", NULL, buf, sizeof buf);
    ASSERT_EQ_INT(dw_ws_build_handshake("h", "/", "k", NULL, buf, (size_t)exact + 1), exact);
    ASSERT_EQ_INT(dw_ws_build_handshake("h", "/", "k", NULL, buf, (size_t)exact), -1);

    const char *bad_extra[] = {"X: y", "X: y\n", "X: y\r\n\r\nGET / HTTP/1.1\r\n", "\r\n",
                               "X: y\rZ\r\n"};
    for (size_t i = 0; i < DW_ARRAY_LEN(bad_extra); i++)
        ASSERT_EQ_INT(dw_ws_build_handshake("h", "/", "k", bad_extra[i], buf, sizeof buf), -1);
    ASSERT_EQ_INT(dw_ws_build_handshake("", "/", "k", NULL, buf, sizeof buf), -1);
    ASSERT_EQ_INT(dw_ws_build_handshake("h", "chat", "k", NULL, buf, sizeof buf), -1);
    ASSERT_EQ_INT(dw_ws_build_handshake("h", "/a b", "k", NULL, buf, sizeof buf), -1);
    ASSERT_EQ_INT(dw_ws_build_handshake("h\r\nX: y", "/", "k", NULL, buf, sizeof buf), -1);
    ASSERT_EQ_INT(dw_ws_build_handshake("h", "/", "", NULL, buf, sizeof buf), -1);
}

static const char *KEY = "dGhlIHNhbXBsZSBub25jZQ==";

static int check(const char *resp, char *msg)
{
    return dw_ws_check_handshake(resp, strlen(resp), KEY, msg, 256);
}

TEST(ws_check_handshake_accepts)
{
    char msg[256] = "";
    ASSERT_EQ_INT(check("HTTP/1.1 101 Switching Protocols\r\n"
                        "Upgrade: websocket\r\n"
                        "Connection: Upgrade\r\n"
                        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                        "\r\n",
                        msg),
                  0);
    /* Case-insensitive names and tokens, lists, repeated headers, LF-only lines, bytes after. */
    ASSERT_EQ_INT(check("HTTP/1.1 101\n"
                        "UPGRADE: h2c, WebSocket\n"
                        "connection: keep-alive\n"
                        "Connection: x ,  upgrade  \n"
                        "sec-websocket-accept:s3pPLMBiTxaQ9kYGzzhZRbK+xOo=   \n"
                        "\n"
                        "\x81\x02hi",
                        msg),
                  0);
}

TEST(ws_check_handshake_rejects)
{
    static const struct {
        const char *resp;
        const char *msg;
    } cases[] = {
        {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "status 200, expected 101"},
        {"HTTP/1.1 101 Switching\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
         "no \"Upgrade: websocket\" header"},
        {"HTTP/1.1 101 Switching\r\nUpgrade: websocketx\r\nConnection: Upgrade\r\n\r\n",
         "no \"Upgrade: websocket\" header"},
        {"HTTP/1.1 101 Switching\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
         "no \"Connection: Upgrade\" header"},
        {"HTTP/1.1 101 Switching\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
         "no Sec-WebSocket-Accept header"},
        {"HTTP/1.1 101 Switching\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo\r\n\r\n",
         "Sec-WebSocket-Accept is \"s3pPLMBiTxaQ9kYGzzhZRbK+xOo\", expected "
         "\"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\""},
        {"ICY 200 OK\r\n\r\n", "malformed status line \"ICY 200 OK\""},
        {"HTTP/1.1 10x Nope\r\n\r\n", "malformed status line"},
        {"HTTP/1.1 101 Switching\r\nUpgrade websocket\r\n\r\n",
         "malformed header line \"Upgrade websocket\""},
        {"HTTP/1.1 101 Switching\r\nUpgrade: websocket\r\n", "does not end with a blank line"},
        {"HTTP/1.1 101", "incomplete status line"},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(cases); i++) {
        char msg[256] = "";
        if (check(cases[i].resp, msg) != -1)
            DW_FAIL_("case %zu accepted", i);
        ASSERT_CONTAINS(msg, cases[i].msg);
    }
}

TEST(ws_head_len)
{
    const char *r = "HTTP/1.1 101 X\r\nA: b\r\n\r\nrest";
    ASSERT_EQ_UINT(dw_ws_head_len(r, strlen(r)), strlen(r) - 4);
    for (size_t n = 0; n < strlen(r) - 4; n++)
        ASSERT_EQ_UINT(dw_ws_head_len(r, n), 0);
    ASSERT_EQ_UINT(dw_ws_head_len("", 0), 0);
}

/* ---- WebSocket frames ---- */

static uint8_t *pattern(size_t n)
{
    uint8_t *p = dw_malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 7 + 3);
    return p;
}

TEST(ws_encode_masks_every_length_class)
{
    static const struct {
        size_t n;
        size_t head; /* bytes before the mask key */
    } cases[] = {{0, 2}, {1, 2}, {125, 2}, {126, 4}, {65535, 4}, {65536, 10}, {70000, 10}};
    for (size_t c = 0; c < DW_ARRAY_LEN(cases); c++) {
        size_t n = cases[c].n, head = cases[c].head;
        uint8_t *payload = pattern(n), *buf = dw_malloc(n + 14);
        int len = dw_ws_encode(DW_WS_BINARY, payload, n, buf, n + 14);
        ASSERT_EQ_INT(len, head + 4 + n);
        ASSERT_EQ_INT(buf[0], 0x82); /* FIN + binary */
        ASSERT_TRUE(buf[1] & 0x80);  /* masked */
        uint64_t got = buf[1] & 0x7F;
        if (head == 4)
            got = (uint64_t)buf[2] << 8 | buf[3];
        if (head == 10)
            for (int i = 0; i < 8; i++)
                got = (i ? got << 8 : 0) | buf[2 + i];
        ASSERT_EQ_UINT(got, n);
        const uint8_t *mask = buf + head;
        for (size_t i = 0; i < n; i++)
            if ((buf[head + 4 + i] ^ mask[i & 3]) != payload[i])
                DW_FAIL_("length %zu: byte %zu differs after unmasking", n, i);
        /* One byte short of room fails. */
        ASSERT_EQ_INT(dw_ws_encode(DW_WS_BINARY, payload, n, buf, (size_t)len - 1), -1);
        free(payload);
        free(buf);
    }
}

TEST(ws_encode_rejects)
{
    uint8_t buf[256], payload[126] = {0};
    ASSERT_EQ_INT(dw_ws_encode(DW_WS_PING, payload, 126, buf, sizeof buf), -1);
    ASSERT_EQ_INT(dw_ws_encode(DW_WS_PING, payload, 125, buf, sizeof buf), 131);
    ASSERT_EQ_INT(buf[0], 0x89);
    ASSERT_EQ_INT(dw_ws_encode(3, payload, 1, buf, sizeof buf), -1);
    ASSERT_EQ_INT(dw_ws_encode(DW_WS_CLOSE, NULL, 0, buf, sizeof buf), 6);
    ASSERT_EQ_INT(buf[0], 0x88);
    ASSERT_EQ_INT(buf[1], 0x80);
    ASSERT_EQ_INT(dw_ws_encode(DW_WS_TEXT, "x", 1, buf, 0), -1);
}

/* An unmasked server frame with the shortest length form. */
static size_t server_frame(uint8_t *buf, uint8_t b0, const uint8_t *payload, size_t n)
{
    size_t o = 0;
    buf[o++] = b0;
    if (n < 126) {
        buf[o++] = (uint8_t)n;
    } else if (n <= 0xFFFF) {
        buf[o++] = 126;
        buf[o++] = (uint8_t)(n >> 8);
        buf[o++] = (uint8_t)n;
    } else {
        buf[o++] = 127;
        for (int i = 7; i >= 0; i--)
            buf[o++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    if (n > 0)
        memcpy(buf + o, payload, n);
    return o + n;
}

TEST(ws_decode_every_length_class)
{
    const size_t sizes[] = {0, 125, 126, 65535, 65536};
    for (size_t c = 0; c < DW_ARRAY_LEN(sizes); c++) {
        size_t n = sizes[c];
        uint8_t *payload = pattern(n), *buf = dw_malloc(n + 20);
        size_t len = server_frame(buf, 0x82, payload, n);
        buf[len] = 0xEE; /* the next frame's first byte is not consumed */
        struct dw_ws_frame f;
        ASSERT_EQ_INT(dw_ws_decode(buf, len + 1, 1 << 20, &f), len);
        ASSERT_EQ_INT(f.opcode, DW_WS_BINARY);
        ASSERT_TRUE(f.fin);
        ASSERT_EQ_UINT(f.len, n);
        ASSERT_TRUE(f.payload == buf + (len - n));
        ASSERT_TRUE(n == 0 || memcmp(f.payload, payload, n) == 0);
        /* Every shorter prefix asks for more. */
        for (size_t k = 0; k < len; k += (k < 16 ? 1 : 4093))
            ASSERT_EQ_INT(dw_ws_decode(buf, k, 1 << 20, &f), 0);
        ASSERT_EQ_INT(dw_ws_decode(buf, len - 1, 1 << 20, &f), 0);
        /* The payload limit: exactly n passes, n - 1 fails even before the payload arrives. */
        ASSERT_EQ_INT(dw_ws_decode(buf, len, n, &f), len);
        if (n > 0)
            ASSERT_EQ_INT(dw_ws_decode(buf, len - n, n - 1, &f), -1);
        free(payload);
        free(buf);
    }
}

TEST(ws_decode_fragments_and_control_frames)
{
    uint8_t buf[64];
    struct dw_ws_frame f;
    size_t len = server_frame(buf, 0x01, (const uint8_t *)"Hel", 3); /* text, no FIN */
    ASSERT_EQ_INT(dw_ws_decode(buf, len, 100, &f), 5);
    ASSERT_EQ_INT(f.opcode, DW_WS_TEXT);
    ASSERT_FALSE(f.fin);
    len = server_frame(buf, 0x80, (const uint8_t *)"lo", 2); /* continuation, FIN */
    ASSERT_EQ_INT(dw_ws_decode(buf, len, 100, &f), 4);
    ASSERT_EQ_INT(f.opcode, DW_WS_CONT);
    ASSERT_TRUE(f.fin);
    len = server_frame(buf, 0x8A, (const uint8_t *)"p", 1); /* pong */
    ASSERT_EQ_INT(dw_ws_decode(buf, len, 100, &f), 3);
    ASSERT_EQ_INT(f.opcode, DW_WS_PONG);
    len = server_frame(buf, 0x88, (const uint8_t *)"\x03\xe8", 2); /* close 1000 */
    ASSERT_EQ_INT(dw_ws_decode(buf, len, 100, &f), 4);
    ASSERT_EQ_INT(f.opcode, DW_WS_CLOSE);
    len = server_frame(buf, 0x88, NULL, 0);
    ASSERT_EQ_INT(dw_ws_decode(buf, len, 100, &f), 2);
}

TEST(ws_decode_protocol_errors)
{
    static const struct {
        const char *what;
        uint8_t bytes[12];
        size_t n;
    } cases[] = {
        {"masked server frame", {0x81, 0x81, 1, 2, 3, 4, 'x'}, 7},
        {"RSV1 set", {0xC1, 0x00}, 2},
        {"RSV3 set", {0x91, 0x00}, 2},
        {"reserved opcode 3", {0x83, 0x00}, 2},
        {"reserved control opcode 0xB", {0x8B, 0x00}, 2},
        {"control frame of 126 bytes", {0x89, 126, 0, 126}, 4},
        {"fragmented ping", {0x09, 0x00}, 2},
        {"close with a 1-byte body", {0x88, 0x01, 0x03}, 3},
        {"16-bit length under 126", {0x82, 126, 0x00, 0x7D}, 4},
        {"64-bit length under 65536", {0x82, 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF}, 10},
        {"64-bit length with the top bit", {0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0}, 10},
        {"2^62 bytes announced", {0x82, 127, 0x40, 0, 0, 0, 0, 0, 0, 0}, 10},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(cases); i++) {
        struct dw_ws_frame f;
        if (dw_ws_decode(cases[i].bytes, cases[i].n, SIZE_MAX, &f) != -1)
            DW_FAIL_("%s: not rejected", cases[i].what);
    }
    struct dw_ws_frame f;
    ASSERT_EQ_INT(dw_ws_decode((const uint8_t *)"\x81", 1, 10, &f), 0);
    ASSERT_EQ_INT(dw_ws_decode((const uint8_t *)"\x82\x7f\x00\x00", 4, SIZE_MAX, &f), 0);
}

/* ---- JSON path ---- */

static json_t *doc(void)
{
    json_error_t e;
    json_t *d = json_loads("{\"status\": \"ok\", \"n\": 3, \"f\": 2.5, \"big\": 1e300,"
                           " \"up\": true, \"down\": false, \"none\": null, \"zero\": 0,"
                           " \"empty\": \"\", \"version\": \"v2.10.1\","
                           " \"items\": [{\"n\": 1}, {\"n\": 5, \"tags\": [\"a\", \"b\"]}],"
                           " \"db\": {\"up\": true, \"lag\": 0.25, \"name\": \"main\"},"
                           " \"weird key\": {\"x\": 1}, \"a\\\"b\": 2, \"caf\\u00e9\": 3,"
                           " \"emoji\\ud83d\\ude00\": 4, \"long\": \"" /* 200 x */
                           "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                           "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                           "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
                           0, &e);
    if (!d)
        DW_FAIL_("fixture: %s", e.text);
    return d;
}

/* Compiles expr (must succeed) and checks it against the fixture. */
static bool holds(const char *expr, char *why)
{
    char msg[256] = "";
    struct dw_jsonpath *p = dw_jsonpath_compile(expr, msg, sizeof msg);
    if (!p)
        DW_FAIL_("%s: %s", expr, msg);
    json_t *d = doc();
    why[0] = '\0';
    bool ok = dw_jsonpath_check(p, d, why, 256);
    json_decref(d);
    dw_jsonpath_free(&p);
    ASSERT_NULL(p);
    return ok;
}

#define ASSERT_HOLDS(expr)                                                                         \
    do {                                                                                           \
        char why_[256];                                                                            \
        if (!holds(expr, why_))                                                                    \
            DW_FAIL_("%s should hold: %s", expr, why_);                                            \
    } while (0)

#define ASSERT_FAILS(expr, want_why)                                                               \
    do {                                                                                           \
        char why_[256];                                                                            \
        if (holds(expr, why_))                                                                     \
            DW_FAIL_("%s should fail", expr);                                                      \
        ASSERT_EQ_STR(why_, want_why);                                                             \
    } while (0)

TEST(jsonpath_equality_operators)
{
    ASSERT_HOLDS("$.status == \"ok\"");
    ASSERT_FAILS("$.status == \"degraded\"", "$.status is \"ok\", expected == \"degraded\"");
    ASSERT_HOLDS("$.status != \"degraded\"");
    ASSERT_FAILS("$.status != \"ok\"", "$.status is \"ok\", expected != \"ok\"");
    ASSERT_HOLDS("$.n == 3");
    ASSERT_HOLDS("$.n == 3.0");
    ASSERT_HOLDS("$.n == 0.3e1");
    ASSERT_HOLDS("$.f == 2.5");
    ASSERT_FAILS("$.n == \"3\"", "$.n is 3, expected == \"3\"");
    ASSERT_HOLDS("$.n != \"3\"");
    ASSERT_HOLDS("$.up == true");
    ASSERT_HOLDS("$.down == false");
    ASSERT_HOLDS("$.none == null");
    ASSERT_HOLDS("$.zero != null");
    ASSERT_FAILS("$.up == false", "$.up is true, expected == false");
    ASSERT_FAILS("$.db == true", "$.db is {\"up\":true,\"lag\":0.25,\"name\":\"main\"}, expected "
                                 "== true");
    ASSERT_HOLDS("$.big == 1e300");
    ASSERT_HOLDS("  $.n==3  ");
}

TEST(jsonpath_ordering_operators)
{
    ASSERT_HOLDS("$.n < 4");
    ASSERT_FAILS("$.n < 3", "$.n is 3, expected < 3");
    ASSERT_HOLDS("$.n <= 3");
    ASSERT_FAILS("$.n <= 2.99", "$.n is 3, expected <= 2.99");
    ASSERT_HOLDS("$.n > -1");
    ASSERT_FAILS("$.n > 3", "$.n is 3, expected > 3");
    ASSERT_HOLDS("$.n >= 3");
    ASSERT_FAILS("$.db.lag >= 0.5", "$.db.lag is 0.25, expected >= 0.5");
    ASSERT_HOLDS("$.items[1].n >= 3");
    ASSERT_HOLDS("$.status > \"ab\"");
    ASSERT_HOLDS("$.status < \"okay\"");
    ASSERT_FAILS("$.status < 3", "$.status is \"ok\", expected < 3 (not comparable)");
    ASSERT_FAILS("$.up >= 1", "$.up is true, expected >= 1 (not comparable)");
}

TEST(jsonpath_regex_operator)
{
    ASSERT_HOLDS("$.version =~ \"^v2\\.\"");
    ASSERT_HOLDS("$.version =~ \"\\d+\\.\\d+\\.\\d+$\"");
    ASSERT_HOLDS("$.db.name =~ \"ai\"");
    ASSERT_FAILS("$.version =~ \"^v3\"", "$.version is \"v2.10.1\", expected =~ \"^v3\"");
    ASSERT_FAILS("$.n =~ \"3\"", "$.n is 3, expected =~ \"3\" (not a string)");
    /* \" is a quote inside the regex; other backslashes reach PCRE2 as written. */
    ASSERT_HOLDS("$[\"a\\\"b\"] == 2");
    ASSERT_HOLDS("$.caf\xc3\xa9 == 3");
    char why[256];
    ASSERT_FALSE(holds("$.status =~ \"o\\\"k\"", why));
    ASSERT_HOLDS("$.status =~ \"^(ok|fine)$\"");
    ASSERT_HOLDS("$.status =~ \"^\\w\\w$\"");
}

TEST(jsonpath_bare_paths)
{
    ASSERT_HOLDS("$.up");
    ASSERT_HOLDS("$.db.up");
    ASSERT_HOLDS("$.zero");
    ASSERT_HOLDS("$.empty");
    ASSERT_HOLDS("$.items");
    ASSERT_HOLDS("$");
    ASSERT_FAILS("$.down", "$.down is false");
    ASSERT_FAILS("$.none", "$.none is null");
}

TEST(jsonpath_nested_paths_and_arrays)
{
    ASSERT_HOLDS("$.items[0].n == 1");
    ASSERT_HOLDS("$.items[1].tags[1] == \"b\"");
    ASSERT_HOLDS("$.items[-1].n == 5");
    ASSERT_HOLDS("$.items[-2].n == 1");
    ASSERT_HOLDS("$.items[1][\"tags\"][-1] == \"b\"");
    ASSERT_HOLDS("$[\"weird key\"].x == 1");
    ASSERT_HOLDS("$[\"db\"][\"name\"] == \"main\"");
    ASSERT_HOLDS("$[\"caf\\u00e9\"] == 3");
    ASSERT_HOLDS("$[\"caf\\u00E9\"] == 3");
    ASSERT_HOLDS("$[\"emoji\\ud83d\\ude00\"] == 4");
    ASSERT_HOLDS("$.db.name == \"m\\u0061in\"");

    json_t *arr = json_loads("[10, [20, 30]]", 0, NULL);
    char msg[256], why[256];
    struct dw_jsonpath *p = dw_jsonpath_compile("$[1][0] == 20", msg, sizeof msg);
    ASSERT_NOT_NULL(p);
    ASSERT_TRUE(dw_jsonpath_check(p, arr, why, sizeof why));
    dw_jsonpath_free(&p);
    p = dw_jsonpath_compile("$ == 1", msg, sizeof msg);
    ASSERT_FALSE(dw_jsonpath_check(p, arr, why, sizeof why));
    ASSERT_EQ_STR(why, "$ is [10,[20,30]], expected == 1");
    dw_jsonpath_free(&p);
    dw_jsonpath_free(&p); /* freeing NULL is a no-op */
    json_decref(arr);
}

TEST(jsonpath_missing_paths)
{
    ASSERT_FAILS("$.nope", "$.nope is missing: $ has no key \"nope\"");
    ASSERT_FAILS("$.db.nope == 1", "$.db.nope is missing: $.db has no key \"nope\"");
    ASSERT_FAILS("$.db.nope != 1", "$.db.nope is missing: $.db has no key \"nope\"");
    ASSERT_FAILS("$.items[2].n", "$.items[2].n is missing: $.items has 2 items");
    ASSERT_FAILS("$.items[-3]", "$.items[-3] is missing: $.items has 2 items");
    ASSERT_FAILS("$.status.x", "$.status.x is missing: $.status is a string, not an object");
    ASSERT_FAILS("$.db[0]", "$.db[0] is missing: $.db is an object, not an array");
    ASSERT_FAILS("$.items.n", "$.items.n is missing: $.items is an array, not an object");
    ASSERT_FAILS("$.up.x.y", "$.up.x.y is missing: $.up is true, not an object");
    ASSERT_FAILS("$[\"weird key\"].y", "$[\"weird key\"].y is missing: $[\"weird key\"] has no "
                                       "key \"y\"");
    char msg[256], why[256] = "";
    struct dw_jsonpath *p = dw_jsonpath_compile("$.a", msg, sizeof msg);
    ASSERT_FALSE(dw_jsonpath_check(p, NULL, why, sizeof why));
    ASSERT_EQ_STR(why, "$.a is missing: no document");
    dw_jsonpath_free(&p);
}

TEST(jsonpath_why_is_bounded)
{
    char why[256];
    ASSERT_FALSE(holds("$.long == \"y\"", why));
    ASSERT_TRUE(strlen(why) < 256);
    ASSERT_CONTAINS(why, "...");
    ASSERT_CONTAINS(why, "expected == \"y\"");

    char msg[256], small[12];
    struct dw_jsonpath *p = dw_jsonpath_compile("$.status == \"x\"", msg, sizeof msg);
    json_t *d = doc();
    ASSERT_FALSE(dw_jsonpath_check(p, d, small, sizeof small));
    ASSERT_EQ_STR(small, "$.status is");
    ASSERT_FALSE(dw_jsonpath_check(p, d, NULL, 0));
    json_decref(d);
    dw_jsonpath_free(&p);
}

TEST(jsonpath_syntax_errors_have_columns)
{
    static const struct {
        const char *expr;
        const char *msg;
    } cases[] = {
        {"", "column 1: a path starts with '$'"},
        {"status == 1", "column 1: a path starts with '$'"},
        {"  .a", "column 3: a path starts with '$'"},
        {"$.", "column 3: expected a key after '.'"},
        {"$..a", "column 3: expected a key after '.'"},
        {"$.a.", "column 5: expected a key after '.'"},
        {"$[", "column 3: expected an index or a quoted key after '['"},
        {"$[x]", "column 3: expected an index or a quoted key after '['"},
        {"$[1", "column 4: expected ']'"},
        {"$[\"a\"", "column 6: expected ']'"},
        {"$[\"a]", "column 3: unterminated string"},
        {"$[99999999999]", "column 3: index too large"},
        {"$.a = 1", "column 5: '=' is not an operator; use '=='"},
        {"$.a ! 1", "column 5: expected an operator (== != < <= > >= =~) after the path"},
        {"$.a b", "column 5: expected an operator"},
        {"$.a ==", "column 7: expected a value after '=='"},
        {"$.a == ok", "column 8: expected a value (a string, number, true, false or null)"},
        {"$.a == truex", "column 8: expected a value"},
        {"$.a == 01", "column 8: malformed number"},
        {"$.a == 1.", "column 8: malformed number"},
        {"$.a == .5", "column 8: expected a value"},
        {"$.a == 1e", "column 8: malformed number"},
        {"$.a == 1e999", "column 8: number out of range"},
        {"$.a == 1 2", "column 10: unexpected '2' after the value"},
        {"$.a == \"x", "column 8: unterminated string"},
        {"$.a == \"\\q\"", "column 9: unknown escape \\q"},
        {"$.a == \"\\u12\"", "column 9: \\u needs four hex digits"},
        {"$.a == \"\\ud83d\"", "column 9: high surrogate \\uD83D without its low half"},
        {"$.a == \"\\ude00\"", "column 9: lone low surrogate \\uDE00"},
        {"$.a == \"\\u0000\"", "column 9: \\u0000 is not allowed"},
        {"$.a == \"\x01\"", "column 9: control character in a string"},
        {"$.a == \"\xff\"", "column 8: string is not valid UTF-8"},
        {"$.a < true", "column 7: < compares numbers or strings"},
        {"$.a >= null", "column 8: >= compares numbers or strings"},
        {"$.a =~ abc", "column 8: =~ needs a regex in double quotes"},
        {"$.a =~ \"(\"", "column 8: bad regex: missing closing parenthesis"},
        {"$.a =~ \"a", "column 8: unterminated regex"},
        {"$.a =~ \"a\" x", "column 12: unexpected 'x' after the value"},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(cases); i++) {
        char msg[256] = "";
        struct dw_jsonpath *p = dw_jsonpath_compile(cases[i].expr, msg, sizeof msg);
        if (p) {
            dw_jsonpath_free(&p);
            DW_FAIL_("%s: compiled", cases[i].expr);
        }
        if (!strstr(msg, cases[i].msg))
            DW_FAIL_("%s:\n    \"%s\"\n lacks \"%s\"", cases[i].expr, msg, cases[i].msg);
    }
    char msg[256];
    ASSERT_NULL(dw_jsonpath_compile(NULL, msg, sizeof msg));
    ASSERT_CONTAINS(msg, "column 1");
}

/* ---- CDN headers ---- */

static struct dw_cdn_info cdn(const char *const *lines)
{
    struct dw_cdn_info info;
    dw_cdn_info_init(&info);
    for (; *lines; lines++)
        dw_cdn_header(&info, *lines, strlen(*lines));
    dw_cdn_finish(&info);
    return info;
}

#define ASSERT_CDN(info, want_cache, want_source, want_edge)                                       \
    do {                                                                                           \
        ASSERT_EQ_INT((info).cache, want_cache);                                                   \
        const char *src_ = (info).source, *want_src_ = (want_source);                              \
        if (want_src_ == NULL)                                                                     \
            ASSERT_NULL(src_);                                                                     \
        else                                                                                       \
            ASSERT_EQ_STR(src_, want_src_);                                                        \
        ASSERT_EQ_STR((info).edge, want_edge);                                                     \
    } while (0)

TEST(cdn_init_and_nothing_known)
{
    const char *none[] = {NULL};
    struct dw_cdn_info i = cdn(none);
    ASSERT_CDN(i, DW_CDN_UNKNOWN, NULL, "");
    ASSERT_NEAR(i.age_seconds, -1, 0);
    const char *other[] = {"HTTP/1.1 200 OK", "Content-Type: text/html", "Server: x", NULL};
    i = cdn(other);
    ASSERT_CDN(i, DW_CDN_UNKNOWN, NULL, "");
}

TEST(cdn_cache_status_single)
{
    const char *hit[] = {"Cache-Status: ExampleCache; hit", NULL};
    struct dw_cdn_info i = cdn(hit);
    ASSERT_CDN(i, DW_CDN_HIT, "cache-status", "ExampleCache");
    const char *miss[] = {"cache-status: ExampleCache; fwd=uri-miss", NULL};
    i = cdn(miss);
    ASSERT_CDN(i, DW_CDN_MISS, "cache-status", "ExampleCache");
    const char *ttl[] = {"Cache-Status: ExampleCache; hit; ttl=-412", NULL};
    i = cdn(ttl);
    ASSERT_CDN(i, DW_CDN_HIT, "cache-status", "ExampleCache");
    const char *revalidated[] = {"Cache-Status: ExampleCache; fwd=stale; fwd-status=304", NULL};
    i = cdn(revalidated);
    ASSERT_CDN(i, DW_CDN_MISS, "cache-status", "ExampleCache");
    const char *collapsed[] = {"Cache-Status: ExampleCache;fwd=uri-miss;collapsed=?0", NULL};
    i = cdn(collapsed);
    ASSERT_CDN(i, DW_CDN_MISS, "cache-status", "ExampleCache");
    const char *hit_false[] = {"Cache-Status: ExampleCache; hit=?0; fwd=miss", NULL};
    i = cdn(hit_false);
    ASSERT_CDN(i, DW_CDN_MISS, "cache-status", "ExampleCache");
    const char *stored_only[] = {"Cache-Status: \"Example CDN\"; stored", NULL};
    i = cdn(stored_only);
    ASSERT_CDN(i, DW_CDN_UNKNOWN, NULL, "Example CDN");
}

TEST(cdn_cache_status_chain_any_hit_and_last_is_edge)
{
    /* RFC 9211 section 3: the origin-side cache hit, then the CDN reused it. */
    const char *both[] = {
        "Cache-Status: OriginCache; hit; ttl=1100, \"CDN Company Here\"; hit; ttl=545", NULL};
    struct dw_cdn_info i = cdn(both);
    ASSERT_CDN(i, DW_CDN_HIT, "cache-status", "CDN Company Here");
    /* The edge missed but the shield hit: the origin never saw it. */
    const char *shield[] = {"Cache-Status: Shield; hit, Edge; fwd=uri-miss; stored", NULL};
    i = cdn(shield);
    ASSERT_CDN(i, DW_CDN_HIT, "cache-status", "Edge");
    const char *all_miss[] = {"Cache-Status: Shield; fwd=uri-miss, Edge; fwd=uri-miss", NULL};
    i = cdn(all_miss);
    ASSERT_CDN(i, DW_CDN_MISS, "cache-status", "Edge");
    /* The same chain as separate field lines (RFC 9211's three-layer example). */
    const char *lines[] = {"Cache-Status: ReverseProxyCache; hit",
                           "Cache-Status: ForwardProxyCache; fwd=uri-miss; collapsed; stored",
                           "Cache-Status: BrowserCache; fwd=uri-miss", NULL};
    i = cdn(lines);
    ASSERT_CDN(i, DW_CDN_HIT, "cache-status", "BrowserCache");
    const char *escaped[] = {"Cache-Status: \"a \\\"q\\\" b, c\"; fwd=miss", NULL};
    i = cdn(escaped);
    ASSERT_CDN(i, DW_CDN_MISS, "cache-status", "a \"q\" b, c");
}

TEST(cdn_cache_status_malformed_is_ignored)
{
    const char *bad[] = {"Cache-Status: \"unterminated; hit",
                         "Cache-Status: ; hit",
                         "Cache-Status: A; hit B",
                         "Cache-Status: A; hit,",
                         "Cache-Status: ",
                         "Cache-Status: (a b); hit",
                         NULL};
    for (size_t k = 0; bad[k]; k++) {
        const char *one[] = {bad[k], NULL};
        struct dw_cdn_info i = cdn(one);
        if (i.cache != DW_CDN_UNKNOWN || i.edge[0])
            DW_FAIL_("%s: not ignored (cache %d, edge \"%s\")", bad[k], i.cache, i.edge);
    }
}

TEST(cdn_cf_cache_status_values)
{
    static const struct {
        const char *v;
        enum dw_cdn_cache want;
    } cases[] = {
        {"HIT", DW_CDN_HIT},          {"hit", DW_CDN_HIT},         {"STALE", DW_CDN_HIT},
        {"UPDATING", DW_CDN_HIT},     {"MISS", DW_CDN_MISS},       {"EXPIRED", DW_CDN_MISS},
        {"REVALIDATED", DW_CDN_MISS}, {"BYPASS", DW_CDN_MISS},     {"DYNAMIC", DW_CDN_MISS},
        {"NONE", DW_CDN_UNKNOWN},     {"UNKNOWN", DW_CDN_UNKNOWN}, {"HITS", DW_CDN_UNKNOWN},
    };
    for (size_t k = 0; k < DW_ARRAY_LEN(cases); k++) {
        char line[64];
        snprintf(line, sizeof line, "CF-Cache-Status: %s\r", cases[k].v);
        const char *one[] = {line, NULL};
        struct dw_cdn_info i = cdn(one);
        if (i.cache != cases[k].want)
            DW_FAIL_("CF-Cache-Status %s: %d, want %d", cases[k].v, i.cache, cases[k].want);
        if (cases[k].want != DW_CDN_UNKNOWN)
            ASSERT_EQ_STR(i.source, "cf-cache-status");
    }
}

TEST(cdn_x_cache_values)
{
    static const struct {
        const char *v;
        enum dw_cdn_cache want;
    } cases[] = {
        {"HIT", DW_CDN_HIT},
        {"MISS", DW_CDN_MISS},
        {"TCP_HIT", DW_CDN_HIT},
        {"TCP_MEM_HIT from a23-1-2-3.deploy.akamaitechnologies.com", DW_CDN_HIT},
        {"TCP_MISS from a23-1-2-3.deploy.akamaitechnologies.com", DW_CDN_MISS},
        {"HIT from squid.example:3128", DW_CDN_HIT},
        {"MISS from squid.example:3128", DW_CDN_MISS},
        {"Hit from cloudfront", DW_CDN_HIT},
        {"Miss from cloudfront", DW_CDN_MISS},
        {"RefreshHit from cloudfront", DW_CDN_MISS},
        {"TCP_REFRESH_HIT", DW_CDN_MISS},
        {"Error from cloudfront", DW_CDN_UNKNOWN},
        {"MISS, HIT", DW_CDN_HIT},
        {"HIT, MISS", DW_CDN_HIT},
        {"MISS, MISS", DW_CDN_MISS},
        {"PASS", DW_CDN_MISS},
        {"", DW_CDN_UNKNOWN},
        {"mystery from nowhere-hit.example", DW_CDN_UNKNOWN},
    };
    for (size_t k = 0; k < DW_ARRAY_LEN(cases); k++) {
        char line[128];
        snprintf(line, sizeof line, "X-Cache: %s", cases[k].v);
        const char *one[] = {line, NULL};
        struct dw_cdn_info i = cdn(one);
        if (i.cache != cases[k].want)
            DW_FAIL_("X-Cache %s: %d, want %d", cases[k].v, i.cache, cases[k].want);
    }
}

TEST(cdn_precedence_between_headers)
{
    /* Cache-Status wins in either order. */
    const char *cs_last[] = {"CF-Cache-Status: HIT", "X-Cache: HIT",
                             "Cache-Status: Edge; fwd=uri-miss", NULL};
    struct dw_cdn_info i = cdn(cs_last);
    ASSERT_CDN(i, DW_CDN_MISS, "cache-status", "Edge");
    const char *cs_first[] = {"Cache-Status: Edge; fwd=uri-miss", "CF-Cache-Status: HIT",
                              "X-Cache: HIT", "Age: 100", NULL};
    i = cdn(cs_first);
    ASSERT_CDN(i, DW_CDN_MISS, "cache-status", "Edge");
    /* CF-Cache-Status beats X-Cache. */
    const char *cf_x[] = {"X-Cache: HIT", "CF-Cache-Status: MISS", NULL};
    i = cdn(cf_x);
    ASSERT_CDN(i, DW_CDN_MISS, "cf-cache-status", "");
    const char *x_cf[] = {"CF-Cache-Status: MISS", "X-Cache: HIT", NULL};
    i = cdn(x_cf);
    ASSERT_CDN(i, DW_CDN_MISS, "cf-cache-status", "");
    /* An undecided stronger header leaves the weaker one's answer. */
    const char *cf_none[] = {"CF-Cache-Status: NONE/UNKNOWN", "X-Cache: HIT", NULL};
    i = cdn(cf_none);
    ASSERT_CDN(i, DW_CDN_HIT, "x-cache", "");
    /* Repeated X-Cache lines: any hit wins. */
    const char *xx[] = {"X-Cache: HIT", "X-Cache: MISS", NULL};
    i = cdn(xx);
    ASSERT_CDN(i, DW_CDN_HIT, "x-cache", "");
}

TEST(cdn_age_fallback)
{
    const char *age[] = {"Age: 120", NULL};
    struct dw_cdn_info i = cdn(age);
    ASSERT_CDN(i, DW_CDN_HIT, "age", "");
    ASSERT_NEAR(i.age_seconds, 120, 0);
    const char *zero[] = {"age: 0", NULL};
    i = cdn(zero);
    ASSERT_CDN(i, DW_CDN_UNKNOWN, NULL, "");
    ASSERT_NEAR(i.age_seconds, 0, 0);
    /* Something else said miss: Age does not override it, but is still reported. */
    const char *miss[] = {"Age: 30", "X-Cache: MISS", NULL};
    i = cdn(miss);
    ASSERT_CDN(i, DW_CDN_MISS, "x-cache", "");
    ASSERT_NEAR(i.age_seconds, 30, 0);
    const char *list[] = {"Age: 7, 7", NULL};
    i = cdn(list);
    ASSERT_NEAR(i.age_seconds, 7, 0);
    const char *bad[] = {"Age: -5", "Age: 1.5", "Age: soon", "Age:", NULL};
    i = cdn(bad);
    ASSERT_CDN(i, DW_CDN_UNKNOWN, NULL, "");
    ASSERT_NEAR(i.age_seconds, -1, 0);
    /* Without dw_cdn_finish, Age alone decides nothing yet. */
    struct dw_cdn_info raw;
    dw_cdn_info_init(&raw);
    dw_cdn_header(&raw, "Age: 9", 6);
    ASSERT_EQ_INT(raw.cache, DW_CDN_UNKNOWN);
}

TEST(cdn_via_edge)
{
    const char *cf[] = {"Via: 1.1 abc123.cloudfront.net (CloudFront)",
                        "X-Cache: Hit from cloudfront", NULL};
    struct dw_cdn_info i = cdn(cf);
    ASSERT_CDN(i, DW_CDN_HIT, "x-cache", "abc123.cloudfront.net");
    /* The last entry is the hop nearest us; commas inside comments do not split. */
    const char *chain[] = {"Via: 1.1 origin-proxy (Apache, mod_proxy), HTTP/1.1 edge-7:8080", NULL};
    i = cdn(chain);
    ASSERT_CDN(i, DW_CDN_UNKNOWN, NULL, "edge-7:8080");
    const char *lines[] = {"Via: 1.1 varnish", "Via: 1.1 edge.example (x, y)", NULL};
    i = cdn(lines);
    ASSERT_EQ_STR(i.edge, "edge.example");
    /* Cache-Status names the edge in either order. */
    const char *cs_after[] = {"Via: 1.1 varnish", "Cache-Status: PoP-17; hit", NULL};
    i = cdn(cs_after);
    ASSERT_CDN(i, DW_CDN_HIT, "cache-status", "PoP-17");
    const char *cs_before[] = {"Cache-Status: PoP-17; hit", "Via: 1.1 varnish", NULL};
    i = cdn(cs_before);
    ASSERT_CDN(i, DW_CDN_HIT, "cache-status", "PoP-17");
    /* Long names are cut to the field. */
    char line[200];
    snprintf(line, sizeof line, "Via: 1.1 %0100d", 0);
    const char *longv[] = {line, NULL};
    i = cdn(longv);
    ASSERT_EQ_UINT(strlen(i.edge), sizeof i.edge - 1);
    const char *empty[] = {"Via: 1.1", "Via:", NULL};
    i = cdn(empty);
    ASSERT_EQ_STR(i.edge, "");
}

TEST(cdn_header_line_forms)
{
    struct dw_cdn_info i;
    dw_cdn_info_init(&i);
    /* Only len bytes count: the tail after them is not part of the header. */
    const char *line = "X-Cache: MISSING-TAIL-HIT";
    dw_cdn_header(&i, line, strlen("X-Cache: MISS"));
    ASSERT_EQ_INT(i.cache, DW_CDN_MISS);
    dw_cdn_header(&i, "CF-CACHE-STATUS:\tHIT \r\n", 23);
    ASSERT_CDN(i, DW_CDN_HIT, "cf-cache-status", "");
    dw_cdn_header(&i, "X-Cache-Status: MISS", 20); /* a different header */
    dw_cdn_header(&i, "", 0);
    ASSERT_CDN(i, DW_CDN_HIT, "cf-cache-status", "");
}

TEST_MAIN()
