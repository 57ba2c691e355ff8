/*
 * notify_internal.h - what the files of src/notify share; no other module
 * includes it.
 *
 * config.c decodes a receiver's channel keys into the y_* structs below
 * (they are also the runtime configuration: the delivery thread reads them
 * as decoded). webhook.c is the webhook channel: it renders a body from an
 * event's payload, builds the HTTP request and classifies the answer.
 * notifier.c owns the queue cursor, the deliveries, retries and threads.
 */
#ifndef DW_NOTIFY_INTERNAL_H
#define DW_NOTIFY_INTERNAL_H

#include <curl/curl.h>

#include "notify/notify.h"

/* ---- configuration (config.c), decoded by the plan module's schema walker ---- */

struct y_auth { /* http_config.authorization */
    char *type; /* default "Bearer" */
    char *credentials;
    char *credentials_file;
};

struct y_basic { /* http_config.basic_auth */
    char *username;
    char *password;
    char *password_file;
};

struct y_tls { /* http_config.tls_config */
    char *ca_file;
    char *cert_file;
    char *key_file;
    bool insecure_skip_verify;
};

struct y_http { /* Prometheus' http_config, the parts a webhook uses */
    struct y_auth authorization;
    struct y_basic basic_auth;
    char *bearer_token; /* deprecated spellings, still accepted by Alertmanager 0.25 */
    char *bearer_token_file;
    char *proxy_url;
    bool follow_redirects;
    struct y_tls tls;
};

struct y_webhook { /* one item of webhook_configs */
    char *url;
    bool send_resolved;
    int64_t max_alerts; /* 0: all */
    int64_t timeout_ms;
    struct y_http http;
};

struct y_receiver { /* one item of alerting.receivers, channel keys only */
    char *name;
    struct y_webhook *webhooks;
    size_t nwebhooks;
    char *other[16]; /* Alertmanager channels not delivered yet (kept as YAML, warned) */
};

/**
 * Decodes one receiver from its one-line YAML (dw_alerter_receiver_config).
 * NULL with diags filled when invalid; positions are relative to that line.
 */
struct y_receiver *receiver_decode(const char *name, const char *yaml, struct dw_diags *diags);
void receiver_free(struct y_receiver **r);

/* ---- channels (webhook.c) ---- */

/** One HTTP request in flight; lives in its delivery. */
struct attempt {
    CURL *easy;
    struct curl_slist *headers;
    struct dw_buf answer; /* the first bytes of the response body, for the log */
    char errbuf[CURL_ERROR_SIZE];
    int64_t started_ns;
};

enum outcome_action { OUT_DELIVERED, OUT_RETRY, OUT_GIVE_UP };

/** What an attempt's answer means. */
struct outcome {
    enum outcome_action action;
    const char *result;     /* metric label: success, client_error, server_error, rate_limited,
                               timeout, connection_error, error */
    long status;            /* HTTP status, 0 when there was none */
    int64_t retry_after_ms; /* from Retry-After, -1 when absent */
    char detail[256];       /* for the log */
};

/**
 * One channel kind behind the interface every channel shares: render a body
 * for a message, build the request, read its answer.
 *
 * The message (payload) is JSON: Alertmanager's webhook v4 document of the
 * group as the alerter queued it, plus "kind" ("fired", "changed", "repeat",
 * "resolved") and "priority" ("P0".."P2" or null). A page from the on-call
 * module adds
 *   "page": {"id", "step", "recipient", "recipient_name", "ack_url",
 *            "resolve_url", "voice_url", "bundled"}
 * (ack_url / resolve_url: signed, expiring links; voice_url: where Twilio
 * posts the keypad digits of a call; bundled: how many pages this message
 * stands for, when more than one). Channels render what they can from it.
 *
 * conf is the channel's decoded configuration item (y_webhook, ...). to is
 * the destination when the message names one (a person's phone number,
 * e-mail address or Slack channel); NULL: the configuration's own.
 */
struct channel {
    const char *kind; /* "webhook", "slack", "email", "sms", "voice", "pagerduty" */
    /** The body to send, or NULL with *skip saying why nothing is sent. */
    char *(*render)(const void *conf, const char *payload, const char **skip);
    /** Configures at->easy for one attempt (body borrowed); 0, or -1 with *err. */
    int (*request)(const void *conf, const char *to, const char *body, struct attempt *at,
                   char **err);
    /** Classifies the finished transfer. */
    void (*outcome)(CURL *easy, CURLcode rc, const struct attempt *at, struct outcome *out);
};

extern const struct channel webhook_channel;

/** Frees what an attempt holds (not the struct). */
void attempt_release(struct attempt *at);
/** Parses a Retry-After value (delay-seconds or an HTTP date); -1 when unusable. */
int64_t retry_after_parse(const char *value, int64_t now_s);

#endif
