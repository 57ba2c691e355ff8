/*
 * persist.c - the alert module's tables in the store (component "alert")
 * and every statement that reads or writes them.
 *
 * DESIGN
 * The in-memory state is authoritative while the process runs; every change
 * is written through in the same call that makes it (alerts and episodes in
 * one transaction per put, the notification log and the event together in
 * one durable transaction per flush, silences and marks durably), so a
 * restart rebuilds exactly what was acknowledged. Label sets, annotations,
 * matchers and change times are JSON text; fingerprints are 16 hex digits.
 * Events get AUTOINCREMENT ids so a pruned id is never handed out again and
 * consumers' cursors stay meaningful.
 */
#include <stdlib.h>
#include <string.h>

#include "alert/alert_internal.h"

static const struct dw_store_migration migrations[] = {
    {1, "CREATE TABLE alert_alerts ("
        " fingerprint TEXT PRIMARY KEY,"
        " labels TEXT NOT NULL,"
        " annotations TEXT NOT NULL,"
        " generator_url TEXT NOT NULL,"
        " starts_at BIGINT NOT NULL,"
        " ends_at BIGINT NOT NULL,"
        " updated_at BIGINT NOT NULL,"
        " timeout INTEGER NOT NULL,"
        " state TEXT NOT NULL,"
        " pending_at BIGINT NOT NULL,"
        " firing_at BIGINT NOT NULL,"
        " resolved_at BIGINT NOT NULL,"
        " episode BIGINT NOT NULL,"
        " changes TEXT NOT NULL,"
        " flapping INTEGER NOT NULL);"
        "CREATE TABLE alert_episodes ("
        " id INTEGER PRIMARY KEY,"
        " fingerprint TEXT NOT NULL,"
        " alertname TEXT NOT NULL,"
        " priority TEXT,"
        " labels TEXT NOT NULL,"
        " started_at BIGINT NOT NULL,"
        " resolved_at BIGINT,"
        " flaps INTEGER NOT NULL DEFAULT 0);"
        "CREATE INDEX alert_episodes_by_start ON alert_episodes (started_at);"
        "CREATE INDEX alert_episodes_by_fp ON alert_episodes (fingerprint, id);"
        "CREATE TABLE alert_marks ("
        " id INTEGER PRIMARY KEY,"
        " episode BIGINT NOT NULL REFERENCES alert_episodes (id),"
        " fingerprint TEXT NOT NULL,"
        " kind TEXT NOT NULL,"
        " marked_by TEXT NOT NULL,"
        " marked_at BIGINT NOT NULL,"
        " comment TEXT);"
        "CREATE INDEX alert_marks_by_episode ON alert_marks (episode, kind);"
        "CREATE TABLE alert_silences ("
        " id TEXT PRIMARY KEY,"
        " matchers TEXT NOT NULL,"
        " starts_at BIGINT NOT NULL,"
        " ends_at BIGINT NOT NULL,"
        " updated_at BIGINT NOT NULL,"
        " created_by TEXT NOT NULL,"
        " comment TEXT NOT NULL);"
        "CREATE TABLE alert_nflog ("
        " group_key TEXT PRIMARY KEY,"
        " receiver TEXT NOT NULL,"
        " firing TEXT NOT NULL,"
        " resolved TEXT NOT NULL,"
        " sent_at BIGINT NOT NULL);"
        "CREATE TABLE alert_events ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " at BIGINT NOT NULL,"
        " kind TEXT NOT NULL,"
        " receiver TEXT NOT NULL,"
        " group_key TEXT NOT NULL,"
        " priority TEXT,"
        " payload TEXT NOT NULL);"
        "CREATE TABLE alert_consumers ("
        " name TEXT PRIMARY KEY,"
        " last_id BIGINT NOT NULL,"
        " updated_at BIGINT NOT NULL);"},
};

int persist_migrate(struct dw_store *s, char **err)
{
    return dw_store_migrate(s, "alert", migrations, DW_ARRAY_LEN(migrations), err);
}

static const char *const state_names[] = {"firing", "pending", "resolved", "inactive"};

static int state_parse(const char *s)
{
    for (int i = 0; i < (int)DW_ARRAY_LEN(state_names); i++)
        if (strcmp(s, state_names[i]) == 0)
            return i;
    return DW_ALERT_INACTIVE;
}

static char *json_text(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return s;
}

static char *changes_text(const struct alert *al)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < al->nchanges; i++)
        json_array_append_new(arr, json_integer(al->changes[i]));
    return json_text(arr);
}

