#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vfiomig-ctl(1) and the bash completion: the man page renders without a
warning and documents every command and option the binary accepts, and the
completion script completes commands, options, states and values (with and
without bash-completion's helpers)."""

import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli import Tap, SRC, COMMANDS, run, base_env  # noqa: E402

BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"


def options_of(command):
    text = run(command, "--help").text
    own = text.split("Options:\n", 1)[1].split("\n\n")[0] if "Options:\n" in text else ""
    return sorted(set(re.findall(r"--[a-z][a-z0-9-]*", own)))


def check_man(t, man):
    if not shutil.which("groff"):
        t.skip("man page renders without warnings", "no groff")
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
        ("vfiomig-ctl inspect --raw --backend ", ["generic", "mlx5", "mock"]),
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
    man = os.path.join(SRC, "docs", "vfiomig-ctl.1")
    script = os.path.join(SRC, "shell-completion", "bash", "vfiomig-ctl")
    check_man(t, man)
    p = subprocess.run(["bash", "-n", script], capture_output=True)
    t.ok(p.returncode == 0, "completion: bash -n", p.stderr.decode())
    check_completion(t, script, helpers=False)
    if os.path.exists(BASH_COMPLETION):
        check_completion(t, script, helpers=True)
    else:
        t.skip("completion with bash-completion's helpers", "bash-completion not installed")
    t.done()


main()
