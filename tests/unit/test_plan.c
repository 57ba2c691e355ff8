/*
 * test_plan.c - the plan module: the example config encodes every number of
 * the seed plan, bad configs give exact positioned errors, phase questions
 * are exact at the boundaries, env expansion, token hashing, the generic
 * schema walker, and limits on input size.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "plan/plan.h"
#include "testutil.h"

#ifndef DW_SOURCE_ROOT
#define DW_SOURCE_ROOT "."
#endif

#define EXAMPLE DW_SOURCE_ROOT "/examples/dojopool.yaml"
#define CONFIGS DW_SOURCE_ROOT "/tests/configs"

#define MIN_MS (60LL * 1000)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)

/* 2026-12-01T09:00:00Z */
#define LAUNCH_MS 1796115600000LL

/* ---- helpers ---- */

/* All diagnostics, one formatted line each. Caller frees. */
static struct dw_config *load_example(struct dw_diags *d)
{
    dw_diags_init(d);
    return dw_config_load_file(EXAMPLE, d);
}

static struct dw_config *load_str(const char *yaml, struct dw_diags *d)
{
    dw_diags_init(d);
    return dw_config_load_string("t.yaml", yaml, strlen(yaml), d);
}

static const struct dw_plan_objective *find_objective(const struct dw_plan_objective *o, size_t n,
                                                      const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(o[i].id, id) == 0)
            return &o[i];
    return NULL;
}

/* Asserts an objective: op, target and unit. */
#define ASSERT_OBJECTIVE(list, n, id, op_, target_, unit_)                                         \
    do {                                                                                           \
        const struct dw_plan_objective *o_ = find_objective(list, n, id);                          \
        ASSERT_NOT_NULL(o_);                                                                       \
        ASSERT_EQ_STR(o_->op, op_);                                                                \
        ASSERT_NEAR(o_->target, target_, 1e-9);                                                    \
        ASSERT_EQ_STR(o_->unit, unit_);                                                            \
    } while (0)

static const char *MINIMAL =
    "service: {name: t}\n"
    "launch:\n"
    "  at: 2026-12-01T09:00:00Z\n"
    "  phases:\n"
    "    - {name: critical, start: 0, end: 72h, cadence: {system_health: 15m,\n"
    "       user_experience: 30m, business: 1h, performance_analysis: none}}\n"
    "    - {name: steady, start: 72h, cadence: {system_health: 4h,\n"
    "       user_experience: 24h, business: 24h, performance_analysis: 30d}}\n"
    "priorities:\n"
    "  P0: {response: 5m, resolution: 1h, channels: [phone], escalation: [person:alice]}\n"
    "  P1: {response: 15m, resolution: 4h, channels: [email], escalation: [person:alice]}\n"
    "  P2: {response: 1h, resolution: 8h, channels: [email], escalation: [person:alice]}\n"
    "people:\n"
    "  - {id: alice, name: Alice}\n";

/* MINIMAL plus extra top-level YAML. Caller frees. */
static char *minimal_plus(const char *extra)
{
    return dw_asprintf("%s%s", MINIMAL, extra);
}

/* ---- the example file ---- */

TEST(example_loads_without_errors)
{
    unsetenv("DOJOWATCH_ADMIN_TOKEN");
    unsetenv("DOJOWATCH_RESPONDER_TOKEN");
    unsetenv("DOJOWATCH_VIEWER_TOKEN");
    struct dw_diags d;
    struct dw_config *cfg = load_example(&d);
    char *text = diags_text(&d);
    ASSERT_NOT_NULL(cfg);
    ASSERT_EQ_UINT(dw_diags_errors(&d), 0);
    /* Without the secrets: for each of the three tokens one warning for the
     * unset variable and one for the disabled token, and nothing else. */
    ASSERT_EQ_UINT(d.warnings, 6);
    ASSERT_CONTAINS(text, "auth.tokens[2].token: warning: token is empty; it is disabled");
    ASSERT_CONTAINS(text, "auth.tokens[0].token: warning: environment variable "
                          "DOJOWATCH_ADMIN_TOKEN is not set; using an empty value");
    ASSERT_CONTAINS(text, "auth.tokens[0].token: warning: token is empty; it is disabled");
    size_t n;
    dw_config_tokens(cfg, &n);
    ASSERT_EQ_UINT(n, 0);
    ASSERT_EQ_STR(dw_config_service_name(cfg), "DojoPool");
    ASSERT_EQ_STR(dw_config_path(cfg), EXAMPLE);
    ASSERT_EQ_UINT(strlen(dw_config_hash(cfg)), 64);
    free(text);
    dw_diags_release(&d);
    dw_config_unref(&cfg);
    ASSERT_NULL(cfg);
}

TEST(example_admin_token_from_environment)
{
    setenv("DOJOWATCH_ADMIN_TOKEN", "example-admin-secret-42", 1);
    setenv("DOJOWATCH_RESPONDER_TOKEN", "example-responder-secret-42", 1);
    setenv("DOJOWATCH_VIEWER_TOKEN", "example-viewer-secret-42", 1);
    struct dw_diags d;
    struct dw_config *cfg = load_example(&d);
    unsetenv("DOJOWATCH_ADMIN_TOKEN");
    unsetenv("DOJOWATCH_RESPONDER_TOKEN");
    unsetenv("DOJOWATCH_VIEWER_TOKEN");
    ASSERT_NOT_NULL(cfg);
    ASSERT_EQ_UINT(d.n, 0); /* no errors, no warnings */
    const char *name = NULL;
    ASSERT_EQ_INT(dw_config_token_role(cfg, "example-admin-secret-42", &name), DW_ROLE_ADMIN);
    ASSERT_EQ_STR(name, "admin");
    ASSERT_EQ_INT(dw_config_token_role(cfg, "example-admin-secret-43", &name), DW_ROLE_NONE);
    ASSERT_NULL(name);
    ASSERT_EQ_INT(dw_config_token_role(cfg, "example-responder-secret-42", &name),
                  DW_ROLE_RESPONDER);
    ASSERT_EQ_STR(name, "responder");
    ASSERT_EQ_INT(dw_config_token_role(cfg, "example-viewer-secret-42", &name), DW_ROLE_VIEWER);
    ASSERT_EQ_STR(name, "viewer");
    dw_diags_release(&d);
    dw_config_unref(&cfg);
}

TEST(example_launch_phases_and_cadences)
{
    struct dw_diags d;
    struct dw_config *cfg = load_example(&d);
    ASSERT_NOT_NULL(cfg);
    ASSERT_EQ_INT(dw_config_launch_at(cfg), LAUNCH_MS);
    size_t n;
    const struct dw_plan_phase *ph = dw_config_phases(cfg, &n);
    ASSERT_EQ_UINT(n, 4);
    static const struct {
        const char *name;
        int64_t start, end, cadence[DW_CLASS_COUNT];
    } want[] = {
        /* Phase 1 (0-72 h): 15 min / 30 min / hourly / no analysis */
        {"critical", 0, 72 * HOUR_MS, {15 * MIN_MS, 30 * MIN_MS, HOUR_MS, 0}},
        /* Phase 2 (days 4-7): 30 min / 2 h / 4 h / daily */
        {"stabilization",
         72 * HOUR_MS,
         7 * DAY_MS,
         {30 * MIN_MS, 2 * HOUR_MS, 4 * HOUR_MS, DAY_MS}},
        /* Phase 3 (days 8-30): 2 h / daily / daily / weekly */
        {"optimization", 7 * DAY_MS, 30 * DAY_MS, {2 * HOUR_MS, DAY_MS, DAY_MS, 7 * DAY_MS}},
        /* After day 30: our choice, monthly reviews */
        {"steady", 30 * DAY_MS, INT64_MAX, {4 * HOUR_MS, DAY_MS, DAY_MS, 30 * DAY_MS}},
    };
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ_STR(ph[i].name, want[i].name);
        ASSERT_EQ_INT(ph[i].start_ms, want[i].start);
        ASSERT_EQ_INT(ph[i].end_ms, want[i].end);
        for (int c = 0; c < DW_CLASS_COUNT; c++)
            ASSERT_EQ_INT(ph[i].cadence_ms[c], want[i].cadence[c]);
    }
    dw_diags_release(&d);
    dw_config_unref(&cfg);
}

