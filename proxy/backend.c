/*
 * Logging a client in on its back end: connect, TLS, greeting,
 * capabilities, then the client's credentials under the client's tag.
 * XOAUTH2 and OAUTHBEARER responses go on as the client sent them, and
 * a challenge the back end sends after one goes to the client, whose
 * answer comes back here (SESS_CHALLENGE).
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "addr.h"
#include "backend.h"
#include "conf.h"
#include "container_of.h"
#include "imap.h"
#include "log.h"
#include "runtime.h"
#include "sasl.h"
#include "sess.h"
#include "tls.h"
#include "worker.h"

/* Our own tags towards the back end; the login itself uses the client's. */
#define BACKEND_TAG_STARTTLS	"P1"
#define BACKEND_TAG_CAPABILITY	"P2"
#define BACKEND_TAG_ID		"P3"

#define BACKEND_CAP_STARTTLS	0x01
#define BACKEND_CAP_SASL_IR	0x02
#define BACKEND_CAP_AUTH_PLAIN	0x04
#define BACKEND_CAP_LOGINDISABLED 0x08
#define BACKEND_CAP_AUTH_XOAUTH2 0x10
#define BACKEND_CAP_AUTH_OAUTHBEARER 0x20
#define BACKEND_CAP_KNOWN	0x80	/* a capability list was seen */

enum backend_step {
	BACKEND_CONNECTING,
	BACKEND_HANDSHAKE,	/* TLS, implicit or after STARTTLS */
	BACKEND_GREETING,
	BACKEND_STARTTLS,	/* waiting for our STARTTLS's answer */
	BACKEND_CAPABILITY,	/* waiting for our CAPABILITY's answer */
	BACKEND_ID,		/* waiting for our ID's answer */
	BACKEND_AUTH_CONT,	/* waiting for "+" to send the response */
	BACKEND_AUTH,		/* waiting for the tagged answer */
	BACKEND_CHALLENGE	/* a challenge relayed: the client's turn */
};

struct backend_link {
	enum backend_step	 step;
	ev_timer		 timer;		/* connect_timeout */
	struct sess		*s;
	unsigned int		 caps;
	int			 tls_done;
	char			 in[BACKEND_MAX_LINE];
	size_t			 inlen;
	size_t			 scan;		/* next line to look at */
	char			 out[BACKEND_MAX_OUT];
	size_t			 outlen;
	size_t			 outoff;
	char			 sasl[BACKEND_MAX_OUT];	/* the SASL response */
	unsigned int		 challenges;	/* relayed to the client */
};

static void	backend_timeout_cb(struct ev_loop *, ev_timer *, int);
static void	backend_handshake(struct sess *);

void
backend_link_free(struct sess *s)
{
	struct backend_link	*bl = s->link;

	if (bl == NULL)
		return;
	ev_timer_stop(s->w->loop, &bl->timer);
	OPENSSL_cleanse(bl, sizeof(*bl));
	free(bl);
	s->link = NULL;
	if (s->state != SESS_RELAY) {
		ev_io_stop(s->w->loop, &s->bio);
		ev_io_set(&s->bio, -1, 0);
		conn_close(&s->bconn);
	}
}

static void
backend_watch(struct sess *s, int events)
{
	conn_watch(s->w->loop, &s->bio, s->bconn.fd, events);
}

/* Ends the attempt: "what: detail" goes to the log, UNAVAILABLE out. */
static void
backend_fail(struct sess *s, const char *what, const char *detail)
{
	char	why[512];

	snprintf(why, sizeof(why), "%s%s%s", what, detail != NULL ? ": " : "",
	    detail != NULL ? detail : "");
	sess_login_unavailable(s, why);
}

/* Queues a command line (CRLF added) for the back end. */
static int
backend_send(struct backend_link *bl, const char *a, const char *b,
    const char *c)
{
	int	n;

	n = snprintf(bl->out + bl->outlen, sizeof(bl->out) - bl->outlen,
	    "%s%s%s\r\n", a, b, c);
	if (n < 0 || (size_t)n >= sizeof(bl->out) - bl->outlen)
		return -1;
	bl->outlen += (size_t)n;
	return 0;
}

