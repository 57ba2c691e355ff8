/*
 * host.c - the built-in host collector: the metrics of node_exporter 1.5's
 * default Linux collectors, read straight from /proc and /sys, so existing
 * node_exporter rules and dashboards work unchanged.
 *
 * DESIGN
 * Compatibility is the contract: metric names, types, HELP texts, label
 * names and label semantics are those of prometheus-node-exporter 1.5.0 as
 * Debian 12 ships it (checked against its output, which tests/integration/
 * test_host.py compares with ours). Collectors and their sources:
 *   cpu        /proc/stat cpuN lines -> node_cpu_seconds_total{cpu,mode},
 *              node_cpu_guest_seconds_total{cpu,mode} (ticks / USER_HZ)
 *   diskstats  /proc/diskstats, node_exporter's default device exclusion,
 *              node_disk_info and friends from <rootfs>/run/udev/data
 *   filefd     /proc/sys/fs/file-nr
 *   filesystem /proc/1/mounts (else /proc/mounts), statfs(<rootfs>/<mount>),
 *              node_exporter's default excluded mount points and fs types
 *   loadavg    /proc/loadavg
 *   meminfo    /proc/meminfo: every field, "Active(anon)" -> Active_anon,
 *              kB -> bytes with a _bytes suffix
 *   netdev     /proc/net/dev (lo excluded, as Debian's default), plus
 *              rx_nohandler from /sys/class/net/<dev>/statistics
 *   netstat    /proc/net/{netstat,snmp,snmp6}, the default field selection
 *   sockstat   /proc/net/sockstat{,6}
 *   stat       /proc/stat: boot time, context switches, forks, interrupts,
 *              running and blocked processes
 *   time       the clock, the time zone, /sys/devices/system/clocksource
 *   timex      adjtimex(2): NTP synchronisation state, offset, errors
 *   uname      uname(2)
 *   vmstat     /proc/vmstat, the default field selection
 * plus node_scrape_collector_{success,duration_seconds}{collector}.
 * /proc/stat is read once and shared by cpu and stat.
 *
 * Each collector appends to the output; when it fails its partial output is
 * cut off again and it is reported with success 0, the others go on. A
 * family's HELP/TYPE header is written with its first sample, so a family
 * without samples is left out like node_exporter does. Families whose
 * names come from file contents (meminfo, vmstat, netstat, sockstat) are
 * sorted and de-duplicated, so the output always parses. Label values are
 * escaped and made valid UTF-8; absurdly long names (> 200 bytes) and label
 * values (> 1 KiB) drop their series instead of making the whole output
 * unparseable.
 *
 * Deliberate differences, all invisible to rules and dashboards: values are
 * printed as exact integers where they are integers; mount points are
 * unescaped fully (\040, \011, \012, \134), not only \040 and \011; a line
 * the kernel should not produce is skipped instead of failing its
 * collector; duplicate mounts are dropped by (device, fstype, mountpoint).
 * Like node_exporter, filesystem sizes are blocks * f_bsize. node_time_seconds
 * reads dw_now_ms(), so it follows the daemon's test clock. Not implemented:
 * node_exporter's other default collectors (netclass, pressure, entropy,
 * conntrack, arp, os, hwmon, thermal_zone, softnet, cpufreq, ...).
 *
 * Threads: dw_host_collect() is reentrant. A statfs() on a dead network
 * mount can hang, so the filesystem collector runs the statfs() calls of
 * one collection on a helper thread and waits at most 5 s for all of them:
 * mounts not done by then report node_filesystem_device_error 1, and the
 * one that hangs is remembered (process-wide, under a mutex) and skipped by
 * later collections until its statfs() returns, when the abandoned helper
 * removes it and exits. This is node_exporter's "stuck mount" rule.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timex.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "collect/host.h"
#include "core/core.h"

#define MAX_FILE_BYTES (64u << 20) /* /proc/stat of a large machine is far smaller */
#define STATFS_TIMEOUT_MS 5000     /* node_exporter's --collector.filesystem.mount-timeout */
#define SECTOR_BYTES 512u
/* Bounds that keep the output within the exposition parser's limits (4096 bytes
 * per name or escaped label value): longer names from file contents and series
 * with longer label values are dropped. */
#define MAX_NAME_BYTES 200
#define MAX_LABEL_BYTES 1024

#define LABELS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- node_exporter's default selections (its flags' defaults, \d spelt [0-9]) ---- */

static const char disk_exclude[] = "^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme[0-9]+n[0-9]+p)[0-9]+$";
static const char mount_exclude[] =
    "^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
static const char fstype_exclude[] =
    "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|"
    "iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|"
    "sysfs|tracefs)$";
static regex_t re_disk, re_mount, re_fstype;
static bool re_ok;
static pthread_once_t re_once = PTHREAD_ONCE_INIT;

static void re_init(void)
{
    int f = REG_EXTENDED | REG_NOSUB;
    re_ok = regcomp(&re_disk, disk_exclude, f) == 0 && regcomp(&re_mount, mount_exclude, f) == 0 &&
            regcomp(&re_fstype, fstype_exclude, f) == 0;
}

static bool rx_match(const regex_t *re, const char *s)
{
    return regexec(re, s, 0, NULL, 0) == 0;
}

/* ---- one collection ---- */

struct host {
    const char *proc, *sys, *rootfs;
    struct dw_buf *out;
    struct dw_buf file; /* scratch: the file being parsed */
    struct dw_buf stat; /* /proc/stat, read once for cpu and stat */
    int stat_errno;     /* -1 not read yet, 0 read, else why reading failed */
    char *why;          /* why the running collector failed (heap) */
};

static int fail(struct host *h, const char *fmt, ...) DW_PRINTF(2, 3);

