/*
 * Reverse DNS with forward confirmation for the `domain` ACL selector
 * (SPEC.md section 4), through c-ares on a worker's libev loop.
 *
 * A lookup asks for the PTR records of the client's address, then for
 * the A (IPv4 client) or AAAA (IPv6 client) records of each PTR name,
 * all in parallel; the first name, in PTR order, whose addresses include
 * the client's is the answer.  dns_timeout bounds the whole lookup with
 * a timer of our own; c-ares's first retransmission timeout is a
 * quarter of it, so c-ares retries within the window and gives up only
 * after it (T + 2T + 4T per server).
 *
 * c-ares cannot cancel one query, so a struct dns_query stays allocated
 * until every c-ares query it issued has called back: q->refs counts
 * them (plus short holds while we call out).  Once q->done is set, by an
 * answer, a timeout, dns_cancel() or dns_free(), its callback is never
 * called again and late answers only drop their reference.
 *
 * Answers, names and failures alike, are cached per struct dns for
 * their TTL in a bounded hash table; when full, the oldest entry goes.
 */
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>

#include <netdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ares.h>
#include <ev.h>

#include "bounds.h"
#include "conf.h"
#include "container_of.h"
#include "dns.h"

/* Longest failure text: two names would not fit, one name and addresses do. */
#define DNS_MAX_WHY	512
/* "f.f.(32 nibbles).ip6.arpa" plus NUL. */
#define DNS_MAX_RNAME	80
/* c-ares: attempts per server; the timeout doubles each round (T, 2T, 4T). */
#define DNS_TRIES	3
/* c-ares's first timeout, whatever dns_timeout is (it may be 100 ms). */
#define DNS_MIN_TRY_MS	50

struct dns_key {
	unsigned char		 family;	/* AF_INET or AF_INET6 */
	unsigned char		 len;		/* 4 or 16 */
	unsigned char		 addr[16];
};

/* One cached answer: a name, or the failure's text. */
struct dns_entry {
	struct dns_entry	*next;		/* hash chain */
	TAILQ_ENTRY(dns_entry)	 fifo;	/* insertion order */
	struct dns_key		 key;
	ev_tstamp		 expires;
	int			 ok;	/* text is a name, else a why */
	char			 text[];
};

TAILQ_HEAD(dns_fifo, dns_entry);

enum dns_class {
	DNS_POSITIVE,		/* confirmed name */
	DNS_NEGATIVE,		/* NXDOMAIN, no PTR, not confirmed: TTL */
	DNS_TEMPFAIL		/* timeout, SERVFAIL, out of memory */
};

enum dns_fwd_state {
	DNS_FWD_PENDING,
	DNS_FWD_CONFIRMED,
	DNS_FWD_MISMATCH,	/* addresses, none the client's */
	DNS_FWD_NONE,		/* no A/AAAA record, or a bad answer */
	DNS_FWD_TEMPFAIL
};

struct dns_query;

/* The forward lookup of one PTR name: the c-ares argument. */
struct dns_fwd {
	struct dns_query	*q;
	enum dns_fwd_state	 state;
	int			 status;	/* TEMPFAIL: ares status */
	double			 ttl;
	int			 naddrs;	/* MISMATCH: how many */
	char			 other[INET6_ADDRSTRLEN]; /* first one */
	char			 name[256];	/* lower case, no dot */
};

struct dns_query {
	TAILQ_ENTRY(dns_query)	 entry;
	struct dns		*dns;
	dns_cb			*cb;
	void			*arg;
	ev_timer		 timer;		/* dns_timeout */
	ev_tstamp		 start;
	struct dns_key		 key;
	char			 addr[INET6_ADDRSTRLEN];
	int			 refs;	/* c-ares queries, holds */
	int			 done;	/* no callback any more */
	int			 ptr_done;
	double			 ttl;	/* of the PTR answer */
	size_t			 nfwd;
	struct dns_fwd		 fwd[DNS_MAX_PTR];
};

TAILQ_HEAD(dns_queries, dns_query);

/* A c-ares socket; at most two per server (UDP and TCP). */
struct dns_sock {
	ev_io			 io;
	struct dns		*dns;
	int			 used;
	int			 events;
};

struct dns {
	struct ev_loop		*loop;
	ares_channel		 channel;
	int			 channel_ok;
	ev_timer		 tick;		/* ares_timeout() */
	struct dns_sock		 socks[ARES_GETSOCK_MAXNUM];
	double			 timeout;	/* dns_timeout */
	struct dns_queries	 queries;	/* every allocated query */
	/* The cache. */
	struct dns_entry       **buckets;
	size_t			 nbuckets;	/* a power of two */
	size_t			 count;
	struct dns_fifo		 fifo;
	uint64_t		 seed[2];
};

