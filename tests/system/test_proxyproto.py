"""The PROXY protocol on listeners flagged `proxy` (SPEC.md section 3,
`proxy_protocol_from`), with a real HAProxy 2.6 in front (haproxy.py),
the real daemon and the session's real Dovecot behind it.

Covered:
- HAProxy send-proxy (v1) and send-proxy-v2 (v2): the address HAProxy
  carries is the client's everywhere: `sessions` on the stats socket
  (client and GeoIP country), the daemon's log, Dovecot's log (forward_id
  sends it in ID x-originating-ip), the ACL and max_connections_per_ip;
- `tls proxy`: HAProxy passes the client's own TLS through, the header
  comes before the handshake (RawClient and imaplib.IMAP4_SSL);
- hand-made headers for the edge cases: an untrusted sender, malformed,
  missing and wrong-version headers are closed without a greeting and
  logged; a header written byte by byte; v2 LOCAL and v1 UNKNOWN keep
  the connection's own address; bytes (IMAP or a TLS ClientHello) sent
  in the same packet as the header are not lost; an IPv4-mapped carried
  address meets `ip` rules as IPv4; a header on a plain listener spoofs
  nothing; `-t` rejects a `proxy` listener without proxy_protocol_from;
- a partial header waiting for its end costs no CPU (the daemon must
  not spin on a socket it only peeks at), and a sender that closes
  mid-header is released at once.

Client source addresses used here: 127.0.0.2-.12 and .70 (DE in the
conftest.geoip databases).  Everything listens on 127.0.0.1.
"""

import imaplib
import os
import re
import socket
import ssl
import struct
import subprocess
import time

import pytest

from conftest import (HOST, RawClient, client_ctx, cpu_seconds, daemon_path,
                      imap_quote, login_ok)
from haproxy import HAProxy

LISTENERS = (("pp", HOST, "proxy"), ("pptls", HOST, "tls proxy"),
             ("plain", HOST, ""))
TRUSTED = {"proxy_protocol_from": "127.0.0.1/32"}
VERSIONS = ("v1", "v2")
READ_TIMEOUT = 5.0              # a close or an answer comes well within this

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


# ---------------------------------------------------------------------
# headers built by hand

def v1_header(src, sport, dst=HOST, dport=143, proto="TCP4"):
    return ("PROXY %s %s %s %d %d\r\n" % (proto, src, dst, sport,
                                          dport)).encode()


def v2_header(src=None, sport=0, dst=HOST, dport=143, command=1,
              version=2, fam=0x11, tlv=b""):
    """A v2 header: PROXY (COMMAND 1) or LOCAL (0) over TCP4 (FAM 0x11)
    or TCP6 (0x21); no addresses for LOCAL."""
    if command == 0:
        body = b""
    elif fam == 0x21:
        body = (socket.inet_pton(socket.AF_INET6, src) +
                socket.inet_pton(socket.AF_INET6, dst) +
                struct.pack(">HH", sport, dport))
    else:
        body = (socket.inet_aton(src) + socket.inet_aton(dst) +
                struct.pack(">HH", sport, dport))
    body += tlv
    return V2_SIG + struct.pack(">BBH", (version << 4) | command,
                                fam if command else 0, len(body)) + body


V2_LOCAL = v2_header(command=0)


# ---------------------------------------------------------------------
# helpers

def connect(p, listener, src=None):
    """A plain TCP socket to P's LISTENER (nothing sent, nothing read)."""
    return socket.create_connection(
        (p.hosts[listener], p.ports[listener]), timeout=READ_TIMEOUT,
        source_address=(src, 0) if src else None)


def pp_client(p, listener, header, src=None, tls=None):
    """A RawClient on P's LISTENER that sent HEADER first (then the TLS
    handshake on `tls` listeners); its greeting is read."""
    c = RawClient(p.hosts[listener], p.ports[listener], src=src,
                  timeout=READ_TIMEOUT, greet=False)
    c.send(header)
    flags = dict((n, f) for n, _h, f in p.listeners)[listener].split()
    if tls if tls is not None else "tls" in flags:
        c.sock = client_ctx().wrap_socket(c.sock)
    c.greeting = c.readline().decode()
    return c