/* Writes queued commands; 1 when all is out, 0 to wait, -1 failed. */
static int
backend_flush(struct sess *s)
{
	struct backend_link	*bl = s->link;
	ssize_t			 n;

	while (bl->outoff < bl->outlen) {
		n = conn_write(&s->bconn, bl->out + bl->outoff,
		    bl->outlen - bl->outoff);
		if (n == CONN_AGAIN)
			return 0;
		if (n <= 0)
			return -1;
		bl->outoff += (size_t)n;
	}
	/* What went out may have been credentials. */
	OPENSSL_cleanse(bl->out, bl->outlen);
	bl->outoff = bl->outlen = 0;
	return 1;
}

/*
 * With implicit TLS we speak first, so the connect is awaited as
 * writability.  Otherwise the greeting is awaited at once: it proves
 * the connect, and a refused one shows as a failed read, which saves
 * a getsockopt(), an epoll change and a wake-up per login.
 */
static int
backend_speaks_first(const struct sess *s)
{
	return s->be->conf->tls == CONF_BACKEND_TLS_YES;
}

static void
backend_update_events(struct sess *s)
{
	struct backend_link	*bl = s->link;
	int			 ev = 0;

	if (bl->step == BACKEND_CONNECTING)
		ev = backend_speaks_first(s) ? EV_WRITE : EV_READ;
	else if (bl->step == BACKEND_HANDSHAKE)
		ev = s->bconn.rd_on;
	else if (bl->step == BACKEND_CHALLENGE) {
		/* The back end speaks again after the client's answer. */
		if (bl->outoff < bl->outlen)
			ev = s->bconn.wr_on;
	} else {
		ev = s->bconn.rd_on;
		if (bl->outoff < bl->outlen)
			ev |= s->bconn.wr_on;
	}
	backend_watch(s, ev);
}

void
backend_start(struct sess *s)
{
	const struct conf_backend	*be = s->be->conf;
	struct backend_link		*bl;
	int				 fd, one = 1;

	sess_set_state(s, SESS_CONNECT);
	if ((bl = calloc(1, sizeof(*bl))) == NULL) {
		sess_login_unavailable(s, "out of memory");
		return;
	}
	bl->s = s;
	s->link = bl;
	ev_timer_init(&bl->timer, backend_timeout_cb, be->connect_timeout,
	    0.);
	ev_timer_start(s->w->loop, &bl->timer);
	fd = socket(be->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		backend_fail(s, "socket", strerror(errno));
		return;
	}
	conn_init(&s->bconn, fd);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&be->addr, be->addrlen) ==
	    -1 && errno != EINPROGRESS) {
		backend_fail(s, "connect", strerror(errno));
		return;
	}
	bl->step = BACKEND_CONNECTING;
	backend_update_events(s);
	sess_update_events(s);
}

static void
backend_start_tls(struct sess *s)
{
	struct backend_link	*bl = s->link;
	SSL			*ssl;

	if ((ssl = tls_client_ssl(s->be->tls)) == NULL ||
	    SSL_set_fd(ssl, s->bconn.fd) != 1) {
		SSL_free(ssl);
		backend_fail(s, "cannot set up TLS", NULL);
		return;
	}
	SSL_set_connect_state(ssl);
	s->bconn.ssl = ssl;
	bl->step = BACKEND_HANDSHAKE;
	/* Nothing sent before the handshake may count after it. */
	OPENSSL_cleanse(bl->in, bl->inlen);
	bl->inlen = 0;
	backend_update_events(s);
}

