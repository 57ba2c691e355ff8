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

/**
 * Opens (creating if needed) the store at `path` (a SQLite file). Returns
 * NULL with *err set (caller frees) on failure.
 */
struct dw_store *dw_store_open(const char *path, char **err);
/** Closes and frees; sets *s to NULL. NULL is a no-op. */
void dw_store_close(struct dw_store **s);

/**
 * Applies the component's migrations newer than its recorded version, each
 * in its own transaction. A store that has a newer version than the binary
 * knows is an error (refuse to run against a future schema).
 */
int dw_store_migrate(struct dw_store *s, const char *component,
                     const struct dw_store_migration *migs, size_t n, char **err);
/** Highest applied version for a component (0 when none). */
int dw_store_schema_version(struct dw_store *s, const char *component);

/**
 * Runs one statement with parameters; fn gets each row (may be NULL).
 * Returns 0, or -1 with *err set (caller frees; err may be NULL).
 */
int dw_store_exec(struct dw_store *s, const char *sql, const struct dw_value *params,
                  size_t nparams, dw_store_row_fn fn, void *ctx, char **err);

/** Rows changed by the last write on this thread's transaction. */
int64_t dw_store_changes(struct dw_store *s);

/**
 * Runs fn inside one write transaction: commit when fn returns 0, roll back
 * otherwise (and return fn's value). Nested calls join the outer one.
 */
int dw_store_tx(struct dw_store *s, int (*fn)(struct dw_store *s, void *ctx), void *ctx,
                char **err);

#endif
