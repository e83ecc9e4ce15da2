/*
 * Per-IP and per-user connection counts and failed-login history
 * (include/limiter.h), in bounded memory.
 *
 * Entries live in a dense array, ents[0..n), that doubles up to the
 * limiter's max; an open-addressing index (linear probing, load at most
 * 1/2, backward-shift deletion so there are no tombstones) maps a key's
 * hash to its entry.  Removing an entry moves the last one into its
 * place, so the array never has holes.  Entries without connections are
 * on an idle list in least-recently-used order: its head is evicted
 * when the table is full and is dropped early once it holds nothing.
 *
 * The index is keyed with SipHash-2-4 under a random per-limiter key
 * (OpenSSL's EVP_MAC): clients choose their addresses and user names,
 * and a public hash would let them aim every key at one probe chain.
 * The same hash, with its 2^-64 collisions, stands in for user names
 * and failed passwords, which are never stored.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "limiter.h"
#include "log.h"

#define LIMITER_NONE		UINT32_MAX	/* no entry: idle list end */
#define LIMITER_INITIAL		64		/* first allocation, entries */
/* Idle entries dropped per call once they hold nothing: more than one
 * entry is created per call, so stale ones cannot pile up. */
#define LIMITER_EXPIRE_STEPS	2

/* Domain separation of the three things hashed with one key. */
#define LIMITER_TAG_IP		'I'
#define LIMITER_TAG_USER	'U'
#define LIMITER_TAG_SECRET	'S'

enum limiter_kind {
	LIMITER_KIND_IP = 1,
	LIMITER_KIND_USER
};

/* Kinds of refusal, each logged at its own pace. */
enum limiter_why {
	LIMITER_WHY_CONN,	/* per-IP or per-user connection limit */
	LIMITER_WHY_AUTH,	/* auth_fail_limit reached */
	LIMITER_WHY_MAX
};

struct limiter_key {
	uint64_t	 hash;		/* keyed: index slot and identity */
	uint8_t		 bytes[16];	/* IPv6 address, or the user's hash */
	uint8_t		 kind;
};

struct limiter_log {
	double		 last;		/* when a refusal was last logged */
	uint32_t	 suppressed;	/* refusals since, not logged */
};

struct limiter_ent {
	struct limiter_key key;
	double		 start;		/* first counted failure of window */
	double		 until;		/* start + window: failures expire */
	uint64_t	 recent[LIMITER_RECENT];	/* IP: ring, by fails */
	struct limiter_log log[LIMITER_WHY_MAX];
	unsigned int	 conns;		/* live connections or sessions */
	unsigned int	 fails;		/* counted failures in the window */
	uint32_t	 prev, next;	/* idle list, while conns == 0 */
};

struct limiter {
	pthread_mutex_t	 mtx;		/* guards everything below */
	EVP_MAC_CTX	*mac;		/* SipHash-2-4, keyed once */
	struct limiter_ent *ents;	/* ents[0..n) in use */
	uint32_t	*slots;		/* entry index + 1, 0 when empty */
	size_t		 n, cap, max;	/* entries used, allocated, allowed */
	size_t		 nslots;	/* a power of two, >= 2 * cap */
	uint32_t	 idle_head;	/* least recently used idle entry */
	uint32_t	 idle_tail;
	struct limiter_counts counts;	/* entries is filled on reading */
};

static EVP_MAC_CTX	*limiter_mac_new(void);
static uint64_t	 limiter_hash(struct limiter *, int, const void *, size_t,
		    const void *, size_t);
static int	 limiter_ip_key(struct limiter *, const struct sockaddr *,
		    struct limiter_key *);
static void	 limiter_user_key(struct limiter *, const char *,
		    struct limiter_key *);
