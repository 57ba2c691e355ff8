/*
 * Unit tests of the store module: opening, migrations, $N binding, the
 * statement cache, transactions (commit, rollback, nesting, durability),
 * concurrency between the writer and readers, the core component's tables
 * and error messages.
 *
 * Every test works in its own database file inside one mkdtemp directory
 * that is removed at exit (also when a test fails half-way).
 */
#include <dirent.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "harness.h"
#include "store/store.h"

/* ---- fixtures ---- */

static char tmp_dir[64];

static void remove_tmp_dir(void)
{
    DIR *d = opendir(tmp_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", tmp_dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(tmp_dir);
}

__attribute__((constructor)) static void setup(void)
{
    dw_strlcpy(tmp_dir, "/tmp/dw-test-store-XXXXXX", sizeof tmp_dir);
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        exit(2);
    }
    atexit(remove_tmp_dir);
    dw_log_set_level(DW_LOG_ERROR); /* "store opened" lines would drown the results */
}

/* A fresh path for one test's database. */
static char *db_path(const char *name)
{
    return dw_asprintf("%s/%s.db", tmp_dir, name);
}

static struct dw_store *open_ok(const char *path)
{
    char *err = NULL;
    struct dw_store *s = dw_store_open(path, &err);
    if (!s)
        fprintf(stderr, "  open %s: %s\n", path, err);
    free(err);
    ASSERT_NOT_NULL(s);
    return s;
}

static void exec_ok(struct dw_store *s, const char *sql, const struct dw_value *p, size_t n)
{
    char *err = NULL;
    int rc = dw_store_exec(s, sql, p, n, NULL, NULL, &err);
    if (rc != 0)
        fprintf(stderr, "  exec %s: %s\n", sql, err);
    free(err);
    ASSERT_EQ_INT(rc, 0);
}

static int first_int_cb(void *ctx, const struct dw_value *cols, size_t ncols)
{
    int64_t *out = ctx;
    *out = ncols > 0 && cols[0].type == DW_VAL_INT ? cols[0].i : -999999;
    return 1;
}

static int64_t query_int(struct dw_store *s, const char *sql, const struct dw_value *p, size_t n)
{
    int64_t v = -1;
    char *err = NULL;
    int rc = dw_store_exec(s, sql, p, n, first_int_cb, &v, &err);
    if (rc != 0)
        fprintf(stderr, "  query %s: %s\n", sql, err);
    free(err);
    ASSERT_EQ_INT(rc, 0);
    return v;
}

static int first_text_cb(void *ctx, const struct dw_value *cols, size_t ncols)
{
    char **out = ctx;
    free(*out);
    *out = ncols > 0 && cols[0].type == DW_VAL_TEXT ? dw_strdup(cols[0].s) : NULL;
    return 1;
}

/* Caller frees. */
static char *query_text(struct dw_store *s, const char *sql, const struct dw_value *p, size_t n)
{
    char *v = NULL, *err = NULL;
    int rc = dw_store_exec(s, sql, p, n, first_text_cb, &v, &err);
    if (rc != 0)
        fprintf(stderr, "  query %s: %s\n", sql, err);
    free(err);
    ASSERT_EQ_INT(rc, 0);
    return v;
}

