/*
 * Unit tests of the rule evaluator on a real tsdb and the manual clock:
 * recording rules, the alert lifecycle with for and keep_firing_for, ALERTS
 * and ALERTS_FOR_STATE, staleness, errors, evaluation on data arrival, and
 * `for` timers carried over a restart.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "rules/rules.h"
#include "testutil.h"
#include "testutil_plan.h"
#include "testutil_tsdb.h"

#define T0 1800000000000LL /* a round instant */

struct sink {
    pthread_mutex_t mu;
    atomic_int calls;
    char last[16384]; /* "alertname state active_at value summary" lines of every call */
    size_t off;
    _Atomic int64_t firing_at_mono;
};

static const char *st(enum dw_rule_alert_state s)
{
    return s == DW_RULE_ALERT_PENDING  ? "pending"
           : s == DW_RULE_ALERT_FIRING ? "firing"
                                       : "resolved";
}

static void on_alerts(void *ctx, const struct dw_rule_alert *a, size_t n, int64_t now)
{
    struct sink *k = ctx;
    pthread_mutex_lock(&k->mu);
    k->calls++;
    size_t off = k->off;
    for (size_t i = 0; i < n && off < sizeof k->last - 512; i++) {
        const char *name = dw_tsdb_labels_get(a[i].labels, a[i].nlabels, "alertname");
        const char *sum = dw_tsdb_labels_get(a[i].annotations, a[i].nannotations, "summary");
        off += (size_t)snprintf(k->last + off, sizeof k->last - off, "%s %s %lld %g %s\n", name,
                                st(a[i].state), (long long)(a[i].active_at_ms - T0), a[i].value,
                                sum ? sum : "-");
        if (a[i].state == DW_RULE_ALERT_FIRING && !k->firing_at_mono)
            k->firing_at_mono = dw_mono_ns();
    }
    k->off = off;
    pthread_mutex_unlock(&k->mu);
}

static char *write_rules(const char *dir, const char *yaml)
{
    char *path = dw_asprintf("%s/test.rules.yml", dir);
    FILE *f = fopen(path, "w");
    fputs(yaml, f);
    fclose(f);
    return path;
}

static struct dw_ruler *ruler_on(struct dw_tsdb *db, const char *rules_path, struct sink *k)
{
    char *sec = dw_asprintf("rules:\n  files: ['%s']\n  evaluation_interval: 10s\n", rules_path);
    struct dw_config *cfg = config_with(sec);
    free(sec);
    struct dw_ruler *r = dw_ruler_new(&(struct dw_ruler_options){
        .db = db, .alerts = on_alerts, .alerts_ctx = k, .external_url = "http://dw.example"});
    struct dw_diags d;
    dw_diags_init(&d);
    size_t errors = dw_ruler_apply(r, cfg, &d);
    if (errors) {
        char *t = diags_text(&d);
        fprintf(stderr, "%s", t);
        free(t);
    }
    dw_diags_release(&d);
    dw_config_unref(&cfg);
    if (errors)
        DW_FAIL_("%s", "rules do not load");
    return r;
}

static void put(struct dw_tsdb *db, const char *name, const char *inst, int64_t t, double v)
{
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(db);
    struct dw_label l[2] = {{"__name__", name}, {"instance", inst}};
    dw_tsdb_appender_add(a, l, 2, t, v, NULL);
    dw_tsdb_appender_commit(a, NULL, NULL);
    dw_tsdb_appender_free(&a);
}

/* Moves the clock in 1 s steps until the sink or the store shows `needle`. */
static bool until(struct dw_tsdb *db, struct sink *k, const char *series, const char *needle,
                  int max_steps)
{
    for (int i = 0; i < max_steps; i++) {
        bool ok;
        if (series) {
            char *s = tsdb_dump(db, series);
            ok = strstr(s, needle) != NULL;
            free(s);
        } else {
            pthread_mutex_lock(&k->mu);
            ok = strstr(k->last, needle) != NULL;
            pthread_mutex_unlock(&k->mu);
        }
        if (ok)
            return true;
        usleep(30 * 1000);
        dw_clock_advance(1000);
    }
    fprintf(stderr, "alerts (%zu bytes):\n%s\n", k->off,
            k->off > 600 ? k->last + k->off - 600 : k->last);
    char *l = tsdb_dump(db, "load");
    fprintf(stderr, "load: ...%s\n", strlen(l) > 300 ? l + strlen(l) - 300 : l);
    free(l);
    fprintf(stderr, "now %lld\n", (long long)(dw_now_ms() - T0));
    return false;
}