static void
backend_connected(struct sess *s)
{
	struct backend_link	*bl = s->link;
	int			 err = 0;
	socklen_t		 len = sizeof(err);

	if (getsockopt(s->bconn.fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		backend_fail(s, "connect", strerror(err));
		return;
	}
	if (s->be->conf->tls == CONF_BACKEND_TLS_YES) {
		backend_start_tls(s);
		if (s->link != NULL)
			backend_handshake(s);	/* we speak first */
		return;
	}
	bl->step = BACKEND_GREETING;
	backend_update_events(s);
}

static void
backend_handshake(struct sess *s)
{
	struct backend_link	*bl = s->link;
	char			 why[256];
	int			 r;

	r = conn_handshake(&s->bconn);
	if (r == CONN_AGAIN) {
		backend_update_events(s);
		return;
	}
	if (r < 0) {
		tls_error(s->bconn.ssl, why, sizeof(why));
		backend_fail(s, "TLS handshake failed", why);
		return;
	}
	bl->tls_done = 1;
	if (s->be->conf->tls == CONF_BACKEND_TLS_YES) {
		bl->step = BACKEND_GREETING;
	} else {
		/* Capabilities change once TLS is up (RFC 9051 s.6.2.1). */
		bl->caps = 0;
		bl->step = BACKEND_CAPABILITY;
		(void)backend_send(bl, BACKEND_TAG_CAPABILITY, " CAPABILITY",
		    "");
	}
	if (backend_flush(s) == -1) {
		backend_fail(s, "write failed", NULL);
		return;
	}
	backend_update_events(s);
}

/* Reads the capability words after "CAPABILITY" in line. */
static void
backend_parse_caps(struct backend_link *bl, const char *line, size_t len)
{
	static const struct {
		const char	*word;
		unsigned int	 bit;
	} words[] = {
		{ "STARTTLS", BACKEND_CAP_STARTTLS },
		{ "SASL-IR", BACKEND_CAP_SASL_IR },
		{ "AUTH=PLAIN", BACKEND_CAP_AUTH_PLAIN },
		{ "AUTH=XOAUTH2", BACKEND_CAP_AUTH_XOAUTH2 },
		{ "AUTH=OAUTHBEARER", BACKEND_CAP_AUTH_OAUTHBEARER },
		{ "LOGINDISABLED", BACKEND_CAP_LOGINDISABLED },
	};
	const char	*p, *end = line + len, *w;
	size_t		 i, wl;

	if ((p = memmem(line, len, "CAPABILITY ", 11)) == NULL)
		return;
	bl->caps |= BACKEND_CAP_KNOWN;
	for (p += 11; p < end && *p != ']'; p = w + wl) {
		while (p < end && *p == ' ')
			p++;
		w = p;
		for (wl = 0; w + wl < end && w[wl] != ' ' && w[wl] != ']';)
			wl++;
		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strlen(words[i].word) == wl &&
			    strncasecmp(w, words[i].word, wl) == 0)
				bl->caps |= words[i].bit;
		if (wl == 0)
			break;
	}
}

/*
 * Queues AUTHENTICATE mech with the response in bl->sasl: on the same
 * line with SASL-IR, else once the back end says "+".
 */
static void
backend_send_auth(struct backend_link *bl, const char *tag, const char *mech)
{
	char	verb[32];

	if (bl->caps & BACKEND_CAP_SASL_IR) {
		bl->step = BACKEND_AUTH;
		(void)snprintf(verb, sizeof(verb), " AUTHENTICATE %s ", mech);
		(void)backend_send(bl, tag, verb, bl->sasl);
		OPENSSL_cleanse(bl->sasl, sizeof(bl->sasl));
	} else {
		bl->step = BACKEND_AUTH_CONT;
		(void)snprintf(verb, sizeof(verb), " AUTHENTICATE %s", mech);
		(void)backend_send(bl, tag, verb, "");
	}
}

/* XOAUTH2 and OAUTHBEARER: the client's response, as it came. */
static void
backend_send_oauth(struct sess *s)
{
	struct backend_link	*bl = s->link;
	struct sess_preauth	*pa = s->pa;
	const char		*mech = "OAUTHBEARER";
	unsigned int		 cap = BACKEND_CAP_AUTH_OAUTHBEARER;
	char			 why[64];

	if (pa->mech == SASL_MECH_XOAUTH2) {
		mech = "XOAUTH2";
		cap = BACKEND_CAP_AUTH_XOAUTH2;
	}
	if ((bl->caps & cap) == 0) {
		(void)snprintf(why, sizeof(why), "back end does not offer %s",
		    mech);
		backend_fail(s, why, NULL);
		return;
	}
	/* sasl_oauth_decode() checked it is base64 and not too long. */
	(void)snprintf(bl->sasl, sizeof(bl->sasl), "%s", pa->creds.pass);
	backend_send_auth(bl, pa->tag, mech);
}

/*
 * Queues the login: the OAuth response as it came; for a password,
 * AUTHENTICATE PLAIN when offered, else LOGIN.  The password or the
 * response is wiped from the session once queued.
 */
