"""LOGIN and AUTHENTICATE through the proxy to a real Dovecot."""

import re
import time

from conftest import (FakeBackend, RawClient, b64, caps_of, imap_quote,
                      login_ok, store_backend, SPECIAL_USER, SPECIAL_PW)
import dovecot as dv


def direct_login_text(dovecot, user, pw):
    """Dovecot's own tagged LOGIN answer, without the tag."""
    c = RawClient(dovecot.host, dovecot.port)
    _u, t = c.cmd("LOGIN %s %s" % (imap_quote(user), imap_quote(pw)),
                  tag="d")
    c.close()
    assert t.startswith("d OK"), t
    return t[2:]


def assert_logged_in(c, dovecot, user, pw, tagged, tag):
    """TAGGED is Dovecot's answer, relayed unchanged; the session is
    then a relay to Dovecot (its CAPABILITY, not the proxy's)."""
    # nothing of the proxy's own exchange with the back end (greeting,
    # ID, CAPABILITY) leaks ahead of the tagged answer
    assert c.last_untagged == [], c.last_untagged
    assert tagged.startswith(tag + " OK [CAPABILITY "), tagged
    assert tagged[len(tag) + 1:] == direct_login_text(dovecot, user, pw)
    caps = caps_of(tagged)
    assert "IDLE" in caps, caps
    u, t = c.cmd("SELECT INBOX", tag="s")
    assert t.startswith("s OK"), (u, t)
    assert any(re.match(r"^\* \d+ EXISTS$", l) for l in u), u
    u, t = c.cmd("CAPABILITY", tag="c")
    assert t.startswith("c OK"), t
    # Dovecot's post-login capability list, not the proxy's pre-auth one
    assert "IDLE" in u[0].split() and "AUTH=PLAIN" not in u[0], u
    u, t = c.cmd("ID NIL", tag="i")
    assert t.startswith("i OK"), t
    assert "Dovecot" in u[0], u
    u, t = c.cmd("LOGOUT", tag="o")
    assert t.startswith("o OK"), t
    c.read_until_eof(timeout=5)
    c.close()


def test_login_atoms(proxy, dovecot, user):
    name, pw = user
    c = proxy.client("plain")
    _u, t = c.cmd("LOGIN %s %s" % (name, pw), tag="a1")
    assert_logged_in(c, dovecot, name, pw, t, "a1")


def test_login_quoted_with_escapes(proxy, dovecot):
    c = proxy.client("plain")
    _u, t = c.cmd("LOGIN %s %s" % (imap_quote(SPECIAL_USER),
                                   imap_quote(SPECIAL_PW)), tag="q")
    assert_logged_in(c, dovecot, SPECIAL_USER, SPECIAL_PW, t, "q")


def test_login_synchronising_literals(proxy, dovecot):
    c = proxy.client("plain")
    u, p = SPECIAL_USER.encode(), SPECIAL_PW.encode()
    c.send(b"lit LOGIN {%d}\r\n" % len(u))
    cont = c.readline().decode()
    assert cont.startswith("+"), cont
    c.send(u + b" {%d}\r\n" % len(p))
    cont = c.readline().decode()
    assert cont.startswith("+"), cont
    c.send(p + b"\r\n")
    _u, t = c.read_response("lit")
    assert_logged_in(c, dovecot, SPECIAL_USER, SPECIAL_PW, t, "lit")


def test_login_nonsync_literals_one_write(proxy, dovecot):
    c = proxy.client("plain")
    u, p = SPECIAL_USER.encode(), SPECIAL_PW.encode()
    c.send(b"nl LOGIN {%d+}\r\n%s {%d+}\r\n%s\r\n" % (len(u), u, len(p), p))
    untagged, t = c.read_response("nl")
    assert not any(l.startswith("+") for l in untagged), untagged
    assert_logged_in(c, dovecot, SPECIAL_USER, SPECIAL_PW, t, "nl")


def test_login_atom_user_literal_password(proxy, dovecot, user):
    name, pw = user
    c = proxy.client("plain")
    c.send("ml LOGIN %s {%d}\r\n" % (name, len(pw)))
    assert c.readline().startswith(b"+")
    c.send(pw + "\r\n")
    _u, t = c.read_response("ml")
    assert_logged_in(c, dovecot, name, pw, t, "ml")


