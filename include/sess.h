/*
 * One client session: its sockets, watchers, timers and state, from
 * accept() to the summary log line.  Driven by one state machine; only
 * sess_set_state() changes the state and sess_close() is the only way
 * out.
 */
#ifndef SESS_H
#define SESS_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdint.h>

#include <ev.h>

#include "bounds.h"
#include "io.h"
#include "relay.h"
#include "sasl.h"

struct worker;
struct runtime;
struct runtime_server;
struct runtime_backend;
struct conf_listen;
struct backend_link;
struct dns_query;

enum sess_state {
	SESS_PROXY,	/* reading the PROXY protocol header */
	SESS_LOOKUP,	/* reverse DNS for the access rules */
	SESS_TLS,	/* front-end handshake (implicit TLS or STARTTLS) */
	SESS_PREAUTH,	/* CAPABILITY ID NOOP STARTTLS LOGIN AUTHENTICATE */
	SESS_SASL,	/* waiting for a continuation line */
	SESS_CONNECT,	/* back-end connect, greeting and TLS */
	SESS_LOGIN,	/* replaying credentials to the back end */
	SESS_CHALLENGE,	/* a back-end challenge relayed: client's answer */
	SESS_RELAY,	/* copy bytes, parse nothing */
	SESS_CLOSING	/* flushing a last reply, then closed */
};

/* Which SASL exchange SESS_SASL is in. */
enum sess_sasl_step {
	SESS_SASL_PLAIN,	/* waiting for the PLAIN response */
	SESS_SASL_LOGIN_USER,	/* AUTHENTICATE LOGIN: user name */
	SESS_SASL_LOGIN_PASS,	/* AUTHENTICATE LOGIN: password */
	SESS_SASL_OAUTH		/* XOAUTH2 or OAUTHBEARER: the response */
};

/*
 * Everything only the pre-authentication phase needs, freed when the
 * session starts relaying so an idle logged-in session stays small.
 * Fixed sizes: client input never makes it grow.
 */
struct sess_preauth {
	char			 in[IMAP_MAX_CMD];	/* client input */
	size_t			 inlen;
	size_t			 cont_at;	/* literal "+" sent for */
	char			 out[SESS_MAX_OUT];	/* our replies */
	size_t			 outlen;
	size_t			 outoff;
	char			 tag[IMAP_MAX_TAG + 1];	/* of the login */
	enum sess_sasl_step	 sasl_step;
	enum sasl_mech		 mech;		/* of the login */
	int			 plain_login;	/* LOGIN, not AUTHENTICATE */
	struct sasl_creds	 creds;		/* wiped once sent */
	char			 domain[256];	/* confirmed reverse name */
	uint32_t		 asn;		/* 0: unknown */
	unsigned char		 secret_digest[32]; /* of the login's secret */
	struct sockaddr_storage	 dst;		/* from a PROXY header */
	int			 has_dst;
	ev_timer		 hold;		/* auth_fail_delay */
	int			 held;		/* answers wait for hold */
	int			 input_waiting;	/* seen while not reading */
	int			 client_eof;	/* it closed its side */
};

