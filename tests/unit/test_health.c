/*
 * health.c against a scripted back end on a loopback port, driven from
 * the same libev loop as the checker: each accepted connection plays
 * one script step (greet, greet with BYE, greet with junk, stay silent,
 * close, refuse STARTTLS) in plaintext, implicit TLS or STARTTLS.  The
 * up flag is sampled at each accept, when the checker has given its
 * verdict on the previous connection and not yet on this one, so the
 * tests see it after every single check: down after exactly HEALTH_FALL
 * failures, up after exactly HEALTH_RISE successes, and unmoved by an
 * alternating pattern.  Log lines are read back from a file.
 * Run it under valgrind too.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <ev.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "bounds.h"
#include "conf.h"
#include "container_of.h"
#include "health.h"
#include "io.h"
#include "log.h"
#include "runtime.h"
#include "stats.h"
#include "tls.h"

#define CONF_PATH	"/etc/imapproxy/test.conf"
#define TEST_PATH_MAX	256
/* Small, so that a script of twenty checks runs in about a second. */
#define TEST_INTERVAL	0.05
#define TEST_TIMEOUT	0.2
/*
 * The first handshakes of a process take over a second under valgrind:
 * the TLS scenarios never wait for this timeout, so it can be long.
 */
#define TEST_TIMEOUT_TLS 5.0
/* Bound on one scenario; the slowest needs about 1.5 s (3 s valgrind). */
#define TEST_DEADLINE	10.0
#define TEST_MAX_STEPS	32
#define TEST_MAX_PEERS	8

/* What the back end does on one accepted connection. */
enum act {
	ACT_OK,		/* "* OK", STARTTLS if asked, answers LOGOUT */
	ACT_BYE,	/* "* BYE" and close */
	ACT_JUNK,	/* a long "* BYE" line with control bytes */
	ACT_SILENT,	/* never greets */
	ACT_EOF,	/* closes at once */
	ACT_NOTLS	/* "* OK", then refuses STARTTLS */
};

struct srv;

struct peer {
	struct srv	*srv;
	ev_io		 io;
	struct conn	 conn;
	enum act	 act;
	int		 in_tls;	/* handshake running */
	int		 used;
	char		 in[512];
	size_t		 inlen;
};

struct srv {
	struct ev_loop		*loop;
	enum conf_backend_tls	 tls;
	struct tls_server	*ts;
	int			 lfd;
	ev_io			 lio;
	ev_timer		 deadline;
	int			 expired;
	const enum act		*script;
	size_t			 nscript;
	size_t			 naccepted;
	int			 seen[TEST_MAX_STEPS + 1];
	struct runtime_backend	*rb;
	struct peer		 peers[TEST_MAX_PEERS];
};

/* Room left for the file names appended to it. */
static char		 tmpdir[TEST_PATH_MAX - 32];
static char		 certpath[TEST_PATH_MAX], keypath[TEST_PATH_MAX];
static char		 logpath[TEST_PATH_MAX];
static struct conf	 fake_conf = { .path = (char *)(uintptr_t)CONF_PATH };

/* A self-signed certificate for store1.test, its own CA. */
static int
write_cert(void)
{
	EVP_PKEY	*k;
	X509		*x;
	X509_NAME	*n;
	X509_EXTENSION	*ext;
	FILE		*f;
	int		 rc = -1;

	if ((k = EVP_EC_gen("P-256")) == NULL)
		return (-1);
	if ((x = X509_new()) == NULL) {
		EVP_PKEY_free(k);
		return (-1);
	}
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)"store1.test", -1, -1, 0);
	X509_set_issuer_name(x, n);
	if ((ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
	    "DNS:store1.test")) == NULL)
		goto out;
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (X509_sign(x, k, EVP_sha256()) == 0 ||
	    (f = fopen(certpath, "w")) == NULL)
		goto out;
	PEM_write_X509(f, x);
	fclose(f);
	if ((f = fopen(keypath, "w")) == NULL)
		goto out;
	PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	rc = 0;
 out:
	X509_free(x);
	EVP_PKEY_free(k);
	return (rc);
}

