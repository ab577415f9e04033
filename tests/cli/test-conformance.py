#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vfiomig-ctl conformance DEVICE: the checker's report on mock devices, in
text and JSON; a device that keeps the rules, one like mtty (deviations,
exit 0), one that breaks a rule (a failure, exit 1, the report still
printed); --only, --list, the usage errors, and docs/conformance.md
against the catalogue.  And Ctrl-C: a run that would take a minute stops
within 2 s, puts both devices back, prints the checks it ran and exits
130; a second SIGINT says what may be left where and kills."""

import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli import Tap, CTL, SRC, base_env, catches, run, one_line, complete  # noqa: E402

MTTY = "resetflag=0,eom=zero,dirtylog=dummy,size=96"
AREAS = ["features", "arcs", "data", "reset", "twin", "robustness"]


def catalogue():
    r = run("--json", "conformance", "--list")
    return json.loads(r.out) if r.rc == 0 else []


def report(*args):
    r = run("--json", "conformance", *args)
    try:
        return r, json.loads(r.out)
    except ValueError:
        return r, None


def verdicts(doc):
    return {c["id"]: c["verdict"] for c in doc.get("checks", [])} if doc else {}


def usage_error(t, r, words, name):
    t.ok(r.rc == 2 and one_line(r.err) and all(w in r.errtext for w in words) and
         r.out == b"", name, r)


def test_list(t, cat):
    ids = [c["id"] for c in cat]
    t.ok(len(ids) == 23 and len(set(ids)) == len(ids), "--list: 23 distinct checks", ids)
    t.ok(all(c["id"].split(".")[0] == c["area"] and c["area"] in AREAS for c in cat),
         "--list: every id starts with its area", cat)
    t.ok(all(c["rule"] and c["source"] and c["impact"] for c in cat),
         "--list: every check has a rule, a source and an impact", cat)
    r = run("conformance", "--list")
    t.ok(r.rc == 0 and all(("%s\n    rule:" % i).encode() in r.out for i in ids),
         "--list in text: each id with its rule", r)


def test_clean(t, cat):
    r, doc = report("mock:a", "--twin", "mock:b")
    v = verdicts(doc)
    t.ok(r.rc == 0 and list(v) == [c["id"] for c in cat] and set(v.values()) == {"pass"},
         "a mock that keeps the rules: every check passes, in catalogue order", r)
    t.ok(doc and doc["summary"] == {"pass": 23, "fail": 0, "deviation": 0, "skip": 0} and
         doc["device"] == "mock:a" and doc["twin"] == "mock:b" and doc["driver"] == "mock",
         "JSON: the summary and the devices", doc and {k: doc[k] for k in doc if k != "checks"})
    r = run("conformance", "mock:a", "--twin", "mock:b")
    t.ok(r.rc == 0 and r.out.count(b"\nPASS ") == 23 and
         b"23 checks: 23 pass, 0 fail, 0 deviation, 0 skipped" in r.out,
         "text: a line a check, and the tally", r)


def test_mtty_like(t):
    r, doc = report("mock:a," + MTTY, "--twin", "mock:b," + MTTY)
    v = verdicts(doc)
    odd = {k: x for k, x in v.items() if x != "pass"}
    t.ok(r.rc == 0 and odd == {"data.precopy-temporary-end": "deviation",
                                "reset.flag-advertised": "deviation"},
         "like mtty: the temporary end and the reset flag are deviations, exit 0", odd)
    r = run("conformance", "mock:a," + MTTY)
    t.ok(r.rc == 0 and b"DEVIATION  data.precopy-temporary-end" in r.out and
         b"           rule: a read of a PRE_COPY data fd" in r.out and b"for a VMM:" in r.out,
         "text: a deviation is followed by its rule and what it means for a VMM", r)
    skipped = [k for k, x in v.items() if x == "skip"]
    r, doc = report("mock:a," + MTTY)
    t.ok(r.rc == 0 and sum(1 for x in verdicts(doc).values() if x == "skip") == 5 and
         all(c["detail"].startswith("no twin") for c in doc["checks"] if c["area"] == "twin"),
         "without --twin the five twin checks are skipped, saying why", skipped)


def test_xe(t):
    """The committed report of a device without PRE_COPY (issue #27): the
    mock's personality=xe passes every check that applies and skips the
    pre-copy ones, each saying why."""
    want = open(os.path.join(SRC, "tests", "cli", "conformance-xe.expected")).read()
    r = run("conformance", "mock:a,personality=xe", "--twin", "mock:b,personality=xe")
    got = "\n".join(l for l in r.out.decode().splitlines()[3:] if l) + "\n"
    t.ok(r.rc == 0 and got == want,
         "personality=xe gives the committed report (tests/cli/conformance-xe.expected)",
         "".join("%s%s\n" % (m, l) for m, l in
                 [("-", l) for l in want.splitlines() if l not in got.splitlines()] +
                 [("+", l) for l in got.splitlines() if l not in want.splitlines()]))
    r, doc = report("mock:a,personality=xe", "--twin", "mock:b,personality=xe")
    skips = {c["id"]: c["detail"] for c in doc["checks"] if c["verdict"] == "skip"} if doc else {}
    t.ok(sorted(skips) == ["data.initial-bytes", "data.precopy-info-outside",
                           "data.precopy-temporary-end"] and
         all(d == "the device has no PRE_COPY" for d in skips.values()),
         "personality=xe: the three pre-copy checks are skipped with the reason", skips)


def test_failure(t):
    r, doc = report("mock:a,bug=no-eof")
    v = verdicts(doc)
    t.ok(r.rc == 1 and v.get("data.stop-copy-end") == "fail" and doc["summary"]["fail"] == 1 and
         r.err == b"", "a broken rule: that check fails, exit 1, the whole report printed",
         (r.rc, v.get("data.stop-copy-end"), doc and doc.get("summary"), r.err))
    r = run("conformance", "mock:a,bug=no-eof")
    t.ok(r.rc == 1 and b"FAIL       data.stop-copy-end" in r.out and
         b"checks failed" in r.err, "text: the FAIL line on stdout, the error on stderr", r)


def test_only(t):
    r, doc = report("mock:a", "--only", "data", "--only", "reset,features")
    areas = {c["area"] for c in doc["checks"]} if doc else set()
    t.ok(r.rc == 0 and areas == {"data", "reset", "features"} and len(doc["checks"]) == 13,
         "--only: the areas named, repeated or in a list", areas)
    r, doc = report("mock:a", "--only", "twin")
    t.ok(r.rc == 0 and set(verdicts(doc).values()) == {"skip"},
         "--only twin without --twin: every check skipped", doc)


def test_usage(t):
    usage_error(t, run("conformance"), ["missing DEVICE"], "no device: usage error")
    usage_error(t, run("conformance", "mock:a", "--only", "bogus"),
                ["unknown area 'bogus'", "features"], "--only bogus: usage error naming the areas")
    usage_error(t, run("conformance", "mock:a", "--twin", "mock:a"), ["'mock:a' is named twice"],
                "--twin DEVICE itself: usage error")
    usage_error(t, run("conformance", "--list", "mock:a"), ["unexpected argument"],
                "--list takes no device")
    r = run("conformance", "mock:a", "--twin", "mock:b,flags=stop_copy")
    t.ok(r.rc == 1 and b"not of the same kind" in r.err and r.out == b"",
         "a twin with other flags: refused before any check", r)
    r = run("conformance", "mock:a,size=oops")
    t.ok(r.rc == 2 and b"size" in r.err, "a bad mock spec: usage error", r)


# Every arc takes 200 ms: a whole run with a twin takes about a minute.
SLOW = "mock:a,arc=200ms"
SLOW_TWIN = "mock:b,arc=200ms"


def interrupted(args, sigs, gap=0.1):
    """Runs vfiomig-ctl ARGS; once it catches SIGINT and has run a second,
    sends @sigs (@gap apart).  Returns (rc, stdout, stderr, the seconds from
    the first signal to its end); a run still going 20 s later is killed."""
    p = subprocess.Popen([CTL] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=base_env())
    deadline = time.monotonic() + 30
    while not catches(p.pid, signal.SIGINT) and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(1)  # some checks done, one under way
    sent = time.monotonic()
    for i, sig in enumerate(sigs):
        if i:
            time.sleep(gap)
        p.send_signal(sig)
    try:
        out, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        err += b"\n(killed: still running 20 s after the signal)"
    return p.returncode, out, err, time.monotonic() - sent


def test_interrupt(t, cat):
    rc, out, err, took = interrupted(["conformance", SLOW, "--twin", SLOW_TWIN], [signal.SIGINT])
    diag = "rc %s, %.1f s\nstdout %s\nstderr %s" % (rc, took, out.decode(), err.decode())
    t.ok(rc == 130 and took < 2, "SIGINT: the run stops within 2 s and exits 130", diag)
    done = re.findall(rb"^(?:PASS|FAIL|DEVIATION|SKIP) +(\S+):", out, re.M)
    ids = [c["id"].encode() for c in cat]
    t.ok(0 < len(done) < len(ids) and done == ids[:len(done)] and
         ("%d %s: %d pass, 0 fail, 0 deviation, 0 skipped; %d not run: interrupted by SIGINT\n" %
          (len(done), "check" if len(done) == 1 else "checks", len(done),
           len(ids) - len(done))).encode() in out,
         "SIGINT: the checks that ran are printed, and how many did not", diag)
    t.ok(one_line(err) and err.decode().startswith(
        "vfiomig-ctl: conformance %s: cancelled after %d of %d checks; the device is back in "
        "RUNNING (reset); its twin %s is back in RUNNING (reset)" %
        (SLOW, len(done), len(ids), "mock:b")), "SIGINT: one line says where both devices are",
         diag)
    rc, out, err, took = interrupted(["--json", "conformance", SLOW, "--only", "arcs,reset"],
                                     [signal.SIGTERM])
    try:
        doc = json.loads(out)
    except ValueError:
        doc = {}
    cut = doc.get("interrupted") or {}
    t.ok(rc == 143 and took < 2 and err == b"" and cut.get("signal") == "SIGTERM" and
         cut.get("not_run") == 6 - len(doc.get("checks", [])) and
         "the device is back in RUNNING" in cut.get("message", ""),
         "SIGTERM, --json: the report of the checks that ran, with what cut it short",
         (rc, took, out, err))
    r, doc = report("mock:a", "--only", "features")
    t.ok(r.rc == 0 and doc and doc.get("interrupted", 0) is None,
         "--json: a run that finished says interrupted: null", r)


def test_second_interrupt(t):
    # arc=1s: a step takes seconds, so the second signal lands before the end
    rc, out, err, took = interrupted(["conformance", "mock:a,arc=1s", "--twin", "mock:b,arc=1s"],
                                     [signal.SIGINT, signal.SIGINT])
    t.ok(rc == -signal.SIGINT and one_line(err) and err == (
        b"vfiomig-ctl: conformance: killed by a second SIGINT: mock:a,arc=1s and its twin "
        b"mock:b,arc=1s may be left in any state: reset both before use\n") and out == b"",
         "a second SIGINT: one line says what may be left where, and it kills by SIGINT",
         (rc, out, err))


def test_docs(t, cat):
    path = os.path.join(SRC, "docs", "conformance.md")
    text = open(path).read() if os.path.exists(path) else ""
    missing = [c["id"] for c in cat if "`%s`" % c["id"] not in text]
    t.ok(text and not missing, "docs/conformance.md names every check", missing)
    extra = sorted(set(re.findall(r"`((?:%s)\.[a-z0-9-]+)`" % "|".join(AREAS), text)) -
                   {c["id"] for c in cat})
    t.ok(not extra, "docs/conformance.md names no check that does not exist", extra)


def test_completion(t):
    t.ok(complete("vfiomig-ctl conf") == ["conformance"], "completion: the command", None)
    got = complete("vfiomig-ctl conformance mock:a --only ")
    t.ok(got == sorted(AREAS), "completion: --only AREA", got)
    got = complete("vfiomig-ctl conformance mock:a --")
    t.ok(all(o in got for o in ("--twin", "--only", "--list")), "completion: the options", got)


def main():
    t = Tap()
    cat = catalogue()
    test_list(t, cat)
    test_clean(t, cat)
    test_mtty_like(t)
    test_xe(t)
    test_failure(t)
    test_only(t)
    test_usage(t)
    test_interrupt(t, cat)
    test_second_interrupt(t)
    test_docs(t, cat)
    test_completion(t)
    t.done()


main()
