/*
 * test_collect_relabel.c - DESIGN: relabeling, scrape-target labels and
 * file_sd, checked against Prometheus 2.42 behaviour.
 *
 * Rules are written as YAML and decoded through the plan module's schema
 * walker with a one-field test schema (relabel_configs: a list of
 * dw_relabel_schema objects), exactly as the scrape section decodes them, so
 * validation errors are checked with their file:line:col. Expected hashmod
 * values were computed independently with Python:
 *   struct.unpack(">Q", hashlib.md5(s.encode()).digest()[8:])[0] % m
 * file_sd files are written to a fresh temporary directory per test.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collect/relabel.h"
#include "harness.h"
#include "testutil.h"

/* ---- helpers ---- */

struct test_doc {
    struct dw_relabel_rule *rules;
    size_t nrules;
};

/* clang-format off */
static const struct dw_schema_field doc_fields[] = {
    {.name = "relabel_configs", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT,
     .sub = &dw_relabel_schema, DW_SCHEMA_LIST_AT(struct test_doc, rules, nrules)},
};
/* clang-format on */
static const struct dw_schema doc_schema = {doc_fields, 1, false, NULL};

/* All diagnostics, one "file:line:col: key: msg" per line. */
/* Decodes rules that must be valid. */
static void decode_ok(const char *yaml, struct test_doc *doc)
{
    struct dw_diags d;
    dw_diags_init(&d);
    memset(doc, 0, sizeof *doc);
    size_t errors =
        dw_schema_decode_string("test.yml", yaml, strlen(yaml), &doc_schema, doc, NULL, &d);
    if (errors || d.n) {
        char *t = diags_text(&d);
        DW_FAIL_("unexpected diagnostics:\n%s", t);
    }
    dw_diags_release(&d);
}

/* Decodes rules that must be invalid; returns every diagnostic (caller frees). */
static char *decode_errors(const char *yaml)
{
    struct dw_diags d;
    struct test_doc doc = {0};
    dw_diags_init(&d);
    size_t errors =
        dw_schema_decode_string("test.yml", yaml, strlen(yaml), &doc_schema, &doc, NULL, &d);
    char *t = diags_text(&d);
    dw_diags_release(&d);
    dw_schema_free(&doc_schema, &doc);
    if (!errors)
        DW_FAIL_("expected errors, got:\n%s", t);
    return t;
}

/* Label set from NULL-terminated name, value pairs. */
static void lset_of(struct dw_lset *ls, const char *const *pairs)
{
    dw_lset_init(ls);
    for (size_t i = 0; pairs[i]; i += 2)
        dw_lset_set(ls, pairs[i], pairs[i + 1]);
}

static char *lset_text(const struct dw_lset *ls)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_lset_format(ls, &b);
    return dw_buf_steal(&b);
}

/* Applies the rules in yaml to the labels in `in`: the result as text, or
 * "dropped". Caller frees. */
static char *relabel(const char *yaml, const char *const *in)
{
    struct test_doc doc;
    struct dw_lset ls;
    decode_ok(yaml, &doc);
    lset_of(&ls, in);
    bool keep = dw_relabel_apply(doc.rules, doc.nrules, &ls);
    char *out = keep ? lset_text(&ls) : dw_strdup("dropped");
    dw_lset_release(&ls);
    dw_schema_free(&doc_schema, &doc);
    return out;
}

#define CHECK_RELABEL(yaml, in, want)                                                              \
    do {                                                                                           \
        char *got_ = relabel(yaml, in);                                                            \
        ASSERT_EQ_STR(got_, want);                                                                 \
        free(got_);                                                                                \
    } while (0)

static const char *const abc[] = {"a", "foo", "b", "bar", "c", "baz", NULL};

/* ---- label sets ---- */

TEST(lset_basics)
{
    struct dw_lset ls, copy;
    dw_lset_init(&ls);
    dw_lset_init(&copy);
    dw_lset_set(&ls, "b", "2");
    dw_lset_set(&ls, "a", "1");
    dw_lset_set(&ls, "b", "3");
    ASSERT_EQ_INT(ls.n, 2);
    ASSERT_EQ_STR(dw_lset_get(&ls, "b"), "3");
    ASSERT_NULL(dw_lset_get(&ls, "c"));
    dw_lset_set(&ls, "a", ""); /* empty deletes, like labels.Builder */
    ASSERT_NULL(dw_lset_get(&ls, "a"));
    dw_lset_set(&ls, "q", "x\"y\n");
    dw_lset_set(&ls, "b", dw_lset_get(&ls, "b")); /* aliasing its own value */
    dw_lset_copy(&copy, &ls);
    ASSERT_TRUE(dw_lset_del(&ls, "b"));
    ASSERT_FALSE(dw_lset_del(&ls, "b"));
    char *t = lset_text(&copy);
    ASSERT_EQ_STR(t, "{b=\"3\", q=\"x\\\"y\\n\"}");
    free(t);
    dw_lset_sort(&copy);
    ASSERT_EQ_STR(copy.items[0].name, "b");
    dw_lset_release(&ls);
    dw_lset_release(&copy);
    ASSERT_TRUE(dw_label_name_valid("_a1"));
    ASSERT_FALSE(dw_label_name_valid("1a"));
    ASSERT_FALSE(dw_label_name_valid("a-b"));
    ASSERT_FALSE(dw_label_name_valid(""));
}

/* ---- MD5 and hashmod ---- */

