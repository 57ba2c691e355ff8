/*
 * import.c - `dojowatch import`: offline backfill of OpenMetrics or
 * Prometheus text exposition with timestamps into persisted blocks, like
 * `promtool tsdb create-blocks-from openmetrics`.
 *
 * DESIGN
 * The files are opened and mapped first (mmap: a file of several GB costs
 * address space, not a copy; a pipe or stdin is read into memory), so a
 * missing file fails before anything is touched. Then the data directory is
 * locked with the daemon's own exclusive flock on DATA/LOCK: an import
 * never runs beside a daemon serving the same directory (it would not see
 * the blocks, and its compaction and retention would race with ours).
 *
 * Each file goes through the exposition parser in one pass (single_pass)
 * straight into the tsdb importer (dw_tsdb_importer_*), which buffers
 * samples per series, sorts them and flushes one block per 2 h window into
 * DATA/tsdb/blocks whenever its memory bound is reached. Memory is thus the
 * importer's buffer (about 100 MiB) plus the parser's scratch, whatever the
 * size of the input.
 *
 * Nothing half-applied: blocks are written to <id>.tmp and renamed by the
 * block writer, and this run remembers which block directories existed
 * before it. Any error before the last flush (a malformed line, a sample
 * without timestamp, a label over a limit, a failed write, Ctrl-C) aborts
 * the importer and deletes every block directory that appeared since, so
 * the directory of blocks is exactly as before (a data directory this run
 * created is removed again; parents that `mkdir -p` created for it stay;
 * an existing DATA/LOCK keeps this run's pid, as the daemon leaves its own). Only then is the
 * directory compacted, by a second, empty importer whose finish runs the compaction: overlapping
 * blocks are merged, the newer one winning on equal timestamps. If that
 * compaction fails, the imported blocks are complete and stay; the daemon's
 * maintenance merges them later. A crash (kill -9) leaves complete blocks
 * of the windows flushed so far plus a <id>.tmp directory that the next
 * open deletes.
 *
 * Semantics follow promtool: every sample needs a timestamp (OpenMetrics:
 * seconds, text format: milliseconds); OpenMetrics `_created` samples are
 * imported as series of their own; of two samples of one series with the
 * same timestamp the later one in the input stays.
 *
 * Threads: one. SIGINT and SIGTERM set a flag the sample callback checks (and
 * that is checked again once the blocks are written), so an interrupted
 * import is rolled back like a failed one; a second signal, or one during the
 * final compaction (which is crash-safe), ends the process the default way.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/import.h"
#include "core/core.h"
#include "expo/expo.h"
#include "plan/plan.h"
#include "tsdb/tsdb.h"

#define DEFAULT_RETENTION_MS (90LL * 24 * 3600 * 1000)
#define MAX_SERIES_LABELS 65                  /* the parser's 64 including __name__, plus one */
#define PROGRESS_EVERY_NS (200 * 1000000LL)   /* terminal refresh */
#define SECONDS_LIKE_MS INT64_C(100000000000) /* before 1973-03-03 in ms: seconds, surely */
#define BLOCK_ID_LEN 26
#define RELEASE_CHUNK (64u << 20) /* drop parsed pages of a mapping in steps of this */
#define RELEASE_MARGIN (1u << 20) /* ... keeping this much behind the parser resident */

const char dw_cli_import_usage[] =
    "usage: dojowatch import --data DIR [--retention D] [--config FILE] [--format F]\n"
    "                        [-o text|json] FILE...\n"
    "\n"
    "Backfills samples with timestamps from OpenMetrics or Prometheus text files into\n"
    "blocks in DIR/tsdb/blocks, like 'promtool tsdb create-blocks-from openmetrics'.\n"
    "The daemon must not be serving DIR (the import takes its lock, DIR/LOCK). Start\n"
    "'dojowatch serve' afterwards with a retention that keeps the imported range.\n"
    "\n"
    "Every sample needs a timestamp: seconds in OpenMetrics, milliseconds in the\n"
    "text format. A file ending with '# EOF' or named *.om is read as OpenMetrics,\n"
    "anything else as text format 0.0.4; FILE '-' is standard input. On any error\n"
    "(reported as file:line:col) nothing is imported: the blocks written by this\n"
    "run are deleted again.\n"
    "\n"
    "  -d, --data DIR        data directory (default: server.data_dir of --config)\n"
    "      --retention D     drop samples older than D before now (default: the plan's\n"
    "                        retention.raw, else 90d; e.g. 100y for historical data)\n"
    "  -c, --config FILE     the plan, for the data directory and retention\n"
    "      --format F        auto (default), openmetrics or text\n"
    "      --max-buffered-samples N  samples held in memory before blocks are written\n"
    "                        (default 4000000, about 100 MiB; a 2 h window flushed twice\n"
    "                        is merged by the compaction at the end)\n"
    "      --log-level L     debug, info, warn (default) or error\n"
    "  -o, --output FORMAT   text (default) or json: the summary on stdout\n"
    "  -h, --help            this help\n"
    "\n"
    "Progress (bytes, samples, rate) is shown on stderr when it is a terminal.\n"
    "Exit status: 0 imported, 1 failed at run time (e.g. DIR locked), 2 bad usage or\n"
    "invalid input.\n";

