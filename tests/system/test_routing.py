"""Many back ends (issue 5, SPEC.md sections 3 and 5): the routes map,
weighted rendezvous pools, health checks, max_connections, back-end TLS
with a CA the test makes, and ID forwarding seen by Dovecot itself.

Every test runs its own Dovecot stores (the `dovecots` fixture), each of
which answers a logged-in `ID` with ("x-store" NAME): a session tells
the test which store it reached.  Where mail must be, the test appends
a uniquely marked message through the proxy and then looks into every
store directly.
"""

import concurrent.futures
import re
import subprocess
import time
import uuid
from collections import Counter

import pytest

import certs
from conftest import (Proxy, daemon_path, imap_quote, route_users,
                      store_backend)
import dovecot as dv


# ---------------------------------------------------------------------
# helpers

def routed_proxy(make_proxy, backends, routes=None, server=None):
    """A started proxy with BACKENDS; ROUTES (text) is written to
    routes.map next to the configuration and named relatively."""
    p = make_proxy(backends=backends, server=server, start=False)
    if routes is not None:
        (p.dir / "routes.map").write_text(routes)
        p.server["routes"] = "routes.map"
    p.start()
    return p


def pool_backends(stores, pool, **keys):
    """{store.name: [backend] keys} with every store in POOL."""
    out = {}
    for d in stores:
        b = store_backend(d, pool=pool, connect_timeout="2s")
        b.update(keys.get(d.name, {}))
        out[d.name] = b
    return out


def session_store(c):
    """The store a logged-in session reached (its `ID` answer)."""
    u, t = c.cmd("ID NIL", tag="I")
    assert t.startswith("I OK"), (u, t)
    for line in u:
        m = re.search(r'"x-store" "([^"]+)"', line)
        if m:
            return m.group(1)
    raise AssertionError("no x-store in the ID answer: %r" % u)


def login(p, user, pw, src=None):
    """LOGIN through P: (client, tagged answer); the client stays open."""
    c = p.client("plain", src=src)
    _u, t = c.cmd("LOGIN %s %s" % (imap_quote(user), imap_quote(pw)),
                  tag="L", timeout=15)
    return c, t


def logout(c):
    try:
        c.cmd("LOGOUT", tag="O", timeout=5)
    except (OSError, EOFError):
        pass
    c.close()


def store_of(p, user, pw, src=None):
    """Log USER in through P, ask where the session is, log out.
    Returns the store name, or the tagged answer when LOGIN failed."""
    c, t = login(p, user, pw, src)
    try:
        if not t.startswith("L OK"):
            return t
        return session_store(c)
    finally:
        logout(c)


