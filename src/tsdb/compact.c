/*
 * compact.c - the directory of blocks and compaction.
 *
 * DESIGN: the directory owns one reference per live block and hands out
 * referenced snapshots, so a block deleted by compaction or retention stays
 * mapped until its last reader lets go (Linux keeps deleted mappings valid).
 *
 * Compaction merges blocks of one resolution into one block of a larger
 * range: raw 2h -> 6h -> 24h (the block range x3, x12), downsampled 24h ->
 * 7d. First any blocks that overlap in time (backfill, an interrupted
 * import) are merged, whatever their ranges; then, per range, the blocks
 * inside one aligned window once the window is complete (its blocks reach
 * its end or a later block exists, so no more data is coming for it).
 * Merging walks every input's series in label order at once, merges the
 * samples of equal series by timestamp and writes a new block whose sources
 * are the union of the inputs' sources. Of two samples with one timestamp
 * the one of the newest input (greatest id: written last) stays, so a
 * re-import or correction written later wins; identical samples collapse.
 *
 * Crash safety: the merged block is committed (renamed into place) before
 * its inputs are deleted; each deletion renames the input to <id>.del.tmp
 * first, so a crash mid-delete leaves a *.tmp directory and never a partial
 * block. If the process dies between commit and deletion, the next open
 * finds inputs whose sources are all inside a block of a higher level and
 * deletes them. Leftover *.tmp directories are deleted at open.
 *
 * Threads: the block list is guarded by `mu`; maintenance (compaction,
 * downsampling, retention) is serialised by `maint` and does its I/O
 * without holding `mu`.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tsdb/block_internal.h"

#define COMPONENT "tsdb.block"
#define DAY_MS (24 * 3600 * 1000LL)

struct dw_tsdb_blockdir {
    char *dir;
    struct dw_tsdb_blockdir_opts o;
    pthread_mutex_t mu;
    struct dw_tsdb_block **blocks; /* one reference each */
    size_t n, cap;
    pthread_mutex_t maint;
};

/* ---- the block list ---- */

static int cmp_block(const void *x, const void *y)
{
    const struct dw_tsdb_block_meta *a = dw_tsdb_block_meta_of(*(struct dw_tsdb_block *const *)x);
    const struct dw_tsdb_block_meta *b = dw_tsdb_block_meta_of(*(struct dw_tsdb_block *const *)y);
    if (a->resolution_ms != b->resolution_ms)
        return a->resolution_ms < b->resolution_ms ? -1 : 1;
    if (a->mint != b->mint)
        return a->mint < b->mint ? -1 : 1;
    return strcmp(a->id, b->id);
}

static void list_insert(struct dw_tsdb_blockdir *d, struct dw_tsdb_block *b)
{
    pthread_mutex_lock(&d->mu);
    d->blocks = dw_grow(d->blocks, &d->cap, d->n + 1, sizeof *d->blocks);
    d->blocks[d->n++] = b;
    qsort(d->blocks, d->n, sizeof *d->blocks, cmp_block);
    pthread_mutex_unlock(&d->mu);
}

/* Removes the block with this id from the list; returns the list's reference or NULL. */
static struct dw_tsdb_block *list_take(struct dw_tsdb_blockdir *d, const char *id)
{
    struct dw_tsdb_block *b = NULL;
    pthread_mutex_lock(&d->mu);
    for (size_t i = 0; i < d->n; i++) {
        if (strcmp(dw_tsdb_block_meta_of(d->blocks[i])->id, id) == 0) {
            b = d->blocks[i];
            memmove(d->blocks + i, d->blocks + i + 1, (d->n - i - 1) * sizeof *d->blocks);
            d->n--;
            break;
        }
    }
    pthread_mutex_unlock(&d->mu);
    return b;
}

