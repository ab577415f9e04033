# What the guest test scripts share (busybox sh), sourced by each of them
# from /tests; guest.sh runs only /tests/guest-*.sh.
#
# ok STATUS DESCRIPTION: one TAP line; run.sh numbers them.
ok() { if [ "$1" = 0 ]; then echo "ok 0 - $2"; else echo "not ok 0 - $2"; fi; }
# via UUID: the mtty instance's spec for this pass.  VFIOMIG_VIA_CDEV=1: its
# cdev node, /dev/vfio/devices/vfioN, which the library opens through
# iommufd itself; otherwise the UUID (the legacy group path).
via() {
	if [ -n "${VFIOMIG_VIA_CDEV:-}" ] && [ -d "/sys/bus/mdev/devices/$1/vfio-dev" ]; then
		echo "/dev/vfio/devices/$(ls "/sys/bus/mdev/devices/$1/vfio-dev")"
	else
		echo "$1"
	fi
}
