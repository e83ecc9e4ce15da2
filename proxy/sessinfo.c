/*
 * What the stats socket shows of a session, copied out by its worker.
 */
#include <stdio.h>
#include <string.h>

#include "acl.h"
#include "conf.h"
#include "runtime.h"
#include "sess.h"
#include "sessinfo.h"
#include "tls.h"

static void
sess_info_copy(char *dst, size_t len, const char *src)
{
	size_t	n = strlen(src);

	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void
sess_info_fill(const struct sess *s, struct sess_info *si)
{
	memcpy(si->id, s->id, sizeof(si->id));
	si->has_user = s->user != NULL;
	sess_info_copy(si->user, sizeof(si->user), s->user != NULL ?
	    s->user : "");
	sess_info_copy(si->client, sizeof(si->client), s->client);
	memcpy(si->country, s->country, sizeof(si->country));
	sess_info_copy(si->server, sizeof(si->server), s->srv->conf->name);
	sess_info_copy(si->listener, sizeof(si->listener), s->listen->name);
	sess_info_copy(si->backend, sizeof(si->backend), s->user != NULL &&
	    s->be != NULL ? s->be->conf->name : "");
	si->tls = s->tls_active ? tls_version(s->cconn.ssl) : NULL;
	si->state = sess_state_name(s->state);
	si->since = (long long)s->started;
	si->bytes_in = s->bytes_in;
	si->bytes_out = s->bytes_out;
}

int
sess_info_matches(const struct sess *s, const char *match)
{
	const struct conf_server	*srv = s->srv->conf;
	int				 lower;
	char				 a[AUTH_MAX_USER * 2 + 2];
	char				 b[AUTH_MAX_USER * 2 + 2];

	if (strcmp(s->id, match) == 0)
		return 1;
	if (s->user == NULL)
		return 0;
	lower = srv->username_case == CONF_USERNAME_LOWER;
	if (acl_canon_user(s->user, lower, srv->default_domain, a,
	    sizeof(a)) == -1 || acl_canon_user(match, lower,
	    srv->default_domain, b, sizeof(b)) == -1)
		return 0;
	return strcmp(a, b) == 0;
}
