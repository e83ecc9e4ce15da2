"""Per-address and per-user connection limits and the brute-force
defence of a [server] (SPEC.md s.3: max_connections_per_ip,
max_connections_per_user, auth_fail_limit, auth_fail_window,
auth_fail_delay; s.6: `stats` and `metrics`), on the wire.

Covered:
- max_connections_per_ip: the (N+1)th concurrent connection from one
  address gets `* BYE Too many connections from your address` and is
  closed, counted across listeners; an implicit-TLS listener closes it
  without a handshake; other addresses are unaffected; a freed place is
  usable again.
- max_connections_per_user: counted from the start of a login (one
  still waiting for its back end holds its place) until the session
  ends; the (N+1)th login of the same user, whatever the case of its
  name, gets `TAG NO [LIMIT] Too many sessions for this user.` and the
  connection stays usable; other users are unaffected; failed logins
  and ended sessions give their place back; such refusals are not
  failed logins for auth_fail_limit.
- auth_fail_limit / auth_fail_window: after L distinct failures from one
  address (wrong passwords, or an ACL deny at login) every login from it,
  over any connection and with the right password, gets `TAG NO [LIMIT]
  Too many failed logins from your address, try again later.` until the
  window that began with the first counted failure has passed, and the
  count starts afresh then; other addresses are unaffected; retrying the
  same wrong password counts once.
- auth_fail_delay: a failed login's NO waits D, 2D, 4D ... per recent
  failure of that user, reset by a successful login; successes are not
  delayed, the user is never locked out, and the worker (workers = 1)
  keeps serving other clients meanwhile.
- Every limit, hammered, is logged once per client (or user), not once
  per refusal; `stats` connections.refused / logins.failed and
  `metrics` imapproxy_limit_refusals_total{limit=ip|user|auth_fail}
  count the refusals exactly.
- Failed logins from 2,000 distinct addresses keep the daemon's memory
  growth bounded, and it keeps serving.
"""

import concurrent.futures
import re
import select
import socket
import ssl
import time

import pytest

from conftest import (ACL_USERS, HOST, SANITIZER_RSS_KIB, FakeBackend,
                      RawClient, b64, client_ctx, imap_quote, login_ok)

PER_IP_BYE = "* BYE Too many connections from your address"
USER_LIMIT = "NO [LIMIT] Too many sessions for this user."
AUTH_LIMIT = ("NO [LIMIT] Too many failed logins from your address, "
              "try again later.")
AUTH_FAILED = "NO [AUTHENTICATIONFAILED]"

# The client addresses the tests connect from (any 127/8 address works
# on Linux); Proxy's own readiness probes come from 127.0.0.1.
ADDR_A = "127.0.0.5"
ADDR_B = "127.0.0.6"
ADDR_C = "127.0.0.7"
ADDR_D = "127.0.0.8"
PROBE = "127.0.0.%d"        # 200 + listener index: see start_proxy


# ---------------------------------------------------------------------
# helpers

def wait_for(pred, timeout=5.0, what="condition"):
    """Polls PRED until it returns a true value, which is returned."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(0.05)


def server_stats(p):
    """The `stats` document's entry for [server default]."""
    doc = p.ask_json("stats")
    assert doc["ok"] is True, doc
    (srv,) = [s for s in doc["servers"] if s["name"] == "default"]
    return srv


def refusals(p, limit):
    """imapproxy_limit_refusals_total{server="default",limit=LIMIT}."""
    text = p.ask("metrics")
    m = re.search(r'^imapproxy_limit_refusals_total\{server="default",'
                  r'limit="%s"\} (\d+)$' % re.escape(limit), text, re.M)
    assert m, "no %s refusals in metrics:\n%s" % (limit, text)
    return int(m.group(1))


def log_lines(p, needle):
    return [l for l in p.log_text().splitlines() if needle in l]


