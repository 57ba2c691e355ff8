/*
 * Unit tests of the collector: the plan-driven schedule, the event loop,
 * the scrape section's validation, and scrapes end to end into a real tsdb
 * (a tiny HTTP server in a thread serves the exposition), including
 * staleness markers, up/scrape_* series and failure reasons.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "collect/collect.h"
#include "collect/loop.h"
#include "collect/scrape.h"
#include "harness.h"
#include "testutil.h"
#include "testutil_plan.h"
#include "testutil_tsdb.h"

#define H (3600 * 1000LL)
#define M (60 * 1000LL)

static struct dw_config *example(void)
{
    struct dw_diags d;
    dw_diags_init(&d);
    struct dw_config *cfg = dw_config_load_file(EXAMPLE_CONFIG, &d);
    dw_diags_release(&d);
    if (!cfg)
        DW_FAIL_("cannot load %s", EXAMPLE_CONFIG);
    return cfg;
}

/* ---- the plan-driven cadence ---- */

TEST(plan_next_follows_phase_cadence)
{
    struct dw_config *cfg = example();
    int64_t L = dw_config_launch_at(cfg);
    int ux = DW_CLASS_USER_EXPERIENCE, sh = DW_CLASS_SYSTEM_HEALTH;
    /* Critical phase: user experience every 30 minutes, anchored at launch. */
    ASSERT_EQ_INT(dw_collect_plan_next(cfg, ux, L + 71 * H) - L, 71 * H + 30 * M);
    ASSERT_EQ_INT(dw_collect_plan_next(cfg, ux, L + 71 * H + 31 * M) - L, 72 * H);
    /* At exactly 72 h stabilization begins: every 2 hours from there. */
    ASSERT_EQ_INT(dw_collect_plan_next(cfg, ux, L + 72 * H) - L, 74 * H);
    ASSERT_EQ_INT(dw_collect_plan_next(cfg, ux, L + 72 * H - 1) - L, 72 * H);
    /* System health: 15 min, then 30 min. */
    ASSERT_EQ_INT(dw_collect_plan_next(cfg, sh, L + 71 * H + 50 * M) - L, 72 * H);
    ASSERT_EQ_INT(dw_collect_plan_next(cfg, sh, L + 72 * H + 1) - L, 72 * H + 30 * M);
    /* Before launch the first phase's cadence runs, anchored at launch. */
    ASSERT_EQ_INT(dw_collect_plan_next(cfg, DW_CLASS_BUSINESS, L - 10 * M) - L, 0);
    ASSERT_EQ_INT(dw_collect_plan_next(cfg, DW_CLASS_BUSINESS, L - 70 * M) - L, -H);
    /* Performance analysis is not reviewed in the critical phase: first at 72 h. */
    ASSERT_EQ_INT(dw_collect_plan_next(cfg, DW_CLASS_PERFORMANCE_ANALYSIS, L + H) - L, 72 * H);
    /* A run that lands on a phase change is the new phase's first. */
    ASSERT_EQ_INT(dw_collect_plan_next(cfg, ux, L + 7 * 24 * H - 1) - L, 7 * 24 * H);
    ASSERT_EQ_INT(dw_collect_plan_next(cfg, ux, L + 7 * 24 * H) - L, 8 * 24 * H);
    dw_config_unref(&cfg);
}

/* ---- the event loop ---- */

struct fired {
    int n;
    short revents;
    int64_t at;
    CURLcode rc;
};

static void on_fire(void *arg, int fd, short revents)
{
    struct fired *f = arg;
    f->n++;
    f->revents = revents;
    f->at = dw_mono_ms();
}

static void on_curl(void *arg, CURL *easy, CURLcode rc)
{
    struct fired *f = arg;
    f->n++;
    f->rc = rc;
    curl_easy_cleanup(easy);
}