static void md5_hex(const char *s, char out[33])
{
    unsigned char d[16];
    dw_md5(s, strlen(s), d);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

TEST(md5_rfc1321_vectors)
{
    static const char *const v[][2] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(v); i++) {
        char hex[33];
        md5_hex(v[i][0], hex);
        ASSERT_EQ_STR(hex, v[i][1]);
    }
}

static void check_hashmod(const char *value, const char *modulus, const char *want)
{
    char *yaml = dw_asprintf("relabel_configs:\n"
                             "  - source_labels: [v]\n"
                             "    action: hashmod\n"
                             "    target_label: shard\n"
                             "    modulus: %s\n",
                             modulus);
    const char *in[] = {"v", value, NULL};
    char *want_text = *value ? dw_asprintf("{shard=\"%s\", v=\"%s\"}", want, value)
                             : dw_asprintf("{shard=\"%s\"}", want);
    CHECK_RELABEL(yaml, in, want_text);
    free(want_text);
    free(yaml);
}

TEST(relabel_hashmod_matches_prometheus)
{
    /* baz % 1000 = 976 is also in Prometheus' own relabel_test.go. */
    check_hashmod("baz", "1000", "976");
    check_hashmod("foo", "1000", "696");
    check_hashmod("10.0.0.1:9100", "8", "5");
    check_hashmod("10.0.0.2:9100", "8", "1");
    check_hashmod("", "10", "8");
    check_hashmod("bar", "18446744073709551615", "6581718738824679922");
    check_hashmod("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                  "xxxxxxxxxxxxxxxxxxxx",
                  "1000000007", "595152452");
}

/* ---- actions ---- */

TEST(relabel_replace_numbered_groups)
{
    /* Prometheus' test: ${1} written $${1} here (the walker expands ${VAR}). */
    CHECK_RELABEL("relabel_configs:\n"
                  "  - source_labels: [a]\n"
                  "    regex: f(.*)\n"
                  "    target_label: d\n"
                  "    separator: \";\"\n"
                  "    replacement: ch$${1}-ch$${1}\n",
                  abc, "{a=\"foo\", b=\"bar\", c=\"baz\", d=\"choo-choo\"}");
    CHECK_RELABEL("relabel_configs:\n"
                  "  - source_labels: [a, b]\n"
                  "    regex: f(.*);(.*)r\n"
                  "    target_label: a\n"
                  "    replacement: b$1$2m\n", /* Go reads $2m as the group named "2m" */
                  abc, "{a=\"boo\", b=\"bar\", c=\"baz\"}");
    CHECK_RELABEL("relabel_configs:\n"
                  "  - source_labels: [a, b]\n"
                  "    regex: f(.*);(.*)r\n"
                  "    target_label: a\n"
                  "    replacement: b$${1}$${2}m\n",
                  abc, "{a=\"boobam\", b=\"bar\", c=\"baz\"}");
}

TEST(relabel_replace_named_groups_and_templates)
{
    static const char *const in[] = {"__address__", "10.0.0.1:9100", NULL};
    CHECK_RELABEL("relabel_configs:\n"
                  "  - source_labels: [__address__]\n"
                  "    regex: '(?P<host>[^:]+):(?P<port>\\d+)'\n"
                  "    target_label: host\n"
                  "    replacement: $${host}\n"
                  "  - source_labels: [__address__]\n"
                  "    regex: '(?P<host>[^:]+):(?P<port>\\d+)'\n"
                  "    target_label: port_$${port}\n"
                  "    replacement: $port/$2/$$/$nope/$1x/$${1\n",
                  in,
                  "{__address__=\"10.0.0.1:9100\", host=\"10.0.0.1\", "
                  "port_9100=\"9100/9100/$///${1\"}");
}

TEST(relabel_replace_edge_cases)
{
    /* No match: nothing happens. */
    CHECK_RELABEL("relabel_configs:\n"
                  "  - {source_labels: [a], regex: nope, target_label: a, replacement: x}\n",
                  abc, "{a=\"foo\", b=\"bar\", c=\"baz\"}");
    /* The regex is anchored: "o" does not match "foo". */
    CHECK_RELABEL("relabel_configs:\n"
                  "  - {source_labels: [a], regex: o, target_label: x, replacement: y}\n",
                  abc, "{a=\"foo\", b=\"bar\", c=\"baz\"}");
    /* An empty expansion deletes the target label. */
    CHECK_RELABEL("relabel_configs:\n"
                  "  - {source_labels: [a], regex: '.*', target_label: b, replacement: ''}\n"
                  "  - {source_labels: [missing], target_label: c}\n",
                  abc, "{a=\"foo\"}");
    /* A target that expands to an invalid name skips the rule. */
    CHECK_RELABEL("relabel_configs:\n"
                  "  - {source_labels: [a], regex: '(.*)', target_label: '$1', replacement: x}\n"
                  "  - {source_labels: [n], regex: '(.*)', target_label: 'x$1', replacement: y}\n",
                  ((const char *const[]){"a", "1bad", "n", "-", NULL}), "{a=\"1bad\", n=\"-\"}");
    /* Go's $ never matches before a trailing newline. */
    CHECK_RELABEL("relabel_configs:\n"
                  "  - {source_labels: [a], regex: 'foo', action: drop}\n",
                  ((const char *const[]){"a", "foo\n", NULL}), "{a=\"foo\\n\"}");
    /* No source labels: the literal replacement is set. */
    CHECK_RELABEL("relabel_configs:\n"
                  "  - {target_label: __address__, replacement: '127.0.0.1:9115'}\n",
                  abc, "{__address__=\"127.0.0.1:9115\", a=\"foo\", b=\"bar\", c=\"baz\"}");
}

