#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vfiomig-ctl dirty DEVICE start RANGES: dirty-page tracking on mock
devices (dirtylog=1), in text and JSON; its usage errors, the library's
errors, a failed report (every page counted dirty, exit 1), and an
interrupt (tracking stopped, what it has printed, exit 128 + the signal)."""

import os
import re
import select
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli import Tap, Result, CTL, TIMEOUT, run, one_line, base_env, complete, catches  # noqa: E402

MB = 1 << 20
PAGE = 4096


def usage_error(t, r, words, name):
    t.ok(r.rc == 2 and one_line(r.err) and all(w in r.errtext for w in words) and
         "see vfiomig-ctl --help" in r.errtext and r.out == b"", name, r)


def interrupt(args, sig, after_line=None):
    """Runs vfiomig-ctl ARGS (which would run until interrupted), sends @sig
    once it catches it, and, with @after_line, once stdout has shown a line
    starting so (the text output comes a round at a time).  Returns how it
    ended, and the stdout seen before the signal."""
    argv = [CTL] + args
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=base_env())
    deadline = time.monotonic() + TIMEOUT / 2
    while not catches(proc.pid, sig) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    early = b""
    if after_line is not None:
        fd = proc.stdout.fileno()
        while proc.poll() is None and time.monotonic() < deadline:
            if not select.select([fd], [], [], 0.1)[0]:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            early += chunk
            if any(line.startswith(after_line) for line in early.split(b"\n")):
                break
    else:
        time.sleep(0.3)
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=TIMEOUT / 4)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err += b"\n(killed: still running long after the signal)"
    return Result(argv, proc.returncode, early + out, err), early


def jdoc(r):
    try:
        return r.json()
    except ValueError:
        return {}


def test_help(t):
    r, h = run("help", "dirty"), run("dirty", "--help")
    t.ok(r.rc == 0 and r.out == h.out and r.err == b"" and
         r.text.startswith("Usage: vfiomig-ctl [OPTIONS] dirty DEVICE start RANGES"),
         "help dirty is dirty --help", r)
    for o in ("--page-size", "--report", "--interval", "--count", "--pages"):
        t.ok(o in h.text, "dirty --help: %s" % o, h)
    words = " ".join(h.text.split())
    t.ok("ends with this process" in words and "a VMM tracks through the library" in words,
         "dirty --help: the session ends with the process; a VMM uses the library", h)
    r = run("--help")
    t.ok("  dirty " in r.text, "--help lists dirty", r)


def test_usage(t):
    dev = "mock:a,dirtylog=1"
    usage_error(t, run("dirty", dev, "start", "0:4K,zz:4K"),
                ["RANGES item 2 'zz:4K'", "IOVA 'zz' is not a number", "IOVA:LEN[,IOVA:LEN...]"],
                "RANGES: a bad IOVA names the item and shows the syntax")
    usage_error(t, run("dirty", dev, "start", "0:4K,8K:4Q"),
                ["item 2", "LEN '4Q' is not a number", "IOVA:LEN[,IOVA:LEN...]"],
                "RANGES: a bad LEN (unknown suffix)")
    usage_error(t, run("dirty", dev, "start", "0:4K,8K"),
                ["item 2 '8K' is not IOVA:LEN", "IOVA:LEN[,IOVA:LEN...]"],
                "RANGES: an item without ':'")
    usage_error(t, run("dirty", dev, "start", "0:4K,,8K:4K"), ["item 2 is empty"],
                "RANGES: an empty item")
    usage_error(t, run("dirty", dev, "start", "0:99999999T"), ["out of range"],
                "RANGES: a LEN past 2^64")
    usage_error(t, run("dirty", dev, "start", "0:4K", "--report", "0x:4K"),
                ["--report item 1", "IOVA '0x' is not a number"], "--report: a bad range")
    usage_error(t, run("dirty", dev, "stop", "0:4K"), ["unknown verb 'stop'", "start"],
                "an unknown verb")
    usage_error(t, run("dirty", dev), ["missing the verb", "start RANGES"], "no verb")
    usage_error(t, run("dirty", dev, "start"), ["missing RANGES"], "no RANGES")
    usage_error(t, run("dirty"), ["missing DEVICE"], "no DEVICE")
    usage_error(t, run("dirty", dev, "start", "0:4K", "4K:4K"), ["unexpected argument '4K:4K'"],
                "an extra argument")
    for v in ("0", "-1", "abc", "1e3", "0.0001", "100000"):
        usage_error(t, run("dirty", dev, "start", "0:4K", "--interval", v),
                    ["--interval %s" % v, "seconds"], "--interval %s" % v)
    for v in ("0", "x", "-2"):
        usage_error(t, run("dirty", dev, "start", "0:4K", "--count", v),
                    ["--count %s" % v], "--count %s" % v)
    usage_error(t, run("dirty", dev, "start", "0:4K", "--page-size", "big"),
                ["--page-size big"], "--page-size big")
    usage_error(t, run("dirty", dev, "start", "0:4K", "--count"),
                ["option '--count' needs a value"], "--count without a value")
    r = run("--json", "dirty", dev, "start", "0:4K,zz:1")
    e = jdoc(Result(r.args, r.rc, r.err, b"")).get("error", {})
    t.ok(r.rc == 2 and r.out == b"" and e.get("errno") == 22 and "item 2" in e.get("message", ""),
         "--json: a usage error's document on stderr", r)


def test_library_errors(t):
    # (the library bug crashes the failure's own path: start_failed() reads
    # the ranges that session_new() took)
    r = run("dirty", "mock:a", "start", "0:16M", "--count", "1")
    t.ok(r.rc == 1 and one_line(r.err) and r.out == b"" and
          "mock:a has no DMA logging" in r.errtext and "see vfiomig-ctl --help" not in r.errtext,
          "dirtylog=0: a clear error, exit 1", r)
    r = run("--json", "dirty", "mock:a,dirtylog=0", "start", "0:16M")
    t.ok(r.rc == 1 and jdoc(r).get("error", {}).get("errno") == 25,
          "dirtylog=0 --json: errno ENOTTY", r)
    r = run("dirty", "mock:a,dirtylog=1", "start", "0x800:4K", "--count", "1")
    t.ok(r.rc == 1 and one_line(r.err) and r.out == b"" and
         "is not aligned to the page size" in r.errtext and "mock:a,dirtylog=1: range 0" in r.errtext,
         "a misaligned range: the library's error, exit 1", r)
    r = run("dirty", "mock:a,dirtylog=1", "start", "0:8K,4K:8K", "--count", "1")
    t.ok(r.rc == 1 and "overlap" in r.errtext, "overlapping ranges: the library's error", r)
    r = run("dirty", "mock:a,dirtylog=1", "start", "0:4K", "--page-size", "3000", "--count", "1")
    t.ok(r.rc == 1 and "page size 3000" in r.errtext, "--page-size 3000: the library's error", r)


def test_text(t):
    r = run("dirty", "mock:a,dirtylog=1", "start", "0:16M", "--interval", "0.05", "--count", "3")
    lines = r.text.splitlines()
    rounds = [l for l in lines if l.startswith("round ")]
    t.ok(r.rc == 0 and r.err == b"" and "device:        mock:a" in lines and
          "page size:     4096 bytes (4.0 KiB)" in lines and
          "  [0x0, +0x1000000)  16.0 MiB" in lines and "over-reports:  no" in lines,
          "text: what is tracked", r)
    t.ok([l.split(":")[0] for l in rounds] == ["round 1", "round 2", "round 3"] and
          all("[0x0, +0x1000000)" in l and "of 4096 pages dirty" in l for l in rounds) and
          lines[-1:] == ["stopped tracking after 3 rounds"],
          "text: --count 3 makes three rounds, then stops", r)


def test_json(t):
    begin = time.monotonic()
    r = run("--json", "dirty", "mock:a,dirtylog=1", "start", "0:1M,4M:2M", "--interval", "0.1",
            "--count", "2")
    took = time.monotonic() - begin
    d = jdoc(r)
    t.ok(r.rc == 0 and d.get("device") == "mock:a" and d.get("page_size") == PAGE and
          d.get("over_reports") is False and d.get("stopped") is True and
          "error" not in d and d.get("interrupted") is None and d.get("rounds") == 2 and
          d.get("ranges") == [{"iova": 0, "length": MB}, {"iova": 4 * MB, "length": 2 * MB}],
          "--json: device, page size, ranges, stopped", r)
    reps = d.get("reports", [])
    t.ok([(x.get("round"), x.get("iova"), x.get("length")) for x in reps] ==
          [(1, 0, MB), (1, 4 * MB, 2 * MB), (2, 0, MB), (2, 4 * MB, 2 * MB)] and
          all(isinstance(x.get("dirty_pages"), int) and "pages" not in x and "error" not in x
              for x in reps),
          "--json: a report per range and round, numbers as numbers", r)
    t.ok(took >= 0.2, "--interval 0.1 --count 2 takes at least 0.2 s", took)

    r = run("--json", "dirty", "mock:a,dirtylog=1", "start", "0:16M", "--report", "0:1M,2M:1M",
            "--report", "8M:4K", "--interval", "0.01", "--count", "1", "--pages")
    reps = jdoc(r).get("reports", [])
    t.ok(r.rc == 0 and [(x.get("iova"), x.get("length")) for x in reps] ==
          [(0, MB), (2 * MB, MB), (8 * MB, PAGE)] and
          all(len(x.get("pages", [None])) == x.get("dirty_pages") for x in reps),
          "--report ranges, repeated and as a list; --pages has dirty_pages entries", r)

    # More ranges than START takes: collapsed, and the session over-reports.
    many = ",".join("%d:4K" % (i * 2 * PAGE) for i in range(300))
    r = run("--json", "dirty", "mock:a,dirtylog=1", "start", many, "--interval", "0.01",
            "--count", "1")
    d = jdoc(r)
    t.ok(r.rc == 0 and d.get("over_reports") is True and
          0 < len(d.get("ranges", [])) < 300 and
          len(d.get("reports", [])) == len(d.get("ranges", [])),
          "300 ranges: collapsed, over_reports, a report per tracked range", r)
    r = run("dirty", "mock:a,dirtylog=1", "start", many, "--interval", "0.01", "--count", "1")
    t.ok(r.rc == 0 and "over-reports:  yes: the 300 ranges given were collapsed into" in
          r.text, "text: a clear line when the ranges were collapsed", r)


def test_interrupt(t):
    for sig, rc in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        name = signal.Signals(sig).name
        r, _ = interrupt(["--json", "dirty", "mock:a,dirtylog=1", "start", "0:16M",
                          "--interval", "0.05"], sig)
        d = jdoc(r)
        t.ok(r.rc == rc and d.get("stopped") is True and d.get("interrupted") == name and
              "error" not in d and r.err == b"" and
              [x.get("round") for x in d.get("reports", [])] ==
              list(range(1, d.get("rounds", -1) + 1)),
              "--json, %s: exit %d, one document, tracking stopped" % (name, rc), r)
    r, early = interrupt(["dirty", "mock:a,dirtylog=1", "start", "0:16M", "--interval", "0.05"],
                         signal.SIGINT, after_line=b"round 1:")
    lines = r.text.splitlines()
    t.ok(b"round 1:" in early, "text: the rounds are written as they come", r)
    t.ok(r.rc == 130 and r.err == b"" and lines and
          re.match(r"^stopped tracking after \d+ rounds?: interrupted by SIGINT$", lines[-1]),
          "text, SIGINT: stops tracking, says so, exit 130", r)


def test_tracker(t):
    """Real counts: the mock's tracker writes dirtyrate= pages a second."""
    dev = "mock:a,dirtylog=1,dirtyrate=5000"
    r = run("--json", "dirty", dev, "start", "0:16M", "--interval", "0.1", "--count", "3",
            "--pages")
    d = jdoc(r)
    reps = d.get("reports", [])
    t.ok(r.rc == 0 and len(reps) == 3 and all(x.get("dirty_pages", 0) > 0 for x in reps),
          "dirtyrate=5000: every round counts dirty pages", r)
    good = bool(reps)
    for x in reps:
        pages = x.get("pages", [])
        good = good and len(pages) == x.get("dirty_pages") and len(set(pages)) == len(pages) and \
            all(isinstance(p, int) and p % PAGE == 0 and 0 <= p < 16 * MB for p in pages) and \
            pages == sorted(pages)
    t.ok(good, "--pages: dirty_pages addresses, page aligned, inside the range",
          r)
    r = run("dirty", dev, "start", "0:16M", "--interval", "0.1", "--count", "2", "--pages")
    rounds = [l for l in r.text.splitlines() if l.startswith("round ")]
    addrs = [l for l in r.text.splitlines() if l.startswith("  0x")]
    counts = [int(l.split(")  ")[1].split(" of ")[0]) for l in rounds if ")  " in l and " of " in l]
    t.ok(r.rc == 0 and len(counts) == 2 and all(c > 0 for c in counts) and
          len(addrs) == sum(counts), "text --pages: an address per dirty page", r)

    # Round 2's report fails: all its pages counted dirty, the rounds go on, exit 1.
    dev = "mock:a,dirtylog=1,dirtyrate=5000,fail=logreport:2:EIO"
    r = run("--json", "dirty", dev, "start", "0:16M", "--interval", "0.05", "--count", "3")
    d = jdoc(r)
    reps = d.get("reports", [])
    bad = [x for x in reps if "error" in x]
    # (as mlx5's tracker after an error, the mock may fail every later report too)
    t.ok(r.rc == 1 and len(reps) == 3 and bad and bad[0].get("round") == 2 and
          "error" not in reps[0] and
          bad[0].get("dirty_pages") == 4096 and bad[0]["error"].get("errno") == 5 and
          d.get("stopped") is True and (d.get("error") or {}).get("errno") == 5,
          "fail=logreport:2:EIO --json: round 2 failed, all pages dirty, exit 1", r)
    r = run("dirty", dev, "start", "0:16M", "--interval", "0.05", "--count", "3")
    t.ok(r.rc == 1 and "round 2: [0x0, +0x1000000)  FAILED: all 4096 pages counted dirty"
          in r.text and "round 3: " in r.text and "round 2: " in r.errtext,
          "fail=logreport:2:EIO text: round 2 FAILED, round 3 still made, exit 1", r)

    r = run("--json", "dirty", "mock:a,dirtylog=1,logpage=2M:2M", "start", "0:16M",
            "--interval", "0.01", "--count", "1")
    d = jdoc(r)
    t.ok(r.rc == 0 and d.get("page_size") == 2 * MB and
          [x.get("length") for x in d.get("reports", [])] == [16 * MB],
          "logpage=2M:2M: the driver's page size, 2 MiB, reported", r)
    r = run("dirty", "mock:a,dirtylog=1,logpage=2M:2M", "start", "0:16M", "--interval", "0.01",
            "--count", "1")
    t.ok(r.rc == 0 and "page size:     2097152 bytes (2.0 MiB)" in r.text and
          "of 8 pages dirty" in r.text, "logpage=2M:2M text: 2 MiB pages", r)


def test_completion(t):
    got = complete("vfiomig-ctl di")
    t.ok(got == ["dirty"], "completion: the dirty command", got)
    got = complete("vfiomig-ctl dirty m")
    t.ok("mock:" in got, "completion: dirty DEVICE", got)
    got = complete("vfiomig-ctl dirty mock:a ")
    t.ok(got == ["start"], "completion: dirty DEVICE start", got)
    got = complete("vfiomig-ctl dirty mock:a start 0:4K --")
    t.ok(all(o in got for o in ("--page-size", "--report", "--interval", "--count", "--pages")),
         "completion: dirty's options", got)
    got = complete("vfiomig-ctl dirty mock:a --interval 1 ")
    t.ok(got == ["start"], "completion: an option's value is not an argument", got)


def main():
    t = Tap()
    test_help(t)
    test_usage(t)
    test_completion(t)
    test_library_errors(t)
    test_text(t)
    test_json(t)
    test_interrupt(t)
    test_tracker(t)
    t.done()


main()
