/*
 * Unit tests of the database with its blocks: the head cut into a block
 * once it spans 1.5 block ranges (the manual clock), data read back the same
 * before and after the cut and after a restart, the WAL replaying only what
 * no block holds (also after a late cut, whose checkpoint spans more than
 * half a block range), a crash between writing a block and truncating the
 * WAL (the directory copied at that moment), a crash mid-write, truncation
 * deferred while a querier from before the cut is open, gaps in the head,
 * deferred loading, retention by whole blocks at 90 days, downsampled
 * rollups read through the querier, and appenders, queriers and maintenance
 * running in parallel (also under ThreadSanitizer).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "harness.h"
#include "testutil.h"
#include "testutil_tsdb.h"
#include "tsdb/block_internal.h"
#include "tsdb/tsdb.h"

#define MIN (60 * 1000LL)
#define H (60 * MIN)
#define DAY (24 * H)
#define T0 (INT64_C(1700000000000) / DAY * DAY) /* a day boundary: every range aligned */
#define STEP (30 * 1000LL)

/* ---- helpers ---- */

static void setup(int64_t now)
{
    dw_clock_set_manual(now);
    dw_log_set_level(DW_LOG_WARN);
}

static double val(int series, int64_t t)
{
    return (double)((t / 1000) % 100003) + series * 0.25;
}

/* Samples of series m{i="0"}..m{i="n-1"} at from, from + step, ... < to; one commit per time. */
static void put_range(struct dw_tsdb *db, int n, int64_t from, int64_t to, int64_t step)
{
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(db);
    for (int64_t t = from; t < to; t += step) {
        for (int i = 0; i < n; i++) {
            char v[16];
            snprintf(v, sizeof v, "%d", i);
            struct dw_label l[] = {{"__name__", "m"}, {"i", v}};
            ASSERT_EQ_INT(dw_tsdb_appender_add(a, l, 2, t, val(i, t), NULL), 0);
        }
        char *err = NULL;
        struct dw_tsdb_commit_result r;
        if (dw_tsdb_appender_commit(a, &r, &err) != 0)
            DW_FAIL_("commit: %s", err ? err : "?");
        if (r.appended != (size_t)n)
            DW_FAIL_("at %lld: %zu appended, %zu out of order, %zu out of bounds, %zu redundant",
                     (long long)(t - T0), r.appended, r.out_of_order, r.out_of_bounds, r.redundant);
    }
    dw_tsdb_appender_free(&a);
}

/*
 * Every series and sample a querier sees in [mint, maxt], as text; fails on
 * a duplicate or out-of-order timestamp. *count (may be NULL) gets the
 * number of samples.
 */
static char *dump_q(struct dw_tsdb_querier *q, size_t *count)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    struct dw_tsdb_series_set *s = dw_tsdb_select(q, NULL, 0);
    size_t total = 0;
    while (dw_tsdb_series_set_next(s)) {
        size_t n;
        const struct dw_label *l = dw_tsdb_series_labels(s, &n);
        dw_tsdb_labels_format(l, n, &b);
        dw_buf_putc(&b, ':');
        struct dw_tsdb_iter *it = dw_tsdb_series_iter(s);
        int64_t t, prev = INT64_MIN;
        double v;
        while (dw_tsdb_iter_next(it, &t, &v)) {
            if (t <= prev)
                DW_FAIL_("timestamp %lld after %lld", (long long)t, (long long)prev);
            prev = t;
            dw_buf_printf(&b, " %lld=%.17g", (long long)((t - T0) / 1000), v);
            total++;
        }
        ASSERT_EQ_INT(dw_tsdb_iter_err(it), 0);
        dw_buf_putc(&b, '\n');
    }
    ASSERT_EQ_INT(dw_tsdb_series_set_err(s), 0);
    dw_tsdb_series_set_free(&s);
    if (count)
        *count = total;
    return dw_buf_steal(&b);
}

static char *dump(struct dw_tsdb *db, int64_t mint, int64_t maxt, size_t *count)
{
    struct dw_tsdb_querier *q = dw_tsdb_querier_new(db, mint, maxt);
    char *out = dump_q(q, count);
    dw_tsdb_querier_free(&q);
    return out;
}

static struct dw_tsdb_maint_result maintain_ok(struct dw_tsdb *db, int64_t now)
{
    struct dw_tsdb_maint_result r;
    char *err = NULL;
    if (dw_tsdb_maintain(db, now, &r, &err) != 0)
        DW_FAIL_("maintain: %s", err ? err : "?");
    return r;
}

static struct dw_tsdb_stats stats(struct dw_tsdb *db)
{
    struct dw_tsdb_stats st;
    dw_tsdb_get_stats(db, &st);
    return st;
}

static size_t count_entries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += dw_str_has_prefix(e->d_name, prefix);
    if (d)
        closedir(d);
    return n;
}

static size_t count_blocks(const char *dir)
{
    char *p = dw_asprintf("%s/blocks", dir);
    DIR *d = opendir(p);
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += dw_tsdb_block_id_valid(e->d_name);
    if (d)
        closedir(d);
    free(p);
    return n;
}

/* 4 series every 30 s over [T0, T0 + 3 h]: the head spans exactly 1.5 ranges. */
static void three_hours(struct dw_tsdb *db)
{
    put_range(db, 4, T0, T0 + 3 * H + 1, STEP);
}

/* ---- the cut ---- */

