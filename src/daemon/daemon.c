/*
 * daemon.c - `dojowatch serve`.
 *
 * DESIGN
 * Start-up runs in order, each step undone in reverse on failure: load and
 * validate the configuration, create and lock the data directory (an
 * exclusive flock, so a second instance stops with a clear message), open the
 * store and record the configuration, open (lock) the time-series store,
 * start the HTTP server, load the time-series store (open its blocks and
 * replay its WAL, which can take minutes), start the worker threads from the
 * static thread table, then mark the daemon ready and print the URLs.
 * While the WAL replays, HTTP already answers: /-/ready with 503, ingestion
 * with 503 "unavailable" (the tsdb refuses commits until it is loaded),
 * queries with an error; a SIGTERM meanwhile is acted on once the replay
 * has finished (the main thread takes signals with sigwait).
 *
 * Threads: the main thread only waits for signals (SIGINT, SIGTERM, SIGHUP are
 * blocked everywhere and taken with sigwait here). Workers are listed in
 * `threads[]` (name, enabled, start routine) like Netdata's static threads;
 * each loops until the shared stop flag is set and sleeps through the clock
 * so tests can drive it. libmicrohttpd runs its own threads. The "tsdb"
 * worker persists the head into blocks and runs compaction, downsampling and
 * retention (dw_tsdb_maintain) every 30 s of the clock, logs what it did and
 * publishes the dojowatch_tsdb_* metrics.
 *
 * Configuration: one current `struct dw_config`, reference counted, swapped
 * under `cfg_lock` on reload (SIGHUP or POST /-/reload). A reload parses and
 * validates the whole new file first; an invalid file is rejected with the
 * reason logged and returned, and the old configuration keeps running.
 * Settings bound at start-up (listen address, data directory, limits) change
 * only on restart; a reload that changes them says so in the log.
 *
 * Shutdown: on SIGTERM/SIGINT the stop flag is set, sleepers are woken, the
 * HTTP server stops, workers are joined and the store closed. A watchdog ends
 * the process if this takes longer than 5 s.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alert/alert.h"
#include "auth/auth.h"
#include "collect/collect.h"
#include "daemon/daemon.h"
#include "dashboard/dashboard.h"
#include "http/http.h"
#include "incident/incident.h"
#include "notify/notify.h"
#include "oncall/oncall.h"
#include "plan/plan.h"
#include "rules/rules.h"
#include "status/status.h"
#include "store/store.h"
#include "tsdb/tsdb.h"

#define SHUTDOWN_BUDGET_NS (5LL * 1000000000)

struct daemon {
    const struct dw_daemon_options *opts;
    pthread_mutex_t cfg_lock;
    pthread_mutex_t reload_lock; /* one reload at a time */
    struct dw_config *cfg;       /* guarded by cfg_lock */
    char *data_dir;
    char *listen;
    int lock_fd;
    struct dw_store *store;
    struct dw_tsdb *tsdb;
    struct dw_collector *collector;
    struct dw_ruler *ruler;
    struct dw_alerter *alerter;
    struct dw_notifier *notifier;
    struct dw_oncall *oncall;
    struct dw_incidents *incidents;
    struct dw_status *status;
    /* The dashboards section, swapped whole on reload. */
    struct dw_dashboards *dashboards;
    struct dw_auth *auth; /* sign-in: accounts, sessions, lockout */
    struct dw_http_server *http;
    struct dw_http_app app;
    atomic_bool ready;
    atomic_bool stop;
};

/* Token names handed to the HTTP layer must outlive any configuration. */
static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;
static char **token_names;
static size_t ntoken_names, token_names_cap;

static const char *intern_name(const char *name)
{
    pthread_mutex_lock(&names_lock);
    for (size_t i = 0; i < ntoken_names; i++) {
        if (strcmp(token_names[i], name) == 0) {
            pthread_mutex_unlock(&names_lock);
            return token_names[i];
        }
    }
    token_names = dw_grow(token_names, &token_names_cap, ntoken_names + 1, sizeof *token_names);
    const char *out = token_names[ntoken_names++] = dw_strdup(name);
    pthread_mutex_unlock(&names_lock);
    return out;
}

static void free_names(void)
{
    for (size_t i = 0; i < ntoken_names; i++)
        free(token_names[i]);
    free(token_names);
    token_names = NULL;
    ntoken_names = token_names_cap = 0;
}

/* ---- configuration access and reload ---- */

static struct dw_config *config_get(void *ctx)
{
    struct daemon *d = ctx;
    pthread_mutex_lock(&d->cfg_lock);
    struct dw_config *cfg = dw_config_ref(d->cfg);
    pthread_mutex_unlock(&d->cfg_lock);
    return cfg;
}

static enum dw_role authenticate(void *ctx, const char *token, const char **name)
{
    struct dw_config *cfg = config_get(ctx);
    const char *cfg_name = NULL;
    enum dw_role role = dw_config_token_role(cfg, token, &cfg_name);
    if (name)
        *name = role != DW_ROLE_NONE && cfg_name ? intern_name(cfg_name) : NULL;
    dw_config_unref(&cfg);
    return role;
}

static bool is_ready(void *ctx)
{
    struct daemon *d = ctx;
    return atomic_load(&d->ready);
}

