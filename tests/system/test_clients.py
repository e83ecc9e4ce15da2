"""Real mail clients through the proxy (issue 9: client compatibility,
proven).

Each test runs a client Debian ships -- mbsync (isync), offlineimap3,
fetchmail, curl, neomutt, Python's imaplib -- through imapproxyd, over
implicit TLS and over STARTTLS (the proxy's certificate verified against
its CA for the name localhost), and the same client straight to the
session's Dovecot, and asserts that both end the same: the same
mailboxes, messages, flags and answers.  Each run works on a mailbox of
its own, seeded the same way (fixed subjects, dates and Message-IDs, so
UIDs and sequence numbers agree too); the direct run of a scenario is
made once per module and kept in `direct_runs`.  The proxy's log then
shows that every proxied session of the run's user ended on the listener
under test, over TLS.

A check that each client refuses a certificate from another CA follows
(so the TLS above is verified, not merely on), then the folder tests:
IDLE latency; a tree of 5,000 folders and a mailbox two users share
through Dovecot's ACL plugin, each on a Dovecot of its own (without the
mailbox list index; with the acl plugins and a shared namespace), the
latter reached through a routes map.

Client versions and results are printed as a Markdown table at the end
of the run (conftest.CLIENT_MATRIX).
"""

import datetime
import imaplib
import os
import re
import shutil
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import (HOST, RawClient, b64, client_ctx, login_ok,
                      store_backend, wait_for)
import dovecot as dv

VIAS = ("tls", "starttls")
SUBPROCESS_TIMEOUT = 60


# ---------------------------------------------------------------------
# helpers

def need(program):
    if shutil.which(program) is None:
        pytest.skip("%s is not installed (make deps)" % program)


def cafile(pki):
    """The proxy's default certificate is its own CA."""
    return pki["org"][0]


def when(y, mo, d, h=12):
    return datetime.datetime(y, mo, d, h, 0, 0,
                             tzinfo=datetime.timezone.utc)


DEFAULT_DATE = when(2024, 1, 1)


def message(subject, body=None, headers=()):
    """A small message, CRLF line ends; the Message-ID follows the
    subject, so every mailbox seeded the same holds the same bytes."""
    mid = re.sub(r"[^A-Za-z0-9]+", ".", subject)
    lines = ["From: Sender <sender@example.org>",
             "To: Rcpt <rcpt@example.org>",
             "Subject: %s" % subject,
             "Date: Mon, 01 Jan 2024 00:00:00 +0000",
             "Message-ID: <%s@clients.test>" % mid]
    lines += list(headers)
    text = "\r\n".join(lines) + "\r\n\r\n" + (
        body if body is not None else "Body of %s.\r\n" % subject)
    return text.encode()


def q(box):
    return '"%s"' % box


def seed(dovecot, name, boxes):
    """BOXES: {mailbox: [(subject, flags) or (subject, flags, date)]},
    appended in order, straight to Dovecot; mailboxes other than INBOX
    are created (also when empty)."""
    m = dovecot.connect(name)
    try:
        for box, msgs in boxes.items():
            if box != "INBOX":
                typ, data = m.create(q(box))
                assert typ == "OK", (box, data)
            for item in msgs:
                subject, flags = item[0], item[1]
                date = item[2] if len(item) > 2 else DEFAULT_DATE
                typ, data = m.append(
                    q(box), "(%s)" % " ".join(flags) if flags else None,
                    date, message(subject))
                assert typ == "OK", (box, subject, data)
    finally:
        m.logout()


SUBJECT_RE = re.compile(rb"(?mi)^Subject: ([^\r\n]*)")
FLAGS_RE = re.compile(rb"FLAGS \(([^)]*)\)")
LIST_RE = re.compile(rb'^\(([^)]*)\) (NIL|"(?:[^"\\]|\\.)*") (.*)$')
X_TUID_RE = re.compile(rb"(?m)^X-TUID: [^\n]*\n")


def subject_of(data):
    m = SUBJECT_RE.search(data)
    return m.group(1).decode() if m else None


def parse_list(lines):
    """imaplib LIST/LSUB data -> set of (flags, delimiter, name)."""
    out = set()
    for line in lines:
        if line is None:
            continue
        assert isinstance(line, bytes), "literal in LIST: %r" % (line,)
        m = LIST_RE.match(line)
        assert m, line
        name = m.group(3)
        if name.startswith(b'"'):
            name = name[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
        out.add((frozenset(m.group(1).split()), m.group(2).decode(),
                 name.decode()))
    return out


def fetch_all(m, box, strip_tuid=False):
    """[(subject, flags, bytes)] of BOX's messages, sorted; \\Recent
    left out (it says which session saw a message first)."""
    typ, data = m.select(q(box), readonly=True)
    assert typ == "OK", (box, data)
    if int(data[0]) == 0:
        return []
    typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[])")
    assert typ == "OK", data
    out = []
    for item in data:
        if not isinstance(item, tuple):
            continue
        fm = FLAGS_RE.search(item[0])
        assert fm, item[0]
        flags = tuple(sorted(f.decode() for f in fm.group(1).split()
                             if f != b"\\Recent"))
        body = item[1]
        if strip_tuid:
            body = X_TUID_RE.sub(b"", body.replace(b"\r\n", b"\n"))
        out.append((subject_of(body), flags, body))
    return sorted(out)


def server_state(dovecot, name, strip_tuid=False):
    """{mailbox: fetch_all(...)} of every selectable mailbox of NAME,
    looked at straight on Dovecot."""
    m = dovecot.connect(name)
    try:
        typ, data = m.list()
        assert typ == "OK", data
        state = {}
        for flags, _d, box in parse_list(data):
            if "\\noselect" in (f.lower() for f in flags):
                continue
            state[box] = fetch_all(m, box, strip_tuid)
        return state
    finally:
        m.logout()


def maildir_state(root, strip_tuid=False):
    """{folder: [(subject, maildir flags, bytes)]} of the Maildir tree
    under ROOT (a folder: a directory with cur/; nested folders are
    nested directories)."""
    state = {}
    root = Path(root)
    for dirpath, _dirs, _files in os.walk(root):
        p = Path(dirpath)
        if not (p / "cur").is_dir():
            continue
        folder = str(p.relative_to(root))
        msgs = []
        for sub in ("cur", "new"):
            for f in (p / sub).iterdir():
                data = f.read_bytes()
                if strip_tuid:
                    data = X_TUID_RE.sub(b"", data)
                flags = f.name.split(":2,", 1)[1] if ":2," in f.name else ""
                msgs.append((subject_of(data), flags, data))
        state[folder] = sorted(msgs)
    return state


def subjects(msgs):
    return sorted(m[0] for m in msgs)