def wait_for(what, timeout, step=0.1):
    """Polls WHAT() until it returns something true; returns that, or
    None when TIMEOUT seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        v = what()
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(step)


def log_lines(p, pattern):
    return [l for l in p.log_text().splitlines() if re.search(pattern, l)]


def sample(subject):
    return dv.sample_message(subject=subject)


# ---------------------------------------------------------------------
# 1. the routes map: exact user, @domain, `*`, default_backend

ROUTES_FULL = """\
# exact user, domain, everyone else
alice@example.test      store1
@example.test           store2      # a comment after the target
*                       store3
"""

ROUTES_NO_STAR = """\
alice@example.test      store1
@example.test           store2
"""


def test_routes_land_on_the_right_store(make_proxy, dovecots):
    users = route_users(["alice@example.test", "bob@example.test",
                         "carol@other.test", "dave@sub.example.test"])
    stores = dovecots(3, users=users)
    by_name = dict((d.name, d) for d in stores)
    backends = dict((d.name, store_backend(d)) for d in stores)

    # exact, domain and `*`; default_backend (store2) must lose to `*`
    p1 = routed_proxy(make_proxy, backends, ROUTES_FULL,
                      server={"default_backend": "store2"})
    # exact and domain only: the rest go to default_backend
    p2 = routed_proxy(make_proxy, backends, ROUTES_NO_STAR,
                      server={"default_backend": "store1"})
    # no routes file at all: everyone goes to default_backend, a pool
    solo = dict(backends)
    solo["store3"] = dict(backends["store3"], pool="solo")
    p3 = routed_proxy(make_proxy, solo, None,
                      server={"default_backend": "pool:solo"})

    cases = [
        # (proxy, login name, mailbox owner, expected store)
        (p1, "alice@example.test", "alice@example.test", "store1"),
        # username_case = lower (the default): the route key matches
        (p1, "Alice@EXAMPLE.test", "alice@example.test", "store1"),
        (p1, "bob@example.test", "bob@example.test", "store2"),
        # @domain is that domain only, not the ones below it
        (p1, "dave@sub.example.test", "dave@sub.example.test", "store3"),
        (p1, "carol@other.test", "carol@other.test", "store3"),
        (p2, "alice@example.test", "alice@example.test", "store1"),
        (p2, "bob@example.test", "bob@example.test", "store2"),
        (p2, "carol@other.test", "carol@other.test", "store1"),
        (p2, "dave@sub.example.test", "dave@sub.example.test", "store1"),
        (p3, "alice@example.test", "alice@example.test", "store3"),
        (p3, "carol@other.test", "carol@other.test", "store3"),
    ]
    marks = []
    for i, (p, login_name, owner, want) in enumerate(cases):
        mark = "route-%d-%s" % (i, uuid.uuid4().hex)
        m = p.imap("plain")
        try:
            typ, data = m.login(login_name, users[owner])
            assert typ == "OK", (login_name, data)
            typ, data = m.append("INBOX", None, None, sample(mark))
            assert typ == "OK", (login_name, data)
        finally:
            m.logout()
        marks.append((mark, owner, want, login_name))

    wrong = []
    for mark, owner, want, login_name in marks:
        held = dict((n, d.holds(owner, mark)) for n, d in by_name.items())
        expected = dict((n, 1 if n == want else 0) for n in by_name)
        if held != expected:
            wrong.append("%s: message %s held %r, expected only on %s"
                         % (login_name, mark, held, want))
    assert not wrong, "\n".join(wrong)
    # the proxy says the same
    for p, login_name, _owner, want in cases:
        assert log_lines(p, r"user=%s logged in on %s$" % (
            re.escape(login_name), want)), p.log_text()[-3000:]


def test_route_to_a_pool(make_proxy, dovecots):
    """`@domain pool:NAME`: the domain's users are spread over the
    pool's members only; others still follow `*`."""
    names = ["p%02d@pooled.test" % i for i in range(30)] + ["x@else.test"]
    users = route_users(names)
    stores = dovecots(3, users=users)
    backends = pool_backends(stores[:2], "two")
    backends["store3"] = store_backend(stores[2])
    p = routed_proxy(make_proxy, backends,
                     "@pooled.test pool:two\n*  store3\n")
    got = Counter(store_of(p, u, users[u]) for u in names[:-1])
    assert set(got) == {"store1", "store2"}, got
    assert store_of(p, "x@else.test", users["x@else.test"]) == "store3"


# ---------------------------------------------------------------------
# 2. a weighted pool: shares, and the same store every time, everywhere

POOL_USERS = 600
WEIGHTS = {"store1": 1, "store2": 2, "store3": 3}