static void log_diags(const struct dw_diags *diags, enum dw_log_level error_level)
{
    for (size_t i = 0; i < diags->n; i++) {
        struct dw_buf b;
        dw_buf_init(&b, 0);
        dw_diag_format(&diags->items[i], &b);
        bool warning = dw_str_has_prefix(diags->items[i].msg, "warning: ");
        dw_log_kv(warning ? DW_LOG_WARN : error_level, "config",
                  warning ? "configuration warning" : "configuration error", "detail", b.data,
                  NULL);
        dw_buf_release(&b);
    }
}

static void record_config(struct daemon *d, const char *hash, bool ok, const char *error)
{
    char *err = NULL;
    if (dw_store_record_config(d->store, dw_now_ms(), hash, d->opts->config_path, ok, error, &err) <
        0) {
        dw_log_kv(DW_LOG_WARN, "store", "could not record the configuration load", "error", err,
                  NULL);
        free(err);
    }
}

static void note_restart_only_changes(const struct daemon *d, const struct dw_config *next)
{
    if (!d->opts->listen && strcmp(dw_config_listen(next), d->listen) != 0)
        dw_log_kv(DW_LOG_WARN, "config", "server.listen changed; it takes effect after a restart",
                  "running", d->listen, "configured", dw_config_listen(next), NULL);
    if (!d->opts->data_dir && strcmp(dw_config_data_dir(next), d->data_dir) != 0)
        dw_log_kv(DW_LOG_WARN, "config", "server.data_dir changed; it takes effect after a restart",
                  "running", d->data_dir, "configured", dw_config_data_dir(next), NULL);
}

static struct dw_metric *m_reload_ok, *m_reload_ts, *m_phase, *m_interval, *m_launch;

/* The time-series store, published by the tsdb thread after each maintenance round. */
static struct {
    struct dw_metric *blocks, *block_bytes, *block_samples, *persisted_until;
    struct dw_metric *head_series, *head_samples, *head_min, *head_max;
    struct dw_metric *last_cut, *last_maint;
    struct dw_metric *cuts, *compactions, *downsampled, *deleted, *errors, *appended;
} m_tsdb;

static void register_tsdb_metrics(void)
{
    m_tsdb.blocks = dw_metric_gauge("dojowatch_tsdb_blocks",
                                    "Blocks on disk, by resolution (raw, 5m, 1h).", "resolution");
    m_tsdb.block_bytes =
        dw_metric_gauge("dojowatch_tsdb_block_bytes", "Bytes of all blocks on disk.", NULL);
    m_tsdb.block_samples =
        dw_metric_gauge("dojowatch_tsdb_block_samples", "Samples in raw blocks.", NULL);
    m_tsdb.persisted_until =
        dw_metric_gauge("dojowatch_tsdb_persisted_until_timestamp_seconds",
                        "Raw data before this time is in blocks (0: no block).", NULL);
    m_tsdb.head_series =
        dw_metric_gauge("dojowatch_tsdb_head_series", "Series in the in-memory head.", NULL);
    m_tsdb.head_samples =
        dw_metric_gauge("dojowatch_tsdb_head_samples", "Samples in the in-memory head.", NULL);
    m_tsdb.head_min = dw_metric_gauge("dojowatch_tsdb_head_min_time_seconds",
                                      "Oldest sample in the head (0 when empty).", NULL);
    m_tsdb.head_max = dw_metric_gauge("dojowatch_tsdb_head_max_time_seconds",
                                      "Newest sample in the head (0 when empty).", NULL);
    m_tsdb.last_cut =
        dw_metric_gauge("dojowatch_tsdb_last_cut_timestamp_seconds",
                        "When the head was last persisted as a block (0: never).", NULL);
    m_tsdb.last_maint =
        dw_metric_gauge("dojowatch_tsdb_last_compaction_timestamp_seconds",
                        "When compaction, downsampling and retention last ran (0: never).", NULL);
    m_tsdb.cuts =
        dw_metric_counter("dojowatch_tsdb_head_cuts_total", "Head ranges written as blocks.", NULL);
    m_tsdb.compactions =
        dw_metric_counter("dojowatch_tsdb_compactions_total", "Block merges by compaction.", NULL);
    m_tsdb.downsampled = dw_metric_counter("dojowatch_tsdb_blocks_downsampled_total",
                                           "Raw blocks downsampled to 5m and 1h.", NULL);
    m_tsdb.deleted = dw_metric_counter("dojowatch_tsdb_retention_deleted_blocks_total",
                                       "Blocks deleted by retention.", NULL);
    m_tsdb.errors = dw_metric_counter("dojowatch_tsdb_maintenance_errors_total",
                                      "Maintenance rounds that failed.", NULL);
    m_tsdb.appended = dw_metric_counter("dojowatch_tsdb_samples_appended_total",
                                        "Samples stored in the head (WAL replay included).", NULL);
}

static double seconds_or_zero(int64_t ms, bool valid)
{
    return valid ? (double)ms / 1000.0 : 0;
}

