/*
 * status_internal.h - what the files of src/status/ share: the decoded
 * configuration (config.c), the module's state (status.c), the uptime
 * arithmetic (uptime.c) and the renderings (render.c). No other module
 * includes this header.
 */
#ifndef DW_STATUS_INTERNAL_H
#define DW_STATUS_INTERNAL_H

#include <pthread.h>

#include "status/status.h"

/* ---- configuration (config.c) ---- */

struct st_group_conf {
    char *id, *name, *description;
};

struct st_component_conf {
    char *id, *name, *description, *group;
    char **probes;
    size_t nprobes;
    struct dw_schema_pair *alerts; /* label name -> exact value */
    size_t nalerts;
    bool showcase, only_show_if_degraded;
};

struct st_maint_conf {
    char *id, *title, *body;
    char **components;
    size_t ncomponents;
    int64_t starts_at, ends_at;
};

struct st_subs_conf { /* status.subscribers */
    bool enabled, email, webhooks, allow_private_webhooks;
    double send_rate;            /* notices per second into the outbox */
    int64_t max_new_per_hour;    /* new subscriptions from the page per hour, all clients */
    int64_t per_client_per_hour; /* subscribe requests per client address per hour */
    int64_t max_subscribers;
    int64_t confirm_within_ms; /* an unconfirmed subscription is forgotten then */
};

struct st_rate_conf { /* status.rate_limit: every public route, per client address */
    double requests_per_second;
    int64_t burst;
    char **trusted_proxies; /* addresses whose X-Forwarded-For names the client */
    size_t ntrusted_proxies;
};

struct st_yaml {
    char *title, *url, *time_zone;
    struct st_subs_conf subs;
    struct st_rate_conf rate;
    double uptime_target;
    int64_t cache_max_age_ms;
    char **cors_origins;
    size_t ncors_origins;
    int64_t auto_publish_severity;
    int64_t history_per_page;
    struct st_group_conf *groups;
    size_t ngroups;
    struct st_component_conf *components;
    size_t ncomponents;
    struct st_maint_conf *maintenances;
    size_t nmaintenances;
    bool target_seen, cors_seen;
};

struct st_conf {
    struct st_yaml y;
    const struct dw_tz *tz; /* process-lifetime */
    char *url;              /* the page's public URL, without a trailing slash */
    char *title;
    double target; /* uptime target in percent, 0 when none */
};

/** Decodes and checks the section; NULL when it has errors (in diags). */
struct st_conf *st_conf_decode(const struct dw_config *cfg, struct dw_diags *diags);
void st_conf_free(struct st_conf **c);
/** The index of a component id, or -1. */
int st_conf_component(const struct st_conf *c, const char *id);

/* ---- uptime arithmetic (uptime.c) ---- */

struct st_interval {
    int state; /* enum dw_status_state */
    int64_t start, end;
};

struct st_day {
    int64_t days;  /* civil day number in the page's zone */
    int64_t start; /* ms of local midnight */
    int64_t end;
    int64_t observed;
    int64_t ms[DW_STATUS_STATE_COUNT];
};

/** Local midnight (ms) that starts civil day `days` in tz (NULL: UTC). */
int64_t st_day_start(const struct dw_tz *tz, int64_t days);
/** The civil day number of ms in tz. */
int64_t st_day_of(const struct dw_tz *tz, int64_t ms);
/** The DW_STATUS_DAYS days ending with today (oldest first), filled from the intervals. */
void st_days(const struct st_interval *iv, size_t n, const struct dw_tz *tz, int64_t now,
             struct st_day out[DW_STATUS_DAYS]);
/**
 * Uptime in percent over [from, to): (observed - outage - maintenance) /
 * (observed - maintenance), outage = partial_outage + major_outage. -1 when
 * nothing was observed outside maintenance.
 */
double st_uptime(const struct st_interval *iv, size_t n, int64_t from, int64_t to);
/** The worst state with time in the day, or -1 when the day has no observed time. */
int st_day_worst(const struct st_day *d);

/* ---- the module's state (status.c) ---- */

struct st_comp {
    char *id;
    int state;    /* effective */
    int computed; /* without the override */
    int override; /* -1 when none */
    char *override_by;
    int64_t override_at;
    char *reasons; /* "; "-joined, for operators */
    int64_t since; /* start of the current interval, 0 before the first tick */
    int64_t updated_at;
};

struct st_update {
    int64_t id;
    char *status, *body, *author;
    json_t *components; /* {"id": "state"} */
    int64_t created_at;
    bool automatic;
};

struct st_incident {
    char *id, *name, *impact, *status;
    int64_t created_at, updated_at, monitoring_at, resolved_at;
    json_t *components;        /* {"id": "state"} from updates, latest wins */
    json_t *affected;          /* component ids: affectedSystems that are components + the above */
    struct st_update *updates; /* newest first */
    size_t nupdates;
};

struct st_maint {
    char *id, *title, *body, *source;
    json_t *components; /* ids */
    json_t *silences;   /* silence ids */
    char *manual;       /* "verifying" | "completed" | NULL */
    char *state;        /* scheduled | in_progress | verifying | completed */
    int64_t starts_at, ends_at, created_at, updated_at, started_at, completed_at;
};

/* A document as render.c produces it, before the rebuild publishes it as a blob. */
struct st_doc {
    char *name;
    char *body; /* heap */
    size_t len;
    const char *ctype; /* static */
    char etag[72];
    bool cors;
};

