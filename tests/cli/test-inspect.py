#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vfiomig-ctl inspect: valid, corrupted and truncated streams, in text and
JSON.  A stream that fails a check is still described, with valid=false,
the first problem and its offset, and the exit status is 1.  Input that
never ends (/dev/zero, /dev/urandom, a FIFO whose writer stays) is refused
at the bytes that rule it out, and a huge sparse file at once; --raw says
that a framed stream was read as a device's bare bytes."""

import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli import (Tap, Result, CTL, base_env, run, one_line, tmpdir, stream_size,  # noqa: E402
                 MLX5, ICE)


def save(t, tmp, name, spec, *opts):
    f = os.path.join(tmp, name)
    r = run("-q", "save", spec, "-o", f, *opts)
    t.ok(r.rc == 0, "save %s %s" % (spec, " ".join(opts)), r)
    return f


def write(tmp, name, data):
    f = os.path.join(tmp, name)
    with open(f, "wb") as out:
        out.write(data)
    return f


def check_valid(t, tmp):
    f = save(t, tmp, "plain.bin", "mock:a,size=256K")
    size = os.path.getsize(f)
    r = run("--json", "inspect", f)
    d = r.json()
    rt = d["record_types"]
    t.ok(r.rc == 0 and d["valid"] is True and d["problem"] is None and d["offset"] is None,
         "inspect --json: a valid stream", r)
    t.ok(d["format"] == {"version": "1.1", "major": 1, "minor": 1} and d["raw"] is False and
         d["bytes"] == size and d["file"] == f, "inspect --json: format, size, file", d)
    dev = d["devices"][0] if d["devices"] else {}
    t.ok(len(d["devices"]) == 1 and dev["index"] == 0 and dev["name"] == "mock:a" and
         dev["driver"] == "mock" and dev["backend"] == "mock" and dev["pci"] is None and
         dev["migration_flags"] == ["STOP_COPY", "P2P", "PRE_COPY"] and
         dev["stop_copy_size"] == stream_size(256 << 10) and dev["library"].startswith("libvfiomig"),
         "inspect --json: the device's identity", d)
    t.ok(rt["IDENTITY"]["count"] == 1 and rt["DEVICE_END"]["count"] == 1 and
         rt["DATA_STOP_COPY"]["bytes"] == stream_size(256 << 10) and "DATA_PRECOPY" not in rt and
         d["phases"] == {"precopy_bytes": 0, "precopy_rounds": 0,
                         "stop_copy_bytes": stream_size(256 << 10)},
         "inspect --json: records and phases of a plain save", d)
    r = run("inspect", f)
    t.ok(r.rc == 0 and "stream:        vfiomig 1.1\n" in r.text and
         "device 0:      mock:a\n" in r.text and "valid:         yes\n" in r.text and r.err == b"",
         "inspect: text", r)
    r = run("inspect", stdin=open(f, "rb"))
    t.ok(r.rc == 0 and "valid:         yes" in r.text, "inspect: stdin by default", r)
    r = run("--json", "inspect", "-", stdin=open(f, "rb"))
    t.ok(r.rc == 0 and r.json()["file"] == "-" and r.json()["valid"], "inspect -: stdin", r)

    f = save(t, tmp, "pre.bin", "mock:a,size=512K,dirty=128K", "--precopy=2")
    d = run("--json", "inspect", f).json()
    t.ok(d["valid"] and d["phases"]["precopy_rounds"] == 2 and d["phases"]["precopy_bytes"] > 0 and
         d["record_types"]["PRECOPY_ROUND"]["count"] == 2 and
         d["record_types"]["PRECOPY_ROUND"]["type"] == 0x101,
         "inspect --json: pre-copy phases", d)

    f = save(t, tmp, "pci.bin", "mock:a,size=64K," + ICE.replace("1889", "1889:8086:0000:02"))
    d = run("--json", "inspect", f).json()
    t.ok(d["valid"] and d["devices"][0]["pci"] == {
        "vendor": "0x8086", "device": "0x1889", "subsystem_vendor": "0x8086",
        "subsystem_device": "0x0000", "revision": "0x02"} and
        d["devices"][0]["driver"] == "ice-vfio-pci",
        "inspect --json: PCI identity", d)
    # The stream names its backend "mock": its bytes are the mock's own,
    # whatever PCI IDs the mock pretends to, and the mock backend reads them.
    f = save(t, tmp, "mlx5.bin", "mock:a,size=64K," + MLX5)
    d = run("--json", "inspect", f).json()
    t.ok(d["valid"], "inspect --json: a mock with mlx5 PCI IDs is valid", d.get("problem"))
    return os.path.join(tmp, "plain.bin")