def test_pool_spreads_by_weight_and_sticks(make_proxy, dovecots):
    names = ["u%04d@pool.test" % i for i in range(POOL_USERS)]
    users = route_users(names)
    stores = dovecots(3, users=users)
    backends = pool_backends(stores, "stores", **dict(
        (n, {"weight": str(w)}) for n, w in WEIGHTS.items()))
    routes = "@pool.test pool:stores\n"
    p1 = routed_proxy(make_proxy, backends, routes)

    def round_(p):
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            return dict(zip(names, ex.map(
                lambda u: store_of(p, u, users[u]), names)))

    t0 = time.monotonic()
    first = round_(p1)
    failed = dict((u, s) for u, s in first.items() if s not in WEIGHTS)
    assert not failed, list(failed.items())[:5]
    shares = Counter(first.values())
    total = sum(WEIGHTS.values())
    for n, w in WEIGHTS.items():
        share = shares[n] / float(POOL_USERS)
        assert abs(share - w / float(total)) <= 0.07, (
            "%s: %.1f%% of users for weight %d/%d; all: %r"
            % (n, 100 * share, w, total, shares))

    # Dovecot's own logs agree: each user logged in once, on its store
    def logged():
        return dict((d.name, d.login_counts()) for d in stores)
    wait_for(lambda: sum(sum(c.values()) for c in logged().values())
             >= POOL_USERS, 5)
    counts = logged()
    for u, s in first.items():
        seen = dict((n, c[u]) for n, c in counts.items() if c[u])
        assert seen == {s: 1}, (u, s, seen)

    # reconnecting: the same store
    again = round_(p1)
    moved = [(u, first[u], again[u]) for u in names if again[u] != first[u]]
    assert not moved, "%d users moved on reconnect: %r" % (
        len(moved), moved[:10])

    # another proxy process with the same configuration: the same store
    p2 = routed_proxy(make_proxy, backends, routes)
    other = round_(p2)
    moved = [(u, first[u], other[u]) for u in names if other[u] != first[u]]
    assert not moved, "%d users on another store through a second " \
        "proxy: %r" % (len(moved), moved[:10])

    # the ranking is by back-end name: a node that lists the same back
    # ends in another order still agrees
    p3 = routed_proxy(make_proxy, dict(reversed(list(backends.items()))),
                      routes)
    other = round_(p3)
    moved = [(u, first[u], other[u]) for u in names if other[u] != first[u]]
    assert not moved, "%d users on another store through a proxy with " \
        "the back ends in another order: %r" % (len(moved), moved[:10])
    assert time.monotonic() - t0 < 60


# ---------------------------------------------------------------------
# 3. health checks: a store stopped is marked down, its users move to
#    their second choice and come back when it returns

def test_store_down_and_back(make_proxy, dovecots):
    names = ["h%02d@health.test" % i for i in range(24)]
    users = route_users(names)
    s1, s2 = dovecots(2, users=users)
    backends = pool_backends([s1, s2], "pair", **dict(
        (d.name, {"health_check_interval": "1s",
                  "connect_timeout": "1s"}) for d in (s1, s2)))
    p = routed_proxy(make_proxy, backends,
                     server={"default_backend": "pool:pair"})

    first = dict((u, store_of(p, u, users[u])) for u in names)
    a = [u for u in names if first[u] == "store1"]
    b = [u for u in names if first[u] == "store2"]
    assert a and b and len(a) + len(b) == len(names), first

    # a session in flight on the surviving store, kept open throughout
    keep, t = login(p, b[0], users[b[0]])
    assert t.startswith("L OK"), t

    t0 = time.monotonic()
    s1.halt()
    # store1's users: refused (UNAVAILABLE) until the checker marks it
    # down, then on store2
    got = wait_for(lambda: store_of(p, a[0], users[a[0]]) == "store2",
                   8, step=0.3)
    moved_after = time.monotonic() - t0
    assert got, "store1's users still not on store2 %.1fs after it " \
        "stopped\n%s" % (moved_after, p.log_text()[-3000:])
    assert moved_after < 6.5, moved_after
    assert log_lines(p, r"backend store1\b.*\bis down"), \
        p.log_text()[-3000:]
    for u in names:
        assert store_of(p, u, users[u]) == "store2", (u, first[u])

    t1 = time.monotonic()
    s1.restart()
    got = wait_for(lambda: store_of(p, a[0], users[a[0]]) == "store1",
                   8, step=0.3)
    back_after = time.monotonic() - t1
    assert got, "store1's users not back %.1fs after it returned\n%s" % (
        back_after, p.log_text()[-3000:])
    assert back_after < 6.5, back_after
    assert log_lines(p, r"backend store1\b.*\bis up"), p.log_text()[-3000:]
    for u in names:
        assert store_of(p, u, users[u]) == first[u], (u, first[u])

    # the session on store2 was never touched
    u, t = keep.cmd("NOOP", tag="n")
    assert t.startswith("n OK"), (u, t)
    assert session_store(keep) == "store2"
    logout(keep)
    # one change each way, none for store2 (no flapping)
    assert len(log_lines(p, r"backend store1\b.*\bis down")) == 1
    assert len(log_lines(p, r"backend store1\b.*\bis up")) == 1
    assert not log_lines(p, r"backend store2\b.*\bis (down|up)"), \
        p.log_text()[-3000:]


