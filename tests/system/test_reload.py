"""Live reload (SPEC.md section 2, SIGHUP, and the stats socket's
`reload`): established sessions, IDLE included, survive any number of
reloads; a file that fails leaves the running one deciding and is
reported as FILE:LINE; changed ACLs, routes, certificates and greetings
apply to new connections; listeners open and close; keys read only at
start are reported as needing a restart."""

import signal
import socket
import ssl
import time

import pytest

from conftest import (HOST, RawClient, cert_der, client_ctx, imap_quote,
                      login_ok, route_users, store_backend, wait_for)
import dovecot as dv


def reload_via_socket(p):
    doc = p.ask_json("reload")
    assert doc["ok"] is True, doc
    return doc


def reload_via_signal(p):
    """SIGHUP, then waits until the daemon counts the reload."""
    before = p.ask_json("stats")["reloads"]
    p.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: p.ask_json("stats")["reloads"] != before), \
        "SIGHUP reload not counted"
    return p.ask_json("stats")["reloads"]


def set_key(p, key, value):
    """Replaces `key = ...` in the [server default] section (or adds it)."""
    lines = p.conf.read_text().splitlines()
    out, done = [], False
    for line in lines:
        if line.split("=")[0].strip() == key and not done:
            out.append("%s = %s" % (key, value))
            done = True
        else:
            out.append(line)
    if not done:
        i = out.index("[server default]")
        out.insert(i + 1, "%s = %s" % (key, value))
    p.conf.write_text("\n".join(out) + "\n")


def greeting_of(p, listener="plain"):
    c = p.client(listener)
    c.close()
    return c.greeting


def test_200_sessions_survive_20_reloads(make_proxy, dovecots, tmp_path):
    users = route_users(["rl%d" % i for i in range(20)])
    (store,) = dovecots(1, users=users)
    acl = tmp_path / "r.acl"
    acl.write_text("allow any\n")
    p = make_proxy(backends={"store": store_backend(store)},
                   server={"acl": str(acl)})
    sessions, idlers = [], []
    names = sorted(users)
    for i in range(200):
        name = names[i % len(names)]
        c = p.client("plain", src="127.0.2.%d" % (1 + i % 200))
        login_ok(c, name, users[name])
        sessions.append(c)
    for c in sessions[:50]:
        c.send("i IDLE\r\n")
        assert c.readline(timeout=10).startswith(b"+ "), "IDLE not accepted"
        idlers.append(c)
    for n in range(20):
        set_key(p, "greeting", "Reload number %d" % n)
        # Alternate rules so each reload loads a different ACL.
        acl.write_text("deny ip 127.0.9.%d\nallow any\n" % (n + 1))
        if n % 2:
            reload_via_signal(p)
        else:
            reload_via_socket(p)
        assert greeting_of(p).endswith("] Reload number %d" % n)
    assert p.ask_json("stats")["reloads"] == {"ok": 20, "failed": 0}
    refused = RawClient(HOST, p.ports["plain"], src="127.0.9.20")
    assert refused.greeting == "* BYE Access denied"
    refused.close()
    # Nobody was told anything, and everybody still answers.
    for c in idlers:
        c.send("DONE\r\n")
        _u, t = c.read_response("i", timeout=10)
        assert t.startswith("i OK"), t
    for k, c in enumerate(sessions):
        _u, t = c.cmd("NOOP", tag="n%d" % k, timeout=10)
        assert t.startswith("n%d OK" % k), t
    assert len([s for s in p.ask_json("sessions")["sessions"]
                if s["user"] is not None]) == 200
    for c in sessions:
        c.close()


def test_broken_acl_leaves_the_old_rules_deciding(make_proxy, tmp_path):
    acl = tmp_path / "a.acl"
    acl.write_text("deny ip 127.0.0.5\nallow any\n")
    p = make_proxy(server={"acl": str(acl)})
    acl.write_text("deny ip 127.0.0.6\nallow bogus-selector\nallow any\n")
    doc = p.ask_json("reload")
    assert doc["ok"] is False, doc
    assert any(e.startswith("%s:2: " % acl) for e in doc["errors"]), doc
    assert "%s:2: " % acl in p.log_text()
    assert "the running configuration stays" in p.log_text()
    # The old file still decides: .5 refused, .6 let in.
    c = RawClient(HOST, p.ports["plain"], src="127.0.0.5")
    assert c.greeting == "* BYE Access denied"
    c.close()
    c = RawClient(HOST, p.ports["plain"], src="127.0.0.6")
    assert c.greeting.startswith("* OK")
    c.close()
    assert p.ask_json("stats")["reloads"] == {"ok": 0, "failed": 1}
    # Fixed, it applies.
    acl.write_text("deny ip 127.0.0.6\nallow any\n")
    reload_via_socket(p)
    c = RawClient(HOST, p.ports["plain"], src="127.0.0.6")
    assert c.greeting == "* BYE Access denied"
    c.close()
    c = RawClient(HOST, p.ports["plain"], src="127.0.0.5")
    assert c.greeting.startswith("* OK")
    c.close()


