/*
 * geo.c: databases written by tests/system/mkmmdb.pl into a temporary
 * folder (MaxMind Country, City, ASN and Enterprise layouts, DB-IP's
 * Country and ASN, an IPv4-only tree, files without records), opened
 * alone and in every combination: what each file holds, country and ASN
 * lookups of IPv4, IPv6 and IPv4-mapped addresses, the order rules, and
 * the exact configuration messages for bad files.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <maxminddb.h>

#include "bounds.h"
#include "conf.h"
#include "geo.h"

#define CONF_PATH	"/etc/imapproxy/test.conf"
#define CONF_LINE	7
/* Short, so that every expected message fits its buffer. */
#define TEST_PATH_MAX	256
#define MAX_RECORDS	8
#define MAX_OPTS	4

/*
 * The fixture networks.  The same addresses map to different answers in
 * different files, so that each lookup shows which file answered.
 *	127.0.0.16/28	in every file
 *	127.0.0.32/28	registered_country only (Country)
 *	127.0.0.48/28	Country and ASN, Enterprise without ASN, not City
 *			or DB-IP
 *	127.0.0.64/28	Country, City without a country
 *	2001:db8:1::/48	IPv6
 */
enum {
	DB_COUNTRY,	/* GeoLite2-Country */
	DB_ASN,		/* GeoLite2-ASN */
	DB_CITY,	/* GeoLite2-City */
	DB_DBIP_COUNTRY, /* DBIP-Country-Lite */
	DB_DBIP_ASN,	/* DBIP-ASN-Lite (compat=GeoLite2-ASN) */
	DB_ENTERPRISE,	/* GeoIP2-Enterprise: ASN under traits */
	DB_V4,		/* GeoLite2-Country, ip_version 4 */
	DB_ASN_RENAMED,	/* ASN layout, database_type "Example-Data" */
	DB_EMPTY_COUNTRY, /* no records, GeoLite2-Country */
	DB_EMPTY_OTHER,	/* no records, database_type "Example-Empty" */
	DB_FLAT,	/* country and asn as top-level strings */
	DB_N
};

static const struct {
	const char	*file;
	const char	*type;
	const char	*opts[MAX_OPTS];
	const char	*records[MAX_RECORDS];
} dbdef[DB_N] = {
	[DB_COUNTRY] = { "country.mmdb", "country", { NULL }, {
		"127.0.0.16/28 country=RU",
		"127.0.0.32/28 registered=de",
		"127.0.0.48/28 country=US",
		"127.0.0.64/28 country=SE",
		"2001:db8:1::/48 country=KP",
		NULL } },
	[DB_ASN] = { "asn.mmdb", "asn", { NULL }, {
		"127.0.0.16/28 asn=64496 org=\"Example Net\"",
		"127.0.0.48/28 asn=64499",
		"2001:db8:1::/48 asn=4200000001",
		NULL } },
	[DB_CITY] = { "city.mmdb", "city", { NULL }, {
		"127.0.0.16/28 country=FR city=Paris",
		"127.0.0.64/28 city=Nowhere",
		"2001:db8:1::/48 country=JP city=Tokyo",
		NULL } },
	[DB_DBIP_COUNTRY] = { "dbip-country.mmdb", "dbip-country", { NULL }, {
		"127.0.0.16/28 country=CN",
		"2001:db8:1::/48 country=GB",
		NULL } },
	[DB_DBIP_ASN] = { "dbip-asn.mmdb", "dbip-asn", { NULL }, {
		"127.0.0.16/28 asn=65000",
		"2001:db8:1::/48 asn=65001",
		NULL } },
	[DB_ENTERPRISE] = { "enterprise.mmdb", "enterprise", { NULL }, {
		"127.0.0.16/28 country=NL asn=64510",
		"127.0.0.48/28 country=IT",
		NULL } },
	[DB_V4] = { "v4.mmdb", "country", { "--ip-version", "4", NULL }, {
		"127.0.0.16/28 country=DE",
		NULL } },
	[DB_ASN_RENAMED] = { "renamed.mmdb", "asn",
	    { "--database-type", "Example-Data", NULL }, {
		"127.0.0.16/28 asn=64511",
		NULL } },
	[DB_EMPTY_COUNTRY] = { "empty-country.mmdb", "country", { NULL },
	    { NULL } },
	[DB_EMPTY_OTHER] = { "empty-other.mmdb", "country",
	    { "--database-type", "Example-Empty", NULL }, { NULL } },
	[DB_FLAT] = { "flat.mmdb", "flat", { NULL }, {
		"127.0.0.16/28 country=RU asn=64496",
		NULL } }
};

