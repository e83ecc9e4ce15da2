/*
 * acl: tables of bad files with their exact messages, good files,
 * evaluation tables (three-valued cases, negation, masks, IPv6, mapped
 * addresses, globs, domains, includes) and a property test holding
 * acl_eval() to acl_eval_naive() on random rule files and clients.
 * Files are written into a temporary folder, the working directory.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "acl.h"
#include "bounds.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* The verdicts in short, for the tables. */
#define A	ACL_VERDICT_ALLOW
#define D	ACL_VERDICT_DENY
#define U	ACL_VERDICT_UNKNOWN

static char	 tmpdir[PATH_MAX];
static char	 olddir[PATH_MAX];
static char	 errbuf[65536];

/* Writes len bytes of text to the file name, making its folder. */
static void
put_len(const char *name, const char *text, size_t len)
{
	char	 dir[PATH_MAX], *slash;
	FILE	*f;

	(void)snprintf(dir, sizeof(dir), "%s", name);
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		(void)mkdir(dir, 0755);
	}
	assert_non_null(f = fopen(name, "w"));
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void
put(const char *name, const char *text)
{
	put_len(name, text, strlen(text));
}

static struct acl *
load_flags(const char *text, int flags)
{
	put("x.acl", text);
	return (acl_load("x.acl", flags, errbuf, sizeof(errbuf)));
}

/* Loads a file that must be good and shows why when it is not. */
static struct acl *
load_good(const char *text, int flags)
{
	struct acl	*acl;

	if ((acl = load_flags(text, flags)) == NULL)
		fail_msg("unexpected errors:\n%s", errbuf);
	assert_string_equal(errbuf, "");
	return (acl);
}

/*
 * Bad files.
 */

struct bad_case {
	const char	*text;			/* x.acl */
	const char	*files[2][2];		/* more files: name, text */
	const char	*err;
};

