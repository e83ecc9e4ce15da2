/*
 * The PROXY protocol header, v1 and v2 (haproxy doc/proxy-protocol.txt).
 *
 * Strict, like haproxy: the first byte picks the version, and bytes that
 * cannot begin a valid header are BAD at once, so a client that talks
 * IMAP or TLS straight to a PROXY listener is refused without waiting
 * for a timeout.  v1 checks "PROXY " and the protocol word as they
 * arrive, and the rest of the line once its CRLF is in (at most 107
 * bytes).  v2 checks the signature, version, command and family byte as
 * they arrive, and its length once the 16 fixed bytes are in.
 *
 * The parser keeps no state and re-reads from the first byte on every
 * call: a header is at most PROXYPROTO_MAX_HEADER bytes, and it runs a
 * handful of times per connection.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "proxyproto.h"

/* v1: "PROXY UNKNOWN\r\n" is the shortest line; CRLF included. */
#define PROXYPROTO_V1_MIN	15
#define PROXYPROTO_V1_MAX	107
/* v2: signature (12), ver_cmd, fam, len (16 bits, big endian). */
#define PROXYPROTO_V2_FIXED	16
#define PROXYPROTO_V2_SIGLEN	12
#define PROXYPROTO_V2_VERSION	0x2
#define PROXYPROTO_V2_LOCAL	0x0
#define PROXYPROTO_V2_PROXY	0x1
/* v2 fam byte: address family in the high nibble, transport in the low. */
#define PROXYPROTO_V2_UNSPEC	0x00
#define PROXYPROTO_V2_TCP4	0x11
#define PROXYPROTO_V2_TCP6	0x21
#define PROXYPROTO_V2_UNIX	0x31
#define PROXYPROTO_V2_UDP4	0x12
#define PROXYPROTO_V2_UDP6	0x22
#define PROXYPROTO_V2_UNIXDGRAM	0x32

#define PROXYPROTO_NITEMS(a)	(sizeof(a) / sizeof((a)[0]))
#define PROXYPROTO_MAX(a, b)	((a) > (b) ? (a) : (b))

static const unsigned char proxyproto_sig[PROXYPROTO_V2_SIGLEN] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/*
 * v1 protocol words with the byte after them, so that matching a word
 * also checks its separator.  UNKNOWN may end the line or be followed by
 * anything, which the receiver ignores.
 */
static const struct {
	const char	*word;
	int		 family;
} proxyproto_v1_protos[] = {
	{ "TCP4 ", AF_INET },
	{ "TCP6 ", AF_INET6 },
	{ "UNKNOWN ", AF_UNSPEC },
	{ "UNKNOWN\r", AF_UNSPEC }
};

static const char *const proxyproto_v1_bad[4] = {
	"v1: bad source address",
	"v1: bad destination address",
	"v1: bad source port",
	"v1: bad destination port"
};

static int	 proxyproto_prefix(const void *, size_t, const void *, size_t);
static void	 proxyproto_sockaddr(struct sockaddr_storage *, socklen_t *,
		    int, const void *, const void *);
static int	 proxyproto_v1_field(const char **, const char *, int, char *,
		    size_t);
static int	 proxyproto_v1_port(const char *, uint16_t *);
static const char *proxyproto_v1_tcp(const char *, const char *, int,
		    struct proxyproto_header *);
static enum proxyproto_result proxyproto_v1(const char *, size_t,
		    struct proxyproto_header *, size_t *, const char **);
static const char *proxyproto_v2_fam(unsigned char, size_t *);
static enum proxyproto_result proxyproto_v2(const unsigned char *, size_t,
		    struct proxyproto_header *, size_t *, const char **);

/* Whether the len bytes at b could start the slen bytes at s. */
static int
proxyproto_prefix(const void *b, size_t len, const void *s, size_t slen)
{
	return memcmp(b, s, len < slen ? len : slen) == 0;
}

/* Fills ss from an address and a port, both in network byte order. */
static void
proxyproto_sockaddr(struct sockaddr_storage *ss, socklen_t *len_r,
    int family, const void *addr, const void *port)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, addr, sizeof(sin->sin_addr));
		memcpy(&sin->sin_port, port, sizeof(sin->sin_port));
		*len_r = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, addr, sizeof(sin6->sin6_addr));
		memcpy(&sin6->sin6_port, port, sizeof(sin6->sin6_port));
		*len_r = sizeof(*sin6);
	}
}

/*
 * Copies the non-empty field at *pp, which ends at the byte sep before
 * end, into out as a string, and moves *pp past sep.  An empty field is
 * how a double space shows; a NUL would cut the string short of what
 * was sent.
 */
