"""TLS on both sides: implicit TLS and SNI, STARTTLS (and its plaintext
injection), require_tls, and TLS to the back end."""

import imaplib
import re
import socket
import ssl
import subprocess
import time

import pytest

from conftest import (HOST, FakeBackend, b64, caps_of, cert_der,
                      client_ctx, login_ok, store_backend, wait_for)


def s_client(args, stdin=b"", timeout=15):
    r = subprocess.run(["openssl", "s_client", *args], input=stdin,
                       capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode(errors="replace") + \
        r.stderr.decode(errors="replace")


def presented_cert(port, sni):
    """DER of the certificate the proxy presents for SNI (None: no SNI)."""
    s = socket.create_connection((HOST, port), timeout=10)
    t = client_ctx().wrap_socket(s, server_hostname=sni)
    der = t.getpeercert(binary_form=True)
    t.close()
    return der


# -- implicit TLS and SNI ------------------------------------------------

def test_sni_openssl_s_client(proxy, pki):
    port = proxy.ports["tls"]
    rc, out = s_client(["-connect", "%s:%d" % (HOST, port),
                        "-servername", "mail.example.org", "-brief"],
                       stdin=b"a LOGOUT\r\n")
    assert "Peer certificate: CN = mail.example.org" in out, out
    rc, out = s_client(["-connect", "%s:%d" % (HOST, port),
                        "-servername", "imap.example.net", "-brief"],
                       stdin=b"a LOGOUT\r\n")
    assert "Peer certificate: CN = wild.example.net" in out, out


def test_sni_selection(proxy, pki):
    port = proxy.ports["tls"]
    org, net = cert_der(pki["org"][0]), cert_der(pki["net"][0])
    assert presented_cert(port, "mail.example.org") == org
    assert presented_cert(port, "imap.example.net") == net
    assert presented_cert(port, "other.example.net") == net
    assert presented_cert(port, "MAIL.Example.ORG") == org
    # no SNI, or a name no certificate has: the first one
    assert presented_cert(port, None) == org
    assert presented_cert(port, "unknown.test") == org
    # *.example.net covers one label only
    assert presented_cert(port, "a.b.example.net") == org


def test_sni_on_starttls_listener(proxy, pki):
    c = proxy.client("starttls")
    c.starttls(server_hostname="imap.example.net")
    assert c.sock.getpeercert(binary_form=True) == cert_der(pki["net"][0])
    c.close()


def test_verified_tls_login(proxy, pki, user):
    name, pw = user
    ctx = ssl.create_default_context(cafile=pki["net"][0])
    c = proxy.client("tls", ctx=ctx, server_hostname="imap.example.net")
    caps = caps_of(c.greeting)
    assert "AUTH=PLAIN" in caps and "STARTTLS" not in caps, caps
    login_ok(c, name, pw)
    u, t = c.cmd("SELECT INBOX", tag="s")
    assert t.startswith("s OK"), t
    c.close()


def test_imaplib_over_implicit_tls(proxy, pki, user):
    name, pw = user
    # verified: the default certificate has an IP SAN for 127.0.0.1
    ctx = ssl.create_default_context(cafile=pki["org"][0])
    s = imaplib.IMAP4_SSL(HOST, proxy.ports["tls"], ssl_context=ctx,
                          timeout=30)
    assert s.login(name, pw)[0] == "OK"
    assert s.select("INBOX")[0] == "OK"
    s.logout()


def test_ipv6_listener(make_proxy, user):
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        pytest.skip("no ::1")
    name, pw = user
    p = make_proxy(listeners=(("v6tls", "::1", "tls"), ("v6", "::1", "")))
    c = p.client("v6tls")
    login_ok(c, name, pw)
    c.close()
    c = p.client("v6")
    login_ok(c, name, pw)
    c.close()


# -- STARTTLS ----------------------------------------------------------------

def test_starttls_then_login(proxy, dovecot, user):
    name, pw = user
    c = proxy.client("starttls")
    assert "STARTTLS" in caps_of(c.greeting)
    c.starttls()
    caps = c.capabilities()
    assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps, caps
    assert {"AUTH=PLAIN", "AUTH=LOGIN", "SASL-IR"} <= caps, caps
    _u, t = c.cmd("STARTTLS", tag="again")
    assert re.match(r"^again (BAD|NO) ", t), t
    login_ok(c, name, pw)
    c.close()


def test_imaplib_starttls(proxy, user):
    name, pw = user
    m = proxy.imap("starttls")
    typ, _ = m.starttls(client_ctx())
    assert typ == "OK"
    assert m.login(name, pw)[0] == "OK"
    assert m.select("INBOX")[0] == "OK"
    m.logout()


def test_openssl_s_client_starttls(proxy, pki):
    port = proxy.ports["starttls"]
    rc, out = s_client(["-connect", "%s:%d" % (HOST, port),
                        "-starttls", "imap", "-servername",
                        "mail.example.org", "-crlf", "-quiet"],
                       stdin=b"x1 CAPABILITY\nx2 LOGOUT\n")
    assert "depth=0 CN = mail.example.org" in out, out
    caps = [l for l in out.splitlines() if l.startswith("* CAPABILITY")]
    assert caps, out
    assert "STARTTLS" not in caps[-1].split(), caps
    assert "AUTH=PLAIN" in caps[-1].split(), caps
    assert re.search(r"^x1 OK", out, re.M), out
    assert re.search(r"^x2 OK", out, re.M), out


def test_starttls_discards_pipelined_plaintext(proxy):
    """Commands sent in plaintext after STARTTLS must never run."""
    c = proxy.client("starttls")
    c.send("a STARTTLS\r\nb CAPABILITY\r\nc LOGIN inj ected\r\n")
    line = c.readline().decode()
    assert line.startswith("a OK"), line
    # Nothing else may have come in plaintext.
    assert c.buf == b"", c.buf
    c.sock.settimeout(10)
    c.sock = client_ctx().wrap_socket(c.sock)
    # a new command is answered normally, and b/c never are
    c.send("d NOOP\r\n")
    got = []
    while True:
        line = c.readline(timeout=5).decode()
        got.append(line)
        if line.startswith("d "):
            break
    assert got[-1].startswith("d OK"), got
    assert not any(re.match(r"^[bc] ", l) for l in got), got
    assert not any(l.startswith("* CAPABILITY") for l in got), got
    # and nothing arrives later either
    with pytest.raises(socket.timeout):
        c.readline(timeout=1)
    c.close()


def test_starttls_injection_does_not_reach_backend(make_proxy):
    fb = FakeBackend()
    try:
        p = make_proxy(backends={"fake": {"address": fb.address}})
        c = p.client("starttls")
        c.send("a STARTTLS\r\nb LOGIN victim good\r\n")
        assert c.readline().startswith(b"a OK")
        c.sock.settimeout(10)
        c.sock = client_ctx().wrap_socket(c.sock)
        with pytest.raises(socket.timeout):
            c.readline(timeout=1.5)
        assert not fb.saw(b"victim"), fb.received_text()
        _u, t = c.cmd("NOOP", tag="n")
        assert t.startswith("n OK"), t
        c.close()
    finally:
        fb.close()


# -- require_tls ---------------------------------------------------------------

def test_require_tls(make_proxy):
    fb = FakeBackend()
    try:
        # no health checks: the count of connections below is the logins'
        p = make_proxy(backends={"fake": {"address": fb.address,
                                          "health_check_interval": "0"}},
                       server={"require_tls": "yes"})
        c = p.client("starttls")
        caps = caps_of(c.greeting)
        assert {"STARTTLS", "LOGINDISABLED"} <= caps, caps
        assert not any(x.startswith("AUTH=") for x in caps), caps
        assert c.capabilities() == caps
        _u, t = c.cmd("LOGIN someone good", tag="l")
        assert re.match(r"^l (NO|BAD)\b", t), t
        _u, t = c.cmd("AUTHENTICATE PLAIN " + b64("\0someone\0good"),
                      tag="ap")
        assert re.match(r"^ap (NO|BAD)\b", t), t
        c.send("al AUTHENTICATE LOGIN\r\n")
        line = c.readline().decode()
        if line.startswith("+"):        # must not collect the secret
            c.send("*\r\n")
            line = c.readline().decode()
        assert re.match(r"^al (NO|BAD)\b", line), line
        time.sleep(0.3)
        assert fb.connections == 0, fb.received_text()
        # after STARTTLS: AUTH= offered, LOGINDISABLED gone, login works
        c.starttls()
        caps = c.capabilities()
        assert "LOGINDISABLED" not in caps and "STARTTLS" not in caps, caps
        assert {"AUTH=PLAIN", "AUTH=LOGIN"} <= caps, caps
        _u, t = c.cmd("LOGIN someone good", tag="l2")
        assert t.startswith("l2 OK"), t
        assert fb.saw(b"someone"), fb.received_text()
        c.close()
        # the implicit TLS listener and the plaintext-only listener are
        # not starttls listeners: require_tls does not apply to them
        for name in ("tls", "plain"):
            c = p.client(name)
            caps = caps_of(c.greeting)
            assert "LOGINDISABLED" not in caps, (name, caps)
            assert "AUTH=PLAIN" in caps, (name, caps)
            _u, t = c.cmd("LOGIN other good", tag="l3")
            assert t.startswith("l3 OK"), (name, t)
            c.close()
    finally:
        fb.close()


# -- TLS to the back end -----------------------------------------------------

def backend_login_over_tls(make_proxy, dovecot, user, **backend):
    name, pw = user
    p = make_proxy(backends={"store": store_backend(dovecot, **backend)})
    c = p.client("plain")
    _u, t = c.cmd("LOGIN %s %s" % (name, pw), tag="bt")
    assert t.startswith("bt OK [CAPABILITY"), t
    _u, t = c.cmd("SELECT INBOX", tag="s")
    assert t.startswith("s OK"), t
    c.close()
    time.sleep(0.2)
    lines = dovecot.login_lines(name)
    assert lines, dovecot.log_text()[-2000:]
    assert "tls=<TLSv1." in lines[-1], lines[-1]


def test_backend_implicit_tls_verified(make_proxy, dovecot, user):
    backend_login_over_tls(make_proxy, dovecot, user,
                           address="%s:%d" % (dovecot.host,
                                              dovecot.tls_port),
                           tls="yes", tls_verify="yes",
                           tls_ca=dovecot.cert[0],
                           tls_server_name="store.test")


def test_backend_starttls_verified(make_proxy, dovecot, user):
    backend_login_over_tls(make_proxy, dovecot, user, tls="starttls",
                           tls_verify="yes", tls_ca=dovecot.cert[0],
                           tls_server_name="store.test")


def test_backend_tls_without_verification(make_proxy, dovecot, user, pki):
    backend_login_over_tls(make_proxy, dovecot, user,
                           address="%s:%d" % (dovecot.host,
                                              dovecot.tls_port),
                           tls="yes", tls_verify="no",
                           tls_ca=pki["other"][0])


def test_backend_plaintext_is_plaintext(make_proxy, dovecot, user):
    name, pw = user
    p = make_proxy()
    c = p.client("plain")
    login_ok(c, name, pw)
    c.close()
    time.sleep(0.2)
    lines = dovecot.login_lines(name)
    assert lines and "tls=<" not in lines[-1], lines


# -- resumption and kernel TLS -----------------------------------------

def tls_greeting(ctx, port, session=None):
    """Connects over implicit TLS 1.3, reads the greeting (which also
    takes in the ticket sent after the handshake), and returns the TLS
    socket, still open."""
    s = socket.create_connection((HOST, port), timeout=10)
    t = ctx.wrap_socket(s, server_hostname="mail.example.org",
                        session=session)
    assert t.recv(4096).startswith(b"* OK")
    return t


def test_tls13_ticket_resumes_session(proxy, user):
    """A client reconnecting with the ticket it was given skips the full
    handshake, on whichever worker it lands, and logs in as usual."""
    port = proxy.ports["tls"]
    ctx = client_ctx()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    first = tls_greeting(ctx, port)
    assert not first.session_reused
    ticket = first.session
    assert ticket is not None and ticket.has_ticket
    first.close()
    for _ in range(6):              # SO_REUSEPORT spreads these out
        again = tls_greeting(ctx, port, session=ticket)
        assert again.session_reused
        again.sendall(b'a LOGIN "%s" "%s"\r\n' % (user[0].encode(),
                                                   user[1].encode()))
        assert b"a OK" in again.recv(4096)
        again.close()


def test_kernel_tls_offered_or_not(proxy, user):
    """The daemon says at start whether the kernel offers kTLS, as
    /proc lists it; either way TLS sessions relay."""
    with open("/proc/sys/net/ipv4/tcp_available_ulp") as f:
        offered = "tls" in f.read().split()
    want = ("kernel TLS offered" if offered else
            "kernel TLS not offered (records done by OpenSSL)")
    assert wait_for(lambda: want in proxy.log_text(), timeout=5), \
        proxy.log_text()[-2000:]
    m = proxy.imap("tls")
    assert m.login(*user)[0] == "OK"
    assert m.select("INBOX")[0] == "OK"
    m.logout()


def tls_failures(p):
    (srv,) = [s for s in p.ask_json("stats")["servers"]
              if s["name"] == "default"]
    return srv["tls_handshake_failures"]


def test_health_check_on_993_is_quiet(proxy):
    """A balancer's TCP check (connect, close) and a cut-short hello are
    logged at debug and not counted; a client speaking something else
    than TLS is a handshake failure, logged at info and counted."""
    before = tls_failures(proxy)
    for payload in (b"", b"\x16\x03\x01\x00\x40\x01\x00"):
        s = socket.create_connection((HOST, proxy.ports["tls"]), timeout=5)
        s.sendall(payload)
        s.close()
    assert wait_for(lambda: proxy.log_text().count(
        "closed before a whole TLS ClientHello") == 2), proxy.log_text()
    assert tls_failures(proxy) == before
    assert "info: " not in "".join(
        ln for ln in proxy.log_text().splitlines(True)
        if "TLS handshake failed" in ln)
    s = socket.create_connection((HOST, proxy.ports["tls"]), timeout=5)
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    try:
        s.recv(100)
    except OSError:
        pass
    s.close()
    assert wait_for(lambda: tls_failures(proxy) == before + 1)
    assert re.search(r"info: .*TLS handshake failed", proxy.log_text())
