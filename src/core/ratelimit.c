/*
 * ratelimit.c - token buckets per key in a bounded table.
 *
 * DESIGN
 * The table has a power-of-two number of 4-slot sets. A key hashes (FNV-1a)
 * to one set; within it the slot holding the same key is used, else the
 * least recently used slot is taken over with a full bucket. Keys are kept
 * as copies cut to KEY_MAX bytes (an IPv6 address fits). Tokens refill
 * continuously at `rate` per second up to `burst`; a take spends one.
 *
 * Threads: one mutex around every take; the work under it is a few
 * comparisons, so public endpoints can call it per request.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define WAYS 4
#define KEY_MAX 63

struct slot {
    char key[KEY_MAX + 1];
    double tokens;
    int64_t at; /* last refill, ms; 0: empty slot */
};

struct dw_ratelimit {
    pthread_mutex_t mu;
    double rate, burst;
    struct slot *slots;
    size_t nsets; /* power of two */
};

struct dw_ratelimit *dw_ratelimit_new(double rate, double burst, size_t keys)
{
    struct dw_ratelimit *rl = dw_calloc(1, sizeof *rl);
    pthread_mutex_init(&rl->mu, NULL);
    size_t sets = 1;
    while (sets * WAYS < keys && sets < ((size_t)1 << 24))
        sets <<= 1;
    rl->nsets = sets;
    rl->slots = dw_calloc(sets * WAYS, sizeof *rl->slots);
    dw_ratelimit_set(rl, rate, burst);
    return rl;
}

void dw_ratelimit_free(struct dw_ratelimit **rl)
{
    if (!*rl)
        return;
    pthread_mutex_destroy(&(*rl)->mu);
    free((*rl)->slots);
    free(*rl);
    *rl = NULL;
}

void dw_ratelimit_set(struct dw_ratelimit *rl, double rate, double burst)
{
    pthread_mutex_lock(&rl->mu);
    rl->rate = rate > 0 ? rate : 1e-9;
    rl->burst = burst >= 1 ? burst : 1;
    pthread_mutex_unlock(&rl->mu);
}

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* The key's slot in its set, or the least recently used one taken over. */
static struct slot *find(struct dw_ratelimit *rl, const char *key, size_t n, int64_t now)
{
    struct slot *set = rl->slots + (fnv1a(key, n) & (rl->nsets - 1)) * WAYS, *lru = set;
    for (int i = 0; i < WAYS; i++) {
        if (set[i].at && strlen(set[i].key) == n && memcmp(set[i].key, key, n) == 0)
            return &set[i];
        if (set[i].at < lru->at)
            lru = &set[i];
    }
    memcpy(lru->key, key, n);
    lru->key[n] = '\0';
    lru->tokens = rl->burst;
    lru->at = now ? now : 1;
    return lru;
}

bool dw_ratelimit_take(struct dw_ratelimit *rl, const char *key, int64_t now, int64_t *retry_ms)
{
    size_t n = strlen(key ? key : "");
    if (n > KEY_MAX)
        n = KEY_MAX;
    pthread_mutex_lock(&rl->mu);
    struct slot *s = find(rl, key ? key : "", n, now);
    if (now > s->at) {
        s->tokens = fmin(rl->burst, s->tokens + (double)(now - s->at) * rl->rate / 1000.0);
        s->at = now;
    }
    bool ok = s->tokens >= 1;
    if (ok)
        s->tokens -= 1;
    else if (retry_ms)
        *retry_ms = (int64_t)ceil((1 - s->tokens) * 1000.0 / rl->rate);
    pthread_mutex_unlock(&rl->mu);
    return ok;
}
