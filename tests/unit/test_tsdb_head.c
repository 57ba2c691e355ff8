/*
 * Unit tests of the tsdb head: series index and matcher selection (against
 * brute force on random data), appends and their rejection counters,
 * staleness markers, every limit, WAL replay after a clean close, after a
 * simulated crash and after a real SIGKILL, truncation with checkpoints,
 * the block writer's cut hook, concurrent appenders and readers, label
 * listing, range trimming and merging with a second series source.
 *
 * Time is the manual test clock (dw_clock_set_manual) except in the crash
 * test's child. Random inputs come from a fixed-seed PRNG so failures
 * reproduce; sizes keep the program to a few seconds under ASan and TSan.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"
#include "harness.h"
#include "testutil.h"
#include "testutil_tsdb.h"
#include "tsdb/head_internal.h"
#include "tsdb/tsdb.h"

#define T0 INT64_C(1700000000000) /* the manual clock's start; samples are around it */
#define MIN_MS INT64_C(60000)
#define HOUR_MS (60 * MIN_MS)

/* ---- helpers ---- */

static void setup(void)
{
    dw_clock_set_manual(T0);
    dw_log_set_level(DW_LOG_WARN);
}

/*
 * A series written as "metric,name=value,name=value". Parsed into static
 * storage: valid until the next call.
 */
struct lset {
    struct dw_label l[16];
    size_t n;
    char buf[512];
};

static void lset_parse(struct lset *ls, const char *spec)
{
    dw_strlcpy(ls->buf, spec, sizeof ls->buf);
    ls->n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(ls->buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq && ls->n == 0) {
            ls->l[ls->n++] = (struct dw_label){DW_TSDB_METRIC_NAME, tok};
            continue;
        }
        if (!eq)
            DW_FAIL_("bad series spec %s", spec);
        *eq = 0;
        ls->l[ls->n++] = (struct dw_label){tok, eq + 1};
    }
}

static int add(struct dw_tsdb_appender *a, const char *spec, int64_t t, double v)
{
    struct lset ls;
    lset_parse(&ls, spec);
    return dw_tsdb_appender_add(a, ls.l, ls.n, t, v, NULL);
}

static void commit_ok(struct dw_tsdb_appender *a, struct dw_tsdb_commit_result *res)
{
    char *err = NULL;
    int rc = dw_tsdb_appender_commit(a, res, &err);
    if (rc != 0)
        DW_FAIL_("commit: %d %s", rc, err ? err : "");
}

/* Appends one sample and commits it; returns the commit result. */
static struct dw_tsdb_commit_result put1(struct dw_tsdb *db, const char *spec, int64_t t, double v)
{
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(db);
    ASSERT_EQ_INT(add(a, spec, t, v), 0);
    struct dw_tsdb_commit_result res;
    commit_ok(a, &res);
    dw_tsdb_appender_free(&a);
    return res;
}

/* Matchers from strings like "job=~a.*"; freed by free_matchers. */
static size_t parse_matchers(const char *const *specs, size_t n, struct dw_tsdb_matcher **out)
{
    for (size_t i = 0; i < n; i++) {
        const char *s = specs[i];
        const char *ops[] = {"=~", "!~", "!=", "="};
        enum dw_match_op codes[] = {DW_MATCH_RE, DW_MATCH_NRE, DW_MATCH_NEQ, DW_MATCH_EQ};
        const char *at = NULL;
        size_t k;
        for (k = 0; k < 4 && !at; k++)
            at = strstr(s, ops[k]);
        k--;
        if (!at)
            DW_FAIL_("bad matcher %s", s);
        char *name = dw_strndup(s, (size_t)(at - s));
        char *err = NULL;
        out[i] = dw_tsdb_matcher_new(codes[k], name, at + strlen(ops[k]), &err);
        free(name);
        if (!out[i])
            DW_FAIL_("matcher %s: %s", s, err ? err : "?");
    }
    return n;
}

static void free_matchers(struct dw_tsdb_matcher **ms, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dw_tsdb_matcher_free(&ms[i]);
}

/* Every series and sample a select returns, one line per series: "labels: t=v t=v". */
static char *dump_select(struct dw_tsdb *db, int64_t mint, int64_t maxt, const char *const *specs,
                         size_t n)
{
    struct dw_tsdb_matcher *ms[16];
    parse_matchers(specs, n, ms);
    struct dw_tsdb_querier *q = dw_tsdb_querier_new(db, mint, maxt);
    struct dw_tsdb_series_set *set = dw_tsdb_select(q, ms, n);
    struct dw_buf out;
    dw_buf_init(&out, 0);
    while (dw_tsdb_series_set_next(set)) {
        size_t nl;
        const struct dw_label *l = dw_tsdb_series_labels(set, &nl);
        dw_tsdb_labels_format(l, nl, &out);
        dw_buf_putc(&out, ':');
        struct dw_tsdb_iter *it = dw_tsdb_series_iter(set);
        int64_t t;
        double v;
        while (dw_tsdb_iter_next(it, &t, &v))
            dw_buf_printf(&out, " %lld=%g", (long long)(t - T0), v);
        dw_buf_putc(&out, '\n');
    }
    dw_tsdb_series_set_free(&set);
    dw_tsdb_querier_free(&q);
    free_matchers(ms, n);
    return dw_buf_steal(&out);
}

/* Just the series of a select, formatted and joined by spaces. */
static char *select_series(struct dw_tsdb *db, const char *const *specs, size_t n)
{
    struct dw_tsdb_matcher *ms[16];
    parse_matchers(specs, n, ms);
    struct dw_tsdb_querier *q = dw_tsdb_querier_new(db, INT64_MIN, INT64_MAX);
    struct dw_tsdb_series_set *set = dw_tsdb_select(q, ms, n);
    struct dw_buf out;
    dw_buf_init(&out, 0);
    while (dw_tsdb_series_set_next(set)) {
        size_t nl;
        const struct dw_label *l = dw_tsdb_series_labels(set, &nl);
        if (out.len)
            dw_buf_putc(&out, ' ');
        dw_tsdb_labels_format(l, nl, &out);
    }
    dw_tsdb_series_set_free(&set);
    dw_tsdb_querier_free(&q);
    free_matchers(ms, n);
    return dw_buf_steal(&out);
}

#define SEL(db, ...)                                                                               \
    select_series(db, (const char *const[]){__VA_ARGS__},                                          \
                  sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static void assert_select(struct dw_tsdb *db, const char *want, const char *const *specs, size_t n)
{
    char *got = select_series(db, specs, n);
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "  select %s...: got \"%s\", want \"%s\"\n", n ? specs[0] : "", got, want);
        free(got);
        DW_FAIL_("select mismatch");
    }
    free(got);
}

#define ASSERT_SELECT(db, want, ...)                                                               \
    assert_select(db, want, (const char *const[]){__VA_ARGS__},                                    \
                  sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static char *join_strings(const char **v, size_t n)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    for (size_t i = 0; i < n; i++) {
        if (i)
            dw_buf_putc(&b, ',');
        dw_buf_puts(&b, v[i]);
    }
    return dw_buf_steal(&b);
}

/* ---- id lists: galloping intersection and subtraction vs brute force ---- */

static void random_sorted(struct dw_idlist *l, size_t n, uint32_t range)
{
    l->n = 0;
    for (size_t i = 0; i < n; i++)
        dw_idlist_push(l, (uint32_t)rnd_below(range));
    dw_idlist_sort(l);
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++)
        if (k == 0 || l->ids[k - 1] != l->ids[i])
            l->ids[k++] = l->ids[i];
    l->n = k;
}

static bool contains(const struct dw_idlist *l, uint32_t x)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->ids[i] == x)
            return true;
    return false;
}

TEST(idlist_ops_match_brute_force)
{
    rng_seed(7);
    struct dw_idlist a = {0}, b = {0}, r = {0};
    for (int round = 0; round < 300; round++) {
        size_t na = rnd_below(300), nb = rnd_below(round % 3 ? 20 : 3000);
        uint32_t range = (uint32_t)(1 + rnd_below(5000));
        random_sorted(&a, na, range);
        random_sorted(&b, nb, range);
        for (int op = 0; op < 2; op++) {
            r.n = 0;
            for (size_t i = 0; i < a.n; i++)
                dw_idlist_push(&r, a.ids[i]);
            if (op == 0)
                dw_idlist_intersect(&r, b.ids, b.n);
            else
                dw_idlist_subtract(&r, b.ids, b.n);
            size_t want = 0;
            for (size_t i = 0; i < a.n; i++) {
                bool in = contains(&b, a.ids[i]);
                if (in == (op == 0)) {
                    ASSERT_TRUE(want < r.n);
                    ASSERT_EQ_UINT(r.ids[want], a.ids[i]);
                    want++;
                }
            }
            ASSERT_EQ_UINT(r.n, want);
        }
    }
    /* The radix sort path (>= 256 ids) against a simple check. */
    random_sorted(&a, 20000, UINT32_MAX);
    for (size_t i = 1; i < a.n; i++)
        ASSERT_TRUE(a.ids[i - 1] < a.ids[i]);
    ASSERT_TRUE(a.n > 19000);
    dw_idlist_release(&a);
    dw_idlist_release(&b);
    dw_idlist_release(&r);
}

/* ---- selection ---- */

static struct dw_tsdb *index_fixture(const char *dir)
{
    struct dw_tsdb *db = open_db(dir);
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(db);
    const char *series[] = {"up,job=api,instance=a",
                            "up,job=api,instance=b",
                            "up,job=db",
                            "http_requests_total,job=api,code=200",
                            "http_requests_total,job=api,code=500",
                            "node_load1"};
    for (size_t i = 0; i < DW_ARRAY_LEN(series); i++)
        ASSERT_EQ_INT(add(a, series[i], T0, (double)i), 0);
    struct dw_tsdb_commit_result res;
    commit_ok(a, &res);
    ASSERT_EQ_UINT(res.new_series, 6);
    ASSERT_EQ_UINT(res.appended, 6);
    dw_tsdb_appender_free(&a);
    return db;
}

