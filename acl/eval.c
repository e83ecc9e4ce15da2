/*
 * Deciding for a client (SPEC.md section 4): first match wins, in three
 * truth values so that a connect-time decision, before the user is
 * known, is definite exactly when no user could change it.
 *
 * Both evaluators walk the same steps: a rule that is TRUE adds its
 * action to the possible outcomes and ends the walk, an UNKNOWN one
 * (it names the user, not known yet) adds its action and the walk goes
 * on, and running out of rules adds the default.  One possible outcome
 * is the verdict; two is ACL_VERDICT_UNKNOWN.  acl_eval() differs only
 * in asking an acl_netidx for the first matching rule of a run of
 * address rules, which are never UNKNOWN, so both give the same
 * verdict and rule by construction.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <string.h>

#include "acl_int.h"
#include "acl_netidx.h"

/* The client's address as rules see it: IPv4-mapped IPv6 is IPv4. */
struct acl_addr {
	int			 family;	/* AF_INET, AF_INET6 or 0 */
	const unsigned char	*a;
};

struct acl_walk {
	unsigned		 outcomes;	/* 1 << enum acl_action */
	const struct acl_rule	*rule;		/* the TRUE rule that ended */
};

static const unsigned char acl_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0xff, 0xff };

static void
acl_addr_of(const struct acl_client *c, struct acl_addr *ad)
{
	ad->family = 0;
	ad->a = c->addr;
	if (c->family == AF_INET)
		ad->family = AF_INET;
	else if (c->family == AF_INET6 &&
	    memcmp(c->addr, acl_mapped, sizeof(acl_mapped)) == 0) {
		/* The daemon converts; this is for callers that do not. */
		ad->family = AF_INET;
		ad->a = c->addr + 12;
	} else if (c->family == AF_INET6)
		ad->family = AF_INET6;
}

/*
 * Selectors.
 */

static int
acl_net_match(const struct acl_net *n, const struct acl_addr *ad)
{
	int	full = n->prefix / 8, rem = n->prefix % 8;

	if (ad->family != (n->v6 ? AF_INET6 : AF_INET))
		return (0);
	if (memcmp(n->addr, ad->a, full) != 0)
		return (0);
	return (rem == 0 ||
	    ((n->addr[full] ^ ad->a[full]) & (0xff00 >> rem) & 0xff) == 0);
}

/* ASCII only: names are host names, and the locale must not matter. */
static char
acl_tolower(char c)
{
	return (c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c);
}

static int
acl_caseeq(const char *a, const char *b, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (acl_tolower(a[i]) != acl_tolower(b[i]))
			return (0);
	return (1);
}

/*
 * pattern: a name, or ".suffix" for the names strictly below suffix.
 * name may end in a dot.
 */
static int
acl_domain_match(const char *pattern, const char *name)
{
	size_t	pl = strlen(pattern), n = strlen(name);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (pattern[0] == '.')
		return (n > pl && name[0] != '.' &&
		    acl_caseeq(name + n - pl, pattern, pl));
	return (n == pl && acl_caseeq(name, pattern, n));
}

/* Whether one value of s matches; the fact s needs is known. */
static int
acl_val_match(const struct acl *acl, const struct acl_sel *s,
    const struct acl_val *v, const struct acl_client *c,
    const struct acl_addr *ad)
{
	switch (s->kind) {
	case ACL_SEL_IP:
	case ACL_SEL_NET:
		return (acl_net_match(&v->u.net, ad));
	case ACL_SEL_DOMAIN:
		return (acl_domain_match(v->u.str, c->domain));
	case ACL_SEL_COUNTRY:
		return (strlen(c->country) == 2 &&
		    acl_caseeq(c->country, v->u.cc, 2));
	case ACL_SEL_ASN:
		return (c->asn == v->u.asn);
	case ACL_SEL_USER:
		return (acl_user_match(v->u.str, c->user,
		    acl->default_domain));
	default:
		return (1);
	}
}

/*
 * A selector's truth value.  Only a missing user is UNKNOWN: it comes
 * later.  A missing name, country or ASN will not come (the lookup
 * failed or the database has no answer), so those selectors are FALSE
 * and their negation TRUE.
 */
static enum acl_tv
acl_sel_tv(const struct acl *acl, const struct acl_sel *s,
    const struct acl_client *c, const struct acl_addr *ad)
{
	uint32_t	i;
	int		match = 0;

	if (s->kind == ACL_SEL_ANY)
		match = 1;
	else if (s->kind == ACL_SEL_USER && c->user == NULL)
		return (ACL_UNKNOWN);
	else if ((s->kind == ACL_SEL_DOMAIN && c->domain == NULL) ||
	    (s->kind == ACL_SEL_COUNTRY && c->country == NULL) ||
	    (s->kind == ACL_SEL_ASN && c->asn == 0))
		match = 0;
	else
		for (i = 0; i < s->nvals && !match; i++)
			match = acl_val_match(acl, s, &s->vals[i], c, ad);
	return (match != s->neg ? ACL_TRUE : ACL_FALSE);
}

