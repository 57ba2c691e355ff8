/*
 * wal.c - the write-ahead log writer: group commit, fsync policies,
 * segment rotation, truncation and checkpoints.
 *
 * DESIGN: appenders encode their records outside any lock (walrec.c), then
 * under `mu` copy them into `buf`, the bytes waiting for write(). At most
 * one thread at a time does I/O (the "I/O holder", flag io_busy): it swaps
 * `buf` with the empty `inflight` buffer, drops the lock, writes and maybe
 * fdatasyncs, then retakes the lock and publishes how far the log is
 * written and synced (byte positions lsn_written, lsn_synced). Appenders
 * never wait for another appender's I/O except when they must: the buffer
 * is full, the segment must be rotated, or the policy is ALWAYS.
 *
 * Group commit (ALWAYS): an appender waits until lsn_synced covers its own
 * record; if nobody is doing I/O it becomes the I/O holder and its one
 * fdatasync covers every record appended before it swapped the buffer, so
 * concurrent appenders share fsyncs.
 *
 * INTERVAL and NEVER: with write_before_ack (the default) an appender waits
 * until its bytes were handed to the kernel by a grouped write(), so a
 * process crash loses nothing acknowledged; a background thread wakes every
 * fsync_interval_ms (through dw_clock_sleep_until, so tests drive it with
 * the manual clock) and fdatasyncs for INTERVAL (and writes what is still
 * buffered when write_before_ack is off).
 *
 * Ordering: records reach the file in the order appenders copied them into
 * `buf` (the order of their lsn). A record never spans segments: an append
 * that would push the segment past segment_max_bytes first rotates (a batch
 * larger than a whole segment gets a segment of its own). Rotation fsyncs
 * the finished segment and the directory under every policy (once per
 * segment, so NEVER stays cheap), so every closed segment is durable.
 *
 * Errors: a failed write or fsync leaves the log in an unknown state (the
 * kernel may have dropped dirty pages), so the writer becomes failed for
 * good: every later call returns DW_TSDB_ECLOSED and the head must stop
 * acknowledging writes. The failure is logged once with errno.
 *
 * Threads: every exported function is thread-safe except open and close;
 * the flusher thread is internal.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tsdb/tsdb.h"
#include "tsdb/tsdb_internal.h"

#define LOG_COMPONENT "tsdb.wal"

struct dw_tsdb_wal {
    char *dir; /* heap */
    struct dw_tsdb_wal_opts o;
    pthread_mutex_t mu;
    pthread_cond_t cv;         /* io_busy cleared, lsn moved */
    struct dw_buf buf;         /* records not yet handed to write(); segment `seg` */
    struct dw_buf inflight;    /* owned by the I/O holder while io_busy */
    uint32_t seg;              /* segment that receives `buf` */
    uint64_t seg_bytes;        /* that segment's bytes: on disk, in flight and buffered */
    uint32_t first_seg;        /* oldest segment on disk */
    uint32_t ckpt;             /* checkpoint on disk, 0 when none */
    int fd;                    /* file being written; only the I/O holder touches it */
    bool io_busy;
    uint64_t lsn_logged;       /* bytes appended since open */
    uint64_t lsn_written;      /* ... handed to write() */
    uint64_t lsn_synced;       /* ... known durable */
    uint64_t records, writes, fsyncs;
    int err;                   /* sticky: DW_TSDB_ECLOSED after an I/O error */
    pthread_t thread;
    bool has_thread;
    int64_t next_tick_ms;      /* first flusher deadline, fixed at open */
    atomic_bool stop;
};

void dw_tsdb_wal_opts_init(struct dw_tsdb_wal_opts *o)
{
    memset(o, 0, sizeof *o);
    o->fsync = DW_TSDB_FSYNC_INTERVAL;
    o->fsync_interval_ms = 1000;
    o->segment_max_bytes = DW_TSDB_WAL_SEGMENT_DEFAULT;
    o->buffer_bytes = 64 << 10;
    o->write_before_ack = true;
}

int dw_tsdb_fsync_parse(const char *s)
{
    if (strcmp(s, "interval") == 0)
        return DW_TSDB_FSYNC_INTERVAL;
    if (strcmp(s, "never") == 0)
        return DW_TSDB_FSYNC_NEVER;
    if (strcmp(s, "always") == 0)
        return DW_TSDB_FSYNC_ALWAYS;
    return -1;
}