def test_authenticate_plain_sasl_ir(proxy, dovecot, user):
    name, pw = user
    c = proxy.client("plain")
    _u, t = c.cmd("AUTHENTICATE PLAIN " + b64("\0%s\0%s" % (name, pw)),
                  tag="ap")
    assert_logged_in(c, dovecot, name, pw, t, "ap")


def test_authenticate_plain_continuation(proxy, dovecot, user):
    name, pw = user
    c = proxy.client("plain")
    c.send("ac AUTHENTICATE PLAIN\r\n")
    cont = c.readline().decode()
    assert cont.startswith("+"), cont
    c.send(b64("\0%s\0%s" % (name, pw)) + "\r\n")
    untagged, t = c.read_response("ac")
    assert not any(l.startswith("+") for l in untagged), untagged
    assert_logged_in(c, dovecot, name, pw, t, "ac")


def test_authenticate_plain_authzid_same_as_authcid(proxy, dovecot, user):
    name, pw = user
    c = proxy.client("plain")
    _u, t = c.cmd("AUTHENTICATE PLAIN " + b64("%s\0%s\0%s" % (name, name,
                                                             pw)), tag="az")
    assert t.startswith("az OK"), t
    c.close()


def test_authenticate_lowercase_mechanism(proxy, dovecot, user):
    name, pw = user
    c = proxy.client("plain")
    _u, t = c.cmd("authenticate plain " + b64("\0%s\0%s" % (name, pw)),
                  tag="lc")
    assert t.startswith("lc OK"), t
    c.close()


def test_authenticate_cancel_then_login(proxy, dovecot, user):
    name, pw = user
    c = proxy.client("plain")
    c.send("cx AUTHENTICATE PLAIN\r\n")
    assert c.readline().startswith(b"+")
    c.send("*\r\n")
    _u, t = c.read_response("cx")
    assert t.startswith("cx BAD"), t
    # the session is back in the not-authenticated state
    login_ok(c, name, pw, tag="after")
    c.close()


def test_authenticate_login(proxy, dovecot, user):
    name, pw = user
    c = proxy.client("plain")
    c.send("al AUTHENTICATE LOGIN\r\n")
    first = c.readline().decode()
    assert first.startswith("+"), first
    c.send(b64(name) + "\r\n")
    second = c.readline().decode()
    assert second.startswith("+"), second
    c.send(b64(pw) + "\r\n")
    untagged, t = c.read_response("al")
    assert not any(l.startswith("+") for l in untagged), untagged
    assert_logged_in(c, dovecot, name, pw, t, "al")


def test_authenticate_login_with_initial_response(proxy, dovecot, user):
    name, pw = user
    c = proxy.client("plain")
    c.send("ai AUTHENTICATE LOGIN %s\r\n" % b64(name))
    cont = c.readline().decode()
    assert cont.startswith("+"), cont
    c.send(b64(pw) + "\r\n")
    _u, t = c.read_response("ai")
    assert t.startswith("ai OK"), t
    c.close()


def test_wrong_password_then_retry(proxy, dovecot, user):
    name, pw = user
    c = proxy.client("plain")
    _u, t = c.cmd("LOGIN %s wrong-%s" % (name, pw), tag="w1")
    assert t.startswith("w1 NO [AUTHENTICATIONFAILED]"), t
    _u, t = c.cmd("AUTHENTICATE PLAIN " + b64("\0%s\0nope" % name),
                  tag="w2")
    assert t.startswith("w2 NO [AUTHENTICATIONFAILED]"), t
    _u, t = c.cmd("NOOP", tag="n")
    assert t.startswith("n OK"), t
    _u, t = c.cmd("LOGIN %s %s" % (name, pw), tag="ok")
    assert_logged_in(c, dovecot, name, pw, t, "ok")


def test_unknown_user(proxy):
    c = proxy.client("plain")
    _u, t = c.cmd("LOGIN nosuchuser-xyz whatever", tag="u")
    assert t.startswith("u NO [AUTHENTICATIONFAILED]"), t
    c.close()


def test_bad_base64_in_authenticate(proxy):
    c = proxy.client("plain")
    _u, t = c.cmd("AUTHENTICATE PLAIN !!!notbase64!!!", tag="bb")
    assert re.match(r"^bb (BAD|NO) ", t), t
    _u, t = c.cmd("NOOP", tag="n")
    assert t.startswith("n OK"), t
    c.close()


