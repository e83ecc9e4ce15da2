"""Access control (SPEC.md section 4, issue 4) with the real daemon in
front of the real Dovecot.

Clients bind source addresses in 127.0.0.2..127.0.0.254 (and ::1).  Each
case asserts the wire answer, the proxy's log line naming the deciding
rule as `FILE:LINE: rule text`, and that a denied login never reached
Dovecot (its log shows nothing new for that user).  The `domain` cases use
a real dnsmasq (conftest.dnsmasq) and a resolver that never answers
(conftest.mute_dns); the `country` and `asn` cases use databases built
with tests/system/mkmmdb.pl (conftest.geoip).

Ranges used here, kept apart so the cases cannot disturb each other:
.2-.19 plain rules, .21-.25 and ::1 DNS names, .32-.79 GeoIP data,
.40-.47/.50 per-user overrides (no GeoIP in those proxies), .60-.72 and
.80-.87 the rest.
"""

import re
import socket
import subprocess
import time

import pytest

from conftest import (ACL_USERS, DNS_BARE, DNS_DIALUP, DNS_GOOD, DNS_NOPTR,
                      DNS_SPOOF, DNS_V6, HOST, Proxy, RawClient, b64,
                      daemon_path, imap_quote, login_ok, reverse_name,
                      store_backend)

ACL = "x.acl"
PLAIN = (("plain", HOST, ""),)
PLAIN_V6 = (("plain", HOST, ""), ("v6", "::1", ""))
BYE_DENIED = re.compile(r"^\* BYE Access denied\.?$")
# A user whose direct logins to Dovecot mark how far its log has come.
MARKER = "acl-marker"


def pw(name):
    return ACL_USERS[name]


# ---------------------------------------------------------------------
# helpers

def wait_listening(p, timeout):
    """Like Proxy._wait_ready, but a `* BYE` greeting counts as ready:
    the probe connects from 127.0.0.1, which some ACLs refuse."""
    deadline = time.monotonic() + timeout
    for name, host, flags in p.listeners:
        while True:
            rc = p.proc.poll()
            if rc is not None:
                raise RuntimeError("imapproxyd exited with %d before "
                                   "greeting\n%s" % (rc, p.diagnostics()))
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("imapproxyd did not greet on %s\n%s"
                                   % (name, p.diagnostics()))
            try:
                c = RawClient(host, p.ports[name], timeout=min(5, left),
                              tls="tls" in flags.split())
                c.close()
                if c.greeting.startswith(("* OK", "* BYE")):
                    break
            except (OSError, EOFError, socket.timeout):
                pass
            time.sleep(0.05)


def acl_proxy(make_proxy, acl, files=None, server=None, global_=None,
              listeners=PLAIN, acl_path=ACL):
    """A started proxy whose [server] acl is ACL_PATH (relative to its
    configuration folder) holding the text ACL; FILES: more files
    {relative path: text}."""
    s = {"acl": acl_path}
    s.update(server or {})
    p = make_proxy(start=False, server=s, global_=global_,
                   listeners=listeners)
    for rel, text in dict(files or {}, **{acl_path: acl}).items():
        path = p.dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    p._wait_ready = lambda timeout: wait_listening(p, timeout)
    p.start()
    return p


def ref(p, rule, name=ACL):
    """`NAME:LINE: RULE`, LINE being where RULE stands in p.dir/NAME."""
    text = (p.dir / name).read_text()
    for i, line in enumerate(text.splitlines(), 1):
        if line.strip() == rule:
            return "%s:%d: %s" % (name.rsplit("/", 1)[-1], i, rule)
    raise AssertionError("%r is not a line of %s" % (rule, name))


def wait_log(p, *needles, timeout=3.0):
    """The proxy log lines holding every one of NEEDLES (waits)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [l for l in p.log_text().splitlines()
                 if all(n in l for n in needles)]
        if lines:
            return lines
        if time.monotonic() > deadline:
            raise AssertionError("no proxy log line with %r; log:\n%s"
                                 % (needles, p.log_text()[-3000:]))
        time.sleep(0.05)


def client_tag(src):
    """How the proxy's log names a client from SRC (any port)."""
    return ("client=[%s]:" if ":" in src else "client=%s:") % src


def assert_denied_logged(p, rule_ref, src):
    """The deny of SRC is logged naming the rule (FILE:LINE: text)."""
    lines = wait_log(p, rule_ref, client_tag(src))
    assert any("denied" in l for l in lines), lines


def dovecot_seen(dovecot, name):
    """Dovecot's log lines about a login of NAME, successful or not
    (imap-login's `user=<NAME>`, auth's `passwd-file(NAME,...)`)."""
    pat = re.compile(r"user=<%s>|\(%s," % (re.escape(name),
                                            re.escape(name)), re.I)
    return [l for l in dovecot.log_text().splitlines() if pat.search(l)]


