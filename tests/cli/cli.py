# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared helpers for the vfiomig-ctl tests: run the built binary, parse its
JSON with a real parser, and report in TAP (which `meson test` reads).

Every test script takes the path of the built vfiomig-ctl as argv[1] (and
the source root as argv[2] where it needs one)."""

import json
import os
import re
import subprocess
import sys
import tempfile

CTL = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "vfiomig-ctl"
SRC = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else None
TIMEOUT = 120
# Every command of vfiomig-ctl, in the order of its --help.
COMMANDS = ["list", "info", "state", "reset", "save", "load", "migrate", "profile", "check",
            "inspect", "dirty",
            "conformance", "help"]

# Mock identities used in the mismatch tests (docs/mock.md: pci=, driver=).
MLX5 = "pci=15b3:101e,driver=mlx5_vfio_pci"
ICE = "pci=8086:1889,driver=ice-vfio-pci"


def base_env(**extra):
    env = dict(os.environ)
    env.pop("TERM", None)
    env["LC_ALL"] = "C"
    env.update(extra)
    return env


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        print(("ok %d - %s" if cond else "not ok %d - %s") % (self.n, name))
        if not cond:
            self.failed += 1
            if diag is not None:
                for line in str(diag).splitlines()[:40]:
                    print("# " + line)
        sys.stdout.flush()
        return cond

    def todo(self, cond, name, why, diag=None):
        """A known problem elsewhere: reported, but not a failure of this suite."""
        self.n += 1
        print("%s %d - %s # TODO %s" % ("ok" if cond else "not ok", self.n, name, why))
        if not cond and diag is not None:
            for line in str(diag).splitlines()[:10]:
                print("# " + line)

    def skip(self, name, why):
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, name, why))

    def missing(self, name, why):
        """A tool the test needs is missing: a SKIP, but a failure in CI
        (VFIOMIG_CI=1, .ci/run), which installs every tool a test needs."""
        if os.environ.get("VFIOMIG_CI") == "1":
            self.ok(False, "%s (VFIOMIG_CI=1): %s" % (name, why))
        else:
            self.skip(name, why)

    def done(self):
        print("1..%d" % self.n)
        sys.exit(1 if self.failed else 0)


class Result:
    def __init__(self, args, rc, out, err):
        self.args, self.rc, self.out, self.err = args, rc, out, err

    @property
    def text(self):
        return self.out.decode("utf-8", "replace")

    @property
    def errtext(self):
        return self.err.decode("utf-8", "replace")

    def json(self):
        """The one JSON document on stdout (json.loads refuses trailing data)."""
        return json.loads(self.out.decode("utf-8"))

    def __str__(self):
        return "args: %s\nrc: %s\nstdout: %s\nstderr: %s" % (
            " ".join(map(repr, self.args)), self.rc, self.text[:2000], self.errtext[:2000])


def run(*args, stdin=None, input=None, stdout=subprocess.PIPE, env=None):
    """Runs vfiomig-ctl ARGS; stdin is /dev/null unless given."""
    argv = [CTL] + [a if isinstance(a, bytes) else str(a) for a in args]
    if input is None and stdin is None:
        stdin = subprocess.DEVNULL
    p = subprocess.run(argv, stdin=stdin, input=input, stdout=stdout,
                       stderr=subprocess.PIPE, env=env or base_env(), timeout=TIMEOUT)
    return Result(argv, p.returncode, p.stdout or b"", p.stderr)


def shell(cmd, env=None):
    """Runs a bash pipeline in which $CTL is the binary.  Returns the exit
    status of each command of the last pipeline, stdout and stderr."""
    e = env or base_env()
    e["CTL"] = CTL
    r, w = os.pipe()
    p = subprocess.Popen(["bash", "-c", cmd + '; echo "${PIPESTATUS[*]}" >&%d' % w],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=e, pass_fds=(w,))
    os.close(w)
    out, err = p.communicate(timeout=TIMEOUT)
    status = os.read(r, 4096).decode().split()
    os.close(r)
    return [int(x) for x in status], out, err.decode("utf-8", "replace")


def fenced_blocks(text):
    """A Markdown page's fenced blocks: (line of the opening fence, the
    "## " section it is in, its language, its body)."""
    out, section = [], ""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        # An info string may carry attributes after the language
        # ("rust,no_run", as rustdoc reads them): the language is its first word.
        m = re.match(r"^```(\w*)(?:,[\w,-]*)?$", line)
        if m:
            j = lines.index("```", i + 1)
            out.append((i + 1, section, m.group(1), "\n".join(lines[i + 1:j]) + "\n"))
            i = j
        i += 1
    return out


def one_line(err):
    """Whether stderr is exactly one line."""
    return err.count(b"\n") == 1 and err.endswith(b"\n")


def tmpdir():
    return tempfile.mkdtemp(prefix="vfiomig-cli-")


def stream_size(size, pages=None):
    """A plain mock STOP_COPY stream: 40 + 24 * pages + size + 24 (docs/mock.md)."""
    if pages is None:
        pages = (size + 65535) // 65536
    return 40 + 24 * pages + size + 24


def complete(line):
    """What the bash completion offers for LINE (plain bash)."""
    script = os.path.join(SRC, "shell-completion", "bash", "vfiomig-ctl")
    prog = 'source "%s"\n' % script + r'''
COMP_LINE=$1
COMP_POINT=${#COMP_LINE}
read -ra COMP_WORDS <<<"$COMP_LINE"
[[ $COMP_LINE == *' ' ]] && COMP_WORDS+=('')
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_vfiomig_ctl
printf '%s\n' "${COMPREPLY[@]}"
'''
    p = subprocess.run(["bash", "-c", prog, "bash", line], capture_output=True, env=base_env())
    return sorted(x for x in p.stdout.decode().split("\n") if x)


def catches(pid, sig):
    """Whether process @pid has a handler for @sig (its SigCgt mask)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (sig - 1)))
    except OSError:
        pass
    return False


def read_pty(master):
    """Everything a pseudo-terminal's master reads until its last slave closes; closes it."""
    data = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:		# EIO: every slave fd is closed
            break
        if not chunk:
            break
        data += chunk
    os.close(master)
    return data


def on_pty(args, term="xterm", stdin=None, stdout_pty=False, stdin_pty=False):
    """Runs with stderr (and optionally stdout or stdin) on a pseudo-terminal;
    returns (exit status, what the terminal received)."""
    import pty
    master, slave = pty.openpty()
    env = base_env() if term is None else base_env(TERM=term)
    p = subprocess.Popen([CTL] + args,
                         stdin=slave if stdin_pty else (stdin or subprocess.DEVNULL),
                         stdout=slave if stdout_pty else subprocess.DEVNULL,
                         stderr=slave, env=env)
    os.close(slave)
    data = read_pty(master)
    return p.wait(timeout=TIMEOUT), data
