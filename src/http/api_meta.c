/*
 * api_meta.c - the Prometheus metadata and status API, in Prometheus 2.42's
 * shapes and messages:
 *
 *   GET|POST /api/v1/series              match[] (required), start, end
 *   GET|POST /api/v1/labels              optional match[], start, end
 *   GET      /api/v1/label/{name}/values optional match[], start, end
 *   GET      /api/v1/metadata            always {}: the ingest path keeps no HELP/TYPE
 *   GET      /api/v1/status/buildinfo
 *   GET      /api/v1/status/runtimeinfo
 *
 * DESIGN
 * match[] selectors go through the PromQL parser and must be a plain series
 * selector (no offset, no @, not an expression); their matchers are rebuilt
 * as tsdb matchers, and one tsdb querier over [start, end] answers every
 * selector of the request. start and end default to Prometheus's min and
 * max times (all data). Label names and values of several selectors are
 * merged, sorted and deduplicated; series of several selectors too, by
 * their sorted labels, like Prometheus's merge of sorted series sets.
 * Strings are written as Go's encoding/json writes them.
 *
 * Metadata: the exposition parser reports HELP/TYPE/UNIT lines, but the
 * ingestion handlers (api_write.c) and the tsdb keep none, and remote write
 * metadata is skipped, so /api/v1/metadata answers an empty object, which
 * Grafana and Prometheus's own UI handle as "no metadata".
 *
 * Threads: handlers run on libmicrohttpd's polling threads; the tsdb querier
 * is private to one request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_internal.h"
#include "promql/promql.h"

/* ---- match[] ---- */

struct match_set {
    struct dw_tsdb_matcher **ms;
    size_t n;
};

struct match_sets {
    struct match_set *sets;
    size_t n;
};

static void match_sets_release(struct match_sets *s)
{
    for (size_t i = 0; i < s->n; i++) {
        for (size_t j = 0; j < s->sets[i].n; j++)
            dw_tsdb_matcher_free(&s->sets[i].ms[j]);
        free(s->sets[i].ms);
    }
    free(s->sets);
    *s = (struct match_sets){0};
}

static enum dw_match_op match_op(enum dw_promql_match_type t)
{
    switch (t) {
    case DW_PROMQL_MATCH_NEQ: return DW_MATCH_NEQ;
    case DW_PROMQL_MATCH_RE: return DW_MATCH_RE;
    case DW_PROMQL_MATCH_NRE: return DW_MATCH_NRE;
    default: return DW_MATCH_EQ;
    }
}

static const char non_empty_msg[] = "match[] must contain at least one non-empty matcher";

/* Parses one selector into set; NULL, or the reason (heap) it is not a series selector. */
static char *selector_parse(const char *text, struct match_set *set)
{
    struct dw_promql_expr *e;
    struct dw_promql_error perr;
    if (dw_promql_parse(text, strlen(text), NULL, &e, &perr) < 0) {
        /* The parser checks this itself; Prometheus's selector parser leaves it to the API. */
        bool empty = perr.msg && strstr(perr.msg, "at least one non-empty matcher") != NULL;
        struct dw_buf msg;
        dw_buf_init(&msg, 0);
        if (empty)
            dw_buf_puts(&msg, non_empty_msg);
        else
            dw_promql_error_format(&perr, &msg);
        dw_promql_error_release(&perr);
        return dw_buf_steal(&msg);
    }
    const struct dw_promql_node *root = dw_promql_root(e);
    char *why = NULL;
    if (root->kind != DW_PROMQL_VECTOR_SELECTOR || root->u.vs.offset_ms != 0 ||
        root->u.vs.at != DW_PROMQL_AT_NONE) {
        why = dw_strdup("1:1: parse error: match[] must be a series selector such as "
                        "up{job=\"api\"}, without offset, @ or operators");
        goto out;
    }
    const struct dw_promql_vector_selector *vs = &root->u.vs;
    set->ms = dw_calloc(vs->nmatchers ? vs->nmatchers : 1, sizeof *set->ms);
    bool non_empty = false;
    for (size_t i = 0; i < vs->nmatchers; i++) {
        char *merr = NULL;
        const struct dw_promql_matcher *m = &vs->matchers[i];
        set->ms[i] = dw_tsdb_matcher_new(match_op(m->type), m->name, m->value, &merr);
        if (!set->ms[i]) {
            why = dw_asprintf("matcher %s: %s", m->name, merr ? merr : "invalid");
            free(merr);
            goto out;
        }
        set->n++;
        non_empty |= !dw_tsdb_matcher_matches(set->ms[i], "");
    }
    if (!non_empty)
        why = dw_strdup(non_empty_msg);
out:
    dw_promql_free(&e);
    return why;
}

