/*
 * tls.c: RFC 6125 name matching, and real handshakes over memory BIO
 * pairs against certificates generated into a temporary folder: SNI
 * selection, tls_protocols, back-end verification, and the exact
 * configuration messages for bad files.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "conf.h"
#include "tls.h"

#define CONF_PATH	"/etc/imapproxy/test.conf"
/* Short, so that every expected message fits its buffer. */
#define TEST_PATH_MAX	256

static char	 tmpdir[TEST_PATH_MAX];

/* Generated in setup: one file of each per fixture certificate. */
enum {
	CERT_MAIL,	/* SAN DNS:mail.example.org */
	CERT_NET,	/* SAN DNS:*.example.net, CN ignored.example.com */
	CERT_LEGACY,	/* no SAN, CN legacy.example.com */
	CERT_N
};

static const struct {
	const char	*file;
	const char	*cn;
	const char	*san;
} certdef[CERT_N] = {
	{ "mail", "mail.example.org", "DNS:mail.example.org" },
	{ "net", "ignored.example.com", "DNS:*.example.net" },
	{ "legacy", "legacy.example.com", NULL }
};

static char	 certpath[CERT_N][TEST_PATH_MAX];
static char	 keypath[CERT_N][TEST_PATH_MAX];
static char	 garbage[TEST_PATH_MAX];
static char	 missing[TEST_PATH_MAX];

static void
path_in_tmp(char *buf, const char *name)
{
	int	 n;

	n = snprintf(buf, TEST_PATH_MAX, "%s/%s", tmpdir, name);
	assert_true(n > 0 && n < TEST_PATH_MAX);
}

static int
write_cert(const char *cn, const char *san, const char *cpath,
    const char *kpath)
{
	EVP_PKEY	*k;
	X509		*x;
	X509_NAME	*n;
	X509_EXTENSION	*ext;
	FILE		*f;
	static long	 serial = 1;

	if ((k = EVP_EC_gen("P-256")) == NULL || (x = X509_new()) == NULL)
		return (-1);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, n);
	if (san != NULL) {
		ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
		    san);
		if (ext == NULL)
			return (-1);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (X509_sign(x, k, EVP_sha256()) == 0)
		return (-1);
	if ((f = fopen(cpath, "w")) == NULL)
		return (-1);
	PEM_write_X509(f, x);
	fclose(f);
	if ((f = fopen(kpath, "w")) == NULL)
		return (-1);
	PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(k);
	return (0);
}

static int
group_setup(void **state)
{
	const char	*t = getenv("TMPDIR");
	char		 name[64];
	FILE		*f;
	size_t		 i;

	(void)state;
	if (snprintf(tmpdir, sizeof(tmpdir), "%s/test_tls.XXXXXX",
	    t != NULL ? t : "/tmp") >= (int)sizeof(tmpdir) ||
	    mkdtemp(tmpdir) == NULL)
		return (-1);
	for (i = 0; i < CERT_N; i++) {
		snprintf(name, sizeof(name), "%s.pem", certdef[i].file);
		path_in_tmp(certpath[i], name);
		snprintf(name, sizeof(name), "%s.key", certdef[i].file);
		path_in_tmp(keypath[i], name);
		if (write_cert(certdef[i].cn, certdef[i].san, certpath[i],
		    keypath[i]) == -1)
			return (-1);
	}
	path_in_tmp(garbage, "garbage.pem");
	if ((f = fopen(garbage, "w")) == NULL)
		return (-1);
	fputs("this is not PEM\n", f);
	fclose(f);
	path_in_tmp(missing, "missing.pem");
	return (0);
}

static int
group_teardown(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < CERT_N; i++) {
		unlink(certpath[i]);
		unlink(keypath[i]);
	}
	unlink(garbage);
	rmdir(tmpdir);
	return (0);
}

static struct conf	 fake_conf = { .path = (char *)(uintptr_t)CONF_PATH };

/* A [server default] at line 10 with tls_cert lines 11, 12, ... */
static void
server_init(struct conf_server *srv, struct conf_cert *cc,
    const int *which, size_t n, int protocols)
{
	size_t	 i;

	memset(srv, 0, sizeof(*srv));
	srv->name = (char *)(uintptr_t)"default";
	srv->line = 10;
	for (i = 0; i < n; i++) {
		cc[i].cert = certpath[which[i]];
		cc[i].key = keypath[which[i]];
		cc[i].line = 11 + (int)i;
	}
	srv->certs = cc;
	srv->ncerts = n;
	srv->tls_protocols = protocols;
}

