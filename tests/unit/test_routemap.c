/*
 * routemap: a table of bad files with their exact messages, the file's
 * own troubles (missing, a folder, over-long lines, NUL bytes, no final
 * newline, CRLF), good files and their targets, a table of lookups
 * (exact beats @domain beats *, username_case, default_domain, pools)
 * and a generated map of 200,000 lines where every key finds its
 * target.  Files are written into a temporary folder, the working
 * directory.
 */
#include <sys/stat.h>

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

#include "bounds.h"
#include "routemap.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* Lines of the generated map, and its domains and targets. */
#define BIG_LINES	200000
#define BIG_DOMAINS	300
#define BIG_BACKENDS	20
#define BIG_POOLS	4

static char	 tmpdir[PATH_MAX];
static char	 olddir[PATH_MAX];
static char	 errbuf[65536];

static void
put_len(const char *name, const char *text, size_t len)
{
	FILE	*f;

	assert_non_null(f = fopen(name, "w"));
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void
put(const char *name, const char *text)
{
	put_len(name, text, strlen(text));
}

static struct routemap *
load(const char *text, int flags, const char *dd)
{
	put("x.map", text);
	return (routemap_load("x.map", flags, dd, errbuf, sizeof(errbuf)));
}

/* Loads a map that must be good and shows why when it is not. */
static struct routemap *
load_good(const char *text, int flags, const char *dd)
{
	struct routemap	*map;

	if ((map = load(text, flags, dd)) == NULL)
		fail_msg("unexpected errors:\n%s", errbuf);
	assert_string_equal(errbuf, "");
	return (map);
}

/* Loads a map that must be bad with exactly the messages err. */
static void
load_bad(const char *text, int flags, const char *dd, const char *err)
{
	struct routemap	*map;

	map = load(text, flags, dd);
	if (map != NULL) {
		routemap_free(&map);
		fail_msg("loaded, expected:\n%s\nfile:\n%s", err, text);
	}
	assert_string_equal(errbuf, err);
}

/* The target of user as written in the file ("pool:x", "x"), or "-". */
static const char *
lookup(const struct routemap *map, const char *user)
{
	static char			 buf[128];
	const struct routemap_target	*t;
	long				 i;

	if ((i = routemap_lookup(map, user)) == -1)
		return ("-");
	assert_true(i >= 0 && (size_t)i < routemap_ntargets(map));
	assert_non_null(t = routemap_target(map, (size_t)i));
	(void)snprintf(buf, sizeof(buf), "%s%s", t->pool ? "pool:" : "",
	    t->name);
	return (buf);
}

/*
 * Bad files.
 */

#define LOW	ROUTEMAP_LOWER
#define NAME_RULE	"a name being 1-63 letters, digits, '.', '-' or '_'"
#define MISSING		"missing target, expected KEY TARGET, the target a " \
			"back end NAME or pool:NAME"
#define BAD_TARGET	"expected a back end NAME or pool:NAME, " NAME_RULE
#define BAD_DOMAIN	"expected a domain such as example.org after @: " \
			"labels of 1-63 letters, digits, '-' or '_', 253 " \
			"characters in all at most"
#define ONE_AT		"more than one @, expected NAME, NAME@DOMAIN, " \
			"@DOMAIN or *"

struct bad_case {
	const char	*text;
	int		 flags;
	const char	*dd;		/* default_domain */
	const char	*err;
};

static const struct bad_case bad[] = {
	/* Fields. */
	{ "alice@example.com\n", 0, NULL,
	    "x.map:1: alice@example.com: " MISSING },
	{ "# users\n\n  alice@example.com   # no target\n", 0, NULL,
	    "x.map:3: alice@example.com: " MISSING },
	{ "alice@example.com store1 store2\n", 0, NULL,
	    "x.map:1: unexpected store2 after the target store1, expected "
	    "KEY TARGET and then only a # comment" },
	{ "alice@example.com\tstore1\tpool:x # why\n", 0, NULL,
	    "x.map:1: unexpected pool:x after the target store1, expected "
	    "KEY TARGET and then only a # comment" },

	/* Keys. */
	{ "a@b@example.com store1\n", 0, NULL,
	    "x.map:1: key a@b@example.com: " ONE_AT },
	{ "@@example.com store1\n", 0, NULL,
	    "x.map:1: key @@example.com: " ONE_AT },
	{ "alice@ store1\n", 0, NULL,
	    "x.map:1: key alice@: expected a domain after @" },
	{ "@ store1\n", 0, NULL, "x.map:1: key @: expected a domain after @" },
	{ "@example..com store1\n", 0, NULL,
	    "x.map:1: key @example..com: " BAD_DOMAIN },
	{ "@.example.com store1\n", 0, NULL,
	    "x.map:1: key @.example.com: " BAD_DOMAIN },
	{ "@example.com. store1\n", 0, NULL,
	    "x.map:1: key @example.com.: " BAD_DOMAIN },
	{ "@exa!mple.com store1\n", 0, NULL,
	    "x.map:1: key @exa!mple.com: " BAD_DOMAIN },
	{ "@a23456789012345678901234567890123456789012345678901234567890"
	    "1234.org s\n", 0, NULL, "x.map:1: key @a2345678901234567890123"
	    "45678901234567890123456789012345678901234.org: " BAD_DOMAIN },
	{ "*@example.com store1\n", 0, NULL,
	    "x.map:1: key *@example.com: * stands alone, for every other "
	    "user; for every user of a domain write @DOMAIN" },
	{ "al*ce store1\n", 0, NULL,
	    "x.map:1: key al*ce: * stands alone, for every other user; for "
	    "every user of a domain write @DOMAIN" },
	{ "alice\x01 store1\n", 0, NULL,
	    "x.map:1: control character 0x01, expected printable text" },
	{ "alice\rbob store1\n", 0, NULL,
	    "x.map:1: control character 0x0d, expected printable text" },
	{ "alice store1\x7f\n", 0, NULL,
	    "x.map:1: control character 0x7f, expected printable text" },
	{ "alice\v store1\n", 0, NULL,
	    "x.map:1: control character 0x0b, expected printable text" },

	/* Targets. */
	{ "alice st*re1\n", 0, NULL, "x.map:1: target st*re1: " BAD_TARGET },
	{ "alice store1#x\n", 0, NULL,
	    "x.map:1: target store1#x: " BAD_TARGET },
	{ "alice pool:\n", 0, NULL, "x.map:1: target pool: names no pool, "
	    "expected pool:NAME, " NAME_RULE },
	{ "alice pool:a/b\n", 0, NULL,
	    "x.map:1: target pool:a/b: " BAD_TARGET },
	{ "alice pool:pool:x\n", 0, NULL,
	    "x.map:1: target pool:pool:x: " BAD_TARGET },
	{ "alice Pool:x\n", 0, NULL, "x.map:1: target Pool:x: " BAD_TARGET },
	{ "alice s234567890123456789012345678901234567890123456789012345678"
	    "901234\n", 0, NULL, "x.map:1: target s2345678901234567890123456"
	    "78901234567890123456789012345678901234: " BAD_TARGET },

	/* Keys given twice. */
	{ "# c\n\nalice@example.com store1\nalice@example.com store1\n", 0,
	    NULL, "x.map:4: alice@example.com given twice, first at line 3" },
	{ "alice@example.com store1\nALICE@Example.com store2\n", LOW, NULL,
	    "x.map:2: alice@example.com given twice, first at line 1" },
	{ "alice@example.com store1\nalice store2\n", 0, "example.com",
	    "x.map:2: alice@example.com given twice, first at line 1" },
	{ "Alice store1\nalice@example.com store2\n", LOW, "Example.COM",
	    "x.map:2: alice@example.com given twice, first at line 1" },
	{ "@Example.COM store1\n@example.com store2\n", 0, NULL,
	    "x.map:2: @example.com given twice, first at line 1" },
	{ "*  pool:a\nbob b\n*\tpool:a\n", 0, NULL,
	    "x.map:3: * given twice, first at line 1" },
	{ "* a\n* b\n* c\n", 0, "example.com",
	    "x.map:2: * given twice, first at line 1\n"
	    "x.map:3: * given twice, first at line 1" },

	/* Every mistake, two on one line. */
	{ "a@b@c st*re\nok store1\nbob\n", 0, NULL,
	    "x.map:1: key a@b@c: " ONE_AT "\n"
	    "x.map:1: target st*re: " BAD_TARGET "\n"
	    "x.map:3: bob: " MISSING },
	{ "ok store1\r\nok store1\r\nbad s t\r\n", 0, NULL,
	    "x.map:2: ok given twice, first at line 1\n"
	    "x.map:3: unexpected t after the target s, expected KEY TARGET "
	    "and then only a # comment" },
};

static void
test_bad(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(bad); i++)
		load_bad(bad[i].text, bad[i].flags, bad[i].dd, bad[i].err);
}