def test_broken_config_is_reported_to_the_caller(make_proxy):
    p = make_proxy()
    set_key(p, "login_timeout", "soon")
    lineno = [i for i, l in enumerate(p.conf.read_text().splitlines(), 1)
              if l.startswith("login_timeout")][0]
    doc = p.ask_json("reload")
    assert doc["ok"] is False
    assert doc["errors"][0].startswith("%s:%d: [server default] "
                                       "login_timeout:" % (p.conf, lineno))
    r = p.ctl("reload")
    assert r.returncode == 1
    assert "%s:%d:" % (p.conf, lineno) in r.stderr
    assert greeting_of(p).startswith("* OK")


def test_changed_acl_applies_to_logins_after_the_reload(make_proxy, tmp_path, user):
    acl = tmp_path / "u.acl"
    acl.write_text("allow any\n")
    p = make_proxy(server={"acl": str(acl)})
    c = p.client("plain")
    login_ok(c, *user)
    pre = p.client("plain")              # connected before, logs in after
    acl.write_text("deny user %s\nallow any\n" % user[0])
    reload_via_socket(p)
    _u, t = c.cmd("SELECT INBOX", tag="s")
    assert t.startswith("s OK"), t       # the session stays
    d = p.client("plain")
    _u, t = d.cmd("LOGIN %s %s" % (imap_quote(user[0]), imap_quote(user[1])),
                  tag="l")
    assert t.startswith("l NO [AUTHENTICATIONFAILED]"), t
    # A login after the reload is judged by the new rules, also on a
    # connection accepted before it.
    _u, t = pre.cmd("LOGIN %s %s" % (imap_quote(user[0]),
                                     imap_quote(user[1])), tag="p")
    assert t.startswith("p NO [AUTHENTICATIONFAILED]"), t
    for x in (c, d, pre):
        x.close()


def test_listeners_open_and_close(make_proxy, user):
    p = make_proxy()
    c = p.client("starttls")
    login_ok(c, *user)
    extra = dv.free_port(HOST)
    text = p.conf.read_text()
    old_listen = [l for l in text.splitlines() if l.startswith("listen")][0]
    # Drop the STARTTLS listener, add a new one.
    kept = [x.strip() for x in old_listen.split("=", 1)[1].split(",")
            if "starttls" not in x]
    new_listen = "listen = " + ", ".join(kept + ["%s:%d" % (HOST, extra)])
    p.conf.write_text(text.replace(old_listen, new_listen))
    doc = reload_via_socket(p)
    assert doc["listeners"]["opened"] == ["%s:%d" % (HOST, extra)]
    assert doc["listeners"]["closed"] == ["%s:%d" % (HOST, p.ports[
        "starttls"])]
    n = RawClient(HOST, extra)
    assert n.greeting.startswith("* OK")
    n.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((HOST, p.ports["starttls"]), timeout=5)
    # The session on the closed listener carries on.
    _u, t = c.cmd("NOOP", tag="n")
    assert t.startswith("n OK"), t
    # Kept listeners never stopped accepting.
    assert greeting_of(p).startswith("* OK")
    c.close()


def test_listener_that_cannot_bind_fails_the_reload(make_proxy):
    p = make_proxy()
    blocker = socket.socket()
    blocker.bind((HOST, 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    text = p.conf.read_text()
    p.conf.write_text(text.replace("listen = ", "listen = %s:%d, " % (
        HOST, port), 1))
    doc = p.ask_json("reload")
    assert doc["ok"] is False
    assert any("%s:%d" % (HOST, port) in e for e in doc["errors"]), doc
    blocker.close()
    assert greeting_of(p).startswith("* OK")


def test_certificate_reloaded(make_proxy, pki):
    p = make_proxy(certs_=[pki["org"]])
    ctx = client_ctx()

    def served():
        with socket.create_connection((HOST, p.ports["tls"]), timeout=5) \
                as s, ctx.wrap_socket(s) as t:
            return t.getpeercert(binary_form=True)
    assert served() == cert_der(pki["org"][0])
    text = p.conf.read_text()
    p.conf.write_text(text.replace("tls_cert = %s %s" % pki["org"],
                                   "tls_cert = %s %s" % pki["other"]))
    reload_via_signal(p)
    assert served() == cert_der(pki["other"][0])


def test_routes_reloaded(make_proxy, dovecots, tmp_path):
    users = route_users(["ra", "rb"])
    s1, s2 = dovecots(2, users=users)
    routes = tmp_path / "routes.map"
    routes.write_text("ra store1\n")
    p = make_proxy(backends={"store1": store_backend(s1),
                             "store2": store_backend(s2)},
                   server={"routes": str(routes),
                           "default_backend": "store1"})

    def store(name):
        c = p.client("plain")
        login_ok(c, name, users[name])
        u, t = c.cmd("ID NIL", tag="I")
        c.close()
        return [x for x in u if "x-store" in x][0]
    assert '"store1"' in store("ra")
    routes.write_text("ra store2\n")
    reload_via_socket(p)
    assert '"store2"' in store("ra")
    routes.write_text("ra store9\n")     # no such back end: refused whole
    doc = p.ask_json("reload")
    assert doc["ok"] is False
    assert any(e.startswith("%s:1: " % routes) for e in doc["errors"])
    assert '"store2"' in store("ra")


def test_keys_read_at_start_are_reported(make_proxy):
    p = make_proxy()
    text = p.conf.read_text()
    p.conf.write_text(text.replace("workers = 2", "workers = 1"))
    doc = reload_via_socket(p)
    assert any("workers: changed; takes effect after a restart" in w
               for w in doc["warnings"]), doc
    assert "takes effect after a restart" in p.log_text()