TEST(loop_timers_fds_and_transfers)
{
    struct dw_loop *l = dw_loop_new();
    struct fired t = {0}, r = {0}, d = {0}, x = {0}, cancelled = {0};
    int p[2];
    ASSERT_EQ_INT(pipe(p), 0);
    int64_t t0 = dw_mono_ms();
    dw_loop_timer(l, t0 + 50, on_fire, &t);
    dw_loop_watch_fd(l, p[0], POLLIN, t0 + 5000, on_fire, &r);
    dw_loop_watch_fd(l, p[1] == 0 ? 99 : p[0], POLLPRI, t0 + 80, on_fire, &d); /* never ready */
    struct dw_loop_watch *w = dw_loop_timer(l, t0 + 10, on_fire, &cancelled);
    dw_loop_unwatch(l, w);
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, "http://127.0.0.1:1/");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 2000L);
    ASSERT_EQ_INT(dw_loop_add_curl(l, e, on_curl, &x), 0);
    ASSERT_EQ_INT(write(p[1], "x", 1), 1);
    while (dw_mono_ms() - t0 < 3000 && (t.n == 0 || r.n == 0 || d.n == 0 || x.n == 0))
        dw_loop_run_once(l, 100);
    ASSERT_EQ_INT(r.n, 1);
    ASSERT_TRUE(r.revents & POLLIN);
    ASSERT_EQ_INT(t.n, 1);
    ASSERT_TRUE(t.at - t0 >= 50);
    ASSERT_EQ_INT(d.n, 1);
    ASSERT_EQ_INT(d.revents, 0); /* deadline, not ready */
    ASSERT_TRUE(d.at - t0 >= 80);
    ASSERT_EQ_INT(cancelled.n, 0);
    ASSERT_EQ_INT(x.n, 1);
    ASSERT_EQ_INT(x.rc, CURLE_COULDNT_CONNECT);
    ASSERT_EQ_UINT(dw_loop_active(l), 0);
    /* A transfer still running when the loop is freed is taken back. */
    CURL *e2 = curl_easy_init();
    curl_easy_setopt(e2, CURLOPT_URL, "http://127.0.0.1:1/");
    dw_loop_add_curl(l, e2, on_curl, &x);
    dw_loop_free(&l);
    curl_easy_cleanup(e2);
    ASSERT_NULL(l);
    close(p[0]);
    close(p[1]);
}

/* ---- the scrape section ---- */

static size_t decode_scrape(const char *yaml, struct dw_diags *d, struct scrape_cfg *sc)
{
    memset(sc, 0, sizeof *sc);
    return dw_schema_decode_string("scrape.yaml", yaml, strlen(yaml), &dw_scrape_schema, sc, NULL,
                                   d);
}

TEST(scrape_config_defaults_and_params)
{
    struct dw_diags d;
    dw_diags_init(&d);
    struct scrape_cfg sc;
    const char *yaml = "global: {scrape_interval: 15s}\n"
                       "scrape_configs:\n"
                       "  - job_name: blackbox\n"
                       "    params: {module: [http_2xx, tcp]}\n"
                       "    static_configs: [{targets: ['a:1'], labels: {env: prod}}]\n";
    ASSERT_EQ_UINT(decode_scrape(yaml, &d, &sc), 0);
    ASSERT_EQ_UINT(sc.njobs, 1);
    ASSERT_EQ_INT(sc.jobs[0].interval_ms, 15000);
    ASSERT_EQ_INT(sc.jobs[0].timeout_ms, 10000);
    ASSERT_EQ_STR(sc.jobs[0].metrics_path, "/metrics");
    ASSERT_EQ_UINT(sc.jobs[0].nparam_pairs, 2);
    ASSERT_EQ_STR(sc.jobs[0].param_pairs[1].value, "tcp");
    ASSERT_TRUE(sc.host.enabled);
    ASSERT_EQ_STR(sc.host.job, "node");
    dw_scrape_cfg_release(&sc);
    dw_diags_release(&d);
}

