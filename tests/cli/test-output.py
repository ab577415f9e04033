#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vfiomig-ctl's output discipline: every write to stdout is checked (a
closed stdout or a reader that went away is exit 1 with a message, never
death by SIGPIPE), a failure prints nothing on stdout but its --json
error, and --json prints exactly one document for every command.  And its
words (issue #23, item 10): a number agrees with its noun, a stream offset
never trails advice, a device is named once, a spec of no known form is a
usage error, a rollback is said once, and a control character in a name is
shown as a C escape in every line, text and JSON's messages."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli import Tap, CTL, run, base_env, one_line, tmpdir, TIMEOUT  # noqa: E402

HEADER = 32     # a record header (docs/stream-format.md)


def test_words(t, tmp):
    f = os.path.join(tmp, "w.vfm")
    r = run("save", "mock:a,size=64K", "-o", f)
    data = open(f, "rb").read()
    identity = run("--json", "inspect", f).json()["record_types"]["IDENTITY"]["bytes"]
    cut = os.path.join(tmp, "cut.vfm")
    open(cut, "wb").write(data[:16 + HEADER + identity])
    r = run("inspect", cut)
    t.ok(r.rc == 1 and "stream truncated: no trailer after 1 record\n" in r.text,
         "inspect: no trailer after 1 record (not '1 records')", r)
    one = os.path.join(tmp, "one.bin")
    open(one, "wb").write(b"X")
    r = run("inspect", one)
    t.ok(r.rc == 1 and "size:          1 B (1 byte)\n" in r.text, "inspect: 1 byte", r)
    r = run("dirty", "mock:a,dirtylog=1", "start", "0:1M", "--report", "0x200000:4K",
            "--count", "1")
    t.ok(r.rc == 1 and "not inside the session's 1 range (" in r.errtext and
         "1 ranges" not in r.errtext, "dirty: the session's 1 range", r)

    # The offset leads: "use --raw at stream offset 0" read as advice.
    for args in (["load", "mock:a", "-i", one], ["inspect", one]):
        r = run(*args)
        t.ok(r.rc == 1 and one_line(r.err) and "at stream offset" not in r.errtext.split(
            "use --raw")[-1] and ("at stream offset 0: not a vfiomig stream" in r.errtext or
                                  "invalid stream at offset 0: not a vfiomig stream" in r.errtext),
             "%s: the offset comes before the problem and its advice" % args[0], r)

    # A device named once; a spec of no form a usage error, as a bad mock: spec.
    r = run("info", "0000:ff:1f.7")
    t.ok(r.rc == 1 and r.errtext.count("0000:ff:1f.7") == 2 and
         r.errtext.startswith("vfiomig-ctl: info 0000:ff:1f.7: no such device ("),
         "info of a missing device: named once, then the path it looked for", r)
    for spec in ("mock", "mock:"):
        r = run("info", spec)
        t.ok(r.rc == 2 and one_line(r.err) and r.errtext.count("'%s'" % spec) == 1,
             "info %s: a usage error, exit 2, the spec named once" % spec, r)

    # -v: one rollback, said once.
    for extra in ([], ["--precopy=1"]):
        r = run("-v", "save", *extra, "mock:a,fail=read:2:EIO", "mock:b", "-o", f)
        t.ok(r.rc == 1 and r.errtext.count("rolled back") == 1,
             "-v save %s of a group that fails: 'rolled back' once" % " ".join(extra), r)

    # A newline in a file name: shown as \n, in every line.
    nl = os.path.join(tmp, "a\nb.vfm")
    r = run("save", "mock:a", "-o", nl)
    t.ok(r.rc == 0 and "\nfile:         %s/a\\nb.vfm\n" % tmp in r.text,
         "save's summary: the file's newline shown as \\n", r)
    r = run("-v", "load", "mock:b", "-i", nl)
    t.ok(r.rc == 0 and "%s/a\\nb.vfm: the whole stream" % tmp in r.errtext and
         r.errtext.count("\n") == 1, "load's message: one line", r)
    r = run("inspect", nl + "x")
    t.ok(r.rc == 1 and one_line(r.err) and ("inspect %s/a\\nb.vfmx: cannot open" % tmp) in
         r.errtext, "an error about it: one line", r)
    r = run("--json", "inspect", nl + "x")
    try:
        msg = r.json()["error"]["message"]
    except (ValueError, KeyError):
        msg = ""
    t.ok(("inspect %s/a\\nb.vfmx: cannot open" % tmp) in msg,
         "--json: the message shows it as the text does", r)
    r = run("--json", "inspect", nl)
    t.ok(r.rc == 0 and r.json()["file"] == nl, "--json: the file's name itself, as data", r)
    other = os.path.join(tmp, "it's\there.vfm")
    run("save", "mock:a,size=1M", "-o", other)
    r = run("load", "mock:b,size=2M", "-i", other)
    t.ok(r.rc == 1 and one_line(r.err) and
         r.errtext.endswith(" inspect $'%s/it\\'s\\there.vfm'\n" % tmp),
         "the command to run quotes a name with a tab as $'...'", r)
    for name in (f, cut, one, nl, other):
        os.unlink(name)


def run_fds(args, stdout_fd=None, close_stdout=False):
    """Runs with stdout on @stdout_fd, or closed."""
    def closer():
        if close_stdout:
            os.close(1)
    p = subprocess.run([CTL] + args, stdin=subprocess.DEVNULL,
                       stdout=stdout_fd if stdout_fd is not None else None,
                       stderr=subprocess.PIPE, env=base_env(), timeout=TIMEOUT,
                       preexec_fn=closer)
    return p.returncode, p.stderr.decode()


def broken_pipe(args):
    r, w = os.pipe()
    os.close(r)
    try:
        return run_fds(args, stdout_fd=w)
    finally:
        os.close(w)


def main():
    t = Tap()
    tmp = tmpdir()
    f = os.path.join(tmp, "s.bin")
    run("-q", "save", "mock:a,size=1M", "-o", f)

    for args in (["info", "mock:a"], ["--json", "info", "mock:a"], ["state", "mock:a", "stop"],
                 ["--help"], ["inspect", f]):
        rc, err = run_fds(args, close_stdout=True)
        # a command is refused before it does anything; --help has nothing to undo
        said = "writing to stdout failed: Bad file descriptor" if args == ["--help"] else \
            "stdout is closed, so what the command prints would be lost; nothing was done"
        t.ok(rc == 1 and said in err and err.count("\n") == 1,
             "closed stdout: exit 1 with a message: %s" % " ".join(args), err)
        rc, err = broken_pipe(args)
        t.ok(rc == 1 and "writing to stdout failed: Broken pipe" in err,
             "stdout reader gone: exit 1 (EPIPE), not SIGPIPE: %s" % " ".join(args), (rc, err))

    rc, err = broken_pipe(["save", "mock:a,size=4M", "-o", "-"])
    t.ok(rc == 1 and "the reader went away" in err and err.count("\n") == 1,
         "save -o - to a reader that went away: exit 1, one line", (rc, err))
    rc, err = run_fds(["save", "mock:a", "-o", "-"], close_stdout=True)
    t.ok(rc == 1 and "stdout is closed" in err, "save -o - with stdout closed: exit 1", (rc, err))
    before = open(f, "rb").read()
    rc, err = run_fds(["save", "mock:b", "-o", f], close_stdout=True)
    t.ok(rc == 1 and "stdout is closed" in err and open(f, "rb").read() == before,
         "save -o FILE with stdout closed: refused before the device or the file is touched",
         (rc, err))

    # A failure prints nothing on stdout in text mode, one document in JSON.
    r = run("state", "mock:a", "error")
    t.ok(r.rc == 1 and r.out == b"", "failure: nothing on stdout", r)

    commands = [
        ["list"], ["info", "mock:a"], ["state", "mock:a"], ["state", "mock:a", "stop"],
        ["reset", "mock:a"], ["save", "mock:a", "-o", f], ["load", "mock:b", "-i", f],
        ["migrate", "mock:a", "mock:b", "--precopy"], ["inspect", f],
        ["info", "mock:a,foo=1"], ["state", "mock:a", "error"], ["load", "mock:b", "-i", "/dev/null"],
        ["inspect", "/dev/null"], ["bogus"],
        # groups, and a group's failure
        ["save", "mock:a", "mock:b", "-o", f], ["load", "mock:c", "mock:d", "-i", f],
        ["migrate", "mock:a", "mock:b", "--to", "mock:c", "mock:d"],
        ["load", "mock:c", "mock:d,fail=write:1:EIO", "-i", f],
    ]
    for args in commands:
        r = run("--json", *args)
        # a usage error's document is on stderr, never where a pipeline's
        # next command reads (stdout empty)
        out = r.err if r.rc == 2 and r.out == b"" else r.out
        try:
            doc = json.loads(out.decode())
            good = isinstance(doc, (dict, list)) and (out.endswith(b"}\n") or out.endswith(b"]\n"))
        except ValueError as e:
            good, r.err = False, r.err + str(e).encode()
        t.ok(good, "--json %s: exactly one JSON document (exit %d)" % (" ".join(args), r.rc), r)

    # Strings with control characters and non-ASCII bytes stay valid JSON; the
    # message is the text's line, its control characters shown as C escapes.
    r = run("--json", "info", b"mock:a,foo\x01=\xc3\xa9\x1b[31m\xff")
    out = r.err if r.rc == 2 and r.out == b"" else r.out  # a usage error: on stderr
    text = run("info", b"mock:a,foo\x01=\xc3\xa9\x1b[31m\xff").errtext
    try:
        msg = json.loads(out.decode())["error"]["message"]
        good = (r.rc in (1, 2) and "\\x01" in msg and "\\x1b[31m" in msg and
                "\x01" not in msg and "\x1b" not in msg and "\u00e9" in msg and
                "\ufffd" in msg and b"\xc3\xa9" in out and
                text == "vfiomig-ctl: " + msg + "\n")
    except (ValueError, UnicodeError):
        good = False
    t.ok(good, "--json: the message's control characters shown as in text (\\x1b), UTF-8 "
         "passed through", (r, text))

    os.unlink(f)
    test_words(t, tmp)
    os.rmdir(tmp)
    t.done()


main()
