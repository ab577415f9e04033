#!/bin/sh
# The Rust bindings' group example, ch-migrate
# (bindings/rust/vfiomig/examples/ch_migrate.rs), inside the test VM
# (busybox sh): the mtty-2 instances $A and $B moved as one group, with
# pre-copy, over a socket to a second process that loads them into their
# twins $D and $E, all through the safe API.  Prints TAP lines, after the
# plan; run.sh numbers them and checks the plan.
set -u
echo 1..5
. /tests/lib-guest.sh
state_of() { vfiomig-ctl -q state "$1" 2>/dev/null; }
# RUNNING with no session, scratch register 0: as the next test expects.
fresh() {
	for d in $A $B $D $E; do
		vfiomig-ctl -q reset $d >/dev/null && guest-api poke $d 7 0 >/dev/null || return 1
	done
}

fresh
guest-api poke $A 7 0xc1 >/dev/null
guest-api poke $B 7 0xc2 >/dev/null
ch-migrate --src "$(via $A),$(via $B)" --dst "$(via $D),$(via $E)" >/tmp/chm.out 2>&1
rc=$?
sed 's/^/# /' /tmp/chm.out
[ $rc = 0 ]
ok $? "ch-migrate A B to D E ($(grep -c RESULT /tmp/chm.out) results): exit $rc"
grep -q '^ch-migrate: RESULT state: .* byte for byte; .*; destinations RUNNING$' /tmp/chm.out
ok $? "ch-migrate: D and E hold A's and B's bytes (raw saves compared), and run"
grep -q '^ch-migrate: RESULT hooks: sender \[Quiesced PRE_COPY_P2P PRE_COPY_P2P\] once, vCPUs paused there once; receiver \[Ready RUNNING_P2P RUNNING_P2P\] once, vCPUs resumed there once$' /tmp/chm.out
ok $? "ch-migrate: the hook once at Quiesced (pre-copy) on the sender, once at Ready on the receiver"
# What mtty itself says, apart from the example's own checks.
[ "$(guest-api peek $D 7)" = 0xc1 ] && [ "$(guest-api peek $E 7)" = 0xc2 ] &&
	[ "$(state_of $A)" = STOP ] && [ "$(state_of $B)" = STOP ] &&
	[ "$(state_of $D)" = RUNNING ] && [ "$(state_of $E)" = RUNNING ]
ok $? "after ch-migrate: A's and B's scratch registers read back on D and E; A, B STOP, D, E RUNNING"
fresh && [ "$(state_of $A)$(state_of $B)$(state_of $D)$(state_of $E)" = RUNNINGRUNNINGRUNNINGRUNNING ]
ok $? "A, B, D and E reset: RUNNING, for the tests after this one"
