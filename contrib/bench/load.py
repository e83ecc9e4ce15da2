#!/usr/bin/python3
"""IMAP load generator for proxy benchmarks (stdlib only: asyncio + ssl; the
latency test uses one blocking socket, see BlockingConn).

Every subcommand talks to one IMAP endpoint on loopback, measures, and prints ONE JSON
line on stdout (progress and errors go to stderr).  CPU and memory of the server under
test are read from /proc for the pids given with --pid (and all their descendants), so
the figures are per server, not per machine.

  load.py logins  --port 12993 --tls implicit --pid /tmp/imapbench/run/nginx.pid --sessions 2000 --concurrency 50
  load.py fetch   --port 12143 --pid 1234 --repeat 10
  load.py idle    --port 14993 --tls implicit --pid ... --sessions 2000 --hold 5
  load.py latency --port 13143 --pid ... --count 5000
  load.py warm    --port 11143 --users 200          # build dovecot indexes, fill page cache
  load.py settle  --port 13143 --pid ... --backend-pid ...   # wait until both are quiet

--pid takes pids or pid-file paths, comma separated and/or repeated; with none the CPU
and memory fields are null.  --backend-pid does the same for the store behind the proxy
(reported as backend_* fields, for context).  Every loop is bounded by a count and by
--deadline seconds; no traffic goes anywhere but --host, which must be a loopback address.
"""
import argparse
import asyncio
import ipaddress
import json
import os
import re
import resource
import socket
import ssl
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
STREAM_LIMIT = 4 << 20          # asyncio StreamReader buffer limit (pauses reading at 2x)


# ----------------------------------------------------------------------------- /proc

def resolve_pids(specs):
    """'123', '/path/file.pid', '1,2,/x.pid' (repeatable) -> [int]."""
    pids = []
    for spec in specs or []:
        for item in str(spec).split(","):
            item = item.strip()
            if not item or item == "-":
                continue
            if item.isdigit():
                pids.append(int(item))
            else:
                with open(item) as f:
                    pids.append(int(f.read().split()[0]))
    return pids