static const struct bad_case bad[] = {
	/* Lines. */
	{ "permit any\n", { { NULL } }, "x.acl:1: unknown keyword "
	    "\"permit\", expected allow, deny, default or include" },
	{ "Allow any\n", { { NULL } }, "x.acl:1: unknown keyword \"Allow\", "
	    "expected allow, deny, default or include" },
	{ "# ok\n\n  deny\n", { { NULL } }, "x.acl:3: deny: expected at "
	    "least one selector: ip, net, domain, country, asn, user or any" },
	{ "allow # nothing\n", { { NULL } }, "x.acl:1: allow: expected at "
	    "least one selector: ip, net, domain, country, asn, user or any" },
	{ "deny from 192.0.2.1 ip 192.0.2.2\n", { { NULL } }, "x.acl:1: "
	    "unknown selector \"from\", expected ip, net, domain, country, "
	    "asn, user or any, each may have ! before it" },
	{ "allow any#x\n", { { NULL } }, "x.acl:1: unknown selector "
	    "\"any#x\", expected ip, net, domain, country, asn, user or any, "
	    "each may have ! before it" },
	{ "deny ! net 10.0.0.0/8\n", { { NULL } }, "x.acl:1: lone \"!\": "
	    "write it against the selector it negates, as in !net "
	    "10.0.0.0/8" },
	{ "deny !nett 10.0.0.0/8\n", { { NULL } }, "x.acl:1: unknown "
	    "selector \"!nett\", expected ip, net, domain, country, asn, user "
	    "or any, each may have ! before it" },
	{ "deny\tany\x01\n", { { NULL } }, "x.acl:1: control character 0x01, "
	    "expected printable text" },

	/* Missing and empty values. */
	{ "deny ip\n", { { NULL } }, "x.acl:1: ip: missing value, expected "
	    "an IPv4 or IPv6 address" },
	{ "deny ip net 10.0.0.0/8\n", { { NULL } }, "x.acl:1: ip: missing "
	    "value, expected an IPv4 or IPv6 address" },
	{ "deny !user\n", { { NULL } }, "x.acl:1: !user: missing value, "
	    "expected a user name or pattern" },
	{ "deny country RU,,KP\n", { { NULL } }, "x.acl:1: country RU,,KP: "
	    "empty alternative, expected values separated by single commas" },
	{ "deny country RU, !net 10.0.0.0/8\n", { { NULL } }, "x.acl:1: "
	    "country RU,: empty alternative, expected values separated by "
	    "single commas" },
	{ "deny country ,XX\n", { { NULL } }, "x.acl:1: country ,XX: empty "
	    "alternative, expected values separated by single commas\n"
	    "x.acl:1: country XX: not an assigned ISO 3166-1 alpha-2 code" },

	/* ip */
	{ "deny ip 192.0.2\n", { { NULL } }, "x.acl:1: ip 192.0.2: expected "
	    "an IPv4 or IPv6 address" },
	{ "deny ip 192.0.2.01\n", { { NULL } }, "x.acl:1: ip 192.0.2.01: "
	    "expected an IPv4 or IPv6 address" },
	{ "deny ip 10.0.0.0/8\n", { { NULL } }, "x.acl:1: ip 10.0.0.0/8: a "
	    "network goes in net, as in net 10.0.0.0/8" },
	{ "deny ip fe80::1%eth0\n", { { NULL } }, "x.acl:1: ip fe80::1%eth0: "
	    "expected an IPv4 or IPv6 address" },
	{ "deny ip ::ffff:192.0.2.1\n", { { NULL } }, "x.acl:1: ip "
	    "::ffff:192.0.2.1: IPv4-mapped address, such clients are matched "
	    "as IPv4: write ip 192.0.2.1" },

	/* net */
	{ "allow net 10.0.0.0/33\n", { { NULL } },
	    "x.acl:1: net 10.0.0.0/33: prefix length must be 0-32" },
	{ "allow net 2001:db8::/129\n", { { NULL } },
	    "x.acl:1: net 2001:db8::/129: prefix length must be 0-128" },
	{ "allow net 10.1.0.0/8\n", { { NULL } }, "x.acl:1: net 10.1.0.0/8: "
	    "host bits set, did you mean 10.0.0.0/8?" },
	{ "allow net 192.168.5.1/255.255.255.0\n", { { NULL } }, "x.acl:1: "
	    "net 192.168.5.1/255.255.255.0: host bits set, did you mean "
	    "192.168.5.0/255.255.255.0?" },
	{ "allow net 2001:db8::1/32\n", { { NULL } }, "x.acl:1: net "
	    "2001:db8::1/32: host bits set, did you mean 2001:db8::/32?" },
	{ "allow net 10.0.0.0/255.0.255.0\n", { { NULL } }, "x.acl:1: net "
	    "10.0.0.0/255.0.255.0: mask is not contiguous, expected ones then "
	    "zeros such as 255.255.240.0" },
	{ "allow net 2001:db8::/ffff:0:ffff::\n", { { NULL } }, "x.acl:1: net "
	    "2001:db8::/ffff:0:ffff::: mask is not contiguous, expected ones "
	    "then zeros such as ffff:ffff::" },
	{ "allow net 10.0.0.0/ffff::\n", { { NULL } }, "x.acl:1: net "
	    "10.0.0.0/ffff::: expected a prefix length 0-32 or a mask such as "
	    "255.255.255.0 after /" },
	{ "allow net 10.0.0.0/\n", { { NULL } }, "x.acl:1: net 10.0.0.0/: "
	    "expected a prefix length 0-32 or a mask such as 255.255.255.0 "
	    "after /" },
	{ "allow net 10.0.0.1\n", { { NULL } }, "x.acl:1: net 10.0.0.1: "
	    "expected ADDR/PREFIX or ADDR/MASK; for one address, use ip "
	    "10.0.0.1" },
	{ "allow net localhost\n", { { NULL } }, "x.acl:1: net localhost: "
	    "expected ADDR/PREFIX or ADDR/MASK, as in 10.0.0.0/8 or "
	    "10.0.0.0/255.0.0.0" },
	{ "allow net 10.0.0/8\n", { { NULL } }, "x.acl:1: net 10.0.0/8: "
	    "expected ADDR/PREFIX or ADDR/MASK with an IPv4 or IPv6 address" },
	{ "allow net ::ffff:10.0.0.0/104\n", { { NULL } }, "x.acl:1: net "
	    "::ffff:10.0.0.0/104: IPv4-mapped network, such clients are "
	    "matched as IPv4: write net 10.0.0.0/8" },
	{ "allow net 10.0.0.0/8,10.1.0.0/8,192.168.0.0/16,192.0.2.0/33\n",
	    { { NULL } }, "x.acl:1: net 10.1.0.0/8: host bits set, did you "
	    "mean 10.0.0.0/8?\n"
	    "x.acl:1: net 192.0.2.0/33: prefix length must be 0-32" },

	/* domain */
	{ "deny domain bad_name.example\n", { { NULL } }, "x.acl:1: domain "
	    "bad_name.example: expected a host name such as mail.example.org, "
	    "or .example.org for every name below it (labels of 1-63 "
	    "letters, digits or inner '-')" },
	{ "deny domain .\n", { { NULL } }, "x.acl:1: domain .: expected a "
	    "host name such as mail.example.org, or .example.org for every "
	    "name below it (labels of 1-63 letters, digits or inner '-')" },
	{ "deny domain a..example\n", { { NULL } }, "x.acl:1: domain "
	    "a..example: expected a host name such as mail.example.org, or "
	    ".example.org for every name below it (labels of 1-63 letters, "
	    "digits or inner '-')" },
	{ "deny domain -a.example\n", { { NULL } }, "x.acl:1: domain "
	    "-a.example: expected a host name such as mail.example.org, or "
	    ".example.org for every name below it (labels of 1-63 letters, "
	    "digits or inner '-')" },
	{ "deny domain 192.0.2.1\n", { { NULL } }, "x.acl:1: domain "
	    "192.0.2.1: not a host name, whose last label has letters; for an "
	    "address, use ip or net" },
	{ "deny domain a234567890123456789012345678901234567890123456789012"
	    "345678901234.example\n", { { NULL } }, "x.acl:1: domain "
	    "a234567890123456789012345678901234567890123456789012345678901234"
	    ".example: expected a host name such as mail.example.org, or "
	    ".example.org for every name below it (labels of 1-63 letters, "
	    "digits or inner '-')" },

	/* country */
	{ "deny country XX\n", { { NULL } }, "x.acl:1: country XX: not an "
	    "assigned ISO 3166-1 alpha-2 code" },
	{ "deny country UK\n", { { NULL } }, "x.acl:1: country UK: not an "
	    "assigned ISO 3166-1 alpha-2 code, did you mean GB?" },
	{ "deny country gb,uk\n", { { NULL } }, "x.acl:1: country uk: not an "
	    "assigned ISO 3166-1 alpha-2 code, did you mean GB?" },
	{ "deny country USA\n", { { NULL } }, "x.acl:1: country USA: expected "
	    "a two-letter ISO 3166-1 code such as DE" },
	{ "deny country R1\n", { { NULL } }, "x.acl:1: country R1: expected "
	    "a two-letter ISO 3166-1 code such as DE" },

	/* asn */
	{ "deny asn 0\n", { { NULL } }, "x.acl:1: asn 0: expected a number "
	    "1-4294967295, alone or after AS (AS64496)" },
	{ "deny asn 4294967296\n", { { NULL } }, "x.acl:1: asn 4294967296: "
	    "expected a number 1-4294967295, alone or after AS (AS64496)" },
	{ "deny asn AS\n", { { NULL } }, "x.acl:1: asn AS: expected a number "
	    "1-4294967295, alone or after AS (AS64496)" },
	{ "deny asn -1,64496x\n", { { NULL } }, "x.acl:1: asn -1: expected a "
	    "number 1-4294967295, alone or after AS (AS64496)\n"
	    "x.acl:1: asn 64496x: expected a number 1-4294967295, alone or "
	    "after AS (AS64496)" },

	/* user */
	{ "deny user adm[0-9]\n", { { NULL } }, "x.acl:1: user adm[0-9]: [ ] "
	    "classes are not supported, the wildcards are * and ?" },
	{ "deny user a@b@c\n", { { NULL } }, "x.acl:1: user a@b@c: more than "
	    "one @, expected NAME, NAME@DOMAIN or @DOMAIN" },
	{ "deny user @\n", { { NULL } },
	    "x.acl:1: user @: expected a domain after @" },
	{ "deny user bob@\n", { { NULL } },
	    "x.acl:1: user bob@: expected a domain after @" },

	/* default */
	{ "default\n", { { NULL } },
	    "x.acl:1: default: expected allow or deny" },
	{ "default maybe\n", { { NULL } },
	    "x.acl:1: default: expected allow or deny, got \"maybe\"" },
	{ "default allow  deny # x\n", { { NULL } }, "x.acl:1: default: "
	    "expected allow or deny, got \"allow deny\"" },
	{ "default allow\nallow any\ndefault deny\n", { { NULL } },
	    "x.acl:3: default repeated, first at x.acl:1" },
	{ "default deny\ninclude a.acl\n", { { "a.acl", "default deny\n" } },
	    "a.acl:1: default repeated, first at x.acl:1" },

	/* include */
	{ "include\n", { { NULL } }, "x.acl:1: include: expected a file name" },
	{ "include a.acl b.acl\n", { { NULL } }, "x.acl:1: include: expected "
	    "one file name, got \"a.acl b.acl\"" },
	{ "allow any\ninclude missing.acl\n", { { NULL } }, "x.acl:2: include "
	    "missing.acl: cannot open missing.acl: No such file or directory" },
	{ "include sub/a.acl\n", { { "sub/a.acl", "include missing.acl\n" } },
	    "sub/a.acl:1: include missing.acl: cannot open sub/missing.acl: No "
	    "such file or directory" },
	{ "include sub\n", { { "sub/a.acl", "" } },
	    "x.acl:1: include sub: sub is not a regular file" },
	{ "include x.acl\n", { { NULL } },
	    "x.acl:1: include x.acl: include cycle x.acl -> x.acl" },
	{ "allow ip 192.0.2.1\ninclude b.acl\n",
	    { { "b.acl", "# b\ninclude ./x.acl\n" } }, "b.acl:2: include "
	    "./x.acl: include cycle x.acl -> b.acl -> x.acl" },
	{ "include sub/a.acl\n", { { "sub/a.acl", "include b.acl\n" },
	    { "sub/b.acl", "allow any\ninclude a.acl\n" } },
	    "sub/b.acl:2: include a.acl: include cycle x.acl -> sub/a.acl -> "
	    "sub/b.acl -> sub/a.acl" },
	{ "include sub/a.acl\n", { { "sub/a.acl", "include b.acl\n" },
	    { "sub/b.acl", "deny country XX\n" } },
	    "sub/b.acl:1: country XX: not an assigned ISO 3166-1 alpha-2 "
	    "code" },

	/* Every mistake of a file, in order. */
	{ "deny ip 192.0.2\nallow any\ndeny country XX asn 0\n"
	    "default maybe\ninclude nope.acl\ndeny user a[b]\n", { { NULL } },
	    "x.acl:1: ip 192.0.2: expected an IPv4 or IPv6 address\n"
	    "x.acl:3: country XX: not an assigned ISO 3166-1 alpha-2 code\n"
	    "x.acl:3: asn 0: expected a number 1-4294967295, alone or after AS "
	    "(AS64496)\n"
	    "x.acl:4: default: expected allow or deny, got \"maybe\"\n"
	    "x.acl:5: include nope.acl: cannot open nope.acl: No such file or "
	    "directory\n"
	    "x.acl:6: user a[b]: [ ] classes are not supported, the wildcards "
	    "are * and ?" },
};

/* Removes what a bad case wrote besides x.acl. */
static void
bad_clean(const struct bad_case *c)
{
	size_t	i;

	for (i = 0; i < nitems(c->files) && c->files[i][0] != NULL; i++)
		(void)unlink(c->files[i][0]);
	(void)rmdir("sub");
}

