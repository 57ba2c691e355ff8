/*
 * alert.h - the alerter: what happens to an alert between the rule (or a
 * Prometheus) that raises it and the modules that page people.
 *
 * Alertmanager 0.25 semantics: alerts are identified by the fingerprint of
 * their label set, routed through a tree of matchers (with `continue`),
 * grouped per (route, group_by labels), and flushed on group_wait /
 * group_interval / repeat_interval timers; silences and inhibition rules
 * mute them, time intervals mute whole routes. On top of that, dojowatch
 * adds priorities (P0/P1/P2, mapped from `severity`), per-priority timer
 * defaults so a P0 goes out within a second, a lifecycle (pending, firing,
 * resolved) with timestamps, flap detection that holds notifications, and
 * acknowledgement / false-positive marks with quality statistics.
 *
 * What a flush decides to send becomes an event ("fired", "changed",
 * "repeat", "resolved") in a queue persisted in the store; the notify and
 * incident modules read it with a cursor of their own.
 *
 * Everything is persisted in the store (component "alert"), so a restart
 * neither loses alerts nor sends them again.
 *
 * Threads: every function is thread-safe (one mutex inside). Time is read
 * through dw_now_ms(); tests drive the timers with the manual clock and
 * dw_alerter_tick().
 *
 * Design note: docs/internals/alert.md.
 */
#ifndef DW_ALERT_H
#define DW_ALERT_H

#include <jansson.h>

#include <pthread.h>

#include "core/core.h"
#include "plan/plan.h"
#include "store/store.h"
#include "tsdb/tsdb.h"

struct dw_alerter;

/* Return codes besides 0 (success) and -1 (the store failed; *err says why). */
#define DW_ALERT_EINVAL (-2)    /* bad input; *err says what (HTTP 400) */
#define DW_ALERT_ENOTFOUND (-3) /* no such alert / silence (HTTP 404) */

/** Where an alert is in its lifecycle. */
enum dw_alert_state {
    DW_ALERT_FIRING = 0, /* active until ends_at (resolve_timeout after the last update when 0) */
    DW_ALERT_PENDING,    /* a rule's `for` has not elapsed: recorded, never routed */
    DW_ALERT_RESOLVED,   /* over: ends_at (now when 0) */
    DW_ALERT_INACTIVE,   /* (reported only) pending that ended without firing */
};

/** One alert handed in by the rule evaluator or POST /api/v2/alerts. Everything is borrowed. */
struct dw_alert_in {
    const struct dw_label *labels; /* any order; empty values are dropped */
    size_t nlabels;
    const struct dw_label *annotations;
    size_t nannotations;
    int64_t starts_at_ms;      /* 0: now (or ends_at when only that is set) */
    int64_t ends_at_ms;        /* 0: unset; an alert with ends_at <= now is resolved */
    const char *generator_url; /* may be NULL */
    int state;                 /* enum dw_alert_state: FIRING, PENDING or RESOLVED */
};

/* ---- life of the alerter ---- */

/**
 * Opens the alerter on a store: applies the "alert" migrations and loads
 * the alerts, silences and notification log kept there. The configuration
 * is the built-in default until dw_alerter_apply(). NULL with *err on failure.
 */
struct dw_alerter *dw_alerter_open(struct dw_store *store, char **err);
/** Stops the thread if running and frees; sets *a to NULL. NULL is a no-op. */
void dw_alerter_close(struct dw_alerter **a);

/**
 * Validates cfg's `alerting` section (file:line:col diagnostics); returns the
 * number of errors. For `dojowatch check-config` and for reload (validate
 * first, then apply).
 */
size_t dw_alerter_check_config(const struct dw_config *cfg, struct dw_diags *diags);
/**
 * Installs cfg's `alerting` section. All or nothing: on errors (returned
 * count, diags filled) the running configuration stays. Alerts are routed
 * again under the new tree; groups that still exist keep their timers.
 */
size_t dw_alerter_apply(struct dw_alerter *a, const struct dw_config *cfg, struct dw_diags *diags);
/** Same from the text of an `alerting` section alone (tests; `name` for diagnostics). */
size_t dw_alerter_apply_yaml(struct dw_alerter *a, const char *name, const char *yaml, size_t len,
                             struct dw_diags *diags);

/**
 * Starts the thread that flushes groups on time and resolves alerts whose
 * ends_at passed. 0 or -1. Without it, call dw_alerter_tick() yourself.
 */
int dw_alerter_start(struct dw_alerter *a);
/** Stops and joins the thread (no-op when not running). */
void dw_alerter_stop(struct dw_alerter *a);
/**
 * Does everything due at now: resolves timed-out alerts, settles flapping
 * ones, flushes due groups (appending events), expires old state. Returns
 * the next time something is due (INT64_MAX when nothing is).
 */
int64_t dw_alerter_tick(struct dw_alerter *a, int64_t now_ms);

