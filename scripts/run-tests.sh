#!/bin/sh
# run-tests.sh BUILDDIR [SUITE] - runs the meson test suites and prints the
# closing "N passed, N failed" line that counts every test case.
set -u
builddir="$1"
suite="${2:-}"
args="--no-rebuild --print-errorlogs --num-processes 2"
[ -n "$suite" ] && args="$args --suite $suite"
# ASan/UBSan: fail hard, keep leak detection on.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# shellcheck disable=SC2086
meson test -C "$builddir" $args >"$builddir/meson-test.out" 2>&1
status=$?
grep -E '^ *[0-9]+/[0-9]+ ' "$builddir/meson-test.out" || true
if [ $status -ne 0 ]; then
    echo "--- failures (full log: $builddir/meson-logs/testlog.txt) ---"
    grep -E '^(FAIL |  .*:[0-9]+: )' "$builddir/meson-logs/testlog.txt" | head -n 60 || true
fi
logs="$builddir/meson-logs/testlog.txt"
# The threaded parts again under ThreadSanitizer (the full suite only; the
# whole unit suite is `make tsan`): parallel appenders, readers and
# maintenance in the tsdb, the HTTP server's polling threads, the collector's
# and the rule evaluator's threads against concurrent writers and readers,
# and the alerter's flush thread.
if [ -z "$suite" ] && [ "${DW_SKIP_TSAN:-}" != 1 ]; then
    tsan=build/tsan
    shared=$(scripts/find-shared.sh)
    [ -f "$tsan/build.ninja" ] || meson setup "$tsan" --buildtype=debug -Db_sanitize=thread \
        ${shared:+-Dshared_dir="$shared"} >/dev/null
    if ninja -C "$tsan" src/tsdb/test_tsdb_head src/tsdb/test_tsdb_db src/http/test_http \
        src/collect/test_collect src/rules/test_rules src/alert/test_alert src/notify/test_notify \
        src/oncall/test_oncall_pages src/incident/test_incident >"$tsan/ninja.out" 2>&1; then
        TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}" \
            meson test -C "$tsan" --no-rebuild --print-errorlogs --num-processes 2 \
            tsdb_head tsdb_db http collect rules alert notify oncall_pages incident >"$tsan/meson-test.out" 2>&1
        sed -n 's/^\( *[0-9]*\/[0-9]* \)dojowatch:unit \/ /\1tsan \/ /p' "$tsan/meson-test.out"
        logs="$logs $tsan/meson-logs/testlog.txt"
    else
        echo "--- the ThreadSanitizer build failed (see $tsan/ninja.out) ---"
        tail -n 20 "$tsan/ninja.out"
        echo "tsan-build: 0 passed, 1 failed" >"$tsan/build-failed.log"
        logs="$logs $tsan/build-failed.log"
    fi
fi
# A short libFuzzer run of every fuzz target (the full suite only).
if [ -z "$suite" ] && [ "${DW_SKIP_FUZZ:-}" != 1 ]; then
    rm -f build/fuzz/fuzz-smoke.log
    scripts/fuzz-smoke.sh "${FUZZ_SECONDS:-10}"
    [ -f build/fuzz/fuzz-smoke.log ] && logs="$logs build/fuzz/fuzz-smoke.log"
fi
# shellcheck disable=SC2086
scripts/test-summary.sh $logs
