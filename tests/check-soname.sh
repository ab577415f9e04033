#!/bin/sh
# The library's file is named after its soname: libvfiomig.so.N.MINOR.MICRO
# behind soname libvfiomig.so.N, repeating its N, then the project's minor
# and micro.  A packager and ldconfig read the ABI from these names; a file
# named 0.3.0 behind soname 1 claims an ABI it is not.  The build tree's
# links are the ones meson installs: libvfiomig.so -> libvfiomig.so.N -> the
# file.  check-soname.sh LIBRARY PROJECT_VERSION
set -eu
lib=$1 version=$2
dir=$(dirname "$lib") file=$(basename "$lib")
soname=$(objdump -p "$lib" | awk '$1 == "SONAME" { print $2 }')
major=${soname#libvfiomig.so.}
want=$soname.${version#*.}
status=0

say() {
	if [ "$1" = ok ]; then
		echo "ok $2 - $3"
	else
		echo "not ok $2 - $3"
		status=1
	fi
}

echo "1..3"
case $major in
''|*[!0-9]*) say no 1 "soname '$soname' is not libvfiomig.so.N" ;;
*) say ok 1 "soname $soname" ;;
esac
if [ "$file" = "$want" ]; then
	say ok 2 "file $file: the soname's $major, then the minor and micro of $version"
else
	say no 2 "file $file, not $want (soname $soname, project $version)"
fi
dev_link=$(readlink "$dir/libvfiomig.so" || true)
so_link=$(readlink "$dir/$soname" || true)
links="libvfiomig.so -> $dev_link, $soname -> $so_link"
if [ "$links" = "libvfiomig.so -> $soname, $soname -> $file" ]; then
	say ok 3 "$links"
else
	say no 3 "$links, not libvfiomig.so -> $soname, $soname -> $file"
fi
exit $status