static char	 tmpdir[TEST_PATH_MAX];
static char	 dbpath[DB_N][TEST_PATH_MAX];
static char	 corrupt[TEST_PATH_MAX];	/* random bytes */
static char	 baddata[TEST_PATH_MAX];	/* a good tree, bad data */
static char	 empty[TEST_PATH_MAX];		/* zero bytes */
static char	 missing[TEST_PATH_MAX];

static void
path_in_tmp(char *buf, const char *name)
{
	int	 n;

	n = snprintf(buf, TEST_PATH_MAX, "%s/%s", tmpdir, name);
	assert_true(n > 0 && n < TEST_PATH_MAX);
}

/* $MKMMDB, else tests/system/mkmmdb.pl beside this file's folder. */
static int
mkmmdb_path(char *buf, size_t buflen)
{
	const char	*env = getenv("MKMMDB"), *f = __FILE__, *slash;
	size_t		 n;

	if (env != NULL)
		return snprintf(buf, buflen, "%s", env) < (int)buflen ? 0 : -1;
	if ((slash = strstr(f, "unit/test_geo.c")) == NULL)
		return -1;
	n = (size_t)(slash - f);
	return snprintf(buf, buflen, "%.*ssystem/mkmmdb.pl", (int)n, f) <
	    (int)buflen ? 0 : -1;
}

/* Runs mkmmdb.pl for dbdef[i], stdin from /dev/null.  Returns 0 or -1. */
static int
mkmmdb(size_t i)
{
	char		 script[TEST_PATH_MAX];
	const char	*argv[4 + MAX_OPTS + 1 + MAX_RECORDS + 1];
	size_t		 n = 0, j;
	pid_t		 pid;
	int		 status, fd;

	if (mkmmdb_path(script, sizeof(script)) == -1)
		return -1;
	argv[n++] = "perl";
	argv[n++] = script;
	argv[n++] = "--type";
	argv[n++] = dbdef[i].type;
	for (j = 0; dbdef[i].opts[j] != NULL; j++)
		argv[n++] = dbdef[i].opts[j];
	argv[n++] = dbpath[i];
	for (j = 0; dbdef[i].records[j] != NULL; j++)
		argv[n++] = dbdef[i].records[j];
	argv[n] = NULL;
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		if ((fd = open("/dev/null", O_RDONLY)) != -1)
			(void)dup2(fd, 0);
		/* execvp() takes char *const[]; it does not write them. */
		execvp("perl", (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "test_geo: %s failed for %s\n", script,
		    dbdef[i].file);
		return -1;
	}
	return 0;
}

