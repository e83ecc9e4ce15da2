r"""Hostile clients (issue 7, SPEC.md s.7): attacks on the pre-auth front
end, each checked for the answer the attacker gets, for the sessions
around it and for the daemon's memory.

Every test keeps a logged-in "bystander" session on the real Dovecot
that runs NOOP and SELECT INBOX before the attack, during it (from a
thread every BYSTANDER_PERIOD s, each round within BYSTANDER_MAX_LATENCY
s, plus explicit rounds in the thick of it) and after it, and makes a
fresh login (another Dovecot account) once the attack is over.  The
daemon's RSS is sampled every 50 ms while the attack lasts.

test_limits.py, test_preauth.py and test_tls.py already cover a 100 KiB
line, 1 GiB literals, the bad-command limit, the basic login timeouts,
plaintext on the TLS port, one STARTTLS injection and the descriptor
leak; these go further.

 1. test_slowloris_preauth: 12 plaintext, 4 implicit-TLS and 2 STARTTLS
    clients dribbling a LOGIN one byte a second, and 4 dribbling a
    ClientHello, all closed at login_timeout (4 s), with
    "* BYE Login timeout" where a line can go out; new clients and
    logins go on meanwhile.
 2. test_connection_flood_max_connections: 5,000 connections from 5,000
    loopback addresses against max_connections = 1000: 999 are greeted
    (the bystander is the 1000th), 4,001 get "* BYE Too many
    connections" and EOF (the TLS listener: EOF without a byte); once
    they leave, new clients are accepted and descriptors are back.
 3. test_lines_and_literals_over_the_limits: 10 MiB without a newline
    (command, no tag, SASL response), literal sizes 2^32, 2^64+1, 20 and
    300 digits, negative and garbage sizes, {n+} over the limit, and
    every IMAP limit of bounds.h exactly at and one byte over it (line
    8192 with CRLF, literal 8192, command 16384, tag 64, command name
    32, 64 arguments, 4 list levels).
 4. test_nul_and_invalid_utf8: NUL bytes and invalid UTF-8 (bad lead
    bytes, overlong forms, surrogates) in tags, command names, atoms,
    quoted strings, literals, user names and passwords (LOGIN,
    AUTHENTICATE PLAIN and LOGIN, with and without SASL-IR): BAD or NO,
    the session goes on; the stats socket answers valid UTF-8 JSON, the
    log stays printable UTF-8 without the password.
    test_weird_user_name_logged_in: such a user name, accepted by a back
    end, appears in `sessions` with U+FFFD and JSON escapes, escaped in
    the log.
 5. test_ten_thousand_pipelined_commands: two clients each send 10,000
    NOOP/CAPABILITY and LOGOUT in one write; every command answered in
    order within PIPELINE_TIME_LIMIT, never PIPELINE_STALL s without a
    byte, while a third client's CAPABILITY round trips stay under
    PIPELINE_PROBE_MAX s; its smallest form is
    test_pipelined_preauth_beyond_the_reply_buffer.
    test_pipelined_commands_across_the_login: LOGIN in the middle of
    4,061 commands in one write; the rest relayed to Dovecot in order.
    test_pipelined_logout_no_spurious_bye: nothing after the store's BYE.
 6. test_starttls_command_injection (NO STARTTLS, USENIX Security 2021):
    "a STARTTLS\r\nb LOGIN victim pw" in one packet, as AUTHENTICATE
    PLAIN, as LITERAL+, after commands, in a second packet and as 20
    KiB of injected lines: the injected login never runs (Dovecot never
    sees it, logins.ok unchanged), and nothing but "a OK" is sent in
    plaintext after the STARTTLS line (no answer that a client could
    take for a post-TLS one).
    test_backend_starttls_response_injection[same-write|later-write]:
    a back end (tls = starttls, verified) that sends injected
    CAPABILITY/tagged OK lines after its STARTTLS OK: in the same
    segment they are discarded (the login goes by what it says over
    TLS); arriving after the ClientHello they break the handshake and
    the login is NO [UNAVAILABLE].  Either way the proxy sent nothing
    but "P1 STARTTLS" in plaintext.
 7. test_garbage_instead_of_clienthello: random bytes, an HTTP request,
    NULs, an IMAP command, records of 65535 bytes and a 16 MiB
    ClientHello, version 0xffff, SSLv2 and SSLv3 hellos, an alert, a
    ChangeCipherSpec, application data, a ClientHello then garbage:
    each closed within PROMPT_CLOSE s and counted once in
    servers[0].tls_handshake_failures; a truncated record waits for
    login_timeout.
 8. test_disconnect_at_every_step: FIN and RST after TCP connect (plain,
    TLS), a third of a ClientHello, mid-handshake, after the greeting
    (plain, TLS), after STARTTLS OK, mid-STARTTLS-handshake, mid-command
    (plain, TLS), mid-literal, in AUTHENTICATE PLAIN and LOGIN
    continuations, while relaying: each session leaves `sessions` within
    GONE_WITHIN s, only the bystander stays, /proc/PID/fd is back at
    its baseline.
    test_disconnect_while_the_proxy_waits: the same while the back end
    connects (it never greets), while it has the login (it never
    answers), and during auth_fail_delay: the client's socket is watched
    for its leaving even while it is not read.
 9. test_authenticate_continuation_never_answered: AUTHENTICATE PLAIN
    (plain, TLS, STARTTLS listener), AUTHENTICATE LOGIN at both
    prompts, a half-sent response, a {5} literal whose "+" goes
    unanswered: closed at login_timeout (4 s) with "* BYE Login
    timeout"; others unaffected.

RSS bounds, over BASE, the daemon's RSS at the start of each test with
the bystander logged in and one TLS handshake and one STARTTLS done (so
what OpenSSL and the workers allocate once is in it):

  PREAUTH_KIB = 32 per pre-auth session: struct sess_preauth (16 KiB
      input, 4 KiB replies, credentials: 29,784 bytes) and struct sess
      (600 bytes) if every page of them is touched, with malloc's
      headers.
  TLS_KIB = 80 per TLS session: OpenSSL's SSL object, handshake state
      and record buffers.
  SLACK_KIB = 8192: per-thread malloc arenas, stats-socket answers,
      transient buffers.

  1. slowloris       BASE + 22 * (PREAUTH_KIB + TLS_KIB) + SLACK_KIB
  2. flood           BASE + 999 * PREAUTH_KIB + SLACK_KIB (the refused
                     4,001 get no memory at all)
  3. limits          BASE + SLACK_KIB (fixed buffers; what goes beyond
                     them is refused, never stored)
  4. NUL/UTF-8       BASE + SLACK_KIB
  5. pipelining      BASE + 3 * PREAUTH_KIB + SLACK_KIB (replies wait in
                     a 4 KiB buffer, input is read only while it has room)
  6. STARTTLS        BASE + SLACK_KIB
  7. garbage TLS     BASE + 14 * (PREAUTH_KIB + TLS_KIB) + SLACK_KIB
  8. disconnects     BASE + SLACK_KIB (one attacker at a time)
  9. AUTHENTICATE    BASE + 8 * (PREAUTH_KIB + TLS_KIB) + SLACK_KIB

Every figure observed is printed as "RSS[case] ..." (pytest -s).
"""

import base64
import json
import os
import random
import re
import resource
import select
import socket
import ssl
import struct
import threading
import time

import pytest

import conftest

from conftest import (HOST, FakeBackend, b64, client_ctx, login_ok,
                      store_backend, wait_for)

MIB = 1024 * 1024

# -- bounds (see the module docstring) --------------------------------------

PREAUTH_KIB = 32
TLS_KIB = 80
SLACK_KIB = 8 * 1024

BYSTANDER_PERIOD = 0.2          # seconds between the bystander's rounds
BYSTANDER_MAX_LATENCY = 3.0     # NOOP + SELECT INBOX, seconds
LOGIN_TIMEOUT = 4               # seconds, for the timeout cases
TIMEOUT_EARLY = 0.5             # closed no earlier than LOGIN_TIMEOUT - this
TIMEOUT_LATE = 2.5 * conftest.SLOW  # ... no later than LOGIN_TIMEOUT + this
PROMPT_CLOSE = 1.5 * conftest.SLOW  # seconds: "closed promptly"
GONE_WITHIN = 3.0 * conftest.SLOW   # seconds to leave `sessions`

MAX_CONNECTIONS = 1000
FLOOD = 5000

PIPELINE_N = 10000
PIPELINE_TIME_LIMIT = 20.0 * conftest.SLOW  # 10,000 commands and LOGOUT
PIPELINE_STALL = 3.0 * conftest.SLOW   # seconds without a byte: stalled
PIPELINE_PROBE_MAX = 2.0 * conftest.SLOW  # a concurrent CAPABILITY, s

# IMAP limits of include/bounds.h
IMAP_MAX_LINE = 8192
IMAP_MAX_LITERAL = 8192
IMAP_MAX_CMD = 16384
IMAP_MAX_TAG = 64
IMAP_MAX_ATOM = 32
IMAP_MAX_ARGS = 64
IMAP_MAX_DEPTH = 4


# ---------------------------------------------------------------------------
# helpers

def report(case, base, peak, bound, **more):
    extra = "".join(" %s=%s" % kv for kv in sorted(more.items()))
    print("\nRSS[%s] base=%d KiB peak=%d KiB (+%d) bound=%d KiB (+%d)%s"
          % (case, base, peak, peak - base, bound, bound - base, extra))


def nfds(p):
    return conftest.session_fds(p.pid)


def sessions(p):
    return p.ask_json("sessions")["sessions"]


