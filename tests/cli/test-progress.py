#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The progress line: on a terminal (a pseudo-terminal here) save, load and
migrate show phase, bytes, rate and ETA on stderr, redrawn in place with
"\\r" and terminfo's clear-to-end-of-line; without terminfo, with spaces.
It is absent when stderr is a pipe and with --quiet.  A binary stream is
never written to or read from a terminal."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli import Tap, run, tmpdir, on_pty  # noqa: E402

EL = b"\x1b[K"	# xterm's clear-to-end-of-line ("el")
# Whether the binary was built with terminfo (libtinfo); meson says.
TERMINFO = os.environ.get("VFIOMIG_CTL_TERMINFO", "1") == "1"


def main():
    t = Tap()
    tmp = tmpdir()
    f = os.path.join(tmp, "s.bin")
    slow = "mock:a,size=3M,rate=6M"	# about half a second: several redraws

    rc, data = on_pty(["save", slow, "-o", f])
    t.ok(rc == 0, "save on a terminal", data)
    t.ok(b"save: stop-copy" in data and b"MiB" in data, "progress: phase and bytes", data[-500:])
    t.ok(re.search(rb"[0-9.]+ [KM]iB/s", data) is not None, "progress: rate", data[-500:])
    t.ok(re.search(rb"ETA [0-9]+:[0-9]{2}", data) is not None, "progress: ETA", data[-500:])
    t.ok(data.count(b"\r") >= 3, "progress: redrawn in place with \\r", data.count(b"\r"))
    if TERMINFO:
        t.ok(data.count(b"\r" + EL) >= 3, "progress: terminfo clear-to-eol after \\r", data[-300:])
    else:
        t.skip("progress: terminfo clear-to-eol after \\r", "built without terminfo")
    t.ok(b"\n" not in data.split(b"device:")[0].replace(b"\r\n", b""),
         "progress: no newlines while redrawing", data[:300])

    rc, data = on_pty(["save", slow + ",dirty=256K", "-o", f, "--precopy=2"])
    t.ok(rc == 0 and b"save: pre-copy round 1" in data and b"save: stop-copy" in data,
         "progress: pre-copy rounds, then stop-copy", data[-500:])

    rc, data = on_pty(["load", "mock:b,size=3M,rate=6M", "-i", f])
    t.ok(rc == 0 and b"load: resuming" in data and b"\r" in data, "progress: load", data[-300:])

    rc, data = on_pty(["migrate", slow, "mock:b,size=3M"])
    t.ok(rc == 0 and b"migrate: stop-copy" in data, "progress: migrate", data[-300:])

    rc, data = on_pty(["save", slow, "-o", f], term="dumb")
    t.ok(rc == 0 and b"save: stop-copy" in data and EL not in data and b"\r" in data,
         "progress without clear-to-eol (TERM=dumb): \\r and spaces", data[-300:])
    rc, data = on_pty(["save", slow, "-o", f], term=None)
    t.ok(rc == 0 and b"save: stop-copy" in data and EL not in data,
         "progress without TERM: \\r and spaces", data[-300:])

    rc, data = on_pty(["-q", "save", slow, "-o", f])
    t.ok(rc == 0 and data == b"", "--quiet: nothing on a terminal stderr", data)
    rc, data = on_pty(["-q", "save", slow, "-o", f], stdout_pty=True)
    t.ok(rc == 0 and b"save: stop-copy" not in data and b"stop-copy:" in data,
         "--quiet: the summary on a terminal stdout, no progress line", data)

    r = run("save", slow, "-o", f)
    t.ok(r.rc == 0 and b"\r" not in r.err and r.err == b"", "stderr a pipe: no progress line", r)
    r = run("--json", "migrate", slow, "mock:b,size=3M")
    t.ok(r.rc == 0 and r.err == b"", "migrate, stderr a pipe: nothing on stderr", r)

    rc, data = on_pty(["save", "mock:a"], stdout_pty=True)
    t.ok(rc == 2 and b"refusing to write a binary stream to a terminal" in data,
         "save to a terminal: refused, exit 2", data)
    rc, data = on_pty(["load", "mock:a"], stdin_pty=True)
    t.ok(rc == 2 and b"refusing to read a binary stream from a terminal" in data,
         "load from a terminal: refused, exit 2", data)
    rc, data = on_pty(["inspect"], stdin_pty=True)
    t.ok(rc == 2 and b"refusing to read" in data, "inspect from a terminal: refused, exit 2", data)

    # A log message clears the line first, so it starts a clean line.
    rc, data = on_pty(["-v", "save", slow + ",fail=read:20:EIO", "-o", f])
    lines = data.split(b"\n")
    t.ok(rc == 1 and any(b"save failed; the device is back in RUNNING" in ln for ln in lines) and
         all(not (b"stop-copy " in ln and b"vfiomig-ctl:" in ln.split(b"\r")[-1]) for ln in lines),
         "a message during progress clears the line first", data[-600:])

    if os.path.exists(f):
        os.unlink(f)
    os.rmdir(tmp)
    t.done()


main()