static void write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "wb");
    ASSERT_NOT_NULL(f);
    fputs(content, f);
    fclose(f);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    ASSERT_NOT_NULL(f);
    char *buf = dw_calloc(1, 4096);
    size_t n = fread(buf, 1, 4095, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- opening and the core component ---- */

TEST(open_creates_wal_store_with_core_schema)
{
    char *path = db_path("open");
    dw_clock_set_manual(1700000000000);
    struct dw_store *s = open_ok(path);
    struct stat st;
    ASSERT_EQ_INT(stat(path, &st), 0);
    ASSERT_EQ_INT(dw_store_schema_version(s, "core"), 1);
    ASSERT_EQ_INT(dw_store_schema_version(s, "nobody"), 0);

    char *mode = query_text(s, "PRAGMA journal_mode", NULL, 0);
    ASSERT_EQ_STR(mode, "wal");
    free(mode);
    ASSERT_EQ_INT(query_int(s, "PRAGMA foreign_keys", NULL, 0), 1);
    ASSERT_EQ_INT(query_int(s, "PRAGMA synchronous", NULL, 0), 1); /* NORMAL */

    const char *id = dw_store_instance_id(s);
    ASSERT_EQ_UINT(strlen(id), 32);
    ASSERT_EQ_UINT(strspn(id, "0123456789abcdef"), 32);
    char *created = NULL, *err = NULL;
    ASSERT_EQ_INT(dw_store_meta_get(s, "created_at", &created, &err), 1);
    ASSERT_EQ_STR(created, "1700000000000");
    free(created);
    ASSERT_EQ_INT(
        query_int(s, "SELECT applied_at FROM schema_migrations WHERE component = 'core'", NULL, 0),
        1700000000000);
    dw_store_close(&s);
    ASSERT_NULL(s);
    dw_store_close(&s); /* NULL is a no-op */
    dw_clock_set_real();
    free(path);
}

TEST(reopen_keeps_instance_and_does_not_reapply_core)
{
    char *path = db_path("reopen");
    dw_clock_set_manual(1000);
    struct dw_store *s = open_ok(path);
    char *id = dw_strdup(dw_store_instance_id(s));
    dw_store_close(&s);

    dw_clock_set_manual(5000);
    s = open_ok(path);
    ASSERT_EQ_STR(dw_store_instance_id(s), id);
    ASSERT_EQ_INT(query_int(s, "SELECT count(*) FROM schema_migrations", NULL, 0), 1);
    ASSERT_EQ_INT(query_int(s, "SELECT applied_at FROM schema_migrations", NULL, 0), 1000);
    char *created = NULL;
    ASSERT_EQ_INT(dw_store_meta_get(s, "created_at", &created, NULL), 1);
    ASSERT_EQ_STR(created, "1000");
    free(created);
    dw_store_close(&s);
    dw_clock_set_real();
    free(id);
    free(path);
}

TEST(sync_makes_earlier_commits_durable_with_one_write)
{
    char *path = db_path("sync");
    dw_clock_set_manual(7000);
    struct dw_store *s = open_ok(path);
    exec_ok(s, "CREATE TABLE t (x INTEGER)", NULL, 0);
    for (int i = 0; i < 3; i++)
        exec_ok(s, "INSERT INTO t (x) VALUES (1)", NULL, 0);
    char *err = NULL;
    ASSERT_EQ_INT(dw_store_sync(s, &err), 0);
    char *at = NULL;
    ASSERT_EQ_INT(dw_store_meta_get(s, "synced_at", &at, NULL), 1);
    ASSERT_EQ_STR(at, "7000");
    free(at);
    ASSERT_EQ_INT(query_int(s, "SELECT count(*) FROM t", NULL, 0), 3);
    dw_store_close(&s);
    dw_clock_set_real();
    free(path);
}

TEST(open_refuses_a_file_that_is_not_sqlite)
{
    char *path = db_path("notadb");
    const char *content = "this is the operator's shopping list, not a database\n"
                          "milk, eggs, bread, coffee, more coffee, even more coffee\n";
    write_file(path, content);
    char *err = NULL;
    struct dw_store *s = dw_store_open(path, &err);
    ASSERT_NULL(s);
    char *want = dw_asprintf("%s is not a SQLite database (file is not a database); move it "
                             "away or choose another --data",
                             path);
    ASSERT_EQ_STR(err, want);
    char *after = read_file(path);
    ASSERT_EQ_STR(after, content); /* left untouched */
    free(after);
    free(want);
    free(err);
    free(path);
}

TEST(open_refuses_another_programs_database)
{
    char *path = db_path("foreign");
    sqlite3 *raw = NULL;
    ASSERT_EQ_INT(sqlite3_open(path, &raw), SQLITE_OK);
    ASSERT_EQ_INT(sqlite3_exec(raw, "CREATE TABLE recipes(name TEXT)", NULL, NULL, NULL),
                  SQLITE_OK);
    sqlite3_close(raw);

    char *err = NULL;
    struct dw_store *s = dw_store_open(path, &err);
    ASSERT_NULL(s);
    ASSERT_CONTAINS(err, path);
    ASSERT_CONTAINS(err, "another program");
    free(err);
    /* Not converted to WAL, no tables of ours added. */
    ASSERT_EQ_INT(sqlite3_open(path, &raw), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    ASSERT_EQ_INT(sqlite3_prepare_v2(raw, "SELECT count(*) FROM sqlite_master", -1, &st, NULL),
                  SQLITE_OK);
    ASSERT_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    ASSERT_EQ_INT(sqlite3_column_int(st, 0), 1);
    sqlite3_finalize(st);
    ASSERT_EQ_INT(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    ASSERT_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    ASSERT_EQ_STR((const char *)sqlite3_column_text(st, 0), "delete");
    sqlite3_finalize(st);
    sqlite3_close(raw);
    free(path);
}

TEST(open_errors_name_the_path)
{
    char *err = NULL;
    ASSERT_NULL(dw_store_open("", &err));
    ASSERT_CONTAINS(err, "file path");
    free(err);
    err = NULL;
    ASSERT_NULL(dw_store_open(":memory:", &err));
    ASSERT_CONTAINS(err, ":memory:");
    free(err);
    err = NULL;
    char *path = dw_asprintf("%s/no/such/dir/x.db", tmp_dir);
    ASSERT_NULL(dw_store_open(path, &err));
    ASSERT_CONTAINS(err, "cannot open");
    ASSERT_CONTAINS(err, path);
    free(err);
    free(path);
}

TEST(future_core_schema_is_refused_at_open)
{
    char *path = db_path("future-core");
    struct dw_store *s = open_ok(path);
    exec_ok(s,
            "INSERT INTO schema_migrations (component, version, applied_at) VALUES "
            "('core', 7, 0)",
            NULL, 0);
    dw_store_close(&s);
    char *err = NULL;
    ASSERT_NULL(dw_store_open(path, &err));
    ASSERT_CONTAINS(err, "database schema for core is version 7 but this dojowatch knows up to "
                         "1; upgrade dojowatch or use another --data");
    free(err);
    free(path);
}

/* ---- migrations ---- */

static const struct dw_store_migration alert_v3[] = {
    {1, "CREATE TABLE alerts (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"},
    {2, "ALTER TABLE alerts ADD COLUMN severity TEXT;\n"
        "-- a comment between statements\n"
        "CREATE INDEX alerts_name ON alerts (name);"},
    /* Needs v2's column: proves the order. */
    {3, "INSERT INTO alerts (name, severity) VALUES ('HighErrorRate', 'critical');"},
};

TEST(component_migrations_apply_in_order_once)
{
    char *path = db_path("migrate");
    struct dw_store *s = open_ok(path);
    char *err = NULL;
    dw_clock_set_manual(10000);
    ASSERT_EQ_INT(dw_store_migrate(s, "alert", alert_v3, 3, &err), 0);
    ASSERT_NULL(err);
    ASSERT_EQ_INT(dw_store_schema_version(s, "alert"), 3);
    char *sev = query_text(s, "SELECT severity FROM alerts WHERE name = 'HighErrorRate'", NULL, 0);
    ASSERT_EQ_STR(sev, "critical");
    free(sev);

    /* Again: nothing re-applied (the INSERT of v3 would add a second row). */
    dw_clock_set_manual(20000);
    ASSERT_EQ_INT(dw_store_migrate(s, "alert", alert_v3, 3, &err), 0);
    ASSERT_EQ_INT(query_int(s, "SELECT count(*) FROM alerts", NULL, 0), 1);

    /* A newer binary adds v4: only v4 runs, at the new time. */
    struct dw_store_migration v4[4];
    memcpy(v4, alert_v3, sizeof alert_v3);
    v4[3] = (struct dw_store_migration){4, "INSERT INTO alerts (name) VALUES ('Second');"};
    ASSERT_EQ_INT(dw_store_migrate(s, "alert", v4, 4, &err), 0);
    ASSERT_EQ_INT(query_int(s, "SELECT count(*) FROM alerts", NULL, 0), 2);
    ASSERT_EQ_INT(query_int(s,
                            "SELECT count(*) FROM schema_migrations WHERE component = 'alert' "
                            "AND applied_at = 10000",
                            NULL, 0),
                  3);
    ASSERT_EQ_INT(query_int(s,
                            "SELECT applied_at FROM schema_migrations WHERE component = 'alert' "
                            "AND version = 4",
                            NULL, 0),
                  20000);
    /* Components are independent. */
    ASSERT_EQ_INT(dw_store_schema_version(s, "core"), 1);
    dw_store_close(&s);
    dw_clock_set_real();
    free(path);
}

TEST(failing_migration_leaves_nothing_half_applied)
{
    char *path = db_path("migrate-fail");
    struct dw_store *s = open_ok(path);
    char *err = NULL;
    struct dw_store_migration migs[] = {
        {1, "CREATE TABLE incidents (id INTEGER PRIMARY KEY);"},
        {2, "CREATE TABLE timeline (id INTEGER PRIMARY KEY, note TEXT);\n"
            "INSERT INTO timeline (note) VALUES ('half');\n"
            "ALTER TABLE incidents ADD COLUMN state TEXT;\n"
            "INSERT INTO no_such_table VALUES (1);"},
        {3, "CREATE TABLE never (x INTEGER);"},
    };
    ASSERT_EQ_INT(dw_store_migrate(s, "incident", migs, 3, &err), -1);
    ASSERT_CONTAINS(err, "migration incident v2 failed");
    ASSERT_CONTAINS(err, "no such table: no_such_table");
    ASSERT_CONTAINS(err, "statement 4");
    free(err);
    err = NULL;
    ASSERT_EQ_INT(dw_store_schema_version(s, "incident"), 1);
    ASSERT_EQ_INT(query_int(s,
                            "SELECT count(*) FROM sqlite_master WHERE name IN ('timeline', "
                            "'never')",
                            NULL, 0),
                  0);
    ASSERT_EQ_INT(query_int(s,
                            "SELECT count(*) FROM pragma_table_info('incidents') WHERE name = "
                            "'state'",
                            NULL, 0),
                  0);
    /* Foreign keys are back on after the failed migration. */
    ASSERT_EQ_INT(query_int(s, "PRAGMA foreign_keys", NULL, 0), 1);

    /* Fixed in the next release: v2 and v3 apply. */
    migs[1].sql = "CREATE TABLE timeline (id INTEGER PRIMARY KEY, note TEXT);";
    ASSERT_EQ_INT(dw_store_migrate(s, "incident", migs, 3, &err), 0);
    ASSERT_EQ_INT(dw_store_schema_version(s, "incident"), 3);
    dw_store_close(&s);
    free(path);
}

TEST(migration_breaking_foreign_keys_or_transactions_is_rolled_back)
{
    char *path = db_path("migrate-fk");
    struct dw_store *s = open_ok(path);
    char *err = NULL;
    struct dw_store_migration migs[] = {
        {1,
         "CREATE TABLE parent (id INTEGER PRIMARY KEY);\n"
         "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id));"},
        {2, "INSERT INTO child (parent_id) VALUES (42);"},
    };
    ASSERT_EQ_INT(dw_store_migrate(s, "fk", migs, 2, &err), -1);
    ASSERT_CONTAINS(err, "migration fk v2 failed: foreign key violation in table child");
    free(err);
    err = NULL;
    ASSERT_EQ_INT(dw_store_schema_version(s, "fk"), 1);
    ASSERT_EQ_INT(query_int(s, "SELECT count(*) FROM child", NULL, 0), 0);

    struct dw_store_migration commits[] = {{1, "CREATE TABLE a (x INTEGER); COMMIT;"}};
    ASSERT_EQ_INT(dw_store_migrate(s, "tx", commits, 1, &err), -1);
    ASSERT_CONTAINS(err, "migration tx v1 failed");
    free(err);
    err = NULL;
    ASSERT_EQ_INT(dw_store_schema_version(s, "tx"), 0);
    dw_store_close(&s);
    free(path);
}

TEST(future_component_schema_is_refused)
{
    char *path = db_path("migrate-future");
    struct dw_store *s = open_ok(path);
    char *err = NULL;
    ASSERT_EQ_INT(dw_store_migrate(s, "alert", alert_v3, 3, &err), 0);
    ASSERT_EQ_INT(dw_store_migrate(s, "alert", alert_v3, 2, &err), -1);
    char *want = dw_asprintf("%s: database schema for alert is version 3 but this dojowatch knows "
                             "up to 2; upgrade dojowatch or use another --data",
                             path);
    ASSERT_EQ_STR(err, want);
    free(want);
    free(err);
    ASSERT_EQ_INT(dw_store_schema_version(s, "alert"), 3);
    dw_store_close(&s);
    free(path);
}

TEST(migration_lists_are_validated)
{
    char *path = db_path("migrate-bad");
    struct dw_store *s = open_ok(path);
    char *err = NULL;
    struct dw_store_migration dup[] = {{1, "SELECT 1"}, {1, "SELECT 2"}};
    ASSERT_EQ_INT(dw_store_migrate(s, "x", dup, 2, &err), -1);
    ASSERT_CONTAINS(err, "versions must increase");
    free(err);
    err = NULL;
    struct dw_store_migration zero[] = {{0, "SELECT 1"}};
    ASSERT_EQ_INT(dw_store_migrate(s, "x", zero, 1, &err), -1);
    free(err);
    err = NULL;
    ASSERT_EQ_INT(dw_store_migrate(s, "", alert_v3, 1, &err), -1);
    ASSERT_CONTAINS(err, "component name");
    free(err);
    err = NULL;
    char long_name[80];
    memset(long_name, 'c', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    ASSERT_EQ_INT(dw_store_migrate(s, long_name, alert_v3, 1, &err), -1);
    ASSERT_CONTAINS(err, "component name");
    free(err);
    dw_store_close(&s);
    free(path);
}

/* ---- statements and parameters ---- */

struct rows {
    struct dw_value v[8];
    char text[8][64];
    size_t ncols;
    int count;
};

/* Copies the first row (borrowed columns are only valid in the callback). */
static int keep_row(void *ctx, const struct dw_value *cols, size_t ncols)
{
    struct rows *r = ctx;
    if (r->count++ == 0) {
        r->ncols = ncols;
        for (size_t i = 0; i < ncols && i < 8; i++) {
            r->v[i] = cols[i];
            if (cols[i].s) {
                size_t n = cols[i].n < 63 ? cols[i].n : 63;
                memcpy(r->text[i], cols[i].s, n);
                r->v[i].s = r->text[i];
            }
        }
    }
    return 0;
}

TEST(values_round_trip_with_types)
{
    char *path = db_path("values");
    struct dw_store *s = open_ok(path);
    exec_ok(s, "CREATE TABLE v (n, i INTEGER, r DOUBLE PRECISION, t TEXT, b BLOB, e BLOB)", NULL,
            0);
    static const char blob[] = {'a', '\0', 'b', '\xff'};
    struct dw_value p[6] = {DW_VNULL,          DW_VINT(INT64_MIN),          DW_VREAL(-2.5e-300),
                            DW_VTEXT("héllo"), DW_VBLOB(blob, sizeof blob), DW_VBLOB("", 0)};
    exec_ok(s, "INSERT INTO v VALUES ($1, $2, $3, $4, $5, $6)", p, 6);
    struct rows r = {.count = 0};
    char *err = NULL;
    ASSERT_EQ_INT(dw_store_exec(s, "SELECT n, i, r, t, b, e FROM v", NULL, 0, keep_row, &r, &err),
                  0);
    ASSERT_EQ_INT(r.count, 1);
    ASSERT_EQ_UINT(r.ncols, 6);
    ASSERT_EQ_INT(r.v[0].type, DW_VAL_NULL);
    ASSERT_EQ_INT(r.v[1].type, DW_VAL_INT);
    ASSERT_TRUE(r.v[1].i == INT64_MIN);
    ASSERT_EQ_INT(r.v[2].type, DW_VAL_REAL);
    ASSERT_TRUE(r.v[2].d == -2.5e-300);
    ASSERT_EQ_INT(r.v[3].type, DW_VAL_TEXT);
    ASSERT_EQ_STR(r.v[3].s, "héllo");
    ASSERT_EQ_UINT(r.v[3].n, strlen("héllo"));
    ASSERT_EQ_INT(r.v[4].type, DW_VAL_BLOB);
    ASSERT_EQ_UINT(r.v[4].n, 4);
    ASSERT_EQ_INT(memcmp(r.v[4].s, blob, 4), 0);
    ASSERT_EQ_INT(r.v[5].type, DW_VAL_BLOB); /* empty blob is not NULL */
    ASSERT_EQ_UINT(r.v[5].n, 0);
    ASSERT_EQ_INT(query_int(s, "SELECT count(*) FROM v WHERE i = $1", &DW_VINT(INT64_MIN), 1), 1);
    dw_store_close(&s);
    free(path);
}

TEST(placeholders_can_repeat_and_come_in_any_order)
{
    char *path = db_path("params");
    struct dw_store *s = open_ok(path);
    struct dw_value p[3] = {DW_VTEXT("a"), DW_VTEXT("b"), DW_VINT(40)};
    struct rows r = {.count = 0};
    char *err = NULL;
    ASSERT_EQ_INT(
        dw_store_exec(s, "SELECT $2, $1, $2 || $1 || $2, $3 + 2, $3", p, 3, keep_row, &r, &err), 0);
    ASSERT_EQ_STR(r.v[0].s, "b");
    ASSERT_EQ_STR(r.v[1].s, "a");
    ASSERT_EQ_STR(r.v[2].s, "bab");
    ASSERT_EQ_INT(r.v[3].i, 42);
    ASSERT_EQ_INT(r.v[4].i, 40);

    /* In writes too: $2 used before $1 and twice. */
    exec_ok(s, "CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT, v2 TEXT)", NULL, 0);
    struct dw_value kv[2] = {DW_VTEXT("key"), DW_VTEXT("val")};
    exec_ok(s, "INSERT INTO kv (v, k, v2) VALUES ($2, $1, $2)", kv, 2);
    char *v2 = query_text(s, "SELECT v2 FROM kv WHERE k = $1 AND v = $2", kv, 2);
    ASSERT_EQ_STR(v2, "val");
    free(v2);
    dw_store_close(&s);
    free(path);
}

TEST(placeholder_mistakes_are_errors)
{
    char *path = db_path("params-bad");
    struct dw_store *s = open_ok(path);
    struct dw_value p[2] = {DW_VINT(1), DW_VINT(2)};
    char *err = NULL;
    ASSERT_EQ_INT(dw_store_exec(s, "SELECT $1, $3", p, 2, NULL, NULL, &err), -1);
    ASSERT_CONTAINS(err, "placeholder $3 but only 2 parameters given");
    free(err);
    err = NULL;
    ASSERT_EQ_INT(dw_store_exec(s, "SELECT $1", p, 2, NULL, NULL, &err), -1);
    ASSERT_CONTAINS(err, "2 parameters given but the statement uses up to $1");
    free(err);
    err = NULL;
    ASSERT_EQ_INT(dw_store_exec(s, "SELECT ?", p, 1, NULL, NULL, &err), -1);
    ASSERT_CONTAINS(err, "not of the form $N");
    free(err);
    err = NULL;
    ASSERT_EQ_INT(dw_store_exec(s, "SELECT :name", p, 1, NULL, NULL, &err), -1);
    ASSERT_CONTAINS(err, "placeholder :name");
    free(err);
    err = NULL;
    ASSERT_EQ_INT(dw_store_exec(s, "SELECT $01", p, 1, NULL, NULL, &err), -1);
    free(err);
    err = NULL;
    /* NULL err is allowed. */
    ASSERT_EQ_INT(dw_store_exec(s, "SELECT $2", p, 1, NULL, NULL, NULL), -1);
    dw_store_close(&s);
    free(path);
}

TEST(statement_errors_carry_sqlites_reason)
{
    char *path = db_path("errors");
    struct dw_store *s = open_ok(path);
    char *err = NULL;
    ASSERT_EQ_INT(dw_store_exec(s, "SELECT * FROM missing_table", NULL, 0, NULL, NULL, &err), -1);
    ASSERT_CONTAINS(err, "no such table: missing_table");
    ASSERT_CONTAINS(err, "(in: SELECT * FROM missing_table)");
    free(err);
    err = NULL;

    exec_ok(s, "CREATE TABLE u (k TEXT PRIMARY KEY)", NULL, 0);
    exec_ok(s, "INSERT INTO u VALUES ('x')", NULL, 0);
    ASSERT_EQ_INT(dw_store_exec(s, "INSERT INTO u VALUES ('x')", NULL, 0, NULL, NULL, &err), -1);
    ASSERT_CONTAINS(err, "UNIQUE constraint failed: u.k");
    free(err);
    err = NULL;

    ASSERT_EQ_INT(dw_store_exec(s, "SELEC 1", NULL, 0, NULL, NULL, &err), -1);
    ASSERT_CONTAINS(err, "syntax error");
    free(err);
    err = NULL;

    ASSERT_EQ_INT(dw_store_exec(s, "DELETE FROM u; DROP TABLE u", NULL, 0, NULL, NULL, &err), -1);
    ASSERT_CONTAINS(err, "more than one statement");
    free(err);
    err = NULL;
    ASSERT_EQ_INT(query_int(s, "SELECT count(*) FROM u", NULL, 0), 1); /* nothing ran */
    exec_ok(s, "SELECT 1; -- trailing comments are fine\n", NULL, 0);

    ASSERT_EQ_INT(dw_store_exec(s, "  -- only a comment", NULL, 0, NULL, NULL, &err), -1);
    ASSERT_CONTAINS(err, "empty statement");
    free(err);
    dw_store_close(&s);
    free(path);
}

static int stop_after_one(void *ctx, const struct dw_value *cols, size_t ncols)
{
    (*(int *)ctx)++;
    return 1;
}

struct nested_read {
    struct dw_store *s;
    int64_t inner_sum;
    int rows;
};

/* Runs the same SQL again from inside a row callback. */
static int nested_cb(void *ctx, const struct dw_value *cols, size_t ncols)
{
    struct nested_read *n = ctx;
    n->rows++;
    struct dw_value p = DW_VINT(cols[0].i);
    int64_t v = 0;
    if (dw_store_exec(n->s, "SELECT x FROM nums WHERE x >= $1 ORDER BY x", &p, 1, first_int_cb, &v,
                      NULL) == 0)
        n->inner_sum += v;
    return 0;
}

TEST(row_callbacks_can_stop_early_and_nest)
{
    char *path = db_path("callbacks");
    /* One pooled reader: the nested reads need overflow connections. */
    struct dw_store_options o = {.readers = 1};
    char *err = NULL;
    struct dw_store *s = dw_store_open_with(path, &o, &err);
    ASSERT_NOT_NULL(s);
    exec_ok(s, "CREATE TABLE nums (x INTEGER)", NULL, 0);
    exec_ok(s, "INSERT INTO nums VALUES (1), (2), (3)", NULL, 0);
    int calls = 0;
    ASSERT_EQ_INT(dw_store_exec(s, "SELECT x FROM nums", NULL, 0, stop_after_one, &calls, NULL), 0);
    ASSERT_EQ_INT(calls, 1);

    struct nested_read n = {.s = s};
    ASSERT_EQ_INT(dw_store_exec(s, "SELECT x FROM nums WHERE x >= $1 ORDER BY x", &DW_VINT(1), 1,
                                nested_cb, &n, NULL),
                  0);
    ASSERT_EQ_INT(n.rows, 3);
    ASSERT_EQ_INT(n.inner_sum, 1 + 2 + 3);
    struct dw_store_stats st;
    dw_store_stats(s, &st);
    ASSERT_EQ_UINT(st.readers_open, 1 + 3);
    dw_store_close(&s);
    free(path);
}

TEST(with_insert_is_routed_to_the_writer)
{
    char *path = db_path("route");
    struct dw_store *s = open_ok(path);
    exec_ok(s, "CREATE TABLE r (x INTEGER)", NULL, 0);
    exec_ok(s, "WITH src(v) AS (VALUES (7), (8)) INSERT INTO r SELECT v FROM src", NULL, 0);
    ASSERT_EQ_INT(dw_store_changes(s), 2);
    ASSERT_EQ_INT(query_int(s, "SELECT sum(x) FROM r", NULL, 0), 15);
    exec_ok(s, "UPDATE r SET x = x + 1", NULL, 0);
    ASSERT_EQ_INT(dw_store_changes(s), 2);
    exec_ok(s, "DELETE FROM r WHERE x = 8", NULL, 0);
    ASSERT_EQ_INT(dw_store_changes(s), 1);
    dw_store_close(&s);
    free(path);
}

TEST(statement_cache_is_bounded_and_reused)
{
    char *path = db_path("cache");
    char *err = NULL;
    struct dw_store_options o = {.stmt_cache = 4, .readers = 1};
    struct dw_store *s = dw_store_open_with(path, &o, &err);
    ASSERT_NOT_NULL(s);
    struct dw_store_stats before, after;
    for (int i = 0; i < 40; i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "SELECT %d", i);
        exec_ok(s, sql, NULL, 0);
    }
    dw_store_stats(s, &before);
    ASSERT_TRUE(before.cached <= 4 * 2); /* writer + one reader */
    ASSERT_TRUE(before.cache_misses >= 40);
    for (int i = 0; i < 10; i++)
        exec_ok(s, "SELECT 39", NULL, 0);
    dw_store_stats(s, &after);
    ASSERT_EQ_UINT(after.cache_hits - before.cache_hits, 10);
    ASSERT_EQ_UINT(after.cache_misses, before.cache_misses);
    ASSERT_EQ_UINT(after.readers_open, 1);
    dw_store_close(&s);
    free(path);
}

/* ---- transactions ---- */

struct tx_ctx {
    const char *name;
    int result;
    bool bad_statement;
};

static int insert_name(struct dw_store *s, void *ctx)
{
    struct tx_ctx *c = ctx;
    struct dw_value p = DW_VTEXT(c->name);
    if (dw_store_exec(s, "INSERT INTO t (name) VALUES ($1)", &p, 1, NULL, NULL, NULL) != 0)
        return -1;
    /* Reads inside the transaction see its own uncommitted row. */
    if (query_int(s, "SELECT count(*) FROM t WHERE name = $1", &p, 1) != 1)
        return -2;
    if (c->bad_statement &&
        dw_store_exec(s, "INSERT INTO nowhere VALUES (1)", NULL, 0, NULL, NULL, NULL) != 0)
        return -3;
    return c->result;
}

static int64_t count_name(struct dw_store *s, const char *name)
{
    struct dw_value p = DW_VTEXT(name);
    return query_int(s, "SELECT count(*) FROM t WHERE name = $1", &p, 1);
}

TEST(tx_commits_on_zero_and_rolls_back_otherwise)
{
    char *path = db_path("tx");
    struct dw_store *s = open_ok(path);
    exec_ok(s, "CREATE TABLE t (name TEXT)", NULL, 0);
    char *err = NULL;
    struct tx_ctx ok = {.name = "kept", .result = 0};
    ASSERT_EQ_INT(dw_store_tx(s, insert_name, &ok, &err), 0);
    ASSERT_NULL(err);
    ASSERT_EQ_INT(count_name(s, "kept"), 1);

    struct tx_ctx fail = {.name = "dropped", .result = 7};
    ASSERT_EQ_INT(dw_store_tx(s, insert_name, &fail, &err), 7);
    ASSERT_NULL(err); /* fn failed on its own: no store error to report */
    ASSERT_EQ_INT(count_name(s, "dropped"), 0);

    struct tx_ctx bad = {.name = "also-dropped", .bad_statement = true};
    ASSERT_EQ_INT(dw_store_tx(s, insert_name, &bad, &err), -3);
    ASSERT_CONTAINS(err, "no such table: nowhere");
    free(err);
    err = NULL;
    ASSERT_EQ_INT(count_name(s, "also-dropped"), 0);

    struct dw_store_stats st;
    dw_store_stats(s, &st);
    ASSERT_TRUE(st.rollbacks >= 2);
    ASSERT_TRUE(st.commits >= 1);
    dw_store_close(&s);
    free(path);
}

struct nest_ctx {
    int inner_result;
    int outer_result;
    int inner_rc;
    char *inner_err;
    bool inner_bad;
};

static int nest_inner(struct dw_store *s, void *ctx)
{
    struct nest_ctx *c = ctx;
    exec_ok(s, "INSERT INTO t (name) VALUES ('inner')", NULL, 0);
    if (c->inner_bad)
        dw_store_exec(s, "INSERT INTO nowhere VALUES (1)", NULL, 0, NULL, NULL, NULL);
    return c->inner_result;
}

static int nest_outer(struct dw_store *s, void *ctx)
{
    struct nest_ctx *c = ctx;
    exec_ok(s, "INSERT INTO t (name) VALUES ('outer')", NULL, 0);
    c->inner_rc = dw_store_tx(s, nest_inner, c, &c->inner_err);
    /* The outer transaction goes on after an inner failure. */
    exec_ok(s, "INSERT INTO t (name) VALUES ('after')", NULL, 0);
    return c->outer_result;
}

TEST(nested_tx_joins_the_outer_one)
{
    char *path = db_path("tx-nested");
    struct dw_store *s = open_ok(path);
    exec_ok(s, "CREATE TABLE t (name TEXT)", NULL, 0);

    struct nest_ctx both = {0};
    ASSERT_EQ_INT(dw_store_tx(s, nest_outer, &both, NULL), 0);
    ASSERT_EQ_INT(both.inner_rc, 0);
    ASSERT_EQ_INT(count_name(s, "outer"), 1);
    ASSERT_EQ_INT(count_name(s, "inner"), 1);
    exec_ok(s, "DELETE FROM t", NULL, 0);

    /* Inner fails: only its own insert is undone. */
    struct nest_ctx inner_fails = {.inner_result = 5, .inner_bad = true};
    ASSERT_EQ_INT(dw_store_tx(s, nest_outer, &inner_fails, NULL), 0);
    ASSERT_EQ_INT(inner_fails.inner_rc, 5);
    ASSERT_CONTAINS(inner_fails.inner_err, "no such table: nowhere");
    free(inner_fails.inner_err);
    ASSERT_EQ_INT(count_name(s, "outer"), 1);
    ASSERT_EQ_INT(count_name(s, "inner"), 0);
    ASSERT_EQ_INT(count_name(s, "after"), 1);
    exec_ok(s, "DELETE FROM t", NULL, 0);

    /* Outer fails after the inner succeeded: nothing was committed early. */
    struct nest_ctx outer_fails = {.outer_result = 9};
    ASSERT_EQ_INT(dw_store_tx(s, nest_outer, &outer_fails, NULL), 9);
    ASSERT_EQ_INT(outer_fails.inner_rc, 0);
    ASSERT_EQ_INT(query_int(s, "SELECT count(*) FROM t", NULL, 0), 0);
    dw_store_close(&s);
    free(path);
}

static int run_commit(struct dw_store *s, void *ctx)
{
    return dw_store_exec(s, "COMMIT", NULL, 0, NULL, NULL, NULL);
}

static int migrate_inside(struct dw_store *s, void *ctx)
{
    char **err = ctx;
    return dw_store_migrate(s, "inside", alert_v3, 1, err) == -1 ? 0 : 1;
}

TEST(tx_misuse_is_reported)
{
    char *path = db_path("tx-misuse");
    struct dw_store *s = open_ok(path);
    char *err = NULL;
    ASSERT_EQ_INT(dw_store_tx(s, run_commit, NULL, &err), -1);
    ASSERT_CONTAINS(err, "must not run BEGIN, COMMIT or ROLLBACK");
    free(err);
    err = NULL;
    char *inner = NULL;
    ASSERT_EQ_INT(dw_store_tx(s, migrate_inside, &inner, &err), 0);
    ASSERT_CONTAINS(inner, "cannot run inside a transaction");
    free(inner);
    ASSERT_EQ_INT(dw_store_schema_version(s, "inside"), 0);
    /* The store still works. */
    exec_ok(s, "CREATE TABLE ok (x INTEGER)", NULL, 0);
    dw_store_close(&s);
    free(path);
}

/* ---- concurrency ---- */

struct writer_arg {
    struct dw_store *s;
    int id;
    int failures;
    char *first_err;
};

static int insert_in_tx(struct dw_store *s, void *ctx)
{
    struct dw_value *p = ctx;
    return dw_store_exec(s, "INSERT INTO w (thread, n) VALUES ($1, $2)", p, 2, NULL, NULL, NULL);
}

static void *writer_thread(void *arg)
{
    struct writer_arg *a = arg;
    for (int i = 0; i < 500; i++) {
        struct dw_value p[2] = {DW_VINT(a->id), DW_VINT(i)};
        char *err = NULL;
        /* Mix plain statements, transactions and reads. */
        int rc = i % 5 == 0 ? dw_store_tx(a->s, insert_in_tx, p, &err)
                            : dw_store_exec(a->s, "INSERT INTO w (thread, n) VALUES ($1, $2)", p, 2,
                                            NULL, NULL, &err);
        if (rc == 0 && i % 50 == 0)
            rc = dw_store_exec(a->s, "SELECT count(*) FROM w WHERE thread = $1", p, 1, NULL, NULL,
                               &err);
        if (rc != 0) {
            a->failures++;
            if (!a->first_err)
                a->first_err = err;
            else
                free(err);
        }
    }
    return NULL;
}

TEST(four_writers_lose_no_rows)
{
    char *path = db_path("writers");
    struct dw_store *s = open_ok(path);
    exec_ok(s, "CREATE TABLE w (thread INTEGER, n INTEGER, PRIMARY KEY (thread, n))", NULL, 0);
    pthread_t th[4];
    struct writer_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct writer_arg){.s = s, .id = i};
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, writer_thread, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++) {
        if (args[i].first_err)
            fprintf(stderr, "  thread %d: %s\n", i, args[i].first_err);
        free(args[i].first_err);
        ASSERT_EQ_INT(args[i].failures, 0);
    }
    ASSERT_EQ_INT(query_int(s, "SELECT count(*) FROM w", NULL, 0), 2000);
    ASSERT_EQ_INT(query_int(s, "SELECT count(DISTINCT thread) FROM w", NULL, 0), 4);
    ASSERT_EQ_INT(query_int(s, "SELECT sum(n) FROM w", NULL, 0), 4 * (499 * 500 / 2));
    struct dw_store_stats st;
    dw_store_stats(s, &st);
    ASSERT_EQ_UINT(st.busy_retries, 0); /* the writer mutex, not SQLITE_BUSY, serialises */
    dw_store_close(&s);
    free(path);
}

struct long_tx {
    struct dw_store *s;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool inserted;
    bool go;
    int rc;
};

static int long_tx_fn(struct dw_store *s, void *ctx)
{
    struct long_tx *l = ctx;
    exec_ok(s, "INSERT INTO snap VALUES (2)", NULL, 0);
    pthread_mutex_lock(&l->lock);
    l->inserted = true;
    pthread_cond_broadcast(&l->cond);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 5; /* a broken store fails the test instead of hanging it */
    while (!l->go && pthread_cond_timedwait(&l->cond, &l->lock, &deadline) == 0) {
    }
    pthread_mutex_unlock(&l->lock);
    return 0;
}

static void *long_tx_thread(void *arg)
{
    struct long_tx *l = arg;
    l->rc = dw_store_tx(l->s, long_tx_fn, l, NULL);
    return NULL;
}

TEST(reader_is_not_blocked_by_a_long_write_tx)
{
    char *path = db_path("snapshot");
    struct dw_store *s = open_ok(path);
    exec_ok(s, "CREATE TABLE snap (x INTEGER)", NULL, 0);
    exec_ok(s, "INSERT INTO snap VALUES (1)", NULL, 0);
    struct long_tx l = {.s = s};
    pthread_mutex_init(&l.lock, NULL);
    pthread_cond_init(&l.cond, NULL);
    pthread_t th;
    ASSERT_EQ_INT(pthread_create(&th, NULL, long_tx_thread, &l), 0);
    pthread_mutex_lock(&l.lock);
    while (!l.inserted)
        pthread_cond_wait(&l.cond, &l.lock);
    pthread_mutex_unlock(&l.lock);

    /* The writer holds an open transaction with a new row: readers answer at
     * once from the last committed state. */
    int64_t t0 = dw_mono_ns();
    int64_t count = query_int(s, "SELECT count(*) FROM snap", NULL, 0);
    int64_t took_ms = (dw_mono_ns() - t0) / 1000000;

    pthread_mutex_lock(&l.lock);
    l.go = true;
    pthread_cond_broadcast(&l.cond);
    pthread_mutex_unlock(&l.lock);
    pthread_join(th, NULL);
    ASSERT_EQ_INT(count, 1);
    ASSERT_TRUE(took_ms < 1000);
    ASSERT_EQ_INT(l.rc, 0);
    ASSERT_EQ_INT(query_int(s, "SELECT count(*) FROM snap", NULL, 0), 2);
    pthread_cond_destroy(&l.cond);
    pthread_mutex_destroy(&l.lock);
    dw_store_close(&s);
    free(path);
}

struct locker {
    sqlite3 *raw;
    int hold_ms;
};

static void *release_later(void *arg)
{
    struct locker *k = arg;
    sleep_ms(k->hold_ms);
    sqlite3_exec(k->raw, "COMMIT", NULL, NULL, NULL);
    return NULL;
}

static int insert_one(struct dw_store *s, void *ctx)
{
    return dw_store_exec(s, "INSERT INTO b VALUES (1)", NULL, 0, NULL, NULL, NULL);
}

TEST(busy_from_another_process_is_retried_then_reported)
{
    char *path = db_path("busy");
    char *err = NULL;
    struct dw_store_options o = {.busy_timeout_ms = 20};
    struct dw_store *s = dw_store_open_with(path, &o, &err);
    ASSERT_NOT_NULL(s);
    exec_ok(s, "CREATE TABLE b (x INTEGER)", NULL, 0);
    /* A second connection stands in for another process (sqlite3 shell). */
    struct locker k = {.hold_ms = 150};
    ASSERT_EQ_INT(sqlite3_open(path, &k.raw), SQLITE_OK);
    ASSERT_EQ_INT(sqlite3_exec(k.raw, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    pthread_t th;
    ASSERT_EQ_INT(pthread_create(&th, NULL, release_later, &k), 0);
    int rc = dw_store_tx(s, insert_one, NULL, &err);
    pthread_join(th, NULL);
    if (err)
        fprintf(stderr, "  %s\n", err);
    ASSERT_EQ_INT(rc, 0);
    struct dw_store_stats st;
    dw_store_stats(s, &st);
    ASSERT_TRUE(st.busy_retries > 0);

    /* Plain statements outside a transaction are retried too. */
    ASSERT_EQ_INT(sqlite3_exec(k.raw, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    ASSERT_EQ_INT(pthread_create(&th, NULL, release_later, &k), 0);
    rc = dw_store_exec(s, "INSERT INTO b VALUES (2)", NULL, 0, NULL, NULL, &err);
    pthread_join(th, NULL);
    ASSERT_EQ_INT(rc, 0);

    /* Held for longer than the bounded retries: a clear error, no hang. */
    ASSERT_EQ_INT(sqlite3_exec(k.raw, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    int64_t t0 = dw_mono_ns();
    ASSERT_EQ_INT(dw_store_tx(s, insert_one, NULL, &err), -1);
    int64_t took_ms = (dw_mono_ns() - t0) / 1000000;
    ASSERT_CONTAINS(err, "database is locked");
    ASSERT_CONTAINS(err, "another process");
    free(err);
    err = NULL;
    ASSERT_TRUE(took_ms < 3000);
    sqlite3_exec(k.raw, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(k.raw);
    ASSERT_EQ_INT(query_int(s, "SELECT count(*) FROM b", NULL, 0), 2);
    dw_store_close(&s);
    free(path);
}

/* ---- durability: a VFS shim counts fsyncs of the WAL ---- */

struct count_file {
    sqlite3_file base;
    sqlite3_file *real;
    bool wal;
};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs count_vfs;
static atomic_int wal_syncs;

#define REAL(f) (((struct count_file *)(f))->real)

static int c_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}
static int c_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{
    return REAL(f)->pMethods->xRead(REAL(f), b, n, o);
}
static int c_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
    return REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int c_truncate(sqlite3_file *f, sqlite3_int64 n)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), n);
}
static int c_sync(sqlite3_file *f, int flags)
{
    if (((struct count_file *)f)->wal)
        atomic_fetch_add(&wal_syncs, 1);
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int c_size(sqlite3_file *f, sqlite3_int64 *n)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), n);
}
static int c_lock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int c_unlock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int c_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int c_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int c_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int c_device(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int c_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **p)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, p);
}
static int c_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void c_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int c_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int c_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **p)
{
    return REAL(f)->pMethods->xFetch(REAL(f), o, n, p);
}
static int c_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p)
{
    return REAL(f)->pMethods->xUnfetch(REAL(f), o, p);
}

