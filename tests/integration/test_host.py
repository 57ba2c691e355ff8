"""Integration tests of `dojowatch host-metrics`, the built-in host collector,
against the real Debian prometheus-node-exporter 1.5 on the same machine: the
same families must have the same TYPE, label names and label values, and
values that agree; on a synthetic /proc and /sys tree fed to both, every
shared value must be identical.

The node_exporter comparisons pass with a note when /usr/bin/prometheus-node-exporter
is not installed."""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

from dwtest import cli, run, test, free_port

NODE_EXPORTER = os.environ.get("NODE_EXPORTER_BIN", "/usr/bin/prometheus-node-exporter")

# Families that must be in both outputs on any Linux machine.
REQUIRED = [
    "node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes",
    "node_memory_MemFree_bytes", "node_load1", "node_load5", "node_load15",
    "node_boot_time_seconds", "node_context_switches_total", "node_intr_total",
    "node_forks_total", "node_procs_running", "node_procs_blocked", "node_time_seconds",
    "node_uname_info", "node_filesystem_avail_bytes", "node_filesystem_size_bytes",
    "node_filesystem_device_error", "node_filefd_allocated", "node_filefd_maximum",
    "node_network_receive_bytes_total", "node_network_transmit_bytes_total",
    "node_disk_read_bytes_total", "node_disk_written_bytes_total", "node_vmstat_pgfault",
    "node_netstat_Tcp_InSegs", "node_sockstat_sockets_used", "node_timex_sync_status",
    "node_scrape_collector_success", "node_scrape_collector_duration_seconds",
]

# The families of node_exporter's collectors that we implement: anything of theirs
# matching this that we lack is a gap.
OURS = re.compile(r"^node_(cpu_(seconds|guest_seconds)_total|memory_|load|boot_time_seconds|"
                  r"context_switches_total|forks_total|intr_total|procs_|time_|timex_|uname_info|"
                  r"filesystem_|network_(receive|transmit)_\w+_total|disk_|filefd_|vmstat_|"
                  r"netstat_|sockstat_)")


# ---- the text format, read independently of the C parser ----

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$')
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')


def unescape(v):
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def parse_labels(text):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL.match(text, pos)
        assert m, "bad labels: " + text
        labels[m.group(1)] = unescape(m.group(2))
        pos = m.end()
    return tuple(sorted(labels.items()))


class Exposition:
    """Families of a Prometheus text exposition: types, HELP, and series."""

    def __init__(self, text):
        self.types, self.helps, self.series, self.order = {}, {}, {}, []
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, typ = line.split(" ", 3)
                assert name not in self.types, "TYPE twice: " + name
                self.types[name] = typ
            elif line.startswith("# HELP "):
                name = line.split(" ", 3)[2]
                self.helps[name] = line.split(" ", 3)[3] if line.count(" ") >= 3 else ""
            elif line and not line.startswith("#"):
                m = LINE.match(line)
                assert m, "bad line: %r" % line
                fam = self.family_of(m.group(1))
                if not self.order or self.order[-1] != fam:
                    assert fam not in self.order, "samples of %s are split" % fam
                    self.order.append(fam)
                key = (m.group(1), parse_labels(m.group(2) or ""))
                fseries = self.series.setdefault(fam, {})
                assert key not in fseries, "series twice: %r" % (key,)
                fseries[key] = float(m.group(3))

    def family_of(self, name):
        if name in self.types:
            return name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and name[:-len(suffix)] in self.types:
                return name[:-len(suffix)]
        return name

    def label_names(self, fam):
        return {k for (_, labels) in self.series.get(fam, {}) for k, _ in labels}

    def label_values(self, fam, *names):
        out = set()
        for (_, labels) in self.series.get(fam, {}):
            d = dict(labels)
            out.add(tuple(d.get(n) for n in names))
        return out

    def value(self, fam, **labels):
        for (_, ls), v in self.series.get(fam, {}).items():
            d = dict(ls)
            if all(d.get(k) == val for k, val in labels.items()):
                return v
        return None


def ours(*args):
    rc, out, err = cli("host-metrics", *args)
    assert rc == 0, "host-metrics exited %s: %s" % (rc, err)
    assert "runtime error" not in err and "AddressSanitizer" not in err, err
    return Exposition(out)


# ---- node_exporter ----

def have_node_exporter(name):
    if os.access(NODE_EXPORTER, os.X_OK):
        return True
    print("  note: %s is not installed; %s checks nothing" % (NODE_EXPORTER, name), flush=True)
    return False