TEST(example_priorities)
{
    struct dw_diags d;
    struct dw_config *cfg = load_example(&d);
    ASSERT_NOT_NULL(cfg);
    const struct dw_plan_priority *p0 = dw_config_priority(cfg, DW_P0);
    const struct dw_plan_priority *p1 = dw_config_priority(cfg, DW_P1);
    const struct dw_plan_priority *p2 = dw_config_priority(cfg, DW_P2);
    ASSERT_EQ_INT(p0->response_ms, 5 * MIN_MS);
    ASSERT_EQ_INT(p0->resolution_ms, HOUR_MS);
    ASSERT_EQ_INT(p0->status_page_ms, 10 * MIN_MS);
    ASSERT_EQ_UINT(p0->nchannels, 3);
    ASSERT_EQ_STR(p0->channels[0], "phone");
    ASSERT_EQ_STR(p0->channels[1], "sms");
    ASSERT_EQ_STR(p0->channels[2], "slack:incidents");
    ASSERT_EQ_UINT(p0->nescalation, 3);
    ASSERT_EQ_STR(p0->escalation[0].kind, "schedule");
    ASSERT_EQ_STR(p0->escalation[0].id, "primary");
    ASSERT_EQ_STR(p0->escalation[2].kind, "team");
    ASSERT_EQ_STR(p0->escalation[2].id, "engineering");
    ASSERT_FALSE(p0->business_hours_only);
    ASSERT_EQ_STR(p0->communication, "status_page");

    ASSERT_EQ_INT(p1->response_ms, 15 * MIN_MS);
    ASSERT_EQ_INT(p1->resolution_ms, 4 * HOUR_MS);
    ASSERT_EQ_INT(p1->status_page_ms, 0);
    ASSERT_EQ_UINT(p1->nchannels, 2);
    ASSERT_EQ_STR(p1->channels[0], "slack:incidents");
    ASSERT_EQ_STR(p1->channels[1], "email");
    ASSERT_EQ_STR(p1->escalation[1].kind, "person");
    ASSERT_EQ_STR(p1->escalation[1].id, "devops-lead");
    ASSERT_EQ_STR(p1->communication, "internal_status");

    ASSERT_EQ_INT(p2->response_ms, HOUR_MS);
    ASSERT_EQ_INT(p2->resolution_ms, 8 * HOUR_MS);
    ASSERT_EQ_UINT(p2->nchannels, 1);
    ASSERT_EQ_STR(p2->channels[0], "slack:engineering");
    ASSERT_EQ_STR(p2->escalation[0].id, "engineering");
    ASSERT_TRUE(p2->business_hours_only);
    ASSERT_EQ_STR(p2->communication, "daily_summary");
    ASSERT_NULL(dw_config_priority(cfg, DW_PRIORITY_COUNT));
    dw_diags_release(&d);
    dw_config_unref(&cfg);
}

TEST(example_severities)
{
    struct dw_diags d;
    struct dw_config *cfg = load_example(&d);
    ASSERT_NOT_NULL(cfg);
    size_t n;
    const struct dw_plan_severity *s = dw_config_severities(cfg, &n);
    ASSERT_EQ_UINT(n, 4);
    static const char *const names[] = {"Critical", "High", "Medium", "Low"};
    static const char *const first[] = {"Complete system outage", "Partial system outage",
                                        "Minor performance issues", "Cosmetic issues"};
    static const char *const last[] = {"Payment system failure", "Database connectivity issues",
                                       "Third-party service degradation",
                                       "Monitoring false positives"};
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ_INT(s[i].level, (int)i + 1);
        ASSERT_EQ_STR(s[i].name, names[i]);
        ASSERT_EQ_UINT(s[i].nexamples, 4);
        ASSERT_EQ_STR(s[i].examples[0], first[i]);
        ASSERT_EQ_STR(s[i].examples[3], last[i]);
    }
    ASSERT_EQ_STR(s[0].examples[1], "Data loss or corruption");
    ASSERT_EQ_STR(s[0].examples[2], "Security breach");
    ASSERT_EQ_STR(s[2].examples[2], "UI/UX issues affecting usability");
    dw_diags_release(&d);
    dw_config_unref(&cfg);
}

TEST(example_kpis)
{
    struct dw_diags d;
    struct dw_config *cfg = load_example(&d);
    ASSERT_NOT_NULL(cfg);
    size_t n;
    const struct dw_plan_objective *k = dw_config_kpis(cfg, &n);
    ASSERT_EQ_UINT(n, 12);
    ASSERT_OBJECTIVE(k, n, "availability", ">=", 99.5, "percent");
    ASSERT_OBJECTIVE(k, n, "api-latency-p95", "<", 400, "ms");
    ASSERT_OBJECTIVE(k, n, "error-rate", "<", 1, "percent");
    ASSERT_OBJECTIVE(k, n, "throughput-headroom", ">=", 50, "percent_headroom_over_peak");
    ASSERT_OBJECTIVE(k, n, "page-load-time", "<", 3, "seconds");
    ASSERT_OBJECTIVE(k, n, "time-to-interactive", "<", 5, "seconds");
    ASSERT_OBJECTIVE(k, n, "core-web-vitals", "==", 100, "percent_good");
    ASSERT_OBJECTIVE(k, n, "mobile-performance", ">", 90, "lighthouse_score");
    ASSERT_OBJECTIVE(k, n, "user-satisfaction", ">", 4.5, "rating_out_of_5");
    ASSERT_OBJECTIVE(k, n, "feature-adoption", ">", 60, "percent");
    ASSERT_OBJECTIVE(k, n, "retention-7d", ">", 65, "percent");
    ASSERT_OBJECTIVE(k, n, "growth-rate", ">", 0, "new_users_per_day");
    ASSERT_EQ_STR(find_objective(k, n, "availability")->group, "technical");
    ASSERT_EQ_STR(find_objective(k, n, "page-load-time")->group, "user_experience");
    ASSERT_EQ_STR(find_objective(k, n, "retention-7d")->group, "business");
    dw_diags_release(&d);
    dw_config_unref(&cfg);
}

TEST(example_baselines_and_success_criteria)
{
    struct dw_diags d;
    struct dw_config *cfg = load_example(&d);
    ASSERT_NOT_NULL(cfg);
    size_t n;
    const struct dw_plan_objective *b = dw_config_baselines(cfg, &n);
    ASSERT_EQ_UINT(n, 9);
    ASSERT_OBJECTIVE(b, n, "api-get-avg", "<", 200, "ms");
    ASSERT_OBJECTIVE(b, n, "api-write-avg", "<", 500, "ms");
    ASSERT_OBJECTIVE(b, n, "api-complex-avg", "<", 1000, "ms");
    ASSERT_OBJECTIVE(b, n, "db-query-avg", "<", 100, "ms");
    ASSERT_OBJECTIVE(b, n, "db-pool-utilization", "<", 80, "percent");
    ASSERT_OBJECTIVE(b, n, "db-cache-hit-rate", ">", 85, "percent");
    ASSERT_OBJECTIVE(b, n, "fcp", "<", 1.5, "seconds");
    ASSERT_OBJECTIVE(b, n, "lcp", "<", 2.5, "seconds");
    ASSERT_OBJECTIVE(b, n, "cls", "<", 0.1, "score");
    ASSERT_EQ_STR(find_objective(b, n, "db-query-avg")->group, "database");
    ASSERT_EQ_STR(find_objective(b, n, "lcp")->group, "frontend");

    const struct dw_plan_objective *s = dw_config_success_criteria(cfg, &n);
    ASSERT_EQ_UINT(n, 6);
    ASSERT_OBJECTIVE(s, n, "uptime", ">", 99.5, "percent");
    ASSERT_OBJECTIVE(s, n, "satisfaction", ">", 4.5, "rating_out_of_5");
    ASSERT_OBJECTIVE(s, n, "performance", "==", 100, "percent_kpis_met");
    ASSERT_OBJECTIVE(s, n, "business-growth", ">", 0, "new_users_per_day");
    ASSERT_OBJECTIVE(s, n, "incident-response", "<", 15, "minutes");
    ASSERT_OBJECTIVE(s, n, "retention", ">", 65, "percent");
    dw_diags_release(&d);
    dw_config_unref(&cfg);
}

TEST(example_dashboard_checks)
{
    struct dw_diags d;
    struct dw_config *cfg = load_example(&d);
    ASSERT_NOT_NULL(cfg);
    size_t n, per_class[DW_CLASS_COUNT] = {0}, measurable = 0;
    const struct dw_plan_check *c = dw_config_checks(cfg, &n);
    ASSERT_EQ_UINT(n, 15);
    for (size_t i = 0; i < n; i++) {
        per_class[c[i].cls]++;
        measurable += c[i].op != NULL;
    }
    ASSERT_EQ_UINT(per_class[DW_CLASS_SYSTEM_HEALTH], 6);
    ASSERT_EQ_UINT(per_class[DW_CLASS_USER_EXPERIENCE], 5);
    ASSERT_EQ_UINT(per_class[DW_CLASS_BUSINESS], 4);
    ASSERT_EQ_UINT(measurable, 8);
    static const struct {
        const char *id, *op;
        double target;
        const char *unit;
    } want[] = {
        {"api-response-time", "<", 500, "ms"},
        {"error-rate", "<", 2, "percent"},
        {"memory-cpu", "<", 90, "percent"},
        {"page-load-times", "<", 3, "seconds"},
        {"js-error-rate", "<", 1, "errors_per_session"},
        {"onboarding-completion", ">", 50, "percent"},
        {"core-feature-accessibility", ">=", 100, "percent"},
    };
    for (size_t w = 0; w < DW_ARRAY_LEN(want); w++) {
        size_t i = 0;
        while (i < n && strcmp(c[i].id, want[w].id) != 0)
            i++;
        ASSERT_TRUE(i < n);
        ASSERT_EQ_STR(c[i].op, want[w].op);
        ASSERT_NEAR(c[i].target, want[w].target, 1e-9);
        ASSERT_EQ_STR(c[i].unit, want[w].unit);
    }
    ASSERT_EQ_STR(c[4].title, "WebSocket connection stability");
    ASSERT_NULL(c[4].op);
    ASSERT_EQ_INT(c[14].cls, DW_CLASS_BUSINESS);
    ASSERT_EQ_STR(c[14].title, "Revenue metrics (if applicable)");
    dw_diags_release(&d);
    dw_config_unref(&cfg);
}

