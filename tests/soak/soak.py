#!/usr/bin/python3
"""Soak: imapproxyd under mixed load for a long while (issue 7).

A real Dovecot behind the daemon, and at once:
  - IDLERS long-lived sessions in IDLE, each woken every ~20 s (DONE,
    NOOP, IDLE again): none of them may ever be dropped;
  - logins that SELECT and FETCH every message, then LOGOUT;
  - clients that vanish at a random step (mid-greeting, mid-login,
    mid-FETCH);
  - hostile clients: garbage, oversized lines, bad commands, TLS junk;
  - a reload every RELOAD seconds with a changed ACL, which must succeed;
  - a sample of the daemon's RSS, descriptors and sessions every 10 s.
At the end it prints the RSS curve (per minute), the counts of each kind
of work and every unexpected failure, and writes the samples as CSV.
Exit status 1 when an IDLE session was lost, a reload failed, the
daemon died, or RSS in the last third grew more than GROWTH_LIMIT over
the middle third (a leak, rather than a warm-up).

Usage: soak.py [--minutes 30] [--idlers 100] [--csv FILE]
"""

import argparse
import os
import random
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "system"))
import dovecot as dv  # noqa: E402

HOST = "127.0.0.1"
GROWTH_LIMIT_KIB = 4096     # last third over middle third, after warm-up
USERS = 40


class Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = {}
        self.failures = []

    def add(self, name, n=1):
        with self.lock:
            self.c[name] = self.c.get(name, 0) + n

    def fail(self, what):
        with self.lock:
            self.failures.append("%.0f %s" % (time.time(), what))


def readline(s):
    buf = b""
    while not buf.endswith(b"\r\n"):
        b = s.recv(1)
        if not b:
            raise EOFError(buf)
        buf += b
    return buf


def command(s, tag, text):
    s.sendall(("%s %s\r\n" % (tag, text)).encode())
    lines = []
    while True:
        line = readline(s)
        lines.append(line)
        if line.startswith(tag.encode() + b" "):
            return lines


def login(port, user, pw, src=None):
    s = socket.create_connection((HOST, port), timeout=30,
                                 source_address=(src, 0) if src else None)
    readline(s)
    r = command(s, "l", 'LOGIN "%s" "%s"' % (user, pw))
    if b" OK" not in r[-1]:
        s.close()
        raise RuntimeError("login failed: %r" % r[-1])
    return s


def idler(n, port, users, stop, k):
    """One long-lived IDLE session; its loss is a failure."""
    user = "soak%d" % (n % USERS)
    try:
        s = login(port, user, users[user], src="127.0.3.%d" % (1 + n % 250))
        command(s, "s", "SELECT INBOX")
        while not stop.is_set():
            s.sendall(b"i IDLE\r\n")
            if not readline(s).startswith(b"+ "):
                raise RuntimeError("IDLE refused")
            stop.wait(15 + random.random() * 10)
            s.sendall(b"DONE\r\n")
            while not readline(s).startswith(b"i "):
                pass
            if b" OK" not in command(s, "n", "NOOP")[-1]:
                raise RuntimeError("NOOP failed")
            k.add("idle_cycles")
        command(s, "o", "LOGOUT")
        s.close()
    except Exception as e:      # noqa: BLE001 - every loss counts
        k.fail("idler %d lost: %r" % (n, e))
        k.add("idlers_lost")


def fetcher(port, users, stop, k):
    while not stop.is_set():
        user = "soak%d" % random.randrange(USERS)
        try:
            s = login(port, user, users[user])
            command(s, "s", "SELECT INBOX")
            r = command(s, "f", "FETCH 1:* (BODY.PEEK[])")
            if b" OK" not in r[-1]:
                raise RuntimeError("FETCH: %r" % r[-1])
            command(s, "o", "LOGOUT")
            s.close()
            k.add("fetch_sessions")
        except Exception as e:  # noqa: BLE001
            k.fail("fetcher: %r" % e)