static uint32_t	 limiter_find(struct limiter *, const struct limiter_key *);
static uint32_t	 limiter_get(struct limiter *, const struct limiter_key *);
static uint32_t	*limiter_slot(struct limiter *, uint32_t);
static void	 limiter_slot_add(struct limiter *, uint32_t);
static void	 limiter_slot_del(struct limiter *, uint32_t *);
static int	 limiter_grow(struct limiter *);
static int	 limiter_make_room(struct limiter *);
static void	 limiter_remove(struct limiter *, uint32_t);
static void	 limiter_idle_unlink(struct limiter *, uint32_t);
static void	 limiter_idle_append(struct limiter *, uint32_t);
static void	 limiter_touch(struct limiter *, uint32_t);
static int	 limiter_stale(const struct limiter_ent *, double);
static void	 limiter_expire(struct limiter *, double);
static void	 limiter_window(struct limiter_ent *, double, double);
static int	 limiter_count_fail(struct limiter_ent *, double, double);
static void	 limiter_refuse(struct limiter_log *, double,
		    struct limiter_refusal *);
static int	 limiter_acquire(struct limiter *, const struct limiter_key *,
		    unsigned int, double, struct limiter_refusal *,
		    unsigned long *);
static void	 limiter_release(struct limiter *, const struct limiter_key *);
static void	 limiter_refusal_clear(struct limiter_refusal *);

struct limiter *
limiter_new(size_t max_entries)
{
	struct limiter	*l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	if (pthread_mutex_init(&l->mtx, NULL) != 0) {
		free(l);
		return NULL;
	}
	if (max_entries > LIMITER_MAX_ENTRIES)
		max_entries = LIMITER_MAX_ENTRIES;
	l->max = max_entries > 0 ? max_entries : 1;
	l->cap = l->max < LIMITER_INITIAL ? l->max : LIMITER_INITIAL;
	for (l->nslots = 2; l->nslots < 2 * l->cap; l->nslots *= 2)
		;
	l->idle_head = l->idle_tail = LIMITER_NONE;
	l->ents = calloc(l->cap, sizeof(*l->ents));
	l->slots = calloc(l->nslots, sizeof(*l->slots));
	if (l->ents == NULL || l->slots == NULL ||
	    (l->mac = limiter_mac_new()) == NULL)
		limiter_free(&l);
	return l;
}

void
limiter_free(struct limiter **lp)
{
	struct limiter	*l;

	if (lp == NULL || (l = *lp) == NULL)
		return;
	EVP_MAC_CTX_free(l->mac);
	free(l->ents);
	free(l->slots);
	pthread_mutex_destroy(&l->mtx);
	free(l);
	*lp = NULL;
}

int
limiter_ip_acquire(struct limiter *l, const struct sockaddr *ip,
    unsigned int max, double now, struct limiter_refusal *r)
{
	struct limiter_key	 k;
	int			 rc = LIMITER_UNCOUNTED;

	limiter_refusal_clear(r);
	if (max == 0)
		return LIMITER_UNCOUNTED;
	pthread_mutex_lock(&l->mtx);
	if (limiter_ip_key(l, ip, &k) == 0)
		rc = limiter_acquire(l, &k, max, now, r,
		    &l->counts.ip_refused);
	pthread_mutex_unlock(&l->mtx);
	return rc;
}

void
limiter_ip_release(struct limiter *l, const struct sockaddr *ip)
{
	struct limiter_key	 k;

	pthread_mutex_lock(&l->mtx);
	if (limiter_ip_key(l, ip, &k) == 0)
		limiter_release(l, &k);
	pthread_mutex_unlock(&l->mtx);
}

int
limiter_user_acquire(struct limiter *l, const char *user, unsigned int max,
    double now, struct limiter_refusal *r)
{
	struct limiter_key	 k;
	int			 rc;

	limiter_refusal_clear(r);
	if (max == 0)
		return LIMITER_UNCOUNTED;
	pthread_mutex_lock(&l->mtx);
	limiter_user_key(l, user, &k);
	rc = limiter_acquire(l, &k, max, now, r, &l->counts.user_refused);
	pthread_mutex_unlock(&l->mtx);
	return rc;
}

void
limiter_user_release(struct limiter *l, const char *user)
{
	struct limiter_key	 k;

	pthread_mutex_lock(&l->mtx);
	limiter_user_key(l, user, &k);
	limiter_release(l, &k);
	pthread_mutex_unlock(&l->mtx);
}

int
limiter_auth_blocked(struct limiter *l, const struct sockaddr *ip,
    unsigned int limit, double window, double now,
    struct limiter_refusal *r)
{
	struct limiter_key	 k;
	struct limiter_ent	*e;
	uint32_t		 i;
	int			 blocked = 0;

