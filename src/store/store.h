/*
 * store.h - dojowatch's embedded state: SQLite in WAL mode today, written so
 * a PostgreSQL backend can be added without touching callers.
 *
 * Portability rules for callers: SQL uses $1, $2 ... placeholders, portable
 * types (INTEGER, BIGINT, DOUBLE PRECISION, TEXT, BLOB->bytea later), no
 * SQLite-only syntax (no INSERT OR REPLACE: use INSERT ... ON CONFLICT).
 *
 * Threads: any thread may call in. Writes are serialised (one writer);
 * dw_store_tx() runs a function inside one transaction and retries on
 * SQLITE_BUSY. Reads go through a separate read connection so they are not
 * blocked behind the writer.
 *
 * Migrations are numbered per component ("core", "alert", "incident" ...):
 * each module owns its schema and applies it with dw_store_migrate() at start;
 * applied versions are recorded in schema_migrations(component, version).
 */
#ifndef DW_STORE_H
#define DW_STORE_H

#include "core/core.h"

struct dw_store;

enum dw_value_type { DW_VAL_NULL, DW_VAL_INT, DW_VAL_REAL, DW_VAL_TEXT, DW_VAL_BLOB };

struct dw_value {
    enum dw_value_type type;
    int64_t i;
    double d;
    const char *s; /* TEXT (NUL-terminated) or BLOB bytes; borrowed */
    size_t n;      /* length of s */
};

#define DW_VNULL ((struct dw_value){.type = DW_VAL_NULL})
#define DW_VINT(x) ((struct dw_value){.type = DW_VAL_INT, .i = (x)})
#define DW_VREAL(x) ((struct dw_value){.type = DW_VAL_REAL, .d = (x)})
#define DW_VTEXT(x) ((struct dw_value){.type = DW_VAL_TEXT, .s = (x), .n = strlen(x)})
#define DW_VBLOB(p, len) ((struct dw_value){.type = DW_VAL_BLOB, .s = (p), .n = (len)})

/** Called once per result row; return non-zero to stop early. cols are borrowed. */
typedef int (*dw_store_row_fn)(void *ctx, const struct dw_value *cols, size_t ncols);

struct dw_store_migration {
    int version;     /* 1, 2, 3 ... strictly increasing */
    const char *sql; /* one or more statements */
};

/* ---- opening ---- */

/** Tuning knobs; zero fields take the defaults shown. */
struct dw_store_options {
    bool durable;        /* synchronous=FULL for every commit (default NORMAL; see below) */
    int busy_timeout_ms; /* SQLite's own wait on a lock held by another process: 5000 */
    int readers;         /* read connections in the pool: 4 */
    int stmt_cache;      /* prepared statements kept per connection: 64 */
};

/**
 * Opens (creating if needed) the store at `path` (a SQLite file). Returns
 * NULL with *err set (caller frees) on failure. Applies the "core"
 * component's migrations (meta, config_history) before returning.
 */
struct dw_store *dw_store_open(const char *path, char **err);
/** dw_store_open with options (opts may be NULL for the defaults). */
struct dw_store *dw_store_open_with(const char *path, const struct dw_store_options *opts,
                                    char **err);
/** Closes and frees; sets *s to NULL. NULL is a no-op. No other thread may still use it. */
void dw_store_close(struct dw_store **s);

/* ---- durability ----
 *
 * Default (synchronous=NORMAL in WAL mode): every commit is atomic and
 * survives the process being killed (kill -9, crash, OOM killer), because the
 * WAL is written before COMMIT returns and the kernel keeps it. An OS crash or
 * power loss may lose the last commits (never corrupts the file).
 * Durable (synchronous=FULL): COMMIT also fsyncs the WAL, so it survives power
 * loss too, at the cost of one fsync per commit. Use it where dojowatch tells
 * someone outside "done": notification outbox enqueue/ack and human
 * acknowledgements answered with HTTP 2xx.
 */

/** Switches every later commit to FULL (true) or NORMAL (false). Not inside dw_store_tx. */
int dw_store_set_durable(struct dw_store *s, bool durable, char **err);

/* ---- migrations ---- */

/**
 * Applies the component's migrations newer than its recorded version, each
 * in its own transaction. A store that has a newer version than the binary
 * knows is an error (refuse to run against a future schema). A failing
 * migration is rolled back completely; the error names component, version
 * and SQLite's message. Not inside dw_store_tx.
 */
int dw_store_migrate(struct dw_store *s, const char *component,
                     const struct dw_store_migration *migs, size_t n, char **err);