def settled_log_lines(p, needle, at_least=1, timeout=3.0):
    """The log lines holding NEEDLE once there are AT_LEAST of them
    (and the log has been still for a moment, so none is missed)."""
    wait_for(lambda: len(log_lines(p, needle)) >= at_least, timeout,
             "%d log line(s) with %r" % (at_least, needle))
    time.sleep(0.3)
    return log_lines(p, needle)


def login(c, user, pw, tag="L", timeout=None):
    """LOGIN with quoted strings; the tagged answer."""
    _u, t = c.cmd("LOGIN %s %s" % (imap_quote(user), imap_quote(pw)),
                  tag=tag, timeout=timeout)
    return t


def timed_login(c, user, pw, tag="L"):
    """(seconds until the tagged answer, the answer)."""
    t0 = time.monotonic()
    t = login(c, user, pw, tag=tag, timeout=30)
    return time.monotonic() - t0, t


def assert_refused_at_connect(p, src, listener="plain"):
    """A connection from SRC gets the per-address BYE and is closed."""
    c = p.client(listener, src=src, timeout=5)
    try:
        assert c.greeting == PER_IP_BYE, c.greeting
        rest = c.read_until_eof(timeout=5)
        assert rest == [], rest
    finally:
        c.close()


def start_proxy(make_proxy, files=None, **kw):
    """make_proxy(**KW) with FILES ({name: text}) written into its
    folder first, ready once every listener greets.  Its readiness
    probes come from an address of their own per listener (127.0.0.1
    is the default): with max_connections_per_ip = 1, a probe from the
    address of the one before it may be refused while the proxy has not
    yet seen that one close, which would count as a refusal and fail
    the start."""
    p = make_proxy(start=False, **kw)
    for name, text in (files or {}).items():
        (p.dir / name).write_text(text)

    def ready(timeout):
        deadline = time.monotonic() + timeout
        for i, (name, host, flags) in enumerate(p.listeners):
            while True:
                assert p.proc.poll() is None, p.diagnostics()
                assert time.monotonic() < deadline, p.diagnostics()
                try:
                    c = RawClient(host, p.ports[name],
                                  src=PROBE % (200 + i),
                                  tls="tls" in flags.split(), timeout=2)
                    c.close()
                    assert c.greeting.startswith("* OK"), c.greeting
                    break
                except (OSError, EOFError, socket.timeout):
                    time.sleep(0.05)

    p._wait_ready = ready
    p.start()
    return p


def active_sessions(p):
    return server_stats(p)["connections"]["active"]


@pytest.fixture
def fake():
    """A scripted back end answering at once: any user with password
    "good" logs in, any other password is NO [AUTHENTICATIONFAILED].
    (The session Dovecot takes about 0.5 s to refuse a password, which
    would blur the delays measured here and slow the many failures.)"""
    f = FakeBackend(mode="ok")
    yield f
    f.close()


def fake_backend(f):
    return {"fake": {"address": f.address, "connect_timeout": "5s",
                     "health_check_interval": "0"}}


# ---------------------------------------------------------------------
# max_connections_per_ip

def test_per_ip_limit_refuses_extra_connection(make_proxy):
    p = start_proxy(make_proxy, server={"max_connections_per_ip": "2"})
    # two places, taken over two listeners: the limit is per address
    held = [p.client("plain", src=ADDR_A), p.client("starttls", src=ADDR_A)]
    for c in held:
        assert c.greeting.startswith("* OK"), c.greeting
    assert_refused_at_connect(p, ADDR_A, "plain")
    assert_refused_at_connect(p, ADDR_A, "starttls")
    # another address has its own count
    others = [p.client("plain", src=ADDR_B) for _ in range(2)]
    for c in others:
        assert c.greeting.startswith("* OK"), c.greeting
        assert c.capabilities()
    # the held ones still work
    for c in held:
        _u, t = c.cmd("NOOP", tag="n")
        assert t.startswith("n OK"), t
    # a place given back is a place again
    before = active_sessions(p)
    held.pop(0).close()
    wait_for(lambda: active_sessions(p) == before - 1, what="close seen")
    again = p.client("plain", src=ADDR_A)
    assert again.greeting.startswith("* OK"), again.greeting
    held.append(again)
    assert_refused_at_connect(p, ADDR_A)
    srv = server_stats(p)
    assert srv["connections"]["refused"] == 3, srv
    assert refusals(p, "ip") == 3
    assert refusals(p, "user") == 0 and refusals(p, "auth_fail") == 0
    for c in held + others:
        c.close()


