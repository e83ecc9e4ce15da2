"""SIGTERM/SIGINT: every session is told `* BYE Server shutting down`
and the daemon exits 0 within shutdown_timeout (SPEC.md s.2)."""

import signal
import socket
import time

from conftest import login_ok
import dovecot as dv

BYE = "* BYE Server shutting down"


def collect_until_closed(c, timeout):
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            lines.append(c.readline(max(0.05, deadline - time.monotonic()))
                         .decode("utf-8", "replace"))
        except (EOFError, ConnectionResetError):
            return lines, True
        except socket.timeout:
            break
    return lines, False


def test_sigterm_says_bye_to_every_session(make_proxy, dovecot, user):
    name, pw = user
    p = make_proxy(shutdown_timeout=5)
    sessions = {}
    sessions["preauth-plain"] = p.client("plain")
    sessions["preauth-starttls"] = p.client("starttls")
    sessions["preauth-tls"] = p.client("tls")
    c = p.client("starttls")
    c.starttls()
    sessions["preauth-after-starttls"] = c
    c = p.client("plain")
    login_ok(c, name, pw)
    sessions["logged-in"] = c
    c = p.client("tls")
    login_ok(c, name, pw)
    _u, t = c.cmd("SELECT INBOX", tag="s")
    assert t.startswith("s OK"), t
    c.send("i IDLE\r\n")
    assert c.readline().startswith(b"+")
    sessions["idling-tls"] = c
    c = p.client("plain")
    c.send("a AUTHENTICATE PLAIN\r\n")
    assert c.readline().startswith(b"+")
    sessions["mid-authenticate"] = c

    t0 = time.monotonic()
    p.proc.send_signal(signal.SIGTERM)
    results = {k: collect_until_closed(c, 7) for k, c in sessions.items()}
    rc = p.stop(timeout=8)
    elapsed = time.monotonic() - t0
    assert rc == 0, rc
    assert elapsed < 5 + 1.5, elapsed
    for k, (lines, closed) in results.items():
        assert any(l.startswith(BYE) for l in lines), (k, lines)
        assert closed, (k, lines)
    for c in sessions.values():
        c.close()


def test_sigterm_idle_daemon_exits_fast(make_proxy):
    p = make_proxy(shutdown_timeout=5)
    t0 = time.monotonic()
    assert p.stop(sig=signal.SIGTERM) == 0
    assert time.monotonic() - t0 < 2


def test_sigint_exits_zero(make_proxy):
    p = make_proxy()
    c = p.client("plain")
    p.proc.send_signal(signal.SIGINT)
    lines, closed = collect_until_closed(c, 7)
    assert any(l.startswith(BYE) for l in lines), lines
    assert p.stop() == 0
    c.close()


def test_shutdown_timeout_with_stuck_client(make_proxy, dovecot, user):
    """A client that never reads (its socket buffers full) cannot hold
    the daemon past shutdown_timeout."""
    name, pw = user
    dovecot.append(name, dv.sample_message(
        "big", body=("y" * 76 + "\r\n") * 200000))
    p = make_proxy(shutdown_timeout=3)
    c = p.client("plain")
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    login_ok(c, name, pw)
    c.send("s SELECT INBOX\r\n")
    c.read_response("s")
    for i in range(4):
        c.send("f%d FETCH 1 BODY.PEEK[]\r\n" % i)
    time.sleep(1)           # the relay is now blocked on us
    t0 = time.monotonic()
    p.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    # no new session is greeted while the daemon shuts down
    if p.alive():
        try:
            n = socket.create_connection(("127.0.0.1", p.ports["plain"]),
                                         timeout=1)
            n.settimeout(1)
            try:
                greeting = n.recv(100)
            except (socket.timeout, ConnectionResetError):
                greeting = b""
            n.close()
            assert not greeting.startswith(b"* OK"), greeting
        except (ConnectionRefusedError, socket.timeout):
            pass
    rc = p.stop(sig=signal.SIGTERM, timeout=3 + 4)
    elapsed = time.monotonic() - t0
    assert rc == 0, rc
    assert elapsed <= 3 + 1.5, elapsed
    c.close()
