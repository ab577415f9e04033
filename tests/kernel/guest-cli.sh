#!/bin/sh
# vfiomig-ctl against mtty, inside the test VM (busybox sh).  $A, $B, $D and
# $E are mtty-2 instances, $C and $F mtty-1 ($D, $E and $F: destinations of
# the group tests).  Prints TAP lines, after the plan; run.sh numbers them
# and checks the plan.
set -u
echo 1..29
. /tests/lib-guest.sh
# -q: the guest console is a terminal, and progress lines would mix into the TAP.
ctl() {
	n=$#
	while [ "$n" -gt 0 ]; do
		a=$1
		shift
		set -- "$@" "$(via "$a")"
		n=$((n - 1))
	done
	vfiomig-ctl -q "$@"
}
state_of() { ctl state "$1" 2>/dev/null; }
has() { echo "$1" | grep -q -- "$2"; }

# info: what the kernel reports
out=$(ctl info $A)
has "$out" "STOP_COPY P2P PRE_COPY" && has "$out" "RUNNING" && has "$out" "(96 bytes)"
ok $? "info: STOP_COPY P2P PRE_COPY, RUNNING, stop-copy size 96"
out=$(ctl --json info $A)
has "$out" '"stop_copy_size": 96' && has "$out" '"driver": "mtty"' && has "$out" '"state": "RUNNING"'
ok $? "info --json: stop_copy_size 96, driver mtty"
has "$(ctl list)" "$A"
ok $? "list shows the mtty instances"

# The state machine: every pair of the seven requestable states, each in
# its own process, as a script would.  Two kinds of request never reach the
# kernel: STOP_COPY -> PRE_COPY(_P2P), on which kernels before the 2026 fix
# hang; and, from a session left by an earlier process (mtty keeps the state
# but drops its files on close), any arc that would go on with that session
# (RESUMING -> STOP, or within the saving group): mtty 6.12 oopses on those
# (NULL migration file), as this suite found.  Only a reset ends them.
states="STOP RUNNING STOP_COPY RESUMING RUNNING_P2P PRE_COPY PRE_COPY_P2P"
agree=0 total=0 bad=""
for from in $states; do
	for to in $states; do
		ctl reset $A >/dev/null 2>&1
		ctl state $A $from >/dev/null 2>&1 || { bad="$bad $from(reach)"; continue; }
		ctl state $A $to >/dev/null 2>/tmp/err
		rc=$?
		now=$(state_of $A)
		total=$((total + 1))
		case "$from>$to" in
		STOP_COPY\>PRE_COPY*|RESUMING\>[!R]*|RESUMING\>RUNNING*|PRE_COPY*\>STOP_COPY|PRE_COPY\>PRE_COPY_P2P|PRE_COPY_P2P\>PRE_COPY)
			want_rc=1 want_now=$from ;;
		*)
			want_rc=0 want_now=$to ;;
		esac
		if [ $rc = $want_rc ] && [ "$now" = "$want_now" ]; then
			agree=$((agree + 1))
		else
			bad="$bad $from->$to(rc=$rc,now=$now)"
		fi
	done
done
[ $agree = 49 ]
ok $? "state: library and kernel agree on $agree of $total pairs${bad:+:$bad}"
ctl reset $A >/dev/null
ctl state $A STOP_COPY >/dev/null && ctl state $A PRE_COPY 2>/tmp/err
[ $? = 1 ] && grep -q "cannot go back" /tmp/err && [ "$(state_of $A)" = STOP_COPY ]
ok $? "STOP_COPY -> PRE_COPY refused by the library, device still STOP_COPY"
ctl reset $A >/dev/null
ctl state $A RESUMING >/dev/null && ctl state $A RUNNING 2>/tmp/err
[ $? = 1 ] && grep -q "earlier session" /tmp/err && [ "$(state_of $A)" = RESUMING ] &&
	[ "$(ctl reset $A)" = RUNNING ]