def vanisher(port, users, stop, k):
    """Connects and drops the connection at a random step."""
    steps = ("connect", "greeting", "half-login", "login", "mid-fetch")
    while not stop.is_set():
        step = random.choice(steps)
        user = "soak%d" % random.randrange(USERS)
        try:
            s = socket.create_connection((HOST, port), timeout=30)
            if step != "connect":
                readline(s)
            if step == "half-login":
                s.sendall(b'l LOGIN "%s" "' % user.encode())
            if step in ("login", "mid-fetch"):
                command(s, "l", 'LOGIN "%s" "%s"' % (user, users[user]))
            if step == "mid-fetch":
                command(s, "s", "SELECT INBOX")
                s.sendall(b"f FETCH 1:* (BODY.PEEK[])\r\n")
                s.recv(1000)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
            k.add("vanished")
        except Exception as e:  # noqa: BLE001
            k.fail("vanisher at %s: %r" % (step, e))
        stop.wait(0.05)


def hostile(port, tls_port, stop, k):
    attacks = (
        b"\x00\xff" * 2000 + b"\r\n",
        b"a " + b"X" * 20000 + b"\r\n",
        b"a LOGIN {99999999999}\r\n",
        b"".join(b"t%d FROB\r\n" % i for i in range(10)),
        b"a STARTTLS\r\nb LOGIN x y\r\n",
    )
    while not stop.is_set():
        try:
            if random.random() < 0.2:
                s = socket.create_connection((HOST, tls_port), timeout=10)
                s.sendall(os.urandom(300))
            else:
                s = socket.create_connection((HOST, port), timeout=10)
                readline(s)
                s.sendall(random.choice(attacks))
            s.settimeout(10)
            try:
                while s.recv(65536):
                    pass
            except (socket.timeout, OSError):
                pass
            s.close()
            k.add("hostile")
        except Exception as e:  # noqa: BLE001
            k.fail("hostile: %r" % e)
        stop.wait(0.2)


def ask(path, line):
    with socket.socket(socket.AF_UNIX) as c:
        c.settimeout(30)
        c.connect(path)
        c.sendall(line.encode() + b"\n")
        out = b""
        while True:
            b = c.recv(65536)
            if not b:
                return out.decode()
            out += b


def reloader(sock, acl, every, stop, k):
    n = 0
    while not stop.wait(every):
        n += 1
        with open(acl, "w") as f:
            f.write("deny ip 127.0.9.%d\nallow any\n" % (1 + n % 200))
        out = ask(sock, "reload")
        if '"ok":true' not in out:
            k.fail("reload %d: %s" % (n, out[:300]))
        else:
            k.add("reloads")


def proc_figures(pid):
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir("/proc/%d/fd" % pid))


def sampler(pid, sock, stop, samples, t0):
    while True:
        try:
            rss, fds = proc_figures(pid)
            sessions = ask(sock, "sessions").count('"id"')
        except (OSError, ValueError):
            return
        samples.append((time.monotonic() - t0, rss, fds, sessions))
        if stop.wait(10):
            return