TEST(example_capacity_retention_server)
{
    struct dw_diags d;
    struct dw_config *cfg = load_example(&d);
    ASSERT_NOT_NULL(cfg);
    size_t n;
    const struct dw_plan_growth *g = dw_config_growth(cfg, &n);
    ASSERT_EQ_UINT(n, 3);
    ASSERT_EQ_STR(g[0].horizon, "month_1");
    ASSERT_NEAR(g[0].user_base_increase_percent, 50, 1e-9);
    ASSERT_EQ_STR(g[1].horizon, "month_3");
    ASSERT_NEAR(g[1].user_base_increase_percent, 200, 1e-9);
    ASSERT_EQ_STR(g[2].horizon, "month_6");
    ASSERT_NEAR(g[2].user_base_increase_percent, 500, 1e-9);
    ASSERT_NEAR(dw_config_autoscale_cpu_percent(cfg), 70, 1e-9);
    ASSERT_EQ_INT(dw_config_retention_raw_ms(cfg), 90 * DAY_MS);
    ASSERT_EQ_INT(dw_config_retention_aggregated_ms(cfg), 365 * DAY_MS);

    const struct dw_plan_limits *l = dw_config_limits(cfg);
    ASSERT_EQ_UINT(l->max_body_bytes, 1u << 20);
    ASSERT_EQ_UINT(l->max_ingest_body_bytes, 32u << 20);
    ASSERT_EQ_UINT(l->max_header_bytes, 16u << 10);
    ASSERT_EQ_UINT(l->max_connections, 512);
    ASSERT_EQ_INT(l->connection_timeout_ms, 30000);
    ASSERT_EQ_STR(dw_config_listen(cfg), "127.0.0.1:9107");
    ASSERT_EQ_STR(dw_config_data_dir(cfg), "./data");
    ASSERT_NULL(dw_config_external_url(cfg));
    ASSERT_EQ_STR(dw_config_status_page_url(cfg), "https://status.dojopool.com");
    ASSERT_EQ_STR(dw_config_dashboard_url(cfg),
                  "http://grafana.production.dojopool.com/d/launch-critical-metrics");
    dw_diags_release(&d);
    dw_config_unref(&cfg);
}

TEST(example_people_teams_contacts_channels)
{
    struct dw_diags d;
    struct dw_config *cfg = load_example(&d);
    ASSERT_NOT_NULL(cfg);
    size_t n;
    dw_config_people(cfg, &n);
    ASSERT_EQ_UINT(n, 9);
    const struct dw_plan_person *p = dw_config_find_person(cfg, "primary-engineer");
    ASSERT_NOT_NULL(p);
    ASSERT_EQ_STR(p->name, "Primary Engineer"); /* placeholder default */
    ASSERT_EQ_STR(p->phone, "+15550100");
    ASSERT_CONTAINS(p->role, "24/7 on-call rotation");
    ASSERT_NULL(dw_config_find_person(cfg, "nobody"));

    const struct dw_plan_team *t = dw_config_find_team(cfg, "engineering");
    ASSERT_NOT_NULL(t);
    ASSERT_EQ_STR(t->lead, "cto");
    ASSERT_EQ_UINT(t->nmembers, 4);
    dw_config_teams(cfg, &n);
    ASSERT_EQ_UINT(n, 5);

    const struct dw_plan_contact *c = dw_config_contacts(cfg, &n);
    ASSERT_EQ_UINT(n, 10);
    size_t technical = 0, business = 0, external = 0;
    for (size_t i = 0; i < n; i++) {
        technical += strcmp(c[i].kind, "technical") == 0;
        business += strcmp(c[i].kind, "business") == 0;
        external += strcmp(c[i].kind, "external") == 0 && c[i].detail && !c[i].person;
    }
    ASSERT_EQ_UINT(technical, 4);
    ASSERT_EQ_UINT(business, 3);
    ASSERT_EQ_UINT(external, 3);
    ASSERT_EQ_STR(c[3].role, "CTO");
    ASSERT_EQ_STR(c[3].person, "cto");

    ASSERT_EQ_STR(dw_config_channel(cfg, "monitoring"), "#production-monitoring");
    ASSERT_EQ_STR(dw_config_channel(cfg, "incidents"), "#incidents");
    ASSERT_EQ_STR(dw_config_channel(cfg, "engineering"), "#engineering");
    ASSERT_NULL(dw_config_channel(cfg, "random"));
    dw_config_channels(cfg, &n);
    ASSERT_EQ_UINT(n, 3);
    dw_diags_release(&d);
    dw_config_unref(&cfg);
}

TEST(example_later_sections_kept_as_yaml)
{
    struct dw_diags d;
    struct dw_config *cfg = load_example(&d);
    ASSERT_NOT_NULL(cfg);
    ASSERT_TRUE(dw_config_has_schedule(cfg, "primary"));
    ASSERT_TRUE(dw_config_has_schedule(cfg, "secondary"));
    ASSERT_FALSE(dw_config_has_schedule(cfg, "tertiary"));
    const char *oncall = dw_config_section_yaml(cfg, "oncall");
    ASSERT_CONTAINS(oncall, "schedules:");
    ASSERT_CONTAINS(oncall, "primary-engineer");
    ASSERT_CONTAINS(dw_config_section_yaml(cfg, "incidents"), "post_incident");
    ASSERT_CONTAINS(dw_config_section_yaml(cfg, "incidents"), "every: 1h");
    ASSERT_CONTAINS(dw_config_section_yaml(cfg, "rules"), "dojopool.rules.yml");
    ASSERT_CONTAINS(dw_config_section_yaml(cfg, "dashboards"), "critical-metrics");
    ASSERT_NULL(dw_config_section_yaml(cfg, "people")); /* not a later-issue section */
    dw_diags_release(&d);
    dw_config_unref(&cfg);
}

TEST(example_loaded_many_times_and_shared)
{
    /* Under ASan any leak in load/unref fails the run at exit. */
    for (int i = 0; i < 25; i++) {
        struct dw_diags d;
        struct dw_config *cfg = load_example(&d);
        ASSERT_NOT_NULL(cfg);
        struct dw_config *other = dw_config_ref(cfg);
        ASSERT_TRUE(other == cfg);
        dw_config_unref(&cfg);
        ASSERT_NULL(cfg);
        ASSERT_EQ_STR(dw_config_service_name(other), "DojoPool"); /* still alive */
        dw_config_unref(&other);
        dw_diags_release(&d);
    }
    struct dw_config *none = NULL;
    dw_config_unref(&none); /* NULL is a no-op */
    dw_config_unref(NULL);
}

TEST(check_file_summary)
{
    struct dw_diags d;
    struct dw_buf s;
    dw_diags_init(&d);
    dw_buf_init(&s, 0);
    ASSERT_EQ_INT(dw_config_check_file(EXAMPLE, &d, &s, NULL), 0);
    ASSERT_CONTAINS(s.data, "service: DojoPool (production)");
    ASSERT_CONTAINS(s.data, "launch: 2026-12-01T09:00:00Z");
    ASSERT_CONTAINS(s.data, "stabilization [3d, 1w)");
    ASSERT_CONTAINS(s.data, "steady [30d, open)");
    ASSERT_CONTAINS(s.data, "P0 respond 5m resolve 1h");
    ASSERT_CONTAINS(s.data, "sections: scrape, probes, rules, notify, oncall, status, dashboards, "
                            "incidents, alerting");
    dw_buf_clear(&s);
    dw_diags_release(&d);
    ASSERT_EQ_INT(dw_config_check_file(CONFIGS "/bad/gap.yaml", &d, &s, NULL), -1);
    ASSERT_EQ_UINT(dw_diags_errors(&d), 1);
    ASSERT_EQ_UINT(s.len, 0);
    dw_diags_release(&d);
    ASSERT_EQ_INT(dw_config_check_file(CONFIGS "/does-not-exist.yaml", &d, NULL, NULL), -1);
    ASSERT_EQ_UINT(dw_diags_errors(&d), 1);
    ASSERT_CONTAINS(d.items[0].msg, "cannot open");
    dw_diags_release(&d);
    dw_buf_release(&s);
}

/* ---- plan questions at the boundaries ---- */

static const char *phase_name_at(const struct dw_config *cfg, int64_t t)
{
    return dw_plan_phase_at(cfg, t)->name;
}

