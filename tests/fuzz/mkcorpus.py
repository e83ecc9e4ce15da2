#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/NAME/ (issue 7).

The seeds are committed; this script says where each came from and
regenerates them (binary PROXY v2 headers, base64 SASL responses, a TLS
ClientHello after STARTTLS).  Run from anywhere:

    python3 tests/fuzz/mkcorpus.py

It rewrites the files it names and leaves any others alone, so inputs
added by hand, or promoted from a fuzzing run, stay.
"""
import base64
import ssl
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def b64(data):
    return base64.b64encode(data)


def client_hello():
    """The first flight of a TLS client, as after STARTTLS."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="imap.example.org")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


PLAIN = b64(b"\0bob\0secret")
PLAIN_AUTHZ = b64(b"admin\0bob@example.org\0secret")
XOAUTH2 = b64(b"user=bob@example.com\x01auth=Bearer ya29.Token\x01\x01")
OAUTHBEARER = b64(b"n,a=bob@example.com,\x01host=imap.example.com\x01"
                  b"port=143\x01auth=Bearer Tok3n\x01\x01")

# Client byte streams: the pre-auth dialogue as real clients write it.
IMAP = {
    "capability": b"a1 CAPABILITY\r\n",
    "login": b"a1 LOGIN bob Secret1\r\n",
    "login-quoted": b'a2 LOGIN "bob@example.com" "pa ss\\"w\\\\rd"\r\n',
    "login-literals": b"a3 LOGIN {3}\r\nbob {7}\r\nSecret1\r\n",
    "login-literal-plus": b"a4 LOGIN {3+}\r\nbob {7+}\r\nSecret1\r\n",
    "login-literal-then-quoted": b'a1 LOGIN {3}\r\nbob "Secret1"\r\n',
    "login-empty-literals": b"a1 LOGIN {0}\r\n {0}\r\n\r\n",
    "login-lowercase": b"a1 login Bob Secret1\r\n",
    "login-8bit": b'a1 LOGIN "b\xc3\xb6b" "p\xffw"\r\n',
    "login-nul": b"a1 LOGIN bo\0b x\r\na2 LOGIN {4}\r\nb\0ob pw\r\n",
    "pipelined": b"a1 CAPABILITY\r\na2 NOOP\r\na3 ID NIL\r\na4 LOGOUT\r\n",
    "id-list": b'a1 ID ("name" "Thunderbird" "version" "115.0" '
               b'"os" NIL)\r\n',
    "id-nested": b'a1 ID (("a" "b"))\r\na2 ID ((((("x")))))\r\n',
    "id-many": b"a1 ID (" + b'"k" "v" ' * 40 + b")\r\n",
    "starttls-injection": b"a1 STARTTLS\r\na2 LOGIN bob Secret1\r\n",
    "auth-plain": b"a1 AUTHENTICATE PLAIN\r\n" + PLAIN + b"\r\n",
    "auth-plain-ir": b"a1 AUTHENTICATE PLAIN " + PLAIN_AUTHZ + b"\r\n",
    "auth-plain-empty": b"a1 AUTHENTICATE PLAIN =\r\n",
    "auth-login": b"a1 AUTHENTICATE LOGIN\r\nYm9i\r\nU2VjcmV0MQ==\r\n",
    "auth-login-ir": b"a1 AUTHENTICATE LOGIN Ym9i\r\nU2VjcmV0MQ==\r\n",
    "auth-cancel": b"a1 AUTHENTICATE PLAIN\r\n*\r\na2 NOOP\r\n",
    "auth-xoauth2": b"a1 AUTHENTICATE XOAUTH2 " + XOAUTH2 + b"\r\n",
    "auth-oauthbearer": b"a1 AUTHENTICATE OAUTHBEARER\r\n" + OAUTHBEARER +
                        b"\r\n",
    "bare-lf": b"a1 NOOP\na2 CAPABILITY\n",
    "bad-commands": b"a1 SELECT INBOX\r\na2 FETCH 1 BODY[]\r\n* NOOP\r\n"
                    b"\r\n a3 NOOP\r\na4 NOOP extra\r\n",
    "literal8": b"a1 LOGIN ~{3}\r\nbob x\r\n",
    "literal-too-large": b"a1 LOGIN {99999}\r\na2 NOOP\r\n",
    "literal-plus-too-large": b"a1 LOGIN {99999+}\r\n",
    "line-too-long": b"a1 NOOP " + b"x" * 9000 + b"\r\n",
    "literal-incomplete": b"a1 LOGIN {3+}\r\nbo",
    "tag-too-long": b"t" * 70 + b" NOOP\r\n",
    "unbalanced": b"a1 ID (\"a\" \"b\"\r\na2 ID \"a\")\r\n",
    "escapes": b'a1 LOGIN "a\\b" "c"\r\na2 LOGIN "unterminated\r\n',
}

