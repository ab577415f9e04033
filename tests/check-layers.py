#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The library's layers hold (docs/architecture.md): a folder may use only the
folders below it.  Two graphs are checked, so that neither can rot:

- the include graph of the sources: every #include "x.h" of a file in a
  folder names a header of that folder or of one below;
- the symbol graph of the built objects: every undefined symbol of an
  object that another object of the same library defines is defined in
  that folder or one below.

Any edge upwards fails, and so would a cycle between folders, which only an
upward edge can make.  A header named *-internal.h holds what its folder
alone may see (a structure's fields): an include of it from another folder
fails too.  TAP on stdout.

    check-layers.py SOURCE_ROOT OBJECT_DIR...
"""
import os
import re
import subprocess
import sys

# Bottom up.  lib/ is libvfiomig.so; mock/ and conformance/ are libraries of
# their own beside it, above every folder of lib/, and neither uses the other.
LAYERS = ["lib/core", "lib/stream", "lib/vendor", "lib/device", "lib/xfer", "lib/group",
          "lib/dirty", "lib/kernel", "conformance", "mock"]
BESIDE = {"conformance", "mock"}


def may_use(a, b):
    """Whether folder a may use folder b."""
    if a == b:
        return True
    if a in BESIDE and b in BESIDE:
        return False
    return LAYERS.index(b) < LAYERS.index(a)


def sources(root):
    """name -> (folder, path) of every .c and .h under the layers' folders."""
    found = {}
    for folder in LAYERS:
        for name in sorted(os.listdir(os.path.join(root, folder))):
            if name.endswith((".c", ".h")):
                if name in found:
                    sys.exit("Bail out! %s is in %s and %s" % (name, found[name][0], folder))
                found[name] = (folder, os.path.join(root, folder, name))
    return found


def include_edges(files):
    for name, (folder, path) in sorted(files.items()):
        with open(path, encoding="utf-8") as f:
            for line, text in enumerate(f, 1):
                m = re.match(r'\s*#\s*include\s+"([^"]+)"', text)
                if m and m.group(1) in files:
                    yield ("%s/%s:%d" % (folder, name, line), folder, files[m.group(1)][0],
                           '#include "%s"' % m.group(1))


def object_folder(obj, files):
    """meson names an object after its source's path: core_call.c.o, .._mock_mock.c.o."""
    source = re.sub(r"\.o$", "", os.path.basename(obj)).split("_")[-1]
    return files[source][0] if source in files else None


def symbol_edges(dirs, files):
    for d in dirs:
        objs = [os.path.join(d, o) for o in sorted(os.listdir(d)) if o.endswith(".o")]
        defined, undefined = {}, {}
        for o in objs:
            out = subprocess.run(["nm", o], capture_output=True, text=True, check=True).stdout
            for line in out.splitlines():
                p = line.split()
                if len(p) == 3 and p[1] in "TDBRC":
                    defined[p[2]] = o
                elif len(p) == 2 and p[0] == "U":
                    undefined.setdefault(o, set()).add(p[1])
        for o, syms in sorted(undefined.items()):
            for s in sorted(syms):
                if s in defined and defined[s] != o:
                    a, b = object_folder(o, files), object_folder(defined[s], files)
                    if a and b:
                        yield os.path.basename(o), a, b, s


def main():
    root, dirs = sys.argv[1], sys.argv[2:]
    files = sources(root)
    checks = [("the include graph", list(include_edges(files))),
              ("the symbol graph of %s" % ", ".join(os.path.basename(d) for d in dirs),
               list(symbol_edges(dirs, files)))]
    print("1..%d" % len(checks))
    failed = 0
    for n, (what, edges) in enumerate(checks, 1):
        up = [e for e in edges if not may_use(e[1], e[2]) or
              (e[1] != e[2] and e[3].endswith('-internal.h"'))]
        if up:
            failed = 1
            print("not ok %d - %s has %d edges up" % (n, what, len(up)))
            for where, a, b, how in up:
                print("# %s (%s) uses %s: %s" % (where, a, b, how))
        else:
            print("ok %d - %s: %d edges between files, none up" % (n, what, len(edges)))
    return failed


if __name__ == "__main__":
    sys.exit(main())
