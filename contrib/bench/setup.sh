#!/bin/bash
# Idempotent set-up of the benchmark (run.sh, i.e. `make bench`, calls it):
# packages, scratch dir, test certs, mail store, and the configs of Dovecot (the
# back end), nginx mail, perdition, haproxy, a second Dovecot in proxy mode and two
# imapproxyd daemons.  Nothing here listens on anything but 127.0.0.1.
#
#   BENCH_DIR=/tmp/imapbench USERS=200 contrib/bench/setup.sh
set -euo pipefail
. "$(dirname "$0")/common.sh"

# gnuplot-nox draws the chart (run.sh, chart.py); the rest are the peers.
PKGS="dovecot-imapd nginx libnginx-mod-mail perdition haproxy openssl python3 gnuplot-nox"

install_packages() {
    local missing=""
    for p in $PKGS; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        log "installing:$missing"
        # The Debian packages try to start their system services on install; keep them
        # from doing so (and from taking ports 80/143/993) unless a policy already exists.
        local policy_added=0
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d
            policy_added=1
        fi
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing
        [ $policy_added = 1 ] && rm -f /usr/sbin/policy-rc.d
    fi
    [ -f /usr/lib/nginx/modules/ngx_mail_module.so ] || die "nginx mail module missing"
}

make_dirs() {
    mkdir -p "$BENCH_DIR" "$RUN_DIR" "$BENCH_DIR/certs" "$BENCH_DIR/mail" \
             "$BENCH_DIR/dovecot/run" "$BENCH_DIR/dovecot/state" \
             "$BENCH_DIR/dproxy/run" "$BENCH_DIR/dproxy/state" \
             "$BENCH_DIR/nginx/tmp" "$BENCH_DIR/haproxy" "$BENCH_DIR/perdition" \
             "$BENCH_DIR/imapproxyd" "$BENCH_DIR/imapproxyd-w1"
    # dovecot's unprivileged processes (dovenull, dovecot, mail) walk into these
    chmod 755 "$BENCH_DIR" "$BENCH_DIR/mail" "$BENCH_DIR/dovecot" "$BENCH_DIR/dproxy"
}