/*
 * Runs client and server to the end of the handshake over a BIO pair.
 * Returns 0 when both finished, -1 when either failed.  Takes
 * ownership of neither SSL.
 */
static int
handshake(SSL *c, SSL *s)
{
	BIO	*bc, *bs;
	int	 i, rc, rs, done_c = 0, done_s = 0, e;

	assert_int_equal(BIO_new_bio_pair(&bc, 0, &bs, 0), 1);
	SSL_set_bio(c, bc, bc);
	SSL_set_bio(s, bs, bs);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	for (i = 0; i < 100 && !(done_c && done_s); i++) {
		if (!done_c) {
			if ((rc = SSL_do_handshake(c)) == 1)
				done_c = 1;
			else if ((e = SSL_get_error(c, rc)) !=
			    SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				return (-1);
		}
		if (!done_s) {
			if ((rs = SSL_do_handshake(s)) == 1)
				done_s = 1;
			else if ((e = SSL_get_error(s, rs)) !=
			    SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				return (-1);
		}
	}
	return (done_c && done_s ? 0 : -1);
}

/*
 * A client that checks nothing: the tests look at what it received.
 * version: the only one it speaks, or 0 for its defaults.
 */
static SSL *
plain_client(SSL_CTX **ctxp, const char *sni, int version)
{
	SSL	*c;

	*ctxp = SSL_CTX_new(TLS_client_method());
	assert_non_null(*ctxp);
	if (version != 0) {
		/* OpenSSL 3 speaks 1.0 and 1.1 at level 0 only. */
		if (version < TLS1_2_VERSION)
			SSL_CTX_set_security_level(*ctxp, 0);
		assert_int_equal(SSL_CTX_set_min_proto_version(*ctxp,
		    version), 1);
		assert_int_equal(SSL_CTX_set_max_proto_version(*ctxp,
		    version), 1);
	}
	c = SSL_new(*ctxp);
	assert_non_null(c);
	if (sni != NULL)
		assert_int_equal(SSL_set_tlsext_host_name(c, sni), 1);
	return (c);
}

static void
peer_cn(SSL *c, char *buf, size_t buflen)
{
	X509	*x;

	x = SSL_get0_peer_certificate(c);
	assert_non_null(x);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
	    NID_commonName, buf, (int)buflen) > 0);
}

static void
test_name_match(void **state)
{
	static const struct {
		const char	*pattern;
		const char	*host;
		int		 match;
	} t[] = {
		{ "mail.example.org", "mail.example.org", 1 },
		{ "mail.example.org", "MAIL.Example.ORG", 1 },
		{ "MAIL.EXAMPLE.ORG", "mail.example.org", 1 },
		{ "mail.example.org", "mail.example.com", 0 },
		{ "mail.example.org", "mail.example.org.evil", 0 },
		{ "mail.example.org", "xmail.example.org", 0 },
		{ "mail.example.org", "example.org", 0 },
		{ "*.example.net", "imap.example.net", 1 },
		{ "*.example.net", "IMAP.EXAMPLE.NET", 1 },
		{ "*.EXAMPLE.net", "imap.example.NET", 1 },
		{ "*.example.net", "a.b.example.net", 0 },
		{ "*.example.net", "example.net", 0 },
		{ "*.example.net", ".example.net", 0 },
		{ "*.example.net", "imap.example.com", 0 },
		{ "*.example.net", "imapexample.net", 0 },
		{ "*.example.net", "*.example.net", 0 },
		{ "*.com", "example.com", 0 },
		{ "*", "localhost", 0 },
		{ "*.", "localhost.", 0 },
		{ "f*.example.net", "foo.example.net", 0 },
		{ "*o.example.net", "foo.example.net", 0 },
		{ "f*o.example.net", "foo.example.net", 0 },
		{ "www.*.example.net", "www.a.example.net", 0 },
		{ "*.*.example.net", "a.b.example.net", 0 },
		{ "**.example.net", "a.example.net", 0 },
		{ "xn--bcher-kva.example", "xn--bcher-kva.example", 1 },
		{ "xn--bcher-kva.example", "XN--BCHER-KVA.example", 1 },
		{ "*.xn--bcher-kva.example", "imap.xn--bcher-kva.example", 1 },
		{ "mail.example.org", "mail.example.org.", 1 },
		{ "*.example.net", "imap.example.net.", 1 },
		{ "mail.example.org.", "mail.example.org", 1 },
		{ "mail.example.org", "mail.example.org..", 0 },
		{ "", "mail.example.org", 0 },
		{ "mail.example.org", "", 0 },
		{ "", "", 0 },
		{ ".", ".", 0 },
		{ NULL, "mail.example.org", 0 },
		{ "mail.example.org", NULL, 0 }
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (tls_name_match(t[i].pattern, t[i].host) != t[i].match)
			fail_msg("tls_name_match(\"%s\", \"%s\") != %d",
			    t[i].pattern ? t[i].pattern : "(null)",
			    t[i].host ? t[i].host : "(null)", t[i].match);
	}
}

