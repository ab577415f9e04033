#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vfiomig-ctl profile and check: a device's profile as JSON, read back by
check --against from a file or standard input; same, compatible and
incompatible destinations, each with its reasons and exit status; groups
matched as a group load matches them; a destination's text that is not a
profile refused with its offset; and check agrees with the load."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli import Tap, run, one_line, tmpdir  # noqa: E402

MEMBERS = ["format", "device", "pci_ids", "subsystem_ids", "revision", "class", "driver",
           "driver_version", "driver_version_source", "mdev_type", "backend",
           "migration_flags", "dma_logging", "dma_logging_page_min", "dma_logging_page_max",
           "state_size", "mlx5_firmware", "mlx5_migration", "mlx5_migratable", "mlx5_chunks",
           "mlx5_why"]


def profile(t, tmp, name, *specs):
    f = os.path.join(tmp, name)
    r = run("profile", *specs)
    t.ok(r.rc == 0 and r.err == b"", "profile %s" % " ".join(specs), r)
    with open(f, "wb") as out:
        out.write(r.out)
    return f


def check_profile(t, tmp):
    r = run("profile", "mock:a,pci=15b3:101e:15b3:0047:02,mdev_type=mtty-2,dirtylog=1")
    d = r.json()
    t.ok(r.rc == 0 and list(d) == MEMBERS, "profile: every member, in order", r)
    t.ok(d["format"] == "vfiomig-profile 1" and d["device"] == "mock:a" and
         d["pci_ids"] == "15b3:101e" and d["subsystem_ids"] == "15b3:0047" and
         d["revision"] == "02" and d["class"] is None and d["driver"] == "mock" and
         d["driver_version"] == os.uname().release and d["driver_version_source"] == "kernel" and
         d["mdev_type"] == "mtty-2" and d["backend"] == "mock" and d["migration_flags"] == 7 and
         d["dma_logging"] is True and d["state_size"] > 65536 and d["mlx5_migration"] is None,
         "profile: the mock's values", d)
    for args in (["--json", "profile"], ["profile", "--json"]):
        r2 = run(*args, "mock:a,pci=15b3:101e:15b3:0047:02,mdev_type=mtty-2,dirtylog=1")
        t.ok(r2.rc == 0 and r2.out == r.out, "profile: %s prints the same JSON" % " ".join(args),
             r2)
    r = run("profile", "mock:a,personality=mlx5")
    d = r.json()
    t.ok(r.rc == 0 and d["backend"] == "mlx5" and d["mlx5_migration"] is None and
         d["mlx5_why"] == "a mock device has no firmware", "profile: an mlx5 mock says why "
         "its firmware is unknown", d)
    r = run("profile", "mock:a", "mock:b,datasize=0")
    d = r.json()
    t.ok(r.rc == 0 and [x["device"] for x in d] == ["mock:a", "mock:b"] and
         d[1]["state_size"] is None, "profile of a group: an array, in order", r)
    r = run("profile", "mock:a,bogus=1")
    t.ok(r.rc == 2 and one_line(r.err), "profile: a malformed spec is a usage error", r)
    r = run("profile")
    t.ok(r.rc == 2 and "missing DEVICE" in r.errtext, "profile: no device", r)


def check_check(t, tmp):
    dst = profile(t, tmp, "mtty2.json", "mock:d,mdev_type=mtty-2")
    r = run("check", "mock:s,mdev_type=mtty-2", "--against", dst)
    t.ok(r.rc == 0 and r.text.endswith("verdict: same\n") and r.err == b"",
         "check: the same kind of device", r)
    lines = r.text.splitlines()
    t.ok(len(lines) == 14 and lines[0].split()[:2] == ["pci_ids", "same"] and
         lines[0].endswith("[kernel uAPI]"), "check: a line per field, with its rule", r)
    r = run("check", "mock:s,mdev_type=mtty-2,dirtylog=1", "--against", "-",
            stdin=open(dst, "rb"))
    t.ok(r.rc == 0 and "dma_logging        compatible    only the source has DMA logging" in r.text
         and r.text.endswith("verdict: compatible\n"), "check --against -: compatible", r)
    r = run("check", "mock:s,mdev_type=mtty-1", "--against", dst)
    t.ok(r.rc == 1 and one_line(r.err) and
         "vfiomig-ctl: check: mock:s,mdev_type=mtty-1 cannot load into mock:d: the mdev types "
         "differ (source mtty-1, destination mtty-2): a type is a configuration, and mtty "
         "refuses a state of another type (its port count)" in r.errtext and
         "verdict: incompatible" in r.text, "check: another mdev type, refused with why", r)
    r = run("--json", "check", "mock:s,mdev_type=mtty-1", "--against", dst)
    d = r.json()
    f = {x["field"]: x for x in d["fields"]}
    t.ok(r.rc == 1 and d["compatible"] is False and d["verdict"] == "incompatible" and
         f["mdev_type"]["verdict"] == "incompatible" and f["mdev_type"]["rule"] == "mtty" and
         f["driver"]["verdict"] == "same" and len(d["fields"]) == 13,
         "check --json: the fields, the verdict, exit status 1", r)
    # check says what the load does
    stream = os.path.join(tmp, "mtty1.bin")
    r = run("-q", "save", "mock:s,mdev_type=mtty-1", "-o", stream)
    r = run("load", "mock:d,mdev_type=mtty-2", "-i", stream)
    t.ok(r.rc == 1 and "the mdev types (stream mtty-1, device mtty-2) differ" in r.errtext,
         "the load refuses what check refuses", r)