static void fix_opts(struct dw_tsdb_wal_opts *o)
{
    if (o->fsync_interval_ms <= 0)
        o->fsync_interval_ms = 1000;
    if (o->segment_max_bytes == 0)
        o->segment_max_bytes = DW_TSDB_WAL_SEGMENT_DEFAULT;
    if (o->segment_max_bytes < DW_TSDB_WAL_SEGMENT_MIN)
        o->segment_max_bytes = DW_TSDB_WAL_SEGMENT_MIN;
    if (o->buffer_bytes == 0)
        o->buffer_bytes = 64 << 10;
}

static int io_error(const char *what, uint32_t seg)
{
    char segs[16];
    snprintf(segs, sizeof segs, "%08u", seg);
    dw_log_kv(DW_LOG_ERROR, LOG_COMPONENT, what, "segment", segs, "error", strerror(errno), NULL);
    return DW_TSDB_EIO;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Creates segment `seg` and makes its directory entry durable. */
static int create_segment(struct dw_tsdb_wal *w, uint32_t seg, int *fd)
{
    char *path = dw_tsdb_wal_seg_path(w->dir, seg);
    *fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    free(path);
    if (*fd < 0)
        return io_error("cannot create WAL segment", seg);
    if (dw_tsdb_wal_sync_dir(w->dir) < 0) {
        close(*fd);
        *fd = -1;
        return DW_TSDB_EIO;
    }
    return 0;
}

/*
 * One I/O round; called and returns with mu held. Waits for the I/O holder
 * role, writes everything buffered, fdatasyncs when `sync` (and something
 * is unsynced), and when `rotate` closes the segment (fsynced unless NEVER)
 * and opens the next one, which then receives whatever is appended after
 * the swap.
 */
static int io_round(struct dw_tsdb_wal *w, bool rotate, bool sync)
{
    while (w->io_busy)
        pthread_cond_wait(&w->cv, &w->mu);
    if (w->err)
        return w->err;
    w->io_busy = true;
    struct dw_buf tmp = w->inflight;
    w->inflight = w->buf;
    w->buf = tmp;
    w->buf.len = 0;
    uint64_t end = w->lsn_logged;
    uint32_t old_seg = w->seg;
    if (rotate) {
        /* A finished segment is always durable, whatever the policy: then
           lsn_synced never has to describe bytes in two files. */
        w->seg++;
        w->seg_bytes = 0;
        sync = true;
    }
    bool need_sync = sync && w->lsn_synced < end;
    pthread_mutex_unlock(&w->mu);

    int rc = 0;
    bool wrote = w->inflight.len > 0;
    if (wrote && write_all(w->fd, w->inflight.data, w->inflight.len) < 0)
        rc = io_error("cannot write WAL segment", old_seg);
    if (rc == 0 && need_sync && fdatasync(w->fd) < 0)
        rc = io_error("cannot fsync WAL segment", old_seg);
    if (rc == 0 && rotate) {
        close(w->fd);
        w->fd = -1;
        rc = create_segment(w, old_seg + 1, &w->fd);
    }
    w->inflight.len = 0;

    pthread_mutex_lock(&w->mu);
    w->writes += wrote;
    w->fsyncs += rc == 0 && need_sync;
    if (rc == 0) {
        w->lsn_written = end;
        if (need_sync)
            w->lsn_synced = end;
    } else {
        w->err = DW_TSDB_ECLOSED;
    }
    w->io_busy = false;
    pthread_cond_broadcast(&w->cv);
    return rc;
}

/* Rotates first when `len` more bytes would overflow the current segment. */
static int make_room(struct dw_tsdb_wal *w, size_t len)
{
    for (;;) {
        while (w->io_busy)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->err)
            return w->err;
        if (w->seg_bytes == 0 || w->seg_bytes + len <= w->o.segment_max_bytes)
            return 0;
        int rc = io_round(w, true, false);
        if (rc)
            return rc;
    }
}

