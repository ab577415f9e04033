#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vfiomig-ctl inspect --raw --backend xe: bare xe-vfio-pci packet streams
written here by hand from the driver's rules (docs/xe.md), a good one and
bad ones, each with its verdict, the packet named and its offset; and the
saves of the mock's personality=xe, framed and raw, whole and cut."""

import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli import Tap, run, tmpdir  # noqa: E402

DESCRIPTOR, TRAILER, GGTT, MMIO, GUC, VRAM = 1, 2, 3, 4, 5, 6


def pkt(ptype, payload=b"", tile=0, offset=0, version=1, size=None):
    """The packed 24-byte header: version, type, tile, gt, flags, offset, size."""
    return struct.pack("<BBBBIQQ", version, ptype, tile, 0, 0, offset,
                       len(payload) if size is None else size) + payload


def klvs(*pairs):
    return b"".join(struct.pack("<II", key << 16 | 1, value) for key, value in pairs)


DESC = pkt(DESCRIPTOR, klvs((0xf001, 0xe20b), (0xf002, 4)))           # 0..40
BODY = (pkt(GGTT, b"\x33" * 64) + pkt(MMIO, b"\x44" * 32) +            # 40, 128
        pkt(GUC, b"\x55" * 48) +                                        # 184
        pkt(VRAM, b"\x66" * 4096) + pkt(VRAM, b"\x67" * 4096, offset=4096) +  # 256, 4376
        pkt(VRAM, b"\x68" * 2048, tile=1))                              # 8496 .. 10568
GOOD = DESC + BODY + pkt(TRAILER)                                       # 10568 .. 10592

DAMAGED = "the stream is damaged: save it again from the source VF"
CUT = "check that the file was copied whole, or save it again"

CASES = [
    # name, bytes, problem (None: valid), offset
    ("good", GOOD, None, None),
    ("truncated KLV", pkt(DESCRIPTOR, struct.pack("<III", 0xf001 << 16 | 1, 0xe20b, 0xf002 << 16 | 2))
     + pkt(TRAILER), "xe packet 0 (DESCRIPTOR) at stream offset 0: truncated KLV: key 0xf002 has "
     "2 value dwords, the descriptor ends 2 dwords short, which xe-vfio-pci refuses (ENODATA); "
     + DAMAGED, 0),
    ("unknown type", DESC + pkt(7, b"\0" * 8) + pkt(TRAILER),
     "xe packet 1 (unknown type) at stream offset 40: type 7 is none of 1-6: xe-vfio-pci "
     "skips a type it does not know, and the VF would start with partial state; a newer "
     "driver wrote it: use a libvfiomig that knows it", 40),
    ("missing trailer", DESC + BODY, "xe packet 7 at stream offset 10568: the stream ends "
     "without a TRAILER: it was cut, or the save did not finish; " + CUT, 10568),
    ("size past the end", DESC + pkt(VRAM, b"\0" * 100, size=1 << 20),
     "xe packet 1 (VRAM) at stream offset 40: its size runs past the end of the stream "
     "(1048476 bytes missing): it was cut; " + CUT, 40),
    ("version 2", pkt(DESCRIPTOR, klvs((0xf001, 0xe20b)), version=2) + pkt(TRAILER),
     "xe packet 0 (DESCRIPTOR) at stream offset 0: version 2: xe-vfio-pci loads version 1 "
     "only (EINVAL); another driver release wrote it, or the stream is damaged: save it again "
     "with the destination's driver release", 0),
    ("descriptor size not a multiple of 4", pkt(DESCRIPTOR, b"\0" * 6) + pkt(TRAILER),
     "xe packet 0 (DESCRIPTOR) at stream offset 0: the DESCRIPTOR's size 6 is not a multiple "
     "of 4 (its KLVs are dwords), which xe-vfio-pci refuses (EINVAL); " + DAMAGED, 0),
    ("data after the trailer", GOOD + b"\0", "xe packet 8 at stream offset 10592: data after "
     "the TRAILER, which ends the stream: another save or garbage follows; give one save's "
     "bytes alone", 10592),
    ("a second descriptor", DESC + DESC + pkt(TRAILER), "xe packet 1 (DESCRIPTOR) at stream "
     "offset 40: a second DESCRIPTOR, where xe-vfio-pci's save writes one, first: this is no "
     "single xe VF's stream; load a stream saved from one", 40),
    ("trailer at an offset", DESC + BODY + pkt(TRAILER, offset=8), "xe packet 7 (TRAILER) at "
     "stream offset 10568: the TRAILER's offset is 8: xe-vfio-pci writes 0 there and refuses "
     "any other (EINVAL); " + DAMAGED, 10568),
]


