/*
 * libFuzzer target: the PROXY protocol v1/v2 header parser
 * (proxy/proxyproto.c), as proxyhdr.c calls it on what recv(MSG_PEEK)
 * returned.  The input is parsed whole and at every prefix, each copy
 * ending exactly at the end of its allocation and at an odd address, so
 * ASan sees any read past len and UBSan any misaligned access.
 * Checked:
 * - PROXYPROTO_AGAIN leaves h alone and says need > len;
 * - BAD is final: once a prefix is BAD, every longer one is;
 * - DONE comes exactly at h.len bytes, and every longer input gives the
 *   same header; no prefix shorter than a promised need is DONE;
 * - a DONE header is sane (version, length bounds, address families);
 * - the reason fits whylen however short, and is NUL-terminated.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include "proxyproto.h"

#include "fuzz.h"

/* Prefixes are all parsed up to here, then a sample of them. */
#define ALL_PREFIXES	512

static int
same_header(const struct proxyproto_header *a,
    const struct proxyproto_header *b)
{
	return a->version == b->version && a->local == b->local &&
	    a->len == b->len && a->srclen == b->srclen &&
	    a->dstlen == b->dstlen &&
	    memcmp(&a->src, &b->src, a->srclen) == 0 &&
	    memcmp(&a->dst, &b->dst, a->dstlen) == 0;
}

static void
check_done(const struct proxyproto_header *h, size_t len)
{
	FUZZ_CHECK(h->len > 0 && h->len <= len);
	FUZZ_CHECK(h->len <= PROXYPROTO_MAX_HEADER);
	if (h->version == 1)
		FUZZ_CHECK(h->len >= 15 && h->len <= 107);
	else {
		FUZZ_CHECK(h->version == 2);
		FUZZ_CHECK(h->len >= 16);
	}
	if (h->local) {
		FUZZ_CHECK(h->srclen == 0 && h->dstlen == 0);
		return;
	}
	fuzz_check_addr(&h->src, h->srclen);
	fuzz_check_addr(&h->dst, h->dstlen);
	FUZZ_CHECK(h->src.ss_family == h->dst.ss_family);
}

/* Parses b[0..len) from a copy that ends where its allocation does. */
static enum proxyproto_result
parse_exact(const uint8_t *b, size_t len, struct proxyproto_header *h,
    size_t *need, char *why, size_t whylen)
{
	enum proxyproto_result	 r;
	uint8_t			*p;

	/* One spare byte in front: the copy starts at an odd address. */
	if ((p = malloc(len + 1)) == NULL)
		FUZZ_FATAL("out of memory");
	memcpy(p + 1, b, len);
	r = proxyproto_parse(p + 1, len, h, need, why, whylen);
	free(p);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxyproto_header	 whole, h, fill;
	enum proxyproto_result		 r, ri;
	struct fuzz_rng			 rng;
	char				 why[160], shortwhy[32];
	size_t				 need, i, whylen, first_bad = SIZE_MAX;
	size_t				 min_len = 0;

	memset(&fill, 0xa5, sizeof(fill));
	whole = fill;
	why[0] = '\0';
	r = parse_exact(data, size, &whole, &need, why, sizeof(why));
	switch (r) {
	case PROXYPROTO_DONE:
		check_done(&whole, size);
		break;
	case PROXYPROTO_AGAIN:
		FUZZ_CHECK(memcmp(&whole, &fill, sizeof(fill)) == 0);
		FUZZ_CHECK(need > size && need <= PROXYPROTO_MAX_HEADER);
		break;
	case PROXYPROTO_BAD:
		FUZZ_CHECK(memcmp(&whole, &fill, sizeof(fill)) == 0);
		FUZZ_CHECK(why[0] != '\0' && memchr(why, '\0', sizeof(why)));
		break;
	default:
		FUZZ_CHECK(!"result");
	}

	fuzz_rng_init(&rng, data, size);
	for (i = 0; i <= size; i++) {
		if (i > ALL_PREFIXES && i != size && !(r == PROXYPROTO_DONE &&
		    i == whole.len) && fuzz_rng_below(&rng, 16) != 0)
			continue;
		h = fill;
		need = 0;
		ri = parse_exact(data, i, &h, &need, NULL, 0);
		if (ri != PROXYPROTO_DONE)
			FUZZ_CHECK(memcmp(&h, &fill, sizeof(fill)) == 0);
		if (first_bad != SIZE_MAX) {
			FUZZ_CHECK(ri == PROXYPROTO_BAD);
			continue;
		}
		switch (ri) {
		case PROXYPROTO_AGAIN:
			FUZZ_CHECK(need > i);
			if (need > min_len)
				min_len = need;
			/* The whole header is longer than that. */
			FUZZ_CHECK(r != PROXYPROTO_DONE || whole.len >= need);
			break;
		case PROXYPROTO_BAD:
			first_bad = i;
			FUZZ_CHECK(r == PROXYPROTO_BAD);
			break;
		case PROXYPROTO_DONE:
			FUZZ_CHECK(r == PROXYPROTO_DONE);
			FUZZ_CHECK(same_header(&h, &whole));
			/* Not before its last byte, never before need. */
			FUZZ_CHECK(i >= whole.len && i >= min_len);
			break;
		default:
			FUZZ_CHECK(!"result");
		}
		/* The first prefix of h.len bytes must already be DONE. */
		if (r == PROXYPROTO_DONE && i == whole.len)
			FUZZ_CHECK(ri == PROXYPROTO_DONE);
	}

	/* A short reason buffer is cut, never overrun. */
	whylen = 1 + size % 24;
	memset(shortwhy, 'Z', sizeof(shortwhy));
	r = parse_exact(data, size, &h, NULL, shortwhy, whylen);
	if (r == PROXYPROTO_BAD) {
		FUZZ_CHECK(memchr(shortwhy, '\0', whylen) != NULL);
		for (i = whylen; i < sizeof(shortwhy); i++)
			FUZZ_CHECK(shortwhy[i] == 'Z');
	}
	return 0;
}