def test_imaplib_login(proxy, dovecot, user):
    name, pw = user
    dovecot.append(name, dv.sample_message("via proxy"))
    m = proxy.imap("plain")
    typ, data = m.login(name, pw)
    assert typ == "OK", data
    typ, data = m.select("INBOX")
    assert typ == "OK" and data == [b"1"], data
    typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK" and b"Subject: via proxy" in data[0][1], data
    m.logout()


def test_imaplib_authenticate_plain_tls(proxy, dovecot, user):
    name, pw = user
    m = proxy.imap("tls")
    typ, data = m.authenticate(
        "PLAIN", lambda _c: ("\0%s\0%s" % (name, pw)).encode())
    assert typ == "OK", data
    assert m.select("INBOX")[0] == "OK"
    m.logout()


def test_forward_id_client_address(make_proxy, dovecot, user, user2):
    """forward_id (default yes) tells Dovecot the client's address with
    ID x-originating-ip; Dovecot trusts 127.0.0.1 for it."""
    name, pw = user
    p = make_proxy()
    c = p.client("plain", src="127.0.0.7")
    login_ok(c, name, pw)
    c.close()
    name2, pw2 = user2
    q = make_proxy(backends={"store": store_backend(dovecot,
                                                    forward_id="no")})
    c = q.client("plain", src="127.0.0.7")
    login_ok(c, name2, pw2)
    c.close()
    time.sleep(0.2)
    lines = dovecot.login_lines(name)
    assert lines and "rip=127.0.0.7," in lines[-1], lines
    lines = dovecot.login_lines(name2)
    assert lines and "rip=127.0.0.1," in lines[-1], lines


# -- what reaches the back end ----------------------------------------------

def test_crlf_in_literal_cannot_inject(make_proxy):
    """A literal may carry CR LF; relayed to the back end it must stay
    inside one credential and never become a command of its own."""
    fb = FakeBackend()
    try:
        p = make_proxy(backends={"fake": {"address": fb.address}})
        c = p.client("plain")
        evil_user = 'someone"\r\nINJ1 DELETE INBOX\r\n'
        evil_pw = 'x"\r\nINJ2 DELETE INBOX\r\nINJ3 '
        c.send("e LOGIN {%d+}\r\n%s {%d+}\r\n%s\r\n"
               % (len(evil_user), evil_user, len(evil_pw), evil_pw))
        _u, t = c.read_response("e")
        assert re.match(r"^e (NO|BAD)\b", t), t
        time.sleep(0.3)
        lines = [l.split(b" ")[0] for l in fb.received]
        assert not any(l.startswith(b"INJ") for l in lines), fb.received
        c.close()
    finally:
        fb.close()


def test_nul_in_literal_refused(make_proxy):
    """RFC 9051 literals are CHAR8 (no NUL): a NUL in a user name could
    shift the fields of the SASL PLAIN message sent to the back end."""
    fb = FakeBackend()
    try:
        p = make_proxy(backends={"fake": {"address": fb.address}})
        c = p.client("plain")
        user = "victim\0someone"
        c.send("z LOGIN {%d+}\r\n%s good\r\n" % (len(user), user))
        _u, t = c.read_response("z")
        assert re.match(r"^z (NO|BAD)\b", t), t
        time.sleep(0.3)
        assert not fb.saw(b"victim"), fb.received
        c.close()
    finally:
        fb.close()


def test_commands_pipelined_behind_login(proxy, dovecot, user):
    """Commands sent in the same write as LOGIN are not lost: they run
    (on the back end after a successful login)."""
    name, pw = user
    dovecot.append(name, dv.sample_message("pipelined"))
    c = proxy.client("plain")
    c.send("x LOGIN %s wrong\r\ny NOOP\r\n" % name)
    assert c.read_response("x")[1].startswith("x NO"), c.last_untagged
    assert c.read_response("y")[1].startswith("y OK")
    c.send("a LOGIN %s %s\r\nb SELECT INBOX\r\nc LOGOUT\r\n" % (name, pw))
    _u, t = c.read_response("a")
    assert t.startswith("a OK [CAPABILITY"), t
    u, t = c.read_response("b")
    assert t.startswith("b OK [READ-WRITE]"), t
    assert "* 1 EXISTS" in u, u
    _u, t = c.read_response("c")
    assert t.startswith("c OK"), t
    c.close()