#define UP_A "up{instance=\"a\", job=\"api\"}"
#define UP_B "up{instance=\"b\", job=\"api\"}"
#define UP_DB "up{job=\"db\"}"
#define H200 "http_requests_total{code=\"200\", job=\"api\"}"
#define H500 "http_requests_total{code=\"500\", job=\"api\"}"
#define LOAD "node_load1{}"

TEST(select_matcher_ops_and_empty_values)
{
    setup();
    char *dir = tmpdir_new();
    struct dw_tsdb *db = index_fixture(dir);
    ASSERT_SELECT(db, UP_A " " UP_B " " UP_DB, "__name__=up");
    /* {a=""} selects series without the label; {a!=""} those with it. */
    ASSERT_SELECT(db, UP_DB, "__name__=up", "instance=");
    ASSERT_SELECT(db, UP_A " " UP_B, "instance!=");
    /* != also matches series that lack the label entirely. */
    ASSERT_SELECT(db, LOAD " " UP_DB, "job!=api");
    ASSERT_SELECT(db, H200 " " H500 " " UP_A " " UP_B, "job=~a.*");
    ASSERT_SELECT(db, UP_DB, "job=~d[b]");
    ASSERT_SELECT(db, "", "job=~b"); /* anchored: "db" does not match "b" */
    /* A regex that matches "" also selects series without the label. */
    ASSERT_SELECT(db, H500 " " LOAD " " UP_A " " UP_B " " UP_DB, "code=~5..|");
    ASSERT_SELECT(db, H500 " " LOAD " " UP_A " " UP_B " " UP_DB, "code!~2..");
    ASSERT_SELECT(db, LOAD, "job=~");
    ASSERT_SELECT(db, H200 " " H500 " " LOAD " " UP_A " " UP_DB, "instance=~a|");
    ASSERT_SELECT(db, H200 " " H500, "job=~api|db", "__name__!=up");
    ASSERT_SELECT(db, H200 " " H500 " " LOAD " " UP_A " " UP_B " " UP_DB, "__name__=~.+");
    ASSERT_SELECT(db, H200 " " H500 " " LOAD " " UP_A " " UP_B " " UP_DB, "job=~.*");
    ASSERT_SELECT(db, "", "job!~.*");
    ASSERT_SELECT(db, "", "foo=bar");
    ASSERT_SELECT(db, H200 " " H500 " " LOAD " " UP_A " " UP_B " " UP_DB, "foo=");
    ASSERT_SELECT(db, H200 " " H500 " " LOAD " " UP_A " " UP_B " " UP_DB, "foo!=bar");
    /* Non-literal regex after a selective literal: evaluated per candidate series. */
    ASSERT_SELECT(db, UP_B, "__name__=up", "instance=~.*b");
    ASSERT_SELECT(db, UP_A " " UP_DB, "__name__=up", "instance!~[b-z]+");
    char *all = select_series(db, NULL, 0);
    ASSERT_EQ_STR(all, H200 " " H500 " " LOAD " " UP_A " " UP_B " " UP_DB);
    free(all);
    ASSERT_EQ_INT(dw_tsdb_num_series(db), 6);
    dw_tsdb_close(&db);
    rm_rf(dir);
    free(dir);
}

/* Random series and matchers: the index must agree with evaluating every series. */
struct rseries {
    struct dw_label l[6];
    size_t n;
    char *fmt;
};

static bool brute_match(const struct rseries *s, struct dw_tsdb_matcher *const *ms, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = dw_tsdb_labels_get(s->l, s->n, dw_tsdb_matcher_name(ms[i]));
        if (!dw_tsdb_matcher_matches(ms[i], v ? v : ""))
            return false;
    }
    return true;
}

static int cmp_rseries(const void *a, const void *b)
{
    const struct rseries *x = *(const struct rseries *const *)a;
    const struct rseries *y = *(const struct rseries *const *)b;
    return dw_tsdb_labels_cmp(x->l, x->n, y->l, y->n);
}

TEST(select_random_vs_brute_force)
{
    setup();
    rng_seed(42);
    char *dir = tmpdir_new();
    struct dw_tsdb *db = open_db(dir);
    static const char *names[] = {"a", "b", "c", "d"};
    static const char *metrics[] = {"m1", "m2", "m3"};
    static const char *values[] = {"x", "y", "z", "xy", "yz", "zz", "xyz"};
    enum { NS = 400 };
    struct rseries *ser = dw_calloc(NS, sizeof *ser);
    struct rseries **sorted = dw_calloc(NS, sizeof *sorted);
    size_t ns = 0;
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(db);
    for (size_t i = 0; i < NS; i++) {
        struct rseries *s = &ser[ns];
        s->n = 0;
        s->l[s->n++] = (struct dw_label){DW_TSDB_METRIC_NAME, metrics[rnd_below(3)]};
        for (size_t k = 0; k < DW_ARRAY_LEN(names); k++)
            if (rnd_below(10) < 6)
                s->l[s->n++] = (struct dw_label){names[k], values[rnd_below(7)]};
        dw_tsdb_labels_sort(s->l, s->n);
        struct dw_buf b;
        dw_buf_init(&b, 0);
        dw_tsdb_labels_format(s->l, s->n, &b);
        s->fmt = dw_buf_steal(&b);
        bool dup = false;
        for (size_t j = 0; j < ns && !dup; j++)
            dup = strcmp(ser[j].fmt, s->fmt) == 0;
        if (dup) {
            free(s->fmt);
            continue;
        }
        ASSERT_EQ_INT(dw_tsdb_appender_add(a, s->l, s->n, T0, 1, NULL), 0);
        sorted[ns] = s;
        ns++;
    }
    commit_ok(a, NULL);
    dw_tsdb_appender_free(&a);
    qsort(sorted, ns, sizeof *sorted, cmp_rseries);
    ASSERT_EQ_UINT(dw_tsdb_num_series(db), ns);

    static const char *mvals[] = {"",   "x",      "y",      "xy",  "x.*",   ".*", ".+",    "x|y",
                                  "y|", "[xz]y?", "(x|z)+", "xyz", "zz|x|", "m1", "m[12]", "y.*"};
    static const char *mnames[] = {"a", "b", "c", "d", "e", DW_TSDB_METRIC_NAME};
    size_t nonempty = 0;
    for (int q = 0; q < 300; q++) {
        struct dw_tsdb_matcher *ms[3];
        size_t n = 1 + rnd_below(3);
        for (size_t i = 0; i < n; i++) {
            char *err = NULL;
            ms[i] = dw_tsdb_matcher_new((enum dw_match_op)rnd_below(4), mnames[rnd_below(6)],
                                        mvals[rnd_below(DW_ARRAY_LEN(mvals))], &err);
            ASSERT_NOT_NULL(ms[i]);
        }
        struct dw_buf want;
        dw_buf_init(&want, 0);
        for (size_t i = 0; i < ns; i++) {
            if (!brute_match(sorted[i], ms, n))
                continue;
            if (want.len)
                dw_buf_putc(&want, ' ');
            dw_buf_puts(&want, sorted[i]->fmt);
        }
        struct dw_tsdb_querier *qr = dw_tsdb_querier_new(db, INT64_MIN, INT64_MAX);
        struct dw_tsdb_series_set *set = dw_tsdb_select(qr, ms, n);
        struct dw_buf got;
        dw_buf_init(&got, 0);
        while (dw_tsdb_series_set_next(set)) {
            size_t nl;
            const struct dw_label *l = dw_tsdb_series_labels(set, &nl);
            if (got.len)
                dw_buf_putc(&got, ' ');
            dw_tsdb_labels_format(l, nl, &got);
        }
        dw_tsdb_series_set_free(&set);
        dw_tsdb_querier_free(&qr);
        const char *g = got.len ? got.data : "", *w = want.len ? want.data : "";
        if (strcmp(g, w) != 0) {
            fprintf(stderr, "  query %d:", q);
            for (size_t i = 0; i < n; i++)
                fprintf(stderr, " %s op%d \"%s\"", dw_tsdb_matcher_name(ms[i]),
                        (int)dw_tsdb_matcher_op(ms[i]), dw_tsdb_matcher_value(ms[i]));
            fprintf(stderr, "\n");
        }
        ASSERT_EQ_STR(g, w);
        nonempty += want.len > 0;
        dw_buf_release(&want);
        dw_buf_release(&got);
        free_matchers(ms, n);
    }
    ASSERT_TRUE(nonempty > 50); /* the queries are not trivially empty */
    for (size_t i = 0; i < ns; i++)
        free(ser[i].fmt);
    free(ser);
    free(sorted);
    dw_tsdb_close(&db);
    rm_rf(dir);
    free(dir);
}

/* ---- appends ---- */

/* A retried batch (a sender that timed out and sends again) is redundant, not refused. */
TEST(append_resent_samples_are_redundant)
{
    setup();
    char *dir = tmpdir_new();
    struct dw_tsdb *db = open_db(dir);
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(db);
    struct dw_tsdb_commit_result r;
    int n = DW_TSDB_CHUNK_MAX_SAMPLES + 30; /* the first chunk gets frozen */
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < n; i++)
            ASSERT_EQ_INT(add(a, "m,i=1", T0 + i * 1000, i * 0.5), 0);
        commit_ok(a, &r);
        ASSERT_EQ_UINT(r.appended, round == 0 ? (size_t)n : 0);
        ASSERT_EQ_UINT(r.redundant, round == 0 ? 0 : (size_t)n);
        ASSERT_EQ_UINT(r.out_of_order, 0);
    }
    /* An older timestamp with another value, in the frozen and in the active chunk. */
    ASSERT_EQ_INT(add(a, "m,i=1", T0 + 5 * 1000, 99), 0);
    ASSERT_EQ_INT(add(a, "m,i=1", T0 + (n - 3) * 1000, 99), 0);
    /* An older timestamp that was never stored. */
    ASSERT_EQ_INT(add(a, "m,i=1", T0 + 5 * 1000 + 1, 2.5), 0);
    commit_ok(a, &r);
    ASSERT_EQ_UINT(r.out_of_order, 3);
    ASSERT_EQ_UINT(r.redundant, 0);
    dw_tsdb_appender_free(&a);
    dw_tsdb_close(&db);
    rm_rf(dir);
    free(dir);
}