class NodeExporter:
    """prometheus-node-exporter on 127.0.0.1 with a free port."""

    def __init__(self, args=()):
        self.args = list(args)
        self.proc = None
        self.log = tempfile.TemporaryFile()

    def __enter__(self):
        for _ in range(5):  # the port may be taken between free_port() and bind()
            self.port = free_port()
            self.proc = subprocess.Popen(
                [NODE_EXPORTER, "--web.listen-address=127.0.0.1:%d" % self.port] + self.args,
                stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
            deadline = time.time() + 15
            while time.time() < deadline and self.proc.poll() is None:
                try:
                    self.scrape()
                    return self
                except OSError:
                    time.sleep(0.05)
            self.stop()
        self.log.seek(0)
        raise AssertionError("node_exporter did not start:\n" + self.log.read().decode()[-3000:])

    def scrape(self):
        url = "http://127.0.0.1:%d/metrics" % self.port
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.read().decode()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __exit__(self, *exc):
        self.stop()
        self.log.close()


def both(args=(), ne_args=()):
    """Our exposition and node_exporter's, taken back to back."""
    with NodeExporter(ne_args) as ne:
        a = ours(*args)
        b = Exposition(ne.scrape())
    return a, b


def shared_families(a, b):
    return sorted(f for f in a.series if f in b.series)


# ---- the command itself ----

@test
def prints_a_valid_exposition():
    e = ours()
    for fam in REQUIRED:
        assert fam in e.series, "missing " + fam
        assert fam in e.types and fam in e.helps, "no TYPE/HELP for " + fam
    for fam in e.series:
        assert fam in e.types, "no TYPE for " + fam
    ok = e.label_values("node_scrape_collector_success", "collector")
    names = {c for (c,) in ok}
    for c in ("cpu", "diskstats", "filefd", "filesystem", "loadavg", "meminfo", "netdev",
              "netstat", "sockstat", "stat", "time", "timex", "uname", "vmstat"):
        assert c in names, "no node_scrape_collector_success for " + c
        assert e.value("node_scrape_collector_success", collector=c) == 1, c + " failed"


@test
def help_and_bad_usage():
    rc, out, _ = cli("host-metrics", "--help")
    assert rc == 0 and "usage: dojowatch host-metrics" in out and "--proc" in out, out
    rc, _, err = cli("host-metrics", "--bogus")
    assert rc == 2, (rc, err)
    rc, _, err = cli("host-metrics", "extra")
    assert rc == 2 and "unexpected argument" in err, (rc, err)


@test
def nothing_readable_exits_1():
    rc, out, err = cli("host-metrics", "--proc", "/nonexistent/proc", "--sys", "/nonexistent/sys",
                       "--rootfs", "/nonexistent")
    assert rc == 1, (rc, out[:500])
    assert out == "", out[:500]
    assert "no host metrics could be read" in err, err


# ---- against node_exporter on this machine ----

@test
def types_and_label_names_match_node_exporter():
    if not have_node_exporter("types_and_label_names_match_node_exporter"):
        return
    a, b = both()
    shared = shared_families(a, b)
    assert len(shared) >= 100, shared
    for fam in shared:
        assert a.types[fam] == b.types[fam], "%s: TYPE %s, node_exporter %s" % (
            fam, a.types[fam], b.types[fam])
        assert a.label_names(fam) == b.label_names(fam), "%s: labels %s, node_exporter %s" % (
            fam, sorted(a.label_names(fam)), sorted(b.label_names(fam)))
        if fam != "node_scrape_collector_success" and fam != "node_scrape_collector_duration_seconds":
            assert a.helps.get(fam) == b.helps.get(fam), "%s: HELP %r, node_exporter %r" % (
                fam, a.helps.get(fam), b.helps.get(fam))
    for fam in REQUIRED:
        assert fam in a.series and fam in b.series, "%s not in both" % fam
    gaps = sorted(f for f in b.series if OURS.match(f) and f not in a.series)
    if not os.path.isdir("/sys/class/net"):
        # Without sysfs (a bare chroot) rx_nohandler cannot be read; node_exporter
        # gets it over netlink. Every real machine has /sys.
        gaps = [g for g in gaps if g != "node_network_receive_nohandler_total"]
    assert not gaps, "node_exporter has families we lack: %s" % gaps
    extra = sorted(f for f in a.series if f not in b.series)
    assert not extra, "families node_exporter does not have: %s" % extra


@test
def label_values_match_node_exporter():
    if not have_node_exporter("label_values_match_node_exporter"):
        return
    a, b = both()
    for fam, names in [("node_cpu_seconds_total", ("cpu", "mode")),
                       ("node_cpu_guest_seconds_total", ("cpu", "mode")),
                       ("node_network_receive_bytes_total", ("device",)),
                       ("node_network_transmit_packets_total", ("device",)),
                       ("node_filesystem_device_error", ("device", "fstype", "mountpoint")),
                       ("node_filesystem_size_bytes", ("mountpoint",)),
                       ("node_disk_reads_completed_total", ("device",)),
                       ("node_disk_info", ("device", "major", "minor", "model", "path",
                                           "revision", "serial", "wwn")),
                       ("node_uname_info", ("domainname", "machine", "nodename", "release",
                                            "sysname", "version")),
                       ("node_time_zone_offset_seconds", ("time_zone",)),
                       ("node_time_clocksource_current_info", ("clocksource", "device"))]:
        got, want = a.label_values(fam, *names), b.label_values(fam, *names)
        assert got == want, "%s %s: ours %s, node_exporter %s" % (fam, names, sorted(got),
                                                                  sorted(want))


@test
def values_agree_with_node_exporter():
    if not have_node_exporter("values_agree_with_node_exporter"):
        return
    a, b = both()
    for fam in ("node_memory_MemTotal_bytes", "node_memory_SwapTotal_bytes",
                "node_filefd_maximum", "node_filesystem_size_bytes", "node_filesystem_files",
                "node_filesystem_readonly", "node_filesystem_device_error"):
        assert a.series.get(fam) == b.series.get(fam), "%s: ours %s, node_exporter %s" % (
            fam, a.series.get(fam), b.series.get(fam))
    assert abs(a.value("node_boot_time_seconds") - b.value("node_boot_time_seconds")) <= 2
    assert abs(a.value("node_time_seconds") - b.value("node_time_seconds")) <= 5
    for (name, labels), v in a.series["node_cpu_seconds_total"].items():
        w = b.series["node_cpu_seconds_total"][(name, labels)]
        assert abs(v - w) <= 5, "node_cpu_seconds_total%s: ours %s, node_exporter %s" % (
            dict(labels), v, w)
    for fam in ("node_network_receive_bytes_total", "node_disk_read_bytes_total",
                "node_context_switches_total", "node_intr_total", "node_forks_total"):
        for key, v in a.series[fam].items():  # counters: ours was read first
            assert v <= b.series[fam][key], "%s%s: ours %s > node_exporter's later %s" % (
                fam, dict(key[1]), v, b.series[fam][key])


# ---- against node_exporter on a synthetic tree: identical values ----

def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def fake_tree(root):
    write(root, "proc/stat", "cpu  100 2 30 4000 5 0 6 7 0 0\ncpu0 60 1 20 2000 3 0 4 5 11 12\n"
          "cpu1 40 1 10 2000 2 0 2 2 0 0\nintr 12345 " + " ".join(["0"] * 5000) + "\n"
          "ctxt 67890\nbtime 1700000000\nprocesses 4242\nprocs_running 3\nprocs_blocked 1\n"
          "softirq 55 1 2 3 4 5 6 7 8 9 10\n")
    write(root, "proc/meminfo", "MemTotal:       16318480 kB\nMemFree:         1234567 kB\n"
          "MemAvailable:    8000000 kB\nActive(anon):      12345 kB\nInactive(file):    67890 kB\n"
          "HugePages_Total:       4\nHugePages_Free:        2\nHugepagesize:       2048 kB\n"
          "DirectMap4k:      123456 kB\nWeird(x)y:    5 kB\n")
    write(root, "proc/loadavg", "1.25 0.50 0.05 2/345 6789\n")
    write(root, "proc/sys/fs/file-nr", "1024\t0\t9223372036854775807\n")
    write(root, "proc/vmstat", "nr_free_pages 123\npgpgin 10\npgpgout 20\npswpin 1\npswpout 2\n"
          "pgfault 1000\npgmajfault 7\npgfault_extra 3\noom_kill 0\npgsteal_kswapd 9\n"
          "thp_fault_alloc 4\n")
    write(root, "proc/net/dev", "Inter-|   Receive                |  Transmit\n"
          " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets "
          "errs drop fifo colls carrier compressed\n"
          "    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0\n"
          "  eth0: 18446744073709551615 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
          "wlan-x:1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n")
    write(root, "proc/diskstats",
          "   8       0 sda 100 2 800 30 40 5 640 60 0 70 90 1 2 16 3 4 5\n"
          "   8       1 sda1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1\n"
          "   7       0 loop0 1 2 3 4 5 6 7 8 9 10 11\n"
          " 259       0 nvme0n1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n"
          " 259       1 nvme0n1p1 1 2 3 4 5 6 7 8 9 10 11\n"
          " 253       0 dm-0 9 8 7 6 5 4 3 2 1 0 1\n")
    write(root, "run/udev/data/b8:0", "S:disk/by-id/ata-X\nE:ID_ATA=1\n"
          "E:ID_ATA_ROTATION_RATE_RPM=7200\nE:ID_ATA_WRITE_CACHE=1\nE:ID_ATA_WRITE_CACHE_ENABLED=0\n"
          "E:ID_MODEL=Fake_Disk\nE:ID_PATH=pci-0000:00:1f.2-ata-1\nE:ID_REVISION=1.0\n"
          "E:ID_SERIAL_SHORT=SN\"1\\\\2\nE:ID_WWN=0x5000\n")
    write(root, "run/udev/data/b253:0", "E:DM_NAME=vg-root\nE:DM_UUID=LVM-x\nE:DM_VG_NAME=vg\n"
          "E:DM_LV_NAME=root\n")
    write(root, "proc/net/netstat", "TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows "
          "ListenDrops TCPTimeouts TCPSynRetrans Other\nTcpExt: 1 2 3 4 5 6 7\n"
          "IpExt: InNoRoutes InOctets OutOctets\nIpExt: 0 123 456\n")
    write(root, "proc/net/snmp", "Ip: Forwarding DefaultTTL InReceives InErrors\nIp: 1 64 100 2\n"
          "Tcp: RtoAlgorithm MaxConn ActiveOpens PassiveOpens CurrEstab InSegs OutSegs RetransSegs "
          "InErrs OutRsts\nTcp: 1 -1 10 20 3 40 50 6 7 8\n"
          "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\n"
          "Udp: 1 2 3 4 5 6\n")
    write(root, "proc/net/snmp6", "Ip6InReceives                   \t5\nIp6InOctets 77\n"
          "Icmp6InMsgs 3\nUdpLite6InErrors 1\nUdp6NoPorts 9\n")
    write(root, "proc/net/sockstat", "sockets: used 19\nTCP: inuse 4 orphan 0 tw 1 alloc 5 mem 6\n"
          "UDP: inuse 2 mem 3\nUDPLITE: inuse 0\nRAW: inuse 1\nFRAG: inuse 0 memory 0\n")
    write(root, "proc/net/sockstat6", "TCP6: inuse 2\nUDP6: inuse 1\nUDPLITE6: inuse 0\n"
          "RAW6: inuse 0\nFRAG6: inuse 0 memory 0\n")
    for d in ("data", "sp ace", "mnt/x"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    write(root, "proc/1/mounts", "/dev/sda1 / ext4 rw,relatime 0 0\n"
          "/dev/sdb1 /data xfs ro,noatime 0 0\n/dev/sdc1 /sp\\040ace ext4 rw 0 0\n"
          "proc /proc proc rw 0 0\ntmpfs /mnt/x tmpfs rw 0 0\nsysfs /srv sysfs rw 0 0\n"
          "/dev/sdb1 /data xfs ro,noatime 0 0\nnfs:/gone /gone nfs rw 0 0\n")
    write(root, "sys/devices/system/clocksource/clocksource0/available_clocksource",
          "tsc hpet acpi_pm \n")
    write(root, "sys/devices/system/clocksource/clocksource0/current_clocksource", "tsc\n")
    write(root, "sys/class/net/eth0/statistics/rx_nohandler", "42\n")


# Free space and free inodes move while the two read them; time is time.
MOVING = re.compile(r"^node_(filesystem_(avail|free)_bytes|filesystem_files_free|time_seconds|"
                    r"timex_|scrape_collector_duration)")


@test
def synthetic_tree_values_identical_to_node_exporter():
    if not have_node_exporter("synthetic_tree_values_identical_to_node_exporter"):
        return
    root = tempfile.mkdtemp(prefix="dwhost-")
    try:
        fake_tree(root)
        proc, sys_ = os.path.join(root, "proc"), os.path.join(root, "sys")
        a, b = both(("--proc", proc, "--sys", sys_, "--rootfs", root),
                    ("--path.procfs=" + proc, "--path.sysfs=" + sys_, "--path.rootfs=" + root,
                     "--path.udev.data=" + os.path.join(root, "run/udev/data"),
                     "--no-collector.netdev.netlink"))
        shared = [f for f in shared_families(a, b) if not f.startswith("node_scrape")]
        assert len(shared) >= 90, shared
        for fam in shared:
            assert a.types[fam] == b.types[fam], fam
            if MOVING.match(fam):
                assert set(a.series[fam]) == set(b.series[fam]), fam
            else:
                assert a.series[fam] == b.series[fam], "%s:\n ours %s\n node_exporter %s" % (
                    fam, sorted(a.series[fam].items()), sorted(b.series[fam].items()))
        # /proc/net/dev has no rx_nohandler: only netlink mode (the default) reports it.
        extra = sorted(f for f in a.series if f not in b.series)
        assert extra == ["node_network_receive_nohandler_total"], extra
        gaps = sorted(f for f in b.series if OURS.match(f) and f not in a.series)
        assert not gaps, "node_exporter has families we lack: %s" % gaps
        assert a.value("node_network_receive_bytes_total", device="eth0") == float(2**64 - 1)
        assert a.value("node_filesystem_device_error", mountpoint="/gone") == 1
        assert a.value("node_filesystem_readonly", mountpoint="/data") == 1
    finally:
        shutil.rmtree(root, ignore_errors=True)


run()