def clients_of(p):
    return dict((s["client"], s) for s in sessions(p))


def server_stats(p):
    return p.ask_json("stats")["servers"][0]


def addr_of(sock):
    ip, port = sock.getsockname()[:2]
    return "%s:%d" % (ip, port)


def src_addr(i):
    """A distinct loopback source address for attacker number I."""
    return "127.0.%d.%d" % (100 + i // 250, 1 + i % 250)


def client_hello(sni="mail.example.org"):
    """The bytes of a real TLS ClientHello (Python's defaults)."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_ctx().wrap_bio(inc, out, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def raw_connect(port, src=None, timeout=10):
    s = socket.socket()
    s.settimeout(timeout)
    if src:
        s.bind((src, 0))
    s.connect((HOST, port))
    return s


def rst_close(sock):
    """Close with a RST instead of a FIN."""
    try:
        raw = sock
        if isinstance(sock, ssl.SSLSocket):
            raw = socket.socket(fileno=os.dup(sock.fileno()))
            sock.close()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                       struct.pack("ii", 1, 0))
        raw.close()
    except OSError:
        pass


def read_raw_until_eof(sock, timeout):
    """(bytes, seconds until EOF or reset); seconds is None when the
    peer kept the connection open for TIMEOUT."""
    data = b""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, None
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return data, None
        except (ConnectionResetError, ssl.SSLError):
            return data, time.monotonic() - t0
        if not chunk:
            return data, time.monotonic() - t0
        data += chunk


def lines_until_closed(c, timeout=10):
    """Every line a RawClient gets until the proxy closes."""
    lines = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("connection not closed; got %r" % lines)
        try:
            lines.append(c.readline(left).decode("utf-8", "replace"))
        except (EOFError, ConnectionResetError, BrokenPipeError):
            if c.buf:
                lines.append(c.buf.decode("utf-8", "replace"))
            return lines
        except ssl.SSLError:
            return lines


def sender(sock, data, chunk=65536):
    """Send DATA from a thread, ignoring the peer closing on us."""
    def run():
        try:
            for i in range(0, len(data), chunk):
                sock.sendall(data[i:i + chunk])
        except OSError:
            pass
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def nothing_more(sock, wait=0.3):
    """True when no byte is waiting on the (plaintext) socket."""
    time.sleep(wait)
    old = sock.gettimeout()
    sock.settimeout(0.0)
    try:
        data = sock.recv(65536, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    finally:
        sock.settimeout(old)
    return data == b""


class RssSampler:
    """Samples the daemon's VmRSS every PERIOD s from a thread."""

    def __init__(self, proxy, period=0.05):
        self.p = proxy
        self.base = proxy.rss_kib()
        self.peak = self.base
        self.period = period
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def sample(self):
        try:
            self.peak = max(self.peak, self.p.rss_kib())
        except (OSError, RuntimeError):
            pass
        return self.peak

    def _run(self):
        while not self.stopping.wait(self.period):
            self.sample()

    def finish(self, case, bound, **more):
        self.stopping.set()
        self.thread.join(5)
        self.sample()
        # Under ASan its quarantine and shadow memory come on top.
        bound += conftest.SANITIZER_RSS_KIB
        report(case, self.base, self.peak, bound, **more)
        assert self.peak <= bound, (
            "%s: RSS peaked at %d KiB, over the bound of %d KiB (base %d)"
            % (case, self.peak, bound, self.base))
        return self.peak


class Bystander:
    """A logged-in session on Dovecot doing NOOP and SELECT INBOX now,
    from a thread every BYSTANDER_PERIOD s, and at finish()."""

    def __init__(self, proxy, user, listener="plain", src="127.0.0.2"):
        self.c = proxy.client(listener, src=src)
        login_ok(self.c, user[0], user[1], tag="B0")
        self.n = 0
        self.rounds = 0
        self.worst = 0.0
        self.error = None
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.check()                                    # before
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def check(self):
        t0 = time.monotonic()
        with self.lock:
            self.n += 1
            limit = BYSTANDER_MAX_LATENCY + 5
            tag = "bn%d" % self.n
            _u, t = self.c.cmd("NOOP", tag=tag, timeout=limit)
            assert t.startswith(tag + " OK"), t
            tag = "bs%d" % self.n
            _u, t = self.c.cmd("SELECT INBOX", tag=tag, timeout=limit)
            assert t.startswith(tag + " OK"), t
        dt = time.monotonic() - t0
        self.worst = max(self.worst, dt)
        return dt

    def _run(self):
        while not self.stopping.wait(BYSTANDER_PERIOD):
            try:
                self.check()
                self.rounds += 1
            except Exception as e:          # reported by finish()
                self.error = e
                return

    def finish(self):
        self.stopping.set()
        self.thread.join(BYSTANDER_MAX_LATENCY + 10)
        assert self.error is None, \
            "the bystander failed during the attack: %r" % (self.error,)
        self.check()                                    # after
        assert self.worst <= BYSTANDER_MAX_LATENCY, \
            "a bystander round took %.2f s" % self.worst
        self.c.close()
        return self.rounds


def fresh_login(p, user, listener="plain", src="127.0.0.3"):
    c = p.client(listener, src=src)
    try:
        login_ok(c, user[0], user[1], tag="F")
        _u, t = c.cmd("SELECT INBOX", tag="FS")
        assert t.startswith("FS OK"), t
        _u, t = c.cmd("LOGOUT", tag="FO")
        assert t.startswith("FO OK"), t
    finally:
        c.close()


def warm_up(p):
    """One TLS handshake and one STARTTLS, so that what the first of
    each allocates once is in the RSS baseline."""
    c = p.client("tls")
    assert c.capabilities()
    c.close()
    c = p.client("starttls")
    c.starttls()
    assert c.capabilities()
    c.close()


def start(make_proxy, user, **kw):
    """A proxy, warmed up, with its bystander and RSS sampler."""
    p = make_proxy(**kw)
    warm_up(p)
    by = Bystander(p, user)
    time.sleep(0.2)
    rss = RssSampler(p)
    return p, by, rss


def routed(make_proxy, dovecot, backends, routes, server=None, **kw):
    """A proxy with Dovecot as default back end and BACKENDS reached by
    the users in ROUTES (text of a routes map)."""
    b = {"store": store_backend(dovecot, health_check_interval="0")}
    b.update(backends)
    srv = {"default_backend": "store", "routes": "routes.map"}
    srv.update(server or {})
    p = make_proxy(backends=b, server=srv, start=False, **kw)
    (p.dir / "routes.map").write_text(routes)
    p.start()
    return p


class EvilBackend:
    """A scripted back end, one thread per connection.

    With CTX (a server SSLContext) it offers STARTTLS (and
    LOGINDISABLED before it, as real servers do); its "P1 OK" is
    followed by INJECT, in the same write or, with INJECT_DELAY, in a
    later one, before the handshake.  Over TLS or not it answers
    CAPABILITY (with REAL-CAP), ID, NOOP, SELECT and LOGOUT; the login
    (AUTHENTICATE PLAIN or LOGIN) of user "stall.user" is never
    answered, of users starting with "fail" is NO, else OK when the
    password is "good".
    """

    def __init__(self, ctx=None, inject=b"", inject_delay=None):
        self.ctx = ctx
        self.inject = inject
        self.inject_delay = inject_delay
        self.lock = threading.Lock()
        self.open = 0
        self.connections = 0
        self.stalled = 0
        self.plaintext = []         # bytes read before TLS, per connection
        self.tls_lines = []         # lines read over TLS
        self.handshake_failures = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.sock.listen(64)
        self.address = "%s:%d" % (HOST, self.sock.getsockname()[1])
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.open += 1
                self.connections += 1
                self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,),
                             daemon=True).start()

    def _serve(self, c):
        c.settimeout(60)
        plain = b""
        try:
            caps = b"IMAP4rev1 SASL-IR ID AUTH=PLAIN"
            if self.ctx is not None:
                caps = b"IMAP4rev1 SASL-IR ID STARTTLS LOGINDISABLED"
            c.sendall(b"* OK [CAPABILITY " + caps + b"] evil ready\r\n")
            f = c.makefile("rb")
            tls = False
            while True:
                line = f.readline(65536)
                if not line:
                    return
                if not tls:
                    plain += line
                else:
                    with self.lock:
                        self.tls_lines.append(line)
                parts = line.rstrip(b"\r\n").split(b" ")
                tag = parts[0]
                cmd = parts[1].upper() if len(parts) > 1 else b""
                if cmd == b"STARTTLS" and self.ctx is not None and not tls:
                    with self.lock:
                        self.plaintext.append(plain)
                    ok = tag + b" OK Begin TLS negotiation now.\r\n"
                    if self.inject_delay is None:
                        c.sendall(ok + self.inject)
                    else:
                        c.sendall(ok)
                        time.sleep(self.inject_delay)
                        c.sendall(self.inject)
                    f.close()
                    try:
                        c = self.ctx.wrap_socket(c, server_side=True)
                    except (ssl.SSLError, OSError):
                        with self.lock:
                            self.handshake_failures += 1
                        return
                    f = c.makefile("rb")
                    tls = True
                    continue
                if cmd == b"CAPABILITY":
                    c.sendall(b"* CAPABILITY IMAP4rev1 SASL-IR ID "
                              b"AUTH=PLAIN REAL-CAP\r\n" + tag +
                              b" OK done\r\n")
                elif cmd == b"ID":
                    c.sendall(b"* ID NIL\r\n" + tag + b" OK done\r\n")
                elif cmd in (b"AUTHENTICATE", b"LOGIN"):
                    if cmd == b"AUTHENTICATE":
                        if len(parts) > 3:
                            resp = parts[3]
                        else:
                            c.sendall(b"+ \r\n")
                            resp = f.readline(65536).rstrip(b"\r\n")
                        try:
                            fields = base64.b64decode(resp).split(b"\0")
                        except ValueError:
                            fields = [b"", b"", b""]
                        user, pw = fields[1], fields[-1]
                    else:
                        user = parts[2].strip(b'"')
                        pw = parts[-1].strip(b'"')
                    if user == b"stall.user":
                        with self.lock:
                            self.stalled += 1
                        while f.readline(65536):    # until the proxy goes
                            pass
                        return
                    if user.startswith(b"fail") or pw != b"good":
                        c.sendall(tag + b" NO [AUTHENTICATIONFAILED] "
                                  b"Authentication failed.\r\n")
                    else:
                        c.sendall(tag + b" OK [CAPABILITY IMAP4rev1 "
                                  b"REAL-CAP] Logged in\r\n")
                elif cmd == b"LOGOUT":
                    c.sendall(b"* BYE bye\r\n" + tag + b" OK bye\r\n")
                    return
                else:
                    c.sendall(tag + b" OK done\r\n")
        except (OSError, ValueError):
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass
            with self.lock:
                self.open -= 1

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        with self.lock:
            for c in self.conns:
                try:
                    c.close()
                except OSError:
                    pass


