/*
 * collect.c - the collector: configuration generations, the schedule of
 * every check, and writing results to the tsdb.
 *
 * DESIGN
 * One thread ("collect") owns a dw_loop, one tsdb appender and one
 * exposition parser. A check is a scrape target, the host collector, or one
 * (probe, device) pair. Checks sit in a min-heap by next start time on the
 * injectable wall clock; the thread starts what is due, then waits in the
 * loop for results (at most 250 ms, so a test clock moved forward is seen
 * promptly). A check still running when it is due again skips that slot,
 * as Prometheus does.
 *
 * Fixed intervals are spread by a hash of the check's identity (offset
 * within the interval), so 10,000 probes a minute start evenly. A check with
 * `interval: plan` follows the cadence of its class in the current launch
 * phase (dw_collect_plan_next), re-anchored at each phase change.
 *
 * Results are written on the loop thread: samples with the check's target
 * labels, then staleness markers for the series the previous run wrote and
 * this one did not (each check remembers its series), then the report
 * series (up, scrape_duration_seconds ... or probe_success ...). A failed
 * scrape marks all its series stale, like Prometheus.
 *
 * Configuration: dw_collector_apply decodes and validates on the caller's
 * thread, then hands the generation over under `lock`; the loop thread
 * reconciles: checks with the same identity keep their schedule and series
 * memory, new ones are scheduled, removed ones get staleness markers.
 * Running probes are aborted at a swap (they point into the old generation);
 * running scrapes finish. file_sd files are stat'ed every second and a
 * changed job is rebuilt through the same reconciliation.
 *
 * Status for the API is kept per check and read under `lock`.
 */
#include <glob.h>
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collect/collect.h"
#include "collect/host.h"
#include "collect/probe.h"
#include "collect/scrape.h"
#include "expo/expo.h"

#define MAX_WAIT_MS 250
#define FILESD_CHECK_MS 1000

enum check_kind { CHECK_SCRAPE, CHECK_HOST, CHECK_PROBE };

/*
 * The series a check wrote, as (label-set hash, tsdb reference) sorted by
 * hash: 16 bytes a series instead of a copy of its labels. The next run
 * writes a known series by reference (no index lookup) and the series that
 * are gone get their staleness marker by reference too. A reference of 0
 * means the series was created by that run (its reference was provisional):
 * then, and only then, a copy of its labels is kept, for the next run to
 * look it up or mark it stale by labels.
 */
struct sref {
    uint64_t key;
    uint64_t ref;
    struct dw_label *labels; /* only when ref is 0 */
    size_t n;
};
struct srefs {
    struct sref *v;
    size_t n, cap;
};

static void srefs_release(struct srefs *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].labels);
    free(s->v);
    *s = (struct srefs){0};
}

static int sref_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct sref *)a)->key, y = ((const struct sref *)b)->key;
    return x < y ? -1 : x > y;
}

static const struct sref *srefs_find(const struct srefs *s, uint64_t key)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n && s->v[lo].key == key ? &s->v[lo] : NULL;
}

struct generation {
    struct dw_config *cfg;
    struct scrape_cfg sc;
    struct dw_probes_cfg pc;
    bool has_sc, has_pc;
};

struct check {
    struct dw_collector *owner;
    enum check_kind kind;
    char *key; /* identity across reloads */
    const struct scrape_job *job;
    const struct dw_probe_cfg *probe;
    const struct dw_probe_device *device;
    struct scrape_target target; /* url + target labels (all kinds use .labels) */
    struct dw_lset discovered;   /* labels before relabeling (targets API) */
    int64_t interval_ms;         /* 0 = plan */
    int cls;
    int64_t offset_ms;
    int64_t next_due;
    bool running, removed;
    int64_t run_ts; /* wall ms the running run started: its samples' timestamp */
    int64_t run_mono_ns;
    struct scrape_run *srun;
    struct dw_probe_run *prun;
    struct srefs prev; /* the series the last run wrote: keys and tsdb references */
    /* status (guarded by lock for readers) */
    int health; /* -1 unknown, 0 down, 1 up */
    char error[DW_PROBE_DETAIL_LEN];
    char reason[DW_PROBE_REASON_LEN];
    int64_t last_ms;
    double last_duration;
    uint64_t runs, failures, skipped;
};

struct filesd_watch {
    const struct scrape_job *job;
    char **paths; /* files matched by the job's patterns */
    size_t npaths;
    struct dw_filesd_stamp *stamps;
    int64_t last_check_mono;
};

struct dw_collector {
    struct dw_tsdb *db;
    pthread_t thread;
    bool started;
    atomic_bool stop;
    pthread_mutex_t lock;
    struct generation *pending; /* guarded by lock */
    struct generation *gen;     /* loop thread */
    struct dw_loop *loop;
    struct dw_tsdb_appender *app;
    struct dw_expo_parser *parser;
    struct check **checks; /* guarded by lock for readers; loop thread writes */
    size_t nchecks, ccap;
    struct dw_dueheap heap; /* checks by next start */
    struct filesd_watch *watches;
    size_t nwatches;
    struct dw_lset *dropped; /* discovered labels of dropped targets; guarded by lock */
    size_t ndropped;
    struct dw_config *status_cfg; /* the current generation's, for status readers; lock */
    char hostname[256];
};

static struct dw_metric *m_runs, *m_fail, *m_skipped, *m_active, *m_write_err;

/* ---- small helpers ---- */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t dw_collect_plan_next(const struct dw_config *cfg, int cls, int64_t t)
{
    for (int guard = 0; guard < 64; guard++) {
        const struct dw_plan_phase *ph = dw_plan_phase_at(cfg, t);
        int64_t change = dw_plan_next_phase_change(cfg, t);
        int64_t iv = dw_plan_interval_at(cfg, (enum dw_check_class)cls, t);
        if (iv > 0) {
            int64_t anchor = dw_config_launch_at(cfg) + (ph ? ph->start_ms : 0);
            int64_t cand = anchor + (floordiv(t - anchor, iv) + 1) * iv;
            return cand < change ? cand : change;
        }
        if (change == INT64_MAX)
            return INT64_MAX;
        if (change > t && dw_plan_interval_at(cfg, (enum dw_check_class)cls, change) > 0)
            return change;
        t = change;
    }
    return INT64_MAX;
}

