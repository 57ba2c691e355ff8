/*
 * walreplay.c - reading a WAL directory back: replay and repair.
 *
 * DESIGN: on start the head replays the newest checkpoint (if any), then
 * every later segment in order, record by record, into its callbacks.
 *
 * Damage policy. A process or machine crash leaves at most a torn record at
 * the end of the newest segment; bit rot can damage any record. Both are
 * handled the same way: the damaged segment is truncated to the end of its
 * last good record and every later segment is deleted, so the log on disk
 * is again exactly the prefix that replay delivered. Records after damage
 * are dropped rather than replayed because they may depend on what was lost
 * (series definitions, earlier samples of the same series); replaying them
 * would build a head that silently differs from any state that ever
 * existed. One warning line names the segment, offset and reason; it is
 * never a crash. A missing segment in the middle counts as damage at the
 * end of the segment before it. A damaged checkpoint (written atomically,
 * so only bit rot) is logged as an error and replayed up to the damage but
 * left on disk for inspection; segments are replayed after it as usual.
 *
 * Files are read through stdio with a large buffer; each record is
 * checked (length limit, CRC32C, payload decoding) before its callback.
 *
 * Threads: the caller's; not concurrent with a writer on the same dir.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tsdb/tsdb.h"
#include "tsdb/tsdb_internal.h"

#define LOG_COMPONENT "tsdb.wal"

char *dw_tsdb_wal_seg_path(const char *dir, uint32_t seg)
{
    return dw_asprintf("%s/%08u", dir, seg);
}

char *dw_tsdb_wal_ckpt_path(const char *dir, uint32_t n)
{
    return dw_asprintf("%s/checkpoint.%08u", dir, n);
}

void dw_tsdb_wal_unlink(const char *path)
{
    if (unlink(path) < 0 && errno != ENOENT)
        dw_log_kv(DW_LOG_ERROR, LOG_COMPONENT, "cannot remove WAL file", "path", path, "error",
                  strerror(errno), NULL);
}

int dw_tsdb_wal_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0) {
        dw_log_kv(DW_LOG_ERROR, LOG_COMPONENT, "cannot fsync WAL directory", "path", dir, "error",
                  strerror(errno), NULL);
        if (fd >= 0)
            close(fd);
        return DW_TSDB_EIO;
    }
    close(fd);
    return 0;
}

/* Parses exactly 8 decimal digits; false otherwise. */
static bool parse_seq(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 8; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (s[8] != '\0' || v == 0)
        return false;
    *out = v;
    return true;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

int dw_tsdb_waldir_scan(const char *dir, struct dw_tsdb_waldir *d)
{
    memset(d, 0, sizeof *d);
    DIR *dh = opendir(dir);
    if (!dh) {
        if (errno == ENOENT)
            return 0;
        dw_log_kv(DW_LOG_ERROR, LOG_COMPONENT, "cannot read WAL directory", "path", dir, "error",
                  strerror(errno), NULL);
        return DW_TSDB_EIO;
    }
    size_t cap = 0, ccap = 0;
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        uint32_t n;
        if (parse_seq(de->d_name, &n)) {
            d->segs = dw_grow(d->segs, &cap, d->nsegs + 1, sizeof *d->segs);
            d->segs[d->nsegs++] = n;
        } else if (dw_str_has_prefix(de->d_name, "checkpoint.") &&
                   parse_seq(de->d_name + strlen("checkpoint."), &n)) {
            d->ckpts = dw_grow(d->ckpts, &ccap, d->nckpts + 1, sizeof *d->ckpts);
            d->ckpts[d->nckpts++] = n;
            if (n > d->ckpt)
                d->ckpt = n;
        }
    }
    closedir(dh);
    if (d->nsegs)
        qsort(d->segs, d->nsegs, sizeof *d->segs, cmp_u32);
    return 0;
}

void dw_tsdb_waldir_release(struct dw_tsdb_waldir *d)
{
    free(d->segs);
    free(d->ckpts);
    memset(d, 0, sizeof *d);
}

/* ---- reading one file ---- */

struct replay {
    const struct dw_tsdb_wal_handler *h;
    struct dw_tsdb_wal_replay_stats *st;
    struct dw_tsdb_walrd rd;
    uint8_t *payload; /* heap, grows up to DW_TSDB_WAL_RECORD_MAX */
    size_t payload_cap;
};

