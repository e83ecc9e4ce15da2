/*
 * One ACL line (SPEC.md section 4) into a struct acl_parsed: the
 * tokenizer and the parser of each selector.  Every mistake of the
 * line is reported, as "FILE:LINE: what is wrong", through acl_err();
 * reading files, includes and storing rules are acl.c's business.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl_int.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

#define SELECTORS	"ip, net, domain, country, asn, user or any"

/* RFC 1035 s.2.3.4: a name has at most 255 octets on the wire. */
#define DNS_MAX_NAME	253
#define DNS_MAX_LABEL	63

/* What a value parser needs besides the value. */
struct acl_pv {
	struct acl_parsed	*p;
	int			 flags;		/* acl_load()'s */
	const struct acl_where	*w;
	const char		*kw;		/* the selector as written */
};

typedef int	(*acl_value_fn)(const struct acl_pv *, char *,
		    struct acl_val *);

static int	acl_p_ip(const struct acl_pv *, char *, struct acl_val *);
static int	acl_p_net(const struct acl_pv *, char *, struct acl_val *);
static int	acl_p_domain(const struct acl_pv *, char *, struct acl_val *);
static int	acl_p_country(const struct acl_pv *, char *,
		    struct acl_val *);
static int	acl_p_asn(const struct acl_pv *, char *, struct acl_val *);
static int	acl_p_user(const struct acl_pv *, char *, struct acl_val *);

static const struct acl_selector {
	const char	*name;
	enum acl_kind	 kind;
	acl_value_fn	 parse;		/* NULL: takes no value */
	const char	*expect;	/* what the value should be */
} acl_selectors[] = {
	{ "ip", ACL_SEL_IP, acl_p_ip, "an IPv4 or IPv6 address" },
	{ "net", ACL_SEL_NET, acl_p_net, "ADDR/PREFIX or ADDR/MASK" },
	{ "domain", ACL_SEL_DOMAIN, acl_p_domain, "NAME or .SUFFIX" },
	{ "country", ACL_SEL_COUNTRY, acl_p_country,
	    "a two-letter ISO 3166-1 code" },
	{ "asn", ACL_SEL_ASN, acl_p_asn, "a number 1-4294967295" },
	{ "user", ACL_SEL_USER, acl_p_user, "a user name or pattern" },
	{ "any", ACL_SEL_ANY, NULL, NULL }
};

/*
 * Tokens.
 */

static int
acl_is_space(char c)
{
	return (c == ' ' || c == '\t');
}

/*
 * Splits line into p->tok in place, up to a "#" that starts a word (a
 * "#" inside a word, as in a user name, is part of it).  Control
 * characters before the comment are refused: they are invisible in an
 * editor, so the rule would not read as it matches.
 */
static int
acl_tokenize(struct acl_parsed *p, char *line, size_t len,
    const struct acl_where *w)
{
	size_t	i = 0;

	p->ntok = 0;
	if (len > 0 && line[len - 1] == '\r')	/* written on Windows */
		line[--len] = '\0';
	while (i < len) {
		while (i < len && acl_is_space(line[i]))
			i++;
		if (i == len || line[i] == '#')
			break;
		p->tok[p->ntok++] = line + i;
		for (; i < len && !acl_is_space(line[i]); i++)
			if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f) {
				acl_err(w, "control character 0x%02x, "
				    "expected printable text",
				    (unsigned char)line[i]);
				return (-1);
			}
		if (i < len)
			line[i++] = '\0';
	}
	return (0);
}

/* Joins tokens from .. ntok - 1 into p->value, with single spaces. */
static const char *
acl_rest(struct acl_parsed *p, size_t from)
{
	size_t	i, n = 0;

	p->value[0] = '\0';
	for (i = from; i < p->ntok; i++)
		n += snprintf(p->value + n, sizeof(p->value) - n, "%s%s",
		    i > from ? " " : "", p->tok[i]);
	return (p->value);
}

/* Appends s to the rule text; it fits, being no longer than the line. */
static void
acl_text_add(struct acl_parsed *p, const char *s)
{
	int	n;

	n = snprintf(p->text + p->textlen, sizeof(p->text) - p->textlen,
	    "%s%s", p->textlen > 0 ? " " : "", s);
	if (n > 0 && (size_t)n < sizeof(p->text) - p->textlen)
		p->textlen += n;
}

