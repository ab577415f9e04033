#!/usr/bin/env bash
# The Debian packages, as .ci/run checks them after ./run-tests
# (docs/packaging.md): build them from a copy of the tree, run lintian,
# install libvfiomig2 and libvfiomig-dev alone and build a VMM's program
# against them, install the rest, run the autopkgtests against what is
# installed, and purge every package the step installed, so that the
# machine is left as it was.  As root (apt-get); DEB_BUILD_OPTIONS adds to
# parallel=2.  A failure names its step.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
docs=$src/docs/packaging.md

die() {
	echo "deb: $*" >&2
	exit 1
}
[ "$(id -u)" = 0 ] || die "run as root: the step installs the packages it built and purges them after"

mapfile -t ours < <(sed -n 's/^Package: //p' "$src/debian/control")
installed() {	# the packages dpkg has installed, one a line
	dpkg-query -W -f '${db:Status-Abbrev} ${binary:Package}\n' | awk '$1 ~ /^.i/ { print $2 }' |
		sed 's/:.*//' | sort
}
# A package of this source installed before the step would be purged by it:
# on a developer's machine, refuse; on CI's throwaway one (CI set), it can
# only be left over from a run that was killed, so purge it first.
mapfile -t left < <(installed | grep -Fx "${ours[@]/#/-e}" || true)
if [ ${#left[@]} -gt 0 ]; then
	[ -n "${CI:-}" ] ||
		die "${left[*]} installed already: purge this source's packages first (apt-get purge ${left[*]})"
	echo "deb: purging ${left[*]}, left over from an earlier run"
	DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${left[@]}" >/dev/null
fi

work=$(mktemp -d /tmp/vfiomig-deb.XXXXXX)
before=$work/installed-before
installed >"$before"
cleanup() {
	local new
	new=$(installed | comm -13 "$before" - | tr '\n' ' ')
	if [ -n "$new" ]; then
		echo "deb: purging what this step installed: $new"
		# shellcheck disable=SC2086
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq $new >/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "deb: failed in the step \"${step_name:-start}\"" >&2' ERR

step_start=0
step() {	# step NAME: time the step that follows; the previous one's time
	local now
	now=$(date +%s)
	[ "$step_start" = 0 ] || echo "deb: ${step_name}: $((now - step_start)) s"
	step_name=$1 step_start=$now
}
t0=$(date +%s)

step "copy of the tree"
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
tree=$work/libvfiomig-$version
mkdir "$tree"
# The files git knows of, committed or not, without what it ignores (build
# trees); one deleted from the work tree is not copied.
git -C "$src" ls-files -z -co --exclude-standard |
	(cd "$src" && tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -C "$tree" -xf -

# The source package too, from the tree before it is built: lintian reads
# its debian/ from the .dsc.
(cd "$work" && dpkg-source -b "$tree" >/dev/null)

step "dpkg-buildpackage -us -uc -b"
(cd "$tree" && dpkg-checkbuilddeps)
if ! (cd "$tree" && DEB_BUILD_OPTIONS="parallel=2 ${DEB_BUILD_OPTIONS:-}" \
	dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
	tail -n 60 "$work/build.log"
	die "dpkg-buildpackage failed (the end of its log is above)"
fi
grep -E '^ *[0-9]+/[0-9]+ .*(OK|FAIL|SKIP|ERROR)|^(Ok|Fail|Skipped):' "$work/build.log" |
	sed 's/^/  /' | tail -n 4
debs=()
for d in "$work"/*.deb; do
	[[ $d == *-dbgsym_* ]] || debs+=("$d")
done
deb() {	# deb PACKAGE: its .deb
	ls "$work/$1_${version}_"*.deb
}

step "lintian"
lintian --fail-on error,warning "$work"/*.changes "$work"/*.dsc 2>/dev/null ||
	die "lintian reports errors or warnings (above)"
echo "  lintian: no errors, no warnings"
lintian --pedantic -I "$work"/*.changes "$work"/*.dsc 2>/dev/null | tee "$work/pedantic" | sed 's/^/  /'
# Every tag that is left must be explained in docs/packaging.md's table.
# A line is "X: PACKAGE[ TYPE]: TAG [CONTEXT]".
unexplained=$(sed -n 's/^[A-Z]: [^:]*: \([^ ]*\).*/\1/p' "$work/pedantic" | sort -u | while read -r tag; do
	grep -q "^| \`$tag\` |" "$docs" || echo "$tag"
done)
[ -z "$unexplained" ] || die "lintian --pedantic tags not explained in docs/packaging.md: $unexplained"

step "the packages' dependencies"
for d in "${debs[@]}"; do
	printf '  %-34s %7s bytes  Depends: %s\n' "$(dpkg-deb -f "$d" Package)" "$(stat -c %s "$d")" \
		"$(dpkg-deb -f "$d" Depends)"
done
lib_depends=$(dpkg-deb -f "$(deb libvfiomig2)" Depends Pre-Depends Recommends)
if grep -E 'libvfiomig-mock|libvfiomig-conformance|ibverbs' <<<"$lib_depends"; then
	die "libvfiomig2 must not depend on the mock, the checker or rdma-core"
fi
# Only the tool and the mock's -dev package bring the mock in.
for d in "${debs[@]}"; do
	p=$(dpkg-deb -f "$d" Package)
	case $p in vfiomig-ctl | libvfiomig-mock-dev | libvfiomig-mock0) continue ;; esac
	if dpkg-deb -f "$d" Depends Pre-Depends Recommends | grep -q libvfiomig-mock; then
		die "$p depends on the mock: only vfiomig-ctl and libvfiomig-mock-dev may"
	fi
done

step "libvfiomig2 and libvfiomig-dev alone: a VMM's program"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	"$(deb libvfiomig2)" "$(deb libvfiomig-dev)" >/dev/null
for p in "${ours[@]}"; do
	case $p in libvfiomig2 | libvfiomig-dev) continue ;; esac
	if installed | grep -qx "$p"; then
		die "installing libvfiomig2 and libvfiomig-dev brought in $p"
	fi
done
echo "  installed: libvfiomig2 libvfiomig-dev; not installed: the mock's and the checker's packages, vfiomig-ctl"
(cd "$tree" && AUTOPKGTEST_TMP=$(mktemp -d "$work/vmm.XXXXXX") debian/tests/vmm-consumer) |
	sed 's/^/  /'

step "the other packages, then the autopkgtests"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${debs[@]}" >/dev/null
status=0
autopkgtest --no-built-binaries --output-dir "$work/autopkgtest" "$tree/" -- null \
	>"$work/autopkgtest.log" 2>&1 || status=$?
sed -n '/@@@@@@@@@@@@@@@@@@@@ summary/,$p' "$work/autopkgtest.log" | sed 's/^/  /'
if [ "$status" != 0 ]; then
	tail -n 40 "$work/autopkgtest.log"
	die "autopkgtest failed (exit $status)"
fi

step "purge"
trap - EXIT
cleanup
step "end"
echo "deb: the packaging step took $(($(date +%s) - t0)) s"
