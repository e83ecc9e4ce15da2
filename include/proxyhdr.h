/*
 * The PROXY protocol on listeners flagged `proxy` (SPEC.md section 3,
 * proxy_protocol_from): the header is read before anything else, TLS
 * included, and only from a trusted balancer; its source address then
 * stands for the client everywhere (ACLs, limits, logs, ID, stats).
 */
#ifndef PROXYHDR_H
#define PROXYHDR_H

struct sess;

/* Whether the connection's own address is in proxy_protocol_from. */
int	proxyhdr_trusted(const struct sess *s);
/*
 * Reads what there is of the header without taking more bytes than it
 * has.  Once it is whole, s->peer becomes the carried address and
 * sess_admit() runs; a bad header closes the session.
 */
void	proxyhdr_read(struct sess *s);

#endif