static void
test_bad(void **state)
{
	struct acl	*acl;
	size_t		 i, j;
	int		 failed = 0;

	(void)state;
	for (i = 0; i < nitems(bad); i++) {
		for (j = 0; j < nitems(bad[i].files) &&
		    bad[i].files[j][0] != NULL; j++)
			put(bad[i].files[j][0], bad[i].files[j][1]);
		acl = load_flags(bad[i].text, 0);
		if (acl != NULL || strcmp(errbuf, bad[i].err) != 0) {
			print_error("case %zu, file:\n%s\nwant:\n%s\ngot:\n%s"
			    "\n\n", i, bad[i].text, bad[i].err,
			    acl != NULL ? "(loaded)" : errbuf);
			failed = 1;
		}
		acl_free(&acl);
		bad_clean(&bad[i]);
	}
	if (failed)
		fail();
}

static void
test_missing(void **state)
{
	(void)state;
	assert_null(acl_load("nope.acl", 0, errbuf, sizeof(errbuf)));
	assert_string_equal(errbuf,
	    "nope.acl: cannot open: No such file or directory");
	assert_int_equal(mkdir("dir.acl", 0755), 0);
	assert_null(acl_load("dir.acl", 0, errbuf, sizeof(errbuf)));
	assert_string_equal(errbuf, "dir.acl: not a regular file");
	assert_int_equal(rmdir("dir.acl"), 0);
	/* A FIFO is refused without waiting for a writer. */
	assert_int_equal(mkfifo("f.acl", 0600), 0);
	assert_null(acl_load("f.acl", 0, errbuf, sizeof(errbuf)));
	assert_string_equal(errbuf, "f.acl: not a regular file");
	assert_null(load_flags("allow any\ninclude f.acl\n", 0));
	assert_string_equal(errbuf,
	    "x.acl:2: include f.acl: f.acl is not a regular file");
	assert_int_equal(unlink("f.acl"), 0);
}

/* Line ACL_MAX_LINE fits, one more is refused, the next line counts. */
static void
test_long_line(void **state)
{
	char		*text;
	struct acl	*acl;
	size_t		 n = ACL_MAX_LINE;

	(void)state;
	assert_non_null(text = malloc(2 * n + 64));
	memset(text, ' ', 2 * n + 2);
	memcpy(text, "allow any", 9);
	text[n - 1] = '#';
	text[n] = '\n';
	memcpy(text + n + 1, "deny any", 8);
	text[2 * n + 2] = '\n';
	(void)snprintf(text + 2 * n + 3, 60, "deny ip x\n");
	acl = load_flags(text, 0);
	assert_null(acl);
	assert_string_equal(errbuf, "x.acl:2: line too long, at most 8192 "
	    "characters\n"
	    "x.acl:3: ip x: expected an IPv4 or IPv6 address");
	text[n + 1] = '\0';
	acl = load_good(text, 0);
	assert_int_equal(acl_nrules(acl), 1);
	acl_free(&acl);
	free(text);
}

static void
test_nul(void **state)
{
	static const char	text[] = "allow any\ndeny\0any\n# \0 ok\n";

	(void)state;
	put_len("x.acl", text, sizeof(text) - 1);
	assert_null(acl_load("x.acl", 0, errbuf, sizeof(errbuf)));
	assert_string_equal(errbuf, "x.acl:2: control character 0x00, "
	    "expected printable text");
}

/* Includes nested ACL_MAX_DEPTH deep load; one more does not. */
static void
test_depth(void **state)
{
	struct acl	*acl;
	char		 name[32], text[64];
	int		 i, last;

	(void)state;
	for (last = ACL_MAX_DEPTH; last <= ACL_MAX_DEPTH + 1; last++) {
		for (i = 0; i <= last; i++) {
			(void)snprintf(name, sizeof(name), "d%d.acl", i);
			if (i == last)
				(void)snprintf(text, sizeof(text),
				    "deny any\n");
			else
				(void)snprintf(text, sizeof(text),
				    "include d%d.acl\n", i + 1);
			put(name, text);
		}
		acl = acl_load("d0.acl", 0, errbuf, sizeof(errbuf));
		if (last == ACL_MAX_DEPTH) {
			assert_non_null(acl);
			assert_int_equal(acl_nrules(acl), 1);
			assert_string_equal(acl_rule_file(acl_rule_at(acl, 0)),
			    "d16.acl");
		} else {
			assert_null(acl);
			assert_string_equal(errbuf, "d16.acl:1: include "
			    "d17.acl: includes nested more than 16 deep");
		}
		acl_free(&acl);
	}
	for (i = 0; i <= ACL_MAX_DEPTH + 1; i++) {
		(void)snprintf(name, sizeof(name), "d%d.acl", i);
		(void)unlink(name);
	}
}

/* A full err gets a last "... more errors" line and stays in bounds. */
static void
test_truncate(void **state)
{
	char		 small[200], text[4096];
	const char	*more;
	size_t		 i, n = 0;

	(void)state;
	for (i = 0; i < 50; i++)
		n += snprintf(text + n, sizeof(text) - n, "deny asn 0\n");
	put("x.acl", text);
	memset(small, 'z', sizeof(small));
	assert_null(acl_load("x.acl", 0, small, sizeof(small)));
	assert_true(strlen(small) < sizeof(small));
	assert_non_null(more = strrchr(small, '\n'));
	assert_string_equal(more, "\n... more errors");
	assert_memory_equal(small, "x.acl:1: asn 0: expected", 24);
	assert_null(acl_load("x.acl", 0, NULL, 0));
	assert_null(acl_load("x.acl", 0, small, 1));
	assert_string_equal(small, "");
}

/*
 * Good files.
 */

static const char sample[] =
    "default deny                         # when no rule matches\n"
    "include blocklist.acl                # relative to this file\n"
    "\n"
    "deny   ip 203.0.113.7\n"
    "allow  net 10.0.0.0/8\n"
    "allow  net 192.168.5.0/255.255.255.0 # subnet and mask\n"
    "allow  net 2001:db8::/32\n"
    "deny   domain .dialup.example.net    # leading dot: below\n"
    "deny   country RU,KP                 # ISO 3166 codes\n"
    "deny   asn 64496\n"
    "deny   user mallory                  # per-user override\n"
    "allow  user svc-loader net 192.0.2.0/24\n"
    "deny   user svc-loader\n"
    "deny   user @partner.example !net 10.0.0.0/8\n"
    "allow  any\n";

static const struct {
	const char	*file;
	int		 line;
	const char	*text;
} sample_rules[] = {
	{ "sub/blocklist.acl", 2, "deny ip 198.51.100.1" },
	{ "sub/blocklist.acl", 3,
	    "deny net 198.51.100.128/25,2001:db8:bad::/48" },
	{ "sub/blocklist.acl", 4, "allow user a#b asn AS64496" },
	{ "sub/x.acl", 4, "deny ip 203.0.113.7" },
	{ "sub/x.acl", 5, "allow net 10.0.0.0/8" },
	{ "sub/x.acl", 6, "allow net 192.168.5.0/255.255.255.0" },
	{ "sub/x.acl", 7, "allow net 2001:db8::/32" },
	{ "sub/x.acl", 8, "deny domain .dialup.example.net" },
	{ "sub/x.acl", 9, "deny country RU,KP" },
	{ "sub/x.acl", 10, "deny asn 64496" },
	{ "sub/x.acl", 11, "deny user mallory" },
	{ "sub/x.acl", 12, "allow user svc-loader net 192.0.2.0/24" },
	{ "sub/x.acl", 13, "deny user svc-loader" },
	{ "sub/x.acl", 14, "deny user @partner.example !net 10.0.0.0/8" },
	{ "sub/x.acl", 15, "allow any" },
};

