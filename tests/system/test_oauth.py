"""AUTHENTICATE XOAUTH2 and OAUTHBEARER through the proxy (SPEC.md s.3
auth_mechanisms, issue 5).

The proxy reads the user out of the client's response (for the access
rules, the routes and its logs) and passes the response on as it came;
a challenge the back end sends after it (its error, RFC 7628 s.3.2.3)
goes to the client, and the client's answer back.  The back end is a
real Dovecot whose oauth2 passdb asks an introspection endpoint (RFC
7662) served here on loopback; wire-level details (what reaches the back
end, a back end without SASL-IR, endless challenges) use a scripted one.
"""

import base64
import imaplib
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from conftest import HOST, b64, imap_quote, store_backend
import dovecot as dv

# Distinctive enough to grep the proxy's log for.
TOKEN = "tok-Ocelot.Marmot_4b2d9Zq"
TOKEN2 = "tok-Gecko.Tapir_71c0Wm"
BAD_TOKEN = "tok-Revoked.Yak_e5a3Lp"
OUSER = "oauth.user@example.org"
OUSER2 = "second.user@example.org"
DENIED = "mallory@example.org"
TOKENS = {TOKEN: OUSER, TOKEN2: OUSER2, "tok-Mallory_1": DENIED}
MECHS = "PLAIN LOGIN XOAUTH2 OAUTHBEARER"
PLAIN = (("plain", HOST, ""),)


def xoauth2(user, token):
    """Google's XOAUTH2 initial response, base64."""
    return b64("user=%s\x01auth=Bearer %s\x01\x01" % (user, token))


def oauthbearer(user, token):
    """RFC 7628 s.3.1 initial response, base64; USER None: no a=."""
    gs2 = "n,a=%s," % user.replace("=", "=3D").replace(",", "=2C") \
        if user is not None else "n,,"
    return b64("%s\x01host=%s\x01port=143\x01auth=Bearer %s\x01\x01"
               % (gs2, HOST, token))


RESPONSE = {"XOAUTH2": xoauth2, "OAUTHBEARER": oauthbearer}


# ---------------------------------------------------------------------
# the authorisation server and the OAuth Dovecot

class Introspection:
    """An RFC 7662 token introspection endpoint on 127.0.0.1: POST
    token=T answers {"active": true, "username": U} for the tokens of
    TOKENS, {"active": false} for any other.  .tokens keeps what was
    asked."""

    def __init__(self, tokens):
        self.known = dict(tokens)
        self.tokens = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(n).decode())
                tok = form.get("token", [""])[0]
                outer.tokens.append(tok)
                if tok in outer.known:
                    body = {"active": True, "username": outer.known[tok]}
                else:
                    body = {"active": False}
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://%s:%d/introspect" % (
            HOST, self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def introspection():
    i = Introspection(TOKENS)
    yield i
    i.close()


@pytest.fixture(scope="module")
def oauth_dovecot(introspection):
    """A Dovecot offering XOAUTH2 and OAUTHBEARER (oauth2 passdb)."""
    d = dv.Dovecot(tls=False, oauth2=introspection.url)
    d.start()
    yield d
    d.stop()


@pytest.fixture
def oproxy(make_proxy, oauth_dovecot):
    """A proxy offering the OAuth mechanisms in front of that Dovecot."""
    return make_proxy(backends={"store": store_backend(oauth_dovecot)},
                      server={"auth_mechanisms": MECHS}, listeners=PLAIN)


def dovecot_logins(d, user, method):
    """Dovecot's "Login:" lines for USER by METHOD (waits a little: the
    log is written by another process)."""
    deadline = time.monotonic() + 3
    while True:
        lines = [l for l in d.login_lines(user) if "method=%s" % method in l]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def assert_relaying(c, tagged, tag):
    """TAGGED is Dovecot's login OK and the session now reaches it."""
    assert tagged.startswith(tag + " OK [CAPABILITY "), tagged
    assert c.last_untagged == [], c.last_untagged
    u, t = c.cmd("SELECT INBOX", tag="s")
    assert t.startswith("s OK"), (u, t)
    u, t = c.cmd("CAPABILITY", tag="c")
    assert "IDLE" in u[0].split() and "AUTH=XOAUTH2" not in u[0], u


