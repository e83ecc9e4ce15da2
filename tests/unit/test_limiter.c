/*
 * Unit tests for the per-IP and per-user limits and the brute-force
 * defence (proxy/limiter.c, SPEC s.3).  Time is the now argument, so
 * windows and log intervals pass without a clock.  The memory bound is
 * checked by a million attacker addresses against a 4096-entry table,
 * the index by a random run against a reference model, and the locking
 * by threads hammering one address.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "limiter.h"

#define WINDOW		600.0	/* auth_fail_window = 10m */
#define THREADS		4
#define THREAD_LOOPS	100000
#define FLOOD		1000000
#define FLOOD_TABLE	4096

struct addr {
	struct sockaddr_storage	 ss;
};

/* s as a socket address: IPv6 if it has a colon; port only for show. */
static const struct sockaddr *
addr(struct addr *a, const char *s, unsigned short port)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&a->ss;

	memset(a, 0, sizeof(*a));
	if (strchr(s, ':') != NULL) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		assert_int_equal(inet_pton(AF_INET6, s, &sin6->sin6_addr), 1);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		assert_int_equal(inet_pton(AF_INET, s, &sin->sin_addr), 1);
	}
	return (const struct sockaddr *)&a->ss;
}

static const struct sockaddr *
sa(const struct addr *a)
{
	return (const struct sockaddr *)&a->ss;
}

/* 2001:db8::/96 with i in the last 32 bits. */
static const struct sockaddr *
addr_n(struct addr *a, uint32_t i)
{
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&a->ss;

	memset(a, 0, sizeof(*a));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_addr.s6_addr[0] = 0x20;
	sin6->sin6_addr.s6_addr[1] = 0x01;
	sin6->sin6_addr.s6_addr[2] = 0x0d;
	sin6->sin6_addr.s6_addr[3] = 0xb8;
	sin6->sin6_addr.s6_addr[12] = i >> 24;
	sin6->sin6_addr.s6_addr[13] = i >> 16;
	sin6->sin6_addr.s6_addr[14] = i >> 8;
	sin6->sin6_addr.s6_addr[15] = i;
	return (const struct sockaddr *)&a->ss;
}

static size_t
entries(struct limiter *l)
{
	struct limiter_counts	 c;

	limiter_counts(l, &c);
	return c.entries;
}

/*
 * Entries that logged a refusal keep their pace for a minute after
 * they hold nothing; calls at a later now expire them (a few a call).
 */
static size_t
entries_later(struct limiter *l, double now)
{
	struct addr	a;
	int		i;

	for (i = 0; i < 16; i++)
		if (limiter_ip_acquire(l, addr(&a, "203.0.113.254", 1), 1, now,
		    NULL) == LIMITER_COUNTED)
			limiter_ip_release(l, sa(&a));
	return entries(l);
}

static void
failed(struct limiter *l, const struct sockaddr *ip, const char *user,
    const char *pw, double now)
{
	limiter_auth_failed(l, ip, user, pw, strlen(pw), WINDOW, now);
}

static void
test_ip_limit(void **state)
{
	struct limiter		*l;
	struct limiter_counts	 c;
	struct addr		 a, b;
	int			 i;

	(void)state;
	assert_non_null(l = limiter_new(65536));
	for (i = 0; i < 3; i++)
		assert_int_equal(limiter_ip_acquire(l,
		    addr(&a, "192.0.2.1", 1000 + i), 3, 0, NULL),
		    LIMITER_COUNTED);
	assert_int_equal(limiter_ip_acquire(l, addr(&a, "192.0.2.1", 2000),
	    3, 0, NULL), LIMITER_REFUSED);
	/* Another address is not affected. */
	assert_int_equal(limiter_ip_acquire(l, addr(&b, "192.0.2.2", 1), 3,
	    0, NULL), LIMITER_COUNTED);
	limiter_ip_release(l, addr(&a, "192.0.2.1", 7));
	assert_int_equal(limiter_ip_acquire(l, sa(&a), 3, 1, NULL),
	    LIMITER_COUNTED);
	assert_int_equal(limiter_ip_acquire(l, sa(&a), 3, 1, NULL),
	    LIMITER_REFUSED);
	limiter_counts(l, &c);
	assert_int_equal(c.ip_refused, 2);
	assert_int_equal(c.entries, 2);
	/* Entries go as soon as they hold nothing. */
	for (i = 0; i < 3; i++)
		limiter_ip_release(l, sa(&a));
	limiter_ip_release(l, sa(&b));
	/* ...but one that logged a refusal keeps its pace for a minute. */
	assert_int_equal(entries(l), 1);
	assert_int_equal(entries_later(l, LIMITER_REPORT_WAIT + 100), 0);
	/* A release too many is ignored, not turned into a negative count. */
	limiter_ip_release(l, sa(&a));
	failed(l, sa(&a), "u", "p", 2);
	limiter_ip_release(l, sa(&a));
	assert_int_equal(entries(l), 1);
	assert_int_equal(limiter_ip_acquire(l, sa(&a), 1, 2, NULL),
	    LIMITER_COUNTED);
	assert_int_equal(limiter_ip_acquire(l, sa(&a), 1, 2, NULL),
	    LIMITER_REFUSED);
	limiter_free(&l);
	assert_null(l);
	limiter_free(&l);
	limiter_free(NULL);
}

