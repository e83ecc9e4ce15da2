"""Faulty back ends and resource exhaustion (issue 7).

Every case runs its own imapproxyd with two back ends: `good` (the
session's Dovecot, the default) and `bad` (a scripted fake written here,
or a port nobody listens on), chosen by the routes map for users
@fault.test.  A *bystander* session is logged in on `good` before the
fault and must go on working during and after it.

Faulty back ends (fakes are threads on 127.0.0.1, every read and write
under a timeout, joined at teardown):

1-3. before the login completes: connection refused, accepts but never
     greets (connect_timeout 2 s), greets then closes, closes at our
     CAPABILITY, at our ID, at the login itself.  The client gets
     `NO [UNAVAILABLE]` (within 2 s; 1.5-4 s for the silent one), the
     bystander answers NOOP in under 1 s meanwhile, and the same client
     connection logs in on `good` right after.
4.   closes in the middle of a 10 MiB FETCH literal, after 4 MiB, while
     the client is not reading: every byte sent before the close reaches
     the client, then the connection ends; the session leaves `sessions`,
     the daemon's descriptors are back to their count before, RSS within
     2 MiB, and the last line is `* BYE Connection to the mail store
     lost` (inside the literal: the proxy does not parse the relay).
5.   reads slowly (64 KiB/s, 32 KiB receive buffer) while the client
     streams a 100 MiB APPEND literal for 8 s: RSS within 2 MiB of the
     baseline, the client's sends block (far less than 100 MiB leaves
     it), and what the proxy read from the client but the back end has
     not taken is at most the kernel's buffers (tcp_wmem max + the fake's
     receive buffer) + 64 KiB; once those are full the client goes at the
     back end's pace; the bystander answers in under 1 s throughout.
6.   a 10 MiB line (a) as the greeting, the CAPABILITY answer or inside
     the login answer: `NO [UNAVAILABLE]` (BACKEND_MAX_LINE is 8 KiB),
     RSS within 2 MiB; (b) after login, a 10 MiB `* SEARCH` line: relayed
     byte for byte (SHA-256), RSS within 2 MiB.

Resource exhaustion (limits lowered on the running daemon with
prlimit(2): it raises RLIMIT_NOFILE itself only at start, and lowering
RLIMIT_AS before start would have to cover its thread stacks):

7.   RLIMIT_NOFILE just above the descriptors in use, then 40 more
     connections: accept() fails (`accept paused` in the log), the daemon
     uses < 10 % of a CPU over 2 s of saturation, a LOGIN that needs a
     back-end socket gets `NO [UNAVAILABLE]`, the bystander works; once
     the extra connections close, the waiting ones are greeted and a new
     client logs in.  A second test queues a stats socket client during
     the saturation: the main thread must not spin either (the stats
     socket pauses accepting as the listeners do).
8.   MALLOC_ARENA_MAX=1 and RLIMIT_AS at the daemon's size + 3 MiB, then
     pre-auth sessions (~29 KiB each, at most 1,000) until one is refused:
     `out of memory` logged, only that connection closed, every earlier
     session and the bystander still answer, a LOGIN that cannot get its
     back-end link is `NO [UNAVAILABLE]`; after half of them close, new
     sessions are greeted and log in.  Skipped under the sanitizers.

Time bounds that only measure slowness scale by conftest.SLOW under the
sanitizers, where RSS is reported but not bounded.  Each test takes at
most ~10 s (case 5: 8 s of sending); the module about 30 s.
"""

import hashlib
import os
import re
import resource
import select
import socket
import threading
import time

import pytest

import conftest
from conftest import (HOST, RawClient, cpu_seconds, imap_quote, login_ok,
                      store_backend, wait_for)
import dovecot as dv

MIB = 1024 * 1024
KIB = 1024
RSS_SLACK_KIB = 2 * 1024        # the bound on RSS growth, every case
# Under ASan/UBSan (make check-asan) RSS says nothing about the daemon's
# own buffers, and ASan's allocator aborts instead of returning NULL.
SANITIZED = getattr(conftest, "SANITIZED", False)
SLOW = getattr(conftest, "SLOW", 1)
FAULT_DOMAIN = "fault.test"
VICTIM = "victim@" + FAULT_DOMAIN
IO_TIMEOUT = 10.0               # every fake's socket operation


# ---------------------------------------------------------------------
# /proc

def fd_count(pid):
    return conftest.session_fds(pid)


def max_fd(pid):
    return max(int(f) for f in os.listdir("/proc/%d/fd" % pid))


