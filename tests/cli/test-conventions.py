#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vfiomig-ctl's command-line conventions:

- an interrupt (SIGINT, SIGTERM, SIGHUP) exits 128 + the signal from every
  command, and the output still says where the devices really are;
- usage errors exit 2: a mock spec that cannot be parsed, a second -o or
  -i, --precopy with its value as the next word; messages name options;
- `vfiomig-ctl help [COMMAND]` is --help and COMMAND --help;
- the bash completion offers no ERROR target to `state`.

Interrupts wait for the signal handler to be installed (SigCgt in
/proc/PID/status), not for a time, and the commands are made slow by the
mock's rate= and arc=, so nothing depends on how loaded the machine is."""

import errno
import fcntl
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli import Tap, Result, CTL, SRC, TIMEOUT, COMMANDS, run, one_line, tmpdir, base_env, complete, catches  # noqa: E402

SIGNALS = [(signal.SIGINT, 130), (signal.SIGTERM, 143)]


def interrupt(args, sig, stdin=subprocess.DEVNULL, ready=None):
    """Runs vfiomig-ctl ARGS, sends @sig once it catches it (and
    @ready(proc) has returned, if given), and returns how it ended."""
    argv = [CTL] + args
    proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=base_env())
    if ready:
        ready(proc)
    deadline = time.monotonic() + TIMEOUT / 2
    while not catches(proc.pid, sig) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # let it get going; nothing below depends on how far
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=TIMEOUT / 4)
    except subprocess.TimeoutExpired:  # it ignored the signal
        proc.kill()
        out, err = proc.communicate()
        err += b"\n(killed: still running long after the signal)"
    return Result(argv, proc.returncode, out, err)


def error_of(r):
    """The JSON error: on stdout, or a usage error's on stderr (test-usage.py)."""
    try:
        return json.loads((r.err if r.rc == 2 else r.out).decode())["error"]
    except (ValueError, KeyError, TypeError):
        return {}


def sig_name(sig):
    return signal.Signals(sig).name


def check_cancelled(t, r, sig, rc, what, sources, destinations=()):
    """A cancelled command in JSON: exit 128 + sig, errno ECANCELED, and
    error.states has every device where it really is: the sources back as
    they started (RUNNING), no destination running with partial state."""
    e = error_of(r)
    states = e.get("states", {})
    t.ok(r.rc == rc, "%s, %s: exit %d" % (what, sig_name(sig), rc), r)
    t.ok(e.get("errno") == 125 and "cancelled" in e.get("message", "") and
         all(states.get(s) == "RUNNING" for s in sources) and
         all(d in states and states[d] != "RUNNING" for d in destinations),
         "%s, %s: error.states says where each device is" % (what, sig_name(sig)), r)


def test_interrupts(t, tmp):
    one = os.path.join(tmp, "one.vfm")
    two = os.path.join(tmp, "two.vfm")
    r = run("save", "mock:a,size=8M", "-o", one)
    t.ok(r.rc == 0, "a stream to load", r)
    r = run("save", "mock:a,size=4M", "mock:b,size=4M", "-o", two)
    t.ok(r.rc == 0, "a group's stream to load", r)
    out = os.path.join(tmp, "out.vfm")

    for sig, rc in SIGNALS:
        # A save that would take 8 s, of one device and of a group.
        r = interrupt(["--json", "save", "mock:a,size=64M,rate=8M", "-o", out], sig)
        check_cancelled(t, r, sig, rc, "save", ["mock:a"])
        r = interrupt(["--json", "save", "mock:a,size=32M,rate=8M", "mock:b,size=32M,rate=8M",
                       "--precopy", "-o", out], sig)
        check_cancelled(t, r, sig, rc, "group save", ["mock:a", "mock:b"])
        # A load that would take 8 s: the devices never run with part of a state.
        r = interrupt(["--json", "load", "mock:a,size=8M,rate=1M", "-i", one], sig)
        check_cancelled(t, r, sig, rc, "load", [], ["mock:a"])
        r = interrupt(["--json", "load", "mock:a,size=4M,rate=512K", "mock:b,size=4M,rate=512K",
                       "-i", two], sig)
        check_cancelled(t, r, sig, rc, "group load", [], ["mock:a", "mock:b"])
        # Device to device: the source goes back to RUNNING.
        r = interrupt(["--json", "migrate", "mock:a,size=64M,rate=8M", "mock:b,size=64M"], sig)
        check_cancelled(t, r, sig, rc, "migrate", ["mock:a"], ["mock:b"])
        r = interrupt(["--json", "migrate", "mock:a,size=32M,rate=8M", "mock:b,size=32M,rate=8M",
                       "--to", "mock:c,size=32M", "mock:d,size=32M", "--precopy"], sig)
        check_cancelled(t, r, sig, rc, "group migrate", ["mock:a", "mock:b"],
                        ["mock:c", "mock:d"])

    # In text: one line that says so, nothing on stdout.
    r = interrupt(["save", "mock:a,size=64M,rate=8M", "-o", out], signal.SIGINT)
    t.ok(r.rc == 130 and one_line(r.err) and r.out == b"" and
         r.errtext.endswith("save cancelled; the device is now in RUNNING\n"),
         "save, SIGINT, text: one line with the device's state", r)
    r = interrupt(["migrate", "mock:a,size=64M,rate=8M", "mock:b,size=64M"], signal.SIGTERM)
    t.ok(r.rc == 143 and one_line(r.err) and "cancelled" in r.errtext and
         "mock:b is in " in r.errtext, "migrate, SIGTERM, text: both devices' states", r)
    r = interrupt(["save", "mock:a,size=64M,rate=8M", "-o", out], signal.SIGHUP)
    t.ok(r.rc == 129, "save, SIGHUP: exit 129", r)


