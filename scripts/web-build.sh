#!/bin/sh
# web-build.sh [--dist DIR] [--embed FILE.c [--manifest FILE.json]] [--depfile FILE] - bundles
# the browser assets.
#
#   scripts/web-build.sh                    web/src/*.js and web/static/* into web/dist/
#   scripts/web-build.sh --dist D --embed assets_data.c --manifest assets-manifest.json \
#       --depfile assets_data.c.d           what meson runs (src/http/meson.build): bundle into
#                                           D, then scripts/embed-assets.py turns D into C (and
#                                           a JSON manifest the tests read)
#
# Steps: `npm ci` in web/ when web/node_modules is missing or older than package.json or
# package-lock.json; every web/src/*.js is an entry point that esbuild bundles (its imports
# from web/src and node_modules included), minifies and lowers to ES2019 as a classic
# script (IIFE) into DIST/<name>.js; every regular file of web/static/ (css, svg, ...) is
# copied beside them as is. The depfile names everything under web/src and web/static
# (folders too, so a new file triggers a rebuild), the npm files and these scripts.
#
# Several build directories may run this at once against the one web/node_modules:
# an flock on web/.build.lock keeps `npm ci` from pulling it away under another's esbuild.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
web="$root/web"
dist="$web/dist"
embed=""
manifest=""
depfile=""
while [ $# -gt 0 ]; do
    case "$1" in
    --dist) dist="$2"; shift 2 ;;
    --embed) embed="$2"; shift 2 ;;
    --manifest) manifest="$2"; shift 2 ;;
    --depfile) depfile="$2"; shift 2 ;;
    -h | --help) sed -n '2,/^set -eu/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "web-build.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "web-build.sh: '$tool' is not installed; the web assets are bundled with node and npm." >&2
        echo "  run scripts/deps.sh build (as root it installs Debian's nodejs and npm)," >&2
        echo "  or configure without web assets: meson configure BUILDDIR -Dweb_assets=false" >&2
        exit 1
    fi
done

# Hold the lock for the rest of the script (fd 9 closes when it exits).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$web/.build.lock"
    flock 9
fi

stamp="$web/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ "$web/package-lock.json" -nt "$stamp" ] || [ "$web/package.json" -nt "$stamp" ]; then
    echo "web-build.sh: npm ci in web/ (node $(node --version), npm $(npm --version))" >&2
    # Install scripts stay off: esbuild finds its platform binary without its postinstall.
    (cd "$web" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2) || {
        echo "web-build.sh: npm ci failed; it needs the npm registry once (then web/node_modules is reused)" >&2
        exit 1
    }
    touch "$stamp"
fi

rm -rf "$dist"
mkdir -p "$dist"
set -- "$web"/src/*.js
if [ -e "$1" ]; then
    "$web/node_modules/.bin/esbuild" "$@" --bundle --minify --target=es2019 --format=iife \
        --charset=utf8 --log-level=warning --outdir="$dist"
fi
for f in "$web"/static/*; do
    [ -f "$f" ] && cp "$f" "$dist/"
done

if [ -n "$embed" ]; then
    /usr/bin/env python3 -B "$root/scripts/embed-assets.py" "$dist" "$embed" ${manifest:+"$manifest"}
fi
if [ -n "$depfile" ]; then
    deps=$({ find "$web/src" "$web/static" 2>/dev/null
             printf '%s\n' "$web/package.json" "$web/package-lock.json" \
                 "$root/scripts/web-build.sh" "$root/scripts/embed-assets.py"; } |
           sed 's/ /\\ /g' | tr '\n' ' ')
    printf '%s: %s\n' "$(printf '%s' "${embed:-$dist}" | sed 's/ /\\ /g')" "$deps" >"$depfile"
fi
