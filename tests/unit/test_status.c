/*
 * test_status.c - the status page module on a real store, alerter and
 * incident module, probes from an in-memory PromQL storage, on the test
 * clock: config errors with positions, states from probes, alerts and
 * overrides, uptime and daily bars from seeded intervals (checked by hand
 * arithmetic), maintenance with its silence, Statuspage field names and
 * indicators, HTML escaping of hostile strings, automatic updates, ETags;
 * the published documents' lifecycle (a reference outlives rebuilds and
 * the module, under concurrent readers) and their gzip variants.
 */
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <zlib.h>

#include "harness.h"
#include "incident/incident.h"
#include "status/status.h"
#include "testutil.h"
#include "testutil_alert.h"
#include "testutil_plan.h"

#define MIN 60000LL
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
/* Monday 2026-03-02 00:00:00 UTC, and noon that day. */
#define D0 1772409600000LL
#define NOON (D0 + 12 * HOUR)

struct fx {
    char *dir;
    struct dw_store *store;
    struct dw_alerter *a;
    struct dw_incidents *inc;
    struct dw_promql_memstorage *mem;
    struct dw_status *st;
    struct dw_config *cfg;
    int hooks;
};

static const char alerting[] = "route: {receiver: critical, group_by: [alertname]}\n"
                               "receivers: [{name: critical}]\n";

static const char base_status[] =
    "status:\n"
    "  title: Test Status\n"
    "  url: https://status.example.test/\n"
    "  groups: [{id: core, name: Core}]\n"
    "  components:\n"
    "    - {id: api, name: API, group: core, probes: [api-health], alerts: {service: api}}\n"
    "    - {id: web, name: Website, probes: [web-home], alerts: {service: web}}\n"
    "    - {id: db, name: Database, alerts: {service: db}}\n";

static void hook(void *ctx, const char *id, const json_t *update)
{
    struct fx *f = ctx;
    f->hooks++;
    ASSERT_NOT_NULL(json_object_get(update, "body"));
}

static void fx_open_at(struct fx *f, const char *sections, int64_t now)
{
    dw_log_set_level(getenv("DW_DEBUG") ? DW_LOG_DEBUG : DW_LOG_ERROR);
    dw_clock_set_manual(now);
    *f = (struct fx){0};
    f->dir = tmpdir_new();
    f->cfg = config_with(sections);
    f->a = alerter_open_in(f->dir, &f->store);
    alerter_apply_ok(f->a, alerting);
    char *err = NULL;
    struct dw_incidents_options io = {.store = f->store, .alerter = f->a, .config = f->cfg};
    f->inc = dw_incidents_open(&io, &err);
    if (!f->inc)
        fprintf(stderr, "  incidents: %s\n", err);
    ASSERT_NOT_NULL(f->inc);
    f->mem = dw_promql_memstorage_new();
    struct dw_status_options so = {.store = f->store,
                                   .alerter = f->a,
                                   .incidents = f->inc,
                                   .probes = dw_promql_memstorage_storage(f->mem),
                                   .config = f->cfg};
    f->st = dw_status_open(&so, &err);
    if (!f->st)
        fprintf(stderr, "  status: %s\n", err);
    free(err);
    ASSERT_NOT_NULL(f->st);
    dw_status_set_update_hook(f->st, hook, f);
}

static void fx_open(struct fx *f, const char *sections)
{
    fx_open_at(f, sections, NOON);
}

static void fx_close(struct fx *f)
{
    dw_status_close(&f->st);
    dw_incidents_close(&f->inc);
    dw_alerter_close(&f->a);
    dw_store_close(&f->store);
    dw_promql_memstorage_free(&f->mem);
    dw_config_unref(&f->cfg);
    rm_rf(f->dir);
    free(f->dir);
    dw_clock_set_real();
}

static void tick(struct fx *f)
{
    dw_alerter_tick(f->a, dw_now_ms());
    dw_status_tick(f->st, dw_now_ms());
}

static void advance(struct fx *f, int64_t ms)
{
    dw_clock_advance(ms);
    tick(f);
}

/* The component's effective state (from the operators' view). */
static char *state_of(struct fx *f, const char *id)
{
    json_t *c = dw_status_component_json(f->st, id);
    ASSERT_NOT_NULL(c);
    char *s = dw_strdup(json_string_value(json_object_get(c, "state")));
    json_decref(c);
    return s;
}

#define ASSERT_STATE(f, id, want)                                                                  \
    do {                                                                                           \
        char *s_ = state_of(f, id);                                                                \
        if (strcmp(s_, want) != 0) {                                                               \
            fprintf(stderr, "  component %s: %s\n", id, s_);                                       \
            free(s_);                                                                              \
            DW_FAIL_("component %s is not %s", id, want);                                          \
        }                                                                                          \
        free(s_);                                                                                  \
    } while (0)

/* A document's body as a heap string. */
static char *doc(struct fx *f, const char *name)
{
    const struct dw_status_doc *d;
    if (dw_status_doc_get(f->st, name, &d) != 0)
        DW_FAIL_("no document %s", name);
    char *s = dw_strndup(d->body, d->len);
    dw_status_doc_release(d);
    return s;
}

static json_t *doc_json(struct fx *f, const char *name)
{
    char *s = doc(f, name);
    json_t *j = json_loads(s, 0, NULL);
    free(s);
    ASSERT_NOT_NULL(j);
    return j;
}

static void probe(struct fx *f, const char *name, double success, const char *reason)
{
    struct dw_label l[] = {{"__name__", "probe_success"}, {"probe", name}};
    ASSERT_EQ_INT(dw_promql_memstorage_add(f->mem, l, 2, dw_now_ms(), success), 0);
    if (reason) {
        struct dw_label r[] = {
            {"__name__", "probe_failure_info"}, {"probe", name}, {"reason", reason}};
        ASSERT_EQ_INT(dw_promql_memstorage_add(f->mem, r, 3, dw_now_ms(), 1), 0);
    }
}