TEST(cut_after_one_and_a_half_ranges_on_the_manual_clock)
{
    setup(T0 + 3 * H);
    char *dir = tmpdir_new();
    struct dw_tsdb *db = open_db(dir);
    put_range(db, 4, T0, T0 + 3 * H, STEP); /* spans 2 h 59 min 30 s: not yet */
    struct dw_tsdb_maint_result r = maintain_ok(db, dw_now_ms());
    ASSERT_EQ_UINT(r.blocks_cut, 0);
    ASSERT_FALSE(r.head_truncated);
    ASSERT_TRUE(r.blocks_maintained); /* the first round always looks at the blocks */
    ASSERT_EQ_UINT(stats(db).blocks_raw, 0);
    size_t n_before;
    char *before = dump(db, INT64_MIN, INT64_MAX, &n_before);

    put_range(db, 4, T0 + 3 * H, T0 + 3 * H + 1, STEP); /* now 3 h */
    dw_clock_advance(30 * 1000);
    free(before);
    before = dump(db, INT64_MIN, INT64_MAX, &n_before);
    ASSERT_EQ_UINT(n_before, 4 * 361);
    r = maintain_ok(db, dw_now_ms());
    ASSERT_EQ_UINT(r.blocks_cut, 1);
    ASSERT_EQ_UINT(r.samples_cut, 4 * 240);
    ASSERT_TRUE(r.head_truncated);
    ASSERT_FALSE(r.truncation_deferred);
    ASSERT_TRUE(r.blocks_maintained);

    struct dw_tsdb_stats st = stats(db);
    ASSERT_EQ_UINT(st.blocks_raw, 1);
    ASSERT_EQ_UINT(st.block_samples, 4 * 240);
    ASSERT_EQ_INT(st.persisted_until, T0 + 2 * H);
    ASSERT_EQ_UINT(st.samples, 4 * 121); /* exactly the rest: chunks end at the boundary */
    ASSERT_EQ_INT(st.min_time, T0 + 2 * H);
    ASSERT_EQ_UINT(st.blocks_cut, 1);
    ASSERT_EQ_INT(st.last_cut_ms, dw_now_ms());
    ASSERT_TRUE(st.block_bytes > 0);
    ASSERT_EQ_UINT(count_blocks(dir), 1);
    /* The WAL was replaced by a checkpoint of what the head still holds. */
    char *wal = dw_asprintf("%s/wal", dir);
    ASSERT_EQ_UINT(count_entries(wal, "checkpoint."), 1);
    ASSERT_FALSE(path_exists(wal, "00000001"));

    size_t n_after;
    char *after = dump(db, INT64_MIN, INT64_MAX, &n_after);
    ASSERT_EQ_STR(after, before);
    ASSERT_EQ_UINT(n_after, n_before);
    /* Partial ranges too: the boundary between block and head. */
    char *b1 = dump(db, T0 + 2 * H - MIN, T0 + 2 * H + MIN, &n_after);
    ASSERT_EQ_UINT(n_after, 4 * 5);
    free(b1);
    /* Nothing more is due until the head spans 1.5 ranges again. */
    r = maintain_ok(db, dw_now_ms());
    ASSERT_EQ_UINT(r.blocks_cut, 0);
    ASSERT_FALSE(r.blocks_maintained); /* the last round is less than 5 minutes old */
    /* Samples the block holds cannot come back into the head. */
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(db);
    struct dw_label l[] = {{"__name__", "m"}, {"i", "0"}};
    ASSERT_EQ_INT(dw_tsdb_appender_add(a, l, 2, T0 + 2 * H - 1, 1, NULL), 0);
    struct dw_tsdb_commit_result cr;
    ASSERT_EQ_INT(dw_tsdb_appender_commit(a, &cr, NULL), 0);
    ASSERT_EQ_UINT(cr.out_of_bounds, 1);
    dw_tsdb_appender_free(&a);

    free(before);
    free(after);
    free(wal);
    ASSERT_EQ_INT(dw_tsdb_close(&db), 0);
    rm_rf(dir);
    free(dir);
}

TEST(restart_after_a_cut_replays_only_the_remainder)
{
    setup(T0 + 3 * H);
    char *dir = tmpdir_new();
    struct dw_tsdb *db = open_db(dir);
    three_hours(db);
    ASSERT_EQ_UINT(maintain_ok(db, dw_now_ms()).blocks_cut, 1);
    size_t n;
    char *before = dump(db, INT64_MIN, INT64_MAX, &n);
    ASSERT_EQ_UINT(n, 4 * 361);
    ASSERT_EQ_INT(dw_tsdb_close(&db), 0);

    db = open_db(dir);
    struct dw_tsdb_stats st = stats(db);
    ASSERT_EQ_UINT(st.samples_appended, 4 * 121); /* the WAL held only the head's rest */
    ASSERT_EQ_UINT(st.samples, 4 * 121);
    ASSERT_EQ_UINT(st.blocks_raw, 1);
    ASSERT_EQ_INT(st.persisted_until, T0 + 2 * H);
    char *after = dump(db, INT64_MIN, INT64_MAX, &n);
    ASSERT_EQ_STR(after, before);
    ASSERT_EQ_UINT(n, 4 * 361);

    /* Ingestion goes on after the restart; the next cut follows on, no overlap. */
    dw_clock_set_manual(T0 + 5 * H);
    put_range(db, 4, T0 + 3 * H + STEP, T0 + 5 * H + 1, STEP);
    struct dw_tsdb_maint_result r = maintain_ok(db, dw_now_ms());
    ASSERT_EQ_UINT(r.blocks_cut, 1);
    ASSERT_EQ_UINT(r.samples_cut, 4 * 240);
    ASSERT_EQ_UINT(r.compactions, 0); /* adjacent, not overlapping; the 6 h window is open */
    ASSERT_EQ_UINT(stats(db).blocks_raw, 2);
    free(after);
    after = dump(db, INT64_MIN, INT64_MAX, &n);
    ASSERT_EQ_UINT(n, 4 * 601);
    ASSERT_EQ_INT(dw_tsdb_close(&db), 0);
    db = open_db(dir);
    free(before);
    before = dump(db, INT64_MIN, INT64_MAX, &n);
    ASSERT_EQ_STR(before, after);
    ASSERT_EQ_UINT(stats(db).samples_appended, 4 * 121);
    free(before);
    free(after);
    ASSERT_EQ_INT(dw_tsdb_close(&db), 0);
    rm_rf(dir);
    free(dir);
}

