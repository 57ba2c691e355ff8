/*
 * status.h - the public status page: components and their state, incidents
 * as the public sees them, scheduled maintenance, uptime history, and the
 * renderings served to everyone (HTML, Statuspage-compatible JSON, RSS and
 * Atom, SVG badges, an in-app banner).
 *
 * A component's state (Statuspage's values) is decided on every tick, in
 * this order: a manual override (dw_status_override) wins until cleared;
 * else under_maintenance while a maintenance covering it is in progress or
 * verifying; else the worst of: its probes (probe_success 0 -> major_outage,
 * or degraded_performance when the only failure reason is latency_budget),
 * its firing alerts (P0 -> major_outage, P1 -> partial_outage, P2 ->
 * degraded_performance) and the states set by public updates of unresolved
 * page incidents. Every change is recorded as an interval in the store;
 * daily bars and uptime come from the intervals (docs/internals/status.md).
 *
 * Incidents come from the incident module. One with no public update and a
 * severity up to `status.auto_publish_severity` gets an automatic first
 * update (the user-facing notice) on the next tick; a resolved one gets a
 * "resolved" update unless one was posted. Each public update is also a
 * "status_page" entry on the incident's timeline.
 *
 * Renderings are rebuilt in memory when something they show changed (and
 * once a minute for the bars) into immutable, reference-counted documents;
 * serving takes a reference (no copy, no store access).
 *
 * Threads: every function is thread-safe. Times come from dw_now_ms (tests
 * use the manual clock).
 */
#ifndef DW_STATUS_H
#define DW_STATUS_H

#include <jansson.h>

#include "alert/alert.h"
#include "core/core.h"
#include "incident/incident.h"
#include "notify/notify.h"
#include "plan/plan.h"
#include "promql/promql.h"
#include "store/store.h"

struct dw_status;

/* Return codes besides 0 and -1 (the store failed; *err says why). */
#define DW_STATUS_EINVAL (-2)    /* bad input (HTTP 400) */
#define DW_STATUS_ENOTFOUND (-3) /* no such component, incident, maintenance or document (404) */
#define DW_STATUS_ELIMIT (-5)    /* a limit on what comes from outside was reached (429) */

#define DW_STATUS_BODY_MAX 16384 /* a public update's or maintenance's body, bytes */
#define DW_STATUS_TITLE_MAX 256
#define DW_STATUS_DAYS 90 /* daily bars */

/** Component states, best to worst (the order decides "worst"). */
enum dw_status_state {
    DW_STATUS_OPERATIONAL,
    DW_STATUS_UNDER_MAINTENANCE,
    DW_STATUS_DEGRADED_PERFORMANCE,
    DW_STATUS_PARTIAL_OUTAGE,
    DW_STATUS_MAJOR_OUTAGE,
    DW_STATUS_STATE_COUNT
};
/** "operational" ... "major_outage" (Statuspage's names). */
const char *dw_status_state_name(enum dw_status_state s);
/** The state of a name, or -1. */
int dw_status_state_parse(const char *name);

struct dw_status_options {
    struct dw_store *store;         /* borrowed */
    struct dw_alerter *alerter;     /* borrowed; NULL: no alert-driven states, no silences */
    struct dw_incidents *incidents; /* borrowed; NULL: no incidents on the page */
    const struct dw_promql_storage *probes; /* copied; NULL: no probe-driven states */
    const struct dw_config *config;
    struct dw_notifier *notifier; /* borrowed; NULL: no subscriber notices are sent */
};

/** Validates the `status` section; returns the number of errors (file:line:col in diags). */
size_t dw_status_check_config(const struct dw_config *cfg, struct dw_diags *diags);
/** Opens on a store (migrations "status"). NULL with *err. */
struct dw_status *dw_status_open(const struct dw_status_options *o, char **err);
/** Stops the thread and frees; sets *st to NULL. NULL is a no-op. */
void dw_status_close(struct dw_status **st);
/** Switches to a new configuration. 0, or -1 with *err (nothing changed). */
int dw_status_apply(struct dw_status *st, const struct dw_config *cfg, char **err);
/** Starts the thread: a tick every second. 0 or -1. */
int dw_status_start(struct dw_status *st);
void dw_status_stop(struct dw_status *st);
/** One turn at now_ms: maintenance, states, intervals, automatic updates, renderings. */
void dw_status_tick(struct dw_status *st, int64_t now_ms);

/* ---- management (the HTTP layer and a CLI call these) ---- */

/** Sets a manual state for a component (state NULL clears it). EINVAL / ENOTFOUND. */
int dw_status_override(struct dw_status *st, const char *component, const char *state,
                       const char *by, int64_t now_ms, char **err);
