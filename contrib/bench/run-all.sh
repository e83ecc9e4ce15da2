#!/bin/bash
# Run every load.py test against every target in targets.conf, one JSON line per
# test in $OUT (default $BENCH_OUT/run-<time>.jsonl), then print the Markdown
# report (REPORT=0: don't).  run.sh (`make bench`) calls this between setup.sh and
# the chart.  Sizes come from the environment; BENCH_QUICK=1 shrinks the defaults
# to a plumbing check of a few minutes:
#
#                                              default     BENCH_QUICK=1
#   LOGIN_SESSIONS, LOGIN_CONCURRENCY          2000, 50    200, 20
#   FETCH_REPEAT (fetches of the big message)  30          1
#   IDLE_SESSIONS, IDLE_HOLD (seconds)         2000, 3     200, 2
#   NOOP_COUNT                                 20000       500
#   TESTS=idle,latency,logins,fetch            which tests, in this order
#   ONLY=nginx,imapproxyd                      only these target names
#   TARGETS_FILE=targets.conf                  rows: name tls host port pids service
#   EXTRA_TARGETS="myproxy implicit 127.0.0.1 16993 /run/my.pid -; ..."
#   RESTART=1                                  fresh server before each idle test
#   DEADLINE=90                                seconds, bound on each test
#   STOP_AFTER=0                               1: stop.sh at the end
set -uo pipefail
. "$(dirname "$0")/common.sh"

if [ "${BENCH_QUICK:-0}" = 1 ]; then
    LOGIN_SESSIONS=${LOGIN_SESSIONS:-200}; LOGIN_CONCURRENCY=${LOGIN_CONCURRENCY:-20}
    FETCH_REPEAT=${FETCH_REPEAT:-1}
    IDLE_SESSIONS=${IDLE_SESSIONS:-200}; IDLE_HOLD=${IDLE_HOLD:-2}
    NOOP_COUNT=${NOOP_COUNT:-500}
fi
export LOGIN_SESSIONS=${LOGIN_SESSIONS:-2000}
export LOGIN_CONCURRENCY=${LOGIN_CONCURRENCY:-50}
# ~1 GiB, so a relay's CPU is ~100 clock ticks or more, not ~20
export FETCH_REPEAT=${FETCH_REPEAT:-30}
export IDLE_SESSIONS=${IDLE_SESSIONS:-2000}
export IDLE_HOLD=${IDLE_HOLD:-3}
# a p99 over 200 samples, not 50: one burst of other load moves it less
export NOOP_COUNT=${NOOP_COUNT:-20000}
TESTS=${TESTS:-idle,latency,logins,fetch}
ONLY=${ONLY:-}
TARGETS_FILE=${TARGETS_FILE:-$BENCH_SRC/targets.conf}
EXTRA_TARGETS=${EXTRA_TARGETS:-}
RESTART=${RESTART:-1}
STOP_AFTER=${STOP_AFTER:-0}
REPORT=${REPORT:-1}
DEADLINE=${DEADLINE:-90}
mkdir -p "$BENCH_OUT"
OUT=${OUT:-$BENCH_OUT/run-$(date +%Y%m%d-%H%M%S).jsonl}
LOAD="$PYTHON $BENCH_SRC/load.py"
BACKEND_PID=$RUN_DIR/dovecot.pid      # the store: its CPU and memory, for context

[ -f "$BENCH_DIR/dovecot/dovecot.conf" ] || die "run setup.sh first"
"$BENCH_SRC/start.sh" || die "start.sh failed"
: > "$OUT"

# The first line says what ran, with which sizes and versions (meta.py reads
# the sizes exported above).
CERT_USED=$(cat "$BENCH_DIR/cert_type" 2>/dev/null || echo "$CERT_TYPE")
export BENCH_QUICK=${BENCH_QUICK:-0} CERT_USED
export USERS BIG_MSG_MIB IMAPPROXYD
"$PYTHON" "$BENCH_SRC/meta.py" >> "$OUT" || die "meta.py failed"

log "warming dovecot (indexes for $USERS users, page cache)"
$LOAD warm --port $DOVECOT_PORT --users "$USERS" </dev/null >> "$OUT"

targets() {
    grep -v '^\s*#' "$TARGETS_FILE" | grep -v '^\s*$'
    [ -n "$EXTRA_TARGETS" ] && echo "$EXTRA_TARGETS" | tr ';' '\n' | grep -v '^\s*$'
    true
}

run_test() {   # label test args...
    local label=$1 test=$2; shift 2
    log "  $test"
    $LOAD "$test" --label "$label" --deadline "$DEADLINE" "$@" </dev/null >> "$OUT" ||
        log "  $test reported an error"
    # The last sessions' teardown must finish outside the next test's window:
    # Perdition's 2000 children take over 30 s to go after idle, under a load
    # average of hundreds.  settle takes the target's own arguments (base, set
    # by the loop below) and waits for quiet, 90 s at most.
    $LOAD settle --label "$label" --deadline 90 "${base[@]}" </dev/null >> "$OUT"
    tail -n 1 "$OUT" | grep -q '"quiet": true' || log "  still busy after 90 s"
}

# A fresh process for the idle test, so its memory baseline holds no pools,
# caches or TLS sessions left over from the tests of an earlier row.
restart() {
    "$BENCH_SRC/stop.sh" "$1" </dev/null && "$BENCH_SRC/start.sh" "$1" </dev/null ||
        die "restart of $1 failed"
    sleep 1
}

t_start=$(date +%s)
while read -r name tls host port pids service; do
    [ -z "$name" ] && continue
    if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$name,"* ]]; then continue; fi
    pids=$(eval echo "$pids"); [ "$pids" = "-" ] && pids=""
    label="$name/$tls"
    log "target $label ($host:$port)"
    base=(--host "$host" --port "$port" --tls "$tls" --users "$USERS" --backend-pid "$BACKEND_PID")
    [ -n "$pids" ] && base+=(--pid "$pids")
    for test in ${TESTS//,/ }; do
        case $test in
            idle)
                [ "$RESTART" = 1 ] && [ "$service" != "-" ] && restart "$service"
                run_test "$label" idle "${base[@]}" --sessions "$IDLE_SESSIONS" --hold "$IDLE_HOLD" ;;
            latency) run_test "$label" latency "${base[@]}" --count "$NOOP_COUNT" ;;
            logins)  run_test "$label" logins "${base[@]}" --sessions "$LOGIN_SESSIONS" --concurrency "$LOGIN_CONCURRENCY" ;;
            fetch)   run_test "$label" fetch "${base[@]}" --repeat "$FETCH_REPEAT" ;;
            *) die "unknown test $test" ;;
        esac
    done
done < <(targets)
log "all targets done in $(( $(date +%s) - t_start )) s; results in $OUT"

if [ "$REPORT" = 1 ]; then
    "$PYTHON" "$BENCH_SRC/report.py" "$OUT" | tee "${OUT%.jsonl}.md"
fi
[ "$STOP_AFTER" = 1 ] && "$BENCH_SRC/stop.sh"
exit 0
