/*
 * report.c - the internal incident report and the user-facing notice.
 *
 * DESIGN
 * Each document is a Mustache template rendered against a *view*, never
 * against the incident itself. The view is built here from the incident in
 * three steps, so that templates stay logic-less and data stays inert:
 *
 *   1. pick: each field of the document is looked up along a list of
 *      alternative paths ("resolution.immediateActions|immediateActions|
 *      resolution"), so the incident may hold a field as plain text or as
 *      the structured object the seed's labels suggest; lists are joined,
 *      booleans become Yes/No, numbers are printed.
 *   2. fall back: a field with nothing to show gets the placeholder the
 *      seed's template implies ("TBD" for what people still have to write,
 *      "Unknown" for facts the daemon did not record, "None recorded" for
 *      empty lists).
 *   3. escape for the format (report.h): line breaks folded and ends trimmed
 *      in every format (a value is one line: it cannot add a line to the
 *      subject or break a list item), Markdown specials backslash-escaped in
 *      MARKDOWN and HTML.
 *
 * HTML is the Markdown of the same view rendered by cmark in its safe mode:
 * even a custom template that writes raw HTML or a javascript: link cannot
 * get it through. The Markdown is first rendered into a scratch buffer with
 * the caller's maximum, so one limit bounds both steps, and on any error the
 * caller's buffer is put back as it was.
 *
 * Templates are compiled on every call (a few microseconds; reports are
 * rare), which keeps this file free of global state and thread-safe.
 */
#include <cmark.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "incident/mustache.h"
#include "incident/report.h"

/* cmark before 0.29 let raw HTML through unless asked not to. */
#ifdef CMARK_OPT_UNSAFE
#define REPORT_CMARK_OPTS (CMARK_OPT_DEFAULT | CMARK_OPT_VALIDATE_UTF8)
#else
#define REPORT_CMARK_OPTS (CMARK_OPT_SAFE | CMARK_OPT_VALIDATE_UTF8)
#endif

/* The seed's "Internal Incident Report Template", headings and labels as they are. */
const char dw_incident_report_template[] =
    "# Incident Report - {{{service}}} Production\n"
    "\n"
    "## Incident Details\n"
    "- **Incident ID**: {{{id}}}{{#title}} ({{{title}}}){{/title}}\n"
    "- **Date/Time**: {{{start}}} - {{{end}}}\n"
    "- **Duration**: {{{duration}}}\n"
    "- **Severity**: {{{severity}}}\n"
    "- **Affected Systems**: {{{affectedSystems}}}\n"
    "{{#hasTimeline}}\n"
    "- **Timeline**:\n"
    "{{#timeline}}\n"
    "  - {{{at}}} - {{{kind}}}{{#who}} ({{{who}}}){{/who}}{{#text}}: {{{text}}}{{/text}}\n"
    "{{/timeline}}\n"
    "{{/hasTimeline}}\n"
    "{{^hasTimeline}}\n"
    "- **Timeline**: None recorded\n"
    "{{/hasTimeline}}\n"
    "\n"
    "## Impact Assessment\n"
    "- **User Impact**: {{{userImpact}}}\n"
    "- **Business Impact**: {{{businessImpact}}}\n"
    "- **Data Loss**: {{{dataLoss}}}\n"
    "\n"
    "## Root Cause\n"
    "- **Primary Cause**: {{{rootCause}}}\n"
    "- **Contributing Factors**: {{{contributingFactors}}}\n"
    "- **Detection Method**: {{{detection}}}\n"
    "\n"
    "## Resolution\n"
    "- **Immediate Actions**: {{{immediateActions}}}\n"
    "- **Permanent Fix**: {{{permanentFix}}}\n"
    "- **Verification**: {{{verification}}}\n"
    "\n"
    "## Prevention Measures\n"
    "- **Short-term**: {{{shortTerm}}}\n"
    "- **Long-term**: {{{longTerm}}}\n"
    "- **Monitoring Enhancements**: {{{monitoring}}}\n"
    "\n"
    "## Lessons Learned\n"
    "{{#lessons}}\n"
    "- {{{.}}}\n"
    "{{/lessons}}\n"
    "\n"
    "## Action Items\n"
    "{{#actionItems}}\n"
    "- [{{{check}}}] {{{task}}} - {{{owner}}} - {{{due}}}\n"
    "{{/actionItems}}\n"
    "{{^hasActionItems}}\n"
    "- None recorded\n"
    "{{/hasActionItems}}\n";

