#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vfiomig-ctl inspect: valid, corrupted and truncated streams, in text and
JSON.  A stream that fails a check is still described, with valid=false,
the first problem and its offset, and the exit status is 1."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli import Tap, run, one_line, tmpdir, stream_size, MLX5, ICE  # noqa: E402


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
    t.ok(r.rc == 1 and "valid:         no: " in r.text and one_line(r.err) and
         ("inspect %s: invalid stream: " % f) in r.errtext,
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
    t.ok(r.rc == 0, "inspect --raw of a framed stream: opaque bytes to the generic backend", r)
    r = run("inspect", f)
    t.ok(r.rc == 1, "inspect without --raw refuses a raw stream", r)


def main():
    t = Tap()
    tmp = tmpdir()
    plain = check_valid(t, tmp)
    check_damage(t, tmp, plain)
    check_raw(t, tmp)
    r = run("inspect", os.path.join(tmp, "missing.bin"))
    t.ok(r.rc == 1 and one_line(r.err) and "cannot open" in r.errtext, "inspect: a missing file", r)
    r = run("inspect", tmp)
    t.ok(r.rc == 1 and one_line(r.err), "inspect: a directory", r)
    for name in os.listdir(tmp):
        os.unlink(os.path.join(tmp, name))
    os.rmdir(tmp)
    t.done()


main()