static void
test_ip_mapped(void **state)
{
	struct limiter	*l;
	struct addr	 a;

	(void)state;
	assert_non_null(l = limiter_new(65536));
	assert_int_equal(limiter_ip_acquire(l, addr(&a, "192.0.2.1", 143), 2,
	    0, NULL), LIMITER_COUNTED);
	assert_int_equal(limiter_ip_acquire(l, addr(&a, "::ffff:192.0.2.1",
	    993), 2, 0, NULL), LIMITER_COUNTED);
	assert_int_equal(limiter_ip_acquire(l, addr(&a, "192.0.2.1", 144), 2,
	    0, NULL), LIMITER_REFUSED);
	assert_int_equal(limiter_ip_acquire(l, addr(&a, "::ffff:192.0.2.1",
	    145), 2, 0, NULL), LIMITER_REFUSED);
	assert_int_equal(entries(l), 1);
	/* Released in the other form. */
	limiter_ip_release(l, addr(&a, "::ffff:192.0.2.1", 1));
	limiter_ip_release(l, addr(&a, "192.0.2.1", 1));
	assert_int_equal(entries_later(l, LIMITER_REPORT_WAIT + 100), 0);
	/* Failures meet in one entry too. */
	failed(l, addr(&a, "::ffff:198.51.100.9", 1), "bob", "pw1", 0);
	failed(l, addr(&a, "198.51.100.9", 2), "bob", "pw2", 0);
	assert_int_equal(limiter_auth_blocked(l, addr(&a, "198.51.100.9", 3),
	    2, WINDOW, 1, NULL), 1);
	assert_int_equal(limiter_auth_blocked(l, addr(&a,
	    "::ffff:198.51.100.9", 3), 2, WINDOW, 1, NULL), 1);
	limiter_free(&l);
}

static void
test_ip_v6_distinct(void **state)
{
	struct limiter	*l;
	struct addr	 a;

	(void)state;
	assert_non_null(l = limiter_new(65536));
	assert_int_equal(limiter_ip_acquire(l, addr(&a, "2001:db8::1", 1), 1,
	    0, NULL), LIMITER_COUNTED);
	assert_int_equal(limiter_ip_acquire(l, addr(&a, "2001:db8::2", 1), 1,
	    0, NULL), LIMITER_COUNTED);
	assert_int_equal(limiter_ip_acquire(l, addr(&a, "2001:db8:1::1", 1),
	    1, 0, NULL), LIMITER_COUNTED);
	/* IPv4-compatible (deprecated) is not IPv4-mapped. */
	assert_int_equal(limiter_ip_acquire(l, addr(&a, "192.0.2.1", 1), 1,
	    0, NULL), LIMITER_COUNTED);
	assert_int_equal(limiter_ip_acquire(l, addr(&a, "::192.0.2.1", 1), 1,
	    0, NULL), LIMITER_COUNTED);
	assert_int_equal(limiter_ip_acquire(l, addr(&a, "2001:db8::1", 2), 1,
	    0, NULL), LIMITER_REFUSED);
	assert_int_equal(entries(l), 5);
	limiter_free(&l);
}

