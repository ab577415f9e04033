#!/bin/sh
# vfiomig-ctl profile and check against mtty, inside the test VM (busybox
# sh): $A, $B, $D and $E are mtty-2 instances, $C and $F mtty-1.  An mtty-1
# state is refused by an mtty-2 by its type, by check as by the load.
# Prints TAP lines, after the plan; run.sh numbers them and checks the plan.
set -u
echo 1..8
. /tests/lib-guest.sh
ctl() {
	n=$#
	while [ "$n" -gt 0 ]; do
		a=$1
		shift
		case $a in
		-*|/*) set -- "$@" "$a" ;;
		*) set -- "$@" "$(via "$a")" ;;
		esac
		n=$((n - 1))
	done
	vfiomig-ctl -q "$@"
}
has() { echo "$1" | grep -q -- "$2"; }

out=$(ctl profile $A)
has "$out" '"driver": "mtty"' && has "$out" '"mdev_type": "mtty-2"' &&
	has "$out" '"pci_ids": null' && has "$out" '"migration_flags": 7' &&
	has "$out" '"state_size": 96' && has "$out" '"driver_version_source": "'
ok $? "profile: mtty, of type mtty-2, flags 7, state size 96, the driver's version"
out=$(ctl profile $C)
has "$out" '"mdev_type": "mtty-1"' && has "$out" '"state_size": 60'
ok $? "profile: mtty-1, state size 60"

ctl profile $B > /tmp/b.json
ctl check $A --against /tmp/b.json > /tmp/out 2>/tmp/err
[ $? = 0 ] && grep -q "^verdict: same$" /tmp/out && [ ! -s /tmp/err ]
ok $? "check: an mtty-2 against another mtty-2: the same"
ctl check $C --against - < /tmp/b.json > /tmp/out 2>/tmp/err
[ $? = 1 ] && grep -q "the mdev types differ (source mtty-1, destination mtty-2)" /tmp/err &&
	grep -q "^mdev_type  *incompatible" /tmp/out
ok $? "check: mtty-1 against mtty-2 refused by type: $(cat /tmp/err)"
ctl reset $C > /dev/null; ctl reset $B > /dev/null
ctl save $C -o /tmp/c.vfm > /dev/null && ctl load $B -i /tmp/c.vfm 2>/tmp/err
[ $? = 1 ] && grep -q "the mdev types (stream mtty-1, device mtty-2) differ" /tmp/err &&
	[ "$(ctl state $B)" = RUNNING ]
ok $? "the load refuses mtty-1 into mtty-2 by type too, before any write"
ctl reset $C > /dev/null

# Groups: matched as the group load matches, by type across kinds.
ctl profile $F $D > /tmp/fd.json
ctl check $A $C --against /tmp/fd.json > /tmp/out 2>/tmp/err
[ $? = 0 ] && grep -q "^verdict: same$" /tmp/out
ok $? "check of a group: A C against F D (mtty-1 first), each its type's: $(cat /tmp/err)"
ctl profile $D $E > /tmp/de.json
ctl check $A $C --against /tmp/de.json > /tmp/out 2>/tmp/err
[ $? = 1 ] && grep -q "source member 1 (.*) fits no destination device left" /tmp/err
ok $? "check of a group: A C against D E refused, C fits neither: $(cat /tmp/err)"
out=$(ctl --json check $A --against /tmp/b.json)
has "$out" '"compatible": true' && has "$out" '"rule": "mtty"'
ok $? "check --json: compatible, with each rule's source"
