/*
 * Health checks of the back ends, on the main thread's loop.  Each back
 * end with a health_check_interval has one struct health_check: a
 * repeating timer starts a check, which connects without blocking,
 * speaks the back end's TLS mode (implicit TLS, or STARTTLS after the
 * greeting, as a login would) and wants an "* OK" greeting within
 * connect_timeout.  The verdict moves two counters; runtime_backend.up
 * changes only after HEALTH_FALL failures in a row or HEALTH_RISE
 * successes in a row, so one slow answer never moves users.  After a
 * good check a LOGOUT is sent so the back end logs a clean goodbye.
 * Sessions are never looked at: workers read .up for new logins only.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ev.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "bounds.h"
#include "conf.h"
#include "container_of.h"
#include "health.h"
#include "io.h"
#include "log.h"
#include "runtime.h"
#include "stats.h"
#include "tls.h"

/* Our tags; a back end answers them and nothing else. */
#define HEALTH_CMD_STARTTLS	"H1 STARTTLS\r\n"
#define HEALTH_TAG_STARTTLS	"H1 "
#define HEALTH_CMD_LOGOUT	"H2 LOGOUT\r\n"
#define HEALTH_TAG_LOGOUT	"H2 "
/* Bytes of a back end's line quoted in a failure reason. */
#define HEALTH_QUOTE		80

enum health_step {
	HEALTH_IDLE,		/* between checks: no socket */
	HEALTH_CONNECTING,
	HEALTH_HANDSHAKE,	/* TLS, implicit or after STARTTLS */
	HEALTH_GREETING,
	HEALTH_STARTTLS,	/* waiting for H1's tagged answer */
	HEALTH_LOGOUT		/* verdict given; waiting for H2's answer */
};

struct health_check {
	struct health		*h;
	struct runtime_backend	*rb;
	ev_timer		 tick;		/* health_check_interval */
	ev_timer		 timeout;	/* connect_timeout */
	ev_io			 io;
	struct conn		 conn;
	enum health_step	 step;
	int			 greeted;	/* "* OK" seen in plaintext */
	unsigned int		 fails;		/* consecutive failed checks */
	unsigned int		 oks;		/* consecutive good checks */
	char			 in[BACKEND_MAX_LINE];
	size_t			 inlen;
	const char		*out;		/* a command being written */
	size_t			 outlen;
	size_t			 outoff;
};

struct health {
	struct ev_loop		*loop;
	struct health_check	*checks;
	size_t			 nchecks;
};