/*
 * Keys given twice far apart, among many lines: each reported once,
 * in line order with the other mistakes.
 */
static void
test_dup_far(void **state)
{
	char	*text;
	size_t	 i, n = 0;

	(void)state;
	assert_non_null(text = malloc(200 * 32));
	for (i = 1; i <= 200; i++) {
		if (i == 100 || i == 150)
			n += (size_t)snprintf(text + n, 32, "u7 s\n");
		else if (i == 120 || i == 199)
			n += (size_t)snprintf(text + n, 32, "bad\n");
		else
			n += (size_t)snprintf(text + n, 32, "u%zu s\n", i);
	}
	load_bad(text, 0, NULL,
	    "x.map:100: u7 given twice, first at line 7\n"
	    "x.map:120: bad: " MISSING "\n"
	    "x.map:150: u7 given twice, first at line 7\n"
	    "x.map:199: bad: " MISSING);
	free(text);
}

/* A key as long as a user name may be, and one byte more. */
static void
test_long_key(void **state)
{
	struct routemap	*map;
	char		 key[AUTH_MAX_USER + 16], text[AUTH_MAX_USER + 64];
	char		 want[AUTH_MAX_USER + 256];

	(void)state;
	memset(key, 'a', AUTH_MAX_USER - 1);
	key[AUTH_MAX_USER - 1] = '\0';
	(void)snprintf(text, sizeof(text), "%s s\n", key);
	map = load_good(text, 0, NULL);
	assert_string_equal(lookup(map, key), "s");
	routemap_free(&map);

	key[AUTH_MAX_USER - 1] = 'a';
	key[AUTH_MAX_USER] = '\0';
	(void)snprintf(text, sizeof(text), "%s s\n", key);
	(void)snprintf(want, sizeof(want), "x.map:1: key %s: longer than "
	    "255 characters, the longest user name accepted", key);
	load_bad(text, 0, NULL, want);

	/* The default domain counts. */
	key[AUTH_MAX_USER - 12] = '\0';
	(void)snprintf(text, sizeof(text), "%s s\n", key);
	(void)snprintf(want, sizeof(want), "x.map:1: key %s: longer than "
	    "255 characters with @default_domain, the longest user name "
	    "accepted", key);
	load_bad(text, 0, "example.com", want);
	map = load_good(text, 0, "example.co");
	routemap_free(&map);
}

