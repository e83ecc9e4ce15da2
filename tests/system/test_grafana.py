"""contrib/grafana/imapproxy-dashboard.json against the daemon's real
Prometheus output (SPEC.md section 6, `metrics`; issue 9).

The dashboard is valid JSON in Grafana's schema (9 or later) with unique
panel ids, every query goes through the ${DS_PROMETHEUS} data source
variable and filters on $instance, and every metric a query names is in
what a running daemon's stats socket answers to `metrics` (after a
login, so that the counters have samples), and the other way round.
With Prometheus installed, a real Prometheus scrapes that output and
every query of the dashboard, the variables' too, returns data.
"""

import json
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import HOST, REPO, RawClient, login_ok
import dovecot as dv

DASHBOARD = REPO / "contrib" / "grafana" / "imapproxy-dashboard.json"
DS = "${DS_PROMETHEUS}"
INSTANCE = 'instance=~"$instance"'
DENIED_IP = "127.0.0.5"

# PromQL words that look like metric names.
PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring",
                "group_left", "group_right", "offset", "bool", "inf", "nan"}
LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*(\w+)\s*\)\s*$")


def load():
    with open(DASHBOARD) as f:
        return json.load(f)


def all_panels(dash):
    """Every panel, those inside (collapsed) rows too."""
    out = []
    for p in dash["panels"]:
        out.append(p)
        out += p.get("panels", [])
    return out


def exprs(dash):
    """[(panel title, expr)] of every panel query."""
    return [(p.get("title"), t["expr"]) for p in all_panels(dash)
            for t in p.get("targets", []) if t.get("expr")]


def variable_queries(dash):
    """[(name, series selector, label)] of the label_values variables."""
    out = []
    for v in dash["templating"]["list"]:
        if v["type"] != "query":
            continue
        q = v["query"]["query"] if isinstance(v["query"], dict) \
            else v["query"]
        m = LABEL_VALUES.match(q)
        assert m, "variable %s: expected label_values(...), got %r" % (
            v["name"], q)
        out.append((v["name"], m.group(1), m.group(2)))
    return out


def metric_names(expr):
    """The metric names EXPR selects: its identifiers less function
    names, keywords, label matchers, label lists and range selectors."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*"
               r"\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w$.])[A-Za-z_:][A-Za-z0-9_:]*", e):
        if e[m.end():].lstrip().startswith("("):
            continue            # a function
        if m.group(0).lower() not in PROMQL_WORDS:
            names.add(m.group(0))
    return names


def dashboard_metrics(dash):
    names = set()
    for _title, e in exprs(dash):
        names |= metric_names(e)
    for _name, selector, _label in variable_queries(dash):
        names |= metric_names(selector)
    return names


def test_metric_names_parser():
    assert metric_names(
        'count((a_up{x=~"$i",y="b c"} == 0) and on (instance, backend) '
        '(b_on{z!=""} == 1)) or vector(0)') == {"a_up", "b_on"}
    assert metric_names('sum by (server, result) (rate(c_total{s=~"$s"}'
                        '[$__rate_interval])) / 2') == {"c_total"}
    assert metric_names("time() - max by (instance) (d_seconds)") == \
        {"d_seconds"}


def test_dashboard_shape():
    dash = load()
    assert dash["schemaVersion"] >= 36, "Grafana 9 or later"
    assert dash["title"] and dash["uid"]
    panels = all_panels(dash)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "duplicate panel ids: %s" % ids
    names = [v["name"] for v in dash["templating"]["list"]]
    assert len(names) == len(set(names)), names
    ds = [v for v in dash["templating"]["list"] if v["name"] ==
          "DS_PROMETHEUS"]
    assert len(ds) == 1 and ds[0]["type"] == "datasource" and \
        ds[0]["query"] == "prometheus", ds
    assert "instance" in [n for n, _s, _l in variable_queries(dash)]
    for v in dash["templating"]["list"]:
        if v["type"] == "query":
            assert v["datasource"]["uid"] == DS, v["name"]

    cells = {}
    for p in panels:
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24, (p["title"], g)
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, "%r overlaps %r" % (
                    p["title"], cells[(x, y)])
                cells[(x, y)] = p["title"]
        if p["type"] == "row":
            continue
        assert p["datasource"]["uid"] == DS, p["title"]
        assert p["targets"], p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), p["title"]
        for t in p["targets"]:
            assert t["datasource"]["uid"] == DS, p["title"]

    # Every selector filters on the instance variable.
    queries = exprs(dash) + [(n, s) for n, s, _l in variable_queries(dash)
                             if n != "instance"]
    for title, e in queries:
        for name in metric_names(e):
            sels = re.findall(r"\b%s\b(\{[^}]*\})?" % re.escape(name), e)
            for sel in sels:
                assert INSTANCE in sel, "%s: %s%s" % (title, name, sel)


def exercise(make_proxy, user, tmp_path):
    """A proxy with an ACL, a login through it and a client denied, so
    that every counter has a sample; returns the proxy and its open
    session's client."""
    acl = tmp_path / "grafana.acl"
    acl.write_text("deny ip %s\nallow any\n" % DENIED_IP)
    p = make_proxy(server={"acl": str(acl)})
    c = p.client("plain")
    login_ok(c, *user)
    _u, tagged = c.cmd("NOOP", tag="n")
    assert tagged.startswith("n OK"), tagged
    d = RawClient(HOST, p.ports["plain"], src=DENIED_IP, greet=False)
    d.read_until_eof()
    d.close()
    return p, c


