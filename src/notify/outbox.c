/*
 * outbox.c - the notification outbox: every notification is a row written
 * before it is sent, every attempt a row of its own.
 *
 * DESIGN
 * notify_outbox holds one row per (message, channel): its deduplication
 * key (unique; a second insert of the same key is a no-op, so re-reading an
 * alert event after a crash or a page escalating twice queues nothing new),
 * the channel (receiver + index into its channels, or a direct kind and
 * destination), the message JSON, its state (pending, then delivered,
 * given_up, expired or dropped), the attempt count and the time the next
 * attempt is due. notify_attempts keeps every attempt: when, how long, the
 * result class, the status code and the answer's first bytes.
 * notify_threads (migration 2, with the outbox's thread_key column) keeps
 * the root of each thread at each destination: (thread_key, destination) ->
 * channel_id, ts (Slack's message ts, or an e-mail's Message-ID), written
 * with the attempt that delivered the thread's first message there (first
 * one wins), pruned with the outbox after 30 days.
 *
 * Ids are AUTOINCREMENT, and the store has one writer, so ids become visible
 * in increasing order: the delivery thread reads new work as "pending rows
 * with an id above the highest it has seen".
 *
 * Enqueues are durable commits (the caller tells someone "queued"); attempt
 * records are ordinary commits, batched per turn of the delivery thread: a
 * record lost to a power cut only means an attempt is made again.
 *
 * Threads: any; the store serialises writers.
 */
#include <stdlib.h>
#include <string.h>

#include "notify/outbox.h"

static const struct dw_store_migration migrations[] = {
    {1, "CREATE TABLE notify_outbox ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " dedup_key TEXT NOT NULL UNIQUE,"
        " receiver TEXT NOT NULL,"
        " target BIGINT NOT NULL,"
        " kind TEXT NOT NULL,"
        " to_addr TEXT,"
        " order_key TEXT NOT NULL,"
        " person TEXT,"
        " fallback_kind TEXT,"
        " fallback_to TEXT,"
        " payload TEXT,"
        " body TEXT NOT NULL,"
        " state TEXT NOT NULL,"
        " attempts INTEGER NOT NULL,"
        " created_at BIGINT NOT NULL,"
        " not_after BIGINT NOT NULL,"
        " next_at BIGINT NOT NULL,"
        " done_at BIGINT,"
        " last_result TEXT,"
        " last_detail TEXT);"
        "CREATE INDEX notify_outbox_by_state ON notify_outbox (state, id);"
        "CREATE TABLE notify_attempts ("
        " outbox_id BIGINT NOT NULL,"
        " n INTEGER NOT NULL,"
        " at BIGINT NOT NULL,"
        " duration_ms DOUBLE PRECISION NOT NULL,"
        " result TEXT NOT NULL,"
        " status INTEGER NOT NULL,"
        " detail TEXT,"
        " PRIMARY KEY (outbox_id, n));"},
    /* Threads: a row's thread key, and the root each thread has at a destination (written by
       the delivery thread when a thread's first message is delivered there). */
    {2, "ALTER TABLE notify_outbox ADD COLUMN thread_key TEXT;"
        "CREATE TABLE notify_threads ("
        " thread_key TEXT NOT NULL,"
        " destination TEXT NOT NULL,"
        " channel_id TEXT NOT NULL,"
        " ts TEXT NOT NULL,"
        " created_at BIGINT NOT NULL,"
        " PRIMARY KEY (thread_key, destination));"},
};

int outbox_migrate(struct dw_store *s, char **err)
{
    return dw_store_migrate(s, "notify", migrations, DW_ARRAY_LEN(migrations), err);
}

static struct dw_value text_or_null(const char *s)
{
    return s ? DW_VTEXT(s) : DW_VNULL;
}