static void	health_tick_cb(struct ev_loop *, ev_timer *, int);
static void	health_timeout_cb(struct ev_loop *, ev_timer *, int);
static void	health_io_cb(struct ev_loop *, ev_io *, int);
static void	health_input(struct health_check *);
static void	health_fail(struct health_check *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* Stops the I/O watcher and the deadline, closes the socket. */
static void
health_close(struct health_check *hc)
{
	ev_io_stop(hc->h->loop, &hc->io);
	ev_io_set(&hc->io, -1, 0);
	ev_timer_stop(hc->h->loop, &hc->timeout);
	conn_close(&hc->conn);
	hc->inlen = 0;
	hc->out = NULL;
	hc->outlen = hc->outoff = 0;
	hc->greeted = 0;
	hc->step = HEALTH_IDLE;
}

/* Watches what the current step waits for. */
static void
health_watch(struct health_check *hc)
{
	int	ev;

	switch (hc->step) {
	case HEALTH_IDLE:
		return;
	case HEALTH_CONNECTING:
		ev = EV_WRITE;
		break;
	case HEALTH_HANDSHAKE:
		ev = hc->conn.rd_on;
		break;
	default:
		ev = hc->conn.rd_on;
		if (hc->outoff < hc->outlen)
			ev |= hc->conn.wr_on;
		break;
	}
	ev_io_stop(hc->h->loop, &hc->io);
	ev_io_set(&hc->io, hc->conn.fd, ev);
	ev_io_start(hc->h->loop, &hc->io);
}

/*
 * Counts one check's verdict (why is NULL for a good one) and moves
 * runtime_backend.up when enough of them agree.  Only this function
 * writes .up; each change is logged once.
 */
static void
health_record(struct health_check *hc, const char *why)
{
	const struct conf_backend	*be = hc->rb->conf;
	int				 up = atomic_load(&hc->rb->st->up);

	atomic_store(&hc->rb->st->last_check, (long long)ev_now(hc->h->loop));
	if (why == NULL) {
		hc->fails = 0;
		if (up) {
			hc->oks = 0;
			return;
		}
		if (++hc->oks < HEALTH_RISE) {
			log_debug("backend %s (%s): health check passed "
			    "(%u of %d to be up)", be->name, be->addr_name,
			    hc->oks, HEALTH_RISE);
			return;
		}
		atomic_store(&hc->rb->st->up, 1);
		hc->oks = 0;
		log_info("backend %s is up again", be->name);
		return;
	}
	hc->oks = 0;
	if (!up) {
		hc->fails = 0;
		log_debug("backend %s (%s): health check failed: %s "
		    "(still down)", be->name, be->addr_name, why);
		return;
	}
	if (++hc->fails < HEALTH_FALL) {
		log_debug("backend %s (%s): health check failed: %s "
		    "(%u of %d to be down)", be->name, be->addr_name, why,
		    hc->fails, HEALTH_FALL);
		return;
	}
	atomic_store(&hc->rb->st->up, 0);
	log_warnx("backend %s (%s) is down: %s (%u consecutive failures)",
	    be->name, be->addr_name, why, hc->fails);
	hc->fails = 0;
}

/* Ends the check as failed, with a reason for the log. */
static void
health_fail(struct health_check *hc, const char *fmt, ...)
{
	va_list	ap;
	char	why[512];

	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	/* Nothing of this check may linger for the next OpenSSL user. */
	ERR_clear_error();
	health_close(hc);
	health_record(hc, why);
}

/* Ends a TLS step as failed, with OpenSSL's reason or errno's. */
static void
health_fail_tls(struct health_check *hc, const char *what)
{
	char	why[256];

	tls_error(hc->conn.ssl, why, sizeof(why));
	if (strcmp(why, "unknown error") == 0 && hc->conn.ssl_errno != 0)
		(void)snprintf(why, sizeof(why), "%s",
		    strerror(hc->conn.ssl_errno));
	else if (strcmp(why, "unknown error") == 0)
		(void)snprintf(why, sizeof(why), "connection closed");
	health_fail(hc, "TLS: %s%s", what, why);
}

/*
 * The check passed: record it, then say LOGOUT so the back end logs a
 * clean goodbye rather than a reset.  Its answer, or its silence until
 * connect_timeout, only closes the socket.
 */
static void
health_pass(struct health_check *hc)
{
	health_record(hc, NULL);
	hc->inlen = 0;
	hc->out = HEALTH_CMD_LOGOUT;
	hc->outlen = strlen(HEALTH_CMD_LOGOUT);
	hc->outoff = 0;
	hc->step = HEALTH_LOGOUT;
	ev_timer_stop(hc->h->loop, &hc->timeout);
	ev_timer_set(&hc->timeout, hc->rb->conf->connect_timeout, 0.);
	ev_timer_start(hc->h->loop, &hc->timeout);
}

/* Copies an untrusted line into buf for a log message, escaped and cut. */
static const char *
health_quote(char *buf, size_t buflen, const char *line, size_t len)
{
	size_t	n = len > HEALTH_QUOTE ? HEALTH_QUOTE : len;
	size_t	o;

	log_escape(buf, buflen, line, n);
	o = strlen(buf);
	if (n < len && o + 4 <= buflen)
		memcpy(buf + o, "...", 4);
	return buf;
}

static void
health_start_tls(struct health_check *hc)
{
	SSL	*ssl;
	char	 why[256];

	if ((ssl = tls_client_ssl(hc->rb->tls)) == NULL ||
	    SSL_set_fd(ssl, hc->conn.fd) != 1) {
		SSL_free(ssl);
		health_fail(hc, "TLS: cannot set up: %s",
		    tls_error(NULL, why, sizeof(why)));
		return;
	}
	SSL_set_connect_state(ssl);
	hc->conn.ssl = ssl;
	/* Nothing sent before the handshake may count after it. */
	hc->inlen = 0;
	hc->step = HEALTH_HANDSHAKE;
}

static void
health_handshake(struct health_check *hc)
{
	int	r;

	if ((r = conn_handshake(&hc->conn)) == CONN_AGAIN) {
		health_watch(hc);
		return;
	}
	if (r < 0) {
		health_fail_tls(hc, "");
		return;
	}
	if (hc->greeted) {	/* STARTTLS: the greeting came before */
		health_pass(hc);
		health_watch(hc);
		return;
	}
	/* The greeting may already wait, decrypted, inside the SSL. */
	hc->step = HEALTH_GREETING;
	health_input(hc);
}

/* Begins a check: a non-blocking connect to the back end. */
static void
health_check_begin(struct health_check *hc)
{
	const struct conf_backend	*be = hc->rb->conf;
	int				 fd, one = 1;

	ev_timer_set(&hc->timeout, be->connect_timeout, 0.);
	ev_timer_start(hc->h->loop, &hc->timeout);
	fd = socket(be->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		health_fail(hc, "socket: %s", strerror(errno));
		return;
	}
	conn_init(&hc->conn, fd);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	hc->step = HEALTH_CONNECTING;
	if (connect(fd, (const struct sockaddr *)&be->addr, be->addrlen) ==
	    -1 && errno != EINPROGRESS) {
		health_fail(hc, "connect: %s", strerror(errno));
		return;
	}
	health_watch(hc);
}

static void
health_connected(struct health_check *hc)
{
	int		err = 0;
	socklen_t	len = sizeof(err);

	if (getsockopt(hc->conn.fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		health_fail(hc, "connect: %s", strerror(err));
		return;
	}
	if (hc->rb->conf->tls == CONF_BACKEND_TLS_YES) {
		health_start_tls(hc);
		if (hc->step == HEALTH_HANDSHAKE)
			health_handshake(hc);	/* we speak first */
		return;
	}
	hc->step = HEALTH_GREETING;
	health_watch(hc);
}

/*
 * Handles one line (CRLF stripped).  Returns 0 to go on reading, 1
 * when the step changed so what follows in the buffer must not be
 * read as before (the check ended, or TLS starts).
 */
static int
health_line(struct health_check *hc, const char *line, size_t len)
{
	char	q[HEALTH_QUOTE * 4 + 4];

	switch (hc->step) {
	case HEALTH_GREETING:
		if (len < 4 || strncasecmp(line, "* OK", 4) != 0 ||
		    (len > 4 && line[4] != ' ')) {
			health_fail(hc, "greeting was `%s`",
			    health_quote(q, sizeof(q), line, len));
			return 1;
		}
		if (hc->rb->conf->tls != CONF_BACKEND_TLS_STARTTLS) {
			health_pass(hc);
			return 1;
		}
		/* What a login needs: STARTTLS accepted, then TLS. */
		hc->greeted = 1;
		hc->step = HEALTH_STARTTLS;
		hc->out = HEALTH_CMD_STARTTLS;
		hc->outlen = strlen(HEALTH_CMD_STARTTLS);
		hc->outoff = 0;
		return 1;
	case HEALTH_STARTTLS:
		if (len < 3 || strncmp(line, HEALTH_TAG_STARTTLS, 3) != 0)
			return 0;	/* untagged or a continuation */
		if (len < 5 || strncasecmp(line + 3, "OK", 2) != 0 ||
		    (len > 5 && line[5] != ' ')) {
			health_fail(hc, "STARTTLS refused: `%s`",
			    health_quote(q, sizeof(q), line, len));
			return 1;
		}
		health_start_tls(hc);
		return 1;
	case HEALTH_LOGOUT:
		if (len >= 3 && strncmp(line, HEALTH_TAG_LOGOUT, 3) == 0) {
			health_close(hc);
			return 1;
		}
		return 0;
	default:
		return 1;
	}
}

/* Writes the pending command; 0 when done or waiting, -1 failed. */
static int
health_flush(struct health_check *hc)
{
	ssize_t	n;

	while (hc->outoff < hc->outlen) {
		n = conn_write(&hc->conn, hc->out + hc->outoff,
		    hc->outlen - hc->outoff);
		if (n == CONN_AGAIN)
			return 0;
		if (n <= 0)
			return -1;
		hc->outoff += (size_t)n;
	}
	return 0;
}

/* Reads and handles lines until the socket has nothing more. */
static void
health_input(struct health_check *hc)
{
	enum health_step	 step = hc->step;
	char			*nl;
	size_t			 len;
	ssize_t			 n;

	if (health_flush(hc) == -1) {
		if (step == HEALTH_LOGOUT)
			health_close(hc);
		else if (hc->conn.ssl != NULL)
			health_fail_tls(hc, "write: ");
		else
			health_fail(hc, "write: %s", strerror(errno));
		return;
	}
	for (;;) {
		if (hc->inlen == sizeof(hc->in)) {
			if (step == HEALTH_LOGOUT)
				health_close(hc);
			else
				health_fail(hc, "line longer than %zu bytes",
				    sizeof(hc->in));
			return;
		}
		n = conn_read(&hc->conn, hc->in + hc->inlen,
		    sizeof(hc->in) - hc->inlen);
		if (n == CONN_AGAIN)
			break;
		if (n <= 0) {
			if (step == HEALTH_LOGOUT)
				health_close(hc);
			else if (n == -1 && hc->conn.ssl != NULL)
				health_fail_tls(hc, "read: ");
			else if (n == -1)
				health_fail(hc, "read: %s", strerror(errno));
			else
				health_fail(hc, "connection closed %s",
				    step == HEALTH_GREETING ?
				    "before the greeting" :
				    "before the answer to STARTTLS");
			return;
		}
		hc->inlen += (size_t)n;
		while ((nl = memchr(hc->in, '\n', hc->inlen)) != NULL) {
			len = (size_t)(nl - hc->in);
			if (len > 0 && hc->in[len - 1] == '\r')
				len--;
			if (health_line(hc, hc->in, len)) {
				/*
				 * The step changed: whatever followed the
				 * line was sent before our next command
				 * (or before TLS), so it is dropped.
				 */
				hc->inlen = 0;
				if (hc->step == HEALTH_HANDSHAKE)
					health_handshake(hc);
				else
					health_watch(hc);
				return;
			}
			len = (size_t)(nl + 1 - hc->in);
			memmove(hc->in, nl + 1, hc->inlen - len);
			hc->inlen -= len;
		}
	}
	health_watch(hc);
}

static void
health_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct health_check	*hc = container_of(w, struct health_check, io);

	(void)loop;
	(void)revents;
	switch (hc->step) {
	case HEALTH_IDLE:
		ev_io_stop(hc->h->loop, &hc->io);
		break;
	case HEALTH_CONNECTING:
		health_connected(hc);
		break;
	case HEALTH_HANDSHAKE:
		health_handshake(hc);
		break;
	case HEALTH_GREETING:
	case HEALTH_STARTTLS:
	case HEALTH_LOGOUT:
		health_input(hc);
		break;
	}
}

static void
health_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct health_check	*hc = container_of(t, struct health_check,
				    timeout);
	double			 secs = hc->rb->conf->connect_timeout;

	(void)loop;
	(void)revents;
	switch (hc->step) {
	case HEALTH_IDLE:
		break;
	case HEALTH_CONNECTING:
		health_fail(hc, "connect: no answer within %gs", secs);
		break;
	case HEALTH_HANDSHAKE:
		health_fail(hc, "TLS: no handshake within %gs", secs);
		break;
	case HEALTH_GREETING:
		health_fail(hc, "no greeting within %gs", secs);
		break;
	case HEALTH_STARTTLS:
		health_fail(hc, "no answer to STARTTLS within %gs", secs);
		break;
	case HEALTH_LOGOUT:
		health_close(hc);	/* the verdict was given */
		break;
	}
}

