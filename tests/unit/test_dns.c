/*
 * dns.c against a real resolver: a dnsmasq child on a free loopback port
 * serves forward-confirmed, spoofed, PTR-less, IPv6, CNAME'd and
 * short-TTL names; a UDP socket of our own that never answers stands in
 * for a dead server.  Covers the answers, their messages, the cache
 * (synchronous hits, TTLs, its bound), cancellation in every phase and
 * dns_free() with queries in flight.  Run it under valgrind too.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <ares.h>
#include <ev.h>

#include "bounds.h"
#include "conf.h"
#include "container_of.h"
#include "dns.h"

#define DNSMASQ		"/usr/sbin/dnsmasq"
#define TEST_PATH_MAX	256
/* The dead server's dns_timeout, and how late its answer may come. */
#define DEAD_TIMEOUT	0.5
#define LATE_MARGIN	0.5

static char		 tmpdir[TEST_PATH_MAX];
static pid_t		 dnsmasq_pid = -1;
static int		 dns_port;
static int		 dead_fd = -1;
static int		 dead_port;
static int		 half_fd = -1;
static int		 half_port;
static char		 dns_server[64];
static char		 dead_server[64];
static char		 half_server[64];

/*
 * The half-dead server: answers every PTR query with HALF_NAME and
 * drops everything else, so a lookup hangs in its forward phase.
 */
#define HALF_NAME	"slow.example.test"
struct half {
	ev_io		 io;
	int		 nptr;		/* PTR queries answered */
	int		 nother;	/* other queries dropped */
};

/* One callback's outcome. */
struct result {
	int			 called;
	int			 ok;
	char			 name[256];
	char			 why[512];
	ev_tstamp		 at;
	struct ev_loop		*loop;
	/* For callbacks that act: cancel themselves, start another. */
	struct dns		*dns;
	struct dns_query	*self;
	struct result		*chain;
	struct sockaddr_storage	 chain_sa;
};

static void
result_cb(void *arg, const char *name, const char *why)
{
	struct result	*r = arg;

	r->called++;
	r->at = ev_now(r->loop);
	r->ok = name != NULL;
	if (name != NULL) {
		assert_null(why);
		snprintf(r->name, sizeof(r->name), "%s", name);
	} else {
		assert_non_null(why);
		snprintf(r->why, sizeof(r->why), "%s", why);
	}
	if (r->self != NULL)
		dns_cancel(r->self);	/* must be a no-op */
	if (r->chain != NULL)
		(void)dns_lookup(r->dns, (struct sockaddr *)&r->chain_sa,
		    result_cb, r->chain);
}

static struct sockaddr_storage
sa_of(const char *ip)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(40000);
	} else {
		assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(40000);
	}
	return ss;
}

static void
conf_for(struct conf *c, char **servers, size_t n, double timeout)
{
	memset(c, 0, sizeof(*c));
	c->dns_servers = servers;
	c->ndns_servers = n;
	c->dns_timeout = timeout;
}

static struct dns *
new_dns(struct ev_loop *loop, const char *server, double timeout)
{
	struct conf	 c;
	struct dns	*dns;
	char		*servers[1], err[256];

	servers[0] = (char *)(uintptr_t)server;
	conf_for(&c, servers, 1, timeout);
	dns = dns_new(loop, &c, err, sizeof(err));
	if (dns == NULL)
		fail_msg("dns_new: %s", err);
	return dns;
}

static void
stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ONE);
}

/* Runs loop until *flag or for at most secs; returns *flag. */
static int
run_until(struct ev_loop *loop, const int *flag, double secs)
{
	ev_timer	guard;

	ev_timer_init(&guard, stop_cb, secs, 0.);
	ev_timer_start(loop, &guard);
	while (!*flag && ev_is_active(&guard))
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &guard);
	return *flag;
}

/* Runs loop for secs whatever happens. */
static void
run_for(struct ev_loop *loop, double secs)
{
	int	never = 0;

	(void)run_until(loop, &never, secs);
}

/* Looks ip up on dns and waits for the answer. */
static void
lookup(struct ev_loop *loop, struct dns *dns, const char *ip,
    struct result *r)
{
	struct sockaddr_storage	 ss = sa_of(ip);

