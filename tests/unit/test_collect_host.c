/*
 * Tests of the built-in host collector (src/collect/host.c): exact values
 * and labels from a fake /proc and /sys tree, failure isolation per
 * collector, bounds (long lines, garbage, invalid UTF-8, output limit), the
 * stuck-mount rule, and compatibility with node_exporter 1.5: every family
 * we share with the recorded fixture must have its TYPE and label names.
 * Everything we print is read back with the project's exposition parser.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "collect/host.h"
#include "core/core.h"
#include "expo/expo.h"
#include "harness.h"
#include "testutil.h"

#define FIXTURE DW_SHARED_DIR "/fixtures/node_exporter_1.5.0.prom"

/* ---- helpers ---- */

/* Writes dir/rel (creating parent folders). */
static void put(const char *dir, const char *rel, const char *text)
{
    char *path = dw_asprintf("%s/%s", dir, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    ASSERT_EQ_INT(dw_mkdir_p(path), 0);
    *slash = '/';
    FILE *f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    fputs(text, f);
    fclose(f);
    free(path);
}

static void mkdir_in(const char *dir, const char *rel)
{
    char *path = dw_asprintf("%s/%s", dir, rel);
    ASSERT_EQ_INT(dw_mkdir_p(path), 0);
    free(path);
}

/* Collects with proc, sys and rootfs under dir; the output must parse. */
static char *collect_in(const char *dir)
{
    char *proc = dw_asprintf("%s/proc", dir), *sys = dw_asprintf("%s/sys", dir);
    struct dw_host_opts o = {proc, sys, dir};
    struct dw_buf out;
    char *err = NULL;
    dw_buf_init(&out, 0);
    int rc = dw_host_collect(&o, &out, &err);
    free(proc);
    free(sys);
    if (rc != 0)
        DW_FAIL_("dw_host_collect: %s", err ? err : "?");
    struct dw_expo_error e;
    if (dw_expo_parse(NULL, NULL, out.data, out.len, NULL, &e) != 0)
        DW_FAIL_("our output does not parse: %s\n%s", e.msg, out.data);
    return dw_buf_steal(&out);
}

/* Whether text holds exactly this line. */
static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = strstr(text, line); p; p = strstr(p + 1, line))
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

static int count_lines_starting(const char *text, const char *prefix)
{
    int n = 0;
    size_t len = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        n += strncmp(p, prefix, len) == 0;
    return n;
}

/* The value of the series written exactly as `series` (our label order); NAN when absent. */
static double value_of(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = strstr(text, series); p; p = strstr(p + 1, series))
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return NAN;
}

#define ASSERT_LINE(text, line)                                                                    \
    do {                                                                                           \
        if (!has_line((text), (line)))                                                             \
            DW_FAIL_("missing line: %s", (line));                                                  \
    } while (0)
#define ASSERT_NO_SERIES(text, series)                                                             \
    do {                                                                                           \
        if (strstr((text), (series)))                                                              \
            DW_FAIL_("unexpected: %s", (series));                                                  \
    } while (0)

/* ---- the fake tree ---- */

static void fake_proc(const char *d)
{
    put(d, "proc/stat",
        "cpu  100 2 30 4000 5 0 6 7 0 0\n"
        "cpu0 60 1 20 2000 3 0 4 5 11 12\n"
        "cpu1 40 1 10 2000 2 0 2 2\n"
        "intr 12345 0 1 2 3\n"
        "ctxt 67890\nbtime 1700000000\nprocesses 4242\nprocs_running 3\nprocs_blocked 1\n");
    put(d, "proc/meminfo",
        "MemTotal:       16318480 kB\nMemFree:         1234567 kB\n"
        "MemAvailable:    8000000 kB\nActive(anon):      12345 kB\n"
        "HugePages_Total:       4\nHugepagesize:       2048 kB\nWeird(x)y:    5 kB\n");
    put(d, "proc/loadavg", "1.25 0.50 0.05 2/345 6789\n");
    put(d, "proc/sys/fs/file-nr", "1024\t0\t9223372036854775807\n");
    put(d, "proc/vmstat",
        "nr_free_pages 123\npgpgin 10\npgpgout 20\npswpin 1\npswpout 2\npgfault 1000\n"
        "pgmajfault 7\npgfault_extra 3\noom_kill 0\npgsteal_kswapd 9\nthp_fault_alloc 4\n");
}

static void fake_net(const char *d)
{
    put(d, "proc/net/dev",
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets "
        "errs drop fifo colls carrier compressed\n"
        "    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0\n"
        "  eth0: 18446744073709551615 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
        "wlan-x:1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n");
    put(d, "sys/class/net/eth0/statistics/rx_nohandler", "42\n");
    put(d, "proc/net/netstat",
        "TcpExt: SyncookiesSent ListenDrops TCPTimeouts Other\nTcpExt: 1 4 5 7\n"
        "IpExt: InNoRoutes InOctets OutOctets\nIpExt: 0 123 456\n");
    put(d, "proc/net/snmp",
        "Ip: Forwarding DefaultTTL InReceives InErrors\nIp: 1 64 100 2\n"
        "Tcp: RtoAlgorithm MaxConn ActiveOpens CurrEstab RetransSegs InErrs\n"
        "Tcp: 1 -1 10 3 6 7\n");
    put(d, "proc/net/snmp6", "Ip6InReceives   \t5\nIp6InOctets 77\nUdpLite6InErrors 1\n");
    put(d, "proc/net/sockstat",
        "sockets: used 19\nTCP: inuse 4 orphan 0 tw 1 alloc 5 mem 6\nFRAG: inuse 0 memory 0\n");
    put(d, "proc/net/sockstat6", "TCP6: inuse 2\n");
}

