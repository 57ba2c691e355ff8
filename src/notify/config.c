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
 *         slack_configs:                # Alertmanager's slack_config
 *           - api_url: ${SLACK_HOOK}    # or api_url_file; the incoming webhook (a secret)
 *             # or the Web API (Alertmanager >= 0.28's keys): app_token: ${SLACK_BOT_TOKEN}
 *             # (or app_token_file), app_url: https://slack.com/api/chat.postMessage
 *             channel: '#alerts'        # required with app_token; username, icon_emoji, ...
 *             title: ..., text: ..., color: ...   # literal (templates are not expanded)
 *             send_resolved: false      # (Alertmanager's default)
 *             http_config: {...}        # as above; timeout: 10s
 *         email_configs:                # Alertmanager's email_config
 *           - to: 'oncall@x.example'    # required (a list: "a@x, B <b@y>")
 *             from: 'dojowatch@x.example'    # required
 *             smarthost: 'smtp.x.example:587' # required host:port; 465 is smtps
 *             hello: localhost
 *             auth_username: u          # auth_password(_file), auth_identity
 *             require_tls: true         # STARTTLS required (ignored on 465: TLS from the start)
 *             tls_config: {ca_file: ..., insecure_skip_verify: false}
 *             headers: {Subject: '...', X-Team: sre}
 *             send_resolved: false
 *         pagerduty_configs:            # Alertmanager's pagerduty_config (Events API v2)
 *           - routing_key: ${PD_KEY}    # or routing_key_file
 *             url: https://events.pagerduty.com/v2/enqueue
 *             client: dojowatch         # client_url (default externalURL), source
 *             severity: critical        # default from the priority; class, component, group
 *             details: {team: sre}      # added to custom_details; links: [{href, text}]
 *             send_resolved: true
 *         sms_configs:                  # dojowatch's: Twilio's REST API (voice_configs alike)
 *           - account_sid: AC...        # required
 *             auth_token: ${TWILIO_TOKEN}   # or auth_token_file
 *             from: '+15550100'         # required, E.164
 *             to: '+15550111'           # required in a receiver, E.164
 *             api_url: https://api.twilio.com   # another provider with Twilio's API
 *             status_callback: https://...
 *             send_resolved: true       # (voice: false)
 *
 *   notify:                             # defaults for what the on-call module sends to a person
 *     slack: {...}                      # slack_config without the need for a channel
 *     email: {...}                      # email_config, `to` optional
 *     sms: {...}                        # sms_config, `to` optional
 *     voice: {...}
 *     pagerduty: {...}
 *
 * Alertmanager's other channel keys (pushover_configs, opsgenie_configs...)
 * are accepted with a warning: they are not delivered. Anything else in a
 * receiver is an error ("did you mean"). Each channel struct has one schema
 * table; a receiver's item and the notify section's provider differ only in
 * their check (a receiver's item needs its destination), so they share the
 * fields. receiver_decode also lists every item of a receiver as a
 * y_target (channel + item) so the notifier iterates them without knowing
 * their kinds. The notify section is open: its other keys (daily_standup,
 * reports...) belong to other modules.
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
static void check_slack(struct dw_schema_ctx *ctx, void *obj);
static void check_slack_item(struct dw_schema_ctx *ctx, void *obj);
static void check_email(struct dw_schema_ctx *ctx, void *obj);
static void check_email_item(struct dw_schema_ctx *ctx, void *obj);
static void check_twilio(struct dw_schema_ctx *ctx, void *obj);
static void check_twilio_item(struct dw_schema_ctx *ctx, void *obj);
static void check_pagerduty(struct dw_schema_ctx *ctx, void *obj);
static void check_providers(struct dw_schema_ctx *ctx, void *obj);

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

static const struct dw_schema_field slack_fields[] = {
    {.name = "api_url", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_URL,
     DW_SCHEMA_AT(struct y_slack, api_url)},
    {.name = "api_url_file", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_slack, api_url_file)},
    {.name = "app_token", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_slack, app_token)},
    {.name = "app_token_file", .type = DW_SCHEMA_STRING,
     DW_SCHEMA_AT(struct y_slack, app_token_file)},
    {.name = "app_url", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_URL,
     .def = "https://slack.com/api/chat.postMessage", DW_SCHEMA_AT(struct y_slack, app_url)},
    {.name = "channel", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_slack, channel)},
    {.name = "username", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_slack, username)},
    {.name = "icon_emoji", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_slack, icon_emoji)},
    {.name = "icon_url", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_URL,
     DW_SCHEMA_AT(struct y_slack, icon_url)},
    {.name = "title", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_slack, title)},
    {.name = "text", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_slack, text)},
    {.name = "color", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_slack, color)},
    {.name = "send_resolved", .type = DW_SCHEMA_BOOL, .def = "false",
     DW_SCHEMA_AT(struct y_slack, send_resolved)},
    {.name = "link_names", .type = DW_SCHEMA_BOOL, .def = "false",
     DW_SCHEMA_AT(struct y_slack, link_names)},
    {.name = "timeout", .type = DW_SCHEMA_DURATION, .def = "10s", .min = 1, .max = 600000,
     DW_SCHEMA_AT(struct y_slack, timeout_ms)},
    {.name = "http_config", .type = DW_SCHEMA_OBJECT, .sub = &http_schema,
     DW_SCHEMA_AT(struct y_slack, http)},
};
static const struct dw_schema slack_schema = {slack_fields, N(slack_fields), false, check_slack};
static const struct dw_schema slack_item_schema = {slack_fields, N(slack_fields), false,
                                                   check_slack_item};

