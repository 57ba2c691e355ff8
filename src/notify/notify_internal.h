/*
 * notify_internal.h - what the files of src/notify share; no other module
 * includes it.
 *
 * config.c decodes a receiver's channel keys (and the notify section's
 * providers) into the y_* structs below (they are also the runtime
 * configuration: the delivery thread reads them as decoded). Each channel
 * (webhook.c, slack.c, email.c, twilio.c for sms and voice, pagerduty.c) is
 * a struct channel: it renders a body from a message's payload, builds the
 * request and classifies the answer; webhook.c also holds what they share
 * (the HTTP POST and its answer table, reading the message JSON).
 * notifier.c owns the queue cursor, the deliveries, retries and threads.
 */
#ifndef DW_NOTIFY_INTERNAL_H
#define DW_NOTIFY_INTERNAL_H

#include <curl/curl.h>
#include <jansson.h>

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

struct y_slack {   /* one item of slack_configs (Alertmanager 0.25), or notify.slack */
    char *api_url; /* secret: the incoming webhook's URL; or api_url_file, read at each request */
    char *api_url_file;
    /* Web API mode (Alertmanager >= 0.28's keys): a bot token (secret; or app_token_file, read
       at each request) selects chat.postMessage at app_url instead of the incoming webhook. */
    char *app_token;
    char *app_token_file;
    char *app_url; /* default https://slack.com/api/chat.postMessage */
    char *channel; /* NULL: the webhook's own channel */
    char *username;
    char *icon_emoji;
    char *icon_url;
    char *title; /* literal header text (templates are not expanded); NULL: the group title */
    char *text;  /* literal summary text; NULL: the built-in summary */
    char *color; /* literal colour for every message; NULL: by priority and status */
    bool send_resolved;
    bool link_names;
    int64_t timeout_ms;
    struct y_http http;
};

struct y_email { /* one item of email_configs (Alertmanager 0.25), or notify.email */
    char *to;    /* "a@x, B <b@y>"; required in a receiver, optional in notify.email */
    char *from;
    char *smarthost; /* "host:port"; port 465: smtps, else smtp (+ STARTTLS when require_tls) */
    char *hello;
    char *auth_username;
    char *auth_password; /* secret; or auth_password_file, read at each request */
    char *auth_password_file;
    char *auth_identity; /* SASL authorization identity */
    char *auth_secret;   /* CRAM-MD5 secret: accepted, not used (libcurl negotiates) */
    char *html;          /* Alertmanager templates: accepted with a warning, not used */
    char *text;
    bool require_tls;
    bool send_resolved;
    struct dw_schema_pair *headers; /* extra header lines; "Subject" / "From" replace ours */
    size_t nheaders;
    struct y_tls tls;
    int64_t timeout_ms;
};

struct y_twilio {  /* one item of sms_configs / voice_configs (dojowatch's), or notify.sms/voice */
    char *api_url; /* default https://api.twilio.com; another provider with the same API */
    char *account_sid;
    char *auth_token; /* secret; or auth_token_file, read at each request */
    char *auth_token_file;
    char *from; /* E.164 */
    char *to;   /* E.164; required in a receiver, optional in notify.sms/voice */
    char *status_callback;
    bool send_resolved; /* default true for sms, false for voice */
    int64_t timeout_ms;
};

struct y_link { /* pagerduty_configs[].links */
    char *href;
    char *text;
};

struct y_pagerduty {   /* one item of pagerduty_configs (Alertmanager 0.25), or notify.pagerduty */
    char *routing_key; /* secret; or routing_key_file, read at each request */
    char *routing_key_file;
    char *url;
    char *client;
    char *client_url;  /* NULL: the payload's externalURL */
    char *description; /* literal summary; NULL: the group title and summary */
    char *source;      /* NULL: client */
    char *severity;    /* NULL: by priority (P0 critical, P1 error, P2 warning) */
    char *class_;
    char *component;
    char *group;
    struct dw_schema_pair *details; /* added to custom_details */
    size_t ndetails;
    struct y_link *links;
    size_t nlinks;
    bool send_resolved;
    int64_t timeout_ms;
    struct y_http http;
};

struct channel;

/** One channel item of a receiver, whatever its kind (conf points into the receiver). */
struct y_target {
    const struct channel *ch;
    const void *conf;
};

struct y_receiver { /* one item of alerting.receivers, channel keys only */
    char *name;
    struct y_webhook *webhooks;
    size_t nwebhooks;
    struct y_slack *slacks;
    size_t nslacks;
    struct y_email *emails;
    size_t nemails;
    struct y_pagerduty *pagerduties;
    size_t npagerduties;
    struct y_twilio *sms;
    size_t nsms;
    struct y_twilio *voices;
    size_t nvoices;
    /* Every item above in the order webhook, slack, email, pagerduty, sms, voice (built by
       receiver_decode; NULL in what dw_notify_check_config decodes). */
    struct y_target *targets;
    size_t ntargets;
    char *other[16]; /* Alertmanager channels not delivered yet (kept as YAML, warned) */
};

