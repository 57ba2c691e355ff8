#!/bin/sh
# run.sh [OPTIONS] - the side-by-side status-page benchmark: wrk against dojowatch and
# against nginx serving the same bytes as a static file, URL by URL, in one run:
# requests/s and p99 latency of each, dojowatch / nginx, and whether dojowatch reaches
# the target (0.8 x nginx's requests/s) on every URL.
#
#   bench/status/run.sh                       /status and /status/api/v2/summary.json,
#                                             3 interleaved rounds of 10 s per server
#   BENCH_SECONDS=5 BENCH_ROUNDS=1 bench/status/run.sh      shorter
#   bench/status/run.sh --gzip                both send gzip made ahead (Accept-Encoding: gzip)
#   bench/status/run.sh --paths /metrics      other URLs
#   DOJOWATCH_BIN=build/x/src/cli/dojowatch bench/status/run.sh    another build
#                                             (default build/release/src/cli/dojowatch)
#   bench/status/run.sh --help                every option
#
# Installs what is missing first (Debian packages wrk and nginx; as root, else it prints the
# apt-get command), then runs status.py with Debian's /usr/bin/python3. Both servers listen on
# 127.0.0.1 only and are stopped by their pid at the end; the table goes to stdout, progress
# to stderr, the figures as JSON to build/bench/.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

case " $* " in
*" --help "* | *" -h "*) ;;
*) "$here/../lib/need-debs.sh" python3 wrk nginx make ;;
esac
exec /usr/bin/python3 -B "$here/status.py" "$@"