# Pre-auth sessions: the first byte picks the listener of fuzz_preauth.c
# ('0' plain, '1' PROXY, '2' STARTTLS, '3' strict: STARTTLS and
# require_tls); the rest is what the client sends.
V2_SIG = b"\r\n\r\n\0\r\nQUIT\n"
PREAUTH = {
    "0-" + k: b"0" + v for k, v in IMAP.items() if k in (
        "capability", "login", "login-literals", "login-literal-plus",
        "pipelined", "id-list", "auth-plain", "auth-plain-ir",
        "auth-login", "auth-login-ir", "auth-cancel", "auth-xoauth2",
        "auth-oauthbearer", "bad-commands", "literal-too-large",
        "line-too-long", "starttls-injection", "login-nul")
}
PREAUTH.update({
    "0-login-routes": b"0a1 LOGIN alice@example.com pw\r\n"
                      b"a2 LOGIN bob@example.org pw\r\n"
                      b"a3 LOGIN carol@partner.example pw\r\n",
    "0-login-denied": b"0a1 LOGIN mallory pw\r\na2 LOGIN eve@evil.example "
                      b"pw\r\na3 LOGIN svc-loader pw\r\n",
    "0-plain-authzid": b"0a1 AUTHENTICATE PLAIN " +
                       b64(b"mallory\0bob\0pw") + b"\r\n",
    "0-oauthbearer-no-user": b"0a1 AUTHENTICATE OAUTHBEARER " +
                             b64(b"n,,\x01auth=Bearer x\x01\x01") + b"\r\n",
    "0-five-bad": b"0a BAD\r\nb BAD\r\nc BAD\r\nd BAD\r\ne BAD\r\nf NOOP\r\n",
    "0-logout-pipelined": b"0a1 LOGOUT\r\na2 NOOP\r\n",
    # The client shuts its side right after these (the harness's choice
    # for these bytes): the EOF policy of sess.c decides what is answered.
    "0-halfclose-pipelined-noop": b"0D1 LOGIN bob pw\r\nD2 NOOP\r\n",
    "0-halfclose-after-login": b"0*\na LOGIN o p\n\n",
    "1-proxy-v1": b"1PROXY TCP4 192.0.2.7 198.51.100.1 5555 143\r\n"
                  b"a1 LOGIN svc-loader pw\r\n",
    "1-proxy-v1-denied": b"1PROXY TCP4 203.0.113.9 198.51.100.1 5555 143\r\n"
                         b"a1 NOOP\r\n",
    "1-proxy-v1-unknown": b"1PROXY UNKNOWN\r\na1 CAPABILITY\r\n",
    "1-proxy-v1-tcp6": b"1PROXY TCP6 2001:db8::7 2001:db8::1 5555 143\r\n"
                       b"a1 LOGIN bob pw\r\n",
    "1-proxy-v2": b"1" + V2_SIG + b"\x21\x11\x00\x0c" +
                  bytes([10, 1, 2, 3, 198, 51, 100, 1]) +
                  struct.pack(">HH", 40000, 143) + b"a1 LOGIN eve@evil.example "
                  b"pw\r\n",
    "1-proxy-v2-local": b"1" + V2_SIG + b"\x20\x00\x00\x00a1 NOOP\r\n",
    "1-proxy-garbage": b"1a1 NOOP\r\n",
    "2-starttls": b"2a1 CAPABILITY\r\na2 STARTTLS\r\n",
    "2-starttls-clienthello": b"2a1 STARTTLS\r\n" + client_hello(),
    "2-starttls-injection": b"2a1 STARTTLS\r\na2 CAPABILITY\r\n"
                            b"a3 LOGIN bob pw\r\n",
    "3-logindisabled": b"3a1 CAPABILITY\r\na2 LOGIN bob pw\r\n"
                       b"a3 AUTHENTICATE PLAIN " + PLAIN + b"\r\n",
    "3-starttls": b"3a1 STARTTLS\r\n" + client_hello(),
})