static void
test_unlimited(void **state)
{
	struct limiter		*l;
	struct limiter_counts	 c;
	struct limiter_refusal	 r;
	struct addr		 a;
	struct sockaddr		 un;
	int			 i;

	(void)state;
	assert_non_null(l = limiter_new(65536));
	for (i = 0; i < 1000; i++) {
		assert_int_equal(limiter_ip_acquire(l, addr(&a, "192.0.2.1",
		    1), 0, 0, &r), LIMITER_UNCOUNTED);
		assert_int_equal(r.log, 0);
		assert_int_equal(limiter_user_acquire(l, "alice", 0, 0, &r),
		    LIMITER_UNCOUNTED);
	}
	assert_int_equal(entries(l), 0);
	/* Not-counted acquires are never released; stray releases are safe. */
	limiter_ip_release(l, addr(&a, "192.0.2.1", 1));
	limiter_user_release(l, "alice");
	/* Neither IPv4 nor IPv6: nothing to count by. */
	memset(&un, 0, sizeof(un));
	un.sa_family = AF_UNIX;
	assert_int_equal(limiter_ip_acquire(l, &un, 1, 0, NULL),
	    LIMITER_UNCOUNTED);
	assert_int_equal(limiter_ip_acquire(l, NULL, 1, 0, NULL),
	    LIMITER_UNCOUNTED);
	limiter_auth_failed(l, &un, "x", "y", 1, WINDOW, 0);
	assert_int_equal(limiter_auth_blocked(l, &un, 1, WINDOW, 0, NULL), 0);
	/* auth_fail_limit = 0: never blocked. */
	for (i = 0; i < 20; i++)
		failed(l, addr(&a, "192.0.2.9", 1), "u", i % 2 ? "a" : "b", 0);
	assert_int_equal(limiter_auth_blocked(l, addr(&a, "192.0.2.9", 1), 0,
	    WINDOW, 0, NULL), 0);
	limiter_counts(l, &c);
	assert_int_equal(c.entries, 1);
	assert_int_equal(c.ip_refused + c.user_refused + c.auth_blocked, 0);
	assert_int_equal(c.auth_failures, 21);
	limiter_free(&l);
}

static void
test_user_limit(void **state)
{
	struct limiter		*l;
	struct limiter_counts	 c;

	(void)state;
	assert_non_null(l = limiter_new(65536));
	assert_int_equal(limiter_user_acquire(l, "alice@example.org", 2, 0,
	    NULL), LIMITER_COUNTED);
	assert_int_equal(limiter_user_acquire(l, "alice@example.org", 2, 0,
	    NULL), LIMITER_COUNTED);
	assert_int_equal(limiter_user_acquire(l, "alice@example.org", 2, 0,
	    NULL), LIMITER_REFUSED);
	/* Exact comparison: the caller canonicalises. */
	assert_int_equal(limiter_user_acquire(l, "Alice@example.org", 2, 0,
	    NULL), LIMITER_COUNTED);
	assert_int_equal(limiter_user_acquire(l, "alice@example.or", 2, 0,
	    NULL), LIMITER_COUNTED);
	assert_int_equal(limiter_user_acquire(l, "", 1, 0, NULL),
	    LIMITER_COUNTED);
	assert_int_equal(limiter_user_acquire(l, "", 1, 0, NULL),
	    LIMITER_REFUSED);
	limiter_user_release(l, "alice@example.org");
	assert_int_equal(limiter_user_acquire(l, "alice@example.org", 2, 1,
	    NULL), LIMITER_COUNTED);
	limiter_counts(l, &c);
	assert_int_equal(c.user_refused, 2);
	assert_int_equal(c.ip_refused, 0);
	assert_int_equal(c.entries, 4);
	limiter_user_release(l, "alice@example.org");
	limiter_user_release(l, "alice@example.org");
	limiter_user_release(l, "Alice@example.org");
	limiter_user_release(l, "alice@example.or");
	limiter_user_release(l, "");
	assert_int_equal(entries_later(l, LIMITER_REPORT_WAIT + 100), 0);
	limiter_free(&l);
}

static void
test_auth_same_password(void **state)
{
	struct limiter	*l;
	struct addr	 a;
	const struct sockaddr *ip = addr(&a, "203.0.113.5", 1);
	int		 i;

	(void)state;
	assert_non_null(l = limiter_new(65536));
	/* A client retrying one wrong password counts once. */
	for (i = 0; i < 50; i++)
		failed(l, ip, "alice", "Summer2024", i);
	assert_int_equal(limiter_auth_blocked(l, ip, 2, WINDOW, 50, NULL), 0);
	/* A different password, or the same one for another user, counts. */
	failed(l, ip, "alice", "Summer2025", 51);
	assert_int_equal(limiter_auth_blocked(l, ip, 2, WINDOW, 52, NULL), 1);
	assert_int_equal(limiter_auth_blocked(l, ip, 3, WINDOW, 52, NULL), 0);
	failed(l, ip, "bob", "Summer2024", 53);
	assert_int_equal(limiter_auth_blocked(l, ip, 3, WINDOW, 54, NULL), 1);
	/* User and secret are framed: ("ab", "c") differs from ("a", "bc"). */
	failed(l, ip, "ab", "c", 55);
	failed(l, ip, "a", "bc", 55);
	assert_int_equal(limiter_auth_blocked(l, ip, 5, WINDOW, 56, NULL), 1);
	assert_int_equal(limiter_auth_blocked(l, ip, 6, WINDOW, 56, NULL), 0);
	/* Binary secrets (SASL) with NULs, and a NULL user. */
	limiter_auth_failed(l, ip, NULL, "\0a", 2, WINDOW, 57);
	limiter_auth_failed(l, ip, NULL, "\0b", 2, WINDOW, 57);
	limiter_auth_failed(l, ip, "", "\0b", 2, WINDOW, 57);
	assert_int_equal(limiter_auth_blocked(l, ip, 7, WINDOW, 58, NULL), 1);
	assert_int_equal(limiter_auth_blocked(l, ip, 8, WINDOW, 58, NULL), 0);
	limiter_free(&l);
}