/* SPEC.md's example, through an include with CRLF, tabs and spaces. */
static void
test_sample(void **state)
{
	struct acl		*acl;
	const struct acl_rule	*r;
	size_t			 i;

	(void)state;
	put("sub/blocklist.acl", "# from the feed\r\ndeny ip 198.51.100.1\r\n"
	    "\tdeny\tnet   198.51.100.128/25,  2001:db8:bad::/48 \r\n"
	    "allow user a#b asn AS64496 #comment\n");
	put("sub/x.acl", sample);
	if ((acl = acl_load("sub/x.acl", 0, errbuf, sizeof(errbuf))) == NULL)
		fail_msg("%s", errbuf);
	assert_string_equal(errbuf, "");
	assert_int_equal(acl_nrules(acl), nitems(sample_rules));
	assert_int_equal(acl_default(acl), ACL_DENY);
	assert_int_equal(acl_needs(acl), ACL_NEEDS_DOMAIN | ACL_NEEDS_COUNTRY |
	    ACL_NEEDS_ASN | ACL_NEEDS_USER);
	for (i = 0; i < nitems(sample_rules); i++) {
		assert_non_null(r = acl_rule_at(acl, i));
		assert_string_equal(acl_rule_file(r), sample_rules[i].file);
		assert_int_equal(acl_rule_line(r), sample_rules[i].line);
		assert_string_equal(acl_rule_text(r), sample_rules[i].text);
		assert_int_equal(acl_rule_index(r), i);
	}
	assert_null(acl_rule_at(acl, i));
	acl_free(&acl);
	acl_free(&acl);
	(void)unlink("sub/blocklist.acl");
	(void)unlink("sub/x.acl");
	(void)rmdir("sub");
}

static const struct {
	const char	*text;
	size_t		 nrules;
	enum acl_action	 def;
	int		 needs;
} good[] = {
	{ "", 0, ACL_ALLOW, 0 },
	{ "\n\n# only comments\n   # indented\n\t\n", 0, ACL_ALLOW, 0 },
	{ "default deny\n", 0, ACL_DENY, 0 },
	{ "allow any\ndefault allow\n", 1, ACL_ALLOW, 0 },
	{ "deny ip 192.0.2.1", 1, ACL_ALLOW, 0 },	/* no final newline */
	{ "deny net 0.0.0.0/0,::/0\n", 1, ACL_ALLOW, 0 },
	{ "deny net 10.0.0.0/255.0.0.0,2001:db8::/ffff:ffff::\n", 1,
	    ACL_ALLOW, 0 },
	{ "deny domain Example.ORG. domain .a-b.example\n", 1, ACL_ALLOW,
	    ACL_NEEDS_DOMAIN },
	{ "deny !country ru,De,gb\n", 1, ACL_ALLOW, ACL_NEEDS_COUNTRY },
	{ "deny country XK\n", 1, ACL_ALLOW, ACL_NEEDS_COUNTRY },
	{ "deny asn 1,as4294967295,AS64496\n", 1, ACL_ALLOW, ACL_NEEDS_ASN },
	{ "deny user any\ndeny user net\n", 2, ACL_ALLOW, ACL_NEEDS_USER },
	{ "deny user *,?,@x,DOMAIN\\bob,j\xc3\xb6rg\n", 1, ACL_ALLOW,
	    ACL_NEEDS_USER },
	{ "allow !any\n", 1, ACL_ALLOW, 0 },
};

static void
test_good(void **state)
{
	struct acl	*acl;
	size_t		 i;

	(void)state;
	for (i = 0; i < nitems(good); i++) {
		acl = load_flags(good[i].text, 0);
		if (acl == NULL)
			fail_msg("case %zu: %s", i, errbuf);
		assert_int_equal(acl_nrules(acl), good[i].nrules);
		assert_int_equal(acl_default(acl), good[i].def);
		assert_int_equal(acl_needs(acl), good[i].needs);
		acl_free(&acl);
	}
}

/* The text of a rule: single spaces, no comment, values as written. */
static void
test_text(void **state)
{
	struct acl	*acl;

	(void)state;
	acl = load_good("  deny\t\tcountry RU,   KP,\tBY  !user  x  # c\n"
	    "allow\tuser\tBob@Example.org # kept as written\n", 0);
	assert_string_equal(acl_rule_text(acl_rule_at(acl, 0)),
	    "deny country RU,KP,BY !user x");
	assert_string_equal(acl_rule_text(acl_rule_at(acl, 1)),
	    "allow user Bob@Example.org");
	acl_free(&acl);
}

/*
 * Evaluation.
 */

struct eval_case {
	const char		*ip;	/* "": not an IP client */
	const char		*user;
	const char		*domain;
	const char		*country;
	uint32_t		 asn;
	enum acl_verdict	 v;
	int			 line;	/* of the deciding rule, 0: none */
};

struct eval_table {
	const char		*text;
	int			 flags;
	struct eval_case	 cases[32];	/* up to ip NULL */
};

/* Fills c from ip; an IPv6 text stays AF_INET6, even when mapped. */
static void
client_of(struct acl_client *c, const char *ip)
{
	memset(c, 0, sizeof(*c));
	if (*ip == '\0')
		c->family = AF_UNIX;
	else if (strchr(ip, ':') != NULL) {
		c->family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, ip, c->addr), 1);
	} else {
		c->family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, ip, c->addr), 1);
	}
}

static const char *
verdict_name(enum acl_verdict v)
{
	return (v == A ? "allow" : v == D ? "deny" : "unknown");
}

/*
 * Checks one case with both evaluators; returns 0, or -1 after saying
 * what went wrong.
 */
static int
eval_check(const struct acl *acl, const char *text,
    const struct eval_case *ec)
{
	const struct acl_rule	*r, *rn;
	struct acl_client	 c;
	enum acl_verdict	 v, vn;
	int			 line;

	client_of(&c, ec->ip);
	c.user = ec->user;
	c.domain = ec->domain;
	c.country = ec->country;
	c.asn = ec->asn;
	r = rn = (const void *)1;
	v = acl_eval(acl, &c, &r);
	vn = acl_eval_naive(acl, &c, &rn);
	line = r != NULL ? acl_rule_line(r) : 0;
	if (v == ec->v && vn == v && r == rn && line == ec->line &&
	    (v != U || r == NULL))
		return (0);
	print_error("rules:\n%s\nclient %s user %s domain %s country %s asn "
	    "%u: want %s by line %d, got %s by line %d (naive: %s by line "
	    "%d)\n", text, ec->ip, ec->user != NULL ? ec->user : "(null)",
	    ec->domain != NULL ? ec->domain : "(null)",
	    ec->country != NULL ? ec->country : "(null)", ec->asn,
	    verdict_name(ec->v), ec->line, verdict_name(v), line,
	    verdict_name(vn), rn != NULL ? acl_rule_line(rn) : 0);
	return (-1);
}