/*
 * Maintenance that runs late leaves more than half a block range in the head
 * after the cut. The checkpoint lists it series by series, so its replay
 * must not apply the window behind the newest sample (the first series'
 * newest sample would make the other series' older samples out of bounds).
 */
TEST(late_cut_then_restart_keeps_the_whole_head)
{
    setup(T0 + 4 * H);
    char *dir = tmpdir_new();
    struct dw_tsdb *db = open_db(dir);
    /* One sample a second: the checkpoint needs several records (8192 samples
       each), and a later record starts after the first series' newest sample. */
    put_range(db, 4, T0, T0 + 3 * H + 50 * MIN, 1000);
    ASSERT_EQ_UINT(maintain_ok(db, dw_now_ms()).blocks_cut, 1);
    size_t n;
    char *before = dump(db, INT64_MIN, INT64_MAX, &n);
    ASSERT_EQ_UINT(stats(db).samples, 4 * 6600); /* 1 h 50 min stay in the head */
    ASSERT_EQ_INT(dw_tsdb_close(&db), 0);
    db = open_db(dir);
    ASSERT_EQ_UINT(stats(db).samples, 4 * 6600);
    ASSERT_EQ_UINT(stats(db).samples_out_of_bounds, 0);
    char *after = dump(db, INT64_MIN, INT64_MAX, &n);
    ASSERT_EQ_STR(after, before);
    free(before);
    free(after);
    ASSERT_EQ_INT(dw_tsdb_close(&db), 0);
    rm_rf(dir);
    free(dir);
}

/*
 * A querier created before the cut keeps the head's range: the truncation
 * waits. The directory copied at that moment is what a kill -9 between
 * writing the block and truncating the WAL leaves behind.
 */
TEST(crash_between_block_write_and_wal_truncation)
{
    setup(T0 + 3 * H);
    char *dir = tmpdir_new();
    struct dw_tsdb *db = open_db(dir);
    three_hours(db);
    size_t n;
    char *all = dump(db, INT64_MIN, INT64_MAX, &n);
    struct dw_tsdb_querier *old = dw_tsdb_querier_new(db, INT64_MIN, INT64_MAX);
    struct dw_tsdb_maint_result r = maintain_ok(db, dw_now_ms());
    ASSERT_EQ_UINT(r.blocks_cut, 1);
    ASSERT_FALSE(r.head_truncated);
    ASSERT_TRUE(r.truncation_deferred);
    ASSERT_EQ_UINT(stats(db).samples, 4 * 361); /* the head still has everything */
    char *copy = dw_asprintf("%s-crash", dir);
    copy_tree(dir, copy);
    /* The old querier reads everything (the head), a new one the block plus the head. */
    char *seen = dump_q(old, &n);
    ASSERT_EQ_STR(seen, all);
    free(seen);
    seen = dump(db, INT64_MIN, INT64_MAX, &n);
    ASSERT_EQ_STR(seen, all);
    free(seen);
    r = maintain_ok(db, dw_now_ms());
    ASSERT_TRUE(r.truncation_deferred); /* still open */
    dw_tsdb_querier_free(&old);
    r = maintain_ok(db, dw_now_ms());
    ASSERT_TRUE(r.head_truncated);
    ASSERT_EQ_UINT(stats(db).samples, 4 * 121);
    seen = dump(db, INT64_MIN, INT64_MAX, &n);
    ASSERT_EQ_STR(seen, all);
    free(seen);

    /* The crash image, plus a block that was being written when it died. */
    char *tmpblock = dw_asprintf("%s/blocks/01JD3Q5W7R0000000000000000.tmp", copy);
    ASSERT_EQ_INT(mkdir(tmpblock, 0755), 0);
    ASSERT_TRUE(path_exists(tmpblock, "."));
    struct dw_tsdb *crashed = open_db(copy);
    struct dw_tsdb_stats st = stats(crashed);
    ASSERT_EQ_UINT(st.blocks_raw, 1);
    ASSERT_EQ_UINT(st.samples_appended, 4 * 121); /* the WAL's first 2 h were skipped */
    ASSERT_EQ_UINT(st.samples, 4 * 121);
    seen = dump(crashed, INT64_MIN, INT64_MAX, &n);
    ASSERT_EQ_STR(seen, all); /* no loss, no duplicate */
    ASSERT_EQ_UINT(n, 4 * 361);
    free(seen);
    ASSERT_FALSE(path_exists(tmpblock, "."));
    /* It goes on: maintenance truncates the WAL it inherited. */
    r = maintain_ok(crashed, dw_now_ms());
    ASSERT_EQ_UINT(r.blocks_cut, 0);
    ASSERT_EQ_INT(dw_tsdb_close(&crashed), 0);
    crashed = open_db(copy);
    seen = dump(crashed, INT64_MIN, INT64_MAX, &n);
    ASSERT_EQ_STR(seen, all);
    free(seen);
    ASSERT_EQ_INT(dw_tsdb_close(&crashed), 0);

    free(tmpblock);
    free(all);
    ASSERT_EQ_INT(dw_tsdb_close(&db), 0);
    rm_rf(copy);
    free(copy);
    rm_rf(dir);
    free(dir);
}

