#!/bin/sh
# need-debs.sh PACKAGE... - makes sure the Debian packages a benchmark needs
# are installed (the peers it runs, Python modules of the load generators).
#
# As root it installs what is missing with apt-get (refreshing the package
# lists when they are older than a day); otherwise it prints the exact
# command and fails. Services a package would start stay stopped wherever
# policy-rc.d forbids it; the benchmarks start their own instances on
# loopback with fresh data directories and never use the system services.
set -eu

missing=""
for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "this benchmark needs these Debian packages:$missing" >&2
    echo "install them with:  sudo apt-get install -y --no-install-recommends$missing" >&2
    exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -n 1)" ]; then
    apt-get update -q >&2
fi
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing </dev/null >&2