def test_per_ip_limit_tls_listener_no_handshake(make_proxy):
    """Over implicit TLS the refused client gets no handshake at all: the
    proxy closes as soon as it accepts, without waiting for a hello."""
    p = start_proxy(make_proxy, server={"max_connections_per_ip": "1"})
    held = p.client("plain", src=ADDR_A)
    assert held.greeting.startswith("* OK"), held.greeting
    tls_failures = server_stats(p)["tls_handshake_failures"]
    # raw TCP, saying nothing: closed at once, no byte sent
    s = socket.create_connection((HOST, p.ports["tls"]), timeout=5,
                                 source_address=(ADDR_A, 0))
    t0 = time.monotonic()
    try:
        data = s.recv(4096)
    except ConnectionResetError:
        data = b""
    finally:
        s.close()
    assert data == b"", data
    assert time.monotonic() - t0 < 3
    # a real TLS client from that address fails its handshake
    s = socket.create_connection((HOST, p.ports["tls"]), timeout=5,
                                 source_address=(ADDR_A, 0))
    try:
        try:
            client_ctx().wrap_socket(s, server_hostname="localhost")
            raise AssertionError("TLS handshake succeeded")
        except (ssl.SSLError, OSError):
            pass
    finally:
        s.close()
    srv = server_stats(p)
    assert srv["connections"]["refused"] == 2, srv
    # refused before any handshake started: not a handshake failure
    assert srv["tls_handshake_failures"] == tls_failures, srv
    assert refusals(p, "ip") == 2
    # another address is served over TLS; a silent one is kept waiting
    # for its hello (which is what the refused one was not)
    c = p.client("tls", src=ADDR_B)
    assert c.greeting.startswith("* OK"), c.greeting
    c.close()
    s = socket.create_connection((HOST, p.ports["tls"]), timeout=5,
                                 source_address=(ADDR_C, 0))
    s.settimeout(0.7)
    try:
        try:
            data = s.recv(4096)
            raise AssertionError("not waiting for a hello: %r" % data)
        except socket.timeout:
            pass
    finally:
        s.close()
    held.close()


def test_per_ip_refusals_logged_once_per_burst(make_proxy):
    p = start_proxy(make_proxy, server={"max_connections_per_ip": "1"})
    held = p.client("plain", src=ADDR_A)
    assert held.greeting.startswith("* OK"), held.greeting
    for _ in range(20):
        assert_refused_at_connect(p, ADDR_A)
    needle = "refused: max_connections_per_ip"
    lines = settled_log_lines(p, needle)
    assert len(lines) == 1, lines
    assert "client=%s:" % ADDR_A in lines[0], lines
    # every refusal is counted, though
    assert server_stats(p)["connections"]["refused"] == 20
    assert refusals(p, "ip") == 20
    # another client hammering the limit gets its own line
    held_b = p.client("plain", src=ADDR_B)
    for _ in range(5):
        assert_refused_at_connect(p, ADDR_B)
    lines = settled_log_lines(p, needle, at_least=2)
    assert len(lines) == 2, lines
    assert "client=%s:" % ADDR_B in lines[1], lines
    assert refusals(p, "ip") == 25
    assert p.alive()
    held.close()
    held_b.close()


# ---------------------------------------------------------------------
# max_connections_per_user

