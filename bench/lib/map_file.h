/*
 * map_file.h - the C benchmarks' way to read a dataset file: mapped
 * read-only, the descriptor closed at once (the mapping keeps the file).
 */
#ifndef DW_BENCH_MAP_FILE_H
#define DW_BENCH_MAP_FILE_H

#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The file's bytes and *len (munmap them when done), or NULL after perror(). */
static inline const char *bench_map_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        perror(path);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    const char *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        perror("mmap");
        return NULL;
    }
    *len = (size_t)st.st_size;
    return p;
}

#endif