/** Highest applied version for a component (0 when none, -1 on error). */
int dw_store_schema_version(struct dw_store *s, const char *component);

/* ---- statements and transactions ---- */

/**
 * Runs one statement with parameters $1..$n (each may appear several times,
 * in any order; every placeholder must be $N with N <= nparams); fn gets each
 * row (may be NULL; returning non-zero stops early and is not an error).
 * SELECTs run on a read connection (their own snapshot) unless this thread
 * is inside dw_store_tx on s. Returns 0, or -1 with *err set (caller frees;
 * err may be NULL).
 */
int dw_store_exec(struct dw_store *s, const char *sql, const struct dw_value *params,
                  size_t nparams, dw_store_row_fn fn, void *ctx, char **err);

/**
 * dw_store_exec for one integer: *out gets the first column of the first row
 * when it is an integer, and stays as the caller set it otherwise (no row,
 * NULL). Same return and *err as dw_store_exec.
 */
int dw_store_int(struct dw_store *s, const char *sql, const struct dw_value *params, size_t nparams,
                 int64_t *out, char **err);

/** Rows changed by the last write this thread ran on s (0 when none). */
int64_t dw_store_changes(struct dw_store *s);

/**
 * Runs fn inside one write transaction (BEGIN IMMEDIATE, retried with bounded
 * backoff while another process holds the lock): commit when fn returns 0,
 * roll back otherwise and return fn's value. A nested call joins the outer
 * transaction as a savepoint: its failure undoes only its own changes.
 * Returns -1 with *err when the store itself fails (begin/commit); when fn
 * fails, *err gets the first statement error inside it (or stays NULL).
 * fn must not run BEGIN/COMMIT/ROLLBACK itself.
 */
int dw_store_tx(struct dw_store *s, int (*fn)(struct dw_store *s, void *ctx), void *ctx,
                char **err);
/**
 * dw_store_tx whose commit is durable (fsync) even when the store is not.
 * Nested inside a non-durable transaction it fails with -1 (SQLite cannot
 * change the sync level mid-transaction): make the outer one durable.
 */
int dw_store_tx_durable(struct dw_store *s, int (*fn)(struct dw_store *s, void *ctx), void *ctx,
                        char **err);

/**
 * Makes every commit so far durable with one fsync (a durable write of the
 * meta key "synced_at"): many ordinary commits followed by one sync cost one
 * fsync instead of one each. Not inside dw_store_tx. 0 or -1 with *err.
 */
int dw_store_sync(struct dw_store *s, char **err);

/* ---- the "core" component: meta and config history ---- */

/** Rows kept in config_history; older ones are pruned on insert. */
#define DW_STORE_CONFIG_HISTORY_MAX 1000
/** Longest path / error text stored in config_history (bytes, longer is cut). */
#define DW_STORE_CONFIG_PATH_MAX 4096
#define DW_STORE_CONFIG_ERROR_MAX 16384

/** Random hex id of this data directory, set once when the store is created. */
const char *dw_store_instance_id(const struct dw_store *s);
/**
 * Reads meta[key] into *value (caller frees). Returns 1 when found, 0 when
 * absent (*value NULL), -1 with *err on error.
 */
int dw_store_meta_get(struct dw_store *s, const char *key, char **value, char **err);
/** Sets meta[key] (insert or update). instance_id and created_at are read-only. */
int dw_store_meta_set(struct dw_store *s, const char *key, const char *value, char **err);
/**
 * Records one configuration load/reload (hash/path/error may be NULL).
 * Returns the new row id, or -1 with *err.
 */
int64_t dw_store_record_config(struct dw_store *s, int64_t loaded_at_ms, const char *hash,
                               const char *path, bool ok, const char *error, char **err);

/* ---- maintenance and statistics ---- */

/** PRAGMA quick_check (slow on big files: for `dojowatch check`, never at start). */
int dw_store_check(struct dw_store *s, char **err);

struct dw_store_stats {
    uint64_t cache_hits;   /* statements found in a connection's cache */
    uint64_t cache_misses; /* statements prepared */
    uint64_t cached;       /* statements held in caches now */
    uint64_t busy_retries; /* waits after SQLITE_BUSY from another process */
    uint64_t commits;
    uint64_t rollbacks;
    uint64_t readers_open; /* read connections opened (pool and overflow) */
};

/** Snapshot of the counters (safe from any thread, also inside dw_store_tx). */
void dw_store_stats(struct dw_store *s, struct dw_store_stats *out);

#endif