TEST(relabel_templates_follow_go_expand)
{
    /* Go's names take Unicode letters: "$1é" is the (missing) group "1é";
     * "€" is no letter, so "$1€" is group 1 then "€". */
    CHECK_RELABEL("relabel_configs:\n"
                  "  - {source_labels: [a], target_label: t1, replacement: '$1\u20ac'}\n"
                  "  - {source_labels: [a], target_label: t2, replacement: 'x$1\u00e9'}\n"
                  "  - {source_labels: [a], target_label: t3, replacement: '$0|$01|$$1'}\n",
                  abc,
                  "{a=\"foo\", b=\"bar\", c=\"baz\", t1=\"foo\u20ac\", t2=\"x\", "
                  "t3=\"foo||$1\"}");
}

TEST(relabel_labelmap_replaces_like_go)
{
    /* Prometheus wraps the regex as ^(?:regex)$; "foo)|(bar" breaks out of the
     * group, so it matches a prefix or a suffix and ReplaceAllString keeps the
     * rest of the name. PCRE2 must agree with Go here too. */
    static const char *const in[] = {"foo_x", "1", "xbar", "2", "zzz", "3", NULL};
    CHECK_RELABEL(
        "relabel_configs:\n  - {action: labelmap, regex: 'foo)|(bar', replacement: Z$1}\n", in,
        "{Z_x=\"1\", foo_x=\"1\", xZbar=\"2\", xbar=\"2\", zzz=\"3\"}");
    /* A later name in sorted order wins a collision. */
    static const char *const clash[] = {"__meta_a", "1", "__meta_b", "2", NULL};
    CHECK_RELABEL("relabel_configs:\n"
                  "  - {action: labelmap, regex: '__meta_(a|b)', replacement: same}\n"
                  "  - {action: labeldrop, regex: '__meta_.*'}\n",
                  clash, "{same=\"2\"}");
}

TEST(relabel_keep_and_drop)
{
    CHECK_RELABEL("relabel_configs:\n  - {source_labels: [a], regex: 'f.*', action: keep}\n", abc,
                  "{a=\"foo\", b=\"bar\", c=\"baz\"}");
    CHECK_RELABEL("relabel_configs:\n  - {source_labels: [a], regex: 'f', action: keep}\n", abc,
                  "dropped");
    CHECK_RELABEL("relabel_configs:\n  - {source_labels: [a], regex: 'f.*', action: drop}\n", abc,
                  "dropped");
    CHECK_RELABEL("relabel_configs:\n  - {source_labels: [a, b], regex: 'foo;bar', action: Drop}\n",
                  abc, "dropped");
    /* A missing label is "": keep with the default regex keeps it. */
    CHECK_RELABEL("relabel_configs:\n  - {source_labels: [zz], action: KEEP}\n", abc,
                  "{a=\"foo\", b=\"bar\", c=\"baz\"}");
    /* Rules after a drop do not run. */
    CHECK_RELABEL("relabel_configs:\n"
                  "  - {source_labels: [a], regex: foo, action: drop}\n"
                  "  - {source_labels: [a], regex: '(.*)', target_label: never}\n",
                  abc, "dropped");
}

TEST(relabel_keepequal_dropequal)
{
    static const char *const in[] = {"a", "x", "b", "x", "c", "y", NULL};
    CHECK_RELABEL(
        "relabel_configs:\n  - {source_labels: [a], target_label: b, action: keepequal}\n", in,
        "{a=\"x\", b=\"x\", c=\"y\"}");
    CHECK_RELABEL(
        "relabel_configs:\n  - {source_labels: [a], target_label: c, action: keepequal}\n", in,
        "dropped");
    CHECK_RELABEL(
        "relabel_configs:\n  - {source_labels: [a], target_label: b, action: dropequal}\n", in,
        "dropped");
    CHECK_RELABEL(
        "relabel_configs:\n  - {source_labels: [a], target_label: c, action: dropequal}\n", in,
        "{a=\"x\", b=\"x\", c=\"y\"}");
}

TEST(relabel_labelmap_labeldrop_labelkeep)
{
    static const char *const in[] = {
        "__meta_my_bar", "aaa", "__meta_my_baz", "bbb", "__meta_other", "ccc", "job", "j", NULL};
    CHECK_RELABEL("relabel_configs:\n  - {action: labelmap, regex: '__meta_my_(.+)'}\n", in,
                  "{__meta_my_bar=\"aaa\", __meta_my_baz=\"bbb\", __meta_other=\"ccc\", "
                  "bar=\"aaa\", baz=\"bbb\", job=\"j\"}");
    CHECK_RELABEL("relabel_configs:\n"
                  "  - {action: labelmap, regex: '__meta_(.+)', replacement: 'sd_$${1}_x'}\n",
                  in,
                  "{__meta_my_bar=\"aaa\", __meta_my_baz=\"bbb\", __meta_other=\"ccc\", "
                  "job=\"j\", sd_my_bar_x=\"aaa\", sd_my_baz_x=\"bbb\", sd_other_x=\"ccc\"}");
    CHECK_RELABEL("relabel_configs:\n  - {action: labeldrop, regex: '__meta_my.*'}\n", in,
                  "{__meta_other=\"ccc\", job=\"j\"}");
    CHECK_RELABEL("relabel_configs:\n  - {action: labelkeep, regex: 'job|__meta_other'}\n", in,
                  "{__meta_other=\"ccc\", job=\"j\"}");
}

