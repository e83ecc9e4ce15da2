"""What the proxy itself answers before authentication (SPEC.md s.7)."""

import re
import time

import pytest

from conftest import caps_of

BASE_CAPS = {"IMAP4rev1", "LITERAL+", "SASL-IR", "ID", "AUTH=PLAIN",
             "AUTH=LOGIN"}


def test_greeting_and_capability_plain(proxy):
    c = proxy.client("plain")
    assert re.match(r"^\* OK \[CAPABILITY [^\]]+\] IMAP proxy ready$",
                    c.greeting), c.greeting
    caps = caps_of(c.greeting)
    assert BASE_CAPS <= caps, caps
    # plaintext listener without the starttls flag
    assert "STARTTLS" not in caps
    assert "LOGINDISABLED" not in caps
    assert c.capabilities() == caps
    c.close()


def test_capability_starttls_listener(proxy):
    c = proxy.client("starttls")
    caps = caps_of(c.greeting)
    assert BASE_CAPS | {"STARTTLS"} <= caps, caps
    assert "LOGINDISABLED" not in caps       # require_tls = no
    assert c.capabilities() == caps
    c.close()


def test_capability_tls_listener(proxy):
    c = proxy.client("tls")
    caps = caps_of(c.greeting)
    assert BASE_CAPS <= caps, caps
    assert "STARTTLS" not in caps
    assert "LOGINDISABLED" not in caps
    assert c.capabilities() == caps
    c.close()


def test_custom_greeting(make_proxy):
    p = make_proxy(server={"greeting": "Welcome to test proxy 42"})
    c = p.client("plain")
    assert c.greeting.endswith("] Welcome to test proxy 42"), c.greeting
    c.close()


def test_noop_id_logout(proxy):
    c = proxy.client("plain")
    u, t = c.cmd("NOOP", tag="a1")
    assert t.startswith("a1 OK"), t
    assert u == []
    u, t = c.cmd("ID NIL", tag="a2")
    assert u == ["* ID NIL"], u
    assert t.startswith("a2 OK"), t
    u, t = c.cmd('ID ("name" "pytest" "version" "1.0")', tag="a3")
    assert u == ["* ID NIL"], u
    assert t.startswith("a3 OK"), t
    u, t = c.cmd("LOGOUT", tag="a4")
    assert len(u) == 1 and u[0].startswith("* BYE"), u
    assert t.startswith("a4 OK"), t
    assert c.read_until_eof(timeout=5) == []
    c.close()


def test_commands_case_insensitive(proxy):
    c = proxy.client("plain")
    u, t = c.cmd("capability", tag="x")
    assert t.startswith("x OK") and u[0].startswith("* CAPABILITY"), (u, t)
    u, t = c.cmd("nOoP", tag="y")
    assert t.startswith("y OK"), t
    c.close()


def test_pipelined_commands_answered_in_order(proxy):
    c = proxy.client("plain")
    c.send("p1 NOOP\r\np2 CAPABILITY\r\np3 ID NIL\r\np4 FROB\r\np5 NOOP\r\n")
    lines = [c.readline().decode() for _ in range(7)]
    tagged = [l.split()[0] + " " + l.split()[1] for l in lines
              if not l.startswith("*")]
    assert tagged == ["p1 OK", "p2 OK", "p3 OK", "p4 BAD", "p5 OK"], lines
    assert lines[1].startswith("* CAPABILITY")
    assert lines[3] == "* ID NIL"
    c.close()


def test_command_byte_by_byte(proxy):
    c = proxy.client("plain")
    for ch in b"slow CAPABILITY\r\n":
        c.send(bytes([ch]))
        time.sleep(0.005)
    u, t = c.read_response("slow")
    assert t.startswith("slow OK"), t
    assert u[0].startswith("* CAPABILITY")
    c.close()


@pytest.mark.parametrize("command", [
    "FROBNICATE", "SELECT INBOX", "EXAMINE INBOX", "LIST \"\" *",
    "FETCH 1 BODY[]", "ENABLE CONDSTORE",
    "UID FETCH 1:* FLAGS", "LOGIN", "LOGIN onlyuser",
    "AUTHENTICATE"])
def test_other_commands_rejected(proxy, command):
    c = proxy.client("plain")
    u, t = c.cmd(command, tag="z")
    assert re.match(r"^z (BAD|NO) ", t), t
    # and the session still works
    u, t = c.cmd("NOOP", tag="n")
    assert t.startswith("n OK"), t
    c.close()


def test_missing_tag_or_command(proxy):
    c = proxy.client("plain")
    c.send("\r\n")
    line = c.readline().decode()
    assert re.match(r"^\* BAD", line) or " BAD" in line, line
    c.send("justatag\r\n")
    line = c.readline().decode()
    assert " BAD" in line, line
    u, t = c.cmd("NOOP", tag="n")
    assert t.startswith("n OK"), t
    c.close()


def test_unknown_auth_mechanism(proxy):
    c = proxy.client("plain")
    u, t = c.cmd("AUTHENTICATE X-NO-SUCH-MECH", tag="m")
    assert re.match(r"^m (NO|BAD) ", t), t
    u, t = c.cmd("NOOP", tag="n")
    assert t.startswith("n OK"), t
    c.close()


def test_starttls_refused_where_not_offered(proxy):
    c = proxy.client("plain")
    u, t = c.cmd("STARTTLS", tag="s")
    assert re.match(r"^s (NO|BAD) ", t), t
    u, t = c.cmd("NOOP", tag="n")
    assert t.startswith("n OK"), t
    c.close()
    c = proxy.client("tls")
    u, t = c.cmd("STARTTLS", tag="s")
    assert re.match(r"^s (NO|BAD) ", t), t
    c.close()
