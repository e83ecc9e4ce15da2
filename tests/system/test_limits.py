"""Bounded everything: line and literal sizes, bad commands, memory,
login_timeout and idle_timeout (SPEC.md s.7, STYLE.md s.4)."""

import os
import re
import socket
import threading
import time

from conftest import FakeBackend, b64, login_ok, store_backend
import dovecot as dv

MIB = 1024 * 1024


def sender(c, data, chunk=65536):
    """Send DATA from a thread, ignoring the peer closing on us."""
    def run():
        try:
            for i in range(0, len(data), chunk):
                c.sock.sendall(data[i:i + chunk])
        except OSError:
            pass
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def lines_until_closed(c, timeout=10):
    """Every line until the proxy closes (EOF or reset)."""
    lines = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("connection not closed; got %r" % lines)
        try:
            lines.append(c.readline(left).decode("utf-8", "replace"))
        except (EOFError, ConnectionResetError):
            return lines


def test_oversized_line(proxy, user):
    name, pw = user
    # sessions that exist before, and must survive
    logged = proxy.client("plain")
    login_ok(logged, name, pw)
    pre = proxy.client("plain", src="127.0.0.2")
    c = proxy.client("plain", src="127.0.0.3")
    t = sender(c, b"a " + b"x" * (100 * 1024))     # no CRLF, ever
    lines = lines_until_closed(c)
    t.join(5)
    bad = [i for i, l in enumerate(lines) if re.match(r"^(\*|a) BAD\b", l)]
    bye = [i for i, l in enumerate(lines) if l.startswith("* BYE")]
    assert bad and bye and bad[0] < bye[0], lines
    c.close()
    _u, t = logged.cmd("SELECT INBOX", tag="s")
    assert t.startswith("s OK"), t
    assert pre.capabilities()
    n = proxy.client("plain")
    login_ok(n, name, pw)
    n.close()
    logged.close()
    pre.close()


def test_oversized_line_with_crlf(proxy):
    """A complete but over-long line is refused the same way."""
    c = proxy.client("plain")
    t = sender(c, b"a LOGIN " + b"u" * 20000 + b" pw\r\n")
    lines = lines_until_closed(c)
    t.join(5)
    assert any(re.match(r"^(\*|a) BAD\b", l) for l in lines), lines
    assert any(l.startswith("* BYE") for l in lines), lines
    c.close()


def test_huge_literal_refused_without_continuation(proxy):
    base = proxy.rss_kib()
    c = proxy.client("plain")
    c.send("a LOGIN {1073741824}\r\n")
    line = c.readline().decode()
    assert line.startswith("a BAD"), line
    c.close()
    c = proxy.client("plain")
    c.send("b LOGIN user {1073741824}\r\n")
    line = c.readline().decode()
    assert line.startswith("b BAD"), line
    c.close()
    c = proxy.client("plain")
    c.send("c AUTHENTICATE PLAIN {1073741824}\r\n")
    line = c.readline().decode()
    assert re.match(r"^c (BAD|NO)\b", line), line
    c.close()
    assert proxy.rss_kib() < 64 * 1024, (base, proxy.rss_kib())


def test_huge_nonsync_literal_streamed(proxy):
    """`{1073741824+}` followed by 64 MiB of data: memory stays bounded
    and the session ends with BAD (and BYE, or at least a close)."""
    c = proxy.client("plain")
    payload = b"a LOGIN {1073741824+}\r\n" + b"z" * (64 * MIB)
    t = sender(c, payload, chunk=MIB)
    peak = 0
    lines = []
    deadline = time.monotonic() + 20
    closed = False
    while time.monotonic() < deadline:
        peak = max(peak, proxy.rss_kib())
        try:
            lines.append(c.readline(0.1).decode("utf-8", "replace"))
        except socket.timeout:
            if not t.is_alive():
                break
        except (EOFError, ConnectionResetError):
            closed = True
            break
    peak = max(peak, proxy.rss_kib())
    t.join(20)
    assert peak < 64 * 1024, "RSS peaked at %d KiB" % peak
    assert any(re.match(r"^(\*|a) BAD\b", l) for l in lines) or closed, \
        lines
    c.close()
    # and the proxy still serves others
    n = proxy.client("plain")
    assert n.capabilities()
    n.close()


