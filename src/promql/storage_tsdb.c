/*
 * storage_tsdb.c - the engine's storage interface over the tsdb database
 * (head and blocks) through its public querier.
 *
 * DESIGN: one selection = one tsdb querier over the hinted time range, the
 * query's label matchers rebuilt as tsdb matchers (the tsdb compiles its
 * own, with its postings fast paths), and the resulting series set. All
 * three are owned by the series set handed to the engine and freed when the
 * engine closes it, so labels and chunks stay valid while it iterates.
 *
 * Downsampled data: info() reports where raw data starts (raw blocks and
 * head) and which downsampled resolutions (5 m, 1 h) hold data from when;
 * the engine then asks for a resolution when a coarse step reaches back
 * before the raw data, and select() opens a tsdb querier at that
 * resolution: rollups where raw data has aged out, then raw data, under
 * the raw series' labels. Which rollup stands for the raw samples depends
 * on the function reading them: max_over_time reads the window maxima,
 * min_over_time the minima, sum_over_time the sums (exact totals); every
 * other reader (instant selectors, rate, increase, avg_over_time,
 * count_over_time...) reads the last raw sample of each window, which is
 * what a scrape at that resolution would have seen.
 *
 * Threads: a series set is used by the one query thread that made it; the
 * tsdb querier is thread-safe otherwise. info() fills thread-local arrays:
 * a query runs on one thread, and info() is called once at its start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/promql.h"

struct tset {
    struct dw_promql_series_set base;
    struct dw_tsdb_querier *q;
    struct dw_tsdb_series_set *set;
    struct dw_tsdb_matcher **ms;
    size_t nms;
    char err[160];
};

static enum dw_match_op match_op(enum dw_promql_match_type t)
{
    switch (t) {
    case DW_PROMQL_MATCH_NEQ: return DW_MATCH_NEQ;
    case DW_PROMQL_MATCH_RE: return DW_MATCH_RE;
    case DW_PROMQL_MATCH_NRE: return DW_MATCH_NRE;
    default: return DW_MATCH_EQ;
    }
}

static bool t_next(struct dw_promql_series_set *ss)
{
    return dw_tsdb_series_set_next(((struct tset *)ss)->set);
}

static const struct dw_label *t_labels(struct dw_promql_series_set *ss, size_t *n)
{
    return dw_tsdb_series_labels(((struct tset *)ss)->set, n);
}

static bool t_sample_next(struct dw_promql_series_set *ss, int64_t *t, double *v)
{
    return dw_tsdb_iter_next(dw_tsdb_series_iter(((struct tset *)ss)->set), t, v);
}

static bool t_sample_seek(struct dw_promql_series_set *ss, int64_t t, int64_t *ts, double *v)
{
    return dw_tsdb_iter_seek(dw_tsdb_series_iter(((struct tset *)ss)->set), t, ts, v);
}

static const char *t_err(struct dw_promql_series_set *ss)
{
    struct tset *s = (struct tset *)ss;
    int rc = dw_tsdb_series_set_err(s->set);
    if (rc == 0)
        return NULL;
    snprintf(s->err, sizeof s->err, "tsdb: %s", dw_tsdb_strerror(rc));
    return s->err;
}

static void t_close(struct dw_promql_series_set *ss)
{
    struct tset *s = (struct tset *)ss;
    dw_tsdb_series_set_free(&s->set);
    dw_tsdb_querier_free(&s->q);
    for (size_t i = 0; i < s->nms; i++)
        dw_tsdb_matcher_free(&s->ms[i]);
    free(s->ms);
    free(s);
}

static const struct dw_promql_series_set_ops tset_ops = {
    t_next, t_labels, t_sample_next, t_sample_seek, t_err, t_close, NULL,
};

/* The rollup that stands for the raw samples a function reads (see DESIGN). */
static const char *rollup_for(const char *func)
{
    if (!func)
        return "last";
    if (strcmp(func, "max_over_time") == 0)
        return "max";
    if (strcmp(func, "min_over_time") == 0)
        return "min";
    if (strcmp(func, "sum_over_time") == 0)
        return "sum";
    return "last";
}

static int t_select(void *ctx, const struct dw_promql_matcher *matchers, size_t n,
                    const struct dw_promql_select_hints *hints, struct dw_promql_series_set **out,
                    char **err)
{
    struct tset *s = dw_calloc(1, sizeof *s);
    s->base.ops = &tset_ops;
    s->ms = dw_calloc(n ? n : 1, sizeof *s->ms);
    for (size_t i = 0; i < n; i++, s->nms++) {
        char *merr = NULL;
        s->ms[i] = dw_tsdb_matcher_new(match_op(matchers[i].type), matchers[i].name,
                                       matchers[i].value, &merr);
        if (!s->ms[i]) {
            *err = dw_asprintf("matcher %s: %s", matchers[i].name, merr ? merr : "invalid");
            free(merr);
            t_close(&s->base);
            return -1;
        }
    }
    struct dw_tsdb_read_opts ro = {0};
    if (hints->resolution_ms > 0) {
        ro.resolution_ms = hints->resolution_ms;
        ro.rollup = rollup_for(hints->func);
    }
    s->q = dw_tsdb_querier_new_opts(ctx, hints->start_ms, hints->end_ms, &ro);
    s->set = dw_tsdb_select(s->q, s->ms, s->nms);
    *out = &s->base;
    return 0;
}

static void t_info(void *ctx, struct dw_promql_storage_info *info)
{
    static const int64_t all[2] = {DW_TSDB_RES_5M, DW_TSDB_RES_1H};
    static _Thread_local int64_t res[2], res_min[2];
    struct dw_tsdb_coverage c;
    dw_tsdb_get_coverage(ctx, &c);
    const int64_t mins[2] = {c.res5m_mint, c.res1h_mint};
    size_t n = 0;
    for (size_t i = 0; i < 2; i++) {
        if (mins[i] == INT64_MAX)
            continue; /* no data at this resolution */
        res[n] = all[i];
        res_min[n++] = mins[i];
    }
    /* Without downsampled data nothing has aged out as far as the engine can tell. */
    info->raw_min_ms = n == 0 ? INT64_MIN : c.raw_mint;
    info->resolutions_ms = res;
    info->resolution_min_ms = res_min;
    info->nresolutions = n;
}

static const struct dw_promql_storage_ops tsdb_ops = {t_select, t_info};

void dw_promql_tsdb_storage(struct dw_promql_storage *st, struct dw_tsdb *db)
{
    st->ops = &tsdb_ops;
    st->ctx = db;
}