static void publish_tsdb_metrics(struct dw_tsdb *db)
{
    struct dw_tsdb_stats st;
    dw_tsdb_get_stats(db, &st);
    dw_metric_set(m_tsdb.blocks, (const char *[]){"raw"}, (double)st.blocks_raw);
    dw_metric_set(m_tsdb.blocks, (const char *[]){"5m"}, (double)st.blocks_5m);
    dw_metric_set(m_tsdb.blocks, (const char *[]){"1h"}, (double)st.blocks_1h);
    dw_metric_set(m_tsdb.block_bytes, NULL, (double)st.block_bytes);
    dw_metric_set(m_tsdb.block_samples, NULL, (double)st.block_samples);
    dw_metric_set(m_tsdb.persisted_until, NULL,
                  seconds_or_zero(st.persisted_until, st.blocks_raw > 0));
    dw_metric_set(m_tsdb.head_series, NULL, (double)st.series);
    dw_metric_set(m_tsdb.head_samples, NULL, (double)st.samples);
    dw_metric_set(m_tsdb.head_min, NULL, seconds_or_zero(st.min_time, st.samples > 0));
    dw_metric_set(m_tsdb.head_max, NULL, seconds_or_zero(st.max_time, st.samples > 0));
    dw_metric_set(m_tsdb.last_cut, NULL, seconds_or_zero(st.last_cut_ms, st.last_cut_ms != 0));
    dw_metric_set(m_tsdb.last_maint, NULL,
                  seconds_or_zero(st.last_block_maint_ms, st.last_block_maint_ms != 0));
    dw_metric_set(m_tsdb.cuts, NULL, (double)st.blocks_cut);
    dw_metric_set(m_tsdb.compactions, NULL, (double)st.compactions);
    dw_metric_set(m_tsdb.downsampled, NULL, (double)st.blocks_downsampled);
    dw_metric_set(m_tsdb.deleted, NULL, (double)st.blocks_deleted);
    dw_metric_set(m_tsdb.errors, NULL, (double)st.maint_errors);
    dw_metric_set(m_tsdb.appended, NULL, (double)st.samples_appended);
}

static void register_metrics(void)
{
    m_reload_ok =
        dw_metric_gauge("dojowatch_config_last_reload_successful",
                        "Whether the last configuration reload attempt was successful.", NULL);
    m_reload_ts = dw_metric_gauge("dojowatch_config_last_reload_success_timestamp_seconds",
                                  "Timestamp of the last successful configuration reload.", NULL);
    m_phase = dw_metric_gauge("dojowatch_plan_phase",
                              "The launch plan's current phase (1 for the active phase).", "phase");
    m_interval = dw_metric_gauge("dojowatch_plan_review_interval_seconds",
                                 "Review cadence of each check class in the current phase "
                                 "(0 when the class is not reviewed).",
                                 "class");
    m_launch = dw_metric_gauge("dojowatch_plan_launch_time_seconds",
                               "The launch time the plan counts its phases from.", NULL);
    register_tsdb_metrics();
}

static void publish_plan_metrics(const struct dw_config *cfg, int64_t now)
{
    size_t n;
    const struct dw_plan_phase *phases = dw_config_phases(cfg, &n);
    const struct dw_plan_phase *cur = dw_plan_phase_at(cfg, now);
    dw_metric_reset(m_phase);
    for (size_t i = 0; i < n; i++)
        dw_metric_set(m_phase, (const char *[]){phases[i].name}, &phases[i] == cur ? 1 : 0);
    for (int c = 0; c < DW_CLASS_COUNT; c++)
        dw_metric_set(m_interval, (const char *[]){dw_check_class_name(c)},
                      (double)dw_plan_interval_at(cfg, c, now) / 1000.0);
    dw_metric_set(m_launch, NULL, (double)dw_config_launch_at(cfg) / 1000.0);
}

size_t dw_daemon_check_sections(const struct dw_config *cfg, struct dw_diags *diags)
{
    return dw_collect_check_config(cfg, diags) + dw_rules_check_config(cfg, diags) +
           dw_alerter_check_config(cfg, diags) + dw_notify_check_config(cfg, diags) +
           dw_oncall_check_config(cfg, diags) + dw_incidents_check_config(cfg, diags) +
           dw_status_check_config(cfg, diags) + dw_dashboard_check_config(cfg, diags);
}

/* Hands a validated configuration to the modules (a file changed between the
 * check and here is the only way this fails: then the module keeps its old one). */
/* Sign-in accounts and settings (auth.users, auth.sessions, auth.lockout). */
static void apply_auth(struct daemon *d, const struct dw_config *cfg)
{
    size_t n;
    const struct dw_auth_user *users = dw_config_users(cfg, &n);
    for (size_t i = 0; i < n; i++)
        if (!users[i].password_hash || !users[i].password_hash[0])
            dw_log_kv(DW_LOG_INFO, "auth", "user has no password_hash and cannot sign in", "user",
                      users[i].name, NULL);
    dw_auth_configure(d->auth, users, n, dw_config_auth_settings(cfg));
}