static const struct dw_schema_field email_fields[] = {
    {.name = "to", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_email, to)},
    {.name = "from", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct y_email, from)},
    {.name = "smarthost", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct y_email, smarthost)},
    {.name = "hello", .type = DW_SCHEMA_STRING, .def = "localhost",
     DW_SCHEMA_AT(struct y_email, hello)},
    {.name = "auth_username", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_email, auth_username)},
    {.name = "auth_password", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_email, auth_password)},
    {.name = "auth_password_file", .type = DW_SCHEMA_STRING,
     DW_SCHEMA_AT(struct y_email, auth_password_file)},
    {.name = "auth_identity", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_email, auth_identity)},
    {.name = "auth_secret", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_email, auth_secret)},
    {.name = "html", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_email, html)},
    {.name = "text", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_email, text)},
    {.name = "require_tls", .type = DW_SCHEMA_BOOL, .def = "true",
     DW_SCHEMA_AT(struct y_email, require_tls)},
    {.name = "send_resolved", .type = DW_SCHEMA_BOOL, .def = "false",
     DW_SCHEMA_AT(struct y_email, send_resolved)},
    {.name = "headers", .type = DW_SCHEMA_MAP, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct y_email, headers, nheaders)},
    {.name = "tls_config", .type = DW_SCHEMA_OBJECT, .sub = &tls_schema,
     DW_SCHEMA_AT(struct y_email, tls)},
    {.name = "timeout", .type = DW_SCHEMA_DURATION, .def = "10s", .min = 1, .max = 600000,
     DW_SCHEMA_AT(struct y_email, timeout_ms)},
};
static const struct dw_schema email_schema = {email_fields, N(email_fields), false,
                                              check_email_item};
static const struct dw_schema email_provider_schema = {email_fields, N(email_fields), false,
                                                       check_email};