def secrets_absent(p, *secrets):
    """None of SECRETS (or their base64 forms) in the proxy's log."""
    text = p.log_text()
    assert "logged in" in text, text[-2000:]
    for s in secrets:
        assert s not in text, "%r in the proxy log" % s


# ---------------------------------------------------------------------
# capabilities

def test_capabilities(make_proxy, oauth_dovecot, proxy):
    p = make_proxy(backends={"store": store_backend(oauth_dovecot)},
                   server={"auth_mechanisms": MECHS})
    c = p.client("plain")
    caps = set(c.greeting.split("[CAPABILITY ", 1)[1].split("]")[0].split())
    assert {"SASL-IR", "AUTH=PLAIN", "AUTH=LOGIN", "AUTH=XOAUTH2",
            "AUTH=OAUTHBEARER"} <= caps, caps
    assert c.capabilities() == caps
    c.close()
    # Not configured: neither offered nor taken.
    c = proxy.client("plain")
    assert "AUTH=XOAUTH2" not in c.greeting
    assert "AUTH=OAUTHBEARER" not in c.capabilities()
    _u, t = c.cmd("AUTHENTICATE XOAUTH2 " + xoauth2(OUSER, TOKEN), tag="a")
    assert t == "a NO Unsupported authentication mechanism.", t
    c.close()
    # LOGINDISABLED hides them like the others until STARTTLS.
    p = make_proxy(backends={"store": store_backend(oauth_dovecot)},
                   server={"auth_mechanisms": MECHS, "require_tls": "yes"})
    c = p.client("starttls")
    caps = c.capabilities()
    assert "LOGINDISABLED" in caps and not any(
        x.startswith("AUTH=") for x in caps), caps
    c.starttls()
    caps = c.capabilities()
    assert {"AUTH=XOAUTH2", "AUTH=OAUTHBEARER"} <= caps, caps
    _u, t = c.cmd("AUTHENTICATE OAUTHBEARER " + oauthbearer(OUSER, TOKEN),
                  tag="a")
    assert t.startswith("a OK [CAPABILITY "), t
    c.close()


# ---------------------------------------------------------------------
# against Dovecot

@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
def test_initial_response(oproxy, oauth_dovecot, mech):
    """SASL-IR: the response on the AUTHENTICATE line."""
    before = len(dovecot_logins(oauth_dovecot, OUSER, mech))
    c = oproxy.client()
    _u, t = c.cmd("AUTHENTICATE %s %s" % (mech, RESPONSE[mech](OUSER,
                                                                TOKEN)),
                  tag="a1")
    assert_relaying(c, t, "a1")
    c.close()
    assert len(dovecot_logins(oauth_dovecot, OUSER, mech)) == before + 1
    assert re.search(r"sess=\S+ client=\S+ user=%s logged in on store"
                     % re.escape(OUSER), oproxy.log_text())


@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
def test_continuation(oproxy, oauth_dovecot, mech):
    """No initial response: the proxy says "+ " and reads it."""
    before = len(dovecot_logins(oauth_dovecot, OUSER2, mech))
    c = oproxy.client()
    c.send("a2 AUTHENTICATE %s\r\n" % mech)
    assert c.readline() == b"+ "
    c.send(RESPONSE[mech](OUSER2, TOKEN2) + "\r\n")
    _u, t = c.read_response("a2")
    assert_relaying(c, t, "a2")
    c.close()
    assert len(dovecot_logins(oauth_dovecot, OUSER2, mech)) == before + 1


