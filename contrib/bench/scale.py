#!/usr/bin/python3
"""Scale figures for imapproxyd: memory of many idle TLS sessions, and the
cost of a login as the number of sessions held open grows.

  contrib/bench/scale.py [--imapproxyd build/imapproxyd] [--out scale.jsonl]
                         [--steps 1000,5000] [--max-sessions 9000] [--quick]
  contrib/bench/scale.py --report scale.jsonl     # Markdown section "Scale"

Starts its own Dovecot store and imapproxyd in a temporary folder, on
127.0.0.1 only.  Phase 1 opens logged-in idle sessions over implicit TLS 1.3
in steps and reads the daemon's RSS and PSS (/proc/PID/smaps_rollup).
Phase 2, at each held level, runs a batch of fresh logins (connect, TLS,
LOGIN, LOGOUT) and reads the daemon's CPU per login (/proc/PID/stat).
Last, plaintext sessions are held by a fresh daemon, for comparison.
Writes one JSON object a measurement to --out, then prints the report.

Clients come from several generator processes, each holding a share from
its own source address (127.0.0.2, ...), because every process here is
limited to 20,000 open files and each source address to one ephemeral
port range.  Every loop is bounded by a count and a deadline; everything
started is stopped on exit, Ctrl-C included.
"""
import argparse
import asyncio
import collections
import hashlib
import json
import multiprocessing
import os
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
GIB_KIB = 1 << 20
EXTRAPOLATE_TO = 50000
TARGET_KIB = GIB_KIB            # the target: 50,000 sessions in 1 GiB
PASSWORD = "pw"
SERVER_NAME = "scale.localhost"
IP_BIND_ADDRESS_NO_PORT = 24    # linux/in.h; Python's socket module lacks it
SESSIONS_PER_HOLDER = 2500      # well under the 20,000 descriptors a process
OPEN_CONCURRENCY = 32           # logins in flight per holder while growing
OP_TIMEOUT = 20.0               # one connect + TLS + LOGIN (+ LOGOUT)
SETTLE_S = 2.0                  # after a step, before reading memory


class ImapError(Exception):
    pass


# ------------------------------------------------------------------ /proc

def daemon_memory_kib(pid):
    """{'rss': KiB, 'pss': KiB} of one process, all its threads."""
    found = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("Rss", "Pss"):
                found[key.lower()] = int(rest.split()[0])
    return found


def proc_stat(pid):
    """(ppid, CPU ticks of its own, CPU ticks of its reaped children), or
    None when the process is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2:].split()
    return (int(fields[1]), int(fields[11]) + int(fields[12]),
            int(fields[13]) + int(fields[14]))


def daemon_cpu_s(pid):
    """User plus system CPU seconds of a process, summed over its threads."""
    return proc_stat(pid)[1] / CLK_TCK


def tree_cpu_s(root):
    """CPU seconds of ROOT and its descendants, live or reaped: Dovecot
    spreads a login over its master, login, auth and imap processes."""
    stats, children = {}, collections.defaultdict(list)
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st:
                stats[int(name)] = st
                children[st[0]].append(int(name))
    ticks, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            ticks += stats[pid][1] + stats[pid][2]
            todo.extend(children[pid])
    return ticks / CLK_TCK


def machine_busy_s():
    """CPU seconds the whole machine has spent on anything but idling."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / CLK_TCK    # idle, iowait


class CpuMeter:
    """CPU of the daemon, of the store, of this whole run (both servers
    and every generator are our descendants) and of the machine: what the
    run does not account for is someone else's load."""

    def __init__(self, daemon_pid, store_pid):
        self.daemon_pid, self.store_pid = daemon_pid, store_pid

    def read(self):
        return (daemon_cpu_s(self.daemon_pid), tree_cpu_s(self.store_pid),
                tree_cpu_s(os.getpid()), machine_busy_s())


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


# ------------------------------------------------------- the IMAP client