enum { FILE_CLEAN = 0, FILE_DAMAGED = 1 };
enum rec_status { REC_OK, REC_END, REC_DAMAGED, REC_IOERR };

static enum rec_status short_read(FILE *f, const char **reason, const char *why)
{
    if (ferror(f))
        return REC_IOERR;
    *reason = why;
    return REC_DAMAGED;
}

/* Reads one record into rp->payload and checks its frame; *reason says why not. */
static enum rec_status read_record(struct replay *rp, FILE *f, uint8_t *type, uint32_t *len,
                                   const char **reason)
{
    uint8_t hdr[DW_TSDB_WAL_HDR];
    size_t got = fread(hdr, 1, sizeof hdr, f);
    if (got == 0 && !ferror(f))
        return REC_END;
    if (got < sizeof hdr)
        return short_read(f, reason, "torn record header");
    *len = dw_tsdb_get_le32(hdr);
    *type = hdr[4];
    if (*len > DW_TSDB_WAL_RECORD_MAX) {
        *reason = "record length over the limit";
        return REC_DAMAGED;
    }
    if (*len > rp->payload_cap)
        rp->payload = dw_grow(rp->payload, &rp->payload_cap, *len, 1);
    if (*len && fread(rp->payload, 1, *len, f) < *len)
        return short_read(f, reason, "torn record");
    uint32_t crc = dw_tsdb_crc32c(dw_tsdb_crc32c(0, hdr, 5), rp->payload, *len);
    if (crc != dw_tsdb_get_le32(hdr + 5)) {
        *reason = "checksum mismatch";
        return REC_DAMAGED;
    }
    return REC_OK;
}

/*
 * Reads every record of path. Returns FILE_CLEAN, FILE_DAMAGED with
 * *good_end and *reason set, DW_TSDB_EIO, or a callback's non-zero return.
 */
static int read_file(struct replay *rp, const char *path, uint64_t *good_end, const char **reason)
{
    FILE *f = fopen(path, "rbe");
    if (!f) {
        dw_log_kv(DW_LOG_ERROR, LOG_COMPONENT, "cannot open WAL file", "path", path, "error",
                  strerror(errno), NULL);
        return DW_TSDB_EIO;
    }
    setvbuf(f, NULL, _IOFBF, 1 << 18);
    uint64_t off = 0;
    int rc = FILE_CLEAN;
    for (;;) {
        uint8_t type = 0;
        uint32_t len = 0;
        enum rec_status st = read_record(rp, f, &type, &len, reason);
        if (st == REC_END)
            break;
        if (st == REC_IOERR) {
            dw_log_kv(DW_LOG_ERROR, LOG_COMPONENT, "cannot read WAL file", "path", path, "error",
                      strerror(errno), NULL);
            rc = DW_TSDB_EIO;
            break;
        }
        if (st == REC_OK) {
            bool malformed;
            int cb = dw_tsdb_walrd_dispatch(&rp->rd, type, rp->payload, len, rp->h, rp->st,
                                            &malformed);
            if (!malformed && cb != 0) {
                rc = cb;
                break;
            }
            if (!malformed) {
                off += DW_TSDB_WAL_HDR + (uint64_t)len;
                if (rp->st)
                    rp->st->records++;
                continue;
            }
            *reason = "malformed record";
        }
        *good_end = off;
        rc = FILE_DAMAGED;
        break;
    }
    fclose(f);
    return rc;
}

/* ---- repair ---- */

static void log_damage(const char *what, uint32_t seg, uint64_t off, const char *reason,
                       uint64_t cut, uint32_t dropped, enum dw_log_level level)
{
    char segs[16], offs[24], cuts[24], drops[16];
    snprintf(segs, sizeof segs, "%08u", seg);
    snprintf(offs, sizeof offs, "%llu", (unsigned long long)off);
    snprintf(cuts, sizeof cuts, "%llu", (unsigned long long)cut);
    snprintf(drops, sizeof drops, "%u", dropped);
    dw_log_kv(level, LOG_COMPONENT, what, "segment", segs, "offset", offs, "reason", reason,
              "bytes_cut", cuts, "segments_dropped", drops, NULL);
}

