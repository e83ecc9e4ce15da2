/*
 * Weighted rendezvous (highest random weight) hashing: every proxy node
 * ranks a pool's members the same way for the same user, with no shared
 * state, and adding or removing one of N members moves only about 1/N
 * of the users.  Pure functions; part of the daemon library.
 */
#ifndef POOL_H
#define POOL_H

#include <stddef.h>
#include <stdint.h>

struct pool_member {
	const char	*name;		/* identity in the hash: the [backend] name */
	unsigned int	 weight;	/* 1-1000 */
	int		 available;	/* up, enabled and under max_connections */
};

/*
 * Writes into order[0..n) the member indices ranked for key, best
 * first: by weight / -ln(h), h the 64-bit hash of (key, name) mapped to
 * (0, 1).  The same inputs give the same order on every node and run.
 */
void	pool_rank(const char *key, const struct pool_member *members,
	    size_t n, size_t *order);
/*
 * The first available member in key's ranking, or -1 when none is.
 * Uses no allocation (n <= CONF_MAX_BACKENDS).
 */
long	pool_pick(const char *key, const struct pool_member *members,
	    size_t n);
/*
 * The hash pool_rank and pool_pick use: SipHash-2-4 of key's bytes, one
 * NUL byte and name's bytes, under the fixed key 00 01 .. 0f (that of
 * the SipHash paper's test vectors).  The same on every host and build;
 * changing it moves users on every node.  Exported for the unit test.
 */
uint64_t pool_hash(const char *key, const char *name);

#endif
