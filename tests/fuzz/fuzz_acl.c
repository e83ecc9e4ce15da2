/*
 * libFuzzer target: the ACL loader and evaluator (acl/, include/acl.h).
 *
 * The input is an ACL file.  acl_load() takes a path, so the input is
 * written to a file in a private temporary folder, next to fixtures it
 * may include: valid and broken files, an include cycle, a chain deeper
 * than ACL_MAX_DEPTH, a fan-out past ACL_MAX_FILES, a folder.  An
 * include line's "/" become "_" before the write, so includes resolve
 * in that folder only and never wander the real file system (acl_load()
 * only reads, but /proc or a large file would make runs slow and
 * irreproducible).  Checked when the file loads:
 * - the rule accessors agree (index, text, file, line);
 * - acl_eval() (compiled index) and acl_eval_naive() give the same
 *   verdict and rule, for fixed clients and for the addresses, users,
 *   domains, countries and ASNs the input names (and the addresses just
 *   inside and outside its networks), with and without default_domain;
 * - a verdict for an unknown user that is not ACL_VERDICT_UNKNOWN holds
 *   for every user; a known user never gets UNKNOWN; the deciding rule
 *   says allow or deny as the verdict does;
 * - an IPv4-mapped IPv6 client is the IPv4 one.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>

#include "acl.h"
#include "bounds.h"

#include "fuzz.h"

#define MAX_ADDRS	40
#define MAX_USERS	16
#define MAX_WORDS	8
#define USER_LEN	(AUTH_MAX_USER * 2 + 2)

struct addr {
	int		 family;
	unsigned char	 a[16];
};

struct facts {
	struct addr	 addrs[MAX_ADDRS];
	size_t		 naddrs;
	char		 users[MAX_USERS][USER_LEN];
	size_t		 nusers;
	char		 domains[MAX_WORDS][256];
	size_t		 ndomains;
	char		 countries[MAX_WORDS][3];
	size_t		 ncountries;
	uint32_t	 asns[MAX_WORDS];
	size_t		 nasns;
};

static char		 acl_path[512];
static char		*text;
static size_t		 textcap;
static struct facts	 facts;

static void
fixtures(void)
{
	char	name[64], line[64], buf[2048];
	size_t	i, n;

	fuzz_write_text("ok.acl", "default allow\nallow net 192.0.2.0/24\n"
	    "deny user mallory\ndeny ip 2001:db8::1\n");
	fuzz_write_text("bad.acl", "allow bogus 1\ndeny net 10.0.0.0/33\n");
	fuzz_write_text("empty.acl", "");
	fuzz_write_text("crlf.acl", "deny country KP\r\nallow any\r\n");
	fuzz_write_text("a.acl", "include b.acl\nallow ip 10.9.9.9\n");
	fuzz_write_text("b.acl", "include a.acl\n");
	fuzz_write_text("self.acl", "include fuzz.acl\n");
	/* deep0 includes deep1 ... deep19: deeper than ACL_MAX_DEPTH. */
	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "deep%zu.acl", i);
		if (i < 19)
			snprintf(line, sizeof(line), "include deep%zu.acl\n",
			    i + 1);
		else
			snprintf(line, sizeof(line), "deny ip 10.0.0.19\n");
		fuzz_write_text(name, line);
	}
	/* fan: 16 x ok; fan2: 16 x fan; fan3: 8 x fan2, past ACL_MAX_FILES. */
	buf[0] = '\0';
	for (i = 0, n = 0; i < 16; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		    "include ok.acl\n");
	fuzz_write_text("fan.acl", buf);
	for (i = 0, n = 0; i < 16; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		    "include fan.acl\n");
	fuzz_write_text("fan2.acl", buf);
	for (i = 0, n = 0; i < 8; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		    "include fan2.acl\n");
	fuzz_write_text("fan3.acl", buf);
	fuzz_path(buf, sizeof(buf), "dir.acl");
	if (mkdir(buf, 0700) == -1)
		FUZZ_FATAL("mkdir %s: %s", buf, strerror(errno));
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_tmpdir("fuzz_acl");
	fuzz_path(acl_path, sizeof(acl_path), "fuzz.acl");
	fixtures();
	return 0;
}

static int
is_blank(int c)
{
	return c == ' ' || c == '\t';
}

/*
 * Copies the input into text: on each line whose first word begins
 * with "include", "/" become "_", so the file named is in our folder.
 */
