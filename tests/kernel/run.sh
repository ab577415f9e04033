#!/usr/bin/env bash
# The `kernel` suite: boots Linux 6.12 with the real VFIO core and mtty under
# QEMU (see docs/testing.md) and turns the guest's results into TAP for
# meson.  Skips, saying how to prepare, when the assets or qemu are missing.
#
#   run.sh GUEST_API CONFORMANCE [PROGRAM | GUEST_TEST_SCRIPT.sh | LIB.sh]...
#
# Programs go to the guest's /bin, with the libvfiomig libraries they link
# (found by ldd, through LD_LIBRARY_PATH for a program without an rpath);
# guest.sh runs each guest-*.sh script once a pass (lib-guest.sh, which
# they source, goes to /tests too).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${VFIOMIG_KERNEL_CACHE:-$HOME/.cache/vfiomig-kernel}
# VFIOMIG_KERNEL=iommufd: the same suite on the second kernel (prepare-iommufd.sh).
# Debian's stock 6.12 lacks CONFIG_IOMMUFD_DRIVER, so its REPORT is EOPNOTSUPP
# (iovabitmap=0 in the mock); the iommufd kernel has it.
report_key=,iovabitmap=0
# guest.sh's passes over the guest tests: the second, on the iommufd
# kernel, through the devices' cdevs.
passes=1
if [ "${VFIOMIG_KERNEL:-stock}" = iommufd ]; then
	cache=$cache/iommufd
	report_key=
	passes=2
fi

if [ ! -e "$cache/.ready" ] || ! command -v qemu-system-x86_64 >/dev/null; then
	echo "1..0 # SKIP no kernel assets in $cache or no qemu: run tests/kernel/prepare.sh"
	exit 0
fi

api=$1 conformance=$2
shift 2
files=("$api:/bin/guest-api" "$conformance:/bin/conformance")
programs=("$api" "$conformance")
scripts=0
for f in "$@"; do
	case $f in
	*.sh)
		files+=("$f:/tests/$(basename "$f")")
		# guest.sh runs the guest-*.sh; the others are sourced by them
		case $(basename "$f") in guest-*) scripts=$((scripts + 1)) ;; esac ;;
	*) files+=("$f:/bin/$(basename "$f")"); programs+=("$f") ;;
	esac
done
# Each guest part prints its plan: guest-api and each guest test script
# (the guest-*.sh arguments) once a pass, and on the iommufd kernel guest-scm
# and guest-hwpt.
parts_planned=$((passes * (1 + scripts)))
[ "$passes" = 1 ] || parts_planned=$((parts_planned + 2))
# The libraries the programs link: libvfiomig, libvfiomig-mock, and
# vfiomig-ctl's libvfiomig-conformance.
for lib in $(ldd "${programs[@]}" | awk '/libvfiomig/ && !seen[$1]++ { print $3 }'); do
	files+=("$lib:/lib/vfiomig/$(basename "$lib")")
done

log=$(mktemp)
trap 'rm -f "$log" "$log".*' EXIT
status=0
# loglevel=5: besides oopses and BUGs, the console shows WARNINGs (quiet
# hides them), which the log check below looks for.
export VFIOMIG_GUEST_APPEND="loglevel=5${VFIOMIG_GUEST_APPEND:+ $VFIOMIG_GUEST_APPEND}"
"$here/run-guest.sh" "$cache" "$log" "$here/guest.sh" "${files[@]}" || status=$?

# The mock, configured like mtty, must behave as the kernel did.
mock_like_mtty=resetflag=0,eom=zero,dirtylog=dummy,size=96$report_key
"$conformance" "mock:conf,$mock_like_mtty" "mock:twin,$mock_like_mtty" >"$log.mock"
grep '^C ' "$log" >"$log.kernel" || true

# Number the guest's results as one TAP stream.  Each guest part (guest-api,
# guest-cli.sh) prints its plan first; a part that reports fewer checks than
# it planned, or a part that never starts, fails the suite, so a check that
# silently stops printing cannot go unnoticed.
n=0
in_guest=0
parts=0
planned=0
seen=0
end_part() {
	[ "$parts" -gt 0 ] && [ "$seen" -ne "$planned" ] || return 0
	n=$((n + 1))
	echo "not ok $n - guest part $parts planned $planned checks and reported $seen"
}
while IFS= read -r line; do
	case $line in
	VFIOMIG-GUEST-START*) in_guest=1; continue ;;
	VFIOMIG-GUEST-EXIT*) in_guest=0; continue ;;
	esac
	[ $in_guest = 1 ] || continue
	if [[ $line =~ ^(not\ ok|ok)\ [0-9]+(.*)$ ]]; then
		n=$((n + 1))
		seen=$((seen + 1))
		echo "${BASH_REMATCH[1]} $n${BASH_REMATCH[2]}"
	elif [[ $line =~ ^1\.\.([0-9]+) ]]; then
		end_part
		parts=$((parts + 1))
		planned=${BASH_REMATCH[1]}
		seen=0
	elif [[ $line =~ ^Bail\ out!(.*)$ ]]; then
		n=$((n + 1))
		echo "not ok $n - the guest gave up:${BASH_REMATCH[1]}"
	elif [[ $line =~ ^# ]]; then
		echo "$line"
	fi
done <"$log"
end_part
if [ "$parts" -ne "$parts_planned" ]; then
	n=$((n + 1))
	echo "not ok $n - $parts of the $parts_planned guest parts started"
fi
n=$((n + 1))
if [ -s "$log.kernel" ] && diff -u "$log.kernel" "$log.mock" >"$log.diff"; then
	echo "ok $n - the mock behaves like mtty in all $(wc -l <"$log.kernel") transcript lines"
else
	echo "not ok $n - the mock differs from the kernel (- kernel, + mock):"
	sed 's/^/# /' "$log.diff"
fi
# vfiomig-ctl conformance on mtty (guest-cli.sh, once per pass of it) must
# give the committed report: a change in mtty's behaviour shows as a diff.
n=$((n + 1))
grep '^K ' "$log" | sed 's/^K //' >"$log.conf" || true
: >"$log.conf-expected"
for _ in $(seq "$passes"); do
	cat "$here/conformance-mtty.expected" >>"$log.conf-expected"
done
if [ -s "$log.conf" ] && diff -u "$log.conf-expected" "$log.conf" >"$log.conf-diff"; then
	echo "ok $n - vfiomig-ctl conformance on mtty gives the committed report ($passes x $(wc -l <"$here/conformance-mtty.expected") checks)"
else
	echo "not ok $n - vfiomig-ctl conformance on mtty differs from conformance-mtty.expected (- expected, + kernel):"
	sed 's/^/# /' "$log.conf-diff"
fi
# An oops kills only the process that met it, and the guest carries on: a
# check that ignores that command's status would pass.  The kernel's own
# log must be clean.
n=$((n + 1))
kernel_bad='\[ *[0-9]+\.[0-9]+\] .*(BUG:|Oops|WARNING:|general protection|Kernel panic|Call Trace:)'
if grep -E "$kernel_bad" "$log" >"$log.oops"; then
	echo "not ok $n - the guest kernel oopsed or warned:"
	sed 's/^/# /' "$log.oops" | head -20
else
	echo "ok $n - no oops, BUG, WARNING or panic in the guest kernel's log"
fi
if [ "$status" -eq 125 ]; then
	n=$((n + 1))
	echo "not ok $n - the guest did not finish (timeout or boot failure); log:"
	sed 's/^/# /' "$log" | tail -40
fi
echo "1..$n"