/* Only the last LIMITER_RECENT distinct failures are remembered. */
static void
test_auth_recent(void **state)
{
	struct limiter	*l;
	struct addr	 a;
	const struct sockaddr *ip = addr(&a, "203.0.113.6", 1);
	char		 pw[16];
	int		 i;

	(void)state;
	assert_non_null(l = limiter_new(65536));
	for (i = 0; i <= LIMITER_RECENT; i++) {
		snprintf(pw, sizeof(pw), "pw%d", i);
		failed(l, ip, "alice", pw, i);
	}
	/* pw8 .. pw1 are remembered, pw0 has been forgotten. */
	failed(l, ip, "alice", "pw1", 20);
	failed(l, ip, "alice", "pw8", 20);
	assert_int_equal(limiter_auth_blocked(l, ip, LIMITER_RECENT + 2,
	    WINDOW, 21, NULL), 0);
	failed(l, ip, "alice", "pw0", 22);
	assert_int_equal(limiter_auth_blocked(l, ip, LIMITER_RECENT + 2,
	    WINDOW, 23, NULL), 1);
	assert_int_equal(limiter_auth_blocked(l, ip, LIMITER_RECENT + 3,
	    WINDOW, 23, NULL), 0);
	limiter_free(&l);
}

static void
test_auth_window(void **state)
{
	struct limiter		*l;
	struct limiter_counts	 c;
	struct addr		 a, b;
	const struct sockaddr	*ip = addr(&a, "2001:db8::66", 1);
	double			 t0 = 1000;

	(void)state;
	assert_non_null(l = limiter_new(65536));
	/* A connection keeps the entry from lazy expiry: the window must
	 * restart by itself. */
	assert_int_equal(limiter_ip_acquire(l, ip, 1, t0, NULL),
	    LIMITER_COUNTED);
	failed(l, ip, "alice", "a", t0);
	failed(l, ip, "alice", "b", t0 + 100);
	assert_int_equal(limiter_auth_blocked(l, ip, 3, WINDOW, t0 + 101,
	    NULL), 0);
	failed(l, ip, "carol", "c", t0 + 200);
	assert_int_equal(limiter_auth_blocked(l, ip, 3, WINDOW, t0 + 200,
	    NULL), 1);
	/* Another address is not blocked. */
	assert_int_equal(limiter_auth_blocked(l, addr(&b, "2001:db8::67", 1),
	    3, WINDOW, t0 + 200, NULL), 0);
	/* The window started with the first failure, not the last. */
	assert_int_equal(limiter_auth_blocked(l, ip, 3, WINDOW,
	    t0 + WINDOW - 0.5, NULL), 1);
	assert_int_equal(limiter_auth_blocked(l, ip, 3, WINDOW, t0 + WINDOW,
	    NULL), 0);
	/* The count restarts: "a" counts again, the old ones are gone. */
	failed(l, ip, "alice", "a", t0 + WINDOW + 1);
	failed(l, ip, "alice", "b", t0 + WINDOW + 2);
	assert_int_equal(limiter_auth_blocked(l, ip, 3, WINDOW,
	    t0 + WINDOW + 3, NULL), 0);
	assert_int_equal(limiter_auth_blocked(l, ip, 2, WINDOW,
	    t0 + WINDOW + 3, NULL), 1);
	limiter_counts(l, &c);
	assert_int_equal(c.auth_failures, 5);
	assert_int_equal(c.auth_blocked, 3);
	/* Expired history goes lazily, at the next call that has a time. */
	limiter_ip_release(l, ip);
	assert_int_equal(entries(l), 1);
	assert_int_equal(limiter_ip_acquire(l, sa(&b), 1, t0 + 3 * WINDOW,
	    NULL), LIMITER_COUNTED);
	assert_int_equal(entries(l), 1);
	assert_int_equal(limiter_auth_blocked(l, ip, 1, WINDOW,
	    t0 + 3 * WINDOW, NULL), 0);
	limiter_free(&l);
}