/* ---- writing a run's samples ---- */

/* One run's write: the labels scratch and the new series memory. */
struct writer {
    struct dw_collector *c;
    struct check *ck;
    int64_t ts;
    struct srefs next;
    struct dw_label *lb;
    size_t lcap;
    char *xnames; /* exported_<name> of the clashing labels of the last merge */
    size_t xcap;
    char *text; /* NUL-terminated copies of a scraped sample's name and labels */
    size_t tcap;
    struct dw_label *own;
    size_t owncap;
    size_t written, failed;
    bool honor_labels, honor_ts;
    char err[256];
    /* scrape only */
    size_t scraped;
};

static void writer_add(struct writer *w, struct dw_label *lb, size_t n, int64_t t, double v,
                       bool track)
{
    dw_tsdb_labels_sort(lb, n);
    uint64_t key = dw_tsdb_labels_hash(lb, n), ref = 0;
    const struct sref *known = track ? srefs_find(&w->ck->prev, key) : NULL;
    if (known && dw_tsdb_ref_is_lasting(known->ref) &&
        dw_tsdb_appender_add_ref(w->c->app, known->ref, t, v) == 0) {
        ref = known->ref;
    } else if (dw_tsdb_appender_add(w->c->app, lb, n, t, v, &ref) != 0) {
        w->failed++;
        return;
    }
    w->written++;
    if (!track)
        return;
    w->next.v = dw_grow(w->next.v, &w->next.cap, w->next.n + 1, sizeof *w->next.v);
    struct sref *e = &w->next.v[w->next.n++];
    *e = (struct sref){key, dw_tsdb_ref_is_lasting(ref) ? ref : 0, NULL, 0};
    if (!e->ref) {
        e->labels = dw_tsdb_labels_dup(lb, n);
        e->n = n;
    }
}

/* Target labels + own labels. A scraped label that clashes with a target
 * label becomes exported_<name>, unless honor_labels (then it wins). */
static size_t merge_labels(struct writer *w, const char *name, const struct dw_label *own,
                           size_t nown)
{
    const struct dw_lset *tl = &w->ck->target.labels;
    w->lb = dw_grow(w->lb, &w->lcap, nown + tl->n + 1, sizeof *w->lb);
    size_t xneed = 1;
    for (size_t i = 0; !w->honor_labels && i < nown; i++)
        if (dw_lset_get(tl, own[i].name))
            xneed += sizeof "exported_" + strlen(own[i].name);
    w->xnames = dw_grow(w->xnames, &w->xcap, xneed, 1);
    char *xp = w->xnames;
    size_t n = 0;
    w->lb[n++] = (struct dw_label){"__name__", name};
    for (size_t i = 0; i < nown; i++) {
        if (!w->honor_labels && dw_lset_get(tl, own[i].name)) {
            size_t len = strlen(own[i].name) + 1;
            memcpy(xp, "exported_", sizeof "exported_" - 1);
            memcpy(xp + sizeof "exported_" - 1, own[i].name, len);
            w->lb[n++] = (struct dw_label){xp, own[i].value};
            xp += sizeof "exported_" - 1 + len;
            continue;
        }
        w->lb[n++] = own[i];
    }
    for (size_t i = 0; i < tl->n; i++) {
        bool clash = false;
        for (size_t k = 1; k < n && w->honor_labels; k++)
            clash |= strcmp(w->lb[k].name, tl->items[i].name) == 0;
        if (!clash)
            w->lb[n++] = (struct dw_label){tl->items[i].name, tl->items[i].value};
    }
    return n;
}

static void write_report(struct writer *w, const char *name, double v)
{
    size_t n = merge_labels(w, name, NULL, 0);
    writer_add(w, w->lb, n, w->ts, v, true);
}

/* Stale markers for what the last run wrote and this one did not. */
static void write_stale(struct writer *w, const struct srefs *prev)
{
    if (w->next.n > 1)
        qsort(w->next.v, w->next.n, sizeof *w->next.v, sref_cmp);
    for (size_t i = 0; i < prev->n; i++) {
        const struct sref *e = &prev->v[i];
        if (srefs_find(&w->next, e->key))
            continue; /* still there */
        int rc = e->ref ? dw_tsdb_appender_add_ref(w->c->app, e->ref, w->ts, dw_tsdb_stale_nan())
                        : dw_tsdb_appender_add(w->c->app, e->labels, e->n, w->ts,
                                               dw_tsdb_stale_nan(), NULL);
        if (rc != 0)
            w->failed++;
    }
}

static void writer_commit(struct writer *w, struct dw_tsdb_commit_result *res)
{
    char *err = NULL;
    if (dw_tsdb_appender_commit(w->c->app, res, &err) != 0) {
        snprintf(w->err, sizeof w->err, "storing samples: %s", err ? err : "failed");
        dw_metric_add(m_write_err, NULL, 1);
    }
    free(err);
}

/* Replaces the check's series memory with this run's. */
static void writer_finish(struct writer *w)
{
    if (w->next.n > 1)
        qsort(w->next.v, w->next.n, sizeof *w->next.v, sref_cmp);
    srefs_release(&w->ck->prev);
    w->ck->prev = w->next;
    w->next = (struct srefs){0};
    free(w->lb);
    free(w->xnames);
    free(w->text);
    free(w->own);
}

/* ---- scrape results ---- */

struct expo_ctx {
    struct writer *w;
    const struct scrape_job *job;
    struct dw_lset ls; /* metric relabeling scratch */
};

static const char *copy_str(char **p, struct dw_expo_str str)
{
    char *out = *p;
    memcpy(out, str.ptr, str.len);
    out[str.len] = '\0';
    *p += str.len + 1;
    return out;
}

