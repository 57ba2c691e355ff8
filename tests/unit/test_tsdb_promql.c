/*
 * End to end: PromQL over the real tsdb once raw data has aged out. Two days
 * of a gauge are written through the head, persisted as blocks, and 100 days
 * later (manual clock) compaction, downsampling and retention leave only the
 * 5 m and 1 h rollups. Coarse-step queries through dw_promql_tsdb_storage
 * must then read the rollups, with the value each function needs (max for
 * max_over_time, sum for sum_over_time, the last sample otherwise), checked
 * against brute force over the raw samples; fine steps read nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "harness.h"
#include "promql/promql.h"
#include "testutil.h"
#include "tsdb/tsdb.h"

#define MIN (60 * 1000LL)
#define H (60 * MIN)
#define DAY (24 * H)
#define T0 (INT64_C(1700000000000) / DAY * DAY)
#define MINUTES (2 * 24 * 60)

/* The raw value of minute i: not monotonic, so max, sum and last all differ. */
static double gauge(int64_t i)
{
    return (double)((i * 37) % 101);
}

static struct dw_tsdb *build(const char *dir)
{
    struct dw_tsdb_options o;
    dw_tsdb_options_init(&o);
    o.dir = dir;
    o.wal.no_thread = true;
    o.wal.fsync = DW_TSDB_FSYNC_NEVER;
    char *err = NULL;
    struct dw_tsdb *db = dw_tsdb_open(&o, &err);
    if (!db)
        DW_FAIL_("open: %s", err);
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(db);
    struct dw_label l[] = {{"__name__", "temp"}, {"room", "a"}};
    for (int64_t i = 0; i < MINUTES; i++) {
        ASSERT_EQ_INT(dw_tsdb_appender_add(a, l, 2, T0 + i * MIN, gauge(i), NULL), 0);
        struct dw_tsdb_commit_result r;
        ASSERT_EQ_INT(dw_tsdb_appender_commit(a, &r, NULL), 0);
        ASSERT_EQ_UINT(r.appended, 1);
    }
    dw_tsdb_appender_free(&a);
    ASSERT_EQ_INT(dw_tsdb_flush_head(db, NULL, NULL), 0);
    dw_clock_set_manual(T0 + 100 * DAY);
    struct dw_tsdb_maint_result r;
    ASSERT_EQ_INT(dw_tsdb_maintain(db, dw_now_ms(), &r, NULL), 0);
    ASSERT_TRUE(r.blocks_downsampled >= 1);
    ASSERT_TRUE(r.blocks_deleted >= 1);
    struct dw_tsdb_stats st;
    dw_tsdb_get_stats(db, &st);
    ASSERT_EQ_UINT(st.blocks_raw, 0); /* only rollups are left */
    return db;
}

static struct dw_promql_result *range_query(const struct dw_promql_storage *st, const char *q,
                                            int64_t start, int64_t end, int64_t step)
{
    struct dw_promql_expr *e = NULL;
    struct dw_promql_error perr = {0};
    if (dw_promql_parse(q, strlen(q), NULL, &e, &perr) < 0)
        DW_FAIL_("parse %s: %s", q, perr.msg);
    struct dw_promql_result *r = NULL;
    char *err = NULL;
    if (dw_promql_eval_range(st, e, start, end, step, NULL, &r, &err) != 0)
        DW_FAIL_("eval %s: %s", q, err ? err : "?");
    dw_promql_free(&e);
    return r;
}

static bool has_warning(const struct dw_promql_result *r, const char *needle)
{
    for (size_t i = 0; i < r->nwarnings; i++)
        if (strstr(r->warnings[i], needle))
            return true;
    return false;
}

/* Raw samples of minutes [from, to) folded with op: 'M' max, 'S' sum. */
static double fold(int64_t from, int64_t to, char op)
{
    double acc = op == 'M' ? -1 : 0;
    for (int64_t i = from; i < to; i++)
        acc = op == 'M' ? (gauge(i) > acc ? gauge(i) : acc) : acc + gauge(i);
    return acc;
}