TEST(append_counts_rejections_like_prometheus)
{
    setup();
    char *dir = tmpdir_new();
    struct dw_tsdb *db = open_db(dir);
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(db);
    struct dw_tsdb_commit_result r;
    ASSERT_EQ_INT(add(a, "m,i=1", T0, 1), 0);
    ASSERT_EQ_INT(add(a, "m,i=1", T0 + 1000, 2), 0);
    ASSERT_EQ_INT(add(a, "m,i=1", T0 + 500, 3), 0);  /* older than the last: out of order */
    ASSERT_EQ_INT(add(a, "m,i=1", T0 + 1000, 2), 0); /* same t, same value: redundant */
    ASSERT_EQ_INT(add(a, "m,i=1", T0 + 1000, 9), 0); /* same t, other value: duplicate */
    ASSERT_EQ_INT(add(a, "m,i=2", T0 + 1000, 5), 0);
    commit_ok(a, &r);
    ASSERT_EQ_UINT(r.appended, 3);
    ASSERT_EQ_UINT(r.out_of_order, 1);
    ASSERT_EQ_UINT(r.redundant, 1);
    ASSERT_EQ_UINT(r.duplicate, 1);
    ASSERT_EQ_UINT(r.out_of_bounds, 0);
    ASSERT_EQ_UINT(r.new_series, 2);

    /* A later commit is pre-checked against what is stored. */
    ASSERT_EQ_INT(add(a, "m,i=1", T0 + 999, 1), 0);
    ASSERT_EQ_INT(add(a, "m,i=2", T0 + 1000, 6), 0);
    commit_ok(a, &r);
    ASSERT_EQ_UINT(r.out_of_order, 1);
    ASSERT_EQ_UINT(r.duplicate, 1);
    ASSERT_EQ_UINT(r.appended, 0);
    ASSERT_EQ_UINT(r.new_series, 0);

    /* The window: newest sample minus half a block range (1 h), and 10 min ahead of the clock. */
    int64_t newest = T0 + 2 * HOUR_MS;
    dw_clock_advance(2 * HOUR_MS);
    ASSERT_EQ_INT(add(a, "m,i=3", newest, 1), 0);
    commit_ok(a, &r);
    ASSERT_EQ_UINT(r.appended, 1);
    ASSERT_EQ_INT(add(a, "m,i=4", newest - HOUR_MS - 1, 1), 0);     /* out of bounds */
    ASSERT_EQ_INT(add(a, "m,i=4", newest - HOUR_MS, 1), 0);         /* just inside */
    ASSERT_EQ_INT(add(a, "m,i=5", newest + 10 * MIN_MS + 1, 1), 0); /* too far ahead */
    ASSERT_EQ_INT(add(a, "m,i=5", newest + 10 * MIN_MS, 1), 0);     /* just inside */
    commit_ok(a, &r);
    ASSERT_EQ_UINT(r.out_of_bounds, 2);
    ASSERT_EQ_UINT(r.appended, 2);
    ASSERT_EQ_UINT(r.new_series, 2);

    struct dw_tsdb_stats st;
    dw_tsdb_get_stats(db, &st);
    ASSERT_EQ_UINT(st.series, 5);
    ASSERT_EQ_UINT(st.samples, 6);
    ASSERT_EQ_UINT(st.samples_appended, 6);
    ASSERT_EQ_UINT(st.samples_out_of_order, 2);
    ASSERT_EQ_UINT(st.samples_duplicate, 2);
    ASSERT_EQ_UINT(st.samples_redundant, 1);
    ASSERT_EQ_UINT(st.samples_out_of_bounds, 2);
    ASSERT_EQ_UINT(st.commits, 4);
    ASSERT_EQ_INT(st.min_time, T0);
    ASSERT_EQ_INT(st.max_time, newest + 10 * MIN_MS);
    ASSERT_TRUE(st.chunk_bytes > 0);
    ASSERT_EQ_UINT(st.chunks, 5);
    dw_tsdb_appender_free(&a);
    dw_tsdb_close(&db);
    rm_rf(dir);
    free(dir);
}

TEST(add_ref_fast_path)
{
    setup();
    char *dir = tmpdir_new();
    struct dw_tsdb *db = open_db(dir);
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(db);
    struct lset ls;
    lset_parse(&ls, "m,x=1");
    uint64_t ref = 0, pending;
    /* A new series: a provisional reference, good for this request only. */
    ASSERT_EQ_INT(dw_tsdb_appender_add(a, ls.l, ls.n, T0 - 2, 1, &pending), 0);
    ASSERT_NE_INT(pending, 0);
    ASSERT_EQ_INT(dw_tsdb_appender_add_ref(a, pending, T0 - 1, 1), 0);
    ASSERT_EQ_INT(dw_tsdb_appender_add_ref(a, pending + 1, T0 - 1, 1), DW_TSDB_EINVAL);
    struct dw_tsdb_commit_result r;
    commit_ok(a, &r);
    ASSERT_EQ_UINT(r.appended, 2);
    ASSERT_EQ_UINT(r.new_series, 1);
    ASSERT_EQ_INT(dw_tsdb_appender_add_ref(a, pending, T0, 1), DW_TSDB_EINVAL);
    /* Labels in another order find the same series (and its real reference). */
    struct dw_label rev[2] = {ls.l[1], ls.l[0]};
    ASSERT_EQ_INT(dw_tsdb_appender_add(a, rev, 2, T0, 1, &ref), 0);
    ASSERT_TRUE(ref > 0 && ref != pending);
    uint64_t ref2;
    ASSERT_EQ_INT(dw_tsdb_appender_add(a, ls.l, ls.n, T0 + 1, 2, &ref2), 0);
    ASSERT_EQ_UINT(ref2, ref);
    ASSERT_EQ_INT(dw_tsdb_appender_add_ref(a, ref, T0 + 2, 3), 0);
    ASSERT_EQ_INT(dw_tsdb_appender_add_ref(a, ref + 1000, T0 + 2, 3), DW_TSDB_EINVAL);
    ASSERT_EQ_INT(dw_tsdb_appender_add_ref(a, 0, T0 + 2, 3), DW_TSDB_EINVAL);
    commit_ok(a, &r); /* an unknown ref does not poison the request */
    ASSERT_EQ_UINT(r.appended, 3);
    char *d = dump_select(db, INT64_MIN, INT64_MAX, NULL, 0);
    ASSERT_EQ_STR(d, "m{x=\"1\"}: -2=1 -1=1 0=1 1=2 2=3\n");
    free(d);
    dw_tsdb_appender_free(&a);
    dw_tsdb_close(&db);
    rm_rf(dir);
    free(dir);
}

TEST(stale_markers_and_nan_payloads_round_trip)
{
    setup();
    dw_clock_set_manual(T0 + 2 * HOUR_MS);
    char *dir = tmpdir_new();
    struct dw_tsdb *db = open_db(dir);
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(db);
    uint64_t nan_bits = UINT64_C(0x7ff8000000000123);
    double other_nan;
    memcpy(&other_nan, &nan_bits, 8);
    /* 300 samples: two frozen chunks and an active one, markers in each. */
    for (int i = 0; i < 300; i++) {
        double v = i % 7 == 3 ? dw_tsdb_stale_nan() : i % 11 == 5 ? other_nan : i * 0.5;
        ASSERT_EQ_INT(add(a, "m", T0 + i * 15000, v), 0);
    }
    commit_ok(a, NULL);
    dw_tsdb_appender_free(&a);
    for (int pass = 0; pass < 2; pass++) {
        struct dw_tsdb_querier *q = dw_tsdb_querier_new(db, INT64_MIN, INT64_MAX);
        struct dw_tsdb_series_set *set = dw_tsdb_select(q, NULL, 0);
        ASSERT_TRUE(dw_tsdb_series_set_next(set));
        struct dw_tsdb_iter *it = dw_tsdb_series_iter(set);
        int64_t t;
        double v;
        int i = 0;
        while (dw_tsdb_iter_next(it, &t, &v)) {
            ASSERT_EQ_INT(t, T0 + i * 15000);
            uint64_t bits;
            memcpy(&bits, &v, 8);
            if (i % 7 == 3)
                ASSERT_EQ_UINT(bits, DW_TSDB_STALE_BITS);
            else if (i % 11 == 5)
                ASSERT_EQ_UINT(bits, nan_bits);
            else
                ASSERT_TRUE(v == i * 0.5);
            i++;
        }
        ASSERT_EQ_INT(i, 300);
        ASSERT_FALSE(dw_tsdb_series_set_next(set));
        dw_tsdb_series_set_free(&set);
        dw_tsdb_querier_free(&q);
        /* Second pass: the same after a WAL replay. */
        dw_tsdb_close(&db);
        db = open_db(dir);
    }
    /* Same timestamp: the same bits are redundant, other bits (even another NaN) a duplicate. */
    struct dw_tsdb_commit_result r = put1(db, "m", T0 + 299 * 15000, 299 * 0.5);
    ASSERT_EQ_UINT(r.redundant, 1);
    r = put1(db, "m", T0 + 299 * 15000, dw_tsdb_stale_nan());
    ASSERT_EQ_UINT(r.duplicate, 1);
    r = put1(db, "m", T0 + 300 * 15000, dw_tsdb_stale_nan());
    ASSERT_EQ_UINT(r.appended, 1);
    r = put1(db, "m", T0 + 300 * 15000, dw_tsdb_stale_nan());
    ASSERT_EQ_UINT(r.redundant, 1);
    r = put1(db, "m", T0 + 300 * 15000, other_nan);
    ASSERT_EQ_UINT(r.duplicate, 1);
    r = put1(db, "m", T0 + 297 * 15000, 1);
    ASSERT_EQ_UINT(r.out_of_order, 1);
    dw_tsdb_close(&db);
    rm_rf(dir);
    free(dir);
}

/* ---- limits and invalid input: the request is rejected whole ---- */

struct snapshot {
    size_t series;
    uint64_t samples, wal_bytes;
    char *dump;
};

static void snap(struct dw_tsdb *db, struct snapshot *s)
{
    struct dw_tsdb_stats st;
    dw_tsdb_get_stats(db, &st);
    s->series = dw_tsdb_num_series(db);
    s->samples = st.samples;
    s->wal_bytes = st.wal.bytes_logged;
    s->dump = dump_select(db, INT64_MIN, INT64_MAX, NULL, 0);
}