/* ---- alerts in ---- */

/**
 * Records n alerts with POST /api/v2/alerts semantics: each is merged with
 * the alert of the same fingerprint, `priority` is added from `severity`
 * when missing, firing alerts are routed and groups due now are flushed
 * before returning (a P0 with group_wait 0 is in the event queue when this
 * returns). Invalid alerts are skipped and the valid ones still stored:
 * DW_ALERT_EINVAL with *err listing every problem. -1 when the store failed.
 */
int dw_alerter_put(struct dw_alerter *a, const struct dw_alert_in *in, size_t n, int64_t now_ms,
                   char **err);
/** dw_alerter_put from a JSON body of Alertmanager's PostableAlerts (an array). */
int dw_alerter_put_json(struct dw_alerter *a, const char *body, size_t len, int64_t now_ms,
                        char **err);

/* ---- Alertmanager API v2 views (JSON with Alertmanager 0.25's field names) ---- */

/** Filters of GET /api/v2/alerts and /alerts/groups (flags default to true). */
struct dw_alert_filter {
    const char *const *matchers; /* each `name="v"`, `name=~"re"` ...; NULL when none */
    size_t nmatchers;
    bool active, silenced, inhibited, unprocessed;
    const char *receiver; /* anchored regex on receiver names, or NULL */
};
/** A filter that shows everything. */
void dw_alert_filter_init(struct dw_alert_filter *f);

/** GettableAlerts into *out (new reference). DW_ALERT_EINVAL with *err for a bad filter. */
int dw_alerter_alerts_json(struct dw_alerter *a, const struct dw_alert_filter *f, json_t **out,
                           char **err);
/** AlertGroups into *out. */
int dw_alerter_groups_json(struct dw_alerter *a, const struct dw_alert_filter *f, json_t **out,
                           char **err);
/** AlertmanagerStatus (cluster disabled, version, the alerting section as YAML, uptime). */
json_t *dw_alerter_status_json(struct dw_alerter *a);
/** [{"name": ...}] for every configured receiver. */
json_t *dw_alerter_receivers_json(struct dw_alerter *a);
/**
 * A receiver's list item as written in the configuration (one-line YAML,
 * for the notify module, which owns the channel keys), or NULL when there
 * is no receiver of that name. Caller frees.
 */
char *dw_alerter_receiver_config(struct dw_alerter *a, const char *name);

/* ---- silences ---- */

#define DW_SILENCE_ID_LEN 37 /* a UUID and its NUL */

struct dw_silence_matcher {
    const char *name;
    const char *value;
    bool is_regex;
    bool is_equal; /* false: != or !~ */
};

struct dw_silence_in {
    const char *id; /* NULL or "": a new silence; else update (or replace) that one */
    const struct dw_silence_matcher *matchers;
    size_t nmatchers;
    int64_t starts_at_ms; /* before now: now */
    int64_t ends_at_ms;
    const char *created_by;
    const char *comment;
};

/**
 * Creates or updates a silence like Alertmanager: an update that only moves
 * ends_at (or edits comment/creator) keeps the id; any other change to an
 * unexpired silence expires it and creates a new one. id_out gets the id.
 * DW_ALERT_EINVAL / DW_ALERT_ENOTFOUND with *err.
 */
int dw_alerter_silence_set(struct dw_alerter *a, const struct dw_silence_in *in, int64_t now_ms,
                           char id_out[DW_SILENCE_ID_LEN], char **err);
/** dw_alerter_silence_set from a PostableSilence JSON body. */
int dw_alerter_silence_set_json(struct dw_alerter *a, const char *body, size_t len, int64_t now_ms,
                                char id_out[DW_SILENCE_ID_LEN], char **err);
/** Expires a silence now. DW_ALERT_ENOTFOUND; DW_ALERT_EINVAL when already expired. */
int dw_alerter_silence_expire(struct dw_alerter *a, const char *id, int64_t now_ms, char **err);
/**
 * GettableSilences (active first, then pending, then expired) whose matchers
 * include every filter matcher exactly, like Alertmanager.
 */
int dw_alerter_silences_json(struct dw_alerter *a, const char *const *filter, size_t nfilter,
                             json_t **out, char **err);
/** One GettableSilence, or NULL when there is no such id. */
json_t *dw_alerter_silence_json(struct dw_alerter *a, const char *id);

/* ---- the event queue: what notify and incident consume ---- */

struct dw_alert_event {
    int64_t id; /* increasing */
    int64_t at_ms;
    char *kind;      /* "fired" | "changed" | "repeat" | "resolved" */
    char *receiver;  /* the route's receiver */
    char *group_key; /* route id ":" group labels, unique per aggregation group */
    char *priority;  /* most urgent priority in the group ("P0"...), or NULL */
    char *payload;   /* Alertmanager webhook v4 JSON, plus "kind" and "priority" */
};

