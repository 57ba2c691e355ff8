/*
 * store.c - opening and closing the store, the reader pool and the routing
 * of dw_store_exec between the writer and the readers.
 *
 * DESIGN
 * - Connections: one writer (read-write, WAL, foreign keys on) used under
 *   write_lock (tx.c), and up to opts.readers read-only connections opened on
 *   demand. In WAL mode a reader sees the last committed state and is never
 *   blocked by the writer, so monitoring queries keep answering during a long
 *   write transaction.
 * - Routing: a statement whose first keyword is SELECT/WITH/VALUES/EXPLAIN
 *   goes to a reader, unless sqlite3_stmt_readonly() says it writes (WITH ...
 *   INSERT), in which case it moves to the writer; everything else (INSERT,
 *   UPDATE, DELETE, CREATE, PRAGMA ...) goes to the writer. A thread that
 *   holds the writer (inside dw_store_tx, or in a row callback of a write)
 *   uses it for everything, so it reads its own uncommitted rows.
 * - Reader pool: a thread that already has a reader checked out (nested call
 *   from a row callback) never waits for another one: if the pool is empty it
 *   gets a temporary overflow connection, so nesting cannot deadlock.
 * - Start-up is fast and checked: no integrity_check (O(file size)); instead
 *   the first statements read the header and schema, which turns a non-SQLite
 *   or damaged file into a clear error, and every pragma is read back.
 * Threads: any thread may call any function except dw_store_close.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store_internal.h"

/* "DJWT": marks the file as dojowatch's (PRAGMA application_id). */
#define DW_STORE_APPLICATION_ID 0x444a5754

static _Thread_local int readers_held;
static _Thread_local struct dw_store *changes_store;
static _Thread_local int64_t changes_count;

/* ---- opening ---- */

static int first_int(void *ctx, const struct dw_value *cols, size_t ncols)
{
    if (ncols > 0 && cols[0].type == DW_VAL_INT)
        *(int64_t *)ctx = cols[0].i;
    return 1;
}

static int first_text(void *ctx, const struct dw_value *cols, size_t ncols)
{
    char *out = ctx;
    if (ncols > 0 && cols[0].type == DW_VAL_TEXT)
        dw_strlcpy(out, cols[0].s, 32);
    return 1;
}

/* Turns the first failure on a fresh file into advice for the operator. */
static char *open_error(struct dw_store *s, int rc, const char *detail)
{
    const char *msg = sqlite3_errstr(rc);
    switch (rc) {
    case SQLITE_NOTADB:
        return dw_asprintf("%s is not a SQLite database (%s); move it away or choose another "
                           "--data",
                           s->path, msg);
    case SQLITE_CORRUPT:
        return dw_asprintf("%s is damaged (%s); restore a backup, move it away or choose "
                           "another --data",
                           s->path, msg);
    default: return dw_asprintf("cannot open %s: %s", s->path, detail);
    }
}

/* Runs a set-up statement on the writer; fn reads its single row. */
static int setup_run(struct dw_store *s, const char *sql, dw_store_row_fn fn, void *ctx, char **err)
{
    char *e = NULL;
    int rc = dw_store__run(&s->writer, sql, NULL, 0, fn, ctx, DW_STORE_BUSY_RETRIES, &e);
    if (rc != SQLITE_OK)
        *err = open_error(s, rc, e);
    free(e);
    return rc == SQLITE_OK ? 0 : -1;
}

/* Refuses SQLite files that belong to another program: writing our tables
 * into them would damage both. */
static int check_owner(struct dw_store *s, int64_t *app_id_out, char **err)
{
    int64_t app_id = 0, tables = 0, ours = 0;
    if (setup_run(s, "PRAGMA application_id", first_int, &app_id, err) != 0 ||
        setup_run(s, "SELECT count(*) FROM sqlite_master", first_int, &tables, err) != 0 ||
        setup_run(s,
                  "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                  "name = 'schema_migrations'",
                  first_int, &ours, err) != 0)
        return -1;
    *app_id_out = app_id;
    if (app_id == DW_STORE_APPLICATION_ID || (app_id == 0 && (tables == 0 || ours)))
        return 0;
    *err = dw_asprintf("%s is a SQLite database of another program (application_id %lld, %lld "
                       "schema objects); move it away or choose another --data",
                       s->path, (long long)app_id, (long long)tables);
    return -1;
}