/* sms and voice differ in send_resolved's default only. */
#define TWILIO_FIELDS(send_resolved_default)                                                       \
    {.name = "api_url", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_URL,                          \
     .def = "https://api.twilio.com", DW_SCHEMA_AT(struct y_twilio, api_url)},                     \
    {.name = "account_sid", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,                 \
     DW_SCHEMA_AT(struct y_twilio, account_sid)},                                                  \
    {.name = "auth_token", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_twilio, auth_token)},   \
    {.name = "auth_token_file", .type = DW_SCHEMA_STRING,                                          \
     DW_SCHEMA_AT(struct y_twilio, auth_token_file)},                                              \
    {.name = "from", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,                        \
     DW_SCHEMA_AT(struct y_twilio, from)},                                                         \
    {.name = "to", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_twilio, to)},                   \
    {.name = "status_callback", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_URL,                  \
     DW_SCHEMA_AT(struct y_twilio, status_callback)},                                              \
    {.name = "send_resolved", .type = DW_SCHEMA_BOOL, .def = send_resolved_default,                \
     DW_SCHEMA_AT(struct y_twilio, send_resolved)},                                                \
    {.name = "timeout", .type = DW_SCHEMA_DURATION, .def = "10s", .min = 1, .max = 600000,         \
     DW_SCHEMA_AT(struct y_twilio, timeout_ms)}

static const struct dw_schema_field sms_fields[] = {TWILIO_FIELDS("true")};
static const struct dw_schema_field voice_fields[] = {TWILIO_FIELDS("false")};
static const struct dw_schema sms_schema = {sms_fields, N(sms_fields), false, check_twilio_item};
static const struct dw_schema voice_schema = {voice_fields, N(voice_fields), false,
                                              check_twilio_item};
static const struct dw_schema sms_provider_schema = {sms_fields, N(sms_fields), false,
                                                     check_twilio};
static const struct dw_schema voice_provider_schema = {voice_fields, N(voice_fields), false,
                                                       check_twilio};

static const struct dw_schema_field link_fields[] = {
    {.name = "href", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED | DW_SCHEMA_URL,
     DW_SCHEMA_AT(struct y_link, href)},
    {.name = "text", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_link, text)},
};
static const struct dw_schema link_schema = {link_fields, N(link_fields), false, NULL};

static const char *const pd_severities[] = {"critical", "error", "warning", "info", NULL};

static const struct dw_schema_field pagerduty_fields[] = {
    {.name = "routing_key", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_pagerduty, routing_key)},
    {.name = "routing_key_file", .type = DW_SCHEMA_STRING,
     DW_SCHEMA_AT(struct y_pagerduty, routing_key_file)},
    {.name = "url", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_URL,
     .def = "https://events.pagerduty.com/v2/enqueue", DW_SCHEMA_AT(struct y_pagerduty, url)},
    {.name = "client", .type = DW_SCHEMA_STRING, .def = "dojowatch",
     DW_SCHEMA_AT(struct y_pagerduty, client)},
    {.name = "client_url", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_URL,
     DW_SCHEMA_AT(struct y_pagerduty, client_url)},
    {.name = "description", .type = DW_SCHEMA_STRING,
     DW_SCHEMA_AT(struct y_pagerduty, description)},
    {.name = "source", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_pagerduty, source)},
    {.name = "severity", .type = DW_SCHEMA_STRING, .values = pd_severities,
     DW_SCHEMA_AT(struct y_pagerduty, severity)},
    {.name = "class", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_pagerduty, class_)},
    {.name = "component", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_pagerduty, component)},
    {.name = "group", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct y_pagerduty, group)},
    {.name = "details", .type = DW_SCHEMA_MAP, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct y_pagerduty, details, ndetails)},
    {.name = "links", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT, .sub = &link_schema,
     DW_SCHEMA_LIST_AT(struct y_pagerduty, links, nlinks)},
    {.name = "send_resolved", .type = DW_SCHEMA_BOOL, .def = "true",
     DW_SCHEMA_AT(struct y_pagerduty, send_resolved)},
    {.name = "timeout", .type = DW_SCHEMA_DURATION, .def = "10s", .min = 1, .max = 600000,
     DW_SCHEMA_AT(struct y_pagerduty, timeout_ms)},
    {.name = "http_config", .type = DW_SCHEMA_OBJECT, .sub = &http_schema,
     DW_SCHEMA_AT(struct y_pagerduty, http)},
};
static const struct dw_schema pagerduty_schema = {pagerduty_fields, N(pagerduty_fields), false,
                                                  check_pagerduty};