def check_invalid(t, tmp, name, data, words=None):
    f = write(tmp, name, data)
    r = run("--json", "inspect", f)
    try:
        d = r.json()
        good = (r.rc == 1 and d["valid"] is False and isinstance(d["problem"], str) and
                d["problem"] and isinstance(d["offset"], int) and 0 <= d["offset"] <= len(data) and
                r.err == b"")
        if words:
            good = good and words in d["problem"]
    except (ValueError, KeyError):
        good = False
    t.ok(good, "inspect --json: %s is invalid, exit 1, with problem and offset" % name, r)
    r = run("inspect", f)
    t.ok(r.rc == 1 and "valid:         no, at offset %d: " % d.get("offset", -1) in r.text and
         one_line(r.err) and ("inspect %s: invalid stream at offset %d: " %
                              (f, d.get("offset", -1))) in r.errtext,
         "inspect: %s described on stdout, one error line on stderr" % name, r)


def check_damage(t, tmp, plain):
    data = open(plain, "rb").read()
    # the preamble's magic, a record header, the IDENTITY payload, device
    # data, the trailer
    for off in (0, 20, 45, 200, 100000, len(data) - 10):
        bad = bytearray(data)
        bad[off] ^= 0x40
        check_invalid(t, tmp, "flip-%d.bin" % off, bytes(bad))
    for cut in (1, 15, 16, 40, 1000, len(data) // 2, len(data) - 1):
        check_invalid(t, tmp, "cut-%d.bin" % cut, data[:cut])
    check_invalid(t, tmp, "empty.bin", b"")
    check_invalid(t, tmp, "junk-after.bin", data + b"x")
    check_invalid(t, tmp, "not-a-stream.bin", b"hello, world\n" * 100)


def check_raw(t, tmp):
    f = save(t, tmp, "raw.bin", "mock:a,size=128K", "--raw")
    r = run("--json", "inspect", "--raw", f)
    d = r.json()
    t.ok(r.rc == 0 and d["valid"] and d["raw"] is True and d["format"] is None and
         d["backend"] == "generic" and d["bytes"] == stream_size(128 << 10),
         "inspect --raw: generic backend", r)
    r = run("inspect", "--raw", "--backend", "generic", f)
    t.ok(r.rc == 0 and "raw, backend generic" in r.text, "inspect --raw --backend generic: text", r)
    r = run("--json", "inspect", "--raw", "--backend", "MLX5", f)
    d = r.json()
    t.ok(r.rc == 1 and d["valid"] is False and d["backend"] == "mlx5" and "mlx5" in d["problem"],
         "inspect --raw --backend mlx5: a mock stream is not an mlx5 stream", r)
    r = run("--json", "inspect", "--raw", "--backend", "mock", f)
    d = r.json()
    kinds = d.get("record_types", {})
    t.ok(r.rc == 0 and d["valid"] and d["backend"] == "mock" and d["records"] == 4 and
         kinds["mock HEADER"]["count"] == 1 and kinds["mock PAGE"]["bytes"] == 128 << 10 and
         kinds["mock END"]["count"] == 1,
         "inspect --raw --backend mock: the mock's own records", r)
    data = open(f, "rb").read()
    bad = os.path.join(tmp, "raw-bad.bin")
    open(bad, "wb").write(data[:1] + bytes([data[1] ^ 0xff]) + data[2:])
    r = run("--json", "inspect", "--raw", "--backend", "mock", bad)
    t.ok(r.rc == 1 and r.json()["valid"] is False and r.json()["offset"] == 0 and
         "mock record 0" in r.json()["problem"],
         "inspect --raw --backend mock: a damaged header is found at offset 0", r)
    r = run("inspect", f.replace("raw.bin", "plain.bin"), "--raw")
    t.ok(r.rc == 0 and "\nnote:          it begins as a vfiomig stream: inspect it without --raw "
         "to verify it as one\nvalid:         yes, as raw device data\n" in r.text,
         "inspect --raw of a framed stream: valid as raw device data, and a note that it is "
         "a vfiomig stream", r)
    r = run("--json", "inspect", f.replace("raw.bin", "plain.bin"), "--raw")
    t.ok(r.rc == 0 and r.json().get("begins_as_stream") is True,
         "inspect --raw --json of a framed stream: begins_as_stream", r)
    r = run("--json", "inspect", "--raw", f)
    t.ok(r.rc == 0 and r.json().get("begins_as_stream") is False and
         run("inspect", "--raw", f).text.count("note:") == 0,
         "inspect --raw of a raw stream: no such note", r)
    r = run("inspect", f)
    t.ok(r.rc == 1, "inspect without --raw refuses a raw stream", r)


def bounded(args, stdin=subprocess.DEVNULL):
    """vfiomig-ctl ARGS, given 10 s: an input that never ends must not hold it."""
    try:
        p = subprocess.run([CTL] + args, stdin=stdin, capture_output=True, env=base_env(),
                           timeout=10)
        return Result(args, p.returncode, p.stdout, p.stderr)
    except subprocess.TimeoutExpired:
        return Result(args, None, b"", b"(still reading after 10 s)")


def check_endless(t, tmp):
    """Item 8 of issue #23: byte 0 of /dev/zero already shows it is no
    stream; e7d8a00 read on for ever (and a sparse file's holes, a TiB)."""
    for dev in ("/dev/zero", "/dev/urandom"):
        r = bounded(["inspect", dev])
        t.ok(r.rc == 1 and r.text.startswith(
            "stream:        not a vfiomig stream\nsize:          at least ") and
             "valid:         no, at offset 0: not a vfiomig stream" in r.text and one_line(r.err),
             "inspect %s: refused at its first bytes" % dev, r)
    r = bounded(["--json", "inspect", "/dev/zero"])
    t.ok(r.rc == 1 and r.json().get("bytes_whole") is False and r.json()["bytes"] <= 16,
         "inspect --json /dev/zero: the bytes read, and that they are not the whole input", r)

    # A FIFO whose writer sends one wrong byte, or a stream that goes bad, and stays.
    plain = open(os.path.join(tmp, "plain.bin"), "rb").read()
    bad = bytearray(plain)
    bad[20] ^= 1  # in the first record's header, checked when its 32 bytes are in
    for name, data in (("one byte", b"X"), ("a damaged stream", bytes(bad[:65536]))):
        fifo = os.path.join(tmp, "endless.fifo")
        os.mkfifo(fifo)
        done = threading.Event()

        def writer():
            with open(fifo, "wb", buffering=0) as w:
                w.write(data)
                done.wait(15)	# the writer stays: no end of input

        th = threading.Thread(target=writer)
        th.start()
        r = bounded(["--json", "inspect", fifo])
        done.set()
        th.join()
        os.unlink(fifo)
        try:
            d = r.json()
        except ValueError:
            d = {}
        t.ok(r.rc == 1 and d.get("valid") is False and d.get("bytes_whole") is False and
             0 <= d.get("offset", -1) <= 20, "inspect of a FIFO that never ends, %s: refused at "
             "the problem" % name, r)

    sparse = os.path.join(tmp, "sparse.bin")
    with open(sparse, "wb") as f:
        try:
            f.truncate(1 << 40)
        except OSError as e:
            t.skip("inspect of a 1 TiB sparse file", "this file system: %s" % e)
            os.unlink(sparse)
            return
    r = bounded(["inspect", sparse])
    t.ok(r.rc == 1 and "size:          1.0 TiB (1099511627776 bytes)\n" in r.text and
         "valid:         no, at offset 0: not a vfiomig stream" in r.text,
         "inspect of a 1 TiB sparse file: refused at once, with its whole size", r)
    os.unlink(sparse)


def main():
    t = Tap()
    tmp = tmpdir()
    plain = check_valid(t, tmp)
    check_damage(t, tmp, plain)
    check_raw(t, tmp)
    check_endless(t, tmp)
    r = run("inspect", os.path.join(tmp, "missing.bin"))
    t.ok(r.rc == 1 and one_line(r.err) and "cannot open" in r.errtext, "inspect: a missing file", r)
    r = run("inspect", tmp)
    t.ok(r.rc == 1 and one_line(r.err), "inspect: a directory", r)
    for name in os.listdir(tmp):
        os.unlink(os.path.join(tmp, name))
    os.rmdir(tmp)
    t.done()


main()
