/*
 * db.c - the database object: options, open (lock) and load (blocks, WAL
 * replay), appenders and their commit, head truncation with a WAL
 * checkpoint, statistics. The registry of blocks the queriers read is in
 * sources.c, the cut into blocks and block maintenance in maintain.c.
 *
 * DESIGN
 * Loading opens the directory of blocks first: the newest raw block's end
 * is what is persisted, and the WAL replay skips samples before it (a crash
 * between writing a block and checkpointing the WAL leaves them in the
 * log), then truncates the head there so nothing older can be appended.
 * With defer_load the object exists (and its directory is locked) before
 * the load; commits and selects fail with DW_TSDB_ELOADING until then, so
 * the daemon can answer HTTP (503) while a long WAL replays.
 *
 * An appender validates and resolves each sample as it is added (labels
 * sorted, checked against the limits, looked up in the head) but changes
 * nothing shared: series that do not exist yet are kept in the appender
 * with copies of their labels. Commit then runs, under the db gate held for
 * reading:
 *   1. limits: the new series are reserved against max_series with one
 *      atomic compare-and-swap (so concurrent commits cannot overshoot);
 *      on failure nothing has been touched;
 *   2. new series are created (index write lock, once per commit);
 *   3. series definitions not yet in the WAL are logged, then the samples
 *      that pass a lock-free pre-check (out of bounds, older than the
 *      series' last sample) are logged as one batch; with fsync "always"
 *      each call returns once its bytes are on disk (group commit);
 *   4. samples are stored under their series' locks and counted.
 * A scrape's consecutive samples belong to different series, so each one
 * is a cache miss: the commit loops prefetch a few samples ahead.
 * Logging before storing means a sample is visible only once it is in the
 * WAL, and replay, which applies the same rules in log order, rebuilds the
 * same head. A series created by another commit whose definition is not
 * logged yet is logged again by whoever uses it first (replay treats a
 * repeated definition as a no-op), so a samples record never precedes its
 * series' definition in the log.
 *
 * Truncation takes the gate for writing: no commit is between logging and
 * storing, so cutting the WAL there splits it cleanly: every sample in a
 * segment before the cut is in memory, and the checkpoint written from
 * memory replaces those segments. The rwlock prefers writers so a steady
 * stream of commits cannot starve it.
 *
 * Threads: appenders are single-threaded objects; everything else here is
 * thread-safe.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tsdb/block_internal.h"
#include "tsdb/head_internal.h"
#include "tsdb/tsdb.h"
#include "tsdb/tsdb_internal.h"

#define LOG_COMPONENT "tsdb"
#define HOUR_MS INT64_C(3600000)
#define DAY_MS (24 * HOUR_MS)
#define CKPT_BATCH 1024  /* series per checkpoint round */
#define PREFETCH_AHEAD 8 /* samples: series prefetched this far ahead, chunks half as far */

struct dw_head *dw_tsdb_head_of(struct dw_tsdb *db)
{
    return db->head;
}

void dw_tsdb_options_init(struct dw_tsdb_options *o)
{
    memset(o, 0, sizeof *o);
    o->block_range_ms = 2 * HOUR_MS;
    o->retention_ms = 90 * DAY_MS;
    o->downsample_retention_ms = 365 * DAY_MS;
    o->max_future_ms = 10 * 60 * 1000;
    dw_tsdb_wal_opts_init(&o->wal);
    o->max_series = 1000000;
    o->max_labels = 64;
    o->max_label_name_len = 256;
    o->max_label_value_len = 4096;
    o->max_samples_per_commit = 1000000;
    o->maint_interval_ms = 5 * 60 * 1000;
}

static void resolve_defaults(struct dw_tsdb_options *o)
{
    struct dw_tsdb_options d;
    dw_tsdb_options_init(&d);
    if (o->block_range_ms <= 0)
        o->block_range_ms = d.block_range_ms;
    if (o->retention_ms <= 0)
        o->retention_ms = d.retention_ms;
    if (o->downsample_retention_ms <= 0)
        o->downsample_retention_ms = d.downsample_retention_ms;
    if (o->max_future_ms == 0)
        o->max_future_ms = d.max_future_ms;
    if (!o->max_series)
        o->max_series = d.max_series;
    if (!o->max_labels)
        o->max_labels = d.max_labels;
    if (!o->max_label_name_len)
        o->max_label_name_len = d.max_label_name_len;
    if (!o->max_label_value_len)
        o->max_label_value_len = d.max_label_value_len;
    if (!o->max_samples_per_commit)
        o->max_samples_per_commit = d.max_samples_per_commit;
    if (o->maint_interval_ms <= 0)
        o->maint_interval_ms = d.maint_interval_ms;
}

/* ---- WAL replay ---- */

/* WAL references that replay had to map to another id (damaged logs only). */
struct alias_map {
    uint64_t *keys; /* ref + 1; 0 empty */
    uint32_t *ids;
    size_t cap, n;
};

static size_t alias_slot(const struct alias_map *m, uint64_t ref)
{
    size_t i = (size_t)(ref * UINT64_C(0x9E3779B97F4A7C15) >> 20) & (m->cap - 1);
    while (m->keys[i] && m->keys[i] != ref + 1)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static void alias_put(struct alias_map *m, uint64_t ref, uint32_t id)
{
    if ((m->n + 1) * 2 > m->cap) {
        struct alias_map g = {dw_calloc(m->cap ? m->cap * 2 : 64, sizeof *g.keys), NULL,
                              m->cap ? m->cap * 2 : 64, m->n};
        g.ids = dw_calloc(g.cap, sizeof *g.ids);
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->keys[i])
                continue;
            size_t j = alias_slot(&g, m->keys[i] - 1);
            g.keys[j] = m->keys[i];
            g.ids[j] = m->ids[i];
        }
        free(m->keys);
        free(m->ids);
        *m = g;
    }
    size_t i = alias_slot(m, ref);
    if (!m->keys[i])
        m->n++;
    m->keys[i] = ref + 1;
    m->ids[i] = id;
}

static bool alias_get(const struct alias_map *m, uint64_t ref, uint32_t *id)
{
    if (!m->n)
        return false;
    size_t i = alias_slot(m, ref);
    if (!m->keys[i])
        return false;
    *id = m->ids[i];
    return true;
}

struct replay {
    struct dw_tsdb *db;
    struct dw_tsdb_blockenc *enc;
    struct dw_buf scratch;
    struct alias_map aliases;
    struct dw_label *lab;
    size_t labcap;
    int64_t min_t; /* samples before it are in blocks already */
    uint64_t unknown, bad_series, samples, in_blocks;
    struct dw_append_acc acc;
    struct dw_series **ser; /* the series of each sample of a record (NULL: skipped) */
    size_t sercap;
};