static size_t
confine_includes(const uint8_t *data, size_t size)
{
	size_t	i = 0, j, w;

	if (size + 1 > textcap) {
		free(text);
		textcap = size + 1;
		if ((text = malloc(textcap)) == NULL)
			FUZZ_FATAL("out of memory");
	}
	memcpy(text, data, size);
	text[size] = '\0';
	while (i < size) {
		for (j = i; j < size && is_blank(text[j]); j++)
			;
		w = j;
		for (; j < size && text[j] != '\n' && !is_blank(text[j]); j++)
			;
		if (j - w >= 7 && memcmp(text + w, "include", 7) == 0)
			for (; j < size && text[j] != '\n'; j++)
				if (text[j] == '/')
					text[j] = '_';
		while (j < size && text[j] != '\n')
			j++;
		i = j + 1;
	}
	return size;
}

static void
add_addr(int family, const unsigned char *a)
{
	struct addr	*x;

	if (facts.naddrs == MAX_ADDRS)
		return;
	x = &facts.addrs[facts.naddrs++];
	memset(x, 0, sizeof(*x));
	x->family = family;
	memcpy(x->a, a, family == AF_INET ? 4 : 16);
}

static void
add_text_addr(const char *s)
{
	unsigned char	a[16];

	if (inet_pton(AF_INET, s, a) == 1)
		add_addr(AF_INET, a);
	else if (inet_pton(AF_INET6, s, a) == 1)
		add_addr(AF_INET6, a);
}

/* An address or network: itself, its last address, the one outside it. */
static void
add_net(const char *v)
{
	char		 host[64];
	unsigned char	 a[16], b[16];
	const char	*slash = strchr(v, '/');
	size_t		 n = slash != NULL ? (size_t)(slash - v) : strlen(v);
	int		 family, bits, prefix, i;

	if (n >= sizeof(host))
		return;
	memcpy(host, v, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, a) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, host, a) == 1)
		family = AF_INET6;
	else
		return;
	bits = family == AF_INET ? 32 : 128;
	add_addr(family, a);
	if (slash == NULL || !isdigit((unsigned char)slash[1]) ||
	    strchr(slash + 1, '.') != NULL || strchr(slash + 1, ':') != NULL)
		return;
	prefix = atoi(slash + 1);
	if (prefix < 0 || prefix > bits)
		return;
	memcpy(b, a, sizeof(b));
	for (i = prefix; i < bits; i++)		/* the last address inside */
		b[i / 8] |= (unsigned char)(0x80 >> (i % 8));
	add_addr(family, b);
	if (prefix > 0) {			/* just outside */
		memcpy(b, a, sizeof(b));
		b[(prefix - 1) / 8] ^= (unsigned char)(0x80 >>
		    ((prefix - 1) % 8));
		add_addr(family, b);
	}
}

static void
add_user(const char *u)
{
	if (facts.nusers < MAX_USERS && strlen(u) < USER_LEN)
		snprintf(facts.users[facts.nusers++], USER_LEN, "%s", u);
}

/* A user selector's value: the pattern, and a name it should match. */
static void
add_user_value(const char *v)
{
	char	buf[USER_LEN];
	size_t	i, n = strlen(v);

	if (n + 2 >= sizeof(buf))
		return;
	add_user(v);
	for (i = 0; i <= n; i++)
		buf[i] = v[i] == '*' || v[i] == '?' ? 'x' : v[i];
	if (buf[0] == '@') {
		memmove(buf + 1, buf, n + 1);
		buf[0] = 'u';
	}
	if (strcmp(buf, v) != 0)
		add_user(buf);
}

static void
add_value(const char *sel, const char *v)
{
	unsigned long	asn;
	char		*end;

	if (strcmp(sel, "ip") == 0 || strcmp(sel, "net") == 0)
		add_net(v);
	else if (strcmp(sel, "user") == 0)
		add_user_value(v);
	else if (strcmp(sel, "domain") == 0 && facts.ndomains < MAX_WORDS &&
	    strlen(v) + 2 < sizeof(facts.domains[0]))
		snprintf(facts.domains[facts.ndomains++],
		    sizeof(facts.domains[0]), "%s%s", v[0] == '.' ? "h" : "",
		    v);
	else if (strcmp(sel, "country") == 0 && facts.ncountries < MAX_WORDS &&
	    strlen(v) == 2)
		snprintf(facts.countries[facts.ncountries++], 3, "%s", v);
	else if (strcmp(sel, "asn") == 0 && facts.nasns < MAX_WORDS) {
		asn = strtoul(v, &end, 10);
		if (*end == '\0' && asn <= UINT32_MAX)
			facts.asns[facts.nasns++] = (uint32_t)asn;
	}
}

