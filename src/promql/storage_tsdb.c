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
 * Downsampled data: the tsdb's public querier reads raw data (head and raw
 * blocks) only, so this adapter reports no downsampled resolutions and the
 * engine never asks for one; when the tsdb exposes a querier per resolution
 * (its dw_tsdb_resolution_choose() already makes the choice), info() and
 * select() are where it plugs in. Threads: a series set is used by the one
 * query thread that made it; the tsdb querier is thread-safe otherwise.
 */
#include <stdio.h>
#include <stdlib.h>

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
    s->q = dw_tsdb_querier_new(ctx, hints->start_ms, hints->end_ms);
    s->set = dw_tsdb_select(s->q, s->ms, s->nms);
    *out = &s->base;
    return 0;
}

static const struct dw_promql_storage_ops tsdb_ops = {t_select, NULL};

void dw_promql_tsdb_storage(struct dw_promql_storage *st, struct dw_tsdb *db)
{
    st->ops = &tsdb_ops;
    st->ctx = db;
}