size_t dw_tsdb_blockdir_blocks(struct dw_tsdb_blockdir *d, int64_t resolution,
                               struct dw_tsdb_block ***out)
{
    pthread_mutex_lock(&d->mu);
    struct dw_tsdb_block **v = dw_malloc((d->n + 1) * sizeof *v);
    size_t n = 0, k = 0;
    for (size_t i = 0; i < d->n; i++) {
        struct dw_tsdb_block *b = d->blocks[i];
        if (dw_tsdb_block_is_corrupt(b)) {
            dw_tsdb_block_unref(&b); /* already quarantined: drop it */
            continue;
        }
        d->blocks[k++] = b;
        if (resolution < 0 || dw_tsdb_block_meta_of(b)->resolution_ms == resolution) {
            dw_tsdb_block_ref(b);
            v[n++] = b;
        }
    }
    d->n = k;
    pthread_mutex_unlock(&d->mu);
    *out = v;
    return n;
}

void dw_tsdb_blocks_release(struct dw_tsdb_block **blocks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dw_tsdb_block_unref(&blocks[i]);
    free(blocks);
}

const char *dw_tsdb_blockdir_path(const struct dw_tsdb_blockdir *d)
{
    return d->dir;
}

const struct dw_tsdb_blockdir_opts *dw_tsdb_blockdir_opts_of(const struct dw_tsdb_blockdir *d)
{
    return &d->o;
}

bool dw_tsdb_blockdir_max_time(struct dw_tsdb_blockdir *d, int64_t *maxt)
{
    bool found = false;
    pthread_mutex_lock(&d->mu);
    for (size_t i = 0; i < d->n; i++) {
        const struct dw_tsdb_block_meta *m = dw_tsdb_block_meta_of(d->blocks[i]);
        if (m->resolution_ms == 0 && (!found || m->maxt > *maxt)) {
            *maxt = m->maxt;
            found = true;
        }
    }
    pthread_mutex_unlock(&d->mu);
    return found;
}

/* Deletes dir/<id>: rename to <id>.del.tmp (atomic), then remove the tree. */
static int delete_dir(const char *dir, const char *id)
{
    char *from = dw_asprintf("%s/%s", dir, id), *to = dw_asprintf("%s/%s.del.tmp", dir, id);
    int rc = rename(from, to) == 0 ? 0 : -1;
    if (rc == 0) {
        dw_tsdb_fsync_path(dir);
        rc = dw_tsdb_rm_rf(to);
    } else {
        dw_log_kv(DW_LOG_ERROR, COMPONENT, "cannot delete block", "block", id, "error",
                  strerror(errno), NULL);
    }
    free(from);
    free(to);
    return rc;
}

int dw_tsdb_blockdir_delete(struct dw_tsdb_blockdir *d, const char *id, const char *why)
{
    struct dw_tsdb_block *b = list_take(d, id);
    if (!b)
        return DW_TSDB_EINVAL;
    /* compaction inputs are routine (the merge is logged); retention and repairs are news */
    dw_log_kv(strcmp(why, "compacted") == 0 ? DW_LOG_DEBUG : DW_LOG_INFO, COMPONENT,
              "deleting block", "block", id, "reason", why, NULL);
    int rc = delete_dir(d->dir, id);
    dw_tsdb_block_unref(&b); /* readers keep their own references and mappings */
    return rc ? DW_TSDB_EIO : 0;
}

/* Opens dir/<id>; a corrupt block is quarantined. 0, EIO or ECORRUPT. */
static int open_one(struct dw_tsdb_blockdir *d, const char *id, char **err)
{
    char *path = dw_asprintf("%s/%s", d->dir, id), *e = NULL;
    struct dw_tsdb_block *b;
    struct dw_tsdb_block_ropts ro = {.verify_chunks = d->o.verify_chunks};
    int rc = dw_tsdb_block_open(path, &ro, &b, &e);
    if (rc == 0)
        list_insert(d, b);
    else if (rc == DW_TSDB_ECORRUPT)
        dw_tsdb_block_quarantine(d->dir, id, e);
    else
        dw_log_kv(DW_LOG_ERROR, COMPONENT, "cannot open block", "block", id, "error", e, NULL);
    if (rc && err)
        *err = dw_asprintf("block %s: %s", id, e);
    free(e);
    free(path);
    return rc;
}

int dw_tsdb_blockdir_add(struct dw_tsdb_blockdir *d, const char *id, char **err)
{
    return open_one(d, id, err);
}