static const sqlite3_io_methods count_methods = {
    .iVersion = 3,
    .xClose = c_close,
    .xRead = c_read,
    .xWrite = c_write,
    .xTruncate = c_truncate,
    .xSync = c_sync,
    .xFileSize = c_size,
    .xLock = c_lock,
    .xUnlock = c_unlock,
    .xCheckReservedLock = c_reserved,
    .xFileControl = c_control,
    .xSectorSize = c_sector,
    .xDeviceCharacteristics = c_device,
    .xShmMap = c_shm_map,
    .xShmLock = c_shm_lock,
    .xShmBarrier = c_shm_barrier,
    .xShmUnmap = c_shm_unmap,
    .xFetch = c_fetch,
    .xUnfetch = c_unfetch,
};

static int c_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags, int *out)
{
    struct count_file *cf = (struct count_file *)f;
    cf->real = (sqlite3_file *)(cf + 1);
    cf->wal = (flags & SQLITE_OPEN_WAL) != 0;
    int rc = real_vfs->xOpen(real_vfs, name, cf->real, flags, out);
    f->pMethods = rc == SQLITE_OK && cf->real->pMethods ? &count_methods : NULL;
    return rc;
}

static int64_t syncs_during(struct dw_store *s, int (*fn)(struct dw_store *, void *), bool durable)
{
    atomic_store(&wal_syncs, 0);
    char *err = NULL;
    int rc = durable ? dw_store_tx_durable(s, fn, NULL, &err) : dw_store_tx(s, fn, NULL, &err);
    free(err);
    ASSERT_EQ_INT(rc, 0);
    return atomic_load(&wal_syncs);
}