static void alert(struct fx *f, const char *name, const char *service, const char *priority,
                  int state)
{
    struct dw_label l[] = {{"alertname", name}, {"priority", priority}, {"service", service}};
    struct dw_alert_in in = {.labels = l,
                             .nlabels = 3,
                             .state = state,
                             .ends_at_ms = state == DW_ALERT_FIRING ? dw_now_ms() + DAY : 0};
    char *err = NULL;
    int rc = dw_alerter_put(f->a, &in, 1, dw_now_ms(), &err);
    if (rc)
        fprintf(stderr, "  put: %s\n", err);
    free(err);
    ASSERT_EQ_INT(rc, 0);
}

/* ---- configuration ---- */

TEST(config_errors_have_positions)
{
    struct dw_config *cfg = config_with("status:\n"
                                        "  title: x\n"
                                        "  componets: []\n"
                                        "  components:\n"
                                        "    - {id: api, name: API, group: nope}\n"
                                        "    - {id: \"Bad Id\", name: B}\n"
                                        "  cache_max_age: soon\n");
    struct dw_diags d;
    dw_diags_init(&d);
    ASSERT_EQ_INT(dw_status_check_config(cfg, &d), 4);
    const struct dw_diag *typo = NULL, *group = NULL, *id = NULL, *age = NULL;
    for (size_t i = 0; i < d.n; i++) {
        const struct dw_diag *g = &d.items[i];
        ASSERT_EQ_STR(g->file, "test.yaml");
        if (strstr(g->msg, "did you mean \"components\""))
            typo = g;
        if (strstr(g->msg, "undefined status group \"nope\""))
            group = g;
        if (strstr(g->msg, "\"Bad Id\" is not a component id"))
            id = g;
        if (g->key && strcmp(g->key, "status.cache_max_age") == 0)
            age = g;
    }
    ASSERT_NOT_NULL(typo);
    ASSERT_NOT_NULL(group);
    ASSERT_NOT_NULL(id);
    ASSERT_NOT_NULL(age);
    ASSERT_EQ_STR(typo->key, "status.componets");
    ASSERT_EQ_STR(group->key, "status.components[0].group");
    /* lines as written above, relative to the typo's; columns of the values */
    ASSERT_TRUE(typo->line > 1);
    ASSERT_EQ_INT(typo->col, 3);
    ASSERT_EQ_INT(group->line, typo->line + 2);
    ASSERT_EQ_INT(group->col, 35);
    ASSERT_EQ_INT(id->line, typo->line + 3);
    ASSERT_EQ_INT(age->line, typo->line + 4);
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_diag_format(group, &b);
    char want[64];
    snprintf(want, sizeof want, "test.yaml:%d:35: status.components[0].group:", group->line);
    ASSERT_TRUE(dw_str_has_prefix(b.data, want));
    dw_buf_release(&b);
    dw_diags_release(&d);
    dw_config_unref(&cfg);

    /* a valid section: the plan's 99.5 % is the default target, the service URL the page's */
    cfg = config_with("status:\n  components: [{id: api, name: API}]\n");
    dw_diags_init(&d);
    ASSERT_EQ_INT(dw_status_check_config(cfg, &d), 0);
    dw_diags_release(&d);
    dw_config_unref(&cfg);
}

TEST(defaults_come_from_the_plan)
{
    struct fx f;
    fx_open(&f, "status:\n  components: [{id: api, name: API}]\n");
    tick(&f);
    json_t *u = dw_status_uptime_json(f.st, "api", dw_now_ms());
    ASSERT_NEAR(json_real_value(json_object_get(u, "target")), 99.5, 1e-9);
    json_decref(u);
    json_t *s = doc_json(&f, "/api/v2/status.json");
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(s, "page"), "url")),
                  "https://status.dojopool.com");
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(s, "page"), "name")),
                  "DojoPool Status");
    json_decref(s);
    fx_close(&f);
}

/* ---- states ---- */

TEST(probes_decide_states)
{
    struct fx f;
    fx_open(&f, base_status);
    probe(&f, "api-health", 1, NULL);
    probe(&f, "web-home", 1, NULL);
    tick(&f);
    ASSERT_STATE(&f, "api", "operational");
    ASSERT_STATE(&f, "web", "operational");
    dw_clock_advance(30000);
    probe(&f, "api-health", 0, "http_status");
    probe(&f, "web-home", 0, "latency_budget");
    tick(&f);
    ASSERT_STATE(&f, "api", "major_outage");
    ASSERT_STATE(&f, "web", "degraded_performance");
    ASSERT_STATE(&f, "db", "operational");
    json_t *c = dw_status_component_json(f.st, "api");
    ASSERT_CONTAINS(json_string_value(json_array_get(json_object_get(c, "reasons"), 0)),
                    "probe api-health failing");
    json_decref(c);
    dw_clock_advance(30000);
    probe(&f, "api-health", 1, NULL);
    tick(&f);
    ASSERT_STATE(&f, "api", "operational");
    fx_close(&f);
}

TEST(alerts_decide_states_by_priority)
{
    struct fx f;
    fx_open(&f, base_status);
    alert(&f, "ApiDown", "api", "P0", DW_ALERT_FIRING);
    alert(&f, "WebSlow", "web", "P1", DW_ALERT_FIRING);
    alert(&f, "DbLag", "db", "P2", DW_ALERT_FIRING);
    alert(&f, "Other", "billing", "P0", DW_ALERT_FIRING);
    tick(&f);
    ASSERT_STATE(&f, "api", "major_outage");
    ASSERT_STATE(&f, "web", "partial_outage");
    ASSERT_STATE(&f, "db", "degraded_performance");
    json_t *s = doc_json(&f, "/api/v2/status.json");
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(s, "status"), "indicator")),
                  "critical");
    json_decref(s);
    alert(&f, "ApiDown", "api", "P0", DW_ALERT_RESOLVED);
    tick(&f);
    ASSERT_STATE(&f, "api", "operational");
    s = doc_json(&f, "/api/v2/status.json");
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(s, "status"), "indicator")),
                  "major");
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(s, "status"), "description")),
                  "Partial System Outage");
    json_decref(s);
    alert(&f, "WebSlow", "web", "P1", DW_ALERT_RESOLVED);
    tick(&f);
    s = doc_json(&f, "/api/v2/status.json");
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(s, "status"), "indicator")),
                  "minor");
    json_decref(s);
    alert(&f, "DbLag", "db", "P2", DW_ALERT_RESOLVED);
    tick(&f);
    s = doc_json(&f, "/api/v2/status.json");
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(s, "status"), "indicator")),
                  "none");
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(s, "status"), "description")),
                  "All Systems Operational");
    json_decref(s);
    fx_close(&f);
}