def _read_stat(pid):
    """-> (ppid, utime+stime+cutime+cstime ticks) or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2:].split()
    # fields[0] is field 3 (state): ppid=4, utime=14, stime=15, cutime=16, cstime=17
    return int(fields[1]), sum(int(x) for x in fields[11:15])


def process_tree(roots):
    """roots plus every live descendant."""
    if not roots:
        return []
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _read_stat(name)
            if st:
                children.setdefault(st[0], []).append(int(name))
    out, todo, seen = [], list(roots), set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


def cpu_seconds(roots):
    """CPU used so far by roots and descendants, live ones and reaped ones (cutime)."""
    if not roots:
        return None
    total = 0
    for p in process_tree(roots):
        st = _read_stat(p)
        if st:
            total += st[1]
    return total / CLK_TCK


def memory_kib(roots):
    """{'rss': KiB, 'pss': KiB or None, 'procs': n} summed over roots and descendants."""
    if not roots:
        return None
    rss = pss = 0
    have_pss = True
    procs = process_tree(roots)
    for p in procs:
        try:
            with open(f"/proc/{p}/statm") as f:
                rss += int(f.read().split()[1]) * PAGE_KIB
        except OSError:
            continue
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
                        break
        except OSError:
            have_pss = False
    return {"rss": rss, "pss": pss if have_pss else None, "procs": len(procs)}


def self_cpu():
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def delta(a, b):
    return None if a is None or b is None else b - a


def rnd(x, nd=3):
    return None if x is None else round(x, nd)


def pct(sorted_vals, q):
    if not sorted_vals:
        return None
    k = min(len(sorted_vals) - 1, max(0, int(round(q * (len(sorted_vals) - 1)))))
    return sorted_vals[k]


# ----------------------------------------------------------------------------- IMAP

class ImapError(Exception):
    pass


class Conn:
    """One IMAP connection: just enough protocol for the benchmark commands."""

    def __init__(self, reader, writer):
        self.r, self.w = reader, writer
        self.n = 0
        self.tls_info = None

    @classmethod
    async def open(cls, args, ctx):
        if args.tls == "implicit":
            r, w = await asyncio.open_connection(args.host, args.port, ssl=ctx, limit=STREAM_LIMIT,
                                                 server_hostname="imapbench.localhost")
        else:
            r, w = await asyncio.open_connection(args.host, args.port, limit=STREAM_LIMIT)
        c = cls(r, w)
        greeting = await c.r.readline()
        if not greeting.startswith(b"* OK"):
            raise ImapError(f"greeting: {greeting[:80]!r}")
        if args.tls == "starttls":
            await c.command(b"STARTTLS")
            await c.w.start_tls(ctx, server_hostname="imapbench.localhost")   # Python >= 3.11
        sslobj = c.w.get_extra_info("ssl_object")
        if sslobj is not None:
            c.tls_info = f"{sslobj.version()} {sslobj.cipher()[0]}"
        return c

    def send(self, cmd):
        self.n += 1
        tag = b"t%d" % self.n
        self.w.write(tag + b" " + cmd + b"\r\n")
        return tag

    async def tagged(self, tag, untagged=None):
        """Read up to the tagged reply; raise unless OK.  untagged(line) sees the rest."""
        while True:
            line = await self.r.readline()
            if not line:
                raise ImapError(f"{tag.decode()}: connection closed")
            if line.startswith(tag + b" "):
                if line[len(tag) + 1:len(tag) + 3] != b"OK":
                    raise ImapError(line[:120].decode(errors="replace").strip())
                return line
            if untagged:
                untagged(line)

    async def command(self, cmd, untagged=None):
        return await self.tagged(self.send(cmd), untagged)

    async def login(self, user, password):
        await self.command(b"LOGIN %s %s" % (user.encode(), password.encode()))

    async def logout(self):
        try:
            await self.command(b"LOGOUT")
        finally:
            await self.close()

    async def close(self):
        self.w.close()
        try:
            await asyncio.wait_for(self.w.wait_closed(), 2)
        except (asyncio.TimeoutError, OSError, ssl.SSLError, ConnectionError):
            pass


def user_name(i, users):
    return "user%04d" % (i % users + 1)


def client_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE        # the chain is not checked; handshake signatures still are
    return ctx


class Meter:
    """CPU of proxy, back end and this load generator over a measured interval."""

    def __init__(self, args):
        self.proxy = resolve_pids(args.pid)
        self.backend = resolve_pids(args.backend_pid)

    def start(self):
        self.t0 = time.perf_counter()
        self.p0, self.b0, self.s0 = cpu_seconds(self.proxy), cpu_seconds(self.backend), self_cpu()

    def stop(self):
        self.wall = time.perf_counter() - self.t0
        self.proxy_cpu = delta(self.p0, cpu_seconds(self.proxy))
        self.backend_cpu = delta(self.b0, cpu_seconds(self.backend))
        self.client_cpu = self_cpu() - self.s0


def per(x, n, scale=1.0):
    return None if x is None or not n else x * scale / n


def base_result(args, test):
    return {"test": test, "label": args.label, "host": args.host, "port": args.port, "tls": args.tls,
            "proxy_pids": resolve_pids(args.pid)}


class Errors:
    def __init__(self):
        self.count = 0
        self.samples = {}

    def add(self, exc):
        self.count += 1
        key = f"{type(exc).__name__}: {exc}"[:120]
        self.samples[key] = self.samples.get(key, 0) + 1

    def top(self, n=3):
        return dict(sorted(self.samples.items(), key=lambda kv: -kv[1])[:n])


# ----------------------------------------------------------------------------- logins

async def logins_worker_loop(args, first, count, concurrency, deadline):
    """Run sessions first..first+count-1 with at most `concurrency` at once."""
    ctx = client_ctx()
    errors, lat, tls_info = Errors(), [], []
    nxt = iter(range(first, first + count))

    async def one(i):
        t0 = time.perf_counter()
        c = await Conn.open(args, ctx)
        try:
            await c.login(user_name(i, args.users), args.password)
            lat.append(time.perf_counter() - t0)
            if c.tls_info and not tls_info:
                tls_info.append(c.tls_info)
        finally:
            await c.logout()

    async def worker():
        for i in nxt:
            if time.monotonic() > deadline:
                return
            try:
                await asyncio.wait_for(one(i), args.op_timeout)
            except Exception as e:          # counted, never fatal: the run must finish
                errors.add(e)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"ok": len(lat), "failed": errors.count, "errors": errors.samples,
            "lat": lat, "tls_info": tls_info[0] if tls_info else None}


def logins_child(args, first, count, concurrency, deadline_wall, wfd):
    deadline = time.monotonic() + (deadline_wall - time.time())
    res = asyncio.run(logins_worker_loop(args, first, count, concurrency, deadline))
    os.write(wfd, json.dumps(res).encode())
    os.close(wfd)


def cmd_logins(args):
    procs = max(1, min(args.procs, args.concurrency))
    meter = Meter(args)
    deadline_wall = time.time() + args.deadline
    shares = [args.sessions // procs + (1 if k < args.sessions % procs else 0) for k in range(procs)]
    conc = [args.concurrency // procs + (1 if k < args.concurrency % procs else 0) for k in range(procs)]
    meter.start()
    kids = []
    first = 0
    for k in range(procs):
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:                        # child: its own event loop, its share of sessions
            os.close(rfd)
            code = 0
            try:
                logins_child(args, first, shares[k], conc[k], deadline_wall, wfd)
            except BaseException as e:      # report, then leave without running parent code
                print(f"worker {k}: {e!r}", file=sys.stderr)
                code = 1
            os._exit(code)
        os.close(wfd)
        kids.append((pid, rfd))
        first += shares[k]
    parts = []
    for pid, rfd in kids:
        chunks = []
        while True:
            b = os.read(rfd, 1 << 16)
            if not b:
                break
            chunks.append(b)
        os.close(rfd)
        os.waitpid(pid, 0)
        if chunks:
            parts.append(json.loads(b"".join(chunks)))
    meter.stop()
    ok = sum(p["ok"] for p in parts)
    failed = sum(p["failed"] for p in parts) + (args.sessions - sum(p["ok"] + p["failed"] for p in parts))
    errs = {}
    for p in parts:
        for k, v in p["errors"].items():
            errs[k] = errs.get(k, 0) + v
    lat = sorted(x for p in parts for x in p["lat"])
    out = base_result(args, "logins")
    out.update({
        "sessions": args.sessions, "concurrency": args.concurrency, "procs": procs,
        "ok": ok, "failed": failed, "errors": dict(sorted(errs.items(), key=lambda kv: -kv[1])[:3]),
        "wall_s": rnd(meter.wall), "logins_per_s": rnd(ok / meter.wall, 1),
        "login_ms_p50": rnd(pct(lat, 0.5) * 1e3 if lat else None, 2),
        "login_ms_p99": rnd(pct(lat, 0.99) * 1e3 if lat else None, 2),
        "proxy_cpu_s": rnd(meter.proxy_cpu),
        "proxy_cpu_s_per_1000_logins": rnd(per(meter.proxy_cpu, ok, 1000)),
        "backend_cpu_s_per_1000_logins": rnd(per(meter.backend_cpu, ok, 1000)),
        "client_cpu_s_per_1000_logins": rnd(per(meter.client_cpu, ok, 1000)),
        "tls_info": next((p["tls_info"] for p in parts if p["tls_info"]), None),
    })
    return out


# ----------------------------------------------------------------------------- fetch

LITERAL_RE = re.compile(rb"\{(\d+)\}\r\n$")


async def fetch_body(c, seq):
    """FETCH seq BODY.PEEK[] and discard the literal; returns its size."""
    tag = c.send(b"FETCH %d BODY.PEEK[]" % seq)
    got = 0
    while True:
        line = await c.r.readline()
        if not line:
            raise ImapError("connection closed during FETCH")
        m = LITERAL_RE.search(line)
        if m:
            remaining = int(m.group(1))
            got += remaining
            while remaining:
                chunk = await c.r.read(min(remaining, STREAM_LIMIT))
                if not chunk:
                    raise ImapError("connection closed inside literal")
                remaining -= len(chunk)
            continue
        if line.startswith(tag + b" "):
            if b" OK" not in line[:len(tag) + 4]:
                raise ImapError(line[:120].decode(errors="replace"))
            return got


async def fetch_run(args):
    meter = Meter(args)
    c = await Conn.open(args, client_ctx())
    await c.login(args.user, args.password)
    sizes = {}

    def size_line(line):
        m = re.match(rb"\* (\d+) FETCH \(RFC822\.SIZE (\d+)\)", line)
        if m:
            sizes[int(m.group(1))] = int(m.group(2))

    await c.command(b"SELECT INBOX")
    await c.command(b"FETCH 1:* (RFC822.SIZE)", size_line)
    if not sizes:
        raise ImapError("empty INBOX")
    seq = max(sizes, key=sizes.get)
    for _ in range(args.warmup):
        await fetch_body(c, seq)
    deadline = time.monotonic() + args.deadline
    total, done, times = 0, 0, []
    meter.start()
    for _ in range(args.repeat):
        if time.monotonic() > deadline:
            break
        t = time.perf_counter()
        total += await fetch_body(c, seq)
        times.append(time.perf_counter() - t)
        done += 1
    meter.stop()
    tls_info = c.tls_info
    await c.logout()
    out = base_result(args, "fetch")
    gib = total / (1 << 30)
    out.update({
        "message_bytes": sizes[seq], "repeat": done, "bytes": total, "wall_s": rnd(meter.wall),
        "mb_per_s": rnd(total / 1e6 / meter.wall, 1),
        "best_mb_per_s": rnd(sizes[seq] / 1e6 / min(times), 1) if times else None,
        "proxy_cpu_s": rnd(meter.proxy_cpu),
        "proxy_cpu_s_per_gib": rnd(per(meter.proxy_cpu, gib)),
        "backend_cpu_s_per_gib": rnd(per(meter.backend_cpu, gib)),
        "client_cpu_s_per_gib": rnd(per(meter.client_cpu, gib)),
        "tls_info": tls_info,
    })
    return out


# ----------------------------------------------------------------------------- idle

async def idle_run(args):
    proxy, backend = resolve_pids(args.pid), resolve_pids(args.backend_pid)
    ctx = client_ctx()
    base_p, base_b = memory_kib(proxy), memory_kib(backend)
    deadline = time.monotonic() + args.deadline
    opening = asyncio.Semaphore(args.concurrency)
    release = asyncio.Event()
    idle_conns, errors, tls_info = [], Errors(), []

    async def session(i):
        async with opening:
            if time.monotonic() > deadline:
                return
            c = await asyncio.wait_for(Conn.open(args, ctx), args.op_timeout)
            try:
                async def enter():
                    await c.login(user_name(i, args.users), args.password)
                    await c.command(b"SELECT INBOX")
                    tag = c.send(b"IDLE")
                    while True:
                        line = await c.r.readline()
                        if not line or line.startswith(tag + b" "):
                            raise ImapError(f"IDLE refused: {line[:80]!r}")
                        if line.startswith(b"+"):
                            return tag
                tag = await asyncio.wait_for(enter(), args.op_timeout)
            except BaseException:
                await c.close()
                raise
        idle_conns.append(c)
        if c.tls_info and not tls_info:
            tls_info.append(c.tls_info)
        await release.wait()
        try:
            c.w.write(b"DONE\r\n")
            await asyncio.wait_for(c.tagged(tag), args.op_timeout)
            await asyncio.wait_for(c.logout(), args.op_timeout)
        except BaseException:
            await c.close()
            raise

    async def guarded(i):
        try:
            await session(i)
        except Exception as e:
            errors.add(e)

    t0 = time.perf_counter()
    tasks = [asyncio.create_task(guarded(i)) for i in range(args.sessions)]
    # wait until every session is idle or has failed, bounded by the deadline
    while time.monotonic() < deadline:
        if len(idle_conns) + errors.count >= args.sessions:
            break
        await asyncio.sleep(0.05)
    open_s = time.perf_counter() - t0
    n = len(idle_conns)
    await asyncio.sleep(min(1.0, args.hold))               # let buffers settle
    first_p = memory_kib(proxy)
    await asyncio.sleep(max(0.0, args.hold - 1.0))
    held_p, held_b = memory_kib(proxy), memory_kib(backend)
    release.set()
    t1 = time.perf_counter()
    done, pending = await asyncio.wait(tasks, timeout=max(10.0, args.op_timeout * 2))
    for t in pending:
        t.cancel()
    close_s = time.perf_counter() - t1

    def per_session(after, before, key):
        if after is None or before is None or after[key] is None or before[key] is None or not n:
            return None
        return round((after[key] - before[key]) / n, 1)

    out = base_result(args, "idle")
    out.update({
        "sessions": args.sessions, "idle_ok": n, "failed": args.sessions - n,
        "errors": errors.top(), "open_s": rnd(open_s), "close_s": rnd(close_s), "hold_s": args.hold,
        "proxy_baseline_kib": base_p, "proxy_held_kib": held_p,
        "rss_kib_per_session": per_session(held_p, base_p, "rss"),
        "pss_kib_per_session": per_session(held_p, base_p, "pss"),
        "rss_kib_per_session_at_1s": per_session(first_p, base_p, "rss"),
        "backend_rss_kib_per_session": per_session(held_b, base_b, "rss"),
        "backend_pss_kib_per_session": per_session(held_b, base_b, "pss"),
        "tls_info": tls_info[0] if tls_info else None,
    })
    return out


# ----------------------------------------------------------------------------- latency

class BlockingConn:
    """One IMAP connection on a blocking socket, for the latency test: with no
    event loop between the socket and the clock, a sample is the server's round
    trip plus one send and one receive, and the load generator's own jitter stays
    out of the p99 (an asyncio loop added ~60 us at p50 on this class of machine)."""

    def __init__(self, args):
        self.n = 0
        self.ctx = client_ctx()
        self.sock = socket.create_connection((args.host, args.port), timeout=args.op_timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if args.tls == "implicit":
            self._wrap()
        self.f = self.sock.makefile("rb")
        greeting = self.f.readline()
        if not greeting.startswith(b"* OK"):
            raise ImapError(f"greeting: {greeting[:80]!r}")
        if args.tls == "starttls":
            self.command(b"STARTTLS")
            self._wrap()                    # nothing is buffered: the server waits for us
            self.f = self.sock.makefile("rb")
        self.tls_info = None
        if isinstance(self.sock, ssl.SSLSocket):
            self.tls_info = f"{self.sock.version()} {self.sock.cipher()[0]}"

    def _wrap(self):
        self.sock = self.ctx.wrap_socket(self.sock, server_hostname="imapbench.localhost")

    def command(self, cmd):
        """Send one command, read up to its tagged reply; raise unless OK."""
        self.n += 1
        tag = b"t%d " % self.n
        self.sock.sendall(tag + cmd + b"\r\n")
        while True:
            line = self.f.readline()
            if not line:
                raise ImapError(f"{tag.decode()}: connection closed")
            if line.startswith(tag):
                if line[len(tag):len(tag) + 2] != b"OK":
                    raise ImapError(line[:120].decode(errors="replace").strip())
                return line

    def close(self):
        try:
            self.command(b"LOGOUT")
        except (OSError, ImapError):
            pass
        self.sock.close()


def latency_run(args):
    """N sequential NOOPs on one logged-in session; percentiles in microseconds."""
    meter = Meter(args)
    c = BlockingConn(args)
    try:
        c.command(b"LOGIN %s %s" % (args.user.encode(), args.password.encode()))
        for _ in range(args.warmup):
            c.command(b"NOOP")
        deadline = time.monotonic() + args.deadline
        samples = []
        meter.start()
        for _ in range(args.count):
            if time.monotonic() > deadline:
                break
            t = time.perf_counter_ns()
            c.command(b"NOOP")
            samples.append((time.perf_counter_ns() - t) / 1000)
        meter.stop()
    finally:
        c.close()
    samples.sort()
    out = base_result(args, "latency")
    out.update({
        "count": len(samples), "p50_us": rnd(pct(samples, 0.5), 1), "p90_us": rnd(pct(samples, 0.9), 1),
        "p99_us": rnd(pct(samples, 0.99), 1), "max_us": rnd(samples[-1] if samples else None, 1),
        "mean_us": rnd(sum(samples) / len(samples), 1) if samples else None,
        "proxy_cpu_us_per_noop": rnd(per(meter.proxy_cpu, len(samples), 1e6), 1),
        "tls_info": c.tls_info,
    })
    return out


# ----------------------------------------------------------------------------- warm

async def warm_run(args):
    """Log every user in once and SELECT INBOX, so dovecot's indexes exist before timing,
    and read the big message once so it is in the page cache."""
    ctx = client_ctx()
    errors = Errors()
    sem = asyncio.Semaphore(args.concurrency)
    deadline = time.monotonic() + args.deadline

    async def one(i):
        async with sem:
            if time.monotonic() > deadline:
                return
            try:
                c = await Conn.open(args, ctx)
                await c.login(user_name(i, args.users), args.password)
                await c.command(b"SELECT INBOX")
                await c.command(b"FETCH 1:* (FLAGS RFC822.SIZE)")
                if i == 0:
                    await fetch_body(c, 1 + args.small)
                await c.logout()
            except Exception as e:
                errors.add(e)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(args.users)))
    out = base_result(args, "warm")
    out.update({"users": args.users, "failed": errors.count, "errors": errors.top(),
                "wall_s": rnd(time.perf_counter() - t0)})
    return out


# ----------------------------------------------------------------------------- settle

def settle_run(args):
    """Wait until the servers are quiet: the teardown of the last test's sessions
    (Perdition reaps 2000 children after an idle test) must not land in the next
    test's window.  Quiet is both trees using under --quiet-cpu seconds of CPU in
    a --step interval with no change in their process count; bounded by --deadline."""
    roots = resolve_pids(args.pid) + resolve_pids(args.backend_pid)
    t0 = time.monotonic()
    quiet = not roots
    cpu, procs = cpu_seconds(roots), len(process_tree(roots))
    while not quiet and time.monotonic() - t0 < args.deadline:
        time.sleep(args.step)
        cpu2, procs2 = cpu_seconds(roots), len(process_tree(roots))
        quiet = cpu2 - cpu < args.quiet_cpu and procs2 == procs
        cpu, procs = cpu2, procs2
    out = base_result(args, "settle")
    out.update({"settle_s": rnd(time.monotonic() - t0), "quiet": quiet, "procs": procs})
    return out


# ----------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p):
        p.add_argument("--host", default="127.0.0.1", help="loopback address of the endpoint")
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--tls", choices=("none", "implicit", "starttls"), default="none")
        p.add_argument("--pid", action="append", default=[],
                       help="proxy pid or pid file (comma list, repeatable); empty: CPU/memory null")
        p.add_argument("--backend-pid", action="append", default=[],
                       help="back-end store pid or pid file, reported as backend_* for context")
        p.add_argument("--users", type=int, default=int(os.environ.get("USERS", 200)))
        p.add_argument("--user", default="user0001")
        p.add_argument("--password", default="pw")
        p.add_argument("--label", default=None, help="free text copied into the JSON")
        p.add_argument("--op-timeout", type=float, default=15.0, help="seconds per session step")
        p.add_argument("--deadline", type=float, default=120.0, help="hard bound on the whole test, seconds")
        return p

    p = common(sub.add_parser("logins", help="connect, (TLS), LOGIN, LOGOUT; M sessions, C at once"))
    p.add_argument("--sessions", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--procs", type=int, default=1, help="load-generator processes (split M and C)")
    p = common(sub.add_parser("fetch", help="one session FETCHes the biggest INBOX message R times"))
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--warmup", type=int, default=1)
    p = common(sub.add_parser("idle", help="K sessions LOGIN, SELECT, IDLE; memory per idle session"))
    p.add_argument("--sessions", type=int, default=2000)
    p.add_argument("--hold", type=float, default=5.0)
    p.add_argument("--concurrency", type=int, default=100, help="sessions being opened at once")
    p = common(sub.add_parser("latency", help="one session, N sequential NOOPs"))
    p.add_argument("--count", type=int, default=5000)
    p.add_argument("--warmup", type=int, default=200)
    p = common(sub.add_parser("warm", help="log every user in once (indexes, page cache)"))
    p.add_argument("--concurrency", type=int, default=20)
    p.add_argument("--small", type=int, default=int(os.environ.get("SMALL_MSGS", 20)))
    p = common(sub.add_parser("settle", help="wait until --pid and --backend-pid are quiet"))
    p.add_argument("--step", type=float, default=0.5, help="seconds between samples")
    p.add_argument("--quiet-cpu", type=float, default=0.02, help="CPU seconds per step that is quiet")
    args = ap.parse_args()

    try:
        if not ipaddress.ip_address(args.host).is_loopback:
            ap.error("--host must be a loopback address")
    except ValueError:
        ap.error("--host must be a literal loopback address")
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    except (ValueError, OSError):
        pass

    try:
        if args.cmd == "logins":
            out = cmd_logins(args)
        elif args.cmd == "latency":
            out = latency_run(args)         # blocking; bounded by --deadline and --count
        elif args.cmd == "settle":
            out = settle_run(args)          # bounded by --deadline
        else:
            fn = {"fetch": fetch_run, "idle": idle_run, "warm": warm_run}[args.cmd]
            out = asyncio.run(asyncio.wait_for(fn(args), args.deadline + 60))
    except Exception as e:
        out = base_result(args, args.cmd)
        out["error"] = f"{type(e).__name__}: {e}"
        print(json.dumps(out), flush=True)
        return 1
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
