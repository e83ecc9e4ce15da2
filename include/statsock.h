/*
 * The stats socket (SPEC.md section 6): a Unix stream socket on the main
 * thread's loop.  A client writes one command line (at most
 * STATS_MAX_REQUEST bytes, within STATS_REQUEST_TIMEOUT); the daemon
 * writes one JSON document and a newline (`metrics`: Prometheus text)
 * and closes.  Every JSON answer is an object with "ok"; when it is
 * false, "error" says why, and the client should exit 1.
 *
 *   sessions
 *	{"ok":true,"sessions":[{"id":"0123456789abcdef","user":"alice"|null,
 *	 "client":"192.0.2.7:50123","country":"DE"|null,"server":"default",
 *	 "listener":"0.0.0.0:993","backend":"store1"|null,
 *	 "tls":"TLSv1.3"|null,"state":"relay","since":1700000000,
 *	 "bytes_in":123,"bytes_out":4567}, ...]}
 *   stats
 *	{"ok":true,"started":1700000000,"uptime":3600,
 *	 "reloads":{"ok":2,"failed":1},
 *	 "connections":{"accepted":N,"active":N,"refused":N},
 *	 "logins":{"ok":N,"failed":N},"bytes":{"in":N,"out":N},
 *	 "tls_handshake_failures":N,
 *	 "acl_denies":[{"server":"default","rule":"/etc/a.acl:3: deny ip 1.2.3.4"
 *	   |"default","count":N}, ...],
 *	 "servers":[{"name":"default","connections":{...},"logins":{...},
 *	   "bytes":{...}}, ...],
 *	 "backends":[{"name":"store1","sessions":N,"logins":{...},
 *	   "bytes":{...}}, ...]}
 *   backends
 *	{"ok":true,"backends":[{"name":"store1","address":"10.0.1.11:143",
 *	 "pool":"stores"|null,"state":"up"|"down"|"disabled","sessions":N,
 *	 "last_check":1700000000|null}, ...]}
 *   backend enable NAME | backend disable NAME
 *	{"ok":true,"backend":"store1","state":"up"|"down"|"disabled"}
 *   kick USER | kick ID
 *	{"ok":true,"kicked":2}; none matching: {"ok":false,"kicked":0,
 *	 "error":"no session matches ..."}
 *   reload
 *	{"ok":true,"reloaded":["/etc/imapproxy/imapproxy.conf", ...],
 *	 "listeners":{"opened":["0.0.0.0:1143"],"closed":[...]}}
 *	{"ok":false,"error":"reload failed: the running configuration stays",
 *	 "errors":["/etc/imapproxy/x.acl:3: ...", ...]}
 *   acl test SERVER IP [USER]
 *	{"ok":true,"server":"default","client":"192.0.2.7","user":null,
 *	 "decision":"allow"|"deny","rule":"/etc/a.acl:3: deny ..."|"default",
 *	 "domain":null,"country":null,"asn":null}
 *   metrics
 *	Prometheus text exposition format 0.0.4.
 * Anything else, a line too long, or no line in time:
 *	{"ok":false,"error":"..."}
 */
#ifndef STATSOCK_H
#define STATSOCK_H

#include <stddef.h>

#include <ev.h>

struct conf;
struct statsock;
struct supervisor;

/* Longest request line, and how long a client may take to send it. */
#define STATS_MAX_REQUEST	1024
#define STATS_REQUEST_TIMEOUT	5.0
/* How long a client may take to read its answer. */
#define STATS_ANSWER_TIMEOUT	30.0
/* How long to wait for a client's EOF once it has its answer. */
#define STATS_DRAIN_TIMEOUT	1.0
/* How long to stop accepting when out of descriptors. */
#define STATS_ACCEPT_PAUSE	0.1
/* Clients served at once; more wait in the listen queue. */
#define STATS_MAX_CLIENTS	64

/*
 * Binds conf->stats_socket with its mode and group (before privileges
 * are dropped), replacing a stale socket but not a live one.  NULL with
 * a message in err.
 */
struct statsock	*statsock_open(struct supervisor *sv, const struct conf *conf,
		    char *err, size_t errlen);
void		 statsock_start(struct statsock *st, struct ev_loop *loop);
/* Closes the socket and every client, removes the file; accepts NULL. */
void		 statsock_close(struct statsock **stp);

#endif