def client_tls_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    # The certificate is a throwaway; the handshake's signature is still
    # computed and checked, which is the cost being measured.
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def connect(target, src_ip, ctx):
    """(reader, writer) from SRC_IP to TARGET, over TLS when CTX."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # Leave the port to connect(), which only needs it unique per
        # destination: bind() alone would use up the range at once.
        sock.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((src_ip, 0))
        sock.setblocking(False)
        await loop.sock_connect(sock, target)
    except BaseException:
        sock.close()
        raise
    return await asyncio.open_connection(
        sock=sock, ssl=ctx, server_hostname=SERVER_NAME if ctx else None)


async def read_tagged(reader, tag):
    """Read up to TAG's reply; raise unless it is OK."""
    while True:
        line = await reader.readline()
        if not line:
            raise ImapError("closed before %s's reply" % tag.decode())
        if line.startswith(tag + b" "):
            if line[len(tag) + 1:].startswith(b"OK"):
                return
            raise ImapError(line[:100].decode(errors="replace").strip())


async def open_logged_in(target, src_ip, ctx, user):
    """A session greeted and logged in as USER: (reader, writer)."""
    reader, writer = await connect(target, src_ip, ctx)
    try:
        greeting = await reader.readline()
        if not greeting.startswith(b"* OK"):
            raise ImapError("greeting %r" % greeting[:60])
        writer.write(b"a LOGIN %s %s\r\n" % (user.encode(),
                                             PASSWORD.encode()))
        await read_tagged(reader, b"a")
    except BaseException:
        writer.transport.abort()
        raise
    return reader, writer


async def login_logout(target, src_ip, ctx, user):
    reader, writer = await open_logged_in(target, src_ip, ctx, user)
    try:
        writer.write(b"b LOGOUT\r\n")
        await read_tagged(reader, b"b")
    finally:
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 2)
        except (OSError, ssl.SSLError, asyncio.TimeoutError):
            pass    # the server closes first; how the close ends is no error


def user_name(i, users):
    return "user%04d" % (i % users + 1)


def error_key(exc):
    return ("%s: %s" % (type(exc).__name__, exc))[:100]


def quiet_child():
    """Generators leave Ctrl-C to the parent, which stops them in order."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


# ---------------------------------------------- generator: held sessions

class Holder:
    """One generator process holding idle sessions from one source address.

    Driven over a pipe: ("open", first, count, users, timeout) opens
    more and answers with the count held; ("close",) closes them all and
    ends the process.
    """

    def __init__(self, pipe, target, src_ip, tls):
        self.pipe, self.target, self.src_ip = pipe, target, src_ip
        self.ctx = client_tls_context() if tls else None
        self.held = []

    async def serve(self):
        loop = asyncio.get_running_loop()
        while True:
            try:
                cmd = await loop.run_in_executor(None, self.pipe.recv)
            except EOFError:            # the parent is gone
                cmd = ("close",)
            if cmd[0] == "close":
                for _reader, writer in self.held:
                    writer.transport.abort()
                return
            self.pipe.send(await self.open(*cmd[1:]))

    async def open(self, first, count, users, timeout):
        sem = asyncio.Semaphore(OPEN_CONCURRENCY)
        errors = collections.Counter()

        async def one(i):
            async with sem:
                try:
                    self.held.append(await asyncio.wait_for(open_logged_in(
                        self.target, self.src_ip, self.ctx,
                        user_name(i, users)), OP_TIMEOUT))
                except Exception as e:      # counted; the step goes on
                    errors[error_key(e)] += 1

        before = len(self.held)
        tasks = [asyncio.create_task(one(i))
                 for i in range(first, first + count)]
        _done, pending = await asyncio.wait(tasks, timeout=timeout)
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        opened = len(self.held) - before
        if pending:
            errors["step deadline passed"] = len(pending)
        return {"held": len(self.held), "opened": opened,
                "failed": count - opened,
                "errors": dict(errors.most_common(3))}


def holder_main(pipe, target, src_ip, tls):
    quiet_child()
    asyncio.run(Holder(pipe, target, src_ip, tls).serve())


class HolderPool:
    """Several holders, so no process nears its descriptor limit."""

    def __init__(self, target, tls, max_sessions):
        self.procs, self.pipes = [], []
        self.held = 0
        for k in range(max(2, -(-max_sessions // SESSIONS_PER_HOLDER))):
            ours, theirs = multiprocessing.Pipe()
            p = multiprocessing.Process(
                target=holder_main, daemon=True,
                args=(theirs, target, "127.0.0.%d" % (2 + k), tls))
            p.start()
            self.procs.append(p)
            self.pipes.append(ours)

    def grow_to(self, total, users, timeout):
        """Open sessions until TOTAL are held; returns the step's summary."""
        want = total - self.held
        shares = [want // len(self.pipes) + (k < want % len(self.pipes))
                  for k in range(len(self.pipes))]
        first = self.held
        for pipe, share in zip(self.pipes, shares):
            pipe.send(("open", first, share, users, timeout))
            first += share
        replies = [recv_within(pipe, timeout + 30) for pipe in self.pipes]
        self.held = sum(r["held"] for r in replies)
        return {"opened": sum(r["opened"] for r in replies),
                "failed": sum(r["failed"] for r in replies),
                "errors": merge_errors(replies)}

    def close(self):
        for pipe in self.pipes:
            try:
                pipe.send(("close",))
            except OSError:
                pass
        stop_children(self.procs)
        self.held = 0