/* ---- alerts ---- */

int persist_alert_save(struct dw_store *s, const struct alert *al, char **err)
{
    char *labels = json_text(lset_json(&al->labels));
    char *annotations = json_text(lset_json(&al->annotations));
    char *changes = changes_text(al);
    const struct dw_value p[] = {
        DW_VTEXT(al->fp_hex),        DW_VTEXT(labels),       DW_VTEXT(annotations),
        DW_VTEXT(al->generator_url), DW_VINT(al->starts_at), DW_VINT(al->ends_at),
        DW_VINT(al->updated_at),     DW_VINT(al->timeout),   DW_VTEXT(state_names[al->state]),
        DW_VINT(al->pending_at),     DW_VINT(al->firing_at), DW_VINT(al->resolved_at),
        DW_VINT(al->episode),        DW_VTEXT(changes),      DW_VINT(al->flapping),
    };
    int rc = dw_store_exec(
        s,
        "INSERT INTO alert_alerts (fingerprint, labels, annotations, generator_url, starts_at,"
        " ends_at, updated_at, timeout, state, pending_at, firing_at, resolved_at, episode,"
        " changes, flapping) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
        " $14, $15) ON CONFLICT (fingerprint) DO UPDATE SET labels = $2, annotations = $3,"
        " generator_url = $4, starts_at = $5, ends_at = $6, updated_at = $7, timeout = $8,"
        " state = $9, pending_at = $10, firing_at = $11, resolved_at = $12, episode = $13,"
        " changes = $14, flapping = $15",
        p, DW_ARRAY_LEN(p), NULL, NULL, err);
    free(labels);
    free(annotations);
    free(changes);
    return rc;
}

int persist_alert_delete(struct dw_store *s, uint64_t fp, char **err)
{
    char hex[17];
    fp_hex(fp, hex);
    const struct dw_value p[] = {DW_VTEXT(hex)};
    return dw_store_exec(s, "DELETE FROM alert_alerts WHERE fingerprint = $1", p, 1, NULL, NULL,
                         err);
}

static json_t *parse_json(const struct dw_value *v)
{
    json_error_t je;
    return v->type == DW_VAL_TEXT ? json_loadb(v->s, v->n, 0, &je) : NULL;
}

static void load_changes(struct alert *al, const struct dw_value *v)
{
    json_t *arr = parse_json(v);
    size_t i;
    json_t *t;
    json_array_foreach(arr, i, t)
    {
        al->changes = dw_grow(al->changes, &al->capchanges, al->nchanges + 1, sizeof *al->changes);
        al->changes[al->nchanges++] = json_integer_value(t);
    }
    json_decref(arr);
}

static int alert_row(void *ctx, const struct dw_value *c, size_t n)
{
    struct dw_alerter *a = ctx;
    uint64_t fp;
    if (n < 15 || fp_parse(c[0].s, &fp) < 0)
        return 0;
    struct alert *al = dw_calloc(1, sizeof *al);
    char *err = NULL;
    json_t *labels = parse_json(&c[1]), *ann = parse_json(&c[2]);
    lset_from_json(&al->labels, labels, "labels", &err);
    free(err);
    err = NULL;
    lset_from_json(&al->annotations, ann, "annotations", &err);
    free(err);
    json_decref(labels);
    json_decref(ann);
    al->fp = lset_fingerprint(&al->labels);
    fp_hex(al->fp, al->fp_hex);
    al->generator_url = dw_strdup(c[3].s ? c[3].s : "");
    al->starts_at = c[4].i;
    al->ends_at = c[5].i;
    al->updated_at = c[6].i;
    al->timeout = c[7].i != 0;
    al->state = state_parse(c[8].s ? c[8].s : "");
    al->pending_at = c[9].i;
    al->firing_at = c[10].i;
    al->resolved_at = c[11].i;
    al->episode = c[12].i;
    load_changes(al, &c[13]);
    al->flapping = c[14].i != 0;
    al->priority = prio_index(lset_get(&al->labels, "priority"));
    fpmap_put(&a->alerts, al->fp, al);
    return 0;
}

int persist_alerts_load(struct dw_alerter *a, char **err)
{
    return dw_store_exec(a->store,
                         "SELECT fingerprint, labels, annotations, generator_url, starts_at,"
                         " ends_at, updated_at, timeout, state, pending_at, firing_at,"
                         " resolved_at, episode, changes, flapping FROM alert_alerts",
                         NULL, 0, alert_row, a, err);
}