static int
write_file(const char *path, const void *buf, size_t len)
{
	FILE	*f;
	int	 rc = 0;

	if ((f = fopen(path, "wb")) == NULL)
		return -1;
	if (fwrite(buf, 1, len, f) != len)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

/*
 * Copies the Country file with every byte of its data section set to
 * 0xff: the search tree and the metadata stay valid, so MMDB_open()
 * succeeds, but no record decodes.
 */
static int
write_baddata(const char *from, const char *to)
{
	static const char	 marker[] = "\xab\xcd\xefMaxMind.com";
	MMDB_s			 mmdb;
	unsigned char		*buf = NULL, *meta;
	size_t			 len, start;
	FILE			*f;
	struct stat		 sb;
	int			 rc = -1;

	if (MMDB_open(from, MMDB_MODE_MMAP, &mmdb) != MMDB_SUCCESS)
		return -1;
	start = (size_t)mmdb.metadata.node_count *
	    mmdb.metadata.record_size / 4 + 16;
	MMDB_close(&mmdb);
	if (stat(from, &sb) == -1 || (len = (size_t)sb.st_size) <= start ||
	    (buf = malloc(len)) == NULL || (f = fopen(from, "rb")) == NULL)
		goto done;
	if (fread(buf, 1, len, f) != len) {
		fclose(f);
		goto done;
	}
	fclose(f);
	meta = memmem(buf, len, marker, sizeof(marker) - 1);
	if (meta == NULL || (size_t)(meta - buf) <= start)
		goto done;
	memset(buf + start, 0xff, (size_t)(meta - buf) - start);
	rc = write_file(to, buf, len);
done:
	free(buf);
	return rc;
}

static int	 group_teardown(void **);

static int
group_setup(void **state)
{
	const char	*t = getenv("TMPDIR");
	unsigned char	 rnd[4096];
	uint32_t	 x = 2463534242u;
	size_t		 i;

	(void)state;
	if (snprintf(tmpdir, sizeof(tmpdir), "%s/test_geo.XXXXXX",
	    t != NULL ? t : "/tmp") >= (int)sizeof(tmpdir) ||
	    mkdtemp(tmpdir) == NULL)
		return -1;
	for (i = 0; i < DB_N; i++)
		path_in_tmp(dbpath[i], dbdef[i].file);
	path_in_tmp(corrupt, "corrupt.mmdb");
	path_in_tmp(baddata, "baddata.mmdb");
	path_in_tmp(empty, "empty.mmdb");
	path_in_tmp(missing, "missing.mmdb");
	for (i = 0; i < DB_N; i++)
		if (mkmmdb(i) == -1)
			goto fail;
	/* Random bytes, from a fixed xorshift seed. */
	for (i = 0; i < sizeof(rnd); i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		rnd[i] = (unsigned char)x;
	}
	if (write_file(corrupt, rnd, sizeof(rnd)) == -1 ||
	    write_file(empty, "", 0) == -1 ||
	    write_baddata(dbpath[DB_COUNTRY], baddata) == -1)
		goto fail;
	return 0;

fail:
	(void)group_teardown(state);
	return -1;
}

static int
group_teardown(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < DB_N; i++)
		unlink(dbpath[i]);
	unlink(corrupt);
	unlink(baddata);
	unlink(empty);
	rmdir(tmpdir);
	return 0;
}

/* A conf naming the given files, in order, on line CONF_LINE. */
static void
conf_init(struct conf *c, char **paths, const char *const *files,
    size_t n)
{
	size_t	 i;

	memset(c, 0, sizeof(*c));
	c->path = (char *)(uintptr_t)CONF_PATH;
	for (i = 0; i < n; i++)
		paths[i] = (char *)(uintptr_t)files[i];
	c->geoip_db = paths;
	c->ngeoip_db = n;
	c->line_geoip_db = CONF_LINE;
}

/* Opens the fixture databases which[0..n), which must succeed. */
static struct geo *
open_dbs(const int *which, size_t n)
{
	struct conf	 c;
	const char	*files[CONF_MAX_GEOIP];
	char		*paths[CONF_MAX_GEOIP], err[1024];
	struct geo	*geo;
	size_t		 i;

	assert_true(n <= CONF_MAX_GEOIP);
	for (i = 0; i < n; i++)
		files[i] = dbpath[which[i]];
	conf_init(&c, paths, files, n);
	geo = geo_open(&c, err, sizeof(err));
	if (geo == NULL)
		fail_msg("geo_open: %s", err);
	assert_string_equal(err, "");
	return geo;
}

static void
sa_parse(const char *ip, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*in = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(40000);
		return;
	}
	assert_int_equal(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(40000);
}

/* Looks ip up and checks the answer. */
static void
check_lookup(const struct geo *geo, const char *ip, const char *country,
    uint32_t asn)
{
	struct sockaddr_storage	 ss;
	char			 cc[3] = "??";
	uint32_t		 a = 12345;

	sa_parse(ip, &ss);
	if (geo_lookup(geo, (struct sockaddr *)&ss, cc, &a) != 0)
		fail_msg("geo_lookup %s failed", ip);
	if (strcmp(cc, country) != 0 || a != asn)
		fail_msg("%s: got \"%s\" %u, expected \"%s\" %u", ip, cc,
		    (unsigned int)a, country, (unsigned int)asn);
}

