/*
 * api_console.c - the two things the web console needs that no other API
 * gives a viewer or a responder:
 *
 *   GET  /api/console/directory              (viewer)    the plan's KPIs and people
 *   POST /api/console/incidents/{id}/page    (responder) {"person", "message"}: reach a
 *                                                        person about an incident now
 *
 * DESIGN
 * The directory is configuration a viewer may see: the KPIs with their
 * targets (the plan strip judges them by the alerts that carry a `kpi`
 * label) and the people's ids, names and roles (for the role, owner,
 * override and page pickers; phone numbers and addresses stay out). The
 * whole configuration stays behind GET /api/config (admin).
 *
 * "Page someone" sends the person a text message and an e-mail through the
 * notifier's outbox (the channels pages use, deduplicated, retried, every
 * attempt recorded) and records it on the incident's timeline with what
 * was queued and what was refused. `person` may be "schedule:<id>": whoever
 * that schedule has on call now. It does not open an escalating page: the
 * on-call module opens those from alerts only (docs/internals/oncall.md).
 *
 * Threads: libmicrohttpd's polling threads; the modules called are
 * thread-safe.
 */
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "incident/incident.h"
#include "notify/notify.h"
#include "oncall/oncall.h"

#define MESSAGE_MAX 1000 /* bytes of a page's message: an SMS or two */
#define PAGE_TTL_MS (60LL * 60 * 1000)

static json_t *objective_json(const struct dw_plan_objective *o)
{
    return json_pack("{s:s,s:s,s:s?,s:s?,s:f,s:s?,s:s?}", "id", o->id, "name", o->name, "group",
                     o->group, "op", o->op, "target", o->target, "unit", o->unit, "description",
                     o->description);
}

void dw_api_console_directory(struct dw_http_request *req, struct dw_http_response *resp,
                              const struct dw_http_app *app)
{
    (void)req;
    struct dw_config *cfg = app->config_get(app->ctx);
    size_t nk = 0, np = 0;
    const struct dw_plan_objective *kpis = dw_config_kpis(cfg, &nk);
    const struct dw_plan_person *people = dw_config_people(cfg, &np);
    json_t *k = json_array(), *p = json_array();
    for (size_t i = 0; i < nk; i++)
        json_array_append_new(k, objective_json(&kpis[i]));
    for (size_t i = 0; i < np; i++)
        json_array_append_new(p, json_pack("{s:s,s:s,s:s?}", "id", people[i].id, "name",
                                           people[i].name ? people[i].name : people[i].id, "role",
                                           people[i].role));
    dw_http_resp_success(resp, json_pack("{s:s,s:o,s:o}", "service", dw_config_service_name(cfg),
                                         "kpis", k, "people", p));
    dw_config_unref(&cfg);
}

/* The person id a page goes to: person itself, or the one on call in "schedule:<id>". */
static char *page_target(const struct dw_http_app *app, const char *person, char **err)
{
    static const char prefix[] = "schedule:";
    if (strncmp(person, prefix, sizeof prefix - 1) != 0)
        return dw_strdup(person);
    if (!app->oncall) {
        *err = dw_strdup("on-call is not running in this process");
        return NULL;
    }
    json_t *who = NULL;
    if (dw_oncall_who_json(app->oncall, person + sizeof prefix - 1, dw_now_ms(), &who, err) != 0)
        return NULL;
    json_t *on = json_object_get(json_array_get(json_object_get(who, "schedules"), 0), "onCall");
    const char *id = json_string_value(json_object_get(on, "id"));
    char *out = id ? dw_strdup(id) : NULL;
    if (!out)
        *err = dw_asprintf("nobody is on call in %s now", person);
    json_decref(who);
    return out;
}

