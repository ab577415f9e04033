#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vfiomig-ctl's output discipline: every write to stdout is checked (a
closed stdout or a reader that went away is exit 1 with a message, never
death by SIGPIPE), a failure prints nothing on stdout but its --json
error, and --json prints exactly one document for every command."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli import Tap, CTL, run, base_env, tmpdir, TIMEOUT  # noqa: E402


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

    # Strings with control characters and non-ASCII bytes stay valid JSON.
    r = run("--json", "info", b"mock:a,foo\x01=\xc3\xa9\x1b[31m\xff")
    out = r.err if r.rc == 2 and r.out == b"" else r.out  # a usage error: on stderr
    try:
        msg = json.loads(out.decode())["error"]["message"]
        good = (r.rc in (1, 2) and "\x01" in msg and "\x1b" in msg and "\u00e9" in msg and
                "\ufffd" in msg and b"\\u0001" in out and b"\xc3\xa9" in out)
    except ValueError:
        good = False
    t.ok(good, "--json escapes control characters and passes UTF-8 through", r)

    os.unlink(f)
    os.rmdir(tmp)
    t.done()


main()
