#!/usr/bin/env bash
# prepare.sh [CACHE_DIR] -- fetch a Debian 12 build of Linux 6.12 and build the
# mtty sample driver for it, so that tests can boot a real kernel with the VFIO
# core and a migration-capable mdev device under QEMU (TCG, no KVM needed).
#
# CACHE_DIR defaults to ${VFIOMIG_KERNEL_CACHE:-$HOME/.cache/vfiomig-kernel}.
# Idempotent: once CACHE_DIR/.ready exists, it goes straight to the second
# kernel (prepare-iommufd.sh, cached in CACHE_DIR/iommufd the same way).
# One preparation of a CACHE_DIR runs at a time, both kernels under one
# lock (CACHE_DIR/.lock); a second one waits, then finds the work done.
#
# Result (see tests/kernel/run-guest.sh, which consumes it):
#   vmlinuz          the kernel
#   modules/*.ko     irqbypass, vfio, vfio_iommu_type1, mdev, their dependencies
#                    and mtty.ko, uncompressed
#   modules.order    the insmod order (file names relative to modules/)
#   VERSION          the kernel release (uname -r)
#   MANIFEST         the Debian packages and versions used
#   config           the kernel's .config
#   src/             a subset of the kernel source: samples/vfio-mdev/mtty.c,
#                    include/uapi/linux/{vfio,iommufd}.h, drivers/vfio/,
#                    Documentation/driver-api/vfio*.rst
#   kbuild/          unpacked linux-headers + linux-kbuild (to build modules)
#   mtty/            the out-of-tree build of mtty.ko
#
# The packages come from the Debian archive the machine's own apt sources name
# (bookworm-backports and bookworm-security); apt runs on a private sources list
# and private state directories, so the machine's apt configuration and package
# database are not touched.  Only the host tools (busybox-static, qemu, gcc...)
# are installed system-wide, and only when missing.
set -Eeuo pipefail

CACHE=${1:-${VFIOMIG_KERNEL_CACHE:-$HOME/.cache/vfiomig-kernel}}
# The second kernel, with iommufd, is built from the first one's source.
IOMMUFD_PART=$(cd "$(dirname "$0")" && pwd)/prepare-iommufd.sh

if [[ -f $CACHE/.ready ]]; then
    exec "$IOMMUFD_PART" "$CACHE"
fi

PROG=prepare
LOG=
# shellcheck source=prepare-common.sh
source "$(dirname "$IOMMUFD_PART")/prepare-common.sh"

mkdir -p "$CACHE" || die "cannot create $CACHE"
CACHE=$(cd "$CACHE" && pwd -P)
LOG=$CACHE/prepare.log

lock_cache "$CACHE"
if [[ -f $CACHE/.ready ]]; then
    exec "$IOMMUFD_PART" "$CACHE"
fi
: >"$LOG"
START=$SECONDS
log "preparing $CACHE (log: $LOG)"

# ---------------------------------------------------------------- host tools
# gcc-12/make/libc6-dev: the Debian headers set CC to x86_64-linux-gnu-gcc-12.
# libelf1/zlib1g/libssl3: runtime libraries of the prebuilt kbuild tools
# (objtool, resolve_btfids, sign-file).  binutils: objcopy, to read .modinfo.
install_host_packages busybox-static qemu-system-x86 gcc-12 make libc6-dev binutils \
    xz-utils zstd libelf1 zlib1g libssl3 util-linux