def recv_within(pipe, timeout):
    if not pipe.poll(timeout):
        raise RuntimeError("a generator gave no answer within %ds" % timeout)
    return pipe.recv()


def merge_errors(replies):
    total = collections.Counter()
    for r in replies:
        total.update(r["errors"])
    return dict(total.most_common(3))


def stop_children(procs):
    """Each has been told to stop, or has finished: a short wait, then
    signals (generators ignore SIGINT, so an interrupted run ends here)."""
    for p in procs:
        p.join(2)
        if p.is_alive():
            p.terminate()
            p.join(5)
        if p.is_alive():
            p.kill()
            p.join()


# ----------------------------------------------- generator: login batches

async def login_batch(target, src_ip, tls, first, count, concurrency,
                      users, deadline):
    ctx = client_tls_context() if tls else None
    todo = iter(range(first, first + count))
    errors, latencies = collections.Counter(), []

    async def worker():
        for i in todo:
            if time.monotonic() > deadline:
                return
            t0 = time.perf_counter()
            try:
                await asyncio.wait_for(login_logout(
                    target, src_ip, ctx, user_name(i, users)), OP_TIMEOUT)
                latencies.append(time.perf_counter() - t0)
            except Exception as e:
                errors[error_key(e)] += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"ok": len(latencies), "failed": count - len(latencies),
            "errors": dict(errors.most_common(3)), "latencies": latencies}


def login_batch_main(pipe, go, target, src_ip, tls, first, count,
                     concurrency, users, timeout):
    quiet_child()
    pipe.send("ready")
    if not go.wait(timeout):
        return
    deadline = time.monotonic() + timeout
    pipe.send(asyncio.run(login_batch(target, src_ip, tls, first, count,
                                      concurrency, users, deadline)))