TEST(override_wins_and_clears)
{
    struct fx f;
    fx_open(&f, base_status);
    probe(&f, "api-health", 0, "connect");
    tick(&f);
    ASSERT_STATE(&f, "api", "major_outage");
    char *err = NULL;
    ASSERT_EQ_INT(dw_status_override(f.st, "api", "operational", "alice", dw_now_ms(), &err), 0);
    ASSERT_STATE(&f, "api", "operational");
    advance(&f, 10000);
    ASSERT_STATE(&f, "api", "operational"); /* the failing probe does not take it back */
    json_t *c = dw_status_component_json(f.st, "api");
    ASSERT_EQ_STR(json_string_value(json_object_get(c, "computed")), "major_outage");
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(c, "override"), "by")),
                  "alice");
    json_decref(c);
    ASSERT_EQ_INT(dw_status_override(f.st, "api", NULL, "alice", dw_now_ms(), &err), 0);
    ASSERT_STATE(&f, "api", "major_outage");
    ASSERT_EQ_INT(dw_status_override(f.st, "api", "on_fire", "alice", dw_now_ms(), &err),
                  DW_STATUS_EINVAL);
    ASSERT_CONTAINS(err, "unknown state");
    ASSERT_EQ_INT(dw_status_override(f.st, "nope", "operational", "alice", dw_now_ms(), &err),
                  DW_STATUS_ENOTFOUND);
    free(err);
    fx_close(&f);
}

/* ---- uptime from intervals ---- */

static void seed(struct fx *f, const char *comp, const char *state, int64_t start, int64_t end,
                 int open)
{
    struct dw_value p[] = {DW_VTEXT(comp), DW_VTEXT(state), DW_VINT(start), DW_VINT(end),
                           DW_VINT(open)};
    ASSERT_EQ_INT(dw_store_exec(f->store,
                                "INSERT INTO status_intervals (component, state, start_ms, end_ms,"
                                " open) VALUES ($1, $2, $3, $4, $5)",
                                p, 5, NULL, NULL, NULL),
                  0);
}

static json_t *day(json_t *u, int back)
{
    json_t *days = json_object_get(u, "days");
    return json_array_get(days, json_array_size(days) - 1 - (size_t)back);
}

TEST(uptime_and_bars_from_intervals)
{
    struct fx f;
    fx_open(&f, "status:\n  components: [{id: api, name: API}]\n");
    /* D-3 00:00 up; D-2 10:00-10:36 major outage; D-1 02:00-04:00 maintenance; up till now */
    int64_t d3 = D0 - 3 * DAY, d2 = D0 - 2 * DAY, d1 = D0 - DAY;
    seed(&f, "api", "operational", d3, d2 + 10 * HOUR, 0);
    seed(&f, "api", "major_outage", d2 + 10 * HOUR, d2 + 10 * HOUR + 36 * MIN, 0);
    seed(&f, "api", "operational", d2 + 10 * HOUR + 36 * MIN, d1 + 2 * HOUR, 0);
    seed(&f, "api", "under_maintenance", d1 + 2 * HOUR, d1 + 4 * HOUR, 0);
    seed(&f, "api", "operational", d1 + 4 * HOUR, NOON, 1);
    tick(&f);
    json_t *u = dw_status_uptime_json(f.st, "api", NOON);
    ASSERT_EQ_INT(json_array_size(json_object_get(u, "days")), 90);
    /* today: 12 h observed, all up */
    ASSERT_EQ_STR(json_string_value(json_object_get(day(u, 0), "date")), "2026-03-02");
    ASSERT_EQ_INT(json_integer_value(json_object_get(day(u, 0), "observed_ms")), 12 * HOUR);
    /* D-2: 36 of 1440 minutes down -> 97.5 % operational, 2.5 % major outage */
    ASSERT_EQ_STR(json_string_value(json_object_get(day(u, 2), "date")), "2026-02-28");
    ASSERT_NEAR(json_real_value(json_object_get(day(u, 2), "operational")), 0.975, 1e-12);
    ASSERT_NEAR(json_real_value(json_object_get(day(u, 2), "major_outage")), 0.025, 1e-12);
    /* D-1: 2 h of 24 in maintenance */
    ASSERT_NEAR(json_real_value(json_object_get(day(u, 1), "under_maintenance")), 2.0 / 24, 1e-12);
    /* D-4: nothing observed */
    ASSERT_EQ_INT(json_integer_value(json_object_get(day(u, 4), "observed_ms")), 0);
    ASSERT_TRUE(json_is_null(json_object_get(day(u, 4), "operational")));
    /* 7 days: observed 84 h = 5040 min, maintenance 120 min out of the denominator, 36 down */
    double want = 100.0 * (5040.0 - 120 - 36) / (5040.0 - 120);
    ASSERT_NEAR(json_real_value(json_object_get(json_object_get(u, "uptime"), "7d")), want, 1e-9);
    ASSERT_NEAR(json_real_value(json_object_get(json_object_get(u, "uptime"), "90d")), want, 1e-9);
    json_decref(u);
    /* the page shows the day's shares in the bar's title and the 90-day uptime */
    char *html = doc(&f, "/");
    ASSERT_CONTAINS(html, "<title>2026-02-28: 97.5% operational, 2.5% major_outage</title>");
    ASSERT_CONTAINS(html, "<title>2026-02-25: no data</title>");
    char pct[96];
    snprintf(pct, sizeof pct, "%.2f %% uptime over 90 days (target 99.5 %%, <span", want);
    ASSERT_CONTAINS(html, pct);
    ASSERT_CONTAINS(html, "class=\"b-major_outage\"");
    free(html);
    /* the open interval went on (same state, seen recently): still one open row */
    json_t *u2 = dw_status_uptime_json(f.st, "api", NOON);
    ASSERT_NEAR(json_real_value(json_object_get(json_object_get(u2, "uptime"), "7d")), want, 1e-9);
    json_decref(u2);
    fx_close(&f);
}