TEST(crash_while_writing_a_block_loses_nothing)
{
    setup(T0 + 3 * H);
    char *dir = tmpdir_new();
    struct dw_tsdb *db = open_db(dir);
    three_hours(db);
    size_t n;
    char *all = dump(db, INT64_MIN, INT64_MAX, &n);
    /* What a crash mid-write leaves: a temporary block directory, the whole WAL. */
    struct dw_tsdb_block_wopts wo;
    dw_tsdb_block_wopts_init(&wo, T0, T0 + 2 * H);
    struct dw_tsdb_block_writer *w = dw_tsdb_block_writer_new(dir, &wo, NULL);
    ASSERT_NOT_NULL(w);
    char *copy = dw_asprintf("%s-crash", dir);
    copy_tree(dir, copy);
    dw_tsdb_block_writer_abort(&w);
    /* the writer worked in dir itself: move its leftover where the blocks live */
    char *blocks = dw_asprintf("%s/blocks", copy);
    DIR *d = opendir(copy);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!dw_str_has_suffix(e->d_name, ".tmp"))
            continue;
        char *from = dw_asprintf("%s/%s", copy, e->d_name);
        char *to = dw_asprintf("%s/%s", blocks, e->d_name);
        ASSERT_EQ_INT(rename(from, to), 0);
        free(from);
        free(to);
    }
    closedir(d);
    ASSERT_EQ_INT(dw_tsdb_close(&db), 0);
    db = open_db(copy);
    ASSERT_EQ_UINT(count_entries(blocks, "0"), 0); /* the leftover is gone */
    char *seen = dump(db, INT64_MIN, INT64_MAX, &n);
    ASSERT_EQ_STR(seen, all);
    free(seen);
    ASSERT_EQ_UINT(maintain_ok(db, dw_now_ms()).blocks_cut, 1);
    seen = dump(db, INT64_MIN, INT64_MAX, &n);
    ASSERT_EQ_STR(seen, all);
    free(seen);
    free(all);
    free(blocks);
    ASSERT_EQ_INT(dw_tsdb_close(&db), 0);
    rm_rf(copy);
    free(copy);
    rm_rf(dir);
    free(dir);
}

TEST(gaps_in_the_head_are_skipped_and_flush_persists_the_rest)
{
    setup(T0 + 30 * DAY);
    char *dir = tmpdir_new();
    struct dw_tsdb *db = open_db(dir);
    put_range(db, 2, T0, T0 + H, STEP);                       /* an hour... */
    put_range(db, 2, T0 + 20 * DAY, T0 + 20 * DAY + H, STEP); /* ...then 20 days later */
    struct dw_tsdb_maint_result r = maintain_ok(db, dw_now_ms());
    ASSERT_EQ_UINT(r.blocks_cut, 1); /* the first hour; the next range is not complete */
    ASSERT_EQ_UINT(r.samples_cut, 2 * 120);
    ASSERT_TRUE(r.head_truncated);
    struct dw_tsdb_stats st = stats(db);
    ASSERT_EQ_INT(st.persisted_until, T0 + 2 * H);
    ASSERT_EQ_UINT(st.samples, 2 * 120);

    /* flush: everything up to the newest sample, which stays appendable after. */
    ASSERT_EQ_INT(dw_tsdb_flush_head(db, &r, NULL), 0);
    ASSERT_EQ_UINT(r.blocks_cut, 1);
    ASSERT_TRUE(r.head_truncated);
    st = stats(db);
    ASSERT_EQ_UINT(st.samples, 0);
    ASSERT_EQ_UINT(st.blocks_raw, 2);
    ASSERT_EQ_INT(st.persisted_until, T0 + 20 * DAY + H - STEP + 1);
    size_t n;
    char *all = dump(db, INT64_MIN, INT64_MAX, &n);
    ASSERT_EQ_UINT(n, 2 * 240);
    put_range(db, 2, T0 + 20 * DAY + H, T0 + 20 * DAY + H + 1, STEP);
    ASSERT_EQ_UINT(stats(db).samples, 2);
    free(all);
    ASSERT_EQ_INT(dw_tsdb_close(&db), 0);
    db = open_db(dir);
    all = dump(db, INT64_MIN, INT64_MAX, &n);
    ASSERT_EQ_UINT(n, 2 * 241);
    free(all);
    ASSERT_EQ_INT(dw_tsdb_close(&db), 0);
    rm_rf(dir);
    free(dir);
}

