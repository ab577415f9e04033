#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vfiomig-ctl save and migrate to a downtime target on mock devices: the
estimate at the switchover against the target and the measured downtime in
the text and JSON summaries, the deadline in both modes, a group's figures,
the progress line's estimate, and the usage errors of the three options."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli import Tap, run, tmpdir, on_pty  # noqa: E402

MS = 1000000
# 8M at 64M/s dirtying 4M/s: a 50 ms target is met after the initial image
MEETS = "size=8M,rate=64M,dirtyplan=4M"
# dirtying 16M/s into 8M/s: no target is ever met
NEVER = "size=1M,rate=8M,dirtyplan=16M"


def test_target(t):
    r = run("--json", "save", "mock:a," + MEETS, "-o", "/dev/null", "--downtime-limit", "50ms")
    d = r.json() if r.rc == 0 else {}
    t.ok(r.rc == 0 and d["precopy_rounds"] >= 1 and d["downtime_limit_ns"] == 50 * MS and
         0 < d["downtime_estimate_ns"] <= 50 * MS and d["precopy_bandwidth"] > 0 and
         d["precopy_timed_out"] is False and d["downtime_ns"] > 0,
         "save --downtime-limit: implies --precopy=auto, the estimate within the target", r)
    r = run("save", "mock:a," + MEETS, "-o", "/dev/null", "--downtime-limit", "50ms")
    line = [x for x in r.text.splitlines() if x.startswith("downtime:")]
    t.ok(r.rc == 0 and len(line) == 1 and ", estimated " in line[0] and
         line[0].endswith(" against a 50.000 ms target"),
         "save: the text summary's downtime, estimated against the target", r)
    r = run("--json", "save", "mock:a,size=1M,dirty=64K", "-o", "/dev/null", "--precopy")
    d = r.json() if r.rc == 0 else {}
    t.ok(r.rc == 0 and d["downtime_limit_ns"] is None and d["downtime_estimate_ns"] > 0,
         "save --precopy without a target: the estimate still reported, no target", r)
    r = run("--json", "save", "mock:a,size=1M", "-o", "/dev/null")
    d = r.json() if r.rc == 0 else {}
    t.ok(r.rc == 0 and d["downtime_estimate_ns"] is None and d["precopy_bandwidth"] == 0,
         "save without pre-copy: no estimate", r)


def test_deadline(t):
    r = run("--json", "save", "mock:a," + NEVER, "-o", "/dev/null", "--downtime-limit", "10ms",
            "--precopy-timeout", "300ms", "--on-timeout", "abort")
    err = r.json().get("error", {}) if r.rc == 1 else {}
    msg = err.get("message", "")
    t.ok(r.rc == 1 and "300.0 ms deadline" in msg and "a target of 10.0 ms" in msg and
         err.get("states") == {"mock:a": "RUNNING"},
         "--on-timeout abort: fails with the last estimate, the source running", r)
    r = run("--json", "save", "mock:a," + NEVER, "-o", "/dev/null", "--downtime-limit", "10ms",
            "--precopy-timeout", "300ms")
    d = r.json() if r.rc == 0 else {}
    t.ok(r.rc == 0 and d["precopy_timed_out"] is True and d["downtime_estimate_ns"] > 10 * MS and
         d["elapsed_ns"] >= 300 * MS, "--on-timeout switch (the default): switched at the deadline", r)
    r = run("save", "mock:a," + NEVER, "-o", "/dev/null", "--downtime-limit", "10ms",
            "--precopy-timeout", "300ms", "--on-timeout", "switch")
    t.ok(r.rc == 0 and "; the pre-copy deadline passed\n" in r.text,
         "--on-timeout switch: the text summary says the deadline passed", r)


def test_migrate_and_group(t):
    r = run("--json", "migrate", "mock:a," + MEETS, "mock:b,size=8M", "--downtime-limit", "50ms")
    d = r.json() if r.rc == 0 else {}
    t.ok(r.rc == 0 and d["destination_state"] == "RUNNING" and
         0 < d["downtime_estimate_ns"] <= 50 * MS and d["downtime_limit_ns"] == 50 * MS,
         "migrate --downtime-limit: the destination verified the bytes; the estimate", r)
    r = run("--json", "migrate", "mock:a," + MEETS, "mock:c,size=2M,rate=32M,dirtyplan=1M",
            "--to", "mock:b,size=8M", "mock:d,size=2M", "--downtime-limit", "50ms",
            "--precopy-timeout", "5s")
    d = r.json() if r.rc == 0 else {}
    t.ok(r.rc == 0 and 0 < d["downtime_estimate_ns"] <= 50 * MS and
         all(m["downtime_estimate_ns"] > 0 and m["precopy_bandwidth"] > 0 for m in d["devices"]),
         "migrate a group: the group's estimate and each member's", r)
    r = run("--json", "save", "mock:a," + MEETS, "mock:c,size=2M", "-o", "/dev/null",
            "--downtime-limit", "50ms")
    d = r.json() if r.rc == 0 else {}
    t.ok(r.rc == 0 and 0 < d["downtime_estimate_ns"] <= 50 * MS and len(d["devices"]) == 2,
         "save a group --downtime-limit", r)


def test_progress(t):
    rc, data = on_pty(["save", "mock:a,size=4M,rate=8M,dirtyplan=2M", "-o", "/dev/null",
                                "--downtime-limit", "20ms", "--precopy-timeout", "1500ms"])
    t.ok(rc == 0 and b"downtime ~" in data and b" of 20.0" in data,
         "progress: the estimate against the target during pre-copy", data[-500:])


def test_usage(t):
    bad = [
        (["--on-timeout", "abort"], "give the deadline too"),
        (["--precopy=never", "--downtime-limit", "1s"], "--precopy=never turns off"),
        (["--precopy=never", "--precopy-timeout", "1s"], "--precopy=never turns off"),
        (["--precopy=3", "--downtime-limit", "1s"], "and so does --precopy=3"),
        (["--downtime-limit", "300"], "expected a duration with its unit"),
        (["--downtime-limit", "0ms"], "more than 0"),
        (["--precopy-timeout", "2d"], "expected a duration"),
        (["--precopy-timeout", "1s", "--on-timeout", "wait"], "expected switch"),
    ]
    for opts, words in bad:
        for cmd in (["save", "mock:a", "-o", "/dev/null"], ["migrate", "mock:a", "mock:b"]):
            r = run(*cmd, *opts)
            t.ok(r.rc == 2 and words in r.errtext, "%s %s: usage error" % (cmd[0], " ".join(opts)),
                 r)


def main():
    t = Tap()
    tmpdir()
    test_target(t)
    test_deadline(t)
    test_migrate_and_group(t)
    test_progress(t)
    test_usage(t)
    t.done()


main()
