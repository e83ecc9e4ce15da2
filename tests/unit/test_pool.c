/*
 * Unit tests for weighted rendezvous hashing (proxy/pool.c, SPEC s.5,
 * issue 5).  Every node must pick the same back end for the same user,
 * so the hash is pinned by the SipHash reference vectors and by picks
 * written out literally (computed by a separate Python implementation);
 * a change of hash, key, input framing or score fails here.  Over
 * 100,000 users (user%06d@example.test) each member's share is within 2
 * percentage points of weight / sum, and adding, removing or disabling
 * one member moves only the users that must move.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bounds.h"
#include "pool.h"

#define USERS		100000
#define TOLERANCE	0.02	/* absolute: |share - expected| <= 2% */
#define MAX_MEMBERS	16

static long	 before[USERS], after[USERS];
static char	 users[USERS][24];	/* user%06d@example.test */

static const char *const store_names[MAX_MEMBERS] = {
	"store1", "store2", "store3", "store4", "store5", "store6",
	"store7", "store8", "store9", "store10", "store11", "store12",
	"store13", "store14", "store15", "store16"
};

/*
 * vectors_sip64 of the SipHash reference code (github.com/veorq/SipHash,
 * vectors.h), read as little-endian words: SipHash-2-4 under the key
 * 00 01 .. 0f of the message 00 01 .. (len - 1).  pool_hash("", s) hashes
 * a NUL and then s, so with s = 01 02 .. (len - 1) it is vector [len].
 * [0], the empty message, cannot be framed that way.
 */
static const uint64_t sip_vectors[64] = {
	0x726fdb47dd0e0e31ULL,	/* 0 */
	0x74f839c593dc67fdULL,	/* 1 */
	0x0d6c8009d9a94f5aULL,	/* 2 */
	0x85676696d7fb7e2dULL,	/* 3 */
	0xcf2794e0277187b7ULL,	/* 4 */
	0x18765564cd99a68dULL,	/* 5 */
	0xcbc9466e58fee3ceULL,	/* 6 */
	0xab0200f58b01d137ULL,	/* 7 */
	0x93f5f5799a932462ULL,	/* 8 */
	0x9e0082df0ba9e4b0ULL,	/* 9 */
	0x7a5dbbc594ddb9f3ULL,	/* 10 */
	0xf4b32f46226bada7ULL,	/* 11 */
	0x751e8fbc860ee5fbULL,	/* 12 */
	0x14ea5627c0843d90ULL,	/* 13 */
	0xf723ca908e7af2eeULL,	/* 14 */
	0xa129ca6149be45e5ULL,	/* 15 */
	0x3f2acc7f57c29bdbULL,	/* 16 */
	0x699ae9f52cbe4794ULL,	/* 17 */
	0x4bc1b3f0968dd39cULL,	/* 18 */
	0xbb6dc91da77961bdULL,	/* 19 */
	0xbed65cf21aa2ee98ULL,	/* 20 */
	0xd0f2cbb02e3b67c7ULL,	/* 21 */
	0x93536795e3a33e88ULL,	/* 22 */
	0xa80c038ccd5ccec8ULL,	/* 23 */
	0xb8ad50c6f649af94ULL,	/* 24 */
	0xbce192de8a85b8eaULL,	/* 25 */
	0x17d835b85bbb15f3ULL,	/* 26 */
	0x2f2e6163076bcfadULL,	/* 27 */
	0xde4daaaca71dc9a5ULL,	/* 28 */
	0xa6a2506687956571ULL,	/* 29 */
	0xad87a3535c49ef28ULL,	/* 30 */
	0x32d892fad841c342ULL,	/* 31 */
	0x7127512f72f27cceULL,	/* 32 */
	0xa7f32346f95978e3ULL,	/* 33 */
	0x12e0b01abb051238ULL,	/* 34 */
	0x15e034d40fa197aeULL,	/* 35 */
	0x314dffbe0815a3b4ULL,	/* 36 */
	0x027990f029623981ULL,	/* 37 */
	0xcadcd4e59ef40c4dULL,	/* 38 */
	0x9abfd8766a33735cULL,	/* 39 */
	0x0e3ea96b5304a7d0ULL,	/* 40 */
	0xad0c42d6fc585992ULL,	/* 41 */
	0x187306c89bc215a9ULL,	/* 42 */
	0xd4a60abcf3792b95ULL,	/* 43 */
	0xf935451de4f21df2ULL,	/* 44 */
	0xa9538f0419755787ULL,	/* 45 */
	0xdb9acddff56ca510ULL,	/* 46 */
	0xd06c98cd5c0975ebULL,	/* 47 */
	0xe612a3cb9ecba951ULL,	/* 48 */
	0xc766e62cfcadaf96ULL,	/* 49 */
	0xee64435a9752fe72ULL,	/* 50 */
	0xa192d576b245165aULL,	/* 51 */
	0x0a8787bf8ecb74b2ULL,	/* 52 */
	0x81b3e73d20b49b6fULL,	/* 53 */
	0x7fa8220ba3b2eceaULL,	/* 54 */
	0x245731c13ca42499ULL,	/* 55 */
	0xb78dbfaf3a8d83bdULL,	/* 56 */
	0xea1ad565322a1a0bULL,	/* 57 */
	0x60e61c23a3795013ULL,	/* 58 */
	0x6606d7e446282b93ULL,	/* 59 */
	0x6ca4ecb15c5f91e1ULL,	/* 60 */
	0x9f626da15c9625f3ULL,	/* 61 */
	0xe51b38608ef25f57ULL,	/* 62 */
	0x958a324ceb064572ULL,	/* 63 */
};