static int insert_outbox(struct dw_store *s, void *ctx)
{
    return dw_store_exec(s, "INSERT INTO outbox VALUES (1)", NULL, 0, NULL, NULL, NULL);
}

static int nested_durable(struct dw_store *s, void *ctx)
{
    char **err = ctx;
    return dw_store_tx_durable(s, insert_outbox, NULL, err) == -1 ? 0 : 1;
}

TEST(durable_commits_fsync_the_wal_and_normal_ones_do_not)
{
    real_vfs = sqlite3_vfs_find(NULL);
    count_vfs = *real_vfs;
    count_vfs.zName = "dw-count";
    count_vfs.szOsFile = (int)sizeof(struct count_file) + real_vfs->szOsFile;
    count_vfs.xOpen = c_open;
    count_vfs.pNext = NULL;
    ASSERT_EQ_INT(sqlite3_vfs_register(&count_vfs, 1), SQLITE_OK);

    char *path = db_path("durable");
    char *err = NULL;
    struct dw_store *s = dw_store_open(path, &err);
    bool opened = s != NULL;
    int64_t warm = 0, normal = 0, durable = 0, normal_again = 0, all_durable = 0;
    int nested_rc = 0;
    char *nested_err = NULL;
    if (opened) {
        exec_ok(s, "CREATE TABLE outbox (x INTEGER)", NULL, 0);
        warm = syncs_during(s, insert_outbox, false); /* a fresh WAL syncs its header once */
        normal = syncs_during(s, insert_outbox, false) + syncs_during(s, insert_outbox, false);
        durable = syncs_during(s, insert_outbox, true);
        normal_again = syncs_during(s, insert_outbox, false);
        nested_rc = dw_store_tx(s, nested_durable, &nested_err, NULL);
        ASSERT_EQ_INT(dw_store_set_durable(s, true, &err), 0);
        all_durable = syncs_during(s, insert_outbox, false);
        ASSERT_EQ_INT(query_int(s, "PRAGMA synchronous", NULL, 0), 2); /* FULL */
        dw_store_close(&s);
    }
    sqlite3_vfs_register(real_vfs, 1);
    sqlite3_vfs_unregister(&count_vfs);
    free(path);
    ASSERT_TRUE(opened);
    (void)warm;
    ASSERT_EQ_INT(normal, 0);
    ASSERT_TRUE(durable >= 1);
    ASSERT_EQ_INT(normal_again, 0); /* back to NORMAL after the durable one */
    ASSERT_TRUE(all_durable >= 1);
    ASSERT_EQ_INT(nested_rc, 0);
    ASSERT_CONTAINS(nested_err, "cannot be nested in a non-durable one");
    free(nested_err);
}