/*
 * Copies n bytes of s into p->strs, after prefix.  ACL_MAX_STRS leaves
 * room for every value of the longest line; the check is for safety.
 */
static char *
acl_str_add(struct acl_parsed *p, const struct acl_where *w,
    const char *prefix, const char *s, size_t n)
{
	size_t	pl = strlen(prefix);
	char	*d;

	if (p->nstrs + pl + n + 1 > sizeof(p->strs)) {
		acl_err(w, "too many values on one line");
		return (NULL);
	}
	d = p->strs + p->nstrs;
	memcpy(d, prefix, pl);
	memcpy(d + pl, s, n);
	d[pl + n] = '\0';
	p->nstrs += pl + n + 1;
	return (d);
}

static void
acl_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/*
 * Addresses.
 */

/* Whether a is in ::ffff:0:0/96, the IPv4-mapped IPv6 addresses. */
static int
acl_v4mapped(const unsigned char *a)
{
	static const unsigned char	pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0,
					    0, 0, 0xff, 0xff };

	return (memcmp(a, pfx, sizeof(pfx)) == 0);
}

/* Parses an address of either family into n (full length). */
static int
acl_addr(const char *s, struct acl_net *n)
{
	memset(n, 0, sizeof(*n));
	if (inet_pton(AF_INET, s, n->addr) == 1) {
		n->prefix = 32;
		return (0);
	}
	if (inet_pton(AF_INET6, s, n->addr) == 1) {
		n->v6 = 1;
		n->prefix = 128;
		return (0);
	}
	return (-1);
}

/* The prefix length of a contiguous mask of len bytes, or -1. */
static int
acl_mask_prefix(const unsigned char *m, size_t len)
{
	size_t	i;
	int	bit, prefix = 0, ended = 0;

	for (i = 0; i < len; i++)
		for (bit = 7; bit >= 0; bit--) {
			if (m[i] & (1 << bit)) {
				if (ended)
					return (-1);
				prefix++;
			} else
				ended = 1;
		}
	return (prefix);
}

/* Clears the host bits of n->addr past n->prefix. */
static void
acl_net_clear(struct acl_net *n)
{
	int	i, len = n->v6 ? 16 : 4;

	for (i = 0; i < len; i++) {
		if (n->prefix >= (i + 1) * 8)
			continue;
		if (n->prefix <= i * 8)
			n->addr[i] = 0;
		else
			n->addr[i] &= (unsigned char)(0xff <<
			    (8 - (n->prefix - i * 8)));
	}
}

static int
acl_p_ip(const struct acl_pv *pv, char *s, struct acl_val *v)
{
	const struct acl_where	*w = pv->w;
	const char		*kw = pv->kw;
	char			 a[INET_ADDRSTRLEN];

	if (strchr(s, '/') != NULL) {
		acl_err(w, "%s %s: a network goes in net, as in net %s", kw, s,
		    s);
		return (-1);
	}
	if (acl_addr(s, &v->u.net) == -1) {
		acl_err(w, "%s %s: expected an IPv4 or IPv6 address", kw, s);
		return (-1);
	}
	if (v->u.net.v6 && acl_v4mapped(v->u.net.addr)) {
		(void)inet_ntop(AF_INET, v->u.net.addr + 12, a, sizeof(a));
		acl_err(w, "%s %s: IPv4-mapped address, such clients are "
		    "matched as IPv4: write %s %s", kw, s, kw, a);
		return (-1);
	}
	return (0);
}

/* Parses the part after "/" of net s: a prefix length or a mask. */
static int
acl_net_prefix(const struct acl_pv *pv, const char *s, const char *m,
    struct acl_net *n)
{
	const struct acl_where	*w = pv->w;
	const char		*kw = pv->kw;
	unsigned char		 mask[16];
	int			 bits = n->v6 ? 128 : 32, prefix;
	size_t			 len = strlen(m);

