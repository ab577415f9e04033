#!/bin/sh
# Runs inside the test VM (busybox sh): creates mtty instances and runs the
# guest tests.  Prints TAP lines; tests/kernel/run.sh numbers them.
set -u
types=/sys/devices/virtual/mtty/mtty/mdev_supported_types
A=11111111-0000-4000-8000-00000000000a
B=11111111-0000-4000-8000-00000000000b
C=11111111-0000-4000-8000-00000000000c

echo $A > $types/mtty-2/create && echo $B > $types/mtty-2/create &&
	echo $C > $types/mtty-1/create || { echo "Bail out! cannot create mtty instances"; exit 1; }
echo "# kernel $(cat /VERSION), instances $A $B (mtty-2), $C (mtty-1)"

export LD_LIBRARY_PATH=/lib/vfiomig
guest-api $A $B $C
# The behaviour transcript the host compares with its mock (run.sh).
conformance $A $B || echo "Bail out! conformance could not run"
for t in /tests/guest-*.sh; do
	[ -e "$t" ] || continue
	A=$A B=$B C=$C sh "$t"
done
exit 0
