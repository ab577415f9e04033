#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vfiomig-ctl tells the truth after a failure, in text and JSON alike:
- a failed migrate names where each device really is, by its role
  ("source mock:src is RUNNING again"), after a fault on either side, in a
  group, and after Ctrl-C;
- an identity mismatch names the fields that differ, even where both
  identities describe alike;
- a device that rejects a stream's very first data is said to have been
  given an incompatible device's state, with the commands that show both;
  a raw load speaks of no records;
- inspect says that input which is not a stream is none, gives a damaged
  stream's real size and how far it is valid, and counts a raw stream's
  devices in text as JSON does;
- what the line adds to the library's sentence (a subject, where each
  device is) follows the error's facts, never the sentence's words: with
  the sentences reworded (tests/cli/reword.c, LD_PRELOAD), the line changes
  in those words alone."""

import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli import Tap, CTL, TIMEOUT, base_env, run, one_line, tmpdir, catches  # noqa: E402

PROG = "vfiomig-ctl"
REWORD = os.environ.get("VFIOMIG_REWORD", "")
STATE_WORD = re.compile(r"\b(RUNNING_P2P|RUNNING|STOP_COPY|STOP|RESUMING|PRE_COPY_P2P|PRE_COPY|"
                        r"ERROR)\b")


def error(r):
    """error of a failed --json run, or {}."""
    try:
        return r.json()["error"]
    except (ValueError, KeyError):
        return {}


def tail(r):
    """What the error line says after the library's sentence: from the
    first "; source " on."""
    i = r.errtext.find("; source ")
    return r.errtext[i:] if i >= 0 else ""


def pair(r):
    """error.devices[0] of a failed single-device --json migrate, or {}."""
    devices = error(r).get("devices") or [{}]
    return devices[0] if len(devices) == 1 else {}


def interrupted(*args):
    """Runs vfiomig-ctl ARGS (a migrate that takes seconds), sends SIGINT
    once it is caught and the migrate is under way; (stdout, stderr)."""
    p = subprocess.Popen([CTL] + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=base_env())
    deadline = time.monotonic() + TIMEOUT / 2
    while not catches(p.pid, signal.SIGINT) and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.5)
    if p.poll() is None:
        p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=TIMEOUT)
    return out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def test_migrate_states(t):
    """Item 4: each device's real final state, by its role."""
    # A destination fault mid-stream: the source stopped, and runs again.
    args = ["migrate", "mock:src,size=1M", "mock:dst,size=1M,fail=write:2:EIO"]
    r = run(*args)
    t.ok(r.rc == 1 and one_line(r.err) and r.errtext.startswith(
         "vfiomig-ctl: migrate mock:dst: the device rejected the data of the record at ") and
         tail(r) == "; source mock:src is RUNNING again; destination mock:dst is in STOP\n",
         "migrate, destination fault: both devices' fates, by role", r)
    r = run("--json", *args)
    e, p = error(r), pair(r)
    t.ok(r.rc == 1 and e.get("states") == {"mock:src": "RUNNING", "mock:dst": "STOP"} and
         p.get("source") == "mock:src" and p.get("destination") == "mock:dst" and
         p.get("source_state") == "RUNNING" and p.get("destination_state") == "STOP" and
         (p.get("destination_error") or {}).get("errno") == 5,
         "migrate --json, destination fault: error.devices[] has the pair's roles and states", r)

    # A source fault: the save rolls itself back; the destination never ran.
    args = ["migrate", "mock:src,size=1M,fail=read:2:EIO", "mock:dst,size=1M"]
    r = run(*args)
    m = re.fullmatch(r"; source mock:src is RUNNING again; destination mock:dst is in "
                     r"(RUNNING|STOP)\n", tail(r))
    t.ok(r.rc == 1 and one_line(r.err) and
         r.errtext.startswith("vfiomig-ctl: migrate mock:src: reading device data failed") and
         m is not None, "migrate, source fault: both devices' fates, by role", r)
    r = run("--json", *args)
    e, p = error(r), pair(r)
    t.ok(r.rc == 1 and p.get("source_state") == "RUNNING" and
         p.get("destination_state") in ("RUNNING", "STOP") and
         e.get("states") == {"mock:src": p.get("source_state"),
                             "mock:dst": p.get("destination_state")} and
         p.get("source_error") == {"errno": 5, "message": "Input/output error"},
         "migrate --json, source fault: states and error.devices[] agree", r)

    # A group: every source, then every destination, in the order given.
    args = ["migrate", "mock:a,size=1M", "mock:b,size=1M", "--to", "mock:c,size=1M",
            "mock:d,size=1M,fail=write:2:EIO"]
    r = run(*args)
    t.ok(r.rc == 1 and one_line(r.err) and
         tail(r) == "; source mock:a is RUNNING again; source mock:b is RUNNING again; "
         "destination mock:c is in STOP; destination mock:d is in STOP\n",
         "migrate of a group, destination fault: every device's fate, by role", r)
    r = run("--json", *args)
    devices = error(r).get("devices", [])
    t.ok(r.rc == 1 and [(d["source_state"], d["destination_state"]) for d in devices] ==
         [("RUNNING", "STOP"), ("RUNNING", "STOP")],
         "migrate --json of a group: error.devices[] says the same", r)

    # The group's own failure (a cancel, the stream's) is the side's, not
    # its first device spec's.
    out, err = interrupted("migrate", "mock:a,size=64M,rate=32M", "mock:b,size=64M", "--to",
                           "mock:c,size=64M", "mock:d,size=64M")
    t.ok(re.search(r"migrate 2 sources: group save cancelled; .*; source mock:a is RUNNING "
                   r"again; source mock:b is RUNNING again; destination mock:c is in \w+; "
                   r"destination mock:d is in \w+\n$", err) is not None and
         "mock:a,size" not in err,
         "SIGINT during a group migrate: the sources' and destinations' fates", err)