TEST(scrape_config_errors_have_positions)
{
    struct dw_diags d;
    dw_diags_init(&d);
    struct scrape_cfg sc;
    const char *yaml = "scrape_configs:\n"
                       "  - job_name: a\n"
                       "    scrape_interval: 10s\n"
                       "    scrape_timeout: 20s\n"
                       "    static_configs: [{targets: ['http://x:1']}]\n"
                       "    relabel_configs: [{action: keep, regex: '(', source_labels: [a]}]\n"
                       "    metrics_pth: /m\n";
    ASSERT_TRUE(decode_scrape(yaml, &d, &sc) >= 4);
    char *text = diags_text(&d);
    ASSERT_CONTAINS(text, "scrape.yaml:4:"); /* timeout > interval */
    ASSERT_CONTAINS(text, "longer than scrape_interval");
    ASSERT_CONTAINS(text, "scrape.yaml:5:"); /* a scheme in a target */
    ASSERT_CONTAINS(text, "scrape.yaml:6:"); /* bad regex */
    ASSERT_CONTAINS(text, "scrape.yaml:7:"); /* unknown key */
    ASSERT_CONTAINS(text, "metrics_path");   /* did you mean */
    free(text);
    dw_scrape_cfg_release(&sc);
    dw_diags_release(&d);
}

/* ---- scrapes end to end ---- */

struct server {
    int fd, port;
    pthread_t th;
    pthread_mutex_t lock;
    char body[4096];
    int status;
    int delay_ms;
    int hits;
    atomic_bool stop;
};

static void *serve(void *arg)
{
    struct server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        char req[4096];
        ssize_t n = read(c, req, sizeof req);
        (void)n;
        pthread_mutex_lock(&s->lock);
        s->hits++;
        int delay = s->delay_ms;
        char resp[8192];
        int len = snprintf(resp, sizeof resp,
                           "HTTP/1.1 %d X\r\nContent-Type: text/plain; version=0.0.4\r\n"
                           "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                           s->status, strlen(s->body), s->body);
        pthread_mutex_unlock(&s->lock);
        if (delay)
            usleep((useconds_t)delay * 1000);
        if (write(c, resp, (size_t)len) < 0) {
        }
        close(c);
    }
    return NULL;
}

static void server_start(struct server *s)
{
    memset(s, 0, sizeof *s);
    s->status = 200;
    pthread_mutex_init(&s->lock, NULL);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(s->fd, (struct sockaddr *)&a, sizeof a);
    listen(s->fd, 64);
    socklen_t al = sizeof a;
    getsockname(s->fd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    pthread_create(&s->th, NULL, serve, s);
}

static void server_set(struct server *s, int status, const char *body)
{
    pthread_mutex_lock(&s->lock);
    s->status = status;
    dw_strlcpy(s->body, body, sizeof s->body);
    pthread_mutex_unlock(&s->lock);
}

static void server_stop(struct server *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->th, NULL);
    close(s->fd);
    pthread_mutex_destroy(&s->lock);
}

/* Waits until dump(name) contains needle, moving the test clock on by a
 * second every 50 ms of real time so the collector's schedule comes due. */
static bool wait_for(struct dw_tsdb *db, const char *name, const char *needle)
{
    for (int i = 0; i < 200; i++) {
        char *s = tsdb_dump(db, name);
        bool ok = strstr(s, needle) != NULL;
        free(s);
        if (ok)
            return true;
        usleep(50 * 1000);
        dw_clock_advance(1000);
    }
    char *s = tsdb_dump(db, name);
    fprintf(stderr, "%s series now:\n%s\n", name, s);
    free(s);
    return false;
}

