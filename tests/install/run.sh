#!/bin/sh
# Install into a scratch root, then build and run an outside program with
# nothing but pkg-config's answers (and -pthread, which a program that
# starts threads adds itself).  run.sh BUILD SOURCE MODE PACKAGE...: with
# MODE "tap", the program's own output is the TAP stream; with "plain", its
# output is shown as comments and its exit status is the second test.  The
# packages are what the program asks pkg-config for: vfiomig, for the
# mock device vfiomig-mock, for the checker vfiomig-conformance; each one's
# .pc file must be valid.
set -eu
build=$1 src=$2 mode=$3 cc=${CC:-cc}
shift 3
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT

meson install -C "$build" --no-rebuild --quiet --destdir "$dest" >/dev/null
pc=$(find "$dest" -name vfiomig.pc)
[ -n "$pc" ] || { echo "Bail out! vfiomig.pc not installed"; exit 1; }
for p in "$@"; do	# vfiomig.pc and the others asked for
	pkg-config --validate "$(dirname "$pc")/$p.pc"
done
prefix=$(pkg-config --variable=prefix "$pc")
export PKG_CONFIG_PATH="$(dirname "$pc")"
flags=$(pkg-config --define-variable=prefix="$dest$prefix" --cflags --libs "$@")
libdir=$(pkg-config --define-variable=prefix="$dest$prefix" --variable=libdir vfiomig)
if [ "$mode" = tap ]; then
	# shellcheck disable=SC2086
	"$cc" -std=c11 -Wall -Werror -pthread -o "$dest/prog" "$src" $flags ||
		{ echo "Bail out! $(basename "$src") does not build from pkg-config ($flags)"; exit 1; }
	LD_LIBRARY_PATH="$libdir" exec "$dest/prog"
fi
# shellcheck disable=SC2086
"$cc" -std=c99 -Wall -Werror -o "$dest/prog" "$src" $flags
echo "1..2"
echo "ok 1 - $(basename "$src") builds from pkg-config ($flags)"
status=0
LD_LIBRARY_PATH="$libdir" "$dest/prog" >"$dest/out" 2>&1 || status=$?
sed 's/^/# /' "$dest/out"
if [ "$status" = 0 ]; then
	echo "ok 2 - $(basename "$src") runs against the installed library"
else
	echo "not ok 2 - $(basename "$src") exits with status $status"
fi