static const struct eval_table eval[] = {
	/* SPEC.md's example: connect time (no user) and login. */
	{ "default deny\n"
	    "deny ip 203.0.113.7\n"
	    "allow net 10.0.0.0/8\n"
	    "allow net 192.168.5.0/255.255.255.0\n"
	    "allow net 2001:db8::/32\n"
	    "deny domain .dialup.example.net\n"
	    "deny country RU,KP\n"
	    "deny asn 64496\n"
	    "deny user mallory\n"
	    "allow user svc-loader net 192.0.2.0/24\n"
	    "deny user svc-loader\n"
	    "deny user @partner.example !net 10.0.0.0/8\n"
	    "allow any\n", 0, {
		{ "203.0.113.7", NULL, NULL, NULL, 0, D, 2 },
		{ "203.0.113.7", "alice", NULL, NULL, 0, D, 2 },
		{ "::ffff:203.0.113.7", NULL, NULL, NULL, 0, D, 2 },
		{ "203.0.113.8", NULL, NULL, NULL, 0, U, 0 },
		{ "203.0.113.8", "alice", NULL, NULL, 0, A, 13 },
		{ "10.1.2.3", NULL, NULL, NULL, 0, A, 3 },
		{ "::ffff:10.1.2.3", "mallory", NULL, NULL, 0, A, 3 },
		{ "192.168.5.77", NULL, NULL, NULL, 0, A, 4 },
		{ "192.168.6.1", "alice", NULL, NULL, 0, A, 13 },
		{ "2001:db8::1", NULL, NULL, NULL, 0, A, 5 },
		{ "2001:db9::1", "alice", NULL, NULL, 0, A, 13 },
		{ "198.51.100.1", "alice", "host.dialup.example.net", NULL, 0,
		    D, 6 },
		{ "198.51.100.1", NULL, "HOST.Dialup.Example.NET.", NULL, 0,
		    D, 6 },
		{ "198.51.100.1", "alice", "dialup.example.net", NULL, 0,
		    A, 13 },
		{ "198.51.100.1", "alice", "xdialup.example.net", NULL, 0,
		    A, 13 },
		{ "198.51.100.1", NULL, NULL, "RU", 0, D, 7 },
		{ "198.51.100.1", NULL, NULL, "kp", 0, D, 7 },
		{ "198.51.100.1", "alice", NULL, "DE", 0, A, 13 },
		{ "198.51.100.1", NULL, NULL, NULL, 64496, D, 8 },
		{ "198.51.100.1", "alice", NULL, NULL, 64497, A, 13 },
		{ "198.51.100.1", "mallory", NULL, NULL, 0, D, 9 },
		{ "192.0.2.5", "svc-loader", NULL, NULL, 0, A, 10 },
		{ "192.0.2.5", NULL, NULL, NULL, 0, U, 0 },
		{ "198.51.100.1", "svc-loader", NULL, NULL, 0, D, 11 },
		{ "198.51.100.1", "bob@partner.example", NULL, NULL, 0,
		    D, 12 },
		{ "10.9.9.9", "bob@partner.example", NULL, NULL, 0, A, 3 },
		{ "198.51.100.1", "bob@partner.example.com", NULL, NULL, 0,
		    A, 13 },
		{ NULL } } },
	/* Unknown at connect: the user could go either way. */
	{ "deny user mallory\nallow any\n", 0, {
		{ "192.0.2.1", NULL, NULL, NULL, 0, U, 0 },
		{ "192.0.2.1", "mallory", NULL, NULL, 0, D, 1 },
		{ "192.0.2.1", "bob", NULL, NULL, 0, A, 2 },
		{ NULL } } },
	/* Certain at connect: every user is denied, by line 2. */
	{ "deny user mallory\ndeny any\n", 0, {
		{ "192.0.2.1", NULL, NULL, NULL, 0, D, 2 },
		{ "192.0.2.1", "bob", NULL, NULL, 0, D, 2 },
		{ "192.0.2.1", "mallory", NULL, NULL, 0, D, 1 },
		{ NULL } } },
	/* Certain at connect, by the default. */
	{ "allow user bob\n", 0, {
		{ "192.0.2.1", NULL, NULL, NULL, 0, A, 0 },
		{ "192.0.2.1", "carol", NULL, NULL, 0, A, 0 },
		{ "192.0.2.1", "bob", NULL, NULL, 0, A, 1 },
		{ NULL } } },
	{ "deny user bob\ndefault deny\n", 0, {
		{ "192.0.2.1", NULL, NULL, NULL, 0, D, 0 },
		{ "192.0.2.1", "bob", NULL, NULL, 0, D, 1 },
		{ NULL } } },
	/* ! of unknown is unknown. */
	{ "deny !user bob\nallow any\n", 0, {
		{ "192.0.2.1", NULL, NULL, NULL, 0, U, 0 },
		{ "192.0.2.1", "bob", NULL, NULL, 0, A, 2 },
		{ "192.0.2.1", "eve", NULL, NULL, 0, D, 1 },
		{ NULL } } },
	/* FALSE and unknown is FALSE. */
	{ "deny user bob net 10.0.0.0/8\nallow any\n", 0, {
		{ "192.0.2.1", NULL, NULL, NULL, 0, A, 2 },
		{ "10.0.0.1", NULL, NULL, NULL, 0, U, 0 },
		{ "10.0.0.1", "bob", NULL, NULL, 0, D, 1 },
		{ "10.0.0.1", "eve", NULL, NULL, 0, A, 2 },
		{ NULL } } },
	{ "allow user bob\ndeny net 10.0.0.0/8\nallow user alice\n"
	    "default deny\n", 0, {
		{ "10.0.0.1", NULL, NULL, NULL, 0, U, 0 },
		{ "192.0.2.1", NULL, NULL, NULL, 0, U, 0 },
		{ "192.0.2.1", "carol", NULL, NULL, 0, D, 0 },
		{ "10.0.0.1", "alice", NULL, NULL, 0, D, 2 },
		{ "10.0.0.1", "bob", NULL, NULL, 0, A, 1 },
		{ "192.0.2.1", "alice", NULL, NULL, 0, A, 3 },
		{ NULL } } },
	/* Missing facts are FALSE, so their negation is TRUE. */
	{ "deny !domain .example.org\ndeny !country DE\ndeny !asn 64496\n"
	    "allow any\n", 0, {
		{ "192.0.2.1", NULL, NULL, NULL, 0, D, 1 },
		{ "192.0.2.1", NULL, "example.org", "DE", 64496, D, 1 },
		{ "192.0.2.1", NULL, "mx.example.org", NULL, 0, D, 2 },
		{ "192.0.2.1", NULL, "mx.example.org", "de", 0, D, 3 },
		{ "192.0.2.1", NULL, "mx.example.org", "DE", 64496, A, 4 },
		{ NULL } } },
	{ "deny domain .example.org\ndeny country DE\ndeny asn 64496\n"
	    "default allow\n", 0, {
		{ "192.0.2.1", NULL, NULL, NULL, 0, A, 0 },
		{ "192.0.2.1", NULL, "mx.example.org", NULL, 0, D, 1 },
		{ "192.0.2.1", NULL, NULL, "DE", 0, D, 2 },
		{ "192.0.2.1", NULL, NULL, "DEU", 0, A, 0 },
		{ "192.0.2.1", NULL, NULL, NULL, 64496, D, 3 },
		{ NULL } } },
	/* Negated addresses, alone and with a user. */
	{ "deny !net 10.0.0.0/8 user eve\nallow !ip 192.0.2.1\ndeny any\n",
	    0, {
		{ "192.0.2.1", "eve", NULL, NULL, 0, D, 1 },
		{ "192.0.2.1", NULL, NULL, NULL, 0, D, 3 },
		{ "10.0.0.1", NULL, NULL, NULL, 0, A, 2 },
		{ "198.51.100.1", NULL, NULL, NULL, 0, U, 0 },
		{ "2001:db8::1", NULL, NULL, NULL, 0, U, 0 },
		{ "2001:db8::1", "bob", NULL, NULL, 0, A, 2 },
		{ "::ffff:192.0.2.1", "bob", NULL, NULL, 0, D, 3 },
		{ NULL } } },
	/* Globs. */
	{ "deny user ?ob\ndeny user adm*\nallow user *@example.org\n"
	    "deny user @evil.example\nallow user a*b?c\ndeny user *\n", 0, {
		{ "192.0.2.1", NULL, NULL, NULL, 0, U, 0 },
		{ "192.0.2.1", "bob", NULL, NULL, 0, D, 1 },
		{ "192.0.2.1", "rob", NULL, NULL, 0, D, 1 },
		{ "192.0.2.1", "bobby", NULL, NULL, 0, D, 6 },
		{ "192.0.2.1", "ob", NULL, NULL, 0, D, 6 },
		{ "192.0.2.1", "adm", NULL, NULL, 0, D, 2 },
		{ "192.0.2.1", "administrator", NULL, NULL, 0, D, 2 },
		{ "192.0.2.1", "x@example.org", NULL, NULL, 0, A, 3 },
		{ "192.0.2.1", "@example.org", NULL, NULL, 0, A, 3 },
		{ "192.0.2.1", "x@example.org.evil", NULL, NULL, 0, D, 6 },
		{ "192.0.2.1", "x@evil.example", NULL, NULL, 0, D, 4 },
		{ "192.0.2.1", "x@sub.evil.example", NULL, NULL, 0, D, 6 },
		{ "192.0.2.1", "aXXbYc", NULL, NULL, 0, A, 5 },
		{ "192.0.2.1", "abzc", NULL, NULL, 0, A, 5 },
		{ "192.0.2.1", "abbbbc", NULL, NULL, 0, A, 5 },
		{ "192.0.2.1", "abc", NULL, NULL, 0, D, 6 },
		{ "192.0.2.1", "", NULL, NULL, 0, D, 6 },
		{ NULL } } },
	/* username_case = lower: patterns lower-cased, names canonical. */
	{ "deny user Mallory@Example.ORG\ndeny user @EVIL.example\n",
	    ACL_LOAD_LOWER_USERS, {
		{ "192.0.2.1", "mallory@example.org", NULL, NULL, 0, D, 1 },
		{ "192.0.2.1", "x@evil.example", NULL, NULL, 0, D, 2 },
		{ "192.0.2.1", "Mallory@Example.ORG", NULL, NULL, 0, A, 0 },
		{ NULL } } },
	/* username_case = keep: exact. */
	{ "deny user Mallory@Example.ORG\ndeny user @EVIL.example\n", 0, {
		{ "192.0.2.1", "mallory@example.org", NULL, NULL, 0, A, 0 },
		{ "192.0.2.1", "Mallory@Example.ORG", NULL, NULL, 0, D, 1 },
		{ "192.0.2.1", "x@EVIL.example", NULL, NULL, 0, D, 2 },
		{ NULL } } },
	/* Masks in both notations, IPv6, mapped clients. */
	{ "deny net 192.168.5.0/255.255.255.128\nallow net 192.168.5.0/24\n"
	    "deny net 2001:db8:1::/48\nallow net 2001:db8::/ffff:ffff::\n"
	    "deny ip 2001:db8::1\nallow net 0.0.0.0/0\ndeny net ::/0\n", 0, {
		{ "192.168.5.1", NULL, NULL, NULL, 0, D, 1 },
		{ "192.168.5.127", NULL, NULL, NULL, 0, D, 1 },
		{ "192.168.5.128", NULL, NULL, NULL, 0, A, 2 },
		{ "::ffff:192.168.5.128", NULL, NULL, NULL, 0, A, 2 },
		{ "2001:db8:1::5", NULL, NULL, NULL, 0, D, 3 },
		{ "2001:db8:1:ffff:ffff:ffff:ffff:ffff", NULL, NULL, NULL, 0,
		    D, 3 },
		{ "2001:db8:2::1", NULL, NULL, NULL, 0, A, 4 },
		{ "2001:db8::1", NULL, NULL, NULL, 0, A, 4 },
		{ "8.8.8.8", NULL, NULL, NULL, 0, A, 6 },
		{ "::ffff:8.8.8.8", NULL, NULL, NULL, 0, A, 6 },
		{ "2001:db9::1", NULL, NULL, NULL, 0, D, 7 },
		{ "::1", NULL, NULL, NULL, 0, D, 7 },
		{ "::", NULL, NULL, NULL, 0, D, 7 },
		{ NULL } } },
	/* Alternatives of both families, then the default. */
	{ "deny ip 192.0.2.1,2001:db8::1\n"
	    "allow net 10.0.0.0/8,192.168.0.0/16\ndefault deny\n", 0, {
		{ "192.0.2.1", NULL, NULL, NULL, 0, D, 1 },
		{ "2001:db8::1", NULL, NULL, NULL, 0, D, 1 },
		{ "10.2.3.4", NULL, NULL, NULL, 0, A, 2 },
		{ "192.168.1.1", NULL, NULL, NULL, 0, A, 2 },
		{ "172.16.0.1", NULL, NULL, NULL, 0, D, 0 },
		{ "2001:db8::2", NULL, NULL, NULL, 0, D, 0 },
		{ NULL } } },
	/* A client of no IP family matches no address. */
	{ "deny net 0.0.0.0/0\ndeny net ::/0\ndeny !ip 192.0.2.1\n"
	    "allow any\n", 0, {
		{ "", NULL, NULL, NULL, 0, D, 3 },
		{ "192.0.2.1", NULL, NULL, NULL, 0, D, 1 },
		{ NULL } } },
	/* Domain: the name exactly, or strictly below a suffix. */
	{ "deny domain mail.example.org.\nallow domain .example.org\n"
	    "deny any\n", 0, {
		{ "192.0.2.1", NULL, "mail.example.org", NULL, 0, D, 1 },
		{ "192.0.2.1", NULL, "MAIL.example.org.", NULL, 0, D, 1 },
		{ "192.0.2.1", NULL, "a.mail.example.org", NULL, 0, A, 2 },
		{ "192.0.2.1", NULL, "example.org", NULL, 0, D, 3 },
		{ "192.0.2.1", NULL, "example.org.", NULL, 0, D, 3 },
		{ "192.0.2.1", NULL, "badexample.org", NULL, 0, D, 3 },
		{ "192.0.2.1", NULL, NULL, NULL, 0, D, 3 },
		{ NULL } } },
	/* Nothing but the default. */
	{ "", 0, {
		{ "192.0.2.1", NULL, NULL, NULL, 0, A, 0 },
		{ NULL } } },
	{ "# closed\ndefault deny\n", 0, {
		{ "192.0.2.1", NULL, NULL, NULL, 0, D, 0 },
		{ "192.0.2.1", "bob", NULL, NULL, 0, D, 0 },
		{ NULL } } },
};