/* ---- meta and config history ---- */

TEST(meta_get_and_set)
{
    char *path = db_path("meta");
    struct dw_store *s = open_ok(path);
    char *v = NULL, *err = NULL;
    ASSERT_EQ_INT(dw_store_meta_get(s, "last_backup", &v, &err), 0);
    ASSERT_NULL(v);
    ASSERT_EQ_INT(dw_store_meta_set(s, "last_backup", "2024-05-01", &err), 0);
    ASSERT_EQ_INT(dw_store_meta_get(s, "last_backup", &v, &err), 1);
    ASSERT_EQ_STR(v, "2024-05-01");
    free(v);
    ASSERT_EQ_INT(dw_store_meta_set(s, "last_backup", "2024-06-01", &err), 0);
    ASSERT_EQ_INT(dw_store_meta_get(s, "last_backup", &v, &err), 1);
    ASSERT_EQ_STR(v, "2024-06-01");
    free(v);
    ASSERT_EQ_INT(query_int(s, "SELECT count(*) FROM meta WHERE key = 'last_backup'", NULL, 0), 1);

    char *id_before = dw_strdup(dw_store_instance_id(s));
    ASSERT_EQ_INT(dw_store_meta_set(s, "instance_id", "forged", &err), -1);
    ASSERT_CONTAINS(err, "set once");
    free(err);
    ASSERT_EQ_INT(dw_store_meta_get(s, "instance_id", &v, NULL), 1);
    ASSERT_EQ_STR(v, id_before);
    free(v);
    free(id_before);
    dw_store_close(&s);
    free(path);
}

