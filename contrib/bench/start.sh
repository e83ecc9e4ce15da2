#!/bin/bash
# Start the benchmark servers (all, or the ones named) from the configs setup.sh wrote.
#   contrib/bench/start.sh            # all of $ALL below
#   contrib/bench/start.sh nginx imapproxyd-w1
# Each writes a pid file under $BENCH_DIR/run; stop.sh uses only those.  Every
# daemon's stdin, stdout and stderr go to /dev/null or a log file: a daemon that
# kept our stdout would hold `make bench | tee log` open for ever.
set -euo pipefail
. "$(dirname "$0")/common.sh"

ALL="dovecot dproxy nginx perdition haproxy imapproxyd imapproxyd-w1"
[ -f "$BENCH_DIR/dovecot/dovecot.conf" ] || die "run setup.sh first (no config in $BENCH_DIR)"
mkdir -p "$RUN_DIR"
# Room for a few thousand sessions per server (every proxied session holds two sockets).
ulimit -n "$(ulimit -Hn)"   # 20000 in this sandbox; it cannot be raised

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_port() {   # wait until 127.0.0.1:$1 accepts connections, at most 10 s
    for _ in $(seq 1 100); do
        (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0
        sleep 0.1
    done
    die "nothing listening on 127.0.0.1:$1 after 10 s"
}

start_dovecot() {   # $1 = instance dir (dovecot|dproxy), then its ports
    local name=$1; shift
    local base=$BENCH_DIR/$name pidf=$RUN_DIR/$name.pid
    if alive "$pidf"; then log "$name already running"; return; fi
    dovecot -c "$base/dovecot.conf" </dev/null >>"$base/start.log" 2>&1 ||
        die "$name did not start: $(tail -n 1 "$base/start.log")"
    for _ in $(seq 1 50); do [ -s "$base/run/master.pid" ] && break; sleep 0.1; done
    cp "$base/run/master.pid" "$pidf"
    for p in "$@"; do wait_port "$p"; done
    log "$name started (pid $(cat "$pidf"))"
}

start_nginx() {
    local pidf=$RUN_DIR/nginx.pid
    if alive "$pidf"; then log "nginx already running"; return; fi
    nginx -c "$BENCH_DIR/nginx/nginx.conf" -p "$BENCH_DIR/nginx/" -e "$BENCH_DIR/nginx/error.log" \
        </dev/null >>"$BENCH_DIR/nginx/start.log" 2>&1 ||
        die "nginx did not start: $(tail -n 1 "$BENCH_DIR/nginx/start.log")"
    wait_port $NGINX_PORT; wait_port $NGINX_TLS_PORT
    log "nginx started (pid $(cat "$pidf"))"
}

start_perdition() {
    local conf
    for conf in imap4 imap4s; do
        local pidf=$RUN_DIR/perdition-$conf.pid own=$BENCH_DIR/perdition/$conf/perdition.pid
        if alive "$pidf"; then log "perdition $conf already running"; continue; fi
        rm -f "$own"
        # perdition 2.2 cannot daemonize while logging to a file (it closes the log fd,
        # then fails to reopen it and exits), so it runs --no_daemon in its own session.
        setsid perdition -f "$BENCH_DIR/perdition/$conf.conf" --no_daemon </dev/null >/dev/null 2>&1 &
        for _ in $(seq 1 50); do [ -s "$own" ] && break; sleep 0.1; done
        [ -s "$own" ] || die "perdition $conf did not start: see $BENCH_DIR/perdition/$conf/perdition.log"
        cp "$own" "$pidf"
    done
    wait_port $PERDITION_PORT; wait_port $PERDITION_TLS_PORT
    log "perdition started (pids $(cat $RUN_DIR/perdition-imap4.pid) $(cat $RUN_DIR/perdition-imap4s.pid))"
}

start_haproxy() {
    local pidf=$RUN_DIR/haproxy.pid
    if alive "$pidf"; then log "haproxy already running"; return; fi
    haproxy -D -f "$BENCH_DIR/haproxy/haproxy.cfg" -p "$pidf" \
        </dev/null >>"$BENCH_DIR/haproxy/start.log" 2>&1 ||
        die "haproxy did not start: $(tail -n 1 "$BENCH_DIR/haproxy/start.log")"
    wait_port $HAPROXY_PORT; wait_port $HAPROXY_TLS_PORT
    log "haproxy started (pid $(cat "$pidf"))"
}

# $1 = name (imapproxyd or imapproxyd-w1), then its two ports.  The daemon
# forks into the background and writes its pid file once its listeners are open.
start_imapproxyd() {
    local name=$1 dir=$BENCH_DIR/$1 pidf=$RUN_DIR/$1.pid
    shift
    if alive "$pidf"; then log "$name already running"; return; fi
    [ -x "$IMAPPROXYD" ] || die "$IMAPPROXYD missing: run make all (or make bench)"
    [ -f "$dir/imapproxy.conf" ] || die "no $dir/imapproxy.conf: run setup.sh"
    # Its listeners use SO_REUSEPORT: a stray daemon of the same user on the
    # same port could share the connections and skew every figure.
    # A daemon just told to stop may still hold them for a moment: wait up
    # to 10 s for it to go before calling the port taken.
    for p in "$@"; do
        local tries=0
        while (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; do
            tries=$((tries + 1))
            [ $tries -lt 50 ] ||
                die "127.0.0.1:$p is already in use (ss -ltnp 'sport = $p')"
            sleep 0.2
        done
    done
    rm -f "$pidf"
    "$IMAPPROXYD" -c "$dir/imapproxy.conf" </dev/null >>"$dir/start.log" 2>&1 ||
        die "$name did not start: see $dir/start.log and $dir/imapproxyd.log"
    for _ in $(seq 1 50); do [ -s "$pidf" ] && break; sleep 0.1; done
    [ -s "$pidf" ] || die "$name wrote no pid file: see $dir/imapproxyd.log"
    for p in "$@"; do wait_port "$p"; done
    log "$name started (pid $(cat "$pidf"))"
}

[ $# -gt 0 ] || set -- $ALL     # no names: every server, in this order
for c in "$@"; do
    case $c in
        dovecot)   start_dovecot dovecot $DOVECOT_PORT ;;
        dproxy)    start_dovecot dproxy $DPROXY_PORT $DPROXY_TLS_PORT ;;
        nginx)     start_nginx ;;
        perdition) start_perdition ;;
        haproxy)   start_haproxy ;;
        imapproxyd)    start_imapproxyd imapproxyd $IPX_PORT $IPX_TLS_PORT ;;
        imapproxyd-w1) start_imapproxyd imapproxyd-w1 $IPX1_PORT $IPX1_TLS_PORT ;;
        *) die "unknown server '$c' (one of: $ALL)" ;;
    esac
done