static int on_sample(void *arg, const struct dw_expo_sample *s)
{
    struct expo_ctx *x = arg;
    struct writer *w = x->w;
    /* The parser's strings are not NUL-terminated: copy them, whole, once. */
    size_t need = s->name.len + 1;
    for (size_t i = 0; i < s->nlabels; i++)
        need += s->labels[i].name.len + s->labels[i].value.len + 2;
    w->text = dw_grow(w->text, &w->tcap, need, 1);
    w->own = dw_grow(w->own, &w->owncap, s->nlabels + 1, sizeof *w->own);
    char *p = w->text;
    const char *name = copy_str(&p, s->name);
    for (size_t i = 0; i < s->nlabels; i++) {
        const char *ln = copy_str(&p, s->labels[i].name);
        w->own[i] = (struct dw_label){ln, copy_str(&p, s->labels[i].value)};
    }
    w->scraped++;
    size_t n = merge_labels(w, name, w->own, s->nlabels);
    bool explicit_ts = s->has_timestamp && w->honor_ts;
    int64_t t = explicit_ts ? s->timestamp_ms : w->ts;
    if (x->job && x->job->nmetric_relabel) {
        dw_lset_release(&x->ls);
        dw_lset_init(&x->ls);
        for (size_t i = 0; i < n; i++)
            dw_lset_set(&x->ls, w->lb[i].name, w->lb[i].value);
        if (!dw_relabel_apply(x->job->metric_relabel, x->job->nmetric_relabel, &x->ls))
            return 0;
        w->lb = dw_grow(w->lb, &w->lcap, x->ls.n, sizeof *w->lb);
        for (size_t i = 0; i < x->ls.n; i++)
            w->lb[i] = (struct dw_label){x->ls.items[i].name, x->ls.items[i].value};
        n = x->ls.n;
    }
    writer_add(w, w->lb, n, t, s->value, !explicit_ts);
    return 0;
}

static void expo_opts_for(const struct scrape_job *j, const char *ctype, struct dw_expo_opts *o)
{
    dw_expo_opts_init(o);
    o->content_type = ctype;
    if (j && j->sample_limit)
        o->max_samples = (size_t)j->sample_limit;
    if (j && j->label_limit)
        o->max_labels = (size_t)j->label_limit;
    if (j && j->label_name_length_limit)
        o->max_label_name_len = (size_t)j->label_name_length_limit;
    if (j && j->label_value_length_limit)
        o->max_label_value_len = (size_t)j->label_value_length_limit;
}

static void set_status(struct dw_collector *c, struct check *ck, bool ok, const char *reason,
                       const char *error, double duration)
{
    pthread_mutex_lock(&c->lock);
    ck->health = ok ? 1 : 0;
    dw_strlcpy(ck->reason, reason ? reason : "", sizeof ck->reason);
    dw_strlcpy(ck->error, error ? error : "", sizeof ck->error);
    ck->last_ms = ck->run_ts;
    ck->last_duration = duration;
    ck->runs++;
    ck->failures += !ok;
    pthread_mutex_unlock(&c->lock);
    dw_metric_add(m_runs, NULL, 1);
    if (!ok)
        dw_metric_add(m_fail, NULL, 1);
}

/* Parses and stores an exposition body for a scrape or the host collector. */
static void store_exposition(struct dw_collector *c, struct check *ck,
                             const struct scrape_result *r)
{
    struct writer w = {.c = c, .ck = ck, .ts = ck->run_ts};
    const struct scrape_job *j = ck->kind == CHECK_SCRAPE ? ck->job : NULL;
    w.honor_labels = j ? j->honor_labels : false;
    w.honor_ts = j ? j->honor_timestamps : true;
    bool ok = r->ok;
    char error[400];
    dw_strlcpy(error, r->error, sizeof error);
    struct dw_tsdb_commit_result res = {0};
    size_t post_relabel = 0;
    if (ok) {
        struct expo_ctx x = {.w = &w, .job = j};
        dw_lset_init(&x.ls);
        struct dw_expo_opts o;
        expo_opts_for(j, r->content_type, &o);
        struct dw_expo_handler h = {.sample = on_sample, .ctx = &x};
        struct dw_expo_error err;
        if (dw_expo_parse(c->parser, &o, r->body, r->len, &h, &err) != 0) {
            ok = false;
            if (err.code == DW_EXPO_ELIMIT && strstr(err.msg, "samples"))
                snprintf(error, sizeof error, "sample limit exceeded: %s", err.msg);
            else
                snprintf(error, sizeof error, "%s", err.msg);
            dw_tsdb_appender_rollback(c->app);
            srefs_release(&w.next);
            w.written = 0;
        }
        dw_lset_release(&x.ls);
        post_relabel = w.written;
    }
    size_t scraped = ok ? w.scraped : 0;
    writer_commit(&w, &res);
    if (ok && w.err[0]) {
        ok = false;
        dw_strlcpy(error, w.err, sizeof error);
    }
    w.err[0] = '\0';
    /* The report series (Prometheus' names and meaning). */
    write_report(&w, "up", ok ? 1 : 0);
    write_report(&w, "scrape_duration_seconds", r->duration_s);
    write_report(&w, "scrape_samples_scraped", (double)scraped);
    write_report(&w, "scrape_samples_post_metric_relabeling", (double)post_relabel);
    write_report(&w, "scrape_series_added", (double)res.new_series);
    write_stale(&w, &ck->prev); /* after the report series, which are in this run's set */
    writer_commit(&w, NULL);
    writer_finish(&w);
    set_status(c, ck, ok, ok ? "" : "scrape_failed", ok ? "" : error, r->duration_s);
}

static void on_scrape_done(void *arg, const struct scrape_result *r)
{
    struct check *ck = arg;
    struct dw_collector *c = ck->owner;
    ck->srun = NULL;
    ck->running = false;
    store_exposition(c, ck, r);
}

/* ---- the host collector: an in-process target ---- */