TEST(state_changes_become_intervals)
{
    struct fx f;
    fx_open(&f, base_status);
    tick(&f);
    advance(&f, HOUR);
    alert(&f, "DbLag", "db", "P1", DW_ALERT_FIRING);
    tick(&f);
    advance(&f, 30 * MIN);
    alert(&f, "DbLag", "db", "P1", DW_ALERT_RESOLVED);
    tick(&f);
    advance(&f, 30 * MIN);
    json_t *u = dw_status_uptime_json(f.st, "db", dw_now_ms());
    /* 2 h observed, 30 min partial outage -> 75 % */
    ASSERT_NEAR(json_real_value(json_object_get(json_object_get(u, "uptime"), "7d")), 75.0, 1e-9);
    ASSERT_NEAR(json_real_value(json_object_get(day(u, 0), "partial_outage")), 0.25, 1e-12);
    json_decref(u);
    fx_close(&f);
}

/* ---- maintenance ---- */

static int set_status(struct dw_status *st, const char *id, const char *status, const char *by,
                      int64_t now, char *id_out, char **err)
{
    json_t *in = json_pack("{s:s}", "status", status);
    int rc = dw_status_maintenance_set(st, id, in, by, now, id_out, err);
    json_decref(in);
    return rc;
}

static const char *silence_state(struct fx *f, const char *id, char *buf)
{
    json_t *s = dw_alerter_silence_json(f->a, id);
    ASSERT_NOT_NULL(s);
    dw_strlcpy(buf, json_string_value(json_object_get(json_object_get(s, "status"), "state")), 32);
    json_decref(s);
    return buf;
}

TEST(maintenance_moves_by_time_and_silences)
{
    struct fx f;
    fx_open(&f, base_status);
    tick(&f);
    json_t *in = json_pack("{s:s, s:s, s:[s], s:s, s:s}", "name", "DB upgrade", "body",
                           "Upgrading <postgres>", "components", "db", "scheduled_for",
                           "2026-03-02T13:00:00Z", "scheduled_until", "2026-03-02T14:00:00Z");
    char id[48], *err = NULL;
    ASSERT_EQ_INT(dw_status_maintenance_set(f.st, NULL, in, "alice", dw_now_ms(), id, &err), 0);
    json_decref(in);
    tick(&f);
    json_t *up = doc_json(&f, "/api/v2/scheduled-maintenances/upcoming.json");
    json_t *m = json_array_get(json_object_get(up, "scheduled_maintenances"), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(m, "status")), "scheduled");
    ASSERT_EQ_STR(json_string_value(json_object_get(m, "scheduled_for")), "2026-03-02T13:00:00Z");
    ASSERT_EQ_STR(json_string_value(json_object_get(m, "scheduled_until")), "2026-03-02T14:00:00Z");
    ASSERT_EQ_STR(json_string_value(json_object_get(m, "impact")), "maintenance");
    json_decref(up);
    ASSERT_STATE(&f, "db", "operational");
    /* the window opens: in progress, a silence on the component's alerts */
    advance(&f, HOUR);
    ASSERT_STATE(&f, "db", "under_maintenance");
    json_t *all = dw_status_maintenances_json(f.st);
    json_t *m0 = json_array_get(all, 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(m0, "status")), "in_progress");
    ASSERT_EQ_INT(json_array_size(json_object_get(m0, "silences")), 1);
    char sid[DW_SILENCE_ID_LEN], buf[32];
    dw_strlcpy(sid, json_string_value(json_array_get(json_object_get(m0, "silences"), 0)),
               sizeof sid);
    json_decref(all);
    ASSERT_EQ_STR(silence_state(&f, sid, buf), "active");
    json_t *act = doc_json(&f, "/api/v2/scheduled-maintenances/active.json");
    ASSERT_EQ_INT(json_array_size(json_object_get(act, "scheduled_maintenances")), 1);
    json_decref(act);
    /* the silence mutes the component's alerts, and the page says maintenance */
    alert(&f, "DbLag", "db", "P1", DW_ALERT_FIRING);
    json_t *alerts = NULL;
    struct dw_alert_filter flt;
    dw_alert_filter_init(&flt);
    ASSERT_EQ_INT(dw_alerter_alerts_json(f.a, &flt, &alerts, &err), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(
                      json_object_get(json_array_get(alerts, 0), "status"), "state")),
                  "suppressed");
    json_decref(alerts);
    json_t *s = doc_json(&f, "/api/v2/status.json");
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(s, "status"), "description")),
                  "Service Under Maintenance");
    json_decref(s);
    /* verifying by hand keeps it under maintenance; completed early expires the silence */
    ASSERT_EQ_INT(set_status(f.st, id, "verifying", "alice", dw_now_ms(), NULL, &err), 0);
    advance(&f, 1000);
    ASSERT_STATE(&f, "db", "under_maintenance");
    ASSERT_EQ_INT(set_status(f.st, id, "completed", "alice", dw_now_ms(), NULL, &err), 0);
    advance(&f, 1000);
    ASSERT_EQ_STR(silence_state(&f, sid, buf), "expired");
    ASSERT_STATE(&f, "db", "partial_outage"); /* the P1 alert shows again */
    ASSERT_EQ_INT(set_status(f.st, id, "started", "alice", dw_now_ms(), NULL, &err),
                  DW_STATUS_EINVAL);
    free(err);
    fx_close(&f);
}