/* One input file, mapped or read whole. */
struct input {
    const char *path; /* as given; "<stdin>" for "-" */
    char *data;       /* the mapping (mapped) or a heap copy */
    size_t len;
    bool mapped;
    size_t released; /* bytes at the start already dropped from memory (release_behind) */
    bool fmt_auto;   /* format picked by detect_format(), not --format */
    enum dw_expo_format fmt;
    uint64_t samples;
};

/* A caller-owned error: position, message, hint and the exit status it means. */
struct import_error {
    int status; /* 0: no error */
    const char *file;
    size_t line, col;
    char *msg;
    char *hint;
};

struct import_run {
    /* options */
    const char *data_opt, *config_path, *retention_opt;
    int64_t max_buffered;       /* importer flush threshold; 0: its default */
    enum dw_expo_format format; /* DW_EXPO_AUTO: per file */
    bool json;
    /* derived */
    char *data_dir, *tsdb_dir, *blocks_dir, *lock_path;
    int64_t retention_ms;
    bool data_existed, tsdb_existed, blocks_existed;
    int lock_fd;
    char **before; /* entries of the blocks dir before the first flush, sorted */
    size_t nbefore;
    bool have_before; /* `before` was taken: rollback may delete what is not in it */
    struct input *in;
    size_t nin;
    /* during the import */
    struct dw_tsdb_importer *im;
    struct input *cur;
    size_t cur_index;
    uint64_t bytes_before, bytes_total; /* bytes of earlier files, of all files */
    uint64_t samples;
    bool progress;
    int64_t start_ns, last_progress_ns;
    struct dw_label labels[MAX_SERIES_LABELS];
    char *sbuf; /* label strings of the current sample, NUL-terminated */
    size_t scap;
    struct import_error err;
    /* results */
    struct dw_tsdb_import_stats st;
    uint64_t compactions;
    char *compact_err; /* compaction failed: the import stands */
    double seconds;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = sig;
}

/* ---- errors and small formatting helpers ---- */

static void set_error(struct import_run *r, int status, const char *file, size_t line, size_t col,
                      const char *hint, const char *fmt, ...) DW_PRINTF(7, 8);

static void set_error(struct import_run *r, int status, const char *file, size_t line, size_t col,
                      const char *hint, const char *fmt, ...)
{
    if (r->err.status)
        return; /* the first error is the one to fix */
    va_list ap;
    va_start(ap, fmt);
    r->err.msg = dw_vasprintf(fmt, ap);
    va_end(ap);
    r->err.status = status;
    r->err.file = file;
    r->err.line = line;
    r->err.col = col;
    r->err.hint = hint ? dw_strdup(hint) : NULL;
}

/* 1234567 -> "1,234,567" */
static void fmt_count(uint64_t v, char *out, size_t size)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

static void fmt_bytes(double b, char *out, size_t size)
{
    if (b >= 1024.0 * 1024 * 1024)
        snprintf(out, size, "%.2f GiB", b / (1024.0 * 1024 * 1024));
    else if (b >= 1024.0 * 1024)
        snprintf(out, size, "%.1f MiB", b / (1024.0 * 1024));
    else if (b >= 1024.0)
        snprintf(out, size, "%.1f KiB", b / 1024.0);
    else
        snprintf(out, size, "%.0f B", b);
}

static void fmt_rate(double per_s, char *out, size_t size)
{
    if (per_s >= 1e6)
        snprintf(out, size, "%.2f M", per_s / 1e6);
    else if (per_s >= 1e3)
        snprintf(out, size, "%.1f k", per_s / 1e3);
    else
        snprintf(out, size, "%.0f ", per_s);
}

static double since_s(int64_t start_ns)
{
    return (double)(dw_mono_ns() - start_ns) / 1e9;
}

/* ---- progress on a terminal ---- */

static void progress_line(struct import_run *r, const char *pos, const char *stage)
{
    if (!r->progress)
        return;
    uint64_t done = r->bytes_before;
    if (r->cur && pos && pos >= r->cur->data && pos <= r->cur->data + r->cur->len)
        done += (uint64_t)(pos - r->cur->data);
    char b1[32], b2[32], n[32], rate[32];
    fmt_bytes((double)done, b1, sizeof b1);
    fmt_bytes((double)r->bytes_total, b2, sizeof b2);
    fmt_count(r->samples, n, sizeof n);
    double s = since_s(r->start_ns);
    fmt_rate(s > 0 ? (double)r->samples / s : 0, rate, sizeof rate);
    int pct = r->bytes_total ? (int)(done * 100 / r->bytes_total) : 100;
    fprintf(stderr, "\r\033[Kimport: %s / %s (%d%%), %s samples, %ssamples/s%s%s", b1, b2, pct, n,
            rate, stage ? ", " : "", stage ? stage : "");
    fflush(stderr);
}