@pytest.mark.parametrize("mech,status,answer", [
    ("XOAUTH2", "401", ""),
    ("OAUTHBEARER", "invalid_token", "AQ=="),
])
def test_bad_token_challenge(oproxy, mech, status, answer):
    """Dovecot's error challenge reaches the client as it came, the
    client's answer reaches Dovecot, then its NO; the session stays
    usable."""
    c = oproxy.client()
    c.send("a3 AUTHENTICATE %s %s\r\n" % (mech, RESPONSE[mech](OUSER,
                                                               BAD_TOKEN)))
    line = c.readline().decode()
    assert line.startswith("+ "), line
    err = json.loads(base64.b64decode(line[2:]))
    assert err["status"] == status, err
    c.send(answer + "\r\n")
    u, t = c.read_response("a3")
    assert u == [] and t == "a3 NO [AUTHENTICATIONFAILED] Authentication " \
        "failed.", (u, t)
    # and again, with a good token, on the same connection
    _u, t = c.cmd("AUTHENTICATE %s %s" % (mech, RESPONSE[mech](OUSER,
                                                               TOKEN)),
                  tag="a4")
    assert_relaying(c, t, "a4")
    c.close()


def test_challenge_after_continuation(oproxy):
    """"+ " from the proxy, the response, Dovecot's "+ {error}", the
    answer, then NO: two continuations in one login."""
    c = oproxy.client()
    c.send("a5 AUTHENTICATE XOAUTH2\r\n")
    assert c.readline() == b"+ "
    c.send(xoauth2(OUSER, BAD_TOKEN) + "\r\n")
    line = c.readline().decode()
    assert line.startswith("+ ey"), line
    c.send("\r\n")
    _u, t = c.read_response("a5")
    assert t.startswith("a5 NO [AUTHENTICATIONFAILED]"), t
    c.close()


def test_client_cancels_challenge(oproxy):
    """"*" in answer to the challenge goes to Dovecot, which ends the
    exchange; the client gets a NO."""
    c = oproxy.client()
    c.send("a6 AUTHENTICATE OAUTHBEARER %s\r\n"
           % oauthbearer(OUSER, BAD_TOKEN))
    assert c.readline().startswith(b"+ ")
    c.send("*\r\n")
    _u, t = c.read_response("a6")
    assert t.startswith("a6 NO [AUTHENTICATIONFAILED]"), t
    _u, t = c.cmd("NOOP", tag="n")
    assert t.startswith("n OK"), t
    c.close()


def test_imaplib(oproxy, oauth_dovecot):
    """Python's imaplib (no SASL-IR: it waits for "+ ") logs in."""
    raw = ("user=%s\x01auth=Bearer %s\x01\x01" % (OUSER, TOKEN)).encode()
    m = oproxy.imap()
    typ, data = m.authenticate("XOAUTH2", lambda _challenge: raw)
    assert typ == "OK", data
    typ, data = m.select("INBOX")
    assert typ == "OK", data
    m.logout()
    # a bad token: the challenge comes to the callback, "" answers it
    seen = []

    def bad(challenge):
        seen.append(challenge)
        return raw.replace(TOKEN.encode(), BAD_TOKEN.encode()) \
            if len(seen) == 1 else b""

    m = oproxy.imap()
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        m.authenticate("XOAUTH2", bad)
    assert len(seen) == 2 and json.loads(seen[1])["status"] == "401", seen
    m.logout()


def test_token_never_logged(oproxy, oauth_dovecot):
    """Debug log: users and outcomes, never tokens nor responses."""
    sent = []
    c = oproxy.client()
    for mech in ("XOAUTH2", "OAUTHBEARER"):
        for tok in (BAD_TOKEN, TOKEN):
            r = RESPONSE[mech](OUSER, tok)
            sent.append(r)
            c.send("t AUTHENTICATE %s\r\n" % mech)
            assert c.readline() == b"+ "
            c.send(r + "\r\n")
            line = c.readline().decode()
            if tok == BAD_TOKEN:
                assert line.startswith("+ "), line
                sent.append(line[2:])
                c.send("AQ==\r\n")
                _u, t = c.read_response("t")
                assert t.startswith("t NO"), t
            else:
                assert line.startswith("t OK"), line
                c.close()
                c = oproxy.client()
    c.close()
    oproxy.stop()
    text = oproxy.log_text()
    assert "log_level = debug" in oproxy.conf.read_text()
    assert "relaying a back-end challenge" in text
    secrets_absent(oproxy, TOKEN, BAD_TOKEN, *sent)