def run_logins(target, tls, count, concurrency, users, timeout, meter=None,
               procs=2):
    """COUNT logins at CONCURRENCY from PROCS generator processes.

    Returns the counts, logins/s over the batch and, with a CpuMeter,
    the CPU per login of the daemon, the store and the clients.  The
    generators are ready before the clock starts, so process start-up is
    not counted.
    """
    go = multiprocessing.Event()
    kids, pipes = [], []
    for j in range(procs):
        ours, theirs = multiprocessing.Pipe()
        share = count // procs + (j < count % procs)
        p = multiprocessing.Process(
            target=login_batch_main, daemon=True,
            args=(theirs, go, target, "127.0.1.%d" % (1 + j), tls,
                  j * count, share, max(1, concurrency // procs), users,
                  timeout))
        p.start()
        kids.append(p)
        pipes.append(ours)
    try:
        for pipe in pipes:
            recv_within(pipe, 30)
        cpu0, t0 = meter.read() if meter else None, time.monotonic()
        go.set()
        parts = [recv_within(pipe, timeout + 30) for pipe in pipes]
        wall = time.monotonic() - t0
        time.sleep(0.2)       # let the daemon finish the last closes
        cpu1 = meter.read() if meter else None
    finally:
        stop_children(kids)
    summary = summarize_logins(parts, wall)
    if meter:
        summary.update(cpu_per_login(wall, cpu0, cpu1, summary["logins"]))
    return summary


def summarize_logins(parts, wall):
    ok = sum(p["ok"] for p in parts)
    lat = sorted(x for p in parts for x in p["latencies"])

    def ms(q):
        return round(lat[int(q * (len(lat) - 1))] * 1e3, 2) if lat else None

    return {"logins": ok, "failed": sum(p["failed"] for p in parts),
            "errors": merge_errors(parts), "wall_s": round(wall, 3),
            "logins_per_s": round(ok / wall, 1) if wall else None,
            "login_ms_p50": ms(0.5), "login_ms_p99": ms(0.99)}


def cpu_per_login(wall, cpu0, cpu1, ok):
    daemon, store, run, machine = (b - a for a, b in zip(cpu0, cpu1))
    other = machine - run
    per = (lambda s: round(s * 1e3 / ok, 3)) if ok else (lambda s: None)
    return {"cpu_ms_per_login": per(daemon),
            "store_cpu_ms_per_login": per(store),
            "client_cpu_ms_per_login": per(run - daemon - store),
            # other processes' share of the machine over the batch: high
            # means logins/s was squeezed by something else
            "other_cpu_pct": round(max(0.0, other) * 100 /
                                   (wall * os.cpu_count()), 1)}


# ------------------------------------------------------------- the servers

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_nofile():
    """preexec_fn: the soft descriptor limit up to the hard one."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def wait_greeting(port, timeout, proc):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("exited with status %d" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), 2) as s:
                if s.recv(256).startswith(b"* OK"):
                    return
        except OSError as e:
            last = e
        time.sleep(0.1)
    raise RuntimeError("no greeting on port %d: %s" % (port, last))


def stop_process(proc, grace=15):
    """SIGTERM, then SIGKILL to its whole process group (Dovecot's children
    included) if it is not gone within GRACE seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


DOVECOT_CONF = """\
# A loopback store for ~10,000 logged-in sessions (contrib/bench/scale.py).
base_dir = {dir}/run
state_dir = {dir}/state
instance_name = scale-{instance}
listen = 127.0.0.1
protocols = imap
ssl = no
log_path = {dir}/dovecot.log
info_log_path = /dev/null
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:~/Maildir
mail_fsync = never
# every session comes from the proxy's one address
mail_max_userip_connections = 100000
# anvil, auth, log and stats see one connection per login or imap
# process; mail processes serve a thousand sessions each, hence the size
default_client_limit = 20000
default_process_limit = 100
default_vsz_limit = 4G
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={dir}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  # high-performance mode: a logged-in connection moves to an imap
  # process, so these only hold logins in flight
  service_count = 0
  process_min_avail = 2
  client_limit = 4000
}}
service imap {{
  # a thousand sessions a process (Dovecot warns; fine for a store in the
  # page cache), so 10,000 sessions take ten processes, not 10,000
  service_count = 0
  client_limit = 1000
  process_limit = 30
}}
"""

IMAPPROXYD_CONF = """\
; imapproxyd for contrib/bench/scale.py: every per-client limit off, as
; every session comes from a handful of loopback addresses
[global]
workers = auto
log = {dir}/imapproxyd.log
log_level = warning
max_connections = 100000
shutdown_timeout = 5s

[server scale]
listen = 127.0.0.1:{plain_port}, 127.0.0.1:{tls_port} tls
tls_cert = {dir}/ec.crt {dir}/ec.key
idle_timeout = 2h
max_connections_per_ip = 0
max_connections_per_user = 0
auth_fail_limit = 0

[backend dovecot]
address = 127.0.0.1:{store_port}
forward_id = no
"""


class Lab:
    """The temporary folder, the Dovecot store and imapproxyd."""

    def __init__(self, imapproxyd, users, keep):
        self.imapproxyd, self.users, self.keep = imapproxyd, users, keep
        self.dir = tempfile.mkdtemp(prefix="scale-", dir="/tmp")
        # A copy: the build may be remade while the run goes on.
        self.imapproxyd = shutil.copy2(imapproxyd, self.dir)
        self.dovecot = self.daemon = None
        self.store_port = free_port()
        self.plain_port, self.tls_port = free_port(), free_port()

    def close(self):
        stop_process(self.daemon)
        stop_process(self.dovecot)
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def run_quiet(self, argv):
        r = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("%s: %s" % (" ".join(argv),
                                           r.stdout.decode().strip()))
        return r.stdout.decode()

    def make_cert(self):
        self.run_quiet([
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", "/CN=" + SERVER_NAME, "-keyout", self.dir + "/ec.key",
            "-out", self.dir + "/ec.crt"])

    def start_dovecot(self):
        mail = self.dir + "/mail"
        for sub in ("run", "state", "mail"):
            os.makedirs("%s/%s" % (self.dir, sub))
        os.chmod(self.dir, 0o755)
        uid, gid = 8, 8                     # Debian's "mail"
        os.chown(mail, uid, gid)
        with open(self.dir + "/passwd", "w") as f:
            for i in range(self.users):
                f.write("%s:{PLAIN}%s::::::\n" % (user_name(i, self.users),
                                                  PASSWORD))
        conf = self.dir + "/dovecot.conf"
        with open(conf, "w") as f:
            f.write(DOVECOT_CONF.format(dir=self.dir, port=self.store_port,
                                        uid=uid, gid=gid,
                                        instance=os.getpid()))
        self.dovecot = self.spawn(["dovecot", "-F", "-c", conf],
                                  "dovecot.stderr")
        wait_greeting(self.store_port, 20, self.dovecot)

    def start_daemon(self):
        conf = self.dir + "/imapproxy.conf"
        with open(conf, "w") as f:
            f.write(IMAPPROXYD_CONF.format(
                dir=self.dir, plain_port=self.plain_port,
                tls_port=self.tls_port, store_port=self.store_port))
        self.run_quiet([self.imapproxyd, "-t", "-c", conf])
        self.daemon = self.spawn([self.imapproxyd, "-f", "-c", conf],
                                 "imapproxyd.stderr")
        wait_greeting(self.plain_port, 10, self.daemon)
        return self.daemon.pid

    def restart_daemon(self):
        stop_process(self.daemon)
        return self.start_daemon()

    def spawn(self, argv, log):
        with open("%s/%s" % (self.dir, log), "ab") as out:
            # Own session: Ctrl-C reaches only this script, which then
            # stops the servers in order.
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=out,
                                    preexec_fn=raise_nofile,
                                    start_new_session=True)

    def daemon_alive(self):
        if self.daemon.poll() is not None:
            raise RuntimeError("imapproxyd exited with status %d; see %s" % (
                self.daemon.returncode, self.dir))