static void
test_auth_delay(void **state)
{
	struct limiter	*l;
	struct addr	 a;
	const struct sockaddr *ip = addr(&a, "192.0.2.1", 1);
	const double	 want[] = { 2, 4, 8, 15, 15, 15 };
	double		 t = 0;
	size_t		 i;

	(void)state;
	assert_non_null(l = limiter_new(65536));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_true(limiter_auth_delay(l, "alice", 2, WINDOW,
		    t + i) == want[i]);
	/* Users do not share a count. */
	assert_true(limiter_auth_delay(l, "bob", 2, WINDOW, t + 10) == 2);
	/* Past the window, alice starts over. */
	t += WINDOW;
	assert_true(limiter_auth_delay(l, "alice", 2, WINDOW, t) == 2);
	assert_true(limiter_auth_delay(l, "alice", 2, WINDOW, t + 1) == 4);
	/* A successful login forgets the user's failures. */
	limiter_auth_ok(l, ip, "alice");
	assert_true(limiter_auth_delay(l, "alice", 2, WINDOW, t + 2) == 2);
	/* base 0: no delay, nothing recorded. */
	limiter_auth_ok(l, ip, "alice");
	assert_true(limiter_auth_delay(l, "alice", 0, WINDOW, t + 3) == 0);
	assert_true(limiter_auth_delay(l, "alice", 0, WINDOW, t + 3) == 0);
	assert_true(limiter_auth_delay(l, "alice", 0.5, WINDOW, t + 4) ==
	    0.5);
	assert_true(limiter_auth_delay(l, "alice", 0.5, WINDOW, t + 4) ==
	    1.0);
	/* A base above the cap is capped too. */
	assert_true(limiter_auth_delay(l, "carol", 60, WINDOW, t) ==
	    LIMITER_MAX_DELAY);
	/* A session count survives auth_ok; the entry stays while live. */
	assert_int_equal(limiter_user_acquire(l, "dave", 1, t, NULL),
	    LIMITER_COUNTED);
	limiter_auth_delay(l, "dave", 2, WINDOW, t);
	limiter_auth_delay(l, "dave", 2, WINDOW, t);
	limiter_auth_ok(l, ip, "dave");
	assert_int_equal(limiter_user_acquire(l, "dave", 1, t, NULL),
	    LIMITER_REFUSED);
	assert_true(limiter_auth_delay(l, "dave", 2, WINDOW, t) == 2);
	assert_true(limiter_auth_delay(l, "dave", 2, WINDOW, t + 1) == 4);
	/* The live entry's window restarts without lazy expiry. */
	assert_true(limiter_auth_delay(l, "dave", 2, WINDOW, t + WINDOW) ==
	    2);
	limiter_free(&l);
}

/* The IP's failure budget is not reset by a login that succeeds. */
static void
test_auth_ok_keeps_ip(void **state)
{
	struct limiter	*l;
	struct addr	 a;
	const struct sockaddr *ip = addr(&a, "192.0.2.77", 1);

	(void)state;
	assert_non_null(l = limiter_new(65536));
	failed(l, ip, "alice", "x", 0);
	failed(l, ip, "bob", "x", 0);
	limiter_auth_ok(l, ip, "mallory");
	assert_int_equal(limiter_auth_blocked(l, ip, 2, WINDOW, 1, NULL), 1);
	limiter_free(&l);
}