	if (len > 0 && len <= 3 && strspn(m, "0123456789") == len) {
		if ((prefix = atoi(m)) <= bits) {
			n->prefix = (uint8_t)prefix;
			return (0);
		}
		acl_err(w, "%s %s: prefix length must be 0-%d", kw, s, bits);
		return (-1);
	}
	if (inet_pton(n->v6 ? AF_INET6 : AF_INET, m, mask) != 1) {
		acl_err(w, "%s %s: expected a prefix length 0-%d or %s after "
		    "/", kw, s, bits, n->v6 ? "an IPv6 mask such as ffff::" :
		    "a mask such as 255.255.255.0");
		return (-1);
	}
	if ((prefix = acl_mask_prefix(mask, bits / 8)) == -1) {
		acl_err(w, "%s %s: mask is not contiguous, expected ones then "
		    "zeros such as %s", kw, s, n->v6 ? "ffff:ffff::" :
		    "255.255.240.0");
		return (-1);
	}
	n->prefix = (uint8_t)prefix;
	return (0);
}

/*
 * A net must be written as its network address: host bits set are
 * most often a typo in the prefix (10.1.0.0/8 meant as /16), so we
 * refuse them and show the network that would be used.
 */
static int
acl_p_net(const struct acl_pv *pv, char *s, struct acl_val *v)
{
	const struct acl_where	*w = pv->w;
	const char		*kw = pv->kw;
	struct acl_net		*n = &v->u.net;
	char			*slash, a[INET6_ADDRSTRLEN];
	unsigned char		 orig[16];

	if ((slash = strchr(s, '/')) == NULL) {
		if (acl_addr(s, n) == 0)
			acl_err(w, "%s %s: expected ADDR/PREFIX or ADDR/MASK; "
			    "for one address, use ip %s", kw, s, s);
		else
			acl_err(w, "%s %s: expected ADDR/PREFIX or ADDR/MASK, "
			    "as in 10.0.0.0/8 or 10.0.0.0/255.0.0.0", kw, s);
		return (-1);
	}
	*slash = '\0';
	if (acl_addr(s, n) == -1) {
		*slash = '/';
		acl_err(w, "%s %s: expected ADDR/PREFIX or ADDR/MASK with an "
		    "IPv4 or IPv6 address", kw, s);
		return (-1);
	}
	*slash = '/';
	if (acl_net_prefix(pv, s, slash + 1, n) == -1)
		return (-1);
	memcpy(orig, n->addr, sizeof(orig));
	acl_net_clear(n);
	if (memcmp(orig, n->addr, sizeof(orig)) != 0) {
		(void)inet_ntop(n->v6 ? AF_INET6 : AF_INET, n->addr, a,
		    sizeof(a));
		acl_err(w, "%s %s: host bits set, did you mean %s/%s?", kw, s,
		    a, slash + 1);
		return (-1);
	}
	if (n->v6 && n->prefix >= 96 && acl_v4mapped(n->addr)) {
		(void)inet_ntop(AF_INET, n->addr + 12, a, sizeof(a));
		acl_err(w, "%s %s: IPv4-mapped network, such clients are "
		    "matched as IPv4: write %s %s/%d", kw, s, kw, a,
		    n->prefix - 96);
		return (-1);
	}
	return (0);
}

/*
 * Names.
 */

/* Checks the labels of name (n bytes): RFC 1123 s.2.1 host names. */
static int
acl_hostname(const char *name, size_t n)
{
	size_t	i, start = 0;
	int	digits = 1;

	for (i = 0; i <= n; i++) {
		if (i == n || name[i] == '.') {
			if (i == start || i - start > DNS_MAX_LABEL ||
			    name[start] == '-' || name[i - 1] == '-')
				return (-1);
			start = i + 1;
			if (i < n)
				digits = 1;
			continue;
		}
		if (!(name[i] >= 'a' && name[i] <= 'z') &&
		    !(name[i] >= 'A' && name[i] <= 'Z') &&
		    !(name[i] >= '0' && name[i] <= '9') && name[i] != '-')
			return (-1);
		if (name[i] < '0' || name[i] > '9')
			digits = 0;
	}
	/* RFC 3696 s.2: a top-level label is never all digits. */
	return (digits ? -2 : 0);
}

