#!/bin/sh
# run.sh [--quick] [OPTIONS] - the side-by-side synthetic-probe benchmark: N HTTP
# probes a minute against a local nginx, run by dojowatch and by blackbox_exporter
# driven by Prometheus (issue 5).
#
#   bench/probes/run.sh --quick    smoke run: 1,000 probes, 20 s window (under 2 min)
#   bench/probes/run.sh            10,000 probes a minute, 60 s window (about 4 min)
#   bench/probes/run.sh --help     every option
#
# Installs what is missing first (Debian packages prometheus,
# prometheus-blackbox-exporter, nginx-light, python3; as root, else it prints the
# apt-get command), then runs probes.py with Debian's /usr/bin/python3. Servers
# listen on 127.0.0.1 only and are all stopped at the end; the table goes to
# stdout, progress to stderr, the figures as JSON to build/bench/ (see README.md).
set -eu
here=$(cd "$(dirname "$0")" && pwd)

case " $* " in
*" --help "* | *" -h "*) ;;
*) "$here/../lib/need-debs.sh" python3 prometheus prometheus-blackbox-exporter nginx-light make ;;
esac
exec /usr/bin/python3 -B "$here/probes.py" "$@"
