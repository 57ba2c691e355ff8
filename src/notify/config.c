/*
 * config.c - the channel keys of a receiver in the `alerting` section.
 *
 *   alerting:
 *     receivers:
 *       - name: pager
 *         webhook_configs:              # Alertmanager's webhook_config
 *           - url: http://hooks.example/alert   # required, http(s)
 *             send_resolved: true       # false: resolved alerts are not sent
 *             max_alerts: 0             # 0: all; else the rest is counted in truncatedAlerts
 *             timeout: 10s              # per request (dojowatch's addition)
 *             http_config:              # Prometheus' http_config, the parts a webhook uses
 *               authorization: {type: Bearer, credentials: ${TOKEN}}  # or credentials_file
 *               basic_auth: {username: u, password: p}              # or password_file
 *               bearer_token: t         # (old spelling; also bearer_token_file)
 *               proxy_url: http://proxy:3128
 *               follow_redirects: true
 *               tls_config: {ca_file: ..., cert_file: ..., key_file: ...,
 *                            insecure_skip_verify: false}
 *
 * DESIGN
 * The alert module owns the section and keeps each receiver's list item as
 * one-line YAML; this file owns the channel keys. Two entry points:
 * dw_notify_check_config() decodes the whole section with an open root (only
 * `receivers` is looked at) from the configuration file, so problems carry
 * the file's line and column (check-config, reload); receiver_decode()
 * decodes one receiver's one-line YAML, as the delivery thread gets it from
 * dw_alerter_receiver_config(), so its positions are relative to that line
 * (they only show if the file changed between check and use). The decoded
 * y_* structs are the runtime configuration. Secrets may use ${VAR}
 * (expanded when decoded); *_file secrets are read at each request, so a
 * rotated token is picked up without a reload.
 *
 * Alertmanager's other channel keys (slack_configs, email_configs...) are
 * accepted with a warning: they are not delivered yet. Anything else in a
 * receiver is an error ("did you mean").
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "notify/notify_internal.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void check_http(struct dw_schema_ctx *ctx, void *obj);
static void check_receiver(struct dw_schema_ctx *ctx, void *obj);

/* clang-format off */
static const struct dw_schema_field auth_fields[] = {
    {.name = "type", .type = DW_SCHEMA_STRING, .def = "Bearer", DW_SCHEMA_AT(struct y_auth, type)},
    {.name = "credentials", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_auth, credentials)},
    {.name = "credentials_file", .type = DW_SCHEMA_STRING,
     DW_SCHEMA_AT(struct y_auth, credentials_file)},
};
static const struct dw_schema auth_schema = {auth_fields, N(auth_fields), false, NULL};

static const struct dw_schema_field basic_fields[] = {
    {.name = "username", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct y_basic, username)},
    {.name = "password", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_basic, password)},
    {.name = "password_file", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_basic, password_file)},
};
static const struct dw_schema basic_schema = {basic_fields, N(basic_fields), false, NULL};

static const struct dw_schema_field tls_fields[] = {
    {.name = "ca_file", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_tls, ca_file)},
    {.name = "cert_file", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_tls, cert_file)},
    {.name = "key_file", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_tls, key_file)},
    {.name = "insecure_skip_verify", .type = DW_SCHEMA_BOOL, .def = "false",
     DW_SCHEMA_AT(struct y_tls, insecure_skip_verify)},
};
static const struct dw_schema tls_schema = {tls_fields, N(tls_fields), false, NULL};

static const struct dw_schema_field http_fields[] = {
    {.name = "authorization", .type = DW_SCHEMA_OBJECT, .sub = &auth_schema,
     DW_SCHEMA_AT(struct y_http, authorization)},
    {.name = "basic_auth", .type = DW_SCHEMA_OBJECT, .sub = &basic_schema,
     DW_SCHEMA_AT(struct y_http, basic_auth)},
    {.name = "bearer_token", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_http, bearer_token)},
    {.name = "bearer_token_file", .type = DW_SCHEMA_STRING,
     DW_SCHEMA_AT(struct y_http, bearer_token_file)},
    {.name = "proxy_url", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_URL,
     DW_SCHEMA_AT(struct y_http, proxy_url)},
    {.name = "follow_redirects", .type = DW_SCHEMA_BOOL, .def = "true",
     DW_SCHEMA_AT(struct y_http, follow_redirects)},
    {.name = "tls_config", .type = DW_SCHEMA_OBJECT, .sub = &tls_schema,
     DW_SCHEMA_AT(struct y_http, tls)},
};
static const struct dw_schema http_schema = {http_fields, N(http_fields), false, check_http};

static const struct dw_schema_field webhook_fields[] = {
    {.name = "url", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED | DW_SCHEMA_URL,
     DW_SCHEMA_AT(struct y_webhook, url)},
    {.name = "send_resolved", .type = DW_SCHEMA_BOOL, .def = "true",
     DW_SCHEMA_AT(struct y_webhook, send_resolved)},
    {.name = "max_alerts", .type = DW_SCHEMA_INT, .def = "0", .min = 0, .max = 2147483647,
     DW_SCHEMA_AT(struct y_webhook, max_alerts)},
    {.name = "timeout", .type = DW_SCHEMA_DURATION, .def = "10s", .min = 1, .max = 600000,
     DW_SCHEMA_AT(struct y_webhook, timeout_ms)},
    {.name = "http_config", .type = DW_SCHEMA_OBJECT, .sub = &http_schema,
     DW_SCHEMA_AT(struct y_webhook, http)},
};
static const struct dw_schema webhook_schema = {webhook_fields, N(webhook_fields), false, NULL};

