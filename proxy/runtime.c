/*
 * Builds what a configuration names (TLS contexts, the identity to run
 * as), all or nothing.
 */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "bounds.h"
#include "conf.h"
#include "errbuf.h"
#include "geo.h"
#include "routemap.h"
#include "runtime.h"
#include "stats.h"
#include "tls.h"

/*
 * Adds the messages another load wrote into text, a line at a time:
 * when e fills up, it is cut between two of them, after all that fit.
 */
static void
runtime_err_lines(struct errbuf *e, const char *text)
{
	size_t	n;

	while (*text != '\0') {
		n = strcspn(text, "\n");
		errbuf_addf(e, "%.*s", (int)n, text);
		text += n + (text[n] == '\n');
	}
}

static int
runtime_open_geo(struct runtime *rt, struct errbuf *e)
{
	char	msg[4096];

	msg[0] = '\0';
	if ((rt->geo = geo_open(rt->conf, msg, sizeof(msg))) == NULL) {
		runtime_err_lines(e, msg);
		return -1;
	}
	return 0;
}

static struct runtime_pool *
runtime_pool_find(struct runtime *rt, const char *name)
{
	size_t	i;

	for (i = 0; i < rt->npools; i++)
		if (strcmp(rt->pools[i].name, name) == 0)
			return &rt->pools[i];
	return NULL;
}

/* Groups the back ends by `pool =`, in configuration order. */
static int
runtime_make_pools(struct runtime *rt)
{
	struct runtime_pool	*p;
	size_t			 i;

	if ((rt->pools = calloc(rt->nbackends, sizeof(*rt->pools))) == NULL)
		return -1;
	for (i = 0; i < rt->nbackends; i++) {
		struct runtime_backend	*rb = &rt->backends[i];

		if (rb->conf->pool == NULL)
			continue;
		if ((p = runtime_pool_find(rt, rb->conf->pool)) == NULL) {
			p = &rt->pools[rt->npools++];
			if ((p->name = strdup(rb->conf->pool)) == NULL ||
			    (p->members = calloc(rt->nbackends,
			    sizeof(*p->members))) == NULL)
				return -1;
		}
		p->members[p->nmembers++] = rb;
		rb->pool = p;
	}
	return 0;
}

/*
 * Resolves "NAME" or "pool:NAME" into t.  Returns 0, or -1 when no back
 * end or pool has that name.
 */
static int
runtime_resolve(struct runtime *rt, const char *text,
    struct runtime_target *t)
{
	size_t	i;

	memset(t, 0, sizeof(*t));
	if (strncmp(text, "pool:", 5) == 0)
		return (t->pool = runtime_pool_find(rt, text + 5)) == NULL ?
		    -1 : 0;
	for (i = 0; i < rt->nbackends; i++)
		if (strcmp(rt->backends[i].conf->name, text) == 0) {
			t->backend = &rt->backends[i];
			return 0;
		}
	return -1;
}

/* Loads a server's routes map; every target must name a back end or pool. */
static int
runtime_load_routes(struct runtime *rt, struct runtime_server *rs,
    struct errbuf *e)
{
	const struct conf_server	*srv = rs->conf;
	const struct routemap_target	*t;
	char				 msg[CONF_MAX_ERRTEXT / 4];
	char				 text[CONF_MAX_NAME + 8];
	size_t				 i, n;
	int				 failed = 0;

	if (srv->routes == NULL)
		return 0;
	msg[0] = '\0';
	if ((rs->routes = routemap_load(srv->routes, srv->username_case ==
	    CONF_USERNAME_LOWER ? ROUTEMAP_LOWER : 0, srv->default_domain,
	    msg, sizeof(msg))) == NULL) {
		runtime_err_lines(e, msg);
		return -1;
	}
	n = routemap_ntargets(rs->routes);
	if ((rs->route_targets = calloc(n + 1,
	    sizeof(*rs->route_targets))) == NULL) {
		errbuf_add(e, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		t = routemap_target(rs->routes, i);
		snprintf(text, sizeof(text), "%s%s", t->pool ? "pool:" : "",
		    t->name);
		if (runtime_resolve(rt, text, &rs->route_targets[i]) == 0)
			continue;
		if (t->pool)
			errbuf_addf(e, "%s:%d: %s: no [backend] has pool = %s",
			    srv->routes, t->line, text, t->name);
		else
			errbuf_addf(e, "%s:%d: %s: no [backend %s] in the "
			    "configuration", srv->routes, t->line, text,
			    t->name);
		failed = 1;
	}
	return failed ? -1 : 0;
}

/* Loads a server's ACL file and checks the data it needs exist. */
static int
runtime_load_acl(struct runtime *rt, struct runtime_server *rs,
    struct errbuf *e)
{
	const struct conf_server	*srv = rs->conf;
	const struct conf		*conf = rt->conf;
	char				 msg[CONF_MAX_ERRTEXT / 4];
	int				 flags = 0, failed = 0;

