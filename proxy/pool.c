/*
 * Weighted rendezvous (highest random weight) hashing of a user over a
 * pool's back ends (SPEC s.5).  Every proxy node must rank the members
 * the same way for the same user with no shared state, so the hash is
 * fixed: SipHash-2-4 under a fixed, public key, fed byte by byte so the
 * host's byte order and alignment play no part.
 *
 * Member i scores weight_i / -ln(u_i), u_i in (0, 1) taken from the hash
 * of (key, name_i); the highest score ranks first (the logarithmic method
 * of Schindelhauer and Schomaker, "Weighted distributed hash tables",
 * SPAA 2005).  -ln(u) is exponential with mean 1, so score_i is the
 * reciprocal of an exponential variable of rate weight_i and member i
 * wins with probability weight_i / sum(weight).  A member's score does
 * not depend on the other members, so adding or removing one moves only
 * the users whose first choice it is or becomes.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bounds.h"
#include "pool.h"

/*
 * The key of the SipHash paper's test vectors, 00 01 .. 0f, as the two
 * little-endian words SipHash reads.  It is no secret: all nodes must
 * agree on it, and it only spreads load.  With it, pool_hash("", s) is
 * the reference vector of s's length plus one, which the unit test
 * checks.  Changing it reshuffles every pool on every node.
 */
#define POOL_SIP_K0	0x0706050403020100ULL
#define POOL_SIP_K1	0x0f0e0d0c0b0a0908ULL

struct pool_sip {
	uint64_t	 v0, v1, v2, v3;
	uint64_t	 m;		/* bytes of the current word so far */
	uint64_t	 len;		/* message bytes so far */
};

static uint64_t	 pool_rotl(uint64_t, int);
static void	 pool_sip_round(struct pool_sip *);
static void	 pool_sip_init(struct pool_sip *);
static void	 pool_sip_byte(struct pool_sip *, unsigned char);
static uint64_t	 pool_sip_final(struct pool_sip *);
static double	 pool_score(const char *, const struct pool_member *);
static int	 pool_before(double, const struct pool_member *, size_t,
		    double, const struct pool_member *, size_t);

static uint64_t
pool_rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static void
pool_sip_round(struct pool_sip *s)
{
	s->v0 += s->v1;
	s->v1 = pool_rotl(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = pool_rotl(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = pool_rotl(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = pool_rotl(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = pool_rotl(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = pool_rotl(s->v2, 32);
}

static void
pool_sip_init(struct pool_sip *s)
{
	s->v0 = POOL_SIP_K0 ^ 0x736f6d6570736575ULL;
	s->v1 = POOL_SIP_K1 ^ 0x646f72616e646f6dULL;
	s->v2 = POOL_SIP_K0 ^ 0x6c7967656e657261ULL;
	s->v3 = POOL_SIP_K1 ^ 0x7465646279746573ULL;
	s->m = 0;
	s->len = 0;
}

/* Words are little-endian whatever the host: byte j of a word is bits 8j. */
static void
pool_sip_byte(struct pool_sip *s, unsigned char c)
{
	s->m |= (uint64_t)c << (8 * (s->len & 7));
	if ((++s->len & 7) == 0) {
		s->v3 ^= s->m;
		pool_sip_round(s);
		pool_sip_round(s);
		s->v0 ^= s->m;
		s->m = 0;
	}
}

static uint64_t
pool_sip_final(struct pool_sip *s)
{
	uint64_t	 b;

	/* The last word: the remaining bytes, the length mod 256 on top. */
	b = s->m | (s->len << 56);
	s->v3 ^= b;
	pool_sip_round(s);
	pool_sip_round(s);
	s->v0 ^= b;
	s->v2 ^= 0xff;
	pool_sip_round(s);
	pool_sip_round(s);
	pool_sip_round(s);
	pool_sip_round(s);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

uint64_t
pool_hash(const char *key, const char *name)
{
	struct pool_sip	 s;
	const char	*p;

	pool_sip_init(&s);
	for (p = key; *p != '\0'; p++)
		pool_sip_byte(&s, (unsigned char)*p);
	/* Neither string holds a NUL, so ("ab", "c") and ("a", "bc") differ. */
	pool_sip_byte(&s, 0);
	for (p = name; *p != '\0'; p++)
		pool_sip_byte(&s, (unsigned char)*p);
	return pool_sip_final(&s);
}

/*
 * u = (top 52 bits + 0.5) / 2^52 is exact in a double and lies in
 * [2^-53, 1 - 2^-53], so -ln(u) is finite and positive.  (With 53 bits,
 * the top value plus 0.5 would round up to 2^53 and make u 1.)
 */
static double
pool_score(const char *key, const struct pool_member *m)
{
	double	 u;

	u = ((double)(pool_hash(key, m->name) >> 12) + 0.5) * 0x1p-52;
	return (double)m->weight / -log(u);
}

/*
 * The total order of a ranking: higher score first, then the name, then
 * the index, so equal scores (weight 0, or a 2^-52 coincidence) still
 * rank the same on every node.  Only duplicate names fall back to the
 * position, and configuration names are unique.
 */
static int
pool_before(double sa, const struct pool_member *a, size_t ia,
    double sb, const struct pool_member *b, size_t ib)
{
	int	 c;

	if (sa != sb)
		return sa > sb;
	if ((c = strcmp(a->name, b->name)) != 0)
		return c < 0;
	return ia < ib;
}

void
pool_rank(const char *key, const struct pool_member *members, size_t n,
    size_t *order)
{
	double	 score[CONF_MAX_BACKENDS];
	double	 s;
	size_t	 i, j, k;

	/*
	 * Insertion sort, best first.  n is at most CONF_MAX_BACKENDS, so
	 * the scores fit on the stack; past it, the extra members' scores
	 * are computed again for each comparison: slow, still right.
	 */
	for (i = 0; i < n; i++) {
		s = pool_score(key, &members[i]);
		if (i < CONF_MAX_BACKENDS)
			score[i] = s;
		for (j = i; j > 0; j--) {
			k = order[j - 1];
			if (!pool_before(s, &members[i], i,
			    k < CONF_MAX_BACKENDS ? score[k] :
			    pool_score(key, &members[k]), &members[k], k))
				break;
			order[j] = k;
		}
		order[j] = i;
	}
}

long
pool_pick(const char *key, const struct pool_member *members, size_t n)
{
	double	 s, best_s = 0.0;
	size_t	 i;
	long	 best = -1;

	/* The maximum of pool_rank's order among the available members. */
	for (i = 0; i < n; i++) {
		if (!members[i].available)
			continue;
		s = pool_score(key, &members[i]);
		if (best == -1 || pool_before(s, &members[i], i,
		    best_s, &members[best], (size_t)best)) {
			best = (long)i;
			best_s = s;
		}
	}
	return best;
}
