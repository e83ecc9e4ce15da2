/*
 * The session: accept, the front-end TLS handshake, the pre-auth input
 * loop, timers, and the single way out, sess_close().
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "access.h"
#include "addr.h"
#include "backend.h"
#include "conf.h"
#include "guard.h"
#include "container_of.h"
#include "imap.h"
#include "log.h"
#include "preauth.h"
#include "proxyhdr.h"
#include "route.h"
#include "runtime.h"
#include "sess.h"
#include "stats.h"
#include "tls.h"
#include "worker.h"

static atomic_uint	sess_alive;
static atomic_ullong	sess_serial;

static const char *const sess_state_names[] = {
	[SESS_PROXY] = "proxy", [SESS_LOOKUP] = "lookup", [SESS_TLS] = "tls", [SESS_PREAUTH] = "preauth", [SESS_SASL] = "sasl",
	[SESS_CONNECT] = "connect", [SESS_LOGIN] = "login",
	[SESS_CHALLENGE] = "challenge", [SESS_RELAY] = "relay",
	[SESS_CLOSING] = "closing"
};

#define S(x)	(1u << (x))
/* The states each state may move to. */
static const unsigned int sess_next[] = {
	[SESS_PROXY] = S(SESS_LOOKUP) | S(SESS_CLOSING),
	[SESS_LOOKUP] = S(SESS_TLS) | S(SESS_PREAUTH) | S(SESS_CLOSING),
	[SESS_TLS] = S(SESS_PREAUTH) | S(SESS_CLOSING),
	[SESS_PREAUTH] = S(SESS_TLS) | S(SESS_SASL) | S(SESS_CONNECT) |
	    S(SESS_CLOSING),
	[SESS_SASL] = S(SESS_PREAUTH) | S(SESS_CONNECT) | S(SESS_CLOSING),
	[SESS_CONNECT] = S(SESS_LOGIN) | S(SESS_PREAUTH) | S(SESS_CLOSING),
	[SESS_LOGIN] = S(SESS_RELAY) | S(SESS_CHALLENGE) | S(SESS_PREAUTH) |
	    S(SESS_CLOSING),
	[SESS_CHALLENGE] = S(SESS_LOGIN) | S(SESS_CLOSING),
	[SESS_RELAY] = S(SESS_CLOSING),
	[SESS_CLOSING] = 0
};
#undef S

static void	sess_client_cb(struct ev_loop *, ev_io *, int);
static void	sess_backend_cb(struct ev_loop *, ev_io *, int);
static void	sess_timer_cb(struct ev_loop *, ev_timer *, int);
static void	sess_input(struct sess *);
static void	sess_drain(struct sess *);
static void	sess_eof_grace(struct sess *);

/* A client-supplied user name as it may stand in a log line. */
static const char *
sess_safe(const char *user, char *buf, size_t len)
{
	/* "" is an OAUTHBEARER login that names nobody. */
	return user == NULL || *user == '\0' ? "-" :
	    log_escape(buf, len, user, strlen(user));
}

/* The states in which the client's lines are read and answered. */
static int
sess_reads_client(const struct sess *s)
{
	return s->state == SESS_PREAUTH || s->state == SESS_SASL ||
	    s->state == SESS_CHALLENGE;
}

unsigned int
sess_count(void)
{
	return atomic_load(&sess_alive);
}

const char *
sess_state_name(enum sess_state state)
{
	return sess_state_names[state];
}

void
sess_set_state(struct sess *s, enum sess_state next)
{
	if ((sess_next[s->state] & (1u << next)) == 0)
		fatalx("sess=%s: bad transition %s -> %s", s->id,
		    sess_state_names[s->state], sess_state_names[next]);
	log_debug("sess=%s client=%s state %s -> %s", s->id, s->client,
	    sess_state_names[s->state], sess_state_names[next]);
	s->state = next;
	/* Reading again: what was left waiting is read now. */
	if (s->pa != NULL && (next == SESS_PREAUTH || next == SESS_SASL ||
	    next == SESS_CHALLENGE))
		s->pa->input_waiting = 0;
	if (s->pa != NULL && s->pa->client_eof && next == SESS_CONNECT)
		sess_eof_grace(s);
}

static void
sess_watch(struct ev_loop *loop, ev_io *io, int events)
{
	conn_watch(loop, io, io->fd, events);
}

