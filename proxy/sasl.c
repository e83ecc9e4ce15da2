/*
 * SASL PLAIN (RFC 4616) and base64 (RFC 4648 s.4) for the mechanisms the
 * proxy terminates, and a look into XOAUTH2 and OAUTHBEARER (RFC 7628)
 * responses for their user name.  OpenSSL's EVP_DecodeBlock() decodes,
 * but it skips blanks, and for "=" padding it still writes zero bytes
 * and counts them, so the input is checked and the real length computed
 * here.
 */
#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "sasl.h"

/* authzid NUL authcid NUL passwd, the longest PLAIN response we take. */
#define SASL_PLAIN_MAX	(AUTH_MAX_USER * 2 + AUTH_MAX_SECRET + 2)
/* Its base64 length, and room for all that base64 can decode to. */
#define SASL_PLAIN_B64	((SASL_PLAIN_MAX + 2) / 3 * 4)
#define SASL_PLAIN_BUF	(SASL_PLAIN_B64 / 4 * 3 + 1)
/* All an OAuth response of AUTH_MAX_SECRET base64 characters decodes to. */
#define SASL_OAUTH_BUF	(AUTH_MAX_SECRET / 4 * 3 + 1)
/* RFC 7628 s.3.1: kvsep, between key=value pairs. */
#define SASL_KVSEP	'\x01'

static int
b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Checks the alphabet and padding; returns the number of "=" or -1. */
static int
b64_check(const char *b64, size_t len)
{
	size_t	i, pad = 0;

	if (len % 4 != 0)
		return -1;
	if (len > 0 && b64[len - 1] == '=')
		pad = len > 1 && b64[len - 2] == '=' ? 2 : 1;
	for (i = 0; i < len - pad; i++)
		if (!b64_char((unsigned char)b64[i]))
			return -1;
	return (int)pad;
}

int
sasl_b64_decode(const char *b64, size_t len, char *out, size_t outlen)
{
	unsigned char	 last[3];
	size_t		 body, n;
	int		 pad;

	if (len == 1 && b64[0] == '=')
		len = 0;
	if (len > INT_MAX || (pad = b64_check(b64, len)) < 0)
		return -1;
	n = len / 4 * 3 - (size_t)pad;
	if (outlen == 0 || n > outlen - 1 || n > INT_MAX)
		return -1;
	if (len == 0) {
		out[0] = '\0';
		return 0;
	}
	/*
	 * Whole quanta go straight to out; the last one, which may carry
	 * padding, goes through last[] so out needs no slack for the
	 * zero bytes EVP_DecodeBlock() writes for "=".
	 */
	body = len - 4;
	if (body > 0 && EVP_DecodeBlock((unsigned char *)out,
	    (const unsigned char *)b64, (int)body) != (int)(body / 4 * 3))
		goto fail;
	if (EVP_DecodeBlock(last, (const unsigned char *)b64 + body, 4) != 3)
		goto fail;
	memcpy(out + body / 4 * 3, last, 3 - (size_t)pad);
	OPENSSL_cleanse(last, sizeof(last));
	out[n] = '\0';
	return (int)n;
fail:
	OPENSSL_cleanse(last, sizeof(last));
	OPENSSL_cleanse(out, outlen);
	out[0] = '\0';
	return -1;
}

int
sasl_b64_valid(const char *b64, size_t len)
{
	return (len == 1 && b64[0] == '=') || b64_check(b64, len) >= 0;
}

