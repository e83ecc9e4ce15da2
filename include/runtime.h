/*
 * What a loaded configuration needs at run time besides its text: the
 * TLS contexts of each [server] and [backend].  Built whole from a
 * struct conf and immutable afterwards, so every worker thread can read
 * it without locks.
 */
#ifndef RUNTIME_H
#define RUNTIME_H

#include <stddef.h>

struct conf;
struct conf_server;
struct conf_backend;

struct runtime_backend {
	const struct conf_backend	*conf;
	struct tls_client		*tls;	/* NULL when tls = no */
};

struct runtime_server {
	const struct conf_server	*conf;
	struct tls_server		*tls;	/* NULL without tls_cert */
	struct runtime_backend		*backend; /* default_backend */
};

struct runtime {
	struct conf			*conf;
	struct runtime_server		*servers;
	size_t				 nservers;
	struct runtime_backend		*backends;
	size_t				 nbackends;
};

/*
 * Loads every certificate and CA the configuration names.  Takes
 * ownership of conf, also on failure.  Returns NULL with FILE:LINE
 * messages in err when a file cannot be used.
 */
struct runtime	*runtime_new(struct conf *conf, char *err, size_t errlen);
/* Frees *rtp (and its conf) and sets it to NULL; accepts NULL. */
void		 runtime_free(struct runtime **rtp);

#endif
