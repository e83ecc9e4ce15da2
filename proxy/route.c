/*
 * Routing a login: user -> routes map -> back end or pool -> back end.
 */
#include <string.h>

#include "acl.h"
#include "bounds.h"
#include "conf.h"
#include "pool.h"
#include "route.h"
#include "routemap.h"
#include "runtime.h"
#include "sess.h"
#include "stats.h"

/* Up, enabled, and with room; reserves a place when there is. */
static int
route_take(struct runtime_backend *rb)
{
	unsigned int	max = rb->conf->max_connections;

	if (!atomic_load(&rb->st->up) || !atomic_load(&rb->st->enabled))
		return 0;
	if (atomic_fetch_add(&rb->st->sessions, 1) >= max && max != 0) {
		atomic_fetch_sub(&rb->st->sessions, 1);
		return 0;
	}
	return 1;
}

static int
route_available(const struct runtime_backend *rb)
{
	unsigned int	max = rb->conf->max_connections;

	return atomic_load(&rb->st->up) && atomic_load(&rb->st->enabled) &&
	    (max == 0 || atomic_load(&rb->st->sessions) < max);
}

/*
 * The pool member for key: the first available in its rendezvous order.
 * Taking it can still fail when another worker filled it meanwhile;
 * then the next choice is tried, a bounded number of times.
 */
static struct runtime_backend *
route_pool(const struct runtime_pool *p, const char *key)
{
	struct pool_member	m[CONF_MAX_BACKENDS];
	size_t			i, tries;
	long			k;

	for (i = 0; i < p->nmembers; i++) {
		m[i].name = p->members[i]->conf->name;
		m[i].weight = p->members[i]->conf->weight;
		m[i].available = route_available(p->members[i]);
	}
	for (tries = 0; tries < p->nmembers; tries++) {
		if ((k = pool_pick(key, m, p->nmembers)) < 0)
			return NULL;
		if (route_take(p->members[k]))
			return p->members[k];
		m[k].available = 0;
	}
	return NULL;
}

int
route_pick(struct sess *s, const char **why_r)
{
	const struct conf_server	*srv = s->srv->conf;
	const struct sasl_creds		*cr = &s->pa->creds;
	const struct runtime_target	*t = &s->srv->def;
	char				 key[AUTH_MAX_USER * 2 + 2];
	long				 i;

	if (acl_canon_user(cr->authzid[0] != '\0' ? cr->authzid : cr->user,
	    srv->username_case == CONF_USERNAME_LOWER, srv->default_domain,
	    key, sizeof(key)) == -1) {
		*why_r = "user name too long";
		return -1;
	}
	/* A login that names nobody (OAUTHBEARER without a=): the default. */
	if (s->srv->routes != NULL && cr->user[0] != '\0' &&
	    (i = routemap_lookup(s->srv->routes, key)) >= 0)
		t = &s->srv->route_targets[i];
	s->be = NULL;
	if (t->backend != NULL && route_take(t->backend))
		s->be = t->backend;
	else if (t->pool != NULL)
		s->be = route_pool(t->pool, key);
	if (s->be == NULL) {
		*why_r = t->backend == NULL && t->pool == NULL ?
		    "no route for this user" : "no back end available";
		return -1;
	}
	s->be_counted = 1;
	return 0;
}

void
route_release(struct sess *s)
{
	if (s->be_counted) {
		atomic_fetch_sub(&s->be->st->sessions, 1);
		s->be_counted = 0;
	}
}
