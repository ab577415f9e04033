#!/usr/bin/env bash
# Regenerates vfiomig-sys/src/bindings.rs from include/vfiomig (or, with
# --check, fails if it is stale).  Builds offline with Debian's toolchain
# and crates, as tests/rust/cargo.sh sets them up.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
exec "$src/tests/rust/cargo.sh" run -q -p vfiomig-sys-bindgen -- \
	"$src/include" "$here/vfiomig-sys/src/bindings.rs" "$@"
