/*
 * Access control glue: facts about the client for acl_eval(), the two
 * decision moments, and the log line and counter of every deny.
 */
#include <stdio.h>
#include <string.h>

#include "access.h"
#include "acl.h"
#include "conf.h"
#include "dns.h"
#include "geo.h"
#include "log.h"
#include "runtime.h"
#include "sess.h"
#include "worker.h"

/* The facts the rules see; user NULL before login. */
static void
access_client(const struct sess *s, struct acl_client *c, const char *user)
{
	memset(c, 0, sizeof(*c));
	(void)acl_client_addr(c, (const struct sockaddr *)&s->peer);
	c->domain = s->pa != NULL && s->pa->domain[0] != '\0' ?
	    s->pa->domain : NULL;
	c->country = s->country[0] != '\0' ? s->country : NULL;
	c->asn = s->pa != NULL ? s->pa->asn : 0;
	c->user = user;
}

/* Logs and counts a deny; rule NULL means the file's default. */
static void
access_log_deny(struct sess *s, const struct acl_rule *rule,
    const char *user, const char *when)
{
	struct runtime_server	*rs = s->srv;
	char			 safe[AUTH_MAX_USER * 4 + 1];

	if (user != NULL)
		log_escape(safe, sizeof(safe), user, strlen(user));
	if (rule != NULL) {
		atomic_fetch_add(&rs->acl_denies[acl_rule_index(rule)], 1);
		log_info("sess=%s client=%s%s%s denied %s by %s:%d: %s", s->id,
		    s->client, user != NULL ? " user=" : "",
		    user != NULL ? safe : "", when, acl_rule_file(rule),
		    acl_rule_line(rule), acl_rule_text(rule));
	} else {
		atomic_fetch_add(&rs->acl_default_denies, 1);
		log_info("sess=%s client=%s%s%s denied %s by %s: default deny",
		    s->id, s->client, user != NULL ? " user=" : "",
		    user != NULL ? safe : "", when, rs->conf->acl);
	}
}

int
access_refused_at_connect(struct sess *s)
{
	const struct acl_rule	*rule = NULL;
	struct acl_client	 c;

	if (s->srv->acl == NULL)
		return 0;
	access_client(s, &c, NULL);
	if (acl_eval(s->srv->acl, &c, &rule) != ACL_VERDICT_DENY)
		return 0;
	access_log_deny(s, rule, NULL, "at connect");
	return 1;
}

static void
access_dns_cb(void *arg, const char *name, const char *why)
{
	struct sess	*s = arg;

	s->dnsq = NULL;
	if (name != NULL) {
		snprintf(s->pa->domain, sizeof(s->pa->domain), "%s", name);
		log_debug("sess=%s client=%s reverse DNS: %s", s->id,
		    s->client, name);
	} else {
		log_warnx("sess=%s client=%s reverse DNS: %s", s->id,
		    s->client, why);
	}
	sess_start(s);
}

void
access_connect(struct sess *s)
{
	struct runtime_server	*rs = s->srv;
	struct runtime		*rt = s->rt;

	/* The country is shown on the stats socket, rules or not. */
	if (geo_has_country(rt->geo) ||
	    (rs->acl_needs & (ACL_NEEDS_COUNTRY | ACL_NEEDS_ASN)))
		(void)geo_lookup(rt->geo, (const struct sockaddr *)&s->peer,
		    s->country, &s->pa->asn);
	if (rs->acl == NULL) {
		sess_start(s);
		return;
	}
	if ((rs->acl_needs & ACL_NEEDS_DOMAIN) == 0 || s->w->dns == NULL) {
		sess_start(s);
		return;
	}
	/* A cached answer calls back before dns_lookup() returns. */
	s->dnsq = dns_lookup(s->w->dns, (const struct sockaddr *)&s->peer,
	    access_dns_cb, s);
}

/* Checks one canonical identity; -1 when denied (logged). */
static int
access_check_user(struct sess *s, const char *name)
{
	const struct conf_server	*srv = s->srv->conf;
	const struct acl_rule		*rule = NULL;
	struct acl_client		 c;
	char				 canon[AUTH_MAX_USER * 2 + 2];

	if (acl_canon_user(name, srv->username_case == CONF_USERNAME_LOWER,
	    srv->default_domain, canon, sizeof(canon)) == -1) {
		log_info("sess=%s client=%s login refused: user name too "
		    "long", s->id, s->client);
		return -1;
	}
	access_client(s, &c, canon);
	if (acl_eval(s->srv->acl, &c, &rule) != ACL_VERDICT_DENY)
		return 0;
	access_log_deny(s, rule, canon, "at login");
	return -1;
}

int
access_login(struct sess *s)
{
	const struct sasl_creds	*cr = &s->pa->creds;

	if (s->srv->acl == NULL)
		return 0;
	if (access_check_user(s, cr->user) == -1)
		return -1;
	if (cr->authzid[0] != '\0' && strcmp(cr->authzid, cr->user) != 0 &&
	    access_check_user(s, cr->authzid) == -1)
		return -1;
	return 0;
}

void
access_cancel(struct sess *s)
{
	dns_cancel(s->dnsq);
	s->dnsq = NULL;
}
