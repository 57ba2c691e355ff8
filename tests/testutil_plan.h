/*
 * Configurations for tests: the example plan with the sections a test
 * replaces (any top-level key of `sections`, e.g. scrape, probes, rules)
 * taken out and the test's own appended.
 */
#ifndef DW_TESTUTIL_PLAN_H
#define DW_TESTUTIL_PLAN_H

#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "plan/plan.h"
#include "testutil.h"

#ifndef DW_SOURCE_ROOT
#define DW_SOURCE_ROOT "."
#endif
#define EXAMPLE_CONFIG DW_SOURCE_ROOT "/examples/dojopool.yaml"

/* True when `line` starts a top-level key that `sections` also has. */
static inline bool replaced_key(const char *line, const char *sections)
{
    size_t k = strcspn(line, ": \n");
    if (!k || line[k] != ':')
        return false;
    for (const char *p = sections; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, line, k + 1) == 0)
            return true;
    return false;
}

/* The example with `sections` replacing its top-level keys, as text (caller frees). */
static inline char *config_text_with(const char *sections)
{
    FILE *f = fopen(EXAMPLE_CONFIG, "r");
    if (!f)
        DW_FAIL_("cannot read %s", EXAMPLE_CONFIG);
    struct dw_buf b;
    dw_buf_init(&b, 0);
    char line[4096];
    bool skip = false;
    while (fgets(line, sizeof line, f)) {
        if (line[0] != ' ' && line[0] != '#' && line[0] != '\n')
            skip = replaced_key(line, sections);
        if (!skip)
            dw_buf_puts(&b, line);
    }
    fclose(f);
    dw_buf_puts(&b, sections);
    return dw_buf_steal(&b);
}

/* A configuration from text named "test.yaml"; the test fails when it does not load. */
static inline struct dw_config *config_load_text(const char *text)
{
    struct dw_diags d;
    dw_diags_init(&d);
    struct dw_config *cfg = dw_config_load_string("test.yaml", text, strlen(text), &d);
    if (!cfg) {
        char *msg = diags_text(&d);
        fprintf(stderr, "%s", msg);
        free(msg);
    }
    dw_diags_release(&d);
    if (!cfg)
        DW_FAIL_("%s", "test config does not load");
    return cfg;
}

static inline struct dw_config *config_with(const char *sections)
{
    char *text = config_text_with(sections);
    struct dw_config *cfg = config_load_text(text);
    free(text);
    return cfg;
}

#endif