static int
group_setup(void **state)
{
	const char	*t = getenv("TMPDIR");

	(void)state;
	/* SSL_write to a peer that has gone must not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	if (snprintf(tmpdir, sizeof(tmpdir), "%s/test_health.XXXXXX",
	    t != NULL ? t : "/tmp") >= (int)sizeof(tmpdir) ||
	    mkdtemp(tmpdir) == NULL)
		return (-1);
	snprintf(certpath, sizeof(certpath), "%s/store1.pem", tmpdir);
	snprintf(keypath, sizeof(keypath), "%s/store1.key", tmpdir);
	snprintf(logpath, sizeof(logpath), "%s/log", tmpdir);
	return (write_cert());
}

static int
group_teardown(void **state)
{
	(void)state;
	(void)log_open("stderr", LOG_LEVEL_INFO, "test_health");
	unlink(certpath);
	unlink(keypath);
	unlink(logpath);
	rmdir(tmpdir);
	return (0);
}

/* Each test logs at debug into a fresh file. */
static int
log_setup(void **state)
{
	(void)state;
	unlink(logpath);
	return (log_open(logpath, LOG_LEVEL_DEBUG, "test_health"));
}

/* Lines of the log containing needle. */
static int
log_count(const char *needle)
{
	FILE	*f;
	char	 line[4096];
	int	 n = 0;

	f = fopen(logpath, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, needle) != NULL)
			n++;
	fclose(f);
	return (n);
}

