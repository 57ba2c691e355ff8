#!/bin/sh
# deps.sh - installs the Debian packages dojowatch needs to build, run and test.
#
#   scripts/deps.sh build   what `make run` needs (compiler, meson, -dev libraries)
#   scripts/deps.sh test    plus what `make test` needs (python3, test peers)
#
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -eu

BUILD_PKGS="gcc pkg-config meson ninja-build ca-certificates
libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev libfyaml-dev libsqlite3-dev
libsodium-dev libpcre2-dev libzstd-dev zlib1g-dev libsnappy-dev libprotobuf-c-dev protobuf-c-compiler
libcmark-dev libpq-dev tzdata"
TEST_PKGS="python3 curl procps clang libclang-rt-14-dev clang-format prometheus prometheus-node-exporter prometheus-blackbox-exporter openssl tzdata python3-aiosmtpd python3-icalendar r-cran-whisker"

# The web assets are bundled at build time with node and npm (scripts/web-build.sh):
# Debian's packages only when none is on PATH (a newer node may be installed already).
command -v node >/dev/null 2>&1 || BUILD_PKGS="$BUILD_PKGS nodejs npm"
command -v node >/dev/null 2>&1 && ! command -v npm >/dev/null 2>&1 && BUILD_PKGS="$BUILD_PKGS npm"
# Browser tests (tests/browser) drive Debian's headless chromium; it needs a font.
TEST_PKGS="$TEST_PKGS chromium fonts-liberation"

want="$BUILD_PKGS"
[ "${1:-build}" = test ] && want="$want $TEST_PKGS"

missing=""
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "dojowatch needs these Debian packages:$missing" >&2
    echo "install them with:  sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists when they are missing or older than a day.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -n 1)" ]; then
    apt-get update -q
fi
apt-get install -y -q --no-install-recommends $missing </dev/null
