"""SIGTERM/SIGINT: every session is told `* BYE Server shutting down`
and the daemon exits 0 within shutdown_timeout (SPEC.md s.2)."""

import signal
import socket
import time

import pytest

from conftest import login_ok, wait_for
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


def test_exits_promptly_once_sessions_are_gone(make_proxy, user):
    """shutdown_timeout bounds the wait; it is not a fixed delay: once
    every session has been told BYE and closed, the daemon exits."""
    name, pw = user
    p = make_proxy(shutdown_timeout=10)
    a = p.client("plain")
    b = p.client("plain")
    login_ok(b, name, pw)
    t0 = time.monotonic()
    p.proc.send_signal(signal.SIGTERM)
    for c in (a, b):
        lines, closed = collect_until_closed(c, 5)
        assert closed and any(l.startswith(BYE) for l in lines), lines
        c.close()
    rc = p.stop(timeout=12)
    elapsed = time.monotonic() - t0
    assert rc == 0
    assert elapsed < 2, "exit %.1fs after SIGTERM, sessions all closed" \
        % elapsed


# -- other signals (SPEC.md s.2) -------------------------------------------


def test_sighup_reloads_without_dropping_sessions(make_proxy, user):
    name, pw = user
    p = make_proxy()
    c = p.client("plain")
    login_ok(c, name, pw)
    pre = p.client("plain")
    text = p.conf.read_text().replace("greeting = IMAP proxy ready",
                                      "greeting = Reloaded greeting")
    p.conf.write_text(text)
    p.proc.send_signal(signal.SIGHUP)

    def new_greeting():
        n = p.client("plain")
        n.close()
        return n.greeting.endswith("] Reloaded greeting")
    assert wait_for(new_greeting), "new greeting not in force"
    assert p.alive()
    _u, t = c.cmd("SELECT INBOX", tag="s")
    assert t.startswith("s OK"), t
    assert pre.capabilities()
    login_ok(pre, name, pw)
    c.close()
    pre.close()


def test_sighup_with_broken_config_keeps_old(make_proxy):
    p = make_proxy()
    good = p.conf.read_text()
    p.conf.write_text(good.replace("[server default]",
                                   "[server default]\nbogus_key = 1", 1))
    p.proc.send_signal(signal.SIGHUP)
    time.sleep(1)
    assert p.alive()
    c = p.client("plain")
    assert c.greeting.endswith("] IMAP proxy ready"), c.greeting
    c.close()
    lineno = [i for i, l in enumerate(p.conf.read_text().splitlines(), 1)
              if l.startswith("bogus_key")][0]
    assert wait_for(lambda: "imapproxy.conf:%d:" % lineno in p.log_text()), \
        p.log_text()[-2000:]


def test_sigusr1_reopens_log(make_proxy):
    p = make_proxy()
    old = p.log.with_name("proxy.log.1")
    p.log.rename(old)
    p.proc.send_signal(signal.SIGUSR1)
    assert wait_for(p.log.exists), "log not reopened"
    c = p.client("plain")
    c.cmd("NOOP")
    c.close()
    assert wait_for(lambda: p.log.stat().st_size > 0)
    assert p.alive()
