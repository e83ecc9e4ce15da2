/*
 * TLS with OpenSSL 3: one server SSL_CTX per tls_cert, chosen by SNI,
 * and one client SSL_CTX per back end.  Contexts are built once, at
 * startup or reload, and then only read, so every worker thread shares
 * them; each connection owns its SSL.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "conf.h"
#include "errbuf.h"
#include "tls.h"

#define TLS_ULP_LIST	"/proc/sys/net/ipv4/tcp_available_ulp"

struct tls_server_cert {
	SSL_CTX		 *ctx;
	char		**names;	/* DNS SANs, else the subject CNs */
	size_t		  nnames;
};

struct tls_server {
	struct tls_server_cert	*certs;	/* first is the default */
	size_t			 ncerts;
};

struct tls_client {
	SSL_CTX		*ctx;
	char		*name;		/* to verify and send; NULL: none */
	int		 name_is_ip;	/* verify as an address, no SNI */
	int		 verify;
};

static const char *tls_conf_path(const struct conf *);
static char	*tls_reason(char *, size_t);
static int	 tls_check_file(const char *, char *, size_t);
static int	 tls_set_protocols(SSL_CTX *, int);
static int	 tls_ip_literal(const char *, char *, size_t);
static int	 tls_add_name(struct tls_server_cert *, const unsigned char *,
		    size_t);
static int	 tls_cert_names(struct tls_server_cert *, X509 *);
static EVP_PKEY	*tls_load_key(const char *);
static int	 tls_nopass_cb(char *, int, int, void *);
static int	 tls_servername_cb(SSL *, int *, void *);
static SSL_CTX	*tls_server_ctx(const struct conf *,
		    const struct conf_server *, const struct conf_cert *,
		    char *, size_t);
static void	 tls_server_cert_clear(struct tls_server_cert *);

static const char *
tls_conf_path(const struct conf *conf)
{
	if (conf == NULL || conf->path == NULL)
		return ("imapproxy.conf");
	return (conf->path);
}

/*
 * Drains the error queue into a short reason for a configuration
 * message.  The last error that is not one of OpenSSL's common
 * wrappers ("system lib", "PEM lib", "interrupted or cancelled") is
 * the most specific one; a system error is its strerror() text.
 */
static char *
tls_reason(char *buf, size_t buflen)
{
	unsigned long	 e, pick = 0, last = 0;
	const char	*r;

	while ((e = ERR_get_error()) != 0) {
		last = e;
		if (ERR_SYSTEM_ERROR(e) || !ERR_COMMON_ERROR(e))
			pick = e;
	}
	if (pick == 0)
		pick = last;
	if (pick == 0)
		r = "unknown error";
	else if (ERR_SYSTEM_ERROR(pick))
		r = strerror(ERR_GET_REASON(pick));
	else if (ERR_GET_LIB(pick) == ERR_LIB_OSSL_DECODER &&
	    ERR_GET_REASON(pick) == ERR_R_UNSUPPORTED)
		r = "no PEM private key found";
	else if (ERR_GET_LIB(pick) == ERR_LIB_PEM &&
	    ERR_GET_REASON(pick) == PEM_R_BAD_PASSWORD_READ)
		r = "the key is encrypted, which is not supported";
	else if ((r = ERR_reason_error_string(pick)) == NULL)
		r = "unknown error";
	(void)snprintf(buf, buflen, "%s", r);
	return (buf);
}

/*
 * OpenSSL reads a directory as an empty file and says "no start line";
 * stat() first gives the operator the real reason.  Returns 0, or -1
 * with the reason in buf.
 */
static int
tls_check_file(const char *path, char *buf, size_t buflen)
{
	struct stat	 sb;

	if (stat(path, &sb) == -1) {
		(void)snprintf(buf, buflen, "%s", strerror(errno));
		return (-1);
	}
	if (S_ISDIR(sb.st_mode)) {
		(void)snprintf(buf, buflen, "%s", strerror(EISDIR));
		return (-1);
	}
	return (0);
}

/*
 * Enables exactly the versions in bits (CONF_TLS_V*): the lowest and
 * highest bound the range, SSL_OP_NO_* closes any gap inside it.  No
 * bits means the default, TLS 1.2 and 1.3.  Returns 0 or -1.
 */