/* What each file holds, alone. */
static void
test_open_each(void **state)
{
	static const struct {
		int	 db, country, asn;
	} t[] = {
		{ DB_COUNTRY, 1, 0 },
		{ DB_ASN, 0, 1 },
		{ DB_CITY, 1, 0 },
		{ DB_DBIP_COUNTRY, 1, 0 },
		{ DB_DBIP_ASN, 0, 1 },
		{ DB_ENTERPRISE, 1, 1 },
		{ DB_V4, 1, 0 },
		{ DB_ASN_RENAMED, 0, 1 },	/* by content */
		{ DB_EMPTY_COUNTRY, 1, 0 }	/* by database_type */
	};
	struct geo	*geo;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		geo = open_dbs(&t[i].db, 1);
		if (geo_has_country(geo) != t[i].country ||
		    geo_has_asn(geo) != t[i].asn)
			fail_msg("%s: has_country %d has_asn %d",
			    dbdef[t[i].db].file, geo_has_country(geo),
			    geo_has_asn(geo));
		geo_free(&geo);
		assert_null(geo);
	}
}

/* No geoip_db: an empty struct geo that knows nothing. */
static void
test_open_none(void **state)
{
	struct conf	 c;
	char		 err[64] = "stale";
	struct geo	*geo;

	(void)state;
	conf_init(&c, NULL, NULL, 0);
	geo = geo_open(&c, err, sizeof(err));
	assert_non_null(geo);
	assert_string_equal(err, "");
	assert_int_equal(geo_has_country(geo), 0);
	assert_int_equal(geo_has_asn(geo), 0);
	check_lookup(geo, "127.0.0.17", "", 0);
	check_lookup(geo, "2001:db8:1::1", "", 0);
	geo_free(&geo);
	geo = geo_open(NULL, err, sizeof(err));
	assert_non_null(geo);
	geo_free(&geo);
	geo_free(&geo);
	geo_free(NULL);
	assert_int_equal(geo_has_country(NULL), 0);
	assert_int_equal(geo_has_asn(NULL), 0);
}

/*
 * Every non-empty subset of Country, ASN, City and DB-IP Country, in
 * that order and reversed: the flags are the union, 127.0.0.17 gets the
 * country of the first file with country data and the ASN of the ASN
 * file.
 */
static void
test_open_combinations(void **state)
{
	static const int	 pool[] = { DB_COUNTRY, DB_ASN, DB_CITY,
				    DB_DBIP_COUNTRY };
	static const char	*cc17[] = { "RU", "", "FR", "CN" };
	const size_t		 npool = sizeof(pool) / sizeof(pool[0]);
	struct geo		*geo;
	const char		*want_cc;
	int			 which[4], has_c, has_a;
	unsigned int		 mask;
	size_t			 n, i, k, rev;

	(void)state;
	for (mask = 1; mask < (1u << npool); mask++) {
		for (rev = 0; rev < 2; rev++) {
			n = 0;
			for (k = 0; k < npool; k++) {
				i = rev ? npool - 1 - k : k;
				if (mask & (1u << i))
					which[n++] = (int)i;
			}
			has_c = has_a = 0;
			want_cc = "";
			for (k = 0; k < n; k++) {
				if (pool[which[k]] == DB_ASN)
					has_a = 1;
				else if (!has_c) {
					has_c = 1;
					want_cc = cc17[which[k]];
				}
				which[k] = pool[which[k]];
			}
			geo = open_dbs(which, n);
			assert_int_equal(geo_has_country(geo), has_c);
			assert_int_equal(geo_has_asn(geo), has_a);
			check_lookup(geo, "127.0.0.17", want_cc,
			    has_a ? 64496 : 0);
			check_lookup(geo, "::ffff:127.0.0.17", want_cc,
			    has_a ? 64496 : 0);
			check_lookup(geo, "127.0.0.1", "", 0);
			geo_free(&geo);
		}
	}
}