/* Shows the checker's log when a scenario fails. */
static void
log_dump(void)
{
	FILE	*f;
	char	 line[4096];

	if ((f = fopen(logpath, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		fprintf(stderr, "log: %s", line);
	fclose(f);
}

/* A loopback listener on a free port; returns the fd, port in *port. */
static int
listen_any(unsigned int *port)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return (fd);
}

/* [backend store1] at 127.0.0.1:port with the test's timings. */
static void
backend_init(struct conf_backend *be, unsigned int port,
    enum conf_backend_tls tls, const char *server_name)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&be->addr;

	memset(be, 0, sizeof(*be));
	be->name = (char *)(uintptr_t)"store1";
	be->line = 30;
	be->host = (char *)(uintptr_t)"127.0.0.1";
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	be->addrlen = sizeof(*sin);
	snprintf(be->addr_name, sizeof(be->addr_name), "127.0.0.1:%u", port);
	be->tls = tls;
	be->tls_verify = 1;
	be->tls_ca = certpath;
	be->tls_server_name = (char *)(uintptr_t)server_name;
	be->connect_timeout = tls == CONF_BACKEND_TLS_NO ? TEST_TIMEOUT :
	    TEST_TIMEOUT_TLS;
	be->health_check_interval = TEST_INTERVAL;
}

static void
peer_close(struct peer *p)
{
	ev_io_stop(p->srv->loop, &p->io);
	conn_close(&p->conn);
	p->used = 0;
}

static void
peer_watch(struct peer *p)
{
	ev_io_stop(p->srv->loop, &p->io);
	ev_io_set(&p->io, p->conn.fd, p->conn.rd_on);
	ev_io_start(p->srv->loop, &p->io);
}

/*
 * Small writes to a fresh socket: all of it goes at once, unless the
 * checker has given up and gone (closes the peer then).  Returns 0 or
 * -1 when the peer is closed.
 */
static int
peer_say(struct peer *p, const char *s)
{
	if (conn_write(&p->conn, s, strlen(s)) == (ssize_t)strlen(s))
		return (0);
	ERR_clear_error();
	peer_close(p);
	return (-1);
}

static void
peer_start_tls(struct peer *p)
{
	SSL	*ssl;

	ssl = tls_server_ssl(p->srv->ts);
	assert_non_null(ssl);
	assert_int_equal(SSL_set_fd(ssl, p->conn.fd), 1);
	SSL_set_accept_state(ssl);
	p->conn.ssl = ssl;
	p->in_tls = 1;
	p->inlen = 0;
}

/* The greeting of this connection's act; 0 when the peer is gone. */
static int
peer_greet(struct peer *p)
{
	char	junk[300];

	switch (p->act) {
	case ACT_OK:
	case ACT_NOTLS:
		return (peer_say(p, "* OK ready\r\n") == 0);
	case ACT_BYE:
		if (peer_say(p, "* BYE go away\r\n") == -1)
			return (0);
		break;
	case ACT_JUNK:
		memset(junk, 'x', sizeof(junk));
		memcpy(junk, "* BYE \x01\xff", 8);
		memcpy(junk + sizeof(junk) - 3, "\r\n", 3);
		if (peer_say(p, junk) == -1)
			return (0);
		break;
	case ACT_SILENT:
		return (1);
	case ACT_EOF:
		break;
	}
	peer_close(p);
	return (0);
}

static void
peer_line(struct peer *p, const char *line)
{
	if (strcmp(line, "H1 STARTTLS") == 0) {
		if (p->act == ACT_NOTLS)
			(void)peer_say(p, "H1 NO \x1b[31mnot now\r\n");
		else if (peer_say(p, "H1 OK begin TLS\r\n") == 0)
			peer_start_tls(p);
	} else if (strcmp(line, "H2 LOGOUT") == 0) {
		if (peer_say(p, "* BYE logging out\r\n"
		    "H2 OK LOGOUT completed\r\n") == 0)
			peer_close(p);
	} else
		fail_msg("unexpected line \"%s\"", line);
}

static void
peer_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct peer	*p = container_of(w, struct peer, io);
	char		*nl;
	size_t		 len;
	ssize_t		 n;
	int		 r;

	(void)loop;
	(void)revents;
	if (p->in_tls) {
		if ((r = conn_handshake(&p->conn)) == CONN_AGAIN) {
			peer_watch(p);
			return;
		}
		ERR_clear_error();
		if (r < 0) {
			peer_close(p);
			return;
		}
		p->in_tls = 0;
		if (p->srv->tls == CONF_BACKEND_TLS_YES && !peer_greet(p))
			return;
	}
	for (;;) {
		n = conn_read(&p->conn, p->in + p->inlen,
		    sizeof(p->in) - p->inlen - 1);
		if (n == CONN_AGAIN)
			break;
		if (n <= 0) {
			ERR_clear_error();
			peer_close(p);
			return;
		}
		p->inlen += (size_t)n;
		while ((nl = memchr(p->in, '\n', p->inlen)) != NULL) {
			*nl = '\0';
			if (nl > p->in && nl[-1] == '\r')
				nl[-1] = '\0';
			len = (size_t)(nl + 1 - p->in);
			peer_line(p, p->in);
			if (!p->used)
				return;
			if (p->in_tls) {	/* input dropped */
				peer_cb(loop, w, revents);
				return;
			}
			p->inlen -= len;
			memmove(p->in, nl + 1, p->inlen);
		}
	}
	peer_watch(p);
}

static void
srv_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct srv	*srv = container_of(w, struct srv, lio);
	struct peer	*p = NULL;
	size_t		 i, k;
	int		 fd;

	(void)revents;
	if ((fd = accept4(srv->lfd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) == -1)
		return;
	/* The verdict on connection k-1 is in; the one on k is not. */
	k = srv->naccepted++;
	srv->seen[k] = atomic_load(&srv->rb->st->up);
	if (k == srv->nscript) {
		close(fd);
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	for (i = 0; i < TEST_MAX_PEERS && p == NULL; i++)
		if (!srv->peers[i].used)
			p = &srv->peers[i];
	assert_non_null(p);
	memset(p, 0, sizeof(*p));
	p->srv = srv;
	p->used = 1;
	p->act = srv->script[k];
	conn_init(&p->conn, fd);
	ev_io_init(&p->io, peer_cb, fd, EV_READ);
	if (srv->tls == CONF_BACKEND_TLS_YES && p->act != ACT_EOF)
		peer_start_tls(p);
	else if (!peer_greet(p))
		return;
	peer_watch(p);
}

static void
srv_deadline_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct srv	*srv = container_of(t, struct srv, deadline);

	(void)revents;
	srv->expired = 1;
	ev_break(loop, EVBREAK_ALL);
}