def flags_of(msgs, subject):
    found = [m[1] for m in msgs if m[0] == subject]
    assert len(found) == 1, (subject, msgs)
    return found[0]


SUMMARY_RE = re.compile(r"user=(\S+) server=\S+ listener=\S+:(\d+) "
                        r"backend=(\S+) tls=(\S+) in=\d+ out=\d+ duration=")


def proxied_sessions(proxy, name):
    """[(listener port, back end, tls)] of NAME's ended sessions."""
    return [(int(port), be, tls) for user, port, be, tls
            in SUMMARY_RE.findall(proxy.log_text()) if user == name]


def assert_proxied_over_tls(proxy, name, via, at_least=1, backend=None,
                            password=None):
    """At least AT_LEAST sessions of NAME went through PROXY, and every
    one was on VIA's listener (or one of VIA's, a tuple) and used TLS
    (and reached BACKEND); PASSWORD, in clear or as a SASL PLAIN token,
    is nowhere in the proxy's log."""
    ports = [proxy.ports[v] for v in ((via,) if isinstance(via, str)
                                      else via)]
    rows = wait_for(lambda: len(proxied_sessions(proxy, name)) >= at_least
                    and proxied_sessions(proxy, name), 5)
    assert rows, "fewer than %d sessions of %s in the proxy log: %r" % (
        at_least, name, proxied_sessions(proxy, name))
    for port, be, tls in rows:
        assert port in ports, (via, rows)
        assert tls.startswith("TLSv1."), (via, rows)
        assert backend is None or be == backend, rows
    if password is not None:
        log = proxy.log_text()
        assert password not in log
        assert b64("\0%s\0%s" % (name, password)) not in log


def imap_via(proxy, via, ca, host="localhost"):
    """An imaplib connection to the proxy (not logged in): on the
    implicit-TLS listener, or on the STARTTLS one after STARTTLS; the
    certificate is verified against CA for HOST."""
    ctx = client_ctx(ca)
    if via == "tls":
        return imaplib.IMAP4_SSL(host, proxy.ports["tls"], ssl_context=ctx,
                                 timeout=30)
    m = imaplib.IMAP4(host, proxy.ports["starttls"], timeout=30)
    typ, data = m.starttls(ssl_context=ctx)
    assert typ == "OK", data
    return m


def run(args, home, timeout=SUBPROCESS_TIMEOUT, **kw):
    """Runs a client with HOME=HOME; the CompletedProcess (text)."""
    env = dict(os.environ, HOME=str(home), LC_ALL="C.UTF-8")
    env.update(kw.pop("env", {}))
    return subprocess.run(args, capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=str(home), **kw)


@pytest.fixture(scope="module")
def direct_runs():
    """Each scenario's outcome straight on Dovecot, made once."""
    return {}


def direct(direct_runs, key, fn):
    if key not in direct_runs:
        direct_runs[key] = fn()
    return direct_runs[key]


# ---------------------------------------------------------------------
# 1. mbsync (isync): two-way sync

MB_SERVER = {
    "INBOX": [("s0", ()), ("s1", ("\\Flagged",)), ("s2", ("\\Seen",)),
              ("s3", ())],
    "Archive": [("a0", ()), ("a1", ("\\Seen",))],
}


def mbsync_scenario(root, dovecot, name, pw, host, port, ssltype, ca):
    """Seeds the server, puts messages in a local Maildir, and syncs
    three times: after the first, both sides change (flags, a deletion,
    a new message on each); the third has nothing to do.  Returns the
    (server, local) states after each sync."""
    seed(dovecot, name, MB_SERVER)
    root.mkdir(parents=True)
    mail = root / "mail"
    for folder in ("INBOX", "Local"):
        for sub in ("cur", "new", "tmp"):
            (mail / folder / sub).mkdir(parents=True)
    lf = lambda s: message(s).replace(b"\r\n", b"\n")     # noqa: E731
    (mail / "INBOX/new/1700000000.l0.local").write_bytes(lf("l0"))
    (mail / "INBOX/cur/1700000001.l1.local:2,S").write_bytes(lf("l1"))
    (mail / "Local/cur/1700000002.l2.local:2,F").write_bytes(lf("l2"))
    rc = root / "mbsyncrc"
    rc.write_text(
        "IMAPAccount acc\nHost %s\nPort %d\nUser %s\nPass %s\n"
        "SSLType %s\nCertificateFile %s\nAuthMechs PLAIN LOGIN\n"
        "Timeout 20\n\n"
        "IMAPStore far\nAccount acc\n\n"
        "MaildirStore near\nPath %s/\nInbox %s/INBOX\n"
        "SubFolders Verbatim\n\n"
        "Channel ch\nFar :far:\nNear :near:\nPatterns *\nCreate Both\n"
        "Expunge Both\nSync All\nSyncState *\n"
        % (host, port, name, pw, ssltype, ca, mail, mail))
    states = []

    def sync():
        r = run(["mbsync", "-c", str(rc), "-a"], root)
        assert r.returncode == 0, (r.stdout, r.stderr)
        states.append((server_state(dovecot, name, strip_tuid=True),
                       maildir_state(mail, strip_tuid=True)))

    sync()
    # near: s0 read and flagged, l0 deleted
    for f in (mail / "INBOX").glob("*/*"):
        data = f.read_bytes()
        if subject_of(data) == "s0":
            f.rename(mail / "INBOX/cur" / (f.name.split(":2,")[0]
                                           + ":2,FS"))
        elif subject_of(data) == "l0":
            f.unlink()
    # far: a0 flagged, s3 expunged, s4 new
    m = dovecot.connect(name)
    try:
        m.select("Archive")
        typ, data = m.search(None, "SUBJECT", "a0")
        assert m.store(data[0].decode(), "+FLAGS", "\\Flagged")[0] == "OK"
        m.select("INBOX")
        typ, data = m.search(None, "SUBJECT", "s3")
        assert m.store(data[0].decode(), "+FLAGS", "\\Deleted")[0] == "OK"
        assert m.expunge()[0] == "OK"
        assert m.append("INBOX", None, DEFAULT_DATE, message("s4"))[0] \
            == "OK"
    finally:
        m.logout()
    sync()
    sync()
    return states


