/*
 * api_incident.c - the incidents API: list, create, read, update, state
 * transitions, notes, action items, merge, the report and the notice,
 * MTTA / MTTR. Translation only: every handler parses, calls the incident
 * module and shapes the answer; the CLI calls the same routes.
 *
 * Threads: libmicrohttpd's; the incident module is thread-safe.
 */
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "incident/incident.h"
#include "incident/report.h"

_Static_assert(DW_INCIDENT_EINVAL == DW_API_EINVAL && DW_INCIDENT_ENOTFOUND == DW_API_ENOTFOUND &&
                   DW_INCIDENT_EDENIED == DW_API_EDENIED,
               "incident return codes");

#define DOC_MAX (4u << 20) /* a rendered report or notice */

static bool need_incidents(const struct dw_http_app *app, struct dw_http_response *resp)
{
    return dw_api_need(app->incidents, resp, "incidents are not running in this process");
}

/* The incident after a change, or the change's error. */
static void answer_incident(struct dw_http_response *resp, const struct dw_http_app *app,
                            const char *id, int rc, char *err)
{
    if (rc == 0) {
        json_t *inc = dw_incident_json(app->incidents, id);
        if (inc)
            dw_http_resp_success(resp, inc);
        else
            dw_http_resp_error(resp, 404, "not_found", "no incident %s", id);
    } else {
        dw_api_module_error(resp, rc, err);
    }
    free(err);
}

void dw_api_incidents_list(struct dw_http_request *req, struct dw_http_response *resp,
                           const struct dw_http_app *app)
{
    if (!need_incidents(app, resp))
        return;
    struct dw_incident_filter f = {.state = dw_http_req_arg(req, "state")};
    const char *sev = dw_http_req_arg(req, "severity"), *lim = dw_http_req_arg(req, "limit");
    int64_t v = 0;
    if (sev && (dw_parse_int64(sev, &v) != 0 || v < 1 || v > 4)) {
        dw_http_resp_error(resp, 400, "bad_data", "severity must be 1 to 4");
        return;
    }
    f.severity = (int)v;
    if (lim && (dw_parse_int64(lim, &v) != 0 || v < 1 || v > DW_INCIDENT_LIST_MAX)) {
        dw_http_resp_error(resp, 400, "bad_data", "limit must be 1 to %d", DW_INCIDENT_LIST_MAX);
        return;
    }
    f.limit = lim ? (size_t)v : 0;
    if (!dw_api_time_param(req, resp, "since", 0, &f.since_ms))
        return;
    json_t *out = NULL;
    char *err = NULL;
    int rc = dw_incidents_list_json(app->incidents, &f, &out, &err);
    dw_api_module_answer(resp, rc, out, err);
}

void dw_api_incidents_create(struct dw_http_request *req, struct dw_http_response *resp,
                             const struct dw_http_app *app)
{
    if (!need_incidents(app, resp))
        return;
    json_t *in = dw_api_body_object(req, resp);
    if (!in)
        return;
    json_t *sys = json_object_get(in, "affectedSystems");
    const char *systems[DW_INCIDENT_LIST_ITEMS_MAX];
    size_t nsys = 0, i;
    json_t *s;
    json_array_foreach(sys, i, s)
    {
        if (nsys < DW_INCIDENT_LIST_ITEMS_MAX && json_is_string(s))
            systems[nsys++] = json_string_value(s);
    }
    json_t *sev = json_object_get(in, "severity");
    struct dw_incident_new n = {
        .title = json_string_value(json_object_get(in, "title")),
        .severity = json_is_integer(sev) ? (int)json_integer_value(sev) : 0,
        .priority = json_string_value(json_object_get(in, "priority")),
        .commander = json_string_value(json_object_get(in, "commander")),
        .impact = json_string_value(json_object_get(in, "impact")),
        .affected_systems = nsys ? systems : NULL,
        .naffected_systems = nsys,
    };
    char id[DW_INCIDENT_ID_LEN], *err = NULL;
    int rc =
        dw_incident_create(app->incidents, &n, dw_http_req_principal(req), dw_now_ms(), id, &err);
    dw_api_module_answer(resp, rc, rc == 0 ? json_pack("{s:s}", "id", id) : NULL, err);
    json_decref(in);
}

void dw_api_incident_get(struct dw_http_request *req, struct dw_http_response *resp,
                         const struct dw_http_app *app)
{
    if (!need_incidents(app, resp))
        return;
    const char *id = dw_http_req_param(req, "id");
    dw_api_found(resp, dw_incident_json(app->incidents, id), "incident", id);
}

void dw_api_incident_update(struct dw_http_request *req, struct dw_http_response *resp,
                            const struct dw_http_app *app)
{
    if (!need_incidents(app, resp))
        return;
    json_t *in = dw_api_body_object(req, resp);
    if (!in)
        return;
    const char *id = dw_http_req_param(req, "id");
    char *err = NULL;
    int rc =
        dw_incident_update(app->incidents, id, in, dw_http_req_principal(req), dw_now_ms(), &err);
    json_decref(in);
    answer_incident(resp, app, id, rc, err);
}

