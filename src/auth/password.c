/*
 * password.c - Argon2id password hashes through libsodium: making one (for
 * `dojowatch passwd`), checking a configured one (for check-config, with the
 * cost bounds that keep one sign-in from taking a server's memory), and
 * verifying a password against one.
 *
 * DESIGN
 * Hashes are libsodium's crypto_pwhash_str strings
 * ("$argon2id$v=19$m=65536,t=2,p=1$<salt>$<hash>"): the salt and the cost
 * travel with the hash, and crypto_pwhash_str_verify compares in constant
 * time. libsodium's functions read a fixed 128-byte buffer, so every hash is
 * first copied into a NUL-padded struct auth_hash. A configured hash may
 * cost at most DW_AUTH_MAX_MEMORY_KIB and DW_AUTH_MAX_PASSES: anyone can
 * make the server check a password (unknown users are checked against a
 * stand-in of the same cost), so the cost is memory an unauthenticated
 * client can make us spend, DW_AUTH_MAX_PARALLEL times at once.
 *
 * Threads: no state; safe on any thread.
 */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "auth_internal.h"

_Static_assert(DW_AUTH_HASH_MAX + 1 == crypto_pwhash_STRBYTES, "libsodium's hash string size");

/* OWASP's minimum for Argon2id (m=19 MiB, t=2): weaker hashes load with a warning. */
#define WEAK_MEMORY_KIB 19456u
#define WEAK_PASSES 2u

static void sodium_ready(void)
{
    if (sodium_init() < 0) {
        dw_log(DW_LOG_ERROR, "auth", "libsodium failed to initialise");
        abort();
    }
}

int dw_auth_hash_password(const char *password, size_t len, char out[DW_AUTH_HASH_MAX + 1],
                          char **err)
{
    if (len == 0 || len > DW_AUTH_PASSWORD_MAX) {
        *err = len ? dw_asprintf("the password is %zu bytes; the most is %d", len,
                                 DW_AUTH_PASSWORD_MAX)
                   : dw_strdup("the password is empty");
        return -1;
    }
    sodium_ready();
    if (crypto_pwhash_str_alg(out, password, len, crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
        *err = dw_strdup("not enough memory for Argon2id (64 MiB)");
        return -1;
    }
    return 0;
}

/* Reads "<key>=<decimal>" at *p into *out, moving *p past it. */
static bool read_param(const char **p, char key, uint32_t *out)
{
    const char *s = *p;
    if (s[0] != key || s[1] != '=' || s[2] < '0' || s[2] > '9')
        return false;
    s += 2;
    uint64_t v = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (uint64_t)(*s++ - '0');
        if (v > UINT32_MAX)
            return false;
    }
    *out = (uint32_t)v;
    *p = s;
    return true;
}

int auth_hash_params(const char *hash, uint32_t *m_kib, uint32_t *t, uint32_t *p)
{
    static const char prefix[] = "$argon2id$v=19$";
    if (!hash || strncmp(hash, prefix, sizeof prefix - 1) != 0)
        return -1;
    const char *s = hash + sizeof prefix - 1;
    if (!read_param(&s, 'm', m_kib) || *s++ != ',' || !read_param(&s, 't', t) || *s++ != ',' ||
        !read_param(&s, 'p', p) || *s != '$')
        return -1;
    return 0;
}

/* The scheme of a hash that is not Argon2id, for the message. */
static const char *other_scheme(const char *hash)
{
    static const struct {
        const char *prefix, *name;
    } schemes[] = {
        {"$argon2i$", "an Argon2i"}, {"$argon2d$", "an Argon2d"}, {"$2a$", "a bcrypt"},
        {"$2b$", "a bcrypt"},        {"$2y$", "a bcrypt"},        {"$scrypt$", "an scrypt"},
        {"$7$", "an scrypt"},        {"$6$", "a SHA-512 crypt"},  {"$5$", "a SHA-256 crypt"},
        {"$1$", "an MD5 crypt"},     {"$pbkdf2", "a PBKDF2"},     {"$y$", "a yescrypt"},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(schemes); i++)
        if (dw_str_has_prefix(hash, schemes[i].prefix))
            return schemes[i].name;
    return NULL;
}

#define MAKE_ONE "make one with 'dojowatch passwd'"

