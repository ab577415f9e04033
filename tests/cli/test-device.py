#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vfiomig-ctl list, info, state and reset on mock devices, in text and in
JSON; failures exit 1 with one line on stderr and nothing on stdout.

A mock starts fresh in every process: `state=` in the spec sets where it
starts (docs/mock.md)."""

import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli import Tap, run, one_line, stream_size, MLX5  # noqa: E402

ALL_FLAGS = ["STOP_COPY", "P2P", "PRE_COPY"]


def check_failure(t, r, words, name, errno=None):
    t.ok(r.rc == 1 and one_line(r.err) and words in r.errtext and r.out == b"" and
         r.errtext.startswith("vfiomig-ctl: "), name, r)


def check_json_failure(t, r, errno, words, name):
    try:
        doc = r.json()
        good = (r.rc == 1 and list(doc) == ["error"] and doc["error"]["errno"] == errno and
                words in doc["error"]["message"])
    except ValueError:
        good = False
    t.ok(good, name, r)


def test_info(t):
    r = run("info", "mock:a")
    t.ok(r.rc == 0 and "device:           mock:a\n" in r.text and
         "state:            RUNNING\n" in r.text and
         "migration flags:  STOP_COPY P2P PRE_COPY\n" in r.text and
         "backend:          mock\n" in r.text, "info: text", r)

    r = run("--json", "info", "mock:a")
    d = r.json()
    t.ok(r.rc == 0 and d["device"] == "mock:a" and d["state"] == "RUNNING" and
         d["migration_flags"] == ALL_FLAGS and d["stop_copy_size"] == stream_size(65536) and
         d["dirty_tracking"] is False and d["backend"] == "mock" and d["pci"] is None and
         d["driver"] == "mock" and d["transport"] == "mock" and d["reset_advertised"] is True,
         "info --json: the default mock", r)

    r = run("--json", "info", "mock:b,%s,flags=stop_copy,datasize=0,dirtylog=1,resetflag=0,"
            "state=stop" % MLX5.replace("15b3:101e", "15b3:101e:15b3:0047:02"))
    d = r.json()
    t.ok(r.rc == 0 and d["pci"] == {"vendor": "0x15b3", "device": "0x101e",
                                    "subsystem_vendor": "0x15b3", "subsystem_device": "0x0047",
                                    "revision": "0x02"} and
         d["driver"] == "mlx5_vfio_pci" and d["migration_flags"] == ["STOP_COPY"] and
         d["stop_copy_size"] is None and d["dirty_tracking"] is True and
         d["reset_advertised"] is False and d["state"] == "STOP",
         "info --json: PCI IDs, flags, no data size, dirty tracking, no reset flag", r)

    r = run("--json", "info", "mock:c,flags=stop_copy+p2p,size=1M")
    d = r.json()
    t.ok(d["migration_flags"] == ["STOP_COPY", "P2P"] and d["stop_copy_size"] == stream_size(1 << 20),
         "info --json: p2p without pre-copy, 1 MiB", r)
    r = run("info", "mock:c,datasize=0")
    t.ok(r.rc == 0 and "stop-copy size:   unknown" in r.text, "info: unknown stop-copy size", r)

    # mlx5 firmware diagnostics: never for a mock (it has no firmware), in
    # every build; other devices have no vendor section.
    t.ok(d["vendor"] is None, "info --json: no vendor section for a non-mlx5 device", r)
    r = run("--json", "info", "mock:d," + MLX5)
    v = r.json()["vendor"]
    t.ok(r.rc == 0 and v["name"] == "mlx5" and v["firmware"] is None and
         v["firmware_error"]["errno"] == 95 and
         "mock device has no firmware" in v["firmware_error"]["message"],
         "info --json: mlx5 mock, firmware diagnostics not available", r)
    r = run("info", "mock:d," + MLX5)
    t.ok(r.rc == 0 and "mlx5 firmware:    not available: a mock device has no firmware" in r.text,
         "info: mlx5 mock, firmware diagnostics not available", r)
    r = run("info", "mock:a")
    t.ok(r.rc == 0 and "mlx5 firmware" not in r.text, "info: no mlx5 line for other devices", r)


def test_state(t):
    r = run("state", "mock:a")
    t.ok(r.rc == 0 and r.text == "RUNNING\n", "state: text", r)
    r = run("--json", "state", "mock:a,state=stop")
    t.ok(r.rc == 0 and r.json() == {"device": "mock:a", "state": "STOP"}, "state: json", r)
    r = run("state", "mock:a,state=running_p2p")
    t.ok(r.rc == 0 and r.text == "RUNNING_P2P\n", "state: RUNNING_P2P start", r)

    moves = [
        ("mock:a", "STOP_COPY", "RUNNING", ["RUNNING_P2P", "STOP", "STOP_COPY"]),
        ("mock:a", "stop-copy", "RUNNING", ["RUNNING_P2P", "STOP", "STOP_COPY"]),
        ("mock:a,state=stop", "STOP_COPY", "STOP", ["STOP_COPY"]),
        ("mock:a,state=stop", "resuming", "STOP", ["RESUMING"]),
        ("mock:a", "pre_copy", "RUNNING", ["PRE_COPY"]),
        ("mock:a", "Pre-Copy-P2P", "RUNNING", ["RUNNING_P2P", "PRE_COPY_P2P"]),
        ("mock:a,state=stop", "RUNNING", "STOP", ["RUNNING_P2P", "RUNNING"]),
        ("mock:a,flags=stop_copy", "STOP_COPY", "RUNNING", ["STOP", "STOP_COPY"]),
        ("mock:a,flags=stop_copy+pre_copy", "STOP", "RUNNING", ["STOP"]),
        ("mock:a", "RUNNING", "RUNNING", []),
    ]
    for spec, target, start, path in moves:
        r = run("--json", "state", spec, target)
        d = r.json() if r.rc == 0 else {}
        t.ok(r.rc == 0 and d.get("from") == start and d.get("to") == path[-1:][0] if path else
             d.get("to") == start, "state --json %s %s: from/to" % (spec, target), r)
        t.ok(r.rc == 0 and d.get("path") == path, "state --json %s %s: path %s" % (spec, target, path), r)
        r = run("state", spec, target)
        t.ok(r.rc == 0 and r.text == " -> ".join([start] + path) + "\n",
             "state %s %s: text path" % (spec, target), r)

    refused = [
        ("mock:a", "ERROR", "cannot go from RUNNING to ERROR"),
        ("mock:a,flags=stop_copy", "PRE_COPY", "does not offer"),
        ("mock:a,flags=stop_copy", "RUNNING_P2P", "does not offer"),
        ("mock:a,state=error", "RUNNING", "which only a reset leaves: reset the device"),
        ("mock:a,fail=set:1:EIO", "STOP", "failed"),
        ("mock:a,fail=set:1:EIO:error", "STOP", "ERROR"),
    ]
    for spec, target, words in refused:
        r = run("state", spec, target)
        check_failure(t, r, words, "state %s %s: refused, exit 1" % (spec, target))
        r = run("--json", "state", spec, target)
        check_json_failure(t, r, 5 if "fail=" in spec else 22, words,
                           "state --json %s %s: one JSON error" % (spec, target))


def test_group_state(t):
    """Several devices move as a group, in two phases (docs/groups.md)."""
    r = run("state", "mock:a", "mock:b,arc=5ms", "stop")
    t.ok(r.rc == 0 and r.text == "mock:a: RUNNING -> RUNNING_P2P -> STOP\n"
         "mock:b: RUNNING -> RUNNING_P2P -> STOP\n", "state A B stop: a line per device", r)
    r = run("--json", "state", "mock:a,state=stop", "mock:b,state=stop", "running")
    d = r.json() if r.rc == 0 else {}
    t.ok(r.rc == 0 and [x["device"] for x in d["devices"]] == ["mock:a", "mock:b"] and
         all(x["to"] == "RUNNING" and x["path"] == ["RUNNING_P2P", "RUNNING"]
             for x in d["devices"]), "state --json A B running: .devices[]", r)
    r = run("--json", "state", "mock:a", "mock:b,fail=set:2:EIO", "stop_copy")
    e = r.json()["error"] if r.rc == 1 else {}
    t.ok(r.rc == 1 and e["states"] == {"mock:a": "RUNNING", "mock:b": "RUNNING"} and
         e["message"].startswith("state mock:b: RUNNING_P2P -> STOP_COPY failed"),
         "state A B: a member fails, both go back, error.states says so", r)
    r = run("state", "mock:a", "mock:b,flags=stop_copy", "stop")
    t.ok(r.rc == 1 and one_line(r.err) and "mock:b: the device has no P2P states" in r.errtext,
         "state A B: a member without P2P is refused", r)
    r = run("state", "mock:a", "mock:b,foo=1", "stop")
    t.ok(r.rc == 2 and one_line(r.err) and "unknown key 'foo'" in r.errtext and r.out == b"",
         "state A B: a member with a bad mock spec is a usage error, nothing moves", r)
    r = run("state", "--allow-no-p2p", "mock:a", "mock:b,flags=stop_copy", "stop")
    t.ok(r.rc == 0 and "mock:b: RUNNING -> STOP\n" in r.text,
         "state --allow-no-p2p: the member skips the P2P phase", r)


def test_reset(t):
    r = run("reset", "mock:a,state=error")
    t.ok(r.rc == 0 and r.text == "RUNNING\n", "reset from ERROR: RUNNING", r)
    r = run("--json", "reset", "mock:a,state=stop,resetflag=0")
    t.ok(r.rc == 0 and r.json() == {"device": "mock:a", "state": "RUNNING"},
         "reset --json without the reset flag", r)
    r = run("reset", "mock:a,fail=reset:1:EIO")
    check_failure(t, r, "VFIO_DEVICE_RESET failed", "reset that fails: exit 1")


def test_bad_devices(t):
    # A mock spec the library cannot parse is a typo on the command line: a
    # usage error (exit 2).  A device that cannot be opened is a failure.
    bad = [
        ("mock:a,foo=1", "unknown key 'foo'", 2),
        ("mock:a,size=lots", "size=lots", 2),
        ("mock:", "name ''", 2),
        # a spec of no known form is as much a typo as a bad mock spec
        ("bogus", "'bogus': not a device spec", 2),
        ("mock", "'mock': not a device spec", 2),
        ("0000:ff:1f.7", "0000:ff:1f.7", 1),
        ("/dev/vfio/devices/vfio4242", "vfio4242", 1),
    ]
    for spec, words, rc in bad:
        for cmd in (["info"], ["state"], ["reset"]):
            r = run(*cmd, spec)
            t.ok(r.rc == rc and one_line(r.err) and words in r.errtext and r.out == b"" and
                 r.errtext.startswith("vfiomig-ctl: "),
                 "%s %s: exit %d, one line" % (cmd[0], spec, rc), r)
        r = run("--json", "info", spec)
        try:
            # a usage error's JSON is on stderr (test-usage.py)
            d = r.json() if rc == 1 else json.loads(r.err.decode())
            good = (r.rc == rc and d["error"]["errno"] > 0 and
                    (rc == 1 or d["error"]["errno"] == 22) and words in d["error"]["message"])
        except ValueError:
            good = False
        t.ok(good, "info --json %s: one JSON error" % spec, r)
    r = run("info", "mock:a,foo=1")
    t.ok(r.errtext.count("mock:a,foo=1") == 1, "the device is named once in the error", r)


def host_has_vfio_devices():
    for d in glob.glob("/sys/bus/pci/devices/*/driver"):
        if "vfio" in os.path.basename(os.path.realpath(d)):
            return True
    return bool(glob.glob("/sys/bus/mdev/devices/*"))


def test_list(t):
    r = run("--json", "list")
    d = r.json()
    t.ok(r.rc == 0 and isinstance(d, list), "list --json: an array, exit 0", r)
    r2 = run("list")
    if host_has_vfio_devices():
        t.ok(r2.rc == 0 and all(set(e) >= {"device", "driver", "migration_flags"} for e in d),
             "list: each device with its driver and flags", r)
        t.ok(r2.text.startswith("DEVICE"), "list: text table", r2)
    else:
        t.ok(d == [], "list --json: [] without VFIO devices", r)
        t.ok(r2.rc == 0 and r2.out == b"" and r2.err == b"", "list: nothing without VFIO devices", r2)


def main():
    t = Tap()
    test_info(t)
    test_state(t)
    test_group_state(t)
    test_reset(t)
    test_bad_devices(t)
    test_list(t)
    t.done()


main()