static void
backend_send_login(struct sess *s)
{
	struct backend_link	*bl = s->link;
	struct sess_preauth	*pa = s->pa;
	char			 user[AUTH_MAX_USER * 2 + 3];
	char			 pass[AUTH_MAX_SECRET * 2 + 3];

	ev_timer_stop(s->w->loop, &bl->timer);
	sess_set_state(s, SESS_LOGIN);
	if (bl->caps & BACKEND_CAP_LOGINDISABLED) {
		backend_fail(s, "back end has LOGINDISABLED", NULL);
		return;
	}
	if (pa->mech != SASL_MECH_PASSWORD) {
		backend_send_oauth(s);
		if (s->link == NULL)
			return;
	} else if (bl->caps & BACKEND_CAP_AUTH_PLAIN) {
		if (sasl_plain_encode(&pa->creds, bl->sasl,
		    sizeof(bl->sasl)) == -1) {
			backend_fail(s, "credentials too long", NULL);
			return;
		}
		backend_send_auth(bl, pa->tag, "PLAIN");
	} else if (pa->creds.authzid[0] == '\0' &&
	    imap_quote(user, sizeof(user), pa->creds.user,
	    strlen(pa->creds.user)) >= 0 &&
	    imap_quote(pass, sizeof(pass), pa->creds.pass,
	    strlen(pa->creds.pass)) >= 0) {
		bl->step = BACKEND_AUTH;
		(void)backend_send(bl, pa->tag, " LOGIN ", user);
		bl->outlen -= 2;	/* append the password to that line */
		(void)backend_send(bl, " ", pass, "");
	} else {
		backend_fail(s, "back end offers no usable login", NULL);
		return;
	}
	OPENSSL_cleanse(user, sizeof(user));
	OPENSSL_cleanse(pass, sizeof(pass));
	OPENSSL_cleanse(pa->creds.pass, sizeof(pa->creds.pass));
}

/*
 * What a line handler wants done with the line: BACKEND_LINE_ENDED means
 * the link is gone (login over or failed).
 */
#define BACKEND_LINE_KEEP	0	/* part of the answer to forward */
#define BACKEND_LINE_DROP	1
#define BACKEND_LINE_STOP	2	/* TLS starts: read nothing more */
#define BACKEND_LINE_ENDED	(-1)

/*
 * Tells the back end who the client really is (forward_id), so its own
 * logs and `doveadm who` show the client and not the proxy.  Dovecot
 * believes it from addresses in login_trusted_networks.
 */
static void
backend_send_id(struct sess *s)
{
	struct backend_link	*bl = s->link;
	struct sockaddr_storage	 local;
	socklen_t		 len = sizeof(local);
	char			 rip[INET6_ADDRSTRLEN], lip[INET6_ADDRSTRLEN];
	char			 cmd[512];
	unsigned int		 rport = 0, lport = 0;

	if (addr_ip_port((struct sockaddr *)&s->peer, rip, sizeof(rip),
	    &rport) == -1)
		snprintf(rip, sizeof(rip), "unknown");
	/* Behind a balancer the client connected to the balancer's address. */
	if (s->pa->has_dst)
		memcpy(&local, &s->pa->dst, sizeof(local));
	else if (getsockname(s->cconn.fd, (struct sockaddr *)&local,
	    &len) == -1)
		local.ss_family = AF_UNSPEC;
	if (addr_ip_port((struct sockaddr *)&local, lip, sizeof(lip),
	    &lport) == -1)
		snprintf(lip, sizeof(lip), "unknown");
	snprintf(cmd, sizeof(cmd), " ID (\"x-session-id\" \"%s\" "
	    "\"x-originating-ip\" \"%s\" \"x-originating-port\" \"%u\" "
	    "\"x-connected-ip\" \"%s\" \"x-connected-port\" \"%u\")",
	    s->id, rip, rport, lip, lport);
	bl->step = BACKEND_ID;
	(void)backend_send(bl, BACKEND_TAG_ID, cmd, "");
}

/* Capabilities are known: forward the client's identity, then log in. */
static int
backend_ready(struct sess *s)
{
	if (s->be->conf->forward_id) {
		backend_send_id(s);
		return BACKEND_LINE_DROP;
	}
	backend_send_login(s);
	return s->link == NULL ? BACKEND_LINE_ENDED : BACKEND_LINE_DROP;
}

