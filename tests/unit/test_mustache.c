/*
 * test_mustache.c - the Mustache template engine (src/incident/mustache.c).
 *
 * The first tests run the official Mustache spec cases (comments,
 * delimiters, interpolation, inverted, partials, sections; not lambdas) from
 * the specs/ *.json files that Debian's r-cran-whisker installs, read in place at
 * run time (DW_MUSTACHE_SPEC_DIR, set by meson; the environment variable of
 * the same name overrides it). Every case is run: template, data, partials,
 * expected output; each failing case is printed by name. The rest are ours:
 * positioned compile errors, every limit, HTML escaping, numbers, and an
 * incident report fragment.
 */
#include <jansson.h>

#include "harness.h"
#include "incident/mustache.h"

#ifndef DW_MUSTACHE_SPEC_DIR
#define DW_MUSTACHE_SPEC_DIR "/usr/lib/R/site-library/whisker/specs"
#endif

static const char *json_partial(void *ctx, const char *name)
{
    return json_string_value(json_object_get((json_t *)ctx, name));
}

/* Renders text against data (JSON text) with partials (a JSON object or
 * NULL); returns the output (heap) or NULL with *err. */
static char *render_json(const char *text, const char *data, const char *partials, size_t max,
                         char **err)
{
    struct dw_diags diags;
    dw_diags_init(&diags);
    struct dw_mustache *t = dw_mustache_compile("t", text, strlen(text), &diags);
    if (!t) {
        struct dw_buf b;
        dw_buf_init(&b, 0);
        dw_diag_format(&diags.items[0], &b);
        *err = dw_buf_steal(&b);
        dw_diags_release(&diags);
        return NULL;
    }
    dw_diags_release(&diags);
    json_error_t jerr;
    json_t *d = json_loads(data, JSON_DECODE_ANY, &jerr);
    json_t *p = partials ? json_loads(partials, 0, &jerr) : NULL;
    if (!d || (partials && !p)) {
        fprintf(stderr, "  bad test JSON: %s\n", jerr.text);
        abort();
    }
    struct dw_buf out;
    dw_buf_init(&out, max);
    int rc = dw_mustache_render(t, d, p ? json_partial : NULL, p, &out, err);
    json_decref(d);
    json_decref(p);
    dw_mustache_free(&t);
    if (rc < 0) {
        dw_buf_release(&out);
        return NULL;
    }
    return dw_buf_steal(&out);
}

/* The output, or "ERROR: message": one string to compare. */
static char *run(const char *text, const char *data)
{
    char *err = NULL;
    char *out = render_json(text, data, NULL, 0, &err);
    if (out)
        return out;
    char *s = dw_asprintf("ERROR: %s", err);
    free(err);
    return s;
}