/* ---- episodes ---- */

int persist_episode_start(struct dw_store *s, const struct alert *al, int64_t *id, char **err)
{
    char *labels = json_text(lset_json(&al->labels));
    const char *name = lset_get(&al->labels, "alertname");
    const char *prio = prio_name(al->priority);
    const struct dw_value p[] = {DW_VTEXT(al->fp_hex), DW_VTEXT(name ? name : ""),
                                 prio ? DW_VTEXT(prio) : DW_VNULL, DW_VTEXT(labels),
                                 DW_VINT(al->starts_at)};
    *id = 0;
    int rc = dw_store_int(s,
                          "INSERT INTO alert_episodes (fingerprint, alertname, priority, labels,"
                          " started_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                          p, DW_ARRAY_LEN(p), id, err);
    free(labels);
    return rc;
}

int persist_episode_end(struct dw_store *s, const struct alert *al, char **err)
{
    const struct dw_value p[] = {DW_VINT(al->episode), DW_VINT(al->resolved_at)};
    return dw_store_exec(s, "UPDATE alert_episodes SET resolved_at = $2 WHERE id = $1", p, 2, NULL,
                         NULL, err);
}

int persist_episode_flap(struct dw_store *s, int64_t episode, char **err)
{
    const struct dw_value p[] = {DW_VINT(episode)};
    return dw_store_exec(s, "UPDATE alert_episodes SET flaps = flaps + 1 WHERE id = $1", p, 1, NULL,
                         NULL, err);
}

/* ---- silences ---- */

static char *matchers_text(const struct amatchers *ms)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < ms->n; i++) {
        const struct amatcher *m = &ms->v[i];
        json_array_append_new(arr,
                              json_pack("{s:s,s:s,s:b,s:b}", "name", m->name, "value", m->value,
                                        "isRegex", m->op == DW_MATCH_RE || m->op == DW_MATCH_NRE,
                                        "isEqual", m->op == DW_MATCH_EQ || m->op == DW_MATCH_RE));
    }
    return json_text(arr);
}

int persist_silence_save(struct dw_store *s, const struct silence *sil, char **err)
{
    char *ms = matchers_text(&sil->m);
    const struct dw_value p[] = {DW_VTEXT(sil->id),        DW_VTEXT(ms),
                                 DW_VINT(sil->starts_at),  DW_VINT(sil->ends_at),
                                 DW_VINT(sil->updated_at), DW_VTEXT(sil->created_by),
                                 DW_VTEXT(sil->comment)};
    int rc = dw_store_exec(
        s,
        "INSERT INTO alert_silences (id, matchers, starts_at, ends_at, updated_at, created_by,"
        " comment) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET"
        " matchers = $2, starts_at = $3, ends_at = $4, updated_at = $5, created_by = $6,"
        " comment = $7",
        p, DW_ARRAY_LEN(p), NULL, NULL, err);
    free(ms);
    return rc;
}

int persist_silence_delete(struct dw_store *s, const char *id, char **err)
{
    const struct dw_value p[] = {DW_VTEXT(id)};
    return dw_store_exec(s, "DELETE FROM alert_silences WHERE id = $1", p, 1, NULL, NULL, err);
}

static void load_matchers(struct amatchers *out, json_t *arr)
{
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m)
    {
        bool re = json_is_true(json_object_get(m, "isRegex"));
        bool eq = json_is_true(json_object_get(m, "isEqual"));
        enum dw_match_op op = re   ? (eq ? DW_MATCH_RE : DW_MATCH_NRE)
                              : eq ? DW_MATCH_EQ
                                   : DW_MATCH_NEQ;
        const char *name = json_string_value(json_object_get(m, "name"));
        const char *value = json_string_value(json_object_get(m, "value"));
        struct amatcher am;
        char *err = NULL;
        if (name && value && amatcher_init(&am, op, name, value, &err) == 0)
            amatchers_add(out, &am);
        free(err);
    }
}

static int silence_row(void *ctx, const struct dw_value *c, size_t n)
{
    struct dw_alerter *a = ctx;
    if (n < 7 || !c[0].s)
        return 0;
    struct silence *s = dw_calloc(1, sizeof *s);
    dw_strlcpy(s->id, c[0].s, sizeof s->id);
    json_t *arr = parse_json(&c[1]);
    load_matchers(&s->m, arr);
    json_decref(arr);
    s->starts_at = c[2].i;
    s->ends_at = c[3].i;
    s->updated_at = c[4].i;
    s->created_by = dw_strdup(c[5].s ? c[5].s : "");
    s->comment = dw_strdup(c[6].s ? c[6].s : "");
    silence_add_locked(a, s);
    return 0;
}