TEST(deferred_load_refuses_until_loaded)
{
    setup(T0 + 3 * H);
    char *dir = tmpdir_new();
    struct dw_tsdb *db = open_db(dir);
    three_hours(db);
    maintain_ok(db, dw_now_ms());
    ASSERT_EQ_INT(dw_tsdb_close(&db), 0);

    struct dw_tsdb_options o;
    opts_default(&o, dir);
    o.defer_load = true;
    db = open_db_opts(&o);
    ASSERT_FALSE(dw_tsdb_is_loaded(db));
    /* A second process cannot take the directory even before the load. */
    char *err = NULL;
    ASSERT_NULL(dw_tsdb_open(&o, &err));
    ASSERT_CONTAINS(err, "in use");
    free(err);
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(db);
    struct dw_label l[] = {{"__name__", "m"}, {"i", "9"}};
    ASSERT_EQ_INT(dw_tsdb_appender_add(a, l, 2, T0 + 3 * H, 1, NULL), 0);
    ASSERT_EQ_INT(dw_tsdb_appender_commit(a, NULL, &err), DW_TSDB_ELOADING);
    ASSERT_CONTAINS(err, "still loading");
    free(err);
    struct dw_tsdb_querier *q = dw_tsdb_querier_new(db, INT64_MIN, INT64_MAX);
    struct dw_tsdb_series_set *s = dw_tsdb_select(q, NULL, 0);
    ASSERT_FALSE(dw_tsdb_series_set_next(s));
    ASSERT_EQ_INT(dw_tsdb_series_set_err(s), DW_TSDB_ELOADING);
    dw_tsdb_series_set_free(&s);
    dw_tsdb_querier_free(&q);
    ASSERT_EQ_INT(dw_tsdb_maintain(db, dw_now_ms(), NULL, NULL), DW_TSDB_ELOADING);
    ASSERT_EQ_UINT(stats(db).blocks_raw, 0);

    ASSERT_EQ_INT(dw_tsdb_load(db, NULL), 0);
    ASSERT_TRUE(dw_tsdb_is_loaded(db));
    ASSERT_EQ_INT(dw_tsdb_load(db, NULL), 0); /* idempotent */
    ASSERT_EQ_UINT(stats(db).blocks_raw, 1);
    ASSERT_EQ_INT(dw_tsdb_appender_add(a, l, 2, T0 + 3 * H, 1, NULL), 0);
    ASSERT_EQ_INT(dw_tsdb_appender_commit(a, NULL, NULL), 0);
    dw_tsdb_appender_free(&a);
    size_t n;
    char *all = dump(db, INT64_MIN, INT64_MAX, &n);
    ASSERT_EQ_UINT(n, 4 * 361 + 1);
    free(all);
    ASSERT_EQ_INT(dw_tsdb_close(&db), 0);
    rm_rf(dir);
    free(dir);
}

/* ---- retention and downsampling ---- */

TEST(retention_removes_whole_blocks_at_90_days)
{
    setup(T0 + 8 * H);
    char *dir = tmpdir_new();
    struct dw_tsdb_options o;
    opts_default(&o, dir);
    o.maint_interval_ms = 1; /* every call looks at the blocks */
    struct dw_tsdb *db = open_db_opts(&o);
    put_range(db, 2, T0, T0 + 8 * H, STEP);
    ASSERT_EQ_INT(dw_tsdb_flush_head(db, NULL, NULL), 0); /* 2 h blocks up to 8 h */
    ASSERT_EQ_UINT(stats(db).blocks_raw, 4);
    /* The first round merges the complete 6 h window (a later block exists). */
    struct dw_tsdb_maint_result r = maintain_ok(db, T0 + 8 * H);
    ASSERT_TRUE(r.compactions >= 1);
    ASSERT_EQ_UINT(r.blocks_deleted, 0);
    ASSERT_EQ_UINT(stats(db).blocks_raw, 2);
    size_t n;
    char *all = dump(db, INT64_MIN, INT64_MAX, &n);
    ASSERT_EQ_UINT(n, 2 * 960);

    /* One millisecond before the 6 h block is 90 days old: nothing goes. */
    r = maintain_ok(db, T0 + 6 * H + 90 * DAY - 1);
    ASSERT_EQ_UINT(r.blocks_deleted, 0);
    ASSERT_TRUE(r.blocks_downsampled >= 1); /* old enough to be settled */
    struct dw_tsdb_stats st = stats(db);
    ASSERT_EQ_UINT(st.blocks_raw, 2);
    ASSERT_TRUE(st.blocks_5m >= 1 && st.blocks_1h >= 1);
    free(all);
    all = dump(db, T0, T0 + 6 * H - 1, &n);
    ASSERT_EQ_UINT(n, 2 * 720);
    free(all);

    /* At 90 days the whole 6 h block goes, not a sample of the newer one. */
    r = maintain_ok(db, T0 + 6 * H + 90 * DAY);
    ASSERT_EQ_UINT(r.blocks_deleted, 1);
    st = stats(db);
    ASSERT_EQ_UINT(st.blocks_raw, 1);
    ASSERT_EQ_UINT(st.blocks_deleted, 1);
    ASSERT_TRUE(st.blocks_5m >= 1); /* downsampled data is kept a year */
    all = dump(db, T0, T0 + 6 * H - 1, &n);
    ASSERT_EQ_UINT(n, 0);
    free(all);
    all = dump(db, INT64_MIN, INT64_MAX, &n);
    ASSERT_EQ_UINT(n, 2 * 240);
    free(all);
    /* After a restart the same. */
    ASSERT_EQ_INT(dw_tsdb_close(&db), 0);
    db = open_db_opts(&o);
    all = dump(db, INT64_MIN, INT64_MAX, &n);
    ASSERT_EQ_UINT(n, 2 * 240);
    free(all);
    ASSERT_EQ_INT(dw_tsdb_close(&db), 0);
    rm_rf(dir);
    free(dir);
}

/* v(i) for the i-th minute: not monotonic, so min, max, sum and last all differ. */
static double gauge(int64_t i)
{
    return (double)((i * 37) % 101);
}

