/*
 * alert_internal.h - what the files of the alert module share (no other
 * module includes it).
 *
 *   labels.c        owned label sets, fingerprints, validation, JSON
 *   fpmap.c         uint64 -> pointer hash map (alerts by fingerprint, groups by key hash)
 *   matcher.c       Alertmanager matchers: parsing, printing, matching
 *   tz.c            IANA time zones read from TZif files, civil-time arithmetic
 *   timeinterval.c  time_intervals: parsing and "does it contain t"
 *   config.c        the `alerting` section: schema, validation, the runtime config
 *   route.c         the routing tree: matching and group labels
 *   persist.c       the store: migrations and every SQL statement
 *   alert.c         the alerter: open/close, put, lifecycle, flapping, tick, thread
 *   dispatch.c      aggregation groups, timers, flush, notification log, events
 *   silence.c       silences
 *   inhibit.c       inhibition rules
 *   events.c        the event queue's consumers: read, ack, wait, prune
 *   views.c         Alertmanager API v2 JSON and the lifecycle view
 *   marks.c         acknowledgements, false positives, statistics
 *   json_in.c       PostableAlerts / PostableSilence bodies
 *
 * Locking: struct dw_alerter.mu guards everything in memory; functions
 * named *_locked, and every function taking the alerter below unless it
 * says otherwise, expect it held.
 */
#ifndef DW_ALERT_INTERNAL_H
#define DW_ALERT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "alert/alert.h"

#define PRIO_NONE 3 /* index of "no priority" in per-priority tables */
#define PRIO_SLOTS 4

/* ---- label sets (labels.c) ---- */

/** A sorted label set whose strings are heap-owned (name and value of each pair). */
struct lset {
    struct dw_label *l;
    size_t n;
};

void lset_release(struct lset *s);
/** Copies pairs, drops empty values, sorts by name; a repeated name keeps the last value. */
void lset_from(struct lset *dst, const struct dw_label *l, size_t n);
void lset_copy(struct lset *dst, const struct lset *src);
const char *lset_get(const struct lset *s, const char *name);
/** Adds or replaces one pair, keeping the order. */
void lset_set(struct lset *s, const char *name, const char *value);
bool lset_equal(const struct lset *a, const struct lset *b);
/** Appends v quoted like Go's %q (\" \\ \n \t escaped, UTF-8 kept). */
void quote_value(struct dw_buf *out, const char *v);
/** Alertmanager's LabelSet.String(): {a="b", c="d"}. */
void lset_format(const struct lset *s, struct dw_buf *out);
json_t *lset_json(const struct lset *s);
/** Reads a JSON object of strings; -1 with *err naming the bad member. */
int lset_from_json(struct lset *dst, json_t *obj, const char *what, char **err);
/** NULL when valid, else a heap message ("invalid label name \"1x\""...). */
char *lset_validate(const struct lset *s, const char *what);
bool utf8_valid(const char *s);

uint64_t lset_fingerprint(const struct lset *s);
void fp_hex(uint64_t fp, char out[17]);
/** Parses 16 (or fewer) hex digits; -1 when not hex. */
int fp_parse(const char *s, uint64_t *fp);
/** FNV-1a 64 of a string (group keys). */
uint64_t str_hash(const char *s);

/** RFC 3339 with milliseconds always ("2026-03-08T06:59:59.000Z"); 0 is Go's zero time. */
void fmt_time(int64_t ms, char out[40]);
json_t *time_json(int64_t ms);
/** Parses RFC 3339; Go's zero time (year 1) and "" are 0. -1 when not a time. */
int parse_time(const char *s, int64_t *ms);

/* ---- uint64 -> pointer map (fpmap.c) ---- */

struct fpmap {
    uint64_t *keys; /* 0 marks an empty slot (key 0 is stored as FPMAP_ZERO) */
    void **vals;
    size_t cap, n;
};

void *fpmap_get(const struct fpmap *m, uint64_t key);
/** Inserts or replaces. */
void fpmap_put(struct fpmap *m, uint64_t key, void *val);
/** Removes and returns the value (NULL when absent). */
void *fpmap_del(struct fpmap *m, uint64_t key);
void fpmap_release(struct fpmap *m);
/** Iteration: i from 0; returns the next value or NULL at the end. */
void *fpmap_next(const struct fpmap *m, size_t *i);

/* ---- matchers (matcher.c) ---- */