static void assert_unchanged(struct dw_tsdb *db, struct snapshot *before)
{
    struct snapshot after;
    snap(db, &after);
    ASSERT_EQ_UINT(after.series, before->series);
    ASSERT_EQ_UINT(after.samples, before->samples);
    ASSERT_EQ_UINT(after.wal_bytes, before->wal_bytes);
    ASSERT_EQ_STR(after.dump, before->dump);
    free(after.dump);
    free(before->dump);
}

/* Commits expecting a rejection with rc and a message containing `why`. */
static void commit_rejected(struct dw_tsdb_appender *a, int rc, const char *why)
{
    char *err = NULL;
    struct dw_tsdb_commit_result r;
    ASSERT_EQ_INT(dw_tsdb_appender_commit(a, &r, &err), rc);
    ASSERT_CONTAINS(err, why);
    ASSERT_EQ_UINT(r.appended, 0);
    free(err);
}

TEST(limits_reject_the_whole_commit)
{
    setup();
    char *dir = tmpdir_new();
    struct dw_tsdb_options o;
    opts_default(&o, dir);
    o.max_series = 3;
    o.max_labels = 4;
    o.max_label_name_len = 8;
    o.max_label_value_len = 10;
    o.max_samples_per_commit = 5;
    struct dw_tsdb *db = open_db_opts(&o);
    put1(db, "m,i=1", T0, 1);
    put1(db, "m,i=2", T0, 1);
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(db);
    struct snapshot s;

    /* max_series: an existing series' sample in the same request is not applied either. */
    snap(db, &s);
    ASSERT_EQ_INT(add(a, "m,i=1", T0 + 1, 2), 0);
    ASSERT_EQ_INT(add(a, "m,i=3", T0 + 1, 2), 0);
    ASSERT_EQ_INT(add(a, "m,i=4", T0 + 1, 2), 0);
    commit_rejected(a, DW_TSDB_ELIMIT,
                    "2 new series would bring the head to 4 series, the limit "
                    "is 3 (max_series)");
    assert_unchanged(db, &s);
    /* Exactly at the limit is fine. */
    struct dw_tsdb_commit_result r = put1(db, "m,i=3", T0 + 1, 2);
    ASSERT_EQ_UINT(r.new_series, 1);
    ASSERT_EQ_UINT(dw_tsdb_num_series(db), 3);

    /* Labels per series (4 incl. __name__). */
    snap(db, &s);
    ASSERT_EQ_INT(add(a, "m,i=1", T0 + 2, 2), 0);
    ASSERT_EQ_INT(add(a, "m,a=1,b=2,c=3,d=4", T0 + 2, 2), DW_TSDB_ELIMIT);
    ASSERT_EQ_INT(add(a, "m,i=2", T0 + 2, 2), DW_TSDB_ELIMIT); /* poisoned */
    commit_rejected(a, DW_TSDB_ELIMIT, "5 labels, the limit is 4 (max_labels)");
    assert_unchanged(db, &s);
    ASSERT_EQ_INT(add(a, "m,a=1,b=2,c=3", T0 + 2, 2), 0); /* 4 is fine, appender reusable */
    dw_tsdb_appender_rollback(a);

    /* Label name length (8) and value length (10). */
    snap(db, &s);
    ASSERT_EQ_INT(add(a, "m,abcdefgh=1", T0 + 2, 2), 0);
    ASSERT_EQ_INT(add(a, "m,abcdefghi=1", T0 + 2, 2), DW_TSDB_ELIMIT);
    commit_rejected(a, DW_TSDB_ELIMIT, "label name of 9 bytes, the limit is 8");
    assert_unchanged(db, &s);
    snap(db, &s);
    ASSERT_EQ_INT(add(a, "m,i=0123456789", T0 + 2, 2), 0);
    ASSERT_EQ_INT(add(a, "m,i=0123456789a", T0 + 2, 2), DW_TSDB_ELIMIT);
    commit_rejected(a, DW_TSDB_ELIMIT, "value of label \"i\" has 11 bytes, the limit is 10");
    assert_unchanged(db, &s);

    /* Samples per commit (5), by labels and by reference. */
    snap(db, &s);
    uint64_t ref;
    struct lset ls;
    lset_parse(&ls, "m,i=1");
    ASSERT_EQ_INT(dw_tsdb_appender_add(a, ls.l, ls.n, T0 + 10, 1, &ref), 0);
    for (int i = 1; i < 5; i++)
        ASSERT_EQ_INT(dw_tsdb_appender_add_ref(a, ref, T0 + 10 + i, 1), 0);
    ASSERT_EQ_INT(dw_tsdb_appender_add_ref(a, ref, T0 + 20, 1), DW_TSDB_ELIMIT);
    commit_rejected(a, DW_TSDB_ELIMIT, "more than 5 samples in one request");
    assert_unchanged(db, &s);
    for (int i = 0; i < 5; i++)
        ASSERT_EQ_INT(dw_tsdb_appender_add_ref(a, ref, T0 + 10 + i, 1), 0);
    commit_ok(a, &r);
    ASSERT_EQ_UINT(r.appended, 5);

    struct dw_tsdb_stats st;
    dw_tsdb_get_stats(db, &st);
    ASSERT_EQ_UINT(st.commits_rejected, 5);
    dw_tsdb_appender_free(&a);
    dw_tsdb_close(&db);
    rm_rf(dir);
    free(dir);
}

TEST(invalid_series_are_rejected)
{
    setup();
    char *dir = tmpdir_new();
    struct dw_tsdb *db = open_db(dir);
    put1(db, "m,i=1", T0, 1);
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(db);
    struct {
        const char *spec;
        const char *why;
    } cases[] = {
        {"m,1x=a", "invalid label name \"1x\""},
        {"m,i=a,i=b", "duplicate label name \"i\""},
        {"i=a", "series without a metric name"},
        {"m,__name__=x", "duplicate label name \"__name__\""},
        {"m-x", "invalid metric name \"m-x\""},
        {"m,=a", "invalid label name \"\""},
        {"m,i=\xff\xfe", "not valid UTF-8"},
        {"m,i=\xed\xa0\x80", "not valid UTF-8"}, /* a UTF-16 surrogate */
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(cases); i++) {
        struct snapshot s;
        snap(db, &s);
        ASSERT_EQ_INT(add(a, "m,i=1", T0 + 1, 1), 0);
        ASSERT_EQ_INT(add(a, cases[i].spec, T0 + 1, 1), DW_TSDB_EINVAL);
        commit_rejected(a, DW_TSDB_EINVAL, cases[i].why);
        assert_unchanged(db, &s);
    }
    /* Empty values are dropped (Prometheus): "m,i=" is the series "m". */
    ASSERT_EQ_INT(add(a, "m,j=,k=caf\xc3\xa9", T0, 1), 0);
    commit_ok(a, NULL);
    ASSERT_SELECT(db, "m{i=\"1\"} m{k=\"caf\xc3\xa9\"}", "__name__=m");
    dw_tsdb_appender_free(&a);
    dw_tsdb_close(&db);
    rm_rf(dir);
    free(dir);
}

/* ---- WAL replay ---- */

/* 40 series of mixed kinds, `steps` samples each at 15 s, committed 10 steps at a time. */
static void fill_mixed(struct dw_tsdb *db, int from, int steps)
{
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(db);
    char spec[64];
    for (int k = from; k < from + steps; k++) {
        for (int j = 0; j < 40; j++) {
            double v = j % 4 == 0   ? (double)(k * 10 + j)            /* counter */
                       : j % 4 == 1 ? (double)((k * 7 + j) % 50) / 10 /* decimal gauge */
                       : j % 4 == 2 ? 42                              /* constant */
                                    : (k + 1) * 0.1 + j * 1e-9;       /* arbitrary float */
            snprintf(spec, sizeof spec, "mixed,kind=%d,j=%d", j % 4, j);
            ASSERT_EQ_INT(add(a, spec, T0 + (int64_t)k * 15000, v), 0);
        }
        if (k % 10 == 9)
            commit_ok(a, NULL);
    }
    commit_ok(a, NULL);
    dw_tsdb_appender_free(&a);
}

TEST(wal_replay_after_close_restores_everything)
{
    setup();
    dw_clock_set_manual(T0 + 3 * HOUR_MS);
    char *dir = tmpdir_new();
    struct dw_tsdb *db = open_db(dir);
    fill_mixed(db, 0, 400); /* 3 frozen chunks + an active one per series */
    char *before = dump_select(db, INT64_MIN, INT64_MAX, NULL, 0);
    struct dw_tsdb_stats st1, st2;
    dw_tsdb_get_stats(db, &st1);
    ASSERT_EQ_UINT(st1.samples, 40 * 400);
    ASSERT_EQ_UINT(st1.chunks, 40 * 4);
    ASSERT_EQ_INT(dw_tsdb_close(&db), 0);
    /* The clock reads earlier at restart (restore, NTP step): replay still keeps everything. */
    dw_clock_set_manual(T0);
    db = open_db(dir);
    char *after = dump_select(db, INT64_MIN, INT64_MAX, NULL, 0);
    ASSERT_EQ_STR(after, before);
    dw_clock_set_manual(T0 + 3 * HOUR_MS);
    dw_tsdb_get_stats(db, &st2);
    ASSERT_EQ_UINT(st2.samples, st1.samples);
    ASSERT_EQ_UINT(st2.series, 40);
    ASSERT_EQ_UINT(st2.chunks, st1.chunks);
    ASSERT_EQ_UINT(st2.chunk_bytes, st1.chunk_bytes);
    /* Appending continues where the log ended; references survive the restart. */
    struct dw_tsdb_commit_result r = put1(db, "mixed,kind=0,j=0", T0 + 400 * 15000, 1);
    ASSERT_EQ_UINT(r.new_series, 0);
    ASSERT_EQ_UINT(r.appended, 1);
    r = put1(db, "mixed,kind=0,j=0", T0 + 390 * 15000, 1);
    ASSERT_EQ_UINT(r.out_of_order, 1);
    free(before);
    free(after);
    dw_tsdb_close(&db);
    rm_rf(dir);
    free(dir);
}