/* The values the input's selectors name (text is NUL-terminated). */
static void
gather(char *t)
{
	static const char *const fixed[] = {
		"127.0.0.1", "10.1.2.3", "203.0.113.7", "192.0.2.5",
		"198.51.100.9", "0.0.0.0", "255.255.255.255", "10.9.9.9",
		"10.0.0.19", "2001:db8::1", "2001:db8:bad::5", "::1", "::",
	};
	static const char *const users[] = {
		"mallory", "svc-loader", "bob@partner.example",
		"alice@example.com", "MALLORY",
	};
	char	*line, *save, *tok, *tsave, *v, *vsave, sel[16];
	size_t	 i;

	memset(&facts, 0, sizeof(facts));
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		add_text_addr(fixed[i]);
	for (i = 0; i < sizeof(users) / sizeof(users[0]); i++)
		add_user(users[i]);
	snprintf(facts.domains[facts.ndomains++], 256,
	    "host.dialup.example.net");
	snprintf(facts.countries[facts.ncountries++], 3, "KP");
	facts.asns[facts.nasns++] = 64496;
	sel[0] = '\0';
	for (line = strtok_r(t, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		for (tok = strtok_r(line, " \t\r", &tsave); tok != NULL;
		    tok = strtok_r(NULL, " \t\r", &tsave)) {
			if (tok[0] == '!')
				tok++;
			if (strcmp(tok, "ip") == 0 || strcmp(tok, "net") == 0 ||
			    strcmp(tok, "user") == 0 ||
			    strcmp(tok, "domain") == 0 ||
			    strcmp(tok, "country") == 0 ||
			    strcmp(tok, "asn") == 0) {
				snprintf(sel, sizeof(sel), "%s", tok);
				continue;
			}
			if (sel[0] != '\0')
				for (v = strtok_r(tok, ",", &vsave); v != NULL;
				    v = strtok_r(NULL, ",", &vsave))
					add_value(sel, v);
			sel[0] = '\0';
		}
	}
}

static void
check_rules(const struct acl *acl)
{
	const struct acl_rule	*r;
	const char		*t;
	size_t			 i, n = acl_nrules(acl);

	for (i = 0; i < n; i++) {
		FUZZ_CHECK((r = acl_rule_at(acl, i)) != NULL);
		FUZZ_CHECK(acl_rule_index(r) == i);
		FUZZ_CHECK((t = acl_rule_text(r)) != NULL);
		FUZZ_CHECK(strncmp(t, "allow ", 6) == 0 ||
		    strncmp(t, "deny ", 5) == 0);
		FUZZ_CHECK(acl_rule_file(r) != NULL);
		FUZZ_CHECK(acl_rule_line(r) >= 1);
	}
	FUZZ_CHECK(acl_rule_at(acl, n) == NULL);
}

/* Evaluates c both ways; returns the verdict. */
static enum acl_verdict
eval(const struct acl *acl, const struct acl_client *c)
{
	const struct acl_rule	*r1 = (const void *)1, *r2 = (const void *)1;
	enum acl_verdict	 v1, v2;

	v1 = acl_eval(acl, c, &r1);
	v2 = acl_eval_naive(acl, c, &r2);
	if (v1 != v2 || r1 != r2) {
		fprintf(stderr, "acl_eval %d rule %s, acl_eval_naive %d rule "
		    "%s, for user %s\n", v1, r1 != NULL ? acl_rule_text(r1) :
		    "-", v2, r2 != NULL ? acl_rule_text(r2) : "-",
		    c->user != NULL ? c->user : "(unknown)");
		FUZZ_CHECK(!"acl_eval and acl_eval_naive differ");
	}
	FUZZ_CHECK(acl_eval(acl, c, NULL) == v1);
	if (c->user != NULL)
		FUZZ_CHECK(v1 != ACL_VERDICT_UNKNOWN);
	if (v1 == ACL_VERDICT_UNKNOWN)
		FUZZ_CHECK(r1 == NULL);
	else if (r1 != NULL)
		FUZZ_CHECK((v1 == ACL_VERDICT_ALLOW) ==
		    (strncmp(acl_rule_text(r1), "allow ", 6) == 0));
	else
		FUZZ_CHECK((v1 == ACL_VERDICT_ALLOW) ==
		    (acl_default(acl) == ACL_ALLOW));
	return v1;
}

static void
check_mapped(const struct addr *x)
{
	struct sockaddr_in6	 sin6;
	struct acl_client	 c;

	if (x->family != AF_INET)
		return;
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr.s6_addr[10] = 0xff;
	sin6.sin6_addr.s6_addr[11] = 0xff;
	memcpy(&sin6.sin6_addr.s6_addr[12], x->a, 4);
	memset(&c, 0, sizeof(c));
	FUZZ_CHECK(acl_client_addr(&c, (struct sockaddr *)&sin6) == 0);
	FUZZ_CHECK(c.family == AF_INET && memcmp(c.addr, x->a, 4) == 0);
}

static void
check_clients(const struct acl *acl, int lower, const char *dd,
    struct fuzz_rng *rng)
{
	struct acl_client	 c;
	enum acl_verdict	 unknown, v;
	char			 canon[USER_LEN];
	size_t			 i, j, k;

	for (i = 0; i < facts.naddrs; i++) {
		memset(&c, 0, sizeof(c));
		c.family = facts.addrs[i].family;
		memcpy(c.addr, facts.addrs[i].a, sizeof(c.addr));
		j = fuzz_rng_below(rng, facts.ndomains + 1);
		c.domain = j < facts.ndomains ? facts.domains[j] : NULL;
		j = fuzz_rng_below(rng, facts.ncountries + 1);
		c.country = j < facts.ncountries ? facts.countries[j] : NULL;
		j = fuzz_rng_below(rng, facts.nasns + 1);
		c.asn = j < facts.nasns ? facts.asns[j] : 0;
		check_mapped(&facts.addrs[i]);
		c.user = NULL;
		unknown = eval(acl, &c);
		/* Every user for the first addresses, a sample for the rest. */
		for (k = 0; k < facts.nusers; k++) {
			j = i < 4 || unknown != ACL_VERDICT_UNKNOWN ? k :
			    fuzz_rng_below(rng, facts.nusers);
			if (i >= 4 && k >= 4 && unknown == ACL_VERDICT_UNKNOWN)
				break;
			if (acl_canon_user(facts.users[j], lower, dd, canon,
			    sizeof(canon)) == -1)
				continue;
			c.user = canon;
			v = eval(acl, &c);
			/* Known at connect means the same for every user. */
			if (unknown != ACL_VERDICT_UNKNOWN && v != unknown) {
				fprintf(stderr, "verdict %d without a user, "
				    "%d for user %s\n", unknown, v, canon);
				FUZZ_CHECK(!"user changed a certain verdict");
			}
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_rng	 rng;
	struct acl	*acl;
	char		*err;
	size_t		 errlen, len;
	int		 flags;

	fuzz_rng_init(&rng, data, size);
	len = confine_includes(data, size);
	fuzz_write_file(acl_path, text, len);
	flags = size & 1 ? ACL_LOAD_LOWER_USERS : 0;
	errlen = fuzz_rng_below(&rng, 4) == 0 ? 1 + fuzz_rng_below(&rng, 200) :
	    ACL_MAX_MSG;
	if ((err = malloc(errlen)) == NULL)
		return 0;
	err[0] = '\0';
	acl = acl_load(acl_path, flags, err, errlen);
	FUZZ_CHECK(memchr(err, '\0', errlen) != NULL);
	if (acl == NULL) {
		FUZZ_CHECK(err[0] != '\0' || errlen == 1);
		free(err);
		return 0;
	}
	free(err);
	check_rules(acl);
	(void)acl_needs(acl);
	gather(text);
	check_clients(acl, flags != 0, NULL, &rng);
	FUZZ_CHECK(acl_set_default_domain(acl, "example.com") == 0);
	check_clients(acl, flags != 0, "example.com", &rng);
	FUZZ_CHECK(acl_set_default_domain(acl, NULL) == 0);
	acl_free(&acl);
	FUZZ_CHECK(acl == NULL);
	acl_free(&acl);
	return 0;
}