def dovecot_flush(dovecot):
    """Logs MARKER in directly and waits for its Login line, so that
    whatever reached Dovecot before is in its log by now."""
    before = len(dovecot.login_lines(MARKER))
    c = dovecot.connect(MARKER, pw(MARKER))
    c.logout()
    deadline = time.monotonic() + 5
    while len(dovecot.login_lines(MARKER)) <= before:
        assert time.monotonic() < deadline, "Dovecot log did not move"
        time.sleep(0.02)


class NotReached:
    """with NotReached(dovecot, names): nothing new in Dovecot's log
    about any of NAMES in the block."""

    def __init__(self, dovecot, *names):
        self.dovecot = dovecot
        self.names = names

    def __enter__(self):
        dovecot_flush(self.dovecot)
        self.before = dict((n, dovecot_seen(self.dovecot, n))
                           for n in self.names)
        return self

    def __exit__(self, exc_type, *_):
        if exc_type is not None:
            return False
        dovecot_flush(self.dovecot)
        for n in self.names:
            new = dovecot_seen(self.dovecot, n)[len(self.before[n]):]
            assert new == [], "a denied login reached Dovecot: %r" % new
        return False


def refused_at_connect(p, src, listener="plain", dovecot=None, user=None):
    """SRC gets `* BYE Access denied` and a close, nothing else.  With
    USER (a name of ACL_USERS or (name, pw)), a LOGIN is pipelined at
    once and must not reach Dovecot."""
    if user is not None and dovecot is not None:
        name, password = user if isinstance(user, tuple) else (user,
                                                               pw(user))
        with NotReached(dovecot, name):
            lines = _bye_lines(p, src, listener, "L LOGIN %s %s\r\n" % (
                imap_quote(name), imap_quote(password)))
    else:
        lines = _bye_lines(p, src, listener, None)
    assert lines and BYE_DENIED.match(lines[0]), (src, lines)
    assert lines[1:] == [], "more than the BYE from %s: %r" % (src, lines)


def _bye_lines(p, src, listener, pipelined):
    c = p.client(listener, src=src, greet=False)
    try:
        if pipelined:
            try:
                c.send(pipelined)
            except OSError:
                pass
        return c.read_until_eof(timeout=5)
    finally:
        c.close()


def greeted(p, src, listener="plain"):
    c = p.client(listener, src=src)
    assert c.greeting.startswith("* OK"), (src, c.greeting)
    return c


def login_allowed(p, src, name, password=None, listener="plain"):
    """SRC logs NAME in (Dovecot's OK relayed) and selects INBOX."""
    c = greeted(p, src, listener)
    try:
        login_ok(c, name, password if password is not None else pw(name))
        u, t = c.cmd("SELECT INBOX", tag="s")
        assert t.startswith("s OK"), (u, t)
        c.cmd("LOGOUT", tag="o")
    finally:
        c.close()


def login_cmd(name, password):
    return "LOGIN %s %s" % (imap_quote(name), imap_quote(password))


def plain_ir(authc, password, authz=""):
    return "AUTHENTICATE PLAIN " + b64("%s\0%s\0%s" % (authz, authc,
                                                       password))


def denied(p, dovecot, src, command, names, rule_ref, listener="plain"):
    """SRC is greeted; COMMAND (a LOGIN or AUTHENTICATE with its
    argument, or a callable(client) -> (tag, tagged)) gets
    `NO [AUTHENTICATIONFAILED]`; the log names RULE_REF; nothing about
    NAMES reached Dovecot."""
    with NotReached(dovecot, *names):
        c = greeted(p, src, listener)
        try:
            if callable(command):
                tag, t = command(c)
            else:
                tag = "d"
                _u, t = c.cmd(command, tag=tag)
            assert t.startswith(tag + " NO [AUTHENTICATIONFAILED]"), \
                (src, command, t)
        finally:
            c.close()
    assert_denied_logged(p, rule_ref, src)


# ---------------------------------------------------------------------
# addresses and networks

def test_deny_ip_refused_at_connect(make_proxy, dovecot, user):
    p = acl_proxy(make_proxy, "# blocklist\n\n"
                  "deny ip 127.0.0.5\n"
                  "allow any\n")
    refused_at_connect(p, "127.0.0.5", dovecot=dovecot, user=user)
    assert_denied_logged(p, "x.acl:3: deny ip 127.0.0.5", "127.0.0.5")
    assert "at connect" in wait_log(p, "x.acl:3:")[0]
    login_allowed(p, "127.0.0.6", *user)