TEST(relabel_lowercase_uppercase)
{
    static const char *const in[] = {"foo",
                                     "bAr123Foo",
                                     "u",
                                     "ÄöÜ straße",
                                     "bad",
                                     "A\xff"
                                     "b",
                                     NULL};
    CHECK_RELABEL("relabel_configs:\n"
                  "  - {source_labels: [foo], target_label: lo, action: lowercase}\n"
                  "  - {source_labels: [foo], target_label: up, action: uppercase}\n"
                  "  - {source_labels: [u], target_label: ulo, action: lowercase}\n"
                  "  - {source_labels: [u], target_label: uup, action: uppercase}\n"
                  "  - {source_labels: [bad], target_label: badlo, action: lowercase}\n"
                  "  - {source_labels: [none], target_label: foo, action: lowercase}\n",
                  in,
                  "{bad=\"A\xff"
                  "b\", badlo=\"a\xef\xbf\xbd"
                  "b\", lo=\"bar123foo\", u=\"ÄöÜ straße\", ulo=\"äöü straße\", "
                  "up=\"BAR123FOO\", uup=\"ÄÖÜ STRAßE\"}");
}

TEST(relabel_rules_release_is_idempotent)
{
    struct test_doc doc;
    decode_ok("relabel_configs:\n"
              "  - {source_labels: [a], regex: 'f(.*)', target_label: b}\n"
              "  - {action: labeldrop, regex: x}\n",
              &doc);
    ASSERT_EQ_INT(doc.nrules, 2);
    ASSERT_EQ_STR(doc.rules[0].regex.src, "f(.*)");
    ASSERT_EQ_STR(doc.rules[1].separator, ";");
    ASSERT_EQ_STR(doc.rules[1].replacement, "$1");
    ASSERT_EQ_INT(doc.rules[1].action, DW_RELABEL_LABELDROP);
    dw_relabel_rules_release(doc.rules, doc.nrules);
    ASSERT_NULL(doc.rules[0].regex.code);
    dw_schema_free(&doc_schema, &doc); /* frees the array; nothing twice */
}

/* ---- validation, with positions ---- */

TEST(relabel_validation_errors_have_positions)
{
    char *t = decode_errors("relabel_configs:\n"
                            "  - action: hashmod\n"               /* 2 */
                            "    target_label: shard\n"           /* 3 */
                            "  - source_labels: [a]\n"            /* 4 */
                            "    regex: '(unclosed'\n"            /* 5 */
                            "  - action: replace\n"               /* 6 */
                            "  - action: labeldrop\n"             /* 7 */
                            "    regex: tmp.*\n"                  /* 8 */
                            "    separator: ','\n"                /* 9 */
                            "  - action: bogus\n"                 /* 10 */
                            "  - action: lowercase\n"             /* 11 */
                            "    target_label: low\n"             /* 12 */
                            "    replacement: x\n"                /* 13 */
                            "  - action: labelmap\n"              /* 14 */
                            "    replacement: 1bad\n"             /* 15 */
                            "  - source_labels: [ok, bad-name]\n" /* 16 */
                            "    target_label: x\n"               /* 17 */
                            "  - action: keepequal\n"             /* 18 */
                            "    source_labels: [a]\n"            /* 19 */
                            "    target_label: b\n"               /* 20 */
                            "    regex: (.*)\n"                   /* 21 */
                            "  - action: hashmod\n"               /* 22 */
                            "    target_label: $1\n"              /* 23 */
                            "    modulus: 8\n"                    /* 24 */
                            "  - target_label: 1x\n"              /* 25 */
                            "  - target_label: y\n"               /* 26 */
                            "    modulus: -3\n"                   /* 27 */
                            "  - target_label: z\n"               /* 28 */
                            "    replacement: ${1}\n"             /* 29 */
                            "  - action: labelkeep\n"             /* 30 */
                            "    source_labels: []\n");           /* 31 */
    ASSERT_CONTAINS(t, "test.yml:2:5: relabel_configs[0]: relabel configuration for hashmod "
                       "requires non-zero modulus\n");
    ASSERT_CONTAINS(t, "test.yml:5:13: relabel_configs[1].regex: invalid regex \"(unclosed\": "
                       "missing closing parenthesis at offset 9\n");
    ASSERT_CONTAINS(t, "test.yml:6:5: relabel_configs[2]: relabel configuration for replace "
                       "action requires 'target_label' value\n");
    ASSERT_CONTAINS(t, "test.yml:9:17: relabel_configs[3].separator: labeldrop action requires "
                       "only 'regex', and no other fields\n");
    ASSERT_CONTAINS(t, "test.yml:10:13: relabel_configs[4].action: expected one of replace, keep");
    ASSERT_CONTAINS(t, "got \"bogus\"\n");
    ASSERT_CONTAINS(t, "test.yml:13:18: relabel_configs[5].replacement: 'replacement' can not be "
                       "set for lowercase action\n");
    ASSERT_CONTAINS(t, "test.yml:15:18: relabel_configs[6].replacement: \"1bad\" is invalid "
                       "'replacement' for labelmap action\n");
    ASSERT_CONTAINS(t, "test.yml:16:25: relabel_configs[7].source_labels[1]: \"bad-name\" is not "
                       "a valid label name\n");
    ASSERT_CONTAINS(t, "test.yml:21:12: relabel_configs[8].regex: keepequal action requires only "
                       "'source_labels' and `target_label`, and no other fields\n");
    ASSERT_CONTAINS(t, "test.yml:23:19: relabel_configs[9].target_label: \"$1\" is invalid "
                       "'target_label' for hashmod action\n");
    ASSERT_CONTAINS(t, "test.yml:25:19: relabel_configs[10].target_label: \"1x\" is invalid "
                       "'target_label' for replace action\n");
    ASSERT_CONTAINS(t, "test.yml:27:14: relabel_configs[11].modulus: expected an unsigned "
                       "integer, got \"-3\"\n");
    ASSERT_CONTAINS(t, "test.yml:29:18: relabel_configs[12].replacement: bad environment");
    ASSERT_CONTAINS(t, "test.yml:29:18: relabel_configs[12].replacement: warning: in relabel "
                       "rules write a capture group as $1, $${1}");
    ASSERT_CONTAINS(t, "test.yml:31:5: relabel_configs[13].source_labels: labelkeep action "
                       "requires only 'regex', and no other fields\n");
    free(t);
}