	limiter_refusal_clear(r);
	if (limit == 0)
		return 0;
	pthread_mutex_lock(&l->mtx);
	if (limiter_ip_key(l, ip, &k) == 0 &&
	    (i = limiter_find(l, &k)) != LIMITER_NONE) {
		e = &l->ents[i];
		if (e->fails >= limit && now < e->start + window) {
			blocked = 1;
			l->counts.auth_blocked++;
			limiter_refuse(&e->log[LIMITER_WHY_AUTH], now, r);
		}
	}
	pthread_mutex_unlock(&l->mtx);
	return blocked;
}

void
limiter_auth_failed(struct limiter *l, const struct sockaddr *ip,
    const char *user, const void *secret, size_t secretlen, double window,
    double now)
{
	struct limiter_key	 k;
	struct limiter_ent	*e;
	uint64_t		 h;
	uint32_t		 i, j, n;

	if (user == NULL)
		user = "";
	pthread_mutex_lock(&l->mtx);
	l->counts.auth_failures++;
	limiter_expire(l, now);
	if (limiter_ip_key(l, ip, &k) == -1 ||
	    (i = limiter_get(l, &k)) == LIMITER_NONE)
		goto done;
	/* The NUL ends user: ("ab", "c") and ("a", "bc") differ. */
	h = limiter_hash(l, LIMITER_TAG_SECRET, user, strlen(user) + 1,
	    secret, secretlen);
	e = &l->ents[i];
	limiter_window(e, window, now);
	n = e->fails < LIMITER_RECENT ? e->fails : LIMITER_RECENT;
	for (j = 0; j < n; j++)
		if (e->recent[j] == h)
			goto touch;
	e->recent[e->fails % LIMITER_RECENT] = h;
	limiter_count_fail(e, window, now);
 touch:
	limiter_touch(l, i);
 done:
	pthread_mutex_unlock(&l->mtx);
}

double
limiter_auth_delay(struct limiter *l, const char *user, double base,
    double window, double now)
{
	struct limiter_key	 k;
	uint32_t		 i;
	int			 n = 1;
	double			 d;

	if (!(base > 0))
		return 0;
	pthread_mutex_lock(&l->mtx);
	limiter_expire(l, now);
	limiter_user_key(l, user, &k);
	if ((i = limiter_get(l, &k)) != LIMITER_NONE) {
		limiter_window(&l->ents[i], window, now);
		n = limiter_count_fail(&l->ents[i], window, now);
		limiter_touch(l, i);
	}
	pthread_mutex_unlock(&l->mtx);
	d = ldexp(base, n - 1);
	return d < LIMITER_MAX_DELAY ? d : LIMITER_MAX_DELAY;
}

void
limiter_auth_ok(struct limiter *l, const struct sockaddr *ip,
    const char *user)
{
	struct limiter_key	 k;
	uint32_t		 i;

	pthread_mutex_lock(&l->mtx);
	limiter_user_key(l, user, &k);
	if ((i = limiter_find(l, &k)) != LIMITER_NONE) {
		l->ents[i].fails = 0;
		if (l->ents[i].conns == 0)
			limiter_remove(l, i);
	}
	pthread_mutex_unlock(&l->mtx);
}

void
limiter_counts(struct limiter *l, struct limiter_counts *c)
{
	pthread_mutex_lock(&l->mtx);
	*c = l->counts;
	c->entries = l->n;
	pthread_mutex_unlock(&l->mtx);
}

/*
 * The keyed MAC: SipHash-2-4 with 64-bit output under 16 random bytes.
 * EVP_MAC_init() with a NULL key restarts from that key, so one context
 * serves every call without allocating.
 */
static EVP_MAC_CTX *
limiter_mac_new(void)
{
	EVP_MAC		*mac;
	EVP_MAC_CTX	*ctx = NULL;
	unsigned char	 key[16];
	size_t		 size = sizeof(uint64_t);
	OSSL_PARAM	 params[2];

	params[0] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL)) == NULL)
		return NULL;
	if (RAND_bytes(key, sizeof(key)) != 1 ||
	    (ctx = EVP_MAC_CTX_new(mac)) == NULL ||
	    EVP_MAC_init(ctx, key, sizeof(key), params) != 1 ||
	    EVP_MAC_CTX_get_mac_size(ctx) != size) {
		EVP_MAC_CTX_free(ctx);
		ctx = NULL;
	}
	OPENSSL_cleanse(key, sizeof(key));
	EVP_MAC_free(mac);
	return ctx;
}