static void run_host(struct dw_collector *c, struct check *ck)
{
    struct dw_buf body;
    dw_buf_init(&body, 64u << 20);
    char *err = NULL;
    int64_t t0 = dw_mono_ns();
    int rc = dw_host_collect(NULL, &body, &err);
    struct scrape_result r = {.ok = rc == 0, .body = body.data ? body.data : "", .len = body.len};
    r.duration_s = (double)(dw_mono_ns() - t0) / 1e9;
    if (rc != 0)
        snprintf(r.error, sizeof r.error, "%s", err ? err : "host collector failed");
    free(err);
    ck->running = false;
    store_exposition(c, ck, &r);
    dw_buf_release(&body);
}

/* ---- probe results ---- */

static void on_probe_done(struct dw_probe_run *run)
{
    struct check *ck = run->sched_arg;
    struct dw_collector *c = ck->owner;
    double dur = (double)(dw_mono_ns() - ck->run_mono_ns) / 1e9;
    struct writer w = {.c = c, .ck = ck, .ts = ck->run_ts};
    for (size_t i = 0; i < run->samples.n; i++) {
        const struct dw_csample *s = &run->samples.items[i];
        w.own = dw_grow(w.own, &w.owncap, s->nlabels + 1, sizeof *w.own);
        for (size_t k = 0; k < s->nlabels; k++)
            w.own[k] = (struct dw_label){s->label_names[k], s->label_values[k]};
        size_t n = merge_labels(&w, s->name, w.own, s->nlabels);
        writer_add(&w, w.lb, n, w.ts, s->value, true);
    }
    write_report(&w, "probe_success", run->success ? 1 : 0);
    write_report(&w, "probe_duration_seconds", dur);
    if (!run->success) {
        struct dw_label own[1] = {{"reason", run->reason[0] ? run->reason : "unknown"}};
        size_t n = merge_labels(&w, "probe_failure_info", own, 1);
        writer_add(&w, w.lb, n, w.ts, 1, true);
    }
    write_stale(&w, &ck->prev);
    writer_commit(&w, NULL);
    writer_finish(&w);
    set_status(c, ck, run->success, run->reason, run->detail, dur);
    dw_csamples_clear(&run->samples);
    free(run);
    ck->prun = NULL;
    ck->running = false;
}

/* ---- scheduling ---- */

static int64_t next_start(const struct dw_collector *c, const struct check *ck, int64_t now)
{
    if (!ck->interval_ms)
        return dw_collect_plan_next(c->gen->cfg, ck->cls, now);
    int64_t iv = ck->interval_ms;
    int64_t k = floordiv(now - ck->offset_ms, iv) + 1;
    return ck->offset_ms + k * iv;
}

/* First start: the next slot at or after now. */
static int64_t first_start(const struct dw_collector *c, const struct check *ck, int64_t now)
{
    if (!ck->interval_ms)
        return dw_collect_plan_next(c->gen->cfg, ck->cls, now - 1);
    return next_start(c, ck, now - 1);
}

static void start_probe(struct dw_collector *c, struct check *ck)
{
    struct dw_probe_run *run = dw_calloc(1, sizeof *run);
    run->cfg = ck->probe;
    run->device = ck->device;
    run->loop = c->loop;
    run->deadline_mono_ms = dw_mono_ms() + ck->probe->timeout_ms;
    run->done = on_probe_done;
    run->sched_arg = ck;
    dw_csamples_init(&run->samples);
    ck->prun = run;
    dw_probe_start(run);
}

static void start_check(struct dw_collector *c, struct check *ck, int64_t now)
{
    ck->running = true;
    ck->run_ts = now;
    ck->run_mono_ns = dw_mono_ns();
    switch (ck->kind) {
    case CHECK_HOST: run_host(c, ck); break;
    case CHECK_PROBE: start_probe(c, ck); break;
    case CHECK_SCRAPE:
        ck->srun = dw_scrape_start(c->loop, &ck->target, on_scrape_done, ck);
        if (!ck->srun) {
            struct scrape_result r = {.ok = false};
            dw_strlcpy(r.error, "could not start the transfer", sizeof r.error);
            on_scrape_done(ck, &r);
        }
        break;
    }
}

static void run_due(struct dw_collector *c, int64_t now)
{
    const struct dw_due *top;
    while ((top = dw_dueheap_top(&c->heap)) && top->at <= now) {
        struct check *ck = top->item;
        bool reviewed = ck->interval_ms ||
                        dw_plan_interval_at(c->gen->cfg, (enum dw_check_class)ck->cls, now) > 0;
        if (ck->running) {
            ck->skipped++;
            dw_metric_add(m_skipped, NULL, 1);
        } else if (reviewed) {
            start_check(c, ck, now);
        }
        ck->next_due = next_start(c, ck, now);
        dw_dueheap_retime_top(&c->heap, ck->next_due);
    }
}

/* ---- building the checks of a generation ---- */

struct checklist {
    struct check **items;
    size_t n, cap;
    struct dw_lset *dropped; /* discovered labels of targets relabeling dropped */
    size_t ndropped, dcap;
};

static void check_free(struct check *ck)
{
    if (!ck)
        return;
    free(ck->key);
    free(ck->target.url);
    dw_lset_release(&ck->target.labels);
    dw_lset_release(&ck->discovered);
    srefs_release(&ck->prev);
    free(ck);
}

static struct check *check_new(struct dw_collector *c, enum check_kind kind, char *key)
{
    struct check *ck = dw_calloc(1, sizeof *ck);
    ck->owner = c;
    ck->kind = kind;
    ck->key = key;
    ck->health = -1;
    dw_lset_init(&ck->target.labels);
    dw_lset_init(&ck->discovered);
    return ck;
}

static void list_add(struct checklist *l, struct check *ck)
{
    l->items = dw_grow(l->items, &l->cap, l->n + 1, sizeof *l->items);
    l->items[l->n++] = ck;
}

static char *lset_key(const char *prefix, const char *url, struct dw_lset *ls)
{
    dw_lset_sort(ls);
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_printf(&b, "%s\x1f%s", prefix, url ? url : "");
    for (size_t i = 0; i < ls->n; i++)
        dw_buf_printf(&b, "\x1f%s=%s", ls->items[i].name, ls->items[i].value);
    return dw_buf_steal(&b);
}

