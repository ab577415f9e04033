#!/usr/bin/env bash
# run-guest.sh CACHE_DIR OUT_LOG GUEST_SCRIPT [FILE...]
#
# Boot the kernel prepared by tests/kernel/prepare.sh under QEMU (TCG, no KVM)
# with a busybox initramfs, load the VFIO modules and mtty.ko, run GUEST_SCRIPT
# with sh, and power off.
#
#   CACHE_DIR     the folder prepare.sh filled (must hold .ready)
#   OUT_LOG       receives the guest's serial console output (\r and terminal
#                 escape sequences stripped)
#   GUEST_SCRIPT  copied to /guest.sh and run as "sh /guest.sh" in /tmp
#   FILE          extra files for the guest: SRC goes to /bin/BASENAME, SRC:DEST
#                 goes to DEST.  Directories are copied recursively.  Dynamically
#                 linked ELF files get their shared libraries (per ldd) and the
#                 ELF interpreter copied in at the same paths as on the host
#                 (libraries loaded with dlopen() are not found this way).
#
# The guest script's output sits between the lines VFIOMIG-GUEST-START and
# VFIOMIG-GUEST-EXIT <status> of OUT_LOG (kernel messages may interleave).
# Inside the guest: busybox applets on PATH, proc, sysfs, devtmpfs on /dev,
# tmpfs on /tmp and /dev/shm; modules from CACHE_DIR/modules.order are loaded
# (they are also in /lib/modules/); the kernel release is in /VERSION.
#
# Exit status: the guest script's status, or 125 when the guest did not report
# one (timeout, boot or module-load failure, kernel panic).
# Environment: VFIOMIG_GUEST_TIMEOUT (seconds, default 300),
#              VFIOMIG_GUEST_MEM (default 1024M), VFIOMIG_GUEST_CPU (default max),
#              VFIOMIG_GUEST_APPEND (extra kernel command line).
set -Eeuo pipefail

PROG=run-guest
fail() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 125
}
trap 'fail "unexpected failure at line $LINENO: $BASH_COMMAND"' ERR

(($# >= 3)) || fail "usage: $0 CACHE_DIR OUT_LOG GUEST_SCRIPT [FILE|SRC:DEST...]"
CACHE=$1 OUT_LOG=$2 GUEST_SCRIPT=$3
shift 3

[[ -f $CACHE/.ready ]] || fail "$CACHE is not prepared (run tests/kernel/prepare.sh $CACHE)"
[[ -f $GUEST_SCRIPT ]] || fail "no such guest script: $GUEST_SCRIPT"
TIMEOUT=${VFIOMIG_GUEST_TIMEOUT:-300}
[[ $TIMEOUT =~ ^[0-9]+$ ]] || fail "VFIOMIG_GUEST_TIMEOUT must be a number of seconds"
QEMU=$(command -v qemu-system-x86_64) || fail "qemu-system-x86_64 not found (install qemu-system-x86)"

BUSYBOX=
for b in /bin/busybox /usr/bin/busybox; do
    # busybox-static's binary: ldd refuses it ("not a dynamic executable").
    if [[ -x $b ]] && ! ldd "$b" >/dev/null 2>&1; then
        BUSYBOX=$b
        break
    fi
done
[[ -n $BUSYBOX ]] || fail "no statically linked busybox found (install busybox-static)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/vfiomig-guest.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
ROOT=$TMP/root
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,lib/modules,proc,sys,dev,tmp,run,etc,root}

# ------------------------------------------------------------ libraries
is_dynamic_elf() {
    local magic=''
    LC_ALL=C read -r -N 4 magic <"$1" 2>/dev/null || true
    [[ $magic == $'\x7fELF' ]] && ldd "$1" >/dev/null 2>&1
}
declare -A COPIED_LIBS=()
copy_libs() { # ELF: copy what ldd lists (including the interpreter)
    local out line lib
    out=$(ldd "$1" 2>&1) || fail "ldd $1 failed: $out"
    while IFS= read -r line; do
        case $line in
        *"not found"*) fail "$1: shared library not found: ${line%% *}" ;;
        *"=> /"*) lib=${line#*=> } ;;
        [[:space:]]/*) lib=${line#"${line%%[![:space:]]*}"} ;;
        *) continue ;;
        esac
        lib=${lib%% (*}
        [[ -n ${COPIED_LIBS[$lib]:-} ]] && continue
        COPIED_LIBS[$lib]=1
        mkdir -p "$ROOT${lib%/*}"
        cp -L "$lib" "$ROOT$lib"
    done <<<"$out"
}

# ---------------------------------------------------------------- files
add_file() { # SRC DEST
    local src=$1 dest=$2 f
    [[ -e $src ]] || fail "no such file: $src"
    [[ $dest == /* ]] || dest=/$dest
    mkdir -p "$ROOT${dest%/*}"
    if [[ -d $src ]]; then
        rm -rf "${ROOT:?}$dest"
        cp -a "$src" "$ROOT$dest"
        while IFS= read -r -d '' f; do
            if is_dynamic_elf "$f"; then copy_libs "$f"; fi
        done < <(find "$src" -type f -print0)
    else
        cp -L "$src" "$ROOT$dest"
        if is_dynamic_elf "$src"; then copy_libs "$src"; fi
    fi
}

cp "$BUSYBOX" "$ROOT/bin/busybox"
# A kernel with everything built in (prepare-iommufd.sh's) has no modules.
find "$CACHE/modules" -maxdepth 1 -name '*.ko' -exec cp -t "$ROOT/lib/modules/" {} +
cp "$CACHE/modules.order" "$ROOT/lib/modules/modules.order"
cp "$CACHE/VERSION" "$ROOT/VERSION"
cp "$GUEST_SCRIPT" "$ROOT/guest.sh"
for arg in "$@"; do
    if [[ $arg == *:* ]]; then
        add_file "${arg%%:*}" "${arg#*:}"
    else
        add_file "$arg" "/bin/${arg##*/}"
    fi