struct amatcher {
    enum dw_match_op op;
    char *name;
    char *value;
    struct dw_tsdb_matcher *m; /* compiled (regexes fully anchored) */
};

struct amatchers {
    struct amatcher *v;
    size_t n;
};

int amatcher_init(struct amatcher *m, enum dw_match_op op, const char *name, const char *value,
                  char **err);
void amatcher_release(struct amatcher *m);
/**
 * Appends the matchers of s: `name="v"`, `name=~"re"`, `name!="v"`, `name!~"re"`,
 * comma separated, optionally in braces, values quoted (Go escapes) or bare.
 * -1 with *err (nothing appended).
 */
int amatchers_parse(struct amatchers *ms, const char *s, char **err);
/** Exactly one matcher (the API's filter=...). */
int amatcher_parse1(struct amatcher *m, const char *s, char **err);
void amatchers_add(struct amatchers *ms, struct amatcher *m); /* takes *m */
bool amatchers_match(const struct amatchers *ms, const struct lset *ls);
bool amatcher_matches_lset(const struct amatcher *m, const struct lset *ls);
bool amatcher_matches_empty(const struct amatcher *m);
/** Sorts by name, then operator, then value (route keys). */
void amatchers_sort(struct amatchers *ms);
/** {a="b",c=~"d"} like Alertmanager's Matchers.String(). */
void amatchers_format(const struct amatchers *ms, struct dw_buf *out);
void amatcher_format(const struct amatcher *m, struct dw_buf *out);
void amatchers_copy(struct amatchers *dst, const struct amatchers *src);
void amatchers_release(struct amatchers *ms);
const char *match_op_text(enum dw_match_op op);

/* ---- time intervals (timeinterval.c) ---- */

struct irange {
    int begin, end; /* inclusive, except times: minutes [begin, end) */
};

struct tperiod {
    struct irange *times; /* minutes of the day */
    size_t ntimes;
    struct irange *weekdays; /* 0 = Sunday */
    size_t nweekdays;
    struct irange *mdays; /* negative counts from the month's end */
    size_t nmdays;
    struct irange *months;
    size_t nmonths;
    struct irange *years;
    size_t nyears;
    const struct dw_tz *loc; /* NULL: UTC */
};

struct tinterval {
    char *name;
    struct tperiod *p;
    size_t np;
};

/** Parsers of one list item; -1 with *err. */
int ti_parse_time_range(const char *start, const char *end, struct irange *out, char **err);
int ti_parse_weekdays(const char *s, struct irange *out, char **err);
int ti_parse_mdays(const char *s, struct irange *out, char **err);
int ti_parse_months(const char *s, struct irange *out, char **err);
int ti_parse_years(const char *s, struct irange *out, char **err);
bool tperiod_contains(const struct tperiod *p, int64_t ms);
bool tinterval_contains(const struct tinterval *ti, int64_t ms);
void tperiod_release(struct tperiod *p);

/* ---- the runtime configuration (config.c) ---- */

struct timing {
    int64_t group_wait, group_interval, repeat_interval;
};

struct route {
    struct route *parent;
    char *id;       /* unique: parent id "/" matchers "/" index */
    char *receiver; /* inherited */
    char **group_by;
    size_t ngroup_by;
    bool group_all;                                      /* group_by: ['...'] */
    int64_t group_wait, group_interval, repeat_interval; /* -1: per-priority default */
    struct amatchers matchers;
    bool cont;
    struct route *routes;
    size_t nroutes;
    size_t *mute; /* indexes into acfg.intervals */
    size_t nmute;
    size_t *active;
    size_t nactive;
};

struct inhibit_rule {
    struct amatchers source, target;
    char **equal;
    size_t nequal;
    /* Alerts matching `source` (any state; checked at use), maintained by inhibit.c. */
    struct alert **src;
    size_t nsrc, capsrc;
};

struct receiver {
    char *name;
    char *yaml; /* the whole list item as written (channels come with the notify module) */
};

struct sevmap {
    char *severity;
    int priority;
};

struct acfg {
    int64_t resolve_timeout;
    struct sevmap *sev;
    size_t nsev;
    int flap_changes; /* 0: flap detection off */
    int64_t flap_window;
    struct timing prio[PRIO_SLOTS]; /* P0, P1, P2, none */
    struct route root;
    struct receiver *receivers;
    size_t nreceivers;
    struct inhibit_rule *inhibit;
    size_t ninhibit;
    struct tinterval *intervals;
    size_t nintervals;
    char *original;     /* the section as YAML, for /api/v2/status */
    char *external_url; /* for webhook payloads */
};

