"""Fixtures for the imapproxy system tests.

A session-wide throwaway Dovecot (tests/system/dovecot.py) is the back
end; each test that needs the proxy starts its own build/imapproxyd
($IMAPPROXY_BUILD/imapproxyd when set, as make check-asan does) on
free loopback ports with a configuration written into tmp_path, and stops
it at teardown (SIGTERM, then SIGKILL, which fails the test).

Helpers used by the test modules (RawClient, Proxy, FakeBackend, ...)
live here too; the tests import them with `from conftest import ...`.
"""

import base64
import hashlib
import imaplib
import json
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

import certs
import dovecot as dv

REPO = Path(__file__).resolve().parents[2]
# The build under test: build/ unless IMAPPROXY_BUILD names another
# folder (relative to the repository), as `make check-asan` does.
BUILD = REPO / os.environ.get("IMAPPROXY_BUILD", "build")
DAEMON = BUILD / "imapproxyd"
CTL = BUILD / "imapproxyctl"


def _sanitized():
    """True when the daemon under test is built with ASan/UBSan."""
    try:
        with open(DAEMON, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


SANITIZED = _sanitized()
# What sanitizers print when they find something (ASan, LSan, UBSan).
SANITIZER_REPORTS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:")
# Time bounds that only measure slowness scale by this factor under
# the sanitizers; bounds that are the behaviour under test do not.
SLOW = 3 if SANITIZED else 1
# Under ASan the daemon's RSS also holds the sanitizer's own memory:
# freed blocks wait in its quarantine (256 MiB by default), every block
# has redzones, the shadow grows with the heap.  Bounds on RSS allow
# this much more there (LeakSanitizer checks for leaks instead).
SANITIZER_RSS_KIB = 320 * 1024 if SANITIZED else 0
HOST = "127.0.0.1"
TIMEOUT = 10.0                  # default socket timeout, seconds
TEST_TIME_LIMIT = 90 * SLOW     # per test, seconds (SIGALRM)

# A password distinctive enough to grep logs for.
SECRET_PW = "Zebra-Quokka-7c1f-Secret"
USER_POOL = 400
# A user whose password needs quoting: space, quote, backslash, braces.
SPECIAL_USER = "special.user"
SPECIAL_PW = 'Sp "q\\ {1}x%*'
# Users the access-control tests name in their rules (tests/system/
# test_acl*.py): real Dovecot accounts, so that a login the proxy should
# have refused would succeed if it reached the back end.
ACL_USERS = dict((u, "acl-pw-%d-Qm4z" % i) for i, u in enumerate((
    "svc-loader", "alice", "bob", "bob@example.org", "carol@partner.test",
    "mallory", "trent", "acl-marker")))


# ---------------------------------------------------------------------
# time limit per test

class TestTimeLimit(Exception):
    pass


@pytest.fixture(autouse=True)
def _time_limit():
    def on_alarm(signum, frame):
        raise TestTimeLimit("test exceeded %d s" % TEST_TIME_LIMIT)
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TEST_TIME_LIMIT)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


# ---------------------------------------------------------------------
# TLS helpers

def client_ctx(cafile=None):
    """A client TLS context: verifying against CAFILE, or not at all."""
    if cafile:
        ctx = ssl.create_default_context(cafile=str(cafile))
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def cert_der(path):
    """DER bytes of the first certificate in a PEM file."""
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


# ---------------------------------------------------------------------
# a line-oriented IMAP client for wire-level tests