static int
tls_set_protocols(SSL_CTX *ctx, int bits)
{
	static const struct {
		int		 bit;
		int		 version;
		uint64_t	 no;
	} v[] = {
		{ CONF_TLS_V1_0, TLS1_VERSION, SSL_OP_NO_TLSv1 },
		{ CONF_TLS_V1_1, TLS1_1_VERSION, SSL_OP_NO_TLSv1_1 },
		{ CONF_TLS_V1_2, TLS1_2_VERSION, SSL_OP_NO_TLSv1_2 },
		{ CONF_TLS_V1_3, TLS1_3_VERSION, SSL_OP_NO_TLSv1_3 }
	};
	size_t		 i, lo = 0, hi = 0;
	int		 found = 0;

	if ((bits & (CONF_TLS_V1_0 | CONF_TLS_V1_1 | CONF_TLS_V1_2 |
	    CONF_TLS_V1_3)) == 0)
		bits = CONF_TLS_V1_2 | CONF_TLS_V1_3;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		if ((bits & v[i].bit) == 0)
			continue;
		if (!found)
			lo = i;
		hi = i;
		found = 1;
	}
	for (i = lo; i <= hi; i++)
		if ((bits & v[i].bit) == 0)
			SSL_CTX_set_options(ctx, v[i].no);
	/*
	 * OpenSSL 3 refuses TLS 1.0 and 1.1 above security level 0 (their
	 * handshake signs with SHA-1).  An operator who lists them asks for
	 * old clients to work, so give them the level that allows it.
	 */
	if (bits & (CONF_TLS_V1_0 | CONF_TLS_V1_1))
		SSL_CTX_set_security_level(ctx, 0);
	if (SSL_CTX_set_min_proto_version(ctx, v[lo].version) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, v[hi].version) != 1)
		return (-1);
	return (0);
}

/*
 * If host is an IPv4 or IPv6 literal (IPv6 possibly in brackets, with
 * a zone), copies the bare address to buf and returns 1; else 0.
 */
static int
tls_ip_literal(const char *host, char *buf, size_t buflen)
{
	unsigned char	 a[16];
	size_t		 len;
	char		*p;

	if (host == NULL)
		return (0);
	len = strlen(host);
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		host++;
		len -= 2;
	}
	if (len >= buflen)
		return (0);
	memcpy(buf, host, len);
	buf[len] = '\0';
	if ((p = strchr(buf, '%')) != NULL)
		*p = '\0';
	return (inet_pton(AF_INET, buf, a) == 1 ||
	    inet_pton(AF_INET6, buf, a) == 1);
}

static int
tls_add_name(struct tls_server_cert *tc, const unsigned char *data,
    size_t len)
{
	char	**n, *s;

	/* An embedded NUL is an attack on C string comparison. */
	if (len == 0 || memchr(data, '\0', len) != NULL)
		return (0);
	if ((s = strndup((const char *)data, len)) == NULL)
		return (-1);
	n = reallocarray(tc->names, tc->nnames + 1, sizeof(*n));
	if (n == NULL) {
		free(s);
		return (-1);
	}
	n[tc->nnames++] = s;
	tc->names = n;
	return (0);
}

/*
 * Collects the names SNI is matched against: the DNS subjectAltNames,
 * or the subject CNs when there is no DNS SAN (RFC 6125 s.6.4.4).
 * Returns 0 or -1 (out of memory).
 */
static int
tls_cert_names(struct tls_server_cert *tc, X509 *x)
{
	GENERAL_NAMES		*gens;
	const GENERAL_NAME	*gen;
	const X509_NAME		*subj;
	const X509_NAME_ENTRY	*ne;
	unsigned char		*utf8;
	int			 i, len, rc = 0;

	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		gen = sk_GENERAL_NAME_value(gens, i);
		if (gen->type != GEN_DNS)
			continue;
		if (tls_add_name(tc, ASN1_STRING_get0_data(gen->d.dNSName),
		    (size_t)ASN1_STRING_length(gen->d.dNSName)) == -1) {
			rc = -1;
			break;
		}
	}
	GENERAL_NAMES_free(gens);
	if (rc == -1 || tc->nnames > 0)
		return (rc);

	subj = X509_get_subject_name(x);
	i = -1;
	while ((i = X509_NAME_get_index_by_NID(subj, NID_commonName, i)) >= 0) {
		ne = X509_NAME_get_entry(subj, i);
		len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(ne));
		if (len < 0)
			continue;
		rc = tls_add_name(tc, utf8, (size_t)len);
		OPENSSL_free(utf8);
		if (rc == -1)
			return (-1);
	}
	return (0);
}