static int
sess_out_pending(const struct sess *s)
{
	return s->pa != NULL && s->pa->outoff < s->pa->outlen;
}

/* Answers wait out a failed login's delay. */
static int
sess_held(const struct sess *s)
{
	return s->pa != NULL && s->pa->held;
}

/* Input is read only while replies have room and no login is running. */
static int
sess_wants_input(const struct sess *s)
{
	return sess_reads_client(s) && !s->starttls_pending && !s->pa->held &&
	    !s->pa->client_eof &&
	    s->pa->outlen - s->pa->outoff < SESS_MAX_OUT / 2 &&
	    s->pa->inlen < sizeof(s->pa->in);
}

/*
 * While the client is not read (a login in progress, a failed login's
 * delay), its socket is still watched, to notice it leave: readable
 * then means EOF, or bytes left for later (then it is watched no more).
 */
static int
sess_watch_gone(const struct sess *s)
{
	return s->pa != NULL && !s->pa->input_waiting && !s->pa->client_eof ?
	    EV_READ : 0;
}

static int
sess_logging_in(const struct sess *s)
{
	return s->state == SESS_CONNECT || s->state == SESS_LOGIN;
}

/*
 * A client that closed its side may be gone for good: the login it
 * left behind gets SESS_EOF_GRACE to finish, not connect_timeout or
 * login_timeout, so closing at once holds nothing of ours for long.
 */
static void
sess_eof_grace(struct sess *s)
{
	if (ev_timer_remaining(s->w->loop, &s->timer) <= SESS_EOF_GRACE)
		return;
	ev_timer_stop(s->w->loop, &s->timer);
	ev_timer_set(&s->timer, SESS_EOF_GRACE, 0.);
	ev_timer_start(s->w->loop, &s->timer);
}

/* The client's socket turned readable while it is not read. */
static void
sess_check_gone(struct sess *s)
{
	char	c;
	ssize_t	n;

	n = recv(s->cconn.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 && (sess_held(s) || !sess_logging_in(s))) {
		sess_close(s, "client closed");
		return;
	}
	if (n == 0) {
		/* A script that sent its commands: finish the login. */
		s->pa->client_eof = 1;
		sess_eof_grace(s);
	}
	if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR) {
		sess_close(s, "client read failed");
		return;
	}
	if (n > 0)
		s->pa->input_waiting = 1;
	sess_update_events(s);
}

void
sess_update_events(struct sess *s)
{
	struct conn	*c = &s->cconn;
	int		 ev = 0;

	switch (s->state) {
	case SESS_PROXY:
		ev = EV_READ;
		break;
	case SESS_LOOKUP:
		break;
	case SESS_TLS:
		ev = c->rd_on;
		break;
	case SESS_CLOSING:
		if (s->pa == NULL)
			return;		/* relay.c flushes the last words */
		/* FALLTHROUGH */
	case SESS_PREAUTH:
	case SESS_SASL:
	case SESS_CONNECT:
	case SESS_LOGIN:
	case SESS_CHALLENGE:
		if (sess_held(s)) {
			ev = sess_watch_gone(s);
			break;
		}
		if (sess_out_pending(s))
			ev |= c->wr_on;
		if (s->pa != NULL && sess_wants_input(s))
			ev |= c->rd_on;
		else if (s->state == SESS_CONNECT || s->state == SESS_LOGIN)
			ev |= sess_watch_gone(s);
		break;
	case SESS_RELAY:
		return;		/* relay.c owns the watchers */
	}
	sess_watch(s->w->loop, &s->cio, ev);
}

int
sess_reply(struct sess *s, const char *fmt, ...)
{
	struct sess_preauth	*pa = s->pa;
	va_list			 ap;
	int			 n;
	size_t			 room;

	if (pa->outoff == pa->outlen)
		pa->outoff = pa->outlen = 0;
	room = sizeof(pa->out) - pa->outlen;
	va_start(ap, fmt);
	n = vsnprintf(pa->out + pa->outlen, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n + 2 >= room)
		return -1;
	memcpy(pa->out + pa->outlen + n, "\r\n", 2);
	pa->outlen += (size_t)n + 2;
	return 0;
}