static void
test_missing(void **state)
{
	struct routemap	*map;

	(void)state;
	map = routemap_load("none.map", 0, NULL, errbuf, sizeof(errbuf));
	assert_null(map);
	assert_string_equal(errbuf, "none.map: cannot open: No such file or "
	    "directory");
	assert_int_equal(mkdir("dir.map", 0755), 0);
	map = routemap_load("dir.map", 0, NULL, errbuf, sizeof(errbuf));
	assert_null(map);
	assert_string_equal(errbuf, "dir.map: not a regular file");
	assert_int_equal(rmdir("dir.map"), 0);
	/* Root reads anything: the mode proves nothing then. */
	if (geteuid() != 0) {
		put("secret.map", "alice s\n");
		assert_int_equal(chmod("secret.map", 0), 0);
		map = routemap_load("secret.map", 0, NULL, errbuf,
		    sizeof(errbuf));
		assert_null(map);
		assert_string_equal(errbuf, "secret.map: cannot open: "
		    "Permission denied");
	}
	/* No room for messages is no reason to crash. */
	map = routemap_load("none.map", 0, NULL, NULL, 0);
	assert_null(map);
}

/*
 * Lines of exactly ROUTEMAP_MAX_LINE characters (CR not counted), one
 * more, and one far longer than the read buffer: each is one message,
 * and the lines after it keep their numbers.
 */