static int replay_series(void *ctx, const struct dw_tsdb_wal_series *ss, size_t n)
{
    struct replay *r = ctx;
    struct dw_head *h = r->db->head;
    pthread_rwlock_wrlock(&h->ix.lock);
    for (size_t i = 0; i < n; i++) {
        const struct dw_tsdb_wal_series *w = &ss[i];
        r->lab = dw_grow(r->lab, &r->labcap, w->nlabels + 1, sizeof *r->lab);
        size_t m = 0;
        for (size_t j = 0; j < w->nlabels; j++)
            if (w->labels[j].value[0])
                r->lab[m++] = (struct dw_label){w->labels[j].name, w->labels[j].value};
        dw_tsdb_labels_sort(r->lab, m);
        if (m == 0 || m > UINT16_MAX) {
            r->bad_series++;
            continue;
        }
        uint32_t want = w->ref > 0 && w->ref < UINT32_MAX ? (uint32_t)w->ref : 0;
        bool created;
        struct dw_series *s = dw_head_get_or_create(
            h, r->lab, m, dw_head_labels_hash(r->lab, NULL, m), want, &created);
        if (!s) {
            r->bad_series++;
            continue;
        }
        if (created)
            atomic_fetch_add(&h->nseries, 1);
        atomic_fetch_or(&s->flags, DW_SERIES_LOGGED);
        if (s->id != w->ref)
            alias_put(&r->aliases, w->ref, s->id);
    }
    pthread_rwlock_unlock(&h->ix.lock);
    return 0;
}

static int replay_samples(void *ctx, const struct dw_tsdb_wal_sample *ss, size_t n)
{
    struct replay *r = ctx;
    struct dw_head *h = r->db->head;
    dw_append_acc_init(&r->acc);
    /* Consecutive samples belong to different series, each a cache miss: the
       series are resolved first (each prefetched), then appended while the
       chunks of the ones a few samples ahead are being fetched. */
    if (n > r->sercap)
        r->ser = dw_grow(r->ser, &r->sercap, n, sizeof *r->ser);
    bool aliased = r->aliases.n > 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t id;
        r->ser[i] = NULL;
        if (ss[i].t < r->min_t) {
            r->in_blocks++;
            continue;
        }
        if (!aliased || !alias_get(&r->aliases, ss[i].ref, &id))
            id = ss[i].ref < UINT32_MAX ? (uint32_t)ss[i].ref : 0;
        struct dw_series *s = id ? dw_head_series(h, id) : NULL;
        if (!s) {
            r->unknown++;
            continue;
        }
        __builtin_prefetch(s, 1);
        r->ser[i] = s;
    }
    for (size_t i = 0; i < n; i++) {
        /* Chunks of the series eight ahead, the end of their bytes (where the
           next sample goes) four ahead. Replay is the head's only writer, so
           reading a chunk without the series lock is safe here. */
        struct dw_series *sa = i + PREFETCH_AHEAD < n ? r->ser[i + PREFETCH_AHEAD] : NULL;
        if (sa) {
            const char *c = (const char *)atomic_load_explicit(&sa->head, memory_order_relaxed);
            __builtin_prefetch(c, 1);
            __builtin_prefetch(c + 64, 1);
        }
        sa = i + PREFETCH_AHEAD / 2 < n ? r->ser[i + PREFETCH_AHEAD / 2] : NULL;
        struct dw_tsdb_chunk *ca =
            sa ? atomic_load_explicit(&sa->head, memory_order_relaxed) : NULL;
        if (ca) {
            size_t len;
            const uint8_t *b = dw_tsdb_chunk_bytes(ca, &len);
            __builtin_prefetch(b + len, 1);
        }
        if (r->ser[i])
            dw_head_append(h, r->ser[i], ss[i].t, ss[i].v, r->enc, &r->scratch, &r->acc);
    }
    r->samples += n;
    dw_head_acc_publish(h, &r->acc);
    return 0;
}

static void log_replay(struct dw_tsdb *db, const struct replay *r,
                       const struct dw_tsdb_wal_replay_stats *st, int64_t ns)
{
    double secs = (double)ns / 1e9;
    char series[24], samples[24], seconds[24], rate[24], unknown[24], rejected[24], skipped[24];
    snprintf(series, sizeof series, "%zu", dw_tsdb_num_series(db));
    snprintf(samples, sizeof samples, "%" PRIu64, st->samples);
    snprintf(seconds, sizeof seconds, "%.3f", secs);
    snprintf(rate, sizeof rate, "%.0f", secs > 0 ? (double)st->samples / secs : 0.0);
    snprintf(unknown, sizeof unknown, "%" PRIu64, r->unknown);
    snprintf(skipped, sizeof skipped, "%" PRIu64, r->in_blocks);
    snprintf(rejected, sizeof rejected, "%" PRIu64,
             atomic_load(&db->head->out_of_order) + atomic_load(&db->head->duplicate) +
                 atomic_load(&db->head->out_of_bounds));
    dw_log_kv(DW_LOG_INFO, LOG_COMPONENT, "WAL replayed", "series", series, "samples", samples,
              "seconds", seconds, "samples_per_s", rate, "unknown_refs", unknown, "rejected",
              rejected, "skipped_in_blocks", skipped, NULL);
}

/* ---- open and close ---- */