@pytest.mark.parametrize("via", VIAS)
def test_mbsync_two_way_sync(matrix, proxy, dovecot, new_user, pki,
                             tmp_path, direct_runs, via):
    need("mbsync")
    matrix("mbsync", "isync", "two-way sync: up, down, flags, deletions; "
           "2nd sync no-op", via)
    ca = cafile(pki)
    want = direct(direct_runs, "mbsync", lambda: mbsync_scenario(
        tmp_path / "direct", dovecot, *new_user(), HOST, dovecot.port,
        "None", ca))
    (srv1, loc1), (srv2, loc2), (srv3, loc3) = want
    # what the scenario does, straight on Dovecot
    assert subjects(srv1["INBOX"]) == ["l0", "l1", "s0", "s1", "s2", "s3"]
    assert subjects(srv1["Local"]) == ["l2"]
    assert subjects(loc1["Archive"]) == ["a0", "a1"]
    assert subjects(srv2["INBOX"]) == ["l1", "s0", "s1", "s2", "s4"]
    assert flags_of(srv2["INBOX"], "s0") == ("\\Flagged", "\\Seen")
    assert subjects(loc2["INBOX"]) == ["l1", "s0", "s1", "s2", "s4"]
    assert "F" in flags_of(loc2["Archive"], "a0")
    assert (srv3, loc3) == (srv2, loc2)
    name, pw = new_user()
    got = mbsync_scenario(tmp_path / via, dovecot, name, pw, "localhost",
                          proxy.ports[via],
                          {"tls": "IMAPS", "starttls": "STARTTLS"}[via], ca)
    for i, (g, w) in enumerate(zip(got, want), 1):
        assert g[0] == w[0], "server after sync %d" % i
        assert g[1] == w[1], "local after sync %d" % i
    assert_proxied_over_tls(proxy, name, via, at_least=3,
                            password=pw)


# ---------------------------------------------------------------------
# 2. offlineimap3: one-shot sync of a tree

OI_TREE = {
    "INBOX": [("inbox plain", ()), ("inbox flagged", ("\\Flagged",)),
              ("inbox answered", ("\\Answered", "\\Seen"))],
    "Projects": [("projects note", ("\\Seen",))],
    "Projects/alpha": [("alpha one", ()), ("alpha two", ("\\Seen",))],
    "Projects/beta": [("beta draft", ("\\Draft",))],
    "Archive": [],
    "Archive/2023": [("archive 2023", ("\\Seen",))],
}


# offlineimap 8.0.0's STARTTLS (imaplib2 3.05) fails now and then, as
# often straight against Dovecot as through the proxy (here: 5 runs in
# 15 direct, 3 in 15 proxied): "Failed to start TLS connection: command:
# CAPABILITY => connection terminated" (or SSLEOFError, or "tlsv1 alert
# protocol version", or "[SSL] internal error"), and once a hang and
# once a segmentation fault.  Its reader thread races the handshake.
# So a STARTTLS run that fails that way is tried again, within bounds;
# implicit TLS never failed (20 in 20).
OI_STARTTLS_ATTEMPTS = 4


def offlineimap_scenario(root, dovecot, name, pw, host, port, mode, ca):
    """Seeds OI_TREE and runs `offlineimap -o -u basic` once into an
    empty Maildir; returns (STARTTLS attempts that failed, local tree,
    server)."""
    seed(dovecot, name, OI_TREE)
    root.mkdir(parents=True)
    remote = {"direct": "ssl = no\nstarttls = no\n",
              "tls": "ssl = yes\nstarttls = no\nsslcacertfile = %s\n" % ca,
              "starttls": "ssl = no\nstarttls = yes\n"
                          "sslcacertfile = %s\n" % ca}[mode]
    conf = root / "offlineimaprc"
    conf.write_text(
        "[general]\naccounts = acc\nmetadata = %s/meta\n\n"
        "[Account acc]\nlocalrepository = local\n"
        "remoterepository = remote\n\n"
        "[Repository local]\ntype = Maildir\nlocalfolders = %s/mail\n"
        "sep = /\n\n"
        "[Repository remote]\ntype = IMAP\nremotehost = %s\n"
        "remoteport = %d\nremoteuser = %s\nremotepass = %s\n"
        "maxconnections = 1\n%s"
        % (root, root, host, port, name, pw, remote))
    failures = []
    for _attempt in range(OI_STARTTLS_ATTEMPTS if mode == "starttls" else 1):
        try:
            r = run(["offlineimap", "-c", str(conf), "-o", "-u", "basic"],
                    root, timeout=20)
        except subprocess.TimeoutExpired as e:
            failures.append("timed out: %s" % (e.stdout or b"")[-300:])
            continue
        out = r.stdout + r.stderr
        if mode == "starttls" and r.returncode != 0 \
                and "Failed to start TLS connection" in out:
            failures.append(out[out.find("ERROR"):][:300])
            continue
        break
    else:
        pytest.fail("offlineimap: STARTTLS failed %d times in a row:\n%s"
                    % (len(failures), "\n".join(failures)))
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "ERROR" not in r.stdout + r.stderr, (r.stdout, r.stderr)
    return (len(failures), maildir_state(root / "mail"),
            server_state(dovecot, name))


@pytest.mark.parametrize("via", VIAS)
def test_offlineimap_one_shot_sync(matrix, proxy, dovecot, new_user, pki,
                                   tmp_path, direct_runs, via):
    """offlineimap 8.0.0 verifies the certificate on implicit TLS only:
    its STARTTLS path (imaplib2 starttls() without ca_certs) does not
    check it.  The proxy's log shows the upgrade happened."""
    need("offlineimap")
    row = matrix("offlineimap", "offlineimap3", "one-shot sync (-o -u "
                 "basic) of a folder tree into a Maildir", via)
    ca = cafile(pki)
    want = direct(direct_runs, "offlineimap", lambda: offlineimap_scenario(
        tmp_path / "direct", dovecot, *new_user(), HOST, dovecot.port,
        "direct", ca))
    _failed, local, server = want
    # the whole tree came down, with its flags
    assert sorted(local) == sorted(OI_TREE)
    assert {k: len(v) for k, v in local.items()} == \
        {k: len(v) for k, v in OI_TREE.items()}
    assert flags_of(local["INBOX"], "inbox answered") == "RS"
    name, pw = new_user()
    got = offlineimap_scenario(tmp_path / via, dovecot, name, pw,
                               "localhost", proxy.ports[via], via, ca)
    if got[0]:
        row["what"] += " (client's STARTTLS failed %d time(s) first)" \
            % got[0]
    assert got[1] == want[1], "local Maildir"
    assert got[2] == want[2], "server after the sync"
    assert_proxied_over_tls(proxy, name, via, password=pw)


# ---------------------------------------------------------------------
# 3. fetchmail: keep, no-keep, flush; delivery through an MDA

FM_INBOX = [("fm seen", ("\\Seen",)), ("fm one", ()), ("fm two", ()),
            ("fm three", ("\\Flagged",))]
MDA = """#!/bin/sh
# one file per message, in delivery order
n=$(ls "$1" | wc -l)
exec cat > "$1/$(printf %04d "$n").eml"
"""