PROXYPROTO = {
    "v1-tcp4": b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 143\r\n"
               b"A001 CAPABILITY\r\n",
    "v1-tcp4-ports": b"PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n",
    "v1-tcp6": b"PROXY TCP6 2001:db8::1 2001:db8::2 65535 993\r\n\x16\x03\x01",
    "v1-tcp6-mapped": b"PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n",
    "v1-unknown": b"PROXY UNKNOWN\r\nA001 LOGIN",
    "v1-unknown-longest": b"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:"
                          b"ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:"
                          b"ffff 65535 65535\r\n",
    "v1-bad-port": b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
    "v1-lf-only": b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
    "v2-inet": V2_SIG + b"\x21\x11\x00\x0c\xc0\x00\x02\x01\xc6\x33\x64\x02"
               b"\xdc\x04\x00\x8fA001",
    "v2-inet-tlvs": V2_SIG + b"\x21\x11\x00\x1a\x0a\x00\x00\x01\x0a\x00\x00"
                    b"\x02\x00\x50\x00\x8f\x04\x00\x04wxyz\x01\x00\x04imap"
                    b"\x16\x03\x01",
    "v2-inet6": V2_SIG + b"\x21\x21\x00\x24" +
                bytes.fromhex("20010db8000000000000000000000001") +
                bytes.fromhex("20010db8000000000000000000000002") +
                b"\xff\xff\x03\xe1",
    "v2-local": V2_SIG + b"\x20\x00\x00\x00A001",
    "v2-unspec": V2_SIG + b"\x21\x00\x00\x04\x00\x00\x00\x00",
    "v2-unix": V2_SIG + b"\x21\x31\x00\xd8" + b"/run/a.sock".ljust(108,
                                                                b"\0") +
               b"/run/b.sock".ljust(108, b"\0"),
    "v2-udp4": V2_SIG + b"\x21\x12\x00\x0c" + b"\0" * 12,
    "v2-bad-version": V2_SIG + b"\x11\x11\x00\x0c" + b"\0" * 12,
    "v2-too-long": V2_SIG + b"\x21\x11\xff\xff",
    "v2-short-length": V2_SIG + b"\x21\x21\x00\x0c" + b"\0" * 12,
    "imap": b"A001 LOGIN bob pw\r\n",
    "tls": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
}

SASL = {
    "plain": PLAIN,
    "plain-authzid": PLAIN_AUTHZ,
    "plain-empty-pass": b64(b"\0bob\0"),
    "plain-raw": b"\0bob\0secret",
    "xoauth2": XOAUTH2,
    "xoauth2-raw": b"user=bob@example.com\x01auth=Bearer ya29.Token\x01\x01",
    "xoauth2-two-users": b64(b"user=a\x01user=b\x01auth=Bearer t\x01\x01"),
    "oauthbearer": OAUTHBEARER,
    "oauthbearer-raw": b"n,a=bob@example.com,\x01host=imap.example.com\x01"
                       b"port=143\x01auth=Bearer Tok3n\x01\x01",
    "oauthbearer-escapes": b"y,a=b=2Co=3Db,\x01auth=Bearer x\x01\x01",
    "oauthbearer-cb": b"p=tls-unique,a=bob,\x01auth=Bearer x\x01\x01",
    "oauthbearer-no-user": b"n,,\x01auth=Bearer x\x01\x01",
    "equals": b"=",
    "padding": b"QQ==",
    "bad-padding": b"Q===",
    "whitespace": b"AGJv YgBz ZWNy ZXQ=",
}

