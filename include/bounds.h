/*
 * Every fixed limit of imapproxy, with the reason for its value.
 * Nothing a client sends makes a buffer grow past these.
 */
#ifndef BOUNDS_H
#define BOUNDS_H

/* RFC 7162 s.4 asks servers to accept command lines of at least 8000 octets. */
#define IMAP_MAX_LINE		8192
/* Pre-auth literals carry a user name, a password or a SASL response. */
#define IMAP_MAX_LITERAL	8192
/* One pre-auth command, its lines and literals together. */
#define IMAP_MAX_CMD		16384
/* Longest tag we echo back; real clients use a few characters. */
#define IMAP_MAX_TAG		64
/* Longest command name (AUTHENTICATE is the longest we know). */
#define IMAP_MAX_ATOM		32
/* Arguments of one pre-auth command, list parentheses included (ID has 60 max). */
#define IMAP_MAX_ARGS		64
/* Nested parenthesised lists in one pre-auth command (ID uses one). */
#define IMAP_MAX_DEPTH		4
/* Bad pre-auth commands before "* BYE" (nginx: imap_client_errors 5). */
#define SESS_MAX_BAD		5
/* RFC 9051 does not bound user names; Dovecot's default is 255. */
#define AUTH_MAX_USER		256
/* Passwords and SASL secrets (OAuth tokens run to a few KiB). */
#define AUTH_MAX_SECRET		8192
/* Back-end SASL challenges relayed to the client in one login: XOAUTH2
 * and OAUTHBEARER servers send one, their error, before the NO (RFC 7628
 * s.3.2.3); more is a loop, and the proxy cancels it. */
#define SASL_MAX_CHALLENGES	2
/* Greeting and line our own side builds: tag + code + text. */
#define SESS_MAX_REPLY		512
/* Pending replies of one pre-auth session; input waits while it fills. */
#define SESS_MAX_OUT		4096
/* A back end's greeting or login answer line before relaying starts. */
#define BACKEND_MAX_LINE	8192
/* Our login command to a back end: tag, verb, base64 PLAIN or quoted. */
#define BACKEND_MAX_OUT		20480
/*
 * Relay buffer per direction: four TLS records' worth, so a bulk
 * transfer toward a TLS client takes one recv() per four records.
 */
#define RELAY_BUF_SIZE		65536
/* A read this large marks a bulk transfer: splice while they last. */
#define RELAY_BULK_MIN		16384
/* Bytes one splice(2) moves into a relay pipe: its default capacity. */
#define RELAY_PIPE_MAX		1048576
/* Configuration: servers, back ends, listeners and certificates. */
#define CONF_MAX_SERVERS	64
#define CONF_MAX_BACKENDS	1024
#define CONF_MAX_LISTEN		32
#define CONF_MAX_CERTS		32
/* Worker threads; more than cores only adds contention. */
#define WORKER_MAX		256
/* Accumulated configuration error text reported at once. */
#define CONF_MAX_ERRTEXT	65536
/* Server, back end and pool names: they appear in logs and stats JSON. */
#define CONF_MAX_NAME		64
/* One item of a configuration list; Debian's libinih reads lines of at
 * most 197 characters (INI_MAX_LINE 200 less CR, LF and NUL). */
#define CONF_MAX_ITEM		256
/* One configuration message, the file's path included. */
#define CONF_MAX_MSG		(4096 + 1024)
/* RFC 9051 puts no bound on resp-text; keep the greeting on one screen. */
#define CONF_MAX_GREETING	200
/* Longest duration in seconds: fits an int and a 32-bit time_t. */
#define CONF_MAX_DURATION	2147483647
/* geoip_db files, dns_servers and proxy_protocol_from networks. */
#define CONF_MAX_GEOIP		8
#define CONF_MAX_DNS		8
#define CONF_MAX_NETS		256
/* Seconds without a login before a worker trims its heap. */
#define WORKER_TRIM_QUIET	1.0
/* Buffers, and pipes, kept on a worker's free lists for the relay. */
#define RELAY_POOL_MAX		16
/* Client addresses and users tracked per [server] for the connection
 * limits and failed logins: twice the default max_connections, so live
 * counts always fit and failure records take what is left. */
