#!/usr/bin/env bash
# Builds the Rust examples against the meson build BUILD and copies them
# to OUTDIR (meson's custom_target 'rust-examples').
#
#   build-examples.sh BUILD OUTDIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
VFIOMIG_BUILD=$1 "$here/cargo.sh" build -q --examples -p vfiomig
for e in ch-migrate raw-loop; do
	cp "$1/rust/target/debug/examples/$e" "$2/$e.new"
	mv "$2/$e.new" "$2/$e"
done