static void
test_sni(void **state)
{
	static const struct {
		const char	*sni;
		const char	*cn;	/* of the certificate received */
	} t[] = {
		{ "imap.example.net", "ignored.example.com" },
		{ "IMAP.Example.NET", "ignored.example.com" },
		{ "mail.example.org", "mail.example.org" },
		{ "legacy.example.com", "legacy.example.com" },
		/* The CN is ignored when the certificate has a DNS SAN. */
		{ "ignored.example.com", "mail.example.org" },
		{ "a.b.example.net", "mail.example.org" },
		{ "example.net", "mail.example.org" },
		{ "other.test", "mail.example.org" },
		{ NULL, "mail.example.org" }
	};
	static const int	 which[] = { CERT_MAIL, CERT_NET, CERT_LEGACY };
	struct conf_server	 srv;
	struct conf_cert	 cc[3];
	struct tls_server	*ts;
	SSL_CTX			*cctx;
	SSL			*c, *s;
	char			 err[1024], cn[256];
	size_t			 i;

	(void)state;
	server_init(&srv, cc, which, 3, CONF_TLS_V1_2 | CONF_TLS_V1_3);
	ts = tls_server_new(&fake_conf, &srv, err, sizeof(err));
	if (ts == NULL)
		fail_msg("tls_server_new: %s", err);
	assert_string_equal(err, "");
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		s = tls_server_ssl(ts);
		assert_non_null(s);
		c = plain_client(&cctx, t[i].sni, 0);
		if (handshake(c, s) == -1)
			fail_msg("handshake with SNI %s: %s",
			    t[i].sni ? t[i].sni : "(none)",
			    tls_error(NULL, err, sizeof(err)));
		peer_cn(c, cn, sizeof(cn));
		if (strcmp(cn, t[i].cn) != 0)
			fail_msg("SNI %s: got %s, want %s",
			    t[i].sni ? t[i].sni : "(none)", cn, t[i].cn);
		assert_string_equal(tls_version(s), "TLSv1.3");
		SSL_free(c);
		SSL_free(s);
		SSL_CTX_free(cctx);
	}
	tls_server_free(&ts);
	assert_null(ts);
	tls_server_free(&ts);
}