/* ---- open ---- */

/* A leftover of an interrupted write or delete: "<id>.tmp", "<id>.del.tmp". */
static bool is_tmp_name(const char *name)
{
    char id[DW_TSDB_BLOCK_ID_LEN + 1];
    if (strlen(name) <= DW_TSDB_BLOCK_ID_LEN || name[DW_TSDB_BLOCK_ID_LEN] != '.' ||
        !dw_str_has_suffix(name, ".tmp"))
        return false;
    memcpy(id, name, DW_TSDB_BLOCK_ID_LEN);
    id[DW_TSDB_BLOCK_ID_LEN] = '\0';
    return dw_tsdb_block_id_valid(id);
}

static int scan(struct dw_tsdb_blockdir *d, char **err)
{
    DIR *dh = opendir(d->dir);
    if (!dh) {
        if (err)
            *err = dw_asprintf("%s: %s", d->dir, strerror(errno));
        return DW_TSDB_EIO;
    }
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        char *path = dw_asprintf("%s/%s", d->dir, de->d_name);
        struct stat sb;
        bool isdir = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
        if (isdir && is_tmp_name(de->d_name)) {
            dw_log_kv(DW_LOG_INFO, COMPONENT, "deleting leftover temporary directory", "path", path,
                      NULL);
            dw_tsdb_rm_rf(path);
        } else if (isdir && dw_tsdb_block_id_valid(de->d_name)) {
            open_one(d, de->d_name, NULL);
        }
        free(path);
    }
    closedir(dh);
    return 0;
}

/* True when every id of a (sorted) is in b (sorted). */
static bool sources_subset(const struct dw_tsdb_block_meta *a, const struct dw_tsdb_block_meta *b)
{
    size_t j = 0;
    for (size_t i = 0; i < a->nsources; i++) {
        while (j < b->nsources && strcmp(b->sources[j], a->sources[i]) < 0)
            j++;
        if (j == b->nsources || strcmp(b->sources[j], a->sources[i]) != 0)
            return false;
    }
    return true;
}

/* Deletes blocks already merged into a block of a higher level (crash after a compaction). */
static void drop_superseded(struct dw_tsdb_blockdir *d)
{
    struct dw_tsdb_block **v;
    size_t n = dw_tsdb_blockdir_blocks(d, -1, &v);
    for (size_t i = 0; i < n; i++) {
        const struct dw_tsdb_block_meta *a = dw_tsdb_block_meta_of(v[i]);
        for (size_t j = 0; j < n; j++) {
            const struct dw_tsdb_block_meta *b = dw_tsdb_block_meta_of(v[j]);
            if (i != j && a->resolution_ms == b->resolution_ms && b->level > a->level &&
                sources_subset(a, b)) {
                dw_tsdb_blockdir_delete(d, a->id, "superseded by a compacted block");
                break;
            }
        }
    }
    dw_tsdb_blocks_release(v, n);
}

struct dw_tsdb_blockdir *dw_tsdb_blockdir_open(const char *dir,
                                               const struct dw_tsdb_blockdir_opts *o, char **err)
{
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        if (err)
            *err = dw_asprintf("%s: %s", dir, strerror(errno));
        return NULL;
    }
    struct dw_tsdb_blockdir *d = dw_calloc(1, sizeof *d);
    d->dir = dw_strdup(dir);
    if (o)
        d->o = *o;
    if (d->o.block_range_ms <= 0)
        d->o.block_range_ms = DW_TSDB_BLOCK_RANGE_DEFAULT;
    if (d->o.retention_ms <= 0)
        d->o.retention_ms = 90 * DAY_MS;
    if (d->o.ds_retention_ms <= 0)
        d->o.ds_retention_ms = 365 * DAY_MS;
    pthread_mutex_init(&d->mu, NULL);
    pthread_mutex_init(&d->maint, NULL);
    if (scan(d, err)) {
        dw_tsdb_blockdir_free(&d);
        return NULL;
    }
    drop_superseded(d);
    return d;
}

