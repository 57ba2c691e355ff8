/*
 * detect.c - which format a Content-Type names, option defaults, type names.
 *
 * DESIGN
 * Only the media type (before the first ';') decides; parameters such as
 * version=0.0.4 or charset=utf-8 are ignored, because exporters in the wild
 * send every variant. Unknown or missing types fall back to the text format
 * the way Prometheus does, except the protobuf ones, which would only produce
 * a confusing syntax error. Pure functions, any thread.
 */
#include <string.h>
#include <strings.h>

#include "expo_internal.h"

static bool media_type_is(const char *s, size_t n, const char *want)
{
    return strlen(want) == n && strncasecmp(s, want, n) == 0;
}

enum dw_expo_format dw_expo_format_detect(const char *content_type)
{
    if (!content_type)
        return DW_EXPO_TEXT;
    const char *s = content_type;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strcspn(s, "; \t");
    if (media_type_is(s, n, "application/openmetrics-text"))
        return DW_EXPO_OPENMETRICS;
    if (media_type_is(s, n, "application/vnd.google.protobuf") ||
        media_type_is(s, n, "application/openmetrics-protobuf"))
        return DW_EXPO_UNSUPPORTED;
    return DW_EXPO_TEXT;
}

void dw_expo_opts_init(struct dw_expo_opts *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->max_samples = DW_EXPO_DEFAULT_MAX_SAMPLES;
    opts->max_labels = DW_EXPO_DEFAULT_MAX_LABELS;
    opts->max_label_name_len = DW_EXPO_DEFAULT_MAX_LABEL_NAME_LEN;
    opts->max_label_value_len = DW_EXPO_DEFAULT_MAX_LABEL_VALUE_LEN;
    opts->max_line_len = DW_EXPO_DEFAULT_MAX_LINE_LEN;
}

const char *dw_expo_type_name(enum dw_expo_type type)
{
    switch (type) {
    case DW_EXPO_COUNTER:
        return "counter";
    case DW_EXPO_GAUGE:
        return "gauge";
    case DW_EXPO_HISTOGRAM:
        return "histogram";
    case DW_EXPO_SUMMARY:
        return "summary";
    case DW_EXPO_GAUGEHISTOGRAM:
        return "gaugehistogram";
    case DW_EXPO_STATESET:
        return "stateset";
    case DW_EXPO_INFO:
        return "info";
    case DW_EXPO_UNTYPED:
        break;
    }
    return "untyped";
}
