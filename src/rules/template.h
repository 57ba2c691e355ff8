/*
 * template.h - the template language of Prometheus alerting rules (internal
 * to the rules module).
 *
 * The labels and annotations of an alerting rule are Go text/template
 * strings that Prometheus 2.42 expands for every alert: "{{ $labels.instance
 * }} is down", "{{ $value | humanize }}", "{{ range ... }}". This is that
 * language in C: Go's lexer and parser rules (trim markers, comments,
 * pipelines, variables, if/else if/range/with/define/template/block,
 * break/continue), Go's builtins (and or not eq ne lt le gt ge len index
 * slice print printf println html js urlquery), Go's fmt formatting of values
 * and Prometheus's functions: humanize, humanize1024, humanizeDuration,
 * humanizePercentage, humanizeTimestamp, toTime, parseDuration, title,
 * toUpper, toLower, reReplaceAll, match, stripPort, stripDomain, graphLink,
 * tableLink, externalURL, pathPrefix, safeHtml, args, and for query results
 * query, first, label, value, strvalue, sortByLabel.
 *
 * Every template is compiled with Prometheus's alert prelude in force: the
 * variables $labels, $externalLabels, $externalURL and $value exist, and dot
 * is the struct {Labels, ExternalLabels, ExternalURL, Value}. Positions in
 * error messages count from the start of the text as written (Prometheus
 * prepends the prelude as text, so its columns on line 1 are 112 larger).
 *
 * Threads: a compiled template is immutable; any number of threads may
 * execute it at once.
 */
#ifndef DW_RULES_TEMPLATE_H
#define DW_RULES_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "tsdb/tsdb.h"

/* Limits of one execution: a template that exceeds one fails cleanly. */
#define DW_TMPL_MAX_OUTPUT (64u * 1024)       /* bytes of output */
#define DW_TMPL_MAX_STEPS 100000u             /* nodes, commands and loop iterations run */
#define DW_TMPL_MAX_MEMORY (8u * 1024 * 1024) /* bytes of values built while running */
#define DW_TMPL_MAX_DEPTH 100                 /* nesting of {{template}} calls, of printed values */
/* Limits of compilation. */
#define DW_TMPL_MAX_TEXT (1024u * 1024) /* bytes of template text */
#define DW_TMPL_MAX_NESTING 100         /* nested parentheses and control blocks */

struct dw_tmpl;

/** A query result being filled in by a dw_tmpl_data.query callback. */
struct dw_tmpl_vector;

/**
 * Appends one sample to a query result; labels (including __name__, if the
 * series has one) are copied. Returns -1 once the result is over the
 * execution's memory limit (the query then fails); the callback may stop.
 */
int dw_tmpl_vector_add(struct dw_tmpl_vector *v, const struct dw_label *labels, size_t nlabels,
                       double value);

/** What one expansion sees. Everything is borrowed for the call. */
struct dw_tmpl_data {
    const struct dw_label *labels; /* $labels, .Labels: the alert's sample labels */
    size_t nlabels;
    const struct dw_label *external; /* $externalLabels, .ExternalLabels */
    size_t nexternal;
    const char *external_url; /* $externalURL, externalURL, pathPrefix; NULL means "" */
    double value;             /* $value, .Value: the sample value */
    int64_t now_ms;           /* evaluation time, handed to query */
    /*
     * The `query` function: runs expr as an instant query at at_ms and adds
     * the resulting samples to out with dw_tmpl_vector_add. Returns 0, or -1
     * with a message in err. NULL: `query` fails with "query is not
     * available". It must not call back into this module except to add.
     */
    int (*query)(void *ctx, const char *expr, int64_t at_ms, struct dw_tmpl_vector *out, char *err,
                 size_t errcap);
    void *query_ctx;
};

/**
 * Compiles text (NUL-terminated, at most DW_TMPL_MAX_TEXT bytes) as the
 * template called name (Prometheus names an alert's templates
 * "__alert_<alertname>"). Returns NULL on a syntax error, with "template:
 * NAME:LINE:COL: message" in err: Go's message (promtool's "template:
 * NAME:LINE: message" plus a column), COL the 0-based byte offset in the line
 * as in Go's execution errors. As in Go, an unknown function or undefined
 * variable is a compile error, a wrong argument count or type an execution
 * error. err may be NULL.
 */
struct dw_tmpl *dw_tmpl_compile(const char *name, const char *text, char *err, size_t errcap);

/** Frees a compiled template and sets *t to NULL; no-op on NULL or *t NULL. */
void dw_tmpl_free(struct dw_tmpl **t);

/** The name given to dw_tmpl_compile. */
const char *dw_tmpl_name(const struct dw_tmpl *t);

/**
 * Runs t on d and appends the output to out (NUL-terminated) on success: 0.
 * On failure returns -1, leaves out as it was and puts Prometheus's message
 * in err (may be NULL): "error executing template NAME: template:
 * NAME:LINE:COL: executing \"NAME\" at <node>: message", or for a limit
 * "error executing template NAME: template: NAME: output is larger than 65536
 * bytes" (Prometheus then shows the annotation as "<error expanding template:
 * ERR>"). Bounded by the DW_TMPL_MAX_* limits and by out's own maximum. d may
 * be NULL (no labels, value 0).
 */
int dw_tmpl_execute(const struct dw_tmpl *t, const struct dw_tmpl_data *d, struct dw_buf *out,
                    char *err, size_t errcap);

/** True when text holds no action ("{{"), so it expands to itself. */
bool dw_tmpl_is_literal(const char *text);

/**
 * Compiles and executes text in one go: a heap string for the caller to free,
 * or NULL with *err (unless err is NULL) a heap message, Prometheus's
 * "error parsing template NAME: <compile error>" or the execution error of
 * dw_tmpl_execute. Text without "{{" is copied without being compiled.
 */
char *dw_tmpl_expand(const char *name, const char *text, const struct dw_tmpl_data *d, char **err);

#endif
