/*
 * What the stats socket shows of a session, copied out by its worker.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "conf.h"
#include "runtime.h"
#include "sess.h"
#include "sessinfo.h"
#include "tls.h"

/* Holds a reference to rt unless it is held already. */
static int
sess_infos_hold(struct sess_infos *si, struct runtime *rt)
{
	struct runtime	**p;
	size_t		  i;

	/* Sessions come in accept order: runtimes repeat in runs. */
	for (i = si->nrts; i > 0; i--)
		if (si->rts[i - 1] == rt)
			return 0;
	if (si->nrts == si->rtscap) {
		size_t	cap = si->rtscap > 0 ? si->rtscap * 2 : 4;

		if ((p = realloc(si->rts, cap * sizeof(*p))) == NULL)
			return -1;
		si->rts = p;
		si->rtscap = cap;
	}
	si->rts[si->nrts++] = runtime_ref(rt);
	return 0;
}

/* Copies user into the arena; its offset in *off. */
static int
sess_infos_user(struct sess_infos *si, const char *user, size_t *off)
{
	size_t	 len = strlen(user) + 1, cap;
	char	*p;

	if (si->userslen + len > si->userscap) {
		for (cap = si->userscap > 0 ? si->userscap : 4096;
		    cap < si->userslen + len; cap *= 2)
			;
		if ((p = realloc(si->users, cap)) == NULL)
			return -1;
		si->users = p;
		si->userscap = cap;
	}
	memcpy(si->users + si->userslen, user, len);
	*off = si->userslen;
	si->userslen += len;
	return 0;
}

int
sess_infos_add(struct sess_infos *si, const struct sess *s)
{
	struct sess_info	*x = &si->v[si->n];
	size_t			 off;

	if (sess_infos_hold(si, s->rt) == -1)
		return -1;
	memcpy(x->id, s->id, sizeof(x->id));
	memcpy(x->country, s->country, sizeof(x->country));
	memcpy(x->client, s->client, sizeof(x->client));
	x->user = NULL;
	if (s->user != NULL) {
		if (sess_infos_user(si, s->user, &off) == -1)
			return -1;
		/* An offset until the arena stops moving. */
		x->user = (const char *)(uintptr_t)(off + 1);
	}
	x->server = s->srv->conf->name;
	x->listener = s->listen->name;
	x->backend = s->user != NULL && s->be != NULL ? s->be->conf->name :
	    NULL;
	x->tls = s->tls_active ? tls_version(s->cconn.ssl) : NULL;
	x->state = sess_state_name(s->state);
	x->since = (long long)s->started;
	x->bytes_in = s->bytes_in;
	x->bytes_out = s->bytes_out;
	si->n++;
	return 0;
}

void
sess_infos_finish(struct sess_infos *si)
{
	size_t	i;

	for (i = 0; i < si->n; i++)
		if (si->v[i].user != NULL)
			si->v[i].user = si->users +
			    ((uintptr_t)si->v[i].user - 1);
}

void
sess_infos_clear(struct sess_infos *si)
{
	size_t	i;

	for (i = 0; i < si->nrts; i++)
		runtime_unref(&si->rts[i]);
	free(si->rts);
	free(si->users);
	free(si->v);
	memset(si, 0, sizeof(*si));
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