TEST(phase_at_boundaries)
{
    struct dw_diags d;
    struct dw_config *cfg = load_example(&d);
    ASSERT_NOT_NULL(cfg);
    const int64_t L = dw_config_launch_at(cfg);
    static const struct {
        int64_t offset;
        const char *phase;
    } cases[] = {
        {-365 * DAY_MS, "critical"},
        {-1, "critical"},
        {0, "critical"},
        {1, "critical"},
        {72 * HOUR_MS - 1, "critical"},
        {72 * HOUR_MS, "stabilization"},
        {72 * HOUR_MS + 1, "stabilization"},
        {7 * DAY_MS - 1, "stabilization"},
        {7 * DAY_MS, "optimization"},
        {7 * DAY_MS + 1, "optimization"},
        {30 * DAY_MS - 1, "optimization"},
        {30 * DAY_MS, "steady"},
        {30 * DAY_MS + 1, "steady"},
        {3650 * DAY_MS, "steady"},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(cases); i++)
        ASSERT_EQ_STR(phase_name_at(cfg, L + cases[i].offset), cases[i].phase);
    ASSERT_TRUE(dw_plan_before_launch(cfg, L - 1));
    ASSERT_FALSE(dw_plan_before_launch(cfg, L));
    ASSERT_FALSE(dw_plan_before_launch(cfg, L + 1));
    /* Far ends of time do not overflow. */
    ASSERT_EQ_STR(phase_name_at(cfg, INT64_MIN), "critical");
    ASSERT_EQ_STR(phase_name_at(cfg, INT64_MAX), "steady");
    dw_diags_release(&d);
    dw_config_unref(&cfg);
}

TEST(interval_at_boundaries)
{
    struct dw_diags d;
    struct dw_config *cfg = load_example(&d);
    ASSERT_NOT_NULL(cfg);
    const int64_t L = dw_config_launch_at(cfg);
    const enum dw_check_class SH = DW_CLASS_SYSTEM_HEALTH, UX = DW_CLASS_USER_EXPERIENCE,
                              BZ = DW_CLASS_BUSINESS, PA = DW_CLASS_PERFORMANCE_ANALYSIS;
    /* Before launch the plan is armed at the critical cadence. */
    ASSERT_EQ_INT(dw_plan_interval_at(cfg, SH, L - 1), 15 * MIN_MS);
    ASSERT_EQ_INT(dw_plan_interval_at(cfg, PA, L - 1), 0);
    ASSERT_EQ_INT(dw_plan_interval_at(cfg, SH, L + 72 * HOUR_MS - 1), 15 * MIN_MS);
    ASSERT_EQ_INT(dw_plan_interval_at(cfg, SH, L + 72 * HOUR_MS), 30 * MIN_MS);
    ASSERT_EQ_INT(dw_plan_interval_at(cfg, UX, L + 72 * HOUR_MS - 1), 30 * MIN_MS);
    ASSERT_EQ_INT(dw_plan_interval_at(cfg, UX, L + 72 * HOUR_MS), 2 * HOUR_MS);
    ASSERT_EQ_INT(dw_plan_interval_at(cfg, PA, L + 72 * HOUR_MS - 1), 0);
    ASSERT_EQ_INT(dw_plan_interval_at(cfg, PA, L + 72 * HOUR_MS + 1), DAY_MS);
    ASSERT_EQ_INT(dw_plan_interval_at(cfg, BZ, L + 7 * DAY_MS - 1), 4 * HOUR_MS);
    ASSERT_EQ_INT(dw_plan_interval_at(cfg, BZ, L + 7 * DAY_MS), DAY_MS);
    ASSERT_EQ_INT(dw_plan_interval_at(cfg, PA, L + 7 * DAY_MS), 7 * DAY_MS);
    ASSERT_EQ_INT(dw_plan_interval_at(cfg, SH, L + 7 * DAY_MS + 1), 2 * HOUR_MS);
    ASSERT_EQ_INT(dw_plan_interval_at(cfg, SH, L + 30 * DAY_MS - 1), 2 * HOUR_MS);
    ASSERT_EQ_INT(dw_plan_interval_at(cfg, SH, L + 30 * DAY_MS), 4 * HOUR_MS);
    ASSERT_EQ_INT(dw_plan_interval_at(cfg, PA, L + 30 * DAY_MS + 1), 30 * DAY_MS);
    ASSERT_EQ_INT(dw_plan_interval_at(cfg, DW_CLASS_COUNT, L), 0);

    /* Through the injectable clock, as the scheduler will ask. */
    dw_clock_set_manual(L + 72 * HOUR_MS - 1);
    ASSERT_EQ_INT(dw_plan_interval_at(cfg, SH, dw_now_ms()), 15 * MIN_MS);
    dw_clock_advance(1);
    ASSERT_EQ_INT(dw_plan_interval_at(cfg, SH, dw_now_ms()), 30 * MIN_MS);
    dw_clock_set_real();
    dw_diags_release(&d);
    dw_config_unref(&cfg);
}

TEST(next_phase_change)
{
    struct dw_diags d;
    struct dw_config *cfg = load_example(&d);
    ASSERT_NOT_NULL(cfg);
    const int64_t L = dw_config_launch_at(cfg);
    ASSERT_EQ_INT(dw_plan_next_phase_change(cfg, L - DAY_MS), L + 72 * HOUR_MS);
    ASSERT_EQ_INT(dw_plan_next_phase_change(cfg, L + 72 * HOUR_MS - 1), L + 72 * HOUR_MS);
    ASSERT_EQ_INT(dw_plan_next_phase_change(cfg, L + 72 * HOUR_MS), L + 7 * DAY_MS);
    ASSERT_EQ_INT(dw_plan_next_phase_change(cfg, L + 7 * DAY_MS), L + 30 * DAY_MS);
    ASSERT_EQ_INT(dw_plan_next_phase_change(cfg, L + 30 * DAY_MS - 1), L + 30 * DAY_MS);
    ASSERT_EQ_INT(dw_plan_next_phase_change(cfg, L + 30 * DAY_MS), INT64_MAX);
    dw_diags_release(&d);
    dw_config_unref(&cfg);
}

TEST(closed_last_phase_stays_in_force)
{
    char *yaml = dw_asprintf("%s", MINIMAL);
    char *open_phase = strstr(yaml, "{name: steady, start: 72h,");
    ASSERT_NOT_NULL(open_phase);
    char *fixed =
        dw_asprintf("%.*s{name: steady, start: 72h, end: 30d,%s", (int)(open_phase - yaml), yaml,
                    open_phase + strlen("{name: steady, start: 72h,"));
    struct dw_diags d;
    struct dw_config *cfg = load_str(fixed, &d);
    ASSERT_NOT_NULL(cfg);
    const int64_t L = dw_config_launch_at(cfg);
    ASSERT_EQ_STR(phase_name_at(cfg, L + 31 * DAY_MS), "steady");
    ASSERT_EQ_INT(dw_plan_next_phase_change(cfg, L + 29 * DAY_MS), L + 30 * DAY_MS);
    ASSERT_EQ_INT(dw_plan_next_phase_change(cfg, L + 31 * DAY_MS), INT64_MAX);
    dw_config_unref(&cfg);
    dw_diags_release(&d);
    free(fixed);
    free(yaml);
}

/* ---- bad configurations: one exact diagnostic each ---- */

static const struct {
    const char *file, *diag;
} bad_files[] = {
    {"unknown_key", "2:20: service.enviroment: unknown key (did you mean \"environment\"?)"},
    {"wrong_type", "2:18: service.name: expected a string, got a sequence"},
    {"bad_duration", "9:32: launch.phases[0].cadence.system_health: expected a duration like "
                     "15m or none, got \"fifteen\""},
    {"overlap", "11:14: launch.phases[1].start: phase \"steady\" (starts at 2d) overlaps phase "
                "\"critical\" (ends at 3d)"},
    {"gap", "11:14: launch.phases[1].start: gap between phase \"critical\" (ends at 3d) and "
            "phase \"steady\" (starts at 4d)"},
    {"undefined_person_in_team",
     "20:51: teams[0].members[1]: undefined person \"bob\" (known: alice)"},
    {"undefined_team_in_escalation",
     "14:70: priorities.P0.escalation[0]: undefined team \"ops\" (none is defined; define it "
     "in teams[].id)"},
    {"undefined_person_in_escalation",
     "14:70: priorities.P0.escalation[0]: undefined person \"alcie\" (did you mean \"alice\"?)"},
    {"undefined_schedule",
     "14:70: priorities.P0.escalation[0]: undefined schedule \"primary\" (none is defined; "
     "define it in oncall.schedules[].id)"},
    {"undefined_channel",
     "14:56: priorities.P0.channels[1]: undefined channel \"ops\" (known: incidents)"},
    {"bad_role", "21:24: auth.tokens[0].role: expected one of viewer, responder, admin, got "
                 "\"root\""},
    {"bad_token_sha256", "21:46: auth.tokens[0].token_sha256: expected 64 hexadecimal digits "
                         "(a SHA-256), got 6 characters"},
    {"duplicate_id", "19:10: people[1].id: duplicate person id \"alice\" (first defined at "
                     "line 18)"},
    {"yaml_syntax", "14:82: invalid YAML: mismatched flow mapping end"},
    {"missing_required", "15:8: priorities.P1.resolution: missing required key"},
    {"bad_rfc3339", "4:7: launch.at: expected an RFC 3339 time like 2026-12-01T09:00:00Z, got "
                    "\"2026-12-01 09:00\""},
    {"bad_bytes", "21:21: server.limits.max_body_bytes: expected a byte size like 32MiB, got "
                  "\"1 MiB\""},
    {"bytes_out_of_range", "21:23: server.limits.max_header_bytes: must be between 1KiB and "
                           "1MiB, got 512"},
    {"duplicate_key", "4:3: service.name: duplicate key (first at line 3)"},
    {"response_after_resolution", "14:18: priorities.P0.response: response time (2h) is "
                                  "longer than resolution time (1h)"},
    {"missing_priority", "14:3: priorities.P2: missing required key"},
    {"open_phase_not_last", "10:14: launch.phases[1].start: phase \"critical\" has no end, "
                            "but only the last phase may omit it"},
    {"missing_cadence_class",
     "9:17: launch.phases[0].cadence.performance_analysis: missing required key"},
    {"bad_env_reference",
     "2:18: service.name: bad environment reference; write ${NAME} or ${NAME:-default}"},
};