int
sess_flush(struct sess *s)
{
	struct sess_preauth	*pa = s->pa;
	ssize_t			 n;

	if (pa->held)
		return 0;
	while (pa->outoff < pa->outlen) {
		n = conn_write(&s->cconn, pa->out + pa->outoff,
		    pa->outlen - pa->outoff);
		if (n == CONN_AGAIN)
			break;
		if (n <= 0) {
			sess_close(s, "client write failed");
			return -1;
		}
		pa->outoff += (size_t)n;
		s->bytes_out += (uint64_t)n;
	}
	if (pa->outoff == pa->outlen)
		pa->outoff = pa->outlen = 0;
	return 0;
}

static void
sess_format_client(struct sess *s)
{
	char		 ip[INET6_ADDRSTRLEN];
	unsigned int	 port = 0;

	if (addr_ip_port((struct sockaddr *)&s->peer, ip, sizeof(ip),
	    &port) == -1)
		snprintf(ip, sizeof(ip), "unknown");
	snprintf(s->client, sizeof(s->client),
	    strchr(ip, ':') != NULL ? "[%s]:%u" : "%s:%u", ip, port);
}

/* Ids are unique within a run and unlikely to repeat across runs. */
static void
sess_make_id(struct sess *s)
{
	static unsigned long long	base;
	unsigned long long		b, n;

	if ((b = __atomic_load_n(&base, __ATOMIC_RELAXED)) == 0) {
		if (RAND_bytes((unsigned char *)&b, sizeof(b)) != 1)
			b = (unsigned long long)getpid() << 32;
		b |= 1;
		__atomic_store_n(&base, b, __ATOMIC_RELAXED);
	}
	n = atomic_fetch_add(&sess_serial, 1);
	snprintf(s->id, sizeof(s->id), "%016llx", b + n);
}

static void
sess_begin_tls(struct sess *s)
{
	SSL	*ssl;

	if ((ssl = tls_server_ssl(s->srv->tls)) == NULL ||
	    SSL_set_fd(ssl, s->cconn.fd) != 1) {
		SSL_free(ssl);
		sess_close(s, "out of memory for TLS");
		return;
	}
	SSL_set_accept_state(ssl);
	s->cconn.ssl = ssl;
	s->cconn.rd_on = EV_READ;
	sess_set_state(s, SESS_TLS);
	sess_update_events(s);
}