static void
test_eval(void **state)
{
	struct acl	*acl;
	size_t		 i, j;
	int		 failed = 0;

	(void)state;
	for (i = 0; i < nitems(eval); i++) {
		acl = load_good(eval[i].text, eval[i].flags);
		for (j = 0; eval[i].cases[j].ip != NULL; j++)
			if (eval_check(acl, eval[i].text,
			    &eval[i].cases[j]) == -1)
				failed = 1;
		acl_free(&acl);
	}
	if (failed)
		fail();
}

/* Rules from includes keep their file, line and place in the order. */
static void
test_eval_include(void **state)
{
	struct acl		*acl;
	const struct acl_rule	*r;
	struct acl_client	 c;

	(void)state;
	put("sub/a.acl", "deny ip 192.0.2.1\ninclude b.acl\n");
	put("sub/b.acl", "deny user eve\n");
	acl = load_good("include sub/a.acl\nallow any\n", 0);
	client_of(&c, "192.0.2.1");
	assert_int_equal(acl_eval(acl, &c, &r), D);
	assert_string_equal(acl_rule_file(r), "sub/a.acl");
	assert_int_equal(acl_rule_line(r), 1);
	assert_int_equal(acl_rule_index(r), 0);
	client_of(&c, "192.0.2.2");
	assert_int_equal(acl_eval(acl, &c, &r), U);
	assert_null(r);
	c.user = "eve";
	assert_int_equal(acl_eval(acl, &c, &r), D);
	assert_string_equal(acl_rule_file(r), "sub/b.acl");
	assert_int_equal(acl_rule_index(r), 1);
	c.user = "bob";
	assert_int_equal(acl_eval(acl, &c, NULL), A);
	assert_int_equal(acl_eval(acl, &c, &r), A);
	assert_string_equal(acl_rule_file(r), "x.acl");
	assert_int_equal(acl_rule_line(r), 2);
	assert_int_equal(acl_rule_index(r), 2);
	acl_free(&acl);
	(void)unlink("sub/a.acl");
	(void)unlink("sub/b.acl");
	(void)rmdir("sub");
}

