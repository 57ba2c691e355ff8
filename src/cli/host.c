/*
 * host.c - `dojowatch host-metrics`: runs the built-in host collector once
 * and prints its Prometheus text exposition, the same text the daemon
 * ingests for its `host` job (compatible with node_exporter 1.5).
 *
 * DESIGN
 * A thin wrapper: flags to struct dw_host_opts, one dw_host_collect(), the
 * buffer to stdout. --proc, --sys and --rootfs point it at another tree
 * (a container's view of the host, or a test fixture). Collectors that fail
 * are reported in the output (node_scrape_collector_success 0), not as an
 * error; exit status 1 only when nothing at all could be read.
 *
 * Threads: one (plus the collector's statfs helper).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/host.h"
#include "collect/collect.h"
#include "core/core.h"

#define MAX_OUTPUT (256u << 20)

const char dw_cli_host_usage[] =
    "usage: dojowatch host-metrics [--proc DIR] [--sys DIR] [--rootfs DIR]\n"
    "\n"
    "Reads this host's metrics from /proc and /sys once and prints them in the\n"
    "Prometheus text format, with node_exporter 1.5's names, types and labels\n"
    "(cpu, meminfo, loadavg, stat, time, uname, filesystem, netdev, diskstats,\n"
    "filefd, vmstat, netstat, sockstat, and node_scrape_collector_* per collector).\n"
    "Exit status 1 when nothing could be read, 2 on bad usage.\n"
    "\n"
    "      --proc DIR     the proc filesystem (default /proc)\n"
    "      --sys DIR      the sys filesystem (default /sys)\n"
    "      --rootfs DIR   the root filesystem, prefixed to mount points for statfs\n"
    "                     and to /run/udev/data (default /)\n"
    "  -h, --help         this help\n"
    "\n"
    "example: dojowatch host-metrics | grep '^node_load'\n";

static int write_out(const struct dw_buf *b)
{
    if ((b->len && fwrite(b->data, 1, b->len, stdout) != b->len) || fflush(stdout) != 0) {
        perror("dojowatch host-metrics: stdout");
        return 1;
    }
    return 0;
}

int dw_cli_host(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"proc", required_argument, NULL, 'p'},
        {"sys", required_argument, NULL, 's'},
        {"rootfs", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    struct dw_host_opts o = {NULL, NULL, NULL};
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p': o.proc_root = optarg; break;
        case 's': o.sys_root = optarg; break;
        case 'r': o.rootfs = optarg; break;
        case 'h': fputs(dw_cli_host_usage, stdout); return 0;
        default: return dw_cli_usage_error("host-metrics", "%s", "bad option");
        }
    }
    if (optind < argc)
        return dw_cli_usage_error("host-metrics", "unexpected argument '%s'", argv[optind]);
    struct dw_buf out;
    char *err = NULL;
    dw_buf_init(&out, MAX_OUTPUT);
    int rc = dw_host_collect(&o, &out, &err) == 0 ? write_out(&out) : 1;
    if (err)
        fprintf(stderr, "dojowatch host-metrics: %s\n", err);
    free(err);
    dw_buf_release(&out);
    return rc;
}