/* A required string member of the body; NULL after a 400. */
static const char *member(json_t *in, const char *name, struct dw_http_response *resp)
{
    const char *v = json_string_value(json_object_get(in, name));
    if (!v)
        dw_http_resp_error(resp, 400, "bad_data", "expected JSON {\"%s\": \"...\"}", name);
    return v;
}

/* A change made of one string member of the body ({"state"}, {"text"}), then the incident. */
static void string_change(struct dw_http_request *req, struct dw_http_response *resp,
                          const struct dw_http_app *app, const char *name,
                          int (*change)(struct dw_incidents *, const char *, const char *,
                                        const char *, int64_t, char **))
{
    if (!need_incidents(app, resp))
        return;
    json_t *in = dw_api_body_object(req, resp);
    const char *value = in ? member(in, name, resp) : NULL;
    if (value) {
        const char *id = dw_http_req_param(req, "id");
        char *err = NULL;
        int rc = change(app->incidents, id, value, dw_http_req_principal(req), dw_now_ms(), &err);
        answer_incident(resp, app, id, rc, err);
    }
    json_decref(in);
}

void dw_api_incident_state(struct dw_http_request *req, struct dw_http_response *resp,
                           const struct dw_http_app *app)
{
    string_change(req, resp, app, "state", dw_incident_transition);
}

void dw_api_incident_note(struct dw_http_request *req, struct dw_http_response *resp,
                          const struct dw_http_app *app)
{
    string_change(req, resp, app, "text", dw_incident_note);
}

/* "due": RFC 3339 or a date (YYYY-MM-DD, the end of that day in UTC); absent: none. */
static bool due_of(json_t *in, int64_t *due, struct dw_http_response *resp)
{
    json_t *d = json_object_get(in, "due");
    if (!d || json_is_null(d)) {
        *due = 0;
        return true;
    }
    const char *s = json_string_value(d);
    int y = 0, m = 0, day = 0;
    char extra;
    if (s && sscanf(s, "%4d-%2d-%2d%c", &y, &m, &day, &extra) == 3 && m >= 1 && m <= 12 &&
        day >= 1 && day <= 31) {
        *due = (dw_days_from_civil(y, m, day) + 1) * 86400000LL - 1;
        return true;
    }
    if (s && dw_parse_rfc3339(s, due) == 0)
        return true;
    dw_http_resp_error(resp, 400, "bad_data", "due must be a date (2026-12-08) or RFC 3339");
    return false;
}

void dw_api_incident_action_add(struct dw_http_request *req, struct dw_http_response *resp,
                                const struct dw_http_app *app)
{
    if (!need_incidents(app, resp))
        return;
    json_t *in = dw_api_body_object(req, resp);
    const char *task = in ? member(in, "task", resp) : NULL;
    int64_t due = 0;
    if (task && due_of(in, &due, resp)) {
        int64_t aid = 0;
        char *err = NULL;
        int rc = dw_incident_action_add(app->incidents, dw_http_req_param(req, "id"), task,
                                        json_string_value(json_object_get(in, "owner")), due,
                                        dw_http_req_principal(req), dw_now_ms(), &aid, &err);
        dw_api_module_answer(resp, rc, rc == 0 ? json_pack("{s:I}", "id", (json_int_t)aid) : NULL,
                             err);
    }
    json_decref(in);
}

void dw_api_incident_action_update(struct dw_http_request *req, struct dw_http_response *resp,
                                   const struct dw_http_app *app)
{
    if (!need_incidents(app, resp))
        return;
    int64_t aid = 0;
    if (dw_parse_int64(dw_http_req_param(req, "n"), &aid) != 0 || aid <= 0) {
        dw_http_resp_error(resp, 400, "bad_data", "an action item id is a positive number");
        return;
    }
    json_t *in = dw_api_body_object(req, resp);
    if (!in)
        return;
    struct dw_incident_action_change ch = {
        .task = json_string_value(json_object_get(in, "task")),
        .owner = json_string_value(json_object_get(in, "owner")),
        .due_ms = -1,
        .done = json_is_boolean(json_object_get(in, "done"))
                    ? json_is_true(json_object_get(in, "done"))
                    : -1,
    };
    if (json_object_get(in, "due") && !due_of(in, &ch.due_ms, resp)) {
        json_decref(in);
        return;
    }
    const char *id = dw_http_req_param(req, "id");
    char *err = NULL;
    int rc = dw_incident_action_update(app->incidents, id, aid, &ch, dw_http_req_principal(req),
                                       dw_now_ms(), &err);
    json_decref(in);
    answer_incident(resp, app, id, rc, err);
}