def delivered(outdir):
    """The messages the MDA wrote, in order, without the Received:
    header fetchmail puts on top (it holds the time)."""
    out = []
    for f in sorted(Path(outdir).iterdir()):
        data = f.read_bytes()
        assert data.startswith(b"Received: "), data[:200]
        data = re.sub(rb"\AReceived: [^\n]*\n(?:[ \t][^\n]*\n)*", b"", data)
        out.append(data)
    return out


def fetchmail_scenario(root, dovecot, name, pw, port, mode, ca):
    """Three polls: --keep (the unseen messages come, all stay), then a
    new message and --nokeep (it comes and goes), then another and
    --nokeep --flush (the seen ones go first).  Returns, per poll, the
    exit status, what was delivered, and the server's INBOX."""
    seed(dovecot, name, {"INBOX": FM_INBOX})
    root.mkdir(parents=True)
    mda = root / "deliver"
    mda.write_text(MDA)
    mda.chmod(0o755)
    rc = root / "fetchmailrc"
    rc.write_text('poll localhost proto IMAP user "%s" password "%s"\n'
                  % (name, pw))
    rc.chmod(0o600)
    tls = {"direct": ["--sslproto", "", "--nosslcertck"],
           "tls": ["--ssl", "--sslcertck", "--sslcertfile", ca],
           "starttls": ["--sslproto", "TLS1.2+", "--sslcertck",
                        "--sslcertfile", ca]}[mode]
    polls = []
    for i, opts in enumerate((["--keep"], ["--nokeep"],
                              ["--nokeep", "--flush"])):
        if i:
            dovecot.append(name, message("fm new %d" % i))
        out = root / ("out%d" % i)
        out.mkdir()
        r = run(["fetchmail", "-f", str(rc), "-N", "-d0", "--nosyslog",
                 "-P", str(port), *tls, *opts,
                 "--mda", "%s %s" % (mda, out), "localhost"], root,
                env={"FETCHMAILHOME": str(root)})
        # 0: mail came, 1: none (anything else is an error)
        assert r.returncode in (0, 1), (r.stdout, r.stderr)
        polls.append((r.returncode, delivered(out),
                      server_state(dovecot, name)["INBOX"]))
    return polls


@pytest.mark.parametrize("via", VIAS)
def test_fetchmail_keep_nokeep_flush(matrix, proxy, dovecot, new_user, pki,
                                     tmp_path, direct_runs, via):
    need("fetchmail")
    matrix("fetchmail", "fetchmail", "poll --keep, --nokeep, --flush; "
           "--mda delivery", via)
    ca = cafile(pki)
    want = direct(direct_runs, "fetchmail", lambda: fetchmail_scenario(
        tmp_path / "direct", dovecot, *new_user(), dovecot.port,
        "direct", ca))
    keep, nokeep, flush = want
    assert [subject_of(m) for m in keep[1]] == ["fm one", "fm two",
                                                "fm three"]
    assert len(keep[2]) == 4
    assert [subject_of(m) for m in nokeep[1]] == ["fm new 1"]
    assert len(nokeep[2]) == 4
    assert [subject_of(m) for m in flush[1]] == ["fm new 2"]
    assert flush[2] == []
    name, pw = new_user()
    got = fetchmail_scenario(tmp_path / via, dovecot, name, pw,
                             proxy.ports[via], via, ca)
    for label, g, w in zip(("keep", "nokeep", "flush"), got, want):
        assert g[0] == w[0], "%s: exit status" % label
        assert g[1] == w[1], "%s: delivered messages" % label
        assert g[2] == w[2], "%s: server INBOX" % label
    assert_proxied_over_tls(proxy, name, via, at_least=3,
                            password=pw)


# ---------------------------------------------------------------------
# 4. curl: LIST, UID FETCH, SEARCH

CURL_BOXES = {
    "INBOX": [("curl old", (), when(2023, 3, 1)),
              ("curl one", ("\\Seen",), when(2024, 6, 2)),
              ("curl two", (), when(2024, 7, 3))],
    "Reports": [],
    "Reports/2024": [("report q2", (), when(2024, 7, 1))],
}


def curl_scenario(dovecot, name, pw, base, opts):
    """What curl answers for a LIST, two SEARCHes and a FETCH by UID;
    BASE: the URL up to the port."""
    seed(dovecot, name, CURL_BOXES)
    out = {}
    for key, path in (("list", "/"),
                      ("list-sub", "/Reports/2024"),
                      ("search-subject", "/INBOX?SUBJECT%20curl"),
                      ("search-since", "/INBOX?SINCE%201-Jun-2024"),
                      ("fetch-uid", "/INBOX/;UID=2"),
                      ("fetch-sub", "/Reports/2024/;UID=1")):
        r = subprocess.run(["curl", "-sS", "--max-time", "20", *opts,
                            "--user", "%s:%s" % (name, pw), base + path],
                           capture_output=True, timeout=30)
        assert r.returncode == 0, (key, r.stderr)
        out[key] = r.stdout
    return out


@pytest.mark.parametrize("via", VIAS)
def test_curl_list_fetch_search(matrix, proxy, dovecot, new_user, pki,
                                direct_runs, via):
    need("curl")
    matrix("curl", "curl", "LIST, UID FETCH (bytes), SEARCH",
           {"tls": "tls (imaps://)",
            "starttls": "starttls (imap:// --ssl-reqd)"}[via])
    ca = cafile(pki)
    want = direct(direct_runs, "curl", lambda: curl_scenario(
        dovecot, *new_user(), "imap://%s:%d" % (HOST, dovecot.port), []))
    assert re.search(rb'^\* LIST \(.*\) "/" Reports/2024\r?$',
                     want["list"], re.M), want["list"]
    assert want["search-subject"].strip() == b"* SEARCH 1 2 3"
    assert want["search-since"].strip() == b"* SEARCH 2 3"
    assert want["fetch-uid"] == message("curl one")
    assert want["fetch-sub"] == message("report q2")
    name, pw = new_user()
    if via == "tls":
        base, opts = "imaps://localhost:%d" % proxy.ports["tls"], []
    else:
        base = "imap://localhost:%d" % proxy.ports["starttls"]
        opts = ["--ssl-reqd"]
    got = curl_scenario(dovecot, name, pw, base, ["--cacert", ca] + opts)
    for key in want:
        assert got[key] == want[key], key
    assert_proxied_over_tls(proxy, name, via, at_least=len(want),
                            password=pw)


# ---------------------------------------------------------------------
# 5. neomutt, driven in tmux

NM_INBOX = [("nm-stay", ()), ("nm-copy", ("\\Flagged",)), ("nm-save", ())]
NM_KEYS = ("<limit>~s nm-copy<enter><copy-message>=Copied<enter>"
           "<limit>~s nm-save<enter><save-message>=Saved<enter><quit>")


