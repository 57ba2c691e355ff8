/*
 * silence.c - silences: matchers that mute alerts between startsAt and
 * endsAt, with who created them and why.
 *
 * DESIGN
 * Alertmanager 0.25's rules: at least one matcher, and at least one that
 * does not match the empty string (a silence must not mute everything);
 * endsAt after startsAt and not in the past; a new silence never starts
 * before now. Updating an existing id keeps it when only what may change
 * changes (same matchers; an active silence keeps its start and may move
 * its end, a pending one may move both as long as it starts in the
 * future); otherwise the old silence is expired and a new one with a new
 * UUID replaces it. A silence is pending before startsAt, active in
 * [startsAt, endsAt), expired from endsAt on (so expiring "now" takes
 * effect at once); expired silences are kept 120 h, like Alertmanager's
 * default retention. Every change is committed durably: a 2xx to a human
 * survives power loss.
 */
#include <stdlib.h>
#include <string.h>

#include "alert/alert_internal.h"

void silence_free(struct silence *s)
{
    if (!s)
        return;
    amatchers_release(&s->m);
    free(s->created_by);
    free(s->comment);
    free(s);
}

void silence_add_locked(struct dw_alerter *a, struct silence *s)
{
    a->silences = dw_grow(a->silences, &a->capsilences, a->nsilences + 1, sizeof *a->silences);
    a->silences[a->nsilences++] = s;
}

static struct silence *find(const struct dw_alerter *a, const char *id)
{
    for (size_t i = 0; id && i < a->nsilences; i++)
        if (strcmp(a->silences[i]->id, id) == 0)
            return a->silences[i];
    return NULL;
}

const char *silence_state(const struct silence *s, int64_t now)
{
    if (now < s->starts_at)
        return "pending";
    return now >= s->ends_at ? "expired" : "active";
}

static bool is_active(const struct silence *s, int64_t now)
{
    return s->starts_at <= now && now < s->ends_at;
}

size_t silences_muting(const struct dw_alerter *a, const struct lset *ls, int64_t now,
                       const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < a->nsilences; i++) {
        const struct silence *s = a->silences[i];
        if (!is_active(s, now) || !amatchers_match(&s->m, ls))
            continue;
        if (!out)
            return 1;
        if (n < max)
            out[n++] = s->id;
    }
    return n;
}