static int
make_users(void **state)
{
	size_t	 i;
	int	 r;

	(void)state;
	for (i = 0; i < USERS; i++) {
		r = snprintf(users[i], sizeof(users[i]),
		    "user%06zu@example.test", i);
		if (r < 0 || (size_t)r >= sizeof(users[i]))
			return -1;
	}
	return 0;
}

/* members[0..n) named store1.., weighted by w, all available. */
static void
make_pool(struct pool_member *m, const unsigned int *w, size_t n)
{
	size_t	 i;

	assert_true(n <= MAX_MEMBERS);
	for (i = 0; i < n; i++) {
		m[i].name = store_names[i];
		m[i].weight = w != NULL ? w[i] : 1;
		m[i].available = 1;
	}
}

static void
pick_all(const struct pool_member *m, size_t n, long *out)
{
	size_t	 i;

	for (i = 0; i < USERS; i++) {
		out[i] = pool_pick(users[i], m, n);
		assert_true(out[i] >= 0 && (size_t)out[i] < n);
	}
}

static void
test_siphash_vectors(void **state)
{
	char	 s[64];
	size_t	 len, i;

	(void)state;
	for (len = 1; len < 64; len++) {
		for (i = 0; i < len - 1; i++)
			s[i] = (char)(i + 1);
		s[len - 1] = '\0';
		assert_true(pool_hash("", s) == sip_vectors[len]);
	}
	/* The SipHash paper's own example, appendix A: 0xa129ca6149be45e5. */
	assert_true(pool_hash("", "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a"
	    "\x0b\x0c\x0d\x0e") == 0xa129ca6149be45e5ULL);
}

static void
test_hash_pinned(void **state)
{
	(void)state;
	/* The framing: key, NUL, name. */
	assert_true(pool_hash("alice@example.com", "store1") ==
	    0x46941a6c77cf24a1ULL);
	assert_true(pool_hash("", "store1") == 0x3d427b96f14fba56ULL);
	assert_true(pool_hash("user000000@example.test", "store2") ==
	    0x93ff4dad96d47cfdULL);
	assert_true(pool_hash("ab", "c") == 0xb76a26431ee90d26ULL);
	assert_true(pool_hash("a", "bc") == 0x537b83db027d2218ULL);
	assert_true(pool_hash("ab", "c") != pool_hash("a", "bc"));
	assert_true(pool_hash("store1", "alice@example.com") !=
	    pool_hash("alice@example.com", "store1"));
}

/* Four equal members: the first choice of a few users, written out. */
static const struct {
	const char	*user;
	const char	*pick;
} fixed_picks[] = {
	{ "user000000@example.test", "store1" },
	{ "user000001@example.test", "store1" },
	{ "user000002@example.test", "store4" },
	{ "user000003@example.test", "store1" },
	{ "user000004@example.test", "store3" },
	{ "user000005@example.test", "store4" },
	{ "user000006@example.test", "store1" },
	{ "user000007@example.test", "store4" },
	{ "user000008@example.test", "store4" },
	{ "user000009@example.test", "store3" },
	{ "user000010@example.test", "store4" },
	{ "user000011@example.test", "store2" },
	{ "user000012@example.test", "store2" },
	{ "user000013@example.test", "store3" },
	{ "user000014@example.test", "store2" },
	{ "user000015@example.test", "store3" },
	{ "alice@example.com", "store2" },
	{ "bob@example.com", "store2" },
	{ "carol@example.org", "store4" },
	{ "dave@example.net", "store3" },
};

