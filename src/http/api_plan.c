/*
 * api_plan.c - the launch plan over HTTP.
 *
 *   GET  /api/plan                       (viewer)    phase, cadences, checklist with due times
 *   POST /api/plan/checks/{id}/review    (responder) record that a checklist row was reviewed
 *   GET  /api/config                     (admin)     the effective plan, without secrets
 *
 * Translation only: the answers come from the plan module's functions, which
 * the CLI calls too.
 */
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "http/http_internal.h"

static json_t *time_json(int64_t ms)
{
    if (ms == INT64_MAX || ms == 0)
        return json_null();
    char buf[40];
    dw_format_rfc3339(ms, buf, sizeof buf);
    return json_string(buf);
}

static json_t *duration_json(int64_t ms)
{
    if (ms == 0)
        return json_null();
    char buf[40];
    dw_format_duration(ms, buf, sizeof buf);
    return json_string(buf);
}

static json_t *phase_json(const struct dw_config *cfg, const struct dw_plan_phase *ph)
{
    int64_t launch = dw_config_launch_at(cfg);
    json_t *cadence = json_object();
    for (int c = 0; c < DW_CLASS_COUNT; c++)
        json_object_set_new(cadence, dw_check_class_name(c), duration_json(ph->cadence_ms[c]));
    return json_pack(
        "{s:s,s:o,s:o,s:o}", "name", ph->name, "start", time_json(launch + ph->start_ms), "end",
        time_json(ph->end_ms == INT64_MAX ? INT64_MAX : launch + ph->end_ms), "cadence", cadence);
}

static json_t *checks_json(const struct dw_config *cfg, struct dw_store *store, int64_t now)
{
    size_t n;
    const struct dw_plan_check *checks = dw_config_checks(cfg, &n);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        struct dw_plan_review_status st;
        dw_plan_review_status(store, cfg, &checks[i], now, &st);
        json_t *o =
            json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:b}", "id", checks[i].id, "title", checks[i].title,
                      "class", dw_check_class_name(checks[i].cls), "interval",
                      duration_json(st.interval_ms), "last_review", time_json(st.last_ms),
                      "next_due", time_json(st.due_ms), "overdue", st.overdue);
        if (st.last_by[0])
            json_object_set_new(o, "last_reviewer", json_string(st.last_by));
        if (checks[i].op)
            json_object_set_new(o, "threshold",
                                json_pack("{s:s,s:f,s:s?}", "op", checks[i].op, "target",
                                          checks[i].target, "unit", checks[i].unit));
        json_array_append_new(arr, o);
    }
    return arr;
}

void dw_api_plan_get(struct dw_http_request *req, struct dw_http_response *resp,
                     const struct dw_http_app *app)
{
    struct dw_config *cfg = app->config_get(app->ctx);
    int64_t now = dw_now_ms();
    const char *at = dw_http_req_arg(req, "time");
    if (at && dw_parse_rfc3339(at, &now) < 0) {
        dw_http_resp_error(resp, 400, "bad_data",
                           "time: expected an RFC 3339 time like 2026-12-01T09:00:00Z, got \"%s\"",
                           at);
        dw_config_unref(&cfg);
        return;
    }
    const struct dw_plan_phase *ph = dw_plan_phase_at(cfg, now);
    json_t *data =
        json_pack("{s:s,s:o,s:o,s:b,s:o,s:o}", "service", dw_config_service_name(cfg), "launch_at",
                  time_json(dw_config_launch_at(cfg)), "time", time_json(now), "before_launch",
                  dw_plan_before_launch(cfg, now), "phase", phase_json(cfg, ph),
                  "next_phase_change", time_json(dw_plan_next_phase_change(cfg, now)));
    json_object_set_new(data, "checks", checks_json(cfg, app->store, now));
    dw_http_resp_success(resp, data);
    dw_config_unref(&cfg);
}

