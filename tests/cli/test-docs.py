#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vfiomig-ctl(1) and the bash completion: the man page renders without a
warning, documents every command and option the binary accepts, carries the
tool's version and, read with man, runs no two words together; and the
completion script completes commands, options, states and values (with and
without bash-completion's helpers).

The page tested is the one meson configures and installs: VFIOMIG_MAN
(tests/cli/meson.build), or docs/vfiomig-ctl.1 of the build tree."""

import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli import Tap, SRC, CTL, COMMANDS, run, base_env  # noqa: E402

BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"
MAN = os.environ.get("VFIOMIG_MAN") or \
    os.path.join(os.path.dirname(os.path.dirname(CTL)), "docs", "vfiomig-ctl.1")


def options_of(command):
    text = run(command, "--help").text
    own = text.split("Options:\n", 1)[1].split("\n\n")[0] if "Options:\n" in text else ""
    return sorted(set(re.findall(r"--[a-z][a-z0-9-]*", own)))


def check_man(t, man):
    if not shutil.which("groff"):
        t.missing("man page renders without warnings", "groff is not installed (groff-base)")
        return
    p = subprocess.run(["groff", "-man", "-ww", "-z", man], capture_output=True)
    t.ok(p.returncode == 0 and p.stderr == b"", "groff -man -ww: no warnings", p.stderr.decode())
    p = subprocess.run(["groff", "-man", "-Tutf8", "-P", "-cbou", man], capture_output=True,
                       env=base_env())
    raw = p.stdout.decode("utf-8", "replace")
    text = raw.replace("\u2010", "-")
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "JSON OUTPUT", "EXIT STATUS",
                    "EXAMPLES", "SEE ALSO"):
        t.ok(re.search(r"^%s$" % section, text, re.M) is not None, "man page: %s" % section)
    for c in COMMANDS:
        t.ok(re.search(r"^   %s\b" % c, text, re.M) is not None, "man page: the %s command" % c)
        for o in options_of(c):
            t.ok(o in text, "man page: %s %s" % (c, o))
    for words in ("ssh", "--leave running", "inspect", "pipefail"):
        t.ok(words in text.split("EXAMPLES")[1], "man page examples: %s" % words)
    t.ok(not re.search(r"\w[\u2010-]$", raw.split("DESCRIPTION")[1], re.M),
         "man page: no hyphenated line breaks")


def source_text(source):
    """What the page's source says, macro names, comments and the escapes
    that print nothing taken out: the words and tokens it was written with."""
    out = []
    for line in source.splitlines():
        if line.startswith('.\\"'):
            continue
        if line.startswith("."):
            line = line.split(None, 1)[1] if " " in line else ""
        line = re.sub(r"\\f(\[[^]]*\]|\(..|.)|\\[&%:]", "", line)
        line = re.sub(r"\\(\(..|\[[^]]*\]|[^-])", " ", line.replace("\\-", "-"))
        out.append(line.replace('"', " "))
    return "\n".join(out)


def run_together(rendered, source):
    """Words of the rendered page that its source never wrote: two or more
    words an alternating macro (.BR, .RB, ...) joined because it was given
    more arguments than the text had fonts, "(dirty),astreamthat...".
    Also a comma or semicolon glued to the next word ("save,and"), unless
    the source wrote that token so (mock:a,size=16M) or it opens a list
    ("[,key=value...]")."""
    text = source_text(source)
    words, tokens = set(re.findall(r"[A-Za-z0-9]+", text)), set(text.split())
    found = []
    for line in rendered.splitlines():
        for tok in line.split():
            new = [w for w in re.findall(r"[A-Za-z0-9]+", tok) if w not in words]
            if new or (re.search(r"(?<!\[)[,;][A-Za-z]", tok) and tok not in tokens):
                found.append("%s (in: %s)" % (tok, line.strip()))
    return found


def check_man_read(t, man):
    """The page as a user reads it, with man(1): no words run together, and
    the footer names the version the tool reports."""
    if not shutil.which("man"):
        t.missing("man -l: the page as read", "man is not installed (man-db)")
        return
    # UTF-8, so that the special characters the source names (\\(mu, \\(bu)
    # render as themselves, not as the letters x and o.
    p = subprocess.run(["man", "-l", man], capture_output=True,
                       env=base_env(LC_ALL="C.UTF-8", MANWIDTH="80", MANPAGER="cat",
                                    PAGER="cat"))
    rendered = re.sub(r".\x08", "", p.stdout.decode("utf-8", "replace"))
    rendered = rendered.replace("\u2010", "-").replace("\u2212", "-")
    if not t.ok(p.returncode == 0 and "EXIT STATUS" in rendered, "man -l renders the page",
                p.stderr.decode()):
        return
    found = run_together(rendered, open(man).read())
    t.ok(not found, "man -l: no words run together", "\n".join(found))
    version = run("--version").text.split()[-1]
    footer = [l for l in rendered.splitlines() if l.strip()][-1]
    t.ok(re.match(r"^libvfiomig %s\s" % re.escape(version), footer) is not None,
         "man -l: the footer names libvfiomig %s, as vfiomig-ctl --version does" % version,
         footer)


def complete(script, line, helpers):
    """What the completion function offers for LINE (the cursor at its end)."""
    prog = ""
    if helpers:
        prog += "source %s\n" % BASH_COMPLETION
    prog += 'source "%s"\n' % script
    # COMP_WORDS as bash builds it: COMP_WORDBREAKS splits at ':' and '='.
    prog += r'''
line=$1
COMP_LINE=$line
COMP_POINT=${#line}
COMP_WORDS=()
w=''
for ((i = 0; i < ${#line}; i++)); do
    ch=${line:i:1}
    case $ch in
        ' ') [[ -n $w ]] && COMP_WORDS+=("$w"); w='' ;;
        :|=) [[ -n $w ]] && COMP_WORDS+=("$w"); COMP_WORDS+=("$ch"); w='' ;;
        *) w+=$ch ;;
    esac
done
COMP_WORDS+=("$w")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_vfiomig_ctl
printf '%s\n' "${COMPREPLY[@]}"
'''
    p = subprocess.run(["bash", "-c", prog, "bash", line], capture_output=True, env=base_env())
    return sorted(x for x in p.stdout.decode().split("\n") if x), p.stderr.decode()


def check_completion(t, script, helpers):
    tag = "with bash-completion" if helpers else "plain bash"
    cases = [
        ("vfiomig-ctl ", COMMANDS),
        ("vfiomig-ctl s", ["save", "state"]),
        ("vfiomig-ctl --js", ["--json"]),
        ("vfiomig-ctl --json st", ["state"]),
        # after a device: the target (never ERROR), or another device of a group
        ("vfiomig-ctl state mock:a,state=stop ",
         ["PRE_COPY", "PRE_COPY_P2P", "RESUMING", "RUNNING", "RUNNING_P2P", "STOP",
          "STOP_COPY", "mock:"]),
        ("vfiomig-ctl state mock:a err", []),
        # help takes a command
        ("vfiomig-ctl help ", COMMANDS),
        ("vfiomig-ctl help s", ["save", "state"]),
        ("vfiomig-ctl help save ", []),
        ("vfiomig-ctl state mock:a pre_copy", ["PRE_COPY", "PRE_COPY_P2P"]),
        ("vfiomig-ctl save mock:a --le", ["--leave"]),
        ("vfiomig-ctl save mock:a --leave ", ["running", "stop"]),
        ("vfiomig-ctl save mock:a --precopy=", ["auto", "never"]),
        ("vfiomig-ctl save mock:a --progress=", ["always", "auto", "never"]),
        ("vfiomig-ctl load mock:a --progress ", ["always", "auto", "never"]),
        ("vfiomig-ctl migrate mock:a --progress=n", ["never"]),
        ("vfiomig-ctl load mock:a --f", ["--force"]),
        ("vfiomig-ctl inspect --raw --backend ", ["generic", "mlx5", "mock", "xe"]),
        ("vfiomig-ctl info mock:a ", []),
        # save, load and migrate take a group: more devices, and --to
        ("vfiomig-ctl migrate mock:a mock:b --t", ["--to"]),
        ("vfiomig-ctl save mock:a --allow", ["--allow-no-p2p"]),
    ]
    for line, want in cases:
        got, err = complete(script, line, helpers)
        t.ok(got == sorted(want), "completion (%s): %r" % (tag, line), (got, err))
    got, err = complete(script, "vfiomig-ctl info m", helpers)
    t.ok("mock:" in got, "completion (%s): devices include mock:" % tag, (got, err))
    for line in ("vfiomig-ctl save mock:a m", "vfiomig-ctl load mock:a mock:b m",
                 "vfiomig-ctl migrate mock:a mock:b --to mock:c m"):
        got, err = complete(script, line, helpers)
        t.ok("mock:" in got, "completion (%s): another device of a group: %r" % (tag, line),
             (got, err))
    for c in COMMANDS:
        got, err = complete(script, "vfiomig-ctl %s mock:a --" % c, helpers)
        missing = [o for o in options_of(c) if o not in got]
        t.ok(not missing, "completion (%s): every option of %s" % (tag, c), missing)


def main():
    t = Tap()
    script = os.path.join(SRC, "shell-completion", "bash", "vfiomig-ctl")
    check_man(t, MAN)
    check_man_read(t, MAN)
    p = subprocess.run(["bash", "-n", script], capture_output=True)
    t.ok(p.returncode == 0, "completion: bash -n", p.stderr.decode())
    check_completion(t, script, helpers=False)
    if os.path.exists(BASH_COMPLETION):
        check_completion(t, script, helpers=True)
    else:
        t.skip("completion with bash-completion's helpers", "bash-completion not installed")
    t.done()


main()
