/*
 * stmt.c - one SQLite connection: opening, its prepared-statement cache,
 * binding $N parameters and stepping through rows.
 *
 * DESIGN
 * - Cache: each connection keeps up to cache_max prepared statements keyed by
 *   their SQL text, evicting the least recently used one. A statement checked
 *   out (in_use) is never handed out twice: a nested call with the same SQL
 *   (from a row callback) gets a fresh, uncached statement instead.
 * - Placeholders: SQLite reads "$1" as a *named* parameter called "$1" and
 *   numbers parameters by first appearance, so "... $2 ... $1 ... $2" has two
 *   parameters: index 1 named "$2" and index 2 named "$1". We therefore bind
 *   by name: for every parameter index we parse its name back to N and bind
 *   params[N-1]. That makes reuse and any order work and rejects "?" or
 *   ":name" placeholders, which PostgreSQL would not accept.
 * - Every statement is reset (and its bindings cleared) before it goes back
 *   to the cache, so no read transaction stays open and pins the WAL.
 * Threads: a connection is used by one thread at a time (the caller holds the
 * writer lock or has the reader checked out); nothing here locks.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_internal.h"

#define SQL_EXCERPT_MAX 120
#define COLS_ON_STACK 16

char *dw_store__sql_error(const char *msg, const char *sql)
{
    size_t n = strlen(sql);
    /* Collapse the statement onto one line so log lines stay one line. */
    char excerpt[SQL_EXCERPT_MAX + 4];
    size_t j = 0;
    for (size_t i = 0; i < n && j < SQL_EXCERPT_MAX; i++) {
        char c = sql[i];
        if (isspace((unsigned char)c)) {
            if (j == 0 || excerpt[j - 1] == ' ')
                continue;
            c = ' ';
        }
        excerpt[j++] = c;
    }
    while (j > 0 && excerpt[j - 1] == ' ')
        j--;
    if (j == SQL_EXCERPT_MAX && n > SQL_EXCERPT_MAX)
        excerpt[j++] = '.', excerpt[j++] = '.', excerpt[j++] = '.';
    excerpt[j] = '\0';
    return dw_asprintf("%s (in: %s)", msg, excerpt);
}

void dw_store__backoff(struct dw_store *s, int attempt)
{
    /* 2, 4, 8 ... ms capped at 100: on top of SQLite's busy_timeout this only
     * spreads retries out; the total stays bounded by DW_STORE_BUSY_RETRIES. */
    int ms = attempt >= 6 ? 100 : 2 << attempt;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000L};
    atomic_fetch_add(&s->busy_retries, 1);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int dw_store__conn_open(struct dw_store *s, struct dw_store_conn *c, int flags, char **err)
{
    memset(c, 0, sizeof *c);
    c->store = s;
    c->cache_max = (size_t)s->opts.stmt_cache;
    int rc = sqlite3_open_v2(s->path, &c->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        int sys = c->db ? sqlite3_system_errno(c->db) : 0;
        const char *msg = c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc);
        *err = sys ? dw_asprintf("cannot open %s: %s (%s)", s->path, msg, strerror(sys))
                   : dw_asprintf("cannot open %s: %s", s->path, msg);
        sqlite3_close(c->db);
        c->db = NULL;
        return rc;
    }
    sqlite3_busy_timeout(c->db, s->opts.busy_timeout_ms);
    c->slots = dw_calloc(c->cache_max ? c->cache_max : 1, sizeof *c->slots);
    return SQLITE_OK;
}

static void slot_clear(struct dw_store_conn *c, struct dw_store_slot *slot)
{
    sqlite3_finalize(slot->stmt);
    free(slot->sql);
    memset(slot, 0, sizeof *slot);
    atomic_fetch_sub(&c->store->cached, 1);
}

void dw_store__conn_close(struct dw_store_conn *c)
{
    for (size_t i = 0; i < c->nslots; i++)
        slot_clear(c, &c->slots[i]);
    free(c->slots);
    c->slots = NULL;
    c->nslots = 0;
    if (c->db && sqlite3_close(c->db) != SQLITE_OK)
        dw_log_kv(DW_LOG_WARN, "store", "connection closed with statements still open", "error",
                  sqlite3_errmsg(c->db), NULL);
    c->db = NULL;
}

static uint64_t sql_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static struct dw_store_slot *cache_find(struct dw_store_conn *c, const char *sql, uint64_t h)
{
    for (size_t i = 0; i < c->nslots; i++)
        if (c->slots[i].hash == h && strcmp(c->slots[i].sql, sql) == 0)
            return &c->slots[i];
    return NULL;
}

/* A slot for a new statement: a free one, else the least recently used idle
 * one (finalized), else NULL when every cached statement is checked out. */
static struct dw_store_slot *cache_victim(struct dw_store_conn *c)
{
    if (c->nslots < c->cache_max)
        return &c->slots[c->nslots++];
    struct dw_store_slot *victim = NULL;
    for (size_t i = 0; i < c->nslots; i++) {
        struct dw_store_slot *slot = &c->slots[i];
        if (!slot->in_use && (!victim || slot->last_use < victim->last_use))
            victim = slot;
    }
    if (victim)
        slot_clear(c, victim);
    return victim;
}