static void
test_refusal_log(void **state)
{
	struct limiter		*l;
	struct limiter_refusal	 r;
	struct addr		 a;
	const struct sockaddr	*ip = addr(&a, "192.0.2.1", 1);

	(void)state;
	assert_non_null(l = limiter_new(65536));
	assert_int_equal(limiter_ip_acquire(l, ip, 1, 0, &r), LIMITER_COUNTED);
	assert_int_equal(r.log, 0);
	assert_int_equal(limiter_ip_acquire(l, ip, 1, 100, &r),
	    LIMITER_REFUSED);
	assert_int_equal(r.log, 1);
	assert_int_equal(r.suppressed, 0);
	assert_int_equal(limiter_ip_acquire(l, ip, 1, 101, &r),
	    LIMITER_REFUSED);
	assert_int_equal(r.log, 0);
	assert_int_equal(limiter_ip_acquire(l, ip, 1, 159.9, NULL),
	    LIMITER_REFUSED);
	assert_int_equal(limiter_ip_acquire(l, ip, 1, 160, &r),
	    LIMITER_REFUSED);
	assert_int_equal(r.log, 1);
	assert_int_equal(r.suppressed, 2);
	assert_int_equal(limiter_ip_acquire(l, ip, 1, 161, &r),
	    LIMITER_REFUSED);
	assert_int_equal(r.log, 0);
	assert_int_equal(r.suppressed, 0);
	/* A burst right after one logged line: nothing in between. */
	assert_int_equal(limiter_ip_acquire(l, ip, 1, 300, &r),
	    LIMITER_REFUSED);
	assert_int_equal(r.log, 1);
	assert_int_equal(r.suppressed, 1);
	/* An auth block of the same address is logged on its own pace. */
	failed(l, ip, "alice", "x", 300);
	assert_int_equal(limiter_auth_blocked(l, ip, 1, WINDOW, 301, &r), 1);
	assert_int_equal(r.log, 1);
	assert_int_equal(r.suppressed, 0);
	assert_int_equal(limiter_auth_blocked(l, ip, 1, WINDOW, 302, &r), 1);
	assert_int_equal(r.log, 0);
	assert_int_equal(limiter_auth_blocked(l, ip, 1, WINDOW, 361, &r), 1);
	assert_int_equal(r.log, 1);
	assert_int_equal(r.suppressed, 1);
	/* Per user, and not blocked: r is cleared. */
	assert_int_equal(limiter_user_acquire(l, "bob", 1, 0, &r),
	    LIMITER_COUNTED);
	assert_int_equal(limiter_user_acquire(l, "bob", 1, 0, &r),
	    LIMITER_REFUSED);
	assert_int_equal(r.log, 1);
	assert_int_equal(limiter_user_acquire(l, "bob", 1, 1, &r),
	    LIMITER_REFUSED);
	assert_int_equal(r.log, 0);
	r.log = 1;
	assert_int_equal(limiter_auth_blocked(l, addr(&a, "192.0.2.2", 1), 1,
	    WINDOW, 1, &r), 0);
	assert_int_equal(r.log, 0);
	limiter_free(&l);
}

/* A million attackers cannot grow the table or evict live counts. */
static void
test_memory_bound(void **state)
{
	struct limiter		*l;
	struct limiter_counts	 c;
	struct addr		 a, live;
	const struct sockaddr	*lip = addr(&live, "198.51.100.7", 1);
	uint32_t		 i;
	int			 k;

	(void)state;
	assert_non_null(l = limiter_new(FLOOD_TABLE));
	for (k = 0; k < 3; k++)
		assert_int_equal(limiter_ip_acquire(l, lip, 3, 0, NULL),
		    LIMITER_COUNTED);
	assert_int_equal(limiter_user_acquire(l, "alice", 1, 0, NULL),
	    LIMITER_COUNTED);
	for (i = 0; i < FLOOD; i++)
		failed(l, addr_n(&a, i), "root", "123456", 1 + i / 1000.0);
	limiter_counts(l, &c);
	assert_true(c.entries <= FLOOD_TABLE);
	assert_true(c.entries >= FLOOD_TABLE - 2);
	assert_true(c.evictions >= FLOOD - FLOOD_TABLE);
	assert_int_equal(c.full, 0);
	assert_int_equal(c.auth_failures, FLOOD);
	/* The most recent attackers are still remembered. */
	assert_int_equal(limiter_auth_blocked(l, addr_n(&a, FLOOD - 1), 1,
	    WINDOW, 1001, NULL), 1);
	/* The live address still holds 3 and the user 1. */
	assert_int_equal(limiter_ip_acquire(l, lip, 3, 1001, NULL),
	    LIMITER_REFUSED);
	assert_int_equal(limiter_user_acquire(l, "alice", 1, 1001, NULL),
	    LIMITER_REFUSED);
	limiter_ip_release(l, lip);
	assert_int_equal(limiter_ip_acquire(l, lip, 3, 1001, NULL),
	    LIMITER_COUNTED);
	assert_int_equal(limiter_ip_acquire(l, lip, 3, 1001, NULL),
	    LIMITER_REFUSED);
	limiter_free(&l);
}

/* Eviction takes the least recently used entry without connections. */
/* A client that reconnects between refusals is still logged once a minute. */
static void
test_refusal_log_reconnecting(void **state)
{
	struct limiter		*l;
	struct limiter_refusal	 r;
	struct addr		 a;
	const struct sockaddr	*ip = addr(&a, "192.0.2.9", 1);
	int			 i, logged = 0;

	(void)state;
	assert_non_null(l = limiter_new(65536));
	for (i = 0; i < 10; i++) {
		assert_int_equal(limiter_ip_acquire(l, ip, 1, 100 + i, &r),
		    LIMITER_COUNTED);
		assert_int_equal(limiter_ip_acquire(l, ip, 1, 100 + i, &r),
		    LIMITER_REFUSED);
		logged += r.log;
		limiter_ip_release(l, ip);
	}
	assert_int_equal(logged, 1);
	assert_int_equal(limiter_ip_acquire(l, ip, 1, 170, &r),
	    LIMITER_COUNTED);
	assert_int_equal(limiter_ip_acquire(l, ip, 1, 170, &r),
	    LIMITER_REFUSED);
	assert_int_equal(r.log, 1);
	assert_int_equal(r.suppressed, 9);
	limiter_free(&l);
}

