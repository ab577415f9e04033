#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vfiomig-ctl usage: help, version, and every usage error exits 2 with one
line on stderr (never the whole help), or one JSON error with --json (on
stderr too: stdout may be a pipe that carries a stream)."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli import Tap, COMMANDS, run, one_line  # noqa: E402

USAGE_ERRORS = [
    ([], "no command given"),
    (["bogus"], "unknown command 'bogus'"),
    (["--bogus", "info", "mock:a"], "unknown option '--bogus'"),
    (["-x", "info", "mock:a"], "unknown option '-x'"),
    (["info"], "missing DEVICE"),
    (["state"], "missing DEVICE"),
    (["reset"], "missing DEVICE"),
    (["save"], "missing DEVICE"),
    (["load"], "missing DEVICE"),
    (["migrate"], "missing SRC"),
    (["migrate", "mock:a"], "missing DST"),
    (["info", "mock:a", "extra"], "unexpected argument 'extra'"),
    # of several arguments, the last is the target
    (["state", "mock:a", "STOP", "extra"], "'extra' is not a state"),
    (["reset", "mock:a", "extra"], "unexpected argument 'extra'"),
    (["list", "extra"], "unexpected argument 'extra'"),
    (["inspect", "a", "b"], "unexpected argument 'b'"),
    (["migrate", "mock:a", "mock:b", "mock:c"], "unexpected argument 'mock:c'; to migrate "
     "several devices, put the destinations after --to"),
    # several devices are a group: each named once, counts that match, no --raw
    (["save", "mock:a", "mock:b", "mock:a", "-o", "/dev/null"], "'mock:a' is named twice"),
    (["save", "mock:a", "mock:a,size=1M", "-o", "/dev/null"], "both name mock:a"),
    (["load", "mock:a", "mock:a", "-i", "/dev/null"], "'mock:a' is named twice"),
    (["save", "--raw", "mock:a", "mock:b", "-o", "/dev/null"], "save each device on its own"),
    (["load", "--raw", "mock:a", "mock:b", "-i", "/dev/null"], "--raw reads bare device bytes"),
    (["migrate", "mock:a", "mock:b", "--to", "mock:c"], "2 sources but 1 destination"),
    (["migrate", "mock:a", "--to", "mock:c", "mock:d"], "1 source but 2 destinations"),
    (["migrate", "--to", "mock:c"], "missing SRC before --to"),
    (["migrate", "mock:a", "--to"], "missing DST after --to"),
    (["migrate", "mock:a", "--to", "mock:b", "--to", "mock:c"], "--to given twice"),
    # one rule for a device named twice, whatever the command, compared by
    # the device each spec opens (vfiomig_dev_is_same()), not by the string
    (["migrate", "mock:a", "mock:b", "--to", "mock:b", "mock:c"], "'mock:b' is named twice"),
    (["migrate", "mock:a", "mock:b", "--to", "mock:c", "mock:a,state=stop"],
     "'mock:a' and 'mock:a,state=stop' both name mock:a"),
    (["migrate", "mock:a", "mock:a"], "'mock:a' is named twice"),
    (["migrate", "mock:a", "mock:a,state=stop"], "'mock:a' and 'mock:a,state=stop' both name mock:a"),
    (["state", "mock:a", "mock:a", "stop"], "'mock:a' is named twice"),
    (["state", "mock:a", "mock:b", "mock:a,size=1M", "stop"],
     "'mock:a' and 'mock:a,size=1M' both name mock:a"),
    (["load", "mock:a,state=stop", "mock:a", "-i", "/dev/null"],
     "'mock:a,state=stop' and 'mock:a' both name mock:a"),
    (["conformance", "mock:a", "--twin", "mock:a,size=1M"],
     "'mock:a' and 'mock:a,size=1M' both name mock:a"),
    (["migrate", "mock:a", "mock:b", "--to", "mock:c", "mock:c"], "'mock:c' is named twice"),
    (["save"] + ["mock:d%d" % i for i in range(65)] + ["-o", "/dev/null"], "at most 64"),
    (["state", "mock:a", "bogus"], "'bogus' is not a state"),
    (["state", "mock:a", "STOPCOPY"], "'STOPCOPY' is not a state"),
    (["state", "mock:a", ""], "'' is not a state"),
    (["save", "mock:a", "--precopy=abc", "-o", "/dev/null"], "--precopy=abc"),
    (["save", "mock:a", "--precopy=", "-o", "/dev/null"], "--precopy="),
    (["save", "mock:a", "--precopy=0", "-o", "/dev/null"], "--precopy=0"),
    (["save", "mock:a", "--precopy=-1", "-o", "/dev/null"], "--precopy=-1"),
    (["save", "mock:a", "--precopy=3x", "-o", "/dev/null"], "--precopy=3x"),
    (["migrate", "mock:a", "mock:b", "--precopy=sometimes"], "--precopy=sometimes"),
    (["save", "mock:a", "--leave", "resuming", "-o", "/dev/null"], "--leave resuming"),
    (["load", "mock:a", "--leave", "bogus", "-i", "/dev/null"], "--leave bogus"),
    (["save", "mock:a", "-o"], "option '-o' needs a value"),
    (["save", "mock:a", "-o", "/dev/null", "-o", "/dev/null"], "-o/--output given twice"),
    (["load", "mock:a", "-i", "/dev/null", "--input", "/dev/null"], "-i/--input given twice"),
    (["save", "mock:a", "--precopy", "4", "-o", "/dev/null"], "write --precopy=4"),
    (["info", "mock:a,size=abc"], "size=abc is not a number"),
    (["help", "bogus"], "unknown command 'bogus'"),
    (["load", "mock:a", "--input"], "option '--input' needs a value"),
    (["info", "--bogus", "mock:a"], "unknown option '--bogus'"),
    (["info", "-z", "mock:a"], "unknown option '-z'"),
    (["info", "--json=yes", "mock:a"], "option '--json' takes no value"),
    (["load", "mock:a", "--precopy", "-i", "/dev/null"], "unknown option '--precopy'"),
    (["save", "mock:a", "--force", "-o", "/dev/null"], "unknown option '--force'"),
    (["inspect", "--backend", "mlx5", "/dev/null"], "add --raw"),
    (["inspect", "--raw", "--backend", "nvidia", "/dev/null"], "--backend nvidia"),
    (["inspect", "--raw", "--backend"], "option '--backend' needs a value"),
]