/*
 * Runs the checker against script, starting from up_at_start, and
 * checks the up flag seen after each check against want[0..n].
 */
static void
run_script(enum conf_backend_tls tls, const char *server_name,
    int up_at_start, const enum act *script, size_t n, const int *want)
{
	struct srv		 srv;
	struct conf_server	 cs;
	struct conf_cert	 cc;
	struct conf_backend	 be;
	struct runtime_backend	 rb;
	struct stats_backend	 st;
	struct runtime		 rt;
	struct health		*h;
	char			 err[1024];
	unsigned int		 port;
	size_t			 i;

	assert_true(n <= TEST_MAX_STEPS);
	memset(&srv, 0, sizeof(srv));
	srv.loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(srv.loop);
	srv.tls = tls;
	srv.script = script;
	srv.nscript = n;
	srv.lfd = listen_any(&port);
	backend_init(&be, port, tls, server_name);

	memset(&rb, 0, sizeof(rb));
	rb.conf = &be;
	rb.st = &st;
	memset(&st, 0, sizeof(st));
	atomic_init(&st.up, up_at_start);
	atomic_init(&st.enabled, 1);
	srv.rb = &rb;
	if (tls != CONF_BACKEND_TLS_NO) {
		memset(&cs, 0, sizeof(cs));
		cs.name = (char *)(uintptr_t)"default";
		cs.line = 10;
		cc.cert = certpath;
		cc.key = keypath;
		cc.line = 11;
		cs.certs = &cc;
		cs.ncerts = 1;
		if ((srv.ts = tls_server_new(&fake_conf, &cs, err,
		    sizeof(err))) == NULL)
			fail_msg("tls_server_new: %s", err);
		if ((rb.tls = tls_client_new(&fake_conf, &be, err,
		    sizeof(err))) == NULL)
			fail_msg("tls_client_new: %s", err);
	}
	memset(&rt, 0, sizeof(rt));
	rt.backends = &rb;
	rt.nbackends = 1;

	ev_io_init(&srv.lio, srv_accept_cb, srv.lfd, EV_READ);
	ev_io_start(srv.loop, &srv.lio);
	ev_timer_init(&srv.deadline, srv_deadline_cb, TEST_DEADLINE, 0.);
	ev_timer_start(srv.loop, &srv.deadline);
	h = health_start(srv.loop, &rt);
	assert_non_null(h);
	ev_run(srv.loop, 0);
	health_stop(&h);
	assert_null(h);

	for (i = 0; i < TEST_MAX_PEERS; i++)
		if (srv.peers[i].used)
			peer_close(&srv.peers[i]);
	ev_io_stop(srv.loop, &srv.lio);
	ev_timer_stop(srv.loop, &srv.deadline);
	close(srv.lfd);
	ev_loop_destroy(srv.loop);
	tls_server_free(&srv.ts);
	tls_client_free(&rb.tls);

	for (i = 1; i <= n && !srv.expired; i++)
		if (srv.seen[i] != want[i - 1])
			break;
	if (srv.expired || i <= n)
		log_dump();
	if (srv.expired)
		fail_msg("deadline: %zu of %zu checks seen", srv.naccepted,
		    n + 1);
	assert_int_equal(srv.seen[0], up_at_start);
	for (i = 1; i <= n; i++)
		if (srv.seen[i] != want[i - 1])
			fail_msg("after check %zu (%d): up is %d, want %d",
			    i, (int)script[i - 1], srv.seen[i], want[i - 1]);
}

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * Plaintext: every kind of failure counts, down after exactly three,
 * up after exactly two, and alternation moves nothing either way.
 */