class RawClient:
    """A socket speaking IMAP line by line, with a receive buffer.

    Every read has a timeout: socket.timeout when nothing arrives in
    time, EOFError when the peer closed.
    """

    def __init__(self, host, port, tls=False, server_hostname=None,
                 src=None, timeout=TIMEOUT, ctx=None, greet=True):
        self.timeout = timeout
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(src, 0) if src else None)
        self.buf = b""
        self.greeting = None
        self.last_untagged = None
        if tls:
            self.sock = (ctx or client_ctx()).wrap_socket(
                self.sock, server_hostname=server_hostname)
        if greet:
            self.greeting = self.readline().decode()

    # -- low level

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed by peer; unread %r"
                           % self.buf[:200])
        self.buf += chunk

    def readline(self, timeout=None):
        """One line without its CRLF."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no line within %.1fs; have %r"
                                     % (timeout or self.timeout,
                                        self.buf[:200]))
            self._fill(left)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def readexact(self, n, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("short read")
            self._fill(left)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_response(self, tag, timeout=None):
        """Lines up to and including the tagged one: (untagged, tagged).

        Literals in untagged data are folded into their line.
        """
        untagged = []
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            left = max(0.01, deadline - time.monotonic())
            line = self.readline(left).decode("utf-8", "replace")
            m = re.search(r"\{(\d+)\}$", line)
            while m:
                lit = self.readexact(int(m.group(1)), left)
                line += "\r\n" + lit.decode("utf-8", "replace")
                more = self.readline(left).decode("utf-8", "replace")
                line += more
                m = re.search(r"\{(\d+)\}$", more)
            if line.startswith(tag + " "):
                self.last_untagged = untagged
                return untagged, line
            untagged.append(line)

    _tagn = 0

    def cmd(self, text, tag=None, timeout=None):
        """Send `TAG TEXT` and return (untagged, tagged line)."""
        if tag is None:
            RawClient._tagn += 1
            tag = "t%d" % RawClient._tagn
        self.send("%s %s\r\n" % (tag, text))
        return self.read_response(tag, timeout)

    def capabilities(self):
        untagged, tagged = self.cmd("CAPABILITY")
        assert tagged.split()[1] == "OK", tagged
        caps = [l for l in untagged if l.upper().startswith("* CAPABILITY ")]
        assert len(caps) == 1, untagged
        return set(caps[0].split()[2:])

    def starttls(self, ctx=None, server_hostname=None):
        """STARTTLS and handshake; returns the tagged answer."""
        untagged, tagged = self.cmd("STARTTLS", tag="stls")
        assert tagged.startswith("stls OK"), (untagged, tagged)
        assert self.buf == b"", "data after STARTTLS OK: %r" % self.buf
        self.sock.settimeout(self.timeout)
        self.sock = (ctx or client_ctx()).wrap_socket(
            self.sock, server_hostname=server_hostname)
        return tagged

    def read_until_eof(self, timeout=None):
        """Every line the server still sends, until it closes.

        Raises socket.timeout when it does not close within TIMEOUT.
        """
        lines = []
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("connection still open; got %r"
                                     % lines)
            try:
                lines.append(self.readline(left).decode("utf-8",
                                                         "replace"))
            except EOFError:
                if self.buf:
                    lines.append(self.buf.decode("utf-8", "replace"))
                    self.buf = b""
                return lines
            except (ConnectionResetError, ssl.SSLError):
                return lines

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def caps_of(line):
    """The capability list of a greeting or `[CAPABILITY ...]` line."""
    m = re.search(r"\[CAPABILITY ([^\]]*)\]", line, re.I)
    assert m, "no [CAPABILITY ...] in %r" % line
    return set(m.group(1).split())


def b64(s):
    if isinstance(s, str):
        s = s.encode()
    return base64.b64encode(s).decode()


def imap_quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---------------------------------------------------------------------
# the proxy

def daemon_path():
    if not DAEMON.exists():
        pytest.fail("%s not built (run make)" % DAEMON)
    return str(DAEMON)


DEFAULT_LISTENERS = (("starttls", HOST, "starttls"),
                     ("tls", HOST, "tls"),
                     ("plain", HOST, ""))


class Proxy:
    """One imapproxyd process with its configuration in DIRECTORY."""

    def __init__(self, directory, backends, listeners=DEFAULT_LISTENERS,
                 server=None, global_=None, certs_=None, extra=""):
        """BACKENDS: {name: {key: value}} (first is the default back
        end); LISTENERS: (name, host, flags) triples, each gets a free
        port; SERVER/GLOBAL_: extra keys; CERTS_: [(cert, key)]."""
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf = self.dir / "imapproxy.conf"
        self.log = self.dir / "proxy.log"
        self.stats_socket = self.dir / "stats.sock"
        self.stderr_path = self.dir / "proxy.stderr"
        self.backends = backends
        self.listeners = listeners
        self.server = dict(server or {})
        self.global_ = dict(global_ or {})
        self.certs = list(certs_ or [])
        self.extra = extra
        self.ports = {}
        self.hosts = {}
        self.proc = None
        self.returncode = None
        self.shutdown_timeout = 5
        self.stop_signal = None     # what stop() sent, unless it killed

    def config_text(self):
        g = {"workers": "2", "log": str(self.log), "log_level": "debug",
             "shutdown_timeout": "%ds" % self.shutdown_timeout,
             "stats_socket": str(self.stats_socket)}
        g.update(self.global_)
        if g.get("stats_socket"):
            self.stats_socket = Path(g["stats_socket"])
        lines = ["[global]"] + ["%s = %s" % kv for kv in g.items()]
        lines += ["", "[server default]"]
        parts = []
        for name, host, flags in self.listeners:
            h = "[%s]" % host if ":" in host else host
            parts.append(("%s:%d %s" % (h, self.ports[name], flags)).strip())
        lines.append("listen = " + ", ".join(parts))
        for cert, key in self.certs:
            lines.append("tls_cert = %s %s" % (cert, key))
        # Limits off unless a test sets them: the suite logs in many
        # times, and fails on purpose, from one address.
        s = {"require_tls": "no", "login_timeout": "60s",
             "idle_timeout": "30m", "greeting": "IMAP proxy ready",
             "max_connections_per_ip": "0", "max_connections_per_user": "0",
             "auth_fail_limit": "0", "auth_fail_delay": "0"}
        s.update(self.server)
        lines += ["%s = %s" % kv for kv in s.items() if kv[1] is not None]
        for name, keys in self.backends.items():
            lines += ["", "[backend %s]" % name]
            lines += ["%s = %s" % kv for kv in keys.items()]
        lines.append(self.extra)
        return "\n".join(lines) + "\n"

    def write_config(self):
        used = set()
        for name, host, _flags in self.listeners:
            self.hosts[name] = host
            # The kernel may hand out a port just released again.
            port = dv.free_port(host)
            while port in used:
                port = dv.free_port(host)
            used.add(port)
            self.ports[name] = port
        self.conf.write_text(self.config_text())

    def start(self, timeout=10.0):
        for attempt in range(3):
            self.write_config()
            err = open(self.stderr_path, "ab")
            self.proc = subprocess.Popen(
                [daemon_path(), "-f", "-c", str(self.conf)],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                cwd=str(self.dir))
            err.close()
            try:
                self._wait_ready(timeout)
                return self
            except RuntimeError:
                if self.proc.poll() == 2 and attempt < 2:
                    continue        # lost a race for a port: retry
                raise

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        for name, host, flags in self.listeners:
            while True:
                rc = self.proc.poll()
                if rc is not None:
                    raise RuntimeError(
                        "imapproxyd exited with %d before greeting\n%s"
                        % (rc, self.diagnostics()))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError("imapproxyd did not greet on %s\n%s"
                                       % (name, self.diagnostics()))
                try:
                    c = RawClient(host, self.ports[name],
                                  tls=("tls" in flags.split()),
                                  timeout=min(2, left))
                    c.close()
                    if c.greeting.startswith("* OK"):
                        break
                    # A BYE: the previous probe still counts against a
                    # per-address limit; try again.
                    time.sleep(0.05)
                except (OSError, EOFError, socket.timeout):
                    time.sleep(0.05)

    def diagnostics(self):
        out = []
        for p in (self.stderr_path, self.log):
            try:
                out.append("== %s ==\n%s" % (p.name, p.read_text(
                    errors="replace")[-4000:]))
            except OSError:
                pass
        return "\n".join(out)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def client(self, listener="plain", **kw):
        """A RawClient on LISTENER, greeting read (TLS for tls ones)."""
        flags = dict((n, f) for n, _h, f in self.listeners)[listener]
        kw.setdefault("tls", "tls" in flags.split())
        return RawClient(self.hosts[listener], self.ports[listener], **kw)

    def imap(self, listener="plain", ssl_context=None):
        """An imaplib connection to LISTENER (not logged in)."""
        flags = dict((n, f) for n, _h, f in self.listeners)[listener]
        host, port = self.hosts[listener], self.ports[listener]
        if "tls" in flags.split():
            return imaplib.IMAP4_SSL(host, port,
                                     ssl_context=ssl_context or client_ctx(),
                                     timeout=30)
        return imaplib.IMAP4(host, port, timeout=30)

    def ctl(self, *args, timeout=30):
        """Runs imapproxyctl -s STATS_SOCKET ARGS; the CompletedProcess."""
        return subprocess.run([str(CTL), "-s", str(self.stats_socket),
                               *args], capture_output=True, text=True,
                              timeout=timeout)

    def ask(self, command, timeout=30):
        """The stats socket's raw answer to COMMAND, as text."""
        with socket.socket(socket.AF_UNIX) as c:
            c.settimeout(timeout)
            c.connect(str(self.stats_socket))
            c.sendall(command.encode() + b"\n")
            out = b""
            while True:
                b = c.recv(65536)
                if not b:
                    return out.decode("utf-8")
                out += b

    def ask_json(self, command, timeout=30):
        return json.loads(self.ask(command, timeout=timeout))

    def rss_kib(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def log_text(self):
        text = ""
        for p in (self.log, self.stderr_path):
            try:
                text += p.read_text(errors="replace")
            except OSError:
                pass
        return text

    def stop(self, sig=signal.SIGTERM, timeout=None):
        """Signal the daemon and wait; returns its exit status.

        Raises AssertionError when it had to be killed."""
        if self.proc is None or self.returncode is not None:
            return self.returncode
        if timeout is None:
            timeout = self.shutdown_timeout + 3
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.stop_signal = sig
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.stop_signal = None
                self.proc.kill()
                self.proc.wait(timeout=10)
                self.returncode = self.proc.returncode
                raise AssertionError(
                    "imapproxyd did not exit within %ss of signal %d"
                    % (timeout, sig))
        self.returncode = self.proc.returncode
        return self.returncode

    def sanitizer_problems(self):
        """Under the sanitizers, why this run was not clean: a report
        on stderr, or an exit status other than 0 after stop() sent
        SIGTERM or SIGINT (LeakSanitizer turns a leak at exit into
        status 66).  [] when clean."""
        try:
            err = self.stderr_path.read_text(errors="replace")
        except OSError:
            err = ""
        found = [m for m in SANITIZER_REPORTS if m in err]
        if found:
            start = max(0, min(err.find(m) for m in found) - 200)
            text = err[start:]
            if len(text) > 12000:
                text = text[:8000] + "\n[...]\n" + text[-4000:]
            return ["imapproxyd (%s): sanitizer report (%s):\n%s"
                    % (self.dir.name, ", ".join(found), text)]
        if (self.stop_signal in (signal.SIGTERM, signal.SIGINT)
                and self.returncode != 0):
            return ["imapproxyd (%s) exited %s after signal %d; stderr "
                    "tail:\n%s" % (self.dir.name, self.returncode,
                                   self.stop_signal, err[-4000:])]
        return []


# ---------------------------------------------------------------------
# fake back ends

class FakeBackend:
    """A scripted IMAP back end on a free loopback port.

    mode: "ok" (greets, accepts LOGIN/AUTHENTICATE of any user whose
    password is "good"), "silent" (accepts TCP, never writes), "close"
    (closes at once), "bye" (greets with * BYE), "garbage".
    drop_after_login: close the connection at the first command after a
    successful login.  BIG answers with 16 MiB of untagged lines, written
    whatever the client does meanwhile; SLOW answers after 1.5 s.  Every
    line received is kept in .received.
    """

    def __init__(self, mode="ok", drop_after_login=False):
        self.mode = mode
        self.drop_after_login = drop_after_login
        self.received = []
        self.connections = 0
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.address = "%s:%d" % (HOST, self.port)
        self.stopping = False
        self.conns = []
        if mode != "silent":
            self.thread = threading.Thread(target=self._accept, daemon=True)
            self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,),
                             daemon=True).start()

    def _serve(self, c):
        c.settimeout(30)
        f = c.makefile("rb")
        try:
            if self.mode == "close":
                c.close()
                return
            if self.mode == "bye":
                c.sendall(b"* BYE go away\r\n")
                time.sleep(0.5)
                c.close()
                return
            if self.mode == "garbage":
                c.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
                time.sleep(0.5)
                c.close()
                return
            c.sendall(b"* OK [CAPABILITY IMAP4rev1 SASL-IR ID "
                      b"AUTH=PLAIN AUTH=LOGIN] fake ready\r\n")
            logged_in = False
            while True:
                line = f.readline()
                if not line:
                    return
                m = re.search(rb"\{(\d+)(\+?)\}\r\n$", line)
                while m:
                    if not m.group(2):
                        c.sendall(b"+ go ahead\r\n")
                    line += f.read(int(m.group(1)))
                    more = f.readline()
                    line += more
                    m = re.search(rb"\{(\d+)(\+?)\}\r\n$", more)
                with self.lock:
                    self.received.append(line)
                parts = line.rstrip(b"\r\n").split(b" ", 2)
                tag = parts[0]
                cmd = parts[1].upper() if len(parts) > 1 else b""
                if logged_in and self.drop_after_login:
                    c.close()
                    return
                if cmd == b"CAPABILITY":
                    c.sendall(b"* CAPABILITY IMAP4rev1 SASL-IR ID "
                              b"AUTH=PLAIN\r\n" + tag + b" OK done\r\n")
                elif cmd == b"ID":
                    c.sendall(b"* ID NIL\r\n" + tag + b" OK done\r\n")
                elif cmd == b"STARTTLS":
                    c.sendall(tag + b" BAD TLS support isn't enabled.\r\n")
                elif cmd == b"NOOP":
                    c.sendall(tag + b" OK noop\r\n")
                elif cmd == b"SLOW":
                    time.sleep(1.5)
                    c.sendall(tag + b" OK slow\r\n")
                elif cmd == b"BIG":
                    line = b"* " + b"x" * 1022 + b"\r\n"
                    c.sendall(line * (16 * 1024) + tag + b" OK big\r\n")
                elif cmd == b"LOGOUT":
                    c.sendall(b"* BYE bye\r\n" + tag + b" OK bye\r\n")
                    c.close()
                    return
                elif cmd == b"LOGIN":
                    if b"good" in line:
                        logged_in = True
                        c.sendall(tag + b" OK [CAPABILITY IMAP4rev1 "
                                  b"FAKE-CAP] Logged in\r\n")
                    else:
                        c.sendall(tag + b" NO [AUTHENTICATIONFAILED] "
                                  b"Authentication failed.\r\n")
                elif cmd == b"AUTHENTICATE":
                    args = line.rstrip(b"\r\n").split(b" ")
                    if len(args) > 3:
                        resp = args[3]
                    else:
                        c.sendall(b"+ \r\n")
                        resp = f.readline().rstrip(b"\r\n")
                        with self.lock:
                            self.received.append(resp)
                    try:
                        ok = b"\0good" in base64.b64decode(resp)
                    except ValueError:
                        ok = False
                    if ok:
                        logged_in = True
                        c.sendall(tag + b" OK [CAPABILITY IMAP4rev1 "
                                  b"FAKE-CAP] Logged in\r\n")
                    else:
                        c.sendall(tag + b" NO [AUTHENTICATIONFAILED] "
                                  b"Authentication failed.\r\n")
                else:
                    c.sendall(tag + b" OK fake " + cmd + b"\r\n")
        except OSError:
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass

    def received_text(self):
        with self.lock:
            return b"".join(self.received)

    def saw(self, word):
        """True when WORD (bytes) reached us, in clear or inside a
        base64 SASL token."""
        text = self.received_text()
        if word in text:
            return True
        for tok in re.split(rb"\s+", text):
            try:
                if word in base64.b64decode(tok, validate=True):
                    return True
            except ValueError:
                continue
        return False

    def close(self):
        self.stopping = True
        self.sock.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.close()
                except OSError:
                    pass


