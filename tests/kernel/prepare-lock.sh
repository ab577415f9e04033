#!/usr/bin/env bash
# prepare-lock.sh -- one preparation of a cache folder at a time, both kernels
# under one lock, checked on the real prepare.sh and prepare-iommufd.sh with
# nothing of theirs stubbed.  The cache already has the stock kernel's
# marks (.ready, MANIFEST, the private apt sources), so prepare.sh goes
# straight to the second kernel; its private apt source is a local file:
# archive holding a linux-source-6.12 package made here, whose "kernel" is a
# Makefile that builds in 2 s and counts its builds.  Prints TAP.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
for tool in apt-get dpkg-deb dpkg-query flock xz tar sha256sum; do
	command -v "$tool" >/dev/null || { echo "1..0 # SKIP no $tool"; exit 0; }
done
for p in flex bison bc libelf-dev libssl-dev; do	# else prepare-iommufd.sh installs them
	[[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) == *" ok installed" ]] ||
		{ echo "1..0 # SKIP host package $p is missing"; exit 0; }
done
((EUID == 0)) || { echo "1..0 # SKIP apt runs as root in the private setup (APT::Sandbox::User=root)"; exit 0; }

TMP=$(mktemp -d)
trap 'jobs -p | xargs -r kill 2>/dev/null || true; rm -rf "$TMP"' EXIT
BUILDS=$TMP/builds	# one line per fake kernel build
export FAKE_KERNEL_BUILDS=$BUILDS

# ------------------------------------------------ a linux-source-6.12 package
fake_source_package() {
	local tree=$TMP/pkg-src/linux-source-6.12 pkg=$TMP/pkg t=$'\t'
	mkdir -p "$tree/scripts/kconfig" "$tree/kernel/configs" "$pkg/DEBIAN" "$pkg/usr/src"
	: >"$tree/kernel/configs/kvm_guest.config"
	printf '#!/bin/sh\n# merge_config.sh -m BASE FRAGMENT...\nshift 2\ncat "$@" >>.config\n' \
		>"$tree/scripts/kconfig/merge_config.sh"
	chmod +x "$tree/scripts/kconfig/merge_config.sh"
	# Recipe lines start with a tab; make gives the shell $$ as $.
	printf '%s\n' "tinyconfig:" "$t: >.config" "olddefconfig:" \
		"bzImage:" "${t}echo built >>\"\$\$FAKE_KERNEL_BUILDS\"" "${t}sleep 2" \
		"${t}mkdir -p arch/x86/boot" "${t}echo fake >arch/x86/boot/bzImage" \
		"kernelrelease:" "$t@echo 6.12.0-fake" >"$tree/Makefile"
	tar -cJf "$pkg/usr/src/linux-source-6.12.tar.xz" -C "$TMP/pkg-src" linux-source-6.12
	cat >"$pkg/DEBIAN/control" <<-EOF
	Package: linux-source-6.12
	Version: 6.12.0-1fake
	Architecture: all
	Maintainer: libvfiomig tests <tests@localhost>
	Description: a kernel tree that only pretends to build
	EOF
	mkdir -p "$TMP/archive"
	dpkg-deb --root-owner-group -b "$pkg" "$TMP/archive/linux-source-6.12_6.12.0-1fake_all.deb" >/dev/null
}

# A flat archive: Packages and an unsigned Release (the source says trusted=yes).
archive_index() {
	local deb=linux-source-6.12_6.12.0-1fake_all.deb
	(
		cd "$TMP/archive" || exit 1
		dpkg-deb -f "$deb"
		echo "Filename: ./$deb"
		echo "Size: $(stat -c %s "$deb")"
		echo "SHA256: $(sha256sum "$deb" | cut -d' ' -f1)"
		echo
	) >"$TMP/archive/Packages"
	{
		echo "Date: $(LC_ALL=C date -Ru)"
		echo "SHA256:"
		echo " $(sha256sum "$TMP/archive/Packages" | cut -d' ' -f1) $(stat -c %s "$TMP/archive/Packages") Packages"
	} >"$TMP/archive/Release"
}

# A cache whose stock kernel is done, as prepare.sh leaves it.
fake_cache() {
	local c=$1
	mkdir -p "$c/apt/lists/partial" "$c/apt/cache/archives/partial"
	echo "deb [trusted=yes] file:$TMP/archive ./" >"$c/apt/sources.list"
	echo "package=linux-source-6.12=6.12.0-1fake" >"$c/MANIFEST"
	touch "$c/.ready"
}

n=0 failed=0
ok() { # COND-STATUS DESCRIPTION
	n=$((n + 1))
	if [[ $1 == 0 ]]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=1
	fi
}

builds() { [[ -f $BUILDS ]] && wc -l <"$BUILDS" || echo 0; }

# Until FILE says that a preparation waits for the lock (10 s at most).
waits() {
	for _ in $(seq 100); do
		grep -q "waiting for the preparation already running" "$1" && return 0
		sleep 0.1
	done
	return 1
}

fake_source_package
archive_index
echo "1..7"

# 1. While another preparation holds the lock, prepare.sh touches nothing.
C=$TMP/held
fake_cache "$C"
echo "the other run's log" >"$C/prepare-iommufd.log"
exec 8>"$C/.lock"
flock 8
"$HERE/prepare.sh" "$C" >"$TMP/held.out" 2>&1 8>&- &
pid=$!
waits "$TMP/held.out"
ok $? "with the lock held elsewhere, prepare.sh says it waits"
ok "$([[ ! -e $C/work-iommufd && $(cat "$C/prepare-iommufd.log") == "the other run's log" ]]; echo $?)" \
	"and leaves work-iommufd and the log alone"
exec 8>&-
wait "$pid"
ok "$([[ -f $C/iommufd/.ready && -f $C/iommufd/vmlinuz ]]; echo $?)" \
	"once the lock is free it prepares the second kernel"

# 2. Two preparations at once: one builds, the other waits and finds it done.
C=$TMP/twice
fake_cache "$C"
: >"$BUILDS"
"$HERE/prepare.sh" "$C" >"$TMP/one.out" 2>&1 &
one=$!
"$HERE/prepare.sh" "$C" >"$TMP/two.out" 2>&1 &
two=$!
rc1=0 rc2=0
wait "$one" || rc1=$?
wait "$two" || rc2=$?
ok "$((rc1 | rc2))" "two preparations of one cache at once both succeed ($rc1, $rc2)"
ok "$([[ $(builds) == 1 && -f $C/iommufd/.ready && ! -e $C/work-iommufd ]]; echo $?)" \
	"and the second kernel is built once ($(builds) builds)"

# 3. prepare.sh execs prepare-iommufd.sh with the lock held: no deadlock.
# The stock kernel's mark appears while prepare.sh waits for the lock,
# so that it takes the lock first and then finds the stock kernel done.
C=$TMP/exec
fake_cache "$C"
rm "$C/.ready"
exec 8>"$C/.lock"
flock 8
timeout 60 "$HERE/prepare.sh" "$C" >"$TMP/exec.out" 2>&1 8>&- &
pid=$!
waits "$TMP/exec.out"	# prepare.sh's own wait, past its first look for .ready
touch "$C/.ready"
exec 8>&-
rc=0
wait "$pid" || rc=$?
ok "$rc" "prepare.sh hands its lock to prepare-iommufd.sh without waiting on itself (status $rc)"
ok "$([[ -f $C/iommufd/.ready ]]; echo $?)" "and the second kernel is prepared"

if ((failed)); then
	for f in "$TMP"/*.out; do
		sed "s|^|# $(basename "$f"): |" "$f"
	done
fi
exit "$failed"