/* Handles one line before the login. */
static int
backend_preauth_line(struct sess *s, const char *line, size_t len)
{
	struct backend_link	*bl = s->link;
	const char		*tls = BACKEND_TAG_STARTTLS " OK";
	const char		*cap = BACKEND_TAG_CAPABILITY " OK";

	if (bl->step == BACKEND_GREETING) {
		if (len < 4 || strncasecmp(line, "* OK", 4) != 0) {
			backend_fail(s, "no OK greeting", NULL);
			return BACKEND_LINE_ENDED;
		}
		backend_parse_caps(bl, line, len);
		if (s->be->conf->tls == CONF_BACKEND_TLS_STARTTLS &&
		    !bl->tls_done) {
			bl->step = BACKEND_STARTTLS;
			(void)backend_send(bl, BACKEND_TAG_STARTTLS,
			    " STARTTLS", "");
			return BACKEND_LINE_DROP;
		}
		if ((bl->caps & BACKEND_CAP_KNOWN) == 0) {
			bl->step = BACKEND_CAPABILITY;
			(void)backend_send(bl, BACKEND_TAG_CAPABILITY,
			    " CAPABILITY", "");
			return BACKEND_LINE_DROP;
		}
		return backend_ready(s);
	}
	if (bl->step == BACKEND_ID) {
		/* The answer does not matter; an old server may say BAD. */
		if (line[0] == '*')
			return BACKEND_LINE_DROP;
		backend_send_login(s);
		return s->link == NULL ? BACKEND_LINE_ENDED :
		    BACKEND_LINE_DROP;
	}
	if (bl->step == BACKEND_STARTTLS) {
		if (len >= strlen(tls) && strncasecmp(line, tls,
		    strlen(tls)) == 0) {
			backend_start_tls(s);
			return s->link == NULL ? BACKEND_LINE_ENDED :
			    BACKEND_LINE_STOP;
		}
		if (line[0] == '*')
			return BACKEND_LINE_DROP;
		backend_fail(s, "STARTTLS refused", NULL);
		return BACKEND_LINE_ENDED;
	}
	/* BACKEND_CAPABILITY */
	if (line[0] == '*') {
		backend_parse_caps(bl, line, len);
		return BACKEND_LINE_DROP;
	}
	if (len >= strlen(cap) && strncasecmp(line, cap, strlen(cap)) == 0)
		return backend_ready(s);
	backend_fail(s, "CAPABILITY failed", NULL);
	return BACKEND_LINE_ENDED;
}

/* "tag NO [CODE] ..." keeps the back end's words; others get ours. */
static void
backend_login_refused(struct sess *s, const char *line, size_t len,
    size_t taglen)
{
	char	copy[BACKEND_MAX_LINE];
	int	coded;

	coded = len > taglen + 4 && strncasecmp(line + taglen, " NO [", 5) ==
	    0;
	if (coded) {
		memcpy(copy, line, len);
		copy[len] = '\0';
		sess_login_failed(s, copy);
	} else {
		sess_login_failed(s, NULL);
	}
}

/*
 * A challenge after the response: XOAUTH2 and OAUTHBEARER servers send
 * their error so, and wait for the client's answer before their NO
 * (RFC 7628 s.3.2.3).  It goes to the client as it came, and the
 * session reads the answer (backend_challenge_answer()).  One to a
 * password login, one too many, or one too long for the client's
 * buffer, is cancelled here with "*" instead.
 */
static int
backend_challenge(struct sess *s, const char *line, size_t len)
{
	struct backend_link	*bl = s->link;

	if (s->pa->mech == SASL_MECH_PASSWORD ||
	    bl->challenges >= SASL_MAX_CHALLENGES ||
	    sess_reply(s, "%.*s", (int)len, line) == -1) {
		log_debug("sess=%s client=%s cancelling a back-end challenge",
		    s->id, s->client);
		(void)backend_send(bl, "*", "", "");
		return BACKEND_LINE_DROP;
	}
	log_debug("sess=%s client=%s relaying a back-end challenge", s->id,
	    s->client);
	bl->challenges++;
	bl->step = BACKEND_CHALLENGE;
	sess_set_state(s, SESS_CHALLENGE);
	sess_update_events(s);
	return BACKEND_LINE_DROP;
}

void
backend_challenge_answer(struct sess *s, const char *line, size_t len)
{
	struct backend_link	*bl = s->link;

	sess_set_state(s, SESS_LOGIN);
	bl->step = BACKEND_AUTH;
	/* Only base64 or "*" goes on: nothing else joins our commands. */
	if (!(len == 1 && line[0] == '*') && !sasl_b64_valid(line, len)) {
		line = "*";
		len = 1;
	}
	if (len + 2 > sizeof(bl->out) - bl->outlen) {
		backend_fail(s, "challenge answer too long", NULL);
		return;
	}
	memcpy(bl->out + bl->outlen, line, len);
	memcpy(bl->out + bl->outlen + len, "\r\n", 2);
	bl->outlen += len + 2;
	if (backend_flush(s) == -1) {
		backend_fail(s, "write failed", NULL);
		return;
	}
	backend_update_events(s);
	sess_update_events(s);
}