static int fail(struct host *h, const char *fmt, ...)
{
    if (!h->why) {
        va_list ap;
        va_start(ap, fmt);
        h->why = dw_vasprintf(fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---- output ---- */

/* Length of the valid UTF-8 sequence at s (a byte >= 0x80), 0 when invalid. */
static size_t utf8_seq(const unsigned char *s)
{
    size_t n;
    unsigned min;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        n = 2, min = 0x80;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        n = 3, min = 0x800;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        n = 4, min = 0x10000;
    else
        return 0;
    unsigned cp = s[0] & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* Appends v as a label value: escaped, invalid UTF-8 bytes replaced by U+FFFD. */
static void put_label_value(struct dw_buf *o, const char *v)
{
    const unsigned char *s = (const unsigned char *)v;
    while (*s) {
        size_t run = 0;
        while (s[run] && s[run] < 0x80 && s[run] != '"' && s[run] != '\\' && s[run] != '\n')
            run++;
        dw_buf_append(o, s, run);
        s += run;
        if (!*s)
            break;
        size_t n = *s >= 0x80 ? utf8_seq(s) : 0;
        if (n)
            dw_buf_append(o, s, n);
        else if (*s < 0x80)
            dw_buf_puts(o, *s == '"' ? "\\\"" : *s == '\\' ? "\\\\" : "\\n");
        else
            dw_buf_puts(o, "\xEF\xBF\xBD");
        s += n ? n : 1;
    }
}

/* Appends v and a newline: exact integers, else the shortest of 15 or 17 digits. */
static void put_value(struct dw_buf *o, double v)
{
    char num[40];
    if (isnan(v))
        dw_buf_puts(o, "NaN\n");
    else if (isinf(v))
        dw_buf_puts(o, v > 0 ? "+Inf\n" : "-Inf\n");
    else {
        if (v == floor(v) && fabs(v) < 1e18)
            snprintf(num, sizeof num, "%.0f", v);
        else if (snprintf(num, sizeof num, "%.15g", v) > 0 && strtod(num, NULL) != v)
            snprintf(num, sizeof num, "%.17g", v);
        dw_buf_puts(o, num);
        dw_buf_putc(o, '\n');
    }
}

/* A metric family; its header is written with its first sample. */
struct fam {
    const char *name;
    const char *help;
    const char *type;
    bool started;
};

static void fam_header(struct dw_buf *o, struct fam *f)
{
    f->started = true;
    dw_buf_puts(o, "# HELP ");
    dw_buf_puts(o, f->name);
    dw_buf_putc(o, ' ');
    for (const char *p = f->help; *p; p++) {
        if (*p == '\\' || *p == '\n')
            dw_buf_puts(o, *p == '\\' ? "\\\\" : "\\n");
        else
            dw_buf_putc(o, *p);
    }
    dw_buf_puts(o, "\n# TYPE ");
    dw_buf_puts(o, f->name);
    dw_buf_putc(o, ' ');
    dw_buf_puts(o, f->type);
    dw_buf_putc(o, '\n');
}

/* Writes the header if needed and `name{k="v",...} `; labels end with NULL. */
static struct dw_buf *fam_series(struct host *h, struct fam *f, const char *const *labels)
{
    struct dw_buf *o = h->out;
    if (!f->started)
        fam_header(o, f);
    dw_buf_puts(o, f->name);
    for (size_t i = 0; labels && labels[i]; i += 2) {
        dw_buf_putc(o, i ? ',' : '{');
        dw_buf_puts(o, labels[i]);
        dw_buf_puts(o, "=\"");
        put_label_value(o, labels[i + 1]);
        dw_buf_putc(o, '"');
    }
    dw_buf_puts(o, labels && labels[0] ? "} " : " ");
    return o;
}

static bool labels_fit(const char *const *labels)
{
    for (size_t i = 0; labels && labels[i]; i += 2)
        if (strlen(labels[i + 1]) > MAX_LABEL_BYTES)
            return false;
    return true;
}

static void fam_f64(struct host *h, struct fam *f, const char *const *labels, double v)
{
    if (labels_fit(labels))
        put_value(fam_series(h, f, labels), v);
}

static void fam_u64(struct host *h, struct fam *f, const char *const *labels, uint64_t v)
{
    if (!labels_fit(labels))
        return;
    char num[24];
    int n = snprintf(num, sizeof num, "%" PRIu64 "\n", v);
    dw_buf_append(fam_series(h, f, labels), num, (size_t)n);
}

/* ---- reading ---- */

/* root/rel into dst; -1 with ENAMETOOLONG when it does not fit. */
static int join(char *dst, size_t size, const char *root, const char *rel)
{
    int n = snprintf(dst, size, "%s/%s", root, rel);
    if (n < 0 || (size_t)n >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/* Reads a whole file into b (NUL-terminated). 0, or -1 with errno. */
static int slurp(struct dw_buf *b, const char *path)
{
    b->len = 0;
    b->overflow = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char chunk[16384];
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -1 : 0;
            break;
        }
        if (dw_buf_append(b, chunk, (size_t)n) < 0) {
            errno = EFBIG;
            rc = -1;
            break;
        }
    }
    int e = errno;
    close(fd);
    errno = e;
    if (rc == 0)
        dw_buf_append(b, "", 0); /* data non-NULL even for an empty file */
    return rc;
}

/* Reads root/rel into b; on failure records why and returns -1. */
static int read_rel(struct host *h, struct dw_buf *b, const char *root, const char *rel)
{
    char path[PATH_MAX];
    if (join(path, sizeof path, root, rel) < 0 || slurp(b, path) < 0)
        return fail(h, "%s/%s: %s", root, rel, strerror(errno));
    return 0;
}

/* Like read_rel, but a missing file is 1 (not an error). */
static int read_optional(struct host *h, struct dw_buf *b, const char *root, const char *rel)
{
    char path[PATH_MAX];
    if (join(path, sizeof path, root, rel) == 0 && slurp(b, path) == 0)
        return 0;
    return errno == ENOENT ? 1 : fail(h, "%s/%s: %s", root, rel, strerror(errno));
}

/* Reads the start of a small file (sysfs) into buf without its final newline. */
static int read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return 0;
}

/* Cuts the next line out of *p, NUL-terminating it in place; NULL at the end. */
static char *next_line(char **p)
{
    char *s = *p;
    if (!*s)
        return NULL;
    char *nl = strchr(s, '\n');
    if (nl) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = s + strlen(s);
    }
    return s;
}

/* The next token of *s (blanks and newlines separate), NUL-terminated in place; NULL at the end. */
static char *next_token(char **s)
{
    char *p = *s;
    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    if (!*p) {
        *s = p;
        return NULL;
    }
    char *t = p;
    while (*p && *p != ' ' && *p != '\t' && *p != '\n')
        p++;
    if (*p)
        *p++ = '\0';
    *s = p;
    return t;
}

/* Splits s into at most max tokens, in place; the rest of s is ignored. */
static size_t split(char *s, char **f, size_t max)
{
    size_t n = 0;
    while (n < max && (f[n] = next_token(&s)))
        n++;
    return n;
}

static bool parse_u64(const char *s, uint64_t *v)
{
    if (*s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (*end || errno)
        return false;
    *v = x;
    return true;
}

static bool parse_f64(const char *s, double *v)
{
    char *end;
    double x = strtod(s, &end);
    if (end == s || *end)
        return false;
    *v = x;
    return true;
}

/* ---- families named after file contents: sorted, de-duplicated ---- */

struct nv {
    char *name, *help; /* heap */
    const char *type;
    double value;
    size_t seq; /* input order: of equal names the last wins */
};

struct nvs {
    struct nv *v;
    size_t n, cap;
};

/* "prefix" + key with every byte outside [A-Za-z0-9_] made '_' + "suffix" (heap). */
static char *metric_name(const char *prefix, const char *key, const char *suffix)
{
    char *s = dw_asprintf("%s%s%s", prefix, key, suffix);
    for (char *p = s + strlen(prefix); *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            *p = '_';
    return s;
}

/* Takes name and help; drops them when the name is too long to be real. */
static void nvs_add(struct nvs *l, char *name, char *help, const char *type, double value)
{
    if (strlen(name) > MAX_NAME_BYTES) {
        free(name);
        free(help);
        return;
    }
    l->v = dw_grow(l->v, &l->cap, l->n + 1, sizeof *l->v);
    l->v[l->n] = (struct nv){name, help, type, value, l->n};
    l->n++;
}

static int nv_cmp(const void *a, const void *b)
{
    const struct nv *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static void nvs_emit(struct host *h, struct nvs *l)
{
    if (l->n > 1)
        qsort(l->v, l->n, sizeof *l->v, nv_cmp);
    for (size_t i = 0; i < l->n; i++) {
        if (i + 1 < l->n && strcmp(l->v[i].name, l->v[i + 1].name) == 0)
            continue;
        struct fam f = {l->v[i].name, l->v[i].help, l->v[i].type, false};
        fam_f64(h, &f, NULL, l->v[i].value);
    }
}

static void nvs_release(struct nvs *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].name);
        free(l->v[i].help);
    }
    free(l->v);
    *l = (struct nvs){0};
}

/* ---- /proc/stat: cpu and stat ---- */

/* Copies /proc/stat, read once per collection, into the scratch buffer. */
static int load_stat(struct host *h)
{
    if (h->stat_errno < 0) {
        char path[PATH_MAX];
        bool ok = join(path, sizeof path, h->proc, "stat") == 0 && slurp(&h->stat, path) == 0;
        h->stat_errno = ok ? 0 : errno ? errno : EIO;
    }
    if (h->stat_errno)
        return fail(h, "%s/stat: %s", h->proc, strerror(h->stat_errno));
    h->file.len = 0;
    return dw_buf_append(&h->file, h->stat.data, h->stat.len);
}

struct cpu {
    char id[24];
    uint64_t t[10]; /* user nice system idle iowait irq softirq steal guest guest_nice */
};

static bool cpu_line(char *line, struct cpu *c)
{
    char *f[11];
    uint64_t id;
    if (strncmp(line, "cpu", 3) != 0 || line[3] < '0' || line[3] > '9')
        return false;
    size_t n = split(line, f, 11);
    if (n < 5 || !parse_u64(f[0] + 3, &id))
        return false;
    memset(c, 0, sizeof *c);
    snprintf(c->id, sizeof c->id, "%" PRIu64, id);
    for (size_t i = 1; i < n; i++)
        if (!parse_u64(f[i], &c->t[i - 1]))
            return false;
    return true;
}

static void emit_cpus(struct host *h, const struct cpu *cpus, size_t n)
{
    static const struct {
        const char *mode;
        int idx;
    } modes[] = {{"idle", 3},    {"iowait", 4}, {"irq", 5},    {"nice", 1},
                 {"softirq", 6}, {"steal", 7},  {"system", 2}, {"user", 0}};
    long tck = sysconf(_SC_CLK_TCK);
    double hz = tck > 0 ? (double)tck : 100.0;
    struct fam guest = {"node_cpu_guest_seconds_total",
                        "Seconds the CPUs spent in guests (VMs) for each mode.", "counter", false};
    for (size_t i = 0; i < n; i++) {
        fam_f64(h, &guest, LABELS("cpu", cpus[i].id, "mode", "nice"), cpus[i].t[9] / hz);
        fam_f64(h, &guest, LABELS("cpu", cpus[i].id, "mode", "user"), cpus[i].t[8] / hz);
    }
    struct fam secs = {"node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", "counter",
                       false};
    for (size_t i = 0; i < n; i++)
        for (size_t m = 0; m < DW_ARRAY_LEN(modes); m++)
            fam_f64(h, &secs, LABELS("cpu", cpus[i].id, "mode", modes[m].mode),
                    cpus[i].t[modes[m].idx] / hz);
}

static int collect_cpu(struct host *h)
{
    if (load_stat(h) < 0)
        return -1;
    struct cpu *cpus = NULL;
    size_t n = 0, cap = 0;
    char *p = h->file.data, *line;
    while ((line = next_line(&p))) {
        cpus = dw_grow(cpus, &cap, n + 1, sizeof *cpus);
        if (cpu_line(line, &cpus[n]))
            n++;
    }
    if (n)
        emit_cpus(h, cpus, n);
    free(cpus);
    return n ? 0 : fail(h, "%s/stat: no cpu lines", h->proc);
}

static const struct {
    const char *key;
    struct fam fam;
} stat_fields[] = {
    {"btime", {"node_boot_time_seconds", "Node boot time, in unixtime.", "gauge", false}},
    {"ctxt",
     {"node_context_switches_total", "Total number of context switches.", "counter", false}},
    {"processes", {"node_forks_total", "Total number of forks.", "counter", false}},
    {"intr", {"node_intr_total", "Total number of interrupts serviced.", "counter", false}},
    {"procs_blocked",
     {"node_procs_blocked", "Number of processes blocked waiting for I/O to complete.", "gauge",
      false}},
    {"procs_running",
     {"node_procs_running", "Number of processes in runnable state.", "gauge", false}},
};

static int collect_stat(struct host *h)
{
    uint64_t v[DW_ARRAY_LEN(stat_fields)];
    bool have[DW_ARRAY_LEN(stat_fields)] = {false}, any = false;
    if (load_stat(h) < 0)
        return -1;
    char *p = h->file.data, *line, *f[2];
    while ((line = next_line(&p))) {
        if (split(line, f, 2) != 2)
            continue;
        for (size_t i = 0; i < DW_ARRAY_LEN(stat_fields); i++)
            if (strcmp(f[0], stat_fields[i].key) == 0 && parse_u64(f[1], &v[i]))
                have[i] = any = true;
    }
    for (size_t i = 0; i < DW_ARRAY_LEN(stat_fields); i++) {
        struct fam fam = stat_fields[i].fam;
        if (have[i])
            fam_u64(h, &fam, NULL, v[i]);
    }
    return any ? 0 : fail(h, "%s/stat: no known fields", h->proc);
}

/* ---- meminfo, vmstat, loadavg, filefd ---- */

/* "Active(anon):  123 kB" -> node_memory_Active_anon_bytes 125952 */
static void meminfo_line(struct nvs *l, char *line)
{
    char *colon = strchr(line, ':'), *f[3];
    double v;
    if (!colon || colon == line)
        return;
    *colon = '\0';
    size_t n = split(colon + 1, f, 3);
    if (n < 1 || n > 2 || !parse_f64(f[0], &v))
        return;
    char *open = strchr(line, '('), *close = strrchr(line, ')');
    char *key = open && close > open ? dw_asprintf("%.*s_%.*s%s", (int)(open - line), line,
                                                   (int)(close - open - 1), open + 1, close + 1)
                                     : dw_strdup(line);
    char *name = metric_name("node_memory_", key, n == 2 ? "_bytes" : "");
    char *help = dw_asprintf("Memory information field %s.", name + strlen("node_memory_"));
    nvs_add(l, name, help, dw_str_has_suffix(name, "_total") ? "counter" : "gauge",
            n == 2 ? v * 1024 : v);
    free(key);
}

static int collect_meminfo(struct host *h)
{
    if (read_rel(h, &h->file, h->proc, "meminfo") < 0)
        return -1;
    struct nvs l = {0};
    char *p = h->file.data, *line;
    while ((line = next_line(&p)))
        meminfo_line(&l, line);
    nvs_emit(h, &l);
    int rc = l.n ? 0 : fail(h, "%s/meminfo: no fields", h->proc);
    nvs_release(&l);
    return rc;
}

/* node_exporter's default --collector.vmstat.fields: ^(oom_kill|pgpg|pswp|pg.*fault).* */
static bool vmstat_wanted(const char *key)
{
    return dw_str_has_prefix(key, "oom_kill") || dw_str_has_prefix(key, "pgpg") ||
           dw_str_has_prefix(key, "pswp") ||
           (dw_str_has_prefix(key, "pg") && strstr(key + 2, "fault"));
}

static int collect_vmstat(struct host *h)
{
    if (read_rel(h, &h->file, h->proc, "vmstat") < 0)
        return -1;
    struct nvs l = {0};
    char *p = h->file.data, *line, *f[2];
    double v;
    while ((line = next_line(&p))) {
        if (split(line, f, 2) != 2 || !vmstat_wanted(f[0]) || !parse_f64(f[1], &v))
            continue;
        char *name = metric_name("node_vmstat_", f[0], "");
        char *help = dw_asprintf("/proc/vmstat information field %s.", name + 12);
        nvs_add(&l, name, help, "untyped", v);
    }
    nvs_emit(h, &l);
    nvs_release(&l);
    return 0;
}

static int collect_loadavg(struct host *h)
{
    static const char *const names[3] = {"node_load1", "node_load5", "node_load15"};
    static const char *const helps[3] = {"1m load average.", "5m load average.",
                                         "15m load average."};
    char *f[3];
    double v[3];
    if (read_rel(h, &h->file, h->proc, "loadavg") < 0)
        return -1;
    if (split(h->file.data, f, 3) != 3 || !parse_f64(f[0], &v[0]) || !parse_f64(f[1], &v[1]) ||
        !parse_f64(f[2], &v[2]))
        return fail(h, "%s/loadavg: unexpected contents", h->proc);
    for (int i = 0; i < 3; i++) {
        struct fam fam = {names[i], helps[i], "gauge", false};
        fam_f64(h, &fam, NULL, v[i]);
    }
    return 0;
}

static int collect_filefd(struct host *h)
{
    char *f[3];
    uint64_t alloc, max;
    if (read_rel(h, &h->file, h->proc, "sys/fs/file-nr") < 0)
        return -1;
    if (split(h->file.data, f, 3) != 3 || !parse_u64(f[0], &alloc) || !parse_u64(f[2], &max))
        return fail(h, "%s/sys/fs/file-nr: unexpected contents", h->proc);
    struct fam a = {"node_filefd_allocated", "File descriptor statistics: allocated.", "gauge",
                    false};
    struct fam m = {"node_filefd_maximum", "File descriptor statistics: maximum.", "gauge", false};
    fam_u64(h, &a, NULL, alloc);
    fam_u64(h, &m, NULL, max);
    return 0;
}

/* ---- netdev ---- */

struct netdev {
    char *name;
    uint64_t v[16]; /* /proc/net/dev's columns */
    bool has_nohandler;
    uint64_t nohandler;
};

/* "  eth0: 1 2 3 ..." -> d; false for headers and malformed lines. */
static bool netdev_line(char *line, struct netdev *d)
{
    char *colon = strchr(line, ':'), *f[16], *name = line;
    if (!colon)
        return false;
    *colon = '\0';
    while (*name == ' ' || *name == '\t')
        name++;
    if (!*name || strcmp(name, "lo") == 0 || split(colon + 1, f, 16) != 16)
        return false;
    for (int i = 0; i < 16; i++)
        if (!parse_u64(f[i], &d->v[i]))
            return false;
    d->name = name;
    return true;
}

/* rx_nohandler is not in /proc/net/dev; node_exporter gets it over netlink. */
static void netdev_nohandler(struct host *h, struct netdev *d)
{
    char rel[PATH_MAX], path[PATH_MAX], num[32];
    int n = snprintf(rel, sizeof rel, "class/net/%s/statistics/rx_nohandler", d->name);
    d->has_nohandler = n > 0 && (size_t)n < sizeof rel &&
                       join(path, sizeof path, h->sys, rel) == 0 &&
                       read_small(path, num, sizeof num) == 0 && parse_u64(num, &d->nohandler);
}

static void emit_netdevs(struct host *h, struct netdev *devs, size_t n)
{
    static const struct {
        const char *name;
        int col; /* -1: rx_nohandler */
    } cols[] = {
        {"receive_bytes", 0},        {"receive_compressed", 6}, {"receive_drop", 3},
        {"receive_errs", 2},         {"receive_fifo", 4},       {"receive_frame", 5},
        {"receive_multicast", 7},    {"receive_nohandler", -1}, {"receive_packets", 1},
        {"transmit_bytes", 8},       {"transmit_carrier", 14},  {"transmit_colls", 13},
        {"transmit_compressed", 15}, {"transmit_drop", 11},     {"transmit_errs", 10},
        {"transmit_fifo", 12},       {"transmit_packets", 9},
    };
    char name[64], help[80];
    for (size_t c = 0; c < DW_ARRAY_LEN(cols); c++) {
        snprintf(name, sizeof name, "node_network_%s_total", cols[c].name);
        snprintf(help, sizeof help, "Network device statistic %s.", cols[c].name);
        struct fam f = {name, help, "counter", false};
        for (size_t i = 0; i < n; i++) {
            if (cols[c].col >= 0)
                fam_u64(h, &f, LABELS("device", devs[i].name), devs[i].v[cols[c].col]);
            else if (devs[i].has_nohandler)
                fam_u64(h, &f, LABELS("device", devs[i].name), devs[i].nohandler);
        }
    }
}

static int collect_netdev(struct host *h)
{
    if (read_rel(h, &h->file, h->proc, "net/dev") < 0)
        return -1;
    struct netdev *devs = NULL;
    size_t n = 0, cap = 0;
    char *p = h->file.data, *line;
    while ((line = next_line(&p))) {
        devs = dw_grow(devs, &cap, n + 1, sizeof *devs);
        if (netdev_line(line, &devs[n]))
            netdev_nohandler(h, &devs[n++]);
    }
    emit_netdevs(h, devs, n);
    free(devs);
    return 0;
}

/* ---- diskstats ---- */

/* The udev properties node_exporter reads: U_x indexes udev_keys. */
/* clang-format off */
enum {
    U_PATH, U_WWN, U_MODEL, U_SERIAL, U_REVISION, U_ATA, U_ATA_RPM, U_ATA_WC, U_ATA_WCE, U_DM_NAME,
    U_DM_UUID, U_DM_VG, U_DM_LV, U_DM_LAYER, U_N
};
static const char *const udev_keys[U_N] = {
    "ID_PATH", "ID_WWN", "ID_MODEL", "ID_SERIAL_SHORT", "ID_REVISION", "ID_ATA",
    "ID_ATA_ROTATION_RATE_RPM", "ID_ATA_WRITE_CACHE", "ID_ATA_WRITE_CACHE_ENABLED", "DM_NAME",
    "DM_UUID", "DM_VG_NAME", "DM_LV_NAME", "DM_LV_LAYER",
};
/* clang-format on */

struct disk {
    char *name; /* heap */
    char major[24], minor[24];
    uint64_t v[17];
    size_t nv;
    char *udev[U_N]; /* heap or NULL */
};

enum disk_unit { D_COUNT, D_SECTORS_AS_BYTES, D_MS_AS_SECONDS };

/* /proc/diskstats' columns after the name, in order (old kernels have fewer). */
static const struct {
    const char *name, *help, *type;
    enum disk_unit unit;
} disk_stats[17] = {
    {"reads_completed_total", "The total number of reads completed successfully.", "counter",
     D_COUNT},
    {"reads_merged_total", "The total number of reads merged.", "counter", D_COUNT},
    {"read_bytes_total", "The total number of bytes read successfully.", "counter",
     D_SECTORS_AS_BYTES},
    {"read_time_seconds_total", "The total number of seconds spent by all reads.", "counter",
     D_MS_AS_SECONDS},
    {"writes_completed_total", "The total number of writes completed successfully.", "counter",
     D_COUNT},
    {"writes_merged_total", "The number of writes merged.", "counter", D_COUNT},
    {"written_bytes_total", "The total number of bytes written successfully.", "counter",
     D_SECTORS_AS_BYTES},
    {"write_time_seconds_total", "This is the total number of seconds spent by all writes.",
     "counter", D_MS_AS_SECONDS},
    {"io_now", "The number of I/Os currently in progress.", "gauge", D_COUNT},
    {"io_time_seconds_total", "Total seconds spent doing I/Os.", "counter", D_MS_AS_SECONDS},
    {"io_time_weighted_seconds_total", "The weighted # of seconds spent doing I/Os.", "counter",
     D_MS_AS_SECONDS},
    {"discards_completed_total", "The total number of discards completed successfully.", "counter",
     D_COUNT},
    {"discards_merged_total", "The total number of discards merged.", "counter", D_COUNT},
    {"discarded_sectors_total", "The total number of sectors discarded successfully.", "counter",
     D_COUNT},
    {"discard_time_seconds_total", "This is the total number of seconds spent by all discards.",
     "counter", D_MS_AS_SECONDS},
    {"flush_requests_total", "The total number of flush requests completed successfully", "counter",
     D_COUNT},
    {"flush_requests_time_seconds_total",
     "This is the total number of seconds spent by all flush requests.", "counter",
     D_MS_AS_SECONDS},
};

/* "   8  0 sda 1 2 3 ..." -> d; false when excluded or malformed. */
static bool disk_line(char *line, struct disk *d)
{
    char *f[3 + 17];
    uint64_t maj, min;
    size_t n = split(line, f, DW_ARRAY_LEN(f));
    if (n < 4 || !parse_u64(f[0], &maj) || !parse_u64(f[1], &min) || rx_match(&re_disk, f[2]))
        return false;
    memset(d, 0, sizeof *d);
    snprintf(d->major, sizeof d->major, "%" PRIu64, maj);
    snprintf(d->minor, sizeof d->minor, "%" PRIu64, min);
    d->nv = n - 3;
    for (size_t i = 0; i < d->nv; i++)
        if (!parse_u64(f[3 + i], &d->v[i]))
            return false;
    d->name = dw_strdup(f[2]);
    return true;
}

/* The udev database entry of a block device: "E:KEY=value" lines. Missing is fine. */
static void disk_udev(struct host *h, struct disk *d)
{
    char rel[64], path[PATH_MAX];
    snprintf(rel, sizeof rel, "run/udev/data/b%s:%s", d->major, d->minor);
    if (join(path, sizeof path, h->rootfs, rel) < 0 || slurp(&h->file, path) < 0)
        return;
    char *p = h->file.data, *line;
    while ((line = next_line(&p))) {
        char *eq = strchr(line, '=');
        if (strncmp(line, "E:", 2) != 0 || !eq)
            continue;
        *eq = '\0';
        for (int k = 0; k < U_N; k++) {
            if (strcmp(line + 2, udev_keys[k]) == 0) {
                free(d->udev[k]);
                d->udev[k] = dw_strdup(eq + 1);
            }
        }
    }
}

static const char *udev(const struct disk *d, int k)
{
    return d->udev[k] ? d->udev[k] : "";
}

static void emit_disk_stats(struct host *h, const struct disk *disks, size_t n)
{
    char name[64];
    for (size_t s = 0; s < DW_ARRAY_LEN(disk_stats); s++) {
        snprintf(name, sizeof name, "node_disk_%s", disk_stats[s].name);
        struct fam f = {name, disk_stats[s].help, disk_stats[s].type, false};
        for (size_t i = 0; i < n; i++) {
            const char *const *l = LABELS("device", disks[i].name);
            if (s >= disks[i].nv)
                continue;
            if (disk_stats[s].unit == D_MS_AS_SECONDS)
                fam_f64(h, &f, l, (double)disks[i].v[s] / 1000.0);
            else if (disk_stats[s].unit == D_SECTORS_AS_BYTES)
                fam_u64(h, &f, l, disks[i].v[s] * SECTOR_BYTES);
            else
                fam_u64(h, &f, l, disks[i].v[s]);
        }
    }
}

static void emit_disk_ata(struct host *h, const struct disk *disks, size_t n)
{
    static const struct {
        int key;
        struct fam fam;
    } ata[] = {
        {U_ATA_RPM,
         {"node_disk_ata_rotation_rate_rpm", "ATA disk rotation rate in RPMs (0 for SSDs).",
          "gauge", false}},
        {U_ATA_WC, {"node_disk_ata_write_cache", "ATA disk has a write cache.", "gauge", false}},
        {U_ATA_WCE,
         {"node_disk_ata_write_cache_enabled", "ATA disk has its write cache enabled.", "gauge",
          false}},
    };
    double v;
    for (size_t a = 0; a < DW_ARRAY_LEN(ata); a++) {
        struct fam f = ata[a].fam;
        for (size_t i = 0; i < n; i++)
            if (strcmp(udev(&disks[i], U_ATA), "1") == 0 && disks[i].udev[ata[a].key] &&
                parse_f64(disks[i].udev[ata[a].key], &v))
                fam_f64(h, &f, LABELS("device", disks[i].name), v);
    }
}

static void emit_disk_info(struct host *h, const struct disk *disks, size_t n)
{
    struct fam dm = {"node_disk_device_mapper_info", "Info about disk device mapper.", "gauge",
                     false};
    for (size_t i = 0; i < n; i++) {
        const struct disk *d = &disks[i];
        if (*udev(d, U_DM_NAME))
            fam_f64(h, &dm,
                    LABELS("device", d->name, "lv_layer", udev(d, U_DM_LAYER), "lv_name",
                           udev(d, U_DM_LV), "name", udev(d, U_DM_NAME), "uuid", udev(d, U_DM_UUID),
                           "vg_name", udev(d, U_DM_VG)),
                    1);
    }
    struct fam info = {"node_disk_info", "Info of /sys/block/<block_device>.", "gauge", false};
    for (size_t i = 0; i < n; i++) {
        const struct disk *d = &disks[i];
        fam_f64(h, &info,
                LABELS("device", d->name, "major", d->major, "minor", d->minor, "model",
                       udev(d, U_MODEL), "path", udev(d, U_PATH), "revision", udev(d, U_REVISION),
                       "serial", udev(d, U_SERIAL), "wwn", udev(d, U_WWN)),
                1);
    }
}

static void free_disks(struct disk *disks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(disks[i].name);
        for (int k = 0; k < U_N; k++)
            free(disks[i].udev[k]);
    }
    free(disks);
}

static int collect_diskstats(struct host *h)
{
    if (!re_ok)
        return fail(h, "internal error: a default regular expression does not compile");
    if (read_rel(h, &h->file, h->proc, "diskstats") < 0)
        return -1;
    struct disk *disks = NULL;
    size_t n = 0, cap = 0;
    char *p = h->file.data, *line;
    while ((line = next_line(&p))) {
        disks = dw_grow(disks, &cap, n + 1, sizeof *disks);
        if (disk_line(line, &disks[n]))
            n++;
    }
    for (size_t i = 0; i < n; i++) /* reuses the scratch buffer: after parsing */
        disk_udev(h, &disks[i]);
    emit_disk_ata(h, disks, n);
    emit_disk_info(h, disks, n);
    emit_disk_stats(h, disks, n);
    free_disks(disks, n);
    return 0;
}

/* ---- filesystem: statfs() on a helper thread, with node_exporter's stuck-mount rule ---- */

static int (*statfs_hook)(const char *path, struct statfs *st);
static int statfs_timeout_ms = STATFS_TIMEOUT_MS;

void dw_host_set_statfs_hook(int (*fn)(const char *path, struct statfs *st), int timeout_ms)
{
    statfs_hook = fn;
    statfs_timeout_ms = timeout_ms > 0 ? timeout_ms : STATFS_TIMEOUT_MS;
}

/* Paths whose statfs() hangs; skipped until it returns. */
static pthread_mutex_t stuck_mu = PTHREAD_MUTEX_INITIALIZER;
static char **stuck;
static size_t nstuck, capstuck;

static bool stuck_has(const char *path)
{
    bool found = false;
    pthread_mutex_lock(&stuck_mu);
    for (size_t i = 0; i < nstuck && !found; i++)
        found = strcmp(stuck[i], path) == 0;
    pthread_mutex_unlock(&stuck_mu);
    return found;
}

static void stuck_add(const char *path)
{
    pthread_mutex_lock(&stuck_mu);
    stuck = dw_grow(stuck, &capstuck, nstuck + 1, sizeof *stuck);
    stuck[nstuck++] = dw_strdup(path);
    pthread_mutex_unlock(&stuck_mu);
}

static void stuck_remove(const char *path)
{
    pthread_mutex_lock(&stuck_mu);
    for (size_t i = 0; i < nstuck; i++) {
        if (strcmp(stuck[i], path) == 0) {
            free(stuck[i]);
            stuck[i] = stuck[--nstuck];
            break;
        }
    }
    pthread_mutex_unlock(&stuck_mu);
}

/* The statfs() calls of one collection; shared by the collector and its helper. */
struct statfs_job {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    bool abandoned; /* the collector stopped waiting; paths[marked] is in the stuck list */
    size_t marked;
    size_t n, done; /* paths[0..done) have results */
    char **paths;
    struct statfs *st;
    int *err; /* 0 or errno */
};

static void job_unref(struct statfs_job *j)
{
    pthread_mutex_lock(&j->mu);
    bool last = --j->refs == 0;
    pthread_mutex_unlock(&j->mu);
    if (!last)
        return;
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    for (size_t i = 0; i < j->n; i++)
        free(j->paths[i]);
    free(j->paths);
    free(j->st);
    free(j->err);
    free(j);
}

/* 0, or the errno of a failed statfs(). */
static int do_statfs(const char *path, struct statfs *st)
{
    int rc = statfs_hook ? statfs_hook(path, st) : statfs(path, st);
    return rc == 0 ? 0 : errno ? errno : EIO;
}

static void *statfs_worker(void *arg)
{
    struct statfs_job *j = arg;
    pthread_mutex_lock(&j->mu);
    while (!j->abandoned && j->done < j->n) {
        size_t i = j->done;
        pthread_mutex_unlock(&j->mu);
        struct statfs st;
        memset(&st, 0, sizeof st);
        int e = do_statfs(j->paths[i], &st);
        pthread_mutex_lock(&j->mu);
        if (!j->abandoned) {
            j->st[i] = st;
            j->err[i] = e;
            j->done++;
            pthread_cond_signal(&j->cv);
        }
    }
    if (j->abandoned)
        stuck_remove(j->paths[j->marked]);
    pthread_mutex_unlock(&j->mu);
    job_unref(j);
    return NULL;
}

static struct statfs_job *job_new(size_t n)
{
    struct statfs_job *j = dw_calloc(1, sizeof *j);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&j->mu, NULL);
    j->refs = 1;
    j->paths = dw_calloc(n ? n : 1, sizeof *j->paths);
    j->st = dw_calloc(n ? n : 1, sizeof *j->st);
    j->err = dw_calloc(n ? n : 1, sizeof *j->err);
    return j;
}