static void fake_disks(const char *d)
{
    put(d, "proc/diskstats",
        "   8       0 sda 100 2 800 30 40 5 640 60 0 70 90 1 2 16 3 4 5\n"
        "   8       1 sda1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1\n"
        "   7       0 loop0 1 2 3 4 5 6 7 8 9 10 11\n"
        " 259       1 nvme0n1p1 1 2 3 4 5 6 7 8 9 10 11\n"
        " 253       0 dm-0 9 8 7 6 5 4 3 2 1 0 1\n");
    put(d, "run/udev/data/b8:0",
        "S:disk/by-id/ata-X\nE:ID_ATA=1\nE:ID_ATA_ROTATION_RATE_RPM=7200\n"
        "E:ID_ATA_WRITE_CACHE=1\nE:ID_MODEL=Fake_Disk\nE:ID_PATH=pci-0000:00:1f.2-ata-1\n"
        "E:ID_REVISION=1.0\nE:ID_SERIAL_SHORT=SN\"1\\2\nE:ID_WWN=0x5000\n");
    put(d, "run/udev/data/b253:0", "E:DM_NAME=vg-root\nE:DM_UUID=LVM-x\nE:DM_VG_NAME=vg\n");
}

static void fake_mounts(const char *d)
{
    mkdir_in(d, "data");
    mkdir_in(d, "sp ace");
    mkdir_in(d, "new\nline");
    put(d, "proc/1/mounts",
        "/dev/sda1 / ext4 rw,relatime 0 0\n/dev/sdb1 /data xfs ro,noatime 0 0\n"
        "/dev/sdc1 /sp\\040ace ext4 rw 0 0\n/dev/sdd1 /new\\012line ext4 rw 0 0\n"
        "proc /proc proc rw 0 0\ntmpfs /mnt/x tmpfs rw 0 0\n"
        "tmpfs /var/lib/docker/x tmpfs rw 0 0\nsysfs /srv sysfs rw 0 0\n"
        "/dev/sdb1 /data xfs ro,noatime 0 0\nnfs:/gone /gone nfs rw 0 0\n");
    put(d, "sys/devices/system/clocksource/clocksource0/available_clocksource", "tsc hpet \n");
    put(d, "sys/devices/system/clocksource/clocksource0/current_clocksource", "tsc\n");
}

static char *fake_tree(void)
{
    char *d = tmpdir_new();
    fake_proc(d);
    fake_net(d);
    fake_disks(d);
    fake_mounts(d);
    return d;
}

/* ---- exact values from the fake tree ---- */

