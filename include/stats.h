/*
 * What outlives a reload: the counters of each [server] and [backend]
 * by name, and a back end's health, enable flag and session count.
 * Entries are created on first use and kept for the life of the
 * process, so a reload that keeps a name keeps its figures, and workers
 * update them with relaxed atomics and no lock.
 */
#ifndef STATS_H
#define STATS_H

#include <stdatomic.h>
#include <stddef.h>

#include "bounds.h"

struct limiter;

struct stats_server {
	char			 name[CONF_MAX_NAME + 1];
	atomic_ulong		 accepted;	/* connections */
	atomic_ulong		 refused;	/* max_connections*, ACL at connect */
	atomic_uint		 active;
	atomic_ulong		 logins_ok;
	atomic_ulong		 logins_failed;
	atomic_ulong		 tls_failures;	/* front-end handshakes */
	atomic_ullong		 bytes_in;	/* of sessions that ended */
	atomic_ullong		 bytes_out;
	struct limiter		*limiter;	/* per-IP and per-user limits */
};

struct stats_backend {
	char			 name[CONF_MAX_NAME + 1];
	atomic_int		 up;		/* health checks; 1 at first */
	atomic_int		 enabled;	/* backend enable|disable */
	atomic_uint		 sessions;	/* connecting or relaying */
	atomic_llong		 last_check;	/* unix seconds, 0: never */
	atomic_ulong		 logins_ok;
	atomic_ulong		 logins_failed;
	atomic_ullong		 bytes_in;	/* of sessions that ended */
	atomic_ullong		 bytes_out;
};

struct stats_global {
	long long		 started;	/* unix seconds */
	atomic_ulong		 reloads_ok;
	atomic_ulong		 reloads_failed;
};

extern struct stats_global stats_global;

/* The entry for name, created on first use; NULL when out of memory. */
struct stats_server	*stats_server_get(const char *name);
struct stats_backend	*stats_backend_get(const char *name);
/* Frees every entry; only once no thread can use them (at exit). */
void			 stats_free_all(void);

/* Relaxed increments: counters order nothing. */
#define STATS_ADD(field, n) \
	atomic_fetch_add_explicit(&(field), (n), memory_order_relaxed)
#define STATS_SUB(field, n) \
	atomic_fetch_sub_explicit(&(field), (n), memory_order_relaxed)
#define STATS_GET(field) \
	atomic_load_explicit(&(field), memory_order_relaxed)

#endif
