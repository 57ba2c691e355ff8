#!/bin/sh
# run.sh [--quick] [OPTIONS] - the side-by-side notification benchmark (issue 7): a burst of
# 10,000 alert groups through to a local webhook receiver, dojowatch next to Alertmanager 0.25
# (throughput, enqueue-to-delivery latency, memory, CPU), the same with a receiver failing half
# the time (zero lost), and dojowatch killed with SIGKILL mid-burst (zero lost).
#
#   bench/notify/run.sh --quick    smoke run, 1,000 groups (under 2 min)
#   bench/notify/run.sh            the full run, 10,000 groups
#   bench/notify/run.sh --help     every option
#
# Installs what is missing first (Debian package prometheus-alertmanager; as root, else it
# prints the apt-get command), then runs notify.py with Debian's /usr/bin/python3. Servers
# listen on 127.0.0.1 only and are all stopped at the end; the tables go to stdout, progress
# to stderr, the figures as JSON to build/bench/.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

case " $* " in
*" --help "* | *" -h "*) ;;
*) "$here/../lib/need-debs.sh" python3 prometheus-alertmanager make ;;
esac
exec /usr/bin/python3 -B "$here/notify.py" "$@"
