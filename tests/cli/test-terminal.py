#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vfiomig-ctl on a terminal it shares: what a person sees.

- The progress line never goes back: pre-copy (open-ended) shows the round,
  the bytes so far and the rate, with no percentage and no ETA; stop-copy
  shows a percentage that only grows, and no ETA once the device sends more
  than it said; a load from a file counts against the file's length.
- "save -o - | load -i -" with both processes on one terminal (a pty here):
  with --progress=auto only one side draws (the save, which claims the
  terminal before its first byte), nothing lands on a drawn line, and the
  screen ends up with the two summaries and no stray escape sequences.
  --progress=always and --progress=never are obeyed.
- "--json save -o - | --json load -i -": the stream and the save's JSON
  cannot share stdout, so the save's report and errors, and any usage
  error, go to stderr, never into the pipe.

No timing is asserted beyond what a slow mock (rate=) makes certain."""

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli import Tap, CTL, run, shell, base_env, tmpdir, TIMEOUT, read_pty  # noqa: E402

COLS = 100
EL = b"\x1b[K"
# Whether the binary was built with terminfo (libtinfo); meson says.
TERMINFO = os.environ.get("VFIOMIG_CTL_TERMINFO", "1") == "1"

# A progress line, whole: label, phase, amount, then rate and ETA.
AMOUNT = rb"[0-9.]+ (?:B|KiB|MiB|GiB)"
LINE = re.compile(rb"^(save|load|migrate): (pre-copy round [0-9]+|stop-copy|resuming)  " +
                  AMOUNT + rb"(?: so far| of " + AMOUNT + rb" \([0-9]+%\)|, over the " +
                  AMOUNT + rb" expected)(?:  " + AMOUNT + rb"/s)?(?:  ETA [0-9:]+)?$")


def open_pty():
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, COLS, 0, 0))
    return master, slave


def on_pty(args):
    """Runs one vfiomig-ctl with stderr on a pty; (exit status, the bytes)."""
    master, slave = open_pty()
    p = subprocess.Popen([CTL] + args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=slave, env=base_env(TERM="xterm"))
    os.close(slave)
    data = read_pty(master)
    return p.wait(timeout=TIMEOUT), data


def pipeline_on_pty(save, load, term="xterm"):
    """save ... -o - | load ... -i -, both on one pty (the load's stdout
    too, as in a shell); returns (save's status, load's status, the bytes)."""
    master, slave = open_pty()
    env = base_env() if term is None else base_env(TERM=term)
    r, w = os.pipe()
    ps = subprocess.Popen([CTL, "save"] + save + ["-o", "-"], stdin=subprocess.DEVNULL,
                          stdout=w, stderr=slave, env=env)
    pl = subprocess.Popen([CTL, "load"] + load + ["-i", "-"], stdin=r, stdout=slave,
                          stderr=slave, env=env)
    for fd in (r, w, slave):
        os.close(fd)
    data = read_pty(master)
    return ps.wait(timeout=TIMEOUT), pl.wait(timeout=TIMEOUT), data


def screen(data, cols=COLS):
    """What a terminal shows after @data: (rows, stray), where stray lists
    every escape sequence or control byte other than \\r, \\n and el."""
    rows, r, c, stray = [[]], 0, 0, []
    i = 0
    while i < len(data):
        b = data[i]
        if b == 0x1b:
            m = re.match(rb"\x1b\[([0-9;]*)([@-~])", data[i:])
            if m and m.group(2) == b"K" and m.group(1) in (b"", b"0"):
                del rows[r][c:]
                i += m.end()
                continue
            stray.append(data[i:i + 8])
        elif b == 13:
            c = 0
        elif b == 10:
            r += 1
            if r == len(rows):
                rows.append([])
        elif b < 32 or b == 127:
            stray.append(data[i:i + 1])
        else:
            if c >= cols:	# autowrap
                r, c = r + 1, 0
                if r == len(rows):
                    rows.append([])
            row = rows[r]
            row.extend(" " * (c + 1 - len(row)))
            row[c] = chr(b)
            c += 1
        i += 1
    return ["".join(x).rstrip() for x in rows], stray


def drawn(data):
    """The progress lines drawn, in order: every segment after a \\r that
    starts with a label, with el taken off the front."""
    out = []
    for seg in re.split(rb"\r(?!\n)", data):
        seg = seg[len(EL):] if seg.startswith(EL) else seg
        seg = seg.split(b"\r\n")[0].rstrip(b" ")
        if re.match(rb"^(save|load|migrate)( [0-9]+ devices)?: ", seg):
            out.append(seg)
    return out


def size_of(text):
    n, unit = text.split()
    return float(n) * {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[unit]


def check_display(t):
    """Item: the display never goes back and says what is unknown."""
    # 3 rounds of pre-copy, each dirtying half the state, then a stop-copy
    # that sends twice what the last query announced (docs/mock.md): the
    # old line showed 99% and then 66% when round 2 began.
    rc, data = on_pty(["save", "mock:a,size=8M,dirty=4M,rate=16M", "--precopy=3", "-o",
                       "/dev/null"])
    lines = drawn(data)
    pre = [ln for ln in lines if b"pre-copy" in ln]
    stop = [ln for ln in lines if b"stop-copy" in ln]
    t.ok(rc == 0 and len(pre) >= 3 and len(stop) >= 1, "save with pre-copy on a terminal",
         (rc, lines[:20]))
    bad = [ln for ln in lines if not LINE.match(ln)]
    t.ok(not bad, "every progress line is whole and well formed", bad[:5])
    t.ok(all(b"%" not in ln and b"ETA" not in ln for ln in pre),
         "pre-copy: no percentage and no ETA (it is open-ended)", pre[:5])
    so_far = [size_of(re.search(rb"  (" + AMOUNT + rb") so far", ln).group(1).decode())
              for ln in pre if b" so far" in ln]
    rounds = [int(re.search(rb"round ([0-9]+)", ln).group(1)) for ln in pre]
    t.ok(len(so_far) == len(pre) and so_far == sorted(so_far) and rounds == sorted(rounds),
         "pre-copy: the bytes so far and the round never go back", pre)
    pcts = [int(m.group(1)) for m in (re.search(rb"\(([0-9]+)%\)", ln) for ln in lines) if m]
    t.ok(pcts == sorted(pcts), "the percentage never goes back", pcts)
    t.ok(any(re.search(rb"stop-copy  " + AMOUNT + rb" of " + AMOUNT + rb" \([0-9]+%\)", ln)
             for ln in stop), "stop-copy: a percentage of what the device said is left", stop)
    eta_past = []
    for ln in stop:
        m = re.search(rb"stop-copy  (" + AMOUNT + rb") of (" + AMOUNT + rb")", ln)
        if b"ETA" in ln and (not m or size_of(m.group(1).decode()) >= size_of(m.group(2).decode())):
            eta_past.append(ln)
    t.ok(not eta_past, "stop-copy: an ETA only while the estimate is ahead", eta_past)
    t.ok(any(b", over the 4.0 MiB expected" in ln and b"ETA" not in ln for ln in stop),
         "stop-copy past the estimate: says so, without a percentage or an ETA", stop)
    rows, stray = screen(data)
    t.ok(not stray and not any("save:" in x for x in rows),
         "the line is gone at the end, no stray escapes", (stray, rows))

    # A load from a file counts against the file's length: the device's
    # state size (8 MiB) says nothing of the pre-copy rounds it carries.
    tmp = tmpdir()
    f = os.path.join(tmp, "s.bin")
    r = run("-q", "save", "mock:a,size=8M,dirty=4M", "--precopy=2", "-o", f)
    length = b"%.1f MiB" % (os.path.getsize(f) / 1048576.0)
    rc, data = on_pty(["load", "mock:b,size=8M,rate=16M", "-i", f])
    lines = drawn(data)
    pcts = [int(m.group(1)) for m in (re.search(rb"\(([0-9]+)%\)", ln) for ln in lines) if m]
    t.ok(r.rc == 0 and rc == 0 and len(lines) >= 2 and
         all(b" of " + length + b" (" in ln for ln in lines) and pcts == sorted(pcts),
         "load from a file: a percentage of the file's %s, never back" % length.decode(), lines)
    os.unlink(f)
    os.rmdir(tmp)


def check_pipeline(t):
    """Item: save -o - | load -i - on one terminal."""
    save = ["mock:a,size=8M,dirty=1M,rate=16M", "--precopy=2"]
    load = ["mock:b,size=8M"]

    def labels(lines):
        return [ln.split(b":")[0] for ln in lines]

    def clean(data, name):
        rows, stray = screen(data)
        leftover = [x for x in rows if re.search(r"(save|load): (pre-copy|stop-copy|resuming)", x)]
        t.ok(not stray and "[K" not in "\n".join(rows) and not leftover,
             "%s: no stray escapes and no progress left on the screen" % name,
             (stray, rows))
        t.ok("device:       mock:a" in rows and "device:       mock:b" in rows and
             "state:        STOP" in rows and "state:        RUNNING" in rows,
             "%s: both summaries, each line intact" % name, rows)

    rs, rl, data = pipeline_on_pty(save, load)
    lines = drawn(data)
    who = labels(lines)
    t.ok(rs == 0 and rl == 0, "auto: save -o - | load -i - on one terminal", (rs, rl, data[-400:]))
    first_load = who.index(b"load") if b"load" in who else len(who)
    t.ok(b"save" in who and b"save" not in who[first_load:],
         "auto: only the save draws (a load may take over once the save is gone)", who)
    bad = [ln for ln in lines if not LINE.match(ln)]
    t.ok(not bad, "auto: no progress line interrupted by the other process", bad[:5])
    clean(data, "auto")

    rs, rl, data = pipeline_on_pty(save + ["--progress=never"], load)
    who = labels(drawn(data))
    t.ok(rs == 0 and rl == 0 and b"save" not in who and b"load" in who,
         "save --progress=never | load: the load draws", who)
    clean(data, "save never")

    rs, rl, data = pipeline_on_pty(save, load + ["--progress", "never"])
    who = labels(drawn(data))
    t.ok(rs == 0 and rl == 0 and b"save" in who and b"load" not in who,
         "save | load --progress never: the save draws", who)

    rs, rl, data = pipeline_on_pty(save + ["--progress=always"], load + ["--progress=always"])
    lines = drawn(data)
    who = labels(lines)
    t.ok(rs == 0 and rl == 0 and b"save" in who and b"load" in who,
         "--progress=always on both sides: both draw", who)
    bad = [ln for ln in lines if not LINE.match(ln)]
    t.ok(not bad, "always: each redraw is whole (one write)", bad[:5])
    clean(data, "always")

    rs, rl, data = pipeline_on_pty(save + ["--progress=never"], load + ["--progress=never"])
    t.ok(rs == 0 and rl == 0 and not drawn(data), "--progress=never on both sides: no line",
         data[:300])
    clean(data, "never")

    # Without terminfo the rows are blanked with spaces: still clean.
    rs, rl, data = pipeline_on_pty(save, load, term=None)
    who = labels(drawn(data))
    t.ok(rs == 0 and rl == 0 and b"save" in who and EL not in data,
         "without TERM: the save draws, with spaces", who)
    clean(data, "without TERM")

    # always draws where auto would not: stderr a pipe
    r = run("save", "mock:a,size=4M,rate=16M", "-o", "/dev/null", "--progress=always")
    t.ok(r.rc == 0 and b"save: stop-copy" in r.err and b"\r" in r.err,
         "--progress=always: drawn even when stderr is not a terminal", r)
    r = run("-q", "save", "mock:a,size=4M,rate=16M", "-o", "/dev/null", "--progress=always")
    t.ok(r.rc == 0 and b"save: stop-copy" in r.err, "-q --progress=always: drawn", r)
    rc, data = on_pty(["migrate", "mock:a,size=4M,rate=16M", "mock:b,size=4M",
                       "--progress=never"])
    t.ok(rc == 0 and not drawn(data), "migrate --progress=never: no line on a terminal", data)
    r = run("save", "mock:a", "-o", "/dev/null", "--progress=sometimes")
    t.ok(r.rc == 2 and "--progress sometimes: expected auto, always or never" in r.errtext,
         "--progress=sometimes: usage error", r)


def check_json_pipe(t):
    """Item: --json in a pipe; the save's own error is not lost."""
    st, out, err = shell("$CTL --json save mock:a --bogus -o - | $CTL --json load mock:b -i -")
    try:
        doc = json.loads(err)
        good = (doc["error"]["errno"] == 22 and "--bogus" in doc["error"]["message"])
    except ValueError:
        good = False
    t.ok(st[0] == 2 and good, "--json save with a usage error in a pipe: the error on stderr, "
         "not in the stream", (st, out, err))
    try:
        doc = json.loads(out)
        good = doc["error"]["errno"] != 0 and "magic" not in doc["error"]["message"]
    except ValueError:
        good = False
    t.ok(st[1] != 0 and good, "... so the load finds an empty stream, not the save's JSON",
         (st, out, err))

    st, out, err = shell("$CTL --json save mock:a,size=1M -o - | $CTL --json load mock:b,size=1M -i -")
    try:
        saved, loaded = json.loads(err), json.loads(out)
        good = (saved["device"] == "mock:a" and saved["file"] == "-" and
                loaded["device"] == "mock:b" and loaded["state"] == "RUNNING" and
                saved["stream_bytes"] == loaded["stream_bytes"])
    except ValueError:
        good = False
    t.ok(st == [0, 0] and good, "--json save -o - | --json load -i -: the save's report on "
         "stderr, the load's on stdout", (st, out, err))

    st, out, err = shell("$CTL --json save mock:a,fail=read:1:EIO -o - | "
                         "$CTL --json load mock:b -i -")
    try:
        doc = json.loads(err)
        good = doc["error"]["errno"] == 5 and doc["error"]["states"] == {"mock:a": "RUNNING"}
    except ValueError:
        good = False
    t.ok(st[0] == 1 and st[1] != 0 and good,
         "--json save -o - that fails: its JSON error on stderr, not in the stream",
         (st, out, err))

    # A usage error never goes to stdout, which may be a pipe.
    r = run("--json", "save", "mock:a", "--precopy=0", "-o", "-")
    t.ok(r.rc == 2 and r.out == b"" and json.loads(r.errtext)["error"]["errno"] == 22,
         "--json usage error: on stderr, nothing on stdout", r)


def main():
    t = Tap()
    check_display(t)
    check_pipeline(t)
    check_json_pipe(t)
    t.done()


main()