def test_allow_net_cidr_and_mask_with_default_deny(make_proxy, dovecot,
                                                   user):
    p = acl_proxy(make_proxy, "default deny\n"
                  "allow net 127.0.0.8/30\n"
                  "allow net 127.0.0.12/255.255.255.252\n")
    for src in ("127.0.0.8", "127.0.0.11", "127.0.0.12", "127.0.0.15"):
        login_allowed(p, src, *user)
    for src in ("127.0.0.7", "127.0.0.16"):
        refused_at_connect(p, src, dovecot=dovecot, user=user)
        assert_denied_logged(p, "x.acl: default deny", src)


def test_default_deny_alone_refuses_at_connect(make_proxy, dovecot, user):
    p = acl_proxy(make_proxy, "default deny\n")
    for src in ("127.0.0.2", "127.0.0.17"):
        refused_at_connect(p, src, dovecot=dovecot, user=user)
        assert_denied_logged(p, "x.acl: default deny", src)


def test_default_deny_with_user_rules_decides_at_login(make_proxy, dovecot):
    p = acl_proxy(make_proxy, "default deny\n"
                  "allow user alice,trent\n")
    # some user could be allowed: greeted, decided at LOGIN
    denied(p, dovecot, "127.0.0.18", login_cmd("mallory", pw("mallory")),
           ["mallory"], "x.acl: default deny")
    login_allowed(p, "127.0.0.18", "alice")
    login_allowed(p, "127.0.0.18", "trent")


def test_ipv6_listener_deny_ip(make_proxy, dovecot, user):
    p = acl_proxy(make_proxy, "deny ip ::1\nallow any\n",
                  listeners=PLAIN_V6)
    refused_at_connect(p, "::1", listener="v6", dovecot=dovecot, user=user)
    assert_denied_logged(p, "x.acl:1: deny ip ::1", "::1")
    login_allowed(p, "127.0.0.2", *user)


def test_refused_connections_cost_other_sessions_nothing(make_proxy, user,
                                                          dovecot):
    p = acl_proxy(make_proxy, "deny ip 127.0.0.70\nallow any\n")
    name, password = user
    a = greeted(p, "127.0.0.71")
    login_ok(a, name, password)
    u, t = a.cmd("SELECT INBOX", tag="s1")
    assert t.startswith("s1 OK"), (u, t)
    refused = [p.client("plain", src="127.0.0.70", greet=False)
               for _ in range(40)]
    for c in refused:
        lines = c.read_until_eof(timeout=5)
        c.close()
        assert len(lines) == 1 and BYE_DENIED.match(lines[0]), lines
    u, t = a.cmd("NOOP", tag="n1")
    assert t.startswith("n1 OK"), (u, t)
    u, t = a.cmd("SELECT INBOX", tag="s2")
    assert t.startswith("s2 OK"), (u, t)
    a.cmd("LOGOUT", tag="o")
    a.close()
    login_allowed(p, "127.0.0.72", name, password)
    assert p.alive()
    assert len(wait_log(p, "x.acl:1: deny ip 127.0.0.70")) >= 40


# ---------------------------------------------------------------------
# users

def test_per_user_override(make_proxy, dovecot, user):
    p = acl_proxy(make_proxy, "allow user svc-loader net 127.0.0.40/29\n"
                  "deny user svc-loader\n"
                  "allow any\n")
    login_allowed(p, "127.0.0.41", "svc-loader")
    rule = ref(p, "deny user svc-loader")
    denied(p, dovecot, "127.0.0.50", login_cmd("svc-loader",
                                                pw("svc-loader")),
           ["svc-loader"], rule)
    denied(p, dovecot, "127.0.0.50", plain_ir("svc-loader",
                                               pw("svc-loader")),
           ["svc-loader"], rule)
    # the deny names its user; another user from .50 is let in
    assert "user=svc-loader" in wait_log(p, rule, client_tag("127.0.0.50"))[0]
    login_allowed(p, "127.0.0.50", *user)


def test_domain_users_and_negation(make_proxy, dovecot, user):
    p = acl_proxy(make_proxy, "deny user @partner.test !net 127.0.0.0/29\n"
                  "deny net 127.0.0.80/30 !user alice\n"
                  "allow any\n")
    login_allowed(p, "127.0.0.3", "carol@partner.test")
    denied(p, dovecot, "127.0.0.9",
           login_cmd("carol@partner.test", pw("carol@partner.test")),
           ["carol@partner.test"],
           "x.acl:1: deny user @partner.test !net 127.0.0.0/29")
    login_allowed(p, "127.0.0.9", "alice")
    login_allowed(p, "127.0.0.9", *user)
    # .81 depends on the user: greeted, then only alice gets in
    login_allowed(p, "127.0.0.81", "alice")
    denied(p, dovecot, "127.0.0.81", login_cmd("trent", pw("trent")),
           ["trent"], "x.acl:2: deny net 127.0.0.80/30 !user alice")
    login_allowed(p, "127.0.0.85", "trent")


