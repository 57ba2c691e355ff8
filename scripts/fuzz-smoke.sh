#!/bin/sh
# fuzz-smoke.sh [SECONDS] - builds the libFuzzer targets with clang (build/fuzz)
# and runs each one briefly on its seed corpus (fuzz/corpus/<name>), writing a
# log in meson's testlog format to build/fuzz/fuzz-smoke.log so that
# scripts/test-summary.sh counts one case per target. New inputs stay in the
# build tree; the seed corpus is never modified.
set -u
secs="${1:-${FUZZ_SECONDS:-15}}"
dir=build/fuzz
log="$dir/fuzz-smoke.log"
if ! command -v clang >/dev/null 2>&1; then
    echo "fuzz-smoke: clang not installed; skipping (scripts/deps.sh test installs it)" >&2
    exit 0
fi
if [ ! -f "$dir/build.ninja" ]; then
    shared=$(scripts/find-shared.sh)
    CC=clang meson setup "$dir" --buildtype=debug -Dfuzz=true ${shared:+-Dshared_dir="$shared"} \
        -Db_sanitize=address,undefined -Db_lundef=false >/dev/null || exit 1
fi
ninja -C "$dir" >"$dir/ninja.out" 2>&1 || { cat "$dir/ninja.out"; exit 1; }
: >"$log"
status=0
for bin in $(find "$dir" -type f -name '*_fuzz' -perm -u+x | sort); do
    name=$(basename "$bin" _fuzz)
    seeds="fuzz/corpus/$name"
    work="$dir/corpus-$name"
    mkdir -p "$work"
    out="$dir/$name-fuzz.out"
    "$bin" -max_total_time="$secs" -print_final_stats=1 "$work" ${seeds:+"$seeds"} >"$out" 2>&1
    rc=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out" | grep -o '[0-9]*$')
    {
        echo "test:         fuzz / $name"
        echo "result:       exit status $rc"
        if [ $rc -eq 0 ]; then
            echo "${name}_fuzz: 1 passed, 0 failed"
        else
            echo "${name}_fuzz: 0 passed, 1 failed"
        fi
    } >>"$log"
    printf '%-28s %s (%s runs in %ss)\n' "fuzz / $name" "$([ $rc -eq 0 ] && echo OK || echo FAIL)" "${runs:-?}" "$secs"
    [ $rc -eq 0 ] || { status=1; tail -n 40 "$out"; }
done
exit $status
