/*
 * TLS with OpenSSL 3: the front end's server contexts, with the
 * certificate chosen by SNI, and the client context towards a back end.
 * SSL_CTX objects are shared by every worker thread; each session owns
 * its SSL.
 */
#ifndef TLS_H
#define TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

struct conf;
struct conf_server;
struct conf_backend;
struct tls_server;
struct tls_client;

/*
 * Loads every tls_cert of srv (chain and key, and checks they match),
 * reads each certificate's names (DNS SANs, else the subject CN) and
 * applies tls_protocols with modern defaults: server cipher preference
 * for TLS 1.2, session tickets, no renegotiation, no compression.
 * Returns NULL with "FILE:LINE: [server NAME] tls_cert: reason" lines in
 * err when anything fails.  A server with no tls_cert gets NULL and no
 * error text: the caller decides whether that is a mistake.
 * The SNI callback of every context points at the returned object, so
 * it must outlive the handshakes of the SSLs made from it (an SSL
 * holds its own reference to its SSL_CTX).  Unexpected EOF from a peer
 * reads as a clean close (SSL_OP_IGNORE_UNEXPECTED_EOF): IMAP frames
 * its own data.  Listing TLSv1.0 or TLSv1.1 lowers that server's
 * OpenSSL security level to 0, the only one where OpenSSL 3 speaks them.
 */
struct tls_server *tls_server_new(const struct conf *conf,
		    const struct conf_server *srv, char *err, size_t errlen);
void		 tls_server_free(struct tls_server **);
/* A new server-side SSL for an accepted connection, or NULL. */
SSL		*tls_server_ssl(struct tls_server *);

/*
 * The client context for a back end with tls = starttls|yes: tls_ca (or
 * the system store), tls_verify, and the name to verify and send as SNI
 * (tls_server_name, else the host of address when it is a name).
 * An IP literal is verified against the certificate's IP addresses and
 * sends no SNI.  Returns NULL with FILE:LINE messages in err on
 * failure; a back end with tls = no gets NULL and no error text.
 */
struct tls_client *tls_client_new(const struct conf *conf,
		    const struct conf_backend *be, char *err, size_t errlen);
void		 tls_client_free(struct tls_client **);
/* A new client-side SSL with SNI and host verification set, or NULL. */
SSL		*tls_client_ssl(struct tls_client *);

/*
 * Matches a host name against a certificate name (RFC 6125 s.6.4):
 * case-insensitive, "*" only as the whole left-most label, matching
 * exactly one label.  Returns 1 on a match, 0 otherwise.
 */
int		 tls_name_match(const char *pattern, const char *host);

/*
 * Drains OpenSSL's error queue of this thread into one human line
 * (and for a failed verification, the verify result of ssl when
 * given), entries joined by "; ", cut to buflen.  An empty queue gives
 * "unknown error": the caller may add errno.  Returns buf.
 */
char		*tls_error(SSL *ssl, char *buf, size_t buflen);

/* "TLSv1.3" etc. of an established SSL. */
const char	*tls_version(const SSL *ssl);

/*
 * Whether the kernel offers TLS record offload (kTLS): "tls" is listed
 * in /proc/sys/net/ipv4/tcp_available_ulp.  Read once.  When it is,
 * front-end sessions hand their records to the kernel; when not,
 * OpenSSL does them, with no attempt per connection.
 */
int	tls_kernel_offers_ktls(void);
/* Whether the space-separated list of ULP names holds "tls". */
int	tls_ulp_listed(const char *list);

#endif
