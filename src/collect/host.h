/*
 * host.h - the built-in host collector: node_exporter 1.5 compatible metrics
 * read straight from /proc and /sys (src/collect/host.c).
 *
 * Internal to src/collect; the public part (dw_host_collect) is in collect.h.
 */
#ifndef DW_COLLECT_HOST_H
#define DW_COLLECT_HOST_H

#include <sys/vfs.h>

#include "collect/collect.h" /* struct dw_host_opts, dw_host_collect */
#include "core/core.h"

/**
 * Tests only: replaces statfs() (NULL restores it) and sets how long one
 * collection waits for the statfs() calls of all mount points (0 restores
 * the default, 5000 ms). Not thread-safe: call before collecting.
 */
void dw_host_set_statfs_hook(int (*fn)(const char *path, struct statfs *st), int timeout_ms);

#endif