static void new_uuid(char out[DW_SILENCE_ID_LEN])
{
    unsigned char b[16];
    dw_random_bytes(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, DW_SILENCE_ID_LEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

/* ---- validation ---- */

static int compile(const struct dw_silence_in *in, struct amatchers *out, char **err)
{
    if (in->nmatchers == 0) {
        *err = dw_strdup("at least one matcher required");
        return -1;
    }
    bool all_empty = true;
    for (size_t i = 0; i < in->nmatchers; i++) {
        const struct dw_silence_matcher *m = &in->matchers[i];
        if (!m->name || !dw_tsdb_label_name_valid(m->name)) {
            *err = dw_asprintf("invalid label name \"%s\"", m->name ? m->name : "");
            return -1;
        }
        enum dw_match_op op = m->is_regex ? (m->is_equal ? DW_MATCH_RE : DW_MATCH_NRE)
                                          : (m->is_equal ? DW_MATCH_EQ : DW_MATCH_NEQ);
        struct amatcher am;
        if (amatcher_init(&am, op, m->name, m->value ? m->value : "", err) < 0)
            return -1;
        all_empty = all_empty && amatcher_matches_empty(&am);
        amatchers_add(out, &am);
    }
    if (all_empty) {
        *err = dw_strdup("at least one matcher must not match the empty string");
        return -1;
    }
    return 0;
}

static int check_times(int64_t starts, int64_t ends, int64_t now, char **err)
{
    if (!ends) {
        *err = dw_strdup("invalid zero end timestamp");
        return -1;
    }
    if (starts >= ends) {
        *err = dw_strdup("Failed to create silence: start time must be before end time");
        return -1;
    }
    if (ends < now) {
        *err = dw_strdup("Failed to create silence: end time can't be in the past");
        return -1;
    }
    return 0;
}

static bool same_matchers(const struct amatchers *x, const struct amatchers *y)
{
    if (x->n != y->n)
        return false;
    for (size_t i = 0; i < x->n; i++)
        if (x->v[i].op != y->v[i].op || strcmp(x->v[i].name, y->v[i].name) ||
            strcmp(x->v[i].value, y->v[i].value))
            return false;
    return true;
}

/* Alertmanager's canUpdate: may prev take next's values and keep its id? */
static bool can_update(const struct silence *prev, const struct silence *next, int64_t now)
{
    if (!same_matchers(&prev->m, &next->m))
        return false;
    const char *st = silence_state(prev, now);
    if (strcmp(st, "active") == 0)
        return next->starts_at == prev->starts_at && next->ends_at >= now;
    if (strcmp(st, "pending") == 0)
        return next->starts_at >= now;
    return false;
}

/* ---- changes (each one durable transaction) ---- */

struct set_ctx {
    struct silence *save[2];
    size_t nsave;
    char *err;
};

static int save_tx(struct dw_store *s, void *ctx)
{
    struct set_ctx *sc = ctx;
    for (size_t i = 0; i < sc->nsave; i++)
        if (persist_silence_save(s, sc->save[i], &sc->err) < 0)
            return -1;
    return 0;
}

static int commit(struct dw_alerter *a, struct set_ctx *sc, char **err)
{
    char *txerr = NULL;
    int rc = dw_store_tx_durable(a->store, save_tx, sc, &txerr);
    if (rc != 0 && err)
        *err = dw_asprintf("storing the silence failed: %s", sc->err ? sc->err
                                                             : txerr ? txerr
                                                                     : "unknown error");
    free(sc->err);
    free(txerr);
    return rc == 0 ? 0 : -1;
}

static void copy_into(struct silence *dst, const struct silence *src)
{
    free(dst->created_by);
    free(dst->comment);
    dst->created_by = dw_strdup(src->created_by);
    dst->comment = dw_strdup(src->comment);
    dst->starts_at = src->starts_at;
    dst->ends_at = src->ends_at;
    dst->updated_at = src->updated_at;
}

static int set_locked(struct dw_alerter *a, struct silence *next, const char *id, int64_t now,
                      char id_out[DW_SILENCE_ID_LEN], char **err)
{
    struct silence *prev = id && *id ? find(a, id) : NULL;
    if (id && *id && !prev) {
        *err = dw_asprintf("silence %s not found", id);
        return DW_ALERT_ENOTFOUND;
    }
    struct set_ctx sc = {0};
    struct silence backup = {0};
    if (prev && can_update(prev, next, now)) {
        copy_into(&backup, prev);
        copy_into(prev, next);
        sc.save[sc.nsave++] = prev;
        int rc = commit(a, &sc, err);
        if (rc < 0)
            copy_into(prev, &backup);
        free(backup.created_by);
        free(backup.comment);
        dw_strlcpy(id_out, prev->id, DW_SILENCE_ID_LEN);
        return rc;
    }
    int64_t prev_ends = prev ? prev->ends_at : 0;
    if (prev && strcmp(silence_state(prev, now), "expired") != 0) {
        if (strcmp(silence_state(prev, now), "pending") == 0)
            prev->starts_at = now;
        prev->ends_at = now;
        prev->updated_at = now;
        sc.save[sc.nsave++] = prev;
    }
    new_uuid(next->id);
    if (next->starts_at < now)
        next->starts_at = now;
    sc.save[sc.nsave++] = next;
    if (commit(a, &sc, err) < 0) {
        if (prev)
            prev->ends_at = prev_ends;
        return -1;
    }
    dw_strlcpy(id_out, next->id, DW_SILENCE_ID_LEN);
    return 1; /* next was stored: the caller must keep it */
}

int dw_alerter_silence_set(struct dw_alerter *a, const struct dw_silence_in *in, int64_t now,
                           char id_out[DW_SILENCE_ID_LEN], char **err)
{
    struct silence *next = dw_calloc(1, sizeof *next);
    if (compile(in, &next->m, err) < 0) {
        silence_free(next);
        return DW_ALERT_EINVAL;
    }
    next->starts_at = in->starts_at_ms ? in->starts_at_ms : now;
    next->ends_at = in->ends_at_ms;
    next->updated_at = now;
    next->created_by = dw_strdup(in->created_by ? in->created_by : "");
    next->comment = dw_strdup(in->comment ? in->comment : "");
    if (check_times(next->starts_at, next->ends_at, now, err) < 0) {
        silence_free(next);
        return DW_ALERT_EINVAL;
    }
    pthread_mutex_lock(&a->mu);
    int rc = set_locked(a, next, in->id, now, id_out, err);
    if (rc == 1) {
        silence_add_locked(a, next);
        dw_log_kv(DW_LOG_INFO, "alert", "silence set", "id", next->id, "by", next->created_by,
                  NULL);
        rc = 0;
    } else {
        silence_free(next);
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

int dw_alerter_silence_expire(struct dw_alerter *a, const char *id, int64_t now, char **err)
{
    pthread_mutex_lock(&a->mu);
    struct silence *s = find(a, id);
    int rc = 0;
    if (!s) {
        *err = dw_asprintf("silence %s not found", id ? id : "");
        rc = DW_ALERT_ENOTFOUND;
    } else if (strcmp(silence_state(s, now), "expired") == 0) {
        *err = dw_asprintf("silence %s already expired", id);
        rc = DW_ALERT_EINVAL;
    } else {
        struct silence before = *s;
        if (now < s->starts_at)
            s->starts_at = now;
        s->ends_at = now;
        s->updated_at = now;
        struct set_ctx sc = {.save = {s}, .nsave = 1};
        rc = commit(a, &sc, err);
        if (rc < 0) {
            s->starts_at = before.starts_at;
            s->ends_at = before.ends_at;
            s->updated_at = before.updated_at;
        } else {
            dw_log_kv(DW_LOG_INFO, "alert", "silence expired", "id", id, NULL);
        }
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

void silences_gc(struct dw_alerter *a, int64_t now)
{
    size_t k = 0;
    for (size_t i = 0; i < a->nsilences; i++) {
        struct silence *s = a->silences[i];
        char *err = NULL;
        if (s->ends_at < now - SILENCE_RETENTION_MS &&
            persist_silence_delete(a->store, s->id, &err) == 0) {
            silence_free(s);
            continue;
        }
        free(err);
        a->silences[k++] = s;
    }
    a->nsilences = k;
}

/* ---- views ---- */

static json_t *silence_json(const struct silence *s, int64_t now)
{
    json_t *ms = json_array();
    for (size_t i = 0; i < s->m.n; i++) {
        const struct amatcher *m = &s->m.v[i];
        json_array_append_new(ms, json_pack("{s:b,s:b,s:s,s:s}", "isEqual",
                                            m->op == DW_MATCH_EQ || m->op == DW_MATCH_RE, "isRegex",
                                            m->op == DW_MATCH_RE || m->op == DW_MATCH_NRE, "name",
                                            m->name, "value", m->value));
    }
    return json_pack("{s:s,s:{s:s},s:o,s:s,s:s,s:o,s:o,s:o}", "id", s->id, "status", "state",
                     silence_state(s, now), "updatedAt", time_json(s->updated_at), "comment",
                     s->comment, "createdBy", s->created_by, "endsAt", time_json(s->ends_at),
                     "matchers", ms, "startsAt", time_json(s->starts_at));
}

json_t *dw_alerter_silence_json(struct dw_alerter *a, const char *id)
{
    pthread_mutex_lock(&a->mu);
    struct silence *s = find(a, id);
    json_t *out = s ? silence_json(s, dw_now_ms()) : NULL;
    pthread_mutex_unlock(&a->mu);
    return out;
}

/* Alertmanager's filter: every filter matcher appears in the silence as written. */
static bool has_all(const struct silence *s, const struct amatchers *filter)
{
    for (size_t i = 0; i < filter->n; i++) {
        bool found = false;
        for (size_t k = 0; k < s->m.n && !found; k++)
            found = s->m.v[k].op == filter->v[i].op &&
                    strcmp(s->m.v[k].name, filter->v[i].name) == 0 &&
                    strcmp(s->m.v[k].value, filter->v[i].value) == 0;
        if (!found)
            return false;
    }
    return true;
}

struct ordered {
    const struct silence *s;
    int rank;
    int64_t key;
};

static int ordered_cmp(const void *x, const void *y)
{
    const struct ordered *a = x, *b = y;
    if (a->rank != b->rank)
        return a->rank - b->rank;
    return a->key < b->key ? -1 : a->key > b->key;
}

int dw_alerter_silences_json(struct dw_alerter *a, const char *const *filter, size_t nfilter,
                             json_t **out, char **err)
{
    struct amatchers fm = {0};
    for (size_t i = 0; i < nfilter; i++) {
        struct amatcher m;
        if (amatcher_parse1(&m, filter[i], err) < 0) {
            amatchers_release(&fm);
            return DW_ALERT_EINVAL;
        }
        amatchers_add(&fm, &m);
    }
    pthread_mutex_lock(&a->mu);
    int64_t now = dw_now_ms();
    struct ordered *o = dw_calloc(a->nsilences ? a->nsilences : 1, sizeof *o);
    size_t n = 0;
    for (size_t i = 0; i < a->nsilences; i++) {
        const struct silence *s = a->silences[i];
        if (!has_all(s, &fm))
            continue;
        const char *st = silence_state(s, now);
        int rank = st[0] == 'a' ? 0 : st[0] == 'p' ? 1 : 2;
        /* active: ending first; pending: starting first; expired: latest first */
        int64_t key = rank == 0 ? s->ends_at : rank == 1 ? s->starts_at : -s->ends_at;
        o[n++] = (struct ordered){s, rank, key};
    }
    qsort(o, n, sizeof *o, ordered_cmp);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, silence_json(o[i].s, now));
    pthread_mutex_unlock(&a->mu);
    free(o);
    amatchers_release(&fm);
    *out = arr;
    return 0;
}
