/*
 * lockout.c - the table of failed sign-ins that locks a user name or a
 * client address out for a while.
 *
 * DESIGN
 * One entry per key ("u:<user name>", "a:<client address>"): the failures in
 * the current window, when the window began, and the lock. When a key's
 * failures reach its limit within lockout.window it is locked for
 * lockout.cooldown * 2^(lockouts so far), at most lockout.max_cooldown, and
 * its count starts again. Attempts refused while locked are not counted (they
 * check no password), so a lock always ends on time. An entry with no
 * failure and no lock for max(window, max_cooldown) is stale: it is treated
 * as new, which also resets the doubling.
 *
 * Names that are not accounts are locked like accounts, so the answer never
 * tells which names exist. Both limits hold at once: spreading guesses over
 * many names runs into the per-address limit.
 *
 * Bound: at most DW_AUTH_LOCKOUT_ENTRIES entries, searched linearly (sign-ins
 * are rare and each costs an Argon2id check far slower than the scan). A new
 * key in a full table takes the place of a stale entry, else of the unlocked
 * entry whose last failure is oldest, else of the lock that ends first, so
 * that spraying names cannot push a locked account out cheaply.
 *
 * Threads: none of its own; the module's mutex guards every call.
 */
#include <stdlib.h>
#include <string.h>

#include "auth_internal.h"

void auth_lockout_release(struct auth_lockout *t)
{
    free(t->items);
    *t = (struct auth_lockout){0};
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static bool stale(const struct auth_lockout_entry *e, int64_t now,
                  const struct dw_auth_lockout_limits *lim)
{
    int64_t quiet = max64(lim->window_ms, lim->max_cooldown_ms);
    return now >= e->locked_until_ms &&
           now - max64(e->last_failure_ms, e->locked_until_ms) >= quiet;
}

static struct auth_lockout_entry *find(struct auth_lockout *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->items[i].key, key) == 0)
            return &t->items[i];
    return NULL;
}

/* The entry a new key may take in a full table (see DESIGN). */
static struct auth_lockout_entry *victim(struct auth_lockout *t, int64_t now,
                                         const struct dw_auth_lockout_limits *lim)
{
    struct auth_lockout_entry *unlocked = NULL, *locked = NULL;
    for (size_t i = 0; i < t->n; i++) {
        struct auth_lockout_entry *e = &t->items[i];
        if (stale(e, now, lim))
            return e;
        if (now >= e->locked_until_ms) {
            if (!unlocked || e->last_failure_ms < unlocked->last_failure_ms)
                unlocked = e;
        } else if (!locked || e->locked_until_ms < locked->locked_until_ms) {
            locked = e;
        }
    }
    return unlocked ? unlocked : locked;
}

static struct auth_lockout_entry *find_or_add(struct auth_lockout *t, const char *key, int64_t now,
                                              const struct dw_auth_lockout_limits *lim)
{
    struct auth_lockout_entry *e = find(t, key);
    if (e)
        return e;
    if (t->n < DW_AUTH_LOCKOUT_ENTRIES) {
        t->items = dw_grow(t->items, &t->cap, t->n + 1, sizeof *t->items);
        e = &t->items[t->n++];
    } else {
        e = victim(t, now, lim);
    }
    *e = (struct auth_lockout_entry){.window_start_ms = now};
    dw_strlcpy(e->key, key, sizeof e->key);
    return e;
}

int64_t auth_lockout_remaining(struct auth_lockout *t, const char *key, int64_t now,
                               const struct dw_auth_lockout_limits *lim)
{
    const struct auth_lockout_entry *e = find(t, key);
    return e && now < e->locked_until_ms ? e->locked_until_ms - now : 0;
}

/* cooldown * 2^n, at most max_cooldown, without overflow. */
static int64_t cooldown(const struct dw_auth_lockout_limits *lim, int n)
{
    int64_t c = lim->cooldown_ms > 0 ? lim->cooldown_ms : 1;
    for (int i = 0; i < n && c < lim->max_cooldown_ms; i++)
        c *= 2;
    return c < lim->max_cooldown_ms ? c : max64(lim->max_cooldown_ms, lim->cooldown_ms);
}

int64_t auth_lockout_fail(struct auth_lockout *t, const char *key, int limit, int64_t now,
                          const struct dw_auth_lockout_limits *lim)
{
    if (limit <= 0)
        return 0;
    struct auth_lockout_entry *e = find_or_add(t, key, now, lim);
    if (stale(e, now, lim)) {
        e->lockouts = 0;
        e->failures = 0;
        e->window_start_ms = now;
    }
    if (now - e->window_start_ms >= lim->window_ms) {
        e->failures = 0;
        e->window_start_ms = now;
    }
    e->failures++;
    e->last_failure_ms = now;
    if (e->failures < limit)
        return 0;
    int64_t c = cooldown(lim, e->lockouts);
    e->locked_until_ms = now + c;
    e->lockouts++;
    e->failures = 0;
    e->window_start_ms = now;
    return c;
}

void auth_lockout_forget(struct auth_lockout *t, const char *key)
{
    struct auth_lockout_entry *e = find(t, key);
    if (!e)
        return;
    *e = t->items[--t->n];
}
