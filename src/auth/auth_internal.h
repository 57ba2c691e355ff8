/*
 * auth_internal.h - what the files of the auth module share (auth.c,
 * password.c, session.c, lockout.c). No other module includes it.
 */
#ifndef DW_AUTH_INTERNAL_H
#define DW_AUTH_INTERNAL_H

#include <pthread.h>

#include "auth/auth.h"

/* ---- password.c ---- */

/** A password hash in the fixed-size buffer libsodium's functions read. */
struct auth_hash {
    char s[DW_AUTH_HASH_MAX + 1]; /* NUL-padded */
};

/**
 * Argon2id's cost parameters of a hash string: 0 with memory in KiB,
 * passes and lanes, or -1 when they cannot be read.
 */
int auth_hash_params(const char *hash, uint32_t *m_kib, uint32_t *t, uint32_t *p);
/** A hash of a random password at the cost of `like` (or the interactive cost). */
void auth_hash_stand_in(const char *like, struct auth_hash *out);
/** crypto_pwhash_str_verify: true when password matches hash. Slow by design. */
bool auth_password_matches(const struct auth_hash *hash, const char *password, size_t len);

/* ---- lockout.c: the failure table (the caller holds the module's lock) ---- */

struct auth_lockout_entry {
    char key[2 + DW_AUTH_NAME_MAX + 1]; /* "u:<user name>" or "a:<client address>" */
    int failures;                       /* within the current window */
    int lockouts;                       /* in a row, for the doubling cooldown */
    int64_t window_start_ms;
    int64_t last_failure_ms;
    int64_t locked_until_ms;
};

struct auth_lockout {
    struct auth_lockout_entry *items; /* heap, up to DW_AUTH_LOCKOUT_ENTRIES */
    size_t n, cap;
};

void auth_lockout_release(struct auth_lockout *t);
/** How long key stays locked at now (0: not locked). */
int64_t auth_lockout_remaining(struct auth_lockout *t, const char *key, int64_t now,
                               const struct dw_auth_lockout_limits *lim);
/**
 * Counts one failure for key against limit (0: never locks). Returns how
 * long the key is now locked (0 when this failure did not lock it).
 */
int64_t auth_lockout_fail(struct auth_lockout *t, const char *key, int limit, int64_t now,
                          const struct dw_auth_lockout_limits *lim);
/** Forgets key (a successful sign-in of that user). */
void auth_lockout_forget(struct auth_lockout *t, const char *key);

/* ---- session.c: the session table in the store ---- */

int auth_session_migrate(struct dw_store *store, char **err);
/** A new random session id (cookie value) and its stored hash. */
void auth_session_new_id(char id[DW_AUTH_TOKEN_LEN + 1], char sha256[65]);
/**
 * Decodes a cookie value into the stored hash and the CSRF token; false
 * when it is not a session id (wrong length or alphabet).
 */
bool auth_session_parse_id(const char *id, char sha256[65], char csrf[DW_AUTH_TOKEN_LEN + 1]);
/**
 * Stores a new session for user (in one transaction: drop expired sessions
 * of everyone, insert, drop the user's oldest beyond max_per_user).
 */
int auth_session_insert(struct dw_store *store, const char *sha256, const char *user,
                        const char *client, int64_t now, const struct dw_auth_session_limits *lim,
                        char **err);

/* ---- the module (auth.c) ---- */

struct dw_auth {
    struct dw_store *store;     /* borrowed */
    pthread_mutex_t lock;       /* guards everything below */
    struct dw_auth_user *users; /* heap copies */
    size_t nusers;
    struct dw_auth_settings settings;
    struct auth_hash stand_in; /* checked for unknown users */
    struct auth_lockout lockout;
    int checking; /* password checks running now */
};

#endif
