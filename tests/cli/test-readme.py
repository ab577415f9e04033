#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The README's commands, run as the README writes them: its example is
examples/short-example.c word for word, builds against the build tree with
the README's two commands (meson's uninstalled pkg-config file) and with
`meson devenv`, and prints what the README says it prints; its quick start
builds the tool alone (a target of the build tree) and migrates with it;
and its install block is `apt-get update`, then an `apt-get install -y`
of the packages .ci/run installs.

Environment (tests/cli/meson.build): VFIOMIG_BUILD_ROOT, the build tree;
VFIOMIG_SANITIZE, its b_sanitize (a sanitized library cannot be linked by
a plain `cc` command)."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli import Tap, SRC, CTL, base_env, fenced_blocks  # noqa: E402

BUILD = os.path.abspath(os.environ.get("VFIOMIG_BUILD_ROOT") or
                        os.path.dirname(os.path.dirname(CTL)))
SANITIZE = os.environ.get("VFIOMIG_SANITIZE", "none")
EXAMPLE = "examples/short-example.c"


def blocks(text):
    """The README's fenced blocks: (section heading, language, body)."""
    return [(section, lang, body) for _, section, lang, body in fenced_blocks(text)]


def section_text(text, heading):
    start = text.index("## %s\n" % heading)
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def check_packages(t, readme):
    ci = open(os.path.join(SRC, ".ci", "run")).read()
    m = re.search(r"^packages=\(([^)]*)\)", ci, re.M)
    ci_pkgs = m.group(1).split() if m else None
    found = [body.splitlines() for _, lang, body in blocks(readme) if lang == "sh"
             and "apt-get install " in body]
    lines = found[0] if len(found) == 1 else []
    install = [l.split() for l in lines if l.startswith("apt-get install ")]
    readme_pkgs = [w for w in install[0][2:] if not w.startswith("-")] if install else None
    t.ok(ci_pkgs and readme_pkgs == ci_pkgs,
         "README: its apt-get install line names exactly the packages .ci/run installs",
         "README: %s\n.ci/run: %s" % (readme_pkgs, ci_pkgs))
    # As written, on a fresh machine: apt's lists are empty until an update,
    # and without -y apt asks, which a pasted block answers with its next line.
    t.ok(len(lines) == 2 and lines[0] == "apt-get update" and install and "-y" in install[0],
         "README: the install block is apt-get update, then apt-get install -y", lines)
    quick = section_text(readme, "Quick start")
    t.ok(quick.find("apt-get install") < quick.find("meson setup build") and
         quick.find("apt-get install") < quick.find("./run-tests"),
         "README: the packages come before the build and test commands")


def run_sh(script, cwd, env):
    p = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=cwd, env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def check_quick_start(t, readme):
    """The quick start's first line, as written: it sets up the build, builds
    a target that is the tool (and so the library it links) and nothing
    else, and migrates with the tool it built."""
    lines = [l for s, lang, body in blocks(readme) if s == "Quick start" and lang == "sh"
             for l in body.splitlines() if l.startswith("meson setup build && ")]
    steps = lines[0].split(" && ") if len(lines) == 1 else []
    m = re.match(r"^meson compile -C build (\S+)$", steps[1]) if len(steps) == 3 else None
    if not t.ok(m and steps[2].startswith("build/tools/vfiomig-ctl "),
                "README: the quick start builds one target, then runs build/tools/vfiomig-ctl",
                lines):
        return
    intro = json.load(open(os.path.join(BUILD, "meson-info", "intro-targets.json")))
    named = [x["filename"] for x in intro if m.group(1) in (x["name"], x["id"])]
    t.ok(named == [[os.path.join(BUILD, "tools", "vfiomig-ctl")]],
         "README: `meson compile -C build %s` builds the tool alone" % m.group(1), named)
    tmp = tempfile.mkdtemp(prefix="vfiomig-readme-")
    try:
        os.symlink(BUILD, os.path.join(tmp, "build"))
        rc, out, err = run_sh(steps[2], tmp, base_env())
        done = re.search(r"^state: +source STOP, destination RUNNING$", out, re.M)
        t.ok(rc == 0 and done, "README: the quick start's migration runs as written",
             "rc %d\nstdout:\n%s\nstderr:\n%s" % (rc, out, err))
    finally:
        shutil.rmtree(tmp)


