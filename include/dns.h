/*
 * Asynchronous reverse DNS with forward confirmation, through c-ares on
 * a worker's libev loop (SPEC.md section 4, `domain`).  The name of a
 * client counts only when it resolves back to the client's address.
 * Answers (names and failures) are cached per worker for their TTL, in a
 * bounded cache.
 */
#ifndef DNS_H
#define DNS_H

#include <sys/socket.h>

#include <stddef.h>

#include <ev.h>

struct conf;
struct dns;
struct dns_query;

/*
 * Called once per dns_lookup() unless cancelled: name is the
 * forward-confirmed name (lower case, no trailing dot), or NULL with why
 * saying what failed ("no PTR record", "timed out", "not confirmed: NAME
 * does not resolve to ADDR" ...).  Both strings live only during the call.
 */
typedef void	 dns_cb(void *arg, const char *name, const char *why);

/*
 * A resolver on loop: dns_servers of conf (ip[:port] strings) or the
 * system's configuration, dns_timeout for the whole reverse-then-forward
 * lookup of one client.  Returns NULL with a message.
 */
struct dns	*dns_new(struct ev_loop *loop, const struct conf *conf,
		    char *err, size_t errlen);
/* Cancels every pending query (their callbacks are not called). */
void		 dns_free(struct dns **dnsp);
/*
 * Looks up sa.  A cached answer calls cb before returning NULL;
 * otherwise returns a handle for dns_cancel().  On out of memory calls
 * cb with a failure and returns NULL.
 */
struct dns_query *dns_lookup(struct dns *dns, const struct sockaddr *sa,
		    dns_cb *cb, void *arg);
/* The callback of q will not be called; q is freed.  Accepts NULL. */
void		 dns_cancel(struct dns_query *q);
/*
 * More on the above: on success why is NULL.  q is no longer the
 * caller's once its callback has been called (dns_cancel() on it from
 * inside that callback is a harmless no-op).  A cancelled query's memory
 * lives on, invisibly, until c-ares lets go of it (at most a few times
 * dns_timeout, or dns_free()).  A callback may start and cancel lookups
 * but must not call dns_free().  dns_new() reads /etc/resolv.conf (c-ares
 * does, even with dns_servers): call it at startup, not from a callback.
 */

/* Entries in the cache of dns: for tests and statistics. */
size_t		 dns_cache_count(const struct dns *dns);
/*
 * For tests: seconds until the cached answer for sa expires (TTL after
 * clamping, less the time since), or -1 when none is cached.
 */
double		 dns_cache_ttl(struct dns *dns,
		    const struct sockaddr *sa);

#endif