static int
acl_p_domain(const struct acl_pv *pv, char *s, struct acl_val *v)
{
	const struct acl_where	*w = pv->w;
	const char		*kw = pv->kw;
	const char		*name = s + (s[0] == '.');
	size_t			 n = strlen(name);
	char			*d;
	int			 r;

	if (n > 0 && name[n - 1] == '.')	/* absolute: same name */
		n--;
	if (n > DNS_MAX_NAME) {
		acl_err(w, "%s %s: longer than %d characters", kw, s,
		    DNS_MAX_NAME);
		return (-1);
	}
	if (n == 0 || (r = acl_hostname(name, n)) == -1) {
		acl_err(w, "%s %s: expected a host name such as "
		    "mail.example.org, or .example.org for every name below "
		    "it (labels of 1-%d letters, digits or inner '-')", kw, s,
		    DNS_MAX_LABEL);
		return (-1);
	}
	if (r == -2) {
		acl_err(w, "%s %s: not a host name, whose last label has "
		    "letters; for an address, use ip or net", kw, s);
		return (-1);
	}
	d = acl_str_add(pv->p, w, s[0] == '.' ? "." : "", name, n);
	if (d == NULL)
		return (-1);
	acl_lower(d);
	v->u.str = d;
	return (0);
}

static int
acl_p_country(const struct acl_pv *pv, char *s, struct acl_val *v)
{
	const struct acl_where	*w = pv->w;
	const char		*kw = pv->kw;
	const char		*hint;
	char			 cc[3];
	int			 i;

	for (i = 0; i < 2; i++) {
		if (!(s[i] >= 'a' && s[i] <= 'z') &&
		    !(s[i] >= 'A' && s[i] <= 'Z'))
			break;
		cc[i] = (char)(s[i] >= 'a' ? s[i] - 'a' + 'A' : s[i]);
	}
	if (i < 2 || s[2] != '\0') {
		acl_err(w, "%s %s: expected a two-letter ISO 3166-1 code such "
		    "as DE", kw, s);
		return (-1);
	}
	cc[2] = '\0';
	if (!acl_country_valid(cc)) {
		hint = acl_country_hint(cc);
		acl_err(w, "%s %s: not an assigned ISO 3166-1 alpha-2 "
		    "code%s%s%s", kw, s, hint != NULL ? ", did you mean " : "",
		    hint != NULL ? hint : "", hint != NULL ? "?" : "");
		return (-1);
	}
	memcpy(v->u.cc, cc, 2);
	return (0);
}

static int
acl_p_asn(const struct acl_pv *pv, char *s, struct acl_val *v)
{
	const struct acl_where	*w = pv->w;
	const char		*kw = pv->kw, *d = s;
	unsigned long long	 n;
	size_t			 len;

	if ((d[0] == 'A' || d[0] == 'a') && (d[1] == 'S' || d[1] == 's'))
		d += 2;
	len = strlen(d);
	/* Ten digits at most: strtoull() cannot overflow then. */
	if (len == 0 || len > 10 || strspn(d, "0123456789") != len ||
	    (n = strtoull(d, NULL, 10)) < 1 || n > UINT32_MAX) {
		acl_err(w, "%s %s: expected a number 1-4294967295, alone or "
		    "after AS (AS64496)", kw, s);
		return (-1);
	}
	v->u.asn = (uint32_t)n;
	return (0);
}

/*
 * A pattern is matched against the canonical name, "@" and all; the
 * checks catch what would silently never match the intended users.
 */
static int
acl_p_user(const struct acl_pv *pv, char *s, struct acl_val *v)
{
	const struct acl_where	*w = pv->w;
	const char		*kw = pv->kw, *at = strchr(s, '@');
	char			*d;
	size_t			 n = strlen(s);

	if (n >= AUTH_MAX_USER) {
		acl_err(w, "%s %s: longer than %d characters, the longest "
		    "user name accepted", kw, s, AUTH_MAX_USER - 1);
		return (-1);
	}
	if (strpbrk(s, "[]") != NULL) {
		acl_err(w, "%s %s: [ ] classes are not supported, the "
		    "wildcards are * and ?", kw, s);
		return (-1);
	}
	if (at != NULL && strchr(at + 1, '@') != NULL) {
		acl_err(w, "%s %s: more than one @, expected NAME, NAME@DOMAIN "
		    "or @DOMAIN", kw, s);
		return (-1);
	}
	if (at != NULL && at[1] == '\0') {
		acl_err(w, "%s %s: expected a domain after @", kw, s);
		return (-1);
	}
	/* "@example.org" is every user of example.org. */
	if ((d = acl_str_add(pv->p, w, s[0] == '@' ? "*" : "", s, n)) == NULL)
		return (-1);
	if (pv->flags & ACL_LOAD_LOWER_USERS)
		acl_lower(d);
	v->u.str = d;
	return (0);
}