static void
test_evict_lru(void **state)
{
	struct limiter		*l;
	struct limiter_counts	 c;
	struct addr		 a;

	(void)state;
	assert_non_null(l = limiter_new(4));
	failed(l, addr(&a, "192.0.2.1", 1), "u", "1", 0);
	failed(l, addr(&a, "192.0.2.2", 1), "u", "1", 1);
	failed(l, addr(&a, "192.0.2.3", 1), "u", "1", 2);
	failed(l, addr(&a, "192.0.2.4", 1), "u", "1", 3);
	failed(l, addr(&a, "192.0.2.1", 1), "u", "2", 4);	/* used again */
	failed(l, addr(&a, "192.0.2.5", 1), "u", "1", 5);	/* evicts .2 */
	limiter_counts(l, &c);
	assert_int_equal(c.entries, 4);
	assert_int_equal(c.evictions, 1);
	assert_int_equal(limiter_auth_blocked(l, addr(&a, "192.0.2.1", 1), 2,
	    WINDOW, 6, NULL), 1);
	assert_int_equal(limiter_auth_blocked(l, addr(&a, "192.0.2.2", 1), 1,
	    WINDOW, 6, NULL), 0);
	assert_int_equal(limiter_auth_blocked(l, addr(&a, "192.0.2.3", 1), 1,
	    WINDOW, 6, NULL), 1);
	assert_int_equal(limiter_auth_blocked(l, addr(&a, "192.0.2.5", 1), 1,
	    WINDOW, 6, NULL), 1);
	limiter_free(&l);
}

/* A table full of live entries fails open and stays consistent. */
static void
test_full_of_live(void **state)
{
	struct limiter		*l;
	struct limiter_counts	 c;
	struct addr		 a;
	char			 s[32];
	int			 i;

	(void)state;
	assert_non_null(l = limiter_new(4));
	for (i = 1; i <= 4; i++) {
		snprintf(s, sizeof(s), "192.0.2.%d", i);
		assert_int_equal(limiter_ip_acquire(l, addr(&a, s, 1), 1, 0,
		    NULL), LIMITER_COUNTED);
	}
	assert_int_equal(limiter_ip_acquire(l, addr(&a, "192.0.2.9", 1), 1, 0,
	    NULL), LIMITER_UNCOUNTED);
	assert_int_equal(limiter_ip_acquire(l, addr(&a, "192.0.2.9", 1), 1, 0,
	    NULL), LIMITER_UNCOUNTED);
	assert_int_equal(limiter_user_acquire(l, "alice", 1, 0, NULL),
	    LIMITER_UNCOUNTED);
	failed(l, addr(&a, "192.0.2.9", 1), "u", "1", 0);
	assert_int_equal(limiter_auth_blocked(l, addr(&a, "192.0.2.9", 1), 1,
	    WINDOW, 0, NULL), 0);
	assert_true(limiter_auth_delay(l, "alice", 2, WINDOW, 0) == 2);
	assert_true(limiter_auth_delay(l, "alice", 2, WINDOW, 0) == 2);
	limiter_counts(l, &c);
	assert_int_equal(c.entries, 4);
	assert_int_equal(c.full, 6);
	assert_int_equal(c.evictions, 0);
	/* The live counts are intact; freed room is usable again. */
	assert_int_equal(limiter_ip_acquire(l, addr(&a, "192.0.2.3", 1), 1, 0,
	    NULL), LIMITER_REFUSED);
	limiter_ip_release(l, addr(&a, "192.0.2.3", 1));
	assert_int_equal(limiter_ip_acquire(l, addr(&a, "192.0.2.9", 1), 1, 0,
	    NULL), LIMITER_COUNTED);
	assert_int_equal(limiter_ip_acquire(l, addr(&a, "192.0.2.9", 1), 1, 0,
	    NULL), LIMITER_REFUSED);
	limiter_free(&l);
}

/*
 * Random acquires, releases and failures against a reference model,
 * through growth, eviction and backward-shift deletion.  200 addresses
 * hold at most 200 live entries, under the table's 256.
 */