#define ASSERT_RENDERS(text, data, want)                                                           \
    do {                                                                                           \
        char *got_ = run(text, data);                                                              \
        int eq_ = strcmp(got_, want) == 0;                                                         \
        if (!eq_)                                                                                  \
            fprintf(stderr, "  got \"%s\"\n", got_);                                               \
        free(got_);                                                                                \
        ASSERT_TRUE(eq_ && "renders as " #want);                                                   \
    } while (0)

/* ---- the official spec ---- */

/* Runs every case of one spec file; prints each failure and the counts. */
static void run_spec_file(const char *file, int want_cases)
{
    const char *dir = getenv("DW_MUSTACHE_SPEC_DIR");
    if (!dir || !*dir)
        dir = DW_MUSTACHE_SPEC_DIR;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    json_error_t jerr;
    json_t *spec = json_load_file(path, 0, &jerr);
    if (!spec)
        DW_FAIL_("cannot read %s: %s (install r-cran-whisker: scripts/deps.sh test)", path,
                 jerr.text);
    json_t *tests = json_object_get(spec, "tests");
    size_t i, passed = 0;
    json_t *c;
    json_array_foreach(tests, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *tmpl = json_string_value(json_object_get(c, "template"));
        const char *want = json_string_value(json_object_get(c, "expected"));
        struct dw_diags diags;
        dw_diags_init(&diags);
        struct dw_mustache *t = dw_mustache_compile(name, tmpl, strlen(tmpl), &diags);
        struct dw_buf out;
        dw_buf_init(&out, 1 << 20);
        char *err = NULL;
        int rc = t ? dw_mustache_render(t, json_object_get(c, "data"), json_partial,
                                        json_object_get(c, "partials"), &out, &err)
                   : -1;
        if (rc == 0 && strcmp(out.data ? out.data : "", want) == 0) {
            passed++;
        } else {
            fprintf(stderr, "  spec %s: \"%s\" fails\n    template %s\n    expected %s\n", file,
                    name, tmpl, want);
            if (!t)
                fprintf(stderr, "    compile error: %s\n", diags.items[0].msg);
            else if (rc < 0)
                fprintf(stderr, "    render error: %s\n", err);
            else
                fprintf(stderr, "    got      %s\n", out.data ? out.data : "");
        }
        free(err);
        dw_buf_release(&out);
        dw_mustache_free(&t);
        dw_diags_release(&diags);
    }
    size_t total = json_array_size(tests);
    printf("  spec %s: %zu of %zu cases pass\n", file, passed, total);
    json_decref(spec);
    ASSERT_EQ_INT(total, want_cases); /* the file we expect, not an empty one */
    ASSERT_EQ_INT(passed, total);
}

TEST(spec_comments)
{
    run_spec_file("comments.json", 11);
}

TEST(spec_delimiters)
{
    run_spec_file("delimiters.json", 14);
}

TEST(spec_interpolation)
{
    run_spec_file("interpolation.json", 30);
}

TEST(spec_inverted)
{
    run_spec_file("inverted.json", 21);
}

TEST(spec_partials)
{
    run_spec_file("partials.json", 10);
}

TEST(spec_sections)
{
    run_spec_file("sections.json", 25);
}

/* ---- compile errors ---- */

static void assert_compile_error(const char *text, const char *want)
{
    struct dw_diags diags;
    dw_diags_init(&diags);
    struct dw_mustache *t = dw_mustache_compile("report.md", text, strlen(text), &diags);
    ASSERT_NULL(t);
    ASSERT_EQ_UINT(diags.n, 1);
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_diag_format(&diags.items[0], &b);
    dw_diags_release(&diags);
    int eq = strcmp(b.data, want) == 0;
    if (!eq)
        fprintf(stderr, "  got \"%s\"\n want \"%s\"\n", b.data, want);
    dw_buf_release(&b);
    ASSERT_TRUE(eq);
}

TEST(compile_errors_are_positioned)
{
    assert_compile_error("# Report\n\n  {{#actions}}\n- {{task}}\n",
                         "report.md:3:3: unclosed section 'actions'");
    assert_compile_error("{{#a}}\n {{#b}}x{{/a}}",
                         "report.md:2:9: mismatched {{/a}}: the open section is 'b' (from 2:2)");
    assert_compile_error("text\n{{/y}}", "report.md:2:1: mismatched {{/y}}: no section is open");
    assert_compile_error("Hello {{name}\n", "report.md:1:7: unclosed tag: no '}}' after '{{'");
    assert_compile_error("x {{{name}}", "report.md:1:3: unclosed tag: no '}}}' after '{{'");
    assert_compile_error("{{=<% %>=}}\n<% name }}",
                         "report.md:2:1: unclosed tag: no '%>' after '<%'");
    assert_compile_error(
        "ok\n {{=<%>=}}",
        "report.md:2:2: bad delimiter '<%>': want two delimiters like {{=<% %>=}}");
    assert_compile_error(
        "{{= a b c =}}",
        "report.md:1:1: bad delimiter 'a b c': want two delimiters like {{=<% %>=}}");
    assert_compile_error(
        "{{=a= b=}}", "report.md:1:1: bad delimiter 'a= b': want two delimiters like {{=<% %>=}}");
    assert_compile_error("a {{first name}}", "report.md:1:3: invalid name 'first name'");
    assert_compile_error("a {{a..b}}", "report.md:1:3: invalid name 'a..b'");
    assert_compile_error("a {{#}}{{/}}", "report.md:1:3: empty tag name");
}

TEST(compile_error_counts_lines_after_delimiter_change)
{
    assert_compile_error("{{=[ ]=}}\nline\n  [#x]\n", "report.md:3:3: unclosed section 'x'");
}

TEST(a_template_renders_many_times)
{
    const char *text = "{{#items}}{{.}},{{/items}}";
    struct dw_mustache *t = dw_mustache_compile(NULL, text, strlen(text), NULL);
    ASSERT_NOT_NULL(t);
    ASSERT_EQ_STR(dw_mustache_name(t), "template");
    for (int i = 0; i < 3; i++) {
        json_t *d = json_pack("{s:[i,i]}", "items", i, i + 1);
        struct dw_buf out;
        dw_buf_init(&out, 0);
        ASSERT_EQ_INT(dw_mustache_render(t, d, NULL, NULL, &out, NULL), 0);
        char want[32];
        snprintf(want, sizeof want, "%d,%d,", i, i + 1);
        ASSERT_EQ_STR(out.data, want);
        dw_buf_release(&out);
        json_decref(d);
    }
    dw_mustache_free(&t);
    ASSERT_NULL(t);
    dw_mustache_free(&t);
    dw_mustache_free(NULL);
}

/* ---- limits ---- */

TEST(limit_template_size)
{
    size_t n = DW_MUSTACHE_MAX_TEMPLATE;
    char *text = dw_malloc(n + 1);
    memset(text, 'x', n + 1);
    struct dw_diags diags;
    dw_diags_init(&diags);
    struct dw_mustache *t = dw_mustache_compile("big", text, n, &diags);
    ASSERT_NOT_NULL(t);
    dw_mustache_free(&t);
    t = dw_mustache_compile("big", text, n + 1, &diags);
    free(text);
    ASSERT_NULL(t);
    ASSERT_EQ_UINT(diags.n, 1);
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_diag_format(&diags.items[0], &b);
    dw_diags_release(&diags);
    ASSERT_EQ_STR(b.data, "big: template is larger than 256 KiB (262145 bytes)");
    dw_buf_release(&b);
}

static char *nested(int depth)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    for (int i = 0; i < depth; i++)
        dw_buf_printf(&b, "{{#s%d}}", i);
    dw_buf_puts(&b, "deep");
    for (int i = depth; i-- > 0;)
        dw_buf_printf(&b, "{{/s%d}}", i);
    return dw_buf_steal(&b);
}

