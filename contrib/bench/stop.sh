#!/bin/bash
# Stop the benchmark servers (all, or the ones named) by the pid files start.sh wrote.
# Only a pid whose command matches the expected program is signalled (pids get reused),
# plus that process's own children; nothing is ever killed by name.
set -uo pipefail
. "$(dirname "$0")/common.sh"

ALL="imapproxyd imapproxyd-w1 haproxy perdition nginx dproxy dovecot"

children() { # direct children of $1
    local d
    for d in /proc/[0-9]*; do
        [ "$(awk '{print $4}' "$d/stat" 2>/dev/null)" = "$1" ] && echo "${d#/proc/}"
    done
}

stop_pidfile() {  # $1 = pid file, $2 = expected command name
    local pidf=$1 want=$2 pid comm kids
    [ -f "$pidf" ] || return 0
    pid=$(cat "$pidf")
    comm=$(cat /proc/"$pid"/comm 2>/dev/null || true)
    if [ -z "$comm" ]; then rm -f "$pidf"; return 0; fi
    if [ "$comm" != "$want" ]; then
        log "pid $pid in $pidf is '$comm', not $want: leaving it alone"; rm -f "$pidf"; return 0
    fi
    kids=$(children "$pid")
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then log "$want $pid ignored TERM, sending KILL"; kill -KILL "$pid"; fi
    # forked session handlers (perdition) that outlived their parent
    for k in $kids; do kill -0 "$k" 2>/dev/null && kill -TERM "$k" 2>/dev/null; done
    rm -f "$pidf"
    log "stopped $want ($pid)"
}

[ $# -gt 0 ] || set -- $ALL     # no names: every server, in this order
for c in "$@"; do
    case $c in
        dovecot)   stop_pidfile $RUN_DIR/dovecot.pid dovecot ;;
        dproxy)    stop_pidfile $RUN_DIR/dproxy.pid dovecot ;;
        nginx)     stop_pidfile $RUN_DIR/nginx.pid nginx ;;
        perdition) stop_pidfile $RUN_DIR/perdition-imap4.pid perdition
                   stop_pidfile $RUN_DIR/perdition-imap4s.pid perdition ;;
        haproxy)   stop_pidfile $RUN_DIR/haproxy.pid haproxy ;;
        imapproxyd|imapproxyd-w1) stop_pidfile "$RUN_DIR/$c.pid" imapproxyd ;;
        *) die "unknown server '$c' (one of: $ALL)" ;;
    esac
done
exit 0