/* One discovered target of a job: relabel, then a check or a dropped entry. */
static void add_target(struct dw_collector *c, struct checklist *l, const struct scrape_job *j,
                       const char *addr, const struct dw_lset *group_labels)
{
    struct dw_lset ls;
    dw_lset_init(&ls);
    for (size_t i = 0; group_labels && i < group_labels->n; i++)
        dw_lset_set(&ls, group_labels->items[i].name, group_labels->items[i].value);
    dw_lset_set(&ls, "__address__", addr);
    dw_target_populate(&ls, j->job_name, j->scheme ? "https" : "http", j->metrics_path,
                       j->interval_ms, j->timeout_ms, j->param_pairs, j->nparam_pairs);
    struct dw_lset discovered;
    dw_lset_init(&discovered);
    dw_lset_copy(&discovered, &ls);
    struct dw_target_info info = {0};
    char *err = NULL;
    if (!dw_relabel_apply(j->relabel, j->nrelabel, &ls) ||
        dw_target_finish(&ls, j->param_pairs, j->nparam_pairs, &info, &err) != 0) {
        if (err)
            dw_log_kv(DW_LOG_WARN, "collect", "target dropped", "job", j->job_name, "target", addr,
                      "error", err, NULL);
        free(err);
        l->dropped = dw_grow(l->dropped, &l->dcap, l->ndropped + 1, sizeof *l->dropped);
        l->dropped[l->ndropped++] = discovered;
        dw_lset_release(&ls);
        return;
    }
    struct check *ck = check_new(c, CHECK_SCRAPE, lset_key("scrape", info.url, &ls));
    ck->job = j;
    ck->target.job = j;
    ck->target.url = info.url;
    ck->target.timeout_ms = info.timeout_ms;
    ck->target.labels = ls;
    ck->discovered = discovered;
    ck->interval_ms = info.interval_ms;
    list_add(l, ck);
}

static void add_job_static(struct dw_collector *c, struct checklist *l, const struct scrape_job *j)
{
    for (size_t i = 0; i < j->nstatic; i++) {
        const struct scrape_static *st = &j->static_configs[i];
        struct dw_lset gl;
        dw_lset_init(&gl);
        for (size_t k = 0; k < st->nlabels; k++)
            dw_lset_set(&gl, st->labels[k].key, st->labels[k].value);
        for (size_t k = 0; k < st->ntargets; k++)
            add_target(c, l, j, st->targets[k], &gl);
        dw_lset_release(&gl);
    }
}

static void add_job_filesd(struct dw_collector *c, struct checklist *l, const struct scrape_job *j,
                           const struct filesd_watch *fw)
{
    for (size_t p = 0; fw && p < fw->npaths; p++) {
        struct dw_target_group *groups = NULL;
        size_t ng = 0;
        char *err = NULL;
        if (dw_filesd_read(fw->paths[p], &groups, &ng, &err) != 0) {
            dw_log_kv(DW_LOG_WARN, "collect", "file_sd file not read", "job", j->job_name, "file",
                      fw->paths[p], "error", err, NULL);
            free(err);
            continue;
        }
        for (size_t g = 0; g < ng; g++)
            for (size_t t = 0; t < groups[g].ntargets; t++)
                add_target(c, l, j, groups[g].targets[t], &groups[g].labels);
        dw_target_groups_free(groups, ng);
    }
}

static void add_host(struct dw_collector *c, struct checklist *l, const struct scrape_cfg *sc)
{
    if (!sc->host.enabled)
        return;
    struct check *ck = check_new(c, CHECK_HOST, dw_asprintf("host\x1f%s", sc->host.job));
    dw_lset_set(&ck->target.labels, "job", sc->host.job);
    dw_lset_set(&ck->target.labels, "instance", c->hostname);
    for (size_t i = 0; i < sc->host.nlabels; i++)
        dw_lset_set(&ck->target.labels, sc->host.labels[i].key, sc->host.labels[i].value);
    ck->interval_ms = sc->host.interval_ms;
    list_add(l, ck);
}

static void add_probe(struct dw_collector *c, struct checklist *l, const struct dw_probe_cfg *p,
                      const struct dw_probe_device *dev)
{
    const char *dname = dev ? dw_probe_device_name(dev) : "";
    struct check *ck = check_new(c, CHECK_PROBE, dw_asprintf("probe\x1f%s\x1f%s", p->name, dname));
    ck->probe = p;
    ck->device = dev;
    struct dw_lset *ls = &ck->target.labels;
    dw_lset_set(ls, "job", "probes");
    dw_lset_set(ls, "instance", p->target);
    dw_lset_set(ls, "probe", p->name);
    dw_lset_set(ls, "kind", dw_probe_kind_name(p->kind));
    dw_lset_set(ls, "class", dw_check_class_name((enum dw_check_class)p->cls));
    if (dev)
        dw_lset_set(ls, "device", dname);
    for (size_t i = 0; i < p->nlabels; i++)
        dw_lset_set(ls, p->labels[i].key, p->labels[i].value);
    ck->interval_ms = p->interval_ms;
    ck->cls = p->cls;
    list_add(l, ck);
}

static void add_probes(struct dw_collector *c, struct checklist *l, const struct dw_probes_cfg *pc)
{
    for (size_t i = 0; i < pc->nchecks; i++) {
        const struct dw_probe_cfg *p = &pc->checks[i];
        if (!p->ndevices)
            add_probe(c, l, p, NULL);
        for (size_t d = 0; d < p->ndevices; d++)
            add_probe(c, l, p, dw_probes_device(pc, p->devices[d]));
    }
}

static const struct filesd_watch *find_watch(const struct dw_collector *c,
                                             const struct scrape_job *j)
{
    for (size_t i = 0; i < c->nwatches; i++)
        if (c->watches[i].job == j)
            return &c->watches[i];
    return NULL;
}