static void
health_tick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct health_check	*hc = container_of(t, struct health_check,
				    tick);

	(void)loop;
	(void)revents;
	if (hc->step == HEALTH_LOGOUT)
		health_close(hc);
	/*
	 * With connect_timeout longer than the interval a check may still
	 * wait for its verdict: this tick is skipped, never counted.
	 */
	if (hc->step == HEALTH_IDLE)
		health_check_begin(hc);
}

/* A fraction in [0, 1) from OpenSSL's generator; 0 if it fails. */
static double
health_jitter(void)
{
	uint32_t	r;

	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1) {
		ERR_clear_error();
		return 0.;
	}
	return (double)r / 4294967296.;
}

struct health *
health_start(struct ev_loop *loop, struct runtime *rt)
{
	struct health		*h;
	struct health_check	*hc;
	struct runtime_backend	*rb;
	double			 every;
	size_t			 i, n = 0;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->loop = loop;
	for (i = 0; i < rt->nbackends; i++)
		if (rt->backends[i].conf->health_check_interval > 0)
			n++;
	if (n > 0 && (h->checks = calloc(n, sizeof(*h->checks))) == NULL) {
		free(h);
		return NULL;
	}
	for (i = 0; i < rt->nbackends; i++) {
		rb = &rt->backends[i];
		if ((every = rb->conf->health_check_interval) <= 0)
			continue;
		hc = &h->checks[h->nchecks++];
		hc->h = h;
		hc->rb = rb;
		hc->step = HEALTH_IDLE;
		conn_init(&hc->conn, -1);
		ev_io_init(&hc->io, health_io_cb, -1, 0);
		ev_timer_init(&hc->timeout, health_timeout_cb,
		    rb->conf->connect_timeout, 0.);
		/*
		 * The first check at a random point of the first interval:
		 * many back ends, and several proxies checking the same
		 * one, spread their connections instead of bursting.
		 */
		ev_timer_init(&hc->tick, health_tick_cb, every * health_jitter(),
		    every);
		ev_timer_start(loop, &hc->tick);
	}
	return h;
}

void
health_stop(struct health **hp)
{
	struct health	*h;
	size_t		 i;

	if (hp == NULL || (h = *hp) == NULL)
		return;
	for (i = 0; i < h->nchecks; i++) {
		ev_timer_stop(h->loop, &h->checks[i].tick);
		health_close(&h->checks[i]);
	}
	free(h->checks);
	free(h);
	*hp = NULL;
}
