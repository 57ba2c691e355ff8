/*
 * api_write.c - ingestion over HTTP.
 *
 *   POST /api/v1/write               Prometheus remote write 1.0 (snappy protobuf)
 *   POST /api/v1/import/prometheus   text exposition, optional timestamps (VictoriaMetrics' shape)
 *   POST /api/v1/push                text exposition without timestamps (stamped on arrival)
 *
 * DESIGN
 * Decoding is all-or-nothing (the expo decoders validate the whole body
 * before delivering), and the tsdb appender applies a request at commit, so a
 * request is either stored whole or rejected whole with the reason. Answers:
 * 204 when stored; 400 for data that retrying will not fix (malformed body,
 * invalid labels, a limit); 415 for a wrong Content-Type/-Encoding; 503 when
 * the write-ahead log cannot be written (retrying later can succeed).
 * Samples the head refuses one by one (out of order, duplicate value, out of
 * bounds) do not fail the request, as in Prometheus' receiver they are counted
 * and the request still answers 400 naming them, so the sender sees them
 * without retrying forever.
 *
 * Threads: handlers run on libmicrohttpd's threads; decoder, parser and
 * appender are per thread (thread-local, created on first use and freed when
 * the thread ends).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "expo/expo.h"
#include "http/http.h"
#include "http/http_internal.h"
#include "tsdb/tsdb.h"

#define MAX_LABELS 128 /* per series; the decoders enforce their own, lower limit */
/* Label bytes the remote-write series cache keeps per thread (about 190 bytes a series). */
#define RW_CACHE_BYTES (32u << 20)

struct writer_state {
    struct dw_expo_rw_decoder *rw;
    struct dw_expo_parser *parser;
    struct dw_tsdb_appender *app;
    struct dw_tsdb *db; /* the appender's database */
};

static pthread_key_t state_key;
static pthread_once_t state_once = PTHREAD_ONCE_INIT;

static void state_free(void *p)
{
    struct writer_state *st = p;
    dw_expo_rw_decoder_free(&st->rw);
    dw_expo_parser_free(&st->parser);
    dw_tsdb_appender_free(&st->app);
    free(st);
}

static void state_key_init(void)
{
    pthread_key_create(&state_key, state_free);
}

/* This thread's decoders and an appender on db (recreated if db changed). */
static struct writer_state *thread_state(struct dw_tsdb *db)
{
    pthread_once(&state_once, state_key_init);
    struct writer_state *st = pthread_getspecific(state_key);
    if (!st) {
        st = dw_calloc(1, sizeof *st);
        st->rw = dw_expo_rw_decoder_new();
        dw_expo_rw_decoder_cache(st->rw, RW_CACHE_BYTES);
        st->parser = dw_expo_parser_new();
        pthread_setspecific(state_key, st);
    }
    if (st->db != db) {
        dw_tsdb_appender_free(&st->app);
        st->app = dw_tsdb_appender_new(db);
        st->db = db;
        dw_expo_rw_decoder_cache(st->rw, RW_CACHE_BYTES); /* its refs were the other db's */
    }
    return st;
}

static struct dw_metric *m_samples, *m_rejected;

static void count(const char *path, size_t samples)
{
    if (!m_samples)
        m_samples = dw_metric_counter("dojowatch_ingest_samples_total",
                                      "Samples stored through the ingestion endpoints.", "path");
    dw_metric_add(m_samples, (const char *[]){path}, (double)samples);
}

static void reject(const char *path, const char *reason)
{
    if (!m_rejected)
        m_rejected = dw_metric_counter("dojowatch_ingest_requests_rejected_total",
                                       "Ingestion requests rejected, by reason.", "path,reason");
    dw_metric_add(m_rejected, (const char *[]){path, reason}, 1);
}

