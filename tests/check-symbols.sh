#!/bin/sh
# The exported symbols, the symbol map and the public headers must list the
# same functions: a symbol missing from one of them is an ABI accident.
set -eu
lib=$1 map=$2 incdir=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nm -D --defined-only "$lib" | awk '$2 ~ /^[TWDBR]$/ { print $3 }' | sed 's/@.*//' | sort -u >"$tmp/exported"
sed -n 's/^[[:space:]]*\(vfiomig_[a-z0-9_]*\);.*/\1/p' "$map" | sort -u >"$tmp/map"
cat "$incdir"/*.h | tr '\n' ' ' | grep -o 'VFIOMIG_API[^;]*;' |
	sed -n 's/.*[ *]\(vfiomig_[a-z0-9_]*\)(.*/\1/p' | sort -u >"$tmp/header"

status=0
for a in exported map header; do
	for b in exported map header; do
		[ "$a" \< "$b" ] || continue
		if ! cmp -s "$tmp/$a" "$tmp/$b"; then
			echo "symbols differ between $a (<) and $b (>):"
			diff "$tmp/$a" "$tmp/$b" | grep '^[<>]' || true
			status=1
		fi
	done
done
[ -s "$tmp/exported" ] || { echo "no symbols exported from $lib"; status=1; }
[ $status -eq 0 ] && echo "1..1" && echo "ok 1 - $(wc -l <"$tmp/map") symbols agree"
exit $status