ok $? "a stale RESUMING is refused (it would oops mtty), and a reset ends it"

# Moving state: UART registers set on the source arrive on the destination.
reset_both() { ctl reset $A >/dev/null; ctl reset $B >/dev/null; }
moved() {
	[ "$(guest-api peek $B 7)" = "$1" ] && [ "$(state_of $B)" = RUNNING ] &&
		[ "$(state_of $A)" = STOP ]
}
reset_both; guest-api poke $A 7 0x11; guest-api poke $B 7 0
ctl save $A -o /tmp/a.vfm --precopy >/dev/null && ctl load $B -i /tmp/a.vfm >/dev/null && moved 0x11
ok $? "save to a file with --precopy, load: scratch register arrives"
reset_both; guest-api poke $A 7 0x22; guest-api poke $B 7 0
ctl save $A -o - --precopy 2>/dev/null | ctl load $B -i - >/dev/null && moved 0x22
ok $? "save into a pipe into load with --precopy: scratch register arrives"
reset_both; guest-api poke $A 7 0x33; guest-api poke $B 7 0
out=$(ctl --json migrate $A $B --precopy) && moved 0x33 && has "$out" '"precopy_rounds"'
ok $? "migrate --precopy: scratch register arrives"
ctl inspect /tmp/a.vfm >/tmp/insp && grep -q "valid" /tmp/insp
ok $? "inspect of a saved mtty stream: valid"

# Refusals: each with its reason.  A file is verified whole before the
# device is touched, so it runs on; through a pipe the damage is found
# after the first writes, and the destination is not left RUNNING.
reset_both
size=$(wc -c </tmp/a.vfm)
head -c $((size - 5)) /tmp/a.vfm >/tmp/cut.vfm
ctl load $B -i /tmp/cut.vfm 2>/tmp/err
[ $? = 1 ] && grep -q "truncated" /tmp/err && grep -q "nothing was written" /tmp/err &&
	[ "$(state_of $B)" = RUNNING ]
ok $? "a truncated stream file is refused before any write: $(cat /tmp/err)"
reset_both
cat /tmp/cut.vfm | ctl load $B -i - 2>/tmp/err
[ $? = 1 ] && grep -q "truncated" /tmp/err && [ "$(state_of $B)" != RUNNING ]
ok $? "a truncated stream through a pipe is refused: $(cat /tmp/err)"
reset_both
cp /tmp/a.vfm /tmp/bad.vfm
printf 'X' | dd of=/tmp/bad.vfm bs=1 seek=$((size - 40)) conv=notrunc 2>/dev/null
ctl load $B -i /tmp/bad.vfm 2>/tmp/err
[ $? = 1 ] && grep -q "checksum\|mismatch" /tmp/err && [ "$(state_of $B)" = RUNNING ]
ok $? "a corrupt stream file is refused before any write: $(cat /tmp/err)"
reset_both; ctl reset $C >/dev/null
ctl save $C -o /tmp/c.vfm >/dev/null && ctl load $B -i /tmp/c.vfm 2>/tmp/err
[ $? = 1 ] && grep -q "of type mtty-1" /tmp/err && [ "$(state_of $B)" = RUNNING ]
ok $? "an mtty-1 stream into an mtty-2 is refused before any write: $(cat /tmp/err)"

# reset, and recovery after the failed load: the device works again.
out=$(ctl reset $B)
[ "$out" = RUNNING ]
ok $? "reset after the failed load: RUNNING"
guest-api poke $A 7 0x44; guest-api poke $B 7 0; ctl reset $A >/dev/null
ctl migrate $A $B >/dev/null && moved 0x44
ok $? "after recovery a migration into the same device works"

# Both mtty-2 instances as one group: two phases down, two phases up.
reset_both
out=$(ctl state $A $B stop) && [ "$(state_of $A)" = STOP ] && [ "$(state_of $B)" = STOP ] &&
	[ "$(echo "$out" | grep -c ': RUNNING -> RUNNING_P2P -> STOP$')" = 2 ] &&
	ctl state $A $B running >/dev/null && [ "$(state_of $A)" = RUNNING ] &&
	[ "$(state_of $B)" = RUNNING ]
