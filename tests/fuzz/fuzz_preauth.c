/*
 * libFuzzer target: pre-authentication command handling end to end, in
 * process, as a worker thread runs it (proxy/sess.c, preauth.c,
 * proxyhdr.c, access.c, guard.c, route.c, backend.c and the rest).
 *
 * Once per process (LLVMFuzzerInitialize) a private folder gets a
 * self-signed certificate, an ACL, a routes map and a configuration with
 * two [server]s: "plain" (a plaintext listener, a PROXY listener trusted
 * from 127.0.0.0/8, a STARTTLS listener; require_tls = no; every SASL
 * mechanism; limits off) and "strict" (STARTTLS with require_tls = yes,
 * per-IP and per-user limits counted, default_domain).  The back ends
 * are 127.0.0.1 on a port this process holds bound and never listens
 * on, so every back-end connect is refused at once: NO [UNAVAILABLE].
 * Health checks are off, auth_fail_limit and auth_fail_delay 0, so no
 * timer or state carries a run into the next.
 *
 * Each run: the first input byte picks the listener (0-3, modulo 4);
 * the rest is what the client sends.  A worker with its own loop is set
 * up as worker_init() does (no listening sockets), one end of a
 * socketpair is handed to sess_accept() with a loopback peer, and the
 * input is written to the other end in chunks whose sizes are drawn
 * from the input (split reads; often a line at a time, so that what
 * follows STARTTLS can reach the handshake), the loop run after each;
 * then the write
 * side is shut and the loop run, bounded, until the session has closed,
 * while everything the proxy says is read.  Then the worker's reap
 * frees the session, worker_cleanup() the rest.  Checked:
 * - the session ends by itself once the client has said all and gone
 *   (no stall waiting on nothing: a stall aborts, unless
 *   FUZZ_PREAUTH_LAX is set in the environment);
 * - sess_count(), the server's active count and every back end's
 *   session count are back to zero (no leaked reservation);
 * - on the plain listener, once the proxy is quiet with the client
 *   still connected, every command sent has its tagged answer, in order
 *   (inputs of simple commands: no AUTHENTICATE, STARTTLS or LOGOUT);
 *   half the time the client instead shuts its side right after its
 *   last bytes, and only the other checks apply (what is answered after
 *   an EOF is sess.c's policy);
 * - what the proxy says is lines of printable ASCII, each "* ", "+ " or
 *   a tag, CRLF-terminated; nothing after "* BYE" but LOGOUT's OK; and
 *   after "OK Begin TLS negotiation now." only TLS records, never a
 *   plaintext answer (the STARTTLS command injection of CVE-2011-0411
 *   and the "NO STARTTLS" study);
 * - ASan/UBSan/LSan: no memory error, undefined behaviour or leak.
 * FUZZ_PREAUTH_TRACE=1 prints the session's output; FUZZ_LOG=stderr the
 * daemon's debug log (otherwise it goes to /dev/null, still formatted).
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fuzz.h"
#include "fuzz_sess.h"

struct pick {
	struct runtime_server		*srv;
	const struct conf_listen	*listen;
};

static struct runtime	*rt;
static struct pick	 picks[8];
static size_t		 npicks;
static int		 refused_fd = -1;
static struct out	 out;

static void
gen_cert(const char *certpath, const char *keypath)
{
	EVP_PKEY	*pkey;
	X509		*x;
	X509_NAME	*name;
	FILE		*fp;

	if ((pkey = EVP_EC_gen("P-256")) == NULL || (x = X509_new()) == NULL)
		FUZZ_FATAL("cannot make a key");
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400);
	X509_set_pubkey(x, pkey);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"imap.example.org", -1, -1, 0);
	X509_set_issuer_name(x, name);
	if (X509_sign(x, pkey, EVP_sha256()) == 0)
		FUZZ_FATAL("cannot sign the certificate");
	if ((fp = fopen(certpath, "w")) == NULL || !PEM_write_X509(fp, x) ||
	    fclose(fp) != 0)
		FUZZ_FATAL("cannot write %s", certpath);
	if ((fp = fopen(keypath, "w")) == NULL ||
	    !PEM_write_PrivateKey(fp, pkey, NULL, NULL, 0, NULL, NULL) ||
	    fclose(fp) != 0)
		FUZZ_FATAL("cannot write %s", keypath);
	X509_free(x);
	EVP_PKEY_free(pkey);
}

static const char acl_text[] =
    "default allow\n"
    "deny net 203.0.113.0/24\n"
    "allow user svc-loader net 192.0.2.0/24\n"
    "deny user svc-loader\n"
    "deny user mallory\n"
    "deny user @evil.example !net 10.0.0.0/8\n"
    "allow any\n";

static const char routes_text[] =
    "alice@example.com store1\n"
    "@example.org pool:stores\n"
    "@partner.example store2\n";

static const char conf_fmt[] =
    "[global]\n"
    "workers = 1\n"
    "max_connections = 1000\n"
    "\n"
    "[server plain]\n"
    "listen = 127.0.0.1:1143, 127.0.0.1:1144 proxy, "
    "127.0.0.1:1145 starttls\n"
    "proxy_protocol_from = 127.0.0.0/8\n"
    "tls_cert = cert.pem key.pem\n"
    "require_tls = no\n"
    "auth_mechanisms = PLAIN LOGIN XOAUTH2 OAUTHBEARER\n"
    "acl = fuzz.acl\n"
    "routes = fuzz.routes\n"
    "default_backend = store1\n"
    "username_case = lower\n"
    "max_connections_per_ip = 0\n"
    "max_connections_per_user = 0\n"
    "auth_fail_limit = 0\n"
    "auth_fail_delay = 0\n"
    "\n"
    "[server strict]\n"
    "listen = 127.0.0.1:2143 starttls\n"
    "tls_cert = cert.pem key.pem\n"
    "require_tls = yes\n"
    "auth_mechanisms = PLAIN LOGIN XOAUTH2 OAUTHBEARER\n"
    "default_backend = pool:stores\n"
    "username_case = keep\n"
    "default_domain = example.com\n"
    "max_connections_per_ip = 1000\n"
    "max_connections_per_user = 50\n"
    "auth_fail_limit = 0\n"
    "auth_fail_delay = 0\n"
    "\n"
    "[backend store1]\n"
    "address = 127.0.0.1:%u\n"
    "pool = stores\n"
    "health_check_interval = 0\n"
    "\n"
    "[backend store2]\n"
    "address = 127.0.0.1:%u\n"
    "pool = stores\n"
    "weight = 2\n"
    "health_check_interval = 0\n";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char		 path[512], key[512], text[4096];
	unsigned int	 port;
	size_t		 i, j;

	(void)argc;
	(void)argv;
	fs_init("fuzz_preauth");
	fuzz_tmpdir("fuzz_preauth");
	fuzz_path(path, sizeof(path), "cert.pem");
	fuzz_path(key, sizeof(key), "key.pem");
	gen_cert(path, key);
	fuzz_write_text("fuzz.acl", acl_text);
	fuzz_write_text("fuzz.routes", routes_text);
	/* A port held bound, never listening: connects are refused. */
	refused_fd = fuzz_bind_loopback(SOCK_STREAM | SOCK_CLOEXEC, 0, &port);
	snprintf(text, sizeof(text), conf_fmt, port, port);
	fuzz_write_text("imapproxy.conf", text);
	fuzz_path(path, sizeof(path), "imapproxy.conf");
	rt = fs_runtime(path);
	fuzz_tmpdir_done();	/* all read: nothing is left behind */
	for (i = 0; i < rt->nservers; i++)
		for (j = 0; j < rt->conf->servers[i].nlisten; j++) {
			if (npicks == sizeof(picks) / sizeof(picks[0]))
				break;
			picks[npicks].srv = &rt->servers[i];
			picks[npicks++].listen = &rt->conf->servers[i].listen[j];
		}
	if (npicks != 4)
		FUZZ_FATAL("expected 4 listeners, got %zu", npicks);
	return 0;
}