# ---------------------------------------------------------------------
# fixtures

@pytest.fixture(scope="session")
def dovecot():
    """The session's Dovecot: plain and imaps on free loopback ports."""
    users = {"proxytest": SECRET_PW, SPECIAL_USER: SPECIAL_PW}
    # Dovecot notices passwd-file changes only once a second, so every
    # user the tests need exists from the start.
    for i in range(1, USER_POOL + 1):
        users["user%d" % i] = "pw-%d-Kx93vQ" % i
    users.update(ACL_USERS)
    d = dv.Dovecot(users=users)
    d.start()
    yield d
    d.stop()


def route_users(names):
    """{name: password} for NAMES: the password is derived from the
    name, so every store of a routing test knows the same accounts."""
    return dict((n, "pw-%s-R7t" % n) for n in names)


@pytest.fixture
def dovecots():
    """dovecots(n, users=None, tls=False, cert=None, names=None) -> list

    N more Dovecot instances (the stores of the routing tests), each
    independent of the session's and of the others: its own folder,
    ports, log, passwd-file and maildirs, all with the same USERS
    ({name: password}; pass every user here: a running Dovecot rereads
    its passwd-file at most once a second).  Named NAMES (default
    store1..storeN; the name is what `ID` answers after login, see
    dovecot.Dovecot's NAME), with a self-signed imaps certificate or
    CERT when TLS.  Their processes serve many logins each (see
    REUSE_PROCESSES there), so hundreds of logins take seconds.  A test
    may halt() and restart() one (same ports); every instance is
    stopped at teardown."""
    started = []

    def make(n, users=None, tls=False, cert=None, names=None):
        names = list(names or ["store%d" % (i + 1) for i in range(n)])
        assert len(names) == n, names
        out = []
        for name in names:
            d = dv.Dovecot(users=users or {}, tls=tls, cert=cert,
                           name=name, reuse_processes=True)
            started.append(d)
            d.start()
            out.append(d)
        return out

    yield make
    for d in started:
        d.stop()


