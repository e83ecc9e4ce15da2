"""The stats socket (SPEC.md section 6): every command against a real
daemon in front of a real Dovecot, malformed and slow requests, the
socket's mode, and the Prometheus output checked with promtool."""

import json
import os
import shutil
import socket
import stat
import subprocess
import time

import pytest

from conftest import (HOST, RawClient, login_ok, store_backend,
                      wait_for)


def raw_exchange(path, data, timeout=10):
    """Sends DATA (bytes) and returns everything until EOF."""
    with socket.socket(socket.AF_UNIX) as c:
        c.settimeout(timeout)
        c.connect(str(path))
        if data:
            c.sendall(data)
        out = b""
        while True:
            b = c.recv(65536)
            if not b:
                return out
            out += b


def session_of(p, user):
    return [s for s in p.ask_json("sessions")["sessions"]
            if s["user"] == user]


def test_sessions_lists_every_session_with_its_fields(make_proxy, user,
                                                      user2):
    p = make_proxy()
    a = p.client("plain", src="127.0.0.7")
    login_ok(a, *user)
    b = p.client("tls", src="127.0.0.8")
    login_ok(b, *user2)
    pre = p.client("plain")           # connected, not logged in
    doc = p.ask_json("sessions")
    assert doc["ok"] is True
    by_user = dict((s["user"], s) for s in doc["sessions"])
    assert set(by_user) == {user[0], user2[0], None}, doc
    sa = by_user[user[0]]
    assert sa["client"].startswith("127.0.0.7:")
    assert sa["backend"] == "store"
    assert sa["server"] == "default"
    assert sa["listener"] == "%s:%d" % (HOST, p.ports["plain"])
    assert sa["tls"] is None and sa["state"] == "relay"
    assert sa["country"] is None
    assert len(sa["id"]) == 16 and int(sa["id"], 16) >= 0
    assert abs(sa["since"] - time.time()) < 60
    assert sa["bytes_in"] > 0 and sa["bytes_out"] > 0
    sb = by_user[user2[0]]
    assert sb["tls"].startswith("TLSv1."), sb
    assert by_user[None]["state"] == "preauth"
    assert by_user[None]["backend"] is None
    # The id is the one the back end saw in ID (x-session-id) and the log's.
    assert "sess=%s " % sa["id"] in p.log_text()
    for c in (a, b, pre):
        c.close()
    assert wait_for(lambda: p.ask_json("sessions")["sessions"] == [])


def test_sessions_country_from_geoip(make_proxy, user, geoip):
    p = make_proxy(global_={"geoip_db": str(geoip["country"])})
    c = p.client("plain", src="127.0.0.70")     # DE in the test database
    login_ok(c, *user)
    d = p.client("plain", src="127.0.0.9")      # not in it
    (s,) = session_of(p, user[0])
    assert s["country"] == "DE", s
    others = [x for x in p.ask_json("sessions")["sessions"]
              if x["user"] is None]
    assert others[0]["country"] is None
    c.close()
    d.close()


def test_backends_and_enable_disable(make_proxy, dovecot, user):
    p = make_proxy(backends={
        "store": store_backend(dovecot, health_check_interval="1s"),
        "spare": store_backend(dovecot, health_check_interval="0")},
        server={"default_backend": "store"})
    doc = p.ask_json("backends")
    by = dict((b["name"], b) for b in doc["backends"])
    assert by["store"]["address"] == "%s:%d" % (dovecot.host, dovecot.port)
    assert by["store"]["state"] == "up" and by["store"]["pool"] is None
    assert wait_for(lambda: dict((b["name"], b) for b in p.ask_json(
        "backends")["backends"])["store"]["last_check"] is not None)
    assert by["spare"]["last_check"] is None
    c = p.client("plain")
    login_ok(c, *user)
    assert dict((b["name"], b) for b in p.ask_json(
        "backends")["backends"])["store"]["sessions"] == 1
    r = p.ask_json("backend disable store")
    assert r == {"ok": True, "backend": "store", "state": "disabled"}
    by = dict((b["name"], b) for b in p.ask_json("backends")["backends"])
    assert by["store"]["state"] == "disabled"
    # The session in progress stays.
    _u, t = c.cmd("NOOP", tag="n")
    assert t.startswith("n OK"), t
    # A new login finds no back end: store is the only default.
    d = p.client("plain")
    _u, t = d.cmd('LOGIN "%s" "%s"' % user, tag="l")
    assert t.startswith("l NO [UNAVAILABLE]"), t
    assert p.ask_json("backend enable store")["state"] == "up"
    login_ok(d, *user)
    assert p.ask_json("backend disable nosuch")["ok"] is False
    assert p.ask_json("backend frobnicate store")["ok"] is False
    c.close()
    d.close()


