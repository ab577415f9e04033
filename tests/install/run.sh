#!/bin/sh
# Install into a scratch root, then build and run an outside program with
# nothing but pkg-config's answers.
set -eu
build=$1 src=$2 cc=${CC:-cc}
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT

meson install -C "$build" --no-rebuild --quiet --destdir "$dest" >/dev/null
pc=$(find "$dest" -name vfiomig.pc)
[ -n "$pc" ] || { echo "Bail out! vfiomig.pc not installed"; exit 1; }
pkg-config --validate "$pc"
prefix=$(pkg-config --variable=prefix "$pc")
export PKG_CONFIG_PATH="$(dirname "$pc")"
flags=$(pkg-config --define-variable=prefix="$dest$prefix" --cflags --libs vfiomig)
libdir=$(pkg-config --define-variable=prefix="$dest$prefix" --variable=libdir vfiomig)
# shellcheck disable=SC2086
"$cc" -std=c99 -Wall -Werror -o "$dest/consumer" "$src" $flags
echo "1..2"
echo "ok 1 - consumer builds from pkg-config ($flags)"
LD_LIBRARY_PATH="$libdir" "$dest/consumer" | sed 's/^/# /'
echo "ok 2 - consumer runs against the installed library"