/* Appends framed records and applies the fsync policy. */
static int append(struct dw_tsdb_wal *w, const struct dw_buf *recs, size_t nrec)
{
    if (recs->len == 0)
        return 0;
    pthread_mutex_lock(&w->mu);
    int rc = make_room(w, recs->len);
    if (rc == 0 && dw_buf_append(&w->buf, recs->data, recs->len) < 0)
        rc = DW_TSDB_ELIMIT;
    if (rc) {
        pthread_mutex_unlock(&w->mu);
        return rc;
    }
    w->seg_bytes += recs->len;
    w->lsn_logged += recs->len;
    w->records += nrec;
    uint64_t mine = w->lsn_logged;
    if (w->o.fsync == DW_TSDB_FSYNC_ALWAYS) {
        while (rc == 0 && w->lsn_synced < mine) {
            if (w->err)
                rc = w->err;
            else if (!w->io_busy)
                rc = io_round(w, false, true);
            else
                pthread_cond_wait(&w->cv, &w->mu);
        }
    } else if (w->o.write_before_ack) {
        /* Group write: whoever does the next write() covers every record
           buffered before it, so concurrent appenders share the syscall. */
        while (rc == 0 && w->lsn_written < mine) {
            if (w->err)
                rc = w->err;
            else if (!w->io_busy)
                rc = io_round(w, false, false);
            else
                pthread_cond_wait(&w->cv, &w->mu);
        }
    } else if (w->buf.len >= w->o.buffer_bytes) {
        rc = io_round(w, false, false);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int dw_tsdb_wal_log_series(struct dw_tsdb_wal *w, const struct dw_tsdb_wal_series *s, size_t n)
{
    struct dw_buf recs;
    dw_buf_init(&recs, 0);
    size_t nrec = 0;
    int rc = dw_tsdb_walrec_put_series(&recs, s, n, &nrec);
    if (rc == 0)
        rc = append(w, &recs, nrec);
    dw_buf_release(&recs);
    return rc;
}

int dw_tsdb_wal_log_samples(struct dw_tsdb_wal *w, const struct dw_tsdb_wal_sample *s, size_t n)
{
    struct dw_buf recs;
    dw_buf_init(&recs, 0);
    size_t nrec = 0;
    int rc = dw_tsdb_walrec_put_samples(&recs, s, n, &nrec);
    if (rc == 0)
        rc = append(w, &recs, nrec);
    dw_buf_release(&recs);
    return rc;
}

static int flush_sync(struct dw_tsdb_wal *w, bool sync)
{
    pthread_mutex_lock(&w->mu);
    int rc = w->err;
    if (rc == 0 && (w->buf.len > 0 || (sync && w->lsn_synced < w->lsn_logged)))
        rc = io_round(w, false, sync);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int dw_tsdb_wal_flush(struct dw_tsdb_wal *w)
{
    return flush_sync(w, false);
}

int dw_tsdb_wal_sync(struct dw_tsdb_wal *w)
{
    return flush_sync(w, true);
}

int dw_tsdb_wal_cut(struct dw_tsdb_wal *w, uint32_t *segno)
{
    pthread_mutex_lock(&w->mu);
    while (w->io_busy)
        pthread_cond_wait(&w->cv, &w->mu);
    int rc = w->err;
    if (rc == 0 && w->seg_bytes > 0)
        rc = io_round(w, true, false);
    if (segno)
        *segno = w->seg;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* Takes the I/O holder role so no segment changes under a deletion. */
static void io_hold(struct dw_tsdb_wal *w)
{
    pthread_mutex_lock(&w->mu);
    while (w->io_busy)
        pthread_cond_wait(&w->cv, &w->mu);
    w->io_busy = true;
    pthread_mutex_unlock(&w->mu);
}

static void io_release(struct dw_tsdb_wal *w)
{
    pthread_mutex_lock(&w->mu);
    w->io_busy = false;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Deletes segments [first_seg, before); the caller holds the I/O role. */
static int delete_segments(struct dw_tsdb_wal *w, uint32_t before)
{
    uint32_t from = w->first_seg;
    for (uint32_t s = from; s < before; s++) {
        char *path = dw_tsdb_wal_seg_path(w->dir, s);
        dw_tsdb_wal_unlink(path);
        free(path);
    }
    if (before > w->first_seg)
        w->first_seg = before;
    return before > from ? dw_tsdb_wal_sync_dir(w->dir) : 0;
}

int dw_tsdb_wal_truncate(struct dw_tsdb_wal *w, uint32_t before)
{
    io_hold(w);
    pthread_mutex_lock(&w->mu);
    uint32_t cur = w->seg;
    int rc = w->err;
    pthread_mutex_unlock(&w->mu);
    if (rc == 0) {
        if (before > cur)
            before = cur;
        rc = delete_segments(w, before);
    }
    io_release(w);
    return rc;
}

void dw_tsdb_wal_get_stats(struct dw_tsdb_wal *w, struct dw_tsdb_wal_stats *st)
{
    pthread_mutex_lock(&w->mu);
    st->segment = w->seg;
    st->first_segment = w->first_seg;
    st->records = w->records;
    st->bytes_logged = w->lsn_logged;
    st->bytes_written = w->lsn_written;
    st->bytes_synced = w->lsn_synced;
    st->writes = w->writes;
    st->fsyncs = w->fsyncs;
    st->error = w->err;
    pthread_mutex_unlock(&w->mu);
}

/* ---- background flusher ---- */

static void *flusher(void *arg)
{
    struct dw_tsdb_wal *w = arg;
    int64_t next = w->next_tick_ms;
    while (dw_clock_sleep_until(next, &w->stop)) {
        next = dw_now_ms() + w->o.fsync_interval_ms;
        bool sync = w->o.fsync == DW_TSDB_FSYNC_INTERVAL;
        pthread_mutex_lock(&w->mu);
        if (!w->err && (w->buf.len > 0 || (sync && w->lsn_synced < w->lsn_logged)))
            io_round(w, false, sync);
        pthread_mutex_unlock(&w->mu);
    }
    return NULL;
}

/* ---- open and close ---- */

/* Removes what an interrupted checkpoint commit left behind. */
static void remove_leftovers(const char *dir, const struct dw_tsdb_waldir *d)
{
    for (size_t i = 0; i < d->nsegs && d->segs[i] <= d->ckpt; i++) {
        char *path = dw_tsdb_wal_seg_path(dir, d->segs[i]);
        dw_tsdb_wal_unlink(path);
        free(path);
    }
    for (size_t i = 0; i < d->nckpts; i++) {
        if (d->ckpts[i] == d->ckpt)
            continue;
        char *path = dw_tsdb_wal_ckpt_path(dir, d->ckpts[i]);
        dw_tsdb_wal_unlink(path);
        free(path);
    }
    char *tmp = dw_asprintf("%s/checkpoint.tmp", dir);
    dw_tsdb_wal_unlink(tmp);
    free(tmp);
}

int dw_tsdb_wal_open(const char *dir, const struct dw_tsdb_wal_opts *o,
                     const struct dw_tsdb_wal_handler *h, struct dw_tsdb_wal_replay_stats *st,
                     struct dw_tsdb_wal **out)
{
    *out = NULL;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        dw_log_kv(DW_LOG_ERROR, LOG_COMPONENT, "cannot create WAL directory", "path", dir,
                  "error", strerror(errno), NULL);
        return DW_TSDB_EIO;
    }
    int rc = dw_tsdb_wal_replay(dir, h, st);
    if (rc)
        return rc;
    struct dw_tsdb_waldir d;
    if ((rc = dw_tsdb_waldir_scan(dir, &d)) != 0)
        return rc;
    remove_leftovers(dir, &d);

    struct dw_tsdb_wal *w = dw_calloc(1, sizeof *w);
    w->dir = dw_strdup(dir);
    if (o)
        w->o = *o;
    else
        dw_tsdb_wal_opts_init(&w->o);
    fix_opts(&w->o);
    dw_buf_init(&w->buf, 0);
    dw_buf_init(&w->inflight, 0);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->ckpt = d.ckpt;
    uint32_t last = d.nsegs ? d.segs[d.nsegs - 1] : 0;
    if (last < d.ckpt)
        last = d.ckpt;
    w->seg = last + 1;
    w->first_seg = w->seg;
    for (size_t i = 0; i < d.nsegs; i++) {
        if (d.segs[i] > d.ckpt) {
            w->first_seg = d.segs[i];
            break;
        }
    }
    dw_tsdb_waldir_release(&d);
    w->fd = -1;
    if ((rc = create_segment(w, w->seg, &w->fd)) != 0)
        goto fail;
    if (w->o.fsync != DW_TSDB_FSYNC_ALWAYS && !w->o.no_thread) {
        /* Fixed here, not in the thread: a test advancing the manual clock
           right after open must not race the thread's start. */
        w->next_tick_ms = dw_now_ms() + w->o.fsync_interval_ms;
        if (pthread_create(&w->thread, NULL, flusher, w) != 0) {
            rc = io_error("cannot start the WAL flusher thread", w->seg);
            goto fail;
        }
        w->has_thread = true;
    }
    *out = w;
    return 0;
fail:
    dw_tsdb_wal_close(&w);
    return rc;
}

int dw_tsdb_wal_close(struct dw_tsdb_wal **wp)
{
    if (!wp || !*wp)
        return 0;
    struct dw_tsdb_wal *w = *wp;
    if (w->has_thread) {
        atomic_store(&w->stop, true);
        dw_clock_kick();
        pthread_join(w->thread, NULL);
    }
    int rc = 0;
    if (w->fd >= 0) {
        pthread_mutex_lock(&w->mu);
        rc = w->err;
        if (rc == 0)
            rc = io_round(w, false, w->o.fsync != DW_TSDB_FSYNC_NEVER);
        pthread_mutex_unlock(&w->mu);
        close(w->fd);
    }
    dw_buf_release(&w->buf);
    dw_buf_release(&w->inflight);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->dir);
    free(w);
    *wp = NULL;
    return rc;
}

/* ---- checkpoints ---- */

struct dw_tsdb_wal_ckpt {
    struct dw_tsdb_wal *w;
    uint32_t before; /* replaces segments < before */
    char *tmp_path;  /* heap */
    int fd;
    struct dw_buf buf;
    int err;
};

#define CKPT_FLUSH (1u << 20)

int dw_tsdb_wal_checkpoint_begin(struct dw_tsdb_wal *w, uint32_t before,
                                 struct dw_tsdb_wal_ckpt **out)
{
    *out = NULL;
    pthread_mutex_lock(&w->mu);
    bool ok = before >= 2 && before <= w->seg && before - 1 > w->ckpt;
    pthread_mutex_unlock(&w->mu);
    if (!ok)
        return DW_TSDB_EINVAL;
    struct dw_tsdb_wal_ckpt *ck = dw_calloc(1, sizeof *ck);
    ck->w = w;
    ck->before = before;
    ck->tmp_path = dw_asprintf("%s/checkpoint.tmp", w->dir);
    dw_buf_init(&ck->buf, 0);
    ck->fd = open(ck->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (ck->fd < 0) {
        int rc = io_error("cannot create WAL checkpoint", before - 1);
        dw_tsdb_wal_checkpoint_abort(&ck);
        return rc;
    }
    *out = ck;
    return 0;
}

static int ckpt_write(struct dw_tsdb_wal_ckpt *ck, size_t threshold)
{
    if (ck->err || ck->buf.len < threshold || ck->buf.len == 0)
        return ck->err;
    if (write_all(ck->fd, ck->buf.data, ck->buf.len) < 0)
        ck->err = io_error("cannot write WAL checkpoint", ck->before - 1);
    ck->buf.len = 0;
    return ck->err;
}

int dw_tsdb_wal_ckpt_log_series(struct dw_tsdb_wal_ckpt *ck, const struct dw_tsdb_wal_series *s,
                                size_t n)
{
    int rc = ck->err ? ck->err : dw_tsdb_walrec_put_series(&ck->buf, s, n, NULL);
    return rc ? rc : ckpt_write(ck, CKPT_FLUSH);
}

int dw_tsdb_wal_ckpt_log_samples(struct dw_tsdb_wal_ckpt *ck, const struct dw_tsdb_wal_sample *s,
                                 size_t n)
{
    int rc = ck->err ? ck->err : dw_tsdb_walrec_put_samples(&ck->buf, s, n, NULL);
    return rc ? rc : ckpt_write(ck, CKPT_FLUSH);
}

void dw_tsdb_wal_checkpoint_abort(struct dw_tsdb_wal_ckpt **ckp)
{
    if (!ckp || !*ckp)
        return;
    struct dw_tsdb_wal_ckpt *ck = *ckp;
    if (ck->fd >= 0) {
        close(ck->fd);
        dw_tsdb_wal_unlink(ck->tmp_path);
    }
    dw_buf_release(&ck->buf);
    free(ck->tmp_path);
    free(ck);
    *ckp = NULL;
}

/*
 * The order makes every crash point safe: until the rename, replay ignores
 * the temporary file and reads the old segments; after it, replay reads the
 * checkpoint and skips segments <= its number, which open then deletes.
 */
int dw_tsdb_wal_checkpoint_commit(struct dw_tsdb_wal_ckpt **ckp)
{
    struct dw_tsdb_wal_ckpt *ck = *ckp;
    struct dw_tsdb_wal *w = ck->w;
    uint32_t n = ck->before - 1;
    int rc = ckpt_write(ck, 0);
    if (rc == 0 && fsync(ck->fd) < 0)
        rc = io_error("cannot fsync WAL checkpoint", n);
    char *path = dw_tsdb_wal_ckpt_path(w->dir, n);
    if (rc == 0 && rename(ck->tmp_path, path) < 0)
        rc = io_error("cannot rename WAL checkpoint", n);
    if (rc) {
        free(path);
        dw_tsdb_wal_checkpoint_abort(ckp);
        return rc;
    }
    close(ck->fd);
    ck->fd = -1;
    rc = dw_tsdb_wal_sync_dir(w->dir);
    free(path);

    io_hold(w);
    uint32_t old = w->ckpt;
    if (rc == 0)
        rc = delete_segments(w, ck->before);
    if (old) {
        char *op = dw_tsdb_wal_ckpt_path(w->dir, old);
        dw_tsdb_wal_unlink(op);
        free(op);
    }
    w->ckpt = n;
    io_release(w);
    dw_buf_release(&ck->buf);
    free(ck->tmp_path);
    free(ck);
    *ckp = NULL;
    return rc;
}