/* Shared tail: commit the appender and turn the outcome into an answer. */
static void commit_and_answer(struct writer_state *st, struct dw_http_response *resp,
                              const char *path)
{
    struct dw_tsdb_commit_result res = {0};
    char *err = NULL;
    int rc = dw_tsdb_appender_commit(st->app, &res, &err);
    if (rc == DW_TSDB_ELIMIT || rc == DW_TSDB_EINVAL) {
        reject(path, rc == DW_TSDB_ELIMIT ? "limit" : "invalid");
        dw_http_resp_error(resp, 400, "bad_data", "%s", err ? err : dw_tsdb_strerror(rc));
    } else if (rc < 0) {
        reject(path, "storage");
        dw_http_resp_error(resp, 503, "unavailable", "cannot store the samples: %s",
                           err ? err : dw_tsdb_strerror(rc));
    } else {
        count(path, res.appended);
        size_t refused = res.out_of_order + res.duplicate + res.out_of_bounds;
        if (refused) {
            reject(path, "samples_refused");
            dw_http_resp_error(resp, 400, "bad_data",
                               "%zu of %zu samples refused: %zu out of order, %zu duplicate "
                               "timestamps with another value, %zu out of bounds (too old or "
                               "too far in the future); the others were stored%s",
                               refused, refused + res.appended + res.redundant, res.out_of_order,
                               res.duplicate, res.out_of_bounds,
                               res.out_of_bounds ? ". Samples older than the head's window (1 h "
                                                   "before its newest sample) are backfilled "
                                                   "offline with `dojowatch import`"
                                                 : "");
        } else {
            dw_http_resp_status(resp, 204);
        }
    }
    free(err);
}

/* ---- remote write ---- */

struct rw_ctx {
    struct dw_tsdb_appender *app;
    struct dw_expo_rw_decoder *rw;
    bool too_many_labels;
};

/* The rest of a series' samples, by reference. */
static int rw_more(struct rw_ctx *c, const struct dw_expo_rw_series *s, uint64_t ref)
{
    for (size_t i = 1; i < s->nsamples; i++)
        if (dw_tsdb_appender_add_ref(c->app, ref, s->samples[i].timestamp_ms, s->samples[i].value) <
            0)
            return 1;
    return 0;
}

/*
 * A series the decoder's cache knows (same label bytes as one stored
 * before): one add by its reference. A reference the head no longer knows
 * (the series was garbage-collected) sends the decoder back to the labels.
 */
static int rw_series_by_ref(struct rw_ctx *c, const struct dw_expo_rw_series *s)
{
    int rc =
        dw_tsdb_appender_add_ref(c->app, s->ref, s->samples[0].timestamp_ms, s->samples[0].value);
    if (rc == DW_TSDB_EINVAL)
        return DW_EXPO_RW_STALE; /* nothing was added */
    if (rc < 0)
        return 1;
    return rw_more(c, s, s->ref);
}

static int rw_series(void *ctx, const struct dw_expo_rw_series *s)
{
    struct rw_ctx *c = ctx;
    if (s->ref)
        return rw_series_by_ref(c, s);
    struct dw_label labels[MAX_LABELS];
    if (s->nlabels > MAX_LABELS) {
        c->too_many_labels = true;
        return 1;
    }
    for (size_t i = 0; i < s->nlabels; i++) /* the decoder NUL-terminates each string */
        labels[i] = (struct dw_label){s->labels[i].name.ptr, s->labels[i].value.ptr};
    if (s->nsamples == 0)
        return 0;
    /* The labels are looked up once; the series' other samples go by reference. */
    uint64_t ref;
    if (dw_tsdb_appender_add(c->app, labels, s->nlabels, s->samples[0].timestamp_ms,
                             s->samples[0].value, &ref) < 0)
        return 1; /* the appender is poisoned: commit rejects the request and says why */
    if (dw_tsdb_ref_is_lasting(ref))
        dw_expo_rw_remember(c->rw, ref);
    return rw_more(c, s, ref);
}