/** The notify section's defaults for messages the on-call module sends to a person. */
struct y_providers {
    struct y_slack *slack; /* NULL when absent */
    struct y_email *email;
    struct y_twilio *sms, *voice;
    struct y_pagerduty *pagerduty;
};

/**
 * Decodes one receiver from its one-line YAML (dw_alerter_receiver_config).
 * NULL with diags filled when invalid; positions are relative to that line.
 */
struct y_receiver *receiver_decode(const char *name, const char *yaml, struct dw_diags *diags);
void receiver_free(struct y_receiver **r);

/**
 * Decodes the providers of cfg's `notify` section (dw_config_decode_section,
 * so positions are the file's). NULL with diags filled when invalid; a
 * section without providers gives a struct of NULLs.
 */
struct y_providers *providers_decode(const struct dw_config *cfg, struct dw_diags *diags);
void providers_free(struct y_providers **p);

/* ---- channels (webhook.c) ---- */

/** One HTTP request in flight; lives in its delivery. */
struct attempt {
    CURL *easy;
    struct curl_slist *headers;
    struct dw_buf answer; /* the first bytes of the response body, for the log */
    char errbuf[CURL_ERROR_SIZE];
    int64_t started_ns;
    char *upload;            /* a body the request composed (heap), NULL when borrowed */
    size_t upload_len;       /* its length */
    size_t upload_pos;       /* SMTP: how much the read callback handed to libcurl */
    struct curl_slist *rcpt; /* SMTP: the envelope recipients */
    size_t answer_keep;      /* bytes of the answer kept; 0: 512 (a Slack Web API answer: more) */
    /* The root of the message's thread at its destination, when one was delivered before (set
       by the notifier before request; borrowed; NULL: the message starts the thread). */
    const char *thread_channel;
    const char *thread_ts;
    char *new_root; /* e-mail: the Message-ID this message takes as its thread's root (heap) */
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
    /* Delivered as a thread's first message: where it is (Slack: the channel id and the
       message ts it answered; e-mail: "" and the Message-ID); empty otherwise. */
    char root_channel[64];
    char root_ts[320];
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
 *            "resolve_url", "voice_url", "status_url", "bundled"}
 * (ack_url / resolve_url: signed, expiring links; voice_url: where Twilio
 * posts the keypad digits of a call; status_url: where it posts the call's
 * final status; bundled: how many pages this message
 * stands for, when more than one). Channels render what they can from it.
 *
 * The second form is a plain message (the incident module's updates), any
 * payload without an "alerts" array:
 *   {"message": {"title": "short line",              (title or text required)
 *                "text": "plain text, may have several lines",
 *                "url": "optional link", "link_text": "its label (default Open)",
 *                "thread": "optional thread key, e.g. INC-20261127093000",
 *                "color": "P0" | "P1" | "P2" | "resolved" | "#rrggbb" (optional),
 *                "fields": [{"title": "Severity", "value": "SEV1"}, ...],  (at most 10)
 *                "unsubscribe": "one-click unsubscribe URL (e-mail: RFC 8058 headers)",
 *                "webhook_body": {a webhook posts this object instead of the envelope}}}
 * Every member is a string but fields; msg_load checks the types and the limits
 * (title at most 1000 bytes, thread at most 256, text and url at most 64 KiB).
 * slack, email, sms and webhook render it; voice and pagerduty skip it.
 * Messages with the same "thread" go to one thread at each destination (a
 * Slack thread in Web API mode, a mail thread), the first delivered being its
 * root; an alert group's firing episode is a thread too (msg_thread_key).
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
    /**
     * Where a thread lives for this configuration and destination (a Slack channel in Web API
     * mode, an e-mail recipient list), heap; NULL when messages cannot thread here. The
     * notifier keeps each thread's root per (thread key, this) and hands it to request in
     * at->thread_channel / at->thread_ts. NULL member: the channel does not thread.
     */
    char *(*thread_dest)(const void *conf, const char *to);
};

/** False when c is in Web API mode and neither to nor its channel names where to post. */
bool slack_has_channel(const struct y_slack *c, const char *to);

extern const struct channel webhook_channel;   /* webhook.c */
extern const struct channel slack_channel;     /* slack.c */
extern const struct channel email_channel;     /* email.c */
extern const struct channel sms_channel;       /* twilio.c */
extern const struct channel voice_channel;     /* twilio.c */
extern const struct channel pagerduty_channel; /* pagerduty.c */