# ---------------------------------------------------------------------
# 4. max_connections: a full store sends its new users to their
#    second choice

def test_max_connections_full_store(make_proxy, dovecots):
    names = ["m%02d@max.test" % i for i in range(16)]
    users = route_users(names)
    s1, s2 = dovecots(2, users=users)
    server = {"default_backend": "pool:pair"}
    # first choices, with no limits
    free = routed_proxy(make_proxy, pool_backends([s1, s2], "pair"),
                        server=server)
    first = dict((u, store_of(free, u, users[u])) for u in names)
    a = [u for u in names if first[u] == "store1"]
    b = [u for u in names if first[u] == "store2"]
    assert len(a) >= 2 and len(b) >= 2, first

    p = routed_proxy(make_proxy, pool_backends(
        [s1, s2], "pair", store1={"max_connections": "1"}), server=server)
    holder, t = login(p, a[0], users[a[0]])
    assert t.startswith("L OK"), t
    assert session_store(holder) == "store1"
    # store1 is full: the next of its users goes to store2 ...
    assert store_of(p, a[1], users[a[1]]) == "store2"
    # ... and store2's users stay where they are
    assert store_of(p, b[0], users[b[0]]) == "store2"
    logout(holder)
    # the place is free again once the session is over
    assert wait_for(lambda: store_of(p, a[1], users[a[1]]) == "store1",
                    3, step=0.2), p.log_text()[-3000:]
    # a login that fails on store1 gives its place back too (once the
    # probe's session above has ended, or this login would go to store2)
    assert wait_for(lambda: [x["sessions"] for x in p.ask_json("backends")[
        "backends"] if x["name"] == "store1"] == [0], 3, step=0.1)
    c, t = login(p, a[0], "wrong-password")
    assert t.startswith("L NO [AUTHENTICATIONFAILED]"), t
    logout(c)
    assert wait_for(lambda: store_of(p, a[1], users[a[1]]) == "store1",
                    3, step=0.2), p.log_text()[-3000:]
    assert log_lines(p, r"user=%s login failed on store1" % re.escape(a[0]))

    # every member full: NO [UNAVAILABLE]
    q = routed_proxy(make_proxy, pool_backends(
        [s1, s2], "pair", store1={"max_connections": "1"},
        store2={"max_connections": "1"}), server=server)
    h1, t = login(q, a[0], users[a[0]])
    assert t.startswith("L OK"), t
    h2, t = login(q, b[0], users[b[0]])
    assert t.startswith("L OK"), t
    assert {session_store(h1), session_store(h2)} == {"store1", "store2"}
    time.sleep(0.3)
    before = [d.login_counts() for d in (s1, s2)]
    for u in (a[1], b[1]):
        c, t = login(q, u, users[u])
        assert t.startswith("L NO [UNAVAILABLE]"), t
        u_, t = c.cmd("NOOP", tag="n")     # the client may try again
        assert t.startswith("n OK"), t
        logout(c)
    logout(h1)
    logout(h2)
    # the refused users never reached a store
    time.sleep(0.3)
    assert [d.login_counts() for d in (s1, s2)] == before
    assert wait_for(lambda: store_of(q, b[1], users[b[1]]) == "store2",
                    3, step=0.2)


# ---------------------------------------------------------------------
# 5. back-end TLS with a CA the test makes

