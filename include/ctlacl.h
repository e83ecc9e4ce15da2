/*
 * imapproxyctl's offline access-rule commands (SPEC.md section 6):
 * `acl check FILE` and `acl test SERVER IP [USER]` against a
 * configuration, doing the DNS and GeoIP lookups the rules need.
 */
#ifndef CTLACL_H
#define CTLACL_H

/* Validates one ACL file; prints FILE:LINE messages.  Returns 0 or 1. */
int	ctlacl_check(const char *path, int json);
/*
 * Prints the decision for a client of server at ip (and user, or NULL)
 * with the deciding rule.  Returns 0 when answered, 1 on an error.
 */
int	ctlacl_test(const char *conf_path, const char *server, const char *ip,
	    const char *user, int json);

#endif