static void
test_long_line(void **state)
{
	struct routemap	*map;
	size_t		 big = 600 * 1024, n;
	char		*text, want[256];

	(void)state;
	assert_non_null(text = malloc(big + 64));
	n = (size_t)snprintf(text, big, "alice s #");
	memset(text + n, 'x', ROUTEMAP_MAX_LINE - n);
	memcpy(text + ROUTEMAP_MAX_LINE, "\r\nbob t\n", 9);
	map = load_good(text, 0, NULL);
	assert_int_equal(routemap_nentries(map), 2);
	routemap_free(&map);

	/* Without a final newline. */
	text[ROUTEMAP_MAX_LINE] = '\0';
	map = load_good(text, 0, NULL);
	assert_int_equal(routemap_nentries(map), 1);
	routemap_free(&map);

	memset(text + n, 'x', ROUTEMAP_MAX_LINE + 1 - n);
	memcpy(text + ROUTEMAP_MAX_LINE + 1, "\nbob t\n", 8);
	(void)snprintf(want, sizeof(want), "x.map:1: line too long, at most "
	    "%d characters", ROUTEMAP_MAX_LINE);
	load_bad(text, 0, NULL, want);
	text[ROUTEMAP_MAX_LINE + 1] = '\0';
	load_bad(text, 0, NULL, want);

	memcpy(text, "a s\nb s\n", 8);
	memset(text + 8, 'y', big);
	memcpy(text + 8 + big, "\nc s\nd\n", 8);
	load_bad(text, 0, NULL, "x.map:3: line too long, at most 1024 "
	    "characters\nx.map:5: d: " MISSING);
	/* At the end, without a newline. */
	text[8 + big] = '\0';
	load_bad(text, 0, NULL, "x.map:3: line too long, at most 1024 "
	    "characters");
	free(text);
}

static void
test_nul(void **state)
{
	(void)state;
	put_len("x.map", "alice s\nbob\0x s\n", 16);
	assert_null(routemap_load("x.map", 0, NULL, errbuf, sizeof(errbuf)));
	assert_string_equal(errbuf, "x.map:2: control character 0x00, "
	    "expected printable text");
}

/* Messages past errlen end in "... more errors", within errlen. */
static void
test_truncate(void **state)
{
	char		 small[200], *text;
	size_t		 i, n = 0;

	(void)state;
	assert_non_null(text = malloc(100 * 16));
	for (i = 0; i < 100; i++)
		n += (size_t)snprintf(text + n, 16, "u%zu\n", i);
	put("x.map", text);
	assert_null(routemap_load("x.map", 0, NULL, small, sizeof(small)));
	assert_true(strlen(small) < sizeof(small));
	assert_string_equal(small, "x.map:1: u0: " MISSING "\n"
	    "x.map:2: u1: " MISSING "\n... more errors");
	free(text);
}

/* Distinct targets beyond ROUTEMAP_MAX_TARGETS. */
static void
test_many_targets(void **state)
{
	struct routemap	*map;
	char		*text, want[256];
	size_t		 i, n = 0;

	(void)state;
	assert_non_null(text = malloc((ROUTEMAP_MAX_TARGETS + 2) * 32));
	for (i = 0; i < ROUTEMAP_MAX_TARGETS; i++)
		n += (size_t)snprintf(text + n, 32, "u%zu %s%zu\n", i,
		    i % 2 ? "pool:" : "", i / 2);
	put("x.map", text);
	map = load_good(text, 0, NULL);
	assert_int_equal(routemap_ntargets(map), ROUTEMAP_MAX_TARGETS);
	assert_string_equal(lookup(map, "u7"), "pool:3");
	routemap_free(&map);
	(void)snprintf(text + n, 32, "u new\nv 0\n");
	(void)snprintf(want, sizeof(want), "x.map:%d: more than %d distinct "
	    "targets, at most one for each back end and pool",
	    ROUTEMAP_MAX_TARGETS + 1, ROUTEMAP_MAX_TARGETS);
	load_bad(text, 0, NULL, want);
	free(text);
}

