/*
 * What a loaded configuration needs at run time besides its text: the
 * TLS contexts, ACLs, routes and pools of each [server] and [backend].
 * Built whole from a struct conf and immutable afterwards, so every
 * worker thread can read it without locks.  A reload builds a new one;
 * each session holds a reference to the one it was accepted under, and
 * the last reference frees it, in whichever thread drops it.
 */
#ifndef RUNTIME_H
#define RUNTIME_H

#include <stdatomic.h>
#include <stddef.h>

struct conf;
struct conf_server;
struct conf_backend;
struct acl;
struct stats_backend;
struct stats_server;
struct geo;
struct routemap;

struct runtime_backend {
	const struct conf_backend	*conf;
	struct tls_client		*tls;	/* NULL when tls = no */
	struct runtime_pool		*pool;	/* NULL when in none */
	struct stats_backend		*st;	/* health, sessions, counters */
};

/* The back ends sharing one `pool =` name, in configuration order. */
struct runtime_pool {
	char				*name;
	struct runtime_backend	       **members;
	size_t				 nmembers;
};

/* Where a route or default_backend points: one back end or a pool. */
struct runtime_target {
	struct runtime_backend		*backend;
	struct runtime_pool		*pool;
};

struct runtime_server {
	const struct conf_server	*conf;
	struct tls_server		*tls;	/* NULL without tls_cert */
	struct runtime_target		 def;	/* default_backend */
	struct routemap			*routes; /* NULL: no routes file */
	struct runtime_target		*route_targets; /* per map target */
	struct acl			*acl;	/* NULL: everyone allowed */
	int				 acl_needs; /* ACL_NEEDS_* */
	atomic_ulong			*acl_denies; /* per rule index */
	atomic_ulong			 acl_default_denies;
	struct stats_server		*st;	/* counters, limits */
};

struct runtime {
	atomic_uint			 refs;
	struct conf			*conf;
	struct runtime_pool		*pools;
	size_t				 npools;
	struct geo			*geo;	/* geoip_db files */
	int				 needs;	/* ACL_NEEDS_* of all servers */
	struct runtime_server		*servers;
	size_t				 nservers;
	struct runtime_backend		*backends;
	size_t				 nbackends;
};

/*
 * Loads every certificate, CA, ACL file and GeoIP database the
 * configuration names.  Takes
 * ownership of conf, also on failure.  Returns NULL with FILE:LINE
 * messages in err when a file cannot be used, one a line (cut with a
 * last "... more errors" line when errlen is too small).
 */
struct runtime	*runtime_new(struct conf *conf, char *err, size_t errlen);
/* Frees *rtp (and its conf) and sets it to NULL; accepts NULL. */
void		 runtime_free(struct runtime **rtp);
/* Another holder of rt; returns rt. */
struct runtime	*runtime_ref(struct runtime *rt);
/* Drops a reference and sets *rtp to NULL; the last one frees. */
void		 runtime_unref(struct runtime **rtp);
/* The [server] or [backend] named name, or NULL. */
struct runtime_server *runtime_server_find(struct runtime *, const char *);
struct runtime_backend *runtime_backend_find(struct runtime *,
		    const char *);

#endif