_user_seq = [0]


@pytest.fixture
def user(dovecot):
    """A fresh mailbox owner: (name, password), empty INBOX."""
    _user_seq[0] += 1
    assert _user_seq[0] <= USER_POOL, "raise USER_POOL"
    name = "user%d" % _user_seq[0]
    return name, dovecot.users[name]


@pytest.fixture
def user2(user, dovecot):
    """A second fresh mailbox owner."""
    _user_seq[0] += 1
    name = "user%d" % _user_seq[0]
    return name, dovecot.users[name]


@pytest.fixture
def new_user(dovecot):
    """new_user() -> (name, password): one more fresh mailbox owner per
    call, from the same pool as `user`, for tests that compare several
    runs each on a mailbox of its own."""
    def make():
        _user_seq[0] += 1
        assert _user_seq[0] <= USER_POOL, "raise USER_POOL"
        name = "user%d" % _user_seq[0]
        return name, dovecot.users[name]
    return make


# ---------------------------------------------------------------------
# the client matrix (tests/system/test_clients.py): which real client,
# which Debian package version, what was tested over which transport;
# printed as a Markdown table at the end of the run, with each test's
# outcome.

CLIENT_MATRIX = []


def deb_version(package):
    """PACKAGE's installed Debian version, or "not installed"."""
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package],
                       capture_output=True, text=True, timeout=10)
    return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() \
        else "not installed"