TEST(relabel_validation_accepts_prometheus_examples)
{
    struct test_doc doc;
    decode_ok(
        "relabel_configs:\n"
        "  - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]\n"
        "    action: keep\n"
        "    regex: true\n"
        "  - source_labels: [__address__, __meta_kubernetes_pod_annotation_prometheus_io_port]\n"
        "    action: replace\n"
        "    regex: '([^:]+)(?::\\d+)?;(\\d+)'\n"
        "    replacement: $1:$2\n"
        "    target_label: __address__\n"
        "  - action: labelmap\n"
        "    regex: __meta_kubernetes_pod_label_(.+)\n"
        "  - {source_labels: [__address__], modulus: 4, target_label: __tmp_hash, action: "
        "hashmod}\n"
        "  - {source_labels: [__tmp_hash], regex: '^1$', action: keep}\n"
        "  - {source_labels: [a], target_label: 'x_$${1}'}\n"
        "  - {source_labels: [a], target_label: b, action: keepequal, separator: ';'}\n"
        "  - {action: labeldrop, regex: 'tmp_.*', replacement: $1}\n",
        &doc);
    ASSERT_EQ_INT(doc.nrules, 8);
    ASSERT_EQ_UINT(doc.rules[3].modulus, 4);
    dw_schema_free(&doc_schema, &doc);
}

/* ---- target labels around relabeling ---- */

static const struct dw_schema_pair module_param[] = {{"module", "http_2xx"}};

TEST(target_populate_sets_defaults)
{
    struct dw_lset ls;
    lset_of(&ls, (const char *const[]){"__address__", "h:9100", "__scheme__", "https", NULL});
    dw_target_populate(&ls, "node", "http", "/metrics", 15000, 10000, module_param, 1);
    char *t = lset_text(&ls);
    ASSERT_EQ_STR(t, "{__address__=\"h:9100\", __metrics_path__=\"/metrics\", "
                     "__param_module=\"http_2xx\", __scheme__=\"https\", "
                     "__scrape_interval__=\"15s\", __scrape_timeout__=\"10s\", job=\"node\"}");
    free(t);
    dw_lset_release(&ls);
}

static int finish(struct dw_lset *ls, const struct dw_schema_pair *params, size_t nparams,
                  struct dw_target_info *ti, char **err)
{
    return dw_target_finish(ls, params, nparams, ti, err);
}

TEST(target_finish_builds_url_and_drops_internal_labels)
{
    struct dw_lset ls;
    struct dw_target_info ti;
    char *err = NULL;
    lset_of(&ls, (const char *const[]){"__address__", "h:9100", "__meta_x", "m", "__tmp_y", "t",
                                       "env", "prod", NULL});
    dw_target_populate(&ls, "node", "http", "/metrics", 60000, 10000, module_param, 1);
    ASSERT_EQ_INT(finish(&ls, module_param, 1, &ti, &err), 0);
    ASSERT_EQ_STR(ti.url, "http://h:9100/metrics?module=http_2xx");
    ASSERT_EQ_INT(ti.interval_ms, 60000);
    ASSERT_EQ_INT(ti.timeout_ms, 10000);
    char *t = lset_text(&ls);
    ASSERT_EQ_STR(t, "{env=\"prod\", instance=\"h:9100\", job=\"node\"}");
    ASSERT_EQ_STR(ls.items[0].name, "env"); /* sorted */
    free(t);
    dw_target_info_release(&ti);
    dw_lset_release(&ls);
}

static void check_default_port(const char *addr, const char *scheme, const char *want_url,
                               const char *want_instance)
{
    struct dw_lset ls;
    struct dw_target_info ti;
    char *err = NULL;
    lset_of(&ls, (const char *const[]){"__address__", addr, NULL});
    dw_target_populate(&ls, "j", scheme, "metrics", 15000, 15000, NULL, 0);
    if (finish(&ls, NULL, 0, &ti, &err) != 0)
        DW_FAIL_("finish %s: %s", addr, err);
    ASSERT_EQ_STR(ti.url, want_url);
    ASSERT_EQ_STR(dw_lset_get(&ls, "instance"), want_instance);
    dw_target_info_release(&ti);
    dw_lset_release(&ls);
}

TEST(target_finish_adds_default_port)
{
    check_default_port("example.com", "https", "https://example.com:443/metrics",
                       "example.com:443");
    check_default_port("example.com", "http", "http://example.com:80/metrics", "example.com:80");
    check_default_port("[::1]", "http", "http://[::1]:80/metrics", "[::1]:80");
    check_default_port("[::1]:9", "http", "http://[::1]:9/metrics", "[::1]:9");
    check_default_port("::1", "http", "http://::1/metrics", "::1"); /* cannot take a port */
}