TEST(bad_config_files)
{
    for (size_t i = 0; i < DW_ARRAY_LEN(bad_files); i++) {
        char *path = dw_asprintf(CONFIGS "/bad/%s.yaml", bad_files[i].file);
        char *want = dw_asprintf("%s:%s", path, bad_files[i].diag);
        struct dw_diags d;
        dw_diags_init(&d);
        struct dw_config *cfg = dw_config_load_file(path, &d);
        if (cfg || dw_diags_errors(&d) != 1) {
            char *text = diags_text(&d);
            fprintf(stderr, "  %s:\n%s", bad_files[i].file, text);
            free(text);
        }
        ASSERT_NULL(cfg);
        ASSERT_EQ_UINT(dw_diags_errors(&d), 1);
        struct dw_buf got;
        dw_buf_init(&got, 0);
        dw_diag_format(&d.items[d.n - 1], &got);
        ASSERT_EQ_STR(got.data, want);
        dw_buf_release(&got);
        dw_diags_release(&d);
        free(want);
        free(path);
    }
}

TEST(good_minimal_file)
{
    struct dw_diags d;
    dw_diags_init(&d);
    struct dw_config *cfg = dw_config_load_file(CONFIGS "/good/minimal.yaml", &d);
    ASSERT_NOT_NULL(cfg);
    ASSERT_EQ_UINT(d.n, 0);
    /* Defaults of everything not written. */
    ASSERT_EQ_STR(dw_config_listen(cfg), "127.0.0.1:9107");
    ASSERT_EQ_UINT(dw_config_limits(cfg)->max_ingest_body_bytes, 32u << 20);
    ASSERT_EQ_INT(dw_config_retention_raw_ms(cfg), 90 * DAY_MS);
    const struct dw_plan_storage *st = dw_config_storage(cfg);
    ASSERT_EQ_INT(st->wal_fsync, DW_PLAN_FSYNC_INTERVAL);
    ASSERT_EQ_INT(st->wal_fsync_interval_ms, 1000);
    ASSERT_EQ_INT(st->max_series, 1000000);
    ASSERT_EQ_INT(st->max_labels_per_series, 64);
    ASSERT_EQ_UINT(st->max_label_name_bytes, 256);
    ASSERT_EQ_UINT(st->max_label_value_bytes, 4096);
    ASSERT_EQ_INT(st->max_samples_per_request, 1000000);
    const struct dw_plan_query *q = dw_config_query(cfg);
    ASSERT_EQ_INT(q->max_samples, 50000000);
    ASSERT_EQ_INT(q->timeout_ms, 120000);
    ASSERT_EQ_INT(q->lookback_ms, 300000);
    ASSERT_EQ_UINT(q->max_length, 65536);
    ASSERT_FALSE(dw_config_priority(cfg, DW_P2)->business_hours_only);
    size_t n;
    dw_config_severities(cfg, &n);
    ASSERT_EQ_UINT(n, 0);
    dw_config_unref(&cfg);
    dw_diags_release(&d);
}

/* Inline variants: problems that need more than one line to set up, or
 * several errors collected at once. */
TEST(all_errors_are_collected)
{
    char *yaml = minimal_plus("teams:\n"
                              "  - {id: eng, name: Eng, lead: zed, members: [alice, bob]}\n"
                              "severities:\n"
                              "  - {level: 5, name: x}\n"
                              "  - {level: 2, name: y}\n"
                              "  - {level: 2, name: z}\n"
                              "slack:\n"
                              "  channels: {incidents: incidents}\n"
                              "retention: {raw: 1y, aggregated: 90d}\n"
                              "bogus: 1\n");
    struct dw_diags d;
    struct dw_config *cfg = load_str(yaml, &d);
    char *text = diags_text(&d);
    ASSERT_NULL(cfg);
    ASSERT_EQ_UINT(dw_diags_errors(&d), 7);
    ASSERT_CONTAINS(text, "t.yaml:16:32: teams[0].lead: undefined person \"zed\" (known: alice)\n");
    ASSERT_CONTAINS(text, "t.yaml:16:54: teams[0].members[1]: undefined person \"bob\"");
    ASSERT_CONTAINS(text, "t.yaml:18:13: severities[0].level: must be between 1 and 4, got 5\n");
    ASSERT_CONTAINS(text, "t.yaml:20:13: severities[2].level: duplicate severity level 2\n");
    ASSERT_CONTAINS(text, "t.yaml:22:25: slack.channels.incidents: a Slack channel name "
                          "starts with #, got \"incidents\"\n");
    ASSERT_CONTAINS(text, "t.yaml:23:34: retention.aggregated: aggregated retention must be "
                          "at least the raw retention\n");
    ASSERT_CONTAINS(text, "t.yaml:24:1: bogus: unknown key\n");
    free(text);
    dw_diags_release(&d);
    free(yaml);
}

TEST(more_bad_values)
{
    static const struct {
        const char *extra, *diag;
    } cases[] = {
        {"checks:\n  - {id: c, title: C, class: health}\n",
         "t.yaml:16:30: checks[0].class: expected one of system_health, user_experience, "
         "business, performance_analysis, got \"health\""},
        {"checks:\n  - {id: c, title: C, class: business, op: \"<\"}\n",
         "t.yaml:16:45: checks[0].op: op needs a target"},
        {"kpis:\n  - {id: k, name: K, op: \"=>\", target: 1, unit: ms}\n",
         "t.yaml:16:27: kpis[0].op: expected one of <, <=, >, >=, ==, got \"=>\""},
        {"kpis:\n  - {id: k, name: K, op: \"<\", target: fast, unit: ms}\n",
         "t.yaml:16:39: kpis[0].target: expected a number, got \"fast\""},
        {"contacts:\n  - {role: CTO, kind: technical}\n",
         "t.yaml:16:6: contacts[0]: a contact needs either person or detail"},
        {"contacts:\n  - {role: CTO, kind: board, person: alice}\n",
         "t.yaml:16:23: contacts[0].kind: expected one of technical, business, external, got "
         "\"board\""},
        {"server: {limits: {max_connections: many}}\n",
         "t.yaml:15:36: server.limits.max_connections: expected an integer, got \"many\""},
        {"server: {limits: {connection_timeout: 2h}}\n",
         "t.yaml:15:39: server.limits.connection_timeout: must be between 1s and 1h, got 2h"},
        {"capacity: {autoscale_cpu_percent: 170}\n",
         "t.yaml:15:35: capacity.autoscale_cpu_percent: must be between 1 and 100, got 170"},
        {"auth:\n  tokens:\n    - {name: a, role: admin}\n",
         "t.yaml:17:8: auth.tokens[0]: missing token or token_sha256"},
        {"auth:\n  tokens:\n    - {name: a, role: admin, token: x, token_sha256: "
         "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}\n",
         "t.yaml:17:54: auth.tokens[0].token_sha256: give either token or token_sha256, not both"},
        {"oncall: {schedules: [{name: no-id}]}\n",
         "t.yaml:15:23: oncall.schedules[0].id: missing required key"},
        {"capacity: 3\n", "t.yaml:15:11: capacity: expected a mapping, got a scalar"},
        {"storage: {wal_fsync: sometimes}\n",
         "t.yaml:15:22: storage.wal_fsync: expected one of interval, never, always, got "
         "\"sometimes\""},
        {"storage: {max_series: 0}\n",
         "t.yaml:15:23: storage.max_series: must be between 1 and 1000000000, got 0"},
        {"query: {timeout: 2h}\n",
         "t.yaml:15:18: query.timeout: must be between 100ms and 1h, got 2h"},
        {"  - {id: bob, name: Bob, emial: b@x}\n", /* continues the people list */
         "t.yaml:15:26: people[1].emial: unknown key (did you mean \"email\"?)"},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(cases); i++) {
        char *yaml = minimal_plus(cases[i].extra);
        struct dw_diags d;
        struct dw_config *cfg = load_str(yaml, &d);
        char *text = diags_text(&d);
        ASSERT_NULL(cfg);
        ASSERT_CONTAINS(text, cases[i].diag);
        free(text);
        dw_diags_release(&d);
        free(yaml);
    }
}