void
sess_accept(struct worker *w, struct runtime_server *srv,
    const struct conf_listen *listen, int fd, const struct sockaddr *peer,
    socklen_t peerlen)
{
	const struct conf	*conf = w->rt->conf;
	struct sess		*s;
	int			 one = 1;

	STATS_ADD(srv->st->accepted, 1);
	if (atomic_fetch_add(&sess_alive, 1) >= conf->max_connections) {
		atomic_fetch_sub(&sess_alive, 1);
		STATS_ADD(srv->st->refused, 1);
		if ((listen->flags & CONF_LISTEN_TLS) == 0)
			(void)send(fd, "* BYE Too many connections\r\n", 28,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		log_debug("refused a connection: max_connections reached");
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->pa = calloc(1, sizeof(*s->pa))) == NULL) {
		free(s);
		atomic_fetch_sub(&sess_alive, 1);
		close(fd);
		log_warnx("out of memory accepting a connection");
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	STATS_ADD(srv->st->active, 1);
	s->w = w;
	s->rt = runtime_ref(w->rt);
	s->srv = srv;
	s->listen = listen;
	s->state = (listen->flags & CONF_LISTEN_PROXY) ? SESS_PROXY :
	    SESS_LOOKUP;
	s->started = s->last_active = ev_now(w->loop);
	sess_make_id(s);
	memcpy(&s->peer, peer, peerlen < sizeof(s->peer) ? peerlen :
	    sizeof(s->peer));
	sess_format_client(s);
	conn_init(&s->cconn, fd);
	conn_init(&s->bconn, -1);
	ev_io_init(&s->cio, sess_client_cb, fd, 0);
	ev_io_init(&s->bio, sess_backend_cb, -1, 0);
	ev_timer_init(&s->timer, sess_timer_cb,
	    srv->conf->login_timeout, 0.);
	ev_timer_start(w->loop, &s->timer);
	worker_add_sess(w, s);
	log_debug("sess=%s client=%s accepted on %s", s->id, s->client,
	    listen->name);
	if (s->state == SESS_LOOKUP) {
		sess_admit(s);
		return;
	}
	if (!proxyhdr_trusted(s)) {
		log_info("sess=%s client=%s refused: listener %s takes a PROXY "
		    "header only from proxy_protocol_from", s->id, s->client,
		    listen->name);
		sess_close(s, "not a trusted PROXY sender");
		return;
	}
	sess_update_events(s);
}

void
sess_admit(struct sess *s)
{
	if (s->state == SESS_PROXY) {
		sess_format_client(s);
		sess_set_state(s, SESS_LOOKUP);
		sess_update_events(s);
	}
	if (guard_connect(s) == -1) {
		/* Shedding load: no TLS handshake just to say so. */
		if (s->listen->flags & CONF_LISTEN_TLS) {
			sess_close(s, "max_connections_per_ip");
			return;
		}
		(void)sess_reply(s, "* BYE Too many connections from your "
		    "address");
		sess_close_after(s, "max_connections_per_ip");
		return;
	}
	access_connect(s);
}

/* Greets the client, or tells it it is refused. */
static void
sess_greet(struct sess *s)
{
	if (s->acl_refused) {
		(void)sess_reply(s, "* BYE Access denied");
		sess_close_after(s, "access denied");
		return;
	}
	preauth_greeting(s);
	if (sess_flush(s) == 0)
		sess_input(s);
}

void
sess_start(struct sess *s)
{
	s->acl_refused = access_refused_at_connect(s);
	/* Over implicit TLS even a refusal is said after the handshake. */
	if (s->listen->flags & CONF_LISTEN_TLS) {
		sess_begin_tls(s);
		return;
	}
	sess_set_state(s, SESS_PREAUTH);
	sess_greet(s);
}

void
sess_starttls(struct sess *s)
{
	/* Bytes pipelined after STARTTLS in plaintext are never parsed. */
	OPENSSL_cleanse(s->pa->in, s->pa->inlen);
	s->pa->inlen = 0;
	s->pa->cont_at = 0;
	s->starttls_pending = 0;
	s->starttls_done = 1;
	sess_begin_tls(s);
}

/*
 * The client went before its ClientHello was whole, with no protocol
 * error: a balancer's TCP health check or a port scan, not worth an
 * info line or a failure count each.
 */
static int
sess_closed_before_hello(const struct sess *s)
{
	unsigned long	e = ERR_peek_error();

	return SSL_get_state(s->cconn.ssl) == TLS_ST_BEFORE && (e == 0 ||
	    ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING);
}

static void
sess_handshake(struct sess *s)
{
	char	why[256];
	int	r;

	r = conn_handshake(&s->cconn);
	if (r == CONN_AGAIN) {
		sess_update_events(s);
		return;
	}
	if (r < 0 && sess_closed_before_hello(s)) {
		log_debug("sess=%s client=%s closed before a whole TLS "
		    "ClientHello", s->id, s->client);
		sess_close(s, "closed before TLS");
		return;
	}
	if (r < 0) {
		tls_error(s->cconn.ssl, why, sizeof(why));
		log_info("sess=%s client=%s TLS handshake failed: %s", s->id,
		    s->client, why);
		STATS_ADD(s->srv->st->tls_failures, 1);
		sess_close(s, "TLS handshake failed");
		return;
	}
	s->tls_active = 1;
	log_debug("sess=%s client=%s %s established", s->id, s->client,
	    tls_version(s->cconn.ssl));
	sess_set_state(s, SESS_PREAUTH);
	if (!s->starttls_done) {
		sess_greet(s);
		return;
	}
	if (sess_flush(s) == 0)
		sess_input(s);
}

/* Drops n bytes from the front of the input, wiping what they held. */
static void
sess_consume(struct sess *s, size_t n)
{
	struct sess_preauth	*pa = s->pa;

	memmove(pa->in, pa->in + n, pa->inlen - n);
	OPENSSL_cleanse(pa->in + pa->inlen - n, n);
	pa->inlen -= n;
	pa->cont_at = 0;
}

static void
sess_hold_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct sess	*s = t->data;

	(void)revents;
	s->pa->held = 0;
	s->pa->input_waiting = 0;
	/* The client callback writes what waited and reads on. */
	ev_feed_event(loop, &s->cio, EV_WRITE);
}