void dw_tsdb_blockdir_free(struct dw_tsdb_blockdir **dp)
{
    if (!dp || !*dp)
        return;
    struct dw_tsdb_blockdir *d = *dp;
    for (size_t i = 0; i < d->n; i++)
        dw_tsdb_block_unref(&d->blocks[i]);
    free(d->blocks);
    pthread_mutex_destroy(&d->mu);
    pthread_mutex_destroy(&d->maint);
    free(d->dir);
    free(d);
    *dp = NULL;
}

/* ---- planning ---- */

static int64_t floor_div(int64_t t, int64_t r)
{
    int64_t q = t / r;
    return t % r < 0 ? q - 1 : q;
}

static void plan_set(struct dw_tsdb_compact_plan *p, size_t from, size_t to)
{
    p->n = to - from;
    p->idx = dw_malloc(p->n * sizeof *p->idx);
    for (size_t i = 0; i < p->n; i++)
        p->idx[i] = from + i;
}

/* The first run of blocks that overlap in time (transitively). */
static bool plan_overlap(const struct dw_tsdb_block_meta *const *m, size_t n,
                         struct dw_tsdb_compact_plan *p)
{
    size_t start = 0;
    int64_t end = n ? m[0]->maxt : 0;
    for (size_t i = 1; i <= n; i++) {
        if (i < n && m[i]->mint < end) {
            if (m[i]->maxt > end)
                end = m[i]->maxt;
            continue;
        }
        if (i - start >= 2) {
            plan_set(p, start, i);
            return true;
        }
        if (i < n) {
            start = i;
            end = m[i]->maxt;
        }
    }
    return false;
}

/* The first complete window of range r holding two or more blocks. */
static bool plan_range(const struct dw_tsdb_block_meta *const *m, size_t n, int64_t r,
                       struct dw_tsdb_compact_plan *p)
{
    int64_t newest = INT64_MIN;
    for (size_t i = 0; i < n; i++)
        if (m[i]->mint > newest)
            newest = m[i]->mint;
    for (size_t i = 0; i < n;) {
        int64_t w = floor_div(m[i]->mint, r) * r;
        int64_t wend = w > INT64_MAX - r ? INT64_MAX : w + r;
        size_t j = i;
        while (j < n && m[j]->mint >= w && m[j]->maxt <= wend)
            j++;
        if (j == i) { /* m[i] straddles the window: it stays as it is */
            i++;
            continue;
        }
        bool complete = m[j - 1]->maxt == wend || newest >= wend;
        if (j - i >= 2 && complete) {
            plan_set(p, i, j);
            return true;
        }
        i = j;
    }
    return false;
}

bool dw_tsdb_compact_plan(const struct dw_tsdb_block_meta *const *metas, size_t n,
                          const int64_t *ranges, size_t nranges, struct dw_tsdb_compact_plan *plan)
{
    plan->idx = NULL;
    plan->n = 0;
    if (plan_overlap(metas, n, plan))
        return true;
    for (size_t k = 1; k < nranges; k++)
        if (ranges[k] > 0 && plan_range(metas, n, ranges[k], plan))
            return true;
    return false;
}

size_t dw_tsdb_compact_ranges(const struct dw_tsdb_blockdir *d, int64_t resolution,
                              int64_t ranges[3])
{
    if (resolution == 0) {
        ranges[0] = d->o.block_range_ms;
        ranges[1] = 3 * d->o.block_range_ms;
        ranges[2] = 12 * d->o.block_range_ms;
        return 3;
    }
    ranges[0] = DW_TSDB_DS_RANGE_DEFAULT;
    ranges[1] = 7 * DW_TSDB_DS_RANGE_DEFAULT;
    return 2;
}

/* ---- merging ---- */

struct merge_in {
    struct dw_tsdb_block_cursor *c;
    bool live;
};

struct samples {
    int64_t *t;
    double *v;
    size_t n, cap;
};

static void samples_reserve(struct samples *s, size_t n)
{
    if (n <= s->cap)
        return;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < n)
        cap *= 2;
    s->t = dw_realloc(s->t, cap * sizeof *s->t);
    s->v = dw_realloc(s->v, cap * sizeof *s->v);
    s->cap = cap;
}