/*
 * Good files.
 */

static void
test_good(void **state)
{
	static const char *const good[] = {
		"",
		"\n\n",
		"# only comments\n   # indented\n\t#\n",
		"alice s",
		"alice s\r\n",
		"alice s # comment with \x01 control characters \t\n",
		"alice\ts\t#\n",
		"alice s\t# x y z\n",
		"Alice s\nalice s\n",
		"alice@example.com s\nalice s\n",
		"@example.com s\nexample.com s\n",
		"\xc3\xa9lodie@example.com s\n",
		"alice@EXAMPLE..com s\n",
		"* s\n@x s\nx s\n",
	};
	struct routemap	*map;
	size_t		 i;

	(void)state;
	for (i = 0; i < nitems(good); i++) {
		map = load_good(good[i], 0, NULL);
		routemap_free(&map);
	}
	routemap_free(&map);		/* NULL is fine */
}

/* The sample of SPEC.md section 5, its counts and its targets. */
static void
test_targets(void **state)
{
	const struct routemap_target	*t;
	struct routemap			*map;

	(void)state;
	map = load_good(
	    "# KEY                 TARGET\n"
	    "alice@example.com     store1          # one user\n"
	    "@example.com          pool:stores     # every user of a domain\n"
	    "*                     pool:default    # everyone else\n"
	    "bob@example.com       pool:stores\n"
	    "carol@example.com     stores\n"
	    "dave@example.com      store1\n", LOW, NULL);
	assert_int_equal(routemap_nentries(map), 6);
	assert_int_equal(routemap_ntargets(map), 4);
	assert_non_null(t = routemap_target(map, 0));
	assert_string_equal(t->name, "store1");
	assert_int_equal(t->pool, 0);
	assert_int_equal(t->line, 2);
	assert_non_null(t = routemap_target(map, 1));
	assert_string_equal(t->name, "stores");
	assert_int_equal(t->pool, 1);
	assert_int_equal(t->line, 3);
	assert_non_null(t = routemap_target(map, 2));
	assert_string_equal(t->name, "default");
	assert_int_equal(t->pool, 1);
	assert_int_equal(t->line, 4);
	/* A back end and a pool of the same name are two targets. */
	assert_non_null(t = routemap_target(map, 3));
	assert_string_equal(t->name, "stores");
	assert_int_equal(t->pool, 0);
	assert_int_equal(t->line, 6);
	assert_null(routemap_target(map, 4));
	assert_int_equal(routemap_lookup(map, "alice@example.com"), 0);
	assert_int_equal(routemap_lookup(map, "bob@example.com"), 1);
	assert_int_equal(routemap_lookup(map, "eve@example.com"), 1);
	assert_int_equal(routemap_lookup(map, "eve@example.org"), 2);
	assert_int_equal(routemap_lookup(map, "carol@example.com"), 3);
	routemap_free(&map);
	assert_null(map);

	map = load_good("# nothing\n", 0, NULL);
	assert_int_equal(routemap_nentries(map), 0);
	assert_int_equal(routemap_ntargets(map), 0);
	assert_null(routemap_target(map, 0));
	assert_int_equal(routemap_lookup(map, "alice@example.com"), -1);
	assert_int_equal(routemap_lookup(map, ""), -1);
	routemap_free(&map);
}

/* Mostly comments: the table sized for every line shrinks to fit. */
static void
test_comments(void **state)
{
	struct routemap	*map;
	FILE		*f;
	char		 user[32];
	size_t		 i;

	(void)state;
	assert_non_null(f = fopen("x.map", "w"));
	for (i = 0; i < 20000; i++)
		fprintf(f, "# %zu\n%s", i, i % 1000 ? "" : "\n");
	for (i = 0; i < 40; i++)
		fprintf(f, "u%zu s%zu\n", i, i % 3);
	assert_int_equal(fclose(f), 0);
	map = routemap_load("x.map", 0, NULL, errbuf, sizeof(errbuf));
	if (map == NULL)
		fail_msg("%s", errbuf);
	assert_int_equal(routemap_nentries(map), 40);
	for (i = 0; i < 40; i++) {
		(void)snprintf(user, sizeof(user), "u%zu", i);
		assert_int_equal(routemap_lookup(map, user), i % 3);
	}
	assert_int_equal(routemap_lookup(map, "u40"), -1);
	routemap_free(&map);
}