/*
 * Rules.
 */

static const struct acl_selector *
acl_selector_find(const char *name)
{
	size_t	i;

	for (i = 0; i < nitems(acl_selectors); i++)
		if (strcmp(name, acl_selectors[i].name) == 0)
			return (&acl_selectors[i]);
	return (NULL);
}

/* Whether word is a selector keyword, negated or not. */
static int
acl_is_selector(const char *word)
{
	return (acl_selector_find(word + (word[0] == '!')) != NULL);
}

/*
 * The value of the selector at tok[*i - 1] into p->value.  "RU, KP"
 * is taken as "RU,KP": a word ending in "," goes on in the next one
 * unless that one is a selector.  Returns NULL when the value is
 * missing.  A value looking like a selector counts as missing, except
 * for user: a user may well be called "any".
 */
static const char *
acl_value(struct acl_parsed *p, const struct acl_selector *sel, size_t *i)
{
	size_t	n;

	if (*i >= p->ntok ||
	    (sel->kind != ACL_SEL_USER && acl_is_selector(p->tok[*i])))
		return (NULL);
	n = snprintf(p->value, sizeof(p->value), "%s", p->tok[(*i)++]);
	while (n > 0 && p->value[n - 1] == ',' && *i < p->ntok &&
	    !acl_is_selector(p->tok[*i]))
		n += snprintf(p->value + n, sizeof(p->value) - n, "%s",
		    p->tok[(*i)++]);
	return (p->value);
}

/* Parses the comma alternatives of value into p->vals. */
static int
acl_alternatives(const struct acl_pv *pv, const struct acl_selector *sel,
    char *value)
{
	struct acl_parsed	*p = pv->p;
	char			*alt, *next;
	int			 rc = 0;

	for (alt = value; alt != NULL; alt = next) {
		if ((next = strchr(alt, ',')) != NULL)
			*next++ = '\0';
		if (*alt == '\0') {
			rc = -1;
			continue;
		}
		memset(&p->vals[p->nvals], 0, sizeof(p->vals[0]));
		if (sel->parse(pv, alt, &p->vals[p->nvals]) == 0)
			p->nvals++;
		else
			rc = -1;
	}
	return (rc);
}

/*
 * Parses the values of selector sel (written kw) into a new entry of
 * p->sels and adds it to the text.  An empty alternative is reported
 * once for the whole value, shown as written.
 */
static int
acl_selector_values(struct acl_parsed *p, int flags,
    const struct acl_where *w, const struct acl_selector *sel,
    const char *kw, size_t *i)
{
	struct acl_sel	*s = &p->sels[p->nsels];
	struct acl_pv	 pv = { p, flags, w, kw };
	const char	*value;
	char		 shown[ACL_MAX_LINE + 1];
	size_t		 n;

	s->kind = sel->kind;
	s->neg = kw[0] == '!';
	s->vals = NULL;
	p->first[p->nsels] = p->nvals;
	if (sel->parse != NULL) {
		if ((value = acl_value(p, sel, i)) == NULL) {
			acl_err(w, "%s: missing value, expected %s", kw,
			    sel->expect);
			return (-1);
		}
		n = strlen(value);
		memcpy(shown, value, n + 1);
		if (value[0] == ',' || value[n - 1] == ',' ||
		    strstr(value, ",,") != NULL) {
			acl_err(w, "%s %s: empty alternative, expected values "
			    "separated by single commas", kw, shown);
			(void)acl_alternatives(&pv, sel, p->value);
			return (-1);
		}
		if (acl_alternatives(&pv, sel, p->value) == -1)
			return (-1);
	}
	s->nvals = (uint32_t)(p->nvals - p->first[p->nsels]);
	p->nsels++;
	acl_text_add(p, kw);
	if (sel->parse != NULL)
		acl_text_add(p, shown);
	return (0);
}