/* Starts the helper; without a thread the calls are made right here. */
static void job_start(struct statfs_job *j)
{
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    j->refs++;
    if (pthread_create(&t, &attr, statfs_worker, j) != 0) {
        j->refs--;
        for (; j->done < j->n; j->done++)
            j->err[j->done] = do_statfs(j->paths[j->done], &j->st[j->done]);
    }
    pthread_attr_destroy(&attr);
}

/* Waits for the helper until the deadline; then gives up on what is left. */
static void job_wait(struct statfs_job *j)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += statfs_timeout_ms / 1000;
    dl.tv_nsec += (long)(statfs_timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L)
        dl.tv_sec++, dl.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&j->mu);
    while (j->done < j->n)
        if (pthread_cond_timedwait(&j->cv, &j->mu, &dl) == ETIMEDOUT)
            break;
    if (j->done < j->n) {
        j->abandoned = true;
        j->marked = j->done;
        stuck_add(j->paths[j->marked]);
        for (size_t i = j->done; i < j->n; i++)
            j->err[i] = ETIMEDOUT;
    }
    pthread_mutex_unlock(&j->mu);
}

struct mount {
    char *device, *mountpoint, *fstype; /* heap */
    bool ro;
    int err; /* 0 when st holds the statfs() result */
    struct statfs st;
    size_t seq;
};