/*
 * Lookups.
 */

struct lookup_case {
	const char	*text;
	int		 flags;
	const char	*dd;
	const char	*user;		/* canonical */
	const char	*want;		/* target as written, "-": none */
};

#define MAP1	"alice@example.com     store1\n" \
		"@example.com          pool:stores\n" \
		"*                     pool:default\n" \
		"Bob@Example.COM       store2\n" \
		"@Example.NET          store3\n" \
		"carol                 store4\n"
#define MAP2	"alice@example.com store1\n" \
		"@example.com pool:stores\n"

static const struct lookup_case lookups[] = {
	/* Exact beats @domain beats *. */
	{ MAP1, 0, NULL, "alice@example.com", "store1" },
	{ MAP1, 0, NULL, "eve@example.com", "pool:stores" },
	{ MAP1, 0, NULL, "eve@example.org", "pool:default" },
	{ MAP1, 0, NULL, "example.com", "pool:default" },
	{ MAP1, 0, NULL, "@example.com", "pool:stores" },
	{ MAP1, 0, NULL, "", "pool:default" },
	{ MAP2, 0, NULL, "alice@example.com", "store1" },
	{ MAP2, 0, NULL, "eve@example.com", "pool:stores" },
	{ MAP2, 0, NULL, "eve@example.org", "-" },
	{ MAP2, 0, NULL, "eve@sub.example.com", "-" },
	{ MAP2, 0, NULL, "eve@", "-" },
	{ MAP2, 0, NULL, "alice@example.com.", "-" },
	/* The domain follows the last "@". */
	{ MAP2, 0, NULL, "a@b@example.com", "pool:stores" },
	{ MAP2, 0, NULL, "a@example.com@b", "-" },

	/* username_case = keep: names exact, domains in any case. */
	{ MAP1, 0, NULL, "Bob@Example.COM", "store2" },
	{ MAP1, 0, NULL, "bob@example.com", "pool:stores" },
	{ MAP1, 0, NULL, "Alice@example.com", "pool:stores" },
	{ MAP1, 0, NULL, "eve@EXAMPLE.com", "pool:stores" },
	{ MAP1, 0, NULL, "eve@example.net", "store3" },
	{ MAP1, 0, NULL, "eve@eXaMpLe.NeT", "store3" },
	/* username_case = lower: keys lower-cased, users come lower. */
	{ MAP1, LOW, NULL, "bob@example.com", "store2" },
	{ MAP1, LOW, NULL, "eve@example.net", "store3" },

	/* Without default_domain, a name without "@" stays one. */
	{ MAP1, 0, NULL, "carol", "store4" },
	{ MAP1, 0, NULL, "carol@example.com", "pool:stores" },
	{ MAP1, 0, NULL, "dave", "pool:default" },
	{ MAP2, 0, NULL, "dave", "-" },
	/* With it, keys without "@" are its users; canonical names too. */
	{ MAP1, 0, "example.com", "carol@example.com", "store4" },
	{ MAP1, 0, "example.com", "carol", "pool:default" },
	{ MAP1, 0, "example.org", "carol@example.org", "store4" },
	{ MAP1, 0, "example.org", "carol@example.com", "pool:stores" },
	{ MAP1, 0, "", "carol", "store4" },
	{ MAP1, LOW, "Example.ORG", "carol@example.org", "store4" },
	{ "Dave s\n", 0, "Example.ORG", "Dave@Example.ORG", "s" },
	{ "Dave s\n", 0, "Example.ORG", "dave@example.org", "-" },
	{ "Dave s\n", LOW, "Example.ORG", "dave@example.org", "s" },
	/* "@domain" and "*" never take the default domain. */
	{ "@example.org s\n* t\n", 0, "example.com", "x@example.org", "s" },
	{ "@example.org s\n* t\n", 0, "example.com", "x@example.com", "t" },

	/* Pools and back ends of the same name stay apart. */
	{ "a s\nb pool:s\n", 0, NULL, "a", "s" },
	{ "a s\nb pool:s\n", 0, NULL, "b", "pool:s" },
	{ "a\tpool:p.1_x-y\r\n", 0, NULL, "a", "pool:p.1_x-y" },

	/* Windows: a byte order mark and CRLF. */
	{ "\xef\xbb\xbf" "alice s\r\nbob t\r\n", 0, NULL, "alice", "s" },
	{ "\xef\xbb\xbf" "alice s\r\nbob t\r\n", 0, NULL, "bob", "t" },
	{ "\xef\xbb\xbf" "# c\r\nalice s\r\n", 0, NULL, "alice", "s" },
};

