#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What a failed command tells the operator to do about a device (issue
#23, item 2): each row of docs/states.md's table "What to do", through the
commands that meet it.  A device where the command found it needs nothing;
"reset the device" is for ERROR, a newer kernel's state, or a device a
failed arc left elsewhere.  Before: every failed arc ended with ": reset
the device", even on a device that never moved and runs a guest."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli import Tap, run, one_line, tmpdir  # noqa: E402

NOW = "; the device is now in "
PF = ("its reset was refused (EBUSY: a PF with VFs enabled refuses it): disable the PF's VFs "
      "and reset it again")
BACK = "a failed arc left it on the way from RUNNING: move it back there, or on"


def ends(r, tail, rc=1):
    """One line on stderr, exit @rc, whose message part ends with @tail."""
    line = r.errtext.rstrip("\n")
    return r.rc == rc and one_line(r.err) and r.out == b"" and line.endswith(tail)


def states(r):
    try:
        return r.json()["error"].get("states", {})
    except (ValueError, KeyError):
        return None


def test_never_moved(t, f, good):
    """Row 1: the SET failed before its first arc: where it was, nothing to do."""
    d = "mock:d,fail=set:1:EIO"
    cases = [
        (("save", d, "-o", f), "RUNNING -> STOP_COPY failed: Input/output error" + NOW + "RUNNING"),
        (("state", d, "stop"), "RUNNING -> STOP failed: Input/output error" + NOW + "RUNNING"),
        (("load", d, "-i", good), "RUNNING -> RESUMING failed: Input/output error" + NOW +
         "RUNNING"),
        (("migrate", d, "mock:e"), "RUNNING -> STOP_COPY failed: Input/output error" + NOW +
         "RUNNING; source mock:d is in RUNNING; destination mock:e is in RUNNING"),
        (("state", d, "mock:e", "stop"), "members now: mock:d RUNNING, mock:e RUNNING" + NOW +
         "RUNNING"),
    ]
    for args, tail in cases:
        r = run(*args)
        t.ok(ends(r, tail) and "reset" not in r.errtext,
             "%s: a device that never moved is told nothing" % args[0], r)
    r = run("--json", "save", d, "-o", f)
    t.ok(r.rc == 1 and states(r) == {"mock:d": "RUNNING"} and
         "reset" not in r.json()["error"]["message"], "save --json: the same, RUNNING", r)


def test_put_back(t, f, good):
    """Row 2: a failed arc the command's own rollback made good."""
    r = run("save", "mock:d,fail=set:1:EIO:mid", "-o", f)
    t.ok(ends(r, "RUNNING -> STOP_COPY failed: Input/output error" + NOW + "RUNNING"),
         "save: stopped on the way, put back: nothing to do", r)
    r = run("load", "mock:d,fail=set:1:EIO:mid", "-i", good)
    t.ok(ends(r, "RUNNING -> RESUMING failed: Input/output error" + NOW + "RUNNING"),
         "load: stopped on the way before any data, put back: nothing to do", r)


def test_moved_on_purpose(t, good):
    """Row 3: a load's partial state discarded, the device left in STOP on purpose."""
    r = run("load", "mock:d,size=512K,fail=write:2:EIO", "-i", "-",
            input=open(good, "rb").read())
    t.ok(ends(r, "the partial state was discarded" + NOW + "STOP"),
         "load: the partial state discarded, STOP: nothing to do", r)


def test_reset_only(t, f):
    """Rows 4 to 6: ERROR and a newer kernel's state, which only a reset leaves."""
    r = run("state", "mock:d,fail=set:1:EIO:error", "stop")
    t.ok(ends(r, NOW + "ERROR: reset the device"), "state: a failed arc into ERROR: reset", r)
    r = run("state", "mock:d,fail=set:1:EIO:9", "stop")
    t.ok(ends(r, NOW + "state 9 (unknown to this library: a newer kernel's?): reset the device"),
         "state: a failed arc into state 9: reset", r)
    r = run("save", "mock:d,state=error", "-o", f)
    t.ok(ends(r, "which only a reset leaves: reset the device" + NOW + "ERROR") and
         r.errtext.count("reset the device") == 1, "save: found in ERROR: reset, said once", r)
    r = run("save", "mock:d,fail=set:1:EIO:error,fail=reset:1+:EBUSY", "-o", f)
    t.ok(ends(r, NOW + "ERROR: only a reset leaves that state, and " + PF),
         "save: ERROR whose reset is refused: how to get it reset", r)


def test_stranded(t, f):
    """Rows 7 and 8: left on the way by a failed arc, not put back."""
    r = run("state", "mock:d,fail=set:1:EIO:mid", "stop")
    t.ok(ends(r, NOW + "RUNNING_P2P: " + BACK + ", or reset the device"),
         "state: stopped on the way: back, on, or a reset as the last resort", r)
    r = run("save", "mock:d,fail=set:1:EIO:mid,fail=set:2:EIO,fail=reset:1+:EBUSY", "-o", f)
    t.ok(ends(r, NOW + "STOP: " + BACK + "; " + PF),
         "save: stopped on the way, the way back and the reset refused", r)


def test_partial_refused(t, good):
    """Row 9: part of a state in RESUMING, its discarding reset refused."""
    r = run("load", "mock:d,size=512K,fail=write:2:EIO,fail=reset:1+:EBUSY", "-i", "-",
            input=open(good, "rb").read())
    t.ok(ends(r, NOW + "RESUMING: do not run it, it holds part of a state; " + PF),
         "load: a partial state the reset could not discard: do not run it", r)


def main():
    t = Tap()
    tmp = tmpdir()
    f = os.path.join(tmp, "out.bin")
    good = os.path.join(tmp, "d.bin")
    r = run("save", "mock:d,size=512K", "-o", good)
    t.ok(r.rc == 0, "a stream of mock:d", r)
    test_never_moved(t, f, good)
    test_put_back(t, f, good)
    test_moved_on_purpose(t, good)
    test_reset_only(t, f)
    test_stranded(t, f)
    test_partial_refused(t, good)
    for name in os.listdir(tmp):
        os.unlink(os.path.join(tmp, name))
    os.rmdir(tmp)
    t.done()


main()