int persist_silences_load(struct dw_alerter *a, char **err)
{
    return dw_store_exec(a->store,
                         "SELECT id, matchers, starts_at, ends_at, updated_at, created_by, comment"
                         " FROM alert_silences",
                         NULL, 0, silence_row, a, err);
}

/* ---- the notification log ---- */

static char *fps_text(const uint64_t *fps, size_t n)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    for (size_t i = 0; i < n; i++)
        dw_buf_printf(&b, "%s%016llx", i ? "," : "", (unsigned long long)fps[i]);
    return dw_buf_steal(&b);
}

static uint64_t *fps_parse(const char *s, size_t *n)
{
    size_t len = s ? strlen(s) : 0, cap = len / 17 + 1;
    uint64_t *out = dw_calloc(cap, sizeof *out);
    *n = 0;
    for (size_t i = 0; i + 16 <= len && *n < cap; i += 17) {
        char hex[17];
        memcpy(hex, s + i, 16);
        hex[16] = '\0';
        if (fp_parse(hex, &out[*n]) == 0)
            (*n)++;
    }
    return out;
}

int persist_nflog_save(struct dw_store *s, const struct nflog *e, char **err)
{
    char *firing = fps_text(e->firing, e->nfiring), *resolved = fps_text(e->resolved, e->nresolved);
    const struct dw_value p[] = {DW_VTEXT(e->key), DW_VTEXT(e->receiver), DW_VTEXT(firing),
                                 DW_VTEXT(resolved), DW_VINT(e->sent_at)};
    int rc =
        dw_store_exec(s,
                      "INSERT INTO alert_nflog (group_key, receiver, firing, resolved, sent_at)"
                      " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (group_key) DO UPDATE SET"
                      " receiver = $2, firing = $3, resolved = $4, sent_at = $5",
                      p, DW_ARRAY_LEN(p), NULL, NULL, err);
    free(firing);
    free(resolved);
    return rc;
}

int persist_nflog_delete(struct dw_store *s, const char *key, char **err)
{
    const struct dw_value p[] = {DW_VTEXT(key)};
    return dw_store_exec(s, "DELETE FROM alert_nflog WHERE group_key = $1", p, 1, NULL, NULL, err);
}

static int nflog_row(void *ctx, const struct dw_value *c, size_t n)
{
    struct dw_alerter *a = ctx;
    if (n < 5 || !c[0].s)
        return 0;
    struct nflog *e = dw_calloc(1, sizeof *e);
    e->key = dw_strdup(c[0].s);
    e->receiver = dw_strdup(c[1].s ? c[1].s : "");
    e->firing = fps_parse(c[2].s, &e->nfiring);
    e->resolved = fps_parse(c[3].s, &e->nresolved);
    e->sent_at = c[4].i;
    nflog_add(a, e);
    return 0;
}

int persist_nflog_load(struct dw_alerter *a, char **err)
{
    return dw_store_exec(a->store,
                         "SELECT group_key, receiver, firing, resolved, sent_at FROM alert_nflog",
                         NULL, 0, nflog_row, a, err);
}

/* ---- events ---- */

int persist_event_add(struct dw_store *s, int64_t at, const char *kind, const char *receiver,
                      const char *group_key, const char *priority, const char *payload, int64_t *id,
                      char **err)
{
    const struct dw_value p[] = {DW_VINT(at),
                                 DW_VTEXT(kind),
                                 DW_VTEXT(receiver),
                                 DW_VTEXT(group_key),
                                 priority ? DW_VTEXT(priority) : DW_VNULL,
                                 DW_VTEXT(payload)};
    *id = 0;
    return dw_store_int(s,
                        "INSERT INTO alert_events (at, kind, receiver, group_key, priority,"
                        " payload) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                        p, DW_ARRAY_LEN(p), id, err);
}

int64_t persist_events_last_id(struct dw_store *s)
{
    int64_t id = 0;
    char *err = NULL;
    dw_store_int(s, "SELECT COALESCE(MAX(id), 0) FROM alert_events", NULL, 0, &id, &err);
    free(err);
    return id;
}