TEST(limit_nesting_depth)
{
    char *ok = nested(DW_MUSTACHE_MAX_DEPTH);
    ASSERT_RENDERS(ok, "{\"s0\": true}", "");
    free(ok);
    char *deep = nested(DW_MUSTACHE_MAX_DEPTH + 1);
    char *err = NULL;
    ASSERT_NULL(render_json(deep, "{}", NULL, 0, &err));
    free(deep);
    /* the 65th {{#s64}} starts at column 1 + sum of the widths of the 64 before it */
    ASSERT_EQ_STR(err, "t:1:503: sections nested deeper than 64");
    free(err);
}

TEST(limit_output_size)
{
    char *err = NULL;
    char *out =
        render_json("{{#r}}{{s}}{{/r}}", "{\"r\": [1,2,3], \"s\": \"0123456789\"}", NULL, 30, &err);
    ASSERT_NOT_NULL(out);
    ASSERT_EQ_UINT(strlen(out), 30);
    free(out);
    ASSERT_NULL(render_json("{{#r}}{{s}}{{/r}}", "{\"r\": [1,2,3,4], \"s\": \"0123456789\"}", NULL,
                            30, &err));
    ASSERT_EQ_STR(err, "output is larger than 30 bytes");
    free(err);

    /* The caller's buffer is left as it was before the failed render. */
    const char *text = "{{x}}{{x}}{{x}}";
    struct dw_mustache *t = dw_mustache_compile("t", text, strlen(text), NULL);
    struct dw_buf buf;
    dw_buf_init(&buf, 12);
    dw_buf_puts(&buf, "head:");
    json_t *d = json_pack("{s:s}", "x", "<>");
    ASSERT_EQ_INT(dw_mustache_render(t, d, NULL, NULL, &buf, NULL), -1);
    ASSERT_EQ_STR(buf.data, "head:");
    ASSERT_EQ_UINT(buf.len, 5);
    json_decref(d);
    dw_buf_release(&buf);
    dw_mustache_free(&t);
}

