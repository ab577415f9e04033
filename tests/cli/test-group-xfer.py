#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vfiomig-ctl save, load and migrate of several devices as one group, on
mock devices: one stream of the whole group, matched back to the devices
by identity, with every member's figures in the output and every member's
real state after a failure.  A mock destination verifies every byte at
RESUMING -> STOP (docs/mock.md), and a mock of another size refuses the
stream's header, so a load that succeeds proves each member received its
own source's exact state."""

import json
import os
import pty
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli import Tap, run, shell, one_line, tmpdir, stream_size, MLX5, ICE  # noqa: E402
from cli import CTL, TIMEOUT, base_env  # noqa: E402

DATA_PRECOPY, DATA_STOP_COPY = 2, 3
ONE_M, HALF_M = 1 << 20, 512 << 10


def records(path):
    """(type, device, payload) of each record of a framed stream
    (docs/stream-format.md: a 16-byte preamble, then 32-byte headers)."""
    data = open(path, "rb").read()
    if data[:8] != b"VFIOMIG\n":
        return None
    out, off = [], 16
    while off + 32 <= len(data):
        rtype, _flags, dev, length = struct.unpack_from("<HHII", data, off)
        out.append((rtype, dev, data[off + 32:off + 32 + length]))
        off += 32 + length
    return out


def device_streams(path):
    """Each device's own stream: its DATA payloads, in order."""
    streams = {}
    for rtype, dev, payload in records(path) or []:
        if rtype in (DATA_PRECOPY, DATA_STOP_COPY):
            streams[dev] = streams.get(dev, b"") + payload
    return streams


def states(r):
    """error.states of a failed --json run, or {}."""
    try:
        return r.json()["error"].get("states", {})
    except (ValueError, KeyError):
        return {}


def members(r, key="devices"):
    """The devices[] of a --json run, success or error."""
    try:
        d = r.json()
        return d["error"].get(key, []) if "error" in d else d.get(key, [])
    except (ValueError, KeyError):
        return []


def test_save_load(t, tmp):
    f = os.path.join(tmp, "group.vfm")
    r = run("--json", "save", "mock:a,size=1M", "mock:b,size=512K", "-o", f)
    ok = t.ok(r.rc == 0, "save A B --json: one stream of the group", r)
    if not ok:
        return None
    d = r.json()
    m = d["devices"]
    t.ok(d["device"] is None and d["file"] == f and d["raw"] is False and d["state"] == "STOP" and
         [x["device"] for x in m] == ["mock:a", "mock:b"] and
         [x["stream_device"] for x in m] == [0, 1] and
         all(x["state"] == "STOP" and x["error"] is None for x in m),
         "save A B --json: devices[] names each member in order, every one STOP", d)
    t.ok(m[0]["stop_copy_bytes"] == stream_size(ONE_M) and
         m[1]["stop_copy_bytes"] == stream_size(HALF_M) and
         all(x["device_bytes"] == x["precopy_bytes"] + x["stop_copy_bytes"] and
             x["precopy_rounds"] == 0 for x in m),
         "save A B --json: each member's figures are its own", m)
    t.ok(d["device_bytes"] == sum(x["device_bytes"] for x in m) and
         d["stream_bytes"] == os.path.getsize(f) and d["stream_bytes"] > d["device_bytes"] and
         d["elapsed_ns"] > 0 and d["downtime_ns"] > 0,
         "save A B --json: the totals are the group's", d)

    # Byte-exact: each device's part of the group stream is exactly what
    # that device alone saves raw (the mock's content is a function of its
    # name and size).
    streams = device_streams(f)
    raws = []
    for spec in ("mock:a,size=1M", "mock:b,size=512K"):
        raw = os.path.join(tmp, "raw-%d.bin" % len(raws))
        r = run("-q", "save", "--raw", spec, "-o", raw)
        raws.append(open(raw, "rb").read() if r.rc == 0 else None)
    t.ok(sorted(streams) == [0, 1] and streams[0] == raws[0] and streams[1] == raws[1],
         "the group stream carries each device's exact bytes",
         (sorted(streams), [len(s) for s in streams.values()], [len(x or b"") for x in raws]))

    r = run("--json", "load", "mock:c,size=1M", "mock:d,size=512K", "-i", f)
    ok = t.ok(r.rc == 0, "load C D --json of the group stream", r)
    if ok:
        d2 = r.json()
        m2 = d2["devices"]
        t.ok(d2["device"] is None and d2["state"] == "RUNNING" and
             [x["device"] for x in m2] == ["mock:c", "mock:d"] and
             [x["stream_device"] for x in m2] == [0, 1] and
             all(x["state"] == "RUNNING" and x["error"] is None for x in m2) and
             [x["device_bytes"] for x in m2] == [x["device_bytes"] for x in m] and
             d2["stream_bytes"] == d["stream_bytes"] and d2["device_bytes"] == d["device_bytes"],
             "load C D --json: every member RUNNING, with the bytes each source saved", d2)
    # A load into devices of the wrong sizes is refused by the mocks:
    # the check above could fail.
    r = run("--json", "load", "mock:c,size=512K", "mock:d,size=1M", "-i", f)
    t.ok(r.rc == 1 and "RUNNING" not in states(r).values() and len(states(r)) == 2,
         "load into swapped sizes (same kind): refused, and no member runs", r)
    return f