int
sasl_b64_encode(const unsigned char *in, size_t len, char *out,
    size_t outlen)
{
	size_t	n;

	if (len > INT_MAX / 4 * 3 - 3)
		return -1;
	n = (len + 2) / 3 * 4;
	if (outlen == 0 || n > outlen - 1)
		return -1;
	return EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

/* Copies one PLAIN field; returns NULL or why it was refused. */
static const char *
plain_copy(char *dst, size_t dstlen, const char *src, size_t len,
    int is_user)
{
	if (len >= dstlen)
		return is_user ? "User name too long" : "Password too long";
	if (is_user && (memchr(src, '\r', len) != NULL ||
	    memchr(src, '\n', len) != NULL))
		return "Invalid user name";
	memcpy(dst, src, len);
	dst[len] = '\0';
	return NULL;
}

/* Splits "authzid NUL authcid NUL passwd" into creds. */
static const char *
plain_split(const char *buf, size_t len, struct sasl_creds *creds)
{
	const char	*end = buf + len, *nul1, *nul2, *user, *pass, *err;
	size_t		 ulen, plen;

	if ((nul1 = memchr(buf, '\0', len)) == NULL)
		return "Malformed PLAIN response";
	user = nul1 + 1;
	if ((nul2 = memchr(user, '\0', (size_t)(end - user))) == NULL)
		return "Malformed PLAIN response";
	ulen = (size_t)(nul2 - user);
	pass = nul2 + 1;
	plen = (size_t)(end - pass);
	if (memchr(pass, '\0', plen) != NULL)
		return "Malformed PLAIN response";
	if (ulen == 0)
		return "Empty user name";
	if (plen == 0)
		return "Empty password";
	if ((err = plain_copy(creds->authzid, sizeof(creds->authzid), buf,
	    (size_t)(nul1 - buf), 1)) != NULL ||
	    (err = plain_copy(creds->user, sizeof(creds->user), user, ulen,
	    1)) != NULL)
		return err;
	return plain_copy(creds->pass, sizeof(creds->pass), pass, plen, 0);
}

int
sasl_plain_decode(const char *b64, size_t len, struct sasl_creds *creds,
    const char **err_r)
{
	char		 buf[SASL_PLAIN_BUF];
	const char	*err;
	int		 n;

	sasl_creds_wipe(creds);
	if (len > SASL_PLAIN_B64)
		err = "Response too long";
	else if ((n = sasl_b64_decode(b64, len, buf, sizeof(buf))) == -1)
		err = "Invalid base64";
	else
		err = plain_split(buf, (size_t)n, creds);
	OPENSSL_cleanse(buf, sizeof(buf));
	if (err != NULL) {
		sasl_creds_wipe(creds);
		*err_r = err;
		return -1;
	}
	return 0;
}

int
sasl_plain_encode(const struct sasl_creds *creds, char *out, size_t outlen)
{
	char	buf[SASL_PLAIN_MAX];
	size_t	zlen, ulen, plen;
	int	r;

	zlen = strnlen(creds->authzid, sizeof(creds->authzid) - 1);
	ulen = strnlen(creds->user, sizeof(creds->user) - 1);
	plen = strnlen(creds->pass, sizeof(creds->pass) - 1);
	memcpy(buf, creds->authzid, zlen);
	buf[zlen] = '\0';
	memcpy(buf + zlen + 1, creds->user, ulen);
	buf[zlen + 1 + ulen] = '\0';
	memcpy(buf + zlen + ulen + 2, creds->pass, plen);
	r = sasl_b64_encode((const unsigned char *)buf, zlen + ulen + plen + 2,
	    out, outlen);
	OPENSSL_cleanse(buf, sizeof(buf));
	return r;
}

/*
 * Counts the ^A-separated fields of buf[0..len) that begin with key and
 * points *val_r and *vlen_r at the value of the first.
 */
static int
oauth_field(const char *buf, size_t len, const char *key,
    const char **val_r, size_t *vlen_r)
{
	const char	*p = buf, *end = buf + len, *e;
	size_t		 klen = strlen(key);
	int		 n = 0;

	while (p < end) {
		if ((e = memchr(p, SASL_KVSEP, (size_t)(end - p))) == NULL)
			e = end;
		if ((size_t)(e - p) >= klen && memcmp(p, key, klen) == 0 &&
		    n++ == 0) {
			*val_r = p + klen;
			*vlen_r = (size_t)(e - p) - klen;
		}
		p = e + 1;
	}
	return n;
}

/*
 * "user=" USER ^A "auth=Bearer " TOKEN ^A ^A.  Dovecot takes the last
 * user= and the access rules would see the first: more than one is
 * refused.
 */
static const char *
xoauth2_split(const char *buf, size_t len, struct sasl_creds *creds)
{
	const char	*user, *auth;
	size_t		 ulen, alen;
	int		 n;

	if ((n = oauth_field(buf, len, "user=", &user, &ulen)) == 0)
		return "Missing user name";
	if (n > 1)
		return "More than one user name";
	if (ulen == 0)
		return "Empty user name";
	if (oauth_field(buf, len, "auth=", &auth, &alen) == 0 || alen == 0)
		return "Missing token";
	return plain_copy(creds->user, sizeof(creds->user), user, ulen, 1);
}

/*
 * gs2-header = ("n" / "y" / "p=" cb-name) "," ["a=" saslname] ","
 * (RFC 5801 s.4), then kvsep and the key=value pairs; saslname writes
 * "," and "=" as "=2C" and "=3D".  No a= leaves the user "".
 */
static const char *
oauthbearer_split(const char *buf, size_t len, struct sasl_creds *creds)
{
	const char	*p = buf, *end = buf + len, *auth;
	size_t		 n = 0, alen;
	char		 c;

	if (len >= 2 && (buf[0] == 'n' || buf[0] == 'y') && buf[1] == ',')
		p = buf + 2;
	else if (len >= 2 && buf[0] == 'p' && buf[1] == '=') {
		for (p = buf + 2; p < end && ((*p >= 'a' && *p <= 'z') ||
		    (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '.' || *p == '-'); p++)
			;
		if (p == buf + 2 || p == end || *p != ',')
			return "Malformed gs2 header";
		p++;
	} else
		return "Malformed gs2 header";
	if (end - p >= 2 && p[0] == 'a' && p[1] == '=') {
		for (p += 2; p < end && *p != ','; p++) {
			c = *p;
			if (c == '=') {
				if (end - p >= 3 && p[1] == '2' && p[2] == 'C')
					c = ',';
				else if (end - p >= 3 && p[1] == '3' &&
				    p[2] == 'D')
					c = '=';
				else
					return "Invalid user name";
				p += 2;
			} else if ((unsigned char)c < 0x20 || c == 0x7f)
				return "Invalid user name";
			if (n >= sizeof(creds->user) - 1)
				return "User name too long";
			creds->user[n++] = c;
		}
		if (n == 0)
			return "Empty user name";
	}
	creds->user[n] = '\0';
	if (end - p < 2 || p[0] != ',' || p[1] != SASL_KVSEP)
		return "Malformed gs2 header";
	p += 2;
	if (oauth_field(p, (size_t)(end - p), "auth=", &auth, &alen) == 0 ||
	    alen == 0)
		return "Missing token";
	return NULL;
}

int
sasl_oauth_decode(enum sasl_mech mech, const char *b64, size_t len,
    struct sasl_creds *creds, const char **err_r)
{
	char		 buf[SASL_OAUTH_BUF];
	const char	*err;
	int		 n = 0;

	sasl_creds_wipe(creds);
	if (len > AUTH_MAX_SECRET)
		err = "Response too long";
	else if ((n = sasl_b64_decode(b64, len, buf, sizeof(buf))) == -1)
		err = "Invalid base64";
	else if (n == 0)
		err = "Empty response";
	else if (memchr(buf, '\0', (size_t)n) != NULL)
		err = "Malformed response";
	else if (mech == SASL_MECH_XOAUTH2)
		err = xoauth2_split(buf, (size_t)n, creds);
	else if (mech == SASL_MECH_OAUTHBEARER)
		err = oauthbearer_split(buf, (size_t)n, creds);
	else
		err = "Not an OAuth mechanism";
	OPENSSL_cleanse(buf, sizeof(buf));
	if (err != NULL) {
		sasl_creds_wipe(creds);
		*err_r = err;
		return -1;
	}
	memcpy(creds->pass, b64, len);
	creds->pass[len] = '\0';
	return 0;
}

void
sasl_creds_wipe(struct sasl_creds *creds)
{
	OPENSSL_cleanse(creds, sizeof(*creds));
}
