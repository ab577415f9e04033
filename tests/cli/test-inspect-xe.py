#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vfiomig-ctl inspect --raw --backend xe: bare xe-vfio-pci packet streams
written here by hand from the driver's rules (docs/xe.md), a good one and
bad ones, each with its verdict, the packet named and its offset."""

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
    for f in files:
        os.unlink(f)
    os.rmdir(tmp)
    t.done()


main()
