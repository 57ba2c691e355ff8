/*
 * session.c - sign-in sessions in the store, and their CSRF tokens.
 *
 * DESIGN
 * A session id is 32 random bytes, sent as 43 base64url characters in the
 * dw_session cookie. The store keeps only the SHA-256 of the raw bytes
 * (auth_sessions.id_sha256), so reading the database gives no usable
 * cookie. The CSRF token is HMAC-SHA-256(session id, "dojowatch csrf v1"):
 * one per session, computed again from the cookie on every check, never
 * stored; only a page of our own origin can learn it (GET /api/auth/me).
 *
 * Rows carry the user name, a sequence number (the order of creation, also
 * within one millisecond of the test clock), creation, last use and the
 * absolute end. The idle timer restarts on use, but the row is rewritten at
 * most every TOUCH_MS (or a quarter of the idle timeout when that is
 * shorter), so reads do not turn into one write each. Expired rows of
 * everyone go at each sign-in, and any expired row at its next use, so the
 * table holds at most users x max_per_user live rows plus those expired
 * since the last sign-in.
 *
 * Threads: the store serialises writes; nothing here has state.
 */
#include <stdlib.h>
#include <string.h>

#include "auth_internal.h"

#define TOUCH_MS 60000
static const char csrf_label[] = "dojowatch csrf v1";

static const struct dw_store_migration migrations[] = {
    {1, "CREATE TABLE auth_sessions ("
        " id_sha256 TEXT PRIMARY KEY,"
        " username TEXT NOT NULL,"
        " seq BIGINT NOT NULL,"
        " created_at BIGINT NOT NULL,"
        " last_seen_at BIGINT NOT NULL,"
        " expires_at BIGINT NOT NULL,"
        " client TEXT NOT NULL);"
        "CREATE INDEX auth_sessions_by_user ON auth_sessions (username, seq);"},
};

int auth_session_migrate(struct dw_store *store, char **err)
{
    return dw_store_migrate(store, "auth", migrations, DW_ARRAY_LEN(migrations), err);
}

static void csrf_of(const uint8_t raw[32], char csrf[DW_AUTH_TOKEN_LEN + 1])
{
    uint8_t mac[32];
    dw_hmac_sha256(raw, 32, csrf_label, sizeof csrf_label - 1, mac);
    char *b = dw_base64(mac, sizeof mac, true);
    dw_strlcpy(csrf, b, DW_AUTH_TOKEN_LEN + 1);
    free(b);
}

void auth_session_new_id(char id[DW_AUTH_TOKEN_LEN + 1], char sha256[65])
{
    uint8_t raw[32];
    dw_random_bytes(raw, sizeof raw);
    char *b = dw_base64(raw, sizeof raw, true);
    dw_strlcpy(id, b, DW_AUTH_TOKEN_LEN + 1);
    explicit_bzero(b, strlen(b));
    free(b);
    dw_sha256_hex(raw, sizeof raw, sha256);
    explicit_bzero(raw, sizeof raw);
}

bool auth_session_parse_id(const char *id, char sha256[65], char csrf[DW_AUTH_TOKEN_LEN + 1])
{
    uint8_t raw[33];
    if (!id || strlen(id) != DW_AUTH_TOKEN_LEN || dw_base64_decode(id, true, raw, sizeof raw) != 32)
        return false;
    dw_sha256_hex(raw, 32, sha256);
    if (csrf)
        csrf_of(raw, csrf);
    explicit_bzero(raw, sizeof raw);
    return true;
}

struct insert_ctx {
    const char *sha256, *user, *client;
    int64_t now;
    const struct dw_auth_session_limits *lim;
};

static int insert_tx(struct dw_store *s, void *arg)
{
    struct insert_ctx *c = arg;
    const struct dw_value expire[] = {DW_VINT(c->now), DW_VINT(c->now - c->lim->idle_timeout_ms)};
    const struct dw_value row[] = {DW_VTEXT(c->sha256), DW_VTEXT(c->user), DW_VINT(c->now),
                                   DW_VINT(c->now + c->lim->max_lifetime_ms), DW_VTEXT(c->client)};
    const struct dw_value cap[] = {DW_VTEXT(c->user), DW_VINT(c->lim->max_per_user)};
    if (dw_store_exec(s, "DELETE FROM auth_sessions WHERE expires_at <= $1 OR last_seen_at <= $2",
                      expire, 2, NULL, NULL, NULL) != 0)
        return -1;
    if (dw_store_exec(s,
                      "INSERT INTO auth_sessions (id_sha256, username, seq, created_at, "
                      "last_seen_at, expires_at, client) VALUES ($1, $2, "
                      "(SELECT COALESCE(MAX(seq), 0) + 1 FROM auth_sessions), $3, $3, $4, $5)",
                      row, DW_ARRAY_LEN(row), NULL, NULL, NULL) != 0)
        return -1;
    /* The (max_per_user + 1)-th newest and everything older goes. */
    return dw_store_exec(s,
                         "DELETE FROM auth_sessions WHERE username = $1 AND seq <= (SELECT seq "
                         "FROM auth_sessions WHERE username = $1 ORDER BY seq DESC LIMIT 1 "
                         "OFFSET $2)",
                         cap, 2, NULL, NULL, NULL);
}

