/*
 * api_dashboard.c - dashboards over HTTP (viewer role and up):
 *
 *   GET /api/dashboards                 [{id, title, description, panels}]
 *   GET /api/dashboards/{id}            the definition, with each row's refresh in the current
 *                                       launch phase
 *   GET /api/dashboards/{id}/data       every panel evaluated in one answer; from, to (RFC 3339
 *                                       or Unix seconds), step (a duration or seconds), panel
 *
 * Translation only: the dashboard module decodes the configuration, judges
 * thresholds and evaluates the panels with the PromQL engine over the tsdb,
 * as /api/v1/query_range does. Times and steps are parsed like the
 * Prometheus API parses them; a range out of bounds is 400 bad_data with the
 * module's reason, an unknown dashboard or panel 404.
 *
 * Threads: libmicrohttpd's; the module is thread-safe.
 */
#include <stdlib.h>
#include <string.h>

#include "dashboard/dashboard.h"
#include "http_internal.h"

_Static_assert(DW_DASHBOARD_EINVAL == DW_API_EINVAL && DW_DASHBOARD_ENOTFOUND == DW_API_ENOTFOUND,
               "dashboard return codes");

#define NS_PER_MS 1000000LL

static bool need_dashboards(const struct dw_http_app *app, struct dw_http_response *resp)
{
    return dw_api_need(app->dashboards, resp, "dashboards are not served by this process");
}

void dw_api_dashboards_list(struct dw_http_request *req, struct dw_http_response *resp,
                            const struct dw_http_app *app)
{
    if (need_dashboards(app, resp))
        dw_http_resp_success(resp, dw_dashboard_list_json(app->dashboards));
}

void dw_api_dashboard_get(struct dw_http_request *req, struct dw_http_response *resp,
                          const struct dw_http_app *app)
{
    if (!need_dashboards(app, resp))
        return;
    const char *id = dw_http_req_param(req, "id");
    dw_api_found(resp, dw_dashboard_get_json(app->dashboards, id, dw_now_ms()), "dashboard", id);
}

/* An optional time argument: false after a 400 naming it. */
static bool time_arg(struct dw_http_request *req, struct dw_http_response *resp, const char *name,
                     int64_t *ms, bool *set)
{
    const char *v = dw_http_req_arg(req, name);
    *set = v && *v;
    if (!*set || dw_http_parse_time(v, ms) == 0)
        return true;
    dw_http_resp_error(resp, 400, "bad_data",
                       "%s: expected an RFC 3339 time like 2026-12-01T09:00:00Z or Unix seconds, "
                       "got \"%.64s\"",
                       name, v);
    return false;
}

static bool step_arg(struct dw_http_request *req, struct dw_http_response *resp, int64_t *ms,
                     bool *set)
{
    const char *v = dw_http_req_arg(req, "step");
    *set = v && *v;
    if (!*set)
        return true;
    int64_t ns;
    if (dw_http_parse_duration(v, &ns) != 0) {
        dw_http_resp_error(resp, 400, "bad_data",
                           "step: expected a duration like 30s or seconds like 30, got \"%.64s\"",
                           v);
        return false;
    }
    *ms = ns / NS_PER_MS; /* under 1ms is 0: the module refuses it with the reason */
    return true;
}

void dw_api_dashboard_data(struct dw_http_request *req, struct dw_http_response *resp,
                           const struct dw_http_app *app)
{
    if (!need_dashboards(app, resp) || !dw_api_need_tsdb(app, resp))
        return;
    struct dw_dashboard_data_request rq = {
        .id = dw_http_req_param(req, "id"),
        .panel = dw_http_req_arg(req, "panel"),
        .now_ms = dw_now_ms(),
    };
    struct dw_dashboard_range_in *r = &rq.range;
    if (!time_arg(req, resp, "from", &r->from_ms, &r->from_set) ||
        !time_arg(req, resp, "to", &r->to_ms, &r->to_set) ||
        !step_arg(req, resp, &r->step_ms, &r->step_set))
        return;
    if (rq.panel && !*rq.panel)
        rq.panel = NULL;
    struct dw_promql_storage st;
    dw_promql_tsdb_storage(&st, app->tsdb);
    struct dw_buf out;
    dw_api_begin(&out);
    char *err = NULL;
    int rc = dw_dashboard_data(app->dashboards, &st, &rq, &out, &err);
    if (rc != 0) {
        dw_buf_release(&out);
        dw_api_module_error(resp, rc, err);
        free(err);
        return;
    }
    dw_api_finish(resp, &out, NULL, 0);
}

/* GET /api/kpis: the plan's KPIs, each measured by its dashboards.kpis query now. */
void dw_api_kpis(struct dw_http_request *req, struct dw_http_response *resp,
                 const struct dw_http_app *app)
{
    (void)req;
    if (!need_dashboards(app, resp) || !dw_api_need_tsdb(app, resp))
        return;
    struct dw_promql_storage st;
    dw_promql_tsdb_storage(&st, app->tsdb);
    dw_http_resp_success(resp, dw_dashboard_kpis_json(app->dashboards, &st, dw_now_ms()));
}
