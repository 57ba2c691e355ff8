#!/bin/sh
# run.sh [--quick] [OPTIONS] - the side-by-side query benchmark: dojowatch,
# Prometheus 2.42 and VictoriaMetrics 1.79 answering the same dashboard
# queries over HTTP on the shared dataset.
#
#   bench/query/run.sh --quick    smoke run, about a minute
#   bench/query/run.sh            9,984 series x 2 h, median of 10, a few minutes
#   bench/query/run.sh --help     every option
#
# Installs what is missing first (Debian packages prometheus, victoria-metrics;
# as root, else it prints the apt-get command), then runs query.py with
# Debian's /usr/bin/python3. Servers listen on 127.0.0.1 only, run one at a
# time and are all stopped at the end; the tables go to stdout, progress to
# stderr, the figures as JSON to build/bench/ (see README.md).
set -eu
here=$(cd "$(dirname "$0")" && pwd)

case " $* " in
*" --help "* | *" -h "*) ;;
*) "$here/../lib/need-debs.sh" python3 prometheus victoria-metrics make ;;
esac
exec /usr/bin/python3 -B "$here/query.py" "$@"