def test_kick_user_and_id(make_proxy, user, user2):
    p = make_proxy()
    a1 = p.client("plain")
    login_ok(a1, *user)
    a2 = p.client("tls")
    login_ok(a2, *user)
    b = p.client("plain")
    login_ok(b, *user2)
    r = p.ask_json("kick %s" % user[0].upper())   # names are lower-cased
    assert r == {"ok": True, "kicked": 2}
    for c in (a1, a2):
        assert c.readline(timeout=5).decode() == \
            "* BYE Session terminated by administrator"
        with pytest.raises(EOFError):
            c.readline(timeout=5)
    _u, t = b.cmd("NOOP", tag="n")
    assert t.startswith("n OK"), t
    (sb,) = session_of(p, user2[0])
    assert p.ask_json("kick %s" % sb["id"]) == {"ok": True, "kicked": 1}
    assert b.readline(timeout=5).decode().startswith("* BYE")
    r = p.ask_json("kick nobody-here")
    assert r["ok"] is False and r["kicked"] == 0
    assert "kick" in p.log_text()


def test_stats_counts(make_proxy, user):
    p = make_proxy()
    c = p.client("plain")
    login_ok(c, *user)
    _u, t = c.cmd("SELECT INBOX", tag="s")
    d = p.client("plain")
    _u, t = d.cmd('LOGIN "%s" "wrong"' % user[0], tag="l")
    assert t.startswith("l NO"), t
    doc = p.ask_json("stats")
    assert doc["ok"] is True
    assert doc["connections"]["accepted"] >= 2
    assert doc["connections"]["active"] >= 2
    assert doc["logins"] == {"ok": 1, "failed": 1}
    assert doc["bytes"]["in"] > 0 and doc["bytes"]["out"] > 0
    assert doc["reloads"] == {"ok": 0, "failed": 0}
    assert doc["uptime"] >= 0
    (srv,) = doc["servers"]
    assert srv["name"] == "default" and srv["logins"]["ok"] == 1
    (be,) = doc["backends"]
    assert be["name"] == "store" and be["sessions"] == 1
    c.close()
    d.close()


def test_stats_acl_denies_by_rule(make_proxy, tmp_path):
    acl = tmp_path / "t.acl"
    acl.write_text("deny ip 127.0.0.5\nallow any\n")
    p = make_proxy(server={"acl": str(acl)})
    for _ in range(3):
        c = RawClient(HOST, p.ports["plain"], src="127.0.0.5")
        assert c.greeting == "* BYE Access denied"
        c.close()
    doc = p.ask_json("stats")
    assert doc["acl_denies"] == [{"server": "default", "rule":
                                  "%s:1: deny ip 127.0.0.5" % acl,
                                  "count": 3}], doc["acl_denies"]


def test_acl_test_on_the_socket(make_proxy, tmp_path):
    acl = tmp_path / "t.acl"
    acl.write_text("deny user mallory\nallow any\n")
    p = make_proxy(server={"acl": str(acl)})
    r = p.ask_json("acl test default 192.0.2.1 Mallory")
    assert r["ok"] and r["decision"] == "deny"
    assert r["rule"] == "%s:1: deny user mallory" % acl
    assert r["user"] == "mallory"
    r = p.ask_json("acl test default 192.0.2.1 alice")
    assert r["decision"] == "allow" and r["rule"] == "%s:2: allow any" % acl
    assert p.ask_json("acl test nosuch 192.0.2.1")["ok"] is False
    assert p.ask_json("acl test default not-an-ip")["ok"] is False


@pytest.mark.parametrize("request_,why", [
    (b"frobnicate\n", "unknown command"),
    (b"\n", "unknown command"),
    (b"sessions extra words\n", "unknown command"),
    (b"a" * 5000 + b"\n", "request too long"),
    (b"sess\x00ions\n", "NUL byte in the request"),
])
def test_malformed_requests_get_an_error_document(make_proxy, request_, why):
    p = make_proxy()
    doc = json.loads(raw_exchange(p.stats_socket, request_))
    assert doc == {"ok": False, "error": why}
    assert p.ask_json("backends")["ok"]


