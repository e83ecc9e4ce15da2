/*
 * The HAProxy PROXY protocol header, versions 1 (text) and 2 (binary),
 * as in haproxy's doc/proxy-protocol.txt (2.8).  A pure parser: no
 * allocation, no I/O, no logging, no state between calls; proxyhdr.c
 * feeds it what recv(MSG_PEEK) returns and consumes h->len bytes.
 */
#ifndef PROXYPROTO_H
#define PROXYPROTO_H

#include <sys/socket.h>

#include <stddef.h>

/*
 * Longest header accepted.  v1 is at most 107 bytes; v2 is 16 plus its
 * length field, which carries TLVs after the addresses (haproxy sends a
 * few dozen bytes of them; AWS and Azure IDs fit easily).  It is also
 * the size of proxyhdr.c's peek buffer, so it stays small.
 */
#define PROXYPROTO_MAX_HEADER	1024

enum proxyproto_result {
	PROXYPROTO_AGAIN,	/* a valid prefix so far: read more */
	PROXYPROTO_DONE,	/* a whole header, *h filled */
	PROXYPROTO_BAD		/* not a header we accept: close */
};

struct proxyproto_header {
	int			 version;	/* 1 or 2 */
	/*
	 * v2 LOCAL or v1 UNKNOWN, or v2 family UNSPEC/UNIX: keep the
	 * connection's own addresses, src and dst are zero.
	 */
	int			 local;
	/* When !local: AF_INET or AF_INET6 with ports. */
	struct sockaddr_storage	 src, dst;
	socklen_t		 srclen, dstlen;
	size_t			 len;		/* header bytes to drop */
};

/*
 * Parses the header at the start of buf, of which len bytes have arrived
 * so far (e.g. from recv(MSG_PEEK)).  Never reads past len; any
 * alignment.
 *
 * PROXYPROTO_AGAIN: what there is may still become a valid header.
 * *need, if need is not NULL, is set to a lower bound of the header's
 * total length: the exact length for v2 once its 16 fixed bytes are in,
 * otherwise at least len + 1.  h is not touched.
 * PROXYPROTO_DONE: *h is filled and h->len is the header's length; the
 * bytes after it (TLS, IMAP) belong to the next reader.
 * PROXYPROTO_BAD: the bytes so far cannot start a header we accept,
 * decided as soon as they show it.  A short reason for the log goes to
 * why (truncated to whylen, may be NULL), e.g. "not a PROXY header".
 * It never quotes the input.
 *
 * v2 PROXY headers for a datagram transport (UDP, unix dgram) are BAD:
 * an IMAP listener is a stream, so such a header is a misconfigured
 * sender.
 */
enum proxyproto_result proxyproto_parse(const void *buf, size_t len,
	    struct proxyproto_header *h, size_t *need, char *why,
	    size_t whylen);

#endif
