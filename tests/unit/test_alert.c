/*
 * test_alert.c - the alerter: put and lifecycle, priorities, routing,
 * grouping timers to the millisecond (manual clock), the event queue,
 * silences, inhibition, time intervals across DST, flapping, marks and
 * statistics, the Alertmanager JSON views, and persistence across a reopen.
 */
#include "alert/alert_internal.h"
#include "harness.h"
#include "testutil_alert.h"
#include "testutil.h"

/* Monday 2026-03-02 10:00:00 UTC */
#define T0 1772445600000LL
#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)

struct fixture {
    char *dir;
    struct dw_store *store;
    struct dw_alerter *a;
    const char *yaml;
};

static void fx_apply(struct fixture *f, const char *yaml)
{
    alerter_apply_ok(f->a, yaml);
    f->yaml = yaml;
}

static void fx_open(struct fixture *f, const char *yaml)
{
    dw_log_set_level(DW_LOG_ERROR);
    dw_clock_set_manual(T0);
    f->dir = tmpdir_new();
    char *path = dw_asprintf("%s/dojowatch.db", f->dir), *err = NULL;
    f->store = dw_store_open(path, &err);
    free(path);
    ASSERT_NOT_NULL(f->store);
    f->a = dw_alerter_open(f->store, &err);
    if (!f->a)
        fprintf(stderr, "  %s\n", err);
    ASSERT_NOT_NULL(f->a);
    if (yaml)
        fx_apply(f, yaml);
}

/* Closes the alerter (not the store) and opens it again with the same configuration. */
static void fx_reopen(struct fixture *f)
{
    dw_alerter_close(&f->a);
    char *err = NULL;
    f->a = dw_alerter_open(f->store, &err);
    ASSERT_NOT_NULL(f->a);
    if (f->yaml)
        fx_apply(f, f->yaml);
}

static void fx_close(struct fixture *f)
{
    dw_alerter_close(&f->a);
    dw_store_close(&f->store);
    rm_rf(f->dir);
    free(f->dir);
    dw_clock_set_real();
}

/* "a=b,c=d" into labels (static storage, up to 16 pairs). */
static size_t parse_labels(const char *s, struct dw_label *out, char *buf, size_t bufsize)
{
    dw_strlcpy(buf, s, bufsize);
    size_t n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok && n < 16; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq)
            continue;
        *eq = '\0';
        out[n++] = (struct dw_label){tok, eq + 1};
    }
    return n;
}

static int put_full(struct dw_alerter *a, const char *labels, const char *annotations, int state,
                    int64_t starts, int64_t ends)
{
    struct dw_label l[16], an[16];
    char buf[1024], abuf[1024];
    struct dw_alert_in in = {.state = state, .starts_at_ms = starts, .ends_at_ms = ends};
    in.nlabels = parse_labels(labels, l, buf, sizeof buf);
    in.labels = l;
    if (annotations) {
        in.nannotations = parse_labels(annotations, an, abuf, sizeof abuf);
        in.annotations = an;
    }
    char *err = NULL;
    int rc = dw_alerter_put(a, &in, 1, dw_now_ms(), &err);
    if (rc != 0)
        fprintf(stderr, "  put: %s\n", err ? err : "?");
    free(err);
    return rc;
}

static void put(struct dw_alerter *a, const char *labels, int state)
{
    ASSERT_EQ_INT(put_full(a, labels, NULL, state, 0, 0), 0);
}

static void advance_to(struct dw_alerter *a, int64_t t)
{
    dw_clock_advance(t - dw_now_ms());
    dw_alerter_tick(a, t);
}

/* Reads and acknowledges every new event of consumer "t". */
static size_t take_events(struct dw_alerter *a, struct dw_alert_event **ev)
{
    size_t n;
    char *err = NULL;
    ASSERT_EQ_INT(dw_alerter_events_read(a, "t", 1000, ev, &n, &err), 0);
    if (n)
        ASSERT_EQ_INT(dw_alerter_events_ack(a, "t", (*ev)[n - 1].id, &err), 0);
    return n;
}

static size_t count_events(struct dw_alerter *a)
{
    struct dw_alert_event *ev;
    size_t n = take_events(a, &ev);
    dw_alert_events_free(ev, n);
    return n;
}

/* Takes exactly one event and checks its kind and receiver; returns its payload (caller frees). */
static json_t *one_event(struct dw_alerter *a, const char *kind, const char *receiver)
{
    struct dw_alert_event *ev;
    size_t n = take_events(a, &ev);
    if (n != 1)
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "  event %s %s %s\n", ev[i].kind, ev[i].receiver, ev[i].group_key);
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_STR(ev[0].kind, kind);
    ASSERT_EQ_STR(ev[0].receiver, receiver);
    json_error_t je;
    json_t *p = json_loads(ev[0].payload, 0, &je);
    dw_alert_events_free(ev, n);
    ASSERT_NOT_NULL(p);
    return p;
}

static size_t payload_alerts(json_t *p)
{
    return json_array_size(json_object_get(p, "alerts"));
}

static const char *payload_status(json_t *p, size_t i)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(p, "alerts"), i), "status"));
}

static uint64_t fp_of(const char *labels)
{
    struct dw_label l[16];
    char buf[1024];
    size_t n = parse_labels(labels, l, buf, sizeof buf);
    return dw_alert_fingerprint(l, n);
}

