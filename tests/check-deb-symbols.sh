#!/bin/sh
# A library's Debian symbols file against its map, so that a symbol added
# to the map cannot reach a package whose dependents would not ask for the
# version that has it (docs/packaging.md, "Symbols files").
#   check-deb-symbols.sh LIBRARY MAP SYMBOLS-FILE PROJECT-VERSION
# The symbols file is debian/PACKAGE.symbols; debian/control and
# debian/changelog are read beside it.  Checks:
#   1. its soname is the library's, and its package is named after that
#      soname (Debian policy 8.1) and built by debian/control;
#   2. it lists exactly the map's symbols, each under its node (name@NODE),
#      and each node's own name@NODE entry, as dpkg-gensymbols writes them;
#   3. all symbols of a node share one minimal version, each public node's
#      is newer than the node before it, and none is newer than the package;
#   4. the package's version (debian/changelog) is the project's (meson.build).
set -eu
lib=$1 map=$2 syms=$3 project=$4
debian=$(dirname "$syms")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

say() {	# say ok|no N TEXT [DETAIL-FILE]
	if [ "$1" = ok ]; then
		echo "ok $2 - $3"
	else
		echo "not ok $2 - $3"
		[ -z "${4:-}" ] || sed 's/^/# /' "$4"
		status=1
	fi
}

echo "1..4"

soname=$(objdump -p "$lib" | awk '$1 == "SONAME" { print $2 }')
base=${soname%%.so.*} abi=${soname##*.so.}
case $base in
*[0-9]) want=$base-$abi ;;
*) want=$base$abi ;;
esac
pkg=$(basename "$syms" .symbols)
read -r head_soname head_pkg _ <"$syms"
if [ "$head_soname" != "$soname" ]; then
	say no 1 "$syms is for $head_soname, but the library's soname is $soname"
elif [ "$pkg" != "$want" ] || [ "$head_pkg" != "$want" ]; then
	say no 1 "soname $soname: its package is $want (Debian policy 8.1), not $pkg ($head_pkg in the file)"
elif ! grep -qx "Package: $pkg" "$debian/control"; then
	say no 1 "soname $soname: debian/control builds no package $pkg"
else
	say ok 1 "soname $soname, package $pkg"
fi

# The map as "symbol@NODE" lines, each node's own name included, and the
# nodes in the map's order.
awk '
	/^[A-Z][A-Z0-9_.]* *\{/ { node = $1; print node "@" node; next }
	/^}/ { node = ""; next }
	node != "" && /^[ \t]*[a-z_][a-z0-9_]*;/ { s = $1; sub(/;.*/, "", s); print s "@" node }
' "$map" | sort >"$tmp/map"
sed -n 's/^\([A-Z][A-Z0-9_.]*\) *{.*/\1/p' "$map" >"$tmp/nodes"
# The symbols file as "symbol@NODE VERSION" lines.
sed -n 's/^ \([^ ]*\) \([^ ]*\).*/\1 \2/p' "$syms" | sort >"$tmp/entries"
cut -d' ' -f1 "$tmp/entries" >"$tmp/listed"
if cmp -s "$tmp/map" "$tmp/listed"; then
	say ok 2 "$(wc -l <"$tmp/map") symbols and nodes of $(basename "$map") are in $(basename "$syms")"
else
	{
		comm -23 "$tmp/map" "$tmp/listed" | sed 's/^/in the map, not the symbols file: /'
		comm -13 "$tmp/map" "$tmp/listed" | sed 's/^/in the symbols file, not the map: /'
		echo "a new symbol's line is ' NAME@NODE VERSION', VERSION its node's (docs/packaging.md)"
	} >"$tmp/why"
	say no 2 "$(basename "$map") and $(basename "$syms") differ" "$tmp/why"
fi

version=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$debian/changelog")
: >"$tmp/why"
prev='' prev_node=''
while read -r node; do
	vs=$(grep "@$node " "$tmp/entries" | cut -d' ' -f2 | sort -u)
	[ -n "$vs" ] || continue	# no entries: test 2 says so
	if [ "$(echo "$vs" | wc -l)" -ne 1 ]; then
		echo "node $node has several minimal versions: $(echo "$vs" | tr '\n' ' ')" >>"$tmp/why"
		continue
	fi
	if dpkg --compare-versions "$vs" gt "$version"; then
		echo "node $node: minimal version $vs is newer than the package ($version)" >>"$tmp/why"
	fi
	case $node in *_PRIVATE) continue ;; esac
	if [ -n "$prev" ] && ! dpkg --compare-versions "$vs" gt "$prev"; then
		echo "node $node: minimal version $vs is not newer than $prev_node's ($prev): a new node needs meson.build's version moved past the last release first" >>"$tmp/why"
	fi
	prev=$vs prev_node=$node
done <"$tmp/nodes"
if [ -s "$tmp/why" ]; then
	say no 3 "minimal versions of $(basename "$syms")" "$tmp/why"
else
	say ok 3 "one minimal version per node, rising node by node, none past $version"
fi

if [ "$version" = "$project" ]; then
	say ok 4 "debian/changelog's version is the project's ($project)"
else
	say no 4 "debian/changelog says $version, meson.build $project: keep them equal"
fi
exit $status