static int
proxyproto_v1_field(const char **pp, const char *end, int sep, char *out,
    size_t outlen)
{
	const char	*p = *pp, *q;
	size_t		 n;

	if ((q = memchr(p, sep, (size_t)(end - p))) == NULL)
		return -1;
	n = (size_t)(q - p);
	if (n == 0 || n >= outlen || memchr(p, '\0', n) != NULL)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	*pp = q + 1;
	return 0;
}

/* "0" or 1-65535 without sign or leading zeros, as haproxy reads them. */
static int
proxyproto_v1_port(const char *s, uint16_t *port_r)
{
	unsigned long	 v = 0;
	size_t		 i;

	if (strlen(s) > 5 || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port_r = htons((uint16_t)v);
	return 0;
}

/*
 * Reads "SRC DST SPORT DPORT\r" from p up to end, just past the CR, and
 * judges each field as it comes, so the reason names the first bad one.
 * Returns NULL when h holds the addresses, or the reason.
 */
static const char *
proxyproto_v1_tcp(const char *p, const char *end, int family,
    struct proxyproto_header *h)
{
	char		 f[INET6_ADDRSTRLEN];
	unsigned char	 addr[2][sizeof(struct in6_addr)];
	uint16_t	 port[2];
	size_t		 i;
	int		 ok;

	for (i = 0; i < PROXYPROTO_NITEMS(proxyproto_v1_bad); i++) {
		if (proxyproto_v1_field(&p, end, i < 3 ? ' ' : '\r', f,
		    sizeof(f)) == -1)
			return proxyproto_v1_bad[i];
		/* inet_pton() takes only its family: TCP4 "::1" fails. */
		if (i < 2)
			ok = inet_pton(family, f, addr[i]) == 1;
		else
			ok = proxyproto_v1_port(f, &port[i - 2]) == 0;
		if (!ok)
			return proxyproto_v1_bad[i];
	}
	proxyproto_sockaddr(&h->src, &h->srclen, family, addr[0], &port[0]);
	proxyproto_sockaddr(&h->dst, &h->dstlen, family, addr[1], &port[1]);
	return NULL;
}

/* v1: the shared steps of proxyproto_parse(), reason in *why. */
static enum proxyproto_result
proxyproto_v1(const char *b, size_t len, struct proxyproto_header *h,
    size_t *need, const char **why)
{
	const char	*word = NULL;
	size_t		 i, lim;
	int		 family = AF_UNSPEC;

	*need = PROXYPROTO_MAX(len + 1, PROXYPROTO_V1_MIN);
	if (!proxyproto_prefix(b, len, "PROXY ", 6)) {
		*why = "not a PROXY header";
		return PROXYPROTO_BAD;
	}
	if (len <= 6)
		return PROXYPROTO_AGAIN;
	for (i = 0; i < PROXYPROTO_NITEMS(proxyproto_v1_protos); i++) {
		word = proxyproto_v1_protos[i].word;
		family = proxyproto_v1_protos[i].family;
		if (proxyproto_prefix(b + 6, len - 6, word, strlen(word)))
			break;
	}
	if (i == PROXYPROTO_NITEMS(proxyproto_v1_protos)) {
		*why = "v1: unknown protocol";
		return PROXYPROTO_BAD;
	}

	/* The CR must come by byte 106 so that the LF is byte 107. */
	lim = len < PROXYPROTO_V1_MAX - 1 ? len : PROXYPROTO_V1_MAX - 1;
	for (i = 6; i < lim && b[i] != '\r' && b[i] != '\n'; i++)
		;
	if (i == lim && len >= PROXYPROTO_V1_MAX - 1) {
		*why = "v1: no CRLF within 107 bytes";
		return PROXYPROTO_BAD;
	}
	if (i == lim)
		return PROXYPROTO_AGAIN;
	if (b[i] == '\n' || (i + 1 < len && b[i + 1] != '\n')) {
		*why = "v1: line not ended by CRLF";
		return PROXYPROTO_BAD;
	}
	if (i + 1 == len)
		return PROXYPROTO_AGAIN;

	/*
	 * The word matched whole: no word but "UNKNOWN\r" holds a CR, so
	 * the line's CR ends that one or comes after the others.
	 */
	h->version = 1;
	h->len = i + 2;
	if (family == AF_UNSPEC)
		h->local = 1;
	else if ((*why = proxyproto_v1_tcp(b + 6 + strlen(word), b + i + 1,
	    family, h)) != NULL)
		return PROXYPROTO_BAD;
	return PROXYPROTO_DONE;
}

/*
 * For a PROXY command's fam byte: NULL and the size of its address
 * block, or why we refuse it.  The spec lists seven values and asks
 * receivers to reject the others.  UNSPEC and unix stream carry no
 * address we can use, so the connection's own stands (the spec's
 * fallback).  Datagrams cannot reach an IMAP listener: such a header
 * comes from a misconfigured sender, and falling back would file every
 * client under the balancer's address, so we refuse it instead.
 */
static const char *
proxyproto_v2_fam(unsigned char fam, size_t *addrlen)
{
	switch (fam) {
	case PROXYPROTO_V2_UNSPEC:
		*addrlen = 0;
		return NULL;
	case PROXYPROTO_V2_TCP4:
		*addrlen = 12;
		return NULL;
	case PROXYPROTO_V2_TCP6:
		*addrlen = 36;
		return NULL;
	case PROXYPROTO_V2_UNIX:
		*addrlen = 216;
		return NULL;
	case PROXYPROTO_V2_UDP4:
	case PROXYPROTO_V2_UDP6:
	case PROXYPROTO_V2_UNIXDGRAM:
		return "v2: datagram transport on a stream listener";
	}
	return "v2: unsupported address family or transport";
}

/* v2: the shared steps of proxyproto_parse(), reason in *why. */
static enum proxyproto_result
proxyproto_v2(const unsigned char *b, size_t len,
    struct proxyproto_header *h, size_t *need, const char **why)
{
	const unsigned char	*a;
	size_t			 addrlen = 0, alen;
	uint16_t		 n16;
	int			 cmd = -1, family;

	*need = PROXYPROTO_V2_FIXED;
	if (!proxyproto_prefix(b, len, proxyproto_sig, sizeof(proxyproto_sig)))
		*why = "not a PROXY header";
	else if (len > 12 && b[12] >> 4 != PROXYPROTO_V2_VERSION)
		*why = "v2: unsupported version";
	else if (len > 12 && (cmd = b[12] & 0x0f) != PROXYPROTO_V2_LOCAL &&
	    cmd != PROXYPROTO_V2_PROXY)
		*why = "v2: unsupported command";
	else if (len > 13 && cmd == PROXYPROTO_V2_PROXY)
		*why = proxyproto_v2_fam(b[13], &addrlen);
	if (*why != NULL)
		return PROXYPROTO_BAD;
	if (len < PROXYPROTO_V2_FIXED)
		return PROXYPROTO_AGAIN;

	memcpy(&n16, b + 14, sizeof(n16));
	*need = PROXYPROTO_V2_FIXED + ntohs(n16);
	if (*need > PROXYPROTO_MAX_HEADER) {
		*why = "header too long";
		return PROXYPROTO_BAD;
	}
	if (ntohs(n16) < addrlen) {
		*why = "v2: length too short for the address family";
		return PROXYPROTO_BAD;
	}
	if (len < *need)
		return PROXYPROTO_AGAIN;

	/* LOCAL ignores the fam byte and the addresses, as the spec says. */
	h->version = 2;
	h->len = *need;
	if (cmd == PROXYPROTO_V2_LOCAL || (b[13] != PROXYPROTO_V2_TCP4 &&
	    b[13] != PROXYPROTO_V2_TCP6)) {
		h->local = 1;
		return PROXYPROTO_DONE;
	}
	/* Source address, destination address, source port, destination. */
	family = b[13] == PROXYPROTO_V2_TCP4 ? AF_INET : AF_INET6;
	alen = family == AF_INET ? 4 : 16;
	a = b + PROXYPROTO_V2_FIXED;
	proxyproto_sockaddr(&h->src, &h->srclen, family, a, a + 2 * alen);
	proxyproto_sockaddr(&h->dst, &h->dstlen, family, a + alen,
	    a + 2 * alen + 2);
	return PROXYPROTO_DONE;
}

enum proxyproto_result
proxyproto_parse(const void *buf, size_t len, struct proxyproto_header *h,
    size_t *need, char *why, size_t whylen)
{
	const unsigned char		*b = buf;
	struct proxyproto_header	 out;
	const char			*reason = NULL;
	size_t				 want = PROXYPROTO_V1_MIN;
	enum proxyproto_result		 r = PROXYPROTO_AGAIN;

	/* Filled aside, so that h is only written for a whole header. */
	memset(&out, 0, sizeof(out));
	if (len > 0 && b[0] == 'P')
		r = proxyproto_v1(buf, len, &out, &want, &reason);
	else if (len > 0 && b[0] == proxyproto_sig[0])
		r = proxyproto_v2(b, len, &out, &want, &reason);
	else if (len > 0) {
		reason = "not a PROXY header";
		r = PROXYPROTO_BAD;
	}

	if (r == PROXYPROTO_DONE)
		*h = out;
	else if (r == PROXYPROTO_AGAIN && need != NULL)
		*need = want;
	/* The reasons are short constants; a cut one still reads. */
	else if (r == PROXYPROTO_BAD && why != NULL && whylen > 0)
		(void)snprintf(why, whylen, "%s", reason);
	return r;
}