def test_per_user_limit(make_proxy, user, user2):
    name, pw = user
    name2, pw2 = user2
    # auth_fail_limit on: a per-user refusal must not count as a failure
    p = make_proxy(server={"max_connections_per_user": "2",
                           "auth_fail_limit": "2",
                           "auth_fail_window": "60s"})
    c1 = p.client("plain", src=ADDR_A)
    login_ok(c1, name, pw)
    c2 = p.client("plain", src=ADDR_B)      # any address: per user
    login_ok(c2, name, pw)
    # the third, its name in capitals (names are lower-cased)
    c3 = p.client("plain", src=ADDR_C)
    t = login(c3, name.upper(), pw, tag="x1")
    assert t == "x1 " + USER_LIMIT, t
    # ... still a usable pre-auth connection
    _u, t = c3.cmd("NOOP", tag="n")
    assert t.startswith("n OK"), t
    for i in range(2, 11):      # hammering: 10 refusals, any password
        t = login(c3, name, "guess-%d" % i, tag="x%d" % i)
        assert t == "x%d " % i + USER_LIMIT, t
    # another user is unaffected, over that very connection; and ten
    # [LIMIT] refusals did not block the address (auth_fail_limit 2)
    login_ok(c3, name2, pw2, tag="y")
    _u, t = c3.cmd("SELECT INBOX", tag="s")
    assert t.startswith("s OK"), t
    # the logged-in sessions work
    for c in (c1, c2):
        _u, t = c.cmd("SELECT INBOX", tag="s")
        assert t.startswith("s OK"), t
    needle = "refused: max_connections_per_user"
    lines = settled_log_lines(p, needle)
    assert len(lines) == 1, lines
    assert "user=%s " % name in lines[0], lines
    srv = server_stats(p)
    assert srv["logins"] == {"ok": 3, "failed": 10}, srv
    assert srv["connections"]["refused"] == 0, srv
    assert refusals(p, "user") == 10
    assert refusals(p, "ip") == 0 and refusals(p, "auth_fail") == 0
    # a session that ends gives its place back
    _u, t = c1.cmd("LOGOUT", tag="o")
    assert t.startswith("o OK"), t
    c1.read_until_eof(timeout=5)        # the proxy closed: released
    c1.close()
    c4 = p.client("plain", src=ADDR_D)
    # so does a login that fails: were the wrong password's place kept,
    # the right one would be refused
    t = login(c4, name, "wrong-password", tag="w")
    assert t.startswith("w " + AUTH_FAILED), t
    login_ok(c4, name, pw)
    c5 = p.client("plain", src=ADDR_D)
    t = login(c5, name, pw, tag="z")
    assert t == "z " + USER_LIMIT, t
    assert refusals(p, "user") == 11
    for c in (c2, c3, c4, c5):
        c.close()


def test_per_user_limit_counts_login_in_progress(make_proxy):
    """A login still waiting for its back end holds the user's place;
    it gives it back when that login ends without a session."""
    mute = FakeBackend(mode="silent")
    try:
        p = make_proxy(backends={"mute": {
            "address": mute.address, "connect_timeout": "1s",
            "health_check_interval": "0"}},
            server={"max_connections_per_user": "1"})
        c1 = p.client("plain", src=ADDR_A)
        c1.send("a LOGIN someone secret1\r\n")
        # no answer yet: the login is under way
        try:
            line = c1.readline(timeout=0.3)
            raise AssertionError("unexpected answer %r" % line)
        except socket.timeout:
            pass
        c2 = p.client("plain", src=ADDR_B)
        t0 = time.monotonic()
        t = login(c2, "Someone", "secret2", tag="b", timeout=5)
        assert t == "b " + USER_LIMIT, t
        assert time.monotonic() - t0 < 1.5
        # the first login gives up on the mute back end: place released
        _u, t = c1.read_response("a", timeout=10)
        assert t.startswith("a NO [UNAVAILABLE]"), t
        t = login(c2, "someone", "secret2", tag="c", timeout=10)
        assert t.startswith("c NO [UNAVAILABLE]"), t
        assert refusals(p, "user") == 1
        c1.close()
        c2.close()
    finally:
        mute.close()