def test_backend_tls_with_a_ca(make_proxy, dovecots, tmp_path):
    ca = certs.make_ca(str(tmp_path / "ca"), "Routing Test CA")
    leaf = certs.make_signed_cert(str(tmp_path / "ca"), "store1.internal",
                                  ["store1.internal"], ca)
    other_ca = certs.make_ca(str(tmp_path / "other"), "Another CA")
    names = ["imaps", "stls", "wrongname", "wrongca"]
    users = route_users("%s@tls.test" % n for n in names)
    (d,) = dovecots(1, users=users, tls=True, cert=leaf)
    imaps = "%s:%d" % (d.host, d.tls_port)
    common = {"tls_verify": "yes", "tls_server_name": "store1.internal",
              "tls_ca": ca[0]}
    backends = {
        "imaps": store_backend(d, address=imaps, tls="yes", **common),
        "stls": store_backend(d, tls="starttls", **common),
        "wrongname": store_backend(d, address=imaps, tls="yes", **dict(
            common, tls_server_name="store2.internal")),
        "wrongca": store_backend(d, address=imaps, tls="yes", **dict(
            common, tls_ca=other_ca[0])),
    }
    routes = "".join("%s@tls.test %s\n" % (n, n) for n in backends)
    p = routed_proxy(make_proxy, backends, routes,
                     server={"default_backend": "imaps"})

    for n in ("imaps", "stls"):
        u = "%s@tls.test" % n
        assert store_of(p, u, users[u]) == "store1"
        lines = wait_for(lambda: d.login_lines(u), 3)
        assert lines and re.search(r"tls=<TLSv1\.[23]", lines[-1]), lines

    for n in ("wrongname", "wrongca"):
        u = "%s@tls.test" % n
        c, t = login(p, u, users[u])
        assert t.startswith("L NO [UNAVAILABLE]"), t
        _u, t = c.cmd("NOOP", tag="n")
        assert t.startswith("n OK"), t
        logout(c)
        assert d.login_lines(u) == [], d.login_lines(u)
    name_fail = log_lines(p, r"user=wrongname@tls\.test backend wrongname "
                          r"unavailable")
    assert name_fail and re.search(r"hostname mismatch",
                                   name_fail[-1]), p.log_text()[-3000:]
    ca_fail = log_lines(p, r"user=wrongca@tls\.test backend wrongca "
                        r"unavailable")
    assert ca_fail and re.search(r"certificate verify failed|issuer",
                                 ca_fail[-1]), \
        p.log_text()[-3000:]


# ---------------------------------------------------------------------
# 6. forward_id: Dovecot itself sees the client's address

def who_ips(d, user):
    """The addresses `doveadm who` lists for USER ('' when absent)."""
    for f in d.who():
        if f and f[0] == user:
            return " ".join(f[1:])
    return ""


def test_forward_id_seen_by_dovecot(make_proxy, dovecots):
    users = route_users(["fwd-on", "fwd-off"])
    (d,) = dovecots(1, users=users)
    p = make_proxy(backends={"store1": store_backend(d)})
    q = make_proxy(backends={"store1": store_backend(d, forward_id="no")})

    c, t = login(p, "fwd-on", users["fwd-on"], src="127.0.0.7")
    assert t.startswith("L OK"), t
    try:
        ips = wait_for(lambda: who_ips(d, "fwd-on"), 3)
        assert ips and "(127.0.0.7)" in ips, d.who()
    finally:
        logout(c)
    lines = wait_for(lambda: d.login_lines("fwd-on"), 3)
    assert lines and "rip=127.0.0.7," in lines[-1], lines
    # Dovecot's session id is the proxy's (x-session-id)
    sid = re.search(r"session=<([^>]*)>", lines[-1]).group(1)
    mine = log_lines(p, r"sess=%s .*user=fwd-on logged in on store1"
                     % re.escape(sid))
    assert mine, (sid, p.log_text()[-3000:])

    c, t = login(q, "fwd-off", users["fwd-off"], src="127.0.0.7")
    assert t.startswith("L OK"), t
    try:
        ips = wait_for(lambda: who_ips(d, "fwd-off"), 3)
        assert ips and "(127.0.0.1)" in ips, d.who()
    finally:
        logout(c)
    lines = wait_for(lambda: d.login_lines("fwd-off"), 3)
    assert lines and "rip=127.0.0.1," in lines[-1], lines


# ---------------------------------------------------------------------
# 7. imapproxyd -t: routing mistakes are configuration errors