def test_user_globs(make_proxy, dovecot, user):
    p = acl_proxy(make_proxy, "deny user svc-*\n"
                  "deny user ?allory\n"
                  "deny user carol@*.test\n"
                  "allow any\n")
    for name, rule in (("svc-loader", "x.acl:1: deny user svc-*"),
                       ("mallory", "x.acl:2: deny user ?allory"),
                       ("carol@partner.test",
                        "x.acl:3: deny user carol@*.test")):
        denied(p, dovecot, "127.0.0.4", login_cmd(name, pw(name)), [name],
               rule)
    login_allowed(p, "127.0.0.4", "alice")
    login_allowed(p, "127.0.0.4", *user)


def test_sasl_plain_both_identities_must_be_allowed(make_proxy, dovecot):
    p = acl_proxy(make_proxy, "deny user mallory\nallow any\n")
    rule = "x.acl:1: deny user mallory"
    # authorization identity denied, authentication identity allowed
    denied(p, dovecot, "127.0.0.10",
           plain_ir("alice", pw("alice"), authz="mallory"),
           ["alice", "mallory"], rule)
    # authentication identity denied, authorization identity allowed
    denied(p, dovecot, "127.0.0.10",
           plain_ir("mallory", pw("mallory"), authz="alice"),
           ["alice", "mallory"], rule)

    # the initial response after a `+ ` continuation
    def plain_continued(c):
        c.send("pc AUTHENTICATE PLAIN\r\n")
        cont = c.readline().decode()
        assert cont.startswith("+"), cont
        c.send(b64("\0mallory\0%s" % pw("mallory")) + "\r\n")
        return "pc", c.read_response("pc")[1]
    denied(p, dovecot, "127.0.0.10", plain_continued, ["mallory"], rule)

    # AUTHENTICATE LOGIN names the user in the first step
    def auth_login(c):
        c.send("al AUTHENTICATE LOGIN\r\n")
        line = c.readline().decode()
        assert line.startswith("+"), line
        c.send(b64("mallory") + "\r\n")
        line = c.readline().decode()
        if line.startswith("+"):
            c.send(b64(pw("mallory")) + "\r\n")
            return "al", c.read_response("al")[1]
        return "al", line
    denied(p, dovecot, "127.0.0.10", auth_login, ["mallory"], rule)

    # both allowed (the same identity twice): Dovecot's OK
    c = greeted(p, "127.0.0.10")
    _u, t = c.cmd(plain_ir("alice", pw("alice"), authz="alice"), tag="ok")
    assert t.startswith("ok OK"), t
    c.close()


def test_username_case_lower(make_proxy, dovecot):
    p = acl_proxy(make_proxy, "deny user alice\n"
                  "deny user MalLory\n"
                  "allow any\n",
                  server={"username_case": "lower"})
    rule = "x.acl:1: deny user alice"
    denied(p, dovecot, "127.0.0.11", login_cmd("Alice", pw("alice")),
           ["alice"], rule)
    assert "user=alice " in wait_log(p, rule, "user=")[0] + " "
    denied(p, dovecot, "127.0.0.11", plain_ir("ALICE", pw("alice")),
           ["alice"], rule)
    # the rules' names are folded too
    denied(p, dovecot, "127.0.0.11", login_cmd("mallory", pw("mallory")),
           ["mallory"], "x.acl:2: deny user ")
    login_allowed(p, "127.0.0.11", "Trent", pw("trent"))


def test_username_case_keep(make_proxy, dovecot):
    p = acl_proxy(make_proxy, "deny user alice\nallow any\n",
                  server={"username_case": "keep"})
    # `Alice` is not `alice` for the ACL; Dovecot folds it itself
    login_allowed(p, "127.0.0.12", "Alice", pw("alice"))
    denied(p, dovecot, "127.0.0.12", login_cmd("alice", pw("alice")),
           ["alice"], "x.acl:1: deny user alice")


def test_default_domain(make_proxy, dovecot):
    p = acl_proxy(make_proxy, "deny user bob@example.org\nallow any\n",
                  server={"default_domain": "example.org",
                          "username_case": "lower"})
    rule = "x.acl:1: deny user bob@example.org"
    denied(p, dovecot, "127.0.0.13", login_cmd("bob", pw("bob")),
           ["bob", "bob@example.org"], rule)
    denied(p, dovecot, "127.0.0.13",
           login_cmd("bob@example.org", pw("bob@example.org")),
           ["bob", "bob@example.org"], rule)
    denied(p, dovecot, "127.0.0.13", login_cmd("BOB", pw("bob")),
           ["bob", "bob@example.org"], rule)
    # alice becomes alice@example.org for the ACL only
    login_allowed(p, "127.0.0.13", "alice")


