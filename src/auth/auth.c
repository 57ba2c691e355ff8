/*
 * auth.c - the sign-in module: its accounts and settings, and signing in.
 *
 * DESIGN
 * dw_auth_login runs in three steps so the slow part holds no lock:
 *   1. under the mutex: refuse when the user name or the client address is
 *      locked out (429, no password is checked) or DW_AUTH_MAX_PARALLEL
 *      checks are running (503); else copy the user's hash, or the
 *      stand-in hash for a name that is no account, and count the check;
 *   2. without it: crypto_pwhash_str_verify (about 0.1 s, 64 MiB);
 *   3. under the mutex again: count a failure for both keys, or forget the
 *      user name's failures on success; then store the new session.
 * Unknown names go through the same three steps against a stand-in hash of
 * the same cost and are counted and locked like accounts, so neither the
 * time nor the answer tells whether a name exists. A success does not clear
 * the client address's failures: one valid account must not reset the
 * count for guesses at the others.
 *
 * Threads: the mutex guards the accounts, the settings, the lockout table
 * and the count of running checks; the store has its own locking.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_internal.h"

void dw_auth_settings_default(struct dw_auth_settings *s)
{
    *s = (struct dw_auth_settings){
        .sessions = {.idle_timeout_ms = 12 * 3600000LL,
                     .max_lifetime_ms = 7 * 24 * 3600000LL,
                     .max_per_user = 10},
        .lockout = {.max_failures = 5,
                    .max_failures_per_client = 20,
                    .window_ms = 15 * 60000LL,
                    .cooldown_ms = 60000,
                    .max_cooldown_ms = 3600000},
        .cookie_secure = false,
    };
}

struct dw_auth *dw_auth_open(struct dw_store *store, char **err)
{
    if (auth_session_migrate(store, err) != 0)
        return NULL;
    struct dw_auth *a = dw_calloc(1, sizeof *a);
    a->store = store;
    pthread_mutex_init(&a->lock, NULL);
    dw_auth_settings_default(&a->settings);
    return a;
}

static void free_users(struct dw_auth_user *users, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(users[i].name);
        if (users[i].password_hash) {
            explicit_bzero(users[i].password_hash, strlen(users[i].password_hash));
            free(users[i].password_hash);
        }
    }
    free(users);
}

void dw_auth_close(struct dw_auth **pa)
{
    struct dw_auth *a = *pa;
    if (!a)
        return;
    free_users(a->users, a->nusers);
    auth_lockout_release(&a->lockout);
    pthread_mutex_destroy(&a->lock);
    free(a);
    *pa = NULL;
}

void dw_auth_configure(struct dw_auth *a, const struct dw_auth_user *users, size_t n,
                       const struct dw_auth_settings *settings)
{
    struct dw_auth_user *copy = n ? dw_calloc(n, sizeof *copy) : NULL;
    const char *like = NULL;
    for (size_t i = 0; i < n; i++) {
        copy[i].name = dw_strdup(users[i].name ? users[i].name : "");
        copy[i].role = users[i].role;
        copy[i].password_hash = dw_strdup(users[i].password_hash ? users[i].password_hash : "");
        if (!like && copy[i].password_hash[0])
            like = copy[i].password_hash;
    }
    struct auth_hash stand_in;
    auth_hash_stand_in(like, &stand_in); /* slow: outside the lock */

    pthread_mutex_lock(&a->lock);
    struct dw_auth_user *old = a->users;
    size_t nold = a->nusers;
    a->users = copy;
    a->nusers = n;
    a->stand_in = stand_in;
    if (settings)
        a->settings = *settings;
    pthread_mutex_unlock(&a->lock);
    free_users(old, nold);
}

bool dw_auth_cookie_secure(struct dw_auth *a)
{
    pthread_mutex_lock(&a->lock);
    bool secure = a->settings.cookie_secure;
    pthread_mutex_unlock(&a->lock);
    return secure;
}

/* ---- signing in ---- */

/* What step 1 hands to step 2. */
struct attempt {
    char user_key[2 + DW_AUTH_NAME_MAX + 1];
    char client_key[2 + DW_AUTH_CLIENT_MAX + 1];
    struct auth_hash hash;
    bool known;
    int role;
};

static int bad_input(const char *user, size_t password_len, char **err)
{
    size_t ulen = strlen(user);
    if (ulen == 0)
        *err = dw_strdup("username is empty");
    else if (ulen > DW_AUTH_NAME_MAX)
        *err = dw_asprintf("username is %zu bytes; the most is %d", ulen, DW_AUTH_NAME_MAX);
    else if (password_len == 0)
        *err = dw_strdup("password is empty");
    else if (password_len > DW_AUTH_PASSWORD_MAX)
        *err = dw_asprintf("password is %zu bytes; the most is %d", password_len,
                           DW_AUTH_PASSWORD_MAX);
    else
        return 0;
    return DW_AUTH_EINVAL;
}

