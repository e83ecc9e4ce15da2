#!/bin/bash
# `make bench`: one benchmark run of imapproxyd beside its peers, start to end.
#
#   1. setup.sh: packages, certificates, mail store, configs (idempotent)
#   2. make all: the daemon under test, with the default CFLAGS (-O2 -g),
#      copied to $BENCH_DIR/bin/imapproxyd for the whole run (same name:
#      stop.sh signals only a process called imapproxyd)
#   3. run-all.sh: every target in targets.conf, one after the other
#   4. stop.sh (BENCH_KEEP=1 leaves the servers running)
#   5. make bench-acl, make bench-routes, and scale.py if it is there
#   6. report.py and chart.py: run-<time>.md and run-<time>.png in $BENCH_OUT
#
# Environment: BENCH_DIR (/tmp/imapbench), BENCH_OUT ($BENCH_DIR/results),
# BENCH_QUICK=1 (tiny sizes: checks the plumbing in a few minutes), and
# everything run-all.sh takes (ONLY, TESTS, sizes).  Only a failed set-up,
# build or run stops it; a failed extra shows in its report section.
set -uo pipefail
. "$(dirname "$0")/common.sh"

BENCH_KEEP=${BENCH_KEEP:-0}
SCALE_TIMEOUT=${SCALE_TIMEOUT:-1800}     # bound on scale.py, seconds
stamp=$(date +%Y%m%d-%H%M%S)
base=$BENCH_OUT/run-$stamp               # every file of this run starts so
sections=()                              # report.py --section TITLE FILE ...

# Runs one extra benchmark with its output in $base.$1.md, and lists it as
# a report section under $2.  A failure is written into that section.
extra() {
    local key=$1 title=$2; shift 2
    log "$title"
    if ! "$@" >"$base.$key.md" 2>"$base.$key.err"; then
        { echo; echo "(failed: $*; last lines of its stderr:)"; echo '```'
          tail -n 15 "$base.$key.err"; echo '```'; } >>"$base.$key.md"
    fi
    [ -s "$base.$key.err" ] || rm -f "$base.$key.err"
    sections+=(--section "$title" "$base.$key.md")
}

# The other helper's scale figures, if this tree has them: its JSON lines
# beside ours, its own Markdown (--report) as a section.
scale() {
    local script=$BENCH_SRC/scale.py quick=()
    [ -f "$script" ] || { log "no scale.py: skipped"; return 0; }
    [ "${BENCH_QUICK:-0}" = 1 ] && "$PYTHON" "$script" --help 2>/dev/null |
        grep -q -- --quick && quick=(--quick)
    log "scale.py (at most $SCALE_TIMEOUT s)"
    (cd "$BENCH_TOP" && timeout "$SCALE_TIMEOUT" "$PYTHON" "$script" \
        --out "$base.scale.jsonl" --imapproxyd "$IMAPPROXYD" "${quick[@]}") \
        </dev/null >"$base.scale.log" 2>&1 ||
        log "scale.py failed: see $base.scale.log"
    [ -s "$base.scale.jsonl" ] || return 0
    extra scale "Scale (contrib/bench/scale.py)" \
        "$PYTHON" "$script" --report "$base.scale.jsonl"
}

mkdir -p "$BENCH_OUT"
t0=$(date +%s)
"$BENCH_SRC/setup.sh" </dev/null || die "setup.sh failed"
make -C "$BENCH_TOP" --no-print-directory -s all </dev/null || die "make all failed"
# The run measures a private copy: a rebuild of build/ meanwhile (make check,
# someone's next change) must not swap the daemon between two rows.
install -D -m 755 "$IMAPPROXYD" "$BENCH_DIR/bin/imapproxyd" || die "cannot copy $IMAPPROXYD"
export IMAPPROXYD=$BENCH_DIR/bin/imapproxyd
OUT=$base.jsonl REPORT=0 "$BENCH_SRC/run-all.sh" </dev/null || die "run-all.sh failed"
[ "$BENCH_KEEP" = 1 ] || "$BENCH_SRC/stop.sh" </dev/null

extra acl "ACL load and decision (make bench-acl)" \
    make -C "$BENCH_TOP" --no-print-directory -s bench-acl
extra routes "Routes map load and lookup (make bench-routes)" \
    make -C "$BENCH_TOP" --no-print-directory -s bench-routes
scale

"$PYTHON" "$BENCH_SRC/report.py" "$base.jsonl" "${sections[@]}" >"$base.md" ||
    die "report.py failed"
"$PYTHON" "$BENCH_SRC/chart.py" "$base.jsonl" "$base.png" >/dev/null ||
    log "chart.py failed: no chart this time"

sed -n '/^## Targets/,/^## Every target/p' "$base.md" | sed '$d'
log "done in $(( $(date +%s) - t0 )) s"
echo "report: $base.md"
[ -f "$base.png" ] && echo "chart:  $base.png"
echo "data:   $base.jsonl"