#define LIMITER_ENTRIES		131072
/* imapproxyctl's whole exchange, connect to EOF: the daemon gives a
 * slow reader 30 s to take its answer, the client waits as long. */
#define CTLSOCK_TIMEOUT		30
/* A million sessions at ~300 bytes is the largest sane answer. */
#define CTLSOCK_MAX_ANSWER	(64 * 1024 * 1024)
/* How long a closing session may take to flush its last words. */
#define SESS_LINGER		5.0
/* How long a login may still take once its client closed its side. */
#define SESS_EOF_GRACE		2.0

/* One ACL line: a rule with a few hundred comma alternatives fits; longer
 * is a broken or binary file, and the parser's scratch space stays fixed. */
#define ACL_MAX_LINE		8192
/* Selectors ANDed on one ACL rule; real rules use one to three. */
#define ACL_MAX_SELECTORS	32
/* Nested ACL includes: a top file, per-team files and their lists are
 * three levels; the bound also stops runaway recursion. */
#define ACL_MAX_DEPTH		16
/* ACL files opened by one load, so includes repeated in a diamond
 * cannot multiply the work exponentially. */
#define ACL_MAX_FILES		1024
/* Rules of one ACL: ten times the 100,000-line blocklists operators
 * load, about 100 bytes each plus their compiled index. */
#define ACL_MAX_RULES		1000000
/* One ACL message: a path, the offending value (at most a line) and,
 * for a cycle, the include chain; longer ones are cut. */
#define ACL_MAX_MSG		16384

/* Health checks (health.c): consecutive failed checks before a back end
 * is marked down, and consecutive good ones before it is up again; one
 * lost packet or one slow greeting never moves users (haproxy's fall 3,
 * rise 2). */
#define HEALTH_FALL		3
#define HEALTH_RISE		2

/* One routes map line: a user name (AUTH_MAX_USER), "pool:" and a name
 * (CONF_MAX_NAME) with room for a comment; longer is a broken or binary
 * file, and the reader's buffer stays fixed. */
#define ROUTEMAP_MAX_LINE	1024
/* Routes map entries: ten times the million-user maps of issue 5; each
 * takes 11-23 bytes of table and its key plus 5 (2.6 GB at most, so
 * offsets stay 32-bit). */
#define ROUTEMAP_MAX_ENTRIES	10000000
/* Distinct routes targets: each names a back end or a pool, and there
 * are at most CONF_MAX_BACKENDS of either; indexes fit 16 bits. */
#define ROUTEMAP_MAX_TARGETS	(2 * CONF_MAX_BACKENDS)
/* A domain after "@" in a routes key: RFC 1035 s.2.3.4 names and labels. */
#define ROUTEMAP_MAX_DOMAIN	253
#define ROUTEMAP_MAX_LABEL	63
/* One routes map message: the path, at most a line of the file quoted
 * and the canonical key. */
#define ROUTEMAP_MAX_MSG	(4096 + 2 * ROUTEMAP_MAX_LINE)

/* Reverse DNS answers cached per worker: 10,000 clients' worth, a few
 * hundred bytes each; past it the oldest entry goes. */
#define DNS_CACHE_MAX		10000
/* PTR names of one address checked forward (RFC 1912 s.2.1 wants one;
 * more is a misconfigured zone or an attempt to fan out our queries). */
#define DNS_MAX_PTR		4
/* Addresses of one A/AAAA answer compared with the client's; a 512-byte
 * UDP answer holds about 30 A records. */
#define DNS_MAX_ADDRS		64
/* Cache lifetimes in seconds: TTLs are clamped to [MIN, MAX] so that a
 * TTL of 0 cannot make every connection a lookup, nor a huge one pin an
 * answer; NEGATIVE for NXDOMAIN or no record when no SOA says (RFC 2308);
 * TEMPFAIL for timeouts and SERVFAIL, so a broken zone is not asked
 * again for each connection yet recovers soon. */
#define DNS_TTL_MIN		2
#define DNS_TTL_MAX		86400
#define DNS_TTL_NEGATIVE	60
#define DNS_TTL_TEMPFAIL	5

#endif
