#!/usr/bin/env bash
# prepare-iommufd.sh CACHE_DIR -- build the second test kernel: Debian's own
# linux-source-6.12 (the version prepare.sh took for the stock kernel),
# configured from tinyconfig + kvm_guest.config + tests/kernel/iommufd.config,
# with VFIO, mdev and mtty built in.  prepare.sh runs this after the stock
# kernel; it needs that kernel's private apt lists and MANIFEST.
#
# Result, in CACHE_DIR/iommufd (what run-guest.sh reads, like the stock one):
#   vmlinuz, config, VERSION, MANIFEST, an empty modules.order and modules/,
#   .ready.  The source tree is removed again.
#
# 18.5 minutes on a busy 2-core machine (README).  Idempotent: once
# CACHE_DIR/iommufd/.ready exists, it exits 0 at once.  It takes
# prepare.sh's lock on CACHE_DIR, so that two preparations never share
# CACHE_DIR/work-iommufd.
set -Eeuo pipefail

CACHE=${1:?usage: $0 CACHE_DIR}
OUT=$CACHE/iommufd
FRAGMENT=$(cd "$(dirname "$0")" && pwd)/iommufd.config
PROG=prepare-iommufd
LOG=$CACHE/prepare-iommufd.log
# shellcheck source=prepare-common.sh
source "$(dirname "$FRAGMENT")/prepare-common.sh"

[[ -f $OUT/.ready ]] && exit 0
[[ -f $CACHE/MANIFEST && -f $CACHE/apt/sources.list ]] ||
    die "$CACHE has no stock kernel yet: run tests/kernel/prepare.sh"
# prepare.sh's lock (held already when it execs this), before anything is touched.
lock_cache "$CACHE"
[[ -f $OUT/.ready ]] && exit 0
: >"$LOG"
START=$SECONDS

# The kernel's build needs these besides the compiler prepare.sh installed.
install_host_packages flex bison bc libelf-dev libssl-dev

SRC=$(sed -n 's/^package=\(linux-source-6\.12=.*\)$/\1/p' "$CACHE/MANIFEST")
[[ -n $SRC ]] || die "$CACHE/MANIFEST names no linux-source-6.12 package"
APTDIR=$CACHE/apt
private_apt_opts "$APTDIR"
WORK=$CACHE/work-iommufd
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
log "downloading $SRC (about 150 MB)"
if ! apt-get "${APT_OPTS[@]}" download "$SRC" >>"$LOG" 2>&1; then
    quiet apt-get "${APT_OPTS[@]}" update
    quiet apt-get "${APT_OPTS[@]}" download "$SRC"
fi
DEB=$(ls "$WORK"/linux-source-6.12_*.deb)
log "unpacking the source"
TARBALL=$(dpkg-deb -c "$DEB" | awk '{ print $NF }' | grep -E '^\./usr/src/linux-source-6\.12\.tar\.xz$')
dpkg-deb --fsys-tarfile "$DEB" | tar -xOf - "$TARBALL" | xz -dc -T0 | tar -xf - -C "$WORK"
TREE=$WORK/linux-source-6.12
[[ -f $TREE/Makefile ]] || die "no kernel tree in $DEB"

log "configuring: tinyconfig + kvm_guest.config + $(basename "$FRAGMENT")"
cd "$TREE"
quiet make tinyconfig
quiet scripts/kconfig/merge_config.sh -m .config kernel/configs/kvm_guest.config "$FRAGMENT"
quiet make olddefconfig
# merge_config.sh only warns about an option Kconfig dropped: check each one.
while IFS= read -r line; do
    case $line in
    CONFIG_*=*) grep -qxF "$line" .config || die "the kernel's config lost $line (see $LOG)" ;;
    "# CONFIG_"*" is not set") grep -qE "^${line:2:-11}=[ym]" .config &&
        die "the kernel's config has ${line:2:-11}, which must be off" ;;
    esac
done <"$FRAGMENT"

log "building bzImage with $(nproc) jobs"
quiet make -j"$(nproc)" bzImage
KREL=$(make -s kernelrelease)

rm -rf "$OUT"
mkdir -p "$OUT/modules"
cp arch/x86/boot/bzImage "$OUT/vmlinuz"
cp .config "$OUT/config"
echo "$KREL" >"$OUT/VERSION"
: >"$OUT/modules.order"	# everything is built in
{
    echo "kernel_release=$KREL"
    echo "package=$SRC"
    echo "config=tinyconfig kvm_guest.config $(basename "$FRAGMENT")"
} >"$OUT/MANIFEST"
cd "$CACHE"
rm -rf "$WORK"
touch "$OUT/.ready"
log "ready: $KREL in $OUT ($((SECONDS - START)) s)"
