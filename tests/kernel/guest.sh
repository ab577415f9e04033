#!/bin/sh
# Runs inside the test VM (busybox sh): creates mtty instances and runs the
# guest tests.  Prints TAP lines; tests/kernel/run.sh numbers them.
set -u
types=/sys/devices/virtual/mtty/mtty/mdev_supported_types
A=11111111-0000-4000-8000-00000000000a
B=11111111-0000-4000-8000-00000000000b
C=11111111-0000-4000-8000-00000000000c
# The destinations of the group tests: D and E twins of A and B, F of C.
D=11111111-0000-4000-8000-00000000000d
E=11111111-0000-4000-8000-00000000000e
F=11111111-0000-4000-8000-00000000000f

for i in $A:2 $B:2 $C:1 $D:2 $E:2 $F:1; do
	echo ${i%:*} > $types/mtty-${i#*:}/create ||
		{ echo "Bail out! cannot create mtty instance ${i%:*}"; exit 1; }
done
echo "# kernel $(cat /VERSION), instances $A $B $D $E (mtty-2), $C $F (mtty-1)"

export LD_LIBRARY_PATH=/lib/vfiomig
guest-api $A $B $C $D $E $F
# The behaviour transcript the host compares with its mock (run.sh).
conformance $A $B || echo "Bail out! conformance could not run"
for t in /tests/guest-*.sh; do
	[ -e "$t" ] || continue
	A=$A B=$B C=$C D=$D E=$E F=$F sh "$t"
done
# A kernel with iommufd: everything once more through the devices' cdevs.
if [ -e /dev/iommu ] && [ -d /dev/vfio/devices ]; then
	# as fresh as the first pass found them: RUNNING
	for d in $A $B $C $D $E $F; do
		vfiomig-ctl -q reset $d >/dev/null || echo "Bail out! cannot reset $d"
	done
	VFIOMIG_VIA_CDEV=1 guest-api $A $B $C $D $E $F
	guest-scm $A $D
	guest-hwpt $A
	for t in /tests/guest-*.sh; do
		[ -e "$t" ] || continue
		VFIOMIG_VIA_CDEV=1 A=$A B=$B C=$C D=$D E=$E F=$F sh "$t"
	done
fi
exit 0