/*
 * Parses the selector at tok[*i] and its value, moving *i past them.
 * After an unknown word, the words up to the next selector are skipped:
 * they are most likely its value, and one mistake is one message.
 */
static int
acl_selector(struct acl_parsed *p, int flags, const struct acl_where *w,
    size_t *i)
{
	const struct acl_selector	*sel;
	const char			*kw = p->tok[(*i)++];

	if (strcmp(kw, "!") == 0) {
		acl_err(w, "lone \"!\": write it against the selector it "
		    "negates, as in !net 10.0.0.0/8");
		return (-1);
	}
	if ((sel = acl_selector_find(kw + (kw[0] == '!'))) == NULL) {
		acl_err(w, "unknown selector \"%s\", expected " SELECTORS
		    ", each may have ! before it", kw);
		while (*i < p->ntok && !acl_is_selector(p->tok[*i]))
			(*i)++;
		return (-1);
	}
	if (p->nsels == ACL_MAX_SELECTORS) {
		acl_err(w, "more than %d selectors in one rule",
		    ACL_MAX_SELECTORS);
		*i = p->ntok;
		return (-1);
	}
	return (acl_selector_values(p, flags, w, sel, kw, i));
}

static int
acl_parse_rule(struct acl_parsed *p, int flags, const struct acl_where *w)
{
	size_t	i = 1;
	int	rc = 0;

	p->stmt = ACL_STMT_RULE;
	p->action = strcmp(p->tok[0], "allow") == 0 ? ACL_ALLOW : ACL_DENY;
	acl_text_add(p, p->tok[0]);
	if (p->ntok == 1) {
		acl_err(w, "%s: expected at least one selector: " SELECTORS,
		    p->tok[0]);
		return (-1);
	}
	while (i < p->ntok)
		if (acl_selector(p, flags, w, &i) == -1)
			rc = -1;
	return (rc);
}

static int
acl_parse_default(struct acl_parsed *p, const struct acl_where *w)
{
	p->stmt = ACL_STMT_DEFAULT;
	if (p->ntok == 2 && strcmp(p->tok[1], "allow") == 0)
		p->action = ACL_ALLOW;
	else if (p->ntok == 2 && strcmp(p->tok[1], "deny") == 0)
		p->action = ACL_DENY;
	else if (p->ntok == 1) {
		acl_err(w, "default: expected allow or deny");
		return (-1);
	} else {
		acl_err(w, "default: expected allow or deny, got \"%s\"",
		    acl_rest(p, 1));
		return (-1);
	}
	return (0);
}

static int
acl_parse_include(struct acl_parsed *p, const struct acl_where *w)
{
	p->stmt = ACL_STMT_INCLUDE;
	if (p->ntok == 1) {
		acl_err(w, "include: expected a file name");
		return (-1);
	}
	if (p->ntok > 2) {
		acl_err(w, "include: expected one file name, got \"%s\"",
		    acl_rest(p, 1));
		return (-1);
	}
	p->arg = p->tok[1];
	return (0);
}

/*
 * Parses line (len bytes, NUL-terminated, modified in place) into p.
 * flags are acl_load()'s.  Returns 0, or -1 after reporting every
 * mistake of the line through w.
 */
int
acl_parse_line(struct acl_parsed *p, char *line, size_t len, int flags,
    const struct acl_where *w)
{
	p->stmt = ACL_STMT_NONE;
	p->nsels = p->nvals = p->nstrs = p->textlen = 0;
	p->text[0] = '\0';
	p->arg = NULL;
	if (acl_tokenize(p, line, len, w) == -1)
		return (-1);
	if (p->ntok == 0)
		return (0);
	if (strcmp(p->tok[0], "allow") == 0 || strcmp(p->tok[0], "deny") == 0)
		return (acl_parse_rule(p, flags, w));
	if (strcmp(p->tok[0], "default") == 0)
		return (acl_parse_default(p, w));
	if (strcmp(p->tok[0], "include") == 0)
		return (acl_parse_include(p, w));
	acl_err(w, "unknown keyword \"%s\", expected allow, deny, default or "
	    "include", p->tok[0]);
	return (-1);
}
