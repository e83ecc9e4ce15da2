/*
 * Connection limits and the brute-force defence (SPEC.md section 3:
 * max_connections_per_ip, max_connections_per_user, auth_fail_limit,
 * auth_fail_window, auth_fail_delay): the glue between a session and its
 * server's limiter.  Refusals are counted and logged once per burst.
 */
#ifndef GUARD_H
#define GUARD_H

struct sess;

/* Per-address limit once the address is final; -1: refuse (logged). */
int	guard_connect(struct sess *s);
/*
 * A login begins (credentials in s->pa): refuses an address over
 * auth_fail_limit, queueing the answer; returns -1 then.  Takes a
 * digest of the secret first, so a failure can still be told apart
 * once the secret is wiped.
 */
int	guard_login(struct sess *s);
/* The access rules let the user in: max_connections_per_user; -1 answered. */
int	guard_user_admit(struct sess *s);
/* The login failed: records it; returns the seconds to wait to answer. */
double	guard_failed(struct sess *s);
/* The login succeeded. */
void	guard_ok(struct sess *s);
/* The login ended without a session: the user's place is given back. */
void	guard_user_release(struct sess *s);
/* At close: gives back whatever the session still holds. */
void	guard_release(struct sess *s);

#endif