# ------------------------------------------------------------- the phases

class Results:
    def __init__(self, path):
        self.f = open(path, "w")
        self.records = []

    def write(self, record):
        self.records.append(record)
        self.f.write(json.dumps(record) + "\n")
        self.f.flush()
        print(json.dumps(record), file=sys.stderr)


def hold_record(pid, tls, sessions, base, step=None):
    mem = daemon_memory_kib(pid)
    rec = {"test": "scale_hold", "tls": "implicit" if tls else "none",
           "sessions": sessions, "rss_kib": mem["rss"],
           "pss_kib": mem["pss"], "fds": open_fds(pid),
           "per_session_rss_kib": None, "per_session_pss_kib": None}
    if base is not None and sessions:
        rec["per_session_rss_kib"] = round(
            (mem["rss"] - base["rss_kib"]) / sessions, 2)
        rec["per_session_pss_kib"] = round(
            (mem["pss"] - base["pss_kib"]) / sessions, 2)
    rec.update(step or {})
    return rec


def measure_tls(args, lab, pid, out):
    """Phases 1 and 2 over implicit TLS: hold in steps, logins at each."""
    target = ("127.0.0.1", lab.tls_port)
    meter = CpuMeter(pid, lab.dovecot.pid)

    def logins(held):
        r = run_logins(target, True, args.logins, args.concurrency,
                       args.users, args.step_timeout, meter)
        out.write(dict({"test": "scale_logins", "tls": "implicit",
                        "held": held, "concurrency": args.concurrency}, **r))

    # A first batch loads what every daemon loads once (TLS providers,
    # buffer pools, thread arenas): the base then holds no one-off costs.
    run_logins(target, True, args.concurrency * 4, args.concurrency,
               args.users, args.step_timeout)
    time.sleep(SETTLE_S)
    base = hold_record(pid, True, 0, None)
    out.write(base)
    logins(0)
    pool = HolderPool(target, True, max(args.steps))
    try:
        last = base
        for n in args.steps:
            t0 = time.monotonic()
            step = pool.grow_to(n, args.users, args.step_timeout)
            step["open_s"] = round(time.monotonic() - t0, 2)
            lab.daemon_alive()
            time.sleep(SETTLE_S)
            last = hold_record(pid, True, pool.held, base, step)
            out.write(last)
            if not pool.held:
                raise RuntimeError("no session could be held: %s" %
                                   step["errors"])
            logins(pool.held)
        out.write(extrapolate(base, last))
    finally:
        pool.close()