/* Country and ASN files together: IPv4, IPv6, mapped, unknown. */
static void
test_lookup(void **state)
{
	static const int	 which[] = { DB_COUNTRY, DB_ASN };
	static const struct {
		const char	*ip, *country;
		uint32_t	 asn;
	} t[] = {
		{ "127.0.0.16", "RU", 64496 },
		{ "127.0.0.17", "RU", 64496 },
		{ "127.0.0.31", "RU", 64496 },
		{ "::ffff:127.0.0.17", "RU", 64496 },
		{ "127.0.0.33", "DE", 0 },	/* registered_country */
		{ "::ffff:127.0.0.33", "DE", 0 },
		{ "127.0.0.49", "US", 64499 },
		{ "2001:db8:1::", "KP", 4200000001u },
		{ "2001:db8:1:ffff:ffff:ffff:ffff:ffff", "KP", 4200000001u },
		{ "127.0.0.1", "", 0 },
		{ "127.0.0.15", "", 0 },
		{ "127.0.0.65", "SE", 0 },
		{ "127.0.0.80", "", 0 },
		{ "::ffff:127.0.0.1", "", 0 },
		{ "8.8.8.8", "", 0 },
		{ "0.0.0.0", "", 0 },
		{ "255.255.255.255", "", 0 },
		{ "::", "", 0 },
		{ "::1", "", 0 },
		{ "2001:db8:2::1", "", 0 },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "", 0 }
	};
	struct geo	*geo;
	size_t		 i;

	(void)state;
	geo = open_dbs(which, 2);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		check_lookup(geo, t[i].ip, t[i].country, t[i].asn);
	geo_free(&geo);
}

/* City, DB-IP and Enterprise layouts answer IPv6 and mapped too. */
static void
test_lookup_layouts(void **state)
{
	static const struct {
		int		 db;
		const char	*ip, *country;
		uint32_t	 asn;
	} t[] = {
		{ DB_CITY, "127.0.0.17", "FR", 0 },
		{ DB_CITY, "::ffff:127.0.0.17", "FR", 0 },
		{ DB_CITY, "2001:db8:1::5", "JP", 0 },
		{ DB_CITY, "127.0.0.49", "", 0 },
		{ DB_CITY, "127.0.0.65", "", 0 },
		{ DB_DBIP_COUNTRY, "127.0.0.17", "CN", 0 },
		{ DB_DBIP_COUNTRY, "::ffff:127.0.0.17", "CN", 0 },
		{ DB_DBIP_COUNTRY, "2001:db8:1::5", "GB", 0 },
		{ DB_DBIP_ASN, "127.0.0.17", "", 65000 },
		{ DB_DBIP_ASN, "::ffff:127.0.0.17", "", 65000 },
		{ DB_DBIP_ASN, "2001:db8:1::5", "", 65001 },
		{ DB_ENTERPRISE, "127.0.0.17", "NL", 64510 },
		{ DB_ENTERPRISE, "::ffff:127.0.0.17", "NL", 64510 },
		{ DB_ASN_RENAMED, "127.0.0.17", "", 64511 },
		{ DB_EMPTY_COUNTRY, "127.0.0.17", "", 0 },
		{ DB_EMPTY_COUNTRY, "2001:db8:1::5", "", 0 },
		/* An IPv4-only tree: mapped is IPv4, IPv6 is unknown. */
		{ DB_V4, "127.0.0.17", "DE", 0 },
		{ DB_V4, "::ffff:127.0.0.17", "DE", 0 },
		{ DB_V4, "127.0.0.1", "", 0 },
		{ DB_V4, "2001:db8:1::5", "", 0 },
		{ DB_V4, "::1", "", 0 }
	};
	struct geo	*geo;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		geo = open_dbs(&t[i].db, 1);
		check_lookup(geo, t[i].ip, t[i].country, t[i].asn);
		geo_free(&geo);
	}
}

/*
 * The order rules: each field from the first file, in geoip_db order,
 * whose record for the address has it; later files fill the gaps.
 */