TEST(root_must_be_a_mapping_and_not_empty)
{
    struct dw_diags d;
    ASSERT_NULL(load_str("- a\n- b\n", &d));
    char *text = diags_text(&d);
    ASSERT_EQ_STR(text, "t.yaml:1:3: expected a mapping, got a sequence\n");
    free(text);
    dw_diags_release(&d);
    ASSERT_NULL(load_str("# nothing but a comment\n", &d));
    text = diags_text(&d);
    ASSERT_EQ_STR(text, "t.yaml:1:1: no YAML document (is the file empty?)\n");
    free(text);
    dw_diags_release(&d);
    ASSERT_NULL(load_str("service: {name: t}\n", &d));
    text = diags_text(&d);
    ASSERT_EQ_STR(text, "t.yaml:1:1: launch: missing required key\n"
                        "t.yaml:1:1: priorities: missing required key\n");
    free(text);
    dw_diags_release(&d);
}

TEST(yaml_aliases_are_resolved)
{
    char *yaml = minimal_plus("x-cadence: &fast {system_health: 1m}\n");
    struct dw_diags d;
    /* x-cadence is not a known key: the alias machinery works, the key does not. */
    ASSERT_NULL(load_str(yaml, &d));
    ASSERT_EQ_UINT(dw_diags_errors(&d), 1);
    ASSERT_CONTAINS(d.items[0].msg, "unknown key");
    dw_diags_release(&d);
    free(yaml);
    const char *aliased =
        "service: {name: t}\n"
        "launch:\n"
        "  at: 2026-12-01T09:00:00Z\n"
        "  phases:\n"
        "    - {name: only, start: 0, cadence: &c {system_health: 15m, user_experience: 30m,\n"
        "       business: 1h, performance_analysis: none}}\n"
        "priorities:\n"
        "  P0: &p {response: 5m, resolution: 1h, channels: [phone], escalation: [person:a]}\n"
        "  P1: *p\n"
        "  P2: *p\n"
        "people: [{id: a, name: A}]\n";
    struct dw_config *cfg = load_str(aliased, &d);
    ASSERT_NOT_NULL(cfg);
    ASSERT_EQ_INT(dw_config_priority(cfg, DW_P2)->resolution_ms, HOUR_MS);
    dw_config_unref(&cfg);
    dw_diags_release(&d);
}

/* ---- environment expansion ---- */

TEST(env_expansion_rules)
{
    bool unset;
    setenv("DW_T_SET", "value", 1);
    setenv("DW_T_EMPTY", "", 1);
    unsetenv("DW_T_UNSET");
    char *s = dw_plan_expand_env("a-${DW_T_SET}-b", &unset);
    ASSERT_EQ_STR(s, "a-value-b");
    ASSERT_FALSE(unset);
    free(s);
    s = dw_plan_expand_env("${DW_T_UNSET:-dflt}|${DW_T_EMPTY:-e}|${DW_T_SET:-x}", &unset);
    ASSERT_EQ_STR(s, "dflt|e|value");
    ASSERT_FALSE(unset);
    free(s);
    s = dw_plan_expand_env("[${DW_T_UNSET}]", &unset);
    ASSERT_EQ_STR(s, "[]");
    ASSERT_TRUE(unset);
    free(s);
    s = dw_plan_expand_env("cost $5, literal $${DW_T_SET}, $", &unset);
    ASSERT_EQ_STR(s, "cost $5, literal ${DW_T_SET}, $");
    free(s);
    ASSERT_NULL(dw_plan_expand_env("${1X}", NULL));
    ASSERT_NULL(dw_plan_expand_env("${DW_T_SET", NULL));
    ASSERT_NULL(dw_plan_expand_env("${DW_T_SET:-no end", NULL));
    ASSERT_NULL(dw_plan_expand_env("${}", NULL));
    ASSERT_NULL(dw_plan_expand_env("${A-B}", NULL));
    unsetenv("DW_T_SET");
    unsetenv("DW_T_EMPTY");
}

TEST(env_expansion_in_config_values)
{
    setenv("DW_T_NAME", "from-env", 1);
    setenv("DW_T_TIMEOUT", "45s", 1);
    unsetenv("DW_T_MISSING");
    const char *rest = MINIMAL + strlen("service: {name: t}\n");
    char *full = dw_asprintf("service: {name: \"${DW_T_NAME}\", environment: \"${DW_T_MISSING}\"}\n"
                             "%sserver: {limits: {connection_timeout: \"${DW_T_TIMEOUT}\"}}\n",
                             rest);
    struct dw_diags d;
    struct dw_config *cfg = load_str(full, &d);
    char *text = diags_text(&d);
    ASSERT_NOT_NULL(cfg);
    ASSERT_EQ_STR(dw_config_service_name(cfg), "from-env");
    ASSERT_EQ_INT(dw_config_limits(cfg)->connection_timeout_ms, 45000);
    ASSERT_EQ_UINT(d.warnings, 1);
    ASSERT_EQ_STR(text, "t.yaml:1:47: service.environment: warning: environment variable "
                        "DW_T_MISSING is not set; using an empty value\n");
    dw_config_unref(&cfg);
    dw_diags_release(&d);
    free(text);
    free(full);
    unsetenv("DW_T_NAME");
    unsetenv("DW_T_TIMEOUT");
}

/* ---- tokens ---- */

static bool memory_contains(const void *mem, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp((const char *)mem + i, needle, k) == 0)
            return true;
    return false;
}