/* Weights 1, 2, 3, 4: the whole ranking of a few users, written out. */
static const struct {
	const char	*user;
	const char	*rank[4];
} fixed_ranks[] = {
	{ "alice@example.com", { "store3", "store2", "store4", "store1" } },
	{ "bob@example.com", { "store2", "store4", "store3", "store1" } },
	{ "carol@example.org", { "store4", "store2", "store3", "store1" } },
	{ "dave@example.net", { "store3", "store2", "store4", "store1" } },
	{ "erin@example.com", { "store4", "store3", "store1", "store2" } },
	{ "frank@example.com", { "store4", "store3", "store2", "store1" } },
	{ "user000000@example.test",
	    { "store1", "store4", "store3", "store2" } },
	{ "user000001@example.test",
	    { "store4", "store1", "store3", "store2" } },
	{ "user000002@example.test",
	    { "store4", "store3", "store2", "store1" } },
	{ "user000003@example.test",
	    { "store1", "store3", "store4", "store2" } },
	{ "user000004@example.test",
	    { "store3", "store4", "store2", "store1" } },
	{ "user000005@example.test",
	    { "store4", "store2", "store3", "store1" } },
};

static void
test_fixed(void **state)
{
	static const unsigned int ramp[] = { 1, 2, 3, 4 };
	static const size_t perm[][4] = {
		{ 0, 1, 2, 3 }, { 3, 2, 1, 0 }, { 2, 0, 3, 1 }, { 1, 3, 0, 2 }
	};
	struct pool_member	 base[4], m[4];
	size_t			 order[4];
	size_t			 p, i, j;
	long			 k;

	(void)state;
	for (p = 0; p < sizeof(perm) / sizeof(perm[0]); p++) {
		/* The same members in another order: the same names. */
		make_pool(base, NULL, 4);
		for (j = 0; j < 4; j++)
			m[j] = base[perm[p][j]];
		for (i = 0; i < sizeof(fixed_picks) / sizeof(fixed_picks[0]);
		    i++) {
			k = pool_pick(fixed_picks[i].user, m, 4);
			assert_true(k >= 0 && k < 4);
			assert_string_equal(m[k].name, fixed_picks[i].pick);
		}

		make_pool(base, ramp, 4);
		for (j = 0; j < 4; j++)
			m[j] = base[perm[p][j]];
		for (i = 0; i < sizeof(fixed_ranks) / sizeof(fixed_ranks[0]);
		    i++) {
			pool_rank(fixed_ranks[i].user, m, 4, order);
			for (j = 0; j < 4; j++)
				assert_string_equal(m[order[j]].name,
				    fixed_ranks[i].rank[j]);
			k = pool_pick(fixed_ranks[i].user, m, 4);
			assert_int_equal(k, (long)order[0]);
		}
	}
}

/* Over all users, a shuffled pool picks the same names. */
static void
test_order_independent(void **state)
{
	static const unsigned int w[] = { 3, 1, 4, 1, 5, 9, 2, 6 };
	struct pool_member	 m[8], r[8];
	size_t			 i;

	(void)state;
	make_pool(m, w, 8);
	for (i = 0; i < 8; i++)
		r[i] = m[(i * 3 + 5) % 8];
	pick_all(m, 8, before);
	pick_all(r, 8, after);
	for (i = 0; i < USERS; i++)
		assert_string_equal(m[before[i]].name, r[after[i]].name);
}

static void
check_shares(const unsigned int *w, size_t n)
{
	struct pool_member	 m[MAX_MEMBERS];
	size_t			 count[MAX_MEMBERS] = { 0 };
	double			 share, expect;
	unsigned int		 sum = 0;
	size_t			 i;

	make_pool(m, w, n);
	for (i = 0; i < n; i++)
		sum += w[i];
	pick_all(m, n, before);
	for (i = 0; i < USERS; i++)
		count[before[i]]++;
	for (i = 0; i < n; i++) {
		share = (double)count[i] / USERS;
		expect = (double)w[i] / sum;
		print_message("weight %u/%u: share %.4f expected %.4f\n",
		    w[i], sum, share, expect);
		assert_true(share - expect <= TOLERANCE &&
		    expect - share <= TOLERANCE);
	}
}

static void
test_shares(void **state)
{
	static const unsigned int equal[] = { 1, 1, 1, 1 };
	static const unsigned int ramp[] = { 1, 2, 3, 4 };
	static const unsigned int five[] = { 5, 1 };
	static const unsigned int hundred[] = { 100, 1, 1 };
	static const unsigned int wide[] = { 1000, 1, 250, 500, 10 };

	(void)state;
	check_shares(equal, 4);
	check_shares(ramp, 4);
	check_shares(five, 2);
	check_shares(hundred, 3);
	check_shares(wide, 5);
}