static int configure_writer(struct dw_store *s, char **err)
{
    char mode[32] = "";
    int64_t fk = 0, app_id = 0, sync_level = -1;
    /* check_owner reads the file header first, so a non-SQLite file fails
     * there (SQLITE_NOTADB) and a foreign database is refused before we
     * change anything in it (journal mode, application_id). */
    if (check_owner(s, &app_id, err) != 0 ||
        setup_run(s, "PRAGMA journal_mode=WAL", first_text, mode, err) != 0)
        return -1;
    if (strcasecmp(mode, "wal") != 0) {
        *err = dw_asprintf("cannot open %s: WAL journal mode unavailable (got \"%s\"); use a "
                           "file on a local filesystem",
                           s->path, mode);
        return -1;
    }
    const char *sync =
        atomic_load(&s->durable) ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
    if (setup_run(s, sync, NULL, NULL, err) != 0 ||
        setup_run(s, "PRAGMA synchronous", first_int, &sync_level, err) != 0 ||
        setup_run(s, "PRAGMA foreign_keys=ON", NULL, NULL, err) != 0 ||
        setup_run(s, "PRAGMA foreign_keys", first_int, &fk, err) != 0)
        return -1;
    if (sync_level != (atomic_load(&s->durable) ? 2 : 1)) { /* 1 NORMAL, 2 FULL */
        *err = dw_asprintf("cannot open %s: synchronous is %lld after setting it", s->path,
                           (long long)sync_level);
        return -1;
    }
    if (fk != 1) {
        *err = dw_asprintf("cannot open %s: this SQLite cannot enforce foreign keys", s->path);
        return -1;
    }
    /* Keep the WAL file from staying huge after a burst of writes. */
    if (setup_run(s, "PRAGMA journal_size_limit=67108864", NULL, NULL, err) != 0)
        return -1;
    if (app_id == DW_STORE_APPLICATION_ID)
        return 0;
    char set_id[64];
    snprintf(set_id, sizeof set_id, "PRAGMA application_id=%d", DW_STORE_APPLICATION_ID);
    return setup_run(s, set_id, NULL, NULL, err);
}

static void options_fill(struct dw_store_options *o, const struct dw_store_options *given)
{
    if (given)
        *o = *given;
    if (o->busy_timeout_ms <= 0)
        o->busy_timeout_ms = 5000;
    if (o->readers <= 0)
        o->readers = 4;
    if (o->stmt_cache <= 0)
        o->stmt_cache = 64;
}

struct dw_store *dw_store_open_with(const char *path, const struct dw_store_options *opts,
                                    char **err)
{
    if (!path || !*path || strcmp(path, ":memory:") == 0) {
        *err = dw_strdup("the store needs a file path (not empty, not :memory:)");
        return NULL;
    }
    struct dw_store *s = dw_calloc(1, sizeof *s);
    s->path = dw_strdup(path);
    options_fill(&s->opts, opts);
    atomic_store(&s->durable, s->opts.durable);
    pthread_mutex_init(&s->write_lock, NULL);
    pthread_mutex_init(&s->read_lock, NULL);
    pthread_cond_init(&s->read_cond, NULL);
    s->readers = dw_calloc((size_t)s->opts.readers, sizeof *s->readers);

    if (dw_store__conn_open(s, &s->writer, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err) !=
        SQLITE_OK)
        goto fail;
    if (configure_writer(s, err) != 0)
        goto fail;
    if (dw_store__core_setup(s, err) != 0)
        goto fail;
    s->opened = true;
    dw_log_kv(DW_LOG_INFO, "store", "store opened", "path", s->path, "instance_id", s->instance_id,
              "synchronous", atomic_load(&s->durable) ? "full" : "normal", NULL);
    return s;
fail:
    dw_store_close(&s);
    return NULL;
}

struct dw_store *dw_store_open(const char *path, char **err)
{
    return dw_store_open_with(path, NULL, err);
}

void dw_store_close(struct dw_store **sp)
{
    struct dw_store *s = *sp;
    if (!s)
        return;
    for (int i = 0; i < s->opts.readers; i++)
        dw_store__conn_close(&s->readers[i].conn);
    if (s->opened) {
        /* Cheap when nothing changed; keeps query plans good over time. Only
         * on a store we opened fully: never ANALYZE someone else's file. */
        char *e = NULL;
        dw_store__run(&s->writer, "PRAGMA optimize", NULL, 0, NULL, NULL, 0, &e);
        free(e);
    }
    dw_store__conn_close(&s->writer); /* last connection: checkpoints the WAL */
    pthread_cond_destroy(&s->read_cond);
    pthread_mutex_destroy(&s->read_lock);
    pthread_mutex_destroy(&s->write_lock);
    free(s->readers);
    free(s->path);
    free(s);
    *sp = NULL;
}