def test_text(t, tmp, f):
    g = os.path.join(tmp, "text.vfm")
    r = run("save", "mock:a,size=1M", "mock:b,size=512K", "-o", g)
    t.ok(r.rc == 0 and r.err == b"" and "group:        2 devices\n" in r.text and
         "file:         %s\n" % g in r.text and "state:        STOP\n" in r.text and
         "device 0:     mock:a: pre-copy none, stop-copy 1.0 MiB" in r.text and
         "device 1:     mock:b: pre-copy none, stop-copy 512" in r.text and
         r.text.count(", STOP\n") == 2,
         "save A B: text summary with the totals and a line per member", r)
    r = run("load", "mock:c,size=1M", "mock:d,size=512K", "-i", g)
    t.ok(r.rc == 0 and "state:        RUNNING\n" in r.text and r.text.count(", RUNNING\n") == 2 and
         "device 0:     mock:c: " in r.text and "(stream device" not in r.text,
         "load C D: text summary", r)
    r = run("-q", "save", "mock:a", "mock:b", "-o", g)
    t.ok(r.rc == 0 and r.err == b"", "save A B -q: nothing on stderr", r)
    rc, out, err = shell("$CTL save mock:a,size=1M mock:b,size=2M -o - | "
                         "$CTL --json load mock:c,size=1M mock:d,size=2M -i -")
    t.ok(rc == [0, 0] and json.loads(out)["state"] == "RUNNING" and "group:        2 devices" in err,
         "save A B -o - | load C D -i -: through a pipe, the summary on stderr", (rc, out, err))
    rc, out, err = shell("$CTL -q save mock:a,size=1M,dirty=128K mock:b,size=2M,dirty=64K "
                         "--precopy | $CTL -q load mock:c,size=1M mock:d,size=2M")
    t.ok(rc == [0, 0] and err == "", "save --precopy | load, with the default -o - and -i -",
         (rc, err))


def test_leave(t, tmp):
    f = os.path.join(tmp, "leave.vfm")
    r = run("--json", "save", "mock:a", "mock:b", "-o", f, "--leave", "running")
    t.ok(r.rc == 0 and r.json()["state"] == "RUNNING" and
         [x["state"] for x in r.json()["devices"]] == ["RUNNING", "RUNNING"],
         "save A B --leave running: every member runs on", r)
    r = run("--json", "load", "mock:c", "mock:d", "-i", f, "--leave", "stop")
    t.ok(r.rc == 0 and r.json()["state"] == "STOP" and
         [x["state"] for x in r.json()["devices"]] == ["STOP", "STOP"],
         "load C D --leave stop: every member loaded and stopped", r)