def check_example(t, readme):
    sec = [(lang, body) for s, lang, body in blocks(readme) if s == "A short example"]
    code = [body for lang, body in sec if lang == "c"]
    build = [body for lang, body in sec if lang == "sh"]
    prints = [body for lang, body in sec if lang == ""]
    src = open(os.path.join(SRC, EXAMPLE)).read()
    body = src[src.index("#include"):]
    t.ok(len(code) == 1 and code[0] == body,
         "README: its C example is %s, word for word" % EXAMPLE,
         "the README's block and the file (from its first #include) differ")
    t.ok(len(build) == 1 and "meson-uninstalled" in build[0] and EXAMPLE in build[0],
         "README: one block of commands builds %s against build/meson-uninstalled" % EXAMPLE,
         build)
    t.ok(len(prints) == 1, "README: the example's output is shown", prints)
    if len(build) != 1 or len(prints) != 1:
        return
    if SANITIZE not in ("", "none"):
        t.skip("the README's commands build and run the example",
               "b_sanitize=%s: a sanitized library needs the sanitizer's runtime" % SANITIZE)
        t.skip("meson devenv builds and runs the example", "b_sanitize=%s" % SANITIZE)
        return
    for tool in ("cc", "pkg-config"):
        if not shutil.which(tool):
            t.ok(False, "the README's commands need %s, which is not installed" % tool)
            return
    # The commands run as written, from a directory laid out as the README
    # assumes (the source tree with the build tree in build/).
    tmp = tempfile.mkdtemp(prefix="vfiomig-readme-")
    try:
        os.symlink(BUILD, os.path.join(tmp, "build"))
        os.symlink(os.path.join(SRC, "examples"), os.path.join(tmp, "examples"))
        env = base_env()
        for v in ("PKG_CONFIG_PATH", "LD_LIBRARY_PATH", "CFLAGS", "LDFLAGS"):
            env.pop(v, None)
        rc, out, err = run_sh(build[0], tmp, env)
        t.ok(rc == 0 and out == prints[0],
             "the README's commands build the example against the build tree and it prints "
             "what the README shows", "rc %d\nstdout:\n%s\nstderr:\n%s" % (rc, out, err))
        check_devenv(t, readme, prints[0], env)
    finally:
        shutil.rmtree(tmp)


def check_devenv(t, readme, prints, env):
    text = " ".join(section_text(readme, "A short example").split())
    m = re.search(r"`meson devenv -C build` opens a shell in `build/` where `([^`]+)`", text)
    if not t.ok(m is not None, "README: the meson devenv command is found"):
        return
    if not shutil.which("meson"):
        t.skip("meson devenv builds and runs the example", "meson is not on PATH")
        return
    if os.path.realpath(os.path.dirname(BUILD)) != os.path.realpath(SRC):
        t.skip("meson devenv builds and runs the example",
               "the build tree is not a directory of the source tree, as ../examples needs")
        return
    made = os.path.join(BUILD, "short-example")
    try:
        p = subprocess.run(["meson", "devenv", "-C", BUILD, "bash", "-e", "-c", m.group(1)],
                           env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        out = p.stdout.decode("utf-8", "replace")
        t.ok(p.returncode == 0 and out == prints,
             "meson devenv -C build: the README's command builds and runs the example",
             "rc %d\nstdout:\n%s\nstderr:\n%s" % (p.returncode, out, p.stderr.decode()))
    finally:
        if os.path.exists(made):
            os.unlink(made)


def main():
    t = Tap()
    readme = open(os.path.join(SRC, "README.md")).read()
    check_packages(t, readme)
    check_quick_start(t, readme)
    check_example(t, readme)
    t.done()


main()