	memset(r, 0, sizeof(*r));
	r->loop = loop;
	(void)dns_lookup(dns, (struct sockaddr *)&ss, result_cb, r);
	if (!run_until(loop, &r->called, 5))
		fail_msg("no answer for %s", ip);
	assert_int_equal(r->called, 1);
}

static void
expect_name(struct ev_loop *loop, struct dns *dns, const char *ip,
    const char *name)
{
	struct result	r;

	lookup(loop, dns, ip, &r);
	if (!r.ok)
		fail_msg("%s: expected %s, got failure \"%s\"", ip, name,
		    r.why);
	assert_string_equal(r.name, name);
}

static void
expect_why(struct ev_loop *loop, struct dns *dns, const char *ip,
    const char *why)
{
	struct result	r;

	lookup(loop, dns, ip, &r);
	if (r.ok)
		fail_msg("%s: expected \"%s\", got name %s", ip, why, r.name);
	assert_string_equal(r.why, why);
}

static double
cache_ttl(struct dns *dns, const char *ip)
{
	struct sockaddr_storage	ss = sa_of(ip);

	return dns_cache_ttl(dns, (struct sockaddr *)&ss);
}

/*
 * The resolver.
 */

/* A PTR query for 1.0.0.127.in-addr.arpa; answered once dnsmasq is up. */
static int
dnsmasq_ready(void)
{
	static const unsigned char q[] = {
		0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
		1, '1', 1, '0', 1, '0', 3, '1', '2', '7',
		7, 'i', 'n', '-', 'a', 'd', 'd', 'r', 4, 'a', 'r', 'p', 'a', 0,
		0, 12, 0, 1
	};
	struct sockaddr_in	 sin;
	struct pollfd		 pfd;
	unsigned char		 buf[512];
	int			 fd, ok = 0;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(dns_port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		return 0;
	if (sendto(fd, q, sizeof(q), 0, (struct sockaddr *)&sin,
	    sizeof(sin)) == (ssize_t)sizeof(q)) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		ok = poll(&pfd, 1, 100) == 1 &&
		    recv(fd, buf, sizeof(buf), 0) > 12 && buf[0] == 0x12;
	}
	close(fd);
	return ok;
}

/* A UDP socket on 127.0.0.1; its port in *port. */
static int
udp_bound(int *port)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

static void
half_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct half		*h = container_of(w, struct half, io);
	struct sockaddr_storage	 from;
	socklen_t		 fromlen = sizeof(from);
	unsigned char		 buf[512];
	const char		*label, *dot;
	ssize_t			 n;
	size_t			 p, len;

	(void)loop;
	(void)revents;
	if ((n = recvfrom(w->fd, buf, 200, 0, (struct sockaddr *)&from,
	    &fromlen)) < 12)
		return;
	for (p = 12; p < (size_t)n && buf[p] != 0; p += 1 + buf[p])
		;
	if (p + 5 > (size_t)n || buf[p + 1] != 0 || buf[p + 2] != 12) {
		h->nother++;
		return;
	}
	p += 5;				/* end of the question */
	if (buf[12] == 1 && buf[13] == '7') {
		/* NXDOMAIN, SOA TTL 900 MINIMUM 45: negative TTL 45. */
		buf[2] = 0x84;
		buf[3] = 0x03;
		buf[6] = buf[7] = buf[10] = buf[11] = 0;
		buf[8] = 0;
		buf[9] = 1;			/* NSCOUNT */
		memcpy(buf + p, "\xc0\x0c\x00\x06\x00\x01\x00\x00\x03\x84"
		    "\x00\x16\x00\x00" "\x00\x00\x00\x01" "\x00\x00\x0e\x10"
		    "\x00\x00\x03\x84" "\x00\x09\x3a\x80" "\x00\x00\x00\x2d",
		    34);
		h->nptr++;
		(void)sendto(w->fd, buf, p + 34, 0, (struct sockaddr *)&from,
		    fromlen);
		return;
	}
	buf[2] = 0x84;			/* QR, AA */
	buf[3] = 0x00;
	buf[7] = 1;			/* ANCOUNT */
	buf[8] = buf[9] = buf[10] = buf[11] = 0;
	memcpy(buf + p, "\xc0\x0c\x00\x0c\x00\x01\x00\x00\x01\x2c", 10);
	p += 12;			/* RDLENGTH below */
	len = 0;
	for (label = HALF_NAME; ; label = dot + 1) {
		dot = strchr(label, '.');
		n = dot != NULL ? dot - label : (ssize_t)strlen(label);
		buf[p + len++] = (unsigned char)n;
		memcpy(buf + p + len, label, (size_t)n);
		len += (size_t)n;
		if (dot == NULL)
			break;
	}
	buf[p + len++] = 0;
	buf[p - 2] = 0;
	buf[p - 1] = (unsigned char)len;
	h->nptr++;
	(void)sendto(w->fd, buf, p + len, 0, (struct sockaddr *)&from, fromlen);
}