/* Alertmanager 0.25's channels dojowatch does not deliver: accepted, warned about
 * (y_receiver.other[i] holds the YAML of the key in row FIRST_OTHER + i). */
#define OTHER(key, i)                                                                              \
    {.name = key, .type = DW_SCHEMA_YAML,                                                          \
     .offset = offsetof(struct y_receiver, other) + (i) * sizeof(char *), .size = sizeof(char *)}
#define CHANNEL_LIST(key, schema, member, count)                                                   \
    {.name = key, .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT, .sub = &schema,                \
     DW_SCHEMA_LIST_AT(struct y_receiver, member, count)}
#define FIRST_OTHER 7

static const struct dw_schema_field receiver_fields[] = {
    {.name = "name", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct y_receiver, name)},
    CHANNEL_LIST("webhook_configs", webhook_schema, webhooks, nwebhooks),
    CHANNEL_LIST("slack_configs", slack_item_schema, slacks, nslacks),
    CHANNEL_LIST("email_configs", email_schema, emails, nemails),
    CHANNEL_LIST("pagerduty_configs", pagerduty_schema, pagerduties, npagerduties),
    CHANNEL_LIST("sms_configs", sms_schema, sms, nsms),
    CHANNEL_LIST("voice_configs", voice_schema, voices, nvoices),
    OTHER("pushover_configs", 0), OTHER("opsgenie_configs", 1), OTHER("victorops_configs", 2),
    OTHER("wechat_configs", 3), OTHER("telegram_configs", 4), OTHER("sns_configs", 5),
    OTHER("webex_configs", 6), OTHER("discord_configs", 7),
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

/* The notify section as decoded: the providers embedded, then moved to the heap. */
struct y_notify_section {
    bool seen[5];             /* first, so no provider shares the section's address */
    struct y_slack slack;
    struct y_email email;
    struct y_twilio sms;
    struct y_twilio voice;
    struct y_pagerduty pagerduty;
};

static const struct dw_schema_field notify_fields[] = {
    {.name = "slack", .type = DW_SCHEMA_OBJECT, .sub = &slack_schema,
     DW_SCHEMA_AT(struct y_notify_section, slack)},
    {.name = "email", .type = DW_SCHEMA_OBJECT, .sub = &email_provider_schema,
     DW_SCHEMA_AT(struct y_notify_section, email)},
    {.name = "sms", .type = DW_SCHEMA_OBJECT, .sub = &sms_provider_schema,
     DW_SCHEMA_AT(struct y_notify_section, sms)},
    {.name = "voice", .type = DW_SCHEMA_OBJECT, .sub = &voice_provider_schema,
     DW_SCHEMA_AT(struct y_notify_section, voice)},
    {.name = "pagerduty", .type = DW_SCHEMA_OBJECT, .sub = &pagerduty_schema,
     DW_SCHEMA_AT(struct y_notify_section, pagerduty)},
};
/* Open: daily_standup, stakeholder_updates_*, reports... are other modules'. */
static const struct dw_schema notify_schema = {notify_fields, N(notify_fields), true,
                                               check_providers};
/* clang-format on */

#define NOTHER (N(receiver_fields) - FIRST_OTHER)
_Static_assert(N(receiver_fields) - FIRST_OTHER <= N(((struct y_receiver *)0)->other),
               "y_receiver.other");

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
                               "warning: %s are not delivered by dojowatch; "
                               "receiver %s gets nothing through them",
                               receiver_fields[FIRST_OTHER + i].name, r->name ? r->name : "?");
}

