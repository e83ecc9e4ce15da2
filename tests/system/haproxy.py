"""A real HAProxy in front of imapproxyd, for PROXY protocol tests.

HAProxy(tmp_path, frontends).start() writes a TCP-mode configuration
into TMP_PATH/haproxy, runs `haproxy -db -f CFG` (foreground, no
daemon, no chroot, no user switch) as a child process and waits until
it listens on every frontend.  stop() ends it (SIGTERM, then SIGKILL);
`with HAProxy(...) as hp:` does both.

Each frontend is a dict:
    bind        "HOST:PORT" HAProxy listens on ("[::1]:PORT" for IPv6;
                port 0 or no port: a free one, see .binds)
    server      "HOST:PORT" it forwards to (imapproxyd's listener)
    send_proxy  "v1" (send-proxy), "v2" (send-proxy-v2) or None
    ssl         True: HAProxy speaks TLS to the server, after the PROXY
                header, without verifying it (`ssl verify none`); leave
                it False to pass a client's own TLS through untouched
    sni         optional, with ssl: the server name HAProxy sends
    crt         optional: HAProxy terminates the client's TLS with this
                certificate, a PEM path (certificate then key) or a
                (cert, key) pair of paths

HAProxy runs no health checks, so the server sees only the connections
clients make.  Readiness is checked without connecting: a probe through
HAProxy would reach imapproxyd and show up in its logs and counters.
HAProxy logs one line per connection to its stderr (haproxy.stderr,
part of diagnostics()), never to syslog.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

try:
    from .dovecot import free_port
except ImportError:  # imported as a top-level module, as conftest does
    from dovecot import free_port

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"

SEND_PROXY = {None: "", "v1": " send-proxy", "v2": " send-proxy-v2"}


def split_addr(addr):
    """("HOST", PORT) of "HOST:PORT", "[V6]:PORT" or a bare host (port
    0)."""
    if addr.startswith("["):
        host, _, rest = addr[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else 0
    if addr.count(":") > 1:         # a bare IPv6 address
        return addr, 0
    host, _, port = addr.partition(":")
    return host, int(port or 0)


def join_addr(host, port):
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host,
                                                                  port)


def _proc_addr(hexaddr):
    """The packed address of a /proc/net/tcp{,6} field ("0100007F")."""
    raw = bytes.fromhex(hexaddr)
    # The kernel prints each 32-bit word in host (little-endian) order.
    return b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))


def _listening(pid, host, port):
    """True when process PID has a TCP socket listening on HOST:PORT
    (read from /proc/net/tcp{,6} and /proc/PID/fd; a HOST that is a
    name, not an address, matches any address)."""
    try:
        want = socket.inet_pton(socket.AF_INET6 if ":" in host
                                else socket.AF_INET, host)
    except OSError:
        want = None
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    addr, lport = fields[1].split(":")
                    if (fields[3] == "0A" and int(lport, 16) == port and
                            want in (None, _proc_addr(addr))):
                        inodes.add(fields[9])
        except OSError:
            pass
    if not inodes:
        return False
    fd_dir = "/proc/%d/fd" % pid
    try:
        fds = os.listdir(fd_dir)
    except OSError:
        return False
    for fd in fds:
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return True
    return False


class HAProxy:
    """One HAProxy process with its configuration in TMP_PATH/NAME."""

    def __init__(self, tmp_path, frontends, name="haproxy", maxconn=1024):
        self.dir = Path(tmp_path) / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cfg = self.dir / "haproxy.cfg"
        self.pidfile = self.dir / "haproxy.pid"
        self.stderr_path = self.dir / "haproxy.stderr"
        self.maxconn = maxconn
        self.frontends = [dict(fe) for fe in frontends]
        for i, fe in enumerate(self.frontends):
            unknown = set(fe) - {"bind", "server", "send_proxy", "ssl",
                                 "sni", "crt"}
            if unknown or "bind" not in fe or "server" not in fe:
                raise ValueError("frontend %d: need bind and server; "
                                 "unknown keys %s" % (i, sorted(unknown)))
            if fe.get("send_proxy") not in SEND_PROXY:
                raise ValueError("frontend %d: send_proxy must be v1, v2 "
                                 "or None, got %r" % (i, fe["send_proxy"]))
        self.binds = []             # (host, port) per frontend
        self.proc = None
        self.returncode = None

    # -- configuration -------------------------------------------------

    def _allocate(self):
        """Fill self.binds, picking free ports where none was given."""
        self.binds = []
        for fe in self.frontends:
            host, port = split_addr(fe["bind"])
            self.binds.append((host, port or free_port(host)))

    def _crt(self, i, crt):
        if isinstance(crt, (str, os.PathLike)):
            return str(crt)
        cert, key = crt
        pem = self.dir / ("fe%d.pem" % i)
        pem.write_bytes(Path(cert).read_bytes() + Path(key).read_bytes())
        os.chmod(pem, 0o600)
        return str(pem)

    def config_text(self):
        lines = [
            "# written by tests/system/haproxy.py",
            "global",
            "    maxconn %d" % self.maxconn,
            "    nbthread 1",
            # A port another process holds (imapproxyd binds with
            # SO_REUSEPORT too) must fail to bind, not be shared.
            "    noreuseport",
            "    pidfile %s" % self.pidfile,
            "    log stderr format raw local0 info",
            "",
            "defaults",
            "    mode tcp",
            "    log global",
            "    option tcplog",
            "    timeout connect 5s",
            "    timeout client 1m",
            "    timeout server 1m",
        ]
        for i, fe in enumerate(self.frontends):
            bind = join_addr(*self.binds[i])
            if fe.get("crt"):
                bind += " ssl crt %s" % self._crt(i, fe["crt"])
            server = "%s%s" % (fe["server"], SEND_PROXY[fe.get("send_proxy")])
            if fe.get("ssl"):
                server += " ssl verify none"
                if fe.get("sni"):
                    server += " sni str(%s)" % fe["sni"]
            lines += ["", "listen fe%d" % i,
                      "    bind %s" % bind,
                      "    server s%d %s" % (i, server)]
        return "\n".join(lines) + "\n"

    def write_config(self):
        self._allocate()
        self.cfg.write_text(self.config_text())

    def check(self):
        """Run `haproxy -c` on the configuration (written if need be);
        raise RuntimeError with its output when it is not valid."""
        if not self.binds:
            self.write_config()
        r = subprocess.run([HAPROXY, "-c", "-f", str(self.cfg)],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("haproxy -c failed (%d):\n%s%s" % (
                r.returncode, r.stdout, r.stderr))
        return r.stdout + r.stderr

    # -- life cycle ----------------------------------------------------

    def start(self, timeout=10.0):
        """Write the configuration, start HAProxy, wait until it listens
        on every frontend; returns self.  Raises RuntimeError with its
        stderr when it exits or does not listen within TIMEOUT."""
        auto = any(split_addr(fe["bind"])[1] == 0 for fe in self.frontends)
        for attempt in range(3):
            self.write_config()
            err = open(self.stderr_path, "ab")
            self.proc = subprocess.Popen(
                [HAPROXY, "-db", "-f", str(self.cfg)],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                cwd=str(self.dir))
            err.close()
            self.returncode = None
            try:
                self._wait_ready(timeout)
                return self
            except RuntimeError:
                lost_race = (self.proc.poll() is not None and auto and
                             "cannot bind" in self.stderr_text())
                self.stop()
                if lost_race and attempt < 2:
                    continue        # a free port was taken meanwhile
                raise

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        for host, port in self.binds:
            while not _listening(self.proc.pid, host, port):
                rc = self.proc.poll()
                if rc is not None:
                    raise RuntimeError("haproxy exited with %d\n%s"
                                       % (rc, self.diagnostics()))
                if time.monotonic() > deadline:
                    raise RuntimeError("haproxy does not listen on %s "
                                       "after %.0fs\n%s" % (
                                           join_addr(host, port), timeout,
                                           self.diagnostics()))
                time.sleep(0.02)

    def stop(self, timeout=5.0):
        """SIGTERM, then SIGKILL after TIMEOUT seconds; returns the exit
        status (None when never started).  Idempotent."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        self.returncode = self.proc.returncode
        return self.returncode

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid

    def address(self, i=0):
        """(host, port) clients connect to for frontend I."""
        return self.binds[i]

    def stderr_text(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def diagnostics(self):
        """The configuration and the tail of HAProxy's stderr."""
        cfg = self.cfg.read_text() if self.cfg.exists() else ""
        return "== haproxy.cfg ==\n%s== haproxy.stderr ==\n%s" % (
            cfg, self.stderr_text()[-4000:])

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
