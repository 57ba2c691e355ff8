/*
 * Helpers shared by the tsdb unit tests: opening a database in a test
 * directory with a synchronous, thread-less WAL (the test drives flushes).
 */
#ifndef DW_TESTUTIL_TSDB_H
#define DW_TESTUTIL_TSDB_H

#include "harness.h"
#include "tsdb/tsdb.h"

/* The defaults, in dir, with the WAL left to the test (no fsync, no thread). */
static inline void opts_default(struct dw_tsdb_options *o, const char *dir)
{
    dw_tsdb_options_init(o);
    o->dir = dir;
    o->wal.fsync = DW_TSDB_FSYNC_NEVER;
    o->wal.no_thread = true;
}

/* Opens with o or fails the test with the reason. */
static inline struct dw_tsdb *open_db_opts(const struct dw_tsdb_options *o)
{
    char *err = NULL;
    struct dw_tsdb *db = dw_tsdb_open(o, &err);
    if (!db)
        DW_FAIL_("dw_tsdb_open: %s", err ? err : "?");
    return db;
}

static inline struct dw_tsdb *open_db(const char *dir)
{
    struct dw_tsdb_options o;
    opts_default(&o, dir);
    return open_db_opts(&o);
}

/* Every sample of the series named `name`, as "labels=value@t" lines (STALE for markers). */
static inline char *tsdb_dump(struct dw_tsdb *db, const char *name)
{
    struct dw_tsdb_querier *q = dw_tsdb_querier_new(db, 0, INT64_MAX);
    struct dw_tsdb_matcher *m = dw_tsdb_matcher_new(DW_MATCH_EQ, "__name__", name, NULL);
    struct dw_tsdb_series_set *ss = dw_tsdb_select(q, &m, 1);
    struct dw_buf b;
    dw_buf_init(&b, 0);
    while (dw_tsdb_series_set_next(ss)) {
        size_t n;
        const struct dw_label *l = dw_tsdb_series_labels(ss, &n);
        struct dw_tsdb_iter *it = dw_tsdb_series_iter(ss);
        int64_t t;
        double v;
        while (dw_tsdb_iter_next(it, &t, &v)) {
            dw_tsdb_labels_format(l, n, &b);
            if (dw_tsdb_is_stale(v))
                dw_buf_printf(&b, "=STALE@%lld\n", (long long)t);
            else
                dw_buf_printf(&b, "=%g@%lld\n", v, (long long)t);
        }
    }
    dw_tsdb_series_set_free(&ss);
    dw_tsdb_matcher_free(&m);
    dw_tsdb_querier_free(&q);
    char *s = dw_buf_steal(&b);
    return s;
}

#endif