/* A secret given inline or by file: exactly one. */
static void check_secret(struct dw_schema_ctx *ctx, char *const *value, char *const *file,
                         const char *name)
{
    if (!*value && !*file)
        dw_schema_error(ctx, "one of %s and %s_file is required", name, name);
    else if (*value && *file)
        dw_schema_error_at(ctx, file, "at most one of %s and %s_file", name, name);
    check_readable(ctx, file);
}

/* Alertmanager's Go templates are not expanded: such a value is dropped with a warning. */
static void drop_template(struct dw_schema_ctx *ctx, char **value, const char *what)
{
    if (!*value || !strstr(*value, "{{"))
        return;
    dw_schema_error_at(ctx, value, "warning: templates are not expanded; the built-in %s is used",
                       what);
    free(*value);
    *value = NULL;
}

/* An incoming webhook (api_url) or the Web API (app_token), as Alertmanager >= 0.28. */
static void check_slack(struct dw_schema_ctx *ctx, void *obj)
{
    struct y_slack *s = obj;
    bool hook = s->api_url || s->api_url_file, app = s->app_token || s->app_token_file;
    if (hook && app)
        dw_schema_error_at(ctx, s->app_token ? &s->app_token : &s->app_token_file,
                           "at most one of api_url/api_url_file (an incoming webhook) and "
                           "app_token/app_token_file (the Web API)");
    else if (!hook && !app)
        dw_schema_error(ctx, "one of api_url and api_url_file is required (or app_token / "
                             "app_token_file for the Web API)");
    else if (hook)
        check_secret(ctx, &s->api_url, &s->api_url_file, "api_url");
    else
        check_secret(ctx, &s->app_token, &s->app_token_file, "app_token");
    if (app && (auth_given(ctx, &s->http.authorization) || s->http.bearer_token ||
                s->http.bearer_token_file || s->http.basic_auth.username))
        dw_schema_error(ctx, "app_token is the request's authorization: http_config cannot set "
                             "another");
    drop_template(ctx, &s->title, "title");
    drop_template(ctx, &s->text, "text");
    drop_template(ctx, &s->color, "colour");
}

/* A receiver's item: the Web API has no channel of its own, so one is required. */
static void check_slack_item(struct dw_schema_ctx *ctx, void *obj)
{
    struct y_slack *s = obj;
    check_slack(ctx, obj);
    if ((s->app_token || s->app_token_file) && !s->channel)
        dw_schema_error(ctx, "channel: missing required key (the Web API posts to a channel)");
}

/* "host:port" (host may be a [v6] literal), port 1..65535. */
static bool hostport_ok(const char *s)
{
    const char *colon = strrchr(s, ':');
    int64_t port;
    if (!colon || colon == s || dw_parse_int64(colon + 1, &port) != 0)
        return false;
    if (s[0] == '[' && colon[-1] != ']')
        return false;
    return port >= 1 && port <= 65535 && !strpbrk(s, " /\t");
}

static void check_addresses(struct dw_schema_ctx *ctx, char *const *list, bool one)
{
    if (!*list)
        return;
    if (!strchr(*list, '@') || strpbrk(*list, "\r\n"))
        dw_schema_error_at(ctx, list, "not an e-mail address: \"%s\"", *list);
    else if (one && strchr(*list, ','))
        dw_schema_error_at(ctx, list, "one address only");
}

static const char *const reserved_headers[] = {
    "To",         "Date",         "Message-ID",   "In-Reply-To",
    "References", "MIME-Version", "Content-Type", "Content-Transfer-Encoding"};

/* Reported at the headers mapping: the walker keeps no position for a map's entries. */
static void check_header(struct dw_schema_ctx *ctx, struct y_email *e, struct dw_schema_pair *h)
{
    if (!*h->key || h->key[strcspn(h->key, ": \t\r\n")] != '\0')
        dw_schema_error_at(ctx, &e->headers, "not a header name: \"%s\"", h->key);
    if (h->value && strpbrk(h->value, "\r\n"))
        dw_schema_error_at(ctx, &e->headers, "%s: a header value cannot hold a line break", h->key);
    for (size_t i = 0; i < N(reserved_headers); i++)
        if (strcasecmp(h->key, reserved_headers[i]) == 0)
            dw_schema_error_at(ctx, &e->headers, "%s is set by dojowatch", reserved_headers[i]);
}