/*
 * N equal members, N = 5..10.  Removing one moves exactly its users,
 * about 1/N of them, and nobody else; adding one more (of weight 1)
 * moves only users to it, about 1/(N + 1).  The picks of N + 1 members
 * are the next round's picks of N.
 */
static long	 grown[USERS];

static void
test_remove_add(void **state)
{
	struct pool_member	 m[MAX_MEMBERS], less[MAX_MEMBERS];
	size_t			 n, r, i, j, moved;
	double			 frac, expect;

	(void)state;
	make_pool(m, NULL, 11);
	pick_all(m, 5, before);
	for (n = 5; n <= 10; n++) {
		/* Remove store(r + 1), in a different place each round. */
		r = n % 4;
		for (i = 0, j = 0; i < n; i++)
			if (i != r)
				less[j++] = m[i];
		pick_all(less, n - 1, after);
		moved = 0;
		for (i = 0; i < USERS; i++) {
			/* back to m's indices */
			if ((size_t)after[i] >= r)
				after[i]++;
			if ((size_t)before[i] == r)
				moved++;
			else
				assert_int_equal(after[i], before[i]);
		}
		frac = (double)moved / USERS;
		expect = 1.0 / (double)n;
		print_message("remove store%zu of %zu: moved %.4f expected "
		    "%.4f\n", r + 1, n, frac, expect);
		assert_true(frac - expect <= TOLERANCE &&
		    expect - frac <= TOLERANCE);

		pick_all(m, n + 1, grown);
		moved = 0;
		for (i = 0; i < USERS; i++) {
			if (grown[i] == before[i])
				continue;
			assert_int_equal(grown[i], (long)n);
			moved++;
		}
		frac = (double)moved / USERS;
		expect = 1.0 / (double)(n + 1);
		print_message("add store%zu to %zu: moved %.4f expected %.4f\n",
		    n + 1, n, frac, expect);
		assert_true(frac - expect <= TOLERANCE &&
		    expect - frac <= TOLERANCE);
		memcpy(before, grown, sizeof(before));
	}
}

/*
 * Adding a heavier member moves its weight's share, all of it to the
 * new member: weight 3 beside 7 of weight 1 takes 3/10.
 */
static void
test_add_weighted(void **state)
{
	struct pool_member	 m[8];
	size_t			 i, moved = 0;
	double			 frac;

	(void)state;
	make_pool(m, NULL, 8);
	m[7].weight = 3;
	pick_all(m, 7, before);
	pick_all(m, 8, after);
	for (i = 0; i < USERS; i++) {
		if (after[i] == before[i])
			continue;
		assert_int_equal(after[i], 7);
		moved++;
	}
	frac = (double)moved / USERS;
	print_message("add weight 3 to 7 of weight 1: moved %.4f expected "
	    "0.3000\n", frac);
	assert_true(frac - 0.3 <= TOLERANCE && 0.3 - frac <= TOLERANCE);
}

/*
 * A member that goes unavailable sends each of its users to the next in
 * that user's ranking; nobody else moves.  With several down, the pick
 * is the first available member of the ranking.
 */
static void
test_unavailable(void **state)
{
	static const unsigned int w[] = { 1, 2, 3, 1, 2, 3 };
	struct pool_member	 m[6];
	size_t			 order[6];
	size_t			 i, j, moved = 0;
	long			 k;

	(void)state;
	make_pool(m, w, 6);
	pick_all(m, 6, before);
	m[2].available = 0;
	pick_all(m, 6, after);
	for (i = 0; i < USERS; i++) {
		if (before[i] != 2) {
			assert_int_equal(after[i], before[i]);
			continue;
		}
		moved++;
		pool_rank(users[i], m, 6, order);
		assert_int_equal(order[0], 2);
		assert_int_equal(after[i], (long)order[1]);
	}
	print_message("store3 (weight 3/12) down: moved %.4f\n",
	    (double)moved / USERS);
	assert_true((double)moved / USERS - 0.25 <= TOLERANCE &&
	    0.25 - (double)moved / USERS <= TOLERANCE);

	/* Two down, then back up: everyone returns to the first choice. */
	m[0].available = 0;
	for (i = 0; i < USERS; i += 7) {
		pool_rank(users[i], m, 6, order);
		for (j = 0; !m[order[j]].available; j++)
			;
		assert_int_equal(pool_pick(users[i], m, 6), (long)order[j]);
	}
	m[0].available = m[2].available = 1;
	for (i = 0; i < USERS; i += 7) {
		k = pool_pick(users[i], m, 6);
		assert_int_equal(k, before[i]);
	}
}