# ---------------------------------------------------------------------
# auth_fail_limit, auth_fail_window

def test_auth_fail_limit_blocks_address_for_window(make_proxy, user, user2):
    name, pw = user
    name2, pw2 = user2
    window = 3.0
    p = make_proxy(server={"auth_fail_limit": "3",
                           "auth_fail_window": "%ds" % window})
    c = p.client("plain", src=ADDR_A)
    # The window opens when the proxy records the first failure: after
    # the request went out, before its answer came back.
    t_sent = time.monotonic()
    for i in range(3):                  # three distinct wrong passwords
        t = login(c, name, "wrong-%d" % i, tag="w%d" % i)
        assert t.startswith("w%d %s" % (i, AUTH_FAILED)), t
        if i == 0:
            t_answered = time.monotonic()
    blocked = 0
    # now the right password is refused too, on any connection, with
    # LOGIN or AUTHENTICATE, for any user
    t = login(c, name, pw, tag="r")
    assert t == "r " + AUTH_LIMIT, t
    blocked += 1
    c2 = p.client("plain", src=ADDR_A)
    _u, t = c2.cmd("AUTHENTICATE PLAIN " + b64("\0%s\0%s" % (name2, pw2)),
                   tag="a")
    assert t == "a " + AUTH_LIMIT, t
    blocked += 1
    # the connection stays usable
    _u, t = c2.cmd("NOOP", tag="n")
    assert t.startswith("n OK"), t
    # other addresses are not affected
    d = p.client("plain", src=ADDR_B)
    login_ok(d, name, pw)
    d.close()
    # hammering: refused every time, logged once
    for i in range(8):
        t = login(c, name, pw, tag="h%d" % i)
        assert t == "h%d %s" % (i, AUTH_LIMIT), t
        blocked += 1
    needle = "logins refused: auth_fail_limit"
    lines = settled_log_lines(p, needle)
    assert len(lines) == 1, lines
    assert "client=%s:" % ADDR_A in lines[0], lines
    srv = server_stats(p)
    assert srv["logins"] == {"ok": 1, "failed": 3 + blocked}, srv
    assert refusals(p, "auth_fail") == blocked
    assert refusals(p, "ip") == 0 and refusals(p, "user") == 0
    # refusals do not prolong the window: still blocked shortly before
    # it ends, let in once it has passed since the first failure
    left = t_sent + window - 0.5 - time.monotonic()
    assert left > 0, "test too slow to check the window"
    time.sleep(left)
    t = login(c, name, pw, tag="s")
    assert t == "s " + AUTH_LIMIT, t
    time.sleep(max(0.0, t_answered + window + 0.3 - time.monotonic()))
    login_ok(c2, name, pw, tag="ok")
    # and the count starts afresh: one more failure does not block
    c3 = p.client("plain", src=ADDR_A)
    t = login(c3, name, "wrong-again", tag="w")
    assert t.startswith("w " + AUTH_FAILED), t
    login_ok(c3, name2, pw2, tag="ok")
    for x in (c, c2, c3):
        x.close()


