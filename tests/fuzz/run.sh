#!/bin/bash
# Runs the libFuzzer targets built by `make fuzz-build` (issue 7).
#
#   tests/fuzz/run.sh fuzz  NAME...   fuzz each for FUZZ_SECONDS
#   tests/fuzz/run.sh smoke NAME...   replay corpus and regress inputs,
#                                     then mutate for FUZZ_SMOKE_SECONDS
#
# Environment (the Makefile passes these): FUZZ_B (build folder,
# build/fuzz), FUZZ_SECONDS (60), FUZZ_SMOKE_SECONDS (3), FUZZ_JOBS
# (targets at once, 2), FUZZ_NICE (nice level of `fuzz`, 10), FUZZ_ARGS
# (more libFuzzer flags, e.g. "-only_ascii=1").
#
# `fuzz` works on build/fuzz/work/NAME, seeded (never overwritten) from
# tests/fuzz/corpus/NAME and the tests/fuzz/regress/NAME inputs that
# pass, so the committed corpus is not flooded (fold findings back with
# libFuzzer's -merge=1, see README.md).  Crash, leak and timeout inputs go
# to build/fuzz/crashes/NAME/, logs to build/fuzz/logs/NAME.log.  One
# summary line per target; the exit status is 1 if any target crashed
# or failed to run.
set -u

here=$(cd "$(dirname "$0")" && pwd)
mode=${1:?usage: run.sh fuzz|smoke NAME...}
shift
FUZZ_B=${FUZZ_B:-build/fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_SMOKE_SECONDS=${FUZZ_SMOKE_SECONDS:-3}
FUZZ_JOBS=${FUZZ_JOBS:-2}
FUZZ_NICE=${FUZZ_NICE:-10}
FUZZ_ARGS=${FUZZ_ARGS:-}

# Longest input per target: a little past the limit each parser enforces,
# so inputs that cross it are tried (bounds.h, proxyproto.h).
max_len() {
	case $1 in
	imap)		echo 20000 ;;	# IMAP_MAX_CMD 16384
	preauth)	echo 20000 ;;	# one buffer of pipelined commands
	sasl)		echo 12000 ;;	# AUTH_MAX_SECRET 8192, base64
	acl)		echo 10000 ;;	# ACL_MAX_LINE 8192
	routes)		echo 4096 ;;	# ROUTEMAP_MAX_LINE 1024
	conf)		echo 8192 ;;	# INI lines of 200
	proxyproto)	echo 1200 ;;	# PROXYPROTO_MAX_HEADER 1024
	backend)	echo 20000 ;;	# BACKEND_MAX_LINE 8192, both sides
	*)		echo 4096 ;;
	esac
}

# The flags every run of target $1 shares.
common_flags() {
	local name=$1 dict=$here/$1.dict
	printf '%s\n' -max_len="$(max_len "$name")" -timeout=10 \
	    -rss_limit_mb=2048 -artifact_prefix="$FUZZ_B/crashes/$name/"
	[ -f "$dict" ] && printf '%s\n' -dict="$dict"
}

# Files of a folder, none if it is missing or empty.
files_in() {
	[ -d "$1" ] || return 0
	find "$1" -maxdepth 1 -type f | sort
}

count_files() {
	find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l
}

# The executions a libFuzzer log reports (-print_final_stats=1).
execs_of() {
	sed -n 's/^stat::number_of_executed_units: *//p' "$1" | tail -n 1
}