void dw_api_write(struct dw_http_request *req, struct dw_http_response *resp,
                  const struct dw_http_app *app)
{
    if (!dw_api_need_tsdb(app, resp))
        return;
    char msg[256];
    if (dw_expo_rw_check_headers(dw_http_req_header(req, "Content-Type"),
                                 dw_http_req_header(req, "Content-Encoding"), msg,
                                 sizeof msg) < 0) {
        reject("/api/v1/write", "content_type");
        dw_http_resp_error(resp, 415, "bad_data", "%s", msg);
        return;
    }
    size_t len;
    const char *body = dw_http_req_body(req, &len);
    struct writer_state *st = thread_state(app->tsdb);
    struct dw_expo_rw_opts opts;
    dw_expo_rw_opts_init(&opts);
    /* One pass is safe: the appender applies nothing before commit, and a
       decoding error rolls it back, so a bad request still changes nothing. */
    opts.single_pass = true;
    struct rw_ctx ctx = {.app = st->app, .rw = st->rw};
    struct dw_expo_rw_handler h = {.series = rw_series, .ctx = &ctx};
    struct dw_expo_rw_error err;
    if (dw_expo_rw_decode(st->rw, &opts, body, len, &h, NULL, &err) < 0 &&
        err.code != DW_EXPO_RW_EABORTED) {
        dw_tsdb_appender_rollback(st->app);
        reject("/api/v1/write", dw_expo_rw_errcode_name(err.code));
        dw_http_resp_error(resp, 400, "bad_data", "%s", err.msg);
        return;
    }
    if (ctx.too_many_labels) {
        dw_tsdb_appender_rollback(st->app);
        reject("/api/v1/write", "limit");
        dw_http_resp_error(resp, 400, "bad_data", "a series has more than %d labels", MAX_LABELS);
        return;
    }
    commit_and_answer(st, resp, "/api/v1/write");
}

/* ---- text exposition: import and push ---- */

struct text_ctx {
    struct dw_tsdb_appender *app;
    int64_t now;
    bool allow_timestamps;
    const struct dw_label *extra;
    size_t nextra;
    size_t line_with_timestamp;
    bool too_many_labels;
    struct dw_buf strings;
};

static int text_sample(void *ctx, const struct dw_expo_sample *s)
{
    struct text_ctx *c = ctx;
    if (s->has_timestamp && !c->allow_timestamps) {
        c->line_with_timestamp = s->line;
        return 1;
    }
    size_t n = s->nlabels + 1 + c->nextra;
    if (n > MAX_LABELS) {
        c->too_many_labels = true;
        return 1;
    }
    /* The parser's strings are not NUL-terminated: copy them once into a
     * scratch buffer (reused across samples) and point the labels there. */
    dw_buf_clear(&c->strings);
    size_t offs[MAX_LABELS][2];
    dw_buf_append(&c->strings, s->name.ptr, s->name.len);
    dw_buf_putc(&c->strings, '\0');
    for (size_t i = 0; i < s->nlabels; i++) {
        offs[i][0] = c->strings.len;
        dw_buf_append(&c->strings, s->labels[i].name.ptr, s->labels[i].name.len);
        dw_buf_putc(&c->strings, '\0');
        offs[i][1] = c->strings.len;
        dw_buf_append(&c->strings, s->labels[i].value.ptr, s->labels[i].value.len);
        dw_buf_putc(&c->strings, '\0');
    }
    struct dw_label labels[MAX_LABELS];
    const char *base = c->strings.data;
    labels[0] = (struct dw_label){DW_TSDB_METRIC_NAME, base};
    for (size_t i = 0; i < s->nlabels; i++)
        labels[i + 1] = (struct dw_label){base + offs[i][0], base + offs[i][1]};
    size_t nl = s->nlabels + 1;
    for (size_t i = 0; i < c->nextra; i++) { /* extra_label overrides what the sample says */
        size_t j;
        for (j = 1; j < nl; j++)
            if (strcmp(labels[j].name, c->extra[i].name) == 0)
                break;
        labels[j] = c->extra[i];
        if (j == nl)
            nl++;
    }
    int64_t t = s->has_timestamp ? s->timestamp_ms : c->now;
    return dw_tsdb_appender_add(c->app, labels, nl, t, s->value, NULL) < 0 ? 1 : 0;
}

