#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""No side effects from a refused command (issue #23, items 1, 3 and 7).

- An output the save cannot use (-o "", a directory, a file in a missing
  or unwritable directory, a closed stdout) is refused before any device
  moves; a complete stream that cannot take its name (the rename fails) is
  removed, and the devices go back where they started, as the man page
  promises of any failed save.
- A device no save or load may start on (ERROR, a newer kernel's state 9)
  is refused by every command the same way, and nothing moves: not the
  device, not the other devices of the command (migrate's source while a
  destination refuses).
- A failed migrate says how much device state had crossed.

Whether a device moved is read from the mock's own debug lines (-vv): it
logs each arc it makes and each reset, as a driver would."""

import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli import Tap, CTL, run, base_env, one_line, tmpdir, TIMEOUT  # noqa: E402

# The mock's debug line for an arc it made or a reset ("mock a: STOP -> RUNNING_P2P").
MOVED = re.compile(r"debug: mock [^:\s]+: (\w+ -> \w+|reset, now RUNNING)")


def moves(err):
    """The arcs and resets the mocks made, from stderr (a str)."""
    return MOVED.findall(err)


def listing(d):
    return sorted(os.listdir(d))


def test_unusable_output(t, tmp):
    """Item 1: refused before any device opens, exit 2, nothing left behind."""
    work = os.path.join(tmp, "work")
    os.mkdir(work)
    open(os.path.join(work, "a-file"), "w").close()
    cases = [
        ("", "the output file name is empty"),
        (work, "is a directory"),
        (os.path.join(work, "new-dir") + "/", "is a directory"),
        (os.path.join(work, "missing", "x.bin"), "its directory '%s' does not exist" %
         os.path.join(work, "missing")),
        (os.path.join(work, "a-file", "x.bin"), "cannot be written: Not a directory"),
    ]
    for devices in (["mock:a"], ["mock:a", "mock:b"]):
        for path, words in cases:
            before = listing(work)
            p = subprocess.run([CTL, "-vv", "save"] + devices + ["-o", path], cwd=work,
                               stdin=subprocess.DEVNULL, capture_output=True, env=base_env(),
                               timeout=TIMEOUT)
            err = p.stderr.decode()
            t.ok(p.returncode == 2 and words in err and "see vfiomig-ctl --help" in err and
                 "debug: mock" not in err and listing(work) == before,
                 "save of %d -o %r: exit 2 before any device opens, no file" %
                 (len(devices), path), (p.returncode, err, listing(work)))
    # in a scratch directory: the code before this left a hidden file where it ran
    p = subprocess.run([CTL, "--json", "save", "mock:a", "-o", ""], cwd=work,
                       stdin=subprocess.DEVNULL, capture_output=True, env=base_env(),
                       timeout=TIMEOUT)
    try:
        doc = json.loads(p.stderr.decode())
    except ValueError:
        doc = {}
    t.ok(p.returncode == 2 and p.stdout == b"" and doc.get("error", {}).get("errno") == 22 and
         listing(work) == ["a-file"],
         "save --json -o '': the usage error's document on stderr", (p.returncode, p.stderr))


def test_unwritable_directory(t, tmp):
    """Item 1: a directory this user cannot write in: exit 2, nothing moved."""
    locked = os.path.join(tmp, "locked")
    os.mkdir(locked, 0o555)
    user = None
    if os.geteuid() == 0:	# root writes anywhere: ask as nobody
        user = 65534
        os.chmod(tmp, 0o755)
    path = os.path.join(locked, "x.bin")
    try:
        p = subprocess.run([CTL, "-vv", "save", "mock:a", "-o", path], user=user,
                           stdin=subprocess.DEVNULL, capture_output=True, env=base_env(),
                           timeout=TIMEOUT)
    except (OSError, subprocess.SubprocessError) as e:
        t.skip("save into an unwritable directory", "cannot run as nobody: %s" % e)
        return
    err = p.stderr.decode()
    t.ok(p.returncode == 2 and "cannot be created in '%s': Permission denied" % locked in err and
         "debug: mock" not in err and listing(locked) == [],
         "save into an unwritable directory: exit 2 before any device opens",
         (p.returncode, err))


def race_rename(t, tmp, devices, extra, want, name):
    """Item 1: the target becomes a directory while the save runs: its final
    rename fails.  The stream goes, the devices come back where they were."""
    d = os.path.join(tmp, "race-" + name)
    os.mkdir(d)
    target = os.path.join(d, "vm.bin")
    argv = [CTL, "--json", "-vv", "save"] + devices + extra + ["-o", target]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=base_env())
    deadline = time.monotonic() + 30
    while not any(n.startswith(".vm.bin.") for n in os.listdir(d)) and \
            time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.mkdir(target)
    open(os.path.join(target, "keep"), "w").close()
    out, err = proc.communicate(timeout=TIMEOUT)
    err = err.decode()
    try:
        e = json.loads(out)["error"]
    except (ValueError, KeyError):
        e = {}
    t.ok(proc.returncode == 1 and "the stream was complete, but it cannot take this name: "
         "Is a directory; it was removed" in e.get("message", "") and
         e.get("states") == want and listing(d) == ["vm.bin"] and
         listing(target) == ["keep"],
         "%s: a rename that fails removes the stream; the devices end in %s" % (name, want),
         (proc.returncode, out, err[-1500:], listing(d)))
    return err


def test_rename_fails(t, tmp):
    slow = ",size=8M,rate=16M"
    err = race_rename(t, tmp, ["mock:a" + slow], [], {"mock:a": "RUNNING"}, "save")
    t.ok(moves(err)[-2:] == ["STOP -> RUNNING_P2P", "RUNNING_P2P -> RUNNING"],
         "save: the source was put back by the command, after the stream was complete",
         err[-1500:])
    race_rename(t, tmp, ["mock:a" + slow + ",state=stop"], [], {"mock:a": "STOP"},
                "save from STOP")
    err = race_rename(t, tmp, ["mock:a" + slow], ["--leave", "running"],
                      {"mock:a": "RUNNING"}, "save --leave running")
    t.ok(moves(err)[-1:] == ["STOP -> RUNNING"] or moves(err)[-1:] == ["RUNNING_P2P -> RUNNING"],
         "save --leave running: no move after the save's own", err[-1500:])
    race_rename(t, tmp, ["mock:a" + slow, "mock:b" + slow + ",state=stop"], [],
                {"mock:a": "RUNNING", "mock:b": "STOP"}, "group save")
    # The text line says where the device is.
    d = os.path.join(tmp, "race-text")
    os.mkdir(d)
    target = os.path.join(d, "x.bin")
    proc = subprocess.Popen([CTL, "save", "mock:a" + slow, "-o", target],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=base_env())
    while not os.listdir(d) and proc.poll() is None:
        time.sleep(0.01)
    os.mkdir(target)
    os.mkdir(os.path.join(target, "keep"))
    out, err = proc.communicate(timeout=TIMEOUT)
    t.ok(proc.returncode == 1 and one_line(err) and err.decode().endswith(
        "it was removed; mock:a is RUNNING again\n"),
        "save: the text error says the device is RUNNING again", err)


def test_closed_stdout(t):
    """Item 1: with stdout closed nothing could be reported: nothing is done."""
    def closer():
        os.close(1)
    for args in (["migrate", "mock:a", "mock:b"], ["dirty", "mock:a,dirtylog=1", "start",
                                                    "0:1M", "--count", "1"],
                 ["state", "mock:a", "stop"]):
        p = subprocess.run([CTL, "-vv"] + args, stdin=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, env=base_env(), timeout=TIMEOUT,
                           preexec_fn=closer)
        err = p.stderr.decode()
        t.ok(p.returncode == 1 and "stdout is closed" in err and "debug: mock" not in err,
             "%s with stdout closed: refused before any device opens" % args[0],
             (p.returncode, err))


def test_refused_states(t, tmp):
    """Item 3: every command refuses ERROR and state 9 the same way; nothing moves."""
    good = os.path.join(tmp, "v.bin")
    pair = os.path.join(tmp, "vw.bin")
    out = os.path.join(tmp, "never.bin")
    run("save", "mock:v", "-o", good)
    run("save", "mock:v", "mock:w", "-o", pair)
    for state, says in (("error", "the device is in ERROR, which only a reset leaves: "
                         "reset the device"),
                        ("9", "the device is in state 9 (unknown to this library: a newer "
                         "kernel's?), which only a reset leaves: reset the device")):
        v = "mock:v,state=" + state
        commands = [
            ["save", v, "-o", out], ["load", v, "-i", good], ["state", v, "stop"],
            ["migrate", v, "mock:w"], ["migrate", "mock:w", v],
            ["save", v, "mock:w", "-o", out], ["load", v, "mock:w", "-i", pair],
            ["state", v, "mock:w", "stop"],
            ["migrate", v, "mock:w", "--to", "mock:x", "mock:y"],
            ["migrate", "mock:x", "mock:y", "--to", v, "mock:w"],
        ]
        for args in commands:
            r = run("-vv", *args)
            line = r.errtext.splitlines()[-1] if r.errtext else ""
            t.ok(r.rc == 1 and "mock:v: " in line and says in line and not moves(r.errtext) and
                 "again" not in line and not os.path.exists(out),
                 "%s with mock:v in %s: refused, nothing moved" % (" ".join(args[:1] + [
                     "(%d devices)" % sum(a.startswith("mock:") for a in args)]), state),
                 r)
            if state != "error":
                continue
            r = run("--json", *args)
            try:
                got = r.json()["error"].get("states", {})
            except (ValueError, KeyError):
                got = None
            t.ok(r.rc == 1 and got is not None and got.get("mock:v") == "ERROR" and
                 all(s == "RUNNING" for d, s in got.items() if d != "mock:v"),
                 "--json %s with mock:v in ERROR: error.states, ERROR and RUNNING" % args[0],
                 r)


def test_crossed(t):
    """Item 7: a migrate that fails halfway says what had crossed."""
    src, dst = "mock:a,size=4M", "mock:b,size=4M,fail=write:5:EIO"
    r = run("--json", "migrate", src, dst)
    try:
        pair = r.json()["error"]["devices"][0]
    except (ValueError, KeyError, IndexError):
        pair = {}
    t.ok(r.rc == 1 and pair.get("destination_bytes") == 1 << 20 and
         pair.get("device_bytes", 0) >= 1 << 20 and
         pair.get("device_bytes") == pair.get("stop_copy_bytes"),
         "migrate --json: the source's bytes sent and the destination's taken", r)
    r = run("migrate", src, dst)
    t.ok(r.rc == 1 and one_line(r.err) and re.search(
        r"; \d+\.\d MiB of device state had left the source, and the destination had taken "
        r"1\.0 MiB; source mock:a is RUNNING again; destination mock:b is in STOP\n$",
        r.errtext) is not None, "migrate: the text says what had crossed", r)
    r = run("--json", "migrate", src, "mock:c,size=4M", "--to", "mock:b,size=4M", dst.replace(
        "mock:b", "mock:d"))
    try:
        devices = r.json()["error"]["devices"]
    except (ValueError, KeyError):
        devices = []
    # the members' stop-copies overlap: which had sent what varies, not the sum
    t.ok(r.rc == 1 and len(devices) == 2 and sum(d["device_bytes"] for d in devices) > 0 and
         sum(d["destination_bytes"] for d in devices) > 0 and
         re.search(r"of device state had left the sources, and the destinations had taken",
                   r.json()["error"]["message"]) is not None,
         "migrate of a group --json: each member's bytes, the total in the message", r)
    # Nothing had crossed: nothing is said of it.
    r = run("migrate", "mock:a,fail=set:1:EIO", "mock:b")
    t.ok(r.rc == 1 and "had left" not in r.errtext, "migrate, the source's arc failed: no "
         "bytes to speak of", r)


def main():
    t = Tap()
    tmp = tmpdir()
    test_unusable_output(t, tmp)
    test_unwritable_directory(t, tmp)
    test_rename_fails(t, tmp)
    test_closed_stdout(t)
    test_refused_states(t, tmp)
    test_crossed(t)
    subprocess.run(["rm", "-rf", tmp])
    t.done()


main()