def one_document(r):
    """The one JSON document on stdout of a run that succeeded, or None."""
    try:
        return r.json() if r.rc == 0 and r.err == b"" else None
    except ValueError:
        return None


def test_json_help(t):
    """--json applies to every command: help and --version too, each one
    document whose "text" is what the plain form prints."""
    text = run("--help").text
    for args in (["--json", "help"], ["--json", "--help"], ["-h", "--json"], ["help", "--json"]):
        doc = one_document(run(*args))
        t.ok(doc and doc["program"] == "vfiomig-ctl" and doc["text"] == text and
             [c["name"] for c in doc["commands"]] == COMMANDS and
             all(c["brief"] and "arguments" in c for c in doc["commands"]),
             "%s: one JSON document, every command, and the text of --help" % " ".join(args),
             run(*args))
    version = run("--version").text
    for args in (["--json", "--version"], ["--version", "--json"]):
        doc = one_document(run(*args))
        t.ok(doc == {"program": "vfiomig-ctl", "version": version.split()[1]},
             "%s: {program, version}" % " ".join(args), run(*args))
    for c in COMMANDS:
        text = run("help", c).text
        for args in (["--json", "help", c], [c, "--help", "--json"]):
            doc = one_document(run(*args))
            t.ok(doc and doc["command"] == c and doc["text"] == text and
                 text.startswith("Usage: " + doc["usage"] + "\n") and
                 doc["summary"] in text and (doc["options"] is None or doc["options"] in text),
                 "%s: the command's usage, summary, options and text" % " ".join(args),
                 run(*args))


def main():
    t = Tap()

    r = run("--help")
    t.ok(r.rc == 0 and r.text.startswith("Usage: vfiomig-ctl") and not r.err,
         "--help exits 0 with the usage on stdout", r)
    t.ok(all(("  %s " % c) in r.text for c in COMMANDS), "--help lists every command", r)
    r = run("-h")
    t.ok(r.rc == 0 and "Usage:" in r.text, "-h is --help", r)
    r = run("--version")
    t.ok(r.rc == 0 and r.text.startswith("vfiomig-ctl ") and r.text.count("\n") == 1,
         "--version prints one line", r)
    for c in COMMANDS:
        r = run(c, "--help")
        t.ok(r.rc == 0 and r.text.startswith("Usage: vfiomig-ctl [OPTIONS] " + c) and not r.err,
             "%s --help exits 0 with its usage" % c, r)
    r = run("save", "--help")
    t.ok("--precopy" in r.text and "--leave" in r.text and "--raw" in r.text,
         "save --help names its options", r)

    for args, words in USAGE_ERRORS:
        r = run(*args)
        name = "usage error exits 2: %s" % (" ".join(args) or "(nothing)")
        t.ok(r.rc == 2 and one_line(r.err) and words in r.errtext and
             r.errtext.startswith("vfiomig-ctl: ") and "see vfiomig-ctl --help" in r.errtext and
             "Usage:" not in r.errtext and r.out == b"", name, r)

    for args, words in USAGE_ERRORS:
        r = run("--json", *args)
        name = "--json usage error is one JSON error on stderr: %s" % (" ".join(args) or "(nothing)")
        try:
            # stderr: stdout may be a pipe whose reader takes it for a stream
            doc = json.loads(r.err.decode())
            good = (r.rc == 2 and list(doc) == ["error"] and doc["error"]["errno"] == 22 and
                    words in doc["error"]["message"] and r.out == b"")
        except ValueError as e:
            good, r.err = False, r.err + str(e).encode()
        t.ok(good, name, r)

    test_json_help(t)

    # Global options work after the command too, and before it.
    r = run("info", "mock:a", "--json")
    t.ok(r.rc == 0 and r.json()["device"] == "mock:a", "--json after DEVICE", r)
    r = run("--json", "-q", "info", "mock:a")
    t.ok(r.rc == 0 and r.json()["state"] == "RUNNING", "--json -q before the command", r)
    r = run("info", "--", "mock:a")
    t.ok(r.rc == 0, "-- ends the options", r)
    t.done()


main()
