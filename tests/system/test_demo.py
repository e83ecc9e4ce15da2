"""make demo (SPEC section 1): tests/demo.py starts a Dovecot and
imapproxyd, prints how to connect, and cleans up however it is stopped."""

import os
import re
import signal
import subprocess
import sys
import time

from conftest import CTL, REPO

DEMO = REPO / "tests" / "demo.py"


def start_demo():
    return subprocess.Popen([sys.executable, str(DEMO)], cwd=str(REPO),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


def read_until(proc, needle, timeout=60):
    """The demo's output up to the line holding NEEDLE."""
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        out.append(line)
        if needle in line:
            return "".join(out)
    proc.kill()
    raise AssertionError("no %r in the demo's output:\n%s"
                         % (needle, "".join(out)))


def test_demo_self_test():
    r = subprocess.run([sys.executable, str(DEMO), "--self-test"],
                       cwd=str(REPO), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "self-test: curl exit 0" in r.stdout, r.stdout


def test_demo_sigterm_cleans_up_and_ctl_reaches_it():
    proc = start_demo()
    try:
        text = read_until(proc, "stops the proxy and the store")
        m = re.search(r"(\S+imapproxyctl) -s (\S+) who", text)
        assert m, text
        r = subprocess.run([str(CTL), "-s", m.group(2), "backends"],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 0 and "store" in r.stdout, r
        folder = re.search(r"removes (\S+)\.", text).group(1)
        assert os.path.isdir(folder)
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=30)[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "demo: stopped" in rest, rest
    assert not os.path.exists(folder), rest
    # Nothing of the demo is left running: its Dovecot's config lived in
    # FOLDER, so a process naming it would be a leftover.
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True,
                        text=True).stdout
    assert folder not in ps, ps