ok $? "state A B stop, then running: the group moves together"

# Groups as one stream: A and B saved together, loaded into their twins D
# and E together; each scratch register must reach its own twin.  A failed
# group load resets and stops every member inside the failing process, so
# no later process meets a session it left (the mtty oops above).
reset_group() { for d in "$@"; do ctl reset $d >/dev/null; done; }
mark() {
	guest-api poke $A 7 $1; guest-api poke $B 7 $2
	guest-api poke $D 7 0; guest-api poke $E 7 0
}
twins() {
	[ "$(guest-api peek $D 7)" = "$1" ] && [ "$(guest-api peek $E 7)" = "$2" ] &&
		[ "$(state_of $D)" = RUNNING ] && [ "$(state_of $E)" = RUNNING ] &&
		[ "$(state_of $A)" = STOP ] && [ "$(state_of $B)" = STOP ]
}
reset_group $A $B $D $E; mark 0x51 0x52
ctl save $A $B -o /tmp/ab.vfm >/dev/null && ctl load $D $E -i /tmp/ab.vfm >/dev/null &&
	twins 0x51 0x52
ok $? "save A B -o FILE, load D E -i FILE: each scratch register reaches its own twin"
ctl inspect /tmp/ab.vfm >/tmp/insp && grep -q "2 devices" /tmp/insp &&
	grep -q "valid: *yes" /tmp/insp
ok $? "inspect of a saved group stream: 2 devices, valid"
reset_group $A $B $D $E; mark 0x61 0x62
ctl save $A $B -o - --precopy 2>/dev/null | ctl load $D $E -i - >/dev/null && twins 0x61 0x62
ok $? "save A B --precopy into a pipe into load D E: each scratch register to its own twin"
reset_group $A $B $D $E; mark 0x71 0x72
out=$(ctl --json migrate $A $B --to $D $E --precopy) && twins 0x71 0x72 &&
	has "$out" '"stream_device": 1' && has "$out" '"precopy_rounds": [1-9]'
ok $? "migrate A B --to D E --precopy: each scratch register to its own twin"
# Across kinds the identity decides: a stream of A (mtty-2) and C (mtty-1)
# loaded into F (mtty-1) and D gives each the device of its own type.
reset_group $A $C $D $F
guest-api poke $A 7 0x81; guest-api poke $C 7 0x82; guest-api poke $D 7 0; guest-api poke $F 7 0
ctl save $A $C -o /tmp/ac.vfm >/dev/null && ctl load $F $D -i /tmp/ac.vfm >/dev/null &&
	[ "$(guest-api peek $D 7)" = 0x81 ] && [ "$(guest-api peek $F 7)" = 0x82 ] &&
	[ "$(state_of $D)" = RUNNING ] && [ "$(state_of $F)" = RUNNING ]
ok $? "save A C, load F D (mtty-1 first): each takes the stream device of its type"
# A byte of device 1's end record flipped (guest-api flip).  Through a
# pipe: refused after both members entered RESUMING, and neither member
# runs or took its part (mtty applies a state only at RESUMING -> STOP).
reset_group $A $B $D $E; mark 0x91 0x92
: >/tmp/err
ctl save $A $B -o /tmp/ab.vfm >/dev/null && guest-api flip /tmp/ab.vfm 1 &&
	{ cat /tmp/ab.vfm | ctl load $D $E -i - 2>/tmp/err >/dev/null; [ $? = 1 ]; } &&
	grep -q "checksum" /tmp/err && [ "$(state_of $D)" = STOP ] && [ "$(state_of $E)" = STOP ] &&
	[ "$(guest-api peek $D 7)" = 0x00 ] && [ "$(guest-api peek $E 7)" = 0x00 ]