TEST(coarse_steps_read_rollups_where_raw_data_aged_out)
{
    dw_clock_set_manual(T0 + 2 * DAY);
    dw_log_set_level(DW_LOG_WARN);
    char *dir = tmpdir_new();
    struct dw_tsdb *db = build(dir);
    struct dw_promql_storage st;
    dw_promql_tsdb_storage(&st, db);
    int64_t start = T0 + 2 * H, end = T0 + 2 * DAY - H;

    /* max_over_time reads the 5 m maxima: the max of the raw samples of the hour. */
    struct dw_promql_result *r = range_query(&st, "max_over_time(temp[1h])", start, end, H);
    ASSERT_EQ_UINT(r->nseries, 1);
    ASSERT_TRUE(has_warning(r, "downsampled to 5m"));
    ASSERT_EQ_UINT(r->series[0].npoints, (size_t)((end - start) / H + 1));
    for (size_t i = 0; i < r->series[0].npoints; i++) {
        int64_t t = r->series[0].points[i].t, m = (t - T0) / MIN;
        ASSERT_NEAR(r->series[0].points[i].v, fold(m - 60, m, 'M'), 0);
    }
    dw_promql_result_free(&r);

    /* sum_over_time reads the 5 m sums: exact totals of the raw samples. */
    r = range_query(&st, "sum_over_time(temp[1h])", start, end, H);
    ASSERT_EQ_UINT(r->nseries, 1);
    for (size_t i = 0; i < r->series[0].npoints; i++) {
        int64_t m = (r->series[0].points[i].t - T0) / MIN;
        ASSERT_NEAR(r->series[0].points[i].v, fold(m - 60, m, 'S'), 0);
    }
    dw_promql_result_free(&r);

    /* A plain selector reads the last raw sample of each window. */
    r = range_query(&st, "temp", start, end, H);
    ASSERT_EQ_UINT(r->nseries, 1);
    ASSERT_EQ_UINT(r->series[0].nlabels, 2);
    ASSERT_EQ_STR(r->series[0].labels[1].name, "room"); /* no __rollup__ label */
    for (size_t i = 0; i < r->series[0].npoints; i++) {
        int64_t m = (r->series[0].points[i].t - T0) / MIN;
        ASSERT_NEAR(r->series[0].points[i].v, gauge(m - 1), 0);
    }
    dw_promql_result_free(&r);

    /* A 1-day step over the 2 days: 1 h rollups would do too; 5 m is finer. */
    r = range_query(&st, "max_over_time(temp[1d])", T0 + DAY, T0 + 2 * DAY, DAY);
    ASSERT_EQ_UINT(r->nseries, 1);
    ASSERT_EQ_UINT(r->series[0].npoints, 2);
    ASSERT_NEAR(r->series[0].points[0].v, fold(0, 24 * 60, 'M'), 0);
    dw_promql_result_free(&r);

    /* A fine step never reads rollups: the raw data is gone. */
    r = range_query(&st, "temp", start, start + 10 * MIN, MIN);
    ASSERT_EQ_UINT(r->nseries, 0);
    dw_promql_result_free(&r);

    ASSERT_EQ_INT(dw_tsdb_close(&db), 0);
    dw_clock_set_real();
    rm_rf(dir);
    free(dir);
}

TEST(raw_data_wins_where_it_exists)
{
    dw_clock_set_manual(T0 + 2 * DAY);
    dw_log_set_level(DW_LOG_WARN);
    char *dir = tmpdir_new();
    struct dw_tsdb *db = build(dir);
    /* Fresh raw data at 100 days: the same series continues from the rollups. */
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(db);
    struct dw_label l[] = {{"__name__", "temp"}, {"room", "a"}};
    for (int64_t i = 0; i < 60; i++) {
        ASSERT_EQ_INT(dw_tsdb_appender_add(a, l, 2, T0 + 100 * DAY - H + i * MIN, 1000 + i, NULL),
                      0);
        ASSERT_EQ_INT(dw_tsdb_appender_commit(a, NULL, NULL), 0);
    }
    dw_tsdb_appender_free(&a);
    struct dw_promql_storage st;
    dw_promql_tsdb_storage(&st, db);
    /* Over the whole span at a 1 h step: rollups first, then raw samples. */
    struct dw_promql_result *r =
        range_query(&st, "max_over_time(temp[1h])", T0 + H, T0 + 100 * DAY, H);
    ASSERT_EQ_UINT(r->nseries, 1);
    ASSERT_TRUE(has_warning(r, "downsampled"));
    const struct dw_promql_series *s = &r->series[0];
    ASSERT_EQ_INT(s->points[0].t, T0 + H);
    ASSERT_NEAR(s->points[0].v, fold(0, 60, 'M'), 0);
    ASSERT_EQ_INT(s->points[s->npoints - 1].t, T0 + 100 * DAY);
    ASSERT_NEAR(s->points[s->npoints - 1].v, 1059, 0);
    dw_promql_result_free(&r);
    /* A recent range is raw whatever the step: no warning. */
    r = range_query(&st, "temp", T0 + 100 * DAY - 30 * MIN, T0 + 100 * DAY, 10 * MIN);
    ASSERT_EQ_UINT(r->nseries, 1);
    ASSERT_FALSE(has_warning(r, "downsampled"));
    ASSERT_NEAR(r->series[0].points[0].v, 1030, 0);
    dw_promql_result_free(&r);
    ASSERT_EQ_INT(dw_tsdb_close(&db), 0);
    dw_clock_set_real();
    rm_rf(dir);
    free(dir);
}

TEST_MAIN()