def test_many_partial_lines_bounded(proxy):
    """200 clients each holding an unfinished 8000-byte line."""
    clients = []
    for i in range(200):
        c = proxy.client("plain", src="127.0.1.%d" % (i % 250 + 1))
        c.send(b"a LOGIN " + b"x" * 7990)
        clients.append(c)
    time.sleep(0.5)
    rss = proxy.rss_kib()
    for c in clients:
        c.close()
    assert rss < 64 * 1024, "RSS %d KiB" % rss


def send_bad_until_bye(c, limit, noop_between=False):
    """Send bad commands one at a time; return (n, lines) where N is
    the number sent when the proxy said BYE and closed (None: never)."""
    lines = []
    for i in range(1, limit + 1):
        if noop_between:
            u, t = c.cmd("NOOP", tag="g%d" % i)
            assert t.startswith("g%d OK" % i), t
        try:
            c.send("b%d BOGUS\r\n" % i)
        except OSError:
            return i - 1, lines
        while True:
            try:
                line = c.readline(timeout=5).decode()
            except (EOFError, ConnectionResetError):
                return i, lines
            lines.append(line)
            if line.startswith("* BYE"):
                lines += lines_until_closed(c, timeout=5)
                return i, lines
            if line.startswith("b%d " % i):
                assert line.startswith("b%d BAD" % i), line
                # a BYE, if any, follows the tagged BAD at once
                try:
                    line = c.readline(timeout=0.3).decode()
                except socket.timeout:
                    break
                except (EOFError, ConnectionResetError):
                    return i, lines
                lines.append(line)
                assert line.startswith("* BYE"), lines
                lines += lines_until_closed(c, timeout=5)
                return i, lines
    return None, lines


def test_too_many_bad_commands(proxy):
    c = proxy.client("plain")
    n, lines = send_bad_until_bye(c, 10)
    # nginx's imap_client_errors is 5; one either way is fine
    assert n is not None, "no BYE after 10 bad commands: %r" % lines
    assert 4 <= n <= 6, (n, lines)
    assert [l for l in lines if l.startswith("* BYE")], lines
    c.close()


def test_bad_commands_interleaved_with_good_still_count(proxy):
    """A client cannot reset the limit by sending NOOPs in between."""
    c = proxy.client("plain")
    n, lines = send_bad_until_bye(c, 10, noop_between=True)
    assert n is not None and n <= 6, (n, lines)
    assert [l for l in lines if l.startswith("* BYE")], lines
    c.close()


def test_failed_logins_are_not_bad_commands(proxy, user):
    """Wrong passwords are NO, not BAD: they do not end the session
    the way the bad-command limit does (auth_fail_* is separate)."""
    name, pw = user
    c = proxy.client("plain")
    for i in range(6):
        _u, t = c.cmd("LOGIN %s wrong%d" % (name, i), tag="w%d" % i)
        assert t.startswith("w%d NO" % i), t
    login_ok(c, name, pw)
    c.close()


def test_login_timeout_silent_client(make_proxy):
    p = make_proxy(server={"login_timeout": "2s"})
    t0 = time.monotonic()
    c = p.client("plain")
    lines = lines_until_closed(c, timeout=8)
    elapsed = time.monotonic() - t0
    assert 1.5 <= elapsed <= 5, elapsed
    assert any(l.startswith("* BYE") for l in lines), lines
    c.close()


def test_login_timeout_covers_whole_preauth(make_proxy):
    """NOOPs do not extend the pre-authentication phase."""
    p = make_proxy(server={"login_timeout": "2s"})
    t0 = time.monotonic()
    c = p.client("plain")
    closed = False
    while time.monotonic() - t0 < 6:
        try:
            c.send("n NOOP\r\n")
            c.read_response("n", timeout=1)
            time.sleep(0.3)
        except (EOFError, OSError, socket.timeout):
            closed = True
            break
    elapsed = time.monotonic() - t0
    assert closed and elapsed <= 5, elapsed
    c.close()


