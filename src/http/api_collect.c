/*
 * api_collect.c - what the collector is doing: Prometheus' /api/v1/targets
 * (so Grafana and scripts that read it work) and /api/v1/probes (every
 * synthetic probe with its last result and failure reason).
 */
#include <string.h>

#include "collect/collect.h"
#include "http/http_internal.h"

static bool need_collector(const struct dw_http_app *app, struct dw_http_response *resp)
{
    return dw_api_need(app->collector, resp, "collection is not running");
}

void dw_api_targets(struct dw_http_request *req, struct dw_http_response *resp,
                    const struct dw_http_app *app)
{
    if (!need_collector(app, resp))
        return;
    const char *state = dw_http_req_arg(req, "state");
    if (state && *state && strcmp(state, "any") && strcmp(state, "active") &&
        strcmp(state, "dropped")) {
        dw_http_resp_error(resp, 400, "bad_data",
                           "state: expected any, active or dropped, got '%s'", state);
        return;
    }
    dw_http_resp_success(resp, dw_collector_targets_json(app->collector, state));
}

void dw_api_probes(struct dw_http_request *req, struct dw_http_response *resp,
                   const struct dw_http_app *app)
{
    (void)req;
    if (!need_collector(app, resp))
        return;
    dw_http_resp_success(resp, dw_collector_probes_json(app->collector));
}