TEST(limit_partial_recursion)
{
    char *err = NULL;
    /* Data 32 levels deep: 33 nested partials are refused, 32 render. */
    const char *partials = "{\"node\": \"{{n}}{{#kids}}({{>node}}){{/kids}}\"}";
    struct dw_buf data;
    dw_buf_init(&data, 0);
    for (int i = 0; i < 32; i++)
        dw_buf_printf(&data, "{\"n\": %d, \"kids\": [", i);
    dw_buf_puts(&data, "{\"n\": 32, \"kids\": []}"); /* else kids resolves up the stack */
    for (int i = 0; i < 32; i++)
        dw_buf_puts(&data, "]}");
    char *out = render_json("{{>node}}", data.data, partials, 0, &err);
    ASSERT_NULL(out);
    ASSERT_EQ_STR(err, "node:1:16: partials nested deeper than 32");
    free(err);
    /* the same data starting one level down */
    out = render_json("{{#kids}}{{>node}}{{/kids}}", data.data, partials, 0, &err);
    ASSERT_NOT_NULL(out);
    ASSERT_TRUE(dw_str_has_prefix(out, "1(2(3("));
    ASSERT_CONTAINS(out, "(32)");
    free(out);
    dw_buf_release(&data);

    /* A partial that includes itself unconditionally. */
    ASSERT_NULL(render_json("{{>loop}}", "{}", "{\"loop\": \"x{{>loop}}\"}", 0, &err));
    ASSERT_EQ_STR(err, "loop:1:2: partials nested deeper than 32");
    free(err);
}

TEST(limit_steps)
{
    /* 8 nested sections over 10 items: 10^8 visits and no output at all. */
    char *text = nested(8);
    struct dw_buf data;
    dw_buf_init(&data, 0);
    dw_buf_puts(&data, "{");
    for (int i = 0; i < 8; i++)
        dw_buf_printf(&data, "%s\"s%d\": [1,2,3,4,5,6,7,8,9,10]", i ? "," : "", i);
    dw_buf_puts(&data, "}");
    char *err = NULL;
    ASSERT_NULL(render_json(text, data.data, NULL, 0, &err));
    ASSERT_EQ_STR(err, "rendering takes more than 16777216 steps");
    free(err);
    free(text);
    dw_buf_release(&data);
}

/* ---- values ---- */

TEST(html_escaping)
{
    const char *data = "{\"v\": \"<a href=\\\"x?a=1&b=2\\\">it's</a>\"}";
    ASSERT_RENDERS("{{v}}", data, "&lt;a href=&quot;x?a=1&amp;b=2&quot;&gt;it&#39;s&lt;/a&gt;");
    ASSERT_RENDERS("{{{v}}}", data, "<a href=\"x?a=1&b=2\">it's</a>");
    ASSERT_RENDERS("{{& v}}", data, "<a href=\"x?a=1&b=2\">it's</a>");
    ASSERT_RENDERS("{{=<% %>=}}<%{v}%>|<%v%>", "{\"v\": \"&\"}", "&|&amp;");
    /* Text of the template itself is never escaped. */
    ASSERT_RENDERS("<b>{{v}}</b>", "{\"v\": \"a&b\"}", "<b>a&amp;b</b>");
}

