/*
 * Unit tests for the PROXY protocol parser (proxy/proxyproto.c).  Each
 * valid header is parsed whole, at every byte offset, and cut short at
 * every length (which must say AGAIN and leave h alone); each bad one
 * must say AGAIN up to the first byte that betrays it and BAD, with its
 * reason, from there on.  Prefixes are copied into buffers of exactly
 * their size, so `make asan` catches a read past len.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxyproto.h"

#define LIT(s)		s, sizeof(s) - 1
#define SIG		"\r\n\r\n\0\r\nQUIT\n"
#define V2_FIXED	16

struct valid {
	const char	*name;
	const char	*in;
	size_t		 inlen;		/* the header and what follows it */
	size_t		 hlen;
	int		 version;
	int		 local;
	int		 family;
	const char	*src, *dst;
	int		 sport, dport;
};

static const struct valid valids[] = {
	{ "v1 TCP4",
	    LIT("PROXY TCP4 192.0.2.1 198.51.100.2 56324 143\r\n"
	    "A001 CAPABILITY\r\n"),
	    45, 1, 0, AF_INET, "192.0.2.1", "198.51.100.2", 56324, 143 },
	{ "v1 TCP4 ports 0 and 65535",
	    LIT("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n"),
	    44, 1, 0, AF_INET, "0.0.0.0", "255.255.255.255", 0, 65535 },
	{ "v1 TCP6",
	    LIT("PROXY TCP6 2001:db8::1 2001:db8::2 65535 993\r\n\x16\x03\x01"),
	    46, 1, 0, AF_INET6, "2001:db8::1", "2001:db8::2", 65535, 993 },
	{ "v1 TCP6 v4-mapped",
	    LIT("PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n"),
	    37, 1, 0, AF_INET6, "::ffff:192.0.2.1", "::1", 1, 2 },
	{ "v1 UNKNOWN",
	    LIT("PROXY UNKNOWN\r\nA001 LOGIN"),
	    15, 1, 1, 0, NULL, NULL, 0, 0 },
	/* The spec's longest line, 107 bytes; what follows is ignored. */
	{ "v1 UNKNOWN longest",
	    LIT("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"),
	    107, 1, 1, 0, NULL, NULL, 0, 0 },
	{ "v2 INET",
	    LIT(SIG "\x21\x11\x00\x0c" "\xc0\x00\x02\x01" "\xc6\x33\x64\x02"
	    "\xdc\x04" "\x00\x8f" "A001"),
	    28, 2, 0, AF_INET, "192.0.2.1", "198.51.100.2", 56324, 143 },
	/* A NOOP TLV of 4 bytes and an ALPN "imap" TLV are skipped. */
	{ "v2 INET with TLVs",
	    LIT(SIG "\x21\x11\x00\x1a" "\x0a\x00\x00\x01" "\x0a\x00\x00\x02"
	    "\x00\x50" "\x00\x8f" "\x04\x00\x04" "wxyz" "\x01\x00\x04" "imap"
	    "\x16\x03\x01"),
	    42, 2, 0, AF_INET, "10.0.0.1", "10.0.0.2", 80, 143 },
	{ "v2 INET6",
	    LIT(SIG "\x21\x21\x00\x24"
	    "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
	    "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02"
	    "\xff\xff" "\x03\xe1"),
	    52, 2, 0, AF_INET6, "2001:db8::1", "2001:db8::2", 65535, 993 },
	{ "v2 LOCAL",
	    LIT(SIG "\x20\x00\x00\x00" "A001"),
	    16, 2, 1, 0, NULL, NULL, 0, 0 },
	/* LOCAL ignores the family byte and the addresses. */
	{ "v2 LOCAL with an INET block",
	    LIT(SIG "\x20\x11\x00\x0c" "\xc0\x00\x02\x01" "\xc6\x33\x64\x02"
	    "\xdc\x04" "\x00\x8f"),
	    28, 2, 1, 0, NULL, NULL, 0, 0 },
	{ "v2 LOCAL with a UDP family",
	    LIT(SIG "\x20\x12\x00\x00"),
	    16, 2, 1, 0, NULL, NULL, 0, 0 },
	{ "v2 PROXY UNSPEC",
	    LIT(SIG "\x21\x00\x00\x00"),
	    16, 2, 1, 0, NULL, NULL, 0, 0 },
	{ "v2 PROXY UNSPEC with TLVs",
	    LIT(SIG "\x21\x00\x00\x03" "\x04\x00\x00"),
	    19, 2, 1, 0, NULL, NULL, 0, 0 },
};

