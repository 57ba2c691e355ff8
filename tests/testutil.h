/*
 * Helpers shared by the unit tests: a seeded random generator (xorshift64*,
 * so failures replay), and temporary directories and files. Header-only, static
 * inline, so each test program takes what it uses.
 */
#ifndef DW_TESTUTIL_H
#define DW_TESTUTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "harness.h"

/* Every diagnostic as "file:line:col: key: message" lines (heap, never NULL). */
static inline char *diags_text(const struct dw_diags *d)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, "");
    for (size_t i = 0; i < d->n; i++) {
        dw_diag_format(&d->items[i], &b);
        dw_buf_putc(&b, '\n');
    }
    return dw_buf_steal(&b);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static inline void rng_seed(uint64_t s)
{
    rng_state = s ? s : 1;
}

static inline uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform enough in [0, n); 0 when n is 0. */
static inline uint64_t rnd_below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

/* A new empty directory under /tmp (freed by the caller). */
static inline char *tmpdir_new(void)
{
    char tmpl[] = "/tmp/dw-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    if (!d)
        DW_FAIL_("mkdtemp: %s", strerror(errno));
    return dw_strdup(d);
}

/* Removes a directory tree (best effort). */
static inline void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p = dw_asprintf("%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rm_rf(p);
        else
            unlink(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Writes n bytes to dir/name; returns the path (freed by the caller). */
static inline char *write_file_n(const char *dir, const char *name, const void *data, size_t n)
{
    char *path = dw_asprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        DW_FAIL_("cannot create %s: %s", path, strerror(errno));
    if (fwrite(data, 1, n, f) != n)
        DW_FAIL_("cannot write %s", path);
    fclose(f);
    return path;
}

/* Writes the string text to dir/name; returns the path (freed by the caller). */
static inline char *write_file(const char *dir, const char *name, const char *text)
{
    return write_file_n(dir, name, text, strlen(text));
}

/* Whether dir/name exists. */
static inline bool path_exists(const char *dir, const char *name)
{
    char *p = dw_asprintf("%s/%s", dir, name);
    bool ok = access(p, F_OK) == 0;
    free(p);
    return ok;
}

/* Copies a directory tree: the state a crash right now would leave on disk. */
static inline void copy_tree(const char *from, const char *to)
{
    mkdir(to, 0755);
    DIR *d = opendir(from);
    if (!d)
        DW_FAIL_("opendir %s: %s", from, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *a = dw_asprintf("%s/%s", from, e->d_name);
        char *b = dw_asprintf("%s/%s", to, e->d_name);
        struct stat st;
        if (lstat(a, &st) == 0 && S_ISDIR(st.st_mode)) {
            copy_tree(a, b);
        } else {
            int in = open(a, O_RDONLY), out = open(b, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            char buf[65536];
            ssize_t k;
            while (in >= 0 && out >= 0 && (k = read(in, buf, sizeof buf)) > 0)
                if (write(out, buf, (size_t)k) != k)
                    break;
            close(in);
            close(out);
        }
        free(a);
        free(b);
    }
    closedir(d);
}

#endif
