/*
 * mustache.h - Mustache templates (the logic-less template language) for
 * incident notices and reports: compile once, render many times against a
 * jansson value.
 *
 * Supported: {{name}} (HTML-escaped), {{{name}}} and {{& name}} (as they
 * are), dotted names {{a.b.c}}, the implicit iterator {{.}}, sections
 * {{#x}}..{{/x}}, inverted sections {{^x}}..{{/x}}, comments {{! .. }}, set
 * delimiters {{=<% %>=}}, partials {{> name}} through a caller's lookup, and
 * the spec's standalone-line rules. Lambdas are not supported.
 *
 * Values, as the JavaScript reference implementation shows them: strings as
 * they are, integers without decimals, reals in JavaScript's shortest form
 * (1.21 -> "1.21", 1.0 -> "1", 1e21 -> "1e+21"), true/false as words, null
 * and missing names as nothing, arrays and objects as compact JSON.
 * Falsy for sections: missing, null, false, the empty array and the empty
 * string; everything else (0 and {} included) is truthy.
 */
#ifndef DW_INCIDENT_MUSTACHE_H
#define DW_INCIDENT_MUSTACHE_H

#include <jansson.h>
#include <stddef.h>

#include "core/core.h"

/** Largest template text accepted by dw_mustache_compile (partials too). */
#define DW_MUSTACHE_MAX_TEMPLATE (256 * 1024)
/** Deepest nesting of sections inside one template. */
#define DW_MUSTACHE_MAX_DEPTH 64
/** Deepest nesting of partials while rendering (a partial that includes itself). */
#define DW_MUSTACHE_MAX_PARTIAL_DEPTH 32
/** Longest delimiter a {{=a b=}} tag may set, in bytes. */
#define DW_MUSTACHE_MAX_DELIM 32
/**
 * Work bound for one render: tags, texts and list iterations visited. Stops
 * nested sections over lists whose body prints nothing (which the output
 * limit cannot catch) from running for ever.
 */
#define DW_MUSTACHE_MAX_STEPS (16u * 1024 * 1024)

struct dw_mustache;

/**
 * Compiles text (len bytes, need not be NUL-terminated; NUL bytes are text)
 * under name (used in messages; NULL means "template"). Returns the compiled
 * template, or NULL after adding positioned errors to diags (file = name):
 * "unclosed tag", "unclosed section 'x'", "mismatched {{/y}}: ...",
 * "bad delimiter ...", "invalid name ...", "sections nested deeper than 64",
 * or "template is larger than 256 KiB" (no position).
 */
struct dw_mustache *dw_mustache_compile(const char *name, const char *text, size_t len,
                                        struct dw_diags *diags);

/**
 * Finds partial `name` for {{> name}}: its NUL-terminated text, which must
 * stay valid until dw_mustache_render returns, or NULL when there is none
 * (it then renders as nothing, as the spec asks). Partials always start with
 * the default delimiters and do not change their includer's.
 */
typedef const char *(*dw_mustache_partial_fn)(void *ctx, const char *name);

/**
 * Renders t with data (any JSON value; the bottom of the context stack) and
 * appends the result to out. partials may be NULL (no partial exists).
 * Returns 0, or -1 with a heap message in *err (when err is not NULL; the
 * caller frees it) and out restored to its length before the call: the
 * output would pass out->max, partials nest deeper than 32, a partial does
 * not compile, or the render takes more than DW_MUSTACHE_MAX_STEPS steps.
 * t is not changed, so several threads may render one template at once.
 */
int dw_mustache_render(const struct dw_mustache *t, json_t *data, dw_mustache_partial_fn partials,
                       void *ctx, struct dw_buf *out, char **err);

/** The name given to dw_mustache_compile. */
const char *dw_mustache_name(const struct dw_mustache *t);

/** Frees the template and sets *t to NULL; no-op when t or *t is NULL. */
void dw_mustache_free(struct dw_mustache **t);

#endif