def mock_saves(t, tmp):
    """A 1 MiB xe mock: VRAM is its mock stream (40 + 24 x 16 pages + 1 MiB
    + 24 bytes) in 256 KiB packets, after GUC 8 KiB, GGTT 4 KiB, MMIO 1 KiB."""
    vram = 40 + 24 * 16 + (1 << 20) + 24
    framed, raw = os.path.join(tmp, "xe.vfm"), os.path.join(tmp, "xe.raw")
    r = run("save", "mock:a,personality=xe,size=1M", "-o", framed)
    t.ok(r.rc == 0, "save of a personality=xe mock", r)
    r = run("--json", "inspect", framed)
    d = r.json() if r.rc == 0 else {}
    rt = d.get("record_types", {})
    t.ok(r.rc == 0 and rt["xe VRAM"]["count"] == 5 and rt["xe VRAM"]["bytes"] == vram and
         rt["xe GUC"]["bytes"] == 8192 and rt["xe GGTT"]["bytes"] == 4096 and
         rt["xe MMIO"]["bytes"] == 1024 and rt["xe DESCRIPTOR"]["count"] == 1 and
         rt["xe TRAILER"]["count"] == 1 and rt["VENDOR_SUMMARY"]["count"] == 1,
         "inspect of the mock's framed xe save: its packets by type", rt)
    r = run("inspect", framed)
    t.ok(r.rc == 0 and "backend:     xe\n" in r.text and "vram:          1.0 MiB of the xe "
         "state's 1.0 MiB (98%), the rest 13.0 KiB\n" in r.text,
         "inspect of the mock's framed xe save: the vram line", r)
    r = run("save", "--raw", "mock:a,personality=xe,size=1M", "-o", raw)
    with open(raw, "rb") as f:
        data = f.read()
    cut = os.path.join(tmp, "xe-cut.raw")
    with open(cut, "wb") as f:
        f.write(data[:-30])     # inside the last VRAM packet: the trailer is gone too
    r = run("--json", "inspect", "--raw", "--backend", "xe", raw)
    t.ok(r.rc == 0 and r.json()["record_types"]["xe VRAM"]["bytes"] == vram,
         "inspect --raw --backend xe of the mock's raw save", r)
    last = len(data) - 24 - (vram - 4 * 262144) - 24   # the fifth VRAM packet's header
    r = run("--json", "inspect", "--raw", "--backend", "xe", cut)
    t.ok(r.rc == 1 and r.json()["problem"] == "xe packet 8 (VRAM) at stream offset %d: its size "
         "runs past the end of the stream (6 bytes missing): it was cut; " % last + CUT,
         "inspect --raw --backend xe of the mock's save cut short: the packet and its offset", r)
    for f in (framed, raw, cut):
        os.unlink(f)


def main():
    t = Tap()
    tmp = tmpdir()
    files = []
    for name, data, problem, offset in CASES:
        f = os.path.join(tmp, name.replace(" ", "-") + ".bin")
        files.append(f)
        with open(f, "wb") as out:
            out.write(data)
        r = run("--json", "inspect", "--raw", "--backend", "xe", f)
        d = r.json()
        t.ok(r.rc == (0 if problem is None else 1) and d["backend"] == "xe" and
             d["problem"] == problem and d["offset"] == offset,
             "inspect --raw --backend xe: %s" % name, r)
    r = run("--json", "inspect", "--raw", "--backend", "XE", files[0])
    rt = r.json()["record_types"]
    t.ok(r.rc == 0 and r.json()["records"] == 8 and rt["xe VRAM"]["count"] == 3 and
         rt["xe VRAM"]["bytes"] == 10240
         and rt["xe GGTT"]["bytes"] == 64 and rt["xe DESCRIPTOR"]["count"] == 1,
         "inspect --raw --backend xe --json: the packets by type", r)
    r = run("inspect", "--raw", "--backend", "xe", files[0])
    t.ok(r.rc == 0 and "raw, backend xe" in r.text and
         "vram:          10.0 KiB of the xe state's 10.2 KiB (98%), the rest 160 B\n" in r.text,
         "inspect --raw --backend xe: VRAM against the rest", r)
    r = run("inspect", "--raw", "--backend", "xe", files[1])
    t.ok(r.rc == 1 and "truncated KLV" in r.text, "inspect --raw --backend xe: text of a refusal", r)
    r = run("inspect", "--raw", "--backend", "xf", files[0])
    t.ok(r.rc == 2 and b"expected generic, mlx5, xe or mock" in r.err,
         "inspect --raw --backend xf: the backends are named", r)
    mock_saves(t, tmp)
    for f in files:
        os.unlink(f)
    os.rmdir(tmp)
    t.done()


main()