ok $? "a group stream with device 1's record spoiled, through a pipe: refused, D, E in STOP: $(cat /tmp/err)"
# The same file: verified whole before loading, so D and E run on, untouched.
reset_group $D $E
: >/tmp/err
{ ctl load $D $E -i /tmp/ab.vfm 2>/tmp/err >/dev/null; [ $? = 1 ]; } &&
	grep -q "nothing was written" /tmp/err &&
	[ "$(state_of $D)" = RUNNING ] && [ "$(state_of $E)" = RUNNING ]
ok $? "the spoiled group stream file: refused before any write, D, E RUNNING: $(cat /tmp/err)"
# DMA logging through mtty's stubs: the plumbing, and a refusal.  Debian's
# 6.12 lacks CONFIG_IOMMUFD_DRIVER: every REPORT fails there, and each round
# must then count every page dirty.
if uname -r | grep -q +deb12; then
	out=$(ctl dirty $A start 0:1M,0x40000000:1M --interval 0.1 --count 2 --json)
	[ $? = 1 ] && has "$out" '"dirty_pages": 256' && has "$out" CONFIG_IOMMUFD_DRIVER
else
	out=$(ctl dirty $A start 0:1M,0x40000000:1M --interval 0.1 --count 2 --json) &&
		has "$out" '"dirty_pages": 0' && ! has "$out" '"error"'
fi && has "$out" '"page_size": 4096' && has "$out" '"stopped": true'
ok $? "dirty A start (2 ranges, 2 rounds): tracked, reported, stopped"
: >/tmp/err
{ ctl dirty $A start 0x800:4K --count 1 2>/tmp/err >/dev/null; [ $? = 1 ]; } &&
	grep -q "not aligned" /tmp/err
ok $? "dirty with a misaligned range: refused: $(cat /tmp/err)"
# The cdev path's errors: a kernel without cdevs (the stock one), or one
# whose node is missing (moved aside here).
: >/tmp/err
n=$(ls /sys/bus/mdev/devices/$A/vfio-dev)
if [ ! -e /sys/class/vfio-dev/$n/dev ]; then
	{ vfiomig-ctl -q info /dev/vfio/devices/$n 2>/tmp/err >/dev/null; [ $? = 1 ]; } &&
		grep -q CONFIG_VFIO_DEVICE_CDEV /tmp/err
else
	mv /dev/vfio/devices/$n /tmp/$n &&
		{ vfiomig-ctl -q info /dev/vfio/devices/$n 2>/tmp/err >/dev/null; [ $? = 1 ]; }
	r=$?
	mv /tmp/$n /dev/vfio/devices/$n
	[ $r = 0 ] && grep -q mknod /tmp/err
fi
ok $? "a cdev that is not there: $(cat /tmp/err)"
# The conformance checker on mtty with its twin.  Its report goes to the
# host as K lines; run.sh compares them with conformance-mtty.expected.
out=$(ctl conformance $A --twin $D)
rc=$?
echo "$out" | grep -E '^(PASS|FAIL|DEVIATION|SKIP) ' | sed 's/^/K /'
[ $rc = 0 ]
ok $? "conformance A --twin D: no check failed (exit $rc)"
# A device another process holds is refused, untouched.
: >/tmp/hold
# not through ctl(): $! must be vfiomig-ctl itself, not a subshell
vfiomig-ctl -q dirty "$(via $A)" start 0:1M --interval 0.2 --count 100 >/tmp/hold 2>&1 &
holder=$!
i=0
while [ ! -s /tmp/hold ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
: >/tmp/err
{ ctl conformance $A 2>/tmp/err >/dev/null; [ $? = 1 ]; } && grep -q "nothing else holds" /tmp/err
r=$?
kill $holder 2>/dev/null
wait $holder 2>/dev/null
[ $r = 0 ]
ok $? "conformance of a device another process holds: refused: $(cat /tmp/err)"