static void
test_edges(void **state)
{
	struct pool_member	 m[3];
	size_t			 order[3] = { 7, 7, 7 };

	(void)state;
	make_pool(m, NULL, 3);
	/* Empty pool. */
	assert_int_equal(pool_pick("alice@example.com", m, 0), -1);
	pool_rank("alice@example.com", m, 0, order);
	assert_int_equal(order[0], 7);

	/* One member: chosen while available. */
	make_pool(m, NULL, 1);
	assert_int_equal(pool_pick("alice@example.com", m, 1), 0);
	pool_rank("alice@example.com", m, 1, order);
	assert_int_equal(order[0], 0);
	m[0].available = 0;
	assert_int_equal(pool_pick("alice@example.com", m, 1), -1);

	/* None available. */
	make_pool(m, NULL, 3);
	m[0].available = m[1].available = m[2].available = 0;
	assert_int_equal(pool_pick("alice@example.com", m, 3), -1);
	assert_int_equal(pool_pick("", m, 3), -1);

	/* An empty key is a key like any other. */
	m[1].available = 1;
	assert_int_equal(pool_pick("", m, 3), 1);

	/* Weight 0 ranks last, ties by name: a back end of last resort. */
	make_pool(m, NULL, 3);
	m[0].name = "zeta";
	m[0].weight = 0;
	m[1].name = "beta";
	m[2].name = "alpha";
	m[2].weight = 0;
	pool_rank("bob@example.com", m, 3, order);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 2);
	assert_int_equal(order[2], 0);
	m[1].available = 0;
	assert_int_equal(pool_pick("bob@example.com", m, 3), 2);

	/* Duplicate names score alike; the position decides. */
	make_pool(m, NULL, 2);
	m[1].name = m[0].name;
	pool_rank("carol@example.org", m, 2, order);
	assert_int_equal(order[0], 0);
	assert_int_equal(order[1], 1);
	assert_int_equal(pool_pick("carol@example.org", m, 2), 0);
}

/*
 * More members than CONF_MAX_BACKENDS (the scores no longer all fit the
 * stack cache): the ranking is still a permutation in the pairwise order
 * and agrees with pool_pick.
 */
#define BIG	(CONF_MAX_BACKENDS + 40)
static struct pool_member	 big[BIG];
static char			 big_names[BIG][16];
static size_t			 big_order[BIG];
static unsigned char		 big_seen[BIG];

static void
test_big_pool(void **state)
{
	struct pool_member	 pair[2];
	size_t			 pair_order[2];
	size_t			 i;
	int			 r;

	(void)state;
	for (i = 0; i < BIG; i++) {
		r = snprintf(big_names[i], sizeof(big_names[i]), "b%04zu", i);
		assert_true(r > 0 && (size_t)r < sizeof(big_names[i]));
		big[i].name = big_names[i];
		big[i].weight = (unsigned int)(i % 5) + 1;
		big[i].available = 1;
	}
	pool_rank("alice@example.com", big, BIG, big_order);
	for (i = 0; i < BIG; i++) {
		assert_true(big_order[i] < BIG);
		assert_int_equal(big_seen[big_order[i]], 0);
		big_seen[big_order[i]] = 1;
	}
	for (i = 0; i + 1 < BIG; i++) {
		pair[0] = big[big_order[i]];
		pair[1] = big[big_order[i + 1]];
		pool_rank("alice@example.com", pair, 2, pair_order);
		assert_int_equal(pair_order[0], 0);
	}
	assert_int_equal(pool_pick("alice@example.com", big, BIG),
	    (long)big_order[0]);
	for (i = 0; i + 1 < BIG; i++)
		big[big_order[i]].available = 0;
	assert_int_equal(pool_pick("alice@example.com", big, BIG),
	    (long)big_order[BIG - 1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash_vectors),
		cmocka_unit_test(test_hash_pinned),
		cmocka_unit_test(test_fixed),
		cmocka_unit_test(test_order_independent),
		cmocka_unit_test(test_shares),
		cmocka_unit_test(test_remove_add),
		cmocka_unit_test(test_add_weighted),
		cmocka_unit_test(test_unavailable),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_big_pool),
	};

	return cmocka_run_group_tests(tests, make_users, NULL);
}