TEST(maintenance_completes_by_time)
{
    struct fx f;
    fx_open(&f, "status:\n"
                "  components: [{id: db, name: Database, alerts: {service: db}}]\n"
                "  maintenances:\n"
                "    - {id: upgrade, title: Upgrade, components: [db],\n"
                "       starts_at: 2026-03-02T12:30:00Z, ends_at: 2026-03-02T13:00:00Z}\n");
    tick(&f);
    ASSERT_STATE(&f, "db", "operational");
    advance(&f, 30 * MIN);
    ASSERT_STATE(&f, "db", "under_maintenance");
    advance(&f, 30 * MIN);
    ASSERT_STATE(&f, "db", "operational");
    json_t *all = doc_json(&f, "/api/v2/scheduled-maintenances.json");
    json_t *m = json_array_get(json_object_get(all, "scheduled_maintenances"), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(m, "id")), "upgrade");
    ASSERT_EQ_STR(json_string_value(json_object_get(m, "status")), "completed");
    json_decref(all);
    /* maintenance time is out of the uptime denominator: 1 h observed, 30 min maintenance */
    json_t *u = dw_status_uptime_json(f.st, "db", dw_now_ms());
    ASSERT_NEAR(json_real_value(json_object_get(json_object_get(u, "uptime"), "7d")), 100.0, 1e-9);
    ASSERT_NEAR(json_real_value(json_object_get(day(u, 0), "under_maintenance")), 0.5, 1e-12);
    json_decref(u);
    fx_close(&f);
}

/* ---- incidents, Statuspage JSON, escaping ---- */

static const char *const xss[] = {"<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>",
                                  "javascript:alert(1)"};

static void assert_no_xss(const char *html)
{
    ASSERT_NOT_CONTAINS(html, "<script");
    ASSERT_NOT_CONTAINS(html, "<img");
    ASSERT_NOT_CONTAINS(html, "onerror=alert(1)>");
    ASSERT_NOT_CONTAINS(html, "href=\"javascript:");
    ASSERT_NOT_CONTAINS(html, "href='javascript:");
}

static const char hostile_status[] =
    "status:\n"
    "  components:\n"
    "    - id: api\n"
    "      name: \"<script>alert(1)</script>\"\n"
    "      description: '\"><img src=x onerror=alert(1)>'\n"
    "      alerts: {service: api}\n"
    "    - {id: web, name: 'javascript:alert(1)'}\n"
    "  groups: [{id: g, name: '\"><img src=x onerror=alert(1)>'}]\n";

static const char *const summary_keys[] = {"page", "components", "incidents",
                                           "scheduled_maintenances", "status"};
static const char *const page_keys[] = {"id", "name", "url", "time_zone", "updated_at"};
static const char *const component_keys[] = {
    "id",          "name",     "status",   "created_at", "updated_at", "position",
    "description", "showcase", "group_id", "page_id",    "group",      "only_show_if_degraded"};
static const char *const incident_keys[] = {
    "id",          "name",   "status",    "created_at", "updated_at", "monitoring_at",
    "resolved_at", "impact", "shortlink", "started_at", "page_id",    "incident_updates",
    "components"};
static const char *const update_keys[] = {
    "id",         "status",     "body",       "incident_id",
    "created_at", "updated_at", "display_at", "affected_components"};

static void assert_keys(const json_t *o, const char *const *keys, size_t n)
{
    ASSERT_TRUE(json_is_object(o));
    for (size_t i = 0; i < n; i++)
        if (!json_object_get(o, keys[i]))
            DW_FAIL_("missing key %s", keys[i]);
}