def test_interrupt(t):
    """Item 4: Ctrl-C during a slow migrate reports both fates too."""
    out, err = interrupted("migrate", "mock:a,size=64M,rate=32M", "mock:b,size=64M")
    line = err.splitlines()[-1] if err.splitlines() else ""
    t.ok(re.fullmatch(r"vfiomig-ctl: migrate mock:a: save cancelled; the device is now in "
                      r"RUNNING; (\S+ \S+ of device state had left the source, and the "
                      r"destination had taken \S+ \S+; )?source mock:a is (RUNNING again|in "
                      r"RUNNING); destination mock:b is in (STOP|RUNNING)", line) is not None,
         "SIGINT during migrate: the source's and the destination's fates", err)
    out, err = interrupted("--json", "migrate", "mock:a,size=64M,rate=32M", "mock:b,size=64M")
    try:
        e = json.loads(out)["error"]
        p = e["devices"][0]
        good = (e["errno"] == 125 and p["source"] == "mock:a" and p["destination"] == "mock:b"
                and p["source_state"] == "RUNNING" and
                e["states"] == {"mock:a": "RUNNING", "mock:b": p["destination_state"]})
    except (ValueError, KeyError, IndexError):
        good = False
    t.ok(good, "SIGINT during migrate --json: error.devices[] has both fates", (out, err))


def test_identity(t, tmp):
    """Item 5: the fields that differ, named, with both values."""
    f = os.path.join(tmp, "sub1.vfm")
    r = run("-q", "save", "mock:a,pci=15b3:101e:15b3:0001", "-o", f)
    t.ok(r.rc == 0, "save a device of subsystem 15b3:0001", r)
    want = ("load mock:b: stream is for 15b3:101e (mock), device is 15b3:101e (mock); "
            "the subsystem IDs (stream 15b3:0001, device 15b3:0002) differ; "
            "use --force to load anyway; the device is now in RUNNING")
    r = run("load", "mock:b,pci=15b3:101e:15b3:0002", "-i", f)
    t.ok(r.rc == 1 and r.errtext == "vfiomig-ctl: " + want + "\n",
         "load, subsystem IDs differ: named, with both values, --force kept", r)
    r = run("--json", "load", "mock:b,pci=15b3:101e:15b3:0002", "-i", f)
    t.ok(r.rc == 1 and error(r).get("message") == want and error(r).get("errno") == 19,
         "load --json, subsystem IDs differ: the same sentence", r)
    r = run("load", "mock:b,pci=15b3:101e:15b3:0002", "-i", f, "--force")
    t.ok(r.rc == 0 and "(forced); the subsystem IDs (stream 15b3:0001, device 15b3:0002) "
         "differ" in r.errtext, "load --force: the warning names the difference too", r)
    r = run("migrate", "mock:a,pci=15b3:101e:15b3:0001", "mock:b,pci=15b3:101e:15b3:0002")
    t.ok(r.rc == 1 and "; the subsystem IDs (stream 15b3:0001, device 15b3:0002) differ; "
         "use --force to load anyway" in r.errtext, "migrate: the same difference named", r)


