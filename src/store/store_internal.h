/*
 * store_internal.h - what the files of the store module share. No other
 * module includes this: everything here is SQLite-specific.
 *
 * Pieces: a connection (sqlite3 handle + its prepared-statement cache,
 * stmt.c), the store with its writer and reader pool (store.c), this
 * thread's hold on the writer and transactions (tx.c), migrations
 * (migrate.c) and the core component's tables (meta.c).
 */
#ifndef DW_STORE_INTERNAL_H
#define DW_STORE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>

#include "store.h"

/* BEGIN IMMEDIATE / COMMIT / autocommit writes retried this many times after
 * SQLite's own busy_timeout gave up (another process holds the lock). */
#define DW_STORE_BUSY_RETRIES 8

/* One cached prepared statement, keyed by its SQL text. */
struct dw_store_slot {
    char *sql;          /* heap, owned */
    uint64_t hash;      /* of sql, to skip most strcmp calls */
    sqlite3_stmt *stmt; /* owned; finalized on eviction */
    uint64_t last_use;  /* connection tick, for least-recently-used eviction */
    bool in_use;        /* checked out: a nested call must not reuse it */
};

/* A SQLite connection and its statement cache. Used by one thread at a time
 * (the writer under write_lock, a reader while checked out of the pool). */
struct dw_store_conn {
    sqlite3 *db;
    struct dw_store *store;      /* for counters */
    struct dw_store_slot *slots; /* heap array of cache_max */
    size_t nslots;
    size_t cache_max;
    uint64_t tick;
};

/* A statement checked out of a connection. */
struct dw_store_stmt {
    sqlite3_stmt *stmt;
    struct dw_store_slot *slot; /* NULL: not cached, finalize on put */
};

enum dw_reader_state { DW_READER_CLOSED, DW_READER_FREE, DW_READER_BUSY };

struct dw_store_reader {
    struct dw_store_conn conn;
    enum dw_reader_state state;
    bool overflow; /* heap-allocated extra, closed on release */
};

struct dw_store {
    char *path; /* as given, for messages */
    struct dw_store_options opts;
    bool opened; /* set-up finished: the file is ours */
    atomic_bool durable;

    pthread_mutex_t write_lock; /* held for a statement or a whole transaction */
    struct dw_store_conn writer;

    pthread_mutex_t read_lock; /* guards readers[].state */
    pthread_cond_t read_cond;
    struct dw_store_reader *readers; /* opts.readers entries */

    char instance_id[65];

    atomic_uint_fast64_t cache_hits, cache_misses, cached, busy_retries;
    atomic_uint_fast64_t commits, rollbacks, readers_open;
};

/* This thread's hold on a store's writer: a stack frame in the function that
 * took it, linked from a thread-local list (tx.c). */
struct dw_store_hold {
    struct dw_store *s;
    int tx_depth;    /* 0: holds the writer for single statements only */
    bool durable;    /* the open transaction commits with FULL */
    char *first_err; /* first statement error inside the transaction */
    struct dw_store_hold *next;
};

/* ---- connections and statements (stmt.c) ---- */

/** Opens a connection with SQLite flags; returns the SQLite result code. */
int dw_store__conn_open(struct dw_store *s, struct dw_store_conn *c, int flags, char **err);
/** Finalizes cached statements and closes; safe on a never-opened conn. */
void dw_store__conn_close(struct dw_store_conn *c);
/** Checks a statement out of the cache or prepares it (one statement only). */
int dw_store__stmt_get(struct dw_store_conn *c, const char *sql, struct dw_store_stmt *out,
                       char **err);
/** Resets and returns a statement to the cache (or finalizes it). */
void dw_store__stmt_put(struct dw_store_conn *c, struct dw_store_stmt *st);
/**
 * Binds params and steps through the rows. Retries a statement that got
 * SQLITE_BUSY before its first row up to `busy_retries` times. Returns the
 * SQLite result code (SQLITE_OK on success) and *err on failure.
 */
int dw_store__stmt_run(struct dw_store_conn *c, struct dw_store_stmt *st, const char *sql,
                       const struct dw_value *params, size_t nparams, dw_store_row_fn fn, void *ctx,
                       int busy_retries, char **err);
/** get + run + put. */
int dw_store__run(struct dw_store_conn *c, const char *sql, const struct dw_value *params,
                  size_t nparams, dw_store_row_fn fn, void *ctx, int busy_retries, char **err);
/** Runs a script of several statements (migrations), rows ignored. */
int dw_store__run_script(struct dw_store_conn *c, const char *sql, char **err);
/** "<msg> (in: <sql excerpt>)". */
char *dw_store__sql_error(const char *msg, const char *sql);
/** Sleeps before retry number `attempt` (0-based) after SQLITE_BUSY. */
void dw_store__backoff(struct dw_store *s, int attempt);

/* ---- the writer and transactions (tx.c) ---- */

/** This thread's hold on s's writer, or NULL. */
struct dw_store_hold *dw_store__held(struct dw_store *s);
void dw_store__writer_acquire(struct dw_store *s, struct dw_store_hold *h);
void dw_store__writer_release(struct dw_store *s, struct dw_store_hold *h);
/** BEGIN IMMEDIATE with bounded retries; caller holds the writer. */
int dw_store__begin(struct dw_store *s, char **err);
/** COMMIT with bounded retries; on failure the transaction is rolled back. */
int dw_store__commit(struct dw_store *s, char **err);
/** ROLLBACK if a transaction is open. */
void dw_store__rollback(struct dw_store *s);
/** Remembers a statement error inside this thread's transaction (first wins). */
void dw_store__note_error(struct dw_store_hold *h, const char *err);

/* ---- core component (meta.c) ---- */

/** Core migrations, instance id and created_at; run by dw_store_open. */
int dw_store__core_setup(struct dw_store *s, char **err);

#endif