static const char *RULES =
    "groups:\n"
    "  - name: g\n"
    "    interval: 10s\n"
    "    rules:\n"
    "      - record: job:load:max\n"
    "        expr: max by (job) (load)\n"
    "        labels: {src: rule}\n"
    "      - alert: HighLoad\n"
    "        expr: load > 5\n"
    "        for: 30s\n"
    "        keep_firing_for: 20s\n"
    "        labels: {priority: P1, host: '{{ $labels.instance }}'}\n"
    "        annotations: {summary: 'load {{ $value }} on {{ $labels.instance }}'}\n"
    "      - alert: Broken\n"
    "        expr: '{__name__=~\"load|job:load:max\"} + on() {__name__=~\"load|job:load:max\"}'\n";

TEST(recording_and_alerting_rules_through_their_lifecycle)
{
    char *dir = tmpdir_new();
    char *tdir = dw_asprintf("%s/tsdb", dir);
    struct dw_tsdb *db = open_db(tdir);
    char *rules = write_rules(dir, RULES);
    struct sink k = {.mu = PTHREAD_MUTEX_INITIALIZER};
    dw_clock_set_manual(T0);
    struct dw_ruler *r = ruler_on(db, rules, &k);
    ASSERT_EQ_INT(dw_ruler_start(r), 0);
    /* Feed a breaching value every step so the lookback never runs out. */
    for (int i = 0; i < 30; i++)
        put(db, "load", "a", T0 + i * 1000, 9);
    ASSERT_TRUE(until(db, &k, "job:load:max", "src=\"rule\"}=9@", 20));
    ASSERT_TRUE(until(db, &k, NULL, "HighLoad pending", 20));
    ASSERT_CONTAINS(k.last, "load 9 on a");
    ASSERT_TRUE(until(db, &k, "ALERTS", "alertstate=\"pending\"", 5));
    for (int i = 30; i < 90; i++)
        put(db, "load", "a", T0 + i * 1000, 9);
    ASSERT_TRUE(until(db, &k, NULL, "HighLoad firing", 60));
    char *s = tsdb_dump(db, "ALERTS");
    ASSERT_CONTAINS(s, "alertstate=\"firing\"");
    ASSERT_CONTAINS(s, "host=\"a\"");
    ASSERT_CONTAINS(s, "priority=\"P1\"");
    free(s);
    s = tsdb_dump(db, "ALERTS_FOR_STATE");
    ASSERT_CONTAINS(s, "alertname=\"HighLoad\"");
    free(s);
    /* The rule that fails (many-to-many) is reported, the others went on. */
    json_t *j = dw_ruler_rules_json(r, NULL);
    json_t *rl = json_object_get(json_array_get(json_object_get(j, "groups"), 0), "rules");
    ASSERT_EQ_UINT(json_array_size(rl), 3);
    ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(rl, 2), "health")), "err");
    ASSERT_TRUE(json_string_value(json_object_get(json_array_get(rl, 2), "lastError")) != NULL);
    ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(rl, 1), "state")), "firing");
    json_decref(j);
    /* The value drops: keep_firing_for holds it 20 s, then it resolves. */
    int64_t now = dw_now_ms() > T0 + 90000 ? dw_now_ms() : T0 + 90000;
    for (int i = 0; i < 60; i++)
        put(db, "load", "a", now + i * 1000, 1);
    ASSERT_TRUE(until(db, &k, NULL, "HighLoad resolved", 120));
    ASSERT_TRUE(until(db, &k, "ALERTS", "=STALE@", 15));
    dw_ruler_free(&r);
    dw_tsdb_close(&db);
    dw_clock_set_real();
    rm_rf(dir);
    free(dir);
    free(tdir);
    free(rules);
}

/* The daemon's wiring: the tsdb's commit watch feeds the evaluator. */
static bool watch_filter(void *ctx, const char *name)
{
    return dw_ruler_watches(ctx, name, strlen(name));
}

static void watch_arrived(void *ctx, const char *const *names, size_t n)
{
    dw_ruler_data_arrived(ctx, names, n);
}

