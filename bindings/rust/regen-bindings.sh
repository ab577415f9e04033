#!/usr/bin/env bash
# Regenerates vfiomig-sys/src/bindings.rs from include/vfiomig (or, with
# --check, fails if it is stale).  Builds offline with Debian's toolchain
# and crates, as tests/rust/cargo.sh sets them up.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
if ! compgen -G "/usr/share/cargo/registry/bindgen-0.60*" >/dev/null; then
	echo "regen-bindings.sh: Debian's bindgen crate is missing: apt-get install librust-bindgen-dev" >&2
	[ -n "${VFIOMIG_CI:-}" ] && exit 1
	exit 77
fi
exec "$src/tests/rust/cargo.sh" run -q -p vfiomig-sys-bindgen -- \
	"$src/include" "$here/vfiomig-sys/src/bindings.rs" "$@"