/**
 * Every component (and group) for operators: {"id", "name", "group", "state",
 * "computed": state without the override, "override": {state, by, at} or
 * null, "reasons": ["probe api-health failing", "alert X (P0)", ...]}.
 */
json_t *dw_status_components_json(struct dw_status *st);
/** One component as above, or NULL. */
json_t *dw_status_component_json(struct dw_status *st, const char *component);

/** A component state carried by a public update. */
struct dw_status_component_state {
    const char *id;
    const char *state; /* a state name */
};

/**
 * Publishes a public update of an incident: status investigating |
 * identified | monitoring | resolved | postmortem, body 1..16 KiB, optional
 * component states (they apply while the incident is unresolved). Records a
 * "status_page" entry on the incident's timeline. EINVAL / ENOTFOUND.
 */
int dw_status_incident_update(struct dw_status *st, const char *incident_id, const char *status,
                              const char *body, const struct dw_status_component_state *components,
                              size_t ncomponents, const char *by, int64_t now_ms, char **err);

/** Called after every public update is stored (subscriber notices hook in here). */
typedef void (*dw_status_update_fn)(void *ctx, const char *incident_id, const json_t *update);
/** Sets the hook (NULL to remove). It runs on the publishing thread, outside the module's lock. */
void dw_status_set_update_hook(struct dw_status *st, dw_status_update_fn fn, void *ctx);

/**
 * Creates (id NULL) or changes a maintenance from a JSON object: "name"
 * (or "title"), "body", "components" (ids), "scheduled_for",
 * "scheduled_until" (RFC 3339); a change may also set "status":
 * "verifying" or "completed" (by hand). id_out (may be NULL) gets the id.
 */
int dw_status_maintenance_set(struct dw_status *st, const char *id, const json_t *in,
                              const char *by, int64_t now_ms, char id_out[48], char **err);
/** Deletes a maintenance (its silences expire). */
int dw_status_maintenance_delete(struct dw_status *st, const char *id, int64_t now_ms, char **err);
/** Every maintenance, Statuspage-shaped, with "silences" (ids) added. */
json_t *dw_status_maintenances_json(struct dw_status *st);

/**
 * Per-component uptime: {"id", "target", "uptime": {"7d", "30d", "90d"}
 * (percent or null), "days": [{"date", "observed_ms", "<state>": share of
 * the observed time}]} for the DW_STATUS_DAYS days ending today.
 */
json_t *dw_status_uptime_json(struct dw_status *st, const char *component, int64_t now_ms);

/* ---- subscribers (subscribers.c) ----
 *
 * People subscribe from the page by e-mail or with a webhook (which names an
 * owner's e-mail), to every component or some. A subscription is pending
 * until the link in the confirmation e-mail is followed (double opt-in),
 * and forgotten when not confirmed within status.subscribers.confirm_within.
 * Every public incident update and maintenance change becomes a notice,
 * stored in the same transaction as the update; notices go to the matching
 * active subscribers through the notify outbox at status.subscribers.
 * send_rate messages a second, oldest notice first, with dedup keys, so a
 * restart re-sends nobody twice and loses nobody. Each message carries the
 * subscriber's own links: manage and one-click unsubscribe (RFC 8058's
 * List-Unsubscribe and List-Unsubscribe-Post for e-mail).
 *
 * Tokens are "<id>.<HMAC-SHA-256(page secret, purpose:id)>", so none is
 * stored; the secret is made once and kept in the store. Answers never say
 * whether an address is subscribed: subscribing a known address answers as
 * for a new one (and mails its owner instead), a bad token answers "not
 * found" whatever the reason.
 */

/** NULL when s can be a subscriber's e-mail address, else why not (also for the CLI). */
const char *dw_status_email_problem(const char *s);
/** NULL when url can be a subscriber's webhook, else why not; allow_private: see the config. */
const char *dw_status_webhook_problem(const char *url, bool allow_private);

/** A subscription request from the page. */
struct dw_status_subscribe {
    const char *email;   /* required: the subscriber, or the webhook's owner */
    const char *webhook; /* NULL or "": an e-mail subscription */
    const char *const *components;
    size_t ncomponents; /* 0: every component */
    const char *client; /* the client's address, for the per-client limit */
};
/**
 * Starts a subscription (pending + confirmation e-mail). 0 also when the
 * address is known; EINVAL with *err for bad input; ELIMIT with
 * *retry_after_s when a limit was reached; -1 when the store failed.
 */
int dw_status_subscribe(struct dw_status *st, const struct dw_status_subscribe *in, int64_t now_ms,
                        int *retry_after_s, char **err);
/** Confirms the subscription of a confirmation token. 0, ENOTFOUND or -1. */
int dw_status_subscription_confirm(struct dw_status *st, const char *token, int64_t now_ms,
                                   char **err);
