"""Passwords and SASL secrets never reach a log, even at debug level
(SPEC.md s.7, STYLE.md s.6)."""

from conftest import FakeBackend, SECRET_PW, b64, imap_quote

USER = "proxytest"
WRONG_PW = "Walrus-Wrong-93xq-Pass"


def forbidden_strings():
    """Every form in which the secrets could leak."""
    out = []
    for pw in (SECRET_PW, WRONG_PW):
        out += [pw, b64(pw), b64("\0%s\0%s" % (USER, pw)),
                b64("%s\0%s\0%s" % (USER, USER, pw)),
                imap_quote(pw), pw.lower(), pw.upper()]
    # the distinctive core, in case of truncation or escaping
    out += ["Zebra-Quokka", "Walrus-Wrong"]
    return out


def exercise(p):
    # LOGIN: atoms, quoted, literal, non-sync literal
    for cmd in ("LOGIN %s %s" % (USER, SECRET_PW),
                "LOGIN %s %s" % (imap_quote(USER), imap_quote(SECRET_PW))):
        c = p.client("plain")
        _u, t = c.cmd(cmd, tag="a")
        assert t.startswith("a OK"), t
        c.close()
    c = p.client("plain")
    c.send("b LOGIN %s {%d}\r\n" % (USER, len(SECRET_PW)))
    assert c.readline().startswith(b"+")
    c.send(SECRET_PW + "\r\n")
    assert c.read_response("b")[1].startswith("b OK")
    c.close()
    c = p.client("plain")
    _u, t = c.cmd("LOGIN %s {%d+}\r\n%s" % (USER, len(SECRET_PW),
                                            SECRET_PW), tag="b2")
    assert t.startswith("b2 OK"), t
    c.close()
    # AUTHENTICATE PLAIN with SASL-IR and with a continuation
    c = p.client("tls")
    _u, t = c.cmd("AUTHENTICATE PLAIN " + b64("\0%s\0%s" % (USER,
                                                           SECRET_PW)),
                  tag="c")
    assert t.startswith("c OK"), t
    c.close()
    c = p.client("plain")
    c.send("d AUTHENTICATE PLAIN\r\n")
    assert c.readline().startswith(b"+")
    c.send(b64("%s\0%s\0%s" % (USER, USER, SECRET_PW)) + "\r\n")
    assert c.read_response("d")[1].startswith("d OK")
    c.close()
    # AUTHENTICATE LOGIN
    c = p.client("plain")
    c.send("e AUTHENTICATE LOGIN\r\n")
    assert c.readline().startswith(b"+")
    c.send(b64(USER) + "\r\n")
    assert c.readline().startswith(b"+")
    c.send(b64(SECRET_PW) + "\r\n")
    assert c.read_response("e")[1].startswith("e OK")
    c.close()
    # failed logins
    c = p.client("plain")
    _u, t = c.cmd("LOGIN %s %s" % (USER, WRONG_PW), tag="f")
    assert t.startswith("f NO"), t
    _u, t = c.cmd("AUTHENTICATE PLAIN " + b64("\0%s\0%s" % (USER,
                                                           WRONG_PW)),
                  tag="g")
    assert t.startswith("g NO"), t
    c.send("h AUTHENTICATE PLAIN\r\n")
    assert c.readline().startswith(b"+")
    c.send(b64("\0%s\0%s" % (USER, WRONG_PW)) + "\r\n")
    assert c.read_response("h")[1].startswith("h NO")
    c.close()
    # refused before STARTTLS (require_tls), and in a bad command
    c = p.client("starttls")
    _u, t = c.cmd("LOGIN %s %s" % (USER, WRONG_PW), tag="i")
    assert t.split()[1] in ("NO", "BAD"), t
    _u, t = c.cmd("XLOGIN %s %s" % (USER, SECRET_PW), tag="j")
    assert t.split()[1] == "BAD", t
    c.close()
    # an over-long line carrying the password
    c = p.client("plain")
    try:
        c.send("k LOGIN %s %s %s\r\n" % (USER, SECRET_PW, "p" * 20000))
        c.read_until_eof(timeout=5)
    except OSError:
        pass
    c.close()
    # cancelled exchange after the secret was typed into the wrong place
    c = p.client("plain")
    c.send("l AUTHENTICATE PLAIN\r\n")
    assert c.readline().startswith(b"+")
    c.send("*\r\n")
    assert c.read_response("l")[1].startswith("l BAD")
    c.close()


def test_no_secret_in_debug_log(make_proxy):
    p = make_proxy(server={"require_tls": "yes"})
    exercise(p)
    # the back end is down: the secret is still not logged
    fb = FakeBackend(mode="close")
    try:
        q = make_proxy(backends={"down": {"address": fb.address}})
        c = q.client("plain")
        _u, t = c.cmd("LOGIN %s %s" % (USER, SECRET_PW), tag="z")
        assert t.startswith("z NO [UNAVAILABLE]"), t
        c.close()
    finally:
        fb.close()
    assert p.stop() == 0
    assert q.stop() == 0
    for proxy in (p, q):
        log = proxy.log_text()
        # logging happened, at debug level, and names the user
        assert USER in log, "user name not logged:\n" + log[-2000:]
        for s in forbidden_strings():
            assert s not in log, "secret %r in the log:\n%s" % (
                s, "\n".join(l for l in log.splitlines() if s in l))