static void
half_start(struct ev_loop *loop, struct half *h)
{
	memset(h, 0, sizeof(*h));
	ev_io_init(&h->io, half_cb, half_fd, EV_READ);
	ev_io_start(loop, &h->io);
}

/* The zone dnsmasq serves; see each test for what it expects. */
static const char	*records[] = {
	/* Answer from these records only, NXDOMAIN else. */
	"--local=/example.test/",
	"--local=/127.in-addr.arpa/",
	"--local=/ip6.arpa/",
	/* PTR and A, TTL 300. */
	"--host-record=good.example.test,127.0.0.1,300",
	/* PTR names a host whose A is elsewhere. */
	"--ptr-record=2.0.0.127.in-addr.arpa,spoof.example.test",
	"--host-record=spoof.example.test,127.0.0.9",
	/* 127.0.0.3 has no PTR. */
	"--host-record=six.example.test,fd00::5",
	/* PTR 600, A 120. */
	"--ptr-record=4.0.0.127.in-addr.arpa,mixed.example.test",
	"--host-record=mixed.example.test,127.0.0.4,120",
	/* PTR 600, CNAME 30, A 600. */
	"--ptr-record=6.0.0.127.in-addr.arpa,short.example.test",
	"--cname=short.example.test,tgt.example.test,30",
	"--host-record=tgt.example.test,127.0.0.6",
	/* TTL 1: the floor applies. */
	"--host-record=brief.example.test,127.0.0.10,1",
	/* Upper case and a final dot in the PTR. */
	"--ptr-record=11.0.0.127.in-addr.arpa,Upper.Example.TEST.",
	"--address=/upper.example.test/127.0.0.11",
	/* Two PTR names, only the second confirmed. */
	"--ptr-record=12.0.0.127.in-addr.arpa,bad12.example.test",
	"--ptr-record=12.0.0.127.in-addr.arpa,good12.example.test",
	"--address=/bad12.example.test/127.0.0.99",
	"--address=/good12.example.test/127.0.0.12",
	/* PTR to a name without any address. */
	"--ptr-record=13.0.0.127.in-addr.arpa,noaddr.example.test",
	/* An IPv6 client (fd00::6) whose PTR name has only an A. */
	("--ptr-record=6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.d.f.ip6.arpa,spoof.example.test")
};
#define NRECORDS	(sizeof(records) / sizeof(records[0]))

