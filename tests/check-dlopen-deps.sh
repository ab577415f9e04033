#!/bin/sh
# rdma-core is dlopen()ed by the one call that uses it (lib/vendor/rdma-core.c),
# so the library names none of it, nor what it pulls in, in DT_NEEDED, and
# its pkg-config file requires none of it.  What it dlopen()s is in its
# .note.dlopen (owner FDO, type 0x407c0c0a), whose JSON names exactly the
# SONAMEs given, for packagers; with none given (-Dmlx5=disabled) it has no
# such note.  check-dlopen-deps.sh LIBRARY PC_FILE [SONAME...]
set -eu
lib=$1 pc=$2
shift 2
want=$(printf '%s\n' "$@" | sort | sed '/^$/d' | tr '\n' ' ')
forbidden='lib(mlx5|ibverbs|nl-[a-z-]*3)\.so'
status=0

say() {
	if [ "$1" = ok ]; then
		echo "ok $2 - $3"
	else
		echo "not ok $2 - $3"
		status=1
	fi
}

echo "1..4"
needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
bad=$(printf '%s\n' $needed | grep -E "^$forbidden" | tr '\n' ' ' || true)
if [ -z "$bad" ]; then
	say ok 1 "DT_NEEDED: $needed"
else
	say no 1 "DT_NEEDED names rdma-core or libnl: $bad(all: $needed)"
fi

reqs=$(grep -E '^Requires(\.private)?:' "$pc" || true)
if printf '%s\n' "$reqs" | grep -qE 'libmlx5|libibverbs'; then
	say no 2 "$(basename "$pc") requires rdma-core: $reqs"
else
	say ok 2 "$(basename "$pc") requires no rdma-core (${reqs:-no Requires})"
fi

# The notes readelf finds, then the payload of each FDO one of the dlopen
# type, read from the section's bytes: an ELF note is namesz, descsz, type
# (4 bytes each), the owner and the payload, each padded to 4 bytes.
notes=$(readelf -nW "$lib" | awk '$1 == "FDO" && /0x407c0c0a/' | wc -l)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
objcopy -O binary --only-section=.note.dlopen "$lib" "$tmp/section" 2>/dev/null || : >"$tmp/section"
size=$(wc -c <"$tmp/section")
word() { od -An -tu4 -j"$1" -N4 "$tmp/section" | tr -d ' '; }
off=0 n=0
: >"$tmp/json"
while [ $((off + 12)) -le "$size" ]; do
	namesz=$(word $off) descsz=$(word $((off + 4))) type=$(word $((off + 8)))
	desc=$((off + 12 + (namesz + 3) / 4 * 4))
	owner=$(dd if="$tmp/section" bs=1 skip=$((off + 12)) count="$namesz" 2>/dev/null | tr -d '\0')
	if [ "$owner" = FDO ] && [ "$type" = $((0x407c0c0a)) ]; then
		n=$((n + 1))
		dd if="$tmp/section" bs=1 skip=$desc count="$descsz" 2>/dev/null | tr -d '\0' >>"$tmp/json"
		echo >>"$tmp/json"
	fi
	off=$((desc + (descsz + 3) / 4 * 4))
done

if [ -z "$want" ]; then
	if [ "$notes" = 0 ] && [ "$n" = 0 ]; then
		say ok 3 "no dlopen note, as nothing is dlopen()ed"
	else
		say no 3 "a dlopen note, though no SONAME is expected"
	fi
	say ok 4 "# SKIP no dlopen note to parse"
	exit $status
fi
if [ "$notes" -ge 1 ] && [ "$notes" = "$n" ]; then
	say ok 3 "readelf -n: $notes FDO note(s) of type 0x407c0c0a"
else
	say no 3 "readelf -n shows $notes FDO dlopen note(s), .note.dlopen holds $n"
fi

if [ "$n" = 0 ]; then
	say no 4 "no dlopen note to parse"
	exit $status
fi
if ! command -v jq >/dev/null; then
	say no 4 "jq is not installed (the README's packages): the notes' JSON cannot be checked"
	exit $status
fi
# Every note an array of objects with the well-known keys, a soname a
# non-empty list of strings; the sonames, all told, are the ones wanted.
check='if type == "array" and length > 0 and all(.[];
		type == "object" and (.feature | type) == "string"
		and (.description | type) == "string"
		and (.priority | IN("suggested", "recommended", "required"))
		and (.soname | type == "array" and length > 0 and all(.[]; type == "string")))
	then .[].soname[] else error("not an array of dlopen entries: \(tojson)") end'
if got=$(jq -r "$check" "$tmp/json" 2>"$tmp/err"); then
	got=$(printf '%s\n' $got | sort | tr '\n' ' ')
	if [ "$got" = "$want" ]; then
		say ok 4 "the notes' JSON parses and names $got"
	else
		say no 4 "the notes name '$got', not '$want'"
	fi
else
	say no 4 "the notes' JSON does not parse: $(cat "$tmp/err")"
	sed 's/^/# /' "$tmp/json"
fi
exit $status
