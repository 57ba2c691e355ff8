/*
 * migrate.c - numbered schema migrations per component.
 *
 * DESIGN
 * - schema_migrations(component, version, applied_at) records every applied
 *   migration; a component's version is its highest recorded row.
 * - dw_store_migrate holds the writer for the whole run and applies each
 *   pending migration in its own BEGIN IMMEDIATE transaction together with
 *   its schema_migrations row, so a migration is either fully applied and
 *   recorded or not at all (SQLite DDL is transactional). The version is read
 *   again inside each transaction in case another process migrated first.
 * - Foreign keys are switched off around a migration (SQLite's documented
 *   way to rebuild a table: otherwise DROP TABLE would cascade deletes) and
 *   PRAGMA foreign_key_check must come back empty before the commit.
 * - A database newer than the binary is refused, never "downgraded".
 * Threads: any thread, not inside dw_store_tx (a migration must commit alone).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

#define COMPONENT_NAME_MAX 64

static int read_int(void *ctx, const struct dw_value *cols, size_t ncols)
{
    if (ncols > 0 && cols[0].type == DW_VAL_INT)
        *(int64_t *)ctx = cols[0].i;
    return 1;
}

static const char version_sql[] =
    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = $1";

/* On the writer, which the caller holds. */
static int current_version(struct dw_store *s, const char *component, int64_t *out, char **err)
{
    struct dw_value p = DW_VTEXT(component);
    *out = 0;
    return dw_store__run(&s->writer, version_sql, &p, 1, read_int, out, 0, err);
}

int dw_store_schema_version(struct dw_store *s, const char *component)
{
    int64_t v = 0;
    char *err = NULL;
    struct dw_value p = DW_VTEXT(component);
    if (dw_store_exec(s, version_sql, &p, 1, read_int, &v, &err) != 0) {
        dw_log_kv(DW_LOG_ERROR, "store", "cannot read schema version", "component", component,
                  "error", err, NULL);
        free(err);
        return -1;
    }
    return (int)v;
}