done

# ----------------------------------------------------------------- init
cat >"$ROOT/init" <<'EOF'
#!/bin/busybox sh
# Applet links; files placed in /bin by run-guest.sh are kept (no overwrite).
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
setup_failed() {
    echo "VFIOMIG-GUEST-SETUP-FAILED: $*"
    poweroff -f
    exit 1
}
mount -t proc proc /proc || setup_failed "mount /proc"
mount -t sysfs sysfs /sys || setup_failed "mount /sys"
mount -t devtmpfs devtmpfs /dev || setup_failed "mount devtmpfs on /dev"
mount -t tmpfs tmpfs /tmp || setup_failed "mount /tmp"
mkdir -p /dev/shm /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t devpts devpts /dev/pts 2>/dev/null
for m in $(cat /lib/modules/modules.order); do
    insmod "/lib/modules/$m" || setup_failed "insmod $m"
done
# devtmpfs makes /dev/vfio/vfio when vfio.ko registers; be safe anyway.
mkdir -p /dev/vfio
if [ ! -e /dev/vfio/vfio ] && [ -r /sys/class/misc/vfio/dev ]; then
    IFS=: read -r maj min </sys/class/misc/vfio/dev
    mknod /dev/vfio/vfio c "$maj" "$min"
fi
cd /tmp
# The firmware's last console line can be cut short and left without a newline
# when the kernel takes over the UART: start the script's output on a new line.
echo
echo VFIOMIG-GUEST-START
sh /guest.sh </dev/null
status=$?
sync
echo "VFIOMIG-GUEST-EXIT $status"
poweroff -f
EOF
chmod 0755 "$ROOT/init" "$ROOT/bin/busybox"

INITRD=$TMP/initrd.gz
(cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort | "$BUSYBOX" cpio -o -H newc -R 0:0 2>/dev/null) |
    gzip -1 >"$INITRD"

# ----------------------------------------------------------------- boot
RAW=$TMP/console.raw
APPEND="console=ttyS0 quiet panic=-1${VFIOMIG_GUEST_APPEND:+ $VFIOMIG_GUEST_APPEND}"
rc=0
timeout -k 5 "$TIMEOUT" "$QEMU" -accel tcg -cpu "${VFIOMIG_GUEST_CPU:-max}" \
    -m "${VFIOMIG_GUEST_MEM:-1024M}" -nographic -no-reboot -nic none \
    -kernel "$CACHE/vmlinuz" -initrd "$INITRD" -append "$APPEND" \
    </dev/null >"$RAW" 2>"$TMP/qemu.err" || rc=$?
# Drop \r and the terminal resets/escape sequences that the firmware prints.
tr -d '\r' <"$RAW" | sed 's/\x1bc//g; s/\x1b\[[0-9;?]*[A-Za-z]//g' >"$OUT_LOG"

status=$(sed -n 's/^VFIOMIG-GUEST-EXIT \([0-9][0-9]*\)$/\1/p' "$OUT_LOG" | tail -n 1)
if [[ -z $status ]]; then
    if ((rc == 124 || rc == 137)); then
        why="timed out after $TIMEOUT s"
    elif grep -q '^VFIOMIG-GUEST-SETUP-FAILED' "$OUT_LOG"; then
        why=$(grep '^VFIOMIG-GUEST-SETUP-FAILED' "$OUT_LOG" | tail -n 1)
    elif ((rc != 0)); then
        why="qemu exited with status $rc: $(tr '\n' ' ' <"$TMP/qemu.err")"
    else
        why="no VFIOMIG-GUEST-EXIT line (kernel panic or guest crash?)"
    fi
    printf '%s: guest did not finish: %s (console log: %s)\n' "$PROG" "$why" "$OUT_LOG" >&2
    exit 125
fi
exit "$status"