/* Handles one line of the login's answer. */
static int
backend_auth_line(struct sess *s, const char *line, size_t len)
{
	struct backend_link	*bl = s->link;
	size_t			 taglen = strlen(s->pa->tag);

	if (bl->step == BACKEND_AUTH_CONT && len >= 1 && line[0] == '+') {
		bl->step = BACKEND_AUTH;
		(void)backend_send(bl, bl->sasl, "", "");
		OPENSSL_cleanse(bl->sasl, sizeof(bl->sasl));
		return BACKEND_LINE_DROP;
	}
	if (len >= 1 && line[0] == '+')
		return backend_challenge(s, line, len);
	if (len >= 5 && strncasecmp(line, "* BYE", 5) == 0) {
		backend_fail(s, "back end said BYE", NULL);
		return BACKEND_LINE_ENDED;
	}
	if (len <= taglen || memcmp(line, s->pa->tag, taglen) != 0 ||
	    line[taglen] != ' ')
		return BACKEND_LINE_KEEP; /* untagged: sent on with the OK */
	if (len >= taglen + 3 && strncasecmp(line + taglen, " OK", 3) == 0) {
		/* The answer and anything after it go to the client. */
		sess_login_ok(s, bl->in, bl->inlen);
		return BACKEND_LINE_ENDED;
	}
	backend_login_refused(s, line, len, taglen);
	return BACKEND_LINE_ENDED;
}

/* Handles every complete line; returns -1 when the link is gone. */
static int
backend_lines(struct sess *s)
{
	struct backend_link	*bl = s->link;
	char			*line, *nl;
	size_t			 len, used;
	int			 r;

	/* During a challenge the back end waits; so does what it sent. */
	while (bl->step != BACKEND_CHALLENGE && (nl = memchr(bl->in +
	    bl->scan, '\n', bl->inlen - bl->scan)) != NULL) {
		line = bl->in + bl->scan;
		used = (size_t)(nl - line) + 1;
		len = used - 1;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (bl->step == BACKEND_AUTH || bl->step == BACKEND_AUTH_CONT)
			r = backend_auth_line(s, line, len);
		else
			r = backend_preauth_line(s, line, len);
		if (r == BACKEND_LINE_ENDED)
			return -1;
		if (r == BACKEND_LINE_STOP)
			return 0;
		if (r == BACKEND_LINE_KEEP) {
			bl->scan += used;
			continue;
		}
		memmove(line, line + used, bl->inlen - bl->scan - used);
		bl->inlen -= used;
	}
	if (bl->inlen == sizeof(bl->in)) {
		backend_fail(s, "line too long", NULL);
		return -1;
	}
	return 0;
}

static void
backend_read(struct sess *s)
{
	struct backend_link	*bl = s->link;
	ssize_t			 n;

	do {
		n = conn_read(&s->bconn, bl->in + bl->inlen,
		    sizeof(bl->in) - bl->inlen);
		if (n == CONN_AGAIN)
			break;
		if (n < 0 && bl->step == BACKEND_GREETING && bl->inlen == 0) {
			backend_fail(s, "connect", strerror(errno));
			return;
		}
		if (n <= 0) {
			backend_fail(s, n == 0 ? "connection closed" :
			    "read failed", NULL);
			return;
		}
		bl->inlen += (size_t)n;
		if (backend_lines(s) == -1)
			return;
		if (bl->step == BACKEND_HANDSHAKE) {
			backend_handshake(s);
			return;
		}
	} while (conn_pending(&s->bconn));
	if (backend_flush(s) == -1) {
		backend_fail(s, "write failed", NULL);
		return;
	}
	backend_update_events(s);
}

void
backend_io(struct sess *s, int revents)
{
	struct backend_link	*bl = s->link;

	if (bl == NULL)
		return;
	switch (bl->step) {
	case BACKEND_CONNECTING:
		if (backend_speaks_first(s)) {
			backend_connected(s);
			return;
		}
		bl->step = BACKEND_GREETING;
		backend_read(s);
		return;
	case BACKEND_HANDSHAKE:
		backend_handshake(s);
		return;
	default:
		break;
	}
	if ((revents & s->bconn.wr_on) && bl->outoff < bl->outlen) {
		if (backend_flush(s) == -1) {
			backend_fail(s, "write failed", NULL);
			return;
		}
	}
	if (revents & s->bconn.rd_on) {
		backend_read(s);
		return;
	}
	backend_update_events(s);
}

static void
backend_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct backend_link	*bl = container_of(t, struct backend_link,
				    timer);

	(void)loop;
	(void)revents;
	backend_fail(bl->s, "connect_timeout expired", NULL);
}
