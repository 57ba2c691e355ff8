/*
 * api_plan_stub.c - placeholders for the plan API handlers so the module
 * links before api_plan.c exists. meson.build builds this file only while
 * api_plan.c is absent; the definitions are weak as well, so a real one
 * always wins should both ever be linked. Delete this file with api_plan.c.
 */
#include "http_internal.h"

#define DW_WEAK __attribute__((weak))

static void not_yet(struct dw_http_response *resp)
{
    dw_http_resp_error(resp, 501, "unavailable", "not implemented yet");
}

DW_WEAK void dw_api_plan_get(struct dw_http_request *req, struct dw_http_response *resp,
                             const struct dw_http_app *app)
{
    not_yet(resp);
}

DW_WEAK void dw_api_plan_review(struct dw_http_request *req, struct dw_http_response *resp,
                                const struct dw_http_app *app)
{
    not_yet(resp);
}

DW_WEAK void dw_api_config_get(struct dw_http_request *req, struct dw_http_response *resp,
                               const struct dw_http_app *app)
{
    not_yet(resp);
}
