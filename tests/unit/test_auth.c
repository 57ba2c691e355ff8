/*
 * test_auth.c - the auth module: Argon2id hashes, signing in, the stand-in
 * check for unknown users, lockout with its doubling cooldown (on the manual
 * clock), sessions with idle and absolute expiry and the per-user cap, CSRF
 * tokens, and the bounds on everything that comes from outside.
 *
 * Accounts use cheap hashes (m=8 KiB, t=1) so the many sign-ins stay fast;
 * the interactive cost is tested where it matters (hash_password, timing).
 */
#include <sodium.h>
#include <time.h>

#include "auth/auth_internal.h"
#include "testutil.h"

#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */
#define MIN_MS 60000LL
#define HOUR_MS (60 * MIN_MS)

enum { ROLE_VIEWER = 1, ROLE_RESPONDER = 2, ROLE_ADMIN = 3 };

struct fixture {
    char *dir;
    struct dw_store *store;
    struct dw_auth *auth;
    struct dw_auth_settings settings;
    char alice[DW_AUTH_HASH_MAX + 1], bob[DW_AUTH_HASH_MAX + 1];
};

static void cheap_hash(const char *password, char out[DW_AUTH_HASH_MAX + 1])
{
    ASSERT_EQ_INT(crypto_pwhash_str_alg(out, password, strlen(password), 1, 8192,
                                        crypto_pwhash_ALG_ARGON2ID13),
                  0);
}

static void configure(struct fixture *f)
{
    struct dw_auth_user users[] = {
        {.name = "alice", .role = ROLE_ADMIN, .password_hash = f->alice},
        {.name = "bob", .role = ROLE_VIEWER, .password_hash = f->bob},
        {.name = "carol", .role = ROLE_RESPONDER, .password_hash = ""}, /* disabled */
    };
    dw_auth_configure(f->auth, users, DW_ARRAY_LEN(users), &f->settings);
}

static void setup(struct fixture *f)
{
    memset(f, 0, sizeof *f);
    ASSERT_EQ_INT(sodium_init() >= 0, 1);
    dw_log_set_level(DW_LOG_WARN);
    dw_clock_set_manual(T0);
    f->dir = tmpdir_new();
    char *path = dw_asprintf("%s/dojowatch.db", f->dir), *err = NULL;
    f->store = dw_store_open(path, &err);
    free(path);
    ASSERT_NOT_NULL(f->store);
    f->auth = dw_auth_open(f->store, &err);
    ASSERT_NOT_NULL(f->auth);
    dw_auth_settings_default(&f->settings);
    cheap_hash("alice-password", f->alice);
    cheap_hash("bob-password", f->bob);
    configure(f);
}

static void teardown(struct fixture *f)
{
    dw_auth_close(&f->auth);
    ASSERT_NULL(f->auth);
    dw_store_close(&f->store);
    rm_rf(f->dir);
    free(f->dir);
    dw_clock_set_real();
}

/* Signs in; returns the code and frees the message. */
static int login_from(struct fixture *f, const char *user, const char *pw, const char *client,
                      struct dw_auth_login *out)
{
    char *err = NULL;
    int rc = dw_auth_login(f->auth, user, pw, strlen(pw), client, out, &err);
    if (rc == 0)
        ASSERT_NULL(err);
    else
        ASSERT_NOT_NULL(err);
    free(err);
    return rc;
}

static int login(struct fixture *f, const char *user, const char *pw, struct dw_auth_login *out)
{
    return login_from(f, user, pw, "192.0.2.1", out);
}

static int check(struct fixture *f, const char *id, struct dw_auth_session *s, char **why)
{
    return dw_auth_session_check(f->auth, id, s, why);
}

/* ---- hashes ---- */

TEST(hash_password_makes_an_interactive_argon2id_hash)
{
    char out[DW_AUTH_HASH_MAX + 1], *err = NULL;
    ASSERT_EQ_INT(dw_auth_hash_password("correct horse", 13, out, &err), 0);
    ASSERT_TRUE(dw_str_has_prefix(out, "$argon2id$v=19$m=65536,t=2,p=1$"));
    ASSERT_EQ_INT(dw_auth_hash_check(out, &err), 0);
    ASSERT_NULL(err);
    struct auth_hash h = {{0}};
    memcpy(h.s, out, strlen(out));
    ASSERT_TRUE(auth_password_matches(&h, "correct horse", 13));
    ASSERT_FALSE(auth_password_matches(&h, "correct horsE", 13));
    ASSERT_FALSE(auth_password_matches(&h, "correct hors", 12));
    /* Salted: the same password hashes differently. */
    char again[DW_AUTH_HASH_MAX + 1];
    ASSERT_EQ_INT(dw_auth_hash_password("correct horse", 13, again, &err), 0);
    ASSERT_TRUE(strcmp(out, again) != 0);
}