static void	dns_io_cb(struct ev_loop *, ev_io *, int);
static void	dns_tick_cb(struct ev_loop *, ev_timer *, int);
static void	dns_query_timeout_cb(struct ev_loop *, ev_timer *, int);
static void	dns_ptr_cb(void *, int, int, unsigned char *, int);
static void	dns_fwd_cb(void *, int, int, unsigned char *, int);
static void	dns_query_unref(struct dns_query *);

static pthread_once_t	dns_once = PTHREAD_ONCE_INIT;
static int		dns_lib_status = ARES_ENOTINITIALIZED;

/* ares_library_init() is not thread-safe: once per process. */
static void
dns_lib_init(void)
{
	dns_lib_status = ares_library_init(ARES_LIB_INIT_ALL);
}

/*
 * The cache.
 */

static uint64_t
dns_rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static void
dns_sipround(uint64_t v[4])
{
	v[0] += v[1]; v[1] = dns_rotl(v[1], 13); v[1] ^= v[0];
	v[0] = dns_rotl(v[0], 32);
	v[2] += v[3]; v[3] = dns_rotl(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = dns_rotl(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = dns_rotl(v[1], 17); v[1] ^= v[2];
	v[2] = dns_rotl(v[2], 32);
}

/*
 * SipHash-2-4 with a random key: a client picks its IPv6 address freely
 * within its prefix, and must not be able to pile them into one chain.
 */
static uint64_t
dns_siphash(const uint64_t k[2], const unsigned char *in, size_t len)
{
	uint64_t	v[4], m, b = (uint64_t)len << 56;
	size_t		i, j;
	int		r;

	v[0] = 0x736f6d6570736575ULL ^ k[0];
	v[1] = 0x646f72616e646f6dULL ^ k[1];
	v[2] = 0x6c7967656e657261ULL ^ k[0];
	v[3] = 0x7465646279746573ULL ^ k[1];
	for (i = 0; i + 8 <= len; i += 8) {
		for (m = 0, j = 0; j < 8; j++)
			m |= (uint64_t)in[i + j] << (8 * j);
		v[3] ^= m;
		dns_sipround(v);
		dns_sipround(v);
		v[0] ^= m;
	}
	for (j = 0; i + j < len; j++)
		b |= (uint64_t)in[i + j] << (8 * j);
	v[3] ^= b;
	dns_sipround(v);
	dns_sipround(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	for (r = 0; r < 4; r++)
		dns_sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static struct dns_entry **
dns_bucket(struct dns *dns, const struct dns_key *k)
{
	unsigned char	buf[17];

	buf[0] = k->family;
	memcpy(buf + 1, k->addr, k->len);
	return &dns->buckets[dns_siphash(dns->seed, buf, 1 + (size_t)k->len) &
	    (dns->nbuckets - 1)];
}

static int
dns_key_eq(const struct dns_key *a, const struct dns_key *b)
{
	return a->family == b->family && a->len == b->len &&
	    memcmp(a->addr, b->addr, a->len) == 0;
}

static void
dns_cache_del(struct dns *dns, struct dns_entry *e)
{
	struct dns_entry	**pp;

	for (pp = dns_bucket(dns, &e->key); *pp != NULL; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	TAILQ_REMOVE(&dns->fifo, e, fifo);
	dns->count--;
	free(e);
}

/* The live entry for k; an expired one is dropped on the way. */
static struct dns_entry *
dns_cache_get(struct dns *dns, const struct dns_key *k)
{
	struct dns_entry	*e;

	for (e = *dns_bucket(dns, k); e != NULL; e = e->next)
		if (dns_key_eq(&e->key, k))
			break;
	if (e != NULL && e->expires <= ev_now(dns->loop)) {
		dns_cache_del(dns, e);
		e = NULL;
	}
	return e;
}

static double
dns_ttl_clamp(double ttl)
{
	if (ttl < DNS_TTL_MIN)
		return DNS_TTL_MIN;
	if (ttl > DNS_TTL_MAX)
		return DNS_TTL_MAX;
	return ttl;
}

/*
 * Remembers text (a name when ok, else a failure) for k.  Out of memory
 * only means no caching.  Each insertion drops a few expired entries
 * from the old end first, so stale ones do not sit out their turn.
 */
static void
dns_cache_put(struct dns *dns, const struct dns_key *k, int ok,
    const char *text, double ttl)
{
	struct dns_entry	*e, **bp;
	ev_tstamp		 now = ev_now(dns->loop);
	size_t			 len = strlen(text), i;

	if ((e = dns_cache_get(dns, k)) != NULL)
		dns_cache_del(dns, e);
	for (i = 0; i < 4 && (e = TAILQ_FIRST(&dns->fifo)) != NULL &&
	    e->expires <= now; i++)
		dns_cache_del(dns, e);
	if (dns->count >= DNS_CACHE_MAX)
		dns_cache_del(dns, TAILQ_FIRST(&dns->fifo));
	if ((e = malloc(sizeof(*e) + len + 1)) == NULL)
		return;
	e->key = *k;
	e->expires = now + dns_ttl_clamp(ttl);
	e->ok = ok;
	memcpy(e->text, text, len + 1);
	bp = dns_bucket(dns, k);
	e->next = *bp;
	*bp = e;
	TAILQ_INSERT_TAIL(&dns->fifo, e, fifo);
	dns->count++;
}

size_t
dns_cache_count(const struct dns *dns)
{
	return dns->count;
}

/* Fills k from sa, IPv4-mapped IPv6 as IPv4; -1 if not IP. */
static int
dns_key_from(const struct sockaddr *sa, struct dns_key *k)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	memset(k, 0, sizeof(*k));
	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)(const void *)sa;
		k->family = AF_INET;
		k->len = 4;
		memcpy(k->addr, &sin->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family != AF_INET6)
		return -1;
	sin6 = (const struct sockaddr_in6 *)(const void *)sa;
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		k->family = AF_INET;
		k->len = 4;
		memcpy(k->addr, sin6->sin6_addr.s6_addr + 12, 4);
		return 0;
	}
	k->family = AF_INET6;
	k->len = 16;
	memcpy(k->addr, &sin6->sin6_addr, 16);
	return 0;
}

double
dns_cache_ttl(struct dns *dns, const struct sockaddr *sa)
{
	struct dns_key		 k;
	struct dns_entry	*e;

	if (dns_key_from(sa, &k) == -1 || (e = dns_cache_get(dns, &k)) == NULL)
		return -1;
	return e->expires - ev_now(dns->loop);
}

/*
 * c-ares on the loop.
 */

/* Re-arms the tick for c-ares's next retransmission or give-up. */
static void
dns_arm(struct dns *dns)
{
	struct timeval	tv;

	ev_timer_stop(dns->loop, &dns->tick);
	if (ares_timeout(dns->channel, NULL, &tv) == NULL)
		return;
	ev_timer_set(&dns->tick, tv.tv_sec + tv.tv_usec / 1e6, 0.);
	ev_timer_start(dns->loop, &dns->tick);
}

/* c-ares opens, changes or (readable == writable == 0) closes a socket. */
static void
dns_sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns	*dns = data;
	struct dns_sock	*s = NULL, *spare = NULL;
	int		 events, i;

	events = (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0);
	for (i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
		if (dns->socks[i].used && dns->socks[i].io.fd == fd) {
			s = &dns->socks[i];
			break;
		}
		if (!dns->socks[i].used && spare == NULL)
			spare = &dns->socks[i];
	}
	if (s != NULL) {
		ev_io_stop(dns->loop, &s->io);
		s->used = 0;
	}
	if (events == 0)
		return;
	if (s == NULL && (s = spare) == NULL)
		/*
		 * XXX Cannot happen: at most CONF_MAX_DNS servers, one UDP
		 * and one TCP socket each.  Unwatched, a query would still
		 * end on c-ares's timeout through the tick.
		 */
		return;
	/* ev_io_set() every time: the fd number may be a new socket. */
	ev_io_init(&s->io, dns_io_cb, fd, events);
	ev_io_start(dns->loop, &s->io);
	s->used = 1;
	s->events = events;
}

static void
dns_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct dns_sock	*s = container_of(w, struct dns_sock, io);
	struct dns	*dns = s->dns;
	int		 fd = w->fd;

	(void)loop;
	ares_process_fd(dns->channel,
	    (revents & EV_READ) ? fd : ARES_SOCKET_BAD,
	    (revents & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	dns_arm(dns);
}

static void
dns_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dns	*dns = container_of(w, struct dns, tick);

	(void)loop;
	(void)revents;
	ares_process_fd(dns->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	dns_arm(dns);
}

/*
 * Parsing what c-ares leaves to us: TTLs.
 */

static unsigned int
dns_get16(const unsigned char *p)
{
	return (unsigned int)p[0] << 8 | p[1];
}

/* RFC 2181 section 8: a TTL with its top bit set counts as zero. */
static double
dns_get_ttl(const unsigned char *p)
{
	uint32_t	v;

	v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
	return (v & 0x80000000U) ? 0 : (double)v;
}

/* Skips a (possibly compressed) name; NULL if it runs past end. */
static const unsigned char *
dns_skip_name(const unsigned char *p, const unsigned char *end)
{
	while (p < end) {
		if (*p == 0)
			return p + 1;
		if ((*p & 0xc0) == 0xc0)
			return end - p >= 2 ? p + 2 : NULL;
		if ((*p & 0xc0) != 0)
			return NULL;
		p += 1 + *p;
	}
	return NULL;
}

/*
 * The smallest TTL of the answer section (-1: none), and the negative
 * TTL of RFC 2308 section 5 from an SOA in the authority section: the
 * smaller of its TTL and its MINIMUM (-1: none).  c-ares checked the
 * header and question already; a truncated record ends the walk.
 */
static void
dns_reply_ttls(const unsigned char *abuf, int alen, double *ans_r,
    double *neg_r)
{
	const unsigned char	*p, *end;
	unsigned int		 qd, an, ns, i, type, rdlen;
	double			 ttl, min;

	*ans_r = *neg_r = -1;
	if (abuf == NULL || alen < HFIXEDSZ)
		return;
	end = abuf + alen;
	qd = dns_get16(abuf + 4);
	an = dns_get16(abuf + 6);
	ns = dns_get16(abuf + 8);
	p = abuf + HFIXEDSZ;
	for (i = 0; i < qd; i++) {
		if ((p = dns_skip_name(p, end)) == NULL || end - p < QFIXEDSZ)
			return;
		p += QFIXEDSZ;
	}
	for (i = 0; i < an + ns; i++) {
		if ((p = dns_skip_name(p, end)) == NULL || end - p < RRFIXEDSZ)
			return;
		type = dns_get16(p);
		ttl = dns_get_ttl(p + 4);
		rdlen = dns_get16(p + 8);
		p += RRFIXEDSZ;
		if ((size_t)(end - p) < rdlen)
			return;
		if (i < an) {
			if (*ans_r < 0 || ttl < *ans_r)
				*ans_r = ttl;
		} else if (type == T_SOA && rdlen >= 22) {
			min = dns_get_ttl(p + rdlen - 4);
			*neg_r = ttl < min ? ttl : min;
		}
		p += rdlen;
	}
}

/* Copies a host name lower case without its final dot; -1 if not one. */
static int
dns_name_copy(char *dst, size_t dstlen, const char *src)
{
	size_t	n = strlen(src), i;
	char	c;

	if (n > 0 && src[n - 1] == '.')
		n--;
	if (n == 0 || n >= dstlen || n > 253)
		return -1;
	/* ASCII by hand: a locale must not let other bytes through. */
	for (i = 0; i < n; i++) {
		c = src[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		else if (!(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') &&
		    c != '-' && c != '.' && c != '_')
			return -1;
		dst[i] = c;
	}
	dst[n] = '\0';
	return 0;
}

/*
 * Queries.
 */

static void
dns_query_unref(struct dns_query *q)
{
	if (--q->refs > 0)
		return;
	ev_timer_stop(q->dns->loop, &q->timer);
	TAILQ_REMOVE(&q->dns->queries, q, entry);
	free(q);
}

/*
 * Ends q: caches the outcome and calls back, holding q so that the
 * callback may dns_cancel() it (a no-op) or start other lookups.
 */
static void
dns_query_finish(struct dns_query *q, enum dns_class class, const char *name,
    const char *why, double ttl)
{
	if (q->done)
		return;
	q->done = 1;
	ev_timer_stop(q->dns->loop, &q->timer);
	if (class == DNS_TEMPFAIL)
		ttl = DNS_TTL_TEMPFAIL;
	dns_cache_put(q->dns, &q->key, class == DNS_POSITIVE,
	    class == DNS_POSITIVE ? name : why, ttl);
	q->refs++;
	q->cb(q->arg, class == DNS_POSITIVE ? name : NULL,
	    class == DNS_POSITIVE ? NULL : why);
	dns_query_unref(q);
}

/* Seconds since the lookup began, for messages. */
static double
dns_query_elapsed(const struct dns_query *q)
{
	return ev_now(q->dns->loop) - q->start;
}

/* Decides once the names before the first confirmed one have answered. */
static void
dns_query_check(struct dns_query *q)
{
	struct dns_fwd	*f, *why = NULL;
	char		 buf[DNS_MAX_WHY];
	double		 ttl = q->ttl;
	size_t		 i;

	for (i = 0; i < q->nfwd; i++) {
		f = &q->fwd[i];
		if (f->state == DNS_FWD_PENDING)
			return;
		if (f->state == DNS_FWD_CONFIRMED) {
			dns_query_finish(q, DNS_POSITIVE, f->name, NULL,
			    f->ttl < ttl ? f->ttl : ttl);
			return;
		}
		if (f->ttl < ttl)
			ttl = f->ttl;
		if (f->state == DNS_FWD_TEMPFAIL && why == NULL)
			why = f;
	}
	/* None confirmed: a temporary failure might have, so it speaks. */
	if (why != NULL) {
		if (why->status == ARES_ETIMEOUT)
			snprintf(buf, sizeof(buf), "forward lookup of %s timed "
			    "out after %.1fs", why->name, dns_query_elapsed(q));
		else
			snprintf(buf, sizeof(buf), "forward lookup of %s "
			    "failed: %s", why->name,
			    ares_strerror(why->status));
		dns_query_finish(q, DNS_TEMPFAIL, NULL, buf, 0);
		return;
	}
	f = &q->fwd[0];
	if (f->state == DNS_FWD_MISMATCH && f->naddrs > 1)
		snprintf(buf, sizeof(buf), "not confirmed: %s resolves to %s "
		    "and %d other address%s, not %s", f->name, f->other,
		    f->naddrs - 1, f->naddrs > 2 ? "es" : "", q->addr);
	else if (f->state == DNS_FWD_MISMATCH)
		snprintf(buf, sizeof(buf), "not confirmed: %s resolves to %s, "
		    "not %s", f->name, f->other, q->addr);
	else
		snprintf(buf, sizeof(buf), "not confirmed: %s has no %s record",
		    f->name, q->key.family == AF_INET ? "A" : "AAAA");
	if (q->nfwd > 1) {
		i = strlen(buf);
		snprintf(buf + i, sizeof(buf) - i, " (nor %zu other name%s)",
		    q->nfwd - 1, q->nfwd > 2 ? "s" : "");
	}
	dns_query_finish(q, DNS_NEGATIVE, NULL, buf, ttl);
}

static void
dns_query_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dns_query	*q = container_of(w, struct dns_query, timer);
	char			 buf[DNS_MAX_WHY];
	size_t			 i;

	(void)loop;
	(void)revents;
	if (!q->ptr_done)
		snprintf(buf, sizeof(buf), "reverse lookup of %s timed out "
		    "after %gs", q->addr, q->dns->timeout);
	else {
		for (i = 0; i + 1 < q->nfwd; i++)
			if (q->fwd[i].state == DNS_FWD_PENDING)
				break;
		snprintf(buf, sizeof(buf), "forward lookup of %s timed out "
		    "after %gs", q->fwd[i].name, q->dns->timeout);
	}
	/* The c-ares queries run on; their callbacks drop their refs. */
	dns_query_finish(q, DNS_TEMPFAIL, NULL, buf, 0);
}

static void
dns_ptr_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_query	*q = arg;
	struct hostent		*he = NULL;
	char			 buf[DNS_MAX_WHY];
	double			 ttl, neg;
	size_t			 i, j, n;
	int			 st;

	(void)timeouts;
	/* Cancelled, timed out, or ARES_EDESTRUCTION from dns_free(). */
	if (q->done)
		goto out;
	q->ptr_done = 1;
	dns_reply_ttls(abuf, alen, &ttl, &neg);
	if (neg < 0)
		neg = DNS_TTL_NEGATIVE;
	st = status;
	if (st == ARES_SUCCESS)
		st = ares_parse_ptr_reply(abuf, alen, NULL, 0, AF_INET, &he);
	switch (st) {
	case ARES_SUCCESS:
		break;
	case ARES_ENOTFOUND:
	case ARES_ENODATA:
		snprintf(buf, sizeof(buf), "no PTR record for %s", q->addr);
		dns_query_finish(q, DNS_NEGATIVE, NULL, buf, neg);
		goto out;
	case ARES_ETIMEOUT:
		snprintf(buf, sizeof(buf), "reverse lookup of %s timed out "
		    "after %.1fs", q->addr, dns_query_elapsed(q));
		dns_query_finish(q, DNS_TEMPFAIL, NULL, buf, 0);
		goto out;
	case ARES_EBADRESP:
	case ARES_EBADNAME:
		/* The answer is bad, not the server. */
		if (status == ARES_SUCCESS) {
			snprintf(buf, sizeof(buf), "bad PTR answer for %s: %s",
			    q->addr, ares_strerror(st));
			dns_query_finish(q, DNS_NEGATIVE, NULL, buf,
			    ttl >= 0 ? ttl : neg);
			goto out;
		}
		/* FALLTHROUGH */
	default:
		snprintf(buf, sizeof(buf), "reverse lookup of %s failed: %s",
		    q->addr, ares_strerror(st));
		dns_query_finish(q, DNS_TEMPFAIL, NULL, buf, 0);
		goto out;
	}
	q->ttl = ttl >= 0 ? ttl : 0;
	for (n = 0, i = 0; he->h_aliases[i] != NULL && n < DNS_MAX_PTR; i++) {
		if (dns_name_copy(q->fwd[n].name, sizeof(q->fwd[n].name),
		    he->h_aliases[i]) == -1)
			continue;
		for (j = 0; j < n; j++)
			if (strcmp(q->fwd[j].name, q->fwd[n].name) == 0)
				break;
		if (j == n)
			n++;
	}
	ares_free_hostent(he);
	if (n == 0) {
		snprintf(buf, sizeof(buf), "no PTR record for %s is a host "
		    "name", q->addr);
		dns_query_finish(q, DNS_NEGATIVE, NULL, buf, q->ttl);
		goto out;
	}
	/* All pending first: a query failing at once must not decide early. */
	q->nfwd = n;
	for (i = 0; i < n; i++) {
		q->fwd[i].q = q;
		q->fwd[i].state = DNS_FWD_PENDING;
	}
	for (i = 0; i < n && !q->done; i++) {
		q->refs++;
		ares_query(q->dns->channel, q->fwd[i].name, C_IN,
		    q->key.family == AF_INET ? T_A : T_AAAA, dns_fwd_cb,
		    &q->fwd[i]);
	}
out:
	dns_query_unref(q);
}

static void
dns_fwd_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_fwd		*f = arg;
	struct dns_query	*q = f->q;
	struct ares_addrttl	 a4[DNS_MAX_ADDRS];
	struct ares_addr6ttl	 a6[DNS_MAX_ADDRS];
	const unsigned char	*ip;
	double			 ttl, neg, t;
	int			 i, n = DNS_MAX_ADDRS;

	(void)timeouts;
	if (q->done)
		goto out;
	dns_reply_ttls(abuf, alen, &ttl, &neg);
	if (status == ARES_SUCCESS)
		status = q->key.family == AF_INET ?
		    ares_parse_a_reply(abuf, alen, NULL, a4, &n) :
		    ares_parse_aaaa_reply(abuf, alen, NULL, a6, &n);
	switch (status) {
	case ARES_SUCCESS:
		break;
	case ARES_ENOTFOUND:
	case ARES_ENODATA:
	case ARES_EBADRESP:
	case ARES_EBADNAME:
		f->state = DNS_FWD_NONE;
		f->ttl = neg >= 0 ? neg : ttl >= 0 ? ttl : DNS_TTL_NEGATIVE;
		goto check;
	default:
		f->state = DNS_FWD_TEMPFAIL;
		f->status = status;
		f->ttl = DNS_TTL_TEMPFAIL;
		goto check;
	}
	f->state = n > 0 ? DNS_FWD_MISMATCH : DNS_FWD_NONE;
	f->naddrs = n;
	f->ttl = ttl >= 0 ? ttl : DNS_TTL_NEGATIVE;
	for (i = 0; i < n; i++) {
		ip = q->key.family == AF_INET ?
		    (const unsigned char *)&a4[i].ipaddr :
		    (const unsigned char *)&a6[i].ip6addr;
		t = q->key.family == AF_INET ? a4[i].ttl : a6[i].ttl;
		if (t < 0)
			t = 0;
		if (i == 0)
			inet_ntop(q->key.family, ip, f->other,
			    sizeof(f->other));
		if (memcmp(ip, q->key.addr, q->key.len) == 0) {
			f->state = DNS_FWD_CONFIRMED;
			f->ttl = t;
			break;
		}
		if (i == 0 || t < f->ttl)
			f->ttl = t;
	}
check:
	dns_query_check(q);
out:
	dns_query_unref(q);
}

struct dns_query *
dns_lookup(struct dns *dns, const struct sockaddr *sa, dns_cb *cb,
    void *arg)
{
	struct dns_key		 k;
	struct dns_entry	*e;
	struct dns_query	*q;
	char			 rname[DNS_MAX_RNAME], buf[DNS_MAX_WHY];
	const unsigned char	*a;
	size_t			 off;
	int			 i, ok;

	if (dns_key_from(sa, &k) == -1) {
		cb(arg, NULL, "not an IP address");
		return NULL;
	}
	if ((e = dns_cache_get(dns, &k)) != NULL) {
		/* A copy: the callback may start lookups that evict e. */
		ok = e->ok;
		snprintf(buf, sizeof(buf), "%s", e->text);
		cb(arg, ok ? buf : NULL, ok ? NULL : buf);
		return NULL;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		cb(arg, NULL, "out of memory");
		return NULL;
	}
	q->dns = dns;
	q->cb = cb;
	q->arg = arg;
	q->key = k;
	q->start = ev_now(dns->loop);
	inet_ntop(k.family, k.addr, q->addr, sizeof(q->addr));
	TAILQ_INSERT_TAIL(&dns->queries, q, entry);
	ev_timer_init(&q->timer, dns_query_timeout_cb, dns->timeout, 0.);
	ev_timer_start(dns->loop, &q->timer);

	a = k.addr;
	if (k.family == AF_INET)
		snprintf(rname, sizeof(rname), "%u.%u.%u.%u.in-addr.arpa",
		    a[3], a[2], a[1], a[0]);
	else {
		for (off = 0, i = 15; i >= 0; i--, off += 4)
			snprintf(rname + off, sizeof(rname) - off,
			    "%x.%x.", a[i] & 0xf, a[i] >> 4);
		snprintf(rname + off, sizeof(rname) - off, "ip6.arpa");
	}
	/* Held across ares_query(), which may call back at once. */
	q->refs = 2;
	ares_query(dns->channel, rname, C_IN, T_PTR, dns_ptr_cb, q);
	dns_arm(dns);
	if (q->done) {
		dns_query_unref(q);
		return NULL;
	}
	dns_query_unref(q);
	return q;
}

void
dns_cancel(struct dns_query *q)
{
	if (q == NULL || q->done)
		return;
	/* Freed when its c-ares queries call back, or by dns_free(). */
	q->done = 1;
	ev_timer_stop(q->dns->loop, &q->timer);
}

/*
 * Setting up.
 */

/* "ip", "ip:port", "[ip6]", "[ip6]:port" or a bare IPv6 address. */
static int
dns_parse_server(const char *s, struct ares_addr_port_node *n)
{
	char		 host[INET6_ADDRSTRLEN + 1];
	const char	*port = NULL, *close;
	char		*end;
	size_t		 len;
	unsigned long	 pn = 0;

	memset(n, 0, sizeof(*n));
	if (s[0] == '[') {
		if ((close = strchr(s, ']')) == NULL)
			return -1;
		len = (size_t)(close - s - 1);
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return -1;
		s++;
	} else if ((close = strchr(s, ':')) != NULL &&
	    strchr(close + 1, ':') == NULL) {
		len = (size_t)(close - s);
		port = close + 1;
	} else
		len = strlen(s);
	if (len == 0 || len >= sizeof(host))
		return -1;
	memcpy(host, s, len);
	host[len] = '\0';
	if (inet_pton(AF_INET, host, &n->addr.addr4) == 1)
		n->family = AF_INET;
	else if (inet_pton(AF_INET6, host, &n->addr.addr6) == 1)
		n->family = AF_INET6;
	else
		return -1;
	if (port != NULL) {
		pn = strtoul(port, &end, 10);
		if (*port < '0' || *port > '9' || *end != '\0' || pn == 0 ||
		    pn > 65535)
			return -1;
	}
	n->udp_port = n->tcp_port = (int)pn;	/* 0: 53 */
	return 0;
}

static int
dns_set_servers(struct dns *dns, const struct conf *conf, char *err,
    size_t errlen)
{
	struct ares_addr_port_node	 nodes[CONF_MAX_DNS];
	struct ares_addr_port_node	*list, *n, *rest;
	size_t				 i;
	int				 rc;

	if (conf->ndns_servers > CONF_MAX_DNS) {
		snprintf(err, errlen, "dns_servers: at most %d servers",
		    CONF_MAX_DNS);
		return -1;
	}
	if (conf->ndns_servers > 0) {
		for (i = 0; i < conf->ndns_servers; i++) {
			if (dns_parse_server(conf->dns_servers[i],
			    &nodes[i]) == -1) {
				snprintf(err, errlen, "dns_servers: expected "
				    "IP[:PORT] or [IPv6]:PORT, got \"%s\"",
				    conf->dns_servers[i]);
				return -1;
			}
			nodes[i].next = i + 1 < conf->ndns_servers ?
			    &nodes[i + 1] : NULL;
		}
		list = nodes;
		rc = ares_set_servers_ports(dns->channel, list);
		goto done;
	}
	/*
	 * The system's servers: keep CONF_MAX_DNS of them, so that their
	 * sockets always fit dns->socks.
	 */
	if ((rc = ares_get_servers_ports(dns->channel, &list)) != ARES_SUCCESS)
		goto done;
	for (i = 1, n = list; n != NULL && i < CONF_MAX_DNS; i++)
		n = n->next;
	if (n != NULL && (rest = n->next) != NULL) {
		n->next = NULL;
		rc = ares_set_servers_ports(dns->channel, list);
		n->next = rest;
	}
	ares_free_data(list);
done:
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: cannot set servers: %s",
		    ares_strerror(rc));
		return -1;
	}
	return 0;
}