/* Hash of tag, a and b; with l->mtx held, as the context is shared. */
static uint64_t
limiter_hash(struct limiter *l, int tag, const void *a, size_t alen,
    const void *b, size_t blen)
{
	unsigned char	 t = tag, out[sizeof(uint64_t)];
	size_t		 outlen;
	uint64_t	 h;

	if (EVP_MAC_init(l->mac, NULL, 0, NULL) != 1 ||
	    EVP_MAC_update(l->mac, &t, 1) != 1 ||
	    EVP_MAC_update(l->mac, a, alen) != 1 ||
	    (blen > 0 && EVP_MAC_update(l->mac, b, blen) != 1) ||
	    EVP_MAC_final(l->mac, out, &outlen, sizeof(out)) != 1 ||
	    outlen != sizeof(out))
		fatalx("%s: SipHash failed", __func__);
	memcpy(&h, out, sizeof(h));
	return h;
}

/*
 * IPv4 and IPv4-mapped IPv6 meet as ::ffff:a.b.c.d, one client however
 * it reached a dual-stack listener.  Returns -1 for other families.
 */
static int
limiter_ip_key(struct limiter *l, const struct sockaddr *sa,
    struct limiter_key *k)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	memset(k, 0, sizeof(*k));
	k->kind = LIMITER_KIND_IP;
	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		memcpy(k->bytes, &sin6->sin6_addr, 16);
	} else if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)(const void *)sa;
		k->bytes[10] = k->bytes[11] = 0xff;
		memcpy(k->bytes + 12, &sin->sin_addr, 4);
	} else
		return -1;
	k->hash = limiter_hash(l, LIMITER_TAG_IP, k->bytes, sizeof(k->bytes),
	    NULL, 0);
	return 0;
}

static void
limiter_user_key(struct limiter *l, const char *user, struct limiter_key *k)
{
	if (user == NULL)
		user = "";
	memset(k, 0, sizeof(*k));
	k->kind = LIMITER_KIND_USER;
	k->hash = limiter_hash(l, LIMITER_TAG_USER, user, strlen(user), NULL,
	    0);
	memcpy(k->bytes, &k->hash, sizeof(k->hash));
}

/* The entry for k, or LIMITER_NONE. */
static uint32_t
limiter_find(struct limiter *l, const struct limiter_key *k)
{
	size_t			 mask = l->nslots - 1, s;
	const struct limiter_key *ek;

	for (s = k->hash & mask; l->slots[s] != 0; s = (s + 1) & mask) {
		ek = &l->ents[l->slots[s] - 1].key;
		if (ek->hash == k->hash && ek->kind == k->kind &&
		    memcmp(ek->bytes, k->bytes, sizeof(k->bytes)) == 0)
			return l->slots[s] - 1;
	}
	return LIMITER_NONE;
}

/*
 * The entry for k, created empty and idle if need be, or LIMITER_NONE
 * when the table is full of live entries.
 */
static uint32_t
limiter_get(struct limiter *l, const struct limiter_key *k)
{
	struct limiter_ent	*e;
	uint32_t		 i;

	if ((i = limiter_find(l, k)) != LIMITER_NONE)
		return i;
	if (limiter_make_room(l) == -1) {
		l->counts.full++;
		return LIMITER_NONE;
	}
	i = l->n++;
	e = &l->ents[i];
	memset(e, 0, sizeof(*e));
	e->key = *k;
	e->log[LIMITER_WHY_CONN].last = -INFINITY;
	e->log[LIMITER_WHY_AUTH].last = -INFINITY;
	limiter_slot_add(l, i);
	limiter_idle_append(l, i);
	return i;
}

/* Makes n < cap: grows, else evicts the least recently used idle entry. */
static int
limiter_make_room(struct limiter *l)
{
	if (l->n < l->cap || limiter_grow(l) == 0)
		return 0;
	if (l->idle_head == LIMITER_NONE)
		return -1;
	limiter_remove(l, l->idle_head);
	l->counts.evictions++;
	return 0;
}