static void
test_order(void **state)
{
	static const struct {
		int		 which[4];
		size_t		 n;
		const char	*ip, *country;
		uint32_t	 asn;
	} t[] = {
		{ { DB_CITY, DB_COUNTRY }, 2, "127.0.0.17", "FR", 0 },
		{ { DB_COUNTRY, DB_CITY }, 2, "127.0.0.17", "RU", 0 },
		{ { DB_CITY, DB_COUNTRY }, 2, "2001:db8:1::5", "JP", 0 },
		{ { DB_COUNTRY, DB_CITY }, 2, "2001:db8:1::5", "KP", 0 },
		/* not in City: the Country file answers */
		{ { DB_CITY, DB_COUNTRY }, 2, "127.0.0.49", "US", 0 },
		{ { DB_CITY, DB_COUNTRY }, 2, "127.0.0.33", "DE", 0 },
		/* in City without a country: the Country file answers */
		{ { DB_CITY, DB_COUNTRY }, 2, "127.0.0.65", "SE", 0 },
		{ { DB_ASN, DB_DBIP_ASN }, 2, "127.0.0.17", "", 64496 },
		{ { DB_DBIP_ASN, DB_ASN }, 2, "127.0.0.17", "", 65000 },
		{ { DB_DBIP_ASN, DB_ASN }, 2, "127.0.0.49", "", 64499 },
		/* ASN files in front do not hide the country */
		{ { DB_DBIP_ASN, DB_ASN, DB_DBIP_COUNTRY, DB_COUNTRY }, 4,
		    "127.0.0.17", "CN", 65000 },
		{ { DB_DBIP_ASN, DB_ASN, DB_DBIP_COUNTRY, DB_COUNTRY }, 4,
		    "::ffff:127.0.0.49", "US", 64499 },
		/* Enterprise has both and, first, answers both */
		{ { DB_ENTERPRISE, DB_COUNTRY, DB_ASN }, 3, "127.0.0.17",
		    "NL", 64510 },
		{ { DB_COUNTRY, DB_ASN, DB_ENTERPRISE }, 3, "127.0.0.17",
		    "RU", 64496 },
		/* Enterprise's record has no ASN: the ASN file answers */
		{ { DB_ENTERPRISE, DB_COUNTRY, DB_ASN }, 3, "127.0.0.49",
		    "IT", 64499 },
		/* an IPv4-only file in front of an IPv6 one */
		{ { DB_V4, DB_COUNTRY }, 2, "127.0.0.17", "DE", 0 },
		{ { DB_V4, DB_COUNTRY }, 2, "2001:db8:1::5", "KP", 0 },
		{ { DB_EMPTY_COUNTRY, DB_COUNTRY }, 2, "127.0.0.17", "RU", 0 }
	};
	struct geo	*geo;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		geo = open_dbs(t[i].which, t[i].n);
		check_lookup(geo, t[i].ip, t[i].country, t[i].asn);
		geo_free(&geo);
	}
}

/* Not an IP address: unknown, not an error. */
static void
test_lookup_other_family(void **state)
{
	static const int	 which[] = { DB_COUNTRY, DB_ASN };
	struct sockaddr_un	 sun;
	struct geo		*geo;
	char			 cc[3] = "??";
	uint32_t		 asn = 1;

	(void)state;
	geo = open_dbs(which, 2);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_int_equal(geo_lookup(geo, (struct sockaddr *)&sun, cc, &asn),
	    0);
	assert_string_equal(cc, "");
	assert_int_equal(asn, 0);
	geo_free(&geo);
}

static void *
lookup_thread(void *arg)
{
	const struct geo	*geo = arg;
	struct sockaddr_storage	 v4, v6, mapped;
	char			 cc[3];
	uint32_t		 asn;
	int			 i, bad = 0;

	sa_parse("127.0.0.17", &v4);
	sa_parse("2001:db8:1::5", &v6);
	sa_parse("::ffff:127.0.0.49", &mapped);
	for (i = 0; i < 2000; i++) {
		if (geo_lookup(geo, (struct sockaddr *)&v4, cc, &asn) != 0 ||
		    strcmp(cc, "RU") != 0 || asn != 64496)
			bad++;
		if (geo_lookup(geo, (struct sockaddr *)&v6, cc, &asn) != 0 ||
		    strcmp(cc, "KP") != 0 || asn != 4200000001u)
			bad++;
		if (geo_lookup(geo, (struct sockaddr *)&mapped, cc, &asn) !=
		    0 || strcmp(cc, "US") != 0 || asn != 64499)
			bad++;
	}
	return bad == 0 ? arg : NULL;
}