/* Newest segment file of a WAL directory. */
static char *newest_segment(const char *waldir)
{
    DIR *d = opendir(waldir);
    if (!d)
        DW_FAIL_("opendir %s", waldir);
    struct dirent *e;
    long best = -1;
    while ((e = readdir(d)) != NULL) {
        int64_t n;
        if (strlen(e->d_name) == 8 && dw_parse_int64(e->d_name, &n) == 0 && n > best)
            best = (long)n;
    }
    closedir(d);
    if (best < 0)
        DW_FAIL_("no segment in %s", waldir);
    return dw_asprintf("%s/%08ld", waldir, best);
}

TEST(wal_replay_after_simulated_crash)
{
    setup();
    dw_clock_set_manual(T0 + 3 * HOUR_MS);
    char *dir = tmpdir_new();
    struct dw_tsdb_options o;
    opts_default(&o, dir);
    o.wal.fsync = DW_TSDB_FSYNC_ALWAYS;
    struct dw_tsdb *db = open_db_opts(&o);
    fill_mixed(db, 0, 150);
    char *before_last = dump_select(db, INT64_MIN, INT64_MAX, NULL, 0);
    put1(db, "last,one=1", T0, 7);
    char *all = dump_select(db, INT64_MIN, INT64_MAX, NULL, 0);

    /* What a crash right now leaves on disk: acknowledged means logged and synced. */
    char *crash = dw_asprintf("%s.crash", dir);
    copy_tree(dir, crash);
    o.dir = crash;
    struct dw_tsdb *db2 = open_db_opts(&o);
    char *got = dump_select(db2, INT64_MIN, INT64_MAX, NULL, 0);
    ASSERT_EQ_STR(got, all);
    free(got);
    dw_tsdb_close(&db2);
    rm_rf(crash);

    /* A torn last record (the crash hit during the last write): everything before it. */
    copy_tree(dir, crash);
    char *waldir = dw_asprintf("%s/wal", crash);
    char *seg = newest_segment(waldir);
    struct stat st;
    ASSERT_EQ_INT(stat(seg, &st), 0);
    ASSERT_EQ_INT(truncate(seg, st.st_size - 3), 0);
    db2 = open_db_opts(&o);
    got = dump_select(db2, INT64_MIN, INT64_MAX, NULL, 0);
    /* The torn record held the last commit's samples: its series exists, without samples
       (so no select lists it), and everything before it is intact. */
    ASSERT_EQ_STR(got, before_last);
    ASSERT_EQ_UINT(dw_tsdb_num_series(db2), 41);
    free(got);
    dw_tsdb_close(&db2);
    rm_rf(crash);

    free(seg);
    free(waldir);
    free(crash);
    free(before_last);
    free(all);
    dw_tsdb_close(&db);
    rm_rf(dir);
    free(dir);
}

TEST(open_errors_and_directory_lock)
{
    setup();
    char *err = NULL;
    struct dw_tsdb_options o;
    dw_tsdb_options_init(&o);
    ASSERT_NULL(dw_tsdb_open(&o, &err)); /* no directory */
    ASSERT_CONTAINS(err, "no database directory");
    free(err);
    char *dir = tmpdir_new();
    struct dw_tsdb *db = open_db(dir);
    opts_default(&o, dir);
    err = NULL;
    ASSERT_NULL(dw_tsdb_open(&o, &err)); /* a second opener of the same directory */
    ASSERT_CONTAINS(err, "in use by another process");
    free(err);
    char *file = dw_asprintf("%s/plain-file", dir);
    FILE *f = fopen(file, "w");
    ASSERT_NOT_NULL(f);
    fclose(f);
    o.dir = file; /* not a directory */
    err = NULL;
    ASSERT_NULL(dw_tsdb_open(&o, &err));
    ASSERT_NOT_NULL(err);
    free(err);
    free(file);
    dw_tsdb_close(&db);
    db = open_db(dir); /* released at close */
    dw_tsdb_close(&db);
    ASSERT_EQ_INT(dw_tsdb_close(&db), 0); /* NULL: no-op */
    rm_rf(dir);
    free(dir);
}

/* ---- truncation, checkpoint and the cut hook ---- */

struct cut_rec {
    struct dw_buf out;
    size_t series, samples;
};

static int cut_cb(void *ctx, const struct dw_label *labels, size_t n, struct dw_tsdb_iter *it)
{
    struct cut_rec *c = ctx;
    dw_tsdb_labels_format(labels, n, &c->out);
    int64_t t, first = 0, last = 0;
    double v;
    size_t k = 0;
    while (dw_tsdb_iter_next(it, &t, &v)) {
        if (k == 0)
            first = t;
        last = t;
        k++;
    }
    dw_buf_printf(&c->out, ":%zu:%lld-%lld ", k, (long long)(first - T0) / 1000,
                  (long long)(last - T0) / 1000);
    c->series++;
    c->samples += k;
    return 0;
}

static bool file_exists(const char *dir, const char *name)
{
    char *p = dw_asprintf("%s/%s", dir, name);
    struct stat st;
    bool ok = stat(p, &st) == 0;
    free(p);
    return ok;
}