def test_include(make_proxy, dovecot, user):
    p = acl_proxy(make_proxy, "include rules/block.acl\n"
                  "allow any\n",
                  files={"rules/block.acl": "# partner block\n"
                         "deny ip 127.0.0.60\n"
                         "include more.acl\n",
                         "rules/more.acl": "deny user mallory\n"})
    refused_at_connect(p, "127.0.0.60", dovecot=dovecot, user=user)
    assert_denied_logged(p, "block.acl:2: deny ip 127.0.0.60",
                         "127.0.0.60")
    denied(p, dovecot, "127.0.0.61", login_cmd("mallory", pw("mallory")),
           ["mallory"], "more.acl:1: deny user mallory")
    login_allowed(p, "127.0.0.61", *user)


# ---------------------------------------------------------------------
# reverse DNS (dnsmasq)

def test_fixture_dnsmasq_answers(dnsmasq):
    """The resolver the domain tests rely on says what they assume."""
    q = dnsmasq.query
    assert q(reverse_name(DNS_GOOD[0]), "PTR")[1][0][:2] == ("PTR",
                                                            DNS_GOOD[1])
    assert q(DNS_GOOD[1], "A")[1][0][:2] == ("A", DNS_GOOD[0])
    assert q(reverse_name(DNS_SPOOF[0]), "PTR")[1][0][1] == DNS_SPOOF[1]
    assert [a[1] for a in q(DNS_SPOOF[1], "A")[1]] == ["127.0.0.99"]
    assert q(reverse_name(DNS_DIALUP[0]), "PTR")[1][0][1] == DNS_DIALUP[1]
    assert q(DNS_DIALUP[1], "A")[1][0][1] == DNS_DIALUP[0]
    assert q(reverse_name(DNS_NOPTR), "PTR") == (3, [])      # NXDOMAIN
    assert q(reverse_name(DNS_BARE[0]), "PTR")[1][0][1] == DNS_BARE[1]
    assert q(reverse_name(DNS_V6[0]), "PTR")[1][0][1] == DNS_V6[1]
    assert q(DNS_V6[1], "AAAA")[1][0][1] == DNS_V6[0]
    assert q(reverse_name("127.0.0.1"), "PTR") == (3, [])


def dns_global(server, timeout="2s"):
    return {"dns_servers": server, "dns_timeout": timeout}


def test_domain_rules(make_proxy, dovecot, dnsmasq):
    p = acl_proxy(make_proxy, "deny domain good.corp.test\n"
                  "deny domain .dialup.example.test\n"
                  "deny domain spoof.corp.test\n"
                  "deny domain six.corp.test\n"
                  "allow any\n",
                  global_=dns_global(dnsmasq.address), listeners=PLAIN_V6)
    # forward-confirmed exact name
    refused_at_connect(p, DNS_GOOD[0], dovecot=dovecot, user="alice")
    assert_denied_logged(p, "x.acl:1: deny domain good.corp.test",
                         DNS_GOOD[0])
    # a name below the suffix
    refused_at_connect(p, DNS_DIALUP[0], dovecot=dovecot, user="alice")
    assert_denied_logged(p, "x.acl:2: deny domain .dialup.example.test",
                         DNS_DIALUP[0])
    # ip6.arpa
    refused_at_connect(p, "::1", listener="v6", dovecot=dovecot,
                       user="alice")
    assert_denied_logged(p, "x.acl:4: deny domain six.corp.test", "::1")
    # the bare suffix is not below it
    login_allowed(p, DNS_BARE[0], "alice")
    # spoofed: PTR says spoof.corp.test, whose A is elsewhere
    login_allowed(p, DNS_SPOOF[0], "alice")
    wait_log(p, client_tag(DNS_SPOOF[0]), " warning: ")
    # no PTR at all
    login_allowed(p, DNS_NOPTR, "alice")
    log = p.log_text()
    for src in (DNS_BARE[0], DNS_SPOOF[0], DNS_NOPTR):
        assert not [l for l in log.splitlines()
                    if client_tag(src) in l and "denied" in l], src
    # the resolver was really asked
    assert dnsmasq.queries_for(reverse_name(DNS_GOOD[0]))