TEST(fake_cpu_and_stat)
{
    char *d = fake_tree(), *out = collect_in(d);
    double hz = (double)sysconf(_SC_CLK_TCK);
    ASSERT_NEAR(value_of(out, "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"}"), 60 / hz, 1e-12);
    ASSERT_NEAR(value_of(out, "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"}"), 2000 / hz, 1e-12);
    ASSERT_NEAR(value_of(out, "node_cpu_seconds_total{cpu=\"1\",mode=\"steal\"}"), 2 / hz, 1e-12);
    ASSERT_NEAR(value_of(out, "node_cpu_guest_seconds_total{cpu=\"0\",mode=\"nice\"}"), 12 / hz,
                1e-12);
    ASSERT_LINE(out, "node_cpu_guest_seconds_total{cpu=\"1\",mode=\"user\"} 0");
    ASSERT_EQ_INT(count_lines_starting(out, "node_cpu_seconds_total{"), 16); /* no total line */
    ASSERT_LINE(out, "# TYPE node_cpu_seconds_total counter");
    ASSERT_LINE(out, "node_boot_time_seconds 1700000000");
    ASSERT_LINE(out, "node_context_switches_total 67890");
    ASSERT_LINE(out, "node_forks_total 4242");
    ASSERT_LINE(out, "node_intr_total 12345");
    ASSERT_LINE(out, "node_procs_running 3");
    ASSERT_LINE(out, "node_procs_blocked 1");
    ASSERT_LINE(out, "# TYPE node_procs_running gauge");
    ASSERT_LINE(out, "# TYPE node_intr_total counter");
    free(out);
    rm_rf(d);
    free(d);
}

TEST(fake_meminfo_loadavg_filefd_vmstat)
{
    char *d = fake_tree(), *out = collect_in(d);
    ASSERT_LINE(out, "node_memory_MemTotal_bytes 16710123520");
    ASSERT_LINE(out, "node_memory_Active_anon_bytes 12641280");
    ASSERT_LINE(out, "# HELP node_memory_Active_anon_bytes Memory information field "
                     "Active_anon_bytes.");
    ASSERT_LINE(out, "# TYPE node_memory_MemAvailable_bytes gauge");
    ASSERT_LINE(out, "node_memory_HugePages_Total 4");
    ASSERT_LINE(out, "node_memory_Hugepagesize_bytes 2097152");
    ASSERT_LINE(out, "node_memory_Weird_xy_bytes 5120");
    ASSERT_LINE(out, "node_load1 1.25");
    ASSERT_LINE(out, "node_load5 0.5");
    ASSERT_LINE(out, "node_load15 0.05");
    ASSERT_LINE(out, "node_filefd_allocated 1024");
    ASSERT_LINE(out, "node_filefd_maximum 9223372036854775807");
    ASSERT_LINE(out, "# TYPE node_vmstat_pgfault untyped");
    ASSERT_LINE(out, "# HELP node_vmstat_pgfault /proc/vmstat information field pgfault.");
    ASSERT_LINE(out, "node_vmstat_pgfault 1000");
    ASSERT_LINE(out, "node_vmstat_pgfault_extra 3"); /* ^pg.*fault.* */
    ASSERT_LINE(out, "node_vmstat_oom_kill 0");
    ASSERT_LINE(out, "node_vmstat_pswpout 2");
    ASSERT_NO_SERIES(out, "node_vmstat_pgsteal");
    ASSERT_NO_SERIES(out, "node_vmstat_thp");
    ASSERT_NO_SERIES(out, "node_vmstat_nr_free");
    free(out);
    rm_rf(d);
    free(d);
}

TEST(fake_netdev_netstat_sockstat)
{
    char *d = fake_tree(), *out = collect_in(d);
    ASSERT_LINE(out, "node_network_receive_bytes_total{device=\"eth0\"} 18446744073709551615");
    ASSERT_LINE(out, "node_network_receive_errs_total{device=\"eth0\"} 3");
    ASSERT_LINE(out, "node_network_receive_multicast_total{device=\"eth0\"} 8");
    ASSERT_LINE(out, "node_network_transmit_colls_total{device=\"eth0\"} 14");
    ASSERT_LINE(out, "node_network_transmit_carrier_total{device=\"eth0\"} 15");
    ASSERT_LINE(out, "node_network_transmit_compressed_total{device=\"wlan-x\"} 16");
    ASSERT_LINE(out, "node_network_receive_nohandler_total{device=\"eth0\"} 42");
    ASSERT_NO_SERIES(out, "node_network_receive_nohandler_total{device=\"wlan-x\"}");
    ASSERT_NO_SERIES(out, "device=\"lo\"");
    ASSERT_LINE(out, "# TYPE node_network_receive_bytes_total counter");
    ASSERT_LINE(out, "node_netstat_TcpExt_ListenDrops 4");
    ASSERT_LINE(out, "node_netstat_TcpExt_SyncookiesSent 1");
    ASSERT_LINE(out, "node_netstat_IpExt_InOctets 123");
    ASSERT_LINE(out, "node_netstat_Ip_Forwarding 1");
    ASSERT_LINE(out, "node_netstat_Ip_InErrors 2");
    ASSERT_LINE(out, "node_netstat_Tcp_CurrEstab 3");
    ASSERT_LINE(out, "node_netstat_Tcp_InErrs 7");
    ASSERT_LINE(out, "node_netstat_Ip6_InOctets 77");
    ASSERT_LINE(out, "node_netstat_UdpLite6_InErrors 1");
    ASSERT_LINE(out, "# HELP node_netstat_UdpLite6_InErrors Statistic UdpLite6InErrors.");
    ASSERT_LINE(out, "# TYPE node_netstat_Tcp_CurrEstab untyped");
    ASSERT_NO_SERIES(out, "node_netstat_Ip_DefaultTTL");
    ASSERT_NO_SERIES(out, "node_netstat_Tcp_MaxConn");
    ASSERT_NO_SERIES(out, "node_netstat_TcpExt_Other");
    ASSERT_NO_SERIES(out, "node_netstat_Ip6_InReceives");
    ASSERT_LINE(out, "node_sockstat_sockets_used 19");
    ASSERT_LINE(out, "node_sockstat_TCP_tw 1");
    ASSERT_LINE(out, "node_sockstat_TCP_mem 6");
    char line[80];
    snprintf(line, sizeof line, "node_sockstat_TCP_mem_bytes %ld", 6 * sysconf(_SC_PAGESIZE));
    ASSERT_LINE(out, line);
    ASSERT_LINE(out, "node_sockstat_FRAG_memory 0");
    ASSERT_LINE(out, "node_sockstat_TCP6_inuse 2");
    ASSERT_LINE(out, "# HELP node_sockstat_TCP6_inuse Number of TCP6 sockets in state inuse.");
    free(out);
    rm_rf(d);
    free(d);
}

TEST(fake_diskstats)
{
    char *d = fake_tree(), *out = collect_in(d);
    ASSERT_LINE(out, "node_disk_reads_completed_total{device=\"sda\"} 100");
    ASSERT_LINE(out, "node_disk_read_bytes_total{device=\"sda\"} 409600");
    ASSERT_LINE(out, "node_disk_read_time_seconds_total{device=\"sda\"} 0.03");
    ASSERT_LINE(out, "node_disk_written_bytes_total{device=\"sda\"} 327680");
    ASSERT_LINE(out, "node_disk_io_now{device=\"sda\"} 0");
    ASSERT_LINE(out, "node_disk_io_time_weighted_seconds_total{device=\"sda\"} 0.09");
    ASSERT_LINE(out, "node_disk_discarded_sectors_total{device=\"sda\"} 16");
    ASSERT_LINE(out, "node_disk_flush_requests_time_seconds_total{device=\"sda\"} 0.005");
    ASSERT_LINE(out, "# TYPE node_disk_io_now gauge");
    /* dm-0 has the 11 fields of old kernels: no discard or flush series */
    ASSERT_LINE(out, "node_disk_io_time_weighted_seconds_total{device=\"dm-0\"} 0.001");
    ASSERT_NO_SERIES(out, "node_disk_discards_completed_total{device=\"dm-0\"}");
    ASSERT_NO_SERIES(out, "device=\"sda1\"");
    ASSERT_NO_SERIES(out, "device=\"loop0\"");
    ASSERT_NO_SERIES(out, "device=\"nvme0n1p1\"");
    ASSERT_LINE(out, "node_disk_info{device=\"sda\",major=\"8\",minor=\"0\",model=\"Fake_Disk\","
                     "path=\"pci-0000:00:1f.2-ata-1\",revision=\"1.0\",serial=\"SN\\\"1\\\\2\","
                     "wwn=\"0x5000\"} 1");
    ASSERT_LINE(out, "node_disk_info{device=\"dm-0\",major=\"253\",minor=\"0\",model=\"\","
                     "path=\"\",revision=\"\",serial=\"\",wwn=\"\"} 1");
    ASSERT_LINE(out, "node_disk_ata_rotation_rate_rpm{device=\"sda\"} 7200");
    ASSERT_LINE(out, "node_disk_ata_write_cache{device=\"sda\"} 1");
    ASSERT_NO_SERIES(out, "node_disk_ata_write_cache_enabled");
    ASSERT_LINE(out, "node_disk_device_mapper_info{device=\"dm-0\",lv_layer=\"\",lv_name=\"\","
                     "name=\"vg-root\",uuid=\"LVM-x\",vg_name=\"vg\"} 1");
    free(out);
    rm_rf(d);
    free(d);
}

static void assert_fs(const char *out, const char *dir, const char *rel, const char *labels)
{
    struct statfs st;
    char *path = dw_asprintf("%s/%s", dir, rel), series[512];
    ASSERT_EQ_INT(statfs(path, &st), 0);
    free(path);
    snprintf(series, sizeof series, "node_filesystem_size_bytes{%s}", labels);
    ASSERT_NEAR(value_of(out, series), (double)st.f_blocks * (double)st.f_bsize, 0);
    snprintf(series, sizeof series, "node_filesystem_files{%s}", labels);
    ASSERT_NEAR(value_of(out, series), (double)st.f_files, 0);
    snprintf(series, sizeof series, "node_filesystem_device_error{%s}", labels);
    ASSERT_NEAR(value_of(out, series), 0, 0);
    snprintf(series, sizeof series, "node_filesystem_avail_bytes{%s}", labels);
    ASSERT_TRUE(value_of(out, series) >= 0);
}

TEST(fake_filesystem)
{
    char *d = fake_tree(), *out = collect_in(d);
    assert_fs(out, d, "", "device=\"/dev/sda1\",fstype=\"ext4\",mountpoint=\"/\"");
    assert_fs(out, d, "data", "device=\"/dev/sdb1\",fstype=\"xfs\",mountpoint=\"/data\"");
    assert_fs(out, d, "sp ace", "device=\"/dev/sdc1\",fstype=\"ext4\",mountpoint=\"/sp ace\"");
    assert_fs(out, d, "new\nline",
              "device=\"/dev/sdd1\",fstype=\"ext4\",mountpoint=\"/new\\nline\"");
    ASSERT_LINE(out, "node_filesystem_readonly{device=\"/dev/sdb1\",fstype=\"xfs\","
                     "mountpoint=\"/data\"} 1");
    ASSERT_LINE(out, "node_filesystem_readonly{device=\"/dev/sda1\",fstype=\"ext4\","
                     "mountpoint=\"/\"} 0");
    ASSERT_EQ_INT(count_lines_starting(out, "node_filesystem_size_bytes{device=\"/dev/sdb1\""),
                  1); /* mounted twice, reported once */
    ASSERT_LINE(out, "node_filesystem_device_error{device=\"nfs:/gone\",fstype=\"nfs\","
                     "mountpoint=\"/gone\"} 1");
    ASSERT_NO_SERIES(out, "node_filesystem_size_bytes{device=\"nfs:/gone\"");
    ASSERT_NO_SERIES(out, "mountpoint=\"/proc\"");
    ASSERT_NO_SERIES(out, "mountpoint=\"/mnt/x\"");
    ASSERT_NO_SERIES(out, "mountpoint=\"/var/lib/docker/x\"");
    ASSERT_NO_SERIES(out, "fstype=\"sysfs\"");
    free(out);
    rm_rf(d);
    free(d);
}

TEST(fake_time_uname_and_scrape_meta)
{
    char *d = fake_tree(), *out = collect_in(d);
    ASSERT_LINE(out, "node_time_clocksource_available_info{clocksource=\"tsc\",device=\"0\"} 1");
    ASSERT_LINE(out, "node_time_clocksource_available_info{clocksource=\"hpet\",device=\"0\"} 1");
    ASSERT_LINE(out, "node_time_clocksource_current_info{clocksource=\"tsc\",device=\"0\"} 1");
    ASSERT_NEAR(value_of(out, "node_time_seconds"), (double)dw_now_ms() / 1000, 5);
    ASSERT_CONTAINS(out, "node_uname_info{domainname=\"");
    ASSERT_CONTAINS(out, "node_timex_sync_status ");
    static const char *const names[] = {"cpu",     "diskstats", "filefd",  "filesystem", "loadavg",
                                        "meminfo", "netdev",    "netstat", "sockstat",   "stat",
                                        "time",    "timex",     "uname",   "vmstat"};
    for (size_t i = 0; i < DW_ARRAY_LEN(names); i++) {
        char line[128];
        snprintf(line, sizeof line, "node_scrape_collector_success{collector=\"%s\"} 1", names[i]);
        ASSERT_LINE(out, line);
        snprintf(line, sizeof line, "node_scrape_collector_duration_seconds{collector=\"%s\"}",
                 names[i]);
        ASSERT_TRUE(value_of(out, line) >= 0);
    }
    free(out);
    rm_rf(d);
    free(d);
}

/* ---- failures, bounds, garbage ---- */

TEST(missing_files_fail_only_their_collector)
{
    char *d = tmpdir_new();
    put(d, "proc/meminfo", "MemTotal: 1 kB\n");
    put(d, "proc/stat", "intr 5\n"); /* stat works, cpu finds no cpu lines */
    put(d, "proc/1/mounts", "");     /* no mounts: nothing to report, no error */
    put(d, "proc/diskstats", "");
    char *out = collect_in(d);
    ASSERT_LINE(out, "node_memory_MemTotal_bytes 1024");
    ASSERT_LINE(out, "node_intr_total 5");
    ASSERT_LINE(out, "node_scrape_collector_success{collector=\"meminfo\"} 1");
    ASSERT_LINE(out, "node_scrape_collector_success{collector=\"stat\"} 1");
    ASSERT_LINE(out, "node_scrape_collector_success{collector=\"cpu\"} 0");
    ASSERT_LINE(out, "node_scrape_collector_success{collector=\"loadavg\"} 0");
    ASSERT_LINE(out, "node_scrape_collector_success{collector=\"filesystem\"} 1");
    ASSERT_LINE(out, "node_scrape_collector_success{collector=\"diskstats\"} 1");
    ASSERT_LINE(out, "node_scrape_collector_success{collector=\"vmstat\"} 0");
    ASSERT_LINE(out, "node_scrape_collector_success{collector=\"netdev\"} 0");
    ASSERT_LINE(out, "node_scrape_collector_success{collector=\"sockstat\"} 1"); /* no IPv4/6 */
    ASSERT_NO_SERIES(out, "node_cpu_seconds_total");
    ASSERT_NO_SERIES(out, "node_sockstat_");
    free(out);
    rm_rf(d);
    free(d);
}

TEST(nothing_readable_is_an_error_and_leaves_out_alone)
{
    struct dw_host_opts o = {"/nonexistent/proc", "/nonexistent/sys", "/nonexistent"};
    struct dw_buf out;
    char *err = NULL;
    dw_buf_init(&out, 0);
    dw_buf_puts(&out, "keep\n");
    ASSERT_EQ_INT(dw_host_collect(&o, &out, &err), -1);
    ASSERT_NOT_NULL(err);
    ASSERT_CONTAINS(err, "no host metrics could be read");
    ASSERT_CONTAINS(err, "/nonexistent/proc/");
    ASSERT_EQ_STR(out.data, "keep\n");
    free(err);
    dw_buf_release(&out);
}

TEST(output_limit_is_an_error_and_leaves_out_alone)
{
    struct dw_buf out;
    char *err = NULL;
    dw_buf_init(&out, 4096);
    dw_buf_puts(&out, "keep\n");
    ASSERT_EQ_INT(dw_host_collect(NULL, &out, &err), -1);
    ASSERT_CONTAINS(err, "output limit");
    ASSERT_EQ_STR(out.data, "keep\n");
    ASSERT_FALSE(out.overflow);
    free(err);
    dw_buf_release(&out);
}

TEST(long_lines_garbage_and_invalid_utf8)
{
    char *d = tmpdir_new();
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, "cpu0 1 2 3 4 5 6 7 8 9 10 11 12 13\nintr 77");
    for (int i = 0; i < 300000; i++)
        dw_buf_puts(&b, " 123");
    dw_buf_puts(&b, "\nctxt x\ncpuX 1 2 3 4\ncpu1 1 2\n");
    put(d, "proc/stat", b.data);
    dw_buf_clear(&b);
    dw_buf_puts(&b, "MemTotal: 2 kB\nno colon here\nBad: x kB\nToo: 1 kB more\n: 5\n"
                    "Dup: 1\nDup: 2\nquote\"(\xff)\\: 3\n");
    for (int i = 0; i < 20000; i++)
        dw_buf_putc(&b, 'K');
    dw_buf_puts(&b, ": 9 kB\n");
    put(d, "proc/meminfo", b.data);
    put(d, "proc/net/dev",
        "h\nh\n  e\xff\xfe\"x\\: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
        "  short: 1 2\n  neg: -1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n");
    put(d, "proc/net/netstat", "TcpExt: ListenDrops ListenOverflows\nTcpExt: 1\n");
    dw_buf_clear(&b);
    dw_buf_puts(&b, "only two\n/dev/x /\xc3\x28 ext4 rw 0 0\n/dev/long /");
    for (int i = 0; i < 2000; i++)
        dw_buf_putc(&b, 'm');
    dw_buf_puts(&b, " ext4 rw 0 0\n");
    put(d, "proc/1/mounts", b.data);
    put(d, "proc/diskstats", "8 0\n8 0 sdq 1 x 3\n1 2 3\n");
    char *out = collect_in(d);
    ASSERT_LINE(out, "node_intr_total 77");
    ASSERT_NO_SERIES(out, "node_context_switches_total");
    ASSERT_LINE(out, "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 0.01");
    ASSERT_EQ_INT(count_lines_starting(out, "node_cpu_seconds_total{"), 8);
    ASSERT_LINE(out, "node_memory_MemTotal_bytes 2048");
    ASSERT_LINE(out, "node_memory_Dup 2"); /* the last wins, one family */
    ASSERT_LINE(out, "node_memory_quote____ 3");
    ASSERT_NO_SERIES(out, "node_memory_KKKKKKKKKK"); /* too long to be real */
    ASSERT_NO_SERIES(out, "node_memory_Bad");
    ASSERT_NO_SERIES(out, "node_memory_Too");
    ASSERT_LINE(out, "node_network_receive_bytes_total{device=\"e\xEF\xBF\xBD\xEF\xBF\xBD\\\"x\\\\"
                     "\"} 1");
    ASSERT_NO_SERIES(out, "device=\"short\"");
    ASSERT_NO_SERIES(out, "device=\"neg\"");
    ASSERT_LINE(out, "node_scrape_collector_success{collector=\"netstat\"} 0"); /* mismatch */
    ASSERT_NO_SERIES(out, "node_netstat_");
    ASSERT_LINE(out, "node_filesystem_device_error{device=\"/dev/x\",fstype=\"ext4\","
                     "mountpoint=\"/\xEF\xBF\xBD(\"} 1");
    ASSERT_NO_SERIES(out, "/dev/long"); /* the label value is too long */
    ASSERT_NO_SERIES(out, "node_disk_");
    free(out);
    dw_buf_release(&b);
    rm_rf(d);
    free(d);
}

/* ---- the stuck-mount rule ---- */

static pthread_mutex_t hang_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hang_cv = PTHREAD_COND_INITIALIZER;
static bool hang_released;
static int hang_calls;

static int hanging_statfs(const char *path, struct statfs *st)
{
    if (strstr(path, "/slow")) {
        pthread_mutex_lock(&hang_mu);
        hang_calls++;
        while (!hang_released)
            pthread_cond_wait(&hang_cv, &hang_mu);
        pthread_mutex_unlock(&hang_mu);
    }
    return statfs(path, st);
}

static double fs_error(const char *out, const char *mp)
{
    char series[256];
    snprintf(series, sizeof series,
             "node_filesystem_device_error{device=\"/dev/x\",fstype=\"ext4\",mountpoint=\"%s\"}",
             mp);
    return value_of(out, series);
}

TEST(hanging_statfs_times_out_and_is_skipped_until_it_returns)
{
    char *d = tmpdir_new();
    mkdir_in(d, "a");
    mkdir_in(d, "slow");
    mkdir_in(d, "z");
    put(d, "proc/1/mounts",
        "/dev/x /a ext4 rw 0 0\n/dev/x /slow ext4 rw 0 0\n/dev/x /z ext4 rw 0 0\n");
    dw_host_set_statfs_hook(hanging_statfs, 300);
    int64_t t0 = dw_mono_ns();
    char *out = collect_in(d);
    int64_t took_ms = (dw_mono_ns() - t0) / 1000000;
    ASSERT_TRUE(took_ms >= 250 && took_ms < 3000);
    ASSERT_NEAR(fs_error(out, "/a"), 0, 0);
    ASSERT_NEAR(fs_error(out, "/slow"), 1, 0);
    ASSERT_NEAR(fs_error(out, "/z"), 1, 0); /* behind the stuck one this time */
    free(out);

    t0 = dw_mono_ns(); /* the stuck mount is skipped without waiting */
    out = collect_in(d);
    ASSERT_TRUE((dw_mono_ns() - t0) / 1000000 < 250);
    ASSERT_NEAR(fs_error(out, "/slow"), 1, 0);
    ASSERT_NEAR(fs_error(out, "/z"), 0, 0);
    free(out);

    pthread_mutex_lock(&hang_mu);
    ASSERT_EQ_INT(hang_calls, 1);
    hang_released = true;
    pthread_cond_broadcast(&hang_cv);
    pthread_mutex_unlock(&hang_mu);
    double err = 1;
    for (int i = 0; i < 200 && err != 0; i++) { /* the helper clears it when done */
        usleep(10000);
        out = collect_in(d);
        err = fs_error(out, "/slow");
        free(out);
    }
    ASSERT_NEAR(err, 0, 0);
    dw_host_set_statfs_hook(NULL, 0);
    rm_rf(d);
    free(d);
}

/* ---- compatibility with node_exporter 1.5 ---- */

struct famrec {
    char *name;
    enum dw_expo_type type;
    char *labels; /* the label names of all its samples: ",a,b," */
    bool sampled;
};

struct famset {
    struct famrec *v;
    size_t n, cap;
};

static struct famrec *fam_get(struct famset *s, const char *name, size_t len)
{
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->v[i].name) == len && memcmp(s->v[i].name, name, len) == 0)
            return &s->v[i];
    s->v = dw_grow(s->v, &s->cap, s->n + 1, sizeof *s->v);
    s->v[s->n] = (struct famrec){dw_strndup(name, len), DW_EXPO_UNTYPED, dw_strdup(""), false};
    return &s->v[s->n++];
}