def test_malformed(oproxy, introspection):
    """Responses the proxy cannot read are its own BAD, and never reach
    the back end."""
    asked = len(introspection.tokens)
    c = oproxy.client()
    cases = [
        ("XOAUTH2", b64("auth=Bearer %s\x01\x01" % TOKEN),
         "Missing user name"),
        ("XOAUTH2", b64("user=a\x01user=%s\x01auth=Bearer %s\x01\x01"
                        % (OUSER, TOKEN)), "More than one user name"),
        ("XOAUTH2", b64("user=%s\x01\x01" % OUSER), "Missing token"),
        ("OAUTHBEARER", b64("q,a=x,\x01auth=Bearer %s\x01\x01" % TOKEN),
         "Malformed gs2 header"),
        ("OAUTHBEARER", "AQ==", "Malformed gs2 header"),
        ("XOAUTH2", "dXNlcj1i=", "Invalid base64"),
        ("XOAUTH2", "=", "Empty response"),
    ]
    for i, (mech, resp, why) in enumerate(cases):
        # two bad ones a connection: five end it (SESS_MAX_BAD)
        if i % 2 == 0:
            c.close()
            c = oproxy.client()
        _u, t = c.cmd("AUTHENTICATE %s %s" % (mech, resp), tag="m%d" % i)
        assert t == "m%d BAD %s" % (i, why), t
    # "*" instead of the response cancels
    c.send("m AUTHENTICATE XOAUTH2\r\n")
    assert c.readline() == b"+ "
    c.send("*\r\n")
    _u, t = c.read_response("m")
    assert t == "m BAD Authentication canceled.", t
    c.close()
    assert len(introspection.tokens) == asked
    assert "logged in" not in oproxy.log_text()


def test_oauthbearer_without_user(make_proxy, oauth_dovecot, introspection,
                                  tmp_path):
    """An OAUTHBEARER response need not name its user (no a=): it goes
    to default_backend when the access rules do not name users (this
    Dovecot wants a= and says NO), and is refused by the proxy when
    they do."""
    resp = oauthbearer(None, TOKEN)
    p = make_proxy(backends={"store": store_backend(oauth_dovecot)},
                   server={"auth_mechanisms": MECHS}, listeners=PLAIN)
    c = p.client()
    _u, t = c.cmd("AUTHENTICATE OAUTHBEARER " + resp, tag="n1")
    assert t.startswith("n1 NO [AUTHENTICATIONFAILED]"), t
    c.close()
    assert re.search(r"user=- login failed on store", p.log_text())

    acl = tmp_path / "users.acl"
    acl.write_text("deny user %s\nallow any\n" % DENIED)
    p = make_proxy(backends={"store": store_backend(oauth_dovecot)},
                   server={"auth_mechanisms": MECHS, "acl": str(acl)},
                   listeners=PLAIN)
    c = p.client()
    _u, t = c.cmd("AUTHENTICATE OAUTHBEARER " + resp, tag="n2")
    assert t == "n2 NO [AUTHENTICATIONFAILED] Authentication failed.", t
    assert "the access rules name users and the response names none" in \
        p.log_text()
    # the user of an XOAUTH2 or OAUTHBEARER response meets the rules
    for mech in ("XOAUTH2", "OAUTHBEARER"):
        asked = len(introspection.tokens)
        _u, t = c.cmd("AUTHENTICATE %s %s" % (
            mech, RESPONSE[mech](DENIED, "tok-Mallory_1")), tag="n3")
        assert t == "n3 NO [AUTHENTICATIONFAILED] Authentication " \
            "failed.", t
        assert len(introspection.tokens) == asked, "reached Dovecot"
    _u, t = c.cmd("AUTHENTICATE XOAUTH2 " + xoauth2(OUSER, TOKEN),
                  tag="n4")
    assert t.startswith("n4 OK"), t
    c.close()