def samples(text):
    """{metric name: sample count} of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name = re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group(0)
            out[name] = out.get(name, 0) + 1
    return out


def test_dashboard_metrics_exist(make_proxy, user, tmp_path):
    p, c = exercise(make_proxy, user, tmp_path)
    text = p.ask("metrics")
    c.close()
    have = samples(text)
    families = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
    used = dashboard_metrics(load())
    assert used, "no metric found in the dashboard"
    assert all(n.startswith("imapproxy_") for n in used), sorted(used)
    missing = sorted(n for n in used if not have.get(n))
    assert not missing, "in the dashboard, without a sample in the " \
        "metrics output: %s\n%s" % (missing, text)
    unused = sorted(families - used)
    assert not unused, "metrics the dashboard does not show: %s" % unused


# ---------------------------------------------------------------------
# a real Prometheus

class MetricsBridge:
    """An HTTP /metrics endpoint on loopback answering with the stats
    socket's `metrics`, as node_exporter's textfile collector would
    (contrib/README.md)."""

    def __init__(self, proxy):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = proxy.ask("metrics").encode()
                self.send_response(200)
                self.send_header("Content-Type",
                                 "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass
        self.httpd = ThreadingHTTPServer((HOST, 0), Handler)
        self.address = "%s:%d" % self.httpd.server_address
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Prometheus:
    def __init__(self, directory, target, interval="1s"):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = dv.free_port(HOST)
        conf = self.dir / "prometheus.yml"
        conf.write_text(
            "global:\n  scrape_interval: %s\n  evaluation_interval: %s\n"
            "scrape_configs:\n  - job_name: imapproxy\n"
            "    static_configs:\n      - targets: ['%s']\n"
            % (interval, interval, target))
        self.log = self.dir / "prometheus.log"
        err = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [shutil.which("prometheus"), "--config.file=%s" % conf,
             "--storage.tsdb.path=%s" % (self.dir / "data"),
             "--web.listen-address=%s:%d" % (HOST, self.port)],
            stdin=subprocess.DEVNULL, stdout=err, stderr=err,
            cwd=str(self.dir))
        err.close()

    def get(self, path, **params):
        url = "http://%s:%d%s" % (HOST, self.port, path)
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return json.loads(r.read().decode())
        except urllib.error.HTTPError as e:
            # A bad query: Prometheus says why in a JSON body.
            return json.loads(e.read().decode())

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                urllib.request.urlopen("http://%s:%d/-/ready"
                                       % (HOST, self.port), timeout=2)
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("prometheus did not start:\n%s"
                           % self.log.read_text(errors="replace")[-4000:])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def grafana_expand(expr):
    """EXPR as Grafana sends it with every variable at All (allValue
    .*) over a short range: scrapes are 1 s apart here."""
    for var, value in (("$__rate_interval", "10s"), ("$__range", "1m"),
                       ("$instance", ".*"), ("$server", ".*"),
                       ("$backend", ".*")):
        expr = expr.replace(var, value)
    assert "$" not in expr, expr
    return expr


@pytest.mark.skipif(shutil.which("prometheus") is None,
                    reason="prometheus (Debian package prometheus) missing")
def test_dashboard_queries_on_prometheus(make_proxy, user, tmp_path):
    p, c = exercise(make_proxy, user, tmp_path)
    bridge = MetricsBridge(p)
    prom = Prometheus(tmp_path / "prometheus", bridge.address)
    try:
        prom.wait_ready()
        dash = load()
        # Rates need two samples in their window: wait for three scrapes.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            r = prom.get("/api/v1/query", query="count_over_time("
                         "imapproxy_start_time_seconds[1m])")
            if r["data"]["result"] and \
                    float(r["data"]["result"][0]["value"][1]) >= 3:
                break
            time.sleep(0.5)
        else:
            pytest.fail("prometheus scraped too little: %r\n%s"
                        % (r, prom.log.read_text(errors="replace")[-4000:]))
        for title, e in exprs(dash):
            q = grafana_expand(e)
            r = prom.get("/api/v1/query", query=q)
            assert r["status"] == "success", (title, q, r)
            assert r["data"]["result"], "%s: no data for %s" % (title, q)
        for name, selector, label in variable_queries(dash):
            r = prom.get("/api/v1/label/%s/values" % label,
                         **{"match[]": grafana_expand(selector)})
            assert r["status"] == "success" and r["data"], (name, r)
        # The instance variable lists the scraped target.
        r = prom.get("/api/v1/label/instance/values",
                     **{"match[]": "imapproxy_start_time_seconds"})
        assert r["data"] == [bridge.address], r
    finally:
        prom.stop()
        bridge.close()
        c.close()