/* Adds a label name to a set kept as ",a,b," ("" when empty). */
static void add_label(char **set, const char *name, size_t len)
{
    char *item = dw_asprintf(",%.*s,", (int)len, name);
    if (!strstr(*set, item)) {
        char *grown = dw_asprintf("%s%s", **set ? *set : ",", item + 1);
        free(*set);
        *set = grown;
    }
    free(item);
}

/* Whether two such sets hold the same names. */
static bool same_names(const char *a, const char *b)
{
    if (strlen(a) != strlen(b))
        return false;
    for (const char *p = a; *p && p[1];) {
        const char *end = strchr(p + 1, ',');
        char *item = dw_strndup(p, (size_t)(end - p + 1));
        bool found = strstr(b, item) != NULL;
        free(item);
        if (!found)
            return false;
        p = end;
    }
    return true;
}

static int on_sample(void *ctx, const struct dw_expo_sample *s)
{
    struct famrec *f = fam_get(ctx, s->family.ptr, s->family.len);
    f->sampled = true;
    f->type = s->type;
    for (size_t i = 0; i < s->nlabels; i++)
        if (!(s->type == DW_EXPO_SUMMARY && s->labels[i].name.len == 8 &&
              memcmp(s->labels[i].name.ptr, "quantile", 8) == 0))
            add_label(&f->labels, s->labels[i].name.ptr, s->labels[i].name.len);
    return 0;
}