static void build_checks(struct dw_collector *c, struct checklist *l)
{
    const struct generation *g = c->gen;
    if (g->has_sc) {
        add_host(c, l, &g->sc);
        for (size_t i = 0; i < g->sc.njobs; i++) {
            add_job_static(c, l, &g->sc.jobs[i]);
            add_job_filesd(c, l, &g->sc.jobs[i], find_watch(c, &g->sc.jobs[i]));
        }
    }
    if (g->has_pc)
        add_probes(c, l, &g->pc);
}

/* ---- file_sd: which files each job's patterns match, and their stamps ---- */

static void watch_release(struct filesd_watch *w)
{
    for (size_t i = 0; i < w->npaths; i++)
        free(w->paths[i]);
    free(w->paths);
    free(w->stamps);
    *w = (struct filesd_watch){0};
}

/* Expands the job's patterns; returns true when the set of files or any
 * file's stamp differs from what w holds (and updates w). */
static bool watch_refresh(struct filesd_watch *w)
{
    const struct scrape_job *j = w->job;
    struct filesd_watch nw = {.job = j, .last_check_mono = dw_mono_ms()};
    size_t cap = 0;
    for (size_t f = 0; f < j->nfile_sd; f++)
        for (size_t p = 0; p < j->file_sd[f].nfiles; p++) {
            glob_t gl;
            if (glob(j->file_sd[f].files[p], 0, NULL, &gl) != 0)
                continue;
            for (size_t k = 0; k < gl.gl_pathc; k++) {
                nw.paths = dw_grow(nw.paths, &cap, nw.npaths + 1, sizeof *nw.paths);
                nw.paths[nw.npaths++] = dw_strdup(gl.gl_pathv[k]);
            }
            globfree(&gl);
        }
    nw.stamps = dw_calloc(nw.npaths ? nw.npaths : 1, sizeof *nw.stamps);
    bool changed = nw.npaths != w->npaths;
    for (size_t i = 0; i < nw.npaths; i++) {
        dw_filesd_stat(nw.paths[i], &nw.stamps[i]);
        changed |= i < w->npaths && (strcmp(nw.paths[i], w->paths[i]) != 0 ||
                                     !dw_filesd_stamp_equal(&nw.stamps[i], &w->stamps[i]));
    }
    watch_release(w);
    *w = nw;
    return changed;
}

static void watches_rebuild(struct dw_collector *c)
{
    for (size_t i = 0; i < c->nwatches; i++)
        watch_release(&c->watches[i]);
    free(c->watches);
    c->watches = NULL;
    c->nwatches = 0;
    if (!c->gen->has_sc)
        return;
    c->watches = dw_calloc(c->gen->sc.njobs + 1, sizeof *c->watches);
    for (size_t i = 0; i < c->gen->sc.njobs; i++)
        if (c->gen->sc.jobs[i].nfile_sd) {
            c->watches[c->nwatches].job = &c->gen->sc.jobs[i];
            watch_refresh(&c->watches[c->nwatches++]);
        }
}

/* ---- reconciling the running checks with a new list ---- */

static void mark_all_stale(struct dw_collector *c, struct check *ck)
{
    struct writer w = {.c = c, .ck = ck, .ts = dw_now_ms()};
    write_stale(&w, &ck->prev);
    writer_commit(&w, NULL);
    writer_finish(&w);
}

/* Aborts a running scrape or probe (they point into the old generation). */
static void stop_run(struct dw_collector *c, struct check *ck)
{
    if (ck->srun)
        dw_scrape_abort(c->loop, &ck->srun);
    if (ck->prun) {
        dw_probe_abort(ck->prun);
        dw_csamples_clear(&ck->prun->samples);
        free(ck->prun);
        ck->prun = NULL;
    }
    ck->running = false;
}

static struct check *find_check(struct check **v, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] && strcmp(v[i]->key, key) == 0)
            return v[i];
    return NULL;
}

/* Moves the series memory, status and schedule of an old check into its replacement. */
static void carry_over(struct check *nw, struct check *old)
{
    nw->prev = old->prev;
    old->prev = (struct srefs){0};
    nw->health = old->health;
    memcpy(nw->error, old->error, sizeof nw->error);
    memcpy(nw->reason, old->reason, sizeof nw->reason);
    nw->last_ms = old->last_ms;
    nw->last_duration = old->last_duration;
    nw->runs = old->runs;
    nw->failures = old->failures;
    nw->skipped = old->skipped;
    if (nw->interval_ms == old->interval_ms)
        nw->next_due = old->next_due;
}

static void free_dropped(struct dw_lset *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dw_lset_release(&d[i]);
    free(d);
}

/* Installs list l as the running checks: same identity keeps its state,
 * new checks are scheduled, removed ones are marked stale and freed. */
static void reconcile(struct dw_collector *c, struct checklist *l)
{
    int64_t now = dw_now_ms();
    struct check **keep = NULL;
    size_t nkeep = 0, kcap = 0;
    for (size_t i = 0; i < l->n; i++) {
        struct check *nw = l->items[i];
        if (find_check(keep, nkeep, nw->key)) { /* the same target twice */
            check_free(nw);
            continue;
        }
        nw->offset_ms = nw->interval_ms ? (int64_t)(fnv1a(nw->key) % (uint64_t)nw->interval_ms) : 0;
        struct check *old = find_check(c->checks, c->nchecks, nw->key);
        if (old) {
            stop_run(c, old);
            carry_over(nw, old);
        }
        if (!nw->next_due)
            nw->next_due = first_start(c, nw, now);
        keep = dw_grow(keep, &kcap, nkeep + 1, sizeof *keep);
        keep[nkeep++] = nw;
    }
    for (size_t i = 0; i < c->nchecks; i++) {
        struct check *old = c->checks[i];
        stop_run(c, old);
        if (!find_check(keep, nkeep, old->key))
            mark_all_stale(c, old);
    }
    pthread_mutex_lock(&c->lock);
    struct check **gone = c->checks;
    size_t ngone = c->nchecks;
    c->checks = keep;
    c->nchecks = nkeep;
    free_dropped(c->dropped, c->ndropped);
    c->dropped = l->dropped;
    c->ndropped = l->ndropped;
    pthread_mutex_unlock(&c->lock);
    for (size_t i = 0; i < ngone; i++)
        check_free(gone[i]);
    free(gone);
    dw_dueheap_clear(&c->heap);
    for (size_t i = 0; i < nkeep; i++)
        dw_dueheap_push(&c->heap, keep[i]->next_due, keep[i]);
    dw_metric_set(m_active, NULL, (double)nkeep);
    free(l->items);
    *l = (struct checklist){0};
}