/*
 * The seed's "User-Facing Incident Notification". The two middle paragraphs
 * switch to the past tense once the incident is resolved, and the estimate
 * sentence says so when there is no estimate. The two spaces after "Best
 * regards," are a Markdown hard line break (invisible in the text e-mail).
 */
const char dw_incident_notice_template[] =
    "Subject: {{{service}}} Service Update - {{{issue}}}\n"
    "\n"
    "Dear {{{service}}} User,\n"
    "\n"
    "{{^resolved}}\n"
    "We are currently experiencing {{{description}}} that may affect your ability to "
    "{{{affected}}}.\n"
    "{{/resolved}}\n"
    "{{#resolved}}\n"
    "We experienced {{{description}}} that may have affected your ability to {{{affected}}}.\n"
    "{{/resolved}}\n"
    "\n"
    "{{^resolved}}\n"
    "Our engineering team is actively working to resolve this issue. "
    "{{#eta}}We expect to have service restored by {{{eta}}}.{{/eta}}"
    "{{^eta}}We will share an estimated time for restoring service as soon as we have "
    "one.{{/eta}}\n"
    "{{/resolved}}\n"
    "{{#resolved}}\n"
    "Our engineering team has resolved this issue{{#resolvedAt}} and service was restored at "
    "{{{resolvedAt}}}{{/resolvedAt}}.\n"
    "{{/resolved}}\n"
    "\n"
    "We apologize for any inconvenience this may cause and appreciate your patience.\n"
    "\n"
    "For real-time updates, please visit our status page: {{{statusPageUrl}}}\n"
    "\n"
    "Best regards,  \n"
    "The {{{service}}} Team\n";

#define SEED_STATUS_PAGE "https://status.dojopool.com"

/* ---- picking values out of the incident ---- */

static bool blank(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

/*
 * Appends what v shows: strings as they are, numbers, booleans as Yes/No,
 * lists joined by ", ". Returns false (b unchanged) when there is nothing:
 * missing, null, blank strings, objects, lists of those.
 */
static bool put_text(struct dw_buf *b, json_t *v)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING:
        if (blank(json_string_value(v)))
            return false;
        dw_buf_puts(b, json_string_value(v));
        return true;
    case JSON_INTEGER:
        dw_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return true;
    case JSON_REAL: dw_buf_printf(b, "%g", json_real_value(v)); return true;
    case JSON_TRUE: dw_buf_puts(b, "Yes"); return true;
    case JSON_FALSE: dw_buf_puts(b, "No"); return true;
    case JSON_ARRAY: {
        size_t start = b->len, i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            size_t before = b->len;
            if (b->len > start)
                dw_buf_puts(b, ", ");
            if (!put_text(b, e)) {
                b->len = before;
                if (b->data)
                    b->data[before] = '\0';
            }
        }
        return b->len > start;
    }
    default: return false;
    }
}

/* The value at a dotted path ("detection.alert"), or NULL. */
static json_t *at_path(json_t *o, const char *path, size_t len)
{
    while (o && len) {
        const char *dot = memchr(path, '.', len);
        size_t n = dot ? (size_t)(dot - path) : len;
        o = json_is_object(o) ? json_object_getn(o, path, n) : NULL;
        if (!dot)
            break;
        path += n + 1;
        len -= n + 1;
    }
    return o;
}

/* The text of the first of the '|'-separated paths that has any (heap), or NULL. */
static char *pick(json_t *o, const char *alts)
{
    while (*alts) {
        const char *bar = strchr(alts, '|');
        size_t n = bar ? (size_t)(bar - alts) : strlen(alts);
        struct dw_buf b;
        dw_buf_init(&b, 0);
        if (put_text(&b, at_path(o, alts, n)))
            return dw_buf_steal(&b);
        dw_buf_release(&b);
        alts += bar ? n + 1 : n;
    }
    return NULL;
}

static bool is_closed(const char *state)
{
    return state && (!strcasecmp(state, "resolved") || !strcasecmp(state, "closed"));
}

/* ---- escaping ---- */

/* Folds line breaks and tabs to spaces and trims: every value is one line. */
static void put_line(struct dw_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dw_buf_putc(b, s[i] == '\n' || s[i] == '\r' || s[i] == '\t' ? ' ' : s[i]);
}