static void samples_release(struct samples *s)
{
    free(s->t);
    free(s->v);
}

/* Reads the cursor's current series into s. */
static int read_series(struct dw_tsdb_block_cursor *c, struct samples *s)
{
    const int64_t *t;
    const double *v;
    size_t n;
    s->n = 0;
    while (dw_tsdb_block_cursor_batch(c, INT64_MIN, &t, &v, &n)) {
        samples_reserve(s, s->n + n);
        memcpy(s->t + s->n, t, n * sizeof *t);
        memcpy(s->v + s->n, v, n * sizeof *v);
        s->n += n;
    }
    return dw_tsdb_block_cursor_err(c);
}

/* out := acc merged with add by timestamp; acc (the newer input) wins on equal timestamps. */
static void merge_into(const struct samples *acc, const struct samples *add, struct samples *out)
{
    samples_reserve(out, acc->n + add->n);
    size_t i = 0, j = 0, k = 0;
    while (i < acc->n || j < add->n) {
        if (j >= add->n || (i < acc->n && acc->t[i] <= add->t[j])) {
            if (j < add->n && acc->t[i] == add->t[j])
                j++; /* duplicate timestamp: keep the newer input's sample */
            out->t[k] = acc->t[i];
            out->v[k++] = acc->v[i++];
        } else {
            out->t[k] = add->t[j];
            out->v[k++] = add->v[j++];
        }
    }
    out->n = k;
}

struct merge_state {
    struct merge_in *in;
    size_t *order; /* input indexes, newest block first */
    size_t n;
    struct samples acc, one, tmp;
    struct dw_label *labels; /* copy of the current series' labels */
    size_t lcap;
};

/* Merges the series with the smallest labels from every input that has it. */
static int merge_step(struct merge_state *st, struct dw_tsdb_block_writer *w)
{
    size_t nl = 0, best = SIZE_MAX;
    const struct dw_label *bl = NULL;
    for (size_t i = 0; i < st->n; i++) {
        if (!st->in[i].live)
            continue;
        size_t n;
        const struct dw_label *l = dw_tsdb_block_cursor_labels(st->in[i].c, &n);
        if (best == SIZE_MAX || dw_tsdb_labels_cmp(l, n, bl, nl) < 0) {
            best = i;
            bl = l;
            nl = n;
        }
    }
    st->labels = dw_grow(st->labels, &st->lcap, nl + 1, sizeof *st->labels);
    memcpy(st->labels, bl, nl * sizeof *bl);
    st->acc.n = 0;
    int rc = 0;
    for (size_t k = 0; k < st->n && rc == 0; k++) {
        size_t n, i = st->order[k];
        const struct dw_label *l =
            st->in[i].live ? dw_tsdb_block_cursor_labels(st->in[i].c, &n) : NULL;
        if (!l || dw_tsdb_labels_cmp(l, n, st->labels, nl) != 0)
            continue;
        rc = read_series(st->in[i].c, &st->one);
        merge_into(&st->acc, &st->one, &st->tmp);
        struct samples t = st->acc;
        st->acc = st->tmp;
        st->tmp = t;
    }
    if (rc == 0)
        rc = dw_tsdb_block_writer_add(w, st->labels, nl, st->acc.t, st->acc.v, st->acc.n);
    /* Advance only after the add: the labels point into the inputs' indexes. */
    for (size_t i = 0; i < st->n; i++) {
        size_t n;
        if (!st->in[i].live)
            continue;
        const struct dw_label *l = dw_tsdb_block_cursor_labels(st->in[i].c, &n);
        if (dw_tsdb_labels_cmp(l, n, st->labels, nl) == 0)
            st->in[i].live = dw_tsdb_block_cursor_next(st->in[i].c);
    }
    return rc;
}