def check_groups(t, tmp):
    dst = profile(t, tmp, "group.json", "mock:d0,pci=8086:1889", "mock:d1,pci=15b3:101e")
    r = run("check", "mock:s0,pci=15b3:101e", "mock:s1,pci=8086:1889", "--against", dst)
    t.ok(r.rc == 0 and "0:pci_ids          same" in r.text and "1:pci_ids          same" in r.text,
         "check of a group: members matched across kinds, as the load matches", r)
    r = run("--json", "check", "mock:s0,pci=15b3:101e", "mock:s1,pci=8086:1889", "--against", dst)
    d = r.json()
    t.ok(r.rc == 0 and {(x["member"], x["peer"]) for x in d["fields"]} == {(0, 1), (1, 0)},
         "check --json of a group: each member's peer", d)
    r = run("check", "mock:s0,pci=15b3:101e", "--against", dst)
    t.ok(r.rc == 1 and "the source group has 1 member, the destination 2" in r.errtext,
         "check of a group: another number of members", r)
    r = run("check", "mock:s0,pci=15b3:101e", "mock:s1,pci=15b3:101e", "--against", dst)
    t.ok(r.rc == 1 and "source member 1 (mock:s1) fits no destination device left" in r.errtext
         and "the PCI IDs differ (source 15b3:101e, destination 8086:1889)" in r.errtext,
         "check of a group: a member that fits nothing, and how it differs", r)


def check_xe(t, tmp):
    """Issue #27: an xe VF's state is for its own GPU and revision, which its
    descriptor carries and xe-vfio-pci's restore compares."""
    ptl = profile(t, tmp, "ptl.json", "mock:d,personality=xe,pci=8086:b080")
    r = run("check", "mock:s,personality=xe", "--against", ptl)
    t.ok(r.rc == 1 and "the PCI IDs differ (source 8086:e20b, destination 8086:b080)" in r.errtext,
         "check: a Battlemage VF's state is refused for a Panther Lake VF", r)
    rev = profile(t, tmp, "rev.json", "mock:d,personality=xe,pci=8086:e20b:0:0:5")
    r = run("check", "mock:s,personality=xe", "--against", rev)
    t.ok(r.rc == 1 and "revision" in r.errtext and "ENODEV" in r.errtext,
         "check: an xe VF of another revision is refused", r)
    same = profile(t, tmp, "bmg.json", "mock:d,personality=xe")
    r = run("check", "mock:s,personality=xe", "--against", same)
    t.ok(r.rc == 0 and r.text.endswith("verdict: same\n"), "check: xe VF into its twin", r)


def check_refused(t, tmp):
    bad = os.path.join(tmp, "bad.json")
    cases = [
        (b"", "no profile: it is empty"),
        (b"{\"format\": \"vfiomig-profile 1\", \"colour\": 1}",
         "not a device profile: a member \"colour\", which a profile of vfiomig-profile 1 does "
         "not have at offset 41"),
        (b"<html>", "not a device profile: '{' expected at offset 0"),
    ]
    for text, why in cases:
        with open(bad, "wb") as out:
            out.write(text)
        r = run("check", "mock:s", "--against", bad)
        t.ok(r.rc == 1 and one_line(r.err) and why in r.errtext, "check: refused: %r" % text, r)
    r = run("check", "mock:s", "--against", os.path.join(tmp, "missing.json"))
    t.ok(r.rc == 1 and "cannot open the destination's profile" in r.errtext,
         "check: a missing file", r)
    r = run("check", "mock:s")
    t.ok(r.rc == 2 and "--against" in r.errtext, "check: no --against is a usage error", r)
    os.unlink(bad)


def main():
    t = Tap()
    tmp = tmpdir()
    check_profile(t, tmp)
    check_check(t, tmp)
    check_groups(t, tmp)
    check_xe(t, tmp)
    check_refused(t, tmp)
    for name in os.listdir(tmp):
        os.unlink(os.path.join(tmp, name))
    os.rmdir(tmp)
    t.done()


main()