TEST(numbers_render_like_javascript)
{
    ASSERT_RENDERS("{{a}} {{b}} {{c}} {{d}}", "{\"a\": 85, \"b\": 1.21, \"c\": 1.0, \"d\": -0.5}",
                   "85 1.21 1 -0.5");
    ASSERT_RENDERS("{{a}} {{b}}", "{\"a\": 0.30000000000000004, \"b\": 123456789012345}",
                   "0.30000000000000004 123456789012345");
    ASSERT_RENDERS("{{a}} {{b}} {{c}}", "{\"a\": 1e20, \"b\": 1e21, \"c\": 1.5e300}",
                   "100000000000000000000 1e+21 1.5e+300");
    ASSERT_RENDERS("{{a}} {{b}} {{c}}", "{\"a\": 0.000001, \"b\": 1e-7, \"c\": 2.5e-8}",
                   "0.000001 1e-7 2.5e-8");
    ASSERT_RENDERS("{{a}} {{b}}", "{\"a\": 99.95, \"b\": -0.0}", "99.95 0");
}

TEST(other_values)
{
    ASSERT_RENDERS("[{{t}}|{{f}}|{{n}}|{{missing}}]", "{\"t\": true, \"f\": false, \"n\": null}",
                   "[true|false||]");
    ASSERT_RENDERS("{{a}} {{{o}}}", "{\"a\": [1,\"x\"], \"o\": {\"k\": 1}}",
                   "[1,&quot;x&quot;] {\"k\":1}");
    /* Falsy: missing, null, false, [], ""; truthy: 0, {}. */
    ASSERT_RENDERS("{{^m}}1{{/m}}{{^n}}2{{/n}}{{^f}}3{{/f}}{{^l}}4{{/l}}{{^s}}5{{/s}}",
                   "{\"n\": null, \"f\": false, \"l\": [], \"s\": \"\"}", "12345");
    ASSERT_RENDERS("{{#z}}zero={{.}}{{/z}} {{#o}}obj{{/o}}", "{\"z\": 0, \"o\": {}}", "zero=0 obj");
    /* The data itself may be a list or a scalar. */
    ASSERT_RENDERS("{{#.}}<{{.}}>{{/.}}", "[1,2]", "<1><2>");
    ASSERT_RENDERS("{{.}}", "\"top\"", "top");
    /* Names resolve up the stack; dotted names only inside what the first part found. */
    ASSERT_RENDERS("{{#a}}{{x}}{{b.c}}{{/a}}", "{\"x\": 1, \"a\": {\"b\": {}}, \"b\": {\"c\": 2}}",
                   "1");
}

TEST(missing_partials_and_bad_partials)
{
    char *err = NULL;
    char *out = render_json("[{{>none}}]", "{}", NULL, 0, &err);
    ASSERT_EQ_STR(out, "[]");
    free(out);
    ASSERT_NULL(render_json("a\n{{>p}}", "{}", "{\"p\": \"ok\\n{{#x}}\"}", 0, &err));
    ASSERT_EQ_STR(err, "partial 'p': p:2:1: unclosed section 'x'");
    free(err);
    /* One partial standalone at two indentations, and inline. */
    out = render_json("  {{>p}}\n    {{>p}}\n[{{>p}}]", "{\"v\": \"a\\nb\"}",
                      "{\"p\": \"<{{v}}>\\n\"}", 0, &err);
    ASSERT_EQ_STR(out, "  <a\nb>\n    <a\nb>\n[<a\nb>\n]");
    free(out);
}

TEST(crlf_and_standalone_lines)
{
    ASSERT_RENDERS("List:\r\n  {{#l}}\r\n  - {{.}}\r\n  {{/l}}\r\nEnd", "{\"l\": [1,2]}",
                   "List:\r\n  - 1\r\n  - 2\r\nEnd");
    /* Two tags on one line are not standalone. */
    ASSERT_RENDERS("a\n{{#x}}{{/x}}\nb", "{\"x\": true}", "a\n\nb");
    /* An interpolation is never standalone. */
    ASSERT_RENDERS("a\n  {{x}}\nb", "{\"x\": \"\"}", "a\n  \nb");
}

/* ---- an incident report fragment ---- */