def start_stack(tmp, users, idlers):
    store = dv.Dovecot(users=users, reuse_processes=True)
    store.start()
    msg = dv.sample_message(subject="soak",
                            body=("x" * 76 + "\r\n") * 2600)   # 200 KB
    for u in users:
        for _ in range(3):
            store.append(u, msg)
    port, tls_port = dv.free_port(), dv.free_port()
    sock = os.path.join(tmp, "stats.sock")
    acl = os.path.join(tmp, "soak.acl")
    with open(acl, "w") as f:
        f.write("allow any\n")
    cert = os.path.join(REPO, "tests", "system")
    sys.path.insert(0, cert)
    import certs
    crt, key = certs.make_cert(tmp, "soak.test", ["soak.test"],
                               key_type="ec")
    conf = os.path.join(tmp, "imapproxy.conf")
    with open(conf, "w") as f:
        f.write("[global]\nworkers = 2\nlog = %s/proxy.log\n"
                "log_level = info\nstats_socket = %s\n\n"
                "[server default]\nlisten = %s:%d, %s:%d tls\n"
                "tls_cert = %s %s\nrequire_tls = no\nacl = %s\n"
                "login_timeout = 20s\nmax_connections_per_ip = 0\n"
                "max_connections_per_user = 0\nauth_fail_limit = 0\n"
                "auth_fail_delay = 0\n\n"
                "[backend store]\naddress = %s:%d\n"
                "health_check_interval = 5s\n" % (
                    tmp, sock, HOST, port, HOST, tls_port, crt, key, acl,
                    store.host, store.port))
    proc = subprocess.Popen([os.path.join(REPO, "build", "imapproxyd"),
                             "-f", "-c", conf],
                            stderr=open(os.path.join(tmp, "stderr"), "w"))
    dv.wait_greeting(HOST, port)
    return store, proc, port, tls_port, sock, acl


def report(samples, k, minutes, csv):
    with open(csv, "w") as f:
        f.write("seconds,rss_kib,fds,sessions\n")
        for s in samples:
            f.write("%.0f,%d,%d,%d\n" % s)
    print("RSS per minute (KiB), descriptors, sessions:")
    last_minute = -1
    for t, rss, fds, n in samples:
        if int(t // 60) != last_minute:
            last_minute = int(t // 60)
            print("  %3d min  %8d  %6d  %6d" % (last_minute, rss, fds, n))
    third = max(1, len(samples) // 3)
    mid = [s[1] for s in samples[third:2 * third]]
    end = [s[1] for s in samples[2 * third:]]
    growth = (max(end) - max(mid)) if mid and end else 0
    print("RSS max: middle third %d KiB, last third %d KiB, growth %d KiB"
          % (max(mid or [0]), max(end or [0]), growth))
    print("work: %s" % ", ".join("%s=%d" % kv for kv in sorted(k.c.items())))
    print("unexpected failures: %d" % len(k.failures))
    for f in k.failures[:30]:
        print("  " + f)
    return growth


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--idlers", type=int, default=100)
    ap.add_argument("--reload", type=float, default=60)
    ap.add_argument("--csv", default="soak.csv")
    a = ap.parse_args()
    users = dict(("soak%d" % i, "pw-soak-%d" % i) for i in range(USERS))
    tmp = tempfile.mkdtemp(prefix="soak-")
    store, proc, port, tls_port, sock, acl = start_stack(tmp, users,
                                                         a.idlers)
    stop = threading.Event()
    k = Counters()
    samples = []
    t0 = time.monotonic()
    threads = [threading.Thread(target=sampler,
                                args=(proc.pid, sock, stop, samples, t0))]
    threads += [threading.Thread(target=idler,
                                 args=(n, port, users, stop, k))
                for n in range(a.idlers)]
    threads += [threading.Thread(target=fetcher, args=(port, users, stop, k))
                for _ in range(2)]
    threads += [threading.Thread(target=vanisher,
                                 args=(port, users, stop, k))]
    threads += [threading.Thread(target=hostile,
                                 args=(port, tls_port, stop, k))]
    threads += [threading.Thread(target=reloader,
                                 args=(sock, acl, a.reload, stop, k))]
    for t in threads:
        t.start()
    try:
        deadline = t0 + a.minutes * 60
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(1)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    died = proc.poll() is not None
    growth = report(samples, k, a.minutes, a.csv)
    proc.terminate()
    rc = proc.wait(timeout=60)
    store.stop()
    print("daemon: %s, exit %d; files in %s" % (
        "DIED during the soak" if died else "alive to the end", rc, tmp))
    bad = (died or k.c.get("idlers_lost", 0) > 0 or
           any(f.split(" ", 1)[1].startswith("reload") for f in k.failures)
           or growth > GROWTH_LIMIT_KIB)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