def wait_ready(p, timeout):
    """Proxy._wait_ready for `proxy` listeners: the probe sends a v2
    LOCAL header (from 127.0.0.1, which every proxy here trusts)."""
    deadline = time.monotonic() + timeout
    for name, _host, flags in p.listeners:
        while True:
            rc = p.proc.poll()
            if rc is not None:
                raise RuntimeError("imapproxyd exited with %d\n%s"
                                   % (rc, p.diagnostics()))
            if time.monotonic() > deadline:
                raise RuntimeError("imapproxyd did not greet on %s\n%s"
                                   % (name, p.diagnostics()))
            try:
                header = V2_LOCAL if "proxy" in flags.split() else b""
                c = pp_client(p, name, header)
                c.close()
                if c.greeting.startswith("* OK"):
                    break
            except (OSError, EOFError):
                pass
            time.sleep(0.05)


def pp_proxy(make_proxy, server=None, files=None, **kw):
    """A started proxy with LISTENERS trusting 127.0.0.1; FILES: {name:
    text} written into its folder before it starts."""
    s = dict(TRUSTED)
    s.update(server or {})
    p = make_proxy(start=False, listeners=LISTENERS, server=s, **kw)
    for name, text in (files or {}).items():
        (p.dir / name).write_text(text)
    p._wait_ready = lambda timeout: wait_ready(p, timeout)
    return p.start()


@pytest.fixture
def haproxy(tmp_path):
    """haproxy(p, listener, send_proxy, **frontend) -> HAProxy started
    in front of P's LISTENER (TCP mode; the client's bytes passed
    through unless FRONTEND says ssl=True); every one is stopped at
    teardown."""
    started = []

    def make(p, listener, send_proxy, **frontend):
        frontend.setdefault("bind", HOST)
        frontend.update(send_proxy=send_proxy, server="%s:%d" % (
            p.hosts[listener], p.ports[listener]))
        hp = HAProxy(tmp_path, [frontend], name="haproxy%d" % len(started))
        started.append(hp)
        return hp.start()

    yield make
    for hp in started:
        hp.stop()


def via(hp, src, tls=False):
    """A RawClient connected to HAProxy HP from SRC, greeting read."""
    host, port = hp.address()
    return RawClient(host, port, src=src, tls=tls, timeout=READ_TIMEOUT)


def local_port(c):
    sock = c.sock if isinstance(c, RawClient) else c
    return sock.getsockname()[1]


def sessions(p):
    return p.ask_json("sessions")["sessions"]


def session_of(p, user):
    (s,) = [s for s in sessions(p) if s["user"] == user]
    return s


def sessions_from(p, client):
    """The sessions whose client is CLIENT ("ip:port")."""
    return [s for s in sessions(p) if s["client"] == client]


def wait_for(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def wait_log(p, *needles, timeout=5.0):
    """The proxy log lines holding every one of NEEDLES (waits)."""
    lines = []

    def found():
        lines[:] = [l for l in p.log_text().splitlines()
                    if all(n in l for n in needles)]
        return lines
    assert wait_for(found, timeout), ("no proxy log line with %r; log:\n%s"
                                      % (needles, p.log_text()[-3000:]))
    return lines


def wait_dovecot_login(dovecot, user, timeout=5.0):
    """Dovecot's last imap-login Login: line for USER (waits)."""
    assert wait_for(lambda: dovecot.login_lines(user), timeout), \
        dovecot.log_text()[-2000:]
    return dovecot.login_lines(user)[-1]


def closed_without_greeting(sock, data=b""):
    """Sends DATA (the peer may already be gone), then reads until the
    peer closes; returns every byte it sent first.  Fails when it does
    not close within READ_TIMEOUT."""
    try:
        if data:
            sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        return b""
    got = b""
    deadline = time.monotonic() + READ_TIMEOUT
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "still open after %.0fs; got %r" % (READ_TIMEOUT,
                                                             got)
        sock.settimeout(left)
        try:
            chunk = sock.recv(4096)
        except ConnectionResetError:
            return got
        except socket.timeout:
            continue
        if not chunk:
            return got
        got += chunk


def assert_closed_silently(p, sock, data, src=HOST):
    """DATA on SOCK gets no byte back, the connection is closed, and the
    daemon logs why (a line naming the client that mentions PROXY) and,
    closing it, that it wrote nothing (out=0)."""
    port = local_port(sock)
    assert closed_without_greeting(sock, data) == b""
    who = "client=%s:%d " % (src, port)
    lines = wait_log(p, who, "PROXY")
    assert lines, p.log_text()[-3000:]
    closing = wait_log(p, who, " out=")
    assert all(" out=0 " in l for l in closing), closing
    assert wait_for(lambda: not sessions_from(p, "%s:%d" % (src, port)))


class SourcedIMAP4_SSL(imaplib.IMAP4_SSL):
    """imaplib.IMAP4_SSL connecting from a given source address."""

    def __init__(self, host, port, src, **kw):
        self.src = src
        super().__init__(host, port, **kw)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self.src, 0))
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


