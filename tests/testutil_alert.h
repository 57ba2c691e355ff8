/*
 * Helpers shared by the tests of the alert module and its consumers.
 */
#ifndef DW_TESTUTIL_ALERT_H
#define DW_TESTUTIL_ALERT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert.h"
#include "harness.h"

/* Applies an `alerting` section given as YAML, failing the test on any error. */
static inline void alerter_apply_ok(struct dw_alerter *a, const char *yaml)
{
    struct dw_diags d;
    dw_diags_init(&d);
    size_t errors = dw_alerter_apply_yaml(a, "test.yaml", yaml, strlen(yaml), &d);
    for (size_t i = 0; i < d.n; i++)
        fprintf(stderr, "  diag: %s\n", d.items[i].msg);
    dw_diags_release(&d);
    ASSERT_EQ_INT(errors, 0);
}

/* Opens the store DIR/dojowatch.db and an alerter on it, failing the test on errors. */
static inline struct dw_alerter *alerter_open_in(const char *dir, struct dw_store **store)
{
    char *path = dw_asprintf("%s/dojowatch.db", dir), *err = NULL;
    *store = dw_store_open(path, &err);
    free(path);
    if (!*store)
        fprintf(stderr, "  store: %s\n", err);
    ASSERT_NOT_NULL(*store);
    struct dw_alerter *a = dw_alerter_open(*store, &err);
    if (!a)
        fprintf(stderr, "  alerter: %s\n", err);
    free(err);
    ASSERT_NOT_NULL(a);
    return a;
}

/*
 * Puts one alert {alertname=NAME, priority=PRIORITY, service="api"} with a
 * summary, firing (for a week, as if a rule re-sent it on every evaluation)
 * or resolved, at dw_now_ms().
 */
static inline void put_alert(struct dw_alerter *a, const char *name, const char *priority,
                             const char *summary, int state)
{
    struct dw_label l[] = {{"alertname", name}, {"priority", priority}, {"service", "api"}};
    struct dw_label an[] = {{"summary", summary}};
    struct dw_alert_in in = {.labels = l,
                             .nlabels = 3,
                             .annotations = an,
                             .nannotations = 1,
                             .state = state,
                             .ends_at_ms =
                                 state == DW_ALERT_FIRING ? dw_now_ms() + 7 * 86400000LL : 0};
    char *err = NULL;
    int rc = dw_alerter_put(a, &in, 1, dw_now_ms(), &err);
    if (rc)
        fprintf(stderr, "  put: %s\n", err);
    free(err);
    ASSERT_EQ_INT(rc, 0);
}

#endif