/* Prepares exactly one statement: trailing whitespace and comments are fine,
 * a second statement is refused (it would be silently ignored otherwise). */
static int prepare_one(struct dw_store_conn *c, const char *sql, sqlite3_stmt **out, char **err)
{
    const char *tail = NULL;
    int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, &tail);
    if (rc != SQLITE_OK) {
        *err = dw_store__sql_error(sqlite3_errmsg(c->db), sql);
        return rc;
    }
    if (!*out) {
        *err = dw_store__sql_error("empty statement", sql);
        return SQLITE_MISUSE;
    }
    sqlite3_stmt *extra = NULL;
    if (tail && *tail &&
        (sqlite3_prepare_v2(c->db, tail, -1, &extra, NULL) != SQLITE_OK || extra)) {
        sqlite3_finalize(extra);
        sqlite3_finalize(*out);
        *out = NULL;
        *err = dw_store__sql_error("more than one statement (run scripts as migrations)", sql);
        return SQLITE_MISUSE;
    }
    return SQLITE_OK;
}

int dw_store__stmt_get(struct dw_store_conn *c, const char *sql, struct dw_store_stmt *out,
                       char **err)
{
    uint64_t h = sql_hash(sql);
    struct dw_store_slot *slot = cache_find(c, sql, h);
    out->slot = NULL;
    out->stmt = NULL;
    if (slot && !slot->in_use) {
        atomic_fetch_add(&c->store->cache_hits, 1);
        slot->in_use = true;
        slot->last_use = ++c->tick;
        *out = (struct dw_store_stmt){.stmt = slot->stmt, .slot = slot};
        return SQLITE_OK;
    }
    atomic_fetch_add(&c->store->cache_misses, 1);
    int rc = prepare_one(c, sql, &out->stmt, err);
    if (rc != SQLITE_OK || slot) /* slot: same SQL already checked out, stay uncached */
        return rc;
    slot = cache_victim(c);
    if (!slot)
        return SQLITE_OK;
    *slot = (struct dw_store_slot){
        .sql = dw_strdup(sql), .hash = h, .stmt = out->stmt, .last_use = ++c->tick, .in_use = true};
    atomic_fetch_add(&c->store->cached, 1);
    out->slot = slot;
    return SQLITE_OK;
}

void dw_store__stmt_put(struct dw_store_conn *c, struct dw_store_stmt *st)
{
    if (!st->stmt)
        return;
    sqlite3_reset(st->stmt);
    sqlite3_clear_bindings(st->stmt);
    if (st->slot)
        st->slot->in_use = false;
    else
        sqlite3_finalize(st->stmt);
    st->stmt = NULL;
    st->slot = NULL;
}

/* "$N" -> N (1-based, no sign, no leading zero); 0 when not of that form. */
static size_t placeholder_number(const char *name)
{
    if (!name || name[0] != '$' || name[1] < '1' || name[1] > '9')
        return 0;
    size_t n = 0;
    for (const char *p = name + 1; *p; p++) {
        if (*p < '0' || *p > '9' || n > 100000)
            return 0;
        n = n * 10 + (size_t)(*p - '0');
    }
    return n;
}

static int bind_value(sqlite3_stmt *stmt, int idx, const struct dw_value *v)
{
    switch (v->type) {
    case DW_VAL_NULL: return sqlite3_bind_null(stmt, idx);
    case DW_VAL_INT: return sqlite3_bind_int64(stmt, idx, (sqlite3_int64)v->i);
    case DW_VAL_REAL: return sqlite3_bind_double(stmt, idx, v->d);
    case DW_VAL_TEXT:
        if (!v->s)
            return sqlite3_bind_null(stmt, idx);
        return sqlite3_bind_text64(stmt, idx, v->s, v->n, SQLITE_STATIC, SQLITE_UTF8);
    case DW_VAL_BLOB:
        /* An empty blob stays a blob (zero-length), not NULL. */
        if (!v->s || v->n == 0)
            return sqlite3_bind_zeroblob(stmt, idx, 0);
        return sqlite3_bind_blob64(stmt, idx, v->s, v->n, SQLITE_STATIC);
    }
    return SQLITE_MISUSE;
}

/* Binds every placeholder of the statement by its $N name. Values are
 * borrowed (SQLITE_STATIC): they outlive the call and bindings are cleared
 * before the statement returns to the cache. */