static int on_meta(void *ctx, const struct dw_expo_meta *m)
{
    if (m->kind == DW_EXPO_META_TYPE)
        fam_get(ctx, m->family.ptr, m->family.len)->type = m->type;
    return 0;
}

static void famset_parse(struct famset *s, const char *text, size_t len)
{
    struct dw_expo_handler h = {on_sample, on_meta, s};
    struct dw_expo_error e;
    if (dw_expo_parse(NULL, NULL, text, len, &h, &e) != 0)
        DW_FAIL_("parse: %s", e.msg);
}

static struct famrec *famset_find(struct famset *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0)
            return &s->v[i];
    return NULL;
}

static void famset_release(struct famset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].name);
        free(s->v[i].labels);
    }
    free(s->v);
}

static char *read_fixture(size_t *len)
{
    FILE *f = fopen(FIXTURE, "rb");
    if (!f)
        DW_FAIL_("cannot open %s", FIXTURE);
    struct dw_buf b;
    dw_buf_init(&b, 0);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        dw_buf_append(&b, chunk, n);
    fclose(f);
    *len = b.len;
    return dw_buf_steal(&b);
}

static char *collect_live(size_t *len)
{
    struct dw_buf out;
    char *err = NULL;
    dw_buf_init(&out, 0);
    if (dw_host_collect(NULL, &out, &err) != 0)
        DW_FAIL_("dw_host_collect: %s", err);
    *len = out.len;
    return dw_buf_steal(&out);
}

