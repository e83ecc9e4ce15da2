/*
 * SASL decoders for the mechanisms the proxy terminates itself:
 * PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login); and for the
 * OAuth mechanisms it passes through, XOAUTH2 (Google) and OAUTHBEARER
 * (RFC 7628), just enough to learn the user for the access rules and
 * the routes.  Nothing here logs; buffers that held secrets are the
 * caller's to wipe.
 */
#ifndef SASL_H
#define SASL_H

#include <stddef.h>

#include "bounds.h"

/* How a client logs in. */
enum sasl_mech {
	SASL_MECH_PASSWORD,	/* LOGIN, AUTHENTICATE PLAIN or LOGIN */
	SASL_MECH_XOAUTH2,	/* passed through to the back end */
	SASL_MECH_OAUTHBEARER	/* passed through to the back end */
};

/*
 * For SASL_MECH_PASSWORD, pass is the password; for the OAuth
 * mechanisms it is the client's base64 response as it came, and user
 * the name in it ("" when an OAUTHBEARER response names none).
 */
struct sasl_creds {
	char	authzid[AUTH_MAX_USER + 1];	/* "" when none */
	char	user[AUTH_MAX_USER + 1];
	char	pass[AUTH_MAX_SECRET + 1];
};

/*
 * Decodes base64 b64[0..len) into out (NUL-terminated).  "=" alone
 * means an empty response (RFC 9051 s.6.2.2).  Returns the decoded
 * length, or -1 on bad base64 or when it does not fit outlen - 1.
 */
int	sasl_b64_decode(const char *b64, size_t len, char *out,
	    size_t outlen);
/* Whether b64[0..len) is well-formed base64 ("" and "=" included). */
int	sasl_b64_valid(const char *b64, size_t len);
/* Encodes in[0..len) as base64 into out; returns its length or -1. */
int	sasl_b64_encode(const unsigned char *in, size_t len, char *out,
	    size_t outlen);

/*
 * Decodes a PLAIN response (base64 of authzid NUL authcid NUL passwd)
 * into creds.  Returns 0, or -1 with a static reason in *err_r.
 */
int	sasl_plain_decode(const char *b64, size_t len,
	    struct sasl_creds *creds, const char **err_r);

/*
 * Builds the base64 PLAIN response for creds into out.  Returns its
 * length, or -1 if it does not fit.
 */
int	sasl_plain_encode(const struct sasl_creds *creds, char *out,
	    size_t outlen);

/*
 * Checks an XOAUTH2 ("user=" USER ^A "auth=Bearer " TOKEN ^A ^A) or an
 * OAUTHBEARER (RFC 7628 s.3.1: gs2 header with an optional "a=" USER,
 * then ^A-separated key=value pairs) response of mech: creds->user gets
 * the user name, creds->pass the base64 response itself (at most
 * AUTH_MAX_SECRET characters), to be passed on.  Returns 0, or -1 with
 * a static reason in *err_r.
 */
int	sasl_oauth_decode(enum sasl_mech mech, const char *b64, size_t len,
	    struct sasl_creds *creds, const char **err_r);

/* Wipes creds (OPENSSL_cleanse). */
void	sasl_creds_wipe(struct sasl_creds *creds);

#endif