/* The user's hash (or the stand-in) into at; a->lock held. */
static void pick_hash(struct dw_auth *a, const char *user, struct attempt *at)
{
    at->hash = a->stand_in;
    at->known = false;
    for (size_t i = 0; i < a->nusers; i++) {
        const struct dw_auth_user *u = &a->users[i];
        size_t len = strlen(u->password_hash);
        if (strcmp(u->name, user) != 0 || len == 0 || len > DW_AUTH_HASH_MAX)
            continue;
        memset(at->hash.s, 0, sizeof at->hash.s);
        memcpy(at->hash.s, u->password_hash, len);
        at->known = true;
        at->role = u->role;
        return;
    }
}

/* Step 1 (see DESIGN): 0 to go on and check the password, else the refusal. */
static int admit(struct dw_auth *a, struct attempt *at, const char *user, int64_t now,
                 struct dw_auth_login *out, char **err)
{
    int rc = 0;
    pthread_mutex_lock(&a->lock);
    const struct dw_auth_lockout_limits *lim = &a->settings.lockout;
    int64_t wait = auth_lockout_remaining(&a->lockout, at->user_key, now, lim);
    int64_t wait_client =
        at->client_key[0] ? auth_lockout_remaining(&a->lockout, at->client_key, now, lim) : 0;
    if (wait_client > wait)
        wait = wait_client;
    if (wait > 0) {
        out->retry_after_ms = wait;
        *err = dw_asprintf("too many failed sign-ins %s; try again in %lld s",
                           wait_client >= wait ? "from this address" : "for this user name",
                           (long long)((wait + 999) / 1000));
        rc = DW_AUTH_ELOCKED;
    } else if (a->checking >= DW_AUTH_MAX_PARALLEL) {
        out->retry_after_ms = 1000;
        *err = dw_strdup("too many sign-ins at once; try again in a second");
        rc = DW_AUTH_EBUSY;
    } else {
        a->checking++;
        pick_hash(a, user, at);
    }
    pthread_mutex_unlock(&a->lock);
    return rc;
}

/* Step 3's bookkeeping: the lockout after a check. */
static void account(struct dw_auth *a, const struct attempt *at, bool ok, int64_t now)
{
    pthread_mutex_lock(&a->lock);
    a->checking--;
    const struct dw_auth_lockout_limits *lim = &a->settings.lockout;
    if (ok) {
        auth_lockout_forget(&a->lockout, at->user_key);
    } else {
        auth_lockout_fail(&a->lockout, at->user_key, lim->max_failures, now, lim);
        if (at->client_key[0])
            auth_lockout_fail(&a->lockout, at->client_key, lim->max_failures_per_client, now, lim);
    }
    pthread_mutex_unlock(&a->lock);
}

static int open_session(struct dw_auth *a, const char *user, int role, const char *client,
                        int64_t now, struct dw_auth_login *out, char **err)
{
    char sha256[65];
    pthread_mutex_lock(&a->lock);
    struct dw_auth_session_limits lim = a->settings.sessions;
    pthread_mutex_unlock(&a->lock);
    auth_session_new_id(out->session_id, sha256);
    if (auth_session_insert(a->store, sha256, user, client, now, &lim, err) != 0) {
        explicit_bzero(out->session_id, sizeof out->session_id);
        return -1;
    }
    struct dw_auth_session *s = &out->session;
    auth_session_parse_id(out->session_id, sha256, s->csrf);
    dw_strlcpy(s->user, user, sizeof s->user);
    s->role = role;
    s->created_ms = now;
    s->expires_ms = now + lim.max_lifetime_ms;
    s->idle_expires_ms = now + lim.idle_timeout_ms;
    if (s->idle_expires_ms > s->expires_ms)
        s->idle_expires_ms = s->expires_ms;
    return 0;
}

int dw_auth_login(struct dw_auth *a, const char *user, const char *password, size_t password_len,
                  const char *client, struct dw_auth_login *out, char **err)
{
    memset(out, 0, sizeof *out);
    int rc = bad_input(user ? user : "", password ? password_len : 0, err);
    if (rc != 0)
        return rc;
    struct attempt at = {0};
    snprintf(at.user_key, sizeof at.user_key, "u:%s", user);
    if (client && *client)
        snprintf(at.client_key, sizeof at.client_key, "a:%.*s", DW_AUTH_CLIENT_MAX, client);
    int64_t now = dw_now_ms();
    rc = admit(a, &at, user, now, out, err);
    if (rc != 0)
        return rc;
    bool ok = auth_password_matches(&at.hash, password, password_len) && at.known;
    explicit_bzero(&at.hash, sizeof at.hash);
    account(a, &at, ok, now);
    if (!ok) {
        *err = dw_strdup("wrong user name or password");
        return DW_AUTH_EDENIED;
    }
    return open_session(a, user, at.role, client, now, out, err);
}