int outbox_insert(struct dw_store *s, const struct ob_new *rows, size_t n, char **err)
{
    int added = 0;
    static const char sql[] =
        "INSERT INTO notify_outbox (dedup_key, receiver, target, kind, to_addr, order_key, person,"
        " fallback_kind, fallback_to, payload, body, state, attempts, created_at, not_after, "
        "next_at, thread_key)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $13, 'pending', 0, $11, $12, 0, $14)"
        " ON CONFLICT (dedup_key) DO NOTHING";
    for (size_t i = 0; i < n; i++) {
        const struct ob_new *r = &rows[i];
        struct dw_value p[] = {DW_VTEXT(r->dedup_key),
                               DW_VTEXT(r->receiver),
                               DW_VINT(r->target),
                               DW_VTEXT(r->kind),
                               text_or_null(r->to),
                               DW_VTEXT(r->order_key),
                               text_or_null(r->person),
                               text_or_null(r->fallback_kind),
                               text_or_null(r->fallback_to),
                               text_or_null(r->payload),
                               DW_VINT(r->created_ms),
                               DW_VINT(r->not_after_ms),
                               DW_VTEXT(r->body),
                               text_or_null(r->thread_key)};
        if (dw_store_exec(s, sql, p, DW_ARRAY_LEN(p), NULL, NULL, err) != 0)
            return -1;
        added += (int)dw_store_changes(s);
    }
    return added;
}

int64_t outbox_id_of(struct dw_store *s, const char *dedup_key, char **err)
{
    int64_t id = 0;
    struct dw_value p[] = {DW_VTEXT(dedup_key)};
    if (dw_store_int(s, "SELECT id FROM notify_outbox WHERE dedup_key = $1", p, 1, &id, err) != 0)
        return -1;
    return id;
}

struct load_ctx {
    struct ob_row *rows;
    size_t n, cap;
};

static char *dup_col(const struct dw_value *v)
{
    return v->type == DW_VAL_NULL ? NULL : dw_strndup(v->s, v->n);
}

static int load_row(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    struct load_ctx *lc = ctx;
    lc->rows = dw_grow(lc->rows, &lc->cap, lc->n + 1, sizeof *lc->rows);
    lc->rows[lc->n++] = (struct ob_row){
        .id = c[0].i,
        .dedup_key = dup_col(&c[1]),
        .receiver = dup_col(&c[2]),
        .target = c[3].i,
        .kind = dup_col(&c[4]),
        .to = dup_col(&c[5]),
        .order_key = dup_col(&c[6]),
        .person = dup_col(&c[7]),
        .fallback_kind = dup_col(&c[8]),
        .fallback_to = dup_col(&c[9]),
        .payload = dup_col(&c[10]),
        .body = dup_col(&c[11]),
        .attempts = (int)c[12].i,
        .created_ms = c[13].i,
        .not_after_ms = c[14].i,
        .next_ms = c[15].i,
        .thread_key = dup_col(&c[16]),
    };
    return 0;
}

int outbox_load(struct dw_store *s, int64_t after_id, size_t max, struct ob_row **out, size_t *n,
                char **err)
{
    struct load_ctx lc = {0};
    struct dw_value p[] = {DW_VINT(after_id), DW_VINT((int64_t)max)};
    int rc =
        dw_store_exec(s,
                      "SELECT id, dedup_key, receiver, target, kind, to_addr, order_key,"
                      " person, fallback_kind, fallback_to, payload, body, attempts, created_at,"
                      " not_after, next_at, thread_key FROM notify_outbox"
                      " WHERE state = 'pending' AND id > $1 ORDER BY id LIMIT $2",
                      p, 2, load_row, &lc, err);
    if (rc != 0) {
        ob_rows_free(lc.rows, lc.n);
        return -1;
    }
    *out = lc.rows;
    *n = lc.n;
    return 0;
}

void ob_rows_free(struct ob_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ob_row_release(&rows[i]);
    free(rows);
}

void ob_row_release(struct ob_row *r)
{
    char **fields[] = {&r->dedup_key, &r->receiver, &r->kind,          &r->to,
                       &r->order_key, &r->person,   &r->fallback_kind, &r->fallback_to,
                       &r->payload,   &r->body,     &r->thread_key};
    for (size_t i = 0; i < DW_ARRAY_LEN(fields); i++)
        free(*fields[i]);
    *r = (struct ob_row){0};
}

struct record_ctx {
    const struct ob_result *r;
    size_t n;
};