static int lock_dir(struct dw_tsdb *db, char **err)
{
    char *path = dw_asprintf("%s/lock", db->dir_);
    db->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    free(path);
    if (db->lock_fd < 0) {
        *err = dw_asprintf("cannot create %s/lock: %s", db->dir_, strerror(errno));
        return -1;
    }
    if (flock(db->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        *err = dw_asprintf("database directory %s is in use by another process", db->dir_);
        return -1;
    }
    return 0;
}

/* Replays the WAL into the head, skipping samples before min_t (in blocks). */
static int replay_wal(struct dw_tsdb *db, int64_t min_t, char **err)
{
    struct replay r = {.db = db, .enc = dw_tsdb_blockenc_new(), .min_t = min_t};
    dw_buf_init(&r.scratch, 0);
    struct dw_tsdb_wal_handler hd = {replay_series, replay_samples, &r};
    struct dw_tsdb_wal_replay_stats st;
    memset(&st, 0, sizeof st);
    int64_t t0 = dw_mono_ns();
    /* Replay rebuilds what was accepted (only accepted samples are logged): the
       clock-based future limit must not drop samples because the clock reads
       earlier now (a restore, NTP), and the window behind the newest sample
       must not drop the older samples of a checkpoint, which lists the head
       series by series. Only the blocks' end bounds it (min_t). */
    db->head->max_future_ms = -1;
    db->head->replaying = true;
    int rc = dw_tsdb_wal_open(db->wal_dir, &db->o.wal, &hd, &st, &db->wal);
    db->head->replaying = false;
    db->head->max_future_ms = db->o.max_future_ms;
    if (rc == 0)
        log_replay(db, &r, &st, dw_mono_ns() - t0);
    dw_tsdb_blockenc_free(&r.enc);
    dw_buf_release(&r.scratch);
    free(r.aliases.keys);
    free(r.aliases.ids);
    free(r.lab);
    free(r.ser);
    if (rc)
        *err = dw_asprintf("cannot open the WAL in %s: %s", db->wal_dir, dw_tsdb_strerror(rc));
    return rc;
}

static void log_blocks(struct dw_tsdb *db)
{
    struct dw_tsdb_stats st;
    memset(&st, 0, sizeof st);
    dw_tsdb_sources_stats(db, &st);
    char raw[24], ds[24], bytes[24], until[40] = "";
    snprintf(raw, sizeof raw, "%" PRIu64, st.blocks_raw);
    snprintf(ds, sizeof ds, "%" PRIu64, st.blocks_5m + st.blocks_1h);
    snprintf(bytes, sizeof bytes, "%" PRIu64, st.block_bytes);
    if (st.blocks_raw)
        dw_format_rfc3339(st.persisted_until, until, sizeof until);
    dw_log_kv(DW_LOG_INFO, LOG_COMPONENT, "blocks opened", "dir", db->blocks_dir, "raw", raw,
              "downsampled", ds, "bytes", bytes, st.blocks_raw ? "persisted_until" : NULL, until,
              NULL);
}

int dw_tsdb_load(struct dw_tsdb *db, char **err)
{
    char *dummy = NULL;
    if (!err)
        err = &dummy;
    *err = NULL;
    if (atomic_load(&db->loaded))
        return 0;
    struct dw_tsdb_blockdir_opts bo = {
        .block_range_ms = db->o.block_range_ms,
        .retention_ms = db->o.retention_ms,
        .ds_retention_ms = db->o.downsample_retention_ms,
        .no_downsample = db->o.no_downsample,
    };
    char *e = NULL;
    if (!db->blocks) /* a retry after a failed replay keeps the directory */
        db->blocks = dw_tsdb_blockdir_open(db->blocks_dir, &bo, &e);
    if (!db->blocks) {
        *err = dw_asprintf("cannot open the blocks in %s: %s", db->blocks_dir, e ? e : "?");
        free(e);
        free(dummy);
        return DW_TSDB_EIO;
    }
    dw_tsdb_sources_sync(db);
    log_blocks(db);
    int64_t persisted;
    if (!dw_tsdb_blockdir_max_time(db->blocks, &persisted))
        persisted = INT64_MIN;
    int rc = replay_wal(db, persisted, err);
    if (rc) {
        free(dummy);
        return rc;
    }
    if (persisted != INT64_MIN) {
        /* Nothing before the blocks' end may enter the head any more; series
           whose samples were all skipped go now. */
        pthread_rwlock_wrlock(&db->gate);
        dw_head_truncate(db->head, persisted);
        pthread_rwlock_unlock(&db->gate);
    }
    pthread_mutex_lock(&db->maint_mu);
    db->persisted = db->truncated = persisted;
    db->trunc_gen = 0;
    pthread_mutex_unlock(&db->maint_mu);
    atomic_store_explicit(&db->loaded, true, memory_order_release);
    return 0;
}

bool dw_tsdb_is_loaded(struct dw_tsdb *db)
{
    return atomic_load_explicit(&db->loaded, memory_order_acquire);
}

struct dw_tsdb *dw_tsdb_open(const struct dw_tsdb_options *o, char **err)
{
    char *dummy = NULL;
    if (!err)
        err = &dummy;
    *err = NULL;
    if (!o || !o->dir || !o->dir[0]) {
        *err = dw_strdup("no database directory configured");
        return NULL;
    }
    struct dw_tsdb *db = dw_calloc(1, sizeof *db);
    db->o = *o;
    resolve_defaults(&db->o);
    db->dir_ = dw_strdup(o->dir);
    db->o.dir = db->dir_;
    db->wal_dir = dw_asprintf("%s/wal", db->dir_);
    db->blocks_dir = dw_asprintf("%s/blocks", db->dir_);
    db->lock_fd = -1;
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&db->gate, &attr);
    pthread_rwlockattr_destroy(&attr);
    pthread_mutex_init(&db->trunc_mu, NULL);
    pthread_mutex_init(&db->src_mu, NULL);
    pthread_mutex_init(&db->maint_mu, NULL);
    db->persisted = db->truncated = INT64_MIN;
    db->last_maint = INT64_MIN;
    db->head = dw_head_new(db->o.block_range_ms, db->o.max_future_ms);

    if (mkdir(db->dir_, 0755) < 0 && errno != EEXIST) {
        *err = dw_asprintf("cannot create %s: %s", db->dir_, strerror(errno));
        goto fail;
    }
    if (lock_dir(db, err) < 0)
        goto fail;
    if (!db->o.defer_load && dw_tsdb_load(db, err) != 0)
        goto fail;
    return db;
fail:
    free(dummy);
    dw_tsdb_close(&db);
    return NULL;
}

int dw_tsdb_close(struct dw_tsdb **dbp)
{
    if (!dbp || !*dbp)
        return 0;
    struct dw_tsdb *db = *dbp;
    int rc = dw_tsdb_wal_close(&db->wal);
    dw_tsdb_sources_release(db);
    dw_tsdb_blockdir_free(&db->blocks);
    dw_head_free(&db->head);
    if (db->lock_fd >= 0)
        close(db->lock_fd);
    pthread_rwlock_destroy(&db->gate);
    pthread_mutex_destroy(&db->trunc_mu);
    pthread_mutex_destroy(&db->src_mu);
    pthread_mutex_destroy(&db->maint_mu);
    free(db->wal_dir);
    free(db->blocks_dir);
    free(db->dir_);
    free(db);
    *dbp = NULL;
    return rc;
}

int dw_tsdb_sync(struct dw_tsdb *db)
{
    return dw_tsdb_is_loaded(db) ? dw_tsdb_wal_sync(db->wal) : 0;
}

/* ---- appender ---- */

struct pend {
    struct dw_series *s; /* NULL: new series news[nidx] */
    uint32_t nidx;
    uint8_t status; /* pre-check outcome at commit */
    int64_t t;
    double v;
};

/* A series this appender will create: its labels in the arena as name\0value\0... */
struct newser {
    uint64_t hash;
    size_t off;
    size_t n;
    struct dw_series *s; /* set at commit */
};

