/*
 * libFuzzer target: the configuration loader (proxy/conf.c, inih).
 *
 * The input is an imapproxy.conf, written to a private temporary file
 * for conf_load(), then freed with conf_free().  A [backend] address may
 * name a host, which conf.c resolves with getaddrinfo(): this file
 * defines getaddrinfo() (the program's own definition wins over libc's
 * and the sanitizer's weak one) so that only numeric addresses and
 * "localhost" resolve, with no DNS traffic and the same answer on every
 * run.  Checked when the file loads:
 * - at least one server with a listener, and one back end;
 * - conf_listen_count()/conf_listen_at() walk every listener in order;
 * - every back end is found by its name, names are unique, and a
 *   server's default back end is one of them;
 * - listener and back-end addresses are IPv4 or IPv6 with their sizes;
 * - numbers are within the ranges SPEC.md section 3 gives.
 * conf_parse_duration() also gets the input's first line.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <dlfcn.h>
#include <netdb.h>

#include "bounds.h"
#include "conf.h"

#include "fuzz.h"

static char	 conf_path[512];
static char	 err[CONF_MAX_ERRTEXT];

typedef int	 getaddrinfo_fn(const char *, const char *,
		    const struct addrinfo *, struct addrinfo **);

int
getaddrinfo(const char *node, const char *service,
    const struct addrinfo *hints, struct addrinfo **res)
{
	static getaddrinfo_fn	*real;
	struct addrinfo		 h;

	if (real == NULL &&
	    (real = (getaddrinfo_fn *)dlsym(RTLD_NEXT, "getaddrinfo")) == NULL)
		return EAI_FAIL;
	if (hints != NULL)
		h = *hints;
	else {
		memset(&h, 0, sizeof(h));
		h.ai_family = AF_UNSPEC;
	}
	h.ai_flags |= AI_NUMERICHOST | AI_NUMERICSERV;
	if (node != NULL && strcmp(node, "localhost") == 0)
		node = "127.0.0.1";
	return real(node, service, &h, res);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_tmpdir("fuzz_conf");
	fuzz_path(conf_path, sizeof(conf_path), "imapproxy.conf");
	return 0;
}

static void
check_conf(const struct conf *c)
{
	const struct conf_server	*srv;
	const struct conf_backend	*b;
	size_t				 i, j, k = 0;

	FUZZ_CHECK(c->path != NULL && c->dir != NULL && c->dir[0] == '/');
	FUZZ_CHECK(c->nservers >= 1 && c->nservers <= CONF_MAX_SERVERS);
	FUZZ_CHECK(c->nbackends >= 1 && c->nbackends <= CONF_MAX_BACKENDS);
	FUZZ_CHECK(c->workers <= WORKER_MAX);
	FUZZ_CHECK(c->ngeoip_db <= CONF_MAX_GEOIP);
	FUZZ_CHECK(c->ndns_servers <= CONF_MAX_DNS);
	for (i = 0; i < c->ngeoip_db; i++)
		FUZZ_CHECK(c->geoip_db[i] != NULL && c->geoip_db[i][0] == '/');
	for (i = 0; i < c->ndns_servers; i++)
		FUZZ_CHECK(c->dns_servers[i] != NULL);
	FUZZ_CHECK(c->dns_timeout >= 0 && c->shutdown_timeout >= 0);
	if (c->log_dest == CONF_LOG_FILE)
		FUZZ_CHECK(c->log_file != NULL);
	for (i = 0; i < c->nservers; i++) {
		srv = &c->servers[i];
		FUZZ_CHECK(srv->name != NULL && srv->line >= 1);
		FUZZ_CHECK(srv->nlisten >= 1 && srv->nlisten <= CONF_MAX_LISTEN);
		FUZZ_CHECK(srv->ncerts <= CONF_MAX_CERTS);
		FUZZ_CHECK(srv->nproxy_from <= CONF_MAX_NETS);
		for (j = 0; j < srv->nlisten; j++, k++) {
			FUZZ_CHECK(conf_listen_at(c, k) == &srv->listen[j]);
			fuzz_check_addr(&srv->listen[j].addr,
			    srv->listen[j].addrlen);
			FUZZ_CHECK(memchr(srv->listen[j].name, '\0',
			    sizeof(srv->listen[j].name)) != NULL);
			/* A TLS listener needs a certificate. */
			if (srv->listen[j].flags & (CONF_LISTEN_TLS |
			    CONF_LISTEN_STARTTLS))
				FUZZ_CHECK(srv->ncerts > 0);
		}
		for (j = 0; j < srv->ncerts; j++)
			FUZZ_CHECK(srv->certs[j].cert != NULL &&
			    srv->certs[j].cert[0] == '/' &&
			    srv->certs[j].key != NULL &&
			    srv->certs[j].key[0] == '/');
		for (j = 0; j < srv->nproxy_from; j++) {
			FUZZ_CHECK(srv->proxy_from[j].family == AF_INET ||
			    srv->proxy_from[j].family == AF_INET6);
			FUZZ_CHECK(srv->proxy_from[j].prefix >= 0 &&
			    srv->proxy_from[j].prefix <=
			    (srv->proxy_from[j].family == AF_INET ? 32 : 128));
		}
		if (srv->acl != NULL)
			FUZZ_CHECK(srv->acl[0] == '/');
		if (srv->routes != NULL)
			FUZZ_CHECK(srv->routes[0] == '/');
		if (srv->backend != NULL)
			FUZZ_CHECK(srv->backend >= c->backends &&
			    srv->backend < c->backends + c->nbackends);
		FUZZ_CHECK(srv->greeting != NULL &&
		    strlen(srv->greeting) <= CONF_MAX_GREETING);
		FUZZ_CHECK(strpbrk(srv->greeting, "\r\n") == NULL);
		FUZZ_CHECK(srv->login_timeout >= 0 && srv->idle_timeout >= 0);
		FUZZ_CHECK(srv->auth_fail_window >= 0 &&
		    srv->auth_fail_delay >= 0);
	}
	FUZZ_CHECK(conf_listen_count(c) == k && conf_listen_at(c, k) == NULL);
	for (i = 0; i < c->nbackends; i++) {
		b = &c->backends[i];
		FUZZ_CHECK(b->name != NULL && b->line >= 1);
		FUZZ_CHECK(conf_backend_find(c, b->name) == b);
		fuzz_check_addr(&b->addr, b->addrlen);
		FUZZ_CHECK(memchr(b->addr_name, '\0', sizeof(b->addr_name)));
		FUZZ_CHECK(b->connect_timeout >= 0 &&
		    b->health_check_interval >= 0);
		if (b->tls_ca != NULL)
			FUZZ_CHECK(b->tls_ca[0] == '/');
	}
}

static void
check_duration(const uint8_t *data, size_t size)
{
	char	 text[64];
	size_t	 n;
	double	 s;

	for (n = 0; n < size && n < sizeof(text) - 1 && data[n] != '\n'; n++)
		text[n] = (char)data[n];
	text[n] = '\0';
	if (conf_parse_duration(text, &s) == 0)
		FUZZ_CHECK(s >= 0 && s <= CONF_MAX_DURATION);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf	*c;

	check_duration(data, size);
	fuzz_write_file(conf_path, data, size);
	err[0] = '\0';
	c = conf_load(conf_path, err, sizeof(err));
	FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	if (c == NULL) {
		FUZZ_CHECK(err[0] != '\0');
		return 0;
	}
	check_conf(c);
	conf_free(&c);
	FUZZ_CHECK(c == NULL);
	conf_free(&c);
	return 0;
}