def test_interrupt_inspect(t, tmp):
    """inspect of a big stream that is still arriving: from stdin, and from
    a FIFO given as FILE.  The writer stays open, so the stream never ends
    unless the interrupt ends the reading."""
    stream = os.path.join(tmp, "big.vfm")
    r = run("save", "mock:a,size=4M", "-o", stream)
    t.ok(r.rc == 0, "a stream to inspect", r)
    head = open(stream, "rb").read()[:32768]  # less than a pipe holds

    for sig, rc in SIGNALS:
        rfd, wfd = os.pipe()
        os.write(wfd, head)
        try:
            r = interrupt(["inspect", "-"], sig, stdin=rfd)
        finally:
            os.close(rfd)
            os.close(wfd)
        t.ok(r.rc == rc and one_line(r.err) and r.out == b"" and
             "inspect stdin: inspection cancelled" in r.errtext,
             "inspect - (a pipe), %s: exit %d" % (sig_name(sig), rc), r)

        fifo = os.path.join(tmp, "fifo-%d" % sig)
        os.mkfifo(fifo)
        writer = []

        def feed(proc):
            # a writer can open the FIFO once inspect has: it is then reading
            deadline = time.monotonic() + TIMEOUT / 2
            while not writer and proc.poll() is None and time.monotonic() < deadline:
                try:
                    writer.append(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                except OSError as e:
                    if e.errno != errno.ENXIO:
                        raise
                    time.sleep(0.01)
            if writer:
                fcntl.fcntl(writer[0], fcntl.F_SETFL, os.O_WRONLY)
                os.write(writer[0], head)

        try:
            r = interrupt(["--json", "inspect", fifo], sig, ready=feed)
        finally:
            for fd in writer:
                os.close(fd)
            os.unlink(fifo)
        e = error_of(r)
        t.ok(r.rc == rc and e.get("errno") == 125 and
             "inspection cancelled" in e.get("message", ""),
             "inspect FIFO --json, %s: exit %d, one JSON error" % (sig_name(sig), rc), r)


def test_second_interrupt(t, tmp):
    """A second interrupt kills by its signal, as it always did, but first
    says in one line what it may leave where.  Every arc takes a while
    (arc=), so the second signal lands while the devices move."""
    stream = os.path.join(tmp, "second.vfm")
    r = run("save", "mock:s,size=1M", "-o", stream)
    t.ok(r.rc == 0, "a stream to load", r)
    stopped = "may be left stopped, or on the way back to where it started"
    back = stopped + "; see where with vfiomig-ctl state"
    loaded = "may be left holding part of the stream: reset before running"
    cases = [
        (["save", "mock:a,size=1M,arc=500ms", "-o", os.path.join(tmp, "k.vfm")],
         "save", "mock:a,size=1M,arc=500ms " + back),
        (["save", "mock:a,arc=500ms", "mock:b,arc=500ms", "-o", os.path.join(tmp, "k.vfm")],
         "save", "mock:a,arc=500ms and mock:b,arc=500ms " + back),
        (["load", "mock:s,size=1M,arc=500ms", "-i", stream], "load",
         "mock:s,size=1M,arc=500ms " + loaded),
        (["migrate", "mock:a,arc=500ms", "mock:b,arc=500ms"], "migrate",
         "mock:a,arc=500ms %s; mock:b,arc=500ms %s" % (stopped, loaded)),
        (["state", "mock:a,arc=1s", "stop_copy"], "state",
         "mock:a,arc=1s may be left anywhere on the way to STOP_COPY; see where with "
         "vfiomig-ctl state"),
    ]
    for args, cmd, what in cases:
        p = subprocess.Popen([CTL] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=base_env())
        deadline = time.monotonic() + TIMEOUT / 2
        while not catches(p.pid, signal.SIGINT) and p.poll() is None and \
                time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        time.sleep(0.1)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=TIMEOUT / 4)
        line = "vfiomig-ctl: %s: killed by a second SIGINT: %s\n" % (cmd, what)
        t.ok(p.returncode == -signal.SIGINT and err.decode() == line,
             "%s, a second SIGINT: one line of what may be left where, killed by SIGINT" %
             " ".join(args[:2]), (p.returncode, err, line))


