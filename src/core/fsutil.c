/*
 * fsutil.c - filesystem helpers shared by the daemon and the offline
 * commands: mkdir -p, reading a whole (bounded) file, and the data
 * directory's pid lock.
 *
 * DESIGN: the lock is an exclusive, non-blocking flock on a file that also
 * holds the holder's pid, so whoever is refused can say who holds it. flock
 * locks are released by the kernel when the process dies (kill -9
 * included), so a stale LOCK file never blocks a restart.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"

int dw_mkdir_p(const char *path)
{
    char *tmp = dw_strdup(path);
    int rc = 0;
    for (char *p = tmp + 1; *p && rc == 0; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            rc = -1;
        *p = '/';
    }
    if (rc == 0 && mkdir(tmp, 0755) < 0 && errno != EEXIST)
        rc = -1;
    int saved = errno;
    free(tmp);
    errno = saved;
    return rc;
}

char *dw_read_file(const char *path, size_t max, size_t *len, struct dw_diags *diags)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        dw_diags_add(diags, path, 0, 0, NULL, "cannot open: %s", strerror(errno));
        return NULL;
    }
    struct dw_buf b;
    dw_buf_init(&b, max);
    dw_buf_puts(&b, "");
    char chunk[16384];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (dw_buf_append(&b, chunk, n) < 0)
            break;
    int err = ferror(f) ? errno : 0;
    fclose(f);
    if (b.overflow)
        dw_diags_add(diags, path, 0, 0, NULL, "file is larger than %zu MiB", max >> 20);
    else if (err)
        dw_diags_add(diags, path, 0, 0, NULL, "cannot read: %s", strerror(err));
    if (b.overflow || err) {
        dw_buf_release(&b);
        return NULL;
    }
    *len = b.len;
    return dw_buf_steal(&b);
}

int dw_pidlock_acquire(const char *path, int *fd_out, char *holder, size_t holder_len)
{
    *fd_out = -1;
    if (holder_len)
        holder[0] = '\0';
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int busy = errno == EWOULDBLOCK;
        if (busy && holder_len > 1) {
            ssize_t n = pread(fd, holder, holder_len - 1, 0);
            holder[n > 0 ? n : 0] = '\0';
            holder[strcspn(holder, "\n")] = '\0';
        }
        int saved = errno;
        close(fd);
        errno = saved;
        return busy ? DW_PIDLOCK_BUSY : -1;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len)
        dw_log_kv(DW_LOG_WARN, "core", "cannot write the pid into the lock file", "file", path,
                  NULL);
    *fd_out = fd;
    return 0;
}

void dw_pidlock_release(int *fd)
{
    if (*fd < 0)
        return;
    flock(*fd, LOCK_UN);
    close(*fd);
    *fd = -1;
}

#define SECRET_FILE_MAX 65536 /* a credentials file larger than this is refused */

static char *read_secret(const char *path, char **err)
{
    struct dw_diags diags;
    dw_diags_init(&diags);
    size_t len = 0;
    char *s = dw_read_file(path, SECRET_FILE_MAX, &len, &diags);
    if (!s) {
        struct dw_buf b;
        dw_buf_init(&b, 0);
        if (diags.n)
            dw_diag_format(&diags.items[0], &b);
        else
            dw_buf_printf(&b, "%s: cannot read", path);
        *err = dw_buf_steal(&b);
    }
    dw_diags_release(&diags);
    if (!s)
        return NULL;
    while (len && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    size_t lead = strspn(s, " \t\r\n");
    memmove(s, s + lead, len - lead + 1);
    return s;
}

char *dw_secret_get(const char *inline_value, const char *file, char **err)
{
    if (inline_value)
        return dw_strdup(inline_value);
    return file ? read_secret(file, err) : NULL;
}
