#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vfiomig-ctl and the operator's data: a save that fails, is interrupted
or is killed by a second interrupt never costs the file it was replacing,
and leaves no temporary file; a replaced file is 0600 like a new one; a
symlink is written through to its file; and a damaged stream file is
refused before anything reaches a device, while a pipe is still checked
record by record as it loads."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli import Tap, CTL, TIMEOUT, base_env, run, shell, tmpdir  # noqa: E402

# A save that takes about 2 s (rate=), for signals sent half-way.
SLOW = "mock:a,size=64M,rate=32M"
# Every state arc takes 0.5 s (arc=): a cancelled save needs about 3 s to
# walk the device to STOP_COPY and back, wide enough for a second signal.
SLOW_ARCS = "mock:a,size=1M,arc=500ms"
OLD = b"an older stream, to keep"


def temporaries(d, name):
    return sorted(n for n in os.listdir(d) if n.startswith("." + name + "."))


def content(path):
    try:
        with open(path, "rb") as fp:
            return fp.read()
    except FileNotFoundError:
        return None


def remove(*paths):
    for p in paths:
        if os.path.lexists(p):
            os.unlink(p)


def wait_for_save(d, name, proc):
    """Until the save has begun writing: its temporary file exists (or, as
    before, the file itself was cut).  A bound, not a timing assertion."""
    end = time.monotonic() + 30
    while time.monotonic() < end and proc.poll() is None:
        if temporaries(d, name) or content(os.path.join(d, name)) != OLD:
            return True
        time.sleep(0.01)
    return False


def interrupted_save(t, d, args, sigs, label):
    """Starts a save over an existing file, sends @sigs (0.1 s apart) once
    its temporary file exists, and checks that the old file and no
    temporary file are left."""
    f = os.path.join(d, "keep.vfm")
    with open(f, "wb") as fp:
        fp.write(OLD)
    os.chmod(f, 0o644)
    proc = subprocess.Popen([CTL, "-q", "save", *args, "-o", f], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=base_env())
    started = wait_for_save(d, "keep.vfm", proc)
    time.sleep(0.1)	# the stream is flowing
    for i, s in enumerate(sigs):
        if i:
            time.sleep(0.1)
        proc.send_signal(s)
    out, err = proc.communicate(timeout=TIMEOUT)
    diag = "rc %s, stderr %r, dir %s" % (proc.returncode, err, sorted(os.listdir(d)))
    t.ok(started and proc.returncode != 0, "%s: the save fails" % label, diag)
    t.ok(content(f) == OLD and os.stat(f).st_mode & 0o777 == 0o644,
         "%s: the file it was replacing is as it was" % label, diag)
    t.ok(temporaries(d, "keep.vfm") == [], "%s: no temporary file left" % label, diag)
    return proc.returncode, err


def test_failed_save(t, d):
    """Item 1: before, a failed save deleted the file it was replacing."""
    f = os.path.join(d, "good.vfm")
    r = run("-q", "save", "mock:a,size=16M", "-o", f)
    good = open(f, "rb").read() if r.rc == 0 else None
    t.ok(r.rc == 0 and good[:8] == b"VFIOMIG\n", "save a good snapshot", r)
    r = run("save", "mock:a,size=16M,fail=read:10:EIO", "-o", f)
    t.ok(r.rc == 1 and content(f) == good,
         "a failed save keeps the snapshot it was replacing, byte for byte", r)
    t.ok(temporaries(d, "good.vfm") == [], "a failed save leaves no temporary file",
         os.listdir(d))
    g = os.path.join(d, "group.vfm")
    with open(g, "wb") as fp:
        fp.write(OLD)
    r = run("save", "mock:a,size=1M", "mock:b,size=1M,fail=read:3:EIO", "-o", g)
    t.ok(r.rc == 1 and content(g) == OLD and temporaries(d, "group.vfm") == [],
         "a failed group save keeps the file, and no temporary file", r)
    remove(f, g)