static void
test_protocols(void **state)
{
	static const struct {
		int		 bits;
		int		 client_only;
		const char	*version;	/* NULL: refused */
	} t[] = {
		{ CONF_TLS_V1_3, TLS1_2_VERSION, NULL },
		{ CONF_TLS_V1_3, 0, "TLSv1.3" },
		{ CONF_TLS_V1_2, 0, "TLSv1.2" },
		{ CONF_TLS_V1_2 | CONF_TLS_V1_3, TLS1_2_VERSION, "TLSv1.2" },
		{ CONF_TLS_V1_2 | CONF_TLS_V1_3, 0, "TLSv1.3" },
		/* 1.1 and 1.3 with the gap closed. */
		{ CONF_TLS_V1_1 | CONF_TLS_V1_3, TLS1_2_VERSION, NULL },
		{ CONF_TLS_V1_1 | CONF_TLS_V1_3, 0, "TLSv1.3" },
		/* Listed, 1.0 works despite OpenSSL 3's security level. */
		{ CONF_TLS_V1_0 | CONF_TLS_V1_2, TLS1_VERSION, "TLSv1" },
		{ CONF_TLS_V1_0 | CONF_TLS_V1_2, TLS1_1_VERSION, NULL },
		{ CONF_TLS_V1_2 | CONF_TLS_V1_3, TLS1_1_VERSION, NULL },
		/* No bits: the default, 1.2 and 1.3. */
		{ 0, TLS1_2_VERSION, "TLSv1.2" }
	};
	static const int	 which[] = { CERT_MAIL };
	struct conf_server	 srv;
	struct conf_cert	 cc[1];
	struct tls_server	*ts;
	SSL_CTX			*cctx;
	SSL			*c, *s;
	char			 err[1024];
	size_t			 i;
	int			 rc;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		server_init(&srv, cc, which, 1, t[i].bits);
		ts = tls_server_new(&fake_conf, &srv, err, sizeof(err));
		if (ts == NULL)
			fail_msg("tls_server_new: %s", err);
		s = tls_server_ssl(ts);
		assert_non_null(s);
		if (t[i].bits == (CONF_TLS_V1_1 | CONF_TLS_V1_3))
			assert_true(SSL_get_options(s) & SSL_OP_NO_TLSv1_2);
		c = plain_client(&cctx, "mail.example.org", t[i].client_only);
		rc = handshake(c, s);
		if (t[i].version == NULL) {
			if (rc != -1)
				fail_msg("case %zu: handshake succeeded", i);
			tls_error(s, err, sizeof(err));
			if (strstr(err, "unsupported protocol") == NULL)
				fail_msg("case %zu: %s", i, err);
		} else {
			if (rc == -1)
				fail_msg("case %zu: %s", i,
				    tls_error(s, err, sizeof(err)));
			assert_string_equal(tls_version(s), t[i].version);
			assert_string_equal(tls_version(c), t[i].version);
		}
		ERR_clear_error();
		SSL_free(c);
		SSL_free(s);
		SSL_CTX_free(cctx);
		tls_server_free(&ts);
	}
}

static void
test_server_errors(void **state)
{
	enum { LOAD_CERT, LOAD_KEY, MISMATCH };
	static const struct {
		const char	*cert;
		const char	*key;
		int		 what;
		const char	*reason;
	} t[] = {
		{ missing, keypath[CERT_MAIL], LOAD_CERT,
		    "No such file or directory" },
		{ certpath[CERT_MAIL], keypath[CERT_NET], MISMATCH, NULL },
		{ certpath[CERT_MAIL], missing, LOAD_KEY,
		    "No such file or directory" },
		{ garbage, keypath[CERT_MAIL], LOAD_CERT, "no start line" },
		{ certpath[CERT_MAIL], garbage, LOAD_KEY,
		    "no PEM private key found" },
		{ certpath[CERT_MAIL], certpath[CERT_MAIL], LOAD_KEY,
		    "no PEM private key found" },
		{ tmpdir, keypath[CERT_MAIL], LOAD_CERT, "Is a directory" }
	};
	struct conf_server	 srv;
	struct conf_cert	 cc[1];
	struct tls_server	*ts;
	char			 err[2048], want[2048];
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&srv, 0, sizeof(srv));
		srv.name = (char *)(uintptr_t)"default";
		cc[0].cert = (char *)(uintptr_t)t[i].cert;
		cc[0].key = (char *)(uintptr_t)t[i].key;
		cc[0].line = 11;
		srv.certs = cc;
		srv.ncerts = 1;
		if (t[i].what == LOAD_CERT)
			snprintf(want, sizeof(want), CONF_PATH ":11: "
			    "[server default] tls_cert: cannot load "
			    "certificate %s: %s", t[i].cert, t[i].reason);
		else if (t[i].what == LOAD_KEY)
			snprintf(want, sizeof(want), CONF_PATH ":11: "
			    "[server default] tls_cert: cannot load "
			    "key %s: %s", t[i].key, t[i].reason);
		else
			snprintf(want, sizeof(want), CONF_PATH ":11: "
			    "[server default] tls_cert: key %s does not "
			    "match certificate %s", t[i].key, t[i].cert);
		ts = tls_server_new(&fake_conf, &srv, err, sizeof(err));
		assert_null(ts);
		assert_string_equal(err, want);
		assert_int_equal(ERR_peek_error(), 0);
	}
}