def vm_size_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1])
    raise RuntimeError("no VmSize")


def sysctl_int(name, index=-1):
    with open("/proc/sys/" + name.replace(".", "/")) as f:
        return int(f.read().split()[index])


class RssPeak:
    """Samples the daemon's RSS every 20 ms in a thread; .peak in KiB."""

    def __init__(self, proxy):
        self.proxy = proxy
        self.base = proxy.rss_kib()
        self.peak = self.base
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping.wait(0.02):
            try:
                self.peak = max(self.peak, self.proxy.rss_kib())
            except (OSError, RuntimeError):
                return

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=2)
        self.peak = max(self.peak, self.proxy.rss_kib())
        return self.peak - self.base

    def check(self, what):
        grew = self.stop()
        print("%s: RSS %d KiB, peak %d KiB (+%d KiB)"
              % (what, self.base, self.peak, grew))
        if SANITIZED:
            return grew
        assert grew < RSS_SLACK_KIB, (
            "%s: RSS grew by %d KiB (from %d KiB to %d KiB)"
            % (what, grew, self.base, self.peak))
        return grew


# ---------------------------------------------------------------------
# scripted back ends

class FakeConn:
    """One connection to a scripted back end: lines under a bound."""

    MAX_LINE = 64 * KIB

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > self.MAX_LINE:
                raise EOFError("line too long")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def command(self):
        """(tag, COMMAND, line) of the next command line."""
        line = self.line()
        parts = line.split(b" ", 2)
        return parts[0], (parts[1].upper() if len(parts) > 1 else b""), line