/** The built-in configuration (no `alerting` section). */
struct acfg *acfg_default(void);
/** Decodes cfg's section (errors into diags); NULL when invalid. */
struct acfg *acfg_from_config(const struct dw_config *cfg, struct dw_diags *diags);
struct acfg *acfg_from_yaml(const char *name, const char *yaml, size_t len, struct dw_diags *diags);
void acfg_free(struct acfg **c);
/** Priority index of a label value ("P0" -> 0), PRIO_NONE when none or unknown. */
int prio_index(const char *value);
const char *prio_name(int prio);

/* ---- routing (route.c) ---- */

/** Routes matching ls (depth first, `continue` honoured); returns how many (<= max). */
size_t route_match(const struct route *root, const struct lset *ls, const struct route **out,
                   size_t max);
/** The labels ls has among r's group_by (all of them with '...'). */
void route_group_labels(const struct route *r, const struct lset *ls, struct lset *out);
/** Timers of a group on r whose most urgent priority is prio. */
void route_timing(const struct acfg *c, const struct route *r, int prio, struct timing *t);
/** Finds the route with this id in the tree, or NULL. */
const struct route *route_find(const struct route *root, const char *id);
bool route_time_muted(const struct acfg *c, const struct route *r, int64_t now);

/* ---- the alerter ---- */

struct alert {
    uint64_t fp;
    char fp_hex[17];
    struct lset labels;
    struct lset annotations;
    char *generator_url;
    int64_t starts_at, ends_at, updated_at;
    bool timeout; /* ends_at came from resolve_timeout */
    enum dw_alert_state state;
    int64_t pending_at, firing_at, resolved_at; /* 0 when not (yet) */
    int priority;                               /* 0..2, PRIO_NONE */
    int64_t episode;                            /* store id of the current/last firing episode */
    int64_t *changes;                           /* times of the last state changes, ascending */
    size_t nchanges, capchanges;
    bool flapping;
    size_t ngroups; /* aggregation groups holding it */
};

struct group {
    char *key; /* route id ":" labels */
    uint64_t hash;
    struct group *hnext; /* same hash */
    const struct route *route;
    struct lset labels;
    uint64_t *fps;
    size_t n, cap;
    int prio; /* most urgent priority among alerts ever inserted */
    int64_t created_at, next_flush, last_flush;
    bool flushed;
};

/* The notification log: what a group's receiver was last told. */
struct nflog {
    char *key; /* group key */
    char *receiver;
    uint64_t hash;
    struct nflog *hnext;
    uint64_t *firing; /* sorted */
    size_t nfiring;
    uint64_t *resolved; /* sorted */
    size_t nresolved;
    int64_t sent_at;
};

struct silence {
    char id[DW_SILENCE_ID_LEN];
    struct amatchers m;
    int64_t starts_at, ends_at, updated_at;
    char *created_by;
    char *comment;
};

struct dw_alerter {
    pthread_mutex_t mu;
    struct dw_store *store;
    struct acfg *cfg;
    struct fpmap alerts; /* fp -> struct alert */
    struct group **groups;
    size_t ngroups, capgroups;
    struct fpmap group_index; /* key hash -> first group of that hash */
    struct fpmap nflog_index; /* key hash -> first entry */
    struct silence **silences;
    size_t nsilences, capsilences;
    int64_t opened_at;
    int64_t next_timeout; /* earliest ends_at of a firing alert */
    int64_t next_settle;  /* earliest time a flapping alert may settle */
    int64_t next_gc;
    /* events: last id appended, and its waiters */
    pthread_mutex_t ev_mu;
    pthread_cond_t ev_cond;
    int64_t last_event_id;
    /* the thread */
    pthread_t thread;
    bool running;
    atomic_bool stop;
    atomic_bool wake;       /* set (then dw_clock_kick) to make the thread tick again */
    int64_t sleeping_until; /* the thread's next deadline (under mu) */
};