int dw_auth_hash_check(const char *hash, char **why)
{
    size_t len = hash ? strlen(hash) : 0;
    if (len == 0) {
        *why = dw_strdup("the password hash is empty; " MAKE_ONE);
        return -1;
    }
    if (len > DW_AUTH_HASH_MAX) {
        *why = dw_asprintf("is %zu bytes; an Argon2id hash is at most %d (%s)", len,
                           DW_AUTH_HASH_MAX, MAKE_ONE);
        return -1;
    }
    if (!dw_str_has_prefix(hash, "$argon2id$")) {
        const char *scheme = other_scheme(hash);
        *why = scheme ? dw_asprintf("is %s hash; dojowatch takes Argon2id hashes only (%s)", scheme,
                                    MAKE_ONE)
                      : dw_strdup("expected an Argon2id hash like "
                                  "$argon2id$v=19$m=65536,t=2,p=1$<salt>$<hash> (" MAKE_ONE ")");
        return -1;
    }
    struct auth_hash h = {{0}};
    memcpy(h.s, hash, len);
    uint32_t m, t, p;
    sodium_ready();
    if (auth_hash_params(hash, &m, &t, &p) != 0 ||
        crypto_pwhash_argon2id_str_needs_rehash(h.s, crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE,
                                                crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE) < 0) {
        *why = dw_strdup("malformed Argon2id hash: its version (v=19), cost (m=,t=,p=), salt or "
                         "hash cannot be read; " MAKE_ONE);
        return -1;
    }
    if (m > DW_AUTH_MAX_MEMORY_KIB || t > DW_AUTH_MAX_PASSES) {
        *why = dw_asprintf("costs m=%u KiB and t=%u passes per sign-in; dojowatch allows at most "
                           "m=%u (256 MiB) and t=%u, as anyone can make it check a password",
                           m, t, DW_AUTH_MAX_MEMORY_KIB, DW_AUTH_MAX_PASSES);
        return -1;
    }
    if (m < WEAK_MEMORY_KIB || t < WEAK_PASSES) {
        *why = dw_asprintf("weak Argon2id cost m=%u KiB, t=%u (at least m=%u, t=%u is advised); "
                           "%s",
                           m, t, WEAK_MEMORY_KIB, WEAK_PASSES, MAKE_ONE);
        return 1;
    }
    return 0;
}

bool dw_auth_name_check(const char *name, char **why)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > DW_AUTH_NAME_MAX) {
        *why =
            len ? dw_asprintf("the user name is %zu bytes; the most is %d", len, DW_AUTH_NAME_MAX)
                : dw_strdup("the user name is empty");
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '@' || c == '-';
        if (!ok) {
            *why = dw_asprintf("the user name may hold letters, digits and . _ @ - only; byte %zu "
                               "is not one of them",
                               i + 1);
            return false;
        }
    }
    return true;
}

void auth_hash_stand_in(const char *like, struct auth_hash *out)
{
    uint32_t m = 0, t = 0, p = 0;
    unsigned long long ops = crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE;
    size_t mem = crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE;
    if (like && auth_hash_params(like, &m, &t, &p) == 0 && m <= DW_AUTH_MAX_MEMORY_KIB &&
        t <= DW_AUTH_MAX_PASSES && t >= crypto_pwhash_argon2id_OPSLIMIT_MIN &&
        (size_t)m * 1024 >= crypto_pwhash_argon2id_MEMLIMIT_MIN) {
        ops = t;
        mem = (size_t)m * 1024;
    }
    unsigned char secret[32];
    char pw[DW_AUTH_TOKEN_LEN + 1];
    sodium_ready();
    randombytes_buf(secret, sizeof secret);
    sodium_bin2base64(pw, sizeof pw, secret, sizeof secret,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    memset(out->s, 0, sizeof out->s);
    if (crypto_pwhash_str_alg(out->s, pw, strlen(pw), ops, mem, crypto_pwhash_ALG_ARGON2ID13) != 0)
        dw_oom(mem);
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(pw, sizeof pw);
}

bool auth_password_matches(const struct auth_hash *hash, const char *password, size_t len)
{
    sodium_ready();
    return hash->s[0] && crypto_pwhash_str_verify(hash->s, password, len) == 0;
}