/* Every certificate is loaded, and every mistake reported. */
static void
test_server_all_errors(void **state)
{
	struct conf_server	 srv;
	struct conf_cert	 cc[3];
	struct tls_server	*ts;
	char			 err[2048], want[2048];

	(void)state;
	memset(&srv, 0, sizeof(srv));
	srv.name = (char *)(uintptr_t)"default";
	cc[0].cert = missing;
	cc[0].key = keypath[CERT_MAIL];
	cc[0].line = 20;
	cc[1].cert = certpath[CERT_NET];
	cc[1].key = keypath[CERT_NET];
	cc[1].line = 21;
	cc[2].cert = certpath[CERT_NET];
	cc[2].key = keypath[CERT_LEGACY];
	cc[2].line = 22;
	srv.certs = cc;
	srv.ncerts = 3;
	snprintf(want, sizeof(want),
	    CONF_PATH ":20: [server default] tls_cert: cannot load "
	    "certificate %s: No such file or directory\n"
	    CONF_PATH ":22: [server default] tls_cert: key %s does not "
	    "match certificate %s", missing, keypath[CERT_LEGACY],
	    certpath[CERT_NET]);
	ts = tls_server_new(&fake_conf, &srv, err, sizeof(err));
	assert_null(ts);
	assert_string_equal(err, want);

	/* No tls_cert: no context and no error; the caller decides. */
	srv.ncerts = 0;
	assert_null(tls_server_new(&fake_conf, &srv, err, sizeof(err)));
	assert_string_equal(err, "");
}

static void
backend_init(struct conf_backend *be, const char *host, const char *sni,
    const char *ca, int verify)
{
	memset(be, 0, sizeof(*be));
	be->name = (char *)(uintptr_t)"store1";
	be->line = 30;
	be->host = (char *)(uintptr_t)host;
	be->tls = CONF_BACKEND_TLS_STARTTLS;
	be->tls_verify = verify;
	be->tls_server_name = (char *)(uintptr_t)sni;
	be->tls_ca = (char *)(uintptr_t)ca;
	be->line_tls_ca = ca != NULL ? 33 : 0;
}

/*
 * The back-end side against our own server side: the CA is the mail
 * certificate itself, so verification passes exactly when the name
 * matches.
 */
static void
test_client(void **state)
{
	static const struct {
		const char	*host;
		const char	*server_name;
		int		 verify;
		const char	*cn;	/* received; NULL: refused */
		const char	*why;	/* in tls_error() when refused */
	} t[] = {
		{ "mail.example.org", NULL, 1, "mail.example.org", NULL },
		{ "10.0.1.11", "mail.example.org", 1, "mail.example.org",
		    NULL },
		{ "MAIL.EXAMPLE.ORG", NULL, 1, "mail.example.org", NULL },
		{ "other.example.org", NULL, 1, NULL, "hostname mismatch" },
		/* SNI picks the *.example.net certificate: not trusted. */
		{ "imap.example.net", NULL, 1, NULL,
		    "self-signed certificate" },
		/* An address: no SNI, so the default certificate. */
		{ "127.0.0.1", NULL, 1, NULL, "IP address mismatch" },
		{ "[::1]", NULL, 1, NULL, "IP address mismatch" },
		{ "imap.example.net", NULL, 0, "ignored.example.com", NULL },
		{ "127.0.0.1", NULL, 0, "mail.example.org", NULL }
	};
	static const int	 which[] = { CERT_MAIL, CERT_NET };
	struct conf_server	 srv;
	struct conf_cert	 cc[2];
	struct conf_backend	 be;
	struct tls_server	*ts;
	struct tls_client	*tc;
	SSL			*c, *s;
	char			 err[1024], cn[256];
	size_t			 i;
	int			 rc;

	(void)state;
	server_init(&srv, cc, which, 2, 0);
	ts = tls_server_new(&fake_conf, &srv, err, sizeof(err));
	if (ts == NULL)
		fail_msg("tls_server_new: %s", err);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		backend_init(&be, t[i].host, t[i].server_name,
		    certpath[CERT_MAIL], t[i].verify);
		tc = tls_client_new(&fake_conf, &be, err, sizeof(err));
		if (tc == NULL)
			fail_msg("tls_client_new: %s", err);
		c = tls_client_ssl(tc);
		assert_non_null(c);
		s = tls_server_ssl(ts);
		assert_non_null(s);
		rc = handshake(c, s);
		if (t[i].cn != NULL) {
			if (rc == -1)
				fail_msg("case %zu: %s", i,
				    tls_error(c, err, sizeof(err)));
			peer_cn(c, cn, sizeof(cn));
			assert_string_equal(cn, t[i].cn);
		} else {
			if (rc != -1)
				fail_msg("case %zu: handshake succeeded", i);
			tls_error(c, err, sizeof(err));
			if (strstr(err, t[i].why) == NULL)
				fail_msg("case %zu: \"%s\" lacks \"%s\"", i,
				    err, t[i].why);
			assert_non_null(strstr(err,
			    "certificate verify failed"));
		}
		ERR_clear_error();
		SSL_free(c);
		SSL_free(s);
		tls_client_free(&tc);
		assert_null(tc);
	}
	tls_server_free(&ts);
}

