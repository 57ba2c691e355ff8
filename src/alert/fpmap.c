/*
 * fpmap.c - a uint64 -> pointer hash map with open addressing.
 *
 * DESIGN
 * Keys are fingerprints and FNV hashes, already well mixed, so the slot is
 * the key itself modulo a power-of-two capacity. Linear probing; removal
 * shifts the following entries back (no tombstones), so lookups stay short
 * however many alerts come and go. Key 0 marks an empty slot and is stored
 * as FPMAP_ZERO instead. Not thread-safe: the alerter's mutex guards it.
 */
#include <stdlib.h>
#include <string.h>

#include "alert/alert_internal.h"

#define FPMAP_ZERO 0x9e3779b97f4a7c15ULL

static uint64_t norm(uint64_t k)
{
    return k ? k : FPMAP_ZERO;
}

static size_t slot_of(const struct fpmap *m, uint64_t k)
{
    return (size_t)(k ^ (k >> 29)) & (m->cap - 1);
}

static size_t find(const struct fpmap *m, uint64_t k)
{
    size_t i = slot_of(m, k);
    while (m->keys[i] && m->keys[i] != k)
        i = (i + 1) & (m->cap - 1);
    return i;
}

void *fpmap_get(const struct fpmap *m, uint64_t key)
{
    if (!m->cap)
        return NULL;
    size_t i = find(m, norm(key));
    return m->keys[i] ? m->vals[i] : NULL;
}

static void grow(struct fpmap *m)
{
    struct fpmap old = *m;
    m->cap = old.cap ? old.cap * 2 : 16;
    m->keys = dw_calloc(m->cap, sizeof *m->keys);
    m->vals = dw_calloc(m->cap, sizeof *m->vals);
    m->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i]) {
            size_t j = find(m, old.keys[i]);
            m->keys[j] = old.keys[i];
            m->vals[j] = old.vals[i];
            m->n++;
        }
    free(old.keys);
    free(old.vals);
}

void fpmap_put(struct fpmap *m, uint64_t key, void *val)
{
    if ((m->n + 1) * 4 > m->cap * 3)
        grow(m);
    uint64_t k = norm(key);
    size_t i = find(m, k);
    if (!m->keys[i])
        m->n++;
    m->keys[i] = k;
    m->vals[i] = val;
}

void *fpmap_del(struct fpmap *m, uint64_t key)
{
    if (!m->cap)
        return NULL;
    size_t i = find(m, norm(key));
    if (!m->keys[i])
        return NULL;
    void *val = m->vals[i];
    m->keys[i] = 0;
    m->vals[i] = NULL;
    m->n--;
    /* Shift back entries whose probe sequence passed through the hole. */
    size_t hole = i, j = i;
    for (;;) {
        j = (j + 1) & (m->cap - 1);
        if (!m->keys[j])
            break;
        size_t home = slot_of(m, m->keys[j]);
        bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            m->keys[hole] = m->keys[j];
            m->vals[hole] = m->vals[j];
            m->keys[j] = 0;
            m->vals[j] = NULL;
            hole = j;
        }
    }
    return val;
}

void fpmap_release(struct fpmap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

void *fpmap_next(const struct fpmap *m, size_t *i)
{
    for (; *i < m->cap; (*i)++)
        if (m->keys[*i])
            return m->vals[(*i)++];
    return NULL;
}