static int validate(const char *component, const struct dw_store_migration *migs, size_t n,
                    char **err)
{
    if (!component || !*component || strlen(component) > COMPONENT_NAME_MAX) {
        *err = dw_asprintf("migrations need a component name of 1 to %d characters",
                           COMPONENT_NAME_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        int prev = i > 0 ? migs[i - 1].version : 0;
        if (migs[i].version <= prev || !migs[i].sql) {
            *err = dw_asprintf("migrations of %s: entry %zu has version %d after %d (versions "
                               "must increase from 1) or no SQL",
                               component, i, migs[i].version, prev);
            return -1;
        }
    }
    return 0;
}

static int fk_violation(void *ctx, const struct dw_value *cols, size_t ncols)
{
    char **msg = ctx;
    if (!*msg)
        *msg = dw_asprintf("foreign key violation in table %s (rowid %lld) referring to %s",
                           ncols > 0 && cols[0].type == DW_VAL_TEXT ? cols[0].s : "?",
                           ncols > 1 && cols[1].type == DW_VAL_INT ? (long long)cols[1].i : -1LL,
                           ncols > 2 && cols[2].type == DW_VAL_TEXT ? cols[2].s : "?");
    return 1;
}

/* Inside the migration's transaction: script, checks, bookkeeping row. */
static int apply_body(struct dw_store *s, const char *component, const struct dw_store_migration *m,
                      char **e)
{
    if (dw_store__run_script(&s->writer, m->sql, e) != SQLITE_OK)
        return -1;
    if (sqlite3_get_autocommit(s->writer.db)) {
        *e = dw_strdup("the migration must not contain BEGIN, COMMIT or ROLLBACK");
        return -1;
    }
    char *violation = NULL;
    if (dw_store__run(&s->writer, "PRAGMA foreign_key_check", NULL, 0, fk_violation, &violation, 0,
                      e) != SQLITE_OK)
        return -1;
    if (violation) {
        *e = violation;
        return -1;
    }
    struct dw_value p[3] = {DW_VTEXT(component), DW_VINT(m->version), DW_VINT(dw_now_ms())};
    return dw_store__run(&s->writer,
                         "INSERT INTO schema_migrations (component, version, applied_at) "
                         "VALUES ($1, $2, $3)",
                         p, 3, NULL, NULL, 0, e) == SQLITE_OK
               ? 0
               : -1;
}

static int set_foreign_keys(struct dw_store *s, bool on, char **e)
{
    const char *sql = on ? "PRAGMA foreign_keys=ON" : "PRAGMA foreign_keys=OFF";
    return dw_store__run(&s->writer, sql, NULL, 0, NULL, NULL, 0, e) == SQLITE_OK ? 0 : -1;
}

/* The transaction of one migration; foreign keys are already off. Returns 0
 * when applied, 1 when it was already there, -1 on error. */
static int apply_tx(struct dw_store *s, const char *component, const struct dw_store_migration *m,
                    char **e)
{
    int64_t now_version = 0;
    if (dw_store__begin(s, e) != 0)
        return -1;
    if (current_version(s, component, &now_version, e) != SQLITE_OK) {
        dw_store__rollback(s);
        return -1;
    }
    if (now_version >= m->version) { /* another process got there first */
        dw_store__rollback(s);
        return 1;
    }
    if (apply_body(s, component, m, e) != 0) {
        dw_store__rollback(s);
        return -1;
    }
    return dw_store__commit(s, e);
}

/* One migration in its own transaction. Returns 0 (applied or already
 * there) or -1 with *err naming the component and version. */
static int apply_one(struct dw_store *s, const char *component, const struct dw_store_migration *m,
                     char **err)
{
    char *e = NULL;
    int rc = set_foreign_keys(s, false, &e);
    if (rc == 0) {
        rc = apply_tx(s, component, m, &e);
        char *e2 = NULL;
        if (set_foreign_keys(s, true, &e2) != 0) {
            dw_log_kv(DW_LOG_ERROR, "store", "cannot re-enable foreign keys", "error", e2, NULL);
            if (rc >= 0) {
                rc = -1;
                e = e2;
                e2 = NULL;
            }
            free(e2);
        }
    }
    if (rc < 0) {
        *err = dw_asprintf("migration %s v%d failed: %s", component, m->version,
                           e ? e : "unknown error");
    } else if (rc == 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", m->version);
        dw_log_kv(DW_LOG_INFO, "store", "migration applied", "component", component, "version", v,
                  NULL);
    }
    free(e);
    return rc < 0 ? -1 : 0;
}

static int migrate_locked(struct dw_store *s, const char *component,
                          const struct dw_store_migration *migs, size_t n, char **err)
{
    int64_t have = 0;
    char *e = NULL;
    if (current_version(s, component, &have, &e) != SQLITE_OK) {
        *err = dw_asprintf("cannot read the schema version of %s: %s", component, e);
        free(e);
        return -1;
    }
    int newest = n > 0 ? migs[n - 1].version : 0;
    if (have > newest) {
        *err = dw_asprintf("%s: database schema for %s is version %lld but this dojowatch knows "
                           "up to %d; upgrade dojowatch or use another --data",
                           s->path, component, (long long)have, newest);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (migs[i].version > have && apply_one(s, component, &migs[i], err) != 0)
            return -1;
    return 0;
}

int dw_store_migrate(struct dw_store *s, const char *component,
                     const struct dw_store_migration *migs, size_t n, char **err)
{
    char *e = NULL;
    int rc = -1;
    if (dw_store__held(s)) {
        e = dw_strdup("dw_store_migrate cannot run inside a transaction");
    } else if (validate(component, migs, n, &e) == 0) {
        struct dw_store_hold h;
        dw_store__writer_acquire(s, &h);
        rc = migrate_locked(s, component, migs, n, &e);
        dw_store__writer_release(s, &h);
    }
    if (err)
        *err = e;
    else
        free(e);
    return rc;
}