/*
 * put_line plus CommonMark escapes: the inline specials everywhere, and what
 * would open a block (heading, list, quote, fence, thematic break) at the
 * start, since a value may begin a list item's content.
 */
static void put_markdown(struct dw_buf *b, const char *s, size_t n)
{
    size_t i = 0, digits = 0;
    while (digits < n && isdigit((unsigned char)s[digits]))
        digits++;
    if (n && strchr("#-+=~", s[0])) { /* > is escaped below */
        dw_buf_putc(b, '\\');
    } else if (digits && digits < n && (s[digits] == '.' || s[digits] == ')')) {
        dw_buf_append(b, s, digits);
        dw_buf_putc(b, '\\');
        i = digits;
    }
    for (; i < n; i++) {
        if (strchr("\\`*_[]<>&", s[i]))
            dw_buf_putc(b, '\\');
        put_line(b, s + i, 1);
    }
}

static void put_escaped(struct dw_buf *b, const char *s, enum dw_incident_format f)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (f == DW_INCIDENT_TEXT)
        put_line(b, s, n);
    else
        put_markdown(b, s, n);
}

static json_t *escaped_string(const char *s, enum dw_incident_format f)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    put_escaped(&b, s, f);
    json_t *j = json_stringn(b.data ? b.data : "", b.len);
    dw_buf_release(&b);
    return j ? j : json_string("");
}

/* A deep copy of v with every string escaped for f (the view's "incident"). */
static json_t *escaped_copy(json_t *v, enum dw_incident_format f)
{
    const char *key;
    size_t i;
    json_t *e, *copy;
    switch (json_typeof(v)) {
    case JSON_STRING: return escaped_string(json_string_value(v), f);
    case JSON_ARRAY:
        copy = json_array();
        json_array_foreach(v, i, e) json_array_append_new(copy, escaped_copy(e, f));
        return copy;
    case JSON_OBJECT:
        copy = json_object();
        json_object_foreach(v, key, e) json_object_set_new(copy, key, escaped_copy(e, f));
        return copy;
    default: return json_incref(v);
    }
}

/* ---- the views ---- */

struct view {
    json_t *obj; /* owned; the data the template sees */
    enum dw_incident_format f;
};

static void set_str(struct view *v, const char *key, const char *s)
{
    json_object_set_new(v->obj, key, escaped_string(s, v->f));
}

/* Sets key to the text at the first of alts that has one, else to fallback. */
static void set_pick(struct view *v, const char *key, json_t *inc, const char *alts,
                     const char *fallback)
{
    char *s = pick(inc, alts);
    set_str(v, key, s ? s : fallback);
    free(s);
}

/* Sets key to b's text, or to fallback when b is empty; releases b. */
static void set_buf(struct view *v, const char *key, struct dw_buf *b, const char *fallback)
{
    set_str(v, key, b->len ? b->data : fallback);
    dw_buf_release(b);
}

/* "a (b)", "a", "b" or "" from two optional parts. */
static void put_with_note(struct dw_buf *b, const char *main, const char *note_fmt,
                          const char *note)
{
    if (main)
        dw_buf_puts(b, main);
    if (note) {
        if (main)
            dw_buf_puts(b, " (");
        dw_buf_printf(b, note_fmt, note);
        if (main)
            dw_buf_putc(b, ')');
    }
}

static void set_duration(struct view *v, json_t *inc)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    char *d = pick(inc, "duration");
    json_t *secs = json_object_get(inc, "durationSeconds");
    if (d) {
        dw_buf_puts(&b, d);
    } else if (json_is_number(secs) && json_number_value(secs) >= 0) {
        long long s = (long long)json_number_value(secs);
        if (s >= 3600)
            dw_buf_printf(&b, "%lld hours %lld minutes", s / 3600, s % 3600 / 60);
        else if (s >= 60)
            dw_buf_printf(&b, "%lld minutes", s / 60);
        else
            dw_buf_printf(&b, "%lld seconds", s);
    }
    char *tta = pick(inc, "timeToAcknowledge"), *ttr = pick(inc, "timeToResolve");
    if (tta || ttr) {
        dw_buf_puts(&b, b.len ? " (" : "(");
        if (tta)
            dw_buf_printf(&b, "time to acknowledge: %s%s", tta, ttr ? ", " : "");
        if (ttr)
            dw_buf_printf(&b, "time to resolve: %s", ttr);
        dw_buf_putc(&b, ')');
    }
    free(d);
    free(tta);
    free(ttr);
    set_buf(v, "duration", &b, "TBD");
}

