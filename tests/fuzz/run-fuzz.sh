#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs one libFuzzer harness as a test (docs/fuzzing.md): the committed seed
# corpus first, then random mutation for a bounded time.
#
#   run-fuzz.sh HARNESS CORPUS_DIR ARTIFACT_DIR [DICT]
#
# VFIOMIG_FUZZ_TIME   seconds of fuzzing (default 20; 0 = only replay the corpus)
# VFIOMIG_FUZZ_ARGS   more libFuzzer options, e.g. "-jobs=4 -workers=4"
#
# libFuzzer adds the inputs it finds to its first corpus directory, so it
# works on a copy and the committed corpus stays as it is.  A crash, leak,
# sanitizer report or broken invariant fails the test; the reproducer is
# left in ARTIFACT_DIR and printed in base64.
set -eu

harness=$1
corpus=$2
artifacts=$3
dict=${4:-}
time=${VFIOMIG_FUZZ_TIME:-20}

case $time in
'' | *[!0-9]*)
	echo "run-fuzz: VFIOMIG_FUZZ_TIME='$time' is not a whole number of seconds" >&2
	exit 2
	;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/vfiomig-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$artifacts"
cp -R "$corpus"/. "$work/corpus/"
touch "$work/start"

if [ "$time" -eq 0 ]; then
	set -- -runs=0
else
	set -- -max_total_time="$time"
fi
if [ -n "$dict" ]; then
	set -- "$@" -dict="$dict"
fi
echo "run-fuzz: $(basename "$harness") for ${time}s over $(ls "$corpus" | wc -l) seeds"

rc=0
# The guard only matters if the harness hangs outside libFuzzer's control.
# shellcheck disable=SC2086 # VFIOMIG_FUZZ_ARGS is a list of options
# -error_exitcode: libFuzzer's default, 77, means "skipped" to meson.
timeout -k 10 $((time + 300)) "$harness" "$@" -rss_limit_mb=2048 -timeout=30 \
	-error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 -artifact_prefix="$artifacts/" ${VFIOMIG_FUZZ_ARGS:-} \
	"$work/corpus" || rc=$?

if [ "$rc" -ne 0 ]; then
	found=0
	for f in "$artifacts"/*; do
		[ -f "$f" ] && [ "$f" -nt "$work/start" ] || continue
		found=1
		echo "run-fuzz: reproducer $f ($(wc -c <"$f") bytes); replay with:"
		echo "    $harness $f"
		if [ "$(wc -c <"$f")" -le 65536 ]; then
			echo "run-fuzz: base64 of it (decode with base64 -d):"
			base64 "$f"
		fi
	done
	[ "$found" -eq 1 ] || echo "run-fuzz: $(basename "$harness") failed with status $rc and left no reproducer"
fi
# Whatever else exits 77 (e.g. timeout's own status) is still a failure.
[ "$rc" -ne 77 ] || rc=1
exit "$rc"