TEST(scrape_stores_reports_and_marks_stale)
{
    char *dir = tmpdir_new();
    struct dw_tsdb *db = open_db(dir);
    struct server srv;
    server_start(&srv);
    server_set(&srv, 200, "# TYPE a counter\na_total{x=\"1\"} 5\na_total{x=\"2\"} 7\nb 1\n");
    int64_t T0 = 1800000000000LL; /* a round instant; the job's offset is within 10 s */
    dw_clock_set_manual(T0);
    char sections[512];
    snprintf(sections, sizeof sections,
             "scrape:\n  host: {enabled: false}\n  scrape_configs:\n"
             "    - job_name: app\n      scrape_interval: 10s\n"
             "      static_configs: [{targets: ['127.0.0.1:%d'], labels: {env: test}}]\n"
             "probes: {checks: []}\n",
             srv.port);
    struct dw_config *cfg = config_with(sections);
    struct dw_collector *c = dw_collector_new(db);
    struct dw_diags d;
    dw_diags_init(&d);
    ASSERT_EQ_UINT(dw_collector_apply(c, cfg, &d), 0);
    ASSERT_EQ_INT(dw_collector_start(c), 0);
    dw_clock_advance(10000);
    char inst[64];
    snprintf(inst, sizeof inst, "instance=\"127.0.0.1:%d\"", srv.port);
    ASSERT_TRUE(wait_for(db, "a_total", "x=\"2\"}=7@"));
    ASSERT_TRUE(wait_for(db, "up", "=1@"));
    char *s = tsdb_dump(db, "a_total");
    ASSERT_CONTAINS(s, "env=\"test\"");
    ASSERT_CONTAINS(s, "job=\"app\"");
    ASSERT_CONTAINS(s, inst);
    free(s);
    ASSERT_TRUE(wait_for(db, "scrape_samples_scraped", "=3@"));
    ASSERT_TRUE(wait_for(db, "scrape_series_added", "=3@"));
    /* Long label values are stored whole; a label clashing with a target
     * label is kept as exported_<name>. */
    char body[2048], longv[1001];
    memset(longv, 'v', 1000);
    longv[1000] = '\0';
    snprintf(body, sizeof body, "long_metric{job=\"theirs\",v=\"%s\"} 1\n", longv);
    server_set(&srv, 200, body);
    dw_clock_advance(10000);
    char want[1100];
    snprintf(want, sizeof want,
             "exported_job=\"theirs\", instance=\"127.0.0.1:%d\", job=\"app\", v=\"%s\"}=1@",
             srv.port, longv);
    ASSERT_TRUE(wait_for(db, "long_metric", want));
    /* The target stops exposing x="2": it gets a staleness marker. */
    server_set(&srv, 200, "# TYPE a counter\na_total{x=\"1\"} 6\nb 1\n");
    ASSERT_TRUE(wait_for(db, "long_metric", "=STALE@"));
    dw_clock_advance(10000);
    ASSERT_TRUE(wait_for(db, "a_total", "x=\"2\"}=STALE@"));
    /* A failing target: up 0, every series stale, the reason on the API. */
    server_set(&srv, 503, "down");
    dw_clock_advance(10000);
    ASSERT_TRUE(wait_for(db, "up", "=0@"));
    ASSERT_TRUE(wait_for(db, "b", "=STALE@"));
    json_t *t = dw_collector_targets_json(c, "active");
    json_t *first = json_array_get(json_object_get(t, "activeTargets"), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(first, "health")), "down");
    ASSERT_CONTAINS(json_string_value(json_object_get(first, "lastError")), "503");
    json_decref(t);
    /* Removing the job from the configuration marks its report series stale. */
    dw_config_unref(&cfg);
    cfg = config_with("scrape: {host: {enabled: false}}\nprobes: {checks: []}\n");
    ASSERT_EQ_UINT(dw_collector_apply(c, cfg, &d), 0);
    ASSERT_TRUE(wait_for(db, "up", "=STALE@"));
    dw_collector_free(&c);
    dw_config_unref(&cfg);
    dw_diags_release(&d);
    server_stop(&srv);
    dw_tsdb_close(&db);
    dw_clock_set_real();
    rm_rf(dir);
    free(dir);
}

TEST(invalid_section_keeps_running_config)
{
    struct dw_config *good =
        config_with("scrape: {host: {enabled: false}}\nprobes: {checks: []}\n");
    struct dw_config *bad = config_with("scrape:\n  scrape_configs:\n    - {job_name: x, "
                                        "scrape_interval: 1s, scrape_timeout: 5s}\n");
    char *dir = tmpdir_new();
    struct dw_tsdb *db = open_db(dir);
    struct dw_collector *c = dw_collector_new(db);
    struct dw_diags d;
    dw_diags_init(&d);
    ASSERT_EQ_UINT(dw_collector_apply(c, good, &d), 0);
    ASSERT_TRUE(dw_collector_apply(c, bad, &d) > 0);
    ASSERT_TRUE(d.n > 0);
    ASSERT_EQ_UINT(dw_collect_check_config(good, &d), 0);
    dw_collector_free(&c);
    dw_tsdb_close(&db);
    dw_config_unref(&good);
    dw_config_unref(&bad);
    dw_diags_release(&d);
    rm_rf(dir);
    free(dir);
}

TEST_MAIN()
