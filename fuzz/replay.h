/*
 * replay.h - the plain-program side of every fuzz driver: built with
 * -DDW_FUZZ_REPLAY, a driver includes this after its LLVMFuzzerTestOneInput
 * and becomes a program that feeds it each file given on the command line
 * (directories recursively, dot files skipped), so CI without clang still
 * runs the seed corpus. It ends with the harness's "N passed, N failed" line
 * so scripts/test-summary.sh counts it; no input at all counts as a failure.
 *
 * A driver with inputs of its own kind (promql's .test files) defines
 * DW_REPLAY_SPECIAL(path, count) before including: return -2 for "not mine",
 * otherwise 0 or -1 after feeding what it found (adding to *count).
 */
#ifndef DW_FUZZ_REPLAY_H
#define DW_FUZZ_REPLAY_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"

#define DW_REPLAY_MAX_BYTES (16u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int dw_replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    struct dw_buf b;
    dw_buf_init(&b, DW_REPLAY_MAX_BYTES);
    char chunk[4096];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (dw_buf_append(&b, chunk, n) != 0) {
            fprintf(stderr, "%s: over %u bytes\n", path, DW_REPLAY_MAX_BYTES);
            rc = -1;
            break;
        }
    fclose(f);
    if (rc == 0)
        LLVMFuzzerTestOneInput((const uint8_t *)(b.data ? b.data : ""), b.len);
    dw_buf_release(&b);
    return rc;
}

static int dw_replay_path(const char *path, size_t *count)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
#ifdef DW_REPLAY_SPECIAL
        int special = DW_REPLAY_SPECIAL(path, count);
        if (special != -2)
            return special;
#endif
        (*count)++;
        return dw_replay_file(path);
    }
    DIR *d = opendir(path);
    if (!d) {
        perror(path);
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *full = dw_asprintf("%s/%s", path, de->d_name);
        if (dw_replay_path(full, count) != 0)
            rc = -1;
        free(full);
    }
    closedir(d);
    return rc;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    int failed = 0;
    for (int i = 1; i < argc; i++)
        if (dw_replay_path(argv[i], &count) != 0)
            failed++;
    if (count == 0)
        failed++;
    const char *name = strrchr(argv[0], '/');
    printf("%s: %zu passed, %d failed\n", name ? name + 1 : argv[0], count, failed);
    return failed ? 1 : 0;
}

#endif
