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
 * "Page someone" opens an on-call page (dw_oncall_page_create) for the
 * person, "schedule:<id>" (whoever is on call there) or "team:<id>": it
 * reaches them on the channels of the priority's first escalation step
 * (the incident's priority unless one is given) and, unanswered, escalates
 * through that priority's policy; acknowledged and resolved like any page.
 * The incident's timeline records who was paged with which page.
 *
 * Threads: libmicrohttpd's polling threads; the modules called are
 * thread-safe.
 */
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "incident/incident.h"
#include "oncall/oncall.h"

#define MESSAGE_MAX 160 /* bytes of a page's message: it goes out as one SMS */

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

void dw_api_console_incident_page(struct dw_http_request *req, struct dw_http_response *resp,
                                  const struct dw_http_app *app)
{
    if (!dw_api_need(app->incidents, resp, "incidents are not running in this process") ||
        !dw_api_need(app->oncall, resp, "on-call is not running in this process"))
        return;
    json_t *in = dw_api_body_object(req, resp);
    if (!in)
        return;
    const char *id = dw_http_req_param(req, "id");
    const char *person = json_string_value(json_object_get(in, "person"));
    const char *message = json_string_value(json_object_get(in, "message"));
    const char *prio = json_string_value(json_object_get(in, "priority"));
    char *err = NULL, *who = NULL, *target = NULL, *summary = NULL;
    json_t *inc = NULL;
    struct dw_config *cfg = app->config_get(app->ctx);
    if (!person || !*person || !message || !*message || strlen(message) > MESSAGE_MAX) {
        dw_http_resp_error(resp, 400, "bad_data",
                           "expected JSON {\"person\": \"<person id, schedule:<id> or "
                           "team:<id>>\", \"message\": \"1 to %d bytes (it goes out as an SMS)\", "
                           "\"priority\": \"P0|P1|P2 (default: the incident's)\"}",
                           MESSAGE_MAX);
        goto out;
    }
    inc = dw_incident_json(app->incidents, id);
    if (!inc) {
        dw_http_resp_error(resp, 404, "not_found", "no incident %s", id);
        goto out;
    }
    /* who that is now, for the answer and the timeline (a schedule: its person on call) */
    who = page_target(app, person, &err);
    const struct dw_plan_person *p = who ? dw_config_find_person(cfg, who) : NULL;
    if (!strchr(person, ':') && !p) {
        dw_http_resp_error(resp, 400, "bad_data", "no person \"%s\" in the plan's people", person);
        goto out;
    }
    target = strchr(person, ':') ? dw_strdup(person) : dw_asprintf("person:%s", person);
    if (!prio || !*prio)
        prio = json_string_value(json_object_get(inc, "priority"));
    summary = dw_asprintf("%s: %s", id, message);
    struct dw_oncall_page_new pn = {target, prio, summary, id};
    char page[DW_ONCALL_PAGE_ID_MAX];
    int64_t now = dw_now_ms();
    free(err);
    err = NULL;
    int rc = dw_oncall_page_create(app->oncall, &pn, dw_http_req_principal(req), now, page, &err);
    if (rc != 0) {
        dw_api_module_error(resp, rc, err);
        goto out;
    }
    const char *name = p ? (p->name ? p->name : p->id) : target;
    char *line = dw_asprintf("paged %s (%s%s%s) with page %s: %s", name, p ? p->id : target,
                             p && strchr(person, ':') ? ", on call in " : "",
                             p && strchr(person, ':') ? person : "", page, message);
    free(err);
    err = NULL;
    rc = dw_incident_record(app->incidents, id, "message", line, dw_http_req_principal(req), now,
                            &err);
    free(line);
    if (rc != 0) {
        dw_api_module_error(resp, rc, err);
        goto out;
    }
    dw_http_resp_success(resp, json_pack("{s:s, s:s?, s:s, s:s, s:s}", "page", page, "person",
                                         p ? p->id : NULL, "name", name, "target", target,
                                         "priority", prio ? prio : "P1"));
out:
    free(err);
    free(who);
    free(target);
    free(summary);
    json_decref(inc);
    json_decref(in);
    dw_config_unref(&cfg);
}