int auth_session_insert(struct dw_store *store, const char *sha256, const char *user,
                        const char *client, int64_t now, const struct dw_auth_session_limits *lim,
                        char **err)
{
    struct insert_ctx c = {sha256, user, client ? client : "", now, lim};
    return dw_store_tx(store, insert_tx, &c, err) == 0 ? 0 : -1;
}

/* ---- looking a session up ---- */

struct row {
    bool found;
    char user[DW_AUTH_NAME_MAX + 1];
    int64_t created, last_seen, expires;
};

static int read_row(void *ctx, const struct dw_value *cols, size_t ncols)
{
    struct row *r = ctx;
    if (ncols < 4 || cols[0].type != DW_VAL_TEXT)
        return 1;
    r->found = true;
    dw_strlcpy(r->user, cols[0].s, sizeof r->user);
    r->created = cols[1].i;
    r->last_seen = cols[2].i;
    r->expires = cols[3].i;
    return 1;
}

static int delete_row(struct dw_store *store, const char *sha256, char **err)
{
    const struct dw_value p[] = {DW_VTEXT(sha256)};
    return dw_store_exec(store, "DELETE FROM auth_sessions WHERE id_sha256 = $1", p, 1, NULL, NULL,
                         err);
}

/* The role of a configured, enabled user; false when there is none. */
static bool user_role(struct dw_auth *a, const char *name, int *role)
{
    bool found = false;
    pthread_mutex_lock(&a->lock);
    for (size_t i = 0; i < a->nusers && !found; i++) {
        const struct dw_auth_user *u = &a->users[i];
        if (strcmp(u->name, name) == 0 && u->password_hash && u->password_hash[0]) {
            *role = u->role;
            found = true;
        }
    }
    pthread_mutex_unlock(&a->lock);
    return found;
}

static void set_why(char **why, const char *msg)
{
    if (why)
        *why = dw_strdup(msg);
}

int dw_auth_session_check(struct dw_auth *a, const char *session_id, struct dw_auth_session *out,
                          char **why)
{
    char sha256[65];
    memset(out, 0, sizeof *out);
    if (!auth_session_parse_id(session_id, sha256, out->csrf)) {
        set_why(why, "the session cookie is malformed");
        return DW_AUTH_EDENIED;
    }
    struct row r = {0};
    const struct dw_value p[] = {DW_VTEXT(sha256)};
    if (dw_store_exec(a->store,
                      "SELECT username, created_at, last_seen_at, expires_at FROM auth_sessions "
                      "WHERE id_sha256 = $1",
                      p, 1, read_row, &r, why) != 0)
        return -1;
    if (!r.found) {
        set_why(why, "no such session: it was signed out, replaced by newer ones or has expired");
        return DW_AUTH_EDENIED;
    }
    pthread_mutex_lock(&a->lock);
    struct dw_auth_session_limits lim = a->settings.sessions;
    pthread_mutex_unlock(&a->lock);
    int64_t now = dw_now_ms();
    const char *gone = now >= r.expires                           ? "the session has expired"
                       : now - r.last_seen >= lim.idle_timeout_ms ? "the session timed out"
                       : !user_role(a, r.user, &out->role)
                           ? "the session's user can no longer sign in"
                           : NULL;
    if (gone) {
        delete_row(a->store, sha256, NULL);
        set_why(why, gone);
        return DW_AUTH_EDENIED;
    }
    int64_t touch = lim.idle_timeout_ms / 4 < TOUCH_MS ? lim.idle_timeout_ms / 4 : TOUCH_MS;
    if (now - r.last_seen >= touch) {
        const struct dw_value q[] = {DW_VINT(now), DW_VTEXT(sha256)};
        if (dw_store_exec(a->store,
                          "UPDATE auth_sessions SET last_seen_at = $1 WHERE id_sha256 = $2", q, 2,
                          NULL, NULL, why) != 0)
            return -1;
        r.last_seen = now;
    }
    dw_strlcpy(out->user, r.user, sizeof out->user);
    out->created_ms = r.created;
    out->expires_ms = r.expires;
    out->idle_expires_ms = r.last_seen + lim.idle_timeout_ms;
    if (out->idle_expires_ms > r.expires)
        out->idle_expires_ms = r.expires;
    return 0;
}

int dw_auth_logout(struct dw_auth *a, const char *session_id, char **err)
{
    char sha256[65];
    if (!auth_session_parse_id(session_id, sha256, NULL))
        return 0;
    return delete_row(a->store, sha256, err) == 0 ? 0 : -1;
}

bool dw_auth_csrf_ok(const struct dw_auth_session *s, const char *header)
{
    return header && strlen(header) == DW_AUTH_TOKEN_LEN && s->csrf[0] &&
           dw_ct_equal(header, s->csrf, DW_AUTH_TOKEN_LEN);
}

int64_t dw_auth_session_count(struct dw_auth *a, const char *user)
{
    int64_t n = -1;
    const struct dw_value p[] = {DW_VTEXT(user)};
    if (dw_store_int(a->store, "SELECT COUNT(*) FROM auth_sessions WHERE username = $1", p, 1, &n,
                     NULL) != 0)
        return -1;
    return n;
}
