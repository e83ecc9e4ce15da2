"""After login the proxy is a transparent relay: real clients (imaplib,
curl, mbsync) see Dovecot, large messages pass byte for byte, IDLE
pushes arrive at once."""

import base64
import os
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (HOST, POOLED_PIPE_FDS, SANITIZER_RSS_KIB, FakeBackend,
                      cpu_seconds, fd_kinds, login_ok, session_fds, sha256,
                      store_backend, wait_for)
import dovecot as dv


def big_message(size):
    """A message of about SIZE bytes with a base64 body, CRLF lines."""
    head = dv.sample_message("big one", body="")
    raw = os.urandom(size * 3 // 4)
    enc = base64.encodebytes(raw).replace(b"\n", b"\r\n")
    return head + enc


@pytest.fixture(scope="module")
def message_40m():
    return big_message(40 * 1024 * 1024)


def fetch_body(m, num=b"1"):
    typ, data = m.fetch(num, "(BODY.PEEK[])")
    assert typ == "OK", data
    return data[0][1]


@pytest.mark.parametrize("side", ["plain", "tls-both-sides"])
def test_fetch_40m_byte_identical(make_proxy, dovecot, user, message_40m,
                                  side):
    name, pw = user
    dovecot.append(name, message_40m)
    if side == "plain":
        p = make_proxy()
        m = p.imap("plain")
    else:
        p = make_proxy(backends={"store": store_backend(
            dovecot, address="%s:%d" % (dovecot.host, dovecot.tls_port),
            tls="yes", tls_ca=dovecot.cert[0],
            tls_server_name="store.test")})
        m = p.imap("tls")
    d = dovecot.connect(name)
    d.select("INBOX", readonly=True)
    direct = fetch_body(d)
    d.logout()
    assert sha256(direct) == sha256(message_40m)
    assert m.login(name, pw)[0] == "OK"
    m.select("INBOX", readonly=True)
    t0 = time.monotonic()
    via = fetch_body(m)
    elapsed = time.monotonic() - t0
    m.logout()
    assert len(via) == len(direct)
    assert sha256(via) == sha256(direct)
    assert elapsed < 30, elapsed
    rss = p.rss_kib()
    assert rss < 64 * 1024 + SANITIZER_RSS_KIB, \
        "RSS %d KiB after relaying 40 MiB" % rss


def test_append_40m_through_proxy(proxy, dovecot, user, message_40m):
    name, pw = user
    m = proxy.imap("tls")
    assert m.login(name, pw)[0] == "OK"
    typ, data = m.append("INBOX", None, None, message_40m)
    assert typ == "OK", data
    m.logout()
    d = dovecot.connect(name)
    d.select("INBOX", readonly=True)
    assert sha256(fetch_body(d)) == sha256(message_40m)
    d.logout()


def test_idle_push_through_proxy(proxy, dovecot, user):
    name, pw = user
    dovecot.append(name, dv.sample_message("first"))
    c = proxy.client("plain")
    login_ok(c, name, pw)
    u, t = c.cmd("SELECT INBOX", tag="s")
    assert "* 1 EXISTS" in u, u
    c.send("i IDLE\r\n")
    assert c.readline().startswith(b"+"), "no IDLE continuation"
    t0 = time.monotonic()
    dovecot.append(name, dv.sample_message("second"))
    while True:
        line = c.readline(timeout=5).decode()
        if line == "* 2 EXISTS":
            break
    elapsed = time.monotonic() - t0
    # Dovecot itself notices within about half a second
    assert elapsed < 1.5, "EXISTS after %.2fs" % elapsed
    c.send("DONE\r\n")
    u, t = c.read_response("i")
    assert t.startswith("i OK"), t
    c.close()


def test_relay_does_not_parse(proxy, dovecot, user):
    """After login, commands the proxy would refuse pre-auth reach
    Dovecot, lines longer than the pre-auth limit pass, and bad
    commands do not count towards the proxy's limit."""
    name, pw = user
    dovecot.append(name, dv.sample_message("findme"))
    c = proxy.client("plain")
    login_ok(c, name, pw)
    u, t = c.cmd("SELECT INBOX", tag="s")
    assert t.startswith("s OK"), t
    for i in range(8):
        u, t = c.cmd("FROBNICATE", tag="f%d" % i)
        # Dovecot's wording, not the proxy's
        assert t.startswith("f%d BAD Error in IMAP command" % i), t
    long_arg = "x" * 50000
    u, t = c.cmd('SEARCH OR SUBJECT "%s" SUBJECT findme' % long_arg,
                 tag="big")
    assert t.startswith("big OK"), t[:200]
    assert "* SEARCH 1" in u, u
    u, t = c.cmd("NOOP", tag="n")
    assert t.startswith("n OK"), t
    c.close()


def test_pipelined_commands_after_login(proxy, dovecot, user):
    name, pw = user
    dovecot.append(name, dv.sample_message("p1"))
    c = proxy.client("plain")
    login_ok(c, name, pw)
    c.send("a SELECT INBOX\r\nb FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])"
           "\r\nc NOOP\r\nd LOGOUT\r\n")
    _u, t = c.read_response("a")
    assert t.startswith("a OK"), t
    u, t = c.read_response("b")
    assert t.startswith("b OK") and "Subject: p1" in "".join(u), (u, t)
    assert c.read_response("c")[1].startswith("c OK")
    assert c.read_response("d")[1].startswith("d OK")
    c.read_until_eof(timeout=5)
    c.close()


def test_half_close_still_gets_replies(proxy, dovecot, user):
    """A script pipes its commands in and closes its side (printf | nc):
    the replies to everything it sent still arrive, then the close."""
    name, pw = user
    dovecot.append(name, dv.sample_message("half"))
    c = proxy.client("plain")
    login_ok(c, name, pw)
    c.send("a SELECT INBOX\r\nb FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])"
           "\r\nc LOGOUT\r\n")
    c.sock.shutdown(socket.SHUT_WR)
    lines = c.read_until_eof(timeout=5)
    text = "".join(lines)
    assert any(ln.startswith("a OK") for ln in lines), text
    assert "Subject: half" in text, text
    assert any(ln.startswith("c OK") for ln in lines), text
    c.close()
    assert wait_for(lambda: "client closed" in proxy.log_text()
                    or "back end closed" in proxy.log_text()), \
        proxy.log_text()[-2000:]


def scripted(proxy, text, timeout=5):
    """What `printf TEXT | nc` would see: TEXT sent at once, then the
    client's side closed, then every byte until the proxy closes."""
    s = socket.create_connection((HOST, proxy.ports["plain"]), timeout=5)
    try:
        s.sendall(text.encode())
        s.shutdown(socket.SHUT_WR)
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                return data.decode("utf-8", "replace")
            data += chunk
        raise AssertionError("still open after %ss: %r" % (timeout, data))
    finally:
        s.close()


def test_scripted_login_before_half_close(proxy, dovecot, user):
    """The whole dialogue, LOGIN included, sent before the close: the
    login still happens and every command is answered."""
    name, pw = user
    dovecot.append(name, dv.sample_message("scripted"))
    out = scripted(proxy, "a LOGIN %s %s\r\nb SELECT INBOX\r\n"
                   "c FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n"
                   "d LOGOUT\r\n" % (name, pw))
    for tag in "abcd":
        assert re.search(r"(?m)^%s OK" % tag, out), out
    assert "Subject: scripted" in out, out


def test_scripted_failed_login_is_answered(proxy, user):
    name, _pw = user
    out = scripted(proxy, "a LOGIN %s wrong-password\r\nb NOOP\r\n" % name)
    assert re.search(r"(?m)^a NO", out), out
    assert re.search(r"(?m)^b OK", out), out


def test_half_close_mid_command_closes(proxy):
    """A command cut short by the close can never be answered: the
    session ends at once, not at a timeout."""
    t0 = time.monotonic()
    out = scripted(proxy, "a NOOP\r\nb LOGIN {5}\r\nab")
    assert re.search(r"(?m)^a OK", out), out
    assert time.monotonic() - t0 < 2
    assert wait_for(lambda: not proxy.ask_json("sessions")["sessions"])


def test_half_close_with_a_slow_reader_does_not_spin(proxy, dovecot, user,
                                                    message_40m):
    """Half-closed while a large answer is on its way and not read for
    a second: the proxy waits for room without burning the CPU on the
    client's end of stream.  Dovecot stops answering at an end of stream
    (straight to it, the same client gets only part of the FETCH), so
    what is asserted is that the session then ends cleanly."""
    name, pw = user
    dovecot.append(name, message_40m)
    c = proxy.client("plain")
    login_ok(c, name, pw)
    c.cmd("SELECT INBOX", tag="s")
    c.send("f FETCH 1 BODY.PEEK[]\r\n")
    c.sock.shutdown(socket.SHUT_WR)
    time.sleep(0.3)             # the proxy fills the client's socket
    cpu0 = cpu_seconds(proxy.pid)
    time.sleep(1.0)
    spent = cpu_seconds(proxy.pid) - cpu0
    assert spent < 0.2, "%.2f s of CPU while the client read nothing" % spent
    got = 0
    c.sock.settimeout(20)
    while True:
        chunk = c.sock.recv(1 << 20)
        if not chunk:
            break
        got += len(chunk)
    assert got > 0
    c.close()
    assert wait_for(lambda: not proxy.ask_json("sessions")["sessions"])


def half_closed_quiet_cpu(p, command, settle):
    """Logs in through P (a FakeBackend behind it), sends COMMAND and
    closes the client's side; returns the client and the CPU seconds
    the daemon spends in the second after SETTLE."""
    c = p.client("plain")
    login_ok(c, "someone", "good")
    c.send(command + "\r\n")
    c.sock.shutdown(socket.SHUT_WR)
    time.sleep(settle)
    cpu0 = cpu_seconds(p.pid)
    time.sleep(1.0)
    return c, cpu_seconds(p.pid) - cpu0


def test_half_close_waits_quietly_for_a_slow_back_end(make_proxy):
    """The client closes its side while its command is still running on
    the back end: the proxy waits without reading the client's end of
    stream again and again, and the late answer still arrives."""
    fake = FakeBackend()
    try:
        p = make_proxy(backends={"fake": {
            "address": "%s:%d" % (HOST, fake.port), "tls": "no"}})
        c, spent = half_closed_quiet_cpu(p, "s SLOW", 0.2)
        assert spent < 0.2, "%.2f s of CPU waiting for the back end" % spent
        assert "s OK slow" in "".join(c.read_until_eof(timeout=5))
        c.close()
    finally:
        fake.close()


def test_half_close_spins_not_while_the_back_end_talks(make_proxy):
    """A back end that goes on writing after the client closed its side,
    to a client that reads nothing for a second: the proxy waits for
    room (the client's end of stream is not read again and again), then
    every byte arrives."""
    fake = FakeBackend()
    try:
        p = make_proxy(backends={"fake": {
            "address": "%s:%d" % (HOST, fake.port), "tls": "no"}})
        c, spent = half_closed_quiet_cpu(p, "b BIG", 0.3)
        assert spent < 0.2, "%.2f s of CPU while the client read nothing" \
            % spent
        data = b"".join(iter(lambda: c.sock.recv(1 << 20), b""))
        assert (c.buf + data).endswith(b"b OK big\r\n"), data[-100:]
        assert len(c.buf + data) == 16 * 1024 * 1026 + len(b"b OK big\r\n")
        c.close()
    finally:
        fake.close()


def test_half_close_without_logout_ends_session(proxy, dovecot, user):
    """Half-closed with no LOGOUT: the back end sees the end of stream
    too, and the session goes (not held until the idle timeout)."""
    name, pw = user
    c = proxy.client("plain")
    login_ok(c, name, pw)
    c.send("a NOOP\r\n")
    c.sock.shutdown(socket.SHUT_WR)
    lines = c.read_until_eof(timeout=5)
    assert any(ln.startswith("a OK") for ln in lines), lines
    c.close()
    assert wait_for(lambda: not proxy.ask_json("sessions")["sessions"],
                    timeout=5)


def test_imaplib_session(proxy, dovecot, user):
    name, pw = user
    msgs = [dv.sample_message("msg %d" % i, body="body %d\r\n" % i)
            for i in range(5)]
    for msg in msgs:
        dovecot.append(name, msg)
    m = proxy.imap("plain")
    assert m.login(name, pw)[0] == "OK"
    typ, data = m.select("INBOX")
    assert data == [b"5"], data
    typ, data = m.search(None, "SUBJECT", '"msg 3"')
    assert data == [b"4"], data
    for i, msg in enumerate(msgs, 1):
        assert fetch_body(m, str(i).encode()) == msg
    assert m.store("2", "+FLAGS", "\\Seen")[0] == "OK"
    assert m.create("Archive")[0] == "OK"
    assert m.copy("1:2", "Archive")[0] == "OK"
    typ, data = m.list()
    assert any(b"Archive" in l for l in data), data
    m.close()
    m.logout()
    assert dovecot.count(name, "Archive") == 2


# -- curl ----------------------------------------------------------------

def curl(*args):
    r = subprocess.run(["curl", "-sS", "--max-time", "20", *args],
                       capture_output=True, timeout=30)
    return r.returncode, r.stdout, r.stderr.decode(errors="replace")


@pytest.mark.parametrize("login_options", [
    [], ["--login-options", "AUTH=PLAIN"],
    ["--login-options", "AUTH=PLAIN", "--sasl-ir"],
    ["--login-options", "AUTH=LOGIN"]], ids=["default", "plain",
                                             "plain-sasl-ir", "login"])
def test_curl_imaps(proxy, dovecot, user, pki, login_options):
    name, pw = user
    msg = dv.sample_message("curl test", body="curl body\r\n")
    dovecot.append(name, msg)
    dovecot.append(name, dv.sample_message("other"), mailbox="Folder")
    base = "imaps://127.0.0.1:%d" % proxy.ports["tls"]
    opts = ["--cacert", pki["org"][0], "--user", "%s:%s" % (name, pw)]
    opts += login_options
    rc, out, err = curl(*opts, base + "/")
    assert rc == 0, err
    assert re.search(rb'^\* LIST \(.*\) "/" INBOX\r?$', out, re.M), out
    assert re.search(rb'^\* LIST \(.*\) "/" Folder\r?$', out, re.M), out
    rc, out, err = curl(*opts, base + "/INBOX")
    assert rc == 0, err
    assert b"INBOX" in out, out
    rc, out, err = curl(*opts, base + "/INBOX/;MAILINDEX=1")
    assert rc == 0, err
    assert out.replace(b"\r\n", b"\n") == msg.replace(b"\r\n", b"\n")
    rc, out, err = curl(*opts, base + "/INBOX?SUBJECT%20curl")
    assert rc == 0 and out.strip() == b"* SEARCH 1", (out, err)


def test_curl_starttls(proxy, dovecot, user, pki):
    name, pw = user
    msg = dv.sample_message("curl starttls")
    dovecot.append(name, msg)
    rc, out, err = curl("--ssl-reqd", "--cacert", pki["org"][0],
                        "--user", "%s:%s" % (name, pw),
                        "imap://127.0.0.1:%d/INBOX/;UID=1"
                        % proxy.ports["starttls"])
    assert rc == 0, err
    assert out.replace(b"\r\n", b"\n") == msg.replace(b"\r\n", b"\n")


def test_curl_wrong_password(proxy, user, pki):
    name, pw = user
    rc, out, err = curl("--cacert", pki["org"][0],
                        "--user", "%s:bad%s" % (name, pw),
                        "imaps://127.0.0.1:%d/" % proxy.ports["tls"])
    assert rc == 67, (rc, err)      # CURLE_LOGIN_DENIED


# -- mbsync ---------------------------------------------------------------

def mbsync(tmp, name, host, port, user, pw, ssltype, certfile):
    root = Path(tmp) / name
    (root / "mail").mkdir(parents=True)
    rc = root / "mbsyncrc"
    rc.write_text(
        "IMAPAccount acc\nHost %s\nPort %d\nUser %s\nPass %s\n"
        "SSLType %s\nCertificateFile %s\nAuthMechs PLAIN LOGIN\n\n"
        "IMAPStore far\nAccount acc\n\n"
        "MaildirStore near\nPath %s/mail/\nInbox %s/mail/INBOX\n"
        "SubFolders Verbatim\n\n"
        "Channel ch\nFar :far:\nNear :near:\nPatterns *\nCreate Near\n"
        "Sync Pull\nSyncState *\n"
        % (host, port, user, pw, ssltype, certfile, root, root))
    r = subprocess.run(["mbsync", "-c", str(rc), "-a"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    counts = {}
    for box in (root / "mail").iterdir():
        if box.is_dir():
            # mbsync adds its own random X-TUID header; drop it
            counts[box.name] = sorted(
                re.sub(rb"(?m)^X-TUID: .*\n", b"", f.read_bytes())
                for sub in ("cur", "new") for f in (box / sub).iterdir())
    return counts


def test_mbsync_matches_direct(proxy, dovecot, user, pki, tmp_path):
    name, pw = user
    for i in range(7):
        dovecot.append(name, dv.sample_message("inbox %d" % i))
    for i in range(3):
        dovecot.append(name, dv.sample_message("arch %d" % i),
                       mailbox="Archive")
    direct = mbsync(tmp_path, "direct", HOST, dovecot.port, name, pw,
                    "None", pki["org"][0])
    # through the proxy's implicit TLS listener, certificate verified
    # (the default certificate names localhost)
    via = mbsync(tmp_path, "proxy", "localhost", proxy.ports["tls"], name,
                 pw, "IMAPS", pki["org"][0])
    assert {k: len(v) for k, v in direct.items()} == \
        {"INBOX": 7, "Archive": 3}
    assert {k: len(v) for k, v in via.items()} == \
        {k: len(v) for k, v in direct.items()}
    assert via == direct
    # and over STARTTLS
    via2 = mbsync(tmp_path, "proxy-starttls", "localhost",
                  proxy.ports["starttls"], name, pw, "STARTTLS",
                  pki["org"][0])
    assert via2 == direct


def test_many_concurrent_sessions(proxy, dovecot, user):
    """60 sessions at once over both workers, plain and TLS, each
    fetching the same message and getting the same bytes."""
    import threading
    name, pw = user
    msg = dv.sample_message("shared", body="z" * 5000 + "\r\n")
    dovecot.append(name, msg)
    errors = []

    def one(i):
        try:
            m = proxy.imap("tls" if i % 2 else "plain")
            assert m.login(name, pw)[0] == "OK"
            assert m.select("INBOX", readonly=True)[0] == "OK"
            for _ in range(3):
                assert fetch_body(m) == msg
            m.logout()
        except Exception as e:          # collected, asserted below
            errors.append("%d: %r" % (i, e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []


def test_client_vanishes_mid_fetch(proxy, dovecot, user, message_40m):
    """A client gone in the middle of a large FETCH: the proxy lets go
    of both sides and carries on.  Splice pipes may stay pooled, within
    the pool's bound."""
    name, pw = user
    dovecot.append(name, message_40m)
    fds_before = session_fds(proxy.pid)
    for _ in range(3):
        c = proxy.client("plain")
        login_ok(c, name, pw)
        c.cmd("SELECT INBOX", tag="s")
        c.send("f FETCH 1 BODY.PEEK[]\r\n")
        c.readexact(1024 * 1024)
        c.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        fds = session_fds(proxy.pid)
        if fds <= fds_before:
            break
        time.sleep(0.1)
    assert fds <= fds_before, (fds_before, fds)
    assert fd_kinds(proxy.pid)["pipe"] <= POOLED_PIPE_FDS
    c = proxy.client("plain")
    login_ok(c, name, pw)
    c.close()