def test_auth_fail_same_password_counts_once(make_proxy, fake):
    """(A back end that answers at once: many failures, quickly.)"""
    p = make_proxy(backends=fake_backend(fake),
                   server={"auth_fail_limit": "3",
                           "auth_fail_window": "60s"})
    c = p.client("plain", src=ADDR_A)
    for i in range(10):                 # one wrong password, ten times
        t = login(c, "alice", "wrong-1", tag="a%d" % i)
        assert t.startswith("a%d %s" % (i, AUTH_FAILED)), t
    login_ok(c, "alice", "good")        # counted once: not blocked
    c.close()
    c = p.client("plain", src=ADDR_A)
    for i in range(5):                  # two of them, alternating
        for j in (2, 1):
            t = login(c, "alice", "wrong-%d" % j, tag="b%d%d" % (i, j))
            assert t.startswith("b%d%d %s" % (i, j, AUTH_FAILED)), t
    # two distinct failures so far; a success does not reset them
    login_ok(c, "alice", "good")
    c.close()
    c = p.client("plain", src=ADDR_A)
    t = login(c, "alice", "wrong-3", tag="c")
    assert t.startswith("c " + AUTH_FAILED), t
    t = login(c, "alice", "good", tag="d")
    assert t == "d " + AUTH_LIMIT, t
    # the same wrong password for other users is a distinct failure
    e = p.client("plain", src=ADDR_B)
    for i, u in enumerate(("bob", "carol", "dave")):
        t = login(e, u, "wrong-1", tag="e%d" % i)
        assert t.startswith("e%d %s" % (i, AUTH_FAILED)), t
    t = login(e, "bob", "good", tag="f")
    assert t == "f " + AUTH_LIMIT, t
    # and three different ones from a third address, too
    g = p.client("plain", src=ADDR_C)
    for i in range(3):
        t = login(g, "alice", "other-%d" % i, tag="g%d" % i)
        assert t.startswith("g%d %s" % (i, AUTH_FAILED)), t
    t = login(g, "alice", "good", tag="h")
    assert t == "h " + AUTH_LIMIT, t
    assert refusals(p, "auth_fail") == 3
    srv = server_stats(p)
    assert srv["logins"] == {"ok": 2, "failed": 10 + 10 + 1 + 3 + 3 + 3},\
        srv
    for x in (c, e, g):
        x.close()


def test_auth_fail_limit_counts_acl_refusals(make_proxy, user):
    """The proxy's own refusal at login (an ACL deny) is a failure."""
    name, pw = user
    p = start_proxy(make_proxy, server={"acl": "guard.acl",
                                        "auth_fail_limit": "2",
                                        "auth_fail_window": "60s"},
                    files={"guard.acl": "deny user mallory\nallow any\n"})
    c = p.client("plain", src=ADDR_A)
    # the real password, and another: both denied by the ACL
    for i, secret in enumerate((ACL_USERS["mallory"], "guess")):
        t = login(c, "mallory", secret, tag="m%d" % i)
        assert t.startswith("m%d %s" % (i, AUTH_FAILED)), t
    t = login(c, name, pw, tag="u")
    assert t == "u " + AUTH_LIMIT, t
    d = p.client("plain", src=ADDR_B)
    login_ok(d, name, pw)
    assert refusals(p, "auth_fail") == 1
    c.close()
    d.close()


# ---------------------------------------------------------------------
# auth_fail_delay