static const char report[] =
    "## Incident {{id}}: {{title}}\n"
    "\n"
    "- Severity: {{severity}}\n"
    "- Affected systems: {{#systems}}{{.}} {{/systems}}\n"
    "- Data loss: {{#data_loss}}yes{{/data_loss}}{{^data_loss}}no{{/data_loss}}\n"
    "{{! the commander is optional }}\n"
    "{{#roles.commander}}\n"
    "- Commander: {{roles.commander}}\n"
    "{{/roles.commander}}\n"
    "\n"
    "### Action items\n"
    "{{#action_items}}\n"
    "- [{{#done}}x{{/done}}{{^done}} {{/done}}] {{task}} ({{owner}}, due {{due}})\n"
    "{{/action_items}}\n"
    "{{^action_items}}\n"
    "No action items.\n"
    "{{/action_items}}\n"
    "\n"
    "{{> footer}}\n";

static const char *report_partial(void *ctx, const char *name)
{
    (void)ctx;
    return strcmp(name, "footer") == 0 ? "_Generated for {{id}} by dojowatch._\n" : NULL;
}

static char *render_report(json_t *incident)
{
    struct dw_diags diags;
    dw_diags_init(&diags);
    struct dw_mustache *t = dw_mustache_compile("report", report, strlen(report), &diags);
    if (!t)
        fprintf(stderr, "  %s\n", diags.items[0].msg);
    dw_diags_release(&diags);
    if (!t)
        return NULL;
    struct dw_buf out;
    dw_buf_init(&out, 64 * 1024);
    char *err = NULL;
    int rc = dw_mustache_render(t, incident, report_partial, NULL, &out, &err);
    if (rc < 0)
        fprintf(stderr, "  %s\n", err);
    free(err);
    dw_mustache_free(&t);
    return rc < 0 ? NULL : dw_buf_steal(&out);
}

TEST(incident_report_with_action_items)
{
    json_t *inc = json_pack(
        "{s:s, s:s, s:s, s:[s,s], s:b, s:{s:s}, s:[{s:s, s:s, s:s, s:b}, {s:s, s:s, s:s, s:b}]}",
        "id", "INC-1700000000", "title", "Checkout <5xx> errors", "severity", "SEV1", "systems",
        "api", "db", "data_loss", 0, "roles", "commander", "Ana", "action_items", "task",
        "Add a replica", "owner", "Ben", "due", "2024-01-10", "done", 1, "task",
        "Alert on \"slow\" queries", "owner", "Chi", "due", "2024-01-20", "done", 0);
    char *out = render_report(inc);
    json_decref(inc);
    ASSERT_EQ_STR(out, "## Incident INC-1700000000: Checkout &lt;5xx&gt; errors\n"
                       "\n"
                       "- Severity: SEV1\n"
                       "- Affected systems: api db \n"
                       "- Data loss: no\n"
                       "- Commander: Ana\n"
                       "\n"
                       "### Action items\n"
                       "- [x] Add a replica (Ben, due 2024-01-10)\n"
                       "- [ ] Alert on &quot;slow&quot; queries (Chi, due 2024-01-20)\n"
                       "\n"
                       "_Generated for INC-1700000000 by dojowatch._\n");
    free(out);
}

TEST(incident_report_without_action_items)
{
    json_t *inc =
        json_pack("{s:s, s:s, s:s, s:[], s:b, s:{}, s:[]}", "id", "INC-2", "title", "Disk full",
                  "severity", "SEV3", "systems", "data_loss", 1, "roles", "action_items");
    char *out = render_report(inc);
    json_decref(inc);
    ASSERT_EQ_STR(out, "## Incident INC-2: Disk full\n"
                       "\n"
                       "- Severity: SEV3\n"
                       "- Affected systems: \n"
                       "- Data loss: yes\n"
                       "\n"
                       "### Action items\n"
                       "No action items.\n"
                       "\n"
                       "_Generated for INC-2 by dojowatch._\n");
    free(out);
}

TEST_MAIN()