/**
 * Up to max events after consumer's cursor (a new consumer starts at the
 * oldest event kept). *out is an array of *n events (free with
 * dw_alert_events_free). 0 or -1 with *err.
 */
int dw_alerter_events_read(struct dw_alerter *a, const char *consumer, size_t max,
                           struct dw_alert_event **out, size_t *n, char **err);
void dw_alert_events_free(struct dw_alert_event *ev, size_t n);
/** Moves consumer's cursor to last_id (never backwards). 0 or -1. */
int dw_alerter_events_ack(struct dw_alerter *a, const char *consumer, int64_t last_id, char **err);
/**
 * Waits up to timeout_ms (real milliseconds) for an event after consumer's
 * cursor. Returns true when there is one (also at once when one is queued).
 */
bool dw_alerter_events_wait(struct dw_alerter *a, const char *consumer, int64_t timeout_ms);

/**
 * The thread of a queue consumer (consumer.c): turn(ctx, now) runs when an
 * event arrives after the cursor `consumer` and at least every every_ms
 * (the test clock's kick wakes it too). Fill alerter (may be NULL: a turn
 * every every_ms), consumer, turn, ctx, every_ms; the rest is the thread's.
 */
struct dw_alert_consumer {
    struct dw_alerter *alerter;
    const char *consumer;
    void (*turn)(void *ctx, int64_t now_ms);
    void *ctx;
    int64_t every_ms;
    pthread_t thread;
    atomic_bool stop;
    bool running;
};
/** Starts the thread (a no-op when running). 0, or -1 (logged). */
int dw_alert_consumer_start(struct dw_alert_consumer *c, const char *thread_name);
/** Stops and joins it (a no-op when not running). */
void dw_alert_consumer_stop(struct dw_alert_consumer *c);

/* ---- acknowledgements, false positives, quality statistics ---- */

enum dw_alert_mark { DW_ALERT_MARK_ACK, DW_ALERT_MARK_FALSE_POSITIVE };

/**
 * Marks the current (or last) firing episode of the alert with this
 * fingerprint (16 hex digits) as acknowledged or a false positive, by whom,
 * when, with an optional comment (at most 4 KiB). Durable commit.
 * DW_ALERT_ENOTFOUND when the alert never fired; DW_ALERT_EINVAL.
 */
int dw_alerter_mark(struct dw_alerter *a, const char *fingerprint, enum dw_alert_mark mark,
                    const char *by, const char *comment, int64_t now_ms, char **err);

/** Quality of one alertname over a time range. */
struct dw_alert_stats {
    char *alertname;
    int64_t fired;         /* firing episodes that started in the range */
    int64_t resolved;      /* of those, how many have ended */
    double mean_firing_ms; /* mean ends_at - starts_at of the resolved ones (0 when none) */
    double acked_share;    /* episodes acknowledged / fired */
    double false_positive_share;
    int64_t flaps;      /* times it started flapping */
    int64_t firing_now; /* alerts of this name firing at the time of the call */
};

/**
 * Statistics per alertname for episodes that started in [since, until)
 * (0 / INT64_MAX for no bound), sorted by alertname. 0 or -1.
 */
int dw_alerter_stats(struct dw_alerter *a, int64_t since_ms, int64_t until_ms,
                     struct dw_alert_stats **out, size_t *n, char **err);
void dw_alert_stats_free(struct dw_alert_stats *st, size_t n);
/** The same as a JSON array (for GET /api/v1/alerts/stats). */
int dw_alerter_stats_json(struct dw_alerter *a, int64_t since_ms, int64_t until_ms, json_t **out,
                          char **err);

/* ---- the lifecycle view (dojowatch's own, with pending and flapping) ---- */

/**
 * Every alert the alerter holds, with its lifecycle: fingerprint, labels,
 * state (pending|firing|resolved), pendingAt/firingAt/resolvedAt,
 * startsAt/endsAt, flapping, silencedBy, inhibitedBy, acknowledged,
 * falsePositive. New reference.
 */
json_t *dw_alerter_lifecycle_json(struct dw_alerter *a);

/* ---- helpers shared with the HTTP layer and the CLI ---- */

/** Alertmanager's fingerprint of a label set (FNV-1a 64, sorted, 0xff separators). */
uint64_t dw_alert_fingerprint(const struct dw_label *labels, size_t n);
/**
 * Parses one matcher in Alertmanager's syntax (`name="v"`, `name!="v"`,
 * `name=~"re"`, `name!~"re"`, quotes optional) into heap *name and *value
 * (caller frees) and its kind. 0, or -1 with *err.
 */
int dw_alert_matcher_parse(const char *s, char **name, char **value, bool *is_regex, bool *is_equal,
                           char **err);
/** "P0".."P2" for a severity under the default table, or NULL. */
const char *dw_alert_default_priority(const char *severity);

#endif
