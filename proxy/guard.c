/*
 * Limits and the brute-force defence, per [server], through the
 * server's limiter (shared by every worker, kept across reloads).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "acl.h"
#include "conf.h"
#include "guard.h"
#include "limiter.h"
#include "log.h"
#include "runtime.h"
#include "sess.h"
#include "stats.h"
#include "worker.h"

static struct limiter *
guard_limiter(const struct sess *s)
{
	return s->srv->st->limiter;
}

static double
guard_now(const struct sess *s)
{
	return ev_now(s->w->loop);
}

static const struct sockaddr *
guard_ip(const struct sess *s)
{
	return (const struct sockaddr *)&s->peer;
}

/* The name limits count: the one routing uses. */
static int
guard_user(const struct sess *s, char *out, size_t len)
{
	const struct conf_server	*srv = s->srv->conf;
	const struct sasl_creds		*cr = &s->pa->creds;

	return acl_canon_user(cr->authzid[0] != '\0' ? cr->authzid : cr->user,
	    srv->username_case == CONF_USERNAME_LOWER, srv->default_domain,
	    out, len);
}

int
guard_connect(struct sess *s)
{
	struct limiter_refusal	r;
	unsigned int		max = s->srv->conf->max_connections_per_ip;

	switch (limiter_ip_acquire(guard_limiter(s), guard_ip(s), max,
	    guard_now(s), &r)) {
	case LIMITER_COUNTED:
		s->ip_counted = 1;
		return 0;
	case LIMITER_UNCOUNTED:
		return 0;
	}
	STATS_ADD(s->srv->st->refused, 1);
	if (r.log)
		log_warnx("client=%s refused: max_connections_per_ip (%u) "
		    "reached on server %s (%lu more refused since the last "
		    "report)", s->client, max, s->srv->conf->name,
		    r.suppressed);
	return -1;
}

static int
guard_blocked(struct sess *s)
{
	const struct conf_server	*srv = s->srv->conf;
	struct limiter_refusal		 r;

	if (!limiter_auth_blocked(guard_limiter(s), guard_ip(s),
	    srv->auth_fail_limit, srv->auth_fail_window, guard_now(s), &r))
		return 0;
	if (r.log)
		log_warnx("client=%s logins refused: auth_fail_limit (%u "
		    "failures within %.0fs) reached on server %s (%lu more "
		    "refused since the last report)", s->client,
		    srv->auth_fail_limit, srv->auth_fail_window, srv->name,
		    r.suppressed);
	(void)sess_reply(s, "%s NO [LIMIT] Too many failed logins from your "
	    "address, try again later.", s->pa->tag);
	return -1;
}

int
guard_user_admit(struct sess *s)
{
	const struct conf_server	*srv = s->srv->conf;
	struct limiter_refusal		 r;
	char				 user[AUTH_MAX_USER * 2 + 2];
	int				 got;

	if (srv->max_connections_per_user == 0 || s->pa->creds.user[0] ==
	    '\0' || guard_user(s, user, sizeof(user)) == -1)
		return 0;
	got = limiter_user_acquire(guard_limiter(s), user,
	    srv->max_connections_per_user, guard_now(s), &r);
	if (got == LIMITER_COUNTED && (s->limit_user = strdup(user)) == NULL) {
		limiter_user_release(guard_limiter(s), user);
		got = LIMITER_UNCOUNTED;
	}
	if (got != LIMITER_REFUSED)
		return 0;
	if (r.log)
		log_warnx("client=%s user=%s refused: max_connections_per_user "
		    "(%u) reached on server %s (%lu more refused since the last "
		    "report)", s->client, user, srv->max_connections_per_user,
		    srv->name, r.suppressed);
	(void)sess_reply(s, "%s NO [LIMIT] Too many sessions for this user.",
	    s->pa->tag);
	STATS_ADD(s->srv->st->logins_failed, 1);
	return -1;
}

int
guard_login(struct sess *s)
{
	const struct sasl_creds	*cr = &s->pa->creds;

	SHA256((const unsigned char *)cr->pass, strlen(cr->pass),
	    s->pa->secret_digest);
	if (guard_blocked(s) == -1) {
		STATS_ADD(s->srv->st->logins_failed, 1);
		return -1;
	}
	return 0;
}

double
guard_failed(struct sess *s)
{
	const struct conf_server	*srv = s->srv->conf;
	char				 user[AUTH_MAX_USER * 2 + 2];
	double				 now = guard_now(s);

	if (guard_user(s, user, sizeof(user)) == -1)
		user[0] = '\0';
	limiter_auth_failed(guard_limiter(s), guard_ip(s), user,
	    s->pa->secret_digest, sizeof(s->pa->secret_digest),
	    srv->auth_fail_window, now);
	OPENSSL_cleanse(s->pa->secret_digest, sizeof(s->pa->secret_digest));
	return limiter_auth_delay(guard_limiter(s), user,
	    srv->auth_fail_delay, srv->auth_fail_window, now);
}

void
guard_ok(struct sess *s)
{
	char	user[AUTH_MAX_USER * 2 + 2];

	OPENSSL_cleanse(s->pa->secret_digest, sizeof(s->pa->secret_digest));
	if (guard_user(s, user, sizeof(user)) == 0)
		limiter_auth_ok(guard_limiter(s), guard_ip(s), user);
}

void
guard_user_release(struct sess *s)
{
	if (s->limit_user == NULL)
		return;
	limiter_user_release(guard_limiter(s), s->limit_user);
	free(s->limit_user);
	s->limit_user = NULL;
}

void
guard_release(struct sess *s)
{
	guard_user_release(s);
	if (s->ip_counted) {
		limiter_ip_release(guard_limiter(s), guard_ip(s));
		s->ip_counted = 0;
	}
}