TEST(truncate_cut_and_checkpoint)
{
    setup();
    dw_clock_set_manual(T0 + 4 * HOUR_MS);
    char *dir = tmpdir_new();
    struct dw_tsdb *db = open_db(dir);
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(db);
    /* a: 3 h of 15 s samples (6 chunks); b: the first 10 min; c: from 2 h 30 min. */
    for (int k = 0; k < 720; k++) {
        int64_t t = T0 + (int64_t)k * 15000;
        ASSERT_EQ_INT(add(a, "s,n=a", t, k), 0);
        if (t < T0 + 10 * MIN_MS)
            ASSERT_EQ_INT(add(a, "s,n=b", t, k), 0);
        if (t >= T0 + 150 * MIN_MS)
            ASSERT_EQ_INT(add(a, "s,n=c", t, k), 0);
        commit_ok(a, NULL);
    }
    dw_tsdb_appender_free(&a);
    int64_t lo, hi;
    ASSERT_TRUE(dw_tsdb_head_bounds(db, &lo, &hi));
    ASSERT_EQ_INT(lo, T0);
    ASSERT_EQ_INT(hi, T0 + 719 * 15000);

    struct cut_rec c = {0};
    dw_buf_init(&c.out, 0);
    ASSERT_EQ_INT(dw_tsdb_head_cut(db, T0, T0 + 2 * HOUR_MS, cut_cb, &c), 0);
    ASSERT_EQ_STR(c.out.data, "s{n=\"a\"}:480:0-7185 s{n=\"b\"}:40:0-585 ");
    dw_buf_release(&c.out);

    char *err = NULL;
    ASSERT_EQ_INT(dw_tsdb_head_truncate(db, T0 + 2 * HOUR_MS, &err), 0);
    ASSERT_NULL(err);
    ASSERT_EQ_UINT(dw_tsdb_num_series(db), 2);
    struct dw_tsdb_stats st;
    dw_tsdb_get_stats(db, &st);
    ASSERT_EQ_UINT(st.series_removed, 1);
    /* Head chunks are cut at multiples of the block range (2 h since the epoch,
       T0 + 1 h 46 min 40 s here): a's chunk of samples 427-546 straddles the
       truncation point and stays, with 547-666 and the active 667-719. */
    ASSERT_EQ_UINT(st.samples, 293 + 120);
    ASSERT_EQ_UINT(st.chunks, 3 + 1);
    ASSERT_EQ_INT(st.min_time, T0 + 427 * 15000);
    char *waldir = dw_asprintf("%s/wal", dir);
    char *ckname = NULL;
    DIR *d = opendir(waldir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (dw_str_has_prefix(e->d_name, "checkpoint."))
            ckname = dw_strdup(e->d_name);
    closedir(d);
    ASSERT_NOT_NULL(ckname);
    ASSERT_FALSE(file_exists(waldir, "00000001")); /* replaced by the checkpoint */

    /* Samples before the truncation point are out of bounds now; b comes back as a new series. */
    struct dw_tsdb_commit_result r = put1(db, "s,n=a", T0 + 2 * HOUR_MS - 1, 1);
    ASSERT_EQ_UINT(r.out_of_bounds, 1);
    r = put1(db, "s,n=b", T0 + 3 * HOUR_MS, 1);
    ASSERT_EQ_UINT(r.new_series, 1);
    ASSERT_EQ_UINT(r.appended, 1);

    char *before = dump_select(db, INT64_MIN, INT64_MAX, NULL, 0);
    ASSERT_CONTAINS(before, "s{n=\"a\"}: 6405000=427 6420000=428");
    ASSERT_CONTAINS(before, "s{n=\"b\"}: 10800000=1\n");
    dw_tsdb_close(&db);
    db = open_db(dir); /* checkpoint + the segments after it */
    char *after = dump_select(db, INT64_MIN, INT64_MAX, NULL, 0);
    ASSERT_EQ_STR(after, before);
    ASSERT_EQ_UINT(dw_tsdb_num_series(db), 3);

    /* A second truncation replaces the first checkpoint. */
    ASSERT_EQ_INT(dw_tsdb_head_truncate(db, T0 + 3 * HOUR_MS, NULL), 0);
    ASSERT_FALSE(file_exists(waldir, ckname));
    ASSERT_EQ_UINT(dw_tsdb_num_series(db), 1); /* a and c end before 3 h; b has a sample at 3 h */
    free(before);
    free(after);
    before = dump_select(db, INT64_MIN, INT64_MAX, NULL, 0);
    dw_tsdb_close(&db);
    db = open_db(dir);
    after = dump_select(db, INT64_MIN, INT64_MAX, NULL, 0);
    ASSERT_EQ_STR(after, before);
    free(before);
    free(after);
    free(ckname);
    free(waldir);
    dw_tsdb_close(&db);
    rm_rf(dir);
    free(dir);
}

TEST(commit_revives_a_series_collected_meanwhile)
{
    setup();
    dw_clock_set_manual(T0 + 2 * HOUR_MS);
    char *dir = tmpdir_new();
    struct dw_tsdb *db = open_db(dir);
    put1(db, "old,x=1", T0, 1);
    put1(db, "keep,x=1", T0 + HOUR_MS, 1);
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(db);
    uint64_t ref;
    struct lset ls;
    lset_parse(&ls, "old,x=1");
    ASSERT_EQ_INT(dw_tsdb_appender_add(a, ls.l, ls.n, T0 + HOUR_MS, 2, &ref), 0);
    ASSERT_TRUE(ref > 0);
    /* "old" has nothing at or after T0 + 30 min: collected while the appender holds it. */
    ASSERT_EQ_INT(dw_tsdb_head_truncate(db, T0 + 30 * MIN_MS, NULL), 0);
    ASSERT_EQ_UINT(dw_tsdb_num_series(db), 1);
    struct dw_tsdb_commit_result r;
    commit_ok(a, &r);
    ASSERT_EQ_UINT(r.new_series, 1);
    ASSERT_EQ_UINT(r.appended, 1);
    char *d = dump_select(db, INT64_MIN, INT64_MAX, NULL, 0);
    ASSERT_EQ_STR(d, "keep{x=\"1\"}: 3600000=1\nold{x=\"1\"}: 3600000=2\n");
    free(d);
    /* The old reference is dead for good. */
    ASSERT_EQ_INT(dw_tsdb_appender_add_ref(a, ref, T0 + HOUR_MS + 1, 1), DW_TSDB_EINVAL);
    dw_tsdb_appender_free(&a);
    dw_tsdb_close(&db);
    rm_rf(dir);
    free(dir);
}

/* ---- queriers ---- */

TEST(querier_sees_a_stable_view)
{
    setup();
    char *dir = tmpdir_new();
    struct dw_tsdb *db = open_db(dir);
    for (int i = 0; i < 5; i++)
        put1(db, "a", T0 + i, i);
    struct dw_tsdb_querier *q = dw_tsdb_querier_new(db, INT64_MIN, INT64_MAX);
    put1(db, "b", T0, 1); /* created after the querier: not seen */
    put1(db, "a", T0 + 5, 5);
    struct dw_tsdb_series_set *set = dw_tsdb_select(q, NULL, 0);
    ASSERT_TRUE(dw_tsdb_series_set_next(set));
    /* The series' samples are fixed when the set reaches it. */
    put1(db, "a", T0 + 6, 6);
    struct dw_tsdb_iter *it = dw_tsdb_series_iter(set);
    int64_t t;
    double v;
    int n = 0;
    while (dw_tsdb_iter_next(it, &t, &v)) {
        ASSERT_EQ_INT(t, T0 + n);
        n++;
    }
    ASSERT_EQ_INT(n, 6);
    ASSERT_FALSE(dw_tsdb_series_set_next(set));
    dw_tsdb_series_set_free(&set);
    dw_tsdb_querier_free(&q);
    ASSERT_SELECT(db, "a{} b{}", "__name__=~a|b");
    dw_tsdb_close(&db);
    rm_rf(dir);
    free(dir);
}

TEST(select_trims_to_the_range_and_seeks)
{
    setup();
    dw_clock_set_manual(T0 + 2 * HOUR_MS);
    char *dir = tmpdir_new();
    struct dw_tsdb *db = open_db(dir);
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(db);
    for (int i = 0; i < 400; i++) /* every 10 s: 3 frozen chunks, 40 in the active one */
        ASSERT_EQ_INT(add(a, "m", T0 + i * 10000, i), 0);
    ASSERT_EQ_INT(add(a, "early", T0, 1), 0);
    commit_ok(a, NULL);
    dw_tsdb_appender_free(&a);

    struct dw_tsdb_querier *q = dw_tsdb_querier_new(db, T0 + 1005000, T0 + 2000000);
    struct dw_tsdb_series_set *set = dw_tsdb_select(q, NULL, 0);
    ASSERT_TRUE(dw_tsdb_series_set_next(set)); /* "early" has nothing in range */
    size_t nl;
    ASSERT_EQ_STR(dw_tsdb_series_labels(set, &nl)[0].value, "m");
    struct dw_tsdb_iter *it = dw_tsdb_series_iter(set);
    int64_t t;
    double v;
    /* A seek before the first sample in range lands on it. */
    ASSERT_TRUE(dw_tsdb_iter_seek(it, T0, &t, &v));
    ASSERT_EQ_INT(t, T0 + 1010000);
    ASSERT_TRUE(v == 101);
    ASSERT_TRUE(dw_tsdb_iter_seek(it, T0 + 1500000, &t, &v));
    ASSERT_EQ_INT(t, T0 + 1500000);
    ASSERT_TRUE(dw_tsdb_iter_seek(it, T0 + 1499999, &t, &v)); /* never backwards */
    ASSERT_EQ_INT(t, T0 + 1500000);
    ASSERT_TRUE(dw_tsdb_iter_seek(it, T0 + 1500001, &t, &v));
    ASSERT_EQ_INT(t, T0 + 1510000);
    ASSERT_TRUE(dw_tsdb_iter_next(it, &t, &v));
    ASSERT_EQ_INT(t, T0 + 1520000);
    ASSERT_TRUE(v == 152);
    ASSERT_TRUE(dw_tsdb_iter_seek(it, T0 + 1995000, &t, &v));
    ASSERT_EQ_INT(t, T0 + 2000000); /* the last one in range (in the active chunk) */
    ASSERT_FALSE(dw_tsdb_iter_next(it, &t, &v));
    ASSERT_FALSE(dw_tsdb_iter_seek(it, T0 + 2500000, &t, &v));
    ASSERT_EQ_INT(dw_tsdb_iter_err(it), 0);
    ASSERT_FALSE(dw_tsdb_series_set_next(set));
    dw_tsdb_series_set_free(&set);
    dw_tsdb_querier_free(&q);

    char *d = dump_select(db, T0 + 1005000, T0 + 1040000, NULL, 0);
    ASSERT_EQ_STR(d, "m{}: 1010000=101 1020000=102 1030000=103 1040000=104\n");
    free(d);
    d = dump_select(db, T0 + 5000000, T0 + 6000000, NULL, 0);
    ASSERT_EQ_STR(d, "");
    free(d);
    /* Every sample exactly once across chunk boundaries, whatever the range. */
    for (int lo = 0; lo < 400; lo += 37) {
        int hi = lo + 150;
        q = dw_tsdb_querier_new(db, T0 + lo * 10000, T0 + hi * 10000);
        set = dw_tsdb_select(q, (struct dw_tsdb_matcher *const *)NULL, 0);
        int want = lo;
        while (dw_tsdb_series_set_next(set)) {
            it = dw_tsdb_series_iter(set);
            while (dw_tsdb_iter_next(it, &t, &v)) {
                if (dw_tsdb_series_labels(set, &nl)[0].value[0] == 'e')
                    continue;
                ASSERT_EQ_INT(t, T0 + want * 10000);
                want++;
            }
        }
        ASSERT_EQ_INT(want, hi < 400 ? hi + 1 : 400);
        dw_tsdb_series_set_free(&set);
        dw_tsdb_querier_free(&q);
    }
    dw_tsdb_close(&db);
    rm_rf(dir);
    free(dir);
}

TEST(label_names_and_values_for_a_range)
{
    setup();
    dw_clock_set_manual(T0 + 2 * HOUR_MS);
    char *dir = tmpdir_new();
    struct dw_tsdb *db = open_db(dir);
    put1(db, "m1,a=1,b=2", T0, 1);
    put1(db, "m1,a=1,b=2", T0 + 10 * MIN_MS, 1);
    put1(db, "m2,a=3,c=4", T0 + HOUR_MS, 1);
    struct {
        int64_t mint, maxt;
        const char *matcher;
        const char *names, *a_values, *name_values;
    } cases[] = {
        {INT64_MIN, INT64_MAX, NULL, "__name__,a,b,c", "1,3", "m1,m2"},
        {T0 + 30 * MIN_MS, T0 + 2 * HOUR_MS, NULL, "__name__,a,c", "3", "m2"},
        {T0, T0 + 10 * MIN_MS, NULL, "__name__,a,b", "1", "m1"},
        {T0 + 11 * MIN_MS, T0 + 59 * MIN_MS, NULL, "", "", ""},
        {INT64_MIN, INT64_MAX, "__name__=m1", "__name__,a,b", "1", "m1"},
        {INT64_MIN, INT64_MAX, "c=~.+", "__name__,a,c", "3", "m2"},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(cases); i++) {
        struct dw_tsdb_matcher *ms[1];
        size_t nm = cases[i].matcher ? parse_matchers(&cases[i].matcher, 1, ms) : 0;
        struct dw_tsdb_querier *q = dw_tsdb_querier_new(db, cases[i].mint, cases[i].maxt);
        size_t n;
        const char **v = dw_tsdb_label_names(q, ms, nm, &n);
        char *j = join_strings(v, n);
        ASSERT_EQ_STR(j, cases[i].names);
        free(j);
        free(v);
        v = dw_tsdb_label_values(q, "a", ms, nm, &n);
        j = join_strings(v, n);
        ASSERT_EQ_STR(j, cases[i].a_values);
        free(j);
        free(v);
        v = dw_tsdb_label_values(q, DW_TSDB_METRIC_NAME, ms, nm, &n);
        j = join_strings(v, n);
        ASSERT_EQ_STR(j, cases[i].name_values);
        free(j);
        free(v);
        v = dw_tsdb_label_values(q, "nobody", ms, nm, &n);
        ASSERT_EQ_UINT(n, 0);
        ASSERT_NOT_NULL(v);
        free(v);
        dw_tsdb_querier_free(&q);
        free_matchers(ms, nm);
    }
    dw_tsdb_close(&db);
    rm_rf(dir);
    free(dir);
}

/* ---- merging with a second series source ---- */

struct fake_series {
    struct dw_label l[3];
    size_t nl;
    int64_t t[16];
    double v[16];
    size_t n;
};

struct fake_src {
    struct fake_series *s;
    size_t n;
    int opens, closes;
};

struct fake_view {
    struct fake_src *src;
    int64_t mint, maxt;
};

struct fake_cur {
    struct fake_view *v;
    struct dw_tsdb_matcher *const *ms;
    size_t nm;
    long pos;
    size_t next; /* next sample of the current series */
};

static void fake_bounds(void *src, int64_t *mint, int64_t *maxt)
{
    struct fake_src *f = src;
    *mint = INT64_MAX;
    *maxt = INT64_MIN;
    for (size_t i = 0; i < f->n; i++) {
        if (f->s[i].t[0] < *mint)
            *mint = f->s[i].t[0];
        if (f->s[i].t[f->s[i].n - 1] > *maxt)
            *maxt = f->s[i].t[f->s[i].n - 1];
    }
}

static void *fake_open(void *src, int64_t mint, int64_t maxt)
{
    struct fake_view *v = dw_calloc(1, sizeof *v);
    v->src = src;
    v->mint = mint;
    v->maxt = maxt;
    v->src->opens++;
    return v;
}

static void fake_close(void *view)
{
    struct fake_view *v = view;
    v->src->closes++;
    free(v);
}

static bool fake_wanted(const struct fake_view *v, const struct fake_series *s,
                        struct dw_tsdb_matcher *const *ms, size_t nm)
{
    for (size_t i = 0; i < nm; i++) {
        const char *x = dw_tsdb_labels_get(s->l, s->nl, dw_tsdb_matcher_name(ms[i]));
        if (!dw_tsdb_matcher_matches(ms[i], x ? x : ""))
            return false;
    }
    for (size_t i = 0; i < s->n; i++)
        if (s->t[i] >= v->mint && s->t[i] <= v->maxt)
            return true;
    return false;
}

static void *fake_select(void *view, struct dw_tsdb_matcher *const *ms, size_t n)
{
    struct fake_cur *c = dw_calloc(1, sizeof *c);
    c->v = view;
    c->ms = ms;
    c->nm = n;
    c->pos = -1;
    return c;
}

static bool fake_next(void *cur)
{
    struct fake_cur *c = cur;
    struct fake_src *f = c->v->src;
    while (++c->pos < (long)f->n)
        if (fake_wanted(c->v, &f->s[c->pos], c->ms, c->nm))
            break;
    c->next = 0;
    return c->pos < (long)f->n;
}

static const struct dw_label *fake_labels(void *cur, size_t *n)
{
    struct fake_cur *c = cur;
    *n = c->v->src->s[c->pos].nl;
    return c->v->src->s[c->pos].l;
}

/* Batches of three samples; batches ending before min_t are skipped. */
static bool fake_chunk(void *cur, int64_t min_t, const int64_t **t, const double **v, size_t *n)
{
    struct fake_cur *c = cur;
    const struct fake_series *s = &c->v->src->s[c->pos];
    while (c->next < s->n) {
        size_t from = c->next, k = s->n - from < 3 ? s->n - from : 3;
        c->next += k;
        if (s->t[from + k - 1] < min_t)
            continue;
        *t = s->t + from;
        *v = s->v + from;
        *n = k;
        return true;
    }
    return false;
}

static int fake_err(void *cur)
{
    (void)cur;
    return 0;
}

static int fake_strings(void *view, const char *name, struct dw_tsdb_matcher *const *ms, size_t n,
                        void (*addf)(void *out, const char *s), void *out)
{
    struct fake_view *v = view;
    for (size_t i = 0; i < v->src->n; i++) {
        const struct fake_series *s = &v->src->s[i];
        if (!fake_wanted(v, s, ms, n))
            continue;
        for (size_t j = 0; j < s->nl; j++) {
            if (!name)
                addf(out, s->l[j].name);
            else if (strcmp(s->l[j].name, name) == 0)
                addf(out, s->l[j].value);
        }
    }
    return 0;
}

static const struct dw_tsdb_source_ops fake_ops = {
    fake_bounds, fake_open,  fake_close, fake_select, fake_next,
    fake_labels, fake_chunk, fake_err,   free,        fake_strings,
};

TEST(merge_with_a_second_source)
{
    setup();
    char *dir = tmpdir_new();
    struct dw_tsdb *db = open_db(dir);
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(db);
    for (int t = 1; t <= 10; t++)
        ASSERT_EQ_INT(add(a, "m,s=a", T0 + t, t), 0);
    for (int t = 1; t <= 3; t++)
        ASSERT_EQ_INT(add(a, "m,s=c", T0 + t, t), 0);
    commit_ok(a, NULL);
    dw_tsdb_appender_free(&a);

    struct fake_series fs[2] = {
        {{{DW_TSDB_METRIC_NAME, "m"}, {"s", "a"}}, 2, {0}, {0}, 11},
        {{{DW_TSDB_METRIC_NAME, "m"}, {"s", "b"}, {"x", "1"}}, 3, {0}, {0}, 4},
    };
    for (int i = 0; i < 11; i++) { /* overlaps the head's m{s="a"} at 5..10 */
        fs[0].t[i] = T0 + 5 + i;
        fs[0].v[i] = 105 + i;
    }
    for (int i = 0; i < 4; i++) {
        fs[1].t[i] = T0 + 1 + i;
        fs[1].v[i] = 201 + i;
    }
    struct fake_src src = {fs, 2, 0, 0};
    ASSERT_EQ_INT(dw_tsdb_source_add(db, &fake_ops, &src), 0);

    char *d = dump_select(db, INT64_MIN, INT64_MAX, NULL, 0);
    ASSERT_EQ_STR(d, "m{s=\"a\"}: 1=1 2=2 3=3 4=4 5=5 6=6 7=7 8=8 9=9 10=10 11=111 12=112 "
                     "13=113 14=114 15=115\n"
                     "m{s=\"b\", x=\"1\"}: 1=201 2=202 3=203 4=204\n"
                     "m{s=\"c\"}: 1=1 2=2 3=3\n");
    free(d);
    d = dump_select(db, T0 + 9, T0 + 20, (const char *const[]){"s=~a|c"}, 1);
    ASSERT_EQ_STR(d, "m{s=\"a\"}: 9=9 10=10 11=111 12=112 13=113 14=114 15=115\n");
    free(d);
    d = dump_select(db, T0 + 4, T0 + 4, NULL, 0);
    ASSERT_EQ_STR(d, "m{s=\"a\"}: 4=4\nm{s=\"b\", x=\"1\"}: 4=204\n");
    free(d);

    /* Seeks on a merged series. */
    struct dw_tsdb_querier *q = dw_tsdb_querier_new(db, INT64_MIN, INT64_MAX);
    struct dw_tsdb_series_set *set = dw_tsdb_select(q, NULL, 0);
    ASSERT_TRUE(dw_tsdb_series_set_next(set));
    struct dw_tsdb_iter *it = dw_tsdb_series_iter(set);
    int64_t t;
    double v;
    ASSERT_TRUE(dw_tsdb_iter_seek(it, T0 + 9, &t, &v));
    ASSERT_TRUE(t == T0 + 9 && v == 9);
    ASSERT_TRUE(dw_tsdb_iter_seek(it, T0 + 12, &t, &v));
    ASSERT_TRUE(t == T0 + 12 && v == 112);
    ASSERT_TRUE(dw_tsdb_iter_next(it, &t, &v));
    ASSERT_TRUE(t == T0 + 13 && v == 113);
    size_t n;
    const char **names = dw_tsdb_label_names(q, NULL, 0, &n);
    char *j = join_strings(names, n);
    ASSERT_EQ_STR(j, "__name__,s,x");
    free(j);
    free(names);
    const char **vals = dw_tsdb_label_values(q, "s", NULL, 0, &n);
    j = join_strings(vals, n);
    ASSERT_EQ_STR(j, "a,b,c");
    free(j);
    free(vals);
    vals = dw_tsdb_label_values(q, "x", NULL, 0, &n); /* only the source has it */
    j = join_strings(vals, n);
    ASSERT_EQ_STR(j, "1");
    free(j);
    free(vals);
    dw_tsdb_series_set_free(&set);
    dw_tsdb_querier_free(&q);

    /* A source outside the querier's range is not even opened. */
    int opens = src.opens;
    d = dump_select(db, T0 + 100, T0 + 200, NULL, 0);
    ASSERT_EQ_STR(d, "");
    free(d);
    ASSERT_EQ_INT(src.opens, opens);
    ASSERT_EQ_INT(src.closes, src.opens);
    dw_tsdb_source_remove(db, &src);
    d = dump_select(db, INT64_MIN, INT64_MAX, (const char *const[]){"s=b"}, 1);
    ASSERT_EQ_STR(d, "");
    free(d);
    dw_tsdb_close(&db);
    rm_rf(dir);
    free(dir);
}

/* ---- concurrency: parallel appenders, readers and a truncation ---- */

enum { CW = 4, CR = 3, CSER = 100, CSHARED = 20, CROUNDS = 150, CTRUNC_AT = 140 };

struct conc {
    struct dw_tsdb *db;
    atomic_int progress[CW]; /* rounds committed per writer */
    atomic_bool writers_done;
    atomic_bool truncated;
    atomic_int failures;
    atomic_long reads;
};

struct conc_arg {
    struct conc *c;
    int id;
};

static void *conc_writer(void *p)
{
    struct conc_arg *arg = p;
    struct conc *c = arg->c;
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(c->db);
    uint64_t refs[CSER] = {0};
    char spec[64];
    for (int r = 0; r < CROUNDS; r++) {
        int64_t t = T0 + (int64_t)r * 15000;
        for (int i = 0; i < CSER; i++) {
            /* The reference path once known; labels otherwise. */
            if (refs[i] && dw_tsdb_appender_add_ref(a, refs[i], t, r) == 0)
                continue;
            struct lset ls;
            snprintf(spec, sizeof spec, "conc,w=%d,i=%d", arg->id, i);
            lset_parse(&ls, spec);
            if (dw_tsdb_appender_add(a, ls.l, ls.n, t, r, &refs[i]) != 0)
                atomic_fetch_add(&c->failures, 1);
        }
        for (int i = 0; i < CSHARED; i++) { /* contended: creation races, out of order */
            snprintf(spec, sizeof spec, "shared,i=%d", i);
            if (add(a, spec, t + arg->id, r) != 0)
                atomic_fetch_add(&c->failures, 1);
        }
        char *err = NULL;
        if (dw_tsdb_appender_commit(a, NULL, &err) != 0) {
            atomic_fetch_add(&c->failures, 1);
            free(err);
        }
        atomic_store(&c->progress[arg->id], r + 1);
    }
    dw_tsdb_appender_free(&a);
    return NULL;
}

/* Reads everything again and again, checking order and values. */
static void *conc_reader(void *p)
{
    struct conc_arg *arg = p;
    struct conc *c = arg->c;
    int round = 0;
    while (!atomic_load(&c->writers_done) || round < 2) {
        char wv[8];
        snprintf(wv, sizeof wv, "%d", round++ % CW);
        char *err = NULL;
        struct dw_tsdb_matcher *ms[2] = {
            dw_tsdb_matcher_new(DW_MATCH_RE, DW_TSDB_METRIC_NAME, "conc|shared", &err),
            dw_tsdb_matcher_new(round % 2 ? DW_MATCH_EQ : DW_MATCH_NEQ, "w", wv, &err)};
        struct dw_tsdb_querier *q = dw_tsdb_querier_new(c->db, INT64_MIN, INT64_MAX);
        struct dw_tsdb_series_set *set = dw_tsdb_select(q, ms, 2);
        while (dw_tsdb_series_set_next(set)) {
            size_t nl;
            const struct dw_label *l = dw_tsdb_series_labels(set, &nl);
            bool own = strcmp(l[0].value, "conc") == 0;
            struct dw_tsdb_iter *it = dw_tsdb_series_iter(set);
            int64_t t, prev = INT64_MIN;
            double v;
            while (dw_tsdb_iter_next(it, &t, &v)) {
                if (t <= prev || (own && v != (double)((t - T0) / 15000)))
                    atomic_fetch_add(&c->failures, 1);
                prev = t;
            }
            atomic_fetch_add(&c->reads, 1);
        }
        size_t n;
        free(dw_tsdb_label_values(q, "i", NULL, 0, &n));
        dw_tsdb_series_set_free(&set);
        dw_tsdb_querier_free(&q);
        free_matchers(ms, 2);
    }
    return NULL;
}

/* Truncates once every writer is past CTRUNC_AT rounds (the first chunk is complete). */
static void *conc_truncator(void *p)
{
    struct conc *c = ((struct conc_arg *)p)->c;
    for (;;) {
        int min = CROUNDS;
        for (int w = 0; w < CW; w++)
            if (atomic_load(&c->progress[w]) < min)
                min = atomic_load(&c->progress[w]);
        if (min >= CTRUNC_AT)
            break;
        usleep(1000);
    }
    if (dw_tsdb_head_truncate(c->db, T0 + 130 * 15000, NULL) != 0)
        atomic_fetch_add(&c->failures, 1);
    atomic_store(&c->truncated, true);
    return NULL;
}

TEST(concurrent_appenders_readers_and_truncation)
{
    setup();
    dw_clock_set_manual(T0 + HOUR_MS);
    char *dir = tmpdir_new();
    struct dw_tsdb *db = open_db(dir);
    struct conc c = {.db = db};
    pthread_t th[CW + CR + 1];
    struct conc_arg args[CW + CR + 1];
    for (int i = 0; i < CW + CR + 1; i++) {
        args[i] = (struct conc_arg){&c, i < CW ? i : i - CW};
        void *(*fn)(void *) = i < CW ? conc_writer : i < CW + CR ? conc_reader : conc_truncator;
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, fn, &args[i]), 0);
    }
    for (int i = 0; i < CW; i++)
        pthread_join(th[i], NULL);
    atomic_store(&c.writers_done, true);
    for (int i = CW; i < CW + CR + 1; i++)
        pthread_join(th[i], NULL);
    ASSERT_EQ_INT(atomic_load(&c.failures), 0);
    ASSERT_TRUE(atomic_load(&c.truncated));
    ASSERT_TRUE(atomic_load(&c.reads) > 0);
    ASSERT_EQ_UINT(dw_tsdb_num_series(db), CW * CSER + CSHARED);
    /* Own series: rounds 120..149 (the first chunk went with the truncation). */
    struct dw_tsdb_querier *q = dw_tsdb_querier_new(db, INT64_MIN, INT64_MAX);
    char *err = NULL;
    struct dw_tsdb_matcher *m = dw_tsdb_matcher_new(DW_MATCH_EQ, DW_TSDB_METRIC_NAME, "conc", &err);
    struct dw_tsdb_series_set *set = dw_tsdb_select(q, &m, 1);
    size_t nser = 0;
    while (dw_tsdb_series_set_next(set)) {
        struct dw_tsdb_iter *it = dw_tsdb_series_iter(set);
        int64_t t;
        double v;
        int want = 120;
        while (dw_tsdb_iter_next(it, &t, &v)) {
            ASSERT_EQ_INT(t, T0 + want * 15000);
            want++;
        }
        ASSERT_EQ_INT(want, CROUNDS);
        nser++;
    }
    ASSERT_EQ_UINT(nser, CW * CSER);
    dw_tsdb_series_set_free(&set);
    dw_tsdb_querier_free(&q);
    dw_tsdb_matcher_free(&m);
    struct dw_tsdb_stats st;
    dw_tsdb_get_stats(db, &st);
    ASSERT_EQ_UINT(st.commits, CW * CROUNDS);
    ASSERT_EQ_UINT(st.samples_appended + st.samples_out_of_order + st.samples_duplicate +
                       st.samples_redundant + st.samples_out_of_bounds,
                   CW * CROUNDS * (CSER + CSHARED));
    /* The replayed head is the same as the live one. */
    char *before = dump_select(db, INT64_MIN, INT64_MAX, NULL, 0);
    dw_tsdb_close(&db);
    db = open_db(dir);
    char *after = dump_select(db, INT64_MIN, INT64_MAX, (const char *const[]){"__name__=conc"}, 1);
    char *before_own = strstr(before, "shared{");
    ASSERT_NOT_NULL(before_own);
    *before_own = 0; /* shared series: racing commits may replay in another order */
    ASSERT_EQ_STR(after, before);
    free(before);
    free(after);
    dw_tsdb_close(&db);
    rm_rf(dir);
    free(dir);
}