static void set_severity(struct view *v, json_t *inc)
{
    char *sev = pick(inc, "severity"), *name = pick(inc, "severityName");
    char *prio = pick(inc, "priority");
    struct dw_buf note, b;
    dw_buf_init(&note, 0);
    dw_buf_init(&b, 0);
    if (name)
        dw_buf_puts(&note, name);
    if (prio)
        dw_buf_printf(&note, "%s%s", name ? ", " : "", prio);
    put_with_note(&b, sev, "%s", note.len ? note.data : NULL);
    dw_buf_release(&note);
    free(sev);
    free(name);
    free(prio);
    set_buf(v, "severity", &b, "Unknown");
}

static void set_end(struct view *v, json_t *inc)
{
    char *state = pick(inc, "state");
    set_pick(v, "end", inc, "resolvedAt|closedAt", is_closed(state) ? "Unknown" : "Ongoing");
    free(state);
}

static void set_impact(struct view *v, json_t *inc)
{
    char *impact = pick(inc, "impact|userImpact"), *users = pick(inc, "usersAffected");
    struct dw_buf b;
    dw_buf_init(&b, 0);
    put_with_note(&b, impact, impact ? "users affected: %s" : "Users affected: %s", users);
    free(impact);
    free(users);
    set_buf(v, "userImpact", &b, "TBD");
}

static void set_data_loss(struct view *v, json_t *inc)
{
    char *loss = pick(inc, "dataLoss"), *details = pick(inc, "dataLossDetails");
    struct dw_buf b;
    dw_buf_init(&b, 0);
    if (loss)
        dw_buf_puts(&b, loss);
    if (details)
        dw_buf_printf(&b, "%s%s", loss ? ", " : "", details);
    free(loss);
    free(details);
    set_buf(v, "dataLoss", &b, "Unknown");
}

static void set_detection(struct view *v, json_t *inc)
{
    char *method = pick(inc, "detection.method|detection|detectionMethod");
    char *alert = pick(inc, "detection.alert");
    struct dw_buf b;
    dw_buf_init(&b, 0);
    put_with_note(&b, method, method ? "alert: %s" : "Alert %s", alert);
    free(method);
    free(alert);
    set_buf(v, "detection", &b, "TBD");
}

/* lessonsLearned: one bullet per list item or per line of a text. */
static void set_lessons(struct view *v, json_t *inc)
{
    json_t *src = json_object_get(inc, "lessonsLearned"), *list = json_array(), *e;
    size_t i;
    if (json_is_string(src)) {
        const char *s = json_string_value(src);
        while (*s) {
            size_t n = strcspn(s, "\n");
            char *line = dw_strndup(s, n);
            if (!blank(line))
                json_array_append_new(list, escaped_string(line, v->f));
            free(line);
            s += n + (s[n] != '\0');
        }
    } else if (json_is_array(src)) {
        json_array_foreach(src, i, e)
        {
            struct dw_buf b;
            dw_buf_init(&b, 0);
            if (put_text(&b, e))
                json_array_append_new(list, escaped_string(b.data, v->f));
            dw_buf_release(&b);
        }
    }
    if (json_array_size(list) == 0)
        json_array_append_new(list, escaped_string("TBD", v->f));
    json_object_set_new(v->obj, "lessons", list);
}

/* A view of one list item: every key present (so lookups never reach the
 * enclosing view) and escaped. */
static json_t *item_view(json_t *e, enum dw_incident_format f, const char *const *fields)
{
    struct view iv = {json_object(), f};
    for (size_t i = 0; fields[i]; i += 3)
        set_pick(&iv, fields[i], e, fields[i + 1], fields[i + 2]);
    return iv.obj;
}

static void set_list(struct view *v, json_t *inc, const char *src_key, const char *key,
                     const char *has_key, const char *const *fields)
{
    json_t *list = json_array(), *e;
    size_t i;
    json_array_foreach(json_object_get(inc, src_key), i, e)
    {
        if (!json_is_object(e))
            continue;
        json_t *item = item_view(e, v->f, fields);
        if (!strcmp(key, "actionItems"))
            json_object_set_new(item, "check",
                                json_string(json_is_true(json_object_get(e, "done")) ? "x" : " "));
        json_array_append_new(list, item);
    }
    json_object_set_new(v->obj, has_key, json_boolean(json_array_size(list) > 0));
    json_object_set_new(v->obj, key, list);
}

