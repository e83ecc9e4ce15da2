/*
 * Shared state behind a virtual server's per-IP and per-user connection
 * limits and its brute-force defence (SPEC s.3: max_connections_per_ip,
 * max_connections_per_user, auth_fail_limit, auth_fail_window,
 * auth_fail_delay).  One struct limiter per virtual server, called by
 * every worker thread; a mutex guards it and every call holds it for a
 * hash and a table probe.  No libev and no logging (only fatalx() on a
 * broken invariant, SipHash failing once set up): the caller passes the
 * time (any monotonic clock, in seconds) and logs what it is told to.
 *
 * Memory is bounded by limiter_new()'s max_entries whatever the number
 * of clients.  An entry is one client address (IPv4 counts as its
 * IPv4-mapped IPv6 form) or one user, kept as a keyed 64-bit hash of
 * the canonical name: 160 bytes on LP64, plus 8 to 16 bytes of index.
 * Entries holding live connections are never evicted, so size
 * max_entries at least 2 * max_connections (a session can hold one IP
 * and one user entry) plus room for failure history, e.g. 65536 for
 * 10,000 connections.  Entries holding only failure history are evicted
 * least recently used first when the table is full.  If it ever fills
 * with live entries, the acquire calls fail open (allowed, not counted)
 * and failures are not recorded: limits weaken, memory does not grow.
 */
#ifndef LIMITER_H
#define LIMITER_H

#include <sys/socket.h>

#include <stddef.h>

/* Failed (user, secret) pairs remembered per IP: a client retrying the
 * same wrong password counts once (SPEC s.3 auth_fail_limit). */
#define LIMITER_RECENT		8
/* SPEC s.3 auth_fail_delay: "at most 15 s". */
#define LIMITER_MAX_DELAY	15.0
/* One log line per entry and kind of refusal per minute at most, so a
 * client hammering a limit cannot flood the log. */
#define LIMITER_LOG_INTERVAL	60.0
/* How long an idle entry keeps refusals not yet reported, for the next
 * refusal's line to count them. */
#define LIMITER_REPORT_WAIT	600.0
/* Largest table limiter_new() builds (about 3 GB): the entry index is
 * 32-bit and anything larger is a configuration mistake. */
#define LIMITER_MAX_ENTRIES	(1UL << 24)

/* limiter_ip_acquire() and limiter_user_acquire() return one of these. */
#define LIMITER_COUNTED		1	/* allowed and counted: release later */
#define LIMITER_UNCOUNTED	0	/* allowed, not counted: no release */
#define LIMITER_REFUSED		(-1)	/* at the limit: refuse, not counted */

struct limiter;

/*
 * Filled by the calls that refuse.  log is 1 for an entry's first
 * refusal of a kind and for the first one at least LIMITER_LOG_INTERVAL
 * after the last logged one; suppressed is then the number of refusals
 * not logged in between.  Otherwise both are 0.
 */
struct limiter_refusal {
	int		 log;
	unsigned long	 suppressed;
};

/* Totals since limiter_new(), for the stats socket. */
struct limiter_counts {
	unsigned long	 ip_refused;	/* limiter_ip_acquire() refusals */
	unsigned long	 user_refused;	/* limiter_user_acquire() refusals */
	unsigned long	 auth_blocked;	/* limiter_auth_blocked() returning 1 */
	unsigned long	 auth_failures;	/* limiter_auth_failed() calls */
	size_t		 entries;	/* entries now in the table */
	size_t		 evictions;	/* entries evicted to make room */
	unsigned long	 full;		/* acquires or records the full table
					 * of live entries failed open on */
};

/*
 * Returns an empty limiter that grows to at most max_entries entries
 * (clamped to 1..LIMITER_MAX_ENTRIES), with a fresh random hash key, or
 * NULL when memory, the mutex or OpenSSL's SipHash is unavailable.  The
 * caller owns it and frees it with limiter_free().
 */
struct limiter	*limiter_new(size_t max_entries);
/* Frees *lp and sets it to NULL; accepts NULL and a NULL *lp. */
void		 limiter_free(struct limiter **lp);

/*
 * Counts a connection from ip (port and IPv6 scope ignored) against max
 * connections per address.  Returns LIMITER_COUNTED, LIMITER_UNCOUNTED
 * when max is 0 (unlimited), ip is neither AF_INET nor AF_INET6 or the
 * table is full of live entries, or LIMITER_REFUSED when ip already
 * holds max.  The caller remembers whether the result was
 * LIMITER_COUNTED and calls limiter_ip_release() exactly once then,
 * and never otherwise.  r (may be NULL) is filled as described above.
 */
int	limiter_ip_acquire(struct limiter *, const struct sockaddr *ip,
	    unsigned int max, double now, struct limiter_refusal *r);
/* Undoes a LIMITER_COUNTED limiter_ip_acquire() of ip. */
void	limiter_ip_release(struct limiter *, const struct sockaddr *ip);

/*
 * The same contract for sessions per user.  user is the canonical name,
 * compared exactly (byte for byte) after hashing; it is not stored.
 */
int	limiter_user_acquire(struct limiter *, const char *user,
	    unsigned int max, double now, struct limiter_refusal *r);
/* Undoes a LIMITER_COUNTED limiter_user_acquire() of user. */
void	limiter_user_release(struct limiter *, const char *user);

/*
 * Returns 1 when ip has limit or more counted failures in its current
 * window (which began with its first counted failure and lasts window
 * seconds), so its logins are to be refused; else 0.  limit 0 never
 * blocks.  r (may be NULL) is filled when it returns 1.
 */
int	limiter_auth_blocked(struct limiter *, const struct sockaddr *ip,
	    unsigned int limit, double window, double now,
	    struct limiter_refusal *r);
/*
 * Records a failed login from ip.  user (NULL reads as "") and the
 * secret's secretlen bytes are reduced to a keyed 64-bit hash at once;
 * a failure whose hash matches one of ip's last LIMITER_RECENT counted
 * failures in the window is not counted again.  The window is fixed: it
 * starts with the first counted failure and the count restarts once now
 * >= start + window.  Pass limiter_auth_blocked() the same window.
 */
void	limiter_auth_failed(struct limiter *, const struct sockaddr *ip,
	    const char *user, const void *secret, size_t secretlen,
	    double window, double now);

/*
 * Records a failed login of user and returns the seconds to wait before
 * answering it: base * 2^(n - 1), n the user's failures in its fixed
 * window (this one included), at most LIMITER_MAX_DELAY.  A user is
 * slowed, never locked out.  base <= 0 records nothing and returns 0.
 * With the table full of live entries it answers as for a first failure.
 */
double	limiter_auth_delay(struct limiter *, const char *user, double base,
	    double window, double now);
/*
 * A login of user from ip succeeded: forgets the user's failures.  The
 * failures of ip are kept, or one valid account would buy an attacker a
 * fresh failure budget for every other account.
 */
void	limiter_auth_ok(struct limiter *, const struct sockaddr *ip,
	    const char *user);

/* Copies the totals into *c; entries is the table's size right now. */
void	limiter_counts(struct limiter *, struct limiter_counts *c);

#endif