def test_first_data(t, tmp):
    """Item 6: a refused first write points at an incompatible device."""
    f = os.path.join(tmp, "a1M.vfm")
    raw = os.path.join(tmp, "a1M.raw")
    t.ok(run("-q", "save", "mock:a,size=1M", "-o", f).rc == 0 and
         run("-q", "save", "--raw", "mock:a,size=1M", "-o", raw).rc == 0, "save both kinds")
    guess = ("the stream is probably from an incompatible device (another model, "
             "firmware or configuration)")
    r = run("load", "mock:b,size=2M", "-i", f)
    t.ok(r.rc == 1 and one_line(r.err) and
         r.errtext.startswith("vfiomig-ctl: load mock:b: the device rejected the stream's "
                              "first data (the record at stream offset ") and
         guess + ": compare the device with the stream's identity; " in r.errtext and
         r.errtext.endswith("; the device is now in STOP; to compare them, run %s info "
                            "mock:b,size=2M and %s inspect %s\n" % (PROG, PROG, f)),
         "load into another size: an incompatible device, and the commands to compare", r)
    r = run("--json", "load", "mock:b,size=2M", "-i", f)
    t.ok(r.rc == 1 and error(r).get("message", "").endswith(
         "to compare them, run %s info mock:b,size=2M and %s inspect %s" % (PROG, PROG, f)),
         "load --json: the same advice in the message", r)
    # The commands given do show the difference.
    a = run("--json", "info", "mock:b,size=2M")
    b = run("--json", "inspect", f)
    t.ok(a.rc == 0 and b.rc == 0 and
         a.json().get("stop_copy_size") != b.json()["devices"][0]["stop_copy_size"],
         "the advised info and inspect show different stop-copy sizes", (a, b))
    r = run("load", "mock:b,size=2M", stdin=open(f, "rb"))
    t.ok(r.rc == 1 and r.errtext.endswith("to compare them, run %s info mock:b,size=2M, and %s "
                                          "inspect with the stream on its standard input\n"
                                          % (PROG, PROG)),
         "load from stdin: the advice fits a stream that cannot be named", r)
    # A later record refused: the data's fault, no guess.
    r = run("load", "mock:b,size=1M,fail=write:2:EIO", "-i", f)
    t.ok(r.rc == 1 and "the device rejected the data of the record at stream offset " in
         r.errtext and "incompatible" not in r.errtext and "to compare" not in r.errtext,
         "load, a later record refused: said as before, without the guess", r)
    # Raw: no records to speak of.
    r = run("load", "--raw", "mock:b,size=2M", "-i", raw)
    t.ok(r.rc == 1 and one_line(r.err) and "record" not in r.errtext and
         "the device rejected the stream's first data: Bad address; " + guess + ";" in r.errtext
         and r.errtext.endswith("to compare them, run %s info mock:b,size=2M and %s inspect "
                                "--raw %s\n" % (PROG, PROG, raw)),
         "load --raw into another size: no record, the raw advice", r)
    r = run("load", "--raw", "mock:b,size=1M", "-i", f)
    t.ok(r.rc == 1 and one_line(r.err) and "record" not in r.errtext and
         "these bytes are a vfiomig stream, not a device's bare bytes: load it without raw "
         "mode" in r.errtext and "incompatible" not in r.errtext,
         "load --raw of a vfiomig stream: said so, no record", r)
    r = run("load", "--raw", "mock:b,size=1M,fail=write:2:EIO", "-i", raw)
    t.ok(r.rc == 1 and "the device rejected the data at stream offset " in r.errtext and
         "record" not in r.errtext, "load --raw, later data refused: no record", r)
    # migrate: the two devices to compare.
    r = run("migrate", "mock:src,size=1M", "mock:dst,size=2M")
    t.ok(r.rc == 1 and guess in r.errtext and r.errtext.endswith(
         "; source mock:src is RUNNING again; destination mock:dst is in STOP; to compare "
         "them, run %s info mock:src,size=1M and %s info mock:dst,size=2M\n" % (PROG, PROG)),
         "migrate into another size: both devices' fates, then the commands to compare", r)
    r = run("migrate", "mock:a,size=1M", "mock:b,size=1M", "--to", "mock:c,size=1M",
            "mock:d,size=2M")
    t.ok(r.rc == 1 and r.errtext.endswith("to compare them, run %s info mock:b,size=1M and %s "
                                          "info mock:d,size=2M\n" % (PROG, PROG)),
         "migrate of a group: the pair that failed is the one to compare", r)
    g = os.path.join(tmp, "group.vfm")
    r = run("-q", "save", "mock:a,size=1M", "mock:b,size=1M", "-o", g)
    r = run("load", "mock:a,size=1M", "mock:b,size=2M", "-i", g)
    t.ok(r.rc == 1 and guess in r.errtext and r.errtext.endswith(
         "to compare them, run %s info mock:b,size=2M and %s inspect %s\n" % (PROG, PROG, g)),
         "load of a group: the member that refused, and its command", r)
    q = os.path.join(tmp, "it's here.vfm")
    os.link(f, q)
    r = run("load", "mock:b,size=2M", "-i", q)
    t.ok(r.rc == 1 and r.errtext.endswith(" inspect '%s/it'\\''s here.vfm'\n" % tmp),
         "the advised command quotes a file name for the shell", r)


