/*
 * The daemon's side of the access rules: gathers what the rules of a
 * session's server need (GeoIP at once, reverse DNS asynchronously),
 * then decides at connect and again at login (SPEC.md section 4).
 */
#ifndef ACCESS_H
#define ACCESS_H

struct sess;

/*
 * Starts the connect-time decision of a new session.  When DNS is
 * needed the session waits in SESS_LOOKUP; either way sess_start() is
 * called once the facts are in.  May close the session; check s->closed.
 */
void	access_connect(struct sess *s);
/*
 * Whether no user could be allowed from this client (decided once the
 * facts are in); logs and counts the deny.
 */
int	access_refused_at_connect(struct sess *s);
/*
 * Decides for the credentials in s->pa->creds (the user and, for SASL
 * PLAIN, the authorization identity: both must be allowed).  Returns 0
 * when allowed; otherwise logs and counts the deny and returns -1.
 */
int	access_login(struct sess *s);
/* Drops a pending lookup (the session is closing). */
void	access_cancel(struct sess *s);

#endif
