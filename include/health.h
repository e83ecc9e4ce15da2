/*
 * Health checks of the back ends (SPEC.md section 3,
 * health_check_interval): every interval, connect with the back end's
 * TLS mode and expect an "* OK" greeting within connect_timeout.  A back
 * end goes down after HEALTH_FALL consecutive failures and up after
 * HEALTH_RISE consecutive successes; each change is logged.  Runs on the
 * main thread's loop; workers read the state through
 * runtime_backend.up (atomic).  Sessions in flight are never touched.
 */
#ifndef HEALTH_H
#define HEALTH_H

#include <ev.h>

struct runtime;
struct health;

/* Starts checking every back end with an interval > 0; NULL on ENOMEM. */
struct health	*health_start(struct ev_loop *loop, struct runtime *rt);
/* Stops every check (closing their sockets) and frees; accepts NULL. */
void		 health_stop(struct health **hp);

#endif