TEST(incident_on_the_page_with_every_string_escaped)
{
    struct fx f;
    fx_open(&f, hostile_status);
    tick(&f);
    char id[DW_INCIDENT_ID_LEN], *err = NULL;
    const char *sys[] = {"api", "billing"};
    struct dw_incident_new n = {
        .title = xss[0], .severity = 1, .affected_systems = sys, .naffected_systems = 2};
    ASSERT_EQ_INT(dw_incident_create(f.inc, &n, "alice", dw_now_ms(), id, &err), 0);
    advance(&f, 1000);
    /* the automatic first update (the notice), on the page and the incident's timeline */
    json_t *un = doc_json(&f, "/api/v2/incidents/unresolved.json");
    json_t *inc = json_array_get(json_object_get(un, "incidents"), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(inc, "id")), id);
    ASSERT_EQ_STR(json_string_value(json_object_get(inc, "name")), xss[0]);
    ASSERT_EQ_STR(json_string_value(json_object_get(inc, "impact")), "critical");
    ASSERT_EQ_INT(json_array_size(json_object_get(inc, "incident_updates")), 1);
    ASSERT_EQ_INT(json_array_size(json_object_get(inc, "components")), 1); /* api, not billing */
    json_decref(un);
    ASSERT_EQ_INT(f.hooks, 1);
    json_t *ij = dw_incident_json(f.inc, id);
    size_t i, entries = 0;
    json_t *e;
    json_array_foreach(json_object_get(ij, "timeline"), i, e) entries +=
        strcmp(json_string_value(json_object_get(e, "kind")), "status_page") == 0;
    ASSERT_EQ_INT(entries, 1);
    json_decref(ij);
    /* a person's update with hostile bodies and a component state */
    struct dw_status_component_state cs[] = {{"web", "partial_outage"}};
    for (size_t k = 0; k < DW_ARRAY_LEN(xss); k++)
        ASSERT_EQ_INT(dw_status_incident_update(f.st, id, "identified", xss[k], cs, 1, "bob",
                                                dw_now_ms(), &err),
                      0);
    ASSERT_EQ_INT(
        dw_status_incident_update(f.st, id, "fixed", "x", NULL, 0, "bob", dw_now_ms(), &err),
        DW_STATUS_EINVAL);
    ASSERT_EQ_INT(dw_status_incident_update(f.st, "INC-0", "identified", "x", NULL, 0, "bob",
                                            dw_now_ms(), &err),
                  DW_STATUS_ENOTFOUND);
    struct dw_status_component_state bad[] = {{"nope", "major_outage"}};
    ASSERT_EQ_INT(
        dw_status_incident_update(f.st, id, "identified", "x", bad, 1, "bob", dw_now_ms(), &err),
        DW_STATUS_EINVAL);
    ASSERT_EQ_INT(f.hooks, 4);
    tick(&f);
    ASSERT_STATE(&f, "web", "partial_outage"); /* set by the update while unresolved */

    /* Statuspage v2 names */
    json_t *sum = doc_json(&f, "/api/v2/summary.json");
    assert_keys(sum, summary_keys, DW_ARRAY_LEN(summary_keys));
    assert_keys(json_object_get(sum, "page"), page_keys, DW_ARRAY_LEN(page_keys));
    json_array_foreach(json_object_get(sum, "components"), i, e)
        assert_keys(e, component_keys, DW_ARRAY_LEN(component_keys));
    json_t *g = json_array_get(json_object_get(sum, "components"), 2);
    ASSERT_TRUE(json_is_true(json_object_get(g, "group")));
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(sum, "status"), "indicator")),
                  "critical"); /* an unresolved SEV1 is a critical incident */
    inc = json_array_get(json_object_get(sum, "incidents"), 0);
    assert_keys(inc, incident_keys, DW_ARRAY_LEN(incident_keys));
    ASSERT_EQ_STR(json_string_value(json_object_get(inc, "status")), "identified");
    json_t *upd = json_array_get(json_object_get(inc, "incident_updates"), 0);
    assert_keys(upd, update_keys, DW_ARRAY_LEN(update_keys));
    json_t *ac = json_array_get(json_object_get(upd, "affected_components"), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(ac, "code")), "web");
    ASSERT_EQ_STR(json_string_value(json_object_get(ac, "new_status")), "partial_outage");
    json_decref(sum);

    /* every HTML rendering escapes every hostile string */
    char *name = dw_asprintf("/incidents/%s", id);
    const char *pages[] = {"/", "/history", name, "/badge/api.svg", "/badge/web.svg"};
    for (size_t k = 0; k < DW_ARRAY_LEN(pages); k++) {
        char *html = doc(&f, pages[k]);
        assert_no_xss(html);
        free(html);
    }
    char *html = doc(&f, name);
    ASSERT_CONTAINS(html, "&lt;script&gt;alert(1)&lt;/script&gt;");
    ASSERT_CONTAINS(html, "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;");
    ASSERT_CONTAINS(html, "javascript:alert(1)"); /* as text, never as a link */
    free(html);
    html = doc(&f, "/");
    ASSERT_CONTAINS(html, "<meta name=\"viewport\"");
    ASSERT_CONTAINS(html, "prefers-color-scheme:dark");
    ASSERT_CONTAINS(html, "&lt;script&gt;alert(1)&lt;/script&gt;");
    free(html);
    char *feed = doc(&f, "/history.rss");
    ASSERT_NOT_CONTAINS(feed, "<script");
    ASSERT_NOT_CONTAINS(feed, "<img");
    free(feed);
    feed = doc(&f, "/history.atom");
    ASSERT_NOT_CONTAINS(feed, "<script");
    free(feed);

    /* resolved in the incident module -> an automatic resolved update, off unresolved.json */
    ASSERT_EQ_INT(dw_incident_transition(f.inc, id, "resolved", "bob", dw_now_ms(), &err), 0);
    advance(&f, 1000);
    un = doc_json(&f, "/api/v2/incidents/unresolved.json");
    ASSERT_EQ_INT(json_array_size(json_object_get(un, "incidents")), 0);
    json_decref(un);
    json_t *all = doc_json(&f, "/api/v2/incidents.json");
    inc = json_array_get(json_object_get(all, "incidents"), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(inc, "status")), "resolved");
    ASSERT_TRUE(json_is_string(json_object_get(inc, "resolved_at")));
    upd = json_array_get(json_object_get(inc, "incident_updates"), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(upd, "status")), "resolved");
    ASSERT_EQ_INT(json_array_size(json_object_get(inc, "incident_updates")), 5);
    json_decref(all);
    ASSERT_STATE(&f, "web", "operational"); /* the update's state ended with the incident */
    advance(&f, 1000);
    all = doc_json(&f, "/api/v2/incidents.json");
    ASSERT_EQ_INT(json_array_size(json_object_get(
                      json_array_get(json_object_get(all, "incidents"), 0), "incident_updates")),
                  5); /* not published twice */
    json_decref(all);
    free(name);
    free(err);
    fx_close(&f);
}

TEST(low_severity_is_not_published_automatically)
{
    struct fx f;
    fx_open(&f, base_status);
    char id[DW_INCIDENT_ID_LEN], *err = NULL;
    struct dw_incident_new n = {.title = "Slow reports", .severity = 3};
    ASSERT_EQ_INT(dw_incident_create(f.inc, &n, "alice", dw_now_ms(), id, &err), 0);
    advance(&f, 1000);
    json_t *un = doc_json(&f, "/api/v2/incidents/unresolved.json");
    ASSERT_EQ_INT(json_array_size(json_object_get(un, "incidents")), 0);
    json_decref(un);
    free(err);
    fx_close(&f);
}

/* ---- HTTP caching ---- */

