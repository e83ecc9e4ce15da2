/*
 * Reading a PROXY v1/v2 header off a client socket.  The bytes are
 * peeked and only the header's own are consumed, so whatever follows
 * (a TLS ClientHello, an early IMAP command) stays in the socket for
 * the next reader.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
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

/* Takes the header's bytes off the socket; -1 on a read error. */
static int
proxyhdr_consume(struct sess *s, size_t len)
{
	unsigned char	buf[PROXYPROTO_MAX_HEADER];
	ssize_t		n;

	do
		n = recv(s->cconn.fd, buf, len, 0);
	while (n == -1 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -1;
}

void
proxyhdr_read(struct sess *s)
{
	unsigned char			buf[PROXYPROTO_MAX_HEADER];
	struct proxyproto_header	h;
	enum proxyproto_result		r;
	char				why[128];
	ssize_t				n;

	n = recv(s->cconn.fd, buf, sizeof(buf), MSG_PEEK);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		sess_close(s, n == 0 ? "client closed before the PROXY header" :
		    "client read failed");
		return;
	}
	why[0] = '\0';
	r = proxyproto_parse(buf, (size_t)n, &h, NULL, why, sizeof(why));
	if (r == PROXYPROTO_AGAIN && (size_t)n == sizeof(buf))
		r = PROXYPROTO_BAD;
	if (r == PROXYPROTO_AGAIN)
		return;
	if (r == PROXYPROTO_BAD || proxyhdr_consume(s, h.len) == -1) {
		log_info("sess=%s client=%s PROXY header refused: %s", s->id,
		    s->client, why[0] != '\0' ? why : "malformed");
		sess_close(s, "bad PROXY header");
		return;
	}
	if (!h.local) {
		log_debug("sess=%s client=%s PROXY v%d: client is the "
		    "balancer's", s->id, s->client, h.version);
		memcpy(&s->peer, &h.src, sizeof(s->peer));
	}
	sess_admit(s);
}