def test_auth_fail_delay_doubles_without_blocking_worker(make_proxy, fake):
    D = 0.4
    p = make_proxy(backends=fake_backend(fake),
                   server={"auth_fail_delay": "400ms"},
                   global_={"workers": "1"})
    # how long an undelayed login takes here
    base = []
    for i in range(3):
        c = p.client("plain", src=ADDR_D)
        dt, t = timed_login(c, "zed", "good", tag="base")
        assert t.startswith("base OK"), t
        base.append(dt)
        c.close()
    quick = max(base) + 0.2
    assert quick < 0.8 * D, base
    other = p.client("plain", src=ADDR_B)
    a = p.client("plain", src=ADDR_A)
    # D, then 2D
    for i, expect in enumerate((D, 2 * D)):
        dt, t = timed_login(a, "alice", "wrong-%d" % i, tag="w%d" % i)
        assert t.startswith("w%d %s" % (i, AUTH_FAILED)), t
        assert 0.8 * expect <= dt <= expect + 0.5, (i, dt, expect)
    # The third failure waits 4D: meanwhile the only worker serves
    # others, and the user, from elsewhere, is not locked out.
    t0 = time.monotonic()
    a.send('w2 LOGIN alice "wrong-2"\r\n')
    time.sleep(0.2)                     # the login is in its delay now
    t1 = time.monotonic()
    _u, t = other.cmd("NOOP", tag="n")
    assert t.startswith("n OK"), t
    assert time.monotonic() - t1 < quick
    c = p.client("plain", src=ADDR_C)
    dt, t = timed_login(c, "bob", "good", tag="o")
    assert t.startswith("o OK"), t
    assert dt < quick, (dt, base)
    c.close()
    c = p.client("plain", src=ADDR_C)
    dt, t = timed_login(c, "alice", "good", tag="o")
    assert t.startswith("o OK"), t
    assert dt < quick, (dt, base)
    c.close()
    # nothing said before the delay is over
    assert not select.select([a.sock], [], [], 0)[0], "answered early"
    _u, t = a.read_response("w2", timeout=15)
    dt = time.monotonic() - t0
    assert t.startswith("w2 " + AUTH_FAILED), t
    assert 0.8 * 4 * D <= dt <= 4 * D + 0.5, dt
    # another user's failure is not slowed by these
    c = p.client("plain", src=ADDR_C)
    dt, t = timed_login(c, "bob", "wrong", tag="v")
    assert t.startswith("v " + AUTH_FAILED), t
    assert 0.8 * D <= dt <= D + 0.5, dt
    c.close()
    # the user's own successful login above reset its count: back to
    # D, not 8D or more
    dt, t = timed_login(a, "alice", "wrong-3", tag="w3")
    assert t.startswith("w3 " + AUTH_FAILED), t
    assert 0.8 * D <= dt <= D + 0.25, dt
    dt, t = timed_login(a, "alice", "wrong-4", tag="w4")
    assert t.startswith("w4 " + AUTH_FAILED), t
    assert 0.8 * 2 * D <= dt <= 2 * D + 0.5, dt
    # the right password on that same connection: let in at once
    dt, t = timed_login(a, "alice", "good", tag="ok")
    assert t.startswith("ok OK"), t
    assert dt < quick, (dt, base)
    a.close()
    other.close()


def test_auth_fail_delay_applies_to_acl_refusals(make_proxy, fake):
    """A login the proxy itself refuses (ACL deny) is delayed the same."""
    D = 0.3
    p = start_proxy(make_proxy, backends=fake_backend(fake),
                    server={"acl": "guard.acl", "auth_fail_delay": "300ms"},
                    files={"guard.acl": "deny user mallory\nallow any\n"})
    c = p.client("plain", src=ADDR_A)
    for i, expect in enumerate((D, 2 * D, 4 * D)):
        dt, t = timed_login(c, "mallory", "good", tag="m%d" % i)
        assert t.startswith("m%d %s" % (i, AUTH_FAILED)), t
        assert 0.8 * expect <= dt <= expect + 0.5, (i, dt, expect)
    assert not fake.saw(b"mallory")     # refused by the proxy itself
    # a command pipelined behind the failed login waits for it, in order
    t0 = time.monotonic()
    c.send('m3 LOGIN mallory x\r\nn NOOP\r\n')
    _u, t = c.read_response("m3", timeout=15)
    assert t.startswith("m3 " + AUTH_FAILED), t
    _u, t = c.read_response("n", timeout=5)
    assert t.startswith("n OK"), t
    dt = time.monotonic() - t0
    assert 0.8 * 8 * D <= dt <= 8 * D + 0.5, dt
    dt, t = timed_login(c, "alice", "good", tag="ok")
    assert t.startswith("ok OK"), t
    assert dt < 0.8 * D, dt
    c.close()