struct invalid {
	const char	*name;
	const char	*in;
	size_t		 inlen;
	size_t		 at;		/* first length that is BAD; 0: inlen */
	const char	*why;
};

static const struct invalid invalids[] = {
	{ "IMAP", LIT("A001 LOGIN bob pw\r\n"), 1, "not a PROXY header" },
	{ "TLS ClientHello", LIT("\x16\x03\x01\x02\x00\x01\x00\x01\xfc"), 1,
	    "not a PROXY header" },
	{ "lowercase", LIT("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), 1,
	    "not a PROXY header" },
	{ "PROXX", LIT("PROXX TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), 5,
	    "not a PROXY header" },
	{ "no space after PROXY", LIT("PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n"),
	    6, "not a PROXY header" },
	{ "TCP5", LIT("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"), 10,
	    "v1: unknown protocol" },
	{ "lowercase tcp4", LIT("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n"), 7,
	    "v1: unknown protocol" },
	{ "double space after PROXY", LIT("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n"),
	    7, "v1: unknown protocol" },
	{ "UNKNOWNX", LIT("PROXY UNKNOWNX\r\n"), 14, "v1: unknown protocol" },
	{ "TCP4 then CRLF", LIT("PROXY TCP4\r\n"), 11, "v1: unknown protocol" },
	{ "bad IPv4", LIT("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n"), 0,
	    "v1: bad source address" },
	{ "short IPv4", LIT("PROXY TCP4 1.2.3.4 5.6.7 1 2\r\n"), 0,
	    "v1: bad destination address" },
	{ "IPv4 leading zero", LIT("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n"), 0,
	    "v1: bad source address" },
	{ "TCP4 with IPv6", LIT("PROXY TCP4 ::1 ::1 1 2\r\n"), 0,
	    "v1: bad source address" },
	{ "TCP6 with IPv4", LIT("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n"), 0,
	    "v1: bad source address" },
	{ "TCP4 then IPv6 dst", LIT("PROXY TCP4 1.2.3.4 ::1 1 2\r\n"), 0,
	    "v1: bad destination address" },
	{ "NUL in address", LIT("PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n"), 0,
	    "v1: bad source address" },
	{ "double space after TCP4", LIT("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n"),
	    0, "v1: bad source address" },
	{ "double space between addresses",
	    LIT("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n"), 0,
	    "v1: bad destination address" },
	{ "double space between ports", LIT("PROXY TCP4 1.2.3.4 5.6.7.8 1  2\r\n"),
	    0, "v1: bad destination port" },
	{ "tab separator", LIT("PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n"), 0,
	    "v1: bad source address" },
	{ "source port 65536", LIT("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"), 0,
	    "v1: bad source port" },
	{ "destination port 65536",
	    LIT("PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n"), 0,
	    "v1: bad destination port" },
	{ "port 99999", LIT("PROXY TCP4 1.2.3.4 5.6.7.8 99999 2\r\n"), 0,
	    "v1: bad source port" },
	{ "port six digits", LIT("PROXY TCP4 1.2.3.4 5.6.7.8 100000 2\r\n"), 0,
	    "v1: bad source port" },
	{ "port leading zero", LIT("PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n"), 0,
	    "v1: bad source port" },
	{ "port 00", LIT("PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n"), 0,
	    "v1: bad destination port" },
	{ "port plus", LIT("PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n"), 0,
	    "v1: bad source port" },
	{ "port minus", LIT("PROXY TCP4 1.2.3.4 5.6.7.8 1 -2\r\n"), 0,
	    "v1: bad destination port" },
	{ "port hex", LIT("PROXY TCP4 1.2.3.4 5.6.7.8 0x10 2\r\n"), 0,
	    "v1: bad source port" },
	{ "missing port", LIT("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), 0,
	    "v1: bad source port" },
	{ "extra field", LIT("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), 0,
	    "v1: bad destination port" },
	{ "trailing space", LIT("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"), 0,
	    "v1: bad destination port" },
	{ "LF without CR", LIT("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), 0,
	    "v1: line not ended by CRLF" },
	{ "CR without LF", LIT("PROXY UNKNOWN\rA001"), 15,
	    "v1: line not ended by CRLF" },
	{ "LF in UNKNOWN", LIT("PROXY UNKNOWN \nx\r\n"), 15,
	    "v1: line not ended by CRLF" },
	/* 107 bytes and no CRLF: known BAD at 106, when no CR has come. */
	{ "no CRLF within 107 bytes",
	    LIT("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535xx"), 106,
	    "v1: no CRLF within 107 bytes" },
	{ "108-byte line",
	    LIT("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 655355\r\n"), 106,
	    "v1: no CRLF within 107 bytes" },
	{ "v2 signature", LIT("\r\n\r\n\x01\r\nQUIT\n\x21\x11\x00\x0c"), 5,
	    "not a PROXY header" },
	{ "v2 signature end", LIT("\r\n\r\n\0\r\nQUIT\r\x21\x11\x00\x0c"), 12,
	    "not a PROXY header" },
	{ "v2 version 1", LIT(SIG "\x11\x11\x00\x0c"), 13,
	    "v2: unsupported version" },
	{ "v2 version 3", LIT(SIG "\x31\x11\x00\x0c"), 13,
	    "v2: unsupported version" },
	{ "v2 command 2", LIT(SIG "\x22\x11\x00\x0c"), 13,
	    "v2: unsupported command" },
	{ "v2 command 15", LIT(SIG "\x2f\x00\x00\x00"), 13,
	    "v2: unsupported command" },
	{ "v2 family 4", LIT(SIG "\x21\x41\x00\x0c"), 14,
	    "v2: unsupported address family or transport" },
	{ "v2 INET without transport", LIT(SIG "\x21\x10\x00\x0c"), 14,
	    "v2: unsupported address family or transport" },
	{ "v2 transport 3", LIT(SIG "\x21\x13\x00\x0c"), 14,
	    "v2: unsupported address family or transport" },
	{ "v2 UDP4", LIT(SIG "\x21\x12\x00\x0c"), 14,
	    "v2: datagram transport on a stream listener" },
	{ "v2 UDP6", LIT(SIG "\x21\x22\x00\x24"), 14,
	    "v2: datagram transport on a stream listener" },
	{ "v2 unix datagram", LIT(SIG "\x21\x32\x00\xd8"), 14,
	    "v2: datagram transport on a stream listener" },
	{ "v2 INET len 11", LIT(SIG "\x21\x11\x00\x0b" "\x01\x02\x03\x04"), 16,
	    "v2: length too short for the address family" },
	{ "v2 INET6 len 35", LIT(SIG "\x21\x21\x00\x23"), 16,
	    "v2: length too short for the address family" },
	{ "v2 INET6 len 12", LIT(SIG "\x21\x21\x00\x0c"), 16,
	    "v2: length too short for the address family" },
	{ "v2 unix len 215", LIT(SIG "\x21\x31\x00\xd7"), 16,
	    "v2: length too short for the address family" },
	{ "v2 len 1009", LIT(SIG "\x21\x11\x03\xf1"), 16, "header too long" },
	{ "v2 len 65535", LIT(SIG "\x20\x00\xff\xff"), 16, "header too long" },
};

/* Parses len bytes copied to a buffer of exactly that size. */
static enum proxyproto_result
parse_exact(const char *in, size_t len, struct proxyproto_header *h,
    size_t *need, char *why, size_t whylen)
{
	enum proxyproto_result	 r;
	char			*b;

	b = malloc(len > 0 ? len : 1);
	assert_non_null(b);
	memcpy(b, in, len);
	r = proxyproto_parse(b, len, h, need, why, whylen);
	free(b);
	return r;
}

static void
check_addr(const struct sockaddr_storage *ss, socklen_t sslen, int family,
    const char *addr, int port)
{
	const struct sockaddr_in	*sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6	*sin6 = (const struct sockaddr_in6 *)ss;
	char				 s[INET6_ADDRSTRLEN];

	assert_int_equal(ss->ss_family, family);
	if (family == AF_INET) {
		assert_int_equal(sslen, sizeof(*sin));
		assert_non_null(inet_ntop(AF_INET, &sin->sin_addr, s,
		    sizeof(s)));
		assert_int_equal(ntohs(sin->sin_port), port);
	} else {
		assert_int_equal(sslen, sizeof(*sin6));
		assert_non_null(inet_ntop(AF_INET6, &sin6->sin6_addr, s,
		    sizeof(s)));
		assert_int_equal(ntohs(sin6->sin6_port), port);
	}
	assert_string_equal(s, addr);
}

static void
check_valid(const struct valid *v, const struct proxyproto_header *h)
{
	const struct sockaddr_storage	zero = { 0 };

	assert_int_equal(h->version, v->version);
	assert_int_equal(h->local, v->local);
	assert_int_equal(h->len, v->hlen);
	if (v->local) {
		assert_memory_equal(&h->src, &zero, sizeof(zero));
		assert_memory_equal(&h->dst, &zero, sizeof(zero));
		return;
	}
	check_addr(&h->src, h->srclen, v->family, v->src, v->sport);
	check_addr(&h->dst, h->dstlen, v->family, v->dst, v->dport);
}

/* Whole headers, with what follows them and at every alignment. */
static void
test_valid(void **state)
{
	struct proxyproto_header	 h;
	unsigned char			 buf[PROXYPROTO_MAX_HEADER + 16];
	char				 why[64];
	size_t				 i, off, need;

	(void)state;
	for (i = 0; i < sizeof(valids) / sizeof(valids[0]); i++) {
		const struct valid	*v = &valids[i];

		print_message("%s\n", v->name);
		for (off = 0; off < 8; off++) {
			memcpy(buf + off, v->in, v->inlen);
			memset(&h, 0xa5, sizeof(h));
			need = 12345;
			why[0] = '\0';
			assert_int_equal(proxyproto_parse(buf + off, v->inlen,
			    &h, &need, why, sizeof(why)), PROXYPROTO_DONE);
			check_valid(v, &h);
			assert_int_equal(need, 12345);
			assert_string_equal(why, "");
		}
		/* The header alone is enough. */
		assert_int_equal(parse_exact(v->in, v->hlen, &h, NULL, NULL, 0),
		    PROXYPROTO_DONE);
		check_valid(v, &h);
	}
}

/*
 * Every strict prefix says AGAIN, leaves h alone, and asks for more
 * bytes but no more than the header has; v2 knows its exact length
 * from byte 16.
 */
static void
test_prefixes(void **state)
{
	struct proxyproto_header	 h, h0;
	char				 why[64];
	size_t				 i, n, need;

	(void)state;
	memset(&h0, 0xa5, sizeof(h0));
	for (i = 0; i < sizeof(valids) / sizeof(valids[0]); i++) {
		const struct valid	*v = &valids[i];

		print_message("%s\n", v->name);
		for (n = 0; n < v->hlen; n++) {
			h = h0;
			need = 0;
			why[0] = '\0';
			assert_int_equal(parse_exact(v->in, n, &h, &need, why,
			    sizeof(why)), PROXYPROTO_AGAIN);
			assert_memory_equal(&h, &h0, sizeof(h));
			assert_string_equal(why, "");
			assert_true(need > n);
			assert_true(need <= v->hlen);
			if (v->version == 2 && n >= V2_FIXED)
				assert_int_equal(need, v->hlen);
			/* need may be NULL. */
			assert_int_equal(parse_exact(v->in, n, &h, NULL, NULL,
			    0), PROXYPROTO_AGAIN);
		}
	}
}

/*
 * AGAIN up to the byte that shows the input is bad, BAD with its
 * reason from there on, and h never touched.
 */
static void
test_invalid(void **state)
{
	struct proxyproto_header	 h, h0;
	char				 why[64];
	size_t				 n, at, i, need;

	(void)state;
	memset(&h0, 0xa5, sizeof(h0));
	for (i = 0; i < sizeof(invalids) / sizeof(invalids[0]); i++) {
		const struct invalid	*v = &invalids[i];

		print_message("%s\n", v->name);
		at = v->at != 0 ? v->at : v->inlen;
		assert_true(at <= v->inlen);
		for (n = 0; n <= v->inlen; n++) {
			h = h0;
			why[0] = '\0';
			need = 0;
			if (n < at) {
				assert_int_equal(parse_exact(v->in, n, &h,
				    &need, why, sizeof(why)), PROXYPROTO_AGAIN);
				assert_string_equal(why, "");
				assert_true(need > n);
			} else {
				assert_int_equal(parse_exact(v->in, n, &h,
				    &need, why, sizeof(why)), PROXYPROTO_BAD);
				assert_string_equal(why, v->why);
				assert_int_equal(need, 0);
			}
			assert_memory_equal(&h, &h0, sizeof(h));
		}
	}
}

/* A unix stream PROXY header: valid, but no address we can use. */
static void
test_v2_unix(void **state)
{
	static const char		 head[] = SIG "\x21\x31\x00\xd8";
	unsigned char			 buf[V2_FIXED + 216 + 4];
	struct proxyproto_header	 h;
	size_t				 need = 0;

	(void)state;
	memset(buf, 'u', sizeof(buf));
	memcpy(buf, head, V2_FIXED);
	assert_int_equal(proxyproto_parse(buf, V2_FIXED, &h, &need, NULL, 0),
	    PROXYPROTO_AGAIN);
	assert_int_equal(need, V2_FIXED + 216);
	assert_int_equal(proxyproto_parse(buf, V2_FIXED + 215, &h, NULL, NULL,
	    0), PROXYPROTO_AGAIN);
	assert_int_equal(proxyproto_parse(buf, sizeof(buf), &h, NULL, NULL, 0),
	    PROXYPROTO_DONE);
	assert_int_equal(h.version, 2);
	assert_int_equal(h.local, 1);
	assert_int_equal(h.len, V2_FIXED + 216);
}

/* The largest v2 header fits; one byte more does not. */
static void
test_v2_max(void **state)
{
	static unsigned char		 buf[PROXYPROTO_MAX_HEADER + 1];
	struct proxyproto_header	 h;
	char				 why[64];
	size_t				 need = 0, n = PROXYPROTO_MAX_HEADER - V2_FIXED;

	(void)state;
	memset(buf, 0, sizeof(buf));
	memcpy(buf, SIG "\x21\x11", 14);
	buf[14] = (unsigned char)(n >> 8);
	buf[15] = (unsigned char)n;
	assert_int_equal(proxyproto_parse(buf, V2_FIXED, &h, &need, why,
	    sizeof(why)), PROXYPROTO_AGAIN);
	assert_int_equal(need, PROXYPROTO_MAX_HEADER);
	assert_int_equal(proxyproto_parse(buf, PROXYPROTO_MAX_HEADER - 1, &h,
	    &need, why, sizeof(why)), PROXYPROTO_AGAIN);
	assert_int_equal(proxyproto_parse(buf, sizeof(buf), &h, &need, why,
	    sizeof(why)), PROXYPROTO_DONE);
	assert_int_equal(h.len, PROXYPROTO_MAX_HEADER);
	check_addr(&h.src, h.srclen, AF_INET, "0.0.0.0", 0);

	n++;
	buf[14] = (unsigned char)(n >> 8);
	buf[15] = (unsigned char)n;
	assert_int_equal(proxyproto_parse(buf, sizeof(buf), &h, &need, why,
	    sizeof(why)), PROXYPROTO_BAD);
	assert_string_equal(why, "header too long");
}

/* why is optional and cut to whylen; need is a floor before the version. */
static void
test_why_need(void **state)
{
	struct proxyproto_header	 h;
	char				 why[4];
	size_t				 need = 0;

	(void)state;
	assert_int_equal(proxyproto_parse("", 0, &h, &need, why, sizeof(why)),
	    PROXYPROTO_AGAIN);
	assert_int_equal(need, 15);	/* "PROXY UNKNOWN\r\n" */
	assert_int_equal(proxyproto_parse("\r", 1, &h, &need, why,
	    sizeof(why)), PROXYPROTO_AGAIN);
	assert_int_equal(need, V2_FIXED);
	assert_int_equal(proxyproto_parse("PROXY TCP4 1.2.3.4", 18, &h, &need,
	    why, sizeof(why)), PROXYPROTO_AGAIN);
	assert_int_equal(need, 19);

	memset(why, 'x', sizeof(why));
	assert_int_equal(proxyproto_parse("GET /", 5, &h, NULL, why,
	    sizeof(why)), PROXYPROTO_BAD);
	assert_string_equal(why, "not");
	assert_int_equal(proxyproto_parse("GET /", 5, &h, NULL, NULL, 0),
	    PROXYPROTO_BAD);
	memset(why, 'x', sizeof(why));
	assert_int_equal(proxyproto_parse("GET /", 5, &h, NULL, why, 0),
	    PROXYPROTO_BAD);
	assert_int_equal(why[0], 'x');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_v2_unix),
		cmocka_unit_test(test_v2_max),
		cmocka_unit_test(test_why_need),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