void
sess_hold(struct sess *s, double delay)
{
	if (delay <= 0.)
		return;
	s->pa->held = 1;
	ev_timer_init(&s->pa->hold, sess_hold_cb, delay, 0.);
	s->pa->hold.data = s;
	ev_timer_start(s->w->loop, &s->pa->hold);
	sess_update_events(s);
}

/* Ends a failed login's delay early: the session is on its way out. */
static void
sess_unhold(struct sess *s)
{
	if (s->pa == NULL)
		return;
	ev_timer_stop(s->w->loop, &s->pa->hold);
	s->pa->held = 0;
}

/* Sends a last line and closes once it is written. */
void
sess_close_after(struct sess *s, const char *reason)
{
	sess_unhold(s);
	s->close_reason = reason;
	if (s->state != SESS_CLOSING)
		sess_set_state(s, SESS_CLOSING);
	ev_timer_stop(s->w->loop, &s->timer);
	ev_timer_set(&s->timer, SESS_LINGER, 0.);
	ev_timer_start(s->w->loop, &s->timer);
	if (sess_flush(s) == -1)
		return;
	if (!sess_out_pending(s)) {
		sess_close(s, reason);
		return;
	}
	sess_update_events(s);
}

void
sess_bad(struct sess *s, const char *tag, const char *why, int fatal)
{
	s->bad_cmds++;
	(void)sess_reply(s, "%s BAD %s", tag, why);
	if (fatal) {
		(void)sess_reply(s, "* BYE %s", why);
		sess_close_after(s, why);
	} else if (s->bad_cmds >= SESS_MAX_BAD) {
		(void)sess_reply(s, "* BYE Too many invalid commands");
		sess_close_after(s, "too many invalid commands");
	}
}

/* One step of input; returns 1 when more may follow, 0 to wait. */
static int
sess_input_step(struct sess *s, struct imap_cmd *cmd)
{
	struct sess_preauth	*pa = s->pa;
	size_t			 linelen, used;
	enum imap_result	 r;

	if (s->state == SESS_SASL || s->state == SESS_CHALLENGE) {
		r = imap_parse_line(pa->in, pa->inlen, &linelen, &used);
		if (r == IMAP_AGAIN)
			return 0;
		if (r == IMAP_BAD) {
			sess_bad(s, pa->tag, "Line too long", 1);
			return 0;
		}
		if (s->state == SESS_SASL)
			preauth_sasl_line(s, pa->in, linelen);
		else
			backend_challenge_answer(s, pa->in, linelen);
		if (s->closed)
			return 0;
		sess_consume(s, used);
		return 1;
	}
	r = imap_parse(cmd, pa->in, pa->inlen);
	if (r == IMAP_AGAIN) {
		if (cmd->cont && cmd->cont_at != pa->cont_at) {
			(void)sess_reply(s, "+ Ready for literal data");
			pa->cont_at = cmd->cont_at;
		}
		return 0;
	}
	if (r == IMAP_BAD) {
		if (!cmd->fatal)
			sess_consume(s, cmd->len);
		sess_bad(s, cmd->tag, cmd->err, cmd->fatal);
		return !s->closed && s->state == SESS_PREAUTH;
	}
	sess_consume(s, cmd->len);
	preauth_command(s, cmd);
	/* The parser's copy of a login holds the password. */
	if (strcmp(cmd->name, "LOGIN") == 0 ||
	    strcmp(cmd->name, "AUTHENTICATE") == 0)
		OPENSSL_cleanse(cmd, sizeof(*cmd));
	return 1;
}

/* Parses and answers buffered commands while there is room to reply. */
static void
sess_process(struct sess *s)
{
	struct imap_cmd	*cmd = s->w->cmd;
	int		 more = 1;

	while (more && !s->closed && s->pa->inlen > 0 &&
	    sess_reads_client(s) && !s->starttls_pending && !s->pa->held &&
	    s->pa->outlen - s->pa->outoff < SESS_MAX_OUT / 2)
		more = sess_input_step(s, cmd);
}

/* Reads what the client sent, answers it, and writes the answers. */
static void
sess_input(struct sess *s)
{
	struct sess_preauth	*pa;
	ssize_t			 n;

	do {
		pa = s->pa;
		if (!sess_wants_input(s))
			break;
		n = conn_read(&s->cconn, pa->in + pa->inlen,
		    sizeof(pa->in) - pa->inlen);
		if (n == CONN_AGAIN)
			break;
		if (n == 0) {
			pa->client_eof = 1;
			break;
		}
		if (n < 0) {
			sess_close(s, "client read failed");
			return;
		}
		pa->inlen += (size_t)n;
		s->bytes_in += (uint64_t)n;
		sess_process(s);
		if (s->closed || s->state == SESS_CLOSING || s->pa == NULL)
			break;
	} while (conn_pending(&s->cconn));
	sess_drain(s);
}

