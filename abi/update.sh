#!/bin/sh
# Makes the ABI baselines anew from a build: after a release, or when the
# soname moved (tests/check-abi.sh says when).  abi/update.sh BUILD
set -eu
build=${1:?usage: abi/update.sh BUILD}
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
for lib in "$build"/lib/libvfiomig.so "$build"/mock/libvfiomig-mock.so \
	"$build"/conformance/libvfiomig-conformance.so; do
	name=$(basename "$lib" .so)
	abidw --no-corpus-path --suppressions "$here/private.suppr" \
		--headers-dir "$top/include" --out-file "$here/$name.abi" "$(readlink -f "$lib")"
	echo "$here/$name.abi"
done