/*
 * A published document: one allocation holding the view readers get
 * (`doc`), the document's name, its bytes and, for large ones, their gzip
 * variant; every field is written before publication and never after.
 * The current set holds one reference, each reader (a request in flight)
 * one more; the last release frees it, so a rebuild never waits for
 * readers and readers never see a document change under them.
 */
struct st_blob {
    atomic_uint refs;
    struct dw_status_doc doc; /* its pointers point into data or at the fields below */
    const char *name;         /* into data */
    int max_age_s;            /* what cache_control says */
    char etag[72], etag_gzip[72], last_modified[32], cache_control[48];
    char data[]; /* name, NUL, the bytes, the gzip bytes */
};

struct dw_status {
    pthread_mutex_t mu; /* configuration, state, every turn and action */
    struct dw_store *store;
    struct dw_alerter *alerter;
    struct dw_incidents *incidents;
    struct dw_promql_storage probes;
    bool have_probes;
    struct st_conf *conf;
    int64_t opened_at;

    struct st_comp *comps; /* aligned with conf->y.components */
    size_t ncomps;
    bool dirty;           /* something shown changed since the last rebuild */
    int64_t built_minute; /* the minute of the last rebuild (bars move with time) */
    int64_t last_seen_flush;

    dw_status_update_fn hook;
    void *hook_ctx;

    pthread_rwlock_t docs_lock; /* guards the docs array, generation (not the blobs: immutable) */
    struct st_blob **docs;      /* sorted by name; written only by the rebuild, under mu too */
    size_t ndocs;
    uint64_t generation;
    int max_age_s; /* copied under docs_lock for the handlers */
    char **cors;   /* copied under docs_lock */
    size_t ncors;
    char **proxies; /* rate_limit.trusted_proxies, copied under docs_lock */
    size_t nproxies;

    struct dw_alert_consumer thread;

    /* subscribers.c */
    struct dw_notifier *notifier;
    uint8_t secret[32];              /* token key, made once, kept in the store */
    struct dw_ratelimit *read_limit; /* status.rate_limit, per client address */
    struct dw_ratelimit *subs_limit; /* subscribe requests per client address */
    pthread_mutex_t notices_mu;      /* one fan-out at a time; the fields below */
    double send_tokens;
    int64_t send_at;
    int64_t subs_swept_at; /* the last purge of expired pending subscriptions */
    uint64_t seen_changes; /* dw_incidents_changes at the last tick (the thread's) */
    int64_t last_turn;
};

/** Formats ms as RFC 3339 UTC with milliseconds into out[40] ("" for 0). */
void st_time(int64_t ms, char out[40]);
void st_incident_release(struct st_incident *inc);
void st_maint_release(struct st_maint *m);

/* ---- subscribers (subscribers.c) ---- */

/** The store tables of subscribers and notices (migration 2 of "status"). */
extern const char st_subs_schema_sql[];
/** Loads (or makes) the token secret and the limiters. 0 or -1 with *err. */
int st_subs_open(struct dw_status *st, char **err);
/** Applies status.subscribers / rate_limit of the current conf (mu held). */
void st_subs_apply(struct dw_status *st);
void st_subs_close(struct dw_status *st);
/**
 * Stores a notice of a public incident update (inside publish's
 * transaction): the incident's title, the update's status and body, the
 * affected component ids. 0 or -1.
 */
int st_notice_incident(struct dw_status *st, const json_t *inc, const char *status,
                       const char *body, const json_t *affected, int64_t update_id, int64_t now);
/** Stores a notice of a maintenance that was scheduled, started or completed. */
void st_notice_maint(struct dw_status *st, const struct st_maint *m, const char *state,
                     int64_t now);

/* ---- renderings (render.c) ---- */

/** What a rebuild renders from; everything borrowed from the module for the call. */
struct st_view {
    const struct st_conf *conf;
    const struct st_comp *comps;
    size_t ncomps;
    struct st_incident *incidents; /* newest first, last 90 days */
    size_t nincidents;
    struct st_maint *maints;
    size_t nmaints;
    struct st_day (*days)[DW_STATUS_DAYS]; /* per component */
    double (*uptime)[3];                   /* per component: 7, 30, 90 days (-1: none) */
    int64_t now;
    const char *page_id;
};

/** Renders every public document of the view into docs (appended). */
void st_render_all(const struct st_view *v, struct st_doc **docs, size_t *ndocs);
/** The page's HTML head, header and <main> opening (subtitle may be NULL); and its end. */
void st_html_open(struct dw_buf *b, const struct st_conf *conf, const char *subtitle);
void st_html_close(struct dw_buf *b);
/** Appends s escaped for HTML text and attribute values. */
void st_html_escape(struct dw_buf *b, const char *s);
/** Appends an href value: s escaped when it is an http(s) URL, else "#". */
void st_html_href(struct dw_buf *b, const char *url);
/** Maps an incident state to the page's status (investigating ... postmortem). */
const char *st_page_status(const char *incident_state);
/** Statuspage impact of a severity (1 critical, 2 major, 3 minor, 4 none). */
const char *st_impact(int severity);
/** Statuspage's overall indicator and its description for a view. */
void st_indicator(const struct st_view *v, const char **indicator, const char **description);
/** The JSON documents (also used by the management API). */
json_t *st_component_json(const struct st_view *v, size_t i);
json_t *st_incident_json(const struct st_view *v, const struct st_incident *inc);
json_t *st_maint_json(const struct st_view *v, const struct st_maint *m);

#endif
