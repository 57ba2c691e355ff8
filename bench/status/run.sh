#!/bin/sh
# run.sh [OPTIONS] - the side-by-side status-page benchmark: wrk against dojowatch and
# against nginx serving the same bytes as a static file, URL by URL, in one run:
# requests/s and p99 latency of each, and dojowatch / nginx.
#
#   bench/status/run.sh                       /status and /status/api/v2/summary.json, 15 s each
#   BENCH_SECONDS=5 bench/status/run.sh       shorter runs
#   bench/status/run.sh --paths /metrics      other URLs
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
