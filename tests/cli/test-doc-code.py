#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every C block of docs/*.md compiles on its own, against the public
headers of the source tree, with the project's warnings as errors: a block
is a whole translation unit, so a variable it uses and never declares, a
call it misspells or an argument of the wrong type fails here, not in a
reader's editor.  (The README's example is built and run by
test-readme.py.)"""

import glob
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli import Tap, SRC, base_env, fenced_blocks  # noqa: E402

# The project's warning level (meson.build: warning_level=2, gnu11).
CFLAGS = ["-std=gnu11", "-Wall", "-Wextra", "-Werror"]


def c_blocks():
    for page in sorted(glob.glob(os.path.join(SRC, "docs", "*.md"))):
        for line, _, lang, body in fenced_blocks(open(page).read()):
            if lang == "c":
                yield "%s:%d" % (os.path.relpath(page, SRC), line), body


def main():
    t = Tap()
    cc = os.environ.get("CC") or "cc"
    blocks = list(c_blocks())
    t.ok(blocks, "docs/ has C blocks to compile")
    if not shutil.which(cc):
        t.ok(False, "the C blocks need %s, which is not installed" % cc)
        t.done()
    for where, body in blocks:
        p = subprocess.run([cc] + CFLAGS + ["-I", os.path.join(SRC, "include"),
                                            "-x", "c", "-c", "-o", os.devnull, "-"],
                           input=body.encode(), capture_output=True, env=base_env())
        t.ok(p.returncode == 0, "%s: the C block compiles on its own" % where,
             p.stderr.decode("utf-8", "replace"))
    t.done()


main()
