"""imapproxyctl against a running daemon (SPEC.md section 6): `who` and
the other tables, --json as the daemon wrote it, kick and backend
enable/disable as an admin uses them, and the exit statuses 0, 1 and 2."""

import json
import re
import subprocess

from conftest import CTL, HOST, login_ok, route_users, store_backend


def ctl(*args, timeout=30):
    return subprocess.run([str(CTL), *args], capture_output=True, text=True,
                          timeout=timeout)


def rows(text):
    """Table rows as lists of cells (split on runs of 2+ spaces)."""
    lines = text.rstrip("\n").split("\n")
    return [re.split(r"  +", l.strip()) for l in lines]


def test_who_shows_client_country_backend_and_tls(make_proxy, user, user2,
                                                 geoip):
    p = make_proxy(global_={"geoip_db": str(geoip["country"])})
    a = p.client("tls", src="127.0.0.70")        # DE in the test database
    login_ok(a, *user)
    b = p.client("plain", src="127.0.0.33")      # RU
    login_ok(b, *user)
    c = p.client("plain", src="127.0.0.9")
    login_ok(c, *user2)
    r = p.ctl("who")
    assert r.returncode == 0, r
    t = rows(r.stdout)
    assert t[0] == ["USER", "SESSIONS", "CLIENTS", "COUNTRIES", "BACKENDS",
                    "TLS", "OLDEST"], t
    by = dict((x[0], x) for x in t[1:])
    assert by[user[0]][1:6] == ["2", "127.0.0.33,127.0.0.70", "DE,RU",
                                "store", by[user[0]][5]]
    assert by[user[0]][5].startswith("TLSv1."), by
    assert by[user2[0]][1:6] == ["1", "127.0.0.9", "-", "store", "-"]
    assert not any(l.endswith(" ") for l in r.stdout.splitlines())
    # A pattern picks users.
    r = p.ctl("who", user2[0][0] + "?" + user2[0][2:])    # a glob
    names = [x[0] for x in rows(r.stdout)[1:]]
    assert user2[0] in names and user[0] not in names
    for x in (a, b, c):
        x.close()


def test_json_is_the_daemons_document(make_proxy, user):
    p = make_proxy()
    c = p.client("plain")
    login_ok(c, *user)
    for cmd in ("sessions", "backends", "stats"):
        r = p.ctl(cmd, "--json")
        assert r.returncode == 0
        doc = json.loads(r.stdout)
        assert doc["ok"] is True
    r = p.ctl("--json", "sessions")
    assert json.loads(r.stdout)["sessions"][0]["user"] == user[0]
    r = p.ctl("metrics")
    assert r.returncode == 0 and "# TYPE imapproxy_sessions gauge" in r.stdout
    c.close()


def test_tables_for_sessions_backends_stats(make_proxy, user):
    p = make_proxy()
    c = p.client("plain")
    login_ok(c, *user)
    r = p.ctl("sessions")
    t = rows(r.stdout)
    assert t[0][:4] == ["ID", "USER", "CLIENT", "COUNTRY"]
    assert t[1][1] == user[0] and t[1][2].startswith("127.0.0.1:")
    r = p.ctl("backends")
    t = rows(r.stdout)
    assert t[0] == ["NAME", "ADDRESS", "POOL", "STATE", "SESSIONS",
                    "LAST-CHECK"]
    assert t[1][0] == "store" and t[1][3] == "up" and t[1][4] == "1"
    r = p.ctl("stats")
    assert r.returncode == 0
    assert re.search(r"logins:\s+1 ok, 0 failed", r.stdout), r.stdout
    c.close()


def test_kick_from_the_command_line(make_proxy, user, user2):
    p = make_proxy()
    a = p.client("plain")
    login_ok(a, *user)
    b = p.client("plain")
    login_ok(b, *user2)
    r = p.ctl("kick", user[0])
    assert r.returncode == 0 and r.stdout.strip() == "kicked 1 session"
    assert a.readline(timeout=5).decode() == \
        "* BYE Session terminated by administrator"
    _u, t = b.cmd("NOOP", tag="n")
    assert t.startswith("n OK")
    r = p.ctl("kick", user[0])
    assert r.returncode == 1 and "no session matches" in r.stderr
    a.close()
    b.close()


def test_backend_disable_moves_new_logins_elsewhere(make_proxy, dovecots):
    users = route_users(["pa%d" % i for i in range(12)])
    s1, s2 = dovecots(2, users=users)
    p = make_proxy(backends={
        "store1": store_backend(s1, pool="stores"),
        "store2": store_backend(s2, pool="stores")},
        server={"default_backend": "pool:stores"})

    def store(c):
        u, t = c.cmd("ID NIL", tag="I")
        return re.search(r'"x-store" "([^"]+)"', " ".join(u)).group(1)
    held = {}
    for name in users:
        c = p.client("plain")
        login_ok(c, name, users[name])
        held[name] = (c, store(c))
    on1 = [n for n, (_c, s) in held.items() if s == "store1"]
    assert on1, "rendezvous put nobody on store1"
    r = p.ctl("backend", "disable", "store1")
    assert r.returncode == 0 and r.stdout.strip() == "store1: disabled"
    # Sessions on store1 stay; new logins of its users go to store2.
    for name in on1:
        c, _s = held[name]
        _u, t = c.cmd("NOOP", tag="n")
        assert t.startswith("n OK")
        d = p.client("plain")
        login_ok(d, name, users[name])
        assert store(d) == "store2"
        d.close()
    assert p.ctl("backend", "enable", "store1").stdout.strip() == \
        "store1: up"
    d = p.client("plain")
    login_ok(d, on1[0], users[on1[0]])
    assert store(d) == "store1"
    d.close()
    for c, _s in held.values():
        c.close()


def test_exit_statuses(make_proxy, tmp_path):
    p = make_proxy()
    assert p.ctl("backends").returncode == 0
    assert p.ctl("backend", "disable", "nosuch").returncode == 1
    assert p.ctl("frobnicate").returncode == 1
    # No daemon behind the path: 2, and the message names it.
    r = ctl("-s", str(tmp_path / "nothing.sock"), "sessions")
    assert r.returncode == 2
    assert "cannot reach %s" % (tmp_path / "nothing.sock") in r.stderr
    # The socket found through the configuration.
    r = ctl("-c", str(p.conf), "backends")
    assert r.returncode == 0 and "store" in r.stdout
    p.stop()
    r = ctl("-c", str(p.conf), "backends")
    assert r.returncode == 2


def test_help():
    r = ctl("--help")
    assert r.returncode == 0
    for word in ("SYNOPSIS", "who [PATTERN]", "kick USER|ID", "EXIT STATUS",
                 "backend enable NAME"):
        assert word in r.stdout
