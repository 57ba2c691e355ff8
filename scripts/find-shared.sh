#!/bin/sh
# find-shared.sh - prints the shared data folder the tests read (fixtures,
# PromQL cases, benchmark generator): $DW_SHARED if set, else ../shared
# beside this checkout, else ../shared beside the repository this one was
# cloned from (so `git clone . /tmp/fresh && cd /tmp/fresh && make test`
# finds it). Prints nothing when there is none.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${DW_SHARED:-}" ]; then
    echo "$DW_SHARED"
    exit 0
fi
if [ -d "$here/../shared" ]; then
    (cd "$here/../shared" && pwd)
    exit 0
fi
origin=$(git -C "$here" config --get remote.origin.url 2>/dev/null || true)
case "$origin" in
    /*) [ -d "$origin/../shared" ] && (cd "$origin/../shared" && pwd) ;;
    file://*) o=${origin#file://}; [ -d "$o/../shared" ] && (cd "$o/../shared" && pwd) ;;
esac
exit 0
