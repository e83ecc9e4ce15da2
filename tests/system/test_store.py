"""The fixtures themselves: the throwaway Dovecot and the fake back end.

When these fail, the proxy tests' failures mean nothing.
"""

import imaplib
import ssl

import pytest

from conftest import RawClient, FakeBackend, caps_of, client_ctx
import dovecot as dv


def test_dovecot_plain_and_user_added_at_runtime(dovecot, user):
    name, pw = user
    dovecot.append(name, dv.sample_message("one"))
    assert dovecot.count(name) == 1
    c = RawClient(dovecot.host, dovecot.port)
    assert c.greeting.startswith("* OK")
    assert "STARTTLS" in caps_of(c.greeting)
    _u, tagged = c.cmd('LOGIN %s "wrong"' % name, tag="a")
    assert tagged.startswith("a NO [AUTHENTICATIONFAILED]"), tagged
    c.close()


def test_dovecot_imaps_verifies_with_its_cert(dovecot, user):
    name, pw = user
    ctx = ssl.create_default_context(cafile=dovecot.cert[0])
    c = imaplib.IMAP4_SSL(dovecot.host, dovecot.tls_port, ssl_context=ctx,
                          timeout=10)
    # the certificate names store.test, not 127.0.0.1's host name
    assert c.login(name, pw)[0] == "OK"
    c.logout()
    with pytest.raises(ssl.SSLError):
        bad = ssl.create_default_context()
        imaplib.IMAP4_SSL(dovecot.host, dovecot.tls_port, ssl_context=bad,
                          timeout=10)


def test_fake_backend_records():
    fb = FakeBackend()
    try:
        c = RawClient("127.0.0.1", fb.port)
        _u, t = c.cmd("LOGIN x good", tag="a")
        assert t.startswith("a OK")
        assert b"LOGIN x good" in fb.received_text()
        c.close()
    finally:
        fb.close()


def test_client_ctx_no_verify(dovecot):
    c = RawClient(dovecot.host, dovecot.tls_port, tls=True, ctx=client_ctx())
    assert c.greeting.startswith("* OK")
    c.close()
