/*
 * test_incident_report.c - the incident report and the user-facing notice
 * (src/incident/report.c).
 *
 * The structure checks read the seed's two templates from
 * DW_SHARED_DIR/seed/post-launch-monitoring-plan.md at run time, so they
 * follow the seed rather than a copy of it: the report must have exactly the
 * seed's headings in the seed's order and every one of its field labels in
 * order; the notice must have every literal piece of every seed line, in
 * order. Without the file those sub-checks are skipped with a note. The rest:
 * placeholders for a sparse incident, HTML through cmark, injection
 * attempts, custom and broken templates, the output limit.
 */
#include <jansson.h>

#include "harness.h"
#include "incident/report.h"

#ifndef DW_SHARED_DIR
#define DW_SHARED_DIR "../shared"
#endif
#define SEED_PLAN DW_SHARED_DIR "/seed/post-launch-monitoring-plan.md"

static const char full_json[] =
    "{\"id\":\"INC-20261201093000\",\"title\":\"API errors\",\"severity\":1,"
    "\"severityName\":\"Critical\",\"priority\":\"P0\",\"state\":\"resolved\","
    "\"createdAt\":\"2026-12-01T09:30:00Z\",\"acknowledgedAt\":\"2026-12-01T09:33:00Z\","
    "\"resolvedAt\":\"2026-12-01T10:53:00Z\",\"closedAt\":null,\"duration\":\"1h 23m\","
    "\"durationSeconds\":4980,\"timeToAcknowledge\":\"3m\",\"timeToResolve\":\"1h 23m\","
    "\"commander\":\"Primary Engineer\",\"communicationsLead\":\"DevOps Lead\",\"scribe\":null,"
    "\"affectedSystems\":[\"api\",\"database\"],\"impact\":\"Matches could not start\","
    "\"usersAffected\":\"about 30%\",\"businessImpact\":\"Lost tournament revenue\","
    "\"dataLoss\":false,\"rootCause\":\"Connection pool exhausted\","
    "\"contributingFactors\":[\"No pool alert\",\"Traffic spike\"],"
    "\"detection\":{\"method\":\"Automated alert\",\"alert\":\"ApiErrorRateHigh\"},"
    "\"resolution\":\"Restarted the API pods\",\"permanentFix\":\"Pool size from config\","
    "\"verification\":\"Load test passed\",\"prevention\":{\"shortTerm\":\"Bigger pool\","
    "\"longTerm\":\"Autoscaling\",\"monitoring\":\"Pool saturation alert\"},"
    "\"lessonsLearned\":[\"Alert on saturation\",\"Practise failover\"],"
    "\"timeline\":[{\"at\":\"2026-12-01T09:30:00Z\",\"kind\":\"triggered\",\"who\":\"alert\","
    "\"text\":\"ApiErrorRateHigh fired\"},{\"at\":\"2026-12-01T09:33:00Z\","
    "\"kind\":\"acknowledged\",\"who\":\"Primary Engineer\"},"
    "{\"at\":\"2026-12-01T10:53:00Z\",\"kind\":\"resolved\",\"text\":\"Error rate normal\"}],"
    "\"actionItems\":[{\"task\":\"Add pool alert\",\"owner\":\"DevOps Lead\","
    "\"due\":\"2026-12-08\",\"done\":true},{\"task\":\"Load test\",\"owner\":\"QA\","
    "\"due\":\"2026-12-15\",\"done\":false}],"
    "\"notice\":{\"status\":\"investigating\",\"message\":\"elevated error rates\","
    "\"affected\":\"find and join matches\",\"eta\":\"11:00 UTC\"},"
    "\"service\":\"DojoPool\"}";

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j) {
        fprintf(stderr, "  bad test JSON: %s\n", e.text);
        abort();
    }
    return j;
}

/* Renders into a fresh buffer; returns the heap text, or NULL with *err. */
static char *render(int notice, json_t *inc, const char *tmpl, enum dw_incident_format f,
                    size_t max, char **err)
{
    struct dw_buf out;
    dw_buf_init(&out, max);
    int rc = notice ? dw_incident_render_notice(inc, tmpl, f, &out, err)
                    : dw_incident_render_report(inc, tmpl, f, &out, err);
    if (rc < 0) {
        if (out.len != 0)
            abort(); /* an error must leave the buffer as it was */
        dw_buf_release(&out);
        return NULL;
    }
    return dw_buf_steal(&out);
}