const char *dw_store_instance_id(const struct dw_store *s)
{
    return s->instance_id;
}

/* ---- the reader pool ---- */

static int reader_open(struct dw_store *s, struct dw_store_reader *r, char **err)
{
    int rc = dw_store__conn_open(s, &r->conn, SQLITE_OPEN_READONLY, err);
    if (rc == SQLITE_OK)
        atomic_fetch_add(&s->readers_open, 1);
    return rc;
}

/* A free reader: an open idle one, else a slot to open, else wait, unless
 * this thread already holds one (then an overflow connection). */
static struct dw_store_reader *reader_acquire(struct dw_store *s, char **err)
{
    struct dw_store_reader *r = NULL;
    pthread_mutex_lock(&s->read_lock);
    for (;;) {
        struct dw_store_reader *closed = NULL;
        for (int i = 0; i < s->opts.readers && !r; i++) {
            if (s->readers[i].state == DW_READER_FREE)
                r = &s->readers[i];
            else if (s->readers[i].state == DW_READER_CLOSED && !closed)
                closed = &s->readers[i];
        }
        if (!r)
            r = closed;
        if (r || readers_held > 0)
            break;
        pthread_cond_wait(&s->read_cond, &s->read_lock);
    }
    enum dw_reader_state was = r ? r->state : DW_READER_CLOSED;
    if (r)
        r->state = DW_READER_BUSY;
    pthread_mutex_unlock(&s->read_lock);

    if (!r) {
        r = dw_calloc(1, sizeof *r);
        r->overflow = true;
    }
    if ((r->overflow || was == DW_READER_CLOSED) && reader_open(s, r, err) != SQLITE_OK) {
        if (r->overflow) {
            free(r);
        } else {
            pthread_mutex_lock(&s->read_lock);
            r->state = DW_READER_CLOSED;
            pthread_cond_signal(&s->read_cond);
            pthread_mutex_unlock(&s->read_lock);
        }
        return NULL;
    }
    readers_held++;
    return r;
}

static void reader_release(struct dw_store *s, struct dw_store_reader *r)
{
    readers_held--;
    if (r->overflow) {
        dw_store__conn_close(&r->conn);
        free(r);
        return;
    }
    pthread_mutex_lock(&s->read_lock);
    r->state = DW_READER_FREE;
    pthread_cond_signal(&s->read_cond);
    pthread_mutex_unlock(&s->read_lock);
}

/* ---- routing ---- */

/* Skips whitespace and SQL comments. */
static const char *skip_space(const char *p)
{
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '(')
            p++;
        if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *end = strstr(p + 2, "*/");
            p = end ? end + 2 : p + strlen(p);
        } else {
            return p;
        }
    }
}

static bool keyword_is(const char *p, const char *kw)
{
    size_t n = strlen(kw);
    if (strncasecmp(p, kw, n) != 0)
        return false;
    char c = p[n];
    return !(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
             (c >= '0' && c <= '9'));
}

static bool looks_like_read(const char *sql)
{
    const char *p = skip_space(sql);
    return keyword_is(p, "SELECT") || keyword_is(p, "WITH") || keyword_is(p, "VALUES") ||
           keyword_is(p, "EXPLAIN");
}

enum { ROUTE_DONE, ROUTE_TO_WRITER };

/* Runs a read on a pooled reader. Returns ROUTE_TO_WRITER (nothing run) when
 * the statement turns out to write. */
static int run_on_reader(struct dw_store *s, const char *sql, const struct dw_value *params,
                         size_t nparams, dw_store_row_fn fn, void *ctx, int *rc, char **err)
{
    struct dw_store_reader *r = reader_acquire(s, err);
    if (!r) {
        *rc = SQLITE_CANTOPEN;
        return ROUTE_DONE;
    }
    struct dw_store_stmt st;
    *rc = dw_store__stmt_get(&r->conn, sql, &st, err);
    int route = ROUTE_DONE;
    if (*rc == SQLITE_OK && !sqlite3_stmt_readonly(st.stmt))
        route = ROUTE_TO_WRITER;
    else if (*rc == SQLITE_OK)
        *rc = dw_store__stmt_run(&r->conn, &st, sql, params, nparams, fn, ctx,
                                 DW_STORE_BUSY_RETRIES, err);
    dw_store__stmt_put(&r->conn, &st);
    reader_release(s, r);
    return route;
}