@pytest.fixture
def matrix(request):
    """matrix(client, package, what, transport) -> row: a row of the
    client matrix for this test (PACKAGE: the Debian package to take
    the version from); the test may add to row["what"]."""
    def add(client, package, what, transport):
        row = {"nodeid": request.node.nodeid, "client": client,
               "version": deb_version(package), "what": what,
               "transport": transport}
        CLIENT_MATRIX.append(row)
        return row
    return add


def pytest_terminal_summary(terminalreporter):
    if not CLIENT_MATRIX:
        return
    outcome = {}
    for key in ("passed", "failed", "error", "skipped", "xfailed"):
        for rep in terminalreporter.stats.get(key, []):
            nodeid = getattr(rep, "nodeid", None)
            if nodeid is None:
                continue
            # a failure at setup or teardown is the test's result
            if key != "passed" or nodeid not in outcome:
                outcome[nodeid] = key
    tw = terminalreporter
    tw.section("client matrix")
    tw.line("| client | Debian package version | tested | transport "
            "| result |")
    tw.line("|---|---|---|---|---|")
    for row in CLIENT_MATRIX:
        tw.line("| %s | %s | %s | %s | %s |" % (
            row["client"], row["version"], row["what"], row["transport"],
            outcome.get(row["nodeid"], "not run")))


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """Certificates: the proxy's two (SNI), and an unrelated one."""
    d = str(tmp_path_factory.mktemp("pki"))
    org = certs.make_cert(d, "mail.example.org",
                          ["mail.example.org", "localhost", "127.0.0.1"],
                          key_type="ec")
    net = certs.make_cert(d, "wild.example.net", ["*.example.net"],
                          key_type="rsa")
    other = certs.make_cert(d, "unrelated.test", ["unrelated.test"])
    return {"org": org, "net": net, "other": other}