struct config_rows {
    int n;
    int64_t loaded_at[4];
    char hash[4][16];
    int64_t ok[4];
    char error[4][64];
    bool error_null[4];
};

static int collect_config(void *ctx, const struct dw_value *cols, size_t ncols)
{
    struct config_rows *r = ctx;
    if (r->n >= 4 || ncols != 4)
        return 1;
    r->loaded_at[r->n] = cols[0].i;
    dw_strlcpy(r->hash[r->n], cols[1].type == DW_VAL_TEXT ? cols[1].s : "", 16);
    r->ok[r->n] = cols[2].i;
    r->error_null[r->n] = cols[3].type == DW_VAL_NULL;
    dw_strlcpy(r->error[r->n], cols[3].type == DW_VAL_TEXT ? cols[3].s : "", 64);
    r->n++;
    return 0;
}

TEST(config_history_records_loads)
{
    char *path = db_path("config");
    struct dw_store *s = open_ok(path);
    char *err = NULL;
    int64_t id1 = dw_store_record_config(s, 1000, "aaa", "/etc/dojowatch.yml", true, NULL, &err);
    int64_t id2 = dw_store_record_config(s, 2000, "bbb", "/etc/dojowatch.yml", false,
                                         "dojowatch.yml:3:5: rules.for: bad duration", &err);
    ASSERT_TRUE(id1 > 0);
    ASSERT_TRUE(id2 > id1);
    struct config_rows r = {.n = 0};
    ASSERT_EQ_INT(dw_store_exec(s,
                                "SELECT loaded_at, hash, ok, error FROM config_history ORDER BY "
                                "id",
                                NULL, 0, collect_config, &r, &err),
                  0);
    ASSERT_EQ_INT(r.n, 2);
    ASSERT_EQ_INT(r.loaded_at[0], 1000);
    ASSERT_EQ_STR(r.hash[0], "aaa");
    ASSERT_EQ_INT(r.ok[0], 1);
    ASSERT_TRUE(r.error_null[0]);
    ASSERT_EQ_INT(r.loaded_at[1], 2000);
    ASSERT_EQ_INT(r.ok[1], 0);
    ASSERT_EQ_STR(r.error[1], "dojowatch.yml:3:5: rules.for: bad duration");
    dw_store_close(&s);
    free(path);
}

