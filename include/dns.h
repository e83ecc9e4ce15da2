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

#endif
