/*
 * tx.c - the single writer and write transactions.
 *
 * DESIGN
 * - One writer connection per store, used under write_lock. A thread that
 *   holds the lock records a dw_store_hold (a frame on its own stack) in a
 *   thread-local list, so later calls on the same thread know to use the
 *   writer without locking again: statements inside dw_store_tx join its
 *   transaction (and read its uncommitted rows), and a statement run from a
 *   row callback of a write does not deadlock on the lock.
 * - dw_store_tx takes the lock for the whole transaction and starts it with
 *   BEGIN IMMEDIATE, so the write lock is taken up front and statements inside
 *   cannot fail with SQLITE_BUSY half-way. Within the process the mutex already
 *   serialises writers; SQLITE_BUSY only comes from another process (a
 *   sqlite3 shell, a backup tool). SQLite waits busy_timeout_ms itself; we
 *   then retry BEGIN/COMMIT up to DW_STORE_BUSY_RETRIES times with backoff.
 * - Nested dw_store_tx runs as a SAVEPOINT inside the outer transaction:
 *   nothing is committed before the outermost call commits, and a failing
 *   inner call undoes only its own changes.
 * - Durability: SQLite refuses to change `synchronous` inside a transaction,
 *   so a durable transaction switches to FULL before BEGIN and back after
 *   COMMIT; a durable call nested in a non-durable transaction is refused.
 * Ordering: transactions commit in the order they take write_lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

static _Thread_local struct dw_store_hold *holds;

struct dw_store_hold *dw_store__held(struct dw_store *s)
{
    for (struct dw_store_hold *h = holds; h; h = h->next)
        if (h->s == s)
            return h;
    return NULL;
}

void dw_store__writer_acquire(struct dw_store *s, struct dw_store_hold *h)
{
    pthread_mutex_lock(&s->write_lock);
    memset(h, 0, sizeof *h);
    h->s = s;
    h->next = holds;
    holds = h;
}

void dw_store__writer_release(struct dw_store *s, struct dw_store_hold *h)
{
    for (struct dw_store_hold **pp = &holds; *pp; pp = &(*pp)->next) {
        if (*pp == h) {
            *pp = h->next;
            break;
        }
    }
    free(h->first_err);
    h->first_err = NULL;
    pthread_mutex_unlock(&s->write_lock);
}

void dw_store__note_error(struct dw_store_hold *h, const char *err)
{
    if (h && h->tx_depth > 0 && !h->first_err && err)
        h->first_err = dw_strdup(err);
}

/* Runs a fixed statement (BEGIN, COMMIT ...) on the writer, retrying while
 * another process holds the lock. */
static int run_with_retry(struct dw_store *s, const char *sql, char **err)
{
    for (int attempt = 0;; attempt++) {
        char *e = NULL;
        int rc = dw_store__run(&s->writer, sql, NULL, 0, NULL, NULL, 0, &e);
        if (rc == SQLITE_OK)
            return SQLITE_OK;
        if (rc == SQLITE_BUSY && attempt < DW_STORE_BUSY_RETRIES) {
            free(e);
            dw_store__backoff(s, attempt);
            continue;
        }
        if (rc == SQLITE_BUSY)
            *err = dw_asprintf("%s: %s; another process keeps %s locked", s->path, e, s->path);
        else
            *err = dw_asprintf("%s: %s", s->path, e);
        free(e);
        return rc;
    }
}

int dw_store__begin(struct dw_store *s, char **err)
{
    return run_with_retry(s, "BEGIN IMMEDIATE", err) == SQLITE_OK ? 0 : -1;
}

void dw_store__rollback(struct dw_store *s)
{
    atomic_fetch_add(&s->rollbacks, 1);
    if (sqlite3_get_autocommit(s->writer.db))
        return; /* SQLite already rolled back (e.g. after SQLITE_FULL) */
    char *e = NULL;
    if (dw_store__run(&s->writer, "ROLLBACK", NULL, 0, NULL, NULL, 0, &e) != SQLITE_OK) {
        dw_log_kv(DW_LOG_ERROR, "store", "rollback failed", "error", e, NULL);
        free(e);
    }
}

int dw_store__commit(struct dw_store *s, char **err)
{
    /* A COMMIT that fails with SQLITE_BUSY leaves the transaction open, so
     * retrying it is safe; any other failure rolls back. */
    if (run_with_retry(s, "COMMIT", err) == SQLITE_OK) {
        atomic_fetch_add(&s->commits, 1);
        return 0;
    }
    dw_store__rollback(s);
    return -1;
}

static int set_sync(struct dw_store *s, bool full, char **err)
{
    const char *sql = full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
    return dw_store__run(&s->writer, sql, NULL, 0, NULL, NULL, 0, err) == SQLITE_OK ? 0 : -1;
}