TEST(downsampled_rollups_read_through_the_querier)
{
    setup(T0 + 2 * DAY);
    char *dir = tmpdir_new();
    struct dw_tsdb *db = open_db(dir);
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(db);
    struct dw_label l[] = {{"__name__", "g"}, {"host", "a"}};
    for (int64_t i = 0; i < 2 * 24 * 60; i++) { /* 2 days, one sample a minute */
        ASSERT_EQ_INT(dw_tsdb_appender_add(a, l, 2, T0 + i * MIN, gauge(i), NULL), 0);
        struct dw_tsdb_commit_result cr;
        ASSERT_EQ_INT(dw_tsdb_appender_commit(a, &cr, NULL), 0);
        ASSERT_EQ_UINT(cr.appended, 1);
    }
    dw_tsdb_appender_free(&a);
    ASSERT_EQ_INT(dw_tsdb_flush_head(db, NULL, NULL), 0);
    /* 100 days later: compacted, downsampled, the raw data past retention. */
    dw_clock_set_manual(T0 + 100 * DAY);
    maintain_ok(db, T0 + 100 * DAY);
    struct dw_tsdb_stats st = stats(db);
    ASSERT_EQ_UINT(st.blocks_raw, 0);
    ASSERT_TRUE(st.blocks_5m >= 1 && st.blocks_1h >= 1);
    struct dw_tsdb_coverage c;
    dw_tsdb_get_coverage(db, &c);
    ASSERT_EQ_INT(c.raw_mint, INT64_MAX);
    ASSERT_EQ_INT(c.res5m_mint, T0);
    ASSERT_EQ_INT(c.res1h_mint, T0);
    size_t n;
    char *raw = dump(db, INT64_MIN, INT64_MAX, &n);
    ASSERT_EQ_UINT(n, 0);
    free(raw);

    /* 5 m maxima under the raw labels, stamped with each window's last sample. */
    struct dw_tsdb_read_opts ro = {DW_TSDB_RES_5M, "max"};
    struct dw_tsdb_querier *q = dw_tsdb_querier_new_opts(db, T0, T0 + 2 * DAY, &ro);
    struct dw_tsdb_series_set *s = dw_tsdb_select(q, NULL, 0);
    ASSERT_TRUE(dw_tsdb_series_set_next(s));
    size_t nl;
    const struct dw_label *got = dw_tsdb_series_labels(s, &nl);
    ASSERT_EQ_UINT(nl, 2);
    ASSERT_EQ_STR(got[0].name, "__name__");
    ASSERT_EQ_STR(got[1].name, "host");
    struct dw_tsdb_iter *it = dw_tsdb_series_iter(s);
    int64_t t, k = 0;
    double v;
    while (dw_tsdb_iter_next(it, &t, &v)) {
        ASSERT_EQ_INT(t, T0 + (5 * k + 4) * MIN);
        double max = 0;
        for (int64_t i = 5 * k; i < 5 * k + 5; i++)
            max = gauge(i) > max ? gauge(i) : max;
        ASSERT_NEAR(v, max, 0);
        k++;
    }
    ASSERT_EQ_INT(k, 2 * 24 * 12);
    ASSERT_FALSE(dw_tsdb_series_set_next(s));
    dw_tsdb_series_set_free(&s);
    /* The rollup label is hidden: matching it as absent works, as present does not. */
    struct dw_tsdb_matcher *absent = dw_tsdb_matcher_new(DW_MATCH_EQ, "__rollup__", "", NULL);
    struct dw_tsdb_matcher *present = dw_tsdb_matcher_new(DW_MATCH_EQ, "__rollup__", "max", NULL);
    s = dw_tsdb_select(q, &absent, 1);
    ASSERT_TRUE(dw_tsdb_series_set_next(s));
    dw_tsdb_series_set_free(&s);
    s = dw_tsdb_select(q, &present, 1);
    ASSERT_FALSE(dw_tsdb_series_set_next(s));
    dw_tsdb_series_set_free(&s);
    size_t count;
    const char **names = dw_tsdb_label_names(q, NULL, 0, &count);
    ASSERT_EQ_UINT(count, 2);
    ASSERT_EQ_STR(names[0], "__name__");
    ASSERT_EQ_STR(names[1], "host");
    free(names);
    const char **vals = dw_tsdb_label_values(q, "__rollup__", NULL, 0, &count);
    ASSERT_EQ_UINT(count, 0);
    free(vals);
    dw_tsdb_matcher_free(&absent);
    dw_tsdb_matcher_free(&present);
    dw_tsdb_querier_free(&q);

    /* Raw data newer than the rollups follows them in the same series. */
    a = dw_tsdb_appender_new(db);
    ASSERT_EQ_INT(dw_tsdb_appender_add(a, l, 2, T0 + 100 * DAY, 7, NULL), 0);
    ASSERT_EQ_INT(dw_tsdb_appender_commit(a, NULL, NULL), 0);
    dw_tsdb_appender_free(&a);
    dw_tsdb_get_coverage(db, &c);
    ASSERT_EQ_INT(c.raw_mint, T0 + 100 * DAY);
    ro = (struct dw_tsdb_read_opts){DW_TSDB_RES_1H, "sum"};
    q = dw_tsdb_querier_new_opts(db, T0, T0 + 101 * DAY, &ro);
    s = dw_tsdb_select(q, NULL, 0);
    ASSERT_TRUE(dw_tsdb_series_set_next(s));
    it = dw_tsdb_series_iter(s);
    k = 0;
    double total = 0, want = 0;
    while (dw_tsdb_iter_next(it, &t, &v)) {
        total += v;
        k++;
    }
    for (int64_t i = 0; i < 2 * 24 * 60; i++)
        want += gauge(i);
    ASSERT_EQ_INT(k, 48 + 1);
    ASSERT_NEAR(total, want + 7, 0);
    ASSERT_EQ_INT(t, T0 + 100 * DAY);
    ASSERT_FALSE(dw_tsdb_series_set_next(s));
    dw_tsdb_series_set_free(&s);
    dw_tsdb_querier_free(&q);
    /* Bad options fail the selection, not the process. */
    ro = (struct dw_tsdb_read_opts){DW_TSDB_RES_5M, "median"};
    q = dw_tsdb_querier_new_opts(db, T0, T0 + DAY, &ro);
    s = dw_tsdb_select(q, NULL, 0);
    ASSERT_FALSE(dw_tsdb_series_set_next(s));
    ASSERT_EQ_INT(dw_tsdb_series_set_err(s), DW_TSDB_EINVAL);
    dw_tsdb_series_set_free(&s);
    dw_tsdb_querier_free(&q);
    ASSERT_EQ_INT(dw_tsdb_close(&db), 0);
    rm_rf(dir);
    free(dir);
}

