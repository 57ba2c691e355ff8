/*
 * meta.c - the store's own "core" component: its migrations, the meta
 * key/value table (instance_id, created_at) and config_history, which the
 * daemon writes on every configuration load and reload.
 *
 * DESIGN
 * - instance_id (32 random hex digits) and created_at (ms since the epoch)
 *   are inserted with ON CONFLICT DO NOTHING, so they are set exactly once,
 *   on the first open, and survive every later open and upgrade.
 * - config_history is fed from outside (paths and error texts come from the
 *   operator's files), so it is bounded: text fields are cut to a maximum and
 *   only the newest DW_STORE_CONFIG_HISTORY_MAX rows are kept; the insert and
 *   the pruning happen in one transaction.
 * Threads: any thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

static const struct dw_store_migration core_migrations[] = {
    {1, "CREATE TABLE meta (\n"
        "    key TEXT PRIMARY KEY,\n"
        "    value TEXT NOT NULL\n"
        ");\n"
        "CREATE TABLE config_history (\n"
        "    id INTEGER PRIMARY KEY,\n"
        "    loaded_at BIGINT NOT NULL,\n"
        "    hash TEXT,\n"
        "    path TEXT,\n"
        "    ok INTEGER NOT NULL,\n"
        "    error TEXT\n"
        ");\n"},
};

static const char truncated_mark[] = " [truncated]";

/* A copy of s cut to at most max bytes on a UTF-8 boundary, ending with a
 * marker; NULL when s already fits (use it as it is). */
static char *cut_text(const char *s, size_t max)
{
    size_t len = s ? strlen(s) : 0;
    if (len <= max)
        return NULL;
    size_t keep = max - (sizeof truncated_mark - 1);
    while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
        keep--; /* do not split a multi-byte character */
    char *out = dw_malloc(keep + sizeof truncated_mark);
    memcpy(out, s, keep);
    memcpy(out + keep, truncated_mark, sizeof truncated_mark);
    return out;
}

static struct dw_value text_or_null(const char *s)
{
    return s ? DW_VTEXT(s) : DW_VNULL;
}

static int read_text(void *ctx, const struct dw_value *cols, size_t ncols)
{
    char **out = ctx;
    if (ncols > 0 && cols[0].type == DW_VAL_TEXT)
        *out = dw_strndup(cols[0].s, cols[0].n);
    return 1;
}

static int read_int(void *ctx, const struct dw_value *cols, size_t ncols)
{
    if (ncols > 0 && cols[0].type == DW_VAL_INT)
        *(int64_t *)ctx = cols[0].i;
    return 1;
}

int dw_store_meta_get(struct dw_store *s, const char *key, char **value, char **err)
{
    struct dw_value p = DW_VTEXT(key);
    *value = NULL;
    if (dw_store_exec(s, "SELECT value FROM meta WHERE key = $1", &p, 1, read_text, value, err) !=
        0)
        return -1;
    return *value ? 1 : 0;
}

static bool read_only_key(const char *key)
{
    return strcmp(key, "instance_id") == 0 || strcmp(key, "created_at") == 0;
}

