/*
 * SASL decoders for the mechanisms the proxy terminates itself:
 * PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login).
 * Nothing here logs; buffers that held secrets are the caller's to wipe.
 */
#ifndef SASL_H
#define SASL_H

#include <stddef.h>

#include "bounds.h"

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

/* Wipes creds (OPENSSL_cleanse). */
void	sasl_creds_wipe(struct sasl_creds *creds);

#endif