TEST(config_history_cuts_long_texts_on_a_character_boundary)
{
    char *path = db_path("config-limits");
    struct dw_store *s = open_ok(path);
    /* "é" is two bytes; after one ASCII byte every character starts at an
     * odd offset, so a plain cut at the (even) limit would split one. */
    size_t n = DW_STORE_CONFIG_ERROR_MAX * 2 + 1;
    char *long_error = dw_malloc(n + 1);
    long_error[0] = 'x';
    for (size_t i = 1; i < n; i += 2)
        memcpy(long_error + i, "é", 2);
    long_error[n] = '\0';
    char *long_path = dw_malloc(DW_STORE_CONFIG_PATH_MAX + 101);
    memset(long_path, 'p', DW_STORE_CONFIG_PATH_MAX + 100);
    long_path[DW_STORE_CONFIG_PATH_MAX + 100] = '\0';
    char *err = NULL;
    int64_t id = dw_store_record_config(s, 1, "h", long_path, false, long_error, &err);
    ASSERT_TRUE(id > 0);
    struct dw_value p = DW_VINT(id);
    ASSERT_TRUE(query_int(s, "SELECT length(CAST(error AS BLOB)) FROM config_history WHERE id = $1",
                          &p, 1) <= DW_STORE_CONFIG_ERROR_MAX);
    ASSERT_EQ_INT(
        query_int(s, "SELECT length(CAST(path AS BLOB)) FROM config_history WHERE id = $1", &p, 1),
        DW_STORE_CONFIG_PATH_MAX);
    char *stored = query_text(s, "SELECT error FROM config_history WHERE id = $1", &p, 1);
    ASSERT_TRUE(dw_str_has_suffix(stored, "é [truncated]"));
    free(stored);
    /* Exactly at the limit is kept whole. */
    long_path[DW_STORE_CONFIG_PATH_MAX] = '\0';
    id = dw_store_record_config(s, 2, "h", long_path, true, NULL, &err);
    p = DW_VINT(id);
    char *kept = query_text(s, "SELECT path FROM config_history WHERE id = $1", &p, 1);
    ASSERT_EQ_STR(kept, long_path);
    free(kept);
    free(long_error);
    free(long_path);
    dw_store_close(&s);
    free(path);
}