/** The channel of a kind ("webhook", "slack", "email", "sms", "voice", "pagerduty"); NULL when
 * unknown. */
const struct channel *channel_by_kind(const char *kind);

/** Frees what an attempt holds (not the struct). */
void attempt_release(struct attempt *at);
/** Parses a Retry-After value (delay-seconds or an HTTP date); -1 when unusable. */
int64_t retry_after_parse(const char *value, int64_t now_s);

/* ---- what the channels share (webhook.c) ---- */

#define BODY_MAX 65536 /* bound of a rendered body (HTTP channels) */

/**
 * The parts of a POST every HTTP channel shares: URL, body (borrowed; use
 * at->upload for a composed one), Content-Type, User-Agent, empty Expect,
 * time-out, the answer's first bytes kept in at->answer, http and https only.
 * h (may be NULL) adds its authorization, proxy, TLS and redirects.
 */
int http_post(struct attempt *at, const char *url, const char *content_type, const char *body,
              size_t len, int64_t timeout_ms, const struct y_http *h, char **err);
/** The CA, client certificate and insecure_skip_verify of t on an easy handle. */
void tls_apply(const struct y_tls *t, CURL *e);
/**
 * The rendered JSON object body with member key set to value, into
 * at->upload; -1 with *err = not_json when body is not a JSON object.
 */
int upload_with_member(struct attempt *at, const char *body, const char *key, const char *value,
                       const char *not_json, char **err);
/** The webhook's answer table (2xx / 408, 429, 5xx / other); detail "HTTP n: body". */
void http_outcome(CURL *easy, CURLcode rc, const struct attempt *at, struct outcome *out);

/* Reading the message JSON (see struct channel). */

/** The payload as an object with an "alerts" array, or NULL with *skip (a plain message too). */
json_t *msg_parse(const char *payload, const char **skip);
/**
 * Either form: an alert document (msg_parse, then with send_resolved false
 * the resolved alerts removed) or a valid plain message; NULL with *skip when
 * it is neither, or nothing fires. msg_plain tells which.
 */
json_t *msg_load(const char *payload, bool send_resolved, const char **skip);
/** The "message" object of a plain message loaded by msg_load (borrowed); NULL for alerts. */
json_t *msg_plain(json_t *doc);
/** A string member of a plain message, NULL when absent or empty. */
const char *msg_plain_get(json_t *m, const char *key);
/**
 * The thread a payload belongs to (heap), NULL when none: a plain message's
 * "thread", prefixed "message:"; an alert group's firing episode,
 * "episode:" + groupKey + "@" + its earliest startsAt in ms.
 */
char *msg_thread_key(const char *payload);
/** The skip reason of a channel that cannot carry plain messages. */
#define MSG_NOT_FOR_PLAIN(kind) kind " does not carry plain messages (only alert notifications)"

/** Sets o's member key to value when value is neither NULL nor empty. */
void msg_set_opt(json_t *o, const char *key, const char *value);
/** o as compact JSON (heap); out of memory aborts. */
char *msg_dump(json_t *o);
/** What a channel builds from the message: the full body, or a compact one without alert lines. */
typedef json_t *(*msg_build_fn)(const void *conf, json_t *doc, bool compact);
/** The dump of build(conf, doc, false), or of build(conf, doc, true) when that is over BODY_MAX. */
char *msg_dump_bounded(msg_build_fn build, const void *conf, json_t *doc);
/** A string member of an object member ("commonAnnotations", "summary"); NULL when absent or empty.
 */
const char *msg_get(json_t *doc, const char *object, const char *key);
/** Number of alerts whose status is st ("firing", "resolved"). */
size_t msg_count(json_t *doc, const char *st);
bool msg_resolved(json_t *doc); /* status "resolved" */
/**
 * Alertmanager's default title: "[FIRING:2] v1 v2 (c1 c2)" from the sorted
 * group label values and the common labels that are not group labels;
 * "[RESOLVED] ..." when resolved. The group part is the same in every
 * message of a group, so a reader can search for it.
 */
char *msg_title(json_t *doc);
/** commonAnnotations.summary, else the alertname, else "alert". */
const char *msg_summary(json_t *doc);
/** externalURL/#/silences/new?filter={k="v",...} of the group labels; NULL without externalURL. */
char *msg_silence_url(json_t *doc);
/** The first alert's generatorURL; NULL when none. */
const char *msg_dashboard_url(json_t *doc);
/** "alertname k=v ... - summary" of one alert, cut to max code points. */
char *msg_alert_line(json_t *alert, size_t max);
/** The earliest startsAt of the alerts (ms), 0 when none parses. */
int64_t msg_first_start(json_t *doc);

/** s cut to at most max code points (an ellipsis replaces the tail); a heap copy. */
char *text_cut(const char *s, size_t max);

#endif