static void merge_opts(struct dw_tsdb_block *const *blocks, size_t n, int zstd_level,
                       struct dw_tsdb_block_wopts *o, dw_tsdb_block_id **sources)
{
    const struct dw_tsdb_block_meta *m0 = dw_tsdb_block_meta_of(blocks[0]);
    dw_tsdb_block_wopts_init(o, m0->mint, m0->maxt);
    o->resolution_ms = m0->resolution_ms;
    o->zstd_level = zstd_level;
    size_t ns = 0;
    for (size_t i = 0; i < n; i++)
        ns += dw_tsdb_block_meta_of(blocks[i])->nsources;
    *sources = dw_calloc(ns + 1, sizeof **sources);
    ns = 0;
    for (size_t i = 0; i < n; i++) {
        const struct dw_tsdb_block_meta *m = dw_tsdb_block_meta_of(blocks[i]);
        if (m->mint < o->mint)
            o->mint = m->mint;
        if (m->maxt > o->maxt)
            o->maxt = m->maxt;
        if (m->level + 1 > o->level)
            o->level = m->level + 1;
        memcpy(*sources + ns, m->sources, m->nsources * sizeof *m->sources);
        ns += m->nsources;
    }
    o->sources = *sources; /* the writer sorts and deduplicates */
    o->nsources = ns;
}

int dw_tsdb_blocks_merge(const char *dir, struct dw_tsdb_block *const *blocks, size_t n,
                         int zstd_level, struct dw_tsdb_block_meta *meta, char **err)
{
    if (meta)
        memset(meta, 0, sizeof *meta);
    if (n == 0)
        return DW_TSDB_EINVAL;
    struct dw_tsdb_block_wopts o;
    dw_tsdb_block_id *sources;
    merge_opts(blocks, n, zstd_level, &o, &sources);
    struct dw_tsdb_block_writer *w = dw_tsdb_block_writer_new(dir, &o, err);
    free(sources);
    if (!w)
        return DW_TSDB_EIO;
    struct merge_state st = {.in = dw_calloc(n, sizeof *st.in), .n = n};
    st.order = dw_malloc(n * sizeof *st.order);
    for (size_t i = 0; i < n; i++) { /* insertion sort by id, newest first */
        size_t j = i;
        while (j > 0 && strcmp(dw_tsdb_block_meta_of(blocks[st.order[j - 1]])->id,
                               dw_tsdb_block_meta_of(blocks[i])->id) < 0) {
            st.order[j] = st.order[j - 1];
            j--;
        }
        st.order[j] = i;
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        st.in[i].c = dw_tsdb_block_select(blocks[i], NULL, 0, INT64_MIN, INT64_MAX);
        st.in[i].live = dw_tsdb_block_cursor_next(st.in[i].c);
    }
    for (;;) {
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = dw_tsdb_block_cursor_err(st.in[i].c);
        bool any = false;
        for (size_t i = 0; i < n; i++)
            any |= st.in[i].live;
        if (rc || !any)
            break;
        rc = merge_step(&st, w);
    }
    for (size_t i = 0; i < n; i++)
        dw_tsdb_block_cursor_free(&st.in[i].c);
    free(st.in);
    free(st.order);
    free(st.labels);
    samples_release(&st.acc);
    samples_release(&st.one);
    samples_release(&st.tmp);
    if (rc) {
        if (err)
            *err = dw_asprintf("merging blocks: %s", dw_tsdb_strerror(rc));
        dw_tsdb_block_writer_abort(&w);
        return rc;
    }
    return dw_tsdb_block_writer_commit(&w, meta, err);
}

/* Merges one planned group, adds the result, deletes the inputs. */
static int compact_group(struct dw_tsdb_blockdir *d, struct dw_tsdb_block *const *group, size_t n,
                         char **err)
{
    struct dw_tsdb_block_meta m;
    int rc = dw_tsdb_blocks_merge(d->dir, group, n, d->o.zstd_level, &m, err);
    if (rc == 0 && m.id[0])
        rc = dw_tsdb_blockdir_add(d, m.id, err);
    if (rc == 0) {
        char inputs[24], level[24], res[24], range[64], mint[32];
        snprintf(inputs, sizeof inputs, "%zu", n);
        snprintf(level, sizeof level, "%u", m.level);
        snprintf(res, sizeof res, "%lld", (long long)m.resolution_ms);
        dw_format_rfc3339(m.mint, mint, sizeof mint);
        dw_format_duration(m.maxt - m.mint, range, sizeof range);
        dw_log_kv(DW_LOG_INFO, COMPONENT, "compacted blocks", "block", m.id[0] ? m.id : "(empty)",
                  "inputs", inputs, "level", level, "resolution_ms", res, "mint", mint, "range",
                  range, NULL);
        for (size_t i = 0; i < n; i++)
            dw_tsdb_blockdir_delete(d, dw_tsdb_block_meta_of(group[i])->id, "compacted");
    }
    dw_tsdb_block_meta_release(&m);
    return rc;
}