static const char *const timeline_fields[] = {
    "at",   "at|time|timestamp", "Unknown time",
    "kind", "kind|type",         "event",
    "who",  "who|actor|by",      "",
    "text", "text|message|note", "",
    NULL,
};
static const char *const action_fields[] = {
    "task", "task|title|text", "TBD",         "owner", "owner|assignee", "Unassigned",
    "due",  "due|dueDate",     "No due date", NULL,
};

/* The report's view (see report.h for the names). */
static json_t *report_view(json_t *inc, enum dw_incident_format f)
{
    struct view v = {json_object(), f};
    set_pick(&v, "service", inc, "service", "DojoPool");
    set_pick(&v, "id", inc, "id", "Unknown");
    set_pick(&v, "title", inc, "title", "");
    set_pick(&v, "state", inc, "state", "Unknown");
    set_pick(&v, "start", inc, "createdAt|startedAt", "Unknown");
    set_end(&v, inc);
    set_duration(&v, inc);
    set_severity(&v, inc);
    set_pick(&v, "affectedSystems", inc, "affectedSystems", "Unknown");
    set_pick(&v, "commander", inc, "commander", "Unassigned");
    set_pick(&v, "communicationsLead", inc, "communicationsLead", "Unassigned");
    set_pick(&v, "scribe", inc, "scribe", "Unassigned");
    set_impact(&v, inc);
    set_pick(&v, "businessImpact", inc, "businessImpact", "TBD");
    set_data_loss(&v, inc);
    set_pick(&v, "rootCause", inc, "rootCause", "TBD");
    set_pick(&v, "contributingFactors", inc, "contributingFactors", "TBD");
    set_detection(&v, inc);
    set_pick(&v, "immediateActions", inc, "resolution.immediateActions|immediateActions|resolution",
             "TBD");
    set_pick(&v, "permanentFix", inc, "resolution.permanentFix|permanentFix", "TBD");
    set_pick(&v, "verification", inc, "resolution.verification|verification", "TBD");
    set_pick(&v, "shortTerm", inc, "prevention.shortTerm|prevention", "TBD");
    set_pick(&v, "longTerm", inc, "prevention.longTerm", "TBD");
    set_pick(&v, "monitoring", inc,
             "prevention.monitoring|prevention.monitoringEnhancements|monitoringEnhancements",
             "TBD");
    set_lessons(&v, inc);
    set_list(&v, inc, "timeline", "timeline", "hasTimeline", timeline_fields);
    set_list(&v, inc, "actionItems", "actionItems", "hasActionItems", action_fields);
    json_object_set_new(v.obj, "incident", escaped_copy(inc, f));
    return v.obj;
}

static bool notice_resolved(json_t *inc)
{
    char *status = pick(inc, "notice.status|state");
    bool r = is_closed(status);
    free(status);
    return r;
}

/* The notice's view (see report.h for the names). */
static json_t *notice_view(json_t *inc, enum dw_incident_format f)
{
    struct view v = {json_object(), f};
    char *service = pick(inc, "service");
    set_str(&v, "service", service ? service : "DojoPool");
    set_pick(&v, "issue", inc, "notice.title|title", "Service Disruption");
    set_pick(&v, "description", inc, "notice.message|title", "a service issue");
    char *affected = pick(inc, "notice.affected");
    char *use = dw_asprintf("use %s", service ? service : "DojoPool");
    set_str(&v, "affected", affected ? affected : use);
    set_pick(&v, "eta", inc, "notice.eta|notice.estimatedResolution", "");
    json_object_set_new(v.obj, "resolved", json_boolean(notice_resolved(inc)));
    set_pick(&v, "resolvedAt", inc, "resolvedAt|closedAt", "");
    set_pick(&v, "statusPageUrl", inc, "statusPageUrl", SEED_STATUS_PAGE);
    json_object_set_new(v.obj, "incident", escaped_copy(inc, f));
    free(service);
    free(affected);
    free(use);
    return v.obj;
}

/* ---- rendering ---- */

static struct dw_mustache *compile(const char *name, const char *text, char **err)
{
    struct dw_diags diags;
    dw_diags_init(&diags);
    struct dw_mustache *t = dw_mustache_compile(name, text, strlen(text), &diags);
    if (!t && err) {
        struct dw_buf b;
        dw_buf_init(&b, 0);
        if (diags.n)
            dw_diag_format(&diags.items[0], &b);
        else
            dw_buf_printf(&b, "%s: does not compile", name);
        *err = dw_buf_steal(&b);
    }
    dw_diags_release(&diags);
    return t;
}

