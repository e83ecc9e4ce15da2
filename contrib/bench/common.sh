# shellcheck shell=bash disable=SC2034
# Settings shared by setup.sh, start.sh, stop.sh, run-all.sh and run.sh.
# Sourced, not run.  Every value can be overridden from the environment.

BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)   # contrib/bench
BENCH_TOP=$(cd "$BENCH_SRC/../.." && pwd)                 # the source tree
BENCH_DIR=${BENCH_DIR:-/tmp/imapbench}   # scratch: configs, certs, mail, pids, logs
BENCH_OUT=${BENCH_OUT:-$BENCH_DIR/results}   # run-*.jsonl, run-*.md, run-*.png
IMAPPROXYD=${IMAPPROXYD:-$BENCH_TOP/build/imapproxyd}
PYTHON=${PYTHON:-/usr/bin/python3}
USERS=${USERS:-200}                  # user0001..userNNNN, password 'pw'
SMALL_MSGS=${SMALL_MSGS:-20}         # small messages per INBOX
BIG_MSG_MIB=${BIG_MSG_MIB:-32}       # size of the one big message per INBOX
CERT_TYPE=${CERT_TYPE:-ec}           # ec (P-256) or rsa (2048): every TLS listener

# Loopback ports.  Only 127.0.0.1 is ever bound or targeted.
DOVECOT_PORT=11143          # back-end store, plaintext
NGINX_AUTH_PORT=12080       # nginx http auth_http responder
NGINX_PORT=12143            # nginx mail imap, STARTTLS offered
NGINX_TLS_PORT=12993        # nginx mail imap, implicit TLS
PERDITION_PORT=13143        # perdition IMAP4, STARTTLS offered
PERDITION_TLS_PORT=13993    # perdition IMAP4S, implicit TLS
HAPROXY_PORT=14143          # haproxy TCP relay, plaintext
HAPROXY_TLS_PORT=14993      # haproxy TCP with TLS termination
DPROXY_PORT=15143           # dovecot in proxy mode (second instance), STARTTLS offered
DPROXY_TLS_PORT=15993       # dovecot in proxy mode, implicit TLS
IPX_PORT=16143              # imapproxyd (workers = auto), STARTTLS offered
IPX_TLS_PORT=16993          # imapproxyd (workers = auto), implicit TLS
IPX1_PORT=19143             # imapproxyd-w1 (workers = 1), STARTTLS offered
IPX1_TLS_PORT=19993         # imapproxyd-w1 (workers = 1), implicit TLS

RUN_DIR=$BENCH_DIR/run      # pid files of everything start.sh launched

cert_file() { echo "$BENCH_DIR/certs/$CERT_TYPE.crt"; }
key_file()  { echo "$BENCH_DIR/certs/$CERT_TYPE.key"; }
pem_file()  { echo "$BENCH_DIR/certs/$CERT_TYPE.pem"; }   # cert + key, for haproxy

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
die() { echo "error: $*" >&2; exit 1; }