def test_inspect(t, tmp):
    """Item 7: inspect is honest about what the file is."""
    junk = os.path.join(tmp, "random.bin")
    open(junk, "wb").write(bytes(range(7, 23)))
    r = run("inspect", junk)
    t.ok(r.rc == 1 and r.text.startswith("stream:        not a vfiomig stream\n"
                                         "size:          16 B (16 bytes)\n"
                                         "valid:         no, at offset 0: not a vfiomig stream") and
         "vfiomig 1." not in r.text and "records" not in r.text and "phases" not in r.text,
         "inspect of random data: not a stream, first; no version, records or phases", r)
    r = run("--json", "inspect", junk)
    d = r.json() if r.out else {}
    t.ok(r.rc == 1 and d.get("format", 0) is None and d.get("bytes") == 16 and
         d.get("valid") is False and d.get("devices") == [],
         "inspect --json of random data: no format, its size", r)

    f = os.path.join(tmp, "b2M.vfm")
    t.ok(run("-q", "save", "mock:b,size=2M", "-o", f).rc == 0, "save a 2 MiB stream")
    data = bytearray(open(f, "rb").read())
    data[300000] ^= 1
    bad = os.path.join(tmp, "damaged.vfm")
    open(bad, "wb").write(data)
    r = run("--json", "inspect", bad)
    d = r.json() if r.out else {}
    t.ok(r.rc == 1 and d.get("bytes") == len(data) and 0 < d.get("offset", -1) <= 300000 and
         d.get("format", {}).get("version") == "1.1",
         "inspect --json of a damaged stream: the file's size, and where it broke", r)
    r = run("inspect", bad)
    off = d.get("offset", -1)
    t.ok(r.rc == 1 and "size:          2.0 MiB (%d bytes), " % len(data) in r.text and
         " read\nvalid part:    the first " in r.text and "(%d bytes)\n" % off in r.text,
         "inspect of a damaged stream: the file's size, and how far it is valid", r)

    raw = os.path.join(tmp, "b.raw")
    t.ok(run("-q", "save", "--raw", "mock:b,size=256K", "-o", raw).rc == 0, "save a raw stream")
    r = run("inspect", "--raw", raw)
    j = run("--json", "inspect", "--raw", raw)
    t.ok(r.rc == 0 and j.rc == 0 and j.json()["devices"] == [] and
         not re.search(r"^device \d|\d devices?\b", r.text, re.M) and
         re.search(r"^size:          [0-9.]+ KiB \(%d bytes\), 0 records$" % os.path.getsize(raw),
                   r.text, re.M) is not None,
         "inspect --raw: text counts no device, as JSON lists none", (r, j))
    # Over the 1 MiB read at once: the backend gives up in the first.
    big = os.path.join(tmp, "big.raw")
    t.ok(run("-q", "save", "--raw", "mock:b,size=2M", "-o", big).rc == 0, "save a 2 MiB raw stream")
    cut = bytearray(open(big, "rb").read())
    cut[1] ^= 0xff
    rawbad = os.path.join(tmp, "bad.raw")
    open(rawbad, "wb").write(cut)
    j = run("--json", "inspect", "--raw", "--backend", "mock", rawbad)
    t.ok(j.rc == 1 and j.json()["bytes"] == len(cut) and j.json()["offset"] == 0,
         "inspect --raw of a damaged raw stream: its whole size", j)