void dw_api_incident_merge(struct dw_http_request *req, struct dw_http_response *resp,
                           const struct dw_http_app *app)
{
    if (!need_incidents(app, resp))
        return;
    json_t *in = dw_api_body_object(req, resp);
    const char *into = in ? member(in, "into", resp) : NULL;
    if (into) {
        char *err = NULL;
        int rc = dw_incident_merge(app->incidents, dw_http_req_param(req, "id"), into,
                                   dw_http_req_principal(req), dw_now_ms(), &err);
        answer_incident(resp, app, into, rc, err);
    }
    json_decref(in);
}

void dw_api_incident_delete(struct dw_http_request *req, struct dw_http_response *resp,
                            const struct dw_http_app *app)
{
    if (!need_incidents(app, resp))
        return;
    char *err = NULL;
    const char *id = dw_http_req_param(req, "id");
    int rc = dw_incident_delete(app->incidents, id, dw_http_req_principal(req), dw_now_ms(), &err);
    dw_api_module_answer(resp, rc, rc == 0 ? json_pack("{s:s}", "deleted", id) : NULL, err);
}

/* Slack's slash command: the module verifies the signature and answers in Slack's JSON. */
void dw_api_incident_slack(struct dw_http_request *req, struct dw_http_response *resp,
                           const struct dw_http_app *app)
{
    if (!need_incidents(app, resp))
        return;
    size_t len = 0;
    const char *body = dw_http_req_body(req, &len);
    struct dw_incident_slack in = {
        .timestamp = dw_http_req_header(req, "X-Slack-Request-Timestamp"),
        .signature = dw_http_req_header(req, "X-Slack-Signature"),
        .body = body ? body : "",
        .body_len = body ? len : 0,
        .command = dw_http_req_arg(req, "command"),
        .text = dw_http_req_arg(req, "text"),
        .user_name = dw_http_req_arg(req, "user_name"),
    };
    char *out = NULL, *err = NULL;
    int rc = dw_incident_slack_command(app->incidents, &in, dw_now_ms(), &out, &err);
    if (rc != 0)
        dw_api_module_error(resp, rc, err);
    else
        dw_http_resp_body(resp, 200, "application/json", out, strlen(out));
    free(err);
}

/* The report or the notice, as the document itself (not JSON). */
static void document(struct dw_http_request *req, struct dw_http_response *resp,
                     const struct dw_http_app *app, bool report)
{
    if (!need_incidents(app, resp))
        return;
    const char *fmt = dw_http_req_arg(req, "format");
    enum dw_incident_format f = report ? DW_INCIDENT_MARKDOWN : DW_INCIDENT_TEXT;
    if (fmt && strcmp(fmt, "markdown") == 0)
        f = DW_INCIDENT_MARKDOWN;
    else if (fmt && strcmp(fmt, "html") == 0)
        f = DW_INCIDENT_HTML;
    else if (fmt && strcmp(fmt, "text") == 0 && !report)
        f = DW_INCIDENT_TEXT;
    else if (fmt) {
        dw_http_resp_error(resp, 400, "bad_data", "format must be %s",
                           report ? "markdown or html" : "text, markdown or html");
        return;
    }
    const char *id = dw_http_req_param(req, "id");
    struct dw_buf out;
    dw_buf_init(&out, DOC_MAX);
    char *err = NULL;
    int rc = dw_incident_document(app->incidents, id, report, f, &out, &err);
    if (rc != 0) {
        dw_api_module_error(resp, rc, err);
        free(err);
        dw_buf_release(&out);
        return;
    }
    const char *type = f == DW_INCIDENT_HTML       ? "text/html; charset=utf-8"
                       : f == DW_INCIDENT_MARKDOWN ? "text/markdown; charset=utf-8"
                                                   : "text/plain; charset=utf-8";
    size_t len = out.len;
    dw_http_resp_body(resp, 200, type, dw_buf_steal(&out), len);
}

void dw_api_incident_report(struct dw_http_request *req, struct dw_http_response *resp,
                            const struct dw_http_app *app)
{
    document(req, resp, app, true);
}

void dw_api_incident_notice(struct dw_http_request *req, struct dw_http_response *resp,
                            const struct dw_http_app *app)
{
    document(req, resp, app, false);
}

void dw_api_incidents_stats(struct dw_http_request *req, struct dw_http_response *resp,
                            const struct dw_http_app *app)
{
    if (!need_incidents(app, resp))
        return;
    int64_t now = dw_now_ms(), since, until;
    if (!dw_api_time_param(req, resp, "since", now - 30LL * 86400000, &since) ||
        !dw_api_time_param(req, resp, "until", now + 1, &until))
        return;
    json_t *out = NULL;
    char *err = NULL;
    int rc = dw_incidents_stats_json(app->incidents, since, until, &out, &err);
    dw_api_module_answer(resp, rc, out, err);
}

void dw_api_incidents_actions(struct dw_http_request *req, struct dw_http_response *resp,
                              const struct dw_http_app *app)
{
    if (!need_incidents(app, resp))
        return;
    const char *overdue = dw_http_req_arg(req, "overdue");
    dw_http_resp_success(resp, dw_incidents_actions_json(app->incidents,
                                                         overdue && strcmp(overdue, "true") == 0,
                                                         dw_now_ms()));
}