struct dns *
dns_new(struct ev_loop *loop, const struct conf *conf, char *err,
    size_t errlen)
{
	struct ares_options	 opts;
	struct dns		*dns;
	int			 rc, i, ms;

	if (pthread_once(&dns_once, dns_lib_init) != 0 ||
	    dns_lib_status != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s",
		    ares_strerror(dns_lib_status));
		return NULL;
	}
	if ((dns = calloc(1, sizeof(*dns))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	dns->loop = loop;
	dns->timeout = conf->dns_timeout > 0 ? conf->dns_timeout : 2;
	TAILQ_INIT(&dns->queries);
	TAILQ_INIT(&dns->fifo);
	ev_init(&dns->tick, dns_tick_cb);
	for (i = 0; i < ARES_GETSOCK_MAXNUM; i++)
		dns->socks[i].dns = dns;
	for (dns->nbuckets = 1; dns->nbuckets < DNS_CACHE_MAX;)
		dns->nbuckets <<= 1;
	if ((dns->buckets = calloc(dns->nbuckets,
	    sizeof(*dns->buckets))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (getrandom(dns->seed, sizeof(dns->seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(dns->seed)) {
		/* Entropy not ready this early: a weaker key beats none. */
		dns->seed[0] = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
		dns->seed[1] = (uint64_t)(uintptr_t)dns ^ (uint64_t)clock();
	}

	ms = (int)(dns->timeout * 1000 / 4);
	memset(&opts, 0, sizeof(opts));
	opts.sock_state_cb = dns_sock_state_cb;
	opts.sock_state_cb_data = dns;
	opts.timeout = ms < DNS_MIN_TRY_MS ? DNS_MIN_TRY_MS : ms;
	opts.tries = DNS_TRIES;
	if ((rc = ares_init_options(&dns->channel, &opts,
	    ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES)) !=
	    ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
		goto fail;
	}
	dns->channel_ok = 1;
	if (dns_set_servers(dns, conf, err, errlen) == -1)
		goto fail;
	return dns;
fail:
	dns_free(&dns);
	return NULL;
}

void
dns_free(struct dns **dnsp)
{
	struct dns		*dns = *dnsp;
	struct dns_query	*q;
	struct dns_entry	*e;
	int			 i;

	if (dns == NULL)
		return;
	*dnsp = NULL;
	TAILQ_FOREACH(q, &dns->queries, entry) {
		q->done = 1;
		ev_timer_stop(dns->loop, &q->timer);
	}
	/* Calls every query back with ARES_EDESTRUCTION: they unref. */
	if (dns->channel_ok)
		ares_destroy(dns->channel);
	while ((q = TAILQ_FIRST(&dns->queries)) != NULL) {
		TAILQ_REMOVE(&dns->queries, q, entry);
		free(q);
	}
	for (i = 0; i < ARES_GETSOCK_MAXNUM; i++)
		if (dns->socks[i].used)
			ev_io_stop(dns->loop, &dns->socks[i].io);
	ev_timer_stop(dns->loop, &dns->tick);
	while ((e = TAILQ_FIRST(&dns->fifo)) != NULL) {
		TAILQ_REMOVE(&dns->fifo, e, fifo);
		free(e);
	}
	free(dns->buckets);
	free(dns);
}