static void check_finish_error(const char *const *labels, const char *want)
{
    struct dw_lset ls;
    struct dw_target_info ti;
    char *err = NULL;
    lset_of(&ls, labels);
    ASSERT_EQ_INT(finish(&ls, NULL, 0, &ti, &err), -1);
    ASSERT_EQ_STR(err, want);
    ASSERT_NULL(ti.url);
    free(err);
    dw_lset_release(&ls);
}

#define TIMES "__scrape_interval__", "15s", "__scrape_timeout__", "10s"

TEST(target_finish_errors)
{
    check_finish_error((const char *const[]){TIMES, "job", "j", NULL}, "no address");
    check_finish_error((const char *const[]){"__address__", "http://x", TIMES, NULL},
                       "\"http://x\" is not a valid hostname");
    check_finish_error((const char *const[]){"__address__", "x", "__scheme__", "ftp", TIMES, NULL},
                       "invalid scheme: \"ftp\"");
    check_finish_error((const char *const[]){"__address__", "x:1", "__scrape_interval__", "abc",
                                             "__scrape_timeout__", "1s", NULL},
                       "error parsing scrape interval: not a valid duration string: \"abc\"");
    check_finish_error((const char *const[]){"__address__", "x:1", "__scrape_interval__", "0",
                                             "__scrape_timeout__", "1s", NULL},
                       "scrape interval cannot be 0");
    check_finish_error((const char *const[]){"__address__", "x:1", "__scrape_interval__", "5s",
                                             "__scrape_timeout__", "1m", NULL},
                       "scrape timeout cannot be greater than scrape interval (\"1m\" > \"5s\")");
    check_finish_error((const char *const[]){"__address__", "x:1", TIMES, "bad", "\xc3(", NULL},
                       "invalid label value for \"bad\": \"\xc3(\"");
    check_finish_error((const char *const[]){"__address__", "x:1", TIMES, "a-b", "v", NULL},
                       "\"a-b\" is not a valid label name");
}

TEST(target_url_params_follow_prometheus)
{
    static const struct dw_schema_pair params[] = {{"module", "a"}, {"target", "b"}};
    struct dw_lset ls;
    struct dw_target_info ti;
    char *err = NULL;
    lset_of(&ls, (const char *const[]){"__address__", "x:1", NULL});
    dw_target_populate(&ls, "j", "http", "/a b?c", 15000, 5000, params, 2);
    dw_lset_del(&ls, "__param_module"); /* the configured value stays in the URL */
    dw_lset_set(&ls, "__param_target", "https://e.com/x?y=1");
    dw_lset_set(&ls, "__param_extra", "a b&c~");
    dw_lset_set(&ls, "instance", "mine");
    ASSERT_EQ_INT(finish(&ls, params, 2, &ti, &err), 0);
    ASSERT_EQ_STR(ti.url, "http://x:1/a%20b%3Fc?extra=a+b%26c~&module=a&"
                          "target=https%3A%2F%2Fe.com%2Fx%3Fy%3D1");
    ASSERT_EQ_STR(dw_lset_get(&ls, "instance"), "mine");
    dw_target_info_release(&ti);
    dw_lset_release(&ls);
}

TEST(target_pipeline_blackbox_example)
{
    /* The blackbox exporter recipe from the Prometheus documentation. */
    static const struct dw_schema_pair params[] = {{"module", "http_2xx"}};
    struct test_doc doc;
    struct dw_lset ls;
    struct dw_target_info ti;
    char *err = NULL;
    decode_ok("relabel_configs:\n"
              "  - source_labels: [__address__]\n"
              "    target_label: __param_target\n"
              "  - source_labels: [__param_target]\n"
              "    target_label: instance\n"
              "  - target_label: __address__\n"
              "    replacement: 127.0.0.1:9115\n",
              &doc);
    lset_of(&ls, (const char *const[]){"__address__", "https://example.com", NULL});
    dw_target_populate(&ls, "blackbox", "http", "/probe", 30000, 10000, params, 1);
    ASSERT_TRUE(dw_relabel_apply(doc.rules, doc.nrules, &ls));
    ASSERT_EQ_INT(finish(&ls, params, 1, &ti, &err), 0);
    ASSERT_EQ_STR(ti.url,
                  "http://127.0.0.1:9115/probe?module=http_2xx&target=https%3A%2F%2Fexample.com");
    char *t = lset_text(&ls);
    ASSERT_EQ_STR(t, "{instance=\"https://example.com\", job=\"blackbox\"}");
    free(t);
    dw_target_info_release(&ti);
    dw_lset_release(&ls);
    dw_schema_free(&doc_schema, &doc);
}

/* ---- file_sd ---- */

/* Reads text as file `name`; returns the error (caller frees) or NULL. */
static char *sd_read(const char *name, const char *text, struct dw_target_group **g, size_t *n)
{
    char *dir = tmpdir_new(), *err = NULL;
    char *path = write_file(dir, name, text);
    if (dw_filesd_read(path, g, n, &err) == 0)
        ASSERT_NULL(err);
    else
        ASSERT_NULL(*g);
    rm_rf(dir);
    free(path);
    free(dir);
    return err;
}

/* The error after the "<tmpdir>/<name>:" prefix. */
static void check_sd_error(const char *name, const char *text, const char *want)
{
    struct dw_target_group *g = NULL;
    size_t n = 0;
    char *err = sd_read(name, text, &g, &n);
    ASSERT_NOT_NULL(err);
    const char *at = strstr(err, name);
    ASSERT_NOT_NULL(at);
    ASSERT_EQ_STR(at + strlen(name), want);
    free(err);
}