static json_t *lifecycle_of(struct dw_alerter *a, const char *labels)
{
    char hex[17];
    fp_hex(fp_of(labels), hex);
    json_t *all = dw_alerter_lifecycle_json(a), *it;
    size_t i;
    json_array_foreach(
        all, i, it) if (strcmp(json_string_value(json_object_get(it, "fingerprint")), hex) == 0)
    {
        json_incref(it);
        json_decref(all);
        return it;
    }
    json_decref(all);
    return NULL;
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* ---- labels, fingerprints, priorities ---- */

TEST(fingerprint_matches_prometheus)
{
    /* prometheus/common model.TestMetricToFingerprint */
    struct dw_label l[] = {{"name", "garland, briggs"}, {"fear", "love is not enough"}};
    ASSERT_EQ_UINT(dw_alert_fingerprint(l, 2), 5799056148416392346ULL);
    ASSERT_EQ_UINT(dw_alert_fingerprint(NULL, 0), 14695981039346656037ULL);
    /* empty values are dropped, order does not matter */
    struct dw_label m[] = {{"fear", "love is not enough"}, {"x", ""}, {"name", "garland, briggs"}};
    ASSERT_EQ_UINT(dw_alert_fingerprint(m, 3), 5799056148416392346ULL);
}

TEST(priority_from_severity)
{
    struct fixture f;
    fx_open(&f, NULL);
    put(f.a, "alertname=A,severity=critical", DW_ALERT_FIRING);
    put(f.a, "alertname=B,severity=warning", DW_ALERT_FIRING);
    put(f.a, "alertname=C,severity=Info", DW_ALERT_FIRING);
    put(f.a, "alertname=D,severity=critical,priority=P2", DW_ALERT_FIRING);
    put(f.a, "alertname=E,severity=page", DW_ALERT_FIRING);
    json_t *l = lifecycle_of(f.a, "alertname=A,severity=critical,priority=P0");
    ASSERT_NOT_NULL(l);
    json_decref(l);
    ASSERT_NOT_NULL(l = lifecycle_of(f.a, "alertname=B,severity=warning,priority=P1"));
    json_decref(l);
    ASSERT_NOT_NULL(l = lifecycle_of(f.a, "alertname=C,severity=Info,priority=P2"));
    json_decref(l);
    ASSERT_NOT_NULL(l = lifecycle_of(f.a, "alertname=D,severity=critical,priority=P2"));
    json_decref(l);
    ASSERT_NOT_NULL(l = lifecycle_of(f.a, "alertname=E,severity=page"));
    json_decref(l);
    /* a custom table replaces the default */
    fx_apply(&f, "severity_map: {page: P0}\n");
    put(f.a, "alertname=F,severity=page", DW_ALERT_FIRING);
    put(f.a, "alertname=G,severity=critical", DW_ALERT_FIRING);
    ASSERT_NOT_NULL(l = lifecycle_of(f.a, "alertname=F,severity=page,priority=P0"));
    json_decref(l);
    ASSERT_NOT_NULL(l = lifecycle_of(f.a, "alertname=G,severity=critical"));
    json_decref(l);
    fx_close(&f);
}

TEST(put_validation_is_best_effort)
{
    struct fixture f;
    fx_open(&f, NULL);
    struct dw_label good[] = {{"alertname", "Good"}}, bad[] = {{"1x", "v"}},
                    empty[] = {{"alertname", ""}};
    struct dw_alert_in in[] = {
        {.labels = good, .nlabels = 1},
        {.labels = bad, .nlabels = 1},
        {.labels = empty, .nlabels = 1},
        {.labels = good, .nlabels = 1, .starts_at_ms = T0, .ends_at_ms = T0 - 1},
    };
    char *err = NULL;
    ASSERT_EQ_INT(dw_alerter_put(f.a, in, 4, T0, &err), DW_ALERT_EINVAL);
    ASSERT_CONTAINS(err, "alert 1: invalid label set: invalid name \"1x\"");
    ASSERT_CONTAINS(err, "alert 2: at least one label pair required");
    ASSERT_CONTAINS(err, "alert 3: start time must be before end time");
    free(err);
    json_t *l = lifecycle_of(f.a, "alertname=Good");
    ASSERT_NOT_NULL(l);
    ASSERT_EQ_STR(jstr(l, "state"), "firing");
    json_decref(l);
    fx_close(&f);
}

/* ---- lifecycle ---- */

TEST(lifecycle_pending_firing_resolved)
{
    struct fixture f;
    fx_open(&f, "route: {receiver: default, group_wait: 0s, group_interval: 1s}\n");
    const char *A = "alertname=Cpu,instance=a";
    put(f.a, A, DW_ALERT_PENDING);
    json_t *l = lifecycle_of(f.a, A);
    ASSERT_EQ_STR(jstr(l, "state"), "pending");
    ASSERT_EQ_STR(jstr(l, "pendingAt"), "2026-03-02T10:00:00.000Z");
    ASSERT_TRUE(json_is_null(json_object_get(l, "firingAt")));
    json_decref(l);
    ASSERT_EQ_INT(count_events(f.a), 0); /* pending is never routed */
    json_t *v2;
    struct dw_alert_filter flt;
    dw_alert_filter_init(&flt);
    char *err = NULL;
    ASSERT_EQ_INT(dw_alerter_alerts_json(f.a, &flt, &v2, &err), 0);
    ASSERT_EQ_INT(json_array_size(v2), 0);
    json_decref(v2);

    advance_to(f.a, T0 + 5 * MIN);
    put(f.a, A, DW_ALERT_FIRING);
    json_decref(one_event(f.a, "fired", "default"));
    l = lifecycle_of(f.a, A);
    ASSERT_EQ_STR(jstr(l, "state"), "firing");
    ASSERT_EQ_STR(jstr(l, "pendingAt"), "2026-03-02T10:00:00.000Z");
    ASSERT_EQ_STR(jstr(l, "firingAt"), "2026-03-02T10:05:00.000Z");
    json_decref(l);

    advance_to(f.a, T0 + 7 * MIN);
    put(f.a, A, DW_ALERT_RESOLVED);
    advance_to(f.a, T0 + 7 * MIN + SEC);
    json_t *p = one_event(f.a, "resolved", "default");
    ASSERT_EQ_STR(jstr(p, "status"), "resolved");
    ASSERT_EQ_STR(payload_status(p, 0), "resolved");
    json_decref(p);
    l = lifecycle_of(f.a, A);
    ASSERT_EQ_STR(jstr(l, "state"), "resolved");
    ASSERT_EQ_STR(jstr(l, "resolvedAt"), "2026-03-02T10:07:00.000Z");
    json_decref(l);

    /* pending that ends without firing goes back to inactive (forgotten) */
    put(f.a, "alertname=Mem", DW_ALERT_PENDING);
    put(f.a, "alertname=Mem", DW_ALERT_RESOLVED);
    ASSERT_NULL(lifecycle_of(f.a, "alertname=Mem"));
    fx_close(&f);
}

TEST(resolve_timeout_resolves_silent_alerts)
{
    struct fixture f;
    fx_open(&f, "resolve_timeout: 2m\n"
                "route: {receiver: default, group_wait: 0s, group_interval: 10s}\n");
    put(f.a, "alertname=Disk", DW_ALERT_FIRING);
    json_decref(one_event(f.a, "fired", "default"));
    advance_to(f.a, T0 + 2 * MIN - 1);
    ASSERT_EQ_INT(count_events(f.a), 0);
    json_t *l = lifecycle_of(f.a, "alertname=Disk");
    ASSERT_EQ_STR(jstr(l, "state"), "firing");
    json_decref(l);
    advance_to(f.a,
               T0 + 2 * MIN); /* endsAt reached: resolved at once, notified at the next flush */
    l = lifecycle_of(f.a, "alertname=Disk");
    ASSERT_EQ_STR(jstr(l, "state"), "resolved");
    ASSERT_EQ_STR(jstr(l, "resolvedAt"), "2026-03-02T10:02:00.000Z");
    json_decref(l);
    advance_to(f.a, T0 + 2 * MIN + 10 * SEC);
    json_decref(one_event(f.a, "resolved", "default"));
    /* an update before the timeout keeps it firing */
    put(f.a, "alertname=Net", DW_ALERT_FIRING);
    json_decref(one_event(f.a, "fired", "default"));
    advance_to(f.a, T0 + 3 * MIN);
    put(f.a, "alertname=Net", DW_ALERT_FIRING);
    advance_to(f.a, T0 + 4 * MIN + 30 * SEC);
    ASSERT_EQ_INT(count_events(f.a), 0);
    fx_close(&f);
}

/* ---- grouping timers ---- */

TEST(p0_goes_out_at_once_then_every_second)
{
    struct fixture f;
    fx_open(&f, NULL); /* default route, priority_timing defaults */
    put(f.a, "alertname=ApiDown,priority=P0,instance=a", DW_ALERT_FIRING);
    json_t *p = one_event(f.a, "fired", "default"); /* inside put: no tick needed */
    ASSERT_EQ_INT(payload_alerts(p), 1);
    ASSERT_EQ_STR(jstr(p, "version"), "4");
    ASSERT_EQ_STR(jstr(p, "priority"), "P0");
    ASSERT_EQ_STR(jstr(p, "groupKey"), "{}:{alertname=\"ApiDown\"}");
    json_decref(p);
    advance_to(f.a, T0 + 500);
    put(f.a, "alertname=ApiDown,priority=P0,instance=b", DW_ALERT_FIRING);
    ASSERT_EQ_INT(count_events(f.a), 0);
    advance_to(f.a, T0 + 999);
    ASSERT_EQ_INT(count_events(f.a), 0);
    advance_to(f.a, T0 + 1000);
    p = one_event(f.a, "changed", "default");
    ASSERT_EQ_INT(payload_alerts(p), 2);
    json_decref(p);
    fx_close(&f);
}

TEST(group_wait_interval_repeat_exact_ms)
{
    struct fixture f;
    fx_open(&f, "route: {receiver: r, group_wait: 30s, group_interval: 5m, repeat_interval: 4h}\n"
                "receivers: [{name: r}]\n");
    const int64_t DAY = 24 * HOUR;
    ASSERT_EQ_INT(put_full(f.a, "alertname=Slow,instance=a", NULL, DW_ALERT_FIRING, T0, T0 + DAY),
                  0);
    advance_to(f.a, T0 + 30 * SEC - 1);
    ASSERT_EQ_INT(count_events(f.a), 0);
    advance_to(f.a, T0 + 30 * SEC);
    json_decref(one_event(f.a, "fired", "r"));
    advance_to(f.a, T0 + MIN);
    ASSERT_EQ_INT(
        put_full(f.a, "alertname=Slow,instance=b", NULL, DW_ALERT_FIRING, T0 + MIN, T0 + DAY), 0);
    advance_to(f.a, T0 + 5 * MIN + 30 * SEC - 1);
    ASSERT_EQ_INT(count_events(f.a), 0);
    advance_to(f.a, T0 + 5 * MIN + 30 * SEC);
    json_decref(one_event(f.a, "changed", "r"));
    /* the repeat comes at the first flush strictly after 4h: 4h05m30s is not */
    for (int64_t t = T0 + 10 * MIN + 30 * SEC; t <= T0 + 4 * HOUR + 5 * MIN + 30 * SEC;
         t += 5 * MIN)
        advance_to(f.a, t);
    ASSERT_EQ_INT(count_events(f.a), 0);
    advance_to(f.a, T0 + 4 * HOUR + 10 * MIN + 30 * SEC - 1);
    ASSERT_EQ_INT(count_events(f.a), 0);
    advance_to(f.a, T0 + 4 * HOUR + 10 * MIN + 30 * SEC);
    json_decref(one_event(f.a, "repeat", "r"));
    fx_close(&f);
}

TEST(old_alert_skips_group_wait)
{
    struct fixture f;
    fx_open(&f, "route: {receiver: default, group_wait: 30s, group_interval: 5m}\n");
    ASSERT_EQ_INT(put_full(f.a, "alertname=Old", NULL, DW_ALERT_FIRING, T0 - HOUR, 0), 0);
    json_decref(one_event(f.a, "fired", "default"));
    fx_close(&f);
}

TEST(more_urgent_alert_shortens_timers)
{
    struct fixture f;
    fx_open(&f, "route: {receiver: default, group_by: [service]}\n");
    put(f.a, "alertname=Latency,service=api,priority=P2", DW_ALERT_FIRING);
    advance_to(f.a, T0 + 10 * SEC);
    ASSERT_EQ_INT(count_events(f.a), 0); /* P2 waits 30s */
    put(f.a, "alertname=Down,service=api,priority=P0", DW_ALERT_FIRING);
    json_t *p = one_event(f.a, "fired", "default"); /* P0: group_wait 0 since creation */
    ASSERT_EQ_INT(payload_alerts(p), 2);
    ASSERT_EQ_STR(jstr(p, "priority"), "P0");
    json_decref(p);
    fx_close(&f);
}

static const char *ROUTING =
    "route:\n"
    "  receiver: default\n"
    "  group_by: [alertname]\n"
    "  group_wait: 0s\n"
    "  group_interval: 1s\n"
    "  routes:\n"
    "    - matchers: ['priority=\"P0\"']\n"
    "      receiver: pager\n"
    "      continue: true\n"
    "    - match: {service: db}\n"
    "      receiver: dba\n"
    "      group_by: ['...']\n"
    "    - matchers: ['{service=~\"web|cdn\", team!=\"x\"}']\n"
    "      receiver: frontend\n"
    "receivers: [{name: default}, {name: pager, webhook_configs: [{url: 'http://x'}]},\n"
    "            {name: dba}, {name: frontend}]\n";

static size_t receivers_of_events(struct dw_alerter *a, char out[][32], size_t max)
{
    struct dw_alert_event *ev;
    size_t n = take_events(a, &ev);
    for (size_t i = 0; i < n && i < max; i++)
        dw_strlcpy(out[i], ev[i].receiver, 32);
    dw_alert_events_free(ev, n);
    return n;
}

TEST(routing_tree_with_continue)
{
    struct fixture f;
    fx_open(&f, ROUTING);
    char r[8][32];
    put(f.a, "alertname=DbDown,priority=P0,service=db", DW_ALERT_FIRING);
    ASSERT_EQ_INT(receivers_of_events(f.a, r, 8), 2);
    ASSERT_EQ_STR(r[0], "pager");
    ASSERT_EQ_STR(r[1], "dba");
    put(f.a, "alertname=Slow,service=web", DW_ALERT_FIRING);
    ASSERT_EQ_INT(receivers_of_events(f.a, r, 8), 1);
    ASSERT_EQ_STR(r[0], "frontend");
    put(f.a, "alertname=Slow,service=web,team=x", DW_ALERT_FIRING);
    ASSERT_EQ_INT(receivers_of_events(f.a, r, 8), 1);
    ASSERT_EQ_STR(r[0], "default");
    put(f.a, "alertname=ApiDown,priority=P0,service=api", DW_ALERT_FIRING);
    ASSERT_EQ_INT(receivers_of_events(f.a, r, 8),
                  1); /* pager, then nothing else matches: only pager */
    ASSERT_EQ_STR(r[0], "pager");
    /* group_by '...': one group per label set on the dba route */
    put(f.a, "alertname=Lag,service=db,instance=1", DW_ALERT_FIRING);
    put(f.a, "alertname=Lag,service=db,instance=2", DW_ALERT_FIRING);
    ASSERT_EQ_INT(count_events(f.a), 2);
    json_t *groups;
    struct dw_alert_filter flt;
    dw_alert_filter_init(&flt);
    flt.receiver = "dba";
    char *err = NULL;
    ASSERT_EQ_INT(dw_alerter_groups_json(f.a, &flt, &groups, &err), 0);
    ASSERT_EQ_INT(json_array_size(groups), 3);
    json_decref(groups);
    char *rc = dw_alerter_receiver_config(f.a, "pager");
    ASSERT_CONTAINS(rc, "webhook_configs");
    free(rc);
    fx_close(&f);
}

TEST(route_keys_and_group_labels)
{
    struct fixture f;
    fx_open(&f, ROUTING);
    put(f.a, "alertname=DbDown,priority=P0,service=db", DW_ALERT_FIRING);
    struct dw_alert_event *ev;
    size_t n = take_events(f.a, &ev);
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_STR(ev[0].group_key, "{}/{priority=\"P0\"}/0:{alertname=\"DbDown\"}");
    ASSERT_EQ_STR(ev[1].group_key,
                  "{}/{service=\"db\"}/1:{alertname=\"DbDown\", priority=\"P0\", service=\"db\"}");
    dw_alert_events_free(ev, n);
    fx_close(&f);
}

TEST(resolve_is_sent_and_group_removed)
{
    struct fixture f;
    fx_open(&f, "route: {receiver: default, group_wait: 0s, group_interval: 1s}\n");
    put(f.a, "alertname=X,instance=1", DW_ALERT_FIRING);
    put(f.a, "alertname=X,instance=2", DW_ALERT_FIRING);
    ASSERT_EQ_INT(count_events(f.a), 1); /* the second joined the flushed group */
    advance_to(f.a, T0 + SEC);
    json_decref(one_event(f.a, "changed", "default"));
    put(f.a, "alertname=X,instance=1", DW_ALERT_RESOLVED);
    advance_to(f.a, T0 + 2 * SEC);
    json_t *p = one_event(f.a, "changed", "default");
    ASSERT_EQ_INT(payload_alerts(p), 2);
    ASSERT_EQ_STR(jstr(p, "status"), "firing");
    json_decref(p);
    put(f.a, "alertname=X,instance=2", DW_ALERT_RESOLVED);
    advance_to(f.a, T0 + 3 * SEC);
    p = one_event(f.a, "resolved", "default");
    ASSERT_EQ_INT(payload_alerts(p), 1); /* instance=1 left the group after its resolve */
    json_decref(p);
    ASSERT_EQ_INT(f.a->ngroups, 0);
    advance_to(f.a, T0 + 10 * SEC);
    ASSERT_EQ_INT(count_events(f.a), 0);
    fx_close(&f);
}

/* ---- the event queue ---- */

TEST(event_queue_cursor_and_wait)
{
    struct fixture f;
    fx_open(&f, NULL);
    put(f.a, "alertname=A,priority=P0", DW_ALERT_FIRING);
    put(f.a, "alertname=B,priority=P0", DW_ALERT_FIRING);
    struct dw_alert_event *ev;
    size_t n;
    char *err = NULL;
    ASSERT_EQ_INT(dw_alerter_events_read(f.a, "notify", 1, &ev, &n, &err), 0);
    ASSERT_EQ_INT(n, 1);
    int64_t first = ev[0].id;
    dw_alert_events_free(ev, n);
    /* not acknowledged: read again */
    ASSERT_EQ_INT(dw_alerter_events_read(f.a, "notify", 10, &ev, &n, &err), 0);
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(ev[0].id, first);
    ASSERT_TRUE(dw_alerter_events_wait(f.a, "notify", 0));
    ASSERT_EQ_INT(dw_alerter_events_ack(f.a, "notify", ev[1].id, &err), 0);
    dw_alert_events_free(ev, n);
    ASSERT_EQ_INT(dw_alerter_events_ack(f.a, "notify", first, &err), 0); /* never backwards */
    ASSERT_EQ_INT(dw_alerter_events_read(f.a, "notify", 10, &ev, &n, &err), 0);
    ASSERT_EQ_INT(n, 0);
    free(ev);
    int64_t t0 = dw_mono_ns();
    ASSERT_FALSE(dw_alerter_events_wait(f.a, "notify", 30));
    ASSERT_TRUE(dw_mono_ns() - t0 >= 25 * 1000000LL);
    /* another consumer has its own cursor */
    ASSERT_EQ_INT(dw_alerter_events_read(f.a, "incident", 10, &ev, &n, &err), 0);
    ASSERT_EQ_INT(n, 2);
    dw_alert_events_free(ev, n);
    ASSERT_EQ_INT(dw_alerter_events_read(f.a, "", 10, &ev, &n, &err), DW_ALERT_EINVAL);
    free(err);
    fx_close(&f);
}

struct waiter {
    struct dw_alerter *a;
    bool got;
    int64_t ns;
};

static void *wait_thread(void *arg)
{
    struct waiter *w = arg;
    int64_t t0 = dw_mono_ns();
    w->got = dw_alerter_events_wait(w->a, "w", 5000);
    w->ns = dw_mono_ns() - t0;
    return NULL;
}

TEST(event_wait_wakes_within_milliseconds)
{
    struct fixture f;
    fx_open(&f, NULL);
    char *err = NULL;
    ASSERT_EQ_INT(dw_alerter_events_ack(f.a, "w", 0, &err), 0);
    struct waiter w = {.a = f.a};
    pthread_t t;
    pthread_create(&t, NULL, wait_thread, &w);
    struct timespec ts = {0, 50 * 1000000};
    nanosleep(&ts, NULL);
    put(f.a, "alertname=Now,priority=P0", DW_ALERT_FIRING);
    pthread_join(t, NULL);
    ASSERT_TRUE(w.got);
    ASSERT_TRUE(w.ns < 1000 * 1000000LL);
    fx_close(&f);
}

/* ---- silences ---- */

static int silence(struct dw_alerter *a, const char *name, const char *value, bool regex,
                   int64_t starts, int64_t ends, const char *id, char out[DW_SILENCE_ID_LEN])
{
    struct dw_silence_matcher m = {name, value, regex, true};
    struct dw_silence_in in = {.id = id,
                               .matchers = &m,
                               .nmatchers = 1,
                               .starts_at_ms = starts,
                               .ends_at_ms = ends,
                               .created_by = "alice",
                               .comment = "deploy"};
    char *err = NULL;
    int rc = dw_alerter_silence_set(a, &in, dw_now_ms(), out, &err);
    if (rc)
        fprintf(stderr, "  silence: %s\n", err);
    free(err);
    return rc;
}

TEST(silence_mutes_and_expires)
{
    struct fixture f;
    fx_open(&f, "route: {receiver: default, group_wait: 0s, group_interval: 1s}\n");
    char id[DW_SILENCE_ID_LEN];
    ASSERT_EQ_INT(silence(f.a, "alertname", "Deploy.*", true, T0, T0 + HOUR, NULL, id), 0);
    ASSERT_EQ_INT(strlen(id), 36);
    put(f.a, "alertname=DeployLag", DW_ALERT_FIRING);
    ASSERT_EQ_INT(count_events(f.a), 0);
    struct dw_alert_filter flt;
    dw_alert_filter_init(&flt);
    json_t *v;
    char *err = NULL;
    ASSERT_EQ_INT(dw_alerter_alerts_json(f.a, &flt, &v, &err), 0);
    json_t *st = json_object_get(json_array_get(v, 0), "status");
    ASSERT_EQ_STR(jstr(st, "state"), "suppressed");
    ASSERT_EQ_STR(json_string_value(json_array_get(json_object_get(st, "silencedBy"), 0)), id);
    json_decref(v);
    flt.silenced = false;
    ASSERT_EQ_INT(dw_alerter_alerts_json(f.a, &flt, &v, &err), 0);
    ASSERT_EQ_INT(json_array_size(v), 0);
    json_decref(v);
    advance_to(f.a, T0 + 10 * SEC);
    ASSERT_EQ_INT(dw_alerter_silence_expire(f.a, id, dw_now_ms(), &err), 0);
    ASSERT_EQ_INT(dw_alerter_silence_expire(f.a, id, dw_now_ms(), &err), DW_ALERT_EINVAL);
    ASSERT_CONTAINS(err, "already expired");
    free(err);
    err = NULL;
    advance_to(f.a, T0 + 11 * SEC);
    json_decref(one_event(f.a, "fired", "default"));
    json_t *s = dw_alerter_silence_json(f.a, id);
    ASSERT_EQ_STR(jstr(json_object_get(s, "status"), "state"), "expired");
    ASSERT_EQ_STR(jstr(s, "createdBy"), "alice");
    ASSERT_EQ_STR(jstr(s, "endsAt"), "2026-03-02T10:00:10.000Z");
    json_decref(s);
    ASSERT_EQ_INT(dw_alerter_silence_expire(f.a, "nope", dw_now_ms(), &err), DW_ALERT_ENOTFOUND);
    free(err);
    fx_close(&f);
}

TEST(resolve_of_silenced_alert_reaches_who_saw_it_fire)
{
    struct fixture f;
    fx_open(&f, "route: {receiver: default, group_wait: 0s, group_interval: 1s}\n");
    put(f.a, "alertname=Db", DW_ALERT_FIRING);
    json_decref(one_event(f.a, "fired", "default"));
    char id[DW_SILENCE_ID_LEN];
    ASSERT_EQ_INT(silence(f.a, "alertname", "Db", false, T0, T0 + HOUR, NULL, id), 0);
    advance_to(f.a, T0 + 5 * SEC);
    ASSERT_EQ_INT(count_events(f.a), 0); /* muted: nothing new */
    put(f.a, "alertname=Db", DW_ALERT_RESOLVED);
    advance_to(f.a, T0 + 6 * SEC);
    json_t *p = one_event(f.a, "resolved", "default"); /* Alertmanager would drop it */
    ASSERT_EQ_STR(payload_status(p, 0), "resolved");
    json_decref(p);
    /* an alert that fired and resolved entirely under the silence is never sent */
    put(f.a, "alertname=Db,instance=2", DW_ALERT_FIRING);
    advance_to(f.a, T0 + 7 * SEC);
    put(f.a, "alertname=Db,instance=2", DW_ALERT_RESOLVED);
    advance_to(f.a, T0 + 9 * SEC);
    ASSERT_EQ_INT(count_events(f.a), 0);
    fx_close(&f);
}

TEST(silence_validation_and_update)
{
    struct fixture f;
    fx_open(&f, NULL);
    char id[DW_SILENCE_ID_LEN], id2[DW_SILENCE_ID_LEN], *err = NULL;
    ASSERT_EQ_INT(silence(f.a, "alertname", ".*", true, T0, T0 + HOUR, NULL, id),
                  DW_ALERT_EINVAL); /* matches everything */
    ASSERT_EQ_INT(silence(f.a, "alertname", "X", false, T0, T0, NULL, id), DW_ALERT_EINVAL);
    ASSERT_EQ_INT(silence(f.a, "alertname", "X", false, T0 - 2 * HOUR, T0 - HOUR, NULL, id),
                  DW_ALERT_EINVAL);
    ASSERT_EQ_INT(silence(f.a, "1bad", "X", false, T0, T0 + HOUR, NULL, id), DW_ALERT_EINVAL);
    ASSERT_EQ_INT(silence(f.a, "alertname", "(", true, T0, T0 + HOUR, NULL, id), DW_ALERT_EINVAL);
    ASSERT_EQ_INT(silence(f.a, "alertname", "X", false, T0, T0 + HOUR, "no-such-id", id),
                  DW_ALERT_ENOTFOUND);
    /* starts in the past: moved to now */
    ASSERT_EQ_INT(silence(f.a, "alertname", "X", false, T0 - HOUR, T0 + HOUR, NULL, id), 0);
    json_t *s = dw_alerter_silence_json(f.a, id);
    ASSERT_EQ_STR(jstr(s, "startsAt"), "2026-03-02T10:00:00.000Z");
    json_decref(s);
    /* moving the end of an active silence keeps its id */
    ASSERT_EQ_INT(silence(f.a, "alertname", "X", false, T0, T0 + 2 * HOUR, id, id2), 0);
    ASSERT_EQ_STR(id2, id);
    /* changing its matchers expires it and creates another */
    ASSERT_EQ_INT(silence(f.a, "alertname", "Y", false, T0, T0 + 2 * HOUR, id, id2), 0);
    ASSERT_TRUE(strcmp(id2, id) != 0);
    s = dw_alerter_silence_json(f.a, id);
    ASSERT_EQ_STR(jstr(json_object_get(s, "status"), "state"), "expired");
    json_decref(s);
    /* a pending one, listed after the active one */
    char id3[DW_SILENCE_ID_LEN];
    ASSERT_EQ_INT(silence(f.a, "alertname", "Z", false, T0 + HOUR, T0 + 2 * HOUR, NULL, id3), 0);
    json_t *all;
    ASSERT_EQ_INT(dw_alerter_silences_json(f.a, NULL, 0, &all, &err), 0);
    ASSERT_EQ_INT(json_array_size(all), 3);
    ASSERT_EQ_STR(jstr(json_array_get(all, 0), "id"), id2);
    ASSERT_EQ_STR(jstr(json_array_get(all, 1), "id"), id3);
    ASSERT_EQ_STR(jstr(json_array_get(all, 2), "id"), id);
    json_decref(all);
    const char *filter[] = {"alertname=\"Z\""};
    ASSERT_EQ_INT(dw_alerter_silences_json(f.a, filter, 1, &all, &err), 0);
    ASSERT_EQ_INT(json_array_size(all), 1);
    json_decref(all);
    fx_close(&f);
}

/* ---- inhibition ---- */

TEST(p0_inhibits_p1_p2_of_the_same_service)
{
    struct fixture f;
    fx_open(&f, "route: {receiver: default, group_by: [alertname, service], group_wait: 0s,\n"
                "        group_interval: 1s}\n"
                "inhibit_rules:\n"
                "  - source_matchers: ['priority=\"P0\"']\n"
                "    target_matchers: ['priority=~\"P1|P2\"']\n"
                "    equal: [service]\n");
    put(f.a, "alertname=ApiDown,service=api,priority=P0", DW_ALERT_FIRING);
    ASSERT_EQ_INT(count_events(f.a), 1);
    put(f.a, "alertname=ApiSlow,service=api,priority=P1", DW_ALERT_FIRING);
    put(f.a, "alertname=DbSlow,service=db,priority=P1", DW_ALERT_FIRING);
    struct dw_alert_event *ev;
    size_t n = take_events(f.a, &ev);
    ASSERT_EQ_INT(n, 1);
    ASSERT_CONTAINS(ev[0].group_key, "DbSlow");
    dw_alert_events_free(ev, n);
    struct dw_alert_filter flt;
    dw_alert_filter_init(&flt);
    flt.inhibited = false;
    json_t *v;
    char *err = NULL;
    ASSERT_EQ_INT(dw_alerter_alerts_json(f.a, &flt, &v, &err), 0);
    ASSERT_EQ_INT(json_array_size(v), 2);
    json_decref(v);
    /* the source resolves: the target is notified at its next flush */
    put(f.a, "alertname=ApiDown,service=api,priority=P0", DW_ALERT_RESOLVED);
    advance_to(f.a, T0 + SEC);
    n = take_events(f.a, &ev);
    ASSERT_EQ_INT(n, 2); /* ApiDown resolved, ApiSlow fired */
    dw_alert_events_free(ev, n);
    fx_close(&f);
}

/* ---- time zones and time intervals ---- */

static int64_t at(const char *rfc3339)
{
    int64_t ms;
    if (dw_parse_rfc3339(rfc3339, &ms) < 0)
        DW_FAIL_("bad time %s", rfc3339);
    return ms;
}

TEST(tz_new_york_dst_2026)
{
    char *err = NULL;
    const struct dw_tz *z = dw_tz_get("America/New_York", &err);
    ASSERT_NOT_NULL(z);
    /* 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z) */
    ASSERT_EQ_INT(dw_tz_offset(z, at("2026-03-08T06:59:59Z") / 1000), -5 * 3600);
    ASSERT_EQ_INT(dw_tz_offset(z, at("2026-03-08T07:00:00Z") / 1000), -4 * 3600);
    ASSERT_EQ_STR(dw_tz_abbrev(z, at("2026-03-08T07:00:00Z") / 1000), "EDT");
    /* 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z) */
    ASSERT_EQ_INT(dw_tz_offset(z, at("2026-11-01T05:59:59Z") / 1000), -4 * 3600);
    ASSERT_EQ_INT(dw_tz_offset(z, at("2026-11-01T06:00:00Z") / 1000), -5 * 3600);
    struct dw_civil c;
    dw_civil_at(z, at("2026-11-01T05:30:00Z"), &c); /* the first 01:30 */
    ASSERT_EQ_INT(c.hour, 1);
    dw_civil_at(z, at("2026-11-01T06:30:00Z"), &c); /* the second 01:30 */
    ASSERT_EQ_INT(c.hour, 1);
    ASSERT_EQ_INT(c.weekday, 0);
    /* far future: the footer rule (EST5EDT,M3.2.0,M11.1.0); 2040-03-11 is the 2nd Sunday */
    ASSERT_EQ_INT(dw_tz_offset(z, at("2040-03-11T06:59:59Z") / 1000), -5 * 3600);
    ASSERT_EQ_INT(dw_tz_offset(z, at("2040-03-11T07:00:00Z") / 1000), -4 * 3600);
    ASSERT_EQ_INT(dw_tz_offset(z, at("2040-11-04T05:59:59Z") / 1000), -4 * 3600);
    ASSERT_EQ_INT(dw_tz_offset(z, at("2040-11-04T06:00:00Z") / 1000), -5 * 3600);
}

TEST(tz_berlin_and_southern_hemisphere)
{
    char *err = NULL;
    const struct dw_tz *z = dw_tz_get("Europe/Berlin", &err);
    ASSERT_NOT_NULL(z);
    ASSERT_EQ_INT(dw_tz_offset(z, at("2026-03-29T00:59:59Z") / 1000), 3600);
    ASSERT_EQ_INT(dw_tz_offset(z, at("2026-03-29T01:00:00Z") / 1000), 7200);
    ASSERT_EQ_INT(dw_tz_offset(z, at("2026-10-25T00:59:59Z") / 1000), 7200);
    ASSERT_EQ_INT(dw_tz_offset(z, at("2026-10-25T01:00:00Z") / 1000), 3600);
    ASSERT_EQ_INT(dw_tz_offset(z, at("2045-03-26T01:00:00Z") / 1000), 7200); /* footer */
    ASSERT_EQ_INT(dw_tz_offset(z, at("1890-01-01T00:00:00Z") / 1000), 3208); /* LMT */
    const struct dw_tz *s = dw_tz_get("Australia/Sydney", &err);
    ASSERT_NOT_NULL(s);
    ASSERT_EQ_INT(dw_tz_offset(s, at("2045-01-15T00:00:00Z") / 1000), 11 * 3600);
    ASSERT_EQ_INT(dw_tz_offset(s, at("2045-07-15T00:00:00Z") / 1000), 10 * 3600);
    ASSERT_NULL(dw_tz_get("../../etc/passwd", &err));
    ASSERT_CONTAINS(err, "invalid time zone name");
    free(err);
    err = NULL;
    ASSERT_NULL(dw_tz_get("Mars/Olympus", &err));
    ASSERT_CONTAINS(err, "unknown time zone");
    free(err);
    ASSERT_NOT_NULL(dw_tz_get("UTC", &err));
}

/* ---- hand-built TZif files: version 1, and a "slim" version 2 (footer rule only) ---- */

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* Header with timecnt, typecnt, charcnt (other counts 0). */
static size_t tzif_header(unsigned char *p, char version, uint32_t timecnt, uint32_t typecnt,
                          uint32_t charcnt)
{
    memset(p, 0, 44);
    memcpy(p, "TZif", 4);
    p[4] = (unsigned char)version;
    put32(p + 32, timecnt);
    put32(p + 36, typecnt);
    put32(p + 40, charcnt);
    return 44;
}

static size_t tzif_type(unsigned char *p, int32_t off, bool dst, unsigned char idx)
{
    put32(p, (uint32_t)off);
    p[4] = dst;
    p[5] = idx;
    return 6;
}

TEST(tzif_version1_and_slim_version2)
{
    char *dir = tmpdir_new(), *err = NULL;
    unsigned char b[512];
    /* v1: "AAA" (UTC+0) until 2001-09-09T01:46:40Z, then "BBB" (UTC+1, DST) */
    size_t n = tzif_header(b, '\0', 1, 2, 8);
    put32(b + n, 1000000000), n += 4;
    b[n++] = 1;
    n += tzif_type(b + n, 0, false, 0);
    n += tzif_type(b + n, 3600, true, 4);
    memcpy(b + n, "AAA\0BBB\0", 8), n += 8;
    char *path = write_file_n(dir, "v1", b, n);
    struct dw_tz *z = dw_tz_load_file(path, "Test/V1", &err);
    ASSERT_NOT_NULL(z);
    ASSERT_EQ_INT(dw_tz_offset(z, 999999999), 0);
    ASSERT_EQ_STR(dw_tz_abbrev(z, 999999999), "AAA");
    ASSERT_EQ_INT(dw_tz_offset(z, 1000000000), 3600);
    ASSERT_EQ_STR(dw_tz_abbrev(z, 2000000000), "BBB");
    dw_tz_free(&z);
    free(path);
    /* slim v2: no transitions, the footer's rule does everything */
    n = tzif_header(b, '2', 0, 1, 4);
    n += tzif_type(b + n, 0, false, 0);
    memcpy(b + n, "UTC\0", 4), n += 4;
    n += tzif_header(b + n, '2', 0, 1, 4);
    n += tzif_type(b + n, 3600, false, 0);
    memcpy(b + n, "CET\0", 4), n += 4;
    const char *footer = "\nCET-1CEST,M3.5.0,M10.5.0/3\n";
    memcpy(b + n, footer, strlen(footer)), n += strlen(footer);
    path = write_file_n(dir, "slim", b, n);
    z = dw_tz_load_file(path, "Test/Slim", &err);
    ASSERT_NOT_NULL(z);
    ASSERT_EQ_INT(dw_tz_offset(z, at("2026-03-29T00:59:59Z") / 1000), 3600);
    ASSERT_EQ_INT(dw_tz_offset(z, at("2026-03-29T01:00:00Z") / 1000), 7200);
    ASSERT_EQ_STR(dw_tz_abbrev(z, at("2026-07-01T00:00:00Z") / 1000), "CEST");
    ASSERT_EQ_INT(dw_tz_offset(z, at("2026-10-25T00:59:59Z") / 1000), 7200);
    ASSERT_EQ_INT(dw_tz_offset(z, at("2026-10-25T01:00:00Z") / 1000), 3600);
    dw_tz_free(&z);
    free(path);
    /* truncated and foreign files are refused */
    path = write_file_n(dir, "bad", b, 50);
    ASSERT_NULL(dw_tz_load_file(path, "Test/Bad", &err));
    ASSERT_CONTAINS(err, "not a valid TZif file");
    free(err);
    free(path);
    rm_rf(dir);
    free(dir);
}

static struct tperiod business_ny(void)
{
    struct tperiod p = {0};
    char *err = NULL;
    p.times = dw_calloc(1, sizeof *p.times);
    ti_parse_time_range("09:00", "17:00", &p.times[0], &err);
    p.ntimes = 1;
    p.weekdays = dw_calloc(1, sizeof *p.weekdays);
    ti_parse_weekdays("monday:friday", &p.weekdays[0], &err);
    p.nweekdays = 1;
    p.loc = dw_tz_get("America/New_York", &err);
    return p;
}

TEST(business_hours_across_dst)
{
    struct tperiod p = business_ny();
    /* Friday before the change: 09:00 EST = 14:00Z */
    ASSERT_FALSE(tperiod_contains(&p, at("2026-03-06T13:59:59Z")));
    ASSERT_TRUE(tperiod_contains(&p, at("2026-03-06T14:00:00Z")));
    ASSERT_TRUE(tperiod_contains(&p, at("2026-03-06T21:59:59Z")));
    ASSERT_FALSE(tperiod_contains(&p, at("2026-03-06T22:00:00Z")));
    /* Sunday of the change: never */
    ASSERT_FALSE(tperiod_contains(&p, at("2026-03-08T14:00:00Z")));
    /* Monday after: 09:00 EDT = 13:00Z */
    ASSERT_FALSE(tperiod_contains(&p, at("2026-03-09T12:59:59Z")));
    ASSERT_TRUE(tperiod_contains(&p, at("2026-03-09T13:00:00Z")));
    ASSERT_FALSE(tperiod_contains(&p, at("2026-03-09T21:00:00Z")));
    /* November: back to 14:00Z on Monday 2026-11-02 */
    ASSERT_FALSE(tperiod_contains(&p, at("2026-11-02T13:30:00Z")));
    ASSERT_TRUE(tperiod_contains(&p, at("2026-11-02T14:00:00Z")));
    tperiod_release(&p);
}

TEST(time_interval_fields)
{
    struct irange r;
    char *err = NULL;
    ASSERT_EQ_INT(ti_parse_mdays("-3:-1", &r, &err), 0);
    struct tperiod p = {.mdays = &r, .nmdays = 1};
    ASSERT_TRUE(tperiod_contains(&p, at("2026-02-26T12:00:00Z"))); /* 28-day February */
    ASSERT_FALSE(tperiod_contains(&p, at("2026-02-25T12:00:00Z")));
    ASSERT_TRUE(tperiod_contains(&p, at("2026-03-29T12:00:00Z")));
    ASSERT_FALSE(tperiod_contains(&p, at("2026-03-28T12:00:00Z")));
    ASSERT_EQ_INT(ti_parse_mdays("-1:5", &r, &err), -1);
    free(err);
    ASSERT_EQ_INT(ti_parse_mdays("0", &r, &err), -1);
    free(err);
    ASSERT_EQ_INT(ti_parse_weekdays("friday:monday", &r, &err), -1);
    free(err);
    ASSERT_EQ_INT(ti_parse_months("december:january", &r, &err), -1);
    free(err);
    ASSERT_EQ_INT(ti_parse_time_range("17:00", "09:00", &r, &err), -1);
    free(err);
    ASSERT_EQ_INT(ti_parse_time_range("09:00", "24:00", &r, &err), 0);
    ASSERT_EQ_INT(r.end, 1440);
    ASSERT_EQ_INT(ti_parse_months("4:june", &r, &err), 0);
    ASSERT_EQ_INT(r.begin, 4);
    ASSERT_EQ_INT(r.end, 6);
}

TEST(p2_waits_for_business_hours)
{
    struct fixture f;
    fx_open(&f, "route:\n"
                "  receiver: default\n"
                "  routes:\n"
                "    - matchers: ['priority=\"P2\"']\n"
                "      active_time_intervals: [office]\n"
                "    - matchers: ['priority=\"P1\"']\n"
                "      mute_time_intervals: [office]\n"
                "time_intervals:\n"
                "  - name: office\n"
                "    time_intervals:\n"
                "      - times: [{start_time: '09:00', end_time: '17:00'}]\n"
                "        weekdays: ['monday:friday']\n"
                "        location: Europe/Berlin\n");
    /* Saturday 2026-03-28 12:00Z; both alerts stay firing until Tuesday */
    int64_t sat = at("2026-03-28T12:00:00Z"), tue = at("2026-03-31T00:00:00Z");
    advance_to(f.a, sat);
    ASSERT_EQ_INT(put_full(f.a, "alertname=Chat,priority=P2", NULL, DW_ALERT_FIRING, sat, tue), 0);
    ASSERT_EQ_INT(put_full(f.a, "alertname=Cache,priority=P1", NULL, DW_ALERT_FIRING, sat, tue), 0);
    advance_to(f.a, at("2026-03-28T12:01:00Z"));
    json_decref(one_event(f.a, "fired", "default")); /* P1 outside office hours */
    /* through Sunday, when Berlin moves to CEST */
    for (int64_t t = at("2026-03-28T12:05:00Z"); t < at("2026-03-30T07:00:00Z"); t += 4 * MIN)
        advance_to(f.a, t);
    struct dw_alert_event *ev;
    size_t n = take_events(f.a, &ev);
    for (size_t i = 0; i < n; i++) /* the P1 repeats every 2h; the P2 waits */
        ASSERT_NOT_CONTAINS(ev[i].group_key, "Chat");
    dw_alert_events_free(ev, n);
    /* Monday 09:00 CEST = 07:00Z: the P2 goes out at its group's next flush, 07:00:30 */
    advance_to(f.a, at("2026-03-30T07:00:29Z"));
    ASSERT_EQ_INT(count_events(f.a), 0);
    advance_to(f.a, at("2026-03-30T07:00:30Z"));
    n = take_events(f.a, &ev);
    ASSERT_EQ_INT(n, 1);
    ASSERT_CONTAINS(ev[0].group_key, "Chat");
    ASSERT_EQ_STR(ev[0].kind, "fired");
    dw_alert_events_free(ev, n);
    fx_close(&f);
}

/* ---- configuration errors ---- */

static void expect_config_error(const char *yaml, const char *want)
{
    struct dw_diags d;
    dw_diags_init(&d);
    struct acfg *c = acfg_from_yaml("a.yaml", yaml, strlen(yaml), &d);
    ASSERT_NULL(c);
    struct dw_buf b;
    dw_buf_init(&b, 0);
    for (size_t i = 0; i < d.n; i++) {
        dw_diag_format(&d.items[i], &b);
        dw_buf_putc(&b, '\n');
    }
    if (!strstr(b.data ? b.data : "", want))
        fprintf(stderr, "  got: %s", b.data ? b.data : "(nothing)\n");
    ASSERT_CONTAINS(b.data, want);
    dw_buf_release(&b);
    dw_diags_release(&d);
}

TEST(config_errors_have_positions)
{
    expect_config_error("route:\n  receiver: nobody\n", "a.yaml:2:13");
    expect_config_error("route:\n  receiver: default\n  routes:\n    - matchers: ['a=~\"(\"']\n",
                        "a.yaml:4:19: route.routes[0].matchers[0]: invalid regular expression");
    expect_config_error("route: {receiver: default, group_by: ['...', job]}\n", "'...'");
    expect_config_error("route: {receiver: default, matchers: ['a=\"b\"']}\n",
                        "root route must not have matchers");
    expect_config_error("time_intervals:\n  - name: x\n    time_intervals:\n"
                        "      - location: Mars/Base\n",
                        "a.yaml:4:19");
    expect_config_error("time_intervals:\n  - name: x\n    time_intervals:\n"
                        "      - weekdays: [funday]\n",
                        "not a day of the week");
    expect_config_error("route: {receiver: default, mute_time_intervals: [nope]}\n", "nope");
    expect_config_error("severity_map: {critical: P9}\n", "severity_map");
    expect_config_error("flapping: {changes: -1}\n", "flapping.changes");
    expect_config_error("route: {receiver: default, group_interval: 0s}\n", "group_interval");
    expect_config_error("routes: []\n", "unknown key");
}

TEST(config_defaults)
{
    struct acfg *c = acfg_default();
    ASSERT_EQ_INT(c->resolve_timeout, 5 * MIN);
    ASSERT_EQ_INT(c->prio[0].group_wait, 0);
    ASSERT_EQ_INT(c->prio[0].group_interval, SEC);
    ASSERT_EQ_INT(c->prio[2].group_wait, 30 * SEC);
    ASSERT_EQ_INT(c->prio[PRIO_NONE].repeat_interval, 4 * HOUR);
    ASSERT_EQ_STR(c->root.receiver, "default");
    ASSERT_EQ_INT(c->root.ngroup_by, 1);
    ASSERT_EQ_INT(c->nsev, 3);
    ASSERT_EQ_INT(c->flap_changes, 6);
    acfg_free(&c);
}

/* ---- matchers ---- */

TEST(matcher_syntax)
{
    struct amatchers ms = {0};
    char *err = NULL;
    ASSERT_EQ_INT(amatchers_parse(&ms, "{a=\"b\", c=~\"x|y\" , d!=e,f!~\"g,h\"}", &err), 0);
    ASSERT_EQ_INT(ms.n, 4);
    ASSERT_EQ_STR(ms.v[3].value, "g,h");
    struct dw_buf b;
    dw_buf_init(&b, 0);
    amatchers_sort(&ms);
    amatchers_format(&ms, &b);
    ASSERT_EQ_STR(b.data, "{a=\"b\",c=~\"x|y\",d!=\"e\",f!~\"g,h\"}");
    dw_buf_release(&b);
    struct lset ls = {0};
    lset_set(&ls, "a", "b");
    lset_set(&ls, "c", "y");
    ASSERT_TRUE(amatchers_match(&ms, &ls));
    lset_set(&ls, "c", "xy"); /* anchored */
    ASSERT_FALSE(amatchers_match(&ms, &ls));
    lset_release(&ls);
    amatchers_release(&ms);
    ASSERT_EQ_INT(amatchers_parse(&ms, "a=\"unterminated", &err), -1);
    ASSERT_CONTAINS(err, "unescaped double quote");
    free(err);
    ASSERT_EQ_INT(amatchers_parse(&ms, "=x", &err), -1);
    ASSERT_CONTAINS(err, "bad matcher format");
    free(err);
    struct amatcher m;
    ASSERT_EQ_INT(amatcher_parse1(&m, "msg=\"say \\\"hi\\\"\\n\"", &err), 0);
    ASSERT_EQ_STR(m.value, "say \"hi\"\n");
    amatcher_release(&m);
}

/* ---- persistence ---- */

TEST(restart_keeps_state_and_sends_nothing_again)
{
    struct fixture f;
    fx_open(&f, "route: {receiver: default, group_wait: 0s, group_interval: 1s, "
                "repeat_interval: 1h}\n");
    put(f.a, "alertname=Api,priority=P0", DW_ALERT_FIRING);
    put(f.a, "alertname=Web", DW_ALERT_PENDING);
    ASSERT_EQ_INT(count_events(f.a), 1);
    char id[DW_SILENCE_ID_LEN];
    ASSERT_EQ_INT(silence(f.a, "alertname", "Muted", false, T0, T0 + HOUR, NULL, id), 0);
    put(f.a, "alertname=Muted", DW_ALERT_FIRING);
    fx_reopen(&f);
    advance_to(f.a, T0 + 10 * SEC);
    ASSERT_EQ_INT(count_events(f.a), 0); /* nothing re-sent */
    json_t *l = lifecycle_of(f.a, "alertname=Api,priority=P0");
    ASSERT_EQ_STR(jstr(l, "state"), "firing");
    ASSERT_EQ_STR(jstr(l, "firingAt"), "2026-03-02T10:00:00.000Z");
    json_decref(l);
    l = lifecycle_of(f.a, "alertname=Web");
    ASSERT_EQ_STR(jstr(l, "state"), "pending");
    json_decref(l);
    json_t *s = dw_alerter_silence_json(f.a, id);
    ASSERT_NOT_NULL(s);
    json_decref(s);
    ASSERT_EQ_INT(f.a->ngroups, 2);
    /* resolve after the restart: delivered */
    put(f.a, "alertname=Api,priority=P0", DW_ALERT_RESOLVED);
    advance_to(f.a, T0 + 11 * SEC);
    json_decref(one_event(f.a, "resolved", "default"));
    /* a resolve that happened while down is delivered after the restart */
    put(f.a, "alertname=Api2", DW_ALERT_FIRING);
    ASSERT_EQ_INT(count_events(f.a), 1);
    put(f.a, "alertname=Api2", DW_ALERT_RESOLVED);
    fx_reopen(&f);
    advance_to(f.a, T0 + 12 * SEC);
    json_decref(one_event(f.a, "resolved", "default"));
    fx_close(&f);
}

TEST(repeat_interval_survives_restart)
{
    struct fixture f;
    fx_open(&f, "route: {receiver: default, group_wait: 0s, group_interval: 1m, "
                "repeat_interval: 10m}\n");
    ASSERT_EQ_INT(put_full(f.a, "alertname=Long", NULL, DW_ALERT_FIRING, T0, T0 + 24 * HOUR), 0);
    ASSERT_EQ_INT(count_events(f.a), 1);
    advance_to(f.a, T0 + 5 * MIN);
    fx_reopen(&f);
    advance_to(f.a, T0 + 6 * MIN);
    ASSERT_EQ_INT(count_events(f.a), 0);
    for (int64_t t = T0 + 7 * MIN; t <= T0 + 10 * MIN; t += MIN)
        advance_to(f.a, t);
    ASSERT_EQ_INT(count_events(f.a), 0); /* sent at T0: not before T0 + 10m + 1ms */
    advance_to(f.a, T0 + 11 * MIN);
    json_decref(one_event(f.a, "repeat", "default"));
    fx_close(&f);
}

/* ---- flapping ---- */

TEST(flapping_holds_notifications_until_it_settles)
{
    struct fixture f;
    fx_open(&f, "flapping: {changes: 4, window: 10m}\n"
                "route: {receiver: default, group_wait: 0s, group_interval: 1s}\n");
    const char *A = "alertname=Flaky";
    put(f.a, A, DW_ALERT_FIRING); /* change 1 */
    json_decref(one_event(f.a, "fired", "default"));
    advance_to(f.a, T0 + MIN);
    put(f.a, A, DW_ALERT_RESOLVED); /* 2 */
    advance_to(f.a, T0 + MIN + SEC);
    json_decref(one_event(f.a, "resolved", "default"));
    advance_to(f.a, T0 + 2 * MIN);
    put(f.a, A, DW_ALERT_FIRING); /* 3 */
    json_decref(one_event(f.a, "fired", "default"));
    advance_to(f.a, T0 + 3 * MIN);
    put(f.a, A, DW_ALERT_RESOLVED); /* 4: flapping */
    json_t *l = lifecycle_of(f.a, A);
    ASSERT_TRUE(json_is_true(json_object_get(l, "flapping")));
    json_decref(l);
    advance_to(f.a, T0 + 4 * MIN);
    ASSERT_EQ_INT(count_events(f.a), 0); /* the resolve is held */
    put(f.a, A, DW_ALERT_FIRING);
    advance_to(f.a, T0 + 5 * MIN);
    put(f.a, A, DW_ALERT_RESOLVED);
    advance_to(f.a, T0 + 6 * MIN);
    ASSERT_EQ_INT(count_events(f.a), 0);
    /* the last four changes were at 2m, 3m, 4m, 5m: settled at 12m */
    advance_to(f.a, T0 + 12 * MIN - 1);
    ASSERT_EQ_INT(count_events(f.a), 0);
    advance_to(f.a, T0 + 12 * MIN);
    l = lifecycle_of(f.a, A);
    ASSERT_FALSE(json_is_true(json_object_get(l, "flapping")));
    json_decref(l);
    advance_to(f.a, T0 + 12 * MIN + SEC);
    json_decref(one_event(f.a, "resolved", "default"));
    /* flaps are counted for the tuning report */
    struct dw_alert_stats *st;
    size_t n;
    char *err = NULL;
    ASSERT_EQ_INT(dw_alerter_stats(f.a, 0, INT64_MAX, &st, &n, &err), 0);
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(st[0].fired, 3);
    ASSERT_EQ_INT(st[0].flaps, 1);
    dw_alert_stats_free(st, n);
    fx_close(&f);
}

TEST(flapping_survives_restart)
{
    struct fixture f;
    fx_open(&f, "flapping: {changes: 2, window: 10m}\n"
                "route: {receiver: default, group_wait: 0s, group_interval: 1s}\n");
    put(f.a, "alertname=F", DW_ALERT_FIRING);
    ASSERT_EQ_INT(count_events(f.a), 1);
    advance_to(f.a, T0 + MIN);
    put(f.a, "alertname=F", DW_ALERT_RESOLVED); /* flapping from here to 10m */
    fx_reopen(&f);
    advance_to(f.a, T0 + 2 * MIN);
    ASSERT_EQ_INT(count_events(f.a), 0);
    advance_to(f.a, T0 + 10 * MIN);
    advance_to(f.a, T0 + 10 * MIN + SEC);
    json_decref(one_event(f.a, "resolved", "default"));
    fx_close(&f);
}

/* ---- marks and statistics ---- */

TEST(ack_false_positive_and_stats)
{
    struct fixture f;
    fx_open(&f, "route: {receiver: default, group_wait: 0s, group_interval: 1s}\n");
    char hex[17], *err = NULL;
    fp_hex(fp_of("alertname=Cpu,instance=a"), hex);
    ASSERT_EQ_INT(dw_alerter_mark(f.a, hex, DW_ALERT_MARK_ACK, "bob", NULL, T0, &err),
                  DW_ALERT_ENOTFOUND);
    free(err);
    err = NULL;
    ASSERT_EQ_INT(dw_alerter_mark(f.a, "xyz", DW_ALERT_MARK_ACK, "bob", NULL, T0, &err),
                  DW_ALERT_EINVAL);
    free(err);
    err = NULL;
    put(f.a, "alertname=Cpu,instance=a", DW_ALERT_FIRING);
    ASSERT_EQ_INT(
        put_full(f.a, "alertname=Cpu,instance=b", NULL, DW_ALERT_FIRING, T0, T0 + 24 * HOUR), 0);
    ASSERT_EQ_INT(dw_alerter_mark(f.a, hex, DW_ALERT_MARK_ACK, "bob", "looking", T0, &err), 0);
    json_t *l = lifecycle_of(f.a, "alertname=Cpu,instance=a");
    json_t *ack = json_object_get(l, "acknowledged");
    ASSERT_EQ_STR(jstr(ack, "by"), "bob");
    ASSERT_EQ_STR(jstr(ack, "comment"), "looking");
    json_decref(l);
    advance_to(f.a, T0 + 4 * MIN);
    put(f.a, "alertname=Cpu,instance=a", DW_ALERT_FIRING);
    advance_to(f.a, T0 + 8 * MIN);
    put(f.a, "alertname=Cpu,instance=a", DW_ALERT_FIRING);
    advance_to(f.a, T0 + 10 * MIN);
    put(f.a, "alertname=Cpu,instance=a", DW_ALERT_RESOLVED);
    /* marking after the resolve marks the episode that ended */
    ASSERT_EQ_INT(
        dw_alerter_mark(f.a, hex, DW_ALERT_MARK_FALSE_POSITIVE, "carol", NULL, dw_now_ms(), &err),
        0);
    struct dw_alert_stats *st;
    size_t n;
    ASSERT_EQ_INT(dw_alerter_stats(f.a, 0, INT64_MAX, &st, &n, &err), 0);
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_STR(st[0].alertname, "Cpu");
    ASSERT_EQ_INT(st[0].fired, 2);
    ASSERT_EQ_INT(st[0].resolved, 1);
    ASSERT_NEAR(st[0].mean_firing_ms, 10.0 * MIN, 0.5);
    ASSERT_NEAR(st[0].acked_share, 0.5, 1e-9);
    ASSERT_NEAR(st[0].false_positive_share, 0.5, 1e-9);
    ASSERT_EQ_INT(st[0].firing_now, 1);
    dw_alert_stats_free(st, n);
    ASSERT_EQ_INT(dw_alerter_stats(f.a, T0 + HOUR, INT64_MAX, &st, &n, &err), 0);
    ASSERT_EQ_INT(n, 0);
    free(st);
    json_t *js;
    ASSERT_EQ_INT(dw_alerter_stats_json(f.a, 0, INT64_MAX, &js, &err), 0);
    ASSERT_NEAR(json_real_value(json_object_get(json_array_get(js, 0), "meanFiringSeconds")), 600.0,
                1e-9);
    json_decref(js);
    fx_close(&f);
}

/* ---- the Alertmanager API v2 shapes ---- */

TEST(post_alerts_json_and_views)
{
    struct fixture f;
    fx_open(&f, ROUTING);
    const char *body =
        "[{\"labels\":{\"alertname\":\"DbDown\",\"service\":\"db\",\"severity\":\"critical\"},"
        "\"annotations\":{\"summary\":\"down\"},\"startsAt\":\"2026-03-02T09:59:00Z\","
        "\"generatorURL\":\"http://prom/graph\"},"
        "{\"labels\":{\"alertname\":\"Old\"},\"startsAt\":\"2026-03-02T08:00:00Z\","
        "\"endsAt\":\"2026-03-02T09:00:00Z\"}]";
    char *err = NULL;
    ASSERT_EQ_INT(dw_alerter_put_json(f.a, body, strlen(body), T0, &err), 0);
    json_t *v;
    struct dw_alert_filter flt;
    dw_alert_filter_init(&flt);
    ASSERT_EQ_INT(dw_alerter_alerts_json(f.a, &flt, &v, &err), 0);
    ASSERT_EQ_INT(json_array_size(v), 1); /* the resolved one is not listed */
    json_t *al = json_array_get(v, 0);
    ASSERT_EQ_STR(jstr(json_object_get(al, "labels"), "priority"), "P0");
    ASSERT_EQ_STR(jstr(al, "startsAt"), "2026-03-02T09:59:00.000Z");
    ASSERT_EQ_STR(jstr(al, "endsAt"), "2026-03-02T10:05:00.000Z");
    ASSERT_EQ_STR(jstr(al, "updatedAt"), "2026-03-02T10:00:00.000Z");
    ASSERT_EQ_STR(jstr(al, "generatorURL"), "http://prom/graph");
    ASSERT_EQ_INT(strlen(jstr(al, "fingerprint")), 16);
    json_t *rcv = json_object_get(al, "receivers");
    ASSERT_EQ_INT(json_array_size(rcv), 2);
    ASSERT_EQ_STR(jstr(json_array_get(rcv, 0), "name"), "pager");
    ASSERT_EQ_STR(jstr(json_object_get(al, "status"), "state"), "active");
    json_decref(v);
    const char *fm[] = {"service=~\"d.\""};
    flt.matchers = fm;
    flt.nmatchers = 1;
    flt.receiver = "dba";
    ASSERT_EQ_INT(dw_alerter_alerts_json(f.a, &flt, &v, &err), 0);
    ASSERT_EQ_INT(json_array_size(v), 1);
    json_decref(v);
    flt.receiver = "frontend";
    ASSERT_EQ_INT(dw_alerter_alerts_json(f.a, &flt, &v, &err), 0);
    ASSERT_EQ_INT(json_array_size(v), 0);
    json_decref(v);
    const char *bad[] = {"service=~\"(\""};
    flt.matchers = bad;
    ASSERT_EQ_INT(dw_alerter_alerts_json(f.a, &flt, &v, &err), DW_ALERT_EINVAL);
    free(err);
    err = NULL;
    dw_alert_filter_init(&flt);
    ASSERT_EQ_INT(dw_alerter_groups_json(f.a, &flt, &v, &err), 0);
    ASSERT_EQ_INT(json_array_size(v), 2);
    json_t *g = json_array_get(v, 0);
    ASSERT_EQ_STR(jstr(json_object_get(g, "receiver"), "name"), "pager");
    ASSERT_EQ_STR(jstr(json_object_get(g, "labels"), "alertname"), "DbDown");
    json_decref(v);
    json_t *st = dw_alerter_status_json(f.a);
    ASSERT_EQ_STR(jstr(json_object_get(st, "cluster"), "status"), "disabled");
    ASSERT_CONTAINS(jstr(json_object_get(st, "config"), "original"), "receiver: default");
    json_decref(st);
    json_t *rs = dw_alerter_receivers_json(f.a);
    ASSERT_EQ_INT(json_array_size(rs), 4);
    json_decref(rs);
    /* shape errors refuse the whole body */
    const char *bad_bodies[] = {"{", "{}", "[{\"annotations\":{}}]", "[{\"labels\":{\"a\":1}}]",
                                "[{\"labels\":{\"a\":\"b\"},\"startsAt\":\"yesterday\"}]"};
    for (size_t i = 0; i < DW_ARRAY_LEN(bad_bodies); i++) {
        ASSERT_EQ_INT(dw_alerter_put_json(f.a, bad_bodies[i], strlen(bad_bodies[i]), T0, &err),
                      DW_ALERT_EINVAL);
        free(err);
        err = NULL;
    }
    fx_close(&f);
}

TEST(post_silence_json)
{
    struct fixture f;
    fx_open(&f, NULL);
    const char *body = "{\"matchers\":[{\"name\":\"alertname\",\"value\":\"X\",\"isRegex\":false}],"
                       "\"startsAt\":\"2026-03-02T10:00:00Z\",\"endsAt\":\"2026-03-02T12:00:00Z\","
                       "\"createdBy\":\"amtool\",\"comment\":\"maintenance\"}";
    char id[DW_SILENCE_ID_LEN], *err = NULL;
    ASSERT_EQ_INT(dw_alerter_silence_set_json(f.a, body, strlen(body), T0, id, &err), 0);
    json_t *s = dw_alerter_silence_json(f.a, id);
    json_t *m = json_array_get(json_object_get(s, "matchers"), 0);
    ASSERT_TRUE(json_is_true(json_object_get(m, "isEqual")));
    ASSERT_EQ_STR(jstr(s, "comment"), "maintenance");
    json_decref(s);
    const char *missing = "{\"matchers\":[],\"startsAt\":\"2026-03-02T10:00:00Z\","
                          "\"endsAt\":\"2026-03-02T12:00:00Z\",\"createdBy\":\"a\"}";
    ASSERT_EQ_INT(dw_alerter_silence_set_json(f.a, missing, strlen(missing), T0, id, &err),
                  DW_ALERT_EINVAL);
    ASSERT_CONTAINS(err, "comment is required");
    free(err);
    fx_close(&f);
}

TEST(reload_keeps_group_timers)
{
    struct fixture f;
    fx_open(&f, "route: {receiver: default, group_wait: 30s, group_interval: 5m}\n");
    put(f.a, "alertname=A", DW_ALERT_FIRING);
    advance_to(f.a, T0 + 30 * SEC);
    ASSERT_EQ_INT(count_events(f.a), 1);
    advance_to(f.a, T0 + MIN);
    fx_apply(&f, "route: {receiver: default, group_wait: 30s, group_interval: 5m}\n"
                 "resolve_timeout: 1h\n");
    put(f.a, "alertname=A", DW_ALERT_RESOLVED);
    advance_to(f.a, T0 + 5 * MIN + 30 * SEC - 1);
    ASSERT_EQ_INT(count_events(f.a), 0);
    advance_to(f.a, T0 + 5 * MIN + 30 * SEC);
    json_decref(one_event(f.a, "resolved", "default"));
    fx_close(&f);
}

TEST(thread_flushes_on_time)
{
    struct fixture f;
    fx_open(&f, "route: {receiver: default, group_wait: 2s, group_interval: 1m}\n");
    ASSERT_EQ_INT(dw_alerter_start(f.a), 0);
    put(f.a, "alertname=T", DW_ALERT_FIRING);
    ASSERT_FALSE(dw_alerter_events_wait(f.a, "t", 50));
    dw_clock_advance(2 * SEC); /* wakes the thread, which flushes */
    ASSERT_TRUE(dw_alerter_events_wait(f.a, "t", 2000));
    json_decref(one_event(f.a, "fired", "default"));
    dw_alerter_stop(f.a);
    fx_close(&f);
}

TEST_MAIN()
