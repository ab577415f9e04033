#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vfiomig-ctl facing what a kernel may answer that the library does not
expect (issue #22): a state a newer kernel defines, migration flag bits no
kernel defined yet, a VFIO_DEVICE_RESET the kernel refuses, and sizes that
mean nothing.  Each one exits with a sentence that names what was met and
what to do, in text and in JSON; none crashes or hangs."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli import Tap, run, one_line, tmpdir  # noqa: E402

UNKNOWN_9 = "state 9 (unknown to this library: a newer kernel's?)"
PF = "its reset was refused (EBUSY: a PF with VFs enabled refuses it)"
EPROTO = 71


def failed(r, words):
    return (r.rc == 1 and one_line(r.err) and r.out == b"" and
            r.errtext.startswith("vfiomig-ctl: ") and words in r.errtext)


def json_failed(r, errno, words):
    try:
        e = r.json()["error"]
        return r.rc == 1 and e["errno"] == errno and words in e["message"]
    except (ValueError, KeyError):
        return False


def test_future_state(t):
    r = run("state", "mock:f,state=9")
    t.ok(failed(r, "mock:f: the device is in " + UNKNOWN_9 + ", which only a reset leaves: "
                "reset the device"), "state: a newer kernel's state is named, exit 1", r)
    r = run("--json", "state", "mock:f,state=9")
    t.ok(json_failed(r, EPROTO, UNKNOWN_9) and "states" not in r.json()["error"],
         "state --json: EPROTO, the number, no made-up state", r)
    r = run("info", "mock:f,state=4294967295")
    t.ok(failed(r, "state 4294967295 (unknown"), "info: the whole u32, unsigned", r)
    r = run("state", "mock:f,fail=set:1:EIO:9", "stop")
    t.ok(failed(r, "RUNNING -> STOP failed: Input/output error; the device is now in " +
                UNKNOWN_9 + ": reset the device"), "state TARGET: a SET that leaves state 9", r)
    r = run("--json", "reset", "mock:f,state=9")
    t.ok(r.rc == 0 and r.json() == {"device": "mock:f", "state": "RUNNING"},
         "reset: out of state 9, RUNNING", r)


def test_unknown_flags(t):
    spec = "mock:u,flags=stop_copy+p2p+bit9+bit40"
    r = run("info", spec)
    t.ok(r.rc == 0 and "migration flags:  STOP_COPY P2P 0x10000000200\n" in r.text,
         "info: unknown bits shown as they are", r)
    r = run("--json", "info", spec)
    t.ok(r.rc == 0 and r.json()["migration_flags"] == ["STOP_COPY", "P2P", "0x10000000200"],
         "info --json: unknown bits as a hex string", r)
    r = run("-v", "state", spec, "stop_copy")
    t.ok(r.rc == 0 and r.text == "RUNNING -> RUNNING_P2P -> STOP -> STOP_COPY\n" and
         r.errtext.count("include 0x10000000200, which this library does not know") == 1,
         "state: planned without them, said once with -v", r)


def test_reset_refused(t):
    r = run("reset", "mock:pf,fail=reset:1+:EBUSY")
    t.ok(failed(r, "VFIO_DEVICE_RESET failed (EBUSY: a PF with VFs enabled refuses it)"),
         "reset: a PF's refusal is named", r)
    r = run("--json", "state", "mock:a", "mock:pf,fail=set:1:EIO:error,fail=reset:1+:EBUSY",
            "stop")
    e = r.json()["error"] if r.rc == 1 else {}
    t.ok(r.rc == 1 and e["states"] == {"mock:a": "RUNNING", "mock:pf": "ERROR"} and
         "mock:pf: only a reset leaves that state, and " + PF in e["message"] and
         e["message"].count("refused") == 1,
         "state A B: the member whose reset is refused says what to do, once", r)
    d = tmpdir()
    f = os.path.join(d, "s.bin")
    r = run("save", "mock:src,size=256K", "-o", f)
    t.ok(r.rc == 0, "save a stream to load", r)
    r = run("load", "mock:dst,size=256K,fail=write:2:EIO,fail=reset:1+:EBUSY", "-i", f)
    t.ok(failed(r, "the partial state could not be discarded; the device is now in RESUMING: "
                "do not run it, it holds part of a state; " + PF) and
         "was discarded" not in r.errtext, "load: a refused reset leaves RESUMING, said", r)


def test_garbage_sizes(t):
    r = run("info", "mock:g,garbage=datasize:max")
    t.ok(r.rc == 0 and "stop-copy size:   unknown\n" in r.text, "info: an absurd size is unknown", r)
    r = run("--json", "info", "mock:g,garbage=datasize:max")
    t.ok(r.rc == 0 and r.json()["stop_copy_size"] is None, "info --json: null", r)
    d = tmpdir()
    f = os.path.join(d, "s.bin")
    r = run("-v", "--json", "save", "mock:g,size=1M,dirty=64K,garbage=datasize:max,"
            "garbage=initial:max,garbage=dirty:9223372036854775808", "--precopy", "-o", f)
    ok = r.rc == 0
    t.ok(ok and r.errtext.count("initial_bytes is 18446744073709551615 bytes") == 1 and
         r.errtext.count("dirty_bytes is 9223372036854775808 bytes") == 1,
         "save --precopy: ends, each absurd size warned once", r)
    r = run("load", "mock:h,size=1M", "-i", f)
    t.ok(r.rc == 0, "the stream loads", r)


def main():
    t = Tap()
    test_future_state(t)
    test_unknown_flags(t)
    test_reset_refused(t)
    test_garbage_sizes(t)
    t.done()


if __name__ == "__main__":
    main()