TEST(filesd_json)
{
    struct dw_target_group *g = NULL;
    size_t n = 0;
    char *dir = tmpdir_new(), *err = NULL;
    char *path = write_file(dir, "t.json",
                            "[\n"
                            "  {\"targets\": [\"10.0.0.1:9100\", \"10.0.0.2:9100\"],\n"
                            "   \"labels\": {\"env\": \"prod\", \"team\": \"a\\u00e9\"}},\n"
                            "  {\"targets\": [\"h:1\"], \"labels\": {\"__meta_filepath\": \"x\", "
                            "\"e\": \"\"}},\n"
                            "  {\"labels\": null, \"targets\": null}\n"
                            "]\n");
    ASSERT_EQ_INT(dw_filesd_read(path, &g, &n, &err), 0);
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_INT(g[0].ntargets, 2);
    ASSERT_EQ_STR(g[0].targets[1], "10.0.0.2:9100");
    ASSERT_EQ_STR(dw_lset_get(&g[0].labels, "team"), "a\xc3\xa9");
    ASSERT_EQ_STR(dw_lset_get(&g[1].labels, "__meta_filepath"), path); /* the path wins */
    ASSERT_NULL(dw_lset_get(&g[1].labels, "e"));
    ASSERT_EQ_INT(g[2].ntargets, 0);
    char *src = dw_asprintf("%s:2", path);
    ASSERT_EQ_STR(g[2].source, src);
    free(src);
    struct dw_lset ls;
    dw_lset_init(&ls);
    dw_target_group_lset(&g[0], 0, &ls);
    char *t = lset_text(&ls);
    char *want = dw_asprintf("{__address__=\"10.0.0.1:9100\", __meta_filepath=\"%s\", "
                             "env=\"prod\", team=\"a\xc3\xa9\"}",
                             path);
    ASSERT_EQ_STR(t, want);
    free(t);
    free(want);
    dw_lset_release(&ls);
    dw_target_groups_free(g, n);
    rm_rf(dir);
    free(path);
    free(dir);
}

TEST(filesd_yaml)
{
    struct dw_target_group *g = NULL;
    size_t n = 0;
    char *err = sd_read("t.YAML",
                        "# generated\n"
                        "- targets: ['a:1', b:2, 9100]\n"
                        "  labels: &common {env: prod, port: 9100, on: true, none: ~}\n"
                        "- targets:\n"
                        "    - c:3\n"
                        "  labels:\n"
                        "    <<: *common\n"
                        "    env: staging\n",
                        &g, &n);
    ASSERT_NULL(err);
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(g[0].ntargets, 3);
    ASSERT_EQ_STR(g[0].targets[2], "9100");
    ASSERT_EQ_STR(dw_lset_get(&g[0].labels, "port"), "9100");
    ASSERT_EQ_STR(dw_lset_get(&g[0].labels, "on"), "true");
    ASSERT_NULL(dw_lset_get(&g[0].labels, "none"));
    ASSERT_EQ_STR(dw_lset_get(&g[1].labels, "env"), "staging");
    ASSERT_EQ_STR(dw_lset_get(&g[1].labels, "port"), "9100");
    dw_target_groups_free(g, n);
}

TEST(filesd_json_keys_like_go)
{
    /* encoding/json: keys match fields case-insensitively; a repeated list
     * is replaced, a repeated map adds up. */
    struct dw_target_group *g = NULL;
    size_t n = 0;
    char *err = sd_read("k.json",
                        "[{\"Targets\": [\"a\"], \"targets\": [\"b\", \"\"], \"LABELS\": "
                        "{\"x\": \"1\"}, \"labels\": {\"y\": \"2\", \"z\": null}}]",
                        &g, &n);
    ASSERT_NULL(err);
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(g[0].ntargets, 2);
    ASSERT_EQ_STR(g[0].targets[0], "b");
    ASSERT_EQ_STR(dw_lset_get(&g[0].labels, "x"), "1");
    ASSERT_EQ_STR(dw_lset_get(&g[0].labels, "y"), "2");
    ASSERT_NULL(dw_lset_get(&g[0].labels, "z"));
    struct dw_lset ls;
    dw_lset_init(&ls);
    dw_target_group_lset(&g[0], 1, &ls); /* an empty target has no address */
    ASSERT_NULL(dw_lset_get(&ls, "__address__"));
    dw_lset_release(&ls);
    dw_target_groups_free(g, n);
    /* YAML keys are case-sensitive (yaml.v2). */
    check_sd_error("k.yml", "- Targets: [a]\n",
                   ":1:3: unknown key \"Targets\" in a target group "
                   "(expected targets, labels)");
}

TEST(filesd_empty_files)
{
    struct dw_target_group *g = NULL;
    size_t n = 1;
    char *err = sd_read("e.yml", "", &g, &n);
    ASSERT_NULL(err);
    ASSERT_EQ_INT(n, 0);
    err = sd_read("e.yaml", "# nothing yet\n", &g, &n);
    ASSERT_NULL(err);
    ASSERT_EQ_INT(n, 0);
    err = sd_read("n.json", "null", &g, &n);
    ASSERT_NULL(err);
    ASSERT_EQ_INT(n, 0);
    err = sd_read("l.json", "[]", &g, &n);
    ASSERT_NULL(err);
    ASSERT_EQ_INT(n, 0);
    /* Prometheus: an empty JSON file is "unexpected end of JSON input". */
    check_sd_error("e.json", "", ":1:1: invalid JSON: unexpected token near end of file");
}