/* One struct geo shared by threads, as the workers share it. */
static void
test_threads(void **state)
{
	static const int	 which[] = { DB_COUNTRY, DB_ASN };
	pthread_t		 tid[4];
	struct geo		*geo;
	void			*ret;
	size_t			 i;

	(void)state;
	geo = open_dbs(which, 2);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&tid[i], NULL, lookup_thread,
		    geo), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(tid[i], &ret), 0);
		assert_ptr_equal(ret, geo);
	}
	geo_free(&geo);
}

/* Each bad file is reported on its own line; nothing is opened. */
static void
test_errors(void **state)
{
	static const char	*flat_why = "neither country nor ASN data "
	    "(database_type \"Flat-Country-ASN\"), expected a Country, "
	    "City or ASN database as MaxMind and DB-IP ship them";
	static const char	*empty_why = "neither country nor ASN data "
	    "(database_type \"Example-Empty\"), expected a Country, City or "
	    "ASN database as MaxMind and DB-IP ship them";
	const struct {
		const char	*path;
		const char	*why;
	} t[] = {
		{ missing, "No such file or directory" },
		{ corrupt, "The MaxMind DB file contains invalid metadata" },
		{ empty, "empty file, expected a MaxMind DB (.mmdb)" },
		{ tmpdir, "Is a directory" },
		{ "/dev/null", "not a regular file" },
		{ baddata, "The MaxMind DB file's data section contains bad "
		    "data (unknown data type or corrupt data)" },
		{ dbpath[DB_FLAT], flat_why },
		{ dbpath[DB_EMPTY_OTHER], empty_why }
	};
	struct conf	 c;
	const char	*files[3];
	char		*paths[3], err[2048], want[2048];
	struct geo	*geo;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		/* Alone, and after a good file. */
		files[0] = t[i].path;
		conf_init(&c, paths, files, 1);
		assert_null(geo_open(&c, err, sizeof(err)));
		snprintf(want, sizeof(want), "%s:%d: [global] geoip_db: "
		    "%s: %s", CONF_PATH, CONF_LINE, t[i].path, t[i].why);
		assert_string_equal(err, want);

		files[0] = dbpath[DB_COUNTRY];
		files[1] = t[i].path;
		conf_init(&c, paths, files, 2);
		assert_null(geo_open(&c, err, sizeof(err)));
		assert_string_equal(err, want);
	}

	/* Every bad file, one line each, the good one between them. */
	files[0] = missing;
	files[1] = dbpath[DB_ASN];
	files[2] = corrupt;
	conf_init(&c, paths, files, 3);
	geo = geo_open(&c, err, sizeof(err));
	assert_null(geo);
	snprintf(want, sizeof(want),
	    "%s:%d: [global] geoip_db: %s: No such file or directory\n"
	    "%s:%d: [global] geoip_db: %s: The MaxMind DB file contains "
	    "invalid metadata", CONF_PATH, CONF_LINE, missing, CONF_PATH,
	    CONF_LINE, corrupt);
	assert_string_equal(err, want);

	/*
	 * A short buffer keeps whole lines: the first and room for the
	 * "\n... more errors" that stands for the second.
	 */
	snprintf(want, sizeof(want), "%s:%d: [global] geoip_db: %s: No such "
	    "file or directory", CONF_PATH, CONF_LINE, missing);
	i = strlen(want);
	assert_null(geo_open(&c, err, i + 17));
	strncat(want, "\n... more errors", sizeof(want) - i - 1);
	assert_string_equal(err, want);
	/* Too short for even that line: a string all the same. */
	assert_null(geo_open(&c, err, 10));
	assert_string_equal(err, "... more ");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_each),
		cmocka_unit_test(test_open_none),
		cmocka_unit_test(test_open_combinations),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_lookup_layouts),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_lookup_other_family),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_errors)
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
