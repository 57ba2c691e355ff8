/*
 * api_rules.c - the rule evaluator's state in Prometheus' shapes:
 * /api/v1/rules (groups, rules, health, last error, active alerts) and
 * /api/v1/alerts (every pending and firing alert), which Grafana reads.
 */
#include <string.h>

#include "http/http_internal.h"
#include "rules/rules.h"

static bool need_ruler(const struct dw_http_app *app, struct dw_http_response *resp)
{
    return dw_api_need(app->ruler, resp, "rule evaluation is not running");
}

void dw_api_rules(struct dw_http_request *req, struct dw_http_response *resp,
                  const struct dw_http_app *app)
{
    if (!need_ruler(app, resp))
        return;
    const char *type = dw_http_req_arg(req, "type");
    if (type && *type && strcmp(type, "alert") && strcmp(type, "record")) {
        dw_http_resp_error(resp, 400, "bad_data", "type: expected alert or record, got '%s'", type);
        return;
    }
    dw_http_resp_success(resp, dw_ruler_rules_json(app->ruler, type));
}

void dw_api_alerts(struct dw_http_request *req, struct dw_http_response *resp,
                   const struct dw_http_app *app)
{
    (void)req;
    if (!need_ruler(app, resp))
        return;
    dw_http_resp_success(resp, dw_ruler_alerts_json(app->ruler));
}