static void apply_sections(struct daemon *d, const struct dw_config *cfg, struct dw_diags *diags)
{
    if (d->auth)
        apply_auth(d, cfg);
    if (d->collector)
        dw_collector_apply(d->collector, cfg, diags);
    if (d->ruler)
        dw_ruler_apply(d->ruler, cfg, diags);
    if (d->alerter)
        dw_alerter_apply(d->alerter, cfg, diags);
    if (d->notifier) {
        dw_notifier_set_config(d->notifier, cfg);
        dw_notifier_reload(d->notifier); /* re-reads the receivers the alerter now has */
    }
    if (d->oncall) {
        char *err = NULL;
        if (dw_oncall_apply(d->oncall, cfg, &err) != 0)
            dw_log_kv(DW_LOG_ERROR, "oncall", "on-call configuration not applied", "error", err,
                      NULL);
        free(err);
    }
    if (d->incidents) {
        char *err = NULL;
        if (dw_incidents_apply(d->incidents, cfg, &err) != 0)
            dw_log_kv(DW_LOG_ERROR, "incident", "incident configuration not applied", "error", err,
                      NULL);
        free(err);
    }
    if (d->status) {
        char *err = NULL;
        if (dw_status_apply(d->status, cfg, &err) != 0)
            dw_log_kv(DW_LOG_ERROR, "status", "status page configuration not applied", "error", err,
                      NULL);
        free(err);
    }
    if (d->dashboards) {
        char *err = NULL;
        if (dw_dashboard_apply(d->dashboards, cfg, &err) != 0)
            dw_log_kv(DW_LOG_ERROR, "dashboard", "dashboards not applied", "error", err, NULL);
        free(err);
    }
}

/* The tsdb's commit watch feeds the rule evaluator (threshold rules on arrival). */
static bool watch_filter(void *ctx, const char *name)
{
    return dw_ruler_watches(ctx, name, strlen(name));
}

/* The evaluator's alerts go to the alerter, as Prometheus sends them to an
 * Alertmanager: firing ones with endsAt 4 resend periods ahead (so a dead
 * evaluator's alerts resolve by themselves), resolved ones with their end. */
static void rule_alerts(void *ctx, const struct dw_rule_alert *a, size_t n, int64_t now_ms)
{
    struct dw_alert_in *in = dw_calloc(n ? n : 1, sizeof *in);
    for (size_t i = 0; i < n; i++) {
        int state = a[i].state == DW_RULE_ALERT_PENDING  ? DW_ALERT_PENDING
                    : a[i].state == DW_RULE_ALERT_FIRING ? DW_ALERT_FIRING
                                                         : DW_ALERT_RESOLVED;
        in[i] = (struct dw_alert_in){
            .labels = a[i].labels,
            .nlabels = a[i].nlabels,
            .annotations = a[i].annotations,
            .nannotations = a[i].nannotations,
            .starts_at_ms = a[i].fired_at_ms ? a[i].fired_at_ms : a[i].active_at_ms,
            .ends_at_ms = state == DW_ALERT_RESOLVED ? a[i].resolved_at_ms : now_ms + 120000,
            .generator_url = a[i].generator_url,
            .state = state,
        };
    }
    char *err = NULL;
    if (dw_alerter_put(ctx, in, n, now_ms, &err) != 0) {
        dw_log_kv(DW_LOG_WARN, "rules", "alerts not accepted by the alerter", "error", err, NULL);
        free(err);
    }
    free(in);
}

static void watch_arrived(void *ctx, const char *const *names, size_t n)
{
    dw_ruler_data_arrived(ctx, names, n);
}

static int reload(void *ctx, char **err)
{
    struct daemon *d = ctx;
    struct dw_diags diags;
    dw_diags_init(&diags);
    pthread_mutex_lock(&d->reload_lock);
    struct dw_config *next = dw_config_load_file(d->opts->config_path, &diags);
    if (next && dw_daemon_check_sections(next, &diags) != 0)
        dw_config_unref(&next); /* a module's section is invalid: the old ones keep running */
    if (next)
        apply_sections(d, next, &diags);
    if (!next) {
        log_diags(&diags, DW_LOG_ERROR);
        char *text = dw_diags_text(&diags, 20, "\n", "");
        dw_log_kv(DW_LOG_ERROR, "config",
                  "reload rejected; the previous configuration keeps running", "file",
                  d->opts->config_path, NULL);
        record_config(d, NULL, false, text);
        dw_metric_set(m_reload_ok, NULL, 0);
        pthread_mutex_unlock(&d->reload_lock);
        dw_diags_release(&diags);
        if (err)
            *err = text;
        else
            free(text);
        return -1;
    }
    log_diags(&diags, DW_LOG_ERROR);
    dw_diags_release(&diags);
    note_restart_only_changes(d, next);
    pthread_mutex_lock(&d->cfg_lock);
    struct dw_config *old = d->cfg;
    d->cfg = next;
    pthread_mutex_unlock(&d->cfg_lock);
    dw_config_unref(&old);
    record_config(d, dw_config_hash(next), true, NULL);
    dw_metric_set(m_reload_ok, NULL, 1);
    dw_metric_set(m_reload_ts, NULL, (double)dw_now_ms() / 1000.0);
    publish_plan_metrics(next, dw_now_ms());
    dw_log_kv(DW_LOG_INFO, "config", "configuration reloaded", "file", d->opts->config_path,
              "sha256", dw_config_hash(next), NULL);
    pthread_mutex_unlock(&d->reload_lock);
    dw_clock_kick(); /* workers re-read timers that depend on the plan */
    return 0;
}

