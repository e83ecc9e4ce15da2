/*
 * Access rules (SPEC.md section 4): parsing and evaluation.  Plain C
 * with no libev, sockets, globals or logging: the daemon supplies the
 * client's address, its forward-confirmed reverse name, its country and
 * ASN, and (once known) its canonical user name.
 */
#ifndef ACL_H
#define ACL_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

enum acl_action {
	ACL_ALLOW,
	ACL_DENY
};

enum acl_verdict {
	ACL_VERDICT_ALLOW,
	ACL_VERDICT_DENY,
	ACL_VERDICT_UNKNOWN	/* depends on the user, not known yet */
};

/* What a rule set needs from the daemon (acl_needs()). */
#define ACL_NEEDS_DOMAIN	0x01	/* reverse DNS, forward-confirmed */
#define ACL_NEEDS_COUNTRY	0x02	/* geoip_db with country data */
#define ACL_NEEDS_ASN		0x04	/* geoip_db with ASN data */
#define ACL_NEEDS_USER		0x08	/* some rule names a user */

/* acl_load() flags. */
#define ACL_LOAD_LOWER_USERS	0x01	/* username_case = lower */

struct acl;
struct acl_rule;

struct acl_client {
	int		 family;	/* AF_INET or AF_INET6 */
	unsigned char	 addr[16];	/* network order; 4 bytes for IPv4 */
	const char	*domain;	/* forward-confirmed name, or NULL */
	const char	*country;	/* ISO 3166 alpha-2, or NULL */
	uint32_t	 asn;		/* 0: unknown */
	const char	*user;		/* canonical; NULL: not known yet */
};

/*
 * Loads path and every file it includes (relative to the including
 * file), checks every line and compiles the rules.  Returns NULL with
 * every mistake as "FILE:LINE: what is wrong" lines in err; nothing is
 * half-loaded.
 */
struct acl	*acl_load(const char *path, int flags, char *err,
		    size_t errlen);
/* Frees *aclp (NULL is fine) and sets it to NULL. */
void		 acl_free(struct acl **aclp);
/*
 * default_domain (SPEC.md section 3): canonical names then always carry
 * an "@", so a user pattern without one means a user of that domain
 * ("user mallory" is mallory@default_domain).  NULL or "" clears it.
 * Returns 0, or -1 when out of memory.
 */
int		 acl_set_default_domain(struct acl *acl, const char *domain);
/* ACL_NEEDS_* bits of the rules in force. */
int		 acl_needs(const struct acl *acl);
size_t		 acl_nrules(const struct acl *acl);
enum acl_action	 acl_default(const struct acl *acl);

/*
 * Decides for client: the first rule that matches, else the default.
 * With client->user NULL the answer is ACL_VERDICT_UNKNOWN unless every
 * possible user gets the same outcome.  *rule_r is the deciding rule,
 * NULL when the default decided (or the verdict is unknown); rule_r
 * may be NULL.  acl is never modified: threads may share it.
 */
enum acl_verdict acl_eval(const struct acl *acl,
		    const struct acl_client *client,
		    const struct acl_rule **rule_r);
/* The same, rule by rule without the compiled index (for tests). */
enum acl_verdict acl_eval_naive(const struct acl *acl,
		    const struct acl_client *client,
		    const struct acl_rule **rule_r);

/* A rule's place and text ("deny ip 203.0.113.7"), for logs and stats. */
const char	*acl_rule_file(const struct acl_rule *rule);
int		 acl_rule_line(const struct acl_rule *rule);
const char	*acl_rule_text(const struct acl_rule *rule);
/* 0 .. acl_nrules() - 1, in file order: an index for counters. */
size_t		 acl_rule_index(const struct acl_rule *rule);
/* Rule i (0 .. acl_nrules() - 1) in file order, NULL past the end. */
const struct acl_rule *acl_rule_at(const struct acl *acl, size_t i);

/*
 * Fills client->family and client->addr from sa; an IPv4-mapped IPv6
 * address becomes IPv4.  Returns 0, or -1 for another family.
 */
int		 acl_client_addr(struct acl_client *client,
		    const struct sockaddr *sa);

/*
 * The canonical user name for ACL and routing (SPEC.md section 3):
 * lower-cased when lower is set, and "@default_domain" appended when
 * the name has no "@" and default_domain is not NULL.  Returns 0, or -1
 * when it does not fit outlen.
 */
int		 acl_canon_user(const char *user, int lower,
		    const char *default_domain, char *out, size_t outlen);

#endif