def test_interrupt_uncancellable(t):
    """A state move is not cut short halfway: it completes, prints where the
    devices are, and still exits 128 + the signal."""
    for sig, rc in SIGNALS:
        r = interrupt(["state", "mock:a,arc=1s", "stop_copy"], sig)
        note = "vfiomig-ctl: state: interrupted by %s once it had completed\n" % sig_name(sig)
        t.ok(r.rc == rc and r.text == "RUNNING -> RUNNING_P2P -> STOP -> STOP_COPY\n" and
             r.errtext == note,
             "state, %s: completes, prints its path, exit %d" % (sig_name(sig), rc), r)
        r = interrupt(["--json", "state", "mock:a,arc=500ms", "mock:b,arc=500ms", "stop"], sig)
        try:
            devices = r.json()["devices"]
        except (ValueError, KeyError):
            devices = []
        t.ok(r.rc == rc and [d.get("to") for d in devices] == ["STOP", "STOP"],
             "group state --json, %s: the devices' states on stdout, exit %d" %
             (sig_name(sig), rc), r)


def usage_error(t, r, words, name):
    t.ok(r.rc == 2 and one_line(r.err) and words in r.errtext and
         "see vfiomig-ctl --help" in r.errtext and r.out == b"", name, r)


def test_mock_specs(t, tmp):
    stream = os.path.join(tmp, "spec.vfm")
    run("save", "mock:a,size=64K", "-o", stream)
    for args in (["info", "mock:a,size=abc"], ["state", "mock:a,bogus=1", "stop"],
                 ["reset", "mock:"], ["save", "mock:a", "mock:b,rate=x", "-o", "/dev/null"],
                 ["load", "mock:a,size=64K,fail=set:0:EIO", "-i", stream],
                 ["migrate", "mock:a", "mock:b,arc=5"]):
        usage_error(t, run(*args), "mock spec: ", "a bad mock spec is a usage error: %s" %
                    " ".join(args))
    r = run("--json", "info", "mock:a,size=abc")
    t.ok(r.rc == 2 and error_of(r).get("errno") == 22, "a bad mock spec --json: errno 22", r)
    # A malformed number is not called out of range, and the other way round.
    r = run("info", "mock:a,size=abc")
    t.ok("size=abc is not a number" in r.errtext and "out of range" not in r.errtext,
         "size=abc: not a number", r)
    r = run("info", "mock:a,size=65G")
    t.ok("size=65G out of range" in r.errtext and "not a number" not in r.errtext,
         "size=65G: out of range", r)
    r = run("info", "mock:a,arc=5")
    t.ok("out of range" not in r.errtext, "arc=5 (no unit): not out of range", r)
    # Failures to open that are not the spec's stay failures.
    r = run("info", "mock:a,fail=feature:1:EINVAL")
    t.ok(r.rc == 1 and one_line(r.err) and "see vfiomig-ctl --help" not in r.errtext,
         "a mock's injected -EINVAL is a failure, exit 1", r)
    for spec in ("0000:ff:1f.7", "/dev/vfio/devices/vfio4242"):
        r = run("info", spec)
        t.ok(r.rc == 1, "a device that cannot be opened: exit 1 (%s)" % spec, r)


