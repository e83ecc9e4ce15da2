/*
 * User names: the canonical form shared by the ACL and routing, and
 * the globs of the user selector.
 */
#include <stdio.h>
#include <string.h>

#include "acl_int.h"

/*
 * Whether name matches pattern, where * stands for any run of bytes
 * (even none, even across "@") and ? for one byte.  Bytes compare
 * exactly: with username_case = lower both sides are lower case
 * already, with keep the operator asked for exact names.  On a
 * mismatch after a *, the * swallows one more byte and the rest is
 * tried again; only the last * needs retrying, so the cost stays
 * length(pattern) * length(name) at worst, both bounded by
 * AUTH_MAX_USER.
 */
int
acl_glob_match(const char *pattern, const char *name)
{
	const char	*p = pattern, *s = name;
	const char	*star = NULL, *resume = NULL;

	while (*s != '\0') {
		if (*p == '*') {
			star = ++p;
			resume = s;
		} else if (*p != '\0' && (*p == '?' || *p == *s)) {
			p++;
			s++;
		} else if (star != NULL) {
			p = star;
			s = ++resume;
		} else
			return (0);
	}
	while (*p == '*')
		p++;
	return (*p == '\0');
}

/*
 * Whether the canonical name matches a user pattern.  With a
 * default_domain every canonical name has an "@", so a pattern without
 * one means that domain's user: "mallory" is "mallory@default_domain".
 */
int
acl_user_match(const char *pattern, const char *name,
    const char *default_domain)
{
	char	local[AUTH_MAX_USER * 2 + 2];
	size_t	n, dl;

	if (default_domain == NULL || strchr(pattern, '@') != NULL)
		return (acl_glob_match(pattern, name));
	n = strlen(name);
	dl = strlen(default_domain);
	if (n <= dl + 1 || n - dl - 1 >= sizeof(local) ||
	    name[n - dl - 1] != '@' || strcmp(name + n - dl,
	    default_domain) != 0)
		return (0);
	memcpy(local, name, n - dl - 1);
	local[n - dl - 1] = '\0';
	return (acl_glob_match(pattern, local));
}

/*
 * The canonical user name (SPEC.md section 3) into out: user, ASCII
 * lower-cased when lower is set (non-ASCII bytes are left alone:
 * their case depends on an encoding we do not know), then
 * "@default_domain" when user has no "@" and default_domain is neither
 * NULL nor empty; the domain is lower-cased with the rest.  Returns 0,
 * or -1 when it does not fit outlen (out is then empty).
 */
int
acl_canon_user(const char *user, int lower, const char *default_domain,
    char *out, size_t outlen)
{
	size_t	i;
	int	n;

	if (outlen == 0)
		return (-1);
	if (strchr(user, '@') != NULL || default_domain == NULL ||
	    *default_domain == '\0')
		n = snprintf(out, outlen, "%s", user);
	else
		n = snprintf(out, outlen, "%s@%s", user, default_domain);
	if (n < 0 || (size_t)n >= outlen) {
		out[0] = '\0';
		return (-1);
	}
	for (i = 0; lower && out[i] != '\0'; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] - 'A' + 'a');
	return (0);
}
