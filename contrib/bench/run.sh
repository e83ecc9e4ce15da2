#!/usr/bin/env bash
# Runs ../shared/bench with imapproxyd added as a target, beside the peers.
#   contrib/bench/run.sh [BENCH_HARNESS_DIR]    (default: ../shared/bench)
# Environment: whatever run-all.sh takes (ONLY, TESTS, sizes).  The
# harness's setup.sh must have run once.  Everything stays on loopback.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
harness=${1:-$top/../shared/bench}
bench_dir=${BENCH_DIR:-/tmp/imapbench}
dir=$bench_dir/imapproxyd
mkdir -p "$dir"
sed -e "s|@DIR@|$dir|g" -e "s|@BENCH_DIR@|$bench_dir|g" \
    "$top/contrib/bench/imapproxy.conf.in" > "$dir/imapproxy.conf"
make -C "$top" -s all
[ -f "$dir/imapproxyd.pid" ] && kill "$(cat "$dir/imapproxyd.pid")" 2>/dev/null && sleep 1
"$top/build/imapproxyd" -c "$dir/imapproxy.conf"
trap 'kill "$(cat "$dir/imapproxyd.pid")" 2>/dev/null || true' EXIT
sleep 0.5
pid=$dir/imapproxyd.pid
EXTRA_TARGETS="imapproxyd none 127.0.0.1 16143 $pid -; imapproxyd implicit 127.0.0.1 16993 $pid -" \
    "$harness/run-all.sh"