/*
 * The client closed its side (a script piping commands in) and all it
 * sent that can be answered was: what is left is no whole command.
 */
static int
sess_eof_answered(const struct sess *s)
{
	return s->pa != NULL && s->pa->client_eof && sess_reads_client(s) &&
	    !s->pa->held && !s->starttls_pending && !sess_out_pending(s);
}

/* Commands are buffered and the replies have room for more. */
static int
sess_more_buffered(const struct sess *s)
{
	return s->pa->inlen > 0 && sess_reads_client(s) &&
	    !s->starttls_pending && !s->pa->held;
}

/*
 * Writes the replies, and answers the commands still buffered as room
 * frees up: pipelined commands stopped only for reply room must not
 * wait for the client to send more.
 */
static void
sess_drain(struct sess *s)
{
	size_t	before;

	for (;;) {
		if (s->closed || s->state == SESS_RELAY)
			return;
		if (s->state == SESS_CLOSING) {
			if (!sess_out_pending(s))
				sess_close(s, s->close_reason);
			return;
		}
		if (sess_flush(s) == -1)
			return;
		if (s->starttls_pending && !sess_out_pending(s)) {
			sess_starttls(s);
			return;
		}
		if (sess_out_pending(s) || !sess_more_buffered(s))
			break;
		before = s->pa->inlen;
		sess_process(s);
		if (!s->closed && s->pa != NULL && s->pa->inlen == before)
			break;
	}
	if (s->closed || s->state == SESS_RELAY)
		return;
	if (sess_eof_answered(s)) {
		sess_close(s, "client closed");
		return;
	}
	sess_update_events(s);
}

static void
sess_client_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct sess	*s = container_of(io, struct sess, cio);

	(void)loop;
	switch (s->state) {
	case SESS_PROXY:
		proxyhdr_read(s);
		break;
	case SESS_LOOKUP:
		sess_update_events(s);	/* nothing to read yet */
		break;
	case SESS_TLS:
		sess_handshake(s);
		break;
	case SESS_PREAUTH:
	case SESS_SASL:
	case SESS_CHALLENGE:
		if (sess_held(s)) {
			if (revents & EV_READ)
				sess_check_gone(s);
			return;
		}
		if (sess_flush(s) == -1)
			return;
		if (s->starttls_pending && !sess_out_pending(s)) {
			sess_starttls(s);
			return;
		}
		/* Leftover input may now fit, e.g. after a failed login. */
		sess_process(s);
		if (s->closed)
			return;
		if (sess_reads_client(s))
			sess_input(s);
		else if (s->state == SESS_CLOSING && !sess_out_pending(s))
			sess_close(s, s->close_reason);
		break;
	case SESS_CONNECT:
	case SESS_LOGIN:
		if ((revents & EV_READ) && !sess_wants_input(s)) {
			sess_check_gone(s);
			if (s->closed)
				return;
		}
		if (sess_flush(s) == 0)
			sess_update_events(s);
		break;
	case SESS_RELAY:
		relay_client_io(s, revents);
		break;
	case SESS_CLOSING:
		if (s->pa == NULL) {
			if (relay_flush_client(s) == 1)
				sess_close(s, s->close_reason);
			return;
		}
		if (sess_flush(s) == -1)
			return;
		if (!sess_out_pending(s))
			sess_close(s, s->close_reason);
		break;
	}
}

static void
sess_backend_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct sess	*s = container_of(io, struct sess, bio);

	(void)loop;
	switch (s->state) {
	case SESS_CONNECT:
	case SESS_LOGIN:
	case SESS_CHALLENGE:
		backend_io(s, revents);
		break;
	case SESS_RELAY:
		relay_backend_io(s, revents);
		break;
	default:
		ev_io_stop(s->w->loop, io);
		break;
	}
}