struct dw_tsdb_appender {
    struct dw_tsdb *db;
    struct dw_holder holder;
    struct pend *p;
    size_t n, cap;
    struct newser *news;
    size_t nnew, newcap;
    uint32_t *newmap; /* open addressing: index into news + 1 */
    size_t newmap_cap;
    struct dw_buf arena;
    struct dw_label *lab; /* scratch: sorted labels of the sample being added */
    size_t labcap;
    uint32_t *lens; /* their name and value lengths */
    uint32_t gen;   /* changes at every commit/rollback: invalidates pending refs */
    int err;
    char *errmsg;
    struct dw_tsdb_blockenc *enc;
    struct dw_buf scratch;
    struct dw_tsdb_wal_sample *ws;
    size_t wscap;
    struct dw_tsdb_label *wl;
    size_t wlcap;
    struct dw_tsdb_wal_series *wser;
    size_t wsercap;
    struct dw_series **unlogged;
    size_t unlogged_cap;
};

struct dw_tsdb_appender *dw_tsdb_appender_new(struct dw_tsdb *db)
{
    struct dw_tsdb_appender *a = dw_calloc(1, sizeof *a);
    a->db = db;
    dw_buf_init(&a->arena, 0);
    dw_buf_init(&a->scratch, 0);
    return a;
}

static void reset(struct dw_tsdb_appender *a)
{
    a->n = 0;
    a->gen++;
    if (a->nnew)
        memset(a->newmap, 0, a->newmap_cap * sizeof *a->newmap);
    a->nnew = 0;
    a->arena.len = 0;
    a->err = 0;
    free(a->errmsg);
    a->errmsg = NULL;
    dw_reclaim_exit(&a->db->head->reclaim, &a->holder);
}

void dw_tsdb_appender_rollback(struct dw_tsdb_appender *a)
{
    reset(a);
}

void dw_tsdb_appender_free(struct dw_tsdb_appender **ap)
{
    if (!ap || !*ap)
        return;
    struct dw_tsdb_appender *a = *ap;
    reset(a);
    free(a->p);
    free(a->news);
    free(a->newmap);
    dw_buf_release(&a->arena);
    dw_buf_release(&a->scratch);
    free(a->lab);
    free(a->lens);
    dw_tsdb_blockenc_free(&a->enc);
    free(a->ws);
    free(a->wl);
    free(a->wser);
    free(a->unlogged);
    free(a);
    *ap = NULL;
}

static int poison(struct dw_tsdb_appender *a, int rc, const char *fmt, ...) DW_PRINTF(3, 4);

static int poison(struct dw_tsdb_appender *a, int rc, const char *fmt, ...)
{
    if (a->err)
        return a->err;
    va_list ap;
    va_start(ap, fmt);
    a->errmsg = dw_vasprintf(fmt, ap);
    va_end(ap);
    a->err = rc;
    return rc;
}

/* Valid UTF-8 (no overlongs, surrogates or values past U+10FFFF), ASCII fast path. */
static bool utf8_valid(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (!(w & UINT64_C(0x8080808080808080))) {
                i += 8;
                continue;
            }
        }
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
        if (len == 0 || c > 0xF4 || i + len > n)
            return false;
        for (size_t k = 1; k < len; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
        if ((c == 0xE0 && p[i + 1] < 0xA0) || (c == 0xED && p[i + 1] >= 0xA0) ||
            (c == 0xF0 && p[i + 1] < 0x90) || (c == 0xF4 && p[i + 1] >= 0x90))
            return false;
        i += len;
    }
    return true;
}

static int push(struct dw_tsdb_appender *a, struct dw_series *s, uint32_t nidx, int64_t t, double v)
{
    if (a->n == a->cap)
        a->p = dw_grow(a->p, &a->cap, a->n + 1, sizeof *a->p);
    a->p[a->n++] = (struct pend){s, nidx, 0, t, v};
    return 0;
}

static void labels_room(struct dw_tsdb_appender *a, size_t n)
{
    if (n <= a->labcap)
        return;
    a->lab = dw_grow(a->lab, &a->labcap, n, sizeof *a->lab);
    a->lens = dw_realloc(a->lens, a->labcap * 2 * sizeof *a->lens);
}

/* strcmp with the first byte inline: label names mostly differ there. */
static inline int name_cmp(const char *a, const char *b)
{
    if (a[0] != b[0])
        return (unsigned char)a[0] - (unsigned char)b[0];
    return strcmp(a, b);
}

/*
 * The fast path for series that exist: copies the labels with their
 * lengths into a->lab, dropping empty values and sorting when needed, but
 * validates nothing: a label set equal to an existing series is valid (it
 * was checked when that series was created). Returns the count, or -1 when
 * only prepare_labels can tell (a missing name, a repeated name, too many).
 */
static long quick_labels(struct dw_tsdb_appender *a, const struct dw_label *labels, size_t n)
{
    if (n > a->db->o.max_labels)
        return -1;
    labels_room(a, n);
    size_t m = 0;
    bool sorted = true;
    for (size_t i = 0; i < n; i++) {
        if (!labels[i].name)
            return -1;
        size_t vl = labels[i].value ? strlen(labels[i].value) : 0;
        if (!vl)
            continue;
        a->lab[m] = labels[i];
        a->lens[2 * m] = (uint32_t)strlen(labels[i].name);
        a->lens[2 * m + 1] = (uint32_t)vl;
        if (m > 0 && name_cmp(a->lab[m - 1].name, a->lab[m].name) >= 0)
            sorted = false;
        m++;
    }
    for (size_t i = 1; !sorted && i < m; i++) { /* insertion sort, lengths alongside */
        struct dw_label cur = a->lab[i];
        uint32_t nl = a->lens[2 * i], vl = a->lens[2 * i + 1];
        size_t j = i;
        for (; j > 0 && name_cmp(a->lab[j - 1].name, cur.name) > 0; j--) {
            a->lab[j] = a->lab[j - 1];
            a->lens[2 * j] = a->lens[2 * j - 2];
            a->lens[2 * j + 1] = a->lens[2 * j - 1];
        }
        a->lab[j] = cur;
        a->lens[2 * j] = nl;
        a->lens[2 * j + 1] = vl;
    }
    for (size_t i = 1; !sorted && i < m; i++)
        if (name_cmp(a->lab[i - 1].name, a->lab[i].name) == 0)
            return -1;
    return (long)m;
}

