/*
 * blockwrite.c - the block writer: series in, DIR/<id>/ out.
 *
 * DESIGN: series arrive one at a time, in any order (a head cut sends them
 * in label order, the importer and the downsampler do not). Each series is
 * split into chunks, one per aligned window of chunk_range_ms (at most
 * DW_TSDB_BLOCK_MAX_CHUNK samples), encoded at once with the block encoding
 * and buffered. When the buffer reaches flush_bytes (and at commit) the
 * buffered chunks are sorted by (window, group key) and cut into pages of
 * about page_target raw bytes; zstd then compresses series that look alike
 * together: the group key puts a histogram's buckets, _sum and _count side
 * by side and neighbouring instances of one family next to each other.
 * Pages never mix windows, so a query of one window reads only its pages.
 * Memory is bounded by flush_bytes plus the index (proportional to series).
 *
 * Atomicity: everything goes to DIR/<id>.tmp/; commit fsyncs the chunks,
 * index and meta.json files and the directory, renames it to DIR/<id> and
 * fsyncs DIR. A crash before the rename leaves only a *.tmp directory,
 * which the block directory deletes at open.
 *
 * Threads: a writer belongs to one thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tsdb/block_internal.h"
#include "tsdb/tsdb_internal.h"

#define COMPONENT "tsdb.block"
#define FLUSH_DEFAULT (32u << 20)
#define PENDING_MAX (1u << 30) /* hard cap of the chunk buffer */

struct pending {
    int64_t window;
    size_t key; /* offset of the group key in w->keys */
    size_t off; /* encoded chunk in w->data */
    uint32_t len;
    uint32_t handle;
    uint32_t seq;
};

struct dw_tsdb_block_writer {
    char *dir, *tmp, *final;
    struct dw_tsdb_block_meta meta; /* id, range, resolution, level, sources; stats at commit */
    int64_t chunk_range;
    size_t page_target, flush_bytes;
    enum dw_tsdb_grouping grouping;
    int ck_fd;
    uint64_t ck_pos;
    struct dw_tsdb_ixb *ix;
    struct dw_tsdb_blockenc *enc;
    struct dw_tsdb_page_writer *pw;
    struct dw_buf data; /* encoded chunks waiting for a page */
    struct dw_buf keys; /* their group keys */
    struct dw_buf page; /* one finished page */
    struct pending *pend;
    size_t npend, pend_cap;
    uint32_t *slots; /* handles of the chunks in the page being built */
    size_t nslots, slots_cap;
    uint32_t seq;
    int failed; /* sticky I/O or limit error */
};

void dw_tsdb_block_wopts_init(struct dw_tsdb_block_wopts *o, int64_t mint, int64_t maxt)
{
    memset(o, 0, sizeof *o);
    o->mint = mint;
    o->maxt = maxt;
}

static int64_t default_chunk_range(int64_t res)
{
    if (res >= DW_TSDB_RES_1H)
        return 7 * 24 * 3600 * 1000LL;
    if (res >= DW_TSDB_RES_5M)
        return 24 * 3600 * 1000LL;
    return DW_TSDB_BLOCK_RANGE_DEFAULT;
}

static void writer_free(struct dw_tsdb_block_writer *w)
{
    if (w->ck_fd >= 0)
        close(w->ck_fd);
    dw_tsdb_ixb_free(&w->ix);
    dw_tsdb_blockenc_free(&w->enc);
    dw_tsdb_page_writer_free(&w->pw);
    dw_buf_release(&w->data);
    dw_buf_release(&w->keys);
    dw_buf_release(&w->page);
    free(w->pend);
    free(w->slots);
    dw_tsdb_block_meta_release(&w->meta);
    free(w->dir);
    free(w->tmp);
    free(w->final);
    free(w);
}

