#!/bin/sh
# The installed libraries' ABI against the committed baselines (abi/*.abi,
# abidw's XML, made by abi/update.sh): an incompatible change fails, unless
# the soname moved and NEWS.md names the new one (then the baseline is made
# anew).  Added functions are fine: the maps only grow.
#   check-abi.sh BASELINE LIBRARY HEADERS-DIR NEWS
set -eu
base=$1 lib=$2 headers=$3 news=$4
supp=$(dirname "$base")/private.suppr
echo "1..1"
name=$(basename "$base" .abi)
if ! command -v abidiff >/dev/null; then
	if [ -n "${VFIOMIG_CI:-}" ]; then
		echo "not ok 1 - $name: abidiff is missing (abigail-tools)"
		exit 1
	fi
	echo "ok 1 - $name # SKIP abidiff is missing (abigail-tools)"
	exit 0
fi
[ -f "$base" ] || { echo "not ok 1 - $name: no baseline $base: run abi/update.sh BUILD"; exit 1; }
now=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
was=$(sed -n 's/.*soname=.\([^"'"'"']*\).*/\1/p' "$base" | head -n 1)
if [ "$now" != "$was" ]; then
	if grep -qF "$now" "$news"; then
		echo "ok 1 - $name: the soname moved from $was to $now, and NEWS.md says so; make the baseline anew (abi/update.sh)"
		exit 0
	fi
	echo "not ok 1 - $name: the soname moved from $was to $now, but NEWS.md does not name $now"
	exit 1
fi
status=0
out=$(abidiff --no-added-syms --suppressions "$supp" --headers-dir2 "$headers" "$base" "$lib") ||
	status=$?
printf '%s\n' "$out" | sed 's/^/# /'
# abidiff's status is a bit field: 1 error, 2 usage, 4 a change, 8 an incompatible one
if [ $((status & 3)) -ne 0 ]; then
	echo "not ok 1 - $name: abidiff failed ($status)"
elif [ $((status & 8)) -ne 0 ]; then
	echo "not ok 1 - $name: an incompatible change under the soname $now: move the soname (and say why in NEWS.md), or undo it"
else
	echo "ok 1 - $name: compatible with the baseline of $was"
	status=0
fi
exit $((status & 11 ? 1 : 0))