TEST(tokens_are_hashed_and_roles_resolve)
{
    static const char secret[] = "responder-plain-secret-0123456789";
    char other_hex[65];
    dw_sha256_hex("viewer-secret", strlen("viewer-secret"), other_hex);
    for (char *p = other_hex; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A'); /* upper case is accepted and normalised */
    setenv("DW_T_TOKEN", secret, 1);
    char *extra = dw_asprintf("auth:\n  tokens:\n"
                              "    - {name: oncall, role: responder, token: \"${DW_T_TOKEN}\"}\n"
                              "    - {name: dash, role: viewer, token_sha256: %s}\n"
                              "    - {name: off, role: admin, token: \"${DW_T_NO_TOKEN:-}\"}\n",
                              other_hex);
    char *yaml = minimal_plus(extra);
    struct dw_diags d;
    struct dw_config *cfg = load_str(yaml, &d);
    unsetenv("DW_T_TOKEN");
    ASSERT_NOT_NULL(cfg);
    ASSERT_EQ_UINT(dw_diags_errors(&d), 0);
    ASSERT_EQ_UINT(d.warnings, 1); /* the empty one is disabled */
    ASSERT_CONTAINS(d.items[0].msg, "token is empty; it is disabled");

    const char *name;
    ASSERT_EQ_INT(dw_config_token_role(cfg, secret, &name), DW_ROLE_RESPONDER);
    ASSERT_EQ_STR(name, "oncall");
    ASSERT_EQ_INT(dw_config_token_role(cfg, "viewer-secret", &name), DW_ROLE_VIEWER);
    ASSERT_EQ_STR(name, "dash");
    ASSERT_EQ_INT(dw_config_token_role(cfg, "", &name), DW_ROLE_NONE);
    ASSERT_EQ_INT(dw_config_token_role(cfg, "responder-plain-secret-012345678", NULL),
                  DW_ROLE_NONE);

    size_t n;
    const struct dw_plan_token *t = dw_config_tokens(cfg, &n);
    ASSERT_EQ_UINT(n, 2);
    char want[65];
    dw_sha256_hex(secret, strlen(secret), want);
    ASSERT_EQ_STR(t[0].sha256, want);
    ASSERT_EQ_INT(t[1].role, DW_ROLE_VIEWER);
    ASSERT_EQ_UINT(strspn(t[1].sha256, "0123456789abcdef"), 64);
    /* The plain text is nowhere in what the config hands out. */
    ASSERT_FALSE(memory_contains(t, n * sizeof *t, secret));
    ASSERT_FALSE(memory_contains(t, n * sizeof *t, "responder-plain"));
    for (size_t i = 0; i < n; i++)
        ASSERT_NOT_CONTAINS(t[i].name, "responder-plain");
    char *text = diags_text(&d);
    ASSERT_NOT_CONTAINS(text, "responder-plain");
    free(text);
    dw_config_unref(&cfg);
    dw_diags_release(&d);
    free(yaml);
    free(extra);
}

TEST(plain_token_in_file_warns_without_echoing_it)
{
    char *yaml = minimal_plus("auth:\n  tokens:\n"
                              "    - {name: ci, role: viewer, token: literal-secret-abc}\n");
    struct dw_diags d;
    struct dw_config *cfg = load_str(yaml, &d);
    ASSERT_NOT_NULL(cfg);
    char *text = diags_text(&d);
    ASSERT_EQ_STR(text, "t.yaml:17:39: auth.tokens[0].token: warning: secret written in plain "
                        "text in the file; take it from the environment with ${NAME}\n");
    ASSERT_EQ_INT(dw_config_token_role(cfg, "literal-secret-abc", NULL), DW_ROLE_VIEWER);
    free(text);
    dw_config_unref(&cfg);
    dw_diags_release(&d);
    free(yaml);
}

/* ---- names ---- */

TEST(names_round_trip)
{
    for (int c = 0; c < DW_CLASS_COUNT; c++)
        ASSERT_EQ_INT(dw_check_class_parse(dw_check_class_name((enum dw_check_class)c)), c);
    ASSERT_EQ_STR(dw_check_class_name(DW_CLASS_PERFORMANCE_ANALYSIS), "performance_analysis");
    ASSERT_EQ_INT(dw_check_class_parse("health"), -1);
    for (int p = 0; p < DW_PRIORITY_COUNT; p++)
        ASSERT_EQ_INT(dw_priority_parse(dw_priority_name((enum dw_priority)p)), p);
    ASSERT_EQ_STR(dw_priority_name(DW_P1), "P1");
    ASSERT_EQ_INT(dw_priority_parse("P3"), -1);
    ASSERT_EQ_INT(dw_role_parse("viewer"), DW_ROLE_VIEWER);
    ASSERT_EQ_INT(dw_role_parse("responder"), DW_ROLE_RESPONDER);
    ASSERT_EQ_INT(dw_role_parse("admin"), DW_ROLE_ADMIN);
    ASSERT_EQ_INT(dw_role_parse("none"), DW_ROLE_NONE);
    ASSERT_EQ_INT(dw_role_parse("root"), DW_ROLE_NONE);
    ASSERT_EQ_STR(dw_role_name(DW_ROLE_RESPONDER), "responder");
}

/* ---- limits on input ---- */

TEST(file_size_limit)
{
    size_t len = (4u << 20) + 1;
    char *big = dw_malloc(len + 1);
    memset(big, '#', len);
    big[len] = '\0';
    struct dw_diags d;
    dw_diags_init(&d);
    ASSERT_NULL(dw_config_load_string("big.yaml", big, len, &d));
    char *text = diags_text(&d);
    ASSERT_EQ_STR(text, "big.yaml: file is larger than 4 MiB\n");
    free(text);
    dw_diags_release(&d);

    char path[] = "/tmp/dw_test_plan_XXXXXX";
    int fd = mkstemp(path);
    ASSERT_TRUE(fd >= 0);
    ASSERT_EQ_INT(write(fd, big, len), (long long)len);
    close(fd);
    ASSERT_NULL(dw_config_load_file(path, &d));
    ASSERT_EQ_UINT(d.n, 1);
    ASSERT_EQ_STR(d.items[0].msg, "file is larger than 4 MiB");
    dw_diags_release(&d);
    unlink(path);
    free(big);
}

TEST(list_length_limit)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, MINIMAL);
    dw_buf_puts(&b, "checks:\n");
    for (int i = 0; i < 10001; i++)
        dw_buf_puts(&b, "  - 1\n");
    struct dw_diags d;
    ASSERT_NULL(load_str(b.data, &d));
    char *text = diags_text(&d);
    ASSERT_EQ_STR(text, "t.yaml:16:5: checks: too many items (10001, at most 10000)\n");
    free(text);
    dw_diags_release(&d);
    dw_buf_release(&b);
}

TEST(long_values_are_cut_in_messages)
{
    char *long_word = dw_malloc(301);
    memset(long_word, 'x', 300);
    long_word[300] = '\0';
    char *extra = dw_asprintf("retention: {raw: %s}\n", long_word);
    char *yaml = minimal_plus(extra);
    struct dw_diags d;
    ASSERT_NULL(load_str(yaml, &d));
    ASSERT_EQ_UINT(d.n, 1);
    ASSERT_TRUE(strlen(d.items[0].msg) < 120);
    ASSERT_CONTAINS(d.items[0].msg, "xxx...\"");
    dw_diags_release(&d);
    free(yaml);
    free(extra);
    free(long_word);
}

TEST(long_keys_are_cut_in_key_paths)
{
    char key[301];
    memset(key, 'k', 300);
    key[300] = '\0';
    char *extra = dw_asprintf("%s: 1\n", key);
    char *yaml = minimal_plus(extra);
    struct dw_diags d;
    ASSERT_NULL(load_str(yaml, &d));
    ASSERT_EQ_UINT(d.n, 1);
    ASSERT_EQ_UINT(strlen(d.items[0].key), 128);
    ASSERT_EQ_STR(d.items[0].msg, "unknown key");
    dw_diags_release(&d);
    free(yaml);
    free(extra);
}

TEST(env_variable_name_limit)
{
    char name[129];
    memset(name, 'V', 128);
    name[128] = '\0';
    char *ref = dw_asprintf("${%.127s}", name); /* 127 characters: accepted */
    bool unset;
    char *s = dw_plan_expand_env(ref, &unset);
    ASSERT_EQ_STR(s, "");
    ASSERT_TRUE(unset);
    free(s);
    free(ref);
    ref = dw_asprintf("${%s}", name); /* 128 characters: refused */
    ASSERT_NULL(dw_plan_expand_env(ref, NULL));
    free(ref);
}

TEST(null_sections_and_optional_values_are_absent)
{
    char *yaml = minimal_plus("rules:\noncall: ~\nserver: {listen: , data_dir: null}\n");
    struct dw_diags d;
    struct dw_config *cfg = load_str(yaml, &d);
    ASSERT_NOT_NULL(cfg);
    ASSERT_EQ_UINT(d.n, 0);
    ASSERT_NULL(dw_config_section_yaml(cfg, "rules"));
    ASSERT_NULL(dw_config_section_yaml(cfg, "oncall"));
    ASSERT_EQ_STR(dw_config_listen(cfg), "127.0.0.1:9107"); /* default */
    ASSERT_EQ_STR(dw_config_data_dir(cfg), "./data");
    dw_config_unref(&cfg);
    dw_diags_release(&d);
    free(yaml);
}

/* ---- the generic schema walker, as later modules use it ---- */

struct rx_route {
    char *key; /* MAP of OBJECT: the key comes first */
    int64_t every_ms;
    bool enabled;
};

struct rx_section {
    char **members;
    size_t nmembers;
    struct rx_route *routes;
    size_t nroutes;
    int64_t retries;
    char *mode;
    double ratio;
};

/* clang-format off */
static const struct dw_schema_field rx_route_fields[] = {
    {.name = "every", .type = DW_SCHEMA_DURATION, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct rx_route, every_ms)},
    {.name = "enabled", .type = DW_SCHEMA_BOOL, .def = "true",
     DW_SCHEMA_AT(struct rx_route, enabled)},
};
/* clang-format on */
static const struct dw_schema rx_route_schema = {rx_route_fields, 2, false, NULL};
static const char *const rx_modes[] = {"fast", "slow", NULL};
/* clang-format off */
static const struct dw_schema_field rx_fields[] = {
    {.name = "members", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_STRING, .refers = "person",
     DW_SCHEMA_LIST_AT(struct rx_section, members, nmembers)},
    {.name = "routes", .type = DW_SCHEMA_MAP, .elem = DW_SCHEMA_OBJECT, .sub = &rx_route_schema,
     DW_SCHEMA_LIST_AT(struct rx_section, routes, nroutes)},
    {.name = "retries", .type = DW_SCHEMA_INT, .def = "3", .min = 0, .max = 10,
     DW_SCHEMA_AT(struct rx_section, retries)},
    {.name = "mode", .type = DW_SCHEMA_STRING, .values = rx_modes, .def = "slow",
     DW_SCHEMA_AT(struct rx_section, mode)},
    {.name = "ratio", .type = DW_SCHEMA_NUMBER, DW_SCHEMA_AT(struct rx_section, ratio)},
};
/* clang-format on */
static const struct dw_schema rx_schema = {rx_fields, DW_ARRAY_LEN(rx_fields), false, NULL};

static void rx_finish(struct dw_schema_ctx *ctx, void *obj)
{
    struct rx_section *s = obj;
    if (s->ratio > 1)
        dw_schema_error_at(ctx, &s->ratio, "ratio above 1");
}