	if (srv->acl == NULL)
		return 0;
	if (srv->username_case == CONF_USERNAME_LOWER)
		flags |= ACL_LOAD_LOWER_USERS;
	msg[0] = '\0';
	if ((rs->acl = acl_load(srv->acl, flags, msg, sizeof(msg))) == NULL) {
		runtime_err_lines(e, msg);
		return -1;
	}
	if (acl_set_default_domain(rs->acl, srv->default_domain) == -1) {
		errbuf_add(e, "out of memory");
		return -1;
	}
	rs->acl_needs = acl_needs(rs->acl);
	rt->needs |= rs->acl_needs;
	if (rt->geo == NULL)
		return -1;	/* already reported */
	if ((rs->acl_needs & ACL_NEEDS_COUNTRY) && !geo_has_country(rt->geo)) {
		errbuf_addf(e, "%s:%d: [server %s] acl: %s uses country, but "
		    "no geoip_db has country data", conf->path, srv->line_acl,
		    srv->name, srv->acl);
		failed = 1;
	}
	if ((rs->acl_needs & ACL_NEEDS_ASN) && !geo_has_asn(rt->geo)) {
		errbuf_addf(e, "%s:%d: [server %s] acl: %s uses asn, but no "
		    "geoip_db has ASN data", conf->path, srv->line_acl,
		    srv->name, srv->acl);
		failed = 1;
	}
	rs->acl_denies = calloc(acl_nrules(rs->acl) + 1,
	    sizeof(*rs->acl_denies));
	if (rs->acl_denies == NULL) {
		errbuf_add(e, "out of memory");
		failed = 1;
	}
	return failed ? -1 : 0;
}

static int
runtime_load_servers(struct runtime *rt, struct errbuf *e)
{
	struct conf	*conf = rt->conf;
	char		 msg[4096];
	size_t		 i;
	int		 failed = 0;

	for (i = 0; i < conf->nservers; i++) {
		struct runtime_server	*rs = &rt->servers[i];

		rs->conf = &conf->servers[i];
		if ((rs->st = stats_server_get(rs->conf->name)) == NULL) {
			errbuf_add(e, "out of memory");
			failed = 1;
		}
		msg[0] = '\0';
		if (rs->conf->ncerts > 0 && (rs->tls = tls_server_new(conf,
		    rs->conf, msg, sizeof(msg))) == NULL) {
			runtime_err_lines(e, msg);
			failed = 1;
		}
		/* conf.c has checked that default_backend names one. */
		if (rs->conf->default_backend != NULL)
			(void)runtime_resolve(rt, rs->conf->default_backend,
			    &rs->def);
		/* Both files are checked, so every mistake is reported. */
		if (runtime_load_acl(rt, rs, e) == -1)
			failed = 1;
		if (runtime_load_routes(rt, rs, e) == -1)
			failed = 1;
	}
	return failed ? -1 : 0;
}

static int
runtime_load_backends(struct runtime *rt, struct errbuf *e)
{
	struct conf	*conf = rt->conf;
	char		 msg[4096];
	size_t		 i;
	int		 failed = 0;

	for (i = 0; i < conf->nbackends; i++) {
		struct runtime_backend	*rb = &rt->backends[i];

		rb->conf = &conf->backends[i];
		if ((rb->st = stats_backend_get(rb->conf->name)) == NULL) {
			errbuf_add(e, "out of memory");
			failed = 1;
			continue;
		}
		if (rb->conf->tls == CONF_BACKEND_TLS_NO)
			continue;
		msg[0] = '\0';
		if ((rb->tls = tls_client_new(conf, rb->conf, msg,
		    sizeof(msg))) == NULL) {
			runtime_err_lines(e, msg);
			failed = 1;
		}
	}
	return failed ? -1 : 0;
}

/* user and group must exist, or dropping privileges would fail later. */
static int
runtime_check_identity(const struct conf *conf, struct errbuf *e)
{
	int	failed = 0;

	if (conf->user != NULL && getpwnam(conf->user) == NULL) {
		errbuf_addf(e, "%s:%d: [global] user: no such user \"%s\"",
		    conf->path, conf->line_user, conf->user);
		failed = 1;
	}
	if (conf->group != NULL && getgrnam(conf->group) == NULL) {
		errbuf_addf(e, "%s:%d: [global] group: no such group \"%s\"",
		    conf->path, conf->line_group, conf->group);
		failed = 1;
	}
	return failed ? -1 : 0;
}

struct runtime *
runtime_new(struct conf *conf, char *err, size_t errlen)
{
	struct runtime	*rt;
	struct errbuf	 e;
	int		 failed;

	errbuf_init(&e, err, errlen);
	if ((rt = calloc(1, sizeof(*rt))) == NULL)
		goto nomem;
	atomic_init(&rt->refs, 1);
	rt->conf = conf;
	rt->nservers = conf->nservers;
	rt->nbackends = conf->nbackends;
	rt->servers = calloc(conf->nservers, sizeof(*rt->servers));
	rt->backends = calloc(conf->nbackends, sizeof(*rt->backends));
	if (rt->servers == NULL || rt->backends == NULL)
		goto nomem;
	/* Back ends first: servers point at their default back end. */
	failed = runtime_check_identity(conf, &e);
	failed |= runtime_open_geo(rt, &e);
	failed |= runtime_load_backends(rt, &e);
	if (runtime_make_pools(rt) == -1)
		goto nomem;
	failed |= runtime_load_servers(rt, &e);
	if (failed) {
		runtime_free(&rt);
		return NULL;
	}
	return rt;
nomem:
	errbuf_add(&e, "out of memory");
	if (rt != NULL)
		runtime_free(&rt);
	else
		conf_free(&conf);
	return NULL;
}

void
runtime_free(struct runtime **rtp)
{
	struct runtime	*rt = *rtp;
	size_t		 i;

	if (rt == NULL)
		return;
	for (i = 0; rt->servers != NULL && i < rt->nservers; i++) {
		tls_server_free(&rt->servers[i].tls);
		acl_free(&rt->servers[i].acl);
		free(rt->servers[i].acl_denies);
		routemap_free(&rt->servers[i].routes);
		free(rt->servers[i].route_targets);
	}
	for (i = 0; rt->pools != NULL && i < rt->npools; i++) {
		free(rt->pools[i].name);
		free(rt->pools[i].members);
	}
	free(rt->pools);
	geo_free(&rt->geo);
	for (i = 0; rt->backends != NULL && i < rt->nbackends; i++)
		tls_client_free(&rt->backends[i].tls);
	free(rt->servers);
	free(rt->backends);
	conf_free(&rt->conf);
	free(rt);
	*rtp = NULL;
}

struct runtime *
runtime_ref(struct runtime *rt)
{
	atomic_fetch_add_explicit(&rt->refs, 1, memory_order_relaxed);
	return rt;
}

void
runtime_unref(struct runtime **rtp)
{
	struct runtime	*rt = *rtp;

	*rtp = NULL;
	/* Release and acquire: the freeing thread sees every other's writes. */
	if (rt != NULL && atomic_fetch_sub_explicit(&rt->refs, 1,
	    memory_order_acq_rel) == 1)
		runtime_free(&rt);
}

struct runtime_server *
runtime_server_find(struct runtime *rt, const char *name)
{
	size_t	i;

	for (i = 0; i < rt->nservers; i++)
		if (strcmp(rt->servers[i].conf->name, name) == 0)
			return &rt->servers[i];
	return NULL;
}

struct runtime_backend *
runtime_backend_find(struct runtime *rt, const char *name)
{
	size_t	i;

	for (i = 0; i < rt->nbackends; i++)
		if (strcmp(rt->backends[i].conf->name, name) == 0)
			return &rt->backends[i];
	return NULL;
}