static void
test_fall_rise(void **state)
{
	static const enum act	 script[] = {
		ACT_OK, ACT_SILENT, ACT_EOF, ACT_BYE,	/* down */
		ACT_BYE, ACT_OK, ACT_OK,		/* up */
		ACT_EOF, ACT_OK, ACT_SILENT, ACT_OK, ACT_BYE, ACT_OK,
		ACT_JUNK, ACT_EOF, ACT_BYE,		/* down */
		ACT_OK, ACT_EOF, ACT_OK, ACT_SILENT, ACT_OK, ACT_BYE,
		ACT_OK, ACT_OK				/* up */
	};
	static const int	 want[] = {
		1, 1, 1, 0,
		0, 0, 1,
		1, 1, 1, 1, 1, 1,
		1, 1, 0,
		0, 0, 0, 0, 0, 0,
		0, 1
	};
	char			 line[256];

	(void)state;
	assert_int_equal(NELEM(script), NELEM(want));
	run_script(CONF_BACKEND_TLS_NO, NULL, 1, script, NELEM(script),
	    want);

	/* Each change logged once, with the third failure's reason. */
	assert_int_equal(log_count(" is down: "), 2);
	assert_int_equal(log_count("warning: backend store1 (127.0.0.1:"), 2);
	assert_int_equal(log_count("is down: greeting was `* BYE go away` "
	    "(3 consecutive failures)"), 2);
	assert_int_equal(log_count("info: backend store1 is up again"), 2);
	/* Single verdicts at debug, each failure's reason in words. */
	assert_int_equal(log_count("debug: backend store1 (127.0.0.1:"),
	    log_count("health check failed") + log_count("check passed"));
	assert_int_equal(log_count("health check failed"), 11);
	assert_int_equal(log_count("(still down)"), 4);
	assert_true(log_count("failed: no greeting within 0.2s") >= 1);
	assert_true(log_count("failed: connection closed before the "
	    "greeting") >= 1);
	assert_int_equal(log_count("(1 of 3 to be down)"), 5);
	assert_int_equal(log_count("(2 of 3 to be down)"), 2);
	assert_int_equal(log_count("(1 of 2 to be up)"), 5);
	/* Untrusted bytes escaped and cut at 80. */
	snprintf(line, sizeof(line), "failed: greeting was `* BYE "
	    "\\x01\\xff%.*s...` (1 of 3 to be down)", 80 - 8,
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	assert_int_equal(log_count(line), 1);
}

/* A back end that is not listening: refused, down after three. */
static void
test_refused(void **state)
{
	struct conf_backend	 be;
	struct runtime_backend	 rb;
	struct stats_backend	 st;
	struct runtime		 rt;
	struct health		*h;
	struct ev_loop		*loop;
	unsigned int		 port;
	char			 want[256];
	double			 t0;
	int			 fd;

	(void)state;
	fd = listen_any(&port);
	close(fd);
	backend_init(&be, port, CONF_BACKEND_TLS_NO, NULL);
	memset(&rb, 0, sizeof(rb));
	rb.conf = &be;
	rb.st = &st;
	memset(&st, 0, sizeof(st));
	atomic_init(&st.up, 1);
	memset(&rt, 0, sizeof(rt));
	rt.backends = &rb;
	rt.nbackends = 1;
	loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(loop);
	h = health_start(loop, &rt);
	assert_non_null(h);
	t0 = ev_now(loop);
	while (atomic_load(&st.up) && ev_now(loop) - t0 < TEST_DEADLINE)
		ev_run(loop, EVRUN_ONCE);
	health_stop(&h);
	ev_loop_destroy(loop);
	assert_int_equal(atomic_load(&st.up), 0);
	assert_int_equal(log_count("health check failed: connect: "
	    "Connection refused"), HEALTH_FALL - 1);
	snprintf(want, sizeof(want), "warning: backend store1 "
	    "(127.0.0.1:%u) is down: connect: Connection refused "
	    "(3 consecutive failures)", port);
	assert_int_equal(log_count(want), 1);
}

/*
 * Implicit TLS, verified against the test CA and the right name; a
 * back end that closes before the handshake or says BYE over TLS fails.
 */
static void
test_tls(void **state)
{
	static const enum act	 script[] = {
		ACT_OK, ACT_OK,				/* up */
		ACT_EOF, ACT_BYE, ACT_EOF,		/* down */
		ACT_OK
	};
	static const int	 want[] = { 0, 1, 1, 1, 0, 0 };

	(void)state;
	run_script(CONF_BACKEND_TLS_YES, "store1.test", 0, script,
	    NELEM(script), want);
	assert_int_equal(log_count("info: backend store1 is up again"), 1);
	assert_int_equal(log_count("failed: TLS: "), 1);
	assert_int_equal(log_count("failed: greeting was `* BYE go away`"),
	    1);
	assert_int_equal(log_count("is down: TLS: "), 1);
}

/* Implicit TLS with a certificate for another name: refused. */
static void
test_tls_wrong_name(void **state)
{
	static const enum act	 script[] = { ACT_OK, ACT_OK, ACT_OK };
	static const int	 want[] = { 1, 1, 0 };

	(void)state;
	run_script(CONF_BACKEND_TLS_YES, "store2.test", 1, script,
	    NELEM(script), want);
	assert_int_equal(log_count("health check failed: TLS: "), 2);
	assert_int_equal(log_count("is down: TLS: "), 1);
	assert_int_equal(log_count("hostname mismatch"), 3);
	assert_int_equal(log_count("certificate verify failed"), 3);
}

/* STARTTLS: refused counts as down; the full upgrade as up. */
static void
test_starttls(void **state)
{
	static const enum act	 script[] = {
		ACT_NOTLS, ACT_OK, ACT_NOTLS, ACT_NOTLS, ACT_NOTLS,
		ACT_OK, ACT_OK
	};
	static const int	 want[] = { 1, 1, 1, 1, 0, 0, 1 };

	(void)state;
	run_script(CONF_BACKEND_TLS_STARTTLS, "store1.test", 1, script,
	    NELEM(script), want);
	assert_int_equal(log_count("is down: STARTTLS refused: "
	    "`H1 NO \\x1b[31mnot now` (3 consecutive failures)"), 1);
	assert_int_equal(log_count("info: backend store1 is up again"), 1);
}

/* No back end with an interval: nothing runs, nothing changes. */
static void
test_disabled(void **state)
{
	struct conf_backend	 be;
	struct runtime_backend	 rb;
	struct stats_backend	 st;
	struct runtime		 rt;
	struct health		*h;
	struct ev_loop		*loop;
	unsigned int		 port;
	int			 fd;

	(void)state;
	fd = listen_any(&port);
	close(fd);
	backend_init(&be, port, CONF_BACKEND_TLS_NO, NULL);
	be.health_check_interval = 0;
	memset(&rb, 0, sizeof(rb));
	rb.conf = &be;
	rb.st = &st;
	memset(&st, 0, sizeof(st));
	atomic_init(&st.up, 1);
	memset(&rt, 0, sizeof(rt));
	rt.backends = &rb;
	rt.nbackends = 1;
	loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(loop);
	h = health_start(loop, &rt);
	assert_non_null(h);
	/* No watcher of the checker's: the loop has nothing to wait for. */
	ev_run(loop, 0);
	health_stop(&h);
	assert_null(h);
	health_stop(&h);
	health_stop(NULL);
	ev_loop_destroy(loop);
	assert_int_equal(atomic_load(&st.up), 1);
	assert_int_equal(log_count("store1"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_fall_rise, log_setup),
		cmocka_unit_test_setup(test_refused, log_setup),
		cmocka_unit_test_setup(test_tls, log_setup),
		cmocka_unit_test_setup(test_tls_wrong_name, log_setup),
		cmocka_unit_test_setup(test_starttls, log_setup),
		cmocka_unit_test_setup(test_disabled, log_setup)
	};

	return (cmocka_run_group_tests(tests, group_setup, group_teardown));
}