/* Doubles the arrays up to max and rebuilds the index. */
static int
limiter_grow(struct limiter *l)
{
	struct limiter_ent	*ents;
	uint32_t		*slots;
	size_t			 cap, nslots, i;

	if (l->cap >= l->max)
		return -1;
	cap = l->cap < l->max / 2 ? l->cap * 2 : l->max;
	for (nslots = l->nslots; nslots < 2 * cap; nslots *= 2)
		;
	if ((slots = calloc(nslots, sizeof(*slots))) == NULL)
		return -1;
	if ((ents = reallocarray(l->ents, cap, sizeof(*ents))) == NULL) {
		free(slots);
		return -1;
	}
	free(l->slots);
	l->ents = ents;
	l->cap = cap;
	l->slots = slots;
	l->nslots = nslots;
	for (i = 0; i < l->n; i++)
		limiter_slot_add(l, i);
	return 0;
}

/* The index slot holding entry i. */
static uint32_t *
limiter_slot(struct limiter *l, uint32_t i)
{
	size_t	 mask = l->nslots - 1, s;

	for (s = l->ents[i].key.hash & mask; l->slots[s] != i + 1;
	    s = (s + 1) & mask)
		;
	return &l->slots[s];
}

static void
limiter_slot_add(struct limiter *l, uint32_t i)
{
	size_t	 mask = l->nslots - 1, s;

	for (s = l->ents[i].key.hash & mask; l->slots[s] != 0;
	    s = (s + 1) & mask)
		;
	l->slots[s] = i + 1;
}

/*
 * Empties slot p and shifts later members of its probe run back, so
 * lookups never need tombstones (Knuth 6.4, Algorithm R).  An entry at
 * j may move into the hole at h unless its home slot lies in (h, j].
 */
static void
limiter_slot_del(struct limiter *l, uint32_t *p)
{
	size_t	 mask = l->nslots - 1, h = p - l->slots, j = h, home;

	for (;;) {
		j = (j + 1) & mask;
		if (l->slots[j] == 0)
			break;
		home = l->ents[l->slots[j] - 1].key.hash & mask;
		if (((j - home) & mask) >= ((j - h) & mask)) {
			l->slots[h] = l->slots[j];
			h = j;
		}
	}
	l->slots[h] = 0;
}

/* Removes idle entry i; the last entry takes its place in the array. */
static void
limiter_remove(struct limiter *l, uint32_t i)
{
	struct limiter_ent	*e = &l->ents[i];
	uint32_t		 last = l->n - 1;

	limiter_idle_unlink(l, i);
	limiter_slot_del(l, limiter_slot(l, i));
	if (i != last) {
		*limiter_slot(l, last) = i + 1;
		*e = l->ents[last];
		if (e->conns == 0) {
			if (e->prev != LIMITER_NONE)
				l->ents[e->prev].next = i;
			else
				l->idle_head = i;
			if (e->next != LIMITER_NONE)
				l->ents[e->next].prev = i;
			else
				l->idle_tail = i;
		}
	}
	l->n--;
}

static void
limiter_idle_unlink(struct limiter *l, uint32_t i)
{
	struct limiter_ent	*e = &l->ents[i];

	if (e->prev != LIMITER_NONE)
		l->ents[e->prev].next = e->next;
	else
		l->idle_head = e->next;
	if (e->next != LIMITER_NONE)
		l->ents[e->next].prev = e->prev;
	else
		l->idle_tail = e->prev;
	e->prev = e->next = LIMITER_NONE;
}

static void
limiter_idle_append(struct limiter *l, uint32_t i)
{
	struct limiter_ent	*e = &l->ents[i];

	e->prev = l->idle_tail;
	e->next = LIMITER_NONE;
	if (l->idle_tail != LIMITER_NONE)
		l->ents[l->idle_tail].next = i;
	else
		l->idle_head = i;
	l->idle_tail = i;
}

/* Marks idle entry i most recently used; live entries are not listed. */
static void
limiter_touch(struct limiter *l, uint32_t i)
{
	if (l->ents[i].conns > 0)
		return;
	limiter_idle_unlink(l, i);
	limiter_idle_append(l, i);
}