def test_signals(t, d):
    """Item 1: SIGINT and SIGTERM mid-save cancel it; the file stays."""
    rc, err = interrupted_save(t, d, [SLOW], [signal.SIGINT], "SIGINT mid-save")
    t.ok(b"cancelled" in err, "SIGINT mid-save: says it was cancelled", err)
    rc, err = interrupted_save(t, d, [SLOW], [signal.SIGTERM], "SIGTERM mid-save")
    t.ok(b"cancelled" in err, "SIGTERM mid-save: handled as SIGINT, cancelled", err)
    interrupted_save(t, d, ["mock:a,size=32M,rate=32M", "mock:b,size=32M,rate=32M"],
                     [signal.SIGTERM], "SIGTERM mid-way through a group save")
    # The second interrupt kills at once, as it always did; it removes the
    # temporary file first.  Before, it killed with the file left behind.
    rc, err = interrupted_save(t, d, [SLOW_ARCS], [signal.SIGINT, signal.SIGINT],
                               "a second SIGINT during the rollback")
    t.ok(rc == -signal.SIGINT, "a second SIGINT kills by SIGINT", (rc, err))
    interrupted_save(t, d, [SLOW_ARCS], [signal.SIGINT, signal.SIGTERM],
                     "SIGINT, then SIGTERM during the rollback")
    remove(os.path.join(d, "keep.vfm"))