# fuzz_backend: selector (even: back end tls = no, odd: STARTTLS), the
# client's bytes, "--\n" after its last LF, then the back end's script.
DOVECOT_CAPS = (b"IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "
                b"AUTH=PLAIN")


def session(sel, client, backend):
    return sel + client + b"--\n" + backend


BACKEND = {
    "0-dovecot-ok": session(
        b"0", b"a1 LOGIN bob Secret1\r\na2 SELECT INBOX\r\n",
        b"* OK [CAPABILITY " + DOVECOT_CAPS + b"] Dovecot ready.\r\n"
        b"* ID NIL\r\nP3 OK ID completed.\r\n"
        b"a1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n"
        b"* 1 EXISTS\r\na2 OK [READ-WRITE] Select completed.\r\n"),
    "0-refused": session(
        b"0", b"a1 LOGIN bob wrong\r\na2 NOOP\r\n",
        b"* OK [CAPABILITY " + DOVECOT_CAPS + b"] ready\r\n"
        b"P3 OK\r\na1 NO [AUTHENTICATIONFAILED] Authentication "
        b"failed.\r\n"),
    "0-capability-asked": session(
        b"0", b"a1 AUTHENTICATE PLAIN " + PLAIN + b"\r\n",
        b"* OK ready\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n"
        b"P2 OK done\r\nP3 BAD no ID here\r\n+ \r\n"
        b"a1 OK Logged in\r\n"),
    "0-login-command": session(
        b"0", b'a1 LOGIN "b\\"ob" "p w"\r\n',
        b"* OK [CAPABILITY IMAP4rev1] hi\r\nP3 OK\r\n"
        b"* untagged chatter\r\na1 OK Logged in\r\n"),
    "0-bye-greeting": session(b"0", b"a1 LOGIN bob pw\r\n",
                              b"* BYE go away\r\n"),
    "0-logindisabled": session(
        b"0", b"a1 LOGIN bob pw\r\n",
        b"* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] x\r\nP3 OK\r\n"),
    "0-bye-mid-login": session(
        b"0", b"a1 LOGIN bob pw\r\na2 NOOP\r\n",
        b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] x\r\nP3 OK\r\n"
        b"* BYE shutting down\r\n"),
    "0-xoauth2-challenge": session(
        b"0", b"a1 AUTHENTICATE XOAUTH2 " + XOAUTH2 + b"\r\n\r\n",
        b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] x\r\n"
        b"P3 OK\r\n+ eyJzdGF0dXMiOiI0MDEifQ==\r\n"
        b"a1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n"),
    "0-oauthbearer-cont": session(
        b"0", b"a1 AUTHENTICATE OAUTHBEARER " + OAUTHBEARER + b"\r\n",
        b"* OK [CAPABILITY IMAP4rev1 AUTH=OAUTHBEARER] x\r\nP3 OK\r\n"
        b"+ \r\na1 OK welcome\r\n"),
    "0-long-greeting": session(
        b"0", b"a1 LOGIN bob pw\r\n", b"* OK " + b"y" * 9000 + b"\r\n"),
    "0-relay-pipelined": session(
        b"0", b"a1 LOGIN bob pw\r\na2 SELECT INBOX\r\na3 LOGOUT\r\n",
        b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] x\r\nP3 OK\r\n"
        b"a1 OK in\r\n* BYE bye\r\n"),
    "1-starttls": session(
        b"1", b"a1 LOGIN bob pw\r\n",
        b"* OK [CAPABILITY IMAP4rev1 STARTTLS] x\r\nP1 OK Begin TLS\r\n"
        b"\x16\x03\x03\x00\x02\x02\x28"),
    "1-starttls-refused": session(
        b"1", b"a1 LOGIN bob pw\r\n",
        b"* OK x\r\n* 1 EXISTS\r\nP1 NO no TLS here\r\n"),
}