/* alert.c */
struct alert *alert_find(struct dw_alerter *a, uint64_t fp);
bool alert_is_firing(const struct alert *al, int64_t now);
/** Alertmanager's AlertSlice order: job, then instance (absent last), then the label sets. */
int alert_cmp(const struct alert *a, const struct alert *b);
/** Records a firing<->resolved change for flap detection; returns true when flapping starts. */
bool alert_flap_change(struct dw_alerter *a, struct alert *al, int64_t at);
void alert_free(struct alert *al);
void wake_thread(struct dw_alerter *a, int64_t deadline);
void add_err(struct dw_buf *errs, const char *fmt, ...) DW_PRINTF(2, 3);

/* Self-metrics (registered at open; the registry is process-wide). */
struct alert_metrics {
    struct dw_metric *received, *events, *groups, *alerts;
};
extern struct alert_metrics alert_m;

/* dispatch.c */
void dispatch_insert(struct dw_alerter *a, struct alert *al, int64_t now);
void dispatch_due(struct dw_alerter *a, int64_t now);
int64_t dispatch_next(const struct dw_alerter *a);
/** Regroups every routable alert under a->cfg (after a reload or at open). */
void dispatch_rebuild(struct dw_alerter *a, int64_t now);
/** Forgets notification-log entries older than NFLOG_RETENTION_MS whose group is gone. */
void dispatch_gc(struct dw_alerter *a, int64_t now);
void dispatch_free(struct dw_alerter *a);
struct nflog *nflog_find(const struct dw_alerter *a, const char *key);
void nflog_add(struct dw_alerter *a, struct nflog *e);
void nflog_free_all(struct dw_alerter *a);
/** Receivers of the routes an alert goes to (borrowed strings); returns the count. */
size_t alert_receivers(const struct dw_alerter *a, const struct lset *ls, const char **out,
                       size_t max);

/* silence.c */
/** Ids of active silences muting ls at now into out (borrowed); returns the count. */
size_t silences_muting(const struct dw_alerter *a, const struct lset *ls, int64_t now,
                       const char **out, size_t max);
void silence_free(struct silence *s);
void silences_gc(struct dw_alerter *a, int64_t now);
const char *silence_state(const struct silence *s, int64_t now);
void silence_add_locked(struct dw_alerter *a, struct silence *s);

/* inhibit.c */
/** The fingerprint (hex, borrowed) of an alert inhibiting al at now, or NULL. */
const char *inhibited_by(const struct dw_alerter *a, const struct alert *al, int64_t now);
void inhibit_track(struct dw_alerter *a, struct alert *al);
void inhibit_untrack(struct dw_alerter *a, struct alert *al);
void inhibit_rebuild(struct dw_alerter *a);

/* events.c */
void events_appended(struct dw_alerter *a, int64_t id);
int events_prune(struct dw_alerter *a, int64_t now, char **err);

/* persist.c: every statement; callers hold mu. */
int persist_migrate(struct dw_store *s, char **err);
int persist_alert_save(struct dw_store *s, const struct alert *al, char **err);
int persist_alert_delete(struct dw_store *s, uint64_t fp, char **err);
int persist_alerts_load(struct dw_alerter *a, char **err);
int persist_episode_start(struct dw_store *s, const struct alert *al, int64_t *id, char **err);
int persist_episode_end(struct dw_store *s, const struct alert *al, char **err);
int persist_episode_flap(struct dw_store *s, int64_t episode, char **err);
int persist_silence_save(struct dw_store *s, const struct silence *sil, char **err);
int persist_silence_delete(struct dw_store *s, const char *id, char **err);
int persist_silences_load(struct dw_alerter *a, char **err);
int persist_nflog_save(struct dw_store *s, const struct nflog *e, char **err);
int persist_nflog_delete(struct dw_store *s, const char *key, char **err);
int persist_nflog_load(struct dw_alerter *a, char **err);
int persist_event_add(struct dw_store *s, int64_t at, const char *kind, const char *receiver,
                      const char *group_key, const char *priority, const char *payload, int64_t *id,
                      char **err);
int64_t persist_events_last_id(struct dw_store *s);

#define ALERT_RETENTION_MS (24LL * 3600 * 1000)    /* resolved alerts kept in memory */
#define PENDING_STALE_MS (24LL * 3600 * 1000)      /* pending without an update */
#define SILENCE_RETENTION_MS (120LL * 3600 * 1000) /* expired silences (Alertmanager's) */
#define NFLOG_RETENTION_MS (120LL * 3600 * 1000)
#define GC_EVERY_MS 60000

#endif