def measure_plaintext(args, lab, out):
    """Plaintext held sessions on a fresh daemon: what TLS adds."""
    pid = lab.restart_daemon()
    target = ("127.0.0.1", lab.plain_port)
    run_logins(target, False, args.concurrency * 4, args.concurrency,
               args.users, args.step_timeout)
    time.sleep(SETTLE_S)
    base = hold_record(pid, False, 0, None)
    out.write(base)
    pool = HolderPool(target, False, args.steps[-1])
    try:
        t0 = time.monotonic()
        step = pool.grow_to(args.steps[-1], args.users, args.step_timeout)
        step["open_s"] = round(time.monotonic() - t0, 2)
        lab.daemon_alive()
        time.sleep(SETTLE_S)
        out.write(hold_record(pid, False, pool.held, base, step))
    finally:
        pool.close()


def extrapolate(base, last):
    """Base plus EXTRAPOLATE_TO times the per-session cost at the largest
    step held: this machine cannot hold 50,000 in one process."""
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    rss = base["rss_kib"] + EXTRAPOLATE_TO * last["per_session_rss_kib"]
    pss = base["pss_kib"] + EXTRAPOLATE_TO * last["per_session_pss_kib"]
    return {"test": "scale_extrapolated", "sessions": EXTRAPOLATE_TO,
            "from_sessions": last["sessions"],
            "base_rss_kib": base["rss_kib"],
            "per_session_rss_kib": last["per_session_rss_kib"],
            "per_session_pss_kib": last["per_session_pss_kib"],
            "rss_kib": round(rss), "pss_kib": round(pss),
            "target_kib": TARGET_KIB, "within_target": rss < TARGET_KIB,
            "fds_needed": 2 * EXTRAPOLATE_TO, "fd_hard_limit": limit,
            "most_sessions_here": (limit - base["fds"]) // 2}


def setup_record(args, lab):
    version = lab.run_quiet([lab.imapproxyd, "-v"]).splitlines()[0]
    dovecot = lab.run_quiet(["dovecot", "--version"]).split()[0]
    with open(lab.imapproxyd, "rb") as f:
        binary = hashlib.sha256(f.read()).hexdigest()[:12]
    # proxy/ may be changing under the run: say which build was measured
    head = subprocess.run(
        ["git", "-C", os.path.dirname(args.imapproxyd), "rev-parse",
         "--short", "HEAD"], capture_output=True, text=True, timeout=10)
    return {"test": "scale_setup", "imapproxyd": version,
            "binary_sha256": binary, "git_head": head.stdout.strip() or None,
            "dovecot": dovecot, "cpus": os.cpu_count(),
            "fd_hard_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[1],
            "steps": args.steps, "logins": args.logins,
            "concurrency": args.concurrency, "users": args.users,
            "python_ssl": ssl.OPENSSL_VERSION}


def run(args):
    lab = Lab(args.imapproxyd, args.users, args.keep)
    out = Results(args.out)
    try:
        lab.make_cert()
        lab.start_dovecot()
        # Every user logs in once directly, so Dovecot has created each
        # home before anything is timed.
        warm = run_logins(("127.0.0.1", lab.store_port), False, args.users,
                          args.concurrency, args.users, args.step_timeout)
        if warm["failed"]:
            raise RuntimeError("Dovecot refused logins: %s" % warm["errors"])
        pid = lab.start_daemon()
        out.write(setup_record(args, lab))
        measure_tls(args, lab, pid, out)
        if not args.no_plaintext:
            measure_plaintext(args, lab, out)
    finally:
        out.f.close()
        lab.close()
        if args.keep:
            print("kept %s" % lab.dir, file=sys.stderr)
    return out.records


# ------------------------------------------------------------- the report

def mib(kib):
    return "%.1f" % (kib / 1024)


def report(records):
    """The Markdown section "Scale" for RECORDS (scale_* objects)."""
    by = collections.defaultdict(list)
    for r in records:
        by[r["test"]].append(r)
    setup = (by["scale_setup"] or [{}])[0]
    lines = ["## Scale", ""]
    lines += intro(setup)
    lines += hold_table(by["scale_hold"])
    lines += logins_table(by["scale_logins"])
    for x in by["scale_extrapolated"]:
        lines += extrapolation(x)
    return "\n".join(lines)


def intro(setup):
    return [
        "%s (build %s), `workers = auto` on %s CPUs, in front of a "
        "Dovecot %s store "
        "on loopback.  Clients log in over implicit TLS 1.3 (ECDSA P-256 "
        "certificate) and then stay idle (LOGIN, no SELECT, no IDLE), from "
        "several generator processes on the same machine.  Memory is the "
        "daemon's own (`/proc/PID/smaps_rollup`); per session is the "
        "growth over the base with no session held, divided by the "
        "sessions held, the base being taken after a first batch of "
        "logins." % (setup.get("imapproxyd", "imapproxyd"),
                     build_name(setup), setup.get("cpus", "?"),
                     setup.get("dovecot", "2.3")),
        ""]


def build_name(setup):
    """The commit the binary sits on (the tree may have had changes on
    top) and the binary's own hash."""
    return "`%s`, binary sha256 `%s`" % (setup.get("git_head") or "?",
                                         setup.get("binary_sha256", "?"))


def hold_table(rows):
    out = ["### Memory of idle logged-in sessions", "",
           "| sessions | listener | RSS MiB | PSS MiB | RSS KiB/session "
           "| PSS KiB/session | descriptors | failed | open s |",
           "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            "{:,}".format(r["sessions"]),
            "TLS" if r["tls"] == "implicit" else "plaintext",
            mib(r["rss_kib"]), mib(r["pss_kib"]),
            dash(r["per_session_rss_kib"]), dash(r["per_session_pss_kib"]),
            "{:,}".format(r["fds"]), dash(r.get("failed")),
            dash(r.get("open_s"))))
    return out + [""]