/* Copies, checks and sorts the labels into a->lab; returns the count or an error. */
static long prepare_labels(struct dw_tsdb_appender *a, const struct dw_label *labels, size_t n)
{
    const struct dw_tsdb_options *o = &a->db->o;
    if (n > o->max_labels)
        return poison(a, DW_TSDB_ELIMIT, "a series has %zu labels, the limit is %zu (max_labels)",
                      n, o->max_labels);
    labels_room(a, n);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = labels[i].name ? labels[i].name : "";
        const char *value = labels[i].value ? labels[i].value : "";
        size_t nl = strlen(name), vl = strlen(value);
        if (nl > o->max_label_name_len)
            return poison(a, DW_TSDB_ELIMIT,
                          "label name of %zu bytes, the limit is %zu (max_label_name_len)", nl,
                          o->max_label_name_len);
        if (vl > o->max_label_value_len)
            return poison(a, DW_TSDB_ELIMIT,
                          "value of label \"%s\" has %zu bytes, the limit is %zu "
                          "(max_label_value_len)",
                          name, vl, o->max_label_value_len);
        if (!dw_tsdb_label_name_valid(name))
            return poison(a, DW_TSDB_EINVAL, "invalid label name \"%s\"", name);
        if (!utf8_valid((const unsigned char *)value, vl))
            return poison(a, DW_TSDB_EINVAL, "value of label \"%s\" is not valid UTF-8", name);
        if (vl)
            a->lab[m++] = (struct dw_label){name, value};
    }
    dw_tsdb_labels_sort(a->lab, m);
    const char *metric = NULL;
    for (size_t i = 0; i < m; i++) {
        if (i > 0 && strcmp(a->lab[i].name, a->lab[i - 1].name) == 0)
            return poison(a, DW_TSDB_EINVAL, "duplicate label name \"%s\"", a->lab[i].name);
        if (strcmp(a->lab[i].name, DW_TSDB_METRIC_NAME) == 0)
            metric = a->lab[i].value;
    }
    if (!metric)
        return poison(a, DW_TSDB_EINVAL, "series without a metric name (%s)", DW_TSDB_METRIC_NAME);
    if (!dw_tsdb_metric_name_valid(metric))
        return poison(a, DW_TSDB_EINVAL, "invalid metric name \"%s\"", metric);
    for (size_t i = 0; i < m; i++) {
        a->lens[2 * i] = (uint32_t)strlen(a->lab[i].name);
        a->lens[2 * i + 1] = (uint32_t)strlen(a->lab[i].value);
    }
    return (long)m;
}

/* The labels of new series i, rebuilt from the arena into out. */
static void new_labels(const struct dw_tsdb_appender *a, size_t i, struct dw_label *out)
{
    const char *p = a->arena.data + a->news[i].off;
    for (size_t k = 0; k < a->news[i].n; k++) {
        out[k].name = p;
        p += strlen(p) + 1;
        out[k].value = p;
        p += strlen(p) + 1;
    }
}

static bool new_equal(const struct dw_tsdb_appender *a, size_t i, const struct dw_label *l,
                      size_t n)
{
    if (a->news[i].n != n)
        return false;
    const char *p = a->arena.data + a->news[i].off;
    for (size_t k = 0; k < n; k++) {
        if (strcmp(p, l[k].name) != 0)
            return false;
        p += strlen(p) + 1;
        if (strcmp(p, l[k].value) != 0)
            return false;
        p += strlen(p) + 1;
    }
    return true;
}

static void newmap_grow(struct dw_tsdb_appender *a)
{
    size_t ncap = a->newmap_cap ? a->newmap_cap * 2 : 64;
    uint32_t *map = dw_calloc(ncap, sizeof *map);
    for (size_t i = 0; i < a->nnew; i++) {
        size_t j = a->news[i].hash & (ncap - 1);
        while (map[j])
            j = (j + 1) & (ncap - 1);
        map[j] = (uint32_t)i + 1;
    }
    free(a->newmap);
    a->newmap = map;
    a->newmap_cap = ncap;
}

/* Index of the new series with these labels in this appender, adding it if needed. */
static uint32_t new_series_index(struct dw_tsdb_appender *a, const struct dw_label *l, size_t n,
                                 uint64_t hash)
{
    if ((a->nnew + 1) * 2 > a->newmap_cap)
        newmap_grow(a);
    size_t mask = a->newmap_cap - 1, j = hash & mask;
    for (; a->newmap[j]; j = (j + 1) & mask) {
        uint32_t i = a->newmap[j] - 1;
        if (a->news[i].hash == hash && new_equal(a, i, l, n))
            return i;
    }
    if (a->nnew == a->newcap)
        a->news = dw_grow(a->news, &a->newcap, a->nnew + 1, sizeof *a->news);
    struct newser *ns = &a->news[a->nnew];
    ns->hash = hash;
    ns->off = a->arena.len;
    ns->n = n;
    ns->s = NULL;
    for (size_t k = 0; k < n; k++) {
        dw_buf_append(&a->arena, l[k].name, strlen(l[k].name) + 1);
        dw_buf_append(&a->arena, l[k].value, strlen(l[k].value) + 1);
    }
    a->newmap[j] = (uint32_t)a->nnew + 1;
    return (uint32_t)a->nnew++;
}

static void hold(struct dw_tsdb_appender *a)
{
    if (!a->holder.active)
        dw_reclaim_enter(&a->db->head->reclaim, &a->holder);
}

static int check_count(struct dw_tsdb_appender *a)
{
    size_t max = a->db->o.max_samples_per_commit;
    if (a->n >= max)
        return poison(a, DW_TSDB_ELIMIT,
                      "more than %zu samples in one request (max_samples_per_commit)", max);
    return 0;
}

/*
 * Provisional references of series created at commit: bit 63, the
 * appender's generation (so a reference kept past commit or rollback is
 * refused, not misapplied) and the index in news.
 */
#define PENDING_REF (UINT64_C(1) << 63)

static uint64_t pending_ref(const struct dw_tsdb_appender *a, uint32_t idx)
{
    return PENDING_REF | (uint64_t)(a->gen & 0x7fffffffu) << 32 | idx;
}

static bool live_series(const struct dw_series *s)
{
    return s && !(atomic_load_explicit(&s->flags, memory_order_relaxed) & DW_SERIES_DEAD);
}

int dw_tsdb_appender_add(struct dw_tsdb_appender *a, const struct dw_label *labels, size_t n,
                         int64_t t, double v, uint64_t *ref)
{
    if (ref)
        *ref = 0;
    if (a->err)
        return a->err;
    int rc = check_count(a);
    if (rc)
        return rc;
    struct dw_head *h = a->db->head;
    hold(a);
    long m = quick_labels(a, labels, n);
    uint64_t hash = 0;
    if (m >= 0) {
        hash = dw_head_labels_hash(a->lab, a->lens, (size_t)m);
        struct dw_series *s = dw_head_find(h, a->lab, a->lens, (size_t)m, hash);
        if (live_series(s)) {
            if (ref)
                *ref = s->id;
            return push(a, s, 0, t, v);
        }
    }
    /* A new series (or a malformed request): now everything is checked. */
    bool known_absent = m >= 0;
    m = prepare_labels(a, labels, n);
    if (m < 0)
        return (int)m;
    if (!known_absent) {
        hash = dw_head_labels_hash(a->lab, a->lens, (size_t)m);
        struct dw_series *s = dw_head_find(h, a->lab, a->lens, (size_t)m, hash);
        if (live_series(s)) {
            if (ref)
                *ref = s->id;
            return push(a, s, 0, t, v);
        }
    }
    uint32_t idx = new_series_index(a, a->lab, (size_t)m, hash);
    if (ref)
        *ref = pending_ref(a, idx);
    return push(a, NULL, idx, t, v);
}