/* ---- generations ---- */

static void gen_free(struct generation *g)
{
    if (!g)
        return;
    if (g->has_sc)
        dw_scrape_cfg_release(&g->sc);
    if (g->has_pc)
        dw_probes_cfg_release(&g->pc);
    dw_config_unref(&g->cfg);
    free(g);
}

/* Decodes both sections; NULL with diags filled when either is invalid. */
static struct generation *gen_decode(const struct dw_config *cfg, struct dw_diags *diags,
                                     size_t *errors)
{
    struct generation *g = dw_calloc(1, sizeof *g);
    g->cfg = dw_config_ref((struct dw_config *)cfg);
    *errors = dw_config_decode_section(cfg, "scrape", &dw_scrape_schema, &g->sc, NULL, diags);
    g->has_sc = true;
    *errors += dw_config_decode_section(cfg, "probes", &dw_probes_schema, &g->pc, NULL, diags);
    g->has_pc = true;
    if (*errors) {
        gen_free(g);
        return NULL;
    }
    return g;
}

size_t dw_collect_check_config(const struct dw_config *cfg, struct dw_diags *diags)
{
    size_t errors = 0;
    gen_free(gen_decode(cfg, diags, &errors));
    return errors;
}

static void register_metrics(void)
{
    m_runs = dw_metric_counter("dojowatch_collect_runs_total",
                               "Scrapes, host collections and probe runs finished.", NULL);
    m_fail = dw_metric_counter("dojowatch_collect_failures_total",
                               "Scrapes and probe runs that failed.", NULL);
    m_skipped = dw_metric_counter("dojowatch_collect_skipped_total",
                                  "Starts skipped because the previous run was still going.", NULL);
    m_active =
        dw_metric_gauge("dojowatch_collect_checks", "Targets and probe runs scheduled.", NULL);
    m_write_err = dw_metric_counter("dojowatch_collect_write_errors_total",
                                    "Collected batches the time-series store refused.", NULL);
}

struct dw_collector *dw_collector_new(struct dw_tsdb *db)
{
    struct dw_collector *c = dw_calloc(1, sizeof *c);
    c->db = db;
    pthread_mutex_init(&c->lock, NULL);
    c->loop = dw_loop_new();
    c->parser = dw_expo_parser_new();
    if (gethostname(c->hostname, sizeof c->hostname - 1) != 0 || !c->hostname[0])
        dw_strlcpy(c->hostname, "localhost", sizeof c->hostname);
    register_metrics();
    return c;
}

size_t dw_collector_apply(struct dw_collector *c, const struct dw_config *cfg,
                          struct dw_diags *diags)
{
    size_t errors = 0;
    struct generation *g = gen_decode(cfg, diags, &errors);
    if (!g)
        return errors;
    pthread_mutex_lock(&c->lock);
    gen_free(c->pending);
    c->pending = g;
    pthread_mutex_unlock(&c->lock);
    dw_loop_wakeup(c->loop);
    return 0;
}

/* Loop thread: installs a pending generation. */
static void take_pending(struct dw_collector *c)
{
    pthread_mutex_lock(&c->lock);
    struct generation *g = c->pending;
    c->pending = NULL;
    pthread_mutex_unlock(&c->lock);
    if (!g)
        return;
    struct generation *old = c->gen;
    c->gen = g;
    watches_rebuild(c);
    struct checklist l = {0};
    build_checks(c, &l);
    reconcile(c, &l); /* aborts runs pointing into the old generation */
    gen_free(old);
    malloc_trim(0); /* decoding a large file leaves tens of MiB free but unreturned */
    pthread_mutex_lock(&c->lock);
    dw_config_unref(&c->status_cfg);
    c->status_cfg = dw_config_ref(g->cfg);
    pthread_mutex_unlock(&c->lock);
    char n[32];
    snprintf(n, sizeof n, "%zu", c->nchecks);
    dw_log_kv(DW_LOG_INFO, "collect", "collection configured", "checks", n, NULL);
}

static void check_filesd(struct dw_collector *c)
{
    int64_t now = dw_mono_ms();
    bool changed = false;
    for (size_t i = 0; i < c->nwatches; i++)
        if (now - c->watches[i].last_check_mono >= FILESD_CHECK_MS)
            changed |= watch_refresh(&c->watches[i]);
    if (!changed)
        return;
    struct checklist l = {0};
    build_checks(c, &l);
    reconcile(c, &l);
}

static void *collect_main(void *arg)
{
    struct dw_collector *c = arg;
    pthread_setname_np(pthread_self(), "collect");
    c->app = dw_tsdb_appender_new(c->db);
    while (!atomic_load(&c->stop)) {
        take_pending(c);
        if (c->gen && dw_tsdb_is_loaded(c->db)) {
            check_filesd(c);
            run_due(c, dw_now_ms());
        }
        int64_t wait = MAX_WAIT_MS;
        if (dw_dueheap_top(&c->heap)) {
            int64_t left = dw_dueheap_top(&c->heap)->at - dw_now_ms();
            if (left < wait)
                wait = left < 0 ? 0 : left;
        }
        dw_loop_run_once(c->loop, (int)wait);
    }
    for (size_t i = 0; i < c->nchecks; i++)
        stop_run(c, c->checks[i]);
    dw_probe_easy_drain();
    dw_tsdb_appender_free(&c->app);
    return NULL;
}

int dw_collector_start(struct dw_collector *c)
{
    if (c->started)
        return 0;
    atomic_store(&c->stop, false);
    if (pthread_create(&c->thread, NULL, collect_main, c) != 0)
        return -1;
    c->started = true;
    return 0;
}