static int record_many(struct dw_store *s, void *ctx)
{
    int *count = ctx;
    for (int i = 0; i < *count; i++)
        if (dw_store_record_config(s, i, "h", "p", true, NULL, NULL) < 0)
            return -1;
    return 0;
}

TEST(config_history_keeps_only_the_newest_rows)
{
    char *path = db_path("config-retention");
    struct dw_store *s = open_ok(path);
    int count = DW_STORE_CONFIG_HISTORY_MAX + 25;
    ASSERT_EQ_INT(dw_store_tx(s, record_many, &count, NULL), 0); /* nested record calls join */
    ASSERT_EQ_INT(query_int(s, "SELECT count(*) FROM config_history", NULL, 0),
                  DW_STORE_CONFIG_HISTORY_MAX);
    ASSERT_EQ_INT(query_int(s, "SELECT min(loaded_at) FROM config_history", NULL, 0), 25);
    ASSERT_EQ_INT(query_int(s, "SELECT max(loaded_at) FROM config_history", NULL, 0), count - 1);
    dw_store_close(&s);
    free(path);
}

/* ---- maintenance ---- */

TEST(check_passes_on_a_healthy_store_and_fails_on_a_damaged_one)
{
    char *path = db_path("check");
    struct dw_store *s = open_ok(path);
    char *err = NULL;
    ASSERT_EQ_INT(dw_store_check(s, &err), 0);
    ASSERT_NULL(err);
    exec_ok(s, "CREATE TABLE big (id INTEGER PRIMARY KEY, body TEXT)", NULL, 0);
    exec_ok(s, "CREATE INDEX big_body ON big (body)", NULL, 0);
    exec_ok(s,
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
            "INSERT INTO big (body) SELECT printf('row %d %0100d', i, i) FROM n",
            NULL, 0);
    dw_store_close(&s); /* checkpoints everything into the main file */

    /* Scribble over a page near the end (table or index data, not the schema). */
    FILE *f = fopen(path, "r+b");
    ASSERT_NOT_NULL(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    ASSERT_TRUE(size > 20 * 4096);
    fseek(f, size - 3 * 4096, SEEK_SET);
    char junk[4096];
    memset(junk, 0x5a, sizeof junk);
    fwrite(junk, 1, sizeof junk, f);
    fclose(f);

    s = open_ok(path); /* fast start: does not read every page */
    ASSERT_EQ_INT(dw_store_check(s, &err), -1);
    ASSERT_CONTAINS(err, path);
    free(err);
    dw_store_close(&s);
    free(path);
}

TEST_MAIN()