class Drip:
    """An attacker connection driven by drive(): sends one byte of
    PAYLOAD per tick and collects what comes back until the close."""

    def __init__(self, kind, sock, payload=b"", t0=None):
        self.kind = kind
        self.sock = sock
        self.payload = payload
        self.sent = 0
        self.t0 = t0 if t0 is not None else time.monotonic()
        self.data = b""
        self.closed_at = None
        sock.settimeout(0.2)

    @property
    def open(self):
        return self.closed_at is None

    def lifetime(self):
        return None if self.closed_at is None else self.closed_at - self.t0

    def send_next(self):
        if not self.open or self.sent >= len(self.payload):
            return
        try:
            self.sock.send(self.payload[self.sent:self.sent + 1])
            self.sent += 1
        except (OSError, ssl.SSLError):
            pass                    # the read side notices the close

    def on_readable(self):
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    self._closed()
                    return
                self.data += chunk
                if not (isinstance(self.sock, ssl.SSLSocket) and
                        self.sock.pending()):
                    return
        except (socket.timeout, BlockingIOError, ssl.SSLWantReadError):
            return
        except (OSError, ssl.SSLError):
            self._closed()

    def _closed(self):
        self.closed_at = time.monotonic()
        try:
            self.sock.close()
        except OSError:
            pass

    def close(self):
        if self.open:
            try:
                self.sock.close()
            except OSError:
                pass


def drive(drips, until, tick=1.0, on_tick=None):
    """select() loop over DRIPS until all are closed or UNTIL
    (monotonic); every TICK s each sends its next byte, then ON_TICK(n)
    runs."""
    next_tick = time.monotonic() + tick
    n = 0
    while time.monotonic() < until and any(d.open for d in drips):
        live = [d for d in drips if d.open]
        wait = max(0.0, min(next_tick, until) - time.monotonic())
        ready = [d for d in live if isinstance(d.sock, ssl.SSLSocket)
                 and d.sock.pending()]
        if not ready:
            r, _w, _x = select.select([d.sock for d in live], [], [],
                                      wait)
            fds = set(s.fileno() for s in r)
            ready = [d for d in live if d.sock.fileno() in fds]
        for d in ready:
            d.on_readable()
        if time.monotonic() >= next_tick:
            n += 1
            for d in drips:
                d.send_next()
            if on_tick:
                on_tick(n)
            next_tick += tick


# ---------------------------------------------------------------------------
# 1. slowloris

def test_slowloris_preauth(make_proxy, user, user2):
    p, by, rss = start(make_proxy, user,
                       server={"login_timeout": "%ds" % LOGIN_TIMEOUT})
    accepted0 = server_stats(p)["connections"]["accepted"]
    drips = []
    try:
        cmd = b"a LOGIN someone secret\r\n"     # never completes at 1 B/s
        i = 0
        for _ in range(12):
            c = p.client("plain", src=src_addr(i))
            drips.append(Drip("plain", c.sock, cmd))
            i += 1
        for _ in range(4):
            c = p.client("tls", src=src_addr(i))
            drips.append(Drip("tls", c.sock, cmd))
            i += 1
        for _ in range(2):
            c = p.client("starttls", src=src_addr(i))
            c.starttls()
            drips.append(Drip("starttls", c.sock, cmd))
            i += 1
        hello = client_hello()
        for _ in range(4):
            s = raw_connect(p.ports["tls"], src=src_addr(i))
            drips.append(Drip("hello", s, hello))
            i += 1
        n_attackers = len(drips)
        midway = {}

        def on_tick(n):
            if n != 2:
                return
            # every attacker is still there, and nobody else waits
            midway["open"] = sum(d.open for d in drips)
            midway["sessions"] = len(sessions(p))
            by.check()
            c = p.client("plain", src="127.0.0.4")
            assert c.capabilities()
            c.close()
            fresh_login(p, user2)
            midway["rss"] = rss.sample()

        t0 = time.monotonic()
        drive(drips, t0 + LOGIN_TIMEOUT + TIMEOUT_LATE + 1, on_tick=on_tick)
        assert midway.get("open") == n_attackers, midway
        assert midway["sessions"] >= n_attackers + 1, midway
        for d in drips:
            life = d.lifetime()
            assert life is not None, "%s attacker never closed" % d.kind
            assert LOGIN_TIMEOUT - TIMEOUT_EARLY <= life <= \
                LOGIN_TIMEOUT + TIMEOUT_LATE, (d.kind, life)
            if d.kind == "hello":
                # mid-handshake: no line can go out, nothing else may
                assert b"* " not in d.data, d.data
            else:
                assert d.data.endswith(b"* BYE Login timeout\r\n"), \
                    (d.kind, d.data)
        assert p.alive()
        bound = rss.base + n_attackers * (PREAUTH_KIB + TLS_KIB) + SLACK_KIB
        rss.finish("slowloris", bound, attackers=n_attackers,
                   midway_rss=midway.get("rss"))
        rounds = by.finish()
        fresh_login(p, user2)
        st = server_stats(p)
        assert st["connections"]["accepted"] - accepted0 >= n_attackers
        print("slowloris: %d attackers, bystander rounds %d" %
              (n_attackers, rounds))
    finally:
        for d in drips:
            d.close()


# ---------------------------------------------------------------------------
# 2. connection flood against max_connections