/* A daemon never prompts for a passphrase: an encrypted key fails. */
static int
tls_nopass_cb(char *buf, int size, int rwflag, void *arg)
{
	return (-1);
}

static EVP_PKEY *
tls_load_key(const char *path)
{
	EVP_PKEY	*pkey;
	BIO		*bio;

	if ((bio = BIO_new_file(path, "r")) == NULL)
		return (NULL);
	pkey = PEM_read_bio_PrivateKey(bio, NULL, tls_nopass_cb, NULL);
	BIO_free(bio);
	return (pkey);
}

/*
 * Picks the first certificate with a name matching the client's SNI.
 * No SNI or no match keeps the default certificate: a client that
 * cannot check names still gets a handshake, never an alert.
 */
static int
tls_servername_cb(SSL *ssl, int *ad, void *arg)
{
	const struct tls_server	*ts = arg;
	const char		*host;
	size_t			 i, j;

	host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (ts == NULL || host == NULL)
		return (SSL_TLSEXT_ERR_OK);
	for (i = 0; i < ts->ncerts; i++) {
		for (j = 0; j < ts->certs[i].nnames; j++) {
			if (!tls_name_match(ts->certs[i].names[j], host))
				continue;
			if (i > 0 &&
			    SSL_set_SSL_CTX(ssl, ts->certs[i].ctx) == NULL) {
				*ad = SSL_AD_INTERNAL_ERROR;
				return (SSL_TLSEXT_ERR_ALERT_FATAL);
			}
			return (SSL_TLSEXT_ERR_OK);
		}
	}
	return (SSL_TLSEXT_ERR_OK);
}

int
tls_ulp_listed(const char *list)
{
	const char	*p = list;
	size_t		 n;

	while (*p != '\0') {
		p += strspn(p, " \t\n");
		n = strcspn(p, " \t\n");
		if (n == 3 && strncmp(p, "tls", 3) == 0)
			return 1;
		p += n;
	}
	return 0;
}

/*
 * Whether the kernel has its TLS module loaded (kTLS).  Asked once: with
 * SSL_OP_ENABLE_KTLS, OpenSSL tries TCP_ULP on every connection and falls
 * back to its own record layer when that fails, which would cost a
 * failed setsockopt() per session on kernels without it.
 */
int
tls_kernel_offers_ktls(void)
{
	static int	 offered = -1;
	char		 line[256];
	FILE		*f;

	if (offered != -1)
		return offered;
	offered = 0;
	if ((f = fopen(TLS_ULP_LIST, "r")) == NULL)
		return offered;
	if (fgets(line, sizeof(line), f) != NULL)
		offered = tls_ulp_listed(line);
	fclose(f);
	return offered;
}

/*
 * One server context for one tls_cert.  Returns it, or NULL with the
 * reason appended to err.
 */