static void check_email(struct dw_schema_ctx *ctx, void *obj)
{
    struct y_email *e = obj;
    if (e->smarthost && !hostport_ok(e->smarthost))
        dw_schema_error_at(ctx, &e->smarthost, "smarthost must be \"host:port\", not \"%s\"",
                           e->smarthost);
    check_addresses(ctx, &e->from, true);
    check_addresses(ctx, &e->to, false);
    if (e->auth_password && e->auth_password_file)
        dw_schema_error_at(ctx, &e->auth_password_file,
                           "at most one of auth_password and auth_password_file");
    if ((e->auth_password || e->auth_password_file) && !e->auth_username)
        dw_schema_error_at(ctx, e->auth_password ? &e->auth_password : &e->auth_password_file,
                           "auth_password needs auth_username");
    check_readable(ctx, &e->auth_password_file);
    for (size_t i = 0; i < e->nheaders; i++)
        check_header(ctx, e, &e->headers[i]);
    for (size_t i = 0; i < e->nheaders; i++)
        if (strcasecmp(e->headers[i].key, "Subject") == 0)
            drop_template(ctx, &e->headers[i].value, "subject");
    drop_template(ctx, &e->html, "HTML part");
    drop_template(ctx, &e->text, "text part");
    if (!e->tls.cert_file != !e->tls.key_file)
        dw_schema_error_at(ctx, e->tls.cert_file ? &e->tls.cert_file : &e->tls.key_file,
                           "cert_file and key_file go together");
    check_readable(ctx, &e->tls.ca_file);
}

static void check_email_item(struct dw_schema_ctx *ctx, void *obj)
{
    struct y_email *e = obj;
    if (!e->to)
        dw_schema_error(ctx, "to: missing required key (the recipients)");
    check_email(ctx, obj);
}

/* E.164: "+" then 8 to 15 digits. */
static bool e164_ok(const char *s)
{
    size_t n = strspn(s + 1, "0123456789");
    return s[0] == '+' && s[1 + n] == '\0' && n >= 8 && n <= 15;
}

static void check_phone(struct dw_schema_ctx *ctx, char *const *number)
{
    if (*number && !e164_ok(*number))
        dw_schema_error_at(ctx, number, "not an E.164 phone number (+ then 8 to 15 digits): \"%s\"",
                           *number);
}

static void check_twilio(struct dw_schema_ctx *ctx, void *obj)
{
    struct y_twilio *t = obj;
    check_secret(ctx, &t->auth_token, &t->auth_token_file, "auth_token");
    check_phone(ctx, &t->from);
    check_phone(ctx, &t->to);
}

static void check_twilio_item(struct dw_schema_ctx *ctx, void *obj)
{
    struct y_twilio *t = obj;
    if (!t->to)
        dw_schema_error(ctx, "to: missing required key (the phone number)");
    check_twilio(ctx, obj);
}

static void check_pagerduty(struct dw_schema_ctx *ctx, void *obj)
{
    struct y_pagerduty *p = obj;
    check_secret(ctx, &p->routing_key, &p->routing_key_file, "routing_key");
    drop_template(ctx, &p->description, "description");
}

static void check_providers(struct dw_schema_ctx *ctx, void *obj)
{
    struct y_notify_section *s = obj;
    s->seen[0] = dw_schema_seen(ctx, &s->slack);
    s->seen[1] = dw_schema_seen(ctx, &s->email);
    s->seen[2] = dw_schema_seen(ctx, &s->sms);
    s->seen[3] = dw_schema_seen(ctx, &s->voice);
    s->seen[4] = dw_schema_seen(ctx, &s->pagerduty);
}

