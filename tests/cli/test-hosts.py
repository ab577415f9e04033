#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A migration between two hosts, as the README and the man page give it:

    set -o pipefail
    ssh HOST vfiomig-ctl profile DEV --json | vfiomig-ctl check DEV --against - &&
    vfiomig-ctl save DEV -o - --precopy | ssh HOST vfiomig-ctl load DEV -i -

through a real sshd that this test starts on 127.0.0.1 (an unprivileged
port, a throwaway host key and user key in a temporary directory; not the
system's service).  The far side runs the build tree's vfiomig-ctl.  Mocks
live inside one process, so the source is the near vfiomig-ctl's mock and
"the source runs again" is what the near process reports; the destination
is the far process's, and its state is what the far process reports (with
--json, through ssh's standard output).

Checked: the README's recipe word for word (its `ssh dst` given this test's
options): the destination's profile checked first, then pre-copy and both
summaries; with an incompatible destination, the check refuses it (exit 1,
the reason) and nothing moves; the far side failing part-way, on
another kind of device, and only once the whole stream has arrived; the
near side failing; ssh failing to connect.  Each failure must give each
side's error and a non-zero pipeline status under pipefail, and leave the
source RUNNING unless the save had already finished.

Without sshd (a developer machine) the test skips and says why; with
VFIOMIG_CI=1 (.ci/run) it fails instead."""

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli import Tap, CTL, SRC, MLX5, ICE, base_env  # noqa: E402

TOOLS = os.path.dirname(CTL)
LIBDIR = os.path.join(os.path.dirname(TOOLS), "lib")
TIMEOUT = 60
# What the far side's vfiomig-ctl needs from this environment: the build
# tree's binary and library, and the sanitizers' settings in their builds.
FORWARD = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "MSAN_OPTIONS", "LSAN_OPTIONS",
           "MALLOC_PERTURB_")


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def find_sshd():
    for p in (shutil.which("sshd"), "/usr/sbin/sshd"):
        if p and os.access(p, os.X_OK):
            return os.path.realpath(p)	# sshd re-executes itself: an absolute path
    return None


class Sshd:
    def __init__(self, tmp, sshd):
        self.tmp, self.sshd, self.proc, self.port = tmp, sshd, None, None
        self.host_key = os.path.join(tmp, "host_ed25519")
        self.user_key = os.path.join(tmp, "user_ed25519")
        self.log = os.path.join(tmp, "sshd.log")
        self.config = os.path.join(tmp, "sshd_config")

    def keys(self):
        for k in (self.host_key, self.user_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vfiomig-test",
                            "-f", k], check=True, stdin=subprocess.DEVNULL)
        shutil.copy(self.user_key + ".pub", os.path.join(self.tmp, "authorized_keys"))

    def write_config(self):
        with open(self.config, "w") as f:
            f.write("\n".join([
                "ListenAddress 127.0.0.1:%d" % self.port,
                "HostKey " + self.host_key,
                "PidFile " + os.path.join(self.tmp, "sshd.pid"),
                "AuthorizedKeysFile " + os.path.join(self.tmp, "authorized_keys"),
                # The keys live in a temporary directory, not in ~/.ssh.
                "StrictModes no",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                # CI runs the tests as root; a key is all root may use.
                "PermitRootLogin prohibit-password",
                # No PAM: its session modules (pam_loginuid) fail in containers.
                "UsePAM no",
                "PrintMotd no",
                "PrintLastLog no",
                "UseDNS no",
                "LogLevel INFO",
                ""]))

    def start(self):
        """Starts sshd; returns None, or why it could not."""
        self.keys()
        # sshd started as root checks for its privilege-separation
        # directory, which the system service would have created.  It is
        # left in place afterwards: another sshd (another run of this test,
        # the system's) may be using it, and its preauth children would
        # then reset their connections.
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", 0o755, exist_ok=True)
        for _ in range(3):	# another program may take the port in between
            self.port = free_port()
            self.write_config()
            p = subprocess.run([self.sshd, "-t", "-f", self.config], capture_output=True)
            if p.returncode != 0:
                return "sshd -t: " + p.stderr.decode()
            log = open(self.log, "ab")
            self.proc = subprocess.Popen([self.sshd, "-D", "-e", "-f", self.config],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            log.close()
            end = time.monotonic() + 10
            while self.proc.poll() is None and time.monotonic() < end:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return None
                except OSError:
                    time.sleep(0.02)
            self.stop()
        return "sshd did not start listening:\n" + open(self.log).read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cleanup(self):
        self.stop()

    def ssh(self, port=None):
        """`ssh HOST` for a pipeline: this test's options, then the far
        side's environment (the build tree's vfiomig-ctl on PATH)."""
        opts = ["-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5",
                "-i", self.user_key, "-p", str(port or self.port)]
        env = {"PATH": TOOLS + ":" + os.environ.get("PATH", "/usr/bin:/bin"),
               "LD_LIBRARY_PATH": ":".join(
                   x for x in (LIBDIR, os.environ.get("LD_LIBRARY_PATH")) if x),
               "LC_ALL": "C"}
        env.update({k: os.environ[k] for k in FORWARD if k in os.environ})
        remote = "env " + " ".join(shlex.quote("%s=%s" % kv) for kv in sorted(env.items()))
        return "ssh %s 127.0.0.1 %s" % (" ".join(shlex.quote(o) for o in opts),
                                        shlex.quote(remote))


class Result:
    def __init__(self, script, status, pipestatus, out, err):
        self.script, self.status, self.pipestatus = script, status, pipestatus
        self.out, self.err = out, err

    def lines(self, prefix):
        return [l for l in self.err.splitlines() if l.startswith(prefix)]

    def json(self):
        try:
            return json.loads(self.out)
        except ValueError:
            return {}

    def __str__(self):
        return "script: %s\nstatus: %s, PIPESTATUS: %s\nstdout: %s\nstderr: %s" % (
            self.script, self.status, self.pipestatus, self.out[:3000], self.err[:3000])


def pipeline(script, cwd):
    """Runs SCRIPT with bash, with the build tree's vfiomig-ctl first on
    PATH; returns the last pipeline's status and PIPESTATUS."""
    env = base_env()
    env["PATH"] = TOOLS + ":" + env.get("PATH", "/usr/bin:/bin")
    r, w = os.pipe()
    full = '%s\nrc=$? ps="${PIPESTATUS[*]}"; echo "$rc $ps" >&%d\n' % (script.rstrip("\n"), w)
    p = subprocess.Popen(["bash", "-c", full], cwd=cwd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, pass_fds=(w,))
    os.close(w)
    try:
        out, err = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    status = [int(x) for x in os.read(r, 4096).decode().split()]
    os.close(r)
    return Result(script, status[0] if status else None, status[1:],
                  out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


def summary(text, key):
    m = re.search(r"^%s:\s+(.*)$" % key, text, re.M)
    return m.group(1) if m else None


def readme_recipe():
    """The README's block that pipes a save into ssh."""
    text = open(os.path.join(SRC, "README.md")).read()
    found = [b for b in re.findall(r"^```sh\n(.*?)^```$", text, re.M | re.S) if "| ssh " in b]
    return found[0] if len(found) == 1 else None


CHECK = ("ssh dst vfiomig-ctl profile 0000:3b:00.1 --json | "
         "vfiomig-ctl check 0000:3b:00.1 --against - &&\n")
RECIPE = "vfiomig-ctl save 0000:3b:00.1 -o - --precopy | ssh dst vfiomig-ctl load 0000:3b:00.1 -i -"


def check_docs(t):
    block = readme_recipe()
    t.ok(block is not None and block == "set -o pipefail\n" + CHECK + RECIPE + "\n",
         "README: the recipe, after set -o pipefail, checks the destination first", block)
    man = open(os.path.join(SRC, "docs", "vfiomig-ctl.1")).read()
    ex = man.split(".SH EXAMPLES", 1)[-1].split("\n.SH ", 1)[0]
    plain = " ".join(ex.replace("\\-", "-").replace("\\e\n", " ").split())
    t.ok("set -o pipefail vfiomig-ctl save 0000:3b:00.1 -o - --precopy | "
         "ssh dst vfiomig-ctl load 0000:3b:00.1 -i -" in plain,
         "man page EXAMPLES: the recipe, after set -o pipefail", plain[:600])


def readme_script(sshd, src, dst):
    """The README's block with mocks for its devices: the destination's
    profile, the source's check, the source's save, the destination's load."""
    block = readme_recipe()
    if block is None or block.count("0000:3b:00.1") != 4 or block.count("ssh dst ") != 2:
        return None
    for spec in (dst, src, src, dst):
        block = block.replace("0000:3b:00.1", spec, 1)
    return block.replace("ssh dst ", "%s " % sshd.ssh())


def check_readme_recipe(t, sshd, tmp):
    """The README's block, run as written, with mocks for its devices."""
    script = readme_script(sshd, "mock:src,size=16M,dirty=512K", "mock:dst,size=16M")
    if script is None:
        t.ok(False, "README recipe: found, with four devices and two `ssh dst`", readme_recipe())
        return
    r = pipeline(script, tmp)
    t.ok(r.status == 0 and r.pipestatus == [0, 0], "README recipe: a pre-copy migration succeeds",
         r)
    near, far = r.err, r.out
    t.ok(summary(near, "device") == "mock:src" and summary(near, "state") == "STOP",
         "README recipe: the save's summary on the near side's stderr, the source in STOP", r)
    pre = summary(near, "pre-copy")
    t.ok(pre is not None and pre != "none" and re.search(r"[1-9]", pre) is not None,
         "README recipe: the source was pre-copied while running (%s)" % pre, r)
    t.ok(summary(far, "device") == "mock:dst" and summary(far, "state") == "RUNNING",
         "README recipe: the load's summary through ssh, the destination RUNNING", r)
    t.ok(summary(far, "stream") == summary(near, "stream") is not None and
         summary(far, "pre-copy") == pre,
         "README recipe: both sides count the same stream and pre-copy", r)
    t.ok(not r.lines("vfiomig-ctl:"), "README recipe: no error or warning on either side", r)
    t.ok(re.search(r"^verdict: (same|compatible)$", r.out, re.M) is not None,
         "README recipe: the check passed first", r)


def check_readme_incompatible(t, sshd, tmp):
    """The README's block with a destination of another mdev type: the check
    refuses it, saying why, and nothing moves."""
    script = readme_script(sshd, "mock:src,size=16M,mdev_type=mtty-1",
                           "mock:dst,size=16M,mdev_type=mtty-2")
    if script is None:
        t.ok(False, "README recipe: found", readme_recipe())
        return
    r = pipeline(script, tmp)
    t.ok(r.status == 1 and r.pipestatus == [0, 1],
         "README recipe, incompatible destination: the check fails the recipe", r)
    t.ok(r.lines("vfiomig-ctl: check: mock:src,size=16M,mdev_type=mtty-1 cannot load into "
                 "mock:dst: the mdev types differ (source mtty-1, destination mtty-2)"),
         "README recipe, incompatible destination: the check says why", r)
    t.ok(summary(r.err, "state") is None and summary(r.out, "state") is None and
         not r.lines("vfiomig-ctl: save") and not r.lines("vfiomig-ctl: load"),
         "README recipe, incompatible destination: nothing was saved or loaded", r)


def save_into_ssh(sshd, src, dst, precopy=True, port=None):
    return "set -o pipefail\nvfiomig-ctl save %s -o -%s | %s vfiomig-ctl --json load %s -i -" % (
        src, " --precopy" if precopy else "", sshd.ssh(port), dst)


def source_ran_again(r):
    """The near side's own error line, ending with the source RUNNING."""
    return any(re.search(r"\bRUNNING\b", l) for l in r.lines("vfiomig-ctl: save mock:src: "))


def far_error(r, states):
    err = r.json().get("error") or {}
    return err.get("states") == states and bool(err.get("message"))


def check_success_json(t, sshd, tmp):
    r = pipeline(save_into_ssh(sshd, "mock:src,size=4M,dirty=256K", "mock:dst,size=4M"), tmp)
    d = r.json()
    t.ok(r.status == 0 and r.pipestatus == [0, 0] and d.get("state") == "RUNNING" and
         d.get("device") == "mock:dst" and d.get("precopy_rounds", 0) >= 1 and
         d.get("device_bytes") == d.get("precopy_bytes", 0) + d.get("stop_copy_bytes", 0),
         "load --json through ssh: the destination RUNNING, with the pre-copy counted", r)
    stream = summary(r.err, "stream")
    t.ok(stream is not None and str(d.get("stream_bytes", -1)) in stream and
         summary(r.err, "state") == "STOP",
         "load --json through ssh: the near summary's stream is the far side's", r)


def check_far_fails(t, sshd, tmp):
    # A write the destination refuses, during pre-copy: the source is still
    # running, and must be left so.
    r = pipeline(save_into_ssh(sshd, "mock:src,size=64M,dirty=1M",
                               "mock:dst,size=64M,fail=write:3:EIO"), tmp)
    t.ok(r.status == 1 and r.pipestatus == [1, 1],
         "far side fails part-way: the pipeline fails (pipefail), both sides exit 1", r)
    t.ok(far_error(r, {"mock:dst": "STOP"}),
         "far side fails part-way: its error through ssh, the destination left in STOP", r)
    t.ok(source_ran_again(r) and summary(r.err, "state") is None,
         "far side fails part-way: the near side says so and the source is RUNNING again", r)

    # Another kind of device: refused before the first write, untouched.
    r = pipeline(save_into_ssh(sshd, "mock:src,size=64M," + MLX5, "mock:dst,size=64M," + ICE),
                 tmp)
    t.ok(r.status == 1 and r.pipestatus == [1, 1] and far_error(r, {"mock:dst": "RUNNING"}),
         "another kind of device: refused before any write, the destination untouched", r)
    t.ok(source_ran_again(r), "another kind of device: the source is RUNNING again", r)

    # Another size: refused at its first record.
    r = pipeline(save_into_ssh(sshd, "mock:src,size=64M", "mock:dst,size=1M"), tmp)
    t.ok(r.status == 1 and r.pipestatus == [1, 1] and far_error(r, {"mock:dst": "STOP"}),
         "size mismatch: the far side refuses the stream, the pipeline fails", r)
    t.ok(source_ran_again(r), "size mismatch: the source is RUNNING again", r)

    # The destination's driver refuses the state once it has all of it
    # (RESUMING -> STOP): the save finished first and cannot know, so the
    # source stays in STOP, as its summary says; only the status tells.
    r = pipeline(save_into_ssh(sshd, "mock:src,size=1M", "mock:dst,size=1M,fail=set:2:EIO",
                               precopy=False), tmp)
    t.ok(r.status == 1 and r.pipestatus == [0, 1] and far_error(r, {"mock:dst": "STOP"}),
         "far side refuses the whole state: the save succeeded, the pipeline fails", r)
    t.ok(summary(r.err, "device") == "mock:src" and summary(r.err, "state") == "STOP",
         "far side refuses the whole state: the near summary says the source is in STOP", r)


def check_near_fails(t, sshd, tmp):
    r = pipeline(save_into_ssh(sshd, "mock:src,size=16M,dirty=1M,fail=read:3:EIO",
                               "mock:dst,size=16M"), tmp)
    t.ok(r.status == 1 and r.pipestatus == [1, 1],
         "near side fails: the pipeline fails, both sides exit 1", r)
    t.ok(source_ran_again(r), "near side fails: its error, with the source RUNNING again", r)
    t.ok(far_error(r, {"mock:dst": "STOP"}),
         "near side fails: the far side refuses the cut stream, the destination in STOP", r)


def check_ssh_fails(t, sshd, tmp):
    r = pipeline(save_into_ssh(sshd, "mock:src,size=64M,dirty=1M", "mock:dst,size=64M",
                               port=free_port()), tmp)
    t.ok(r.status == 255 and r.pipestatus == [1, 255],
         "ssh cannot connect: the pipeline fails with ssh's 255, the save with 1", r)
    t.ok(source_ran_again(r), "ssh cannot connect: the source is RUNNING again", r)


def main():
    t = Tap()
    check_docs(t)
    sshd_path = find_sshd()
    missing = [x for x, ok in (("sshd (openssh-server)", sshd_path),
                               ("ssh (openssh-client)", shutil.which("ssh")),
                               ("ssh-keygen (openssh-client)", shutil.which("ssh-keygen")))
               if not ok]
    if missing:
        t.missing("a migration through sshd on 127.0.0.1",
                  "not installed: " + ", ".join(missing))
        t.done()
    tmp = tempfile.mkdtemp(prefix="vfiomig-hosts-")
    sshd = Sshd(tmp, sshd_path)
    try:
        why = sshd.start()
        if t.ok(why is None, "sshd listens on 127.0.0.1 (port %s)" % sshd.port, why):
            r = pipeline("%s vfiomig-ctl --version" % sshd.ssh(), tmp)
            if t.ok(r.status == 0 and r.out.startswith("vfiomig-ctl"),
                    "ssh runs the build tree's vfiomig-ctl on the far side",
                    "%s\nsshd log:\n%s" % (r, open(sshd.log).read()[-3000:])):
                check_readme_recipe(t, sshd, tmp)
                check_readme_incompatible(t, sshd, tmp)
                check_success_json(t, sshd, tmp)
                check_far_fails(t, sshd, tmp)
                check_near_fails(t, sshd, tmp)
                check_ssh_fails(t, sshd, tmp)
    finally:
        sshd.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    t.done()


main()