TEST(etags_and_conditional_requests)
{
    const char *tag = "\"0123abcd\"";
    ASSERT_TRUE(dw_status_not_modified(tag, 0, "\"0123abcd\"", NULL));
    ASSERT_TRUE(dw_status_not_modified(tag, 0, "\"x\", \"0123abcd\"", NULL));
    ASSERT_TRUE(dw_status_not_modified(tag, 0, "W/\"0123abcd\"", NULL));
    ASSERT_TRUE(dw_status_not_modified(tag, 0, "*", NULL));
    ASSERT_FALSE(dw_status_not_modified(tag, 0, "\"0123abc\"", NULL));
    ASSERT_FALSE(dw_status_not_modified(tag, 0, "\"0123abcdx\"", NULL));
    ASSERT_FALSE(dw_status_not_modified(tag, 0, "", NULL));
    char date[32];
    dw_status_http_date(NOON + 999, date);
    ASSERT_EQ_STR(date, "Mon, 02 Mar 2026 12:00:00 GMT");
    ASSERT_TRUE(dw_status_not_modified(tag, NOON + 999, NULL, date));
    ASSERT_TRUE(dw_status_not_modified(tag, NOON, NULL, "Mon, 02 Mar 2026 12:00:01 GMT"));
    ASSERT_FALSE(dw_status_not_modified(tag, NOON + 1000, NULL, date));
    ASSERT_FALSE(dw_status_not_modified(tag, NOON, NULL, "yesterday"));
    /* If-None-Match decides alone when present */
    ASSERT_FALSE(dw_status_not_modified(tag, NOON, "\"other\"", date));

    struct fx f;
    fx_open(&f, base_status);
    tick(&f);
    const struct dw_status_doc *a, *b;
    ASSERT_EQ_INT(dw_status_doc_get(f.st, "/api/v2/status.json", &a), 0);
    char hex[65];
    dw_sha256_hex(a->body, a->len, hex);
    ASSERT_TRUE(strncmp(a->etag + 1, hex, 32) == 0);
    ASSERT_EQ_STR(a->content_type, "application/json");
    ASSERT_FALSE(a->cors);
    uint64_t gen = dw_status_generation(f.st);
    advance(&f, 2 * MIN); /* a rebuild for the bars; status.json's bytes stay */
    ASSERT_TRUE(dw_status_generation(f.st) > gen);
    ASSERT_EQ_INT(dw_status_doc_get(f.st, "/api/v2/status.json", &b), 0);
    ASSERT_EQ_STR(a->etag, b->etag);
    ASSERT_EQ_INT(a->last_modified_ms, b->last_modified_ms);
    dw_status_doc_release(b);
    alert(&f, "ApiDown", "api", "P0", DW_ALERT_FIRING);
    tick(&f);
    ASSERT_EQ_INT(dw_status_doc_get(f.st, "/api/v2/status.json", &b), 0);
    ASSERT_TRUE(strcmp(a->etag, b->etag) != 0);
    ASSERT_TRUE(b->last_modified_ms > a->last_modified_ms);
    dw_status_doc_release(a);
    dw_status_doc_release(b);
    ASSERT_EQ_INT(dw_status_doc_get(f.st, "/api/banner.json", &a), 0);
    ASSERT_TRUE(a->cors);
    json_t *banner = json_loadb(a->body, a->len, 0, NULL);
    ASSERT_TRUE(json_is_true(json_object_get(banner, "active")));
    ASSERT_EQ_STR(json_string_value(json_object_get(banner, "level")), "critical");
    json_decref(banner);
    dw_status_doc_release(a);
    ASSERT_EQ_INT(dw_status_doc_get(f.st, "/nope", &a), DW_STATUS_ENOTFOUND);
    ASSERT_NULL(a);
    dw_status_doc_release(NULL);
    char origin[64];
    ASSERT_TRUE(dw_status_cors_origin(f.st, "https://a.example", origin, sizeof origin));
    ASSERT_EQ_STR(origin, "*");
    fx_close(&f);

    fx_open(&f, "status:\n  cors_origins: ['https://app.example']\n"
                "  components: [{id: api, name: API}]\n");
    ASSERT_TRUE(dw_status_cors_origin(f.st, "https://app.example", origin, sizeof origin));
    ASSERT_EQ_STR(origin, "https://app.example");
    ASSERT_FALSE(dw_status_cors_origin(f.st, "https://evil.example", origin, sizeof origin));
    fx_close(&f);
}

/* ---- published documents: references and gzip ---- */

/* True when doc's bytes still hash to its ETag (reads every byte: ASan sees a freed one). */
static bool doc_intact(const struct dw_status_doc *d)
{
    char hex[65];
    dw_sha256_hex(d->body, d->len, hex);
    return strncmp(d->etag + 1, hex, 32) == 0;
}

TEST(a_reference_outlives_rebuilds_and_the_module)
{
    struct fx f;
    fx_open(&f, base_status);
    tick(&f);
    const struct dw_status_doc *old, *cur, *js, *js2;
    ASSERT_EQ_INT(dw_status_doc_get(f.st, "/", &old), 0);
    char *saved = dw_strndup(old->body, old->len);
    ASSERT_EQ_INT(dw_status_doc_get(f.st, "/embed.js", &js), 0);
    ASSERT_EQ_INT(dw_status_override(f.st, "api", "major_outage", "alice", dw_now_ms(), NULL), 0);
    tick(&f); /* the page changes: a new blob; the old one lives on for its holder */
    ASSERT_EQ_INT(dw_status_doc_get(f.st, "/", &cur), 0);
    ASSERT_TRUE(cur != old);
    ASSERT_TRUE(strcmp(cur->etag, old->etag) != 0);
    ASSERT_CONTAINS(cur->body, "Major outage");
    ASSERT_TRUE(old->len == strlen(saved) && memcmp(old->body, saved, old->len) == 0);
    ASSERT_TRUE(doc_intact(old));
    /* unchanged bytes keep their blob, and so their Last-Modified */
    ASSERT_EQ_INT(dw_status_doc_get(f.st, "/embed.js", &js2), 0);
    ASSERT_TRUE(js2 == js);
    dw_status_doc_release(js2);
    dw_status_doc_release(cur);
    advance(&f, 2 * MIN); /* more rebuilds */
    ASSERT_TRUE(doc_intact(old) && doc_intact(js));
    /* the module goes; what readers hold stays */
    dw_status_close(&f.st);
    ASSERT_TRUE(memcmp(old->body, saved, old->len) == 0 && doc_intact(old));
    ASSERT_EQ_STR(old->content_type, "text/html; charset=utf-8");
    ASSERT_CONTAINS(js->body, "banner.json");
    dw_status_doc_release(old);
    dw_status_doc_release(js);
    free(saved);
    fx_close(&f);
}