/* Parses extra_label=name=value arguments (VictoriaMetrics' convention). */
static int parse_extra_labels(struct dw_http_request *req, struct dw_label *out, char **store,
                              size_t max, size_t *n, struct dw_http_response *resp)
{
    const char *vals[16];
    size_t nv = dw_http_req_args(req, "extra_label", vals, 16);
    *n = 0;
    if (nv > max) {
        dw_http_resp_error(resp, 400, "bad_data", "at most %zu extra_label arguments", max);
        return -1;
    }
    for (size_t i = 0; i < nv; i++) {
        const char *eq = strchr(vals[i], '=');
        if (!eq || eq == vals[i]) {
            dw_http_resp_error(resp, 400, "bad_data",
                               "extra_label must look like name=value, got \"%s\"", vals[i]);
            return -1;
        }
        store[i] = dw_strndup(vals[i], (size_t)(eq - vals[i]));
        out[i] = (struct dw_label){store[i], eq + 1};
        (*n)++;
        if (!dw_tsdb_label_name_valid(store[i])) {
            dw_http_resp_error(resp, 400, "bad_data", "extra_label: invalid label name \"%s\"",
                               store[i]);
            return -1;
        }
    }
    return 0;
}

static void ingest_text(struct dw_http_request *req, struct dw_http_response *resp,
                        const struct dw_http_app *app, const char *path, bool timestamps)
{
    if (!dw_api_need_tsdb(app, resp))
        return;
    struct dw_label extra[16];
    char *extra_names[16] = {0};
    size_t nextra = 0;
    if (parse_extra_labels(req, extra, extra_names, 16, &nextra, resp) < 0)
        goto out;
    size_t len;
    const char *body = dw_http_req_body(req, &len);
    struct writer_state *st = thread_state(app->tsdb);
    struct dw_expo_opts opts;
    dw_expo_opts_init(&opts);
    opts.content_type = dw_http_req_header(req, "Content-Type");
    struct text_ctx ctx = {
        .app = st->app,
        .now = dw_now_ms(),
        .allow_timestamps = timestamps,
        .extra = extra,
        .nextra = nextra,
    };
    dw_buf_init(&ctx.strings, 0);
    struct dw_expo_handler h = {.sample = text_sample, .ctx = &ctx};
    struct dw_expo_error err;
    int rc = dw_expo_parse(st->parser, &opts, body, len, &h, &err);
    dw_buf_release(&ctx.strings);
    if (ctx.line_with_timestamp) {
        dw_tsdb_appender_rollback(st->app);
        reject(path, "timestamp");
        dw_http_resp_error(resp, 400, "bad_data",
                           "line %zu: %s takes no timestamps (samples are stamped on arrival); "
                           "send timestamped data to /api/v1/import/prometheus",
                           ctx.line_with_timestamp, path);
        goto out;
    }
    if (ctx.too_many_labels) {
        dw_tsdb_appender_rollback(st->app);
        reject(path, "limit");
        dw_http_resp_error(resp, 400, "bad_data", "a series has more than %d labels", MAX_LABELS);
        goto out;
    }
    if (rc < 0 && err.code != DW_EXPO_EABORTED) {
        dw_tsdb_appender_rollback(st->app);
        reject(path, err.code == DW_EXPO_ELIMIT ? "limit" : "syntax");
        dw_http_resp_error(resp, err.code == DW_EXPO_EFORMAT ? 415 : 400, "bad_data", "%s",
                           err.msg);
        goto out;
    }
    commit_and_answer(st, resp, path);
out:
    for (size_t i = 0; i < 16; i++)
        free(extra_names[i]);
}

void dw_api_import_prometheus(struct dw_http_request *req, struct dw_http_response *resp,
                              const struct dw_http_app *app)
{
    ingest_text(req, resp, app, "/api/v1/import/prometheus", true);
}

void dw_api_push(struct dw_http_request *req, struct dw_http_response *resp,
                 const struct dw_http_app *app)
{
    ingest_text(req, resp, app, "/api/v1/push", false);
}