def test_domain_answers_are_cached(make_proxy, dnsmasq, dovecot):
    """One worker: the same client three times costs one PTR query."""
    ptr = reverse_name(DNS_GOOD[0])

    def ptr_queries():
        return [l for l in dnsmasq.queries_for(ptr) if "query[PTR]" in l]
    before = len(ptr_queries())
    p = acl_proxy(make_proxy, "deny domain good.corp.test\nallow any\n",
                  global_=dict(dns_global(dnsmasq.address), workers="1"))
    for _ in range(3):
        refused_at_connect(p, DNS_GOOD[0])
    assert len(wait_log(p, "x.acl:1: deny domain good.corp.test",
                        client_tag(DNS_GOOD[0]))) == 3
    assert len(ptr_queries()) == before + 1, ptr_queries()[before:]


def test_domain_dns_timeout_does_not_match(make_proxy, dovecot, mute_dns,
                                           user):
    p = acl_proxy(make_proxy, "deny domain good.corp.test\nallow any\n",
                  global_=dns_global(mute_dns.address, "2s"))
    t0 = time.monotonic()
    login_allowed(p, DNS_GOOD[0], *user)
    elapsed = time.monotonic() - t0
    assert elapsed < 2 + 2.5, "login answered after %.1fs" % elapsed
    assert mute_dns.queries > 0
    wait_log(p, client_tag(DNS_GOOD[0]), " warning: ")


def test_no_lookups_without_domain_rules(make_proxy, dnsmasq, user):
    name = reverse_name(DNS_GOOD[0])
    before = len(dnsmasq.queries_for(name))
    p = acl_proxy(make_proxy, "deny ip 127.0.0.5\nallow any\n",
                  global_=dns_global(dnsmasq.address))
    login_allowed(p, DNS_GOOD[0], *user)
    time.sleep(0.3)
    assert len(dnsmasq.queries_for(name)) == before, \
        dnsmasq.queries_for(name)[before:]


# ---------------------------------------------------------------------
# GeoIP (mkmmdb.pl databases: .32/28 RU AS64500, .48/28 KP, .64/28 DE
# AS64496)