/* A rule's truth value: the AND of its selectors in three values. */
static enum acl_tv
acl_rule_tv(const struct acl *acl, const struct acl_rule *r,
    const struct acl_client *c, const struct acl_addr *ad)
{
	enum acl_tv	tv = ACL_TRUE;
	uint16_t	i;

	for (i = 0; i < r->nsels; i++)
		switch (acl_sel_tv(acl, &r->sels[i], c, ad)) {
		case ACL_FALSE:
			return (ACL_FALSE);
		case ACL_UNKNOWN:
			tv = ACL_UNKNOWN;
			break;
		default:
			break;
		}
	return (tv);
}

/*
 * The walk.
 */

/*
 * Takes rule r of value tv into the walk.  Returns 1 when the walk is
 * over: a rule was TRUE, or both outcomes are already possible and
 * nothing further can narrow them.
 */
static int
acl_walk_step(struct acl_walk *wk, const struct acl_rule *r,
    enum acl_tv tv)
{
	if (tv == ACL_FALSE)
		return (0);
	wk->outcomes |= 1u << r->action;
	if (tv == ACL_TRUE) {
		wk->rule = r;
		return (1);
	}
	return (wk->outcomes == (1u << ACL_ALLOW | 1u << ACL_DENY));
}

static enum acl_verdict
acl_walk_end(const struct acl *acl, struct acl_walk *wk,
    const struct acl_rule **rule_r)
{
	enum acl_verdict	v = ACL_VERDICT_UNKNOWN;

	if (wk->rule == NULL)
		wk->outcomes |= 1u << acl->def;
	if (wk->outcomes == 1u << ACL_ALLOW)
		v = ACL_VERDICT_ALLOW;
	else if (wk->outcomes == 1u << ACL_DENY)
		v = ACL_VERDICT_DENY;
	if (rule_r != NULL)
		*rule_r = v == ACL_VERDICT_UNKNOWN ? NULL : wk->rule;
	return (v);
}

/* Walks rules first .. first + n - 1 one by one; 1 when it is over. */
static int
acl_walk_rules(struct acl_walk *wk, const struct acl *acl, size_t first,
    size_t n, const struct acl_client *c, const struct acl_addr *ad)
{
	size_t	i;

	for (i = first; i < first + n; i++)
		if (acl_walk_step(wk, &acl->rules[i],
		    acl_rule_tv(acl, &acl->rules[i], c, ad)))
			return (1);
	return (0);
}

/*
 * Decides for client with the compiled blocks: the first rule that is
 * TRUE, else the default, in three values (see the top of this file).
 * Returns the verdict; *rule_r (rule_r may be NULL) is the deciding
 * rule, NULL when the default decided or the verdict is unknown.  The
 * rule belongs to acl.
 */
enum acl_verdict
acl_eval(const struct acl *acl, const struct acl_client *client,
    const struct acl_rule **rule_r)
{
	struct acl_walk		 wk = { 0, NULL };
	struct acl_addr		 ad;
	const struct acl_block	*b;
	size_t			 i;
	int64_t			 r;

	acl_addr_of(client, &ad);
	for (i = 0; i < acl->nblocks; i++) {
		b = &acl->blocks[i];
		if (b->idx == NULL) {
			if (acl_walk_rules(&wk, acl, b->first, b->n, client,
			    &ad))
				break;
		} else if (ad.family != 0 &&
		    (r = acl_netidx_lookup(b->idx, ad.family, ad.a)) >= 0 &&
		    acl_walk_step(&wk, &acl->rules[r], ACL_TRUE))
			break;
	}
	return (acl_walk_end(acl, &wk, rule_r));
}

/*
 * The same as acl_eval(), rule by rule without the compiled index: the
 * reference the tests hold acl_eval() to.
 */
enum acl_verdict
acl_eval_naive(const struct acl *acl, const struct acl_client *client,
    const struct acl_rule **rule_r)
{
	struct acl_walk	wk = { 0, NULL };
	struct acl_addr	ad;

	acl_addr_of(client, &ad);
	(void)acl_walk_rules(&wk, acl, 0, acl->nrules, client, &ad);
	return (acl_walk_end(acl, &wk, rule_r));
}

/*
 * Fills client->family and client->addr from sa, an IPv4-mapped IPv6
 * address becoming IPv4 (SPEC.md section 4).  Leaves the other fields
 * alone.  Returns 0, or -1 for another family.
 */
int
acl_client_addr(struct acl_client *client, const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	memset(client->addr, 0, sizeof(client->addr));
	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)(const void *)sa;
		client->family = AF_INET;
		memcpy(client->addr, &sin->sin_addr, 4);
		return (0);
	}
	if (sa->sa_family != AF_INET6)
		return (-1);
	sin6 = (const struct sockaddr_in6 *)(const void *)sa;
	if (memcmp(sin6->sin6_addr.s6_addr, acl_mapped,
	    sizeof(acl_mapped)) == 0) {
		client->family = AF_INET;
		memcpy(client->addr, sin6->sin6_addr.s6_addr + 12, 4);
	} else {
		client->family = AF_INET6;
		memcpy(client->addr, sin6->sin6_addr.s6_addr, 16);
	}
	return (0);
}