def logins_table(rows):
    if not rows:
        return []
    batch = "{:,}".format(rows[0]["logins"] + rows[0]["failed"])
    out = ["### Login cost as held sessions grow", "",
           "Each row: %s fresh logins (connect, TLS 1.3 handshake, LOGIN, "
           "LOGOUT) at concurrency %s from two generator processes, while "
           "`held` idle TLS sessions stay open.  Logins/s depends on the "
           "generators and Dovecot sharing the CPUs; daemon CPU per login is "
           "imapproxyd's alone, store CPU is Dovecot's (all its processes), "
           "and other load is the share of the machine used by processes "
           "outside the run during the batch."
           % (batch, rows[0]["concurrency"]),
           "",
           "| held | logins | failed | logins/s | daemon CPU ms/login "
           "| store CPU ms/login | login p50 ms | login p99 ms "
           "| other load % |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            "{:,}".format(r["held"]), "{:,}".format(r["logins"]),
            r["failed"], dash(r["logins_per_s"]), dash(r["cpu_ms_per_login"]),
            dash(r.get("store_cpu_ms_per_login")), dash(r["login_ms_p50"]),
            dash(r["login_ms_p99"]), dash(r.get("other_cpu_pct"))))
    first, last = rows[0], rows[-1]
    if first["cpu_ms_per_login"] and last["cpu_ms_per_login"]:
        out += ["", "With %s sessions held, a login costs the daemon %.2f "
                "times the CPU it costs with none held, and runs at %.2f "
                "times the rate." % (
                    "{:,}".format(last["held"]),
                    last["cpu_ms_per_login"] / first["cpu_ms_per_login"],
                    last["logins_per_s"] / first["logins_per_s"])]
    errors = [r["errors"] for r in rows if r["errors"]]
    if errors:
        out += ["", "Login errors: %s" % json.dumps(errors)]
    return out + [""]