/* ---- crash: SIGKILL during ingestion, every acknowledged sample survives ---- */

enum { KSER = 20 };

static void crash_child(const char *dir, int fd)
{
    dw_log_set_level(DW_LOG_ERROR);
    dw_clock_set_manual(T0 + 24 * HOUR_MS); /* every sample well inside the window */
    struct dw_tsdb_options o;
    dw_tsdb_options_init(&o);
    o.dir = dir;
    o.wal.fsync = DW_TSDB_FSYNC_ALWAYS;
    o.wal.segment_max_bytes = DW_TSDB_WAL_SEGMENT_MIN; /* rotations during the run too */
    struct dw_tsdb *db = dw_tsdb_open(&o, NULL);
    if (!db)
        _exit(2);
    struct dw_tsdb_appender *a = dw_tsdb_appender_new(db);
    char spec[32];
    for (int32_t k = 0;; k++) {
        for (int j = 0; j < KSER; j++) {
            snprintf(spec, sizeof spec, "crash,j=%d", j);
            if (add(a, spec, T0 + (int64_t)k * 1000, (double)k * KSER + j) != 0)
                _exit(3);
        }
        struct dw_tsdb_commit_result res;
        if (dw_tsdb_appender_commit(a, &res, NULL) != 0 || res.appended != KSER)
            _exit(4);
        if (write(fd, &k, sizeof k) != sizeof k) /* acknowledged */
            _exit(5);
    }
}

