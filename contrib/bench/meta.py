#!/usr/bin/python3
"""Print the first JSON line of a run: when, where, which sizes and versions.

run-all.sh calls it with the sizes in its environment; report.py prints it
above the tables, so a figure can always be traced to what produced it.
"""
import datetime
import hashlib
import json
import os
import platform
import subprocess

PACKAGES = ("dovecot-imapd", "nginx", "libnginx-mod-mail", "perdition",
            "haproxy", "openssl", "gnuplot-nox")
SIZES = ("USERS", "BIG_MSG_MIB", "LOGIN_SESSIONS", "LOGIN_CONCURRENCY",
         "FETCH_REPEAT", "IDLE_SESSIONS", "IDLE_HOLD", "NOOP_COUNT")


def first_line(argv, cwd=None):
    """First line of a command's output, or None: a missing tool is no error."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10,
                             cwd=cwd).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    lines = out.strip().splitlines()
    return lines[0] if lines else None


def imapproxyd_version():
    """Binary version, the commit the tree was at (+ if edited) and the
    binary's own hash: the tree can move on while the binary stays."""
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    binary = os.environ.get("IMAPPROXYD", "imapproxyd")
    ver = first_line([binary, "-v"])
    commit = first_line(["git", "rev-parse", "--short", "HEAD"], cwd=top)
    # only the daemon's own sources: edits to contrib/ change no binary
    dirty = first_line(["git", "status", "--porcelain", "--untracked-files=no",
                        "--", "proxy", "acl", "include"], cwd=top)
    try:
        with open(binary, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:12]
    except OSError:
        digest = None
    if commit:
        ver = f"{ver} ({commit}{'+' if dirty else ''}, sha256 {digest})"
    return ver


def main():
    meta = {
        "test": "meta",
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "cert": os.environ.get("CERT_USED", "ec"),
        "quick": os.environ.get("BENCH_QUICK") == "1",
        "versions": {p: first_line(["dpkg-query", "-W", "-f=${Version}", p])
                     for p in PACKAGES},
    }
    meta["versions"]["imapproxyd"] = imapproxyd_version()
    for key in SIZES:
        meta[key.lower()] = float(os.environ[key]) if "." in os.environ[key] \
            else int(os.environ[key])
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