/* ---- worker threads ---- */

/*
 * plan: keeps the phase gauges current and logs each phase change at the
 * exact boundary (it sleeps until the next change, and wakes on reload).
 */
static void *plan_thread(void *arg)
{
    struct daemon *d = arg;
    char last[64] = "";
    while (!atomic_load(&d->stop)) {
        struct dw_config *cfg = config_get(d);
        int64_t now = dw_now_ms();
        const struct dw_plan_phase *ph = dw_plan_phase_at(cfg, now);
        if (strcmp(last, ph->name) != 0) {
            char at[40];
            dw_format_rfc3339(now, at, sizeof at);
            dw_log_kv(DW_LOG_INFO, "plan", last[0] ? "launch phase changed" : "launch phase",
                      "phase", ph->name, "previous", last[0] ? last : NULL, "at", at,
                      "before_launch", dw_plan_before_launch(cfg, now) ? "true" : "false", NULL);
            dw_strlcpy(last, ph->name, sizeof last);
        }
        publish_plan_metrics(cfg, now);
        int64_t next = dw_plan_next_phase_change(cfg, now);
        dw_config_unref(&cfg);
        /* Re-check at least every minute: a reload may move launch.at. */
        int64_t deadline = now + 60000;
        if (next < deadline)
            deadline = next;
        dw_clock_sleep_until(deadline, &d->stop);
    }
    return NULL;
}

#define TSDB_MAINT_EVERY_MS 30000

/* One logfmt line about a maintenance round: info when it did something or failed. */
static void log_tsdb_round(const struct dw_tsdb_maint_result *r, int rc, const char *err,
                           int64_t ns)
{
    bool news = r->blocks_cut || r->head_truncated || r->compactions || r->blocks_downsampled ||
                r->blocks_deleted;
    char cut[24], samples[24], comp[24], ds[24], del[24], ms[24];
    snprintf(cut, sizeof cut, "%zu", r->blocks_cut);
    snprintf(samples, sizeof samples, "%" PRIu64, r->samples_cut);
    snprintf(comp, sizeof comp, "%zu", r->compactions);
    snprintf(ds, sizeof ds, "%zu", r->blocks_downsampled);
    snprintf(del, sizeof del, "%zu", r->blocks_deleted);
    snprintf(ms, sizeof ms, "%.1f", (double)ns / 1e6);
    dw_log_kv(rc     ? DW_LOG_ERROR
              : news ? DW_LOG_INFO
                     : DW_LOG_DEBUG,
              "tsdb", rc ? "maintenance failed" : "maintenance", "blocks_cut", cut, "samples_cut",
              samples, "head_truncated", r->head_truncated ? "true" : "false",
              "truncation_deferred", r->truncation_deferred ? "true" : "false", "compactions", comp,
              "downsampled", ds, "retention_deleted", del, "duration_ms", ms, "error",
              rc ? err : NULL, NULL);
}

/*
 * tsdb: persists the head into blocks and keeps the blocks compacted,
 * downsampled and within retention, every 30 s of the clock (the test clock
 * drives it: advancing it wakes the thread).
 */
static void *tsdb_thread(void *arg)
{
    struct daemon *d = arg;
    int64_t next = dw_now_ms(); /* a first round right away: retention after downtime */
    while (!atomic_load(&d->stop)) {
        int64_t now = dw_now_ms();
        if (now < next && next - now <= TSDB_MAINT_EVERY_MS) { /* (a clock stepped back: now) */
            dw_clock_sleep_until(next, &d->stop);
            continue;
        }
        struct dw_tsdb_maint_result r;
        char *err = NULL;
        int64_t t0 = dw_mono_ns();
        int rc = dw_tsdb_maintain(d->tsdb, now, &r, &err);
        log_tsdb_round(&r, rc, err ? err : dw_tsdb_strerror(rc), dw_mono_ns() - t0);
        free(err);
        publish_tsdb_metrics(d->tsdb);
        next = now + TSDB_MAINT_EVERY_MS;
    }
    return NULL;
}

struct dw_thread {
    const char *name;
    bool enabled;
    void *(*start)(void *arg);
    pthread_t tid;
    bool started;
};

static struct dw_thread threads[] = {
    {.name = "plan", .enabled = true, .start = plan_thread},
    {.name = "tsdb", .enabled = true, .start = tsdb_thread},
};

static int start_threads(struct daemon *d)
{
    for (size_t i = 0; i < DW_ARRAY_LEN(threads); i++) {
        struct dw_thread *t = &threads[i];
        t->started = false;
        if (!t->enabled)
            continue;
        int rc = pthread_create(&t->tid, NULL, t->start, d);
        if (rc != 0) {
            dw_log_kv(DW_LOG_ERROR, "daemon", "cannot start thread", "thread", t->name, "error",
                      strerror(rc), NULL);
            return -1;
        }
        char tname[16];
        snprintf(tname, sizeof tname, "dw-%s", t->name);
        pthread_setname_np(t->tid, tname);
        t->started = true;
        dw_log_kv(DW_LOG_DEBUG, "daemon", "thread started", "thread", t->name, NULL);
    }
    return 0;
}