/* One planning round for a resolution; *did tells whether a merge ran. */
static int compact_once(struct dw_tsdb_blockdir *d, int64_t res, bool *did, char **err)
{
    *did = false;
    struct dw_tsdb_block **v;
    size_t n = dw_tsdb_blockdir_blocks(d, res, &v);
    const struct dw_tsdb_block_meta **metas = dw_malloc((n + 1) * sizeof *metas);
    for (size_t i = 0; i < n; i++)
        metas[i] = dw_tsdb_block_meta_of(v[i]);
    int64_t ranges[3];
    size_t nr = dw_tsdb_compact_ranges(d, res, ranges);
    struct dw_tsdb_compact_plan p;
    int rc = 0;
    if (dw_tsdb_compact_plan(metas, n, ranges, nr, &p)) {
        struct dw_tsdb_block **group = dw_malloc(p.n * sizeof *group);
        for (size_t i = 0; i < p.n; i++)
            group[i] = v[p.idx[i]];
        rc = compact_group(d, group, p.n, err);
        free(group);
        free(p.idx);
        *did = rc == 0;
    }
    free(metas);
    dw_tsdb_blocks_release(v, n);
    return rc;
}

int dw_tsdb_blockdir_compact_res(struct dw_tsdb_blockdir *d, int64_t res, size_t *done, char **err)
{
    bool did = true;
    int rc = 0;
    while (did && rc == 0) {
        rc = compact_once(d, res, &did, err);
        if (did && done)
            (*done)++;
    }
    return rc;
}

int dw_tsdb_blockdir_compact(struct dw_tsdb_blockdir *d, size_t *done, char **err)
{
    pthread_mutex_lock(&d->maint);
    if (done)
        *done = 0;
    static const int64_t res[] = {0, DW_TSDB_RES_5M, DW_TSDB_RES_1H};
    int rc = 0;
    for (size_t i = 0; i < DW_ARRAY_LEN(res) && rc == 0; i++)
        rc = dw_tsdb_blockdir_compact_res(d, res[i], done, err);
    pthread_mutex_unlock(&d->maint);
    return rc;
}

int dw_tsdb_blockdir_maintain_at(struct dw_tsdb_blockdir *d, int64_t now,
                                 struct dw_tsdb_blockdir_maint_stats *st, char **err)
{
    struct dw_tsdb_blockdir_maint_stats dummy;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof *st);
    pthread_mutex_lock(&d->maint);
    int rc = dw_tsdb_blockdir_compact_res(d, 0, &st->compactions, err);
    if (rc == 0 && !d->o.no_downsample)
        rc = dw_tsdb_blockdir_downsample_locked(d, now, &st->downsampled, err);
    if (rc == 0)
        rc = dw_tsdb_blockdir_compact_res(d, DW_TSDB_RES_5M, &st->compactions, err);
    if (rc == 0)
        rc = dw_tsdb_blockdir_compact_res(d, DW_TSDB_RES_1H, &st->compactions, err);
    st->deleted = dw_tsdb_blockdir_retention_locked(d, now);
    pthread_mutex_unlock(&d->maint);
    return rc;
}

int dw_tsdb_blockdir_maintain(struct dw_tsdb_blockdir *d, char **err)
{
    return dw_tsdb_blockdir_maintain_at(d, dw_now_ms(), NULL, err);
}

void dw_tsdb_blockdir_lock(struct dw_tsdb_blockdir *d)
{
    pthread_mutex_lock(&d->maint);
}

void dw_tsdb_blockdir_unlock(struct dw_tsdb_blockdir *d)
{
    pthread_mutex_unlock(&d->maint);
}