def test_login_timeout_during_authenticate(make_proxy):
    p = make_proxy(server={"login_timeout": "2s"})
    t0 = time.monotonic()
    c = p.client("plain")
    c.send("a AUTHENTICATE PLAIN\r\n")
    assert c.readline().startswith(b"+")
    lines_until_closed(c, timeout=8)
    assert time.monotonic() - t0 <= 5
    c.close()


def test_idle_timeout_after_login(make_proxy, user):
    name, pw = user
    p = make_proxy(server={"login_timeout": "2s", "idle_timeout": "3s"})
    c = p.client("plain")
    login_ok(c, name, pw)
    # traffic keeps it alive past both login_timeout and idle_timeout
    t0 = time.monotonic()
    while time.monotonic() - t0 < 4.5:
        _u, t = c.cmd("NOOP", tag="k")
        assert t.startswith("k OK"), t
        time.sleep(0.5)
    # silence ends it
    t0 = time.monotonic()
    lines_until_closed(c, timeout=10)
    elapsed = time.monotonic() - t0
    assert 2.5 <= elapsed <= 6, elapsed
    c.close()


def test_login_timeout_tls_without_handshake(make_proxy):
    """A client that connects to the TLS port and never says hello."""
    p = make_proxy(server={"login_timeout": "2s"})
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", p.ports["tls"]), timeout=8)
    try:
        while s.recv(4096):
            pass
    except ConnectionResetError:
        pass
    assert time.monotonic() - t0 <= 5
    s.close()


def test_plaintext_on_tls_port(proxy):
    s = socket.create_connection(("127.0.0.1", proxy.ports["tls"]),
                                 timeout=5)
    s.sendall(b"a LOGIN user pass\r\n" * 100)
    try:
        while s.recv(4096):
            pass
    except ConnectionResetError:
        pass
    s.close()
    c = proxy.client("tls")
    assert c.capabilities()
    c.close()


def test_no_descriptor_leak(make_proxy, dovecot, user):
    """Sessions of every outcome leave no descriptor behind."""
    name, pw = user
    mute = FakeBackend(mode="silent")
    try:
        # Health checks hold their own short-lived sockets: off here.
        p = make_proxy(backends={
            "store": store_backend(dovecot, connect_timeout="1s",
                                   health_check_interval="0")})
        q = make_proxy(backends={"mute": {"address": mute.address,
                                          "connect_timeout": "1s",
                                          "health_check_interval": "0"}})
        r = make_proxy(backends={"gone": {
            "address": "127.0.0.1:%d" % dv.free_port(),
            "health_check_interval": "0"}})
        procs = (p, q, r)
        before = None
        for rnd in range(4):
            if rnd == 1:        # after a warm-up round (lazy opens)
                time.sleep(1.5)
                before = [len(os.listdir("/proc/%d/fd" % x.pid))
                          for x in procs]
            c = p.client("plain")                   # success
            login_ok(c, name, pw)
            c.cmd("LOGOUT", tag="o")
            c.close()
            c = p.client("tls")                     # wrong password
            c.cmd("LOGIN %s nope" % name, tag="w")
            c.close()
            c = p.client("starttls")                # STARTTLS, then gone
            c.starttls()
            c.close()
            c = p.client("plain")                   # mid-AUTHENTICATE
            c.send("a AUTHENTICATE PLAIN\r\n")
            c.readline()
            c.close()
            c = p.client("plain")                   # bad-command limit
            for i in range(8):
                try:
                    c.send("b%d BOGUS\r\n" % i)
                except OSError:
                    break
            c.close()
            c = q.client("plain")                   # silent back end
            c.cmd("LOGIN x y", tag="l")
            c.close()
            c = q.client("plain")                   # gone while waiting
            c.send("l LOGIN x y\r\n")
            c.close()
            c = r.client("plain")                   # refused back end
            c.cmd("AUTHENTICATE PLAIN " + b64("\0x\0y"), tag="l")
            c.close()
        time.sleep(1.5)
        after = [len(os.listdir("/proc/%d/fd" % x.pid)) for x in procs]
        assert all(a <= b for a, b in zip(after, before)), (before, after)
    finally:
        mute.close()