fuzz_one() {
	local name=$1 bin=$FUZZ_B/fuzz_$1 work=$FUZZ_B/work/$1
	local crashes=$FUZZ_B/crashes/$1 log=$FUZZ_B/logs/$1.log
	local before after execs rate ncrash rc marker

	mkdir -p "$work" "$crashes" "$FUZZ_B/logs"
	for f in $(files_in "$here/corpus/$name"); do
		cp -n "$f" "$work/" 2>/dev/null
	done
	# A regression input that still fails is a known, unfixed bug: it
	# would stop the run at once, so it seeds nothing until fixed.
	for f in $(files_in "$here/regress/$name"); do
		if "$bin" "$f" >/dev/null 2>&1; then
			cp -n "$f" "$work/" 2>/dev/null
		else
			echo "fuzz $name: ${f#"$here"/} still fails (known bug), not seeded"
		fi
	done
	marker=$FUZZ_B/logs/.$name.start
	: >"$marker"
	before=$(count_files "$work")
	# shellcheck disable=SC2046
	nice -n "$FUZZ_NICE" "$bin" $(common_flags "$name") \
	    -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
	    $FUZZ_ARGS "$work" >"$log" 2>&1
	rc=$?
	after=$(count_files "$work")
	execs=$(execs_of "$log")
	execs=${execs:-0}
	rate=$((execs / (FUZZ_SECONDS > 0 ? FUZZ_SECONDS : 1)))
	ncrash=$(find "$crashes" -maxdepth 1 -type f -newer "$marker" | wc -l)
	rm -f "$marker"
	printf 'fuzz %-10s %10s execs (%s/s) in %ss, corpus %s -> %s, %s crashes%s [%s]\n' \
	    "$name" "$execs" "$rate" "$FUZZ_SECONDS" "$before" "$after" \
	    "$ncrash" "$([ $rc -ne 0 ] && echo ", exit $rc")" "$log"
	[ $rc -eq 0 ] && [ "$ncrash" -eq 0 ]
}

smoke_one() {
	local name=$1 bin=$FUZZ_B/fuzz_$1 tmp=$FUZZ_B/smoke/$1
	local log=$FUZZ_B/logs/$1.smoke.log inputs n execs rc

	mkdir -p "$FUZZ_B/crashes/$name" "$FUZZ_B/logs"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	inputs=$(files_in "$here/corpus/$name"; files_in "$here/regress/$name")
	n=$(printf '%s' "$inputs" | grep -c .)
	if [ "$n" -eq 0 ]; then
		echo "fuzz-smoke $name: no corpus in tests/fuzz/corpus/$name"
		return 1
	fi
	# Every committed input once, as a regression test.
	# shellcheck disable=SC2086
	if ! "$bin" $inputs >"$log" 2>&1; then
		echo "fuzz-smoke $name: FAILED replaying the corpus [$log]:"
		# The input that failed and what was said about it.
		awk '/^Running: /{b=""} {b=b $0 "\n"} END{printf "%s", b}' \
		    "$log" | grep -v -e '^    #' -e '^NOTE: ' \
		    -e '^      Combine' | head -n 20
		return 1
	fi
	# shellcheck disable=SC2086
	cp $inputs "$tmp/"
	# shellcheck disable=SC2046
	"$bin" $(common_flags "$name") -max_total_time="$FUZZ_SMOKE_SECONDS" \
	    -print_final_stats=1 $FUZZ_ARGS "$tmp" >>"$log" 2>&1
	rc=$?
	execs=$(execs_of "$log")
	if [ $rc -ne 0 ]; then
		echo "fuzz-smoke $name: FAILED after ${execs:-0} execs [$log]"
		tail -n 40 "$log"
		return 1
	fi
	echo "fuzz-smoke $name: $n inputs replayed, then ${execs:-0} execs, ok"
}

case $mode in
fuzz)	run=fuzz_one ;;
smoke)	run=smoke_one ;;
*)	echo "usage: run.sh fuzz|smoke NAME..." >&2; exit 2 ;;
esac
[ $# -gt 0 ] || { echo "run.sh: no targets" >&2; exit 2; }
for name in "$@"; do
	[ -x "$FUZZ_B/fuzz_$name" ] || {
		echo "run.sh: $FUZZ_B/fuzz_$name is not built" >&2; exit 2; }
done

# FUZZ_JOBS targets at a time; each job's status is kept in a file.
status=$FUZZ_B/logs/.status.$$
mkdir -p "$FUZZ_B/logs"
: >"$status"
running=0
for name in "$@"; do
	if [ "$running" -ge "$FUZZ_JOBS" ]; then
		wait -n
		running=$((running - 1))
	fi
	( $run "$name" || echo "$name" >>"$status" ) &
	running=$((running + 1))
done
wait
failed=$(tr '\n' ' ' <"$status")
rm -f "$status"
if [ -n "$failed" ]; then
	echo "fuzz $mode: failed: $failed"
	exit 1
fi
exit 0