def lower_states(text):
    """@text with every state in lower case, as reword.c writes the library's."""
    return STATE_WORD.sub(lambda m: m.group(0).lower(), text)


def test_facts_not_words(t, tmp):
    """The line from facts: a group's sentence that lists every member says
    where each is, whatever its words, so nothing is added; a list cut at
    the sentence's length is completed; a sentence that does not lead with
    the device gets the spec typed as its subject."""
    g = os.path.join(tmp, "facts.vfm")
    run("-q", "save", "mock:a,size=1M", "mock:b,size=1M", "-o", g)
    cases = [
        ("a group's state change", ["state", "mock:a", "mock:b,fail=set:1:EIO", "STOP"]),
        ("a group's save", ["save", "mock:a,size=1M", "mock:b,size=1M,fail=read:2:EIO", "-o",
                            os.path.join(tmp, "failed.vfm")]),
        ("a group's load", ["load", "mock:a,size=1M", "mock:b,size=1M,fail=write:2:EIO",
                            "-i", g]),
        ("dirty's range error", ["dirty", "mock:a,dirtylog=1", "start", "0x800:4K",
                                 "--count", "1"]),
        # reword.c lowers the state word in the name too: the sentence
        # still leads with the device, though no longer with the same bytes
        ("dirty, a device named with a state word", ["dirty", "mock:STOP", "start", "0:4K",
                                                     "--count", "1"]),
    ]
    if not REWORD or not os.path.exists(REWORD):
        t.skip("the line follows the facts, not the words", "no reword shim (VFIOMIG_REWORD)")
    else:
        for what, args in cases:
            plain = run(*args)
            other = run(*args, env=base_env(LD_PRELOAD=REWORD))
            t.ok(plain.rc == 1 and one_line(plain.err) and " is in " not in plain.errtext and
                 other.rc == plain.rc and other.errtext == lower_states(plain.errtext),
                 "%s: the same line, however the library words it" % what,
                 (plain.errtext, other.errtext))
    # "members now:" lists both: each member said once, by the library.
    r = run("state", "mock:a", "mock:b,fail=set:1:EIO", "STOP")
    t.ok(r.errtext.count("mock:a") == 1 and "members now: mock:a RUNNING, mock:b RUNNING" in
         r.errtext, "a group's state change: each member's state said once", r)
    # 64 members of long names: the library's list is cut, the line says the rest.
    names = ["mock:%02d%s" % (i, "x" * 56) for i in range(64)]
    r = run("state", names[0] + ",fail=set:1:EIO", *names[1:], "STOP")
    t.ok(r.rc == 1 and one_line(r.err) and
         all(("%s RUNNING" % n) in r.errtext or ("%s is in RUNNING" % n) in r.errtext
             for n in names[1:]),
         "64 members, a cut list: the line still says where every member is", r.errtext[-300:])
    os.unlink(g)


def main():
    t = Tap()
    tmp = tmpdir()
    test_migrate_states(t)
    test_interrupt(t)
    test_identity(t, tmp)
    test_first_data(t, tmp)
    test_inspect(t, tmp)
    test_facts_not_words(t, tmp)
    for name in os.listdir(tmp):
        os.unlink(os.path.join(tmp, name))
    os.rmdir(tmp)
    t.done()


main()