def neomutt_scenario(root, dovecot, name, pw, url, mode, ca):
    """neomutt opens the INBOX at URL, copies nm-copy to Copied, saves
    (moves) nm-save to Saved and quits, expunging; it needs a terminal,
    so it runs in a tmux of its own.  Returns (exit status, server)."""
    seed(dovecot, name, {"INBOX": NM_INBOX})
    root.mkdir(parents=True)
    tls = {"direct": "set ssl_starttls = no\nset ssl_force_tls = no\n",
           "tls": "set ssl_force_tls = yes\n",
           "starttls": "set ssl_starttls = yes\nset ssl_force_tls = yes\n"
           }[mode]
    (root / "neomuttrc").write_text(
        "set imap_user = %s\nset imap_pass = %s\nset folder = %s\n"
        "set spoolfile = +INBOX\n"
        "set ssl_ca_certificates_file = %s\n"
        "set certificate_file = %s/certificates\n%s"
        "set header_cache = ''\nset message_cachedir = ''\n"
        "set confirmcreate = no\nset confirmappend = no\n"
        "set quit = yes\nset delete = yes\nset move = no\n"
        "set mark_old = no\nset mail_check_stats = no\n"
        "set imap_passive = yes\nset timeout = 1\n"
        # no pause after informational messages (TLS connection, ...)
        "set sleep_time = 0\n"
        % (name, pw, url, ca, root, tls))
    (root / "run.sh").write_text(
        "#!/bin/sh\ncd %s\nHOME=%s neomutt -n -F %s/neomuttrc "
        "-e 'push \"%s\"' 2>%s/stderr\necho $? > %s/exit.tmp\n"
        "mv %s/exit.tmp %s/exit\n"
        % (root, root, root, NM_KEYS, root, root, root, root))
    (root / "run.sh").chmod(0o755)
    sock = str(root / "tmux.sock")
    subprocess.run(["tmux", "-S", sock, "-f", "/dev/null", "new-session",
                    "-d", "-x", "132", "-y", "40", str(root / "run.sh")],
                   check=True, timeout=10, env=dict(os.environ,
                                                    HOME=str(root)))
    try:
        done = wait_for(lambda: (root / "exit").exists(), 30)
        if not done:
            screen = subprocess.run(["tmux", "-S", sock, "capture-pane",
                                     "-p"], capture_output=True, text=True,
                                    timeout=10).stdout
            pytest.fail("neomutt did not finish within 30 s; screen:\n%s"
                        % screen)
    finally:
        subprocess.run(["tmux", "-S", sock, "kill-server"],
                       capture_output=True, timeout=10)
    status = int((root / "exit").read_text())
    assert status == 0, (root / "stderr").read_text()
    return status, server_state(dovecot, name)


@pytest.mark.parametrize("via", VIAS)
def test_neomutt_copy_and_save(matrix, proxy, dovecot, new_user, pki,
                               tmp_path, direct_runs, via):
    need("neomutt")
    need("tmux")
    matrix("neomutt (in tmux)", "neomutt", "open INBOX, copy-message and "
           "save-message to new folders, expunge on quit", via)
    ca = cafile(pki)
    want = direct(direct_runs, "neomutt", lambda: neomutt_scenario(
        tmp_path / "direct", dovecot, *new_user(),
        "imap://%s:%d/" % (HOST, dovecot.port), "direct", ca))
    server = want[1]
    assert subjects(server["INBOX"]) == ["nm-copy", "nm-stay"]
    assert subjects(server["Copied"]) == ["nm-copy"]
    assert subjects(server["Saved"]) == ["nm-save"]
    name, pw = new_user()
    url = {"tls": "imaps://localhost:%d/",
           "starttls": "imap://localhost:%d/"}[via] % proxy.ports[via]
    got = neomutt_scenario(tmp_path / via, dovecot, name, pw, url, via, ca)
    assert got == want
    assert_proxied_over_tls(proxy, name, via, password=pw)


# ---------------------------------------------------------------------
# 6. imaplib: a CRM's flow

CRM_INBOX = [("Quote request", (), when(2020, 3, 1)),
             ("Old thread", (), when(2021, 5, 5)),
             ("Order 1001", (), when(2024, 6, 2)),
             ("Order 1002", ("\\Seen",), when(2024, 6, 15)),
             ("Support: cannot log in", (), when(2024, 7, 1)),
             ("Newsletter", (), when(2019, 1, 9))]
APPENDUID_RE = re.compile(rb"\[APPENDUID \d+ (\d+)\]")


def crm_flow(m):
    """SEARCH SINCE, FETCH the hits, APPEND a reply to each to Sent.
    M: logged in.  Returns what the CRM saw and what it left."""
    out = {}
    typ, data = m.select("INBOX")
    assert typ == "OK", data
    typ, data = m.search(None, "SINCE", "1-Jun-2024")
    assert typ == "OK", data
    hits = data[0].split()
    out["hits"] = hits
    typ, data = m.fetch(b",".join(hits),
                        "(UID INTERNALDATE FLAGS BODY.PEEK[])")
    assert typ == "OK", data
    fetched = [(item[0], item[1]) for item in data if isinstance(item,
                                                                 tuple)]
    out["fetched"] = fetched
    typ, data = m.list('""', "Sent")
    if data == [None]:
        assert m.create("Sent")[0] == "OK"
    out["appenduid"] = []
    for _head, body in fetched:
        mid = re.search(rb"(?mi)^Message-ID: (\S+)", body).group(1)
        reply = message("Re: " + subject_of(body), headers=(
            "In-Reply-To: %s" % mid.decode(),), body="We are on it.\r\n")
        typ, data = m.append("Sent", "(\\Seen)", when(2024, 7, 2), reply)
        assert typ == "OK", data
        out["appenduid"].append(APPENDUID_RE.search(data[0]).group(1))
    out["sent"] = fetch_all(m, "Sent")
    m.logout()
    return out


@pytest.mark.parametrize("via", VIAS)
def test_imaplib_crm_flow(matrix, proxy, dovecot, new_user, pki,
                          direct_runs, via):
    matrix("Python imaplib", "libpython3.11-stdlib", "CRM: SEARCH SINCE, "
           "FETCH hits, APPEND replies to Sent", via)
    ca = cafile(pki)

    def direct_run():
        name, pw = new_user()
        seed(dovecot, name, {"INBOX": CRM_INBOX})
        return crm_flow(dovecot.connect(name))

    want = direct(direct_runs, "crm", direct_run)
    assert want["hits"] == [b"3", b"4", b"5"]
    assert [subject_of(s[2]) for s in want["sent"]] == [
        "Re: Order 1001", "Re: Order 1002", "Re: Support: cannot log in"]
    name, pw = new_user()
    seed(dovecot, name, {"INBOX": CRM_INBOX})
    m = imap_via(proxy, via, ca)
    assert m.login(name, pw)[0] == "OK"
    got = crm_flow(m)
    assert got == want
    assert_proxied_over_tls(proxy, name, via, password=pw)