int dw_tsdb_appender_add_ref(struct dw_tsdb_appender *a, uint64_t ref, int64_t t, double v)
{
    if (a->err)
        return a->err;
    int rc = check_count(a);
    if (rc)
        return rc;
    if (ref & PENDING_REF) {
        uint32_t idx = (uint32_t)ref;
        if (ref != pending_ref(a, idx) || idx >= a->nnew)
            return DW_TSDB_EINVAL;
        return push(a, NULL, idx, t, v);
    }
    if (ref == 0 || ref >= UINT32_MAX)
        return DW_TSDB_EINVAL;
    hold(a);
    struct dw_series *s = dw_head_series(a->db->head, (uint32_t)ref);
    if (!live_series(s))
        return DW_TSDB_EINVAL;
    return push(a, s, 0, t, v);
}

/* ---- commit ---- */

/* Samples of series garbage-collected since they were added go to a new series. */
static void revive_dead(struct dw_tsdb_appender *a)
{
    struct dw_head *h = a->db->head;
    for (size_t i = 0; i < a->n; i++) {
        struct dw_series *s = a->p[i].s;
        if (!s || !(atomic_load(&s->flags) & DW_SERIES_DEAD))
            continue;
        if (s->nlabels > a->labcap)
            a->lab = dw_grow(a->lab, &a->labcap, s->nlabels, sizeof *a->lab);
        dw_head_series_labels(h, s, a->lab);
        a->p[i].nidx = new_series_index(a, a->lab, s->nlabels, dw_head_series_hash(h, s));
        a->p[i].s = NULL;
    }
}

static bool reserve_series(struct dw_tsdb_appender *a, uint64_t *cur)
{
    struct dw_head *h = a->db->head;
    *cur = atomic_load(&h->nseries);
    do {
        if (*cur + a->nnew > a->db->o.max_series)
            return false;
    } while (!atomic_compare_exchange_weak(&h->nseries, cur, *cur + a->nnew));
    return true;
}

/*
 * Creates the appender's new series; *created counts those that were really
 * new (others were created meanwhile by another commit). -1 when the id
 * space is exhausted.
 */
static int create_series(struct dw_tsdb_appender *a, size_t *created)
{
    struct dw_head *h = a->db->head;
    int rc = 0;
    *created = 0;
    struct dw_label *l = NULL;
    size_t lcap = 0;
    pthread_rwlock_wrlock(&h->ix.lock);
    for (size_t i = 0; i < a->nnew; i++) {
        l = dw_grow(l, &lcap, a->news[i].n, sizeof *l);
        new_labels(a, i, l);
        bool c;
        a->news[i].s = dw_head_get_or_create(h, l, a->news[i].n, a->news[i].hash, 0, &c);
        if (!a->news[i].s) {
            rc = -1;
            break;
        }
        *created += c;
    }
    pthread_rwlock_unlock(&h->ix.lock);
    free(l);
    return rc;
}

/* A series' labels in the WAL's form (strings owned by the symbol table). */
static void series_wal_labels(struct dw_head *h, const struct dw_series *s,
                              struct dw_tsdb_label *out)
{
    const uint8_t *p = s->labels;
    for (size_t j = 0; j < s->nlabels; j++) {
        uint32_t ns, vs;
        p = dw_series_syms_next(dw_series_syms_next(p, &ns), &vs);
        out[j] = (struct dw_tsdb_label){dw_index_str(&h->ix, ns), dw_index_str(&h->ix, vs)};
    }
}

/* Logs the definitions of the series this commit uses that are not in the WAL yet. */
static int log_series(struct dw_tsdb_appender *a)
{
    struct dw_head *h = a->db->head;
    size_t nu = 0, nl = 0;
    for (size_t i = 0; i < a->n; i++) {
        struct dw_series *s = a->p[i].s;
        if (atomic_load_explicit(&s->flags, memory_order_acquire) & DW_SERIES_LOGGED)
            continue;
        bool seen = false; /* few per commit: new series appear once per sample */
        for (size_t k = 0; k < nu && !seen; k++)
            seen = a->unlogged[k] == s;
        if (seen)
            continue;
        a->unlogged = dw_grow(a->unlogged, &a->unlogged_cap, nu + 1, sizeof *a->unlogged);
        a->unlogged[nu++] = s;
        nl += s->nlabels;
    }
    if (!nu)
        return 0;
    a->wser = dw_grow(a->wser, &a->wsercap, nu, sizeof *a->wser);
    a->wl = dw_grow(a->wl, &a->wlcap, nl, sizeof *a->wl);
    size_t off = 0;
    for (size_t k = 0; k < nu; k++) {
        struct dw_series *s = a->unlogged[k];
        struct dw_tsdb_label *wl = a->wl + off;
        series_wal_labels(h, s, wl);
        a->wser[k] = (struct dw_tsdb_wal_series){s->id, wl, s->nlabels};
        off += s->nlabels;
    }
    int rc = dw_tsdb_wal_log_series(a->db->wal, a->wser, nu);
    if (rc == 0)
        for (size_t k = 0; k < nu; k++)
            atomic_fetch_or(&a->unlogged[k]->flags, DW_SERIES_LOGGED);
    return rc;
}

/* Pre-checks every sample and logs those that may be stored as one batch. */
static int log_samples(struct dw_tsdb_appender *a)
{
    struct dw_head *h = a->db->head;
    if (a->n > a->wscap)
        a->ws = dw_grow(a->ws, &a->wscap, a->n, sizeof *a->ws);
    size_t k = 0;
    int64_t now = dw_now_ms(); /* store_samples reads it later: its bound is no stricter */
    for (size_t i = 0; i < a->n; i++) {
        if (i + PREFETCH_AHEAD < a->n)
            __builtin_prefetch(a->p[i + PREFETCH_AHEAD].s);
        struct pend *p = &a->p[i];
        p->status = (uint8_t)dw_head_precheck(h, p->s, p->t, p->v, now);
        if (p->status == DW_APPEND_OK)
            a->ws[k++] = (struct dw_tsdb_wal_sample){p->s->id, p->t, p->v};
    }
    return k ? dw_tsdb_wal_log_samples(a->db->wal, a->ws, k) : 0;
}