static void stop_threads(struct daemon *d)
{
    atomic_store(&d->stop, true);
    dw_clock_kick();
    for (size_t i = 0; i < DW_ARRAY_LEN(threads); i++) {
        if (!threads[i].started)
            continue;
        pthread_join(threads[i].tid, NULL);
        threads[i].started = false;
        dw_log_kv(DW_LOG_DEBUG, "daemon", "thread stopped", "thread", threads[i].name, NULL);
    }
}

static void *shutdown_watchdog(void *arg)
{
    (void)arg;
    struct timespec ts = {.tv_sec = SHUTDOWN_BUDGET_NS / 1000000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    dw_log(DW_LOG_ERROR, "daemon", "shutdown took longer than 5 s; exiting now");
    _exit(1);
}

/* ---- data directory ---- */

static int lock_data_dir(struct daemon *d)
{
    if (dw_mkdir_p(d->data_dir) < 0) {
        dw_log_kv(DW_LOG_ERROR, "daemon", "cannot create the data directory", "dir", d->data_dir,
                  "error", strerror(errno), NULL);
        return -1;
    }
    char *path = dw_asprintf("%s/LOCK", d->data_dir);
    char holder[32];
    int rc = dw_pidlock_acquire(path, &d->lock_fd, holder, sizeof holder);
    if (rc == DW_PIDLOCK_BUSY) {
        char *msg = dw_asprintf("data directory %s is in use by another dojowatch (pid %s); "
                                "stop it or start this one with another --data",
                                d->data_dir, holder[0] ? holder : "unknown");
        dw_log(DW_LOG_ERROR, "daemon", "%s", msg);
        free(msg);
    } else if (rc < 0) {
        dw_log_kv(DW_LOG_ERROR, "daemon", "cannot lock the data directory", "file", path, "error",
                  strerror(errno), NULL);
    }
    free(path);
    return rc == 0 ? 0 : -1;
}

static void unlock_data_dir(struct daemon *d)
{
    dw_pidlock_release(&d->lock_fd);
}

/* ---- the time-series store ---- */

static int open_tsdb(struct daemon *d, char **err)
{
    struct dw_tsdb_options o;
    dw_tsdb_options_init(&o);
    char *dir = dw_asprintf("%s/tsdb", d->data_dir);
    o.dir = dir;
    o.retention_ms =
        d->opts->retention_ms ? d->opts->retention_ms : dw_config_retention_raw_ms(d->cfg);
    o.downsample_retention_ms = dw_config_retention_aggregated_ms(d->cfg);
    if (o.downsample_retention_ms < o.retention_ms)
        o.downsample_retention_ms = o.retention_ms;
    const struct dw_plan_storage *st = dw_config_storage(d->cfg);
    static const enum dw_tsdb_fsync fsync_of[] = {
        [DW_PLAN_FSYNC_INTERVAL] = DW_TSDB_FSYNC_INTERVAL,
        [DW_PLAN_FSYNC_NEVER] = DW_TSDB_FSYNC_NEVER,
        [DW_PLAN_FSYNC_ALWAYS] = DW_TSDB_FSYNC_ALWAYS,
    };
    o.wal.fsync = fsync_of[st->wal_fsync];
    o.wal.fsync_interval_ms = st->wal_fsync_interval_ms;
    o.max_series = (size_t)st->max_series;
    o.max_labels = (size_t)st->max_labels_per_series;
    o.max_label_name_len = (size_t)st->max_label_name_bytes;
    o.max_label_value_len = (size_t)st->max_label_value_bytes;
    o.max_samples_per_commit = (size_t)st->max_samples_per_request;
    o.defer_load = true; /* dw_tsdb_load once HTTP answers (see DESIGN) */
    d->tsdb = dw_tsdb_open(&o, err);
    free(dir);
    return d->tsdb ? 0 : -1;
}

static void close_tsdb(struct daemon *d)
{
    if (!d->tsdb)
        return;
    int rc = dw_tsdb_close(&d->tsdb);
    if (rc < 0)
        dw_log_kv(DW_LOG_ERROR, "tsdb", "closing the time-series store failed", "error",
                  dw_tsdb_strerror(rc), NULL);
}

/* ---- start-up and the signal loop ---- */

static void print_urls(const struct daemon *d, int port)
{
    const char *host = d->listen;
    char hostbuf[256];
    const char *colon = strrchr(host, ':');
    size_t hlen = colon ? (size_t)(colon - host) : strlen(host);
    if (hlen == 0 || (hlen == 7 && strncmp(host, "0.0.0.0", 7) == 0))
        dw_strlcpy(hostbuf, "127.0.0.1", sizeof hostbuf);
    else
        snprintf(hostbuf, sizeof hostbuf, "%.*s", (int)hlen, host);
    char base[300];
    snprintf(base, sizeof base, "http://%s:%d", hostbuf, port);
    struct dw_config *cfg = config_get((void *)d);
    printf("dojowatch %s is watching %s\n", DW_VERSION, dw_config_service_name(cfg));
    printf("  console  %s/   (the web console: sign in with a user of auth.users)\n", base);
    printf("  health   %s/-/healthy\n", base);
    printf("  ready    %s/-/ready\n", base);
    printf("  metrics  %s/metrics\n", base);
    printf("  plan     %s/api/plan   (Authorization: Bearer <token>)\n", base);
    printf("  sign in  POST %s/api/auth/login (a user of auth.users; then GET /api/auth/me)\n",
           base);
    printf(
        "  query    %s/api/v1/query?query=up (viewer; Grafana: a Prometheus data source at %s)\n",
        base, base);
    printf("  write    POST %s/api/v1/write (responder; Prometheus remote_write)\n", base);
    printf("  reload   POST %s/-/reload (admin) or SIGHUP\n", base);
    printf("Ctrl-C stops it.\n");
    fflush(stdout);
    dw_config_unref(&cfg);
}

static int wait_for_signals(struct daemon *d, const sigset_t *set)
{
    for (;;) {
        int sig;
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            dw_log(DW_LOG_INFO, "daemon", "SIGHUP: reloading the configuration");
            reload(d, NULL);
            continue;
        }
        dw_log_kv(DW_LOG_INFO, "daemon", "stopping", "signal", strsignal(sig), NULL);
        return 0;
    }
}