def test_identity(t, tmp):
    """Devices of different kinds are matched by identity, not position."""
    f = os.path.join(tmp, "kinds.vfm")
    r = run("-q", "save", "mock:a,size=1M," + MLX5, "mock:b,size=512K," + ICE, "-o", f)
    t.ok(r.rc == 0, "save of an mlx5-looking and an ice-looking mock", r)
    # Named the other way round, and sized as their own sources: loaded by
    # position, each would get the other's size and the mock would refuse.
    r = run("--json", "load", "mock:y,size=512K," + ICE, "mock:x,size=1M," + MLX5, "-i", f)
    m = members(r)
    t.ok(r.rc == 0 and [x["device"] for x in m] == ["mock:y", "mock:x"] and
         [x["stream_device"] for x in m] == [1, 0] and
         [x["device_bytes"] for x in m] == [stream_size(HALF_M), stream_size(ONE_M)],
         "load B A: each member takes the stream device of its own kind", r)
    r = run("load", "mock:y,size=512K," + ICE, "mock:x,size=1M," + MLX5, "-i", f)
    t.ok(r.rc == 0 and "device 0:     mock:y (stream device 1): " in r.text and
         "device 1:     mock:x (stream device 0): " in r.text,
         "load B A: the text names the stream device each took", r)
    # --force matches by position only: the sizes then do not fit.
    r = run("--json", "load", "mock:y,size=512K," + ICE, "mock:x,size=1M," + MLX5, "-i", f,
            "--force")
    t.ok(r.rc == 1 and len(states(r)) == 2 and "RUNNING" not in states(r).values(),
         "load B A --force: by position, refused by the devices, none runs", r)
    # A stream device that no member fits: nothing is written.
    r = run("--json", "load", "mock:x,size=1M," + MLX5, "mock:z,size=512K," + MLX5, "-i", f)
    t.ok(r.rc == 1 and states(r) == {"mock:x": "RUNNING", "mock:z": "RUNNING"},
         "load into a group without the stream's kinds: refused, nothing written", r)
    r = run("load", "mock:x,size=1M," + MLX5, "mock:z,size=512K," + MLX5, "-i", f)
    t.ok(r.rc == 1 and one_line(r.err) and r.errtext.startswith("vfiomig-ctl: load ") and
         " is in RUNNING" in r.errtext and r.errtext.rstrip().endswith("RUNNING"),
         "load into a group without the stream's kinds: one line with the states", r)
    r = run("--json", "migrate", "mock:a,size=1M," + MLX5, "mock:b,size=512K," + ICE,
            "--to", "mock:y,size=512K," + ICE, "mock:x,size=1M," + MLX5)
    m = members(r)
    t.ok(r.rc == 0 and [(x["source"], x["destination"]) for x in m] ==
         [("mock:a", "mock:x"), ("mock:b", "mock:y")] and
         all(x["destination_state"] == "RUNNING" for x in m),
         "migrate A B --to B' A': each source reaches the destination of its kind", r)
    # B' fits stream device 1; A'' is another model than A and fits nothing:
    # the error is about A'', and names stream device 0.
    r = run("--json", "migrate", "mock:a,size=1M,pci=8086:1889", "mock:b,size=512K,pci=15b3:101e",
            "--to", "mock:b2,size=512K,pci=15b3:101e", "mock:a2,size=1M,pci=8086:1890")
    try:
        msg = r.json()["error"]["message"]
    except (ValueError, KeyError):
        msg = ""
    t.ok(r.rc == 1 and "mock:a2 (member 1, 8086:1890" in msg and
         "the stream's device 0 (8086:1889" in msg and "mock:b2" not in msg,
         "a misfit destination: the error names it and the stream device it fits not", r)


