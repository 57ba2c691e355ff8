/*
 * Helpers shared by the tests of the alert module and its consumers.
 */
#ifndef DW_TESTUTIL_ALERT_H
#define DW_TESTUTIL_ALERT_H

#include <stdio.h>
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

#endif