/* Alertmanager 0.25's other channels: accepted, warned about, not delivered yet
 * (y_receiver.other[i] holds the YAML of the key in row 2 + i). */
#define OTHER(key, i)                                                                              \
    {.name = key, .type = DW_SCHEMA_YAML,                                                          \
     .offset = offsetof(struct y_receiver, other) + (i) * sizeof(char *), .size = sizeof(char *)}

static const struct dw_schema_field receiver_fields[] = {
    {.name = "name", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct y_receiver, name)},
    {.name = "webhook_configs", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT,
     .sub = &webhook_schema, DW_SCHEMA_LIST_AT(struct y_receiver, webhooks, nwebhooks)},
    OTHER("email_configs", 0), OTHER("pagerduty_configs", 1), OTHER("pushover_configs", 2),
    OTHER("slack_configs", 3), OTHER("opsgenie_configs", 4), OTHER("victorops_configs", 5),
    OTHER("wechat_configs", 6), OTHER("telegram_configs", 7), OTHER("sns_configs", 8),
    OTHER("webex_configs", 9), OTHER("discord_configs", 10),
};
static const struct dw_schema receiver_schema = {receiver_fields, N(receiver_fields), false,
                                                 check_receiver};

struct y_section {
    struct y_receiver *receivers;
    size_t nreceivers;
};

static const struct dw_schema_field section_fields[] = {
    {.name = "receivers", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT,
     .sub = &receiver_schema, DW_SCHEMA_LIST_AT(struct y_section, receivers, nreceivers)},
};
/* Open: the rest of the section is the alert module's. */
static const struct dw_schema section_schema = {section_fields, N(section_fields), true, NULL};
/* clang-format on */

#define NOTHER (N(receiver_fields) - 2)
_Static_assert(N(receiver_fields) - 2 <= N(((struct y_receiver *)0)->other), "y_receiver.other");

/* ---- checks ---- */

static void check_readable(struct dw_schema_ctx *ctx, char *const *path)
{
    if (*path && access(*path, R_OK) != 0)
        dw_schema_error_at(ctx, path, "warning: cannot read %s now (it is read at each request)",
                           *path);
}

static bool auth_given(struct dw_schema_ctx *ctx, const struct y_auth *a)
{
    return a->credentials || a->credentials_file || dw_schema_seen(ctx, a);
}

static void check_auth(struct dw_schema_ctx *ctx, struct y_auth *a)
{
    if (a->credentials && a->credentials_file)
        dw_schema_error_at(ctx, &a->credentials_file,
                           "at most one of credentials and credentials_file");
    if (a->type && strcasecmp(a->type, "basic") == 0)
        dw_schema_error_at(ctx, &a->type,
                           "authorization type cannot be \"basic\"; use basic_auth instead");
    check_readable(ctx, &a->credentials_file);
}

static void check_http(struct dw_schema_ctx *ctx, void *obj)
{
    struct y_http *h = obj;
    bool basic = h->basic_auth.username != NULL || dw_schema_seen(ctx, &h->basic_auth);
    bool bearer = h->bearer_token || h->bearer_token_file;
    int schemes = (int)auth_given(ctx, &h->authorization) + (int)basic + (int)bearer;
    if (schemes > 1)
        dw_schema_error(
            ctx, "at most one of authorization, basic_auth and bearer_token(_file) may be set");
    if (h->bearer_token && h->bearer_token_file)
        dw_schema_error_at(ctx, &h->bearer_token_file,
                           "at most one of bearer_token and bearer_token_file");
    if (h->basic_auth.password && h->basic_auth.password_file)
        dw_schema_error_at(ctx, &h->basic_auth.password_file,
                           "at most one of password and password_file");
    if (!h->tls.cert_file != !h->tls.key_file)
        dw_schema_error_at(ctx, h->tls.cert_file ? &h->tls.cert_file : &h->tls.key_file,
                           "cert_file and key_file go together");
    check_auth(ctx, &h->authorization);
    check_readable(ctx, &h->basic_auth.password_file);
    check_readable(ctx, &h->bearer_token_file);
    check_readable(ctx, &h->tls.ca_file);
    check_readable(ctx, &h->tls.cert_file);
    check_readable(ctx, &h->tls.key_file);
}

static void check_receiver(struct dw_schema_ctx *ctx, void *obj)
{
    struct y_receiver *r = obj;
    for (size_t i = 0; i < NOTHER; i++)
        if (r->other[i])
            dw_schema_error_at(ctx, &r->other[i],
                               "warning: %s are not delivered yet (only webhook_configs are); "
                               "receiver %s gets nothing through them",
                               receiver_fields[2 + i].name, r->name ? r->name : "?");
}

/* ---- entry points ---- */

size_t dw_notify_check_config(const struct dw_config *cfg, struct dw_diags *diags)
{
    struct y_section s = {0};
    size_t errors = dw_config_decode_section(cfg, "alerting", &section_schema, &s, NULL, diags);
    dw_schema_free(&section_schema, &s);
    return errors;
}

struct y_receiver *receiver_decode(const char *name, const char *yaml, struct dw_diags *diags)
{
    struct y_receiver *r = dw_calloc(1, sizeof *r);
    char *file = dw_asprintf("alerting.receivers[%s]", name);
    size_t errors =
        dw_schema_decode_string(file, yaml, strlen(yaml), &receiver_schema, r, NULL, diags);
    free(file);
    if (errors) {
        receiver_free(&r);
        return NULL;
    }
    return r;
}

void receiver_free(struct y_receiver **pr)
{
    struct y_receiver *r = pr ? *pr : NULL;
    if (!r)
        return;
    dw_schema_free(&receiver_schema, r);
    free(r);
    *pr = NULL;
}