static const char *check_opts(const struct dw_tsdb_block_wopts *o)
{
    if (o->maxt <= o->mint)
        return "block range is empty";
    if (o->resolution_ms < 0 || o->chunk_range_ms < 0)
        return "negative resolution or chunk range";
    if (o->nsources > DW_TSDB_BLOCK_MAX_SOURCES)
        return "too many sources";
    for (size_t i = 0; i < o->nsources; i++)
        if (!dw_tsdb_block_id_valid(o->sources[i]))
            return "invalid source id";
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static void init_meta(struct dw_tsdb_block_writer *w, const struct dw_tsdb_block_wopts *o)
{
    struct dw_tsdb_block_meta *m = &w->meta;
    dw_tsdb_block_new_id(m->id);
    m->mint = o->mint;
    m->maxt = o->maxt;
    m->resolution_ms = o->resolution_ms;
    m->level = o->level ? o->level : 1;
    size_t n = o->sources ? o->nsources : 1;
    m->sources = dw_calloc(n + 1, sizeof *m->sources);
    if (o->sources)
        memcpy(m->sources, o->sources, n * sizeof *m->sources);
    else
        memcpy(m->sources[0], m->id, sizeof m->id);
    qsort(m->sources, n, sizeof *m->sources, cmp_id);
    m->nsources = 0;
    for (size_t i = 0; i < n; i++) /* unique */
        if (m->nsources == 0 || strcmp(m->sources[m->nsources - 1], m->sources[i]) != 0)
            memmove(m->sources[m->nsources++], m->sources[i], sizeof *m->sources);
}

static int write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return DW_TSDB_EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

struct dw_tsdb_block_writer *
dw_tsdb_block_writer_new(const char *dir, const struct dw_tsdb_block_wopts *o, char **err)
{
    const char *bad = check_opts(o);
    if (bad) {
        if (err)
            *err = dw_asprintf("block writer: %s", bad);
        return NULL;
    }
    struct dw_tsdb_block_writer *w = dw_calloc(1, sizeof *w);
    w->ck_fd = -1;
    w->dir = dw_strdup(dir);
    init_meta(w, o);
    w->chunk_range = o->chunk_range_ms ? o->chunk_range_ms : default_chunk_range(o->resolution_ms);
    w->page_target = o->page_target ? o->page_target : DW_TSDB_PAGE_TARGET;
    w->flush_bytes = o->flush_bytes ? o->flush_bytes : FLUSH_DEFAULT;
    w->grouping = o->grouping;
    w->tmp = dw_asprintf("%s/%s.tmp", dir, w->meta.id);
    w->final = dw_asprintf("%s/%s", dir, w->meta.id);
    dw_buf_init(&w->data, PENDING_MAX);
    dw_buf_init(&w->keys, PENDING_MAX);
    dw_buf_init(&w->page, 0);
    w->ix = dw_tsdb_ixb_new();
    w->enc = dw_tsdb_blockenc_new();
    w->pw = dw_tsdb_page_writer_new(o->zstd_level < 0 ? 0 : o->zstd_level ? o->zstd_level : 3);

    static const uint8_t hdr[DW_TSDB_CHUNKS_HEADER] = {'D', 'W', 'C', 'K', 1, 0, 0, 0};
    char *ck = dw_asprintf("%s/chunks", w->tmp);
    if ((mkdir(dir, 0755) < 0 && errno != EEXIST) || mkdir(w->tmp, 0755) < 0 ||
        (w->ck_fd = open(ck, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0 ||
        write_all(w->ck_fd, hdr, sizeof hdr) < 0) {
        if (err)
            *err = dw_asprintf("block writer: %s: %s", ck, strerror(errno));
        free(ck);
        dw_tsdb_rm_rf(w->tmp);
        writer_free(w);
        return NULL;
    }
    free(ck);
    w->ck_pos = sizeof hdr;
    return w;
}

size_t dw_tsdb_block_writer_series(const struct dw_tsdb_block_writer *w)
{
    return dw_tsdb_ixb_series_count(w->ix);
}

/* ---- pages ---- */

/* Writes the page being built and records where its chunks went. */
static int finish_page(struct dw_tsdb_block_writer *w)
{
    if (dw_tsdb_page_writer_count(w->pw) == 0)
        return 0;
    w->page.len = 0;
    if (dw_tsdb_page_writer_finish(w->pw, &w->page) < 0 || w->page.len > UINT32_MAX)
        return DW_TSDB_ELIMIT;
    if (write_all(w->ck_fd, w->page.data, w->page.len) < 0)
        return DW_TSDB_EIO;
    uint32_t crc = dw_tsdb_crc32c(0, w->page.data, w->page.len);
    uint32_t no = dw_tsdb_ixb_add_page(w->ix, w->ck_pos, (uint32_t)w->page.len, crc);
    for (size_t i = 0; i < w->nslots; i++)
        dw_tsdb_ixb_place_chunk(w->ix, w->slots[i], no, (uint32_t)i);
    w->nslots = 0;
    w->ck_pos += w->page.len;
    w->meta.npages++;
    return 0;
}

static int cmp_pending(const void *x, const void *y, void *ctx)
{
    const struct pending *a = x, *b = y;
    const struct dw_buf *keys = ctx;
    if (a->window != b->window)
        return a->window < b->window ? -1 : 1;
    int c = strcmp(keys->data + a->key, keys->data + b->key);
    if (c)
        return c;
    return (a->seq > b->seq) - (a->seq < b->seq);
}

/* Turns every buffered chunk into pages. */
static int flush(struct dw_tsdb_block_writer *w)
{
    if (w->npend == 0)
        return 0;
    qsort_r(w->pend, w->npend, sizeof *w->pend, cmp_pending, &w->keys);
    int rc = 0;
    int64_t window = w->pend[0].window;
    for (size_t i = 0; i < w->npend && rc == 0; i++) {
        const struct pending *p = &w->pend[i];
        if (p->window != window || dw_tsdb_page_writer_raw_size(w->pw) >= w->page_target)
            rc = finish_page(w);
        window = p->window;
        if (rc)
            break;
        long slot = dw_tsdb_page_writer_add(w->pw, (const uint8_t *)w->data.data + p->off, p->len);
        if (slot < 0) { /* the page is full: start another */
            rc = finish_page(w);
            slot =
                rc ? -1
                   : dw_tsdb_page_writer_add(w->pw, (const uint8_t *)w->data.data + p->off, p->len);
            if (slot < 0 && rc == 0)
                rc = DW_TSDB_ELIMIT;
        }
        w->slots = dw_grow(w->slots, &w->slots_cap, w->nslots + 1, sizeof *w->slots);
        w->slots[w->nslots++] = p->handle;
    }
    if (rc == 0)
        rc = finish_page(w);
    w->npend = 0;
    w->data.len = 0;
    w->keys.len = 0;
    return rc;
}

/* ---- adding series ---- */

static bool is_histogram_part(const char *name)
{
    return strcmp(name, "le") == 0 || strcmp(name, "quantile") == 0;
}

/* The metric family: the name without a histogram or summary suffix. */
static size_t family_len(const char *name)
{
    static const char *const sfx[] = {"_bucket", "_count", "_sum", "_created", "_gcount", "_gsum"};
    size_t n = strlen(name);
    for (size_t i = 0; i < DW_ARRAY_LEN(sfx); i++)
        if (dw_str_has_suffix(name, sfx[i]))
            return n - strlen(sfx[i]);
    return n;
}

/* Appends the series' group key (NUL-terminated) to w->keys; returns its offset. */
static size_t group_key(struct dw_tsdb_block_writer *w, const struct dw_label *l, size_t n)
{
    size_t off = w->keys.len;
    if (w->grouping == DW_TSDB_GROUP_FAMILY) {
        const char *name = dw_tsdb_labels_get(l, n, DW_TSDB_METRIC_NAME);
        if (name)
            dw_buf_append(&w->keys, name, family_len(name));
        dw_buf_putc(&w->keys, '\x01');
    }
    if (w->grouping != DW_TSDB_GROUP_NONE) {
        for (size_t i = 0; i < n; i++) {
            if (w->grouping == DW_TSDB_GROUP_FAMILY &&
                (strcmp(l[i].name, DW_TSDB_METRIC_NAME) == 0 || is_histogram_part(l[i].name)))
                continue;
            dw_buf_puts(&w->keys, l[i].name);
            dw_buf_putc(&w->keys, '\x01');
            dw_buf_puts(&w->keys, l[i].value);
            dw_buf_putc(&w->keys, '\x01');
        }
    }
    dw_buf_append(&w->keys, "", 1);
    return off;
}

static int check_labels(const struct dw_label *l, size_t n)
{
    if (n == 0)
        return DW_TSDB_EINVAL;
    if (n > DW_TSDB_BLOCK_MAX_LABELS)
        return DW_TSDB_ELIMIT;
    for (size_t i = 0; i < n; i++) {
        if (!l[i].name || !l[i].value || !l[i].value[0] || !dw_tsdb_label_name_valid(l[i].name))
            return DW_TSDB_EINVAL;
        if (strlen(l[i].name) > DW_TSDB_BLOCK_MAX_STRING ||
            strlen(l[i].value) > DW_TSDB_BLOCK_MAX_STRING)
            return DW_TSDB_ELIMIT;
        if (i && strcmp(l[i - 1].name, l[i].name) >= 0)
            return DW_TSDB_EINVAL; /* not sorted, or a name twice */
    }
    return 0;
}

static int check_samples(const struct dw_tsdb_block_writer *w, const int64_t *t, size_t n)
{
    if (t[0] < w->meta.mint || t[n - 1] >= w->meta.maxt)
        return DW_TSDB_EINVAL;
    for (size_t i = 1; i < n; i++)
        if (t[i] <= t[i - 1])
            return DW_TSDB_EORDER;
    return 0;
}

static int64_t window_of(int64_t t, int64_t range)
{
    int64_t q = t / range;
    if (t % range < 0)
        q--;
    return q * range;
}

/* Encodes one chunk of samples and queues it for a page. */
static int add_chunk(struct dw_tsdb_block_writer *w, uint32_t sid, int64_t window, size_t key,
                     const int64_t *t, const double *v, size_t n)
{
    uint32_t handle;
    size_t off = w->data.len;
    int rc = dw_tsdb_blockenc_encode(w->enc, t, v, n, &w->data);
    if (rc == 0)
        rc = dw_tsdb_ixb_add_chunk(w->ix, sid, t[0], t[n - 1], &handle);
    if (rc)
        return rc;
    w->pend = dw_grow(w->pend, &w->pend_cap, w->npend + 1, sizeof *w->pend);
    w->pend[w->npend++] = (struct pending){.window = window,
                                           .key = key,
                                           .off = off,
                                           .len = (uint32_t)(w->data.len - off),
                                           .handle = handle,
                                           .seq = w->seq++};
    w->meta.nchunks++;
    return 0;
}

int dw_tsdb_block_writer_add(struct dw_tsdb_block_writer *w, const struct dw_label *labels,
                             size_t nlabels, const int64_t *t, const double *v, size_t n)
{
    if (w->failed)
        return w->failed;
    if (n == 0)
        return 0;
    int rc = check_labels(labels, nlabels);
    if (rc == 0)
        rc = check_samples(w, t, n);
    uint32_t sid;
    if (rc == 0)
        rc = dw_tsdb_ixb_add_series(w->ix, labels, nlabels, &sid);
    if (rc)
        return rc;
    size_t key = group_key(w, labels, nlabels);
    for (size_t i = 0; i < n && rc == 0;) {
        int64_t win = window_of(t[i], w->chunk_range);
        size_t j = i + 1;
        while (j < n && j - i < DW_TSDB_BLOCK_MAX_CHUNK &&
               (uint64_t)t[j] - (uint64_t)win < (uint64_t)w->chunk_range)
            j++;
        rc = add_chunk(w, sid, win, key, t + i, v + i, j - i);
        i = j;
    }
    w->meta.nsamples += n;
    if (rc == 0 && w->data.len >= w->flush_bytes)
        rc = flush(w);
    if (rc)
        w->failed = rc == DW_TSDB_ELIMIT ? DW_TSDB_ELIMIT : DW_TSDB_EIO;
    return rc;
}

/* ---- commit ---- */

static int write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return DW_TSDB_EIO;
    int rc = write_all(fd, data, len);
    if (rc == 0 && fsync(fd) < 0)
        rc = DW_TSDB_EIO;
    close(fd);
    return rc;
}

static int write_index(struct dw_tsdb_block_writer *w, char **err)
{
    char *path = dw_asprintf("%s/index", w->tmp);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = fd < 0 ? DW_TSDB_EIO : 0;
    if (rc == 0)
        rc = dw_tsdb_ixb_write(w->ix, fd, w->meta.mint, &w->meta.index_bytes, err);
    if (rc == 0 && fsync(fd) < 0)
        rc = DW_TSDB_EIO;
    if (rc == DW_TSDB_EIO && err && !*err)
        *err = dw_asprintf("%s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(path);
    return rc;
}

static int commit_files(struct dw_tsdb_block_writer *w, char **err)
{
    int rc = flush(w);
    if (rc == 0 && fsync(w->ck_fd) < 0)
        rc = DW_TSDB_EIO;
    if (rc) {
        if (err)
            *err = dw_asprintf("%s/chunks: %s", w->tmp,
                               rc == DW_TSDB_EIO ? strerror(errno) : dw_tsdb_strerror(rc));
        return rc;
    }
    close(w->ck_fd);
    w->ck_fd = -1;
    w->meta.chunk_bytes = w->ck_pos;
    w->meta.nseries = dw_tsdb_ixb_series_count(w->ix);
    rc = write_index(w, err);
    if (rc)
        return rc;
    char *json = dw_tsdb_block_meta_json(&w->meta);
    char *path = dw_asprintf("%s/meta.json", w->tmp);
    rc = write_file(path, json, strlen(json));
    if (rc == 0)
        rc = dw_tsdb_fsync_path(w->tmp);
    if (rc == 0 && rename(w->tmp, w->final) < 0)
        rc = DW_TSDB_EIO;
    if (rc && err)
        *err = dw_asprintf("%s: %s", path, strerror(errno));
    if (rc == 0)
        rc = dw_tsdb_fsync_path(w->dir);
    free(json);
    free(path);
    return rc;
}

int dw_tsdb_block_writer_commit(struct dw_tsdb_block_writer **wp, struct dw_tsdb_block_meta *meta,
                                char **err)
{
    struct dw_tsdb_block_writer *w = *wp;
    *wp = NULL;
    if (meta)
        memset(meta, 0, sizeof *meta);
    int rc = w->failed;
    if (rc) {
        if (err)
            *err = dw_asprintf("block writer failed earlier: %s", dw_tsdb_strerror(rc));
    } else if (dw_tsdb_ixb_series_count(w->ix) == 0) {
        dw_tsdb_rm_rf(w->tmp); /* nothing to persist */
    } else {
        rc = commit_files(w, err);
        if (rc)
            dw_tsdb_rm_rf(w->tmp);
        else if (meta)
            dw_tsdb_block_meta_copy(meta, &w->meta);
    }
    if (rc == 0 && w->meta.nseries)
        dw_log_kv(DW_LOG_DEBUG, COMPONENT, "block written", "block", w->meta.id, NULL);
    writer_free(w);
    return rc;
}

void dw_tsdb_block_writer_abort(struct dw_tsdb_block_writer **wp)
{
    if (!wp || !*wp)
        return;
    dw_tsdb_rm_rf((*wp)->tmp);
    writer_free(*wp);
    *wp = NULL;
}

int dw_tsdb_block_write(const char *dir, const struct dw_tsdb_block_wopts *o,
                        const struct dw_tsdb_block_source *src, struct dw_tsdb_block_meta *meta,
                        char **err)
{
    struct dw_tsdb_block_writer *w = dw_tsdb_block_writer_new(dir, o, err);
    if (!w)
        return DW_TSDB_EIO;
    struct dw_tsdb_block_series s;
    int r;
    while ((r = src->next(src->ctx, &s)) > 0) {
        int rc = dw_tsdb_block_writer_add(w, s.labels, s.nlabels, s.t, s.v, s.n);
        if (rc) {
            if (err)
                *err = dw_asprintf("block writer: series rejected: %s", dw_tsdb_strerror(rc));
            dw_tsdb_block_writer_abort(&w);
            return rc;
        }
    }
    if (r < 0) {
        if (err)
            *err = dw_asprintf("block writer: the series source failed: %s", dw_tsdb_strerror(r));
        dw_tsdb_block_writer_abort(&w);
        return r;
    }
    return dw_tsdb_block_writer_commit(&w, meta, err);
}