/* ---- entry points ---- */

size_t dw_notify_check_config(const struct dw_config *cfg, struct dw_diags *diags)
{
    struct y_section s = {0};
    size_t errors = dw_config_decode_section(cfg, "alerting", &section_schema, &s, NULL, diags);
    dw_schema_free(&section_schema, &s);
    struct y_notify_section ns = {0};
    errors += dw_config_decode_section(cfg, "notify", &notify_schema, &ns, NULL, diags);
    dw_schema_free(&notify_schema, &ns);
    return errors;
}

static void add_targets(struct y_receiver *r, const struct channel *ch, const void *items,
                        size_t size, size_t n)
{
    for (size_t i = 0; i < n; i++)
        r->targets[r->ntargets++] = (struct y_target){ch, (const char *)items + i * size};
}

static void build_targets(struct y_receiver *r)
{
    size_t n = r->nwebhooks + r->nslacks + r->nemails + r->npagerduties + r->nsms + r->nvoices;
    r->targets = dw_calloc(n ? n : 1, sizeof *r->targets);
    add_targets(r, &webhook_channel, r->webhooks, sizeof *r->webhooks, r->nwebhooks);
    add_targets(r, &slack_channel, r->slacks, sizeof *r->slacks, r->nslacks);
    add_targets(r, &email_channel, r->emails, sizeof *r->emails, r->nemails);
    add_targets(r, &pagerduty_channel, r->pagerduties, sizeof *r->pagerduties, r->npagerduties);
    add_targets(r, &sms_channel, r->sms, sizeof *r->sms, r->nsms);
    add_targets(r, &voice_channel, r->voices, sizeof *r->voices, r->nvoices);
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
    build_targets(r);
    return r;
}

void receiver_free(struct y_receiver **pr)
{
    struct y_receiver *r = pr ? *pr : NULL;
    if (!r)
        return;
    free(r->targets);
    dw_schema_free(&receiver_schema, r);
    free(r);
    *pr = NULL;
}

/* A decoded provider moved to the heap (the section's copy is zeroed), or NULL when absent. */
static void *take(bool seen, void *embedded, size_t size)
{
    if (!seen)
        return NULL;
    void *p = dw_malloc(size);
    memcpy(p, embedded, size);
    memset(embedded, 0, size);
    return p;
}

struct y_providers *providers_decode(const struct dw_config *cfg, struct dw_diags *diags)
{
    struct y_notify_section s = {0};
    size_t errors = dw_config_decode_section(cfg, "notify", &notify_schema, &s, NULL, diags);
    if (errors) {
        dw_schema_free(&notify_schema, &s);
        return NULL;
    }
    struct y_providers *p = dw_calloc(1, sizeof *p);
    p->slack = take(s.seen[0], &s.slack, sizeof s.slack);
    p->email = take(s.seen[1], &s.email, sizeof s.email);
    p->sms = take(s.seen[2], &s.sms, sizeof s.sms);
    p->voice = take(s.seen[3], &s.voice, sizeof s.voice);
    p->pagerduty = take(s.seen[4], &s.pagerduty, sizeof s.pagerduty);
    dw_schema_free(&notify_schema, &s); /* what stayed: the defaults of absent providers */
    return p;
}

static void provider_free(const struct dw_schema *schema, void *conf)
{
    if (!conf)
        return;
    dw_schema_free(schema, conf);
    free(conf);
}

void providers_free(struct y_providers **pp)
{
    struct y_providers *p = pp ? *pp : NULL;
    if (!p)
        return;
    provider_free(&slack_schema, p->slack);
    provider_free(&email_provider_schema, p->email);
    provider_free(&sms_provider_schema, p->sms);
    provider_free(&voice_provider_schema, p->voice);
    provider_free(&pagerduty_schema, p->pagerduty);
    free(p);
    *pp = NULL;
}