# ------------------------------------------------- archive URIs from the host
# Print "URI SIGNED_BY" (SIGNED_BY may be "-") of the first enabled deb entry of
# the machine's apt sources whose suites include $1.
host_source_for_suite() {
    local suite=$1 f out
    local -a files=()
    [[ -r /etc/apt/sources.list.d/debian.sources ]] &&
        files+=(/etc/apt/sources.list.d/debian.sources)
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -r $f && $f != /etc/apt/sources.list.d/debian.sources ]] && files+=("$f")
    done
    for f in "${files[@]}"; do
        out=$(awk -v want="$suite" '
            function norm(s) { gsub(/[ \t]+/, " ", s); sub(/^ /, "", s); sub(/ $/, "", s); return s }
            function has(list, w,   n, a, i) {
                n = split(norm(list), a, " ")
                for (i = 1; i <= n; i++) if (a[i] == w) return 1
                return 0
            }
            function flush(   u) {
                if (!done && enabled != "no" && has(types, "deb") && has(suites, want) && uris != "") {
                    split(norm(uris), u, " ")
                    sb = norm(signedby)
                    if (sb !~ /^\//) sb = "-"
                    print u[1], sb
                    done = 1
                }
                types = suites = uris = signedby = key = ""; enabled = "yes"
            }
            BEGIN { enabled = "yes" }
            /^#/ { next }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]/ {
                if (key == "uris") uris = uris " " $0
                else if (key == "suites") suites = suites " " $0
                else if (key == "types") types = types " " $0
                next
            }
            {
                key = tolower($0); sub(/:.*/, "", key)
                val = $0; sub(/^[^:]*:[ \t]*/, "", val)
                if (key == "types") types = val
                else if (key == "uris") uris = val
                else if (key == "suites") suites = val
                else if (key == "signed-by") signedby = val
                else if (key == "enabled") enabled = tolower(norm(val))
            }
            END { flush() }' "$f")
        if [[ -n $out ]]; then
            printf '%s\n' "$out"
            return 0
        fi
    done
    # One-line format: deb [options] URI SUITE COMPONENT...
    files=()
    [[ -r /etc/apt/sources.list ]] && files+=(/etc/apt/sources.list)
    for f in /etc/apt/sources.list.d/*.list; do
        [[ -r $f ]] && files+=("$f")
    done
    for f in "${files[@]}"; do
        out=$(awk -v want="$suite" '
            $1 != "deb" { next }
            {
                i = 2; sb = "-"
                if ($2 ~ /^\[/) {
                    for (; i <= NF; i++) {
                        if ($i ~ /signed-by=\//) { sb = $i; sub(/.*signed-by=/, "", sb); sub(/\]$/, "", sb) }
                        if ($i ~ /\]$/) break
                    }
                    i++
                }
                if ($(i + 1) == want) { print $i, sb; exit }
            }' "$f")
        if [[ -n $out ]]; then
            printf '%s\n' "$out"
            return 0
        fi
    done
    return 0
}

MAIN_URI='' MAIN_KEY='' SEC_URI='' SEC_KEY=''
read -r MAIN_URI MAIN_KEY < <(host_source_for_suite bookworm) || true
[[ -n ${MAIN_URI:-} ]] ||
    die "no 'deb' entry for suite bookworm in the machine's apt sources (debian.sources or sources.list)"
read -r SEC_URI SEC_KEY < <(host_source_for_suite bookworm-security) || true
MAIN_URI=${MAIN_URI%/}
SEC_URI=${SEC_URI%/}

source_line() { # URI KEY SUITE
    if [[ $2 != - ]]; then
        printf 'deb [signed-by=%s] %s %s main\n' "$2" "$1" "$3"
    else
        printf 'deb %s %s main\n' "$1" "$3"
    fi
}

APTDIR=$CACHE/apt
mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial"
{
    # Every 6.12 build for Debian 12 lives in one of these two suites.
    source_line "$MAIN_URI" "$MAIN_KEY" bookworm-backports
    if [[ -n $SEC_URI ]]; then
        source_line "$SEC_URI" "$SEC_KEY" bookworm-security
    fi
} >"$APTDIR/sources.list"
[[ -n $SEC_URI ]] || log "note: no bookworm-security entry in the machine's apt sources; using bookworm-backports only"

private_apt_opts "$APTDIR"
log "updating private package lists ($MAIN_URI${SEC_URI:+, $SEC_URI})"
quiet apt-get "${APT_OPTS[@]}" update

# Versions of PACKAGE available, newest first (one per line).
versions_of() {
    apt-cache "${APT_OPTS[@]}" madison "$1" 2>/dev/null |
        awk -F'|' '{ gsub(/ /, "", $2); print $2 }' | sort -urV
}

# ---------------------------------------------------------- choose a version
mapfile -t KVERS < <(apt-cache "${APT_OPTS[@]}" pkgnames linux-image-6.12. 2>/dev/null |
    sed -n 's/^linux-image-\(6\.12\.[0-9]*+deb12\)-amd64-unsigned$/\1/p' | sort -urV)
((${#KVERS[@]})) || die "no linux-image-6.12.*+deb12-amd64-unsigned package in bookworm-backports/bookworm-security"
mapfile -t SRC_VERS < <(versions_of linux-source-6.12)
((${#SRC_VERS[@]})) || die "no linux-source-6.12 package in bookworm-backports/bookworm-security"

KV='' PKGVER=''
for v in "${KVERS[@]}"; do
    pv=$(versions_of "linux-image-$v-amd64-unsigned")
    pv=${pv%%$'\n'*}
    [[ -n $pv ]] || continue
    ok=1
    for p in "linux-headers-$v-amd64" "linux-headers-$v-common" "linux-kbuild-$v"; do
        [[ $'\n'$(versions_of "$p")$'\n' == *$'\n'"$pv"$'\n'* ]] || { ok=0; break; }
    done
    if ((ok)); then
        KV=$v PKGVER=$pv
        break
    fi
    log "skipping $v: not all of image/headers/kbuild at $pv"
done
[[ -n $KV ]] || die "no 6.12.N+deb12 version has all of linux-image-*-amd64-unsigned, linux-headers-*-{amd64,common}, linux-kbuild-*"
KREL=$KV-amd64
UPSTREAM=${KV%%+*}

# linux-source-6.12: the same package version if possible, else the same
# upstream version, else the nearest 6.12.N.
SRCVER='' SRCNOTE=''
for s in "${SRC_VERS[@]}"; do
    [[ $s == "$PKGVER" ]] && { SRCVER=$s; break; }
done
if [[ -z $SRCVER ]]; then
    for s in "${SRC_VERS[@]}"; do
        [[ ${s%%-*} == "$UPSTREAM" ]] && { SRCVER=$s; break; }
    done
fi
if [[ -z $SRCVER ]]; then
    want=${UPSTREAM##*.} best=''
    for s in "${SRC_VERS[@]}"; do
        n=${s%%-*}
        n=${n##*.}
        [[ $n =~ ^[0-9]+$ ]] || continue
        d=$((n > want ? n - want : want - n))
        if [[ -z $best ]] || ((d < best)); then
            best=$d SRCVER=$s
        fi
    done
    [[ -n $SRCVER ]] || die "no usable linux-source-6.12 version"
    SRCNOTE="linux-source-6.12 $SRCVER does not match the image ($PKGVER); mtty.c taken from the nearest 6.12"
    log "note: $SRCNOTE"
fi
log "kernel $KREL (packages $PKGVER, linux-source-6.12 $SRCVER)"

# ------------------------------------------------------------------ download
WORK=$CACHE/work
DEBS=$WORK/debs
mkdir -p "$DEBS"
PKGS=("linux-image-$KV-amd64-unsigned=$PKGVER" "linux-headers-$KV-amd64=$PKGVER"
    "linux-headers-$KV-common=$PKGVER" "linux-kbuild-$KV=$PKGVER"
    "linux-source-6.12=$SRCVER")
deb_file() { # NAME=VERSION -> existing .deb path, or nothing
    local name=${1%%=*} ver=${1#*=} f
    for f in "$DEBS/${name}_${ver//:/%3a}_"*.deb; do
        [[ -f $f ]] && { printf '%s\n' "$f"; return 0; }
    done
    return 0
}
# A .deb left by an interrupted run is kept only if its checksum is right.
need=()
for p in "${PKGS[@]}"; do
    f=$(deb_file "$p")
    if [[ -n $f ]]; then
        want=$(apt-cache "${APT_OPTS[@]}" show "$p" 2>/dev/null | awk '/^SHA256:/ { print $2; exit }' || true)
        have=$(sha256sum "$f")
        [[ -n $want && ${have%% *} == "$want" ]] && continue
        rm -f "$f"
    fi
    need+=("$p")
done
if ((${#need[@]})); then
    log "downloading ${need[*]%%=*} (the whole set is about 275 MB)"
    cd "$DEBS"
    quiet apt-get "${APT_OPTS[@]}" download "${need[@]}"
    cd "$CACHE"
fi
for p in "${PKGS[@]}"; do
    [[ -n $(deb_file "$p") ]] || die "download of ${p%%=*} ${p#*=} did not produce a .deb"
done

# ------------------------------------------------------------------ unpack
log "unpacking"
KB=$CACHE/kbuild
rm -rf "$KB" "$WORK/image"
mkdir -p "$KB" "$WORK/image"
for p in "${PKGS[@]:1:3}"; do
    quiet dpkg-deb -x "$(deb_file "$p")" "$KB"
done
quiet dpkg-deb -x "$(deb_file "${PKGS[0]}")" "$WORK/image"

HDR=$KB/usr/src/linux-headers-$KREL
COMMON=$KB/usr/src/linux-headers-$KV-common
[[ -f $HDR/Makefile && -f $COMMON/Makefile ]] || die "headers packages lack $HDR/Makefile or $COMMON/Makefile"
# The arch Makefile is one line including the -common Makefile by absolute path.
sed -i "s#/usr/src/linux-headers-$KV-common/#$COMMON/#g" "$HDR/Makefile"
grep -qF "$COMMON/Makefile" "$HDR/Makefile" || die "unexpected $HDR/Makefile: $(head -c 200 "$HDR/Makefile")"
[[ -e $HDR/scripts/basic/fixdep ]] || die "$HDR/scripts does not resolve into the unpacked linux-kbuild-$KV"

MODDIR=$WORK/image/lib/modules/$KREL
[[ -d $MODDIR/kernel ]] || die "image package has no lib/modules/$KREL/kernel"
[[ -f $WORK/image/boot/vmlinuz-$KREL ]] || die "image package has no boot/vmlinuz-$KREL"

# ------------------------------------------------------- kernel source subset
log "extracting mtty.c, vfio.h, iommufd.h, drivers/vfio/, vfio docs from linux-source-6.12"
SRCDEB=$(deb_file "${PKGS[4]}")
TARBALL=$(dpkg-deb -c "$SRCDEB" | awk '{ print $NF }' | grep -E '^\./usr/src/linux-source-6\.12\.tar\.(xz|bz2|gz|zst)$' | head -n 1 || true)
[[ -n $TARBALL ]] || die "no linux-source-6.12 tarball in $SRCDEB"
rm -rf "$CACHE/src" "$WORK/srcx"
mkdir -p "$WORK/srcx"
case $TARBALL in
*.xz) UNZ=(xz -dc -T0) ;;
*.bz2) UNZ=(bzip2 -dc) ;;
*.gz) UNZ=(gzip -dc) ;;
*) UNZ=(zstd -dc) ;;
esac
T=linux-source-6.12
if ! dpkg-deb --fsys-tarfile "$SRCDEB" | tar -xOf - "$TARBALL" | "${UNZ[@]}" |
    tar -xf - -C "$WORK/srcx" --strip-components=1 --wildcards --no-wildcards-match-slash \
        "$T/samples/vfio-mdev/mtty.c" "$T/include/uapi/linux/vfio.h" \
        "$T/include/uapi/linux/iommufd.h" "$T/drivers/vfio" \
        "$T/Documentation/driver-api/vfio*.rst" >>"$LOG" 2>&1; then
    die "extracting the source subset from $TARBALL failed (see $LOG)"
fi
[[ -f $WORK/srcx/samples/vfio-mdev/mtty.c && -f $WORK/srcx/include/uapi/linux/vfio.h &&
    -d $WORK/srcx/drivers/vfio ]] || die "source tarball lacks mtty.c, vfio.h or drivers/vfio/"
grep -q 'migration_flags' "$WORK/srcx/samples/vfio-mdev/mtty.c" ||
    die "mtty.c from linux-source-6.12 $SRCVER has no migration support"
mv "$WORK/srcx" "$CACHE/src"

# ------------------------------------------------------------------ mtty.ko
log "building mtty.ko against linux-headers-$KREL"
rm -rf "$CACHE/mtty"
mkdir -p "$CACHE/mtty"
cp "$CACHE/src/samples/vfio-mdev/mtty.c" "$CACHE/mtty/"
echo 'obj-m := mtty.o' >"$CACHE/mtty/Kbuild"
quiet make -C "$HDR" M="$CACHE/mtty" CONFIG_DEBUG_INFO_BTF_MODULES= modules
[[ -f $CACHE/mtty/mtty.ko ]] || die "the build did not produce mtty.ko"

# ----------------------------------------------------------------- modules
# Debian's image package has no modules.dep (depmod makes it at install time),
# so follow the "depends=" entries of each module's .modinfo instead.
modinfo_depends() { # MODULE.ko -> comma-separated dependency names
    objcopy -O binary --only-section=.modinfo "$1" "$WORK/modinfo.bin"
    tr '\0' '\n' <"$WORK/modinfo.bin" | sed -n 's/^depends=//p'
}
declare -A MODPATH=()
while IFS= read -r path; do
    name=${path##*/}
    name=${name%%.ko*}
    MODPATH[${name//-/_}]=$path
done < <(find "$MODDIR/kernel" -name '*.ko*')
((${#MODPATH[@]})) || die "no modules under $MODDIR/kernel"

rm -rf "$CACHE/modules"
mkdir -p "$CACHE/modules"
declare -A SEEN=()
ORDER=()
visit() { # MODULE_NAME: unpack it and its dependencies, in load order
    local m=${1//-/_} src deps d
    [[ -n ${SEEN[$m]:-} ]] && return 0
    SEEN[$m]=1
    src=${MODPATH[$m]:-}
    [[ -n $src ]] || die "module $m is not shipped as a module by $KREL (built in?)"
    case $src in
    *.ko.xz) xz -dc "$src" >"$CACHE/modules/$m.ko" ;;
    *.ko.zst) zstd -q -dc "$src" >"$CACHE/modules/$m.ko" ;;
    *.ko.gz) gzip -dc "$src" >"$CACHE/modules/$m.ko" ;;
    *.ko) cp "$src" "$CACHE/modules/$m.ko" ;;
    *) die "unknown module file type: $src" ;;
    esac
    deps=$(modinfo_depends "$CACHE/modules/$m.ko")
    for d in ${deps//,/ }; do
        visit "$d"
    done
    ORDER+=("$m")
}
MTTY_DEPS=$(modinfo_depends "$CACHE/mtty/mtty.ko")
for m in irqbypass vfio vfio_iommu_type1 mdev ${MTTY_DEPS//,/ }; do
    visit "$m"
done
# Debian strips its modules' debug info too; this keeps the initramfs small.
objcopy --strip-debug "$CACHE/mtty/mtty.ko" "$CACHE/modules/mtty.ko"
printf '%s.ko\n' "${ORDER[@]}" mtty >"$CACHE/modules.order"
log "modules (insmod order): $(tr '\n' ' ' <"$CACHE/modules.order")"

# --------------------------------------------------------- kernel and notes
cp "$WORK/image/boot/vmlinuz-$KREL" "$CACHE/vmlinuz"
cp "$WORK/image/boot/config-$KREL" "$CACHE/config" 2>/dev/null ||
    cp "$HDR/.config" "$CACHE/config"
echo "$KREL" >"$CACHE/VERSION"
{
    echo "kernel_release=$KREL"
    echo "package_version=$PKGVER"
    for p in "${PKGS[@]}"; do echo "package=$p"; done
    echo "mtty_depends=$MTTY_DEPS"
    [[ -z $SRCNOTE ]] || echo "note=$SRCNOTE"
} >"$CACHE/MANIFEST"

for f in vmlinuz VERSION modules.order MANIFEST src/samples/vfio-mdev/mtty.c src/include/uapi/linux/vfio.h; do
    [[ -s $CACHE/$f ]] || die "$CACHE/$f is missing after preparation"
done
while IFS= read -r m; do
    [[ -s $CACHE/modules/$m ]] || die "$CACHE/modules/$m is missing after preparation"
done <"$CACHE/modules.order"

# The image tree and the .debs are not needed any more (about 700 MB).
rm -rf "$WORK"
touch "$CACHE/.ready"
log "ready: $KREL in $CACHE ($((SECONDS - START)) s)"
exec "$IOMMUFD_PART" "$CACHE"