/* statfs() of every mount point (under rootfs), at most statfs_timeout_ms in all. */
static void statfs_mounts(struct host *h, struct mount *m, size_t n)
{
    struct statfs_job *j = job_new(n);
    size_t *idx = dw_calloc(n ? n : 1, sizeof *idx);
    bool root = strcmp(h->rootfs, "/") == 0;
    for (size_t i = 0; i < n; i++) {
        char *path =
            root ? dw_strdup(m[i].mountpoint) : dw_asprintf("%s%s", h->rootfs, m[i].mountpoint);
        m[i].err = ETIMEDOUT;
        if (stuck_has(path)) {
            free(path);
            continue;
        }
        idx[j->n] = i;
        j->paths[j->n++] = path;
    }
    if (j->n) {
        job_start(j);
        job_wait(j);
    }
    pthread_mutex_lock(&j->mu);
    for (size_t k = 0; k < j->n; k++) {
        m[idx[k]].err = j->err[k];
        m[idx[k]].st = j->st[k];
    }
    pthread_mutex_unlock(&j->mu);
    free(idx);
    job_unref(j);
}

/* /proc/mounts escapes blanks, newlines and backslashes as \ooo. */
static void unescape_octal(char *s)
{
    char *w = s;
    for (char *r = s; *r;) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7' && (r[1] != '0' || r[2] != '0' || r[3] != '0')) {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 4;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

static bool has_option(const char *opts, const char *opt)
{
    size_t n = strlen(opt);
    for (const char *p = opts; p; p = strchr(p, ',')) {
        p += *p == ',';
        if (strncmp(p, opt, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return true;
    }
    return false;
}

/* The mount point as node_exporter labels it: rootfs stripped off. */
static const char *strip_rootfs(const char *rootfs, const char *mp)
{
    size_t n = strlen(rootfs);
    while (n > 0 && rootfs[n - 1] == '/')
        n--;
    if (n == 0 || strncmp(mp, rootfs, n) != 0 || (mp[n] != '/' && mp[n] != '\0'))
        return mp;
    return mp[n] ? mp + n : "/";
}

static bool mount_line(struct host *h, char *line, struct mount *m)
{
    char *f[4];
    if (split(line, f, 4) != 4)
        return false;
    unescape_octal(f[1]);
    const char *mp = strip_rootfs(h->rootfs, f[1]);
    if (rx_match(&re_mount, mp) || rx_match(&re_fstype, f[2]))
        return false;
    m->device = dw_strdup(f[0]);
    m->mountpoint = dw_strdup(mp);
    m->fstype = dw_strdup(f[2]);
    m->ro = has_option(f[3], "ro");
    return true;
}

static int mount_cmp(const void *a, const void *b)
{
    const struct mount *x = a, *y = b;
    int c = strcmp(x->device, y->device);
    if (!c)
        c = strcmp(x->fstype, y->fstype);
    if (!c)
        c = strcmp(x->mountpoint, y->mountpoint);
    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* Sorts by labels and drops repeated label sets (the first mount wins). */
static size_t mounts_dedup(struct mount *m, size_t n)
{
    size_t w = 0;
    if (n > 1)
        qsort(m, n, sizeof *m, mount_cmp);
    for (size_t i = 0; i < n; i++) {
        if (w > 0 && strcmp(m[w - 1].device, m[i].device) == 0 &&
            strcmp(m[w - 1].fstype, m[i].fstype) == 0 &&
            strcmp(m[w - 1].mountpoint, m[i].mountpoint) == 0) {
            free(m[i].device);
            free(m[i].fstype);
            free(m[i].mountpoint);
            continue;
        }
        m[w++] = m[i];
    }
    return w;
}

enum fs_field { FS_AVAIL, FS_ERROR, FS_FILES, FS_FFREE, FS_FREE, FS_RO, FS_SIZE };

static double fs_value(const struct mount *m, enum fs_field f)
{
    double bs = (double)m->st.f_bsize;
    switch (f) {
    case FS_AVAIL: return (double)m->st.f_bavail * bs;
    case FS_ERROR: return m->err ? 1 : 0;
    case FS_FILES: return (double)m->st.f_files;
    case FS_FFREE: return (double)m->st.f_ffree;
    case FS_FREE: return (double)m->st.f_bfree * bs;
    case FS_RO: return m->ro ? 1 : 0;
    case FS_SIZE: return (double)m->st.f_blocks * bs;
    }
    return 0;
}

static void emit_mounts(struct host *h, const struct mount *m, size_t n)
{
    static const struct {
        enum fs_field field;
        struct fam fam;
    } fams[] = {
        {FS_AVAIL,
         {"node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes.",
          "gauge", false}},
        {FS_ERROR,
         {"node_filesystem_device_error",
          "Whether an error occurred while getting statistics for the given device.", "gauge",
          false}},
        {FS_FILES, {"node_filesystem_files", "Filesystem total file nodes.", "gauge", false}},
        {FS_FFREE,
         {"node_filesystem_files_free", "Filesystem total free file nodes.", "gauge", false}},
        {FS_FREE,
         {"node_filesystem_free_bytes", "Filesystem free space in bytes.", "gauge", false}},
        {FS_RO, {"node_filesystem_readonly", "Filesystem read-only status.", "gauge", false}},
        {FS_SIZE, {"node_filesystem_size_bytes", "Filesystem size in bytes.", "gauge", false}},
    };
    for (size_t k = 0; k < DW_ARRAY_LEN(fams); k++) {
        struct fam f = fams[k].fam;
        for (size_t i = 0; i < n; i++)
            if (!m[i].err || fams[k].field == FS_ERROR)
                fam_f64(h, &f,
                        LABELS("device", m[i].device, "fstype", m[i].fstype, "mountpoint",
                               m[i].mountpoint),
                        fs_value(&m[i], fams[k].field));
    }
}

/* /proc/1/mounts like node_exporter, else /proc/mounts (hidepid). */
static int read_mounts(struct host *h)
{
    char path[PATH_MAX];
    if (join(path, sizeof path, h->proc, "1/mounts") == 0 && slurp(&h->file, path) == 0)
        return 0;
    return read_rel(h, &h->file, h->proc, "mounts");
}

static int collect_filesystem(struct host *h)
{
    if (!re_ok)
        return fail(h, "internal error: a default regular expression does not compile");
    if (read_mounts(h) < 0)
        return -1;
    struct mount *m = NULL;
    size_t n = 0, cap = 0;
    char *p = h->file.data, *line;
    while ((line = next_line(&p))) {
        m = dw_grow(m, &cap, n + 1, sizeof *m);
        if (mount_line(h, line, &m[n])) {
            m[n].seq = n;
            n++;
        }
    }
    n = mounts_dedup(m, n);
    statfs_mounts(h, m, n);
    emit_mounts(h, m, n);
    for (size_t i = 0; i < n; i++) {
        free(m[i].device);
        free(m[i].mountpoint);
        free(m[i].fstype);
    }
    free(m);
    return 0;
}

/* ---- netstat and sockstat ---- */

static bool one_of(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

/*
 * node_exporter's default --collector.netstat.fields, applied to proto_field:
 * ^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|
 *   TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|
 *   Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|
 *   Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$
 * spelt out: glibc's regexec() made this collector ten times slower.
 */
static bool netstat_wanted(const char *proto, const char *field)
{
    static const char *const octets[] = {"InOctets", "OutOctets", NULL};
    static const char *const icmp[] = {"InMsgs", "OutMsgs", NULL};
    static const char *const tcpext[] = {"TCPSynRetrans", "TCPTimeouts", NULL};
    static const char *const tcp[] = {"ActiveOpens",  "InSegs",      "OutSegs",   "OutRsts",
                                      "PassiveOpens", "RetransSegs", "CurrEstab", NULL};
    static const char *const udp[] = {"InDatagrams",  "OutDatagrams", "NoPorts",
                                      "RcvbufErrors", "SndbufErrors", NULL};
    if (one_of(field, (const char *const[]){"InErrors", "InErrs", NULL}) ||
        dw_str_has_suffix(field, "_InErrors") || dw_str_has_suffix(field, "_InErrs"))
        return true;
    if (strcmp(proto, "Ip") == 0)
        return strcmp(field, "Forwarding") == 0;
    if (strcmp(proto, "Ip6") == 0 || strcmp(proto, "IpExt") == 0)
        return one_of(field, octets);
    if (strcmp(proto, "Icmp") == 0 || strcmp(proto, "Icmp6") == 0)
        return one_of(field, icmp);
    if (strcmp(proto, "TcpExt") == 0)
        return dw_str_has_prefix(field, "Listen") || dw_str_has_prefix(field, "Syncookies") ||
               one_of(field, tcpext);
    if (strcmp(proto, "Tcp") == 0)
        return one_of(field, tcp);
    if (strcmp(proto, "Udp") == 0 || strcmp(proto, "Udp6") == 0)
        return one_of(field, udp);
    return false;
}

/* Adds one netstat field when node_exporter's default selection wants it. */
static void netstat_add(struct nvs *l, const char *proto, const char *field, const char *value)
{
    double v;
    if (!netstat_wanted(proto, field) || !parse_f64(value, &v))
        return;
    char *key = dw_asprintf("%s_%s", proto, field);
    nvs_add(l, metric_name("node_netstat_", key, ""), dw_asprintf("Statistic %s%s.", proto, field),
            "untyped", v);
    free(key);
}

/* /proc/net/netstat and /proc/net/snmp: a line of names, then a line of values. */
static int netstat_pairs(struct host *h, const char *rel, struct nvs *l)
{
    if (read_rel(h, &h->file, h->proc, rel) < 0)
        return -1;
    char *p = h->file.data, *names, *values;
    while ((names = next_line(&p)) && (values = next_line(&p))) {
        char *colon = strchr(names, ':'), *vcolon = strchr(values, ':');
        if (!colon || !vcolon)
            return fail(h, "%s/%s: unexpected line", h->proc, rel);
        *colon = '\0';
        char *ns = colon + 1, *vs = vcolon + 1, *name, *value;
        while ((name = next_token(&ns)) && (value = next_token(&vs)))
            netstat_add(l, names, name, value);
        if (name || next_token(&vs))
            return fail(h, "%s/%s: %s: field count mismatch", h->proc, rel, names);
    }
    return 0;
}

/* /proc/net/snmp6: "Icmp6InMsgs 1" -> protocol Icmp6, field InMsgs. */
static int netstat_snmp6(struct host *h, struct nvs *l)
{
    int rc = read_optional(h, &h->file, h->proc, "net/snmp6");
    if (rc != 0)
        return rc < 0 ? -1 : 0; /* no IPv6 */
    char *p = h->file.data, *line, *f[2];
    while ((line = next_line(&p))) {
        char *six;
        if (split(line, f, 2) != 2 || !(six = strchr(f[0], '6')))
            continue;
        char *proto = dw_strndup(f[0], (size_t)(six + 1 - f[0]));
        netstat_add(l, proto, six + 1, f[1]);
        free(proto);
    }
    return 0;
}

static int collect_netstat(struct host *h)
{
    struct nvs l = {0};
    int rc = netstat_pairs(h, "net/netstat", &l);
    if (rc == 0)
        rc = netstat_pairs(h, "net/snmp", &l);
    if (rc == 0)
        rc = netstat_snmp6(h, &l);
    if (rc == 0)
        nvs_emit(h, &l);
    nvs_release(&l);
    return rc;
}

/* "TCP: inuse 4 orphan 0 tw 0 alloc 4 mem 204" -> node_sockstat_TCP_inuse ... */
static void sockstat_line(struct nvs *l, char *line, bool v6, double page)
{
    static const char *const keys[] = {"inuse", "orphan", "tw", "alloc", "mem", "memory"};
    char *f[32], *colon = strchr(line, ':');
    double v;
    if (!colon)
        return;
    *colon = '\0';
    size_t n = split(colon + 1, f, DW_ARRAY_LEN(f));
    bool sockets = strcmp(line, "sockets") == 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        if (!parse_f64(f[i + 1], &v))
            continue;
        if (sockets && !v6 && strcmp(f[i], "used") == 0)
            nvs_add(l, dw_strdup("node_sockstat_sockets_used"),
                    dw_strdup("Number of IPv4 sockets in use."), "gauge", v);
        for (size_t k = 0; k < DW_ARRAY_LEN(keys) && !sockets; k++) {
            if (strcmp(f[i], keys[k]) != 0)
                continue;
            char *key = dw_asprintf("%s_%s", line, keys[k]);
            nvs_add(l, metric_name("node_sockstat_", key, ""),
                    dw_asprintf("Number of %s sockets in state %s.", line, keys[k]), "gauge", v);
            if (k == 4) /* mem is in pages */
                nvs_add(l, metric_name("node_sockstat_", key, "_bytes"),
                        dw_asprintf("Number of %s sockets in state mem_bytes.", line), "gauge",
                        v * page);
            free(key);
        }
    }
}

static int collect_sockstat(struct host *h)
{
    static const char *const files[2] = {"net/sockstat", "net/sockstat6"};
    long ps = sysconf(_SC_PAGESIZE);
    struct nvs l = {0};
    int rc = 0;
    for (int v6 = 0; v6 < 2 && rc >= 0; v6++) {
        rc = read_optional(h, &h->file, h->proc, files[v6]);
        char *p = h->file.data, *line;
        while (rc == 0 && (line = next_line(&p)))
            sockstat_line(&l, line, v6, ps > 0 ? (double)ps : 4096.0);
    }
    if (rc >= 0)
        nvs_emit(h, &l);
    nvs_release(&l);
    return rc < 0 ? -1 : 0;
}

/* ---- time and uname ---- */

struct clocksource {
    char device[16];
    char available[1024];
    char current[128];
};

static bool clocksource_read(struct host *h, const char *entry, struct clocksource *cs)
{
    char rel[PATH_MAX], path[PATH_MAX];
    unsigned long dev;
    char *end;
    if (strncmp(entry, "clocksource", 11) != 0 || entry[11] < '0' || entry[11] > '9')
        return false;
    dev = strtoul(entry + 11, &end, 10);
    if (*end)
        return false;
    snprintf(cs->device, sizeof cs->device, "%lu", dev);
    snprintf(rel, sizeof rel, "devices/system/clocksource/%s/available_clocksource", entry);
    if (join(path, sizeof path, h->sys, rel) < 0 ||
        read_small(path, cs->available, sizeof cs->available) < 0)
        return false;
    snprintf(rel, sizeof rel, "devices/system/clocksource/%s/current_clocksource", entry);
    return join(path, sizeof path, h->sys, rel) == 0 &&
           read_small(path, cs->current, sizeof cs->current) == 0;
}

static void emit_clocksources(struct host *h, struct clocksource *cs, size_t n)
{
    struct fam avail = {"node_time_clocksource_available_info",
                        "Available clocksources read from '/sys/devices/system/clocksource'.",
                        "gauge", false};
    struct fam cur = {"node_time_clocksource_current_info",
                      "Current clocksource read from '/sys/devices/system/clocksource'.", "gauge",
                      false};
    char *f[32];
    for (size_t i = 0; i < n; i++) {
        size_t k = split(cs[i].available, f, DW_ARRAY_LEN(f));
        for (size_t j = 0; j < k; j++)
            fam_f64(h, &avail, LABELS("clocksource", f[j], "device", cs[i].device), 1);
    }
    for (size_t i = 0; i < n; i++)
        if (cs[i].current[0])
            fam_f64(h, &cur, LABELS("clocksource", cs[i].current, "device", cs[i].device), 1);
}

/* /sys/devices/system/clocksource/clocksourceN; missing is fine. */
static void clocksources(struct host *h)
{
    char path[PATH_MAX];
    DIR *d;
    if (join(path, sizeof path, h->sys, "devices/system/clocksource") < 0 || !(d = opendir(path)))
        return;
    struct clocksource *cs = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        cs = dw_grow(cs, &cap, n + 1, sizeof *cs);
        if (clocksource_read(h, e->d_name, &cs[n]))
            n++;
    }
    closedir(d);
    emit_clocksources(h, cs, n);
    free(cs);
}

static int collect_time(struct host *h)
{
    clocksources(h);
    int64_t ms = dw_now_ms();
    struct fam now = {"node_time_seconds", "System time in seconds since epoch (1970).", "gauge",
                      false};
    fam_f64(h, &now, NULL, (double)ms / 1000.0);
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (localtime_r(&t, &tm)) {
        struct fam tz = {"node_time_zone_offset_seconds", "System time zone offset in seconds.",
                         "gauge", false};
        fam_f64(h, &tz, LABELS("time_zone", tm.tm_zone ? tm.tm_zone : ""), (double)tm.tm_gmtoff);
    }
    return 0;
}

/* adjtimex(2) read-only, scaled like node_exporter's timex collector. */
static int collect_timex(struct host *h)
{
    struct timex tx = {.modes = 0};
    int state = adjtimex(&tx);
    if (state < 0)
        return fail(h, "adjtimex: %s", strerror(errno));
    const double ppm16 = 1000000.0 * 65536.0, us = 1e6;
    double div = (tx.status & STA_NANO) ? 1e9 : 1e6;
    const struct {
        const char *name, *help, *type;
        double v;
    } m[] = {
        {"estimated_error_seconds", "Estimated error in seconds.", "gauge", tx.esterror / us},
        {"frequency_adjustment_ratio", "Local clock frequency adjustment.", "gauge",
         1 + tx.freq / ppm16},
        {"loop_time_constant", "Phase-locked loop time constant.", "gauge", tx.constant},
        {"maxerror_seconds", "Maximum error in seconds.", "gauge", tx.maxerror / us},
        {"offset_seconds", "Time offset in between local system and reference clock.", "gauge",
         tx.offset / div},
        {"pps_calibration_total", "Pulse per second count of calibration intervals.", "counter",
         tx.calcnt},
        {"pps_error_total", "Pulse per second count of calibration errors.", "counter", tx.errcnt},
        {"pps_frequency_hertz", "Pulse per second frequency.", "gauge", tx.ppsfreq / ppm16},
        {"pps_jitter_seconds", "Pulse per second jitter.", "gauge", tx.jitter / div},
        {"pps_jitter_total", "Pulse per second count of jitter limit exceeded events.", "counter",
         tx.jitcnt},
        {"pps_shift_seconds", "Pulse per second interval duration.", "gauge", tx.shift},
        {"pps_stability_exceeded_total",
         "Pulse per second count of stability limit exceeded events.", "counter", tx.stbcnt},
        {"pps_stability_hertz", "Pulse per second stability, average of recent frequency changes.",
         "gauge", tx.stabil / ppm16},
        {"status", "Value of the status array bits.", "gauge", tx.status},
        {"sync_status", "Is clock synchronized to a reliable server (1 = yes, 0 = no).", "gauge",
         state == TIME_ERROR ? 0 : 1},
        {"tai_offset_seconds", "International Atomic Time (TAI) offset.", "gauge", tx.tai},
        {"tick_seconds", "Seconds between clock ticks.", "gauge", tx.tick / us},
    };
    char name[64];
    for (size_t i = 0; i < DW_ARRAY_LEN(m); i++) {
        snprintf(name, sizeof name, "node_timex_%s", m[i].name);
        struct fam f = {name, m[i].help, m[i].type, false};
        fam_f64(h, &f, NULL, m[i].v);
    }
    return 0;
}

static int collect_uname(struct host *h)
{
    struct utsname u;
    if (uname(&u) < 0)
        return fail(h, "uname: %s", strerror(errno));
    struct fam f = {"node_uname_info",
                    "Labeled system information as provided by the uname system call.", "gauge",
                    false};
    fam_f64(h, &f,
            LABELS("domainname", u.domainname, "machine", u.machine, "nodename", u.nodename,
                   "release", u.release, "sysname", u.sysname, "version", u.version),
            1);
    return 0;
}

/* ---- the collection ---- */

static const struct collector {
    const char *name;
    int (*run)(struct host *h);
    bool reads_files; /* time and uname answer without /proc */
} collectors[] = {
    {"cpu", collect_cpu, true},           {"diskstats", collect_diskstats, true},
    {"filefd", collect_filefd, true},     {"filesystem", collect_filesystem, true},
    {"loadavg", collect_loadavg, true},   {"meminfo", collect_meminfo, true},
    {"netdev", collect_netdev, true},     {"netstat", collect_netstat, true},
    {"sockstat", collect_sockstat, true}, {"stat", collect_stat, true},
    {"time", collect_time, false},        {"timex", collect_timex, false},
    {"uname", collect_uname, false},      {"vmstat", collect_vmstat, true},
};

#define NCOLLECTORS DW_ARRAY_LEN(collectors)

static void truncate_to(struct dw_buf *b, size_t len)
{
    b->len = len;
    if (b->data)
        b->data[len] = '\0';
}

/* Runs one collector; its partial output is cut off when it fails. */
static bool run_collector(struct host *h, const struct collector *c, double *secs, bool *read)
{
    size_t mark = h->out->len;
    int64_t t0 = dw_mono_ns();
    free(h->why);
    h->why = NULL;
    bool ok = c->run(h) == 0;
    if (!ok) {
        truncate_to(h->out, mark);
        dw_log_kv(DW_LOG_DEBUG, "collect", "host collector failed", "collector", c->name, "err",
                  h->why, NULL);
    }
    *secs = (double)(dw_mono_ns() - t0) / 1e9;
    *read = ok && c->reads_files && h->out->len > mark;
    return ok;
}

static void emit_scrape_meta(struct host *h, const double *secs, const bool *ok)
{
    struct fam dur = {"node_scrape_collector_duration_seconds",
                      "node_exporter: Duration of a collector scrape.", "gauge", false};
    struct fam suc = {"node_scrape_collector_success",
                      "node_exporter: Whether a collector succeeded.", "gauge", false};
    for (size_t i = 0; i < NCOLLECTORS; i++)
        fam_f64(h, &dur, LABELS("collector", collectors[i].name), secs[i]);
    for (size_t i = 0; i < NCOLLECTORS; i++)
        fam_f64(h, &suc, LABELS("collector", collectors[i].name), ok[i] ? 1 : 0);
}

/* Why the whole collection failed (heap), or NULL when it did not. */
static char *collection_error(const struct dw_buf *out, bool any, const char *first)
{
    if (out->overflow)
        return dw_asprintf("host metrics exceed the output limit of %zu bytes", out->max);
    if (!any)
        return dw_asprintf("no host metrics could be read (%s)",
                           first ? first : "no collector produced anything");
    return NULL;
}

int dw_host_collect(const struct dw_host_opts *o, struct dw_buf *out, char **err)
{
    struct host h = {.proc = o && o->proc_root ? o->proc_root : "/proc",
                     .sys = o && o->sys_root ? o->sys_root : "/sys",
                     .rootfs = o && o->rootfs && *o->rootfs ? o->rootfs : "/",
                     .out = out,
                     .stat_errno = -1};
    dw_buf_init(&h.file, MAX_FILE_BYTES);
    dw_buf_init(&h.stat, MAX_FILE_BYTES);
    pthread_once(&re_once, re_init);
    size_t start = out->len;
    bool was_overflow = out->overflow, any = false;
    out->overflow = false;
    double secs[NCOLLECTORS];
    bool ok[NCOLLECTORS];
    char *first = NULL;
    for (size_t i = 0; i < NCOLLECTORS; i++) {
        bool read;
        ok[i] = run_collector(&h, &collectors[i], &secs[i], &read);
        any |= read;
        if (!ok[i] && !first && h.why)
            first = dw_asprintf("%s: %s", collectors[i].name, h.why);
    }
    emit_scrape_meta(&h, secs, ok);
    char *msg = collection_error(out, any, first);
    if (msg)
        truncate_to(out, start);
    out->overflow = was_overflow;
    if (msg && err)
        *err = msg;
    else
        free(msg);
    free(first);
    free(h.why);
    dw_buf_release(&h.file);
    dw_buf_release(&h.stat);
    return msg ? -1 : 0;
}
