"""The figures `make bench` judges imapproxyd by, and how each is computed
from a run's JSON lines (run-all.sh, load.py).  report.py prints them as the
summary table, chart.py draws them; both read the definitions here, so the
table and the chart cannot disagree.

Every target is relative to a peer measured in the same run: the machine is
shared and noisy, and a ratio of two figures taken minutes apart on the same
machine is steadier than any absolute number.  Lower is better everywhere.
"""
import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    """A server in the report: its heading, and its target name per TLS mode
    (a mode it does not serve is left out: HAProxy has no STARTTLS)."""
    heading: str
    names: dict
    ours: bool = False

    def label(self, mode):
        """'name/mode' as in targets.conf, or None if not served."""
        name = self.names.get(mode)
        return None if name is None else f"{name}/{mode}"

    def short(self, mode):
        """A bar's name in the chart."""
        if self.heading.startswith("HAProxy"):
            return "HAProxy L4" if mode == "none" else "HAProxy TLS"
        return self.heading


def _every(name):
    return {"none": name, "starttls": name, "implicit": name}


COLUMNS = (
    Column("direct", {"none": "direct"}),
    Column("nginx", _every("nginx")),
    Column("Perdition", _every("perdition")),
    Column("HAProxy (L4 / TLS)", {"none": "haproxy-l4", "implicit": "haproxy-tls"}),
    Column("Dovecot proxy", _every("dovecot-proxy")),
    Column("imapproxyd", _every("imapproxyd"), ours=True),
    Column("imapproxyd-w1", _every("imapproxyd-w1"), ours=True),
)


@dataclass(frozen=True)
class Figure:
    """One figure: which load.py field of which test, in which TLS mode, and
    the target: value <= ratio x the peer's, or value <= added (the value is
    then this row's field minus the peer's, e.g. p99 over direct Dovecot)."""
    title: str
    unit: str
    test: str
    field: str
    mode: str
    peer: str = None            # label of the peer the target is relative to
    ratio: float = None
    added: float = None
    digits: int = 2

    def target_text(self):
        if self.ratio is not None:
            return f"<= {self.ratio:g} x {peer_name(self.peer)}"
        if self.added is not None:
            return f"<= +{self.added:g} {self.unit}"
        return "—"


LOGIN_CPU = ("ms", "logins", "proxy_cpu_s_per_1000_logins")   # s/1000 = ms/1
GIB_CPU = ("s", "fetch", "proxy_cpu_s_per_gib")
IDLE_PSS = ("KiB", "idle", "pss_kib_per_session")

# The seven figures, in its order.
FIGURES = (
    Figure("CPU ms per login, plaintext", *LOGIN_CPU, "none",
           "haproxy-l4/none", ratio=0.8, digits=3),
    Figure("CPU ms per login, implicit TLS", *LOGIN_CPU, "implicit",
           "haproxy-tls/implicit", ratio=0.8, digits=3),
    Figure("CPU s per GiB relayed, plaintext", *GIB_CPU, "none",
           "haproxy-l4/none", ratio=0.5),
    Figure("CPU s per GiB relayed, TLS", *GIB_CPU, "implicit",
           "haproxy-tls/implicit", ratio=0.8),
    Figure("KiB per idle logged-in session (PSS), plaintext", *IDLE_PSS, "none",
           "haproxy-l4/none", ratio=0.7, digits=1),
    Figure("KiB per idle logged-in session (PSS), TLS", *IDLE_PSS, "implicit",
           "haproxy-tls/implicit", ratio=0.6, digits=1),
    Figure("NOOP round trip p99 added over direct Dovecot", "µs", "latency",
           "p99_us", "none", "direct/none", added=30, digits=0),
)

# The same over STARTTLS, for information: HAProxy cannot serve it, so there
# is no peer to hold imapproxyd to.
STARTTLS_FIGURES = (
    Figure("CPU ms per login, STARTTLS", *LOGIN_CPU, "starttls", digits=3),
    Figure("CPU s per GiB relayed, STARTTLS", *GIB_CPU, "starttls"),
    Figure("KiB per idle logged-in session (PSS), STARTTLS", *IDLE_PSS,
           "starttls", digits=1),
)


def peer_name(label):
    """'haproxy-l4/none' -> 'HAProxy L4', for the target's wording."""
    for col in COLUMNS:
        for mode in col.names:
            if col.label(mode) == label:
                return col.short(mode)
    return label


@dataclass
class Run:
    """A run's JSON lines: the meta line, and each label's record per test."""
    meta: dict = None
    rows: dict = field(default_factory=dict)    # label -> test -> record
    order: list = field(default_factory=list)   # labels as measured


def load_run(path):
    run = Run()
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            rec = json.loads(line)
            if rec.get("test") == "meta":
                run.meta = rec
            elif rec.get("label"):
                if rec["label"] not in run.rows:
                    run.rows[rec["label"]] = {}
                    run.order.append(rec["label"])
                run.rows[rec["label"]][rec["test"]] = rec
    return run


def record(run, label, test):
    return run.rows.get(label, {}).get(test) if label else None


def raw(run, fig, label):
    """The field as measured, or None (not run, failed, no pids)."""
    rec = record(run, label, fig.test)
    return None if rec is None else rec.get(fig.field)


def value(run, fig, label):
    """The figure for one row: the field, or for an `added` figure the field
    minus the peer's (so the peer itself shows 0)."""
    v = raw(run, fig, label)
    if v is None or fig.added is None:
        return v
    base = raw(run, fig, fig.peer)
    return None if base is None else v - base


def limit(run, fig):
    """The target as a value on the figure's scale, or None."""
    if fig.added is not None:
        return fig.added
    if fig.ratio is None:
        return None
    peer = value(run, fig, fig.peer)
    return None if peer is None else fig.ratio * peer


def verdict(run, fig, label):
    """(text, passed): '0.62x PASS', '+12 µs FAIL', or ('—', None) if a
    figure is missing."""
    v, lim = value(run, fig, label), limit(run, fig)
    if v is None or lim is None:
        return "—", None
    passed = v <= lim
    word = "PASS" if passed else "FAIL"
    if fig.added is not None:
        return f"{v:+.{fig.digits}f} {fig.unit} {word}", passed
    peer = value(run, fig, fig.peer)
    if not peer:
        return "—", None
    return f"{v / peer:.2f}x {word}", passed


def troubled(run, fig, label):
    """True if the test behind this figure had failures: its figure is then
    per successful session only, and worth a look at the full tables."""
    rec = record(run, label, fig.test)
    if rec is None:
        return False
    return bool(rec.get("error")) or bool(rec.get("failed"))