static int record_one(struct dw_store *s, const struct ob_result *r, char **err)
{
    if (r->attempt > 0) {
        struct dw_value a[] = {DW_VINT(r->id),           DW_VINT(r->attempt), DW_VINT(r->at_ms),
                               DW_VREAL(r->duration_ms), DW_VTEXT(r->result), DW_VINT(r->status),
                               text_or_null(r->detail)};
        if (dw_store_exec(s,
                          "INSERT INTO notify_attempts (outbox_id, n, at, duration_ms, result,"
                          " status, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                          " ON CONFLICT (outbox_id, n) DO NOTHING",
                          a, DW_ARRAY_LEN(a), NULL, NULL, err) != 0)
            return -1;
    }
    if (r->thread_key && r->thread_dest && r->thread_ts) {
        struct dw_value t[] = {DW_VTEXT(r->thread_key), DW_VTEXT(r->thread_dest),
                               DW_VTEXT(r->thread_channel ? r->thread_channel : ""),
                               DW_VTEXT(r->thread_ts), DW_VINT(r->done_ms)};
        if (dw_store_exec(s,
                          "INSERT INTO notify_threads (thread_key, destination, channel_id, ts,"
                          " created_at) VALUES ($1, $2, $3, $4, $5)"
                          " ON CONFLICT (thread_key, destination) DO NOTHING",
                          t, DW_ARRAY_LEN(t), NULL, NULL, err) != 0)
            return -1;
    }
    bool done = strcmp(r->state, "pending") != 0;
    struct dw_value u[] = {DW_VINT(r->id),
                           DW_VTEXT(r->state),
                           DW_VINT(r->attempt),
                           DW_VINT(r->next_ms),
                           done ? DW_VINT(r->done_ms) : DW_VNULL,
                           text_or_null(r->result),
                           text_or_null(r->detail)};
    return dw_store_exec(s,
                         "UPDATE notify_outbox SET state = $2,"
                         " attempts = CASE WHEN $3 > attempts THEN $3 ELSE attempts END,"
                         " next_at = $4, done_at = $5,"
                         " last_result = COALESCE($6, last_result),"
                         " last_detail = COALESCE($7, last_detail) WHERE id = $1",
                         u, DW_ARRAY_LEN(u), NULL, NULL, err);
}

static int record_tx(struct dw_store *s, void *ctx)
{
    struct record_ctx *rc = ctx;
    for (size_t i = 0; i < rc->n; i++)
        if (record_one(s, &rc->r[i], NULL) != 0)
            return -1;
    return 0;
}

int outbox_record(struct dw_store *s, const struct ob_result *r, size_t n, char **err)
{
    if (n == 0)
        return 0;
    struct record_ctx rc = {r, n};
    return dw_store_tx(s, record_tx, &rc, err);
}

static int thread_row(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    struct ob_thread *t = ctx;
    t->channel_id = dup_col(&c[0]);
    t->ts = dup_col(&c[1]);
    return 1;
}

int outbox_thread_get(struct dw_store *s, const char *thread_key, const char *dest,
                      struct ob_thread *out, char **err)
{
    *out = (struct ob_thread){0};
    struct dw_value p[] = {DW_VTEXT(thread_key), DW_VTEXT(dest)};
    if (dw_store_exec(s,
                      "SELECT channel_id, ts FROM notify_threads"
                      " WHERE thread_key = $1 AND destination = $2",
                      p, 2, thread_row, out, err) != 0) {
        ob_thread_release(out);
        return -1;
    }
    return out->ts ? 1 : 0;
}

void ob_thread_release(struct ob_thread *t)
{
    free(t->channel_id);
    free(t->ts);
    *t = (struct ob_thread){0};
}

static int prune_tx(struct dw_store *s, void *ctx)
{
    struct dw_value p[] = {DW_VINT(*(int64_t *)ctx)};
    if (dw_store_exec(s, "DELETE FROM notify_threads WHERE created_at < $1", p, 1, NULL, NULL,
                      NULL) != 0)
        return -1;
    if (dw_store_exec(s,
                      "DELETE FROM notify_attempts WHERE outbox_id IN (SELECT id FROM notify_outbox"
                      " WHERE state <> 'pending' AND done_at < $1)",
                      p, 1, NULL, NULL, NULL) != 0)
        return -1;
    return dw_store_exec(s, "DELETE FROM notify_outbox WHERE state <> 'pending' AND done_at < $1",
                         p, 1, NULL, NULL, NULL);
}