static void
test_client_addr(void **state)
{
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
	struct sockaddr_un	 sun;
	struct acl_client	 c;
	unsigned char		 want[16];

	(void)state;
	memset(&c, 0xee, sizeof(c));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr), 1);
	assert_int_equal(acl_client_addr(&c, (struct sockaddr *)&sin), 0);
	assert_int_equal(c.family, AF_INET);
	memset(want, 0, sizeof(want));
	memcpy(want, &sin.sin_addr, 4);
	assert_memory_equal(c.addr, want, 16);

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "::ffff:192.0.2.7",
	    &sin6.sin6_addr), 1);
	assert_int_equal(acl_client_addr(&c, (struct sockaddr *)&sin6), 0);
	assert_int_equal(c.family, AF_INET);
	assert_memory_equal(c.addr, want, 16);

	assert_int_equal(inet_pton(AF_INET6, "2001:db8::7", &sin6.sin6_addr),
	    1);
	assert_int_equal(acl_client_addr(&c, (struct sockaddr *)&sin6), 0);
	assert_int_equal(c.family, AF_INET6);
	assert_memory_equal(c.addr, &sin6.sin6_addr, 16);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_int_equal(acl_client_addr(&c, (struct sockaddr *)&sun), -1);
}

static const struct {
	const char	*user;
	int		 lower;
	const char	*domain;
	size_t		 outlen;
	int		 rc;
	const char	*out;
} canon[] = {
	{ "Bob", 1, NULL, 64, 0, "bob" },
	{ "Bob", 0, NULL, 64, 0, "Bob" },
	{ "Bob", 1, "Example.ORG", 64, 0, "bob@example.org" },
	{ "Bob", 0, "Example.ORG", 64, 0, "Bob@Example.ORG" },
	{ "Bob@Other.NET", 1, "example.org", 64, 0, "bob@other.net" },
	{ "Bob", 1, "", 64, 0, "bob" },
	{ "J\xc3\x96RG", 1, NULL, 64, 0, "j\xc3\x96rg" },
	{ "bob", 1, "example.org", 16, 0, "bob@example.org" },
	{ "bob", 1, "example.org", 15, -1, "" },
	{ "bob", 1, NULL, 3, -1, "" },
	{ "", 1, NULL, 1, 0, "" },
};

/*
 * With a default_domain, a user pattern without "@" names a user of
 * that domain, as the canonical names it is matched against carry it.
 */
static void
test_default_domain(void **state)
{
	static const struct {
		int		 flags;
		const char	*domain;
		const char	*user;	/* canonical */
		enum acl_verdict verdict;
	} cases[] = {
		{ ACL_LOAD_LOWER_USERS, "example.org", "mallory@example.org",
		    ACL_VERDICT_DENY },
		{ ACL_LOAD_LOWER_USERS, "Example.ORG", "mallory@example.org",
		    ACL_VERDICT_DENY },
		{ ACL_LOAD_LOWER_USERS, "example.org", "mallory@other.test",
		    ACL_VERDICT_ALLOW },
		{ ACL_LOAD_LOWER_USERS, "example.org", "svc-a@example.org",
		    ACL_VERDICT_DENY },
		{ ACL_LOAD_LOWER_USERS, "example.org", "svc-a@other.test",
		    ACL_VERDICT_ALLOW },
		{ ACL_LOAD_LOWER_USERS, "example.org", "eve@partner.test",
		    ACL_VERDICT_DENY },
		{ ACL_LOAD_LOWER_USERS, NULL, "mallory@example.org",
		    ACL_VERDICT_ALLOW },
		{ ACL_LOAD_LOWER_USERS, NULL, "mallory", ACL_VERDICT_DENY },
		{ 0, "Example.org", "mallory@Example.org", ACL_VERDICT_DENY },
		{ 0, "Example.org", "mallory@example.org", ACL_VERDICT_ALLOW },
	};
	struct acl_client	 c;
	struct acl		*acl;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		acl = load_good("deny user mallory\ndeny user svc-*\n"
		    "deny user @partner.test\n", cases[i].flags);
		assert_int_equal(acl_set_default_domain(acl, cases[i].domain),
		    0);
		memset(&c, 0, sizeof(c));
		c.family = AF_INET;
		c.user = cases[i].user;
		assert_int_equal(acl_eval(acl, &c, NULL), cases[i].verdict);
		assert_int_equal(acl_eval_naive(acl, &c, NULL),
		    cases[i].verdict);
		acl_free(&acl);
	}
}

static void
test_canon_user(void **state)
{
	char	out[64];
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(canon); i++) {
		memset(out, 'z', sizeof(out));
		assert_int_equal(acl_canon_user(canon[i].user, canon[i].lower,
		    canon[i].domain, out, canon[i].outlen), canon[i].rc);
		assert_string_equal(out, canon[i].out);
	}
	assert_int_equal(acl_canon_user("bob", 1, NULL, out, 0), -1);
}

/*
 * The property: acl_eval() and acl_eval_naive() agree on random rule
 * files and clients.  A fixed seed makes a failure reproducible.
 */

#define PROP_SEED	0x61636c2d70726f70ULL
#define PROP_FILES	300
#define PROP_RULES	200
#define PROP_CLIENTS	2000
#define PROP_BASES	8
#define PROP_NETS	(3 * PROP_RULES * 3)

struct prop_net {
	int		 v6;
	unsigned char	 addr[16];
	int		 prefix;
};

struct prop {
	uint64_t	 seed;
	struct prop_net	 bases[PROP_BASES];
	struct prop_net	 nets[PROP_NETS];	/* used by the rules */
	size_t		 nnets;
	char		*text;
	size_t		 len;
	size_t		 cap;
	size_t		 verdicts[3];
	size_t		 byrule;
};

