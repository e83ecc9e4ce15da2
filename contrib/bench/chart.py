#!/usr/bin/python3
"""Draw a run's targeted figures as one PNG, readable at a glance.

  chart.py RUN.jsonl OUT.png

One panel per figure of figures.FIGURES: a horizontal bar per server (orange:
imapproxyd, dark blue: the peer the target is relative to, light blue: the
other peers), the target as a dashed red line, and each imapproxyd verdict in
the panel's title.  The gnuplot script is written beside the PNG (OUT.gp) with
the data inline, so the chart can be redrawn or restyled without a new run.
"""
import os
import subprocess
import sys

import figures as fg

OURS, PEER, OTHER = 0xE6550D, 0x08519C, 0x9ECAE1
PASS, FAIL, INK = 0x2CA02C, 0xD62728, 0x000000
PANEL_W, PANEL_H, COLS = 820, 400, 2
CLIP = 3.0      # bars past 3x the largest of ours, the peer's, the target are cut


def q(text):
    """A gnuplot double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def bars(run, fig):
    """[(name, value or None, colour, text, text colour)] in column order,
    servers that serve the figure's mode only.  imapproxyd's text carries its
    verdict, in green or red."""
    out = []
    for col in fg.COLUMNS:
        label = col.label(fig.mode)
        if label is None:
            continue
        v = fg.value(run, fig, label)
        text = "n/a" if v is None else f"{v:.{fig.digits}f}"
        colour, ink = (PEER if label == fig.peer else OTHER), INK
        if col.ours:
            verdict, passed = fg.verdict(run, fig, label)
            colour = OURS
            if passed is not None:
                text, ink = f"{text}   {verdict}", PASS if passed else FAIL
        out.append((col.short(fig.mode), v, colour, text, ink))
    return out


def x_range(rows, lim):
    """(left, right, clip): one far outlier (the Dovecot proxy's TLS relay)
    would squash every other bar into a sliver, so the axis stops at CLIP x
    the bars that matter and longer bars are cut there, their text marked."""
    known = [r[1] for r in rows if r[1] is not None]
    focus = [r[1] for r in rows if r[1] is not None and r[2] != OTHER]
    focus += [lim] if lim is not None else []
    clip = CLIP * max(focus + [1e-9])
    right = min(max(known + focus + [1e-9]), clip) * 1.45
    left = min(known + [0]) * 1.3
    return left, right, clip


def subtitle(run, fig):
    """Second title line: the target, also in the figure's unit.  The
    verdicts are beside imapproxyd's bars, where the eye already is."""
    lim = fg.limit(run, fig)
    text = f"target {fig.target_text()}"
    if lim is not None and fig.ratio is not None:
        text += f" = {lim:.{fig.digits}f} {fig.unit}"
    return text


def panel(run, fig, n):
    """gnuplot commands for one figure's panel; its data as datablock $dN."""
    rows = bars(run, fig)
    lim = fg.limit(run, fig)
    bottom, top, clip = x_range(rows, lim)
    lines = [f"$d{n} << EOD"]
    for i, (name, v, colour, text, ink) in enumerate(rows):
        shown = 0 if v is None else min(v, clip)
        if v is not None and v > clip:
            text += " (cut)"
        lines.append(f"{i}\t{q(name)}\t{shown!r}\t{colour}\t{q(' ' + text)}\t{ink}")
    lines += ["EOD",
              f"set title {q(fig.title + ' (' + fig.unit + ')')} . \"\\n\" . {q(subtitle(run, fig))}",
              f"set yrange [{len(rows) - 0.5}:-0.5]",
              f"set xrange [{bottom!r}:{top!r}]",
              "unset arrow"]
    if lim is not None:
        lines.append(f"set arrow 1 from {lim!r}, graph 0 to {lim!r}, graph 1 "
                     "nohead lc rgb '#D62728' dt 2 lw 2 front")
    lines.append(f"plot $d{n} using 3:1:(0):3:($1-0.38):($1+0.38):4:ytic(2) "
                 "with boxxyerror fs solid 0.9 noborder lc rgb variable notitle, \\")
    lines.append(f"     $d{n} using 3:1:5:6 with labels left font ',10' tc rgb variable notitle")
    return lines


def legend(run):
    """The last cell: what the colours mean, the tally, what ran."""
    meta = run.meta or {}
    verdicts = [fg.verdict(run, f, c.label(f.mode))[1]
                for f in fg.FIGURES for c in fg.COLUMNS if c.ours]
    text = [
        "orange: imapproxyd (workers auto, and w1 = workers 1)",
        "dark blue: the peer the target is relative to",
        "imapproxyd's text: ratio to that peer, PASS green, FAIL red",
        "light blue: other peers;  dashed red: the target",
        "lower is better in every panel",
        "",
        f"{verdicts.count(True)} PASS, {verdicts.count(False)} FAIL, "
        f"{verdicts.count(None)} not measured",
        f"logins {meta.get('login_sessions')}, fetch {meta.get('fetch_repeat')} x "
        f"{meta.get('big_msg_mib', 32)} MiB, idle {meta.get('idle_sessions')}, "
        f"NOOPs {meta.get('noop_count')}",
    ]
    lines = ["unset border", "unset tics", "unset arrow", "unset title",
             "set xrange [0:1]", "set yrange [0:1]"]
    for i, t in enumerate(text):
        lines.append(f"set label {i + 10} {q(t)} at 0.05, {0.9 - i * 0.12!r} font ',12'")
    lines.append("plot NaN notitle")
    return lines


def script(run, png):
    meta = run.meta or {}
    rows = (len(fg.FIGURES) + 1 + COLS - 1) // COLS
    title = f"imapproxyd beside its peers, {meta.get('date', '?')}"
    if meta.get("quick"):
        title += "  (BENCH_QUICK: plumbing check only)"
    lines = [f"set terminal pngcairo size {PANEL_W * COLS},{PANEL_H * rows} "
             "font 'DejaVu Sans,11' noenhanced",
             f"set output {q(png)}",
             "set datafile separator '\\t'",
             "set style fill solid",
             "set grid xtics lc rgb '#DDDDDD'",
             "set border 3", "set xtics nomirror", "set ytics nomirror",
             "set lmargin 16",
             f"set multiplot layout {rows},{COLS} title {q(title)} font ',14'"]
    for n, fig in enumerate(fg.FIGURES):
        lines += panel(run, fig, n)
    lines += legend(run)
    lines.append("unset multiplot")
    return "\n".join(lines) + "\n"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[2])
    run, png = fg.load_run(sys.argv[1]), os.path.abspath(sys.argv[2])
    gp = os.path.splitext(png)[0] + ".gp"
    with open(gp, "w") as f:
        f.write(script(run, png))
    res = subprocess.run(["gnuplot", gp], capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        sys.exit(f"gnuplot {gp} failed:\n{res.stderr}")
    print(png)


if __name__ == "__main__":
    main()