/* ---- concurrency ---- */

#define CC_RANGE (60 * 1000LL) /* 1 min blocks: many cuts and compactions in a second */
#define CC_SERIES 8
#define CC_WRITERS 2
#define CC_SAMPLES 3000
#define CC_STEP 100

struct cc {
    struct dw_tsdb *db;
    _Atomic int64_t done[CC_WRITERS]; /* time of the last committed sample, per writer */
    atomic_bool stop;
    _Atomic int errors;
    _Atomic int reads, cuts;
};

static int64_t cc_t(int64_t k)
{
    return T0 + k * CC_STEP;
}

static void *cc_writer(void *p)
{
    struct cc *c = ((struct cc **)p)[0];
    int w = (int)(intptr_t)((void **)p)[1];
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(c->db);
    for (int64_t k = 0; k < CC_SAMPLES; k++) {
        /* Stay within 10 s of the other writer: the head refuses samples more
           than half a block range (30 s) older than its newest one. */
        while (atomic_load(&c->done[1 - w]) < cc_t(k) - 10000 &&
               atomic_load(&c->done[1 - w]) < cc_t(CC_SAMPLES - 1))
            sched_yield();
        for (int i = 0; i < CC_SERIES; i++) {
            char wv[8], iv[8];
            snprintf(wv, sizeof wv, "%d", w);
            snprintf(iv, sizeof iv, "%d", i);
            struct dw_label l[] = {{"__name__", "cc"}, {"i", iv}, {"w", wv}};
            dw_tsdb_appender_add(a, l, 3, cc_t(k), (double)k, NULL);
        }
        struct dw_tsdb_commit_result r;
        if (dw_tsdb_appender_commit(a, &r, NULL) != 0 || r.appended != CC_SERIES) {
            fprintf(stderr, "  commit %lld: appended %zu oob %zu ooo %zu\n", (long long)k,
                    r.appended, r.out_of_bounds, r.out_of_order);
            atomic_fetch_add(&c->errors, 1);
        }
        atomic_store(&c->done[w], cc_t(k));
    }
    dw_tsdb_appender_free(&a);
    return NULL;
}

/* Every sample committed before the querier was created is there, once. */
static void *cc_reader(void *p)
{
    struct cc *c = p;
    while (!atomic_load(&c->stop)) {
        int64_t upto[CC_WRITERS];
        for (int w = 0; w < CC_WRITERS; w++)
            upto[w] = atomic_load(&c->done[w]);
        struct dw_tsdb_querier *q = dw_tsdb_querier_new(c->db, INT64_MIN, INT64_MAX);
        struct dw_tsdb_series_set *s = dw_tsdb_select(q, NULL, 0);
        while (dw_tsdb_series_set_next(s)) {
            size_t n;
            const struct dw_label *l = dw_tsdb_series_labels(s, &n);
            int w = (int)strtol(dw_tsdb_labels_get(l, n, "w"), NULL, 10);
            struct dw_tsdb_iter *it = dw_tsdb_series_iter(s);
            int64_t t, expect = T0;
            double v;
            while (dw_tsdb_iter_next(it, &t, &v)) {
                if (t > upto[w] && t != expect)
                    break; /* newer than the snapshot: may be partial */
                if (t != expect || v != (double)((t - T0) / CC_STEP)) {
                    fprintf(stderr, "  read: w=%d t=%lld expected %lld upto %lld\n", w,
                            (long long)(t - T0), (long long)(expect - T0),
                            (long long)(upto[w] - T0));
                    atomic_fetch_add(&c->errors, 1);
                }
                expect = t + CC_STEP;
            }
            if (expect <= upto[w] || dw_tsdb_iter_err(it)) {
                fprintf(stderr, "  missing: w=%d from %lld upto %lld err %d\n", w,
                        (long long)(expect - T0), (long long)(upto[w] - T0), dw_tsdb_iter_err(it));
                atomic_fetch_add(&c->errors, 1); /* a committed sample is missing */
            }
        }
        if (dw_tsdb_series_set_err(s))
            atomic_fetch_add(&c->errors, 1);
        dw_tsdb_series_set_free(&s);
        dw_tsdb_querier_free(&q);
        atomic_fetch_add(&c->reads, 1);
    }
    return NULL;
}

static void *cc_maintainer(void *p)
{
    struct cc *c = p;
    while (!atomic_load(&c->stop)) {
        struct dw_tsdb_maint_result r;
        int64_t now = atomic_load(&c->done[0]) + DAY; /* lets downsampling settle blocks */
        char *err = NULL;
        if (dw_tsdb_maintain(c->db, now, &r, &err) != 0) {
            fprintf(stderr, "  maintain: %s\n", err ? err : "?");
            atomic_fetch_add(&c->errors, 1);
        }
        free(err);
        atomic_fetch_add(&c->cuts, (int)r.blocks_cut);
        sched_yield();
    }
    return NULL;
}