TEST(threshold_rule_fires_on_arrival)
{
    char *dir = tmpdir_new();
    char *tdir = dw_asprintf("%s/tsdb", dir);
    struct dw_tsdb *db = open_db(tdir);
    char *rules = write_rules(dir, "groups:\n  - name: fast\n    interval: 1h\n    rules:\n"
                                   "      - {alert: Breach, expr: 'gauge > 100',"
                                   " labels: {priority: P0}}\n"
                                   "      - {alert: Windowed, expr: 'rate(gauge[5m]) > 0'}\n");
    struct sink k = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct dw_ruler *r = ruler_on(db, rules, &k);
    dw_tsdb_set_watch(db, watch_filter, watch_arrived, r);
    ASSERT_EQ_INT(dw_ruler_start(r), 0);
    usleep(300 * 1000); /* the rules are installed */
    ASSERT_TRUE(dw_ruler_watches(r, "gauge", 5));
    ASSERT_FALSE(dw_ruler_watches(r, "other", 5));
    put(db, "gauge", "a", dw_now_ms(), 50); /* below: nothing */
    usleep(100 * 1000);
    ASSERT_EQ_INT(k.calls, 0);
    int64_t t0 = dw_mono_ns();
    put(db, "gauge", "a", dw_now_ms(), 150);
    for (int i = 0; i < 100 && !k.firing_at_mono; i++)
        usleep(5 * 1000);
    if (!k.firing_at_mono) {
        struct dw_buf mb;
        dw_buf_init(&mb, 0);
        dw_metrics_write(&mb);
        fprintf(stderr, "calls %d\n%s\n%s\n", atomic_load(&k.calls), k.last, mb.data);
        dw_buf_release(&mb);
    }
    ASSERT_TRUE(k.firing_at_mono != 0);
    double ms = (double)(k.firing_at_mono - t0) / 1e6;
    fprintf(stderr, "breach to firing: %.2f ms\n", ms);
    ASSERT_TRUE(ms < 100);
    ASSERT_CONTAINS(k.last, "Breach firing");
    ASSERT_NOT_CONTAINS(k.last, "Windowed"); /* windowed rules wait for their interval */
    dw_tsdb_set_watch(db, NULL, NULL, NULL);
    dw_ruler_free(&r);
    dw_tsdb_close(&db);
    rm_rf(dir);
    free(dir);
    free(tdir);
    free(rules);
}

TEST(for_timers_survive_a_restart)
{
    char *dir = tmpdir_new();
    char *tdir = dw_asprintf("%s/tsdb", dir);
    struct dw_tsdb *db = open_db(tdir);
    char *rules = write_rules(dir, "groups:\n  - name: slow\n    interval: 10s\n    rules:\n"
                                   "      - {alert: Slow, expr: 'temp > 1', for: 10m}\n");
    struct sink k = {.mu = PTHREAD_MUTEX_INITIALIZER};
    dw_clock_set_manual(T0);
    for (int i = 0; i < 3600; i += 10)
        put(db, "temp", "a", T0 + i * 1000LL, 5);
    struct dw_ruler *r = ruler_on(db, rules, &k);
    ASSERT_EQ_INT(dw_ruler_start(r), 0);
    ASSERT_TRUE(until(db, &k, NULL, "Slow pending", 30));
    int64_t active;
    ASSERT_EQ_INT(sscanf(strstr(k.last, "pending ") + 8, "%lld", (long long *)&active), 1);
    /* Four minutes pending, then a restart (a new evaluator on the same store). */
    ASSERT_TRUE(until(db, &k, "ALERTS_FOR_STATE", "@", 5));
    for (int i = 0; i < 24; i++) {
        usleep(20 * 1000);
        dw_clock_advance(10000);
    }
    dw_ruler_free(&r);
    k.last[0] = '\0';
    k.off = 0;
    r = ruler_on(db, rules, &k);
    ASSERT_EQ_INT(dw_ruler_start(r), 0);
    ASSERT_TRUE(until(db, &k, NULL, "Slow pending", 30));
    int64_t restored;
    ASSERT_EQ_INT(sscanf(strstr(k.last, "pending ") + 8, "%lld", (long long *)&restored), 1);
    ASSERT_EQ_INT(restored, active); /* the timer kept its start */
    /* ...so it fires 10 min after the first activation, not after the restart. */
    ASSERT_TRUE(until(db, &k, NULL, "Slow firing", 400));
    int64_t fired_after = dw_now_ms() - T0 - active;
    ASSERT_TRUE(fired_after >= 600000 && fired_after < 640000);
    dw_ruler_free(&r);
    dw_tsdb_close(&db);
    dw_clock_set_real();
    rm_rf(dir);
    free(dir);
    free(tdir);
    free(rules);
}

TEST_MAIN()