int dw_store_set_durable(struct dw_store *s, bool durable, char **err)
{
    if (dw_store__held(s)) {
        if (err)
            *err = dw_strdup("dw_store_set_durable cannot run inside a transaction");
        return -1;
    }
    struct dw_store_hold h;
    char *e = NULL;
    dw_store__writer_acquire(s, &h);
    int rc = set_sync(s, durable, &e);
    if (rc == 0)
        atomic_store(&s->durable, durable);
    dw_store__writer_release(s, &h);
    if (err)
        *err = e;
    else
        free(e);
    return rc;
}

/* After fn: commit, or roll back and say why. */
static int tx_finish(struct dw_store *s, struct dw_store_hold *h, int frc, char **e)
{
    if (sqlite3_get_autocommit(s->writer.db)) {
        atomic_fetch_add(&s->rollbacks, 1);
        *e = h->first_err ? dw_asprintf("transaction was rolled back by SQLite: %s", h->first_err)
                          : dw_strdup("the transaction ended inside dw_store_tx "
                                      "(fn must not run BEGIN, COMMIT or ROLLBACK)");
        return frc ? frc : -1;
    }
    if (frc == 0)
        return dw_store__commit(s, e);
    dw_store__rollback(s);
    *e = h->first_err;
    h->first_err = NULL;
    return frc;
}

static int tx_outer(struct dw_store *s, int (*fn)(struct dw_store *, void *), void *ctx,
                    bool durable, char **e)
{
    struct dw_store_hold h;
    int rc = -1;
    dw_store__writer_acquire(s, &h);
    bool switch_sync = durable && !atomic_load(&s->durable);
    if (switch_sync && set_sync(s, true, e) != 0)
        goto out;
    if (dw_store__begin(s, e) != 0)
        goto out_sync;
    h.tx_depth = 1;
    h.durable = durable || atomic_load(&s->durable);
    rc = tx_finish(s, &h, fn(s, ctx), e);
out_sync:
    if (switch_sync) {
        char *e2 = NULL;
        if (set_sync(s, false, &e2) != 0) {
            dw_log_kv(DW_LOG_WARN, "store", "could not restore synchronous=NORMAL", "error", e2,
                      NULL);
            free(e2);
        }
    }
out:
    dw_store__writer_release(s, &h);
    return rc;
}

static int tx_nested(struct dw_store *s, struct dw_store_hold *h,
                     int (*fn)(struct dw_store *, void *), void *ctx, bool durable, char **e)
{
    if (h->tx_depth == 0) {
        *e = dw_strdup("dw_store_tx cannot start inside a row callback of a statement "
                       "that runs outside a transaction");
        return -1;
    }
    if (durable && !h->durable) {
        *e = dw_strdup("a durable transaction cannot be nested in a non-durable one "
                       "(make the outer transaction durable)");
        return -1;
    }
    char begin[40], release[40], undo[48];
    snprintf(begin, sizeof begin, "SAVEPOINT dw_sp%d", h->tx_depth);
    snprintf(release, sizeof release, "RELEASE dw_sp%d", h->tx_depth);
    snprintf(undo, sizeof undo, "ROLLBACK TO dw_sp%d", h->tx_depth);
    if (dw_store__run(&s->writer, begin, NULL, 0, NULL, NULL, 0, e) != SQLITE_OK)
        return -1;
    bool had_err = h->first_err != NULL;
    h->tx_depth++;
    int frc = fn(s, ctx);
    h->tx_depth--;
    if (sqlite3_get_autocommit(s->writer.db)) {
        *e = dw_strdup("the transaction ended inside a nested dw_store_tx");
        return frc ? frc : -1;
    }
    if (frc == 0)
        return dw_store__run(&s->writer, release, NULL, 0, NULL, NULL, 0, e) == SQLITE_OK ? 0 : -1;
    char *ignored = NULL;
    if (dw_store__run(&s->writer, undo, NULL, 0, NULL, NULL, 0, &ignored) != SQLITE_OK ||
        dw_store__run(&s->writer, release, NULL, 0, NULL, NULL, 0, &ignored) != SQLITE_OK) {
        dw_log_kv(DW_LOG_ERROR, "store", "rollback to savepoint failed", "error", ignored, NULL);
        free(ignored);
    }
    if (!had_err && h->first_err) { /* the error belongs to this level, not the outer */
        *e = h->first_err;
        h->first_err = NULL;
    }
    return frc;
}

static int tx_run(struct dw_store *s, int (*fn)(struct dw_store *, void *), void *ctx, bool durable,
                  char **err)
{
    char *e = NULL;
    struct dw_store_hold *h = dw_store__held(s);
    int rc = h ? tx_nested(s, h, fn, ctx, durable, &e) : tx_outer(s, fn, ctx, durable, &e);
    if (err)
        *err = e;
    else
        free(e);
    return rc;
}

int dw_store_tx(struct dw_store *s, int (*fn)(struct dw_store *s, void *ctx), void *ctx, char **err)
{
    return tx_run(s, fn, ctx, false, err);
}

int dw_store_tx_durable(struct dw_store *s, int (*fn)(struct dw_store *s, void *ctx), void *ctx,
                        char **err)
{
    return tx_run(s, fn, ctx, true, err);
}