/*
 * Parses every match[] argument into out. Returns false after answering 400;
 * series prefixes its errors with `invalid parameter "match[]": `, labels
 * and label values do not (Prometheus 2.42).
 */
static bool match_sets_parse(struct dw_http_request *req, struct dw_http_response *resp,
                             bool prefixed, struct match_sets *out)
{
    *out = (struct match_sets){0};
    size_t n = dw_http_req_args(req, "match[]", NULL, 0);
    if (n == 0)
        return true;
    const char **texts = dw_calloc(n, sizeof *texts);
    dw_http_req_args(req, "match[]", texts, n);
    out->sets = dw_calloc(n, sizeof *out->sets);
    char *why = NULL;
    for (size_t i = 0; i < n && !why; i++, out->n++)
        why = selector_parse(texts[i], &out->sets[i]);
    free(texts);
    if (!why)
        return true;
    dw_http_resp_error(resp, 400, "bad_data", "%s%s",
                       prefixed ? "invalid parameter \"match[]\": " : "", why);
    free(why);
    match_sets_release(out);
    return false;
}

/* ---- string lists ---- */

struct strlist {
    const char **items; /* borrowed from the querier */
    size_t n, cap;
};

static void strlist_add(struct strlist *l, const char *const *items, size_t n)
{
    if (n == 0)
        return;
    l->items = dw_grow(l->items, &l->cap, l->n + n, sizeof *l->items);
    memcpy(l->items + l->n, items, n * sizeof *items);
    l->n += n;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void strlist_sort_unique(struct strlist *l)
{
    if (l->n < 2)
        return;
    qsort(l->items, l->n, sizeof *l->items, cmp_str);
    size_t k = 1;
    for (size_t i = 1; i < l->n; i++)
        if (strcmp(l->items[i], l->items[k - 1]) != 0)
            l->items[k++] = l->items[i];
    l->n = k;
}

static void answer_strings(struct dw_http_response *resp, const struct strlist *l)
{
    struct dw_buf out;
    dw_api_begin(&out);
    dw_buf_putc(&out, '[');
    for (size_t i = 0; i < l->n; i++) {
        if (i)
            dw_buf_putc(&out, ',');
        dw_api_json_string(&out, l->items[i]);
    }
    dw_buf_putc(&out, ']');
    dw_api_finish(resp, &out, NULL, 0);
}

/* The common start of series, labels and values: tsdb, start, end, match[]. */
static bool meta_params(struct dw_http_request *req, struct dw_http_response *resp,
                        const struct dw_http_app *app, bool prefixed, int64_t *start, int64_t *end,
                        struct match_sets *sets)
{
    return dw_api_need_tsdb(app, resp) &&
           dw_api_time_param(req, resp, "start", DW_HTTP_MIN_TIME_MS, start) &&
           dw_api_time_param(req, resp, "end", DW_HTTP_MAX_TIME_MS, end) &&
           match_sets_parse(req, resp, prefixed, sets);
}

/* ---- /api/v1/labels and /api/v1/label/{name}/values ---- */

/* Label names (name NULL) or the values of label `name`, merged over the match sets. */
static void answer_labels(struct dw_http_response *resp, const struct dw_http_app *app,
                          const char *name, int64_t start, int64_t end,
                          const struct match_sets *sets)
{
    struct dw_tsdb_querier *q = dw_tsdb_querier_new(app->tsdb, start, end);
    struct strlist all = {0};
    size_t rounds = sets->n ? sets->n : 1;
    for (size_t i = 0; i < rounds; i++) {
        struct dw_tsdb_matcher *const *ms = sets->n ? sets->sets[i].ms : NULL;
        size_t nms = sets->n ? sets->sets[i].n : 0, count = 0;
        const char **got = name ? dw_tsdb_label_values(q, name, ms, nms, &count)
                                : dw_tsdb_label_names(q, ms, nms, &count);
        strlist_add(&all, got, count);
        free(got);
    }
    if (sets->n > 1)
        strlist_sort_unique(&all);
    answer_strings(resp, &all);
    free(all.items);
    dw_tsdb_querier_free(&q);
}

void dw_api_labels(struct dw_http_request *req, struct dw_http_response *resp,
                   const struct dw_http_app *app)
{
    int64_t start, end;
    struct match_sets sets;
    if (!meta_params(req, resp, app, false, &start, &end, &sets))
        return;
    answer_labels(resp, app, NULL, start, end, &sets);
    match_sets_release(&sets);
}

void dw_api_label_values(struct dw_http_request *req, struct dw_http_response *resp,
                         const struct dw_http_app *app)
{
    const char *name = dw_http_req_param(req, "name");
    if (!name || !dw_tsdb_label_name_valid(name)) {
        struct dw_buf q;
        dw_buf_init(&q, 0);
        dw_api_go_quote(&q, name ? name : "");
        dw_http_resp_error(resp, 400, "bad_data", "invalid label name: %s", q.data);
        dw_buf_release(&q);
        return;
    }
    int64_t start, end;
    struct match_sets sets;
    if (!meta_params(req, resp, app, false, &start, &end, &sets))
        return;
    answer_labels(resp, app, name, start, end, &sets);
    match_sets_release(&sets);
}

/* ---- /api/v1/series ---- */

/*
 * The series found, as copies of their label arrays (the set reuses its
 * array for each series; the strings stay valid until the querier is freed).
 */
struct series_ref {
    size_t off, n; /* a label array inside series_list.labels */
};

struct series_list {
    struct dw_label *labels; /* all label arrays, one after the other */
    size_t nlabels, cap;
    struct series_ref *refs;
    size_t n, refcap;
};

static void series_list_add(struct series_list *l, const struct dw_label *labels, size_t n)
{
    l->labels = dw_grow(l->labels, &l->cap, l->nlabels + n, sizeof *l->labels);
    memcpy(l->labels + l->nlabels, labels, n * sizeof *labels);
    l->refs = dw_grow(l->refs, &l->refcap, l->n + 1, sizeof *l->refs);
    l->refs[l->n++] = (struct series_ref){l->nlabels, n};
    l->nlabels += n;
}

/* Sorted label order (qsort_r: handlers run on several threads). */
static int cmp_series(const void *a, const void *b, void *ctx)
{
    const struct series_ref *x = a, *y = b;
    const struct dw_label *l = ((const struct series_list *)ctx)->labels;
    return dw_tsdb_labels_cmp(l + x->off, x->n, l + y->off, y->n);
}

/* Several selectors: sorted, each series once (Prometheus's merge of sorted sets). */
static void series_list_merge(struct series_list *l)
{
    if (l->n < 2)
        return;
    qsort_r(l->refs, l->n, sizeof *l->refs, cmp_series, l);
    size_t k = 1;
    for (size_t i = 1; i < l->n; i++)
        if (cmp_series(&l->refs[i], &l->refs[k - 1], l) != 0)
            l->refs[k++] = l->refs[i];
    l->n = k;
}

static void series_list_json(struct dw_buf *out, const struct series_list *l)
{
    dw_buf_putc(out, '[');
    for (size_t i = 0; i < l->n; i++) {
        const struct dw_label *lab = l->labels + l->refs[i].off;
        dw_buf_puts(out, i ? ",{" : "{");
        for (size_t j = 0; j < l->refs[i].n; j++) {
            if (j)
                dw_buf_putc(out, ',');
            dw_api_json_string(out, lab[j].name);
            dw_buf_putc(out, ':');
            dw_api_json_string(out, lab[j].value);
        }
        dw_buf_putc(out, '}');
    }
    dw_buf_putc(out, ']');
}

void dw_api_series(struct dw_http_request *req, struct dw_http_response *resp,
                   const struct dw_http_app *app)
{
    if (!dw_api_need_tsdb(app, resp))
        return;
    if (dw_http_req_args(req, "match[]", NULL, 0) == 0) {
        dw_http_resp_error(resp, 400, "bad_data", "no match[] parameter provided");
        return;
    }
    int64_t start, end;
    struct match_sets sets;
    if (!meta_params(req, resp, app, true, &start, &end, &sets))
        return;
    struct dw_tsdb_querier *q = dw_tsdb_querier_new(app->tsdb, start, end);
    struct series_list found = {0};
    int err = 0;
    for (size_t i = 0; i < sets.n && !err; i++) {
        struct dw_tsdb_series_set *ss = dw_tsdb_select(q, sets.sets[i].ms, sets.sets[i].n);
        while (dw_tsdb_series_set_next(ss)) {
            size_t n;
            const struct dw_label *labels = dw_tsdb_series_labels(ss, &n);
            series_list_add(&found, labels, n);
        }
        err = dw_tsdb_series_set_err(ss);
        dw_tsdb_series_set_free(&ss);
    }
    if (err) {
        dw_http_resp_error(resp, 422, "execution", "reading series: %s", dw_tsdb_strerror(err));
    } else {
        if (sets.n > 1)
            series_list_merge(&found);
        struct dw_buf out;
        dw_api_begin(&out);
        series_list_json(&out, &found);
        dw_api_finish(resp, &out, NULL, 0);
    }
    free(found.labels);
    free(found.refs);
    dw_tsdb_querier_free(&q);
    match_sets_release(&sets);
}

/* ---- /api/v1/metadata ---- */

void dw_api_metadata(struct dw_http_request *req, struct dw_http_response *resp,
                     const struct dw_http_app *app)
{
    const char *limit = dw_http_req_arg(req, "limit");
    int64_t v;
    if (limit && *limit && dw_parse_int64(limit, &v) < 0) {
        dw_http_resp_error(resp, 400, "bad_data", "limit must be a number");
        return;
    }
    dw_http_resp_success(resp, json_object());
}

/* ---- /api/v1/status/buildinfo and runtimeinfo ---- */

/*
 * Prometheus's fields, with dojowatch's values. No "features" object:
 * Grafana reads its presence as "this is Mimir", its absence as Prometheus.
 */
void dw_api_buildinfo(struct dw_http_request *req, struct dw_http_response *resp,
                      const struct dw_http_app *app)
{
    json_t *d = json_object();
    json_object_set_new(d, "version", json_string(DW_VERSION));
    json_object_set_new(d, "revision", json_string("unknown"));
    json_object_set_new(d, "branch", json_string("unknown"));
    json_object_set_new(d, "buildUser", json_string("dojowatch"));
    json_object_set_new(d, "buildDate", json_string(__DATE__ " " __TIME__));
    json_object_set_new(d, "goVersion", json_string("none (C11, " __VERSION__ ")"));
    dw_http_resp_success(resp, d);
}

struct config_state {
    bool known;
    bool last_ok;
    int64_t last_ok_ms;
};

static int read_config_state(void *ctx, const struct dw_value *cols, size_t ncols)
{
    struct config_state *st = ctx;
    if (ncols == 2 && cols[0].type == DW_VAL_INT) {
        st->known = true;
        st->last_ok = cols[0].i != 0;
        st->last_ok_ms = cols[1].type == DW_VAL_INT ? cols[1].i : 0;
    }
    return 0;
}

static void put_time(json_t *d, const char *key, int64_t ms)
{
    char text[40];
    dw_format_rfc3339(ms, text, sizeof text);
    json_object_set_new(d, key, json_string(text));
}

/* Threads of this process, Prometheus's goroutineCount in spirit. */
static long thread_count(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    long n = 0;
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %ld", &n) == 1)
            break;
    if (f)
        fclose(f);
    return n;
}

void dw_api_runtimeinfo(struct dw_http_request *req, struct dw_http_response *resp,
                        const struct dw_http_app *app)
{
    json_t *d = json_object();
    put_time(d, "startTime", app->started_at_ms);
    char cwd[4096];
    json_object_set_new(d, "CWD", json_string(getcwd(cwd, sizeof cwd) ? cwd : ""));
    /* The daemon records every load and reload in the store's config_history. */
    struct config_state st = {0};
    if (app->store)
        dw_store_exec(app->store,
                      "SELECT (SELECT ok FROM config_history ORDER BY id DESC LIMIT 1), "
                      "(SELECT MAX(loaded_at) FROM config_history WHERE ok = 1)",
                      NULL, 0, read_config_state, &st, NULL);
    json_object_set_new(d, "reloadConfigSuccess", json_boolean(st.known ? st.last_ok : true));
    put_time(d, "lastConfigTime", st.last_ok_ms ? st.last_ok_ms : app->started_at_ms);
    json_object_set_new(d, "corruptionCount", json_integer(0));
    json_object_set_new(d, "goroutineCount", json_integer(thread_count()));
    json_object_set_new(d, "GOMAXPROCS", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
    json_object_set_new(d, "GOGC", json_string(""));
    json_object_set_new(d, "GODEBUG", json_string(""));
    char retention[32] = "";
    struct dw_config *cfg = app->config_get ? app->config_get(app->ctx) : NULL;
    if (cfg) {
        dw_format_duration(dw_config_retention_raw_ms(cfg), retention, sizeof retention);
        dw_config_unref(&cfg);
    }
    json_object_set_new(d, "storageRetention", json_string(retention));
    dw_http_resp_success(resp, d);
}