static int
start_dnsmasq(void)
{
	char		 port[32], pidfile[TEST_PATH_MAX + 32];
	char		 logfile[TEST_PATH_MAX + 32];
	const char	*argv[16 + NRECORDS];
	size_t		 n = 0, i;
	int		 fd, tries, status;

	snprintf(pidfile, sizeof(pidfile), "--pid-file=%s/dnsmasq.pid",
	    tmpdir);
	snprintf(logfile, sizeof(logfile), "--log-facility=%s/dnsmasq.log",
	    tmpdir);
	/* A free port, released just before dnsmasq takes it. */
	if ((fd = udp_bound(&dns_port)) == -1)
		return -1;
	close(fd);
	snprintf(port, sizeof(port), "--port=%d", dns_port);
	argv[n++] = DNSMASQ;
	argv[n++] = "-k";
	argv[n++] = port;
	argv[n++] = "--listen-address=127.0.0.1";
	argv[n++] = "--bind-interfaces";
	argv[n++] = "--no-resolv";
	argv[n++] = "--no-hosts";
	argv[n++] = "--conf-file=/dev/null";
	argv[n++] = pidfile;
	argv[n++] = logfile;
	argv[n++] = "--local-ttl=600";
	if (getuid() == 0)	/* else dnsmasq switches to nobody */
		argv[n++] = "--user=root";
	for (i = 0; i < NRECORDS; i++)
		argv[n++] = records[i];
	argv[n] = NULL;

	if ((dnsmasq_pid = fork()) == -1)
		return -1;
	if (dnsmasq_pid == 0) {
		/* Not left behind by a test that crashes. */
		(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(DNSMASQ, (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	for (tries = 0; tries < 50; tries++) {
		if (dnsmasq_ready())
			return 0;
		if (waitpid(dnsmasq_pid, &status, WNOHANG) == dnsmasq_pid) {
			dnsmasq_pid = -1;
			return -1;
		}
	}
	return -1;
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_dns.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	if (start_dnsmasq() == -1) {
		fprintf(stderr, "cannot start %s\n", DNSMASQ);
		return -1;
	}
	if ((dead_fd = udp_bound(&dead_port)) == -1 ||
	    (half_fd = udp_bound(&half_port)) == -1)
		return -1;
	snprintf(dns_server, sizeof(dns_server), "127.0.0.1:%d", dns_port);
	snprintf(dead_server, sizeof(dead_server), "127.0.0.1:%d", dead_port);
	snprintf(half_server, sizeof(half_server), "127.0.0.1:%d", half_port);
	return 0;
}

static int
teardown(void **state)
{
	char	path[TEST_PATH_MAX + 32];

	(void)state;
	if (dnsmasq_pid > 0) {
		kill(dnsmasq_pid, SIGTERM);
		waitpid(dnsmasq_pid, NULL, 0);
	}
	if (dead_fd != -1)
		close(dead_fd);
	if (half_fd != -1)
		close(half_fd);
	snprintf(path, sizeof(path), "%s/dnsmasq.pid", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/dnsmasq.log", tmpdir);
	unlink(path);
	rmdir(tmpdir);
	ares_library_cleanup();
	return 0;
}

/*
 * The tests.
 */

static void
test_confirmed(void **state)
{
	struct ev_loop	*loop = ev_loop_new(EVFLAG_AUTO);
	struct dns	*dns = new_dns(loop, dns_server, 2);

	(void)state;
	expect_name(loop, dns, "127.0.0.1", "good.example.test");
	expect_name(loop, dns, "fd00::5", "six.example.test");
	expect_name(loop, dns, "127.0.0.11", "upper.example.test");
	expect_name(loop, dns, "127.0.0.12", "good12.example.test");
	expect_name(loop, dns, "127.0.0.6", "short.example.test");
	dns_free(&dns);
	assert_null(dns);
	ev_loop_destroy(loop);
}

static void
test_mapped(void **state)
{
	struct ev_loop	*loop = ev_loop_new(EVFLAG_AUTO);
	struct dns	*dns = new_dns(loop, dns_server, 2);

	(void)state;
	expect_name(loop, dns, "::ffff:127.0.0.1", "good.example.test");
	/* One cache entry for both spellings. */
	assert_true(cache_ttl(dns, "127.0.0.1") > 0);
	assert_int_equal(dns_cache_count(dns), 1);
	dns_free(&dns);
	ev_loop_destroy(loop);
}

static void
test_failures(void **state)
{
	struct ev_loop	*loop = ev_loop_new(EVFLAG_AUTO);
	struct dns	*dns = new_dns(loop, dns_server, 2);
	struct result	 r;

	(void)state;
	expect_why(loop, dns, "127.0.0.2", "not confirmed: spoof.example.test "
	    "resolves to 127.0.0.9, not 127.0.0.2");
	expect_why(loop, dns, "127.0.0.3", "no PTR record for 127.0.0.3");
	expect_why(loop, dns, "fd00::99", "no PTR record for fd00::99");
	expect_why(loop, dns, "127.0.0.13", "not confirmed: "
	    "noaddr.example.test has no A record");
	/* An A-only name does not confirm an IPv6 client. */
	expect_why(loop, dns, "fd00::6", "not confirmed: spoof.example.test "
	    "has no AAAA record");
	/* Outside dnsmasq's zones: REFUSED, a temporary failure. */
	lookup(loop, dns, "10.0.0.9", &r);
	assert_false(r.ok);
	assert_non_null(strstr(r.why, "reverse lookup of 10.0.0.9 failed: "));
	assert_true(cache_ttl(dns, "10.0.0.9") <= DNS_TTL_TEMPFAIL);
	assert_true(cache_ttl(dns, "10.0.0.9") > 0);
	/* Negative answers without an SOA: the fixed negative TTL. */
	assert_true(cache_ttl(dns, "127.0.0.3") > DNS_TTL_NEGATIVE - 2);
	assert_true(cache_ttl(dns, "127.0.0.3") <= DNS_TTL_NEGATIVE);
	/* Not an IP address: at once. */
	{
		struct sockaddr_storage	ss;

		memset(&ss, 0, sizeof(ss));
		ss.ss_family = AF_UNIX;
		memset(&r, 0, sizeof(r));
		r.loop = loop;
		assert_null(dns_lookup(dns, (struct sockaddr *)&ss, result_cb,
		    &r));
		assert_int_equal(r.called, 1);
		assert_string_equal(r.why, "not an IP address");
	}
	dns_free(&dns);
	ev_loop_destroy(loop);
}

static void
test_timeout(void **state)
{
	struct ev_loop		*loop = ev_loop_new(EVFLAG_AUTO);
	struct dns		*dns;
	struct sockaddr_storage	 ss = sa_of("127.0.0.1");
	struct result		 r;
	ev_tstamp		 t0;
	char			 want[128];

	(void)state;
	dns = new_dns(loop, dead_server, DEAD_TIMEOUT);
	ev_now_update(loop);
	t0 = ev_now(loop);
	lookup(loop, dns, "127.0.0.1", &r);
	assert_false(r.ok);
	snprintf(want, sizeof(want), "reverse lookup of 127.0.0.1 timed out "
	    "after %gs", DEAD_TIMEOUT);
	assert_string_equal(r.why, want);
	assert_true(r.at - t0 >= DEAD_TIMEOUT - 0.01);
	assert_true(r.at - t0 <= DEAD_TIMEOUT + LATE_MARGIN);
	/* Cached briefly: the next client from there fails at once. */
	assert_true(cache_ttl(dns, "127.0.0.1") <= DNS_TTL_TEMPFAIL);
	memset(&r, 0, sizeof(r));
	r.loop = loop;
	assert_null(dns_lookup(dns, (struct sockaddr *)&ss, result_cb, &r));
	assert_int_equal(r.called, 1);
	assert_string_equal(r.why, want);
	/* c-ares still retries the timed-out query: dns_free ends it. */
	dns_free(&dns);
	ev_run(loop, 0);	/* returns: no watcher is left */
	ev_loop_destroy(loop);
}

/* The PTR answers, the A never does: the forward phase times out. */
static void
test_timeout_forward(void **state)
{
	struct ev_loop	*loop = ev_loop_new(EVFLAG_AUTO);
	struct dns	*dns = new_dns(loop, half_server, DEAD_TIMEOUT);
	struct half	 h;
	struct result	 r;
	ev_tstamp	 t0;
	char		 want[128];

	(void)state;
	half_start(loop, &h);
	ev_now_update(loop);
	t0 = ev_now(loop);
	lookup(loop, dns, "127.0.0.1", &r);
	assert_false(r.ok);
	snprintf(want, sizeof(want), "forward lookup of " HALF_NAME " timed "
	    "out after %gs", DEAD_TIMEOUT);
	assert_string_equal(r.why, want);
	assert_true(r.at - t0 >= DEAD_TIMEOUT - 0.01);
	assert_true(r.at - t0 <= DEAD_TIMEOUT + LATE_MARGIN);
	assert_int_equal(h.nptr, 1);
	assert_true(h.nother >= 1);
	/* An NXDOMAIN's SOA gives the negative TTL (RFC 2308 s.5). */
	expect_why(loop, dns, "127.0.0.7", "no PTR record for 127.0.0.7");
	assert_true(cache_ttl(dns, "127.0.0.7") > 43);
	assert_true(cache_ttl(dns, "127.0.0.7") <= 45);
	dns_free(&dns);
	ev_io_stop(loop, &h.io);
	ev_run(loop, 0);
	ev_loop_destroy(loop);
}

static void
test_cache_hit(void **state)
{
	struct ev_loop		*loop = ev_loop_new(EVFLAG_AUTO);
	struct dns		*dns = new_dns(loop, dns_server, 2);
	struct sockaddr_storage	 ss = sa_of("127.0.0.1");
	struct result		 r;

	(void)state;
	expect_name(loop, dns, "127.0.0.1", "good.example.test");
	expect_why(loop, dns, "127.0.0.2", "not confirmed: spoof.example.test "
	    "resolves to 127.0.0.9, not 127.0.0.2");
	assert_int_equal(dns_cache_count(dns), 2);
	memset(&r, 0, sizeof(r));
	r.loop = loop;
	assert_null(dns_lookup(dns, (struct sockaddr *)&ss, result_cb, &r));
	assert_int_equal(r.called, 1);
	assert_string_equal(r.name, "good.example.test");
	ss = sa_of("127.0.0.2");
	memset(&r, 0, sizeof(r));
	r.loop = loop;
	assert_null(dns_lookup(dns, (struct sockaddr *)&ss, result_cb, &r));
	assert_int_equal(r.called, 1);
	assert_string_equal(r.why, "not confirmed: spoof.example.test "
	    "resolves to 127.0.0.9, not 127.0.0.2");
	dns_free(&dns);
	ev_loop_destroy(loop);
}

static void
test_cache_ttl(void **state)
{
	struct ev_loop		*loop = ev_loop_new(EVFLAG_AUTO);
	struct dns		*dns = new_dns(loop, dns_server, 2);
	struct sockaddr_storage	 ss = sa_of("127.0.0.10");
	struct result		 r;
	double			 t;

	(void)state;
	expect_name(loop, dns, "127.0.0.1", "good.example.test");
	expect_name(loop, dns, "127.0.0.4", "mixed.example.test");
	expect_name(loop, dns, "127.0.0.6", "short.example.test");
	expect_name(loop, dns, "127.0.0.10", "brief.example.test");
	expect_why(loop, dns, "127.0.0.2", "not confirmed: spoof.example.test "
	    "resolves to 127.0.0.9, not 127.0.0.2");
	/* The smaller of the PTR's and the address's TTL (and CNAME's). */
	t = cache_ttl(dns, "127.0.0.1");
	assert_true(t > 298 && t <= 300);
	t = cache_ttl(dns, "127.0.0.4");
	assert_true(t > 118 && t <= 120);
	t = cache_ttl(dns, "127.0.0.6");
	assert_true(t > 28 && t <= 30);
	t = cache_ttl(dns, "127.0.0.2");
	assert_true(t > 598 && t <= 600);
	/* TTL 1 is raised to the floor, then really expires. */
	t = cache_ttl(dns, "127.0.0.10");
	assert_true(t > DNS_TTL_MIN - 1 && t <= DNS_TTL_MIN);
	memset(&r, 0, sizeof(r));
	r.loop = loop;
	assert_null(dns_lookup(dns, (struct sockaddr *)&ss, result_cb, &r));
	assert_int_equal(r.called, 1);
	run_for(loop, t + 0.2);
	assert_true(cache_ttl(dns, "127.0.0.10") < 0);
	memset(&r, 0, sizeof(r));
	r.loop = loop;
	assert_non_null(dns_lookup(dns, (struct sockaddr *)&ss, result_cb,
	    &r));
	assert_int_equal(r.called, 0);
	assert_true(run_until(loop, &r.called, 5));
	assert_string_equal(r.name, "brief.example.test");
	dns_free(&dns);
	ev_loop_destroy(loop);
}

/* More distinct clients than the cache holds: it stays at its bound. */
static void
test_cache_bound(void **state)
{
	struct ev_loop		*loop = ev_loop_new(EVFLAG_AUTO);
	struct dns		*dns = new_dns(loop, dns_server, 5);
	struct sockaddr_storage	 ss;
	struct result		*r;
	char			 ip[32];
	int			 total = DNS_CACHE_MAX + 300, batch = 250;
	int			 i, j, n, done;

	(void)state;
	assert_non_null(r = calloc((size_t)batch, sizeof(*r)));
	for (i = 0; i < total; i += n) {
		n = total - i < batch ? total - i : batch;
		for (j = 0; j < n; j++) {
			snprintf(ip, sizeof(ip), "127.100.%d.%d",
			    (i + j) / 256, (i + j) % 256);
			ss = sa_of(ip);
			memset(&r[j], 0, sizeof(r[j]));
			r[j].loop = loop;
			(void)dns_lookup(dns, (struct sockaddr *)&ss,
			    result_cb, &r[j]);
		}
		for (done = 0; !done;) {
			for (done = 1, j = 0; j < n; j++)
				if (!r[j].called)
					done = 0;
			if (!done && !run_until(loop, &r[n - 1].called, 5) &&
			    !r[n - 1].called)
				fail_msg("batch at %d does not answer", i);
		}
		for (j = 0; j < n; j++)
			assert_false(r[j].ok);
		assert_true(dns_cache_count(dns) <= DNS_CACHE_MAX);
	}
	assert_int_equal(dns_cache_count(dns), DNS_CACHE_MAX);
	/* The oldest went, the newest stayed. */
	assert_true(cache_ttl(dns, "127.100.0.0") < 0);
	snprintf(ip, sizeof(ip), "127.100.%d.%d", (total - 1) / 256,
	    (total - 1) % 256);
	assert_true(cache_ttl(dns, ip) > 0);
	free(r);
	dns_free(&dns);
	ev_loop_destroy(loop);
}

static void
test_cancel(void **state)
{
	struct ev_loop		*loop = ev_loop_new(EVFLAG_AUTO);
	struct dns		*dns = new_dns(loop, dns_server, 2);
	struct dns		*dead, *half;
	struct sockaddr_storage	 ss = sa_of("127.0.0.1");
	struct dns_query	*q;
	struct result		 r, r2;
	struct half		 h;

	(void)state;
	dead = new_dns(loop, dead_server, DEAD_TIMEOUT);
	half = new_dns(loop, half_server, DEAD_TIMEOUT);
	dns_cancel(NULL);
	memset(&r, 0, sizeof(r));
	r.loop = loop;

	/* Before the PTR answer. */
	assert_non_null(q = dns_lookup(dns, (struct sockaddr *)&ss, result_cb,
	    &r));
	dns_cancel(q);
	run_for(loop, 0.3);
	assert_int_equal(r.called, 0);
	assert_int_equal(dns_cache_count(dns), 0);

	/* After the PTR answer, during the forward lookup. */
	half_start(loop, &h);
	assert_non_null(q = dns_lookup(half, (struct sockaddr *)&ss,
	    result_cb, &r));
	assert_true(run_until(loop, &h.nother, 5));
	assert_int_equal(h.nptr, 1);
	dns_cancel(q);
	run_for(loop, DEAD_TIMEOUT + 0.2);
	assert_int_equal(r.called, 0);
	assert_int_equal(dns_cache_count(half), 0);
	ev_io_stop(loop, &h.io);

	/* A cancelled query past its timeout does not call back either. */
	assert_non_null(q = dns_lookup(dead, (struct sockaddr *)&ss,
	    result_cb, &r));
	dns_cancel(q);
	run_for(loop, DEAD_TIMEOUT + 0.2);
	assert_int_equal(r.called, 0);

	/* Cancelling itself from its callback is harmless. */
	ss = sa_of("127.0.0.1");
	assert_non_null(r.self = dns_lookup(dns, (struct sockaddr *)&ss,
	    result_cb, &r));
	assert_true(run_until(loop, &r.called, 5));
	assert_string_equal(r.name, "good.example.test");

	/* A callback may start another lookup. */
	memset(&r, 0, sizeof(r));
	memset(&r2, 0, sizeof(r2));
	r.loop = r2.loop = loop;
	r.dns = dns;
	r.chain = &r2;
	r.chain_sa = sa_of("fd00::5");
	ss = sa_of("127.0.0.2");
	assert_non_null(dns_lookup(dns, (struct sockaddr *)&ss, result_cb, &r));
	assert_true(run_until(loop, &r2.called, 5));
	assert_int_equal(r.called, 1);
	assert_string_equal(r2.name, "six.example.test");

	dns_free(&half);
	dns_free(&dead);
	dns_free(&dns);
	ev_run(loop, 0);
	ev_loop_destroy(loop);
}

/* dns_free() with queries in every phase: no callback, no leak. */
static void
test_free_pending(void **state)
{
	struct ev_loop		*loop = ev_loop_new(EVFLAG_AUTO);
	struct dns		*dns = new_dns(loop, dns_server, 2);
	struct dns		*dead = new_dns(loop, dead_server, 2);
	struct dns		*half = new_dns(loop, half_server, 2);
	static const char	*ips[] = { "127.0.0.1", "127.0.0.2",
				    "127.0.0.3", "fd00::5", "127.0.0.12" };
	struct sockaddr_storage	 ss;
	struct result		 r[5], rd[5], rh[5];
	struct half		 h;
	int			 before[5];
	size_t			 i;

	(void)state;
	half_start(loop, &h);
	memset(r, 0, sizeof(r));
	memset(rd, 0, sizeof(rd));
	memset(rh, 0, sizeof(rh));
	for (i = 0; i < 5; i++) {
		ss = sa_of(ips[i]);
		r[i].loop = rd[i].loop = rh[i].loop = loop;
		assert_non_null(dns_lookup(dns, (struct sockaddr *)&ss,
		    result_cb, &r[i]));
		assert_non_null(dns_lookup(dead, (struct sockaddr *)&ss,
		    result_cb, &rd[i]));
		assert_non_null(dns_lookup(half, (struct sockaddr *)&ss,
		    result_cb, &rh[i]));
	}
	/* dnsmasq's may be anywhere; the half server's wait for an A. */
	for (i = 0; i < 50 && h.nother < 5; i++)
		run_for(loop, 0.1);
	assert_int_equal(h.nptr, 5);
	for (i = 0; i < 5; i++)
		before[i] = r[i].called;
	dns_free(&dns);
	dns_free(&dead);
	dns_free(&half);
	ev_io_stop(loop, &h.io);
	ev_run(loop, 0);	/* returns: no watcher is left */
	for (i = 0; i < 5; i++) {
		assert_int_equal(r[i].called, before[i]);
		assert_int_equal(rd[i].called, 0);
		assert_int_equal(rh[i].called, 0);
	}
	ev_loop_destroy(loop);
}

static void
test_bad_conf(void **state)
{
	struct ev_loop	*loop = ev_loop_new(EVFLAG_AUTO);
	struct conf	 c;
	struct dns	*dns;
	char		*servers[2], err[256];

	(void)state;
	servers[0] = (char *)(uintptr_t)"127.0.0.1:53";
	servers[1] = (char *)(uintptr_t)"not-an-ip:53";
	conf_for(&c, servers, 2, 2);
	assert_null(dns_new(loop, &c, err, sizeof(err)));
	assert_string_equal(err, "dns_servers: expected IP[:PORT] or "
	    "[IPv6]:PORT, got \"not-an-ip:53\"");
	/* Every form conf.c writes, and bare ones. */
	servers[1] = (char *)(uintptr_t)"[::1]:5353";
	assert_non_null(dns = dns_new(loop, &c, err, sizeof(err)));
	dns_free(&dns);
	servers[0] = (char *)(uintptr_t)"::1";
	servers[1] = (char *)(uintptr_t)"[fd00::1]";
	assert_non_null(dns = dns_new(loop, &c, err, sizeof(err)));
	dns_free(&dns);
	servers[0] = (char *)(uintptr_t)"127.0.0.1:0";
	assert_null(dns_new(loop, &c, err, sizeof(err)));
	/* The system's configuration. */
	conf_for(&c, NULL, 0, 2);
	assert_non_null(dns = dns_new(loop, &c, err, sizeof(err)));
	dns_free(&dns);
	dns_free(&dns);		/* accepts NULL */
	ev_loop_destroy(loop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_confirmed),
		cmocka_unit_test(test_mapped),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_timeout_forward),
		cmocka_unit_test(test_cache_hit),
		cmocka_unit_test(test_cache_ttl),
		cmocka_unit_test(test_cache_bound),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_free_pending),
		cmocka_unit_test(test_bad_conf)
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