def test_auth_fail_limit_refusal_not_delayed(make_proxy, fake):
    """Once an address is blocked its refusals come at once, and are not
    failures that lengthen the user's delay."""
    D = 0.3
    p = make_proxy(backends=fake_backend(fake),
                   server={"auth_fail_limit": "2", "auth_fail_window": "60s",
                           "auth_fail_delay": "300ms"})
    c = p.client("plain", src=ADDR_A)
    for i, expect in enumerate((D, 2 * D)):
        dt, t = timed_login(c, "alice", "wrong-%d" % i, tag="w%d" % i)
        assert t.startswith("w%d %s" % (i, AUTH_FAILED)), t
        assert 0.8 * expect <= dt <= expect + 0.5, (i, dt, expect)
    for i in range(5):
        dt, t = timed_login(c, "alice", "good", tag="b%d" % i)
        assert t == "b%d %s" % (i, AUTH_LIMIT), t
        assert dt < 0.8 * D, dt
    # from elsewhere: the user's third failure waits 4D, not more
    d = p.client("plain", src=ADDR_B)
    dt, t = timed_login(d, "alice", "wrong-2", tag="x")
    assert t.startswith("x " + AUTH_FAILED), t
    assert 0.8 * 4 * D <= dt <= 4 * D + 0.5, dt
    login_ok(d, "alice", "good")
    assert refusals(p, "auth_fail") == 5
    c.close()
    d.close()


# ---------------------------------------------------------------------
# bounded memory

def _fail_once(port, src, n):
    """Connect from SRC, fail one login, close: the tagged answer."""
    c = RawClient(HOST, port, src=src, timeout=10)
    try:
        if not c.greeting.startswith("* OK"):
            return "greeting " + c.greeting
        return login(c, "ghost-%d" % n, "guess-%d" % n, tag="g")
    finally:
        c.close()


def _fail_from(port, addrs, first=0):
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        futs = [ex.submit(_fail_once, port, a, first + i)
                for i, a in enumerate(addrs)]
        return [f.result(timeout=60) for f in futs]


def test_many_failing_addresses_bounded_memory(make_proxy, user):
    """2,000 addresses, each failing one login (as a user the ACL denies,
    so the proxy answers at once) with every limit on: each leaves a
    per-address and a per-user entry behind, and must cost little."""
    name, pw = user
    p = start_proxy(make_proxy, server={
        "acl": "guard.acl", "max_connections_per_ip": "5",
        "max_connections_per_user": "5", "auth_fail_limit": "3",
        "auth_fail_window": "10m", "auth_fail_delay": "10ms"},
        files={"guard.acl": "deny user ghost-*\nallow any\n"})
    port = p.ports["plain"]
    # warm-up from other addresses (thread stacks, buffers, first pages)
    warm = ["127.0.100.%d" % y for y in range(1, 201)]
    out = _fail_from(port, warm, first=100000)
    assert all(t.startswith("g " + AUTH_FAILED) for t in out), out[:5]
    time.sleep(0.5)
    rss0 = p.rss_kib()
    addrs = ["127.0.%d.%d" % (x, y) for x in range(1, 9)
             for y in range(1, 251)]
    assert len(addrs) == 2000
    t0 = time.monotonic()
    out = _fail_from(port, addrs)
    elapsed = time.monotonic() - t0
    bad = [t for t in out if not t.startswith("g " + AUTH_FAILED)]
    assert not bad, bad[:5]
    time.sleep(0.5)
    rss1 = p.rss_kib()
    growth = rss1 - rss0
    print("2000 failing addresses in %.1fs: RSS %d -> %d KiB (+%d)"
          % (elapsed, rss0, rss1, growth))
    # about 1 MiB here (two limiter entries of ~170 bytes per address,
    # allocator slack); a leak of 8 KiB per failed login would show
    assert growth < 8 * 1024 + SANITIZER_RSS_KIB, (rss0, rss1)
    # still serving, and counting
    c = p.client("plain", src=ADDR_A)
    login_ok(c, name, pw)
    _u, t = c.cmd("SELECT INBOX", tag="s")
    assert t.startswith("s OK"), t
    c.close()
    srv = server_stats(p)
    assert srv["logins"]["failed"] == 2200, srv
    assert srv["connections"]["refused"] == 0, srv
    assert refusals(p, "auth_fail") == 0