def test_counts(t, tmp, f):
    """A stream of another number of devices than the group: refused."""
    three = os.path.join(tmp, "three.vfm")
    r = run("-q", "save", "mock:a", "mock:b", "mock:c", "-o", three)
    t.ok(r.rc == 0 and len(run("--json", "inspect", three).json()["devices"]) == 3,
         "save A B C: a stream of three devices", r)
    r = run("--json", "load", "mock:d", "mock:e", "-i", three)
    t.ok(r.rc == 1 and states(r) == {"mock:d": "RUNNING", "mock:e": "RUNNING"},
         "load of three stream devices into two: refused before anything is written", r)
    single = os.path.join(tmp, "single.vfm")
    run("-q", "save", "mock:a", "-o", single)
    r = run("--json", "load", "mock:d", "mock:e", "-i", single)
    t.ok(r.rc == 1 and states(r) == {"mock:d": "RUNNING", "mock:e": "RUNNING"},
         "load of a single-device stream into two: refused", r)
    # One device would take one member's state and drop the others'.
    r = run("--json", "load", "mock:d", "-i", three)
    t.ok(r.rc == 1 and states(r) == {"mock:d": "RUNNING"} and "several devices" in r.text,
         "load of a group stream into one device: refused before anything is written", r)
    r = run("load", "mock:d", "mock:e", "-i", three)
    t.ok(r.rc == 1 and one_line(r.err) and "mock:d" in r.errtext and "mock:e" in r.errtext,
         "count mismatch: one error line naming both members", r)


def flipped(tmp, name, data, off):
    bad = bytearray(data)
    bad[off] ^= 0x40
    path = os.path.join(tmp, name)
    open(path, "wb").write(bad)
    return path


