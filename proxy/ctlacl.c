/*
 * Offline ACL commands of imapproxyctl: the same loader, resolver and
 * GeoIP code as the daemon, so an answer here is the daemon's answer.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include <ev.h>

#include "acl.h"
#include "addr.h"
#include "bounds.h"
#include "conf.h"
#include "ctlacl.h"
#include "dns.h"
#include "geo.h"

/* Prints s as a JSON string (or null). */
static void
json_string(FILE *f, const char *s)
{
	const unsigned char	*p;

	if (s == NULL) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

int
ctlacl_check(const char *path, int json)
{
	static char	 err[CONF_MAX_ERRTEXT];
	struct acl	*acl;

	err[0] = '\0';
	if ((acl = acl_load(path, 0, err, sizeof(err))) == NULL) {
		if (json) {
			printf("{\"file\": ");
			json_string(stdout, path);
			printf(", \"ok\": false, \"errors\": ");
			json_string(stdout, err);
			printf("}\n");
		} else
			fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (json) {
		printf("{\"file\": ");
		json_string(stdout, path);
		printf(", \"ok\": true, \"rules\": %zu}\n", acl_nrules(acl));
	} else
		printf("%s: %zu rules, default %s: OK\n", path, acl_nrules(acl),
		    acl_default(acl) == ACL_ALLOW ? "allow" : "deny");
	acl_free(&acl);
	return 0;
}

struct ctlacl_facts {
	struct sockaddr_storage	 sa;
	char			 domain[256];
	char			 why[512];	/* DNS failure */
	char			 country[3];
	uint32_t		 asn;
	int			 dns_done;
};

static void
ctlacl_dns_cb(void *arg, const char *name, const char *why)
{
	struct ctlacl_facts	*f = arg;

	f->dns_done = 1;
	if (name != NULL)
		snprintf(f->domain, sizeof(f->domain), "%s", name);
	else
		snprintf(f->why, sizeof(f->why), "%s", why);
}

/* Runs a loop until the reverse-then-forward lookup has answered. */
static int
ctlacl_resolve(const struct conf *conf, struct ctlacl_facts *f)
{
	struct ev_loop	*loop = ev_default_loop(0);
	struct dns	*dns;
	char		 err[512];

	if ((dns = dns_new(loop, conf, err, sizeof(err))) == NULL) {
		fprintf(stderr, "imapproxyctl: DNS: %s\n", err);
		return -1;
	}
	if (dns_lookup(dns, (struct sockaddr *)&f->sa, ctlacl_dns_cb, f) !=
	    NULL)
		while (!f->dns_done)
			ev_run(loop, EVRUN_ONCE);
	dns_free(&dns);
	return 0;
}

static void
ctlacl_print(const char *server, const char *ip, const char *user,
    const struct ctlacl_facts *f, enum acl_verdict v,
    const struct acl_rule *rule, int json)
{
	static const char	*names[] = { "allow", "deny", "unknown" };
	char			 where[4096];

	if (rule != NULL)
		snprintf(where, sizeof(where), "%s:%d: %s", acl_rule_file(rule),
		    acl_rule_line(rule), acl_rule_text(rule));
	else
		snprintf(where, sizeof(where), "%s", v == ACL_VERDICT_UNKNOWN ?
		    "depends on the user" : "default");
	if (!json) {
		printf("%s\t%s\n", names[v], where);
		printf("server %s, client %s, user %s, domain %s, country %s, "
		    "asn ", server, ip, user != NULL ? user : "-",
		    f->domain[0] != '\0' ? f->domain : "-",
		    f->country[0] != '\0' ? f->country : "-");
		if (f->asn != 0)
			printf("%u\n", f->asn);
		else
			printf("-\n");
		if (f->why[0] != '\0')
			printf("reverse DNS: %s\n", f->why);
		return;
	}
	printf("{\"server\": ");
	json_string(stdout, server);
	printf(", \"client\": ");
	json_string(stdout, ip);
	printf(", \"user\": ");
	json_string(stdout, user);
	printf(", \"decision\": \"%s\", \"rule\": ", names[v]);
	json_string(stdout, v == ACL_VERDICT_UNKNOWN ? NULL : where);
	printf(", \"domain\": ");
	json_string(stdout, f->domain[0] != '\0' ? f->domain : NULL);
	printf(", \"country\": ");
	json_string(stdout, f->country[0] != '\0' ? f->country : NULL);
	printf(", \"asn\": ");
	if (f->asn != 0)
		printf("%u}\n", f->asn);
	else
		printf("null}\n");
}

static const struct conf_server *
ctlacl_server(const struct conf *conf, const char *name)
{
	size_t	i;

	for (i = 0; i < conf->nservers; i++)
		if (strcmp(conf->servers[i].name, name) == 0)
			return &conf->servers[i];
	return NULL;
}

/* Decides with the facts gathered; 0, or -1 after printing why not. */
static int
ctlacl_decide(const struct conf *conf, const struct conf_server *srv,
    struct acl *acl, const char *ip, const char *user,
    struct ctlacl_facts *f, int json)
{
	const struct acl_rule	*rule = NULL;
	struct acl_client	 c;
	char			 canon[AUTH_MAX_USER * 2 + 2];
	enum acl_verdict	 v;

	memset(&c, 0, sizeof(c));
	(void)acl_client_addr(&c, (struct sockaddr *)&f->sa);
	if (user != NULL && acl_canon_user(user, srv->username_case ==
	    CONF_USERNAME_LOWER, srv->default_domain, canon,
	    sizeof(canon)) == -1) {
		fprintf(stderr, "imapproxyctl: user name too long\n");
		return -1;
	}
	c.user = user != NULL ? canon : NULL;
	c.domain = f->domain[0] != '\0' ? f->domain : NULL;
	c.country = f->country[0] != '\0' ? f->country : NULL;
	c.asn = f->asn;
	v = acl_eval(acl, &c, &rule);
	ctlacl_print(srv->name, ip, c.user, f, v, rule, json);
	(void)conf;
	return 0;
}

int
ctlacl_test(const char *conf_path, const char *server, const char *ip,
    const char *user, int json)
{
	static char			 err[CONF_MAX_ERRTEXT];
	static struct ctlacl_facts	 f;
	const struct conf_server	*srv;
	struct conf			*conf;
	struct acl			*acl = NULL;
	struct geo			*geo = NULL;
	int				 rc = 1, needs;

	if ((conf = conf_load(conf_path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if ((srv = ctlacl_server(conf, server)) == NULL) {
		fprintf(stderr, "imapproxyctl: %s: no [server %s]\n", conf_path,
		    server);
		goto done;
	}
	if (addr_parse_ip(ip, &f.sa) == -1) {
		fprintf(stderr, "imapproxyctl: %s: not an IP address\n", ip);
		goto done;
	}
	if (srv->acl == NULL) {
		printf(json ? "{\"decision\": \"allow\", \"rule\": null}\n" :
		    "allow\tno acl for server %s\n", server);
		rc = 0;
		goto done;
	}
	if ((acl = acl_load(srv->acl, srv->username_case ==
	    CONF_USERNAME_LOWER ? ACL_LOAD_LOWER_USERS : 0, err,
	    sizeof(err))) == NULL || (geo = geo_open(conf, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		goto done;
	}
	if (acl_set_default_domain(acl, srv->default_domain) == -1) {
		fprintf(stderr, "imapproxyctl: out of memory\n");
		goto done;
	}
	needs = acl_needs(acl);
	if (needs & (ACL_NEEDS_COUNTRY | ACL_NEEDS_ASN))
		(void)geo_lookup(geo, (struct sockaddr *)&f.sa, f.country,
		    &f.asn);
	if ((needs & ACL_NEEDS_DOMAIN) && ctlacl_resolve(conf, &f) == -1)
		goto done;
	if (ctlacl_decide(conf, srv, acl, ip, user, &f, json) == 0)
		rc = 0;
done:
	acl_free(&acl);
	geo_free(&geo);
	conf_free(&conf);
	return rc;
}