def test_fixture_geoip_databases(geoip):
    """The databases say what the country tests assume (read back with
    the Perl reader when it is installed)."""
    script = ("use MaxMind::DB::Reader; my $r = MaxMind::DB::Reader->new("
              "file => $ARGV[0]); for (@ARGV[1..$#ARGV]) { my $d = "
              "$r->record_for_address($_) || {}; print "
              "(($d->{country} || {})->{iso_code} // '-', ' ', "
              "$d->{autonomous_system_number} // '-', \"\\n\") }")
    addrs = ["127.0.0.33", "127.0.0.49", "127.0.0.65", "127.0.0.2"]
    r = subprocess.run(["perl", "-e", script, str(geoip["city"])] + addrs,
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0 and "Can't locate" in r.stderr:
        pytest.skip("no MaxMind::DB::Reader")
    assert r.stdout.split("\n")[:4] == ["RU -", "KP -", "DE -", "- -"], r
    r = subprocess.run(["perl", "-e", script, str(geoip["asn"])] + addrs,
                       capture_output=True, text=True, timeout=30)
    assert r.stdout.split("\n")[:4] == ["- 64500", "- -", "- 64496",
                                        "- -"], r


@pytest.mark.parametrize("kind", ["country", "city"])
def test_country_refused_at_connect(make_proxy, dovecot, geoip, user, kind):
    p = acl_proxy(make_proxy, "deny country RU,KP\nallow any\n",
                  global_={"geoip_db": str(geoip[kind])})
    for src in ("127.0.0.33", "127.0.0.49"):
        refused_at_connect(p, src, dovecot=dovecot, user=user)
        assert_denied_logged(p, "x.acl:1: deny country RU,KP", src)
    login_allowed(p, "127.0.0.65", *user)
    login_allowed(p, "127.0.0.2", *user)        # not in the database


def test_asn_from_second_database(make_proxy, dovecot, geoip, user):
    p = acl_proxy(make_proxy, "deny asn 64496\nallow any\n",
                  global_={"geoip_db": "%s, %s" % (geoip["country"],
                                                   geoip["asn"])})
    refused_at_connect(p, "127.0.0.65", dovecot=dovecot, user=user)
    assert_denied_logged(p, "x.acl:1: deny asn 64496", "127.0.0.65")
    login_allowed(p, "127.0.0.33", *user)       # AS64500
    login_allowed(p, "127.0.0.49", *user)       # no ASN


def test_country_and_user(make_proxy, dovecot, geoip):
    p = acl_proxy(make_proxy, "default deny\n"
                  "deny user mallory country RU\n"
                  "allow country RU,DE\n",
                  global_={"geoip_db": str(geoip["country"])})
    # RU: depends on the user, decided at LOGIN
    denied(p, dovecot, "127.0.0.34", login_cmd("mallory", pw("mallory")),
           ["mallory"], "x.acl:2: deny user mallory country RU")
    login_allowed(p, "127.0.0.34", "alice")
    login_allowed(p, "127.0.0.66", "mallory")
    # KP: no user could be allowed
    refused_at_connect(p, "127.0.0.50", dovecot=dovecot, user="alice")
    assert_denied_logged(p, "x.acl: default deny", "127.0.0.50")


# ---------------------------------------------------------------------
# configuration checks (-t) and startup

def run(*args, cwd=None, timeout=10):
    return subprocess.run([daemon_path(), *args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd)


def acl_config(tmp_path, dovecot, files, server=None, global_=None):
    """A configuration in tmp_path with FILES {relative path: text}."""
    p = Proxy(tmp_path, {"store": store_backend(dovecot)},
              listeners=PLAIN, server=server, global_=global_)
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    p.write_config()
    return p


def test_check_accepts_acl_relative_to_config(tmp_path, dovecot):
    p = acl_config(tmp_path / "etc", dovecot, {
        "rules/main.acl": "include block.acl\nallow any\n",
        "rules/block.acl": "deny net 192.0.2.0/24\n"},
        server={"acl": "rules/main.acl"})
    r = run("-t", "-c", str(p.conf), cwd="/")
    assert r.returncode == 0, (r.stdout, r.stderr)


def test_check_reports_acl_mistakes_with_file_and_line(tmp_path, dovecot):
    p = acl_config(tmp_path, dovecot, {ACL: "allow any\n"     # 1
                                       "deny ip 300.1.2.3\n"  # 2
                                       "allow net 10.0.0.0/255.0.255.0\n"
                                       "permit user alice\n"  # 4
                                       "deny user\n"          # 5
                                       "include missing.acl\n"  # 6
                                       "deny ip 192.0.2.1\n"},  # 7
                   server={"acl": ACL})
    r = run("-t", "-c", str(p.conf))
    out = r.stdout + r.stderr
    assert r.returncode == 1, (r.returncode, out)
    for line in (2, 3, 4, 5, 6):
        assert re.search(r"x\.acl:%d: \S" % line, out), (line, out)
    assert not re.search(r"x\.acl:[17]:", out), out


def test_check_reports_include_cycle(tmp_path, dovecot):
    p = acl_config(tmp_path, dovecot, {
        "a.acl": "deny ip 192.0.2.1\ninclude b.acl\n",
        "b.acl": "allow any\ninclude a.acl\n"}, server={"acl": "a.acl"})
    r = run("-t", "-c", str(p.conf))
    out = r.stdout + r.stderr
    assert r.returncode == 1, (r.returncode, out)
    assert re.search(r"[ab]\.acl:2: \S", out), out


@pytest.mark.parametrize("rule", ["deny country RU", "deny asn 64496"])
def test_check_geo_rule_without_geoip_db(tmp_path, dovecot, rule):
    p = acl_config(tmp_path, dovecot, {ACL: "allow ip 192.0.2.1\n"
                                       + rule + "\n"},
                   server={"acl": ACL})
    r = run("-t", "-c", str(p.conf))
    out = r.stdout + r.stderr
    assert r.returncode == 1, (r.returncode, out)
    assert re.search(r"\S+:\d+: ", out), out
    assert "geoip" in out.lower(), out


def test_check_country_rule_with_asn_database_only(tmp_path, dovecot,
                                                   geoip):
    p = acl_config(tmp_path, dovecot, {ACL: "deny country RU\n"},
                   server={"acl": ACL},
                   global_={"geoip_db": str(geoip["asn"])})
    r = run("-t", "-c", str(p.conf))
    out = r.stdout + r.stderr
    assert r.returncode == 1, (r.returncode, out)
    assert re.search(r"\S+:\d+: ", out), out


def test_check_geo_rules_with_databases(tmp_path, dovecot, geoip):
    p = acl_config(tmp_path, dovecot,
                   {ACL: "deny country RU\ndeny asn 64496\n"},
                   server={"acl": ACL},
                   global_={"geoip_db": "%s, %s" % (geoip["city"],
                                                    geoip["asn"])})
    r = run("-t", "-c", str(p.conf))
    assert r.returncode == 0, (r.stdout, r.stderr)


def test_broken_acl_prevents_startup(tmp_path, dovecot):
    p = acl_config(tmp_path, dovecot, {ACL: "allow any\n"
                                       "deny net 10.0.0.0/33\n"},
                   server={"acl": ACL})
    r = run("-f", "-c", str(p.conf))
    out = r.stdout + r.stderr
    try:
        out += p.log.read_text(errors="replace")
    except OSError:
        pass
    assert r.returncode == 1, (r.returncode, out)
    assert "x.acl:2:" in out, out
    with socket.socket() as s:      # nothing was left listening
        s.bind((HOST, p.ports["plain"]))


# ---------------------------------------------------------------------
# implicit TLS and STARTTLS listeners

TLS_LISTENERS = (("tls", HOST, "tls"), ("starttls", HOST, "starttls"))


def test_refused_at_connect_over_implicit_tls(make_proxy, dovecot):
    """On a tls listener the refusal is said after the handshake, and a
    LOGIN pipelined behind it never reaches Dovecot."""
    p = acl_proxy(make_proxy, "deny ip 127.0.0.6\n", listeners=TLS_LISTENERS)
    refused_at_connect(p, "127.0.0.6", listener="tls", dovecot=dovecot,
                       user="alice")
    refused_at_connect(p, "127.0.0.6", listener="starttls")
    assert_denied_logged(p, ref(p, "deny ip 127.0.0.6"), "127.0.0.6")
    c = greeted(p, "127.0.0.7", listener="tls")
    login_ok(c, "alice", pw("alice"))
    c.close()


# ---------------------------------------------------------------------
# imapproxyctl acl check / acl test (offline)

def ctl(*args, timeout=20):
    return subprocess.run([daemon_path().replace("imapproxyd",
                                                 "imapproxyctl"), *args],
                          capture_output=True, text=True, timeout=timeout)


def test_ctl_acl_check(tmp_path):
    good = tmp_path / "good.acl"
    good.write_text("default deny\ninclude more.acl\nallow net 10.0.0.0/8\n")
    (tmp_path / "more.acl").write_text("deny ip 10.1.2.3\n")
    r = ctl("acl", "check", str(good))
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "2 rules" in r.stdout, r.stdout
    bad = tmp_path / "bad.acl"
    bad.write_text("allow any\ndeny net 10.0.0.0/33\nallow country XX\n")
    r = ctl("acl", "check", str(bad))
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("%s:2: " % bad), lines
    assert lines[1].startswith("%s:3: " % bad), lines
    r = ctl("acl", "check", str(bad), "--json")
    assert r.returncode == 1
    assert '"ok": false' in r.stdout, r.stdout


def test_ctl_acl_test_answers_with_the_deciding_rule(tmp_path, dovecot,
                                                     dnsmasq, geoip):
    acl = ("deny ip 127.0.0.5\n"
           "allow user svc-loader net 127.0.0.40/29\n"
           "deny user svc-loader\n"
           "deny domain good.corp.test\n"
           "deny country RU\n"
           "allow any\n")
    p = acl_config(tmp_path, dovecot, {ACL: acl},
                   server={"acl": ACL, "username_case": "lower"},
                   global_=dict(dns_global(dnsmasq.address),
                                geoip_db=str(geoip["country"])))
    conf = str(p.conf)
    acl_path = str(tmp_path / ACL)

    def decide(ip, user=None):
        args = ["-c", conf, "acl", "test", "default", ip]
        r = ctl(*(args + ([user] if user else [])))
        assert r.returncode == 0, (r.stdout, r.stderr)
        return r.stdout.splitlines()[0]

    assert decide("127.0.0.5") == "deny\t%s:1: deny ip 127.0.0.5" % acl_path
    assert decide("127.0.0.41", "SVC-Loader") == (
        "allow\t%s:2: allow user svc-loader net 127.0.0.40/29" % acl_path)
    assert decide("127.0.0.50", "svc-loader") == (
        "deny\t%s:3: deny user svc-loader" % acl_path)
    assert decide("127.0.0.50").startswith("unknown\t"), decide("127.0.0.50")
    assert decide("127.0.0.50", "alice") == "allow\t%s:6: allow any" % (
        acl_path)
    assert decide(DNS_GOOD[0], "alice") == (
        "deny\t%s:4: deny domain good.corp.test" % acl_path)
    assert decide("127.0.0.33", "alice") == (
        "deny\t%s:5: deny country RU" % acl_path)
    r = ctl("-c", conf, "acl", "test", "default", "127.0.0.33", "alice",
            "--json")
    assert r.returncode == 0, r.stderr
    assert '"decision": "deny"' in r.stdout and '"country": "RU"' in r.stdout
    r = ctl("-c", conf, "acl", "test", "nosuch", "127.0.0.1")
    assert r.returncode == 1 and "no [server nosuch]" in r.stderr, r.stderr
    r = ctl("-c", conf, "acl", "test", "default", "not-an-ip")
    assert r.returncode == 1 and "not an IP address" in r.stderr, r.stderr
