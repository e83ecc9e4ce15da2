"""A back end that is down, silent, rude or unverifiable:
`tag NO [UNAVAILABLE]`, and the client's session goes on."""

import time

import pytest

from conftest import (FakeBackend, HOST, b64, login_ok, store_backend)
import dovecot as dv


def unavailable(c, cmd, tag, timeout=15):
    t0 = time.monotonic()
    _u, t = c.cmd(cmd, tag=tag, timeout=timeout)
    elapsed = time.monotonic() - t0
    assert t.startswith(tag + " NO [UNAVAILABLE]"), t
    return elapsed


def still_usable(c):
    _u, t = c.cmd("NOOP", tag="still")
    assert t.startswith("still OK"), t


def test_backend_down(make_proxy):
    port = dv.free_port()           # nothing listens there
    p = make_proxy(backends={"gone": {"address": "%s:%d" % (HOST, port),
                                      "connect_timeout": "2s"}})
    c = p.client("plain")
    assert unavailable(c, "LOGIN someone secret", "l") < 3
    still_usable(c)
    assert unavailable(c, "AUTHENTICATE PLAIN " + b64("\0someone\0secret"),
                       "a") < 3
    c.send("c AUTHENTICATE PLAIN\r\n")
    assert c.readline().startswith(b"+")
    c.send(b64("\0someone\0secret") + "\r\n")
    _u, t = c.read_response("c")
    assert t.startswith("c NO [UNAVAILABLE]"), t
    still_usable(c)
    c.close()


def test_backend_never_greets(make_proxy):
    fb = FakeBackend(mode="silent")     # listens, never writes
    try:
        p = make_proxy(backends={"mute": {"address": fb.address,
                                          "connect_timeout": "2s"}})
        c = p.client("plain")
        elapsed = unavailable(c, "LOGIN someone secret", "l")
        assert 1.5 <= elapsed <= 6, elapsed
        still_usable(c)
        c.close()
    finally:
        fb.close()


@pytest.mark.parametrize("mode", ["close", "bye", "garbage"])
def test_backend_bad_greeting(make_proxy, mode):
    fb = FakeBackend(mode=mode)
    try:
        p = make_proxy(backends={"rude": {"address": fb.address,
                                          "connect_timeout": "2s"}})
        c = p.client("plain")
        assert unavailable(c, "LOGIN someone good", "l") < 5
        still_usable(c)
        c.close()
    finally:
        fb.close()


def test_backend_tls_wrong_ca(make_proxy, dovecot, pki, user):
    name, pw = user
    p = make_proxy(backends={"store": store_backend(
        dovecot, address="%s:%d" % (dovecot.host, dovecot.tls_port),
        tls="yes", tls_verify="yes", tls_ca=pki["other"][0],
        tls_server_name="store.test")})
    c = p.client("plain")
    unavailable(c, "LOGIN %s %s" % (name, pw), "l")
    still_usable(c)
    c.close()
    # the password never reached Dovecot
    assert dovecot.login_lines(name) == []


def test_backend_starttls_wrong_ca(make_proxy, dovecot, pki, user):
    name, pw = user
    p = make_proxy(backends={"store": store_backend(
        dovecot, tls="starttls", tls_verify="yes", tls_ca=pki["other"][0],
        tls_server_name="store.test")})
    c = p.client("plain")
    unavailable(c, "LOGIN %s %s" % (name, pw), "l")
    c.close()
    assert dovecot.login_lines(name) == []


def test_backend_tls_wrong_server_name(make_proxy, dovecot, user):
    name, pw = user
    p = make_proxy(backends={"store": store_backend(
        dovecot, address="%s:%d" % (dovecot.host, dovecot.tls_port),
        tls="yes", tls_verify="yes", tls_ca=dovecot.cert[0],
        tls_server_name="not-the-store.test")})
    c = p.client("plain")
    unavailable(c, "LOGIN %s %s" % (name, pw), "l")
    c.close()
    assert dovecot.login_lines(name) == []


def test_backend_starttls_not_offered(make_proxy, user):
    fb = FakeBackend()      # no STARTTLS capability
    try:
        p = make_proxy(backends={"fake": {"address": fb.address,
                                          "tls": "starttls",
                                          "tls_verify": "no",
                                          "connect_timeout": "3s"}})
        c = p.client("plain")
        # refused at once: no need to wait for connect_timeout
        assert unavailable(c, "LOGIN someone good", "l") < 2
        # never fall back to sending the password in plaintext
        assert b"LOGIN" not in fb.received_text()
        assert b"AUTHENTICATE" not in fb.received_text()
        assert not fb.saw(b"good"), fb.received_text()
        c.close()
    finally:
        fb.close()


def test_backend_drops_session(make_proxy):
    """The back end closing a logged-in session without a word closes
    the client's, with a BYE that says so."""
    fb = FakeBackend(drop_after_login=True)
    try:
        p = make_proxy(backends={"fake": {"address": fb.address}})
        c = p.client("plain")
        login_ok(c, "someone", "good")
        c.send("x NOOP\r\n")
        rest = c.read_until_eof(timeout=5)
        assert rest[-1] == "* BYE Connection to the mail store lost", rest
        c.close()
        # the proxy is fine
        c = p.client("plain")
        login_ok(c, "someone", "good")
        c.close()
    finally:
        fb.close()


def test_client_drops_during_backend_connect(make_proxy):
    """A client gone while the proxy waits for a silent back end."""
    fb = FakeBackend(mode="silent")
    try:
        p = make_proxy(backends={"mute": {"address": fb.address,
                                          "connect_timeout": "2s"}})
        for _ in range(5):
            c = p.client("plain")
            c.send("l LOGIN someone secret\r\n")
            c.close()
        time.sleep(2.5)
        assert p.alive()
        c = p.client("plain")
        still_usable(c)
        c.close()
    finally:
        fb.close()