# ---------------------------------------------------------------------
# through a real HAProxy

@pytest.mark.parametrize("version", VERSIONS)
def test_haproxy_client_address_everywhere(make_proxy, haproxy, dovecot,
                                           user, version):
    """The carried address shows on the stats socket, in the daemon's
    log and, with forward_id, in Dovecot's log."""
    name, pw = user
    p = pp_proxy(make_proxy)
    # The balancer listens on its own address: the one the client
    # connected to, which ID's x-connected-ip carries to Dovecot (lip).
    hp = haproxy(p, "pp", version, bind="127.0.0.3")
    c = via(hp, "127.0.0.9")
    assert c.greeting.startswith("* OK"), c.greeting
    login_ok(c, name, pw)
    _u, t = c.cmd("SELECT INBOX", tag="s")
    assert t.startswith("s OK"), t
    me = "127.0.0.9:%d" % local_port(c)
    s = session_of(p, name)
    assert s["client"] == me, s
    assert s["listener"] == "%s:%d" % (HOST, p.ports["pp"]), s
    assert s["state"] == "relay" and s["tls"] is None, s
    dv_line = wait_dovecot_login(dovecot, name)
    assert "rip=127.0.0.9," in dv_line and "lip=127.0.0.3," in dv_line, \
        dv_line
    c.close()
    wait_log(p, "client=%s user=%s logged in" % (me, name))
    closed = wait_log(p, "client=%s user=%s server=default" % (me, name))
    assert "listener=%s:%d" % (HOST, p.ports["pp"]) in closed[-1], closed
    # HAProxy's own address never stands for this client after the header.
    assert not [l for l in p.log_text().splitlines()
                if "user=%s " % name in l and "client=127.0.0.1:" in l]


@pytest.mark.parametrize("version", VERSIONS)
def test_haproxy_tls_passthrough(make_proxy, haproxy, dovecot, user, user2,
                                 version):
    """HAProxy in TCP mode passes the client's TLS through; the header
    comes first and the handshake then happens with imapproxyd."""
    p = pp_proxy(make_proxy)
    hp = haproxy(p, "pptls", version)
    c = via(hp, "127.0.0.9", tls=True)
    assert c.greeting.startswith("* OK"), c.greeting
    login_ok(c, *user)
    s = session_of(p, user[0])
    assert s["client"] == "127.0.0.9:%d" % local_port(c), s
    assert s["listener"] == "%s:%d" % (HOST, p.ports["pptls"]), s
    assert (s["tls"] or "").startswith("TLSv1."), s

    host, port = hp.address()
    m = SourcedIMAP4_SSL(host, port, "127.0.0.10", ssl_context=client_ctx(),
                         timeout=30)
    try:
        assert m.login(*user2)[0] == "OK"
        assert m.select("INBOX")[0] == "OK"
        s2 = session_of(p, user2[0])
        assert s2["client"] == "127.0.0.10:%d" % m.sock.getsockname()[1]
        assert (s2["tls"] or "").startswith("TLSv1."), s2
    finally:
        m.logout()
    assert "rip=127.0.0.10," in wait_dovecot_login(dovecot, user2[0])
    c.close()


