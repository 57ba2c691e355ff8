#!/bin/sh
# run.sh BINARY CONFIG DATA [LISTEN] - what `make run` starts.
# When DOJOWATCH_ADMIN_TOKEN is unset, makes one (kept in DATA/admin-token so
# it stays the same across runs) and prints it.
set -eu
bin="$1"; config="$2"; data="$3"; listen="${4:-}"
mkdir -p "$data"
if [ -z "${DOJOWATCH_ADMIN_TOKEN:-}" ]; then
    if [ ! -s "$data/admin-token" ]; then
        (umask 077; od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$data/admin-token")
    fi
    DOJOWATCH_ADMIN_TOKEN=$(cat "$data/admin-token")
    export DOJOWATCH_ADMIN_TOKEN
    echo "admin API token (generated, kept in $data/admin-token):"
    echo "    $DOJOWATCH_ADMIN_TOKEN"
    echo "use it as:  curl -H 'Authorization: Bearer $DOJOWATCH_ADMIN_TOKEN' http://${listen:-127.0.0.1:9107}/api/plan"
fi
set -- serve --config "$config" --data "$data"
[ -n "$listen" ] && set -- "$@" --listen "$listen"
exec "$bin" "$@"
