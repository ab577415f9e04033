#!/usr/bin/env bash
# cargo for bindings/rust, the way this project builds it (docs/rust.md):
# - Debian 12's rustc, rustdoc and cargo, whatever else PATH offers
#   (a rustup toolchain would not be the MSRV, 1.63);
# - offline, against Debian's packaged crates in /usr/share/cargo/registry,
#   through a source replacement in a CARGO_HOME of our own (as Debian's
#   own crate packaging builds), so that ~/.cargo is neither read nor written;
# - against the libvfiomig of a meson build (VFIOMIG_BUILD, default
#   ./build): its uninstalled .pc files, its libraries at run time;
# - into VFIOMIG_BUILD/rust (CARGO_TARGET_DIR), one target folder per build.
#
#   tests/rust/cargo.sh CARGO-ARGS...
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)

# What the build needs of Debian: its toolchain and the crates the two
# crates depend on.  `cargo.sh --probe` only checks (meson's -Drust=auto).
missing=()
for tool in cargo rustc rustdoc; do
	[ -x /usr/bin/$tool ] || missing+=("$tool")
done
for crate in libc pkg-config; do
	compgen -G "/usr/share/cargo/registry/$crate-[0-9]*" >/dev/null || missing+=("librust-$crate-dev")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "tests/rust/cargo.sh: Debian's Rust toolchain or crates are missing (${missing[*]}):" \
	     "apt-get install cargo rustc rustfmt librust-bindgen-dev librust-pkg-config-dev" \
	     "librust-libc-dev (docs/rust.md)" >&2
	[ "${1:-}" = --probe ] && exit 1
	# In CI a test must not skip for want of a package .ci/run installs.
	[ -n "${VFIOMIG_CI:-}" ] && exit 1
	exit 77
fi
[ "${1:-}" = --probe ] && exit 0
build=$(cd "${VFIOMIG_BUILD:-$src/build}" && pwd)

export CARGO_HOME=$build/rust/cargo-home
mkdir -p "$CARGO_HOME"
cat >"$CARGO_HOME/config.toml.new" <<'TOML'
[source.crates-io]
replace-with = "debian"

[source.debian]
directory = "/usr/share/cargo/registry"

[net]
offline = true
TOML
mv "$CARGO_HOME/config.toml.new" "$CARGO_HOME/config.toml"

export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTFMT=/usr/bin/rustfmt
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$build/rust/target}
export PKG_CONFIG_PATH=$build/meson-uninstalled${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export LD_LIBRARY_PATH=$build/lib:$build/mock:$build/conformance${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# A build's warnings are errors here, as --werror makes the C ones.
export RUSTFLAGS="${RUSTFLAGS:-} -D warnings"
export RUSTDOCFLAGS="${RUSTDOCFLAGS:-} -D warnings"
# VFIOMIG_ASAN_RUNTIME: the build's libvfiomig is built with ASan and UBSan
# (build-san).  The Rust side is not instrumented (that needs a nightly
# rustc and a rebuilt std), so the test binaries link the instrumented
# library with its sanitizer symbols left to the runtime, which
# asan-runner.sh preloads into every test binary (and the examples they
# start).  rustdoc runs no runner: the doc tests are left to the plain
# build.
if [ -n "${VFIOMIG_ASAN_RUNTIME:-}" ]; then
	export RUSTFLAGS="$RUSTFLAGS -C link-arg=-Wl,--allow-shlib-undefined"
	export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER=$src/tests/rust/asan-runner.sh
fi
cd "$src/bindings/rust"
exec /usr/bin/cargo "$@"
