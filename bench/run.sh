#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds bench-migrate and runs it the way docs/performance.md reports it.
#
#   bench/run.sh [BUILDDIR] [bench-migrate options...]
#
# BUILDDIR defaults to "build" (set up if missing, with the default
# debugoptimized build type: -O2).  The table goes to stdout, and the same
# run's results as JSON to BUILDDIR/bench-migrate.json.  The default run takes
# about a minute on 2 CPUs; keep the machine otherwise idle.
set -eu
cd "$(dirname "$0")/.."
dir=build
case ${1-} in
'' | -*) ;;
*) dir=$1; shift ;;
esac
[ -d "$dir" ] || meson setup "$dir" >/dev/null
meson compile -C "$dir" bench-migrate >/dev/null
exec "$dir/bench/bench-migrate" --json-out "$dir/bench-migrate.json" "$@"
