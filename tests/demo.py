#!/usr/bin/python3
"""`make demo`: imapproxyd in front of a throwaway Dovecot, in the
foreground, until Ctrl-C.

Creates a temporary folder with a self-signed certificate, a Dovecot
store on loopback with demo users (alice, bob) and a few messages, and
an imapproxy.conf with implicit TLS on 127.0.0.1:10993 and STARTTLS on
127.0.0.1:10143 (free ports instead when those are taken); prints how to
connect, runs build/imapproxyd -f, and cleans everything up afterwards.

  --self-test   run the printed curl command against the demo, then stop
                (exit 0 when it listed alice's INBOX)
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE / "system"))

import certs  # noqa: E402
import dovecot as dv  # noqa: E402

DAEMON = REPO / "build" / "imapproxyd"
CTL = REPO / "build" / "imapproxyctl"
USERS = {"alice": "alice-demo-pw", "bob": "bob-demo-pw"}
HOST = "127.0.0.1"


def port_or_free(preferred):
    """PREFERRED when nothing uses it on 127.0.0.1, else a free port."""
    with socket.socket() as s:
        try:
            s.bind((HOST, preferred))
            return preferred
        except OSError:
            return dv.free_port(HOST)


def demo_messages():
    return [
        ("alice", dv.sample_message(
            "Welcome to the imapproxy demo", sender="bob@example.org",
            to="alice@example.org",
            body="Hi Alice,\r\n\r\nthis message was fetched through "
                 "imapproxy.\r\n\r\nBob\r\n")),
        ("alice", dv.sample_message(
            "Lunch?", sender="carol@example.org", to="alice@example.org",
            body="Noon at the usual place?\r\n")),
        ("bob", dv.sample_message(
            "Hello Bob", sender="alice@example.org", to="bob@example.org",
            body="Just saying hi.\r\n")),
    ]


def write_config(path, tls_port, starttls_port, cert, key, store):
    path.write_text(
        "; written by tests/demo.py\n"
        "[global]\n"
        "workers = 2\n"
        "log = stderr\n"
        "log_level = info\n"
        "shutdown_timeout = 5s\n"
        "stats_socket = %s\n"
        "\n"
        "[server default]\n"
        "listen = %s:%d tls, %s:%d starttls\n"
        "tls_cert = %s %s\n"
        "require_tls = yes\n"
        "greeting = imapproxy demo ready\n"
        "\n"
        "[backend store]\n"
        "address = %s:%d\n"
        "tls = no\n"
        "connect_timeout = 5s\n"
        % (path.parent / "stats.sock", HOST, tls_port, HOST, starttls_port,
           cert, key, store.host, store.port))


def wait_proxy(proc, tls_port, starttls_port, timeout=10):
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + timeout
    for port, c in ((tls_port, ctx), (starttls_port, None)):
        while True:
            if proc.poll() is not None:
                raise RuntimeError("imapproxyd exited with status %d"
                                   % proc.returncode)
            try:
                dv.wait_greeting(HOST, port, timeout=0.5, ssl_context=c)
                break
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise RuntimeError("imapproxyd did not greet on %d"
                                       % port)


def instructions(tls_port, starttls_port, cert, store, stats):
    u, p = "alice", USERS["alice"]
    return "\n".join([
        "",
        "imapproxy demo",
        "  store:  Dovecot on %s:%d (plaintext, behind the proxy)"
        % (store.host, store.port),
        "  users:  alice / %s (2 messages), bob / %s (1 message)"
        % (USERS["alice"], USERS["bob"]),
        "  proxy:  imaps on %s:%d, imap with STARTTLS on %s:%d"
        % (HOST, tls_port, HOST, starttls_port),
        "  cert:   %s (self-signed; names localhost, 127.0.0.1)" % cert,
        "",
        "Try, in another terminal:",
        "  curl -k --user %s:%s imaps://%s:%d/INBOX" % (u, p, HOST, tls_port),
        "  curl -k --user %s:%s 'imaps://%s:%d/INBOX/;MAILINDEX=1'"
        % (u, p, HOST, tls_port),
        "  curl --cacert %s --user %s:%s imaps://%s:%d/"
        % (cert, u, p, HOST, tls_port),
        "  openssl s_client -connect %s:%d -crlf -quiet" % (HOST, tls_port),
        "  openssl s_client -connect %s:%d -starttls imap -crlf -quiet"
        % (HOST, starttls_port),
        "    then type:  a LOGIN %s %s" % (u, p),
        "                b SELECT INBOX",
        "                c FETCH 1 BODY[]",
        "                d LOGOUT",
        "",
        "Who is connected, and the back end:",
        "  %s -s %s who" % (CTL, stats),
        "  %s -s %s backends" % (CTL, stats),
        "",
        "Ctrl-C stops the proxy and the store and removes %s."
        % os.path.dirname(os.path.dirname(cert)),
        "",
    ])


def self_test(tls_port):
    """Run the first printed curl line; True when it lists INBOX."""
    r = subprocess.run(["curl", "-sS", "--max-time", "10", "-k", "--user",
                        "alice:" + USERS["alice"],
                        "imaps://%s:%d/INBOX" % (HOST, tls_port)],
                       capture_output=True, text=True, timeout=20)
    print("self-test: curl exit %d: %s%s" % (r.returncode, r.stdout,
                                             r.stderr), flush=True)
    r2 = subprocess.run(["curl", "-sS", "--max-time", "10", "-k", "--user",
                         "alice:" + USERS["alice"],
                         "imaps://%s:%d/INBOX/;MAILINDEX=1"
                         % (HOST, tls_port)],
                        capture_output=True, text=True, timeout=20)
    print("self-test: fetch exit %d" % r2.returncode, flush=True)
    return (r.returncode == 0 and "INBOX" in r.stdout and
            r2.returncode == 0 and "imapproxy demo" in r2.stdout)


signalled = []


def stop_on_signal(signum, frame):
    """SIGTERM or SIGHUP (timeout, a closed terminal) cleans up as
    Ctrl-C does, so no Dovecot or temporary folder is left behind."""
    signalled.append(signum)
    raise KeyboardInterrupt


def main():
    selftest = "--self-test" in sys.argv[1:]
    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGHUP, stop_on_signal)
    if not DAEMON.exists():
        sys.exit("demo: %s is missing; run make first" % DAEMON)
    tmp = Path(tempfile.mkdtemp(prefix="imapproxy-demo-"))
    os.chmod(tmp, 0o755)
    store = None
    proc = None
    status = 0
    try:
        cert, key = certs.make_cert(str(tmp / "tls"), "localhost",
                                    ["localhost", HOST])
        store = dv.Dovecot(directory=str(tmp / "store"), users=USERS,
                           tls=False)
        store.start()
        for user, msg in demo_messages():
            store.append(user, msg)
        tls_port = port_or_free(10993)
        starttls_port = port_or_free(10143)
        if starttls_port == tls_port:
            starttls_port = dv.free_port(HOST)
        conf = tmp / "imapproxy.conf"
        write_config(conf, tls_port, starttls_port, cert, key, store)
        # Same process group: Ctrl-C reaches imapproxyd, which says BYE
        # to its sessions and exits; Dovecot runs in its own session.
        proc = subprocess.Popen([str(DAEMON), "-f", "-c", str(conf)],
                                stdin=subprocess.DEVNULL)
        wait_proxy(proc, tls_port, starttls_port)
        print(instructions(tls_port, starttls_port, cert, store,
                           tmp / "stats.sock"),
              flush=True)
        if selftest:
            ok = self_test(tls_port)
            proc.send_signal(signal.SIGTERM)
            status = proc.wait(timeout=15)
            if not ok:
                status = status or 1
        else:
            while True:
                try:
                    status = proc.wait()
                    break
                except KeyboardInterrupt:
                    # After Ctrl-C imapproxyd got the SIGINT too; a
                    # signal sent to us alone is passed on.
                    if signalled:
                        proc.send_signal(signal.SIGTERM)
                    continue
    except KeyboardInterrupt:
        pass
    except Exception as e:      # pragma: no cover - shown to the user
        print("demo: %s" % e, file=sys.stderr)
        if store is not None and store.proc is None:
            print(store.diagnostics(), file=sys.stderr)
        status = 1
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if store is not None:
            store.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("demo: stopped, %s removed" % tmp)
    sys.exit(status if status >= 0 else 0)


if __name__ == "__main__":
    main()