# ---------------------------------------------------------------------
# 7. imaplib: a loader that files messages with UID MOVE

LOADER_INBOX = [("invoice %d" % i, ()) for i in range(1, 5)]
LOADER_BAD = "invoice 3"
COPYUID_RE = re.compile(rb"^(\d+) (\S+) (\S+)$")


def uid_set(text):
    """An IMAP sequence set of UIDs ("1:3,5") -> [1, 2, 3, 5]."""
    out = []
    for part in text.decode().split(","):
        a, _, b = part.partition(":")
        out += list(range(int(a), int(b or a) + 1))
    return out


def loader_flow(m):
    """Fetch every INBOX message, UID MOVE the good ones to Archive and
    the bad one to BadMail, learning their new UIDs from COPYUID.
    M: logged in.  Returns what the loader saw and left."""
    out = {}
    typ, data = m.capability()
    caps = set(data[0].upper().split())
    assert {b"UIDPLUS", b"MOVE"} <= caps, caps
    out["caps"] = sorted(caps)
    assert m.select("INBOX")[0] == "OK"
    typ, data = m.uid("SEARCH", "ALL")
    assert typ == "OK", data
    msgs = {}
    for uid in map(int, data[0].split()):
        typ, fd = m.uid("FETCH", str(uid), "(UID BODY.PEEK[])")
        assert typ == "OK", fd
        assert int(re.search(rb"UID (\d+)", fd[0][0]).group(1)) == uid
        msgs[uid] = fd[0][1]
    good = sorted(u for u, b in msgs.items() if subject_of(b) != LOADER_BAD)
    bad = sorted(u for u, b in msgs.items() if subject_of(b) == LOADER_BAD)
    out["good"], out["bad"] = good, bad
    for box, uids in (("Archive", good), ("BadMail", bad)):
        assert m.create(box)[0] == "OK"
        typ, data = m.uid("MOVE", ",".join(map(str, uids)), box)
        assert typ == "OK", data
        typ, data = m.response("COPYUID")
        assert data != [None], "no COPYUID for the MOVE to %s" % box
        cm = COPYUID_RE.match(data[-1])
        assert cm, data
        src, dst = uid_set(cm.group(2)), uid_set(cm.group(3))
        assert src == uids, (src, uids)
        typ, st = m.status(box, "(UIDVALIDITY)")
        assert b"UIDVALIDITY %s)" % cm.group(1) in st[0], (st, data)
        # the new UIDs find the same bytes
        assert m.select(box, readonly=True)[0] == "OK"
        for s, d in zip(src, dst):
            typ, fd = m.uid("FETCH", str(d), "(BODY.PEEK[])")
            assert typ == "OK" and fd[0][1] == msgs[s], (box, s, d)
        out["moved-" + box] = (src, dst)
        assert m.select("INBOX")[0] == "OK"
    out["folders"] = dict((box, fetch_all(m, box))
                          for box in ("INBOX", "Archive", "BadMail"))
    m.logout()
    return out


@pytest.mark.parametrize("via", VIAS)
def test_imaplib_loader_uid_move(matrix, proxy, dovecot, new_user, pki,
                                 direct_runs, via):
    matrix("Python imaplib", "libpython3.11-stdlib", "loader: FETCH all, "
           "UID MOVE with COPYUID (UIDPLUS) to Archive/BadMail", via)
    ca = cafile(pki)

    def direct_run():
        name, pw = new_user()
        seed(dovecot, name, {"INBOX": LOADER_INBOX})
        return loader_flow(dovecot.connect(name))

    want = direct(direct_runs, "loader", direct_run)
    assert subjects(want["folders"]["Archive"]) == [
        "invoice 1", "invoice 2", "invoice 4"]
    assert subjects(want["folders"]["BadMail"]) == [LOADER_BAD]
    assert want["folders"]["INBOX"] == []
    name, pw = new_user()
    seed(dovecot, name, {"INBOX": LOADER_INBOX})
    m = imap_via(proxy, via, ca)
    assert m.login(name, pw)[0] == "OK"
    got = loader_flow(m)
    assert got == want
    assert_proxied_over_tls(proxy, name, via, password=pw)


# ---------------------------------------------------------------------
# the clients above do check the proxy's certificate