def test_haproxy_tls_to_the_listener(make_proxy, haproxy, user):
    """HAProxy itself speaking TLS to a `tls proxy` listener (`ssl
    verify none`) after its v2 header; the client talks plain IMAP to
    HAProxy."""
    p = pp_proxy(make_proxy)
    hp = haproxy(p, "pptls", "v2", ssl=True)
    c = via(hp, "127.0.0.9")
    assert c.greeting.startswith("* OK"), c.greeting
    login_ok(c, *user)
    s = session_of(p, user[0])
    assert s["client"] == "127.0.0.9:%d" % local_port(c), s
    assert (s["tls"] or "").startswith("TLSv1."), s
    c.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_haproxy_address_drives_acl(make_proxy, haproxy, user, version):
    p = pp_proxy(make_proxy, server={"acl": "pp.acl"},
                 files={"pp.acl": "deny ip 127.0.0.9\nallow any\n"})
    hp = haproxy(p, "pp", version)
    denied = via(hp, "127.0.0.9")
    assert re.match(r"^\* BYE Access denied\.?$", denied.greeting), \
        denied.greeting
    assert denied.read_until_eof() == []
    lines = wait_log(p, "client=127.0.0.9:%d " % local_port(denied))
    assert any("denied" in l for l in lines), lines
    ok = via(hp, "127.0.0.10")
    assert ok.greeting.startswith("* OK"), ok.greeting
    login_ok(ok, *user)
    assert session_of(p, user[0])["client"].startswith("127.0.0.10:")
    ok.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_haproxy_address_drives_max_connections_per_ip(make_proxy, haproxy,
                                                       version):
    p = pp_proxy(make_proxy, server={"max_connections_per_ip": "1"})
    hp = haproxy(p, "pp", version)
    first = via(hp, "127.0.0.11")
    assert first.greeting.startswith("* OK"), first.greeting
    second = via(hp, "127.0.0.11")
    assert second.greeting == "* BYE Too many connections from your " \
        "address", second.greeting
    assert second.read_until_eof() == []
    # Every connection comes from HAProxy's 127.0.0.1: only the carried
    # address can tell this one apart.
    other = via(hp, "127.0.0.12")
    assert other.greeting.startswith("* OK"), other.greeting
    assert other.capabilities()
    wait_log(p, "client=127.0.0.11:%d refused: max_connections_per_ip"
             % local_port(second))
    for c in (first, second, other):
        c.close()


def test_haproxy_geoip_country_of_carried_address(make_proxy, haproxy,
                                                  geoip, user):
    p = pp_proxy(make_proxy, global_={"geoip_db": str(geoip["country"])})
    hp = haproxy(p, "pp", "v2")
    c = via(hp, "127.0.0.70")          # DE in the test database
    login_ok(c, *user)
    s = session_of(p, user[0])
    assert s["client"].startswith("127.0.0.70:") and s["country"] == "DE", s
    c.close()


# ---------------------------------------------------------------------
# refusals, with headers built by hand

@pytest.mark.parametrize("listener", ("pp", "pptls"))
def test_header_from_untrusted_source_refused(make_proxy, listener):
    p = pp_proxy(make_proxy)
    sock = connect(p, listener, src="127.0.0.2")
    with sock:
        assert_closed_silently(p, sock, v1_header("127.0.0.9", 5555),
                               src="127.0.0.2")


BAD_HEADERS = {
    "v1-garbage": b"PROXY TCP4 garbage\r\n",
    "v1-bad-port": b"PROXY TCP4 127.0.0.9 127.0.0.1 65536 143\r\n",
    "v1-lf-only": b"PROXY TCP4 127.0.0.9 127.0.0.1 5555 143\n",
    "missing": b"a1 CAPABILITY\r\n",
    "v2-version-3": v2_header("127.0.0.9", 5555, version=3),
    "v2-udp": v2_header("127.0.0.9", 5555, fam=0x12),
    "v2-length-short": v2_header("127.0.0.9", 5555)[:14] + b"\x00\x04" +
    b"\x7f\x00\x00\x09",
}


@pytest.mark.parametrize("kind", sorted(BAD_HEADERS))
def test_bad_or_missing_header_closed_without_greeting(make_proxy, kind):
    p = pp_proxy(make_proxy)
    sock = connect(p, "pp")
    with sock:
        assert_closed_silently(p, sock, BAD_HEADERS[kind])
    assert p.alive()


def test_no_header_at_all_ends_at_login_timeout(make_proxy):
    """A trusted sender that connects and says nothing is not held
    beyond login_timeout, and is never greeted."""
    p = pp_proxy(make_proxy, server={"login_timeout": "2s"})
    sock = connect(p, "pp")
    with sock:
        t0 = time.monotonic()
        assert closed_without_greeting(sock) == b""
        assert 1.5 < time.monotonic() - t0 < READ_TIMEOUT
        wait_log(p, "client=%s:%d " % (HOST, local_port(sock)),
                 " out=0 ", "login timeout")


