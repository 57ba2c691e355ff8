#!/bin/sh
# run.sh [--quick | --big] [OPTIONS] - the side-by-side ingest benchmark:
# dojowatch, Prometheus 2.42 and VictoriaMetrics 1.79 on the shared dataset.
#
#   bench/ingest/run.sh --quick    smoke run, about a minute
#   bench/ingest/run.sh            10,000 series x 2 h, median of 3, a few minutes
#   bench/ingest/run.sh --big      also 100,000 series x 30 min
#   bench/ingest/run.sh --help     every option
#
# Installs what is missing first (Debian packages prometheus, victoria-metrics,
# python3-snappy; as root, else it prints the apt-get command), then runs
# ingest.py with Debian's /usr/bin/python3. Servers listen on 127.0.0.1 only
# and are all stopped at the end; the table goes to stdout, progress to
# stderr, the figures as JSON to build/bench/ (see README.md).
set -eu
here=$(cd "$(dirname "$0")" && pwd)

case " $* " in
*" --help "* | *" -h "*) ;;
*) "$here/../lib/need-debs.sh" python3 python3-snappy prometheus victoria-metrics make ;;
esac
exec /usr/bin/python3 -B "$here/ingest.py" "$@"
