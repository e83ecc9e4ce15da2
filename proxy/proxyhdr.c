/*
 * Reading a PROXY v1/v2 header off a client socket into the session's
 * input buffer.  Only the header's own bytes are read, so whatever
 * follows (a TLS ClientHello, an early IMAP command) stays in the
 * socket for the next reader; and every byte of it that has arrived is
 * taken, so a partial header does not keep the socket readable.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "proxyhdr.h"
#include "proxyproto.h"
#include "runtime.h"
#include "sess.h"

/* Whether sa is in the network n; an IPv4-mapped address is IPv4. */
static int
proxyhdr_in_net(const struct sockaddr *sa, const struct conf_net *n)
{
	static const unsigned char	 mapped[12] = { [10] = 0xff, 0xff };
	const unsigned char		*a;
	int				 family = sa->sa_family, bits, i;

	if (family == AF_INET)
		a = (const unsigned char *)
		    &((const struct sockaddr_in *)sa)->sin_addr;
	else {
		a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			a += 12;
			family = AF_INET;
		}
	}
	if (family != n->family)
		return 0;
	for (i = 0, bits = n->prefix; bits > 0; i++, bits -= 8) {
		unsigned char	mask = bits >= 8 ? 0xff :
				    (unsigned char)(0xff << (8 - bits));

		if ((a[i] & mask) != (n->addr[i] & mask))
			return 0;
	}
	return 1;
}

int
proxyhdr_trusted(const struct sess *s)
{
	const struct conf_server	*srv = s->srv->conf;
	size_t				 i;

	for (i = 0; i < srv->nproxy_from; i++)
		if (proxyhdr_in_net((const struct sockaddr *)&s->peer,
		    &srv->proxy_from[i]))
			return 1;
	return 0;
}

/* v1 is a line: the longest, with its CRLF. */
#define PROXYHDR_V1_MAX	107

/*
 * Reads more of the header into the session's input buffer, never past
 * its end: up to need bytes in all, or for a v1 line up to its LF.
 * Returns the bytes read, 0 when none are there yet, -1 after closing.
 */
static ssize_t
proxyhdr_take(struct sess *s, size_t need)
{
	struct sess_preauth	*pa = s->pa;
	char			 peek[PROXYHDR_V1_MAX];
	const char		*lf;
	size_t			 want = need - pa->inlen;
	ssize_t			 n;

	if (pa->inlen > 0 && pa->in[0] == 'P' && pa->inlen < PROXYHDR_V1_MAX) {
		n = recv(s->cconn.fd, peek, PROXYHDR_V1_MAX - pa->inlen,
		    MSG_PEEK);
		if (n > 0)
			want = (lf = memchr(peek, '\n', (size_t)n)) != NULL ?
			    (size_t)(lf - peek) + 1 : (size_t)n;
	}
	do
		n = recv(s->cconn.fd, pa->in + pa->inlen, want, 0);
	while (n == -1 && errno == EINTR);
	if (n == -1 && errno == EAGAIN)
		return 0;
	if (n <= 0) {
		sess_close(s, n == 0 ? "client closed before the PROXY header" :
		    "client read failed");
		return -1;
	}
	pa->inlen += (size_t)n;
	return n;
}

/* Logs and closes a session whose header is not one we take. */
static void
proxyhdr_refuse(struct sess *s, const char *why)
{
	log_info("sess=%s client=%s PROXY header refused: %s", s->id,
	    s->client, why[0] != '\0' ? why : "malformed");
	sess_close(s, "bad PROXY header");
}

void
proxyhdr_read(struct sess *s)
{
	struct sess_preauth		*pa = s->pa;
	struct proxyproto_header	 h;
	enum proxyproto_result		 r;
	char				 why[128];
	size_t				 need;
	ssize_t				 n;

	for (;;) {
		why[0] = '\0';
		r = proxyproto_parse(pa->in, pa->inlen, &h, &need, why,
		    sizeof(why));
		if (r == PROXYPROTO_AGAIN && need > sizeof(pa->in)) {
			r = PROXYPROTO_BAD;
			snprintf(why, sizeof(why), "header too long");
		}
		if (r != PROXYPROTO_AGAIN)
			break;
		if ((n = proxyhdr_take(s, need)) <= 0)
			return;		/* wait for more, or closed */
	}
	if (r == PROXYPROTO_BAD) {
		proxyhdr_refuse(s, why);
		return;
	}
	pa->inlen = 0;
	if (!h.local) {
		log_debug("sess=%s client=%s PROXY v%d: client is the "
		    "balancer's", s->id, s->client, h.version);
		memcpy(&s->peer, &h.src, sizeof(s->peer));
		memcpy(&pa->dst, &h.dst, sizeof(pa->dst));
		pa->has_dst = 1;
	}
	sess_admit(s);
}