class ScriptedBackend:
    """A back end on a free loopback port running SCRIPT(conn, self) in
    a thread per connection; the socket is closed when SCRIPT returns.
    RCVBUF, when given, is set on the listening socket, so accepted
    connections advertise a small window from their first segment."""

    def __init__(self, script, rcvbuf=None):
        self.script = script
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.connections = 0
        self.bytes_read = 0         # for scripts that count
        self.errors = []            # what scripts raised, but I/O errors
        self.socks = []
        self.threads = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.bind((HOST, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.address = "%s:%d" % self.sock.getsockname()
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self.threads.append(t)

    def _accept(self):
        while not self.stopping.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c.settimeout(IO_TIMEOUT)
            t = threading.Thread(target=self._serve, args=(c,), daemon=True)
            with self.lock:
                self.connections += 1
                self.socks.append(c)
                self.threads.append(t)
            t.start()

    def _serve(self, c):
        try:
            self.script(FakeConn(c), self)
        except (OSError, EOFError):
            pass
        except Exception as e:      # an assertion in the script
            with self.lock:
                self.errors.append(e)
        finally:
            c.close()

    def count(self, n):
        with self.lock:
            self.bytes_read += n

    def close(self):
        self.stopping.set()
        self.sock.close()
        with self.lock:
            socks, threads = list(self.socks), list(self.threads)
        for c in socks:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in threads:
            t.join(timeout=3)


GREETING = b"* OK [CAPABILITY IMAP4rev1 SASL-IR ID AUTH=PLAIN] fault ready\r\n"
GREETING_BARE = b"* OK fault ready\r\n"


def answer(fc, tag, cmd):
    """Answers one pre-login command as a good server would; True once
    the login is accepted."""
    if cmd == b"CAPABILITY":
        fc.send(b"* CAPABILITY IMAP4rev1 SASL-IR ID AUTH=PLAIN\r\n"
                + tag + b" OK done\r\n")
    elif cmd == b"ID":
        fc.send(b"* ID NIL\r\n" + tag + b" OK done\r\n")
    elif cmd in (b"LOGIN", b"AUTHENTICATE"):
        fc.send(tag + b" OK [CAPABILITY IMAP4rev1] Logged in\r\n")
        return True
    else:
        fc.send(tag + b" BAD unexpected\r\n")
    return False


def until_logged_in(fc):
    """Plays a good back end up to an accepted login."""
    fc.send(GREETING)
    while True:
        tag, cmd, _line = fc.command()
        if answer(fc, tag, cmd):
            return


# ---------------------------------------------------------------------
# the proxy, the bystander, the victim

def fault_proxy(make_proxy, dovecot, bad_address, bad=None, server=None,
                global_=None):
    """A started proxy: users @fault.test go to BAD_ADDRESS, everyone
    else to Dovecot.  No health checks: they would connect to the fakes
    too, and mark them down in the middle of a test."""
    backends = {
        "good": store_backend(dovecot, health_check_interval="0"),
        "bad": dict({"address": bad_address, "connect_timeout": "2s",
                     "health_check_interval": "0"}, **(bad or {})),
    }
    srv = {"default_backend": "good", "routes": "routes.map"}
    srv.update(server or {})
    p = make_proxy(backends=backends, server=srv, global_=global_,
                   start=False)
    (p.dir / "routes.map").write_text("@%s bad\n" % FAULT_DOMAIN)
    p.start()
    return p


def bystander(p, user):
    """A session logged in on Dovecot, INBOX selected."""
    c = p.client("plain")
    login_ok(c, *user, tag="B")
    _u, t = c.cmd("SELECT INBOX", tag="BS")
    assert t.startswith("BS OK"), t
    return c


def still_serves(c, what, limit=1.0):
    """NOOP on C answered OK within LIMIT seconds (times SLOW)."""
    limit *= SLOW
    t0 = time.monotonic()
    _u, t = c.cmd("NOOP", tag="BN", timeout=5)
    elapsed = time.monotonic() - t0
    assert t.startswith("BN OK"), (what, t)
    assert elapsed < limit, "%s: NOOP took %.2f s" % (what, elapsed)
    return elapsed


def victim_login(c, tag="V", timeout=15):
    """LOGIN as the user routed to `bad`: (tagged answer, seconds)."""
    t0 = time.monotonic()
    _u, t = c.cmd("LOGIN %s %s" % (imap_quote(VICTIM), imap_quote("pw")),
                  tag=tag, timeout=timeout)
    return t, time.monotonic() - t0


def sessions(p):
    return p.ask_json("sessions")["sessions"]


def victim_gone(p):
    return not [s for s in sessions(p) if s["user"] == VICTIM]


def read_to_eof(c, limit, timeout):
    """Every byte C still receives until the peer closes: (bytes, eof)."""
    out = bytearray(c.buf)
    c.buf = b""
    deadline = time.monotonic() + timeout
    while len(out) <= limit:
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(out), False
        c.sock.settimeout(left)
        try:
            chunk = c.sock.recv(1 * MIB)
        except socket.timeout:
            return bytes(out), False
        except ConnectionResetError:
            return bytes(out), True
        if not chunk:
            return bytes(out), True
        out += chunk
    return bytes(out), False


def read_exact(c, n, timeout):
    out = bytearray(c.buf[:n])
    c.buf = c.buf[n:]
    deadline = time.monotonic() + timeout
    while len(out) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("got %d of %d bytes" % (len(out), n))
        c.sock.settimeout(left)
        chunk = c.sock.recv(min(1 * MIB, n - len(out)))
        if not chunk:
            raise EOFError("closed after %d of %d bytes" % (len(out), n))
        out += chunk
    return bytes(out)


# ---------------------------------------------------------------------
# 1-3: refused, silent, or gone before the login completes

def script_prelogin(close_at):
    """A back end that misbehaves at CLOSE_AT: "silent" (never writes),
    "greeting" (closes right after greeting), or closes on reading our
    CAPABILITY, ID or login command."""
    on = {"capability": (b"CAPABILITY",), "id": (b"ID",),
          "login": (b"LOGIN", b"AUTHENTICATE")}

    def script(fc, fake):
        if close_at == "silent":
            fake.stopping.wait(IO_TIMEOUT)
            return
        # Without capabilities in the greeting the proxy asks for them.
        fc.send(GREETING_BARE if close_at == "capability" else GREETING)
        if close_at == "greeting":
            return
        while True:
            tag, cmd, _line = fc.command()
            if cmd in on[close_at]:
                return
            answer(fc, tag, cmd)
    return script


@pytest.mark.parametrize("mode", ["refused", "silent", "greeting",
                                  "capability", "id", "login"])
def test_backend_fails_before_login(make_proxy, dovecot, user, mode):
    fake = None
    if mode == "refused":
        address = "%s:%d" % (HOST, dv.free_port())
    else:
        fake = ScriptedBackend(script_prelogin(mode))
        address = fake.address
    try:
        p = fault_proxy(make_proxy, dovecot, address)
        b = bystander(p, user)
        c = p.client("plain")
        # The victim's login runs while the bystander talks.
        result = {}
        th = threading.Thread(target=lambda: result.update(
            zip(("t", "elapsed"), victim_login(c))), daemon=True)
        th.start()
        time.sleep(0.2)
        still_serves(b, "bystander during the faulty login")
        th.join(timeout=20)
        assert result, "no answer to the victim's LOGIN"
        assert result["t"].startswith("V NO [UNAVAILABLE]"), result
        if mode == "silent":
            # connect_timeout is 2 s
            assert 1.5 <= result["elapsed"] <= 4 * SLOW, result
        else:
            assert result["elapsed"] < 2 * SLOW, result
        assert re.search(r"user=%s backend bad unavailable" % re.escape(
            VICTIM), p.log_text()), p.log_text()[-2000:]
        if fake is not None:
            assert fake.connections == 1
        # The same connection goes on, and logs in elsewhere.
        _u, t = c.cmd("NOOP", tag="N")
        assert t.startswith("N OK"), t
        login_ok(c, *user, tag="L2")
        _u, t = c.cmd("SELECT INBOX", tag="S2")
        assert t.startswith("S2 OK"), t
        still_serves(b, "bystander after the faulty login")
        assert len(sessions(p)) == 2
        c.close()
        b.close()
    finally:
        if fake is not None:
            fake.close()


# ---------------------------------------------------------------------
# 4: the back end closes in the middle of a FETCH

LITERAL = 10 * MIB
SENT_BEFORE_CLOSE = 4 * MIB


def pattern(n):
    """N deterministic bytes of CRLF-separated text."""
    line = b"".join(b"%07d abcdefghijklmnopqrstuvwxyz0123456789 ABCDEF\r\n"
                    % i for i in range(1024))
    reps = n // len(line) + 1
    return (line * reps)[:n]


FETCH_HEAD = b"* 1 FETCH (UID 7 BODY[] {%d}\r\n" % LITERAL


def script_close_mid_fetch(fc, fake):
    until_logged_in(fc)
    while True:
        tag, cmd, _line = fc.command()
        if cmd == b"FETCH":
            break
        fc.send(tag + b" OK done\r\n")
    # Part of the literal, then FIN: nothing is left unread on our side,
    # so the kernel sends no reset.
    fc.send(FETCH_HEAD + pattern(SENT_BEFORE_CLOSE))
    fake.count(1)


def close_mid_fetch(make_proxy, dovecot, user):
    """Runs case 4; returns (proxy, bytes the client got)."""
    fake = ScriptedBackend(script_close_mid_fetch)
    try:
        p = fault_proxy(make_proxy, dovecot, fake.address)
        b = bystander(p, user)
        fds_before = fd_count(p.pid)
        rss = RssPeak(p)
        c = p.client("plain")
        t, _e = victim_login(c)
        assert t.startswith("V OK"), t
        c.send("F FETCH 1 BODY[]\r\n")
        # The client reads nothing for a second: the back end's bytes
        # wait in the proxy and the kernel when the back end closes.
        assert wait_for(lambda: fake.bytes_read, timeout=5)
        time.sleep(1)
        got, eof = read_to_eof(c, LITERAL + 64 * KIB, timeout=10)
        c.close()
        assert eof, "connection still open after %d bytes" % len(got)
        want = FETCH_HEAD + pattern(SENT_BEFORE_CLOSE)
        assert got[:len(want)] == want, (
            "%d bytes received, %d sent by the back end; first difference "
            "at %d" % (len(got), len(want), next(
                (i for i, (x, y) in enumerate(zip(got, want)) if x != y),
                min(len(got), len(want)))))
        assert wait_for(lambda: victim_gone(p), timeout=5), sessions(p)
        assert wait_for(lambda: fd_count(p.pid) == fds_before, timeout=5), (
            fds_before, fd_count(p.pid))
        rss.check("back end closed mid-FETCH")
        assert re.search(r"user=%s .*: back end closed" % re.escape(VICTIM),
                         p.log_text())
        still_serves(b, "bystander after the mid-FETCH close")
        b.close()
        return p, got[len(want):]
    finally:
        fake.close()


BYE_LOST = b"* BYE Connection to the mail store lost\r\n"


def test_backend_closes_mid_fetch(make_proxy, dovecot, user):
    """Every byte before the close, then `* BYE` as the last line (in
    the literal: what matters is that the client learns it is over)."""
    _p, tail = close_mid_fetch(make_proxy, dovecot, user)
    assert tail == BYE_LOST, tail[-200:]


# ---------------------------------------------------------------------
# 5: a back end that reads slowly while the client sends 100 MiB

APPEND_SIZE = 100 * MIB
SLOW_RATE = 64 * KIB            # bytes a second the back end takes
SLOW_RCVBUF = 32 * KIB
SEND_SECONDS = 8


def script_slow_reader(fc, fake):
    until_logged_in(fc)
    tag, cmd, line = fc.command()
    assert cmd == b"APPEND" and line.endswith(b"{%d}" % APPEND_SIZE), line
    fc.send(b"+ go ahead\r\n")
    if fc.buf:
        fake.count(len(fc.buf))
    step = SLOW_RATE // 8
    while not fake.stopping.is_set():
        data = fc.sock.recv(step)
        if not data:
            return
        fake.count(len(data))
        fake.stopping.wait(0.125)


def test_backend_reads_slowly(make_proxy, dovecot, user):
    fake = ScriptedBackend(script_slow_reader, rcvbuf=SLOW_RCVBUF)
    try:
        p = fault_proxy(make_proxy, dovecot, fake.address)
        b = bystander(p, user)
        fds_before = fd_count(p.pid)
        c = p.client("plain")
        t, _e = victim_login(c)
        assert t.startswith("V OK"), t
        c.send("A APPEND INBOX {%d}\r\n" % APPEND_SIZE)
        assert c.readline(timeout=5) == b"+ go ahead"
        rss = RssPeak(p)
        chunk = b"x" * (256 * KIB)
        sent = 0
        noop_times = []
        progress = []               # (seconds, bytes sent so far)
        t0 = time.monotonic()
        next_noop = t0 + 2
        c.sock.settimeout(0.1)
        while time.monotonic() - t0 < SEND_SECONDS and sent < APPEND_SIZE:
            try:
                sent += c.sock.send(chunk[:min(len(chunk),
                                                APPEND_SIZE - sent)])
            except socket.timeout:
                pass                # blocked: TCP back-pressure
            if not progress or time.monotonic() - t0 >= len(progress):
                progress.append((time.monotonic() - t0, sent))
            if time.monotonic() >= next_noop:
                noop_times.append(still_serves(b, "bystander while the "
                                               "back end stalls"))
                next_noop += 2
        mine = [s for s in sessions(p) if s["user"] == VICTIM]
        assert len(mine) == 1, mine
        proxy_read = mine[0]["bytes_in"]
        backend_read = fake.bytes_read
        grew = rss.check("100 MiB towards a slow back end")
        # The kernel holds at most the proxy's send buffer towards the
        # back end and the fake's receive buffer; the proxy one relay
        # pipe (RELAY_PIPE_MAX, 1 MiB) or buffer (plus the login line
        # counted in bytes_in).
        slack = (sysctl_int("net.ipv4.tcp_wmem") + 2 * SLOW_RCVBUF
                 + MIB + 64 * KIB)
        held = proxy_read - backend_read
        print("slow back end: client sent %.1f MiB in %ds, proxy read "
              "%.1f MiB, back end read %.2f MiB, held %d KiB (bound %d KiB)"
              ", RSS +%d KiB, bystander NOOP max %.3f s"
              % (sent / MIB, SEND_SECONDS, proxy_read / MIB,
                 backend_read / MIB, held // KIB, slack // KIB, grew,
                 max(noop_times)))
        print("  sent by second: %s" % ", ".join(
            "%.0fs %.2f MiB" % (t, n / MIB) for t, n in progress))
        assert not fake.errors, fake.errors
        # Once the buffers on the way are full, the client goes at the
        # back end's pace.
        at2 = progress[min(2, len(progress) - 1)]
        assert sent - at2[1] <= ((SEND_SECONDS - at2[0] + 1) * SLOW_RATE
                                 + 1 * MIB), progress
        # Back-pressure reached the client: it got no further than what
        # the proxy read and the kernel may hold between the two, the
        # client's send buffer and the proxy's receive buffer.  This
        # machine lets the latter autotune to 32 MiB (tcp_rmem).
        in_kernel = (sysctl_int("net.ipv4.tcp_wmem")
                     + sysctl_int("net.ipv4.tcp_rmem"))
        assert proxy_read + in_kernel < APPEND_SIZE, in_kernel
        assert sent <= proxy_read + in_kernel, (sent, proxy_read, in_kernel)
        assert held <= slack, (proxy_read, backend_read, slack)
        assert backend_read <= (SEND_SECONDS + 2) * SLOW_RATE + 2 * SLOW_RCVBUF
        c.close()
        fake.close()
        assert wait_for(lambda: victim_gone(p), timeout=5), sessions(p)
        assert wait_for(lambda: fd_count(p.pid) == fds_before, timeout=5), (
            fds_before, fd_count(p.pid))
        still_serves(b, "bystander after the slow back end")
        b.close()
    finally:
        fake.close()


# ---------------------------------------------------------------------
# 6: a 10 MiB line

HUGE = 10 * MIB


def script_huge_prelogin(where):
    """A 10 MiB line as the greeting, the CAPABILITY answer, or in the
    login answer."""
    huge = b"X" * HUGE

    def script(fc, fake):
        if where == "greeting":
            fc.send(b"* OK [ALERT] " + huge + b"\r\n")
            return
        fc.send(GREETING_BARE if where == "capability" else GREETING)
        while True:
            tag, cmd, _line = fc.command()
            if where == "capability" and cmd == b"CAPABILITY":
                fc.send(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN " + huge
                        + b"\r\n" + tag + b" OK done\r\n")
                continue
            if where == "login" and cmd in (b"LOGIN", b"AUTHENTICATE"):
                fc.send(b"* OK [ALERT] " + huge + b"\r\n" + tag
                        + b" OK Logged in\r\n")
                fake.stopping.wait(IO_TIMEOUT)
                return
            answer(fc, tag, cmd)
    return script


@pytest.mark.parametrize("where", ["greeting", "capability", "login"])
def test_backend_huge_line_before_login(make_proxy, dovecot, user, where):
    fake = ScriptedBackend(script_huge_prelogin(where))
    try:
        p = fault_proxy(make_proxy, dovecot, fake.address)
        b = bystander(p, user)
        fds_before = fd_count(p.pid)
        rss = RssPeak(p)
        c = p.client("plain")
        t, elapsed = victim_login(c)
        assert t.startswith("V NO [UNAVAILABLE]"), t
        assert elapsed < 3 * SLOW, elapsed
        assert re.search(r"backend bad unavailable: line too long",
                         p.log_text())
        _u, t = c.cmd("NOOP", tag="N")
        assert t.startswith("N OK"), t
        rss.check("10 MiB %s line" % where)
        still_serves(b, "bystander after a 10 MiB line")
        c.close()
        # only the client's own descriptor went and came
        assert wait_for(lambda: fd_count(p.pid) == fds_before, timeout=5), (
            fds_before, fd_count(p.pid))
        b.close()
    finally:
        fake.close()


def search_answer(tag):
    """`* SEARCH 1 2 3 ...` of at least 10 MiB, then TAG OK."""
    n, parts, size = 1, [b"* SEARCH"], 8
    while size < HUGE:
        s = b"%d" % n
        parts.append(s)
        size += len(s) + 1
        n += 1
    return b" ".join(parts) + b"\r\n" + tag + b" OK Search completed\r\n"


def script_huge_after_login(fc, fake):
    until_logged_in(fc)
    while True:
        tag, cmd, _line = fc.command()
        if cmd == b"SEARCH":
            fc.send(search_answer(tag))
        elif cmd == b"LOGOUT":
            fc.send(b"* BYE bye\r\n" + tag + b" OK bye\r\n")
            return
        else:
            fc.send(tag + b" OK done\r\n")


def test_backend_huge_line_after_login(make_proxy, dovecot, user):
    fake = ScriptedBackend(script_huge_after_login)
    try:
        p = fault_proxy(make_proxy, dovecot, fake.address)
        b = bystander(p, user)
        c = p.client("plain")
        t, _e = victim_login(c)
        assert t.startswith("V OK"), t
        want = search_answer(b"s")
        rss = RssPeak(p)
        c.send("s SEARCH ALL\r\n")
        got = read_exact(c, len(want), timeout=20)
        assert len(got) == len(want)
        assert hashlib.sha256(got).digest() == hashlib.sha256(want).digest()
        grew = rss.check("10 MiB line relayed")
        print("10 MiB line relayed intact, RSS +%d KiB" % grew)
        _u, t = c.cmd("LOGOUT", tag="O")
        assert t.startswith("O OK"), t
        c.close()
        still_serves(b, "bystander after the 10 MiB line")
        b.close()
    finally:
        fake.close()


# ---------------------------------------------------------------------
# 7: out of descriptors

EXTRA_FDS = 12          # descriptors left to the daemon above its use
EXTRA_CLIENTS = 40      # connections opened into that


def saturate_fds(p):
    """Lowers the daemon's RLIMIT_NOFILE to just above what it uses and
    opens EXTRA_CLIENTS connections: (greeted, waiting) clients."""
    limit = max_fd(p.pid) + 1 + EXTRA_FDS
    hard = resource.prlimit(p.pid, resource.RLIMIT_NOFILE)[1]
    resource.prlimit(p.pid, resource.RLIMIT_NOFILE, (limit, hard))
    clients = [RawClient(HOST, p.ports["plain"], greet=False, timeout=5)
               for _ in range(EXTRA_CLIENTS)]
    assert wait_for(lambda: "accept paused" in p.log_text(), timeout=5), (
        "no `accept paused` in the log")
    # whoever was accepted has had its greeting by now
    time.sleep(0.3)
    ready = select.select([c.sock for c in clients], [], [], 0.5)[0]
    greeted = [c for c in clients if c.sock in ready]
    waiting = [c for c in clients if c.sock not in ready]
    for c in greeted:
        c.greeting = c.readline(timeout=2).decode()
        assert c.greeting.startswith("* OK"), c.greeting
    assert greeted and waiting, (len(greeted), len(waiting))
    return limit, greeted, waiting


def test_emfile_pauses_accept_and_recovers(make_proxy, dovecot, user,
                                           user2):
    p = make_proxy(backends={"store": store_backend(
        dovecot, health_check_interval="0")})
    b = bystander(p, user)
    limit, greeted, waiting = saturate_fds(p)
    assert fd_count(p.pid) >= limit - 2
    # 2 s of saturation: the listeners wait, they do not spin
    paused0 = p.log_text().count("accept paused")
    cpu0, t0 = cpu_seconds(p.pid), time.monotonic()
    time.sleep(2)
    cpu = cpu_seconds(p.pid) - cpu0
    span = time.monotonic() - t0
    paused = p.log_text().count("accept paused") - paused0
    print("EMFILE: limit %d, %d greeted, %d waiting; CPU %.3f s over "
          "%.2f s, %d `accept paused` lines"
          % (limit, len(greeted), len(waiting), cpu, span, paused))
    assert cpu < 0.1 * span * SLOW, (
        "daemon used %.2f s CPU in %.2f s" % (cpu, span))
    assert paused <= 2 * 2 * span / 0.1 + 4, paused   # 2 workers, 100 ms
    # Sessions already in go on; a login needing a socket cannot.
    still_serves(b, "bystander at EMFILE")
    name, pw = user2
    _u, t = greeted[0].cmd("LOGIN %s %s" % (imap_quote(name),
                                            imap_quote(pw)), tag="E",
                           timeout=5)
    assert t.startswith("E NO [UNAVAILABLE]"), t
    assert re.search(r"user=%s backend store unavailable: socket: Too many "
                     "open files" % name, p.log_text())
    # Free the descriptors: every waiting connection is taken and
    # greeted in turn (as each greeted one closes, another fits), and
    # new clients log in.
    for c in greeted:
        c.close()
    last = waiting.pop()
    pending = list(waiting)
    deadline = time.monotonic() + 10
    while pending and time.monotonic() < deadline:
        ready = select.select([c.sock for c in pending], [], [], 0.5)[0]
        for c in [c for c in pending if c.sock in ready]:
            line = c.readline(timeout=2).decode()
            assert line.startswith("* OK"), line
            pending.remove(c)
            c.close()
    assert not pending, "%d connections never greeted" % len(pending)
    assert last.readline(timeout=5).startswith(b"* OK")
    login_ok(last, name, pw, tag="W")
    c = p.client("plain")
    login_ok(c, name, pw, tag="N")
    still_serves(b, "bystander after EMFILE")
    for x in (last, c, b):
        x.close()
    resource.prlimit(p.pid, resource.RLIMIT_NOFILE,
                     resource.prlimit(os.getpid(), resource.RLIMIT_NOFILE))


class Spinning(AssertionError):
    """The daemon burnt CPU while it could not accept."""


def test_emfile_stats_socket_does_not_spin(make_proxy, dovecot, user):
    """A monitoring client on the stats socket while descriptors are
    out: it waits in the queue, the main thread must not spin on it,
    and it is answered once descriptors are back."""
    p = make_proxy(backends={"store": store_backend(
        dovecot, health_check_interval="0")})
    b = bystander(p, user)
    _limit, greeted, waiting = saturate_fds(p)
    ctl = socket.socket(socket.AF_UNIX)
    try:
        ctl.settimeout(2)
        ctl.connect(str(p.stats_socket))    # queued: cannot be accepted
        cpu0, t0 = cpu_seconds(p.pid), time.monotonic()
        time.sleep(2)
        cpu = cpu_seconds(p.pid) - cpu0
        span = time.monotonic() - t0
        print("EMFILE with a stats client queued: CPU %.3f s over %.2f s"
              % (cpu, span))
        for c in greeted + waiting:
            c.close()
        # the stats client is served once descriptors are back
        ctl.sendall(b"stats\n")
        ctl.settimeout(5)
        assert ctl.recv(65536).startswith(b"{")
        still_serves(b, "bystander after EMFILE")
        if cpu >= 0.1 * span * SLOW:
            raise Spinning("daemon used %.2f s CPU in %.2f s" % (cpu, span))
    finally:
        ctl.close()
        for c in greeted + waiting + [b]:
            c.close()
        resource.prlimit(p.pid, resource.RLIMIT_NOFILE,
                         resource.prlimit(os.getpid(),
                                          resource.RLIMIT_NOFILE))


# ---------------------------------------------------------------------
# 8: out of memory

AS_MARGIN = 3 * MIB
MAX_OOM_CLIENTS = 1000


@pytest.mark.skipif(SANITIZED, reason="ASan's allocator reports and "
                    "aborts instead of returning NULL")
def test_out_of_memory_closes_only_that_session(make_proxy, dovecot, user,
                                                user2, monkeypatch):
    # One malloc arena: every thread's allocations come from the brk
    # heap, whose growth RLIMIT_AS stops at once (a thread arena grows
    # inside a 64 MiB mapping reserved in advance).
    with monkeypatch.context() as m:
        m.setenv("MALLOC_ARENA_MAX", "1")
        p = make_proxy(backends={"store": store_backend(
            dovecot, health_check_interval="0")})
    b = bystander(p, user)
    # Warm up: the other worker's relay pool, and a pre-auth session.
    for _ in range(4):
        w = p.client("plain")
        login_ok(w, *user2, tag="W")
        w.cmd("SELECT INBOX", tag="WS")
        w.close()
    size = vm_size_kib(p.pid) * KIB
    soft, hard = resource.prlimit(p.pid, resource.RLIMIT_AS)
    resource.prlimit(p.pid, resource.RLIMIT_AS, (size + AS_MARGIN, hard))
    clients = []
    refused = None
    try:
        for _ in range(MAX_OOM_CLIENTS):
            c = RawClient(HOST, p.ports["plain"], greet=False, timeout=5)
            try:
                c.greeting = c.readline(timeout=5).decode()
            except (EOFError, ConnectionResetError):
                refused = c
                break
            assert c.greeting.startswith("* OK"), c.greeting
            clients.append(c)
        assert refused is not None, (
            "%d sessions and no allocation failed" % len(clients))
        print("out of memory after %d pre-auth sessions (RLIMIT_AS = "
              "VmSize + %d MiB)" % (len(clients), AS_MARGIN // MIB))
        refused.close()
        assert p.alive()
        assert wait_for(lambda: "out of memory accepting a connection"
                        in p.log_text(), timeout=2), p.log_text()[-2000:]
        # Everyone else is still served.
        still_serves(b, "bystander at out of memory")
        for c in clients[-20:]:
            _u, t = c.cmd("NOOP", tag="N", timeout=5)
            assert t.startswith("N OK"), t
        # A login that cannot get its back-end link fails on its own.
        name, pw = user2
        _u, t = clients[-1].cmd("LOGIN %s %s" % (imap_quote(name),
                                                 imap_quote(pw)),
                                tag="M", timeout=5)
        assert t.startswith("M NO [UNAVAILABLE]"), t
        assert re.search(r"user=%s backend store unavailable: out of memory"
                         % name, p.log_text())
        _u, t = clients[-1].cmd("NOOP", tag="N", timeout=5)
        assert t.startswith("N OK"), t
        # Room again: new sessions are greeted and log in.
        half = len(clients) // 2
        for c in clients[:half]:
            c.close()
        del clients[:half]
        time.sleep(0.3)
        for _ in range(3):
            c = p.client("plain")
            clients.append(c)
        login_ok(clients[-1], name, pw, tag="R")
        _u, t = clients[-1].cmd("SELECT INBOX", tag="RS")
        assert t.startswith("RS OK"), t
        still_serves(b, "bystander after out of memory")
        assert p.alive()
    finally:
        for c in clients + [b]:
            c.close()
        resource.prlimit(p.pid, resource.RLIMIT_AS, (soft, hard))
