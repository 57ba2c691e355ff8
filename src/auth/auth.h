/*
 * auth.h - signing in to dojowatch: user accounts with Argon2id password
 * hashes, sessions kept in the store, CSRF tokens and the lockout after
 * repeated failures. The HTTP layer (api_auth.c, server.c) only translates;
 * everything decided about a password or a session is decided here.
 *
 * Accounts come from the configuration (auth.users: name, role,
 * password_hash, where password_hash is libsodium's crypto_pwhash_str
 * Argon2id string that `dojowatch passwd` prints). The module does not
 * interpret roles: it keeps each user's role value (an enum dw_role of the
 * plan module) and hands it back with the session.
 *
 * A session is 256 random bits. The client holds them (base64url, the value
 * of the dw_session cookie); the store keeps only their SHA-256, so a copy of
 * the database signs nobody in. A session ends when it has been idle for
 * sessions.idle_timeout (12 h) or is sessions.max_lifetime old (7 d),
 * whichever comes first, on sign-out, when its user leaves the
 * configuration, or when the user opens more than sessions.max_per_user
 * (the oldest goes). Its CSRF token is derived from the session id (an
 * HMAC), so it is per session and never stored.
 *
 * Lockout: lockout.max_failures failed sign-ins for one user name within
 * lockout.window, or lockout.max_failures_per_client from one client
 * address, refuse further attempts for lockout.cooldown, doubling with each
 * lockout up to lockout.max_cooldown. The table is in memory and bounded
 * (DW_AUTH_LOCKOUT_ENTRIES); a restart forgets it.
 *
 * Threads: every function may be called from any thread. Time is dw_now_ms().
 */
#ifndef DW_AUTH_H
#define DW_AUTH_H

#include "core/core.h"
#include "store/store.h"

#define DW_AUTH_COOKIE "dw_session"         /* the session cookie's name */
#define DW_AUTH_CSRF_HEADER "X-CSRF-Token"  /* where state changes carry the CSRF token */
#define DW_AUTH_NAME_MAX 64                 /* bytes of a user name */
#define DW_AUTH_PASSWORD_MAX 1024           /* bytes of a password */
#define DW_AUTH_HASH_MAX 127                /* bytes of a password hash (libsodium's bound) */
#define DW_AUTH_TOKEN_LEN 43                /* a session id or CSRF token: 32 bytes, base64url */
#define DW_AUTH_CLIENT_MAX 63               /* bytes of a client address kept */
#define DW_AUTH_MAX_PARALLEL 4              /* password checks at once (64 MiB each) */
#define DW_AUTH_LOCKOUT_ENTRIES 4096        /* user names and addresses the lockout remembers */
#define DW_AUTH_MAX_MEMORY_KIB (256u << 10) /* the most a configured hash may cost (m=) */
#define DW_AUTH_MAX_PASSES 10u              /* ... and its most passes (t=) */

/* Return codes beside 0 and -1 (store failure); the values are those of the
 * HTTP layer's DW_API_E* where they mean the same. */
#define DW_AUTH_EINVAL (-2)  /* malformed input: 400 */
#define DW_AUTH_EDENIED (-4) /* wrong user name or password, unknown session: 401 */
#define DW_AUTH_ELOCKED (-5) /* locked out for a while: 429 with Retry-After */
#define DW_AUTH_EBUSY (-6)   /* DW_AUTH_MAX_PARALLEL checks already running: 503 */

/** One account, as auth.users[] gives it. */
struct dw_auth_user {
    char *name;
    int role;            /* an enum dw_role value, handed back as it is */
    char *password_hash; /* Argon2id string; NULL or "" disables the account */
};

struct dw_auth_session_limits {
    int64_t idle_timeout_ms; /* default 12 h */
    int64_t max_lifetime_ms; /* default 7 d */
    int max_per_user;        /* default 10; the oldest session goes */
};

struct dw_auth_lockout_limits {
    int max_failures;            /* per user name within window; default 5 */
    int max_failures_per_client; /* per client address within window; default 20; 0: off */
    int64_t window_ms;           /* default 15 min */
    int64_t cooldown_ms;         /* the first lockout; default 1 min, doubling */
    int64_t max_cooldown_ms;     /* default 1 h */
};

/** The settings of auth: besides tokens and users (the plan decodes them). */
struct dw_auth_settings {
    struct dw_auth_session_limits sessions;
    struct dw_auth_lockout_limits lockout;
    bool cookie_secure; /* mark the cookie Secure even without TLS (behind a TLS proxy) */
};