def store_backend(dovecot, **over):
    """The [backend store] keys pointing at the session Dovecot."""
    b = {"address": "%s:%d" % (dovecot.host, dovecot.port), "tls": "no",
         "connect_timeout": "5s"}
    b.update(over)
    return b


@pytest.fixture
def make_proxy(tmp_path, dovecot, pki):
    """make_proxy(backends=None, server=None, global_=None, ...) -> Proxy

    Starts imapproxyd in front of the session Dovecot (or BACKENDS),
    with both proxy certificates; stops every proxy at teardown.  Under
    the sanitizers, a sanitizer report on a proxy's stderr, or a
    status other than 0 after a SIGTERM or SIGINT from stop(), fails
    the test."""
    started = []
    seq = [0]

    def make(backends=None, listeners=DEFAULT_LISTENERS, server=None,
             global_=None, certs_=None, start=True, shutdown_timeout=5,
             extra=""):
        seq[0] += 1
        p = Proxy(tmp_path / ("proxy%d" % seq[0]),
                  backends or {"store": store_backend(dovecot)},
                  listeners=listeners, server=server, global_=global_,
                  certs_=certs_ if certs_ is not None
                  else [pki["org"], pki["net"]], extra=extra)
        p.shutdown_timeout = shutdown_timeout
        started.append(p)
        if start:
            p.start()
        return p

    yield make
    problems = []
    for p in started:
        if p.proc is None:
            continue
        if p.returncode is None and p.proc.poll() is not None:
            problems.append("imapproxyd died during the test with status "
                            "%d\n%s" % (p.proc.returncode, p.diagnostics()))
            if SANITIZED:
                problems += p.sanitizer_problems()
            continue
        try:
            p.stop()
        except AssertionError as e:
            problems.append(str(e))
        if SANITIZED:
            problems += p.sanitizer_problems()
    if problems:
        pytest.fail("\n".join(problems))


@pytest.fixture
def proxy(make_proxy):
    """A proxy with the default listeners in front of Dovecot."""
    return make_proxy()