/* Runs on the writer, which this thread holds (h) or takes for the call. */
static int run_on_writer(struct dw_store *s, struct dw_store_hold *h, const char *sql,
                         const struct dw_value *params, size_t nparams, dw_store_row_fn fn,
                         void *ctx, char **err)
{
    struct dw_store_hold own;
    if (!h)
        dw_store__writer_acquire(s, &own);
    /* Outside a transaction a BUSY statement did nothing and can run again;
     * inside one, BEGIN IMMEDIATE already holds the lock. */
    int retries = h && h->tx_depth > 0 ? 0 : DW_STORE_BUSY_RETRIES;
    struct dw_store_stmt st;
    int rc = dw_store__stmt_get(&s->writer, sql, &st, err);
    if (rc == SQLITE_OK) {
        rc = dw_store__stmt_run(&s->writer, &st, sql, params, nparams, fn, ctx, retries, err);
        if (!sqlite3_stmt_readonly(st.stmt)) {
            changes_store = s;
            changes_count = rc == SQLITE_OK ? (int64_t)sqlite3_changes64(s->writer.db) : 0;
        }
    }
    dw_store__stmt_put(&s->writer, &st);
    if (!h)
        dw_store__writer_release(s, &own);
    return rc;
}

int dw_store_exec(struct dw_store *s, const char *sql, const struct dw_value *params,
                  size_t nparams, dw_store_row_fn fn, void *ctx, char **err)
{
    char *e = NULL;
    int rc;
    struct dw_store_hold *h = dw_store__held(s);
    if (h || !looks_like_read(sql) ||
        run_on_reader(s, sql, params, nparams, fn, ctx, &rc, &e) == ROUTE_TO_WRITER) {
        free(e);
        e = NULL;
        rc = run_on_writer(s, h, sql, params, nparams, fn, ctx, &e);
    }
    if (rc != SQLITE_OK)
        dw_store__note_error(h, e);
    if (err)
        *err = e;
    else
        free(e);
    return rc == SQLITE_OK ? 0 : -1;
}

int dw_store_int(struct dw_store *s, const char *sql, const struct dw_value *params, size_t nparams,
                 int64_t *out, char **err)
{
    return dw_store_exec(s, sql, params, nparams, first_int, out, err);
}

int64_t dw_store_changes(struct dw_store *s)
{
    return changes_store == s ? changes_count : 0;
}

/* ---- maintenance ---- */

struct check_ctx {
    struct dw_buf out;
    int rows;
};

static int collect_check(void *ctx, const struct dw_value *cols, size_t ncols)
{
    struct check_ctx *c = ctx;
    if (ncols == 0 || cols[0].type != DW_VAL_TEXT)
        return 0;
    if (c->rows++ > 0)
        dw_buf_puts(&c->out, "; ");
    dw_buf_puts(&c->out, cols[0].s);
    return c->rows >= 10; /* enough to tell what is wrong */
}

int dw_store_check(struct dw_store *s, char **err)
{
    struct check_ctx c = {.rows = 0};
    dw_buf_init(&c.out, 64 * 1024);
    char *e = NULL;
    /* Reads only: a reader is enough, and it does not stop writers. */
    int rc = SQLITE_OK;
    if (run_on_reader(s, "PRAGMA quick_check", NULL, 0, collect_check, &c, &rc, &e) ==
        ROUTE_TO_WRITER)
        rc = run_on_writer(s, dw_store__held(s), "PRAGMA quick_check", NULL, 0, collect_check, &c,
                           &e);
    int result = 0;
    if (rc != SQLITE_OK) {
        result = -1;
    } else if (!(c.rows == 1 && strcmp(c.out.data, "ok") == 0)) {
        e = dw_asprintf("%s fails its consistency check: %s", s->path,
                        c.out.data ? c.out.data : "(no result)");
        result = -1;
    }
    dw_buf_release(&c.out);
    if (err)
        *err = e;
    else
        free(e);
    return result;
}

void dw_store_stats(struct dw_store *s, struct dw_store_stats *out)
{
    *out = (struct dw_store_stats){
        .cache_hits = atomic_load(&s->cache_hits),
        .cache_misses = atomic_load(&s->cache_misses),
        .cached = atomic_load(&s->cached),
        .busy_retries = atomic_load(&s->busy_retries),
        .commits = atomic_load(&s->commits),
        .rollbacks = atomic_load(&s->rollbacks),
        .readers_open = atomic_load(&s->readers_open),
    };
}