TEST(filesd_syntax_errors_have_positions)
{
    check_sd_error("s.json", "[\n  {\"targets\": [\"a\",]}\n]\n",
                   ":2:20: invalid JSON: unexpected token near ']'");
    check_sd_error("s.yml", "- targets: [a\n  labels: {}\n",
                   ":3:1: invalid YAML: flow sequence "
                   "without a closing bracket");
    check_sd_error("d.yml", "- targets: [a]\n  targets: [b]\n",
                   ":2:3: invalid YAML: duplicate key");
}

TEST(filesd_shape_errors_have_positions)
{
    check_sd_error("r.json", "{\"targets\": []}",
                   ":1:2: expected a list of target groups, got a mapping");
    check_sd_error("n.json", "[{\"targets\": [\"a\", 12]}]",
                   ":1:20: a target must be a string, got 12");
    check_sd_error("l.json", "[{\"labels\": {\"a\": true}}]",
                   ":1:19: a label value must be a string, got true");
    check_sd_error("u.yml", "- targets: [a]\n  lables: {a: b}\n",
                   ":2:3: unknown key \"lables\" in a target group (expected targets, labels)");
    check_sd_error("k.yml", "- labels:\n    bad-name: x\n",
                   ":2:5: \"bad-name\" is not a valid label name");
    check_sd_error("t.yml", "- targets: a:1\n",
                   ":1:12: targets must be a list of strings, got a "
                   "scalar");
    check_sd_error("m.yml", "- labels: [a]\n",
                   ":1:12: labels must be a mapping of label names to strings, got a sequence");
    check_sd_error("v.yml", "- labels: {a: [b]}\n",
                   ":1:16: a label value must be a string, got a "
                   "sequence");
    check_sd_error("g.yml", "- targets: [a]\n- ~\n", ":2:3: nil target group item found");
    check_sd_error("s.yml", "- just a string\n",
                   ":1:3: a target group must be a mapping with targets and labels, got a scalar");
    check_sd_error("a.yml", "- targets: *nope\n", ":1:12: alias cannot be resolved");
    check_sd_error("x.txt", "[]", ": unsupported file_sd extension (want .json, .yml or .yaml)");
}

TEST(filesd_limits)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, "[{\"targets\": [");
    for (int i = 0; i <= DW_FILESD_MAX_TARGETS; i++)
        dw_buf_printf(&b, "%s\"h%d:1\"", i ? "," : "", i);
    dw_buf_puts(&b, "]}]");
    check_sd_error("big.json", b.data, ":1:3: too many targets (at most 100000 in one file)");
    dw_buf_release(&b);

    /* The limit counts alias expansions too. */
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, "- targets: &t [");
    for (int i = 0; i < 30000; i++)
        dw_buf_printf(&b, "%sh%d", i ? "," : "", i);
    dw_buf_puts(&b, "]\n- targets: *t\n- targets: *t\n- targets: *t\n");
    check_sd_error("alias.yml", b.data, ":4:3: too many targets (at most 100000 in one file)");
    dw_buf_release(&b);

    char *dir = tmpdir_new(), *err = NULL;
    char *path = dw_asprintf("%s/huge.json", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_TRUE(fd >= 0);
    ASSERT_EQ_INT(ftruncate(fd, (off_t)DW_FILESD_MAX_BYTES + 1), 0);
    close(fd);
    struct dw_target_group *g = NULL;
    size_t n = 0;
    ASSERT_EQ_INT(dw_filesd_read(path, &g, &n, &err), -1);
    ASSERT_CONTAINS(err, "file is larger than 16 MiB");
    free(err);
    free(path);
    path = dw_asprintf("%s/missing.yml", dir);
    ASSERT_EQ_INT(dw_filesd_read(path, &g, &n, &err), -1);
    ASSERT_CONTAINS(err, "missing.yml: No such file or directory");
    free(err);
    free(path);
    rm_rf(dir);
    free(dir);
}

TEST(filesd_stat_detects_changes)
{
    char *dir = tmpdir_new();
    char *path = write_file(dir, "w.yml", "- targets: [a]\n");
    struct dw_filesd_stamp a, b, c;
    ASSERT_EQ_INT(dw_filesd_stat(path, &a), 0);
    ASSERT_EQ_INT(dw_filesd_stat(path, &b), 0);
    ASSERT_TRUE(dw_filesd_stamp_equal(&a, &b));
    ASSERT_EQ_INT(a.size, 15);
    free(write_file(dir, "w.yml", "- targets: [a, b]\n"));
    ASSERT_EQ_INT(dw_filesd_stat(path, &c), 0);
    ASSERT_FALSE(dw_filesd_stamp_equal(&a, &c));
    /* Replaced by rename (how generators write): a new inode. */
    char *tmp = write_file(dir, "w.yml.tmp", "- targets: [x, y]\n");
    ASSERT_EQ_INT(rename(tmp, path), 0);
    ASSERT_EQ_INT(dw_filesd_stat(path, &b), 0);
    ASSERT_NE_INT(b.inode, c.inode);
    ASSERT_FALSE(dw_filesd_stamp_equal(&b, &c));
    free(tmp);
    ASSERT_EQ_INT(dw_filesd_stat("/nonexistent/x.yml", &a), -1);
    ASSERT_EQ_INT(a.size, 0);
    rm_rf(dir);
    free(path);
    free(dir);
}

TEST_MAIN()
