#!/bin/sh
# The exported symbols, the symbol map and the headers must list the same
# functions: a symbol missing from one of them is an ABI accident.
#   check-symbols.sh LIB MAP MACRO HEADER-OR-DIR...
# MACRO marks a header's exported declarations (VFIOMIG_API; the mock's
# VFIOMIG_MOCK_API).  Declarations marked VFIOMIG_PRIVATE, in the internal
# headers given too, are the library's internal seam: they must be exactly
# the map's LIBVFIOMIG_PRIVATE node.
set -eu
lib=$1 map=$2 macro=$3
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

declared() {	# the names of the functions declared with $1 in the headers
	m=$1
	shift
	find "$@" -name '*.h' -exec cat {} + | tr '\n' ' ' | grep -o "$m[^;]*;" |
		sed -n 's/^[^(]*[ *]\(vfiomig_[a-z0-9_]*\)(.*/\1/p' | sort -u
}

nm -D --defined-only "$lib" | awk '$2 ~ /^[TWDBR]$/ { print $3 }' | sed 's/@.*//' | sort -u >"$tmp/exported"
sed -n 's/^[[:space:]]*\(vfiomig_[a-z0-9_]*\);.*/\1/p' "$map" | sort -u >"$tmp/map"
sed -n '/^LIBVFIOMIG_PRIVATE {/,/^}/s/^[[:space:]]*\(vfiomig_[a-z0-9_]*\);.*/\1/p' "$map" |
	sort -u >"$tmp/private-node"
declared "VFIOMIG_PRIVATE " "$@" >"$tmp/private"
{ declared "$macro " "$@"; cat "$tmp/private"; } | sort -u >"$tmp/header"

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
if ! cmp -s "$tmp/private" "$tmp/private-node"; then
	echo "VFIOMIG_PRIVATE declarations (<) and the LIBVFIOMIG_PRIVATE node (>) differ:"
	diff "$tmp/private" "$tmp/private-node" | grep '^[<>]' || true
	status=1
fi
[ -s "$tmp/exported" ] || { echo "no symbols exported from $lib"; status=1; }
[ $status -eq 0 ] && echo "1..1" &&
	echo "ok 1 - $(wc -l <"$tmp/map") symbols agree ($(wc -l <"$tmp/private") private)"
exit $status