int dw_store_meta_set(struct dw_store *s, const char *key, const char *value, char **err)
{
    if (read_only_key(key)) {
        if (err)
            *err = dw_asprintf("meta key %s is set once when the store is created", key);
        return -1;
    }
    struct dw_value p[2] = {DW_VTEXT(key), DW_VTEXT(value)};
    return dw_store_exec(s,
                         "INSERT INTO meta (key, value) VALUES ($1, $2) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                         p, 2, NULL, NULL, err);
}

struct config_row {
    int64_t loaded_at_ms;
    const char *hash, *path, *error;
    bool ok;
    int64_t id;
};

static int record_config_tx(struct dw_store *s, void *ctx)
{
    struct config_row *r = ctx;
    struct dw_value p[5] = {DW_VINT(r->loaded_at_ms), text_or_null(r->hash), text_or_null(r->path),
                            DW_VINT(r->ok ? 1 : 0), text_or_null(r->error)};
    r->id = -1;
    if (dw_store_exec(s,
                      "INSERT INTO config_history (loaded_at, hash, path, ok, error) "
                      "VALUES ($1, $2, $3, $4, $5) RETURNING id",
                      p, 5, read_int, &r->id, NULL) != 0 ||
        r->id < 0)
        return -1;
    struct dw_value cut = DW_VINT(r->id - DW_STORE_CONFIG_HISTORY_MAX);
    return dw_store_exec(s, "DELETE FROM config_history WHERE id <= $1", &cut, 1, NULL, NULL, NULL);
}

int64_t dw_store_record_config(struct dw_store *s, int64_t loaded_at_ms, const char *hash,
                               const char *path, bool ok, const char *error, char **err)
{
    char *short_path = cut_text(path, DW_STORE_CONFIG_PATH_MAX);
    char *short_error = cut_text(error, DW_STORE_CONFIG_ERROR_MAX);
    struct config_row r = {.loaded_at_ms = loaded_at_ms,
                           .hash = hash,
                           .path = short_path ? short_path : path,
                           .error = short_error ? short_error : error,
                           .ok = ok};
    char *e = NULL;
    int rc = dw_store_tx(s, record_config_tx, &r, &e);
    free(short_path);
    free(short_error);
    if (rc != 0 && !e)
        e = dw_strdup("could not record the configuration load");
    if (err)
        *err = e;
    else
        free(e);
    return rc == 0 ? r.id : -1;
}

static int init_meta_tx(struct dw_store *s, void *ctx)
{
    unsigned char raw[16];
    char id[33], created[24];
    dw_random_bytes(raw, sizeof raw);
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(id + 2 * i, 3, "%02x", raw[i]);
    snprintf(created, sizeof created, "%lld", (long long)dw_now_ms());
    static const char sql[] =
        "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING";
    struct dw_value p1[2] = {DW_VTEXT("instance_id"), DW_VTEXT(id)};
    struct dw_value p2[2] = {DW_VTEXT("created_at"), DW_VTEXT(created)};
    if (dw_store_exec(s, sql, p1, 2, NULL, NULL, NULL) != 0 ||
        dw_store_exec(s, sql, p2, 2, NULL, NULL, NULL) != 0)
        return -1;
    return 0;
}

int dw_store__core_setup(struct dw_store *s, char **err)
{
    if (dw_store_exec(s,
                      "CREATE TABLE IF NOT EXISTS schema_migrations (\n"
                      "    component TEXT NOT NULL,\n"
                      "    version INTEGER NOT NULL,\n"
                      "    applied_at BIGINT NOT NULL,\n"
                      "    PRIMARY KEY (component, version)\n"
                      ")",
                      NULL, 0, NULL, NULL, err) != 0 ||
        dw_store_migrate(s, "core", core_migrations, DW_ARRAY_LEN(core_migrations), err) != 0)
        return -1;
    char *e = NULL;
    if (dw_store_tx(s, init_meta_tx, NULL, &e) != 0) {
        *err = dw_asprintf("cannot initialise %s: %s", s->path, e ? e : "meta");
        free(e);
        return -1;
    }
    char *id = NULL;
    int found = dw_store_meta_get(s, "instance_id", &id, err);
    if (found != 1) {
        if (found == 0)
            *err = dw_asprintf("%s has no instance_id", s->path);
        return -1;
    }
    dw_strlcpy(s->instance_id, id, sizeof s->instance_id);
    free(id);
    return 0;
}

/* One tiny durable write: SQLite fsyncs the WAL at its commit, and with it every
 * commit before it, so earlier ordinary commits become durable together. */
static int sync_tx(struct dw_store *s, void *ctx)
{
    (void)ctx;
    char at[24];
    snprintf(at, sizeof at, "%lld", (long long)dw_now_ms());
    struct dw_value p[] = {DW_VTEXT(at)};
    return dw_store_exec(s,
                         "INSERT INTO meta (key, value) VALUES ('synced_at', $1) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                         p, 1, NULL, NULL, NULL);
}

int dw_store_sync(struct dw_store *s, char **err)
{
    return dw_store_tx_durable(s, sync_tx, NULL, err);
}