static void store_samples(struct dw_tsdb_appender *a, struct dw_tsdb_commit_result *res)
{
    struct dw_head *h = a->db->head;
    if (!a->enc)
        a->enc = dw_tsdb_blockenc_new();
    struct dw_append_acc acc;
    dw_append_acc_init(&acc);
    for (size_t i = 0; i < a->n; i++) {
        /* The series eight samples ahead, its chunk (pointer read from the
           by then cached series) four ahead. */
        if (i + PREFETCH_AHEAD < a->n)
            __builtin_prefetch(a->p[i + PREFETCH_AHEAD].s, 1);
        if (i + PREFETCH_AHEAD / 2 < a->n)
            __builtin_prefetch(
                atomic_load_explicit(&a->p[i + PREFETCH_AHEAD / 2].s->head, memory_order_relaxed));
        struct pend *p = &a->p[i];
        if (p->status == DW_APPEND_OK)
            dw_head_append(h, p->s, p->t, p->v, a->enc, &a->scratch, &acc);
        else
            acc.status[p->status]++;
    }
    dw_head_acc_publish(h, &acc);
    res->appended = acc.status[DW_APPEND_OK];
    res->redundant = acc.status[DW_APPEND_REDUNDANT];
    res->duplicate = acc.status[DW_APPEND_DUPLICATE];
    res->out_of_order = acc.status[DW_APPEND_OOO];
    res->out_of_bounds = acc.status[DW_APPEND_OOB];
}

void dw_tsdb_set_watch(struct dw_tsdb *db, dw_tsdb_watch_filter filter, dw_tsdb_watch_fn fn,
                       void *ctx)
{
    pthread_rwlock_wrlock(&db->gate); /* commits read the watch under the read lock */
    db->wfilter = filter;
    db->wctx = ctx;
    db->wfn = fn;
    pthread_rwlock_unlock(&db->gate);
}

void dw_tsdb_watch_reset(struct dw_tsdb *db)
{
    struct dw_idlist ids = {0};
    pthread_rwlock_rdlock(&db->gate);
    dw_head_all_ids(db->head, &ids);
    for (size_t i = 0; i < ids.n; i++)
        atomic_fetch_and(&dw_head_series(db->head, ids.ids[i])->flags,
                         (uint8_t) ~(DW_SERIES_WCHECKED | DW_SERIES_WATCHED));
    pthread_rwlock_unlock(&db->gate);
    free(ids.ids);
}

#define WATCH_MAX_NAMES 64

/* The watched names among the committed samples, handed to the watch. */
static void notify_watch(struct dw_tsdb_appender *a)
{
    struct dw_tsdb *db = a->db;
    const char *names[WATCH_MAX_NAMES];
    size_t n = 0;
    for (size_t i = 0; i < a->n; i++) {
        struct dw_series *s = a->p[i].s;
        uint8_t f = atomic_load_explicit(&s->flags, memory_order_relaxed);
        if (!(f & DW_SERIES_WCHECKED)) {
            const char *name = dw_head_series_name(db->head, s);
            bool w = db->wfilter ? db->wfilter(db->wctx, name) : true;
            f = DW_SERIES_WCHECKED | (w ? DW_SERIES_WATCHED : 0);
            atomic_fetch_or(&s->flags, f);
        }
        if (!(f & DW_SERIES_WATCHED) || a->p[i].status != DW_APPEND_OK)
            continue;
        const char *name = dw_head_series_name(db->head, s);
        size_t k = 0;
        while (k < n && names[k] != name) /* interned: one pointer per name */
            k++;
        if (k == n && n < WATCH_MAX_NAMES)
            names[n++] = name;
    }
    if (n)
        db->wfn(db->wctx, names, n);
}

static int fail_commit(struct dw_tsdb_appender *a, int rc, char **err, char *msg)
{
    if (err)
        *err = msg;
    else
        free(msg);
    atomic_fetch_add(&a->db->rejected, 1);
    reset(a);
    return rc;
}

int dw_tsdb_appender_commit(struct dw_tsdb_appender *a, struct dw_tsdb_commit_result *res,
                            char **err)
{
    struct dw_tsdb_commit_result dummy;
    if (!res)
        res = &dummy;
    memset(res, 0, sizeof *res);
    if (err)
        *err = NULL;
    if (a->err) {
        char *msg = a->errmsg;
        a->errmsg = NULL;
        return fail_commit(a, a->err, err, msg);
    }
    if (a->n == 0) {
        reset(a);
        return 0;
    }
    if (!dw_tsdb_is_loaded(a->db))
        return fail_commit(a, DW_TSDB_ELOADING, err,
                           dw_strdup("the time-series store is still loading (WAL replay)"));
    struct dw_tsdb *db = a->db;
    struct dw_head *h = db->head;
    pthread_rwlock_rdlock(&db->gate);
    revive_dead(a);
    uint64_t cur;
    if (!reserve_series(a, &cur)) {
        pthread_rwlock_unlock(&db->gate);
        return fail_commit(a, DW_TSDB_ELIMIT, err,
                           dw_asprintf("%zu new series would bring the head to %" PRIu64
                                       " series, the limit is %zu (max_series)",
                                       a->nnew, cur + a->nnew, db->o.max_series));
    }
    int rc = 0;
    if (a->nnew) {
        size_t created;
        int crc = create_series(a, &created);
        atomic_fetch_sub(&h->nseries, a->nnew - created); /* the unused reservation */
        if (crc < 0) {
            pthread_rwlock_unlock(&db->gate);
            return fail_commit(a, DW_TSDB_ELIMIT, err,
                               dw_strdup("series ids exhausted (2^32 series created)"));
        }
        res->new_series = created;
        for (size_t i = 0; i < a->n; i++)
            if (!a->p[i].s)
                a->p[i].s = a->news[a->p[i].nidx].s;
    }
    if ((rc = log_series(a)) == 0 && (rc = log_samples(a)) == 0) {
        store_samples(a, res);
        if (db->wfn)
            notify_watch(a);
    }
    pthread_rwlock_unlock(&db->gate);
    if (rc) {
        size_t created = res->new_series;
        memset(res, 0, sizeof *res);
        res->new_series = created;
        return fail_commit(a, rc, err,
                           dw_asprintf("cannot write the WAL: %s", dw_tsdb_strerror(rc)));
    }
    atomic_fetch_add(&db->commits, 1);
    reset(a);
    return 0;
}

/* ---- truncation and checkpoint ---- */