make_certs() {
    local c=$BENCH_DIR/certs
    if [ ! -s $c/ec.crt ]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout $c/ec.key -out $c/ec.crt -days 3650 -subj /CN=imapbench.localhost 2>/dev/null
    fi
    if [ ! -s $c/rsa.crt ]; then
        openssl req -x509 -newkey rsa:2048 -nodes \
            -keyout $c/rsa.key -out $c/rsa.crt -days 3650 -subj /CN=imapbench.localhost 2>/dev/null
    fi
    # RFC 7919 group: instant, unlike 'openssl dhparam'.  Only TLS1.2 DHE suites would use it.
    [ -s $c/dh.pem ] || openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 -out $c/dh.pem 2>/dev/null
    for t in ec rsa; do cat $c/$t.crt $c/$t.key > $c/$t.pem; done
    # perdition loads its key after dropping to 'nobody'; these are throw-away test keys.
    chmod 644 $c/*
}

make_mail() {
    local stamp=$BENCH_DIR/mail/.stamp want="users=$USERS small=$SMALL_MSGS big=$BIG_MSG_MIB"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        log "mail store already built ($want)"; return
    fi
    log "building mail store ($want)"
    rm -rf "$BENCH_DIR/mail"; mkdir -p "$BENCH_DIR/mail"; chmod 755 "$BENCH_DIR/mail"
    "$PYTHON" "$BENCH_SRC/mkmail.py" "$BENCH_DIR/mail" "$USERS" "$SMALL_MSGS" "$BIG_MSG_MIB"
    chown -R mail:mail "$BENCH_DIR/mail"
    echo "$want" > "$stamp"
}

write_passwd() {
    local f=$BENCH_DIR/dovecot/passwd
    : > $f.new
    for i in $(seq 1 "$USERS"); do printf 'user%04d:{PLAIN}pw\n' "$i" >> $f.new; done
    mv $f.new $f; chmod 644 $f
}

# Limits shared by both dovecot instances: high-performance login processes (one process
# serves many connections) and imap processes that hold many clients each, so a few
# thousand idle sessions need a handful of processes, not one each.
dovecot_common() {
    local base=$1 name=$2
    cat <<EOF
base_dir = $base/run
state_dir = $base/state
instance_name = $name
listen = 127.0.0.1
protocols = imap
ssl_dh = <$BENCH_DIR/certs/dh.pem
log_path = $base/dovecot.log
info_log_path = /dev/null
disable_plaintext_auth = no
auth_mechanisms = plain login
default_client_limit = 8000
default_process_limit = 2000
default_vsz_limit = 1G
mail_max_userip_connections = 100000
# anvil/auth/log see one connection per login and imap process
service anvil {
  client_limit = 8000
}
service auth {
  client_limit = 8000
}
service log {
  client_limit = 8000
}
service stats {
  client_limit = 8000
}
EOF
}

write_dovecot() {
    local base=$BENCH_DIR/dovecot
    {
        dovecot_common $base imapbench
        cat <<EOF
ssl = no
first_valid_uid = $(id -u mail)
first_valid_gid = $(id -g mail)
mail_location = maildir:~/Maildir
mail_fsync = never
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $base/passwd
}
userdb {
  driver = static
  args = uid=mail gid=mail home=$BENCH_DIR/mail/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $DOVECOT_PORT
  }
  inet_listener imaps {
    port = 0
  }
  service_count = 0
  process_min_avail = 2
  client_limit = 8000
}
service imap {
  # not dovecot's advice for production (a slow disk stalls the other clients of a
  # process), but this store is in the page cache and we want few processes
  service_count = 0
  client_limit = 500
  process_limit = 200
  vsz_limit = 2G
}
EOF
    } > $base/dovecot.conf
}

# Second dovecot instance that only proxies: the "Dovecot proxy" peer.
write_dproxy() {
    local base=$BENCH_DIR/dproxy
    {
        dovecot_common $base imapbench-proxy
        cat <<EOF
ssl = yes
ssl_cert = <$(cert_file)
ssl_key = <$(key_file)
ssl_min_protocol = TLSv1.2
# every user goes to the back end with the password the client gave
passdb {
  driver = static
  args = proxy=y host=127.0.0.1 port=$DOVECOT_PORT nopassword=y
}
userdb {
  driver = static
  args = uid=mail gid=mail home=/nonexistent
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $DPROXY_PORT
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $DPROXY_TLS_PORT
    ssl = yes
  }
  service_count = 0
  process_min_avail = 2
  client_limit = 8000
  vsz_limit = 2G
}
service imap {
  process_limit = 1
}
EOF
    } > $base/dovecot.conf
}

write_nginx() {
    local base=$BENCH_DIR/nginx
    cat > $base/nginx.conf <<EOF
load_module /usr/lib/nginx/modules/ngx_mail_module.so;
worker_processes auto;
worker_rlimit_nofile 20000;
pid $RUN_DIR/nginx.pid;
error_log $base/error.log warn;
events { worker_connections 9000; }

http {
    access_log off;
    client_body_temp_path $base/tmp/body;
    proxy_temp_path $base/tmp/proxy;
    fastcgi_temp_path $base/tmp/fastcgi;
    uwsgi_temp_path $base/tmp/uwsgi;
    scgi_temp_path $base/tmp/scgi;
    # auth_http responder: every login goes to the back-end store.  nginx only adds
    # add_header fields to 2xx/3xx replies, hence 'return 204'.
    server {
        listen 127.0.0.1:$NGINX_AUTH_PORT;
        location = /auth {
            add_header Auth-Status OK;
            add_header Auth-Server 127.0.0.1;
            add_header Auth-Port $DOVECOT_PORT;
            return 204;
        }
    }
}

mail {
    server_name imapbench.localhost;
    auth_http 127.0.0.1:$NGINX_AUTH_PORT/auth;
    proxy_pass_error_message on;
    imap_capabilities IMAP4rev1 LITERAL+ SASL-IR IDLE NAMESPACE ID ENABLE;
    ssl_certificate $(cert_file);
    ssl_certificate_key $(key_file);
    ssl_protocols TLSv1.2 TLSv1.3;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        protocol imap;
        starttls on;
    }
    server {
        listen 127.0.0.1:$NGINX_TLS_PORT ssl;
        protocol imap;
    }
}
EOF
}

write_haproxy() {
    cat > $BENCH_DIR/haproxy/haproxy.cfg <<EOF
global
    # the sandbox caps open files at 20000 per process; haproxy needs 2 per connection
    maxconn 9000
    ssl-dh-param-file $BENCH_DIR/certs/dh.pem

defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h
    maxconn 9000

frontend imap_plain
    bind 127.0.0.1:$HAPROXY_PORT
    default_backend dovecot

frontend imap_tls
    bind 127.0.0.1:$HAPROXY_TLS_PORT ssl crt $(pem_file)
    default_backend dovecot

backend dovecot
    server store 127.0.0.1:$DOVECOT_PORT
EOF
}

# perdition reads "long_option value" lines.  One instance per listener.  It drops to
# 'nobody' before it writes its log and removes its pid file, so each instance gets a
# directory of its own owned by nobody (as its man page advises for the pid file).
write_perdition() {
    local base=$BENCH_DIR/perdition
    mkdir -p $base/imap4 $base/imap4s
    touch $base/imap4/perdition.log $base/imap4s/perdition.log
    chown -R nobody:nogroup $base/imap4 $base/imap4s
    common="outgoing_server 127.0.0.1:$DOVECOT_PORT
map_library \"\"
no_lookup
quiet
server_resp_line
ssl_cert_file $(cert_file)
ssl_key_file $(key_file)
ssl_dh_params_file $BENCH_DIR/certs/dh.pem"
    cat > $base/imap4.conf <<EOF
protocol IMAP4
bind_address 127.0.0.1:$PERDITION_PORT
ssl_mode tls_listen
pid_file $base/imap4/perdition.pid
log_facility $base/imap4/perdition.log
$common
EOF
    cat > $base/imap4s.conf <<EOF
protocol IMAP4S
bind_address 127.0.0.1:$PERDITION_TLS_PORT
ssl_mode ssl_listen
pid_file $base/imap4s/perdition.pid
log_facility $base/imap4s/perdition.log
$common
EOF
}

# Two imapproxyd daemons, one config each from imapproxy.conf.in: $1 is the
# name (its directory and pid file), $2 the workers, $3 and $4 its ports.
write_imapproxyd() {
    local name=$1 workers=$2 port=$3 tls_port=$4 dir=$BENCH_DIR/$1
    sed -e "s|@NAME@|$name|g" -e "s|@WORKERS@|$workers|g" \
        -e "s|@PORT@|$port|g" -e "s|@TLS_PORT@|$tls_port|g" \
        -e "s|@DIR@|$dir|g" -e "s|@RUN_DIR@|$RUN_DIR|g" \
        -e "s|@CERT@|$(cert_file)|g" -e "s|@KEY@|$(key_file)|g" \
        -e "s|@DOVECOT_PORT@|$DOVECOT_PORT|g" \
        "$BENCH_SRC/imapproxy.conf.in" > "$dir/imapproxy.conf"
}

install_packages
make_dirs
make_certs
make_mail
write_passwd
write_dovecot
write_dproxy
write_nginx
write_haproxy
write_perdition
write_imapproxyd imapproxyd auto $IPX_PORT $IPX_TLS_PORT
write_imapproxyd imapproxyd-w1 1 $IPX1_PORT $IPX1_TLS_PORT
echo "$CERT_TYPE" > $BENCH_DIR/cert_type
log "setup done in $BENCH_DIR (users=$USERS, cert=$CERT_TYPE)"
