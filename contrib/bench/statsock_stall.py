#!/usr/bin/python3
"""How long the stats socket's `sessions` holds up relaying (issue 6).

Starts a Dovecot and imapproxyd on loopback, opens N pre-auth sessions
(one descriptor each in the daemon: as many as its file limit allows),
logs one client in, and measures that client's NOOP round trips, first
alone, then while another thread asks for `sessions` without pause.
Prints the round-trip percentiles of both runs and the size and time of
the answers.  Usage: statsock_stall.py [N]   (default 18000)
"""

import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "system"))
import dovecot as dv  # noqa: E402


def free_port():
    return dv.free_port("127.0.0.1")


def readline(s):
    buf = b""
    while not buf.endswith(b"\r\n"):
        b = s.recv(1)
        if not b:
            raise EOFError(buf)
        buf += b
    return buf


def cmd(s, tag, text):
    s.sendall(("%s %s\r\n" % (tag, text)).encode())
    while True:
        line = readline(s)
        if line.startswith(tag.encode() + b" "):
            return line


def ask(path, command):
    with socket.socket(socket.AF_UNIX) as c:
        c.connect(path)
        c.sendall(command.encode() + b"\n")
        out = []
        while True:
            b = c.recv(1 << 20)
            if not b:
                return b"".join(out)
            out.append(b)


def percentiles(xs):
    xs = sorted(xs)
    pick = lambda q: xs[min(len(xs) - 1, int(len(xs) * q))] * 1e3
    return "p50 %.3f ms  p99 %.3f ms  max %.3f ms" % (
        pick(0.5), pick(0.99), xs[-1] * 1e3)


def noops(s, n):
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        assert b" OK" in cmd(s, "n%d" % i, "NOOP")
        out.append(time.perf_counter() - t0)
    return out


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 18000
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    d = dv.Dovecot(users={"bench": "bench-pw"})
    d.start()
    tmp = tempfile.mkdtemp(prefix="stall-")
    port = free_port()
    sock = os.path.join(tmp, "stats.sock")
    conf = os.path.join(tmp, "imapproxy.conf")
    with open(conf, "w") as f:
        f.write("[global]\nworkers = 2\nlog = %s/log\nlog_level = debug\n"
                "stats_socket = %s\nmax_connections = 100000\n\n"
                "[server default]\nlisten = 127.0.0.1:%d\nrequire_tls = no\n"
                "login_timeout = 1h\nmax_connections_per_ip = 0\n\n"
                "[backend store]\naddress = 127.0.0.1:%d\n"
                "health_check_interval = 0\n" % (tmp, sock, port, d.port))
    proc = subprocess.Popen([os.path.join(REPO, "build", "imapproxyd"),
                             "-f", "-c", conf])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.05)
        c = socket.create_connection(("127.0.0.1", port))
        readline(c)
        assert b" OK" in cmd(c, "l", "LOGIN bench bench-pw")
        idle = []
        for i in range(n):
            try:
                idle.append(socket.create_connection(
                    ("127.0.0.1", port), source_address=(
                        "127.0.%d.%d" % (3 + i // 250, 1 + i % 250), 0)))
            except OSError as e:
                print("stopped at %d connections: %s" % (i, e))
                break
        time.sleep(2)
        listed = ask(sock, "sessions").count(b'"id"')
        print("sessions listed: %d" % listed)
        base = noops(c, 5000)
        stop = threading.Event()
        calls = []

        def loop():
            while not stop.is_set():
                t0 = time.perf_counter()
                size = len(ask(sock, "sessions"))
                calls.append((time.perf_counter() - t0, size))
        t = threading.Thread(target=loop)
        t.start()
        busy = noops(c, 5000)
        stop.set()
        t.join()
        print("NOOP alone:               " + percentiles(base))
        print("NOOP during `sessions`:   " + percentiles(busy))
        os.system("grep -h \"job:\" %s/log | sort -t, -k2 -n | tail -3" % tmp)
        print("`sessions` answers: %d, %.1f MB each, %.0f ms each (mean)" % (
            len(calls), calls[0][1] / 1e6,
            1e3 * sum(x for x, _ in calls) / len(calls)))
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        d.stop()


if __name__ == "__main__":
    main()