CONF_MINIMAL = b"""[server default]
listen = 0.0.0.0:143 starttls, 0.0.0.0:993 tls
tls_cert = /etc/imapproxy/tls/mail.pem /etc/imapproxy/tls/mail.key

[backend store1]
address = 10.0.1.11:143
"""

CONF_FULL = b"""[global]
workers = 2
log = /var/log/imapproxy.log
log_level = debug
shutdown_timeout = 5s
stats_socket = /run/imapproxy/stats.sock
stats_socket_mode = 0660
max_connections = 50000
dns_timeout = 500ms

[server default]
listen = 127.0.0.1:1143 starttls, 127.0.0.1:1993 tls, [::1]:1144 proxy
tls_cert = cert.pem key.pem
tls_cert = other.pem
tls_protocols = TLSv1.2 TLSv1.3
proxy_protocol_from = 10.0.0.0/8, 192.0.2.10, 2001:db8::/32
require_tls = no
auth_mechanisms = PLAIN LOGIN XOAUTH2 OAUTHBEARER
acl = default.acl
routes = routes.map
default_backend = pool:stores
username_case = keep
default_domain = example.com
greeting = IMAP proxy ready
login_timeout = 60s
idle_timeout = 30m
max_connections_per_ip = 0
max_connections_per_user = 0
auth_fail_limit = 0
auth_fail_window = 10m
auth_fail_delay = 0

[server other]
listen = 127.0.0.1:2143
default_backend = store2

[backend store1]
address = 127.0.0.1:10143
tls = starttls
tls_verify = no
tls_server_name = store1.internal
pool = stores
weight = 3
forward_id = yes
connect_timeout = 5s
health_check_interval = 10s
max_connections = 0

[backend store2]
address = [::1]:10993
tls = yes
tls_ca = ca.pem
pool = stores
health_check_interval = 0
"""

CONF_ERRORS = b"""[global]
workers = many
log_level = loud
bogus = 1

[server a]
listen = 0.0.0.0:70000 sideways
require_tls = maybe
login_timeout = 10x

[backend b]
address = example.invalid:143
tls = sometimes

[nonsense]
"""

ACL_SPEC = b"""default deny                         # what happens when no rule matches
include ok.acl                       # relative to this file; cycles are an error

deny   ip 203.0.113.7
allow  net 10.0.0.0/8
allow  net 192.168.5.0/255.255.255.0 # subnet address and mask, as well as CIDR
allow  net 2001:db8::/32
deny   domain .dialup.example.net
deny   country RU,KP
deny   asn 64496
deny   user mallory
allow  user svc-loader net 192.0.2.0/24
deny   user svc-loader
deny   user @partner.example !net 10.0.0.0/8
allow  any
"""