static int bind_params(struct dw_store_conn *c, sqlite3_stmt *stmt, const char *sql,
                       const struct dw_value *params, size_t nparams, char **err)
{
    int count = sqlite3_bind_parameter_count(stmt);
    size_t highest = 0;
    for (int idx = 1; idx <= count; idx++) {
        const char *name = sqlite3_bind_parameter_name(stmt, idx);
        size_t n = placeholder_number(name);
        if (n == 0) {
            char *msg = dw_asprintf("placeholder %s is not of the form $N", name ? name : "?");
            *err = dw_store__sql_error(msg, sql);
            free(msg);
            return SQLITE_RANGE;
        }
        if (n > nparams) {
            char *msg = dw_asprintf("placeholder %s but only %zu parameter%s given", name, nparams,
                                    nparams == 1 ? "" : "s");
            *err = dw_store__sql_error(msg, sql);
            free(msg);
            return SQLITE_RANGE;
        }
        if (n > highest)
            highest = n;
        int rc = bind_value(stmt, idx, &params[n - 1]);
        if (rc != SQLITE_OK) {
            *err = dw_store__sql_error(sqlite3_errmsg(c->db), sql);
            return rc;
        }
    }
    if (highest != nparams) { /* PostgreSQL refuses extra parameters too */
        char *msg =
            dw_asprintf("%zu parameters given but the statement uses up to $%zu", nparams, highest);
        *err = dw_store__sql_error(msg, sql);
        free(msg);
        return SQLITE_RANGE;
    }
    return SQLITE_OK;
}

/* The row's columns as borrowed dw_values (valid until the next step). */
static void read_row(sqlite3_stmt *stmt, struct dw_value *cols, int ncols)
{
    for (int i = 0; i < ncols; i++) {
        struct dw_value *v = &cols[i];
        memset(v, 0, sizeof *v);
        switch (sqlite3_column_type(stmt, i)) {
        case SQLITE_INTEGER:
            v->type = DW_VAL_INT;
            v->i = (int64_t)sqlite3_column_int64(stmt, i);
            break;
        case SQLITE_FLOAT:
            v->type = DW_VAL_REAL;
            v->d = sqlite3_column_double(stmt, i);
            break;
        case SQLITE_TEXT:
            v->type = DW_VAL_TEXT;
            v->s = (const char *)sqlite3_column_text(stmt, i);
            v->n = (size_t)sqlite3_column_bytes(stmt, i);
            break;
        case SQLITE_BLOB:
            v->type = DW_VAL_BLOB;
            v->s = sqlite3_column_blob(stmt, i);
            v->n = (size_t)sqlite3_column_bytes(stmt, i);
            if (!v->s)
                v->s = "";
            break;
        default: v->type = DW_VAL_NULL; break;
        }
    }
}

int dw_store__stmt_run(struct dw_store_conn *c, struct dw_store_stmt *st, const char *sql,
                       const struct dw_value *params, size_t nparams, dw_store_row_fn fn, void *ctx,
                       int busy_retries, char **err)
{
    int rc = bind_params(c, st->stmt, sql, params, nparams, err);
    if (rc != SQLITE_OK)
        return rc;
    int ncols = sqlite3_column_count(st->stmt);
    struct dw_value stack_cols[COLS_ON_STACK];
    struct dw_value *cols =
        ncols > COLS_ON_STACK ? dw_calloc((size_t)ncols, sizeof *cols) : stack_cols;
    bool any_row = false;
    for (int attempt = 0;;) {
        rc = sqlite3_step(st->stmt);
        if (rc == SQLITE_ROW) {
            any_row = true;
            if (!fn)
                continue;
            read_row(st->stmt, cols, ncols);
            if (fn(ctx, cols, (size_t)ncols) != 0) {
                rc = SQLITE_DONE;
                break;
            }
            continue;
        }
        /* BUSY before any row: nothing happened yet, so running it again is safe. */
        if (rc == SQLITE_BUSY && !any_row && attempt < busy_retries) {
            sqlite3_reset(st->stmt);
            dw_store__backoff(c->store, attempt++);
            continue;
        }
        break;
    }
    if (cols != stack_cols)
        free(cols);
    if (rc == SQLITE_DONE)
        return SQLITE_OK;
    *err = dw_store__sql_error(sqlite3_errmsg(c->db), sql);
    return rc;
}

int dw_store__run(struct dw_store_conn *c, const char *sql, const struct dw_value *params,
                  size_t nparams, dw_store_row_fn fn, void *ctx, int busy_retries, char **err)
{
    struct dw_store_stmt st;
    int rc = dw_store__stmt_get(c, sql, &st, err);
    if (rc != SQLITE_OK)
        return rc;
    rc = dw_store__stmt_run(c, &st, sql, params, nparams, fn, ctx, busy_retries, err);
    dw_store__stmt_put(c, &st);
    return rc;
}

int dw_store__run_script(struct dw_store_conn *c, const char *sql, char **err)
{
    const char *p = sql;
    for (int n = 1; *p; n++) {
        sqlite3_stmt *stmt = NULL;
        const char *tail = NULL;
        int rc = sqlite3_prepare_v2(c->db, p, -1, &stmt, &tail);
        if (rc == SQLITE_OK && stmt) {
            while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
            }
            if (rc == SQLITE_DONE)
                rc = SQLITE_OK;
        }
        if (rc != SQLITE_OK) {
            char *msg = dw_asprintf("statement %d: %s", n, sqlite3_errmsg(c->db));
            *err = dw_store__sql_error(msg, p);
            free(msg);
            sqlite3_finalize(stmt);
            return rc;
        }
        sqlite3_finalize(stmt);
        if (!stmt || !tail || tail == p) /* only whitespace/comments were left */
            break;
        p = tail;
    }
    return SQLITE_OK;
}