static void progress_clear(struct import_run *r)
{
    if (r->progress) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}

/* ---- options ---- */

/* Returns -1 to go on, or the exit status (0 after --help, 2 on bad usage). */
static int parse_args(struct import_run *r, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"retention", required_argument, NULL, 'R'},
        {"config", required_argument, NULL, 'c'},
        {"format", required_argument, NULL, 'F'},
        {"log-level", required_argument, NULL, 'L'},
        {"max-buffered-samples", required_argument, NULL, 'B'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    dw_log_set_level(DW_LOG_WARN);
    int c;
    while ((c = getopt_long(argc, argv, "d:c:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': r->data_opt = optarg; break;
        case 'c': r->config_path = optarg; break;
        case 'R': r->retention_opt = optarg; break;
        case 'F':
            if (strcmp(optarg, "auto") == 0)
                r->format = DW_EXPO_AUTO;
            else if (strcmp(optarg, "openmetrics") == 0)
                r->format = DW_EXPO_OPENMETRICS;
            else if (strcmp(optarg, "text") == 0)
                r->format = DW_EXPO_TEXT;
            else
                return dw_cli_usage_error(
                    "import", "unknown --format '%s' (auto, openmetrics, text)", optarg);
            break;
        case 'B':
            if (dw_parse_int64(optarg, &r->max_buffered) < 0 || r->max_buffered <= 0)
                return dw_cli_usage_error(
                    "import", "--max-buffered-samples needs a positive number, got '%s'", optarg);
            break;
        case 'L': {
            int level = dw_log_parse_level(optarg);
            if (level < 0)
                return dw_cli_usage_error(
                    "import", "unknown log level '%s' (debug, info, warn, error)", optarg);
            dw_log_set_level((enum dw_log_level)level);
            break;
        }
        case 'o':
            if (strcmp(optarg, "json") == 0)
                r->json = true;
            else if (strcmp(optarg, "text") != 0)
                return dw_cli_usage_error("import", "unknown output format '%s' (text, json)",
                                          optarg);
            break;
        case 'h': fputs(dw_cli_import_usage, stdout); return 0;
        default: return dw_cli_usage_error("import", "%s", "bad option");
        }
    }
    if (r->retention_opt) {
        if (dw_parse_duration(r->retention_opt, &r->retention_ms) < 0 || r->retention_ms <= 0)
            return dw_cli_usage_error("import",
                                      "--retention needs a duration like 90d or 100y, got '%s'",
                                      r->retention_opt);
    }
    if (optind >= argc)
        return dw_cli_usage_error("import", "%s",
                                  "which files? e.g. dojowatch import --data ./data metrics.om");
    return -1;
}

/* Data directory and retention from the options, else the plan, else the defaults. */
static int resolve_settings(struct import_run *r)
{
    struct dw_config *cfg = NULL;
    if (r->config_path) {
        struct dw_diags diags;
        dw_diags_init(&diags);
        cfg = dw_config_load_file(r->config_path, &diags);
        for (size_t i = 0; i < diags.n; i++) {
            struct dw_buf line;
            dw_buf_init(&line, 0);
            dw_diag_format(&diags.items[i], &line);
            fprintf(stderr, "%s\n", line.data);
            dw_buf_release(&line);
        }
        dw_diags_release(&diags);
        if (!cfg) {
            fprintf(stderr,
                    "dojowatch import: %s is not valid; check it with 'dojowatch "
                    "check-config %s'\n",
                    r->config_path, r->config_path);
            return 2;
        }
    }
    const char *data = r->data_opt ? r->data_opt : cfg ? dw_config_data_dir(cfg) : NULL;
    if (!r->retention_opt)
        r->retention_ms = cfg ? dw_config_retention_raw_ms(cfg) : DEFAULT_RETENTION_MS;
    if (data)
        r->data_dir = dw_strdup(data);
    dw_config_unref(&cfg);
    if (!r->data_dir)
        return dw_cli_usage_error("import", "%s",
                                  "--data DIR is required (or --config with server.data_dir)");
    r->tsdb_dir = dw_asprintf("%s/tsdb", r->data_dir);
    r->blocks_dir = dw_asprintf("%s/tsdb/blocks", r->data_dir);
    r->lock_path = dw_asprintf("%s/LOCK", r->data_dir);
    return -1;
}

/* ---- inputs ---- */

static enum dw_expo_format detect_format(const struct input *in)
{
    if (dw_str_has_suffix(in->path, ".om") || dw_str_has_suffix(in->path, ".openmetrics"))
        return DW_EXPO_OPENMETRICS;
    size_t e = in->len;
    while (e > 0 && (in->data[e - 1] == '\n' || in->data[e - 1] == '\r'))
        e--;
    if (e >= 5 && memcmp(in->data + e - 5, "# EOF", 5) == 0 && (e == 5 || in->data[e - 6] == '\n'))
        return DW_EXPO_OPENMETRICS;
    return DW_EXPO_TEXT;
}

/* Reads a stream that cannot be mapped (a pipe, stdin) into memory. */
static int read_stream(int fd, struct input *in)
{
    size_t cap = 1 << 20;
    in->data = dw_malloc(cap);
    in->len = 0;
    for (;;) {
        if (in->len == cap) {
            cap *= 2;
            in->data = dw_realloc(in->data, cap);
        }
        ssize_t n = read(fd, in->data + in->len, cap - in->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        in->len += (size_t)n;
    }
}

static int open_input(struct import_run *r, struct input *in, const char *path)
{
    bool is_stdin = strcmp(path, "-") == 0;
    in->path = is_stdin ? "<stdin>" : path;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0) {
        set_error(r, 2, in->path, 0, 0, "check the file name", "cannot open: %s", strerror(errno));
        if (fd >= 0 && !is_stdin)
            close(fd);
        return -1;
    }
    int rc = 0;
    if (S_ISREG(sb.st_mode) && sb.st_size > 0) {
        in->len = (size_t)sb.st_size;
        in->data = mmap(NULL, in->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (in->data == MAP_FAILED) {
            in->data = NULL;
            set_error(r, 1, in->path, 0, 0, NULL, "cannot map the file: %s", strerror(errno));
            rc = -1;
        } else {
            in->mapped = true;
            madvise(in->data, in->len, MADV_SEQUENTIAL);
        }
    } else if (S_ISDIR(sb.st_mode)) {
        set_error(r, 2, in->path, 0, 0, "name the files inside it", "is a directory");
        rc = -1;
    } else if (read_stream(fd, in) < 0) {
        set_error(r, 1, in->path, 0, 0, NULL, "cannot read: %s", strerror(errno));
        rc = -1;
    }
    if (!is_stdin)
        close(fd);
    if (rc == 0) {
        in->fmt_auto = r->format == DW_EXPO_AUTO;
        in->fmt = in->fmt_auto ? detect_format(in) : r->format;
        r->bytes_total += in->len;
    }
    return rc;
}

static void inputs_release(struct import_run *r)
{
    for (size_t i = 0; i < r->nin; i++) {
        struct input *in = &r->in[i];
        if (in->mapped)
            munmap(in->data, in->len);
        else
            free(in->data);
    }
    free(r->in);
    r->in = NULL;
    r->nin = 0;
}

/* ---- the data directory: lock, snapshot, rollback ---- */

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* mkdir -p; 0 or -1 with errno. */
static int lock_data_dir(struct import_run *r)
{
    r->data_existed = exists(r->data_dir);
    if (!r->data_existed && dw_mkdir_p(r->data_dir) < 0) {
        set_error(r, 1, r->data_dir, 0, 0, "check the path and its permissions",
                  "cannot create the data directory: %s", strerror(errno));
        return -1;
    }
    char holder[32];
    int rc = dw_pidlock_acquire(r->lock_path, &r->lock_fd, holder, sizeof holder);
    if (rc == DW_PIDLOCK_BUSY) {
        set_error(r, 1, r->data_dir, 0, 0,
                  "stop the daemon first (an import beside a running daemon would race with "
                  "its compaction and retention), or import into another --data directory",
                  "data directory is in use by another dojowatch (pid %s)",
                  holder[0] ? holder : "unknown");
        return -1;
    }
    if (rc < 0) {
        set_error(r, 1, r->lock_path, 0, 0, NULL, "cannot open the lock file: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static void unlock_data_dir(struct import_run *r)
{
    dw_pidlock_release(&r->lock_fd);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names in dir (without . and ..); an empty list when it does not exist. */
static char **list_dir(const char *dir, size_t *n)
{
    char **names = NULL;
    size_t cap = 0;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        names = dw_grow(names, &cap, *n + 1, sizeof *names);
        names[(*n)++] = dw_strdup(e->d_name);
    }
    closedir(d);
    if (*n)
        qsort(names, *n, sizeof *names, cmp_str);
    return names;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* A block directory name: a 26-character id, alone or with .tmp / .del.tmp. */
static bool is_block_name(const char *name)
{
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    for (int i = 0; i < BLOCK_ID_LEN; i++)
        if (!name[i] || !strchr(alphabet, name[i]))
            return false;
    const char *rest = name + BLOCK_ID_LEN;
    return !*rest || strcmp(rest, ".tmp") == 0 || strcmp(rest, ".del.tmp") == 0;
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    int rc = type == FTW_DP ? rmdir(path) : unlink(path);
    if (rc < 0)
        dw_log_kv(DW_LOG_ERROR, "import", "cannot remove", "path", path, "error", strerror(errno),
                  NULL);
    return 0; /* go on: remove as much as possible */
}

/*
 * Undoes this run: deletes every block directory that was not there before
 * the first flush, then the directories this run created.
 */
static void rollback(struct import_run *r)
{
    size_t n = 0;
    /* Without the snapshot nothing was written yet, and nothing may be deleted. */
    char **now = r->have_before ? list_dir(r->blocks_dir, &n) : NULL;
    size_t removed = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_block_name(now[i]))
            continue;
        if (r->before && bsearch(&now[i], r->before, r->nbefore, sizeof *r->before, cmp_str))
            continue;
        char *path = dw_asprintf("%s/%s", r->blocks_dir, now[i]);
        nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(path);
        removed++;
    }
    free_names(now, n);
    if (!r->blocks_existed)
        rmdir(r->blocks_dir);
    if (!r->tsdb_existed)
        rmdir(r->tsdb_dir);
    if (!r->data_existed) {
        unlink(r->lock_path);
        rmdir(r->data_dir);
    }
    char count[32];
    snprintf(count, sizeof count, "%zu", removed);
    dw_log_kv(DW_LOG_INFO, "import", "rolled back", "blocks_removed", count, NULL);
}

/* ---- the import ---- */

/* Copies the sample's labels into r->labels with NUL-terminated strings; returns their count. */
static size_t sample_labels(struct import_run *r, const struct dw_expo_sample *s)
{
    size_t need = sizeof DW_TSDB_METRIC_NAME + s->name.len + 1;
    for (size_t i = 0; i < s->nlabels; i++)
        need += s->labels[i].name.len + s->labels[i].value.len + 2;
    if (need > r->scap) {
        r->scap = need * 2;
        r->sbuf = dw_realloc(r->sbuf, r->scap);
    }
    char *p = r->sbuf;
    r->labels[0].name = DW_TSDB_METRIC_NAME;
    r->labels[0].value = p;
    memcpy(p, s->name.ptr, s->name.len);
    p[s->name.len] = '\0';
    p += s->name.len + 1;
    for (size_t i = 0; i < s->nlabels; i++) {
        const struct dw_expo_label *l = &s->labels[i];
        r->labels[i + 1].name = p;
        memcpy(p, l->name.ptr, l->name.len);
        p[l->name.len] = '\0';
        p += l->name.len + 1;
        r->labels[i + 1].value = p;
        memcpy(p, l->value.ptr, l->value.len);
        p[l->value.len] = '\0';
        p += l->value.len + 1;
    }
    return s->nlabels + 1;
}

/* 1-based column of the end of the sample's line (where a timestamp would go). */
static size_t end_col(const struct input *in, const struct dw_expo_sample *s)
{
    const char *p = s->name.ptr;
    if (!in->data || p < in->data || p >= in->data + in->len)
        return 0;
    const char *end = in->data + in->len;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *bol = p;
    while (bol > in->data && bol[-1] != '\n')
        bol--;
    return (size_t)((nl ? nl : end) - bol) + 1;
}

static void series_error(struct import_run *r, const struct dw_expo_sample *s, size_t n, int rc)
{
    struct dw_buf b;
    dw_buf_init(&b, 4096);
    dw_tsdb_labels_format(r->labels, n, &b);
    const char *why = rc == DW_TSDB_ELIMIT
                          ? "over a limit (64 labels, 256-byte names, 4096-byte values, "
                            "10,000,000 series per import)"
                          : "not a valid series (metric or label name)";
    if (rc == DW_TSDB_EIO)
        set_error(r, 1, r->cur->path, s->line, 1,
                  "check the space and permissions of the data directory; the log line above "
                  "has the reason",
                  "writing blocks failed");
    else
        set_error(r, 2, r->cur->path, s->line, 1, "fix or remove the series in the input",
                  "series %s is %s", b.data ? b.data : "{}", why);
    dw_buf_release(&b);
}

/*
 * Drops the mapped pages the parser has left behind from memory, so a file of
 * several GB does not stay resident. The parser may still point back into
 * them (family names): a private mapping of an unchanged file faults them in
 * again from the file.
 */
static void release_behind(struct input *in, const char *pos)
{
    if (!in->mapped || pos < in->data || pos > in->data + in->len)
        return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t upto = (size_t)(pos - in->data);
    upto = upto > RELEASE_MARGIN ? (upto - RELEASE_MARGIN) / page * page : 0;
    if (upto >= in->released + RELEASE_CHUNK) {
        madvise(in->data + in->released, upto - in->released, MADV_DONTNEED);
        in->released = upto;
    }
}

static int on_sample(void *ctx, const struct dw_expo_sample *s)
{
    struct import_run *r = ctx;
    if (interrupted) {
        set_error(r, 1, r->cur->path, s->line, 0, NULL, "interrupted");
        return 1;
    }
    if (!s->has_timestamp) {
        set_error(r, 2, r->cur->path, s->line, end_col(r->cur, s),
                  "backfill needs a timestamp on every sample (OpenMetrics: seconds, text "
                  "format: milliseconds), e.g. 'up{job=\"a\"} 1 1700000000'",
                  "sample has no timestamp");
        return 1;
    }
    if (r->cur->samples == 0 && r->cur->fmt_auto && r->cur->fmt == DW_EXPO_TEXT &&
        s->timestamp_ms < SECONDS_LIKE_MS && s->timestamp_ms > -SECONDS_LIKE_MS) {
        set_error(r, 2, r->cur->path, s->line, end_col(r->cur, s),
                  "an OpenMetrics file must end with '# EOF' (or pass --format openmetrics); "
                  "to import it as text format anyway, pass --format text",
                  "timestamp %lld looks like seconds, but the file is read as text format "
                  "(milliseconds)",
                  (long long)s->timestamp_ms);
        return 1;
    }
    size_t n = sample_labels(r, s);
    int rc = dw_tsdb_importer_add(r->im, r->labels, n, s->timestamp_ms, s->value);
    if (rc) {
        series_error(r, s, n, rc);
        return 1;
    }
    r->cur->samples++;
    if ((++r->samples & 0xffff) == 0) {
        release_behind(r->cur, s->name.ptr);
        int64_t now = dw_mono_ns();
        if (r->progress && now - r->last_progress_ns >= PROGRESS_EVERY_NS) {
            r->last_progress_ns = now;
            progress_line(r, s->name.ptr, NULL);
        }
    }
    return 0;
}

static const char *parse_hint(enum dw_expo_errcode code, enum dw_expo_format fmt)
{
    if (code == DW_EXPO_ELIMIT)
        return "split the series or shorten its labels; the limits are those of ingestion";
    if (fmt == DW_EXPO_OPENMETRICS)
        return "read as OpenMetrics 1.0 (one space between tokens, families not interleaved, "
               "'# EOF' at the end); --format text reads Prometheus text format instead";
    return "read as Prometheus text format 0.0.4 (timestamps in milliseconds); "
           "--format openmetrics reads OpenMetrics instead";
}

static int import_file(struct import_run *r, struct dw_expo_parser *p, struct input *in)
{
    r->cur = in;
    struct dw_expo_opts o;
    dw_expo_opts_init(&o);
    o.format = in->fmt;
    o.max_samples = SIZE_MAX; /* the importer bounds memory, not the parser */
    o.keep_created = true;    /* promtool imports _created as series */
    o.single_pass = true;     /* an error rolls the whole run back */
    struct dw_expo_handler h = {.sample = on_sample, .ctx = r};
    struct dw_expo_error e;
    int rc = dw_expo_parse(p, &o, in->data ? in->data : "", in->len, &h, &e);
    if (rc == 0) {
        r->bytes_before += in->len;
        return 0;
    }
    if (e.code == DW_EXPO_EABORTED)
        return -1; /* the callback set the error */
    /* "line 12 col 20: expected ..." -> "expected ..." (the position goes in front) */
    const char *msg = e.msg;
    const char *colon = strstr(msg, ": ");
    if (dw_str_has_prefix(msg, "line ") && colon)
        msg = colon + 2;
    set_error(r, 2, in->path, e.line, e.col, parse_hint(e.code, in->fmt), "%s", msg);
    return -1;
}

/* An importer on the blocks dir; NULL with *err (caller frees) when the directory is unusable. */
static struct dw_tsdb_importer *open_importer(struct import_run *r, bool compact_only, char **err)
{
    struct dw_tsdb_import_opts o;
    dw_tsdb_import_opts_init(&o);
    o.dir = r->blocks_dir;
    o.retention_ms = r->retention_ms;
    o.no_compact = !compact_only;
    o.max_buffered_samples = (size_t)r->max_buffered;
    *err = NULL;
    struct dw_tsdb_importer *im = dw_tsdb_importer_new(&o, err);
    if (!im && !*err)
        *err = dw_strdup("unknown error");
    return im;
}

/* Parses every file into the importer and flushes; on error the caller rolls back. */
static int import_all(struct import_run *r)
{
    r->tsdb_existed = exists(r->tsdb_dir);
    r->blocks_existed = exists(r->blocks_dir);
    if (!r->tsdb_existed && mkdir(r->tsdb_dir, 0755) < 0 && errno != EEXIST) {
        set_error(r, 1, r->tsdb_dir, 0, 0, NULL, "cannot create: %s", strerror(errno));
        return -1;
    }
    char *err = NULL;
    r->im = open_importer(r, false, &err);
    if (!r->im) {
        set_error(r, 1, r->blocks_dir, 0, 0, "check the permissions of the data directory",
                  "cannot open the directory of blocks: %s", err);
        free(err);
        return -1;
    }
    /* After the open, which deletes leftovers of crashed runs: what is ours is new. */
    r->before = list_dir(r->blocks_dir, &r->nbefore);
    r->have_before = true;
    struct dw_expo_parser *p = dw_expo_parser_new();
    int rc = 0;
    for (size_t i = 0; i < r->nin && rc == 0; i++) {
        r->cur_index = i;
        rc = import_file(r, p, &r->in[i]);
    }
    dw_expo_parser_free(&p);
    if (rc) {
        dw_tsdb_importer_abort(&r->im);
        return -1;
    }
    r->cur = NULL;
    progress_line(r, NULL, "writing blocks");
    rc = dw_tsdb_importer_finish(&r->im, &r->st, &err);
    if (rc) {
        set_error(r, 1, r->blocks_dir, 0, 0,
                  "check the space and permissions of the data directory",
                  "writing blocks failed: %s", err ? err : dw_tsdb_strerror(rc));
        free(err);
        return -1;
    }
    if (interrupted) { /* while the blocks were written: still undone before compaction */
        set_error(r, 1, NULL, 0, 0, NULL, "interrupted");
        return -1;
    }
    return 0;
}

/* Merges overlapping blocks and builds the larger ranges; failure leaves the import in place. */
static void compact(struct import_run *r)
{
    if (r->st.blocks == 0)
        return;
    progress_line(r, NULL, "compacting");
    char *err = NULL;
    struct dw_tsdb_importer *im = open_importer(r, true, &err);
    if (!im) {
        r->compact_err = err;
        return;
    }
    struct dw_tsdb_import_stats st;
    if (dw_tsdb_importer_finish(&im, &st, &err) != 0)
        r->compact_err = err ? err : dw_strdup("compaction failed");
    else
        r->compactions = st.compactions;
}

/* ---- reports ---- */

static void report_error(struct import_run *r, bool rolled_back)
{
    progress_clear(r);
    const struct import_error *e = &r->err;
    struct dw_buf pos;
    dw_buf_init(&pos, 0);
    if (e->file)
        dw_buf_puts(&pos, e->file);
    if (e->line)
        dw_buf_printf(&pos, ":%zu", e->line);
    if (e->line && e->col)
        dw_buf_printf(&pos, ":%zu", e->col);
    fprintf(stderr, "%s%s%s\n", pos.data ? pos.data : "", pos.data ? ": " : "", e->msg);
    if (e->hint)
        fprintf(stderr, "  hint: %s\n", e->hint);
    if (rolled_back)
        fprintf(stderr, "nothing was imported; %s is unchanged\n", r->data_dir);
    if (r->json) {
        json_t *o =
            json_pack("{s:b,s:{s:s?,s:I,s:I,s:s,s:s?},s:b,s:s?}", "ok", 0, "error", "file", e->file,
                      "line", (json_int_t)e->line, "col", (json_int_t)e->col, "message", e->msg,
                      "hint", e->hint, "rolled_back", rolled_back, "data_dir", r->data_dir);
        char *s = json_dumps(o, JSON_INDENT(2));
        puts(s);
        free(s);
        json_decref(o);
    }
    dw_buf_release(&pos);
}

static void report_json(struct import_run *r)
{
    char mint[40] = "", maxt[40] = "", ret[32];
    if (r->st.samples) {
        dw_format_rfc3339(r->st.mint, mint, sizeof mint);
        dw_format_rfc3339(r->st.maxt, maxt, sizeof maxt);
    }
    dw_format_duration(r->retention_ms, ret, sizeof ret);
    json_t *files = json_array();
    for (size_t i = 0; i < r->nin; i++)
        json_array_append_new(
            files, json_pack("{s:s,s:s,s:I,s:I}", "path", r->in[i].path, "format",
                             r->in[i].fmt == DW_EXPO_OPENMETRICS ? "openmetrics" : "text", "bytes",
                             (json_int_t)r->in[i].len, "samples", (json_int_t)r->in[i].samples));
    json_t *o =
        json_pack("{s:b,s:s,s:s,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s?,s:s?,s:I,s:I,s:s,s:f,s:s?}",
                  "ok", 1, "data_dir", r->data_dir, "blocks_dir", r->blocks_dir, "files", files,
                  "bytes", (json_int_t)r->bytes_total, "samples", (json_int_t)r->st.samples,
                  "series", (json_int_t)r->st.series, "blocks_written", (json_int_t)r->st.blocks,
                  "compactions", (json_int_t)r->compactions, "duplicates",
                  (json_int_t)r->st.duplicates, "too_old", (json_int_t)r->st.too_old, "min_time",
                  r->st.samples ? mint : NULL, "max_time", r->st.samples ? maxt : NULL,
                  "min_time_ms", (json_int_t)r->st.mint, "max_time_ms", (json_int_t)r->st.maxt,
                  "retention", ret, "seconds", r->seconds, "compaction_error", r->compact_err);
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
    puts(s);
    free(s);
    json_decref(o);
}

static void report_text(struct import_run *r)
{
    char samples[32], series[32], size[32], rate[32], blocks[32], ret[32];
    fmt_count(r->st.samples, samples, sizeof samples);
    fmt_count(r->st.series, series, sizeof series);
    fmt_count(r->st.blocks, blocks, sizeof blocks);
    fmt_bytes((double)r->bytes_total, size, sizeof size);
    fmt_rate(r->seconds > 0 ? (double)r->st.samples / r->seconds : 0, rate, sizeof rate);
    dw_format_duration(r->retention_ms, ret, sizeof ret);
    printf("imported %s samples of %s series from %zu file%s (%s) in %.2f s (%ssamples/s)\n",
           samples, series, r->nin, r->nin == 1 ? "" : "s", size, r->seconds, rate);
    if (r->st.samples) {
        char mint[40], maxt[40], span[32];
        dw_format_rfc3339(r->st.mint, mint, sizeof mint);
        dw_format_rfc3339(r->st.maxt, maxt, sizeof maxt);
        dw_format_duration(r->st.maxt - r->st.mint, span, sizeof span);
        printf("  time range   %s to %s (%s)\n", mint, maxt, span);
    }
    printf("  blocks       %s written to %s, %llu compaction%s\n", blocks, r->blocks_dir,
           (unsigned long long)r->compactions, r->compactions == 1 ? "" : "s");
    if (r->st.duplicates) {
        fmt_count(r->st.duplicates, samples, sizeof samples);
        printf("  duplicates   %s samples replaced by a later one with the same timestamp\n",
               samples);
    }
    if (r->st.too_old) {
        fmt_count(r->st.too_old, samples, sizeof samples);
        printf("  dropped      %s samples older than the retention (%s); --retention 100y "
               "keeps them\n",
               samples, ret);
    }
    if (r->st.samples)
        printf("serve it with: dojowatch serve --data %s --retention %s ...\n", r->data_dir, ret);
}

static void run_release(struct import_run *r)
{
    dw_tsdb_importer_abort(&r->im);
    inputs_release(r);
    unlock_data_dir(r);
    free_names(r->before, r->nbefore);
    free(r->data_dir);
    free(r->tsdb_dir);
    free(r->blocks_dir);
    free(r->lock_path);
    free(r->sbuf);
    free(r->err.msg);
    free(r->err.hint);
    free(r->compact_err);
}

static void install_signals(struct sigaction *old_int, struct sigaction *old_term)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C ends the process at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, old_int);
    sigaction(SIGTERM, &sa, old_term);
}

int dw_cli_import(int argc, char **argv)
{
    struct import_run r = {.format = DW_EXPO_AUTO, .lock_fd = -1};
    int status = parse_args(&r, argc, argv);
    if (status < 0)
        status = resolve_settings(&r);
    if (status >= 0) {
        run_release(&r);
        return status;
    }
    r.in = dw_calloc((size_t)(argc - optind), sizeof *r.in);
    for (int i = optind; i < argc; i++)
        if (open_input(&r, &r.in[r.nin++], argv[i]) < 0)
            break;
    if (!r.err.status)
        lock_data_dir(&r);
    if (r.err.status) {
        report_error(&r, false);
        status = r.err.status;
        run_release(&r);
        return status;
    }
    struct sigaction old_int, old_term;
    install_signals(&old_int, &old_term);
    r.progress = isatty(STDERR_FILENO);
    r.start_ns = r.last_progress_ns = dw_mono_ns();
    int rc = import_all(&r);
    sigaction(SIGINT, &old_int, NULL);   /* from here on a signal ends the process: */
    sigaction(SIGTERM, &old_term, NULL); /* compaction is crash-safe */
    if (rc < 0) {
        rollback(&r);
        report_error(&r, true);
    } else {
        compact(&r);
        r.seconds = since_s(r.start_ns);
        progress_clear(&r);
        if (r.json)
            report_json(&r);
        else
            report_text(&r);
        if (r.compact_err)
            fprintf(stderr,
                    "%s: compacting the imported blocks failed: %s\n  hint: the blocks are "
                    "complete and readable; the daemon merges them at its next maintenance\n",
                    r.blocks_dir, r.compact_err);
    }
    status = r.err.status ? r.err.status : r.compact_err ? 1 : 0;
    run_release(&r);
    return status;
}