/* Queues one message of kind to `to`; appends {"kind","to","queued","error"} to results. */
static void send_one(const struct dw_http_app *app, const char *incident, const char *kind,
                     const char *to, const char *person, const char *payload, int64_t now,
                     json_t *results, struct dw_buf *summary)
{
    char *err = NULL;
    int rc = -1;
    if (!to)
        err = dw_asprintf("%s has no %s", person, strcmp(kind, "sms") == 0 ? "phone" : "e-mail");
    else if (!app->notifier)
        err = dw_strdup("notifications are not running in this process");
    else {
        char *key =
            dw_asprintf("console-page:%s:%s:%s:%lld", incident, person, kind, (long long)now);
        struct dw_notification m = {.dedup_key = key,
                                    .kind = kind,
                                    .to = to,
                                    .payload = payload,
                                    .person = person,
                                    .not_after_ms = now + PAGE_TTL_MS};
        rc = dw_notifier_enqueue(app->notifier, &m, NULL, &err);
        free(key);
    }
    json_array_append_new(results, json_pack("{s:s,s:b,s:s?}", "kind", kind, "queued", rc == 0,
                                             "error", rc == 0 ? NULL : err));
    dw_buf_printf(summary, "%s%s %s", summary->len ? "; " : "", kind,
                  rc == 0 ? "queued" : "not sent");
    if (rc != 0)
        dw_buf_printf(summary, " (%s)", err ? err : "unknown error");
    free(err);
}

void dw_api_console_incident_page(struct dw_http_request *req, struct dw_http_response *resp,
                                  const struct dw_http_app *app)
{
    if (!dw_api_need(app->incidents, resp, "incidents are not running in this process"))
        return;
    json_t *in = dw_api_body_object(req, resp);
    if (!in)
        return;
    const char *id = dw_http_req_param(req, "id");
    const char *person = json_string_value(json_object_get(in, "person"));
    const char *message = json_string_value(json_object_get(in, "message"));
    char *err = NULL, *target = NULL;
    json_t *inc = NULL;
    struct dw_config *cfg = app->config_get(app->ctx);
    const struct dw_plan_person *p = NULL;
    if (!person || !*person || !message || !*message || strlen(message) > MESSAGE_MAX) {
        dw_http_resp_error(resp, 400, "bad_data",
                           "expected JSON {\"person\": \"<person id or schedule:<id>>\", "
                           "\"message\": \"1 to %d bytes\"}",
                           MESSAGE_MAX);
        goto out;
    }
    inc = dw_incident_json(app->incidents, id);
    if (!inc) {
        dw_http_resp_error(resp, 404, "not_found", "no incident %s", id);
        goto out;
    }
    target = page_target(app, person, &err);
    p = target ? dw_config_find_person(cfg, target) : NULL;
    if (!p) {
        dw_http_resp_error(resp, 400, "bad_data", "%s",
                           err ? err : "no such person in the plan's people");
        goto out;
    }
    int64_t now = dw_now_ms();
    const char *title = json_string_value(json_object_get(inc, "title"));
    char *subject = dw_asprintf("%s: %s paged you", id, dw_http_req_principal(req));
    char *textbody = dw_asprintf("%s\n\n%s (%s)", message, title ? title : id, id);
    json_t *payload =
        json_pack("{s:{s:s,s:s,s:s}}", "message", "title", subject, "text", textbody, "thread", id);
    char *body = json_dumps(payload, JSON_COMPACT);
    json_t *results = json_array();
    struct dw_buf summary;
    dw_buf_init(&summary, 0);
    send_one(app, id, "sms", p->phone, p->id, body, now, results, &summary);
    send_one(app, id, "email", p->email, p->id, body, now, results, &summary);
    char *line = dw_asprintf("paged %s (%s): %s - %s", p->name ? p->name : p->id, p->id, message,
                             summary.data ? summary.data : "");
    free(err);
    err = NULL;
    int rc = dw_incident_record(app->incidents, id, "message", line, dw_http_req_principal(req),
                                now, &err);
    if (rc == 0) {
        dw_log_kv(DW_LOG_INFO, "http", "person paged from the console", "incident", id, "person",
                  p->id, "principal", dw_http_req_principal(req), NULL);
        dw_http_resp_success(resp, json_pack("{s:s,s:s,s:o}", "person", p->id, "name",
                                             p->name ? p->name : p->id, "channels", results));
        results = NULL;
    } else {
        dw_api_module_error(resp, rc, err);
    }
    json_decref(results);
    free(line);
    dw_buf_release(&summary);
    free(body);
    json_decref(payload);
    free(textbody);
    free(subject);
out:
    free(err);
    free(target);
    json_decref(inc);
    json_decref(in);
    dw_config_unref(&cfg);
}
