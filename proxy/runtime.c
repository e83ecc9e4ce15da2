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
#include "geo.h"
#include "runtime.h"
#include "tls.h"

/* Appends one message block to err, keeping what is there. */
static void
runtime_err_append(char *err, size_t errlen, const char *msg)
{
	size_t	used = strlen(err);

	if (used > 0 && used + 1 < errlen)
		err[used++] = '\n';
	if (used < errlen)
		(void)snprintf(err + used, errlen - used, "%s", msg);
}

static int
runtime_open_geo(struct runtime *rt, char *err, size_t errlen)
{
	char	msg[4096];

	msg[0] = '\0';
	if ((rt->geo = geo_open(rt->conf, msg, sizeof(msg))) == NULL) {
		runtime_err_append(err, errlen, msg);
		return -1;
	}
	return 0;
}

/* Loads a server's ACL file and checks the data it needs exist. */
static int
runtime_load_acl(struct runtime *rt, struct runtime_server *rs, char *err,
    size_t errlen)
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
		runtime_err_append(err, errlen, msg);
		return -1;
	}
	if (acl_set_default_domain(rs->acl, srv->default_domain) == -1) {
		runtime_err_append(err, errlen, "out of memory");
		return -1;
	}
	rs->acl_needs = acl_needs(rs->acl);
	rt->needs |= rs->acl_needs;
	if (rt->geo == NULL)
		return -1;	/* already reported */
	if ((rs->acl_needs & ACL_NEEDS_COUNTRY) && !geo_has_country(rt->geo)) {
		snprintf(msg, sizeof(msg), "%s:%d: [server %s] acl: %s uses "
		    "country, but no geoip_db has country data", conf->path,
		    srv->line_acl, srv->name, srv->acl);
		runtime_err_append(err, errlen, msg);
		failed = 1;
	}
	if ((rs->acl_needs & ACL_NEEDS_ASN) && !geo_has_asn(rt->geo)) {
		snprintf(msg, sizeof(msg), "%s:%d: [server %s] acl: %s uses "
		    "asn, but no geoip_db has ASN data", conf->path,
		    srv->line_acl, srv->name, srv->acl);
		runtime_err_append(err, errlen, msg);
		failed = 1;
	}
	rs->acl_denies = calloc(acl_nrules(rs->acl) + 1,
	    sizeof(*rs->acl_denies));
	if (rs->acl_denies == NULL) {
		runtime_err_append(err, errlen, "out of memory");
		failed = 1;
	}
	return failed ? -1 : 0;
}

static int
runtime_load_servers(struct runtime *rt, char *err, size_t errlen)
{
	struct conf	*conf = rt->conf;
	char		 msg[4096];
	size_t		 i, j;
	int		 failed = 0;

	for (i = 0; i < conf->nservers; i++) {
		struct runtime_server	*rs = &rt->servers[i];

		rs->conf = &conf->servers[i];
		msg[0] = '\0';
		if (rs->conf->ncerts > 0 && (rs->tls = tls_server_new(conf,
		    rs->conf, msg, sizeof(msg))) == NULL) {
			runtime_err_append(err, errlen, msg);
			failed = 1;
		}
		for (j = 0; j < conf->nbackends; j++)
			if (&conf->backends[j] == rs->conf->backend)
				rs->backend = &rt->backends[j];
		if (runtime_load_acl(rt, rs, err, errlen) == -1)
			failed = 1;
	}
	return failed ? -1 : 0;
}

static int
runtime_load_backends(struct runtime *rt, char *err, size_t errlen)
{
	struct conf	*conf = rt->conf;
	char		 msg[4096];
	size_t		 i;
	int		 failed = 0;

	for (i = 0; i < conf->nbackends; i++) {
		struct runtime_backend	*rb = &rt->backends[i];

		rb->conf = &conf->backends[i];
		if (rb->conf->tls == CONF_BACKEND_TLS_NO)
			continue;
		msg[0] = '\0';
		if ((rb->tls = tls_client_new(conf, rb->conf, msg,
		    sizeof(msg))) == NULL) {
			runtime_err_append(err, errlen, msg);
			failed = 1;
		}
	}
	return failed ? -1 : 0;
}

/* user and group must exist, or dropping privileges would fail later. */
static int
runtime_check_identity(const struct conf *conf, char *err, size_t errlen)
{
	char	msg[1024];
	int	failed = 0;

	if (conf->user != NULL && getpwnam(conf->user) == NULL) {
		snprintf(msg, sizeof(msg), "%s:%d: [global] user: no such "
		    "user \"%s\"", conf->path, conf->line_user, conf->user);
		runtime_err_append(err, errlen, msg);
		failed = 1;
	}
	if (conf->group != NULL && getgrnam(conf->group) == NULL) {
		snprintf(msg, sizeof(msg), "%s:%d: [global] group: no such "
		    "group \"%s\"", conf->path, conf->line_group, conf->group);
		runtime_err_append(err, errlen, msg);
		failed = 1;
	}
	return failed ? -1 : 0;
}

struct runtime *
runtime_new(struct conf *conf, char *err, size_t errlen)
{
	struct runtime	*rt;
	int		 failed;

	if (errlen > 0)
		err[0] = '\0';
	if ((rt = calloc(1, sizeof(*rt))) == NULL)
		goto nomem;
	rt->conf = conf;
	rt->nservers = conf->nservers;
	rt->nbackends = conf->nbackends;
	rt->servers = calloc(conf->nservers, sizeof(*rt->servers));
	rt->backends = calloc(conf->nbackends, sizeof(*rt->backends));
	if (rt->servers == NULL || rt->backends == NULL)
		goto nomem;
	/* Back ends first: servers point at their default back end. */
	failed = runtime_check_identity(conf, err, errlen);
	failed |= runtime_open_geo(rt, err, errlen);
	failed |= runtime_load_backends(rt, err, errlen);
	failed |= runtime_load_servers(rt, err, errlen);
	if (failed) {
		runtime_free(&rt);
		return NULL;
	}
	return rt;
nomem:
	runtime_err_append(err, errlen, "out of memory");
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
	}
	geo_free(&rt->geo);
	for (i = 0; rt->backends != NULL && i < rt->nbackends; i++)
		tls_client_free(&rt->backends[i].tls);
	free(rt->servers);
	free(rt->backends);
	conf_free(&rt->conf);
	free(rt);
	*rtp = NULL;
}