void dw_collector_stop(struct dw_collector *c)
{
    if (!c || !c->started)
        return;
    atomic_store(&c->stop, true);
    dw_loop_wakeup(c->loop);
    pthread_join(c->thread, NULL);
    c->started = false;
}

void dw_collector_free(struct dw_collector **cp)
{
    struct dw_collector *c = cp ? *cp : NULL;
    if (!c)
        return;
    dw_collector_stop(c);
    for (size_t i = 0; i < c->nchecks; i++)
        check_free(c->checks[i]);
    free(c->checks);
    dw_dueheap_release(&c->heap);
    free_dropped(c->dropped, c->ndropped);
    for (size_t i = 0; i < c->nwatches; i++)
        watch_release(&c->watches[i]);
    free(c->watches);
    gen_free(c->gen);
    gen_free(c->pending);
    dw_config_unref(&c->status_cfg);
    dw_loop_free(&c->loop);
    dw_expo_parser_free(&c->parser);
    pthread_mutex_destroy(&c->lock);
    free(c);
    *cp = NULL;
}

/* ---- status for the API ---- */

static json_t *lset_json(const struct dw_lset *ls)
{
    json_t *o = json_object();
    for (size_t i = 0; i < ls->n; i++)
        json_object_set_new(o, ls->items[i].name, json_string(ls->items[i].value));
    return o;
}

static json_t *time_json(int64_t ms)
{
    char buf[40];
    if (!ms)
        return json_string("0001-01-01T00:00:00Z");
    dw_format_rfc3339(ms, buf, sizeof buf);
    return json_string(buf);
}

static const char *health_name(int h)
{
    return h < 0 ? "unknown" : h ? "up" : "down";
}

static json_t *target_json(const struct check *ck)
{
    json_t *t = json_object();
    json_object_set_new(t, "discoveredLabels", lset_json(&ck->discovered));
    json_object_set_new(t, "labels", lset_json(&ck->target.labels));
    json_object_set_new(t, "scrapePool", json_string(dw_lset_get(&ck->target.labels, "job")));
    json_object_set_new(t, "scrapeUrl", json_string(ck->target.url ? ck->target.url : "host://"));
    json_object_set_new(t, "globalUrl", json_string(ck->target.url ? ck->target.url : "host://"));
    json_object_set_new(t, "lastError", json_string(ck->error));
    json_object_set_new(t, "lastScrape", time_json(ck->last_ms));
    json_object_set_new(t, "lastScrapeDuration", json_real(ck->last_duration));
    json_object_set_new(t, "health", json_string(health_name(ck->health)));
    char iv[32];
    dw_format_duration(ck->interval_ms, iv, sizeof iv);
    json_object_set_new(t, "scrapeInterval", json_string(iv));
    dw_format_duration(ck->job ? ck->job->timeout_ms : ck->interval_ms, iv, sizeof iv);
    json_object_set_new(t, "scrapeTimeout", json_string(iv));
    return t;
}

json_t *dw_collector_targets_json(struct dw_collector *c, const char *state)
{
    bool active = !state || !*state || !strcmp(state, "any") || !strcmp(state, "active");
    bool dropped = !state || !*state || !strcmp(state, "any") || !strcmp(state, "dropped");
    json_t *a = json_array(), *d = json_array();
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; active && i < c->nchecks; i++)
        if (c->checks[i]->kind != CHECK_PROBE)
            json_array_append_new(a, target_json(c->checks[i]));
    for (size_t i = 0; dropped && i < c->ndropped; i++) {
        json_t *t = json_object();
        json_object_set_new(t, "discoveredLabels", lset_json(&c->dropped[i]));
        json_array_append_new(d, t);
    }
    pthread_mutex_unlock(&c->lock);
    json_t *out = json_object();
    json_object_set_new(out, "activeTargets", a);
    json_object_set_new(out, "droppedTargets", d);
    return out;
}

static json_t *probe_json(const struct dw_collector *c, const struct check *ck)
{
    json_t *p = json_object();
    const struct dw_lset *ls = &ck->target.labels;
    json_object_set_new(p, "name", json_string(ck->probe->name));
    json_object_set_new(p, "kind", json_string(dw_probe_kind_name(ck->probe->kind)));
    json_object_set_new(p, "class", json_string(dw_check_class_name((enum dw_check_class)ck->cls)));
    const char *dev = dw_lset_get(ls, "device");
    json_object_set_new(p, "device", dev ? json_string(dev) : json_null());
    json_object_set_new(p, "target", json_string(ck->probe->target));
    json_object_set_new(p, "labels", lset_json(ls));
    char iv[32];
    int64_t cur = ck->interval_ms ? ck->interval_ms
                                  : dw_plan_interval_at(c->status_cfg, (enum dw_check_class)ck->cls,
                                                        dw_now_ms());
    dw_format_duration(cur, iv, sizeof iv);
    json_object_set_new(p, "interval", json_string(ck->interval_ms ? iv : "plan"));
    json_object_set_new(p, "currentInterval", json_string(iv));
    json_object_set_new(p, "health", json_string(health_name(ck->health)));
    json_object_set_new(p, "reason", json_string(ck->reason));
    json_object_set_new(p, "detail", json_string(ck->error));
    json_object_set_new(p, "lastRun", time_json(ck->last_ms));
    json_object_set_new(p, "lastDuration", json_real(ck->last_duration));
    json_object_set_new(p, "nextRun", time_json(ck->next_due == INT64_MAX ? 0 : ck->next_due));
    json_object_set_new(p, "runs", json_integer((json_int_t)ck->runs));
    json_object_set_new(p, "failures", json_integer((json_int_t)ck->failures));
    json_object_set_new(p, "skipped", json_integer((json_int_t)ck->skipped));
    return p;
}

json_t *dw_collector_probes_json(struct dw_collector *c)
{
    json_t *a = json_array();
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->nchecks; i++)
        if (c->checks[i]->kind == CHECK_PROBE)
            json_array_append_new(a, probe_json(c, c->checks[i]));
    pthread_mutex_unlock(&c->lock);
    return a;
}