def wait_for(pred, timeout=5.0):
    """Polls PRED() every 50 ms until it returns something true; returns
    that, or PRED()'s last answer once TIMEOUT seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return pred()


def login_ok(client, user, pw, tag="L"):
    """LOGIN with quoted strings; asserts and returns the tagged OK."""
    _u, tagged = client.cmd("LOGIN %s %s" % (imap_quote(user),
                                             imap_quote(pw)), tag=tag)
    assert tagged.startswith(tag + " OK"), tagged
    return tagged


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------
# DNS for the access-control tests: a real dnsmasq, and a mute server

DNSMASQ = "/usr/sbin/dnsmasq"

# The loopback clients the `domain` tests connect from, and their names.
DNS_GOOD = ("127.0.0.21", "good.corp.test")        # PTR and A agree
DNS_SPOOF = ("127.0.0.22", "spoof.corp.test")      # A is 127.0.0.99
DNS_DIALUP = ("127.0.0.23", "dial1.dialup.example.test")
DNS_NOPTR = "127.0.0.24"                           # no PTR at all
DNS_BARE = ("127.0.0.25", "dialup.example.test")   # the bare suffix
DNS_V6 = ("::1", "six.corp.test")                  # ip6.arpa


def free_udp_port(host=HOST):
    """A UDP port nobody is bound to right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def dns_query(server, port, name, qtype, timeout=2.0):
    """One query over UDP: (rcode, [(type, value, ttl)]).

    QTYPE is "A", "AAAA" or "PTR"; a hand-made packet, so the check
    does not depend on the system resolver or on dig."""
    qt = {"A": 1, "PTR": 12, "AAAA": 28}[qtype]
    qid = int.from_bytes(os.urandom(2), "big")
    pkt = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        pkt += bytes([len(label)]) + label.encode()
    pkt += b"\0" + struct.pack(">HH", qt, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(pkt, (server, port))
        data, _ = s.recvfrom(4096)
    rid, flags, qdcount, ancount, _ns, _ar = struct.unpack(">HHHHHH",
                                                           data[:12])
    assert rid == qid, "answer to another query"

    def read_name(off):
        labels = []
        while True:
            n = data[off]
            if n & 0xC0 == 0xC0:
                ptr = struct.unpack(">H", data[off:off + 2])[0] & 0x3FFF
                rest = read_name(ptr)[0]
                return ".".join(labels + ([rest] if rest else [])), off + 2
            off += 1
            if n == 0:
                return ".".join(labels), off
            labels.append(data[off:off + n].decode())
            off += n

    off = 12
    for _ in range(qdcount):
        off = read_name(off)[1] + 4
    answers = []
    for _ in range(ancount):
        off = read_name(off)[1]
        rtype, _cls, ttl, rdlen = struct.unpack(">HHIH", data[off:off + 10])
        off += 10
        rdata = data[off:off + rdlen]
        if rtype == 1:
            answers.append(("A", socket.inet_ntop(socket.AF_INET, rdata),
                            ttl))
        elif rtype == 28:
            answers.append(("AAAA", socket.inet_ntop(socket.AF_INET6,
                                                     rdata), ttl))
        elif rtype == 12:
            answers.append(("PTR", read_name(off)[0], ttl))
        off += rdlen
    return flags & 0xF, answers


def reverse_name(addr):
    """The in-addr.arpa or ip6.arpa name of ADDR."""
    if ":" in addr:
        packed = socket.inet_pton(socket.AF_INET6, addr).hex()
        return ".".join(reversed(packed)) + ".ip6.arpa"
    return ".".join(reversed(addr.split("."))) + ".in-addr.arpa"


class Dnsmasq:
    """dnsmasq on 127.0.0.1:PORT (UDP and TCP) answering only from its
    own records: nothing upstream, no /etc/hosts; names under .test and
    reverse names under 127/8 and ip6.arpa that it does not know are
    NXDOMAIN."""

    def __init__(self, directory, records, ttl=60):
        """RECORDS: command-line options (--host-record=..., ...)."""
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.records = list(records)
        self.ttl = ttl
        self.host = HOST
        self.port = None
        self.proc = None
        self.log = self.dir / "dnsmasq.log"

    @property
    def address(self):
        return "%s:%d" % (self.host, self.port)

    def start(self, timeout=5.0):
        for _attempt in range(3):
            self.port = free_udp_port(self.host)
            args = [DNSMASQ, "-k", "--conf-file=/dev/null", "--no-resolv",
                    "--no-hosts", "--bind-interfaces",
                    "--listen-address=%s" % self.host,
                    "--port=%d" % self.port,
                    "--pid-file=%s" % (self.dir / "dnsmasq.pid"),
                    "--local-ttl=%d" % self.ttl,
                    "--local=/test/", "--local=/127.in-addr.arpa/",
                    "--local=/ip6.arpa/",
                    "--log-queries", "--log-facility=%s" % self.log]
            if os.geteuid() == 0:
                args += ["--user=root", "--group=root"]
            args += self.records
            err = open(self.dir / "dnsmasq.stderr", "ab")
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                         stdout=err, stderr=err)
            err.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    dns_query(self.host, self.port, "probe.test", "A",
                              timeout=0.2)
                    return self
                except (socket.timeout, ConnectionRefusedError):
                    time.sleep(0.05)
            self.stop()
            text = (self.dir / "dnsmasq.stderr").read_text(errors="replace")
            if "in use" not in text:
                raise RuntimeError("dnsmasq did not start:\n" + text)
        raise RuntimeError("dnsmasq: no free port after 3 attempts")

    def query(self, name, qtype):
        return dns_query(self.host, self.port, name, qtype)

    def queries_for(self, name):
        """dnsmasq's log lines about NAME (queries and answers)."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return []
        return [l for l in text.splitlines() if " %s " % name in l]

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None


@pytest.fixture(scope="session")
def dnsmasq(tmp_path_factory):
    """A dnsmasq serving the DNS_* names above (TTL 60 s):
    good.corp.test <-> 127.0.0.21 (forward-confirmed); 127.0.0.22 has
    PTR spoof.corp.test, whose A record is 127.0.0.99 (not confirmed);
    dial1.dialup.example.test <-> 127.0.0.23; 127.0.0.24 has no PTR;
    dialup.example.test <-> 127.0.0.25; six.corp.test <-> ::1."""
    if not os.access(DNSMASQ, os.X_OK):
        pytest.skip("%s not installed" % DNSMASQ)
    d = Dnsmasq(tmp_path_factory.mktemp("dnsmasq"), [
        "--host-record=%s,%s" % (DNS_GOOD[1], DNS_GOOD[0]),
        "--ptr-record=%s,%s" % (reverse_name(DNS_SPOOF[0]), DNS_SPOOF[1]),
        "--host-record=%s,127.0.0.99" % DNS_SPOOF[1],
        "--host-record=%s,%s" % (DNS_DIALUP[1], DNS_DIALUP[0]),
        "--host-record=%s,%s" % (DNS_BARE[1], DNS_BARE[0]),
        "--host-record=%s,%s" % (DNS_V6[1], DNS_V6[0]),
    ])
    d.start()
    yield d
    d.stop()


class MuteDns:
    """A UDP socket on 127.0.0.1 that receives queries and never
    answers: a resolver that times out.  .queries counts what came."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.address = "%s:%d" % (HOST, self.port)
        self.queries = 0
        self.stopping = False
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self):
        while not self.stopping:
            try:
                self.sock.recvfrom(4096)
                self.queries += 1
            except socket.timeout:
                continue
            except OSError:
                return

    def close(self):
        self.stopping = True
        self.thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def mute_dns():
    """A DNS server address (127.0.0.1:PORT) that never answers."""
    m = MuteDns()
    yield m
    m.close()