TEST(hash_password_bounds_its_input)
{
    char out[DW_AUTH_HASH_MAX + 1], *err = NULL;
    ASSERT_EQ_INT(dw_auth_hash_password("", 0, out, &err), -1);
    ASSERT_EQ_STR(err, "the password is empty");
    free(err);
    char big[DW_AUTH_PASSWORD_MAX + 1];
    memset(big, 'x', sizeof big);
    ASSERT_EQ_INT(dw_auth_hash_password(big, sizeof big, out, &err), -1);
    ASSERT_EQ_STR(err, "the password is 1025 bytes; the most is 1024");
    free(err);
}

static void expect_hash_error(const char *hash, const char *part)
{
    char *why = NULL;
    ASSERT_EQ_INT(dw_auth_hash_check(hash, &why), -1);
    ASSERT_CONTAINS(why, part);
    free(why);
}

TEST(hash_check_says_what_is_wrong)
{
    expect_hash_error("", "empty");
    expect_hash_error("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
                      "is a bcrypt hash; dojowatch takes Argon2id hashes only");
    expect_hash_error("$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaa",
                      "is an Argon2i hash");
    expect_hash_error("hunter2", "expected an Argon2id hash like $argon2id$v=19$m=65536");
    expect_hash_error("$argon2id$v=19$m=65536,t=2,p=1$xx", "malformed Argon2id hash");
    expect_hash_error("$argon2id$v=16$m=65536,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaa",
                      "malformed");
    char long_hash[200];
    memset(long_hash, 'a', sizeof long_hash - 1);
    long_hash[sizeof long_hash - 1] = '\0';
    expect_hash_error(long_hash, "is 199 bytes; an Argon2id hash is at most 127");
    /* Too costly: anyone can make the server check a password. */
    char costly[DW_AUTH_HASH_MAX + 1];
    ASSERT_EQ_INT(crypto_pwhash_str_alg(costly, "x", 1, 11, 8192, crypto_pwhash_ALG_ARGON2ID13), 0);
    expect_hash_error(costly, "costs m=8 KiB and t=11 passes per sign-in; dojowatch allows at "
                              "most m=262144 (256 MiB) and t=10");
    expect_hash_error("$argon2id$v=19$m=1048576,t=2,p=1$c29tZXNhbHQ$"
                      "RdescudvJCsgt3ub+b+dWRWJTmaaJObGqZEXDmkdBHA",
                      "costs m=1048576 KiB");
}

TEST(hash_check_warns_about_weak_costs_and_takes_other_lanes)
{
    char weak[DW_AUTH_HASH_MAX + 1], *why = NULL;
    cheap_hash("x", weak);
    ASSERT_EQ_INT(dw_auth_hash_check(weak, &why), 1);
    ASSERT_CONTAINS(why, "weak Argon2id cost m=8 KiB, t=1");
    free(why);
    why = NULL;
    /* argon2-cffi's documented hash (p=4): libsodium verifies it too. */
    const char *p4 = "$argon2id$v=19$m=65536,t=3,p=4$MIIRqgvgQbgj220jfp0MPA$"
                     "YfwJSVjtjSU0zzV/P3S9nnQ/USre2wvJMjfCIjrTQbg";
    ASSERT_EQ_INT(dw_auth_hash_check(p4, &why), 0);
    struct auth_hash h = {{0}};
    memcpy(h.s, p4, strlen(p4));
    ASSERT_TRUE(auth_password_matches(&h, "correct horse battery staple", 28));
    uint32_t m, t, p;
    ASSERT_EQ_INT(auth_hash_params(p4, &m, &t, &p), 0);
    ASSERT_EQ_UINT(m, 65536);
    ASSERT_EQ_UINT(t, 3);
    ASSERT_EQ_UINT(p, 4);
}