/* Runs the loop until nothing changes for a few turns. */
static void
settle(struct worker *w, int fd)
{
	uint64_t	sig, last = 0;
	int		i, same = 0;

	for (i = 0; i < DRAIN_ITERATIONS && same < 4 && w->nsessions > 0;
	    i++) {
		fs_pump(w, fd, &out, 1);
		sig = fs_signature(w, &out, 0);
		same = sig == last ? same + 1 : 0;
		last = sig;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct worker		 w;
	struct fuzz_rng		 rng;
	const struct pick	*pick;
	const uint8_t		*lf;
	size_t			 off, n, chunks = 0;
	ssize_t			 k;
	int			 fd, closed_itself, early;

	if (size == 0)
		return 0;
	pick = &picks[data[0] % npicks];
	fuzz_rng_init(&rng, data, size);
	early = fuzz_rng_below(&rng, 2);
	fd = fs_start(&w, rt, pick->srv, pick->listen, &out);
	fs_pump(&w, fd, &out, 2);
	for (off = 1; off < size && w.nsessions > 0; off += (size_t)k) {
		n = size - off;
		if (chunks++ < MAX_CHUNKS)
			switch (fuzz_rng_below(&rng, 5)) {
			case 0:
				n = 1 + fuzz_rng_below(&rng, 16);
				break;
			case 1:
				n = 1 + fuzz_rng_below(&rng, 512);
				break;
			case 2:
			case 3:
				/* A line at a time, as most clients write. */
				if ((lf = memchr(data + off, '\n', n)) != NULL)
					n = (size_t)(lf - (data + off)) + 1;
				break;
			}
		if (n > size - off)
			n = size - off;
		k = write(fd, data + off, n);
		if (k == -1 && (errno == EAGAIN || errno == EINTR))
			k = 0;
		else if (k == -1)
			break;		/* the proxy has closed its end */
		/* Sometimes the client leaves right after its last bytes. */
		if (off + (size_t)k == size && early)
			(void)shutdown(fd, SHUT_WR);
		fs_pump(&w, fd, &out, k == 0 ? 8 : 2);
	}
	if (!early) {
		/* The client waits: all it sent is answered once quiet. */
		settle(&w, fd);
		if (pick == &picks[0])
			fs_check_replies(data + 1, size - 1, &out);
	}
	(void)shutdown(fd, SHUT_WR);
	fs_pump(&w, fd, &out, DRAIN_ITERATIONS);
	closed_itself = fs_finish(&w, rt, fd, &out, size);
	fs_check_output(&out, closed_itself && out.eof);
	return 0;
}
