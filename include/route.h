/*
 * Choosing a session's back end at login (SPEC.md section 5): the
 * routes map by canonical user, then default_backend; a pool target is
 * resolved by weighted rendezvous hashing over its available members.
 */
#ifndef ROUTE_H
#define ROUTE_H

struct sess;

/*
 * Picks s->be for the credentials in s->pa->creds (the authorization
 * identity when one is given, else the user) and counts the session on
 * it.  Returns 0, or -1 with a static reason in *why_r when no back end
 * can take it.
 */
int	route_pick(struct sess *s, const char **why_r);
/* Uncounts the session from s->be (login over or session closed). */
void	route_release(struct sess *s);

#endif
