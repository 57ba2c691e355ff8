#!/bin/sh
# run.sh [--quick] [OPTIONS] - the side-by-side alert latency benchmark (issue 6): remote
# write acknowledged -> P0 webhook, with 1,000 rules over 10,000 series, dojowatch next to
# Prometheus 2.42 + Alertmanager 0.25 (../shared/bench/alertlat, defaults and tuned).
#
#   bench/alert-latency/run.sh --quick    smoke run, no defaults stack (under 3 min)
#   bench/alert-latency/run.sh            the full run (about 6 min, at most 10)
#   bench/alert-latency/run.sh --help     every option
#
# Installs what is missing first (Debian packages prometheus, prometheus-alertmanager,
# python3-snappy; as root, else it prints the apt-get command), then runs latency.py with
# Debian's /usr/bin/python3. Servers listen on 127.0.0.1 only and are all stopped at the
# end; the tables go to stdout, progress to stderr, the figures as JSON to build/bench/.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

case " $* " in
*" --help "* | *" -h "*) ;;
*) "$here/../lib/need-debs.sh" python3 python3-snappy prometheus prometheus-alertmanager curl make ;;
esac
exec /usr/bin/python3 -B "$here/latency.py" "$@"