@pytest.mark.parametrize("via", VIAS)
def test_clients_refuse_an_untrusted_certificate(matrix, proxy, user, pki,
                                                 tmp_path, via):
    """With another CA than the proxy's, each client gives up before it
    logs in: the TLS in the tests above is verified, not just on.  (Not
    offlineimap over STARTTLS: it does not check the certificate
    there.)"""
    name, pw = user
    wrong = pki["other"][0]
    port = proxy.ports[via]
    refused = "refuses an untrusted proxy certificate before LOGIN"
    if shutil.which("curl"):
        matrix("curl", "curl", refused, via)
        url = ("imaps://localhost:%d/" if via == "tls"
               else "imap://localhost:%d/") % port
        r = subprocess.run(["curl", "-sS", "--max-time", "20", "--cacert",
                            wrong, "--ssl-reqd", "--user",
                            "%s:%s" % (name, pw), url],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 60, (r.returncode, r.stderr)  # peer cert
    if shutil.which("mbsync"):
        matrix("mbsync", "isync", refused, via)
        root = tmp_path / "mbsync"
        (root / "mail").mkdir(parents=True)
        (root / "rc").write_text(
            "IMAPAccount a\nHost localhost\nPort %d\nUser %s\nPass %s\n"
            "SSLType %s\nCertificateFile %s\n\nIMAPStore far\nAccount a\n"
            "\nMaildirStore near\nPath %s/mail/\nInbox %s/mail/INBOX\n\n"
            "Channel c\nFar :far:\nNear :near:\nPatterns *\n"
            % (port, name, pw, {"tls": "IMAPS", "starttls": "STARTTLS"}[via],
               wrong, root, root))
        r = run(["mbsync", "-c", str(root / "rc"), "-a"], root)
        assert r.returncode != 0 and "certificate" in r.stderr.lower(), \
            (r.stdout, r.stderr)
    if shutil.which("fetchmail"):
        matrix("fetchmail", "fetchmail", refused, via)
        root = tmp_path / "fetchmail"
        root.mkdir()
        rc = root / "rc"
        rc.write_text('poll localhost proto IMAP user "%s" password "%s"\n'
                      % (name, pw))
        rc.chmod(0o600)
        tls = (["--ssl"] if via == "tls" else ["--sslproto", "TLS1.2+"])
        r = run(["fetchmail", "-f", str(rc), "-N", "-d0", "--nosyslog",
                 "-P", str(port), *tls, "--sslcertck", "--sslcertfile",
                 wrong, "-k", "--mda", "cat", "localhost"], root,
                env={"FETCHMAILHOME": str(root)})
        assert r.returncode not in (0, 1), (r.stdout, r.stderr)
        assert "certificate" in (r.stdout + r.stderr).lower(), r.stderr
    if via == "tls" and shutil.which("offlineimap"):
        matrix("offlineimap", "offlineimap3", refused, via)
        root = tmp_path / "offlineimap"
        root.mkdir()
        (root / "rc").write_text(
            "[general]\naccounts = a\nmetadata = %s/meta\n\n[Account a]\n"
            "localrepository = l\nremoterepository = r\n\n[Repository l]\n"
            "type = Maildir\nlocalfolders = %s/mail\n\n[Repository r]\n"
            "type = IMAP\nremotehost = localhost\nremoteport = %d\n"
            "remoteuser = %s\nremotepass = %s\nssl = yes\n"
            "sslcacertfile = %s\n" % (root, root, port, name, pw, wrong))
        r = run(["offlineimap", "-c", str(root / "rc"), "-o", "-u",
                 "basic"], root, timeout=20)
        assert r.returncode != 0 and "certificate verify failed" in \
            r.stdout + r.stderr, (r.stdout, r.stderr)
    with pytest.raises(ssl.SSLCertVerificationError):
        imap_via(proxy, via, wrong)
    matrix("Python imaplib", "libpython3.11-stdlib", refused, via)
    # nobody logged in
    assert proxied_sessions(proxy, name) == []
    assert "user=%s " % name not in proxy.log_text()


# ---------------------------------------------------------------------
# 8. IDLE: EXISTS within a second

IDLE_ROUNDS = 3


def idle_latencies(idler, appender, rounds=IDLE_ROUNDS):
    """IDLER: a RawClient with INBOX (one message) selected; APPENDER:
    a logged-in imaplib connection.  Appends ROUNDS messages and times
    each from the APPEND to the `* N EXISTS` at the idling client."""
    idler.send("i IDLE\r\n")
    assert idler.readline().startswith(b"+"), "no IDLE continuation"
    out = []
    for k in range(rounds):
        errors = []

        def append():
            try:
                typ, data = appender.append("INBOX", None, None,
                                            message("idle %d" % k))
                assert typ == "OK", data
            except Exception as e:      # asserted below
                errors.append(e)

        t = threading.Thread(target=append)
        t0 = time.monotonic()
        t.start()
        want = ("* %d EXISTS" % (k + 2)).encode()
        deadline = t0 + 5
        while idler.readline(timeout=max(0.01, deadline
                                         - time.monotonic())) != want:
            assert time.monotonic() < deadline, "no %r within 5 s" % want
        out.append(time.monotonic() - t0)
        t.join(10)
        assert not errors, errors
    idler.send("DONE\r\n")
    _u, tagged = idler.read_response("i")
    assert tagged.startswith("i OK"), tagged
    appender.logout()
    idler.close()
    return out


@pytest.mark.parametrize("via", VIAS)
def test_idle_exists_within_a_second(matrix, proxy, dovecot, new_user, pki,
                                     via):
    row = matrix("Python imaplib + socket", "libpython3.11-stdlib",
                 "IDLE: `* N EXISTS` after another session's APPEND, "
                 "< 1 s", via)
    ca = cafile(pki)
    ctx = client_ctx(ca)
    # the same, straight on Dovecot: what the back end itself takes
    name, pw = new_user()
    seed(dovecot, name, {"INBOX": [("idle first", ())]})
    c = RawClient(HOST, dovecot.port)
    login_ok(c, name, pw)
    assert c.cmd("SELECT INBOX", tag="s")[1].startswith("s OK")
    direct_lat = idle_latencies(c, dovecot.connect(name))
    name, pw = new_user()
    seed(dovecot, name, {"INBOX": [("idle first", ())]})
    if via == "tls":
        c = RawClient(HOST, proxy.ports["tls"], tls=True, ctx=ctx,
                      server_hostname="localhost")
    else:
        c = RawClient(HOST, proxy.ports["starttls"])
        c.starttls(ctx=ctx, server_hostname="localhost")
    login_ok(c, name, pw)
    u, t = c.cmd("SELECT INBOX", tag="s")
    assert t.startswith("s OK") and "* 1 EXISTS" in u, (u, t)
    a = imap_via(proxy, via, ca)
    assert a.login(name, pw)[0] == "OK"
    lat = idle_latencies(c, a)
    row["what"] += " (max %.0f ms; direct %.0f ms)" % (
        1000 * max(lat), 1000 * max(direct_lat))
    assert max(lat) < 1.0, "EXISTS after %s s through the proxy (%s s " \
        "direct)" % (["%.3f" % x for x in lat],
                     ["%.3f" % x for x in direct_lat])
    assert_proxied_over_tls(proxy, name, via, at_least=2,
                            password=pw)


# ---------------------------------------------------------------------
# 9. 5,000 folders: LIST and LSUB

TREE_TOP, TREE_CHILDREN = 50, 99        # 50 + 50 * 99 = 5,000 folders
TREE_USER = ("folders", "folders-pw-9Wd")


@pytest.fixture(scope="module")
def tree_store():
    """A Dovecot of its own for the big folder tree, without the mailbox
    list index: with it, the first LIST opens (and writes index files
    into) each of the 5,000 folders made behind Dovecot's back, 15-20 s
    here, and removing the tree afterwards takes as long again.  What
    the proxy relays, 5,001 LIST lines, is the same either way."""
    d = dv.Dovecot(users=dict([TREE_USER]), tls=False, name="tree",
                   list_index=False)
    d.start()
    yield d
    d.stop()


def tree_names():
    names = []
    for i in range(TREE_TOP):
        names.append("T%02d" % i)
        names += ["T%02d/c%03d" % (i, j) for j in range(1, TREE_CHILDREN + 1)]
    return names


def make_tree(dovecot, name, names):
    """Writes NAME's Maildir++ straight into Dovecot's mail folder, before
    NAME's first login: a directory for every folder in NAMES (Dovecot
    adds cur/ new/ tmp/ when a folder is opened), all subscribed."""
    mail = Path(dovecot.dir) / "mail"
    st = os.stat(mail)
    home = mail / name
    assert not home.exists(), "%s logged in before" % name
    made = [home] + [home / sub for sub in ("cur", "new", "tmp")]
    made += [home / ("." + box.replace("/", ".")) for box in names]
    for d in made:
        d.mkdir(mode=0o700)
    subs = home / "subscriptions"
    # Dovecot 2.3's format: a version line, then one name a line with
    # the hierarchy separator written as a tab
    subs.write_text("V\t2\n\n" + "".join(
        n.replace("/", "\t") + "\n" for n in ["INBOX"] + names))
    made.append(subs)
    if os.geteuid() == 0:
        for p in made:
            os.chown(p, st.st_uid, st.st_gid)


def list_and_lsub(m):
    typ, ldata = m.list('""', "*")
    assert typ == "OK", ldata
    typ, sdata = m.lsub('""', "*")
    assert typ == "OK", sdata
    m.logout()
    return parse_list(ldata), parse_list(sdata)


def test_5000_folders_list_lsub(matrix, make_proxy, tree_store, pki):
    rows = [matrix("Python imaplib", "libpython3.11-stdlib",
                   "LIST \"\" * and LSUB \"\" * of 5,000 subscribed "
                   "folders", via) for via in VIAS]
    ca = cafile(pki)
    name, pw = TREE_USER
    names = tree_names()
    assert len(names) == 5000
    t0 = time.monotonic()
    make_tree(tree_store, name, names)
    setup = time.monotonic() - t0
    assert setup < 15, "setting up the tree took %.1f s" % setup
    t0 = time.monotonic()
    lst, lsub = list_and_lsub(tree_store.connect(name))
    direct_time = time.monotonic() - t0
    # Dovecot sees the tree: every folder, INBOX, all subscribed
    assert {n for _f, _d, n in lst} == set(names) | {"INBOX"}
    assert {n for _f, _d, n in lsub} == set(names) | {"INBOX"}
    assert len(lst) == len(lsub) == 5001
    p = make_proxy(backends={"tree": store_backend(tree_store)})
    for row, via in zip(rows, VIAS):
        m = imap_via(p, via, ca)
        assert m.login(name, pw)[0] == "OK"
        t0 = time.monotonic()
        got_list, got_lsub = list_and_lsub(m)
        elapsed = time.monotonic() - t0
        assert got_list == lst, (via, len(got_list), len(lst),
                                 sorted(got_list ^ lst)[:10])
        assert got_lsub == lsub, (via, len(got_lsub), len(lsub),
                                  sorted(got_lsub ^ lsub)[:10])
        row["what"] += " (%.2f s; direct %.2f s)" % (elapsed, direct_time)
        assert elapsed < 5 + 3 * direct_time, (via, elapsed, direct_time)
    assert_proxied_over_tls(p, name, VIAS, at_least=len(VIAS), password=pw)
    assert {port for port, _b, _t in proxied_sessions(p, name)} == \
        {p.ports[via] for via in VIAS}


# ---------------------------------------------------------------------
# 10. a mailbox two users share (Dovecot's ACL plugin)

SHARED_USERS = dict(
    [("owner-%s" % v, "owner-pw-%s-3Lk" % v) for v in VIAS]
    + [("reader-%s" % v, "reader-pw-%s-8Jq" % v) for v in VIAS]
    + [("outsider", "outsider-pw-5Tz")])


@pytest.fixture(scope="module")
def shared_store():
    """A Dovecot of its own where users can share folders (SETACL; the
    other user finds them under shared/OWNER/)."""
    d = dv.Dovecot(users=SHARED_USERS, tls=False, shared=True,
                   name="shared", reuse_processes=True)
    d.start()
    yield d
    d.stop()


def shared_view(m, owner):
    """What a reader finds of OWNER's: the shared/ folders listed, and
    Team's messages.  M: logged in."""
    typ, data = m.list('""', "shared/*")
    assert typ == "OK", data
    listed = parse_list(data)
    typ, data = m.select(q("shared/%s/Team" % owner), readonly=True)
    assert typ == "OK", data
    msgs = fetch_all(m, "shared/%s/Team" % owner)
    m.logout()
    return listed, msgs


@pytest.mark.parametrize("via", VIAS)
def test_shared_mailbox_two_users(matrix, make_proxy, dovecot, shared_store,
                                  pki, via):
    matrix("Python imaplib", "libpython3.11-stdlib", "two users routed to "
           "one store; SETACL shares a folder; the other reads it", via)
    ca = cafile(pki)
    owner, reader = "owner-" + via, "reader-" + via
    p = make_proxy(backends={"main": store_backend(dovecot),
                             "shared": store_backend(shared_store)},
                   server={"default_backend": "main"}, start=False)
    (p.dir / "routes.map").write_text("%s shared\n%s shared\n"
                                      "outsider shared\n" % (owner, reader))
    p.server["routes"] = "routes.map"
    p.start()
    note = message("team note", body="Shared with the team.\r\n")
    o = imap_via(p, via, ca)
    assert o.login(owner, SHARED_USERS[owner])[0] == "OK"
    assert o.create("Team")[0] == "OK"
    assert o.append("Team", "(\\Flagged)", DEFAULT_DATE, note)[0] == "OK"

    def reader_sees_nothing(user):
        r = imap_via(p, via, ca)
        assert r.login(user, SHARED_USERS[user])[0] == "OK"
        typ, data = r.list('""', "shared/*")
        assert (typ, data) == ("OK", [None]), data
        typ, data = r.select(q("shared/%s/Team" % owner), readonly=True)
        assert typ == "NO", data
        r.logout()

    # not shared yet
    reader_sees_nothing(reader)
    typ, data = o.setacl("Team", reader, "lr")
    assert typ == "OK", data
    typ, data = o.getacl("Team")
    assert typ == "OK" and b" %s lr " % reader.encode() in data[0] + b" ", \
        data
    o.logout()
    r = imap_via(p, via, ca)
    assert r.login(reader, SHARED_USERS[reader])[0] == "OK"
    got = shared_view(r, owner)
    want = shared_view(shared_store.connect(reader), owner)
    assert got == want
    assert ("team note", ("\\Flagged",), note) in got[1], got[1]
    assert {n for _f, _d, n in got[0]} == {"shared/%s" % owner,
                                           "shared/%s/Team" % owner}
    # shared with the reader only
    reader_sees_nothing("outsider")
    # both went through the proxy over TLS, routed to the shared store
    for user in (owner, reader):
        assert_proxied_over_tls(p, user, via, backend="shared",
                                password=SHARED_USERS[user])
    # (the reader: twice through the proxy, once directly)
    assert wait_for(lambda: shared_store.login_counts()[reader] == 3), \
        shared_store.login_counts()
    assert shared_store.login_counts()[owner] == 1