static void
test_lookup(void **state)
{
	const struct lookup_case	*c;
	struct routemap			*map;
	size_t				 i;

	(void)state;
	for (i = 0; i < nitems(lookups); i++) {
		c = &lookups[i];
		map = load_good(c->text, c->flags, c->dd);
		if (strcmp(lookup(map, c->user), c->want) != 0)
			fail_msg("case %zu: %s (flags %d, default_domain %s): "
			    "got %s, expected %s", i, c->user, c->flags,
			    c->dd != NULL ? c->dd : "none",
			    lookup(map, c->user), c->want);
		routemap_free(&map);
	}
}

/*
 * A large map.
 */

/* The target of generated line i: back ends, and every fifth a pool. */
static void
big_target(size_t i, char *buf, size_t len)
{
	if (i % 5 == 0)
		(void)snprintf(buf, len, "pool:pool%zu", i / 5 % BIG_POOLS);
	else
		(void)snprintf(buf, len, "store%zu", i / 5 % BIG_BACKENDS);
}

static void
big_user(size_t i, char *buf, size_t len)
{
	(void)snprintf(buf, len, "user%zu@dom%zu.example", i,
	    i % BIG_DOMAINS);
}

static void
test_big(void **state)
{
	struct routemap	*map;
	FILE		*f;
	char		 user[64], want[64];
	size_t		 i;

	(void)state;
	assert_non_null(f = fopen("big.map", "w"));
	fprintf(f, "# generated: %d users\n", BIG_LINES);
	for (i = 0; i < BIG_LINES - 2; i++) {
		big_user(i, user, sizeof(user));
		big_target(i, want, sizeof(want));
		/* Mixed case: ROUTEMAP_LOWER folds it. */
		if (i % 7 == 0)
			user[0] = 'U';
		fprintf(f, "%s%s%s\n", user, i % 3 ? " " : "\t\t", want);
	}
	fprintf(f, "@dom1.example store0\n* pool:rest\n");
	assert_int_equal(fclose(f), 0);
	map = routemap_load("big.map", ROUTEMAP_LOWER, NULL, errbuf,
	    sizeof(errbuf));
	if (map == NULL)
		fail_msg("%s", errbuf);
	assert_int_equal(routemap_nentries(map), BIG_LINES);
	assert_int_equal(routemap_ntargets(map), BIG_BACKENDS + BIG_POOLS +
	    1);
	for (i = 0; i < BIG_LINES - 2; i++) {
		big_user(i, user, sizeof(user));
		big_target(i, want, sizeof(want));
		if (strcmp(lookup(map, user), want) != 0)
			fail_msg("%s: got %s, expected %s", user,
			    lookup(map, user), want);
	}
	/* Absent users: their domain's line, else "*". */
	assert_string_equal(lookup(map, "nobody@dom1.example"), "store0");
	assert_string_equal(lookup(map, "nobody@dom2.example"), "pool:rest");
	assert_string_equal(lookup(map, "user1@dom2.example"), "pool:rest");
	routemap_free(&map);
	assert_int_equal(unlink("big.map"), 0);
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
	(void)snprintf(tmpdir, sizeof(tmpdir), "%s/test_routemap.XXXXXX",
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
		cmocka_unit_test(test_dup_far),
		cmocka_unit_test(test_long_key),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_many_targets),
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_targets),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_big),
	};

	return (cmocka_run_group_tests(tests, group_setup, group_teardown));
}