def test_options(t, tmp):
    out = os.path.join(tmp, "o.vfm")
    for args in (["save", "mock:a", "-o", out, "-o", out],
                 ["save", "mock:a", "-o", out, "--output=" + out],
                 ["save", "mock:a", "--output", "-", "-o", out]):
        usage_error(t, run(*args), "-o/--output given twice", "save: %s" % " ".join(args[2:]))
    t.ok(not os.path.exists(out), "a refused save writes nothing")
    run("save", "mock:a", "-o", out)
    for args in (["load", "mock:a", "-i", out, "-i", out],
                 ["load", "mock:a", "--input", out, "-i", "-"]):
        usage_error(t, run(*args), "-i/--input given twice", "load: %s" % " ".join(args[2:]))

    # An optional value must follow '=': the next word would be a device.
    for args, value in ((["save", "mock:a", "--precopy", "4", "-o", out], "4"),
                        (["save", "mock:a", "--precopy", "never", "-o", out], "never"),
                        (["migrate", "mock:a", "mock:b", "--precopy", "2"], "2"),
                        (["migrate", "mock:a", "--precopy", "auto", "--to", "mock:b"], "auto")):
        usage_error(t, run(*args), "write --precopy=%s" % value,
                    "%s --precopy %s suggests --precopy=%s" % (args[0], value, value))
    r = run("save", "--precopy", "mock:a", "-o", out)
    t.ok(r.rc == 0, "save --precopy DEVICE: the device is not taken for a value", r)
    r = run("migrate", "mock:a", "--precopy", "mock:b")
    t.ok(r.rc == 0, "migrate SRC --precopy DST", r)

    # Messages name the option to use.
    master, slave = os.openpty()
    try:
        r = run("load", "mock:a", stdin=slave)
        usage_error(t, r, "give -i FILE or redirect stdin", "load from a terminal: give -i FILE")
        r = run("inspect", stdin=slave)
        usage_error(t, r, "give a FILE or redirect stdin", "inspect from a terminal: a FILE")
    finally:
        os.close(master)
        os.close(slave)
    raw = os.path.join(tmp, "raw.bin")
    r = run("save", "--raw", "mock:a,size=64K", "-o", raw)
    t.ok(r.rc == 0, "a raw stream", r)
    r = run("load", "mock:b,size=64K", "-i", raw)
    t.ok(r.rc == 1 and one_line(r.err) and "use --raw" in r.errtext and
         "raw mode" not in r.errtext, "load of a raw stream without --raw: use --raw", r)
    r = run("inspect", raw)
    t.ok(r.rc == 1 and "valid:         no, at offset 0: " in r.text and "use --raw" in r.text,
         "inspect of a raw stream without --raw: use --raw", r)


def test_help(t):
    r, h = run("help"), run("--help")
    t.ok(r.rc == 0 and r.out == h.out and r.err == b"" and r.text.startswith("Usage: "),
         "help is --help", r)
    t.ok("  help     " in h.text, "--help lists help", h)
    for c in COMMANDS:
        r, h = run("help", c), run(c, "--help")
        t.ok(r.rc == 0 and r.out == h.out and r.err == b"" and
             r.text.startswith("Usage: vfiomig-ctl [OPTIONS] %s" % c),
             "help %s is %s --help" % (c, c), r)
    usage_error(t, run("help", "bogus"), "unknown command 'bogus'", "help bogus: usage error")
    usage_error(t, run("help", "save", "load"), "unexpected argument 'load'",
                "help A B: usage error")
    r = run("--json", "help", "bogus")
    t.ok(r.rc == 2 and error_of(r).get("errno") == 22, "help bogus --json: one JSON error", r)


def test_completion(t):
    got = complete("vfiomig-ctl state mock:a ")
    t.ok("STOP_COPY" in got and "ERROR" not in got, "completion: no ERROR target for state", got)
    got = complete("vfiomig-ctl state mock:a,state=stop mock:b err")
    t.ok(got == [], "completion: nothing for 'err' (no ERROR)", got)
    got = complete("vfiomig-ctl help ")
    t.ok(got == sorted(COMMANDS), "completion: help COMMAND", got)
    got = complete("vfiomig-ctl he")
    t.ok(got == ["help"], "completion: the help command", got)


def main():
    t = Tap()
    tmp = tmpdir()
    test_mock_specs(t, tmp)
    test_options(t, tmp)
    test_help(t)
    test_completion(t)
    test_interrupt_uncancellable(t)
    test_second_interrupt(t, tmp)
    test_interrupt_inspect(t, tmp)
    test_interrupts(t, tmp)
    t.done()


main()