/** Ends the subscription of a manage token (idempotent: a gone one is ENOTFOUND). */
int dw_status_unsubscribe(struct dw_status *st, const char *token, int64_t now_ms, char **err);
/** The subscription of a manage token: {"kind", "address", "components", "state"}, or NULL. */
json_t *dw_status_subscription_json(struct dw_status *st, const char *token);
/** Sets the components of a manage token's subscription (none: every one). */
int dw_status_subscription_components(struct dw_status *st, const char *token,
                                      const char *const *components, size_t n, int64_t now_ms,
                                      char **err);
/**
 * Adds confirmed subscribers (an operator's import, no e-mail sent): a JSON
 * array of {"email", "webhook"?, "components"?}; at most 100,000 a call.
 * All or nothing; *added (may be NULL) counts the new ones (known
 * addresses are kept as they are).
 */
int dw_status_subscribers_import(struct dw_status *st, const json_t *list, int64_t now_ms,
                                 size_t *added, char **err);
/** Operators' listing: up to limit subscribers with id > after, and counts. */
json_t *dw_status_subscribers_json(struct dw_status *st, int64_t after, size_t limit, char **err);
/** Removes a subscriber by id (operators). 0 or ENOTFOUND. */
int dw_status_subscriber_delete(struct dw_status *st, int64_t id, char **err);
/** Notices and their progress (newest first, at most limit). */
json_t *dw_status_notices_json(struct dw_status *st, size_t limit, char **err);
/** Sends due notices now (the tick does this; tests call it). */
void dw_status_notices_turn(struct dw_status *st, int64_t now_ms);
/** The subscribe form, confirm, manage and unsubscribe pages (HTML), heap. */
char *dw_status_subscribe_page(struct dw_status *st, const char *kind, const char *token,
                               const char *message);

/**
 * The per-client limit of every public route (status.rate_limit): true when
 * the request may go on, else *retry_after_s. client is the peer address;
 * forwarded its X-Forwarded-For header (used only when the peer is a
 * trusted proxy).
 */
bool dw_status_admit(struct dw_status *st, const char *client, const char *forwarded,
                     int64_t now_ms, int *retry_after_s);

/* ---- serving the public renderings ---- */

/**
 * One prebuilt document, immutable and reference-counted: everything it
 * points to stays valid and unchanged until the reference is released,
 * whatever rebuilds (or dw_status_close) happen meanwhile.
 */
struct dw_status_doc {
    const char *body;
    size_t len;
    const char *gzip; /* the same bytes gzip-compressed, or NULL (small or incompressible) */
    size_t gzip_len;
    const char *content_type;
    const char *etag;          /* of body: "\"<32 hex>\"" */
    const char *etag_gzip;     /* of gzip; NULL without gzip */
    const char *last_modified; /* HTTP date of last_modified_ms */
    int64_t last_modified_ms;  /* when these bytes were first built */
    const char *cache_control; /* "public, max-age=<status.cache_max_age>" */
    bool cors;                 /* banner.json and embed.js: send the CORS headers */
};

/**
 * Takes a reference to the document named like the path below /status ("/"
 * for the page, "/history?page=2", "/incidents/<id>",
 * "/api/v2/summary.json", "/badge/<component>.svg", "/history.rss",
 * "/api/banner.json", "/embed.js"): no copy, a short read lock. 0 with
 * *out set, or DW_STATUS_ENOTFOUND with *out NULL.
 */
int dw_status_doc_get(struct dw_status *st, const char *name, const struct dw_status_doc **out);
/** Drops a reference from dw_status_doc_get, on any thread; NULL is a no-op. */
void dw_status_doc_release(const struct dw_status_doc *doc);
/** How many times the renderings were rebuilt. */
uint64_t dw_status_generation(struct dw_status *st);
/** Cache-Control max-age in seconds (status.cache_max_age). */
int dw_status_max_age(struct dw_status *st);
/**
 * The Access-Control-Allow-Origin value for a request's Origin (may be
 * NULL) under status.cors_origins, copied into out: "*", the origin itself
 * when listed, or false when it is not allowed.
 */
bool dw_status_cors_origin(struct dw_status *st, const char *origin, char *out, size_t size);

/**
 * Conditional GET: true when the request's If-None-Match (a list of tags or
 * "*"; weak tags compare by their opaque part) matches etag, or, without
 * If-None-Match, when If-Modified-Since (an HTTP date) is at or after
 * last_modified_ms (second precision). Either header may be NULL.
 */
bool dw_status_not_modified(const char *etag, int64_t last_modified_ms, const char *if_none_match,
                            const char *if_modified_since);
/** An HTTP date ("Sun, 06 Nov 1994 08:49:37 GMT") into out[32]. */
void dw_status_http_date(int64_t ms, char out[32]);

#endif