int dw_daemon_run(const struct dw_daemon_options *opts)
{
    struct daemon d = {.opts = opts, .lock_fd = -1};
    int status = 1;
    char *err = NULL;
    struct dw_diags diags;
    sigset_t set;

    /* Block the signals the main thread waits for before any thread exists. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (opts->test_clock) {
        dw_clock_set_manual(opts->test_clock_start_ms ? opts->test_clock_start_ms : dw_now_ms());
        dw_log(DW_LOG_WARN, "daemon", "test clock enabled: time moves only via POST /-/test/clock");
    }
    pthread_mutex_init(&d.cfg_lock, NULL);
    pthread_mutex_init(&d.reload_lock, NULL);
    register_metrics();

    dw_diags_init(&diags);
    d.cfg = dw_config_load_file(opts->config_path, &diags);
    log_diags(&diags, DW_LOG_ERROR);
    dw_diags_release(&diags);
    if (!d.cfg) {
        status = 2;
        goto out_locks;
    }
    dw_metric_set(m_reload_ok, NULL, 1);
    dw_metric_set(m_reload_ts, NULL, (double)dw_now_ms() / 1000.0);
    d.data_dir = dw_strdup(opts->data_dir ? opts->data_dir : dw_config_data_dir(d.cfg));
    d.listen = dw_strdup(opts->listen ? opts->listen : dw_config_listen(d.cfg));

    if (lock_data_dir(&d) < 0)
        goto out_config;

    char *db = dw_asprintf("%s/dojowatch.db", d.data_dir);
    d.store = dw_store_open(db, &err);
    free(db);
    if (!d.store) {
        dw_log_kv(DW_LOG_ERROR, "store", "cannot open the store", "error", err, NULL);
        goto out_lock;
    }
    if (dw_plan_review_migrate(d.store, &err) < 0) {
        dw_log_kv(DW_LOG_ERROR, "store", "cannot prepare the store", "error", err, NULL);
        goto out_store;
    }
    record_config(&d, dw_config_hash(d.cfg), true, NULL);
    d.auth = dw_auth_open(d.store, &err);
    if (!d.auth) {
        dw_log_kv(DW_LOG_ERROR, "auth", "cannot prepare sign-in sessions", "error", err, NULL);
        goto out_store;
    }
    d.alerter = dw_alerter_open(d.store, &err);
    if (!d.alerter) {
        dw_log_kv(DW_LOG_ERROR, "alert", "cannot open the alerter", "error", err, NULL);
        goto out_store;
    }
    if (open_tsdb(&d, &err) < 0) {
        dw_log_kv(DW_LOG_ERROR, "tsdb", "cannot open the time-series store", "error", err, NULL);
        goto out_store;
    }

    d.collector = dw_collector_new(d.tsdb);
    struct dw_ruler_options ropts = {.db = d.tsdb,
                                     .alerts = rule_alerts,
                                     .alerts_ctx = d.alerter,
                                     .external_url = dw_config_external_url(d.cfg)};
    d.ruler = dw_ruler_new(&ropts);
    dw_tsdb_set_watch(d.tsdb, watch_filter, watch_arrived, d.ruler);
    dw_diags_init(&diags);
    size_t cerr = dw_daemon_check_sections(d.cfg, &diags);
    if (!cerr)
        apply_sections(&d, d.cfg, &diags);
    log_diags(&diags, DW_LOG_ERROR);
    dw_diags_release(&diags);
    if (cerr) {
        status = 2;
        goto out_store;
    }

    d.notifier = dw_notifier_new(
        &(struct dw_notifier_options){.alerter = d.alerter, .store = d.store, .config = d.cfg});
    d.oncall = d.notifier ? dw_oncall_open(&(struct dw_oncall_options){.store = d.store,
                                                                       .alerter = d.alerter,
                                                                       .notifier = d.notifier,
                                                                       .config = d.cfg},
                                           &err)
                          : NULL;
    if (!d.oncall) {
        dw_log_kv(DW_LOG_ERROR, "oncall", "cannot start paging", "error",
                  err ? err : "the notifier failed", NULL);
        free(err);
        err = NULL;
        status = 2;
        goto out_store;
    }

    d.incidents = dw_incidents_open(&(struct dw_incidents_options){.store = d.store,
                                                                   .alerter = d.alerter,
                                                                   .oncall = d.oncall,
                                                                   .notifier = d.notifier,
                                                                   .config = d.cfg},
                                    &err);
    if (!d.incidents) {
        dw_log_kv(DW_LOG_ERROR, "incident", "cannot start incidents", "error", err, NULL);
        free(err);
        err = NULL;
        status = 2;
        goto out_store;
    }

    /* The status page reads probe results from the tsdb through the PromQL storage. */
    struct dw_promql_storage probes;
    dw_promql_tsdb_storage(&probes, d.tsdb);
    d.status = dw_status_open(&(struct dw_status_options){.store = d.store,
                                                          .alerter = d.alerter,
                                                          .incidents = d.incidents,
                                                          .probes = &probes,
                                                          .config = d.cfg,
                                                          .notifier = d.notifier},
                              &err);
    if (!d.status) {
        dw_log_kv(DW_LOG_ERROR, "status", "cannot start the status page", "error", err, NULL);
        free(err);
        err = NULL;
        status = 2;
        goto out_store;
    }
    /* Dashboards: their queries parsed once here, evaluated by the HTTP handlers. */
    d.dashboards = dw_dashboard_open(d.cfg, &err);
    if (!d.dashboards) {
        dw_log_kv(DW_LOG_ERROR, "dashboard", "cannot load the dashboards", "error", err, NULL);
        free(err);
        err = NULL;
        status = 2;
        goto out_store;
    }

    d.app = (struct dw_http_app){
        .ctx = &d,
        .config_get = config_get,
        .reload = reload,
        .ready = is_ready,
        .authenticate = authenticate,
        .store = d.store,
        .tsdb = d.tsdb,
        .collector = d.collector,
        .ruler = d.ruler,
        .alerter = d.alerter,
        .notifier = d.notifier,
        .oncall = d.oncall,
        .incidents = d.incidents,
        .status = d.status,
        .dashboards = d.dashboards,
        .auth = d.auth,
        .started_at_ms = dw_now_ms(),
        .test_clock = opts->test_clock,
    };
    struct dw_http_options hopts = {
        .listen = d.listen,
        .limits = *dw_config_limits(d.cfg),
        .threads = 2,
    };
    d.http = dw_http_start(&hopts, &d.app, &err);
    if (!d.http) {
        dw_log_kv(DW_LOG_ERROR, "http", "cannot start the HTTP server", "error", err, NULL);
        goto out_store;
    }
    if (dw_tsdb_load(d.tsdb, &err) != 0) {
        dw_log_kv(DW_LOG_ERROR, "tsdb", "cannot load the time-series store", "error", err, NULL);
        goto out_threads;
    }
    publish_tsdb_metrics(d.tsdb);
    if (start_threads(&d) < 0 || dw_collector_start(d.collector) < 0 ||
        dw_ruler_start(d.ruler) < 0 || dw_alerter_start(d.alerter) < 0 ||
        dw_notifier_start(d.notifier) < 0 || dw_oncall_start(d.oncall) < 0 ||
        dw_incidents_start(d.incidents) < 0 || dw_status_start(d.status) < 0)
        goto out_threads;

    atomic_store(&d.ready, true);
    print_urls(&d, dw_http_port(d.http));
    dw_log_kv(DW_LOG_INFO, "daemon", "dojowatch started", "version", DW_VERSION, "data", d.data_dir,
              "config", opts->config_path, NULL);

    wait_for_signals(&d, &set);
    atomic_store(&d.ready, false);
    pthread_t wd;
    if (pthread_create(&wd, NULL, shutdown_watchdog, NULL) == 0)
        pthread_detach(wd);
    status = 0;

out_threads:
    dw_collector_stop(d.collector);
    dw_ruler_stop(d.ruler);
    dw_status_stop(d.status);
    dw_incidents_stop(d.incidents);
    dw_oncall_stop(d.oncall);
    dw_notifier_stop(d.notifier);
    if (d.alerter)
        dw_alerter_stop(d.alerter);
    stop_threads(&d);
    dw_http_stop(&d.http);
out_store:
    dw_collector_free(&d.collector);
    if (d.tsdb)
        dw_tsdb_set_watch(d.tsdb, NULL, NULL, NULL);
    dw_ruler_free(&d.ruler);
    dw_status_close(&d.status);
    dw_dashboard_close(&d.dashboards);
    dw_incidents_close(&d.incidents);
    dw_oncall_close(&d.oncall);
    dw_notifier_free(&d.notifier);
    dw_alerter_close(&d.alerter);
    close_tsdb(&d);
    dw_auth_close(&d.auth);
    dw_store_close(&d.store);
out_lock:
    unlock_data_dir(&d);
out_config:
    dw_config_unref(&d.cfg);
    free(d.data_dir);
    free(d.listen);
out_locks:
    free(err);
    free_names();
    pthread_mutex_destroy(&d.cfg_lock);
    pthread_mutex_destroy(&d.reload_lock);
    if (status == 0)
        dw_log(DW_LOG_INFO, "daemon", "stopped cleanly");
    dw_metrics_shutdown();
    return status;
}
