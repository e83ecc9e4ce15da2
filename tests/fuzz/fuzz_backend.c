/*
 * libFuzzer target: the login as the back end sees it (proxy/backend.c,
 * then relay.c), with both the client and the back end hostile.
 *
 * A back end is only as trusted as the network to it, and issue 7 asks
 * for faulty ones (no greeting, a greeting then EOF, closing mid-login,
 * 10 MiB lines).  Here the back end is this process: a listening socket
 * on 127.0.0.1 that the configuration's back ends point at.  Each run
 * hosts one session as fuzz_preauth.c does (fuzz_sess.h) and plays a
 * script in both directions.
 *
 * Input: the first byte picks the server: even "plain" (back end with
 * tls = no, forward_id), odd "tlsbe" (tls = starttls, so the back end's
 * STARTTLS answer and a handshake on its bytes are tried).  Then the
 * client's bytes, then "\n--\n", then the back end's bytes (greeting,
 * CAPABILITY, ID and login answers, challenges, whatever follows the
 * OK).  Chunks of either side are written in an order drawn from the
 * input; each back-end connection the proxy opens is accepted and gets
 * the rest of the script; what the proxy sends it is read and dropped.
 * When all is written and the proxy is quiet, the back end closes; when
 * it is quiet again, the client shuts its side.
 * Checked, besides ASan/UBSan/LSan:
 * - when the session never reached the relay, once the back end has
 *   gone and the proxy is quiet, every command the client sent (simple
 *   commands only: no AUTHENTICATE, STARTTLS, LOGOUT) has its tagged
 *   answer, the proxy's or the back end's refusal, in order, while the
 *   client is still connected;
 * - the session ends once both peers have gone (no stall);
 * - every count is back to zero (sessions, the back end's reservation).
 */
#include "fuzz.h"
#include "fuzz_sess.h"

#define SPLIT		"\n--\n"

static struct runtime	*rt;
static struct runtime_server *servers[2];
static int		 backend_lfd = -1;
static struct out	 out;

static const char conf_fmt[] =
    "[global]\n"
    "workers = 1\n"
    "\n"
    "[server plain]\n"
    "listen = 127.0.0.1:1143\n"
    "require_tls = no\n"
    "auth_mechanisms = PLAIN LOGIN XOAUTH2 OAUTHBEARER\n"
    "default_backend = live\n"
    "max_connections_per_ip = 0\n"
    "max_connections_per_user = 0\n"
    "auth_fail_limit = 0\n"
    "auth_fail_delay = 0\n"
    "\n"
    "[server tlsbe]\n"
    "listen = 127.0.0.1:1144\n"
    "require_tls = no\n"
    "auth_mechanisms = PLAIN LOGIN XOAUTH2 OAUTHBEARER\n"
    "default_backend = livetls\n"
    "max_connections_per_ip = 0\n"
    "max_connections_per_user = 0\n"
    "auth_fail_limit = 0\n"
    "auth_fail_delay = 0\n"
    "\n"
    "[backend live]\n"
    "address = 127.0.0.1:%u\n"
    "tls = no\n"
    "forward_id = yes\n"
    "health_check_interval = 0\n"
    "\n"
    "[backend livetls]\n"
    "address = 127.0.0.1:%u\n"
    "tls = starttls\n"
    "tls_verify = no\n"
    "forward_id = no\n"
    "health_check_interval = 0\n";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char		 path[512], text[4096];
	unsigned int	 port;

	(void)argc;
	(void)argv;
	fs_init("fuzz_backend");
	fuzz_tmpdir("fuzz_backend");
	/* The back ends' address: a listening socket of ours. */
	backend_lfd = fuzz_bind_loopback(SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 16, &port);
	snprintf(text, sizeof(text), conf_fmt, port, port);
	fuzz_write_text("imapproxy.conf", text);
	fuzz_path(path, sizeof(path), "imapproxy.conf");
	rt = fs_runtime(path);
	fuzz_tmpdir_done();	/* all read: nothing is left behind */
	if (rt->nservers != 2)
		FUZZ_FATAL("expected 2 servers");
	servers[0] = &rt->servers[0];
	servers[1] = &rt->servers[1];
	return 0;
}

/* The back end's side of one run. */
struct peer {
	int		 fd;		/* accepted connection, or -1 */
	const uint8_t	*script;
	size_t		 len, off;
	unsigned int	 conns;
	int		 closing;	/* the back end has left */
};