def read_line_raw(sock, timeout=10):
    data = b""
    sock.settimeout(timeout)
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_connection_flood_max_connections(make_proxy, user, user2):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if want < FLOOD + 512:
        pytest.skip("RLIMIT_NOFILE hard limit %d is too low" % hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    socks = []
    try:
        p, by, rss = start(make_proxy, user, global_={
            "max_connections": str(MAX_CONNECTIONS)})
        assert wait_for(lambda: server_stats(p)["connections"]["active"]
                        == 1), server_stats(p)
        fds0 = nfds(p)
        st0 = server_stats(p)
        t0 = time.monotonic()
        for i in range(FLOOD):
            src = "127.0.%d.%d" % (1 + i // 250, 1 + i % 250)
            socks.append(raw_connect(p.ports["plain"], src=src))
        t_connect = time.monotonic() - t0
        kept, refused, odd = [], 0, []
        for s in socks:
            line = read_line_raw(s)
            if line.startswith(b"* OK "):
                kept.append(s)
            elif line == b"* BYE Too many connections\r\n":
                # and then closed: nothing more, EOF
                s.settimeout(5)
                try:
                    rest = s.recv(100)
                except ConnectionResetError:
                    rest = b""
                assert rest == b"", rest
                refused += 1
                s.close()
            else:
                odd.append(line)
        t_classify = time.monotonic() - t0 - t_connect
        assert odd == [], odd[:5]
        # The bystander holds the 1000th slot.
        assert len(kept) == MAX_CONNECTIONS - 1, (len(kept), refused)
        assert refused == FLOOD - len(kept)
        at_limit = rss.sample()
        # At the limit: the TLS listener closes without a byte, the
        # STARTTLS one says why; logged-in sessions go on.
        s = raw_connect(p.ports["tls"], src="127.0.0.5")
        data, closed = read_raw_until_eof(s, 5)
        s.close()
        assert data == b"" and closed is not None and \
            closed < PROMPT_CLOSE, (data, closed)
        s = raw_connect(p.ports["starttls"], src="127.0.0.5")
        data, closed = read_raw_until_eof(s, 5)
        s.close()
        assert data == b"* BYE Too many connections\r\n", data
        by.check()
        st = server_stats(p)
        assert st["connections"]["active"] == MAX_CONNECTIONS, st
        assert st["connections"]["refused"] - \
            st0["connections"]["refused"] == refused + 2, (st0, st)
        assert p.alive()
        # They leave; new clients are welcome again.
        for s in kept:
            s.close()
        socks = []
        assert wait_for(lambda: server_stats(p)["connections"]["active"]
                        == 1, timeout=15), server_stats(p)
        c = p.client("plain", src="127.0.0.6")
        assert c.greeting.startswith("* OK"), c.greeting
        c.close()
        c = p.client("tls", src="127.0.0.6")
        assert c.greeting.startswith("* OK"), c.greeting
        c.close()
        fresh_login(p, user2)
        assert wait_for(lambda: nfds(p) <= fds0, timeout=5), \
            (fds0, nfds(p))
        bound = rss.base + (MAX_CONNECTIONS - 1) * PREAUTH_KIB + SLACK_KIB
        rss.finish("flood", bound, at_limit=at_limit, kept=len(kept),
                   refused=refused, connect_s="%.2f" % t_connect,
                   classify_s="%.2f" % t_classify)
        by.finish()
    finally:
        for s in socks:
            try:
                s.close()
            except OSError:
                pass
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# ---------------------------------------------------------------------------
# 3. lines and literals far over the limits

class Attacker:
    """Fresh plaintext connections from distinct source addresses."""

    def __init__(self, p):
        self.p = p
        self.n = 0

    def client(self, listener="plain"):
        self.n += 1
        return self.p.client(listener, src=src_addr(self.n))


def answer(c, tag, timeout=10):
    """Lines up to the first that is tagged TAG or "* BAD"/"* BYE"."""
    lines = []
    while True:
        line = c.readline(timeout).decode("utf-8", "replace")
        lines.append(line)
        if line.startswith(tag + " ") or line.startswith("* BAD") or \
                line.startswith("* BYE"):
            return lines


def assert_alive(c):
    _u, t = c.cmd("NOOP", tag="alive")
    assert t.startswith("alive OK"), t


def refused_alive(a, data, tag, pattern, listener="plain"):
    """DATA gets a tagged answer matching PATTERN, no "+" continuation,
    and the session goes on."""
    c = a.client(listener)
    try:
        c.send(data)
        lines = answer(c, tag)
        assert not any(l.startswith("+") for l in lines), (data[:80], lines)
        assert re.match(pattern, lines[-1]), (data[:80], lines)
        assert_alive(c)
        return lines
    finally:
        c.close()


def refused_bye(a, data, pattern, listener="plain", prefix=b""):
    """DATA (sent from a thread) gets a BAD matching PATTERN, then
    "* BYE" and the close."""
    c = a.client(listener)
    try:
        if prefix:
            c.send(prefix)
            assert c.readline().startswith(b"+"), "no continuation"
        t = sender(c.sock, data)
        lines = lines_until_closed(c)
        t.join(10)
        bad = [i for i, l in enumerate(lines) if re.match(pattern, l)]
        bye = [i for i, l in enumerate(lines) if l.startswith("* BYE")]
        assert bad and bye and bad[0] < bye[0], (data[:80], lines)
        return lines
    finally:
        c.close()


def test_lines_and_literals_over_the_limits(make_proxy, user, user2):
    p, by, rss = start(make_proxy, user)
    a = Attacker(p)
    # 10 MiB without a newline: after a tag, with no space at all, and
    # as the response to AUTHENTICATE PLAIN
    refused_bye(a, b"big NOOP " + b"x" * (10 * MIB),
                r"^big BAD Line too long")
    refused_bye(a, b"x" * (10 * MIB), r"^\* BAD Line too long")
    refused_bye(a, b"A" * (10 * MIB), r"^s BAD Line too long",
                prefix=b"s AUTHENTICATE PLAIN\r\n")
    by.check()
    # Synchronizing literals over the limit: BAD, no "+", session goes on
    for size in ("4294967296", "18446744073709551617",
                 "99999999999999999999", "9" * 300, str(10 * MIB)):
        refused_alive(a, ("l LOGIN {%s}\r\n" % size).encode(), "l",
                      r"^l BAD Literal too large")
        refused_alive(a, ("l LOGIN user {%s}\r\n" % size).encode(), "l",
                      r"^l BAD Literal too large")
    # Sizes that are no number
    for size in ("-1", "", "-1+", " 5", "5 ", "0x10", "1e3", "5++",
                 "\u0661\u0662", "5}{5", "{5"):
        refused_alive(a, ("l LOGIN {%s}\r\n" % size).encode(), "l",
                      r"^l BAD ")
    # "{+}" looks like a {n+} announcement without digits: imap.c's
    # line_ends_nonsync() takes it for one and ends the session, which
    # is the safe side; a plain BAD would do too.
    c = a.client()
    c.send(b"l LOGIN {+}\r\n")
    lines = answer(c, "l")
    assert re.match(r"^l BAD Invalid literal", lines[-1]), lines
    try:
        assert_alive(c)
    except (EOFError, ConnectionResetError):
        pass
    c.close()
    refused_alive(a, b"l LOGIN {5}junk\r\n", "l", r"^l BAD Invalid literal")
    refused_alive(a, b"l LOGIN ~{5}\r\n", "l", r"^l BAD ")
    # {n+} over the limit: its bytes follow unasked, so BAD, BYE, close
    for size in ("8193", "4294967296", "99999999999999999999"):
        refused_bye(a, ("l LOGIN {%s+}\r\n" % size).encode() +
                    b"z" * MIB, r"^l BAD Literal too large")
    by.check()

    # A literal of exactly IMAP_MAX_LITERAL bytes, and one byte more
    lit = IMAP_MAX_LITERAL
    c = a.client()
    c.send(b'x ID ("k" {%d}\r\n' % lit)
    assert c.readline().startswith(b"+ "), "no continuation"
    c.send(b"v" * lit + b")\r\n")
    u, t = c.read_response("x")
    assert u == ["* ID NIL"] and t.startswith("x OK"), (u, t)
    c.send(b'y ID ("k" {%d+}\r\n' % lit + b"v" * lit + b")\r\n")
    u, t = c.read_response("y")
    assert u == ["* ID NIL"] and t.startswith("y OK"), (u, t)
    c.close()
    refused_alive(a, b'x ID ("k" {%d}\r\n' % (lit + 1), "x",
                  r"^x BAD Literal too large")
    refused_bye(a, b'x ID ("k" {%d+}\r\n' % (lit + 1) + b"v" * (lit + 1) +
                b")\r\n", r"^x BAD Literal too large")

    # A line of exactly IMAP_MAX_LINE bytes with its CRLF, one more
    def id_line(total):
        head, tail = b'a ID ("k" "', b'")\r\n'
        return head + b"v" * (total - len(head) - len(tail)) + tail
    assert len(id_line(IMAP_MAX_LINE)) == IMAP_MAX_LINE
    refused_alive(a, id_line(IMAP_MAX_LINE), "a", r"^a OK")
    refused_bye(a, id_line(IMAP_MAX_LINE + 1), r"^a BAD Line too long")

    # A command of exactly IMAP_MAX_CMD bytes (two {n+} literals)
    def big_cmd(total):
        l1 = b'c ID ("k1" {%d+}\r\n' % lit
        for y in range(total, 0, -1):
            l2 = b' "k2" {%d+}\r\n' % y
            if len(l1) + lit + len(l2) + y + 3 == total:
                return l1 + b"v" * lit + l2 + b"w" * y + b")\r\n"
        raise AssertionError("no size fits")
    assert len(big_cmd(IMAP_MAX_CMD)) == IMAP_MAX_CMD
    refused_alive(a, big_cmd(IMAP_MAX_CMD), "c", r"^c OK")
    refused_bye(a, big_cmd(IMAP_MAX_CMD + 1), r"^c BAD Command too long")
    # ... and with {n}: the second literal is refused before its "+"
    c = a.client()
    c.send(b'c ID ("k1" {%d}\r\n' % lit)
    assert c.readline().startswith(b"+ ")
    c.send(b"v" * lit + b' "k2" {%d}\r\n' % lit)
    lines = answer(c, "c")
    assert lines == ["c BAD Command too long"], lines
    assert_alive(c)
    c.close()

    # Tags, command names, arguments and nesting at and over their limits
    refused_alive(a, b"t" * IMAP_MAX_TAG + b" NOOP\r\n", "t" * IMAP_MAX_TAG,
                  r"^t+ OK")
    refused_alive(a, b"t" * (IMAP_MAX_TAG + 1) + b" NOOP\r\n", "*",
                  r"^\* BAD Invalid tag")
    refused_alive(a, b"n " + b"N" * IMAP_MAX_ATOM + b"\r\n", "n",
                  r"^n BAD Command unknown")
    refused_alive(a, b"n " + b"N" * (IMAP_MAX_ATOM + 1) + b"\r\n", "n",
                  r"^n BAD Command name too long")
    pairs = (IMAP_MAX_ARGS - 2) // 2
    refused_alive(a, b"i ID (" + b" ".join(b'"k" "v"' for _ in
                                             range(pairs)) + b")\r\n",
                  "i", r"^i OK")
    refused_alive(a, b"i ID (" + b" ".join(b'"k" "v"' for _ in
                                             range(pairs + 1)) + b")\r\n",
                  "i", r"^i BAD Too many arguments")
    refused_alive(a, b"i ID " + b"(" * IMAP_MAX_DEPTH + b")" *
                  IMAP_MAX_DEPTH + b"\r\n", "i", r"^i BAD Invalid ID")
    refused_alive(a, b"i ID " + b"(" * (IMAP_MAX_DEPTH + 1) + b")" *
                  (IMAP_MAX_DEPTH + 1) + b"\r\n", "i",
                  r"^i BAD Lists nested too deeply")
    assert p.alive()
    rss.finish("limits", rss.base + SLACK_KIB, connections=a.n)
    by.finish()
    fresh_login(p, user2)


# ---------------------------------------------------------------------------
# 4. NUL bytes and invalid UTF-8

NUL_SECRET = "Nul-Secret-4c7b-Pw"


def sasl(*fields):
    return base64.b64encode(b"\0".join(fields))


def assert_clean_log(p, secrets=()):
    """The log: no NUL, valid UTF-8, no control character but LF, and
    none of SECRETS (bytes) nor the password, plain or base64."""
    raw = p.log.read_bytes()
    for x in secrets:
        assert x not in raw, x
    assert b"\0" not in raw, "NUL byte in the log"
    text = raw.decode("utf-8")          # raises on invalid UTF-8
    bad = [l for l in text.splitlines()
           if re.search(r"[\x00-\x08\x0b-\x1f\x7f]", l)]
    assert bad == [], bad[:5]
    assert NUL_SECRET not in text
    assert b64(NUL_SECRET) not in text
    return text


def test_nul_and_invalid_utf8(make_proxy, user, user2):
    p, by, rss = start(make_proxy, user)
    a = Attacker(p)
    s = NUL_SECRET.encode()
    bad = r"^%s BAD "
    cases = [
        # tags
        (b"a\0b NOOP\r\n", "*", bad % r"\*"),
        (b"\0 NOOP\r\n", "*", bad % r"\*"),
        (b"\0\0\0\r\n", "*", bad % r"\*"),
        (b"\xff\xfe NOOP\r\n", "*", bad % r"\*"),
        (b"\xc3\xa9 NOOP\r\n", "*", bad % r"\*"),
        (b"a\xed\xa0\x80 NOOP\r\n", "*", bad % r"\*"),
        # command names and atoms
        (b"a NO\0OP\r\n", "a", bad % "a"),
        (b"a NO\xffOP\r\n", "a", bad % "a"),
        (b"a \xe2\x82\xac\r\n", "a", bad % "a"),
        (b"a CAPABILITY\0\r\n", "a", bad % "a"),
        (b"a LOGIN us\0er " + s + b"\r\n", "a", bad % "a"),
        (b"a LOGIN us\xffer " + s + b"\r\n", "a", bad % "a"),
        (b"a LOGIN user " + s + b"\0\r\n", "a", bad % "a"),
        # quoted strings
        (b'a LOGIN "us\0er" "' + s + b'"\r\n', "a", bad % "a"),
        (b'a LOGIN "user" "' + s + b'\0x"\r\n', "a", bad % "a"),
        (b'a LOGIN "user" "\0"\r\n', "a", bad % "a"),
        (b'a ID ("n\0" "v")\r\n', "a", bad % "a"),
        # literals ({n+}: the data follows at once)
        (b'a LOGIN {5+}\r\nus\0er "' + s + b'"\r\n', "a",
         r"^a BAD Invalid user name or password"),
        (b'a LOGIN "user" {%d+}\r\n' % (len(s) + 1) + s + b"\0\r\n", "a",
         r"^a BAD Invalid user name or password"),
        (b"a LOGIN {1+}\r\n\0 {1+}\r\n\0\r\n", "a",
         r"^a BAD Invalid user name or password"),
        # invalid UTF-8 that parses: the back end refuses the login
        (b'a LOGIN "\xff\xfe\xfd" "' + s + b'"\r\n', "a", r"^a NO "),
        (b'a LOGIN "\xc3\x28\xed\xa0\x80" "\xff"\r\n', "a", r"^a NO "),
        (b'a LOGIN "\x1b[31mred\x7f" "' + s + b'\x01"\r\n', "a", r"^a NO "),
        (b"a LOGIN {4+}\r\n\xf8\x88\x80\x80 {3+}\r\n\xc0\xaf\xff\r\n", "a",
         r"^a NO "),
        (b'a ID ("\xff" "\xc0\x80")\r\n', "a", r"^a OK"),
        # AUTHENTICATE PLAIN
        (b"a AUTHENTICATE PLAIN " + sasl(b"", b"us", b"er", s) + b"\r\n",
         "a", bad % "a"),
        (b"a AUTHENTICATE PLAIN " + sasl(b"", b"", s) + b"\r\n",
         "a", r"^a (BAD|NO) "),
        (b"a AUTHENTICATE PLAIN " + sasl(b"", b"\xff\xfe", s) + b"\r\n",
         "a", r"^a NO "),
        (b"a AUTHENTICATE PLAIN " + sasl(b"\xff\x1b", b"user", s) +
         b"\r\n", "a", r"^a (BAD|NO) "),
        (b"a AUTHENTICATE PLAIN AG\0E=\r\n", "a", bad % "a"),
        (b"a AUTHENTICATE PLAIN \xff\xfe\r\n", "a", bad % "a"),
        (b"a AUTHENTICATE PL\0AIN\r\n", "a", r"^a (BAD|NO) "),
    ]
    for data, tag, pattern in cases:
        refused_alive(a, data, tag, pattern)
    by.check()

    # continuations: PLAIN and LOGIN with NULs and invalid UTF-8
    def cont(first, answers, pattern):
        c = a.client()
        try:
            c.send(first)
            for ans in answers:
                line = c.readline()
                assert line.startswith(b"+"), (first, line)
                c.send(ans + b"\r\n")
            lines = answer(c, "a")
            assert re.match(pattern, lines[-1]), (first, answers, lines)
            assert_alive(c)
        finally:
            c.close()

    cont(b"a AUTHENTICATE PLAIN\r\n", [b"\0\xff\xfe"], r"^a BAD ")
    cont(b"a AUTHENTICATE PLAIN\r\n", [b"AG\0E="], r"^a BAD ")
    cont(b"a AUTHENTICATE PLAIN\r\n", [sasl(b"", b"u\0x", s)], r"^a BAD ")
    cont(b"a AUTHENTICATE PLAIN\r\n", [sasl(b"", b"\xc3\x28", s)],
         r"^a NO ")
    cont(b"a AUTHENTICATE LOGIN\r\n", [base64.b64encode(b"us\0er")],
         r"^a BAD ")
    cont(b"a AUTHENTICATE LOGIN\r\n",
         [base64.b64encode(b"\xff\xfe"), base64.b64encode(s + b"\0")],
         r"^a BAD ")
    cont(b"a AUTHENTICATE LOGIN\r\n",
         [base64.b64encode(b"\xff\xfe"), base64.b64encode(b"\xc0" + s)],
         r"^a NO ")
    cont(b"a AUTHENTICATE LOGIN\r\n", [b"\0\0\0\0"], r"^a BAD ")

    # A session in the middle of a NUL-laden command, while the stats
    # socket is asked: its JSON stays valid (ask_json parses strictly).
    c = a.client()
    c.send(b"a LOGIN \0\xff\xfe\x1b")
    time.sleep(0.1)
    sess = sessions(p)
    assert any(x["client"] == addr_of(c.sock) for x in sess), sess
    json.loads(p.ask("stats"))
    c.close()
    assert p.alive()
    text = assert_clean_log(p, [
        sasl(b"", b"us", b"er", s), sasl(b"", b"", s),
        sasl(b"", b"\xff\xfe", s), sasl(b"\xff\x1b", b"user", s),
        sasl(b"", b"u\0x", s), sasl(b"", b"\xc3\x28", s),
        base64.b64encode(s + b"\0"), base64.b64encode(b"\xc0" + s)])
    rss.finish("nul-utf8", rss.base + SLACK_KIB, connections=a.n,
               log_lines=len(text.splitlines()))
    by.finish()
    fresh_login(p, user2)


def test_weird_user_name_logged_in(make_proxy, dovecot, user, user2):
    """A user name with invalid UTF-8 and control characters that the
    back end accepts: `sessions` stays valid JSON and shows it with
    U+FFFD for the invalid bytes, the log escapes it."""
    fb = FakeBackend()
    try:
        p = routed(make_proxy, dovecot, {"fake": {
            "address": fb.address, "health_check_interval": "0"}},
            "@fake.test fake\n")
        warm_up(p)
        by = Bystander(p, user)
        rss = RssSampler(p)
        weird = b'\xff\xfe\x1b[31m"q\\\x7f\x01\xc3\xa9\xed\xa0\x80@fake.test'
        c = p.client("plain", src="127.0.0.7")
        c.send(b"w LOGIN {%d+}\r\n" % len(weird) + weird + b" good\r\n")
        _u, t = c.read_response("w")
        assert t.startswith("w OK"), t
        _u, t = c.cmd("NOOP", tag="n")
        assert t.startswith("n OK"), t
        text = p.ask("sessions")            # strict UTF-8, then JSON
        assert "\x1b" not in text and "\x7f" not in text, text
        mine = [x for x in json.loads(text)["sessions"]
                if x["client"] == addr_of(c.sock)]
        assert len(mine) == 1, text
        # each invalid byte is one U+FFFD (json.loads turned \u001b etc.
        # back into characters)
        want = ("\ufffd\ufffd\x1b[31m\"q\\\x7f\x01\u00e9\ufffd\ufffd\ufffd"
                "@fake.test")
        assert mine[0]["user"] in (want, want.lower()), mine[0]
        assert mine[0]["backend"] == "fake", mine[0]
        json.loads(p.ask("stats"))
        c.close()
        log = assert_clean_log(p)
        assert re.search(r"user=\\xff\\xfe\\x1b\[31m", log, re.I), \
            [l for l in log.splitlines() if "logged in" in l]
        rss.finish("weird-user", rss.base + SLACK_KIB)
        by.finish()
        fresh_login(p, user2)
    finally:
        fb.close()


# ---------------------------------------------------------------------------
# 5. 10,000 pipelined commands in one write


def pipeline_payload(n, prefix="p"):
    parts = []
    for i in range(n):
        verb = "CAPABILITY" if i % 2 == 0 else "NOOP"
        parts.append("%s%d %s\r\n" % (prefix, i, verb))
    return ("".join(parts) + "%sz LOGOUT\r\n" % prefix).encode()


def read_all(sock, timeout, stall=PIPELINE_STALL):
    """Everything until EOF; AssertionError past TIMEOUT, or when
    nothing comes for STALL s."""
    chunks = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        got = sum(map(len, chunks))
        assert left > 0, "no EOF within %.0f s (%d bytes)" % (timeout, got)
        sock.settimeout(min(left, stall))
        try:
            b = sock.recv(1 << 20)
        except ConnectionResetError:
            b = b""
        except socket.timeout:
            tail = b"".join(chunks)[-120:]
            raise AssertionError("stalled: nothing for %.0f s after %d "
                                 "bytes ending %r" % (stall, got, tail))
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def check_pipeline_answers(lines, n, prefix="p"):
    assert lines[0].startswith(b"* OK "), lines[:2]
    i = 1
    for k in range(n):
        if k % 2 == 0:
            assert lines[i].startswith(b"* CAPABILITY IMAP4rev1 "), \
                (k, lines[i - 1:i + 2])
            i += 1
        want = ("%s%d OK " % (prefix, k)).encode()
        assert lines[i].startswith(want), (k, lines[i - 1:i + 2])
        i += 1
    assert lines[i].startswith(b"* BYE"), lines[i - 1:]
    assert lines[i + 1].startswith(("%sz OK" % prefix).encode()), \
        lines[i:]
    assert lines[i + 2:] == [b""], lines[i:]


def test_pipelined_preauth_beyond_the_reply_buffer(proxy):
    """The smallest case of the stall: 30 CAPABILITY (~3 KiB of
    replies), then 100 NOOP, each lot in one write."""
    for verb, n in (("CAPABILITY", 30), ("NOOP", 100)):
        s = raw_connect(proxy.ports["plain"])
        s.sendall("".join("c%d %s\r\n" % (i, verb) for i in range(n))
                  .encode() + b"z LOGOUT\r\n")
        lines = read_all(s, 10).split(b"\r\n")
        s.close()
        tags = [l.split(b" ")[0] for l in lines if l[:1] == b"c"]
        assert len(tags) == n, (verb, n, len(tags), lines[-3:])


def test_ten_thousand_pipelined_commands(make_proxy, user, user2):
    p, by, rss = start(make_proxy, user)
    results = {}

    def pipeliner(name, src):
        try:
            s = raw_connect(p.ports["plain"], src=src)
            t0 = time.monotonic()
            st = sender(s, pipeline_payload(PIPELINE_N))
            data = read_all(s, PIPELINE_TIME_LIMIT)
            results[name] = (time.monotonic() - t0, data)
            st.join(5)
            s.close()
        except Exception as e:
            results[name] = e

    threads = [threading.Thread(target=pipeliner, args=(n, src_addr(k)),
                                daemon=True)
               for k, n in enumerate(("one", "two"))]
    probe = p.client("plain", src="127.0.0.8")
    for t in threads:
        t.start()
    worst, probes = 0.0, 0
    while any(t.is_alive() for t in threads):
        t0 = time.monotonic()
        assert probe.capabilities()
        worst = max(worst, time.monotonic() - t0)
        probes += 1
        time.sleep(0.02)
    probe.close()
    by.check()
    for name in ("one", "two"):
        r = results[name]
        if isinstance(r, Exception):
            raise r
        elapsed, data = r
        assert elapsed <= PIPELINE_TIME_LIMIT, elapsed
        check_pipeline_answers(data.split(b"\r\n"), PIPELINE_N)
    assert worst <= PIPELINE_PROBE_MAX, worst
    assert p.alive()
    rss.finish("pipeline", rss.base + 3 * PREAUTH_KIB + SLACK_KIB,
               one_s="%.2f" % results["one"][0],
               two_s="%.2f" % results["two"][0], probes=probes,
               probe_worst_s="%.3f" % worst)
    by.finish()
    fresh_login(p, user2)


def test_pipelined_commands_across_the_login(make_proxy, user, user2):
    """60 NOOP, LOGIN, 4,000 NOOP and LOGOUT in one write: the first
    ones answered by the proxy, the rest (16 KiB of it already in the
    proxy's input buffer) relayed to Dovecot, all in order.  (60 keeps
    the proxy's replies under SESS_MAX_OUT / 2.)"""
    p, by, rss = start(make_proxy, user)
    half = 60
    name, pw = user2
    cmds = ["q%d NOOP" % i for i in range(half)]
    cmds.append('qL LOGIN "%s" "%s"' % (name, pw))
    cmds += ["r%d NOOP" % i for i in range(4000)]
    cmds.append("rz LOGOUT")
    s = raw_connect(p.ports["plain"], src="127.0.0.9")
    t0 = time.monotonic()
    st = sender(s, ("\r\n".join(cmds) + "\r\n").encode())
    data = read_all(s, PIPELINE_TIME_LIMIT)
    across = time.monotonic() - t0
    st.join(5)
    s.close()
    by.check()
    lines = data.split(b"\r\n")
    tagged = [l for l in lines if l and not l.startswith(b"* ")]
    tags = [l.split(b" ")[0].decode() for l in tagged]
    assert tags == [c.split(" ")[0] for c in cmds], \
        [t for t, c in zip(tags, cmds) if t != c.split(" ")[0]][:5]
    assert all(l.split(b" ")[1] == b"OK" for l in tagged), \
        [l for l in tagged if l.split(b" ")[1] != b"OK"][:5]
    assert tagged[half].startswith(b"qL OK [CAPABILITY"), tagged[half]
    assert lines[-3].startswith(b"* BYE") and lines[-2].startswith(b"rz OK"), \
        lines[-4:]
    assert p.alive()
    rss.finish("pipeline-login", rss.base + 2 * PREAUTH_KIB + SLACK_KIB,
               across_login_s="%.2f" % across)
    by.finish()
    fresh_login(p, user2)


def test_pipelined_logout_no_spurious_bye(proxy, user):
    """Logged in, 100 NOOP and LOGOUT in one write: Dovecot's
    "* BYE" and "z OK" end the stream, nothing after them."""
    c = proxy.client("plain")
    login_ok(c, *user)
    c.send("".join("n%d NOOP\r\n" % i for i in range(100)) + "z LOGOUT\r\n")
    lines = (c.buf + read_all(c.sock, 10)).split(b"\r\n")
    c.close()
    assert lines[-3].startswith(b"* BYE") and lines[-2].startswith(b"z OK") \
        and lines[-1] == b"", lines[-4:]


# ---------------------------------------------------------------------------
# 6. STARTTLS with pipelined commands (NO STARTTLS, USENIX Security 2021)

def test_starttls_command_injection(make_proxy, dovecot, user, user2):
    p, by, rss = start(make_proxy, user)
    victim, vpw = user2
    logins0 = server_stats(p)["logins"]["ok"]
    inj = ("b LOGIN %s %s\r\n" % (victim, vpw)).encode()
    inj_plain = ("b AUTHENTICATE PLAIN %s\r\n"
                 % b64("\0%s\0%s" % (victim, vpw))).encode()
    inj_litplus = ("b LOGIN {%d+}\r\n%s {%d+}\r\n%s\r\n"
                   % (len(victim), victim, len(vpw), vpw)).encode()
    a = Attacker(p)

    def after_tls_still_preauth(c):
        """Over TLS, only our own new commands are answered, and the
        session is not logged in."""
        c.send("d NOOP\r\n")
        got = []
        while True:
            line = c.readline(timeout=5).decode()
            got.append(line)
            if line.startswith("d "):
                break
        assert got == ["d OK NOOP completed."], got
        caps = c.capabilities()
        assert "AUTH=PLAIN" in caps and "STARTTLS" not in caps, caps
        with pytest.raises(socket.timeout):
            c.readline(timeout=0.5)
        me = clients_of(p)[addr_of(c.sock)]
        assert me["user"] is None and me["state"] == "preauth", me

    # In one packet, with LOGIN, AUTHENTICATE PLAIN and LITERAL+ forms
    for injected in (inj, inj_plain, inj_litplus, b"x NOOP\r\n" + inj):
        c = a.client("starttls")
        c.send(b"a STARTTLS\r\n" + injected)
        line = c.readline().decode()
        assert line.startswith("a OK"), line
        # nothing else in plaintext: no answer to what followed
        assert c.buf == b"" and nothing_more(c.sock), c.buf
        c.sock.settimeout(10)
        c.sock = client_ctx().wrap_socket(c.sock)
        after_tls_still_preauth(c)
        c.close()
    # Commands before STARTTLS are answered, those after it are not
    c = a.client("starttls")
    c.send(b"x NOOP\r\ny CAPABILITY\r\na STARTTLS\r\n" + inj +
           b"z NOOP\r\n")
    got = [c.readline().decode() for _ in range(4)]
    assert [g.split()[0] for g in got] == ["x", "*", "y", "a"], got
    assert got[3].startswith("a OK"), got
    assert c.buf == b"" and nothing_more(c.sock), c.buf
    c.sock.settimeout(10)
    c.sock = client_ctx().wrap_socket(c.sock)
    after_tls_still_preauth(c)
    c.close()
    by.check()
    # The injection in a second packet, before the ClientHello: it is
    # read as TLS and the handshake fails (or, if it came late enough,
    # is ignored); either way nothing logs in.
    outcomes = []
    for injected in (inj, inj * 700):       # 700 copies: over 16 KiB
        c = a.client("starttls")
        c.send(b"a STARTTLS\r\n")
        time.sleep(0.05)
        try:
            c.send(injected)
        except OSError:
            pass
        line = c.readline().decode()
        assert line.startswith("a OK"), line
        c.sock.settimeout(5)
        try:
            c.sock = client_ctx().wrap_socket(c.sock)
            after_tls_still_preauth(c)
            outcomes.append("ignored")
        except (ssl.SSLError, OSError, EOFError) as e:
            outcomes.append("handshake failed (%s)" % type(e).__name__)
        c.close()
    time.sleep(0.3)
    assert dovecot.login_lines(victim) == [], dovecot.login_lines(victim)
    assert server_stats(p)["logins"]["ok"] == logins0, server_stats(p)
    assert p.alive()
    rss.finish("starttls-client", rss.base + SLACK_KIB, connections=a.n,
               second_packet="; ".join(outcomes))
    by.finish()
    # the victim can still log in, over STARTTLS
    c = p.client("starttls", src="127.0.0.10")
    c.starttls()
    login_ok(c, victim, vpw)
    c.close()
    assert len(dovecot.login_lines(victim)) == 1


INJECTED = (b"* CAPABILITY IMAP4rev1 LOGINDISABLED INJECTED-CAP\r\n"
            b"P2 OK injected capability\r\n"
            b"P3 OK injected id\r\n"
            b"L OK [CAPABILITY IMAP4rev1 INJECTED-CAP] injected login\r\n"
            b"* BYE injected\r\n")


@pytest.mark.parametrize("when", ["same-write", "later-write"])
def test_backend_starttls_response_injection(make_proxy, dovecot, pki,
                                             user, user2, when):
    cert, key = pki["org"]
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert, key)
    evil = EvilBackend(ctx=sctx, inject=INJECTED,
                       inject_delay=None if when == "same-write" else 0.3)
    try:
        p = routed(make_proxy, dovecot, {"evil": {
            "address": evil.address, "tls": "starttls",
            "tls_verify": "yes", "tls_ca": cert,
            "tls_server_name": "mail.example.org",
            "health_check_interval": "0", "connect_timeout": "5s"}},
            "evil.user evil\n")
        warm_up(p)
        by = Bystander(p, user)
        rss = RssSampler(p)
        c = p.client("plain", src="127.0.0.11")
        u, t = c.cmd("LOGIN evil.user good", tag="L")
        seen = "\n".join(u + [t])
        assert "INJECTED" not in seen and "injected" not in seen, seen
        # we never pipeline after our STARTTLS, never send a secret
        # before TLS
        assert evil.plaintext == [b"P1 STARTTLS\r\n"], evil.plaintext
        if when == "same-write":
            # discarded: the login used what the back end said over TLS
            assert t == "L OK [CAPABILITY IMAP4rev1 REAL-CAP] Logged in", t
            names = [l.split()[1] for l in evil.tls_lines]
            assert names[:3] == [b"CAPABILITY", b"ID", b"AUTHENTICATE"], \
                evil.tls_lines
            _u, t = c.cmd("NOOP", tag="n")
            assert t == "n OK done", t
        else:
            # read as TLS: the handshake fails, nothing is sent
            assert t.startswith("L NO [UNAVAILABLE]"), t
            assert evil.tls_lines == [], evil.tls_lines
            assert wait_for(lambda: evil.handshake_failures == 1), \
                evil.handshake_failures
            assert_alive(c)
        c.close()
        assert p.alive()
        rss.finish("starttls-backend-" + when, rss.base + SLACK_KIB)
        by.finish()
        fresh_login(p, user2)
    finally:
        evil.close()


# ---------------------------------------------------------------------------
# 7. garbage instead of a TLS ClientHello

def sslv2_hello(version=0x0002):
    ciphers = bytes.fromhex("010080" "0700c0" "030080" "060040"
                            "020080" "040080" "000039")[:21]
    body = struct.pack(">BHHHH", 1, version, len(ciphers), 0, 16) + \
        ciphers + os.urandom(16)
    return struct.pack(">H", 0x8000 | len(body)) + body


def sslv3_hello():
    suites = struct.pack(">HHH", 0x0035, 0x002f, 0x000a)
    body = struct.pack(">H", 0x0300) + bytes(32) + b"\x00" + \
        struct.pack(">H", len(suites)) + suites + b"\x01\x00"
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x00" + struct.pack(">H", len(hs)) + hs


def garbage_cases():
    rnd = random.Random(7)
    noise = bytes([0x42]) + bytes(rnd.getrandbits(8) for _ in range(4095))
    hello = client_hello()
    return [
        ("random", noise),
        ("http", b"GET / HTTP/1.1\r\nHost: mail.example.org\r\n\r\n"),
        ("nuls", bytes(512)),
        ("imap", b"a LOGIN user pass\r\n"),
        ("record-65535", b"\x16\x03\x01\xff\xff" + noise[:64]),
        ("clienthello-16MiB", b"\x16\x03\x01\x00\x08\x01\xff\xff\xff"
         b"\x03\x03\x00\x00"),
        ("version-ffff", b"\x16\xff\xff\x00\x10" + noise[:16]),
        ("sslv2", sslv2_hello()),
        ("sslv3", sslv3_hello()),
        ("alert", b"\x15\x03\x01\x00\x02\x02\x28"),
        ("ccs", b"\x14\x03\x03\x00\x01\x01"),
        ("appdata", b"\x17\x03\x03\x00\x10" + noise[:16]),
        ("hello-then-garbage", hello + noise[:512]),
    ]


def test_garbage_instead_of_clienthello(make_proxy, user, user2):
    p, by, rss = start(make_proxy, user,
                       server={"login_timeout": "%ds" % LOGIN_TIMEOUT})
    fail0 = server_stats(p)["tls_handshake_failures"]
    cases = garbage_cases()
    # A record that announces 512 bytes and sends 10: it waits for them
    slow = raw_connect(p.ports["tls"], src=src_addr(0))
    slow.sendall(b"\x16\x03\x01\x02\x00" + bytes(10))
    t_slow = time.monotonic()
    socks = []
    for i, (name, data) in enumerate(cases):
        s = raw_connect(p.ports["tls"], src=src_addr(i + 1))
        try:
            s.sendall(data)
        except OSError:
            pass
        socks.append((name, s, time.monotonic()))
    lifetimes = {}
    for name, s, t0 in socks:
        data, _ = read_raw_until_eof(s, 5)
        lifetimes[name] = time.monotonic() - t0
        s.close()
        assert b"* OK" not in data and b"* BYE" not in data, (name, data)
    late = dict((n, t) for n, t in lifetimes.items() if t > PROMPT_CLOSE)
    assert late == {}, late
    by.check()
    assert wait_for(lambda: server_stats(p)["tls_handshake_failures"] -
                    fail0 == len(cases)), \
        (server_stats(p)["tls_handshake_failures"] - fail0, len(cases))
    data, closed = read_raw_until_eof(slow, LOGIN_TIMEOUT + TIMEOUT_LATE)
    slow_life = time.monotonic() - t_slow
    slow.close()
    assert closed is not None and data == b"", (data, closed)
    assert LOGIN_TIMEOUT - TIMEOUT_EARLY <= slow_life <= \
        LOGIN_TIMEOUT + TIMEOUT_LATE, slow_life
    assert p.alive()
    c = p.client("tls", src="127.0.0.12")
    assert c.capabilities()
    c.close()
    fails = server_stats(p)["tls_handshake_failures"] - fail0
    rss.finish("garbage-tls", rss.base + (len(cases) + 1) *
               (PREAUTH_KIB + TLS_KIB) + SLACK_KIB,
               counted=fails, slowest_ms="%.0f" % (1000 * max(
                   lifetimes.values())))
    by.finish()
    fresh_login(p, user2, listener="tls")


# ---------------------------------------------------------------------------
# 8. disconnects at every step of the handshake and the login

@pytest.fixture
def fault_backends():
    """(mute, evil): a back end that never greets, and EvilBackend
    (never answers stall.user's login, refuses fail.user's)."""
    mute = FakeBackend(mode="silent")
    evil = EvilBackend()
    yield mute, evil
    mute.close()
    evil.close()


def disconnect_proxy(make_proxy, dovecot, fault_backends):
    mute, evil = fault_backends
    return routed(make_proxy, dovecot, {
        "mute": {"address": mute.address, "connect_timeout": "30s",
                 "health_check_interval": "0"},
        "evil": {"address": evil.address, "connect_timeout": "30s",
                 "health_check_interval": "0"}},
        "mute.user mute\nstall.user evil\nfail.user evil\n",
        server={"auth_fail_delay": "3s"})


class Steps:
    """Ways to reach each step of the handshake and the login; each
    returns the client's socket, the session in that step."""

    def __init__(self, p, evil, user2):
        self.p = p
        self.evil = evil
        self.user2 = user2
        self.hello = client_hello()
        self.seq = 0

    def src(self):
        self.seq += 1
        return src_addr(self.seq)

    def wait_state(self, sock, state):
        addr = addr_of(sock)
        got = wait_for(lambda: (clients_of(self.p).get(addr) or {}).get(
            "state") == state, timeout=5)
        assert got, (state, clients_of(self.p).get(addr))

    def tcp_plain(self):
        return raw_connect(self.p.ports["plain"], src=self.src())

    def tcp_tls(self):
        return raw_connect(self.p.ports["tls"], src=self.src())

    def partial_hello(self):
        s = raw_connect(self.p.ports["tls"], src=self.src())
        s.sendall(self.hello[:len(self.hello) // 3])
        self.wait_state(s, "tls")
        return s

    def mid_handshake(self):
        s = raw_connect(self.p.ports["tls"], src=self.src())
        s.sendall(self.hello)
        assert s.recv(5)[:1] == b"\x16"             # the ServerHello
        return s

    def greeted_plain(self):
        return self.p.client("plain", src=self.src()).sock

    def greeted_tls(self):
        return self.p.client("tls", src=self.src()).sock

    def starttls_ok(self):
        c = self.p.client("starttls", src=self.src())
        _u, t = c.cmd("STARTTLS", tag="s")
        assert t.startswith("s OK"), t
        self.wait_state(c.sock, "tls")
        return c.sock

    def starttls_partial(self):
        s = self.starttls_ok()
        s.sendall(self.hello[:40])
        return s

    def mid_command(self):
        c = self.p.client("plain", src=self.src())
        c.send("a LOGIN us")
        return c.sock

    def mid_command_tls(self):
        c = self.p.client("starttls", src=self.src())
        c.starttls()
        c.send("a LOGIN us")
        return c.sock

    def mid_literal(self):
        c = self.p.client("plain", src=self.src())
        c.send("a LOGIN {10}\r\n")
        assert c.readline().startswith(b"+")
        c.send("abc")
        return c.sock

    def auth_plain_cont(self):
        c = self.p.client("plain", src=self.src())
        c.send("a AUTHENTICATE PLAIN\r\n")
        assert c.readline().startswith(b"+")
        self.wait_state(c.sock, "sasl")
        return c.sock

    def auth_login_cont(self):
        c = self.p.client("tls", src=self.src())
        c.send("a AUTHENTICATE LOGIN\r\n")
        assert c.readline().startswith(b"+")
        c.send(b64("someone") + "\r\n")
        assert c.readline().startswith(b"+")
        self.wait_state(c.sock, "sasl")
        return c.sock

    def fail_delay(self):
        c = self.p.client("plain", src=self.src())
        c.send("a LOGIN fail.user good\r\n")
        time.sleep(0.5)             # the NO is in, held for 3 s
        with pytest.raises(socket.timeout):
            c.readline(timeout=0.1)
        return c.sock

    def relaying(self):
        c = self.p.client("plain", src=self.src())
        login_ok(c, *self.user2)
        c.send("x SELECT IN")
        return c.sock

    def backend_connecting(self):
        c = self.p.client("plain", src=self.src())
        c.send("a LOGIN mute.user secret\r\n")
        self.wait_state(c.sock, "connect")
        return c.sock

    def backend_login(self):
        n = self.evil.stalled
        c = self.p.client("plain", src=self.src())
        c.send("a AUTHENTICATE PLAIN %s\r\n" % b64("\0stall.user\0pw"))
        assert wait_for(lambda: self.evil.stalled > n), "login not sent"
        self.wait_state(c.sock, "login")
        return c.sock

    FRONT = ("tcp_plain", "tcp_tls", "partial_hello", "mid_handshake",
             "greeted_plain", "greeted_tls", "starttls_ok",
             "starttls_partial", "mid_command", "mid_command_tls",
             "mid_literal", "auth_plain_cont", "auth_login_cont",
             "relaying")
    # the proxy does not read the client meanwhile, only watches it
    BUSY = ("backend_connecting", "backend_login", "fail_delay")


def drop(sock, how):
    if how == "rst":
        rst_close(sock)
    else:
        sock.close()


def settle(p, evil):
    """Only the bystander left, and no connection to the fake back end."""
    assert wait_for(lambda: evil.open == 0), evil.open
    assert wait_for(lambda: server_stats(p)["connections"]["active"]
                    == 1), sessions(p)


def test_disconnect_at_every_step(make_proxy, dovecot, fault_backends, user,
                                  user2):
    p = disconnect_proxy(make_proxy, dovecot, fault_backends)
    evil = fault_backends[1]
    warm_up(p)
    by = Bystander(p, user)
    steps = Steps(p, evil, user2)

    def one_round(record):
        for name in Steps.FRONT:
            for how in ("fin", "rst"):
                s = getattr(steps, name)()
                addr = addr_of(s)
                t0 = time.monotonic()
                drop(s, how)
                gone = wait_for(lambda: addr not in clients_of(p),
                                timeout=GONE_WITHIN)
                assert gone, (name, how, clients_of(p).get(addr))
                if record is not None:
                    record.append((name, how, time.monotonic() - t0))

    one_round(None)                 # warm-up: lazy allocations
    settle(p, evil)
    time.sleep(0.3)
    fds0 = nfds(p)
    rss = RssSampler(p)
    timings = []
    one_round(timings)
    by.check()
    settle(p, evil)
    assert wait_for(lambda: nfds(p) == fds0, timeout=5), \
        (fds0, nfds(p), os.listdir("/proc/%d/fd" % p.pid))
    assert p.alive()
    slowest = max(timings, key=lambda x: x[2])
    rss.finish("disconnects", rss.base + SLACK_KIB, steps=len(timings),
               fds=fds0, slowest="%s/%s/%.2fs" % slowest)
    by.finish()
    fresh_login(p, user2)


def test_disconnect_while_the_proxy_waits(make_proxy, dovecot,
                                          fault_backends, user, user2):
    """A client that leaves while its back end is connecting (a back end
    that never greets), logging it in (one that never answers), or while
    its failed login is held for auth_fail_delay: the session and its
    back-end connection go at once, not at connect_timeout (30 s here),
    login_timeout (60 s) or after the delay (3 s, doubling)."""
    p = disconnect_proxy(make_proxy, dovecot, fault_backends)
    evil = fault_backends[1]
    warm_up(p)
    by = Bystander(p, user)
    settle(p, evil)
    fds0 = nfds(p)
    rss = RssSampler(p)
    steps = Steps(p, evil, user2)
    dropped = []
    for name in Steps.BUSY:
        for how in ("fin", "rst"):
            s = getattr(steps, name)()
            dropped.append((name, how, addr_of(s)))
            drop(s, how)
    by.check()
    wait_for(lambda: not any(a in clients_of(p) for _n, _h, a in dropped),
             timeout=GONE_WITHIN)
    left = clients_of(p)
    lingering = [(n, h, left[a]["state"]) for n, h, a in dropped if a in left]
    assert lingering == [], "still there %.0f s after the client left: %r" \
        % (GONE_WITHIN, lingering)
    settle(p, evil)
    assert wait_for(lambda: nfds(p) == fds0, timeout=5), (fds0, nfds(p))
    rss.finish("disconnects-backend", rss.base + SLACK_KIB)
    by.finish()
    fresh_login(p, user2)


# ---------------------------------------------------------------------------
# 9. AUTHENTICATE with a continuation never answered

def test_authenticate_continuation_never_answered(make_proxy, user, user2):
    p, by, rss = start(make_proxy, user,
                       server={"login_timeout": "%ds" % LOGIN_TIMEOUT})
    a = Attacker(p)
    drips = []
    try:
        def attacker(listener, kind, script):
            c = a.client(listener)
            t0 = time.monotonic() - 0.05   # the accept came before greeting
            for send, expect in script:
                c.send(send)
                if expect is not None:
                    line = c.readline()
                    assert line.startswith(expect), (kind, line)
            assert c.buf == b""
            drips.append(Drip(kind, c.sock, t0=t0))

        plain = [(b"a AUTHENTICATE PLAIN\r\n", b"+ ")]
        for _ in range(2):
            attacker("plain", "plain", plain)
        attacker("tls", "plain-tls", plain)
        attacker("plain", "login-user",
                 [(b"a AUTHENTICATE LOGIN\r\n", b"+ VXNlcm5hbWU6")])
        attacker("tls", "login-pass",
                 [(b"a AUTHENTICATE LOGIN\r\n", b"+ VXNlcm5hbWU6"),
                  (b64("someone").encode() + b"\r\n", b"+ UGFzc3dvcmQ6")])
        attacker("plain", "half-line",
                 [(b"a AUTHENTICATE PLAIN\r\n", b"+ "), (b"AGFi", None)])
        attacker("plain", "literal", [(b"a LOGIN {5}\r\n", b"+ ")])
        attacker("starttls", "plain-starttls",
                 [(b"a NOOP\r\n", b"a OK"),
                  (b"a AUTHENTICATE PLAIN\r\n", b"+ ")])
        midway = {}

        def on_tick(n):
            if n != 2:
                return
            midway["open"] = sum(d.open for d in drips)
            states = [s["state"] for s in sessions(p)]
            midway["sasl"] = states.count("sasl")
            by.check()
            c = p.client("plain", src="127.0.0.13")
            c.send("x AUTHENTICATE PLAIN\r\n")
            assert c.readline().startswith(b"+")
            c.send(b64("\0%s\0%s" % user2) + "\r\n")
            _u, t = c.read_response("x")
            assert t.startswith("x OK"), t
            c.close()

        drive(drips, time.monotonic() + LOGIN_TIMEOUT + TIMEOUT_LATE + 1,
              on_tick=on_tick)
        assert midway.get("open") == len(drips), midway
        assert midway["sasl"] == len(drips) - 1, midway  # all but literal
        for d in drips:
            life = d.lifetime()
            assert life is not None, "%s never closed" % d.kind
            assert LOGIN_TIMEOUT - TIMEOUT_EARLY <= life <= \
                LOGIN_TIMEOUT + TIMEOUT_LATE, (d.kind, life)
            assert d.data == b"* BYE Login timeout\r\n", (d.kind, d.data)
        assert p.alive()
        rss.finish("authenticate-timeout", rss.base + len(drips) *
                   (PREAUTH_KIB + TLS_KIB) + SLACK_KIB, attackers=len(drips))
        by.finish()
        fresh_login(p, user2)
    finally:
        for d in drips:
            d.close()