/* Whether e has ever told its caller to log a refusal. */
static int
limiter_logged(const struct limiter_ent *e)
{
	return e->log[LIMITER_WHY_CONN].last != -INFINITY ||
	    e->log[LIMITER_WHY_AUTH].last != -INFINITY;
}

/*
 * An entry that holds nothing: no connections, no unexpired failures,
 * and no refusal logged within the interval (or a client reconnecting
 * would get a fresh entry, and a log line, every time).  Refusals not
 * yet reported keep it a while longer, for the next line to count them.
 */
static int
limiter_stale(const struct limiter_ent *e, double now)
{
	const struct limiter_log	*g;
	int				 k;

	if (e->conns != 0 || (e->fails != 0 && now < e->until))
		return 0;
	for (k = 0; k < LIMITER_WHY_MAX; k++) {
		g = &e->log[k];
		if (now - g->last < (g->suppressed > 0 ?
		    LIMITER_REPORT_WAIT : LIMITER_LOG_INTERVAL))
			return 0;
	}
	return 1;
}

/*
 * Drops stale entries from the head of the idle list.  XXX An entry
 * behind a fresher head waits for eviction or its next use; it only
 * takes room that eviction can reclaim.
 */
static void
limiter_expire(struct limiter *l, double now)
{
	int	 step;

	for (step = 0; step < LIMITER_EXPIRE_STEPS; step++) {
		if (l->idle_head == LIMITER_NONE ||
		    !limiter_stale(&l->ents[l->idle_head], now))
			break;
		limiter_remove(l, l->idle_head);
	}
}

/* Ends e's failure window once it has passed. */
static void
limiter_window(struct limiter_ent *e, double window, double now)
{
	if (e->fails > 0 && !(now < e->start + window))
		e->fails = 0;
}

/* Counts one failure, opening a window if none is open; returns fails. */
static int
limiter_count_fail(struct limiter_ent *e, double window, double now)
{
	if (e->fails == 0) {
		e->start = now;
		e->until = now + window;
	}
	if (e->fails < INT32_MAX)
		e->fails++;
	return e->fails;
}

static void
limiter_refuse(struct limiter_log *g, double now, struct limiter_refusal *r)
{
	if (now - g->last >= LIMITER_LOG_INTERVAL) {
		if (r != NULL) {
			r->log = 1;
			r->suppressed = g->suppressed;
		}
		g->last = now;
		g->suppressed = 0;
	} else if (g->suppressed < UINT32_MAX)
		g->suppressed++;
}

/* Counts a connection of k unless it holds max already. */
static int
limiter_acquire(struct limiter *l, const struct limiter_key *k,
    unsigned int max, double now, struct limiter_refusal *r,
    unsigned long *refused)
{
	struct limiter_ent	*e;
	uint32_t		 i;

	limiter_expire(l, now);
	if ((i = limiter_get(l, k)) == LIMITER_NONE)
		return LIMITER_UNCOUNTED;
	e = &l->ents[i];
	if (e->conns >= max) {
		(*refused)++;
		limiter_refuse(&e->log[LIMITER_WHY_CONN], now, r);
		return LIMITER_REFUSED;
	}
	if (e->conns++ == 0)
		limiter_idle_unlink(l, i);
	return LIMITER_COUNTED;
}

/*
 * Uncounts a connection of k.  No entry or no connections means a
 * caller bug; ignoring it beats corrupting another client's count.
 */
static void
limiter_release(struct limiter *l, const struct limiter_key *k)
{
	struct limiter_ent	*e;
	uint32_t		 i;

	if ((i = limiter_find(l, k)) == LIMITER_NONE)
		return;
	e = &l->ents[i];
	if (e->conns == 0 || --e->conns > 0)
		return;
	limiter_idle_append(l, i);	/* idle, as limiter_remove() wants */
	/* One that logged a refusal expires lazily, after its interval. */
	if (e->fails == 0 && !limiter_logged(e))
		limiter_remove(l, i);
}

static void
limiter_refusal_clear(struct limiter_refusal *r)
{
	if (r != NULL) {
		r->log = 0;
		r->suppressed = 0;
	}
}