/** Fills s with the defaults above. */
void dw_auth_settings_default(struct dw_auth_settings *s);

/* ---- passwords ---- */

/**
 * Hashes a password with Argon2id at libsodium's interactive cost (64 MiB,
 * 2 passes): the string for auth.users[].password_hash into out. 0, or -1
 * with *err (caller frees) when the password is empty or too long.
 */
int dw_auth_hash_password(const char *password, size_t len, char out[DW_AUTH_HASH_MAX + 1],
                          char **err);
/**
 * Checks a configured password hash: 0 when it is an Argon2id string within
 * DW_AUTH_MAX_MEMORY_KIB and DW_AUTH_MAX_PASSES, 1 when it is usable but
 * weaker than OWASP's minimum (19 MiB, 2 passes), -1 when it cannot be used.
 * *why (caller frees) says what is wrong or weak.
 */
int dw_auth_hash_check(const char *hash, char **why);
/** Checks a user name: 1 to 64 bytes of letters, digits and . _ @ -. false with *why. */
bool dw_auth_name_check(const char *name, char **why);

/* ---- the module ---- */

struct dw_auth;

/**
 * Opens sign-in on a store: applies the "auth" component's migrations
 * (the session table). No users until dw_auth_configure. NULL with *err.
 */
struct dw_auth *dw_auth_open(struct dw_store *store, char **err);
/** Frees; sets *a to NULL. NULL is a no-op. No other thread may still use it. */
void dw_auth_close(struct dw_auth **a);
/**
 * Replaces the accounts and settings (copied; at start and on every reload).
 * Sessions of users no longer listed end at their next use. Prepares the
 * stand-in hash that unknown user names are checked against (one hash at
 * the cost of the first account's, so it takes as long as a real check).
 */
void dw_auth_configure(struct dw_auth *a, const struct dw_auth_user *users, size_t n,
                       const struct dw_auth_settings *settings);
/** Whether the cookie is always marked Secure (auth.cookie_secure). */
bool dw_auth_cookie_secure(struct dw_auth *a);

/** What a live session says (plain data). */
struct dw_auth_session {
    char user[DW_AUTH_NAME_MAX + 1];
    int role;
    char csrf[DW_AUTH_TOKEN_LEN + 1]; /* the token state changes must carry */
    int64_t created_ms;
    int64_t idle_expires_ms; /* when it ends unless used again */
    int64_t expires_ms;      /* when it ends at the latest (created + max lifetime) */
};

/** The result of a sign-in. */
struct dw_auth_login {
    char session_id[DW_AUTH_TOKEN_LEN + 1]; /* the cookie's value; held nowhere else */
    struct dw_auth_session session;
    int64_t retry_after_ms; /* with DW_AUTH_ELOCKED and DW_AUTH_EBUSY: when to try again */
};

/**
 * Signs a user in from client (an address, for the per-client lockout; may
 * be NULL). Unknown and disabled users cost one Argon2id check like a real
 * one and get the same answer as a wrong password. Returns 0 with out
 * filled and the session stored, DW_AUTH_EINVAL (name or password empty or
 * too long), DW_AUTH_EDENIED, DW_AUTH_ELOCKED or DW_AUTH_EBUSY (with
 * out->retry_after_ms), or -1 for a store failure; *err (caller frees) says
 * why, in words fit for the client.
 */
int dw_auth_login(struct dw_auth *a, const char *user, const char *password, size_t password_len,
                  const char *client, struct dw_auth_login *out, char **err);
/**
 * Looks a session id (the cookie's value) up: 0 with out filled when it is
 * live (its idle timer restarts), DW_AUTH_EDENIED when it is malformed,
 * unknown, expired or its user is gone (the stored session is deleted), -1
 * on a store failure. *why (may be NULL; caller frees) says which.
 */
int dw_auth_session_check(struct dw_auth *a, const char *session_id, struct dw_auth_session *out,
                          char **why);
/** Ends a session (signing out). 0 also when there was none; -1 with *err. */
int dw_auth_logout(struct dw_auth *a, const char *session_id, char **err);
/** Constant-time: does the header value (may be NULL) carry the session's CSRF token? */
bool dw_auth_csrf_ok(const struct dw_auth_session *s, const char *header);
/** Sessions stored now for a user (tests, statistics); -1 on a store failure. */
int64_t dw_auth_session_count(struct dw_auth *a, const char *user);

#endif