def check(tmp_path, backends, routes=None, server=None):
    """imapproxyd -t on a configuration with BACKENDS ({name: keys})
    and ROUTES (text of routes.map, named relatively); run from another
    folder.  Returns (exit status, output, config text)."""
    p = Proxy(tmp_path, backends, server=server,
              listeners=(("plain", "127.0.0.1", ""),))
    if routes is not None:
        (tmp_path / "routes.map").write_text(routes)
        p.server["routes"] = "routes.map"
    p.write_config()
    r = subprocess.run([daemon_path(), "-t", "-c", str(p.conf)],
                       capture_output=True, text=True, timeout=10,
                       cwd="/")
    return r.returncode, r.stdout + r.stderr, p.conf.read_text()


def conf_line(text, prefix):
    """1-based number of the configuration line starting with PREFIX."""
    for i, l in enumerate(text.splitlines(), 1):
        if l.startswith(prefix):
            return i
    raise AssertionError("no %r line in:\n%s" % (prefix, text))


CLI_BACKENDS = {
    "store1": {"address": "127.0.0.1:1143", "pool": "stores"},
    "store2": {"address": "127.0.0.1:1144", "pool": "stores",
               "weight": "3"},
    "solo": {"address": "127.0.0.1:1145"},
}


def test_check_good_routes(tmp_path):
    rc, out, _ = check(tmp_path, CLI_BACKENDS,
                       "# comment\n\nalice@example.test solo\n"
                       "@example.test pool:stores\n* store2\n",
                       server={"default_backend": "pool:stores"})
    assert rc == 0, out


@pytest.mark.parametrize("routes,line", [
    # a target naming no back end
    ("alice@example.test solo\n@example.test store9\n", 2),
    # a pool that does not exist
    ("alice@example.test solo\n\n# c\n* pool:nosuch\n", 4),
    # a pool name used as a back end name, and the other way round
    ("* stores\n", 1),
    ("alice@example.test pool:solo\n", 1),
    # syntax: a key without a target, an empty pool name
    ("alice@example.test solo\nbob@example.test\n", 2),
    ("alice@example.test pool:\n", 1),
    # the same key twice
    ("alice@example.test solo\nalice@example.test store1\n", 2),
])
def test_check_bad_routes(tmp_path, routes, line):
    rc, out, _ = check(tmp_path, CLI_BACKENDS, routes)
    assert rc == 1, out
    assert re.search(r"routes\.map:%d: " % line, out), out
    # nothing reported against the good lines
    for other in range(1, line):
        assert not re.search(r"routes\.map:%d: " % other, out), out


def test_check_missing_routes_file(tmp_path):
    p = Proxy(tmp_path, CLI_BACKENDS, server={"routes": "nowhere.map"},
              listeners=(("plain", "127.0.0.1", ""),))
    p.write_config()
    r = subprocess.run([daemon_path(), "-t", "-c", str(p.conf)],
                       capture_output=True, text=True, timeout=10, cwd="/")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "nowhere.map" in r.stdout + r.stderr


SOLO = {"default_backend": "solo"}


@pytest.mark.parametrize("server,backend_over,key", [
    ({"default_backend": "nosuch"}, {}, "default_backend"),
    ({"default_backend": "pool:nosuch"}, {}, "default_backend"),
    ({"default_backend": "pool:solo"}, {}, "default_backend"),
    (SOLO, {"weight": "0"}, "weight"),
    (SOLO, {"weight": "1001"}, "weight"),
    (SOLO, {"health_check_interval": "often"}, "health_check_interval"),
    (SOLO, {"max_connections": "-1"}, "max_connections"),
])
def test_check_bad_routing_keys(tmp_path, server, backend_over, key):
    backends = dict(CLI_BACKENDS)
    backends["store1"] = dict(backends["store1"], **backend_over)
    rc, out, text = check(tmp_path, backends, server=server)
    assert rc == 1, out
    line = conf_line(text, key + " ")
    assert re.search(r"imapproxy\.conf:%d: " % line, out), (line, out)
    # and nothing else
    assert len(re.findall(r"imapproxy\.conf:\d+: ", out)) == 1, out
