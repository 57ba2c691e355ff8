#!/bin/sh
# test-summary.sh LOG... - reads meson's testlog.txt (and logs in its format), adds up the
# "<program>: N passed, N failed" lines every test program prints, and prints
# the closing line "N passed, N failed". A program that crashed, printed no
# count, or exited non-zero with no failure counted (a sanitizer report at
# exit, say) adds one failure. Exit status: 0 only when nothing failed.
set -eu
awk '
/^test:[ ]+/ { name = $0; sub(/^test:[ ]+/, "", name); order[++n] = name; seen[name] = 0; bad[name] = 0 }
/^result:[ ]+/ { result[name] = $0; if ($0 !~ /exit status 0$/) bad[name] = 1 }
/^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed/ {
    split($0, a, /[: ,]+/); passed += a[2]; failed += a[4]; seen[name] = 1; nf[name] += a[4]
}
END {
    for (i = 1; i <= n; i++) {
        nm = order[i]
        if (!seen[nm] || (bad[nm] && nf[nm] == 0)) {
            failed += 1
            printf "%s: crashed, exited non-zero or printed no count (%s)\n", nm, result[nm]
        }
    }
    printf "%d passed, %d failed\n", passed, failed
    exit failed ? 1 : 0
}' "$@"
