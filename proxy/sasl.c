/*
 * SASL PLAIN (RFC 4616) and base64 (RFC 4648 s.4) for the mechanisms the
 * proxy terminates.  OpenSSL's EVP_DecodeBlock() decodes, but it skips
 * blanks, and for "=" padding it still writes zero bytes and counts
 * them, so the input is checked and the real length computed here.
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

void
sasl_creds_wipe(struct sasl_creds *creds)
{
	OPENSSL_cleanse(creds, sizeof(*creds));
}
