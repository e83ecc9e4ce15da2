/*
 * libFuzzer target: the SASL decoders of proxy/sasl.c (include/sasl.h):
 * base64, PLAIN, and the XOAUTH2 and OAUTHBEARER responses the proxy
 * reads the user from.  Each decoder gets the input twice: as the
 * client's base64 text, and base64-encoded first, so the fuzzer reaches
 * the decoded grammar without having to write valid base64.  Checked:
 * - sasl_b64_decode() and sasl_b64_valid() agree with a plain reference
 *   decoder (RFC 4648 s.4, "=" alone being empty), also when the output
 *   buffer is short; nothing is written past outlen;
 * - encode then decode gives the input back;
 * - PLAIN: a success splits exactly as authzid NUL authcid NUL passwd,
 *   re-encodes to a response that decodes to the same credentials, and
 *   a failure leaves the credentials wiped;
 * - OAuth: a success keeps the response as sent and a user without
 *   control characters; the password mechanism is refused.
 */
#include <ctype.h>

#include "sasl.h"

#include "fuzz.h"

#define B64_MAX(n)	(((n) + 2) / 3 * 4 + 1)

static struct sasl_creds	 creds, creds2, zero;

static int
ref_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* The reference: decoded length into out (room for len / 4 * 3), or -1. */
static long
ref_decode(const uint8_t *in, size_t len, uint8_t *out)
{
	size_t		 i, pad = 0, n = 0;
	uint32_t	 acc = 0;
	int		 v, bits = 0;

	if (len == 1 && in[0] == '=')
		return 0;
	if (len % 4 != 0)
		return -1;
	while (pad < 2 && pad < len && in[len - 1 - pad] == '=')
		pad++;
	for (i = 0; i < len - pad; i++) {
		if ((v = ref_value(in[i])) < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	return (long)n;
}

static void
check_b64(const uint8_t *data, size_t size, struct fuzz_rng *rng)
{
	uint8_t		*ref;
	char		*out;
	size_t		 outlen, full = size / 4 * 3 + 2;
	long		 n;
	int		 r;

	if ((ref = malloc(full)) == NULL)
		return;
	n = ref_decode(data, size, ref);
	FUZZ_CHECK(sasl_b64_valid((const char *)data, size) == (n >= 0));
	outlen = fuzz_rng_below(rng, 3) == 0 ? fuzz_rng_below(rng, full + 1) :
	    full;
	/* malloc(0) may be NULL: keep a byte, tell the decoder outlen. */
	if ((out = malloc(outlen > 0 ? outlen : 1)) == NULL) {
		free(ref);
		return;
	}
	r = sasl_b64_decode((const char *)data, size, out, outlen);
	if (n < 0 || outlen == 0 || (size_t)n > outlen - 1)
		FUZZ_CHECK(r == -1);
	else {
		FUZZ_CHECK(r == n);
		FUZZ_CHECK(memcmp(out, ref, (size_t)n) == 0 && out[n] == '\0');
	}
	free(out);
	free(ref);
}

/* encode(x), then decode: x again; *enc_r gets the text. */
static size_t
check_roundtrip(const uint8_t *data, size_t size, char *enc,
    struct fuzz_rng *rng)
{
	char	*dec, *small;
	size_t	 full = B64_MAX(size), slen;
	int	 n, m;

	n = sasl_b64_encode(data, size, enc, full);
	FUZZ_CHECK(n >= 0 && (size_t)n == full - 1 && enc[n] == '\0');
	FUZZ_CHECK(sasl_b64_valid(enc, (size_t)n));
	if ((dec = malloc(size + 1)) != NULL) {
		m = sasl_b64_decode(enc, (size_t)n, dec, size + 1);
		FUZZ_CHECK(m >= 0 && (size_t)m == size);
		FUZZ_CHECK(memcmp(dec, data, size) == 0);
		free(dec);
	}
	/* Too short an output is refused, not overrun. */
	slen = fuzz_rng_below(rng, full);
	if ((small = malloc(slen > 0 ? slen : 1)) != NULL) {
		FUZZ_CHECK(sasl_b64_encode(data, size, small, slen) == -1);
		free(small);
	}
	return (size_t)n;
}

static void
check_plain(const char *b64, size_t len)
{
	const char	*err = NULL, *p, *nul1, *nul2;
	char		*dec, *re;
	size_t		 dn, relen = B64_MAX(AUTH_MAX_USER * 2 +
			    AUTH_MAX_SECRET + 2);
	int		 n;

	if (sasl_plain_decode(b64, len, &creds, &err) == -1) {
		FUZZ_CHECK(err != NULL && err[0] != '\0');
		FUZZ_CHECK(memcmp(&creds, &zero, sizeof(creds)) == 0);
		return;
	}
	FUZZ_CHECK(memchr(creds.authzid, '\0', sizeof(creds.authzid)));
	FUZZ_CHECK(memchr(creds.user, '\0', sizeof(creds.user)));
	FUZZ_CHECK(memchr(creds.pass, '\0', sizeof(creds.pass)));
	FUZZ_CHECK(creds.user[0] != '\0' && creds.pass[0] != '\0');
	FUZZ_CHECK(strpbrk(creds.user, "\r\n") == NULL);
	FUZZ_CHECK(strpbrk(creds.authzid, "\r\n") == NULL);
	/* It splits as the RFC says. */
	if ((dec = malloc(len / 4 * 3 + 2)) == NULL)
		return;
	n = sasl_b64_decode(b64, len, dec, len / 4 * 3 + 2);
	FUZZ_CHECK(n >= 0);
	dn = (size_t)n;
	nul1 = memchr(dec, '\0', dn);
	FUZZ_CHECK(nul1 != NULL);
	p = nul1 + 1;
	nul2 = memchr(p, '\0', dn - (size_t)(p - dec));
	FUZZ_CHECK(nul2 != NULL);
	FUZZ_CHECK(strlen(creds.authzid) == (size_t)(nul1 - dec) &&
	    memcmp(creds.authzid, dec, (size_t)(nul1 - dec)) == 0);
	FUZZ_CHECK(strlen(creds.user) == (size_t)(nul2 - p) &&
	    memcmp(creds.user, p, (size_t)(nul2 - p)) == 0);
	FUZZ_CHECK(strlen(creds.pass) == dn - (size_t)(nul2 + 1 - dec) &&
	    memcmp(creds.pass, nul2 + 1, strlen(creds.pass)) == 0);
	free(dec);
	/* Re-encoded, as backend.c sends it: the same credentials. */
	if ((re = malloc(relen)) == NULL)
		return;
	n = sasl_plain_encode(&creds, re, relen);
	FUZZ_CHECK(n > 0);
	FUZZ_CHECK(sasl_plain_decode(re, (size_t)n, &creds2, &err) == 0);
	FUZZ_CHECK(memcmp(&creds, &creds2, sizeof(creds)) == 0);
	/* A buffer too short is refused. */
	FUZZ_CHECK(sasl_plain_encode(&creds, re, (size_t)n) == -1);
	free(re);
	sasl_creds_wipe(&creds2);
}

static void
check_oauth(enum sasl_mech mech, const char *b64, size_t len)
{
	const char	*err = NULL;
	size_t		 i;

	if (sasl_oauth_decode(mech, b64, len, &creds, &err) == -1) {
		FUZZ_CHECK(err != NULL && err[0] != '\0');
		FUZZ_CHECK(memcmp(&creds, &zero, sizeof(creds)) == 0);
		return;
	}
	FUZZ_CHECK(mech == SASL_MECH_XOAUTH2 || mech == SASL_MECH_OAUTHBEARER);
	FUZZ_CHECK(len <= AUTH_MAX_SECRET && sasl_b64_valid(b64, len));
	FUZZ_CHECK(strlen(creds.pass) == len &&
	    memcmp(creds.pass, b64, len) == 0);
	FUZZ_CHECK(memchr(creds.user, '\0', sizeof(creds.user)) != NULL);
	FUZZ_CHECK(creds.authzid[0] == '\0');
	if (mech == SASL_MECH_XOAUTH2)
		FUZZ_CHECK(creds.user[0] != '\0' &&
		    strpbrk(creds.user, "\r\n") == NULL);
	else
		for (i = 0; creds.user[i] != '\0'; i++)
			FUZZ_CHECK((unsigned char)creds.user[i] >= 0x20 &&
			    creds.user[i] != 0x7f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_rng	 rng;
	char		*enc;
	size_t		 n;

	fuzz_rng_init(&rng, data, size);
	check_b64(data, size, &rng);
	if ((enc = malloc(B64_MAX(size))) == NULL)
		return 0;
	n = check_roundtrip(data, size, enc, &rng);

	/* The client's text as it came, then the input encoded. */
	check_plain((const char *)data, size);
	check_plain(enc, n);
	check_oauth(SASL_MECH_XOAUTH2, (const char *)data, size);
	check_oauth(SASL_MECH_XOAUTH2, enc, n);
	check_oauth(SASL_MECH_OAUTHBEARER, (const char *)data, size);
	check_oauth(SASL_MECH_OAUTHBEARER, enc, n);
	check_oauth(SASL_MECH_PASSWORD, enc, n);
	sasl_creds_wipe(&creds);
	free(enc);
	return 0;
}
