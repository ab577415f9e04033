#!/bin/sh
# cargo's runner in the ASan+UBSan build (cargo.sh): preloads the sanitizer
# runtime that the instrumented libvfiomig needs, so that its checks run
# inside the Rust test binaries.  A finding fails the test binary.
LD_PRELOAD=${VFIOMIG_ASAN_RUNTIME:?}${LD_PRELOAD:+:$LD_PRELOAD}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export LD_PRELOAD UBSAN_OPTIONS
exec "$@"