def test_backend_without_oauth(make_proxy, dovecot):
    """A back end that does not offer the mechanism: UNAVAILABLE."""
    p = make_proxy(backends={"store": store_backend(dovecot)},
                   server={"auth_mechanisms": MECHS}, listeners=PLAIN)
    c = p.client()
    _u, t = c.cmd("AUTHENTICATE XOAUTH2 " + xoauth2(OUSER, TOKEN),
                  tag="u")
    assert t.startswith("u NO [UNAVAILABLE]"), t
    c.close()
    assert "back end does not offer XOAUTH2" in p.log_text()


# ---------------------------------------------------------------------
# a scripted back end, for what Dovecot cannot be made to do

class OAuthFake:
    """A back end offering XOAUTH2, OAUTHBEARER and PLAIN, SASL-IR when
    SASL_IR.  A response holding "Bearer good" logs in; any other is
    met with a challenge CHALLENGES times (each answer too), then NO;
    "*" is met with BAD.  Every line received is kept in .received."""

    def __init__(self, sasl_ir=True, challenges=1):
        self.caps = b"IMAP4rev1 %sID AUTH=PLAIN AUTH=XOAUTH2 " \
            b"AUTH=OAUTHBEARER" % (b"SASL-IR " if sasl_ir else b"")
        self.challenges = challenges
        self.received = []
        self.sock = socket.socket()
        self.sock.bind((HOST, 0))
        self.sock.listen(16)
        self.address = "%s:%d" % self.sock.getsockname()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,),
                             daemon=True).start()

    def _line(self, f):
        line = f.readline()
        if not line:
            raise EOFError
        self.received.append(line)
        return line.rstrip(b"\r\n")

    def _serve(self, c):
        c.settimeout(20)
        f = c.makefile("rb")
        try:
            c.sendall(b"* OK [CAPABILITY " + self.caps + b"] fake\r\n")
            while True:
                args = self._line(f).split(b" ")
                tag, cmd = args[0], args[1].upper()
                if cmd == b"CAPABILITY":
                    c.sendall(b"* CAPABILITY " + self.caps + b"\r\n" +
                              tag + b" OK done\r\n")
                elif cmd == b"AUTHENTICATE":
                    if len(args) > 3:
                        resp = args[3]
                    else:
                        c.sendall(b"+ \r\n")
                        resp = self._line(f)
                    self._auth(c, f, tag, resp)
                elif cmd == b"LOGOUT":
                    c.sendall(b"* BYE bye\r\n" + tag + b" OK bye\r\n")
                    return
                else:
                    c.sendall(tag + b" OK " + cmd + b" done\r\n")
        except (OSError, EOFError):
            pass
        finally:
            c.close()

    def _auth(self, c, f, tag, resp):
        n = 0
        while True:
            if resp == b"*":
                c.sendall(tag + b" BAD Authentication aborted\r\n")
                return
            try:
                raw = base64.b64decode(resp, validate=True)
            except ValueError:
                raw = b""
            if n == 0 and b"Bearer good" in raw:
                c.sendall(tag + b" OK [CAPABILITY IMAP4rev1 FAKE] in\r\n")
                return
            if n >= self.challenges:
                c.sendall(tag + b" NO [AUTHENTICATIONFAILED] no\r\n")
                return
            n += 1
            c.sendall(b"+ " + base64.b64encode(
                b'{"status":"invalid_token","round":%d}' % n) + b"\r\n")
            resp = self._line(f)

    def close(self):
        self.sock.close()


@pytest.fixture
def fake_proxy(make_proxy):
    """fake_proxy(**fake_kw) -> (proxy, fake)"""
    fakes = []

    def make(**kw):
        fake = OAuthFake(**kw)
        fakes.append(fake)
        # no health checks: their H2 LOGOUT would land in fake.received
        p = make_proxy(backends={"fake": {"address": fake.address,
                                          "connect_timeout": "5s",
                                          "health_check_interval": "0"}},
                       server={"auth_mechanisms": MECHS}, listeners=PLAIN)
        return p, fake

    yield make
    for f in fakes:
        f.close()