static SSL_CTX *
tls_server_ctx(const struct conf *conf, const struct conf_server *srv,
    const struct conf_cert *cc, char *err, size_t errlen)
{
	SSL_CTX		*ctx = NULL;
	EVP_PKEY	*pkey = NULL;
	X509		*x;
	unsigned char	 sid[EVP_MAX_MD_SIZE];
	unsigned int	 sidlen = 0;
	const char	*name = srv->name != NULL ? srv->name : "";
	char		 reason[256];

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		errbuf_appendf(err, errlen, "%s:%d: [server %s] tls_cert: %s",
		    tls_conf_path(conf), cc->line, name,
		    tls_reason(reason, sizeof(reason)));
		goto fail;
	}
	SSL_CTX_set_default_passwd_cb(ctx, tls_nopass_cb);
	/* Before loading: the security level decides which keys pass. */
	if (tls_set_protocols(ctx, srv->tls_protocols) == -1) {
		errbuf_appendf(err, errlen, "%s:%d: [server %s] tls_protocols: "
		    "%s", tls_conf_path(conf), srv->line_tls_protocols ?
		    srv->line_tls_protocols : cc->line, name,
		    tls_reason(reason, sizeof(reason)));
		goto fail;
	}

	if (tls_check_file(cc->cert, reason, sizeof(reason)) == -1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, cc->cert) != 1) {
		if (ERR_peek_error() != 0)
			tls_reason(reason, sizeof(reason));
		errbuf_appendf(err, errlen, "%s:%d: [server %s] tls_cert: "
		    "cannot load certificate %s: %s", tls_conf_path(conf),
		    cc->line, name, cc->cert, reason);
		goto fail;
	}
	if (tls_check_file(cc->key, reason, sizeof(reason)) == -1 ||
	    (pkey = tls_load_key(cc->key)) == NULL) {
		if (ERR_peek_error() != 0)
			tls_reason(reason, sizeof(reason));
		errbuf_appendf(err, errlen, "%s:%d: [server %s] tls_cert: "
		    "cannot load key %s: %s", tls_conf_path(conf), cc->line,
		    name, cc->key, reason);
		goto fail;
	}
	x = SSL_CTX_get0_certificate(ctx);
	if (x == NULL || X509_check_private_key(x, pkey) != 1) {
		ERR_clear_error();
		errbuf_appendf(err, errlen, "%s:%d: [server %s] tls_cert: "
		    "key %s does not match certificate %s",
		    tls_conf_path(conf), cc->line, name, cc->key, cc->cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey(ctx, pkey) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		errbuf_appendf(err, errlen, "%s:%d: [server %s] tls_cert: "
		    "cannot use key %s: %s", tls_conf_path(conf), cc->line,
		    name, cc->key, tls_reason(reason, sizeof(reason)));
		goto fail;
	}
	EVP_PKEY_free(pkey);
	pkey = NULL;

	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/*
	 * Read what the socket holds at once, not each record's header and
	 * body apart: half the read() calls.
	 */
	SSL_CTX_set_read_ahead(ctx, 1);
	/*
	 * One TLS 1.3 ticket per handshake: a mail client reconnects with
	 * the one it holds, and each ticket costs a write and randomness.
	 */
	SSL_CTX_set_num_tickets(ctx, 1);
	if (tls_kernel_offers_ktls())
		SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
	/*
	 * Sessions resume only within the [server] that issued them; a
	 * digest of its name fits SSL_MAX_SID_CTX_LENGTH whatever its length.
	 */
	if (EVP_Digest(name, strlen(name), sid, &sidlen, EVP_sha256(),
	    NULL) != 1 || sidlen > SSL_MAX_SID_CTX_LENGTH ||
	    SSL_CTX_set_session_id_context(ctx, sid, sidlen) != 1) {
		errbuf_appendf(err, errlen, "%s:%d: [server %s] tls_cert: %s",
		    tls_conf_path(conf), cc->line, name,
		    tls_reason(reason, sizeof(reason)));
		goto fail;
	}
	return (ctx);

 fail:
	EVP_PKEY_free(pkey);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return (NULL);
}

static void
tls_server_cert_clear(struct tls_server_cert *tc)
{
	size_t	 i;

	for (i = 0; i < tc->nnames; i++)
		free(tc->names[i]);
	free(tc->names);
	SSL_CTX_free(tc->ctx);
	memset(tc, 0, sizeof(*tc));
}

struct tls_server *
tls_server_new(const struct conf *conf, const struct conf_server *srv,
    char *err, size_t errlen)
{
	struct tls_server	*ts = NULL;
	struct tls_server_cert	*tc;
	const char		*name;
	size_t			 i;
	int			 failed = 0;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (srv == NULL || srv->ncerts == 0)
		return (NULL);
	name = srv->name != NULL ? srv->name : "";
	if ((ts = calloc(1, sizeof(*ts))) == NULL ||
	    (ts->certs = calloc(srv->ncerts, sizeof(*ts->certs))) == NULL) {
		errbuf_appendf(err, errlen, "%s:%d: [server %s] tls_cert: %s",
		    tls_conf_path(conf), srv->certs[0].line, name,
		    strerror(ENOMEM));
		goto fail;
	}
	ts->ncerts = srv->ncerts;

	/* Load every certificate, so that every mistake is reported. */
	for (i = 0; i < srv->ncerts; i++) {
		tc = &ts->certs[i];
		tc->ctx = tls_server_ctx(conf, srv, &srv->certs[i], err,
		    errlen);
		if (tc->ctx == NULL) {
			failed = 1;
			continue;
		}
		if (tls_cert_names(tc,
		    SSL_CTX_get0_certificate(tc->ctx)) == -1) {
			errbuf_appendf(err, errlen, "%s:%d: [server %s] "
			    "tls_cert: %s", tls_conf_path(conf),
			    srv->certs[i].line, name, strerror(ENOMEM));
			failed = 1;
		}
	}
	if (failed)
		goto fail;

	/*
	 * The callback runs on the context the SSL was made from, the
	 * first; setting it on all keeps them interchangeable.
	 */
	for (i = 0; i < ts->ncerts; i++) {
		SSL_CTX_set_tlsext_servername_callback(ts->certs[i].ctx,
		    tls_servername_cb);
		SSL_CTX_set_tlsext_servername_arg(ts->certs[i].ctx, ts);
	}
	return (ts);

 fail:
	tls_server_free(&ts);
	ERR_clear_error();
	return (NULL);
}