ACL = {
    "spec": ACL_SPEC,
    "users": b"deny user *bot*,?x?,@EXAMPLE.com\nallow user Alice\n"
             b"deny user !alice\ndefault deny\n",
    "nets": b"allow net 10.0.0.0/8,172.16.0.0/12,192.168.0.0/16\n"
            b"deny net ::/0\nallow ip ::ffff:10.1.2.3\n"
            b"deny net 0.0.0.0/0\nallow net 10.1.2.3/32\n",
    "nets-v6": b"deny net 2001:db8::/48,2001:db8:1::/64,fe80::/10\n"
               b"allow net 2001:db8::/32 !ip 2001:db8::1\nallow any\n",
    "masks": b"allow net 192.168.5.0/255.255.255.0\n"
             b"deny net 10.0.0.0/255.0.0.0\ndeny net 1.2.3.4/0.0.0.0\n",
    "negations": b"deny !net 10.0.0.0/8 user @corp.example\n"
                 b"allow !user mallory !country KP\ndeny any\n",
    "domains": b"deny domain .dialup.example.net,host.example.org\n"
               b"allow domain mail.example.com user bob\n",
    "geo": b"deny country RU,KP,IR\ndeny asn 64496,64511\n"
           b"allow country US asn 15169\n",
    "includes": b"include ok.acl\ninclude empty.acl\ninclude crlf.acl\n"
                b"allow any\n",
    "include-cycle": b"include a.acl\n",
    "include-self": b"include self.acl\n",
    "include-deep": b"include deep0.acl\n",
    "include-fan": b"include fan2.acl\ninclude fan3.acl\n",
    "include-errors": b"include bad.acl\ninclude missing.acl\n"
                      b"include dir.acl\ninclude\ninclude a b\n",
    "errors": b"allow\ndeny bogus 1\nallow net 10.0.0.0/33\n"
              b"allow ip 999.1.1.1\ndefault maybe\nfrobnicate\n"
              b"allow asn 0\nallow country K\nallow user\n",
    "crlf": b"default deny\r\nallow net 10.0.0.0/8\r\n",
    "control": b"allow user a\x01b\n",
    "default-only": b"default deny\n",
}
for name in ("default.acl",):
    ACL["etc-" + name] = (ROOT / "etc" / name).read_bytes()

ROUTES = {
    "etc": (ROOT / "etc" / "routes.map").read_bytes(),
    "users": b"alice store1\nAlice@Example.COM store2\n@Example.ORG "
             b"pool:stores\n*  store3   # everyone else\n",
    "bom-crlf": b"\xef\xbb\xbfbob@example.com store1\r\n@example.net "
                b"pool:p1\r\n",
    "no-newline": b"@a.example store1",
    "errors": b"bob\nbob store1 extra\nb*b store1\n@ store1\n"
              b"a@b@c store1\n@bad..domain store1\nx pool:\n"
              b"y bad/name\nbob store1\nbob store2\n",
    "comments": b"# routes\n\n   \t\n# another\nbob store1 # trailing\n",
    "long-key": b"a" * 250 + b" store1\n" + b"@" + b"d" * 63 + b".example "
                b"store2\n",
}

CONF = {
    "etc": (ROOT / "etc" / "imapproxy.conf").read_bytes(),
    "minimal": CONF_MINIMAL,
    "full": CONF_FULL,
    "errors": CONF_ERRORS,
    "duration": b"30s\n[server s]\nlisten = *:143\nlogin_timeout = 1d\n"
                b"idle_timeout = 2h\n[backend b]\naddress = localhost:143\n",
    "continuation": b"[server s]\nlisten = 127.0.0.1:143,\n"
                    b"  127.0.0.1:144 proxy\nproxy_protocol_from = "
                    b"127.0.0.0/8\n[backend b]\naddress = 127.0.0.1:1\n",
}


def write(name, seeds):
    d = HERE / "corpus" / name
    d.mkdir(parents=True, exist_ok=True)
    for key, data in seeds.items():
        (d / key).write_bytes(data)
    print("%-10s %3d seeds" % (name, len(seeds)))


write("imap", IMAP)
write("backend", BACKEND)
write("preauth", PREAUTH)
write("proxyproto", PROXYPROTO)
write("sasl", SASL)
write("acl", ACL)
write("routes", ROUTES)
write("conf", CONF)

# Regression inputs: each once made a target crash (README.md).
REGRESS = {
    "backend": {
        # A back end's "NO [...]" longer than the reply buffer: the
        # client's LOGIN got no answer at all (sess.c sess_login_failed).
        "long-no-line": session(
            b"0", b"a1 LOGIN bob pw\r\n",
            b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] x\r\n"
            b"P3 OK\r\na1 NO [ALERT] " + b"x" * 4500 + b"\r\n"),
    },
}
for target, seeds in REGRESS.items():
    d = HERE / "regress" / target
    d.mkdir(parents=True, exist_ok=True)
    for key, data in seeds.items():
        (d / key).write_bytes(data)