TEST(types_and_label_names_match_the_node_exporter_fixture)
{
    static const char *const required[] = {
        "node_cpu_seconds_total",
        "node_memory_MemAvailable_bytes",
        "node_memory_MemTotal_bytes",
        "node_memory_MemFree_bytes",
        "node_memory_Buffers_bytes",
        "node_memory_Cached_bytes",
        "node_load1",
        "node_load5",
        "node_load15",
        "node_boot_time_seconds",
        "node_context_switches_total",
        "node_intr_total",
        "node_forks_total",
        "node_procs_running",
        "node_time_seconds",
        "node_uname_info",
        "node_filesystem_avail_bytes",
        "node_filesystem_size_bytes",
        "node_filesystem_free_bytes",
        "node_filesystem_files",
        "node_filesystem_files_free",
        "node_filesystem_readonly",
        "node_filesystem_device_error",
        "node_network_receive_bytes_total",
        "node_network_transmit_bytes_total",
        "node_network_receive_drop_total",
        "node_disk_read_bytes_total",
        "node_disk_written_bytes_total",
        "node_disk_io_time_seconds_total",
        "node_disk_reads_completed_total",
        "node_filefd_allocated",
        "node_filefd_maximum",
        "node_vmstat_pgfault",
        "node_vmstat_pgmajfault",
        "node_timex_sync_status",
        "node_timex_offset_seconds",
        "node_scrape_collector_success",
        "node_scrape_collector_duration_seconds",
    };
    size_t flen, olen;
    char *fixture = read_fixture(&flen), *ours = collect_live(&olen);
    struct famset fs = {0}, os = {0};
    famset_parse(&fs, fixture, flen);
    famset_parse(&os, ours, olen);
    size_t shared = 0;
    for (size_t i = 0; i < os.n; i++) {
        struct famrec *o = &os.v[i], *f = famset_find(&fs, o->name);
        if (!f || !f->sampled || !o->sampled)
            continue;
        shared++;
        if (o->type != f->type)
            DW_FAIL_("%s: TYPE %s, node_exporter says %s", o->name, dw_expo_type_name(o->type),
                     dw_expo_type_name(f->type));
        if (!same_names(o->labels, f->labels))
            DW_FAIL_("%s: labels {%s}, node_exporter has {%s}", o->name, o->labels, f->labels);
    }
    ASSERT_TRUE(shared >= 100);
    for (size_t i = 0; i < DW_ARRAY_LEN(required); i++) {
        if (!famset_find(&fs, required[i]) || !famset_find(&fs, required[i])->sampled)
            DW_FAIL_("the fixture lacks %s", required[i]);
        if (!famset_find(&os, required[i]) || !famset_find(&os, required[i])->sampled)
            DW_FAIL_("we do not emit %s", required[i]);
    }
    famset_release(&fs);
    famset_release(&os);
    free(fixture);
    free(ours);
}