static void
sess_idle_check(struct sess *s)
{
	ev_tstamp	timeout = s->srv->conf->idle_timeout;
	ev_tstamp	left;

	left = s->last_active + timeout - ev_now(s->w->loop);
	if (left > 0.) {
		ev_timer_set(&s->timer, left, 0.);
		ev_timer_start(s->w->loop, &s->timer);
		return;
	}
	sess_bye(s, "Idle timeout", "idle timeout");
}

static void
sess_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct sess	*s = container_of(t, struct sess, timer);

	(void)loop;
	(void)revents;
	switch (s->state) {
	case SESS_PROXY:
	case SESS_LOOKUP:
	case SESS_TLS:
	case SESS_PREAUTH:
	case SESS_SASL:
	case SESS_CONNECT:
	case SESS_LOGIN:
	case SESS_CHALLENGE:
		if (s->pa != NULL && s->pa->client_eof)
			sess_close(s, "client closed");
		else
			sess_bye(s, "Login timeout", "login timeout");
		break;
	case SESS_RELAY:
		sess_idle_check(s);
		break;
	case SESS_CLOSING:
		sess_close(s, s->close_reason != NULL ? s->close_reason :
		    "closing timed out");
		break;
	}
}

/* Called once the back end accepted the login. */
void
sess_login_ok(struct sess *s, const char *leftover, size_t len)
{
	struct sess_preauth	*pa = s->pa;
	char			 down[SESS_MAX_OUT + BACKEND_MAX_LINE];
	char			 safe[AUTH_MAX_USER * 4 + 1];
	size_t			 ndown;

	if ((s->user = strdup(pa->creds.user)) == NULL) {
		sess_close(s, "out of memory");
		return;
	}
	guard_ok(s);
	sasl_creds_wipe(&pa->creds);
	/* Our unsent replies go first, then the back end's answer. */
	ndown = pa->outlen - pa->outoff;
	memcpy(down, pa->out + pa->outoff, ndown);
	memcpy(down + ndown, leftover, len);
	ndown += len;
	ev_timer_stop(s->w->loop, &s->timer);
	ev_timer_set(&s->timer, s->srv->conf->idle_timeout, 0.);
	ev_timer_start(s->w->loop, &s->timer);
	s->last_active = ev_now(s->w->loop);
	STATS_ADD(s->srv->st->logins_ok, 1);
	STATS_ADD(s->be->st->logins_ok, 1);
	log_info("sess=%s client=%s user=%s logged in on %s", s->id,
	    s->client, sess_safe(s->user, safe, sizeof(safe)),
	    s->be->conf->name);
	sess_set_state(s, SESS_RELAY);
	backend_link_free(s);
	if (relay_start(s, down, ndown, pa->in, pa->inlen, pa->client_eof) ==
	    -1 || s->closed)
		return;
	OPENSSL_cleanse(pa, sizeof(*pa));
	free(pa);
	s->pa = NULL;
	worker_heap_released(s->w);
}

/* Back to pre-auth after the login attempt ended without a session. */
static void
sess_login_over(struct sess *s)
{
	backend_link_free(s);
	route_release(s);
	guard_user_release(s);
	sasl_creds_wipe(&s->pa->creds);
	sess_set_state(s, SESS_PREAUTH);
	sess_update_events(s);
	/* Pipelined commands wait in the buffer: have the loop resume. */
	ev_feed_event(s->w->loop, &s->cio, EV_WRITE);
}

void
sess_login_failed(struct sess *s, const char *line)
{
	char	safe[AUTH_MAX_USER * 4 + 1];
	double	delay;

	STATS_ADD(s->srv->st->logins_failed, 1);
	STATS_ADD(s->be->st->logins_failed, 1);
	log_info("sess=%s client=%s user=%s login failed on %s", s->id,
	    s->client, sess_safe(s->pa->creds.user, safe, sizeof(safe)),
	    s->be->conf->name);
	/* The back end's own NO, unless it does not fit our replies. */
	if (line == NULL || sess_reply(s, "%s", line) == -1)
		(void)sess_reply(s, "%s NO [AUTHENTICATIONFAILED] "
		    "Authentication failed.", s->pa->tag);
	delay = guard_failed(s);
	sess_login_over(s);
	sess_hold(s, delay);
}