/* Takes a connection the proxy opened; reads and drops what it sent. */
static void
peer_poll(struct peer *b)
{
	char	buf[16384];
	ssize_t	n;

	if (b->fd == -1) {
		b->fd = accept4(backend_lfd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC);
		if (b->fd != -1)
			b->conns++;
		if (b->fd != -1 && b->closing) {
			close(b->fd);
			b->fd = -1;
		}
	}
	while (b->fd != -1) {
		n = read(b->fd, buf, sizeof(buf));
		if (n > 0)
			continue;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			break;
		/* The proxy hung up (login over): the next login dials again. */
		close(b->fd);
		b->fd = -1;
	}
}

static void
pump(struct worker *w, int fd, struct peer *b, int n)
{
	while (n-- > 0 && w->nsessions > 0) {
		ev_run(w->loop, EVRUN_NOWAIT);
		fs_drain(fd, &out);
		peer_poll(b);
	}
}

/* Runs the loop until nothing changes for a few turns. */
static void
settle(struct worker *w, int fd, struct peer *b)
{
	uint64_t	sig, last = 0;
	int		i, same = 0;

	for (i = 0; i < DRAIN_ITERATIONS && same < 4 && w->nsessions > 0;
	    i++) {
		pump(w, fd, b, 1);
		sig = fs_signature(w, &out, b->conns * 7919u + (b->fd + 1));
		same = sig == last ? same + 1 : 0;
		last = sig;
	}
}

/* The size of a chunk of len bytes at p. */
static size_t
chunk(struct fuzz_rng *rng, const uint8_t *p, size_t len, size_t *nchunks)
{
	const uint8_t	*lf;

	if ((*nchunks)++ >= MAX_CHUNKS)
		return len;
	switch (fuzz_rng_below(rng, 4)) {
	case 0:
		return 1 + fuzz_rng_below(rng, len < 64 ? len : 64);
	case 1:
	case 2:
		if ((lf = memchr(p, '\n', len)) != NULL)
			return (size_t)(lf - p) + 1;
		return len;
	default:
		return len;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct worker		 w;
	struct fuzz_rng		 rng;
	struct peer		 b;
	struct runtime_server	*srv;
	unsigned long		 logins_ok;
	const uint8_t		*client, *split;
	size_t			 clen, coff = 0, n, nchunks = 0;
	ssize_t			 k;
	int			 fd, relayed;

	if (size == 0)
		return 0;
	client = data + 1;
	clen = size - 1;
	memset(&b, 0, sizeof(b));
	b.fd = -1;
	if ((split = memmem(client, clen, SPLIT, strlen(SPLIT))) != NULL) {
		b.script = split + strlen(SPLIT);
		b.len = (size_t)(data + size - b.script);
		clen = (size_t)(split - client) + 1;	/* keep its LF */
	}
	fuzz_rng_init(&rng, data, size);
	srv = servers[data[0] & 1];
	logins_ok = STATS_GET(srv->st->logins_ok);
	fd = fs_start(&w, rt, srv, &srv->conf->listen[0], &out);
	pump(&w, fd, &b, 2);
	while (w.nsessions > 0 && (coff < clen || (b.fd != -1 &&
	    b.off < b.len))) {
		if (coff < clen && (b.fd == -1 || b.off == b.len ||
		    fuzz_rng_below(&rng, 2) == 0)) {
			n = chunk(&rng, client + coff, clen - coff, &nchunks);
			k = write(fd, client + coff, n);
			if (k == -1 && errno != EAGAIN && errno != EINTR)
				break;
			coff += k > 0 ? (size_t)k : 0;
		} else {
			n = chunk(&rng, b.script + b.off, b.len - b.off,
			    &nchunks);
			k = write(b.fd, b.script + b.off, n);
			if (k == -1 && errno != EAGAIN && errno != EINTR) {
				close(b.fd);
				b.fd = -1;
			} else
				b.off += k > 0 ? (size_t)k : 0;
		}
		pump(&w, fd, &b, 2);
	}
	/* Quiet: the back end leaves (any later connection is hung up). */
	settle(&w, fd, &b);
	b.off = b.len;
	b.closing = 1;
	if (b.fd != -1) {
		close(b.fd);
		b.fd = -1;
	}
	settle(&w, fd, &b);
	/* A login that succeeded relays the back end's words: not ours. */
	relayed = STATS_GET(srv->st->logins_ok) != logins_ok;
	if (!relayed)
		fs_check_replies(client, clen, &out);
	/* Then the client leaves too. */
	(void)shutdown(fd, SHUT_WR);
	pump(&w, fd, &b, DRAIN_ITERATIONS);
	(void)fs_finish(&w, rt, fd, &out, size);
	if (b.fd != -1)
		close(b.fd);
	/* Nothing of this run may reach the next: empty the backlog. */
	while ((b.fd = accept4(backend_lfd, NULL, NULL, SOCK_CLOEXEC)) != -1)
		close(b.fd);
	return 0;
}