void dw_api_plan_review(struct dw_http_request *req, struct dw_http_response *resp,
                        const struct dw_http_app *app)
{
    struct dw_config *cfg = app->config_get(app->ctx);
    const char *id = dw_http_req_param(req, "id");
    const char *note = dw_http_req_arg(req, "note");
    char *err = NULL;
    int64_t now = dw_now_ms();
    int rc =
        dw_plan_review_record(app->store, cfg, id, dw_http_req_principal(req), note, now, &err);
    if (rc == DW_PLAN_REVIEW_UNKNOWN_CHECK)
        dw_http_resp_error(resp, 404, "not_found", "%s", err);
    else if (rc == DW_PLAN_REVIEW_BAD_INPUT)
        dw_http_resp_error(resp, 400, "bad_data", "%s", err);
    else if (rc < 0)
        dw_http_resp_error(resp, 503, "unavailable", "%s", err);
    else
        dw_http_resp_success(resp, json_pack("{s:s,s:o,s:s}", "check", id, "reviewed_at",
                                             time_json(now), "by", dw_http_req_principal(req)));
    free(err);
    dw_config_unref(&cfg);
}

static json_t *objectives_json(const struct dw_plan_objective *o, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s,s:s?,s:s?,s:s,s:f,s:s?}", "id", o[i].id, "name",
                                             o[i].name, "group", o[i].group, "op", o[i].op,
                                             "target", o[i].target, "unit", o[i].unit));
    return arr;
}

static json_t *priorities_json(const struct dw_config *cfg)
{
    json_t *obj = json_object();
    for (int p = 0; p < DW_PRIORITY_COUNT; p++) {
        const struct dw_plan_priority *pr = dw_config_priority(cfg, p);
        json_t *channels = json_array(), *esc = json_array();
        for (size_t i = 0; i < pr->nchannels; i++)
            json_array_append_new(channels, json_string(pr->channels[i]));
        for (size_t i = 0; i < pr->nescalation; i++)
            json_array_append_new(
                esc, json_sprintf("%s:%s", pr->escalation[i].kind, pr->escalation[i].id));
        json_object_set_new(
            obj, dw_priority_name(p),
            json_pack("{s:o,s:o,s:o,s:o,s:o,s:b}", "response", duration_json(pr->response_ms),
                      "resolution", duration_json(pr->resolution_ms), "status_page_within",
                      duration_json(pr->status_page_ms), "channels", channels, "escalation", esc,
                      "business_hours_only", pr->business_hours_only));
    }
    return obj;
}

void dw_api_config_get(struct dw_http_request *req, struct dw_http_response *resp,
                       const struct dw_http_app *app)
{
    (void)req;
    struct dw_config *cfg = app->config_get(app->ctx);
    size_t n, nk, nb, ns, nt;
    const struct dw_plan_phase *phases = dw_config_phases(cfg, &n);
    json_t *ph = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(ph, phase_json(cfg, &phases[i]));
    const struct dw_plan_objective *kpis = dw_config_kpis(cfg, &nk);
    const struct dw_plan_objective *base = dw_config_baselines(cfg, &nb);
    const struct dw_plan_objective *succ = dw_config_success_criteria(cfg, &ns);
    const struct dw_plan_token *tokens = dw_config_tokens(cfg, &nt);
    json_t *tok = json_array();
    for (size_t i = 0; i < nt; i++) /* names and roles only: never hashes or secrets */
        json_array_append_new(tok, json_pack("{s:s,s:s}", "name", tokens[i].name, "role",
                                             dw_role_name(tokens[i].role)));
    json_t *data = json_pack(
        "{s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "file", dw_config_path(cfg), "sha256",
        dw_config_hash(cfg), "service", dw_config_service_name(cfg), "launch_at",
        time_json(dw_config_launch_at(cfg)), "phases", ph, "priorities", priorities_json(cfg),
        "kpis", objectives_json(kpis, nk), "baselines", objectives_json(base, nb),
        "success_criteria", objectives_json(succ, ns), "retention",
        json_pack("{s:o,s:o}", "raw", duration_json(dw_config_retention_raw_ms(cfg)), "aggregated",
                  duration_json(dw_config_retention_aggregated_ms(cfg))),
        "tokens", tok);
    dw_http_resp_success(resp, data);
    dw_config_unref(&cfg);
}