TEST(user_names_are_checked)
{
    char *why = NULL;
    ASSERT_TRUE(dw_auth_name_check("ops.lead@dojo_pool-1", &why));
    ASSERT_FALSE(dw_auth_name_check("", &why));
    ASSERT_EQ_STR(why, "the user name is empty");
    free(why);
    ASSERT_FALSE(dw_auth_name_check("a b", &why));
    ASSERT_CONTAINS(why, "byte 2 is not one of them");
    free(why);
    char big[DW_AUTH_NAME_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ASSERT_FALSE(dw_auth_name_check(big, &why));
    ASSERT_EQ_STR(why, "the user name is 65 bytes; the most is 64");
    free(why);
}

/* ---- signing in ---- */

TEST(sign_in_opens_a_session_with_role_and_csrf_token)
{
    struct fixture f;
    setup(&f);
    struct dw_auth_login out;
    ASSERT_EQ_INT(login(&f, "alice", "alice-password", &out), 0);
    ASSERT_EQ_UINT(strlen(out.session_id), DW_AUTH_TOKEN_LEN);
    ASSERT_EQ_STR(out.session.user, "alice");
    ASSERT_EQ_INT(out.session.role, ROLE_ADMIN);
    ASSERT_EQ_INT(out.session.idle_expires_ms, T0 + 12 * HOUR_MS);
    ASSERT_EQ_INT(out.session.expires_ms, T0 + 7 * 24 * HOUR_MS);
    ASSERT_EQ_UINT(strlen(out.session.csrf), DW_AUTH_TOKEN_LEN);
    ASSERT_TRUE(strcmp(out.session.csrf, out.session_id) != 0);

    struct dw_auth_session s;
    ASSERT_EQ_INT(check(&f, out.session_id, &s, NULL), 0);
    ASSERT_EQ_STR(s.user, "alice");
    ASSERT_EQ_INT(s.role, ROLE_ADMIN);
    ASSERT_EQ_STR(s.csrf, out.session.csrf);
    ASSERT_EQ_INT(s.created_ms, T0);

    /* A second session has its own id and its own CSRF token. */
    struct dw_auth_login two;
    ASSERT_EQ_INT(login(&f, "alice", "alice-password", &two), 0);
    ASSERT_TRUE(strcmp(two.session_id, out.session_id) != 0);
    ASSERT_TRUE(strcmp(two.session.csrf, out.session.csrf) != 0);
    ASSERT_EQ_INT(dw_auth_session_count(f.auth, "alice"), 2);
    teardown(&f);
}

TEST(only_the_hash_of_a_session_id_is_stored)
{
    struct fixture f;
    setup(&f);
    struct dw_auth_login out;
    ASSERT_EQ_INT(login(&f, "bob", "bob-password", &out), 0);
    uint8_t raw[33];
    ASSERT_EQ_INT(dw_base64_decode(out.session_id, true, raw, sizeof raw), 32);
    char hex[65];
    dw_sha256_hex(raw, 32, hex);
    const struct dw_value p[] = {DW_VTEXT(hex)};
    int64_t n = 0;
    ASSERT_EQ_INT(dw_store_int(f.store, "SELECT COUNT(*) FROM auth_sessions WHERE id_sha256 = $1",
                               p, 1, &n, NULL),
                  0);
    ASSERT_EQ_INT(n, 1);
    const struct dw_value q[] = {DW_VTEXT(out.session_id), DW_VTEXT(out.session.csrf)};
    n = -1;
    ASSERT_EQ_INT(dw_store_int(f.store,
                               "SELECT COUNT(*) FROM auth_sessions WHERE id_sha256 = $1 OR "
                               "client = $1 OR username = $1 OR id_sha256 = $2",
                               q, 2, &n, NULL),
                  0);
    ASSERT_EQ_INT(n, 0);
    teardown(&f);
}

TEST(wrong_password_and_unknown_user_get_the_same_answer)
{
    struct fixture f;
    setup(&f);
    struct dw_auth_login out;
    char *e1 = NULL, *e2 = NULL, *e3 = NULL;
    ASSERT_EQ_INT(dw_auth_login(f.auth, "alice", "nope", 4, NULL, &out, &e1), DW_AUTH_EDENIED);
    ASSERT_EQ_INT(dw_auth_login(f.auth, "mallory", "nope", 4, NULL, &out, &e2), DW_AUTH_EDENIED);
    /* A disabled account (empty hash) is no account. */
    ASSERT_EQ_INT(dw_auth_login(f.auth, "carol", "", 0, NULL, &out, &e3), DW_AUTH_EINVAL);
    free(e3);
    ASSERT_EQ_INT(dw_auth_login(f.auth, "carol", "x", 1, NULL, &out, &e3), DW_AUTH_EDENIED);
    ASSERT_EQ_STR(e1, "wrong user name or password");
    ASSERT_EQ_STR(e2, e1);
    ASSERT_EQ_STR(e3, e1);
    ASSERT_EQ_STR(out.session_id, "");
    /* The other account's password is not this one's. */
    ASSERT_EQ_INT(login(&f, "alice", "bob-password", &out), DW_AUTH_EDENIED);
    ASSERT_EQ_INT(dw_auth_session_count(f.auth, "alice"), 0);
    free(e1);
    free(e2);
    free(e3);
    teardown(&f);
}

TEST(unknown_users_are_checked_against_a_stand_in_of_the_same_cost)
{
    struct fixture f;
    setup(&f);
    uint32_t m, t, p, um, ut, up;
    ASSERT_EQ_INT(auth_hash_params(f.auth->stand_in.s, &m, &t, &p), 0);
    ASSERT_EQ_INT(auth_hash_params(f.alice, &um, &ut, &up), 0);
    ASSERT_EQ_UINT(m, um);
    ASSERT_EQ_UINT(t, ut);
    /* With no accounts the stand-in has the interactive cost of 'dojowatch passwd'. */
    dw_auth_configure(f.auth, NULL, 0, &f.settings);
    ASSERT_EQ_INT(auth_hash_params(f.auth->stand_in.s, &m, &t, &p), 0);
    ASSERT_EQ_UINT(m, 65536);
    ASSERT_EQ_UINT(t, 2);
    teardown(&f);
}

static double seconds_of_login(struct fixture *f, const char *user)
{
    double best = 1e9;
    for (int i = 0; i < 2; i++) {
        struct dw_auth_login out;
        char *err = NULL;
        int64_t t0 = dw_mono_ns();
        ASSERT_EQ_INT(dw_auth_login(f->auth, user, "wrong", 5, NULL, &out, &err), DW_AUTH_EDENIED);
        double s = (double)(dw_mono_ns() - t0) / 1e9;
        free(err);
        if (s < best)
            best = s;
    }
    return best;
}

TEST(unknown_user_takes_as_long_as_a_wrong_password)
{
    struct fixture f;
    setup(&f);
    char *err = NULL;
    ASSERT_EQ_INT(dw_auth_hash_password("real-password", 13, f.alice, &err), 0);
    configure(&f);
    double known = seconds_of_login(&f, "alice"), unknown = seconds_of_login(&f, "mallory");
    printf("  wrong password %.1f ms, unknown user %.1f ms\n", known * 1000, unknown * 1000);
    /* Both are one Argon2id check at 64 MiB; a lookup alone would take microseconds. */
    ASSERT_TRUE(unknown > known / 3 && unknown < known * 3);
    teardown(&f);
}

TEST(sign_in_bounds_its_input)
{
    struct fixture f;
    setup(&f);
    struct dw_auth_login out;
    char *err = NULL;
    ASSERT_EQ_INT(dw_auth_login(f.auth, "", "x", 1, NULL, &out, &err), DW_AUTH_EINVAL);
    ASSERT_EQ_STR(err, "username is empty");
    free(err);
    char name[DW_AUTH_NAME_MAX + 2];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    ASSERT_EQ_INT(dw_auth_login(f.auth, name, "x", 1, NULL, &out, &err), DW_AUTH_EINVAL);
    ASSERT_EQ_STR(err, "username is 65 bytes; the most is 64");
    free(err);
    char pw[DW_AUTH_PASSWORD_MAX + 1];
    memset(pw, 'p', sizeof pw);
    ASSERT_EQ_INT(dw_auth_login(f.auth, "alice", pw, sizeof pw, NULL, &out, &err), DW_AUTH_EINVAL);
    ASSERT_EQ_STR(err, "password is 1025 bytes; the most is 1024");
    free(err);
    ASSERT_EQ_INT(dw_auth_login(f.auth, NULL, NULL, 0, NULL, &out, &err), DW_AUTH_EINVAL);
    free(err);
    teardown(&f);
}

TEST(too_many_checks_at_once_are_refused)
{
    struct fixture f;
    setup(&f);
    f.auth->checking = DW_AUTH_MAX_PARALLEL; /* as if four were running */
    struct dw_auth_login out;
    char *err = NULL;
    ASSERT_EQ_INT(dw_auth_login(f.auth, "alice", "alice-password", 14, NULL, &out, &err),
                  DW_AUTH_EBUSY);
    ASSERT_EQ_INT(out.retry_after_ms, 1000);
    ASSERT_CONTAINS(err, "too many sign-ins at once");
    free(err);
    f.auth->checking = 0;
    ASSERT_EQ_INT(login(&f, "alice", "alice-password", &out), 0);
    ASSERT_EQ_INT(f.auth->checking, 0);
    teardown(&f);
}

/* ---- lockout ---- */

static void fail_n(struct fixture *f, const char *user, const char *client, int n)
{
    for (int i = 0; i < n; i++) {
        struct dw_auth_login out;
        ASSERT_EQ_INT(login_from(f, user, "wrong", client, &out), DW_AUTH_EDENIED);
    }
}

static int64_t locked_for(struct fixture *f, const char *user, const char *pw, const char *client)
{
    struct dw_auth_login out;
    char *err = NULL;
    int rc = dw_auth_login(f->auth, user, pw, strlen(pw), client, &out, &err);
    free(err);
    if (rc == 0)
        return 0;
    ASSERT_EQ_INT(rc, DW_AUTH_ELOCKED);
    return out.retry_after_ms;
}

TEST(five_failures_lock_a_user_name_with_a_doubling_cooldown)
{
    struct fixture f;
    setup(&f);
    fail_n(&f, "alice", "192.0.2.1", 5);
    /* Locked: even the right password is refused, without a check. */
    ASSERT_EQ_INT(locked_for(&f, "alice", "alice-password", "192.0.2.1"), MIN_MS);
    struct dw_auth_login out;
    char *err = NULL;
    ASSERT_EQ_INT(dw_auth_login(f.auth, "alice", "alice-password", 14, "198.51.100.7", &out, &err),
                  DW_AUTH_ELOCKED);
    ASSERT_EQ_STR(err, "too many failed sign-ins for this user name; try again in 60 s");
    free(err);
    dw_clock_advance(59000);
    ASSERT_EQ_INT(locked_for(&f, "alice", "alice-password", "192.0.2.1"), 1000);
    dw_clock_advance(1000);
    /* The lock is over; five more failures lock it for twice as long. */
    fail_n(&f, "alice", "192.0.2.1", 5);
    ASSERT_EQ_INT(locked_for(&f, "alice", "x", "192.0.2.1"), 2 * MIN_MS);
    int64_t want = 2 * MIN_MS;
    for (int round = 0; round < 8; round++) {
        dw_clock_advance(want);
        fail_n(&f, "alice", "192.0.2.1", 5);
        want = want * 2 > HOUR_MS ? HOUR_MS : want * 2;
        ASSERT_EQ_INT(locked_for(&f, "alice", "x", "192.0.2.1"), want);
    }
    ASSERT_EQ_INT(want, HOUR_MS); /* capped at lockout.max_cooldown */
    /* Other users are not affected. */
    ASSERT_EQ_INT(login(&f, "bob", "bob-password", &out), 0);
    teardown(&f);
}

TEST(unknown_user_names_are_locked_like_accounts)
{
    struct fixture f;
    setup(&f);
    fail_n(&f, "mallory", "192.0.2.1", 5);
    ASSERT_EQ_INT(locked_for(&f, "mallory", "x", "192.0.2.1"), MIN_MS);
    teardown(&f);
}

TEST(failures_outside_the_window_do_not_add_up)
{
    struct fixture f;
    setup(&f);
    fail_n(&f, "alice", "192.0.2.1", 4);
    dw_clock_advance(15 * MIN_MS);
    fail_n(&f, "alice", "192.0.2.1", 4);
    ASSERT_EQ_INT(locked_for(&f, "alice", "alice-password", "192.0.2.1"), 0);
    teardown(&f);
}

TEST(a_success_clears_the_user_names_failures)
{
    struct fixture f;
    setup(&f);
    fail_n(&f, "alice", "192.0.2.1", 4);
    struct dw_auth_login out;
    ASSERT_EQ_INT(login(&f, "alice", "alice-password", &out), 0);
    fail_n(&f, "alice", "192.0.2.1", 4);
    ASSERT_EQ_INT(locked_for(&f, "alice", "alice-password", "192.0.2.1"), 0);
    teardown(&f);
}

TEST(the_doubling_is_forgotten_after_a_quiet_hour)
{
    struct fixture f;
    setup(&f);
    fail_n(&f, "alice", "192.0.2.1", 5);
    dw_clock_advance(MIN_MS);
    fail_n(&f, "alice", "192.0.2.1", 5);
    ASSERT_EQ_INT(locked_for(&f, "alice", "x", "192.0.2.1"), 2 * MIN_MS);
    dw_clock_advance(2 * MIN_MS + HOUR_MS);
    fail_n(&f, "alice", "192.0.2.1", 5);
    ASSERT_EQ_INT(locked_for(&f, "alice", "x", "192.0.2.1"), MIN_MS);
    teardown(&f);
}

TEST(one_client_guessing_many_names_is_locked_out)
{
    struct fixture f;
    setup(&f);
    f.settings.lockout.max_failures_per_client = 6;
    configure(&f);
    const char *names[] = {"a1", "a2", "a3", "a4", "a5", "a6"};
    for (size_t i = 0; i < DW_ARRAY_LEN(names); i++)
        fail_n(&f, names[i], "203.0.113.9", 1);
    struct dw_auth_login out;
    char *err = NULL;
    ASSERT_EQ_INT(dw_auth_login(f.auth, "alice", "alice-password", 14, "203.0.113.9", &out, &err),
                  DW_AUTH_ELOCKED);
    ASSERT_EQ_STR(err, "too many failed sign-ins from this address; try again in 60 s");
    free(err);
    /* Another address signs in. A success does not reset the address's count. */
    ASSERT_EQ_INT(login_from(&f, "alice", "alice-password", "198.51.100.7", &out), 0);
    /* 0 turns the per-client limit off. */
    f.settings.lockout.max_failures_per_client = 0;
    configure(&f);
    dw_clock_advance(MIN_MS);
    for (int i = 0; i < 10; i++)
        fail_n(&f, names[i % 6], "203.0.113.10", 1);
    ASSERT_EQ_INT(locked_for(&f, "alice", "alice-password", "203.0.113.10"), 0);
    teardown(&f);
}

TEST(the_lockout_table_is_bounded_and_keeps_locks)
{
    struct auth_lockout t = {0};
    struct dw_auth_settings s;
    dw_auth_settings_default(&s);
    const struct dw_auth_lockout_limits *lim = &s.lockout;
    int64_t now = T0;
    /* Lock one name, then spray far more names than the table holds. */
    for (int i = 0; i < 5; i++)
        auth_lockout_fail(&t, "u:alice", 5, now, lim);
    ASSERT_EQ_INT(auth_lockout_remaining(&t, "u:alice", now, lim), MIN_MS);
    char key[32];
    for (int i = 0; i < 3 * DW_AUTH_LOCKOUT_ENTRIES; i++) {
        snprintf(key, sizeof key, "u:spray%d", i);
        auth_lockout_fail(&t, key, 5, now + 1, lim);
        ASSERT_TRUE(t.n <= DW_AUTH_LOCKOUT_ENTRIES);
    }
    ASSERT_EQ_UINT(t.n, DW_AUTH_LOCKOUT_ENTRIES);
    ASSERT_EQ_INT(auth_lockout_remaining(&t, "u:alice", now + 1, lim), MIN_MS - 1);
    /* Stale entries make room first. */
    now += 2 * HOUR_MS;
    auth_lockout_fail(&t, "u:late", 5, now, lim);
    ASSERT_EQ_UINT(t.n, DW_AUTH_LOCKOUT_ENTRIES);
    auth_lockout_forget(&t, "u:late");
    ASSERT_EQ_UINT(t.n, DW_AUTH_LOCKOUT_ENTRIES - 1);
    auth_lockout_release(&t);
}

/* ---- sessions ---- */

TEST(an_idle_session_times_out_and_use_keeps_it_alive)
{
    struct fixture f;
    setup(&f);
    struct dw_auth_login out;
    ASSERT_EQ_INT(login(&f, "alice", "alice-password", &out), 0);
    struct dw_auth_session s;
    dw_clock_advance(11 * HOUR_MS);
    ASSERT_EQ_INT(check(&f, out.session_id, &s, NULL), 0); /* used: the idle timer restarts */
    ASSERT_EQ_INT(s.idle_expires_ms, T0 + 23 * HOUR_MS);
    dw_clock_advance(11 * HOUR_MS);
    ASSERT_EQ_INT(check(&f, out.session_id, &s, NULL), 0);
    dw_clock_advance(12 * HOUR_MS);
    char *why = NULL;
    ASSERT_EQ_INT(check(&f, out.session_id, &s, &why), DW_AUTH_EDENIED);
    ASSERT_EQ_STR(why, "the session timed out");
    free(why);
    ASSERT_EQ_INT(dw_auth_session_count(f.auth, "alice"), 0); /* deleted */
    ASSERT_EQ_INT(check(&f, out.session_id, &s, &why), DW_AUTH_EDENIED);
    ASSERT_CONTAINS(why, "no such session");
    free(why);
    teardown(&f);
}

TEST(a_session_ends_at_its_absolute_lifetime_however_busy)
{
    struct fixture f;
    setup(&f);
    struct dw_auth_login out;
    ASSERT_EQ_INT(login(&f, "alice", "alice-password", &out), 0);
    struct dw_auth_session s;
    for (int h = 1; h < 7 * 24; h++) {
        dw_clock_advance(HOUR_MS);
        ASSERT_EQ_INT(check(&f, out.session_id, &s, NULL), 0);
        ASSERT_TRUE(s.idle_expires_ms <= T0 + 7 * 24 * HOUR_MS);
    }
    dw_clock_advance(HOUR_MS);
    char *why = NULL;
    ASSERT_EQ_INT(check(&f, out.session_id, &s, &why), DW_AUTH_EDENIED);
    ASSERT_EQ_STR(why, "the session has expired");
    free(why);
    teardown(&f);
}

TEST(configured_timeouts_apply)
{
    struct fixture f;
    setup(&f);
    f.settings.sessions.idle_timeout_ms = 10 * MIN_MS;
    f.settings.sessions.max_lifetime_ms = HOUR_MS;
    configure(&f);
    struct dw_auth_login out;
    ASSERT_EQ_INT(login(&f, "alice", "alice-password", &out), 0);
    ASSERT_EQ_INT(out.session.idle_expires_ms, T0 + 10 * MIN_MS);
    ASSERT_EQ_INT(out.session.expires_ms, T0 + HOUR_MS);
    struct dw_auth_session s;
    dw_clock_advance(10 * MIN_MS);
    ASSERT_EQ_INT(check(&f, out.session_id, &s, NULL), DW_AUTH_EDENIED);
    teardown(&f);
}

TEST(the_oldest_session_goes_beyond_the_cap)
{
    struct fixture f;
    setup(&f);
    f.settings.sessions.max_per_user = 3;
    configure(&f);
    struct dw_auth_login s[4], other;
    ASSERT_EQ_INT(login(&f, "bob", "bob-password", &other), 0);
    for (int i = 0; i < 4; i++)
        ASSERT_EQ_INT(login(&f, "alice", "alice-password", &s[i]), 0); /* same millisecond */
    ASSERT_EQ_INT(dw_auth_session_count(f.auth, "alice"), 3);
    struct dw_auth_session got;
    ASSERT_EQ_INT(check(&f, s[0].session_id, &got, NULL), DW_AUTH_EDENIED);
    for (int i = 1; i < 4; i++)
        ASSERT_EQ_INT(check(&f, s[i].session_id, &got, NULL), 0);
    ASSERT_EQ_INT(check(&f, other.session_id, &got, NULL), 0); /* bob's are his own */
    teardown(&f);
}

TEST(sign_out_ends_the_session)
{
    struct fixture f;
    setup(&f);
    struct dw_auth_login out;
    ASSERT_EQ_INT(login(&f, "alice", "alice-password", &out), 0);
    char *err = NULL;
    ASSERT_EQ_INT(dw_auth_logout(f.auth, out.session_id, &err), 0);
    struct dw_auth_session s;
    ASSERT_EQ_INT(check(&f, out.session_id, &s, NULL), DW_AUTH_EDENIED);
    ASSERT_EQ_INT(dw_auth_logout(f.auth, out.session_id, &err), 0); /* twice is fine */
    ASSERT_EQ_INT(dw_auth_logout(f.auth, "garbage", &err), 0);
    ASSERT_NULL(err);
    teardown(&f);
}

TEST(a_user_removed_or_disabled_on_reload_loses_the_session)
{
    struct fixture f;
    setup(&f);
    struct dw_auth_login a, b;
    ASSERT_EQ_INT(login(&f, "alice", "alice-password", &a), 0);
    ASSERT_EQ_INT(login(&f, "bob", "bob-password", &b), 0);
    struct dw_auth_user only_bob[] = {
        {.name = "bob", .role = ROLE_RESPONDER, .password_hash = f.bob}};
    dw_auth_configure(f.auth, only_bob, 1, &f.settings);
    struct dw_auth_session s;
    char *why = NULL;
    ASSERT_EQ_INT(check(&f, a.session_id, &s, &why), DW_AUTH_EDENIED);
    ASSERT_EQ_STR(why, "the session's user can no longer sign in");
    free(why);
    /* Bob's role follows the configuration. */
    ASSERT_EQ_INT(check(&f, b.session_id, &s, NULL), 0);
    ASSERT_EQ_INT(s.role, ROLE_RESPONDER);
    teardown(&f);
}

TEST(malformed_session_ids_are_refused)
{
    struct fixture f;
    setup(&f);
    struct dw_auth_login out;
    ASSERT_EQ_INT(login(&f, "alice", "alice-password", &out), 0);
    struct dw_auth_session s;
    const char *bad[] = {"", "short", "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < DW_ARRAY_LEN(bad); i++) {
        char *why = NULL;
        ASSERT_EQ_INT(check(&f, bad[i], &s, &why), DW_AUTH_EDENIED);
        ASSERT_EQ_STR(why, "the session cookie is malformed");
        free(why);
    }
    ASSERT_EQ_INT(check(&f, NULL, &s, NULL), DW_AUTH_EDENIED);
    /* A well-formed id that was never issued. */
    char id[DW_AUTH_TOKEN_LEN + 1], sha[65];
    auth_session_new_id(id, sha);
    ASSERT_EQ_INT(check(&f, id, &s, NULL), DW_AUTH_EDENIED);
    teardown(&f);
}

TEST(csrf_tokens_must_match_exactly)
{
    struct fixture f;
    setup(&f);
    struct dw_auth_login a, b;
    ASSERT_EQ_INT(login(&f, "alice", "alice-password", &a), 0);
    ASSERT_EQ_INT(login(&f, "bob", "bob-password", &b), 0);
    struct dw_auth_session s;
    ASSERT_EQ_INT(check(&f, a.session_id, &s, NULL), 0);
    ASSERT_TRUE(dw_auth_csrf_ok(&s, a.session.csrf));
    ASSERT_FALSE(dw_auth_csrf_ok(&s, NULL));
    ASSERT_FALSE(dw_auth_csrf_ok(&s, ""));
    ASSERT_FALSE(dw_auth_csrf_ok(&s, b.session.csrf)); /* another session's token */
    ASSERT_FALSE(dw_auth_csrf_ok(&s, a.session_id));   /* the cookie is not the token */
    char longer[DW_AUTH_TOKEN_LEN + 2];
    snprintf(longer, sizeof longer, "%sx", a.session.csrf);
    ASSERT_FALSE(dw_auth_csrf_ok(&s, longer));
    char flipped[DW_AUTH_TOKEN_LEN + 1];
    dw_strlcpy(flipped, a.session.csrf, sizeof flipped);
    flipped[10] = flipped[10] == 'A' ? 'B' : 'A';
    ASSERT_FALSE(dw_auth_csrf_ok(&s, flipped));
    teardown(&f);
}

TEST(sessions_survive_reopening_the_store)
{
    struct fixture f;
    setup(&f);
    struct dw_auth_login out;
    ASSERT_EQ_INT(login(&f, "alice", "alice-password", &out), 0);
    dw_auth_close(&f.auth);
    char *err = NULL;
    f.auth = dw_auth_open(f.store, &err); /* the migration runs once */
    ASSERT_NOT_NULL(f.auth);
    configure(&f);
    struct dw_auth_session s;
    ASSERT_EQ_INT(check(&f, out.session_id, &s, NULL), 0);
    ASSERT_EQ_INT(dw_store_schema_version(f.store, "auth"), 1);
    teardown(&f);
}

TEST_MAIN()
