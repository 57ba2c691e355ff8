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
# A short libFuzzer run of every fuzz target (the full suite only).
if [ -z "$suite" ] && [ "${DW_SKIP_FUZZ:-}" != 1 ]; then
    rm -f build/fuzz/fuzz-smoke.log
    scripts/fuzz-smoke.sh "${FUZZ_SECONDS:-10}"
    [ -f build/fuzz/fuzz-smoke.log ] && logs="$logs build/fuzz/fuzz-smoke.log"
fi
# shellcheck disable=SC2086
scripts/test-summary.sh $logs