TEST(schema_decode_string)
{
    const char *yaml = "members: [alice]\n"
                       "routes:\n"
                       "  api: {every: 1m}\n"
                       "  web: {every: 5m, enabled: false}\n"
                       "ratio: 2.5\n";
    struct rx_section s = {0};
    struct dw_diags d;
    dw_diags_init(&d);
    size_t errors =
        dw_schema_decode_string("rx.yaml", yaml, strlen(yaml), &rx_schema, &s, rx_finish, &d);
    char *text = diags_text(&d);
    /* "alice" is not defined in a bare document, and the finish check runs. */
    ASSERT_EQ_UINT(errors, 2);
    ASSERT_CONTAINS(text, "rx.yaml:1:11: members[0]: undefined person \"alice\" (none is "
                          "defined)\n");
    ASSERT_CONTAINS(text, "rx.yaml:5:8: ratio: ratio above 1\n");
    ASSERT_EQ_UINT(s.nroutes, 2);
    ASSERT_EQ_STR(s.routes[0].key, "api");
    ASSERT_EQ_INT(s.routes[0].every_ms, 60000);
    ASSERT_TRUE(s.routes[0].enabled); /* default */
    ASSERT_EQ_STR(s.routes[1].key, "web");
    ASSERT_FALSE(s.routes[1].enabled);
    ASSERT_EQ_INT(s.retries, 3);
    ASSERT_EQ_STR(s.mode, "slow");
    free(text);
    dw_schema_free(&rx_schema, &s);
    ASSERT_NULL(s.routes);
    ASSERT_NULL(s.mode);
    dw_diags_release(&d);
}

TEST(config_decode_section_with_file_positions)
{
    /* The oncall section of the example, decoded by a "later module" with its
     * own schema: people of the config are known, positions are the file's. */
    struct oncall_schedule {
        char *id, *name;
        char **members;
        size_t nmembers;
    };
    struct oncall {
        struct oncall_schedule *schedules;
        size_t n;
    };
    /* clang-format off */
    static const struct dw_schema_field sched_fields[] = {
        {.name = "id", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,
         DW_SCHEMA_AT(struct oncall_schedule, id)},
        {.name = "name", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct oncall_schedule, name)},
        {.name = "members", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_STRING, .refers = "person",
         DW_SCHEMA_LIST_AT(struct oncall_schedule, members, nmembers)},
    };
    /* clang-format on */
    static const struct dw_schema sched_schema = {sched_fields, 3, true, NULL};
    /* clang-format off */
    static const struct dw_schema_field oncall_fields[] = {
        {.name = "schedules", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT,
         .sub = &sched_schema, DW_SCHEMA_LIST_AT(struct oncall, schedules, n)},
    };
    /* clang-format on */
    static const struct dw_schema oncall_schema = {oncall_fields, 1, true, NULL};

    struct dw_diags d;
    struct dw_config *cfg = load_example(&d);
    ASSERT_NOT_NULL(cfg);
    dw_diags_release(&d);
    struct oncall o = {0};
    ASSERT_EQ_UINT(dw_config_decode_section(cfg, "oncall", &oncall_schema, &o, NULL, &d), 0);
    ASSERT_EQ_UINT(o.n, 2);
    ASSERT_EQ_STR(o.schedules[1].id, "secondary");
    ASSERT_EQ_STR(o.schedules[1].members[0], "secondary-engineer");
    dw_schema_free(&oncall_schema, &o);
    dw_diags_release(&d);

    /* Unknown keys of someone else's section are errors for a closed schema,
     * with the example file's own line numbers. */
    struct oncall_schedule_min {
        char *id;
    };
    /* clang-format off */
    static const struct dw_schema_field min_fields[] = {
        {.name = "id", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct oncall_schedule_min, id)},
    };
    /* clang-format on */
    static const struct dw_schema min_schema = {min_fields, 1, false, NULL};
    /* clang-format off */
    static const struct dw_schema_field min_root[] = {
        {.name = "schedules", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT,
         .sub = &min_schema, DW_SCHEMA_LIST_AT(struct oncall, schedules, n)},
    };
    /* clang-format on */
    static const struct dw_schema min_oncall = {min_root, 1, true, NULL};
    struct oncall m = {0};
    /* name, members, rotation, handoff, handoff_day of each of the two schedules */
    ASSERT_EQ_UINT(dw_config_decode_section(cfg, "oncall", &min_oncall, &m, NULL, &d), 10);
    ASSERT_CONTAINS(d.items[0].file, "examples/dojopool.yaml");
    ASSERT_EQ_STR(d.items[0].key, "oncall.schedules[0].name");
    ASSERT_EQ_STR(d.items[0].msg, "unknown key");
    ASSERT_TRUE(d.items[0].line > 300);
    dw_schema_free(&min_oncall, &m);
    dw_diags_release(&d);
    dw_config_unref(&cfg);
}

/* The seed's numbers that live in later-issue sections, read back through
 * the walker the way their modules will. */
struct timeline_stage {
    char *stage;
    int64_t from_ms, to_ms;
    char **steps;
    size_t nsteps;
};
struct incidents_section {
    struct timeline_stage *stages;
    size_t n;
};
struct comms_section {
    struct {
        struct {
            int64_t every_ms;
        } stakeholders;
        struct {
            char *at;
        } daily;
    } comms;
};
/* clang-format off */
static const struct dw_schema_field stage_fields[] = {
    {.name = "stage", .type = DW_SCHEMA_STRING, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct timeline_stage, stage)},
    {.name = "from", .type = DW_SCHEMA_DURATION, .flags = DW_SCHEMA_REQUIRED,
     DW_SCHEMA_AT(struct timeline_stage, from_ms)},
    {.name = "to", .type = DW_SCHEMA_DURATION, DW_SCHEMA_AT(struct timeline_stage, to_ms)},
    {.name = "steps", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_STRING,
     DW_SCHEMA_LIST_AT(struct timeline_stage, steps, nsteps)},
};
static const struct dw_schema stage_schema = {stage_fields, 4, false, NULL};
static const struct dw_schema_field incidents_fields[] = {
    {.name = "timeline", .type = DW_SCHEMA_LIST, .elem = DW_SCHEMA_OBJECT, .sub = &stage_schema,
     DW_SCHEMA_LIST_AT(struct incidents_section, stages, n)},
};
static const struct dw_schema incidents_schema = {incidents_fields, 1, true, NULL};
static const struct dw_schema_field stakeholder_fields[] = {
    {.name = "every", .type = DW_SCHEMA_DURATION,
     DW_SCHEMA_AT(struct comms_section, comms.stakeholders.every_ms)},
};
static const struct dw_schema stakeholder_schema = {stakeholder_fields, 1, true, NULL};
static const struct dw_schema_field daily_fields[] = {
    {.name = "at", .type = DW_SCHEMA_STRING, DW_SCHEMA_AT(struct comms_section, comms.daily.at)},
};
static const struct dw_schema daily_schema = {daily_fields, 1, true, NULL};
static const struct dw_schema_field comms_fields[] = {
    {.name = "stakeholders", .type = DW_SCHEMA_OBJECT, .sub = &stakeholder_schema, .offset = 0},
    {.name = "daily_summary", .type = DW_SCHEMA_OBJECT, .sub = &daily_schema, .offset = 0},
};
static const struct dw_schema comms_schema = {comms_fields, 2, true, NULL};
static const struct dw_schema_field incident_comms_fields[] = {
    {.name = "communications", .type = DW_SCHEMA_OBJECT, .sub = &comms_schema, .offset = 0},
};
static const struct dw_schema incident_comms_schema = {incident_comms_fields, 1, true, NULL};
/* clang-format on */

TEST(example_seed_numbers_in_later_sections)
{
    struct dw_diags d;
    struct dw_config *cfg = load_example(&d);
    ASSERT_NOT_NULL(cfg);
    dw_diags_release(&d); /* the load's own warnings */
    struct incidents_section inc = {0};
    ASSERT_EQ_UINT(dw_config_decode_section(cfg, "incidents", &incidents_schema, &inc, NULL, &d),
                   0);
    /* Seed, "Incident Response Timeline": 0-5 min, 5-30 min, 30 min-4 h, 4 h+. */
    ASSERT_EQ_UINT(inc.n, 4);
    static const int64_t from[] = {0, 5 * MIN_MS, 30 * MIN_MS, 4 * HOUR_MS};
    static const int64_t to[] = {5 * MIN_MS, 30 * MIN_MS, 4 * HOUR_MS, 0};
    for (size_t i = 0; i < inc.n; i++) {
        ASSERT_EQ_INT(inc.stages[i].from_ms, from[i]);
        ASSERT_EQ_INT(inc.stages[i].to_ms, to[i]);
        ASSERT_EQ_UINT(inc.stages[i].nsteps, 4);
    }
    ASSERT_EQ_STR(inc.stages[0].steps[0], "Alert acknowledgment");
    dw_schema_free(&incidents_schema, &inc);

    struct comms_section cs = {0};
    ASSERT_EQ_UINT(
        dw_config_decode_section(cfg, "incidents", &incident_comms_schema, &cs, NULL, &d), 0);
    ASSERT_EQ_STR(cs.comms.daily.at, "09:00");              /* "Daily Standup: 9 AM" */
    ASSERT_EQ_INT(cs.comms.stakeholders.every_ms, HOUR_MS); /* "Hourly during critical periods" */
    dw_schema_free(&incident_comms_schema, &cs);
    ASSERT_EQ_UINT(d.n, 0);
    dw_diags_release(&d);
    dw_config_unref(&cfg);
}

TEST_MAIN()
