"""A throwaway Dovecot for the system tests and the demo.

Dovecot(directory).start() writes a self-contained configuration into
DIRECTORY (base_dir, state_dir, maildirs, log, passwd-file), listens on
127.0.0.1 on free ports (plain IMAP and, with tls=True, imaps with a
self-signed certificate), runs `dovecot -F -c CONF` as a child process
and waits for its greeting.  stop() ends it.

Works as root (mail processes run as an unprivileged system user) and as
an ordinary user (Dovecot's "rootless" mode).
"""

import imaplib
import os
import pwd
import grp
import shutil
import signal
import socket
import subprocess
import tempfile
import time

try:
    from . import certs
except ImportError:  # imported as a top-level module (tests/demo.py)
    import certs

import collections

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


def free_port(host="127.0.0.1"):
    """A TCP port nobody listens on right now (bind port 0 and close)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_greeting(host, port, timeout=10.0, ssl_context=None,
                  prefix=b"* OK"):
    """Connect until HOST:PORT greets with PREFIX; return the greeting.

    Raises TimeoutError with the last failure when it does not within
    TIMEOUT seconds.
    """
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            s = socket.create_connection((host, port), timeout=2)
            try:
                if ssl_context is not None:
                    s = ssl_context.wrap_socket(s)
                buf = b""
                while b"\r\n" not in buf:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    buf += chunk
                if buf.startswith(prefix):
                    return buf.split(b"\r\n")[0].decode()
                last = "unexpected greeting %r" % buf
            finally:
                s.close()
        except OSError as e:
            last = repr(e)
        time.sleep(0.05)
    raise TimeoutError("no greeting from %s:%d: %s" % (host, port, last))


def _pick_mail_user():
    """(uid, gid, user, group) that mail processes should run as."""
    if os.geteuid() != 0:
        pw = pwd.getpwuid(os.geteuid())
        return pw.pw_uid, pw.pw_gid, pw.pw_name, grp.getgrgid(
            pw.pw_gid).gr_name
    for name in ("nobody", "dovenull"):
        try:
            pw = pwd.getpwnam(name)
            return pw.pw_uid, pw.pw_gid, name, grp.getgrgid(
                pw.pw_gid).gr_name
        except KeyError:
            continue
    raise RuntimeError("no unprivileged user for Dovecot's mail processes")


class Dovecot:
    """One Dovecot instance living in its own directory."""

    def __init__(self, directory=None, users=None, tls=True,
                 host="127.0.0.1", cert=None, name=None,
                 reuse_processes=False, oauth2=None, shared=False,
                 list_index=True):
        """DIRECTORY: where everything goes (a fresh temporary folder
        when None; keep it short: Unix socket paths live below it).
        USERS: {name: password}.  TLS: also listen for imaps.
        CERT: (cert, key) to use instead of a generated one.
        NAME: when given (an atom), a logged-in client's `ID` is
        answered with ("name" "Dovecot" "x-store" NAME): tests ask a
        session which instance it reached.
        REUSE_PROCESSES: imap-login and imap processes serve one
        connection after another instead of one each (service_count =
        0): a login costs a few milliseconds instead of tens, for tests
        that log in hundreds of times.
        OAUTH2: an OAuth 2.0 introspection URL (RFC 7662; Dovecot POSTs
        token=...): XOAUTH2 and OAUTHBEARER are offered too, checked by
        an oauth2 passdb that takes the user from "username" and wants
        "active": true.
        SHARED: mailboxes can be shared between users: the acl and
        imap_acl plugins (rights kept per folder, in dovecot-acl files;
        granted with SETACL) and a shared namespace, where another
        user's folder that grants you the right to see it is listed as
        shared/OWNER/FOLDER.
        LIST_INDEX: False turns Dovecot's mailbox list index off: LIST
        reads the folder tree from the directories alone, so the first
        LIST of a tree made outside Dovecot does not open every folder
        (5,000 folders: a few hundredths of a second instead of 15-20
        seconds on the test machines)."""
        self.owns_dir = directory is None
        self.dir = directory or tempfile.mkdtemp(prefix="dvc-")
        os.makedirs(self.dir, exist_ok=True)
        self.users = dict(users or {})
        self.tls = tls
        self.host = host
        self.port = None
        self.tls_port = None
        self.cert = cert
        self.name = name
        self.oauth2 = oauth2
        self.reuse_processes = reuse_processes
        self.shared = shared
        self.list_index = list_index
        self.proc = None
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.log = os.path.join(self.dir, "dovecot.log")
        self.passwd = os.path.join(self.dir, "passwd")
        self._mtime = 0

    # -- configuration -------------------------------------------------

    def _write_passwd(self):
        tmp = self.passwd + ".tmp"
        with open(tmp, "w") as f:
            for u, p in self.users.items():
                f.write("%s:{PLAIN}%s::::::\n" % (u, p))
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.passwd)

    def add_user(self, name, password):
        """Add (or change) a user.  On a running instance this takes a
        second: Dovecot looks at the passwd-file's mtime at most once a
        second; prefer passing every user to the constructor."""
        self.users[name] = password
        self._write_passwd()
        # passwd-file is reread when its mtime (in whole seconds) moves;
        # make it move on every change, even within one second.
        self._mtime = max(int(time.time()), self._mtime + 1)
        os.utime(self.passwd, (self._mtime, self._mtime))
        if self.proc is not None:
            time.sleep(1.1)

    def _write_config(self):
        uid, gid, user, group = _pick_mail_user()
        root = os.geteuid() == 0
        d = self.dir
        for sub in ("run", "state", "mail"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        # The whole tree must be reachable by the unprivileged processes
        # (auth reads the passwd-file, imap writes the maildirs).
        os.chmod(d, 0o755)
        os.chmod(os.path.join(d, "state"), 0o755)
        if root:
            os.chown(os.path.join(d, "mail"), uid, gid)
        self._write_passwd()
        if root:
            login_user, internal_user = "dovenull", "dovecot"
            try:
                pwd.getpwnam(login_user)
                pwd.getpwnam(internal_user)
            except KeyError:
                login_user = internal_user = user
        else:
            login_user = internal_user = user
        lines = [
            "# written by tests/system/dovecot.py",
            "protocols = imap",
            "listen = %s" % self.host,
            "base_dir = %s/run" % d,
            "state_dir = %s/state" % d,
            "instance_name = dvc-%d" % os.getpid(),
            "log_path = %s" % self.log,
            "info_log_path = %s" % self.log,
            "debug_log_path = %s" % self.log,
            "auth_verbose = yes",
            # tls=<...> is empty unless the connection is TLS: lets tests
            # see how the proxy reached the store.
            "login_log_format_elements = user=<%u> method=%m rip=%r "
            "lip=%l mpid=%e %c session=<%{session}> tls=<%k>",
            "default_login_user = %s" % login_user,
            "default_internal_user = %s" % internal_user,
            "default_internal_group = %s" % grp.getgrgid(
                pwd.getpwnam(internal_user).pw_gid).gr_name,
            "mail_uid = %d" % uid,
            "mail_gid = %d" % gid,
            "first_valid_uid = %d" % min(uid, 1),
            "first_valid_gid = %d" % min(gid, 1),
            "mail_location = maildir:%s/mail/%%u" % d,
            "disable_plaintext_auth = no",
            "auth_mechanisms = plain login",
            # Failed logins answer at once: tests try wrong passwords.
            "auth_failure_delay = 0",
            # The proxy connects from 127.0.0.1 and forwards the client's
            # address with ID x-originating-ip.
            "login_trusted_networks = 127.0.0.1/32",
            "passdb {",
            "  driver = passwd-file",
            "  args = scheme=PLAIN %s" % self.passwd,
            "}",
            "userdb {",
            "  driver = static",
            "  args = uid=%d gid=%d home=%s/mail/%%u" % (uid, gid, d),
            "}",
            "namespace inbox {",
            "  inbox = yes",
            "  separator = /",
            "  mailbox Drafts {",
            "    special_use = \\Drafts",
            "  }",
            "  mailbox Sent {",
            "    special_use = \\Sent",
            "  }",
            "}",
            # No process reuse limits: keeps a test's many logins fast.
            "service imap-login {",
            "  inet_listener imap {",
            "    address = %s" % self.host,
            "    port = %d" % self.port,
            "  }",
            "  inet_listener imaps {",
            "    address = %s" % self.host,
            "    port = %d" % (self.tls_port or 0),
            "    ssl = yes",
            "  }",
            "  process_min_avail = 1",
            "}",
            # No auth penalty: tests fail logins from 127.0.0.1 on
            # purpose and must not be slowed down for it.
            "service anvil {",
            "  unix_listener anvil-auth-penalty {",
            "    mode = 0",
            "  }",
            "}",
            "service stats {",
            "  unix_listener stats-reader {",
            "    mode = 0666",
            "  }",
            "  unix_listener stats-writer {",
            "    mode = 0666",
            "  }",
            "}",
            "ssl = %s" % ("yes" if self.tls else "no"),
            "mail_max_userip_connections = 1000",
            "imap_idle_notify_interval = 1 secs",
        ]
        if self.reuse_processes:
            lines += ["service imap-login {", "  service_count = 0", "}",
                      "service imap {", "  service_count = 0", "}"]
        if self.name is not None:
            lines.append("imap_id_send = name * x-store %s" % self.name)
        if self.oauth2 is not None:
            lines += self._oauth2_config()
        if self.shared:
            lines += self._shared_config()
        if not self.list_index:
            lines.append("mailbox_list_index = no")
        if self.tls:
            lines += [
                "ssl_cert = <%s" % self.cert[0],
                "ssl_key = <%s" % self.cert[1],
            ]
        if not root:
            # Rootless: nothing to chroot into or switch to.
            lines += ["service anvil {", "  chroot =", "}",
                      "service imap-login {", "  chroot =", "}"]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def _oauth2_config(self):
        """The oauth2 passdb's file, and the lines that use it (after
        the passwd-file passdb, which knows none of the OAuth users)."""
        ext = os.path.join(self.dir, "dovecot-oauth2.conf.ext")
        with open(ext, "w") as f:
            f.write("introspection_mode = post\n"
                    "introspection_url = %s\n"
                    "username_attribute = username\n"
                    "active_attribute = active\n"
                    "active_value = true\n" % self.oauth2)
        os.chmod(ext, 0o644)
        return ["auth_mechanisms = plain login xoauth2 oauthbearer",
                "passdb {",
                "  driver = oauth2",
                "  mechanisms = xoauth2 oauthbearer",
                "  args = %s" % ext,
                "}"]

    def _shared_config(self):
        """Lines for SHARED: acl plugins and the shared namespace.

        Which user shared what with whom is kept in a dict file inside
        mail/, where the mail processes (an unprivileged user) can
        write it."""
        d = self.dir
        return ["mail_plugins = $mail_plugins acl",
                "protocol imap {",
                "  mail_plugins = $mail_plugins imap_acl",
                "}",
                "plugin {",
                "  acl = vfile",
                "  acl_shared_dict = file:%s/mail/shared-mailboxes.db" % d,
                "}",
                "namespace shared {",
                "  type = shared",
                "  separator = /",
                # %%u: the owner's name, taken from the mailbox name
                "  prefix = shared/%%u/",
                "  location = maildir:%s/mail/%%%%u" % d,
                "  subscriptions = no",
                "  list = children",
                "}"]

    # -- life cycle ----------------------------------------------------

    def start(self, timeout=15.0, same_ports=False):
        """Write the configuration, start Dovecot, wait for greetings.

        SAME_PORTS: listen on the ports of the previous start (after
        halt(): a store coming back where the proxy expects it)."""
        if self.tls and self.cert is None:
            self.cert = certs.make_cert(
                os.path.join(self.dir, "tls"), "store.test",
                ["store.test", "localhost", "127.0.0.1"])
        if same_ports and self.port is None:
            raise RuntimeError("same_ports: never started")
        last = None
        for _attempt in range(3):
            if not same_ports:
                self.port = free_port(self.host)
                self.tls_port = free_port(self.host) if self.tls else None
            self._write_config()
            logf = open(os.path.join(self.dir, "dovecot.stderr"), "ab")
            self.proc = subprocess.Popen(
                [DOVECOT, "-F", "-c", self.conf],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                start_new_session=True)
            logf.close()
            try:
                wait_greeting(self.host, self.port, timeout=timeout,
                              prefix=b"* OK")
                return self
            except TimeoutError as e:
                last = e
                self._kill()
                if same_ports or not self._bind_race():
                    break
        raise RuntimeError("Dovecot did not start: %s\n%s" % (
            last, self.diagnostics()))

    def _bind_race(self):
        """True when the last failure looks like a lost port race."""
        text = self.diagnostics()
        return "Address already in use" in text

    def diagnostics(self):
        """The tail of Dovecot's logs, for error messages."""
        out = []
        for name in ("dovecot.stderr", "dovecot.log"):
            p = os.path.join(self.dir, name)
            try:
                with open(p, errors="replace") as f:
                    out.append("== %s ==\n%s" % (name, f.read()[-4000:]))
            except OSError:
                pass
        return "\n".join(out)

    def _kill(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None

    def halt(self):
        """Stop Dovecot (SIGTERM to its process group, so its sessions
        end too) and keep everything: restart() brings it back."""
        self._kill()

    def restart(self, timeout=15.0):
        """Start again after halt(), on the same ports, with the same
        users, log and maildirs."""
        return self.start(timeout=timeout, same_ports=True)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """Stop Dovecot; remove the directory when we created it."""
        self._kill()
        if self.owns_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- helpers -------------------------------------------------------

    def connect(self, user, password=None, timeout=30):
        """An imaplib connection logged in directly to Dovecot."""
        c = imaplib.IMAP4(self.host, self.port, timeout=timeout)
        c.login(user, password if password is not None else self.users[user])
        return c

    def append(self, user, message, mailbox="INBOX", flags=None):
        """Append MESSAGE (bytes) to USER's MAILBOX through IMAP."""
        c = self.connect(user)
        try:
            if mailbox.upper() != "INBOX":
                c.create(mailbox)
            typ, data = c.append(mailbox, flags, None, message)
            if typ != "OK":
                raise RuntimeError("APPEND failed: %r" % data)
        finally:
            c.logout()

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def login_lines(self, user):
        """Dovecot's imap-login "Login:" lines for USER."""
        return [l for l in self.log_text().splitlines()
                if "Login: user=<%s>" % user in l]

    def login_counts(self):
        """collections.Counter: user -> number of imap-login "Login:"
        lines in the log so far."""
        c = collections.Counter()
        for l in self.log_text().splitlines():
            i = l.find("Login: user=<")
            if i >= 0:
                j = l.find(">", i + 13)
                if j > 0:
                    c[l[i + 13:j]] += 1
        return c

    def who(self):
        """`doveadm who` against this instance: its lines (without the
        header), each split into fields."""
        r = subprocess.run(["doveadm", "-c", self.conf, "who"],
                           capture_output=True, text=True, timeout=10)
        if r.returncode != 0:
            raise RuntimeError("doveadm who failed (%d): %s"
                               % (r.returncode, r.stderr))
        return [l.split() for l in r.stdout.splitlines()[1:] if l.strip()]

    def holds(self, user, text, mailbox="INBOX"):
        """Number of messages in USER's MAILBOX whose Subject contains
        TEXT (a logged-in look of our own, straight to this store)."""
        c = self.connect(user)
        try:
            typ, data = c.select(mailbox, readonly=True)
            if typ != "OK":
                raise RuntimeError("SELECT failed: %r" % data)
            typ, data = c.search(None, "SUBJECT", '"%s"' % text)
            if typ != "OK":
                raise RuntimeError("SEARCH failed: %r" % data)
            return len(data[0].split())
        finally:
            c.logout()

    def count(self, user, mailbox="INBOX"):
        """Number of messages in USER's MAILBOX."""
        c = self.connect(user)
        try:
            typ, data = c.select(mailbox, readonly=True)
            if typ != "OK":
                raise RuntimeError("SELECT failed: %r" % data)
            return int(data[0])
        finally:
            c.logout()


def sample_message(subject="test", body="hello\r\n", sender="a@example.org",
                   to="b@example.org"):
    """A small RFC 5322 message as bytes, CRLF line ends."""
    text = ("From: %s\r\nTo: %s\r\nSubject: %s\r\n"
            "Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
            "Message-ID: <%s@test>\r\n\r\n%s") % (
                sender, to, subject, subject.replace(" ", "."), body)
    return text.encode()