def extrapolation(x):
    verdict = "within" if x["within_target"] else "over"
    return [
        "### 50,000 sessions (extrapolated)", "",
        "This machine allows at most %s open files per process (`ulimit "
        "-Hn`, which cannot be raised here), and a proxied session holds "
        "two descriptors, the client's and the back end's, so one "
        "imapproxyd can hold at most %s sessions here (fewer, to leave room "
        "for the login batches); %s would need %s.  "
        "The figure below is therefore extrapolated, not measured: the base "
        "plus %s times the per-session growth measured with %s held." % (
            "{:,}".format(x["fd_hard_limit"]),
            "{:,}".format(x["most_sessions_here"]),
            "{:,}".format(x["sessions"]), "{:,}".format(x["fds_needed"]),
            "{:,}".format(x["sessions"]), "{:,}".format(x["from_sessions"])),
        "",
        "| sessions | base RSS MiB | RSS KiB/session | RSS MiB "
        "| PSS MiB | target | |",
        "|---:|---:|---:|---:|---:|---:|---|",
        "| %s (extrapolated) | %s | %s | %s | %s | %s | %s |" % (
            "{:,}".format(x["sessions"]), mib(x["base_rss_kib"]),
            x["per_session_rss_kib"], mib(x["rss_kib"]), mib(x["pss_kib"]),
            "1 GiB" if x["target_kib"] == GIB_KIB else mib(x["target_kib"]),
            verdict), ""]


def dash(v):
    return "–" if v is None else str(v)


# ------------------------------------------------------------------- main

def parse_args(argv):
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    top = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    ap.add_argument("--imapproxyd", default=top + "/build/imapproxyd")
    ap.add_argument("--out", default="scale.jsonl")
    ap.add_argument("--report", metavar="FILE.jsonl",
                    help="print the Markdown section for FILE and exit")
    ap.add_argument("--steps", default="1000,5000",
                    help="sessions held at each step (max-sessions is "
                    "added as the last)")
    ap.add_argument("--max-sessions", type=int, default=9000,
                    help="the most held at once; 2 descriptors each in "
                    "one daemon limited to 20,000")
    ap.add_argument("--logins", type=int, default=2000,
                    help="fresh logins per batch")
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--step-timeout", type=float, default=120,
                    help="seconds for one step or one batch")
    ap.add_argument("--no-plaintext", action="store_true")
    ap.add_argument("--quick", action="store_true",
                    help="small sizes: 200 and 500 held, 300 logins")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary folder (configs, logs)")
    args = ap.parse_args(argv)
    if args.quick:
        args.steps, args.max_sessions = "200", 500
        args.logins, args.users = 300, 200
    steps = sorted({int(s) for s in args.steps.split(",") if s.strip()})
    args.steps = [s for s in steps if 0 < s < args.max_sessions]
    args.steps.append(args.max_sessions)
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.report:
        with open(args.report) as f:
            print(report([json.loads(line) for line in f if line.strip()]))
        return 0
    # SIGTERM unwinds like Ctrl-C, through run()'s cleanup.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t0 = time.monotonic()
    try:
        records = run(args)
    except KeyboardInterrupt:
        print("scale.py: interrupted; everything started is stopped",
              file=sys.stderr)
        return 130
    except (RuntimeError, OSError) as e:
        print("scale.py: %s" % e, file=sys.stderr)
        return 1
    print(report(records))
    print("\n(run took %.0f s)" % (time.monotonic() - t0), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