/* Truncates path to len and makes that durable. */
static int cut_file(const char *path, uint64_t len)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)len) < 0 || fsync(fd) < 0) {
        dw_log_kv(DW_LOG_ERROR, LOG_COMPONENT, "cannot truncate damaged WAL segment", "path", path,
                  "error", strerror(errno), NULL);
        if (fd >= 0)
            close(fd);
        return DW_TSDB_EIO;
    }
    close(fd);
    return 0;
}

static uint64_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/*
 * Cuts segment segs[i] at good_end (when it exists) and deletes segs[i+1..],
 * then logs the one line that explains it.
 */
static int repair(struct replay *rp, const char *dir, const struct dw_tsdb_waldir *d, size_t i,
                  uint64_t good_end, const char *reason, bool cut)
{
    int rc = 0;
    uint64_t cut_bytes = 0;
    if (cut) {
        char *path = dw_tsdb_wal_seg_path(dir, d->segs[i]);
        cut_bytes = file_size(path) - good_end;
        rc = cut_file(path, good_end);
        free(path);
    }
    for (size_t j = i + 1; j < d->nsegs; j++) {
        char *path = dw_tsdb_wal_seg_path(dir, d->segs[j]);
        dw_tsdb_wal_unlink(path);
        free(path);
    }
    if (d->nsegs > i + 1 && dw_tsdb_wal_sync_dir(dir) < 0)
        rc = DW_TSDB_EIO;
    uint32_t dropped = (uint32_t)(d->nsegs - i - 1);
    log_damage("damaged WAL: cut at the last good record", d->segs[i], good_end, reason,
               cut_bytes, dropped, DW_LOG_WARN);
    if (rp->st) {
        rp->st->damaged = true;
        rp->st->bytes_cut = cut_bytes;
        rp->st->segments_dropped = dropped;
    }
    return rc;
}

static int replay_checkpoint(struct replay *rp, const char *dir, uint32_t n)
{
    char *path = dw_tsdb_wal_ckpt_path(dir, n);
    uint64_t good_end = 0;
    const char *reason = NULL;
    int rc = read_file(rp, path, &good_end, &reason);
    free(path);
    if (rc == FILE_DAMAGED) {
        log_damage("damaged WAL checkpoint: replayed up to the damage", n, good_end, reason, 0, 0,
                   DW_LOG_ERROR);
        if (rp->st)
            rp->st->damaged = true;
        rc = 0;
    }
    if (rp->st)
        rp->st->checkpoint = n;
    return rc;
}

static int replay_segments(struct replay *rp, const char *dir, const struct dw_tsdb_waldir *d)
{
    uint32_t prev = 0;
    for (size_t i = 0; i < d->nsegs; i++) {
        uint32_t seg = d->segs[i];
        if (seg <= d->ckpt)
            continue; /* replaced by the checkpoint; dw_tsdb_wal_open removes it */
        if (prev && seg != prev + 1) {
            /* The previous segment was read to its end: the damage is right after it. */
            char reason[64];
            snprintf(reason, sizeof reason, "segment %08u is missing", prev + 1);
            char *prev_path = dw_tsdb_wal_seg_path(dir, prev);
            uint64_t end = file_size(prev_path);
            free(prev_path);
            return repair(rp, dir, d, i - 1, end, reason, false);
        }
        prev = seg;
        if (rp->st) {
            rp->st->segments++;
            if (!rp->st->first_segment)
                rp->st->first_segment = seg;
            rp->st->last_segment = seg;
        }
        char *path = dw_tsdb_wal_seg_path(dir, seg);
        uint64_t good_end = 0;
        const char *reason = NULL;
        int rc = read_file(rp, path, &good_end, &reason);
        free(path);
        if (rc == FILE_DAMAGED)
            return repair(rp, dir, d, i, good_end, reason, true);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int dw_tsdb_wal_replay(const char *dir, const struct dw_tsdb_wal_handler *h,
                       struct dw_tsdb_wal_replay_stats *st)
{
    if (st)
        memset(st, 0, sizeof *st);
    struct dw_tsdb_waldir d;
    int rc = dw_tsdb_waldir_scan(dir, &d);
    if (rc)
        return rc;
    struct replay rp = {.h = h, .st = st};
    if (d.ckpt)
        rc = replay_checkpoint(&rp, dir, d.ckpt);
    if (rc == 0)
        rc = replay_segments(&rp, dir, &d);
    dw_tsdb_walrd_release(&rp.rd);
    free(rp.payload);
    dw_tsdb_waldir_release(&d);
    return rc;
}