# ---------------------------------------------------------------------
# GeoIP databases for the access-control tests (tests/system/mkmmdb.pl)

MKMMDB = Path(__file__).resolve().with_name("mkmmdb.pl")

# Loopback ranges and what the test databases say about them.
GEO_RECORDS = (
    "127.0.0.32/28 country=RU asn=64500",       # .32 - .47
    "127.0.0.48/28 country=KP",                 # .48 - .63, no ASN
    "127.0.0.64/28 country=DE asn=64496",       # .64 - .79
)


def make_mmdb(path, records, type_="country", extra_args=()):
    """Writes PATH with mkmmdb.pl from RECORDS (lines); returns PATH."""
    r = subprocess.run(["perl", str(MKMMDB), "--type", type_,
                        *extra_args, str(path), *records],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("mkmmdb.pl failed (%d): %s"
                           % (r.returncode, r.stderr))
    return Path(path)


@pytest.fixture(scope="session")
def geoip(tmp_path_factory):
    """{"country", "city", "asn": path} of GEO_RECORDS databases, as
    GeoLite2-Country, GeoLite2-City and GeoLite2-ASN."""
    if not MKMMDB.exists():
        pytest.skip("%s missing" % MKMMDB)
    d = tmp_path_factory.mktemp("geoip")
    return dict((t, make_mmdb(d / ("%s.mmdb" % t), GEO_RECORDS, t))
                for t in ("country", "city", "asn"))


# Splice pipes a daemon of two workers may keep pooled: RELAY_POOL_MAX
# (include/bounds.h) pipes of two descriptors per worker.
POOLED_PIPE_FDS = 2 * 16 * 2


def named_unix_conversations():
    """Inodes of connected Unix stream sockets that carry a bound path:
    the accepted side of a stats socket conversation."""
    inodes = set()
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            cols = line.split()
            # Num RefCount Protocol Flags Type St Inode [Path]
            if len(cols) >= 8 and cols[5] == "03":
                inodes.add(cols[6])
    return inodes


def fd_kinds(pid, stats=frozenset()):
    """A process's descriptors by kind: socket, pipe, other, and stats
    for the sockets whose inodes are in STATS."""
    kinds = {"socket": 0, "pipe": 0, "other": 0, "stats": 0}
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue            # closed while listed
        kind = target.split(":", 1)[0]
        if kind == "socket" and target[len("socket:["):-1] in stats:
            kind = "stats"
        kinds[kind if kind in kinds else "other"] += 1
    return kinds


def session_fds(pid):
    """Descriptors a daemon holds, less the pipes its relay may pool and
    the stats socket conversations still open.  The daemon closes one of
    those only when the client has read the answer and closed its end
    (statsock_drain()), so one may outlive the query that counted."""
    kinds = fd_kinds(pid, named_unix_conversations())
    assert kinds["pipe"] <= POOLED_PIPE_FDS, kinds
    return kinds["socket"] + kinds["other"]


def cpu_seconds(pid):
    """User plus system CPU time of process PID (all its threads) so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state): utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