def test_tls_without_header_closed(make_proxy):
    """A client speaking TLS straight to a `tls proxy` listener: its
    ClientHello is not a header."""
    p = pp_proxy(make_proxy)
    sock = connect(p, "pptls")
    port = local_port(sock)
    with pytest.raises((ssl.SSLError, OSError)):
        client_ctx().wrap_socket(sock).close()
    sock.close()
    wait_log(p, "client=%s:%d " % (HOST, port), "PROXY")
    closing = wait_log(p, "client=%s:%d " % (HOST, port), " out=")
    assert all(" out=0 " in l for l in closing), closing


def test_proxy_listener_needs_proxy_protocol_from(make_proxy):
    p = make_proxy(start=False, listeners=LISTENERS)
    p.write_config()
    r = subprocess.run([daemon_path(), "-t", "-c", str(p.conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert re.search(r"imapproxy\.conf:\d+: .*proxy_protocol_from",
                     r.stdout + r.stderr), (r.stdout, r.stderr)


# ---------------------------------------------------------------------
# accepted headers, built by hand

@pytest.mark.parametrize("version", VERSIONS)
def test_header_written_byte_by_byte(make_proxy, user, version):
    p = pp_proxy(make_proxy)
    header = (v1_header if version == "v1" else v2_header)("127.0.0.9",
                                                           5555)
    c = RawClient(HOST, p.ports["pp"], timeout=READ_TIMEOUT, greet=False)
    for i in range(len(header)):
        c.send(header[i:i + 1])
        time.sleep(0.01)
    c.greeting = c.readline().decode()
    assert c.greeting.startswith("* OK"), c.greeting
    login_ok(c, *user)
    assert session_of(p, user[0])["client"] == "127.0.0.9:5555"
    c.close()


def test_partial_header_costs_no_cpu(make_proxy):
    """While the rest of a header is on its way the daemon waits for
    the socket to become readable again; it must not spin re-reading
    the bytes it already peeked at."""
    p = pp_proxy(make_proxy)
    header = v1_header("127.0.0.9", 5555)
    c = RawClient(HOST, p.ports["pp"], timeout=READ_TIMEOUT, greet=False)
    c.send(header[:12])
    time.sleep(0.2)
    before, t0 = cpu_seconds(p.pid), time.monotonic()
    time.sleep(1.5)
    used, elapsed = cpu_seconds(p.pid) - before, time.monotonic() - t0
    c.send(header[12:])
    assert c.readline().startswith(b"* OK")
    c.close()
    assert used < 0.3, ("imapproxyd used %.2fs of CPU in %.2fs while "
                        "waiting for the rest of a PROXY header"
                        % (used, elapsed))


def test_sender_gone_mid_header_is_released(make_proxy):
    """A sender that closes after part of a header: the daemon notices
    the close at once, not at login_timeout (60 s here)."""
    p = pp_proxy(make_proxy)
    sock = connect(p, "pp")
    me = "%s:%d" % (HOST, local_port(sock))
    sock.sendall(v1_header("127.0.0.9", 5555)[:16])
    assert wait_for(lambda: sessions_from(p, me), 2)
    sock.close()
    assert wait_for(lambda: not sessions_from(p, me), 3), \
        sessions_from(p, me)
    wait_log(p, "client=%s " % me, " out=0 ")


@pytest.mark.parametrize("header", (V2_LOCAL, b"PROXY UNKNOWN\r\n",
                                    b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"),
                         ids=("v2-local", "v1-unknown", "v1-unknown-addrs"))
def test_local_header_keeps_connection_address(make_proxy, dovecot, user,
                                               header):
    """A v2 LOCAL (a balancer's health check) or v1 UNKNOWN header: the
    connection's own address stands for the client."""
    name, pw = user
    p = pp_proxy(make_proxy, server={"proxy_protocol_from": "127.0.0.0/24"})
    c = pp_client(p, "pp", header, src="127.0.0.5")
    assert c.greeting.startswith("* OK"), c.greeting
    login_ok(c, name, pw)
    assert session_of(p, name)["client"] == "127.0.0.5:%d" % local_port(c)
    assert "rip=127.0.0.5," in wait_dovecot_login(dovecot, name)
    c.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_bytes_after_header_in_same_packet_kept(make_proxy, user, version):
    """Header and two commands in one send(): nothing after the header
    is lost, the greeting comes first.  The v2 header carries a TLV
    (PP2_TYPE_AUTHORITY) that must be skipped, no more, no less."""
    name, pw = user
    p = pp_proxy(make_proxy)
    if version == "v1":
        header = v1_header("127.0.0.9", 5555)
    else:
        header = v2_header("127.0.0.9", 5555,
                           tlv=b"\x02\x00\x10mail.example.org")
    c = RawClient(HOST, p.ports["pp"], timeout=READ_TIMEOUT, greet=False)
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.send(header + ("a1 CAPABILITY\r\na2 LOGIN %s %s\r\n"
                     % (imap_quote(name), imap_quote(pw))).encode())
    assert c.readline().startswith(b"* OK")
    untagged, tagged = c.read_response("a1")
    assert tagged.startswith("a1 OK"), tagged
    assert any(l.startswith("* CAPABILITY") for l in untagged), untagged
    _u, tagged = c.read_response("a2")
    assert tagged.startswith("a2 OK"), tagged
    assert session_of(p, name)["client"] == "127.0.0.9:5555"
    c.close()


def tls_handshake_after(sock, first):
    """TLS client over SOCK whose first send() is FIRST followed by the
    ClientHello; returns (SSLObject, read_line) once the handshake is
    done."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = client_ctx().wrap_bio(inc, out)

    def pump(step):
        while True:
            try:
                return step()
            except ssl.SSLWantReadError:
                pending = out.read()
                if pending:
                    sock.sendall(pending)
                data = sock.recv(65536)
                if not data:
                    raise EOFError("closed during TLS")
                inc.write(data)

    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    sock.sendall(first + out.read())
    pump(tls.do_handshake)
    if out.pending:
        sock.sendall(out.read())
    buf = [b""]

    def read_line():
        while b"\r\n" not in buf[0]:
            buf[0] += pump(lambda: tls.read(65536))
        line, buf[0] = buf[0].split(b"\r\n", 1)
        return line
    return tls, read_line


@pytest.mark.parametrize("version", VERSIONS)
def test_client_hello_in_same_packet_as_header(make_proxy, version):
    p = pp_proxy(make_proxy)
    header = (v1_header if version == "v1" else v2_header)("127.0.0.9",
                                                           5555)
    sock = connect(p, "pptls")
    with sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        tls, read_line = tls_handshake_after(sock, header)
        assert read_line().startswith(b"* OK")
        (s,) = sessions_from(p, "127.0.0.9:5555")
        assert (s["tls"] or "").startswith("TLSv1."), s
        assert s["state"] == "preauth", s


def test_ipv4_mapped_carried_address_meets_ip_rules(make_proxy):
    """A v2 TCP6 header carrying ::ffff:127.0.0.9 is matched as IPv4
    (SPEC.md section 4)."""
    p = pp_proxy(make_proxy, server={"acl": "pp.acl"},
                 files={"pp.acl": "deny ip 127.0.0.9\nallow any\n"})
    header = v2_header("::ffff:127.0.0.9", 5555, dst="::ffff:127.0.0.1",
                       fam=0x21)
    c = pp_client(p, "pp", header)
    assert re.match(r"^\* BYE Access denied\.?$", c.greeting), c.greeting
    c.close()
    c = pp_client(p, "pp", v2_header("::ffff:127.0.0.10", 5556,
                                     dst="::ffff:127.0.0.1", fam=0x21))
    assert c.greeting.startswith("* OK"), c.greeting
    c.close()


def test_header_on_plain_listener_spoofs_nothing(make_proxy):
    """Only `proxy` listeners read a header: on the plain one it is a
    bad command and the client stays who it is."""
    p = pp_proxy(make_proxy)
    c = RawClient(HOST, p.ports["plain"], src="127.0.0.3",
                  timeout=READ_TIMEOUT)
    assert c.greeting.startswith("* OK"), c.greeting
    c.send(v1_header("127.0.0.9", 5555))
    line = c.readline().decode()
    assert re.match(r"^(PROXY|\*) BAD\b", line), line
    assert len(sessions_from(p, "127.0.0.3:%d" % local_port(c))) == 1
    assert not sessions_from(p, "127.0.0.9:5555")
    c.close()