TEST(appenders_queries_and_maintenance_in_parallel)
{
    setup(T0);
    char *dir = tmpdir_new();
    struct dw_tsdb_options o;
    opts_default(&o, dir);
    o.block_range_ms = CC_RANGE;
    o.max_future_ms = -1;
    o.maint_interval_ms = 1;
    struct cc c = {.db = open_db_opts(&o)};
    for (int w = 0; w < CC_WRITERS; w++)
        atomic_init(&c.done[w], T0 - CC_STEP);
    pthread_t wt[CC_WRITERS], rt[2], mt;
    void *args[CC_WRITERS][2];
    for (int w = 0; w < CC_WRITERS; w++) {
        args[w][0] = &c;
        args[w][1] = (void *)(intptr_t)w;
        pthread_create(&wt[w], NULL, cc_writer, args[w]);
    }
    for (int i = 0; i < 2; i++)
        pthread_create(&rt[i], NULL, cc_reader, &c);
    pthread_create(&mt, NULL, cc_maintainer, &c);
    for (int w = 0; w < CC_WRITERS; w++)
        pthread_join(wt[w], NULL);
    /* Let readers and maintenance overlap a little longer with a still head. */
    while (atomic_load(&c.reads) < 4)
        sched_yield();
    atomic_store(&c.stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(rt[i], NULL);
    pthread_join(mt, NULL);
    ASSERT_EQ_INT(atomic_load(&c.errors), 0);
    ASSERT_TRUE(atomic_load(&c.cuts) > 0);
    maintain_ok(c.db, dw_now_ms());
    struct dw_tsdb_stats st = stats(c.db);
    ASSERT_TRUE(st.blocks_raw >= 1);
    ASSERT_TRUE(st.compactions >= 1);
    size_t n;
    char *all = dump(c.db, INT64_MIN, INT64_MAX, &n);
    ASSERT_EQ_UINT(n, (size_t)CC_WRITERS * CC_SERIES * CC_SAMPLES);
    ASSERT_EQ_INT(dw_tsdb_close(&c.db), 0);
    c.db = open_db_opts(&o);
    char *again = dump(c.db, INT64_MIN, INT64_MAX, &n);
    ASSERT_EQ_STR(again, all);
    free(again);
    free(all);
    ASSERT_EQ_INT(dw_tsdb_close(&c.db), 0);
    rm_rf(dir);
    free(dir);
}

/* ---- sets of label sets and the commit watch ---- */

TEST(label_set_sets)
{
    struct dw_lsset s = {0};
    char name[32];
    struct dw_label l[2] = {{"__name__", "up"}, {"job", name}};
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "j%d", i);
        dw_lsset_add(&s, l, 2);
        dw_lsset_add(&s, l, 2); /* once only */
    }
    ASSERT_EQ_UINT(s.n, 1000);
    snprintf(name, sizeof name, "j%d", 999);
    ASSERT_TRUE(dw_lsset_has(&s, l, 2));
    snprintf(name, sizeof name, "j%d", 1000);
    ASSERT_FALSE(dw_lsset_has(&s, l, 2));
    ASSERT_FALSE(dw_lsset_has(&s, l, 1));
    struct dw_lsset_iter it = {0};
    size_t n, count = 0;
    const struct dw_label *m;
    while ((m = dw_lsset_next(&s, &it, &n))) {
        ASSERT_EQ_UINT(n, 2);
        ASSERT_EQ_STR(m[0].value, "up");
        count++;
    }
    ASSERT_EQ_UINT(count, 1000);
    dw_lsset_release(&s);
    ASSERT_EQ_UINT(s.n, 0);
    ASSERT_FALSE(dw_lsset_has(&s, l, 2));
}

struct watch_log {
    int calls, filtered;
    char names[8][32];
    size_t n;
};

static bool watch_filter(void *ctx, const char *name)
{
    struct watch_log *w = ctx;
    w->filtered++;
    return strcmp(name, "cpu") == 0 || strcmp(name, "mem") == 0;
}

static void watch_fn(void *ctx, const char *const *names, size_t n)
{
    struct watch_log *w = ctx;
    w->calls++;
    w->n = n;
    for (size_t i = 0; i < n && i < 8; i++)
        snprintf(w->names[i], sizeof w->names[i], "%s", names[i]);
}

TEST(commit_watch_reports_watched_names_once_per_commit)
{
    char *dir = tmpdir_new();
    struct dw_tsdb *db = open_db(dir);
    struct watch_log w = {0};
    dw_tsdb_set_watch(db, watch_filter, watch_fn, &w);
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(db);
    const char *hosts[] = {"a", "b", "c"};
    for (int t = 1; t <= 2; t++) {
        for (int i = 0; i < 3; i++) {
            struct dw_label cpu[2] = {{"__name__", "cpu"}, {"host", hosts[i]}};
            struct dw_label disk[2] = {{"__name__", "disk"}, {"host", hosts[i]}};
            ASSERT_EQ_INT(dw_tsdb_appender_add(a, cpu, 2, t * 1000, 1, NULL), 0);
            ASSERT_EQ_INT(dw_tsdb_appender_add(a, disk, 2, t * 1000, 1, NULL), 0);
        }
        ASSERT_EQ_INT(dw_tsdb_appender_commit(a, NULL, NULL), 0);
    }
    ASSERT_EQ_INT(w.calls, 2);
    ASSERT_EQ_UINT(w.n, 1);
    ASSERT_EQ_STR(w.names[0], "cpu");
    ASSERT_EQ_INT(w.filtered, 6); /* once per series, not per sample */
    /* Only unwatched names: no call. */
    struct dw_label disk[2] = {{"__name__", "disk"}, {"host", "a"}};
    dw_tsdb_appender_add(a, disk, 2, 3000, 2, NULL);
    ASSERT_EQ_INT(dw_tsdb_appender_commit(a, NULL, NULL), 0);
    ASSERT_EQ_INT(w.calls, 2);
    /* A reset asks the filter again. */
    dw_tsdb_watch_reset(db);
    dw_tsdb_appender_add(a, disk, 2, 4000, 2, NULL);
    ASSERT_EQ_INT(dw_tsdb_appender_commit(a, NULL, NULL), 0);
    ASSERT_EQ_INT(w.filtered, 7);
    dw_tsdb_appender_free(&a);
    dw_tsdb_close(&db);
    rm_rf(dir);
    free(dir);
}

TEST_MAIN()