static void
test_client_errors(void **state)
{
	struct conf_backend	 be;
	struct tls_client	*tc;
	char			 err[1024], want[1024];

	(void)state;
	backend_init(&be, "store1.internal", NULL, missing, 1);
	assert_null(tls_client_new(&fake_conf, &be, err, sizeof(err)));
	snprintf(want, sizeof(want), CONF_PATH ":33: [backend store1] "
	    "tls_ca: cannot load %s: No such file or directory", missing);
	assert_string_equal(err, want);

	backend_init(&be, "store1.internal", NULL, garbage, 1);
	assert_null(tls_client_new(&fake_conf, &be, err, sizeof(err)));
	snprintf(want, sizeof(want), CONF_PATH ":33: [backend store1] "
	    "tls_ca: cannot load %s: no certificate or crl found", garbage);
	assert_string_equal(err, want);
	assert_int_equal(ERR_peek_error(), 0);

	/* A directory, and the system store. */
	backend_init(&be, "store1.internal", NULL, tmpdir, 1);
	tc = tls_client_new(&fake_conf, &be, err, sizeof(err));
	assert_non_null(tc);
	tls_client_free(&tc);
	backend_init(&be, "store1.internal", NULL, NULL, 1);
	tc = tls_client_new(&fake_conf, &be, err, sizeof(err));
	assert_non_null(tc);
	assert_string_equal(err, "");
	tls_client_free(&tc);
	tls_client_free(&tc);

	/* tls = no: no context and no error. */
	be.tls = CONF_BACKEND_TLS_NO;
	assert_null(tls_client_new(&fake_conf, &be, err, sizeof(err)));
	assert_string_equal(err, "");
}

static void
test_error_text(void **state)
{
	char	 buf[512], tiny[8];

	(void)state;
	ERR_clear_error();
	assert_string_equal(tls_error(NULL, buf, sizeof(buf)),
	    "unknown error");
	ERR_raise(ERR_LIB_SSL, SSL_R_UNSUPPORTED_PROTOCOL);
	ERR_raise(ERR_LIB_SSL, SSL_R_NO_SHARED_CIPHER);
	tls_error(NULL, buf, sizeof(buf));
	assert_string_equal(buf,
	    "error:0A000102:SSL routines::unsupported protocol; "
	    "error:0A0000C1:SSL routines::no shared cipher");
	assert_int_equal(ERR_peek_error(), 0);
	/* Cut to fit, still drained. */
	ERR_raise(ERR_LIB_SSL, SSL_R_UNSUPPORTED_PROTOCOL);
	ERR_raise(ERR_LIB_SSL, SSL_R_NO_SHARED_CIPHER);
	assert_string_equal(tls_error(NULL, tiny, sizeof(tiny)), "error:0");
	assert_int_equal(ERR_peek_error(), 0);
}

/* kTLS is only asked for where the kernel lists its "tls" ULP. */
static void
test_ulp_listed(void **state)
{
	(void)state;
	assert_true(tls_ulp_listed("tls\n"));
	assert_true(tls_ulp_listed("espintcp mptcp tls\n"));
	assert_true(tls_ulp_listed("tls mptcp"));
	assert_false(tls_ulp_listed("espintcp mptcp\n"));
	assert_false(tls_ulp_listed(""));
	assert_false(tls_ulp_listed("tlsx ktls tl s"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_match),
		cmocka_unit_test(test_sni),
		cmocka_unit_test(test_protocols),
		cmocka_unit_test(test_server_errors),
		cmocka_unit_test(test_server_all_errors),
		cmocka_unit_test(test_client),
		cmocka_unit_test(test_client_errors),
		cmocka_unit_test(test_error_text),
		cmocka_unit_test(test_ulp_listed)
	};

	return (cmocka_run_group_tests(tests, group_setup, group_teardown));
}