struct reader {
    struct dw_status *st;
    atomic_bool *stop;
    long reads, bad;
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    static const char *const names[] = {"/", "/api/v2/summary.json", "/badge/api.svg"};
    while (!atomic_load(r->stop)) {
        for (size_t i = 0; i < DW_ARRAY_LEN(names); i++) {
            const struct dw_status_doc *d;
            if (dw_status_doc_get(r->st, names[i], &d) != 0) {
                r->bad++;
                continue;
            }
            r->bad += !doc_intact(d);
            r->reads++;
            dw_status_doc_release(d);
        }
    }
    return NULL;
}

TEST(readers_race_rebuilds)
{
    struct fx f;
    fx_open(&f, base_status);
    tick(&f);
    atomic_bool stop = false;
    struct reader rs[2] = {{f.st, &stop, 0, 0}, {f.st, &stop, 0, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, reader_main, &rs[i]), 0);
    uint64_t gen = dw_status_generation(f.st);
    for (int i = 0; i < 40; i++) { /* every turn changes the page, the summary and the badge */
        ASSERT_EQ_INT(dw_status_override(f.st, "api", i % 2 ? NULL : "partial_outage", "alice",
                                         dw_now_ms(), NULL),
                      0);
        advance(&f, 1000);
    }
    ASSERT_TRUE(dw_status_generation(f.st) >= gen + 40);
    atomic_store(&stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    ASSERT_EQ_INT(rs[0].bad + rs[1].bad, 0);
    ASSERT_TRUE(rs[0].reads > 0 && rs[1].reads > 0);
    fx_close(&f);
}

/* gunzip of a complete gzip member; heap, *n its length. */
static char *gunzip(const char *in, size_t n, size_t *out_len)
{
    size_t cap = 1 << 20;
    char *out = dw_malloc(cap);
    z_stream z = {0};
    ASSERT_EQ_INT(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    ASSERT_EQ_INT(inflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = z.total_out;
    ASSERT_EQ_INT(z.avail_in, 0);
    inflateEnd(&z);
    return out;
}

TEST(large_documents_have_a_gzip_variant)
{
    struct fx f;
    fx_open(&f, base_status);
    tick(&f);
    const struct dw_status_doc *page, *small, *again;
    ASSERT_EQ_INT(dw_status_doc_get(f.st, "/", &page), 0);
    ASSERT_TRUE(page->len >= 1024);
    ASSERT_NOT_NULL(page->gzip);
    ASSERT_TRUE(page->gzip_len < page->len - page->len / 8);
    ASSERT_TRUE((unsigned char)page->gzip[0] == 0x1f && (unsigned char)page->gzip[1] == 0x8b);
    size_t n;
    char *plain = gunzip(page->gzip, page->gzip_len, &n);
    ASSERT_TRUE(n == page->len && memcmp(plain, page->body, n) == 0);
    free(plain);
    /* the variant has its own strong ETag, of its own bytes */
    char hex[65], tag[40];
    dw_sha256_hex(page->gzip, page->gzip_len, hex);
    snprintf(tag, sizeof tag, "\"%.32s\"", hex);
    ASSERT_EQ_STR(page->etag_gzip, tag);
    ASSERT_TRUE(strcmp(page->etag_gzip, page->etag) != 0);
    ASSERT_FALSE(dw_status_not_modified(page->etag_gzip, 0, page->etag, NULL));
    /* the header values are ready-made */
    char date[32];
    dw_status_http_date(page->last_modified_ms, date);
    ASSERT_EQ_STR(page->last_modified, date);
    ASSERT_EQ_STR(page->cache_control, "public, no-cache"); /* HTML: checked on every view */
    /* small documents are sent as they are */
    ASSERT_EQ_INT(dw_status_doc_get(f.st, "/api/v2/status.json", &small), 0);
    ASSERT_TRUE(small->len < 1024);
    ASSERT_EQ_STR(small->cache_control, "public, max-age=10");
    ASSERT_NULL(small->gzip);
    ASSERT_NULL(small->etag_gzip);
    ASSERT_EQ_INT(small->gzip_len, 0);
    dw_status_doc_release(small);
    /* a rebuild with the same bytes keeps the blob, gzip included */
    const struct dw_status_doc *js;
    ASSERT_EQ_INT(dw_status_doc_get(f.st, "/embed.js", &js), 0);
    ASSERT_NOT_NULL(js->gzip);
    advance(&f, 2 * MIN);
    ASSERT_EQ_INT(dw_status_doc_get(f.st, "/embed.js", &again), 0);
    ASSERT_TRUE(again == js);
    dw_status_doc_release(again);
    /* a new cache_max_age reaches the documents with the next rebuild; the bytes' date stays */
    char *sections = dw_asprintf("%s  cache_max_age: 45s\n", base_status);
    struct dw_config *cfg = config_with(sections);
    char *err = NULL;
    ASSERT_EQ_INT(dw_status_apply(f.st, cfg, &err), 0);
    tick(&f);
    ASSERT_EQ_INT(dw_status_doc_get(f.st, "/embed.js", &again), 0);
    ASSERT_TRUE(again != js);
    ASSERT_EQ_STR(again->cache_control, "public, max-age=45");
    ASSERT_EQ_INT(again->last_modified_ms, js->last_modified_ms);
    ASSERT_EQ_STR(again->etag_gzip, js->etag_gzip);
    ASSERT_EQ_STR(js->cache_control, "public, max-age=10"); /* the old one is as it was */
    dw_status_doc_release(again);
    dw_status_doc_release(js);
    dw_status_doc_release(page);
    fx_close(&f);
    dw_config_unref(&cfg);
    free(sections);
}

TEST_MAIN()