/* splitmix64: small, fast and good enough to spread test cases. */
static uint64_t
prop_rand(struct prop *p)
{
	uint64_t	z = (p->seed += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

static uint32_t
prop_n(struct prop *p, uint32_t n)
{
	return ((uint32_t)(prop_rand(p) % n));
}

static void
prop_add(struct prop *p, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(p->text + p->len, p->cap - p->len, fmt, ap);
		va_end(ap);
		assert_true(n >= 0);
		if ((size_t)n < p->cap - p->len)
			break;
		p->cap = 2 * p->cap + n;
		assert_non_null(p->text = realloc(p->text, p->cap));
	}
	p->len += n;
}

static void
prop_mask(struct prop_net *n)
{
	int	i, len = n->v6 ? 16 : 4;

	for (i = 0; i < 16; i++)
		if (i >= len || n->prefix <= i * 8)
			n->addr[i] = 0;
		else if (n->prefix < (i + 1) * 8)
			n->addr[i] &= (unsigned char)(0xff00 >>
			    (n->prefix - i * 8));
}

/* Random bits in addr past prefix. */
static void
prop_fill(struct prop *p, unsigned char *addr, int v6, int prefix)
{
	int	i, len = v6 ? 16 : 4;

	for (i = 0; i < len; i++) {
		if (prefix >= (i + 1) * 8)
			continue;
		if (prefix <= i * 8)
			addr[i] = (unsigned char)prop_rand(p);
		else
			addr[i] |= (unsigned char)(prop_rand(p) &
			    (0xffu >> (prefix - i * 8)));
	}
}

static void
prop_bases(struct prop *p)
{
	struct prop_net	*b;
	int		 i;

	for (i = 0; i < PROP_BASES; i++) {
		b = &p->bases[i];
		memset(b, 0, sizeof(*b));
		b->v6 = i % 2;
		b->prefix = b->v6 ? 16 + prop_n(p, 49) : 8 + prop_n(p, 17);
		prop_fill(p, b->addr, b->v6, 0);
		if (!b->v6 && b->addr[0] == 0)
			b->addr[0] = 1;
		/* Keep IPv6 bases off ::ffff:0:0/96: rules refuse it. */
		if (b->v6)
			b->addr[0] |= 0x20;
		prop_mask(b);
	}
}

/* A network near a base: inside it mostly, sometimes around it. */
static void
prop_net(struct prop *p, struct prop_net *n)
{
	const struct prop_net	*b = &p->bases[prop_n(p, PROP_BASES)];
	int			 full;

	*n = *b;
	full = n->v6 ? 128 : 32;
	if (prop_n(p, 8) == 0)
		n->prefix = prop_n(p, b->prefix + 1);
	else if (prop_n(p, 4) == 0)
		n->prefix = full;
	else
		n->prefix = b->prefix + prop_n(p, full - b->prefix + 1);
	prop_fill(p, n->addr, n->v6, b->prefix);
	prop_mask(n);
	if (p->nnets < PROP_NETS)
		p->nets[p->nnets++] = *n;
}

/* One ip or net selector with 1-3 alternatives, maybe negated. */
static void
prop_addr_sel(struct prop *p, int neg)
{
	struct prop_net	 n;
	char		 a[INET6_ADDRSTRLEN], m[INET_ADDRSTRLEN];
	unsigned char	 mask[4];
	uint32_t	 i, k = 1 + prop_n(p, 3), bits;
	int		 ip = prop_n(p, 3) == 0;

	prop_add(p, " %s%s ", neg ? "!" : "", ip ? "ip" : "net");
	for (i = 0; i < k; i++) {
		prop_net(p, &n);
		if (ip)
			n.prefix = n.v6 ? 128 : 32;
		(void)inet_ntop(n.v6 ? AF_INET6 : AF_INET, n.addr, a,
		    sizeof(a));
		prop_add(p, "%s%s", i > 0 ? "," : "", a);
		if (ip)
			continue;
		if (!n.v6 && prop_n(p, 3) == 0) {
			bits = n.prefix == 0 ? 0 :
			    0xffffffffu << (32 - n.prefix);
			mask[0] = bits >> 24;
			mask[1] = bits >> 16;
			mask[2] = bits >> 8;
			mask[3] = bits;
			(void)inet_ntop(AF_INET, mask, m, sizeof(m));
			prop_add(p, "/%s", m);
		} else
			prop_add(p, "/%d", n.prefix);
	}
}

static const char *const prop_users[] = { "alice", "b*", "?ob", "rob",
    "@example.org", "*", "*@evil.example", "carol" };
static const char *const prop_names[] = { "alice", "bob", "rob",
    "x@example.org", "eve@evil.example", "carol", "bobby" };
static const char *const prop_countries[] = { "RU", "DE", "US", "FR" };
static const char *const prop_domains[] = { "a.example.org", "example.org",
    "mx.example.net" };

/* One selector other than a plain address. */
static void
prop_other_sel(struct prop *p)
{
	const char	*neg = prop_n(p, 4) == 0 ? "!" : "";

	switch (prop_n(p, 7)) {
	case 0:
	case 1:
		prop_addr_sel(p, *neg != '\0');
		break;
	case 2:
	case 3:
		prop_add(p, " %suser %s", neg,
		    prop_users[prop_n(p, nitems(prop_users))]);
		break;
	case 4:
		prop_add(p, " %scountry %s,%s", neg,
		    prop_countries[prop_n(p, 3)], prop_countries[prop_n(p, 3)]);
		break;
	case 5:
		prop_add(p, " %sasn %s", neg,
		    prop_n(p, 2) ? "64496" : "AS64500");
		break;
	default:
		if (prop_n(p, 2))
			prop_add(p, " %sany", neg);
		else
			prop_add(p, " %sdomain .example.org", neg);
		break;
	}
}

/* A random rule file: mostly runs of address rules, mixed with others. */
static void
prop_file(struct prop *p)
{
	uint32_t	i, j, n = 1 + prop_n(p, PROP_RULES), k;

	p->len = 0;
	p->nnets = 0;
	prop_bases(p);
	if (prop_n(p, 2))
		prop_add(p, "default %s\n", prop_n(p, 2) ? "allow" : "deny");
	for (i = 0; i < n; i++) {
		prop_add(p, "%s", prop_n(p, 2) ? "allow" : "deny");
		if (prop_n(p, 10) < 6)
			prop_addr_sel(p, 0);
		else
			for (k = 1 + prop_n(p, 3), j = 0; j < k; j++)
				prop_other_sel(p);
		prop_add(p, "\n");
	}
}

/* A client mostly inside the rules' networks, in every shape. */
static void
prop_client(struct prop *p, struct acl_client *c)
{
	struct prop_net	 n;
	uint32_t	 r = prop_n(p, 10);

	memset(c, 0, sizeof(*c));
	if (r < 6 && p->nnets > 0)
		n = p->nets[prop_n(p, p->nnets)];
	else if (r < 8)
		n = p->bases[prop_n(p, PROP_BASES)];
	else {
		memset(&n, 0, sizeof(n));
		n.v6 = prop_n(p, 2);
	}
	prop_fill(p, n.addr, n.v6, n.prefix);
	if (n.v6) {
		c->family = AF_INET6;
		memcpy(c->addr, n.addr, 16);
	} else if (prop_n(p, 4) == 0) {
		c->family = AF_INET6;	/* mapped */
		c->addr[10] = c->addr[11] = 0xff;
		memcpy(c->addr + 12, n.addr, 4);
	} else {
		c->family = AF_INET;
		memcpy(c->addr, n.addr, 4);
	}
	if (prop_n(p, 2))
		c->country = prop_countries[prop_n(p, nitems(prop_countries))];
	if (prop_n(p, 2))
		c->domain = prop_domains[prop_n(p, nitems(prop_domains))];
	c->asn = prop_n(p, 3) == 0 ? 0 : prop_n(p, 2) ? 64496 : 64500;
}

/* Both evaluators on c; fails the test with the file on a difference. */
static void
prop_check(struct prop *p, const struct acl *acl,
    const struct acl_client *c)
{
	const struct acl_rule	*r, *rn;
	enum acl_verdict	 v, vn;
	char			 a[INET6_ADDRSTRLEN];

	v = acl_eval(acl, c, &r);
	vn = acl_eval_naive(acl, c, &rn);
	if (v != vn || r != rn) {
		(void)inet_ntop(c->family, c->addr, a, sizeof(a));
		fail_msg("seed-derived file:\n%s\nclient %s user %s: "
		    "compiled %s line %d, naive %s line %d", p->text, a,
		    c->user != NULL ? c->user : "(null)", verdict_name(v),
		    r != NULL ? acl_rule_line(r) : 0, verdict_name(vn),
		    rn != NULL ? acl_rule_line(rn) : 0);
	}
	p->verdicts[v]++;
	p->byrule += r != NULL;
}

static void
test_property(void **state)
{
	struct prop		*p;
	struct acl		*acl;
	struct acl_client	 c;
	size_t			 f, i;

	(void)state;
	assert_non_null(p = calloc(1, sizeof(*p)));
	p->seed = PROP_SEED;
	for (f = 0; f < PROP_FILES; f++) {
		prop_file(p);
		put("p.acl", p->text);
		acl = acl_load("p.acl", 0, errbuf, sizeof(errbuf));
		if (acl == NULL)
			fail_msg("%s\nfile:\n%s", errbuf, p->text);
		for (i = 0; i < PROP_CLIENTS; i++) {
			prop_client(p, &c);
			prop_check(p, acl, &c);
			c.user = prop_names[prop_n(p, nitems(prop_names))];
			prop_check(p, acl, &c);
		}
		acl_free(&acl);
	}
	(void)unlink("p.acl");
	/* The cases are worth something only if every outcome occurs. */
	assert_true(p->verdicts[A] > 1000);
	assert_true(p->verdicts[D] > 1000);
	assert_true(p->verdicts[U] > 1000);
	assert_true(p->byrule > PROP_FILES * PROP_CLIENTS / 2);
	free(p->text);
	free(p);
}

/*
 * The temporary folder.
 */

static int
rm_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return (remove(path));
}

static int
group_setup(void **state)
{
	(void)state;
	if (getcwd(olddir, sizeof(olddir)) == NULL)
		return (-1);
	(void)snprintf(tmpdir, sizeof(tmpdir), "%s/test_acl.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL || chdir(tmpdir) == -1)
		return (-1);
	return (0);
}

static int
group_teardown(void **state)
{
	(void)state;
	if (chdir(olddir) == -1)
		return (-1);
	return (nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_sample),
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_eval),
		cmocka_unit_test(test_eval_include),
		cmocka_unit_test(test_client_addr),
		cmocka_unit_test(test_canon_user),
		cmocka_unit_test(test_default_domain),
		cmocka_unit_test(test_property),
	};

	return (cmocka_run_group_tests(tests, group_setup, group_teardown));
}