static void
test_model(void **state)
{
	struct limiter	*l;
	struct addr	 a;
	unsigned int	 conns[200] = { 0 };
	unsigned int	 seed = 12345, ip, op;
	int		 i, rc;

	(void)state;
	assert_non_null(l = limiter_new(256));
	for (i = 0; i < 300000; i++) {
		op = rand_r(&seed) % 4;
		ip = rand_r(&seed) % 200;
		if (op == 0) {
			rc = limiter_ip_acquire(l, addr_n(&a, ip), 2, i, NULL);
			assert_int_equal(rc, conns[ip] < 2 ? LIMITER_COUNTED :
			    LIMITER_REFUSED);
			conns[ip] += rc == LIMITER_COUNTED;
		} else if (op == 1 && conns[ip] > 0) {
			limiter_ip_release(l, addr_n(&a, ip));
			conns[ip]--;
		} else
			failed(l, addr_n(&a, 1000 + rand_r(&seed) % 5000),
			    "u", "p", i);
		assert_true(entries(l) <= 256);
	}
	for (ip = 0; ip < 200; ip++)
		assert_int_equal(limiter_ip_acquire(l, addr_n(&a, ip), 2, i,
		    NULL), conns[ip] < 2 ? LIMITER_COUNTED : LIMITER_REFUSED);
	limiter_free(&l);
}

struct hammer {
	struct limiter	*l;
	unsigned long	 counted;
	int		 over;		/* saw more than the limit held */
};

static atomic_int	 held;		/* connections the hammers hold */

/* Takes two connections at a time, so the threads contend at max 3. */
static void *
hammer(void *arg)
{
	struct hammer	*h = arg;
	struct addr	 a;
	const struct sockaddr *ip = addr(&a, "::ffff:192.0.2.200", 1);
	int		 i, k, got;

	for (i = 0; i < THREAD_LOOPS; i++) {
		for (got = k = 0; k < 2; k++)
			if (limiter_ip_acquire(h->l, ip, 3, i, NULL) ==
			    LIMITER_COUNTED)
				got++;
		if (atomic_fetch_add(&held, got) + got > 3)
			h->over = 1;
		h->counted += got;
		if (limiter_user_acquire(h->l, "shared", 2, i, NULL) ==
		    LIMITER_COUNTED)
			limiter_user_release(h->l, "shared");
		atomic_fetch_sub(&held, got);
		while (got-- > 0)
			limiter_ip_release(h->l, ip);
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct limiter	*l;
	struct hammer	 h[THREADS];
	pthread_t	 t[THREADS];
	struct addr	 a;
	const struct sockaddr *ip = addr(&a, "192.0.2.200", 1);
	int		 i;

	(void)state;
	assert_non_null(l = limiter_new(65536));
	for (i = 0; i < THREADS; i++) {
		h[i].l = l;
		h[i].counted = 0;
		h[i].over = 0;
		assert_int_equal(pthread_create(&t[i], NULL, hammer, &h[i]),
		    0);
	}
	for (i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_true(h[i].counted > 0);
		assert_false(h[i].over);
	}
	assert_int_equal(entries_later(l, THREAD_LOOPS + LIMITER_REPORT_WAIT),
	    0);
	for (i = 0; i < 3; i++)
		assert_int_equal(limiter_ip_acquire(l, ip, 3, 0, NULL),
		    LIMITER_COUNTED);
	assert_int_equal(limiter_ip_acquire(l, ip, 3, 0, NULL),
	    LIMITER_REFUSED);
	assert_int_equal(limiter_user_acquire(l, "shared", 2, 0, NULL),
	    LIMITER_COUNTED);
	assert_int_equal(limiter_user_acquire(l, "shared", 2, 0, NULL),
	    LIMITER_COUNTED);
	assert_int_equal(limiter_user_acquire(l, "shared", 2, 0, NULL),
	    LIMITER_REFUSED);
	limiter_free(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ip_limit),
		cmocka_unit_test(test_ip_mapped),
		cmocka_unit_test(test_ip_v6_distinct),
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_user_limit),
		cmocka_unit_test(test_auth_same_password),
		cmocka_unit_test(test_auth_recent),
		cmocka_unit_test(test_auth_window),
		cmocka_unit_test(test_auth_delay),
		cmocka_unit_test(test_auth_ok_keeps_ip),
		cmocka_unit_test(test_refusal_log),
		cmocka_unit_test(test_refusal_log_reconnecting),
		cmocka_unit_test(test_memory_bound),
		cmocka_unit_test(test_evict_lru),
		cmocka_unit_test(test_full_of_live),
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