int outbox_prune(struct dw_store *s, int64_t cutoff_ms, char **err)
{
    return dw_store_tx(s, prune_tx, &cutoff_ms, err);
}

int64_t outbox_pending(struct dw_store *s, char **err)
{
    int64_t n = 0;
    if (dw_store_int(s, "SELECT count(*) FROM notify_outbox WHERE state = 'pending'", NULL, 0, &n,
                     err) != 0)
        return -1;
    return n;
}

/* ---- the API's view ---- */

static json_t *str_or_null(const struct dw_value *v)
{
    return v->type == DW_VAL_NULL ? json_null() : json_stringn(v->s, v->n);
}

static json_t *time_or_null(const struct dw_value *v)
{
    if (v->type == DW_VAL_NULL || v->i <= 0)
        return json_null();
    char buf[40];
    dw_format_rfc3339(v->i, buf, sizeof buf);
    return json_string(buf);
}

static int attempt_row(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    json_array_append_new(ctx, json_pack("{s:I, s:o, s:f, s:s%, s:I, s:o}", "attempt",
                                         (json_int_t)c[0].i, "at", time_or_null(&c[1]),
                                         "durationMs", c[2].d, "result", c[3].s, c[3].n, "status",
                                         (json_int_t)c[4].i, "detail", str_or_null(&c[5])));
    return 0;
}

struct json_ctx {
    json_t *arr;
    struct dw_store *s;
    bool with_attempts;
    int rc;
};

static int outbox_row(void *ctx, const struct dw_value *c, size_t nc)
{
    (void)nc;
    struct json_ctx *jc = ctx;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(c[0].i));
    json_object_set_new(o, "dedupKey", str_or_null(&c[1]));
    json_object_set_new(o, "kind", str_or_null(&c[2]));
    json_object_set_new(o, "receiver", str_or_null(&c[3]));
    json_object_set_new(o, "to", str_or_null(&c[4]));
    json_object_set_new(o, "person", str_or_null(&c[5]));
    json_object_set_new(o, "state", str_or_null(&c[6]));
    json_object_set_new(o, "attempts", json_integer(c[7].i));
    json_object_set_new(o, "createdAt", time_or_null(&c[8]));
    json_object_set_new(o, "nextAttemptAt", time_or_null(&c[9]));
    json_object_set_new(o, "doneAt", time_or_null(&c[10]));
    json_object_set_new(o, "lastResult", str_or_null(&c[11]));
    json_object_set_new(o, "lastDetail", str_or_null(&c[12]));
    if (jc->with_attempts) {
        json_t *att = json_array();
        struct dw_value p[] = {DW_VINT(c[0].i)};
        if (dw_store_exec(jc->s,
                          "SELECT n, at, duration_ms, result, status, detail FROM notify_attempts"
                          " WHERE outbox_id = $1 ORDER BY n",
                          p, 1, attempt_row, att, NULL) != 0)
            jc->rc = -1;
        json_object_set_new(o, "attemptLog", att);
    }
    json_array_append_new(jc->arr, o);
    return 0;
}

json_t *dw_notifier_outbox_json(struct dw_store *s, const char *state, const char *dedup_prefix,
                                size_t limit, bool with_attempts, char **err)
{
    if (limit == 0 || limit > 1000)
        limit = 1000;
    char *like = dw_asprintf("%s%%", dedup_prefix ? dedup_prefix : "");
    struct dw_value p[] = {text_or_null(state), DW_VTEXT(like), DW_VINT((int64_t)limit)};
    struct json_ctx jc = {json_array(), s, with_attempts, 0};
    int rc = dw_store_exec(s,
                           "SELECT id, dedup_key, kind, receiver, to_addr, person, state, attempts,"
                           " created_at, next_at, done_at, last_result, last_detail"
                           " FROM notify_outbox WHERE ($1 IS NULL OR state = $1)"
                           " AND dedup_key LIKE $2 ORDER BY id DESC LIMIT $3",
                           p, DW_ARRAY_LEN(p), outbox_row, &jc, err);
    free(like);
    if (rc != 0 || jc.rc != 0) {
        json_decref(jc.arr);
        if (rc == 0 && err)
            *err = dw_strdup("reading the attempts failed");
        return NULL;
    }
    return jc.arr;
}