/* Reads acknowledgements for `ms` milliseconds (or until EOF); returns the last one. */
static int32_t read_acks(int fd, int ms, int32_t last)
{
    int64_t end = dw_mono_ns() + (int64_t)ms * 1000000;
    for (;;) {
        int64_t left = ms < 0 ? -1 : (end - dw_mono_ns()) / 1000000;
        if (ms >= 0 && left <= 0)
            return last;
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, ms < 0 ? -1 : (int)left) <= 0)
            continue;
        int32_t k;
        ssize_t n = read(fd, &k, sizeof k);
        if (n <= 0)
            return last;
        if (n == sizeof k)
            last = k;
    }
}

TEST(crash_sigkill_keeps_every_acknowledged_sample)
{
    setup();
    for (int round = 0; round < 3; round++) {
        char *dir = tmpdir_new();
        int fds[2];
        ASSERT_EQ_INT(pipe(fds), 0);
        fflush(NULL);
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            crash_child(dir, fds[1]);
        }
        close(fds[1]);
        uint32_t r;
        dw_random_bytes(&r, sizeof r);
        int delay = 150 + (int)(r % 300); /* a random moment of the ingestion */
        int32_t last = read_acks(fds[0], delay, -1);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        last = read_acks(fds[0], -1, last); /* acknowledgements still in the pipe */
        close(fds[0]);
        if (last < 3)
            DW_FAIL_("round %d: only %d commits acknowledged in %d ms", round, last + 1, delay);

        struct dw_tsdb_options o;
        opts_default(&o, dir);
        struct dw_tsdb *db = open_db_opts(&o);
        struct dw_tsdb_querier *q = dw_tsdb_querier_new(db, INT64_MIN, INT64_MAX);
        struct dw_tsdb_series_set *set = dw_tsdb_select(q, NULL, 0);
        int nser = 0;
        while (dw_tsdb_series_set_next(set)) {
            size_t nl;
            const struct dw_label *l = dw_tsdb_series_labels(set, &nl);
            int64_t j;
            ASSERT_EQ_INT(dw_parse_int64(dw_tsdb_labels_get(l, nl, "j"), &j), 0);
            struct dw_tsdb_iter *it = dw_tsdb_series_iter(set);
            int64_t t;
            double v;
            int32_t k = 0;
            while (dw_tsdb_iter_next(it, &t, &v)) {
                ASSERT_EQ_INT(t, T0 + (int64_t)k * 1000);
                ASSERT_TRUE(v == (double)k * KSER + (double)j);
                k++;
            }
            /* Every acknowledged commit; at most the one in flight beyond. */
            if (k < last + 1 || k > last + 2)
                DW_FAIL_("round %d series %lld: %d samples, %d commits acknowledged", round,
                         (long long)j, k, last + 1);
            nser++;
        }
        ASSERT_EQ_INT(nser, KSER);
        dw_tsdb_series_set_free(&set);
        dw_tsdb_querier_free(&q);
        dw_tsdb_close(&db);
        rm_rf(dir);
        free(dir);
    }
}

TEST_MAIN()