struct sess {
	TAILQ_ENTRY(sess)	 entry;		/* worker's list */
	struct worker		*w;
	struct runtime		*rt;		/* the one in force at login */
	struct runtime		*rt_accepted;	/* if another: holds listen */
	struct runtime_server	*srv;
	const struct conf_listen *listen;
	struct runtime_backend	*be;
	enum sess_state		 state;
	char			 id[17];
	struct sockaddr_storage	 peer;		/* the client's address */
	char			 client[INET6_ADDRSTRLEN + 8]; /* ip:port */
	char			*user;		/* once known */
	struct conn		 cconn;		/* client */
	struct conn		 bconn;		/* back end; fd -1 if none */
	ev_io			 cio;
	ev_io			 bio;
	ev_timer		 timer;		/* login, connect or idle */
	ev_tstamp		 started;
	ev_tstamp		 last_active;	/* relay: for idle_timeout */
	struct sess_preauth	*pa;		/* NULL once relaying */
	struct backend_link	*link;		/* back-end login in progress */
	struct dns_query	*dnsq;		/* reverse DNS in progress */
	char			 country[3];	/* ISO code, "" unknown */
	struct relay		 relay;
	uint64_t		 bytes_in;	/* from the client */
	uint64_t		 bytes_out;	/* to the client */
	unsigned int		 bad_cmds;
	unsigned int		 tls_active : 1;	/* client side */
	unsigned int		 starttls_done : 1;
	unsigned int		 starttls_pending : 1; /* OK not yet out */
	unsigned int		 closed : 1;	/* freed after the callback */
	unsigned int		 acl_refused : 1; /* BYE instead of greeting */
	unsigned int		 be_counted : 1; /* counted in be->sessions */
	unsigned int		 ip_counted : 1; /* by the per-IP limit */
	char			*limit_user;	/* counted per user; canonical */
	const char		*close_reason;
};

/*
 * The facts for the access rules are in: refuse, or start TLS or the
 * greeting.  May close the session; check s->closed.
 */
void	sess_start(struct sess *s);
/*
 * The client's address is final (after a PROXY header, if any): apply
 * the per-address limits, then the access rules.  May close.
 */
void	sess_admit(struct sess *s);
/* Takes the accepted fd; the session registers itself with w. */
void	sess_accept(struct worker *w, struct runtime_server *srv,
	    const struct conf_listen *listen, int fd,
	    const struct sockaddr *peer, socklen_t peerlen);
/*
 * Ends the session: stops every watcher, closes both sockets, logs the
 * summary line with reason.  The memory is freed after the current
 * callback (the worker's prepare watcher), so callers may test s->closed.
 * Idempotent.
 */
void	sess_close(struct sess *s, const char *reason);
/*
 * Queues nothing itself: closes once the queued replies are written
 * (bounded by SESS_LINGER).  May close at once; check s->closed.
 */
void	sess_close_after(struct sess *s, const char *reason);
/* STARTTLS answered: drops buffered plaintext, starts the handshake. */
void	sess_starttls(struct sess *s);
/* Frees a session sess_close() has ended (the worker calls it). */
void	sess_free(struct sess *s);
/*
 * Ends the session with "* BYE why" where a line can still go out (not
 * during a handshake; after what is in flight when relaying); reason is
 * for the log.  May close at once; check s->closed.
 */
void	sess_bye(struct sess *s, const char *why, const char *reason);
/* sess_bye() with "Server shutting down". */
void	sess_shutdown(struct sess *s);
void	sess_set_state(struct sess *s, enum sess_state next);
/* Recomputes the client watcher's events for the current state. */
void	sess_update_events(struct sess *s);

/*
 * Answers "tag BAD why" and counts it; fatal, or SESS_MAX_BAD of them,
 * adds "* BYE" and closes.  May close at once; check s->closed.
 */
void	sess_bad(struct sess *s, const char *tag, const char *why, int fatal);
/* Queues a reply line (CRLF added) for the client; -1 if it won't fit. */
int	sess_reply(struct sess *s, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Writes queued replies; returns 0, or -1 after closing the session. */
int	sess_flush(struct sess *s);

/*
 * Holds every answer and stops reading for delay seconds (a failed
 * login's auth_fail_delay), without blocking the worker.
 */
void	sess_hold(struct sess *s, double delay);

/*
 * A login begins: when a reload came since the client connected, the
 * server of the same name in the runtime now in force judges it (its
 * ACL, routes, back ends and limits).
 */
void	sess_adopt_runtime(struct sess *s);

/* Called by backend.c when the login has an outcome. */
void	sess_login_ok(struct sess *s, const char *leftover, size_t len);
void	sess_login_failed(struct sess *s, const char *line);
void	sess_login_unavailable(struct sess *s, const char *why);

/* Sessions alive in the whole process (every worker). */
unsigned int sess_count(void);
/* The name of a state, for logs and the stats socket. */
const char *sess_state_name(enum sess_state);

#endif