@pytest.mark.parametrize("sasl_ir", [True, False])
@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
def test_response_passed_as_is(fake_proxy, sasl_ir, mech):
    """The back end gets the client's response byte for byte, on the
    AUTHENTICATE line when it has SASL-IR, else after its "+"."""
    p, fake = fake_proxy(sasl_ir=sasl_ir)
    resp = RESPONSE[mech](OUSER, "good")
    c = p.client()
    _u, t = c.cmd("AUTHENTICATE %s %s" % (mech, resp), tag="w1")
    assert t == "w1 OK [CAPABILITY IMAP4rev1 FAKE] in", t
    c.close()
    got = [l for l in fake.received if not l.startswith((b"P", b"+"))]
    if sasl_ir:
        assert got[0] == ("w1 AUTHENTICATE %s %s\r\n"
                          % (mech, resp)).encode(), got
    else:
        assert got[:2] == [("w1 AUTHENTICATE %s\r\n" % mech).encode(),
                           (resp + "\r\n").encode()], got


def test_challenges_bounded(fake_proxy):
    """Two challenges go to the client; the proxy cancels a third."""
    p, fake = fake_proxy(challenges=5)
    c = p.client()
    c.send("w2 AUTHENTICATE XOAUTH2 %s\r\n" % xoauth2(OUSER, "bad"))
    for n in (1, 2):
        line = c.readline().decode()
        assert line.startswith("+ "), line
        assert json.loads(base64.b64decode(line[2:]))["round"] == n
        c.send("AQ==\r\n")
    u, t = c.read_response("w2")
    assert u == [] and t == "w2 NO [AUTHENTICATIONFAILED] " \
        "Authentication failed.", (u, t)
    c.close()
    assert fake.received[-3:] == [b"AQ==\r\n", b"AQ==\r\n", b"*\r\n"], \
        fake.received


def test_challenge_answer_not_base64(fake_proxy):
    """Only base64 or "*" goes to the back end as an answer."""
    p, fake = fake_proxy(challenges=1)
    c = p.client()
    c.send("w3 AUTHENTICATE OAUTHBEARER %s\r\n" % oauthbearer(OUSER, "x"))
    assert c.readline().startswith(b"+ ")
    c.send("w4 LOGOUT\r\n")
    _u, t = c.read_response("w3")
    assert t == "w3 NO [AUTHENTICATIONFAILED] Authentication failed.", t
    c.close()
    assert fake.received[-1] == b"*\r\n", fake.received


def test_password_login_challenge_cancelled(fake_proxy):
    """A challenge after a PLAIN response is not relayed: the proxy
    terminated PLAIN itself."""
    p, fake = fake_proxy(challenges=1)
    c = p.client()
    _u, t = c.cmd("LOGIN bob %s" % imap_quote("wrong"), tag="w5")
    assert t == "w5 NO [AUTHENTICATIONFAILED] Authentication failed.", t
    c.close()
    assert fake.received[-1] == b"*\r\n", fake.received


def test_nameless_login_routes_to_default(make_proxy, oauth_dovecot):
    """The routes map sees the user of a response; one that names
    nobody goes to default_backend, not to the map's `*`."""
    fake = OAuthFake()
    try:
        p = make_proxy(backends={"store": store_backend(oauth_dovecot),
                                 "fake": {"address": fake.address,
                                          "connect_timeout": "5s"}},
                       server={"auth_mechanisms": MECHS,
                               "default_backend": "store",
                               "routes": "r.map"},
                       listeners=PLAIN, start=False)
        (p.dir / "r.map").write_text("*  fake\n")
        p.start()
        c = p.client()
        _u, t = c.cmd("AUTHENTICATE XOAUTH2 " + xoauth2(OUSER, "good"),
                      tag="r1")
        assert t == "r1 OK [CAPABILITY IMAP4rev1 FAKE] in", t
        c.close()
        c = p.client()
        _u, t = c.cmd("AUTHENTICATE OAUTHBEARER " + oauthbearer(None,
                                                                "good"),
                      tag="r2")
        # this Dovecot wants a=; the fake would have said OK
        assert t.startswith("r2 NO [AUTHENTICATIONFAILED]"), t
        c.close()
        assert "user=- login failed on store" in p.log_text()
    finally:
        fake.close()