/* Every family the fixture declares that we also declare (even unsampled here) agrees. */
TEST(declared_types_match_the_fixture)
{
    size_t flen, olen;
    char *fixture = read_fixture(&flen), *ours = collect_live(&olen);
    struct famset fs = {0}, os = {0};
    famset_parse(&fs, fixture, flen);
    famset_parse(&os, ours, olen);
    for (size_t i = 0; i < os.n; i++) {
        struct famrec *f = famset_find(&fs, os.v[i].name);
        if (f && f->type != os.v[i].type)
            DW_FAIL_("%s: TYPE %s, node_exporter says %s", os.v[i].name,
                     dw_expo_type_name(os.v[i].type), dw_expo_type_name(f->type));
    }
    famset_release(&fs);
    famset_release(&os);
    free(fixture);
    free(ours);
}

/* ---- the live system ---- */

TEST(live_proc_parses_and_is_plausible)
{
    size_t len;
    char *out = collect_live(&len);
    struct dw_expo_error e;
    if (dw_expo_parse(NULL, NULL, out, len, NULL, &e) != 0)
        DW_FAIL_("live output does not parse: %s", e.msg);
    ASSERT_TRUE(value_of(out, "node_memory_MemTotal_bytes") > 1e6);
    ASSERT_TRUE(value_of(out, "node_boot_time_seconds") > 1e9);
    ASSERT_TRUE(value_of(out, "node_boot_time_seconds") < (double)dw_now_ms() / 1000);
    ASSERT_TRUE(value_of(out, "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"}") > 0);
    ASSERT_EQ_INT(count_lines_starting(out, "node_cpu_seconds_total{") % 8, 0);
    ASSERT_LINE(out, "node_scrape_collector_success{collector=\"cpu\"} 1");
    ASSERT_LINE(out, "node_scrape_collector_success{collector=\"meminfo\"} 1");
    ASSERT_LINE(out, "node_scrape_collector_success{collector=\"filesystem\"} 1");
    free(out);
}

TEST(repeated_collections_are_stable_and_fast)
{
    struct dw_buf out;
    char *err = NULL;
    dw_buf_init(&out, 0);
    int64_t best = INT64_MAX;
    for (int i = 0; i < 20; i++) {
        dw_buf_clear(&out);
        int64_t t0 = dw_mono_ns();
        ASSERT_EQ_INT(dw_host_collect(NULL, &out, &err), 0);
        int64_t took = dw_mono_ns() - t0;
        best = took < best ? took : best;
    }
    printf("  one collection: best of 20 %.2f ms (this build), %zu bytes\n", (double)best / 1e6,
           out.len);
    ASSERT_TRUE(best < 200 * 1000000LL); /* generous: sanitizers and a busy machine */
    dw_buf_release(&out);
}

TEST_MAIN()