static char *render_ok(int notice, const char *json, enum dw_incident_format f)
{
    json_t *inc = load(json);
    char *err = NULL;
    char *s = render(notice, inc, NULL, f, 0, &err);
    json_decref(inc);
    if (!s) {
        fprintf(stderr, "  render failed: %s\n", err ? err : "(no message)");
        free(err);
        abort();
    }
    return s;
}

/* The ``` block under the seed heading "#### name" (heap), or NULL. */
static char *seed_block(const char *name)
{
    FILE *f = fopen(SEED_PLAN, "r");
    if (!f)
        return NULL;
    char line[1024], want[256];
    snprintf(want, sizeof want, "#### %s\n", name);
    int state = 0; /* 0 looking for the heading, 1 for the fence, 2 inside */
    size_t cap = 8192, len = 0;
    char *out = calloc(1, cap);
    while (fgets(line, sizeof line, f)) {
        if (state == 0 && !strcmp(line, want))
            state = 1;
        else if (state == 1 && !strncmp(line, "```", 3))
            state = 2;
        else if (state == 2 && !strncmp(line, "```", 3))
            break;
        else if (state == 2 && len + strlen(line) + 1 < cap) {
            memcpy(out + len, line, strlen(line) + 1);
            len += strlen(line);
        }
    }
    fclose(f);
    if (state != 2 || len == 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* Lines of s that start with '#', joined with '\n' (heap). */
static char *headings(const char *s)
{
    size_t n = strlen(s);
    char *out = calloc(1, n + 2), *o = out;
    for (const char *p = s; *p;) {
        const char *nl = strchr(p, '\n');
        size_t ln = nl ? (size_t)(nl - p) : strlen(p);
        if (*p == '#') {
            memcpy(o, p, ln);
            o += ln;
            *o++ = '\n';
        }
        p += ln + (nl != NULL);
    }
    return out;
}

TEST(report_follows_the_seed_headings_and_labels)
{
    char *seed = seed_block("Internal Incident Report Template");
    if (!seed) {
        printf("  note: %s missing, seed structure check skipped\n", SEED_PLAN);
        return;
    }
    char *md = render_ok(0, full_json, DW_INCIDENT_MARKDOWN);
    char *want = headings(seed), *got = headings(md);
    ASSERT_TRUE(strlen(want) > 100); /* the seed block was found and has its headings */
    ASSERT_EQ_STR(got, want);
    /* Every "**Label**" of the seed, in the seed's order. */
    const char *cursor = md;
    int labels = 0;
    for (const char *p = strstr(seed, "**"); p; p = strstr(p, "**")) {
        const char *end = strstr(p + 2, "**");
        ASSERT_NOT_NULL(end);
        char label[128];
        snprintf(label, sizeof label, "%.*s", (int)(end + 2 - p), p);
        const char *at = strstr(cursor, label);
        if (!at)
            DW_FAIL_("label %s missing or out of order", label);
        cursor = at + strlen(label);
        labels++;
        p = end + 2;
    }
    ASSERT_EQ_INT(labels, 17);
    /* A sparse incident keeps the same headings. */
    char *sparse = render_ok(0, "{\"id\":\"INC-7\"}", DW_INCIDENT_MARKDOWN);
    char *sparse_h = headings(sparse);
    ASSERT_EQ_STR(sparse_h, want);
    free(sparse_h);
    free(sparse);
    free(want);
    free(got);
    free(md);
    free(seed);
}

TEST(notice_follows_the_seed_line_by_line)
{
    char *seed = seed_block("User-Facing Incident Notification");
    if (!seed) {
        printf("  note: %s missing, seed structure check skipped\n", SEED_PLAN);
        return;
    }
    char *text = render_ok(1, full_json, DW_INCIDENT_TEXT);
    /* Each literal piece between [placeholders], in order. */
    const char *cursor = text;
    int pieces = 0;
    for (char *p = seed; *p;) {
        size_t n = strcspn(p, "[\n");
        if (n > 0) {
            char piece[512];
            snprintf(piece, sizeof piece, "%.*s", (int)n, p);
            const char *at = strstr(cursor, piece);
            if (!at)
                DW_FAIL_("seed text \"%s\" missing or out of order in:\n%s", piece, text);
            cursor = at + n;
            pieces++;
        }
        p += n;
        if (*p == '[')
            p += strcspn(p, "]\n");
        if (*p)
            p++;
    }
    ASSERT_EQ_INT(pieces, 11);
    free(text);
    free(seed);
}

TEST(report_full_markdown)
{
    char *md = render_ok(0, full_json, DW_INCIDENT_MARKDOWN);
    ASSERT_CONTAINS(md, "# Incident Report - DojoPool Production\n\n## Incident Details\n");
    ASSERT_CONTAINS(md, "- **Incident ID**: INC-20261201093000 (API errors)\n");
    ASSERT_CONTAINS(md, "- **Date/Time**: 2026-12-01T09:30:00Z - 2026-12-01T10:53:00Z\n");
    ASSERT_CONTAINS(md,
                    "- **Duration**: 1h 23m (time to acknowledge: 3m, time to resolve: 1h 23m)\n");
    ASSERT_CONTAINS(md, "- **Severity**: 1 (Critical, P0)\n");
    ASSERT_CONTAINS(md, "- **Affected Systems**: api, database\n");
    ASSERT_CONTAINS(md, "- **Timeline**:\n"
                        "  - 2026-12-01T09:30:00Z - triggered (alert): ApiErrorRateHigh fired\n"
                        "  - 2026-12-01T09:33:00Z - acknowledged (Primary Engineer)\n"
                        "  - 2026-12-01T10:53:00Z - resolved: Error rate normal\n\n");
    ASSERT_CONTAINS(md, "- **User Impact**: Matches could not start (users affected: about 30%)\n");
    ASSERT_CONTAINS(md, "- **Business Impact**: Lost tournament revenue\n");
    ASSERT_CONTAINS(md, "- **Data Loss**: No\n");
    ASSERT_CONTAINS(md, "- **Primary Cause**: Connection pool exhausted\n");
    ASSERT_CONTAINS(md, "- **Contributing Factors**: No pool alert, Traffic spike\n");
    ASSERT_CONTAINS(md, "- **Detection Method**: Automated alert (alert: ApiErrorRateHigh)\n");
    ASSERT_CONTAINS(md, "- **Immediate Actions**: Restarted the API pods\n");
    ASSERT_CONTAINS(md, "- **Permanent Fix**: Pool size from config\n");
    ASSERT_CONTAINS(md, "- **Verification**: Load test passed\n");
    ASSERT_CONTAINS(md, "- **Short-term**: Bigger pool\n- **Long-term**: Autoscaling\n"
                        "- **Monitoring Enhancements**: Pool saturation alert\n");
    ASSERT_CONTAINS(md, "## Lessons Learned\n- Alert on saturation\n- Practise failover\n");
    ASSERT_CONTAINS(md, "## Action Items\n- [x] Add pool alert - DevOps Lead - 2026-12-08\n"
                        "- [ ] Load test - QA - 2026-12-15\n");
    ASSERT_NOT_CONTAINS(md, "TBD");
    ASSERT_NOT_CONTAINS(md, "Unknown");
    free(md);
}

TEST(notice_full_text_exact)
{
    char *text = render_ok(1, full_json, DW_INCIDENT_TEXT);
    ASSERT_EQ_STR(text, "Subject: DojoPool Service Update - API errors\n"
                        "\n"
                        "Dear DojoPool User,\n"
                        "\n"
                        "We are currently experiencing elevated error rates that may affect your "
                        "ability to find and join matches.\n"
                        "\n"
                        "Our engineering team is actively working to resolve this issue. We expect "
                        "to have service restored by 11:00 UTC.\n"
                        "\n"
                        "We apologize for any inconvenience this may cause and appreciate your "
                        "patience.\n"
                        "\n"
                        "For real-time updates, please visit our status page: "
                        "https://status.dojopool.com\n"
                        "\n"
                        "Best regards,  \n"
                        "The DojoPool Team\n");
    free(text);
}

TEST(notice_resolved_speaks_in_the_past)
{
    char *text = render_ok(1,
                           "{\"id\":\"INC-1\",\"title\":\"Login failures\",\"state\":\"resolved\","
                           "\"resolvedAt\":\"10:53 UTC\",\"service\":\"Dojo\","
                           "\"statusPageUrl\":\"https://status.dojopool.example\"}",
                           DW_INCIDENT_TEXT);
    ASSERT_CONTAINS(text, "Subject: Dojo Service Update - Login failures\n\nDear Dojo User,\n");
    ASSERT_CONTAINS(text, "We experienced Login failures that may have affected your ability to "
                          "use Dojo.\n");
    ASSERT_CONTAINS(text, "Our engineering team has resolved this issue and service was restored "
                          "at 10:53 UTC.\n");
    ASSERT_CONTAINS(text, "status page: https://status.dojopool.example\n");
    ASSERT_CONTAINS(text, "The Dojo Team\n");
    free(text);
}

TEST(sparse_incident_gets_placeholders)
{
    char *md = render_ok(0, "{\"id\":\"INC-7\"}", DW_INCIDENT_MARKDOWN);
    ASSERT_CONTAINS(md, "# Incident Report - DojoPool Production\n");
    ASSERT_CONTAINS(md, "- **Incident ID**: INC-7\n");
    ASSERT_CONTAINS(md, "- **Date/Time**: Unknown - Ongoing\n");
    ASSERT_CONTAINS(md, "- **Duration**: TBD\n");
    ASSERT_CONTAINS(md, "- **Severity**: Unknown\n");
    ASSERT_CONTAINS(md, "- **Affected Systems**: Unknown\n");
    ASSERT_CONTAINS(md, "- **Timeline**: None recorded\n");
    ASSERT_CONTAINS(md, "- **User Impact**: TBD\n");
    ASSERT_CONTAINS(md, "- **Data Loss**: Unknown\n");
    ASSERT_CONTAINS(md, "- **Primary Cause**: TBD\n");
    ASSERT_CONTAINS(md, "- **Detection Method**: TBD\n");
    ASSERT_CONTAINS(md, "- **Monitoring Enhancements**: TBD\n");
    ASSERT_CONTAINS(md, "## Lessons Learned\n- TBD\n");
    ASSERT_CONTAINS(md, "## Action Items\n- None recorded\n");
    free(md);

    /* Seconds only; a closed incident without an end time; a text lesson. */
    md = render_ok(0,
                   "{\"id\":\"INC-8\",\"state\":\"closed\",\"durationSeconds\":3720,"
                   "\"severityName\":\"High\",\"dataLoss\":true,\"dataLossDetails\":\"2 "
                   "matches\",\"lessonsLearned\":\"one\\n\\ntwo\\n\",\"timeline\":[{}],"
                   "\"actionItems\":[{}]}",
                   DW_INCIDENT_MARKDOWN);
    ASSERT_CONTAINS(md, "- **Date/Time**: Unknown - Unknown\n");
    ASSERT_CONTAINS(md, "- **Duration**: 1 hours 2 minutes\n");
    ASSERT_CONTAINS(md, "- **Severity**: High\n");
    ASSERT_CONTAINS(md, "- **Data Loss**: Yes, 2 matches\n");
    ASSERT_CONTAINS(md, "  - Unknown time - event\n");
    ASSERT_CONTAINS(md, "## Lessons Learned\n- one\n- two\n");
    ASSERT_CONTAINS(md, "- [ ] TBD - Unassigned - No due date\n");
    free(md);

    char *text = render_ok(1, "{\"id\":\"INC-7\"}", DW_INCIDENT_TEXT);
    ASSERT_CONTAINS(text, "Subject: DojoPool Service Update - Service Disruption\n");
    ASSERT_CONTAINS(text, "experiencing a service issue that may affect your ability to use "
                          "DojoPool.\n");
    ASSERT_CONTAINS(text, "this issue. We will share an estimated time for restoring service as "
                          "soon as we have one.\n");
    ASSERT_CONTAINS(text, "status page: https://status.dojopool.com\n");
    free(text);
}

TEST(report_html_through_cmark)
{
    char *html = render_ok(0, full_json, DW_INCIDENT_HTML);
    ASSERT_TRUE(!strncmp(html, "<!doctype html>\n", 16));
    ASSERT_CONTAINS(html,
                    "<title>Incident Report - DojoPool Production - INC-20261201093000</title>");
    ASSERT_CONTAINS(html, "<h1>Incident Report - DojoPool Production</h1>");
    ASSERT_CONTAINS(html, "<h2>Action Items</h2>");
    ASSERT_CONTAINS(html, "<strong>Timeline</strong>:\n<ul>\n"
                          "<li>2026-12-01T09:30:00Z - triggered (alert): ApiErrorRateHigh "
                          "fired</li>\n");
    ASSERT_CONTAINS(html, "<li>[x] Add pool alert - DevOps Lead - 2026-12-08</li>");
    size_t n = strlen(html);
    ASSERT_TRUE(n > 16 && !strcmp(html + n - 16, "</body>\n</html>\n"));
    free(html);

    html = render_ok(1, full_json, DW_INCIDENT_HTML);
    ASSERT_CONTAINS(html, "<title>DojoPool Service Update - API errors</title>");
    ASSERT_CONTAINS(html, "<p>Dear DojoPool User,</p>");
    ASSERT_CONTAINS(html, "<p>Best regards,<br />\nThe DojoPool Team</p>");
    free(html);
}

static const char evil_json[] =
    "{\"id\":\"INC-<script>alert(1)</script>\",\"title\":\"<script>alert(1)</script>\","
    "\"rootCause\":\"[x](javascript:alert(1))\",\"impact\":\"<javascript:alert(1)>\","
    "\"resolution\":\"# Heading\\n\\n<img src=x onerror=alert(1)>\","
    "\"businessImpact\":\"![i](javascript:alert(1)) &lt;script&gt; *b* `c`\","
    "\"lessonsLearned\":[\"1. one\",\"- two\",\"> three\",\"```\"],"
    "\"timeline\":[{\"at\":\"t\",\"kind\":\"note\",\"text\":\"<script>x</script>\"}],"
    "\"actionItems\":[{\"task\":\"[a]: javascript:alert(1)\",\"owner\":\"[a]\"}],"
    "\"notice\":{\"title\":\"x\\nBcc: victim@example.com\",\"message\":\"<b>bold</b>\"},"
    "\"statusPageUrl\":\"javascript:alert(1)\"}";

static void assert_harmless_html(const char *html)
{
    ASSERT_NOT_CONTAINS(html, "<script");
    ASSERT_NOT_CONTAINS(html, "<img");
    ASSERT_NOT_CONTAINS(html, "<b>");
    ASSERT_NOT_CONTAINS(html, "<a ");
    ASSERT_NOT_CONTAINS(html, "href");
    ASSERT_NOT_CONTAINS(html, "<ol");
    ASSERT_NOT_CONTAINS(html, "<blockquote");
    ASSERT_NOT_CONTAINS(html, "<pre");
    ASSERT_NOT_CONTAINS(html, "<em>b");
}

TEST(injection_stays_text)
{
    char *html = render_ok(0, evil_json, DW_INCIDENT_HTML);
    assert_harmless_html(html);
    ASSERT_CONTAINS(html, "&lt;script&gt;alert(1)&lt;/script&gt;");
    ASSERT_CONTAINS(html, "[x](javascript:alert(1))");
    ASSERT_CONTAINS(html, "<li>1. one</li>");
    /* Exactly the seed's headings: "# Heading" in data did not add one. */
    const char *h = html;
    int h1 = 0;
    while ((h = strstr(h, "<h1>")) != NULL) {
        h1++;
        h++;
    }
    ASSERT_EQ_INT(h1, 1);
    free(html);

    char *md = render_ok(0, evil_json, DW_INCIDENT_MARKDOWN);
    ASSERT_CONTAINS(md, "(\\<script\\>alert(1)\\</script\\>)");
    ASSERT_CONTAINS(md, "- **Primary Cause**: \\[x\\](javascript:alert(1))\n");
    ASSERT_CONTAINS(md, "- **Immediate Actions**: \\# Heading  \\<img src=x onerror=alert(1)\\>\n");
    ASSERT_CONTAINS(md, "- 1\\. one\n- \\- two\n- \\> three\n- \\`\\`\\`\n");
    free(md);

    html = render_ok(1, evil_json, DW_INCIDENT_HTML);
    assert_harmless_html(html);
    free(html);

    /* No header injection through the subject, in the text or alone. */
    char *text = render_ok(1, evil_json, DW_INCIDENT_TEXT);
    ASSERT_CONTAINS(text, "Subject: DojoPool Service Update - x Bcc: victim@example.com\n\n");
    free(text);
    json_t *inc = load(evil_json);
    char *subject = dw_incident_notice_subject(inc);
    ASSERT_EQ_STR(subject, "DojoPool Service Update - x Bcc: victim@example.com");
    free(subject);

    /* A custom template's own raw HTML and links are dropped by cmark too. */
    char *err = NULL;
    html = render(0, inc,
                  "<script>alert(1)</script>\n\n[a](javascript:alert(1)) {{{incident.title}}} "
                  "{{incident.rootCause}}\n",
                  DW_INCIDENT_HTML, 0, &err);
    ASSERT_NOT_NULL(html);
    ASSERT_NOT_CONTAINS(html, "<script");
    ASSERT_NOT_CONTAINS(html, "href=\"javascript");
    ASSERT_CONTAINS(html, "<!-- raw HTML omitted -->");
    free(html);
    json_decref(inc);
}

TEST(custom_template_overrides_the_default)
{
    json_t *inc = load(full_json);
    char *err = NULL;
    char *s = render(0, inc,
                     "{{{id}}} sev {{{severity}}}{{#timeline}}\n* {{{kind}}}{{/timeline}}\n"
                     "{{{incident.commander}}}\n",
                     DW_INCIDENT_MARKDOWN, 0, &err);
    ASSERT_EQ_STR(s, "INC-20261201093000 sev 1 (Critical, P0)\n* triggered\n* acknowledged\n"
                     "* resolved\nPrimary Engineer\n");
    free(s);
    s = render(1, inc, "{{{issue}}} for {{{affected}}}", DW_INCIDENT_TEXT, 0, &err);
    ASSERT_EQ_STR(s, "API errors for find and join matches");
    free(s);
    json_decref(inc);
}

TEST(broken_template_renders_nothing)
{
    json_t *inc = load(full_json);
    struct dw_buf out;
    dw_buf_init(&out, 0);
    dw_buf_puts(&out, "kept");
    char *err = NULL;
    int rc = dw_incident_render_report(inc, "ok\n  {{#items}}\n{{/other}}\n", DW_INCIDENT_HTML,
                                       &out, &err);
    ASSERT_EQ_INT(rc, -1);
    ASSERT_NOT_NULL(err);
    ASSERT_TRUE(!strncmp(err, "report:3:", 9));
    ASSERT_EQ_STR(out.data, "kept");
    free(err);

    rc = dw_incident_render_notice(inc, "Hello {{name", DW_INCIDENT_TEXT, &out, &err);
    ASSERT_EQ_INT(rc, -1);
    ASSERT_TRUE(!strncmp(err, "notice:1:7:", 11));
    ASSERT_EQ_STR(out.data, "kept");
    free(err);

    /* The config hook names the place the template came from. */
    ASSERT_EQ_INT(dw_incident_template_check("dojowatch.yml#report", "a\n{{^x}}", &err), -1);
    ASSERT_TRUE(!strncmp(err, "dojowatch.yml#report:2:", 23));
    free(err);
    ASSERT_EQ_INT(dw_incident_template_check("t", dw_incident_report_template, &err), 0);
    ASSERT_NULL(err);
    ASSERT_EQ_INT(dw_incident_template_check("t", dw_incident_notice_template, &err), 0);

    /* Not an object. */
    json_t *arr = json_array();
    ASSERT_EQ_INT(dw_incident_render_report(arr, NULL, DW_INCIDENT_MARKDOWN, &out, &err), -1);
    ASSERT_CONTAINS(err, "not a JSON object");
    free(err);
    json_decref(arr);
    dw_buf_release(&out);
    json_decref(inc);
}

TEST(output_limit_is_an_error)
{
    json_t *inc = load(full_json);
    char *err = NULL;
    enum dw_incident_format fs[] = {DW_INCIDENT_TEXT, DW_INCIDENT_MARKDOWN, DW_INCIDENT_HTML};
    for (int notice = 0; notice < 2; notice++) {
        for (size_t i = 0; i < 3; i++) {
            char *s = render(notice, inc, NULL, fs[i], 64, &err);
            ASSERT_NULL(s);
            ASSERT_NOT_NULL(err);
            free(err);
            err = NULL;
        }
    }
    /* The Markdown fits but the HTML around it does not. */
    char *md = render(0, inc, NULL, DW_INCIDENT_MARKDOWN, 0, &err);
    ASSERT_NOT_NULL(md);
    char *s = render(0, inc, NULL, DW_INCIDENT_HTML, strlen(md) + 10, &err);
    ASSERT_NULL(s);
    ASSERT_CONTAINS(err, "larger than");
    free(err);
    free(md);
    json_decref(inc);
}

TEST_MAIN()