def test_sync(t, d):
    """Item 1: the stream is synced before the rename, the directory after."""
    if not shutil.which("strace"):
        t.skip("save: fsync, rename, fsync of the directory", "no strace")
        return
    f = os.path.join(d, "synced.vfm")
    log = os.path.join(d, "strace.log")
    # LeakSanitizer cannot run under ptrace.
    env = base_env(ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
    p = subprocess.run(["strace", "-f", "-qq", "-o", log, "-e",
                        "trace=fsync,fdatasync,rename,renameat,renameat2,openat",
                        CTL, "-q", "save", "mock:a,size=1M", "-o", f],
                       stdin=subprocess.DEVNULL, capture_output=True, env=env,
                       timeout=TIMEOUT)
    if p.returncode != 0 or not os.path.exists(log):
        t.skip("save: fsync, rename, fsync of the directory",
               "strace cannot trace here: %r" % p.stderr[-200:])
        remove(f, log)
        return
    calls = [line.split(None, 1)[1] if line[:1].isdigit() else line
             for line in open(log).read().splitlines()]
    os.unlink(log)
    fds = {}
    order = []
    for c in calls:
        if c.startswith("openat(") and "= " in c:
            fd = c.rsplit("= ", 1)[1].split()[0]
            if fd.isdigit():
                fds[fd] = c.split('"')[1]
        elif c.startswith(("fsync(", "fdatasync(")):
            fd = c.split("(")[1].split(")")[0]
            order.append(("fsync", fds.get(fd, "?")))
        elif c.startswith("rename"):
            order.append(("rename", c.split('"')[-2]))
    tmp = [p for what, p in order if what == "fsync" and os.path.basename(p).startswith(".synced")]
    want = [("fsync", tmp[0] if tmp else "the temporary file"), ("rename", f), ("fsync", d)]
    t.ok(order == want, "save: the stream is synced, renamed, then its directory synced",
         "\n".join(map(str, order)) or "\n".join(calls))
    os.unlink(f)


def test_modes(t, d):
    """Item 2: a replaced file is 0600 too; a symlink is written through."""
    f = os.path.join(d, "shared.vfm")
    with open(f, "wb") as fp:
        fp.write(OLD)
    os.chmod(f, 0o644)
    r = run("-q", "save", "mock:a,size=1M", "-o", f)
    t.ok(r.rc == 0 and os.stat(f).st_mode & 0o777 == 0o600 and open(f, "rb").read(8) ==
         b"VFIOMIG\n", "save over a 0644 file: replaced, and 0600", (r, oct(os.stat(f).st_mode)))
    os.chmod(f, 0o644)
    r = run("-q", "save", "mock:a,size=1M", "mock:b,size=1M", "-o", f)
    t.ok(r.rc == 0 and os.stat(f).st_mode & 0o777 == 0o600,
         "group save over a 0644 file: 0600", (r, oct(os.stat(f).st_mode)))
    remove(f)

    sub = os.path.join(d, "snapshots")
    os.mkdir(sub)
    target = os.path.join(sub, "nic.vfm")
    link = os.path.join(d, "latest.vfm")
    with open(target, "wb") as fp:
        fp.write(OLD)
    os.chmod(target, 0o644)
    os.symlink("snapshots/nic.vfm", link)
    r = run("save", "mock:a,size=1M,fail=read:3:EIO", "-o", link)
    t.ok(r.rc == 1 and os.path.islink(link) and content(target) == OLD and
         temporaries(sub, "nic.vfm") == [] and temporaries(d, "latest.vfm") == [],
         "a failed save through a symlink: link and file as they were, nothing left", r)
    r = run("--json", "save", "mock:a,size=1M", "-o", link)
    t.ok(r.rc == 0 and os.path.islink(link) and os.readlink(link) == "snapshots/nic.vfm" and
         os.path.getsize(target) == r.json()["stream_bytes"] and
         os.stat(target).st_mode & 0o777 == 0o600 and sorted(os.listdir(sub)) == ["nic.vfm"],
         "save through a symlink: its file replaced (0600, beside it), the link kept", r)
    remove(link, target)

    # A link to a file that does not exist yet: created through the link,
    # and a failed save removes what it wrote, not the link.
    os.symlink("snapshots/new.vfm", link)
    new = os.path.join(sub, "new.vfm")
    r = run("save", "mock:a,size=1M,fail=read:3:EIO", "-o", link)
    t.ok(r.rc == 1 and os.path.islink(link) and not os.path.exists(new) and
         os.listdir(sub) == [],
         "a failed save through a dangling symlink: the link kept, no partial file", r)
    r = run("-q", "save", "mock:a,size=1M", "-o", link)
    t.ok(r.rc == 0 and os.path.islink(link) and os.path.isfile(new) and
         os.stat(new).st_mode & 0o777 == 0o600,
         "save through a dangling symlink: its file created (0600), the link kept", r)
    remove(link, new)
    os.rmdir(sub)


def arcs(err):
    """The state arcs and resets -vv shows on the mock destination."""
    return [line for line in err.splitlines() if " -> " in line or "reset" in line]


def test_verify_first(t, d):
    """Item 3: a damaged regular file is refused before the device is
    touched; through a pipe, the same bytes reach the device first."""
    f = os.path.join(d, "whole.vfm")
    r = run("-q", "save", "mock:a,size=16M", "-o", f)
    data = open(f, "rb").read()
    cut = os.path.join(d, "cut.vfm")
    with open(cut, "wb") as fp:
        fp.write(data[:8000000])
    bad = bytearray(data)
    bad[len(data) * 3 // 5] ^= 0x40
    corrupt = os.path.join(d, "corrupt.vfm")
    with open(corrupt, "wb") as fp:
        fp.write(bad)

    for path, what in ((cut, "truncated"), (corrupt, "corrupt")):
        r = run("--json", "-vv", "load", "mock:b,size=16M", "-i", path)
        e = r.json().get("error", {}) if r.out else {}
        t.ok(r.rc == 1 and e.get("errno") == 74 and e.get("states") == {"mock:b": "RUNNING"} and
             "nothing was written" in e.get("message", "") and isinstance(e.get("offset"), int),
             "load -i of a %s file: refused (EBADMSG, offset), the device still RUNNING" % what,
             r)
        t.ok(arcs(r.errtext) == [],
             "load -i of a %s file: the device never left RUNNING, never reset" % what,
             r.errtext)
    r = run("load", "mock:b,size=16M", "-i", "-", stdin=open(cut, "rb"))
    t.ok(r.rc == 1 and "stdin: " in r.errtext and "nothing was written" in r.errtext and
         r.errtext.rstrip().endswith("the device is now in RUNNING"),
         "load < truncated file (stdin is a regular file): refused before loading", r)

    # The same bytes through a pipe: loaded record by record, as before.
    r = run("--json", "-vv", "load", "mock:b,size=16M", "-i", "-", input=data[:8000000])
    e = r.json().get("error", {}) if r.out else {}
    t.ok(r.rc == 1 and e.get("errno") == 74 and e.get("states") == {"mock:b": "STOP"} and
         "partial state was discarded" in e.get("message", ""),
         "load of the truncated stream through a pipe: found after the first writes, "
         "the device reset and left in STOP", r)
    t.ok(any("-> RESUMING" in line for line in arcs(r.errtext)) and
         any("reset" in line for line in arcs(r.errtext)),
         "through a pipe the device went to RESUMING and was reset", r.errtext)
    rc, out, err = shell("cat '%s' | $CTL --json load mock:b,size=16M -i -" % f)
    t.ok(rc == [0, 0] and json.loads(out)["state"] == "RUNNING",
         "a whole stream through a pipe still loads", (rc, err))

    r = run("--json", "-v", "load", "mock:b,size=16M", "-i", f)
    t.ok(r.rc == 0 and r.json()["state"] == "RUNNING" and
         r.json()["stream_bytes"] == len(data) and "verified" in r.errtext,
         "load -i of a whole file: verified, then loaded from its start", r)
    # stdin from a file, at an offset: verified from there, and rewound there.
    pre = os.path.join(d, "prefixed.vfm")
    with open(pre, "wb") as fp:
        fp.write(b"x" * 100 + data)
    rc, out, err = shell("{ dd bs=100 count=1 of=/dev/null 2>/dev/null; "
                         "$CTL --json load mock:b,size=16M -i -; } < '%s'" % pre)
    t.ok(rc == [0] and json.loads(out)["stream_bytes"] == len(data),
         "load < file at an offset: verified and loaded from where stdin stood", (rc, err))

    # A group's file: refused with every member untouched.
    g = os.path.join(d, "group.vfm")
    run("-q", "save", "mock:a,size=1M", "mock:c,size=512K", "-o", g)
    gdata = open(g, "rb").read()
    with open(cut, "wb") as fp:
        fp.write(gdata[:len(gdata) * 2 // 3])
    r = run("--json", "-vv", "load", "mock:a,size=1M", "mock:c,size=512K", "-i", cut)
    e = r.json().get("error", {}) if r.out else {}
    t.ok(r.rc == 1 and e.get("errno") == 74 and
         e.get("states") == {"mock:a": "RUNNING", "mock:c": "RUNNING"} and
         "nothing was written" in e.get("message", "") and arcs(r.errtext) == [] and
         [m["device_bytes"] for m in e.get("devices", [])] == [0, 0],
         "load A B -i of a truncated group file: refused, every member untouched", r)
    r = run("load", "mock:a,size=1M", "mock:c,size=512K", "-i", cut)
    t.ok(r.rc == 1 and r.errtext.count("\n") == 1 and
         "members now: mock:a RUNNING, mock:c RUNNING" in r.errtext,
         "load A B: one error line with every member's state", r)

    # A problem in the preamble is the load's own, with its own errno.
    junk = os.path.join(d, "junk.vfm")
    with open(junk, "wb") as fp:
        fp.write(b"not a stream at all\n")
    r = run("--json", "load", "mock:b", "-i", junk)
    t.ok(r.rc == 1 and r.json()["error"]["errno"] == 71 and
         r.json()["error"]["states"] == {"mock:b": "RUNNING"},
         "load -i of a file that is no stream: EPROTO, the device untouched", r)

    # A regular file that cannot be read (the process's own memory: EIO at
    # offset 0) fails the verification itself: nothing reaches a device,
    # and the error says where each one is.
    mem = "/proc/self/mem"
    r = run("-vv", "load", "mock:b", "-i", mem)
    t.ok(r.rc == 1 and arcs(r.errtext) == [] and r.errtext.endswith(
         "vfiomig-ctl: load %s: reading the stream failed: Input/output error; mock:b is in "
         "RUNNING\n" % mem),
         "load -i of a file that cannot be read: its error, the device untouched and named", r)
    r = run("--json", "-vv", "load", "mock:a", "mock:c", "-i", mem)
    e = r.json().get("error", {}) if r.out else {}
    t.ok(r.rc == 1 and e.get("errno") == 5 and arcs(r.errtext) == [] and
         e.get("states") == {"mock:a": "RUNNING", "mock:c": "RUNNING"} and
         [(m["device"], m["state"]) for m in e.get("devices", [])] ==
         [("mock:a", "RUNNING"), ("mock:c", "RUNNING")],
         "load A B -i of a file that cannot be read: every member untouched and listed", r)

    # --raw has no container to verify: a cut raw file reaches the device.
    raw = os.path.join(d, "raw.bin")
    run("-q", "save", "--raw", "mock:a,size=1M", "-o", raw)
    rdata = open(raw, "rb").read()
    with open(cut, "wb") as fp:
        fp.write(rdata[:len(rdata) // 2])
    r = run("--json", "load", "--raw", "mock:b,size=1M", "-i", cut)
    t.ok(r.rc == 1 and r.json()["error"]["states"] == {"mock:b": "STOP"},
         "load --raw of a cut raw file: nothing to verify first; the driver refuses it", r)
    remove(f, cut, corrupt, pre, g, junk, raw)


def main():
    t = Tap()
    d = os.path.realpath(tmpdir())
    test_failed_save(t, d)
    test_signals(t, d)
    test_sync(t, d)
    test_modes(t, d)
    test_verify_first(t, d)
    left = os.listdir(d)
    t.ok(left == [], "nothing left in the directory", left)
    shutil.rmtree(d)
    t.done()


main()