void
tls_server_free(struct tls_server **tsp)
{
	struct tls_server	*ts;
	size_t			 i;

	if (tsp == NULL || (ts = *tsp) == NULL)
		return;
	for (i = 0; ts->certs != NULL && i < ts->ncerts; i++)
		tls_server_cert_clear(&ts->certs[i]);
	free(ts->certs);
	free(ts);
	*tsp = NULL;
}

SSL *
tls_server_ssl(struct tls_server *ts)
{
	if (ts == NULL || ts->ncerts == 0)
		return (NULL);
	return (SSL_new(ts->certs[0].ctx));
}

struct tls_client *
tls_client_new(const struct conf *conf, const struct conf_backend *be,
    char *err, size_t errlen)
{
	struct tls_client	*tc = NULL;
	const char		*name, *bname;
	char			 ip[64], reason[256];
	struct stat		 sb;
	DIR			*d = NULL;
	int			 line;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (be == NULL || be->tls == CONF_BACKEND_TLS_NO)
		return (NULL);
	bname = be->name != NULL ? be->name : "";
	line = be->line_tls_ca ? be->line_tls_ca : be->line;
	ERR_clear_error();
	if ((tc = calloc(1, sizeof(*tc))) == NULL) {
		errbuf_appendf(err, errlen, "%s:%d: [backend %s] tls: %s",
		    tls_conf_path(conf), be->line, bname, strerror(ENOMEM));
		goto fail;
	}
	tc->verify = be->tls_verify;

	name = be->tls_server_name != NULL ? be->tls_server_name : be->host;
	if (name != NULL && *name != '\0') {
		if (tls_ip_literal(name, ip, sizeof(ip))) {
			tc->name_is_ip = 1;
			name = ip;
		}
		if ((tc->name = strdup(name)) == NULL) {
			errbuf_appendf(err, errlen, "%s:%d: [backend %s] "
			    "tls: %s", tls_conf_path(conf), be->line, bname,
			    strerror(ENOMEM));
			goto fail;
		}
	}

	if ((tc->ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(tc->ctx, TLS1_2_VERSION) != 1) {
		errbuf_appendf(err, errlen, "%s:%d: [backend %s] tls: %s",
		    tls_conf_path(conf), be->line, bname,
		    tls_reason(reason, sizeof(reason)));
		goto fail;
	}
	SSL_CTX_set_options(tc->ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(tc->ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(tc->ctx, tc->verify ? SSL_VERIFY_PEER :
	    SSL_VERIFY_NONE, NULL);

	if (be->tls_ca != NULL) {
		/* A hashed directory is read lazily: check it opens now. */
		if (stat(be->tls_ca, &sb) == -1 || (S_ISDIR(sb.st_mode) &&
		    (d = opendir(be->tls_ca)) == NULL)) {
			errbuf_appendf(err, errlen, "%s:%d: [backend %s] "
			    "tls_ca: cannot load %s: %s", tls_conf_path(conf),
			    line, bname, be->tls_ca, strerror(errno));
			goto fail;
		}
		if (d != NULL)
			closedir(d);
		if (SSL_CTX_load_verify_locations(tc->ctx,
		    S_ISDIR(sb.st_mode) ? NULL : be->tls_ca,
		    S_ISDIR(sb.st_mode) ? be->tls_ca : NULL) != 1) {
			errbuf_appendf(err, errlen, "%s:%d: [backend %s] "
			    "tls_ca: cannot load %s: %s", tls_conf_path(conf),
			    line, bname, be->tls_ca,
			    tls_reason(reason, sizeof(reason)));
			goto fail;
		}
	} else if (SSL_CTX_set_default_verify_paths(tc->ctx) != 1) {
		errbuf_appendf(err, errlen, "%s:%d: [backend %s] tls_ca: "
		    "cannot load the system CA store: %s",
		    tls_conf_path(conf), be->line, bname,
		    tls_reason(reason, sizeof(reason)));
		goto fail;
	}
	return (tc);

 fail:
	tls_client_free(&tc);
	ERR_clear_error();
	return (NULL);
}

void
tls_client_free(struct tls_client **tcp)
{
	struct tls_client	*tc;

	if (tcp == NULL || (tc = *tcp) == NULL)
		return;
	SSL_CTX_free(tc->ctx);
	free(tc->name);
	free(tc);
	*tcp = NULL;
}

SSL *
tls_client_ssl(struct tls_client *tc)
{
	SSL	*ssl;

	if (tc == NULL || (ssl = SSL_new(tc->ctx)) == NULL)
		return (NULL);
	if (tc->name == NULL)
		return (ssl);
	if (tc->name_is_ip) {
		/* RFC 6066 s.3: no SNI for an address. */
		if (tc->verify && X509_VERIFY_PARAM_set1_ip_asc(
		    SSL_get0_param(ssl), tc->name) != 1)
			goto fail;
		return (ssl);
	}
	if (SSL_set_tlsext_host_name(ssl, tc->name) != 1)
		goto fail;
	if (tc->verify) {
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (SSL_set1_host(ssl, tc->name) != 1)
			goto fail;
	}
	return (ssl);

 fail:
	SSL_free(ssl);
	return (NULL);
}

int
tls_name_match(const char *pattern, const char *host)
{
	size_t		 plen, hlen, i;
	const char	*dot;

	if (pattern == NULL || host == NULL)
		return (0);
	plen = strlen(pattern);
	hlen = strlen(host);
	/* "example.com." is the same name as "example.com". */
	if (plen > 0 && pattern[plen - 1] == '.')
		plen--;
	if (hlen > 0 && host[hlen - 1] == '.')
		hlen--;
	if (plen == 0 || hlen == 0 || memchr(host, '*', hlen) != NULL)
		return (0);

	if (memchr(pattern, '*', plen) == NULL)
		return (plen == hlen && strncasecmp(pattern, host, plen) == 0);

	/*
	 * The only wildcard accepted is "*" as the whole left-most label,
	 * followed by at least two labels: "*.example.com", not "*.com",
	 * "f*.example.com" or "www.*.example.com".
	 */
	if (plen < 4 || pattern[0] != '*' || pattern[1] != '.' ||
	    memchr(pattern + 1, '*', plen - 1) != NULL)
		return (0);
	dot = memchr(pattern + 2, '.', plen - 2);
	if (dot == NULL || dot == pattern + 2 || dot == pattern + plen - 1)
		return (0);

	/* The host's left-most label: non-empty, replaced by the "*". */
	for (i = 0; i < hlen && host[i] != '.'; i++)
		;
	if (i == 0 || i == hlen)
		return (0);
	return (hlen - i == plen - 1 &&
	    strncasecmp(pattern + 1, host + i, plen - 1) == 0);
}

char *
tls_error(SSL *ssl, char *buf, size_t buflen)
{
	unsigned long	 e;
	long		 v;
	char		 one[256];
	size_t		 len = 0;
	int		 n = 0;

	if (buf == NULL || buflen == 0) {
		ERR_clear_error();
		return (buf);
	}
	buf[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, one, sizeof(one));
		if (len < buflen)
			len += (size_t)snprintf(buf + len, buflen - len,
			    "%s%s", n++ ? "; " : "", one);
	}
	if (ssl != NULL && (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) &&
	    (v = SSL_get_verify_result(ssl)) != X509_V_OK) {
		if (len < buflen)
			len += (size_t)snprintf(buf + len, buflen - len,
			    "%s%s", n++ ? "; " : "",
			    X509_verify_cert_error_string(v));
	}
	if (n == 0)
		(void)snprintf(buf, buflen, "unknown error");
	return (buf);
}

const char *
tls_version(const SSL *ssl)
{
	if (ssl == NULL)
		return ("none");
	return (SSL_get_version(ssl));
}