/* Writes the series (and every sample the head holds) into the checkpoint. */
static int write_checkpoint(struct dw_tsdb *db, struct dw_tsdb_wal_ckpt *ck)
{
    struct dw_head *h = db->head;
    struct dw_idlist ids = {0};
    dw_head_all_ids(h, &ids);
    struct dw_tsdb_wal_series *ws = dw_malloc(CKPT_BATCH * sizeof *ws);
    struct dw_tsdb_label *wl = NULL;
    size_t wlcap = 0;
    struct dw_tsdb_wal_sample *smp = dw_malloc(DW_TSDB_WAL_SAMPLES_PER_RECORD * sizeof *smp);
    struct dw_head_chunk_cursor *cur = dw_malloc(sizeof *cur);
    int rc = 0;
    for (size_t base = 0; rc == 0 && base < ids.n; base += CKPT_BATCH) {
        size_t nb = ids.n - base < CKPT_BATCH ? ids.n - base : CKPT_BATCH, nl = 0;
        for (size_t i = 0; i < nb; i++)
            nl += dw_head_series(h, ids.ids[base + i])->nlabels;
        wl = dw_grow(wl, &wlcap, nl, sizeof *wl);
        size_t off = 0;
        for (size_t i = 0; i < nb; i++) {
            struct dw_series *s = dw_head_series(h, ids.ids[base + i]);
            series_wal_labels(h, s, wl + off);
            ws[i] = (struct dw_tsdb_wal_series){s->id, wl + off, s->nlabels};
            off += s->nlabels;
        }
        rc = dw_tsdb_wal_ckpt_log_series(ck, ws, nb);
        size_t k = 0;
        for (size_t i = 0; rc == 0 && i < nb; i++) {
            struct dw_series *s = dw_head_series(h, ids.ids[base + i]);
            dw_head_cursor_begin(cur, h, s, INT64_MAX);
            size_t n;
            while (rc == 0 && dw_head_cursor_next(cur, INT64_MIN, &n)) {
                for (size_t j = 0; j < n; j++) {
                    smp[k++] = (struct dw_tsdb_wal_sample){s->id, cur->t[j], cur->v[j]};
                    if (k == DW_TSDB_WAL_SAMPLES_PER_RECORD) {
                        rc = dw_tsdb_wal_ckpt_log_samples(ck, smp, k);
                        k = 0;
                    }
                }
            }
        }
        if (rc == 0 && k)
            rc = dw_tsdb_wal_ckpt_log_samples(ck, smp, k);
    }
    free(cur);
    free(smp);
    free(wl);
    free(ws);
    dw_idlist_release(&ids);
    return rc;
}

int dw_tsdb_head_truncate(struct dw_tsdb *db, int64_t t, char **err)
{
    if (err)
        *err = NULL;
    if (!dw_tsdb_is_loaded(db))
        return DW_TSDB_ELOADING;
    struct dw_head *h = db->head;
    pthread_mutex_lock(&db->trunc_mu);
    pthread_rwlock_wrlock(&db->gate);
    uint32_t before = 0;
    int rc = dw_tsdb_wal_cut(db->wal, &before);
    size_t removed = dw_head_truncate(h, t);
    pthread_rwlock_unlock(&db->gate);

    struct dw_holder holder = {0};
    struct dw_tsdb_wal_ckpt *ck = NULL;
    if (rc == 0) {
        rc = dw_tsdb_wal_checkpoint_begin(db->wal, before, &ck);
        if (rc == DW_TSDB_EINVAL)
            rc = 0; /* nothing logged since the last checkpoint */
    }
    if (rc == 0 && ck) {
        dw_reclaim_enter(&h->reclaim, &holder);
        rc = write_checkpoint(db, ck);
        dw_reclaim_exit(&h->reclaim, &holder);
        if (rc == 0)
            rc = dw_tsdb_wal_checkpoint_commit(&ck);
        else
            dw_tsdb_wal_checkpoint_abort(&ck);
    }
    atomic_fetch_add(&db->truncations, 1);
    pthread_mutex_unlock(&db->trunc_mu);
    char t_s[24], removed_s[24];
    snprintf(t_s, sizeof t_s, "%" PRId64, t);
    snprintf(removed_s, sizeof removed_s, "%zu", removed);
    dw_log_kv(rc ? DW_LOG_ERROR : DW_LOG_INFO, LOG_COMPONENT, "head truncated", "before_ms", t_s,
              "series_removed", removed_s, "error", rc ? dw_tsdb_strerror(rc) : NULL, NULL);
    if (rc && err)
        *err = dw_asprintf("WAL checkpoint after truncating the head at %" PRId64 ": %s", t,
                           dw_tsdb_strerror(rc));
    return rc;
}

/* ---- statistics ---- */

size_t dw_tsdb_num_series(struct dw_tsdb *db)
{
    struct dw_head *h = db->head;
    pthread_rwlock_rdlock(&h->ix.lock);
    size_t n = h->ix.all.n;
    pthread_rwlock_unlock(&h->ix.lock);
    return n;
}

bool dw_tsdb_head_bounds(struct dw_tsdb *db, int64_t *mint, int64_t *maxt)
{
    int64_t lo = atomic_load(&db->head->min_time), hi = atomic_load(&db->head->max_time);
    if (lo == INT64_MAX || hi == INT64_MIN)
        return false;
    *mint = lo;
    *maxt = hi;
    return true;
}

void dw_tsdb_get_stats(struct dw_tsdb *db, struct dw_tsdb_stats *st)
{
    struct dw_head *h = db->head;
    memset(st, 0, sizeof *st);
    st->series = dw_tsdb_num_series(db);
    st->chunks = atomic_load(&h->nchunks);
    st->samples = atomic_load(&h->nsamples);
    st->chunk_bytes = atomic_load(&h->chunk_bytes);
    if (!dw_tsdb_head_bounds(db, &st->min_time, &st->max_time))
        st->min_time = st->max_time = 0;
    st->samples_appended = atomic_load(&h->appended);
    st->samples_redundant = atomic_load(&h->redundant);
    st->samples_out_of_order = atomic_load(&h->out_of_order);
    st->samples_duplicate = atomic_load(&h->duplicate);
    st->samples_out_of_bounds = atomic_load(&h->out_of_bounds);
    st->series_created = atomic_load(&h->created);
    st->series_removed = atomic_load(&h->removed);
    st->commits = atomic_load(&db->commits);
    st->commits_rejected = atomic_load(&db->rejected);
    st->truncations = atomic_load(&db->truncations);
    if (!dw_tsdb_is_loaded(db))
        return;
    dw_tsdb_wal_get_stats(db->wal, &st->wal);
    dw_tsdb_sources_stats(db, st);
    st->last_cut_ms = atomic_load(&db->last_cut_ms);
    st->last_block_maint_ms = atomic_load(&db->last_block_maint_ms);
    st->blocks_cut = atomic_load(&db->cuts);
    st->compactions = atomic_load(&db->compactions);
    st->blocks_downsampled = atomic_load(&db->downsampled);
    st->blocks_deleted = atomic_load(&db->deleted);
    st->maint_errors = atomic_load(&db->maint_errors);
}
