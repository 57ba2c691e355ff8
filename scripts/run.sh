#!/bin/sh
# run.sh BINARY CONFIG DATA [LISTEN] - what `make run` starts.
# When DOJOWATCH_ADMIN_TOKEN is unset, makes one (kept in DATA/admin-token so
# it stays the same across runs) and prints it.
# When DOJOWATCH_ADMIN_PASSWORD_HASH is unset, makes the web console's admin
# password on the first run, prints it once and keeps only its Argon2id hash
# (DATA/admin-password-hash; delete the file for a new password).
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
if [ -z "${DOJOWATCH_ADMIN_PASSWORD_HASH:-}" ]; then
    if [ ! -s "$data/admin-password-hash" ]; then
        pw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
        (umask 077; printf '%s\n' "$pw" | "$bin" passwd --stdin >"$data/admin-password-hash.tmp")
        mv "$data/admin-password-hash.tmp" "$data/admin-password-hash"
        echo "web console sign-in (the password is shown only now; $data/admin-password-hash keeps its hash):"
        echo "    user admin, password $pw"
        unset pw
    else
        echo "web console sign-in: user admin with the password printed on the first run"
        echo "    (forgotten? rm $data/admin-password-hash and run again for a new one)"
    fi
    DOJOWATCH_ADMIN_PASSWORD_HASH=$(cat "$data/admin-password-hash")
    export DOJOWATCH_ADMIN_PASSWORD_HASH
fi
set -- serve --config "$config" --data "$data"
[ -n "$listen" ] && set -- "$@" --listen "$listen"
exec "$bin" "$@"
