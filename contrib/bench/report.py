#!/usr/bin/python3
"""Turn a run's JSON lines into the Markdown report.

  report.py RUN.jsonl [--section TITLE FILE]...

Prints what ran (meta), the targets table (figures.py: one row per figure, a
column per server, imapproxyd's ratio to the peer and PASS/FAIL), the same
figures over STARTTLS, the full per-target tables, then each --section FILE
under its TITLE, verbatim (run.sh adds make bench-acl, bench-routes, scale).
"""
import argparse
import os

import figures as fg


def fmt(v, nd=1):
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def print_meta(meta):
    if not meta:
        return
    v = meta.get("versions", {})
    quick = " — **BENCH_QUICK: plumbing check, figures not meaningful**" if meta.get("quick") else ""
    print(f"Run {meta['date']}{quick}.  ")
    print(f"Kernel {meta['kernel']}, {meta['cpus']} CPUs, python {meta['python']}, "
          f"certificate {meta['cert']}.  ")
    print(f"imapproxyd {v.get('imapproxyd')}; dovecot {v.get('dovecot-imapd')}, nginx {v.get('nginx')}, "
          f"perdition {v.get('perdition')}, haproxy {v.get('haproxy')}, openssl {v.get('openssl')}.  ")
    print(f"Sizes: logins {meta['login_sessions']} sessions, {meta['login_concurrency']} at once; "
          f"fetch {meta['fetch_repeat']} x {meta.get('big_msg_mib', 32)} MiB; "
          f"idle {meta['idle_sessions']} sessions held {meta['idle_hold']} s; "
          f"{meta['noop_count']} NOOPs; {meta['users']} users.\n")


def cell(run, fig, col):
    """One server's figure; '(!)' if its test had failures."""
    label = col.label(fig.mode)
    v = fg.value(run, fig, label)
    if v is None:
        return "—"
    text = fmt(float(v), fig.digits)
    if fig.added is not None and label == fig.peer:
        text = f"0 (p99 {fmt(float(fg.raw(run, fig, label)), 0)})"
    return text + (" (!)" if fg.troubled(run, fig, label) else "")


def print_figures(run, figs, with_verdict):
    ours = [c for c in fg.COLUMNS if c.ours]
    head = ["figure", "unit", "target"] + [c.heading for c in fg.COLUMNS]
    if with_verdict:
        head += [f"{c.heading} vs target" for c in ours]
    print("| " + " | ".join(head) + " |")
    print("|---|---|---|" + "---:|" * (len(head) - 3))
    for fig in figs:
        cells = [fig.title, fig.unit, fig.target_text()]
        cells += [cell(run, fig, c) for c in fg.COLUMNS]
        if with_verdict:
            cells += [fg.verdict(run, fig, c.label(fig.mode))[0] for c in ours]
        print("| " + " | ".join(cells) + " |")


def print_targets(run):
    print("## Targets\n")
    print("Each target is a ratio to the peer measured in this run (lower is better). "
          "Plaintext rows are the `none` targets, TLS rows the implicit-TLS ones. "
          "CPU is the server's own (all its processes, from /proc) over the test; "
          "memory is PSS added per idle logged-in session over a freshly started server; "
          "the direct column is Dovecot's own cost, for scale. "
          "(!) marks a figure whose test had failures: see the tables below.\n")
    print_figures(run, fg.FIGURES, True)
    verdicts = [fg.verdict(run, f, c.label(f.mode))[1] for f in fg.FIGURES
                for c in fg.COLUMNS if c.ours]
    print(f"\n{verdicts.count(True)} PASS, {verdicts.count(False)} FAIL, "
          f"{verdicts.count(None)} not measured.\n")
    print("Over STARTTLS (no target: HAProxy cannot serve it):\n")
    print_figures(run, fg.STARTTLS_FIGURES, False)
    print()


def print_full(run):
    def g(label, test, key):
        r = run.rows[label].get(test)
        return None if r is None else r.get(key)

    print("## Every target\n")
    print("| target | TLS | logins/s | proxy CPU ms/login | fetch MB/s | proxy CPU s/GiB "
          "| idle KiB/session RSS | idle KiB/session PSS | NOOP p50 µs | NOOP p99 µs |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label in run.order:
        name, tls = label.split("/", 1)
        print("| " + " | ".join([
            name, tls,
            fmt(g(label, "logins", "logins_per_s"), 0),
            fmt(g(label, "logins", "proxy_cpu_s_per_1000_logins"), 3),
            fmt(g(label, "fetch", "mb_per_s"), 0),
            fmt(g(label, "fetch", "proxy_cpu_s_per_gib"), 2),
            fmt(g(label, "idle", "rss_kib_per_session"), 1),
            fmt(g(label, "idle", "pss_kib_per_session"), 1),
            fmt(g(label, "latency", "p50_us"), 0),
            fmt(g(label, "latency", "p99_us"), 0),
        ]) + " |")

    print("\nContext (same run): where the rest of the CPU went, failures, what was negotiated. "
          "Logins/s and MB/s share two cores with the load generator; compare them within a run only.\n")
    print("| target | TLS | login fails | idle ok/asked | dovecot CPU ms/login | load-gen CPU ms/login "
          "| login p50/p99 ms | dovecot CPU s/GiB | load-gen CPU s/GiB | dovecot PSS KiB/idle session "
          "| proxy procs idle | TLS |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for label in run.order:
        name, tls = label.split("/", 1)
        idle = run.rows[label].get("idle") or {}
        held = idle.get("proxy_held_kib") or {}
        tlsinfo = next((run.rows[label][t].get("tls_info") for t in ("logins", "fetch", "idle", "latency")
                        if run.rows[label].get(t) and run.rows[label][t].get("tls_info")), None)
        errs = [r.get("error") for r in run.rows[label].values() if r.get("error")]
        print("| " + " | ".join([
            name, tls,
            fmt(g(label, "logins", "failed")),
            f"{fmt(idle.get('idle_ok'))}/{fmt(idle.get('sessions'))}",
            fmt(g(label, "logins", "backend_cpu_s_per_1000_logins"), 3),
            fmt(g(label, "logins", "client_cpu_s_per_1000_logins"), 3),
            f"{fmt(g(label, 'logins', 'login_ms_p50'), 1)}/{fmt(g(label, 'logins', 'login_ms_p99'), 1)}",
            fmt(g(label, "fetch", "backend_cpu_s_per_gib"), 2),
            fmt(g(label, "fetch", "client_cpu_s_per_gib"), 2),
            fmt(idle.get("backend_pss_kib_per_session"), 1),
            fmt(held.get("procs")),
            (tlsinfo or "—") + (f" ERROR: {'; '.join(errs)}" if errs else ""),
        ]) + " |")
    print()


def print_section(title, path):
    """A file another benchmark wrote, under TITLE unless it brings its own
    heading; a missing or empty file says so rather than vanishing."""
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError as e:
        text = f"(not available: {e.strerror})"
    if not text.startswith("#"):
        print(f"## {title}\n")
    print((text or "(no output)") + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", metavar="RUN.jsonl")
    ap.add_argument("--section", nargs=2, action="append", default=[],
                    metavar=("TITLE", "FILE"))
    args = ap.parse_args()
    run = fg.load_run(args.run)
    print(f"# imapproxyd beside its peers: {os.path.basename(args.run)}\n")
    print_meta(run.meta)
    print_targets(run)
    print_full(run)
    for title, path in args.section:
        print_section(title, path)


if __name__ == "__main__":
    main()