def test_slow_request_times_out_with_an_error(make_proxy):
    p = make_proxy()
    t0 = time.monotonic()
    with socket.socket(socket.AF_UNIX) as c:
        c.settimeout(15)
        c.connect(str(p.stats_socket))
        c.sendall(b"sess")                # never finished
        other = p.ask_json("backends")     # others are served meanwhile
        assert other["ok"]
        out = b""
        while True:
            b = c.recv(4096)
            if not b:
                break
            out += b
    assert json.loads(out) == {"ok": False,
                               "error": "no request line in time"}
    assert 4 <= time.monotonic() - t0 < 10


def test_socket_mode_and_stale_socket(make_proxy, tmp_path):
    p = make_proxy(global_={"stats_socket_mode": "0600"})
    assert stat.S_IMODE(os.stat(p.stats_socket).st_mode) == 0o600
    assert stat.S_ISSOCK(os.stat(p.stats_socket).st_mode)
    # A second daemon must not steal a live socket...
    q = make_proxy(global_={"stats_socket": str(p.stats_socket)},
                   start=False)
    with pytest.raises(RuntimeError) as e:
        q.start(timeout=5)
    q.returncode = q.proc.returncode
    assert q.returncode == 2
    assert "in use by a running daemon" in str(e.value)
    p.stop()
    assert not p.stats_socket.exists()
    # ...but replaces a stale one left by a crash.
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(p.stats_socket))
    s.close()
    r = make_proxy(global_={"stats_socket": str(p.stats_socket)})
    assert r.ask_json("backends")["ok"]


def test_socket_group(make_proxy):
    import grp
    g = grp.getgrgid(os.getgid()).gr_name
    p = make_proxy(global_={"stats_socket_group": g,
                            "stats_socket_mode": "0660"})
    st = os.stat(p.stats_socket)
    assert st.st_gid == os.getgid()
    assert stat.S_IMODE(st.st_mode) == 0o660


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool (Debian package prometheus) missing")
def test_metrics_pass_promtool(make_proxy, user, tmp_path):
    acl = tmp_path / "t.acl"
    acl.write_text('deny ip 127.0.0.5\nallow any\n')
    p = make_proxy(server={"acl": str(acl)})
    c = p.client("plain")
    login_ok(c, *user)
    d = RawClient(HOST, p.ports["plain"], src="127.0.0.5")
    d.close()
    text = p.ask("metrics")
    r = subprocess.run(["promtool", "check", "metrics"], input=text,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, (r.stdout, r.stderr, text)
    assert 'imapproxy_connections_total{server="default",' \
        'result="accepted"}' in text
    assert 'imapproxy_sessions{server="default",backend="store"} 1' in text
    assert 'imapproxy_acl_denies_total{server="default",rule="%s:1: deny ' \
        'ip 127.0.0.5"} 1' % acl in text
    assert 'imapproxy_backend_up{backend="store"} 1' in text
    assert 'imapproxy_logins_total{server="default",result="ok"} 1' in text
    assert 'imapproxy_reloads_total{result="ok"} 0' in text
    assert "imapproxy_bytes_total" in text
    assert "imapproxy_tls_handshake_failures_total" in text
    c.close()


def test_sessions_does_not_stall_the_relay(make_proxy, user):
    """A `sessions` answer is built while relaying goes on: a client's
    NOOP round trips stay fast while another thread keeps asking for
    the list of 2,000 sessions."""
    import threading
    p = make_proxy()
    idle = [socket.create_connection(
        (HOST, p.ports["plain"]),
        source_address=("127.0.1.%d" % (1 + i % 250), 0))
        for i in range(2000)]
    c = p.client("plain")
    login_ok(c, *user)
    assert wait_for(lambda: len(p.ask_json("sessions")["sessions"]) >= 2001,
                    timeout=20)
    stop = threading.Event()
    asked = [0]

    def ask_loop():
        while not stop.is_set():
            assert len(p.ask_json("sessions")["sessions"]) >= 2001
            asked[0] += 1
    t = threading.Thread(target=ask_loop)
    t.start()
    times = []
    deadline = time.monotonic() + 20
    try:
        while (len(times) < 200 or asked[0] < 5) and \
                time.monotonic() < deadline:
            t0 = time.monotonic()
            _u, tagged = c.cmd("NOOP", tag="n")
            times.append(time.monotonic() - t0)
            assert tagged.startswith("n OK")
    finally:
        stop.set()
        t.join(timeout=30)
    times.sort()
    assert asked[0] >= 5, asked
    # The 95th percentile, generous for a loaded 2-core test machine.
    assert times[int(len(times) * 0.95)] < 0.25, times[-10:]
    for s in idle:
        s.close()
    c.close()