void
sess_login_unavailable(struct sess *s, const char *why)
{
	char	safe[AUTH_MAX_USER * 4 + 1];

	log_warnx("sess=%s client=%s user=%s backend %s unavailable: %s",
	    s->id, s->client, sess_safe(s->pa->creds.user, safe,
	    sizeof(safe)), s->be->conf->name, why);
	(void)sess_reply(s, "%s NO [UNAVAILABLE] Back end unavailable, "
	    "try again later.", s->pa->tag);
	sess_login_over(s);
}

void
sess_bye(struct sess *s, const char *why, const char *reason)
{
	switch (s->state) {
	case SESS_PROXY:
	case SESS_LOOKUP:
	case SESS_TLS:
		sess_close(s, reason);	/* no line can go out mid-handshake */
		break;
	case SESS_PREAUTH:
	case SESS_SASL:
	case SESS_CONNECT:
	case SESS_LOGIN:
	case SESS_CHALLENGE:
		backend_link_free(s);
		s->starttls_pending = 0;
		(void)sess_reply(s, "* BYE %s", why);
		sess_close_after(s, reason);
		break;
	case SESS_RELAY:
		relay_last_words(s, "* BYE ", why);
		sess_set_state(s, SESS_CLOSING);
		s->close_reason = reason;
		ev_timer_stop(s->w->loop, &s->timer);
		ev_timer_set(&s->timer, SESS_LINGER, 0.);
		ev_timer_start(s->w->loop, &s->timer);
		if (relay_flush_client(s) == 1)
			sess_close(s, reason);
		break;
	case SESS_CLOSING:
		break;
	}
}

void
sess_shutdown(struct sess *s)
{
	sess_bye(s, "Server shutting down", "shutdown");
}

/* Adds an ended session's figures to its server's and back end's. */
static void
sess_count_bytes(struct sess *s)
{
	STATS_SUB(s->srv->st->active, 1);
	STATS_ADD(s->srv->st->bytes_in, s->bytes_in);
	STATS_ADD(s->srv->st->bytes_out, s->bytes_out);
	if (s->user != NULL && s->be != NULL) {
		STATS_ADD(s->be->st->bytes_in, s->bytes_in);
		STATS_ADD(s->be->st->bytes_out, s->bytes_out);
	}
}

void
sess_close(struct sess *s, const char *reason)
{
	struct ev_loop	*loop = s->w->loop;
	const char	*tls = s->tls_active ? tls_version(s->cconn.ssl) : "no";
	char		 safe[AUTH_MAX_USER * 4 + 1];

	if (s->closed)
		return;
	s->closed = 1;
	log_info("sess=%s client=%s user=%s server=%s listener=%s backend=%s "
	    "tls=%s in=%llu out=%llu duration=%.3fs: %s", s->id, s->client,
	    sess_safe(s->user, safe, sizeof(safe)), s->srv->conf->name,
	    s->listen->name, s->user != NULL ? s->be->conf->name : "-", tls,
	    (unsigned long long)s->bytes_in, (unsigned long long)s->bytes_out,
	    ev_now(loop) - s->started, reason != NULL ? reason : "closed");
	ev_io_stop(loop, &s->cio);
	ev_io_stop(loop, &s->bio);
	ev_timer_stop(loop, &s->timer);
	access_cancel(s);
	backend_link_free(s);
	route_release(s);
	guard_release(s);
	relay_stop(s);
	conn_close(&s->bconn);
	conn_close(&s->cconn);
	if (s->pa != NULL) {
		ev_timer_stop(loop, &s->pa->hold);
		OPENSSL_cleanse(s->pa, sizeof(*s->pa));
		free(s->pa);
		s->pa = NULL;
	}
	sess_count_bytes(s);
	worker_remove_sess(s->w, s);
	atomic_fetch_sub(&sess_alive, 1);
}

void
sess_adopt_runtime(struct sess *s)
{
	struct runtime_server	*srv;

	if (s->rt == s->w->rt || (srv = runtime_server_find(s->w->rt,
	    s->srv->conf->name)) == NULL)
		return;
	/* s->listen points into the first runtime's configuration. */
	if (s->rt_accepted == NULL)
		s->rt_accepted = s->rt;
	else
		runtime_unref(&s->rt);
	s->rt = runtime_ref(s->w->rt);
	s->srv = srv;
}

void
sess_free(struct sess *s)
{
	runtime_unref(&s->rt);
	runtime_unref(&s->rt_accepted);
	free(s->user);
	free(s);
}
