/*
 * Unit tests for the compiled address index (acl/netidx.c): a table of
 * edge cases (n = 0, /0, hosts, the top and bottom addresses, nesting,
 * duplicates, both families at once), then a property test comparing
 * the index with a brute-force scan over random entry sets, on
 * addresses chosen at and around the entries' bounds.
 */
#include <sys/socket.h>
#include <arpa/inet.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acl_netidx.h"

/* Property test: fixed seed, bounded work (seconds under valgrind). */
#define PROP_SEED	0x5eed1dc0ffee2024ULL
#define PROP_SETS	1500
#define PROP_MAX_ENTRIES 48
#define PROP_PROBES	200

struct net_case {
	const char	*name;
	const char	*entries[8];	/* "ADDR/PREFIX=RULE", NULL ends */
	const char	*probes[12];	/* "ADDR=RULE", rule -1: none */
};

static const struct net_case net_cases[] = {
	{ "empty", { NULL },
	    { "0.0.0.0=-1", "255.255.255.255=-1", "::=-1", "::1=-1" } },
	{ "v4 /0 covers all v4, no v6", { "0.0.0.0/0=7" },
	    { "0.0.0.0=7", "255.255.255.255=7", "10.1.2.3=7", "::=-1",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff=-1" } },
	{ "v6 /0 covers all v6, no v4", { "::/0=3" },
	    { "::=3", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff=3",
	    "2001:db8::1=3", "0.0.0.0=-1", "255.255.255.255=-1" } },
	{ "v4 host", { "192.0.2.7/32=4" },
	    { "192.0.2.7=4", "192.0.2.6=-1", "192.0.2.8=-1", "0.0.0.0=-1",
	    "255.255.255.255=-1" } },
	{ "v6 host", { "2001:db8::7/128=4" },
	    { "2001:db8::7=4", "2001:db8::6=-1", "2001:db8::8=-1",
	    "::=-1" } },
	{ "v4 top host", { "255.255.255.255/32=1" },
	    { "255.255.255.255=1", "255.255.255.254=-1", "0.0.0.0=-1" } },
	{ "v4 top net", { "255.255.255.0/24=1", "255.255.255.128/25=0" },
	    { "255.255.255.255=0", "255.255.255.127=1",
	    "255.255.255.0=1", "255.255.254.255=-1" } },
	{ "v6 top host",
	    { "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128=2" },
	    { "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff=2",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe=-1", "::=-1" } },
	{ "v6 top net", { "ffff::/16=9", "::/1=8" },
	    { "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff=9", "ffff::=9",
	    "fffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff=-1",
	    "7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff=8", "8000::=-1" } },
	{ "bottom hosts", { "0.0.0.0/32=5", "::/128=6" },
	    { "0.0.0.0=5", "0.0.0.1=-1", "::=6", "::1=-1" } },
	{ "nested, inner lower",
	    { "10.0.0.0/8=5", "10.1.0.0/16=2", "10.1.2.0/24=7" },
	    { "10.1.2.3=2", "10.1.0.0=2", "10.1.255.255=2", "10.2.0.0=5",
	    "10.0.255.255=5", "10.0.0.0=5", "10.255.255.255=5",
	    "9.255.255.255=-1", "11.0.0.0=-1" } },
	{ "nested, outer lower", { "10.1.2.0/24=1", "10.0.0.0/8=0" },
	    { "10.1.2.3=0", "10.0.0.1=0", "11.0.0.0=-1" } },
	{ "same start, nested", { "10.0.0.0/24=4", "10.0.0.0/8=6",
	    "10.0.0.0/32=9" },
	    { "10.0.0.0=4", "10.0.0.255=4", "10.0.1.0=6", "9.0.0.0=-1" } },
	{ "duplicates, lowest rule wins",
	    { "192.0.2.0/24=9", "192.0.2.0/24=3", "192.0.2.0/24=5",
	    "192.0.2.1/32=8", "192.0.2.1/32=8" },
	    { "192.0.2.1=3", "192.0.2.0=3", "192.0.2.255=3",
	    "192.0.3.0=-1" } },
	{ "host bits ignored", { "10.1.2.3/8=1", "2001:db8::1/32=2" },
	    { "10.0.0.0=1", "10.255.255.255=1", "2001:db8:ffff::=2",
	    "2001:db9::=-1" } },
	{ "same bytes, two families", { "1.2.3.4/32=1", "102:304::/32=2" },
	    { "1.2.3.4=1", "102:304::=2", "102:304::1=2", "1.2.3.5=-1" } },
	{ "disjoint with gaps", { "10.0.0.0/8=1", "12.0.0.0/8=1",
	    "2001:db8::/32=0", "2001:db8:2::/48=1" },
	    { "10.0.0.0=1", "11.0.0.0=-1", "12.255.255.255=1",
	    "13.0.0.0=-1", "2001:db8:2::=0", "2001:db9::=-1" } },
	{ "highest rule index", { "0.0.0.0/0=4294967295" },
	    { "1.1.1.1=4294967295" } },
};

/* "ADDR" to family and bytes; fails the test on a typo in the table. */
static int
parse_addr(const char *s, unsigned char *addr)
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, s, addr) == 1)
		return AF_INET6;
	fail_msg("bad address in table: %s", s);
	return -1;
}

static void
parse_entry(const char *s, struct acl_net_entry *e)
{
	char		 buf[64];
	unsigned long	 rule;
	char		*slash, *eq;

	assert_true(strlen(s) < sizeof(buf));
	memcpy(buf, s, strlen(s) + 1);
	slash = strchr(buf, '/');
	eq = strchr(buf, '=');
	assert_non_null(slash);
	assert_non_null(eq);
	*slash = *eq = '\0';
	memset(e, 0, sizeof(*e));
	e->family = parse_addr(buf, e->addr);
	e->prefix = atoi(slash + 1);
	rule = strtoul(eq + 1, NULL, 10);
	e->rule = (uint32_t)rule;
}

static void
test_table(void **state)
{
	const struct net_case	*c;
	struct acl_net_entry	 e[8];
	struct acl_netidx	*idx;
	unsigned char		 addr[16];
	char			 buf[64];
	char			*eq;
	size_t			 i, j, n;
	int			 family;

	(void)state;
	for (i = 0; i < sizeof(net_cases) / sizeof(net_cases[0]); i++) {
		c = &net_cases[i];
		for (n = 0; n < 8 && c->entries[n] != NULL; n++)
			parse_entry(c->entries[n], &e[n]);
		idx = acl_netidx_build(n > 0 ? e : NULL, n);
		assert_non_null(idx);
		for (j = 0; j < 12 && c->probes[j] != NULL; j++) {
			assert_true(strlen(c->probes[j]) < sizeof(buf));
			memcpy(buf, c->probes[j], strlen(c->probes[j]) + 1);
			eq = strchr(buf, '=');
			assert_non_null(eq);
			*eq = '\0';
			family = parse_addr(buf, addr);
			if (acl_netidx_lookup(idx, family, addr) !=
			    strtoll(eq + 1, NULL, 10))
				fail_msg("%s: %s gives %lld", c->name,
				    c->probes[j], (long long)
				    acl_netidx_lookup(idx, family, addr));
		}
		assert_true(acl_netidx_memory(idx) > 0);
		acl_netidx_free(&idx);
		assert_null(idx);
	}
}

static void
test_bad_entries(void **state)
{
	struct acl_net_entry	 e;

	(void)state;
	parse_entry("10.0.0.0/8=1", &e);
	e.prefix = 33;
	errno = 0;
	assert_null(acl_netidx_build(&e, 1));
	assert_int_equal(errno, EINVAL);
	e.prefix = -1;
	assert_null(acl_netidx_build(&e, 1));
	parse_entry("::/0=1", &e);
	e.prefix = 129;
	assert_null(acl_netidx_build(&e, 1));
	e.prefix = 0;
	e.family = AF_UNIX;
	assert_null(acl_netidx_build(&e, 1));
}

static void
test_null(void **state)
{
	struct acl_netidx	*idx = NULL;
	unsigned char		 addr[16] = { 0 };

	(void)state;
	acl_netidx_free(&idx);
	assert_int_equal(acl_netidx_lookup(NULL, AF_INET, addr), -1);
	assert_int_equal(acl_netidx_memory(NULL), 0);
	idx = acl_netidx_build(NULL, 0);
	assert_non_null(idx);
	assert_int_equal(acl_netidx_lookup(idx, AF_UNIX, addr), -1);
	acl_netidx_free(&idx);
}

/* Two halves of a /24 with one rule cost what the /24 costs. */
static void
test_merge(void **state)
{
	struct acl_net_entry	 e[3];
	struct acl_netidx	*whole, *halves;

	(void)state;
	parse_entry("10.0.0.0/24=3", &e[0]);
	whole = acl_netidx_build(e, 1);
	parse_entry("10.0.0.0/25=3", &e[0]);
	parse_entry("10.0.0.128/25=3", &e[1]);
	parse_entry("10.0.0.64/26=5", &e[2]);
	halves = acl_netidx_build(e, 3);
	assert_non_null(whole);
	assert_non_null(halves);
	assert_int_equal(acl_netidx_memory(whole), acl_netidx_memory(halves));
	acl_netidx_free(&whole);
	acl_netidx_free(&halves);
}

/*
 * A net that ends where its parent ends leaves nothing of the parent
 * after it: five ranges (parent, child, gap, next, gap), where a child
 * inside needs six.
 */
static void
test_shared_end(void **state)
{
	struct acl_net_entry	 e[3];
	struct acl_netidx	*end, *inside;

	(void)state;
	parse_entry("10.0.0.0/8=5", &e[0]);
	parse_entry("10.255.255.0/24=2", &e[1]);
	parse_entry("12.0.0.0/8=1", &e[2]);
	end = acl_netidx_build(e, 3);
	parse_entry("10.255.254.0/24=2", &e[1]);
	inside = acl_netidx_build(e, 3);
	assert_non_null(end);
	assert_non_null(inside);
	assert_true(acl_netidx_memory(end) < acl_netidx_memory(inside));
	acl_netidx_free(&end);
	acl_netidx_free(&inside);
}

/* splitmix64: the same sequence on every libc. */
static uint64_t
prop_rand(uint64_t *s)
{
	uint64_t	 z;

	z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
prop_below(uint64_t *s, uint64_t n)
{
	return prop_rand(s) % n;
}

/* Sets the bits of addr after the first prefix bits to 0 or 1. */
static void
host_bits(unsigned char *addr, int len, int prefix, int one)
{
	int	 i, keep;

	for (i = 0; i < len; i++) {
		keep = prefix - i * 8;
		if (keep >= 8)
			continue;
		if (keep <= 0)
			addr[i] = one ? 0xff : 0;
		else if (one)
			addr[i] |= (unsigned char)(0xff >> keep);
		else
			addr[i] &= (unsigned char)(0xff << (8 - keep));
	}
}

/* Adds 1 or -1 to addr (len bytes), wrapping around. */
static void
step(unsigned char *addr, int len, int up)
{
	int	 i;

	for (i = len - 1; i >= 0; i--) {
		addr[i] += up ? 1 : 0xff;
		if (addr[i] != (up ? 0 : 0xff))
			return;
	}
}

static int
covers(const struct acl_net_entry *e, int family, const unsigned char *a)
{
	int	 full = e->prefix / 8, rest = e->prefix % 8;

	if (e->family != family || memcmp(e->addr, a, full) != 0)
		return 0;
	return rest == 0 ||
	    ((e->addr[full] ^ a[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

static int64_t
brute_lookup(const struct acl_net_entry *e, size_t n, int family,
    const unsigned char *a)
{
	int64_t	 best = -1;
	size_t	 i;

	for (i = 0; i < n; i++)
		if (covers(&e[i], family, a) &&
		    (best == -1 || e[i].rule < best))
			best = e[i].rule;
	return best;
}

/*
 * A fresh entry, nested in an earlier one, or a duplicate of one.
 * Fresh addresses share their first bytes often enough to overlap.
 */
static void
prop_entry(uint64_t *s, struct acl_net_entry *e, size_t i)
{
	const struct acl_net_entry	*parent;
	int				 len, k;

	memset(&e[i], 0, sizeof(e[i]));
	e[i].rule = (uint32_t)prop_below(s, 2 * PROP_MAX_ENTRIES);
	k = (int)prop_below(s, 10);
	if (i > 0 && k < 5) {
		parent = &e[prop_below(s, i)];
		memcpy(e[i].addr, parent->addr, 16);
		e[i].family = parent->family;
		len = e[i].family == AF_INET ? 32 : 128;
		e[i].prefix = parent->prefix;
		if (k < 4)	/* otherwise a duplicate */
			e[i].prefix += (int)prop_below(s,
			    (uint64_t)(len - parent->prefix + 1));
		for (k = parent->prefix / 8; k < len / 8; k++)
			e[i].addr[k] ^= (unsigned char)prop_rand(s);
		host_bits(e[i].addr, len / 8, parent->prefix, 0);
		for (k = 0; k < len / 8; k++)
			e[i].addr[k] |= parent->addr[k];
	} else {
		e[i].family = prop_below(s, 2) ? AF_INET : AF_INET6;
		len = e[i].family == AF_INET ? 32 : 128;
		for (k = 0; k < len / 8; k++)
			e[i].addr[k] = (unsigned char)prop_rand(s);
		e[i].addr[0] = (unsigned char)(prop_below(s, 4) * 0x55);
		/* Mostly long prefixes, as blocklists are. */
		e[i].prefix = prop_below(s, 2) ?
		    (int)prop_below(s, (uint64_t)len + 1) :
		    len - (int)prop_below(s, 9);
	}
	host_bits(e[i].addr, len / 8, e[i].prefix, 0);
}

/* An address inside, at the bounds of, or just outside an entry. */
static int
prop_probe(uint64_t *s, const struct acl_net_entry *e, size_t n,
    unsigned char *a)
{
	const struct acl_net_entry	*p;
	int				 family, len, k;

	if (n == 0 || prop_below(s, 10) == 0) {
		family = prop_below(s, 2) ? AF_INET : AF_INET6;
		k = (int)prop_below(s, 4);
		if (k < 2)	/* the bottom or the top address */
			memset(a, k == 0 ? 0 : 0xff, 16);
		else
			for (k = 0; k < 16; k++)
				a[k] = (unsigned char)prop_rand(s);
		return family;
	}
	p = &e[prop_below(s, n)];
	len = p->family == AF_INET ? 4 : 16;
	memcpy(a, p->addr, 16);
	switch (prop_below(s, 5)) {
	case 0:		/* first address */
		break;
	case 1:		/* last address */
		host_bits(a, len, p->prefix, 1);
		break;
	case 2:		/* just before */
		step(a, len, 0);
		break;
	case 3:		/* just after */
		host_bits(a, len, p->prefix, 1);
		step(a, len, 1);
		break;
	default:	/* anywhere inside */
		for (k = p->prefix / 8; k < len; k++)
			a[k] ^= (unsigned char)prop_rand(s);
		host_bits(a, len, p->prefix, 0);
		for (k = 0; k < len; k++)
			a[k] |= p->addr[k];
		break;
	}
	return p->family;
}

static void
test_property(void **state)
{
	struct acl_net_entry	 e[PROP_MAX_ENTRIES];
	struct acl_netidx	*idx;
	unsigned char		 a[16];
	uint64_t		 seed = PROP_SEED;
	int64_t			 got, want;
	size_t			 set, i, n;
	int			 j, family;

	(void)state;
	for (set = 0; set < PROP_SETS; set++) {
		n = prop_below(&seed, PROP_MAX_ENTRIES + 1);
		for (i = 0; i < n; i++)
			prop_entry(&seed, e, i);
		if ((idx = acl_netidx_build(e, n)) == NULL)
			fail_msg("set %zu: build failed", set);
		for (j = 0; j < PROP_PROBES; j++) {
			family = prop_probe(&seed, e, n, a);
			got = acl_netidx_lookup(idx, family, a);
			want = brute_lookup(e, n, family, a);
			if (got != want)
				fail_msg("set %zu probe %d: got %lld, want "
				    "%lld", set, j, (long long)got,
				    (long long)want);
		}
		acl_netidx_free(&idx);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_bad_entries),
		cmocka_unit_test(test_null),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_shared_end),
		cmocka_unit_test(test_property),
	};

	return cmocka_run_group_tests_name("acl_netidx", tests, NULL, NULL);
}