/* Wraps cmark's rendering of md into a whole HTML document titled title. */
static int put_html(struct dw_buf *out, const char *md, size_t len, const char *title, char **err)
{
    char *body = cmark_markdown_to_html(md, len, REPORT_CMARK_OPTS);
    if (!body) {
        dw_set_err(err, "cmark could not render the Markdown");
        return -1;
    }
    int rc = dw_buf_puts(out, "<!doctype html>\n<html lang=\"en\">\n<head>\n"
                              "<meta charset=\"utf-8\">\n<title>");
    rc |= dw_buf_xml_escape_n(out, title, strlen(title));
    rc |= dw_buf_puts(out, "</title>\n</head>\n<body>\n");
    rc |= dw_buf_puts(out, body);
    rc |= dw_buf_puts(out, "</body>\n</html>\n");
    free(body);
    if (rc < 0)
        dw_set_err(err, "the document is larger than %zu bytes", out->max);
    return rc < 0 ? -1 : 0;
}

/* Compiles tmpl, renders view into out (as HTML when asked); out is left as
 * it was on any error. */
static int render(const char *name, const char *tmpl, json_t *view, const char *title,
                  enum dw_incident_format f, struct dw_buf *out, char **err)
{
    struct dw_mustache *t = compile(name, tmpl, err);
    if (!t)
        return -1;
    size_t start = out->len;
    int rc;
    if (f != DW_INCIDENT_HTML) {
        rc = dw_mustache_render(t, view, NULL, NULL, out, err);
    } else {
        struct dw_buf md;
        dw_buf_init(&md, out->max);
        rc = dw_mustache_render(t, view, NULL, NULL, &md, err);
        if (rc == 0)
            rc = put_html(out, md.data ? md.data : "", md.len, title, err);
        dw_buf_release(&md);
    }
    dw_mustache_free(&t);
    if (rc < 0) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return rc;
}

static bool check_args(json_t *incident, enum dw_incident_format f, char **err)
{
    if (err)
        *err = NULL;
    if (!json_is_object(incident)) {
        dw_set_err(err, "the incident is not a JSON object");
        return false;
    }
    if (f != DW_INCIDENT_TEXT && f != DW_INCIDENT_MARKDOWN && f != DW_INCIDENT_HTML) {
        dw_set_err(err, "unknown output format %d", (int)f);
        return false;
    }
    return true;
}

int dw_incident_render_report(json_t *incident, const char *template_or_null,
                              enum dw_incident_format format, struct dw_buf *out, char **err)
{
    if (!check_args(incident, format, err))
        return -1;
    json_t *view = report_view(incident, format);
    char *service = pick(incident, "service"), *id = pick(incident, "id");
    char *title = dw_asprintf("Incident Report - %s Production - %s",
                              service ? service : "DojoPool", id ? id : "Unknown");
    int rc = render("report", template_or_null ? template_or_null : dw_incident_report_template,
                    view, title, format, out, err);
    free(service);
    free(id);
    free(title);
    json_decref(view);
    return rc;
}

char *dw_incident_notice_subject(json_t *incident)
{
    json_t *view = notice_view(incident, DW_INCIDENT_TEXT);
    char *s =
        dw_asprintf("%s Service Update - %s", json_string_value(json_object_get(view, "service")),
                    json_string_value(json_object_get(view, "issue")));
    json_decref(view);
    return s;
}

int dw_incident_render_notice(json_t *incident, const char *template_or_null,
                              enum dw_incident_format format, struct dw_buf *out, char **err)
{
    if (!check_args(incident, format, err))
        return -1;
    json_t *view = notice_view(incident, format);
    char *title = dw_incident_notice_subject(incident);
    int rc = render("notice", template_or_null ? template_or_null : dw_incident_notice_template,
                    view, title, format, out, err);
    free(title);
    json_decref(view);
    return rc;
}

int dw_incident_template_check(const char *name, const char *text, char **err)
{
    if (err)
        *err = NULL;
    struct dw_mustache *t = compile(name ? name : "template", text, err);
    if (!t)
        return -1;
    dw_mustache_free(&t);
    return 0;
}