def test_corrupt(t, tmp, f):
    data = open(f, "rb").read()
    # Deep in the device data, through a pipe (a regular file is verified
    # whole before loading: test-safety.py): detected after the first
    # writes; every member's partial state is discarded and none runs.
    for off in (len(data) * 3 // 5, len(data) - 40):
        bad = flipped(tmp, "flip-%d.vfm" % off, data, off)
        r = run("--json", "load", "mock:c,size=1M", "mock:d,size=512K", "-i", "-",
                input=open(bad, "rb").read())
        st = states(r)
        t.ok(r.rc == 1 and r.json()["error"]["errno"] == 74 and
             isinstance(r.json()["error"].get("offset"), int) and
             sorted(st) == ["mock:c", "mock:d"] and
             all(s == "STOP" for s in st.values()),
             "a flipped byte at %d of %d: refused, every member in STOP" % (off, len(data)), r)
    cut = os.path.join(tmp, "cut.vfm")
    open(cut, "wb").write(data[:len(data) // 2])
    r = run("--json", "load", "mock:c,size=1M", "mock:d,size=512K", "-i", "-",
            input=data[:len(data) // 2])
    t.ok(r.rc == 1 and r.json()["error"]["errno"] == 74 and
         sorted(states(r)) == ["mock:c", "mock:d"] and
         all(s == "STOP" for s in states(r).values()),
         "a truncated group stream: refused, every member in STOP", r)
    # In the first record: nothing was written, the members are as they were.
    bad = flipped(tmp, "flip-head.vfm", data, 20)
    r = run("--json", "load", "mock:c,size=1M", "mock:d,size=512K", "-i", bad)
    t.ok(r.rc == 1 and states(r) == {"mock:c": "RUNNING", "mock:d": "RUNNING"},
         "a flipped byte in the first record header: refused, nothing written", r)
    bad = flipped(tmp, "flip-mid-stopped.vfm", data, len(data) // 3)
    r = run("--json", "load", "mock:c,size=1M,state=stop", "mock:d,size=512K,state=stop",
            "-i", bad)
    t.ok(r.rc == 1 and sorted(states(r)) == ["mock:c", "mock:d"] and
         "RUNNING" not in states(r).values(),
         "a corrupted stream into stopped members: refused, none runs", r)
    r = run("load", "mock:c,size=1M", "mock:d,size=512K", "-i", "-", input=open(bad, "rb").read())
    t.ok(r.rc == 1 and one_line(r.err) and r.out == b"" and
         "load 2 devices: the group's stream: " in r.errtext and
         "mock:c STOP" in r.errtext and "mock:d STOP" in r.errtext,
         "a corrupted stream: one error line, the group's, with every member's state", r)


def test_failure(t, tmp):
    """One member fails: every member goes back to where it started."""
    out = os.path.join(tmp, "fail.vfm")
    for opts in ([], ["--precopy"]):
        label = " ".join(opts) or "plain"
        r = run("--json", "save", "mock:a,size=1M,dirty=64K", "mock:b,size=1M,fail=read:2:EIO",
                "-o", out, *opts)
        m = members(r)
        t.ok(r.rc == 1 and r.json()["error"]["errno"] == 5 and
             states(r) == {"mock:a": "RUNNING", "mock:b": "RUNNING"},
             "save A B, B fails (%s): exit 1, every member RUNNING" % label, r)
        t.ok([x.get("device") for x in m] == ["mock:a", "mock:b"] and
             m[0]["error"] is None and m[1]["error"] == {"errno": 5,
                                                         "message": "Input/output error"} and
             [x["state"] for x in m] == ["RUNNING", "RUNNING"],
             "save A B, B fails (%s): error.devices[] gives each member's own error" % label, m)
        t.ok(not os.path.exists(out), "save A B, B fails (%s): no file left" % label)
    r = run("save", "mock:a,size=1M", "mock:b,size=1M,fail=read:2:EIO", "-o", out)
    t.ok(r.rc == 1 and one_line(r.err) and "mock:b" in r.errtext and
         r.errtext.rstrip().endswith("RUNNING") and
         ("mock:a is in RUNNING" in r.errtext or "mock:a RUNNING" in r.errtext) and
         r.errtext.count("mock:a is in") + r.errtext.count("mock:a RUNNING") == 1,
         "save A B, B fails: one line, naming once where the other member is", r)
    r = run("-v", "save", "mock:a,size=1M", "mock:b,size=1M,fail=read:2:EIO", "-o", out)
    t.ok(r.rc == 1 and "vfiomig-ctl: mock:a: no failure of its own; now in RUNNING\n" in r.errtext
         and "vfiomig-ctl: mock:b: Input/output error; now in RUNNING\n" in r.errtext,
         "save -v A B, B fails: a line per member with its own error and state", r)
    r = run("--json", "save", "mock:a,size=1M", "mock:b,size=1M,fail=set:2:EIO:error", "-o", out)
    t.ok(r.rc == 1 and states(r) == {"mock:a": "RUNNING", "mock:b": "RUNNING"},
         "save A B, B's state change fails into ERROR: both end RUNNING (B reset)", r)
    r = run("--json", "save", "mock:a,flags=stop_copy", "mock:b,flags=stop_copy", "-o", out)
    t.ok(r.rc == 1 and r.json()["error"]["errno"] == 95 and
         states(r) == {"mock:a": "RUNNING", "mock:b": "RUNNING"} and not os.path.exists(out),
         "save of members without P2P: refused before anything moves", r)
    r = run("--json", "save", "mock:a,flags=stop_copy", "mock:b,flags=stop_copy", "-o", out,
            "--allow-no-p2p")
    t.ok(r.rc == 0 and r.json()["state"] == "STOP", "save --allow-no-p2p of members without P2P", r)
    r = run("--json", "load", "mock:c,flags=stop_copy", "mock:d,flags=stop_copy", "-i", out,
            "--allow-no-p2p")
    t.ok(r.rc == 0 and r.json()["state"] == "RUNNING", "load --allow-no-p2p of members without P2P", r)

    # Never destroy an existing file: not for a bad device list, and not
    # for a save that fails half-way (the stream goes to a file beside it).
    keep = os.path.join(tmp, "precious.vfm")
    open(keep, "wb").write(b"precious")
    for args in (["mock:a", "mock:a"], ["mock:a", "mock:a,size=1M"], ["mock:a", "mock:b,bogus=1"],
                 ["mock:a,size=1M", "mock:b,size=1M,fail=read:3:EIO"]):
        before = sorted(os.listdir(tmp))
        r = run("save", *args, "-o", keep)
        t.ok(r.rc in (1, 2) and one_line(r.err) and open(keep, "rb").read() == b"precious" and
             sorted(os.listdir(tmp)) == before,
             "save %s: refused, the existing file untouched, nothing left" % " ".join(args), r)
    link = os.path.join(tmp, "link.vfm")
    os.symlink("precious.vfm", link)
    r = run("--json", "save", "mock:a", "mock:b", "-o", link)
    t.ok(r.rc == 0 and os.path.islink(link) and
         os.path.getsize(keep) == r.json()["stream_bytes"] and
         os.stat(keep).st_mode & 0o777 == 0o600,
         "save A B over a symlink: its target replaced (0600), the link kept", r)
    os.unlink(link)
    r = run("-q", "save", "mock:a", "mock:b", "-o", "/dev/null")
    t.ok(r.rc == 0, "save A B -o /dev/null: written in place", r)


def test_migrate(t):
    for opts in ([], ["--precopy"], ["--precopy=2"]):
        label = " ".join(opts) or "plain"
        r = run("--json", "migrate", "mock:a,size=1M,dirty=64K", "mock:b,size=512K,dirty=64K",
                "--to", "mock:c,size=1M", "mock:d,size=512K", *opts)
        ok = t.ok(r.rc == 0, "migrate A B --to C D %s" % label, r)
        if not ok:
            continue
        d = r.json()
        m = d["devices"]
        t.ok(d["source"] is None and d["destination"] is None and
             d["source_state"] == "STOP" and d["destination_state"] == "RUNNING" and
             [(x["source"], x["destination"]) for x in m] == [("mock:a", "mock:c"),
                                                              ("mock:b", "mock:d")] and
             all(x["source_state"] == "STOP" and x["destination_state"] == "RUNNING" and
                 x["source_error"] is None and x["destination_error"] is None for x in m),
             "migrate %s --json: devices[] pairs each source with its destination" % label, d)
        rounds = [x["precopy_rounds"] for x in m]
        want = (rounds == [0, 0] if not opts else
                rounds == [2, 2] if opts == ["--precopy=2"] else all(n >= 1 for n in rounds))
        t.ok(want and d["device_bytes"] == sum(x["device_bytes"] for x in m) and
             (d["precopy_bytes"] > 0) == bool(opts) and
             0 < d["downtime_ns"] <= d["elapsed_ns"],
             "migrate %s --json: figures of each member and the group" % label, d)
    r = run("migrate", "mock:a,size=1M", "mock:b,size=1M", "--to", "mock:c,size=1M",
            "mock:d,size=1M", "--precopy")
    t.ok(r.rc == 0 and "group:        2 devices\n" in r.text and
         "state:        sources STOP, destinations RUNNING\n" in r.text and
         "device 0:     mock:a -> mock:c: pre-copy " in r.text and
         "device 1:     mock:b -> mock:d: " in r.text and
         r.text.count("source STOP, destination RUNNING\n") == 2,
         "migrate A B --to C D: text", r)
    r = run("--json", "migrate", "mock:a", "--to", "mock:b")
    t.ok(r.rc == 0 and r.json()["source"] == "mock:a" and "devices" not in r.json(),
         "migrate A --to B: the single-device form and output", r)


def test_migrate_failure(t):
    # A destination fails: its group is left stopped, and the sources run
    # again (rolled back by the save, or moved back after it completed).
    r = run("--json", "migrate", "mock:a,size=1M", "mock:b,size=1M", "--to", "mock:c,size=1M",
            "mock:d,size=1M,fail=write:2:EIO")
    st = states(r)
    m = members(r)
    t.ok(r.rc == 1 and st.get("mock:a") == "RUNNING" and st.get("mock:b") == "RUNNING" and
         st.get("mock:c") not in (None, "RUNNING") and st.get("mock:d") not in (None, "RUNNING"),
         "migrate, a destination fails: sources RUNNING, no destination runs", r)
    t.ok(len(m) == 2 and m[1]["destination"] == "mock:d" and
         m[1]["destination_error"] is not None and m[1]["destination_error"]["errno"] == 5 and
         m[0]["destination_error"] is None and
         [x["source_state"] for x in m] == ["RUNNING", "RUNNING"],
         "migrate, a destination fails: error.devices[] names its own error", m)
    r = run("migrate", "mock:a,size=1M", "mock:b,size=1M", "--to", "mock:c,size=1M",
            "mock:d,size=1M,fail=write:2:EIO")
    # Each device by its role: the sources had stopped, and run again.
    t.ok(r.rc == 1 and one_line(r.err) and "; source mock:a is RUNNING again; source mock:b "
         "is RUNNING again; destination mock:c is in STOP; destination mock:d is in STOP\n"
         == r.errtext[r.errtext.index("; source "):] and
         all(r.errtext.count(d) == 1 for d in ("mock:a", "mock:b")),
         "migrate, a destination fails: one line with every device's state", r)
    # A source fails: the save rolls every source back itself.
    r = run("--json", "migrate", "mock:a,size=1M,fail=read:2:EIO", "mock:b,size=1M",
            "--to", "mock:c,size=1M", "mock:d,size=1M")
    st = states(r)
    m = members(r)
    t.ok(r.rc == 1 and r.json()["error"]["errno"] == 5 and "mock:a" in
         r.json()["error"]["message"] and st.get("mock:a") == "RUNNING" and
         st.get("mock:b") == "RUNNING" and "RUNNING" not in (st.get("mock:c"), st.get("mock:d")),
         "migrate, a source fails: its error is the one reported, sources RUNNING", r)
    t.ok(len(m) == 2 and m[0]["source_error"] == {"errno": 5, "message": "Input/output error"}
         and m[1]["source_error"] is None,
         "migrate, a source fails: error.devices[] names its own error", m)
    # A destination whose start fails (its third SET, RESUMING ->
    # RUNNING_P2P, comes after the trailer): the save has completed, so
    # migrate itself moves the sources back, in two phases.
    r = run("-v", "--json", "migrate", "mock:a,size=1M", "mock:b,size=1M", "--to",
            "mock:c,size=1M", "mock:d,size=1M,fail=set:3:EIO")
    st = states(r)
    t.ok(r.rc == 1 and "the sources are back where they started" in r.errtext and
         st == {"mock:a": "RUNNING", "mock:b": "RUNNING", "mock:c": "STOP", "mock:d": "STOP"},
         "migrate, the destinations fail to start: sources moved back to RUNNING", r)
    # Sources that started in different states go back to their own.
    r = run("-v", "--json", "migrate", "mock:a,size=1M", "mock:b,size=1M,state=stop",
            "mock:e,size=1M,state=running_p2p", "--to", "mock:c,size=1M", "mock:d,size=1M",
            "mock:f,size=1M,fail=set:3:EIO")
    t.ok(r.rc == 1 and "the sources are back where they started" in r.errtext and
         {k: v for k, v in states(r).items() if k in ("mock:a", "mock:b", "mock:e")}
         == {"mock:a": "RUNNING", "mock:b": "STOP", "mock:e": "RUNNING_P2P"},
         "migrate, the destinations fail to start: each source back where it started", r)
    r = run("--json", "migrate", "mock:a,size=1M", "mock:b,size=1M,state=stop",
            "mock:e,size=1M,state=running_p2p", "--to", "mock:c,size=1M", "mock:d,size=1M",
            "mock:f,size=1M,fail=write:2:EIO")
    t.ok(r.rc == 1 and {k: v for k, v in states(r).items() if k in ("mock:a", "mock:b", "mock:e")}
         == {"mock:a": "RUNNING", "mock:b": "STOP", "mock:e": "RUNNING_P2P"},
         "migrate, a destination fails mid-stream: each source back where it started", r)


def test_inspect(t, tmp):
    f = os.path.join(tmp, "inspect.vfm")
    r = run("-q", "save", "mock:a,size=256K," + MLX5, "mock:b,size=128K," + ICE,
            "mock:c,size=64K", "-o", f, "--precopy=1")
    t.ok(r.rc == 0, "save of three kinds of device", r)
    r = run("--json", "inspect", f)
    d = r.json()
    devs = d.get("devices", [])
    t.ok(r.rc == 0 and d["valid"] is True and d["bytes"] == os.path.getsize(f) and
         [x["index"] for x in devs] == [0, 1, 2] and
         [x["name"] for x in devs] == ["mock:a", "mock:b", "mock:c"] and
         [x["driver"] for x in devs] == ["mlx5_vfio_pci", "ice-vfio-pci", "mock"] and
         devs[0]["pci"]["device"] == "0x101e" and devs[2]["pci"] is None and
         d["record_types"]["IDENTITY"]["count"] == 3 and
         d["record_types"]["DEVICE_END"]["count"] == 3,
         "inspect --json of a group stream: .devices[] lists every device", d)
    sc = sum(stream_size(n) for n in (256 << 10, 128 << 10, 64 << 10))
    t.ok(d["phases"]["precopy_bytes"] + d["phases"]["stop_copy_bytes"] >= sc,
         "inspect --json of a group stream: the phases add up every device's bytes", d)
    r = run("inspect", f)
    t.ok(r.rc == 0 and "3 devices\n" in r.text and "device 0:      mock:a\n" in r.text and
         "device 2:      mock:c\n" in r.text and "valid:         yes\n" in r.text,
         "inspect of a group stream: text", r)
    data = open(f, "rb").read()
    bad = flipped(tmp, "inspect-bad.vfm", data, len(data) // 2)
    r = run("--json", "inspect", bad)
    t.ok(r.rc == 1 and r.json()["valid"] is False and isinstance(r.json()["offset"], int),
         "inspect of a damaged group stream: invalid, with an offset", r)


def test_progress(t, tmp):
    """On a terminal the line shows the group's totals, not one member's."""
    f = os.path.join(tmp, "progress.vfm")
    master, slave = pty.openpty()
    p = subprocess.Popen([CTL, "save", "mock:a,size=2M,rate=8M", "mock:b,size=2M,rate=8M",
                          "-o", f], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=slave, env=base_env(TERM="xterm"))
    os.close(slave)
    data = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    os.close(master)
    rc = p.wait(timeout=TIMEOUT)
    t.ok(rc == 0 and b"save 2 devices: stop-copy" in data, "progress: the group's label", data[-400:])
    t.ok(b" of 4.0 MiB" in data, "progress: the group's expected total", data[-400:])


def test_interrupt(t, tmp):
    out = os.path.join(tmp, "interrupted.vfm")
    proc = subprocess.Popen([CTL, "--json", "save", "mock:a,size=32M,rate=8M",
                             "mock:b,size=32M,rate=8M", "--precopy", "-o", out],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=base_env())
    time.sleep(0.7)
    proc.send_signal(signal.SIGINT)
    so, se = proc.communicate(timeout=TIMEOUT)
    try:
        d = json.loads(so)
    except ValueError:
        d = {}
    err = d.get("error", {})
    t.ok(proc.returncode == 130 and err.get("errno") == 125 and
         err.get("states") == {"mock:a": "RUNNING", "mock:b": "RUNNING"},
         "SIGINT during a group save: cancelled, every member RUNNING", (proc.returncode, so, se))
    t.ok(not os.path.exists(out), "SIGINT during a group save: the partial file is removed")


def main():
    t = Tap()
    tmp = tmpdir()
    f = test_save_load(t, tmp)
    if f:
        test_text(t, tmp, f)
        test_counts(t, tmp, f)
        test_corrupt(t, tmp, f)
    test_leave(t, tmp)
    test_identity(t, tmp)
    test_failure(t, tmp)
    test_migrate(t)
    test_migrate_failure(t)
    test_inspect(t, tmp)
    test_progress(t, tmp)
    test_interrupt(t, tmp)
    for name in os.listdir(tmp):
        os.unlink(os.path.join(tmp, name))
    os.rmdir(tmp)
    t.done()


main()
